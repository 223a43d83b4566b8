/* SPDX-License-Identifier: Apache-2.0 */
/* The transaction coordinator's state machine (txn.h), after Kafka's TransactionCoordinator and
 * TransactionMetadata for transaction protocol version 1.
 *
 * A move is made in three steps: under the lock, the request is checked against the entry and
 * the entry is marked pending with a copy of its next state; without the lock, that state is
 * written to __transaction_state (blocking); under the lock again, the entry takes the new
 * state, or keeps its old one when the write failed. The pending mark keeps every other request
 * for the transactional id out meanwhile (CONCURRENT_TRANSACTIONS), so nothing else changes the
 * entry while the lock is not held. Entries are freed only by expiry, which runs in the tick and
 * skips pending entries, so a pointer to a pending entry stays valid without the lock. */
#include "coord/txn.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "coord/offsets.h"
#include "coord/producer_ids.h"
#include "coord/store.h"
#include "coord/txn_internal.h"
#include "log/log.h"
#include "topics/topics.h"
#include "util/err.h"
#include "util/hmap.h"
#include "util/logging.h"
#include "util/outbuf.h"
#include "util/xmalloc.h"

/* One node never changes the leader of a __transaction_state partition: every marker carries
 * coordinator epoch 0, as Kafka's single node writes it. */
#define COORDINATOR_EPOCH 0

/* Kafka's TransactionMetadata.isEpochExhausted: an epoch this close to Short.MAX_VALUE leaves no
 * room for a fence and a bump, so a new producer id is taken instead. */
static bool epoch_exhausted(int16_t epoch)
{
    return epoch >= INT16_MAX - 1;
}

/* ---- partition sets ---- */

static int tp_cmp(const char *topic, size_t len, int32_t partition, const rn_txn_owned_tp_t *tp)
{
    size_t n = len < tp->topic_len ? len : tp->topic_len;
    int c = n > 0 ? memcmp(topic, tp->topic, n) : 0;
    if (c != 0)
        return c;
    if (len != tp->topic_len)
        return len < tp->topic_len ? -1 : 1;
    return partition < tp->partition ? -1 : partition > tp->partition;
}

