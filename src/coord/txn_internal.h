/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/coord/txn*.c: the transaction coordinator's entries and struct rn_txn, shared by
 *   txn.c        the state machine: the map, writes to __transaction_state, markers and
 *                completion, InitProducerId, AddPartitionsToTxn, EndTxn and verification;
 *   txn_tick.c   the start-up load of __transaction_state and the tick (completions left to
 *                finish, timed-out transactions, expired transactional ids);
 *   txn_query.c  the read-only queries behind DescribeTransactions and ListTransactions.
 * txn.c's header comment explains how a move is made (pending mark, write, apply). */
#ifndef RN_COORD_TXN_INTERNAL_H
#define RN_COORD_TXN_INTERNAL_H

#include <pthread.h>

#include "coord/txn.h"
#include "util/err.h"
#include "util/hmap.h"

#define RN_TXN_NO_PRODUCER_ID (-1)
#define RN_TXN_NO_PRODUCER_EPOCH (-1)

/* A partition in a transaction; the topic name is owned. */
typedef struct rn_txn_owned_tp {
    char *topic;
    size_t topic_len;
    int32_t partition;
} rn_txn_owned_tp_t;

/* What TransactionMetadata holds, and what a move changes. */
typedef struct rn_txn_meta {
    int64_t producer_id;
    int64_t previous_producer_id;
    int16_t producer_epoch;
    int16_t last_producer_epoch; /* memory only: KIP-360 retries of a bump that succeeded */
    int32_t timeout_ms;
    rn_txn_state_t state;
    rn_txn_owned_tp_t *tps; /* sorted by topic, then partition; owned */
    size_t ntps;
    int64_t start_ms; /* -1 when no transaction was started */
    int64_t last_update_ms;
} rn_txn_meta_t;

typedef struct rn_txn_entry {
    rn_hmap_node_t node; /* in txn->entries, keyed by transactional id */
    rn_txn_meta_t meta;
    bool pending;        /* a move is on its way to the log (Kafka's pendingState) */
    bool fence_pending;  /* that move is the fencing abort (pendingState PrepareEpochFence) */
    bool fence_failed;   /* a fencing abort could not be written (hasFailedEpochFence) */
    bool completion_due; /* in a Prepare state with markers still to write: the tick's */
    int users;           /* requests holding a pointer to it without the lock: not expired */
    size_t id_len;
    char id[];
} rn_txn_entry_t;

struct rn_txn {
    rn_store_t *store;
    rn_producer_ids_t *ids;
    rn_topics_t *topics;
    rn_offsets_t *offsets;
    int32_t max_timeout_ms;
    int64_t expiration_ms;
    int64_t abort_interval_ms;
    int64_t expire_interval_ms;
    pthread_mutex_t lock;                        /* the map and every entry */
    rn_hmap_t entries;                           /* seeded: clients choose transactional ids */
    int64_t next_abort_check, next_expire_check; /* tick thread only */
};

static inline rn_str_t rn_txn_entry_id(const rn_txn_entry_t *e)
{
    return (rn_str_t){ e->id, e->id_len };
}

static inline rn_txn_entry_t *rn_txn_entry_at(rn_hmap_node_t *n)
{
    return n != NULL ? rn_container_of(n, rn_txn_entry_t, node) : NULL;
}

/* ---- txn.c: partition sets ---- */

/* Adds (topic, partition) to the set unless it is there. */
void rn_txn_tp_add(rn_txn_meta_t *m, rn_str_t topic, int32_t partition);
/* Frees the set's topic names and the set, and leaves it empty. */
void rn_txn_tps_clear(rn_txn_meta_t *m);

/* ---- txn.c: the map; every function here runs with txn->lock held ---- */

/* The entry of `id`, or NULL. */
rn_txn_entry_t *rn_txn_find_entry(rn_txn_t *txn, rn_str_t id);
/* Adds an entry for `id` that takes `m` (and owns its set); `id` must not have one yet. */
rn_txn_entry_t *rn_txn_insert_entry(rn_txn_t *txn, rn_str_t id, const rn_txn_meta_t *m);
/* Frees an entry already removed from the map. */
void rn_txn_free_entry(rn_txn_entry_t *e);

/* ---- txn.c: completion and fencing (blocking: they write) ---- */

/* Completes a transaction in a Prepare state, whose entry is pending: a marker to every
 * partition, then the Complete record. When something cannot be written the entry stays
 * pending in its Prepare state and the tick tries again. Takes the lock itself. */
void rn_txn_complete(rn_txn_t *txn, rn_txn_entry_t *e, int64_t now_ms);
/* Starts the fencing abort of an Ongoing transaction (Kafka's prepareFenceProducerEpoch) and
 * runs it. Called with the lock held and the entry not pending; returns with the lock
 * released. */
rn_kerr_t rn_txn_fence_locked(rn_txn_t *txn, rn_txn_entry_t *e, int64_t now_ms);

#endif
