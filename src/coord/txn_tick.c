/* SPDX-License-Identifier: Apache-2.0 */
/* The transaction coordinator's start-up and its tick (txn.h). At start-up __transaction_state
 * is replayed into the map, and a transaction found in a Prepare state is left pending for the
 * tick to complete. The tick completes those, aborts transactions open longer than their
 * timeout, and forgets transactional ids unused for longer than their expiration. It is the
 * only place entries are freed after start-up, which is what lets the state machine (txn.c)
 * use a pending entry without the lock. */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>

#include "coord/store.h"
#include "coord/txn_internal.h"
#include "util/arena.h"
#include "util/err.h"
#include "util/hmap.h"
#include "util/logging.h"
#include "util/outbuf.h"
#include "util/xmalloc.h"

/* ---- start-up ---- */

bool rn_txn_load_record(rn_txn_t *txn, rn_bytes_t key, rn_bytes_t value)
{
    rn_str_t id;
    if (rn_txn_key_decode(key, &id) != 0)
        return false;
    if (value.ptr == NULL) {
        pthread_mutex_lock(&txn->lock);
        rn_txn_entry_t *e = rn_txn_find_entry(txn, id);
        if (e != NULL) {
            rn_hmap_remove(&txn->entries, &e->node);
            rn_txn_free_entry(e);
        }
        pthread_mutex_unlock(&txn->lock);
        return true;
    }
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_txn_log_value_t v;
    bool ok = rn_txn_value_decode(value, &arena, &v) == 0;
    if (ok) {
        rn_txn_meta_t m = {
            .producer_id = v.producer_id,
            .previous_producer_id = v.previous_producer_id,
            .producer_epoch = v.producer_epoch,
            .last_producer_epoch = RN_TXN_NO_PRODUCER_EPOCH, /* not in the log, as in Kafka */
            .timeout_ms = v.transaction_timeout_ms,
            .state = (rn_txn_state_t)v.transaction_status,
            .start_ms = v.start_timestamp_ms,
            .last_update_ms = v.last_update_timestamp_ms,
        };
        for (int32_t t = 0; t < v.ntopics; t++)
            for (int32_t i = 0; i < v.topics[t].npartitions; i++)
                rn_txn_tp_add(&m, v.topics[t].topic, v.topics[t].partitions[i]);
        pthread_mutex_lock(&txn->lock);
        rn_txn_entry_t *e = rn_txn_find_entry(txn, id);
        if (e != NULL) {
            rn_txn_tps_clear(&e->meta);
            e->meta = m;
        } else {
            rn_txn_insert_entry(txn, id, &m);
        }
        pthread_mutex_unlock(&txn->lock);
    }
    rn_arena_deinit(&arena);
    return ok;
}

void rn_txn_loaded(rn_txn_t *txn, size_t *ntxns, size_t *nprepared)
{
    size_t prepared = 0;
    pthread_mutex_lock(&txn->lock);
    rn_hmap_iter_t it = rn_hmap_iter(&txn->entries);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;) {
        rn_txn_entry_t *e = rn_txn_entry_at(n);
        if (e->meta.state == RN_TXN_DEAD) {
            rn_hmap_remove(&txn->entries, n);
            rn_txn_free_entry(e);
        } else if (e->meta.state == RN_TXN_PREPARE_COMMIT ||
                   e->meta.state == RN_TXN_PREPARE_ABORT) {
            /* Decided but not finished before the broker stopped: the tick writes the markers
             * and the Complete record, and until then the id is busy, as in Kafka. */
            e->pending = true;
            e->completion_due = true;
            prepared++;
        }
    }
    *ntxns = txn->entries.count;
    pthread_mutex_unlock(&txn->lock);
    *nprepared = prepared;
}

/* ---- the tick ---- */

/* Entries that `want` picks, copied out under the lock (the tick alone frees entries, so the
 * pointers stay valid while it uses them). */
static rn_txn_entry_t **pick(rn_txn_t *txn,
                             bool (*want)(rn_txn_t *txn, rn_txn_entry_t *e, int64_t now_ms),
                             int64_t now_ms, size_t *n)
{
    rn_txn_entry_t **out = NULL;
    size_t count = 0, cap = 0;
    pthread_mutex_lock(&txn->lock);
    rn_hmap_iter_t it = rn_hmap_iter(&txn->entries);
    for (rn_hmap_node_t *node; (node = rn_hmap_iter_next(&it)) != NULL;) {
        rn_txn_entry_t *e = rn_txn_entry_at(node);
        if (!want(txn, e, now_ms))
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            out = rn_xrealloc(out, cap * sizeof *out);
        }
        out[count++] = e;
    }
    pthread_mutex_unlock(&txn->lock);
    *n = count;
    return out;
}