/* The position of (topic, partition) in the sorted set, or where it would go; *found says. */
static size_t tp_find(const rn_txn_owned_tp_t *tps, size_t n, rn_str_t topic, int32_t partition,
                      bool *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = tp_cmp(topic.ptr, topic.len, partition, &tps[mid]);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

static char *dup_bytes(const char *s, size_t len)
{
    char *p = rn_xmalloc(len + 1);
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void rn_txn_tp_add(rn_txn_meta_t *m, rn_str_t topic, int32_t partition)
{
    bool found;
    size_t at = tp_find(m->tps, m->ntps, topic, partition, &found);
    if (found)
        return;
    m->tps = rn_xrealloc(m->tps, (m->ntps + 1) * sizeof *m->tps);
    memmove(&m->tps[at + 1], &m->tps[at], (m->ntps - at) * sizeof *m->tps);
    m->tps[at] = (rn_txn_owned_tp_t){ dup_bytes(topic.ptr, topic.len), topic.len, partition };
    m->ntps++;
}

void rn_txn_tps_clear(rn_txn_meta_t *m)
{
    for (size_t i = 0; i < m->ntps; i++)
        free(m->tps[i].topic);
    free(m->tps);
    m->tps = NULL;
    m->ntps = 0;
}

/* A deep copy: the move's next state owns its own set. */
static void meta_copy(rn_txn_meta_t *dst, const rn_txn_meta_t *src)
{
    *dst = *src;
    dst->tps = NULL;
    dst->ntps = 0;
    if (src->ntps == 0)
        return;
    dst->tps = rn_xcalloc(src->ntps, sizeof *dst->tps);
    for (size_t i = 0; i < src->ntps; i++)
        dst->tps[i] = (rn_txn_owned_tp_t){ dup_bytes(src->tps[i].topic, src->tps[i].topic_len),
                                           src->tps[i].topic_len, src->tps[i].partition };
    dst->ntps = src->ntps;
}

/* ---- the map ---- */

static uint64_t id_hash(const rn_txn_t *txn, rn_str_t id)
{
    return rn_hmap_hash(&txn->entries, id.ptr, id.len);
}

rn_txn_entry_t *rn_txn_find_entry(rn_txn_t *txn, rn_str_t id)
{
    uint64_t h = id_hash(txn, id);
    for (rn_hmap_node_t *n = rn_hmap_next_match(&txn->entries, NULL, h); n != NULL;
         n = rn_hmap_next_match(&txn->entries, n, h)) {
        rn_txn_entry_t *e = rn_txn_entry_at(n);
        if (e->id_len == id.len && (id.len == 0 || memcmp(e->id, id.ptr, id.len) == 0))
            return e;
    }
    return NULL;
}

rn_txn_entry_t *rn_txn_insert_entry(rn_txn_t *txn, rn_str_t id, const rn_txn_meta_t *m)
{
    rn_txn_entry_t *e = rn_xmalloc(sizeof *e + id.len);
    *e = (rn_txn_entry_t){ .meta = *m, .id_len = id.len };
    if (id.len > 0)
        memcpy(e->id, id.ptr, id.len);
    rn_hmap_insert(&txn->entries, &e->node, id_hash(txn, id));
    return e;
}

void rn_txn_free_entry(rn_txn_entry_t *e)
{
    rn_txn_tps_clear(&e->meta);
    free(e);
}

rn_txn_t *rn_txn_new(const rn_config_t *cfg, rn_store_t *store, rn_producer_ids_t *ids,
                     rn_topics_t *topics, rn_offsets_t *offsets)
{
    rn_txn_t *txn = rn_xmalloc(sizeof *txn);
    *txn = (rn_txn_t){
        .store = store,
        .ids = ids,
        .topics = topics,
        .offsets = offsets,
        .max_timeout_ms = cfg->transaction_max_timeout_ms,
        .expiration_ms = cfg->transactional_id_expiration_ms,
        .abort_interval_ms = cfg->transaction_abort_timed_out_interval_ms,
        .expire_interval_ms = cfg->transaction_remove_expired_interval_ms,
        .next_abort_check = INT64_MIN,
        .next_expire_check = INT64_MIN,
    };
    pthread_mutex_init(&txn->lock, NULL);
    rn_hmap_init(&txn->entries);
    return txn;
}

void rn_txn_free(rn_txn_t *txn)
{
    if (txn == NULL)
        return;
    rn_hmap_iter_t it = rn_hmap_iter(&txn->entries);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;) {
        rn_hmap_remove(&txn->entries, n);
        rn_txn_free_entry(rn_txn_entry_at(n));
    }
    rn_hmap_deinit(&txn->entries);
    pthread_mutex_destroy(&txn->lock);
    free(txn);
}

void rn_txn_clear(rn_txn_t *txn)
{
    pthread_mutex_lock(&txn->lock);
    size_t n = 0;
    rn_hmap_iter_t it = rn_hmap_iter(&txn->entries);
    for (rn_hmap_node_t *node; (node = rn_hmap_iter_next(&it)) != NULL; n++) {
        rn_hmap_remove(&txn->entries, node);
        rn_txn_free_entry(rn_txn_entry_at(node));
    }
    pthread_mutex_unlock(&txn->lock);
    if (n > 0)
        rn_log(RN_LOG_INFO, "coord", "reset: %zu transactional ids removed", n);
}

/* ---- the log ---- */

/* Writes `m` as the transactional id's TransactionLogValue. 0 or a negative errno. */
static int write_meta(rn_txn_t *txn, rn_str_t id, const rn_txn_meta_t *m, int64_t now_ms)
{
    /* Kafka groups the partitions by topic; the set is sorted, so a topic's are adjacent. */
    rn_txn_log_topic_t *topics = m->ntps > 0 ? rn_xcalloc(m->ntps, sizeof *topics) : NULL;
    int32_t *parts = m->ntps > 0 ? rn_xcalloc(m->ntps, sizeof *parts) : NULL;
    int32_t ntopics = 0;
    for (size_t i = 0; i < m->ntps; i++) {
        parts[i] = m->tps[i].partition;
        bool same_topic = i > 0 && m->tps[i].topic_len == m->tps[i - 1].topic_len &&
                          memcmp(m->tps[i].topic, m->tps[i - 1].topic, m->tps[i].topic_len) == 0;
        if (!same_topic)
            topics[ntopics++] = (rn_txn_log_topic_t){
                .topic = { m->tps[i].topic, m->tps[i].topic_len },
                .partitions = &parts[i],
            };
        topics[ntopics - 1].npartitions++;
    }
    rn_txn_log_value_t v = {
        .version = RN_TXN_VALUE_VERSION,
        .producer_id = m->producer_id,
        .previous_producer_id = m->previous_producer_id,
        .next_producer_id = RN_TXN_NO_PRODUCER_ID,
        .producer_epoch = m->producer_epoch,
        .transaction_timeout_ms = m->timeout_ms,
        .transaction_status = (int8_t)m->state,
        .topics = topics,
        /* Kafka writes null partitions for Empty, and an empty array otherwise. */
        .ntopics = m->state == RN_TXN_EMPTY ? -1 : ntopics,
        .last_update_timestamp_ms = m->last_update_ms,
        .start_timestamp_ms = m->start_ms,
    };
    rn_outbuf_t key, value;
    rn_outbuf_init(&key);
    rn_outbuf_init(&value);
    rn_txn_key_encode(&key, id);
    rn_txn_value_encode(&value, &v);
    int rc = RN_ENOMEM;
    if (!key.failed && !value.failed)
        rc = rn_store_append(txn->store, id, (rn_bytes_t){ key.data, key.len },
                             (rn_bytes_t){ value.data, value.len }, now_ms);
    rn_outbuf_deinit(&key);
    rn_outbuf_deinit(&value);
    free(parts);
    free(topics);
    if (rc != 0)
        rn_log(RN_LOG_ERROR, "txn", "cannot write the state of transactional id %.*s: %s",
               (int)(id.len > 200 ? 200 : id.len), id.ptr, rc < 0 ? strerror(-rc) : "refused");
    return rc;
}

/* Ends a move begun with the entry marked pending: on success the entry takes `next` (whose set
 * it then owns) and is no longer pending unless `keep_pending`; on failure it keeps its state. */
static void finish_move(rn_txn_t *txn, rn_txn_entry_t *e, rn_txn_meta_t *next, bool written,
                        bool keep_pending)
{
    pthread_mutex_lock(&txn->lock);
    if (written) {
        rn_txn_tps_clear(&e->meta);
        e->meta = *next;
    } else {
        rn_txn_tps_clear(next);
    }
    e->pending = written && keep_pending;
    pthread_mutex_unlock(&txn->lock);
}

/* The answer for a state that could not be written: clients retry it. */
static rn_kerr_t write_error(void)
{
    return RN_KERR_COORDINATOR_NOT_AVAILABLE;
}

/* ---- markers and completion ---- */

/* Writes one marker. 0 also for a partition that no longer exists (Kafka drops those); a
 * positive rn_kerr_t when the partition refused it; a negative errno. */
static int write_marker(rn_txn_t *txn, const rn_txn_owned_tp_t *tp, int64_t producer_id,
                        int16_t producer_epoch, bool commit, int64_t now_ms)
{
    if (strcmp(tp->topic, RN_STORE_TOPIC) == 0)
        return rn_offsets_txn_marker(txn->offsets, tp->partition, producer_id, producer_epoch,
                                     COORDINATOR_EPOCH, commit, now_ms);
    rn_topic_t *topic = rn_topics_get(txn->topics, (rn_str_t){ tp->topic, tp->topic_len });
    rn_partition_t *part = topic != NULL ? rn_topic_partition(topic, tp->partition) : NULL;
    int rc = 0;
    if (part != NULL) {
        int64_t at = 0;
        bool sync_needed = false;
        rc = rn_log_append_marker(part->log, producer_id, producer_epoch, COORDINATOR_EPOCH, commit,
                                  now_ms, &at, &sync_needed);
        if (rc == 0 && sync_needed)
            rc = rn_log_sync(part->log);
        if (rc == 0)
            rn_partition_notify(part); /* the last stable offset moved: wake read_committed */
    }
    if (topic != NULL)
        rn_topic_unref(topic);
    return rc;
}

void rn_txn_complete(rn_txn_t *txn, rn_txn_entry_t *e, int64_t now_ms)
{
    rn_txn_meta_t next;
    pthread_mutex_lock(&txn->lock);
    meta_copy(&next, &e->meta);
    pthread_mutex_unlock(&txn->lock);
    bool commit = next.state == RN_TXN_PREPARE_COMMIT;
    bool failed = false;
    for (size_t i = 0; i < next.ntps; i++) {
        int rc =
            write_marker(txn, &next.tps[i], next.producer_id, next.producer_epoch, commit, now_ms);
        if (rc < 0) {
            rn_log(RN_LOG_ERROR, "txn", "cannot write the %s marker of %.*s to %s-%" PRId32 ": %s",
                   commit ? "commit" : "abort", (int)e->id_len, e->id, next.tps[i].topic,
                   next.tps[i].partition, strerror(-rc));
            failed = true;
        } else if (rc > 0) {
            /* The partition knows a newer epoch or coordinator: this transaction is over there,
             * as Kafka gives up on such a partition. */
            rn_log(RN_LOG_WARN, "txn", "%s-%" PRId32 " refused the marker of %.*s: %s",
                   next.tps[i].topic, next.tps[i].partition, (int)e->id_len, e->id,
                   rn_kerr_name((rn_kerr_t)rc));
        }
    }
    if (!failed) {
        next.state = commit ? RN_TXN_COMPLETE_COMMIT : RN_TXN_COMPLETE_ABORT;
        next.previous_producer_id = next.producer_id;
        next.last_update_ms = now_ms;
        rn_txn_tps_clear(&next);
        failed = write_meta(txn, rn_txn_entry_id(e), &next, now_ms) != 0;
    }
    pthread_mutex_lock(&txn->lock);
    if (failed) {
        rn_txn_tps_clear(&next);
        e->completion_due = true;
    } else {
        rn_txn_tps_clear(&e->meta);
        e->meta = next;
        e->pending = false;
        e->fence_failed = false;
    }
    pthread_mutex_unlock(&txn->lock);
}

/* Kafka's endTransaction for protocol version 1. From a client the epoch must be the entry's;
 * from the coordinator itself (a fence: InitProducerId over an open transaction, or a timeout)
 * the entry is already pending with fence_pending set and `producer_epoch` is the bumped one. */
static rn_kerr_t end_txn(rn_txn_t *txn, rn_txn_entry_t *e, int64_t producer_id,
                         int16_t producer_epoch, bool commit, bool from_client, int64_t now_ms)
{
    rn_txn_meta_t next;
    rn_kerr_t err = RN_KERR_NONE;
    bool move = false, fencing = false;
    pthread_mutex_lock(&txn->lock);
    rn_txn_meta_t *m = &e->meta;
    bool fence_move = !from_client && e->fence_pending;
    if (m->producer_id != producer_id) {
        err = RN_KERR_INVALID_PRODUCER_ID_MAPPING;
    } else if ((from_client && producer_epoch != m->producer_epoch) ||
               producer_epoch < m->producer_epoch) {
        err = RN_KERR_PRODUCER_FENCED;
    } else if (e->pending && !fence_move) {
        err = RN_KERR_CONCURRENT_TRANSACTIONS;
    } else {
        switch (m->state) {
        case RN_TXN_ONGOING:
            if (fence_move) {
                /* The fencing abort takes the bumped epoch now, written or not: a failed
                 * write does not hand it out, and fence_failed keeps the next fence from
                 * bumping again. The epoch it replaces stays the last one, so that the
                 * producer whose transaction timed out may resume with KIP-360 (its
                 * InitProducerId with that epoch gets the bumped one without another bump),
                 * as Kafka 4.4 answers. */
                fencing = true;
                e->fence_pending = false;
                if (producer_epoch != m->producer_epoch)
                    m->last_producer_epoch = m->producer_epoch;
                m->producer_epoch = producer_epoch;
            }
            meta_copy(&next, m);
            next.state = commit ? RN_TXN_PREPARE_COMMIT : RN_TXN_PREPARE_ABORT;
            next.previous_producer_id = m->producer_id;
            next.last_update_ms = now_ms;
            e->pending = true;
            move = true;
            break;
        case RN_TXN_COMPLETE_COMMIT:
            err = commit ? RN_KERR_NONE : RN_KERR_INVALID_TXN_STATE;
            break;
        case RN_TXN_COMPLETE_ABORT:
            err = !commit ? RN_KERR_NONE : RN_KERR_INVALID_TXN_STATE;
            break;
        case RN_TXN_PREPARE_COMMIT:
            err = commit ? RN_KERR_CONCURRENT_TRANSACTIONS : RN_KERR_INVALID_TXN_STATE;
            break;
        case RN_TXN_PREPARE_ABORT:
            err = !commit ? RN_KERR_CONCURRENT_TRANSACTIONS : RN_KERR_INVALID_TXN_STATE;
            break;
        case RN_TXN_EMPTY:
            err = RN_KERR_INVALID_TXN_STATE;
            break;
        default:
            err = RN_KERR_UNKNOWN_SERVER_ERROR; /* Dead and PrepareEpochFence never stay */
            break;
        }
    }
    if (!move && fence_move) {
        e->fence_pending = false;
        e->pending = false;
    }
    pthread_mutex_unlock(&txn->lock);
    if (!move)
        return err;
    int rc = write_meta(txn, rn_txn_entry_id(e), &next, now_ms);
    if (rc != 0) {
        pthread_mutex_lock(&txn->lock);
        if (fencing)
            e->fence_failed = true;
        pthread_mutex_unlock(&txn->lock);
        finish_move(txn, e, &next, false, false);
        return write_error();
    }
    finish_move(txn, e, &next, true, true); /* pending until complete */
    rn_txn_complete(txn, e, now_ms);
    return RN_KERR_NONE;
}

rn_kerr_t rn_txn_fence_locked(rn_txn_t *txn, rn_txn_entry_t *e, int64_t now_ms)
{
    rn_txn_meta_t *m = &e->meta;
    if (m->producer_epoch == INT16_MAX) {
        pthread_mutex_unlock(&txn->lock);
        return RN_KERR_UNKNOWN_SERVER_ERROR; /* Kafka cannot fence past Short.MAX_VALUE either */
    }
    int16_t bumped = e->fence_failed ? m->producer_epoch : (int16_t)(m->producer_epoch + 1);
    int64_t producer_id = m->producer_id;
    e->pending = true;
    e->fence_pending = true;
    pthread_mutex_unlock(&txn->lock);
    return end_txn(txn, e, producer_id, bumped, false, false, now_ms);
}

/* ---- InitProducerId ---- */

/* The entry of `id` with a use taken (entry_release gives it back), or NULL. */
static rn_txn_entry_t *entry_use(rn_txn_t *txn, rn_str_t id)
{
    pthread_mutex_lock(&txn->lock);
    rn_txn_entry_t *e = rn_txn_find_entry(txn, id);
    if (e != NULL)
        e->users++;
    pthread_mutex_unlock(&txn->lock);
    return e;
}

static void entry_release(rn_txn_t *txn, rn_txn_entry_t *e)
{
    pthread_mutex_lock(&txn->lock);
    e->users--;
    pthread_mutex_unlock(&txn->lock);
}

/* The entry of `id`, made (Empty, epoch -1, with a new producer id) when there is none, with a
 * use taken. */
static rn_kerr_t get_or_create(rn_txn_t *txn, rn_str_t id, int32_t timeout_ms, int64_t now_ms,
                               rn_txn_entry_t **out)
{
    rn_txn_entry_t *e = entry_use(txn, id);
    if (e != NULL) {
        *out = e;
        return RN_KERR_NONE;
    }
    int64_t producer_id;
    if (rn_producer_ids_next(txn->ids, &producer_id) != 0)
        return RN_KERR_COORDINATOR_LOAD_IN_PROGRESS; /* Kafka's answer without a block of ids */
    rn_txn_meta_t m = {
        .producer_id = producer_id,
        .previous_producer_id = RN_TXN_NO_PRODUCER_ID,
        .producer_epoch = RN_TXN_NO_PRODUCER_EPOCH,
        .last_producer_epoch = RN_TXN_NO_PRODUCER_EPOCH,
        .timeout_ms = timeout_ms,
        .state = RN_TXN_EMPTY,
        .start_ms = -1,
        .last_update_ms = now_ms,
    };
    pthread_mutex_lock(&txn->lock);
    e = rn_txn_find_entry(txn, id); /* another request may have made it meanwhile */
    if (e == NULL)
        e = rn_txn_insert_entry(txn, id, &m);
    e->users++;
    pthread_mutex_unlock(&txn->lock);
    *out = e;
    return RN_KERR_NONE;
}

/* What InitProducerId does to an entry (Kafka's prepareInitProducerIdTransit). */
typedef enum init_action {
    INIT_BUMP,   /* the same producer id at *epoch */
    INIT_ROTATE, /* the epoch is exhausted: a new producer id at epoch 0 */
    INIT_FENCE,  /* a transaction is open: abort it at a bumped epoch first */
} init_action_t;

/* Under the lock. Returns an error, or NONE with *action, and for a bump or rotation the next
 * epoch and the last one (KIP-360's retry of a bump whose answer was lost). */
static rn_kerr_t plan_init(const rn_txn_entry_t *e, bool has_expected, int64_t expected_id,
                           int16_t expected_epoch, init_action_t *action, int16_t *epoch,
                           int16_t *last)
{
    const rn_txn_meta_t *m = &e->meta;
    if (e->pending)
        return RN_KERR_CONCURRENT_TRANSACTIONS;
    /* KIP-360: only the producer that holds the id (or the one whose exhausted epoch just made
     * way for a new id) may resume; anyone else is a fenced older instance. */
    if (has_expected && m->producer_epoch != RN_TXN_NO_PRODUCER_EPOCH &&
        expected_id != m->producer_id &&
        !(expected_id == m->previous_producer_id && epoch_exhausted(expected_epoch)))
        return RN_KERR_PRODUCER_FENCED;
    switch (m->state) {
    case RN_TXN_ONGOING:
        *action = INIT_FENCE;
        return RN_KERR_NONE;
    case RN_TXN_PREPARE_COMMIT:
    case RN_TXN_PREPARE_ABORT:
        return RN_KERR_CONCURRENT_TRANSACTIONS;
    case RN_TXN_EMPTY:
    case RN_TXN_COMPLETE_COMMIT:
    case RN_TXN_COMPLETE_ABORT:
        break;
    default:
        return RN_KERR_UNKNOWN_SERVER_ERROR; /* Dead and PrepareEpochFence never stay */
    }
    if (epoch_exhausted(m->producer_epoch) &&
        (!has_expected || expected_epoch == m->producer_epoch)) {
        *action = INIT_ROTATE;
        *epoch = 0;
        *last = has_expected ? m->producer_epoch : RN_TXN_NO_PRODUCER_EPOCH;
        return RN_KERR_NONE;
    }
    if (m->producer_epoch == INT16_MAX)
        return RN_KERR_UNKNOWN_SERVER_ERROR; /* as Kafka, which cannot bump it either */
    *action = INIT_BUMP;
    if (!has_expected) {
        *epoch = (int16_t)(m->producer_epoch + 1);
        *last = RN_TXN_NO_PRODUCER_EPOCH;
        return RN_KERR_NONE;
    }
    if (m->producer_epoch == RN_TXN_NO_PRODUCER_EPOCH || expected_epoch == m->producer_epoch) {
        *epoch = (int16_t)(m->producer_epoch + 1);
        *last = m->producer_epoch;
        return RN_KERR_NONE;
    }
    if (expected_epoch == m->last_producer_epoch) {
        *epoch = m->producer_epoch; /* a retry of a bump that succeeded */
        *last = m->last_producer_epoch;
        return RN_KERR_NONE;
    }
    return RN_KERR_PRODUCER_FENCED;
}

static rn_kerr_t init_producer(rn_txn_t *txn, rn_txn_entry_t *e, rn_str_t transactional_id,
                               int32_t timeout_ms, int64_t expected_id, int16_t expected_epoch,
                               int64_t now_ms, int64_t *producer_id, int16_t *producer_epoch)
{
    rn_kerr_t err;
    bool has_expected = expected_id != RN_TXN_NO_PRODUCER_ID;
    rn_txn_meta_t next;
    init_action_t action = INIT_BUMP;
    int16_t epoch = 0, last = RN_TXN_NO_PRODUCER_EPOCH;
    pthread_mutex_lock(&txn->lock);
    err = plan_init(e, has_expected, expected_id, expected_epoch, &action, &epoch, &last);
    if (err == RN_KERR_NONE && action == INIT_FENCE) {
        /* Abort what the previous producer left open, at a bumped epoch that fences it, and
         * let this one retry: its retry bumps the epoch once more. rn_txn_fence_locked unlocks. */
        err = rn_txn_fence_locked(txn, e, now_ms);
        return err != RN_KERR_NONE ? err : RN_KERR_CONCURRENT_TRANSACTIONS;
    }
    if (err == RN_KERR_NONE) {
        e->pending = true;
        meta_copy(&next, &e->meta);
        rn_txn_tps_clear(&next);
        next.previous_producer_id = e->meta.producer_id;
        next.producer_epoch = epoch;
        next.last_producer_epoch = last;
    }
    pthread_mutex_unlock(&txn->lock);
    if (err != RN_KERR_NONE)
        return err;
    if (action == INIT_ROTATE && rn_producer_ids_next(txn->ids, &next.producer_id) != 0) {
        finish_move(txn, e, &next, false, false);
        return RN_KERR_COORDINATOR_LOAD_IN_PROGRESS;
    }
    next.timeout_ms = timeout_ms;
    next.state = RN_TXN_EMPTY;
    next.start_ms = -1;
    next.last_update_ms = now_ms;
    if (write_meta(txn, transactional_id, &next, now_ms) != 0) {
        finish_move(txn, e, &next, false, false);
        return write_error();
    }
    *producer_id = next.producer_id;
    *producer_epoch = next.producer_epoch;
    finish_move(txn, e, &next, true, false);
    rn_log(RN_LOG_DEBUG, "txn",
           "initialized transactional id %.*s with producer id %" PRId64 " and epoch %d",
           (int)(transactional_id.len > 200 ? 200 : transactional_id.len), transactional_id.ptr,
           *producer_id, *producer_epoch);
    return RN_KERR_NONE;
}

rn_kerr_t rn_txn_init_producer(rn_txn_t *txn, rn_str_t transactional_id, int32_t timeout_ms,
                               int64_t expected_id, int16_t expected_epoch, int64_t now_ms,
                               int64_t *producer_id, int16_t *producer_epoch)
{
    if (timeout_ms <= 0 || timeout_ms > txn->max_timeout_ms)
        return RN_KERR_INVALID_TRANSACTION_TIMEOUT;
    rn_txn_entry_t *e;
    rn_kerr_t err = get_or_create(txn, transactional_id, timeout_ms, now_ms, &e);
    if (err != RN_KERR_NONE)
        return err;
    err = init_producer(txn, e, transactional_id, timeout_ms, expected_id, expected_epoch, now_ms,
                        producer_id, producer_epoch);
    entry_release(txn, e);
    return err;
}

/* ---- AddPartitionsToTxn, EndTxn, verification ---- */

/* Kafka's checks before adding partitions, in its order. Under the lock. */
static rn_kerr_t check_add(const rn_txn_entry_t *e, int64_t producer_id, int16_t producer_epoch)
{
    if (e == NULL)
        return RN_KERR_INVALID_PRODUCER_ID_MAPPING;
    /* First, so that a move in flight finishes before anything else is judged. */
    if (e->pending)
        return RN_KERR_CONCURRENT_TRANSACTIONS;
    if (e->meta.producer_id != producer_id)
        return RN_KERR_INVALID_PRODUCER_ID_MAPPING;
    if (e->meta.producer_epoch != producer_epoch)
        return RN_KERR_PRODUCER_FENCED;
    switch (e->meta.state) {
    case RN_TXN_PREPARE_COMMIT:
    case RN_TXN_PREPARE_ABORT:
        return RN_KERR_CONCURRENT_TRANSACTIONS;
    case RN_TXN_ONGOING:
    case RN_TXN_EMPTY:
    case RN_TXN_COMPLETE_COMMIT:
    case RN_TXN_COMPLETE_ABORT:
        return RN_KERR_NONE;
    default:
        return RN_KERR_UNKNOWN_SERVER_ERROR;
    }
}

rn_kerr_t rn_txn_add_partitions(rn_txn_t *txn, rn_str_t transactional_id, int64_t producer_id,
                                int16_t producer_epoch, const rn_txn_tp_t *tps, size_t n,
                                int64_t now_ms)
{
    rn_txn_meta_t next;
    pthread_mutex_lock(&txn->lock);
    rn_txn_entry_t *e = rn_txn_find_entry(txn, transactional_id);
    rn_kerr_t err = check_add(e, producer_id, producer_epoch);
    if (err == RN_KERR_NONE) {
        const rn_txn_meta_t *m = &e->meta;
        bool all_in = m->state == RN_TXN_ONGOING;
        for (size_t i = 0; i < n && all_in; i++)
            tp_find(m->tps, m->ntps, tps[i].topic, tps[i].partition, &all_in);
        if (!all_in) {
            /* Kafka writes the move even for partitions already in; only an Ongoing
             * transaction that has them all answers at once. */
            meta_copy(&next, m);
            for (size_t i = 0; i < n; i++)
                rn_txn_tp_add(&next, tps[i].topic, tps[i].partition);
            if (m->state != RN_TXN_ONGOING)
                next.start_ms = now_ms;
            next.state = RN_TXN_ONGOING;
            next.previous_producer_id = m->producer_id;
            next.last_update_ms = now_ms;
            e->pending = true;
        } else {
            e = NULL; /* nothing to write */
        }
    }
    pthread_mutex_unlock(&txn->lock);
    if (err != RN_KERR_NONE || e == NULL)
        return err;
    bool written = write_meta(txn, transactional_id, &next, now_ms) == 0;
    finish_move(txn, e, &next, written, false);
    return written ? RN_KERR_NONE : write_error();
}

rn_kerr_t rn_txn_end(rn_txn_t *txn, rn_str_t transactional_id, int64_t producer_id,
                     int16_t producer_epoch, bool commit, int64_t now_ms)
{
    rn_txn_entry_t *e = entry_use(txn, transactional_id);
    if (e == NULL)
        return RN_KERR_INVALID_PRODUCER_ID_MAPPING;
    rn_kerr_t err = end_txn(txn, e, producer_id, producer_epoch, commit, true, now_ms);
    entry_release(txn, e);
    return err;
}

rn_kerr_t rn_txn_verify(rn_txn_t *txn, rn_str_t transactional_id, int64_t producer_id,
                        int16_t producer_epoch, rn_str_t topic, int32_t partition)
{
    rn_kerr_t err = RN_KERR_NONE;
    pthread_mutex_lock(&txn->lock);
    rn_txn_entry_t *e = rn_txn_find_entry(txn, transactional_id);
    if (e == NULL || e->meta.producer_id != producer_id) {
        err = RN_KERR_INVALID_PRODUCER_ID_MAPPING;
    } else if (e->meta.producer_epoch != producer_epoch) {
        err = RN_KERR_PRODUCER_FENCED;
    } else if (e->meta.state == RN_TXN_PREPARE_COMMIT || e->meta.state == RN_TXN_PREPARE_ABORT) {
        err = RN_KERR_CONCURRENT_TRANSACTIONS;
    } else {
        bool found;
        tp_find(e->meta.tps, e->meta.ntps, topic, partition, &found);
        err = found ? RN_KERR_NONE : RN_KERR_TRANSACTION_ABORTABLE;
    }
    pthread_mutex_unlock(&txn->lock);
    return err;
}
