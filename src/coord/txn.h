/* SPDX-License-Identifier: Apache-2.0 */
/* The transaction coordinator (KIP-98), as Kafka 4.4 runs it for clients of transaction
 * protocol version 1 (no epoch bump per transaction; KIP-890 part 2 is a later step). Each
 * transactional id has a producer id and epoch, a timeout, a state and the partitions of its
 * open transaction, kept in memory and in __transaction_state (txn_record.h), which is replayed
 * at start-up.
 *
 * States and moves (Kafka's TransactionState):
 *   Empty --AddPartitions--> Ongoing --EndTxn--> PrepareCommit|PrepareAbort
 *     --markers written to every partition--> CompleteCommit|CompleteAbort --> Ongoing ...
 *   InitProducerId bumps the epoch from Empty or Complete*; from Ongoing it fences the old
 *   producer: the transaction is aborted at epoch + 1 and the caller is told
 *   CONCURRENT_TRANSACTIONS, so its retry bumps again.
 * Every move is first written to __transaction_state and applied in memory once the append
 * returned; meanwhile the transactional id is "pending" and other requests for it get
 * CONCURRENT_TRANSACTIONS, as in Kafka. EndTxn answers once the Prepare record is in the log
 * and the markers and the Complete record are written too (Kafka answers after the Prepare
 * record and writes the rest on its own; clients then meet CONCURRENT_TRANSACTIONS until it is
 * done, which here they never need to). A transaction found in a Prepare state at start-up,
 * or whose markers could not be written, is completed by rn_txn_tick.
 *
 * Markers go through the log room (rn_log_append_marker); those for __consumer_offsets go
 * through the offsets (rn_offsets_txn_marker), which makes the transaction's offsets visible.
 *
 * Threads: every function is safe from any thread. One lock guards the map and the entries,
 * held for a few instructions and never across I/O. Functions that write are blocking: call
 * them off the event loops. */
#ifndef RN_COORD_TXN_H
#define RN_COORD_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/coord.h"
#include "coord/txn_record.h"
#include "proto/errors.h"
#include "util/arena.h"
#include "util/bytes.h"

typedef struct rn_txn rn_txn_t;

/* The coordinator over `store` (__transaction_state), drawing producer ids from `ids` and
 * writing markers into `topics` (those of __consumer_offsets through `offsets`). Reads the
 * transaction.* keys of `cfg`. Every argument must outlive it. */
rn_txn_t *rn_txn_new(const rn_config_t *cfg, rn_store_t *store, rn_producer_ids_t *ids,
                     rn_topics_t *topics, rn_offsets_t *offsets);
void rn_txn_free(rn_txn_t *txn);
/* The control plane's reset: forgets every transactional id and its state, writing nothing (the
 * broker empties __transaction_state). A transactional id then initializes as a new one. */
void rn_txn_clear(rn_txn_t *txn);

/* Start-up: one __transaction_state record (value ptr NULL: a tombstone), in log order. False
 * when it does not parse (the caller logs and skips it). */
bool rn_txn_load_record(rn_txn_t *txn, rn_bytes_t key, rn_bytes_t value);
/* After the load: how many transactional ids are known, and how many were left in a Prepare
 * state (to be completed by the next tick). */
void rn_txn_loaded(rn_txn_t *txn, size_t *ntxns, size_t *nprepared);

/* Advances the clock: completes transactions whose markers are due, aborts transactions open
 * longer than their timeout (transaction.abort.timed.out.transaction.cleanup.interval.ms) and
 * removes expired transactional ids (transactional.id.expiration.ms, checked every
 * transaction.remove.expired.transaction.cleanup.interval.ms). Blocking. */
void rn_txn_tick(rn_txn_t *txn, int64_t now_ms);