static bool completion_is_due(rn_txn_t *txn, rn_txn_entry_t *e, int64_t now_ms)
{
    (void)txn;
    (void)now_ms;
    if (!e->completion_due)
        return false;
    e->completion_due = false; /* this tick takes it */
    return true;
}

static bool timed_out(rn_txn_t *txn, rn_txn_entry_t *e, int64_t now_ms)
{
    (void)txn;
    return !e->pending && e->meta.state == RN_TXN_ONGOING &&
           e->meta.start_ms < now_ms - e->meta.timeout_ms;
}

static bool expired(rn_txn_t *txn, rn_txn_entry_t *e, int64_t now_ms)
{
    return !e->pending && e->users == 0 &&
           (e->meta.state == RN_TXN_EMPTY || e->meta.state == RN_TXN_COMPLETE_COMMIT ||
            e->meta.state == RN_TXN_COMPLETE_ABORT) &&
           e->meta.last_update_ms <= now_ms - txn->expiration_ms;
}

static void abort_timed_out(rn_txn_t *txn, rn_txn_entry_t *e, int64_t now_ms)
{
    pthread_mutex_lock(&txn->lock);
    if (!timed_out(txn, e, now_ms)) {
        pthread_mutex_unlock(&txn->lock);
        return; /* ended meanwhile */
    }
    int64_t producer_id = e->meta.producer_id;
    int32_t timeout_ms = e->meta.timeout_ms;
    /* rn_txn_fence_locked releases the lock. */
    rn_kerr_t err = rn_txn_fence_locked(txn, e, now_ms);
    rn_log(err == RN_KERR_NONE ? RN_LOG_INFO : RN_LOG_WARN, "txn",
           "aborting the transaction of %.*s (producer id %" PRId64
           ") open longer than its timeout of %" PRId32 " ms: %s",
           (int)(e->id_len > 200 ? 200 : e->id_len), e->id, producer_id, timeout_ms,
           err == RN_KERR_NONE ? "done" : rn_kerr_name(err));
}

/* Kafka writes a tombstone for an expired transactional id and forgets it once written. */
static void expire(rn_txn_t *txn, rn_txn_entry_t *e, int64_t now_ms)
{
    pthread_mutex_lock(&txn->lock);
    bool still = expired(txn, e, now_ms);
    if (still)
        e->pending = true;
    pthread_mutex_unlock(&txn->lock);
    if (!still)
        return;
    rn_outbuf_t key;
    rn_outbuf_init(&key);
    rn_txn_key_encode(&key, rn_txn_entry_id(e));
    int rc = key.failed ? RN_ENOMEM
                        : rn_store_append(txn->store, rn_txn_entry_id(e),
                                          (rn_bytes_t){ key.data, key.len },
                                          (rn_bytes_t){ NULL, 0 }, now_ms);
    rn_outbuf_deinit(&key);
    pthread_mutex_lock(&txn->lock);
    if (rc == 0) {
        rn_hmap_remove(&txn->entries, &e->node);
        rn_txn_free_entry(e);
    } else {
        e->pending = false;
    }
    pthread_mutex_unlock(&txn->lock);
}

void rn_txn_tick(rn_txn_t *txn, int64_t now_ms)
{
    size_t n;
    rn_txn_entry_t **due = pick(txn, completion_is_due, now_ms, &n);
    for (size_t i = 0; i < n; i++)
        rn_txn_complete(txn, due[i], now_ms);
    free(due);
    if (now_ms >= txn->next_abort_check) {
        txn->next_abort_check = now_ms + txn->abort_interval_ms;
        rn_txn_entry_t **late = pick(txn, timed_out, now_ms, &n);
        for (size_t i = 0; i < n; i++)
            abort_timed_out(txn, late[i], now_ms);
        free(late);
    }
    if (now_ms >= txn->next_expire_check) {
        txn->next_expire_check = now_ms + txn->expire_interval_ms;
        rn_txn_entry_t **old = pick(txn, expired, now_ms, &n);
        for (size_t i = 0; i < n; i++)
            expire(txn, old[i], now_ms);
        free(old);
    }
}
