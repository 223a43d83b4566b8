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
#include "log/log.h"
#include "topics/topics.h"
#include "util/err.h"
#include "util/hmap.h"
#include "util/logging.h"
#include "util/outbuf.h"
#include "util/xmalloc.h"

#define NO_PRODUCER_ID (-1)
#define NO_PRODUCER_EPOCH (-1)
/* One node never changes the leader of a __transaction_state partition: every marker carries
 * coordinator epoch 0, as Kafka's single node writes it. */
#define COORDINATOR_EPOCH 0

/* A partition in a transaction; the topic name is owned. */
typedef struct txn_tp {
    char *topic;
    size_t topic_len;
    int32_t partition;
} txn_tp_t;

/* What TransactionMetadata holds, and what a move changes. */
typedef struct meta {
    int64_t producer_id;
    int64_t previous_producer_id;
    int16_t producer_epoch;
    int16_t last_producer_epoch; /* memory only: KIP-360 retries of a bump that succeeded */
    int32_t timeout_ms;
    rn_txn_state_t state;
    txn_tp_t *tps; /* sorted by topic, then partition; owned */
    size_t ntps;
    int64_t start_ms; /* -1 when no transaction was started */
    int64_t last_update_ms;
} meta_t;

typedef struct entry {
    rn_hmap_node_t node; /* in txn->entries, keyed by transactional id */
    meta_t meta;
    bool pending;        /* a move is on its way to the log (Kafka's pendingState) */
    bool fence_pending;  /* that move is the fencing abort (pendingState PrepareEpochFence) */
    bool fence_failed;   /* a fencing abort could not be written (hasFailedEpochFence) */
    bool completion_due; /* in a Prepare state with markers still to write: the tick's */
    int users;           /* requests holding a pointer to it without the lock: not expired */
    size_t id_len;
    char id[];
} entry_t;

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

/* Kafka's TransactionMetadata.isEpochExhausted: an epoch this close to Short.MAX_VALUE leaves no
 * room for a fence and a bump, so a new producer id is taken instead. */
static bool epoch_exhausted(int16_t epoch)
{
    return epoch >= INT16_MAX - 1;
}

static rn_str_t entry_id(const entry_t *e)
{
    return (rn_str_t){ e->id, e->id_len };
}

static entry_t *entry_at(rn_hmap_node_t *n)
{
    return n != NULL ? rn_container_of(n, entry_t, node) : NULL;
}

/* ---- partition sets ---- */

static int tp_cmp(const char *topic, size_t len, int32_t partition, const txn_tp_t *tp)
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
static size_t tp_find(const txn_tp_t *tps, size_t n, rn_str_t topic, int32_t partition, bool *found)
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

/* Adds (topic, partition) to the set unless it is there. */
static void tp_add(meta_t *m, rn_str_t topic, int32_t partition)
{
    bool found;
    size_t at = tp_find(m->tps, m->ntps, topic, partition, &found);
    if (found)
        return;
    m->tps = rn_xrealloc(m->tps, (m->ntps + 1) * sizeof *m->tps);
    memmove(&m->tps[at + 1], &m->tps[at], (m->ntps - at) * sizeof *m->tps);
    m->tps[at] = (txn_tp_t){ dup_bytes(topic.ptr, topic.len), topic.len, partition };
    m->ntps++;
}

static void tps_clear(meta_t *m)
{
    for (size_t i = 0; i < m->ntps; i++)
        free(m->tps[i].topic);
    free(m->tps);
    m->tps = NULL;
    m->ntps = 0;
}

/* A deep copy: the move's next state owns its own set. */
static void meta_copy(meta_t *dst, const meta_t *src)
{
    *dst = *src;
    dst->tps = NULL;
    dst->ntps = 0;
    if (src->ntps == 0)
        return;
    dst->tps = rn_xcalloc(src->ntps, sizeof *dst->tps);
    for (size_t i = 0; i < src->ntps; i++)
        dst->tps[i] = (txn_tp_t){ dup_bytes(src->tps[i].topic, src->tps[i].topic_len),
                                  src->tps[i].topic_len, src->tps[i].partition };
    dst->ntps = src->ntps;
}

