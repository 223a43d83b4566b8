/* SPDX-License-Identifier: Apache-2.0 */
/* The coordinator room: consumer groups (Kafka's classic rebalance protocol) and committed
 * offsets, with their state kept in the internal compacted topic `__consumer_offsets` using
 * Kafka's key and value layouts, and loaded back at start-up; and producer ids.
 *
 * Four parts, one header each:
 *   store.h    the __consumer_offsets topic: which partition a group lives in, appending
 *              records, loading them back (shared by groups and offsets);
 *   groups.h   membership: the group state machine, joins, syncs, heartbeats, leaves,
 *              session and rebalance timeouts, static members;
 *   offsets.h  committed offsets: commit, fetch, delete, retention;
 *   producer_ids.h  the producer id counter that InitProducerId draws from;
 *   txn.h      the transaction coordinator, its state in __transaction_state.
 * This header ties them together for the broker and the handlers.
 *
 * Threads: every function is safe from any thread (the coordinator has its own lock; see each
 * header). Time moves forward only through rn_coord_tick, which the broker calls about every
 * 100 ms from its own thread, so tests drive the state machine with a fake clock. */
#ifndef RN_COORD_COORD_H
#define RN_COORD_COORD_H

#include <stdint.h>

#include "topics/topics.h"

typedef struct rn_coord rn_coord_t;
typedef struct rn_store rn_store_t;
typedef struct rn_groups rn_groups_t;
typedef struct rn_offsets rn_offsets_t;
typedef struct rn_producer_ids rn_producer_ids_t;
typedef struct rn_txn rn_txn_t;

/* Opens (creating on first start) __consumer_offsets as an internal topic with
 * offsets.topic.num.partitions partitions and cleanup.policy=compact, and loads every group and
 * offset from it; reads the producer id counter from the log directory. Logs how many records,
 * groups and offsets were loaded and how long it took. `now_ms` starts the coordinator's clock:
 * wall-clock milliseconds, as Kafka stamps commits (the broker passes the same kind to
 * rn_coord_tick). Blocking (reads the whole topic): call it before serving. Returns 0 or a negative
 * errno. */
int rn_coord_open(const rn_config_t *cfg, rn_topics_t *topics, int64_t now_ms, rn_coord_t **out);
void rn_coord_close(rn_coord_t *coord);
/* Advances the clock: expires sessions, completes rebalances whose time is up (and the initial
 * rebalance delay), expires offsets of empty groups (offsets.retention.minutes); completes,
 * times out and expires transactions (txn.h). Blocking. */
void rn_coord_tick(rn_coord_t *coord, int64_t now_ms);
/* Removes committed offsets of a deleted topic (called by the broker after DeleteTopics).
 * Blocking (writes tombstones): off the event loops. */
void rn_coord_topic_deleted(rn_coord_t *coord, const char *topic);
/* The control plane's reset: forgets every group (parked joins and syncs answered
 * UNKNOWN_MEMBER_ID), committed offset and transactional id, writing nothing. The producer id
 * counter keeps counting, so no id a client still holds is handed out again. The broker empties
 * the internal topics' logs (rn_topics_reset) so that a restart does not bring the state back. */
void rn_coord_reset(rn_coord_t *coord);
/* The coordinator's clock: the last now_ms given to open or tick. Handlers stamp commits with
 * it, so tests with a fake clock see the times they set. */
int64_t rn_coord_now(rn_coord_t *coord);

rn_store_t *rn_coord_store(rn_coord_t *coord);
rn_groups_t *rn_coord_groups(rn_coord_t *coord);
rn_offsets_t *rn_coord_offsets(rn_coord_t *coord);
rn_producer_ids_t *rn_coord_producer_ids(rn_coord_t *coord);
/* __transaction_state and the transaction coordinator on it (txn.h). */
rn_store_t *rn_coord_txn_store(rn_coord_t *coord);
rn_txn_t *rn_coord_txn(rn_coord_t *coord);

#endif