/* InitProducerId with a transactional id (non-empty: the handler checks). `expected_id` and
 * `expected_epoch` are the KIP-360 pair (-1 and -1: none). Returns NONE with *producer_id and
 * *producer_epoch set, INVALID_TRANSACTION_TIMEOUT, CONCURRENT_TRANSACTIONS, PRODUCER_FENCED
 * (the handler maps it for versions before 4), COORDINATOR_LOAD_IN_PROGRESS (no producer id
 * could be reserved) or COORDINATOR_NOT_AVAILABLE (the log could not be written). Blocking. */
rn_kerr_t rn_txn_init_producer(rn_txn_t *txn, rn_str_t transactional_id, int32_t timeout_ms,
                               int64_t expected_id, int16_t expected_epoch, int64_t now_ms,
                               int64_t *producer_id, int16_t *producer_epoch);

/* One partition of a transaction. */
typedef struct rn_txn_tp {
    rn_str_t topic;
    int32_t partition;
} rn_txn_tp_t;

/* AddPartitionsToTxn (and AddOffsetsToTxn with the group's __consumer_offsets partition): one
 * answer for all of `tps`: NONE, INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED,
 * CONCURRENT_TRANSACTIONS or COORDINATOR_NOT_AVAILABLE. Blocking. */
rn_kerr_t rn_txn_add_partitions(rn_txn_t *txn, rn_str_t transactional_id, int64_t producer_id,
                                int16_t producer_epoch, const rn_txn_tp_t *tps, size_t n,
                                int64_t now_ms);

/* EndTxn: NONE once the transaction is committed or aborted (markers written, or left to the
 * tick when a partition could not be written), INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED,
 * CONCURRENT_TRANSACTIONS, INVALID_TXN_STATE or COORDINATOR_NOT_AVAILABLE. Blocking. */
rn_kerr_t rn_txn_end(rn_txn_t *txn, rn_str_t transactional_id, int64_t producer_id,
                     int16_t producer_epoch, bool commit, int64_t now_ms);

/* Whether a transactional batch of (producer_id, producer_epoch) may go to `tp`
 * (transaction.partition.verification.enable): NONE when `tp` is in the producer's ongoing
 * transaction, else INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS (a
 * transaction being completed) or TRANSACTION_ABORTABLE (not added); the caller maps these for
 * its API. Memory only: safe on an event loop. */
rn_kerr_t rn_txn_verify(rn_txn_t *txn, rn_str_t transactional_id, int64_t producer_id,
                        int16_t producer_epoch, rn_str_t topic, int32_t partition);

/* DescribeTransactions: one transactional id's state, copied into `arena`. */
typedef struct rn_txn_description {
    rn_txn_state_t state;
    int32_t timeout_ms;
    int64_t start_ms; /* -1 when no transaction was started */
    int64_t producer_id;
    int16_t producer_epoch;
    rn_txn_tp_t *tps; /* sorted by topic, then partition */
    size_t ntps;
} rn_txn_description_t;
/* Returns 0 with *found set (and *out filled when found), or RN_ENOMEM. */
int rn_txn_describe(rn_txn_t *txn, rn_str_t transactional_id, rn_arena_t *arena,
                    rn_txn_description_t *out, bool *found);

/* ListTransactions: the transactional ids whose state is in `states` (a bit per rn_txn_state_t)
 * when `filter_states` (Kafka: a filter of unknown names only matches nothing), whose producer
 * id is one of `producer_ids` (n 0: any) and, when `min_duration_ms` >= 0, whose transaction
 * started more than that long before `now_ms` (KIP-994; as in Kafka, a start time of -1 counts
 * as long ago). Sorted by transactional id, copied into `arena`. 0 or RN_ENOMEM. */
typedef struct rn_txn_listing {
    rn_str_t transactional_id;
    int64_t producer_id;
    rn_txn_state_t state;
} rn_txn_listing_t;
int rn_txn_list(rn_txn_t *txn, bool filter_states, uint32_t states, const int64_t *producer_ids,
                size_t nids, int64_t min_duration_ms, int64_t now_ms, rn_arena_t *arena,
                rn_txn_listing_t **out, size_t *n);

#endif