/* ---- the map ---- */

static uint64_t id_hash(const rn_txn_t *txn, rn_str_t id)
{
    return rn_hmap_hash(&txn->entries, id.ptr, id.len);
}

static entry_t *find_entry(rn_txn_t *txn, rn_str_t id)
{
    uint64_t h = id_hash(txn, id);
    for (rn_hmap_node_t *n = rn_hmap_next_match(&txn->entries, NULL, h); n != NULL;
         n = rn_hmap_next_match(&txn->entries, n, h)) {
        entry_t *e = entry_at(n);
        if (e->id_len == id.len && (id.len == 0 || memcmp(e->id, id.ptr, id.len) == 0))
            return e;
    }
    return NULL;
}

static entry_t *insert_entry(rn_txn_t *txn, rn_str_t id, const meta_t *m)
{
    entry_t *e = rn_xmalloc(sizeof *e + id.len);
    *e = (entry_t){ .meta = *m, .id_len = id.len };
    if (id.len > 0)
        memcpy(e->id, id.ptr, id.len);
    rn_hmap_insert(&txn->entries, &e->node, id_hash(txn, id));
    return e;
}

static void free_entry(entry_t *e)
{
    tps_clear(&e->meta);
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
        free_entry(entry_at(n));
    }
    rn_hmap_deinit(&txn->entries);
    pthread_mutex_destroy(&txn->lock);
    free(txn);
}

/* ---- the log ---- */

/* Writes `m` as the transactional id's TransactionLogValue. 0 or a negative errno. */
static int write_meta(rn_txn_t *txn, rn_str_t id, const meta_t *m, int64_t now_ms)
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
        .next_producer_id = NO_PRODUCER_ID,
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
static void finish_move(rn_txn_t *txn, entry_t *e, meta_t *next, bool written, bool keep_pending)
{
    pthread_mutex_lock(&txn->lock);
    if (written) {
        tps_clear(&e->meta);
        e->meta = *next;
    } else {
        tps_clear(next);
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
static int write_marker(rn_txn_t *txn, const txn_tp_t *tp, int64_t producer_id,
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

/* Completes a transaction in a Prepare state, whose entry is pending: a marker to every
 * partition, then the Complete record. When something cannot be written the entry stays
 * pending in its Prepare state and the tick tries again. */
static void complete(rn_txn_t *txn, entry_t *e, int64_t now_ms)
{
    meta_t next;
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
        tps_clear(&next);
        failed = write_meta(txn, entry_id(e), &next, now_ms) != 0;
    }
    pthread_mutex_lock(&txn->lock);
    if (failed) {
        tps_clear(&next);
        e->completion_due = true;
    } else {
        tps_clear(&e->meta);
        e->meta = next;
        e->pending = false;
        e->fence_failed = false;
    }
    pthread_mutex_unlock(&txn->lock);
}

/* Kafka's endTransaction for protocol version 1. From a client the epoch must be the entry's;
 * from the coordinator itself (a fence: InitProducerId over an open transaction, or a timeout)
 * the entry is already pending with fence_pending set and `producer_epoch` is the bumped one. */
static rn_kerr_t end_txn(rn_txn_t *txn, entry_t *e, int64_t producer_id, int16_t producer_epoch,
                         bool commit, bool from_client, int64_t now_ms)
{
    meta_t next;
    rn_kerr_t err = RN_KERR_NONE;
    bool move = false, fencing = false;
    pthread_mutex_lock(&txn->lock);
    meta_t *m = &e->meta;
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
    int rc = write_meta(txn, entry_id(e), &next, now_ms);
    if (rc != 0) {
        pthread_mutex_lock(&txn->lock);
        if (fencing)
            e->fence_failed = true;
        pthread_mutex_unlock(&txn->lock);
        finish_move(txn, e, &next, false, false);
        return write_error();
    }
    finish_move(txn, e, &next, true, true); /* pending until complete */
    complete(txn, e, now_ms);
    return RN_KERR_NONE;
}

/* Starts the fencing abort of an Ongoing transaction (Kafka's prepareFenceProducerEpoch) and
 * runs it. Called with the lock held and the entry not pending; returns with the lock
 * released. */
static rn_kerr_t fence_locked(rn_txn_t *txn, entry_t *e, int64_t now_ms)
{
    meta_t *m = &e->meta;
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
static entry_t *entry_use(rn_txn_t *txn, rn_str_t id)
{
    pthread_mutex_lock(&txn->lock);
    entry_t *e = find_entry(txn, id);
    if (e != NULL)
        e->users++;
    pthread_mutex_unlock(&txn->lock);
    return e;
}

static void entry_release(rn_txn_t *txn, entry_t *e)
{
    pthread_mutex_lock(&txn->lock);
    e->users--;
    pthread_mutex_unlock(&txn->lock);
}

/* The entry of `id`, made (Empty, epoch -1, with a new producer id) when there is none, with a
 * use taken. */
static rn_kerr_t get_or_create(rn_txn_t *txn, rn_str_t id, int32_t timeout_ms, int64_t now_ms,
                               entry_t **out)
{
    entry_t *e = entry_use(txn, id);
    if (e != NULL) {
        *out = e;
        return RN_KERR_NONE;
    }
    int64_t producer_id;
    if (rn_producer_ids_next(txn->ids, &producer_id) != 0)
        return RN_KERR_COORDINATOR_LOAD_IN_PROGRESS; /* Kafka's answer without a block of ids */
    meta_t m = {
        .producer_id = producer_id,
        .previous_producer_id = NO_PRODUCER_ID,
        .producer_epoch = NO_PRODUCER_EPOCH,
        .last_producer_epoch = NO_PRODUCER_EPOCH,
        .timeout_ms = timeout_ms,
        .state = RN_TXN_EMPTY,
        .start_ms = -1,
        .last_update_ms = now_ms,
    };
    pthread_mutex_lock(&txn->lock);
    e = find_entry(txn, id); /* another request may have made it meanwhile */
    if (e == NULL)
        e = insert_entry(txn, id, &m);
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
static rn_kerr_t plan_init(const entry_t *e, bool has_expected, int64_t expected_id,
                           int16_t expected_epoch, init_action_t *action, int16_t *epoch,
                           int16_t *last)
{
    const meta_t *m = &e->meta;
    if (e->pending)
        return RN_KERR_CONCURRENT_TRANSACTIONS;
    /* KIP-360: only the producer that holds the id (or the one whose exhausted epoch just made
     * way for a new id) may resume; anyone else is a fenced older instance. */
    if (has_expected && m->producer_epoch != NO_PRODUCER_EPOCH && expected_id != m->producer_id &&
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
        *last = has_expected ? m->producer_epoch : NO_PRODUCER_EPOCH;
        return RN_KERR_NONE;
    }
    if (m->producer_epoch == INT16_MAX)
        return RN_KERR_UNKNOWN_SERVER_ERROR; /* as Kafka, which cannot bump it either */
    *action = INIT_BUMP;
    if (!has_expected) {
        *epoch = (int16_t)(m->producer_epoch + 1);
        *last = NO_PRODUCER_EPOCH;
        return RN_KERR_NONE;
    }
    if (m->producer_epoch == NO_PRODUCER_EPOCH || expected_epoch == m->producer_epoch) {
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

static rn_kerr_t init_producer(rn_txn_t *txn, entry_t *e, rn_str_t transactional_id,
                               int32_t timeout_ms, int64_t expected_id, int16_t expected_epoch,
                               int64_t now_ms, int64_t *producer_id, int16_t *producer_epoch)
{
    rn_kerr_t err;
    bool has_expected = expected_id != NO_PRODUCER_ID;
    meta_t next;
    init_action_t action = INIT_BUMP;
    int16_t epoch = 0, last = NO_PRODUCER_EPOCH;
    pthread_mutex_lock(&txn->lock);
    err = plan_init(e, has_expected, expected_id, expected_epoch, &action, &epoch, &last);
    if (err == RN_KERR_NONE && action == INIT_FENCE) {
        /* Abort what the previous producer left open, at a bumped epoch that fences it, and
         * let this one retry: its retry bumps the epoch once more. fence_locked unlocks. */
        err = fence_locked(txn, e, now_ms);
        return err != RN_KERR_NONE ? err : RN_KERR_CONCURRENT_TRANSACTIONS;
    }
    if (err == RN_KERR_NONE) {
        e->pending = true;
        meta_copy(&next, &e->meta);
        tps_clear(&next);
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
    entry_t *e;
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
static rn_kerr_t check_add(const entry_t *e, int64_t producer_id, int16_t producer_epoch)
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
    meta_t next;
    pthread_mutex_lock(&txn->lock);
    entry_t *e = find_entry(txn, transactional_id);
    rn_kerr_t err = check_add(e, producer_id, producer_epoch);
    if (err == RN_KERR_NONE) {
        const meta_t *m = &e->meta;
        bool all_in = m->state == RN_TXN_ONGOING;
        for (size_t i = 0; i < n && all_in; i++)
            tp_find(m->tps, m->ntps, tps[i].topic, tps[i].partition, &all_in);
        if (!all_in) {
            /* Kafka writes the move even for partitions already in; only an Ongoing
             * transaction that has them all answers at once. */
            meta_copy(&next, m);
            for (size_t i = 0; i < n; i++)
                tp_add(&next, tps[i].topic, tps[i].partition);
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
    entry_t *e = entry_use(txn, transactional_id);
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
    entry_t *e = find_entry(txn, transactional_id);
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

/* ---- start-up ---- */

bool rn_txn_load_record(rn_txn_t *txn, rn_bytes_t key, rn_bytes_t value)
{
    rn_str_t id;
    if (rn_txn_key_decode(key, &id) != 0)
        return false;
    if (value.ptr == NULL) {
        pthread_mutex_lock(&txn->lock);
        entry_t *e = find_entry(txn, id);
        if (e != NULL) {
            rn_hmap_remove(&txn->entries, &e->node);
            free_entry(e);
        }
        pthread_mutex_unlock(&txn->lock);
        return true;
    }
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_txn_log_value_t v;
    bool ok = rn_txn_value_decode(value, &arena, &v) == 0;
    if (ok) {
        meta_t m = {
            .producer_id = v.producer_id,
            .previous_producer_id = v.previous_producer_id,
            .producer_epoch = v.producer_epoch,
            .last_producer_epoch = NO_PRODUCER_EPOCH, /* not in the log, as in Kafka */
            .timeout_ms = v.transaction_timeout_ms,
            .state = (rn_txn_state_t)v.transaction_status,
            .start_ms = v.start_timestamp_ms,
            .last_update_ms = v.last_update_timestamp_ms,
        };
        for (int32_t t = 0; t < v.ntopics; t++)
            for (int32_t i = 0; i < v.topics[t].npartitions; i++)
                tp_add(&m, v.topics[t].topic, v.topics[t].partitions[i]);
        pthread_mutex_lock(&txn->lock);
        entry_t *e = find_entry(txn, id);
        if (e != NULL) {
            tps_clear(&e->meta);
            e->meta = m;
        } else {
            insert_entry(txn, id, &m);
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
        entry_t *e = entry_at(n);
        if (e->meta.state == RN_TXN_DEAD) {
            rn_hmap_remove(&txn->entries, n);
            free_entry(e);
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
static entry_t **pick(rn_txn_t *txn, bool (*want)(rn_txn_t *txn, entry_t *e, int64_t now_ms),
                      int64_t now_ms, size_t *n)
{
    entry_t **out = NULL;
    size_t count = 0, cap = 0;
    pthread_mutex_lock(&txn->lock);
    rn_hmap_iter_t it = rn_hmap_iter(&txn->entries);
    for (rn_hmap_node_t *node; (node = rn_hmap_iter_next(&it)) != NULL;) {
        entry_t *e = entry_at(node);
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

static bool completion_is_due(rn_txn_t *txn, entry_t *e, int64_t now_ms)
{
    (void)txn;
    (void)now_ms;
    if (!e->completion_due)
        return false;
    e->completion_due = false; /* this tick takes it */
    return true;
}

static bool timed_out(rn_txn_t *txn, entry_t *e, int64_t now_ms)
{
    (void)txn;
    return !e->pending && e->meta.state == RN_TXN_ONGOING &&
           e->meta.start_ms < now_ms - e->meta.timeout_ms;
}

static bool expired(rn_txn_t *txn, entry_t *e, int64_t now_ms)
{
    return !e->pending && e->users == 0 &&
           (e->meta.state == RN_TXN_EMPTY || e->meta.state == RN_TXN_COMPLETE_COMMIT ||
            e->meta.state == RN_TXN_COMPLETE_ABORT) &&
           e->meta.last_update_ms <= now_ms - txn->expiration_ms;
}

static void abort_timed_out(rn_txn_t *txn, entry_t *e, int64_t now_ms)
{
    pthread_mutex_lock(&txn->lock);
    if (!timed_out(txn, e, now_ms)) {
        pthread_mutex_unlock(&txn->lock);
        return; /* ended meanwhile */
    }
    int64_t producer_id = e->meta.producer_id;
    int32_t timeout_ms = e->meta.timeout_ms;
    /* fence_locked releases the lock. */
    rn_kerr_t err = fence_locked(txn, e, now_ms);
    rn_log(err == RN_KERR_NONE ? RN_LOG_INFO : RN_LOG_WARN, "txn",
           "aborting the transaction of %.*s (producer id %" PRId64
           ") open longer than its timeout of %" PRId32 " ms: %s",
           (int)(e->id_len > 200 ? 200 : e->id_len), e->id, producer_id, timeout_ms,
           err == RN_KERR_NONE ? "done" : rn_kerr_name(err));
}

/* Kafka writes a tombstone for an expired transactional id and forgets it once written. */
static void expire(rn_txn_t *txn, entry_t *e, int64_t now_ms)
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
    rn_txn_key_encode(&key, entry_id(e));
    int rc = key.failed
                 ? RN_ENOMEM
                 : rn_store_append(txn->store, entry_id(e), (rn_bytes_t){ key.data, key.len },
                                   (rn_bytes_t){ NULL, 0 }, now_ms);
    rn_outbuf_deinit(&key);
    pthread_mutex_lock(&txn->lock);
    if (rc == 0) {
        rn_hmap_remove(&txn->entries, &e->node);
        free_entry(e);
    } else {
        e->pending = false;
    }
    pthread_mutex_unlock(&txn->lock);
}

void rn_txn_tick(rn_txn_t *txn, int64_t now_ms)
{
    size_t n;
    entry_t **due = pick(txn, completion_is_due, now_ms, &n);
    for (size_t i = 0; i < n; i++)
        complete(txn, due[i], now_ms);
    free(due);
    if (now_ms >= txn->next_abort_check) {
        txn->next_abort_check = now_ms + txn->abort_interval_ms;
        entry_t **late = pick(txn, timed_out, now_ms, &n);
        for (size_t i = 0; i < n; i++)
            abort_timed_out(txn, late[i], now_ms);
        free(late);
    }
    if (now_ms >= txn->next_expire_check) {
        txn->next_expire_check = now_ms + txn->expire_interval_ms;
        entry_t **old = pick(txn, expired, now_ms, &n);
        for (size_t i = 0; i < n; i++)
            expire(txn, old[i], now_ms);
        free(old);
    }
}

/* ---- DescribeTransactions, ListTransactions ---- */

static rn_str_t arena_copy(rn_arena_t *arena, const char *s, size_t len, bool *oom)
{
    char *p = rn_arena_try_alloc(arena, len > 0 ? len : 1);
    if (p == NULL) {
        *oom = true;
        return (rn_str_t){ "", 0 };
    }
    if (len > 0)
        memcpy(p, s, len);
    return (rn_str_t){ p, len };
}

int rn_txn_describe(rn_txn_t *txn, rn_str_t transactional_id, rn_arena_t *arena,
                    rn_txn_description_t *out, bool *found)
{
    bool oom = false;
    pthread_mutex_lock(&txn->lock);
    entry_t *e = find_entry(txn, transactional_id);
    *found = e != NULL;
    if (e != NULL) {
        const meta_t *m = &e->meta;
        *out = (rn_txn_description_t){
            .state = m->state,
            .timeout_ms = m->timeout_ms,
            .start_ms = m->start_ms,
            .producer_id = m->producer_id,
            .producer_epoch = m->producer_epoch,
        };
        if (m->ntps > 0) {
            out->tps = rn_arena_try_alloc_array(arena, rn_txn_tp_t, m->ntps);
            oom = out->tps == NULL;
            for (size_t i = 0; !oom && i < m->ntps; i++) {
                out->tps[i].topic = arena_copy(arena, m->tps[i].topic, m->tps[i].topic_len, &oom);
                out->tps[i].partition = m->tps[i].partition;
            }
            out->ntps = oom ? 0 : m->ntps;
        }
    }
    pthread_mutex_unlock(&txn->lock);
    return oom ? RN_ENOMEM : 0;
}

static int cmp_listing(const void *a, const void *b)
{
    const rn_txn_listing_t *x = a, *y = b;
    size_t n = x->transactional_id.len < y->transactional_id.len ? x->transactional_id.len
                                                                 : y->transactional_id.len;
    int c = n > 0 ? memcmp(x->transactional_id.ptr, y->transactional_id.ptr, n) : 0;
    if (c != 0)
        return c;
    return x->transactional_id.len < y->transactional_id.len   ? -1
           : x->transactional_id.len > y->transactional_id.len ? 1
                                                               : 0;
}

int rn_txn_list(rn_txn_t *txn, bool filter_states, uint32_t states, const int64_t *producer_ids,
                size_t nids, int64_t min_duration_ms, int64_t now_ms, rn_arena_t *arena,
                rn_txn_listing_t **out, size_t *n)
{
    bool oom = false;
    size_t count = 0;
    pthread_mutex_lock(&txn->lock);
    size_t cap = txn->entries.count;
    rn_txn_listing_t *items =
        cap > 0 ? rn_arena_try_alloc_array(arena, rn_txn_listing_t, cap) : NULL;
    oom = cap > 0 && items == NULL;
    rn_hmap_iter_t it = rn_hmap_iter(&txn->entries);
    for (rn_hmap_node_t *node; !oom && (node = rn_hmap_iter_next(&it)) != NULL;) {
        const entry_t *e = entry_at(node);
        const meta_t *m = &e->meta;
        if (filter_states && (states & (1u << m->state)) == 0)
            continue;
        bool id_ok = nids == 0;
        for (size_t i = 0; i < nids && !id_ok; i++)
            id_ok = producer_ids[i] == m->producer_id;
        if (!id_ok)
            continue;
        /* Kafka lists transactions running longer than the filter. The coordinator's clock
         * moves in ticks (rn_coord_tick), so a transaction started in the current tick has run
         * for a time the clock cannot see yet: its measured duration counts when it reaches
         * the filter, which errs by at most a tick, as the clock itself does. */
        if (min_duration_ms >= 0 && now_ms - m->start_ms < min_duration_ms)
            continue;
        items[count++] = (rn_txn_listing_t){
            .transactional_id = arena_copy(arena, e->id, e->id_len, &oom),
            .producer_id = m->producer_id,
            .state = m->state,
        };
    }
    pthread_mutex_unlock(&txn->lock);
    if (oom)
        return RN_ENOMEM;
    if (count > 1)
        qsort(items, count, sizeof *items, cmp_listing);
    *out = items;
    *n = count;
    return 0;
}
