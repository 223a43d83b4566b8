/* SPDX-License-Identifier: Apache-2.0 */
/* One cleaning round over one compacted log, as Kafka's Cleaner does it (log.h tells the rules):
 *   plan     where the dirty section starts and ends, and how dirty the log is;
 *   map      the dirty section's keys into the offset map, up to what the map holds;
 *   groups   the segments from the log start to the end of what was mapped, in runs that fit
 *            one segment (segment.bytes, the index size, int32 relative offsets);
 *   clean    each group's batches filtered into a `.cleaned` segment, which swap.c puts in
 *            place of the group.
 * Transactions are followed as Kafka's CleanedTransactionMetadata follows them: the aborted
 * transactions (from the .txnindex entries) become "ongoing" as the walk reaches their first
 * offset; their batches are dropped and their abort marker kept while any of their batches was
 * still seen, and a commit marker is kept while its transaction's batches are. Sealed segments
 * never change, so the walk reads them without a lock; retention or DeleteRecords may remove
 * some meanwhile, which the swap notices (and then leaves the log as it is). */
#include "log/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/err.h"
#include "util/logging.h"
#include "util/xmalloc.h"

/* Records of one compressed batch inflated for filtering: more than Kafka's largest batch. */
#define MAX_UNCOMPRESSED (256u << 20)

struct rn_log_cleaner {
    rn_log_cleaner_options_t opt;
    rn_offset_map_t map;
    rn_record_iter_t it;
    uint8_t *in; /* read window over a segment file */
    size_t in_cap;
    uint8_t *out; /* batches waiting to be written to the cleaned segment */
    size_t out_cap, out_len;
    rn_record_t *keep; /* records of the batch being filtered that stay */
    size_t keep_cap;
};

rn_log_cleaner_t *rn_log_cleaner_new(const rn_log_cleaner_options_t *opt)
{
    rn_log_cleaner_t *c = rn_xcalloc(1, sizeof *c);
    c->opt = *opt;
    if (c->opt.io_buffer_bytes < 4096)
        c->opt.io_buffer_bytes = 4096;
    rn_record_iter_init(&c->it, MAX_UNCOMPRESSED);
    return c;
}

void rn_log_cleaner_free(rn_log_cleaner_t *c)
{
    if (c == NULL)
        return;
    rn_offset_map_deinit(&c->map);
    rn_record_iter_deinit(&c->it);
    free(c->in);
    free(c->out);
    free(c->keep);
    free(c);
}

static bool aborted(const rn_log_cleaner_t *c)
{
    return c->opt.aborted != NULL && c->opt.aborted(c->opt.arg);
}

static void throttle(const rn_log_cleaner_t *c, size_t bytes)
{
    if (c->opt.throttle != NULL && bytes > 0)
        c->opt.throttle(c->opt.arg, bytes);
}

/* ---- checkpoint and plan ---- */

int64_t rn_log_cleaner_checkpoint(const rn_log_t *log)
{
    return atomic_load_explicit(&log->cleaner_checkpoint, memory_order_acquire);
}

void rn_log_set_cleaner_checkpoint(rn_log_t *log, int64_t offset)
{
    atomic_store_explicit(&log->cleaner_checkpoint, offset, memory_order_release);
}

/* The first batch's timestamp of a segment (Kafka's getFirstBatchTimestamp), -1 when none. */
static int64_t first_batch_timestamp(rn_segment_t *seg, int64_t size)
{
    uint8_t h[RN_BATCH_HEADER_LEN];
    rn_batch_header_t bh;
    if (size < RN_BATCH_HEADER_LEN || rn_segment_read(seg, 0, h, sizeof h) != 0 ||
        rn_batch_parse_header(h, sizeof h, &bh) != RN_DECODE_OK)
        return -1;
    return bh.base_timestamp;
}

/* rn_log_cleanable and, with `now`, rn_log_cleanable_now. */
static bool plan_round(rn_log_t *log, int64_t now_ms, bool now, rn_log_cleanable_t *out)
{
    *out = (rn_log_cleanable_t){ 0 };
    pthread_mutex_lock(&log->append_lock);
    if (log->closed || !log->cfg.compact || log->nsegs < 2) {
        pthread_mutex_unlock(&log->append_lock);
        return false;
    }
    rn_log_config_t cfg = log->cfg;
    int64_t start = atomic_load_explicit(&log->log_start, memory_order_relaxed);
    int64_t cp = atomic_load_explicit(&log->cleaner_checkpoint, memory_order_relaxed);
    /* Kafka resets a checkpoint below the log start or past the log end to the log start. */
    int64_t first_dirty = cp < start || cp > log->leo ? start : cp;
    size_t nsealed = log->nsegs - 1;
    /* Kafka never cleans the active segment, which always holds the log's last batch: it rolls
     * only on an append. Here segment.ms also rolls a segment that stopped receiving appends,
     * leaving an empty active one; the segment with the last batch stays uncleaned too, or a
     * round could remove that batch (a tombstone past delete.retention.ms) and leave consumers
     * short of the high watermark with nothing to read until the next append. */
    size_t last = nsealed;
    while (!now && last > 0 && log->segs[last]->size == 0)
        last--;
    int64_t uncleanable = log->segs[last]->base_offset;
    int64_t unstable = atomic_load_explicit(&log->first_unstable, memory_order_relaxed);
    if (unstable < uncleanable)
        uncleanable = unstable;
    /* References to the sealed segments, to read timestamps without the lock. */
    rn_segment_t **segs = rn_xmalloc(nsealed * sizeof *segs);
    int64_t *sizes = rn_xmalloc(nsealed * sizeof *sizes);
    for (size_t i = 0; i < nsealed; i++) {
        segs[i] = log->segs[i];
        sizes[i] = segs[i]->size;
        rn_segment_ref(segs[i]);
    }
    pthread_mutex_unlock(&log->append_lock);

    bool must = false;
    int64_t oldest = INT64_MAX;
    for (size_t i = 0; i < nsealed; i++) {
        rn_segment_t *seg = segs[i];
        bool dirty = seg->next_offset > first_dirty;
        /* min.compaction.lag.ms: nothing at or after the first dirty segment holding a record
         * younger than the lag is cleaned. */
        if (!now && cfg.min_compaction_lag_ms > 0 && dirty && seg->base_offset < uncleanable &&
            seg->max_timestamp > now_ms - cfg.min_compaction_lag_ms)
            uncleanable = seg->base_offset;
        if (cfg.max_compaction_lag_ms < INT64_MAX && dirty) {
            int64_t ts = first_batch_timestamp(seg, sizes[i]);
            if (ts > 0 && ts < oldest)
                oldest = ts;
        }
    }
    if (oldest < INT64_MAX && cfg.max_compaction_lag_ms >= 0 &&
        oldest < now_ms - cfg.max_compaction_lag_ms)
        must = true;
    /* Kafka rounds the bound down to the start of the segment holding it: a round never
     * splits a segment at an open transaction. */
    for (size_t i = nsealed; i-- > 0;)
        if (segs[i]->base_offset <= uncleanable) {
            if (segs[i]->next_offset > uncleanable)
                uncleanable = segs[i]->base_offset;
            break;
        }
    int64_t clean = 0, dirty = 0;
    for (size_t i = 0; i < nsealed; i++) {
        if (segs[i]->base_offset < first_dirty)
            clean += sizes[i];
        if (segs[i]->base_offset < uncleanable && segs[i]->next_offset > first_dirty)
            dirty += sizes[i];
        rn_segment_unref(segs[i]);
    }
    free(segs);
    free(sizes);
    if (first_dirty >= uncleanable)
        dirty = 0;
    *out = (rn_log_cleanable_t){
        .first_dirty = first_dirty,
        .first_uncleanable = uncleanable,
        .clean_bytes = clean,
        .dirty_bytes = dirty,
        .ratio = clean + dirty > 0 ? (double)dirty / (double)(clean + dirty) : 0,
        .must_clean = must,
    };
    return dirty > 0 && (now || must || out->ratio > cfg.min_cleanable_ratio);
}

bool rn_log_cleanable(rn_log_t *log, int64_t now_ms, rn_log_cleanable_t *out)
{
    return plan_round(log, now_ms, false, out);
}

bool rn_log_cleanable_now(rn_log_t *log, int64_t now_ms, rn_log_cleanable_t *out)
{
    return plan_round(log, now_ms, true, out);
}

/* ---- reading a segment batch by batch ---- */

typedef struct reader {
    rn_log_cleaner_t *c;
    rn_segment_t *seg;
    int64_t end; /* the sealed segment's size */
    int64_t pos; /* next batch */
    int64_t win_pos;
    size_t win_len;
    int64_t bytes;
} reader_t;

static void reader_init(reader_t *r, rn_log_cleaner_t *c, rn_segment_t *seg, int64_t from)
{
    *r = (reader_t){ .c = c, .seg = seg, .end = seg->size, .pos = from, .win_pos = 0 };
}

/* Makes [pos, pos + n) available in the window. 0 or a negative errno. What the window already
 * holds from pos on is kept, so a batch larger than the buffer costs one read of its rest, not a
 * second read of its start. */
static int reader_fill(reader_t *r, int64_t pos, size_t n)
{
    if (pos >= r->win_pos && pos + (int64_t)n <= r->win_pos + (int64_t)r->win_len)
        return 0;
    rn_log_cleaner_t *c = r->c;
    size_t want = c->opt.io_buffer_bytes > n ? c->opt.io_buffer_bytes : n;
    if ((int64_t)want > r->end - pos)
        want = (size_t)(r->end - pos);
    size_t keep = 0, from = 0;
    if (r->win_len > 0 && pos >= r->win_pos && pos < r->win_pos + (int64_t)r->win_len) {
        from = (size_t)(pos - r->win_pos);
        keep = r->win_len - from;
    }
    if (want > c->in_cap) {
        uint8_t *p = realloc(c->in, want);
        if (p == NULL)
            return -ENOMEM;
        c->in = p;
        c->in_cap = want;
    }
    if (keep > 0)
        memmove(c->in, c->in + from, keep);
    int err = rn_segment_read(r->seg, pos + (int64_t)keep, c->in + keep, want - keep);
    if (err != 0) {
        r->win_len = 0;
        return err;
    }
    r->win_pos = pos;
    r->win_len = want;
    r->bytes += (int64_t)(want - keep);
    throttle(c, want - keep);
    return 0;
}

/* The next batch: 0 with *batch (valid until the next call) and *h, 1 at the end, or a
 * negative errno (-EIO: a header that cannot be right in a file that was validated). */
static int reader_next(reader_t *r, const uint8_t **batch, rn_batch_header_t *h)
{
    if (r->pos >= r->end)
        return 1;
    if (r->end - r->pos < RN_BATCH_HEADER_LEN)
        return -EIO;
    int err = reader_fill(r, r->pos, RN_BATCH_HEADER_LEN);
    if (err != 0)
        return err;
    const uint8_t *p = r->c->in + (r->pos - r->win_pos);
    if (rn_batch_parse_header(p, RN_BATCH_HEADER_LEN, h) != RN_DECODE_OK ||
        h->last_offset_delta < 0 || (int64_t)rn_batch_size(h) > r->end - r->pos)
        return -EIO;
    size_t len = rn_batch_size(h);
    if ((err = reader_fill(r, r->pos, len)) != 0)
        return err;
    *batch = r->c->in + (r->pos - r->win_pos);
    r->pos += (int64_t)len;
    return 0;
}

/* ---- following transactions (Kafka's CleanedTransactionMetadata) ---- */

typedef struct ongoing_abort {
    rn_aborted_txn_t txn;
    int64_t last_observed; /* last offset of its latest batch seen, -1 when none */
} ongoing_abort_t;

typedef struct txn_walk {
    rn_aborted_txn_t *queue; /* aborted transactions by first offset */
    size_t nqueue, next;
    ongoing_abort_t *aborts;
    size_t naborts, aborts_cap;
    int64_t *committed; /* producers with a transaction seen and not aborted */
    size_t ncommitted, committed_cap;
    rn_aborted_txn_t *index; /* the cleaned segment's .txnindex entries */
    size_t nindex, index_cap;
} txn_walk_t;

static int cmp_first_offset(const void *a, const void *b)
{
    int64_t x = ((const rn_aborted_txn_t *)a)->first_offset;
    int64_t y = ((const rn_aborted_txn_t *)b)->first_offset;
    return (x > y) - (x < y);
}

static void txn_walk_init(txn_walk_t *t, rn_log_t *log, int64_t from, int64_t upto)
{
    *t = (txn_walk_t){ 0 };
    t->nqueue = rn_producers_aborted_range(log, from, upto, &t->queue);
    if (t->nqueue > 1)
        qsort(t->queue, t->nqueue, sizeof *t->queue, cmp_first_offset);
}

static void txn_walk_deinit(txn_walk_t *t)
{
    free(t->queue);
    free(t->aborts);
    free(t->committed);
    free(t->index);
}

static ongoing_abort_t *find_abort(txn_walk_t *t, int64_t pid)
{
    for (size_t i = 0; i < t->naborts; i++)
        if (t->aborts[i].txn.producer_id == pid)
            return &t->aborts[i];
    return NULL;
}

/* Aborted transactions that start at or before `offset` become ongoing. */
static void consume_up_to(txn_walk_t *t, int64_t offset)
{
    while (t->next < t->nqueue && t->queue[t->next].first_offset <= offset) {
        const rn_aborted_txn_t *a = &t->queue[t->next++];
        if (find_abort(t, a->producer_id) != NULL)
            continue;
        if (t->naborts == t->aborts_cap) {
            t->aborts_cap = t->aborts_cap ? t->aborts_cap * 2 : 8;
            t->aborts = rn_xrealloc(t->aborts, t->aborts_cap * sizeof *t->aborts);
        }
        t->aborts[t->naborts++] = (ongoing_abort_t){ .txn = *a, .last_observed = -1 };
    }
}

static bool committed_remove(txn_walk_t *t, int64_t pid)
{
    for (size_t i = 0; i < t->ncommitted; i++)
        if (t->committed[i] == pid) {
            t->committed[i] = t->committed[--t->ncommitted];
            return true;
        }
    return false;
}

/* A data batch: true when it belongs to an aborted transaction (drop it). */
static bool txn_on_batch(txn_walk_t *t, const rn_batch_header_t *h)
{
    int64_t last = h->base_offset + h->last_offset_delta;
    consume_up_to(t, last);
    if ((h->attributes & RN_BATCH_ATTR_TRANSACTIONAL) == 0)
        return false;
    ongoing_abort_t *a = find_abort(t, h->producer_id);
    if (a != NULL) {
        a->last_observed = last;
        return true;
    }
    for (size_t i = 0; i < t->ncommitted; i++)
        if (t->committed[i] == h->producer_id)
            return false;
    if (t->ncommitted == t->committed_cap) {
        t->committed_cap = t->committed_cap ? t->committed_cap * 2 : 8;
        t->committed = rn_xrealloc(t->committed, t->committed_cap * sizeof *t->committed);
    }
    t->committed[t->ncommitted++] = h->producer_id;
    return false;
}

/* A control batch: true when it may go (its transaction has no batch left). An abort marker
 * that is kept puts its transaction into the cleaned segment's .txnindex. */
static bool txn_on_control(txn_walk_t *t, const rn_batch_header_t *h, int marker)
{
    consume_up_to(t, h->base_offset + h->last_offset_delta);
    if (marker == RN_MARKER_ABORT) {
        ongoing_abort_t *a = find_abort(t, h->producer_id);
        if (a == NULL)
            return true;
        ongoing_abort_t done = *a;
        *a = t->aborts[--t->naborts];
        if (done.last_observed < 0)
            return true;
        if (t->nindex == t->index_cap) {
            t->index_cap = t->index_cap ? t->index_cap * 2 : 8;
            t->index = rn_xrealloc(t->index, t->index_cap * sizeof *t->index);
        }
        t->index[t->nindex++] = done.txn;
        return false;
    }
    if (marker == RN_MARKER_COMMIT)
        return !committed_remove(t, h->producer_id);
    return false;
}

/* The marker type of a control batch in `batch` (whole), -1 when unreadable. */
static int marker_of(const uint8_t *batch, size_t len)
{
    return rn_records_marker_type(batch, len, NULL);
}

/* ---- the offset map ---- */

/* Maps the keys of [first_dirty, upper) until the map is full. Sets stats->end_offset to the
 * offset after the last record mapped (Kafka's latestOffset + 1): after the last batch read
 * whole, or inside the batch where the map filled up, so that a batch with more keys than the
 * map holds is still cleaned over several rounds. */
static int build_map(rn_log_t *log, rn_log_cleaner_t *c, rn_segment_t *const *segs, size_t nsegs,
                     int64_t first_dirty, int64_t upper, rn_log_clean_stats_t *st)
{
    rn_offset_map_t *m = &c->map;
    txn_walk_t t;
    txn_walk_init(&t, log, first_dirty, upper);
    int err = 0;
    bool full = false;
    for (size_t i = 0; i < nsegs && !full && err == 0; i++) {
        rn_segment_t *seg = segs[i];
        if (seg->next_offset <= first_dirty || seg->base_offset >= upper)
            continue;
        reader_t r;
        int64_t from = 0;
        if (first_dirty > seg->base_offset)
            from = rn_index_lookup_offset(&seg->index, (uint32_t)(first_dirty - seg->base_offset));
        reader_init(&r, c, seg, from);
        const uint8_t *b;
        rn_batch_header_t h;
        int rc;
        while (!full && (rc = reader_next(&r, &b, &h)) == 0) {
            int64_t last = h.base_offset + h.last_offset_delta;
            if (h.base_offset >= upper)
                break;
            if (aborted(c)) {
                err = -ECANCELED;
                break;
            }
            st->batches_read++;
            if ((h.attributes & RN_BATCH_ATTR_CONTROL) != 0) {
                (void)txn_on_control(&t, &h, marker_of(b, rn_batch_size(&h)));
            } else if (!txn_on_batch(&t, &h) && last >= first_dirty) {
                if (rn_record_iter_start(&c->it, b, rn_batch_size(&h)) == 0) {
                    rn_record_t rec;
                    while (rn_record_iter_next(&c->it, &rec) == 1) {
                        if (rec.key.ptr == NULL || rec.offset < first_dirty)
                            continue;
                        if (rn_offset_map_full(m) &&
                            rn_offset_map_get(m, rec.key.ptr, rec.key.len) < 0) {
                            full = true;
                            break;
                        }
                        rn_offset_map_put(m, rec.key.ptr, rec.key.len, rec.offset);
                        m->latest_offset = rec.offset;
                    }
                }
            }
            if (!full && last >= first_dirty)
                m->latest_offset = last;
        }
        if (rc < 0 && err == 0)
            err = rc;
        st->bytes_read += r.bytes;
    }
    txn_walk_deinit(&t);
    st->map_entries = (int64_t)m->count;
    st->end_offset = m->latest_offset + 1;
    return err;
}

/* ---- filtering one group into a cleaned segment ---- */

/* Writes the buffered batches at the end of the cleaned segment. */
static int flush_out(rn_log_cleaner_t *c, rn_segment_t *cleaned, rn_log_clean_stats_t *st)
{
    if (c->out_len == 0)
        return 0;
    int err = rn_segment_write(cleaned, c->out, c->out_len);
    if (err != 0)
        return err;
    cleaned->size += (int64_t)c->out_len;
    st->bytes_written += (int64_t)c->out_len;
    throttle(c, c->out_len);
    c->out_len = 0;
    return 0;
}

/* Appends one batch to the cleaned segment (buffered) and indexes it. */
static int emit(rn_log_cleaner_t *c, rn_log_t *log, rn_segment_t *cleaned, const uint8_t *batch,
                size_t len, rn_log_clean_stats_t *st)
{
    rn_batch_header_t h;
    if (rn_batch_parse_header(batch, len, &h) != RN_DECODE_OK)
        return -EIO;
    if (c->out_len + len > c->out_cap) {
        int err = flush_out(c, cleaned, st);
        if (err != 0)
            return err;
        if (len > c->out_cap) {
            size_t cap = len > c->opt.io_buffer_bytes ? len : c->opt.io_buffer_bytes;
            uint8_t *p = realloc(c->out, cap);
            if (p == NULL)
                return -ENOMEM;
            c->out = p;
            c->out_cap = cap;
        }
    }
    int64_t pos = cleaned->size + (int64_t)c->out_len;
    if (pos + (int64_t)len > INT32_MAX)
        return -EFBIG; /* the group's sizes were checked: a cleaned group never grows */
    memcpy(c->out + c->out_len, batch, len);
    c->out_len += len;
    int64_t last = h.base_offset + h.last_offset_delta;
    rn_segment_index_batch(cleaned, pos, len, h.base_offset, last, h.max_timestamp,
                           log->cfg.index_interval_bytes);
    cleaned->next_offset = last + 1;
    return 0;
}

/* Kafka's Cleaner.shouldRetainRecord for a data record. */
static bool keep_record(const rn_log_cleaner_t *c, const rn_batch_header_t *h,
                        const rn_record_t *rec, int64_t now_ms, rn_log_clean_stats_t *st)
{
    if (rec->offset > c->map.latest_offset)
        return true; /* past what the map covers: nothing newer is known */
    if (rec->key.ptr == NULL)
        return false; /* a keyless record has no place in a compacted log */
    int64_t found = rn_offset_map_get(&c->map, rec->key.ptr, rec->key.len);
    if (rec->offset < found)
        return false;
    if (rec->value.ptr != NULL)
        return true;
    int64_t horizon = rn_batch_delete_horizon(h);
    bool keep = horizon < 0 || now_ms < horizon;
    if (!keep)
        st->tombstones_dropped++;
    return keep;
}

static int push_keep(rn_log_cleaner_t *c, size_t n, const rn_record_t *rec)
{
    if (n == c->keep_cap) {
        size_t cap = c->keep_cap ? c->keep_cap * 2 : 64;
        rn_record_t *p = realloc(c->keep, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        c->keep = p;
        c->keep_cap = cap;
    }
    c->keep[n] = *rec;
    return 0;
}

/* Is `h` the batch holding its producer's last data (or last marker), which must stay so the
 * producer's sequence and epoch survive (Kafka's isBatchLastRecordOfProducer)? */
static bool last_of_producer(const rn_batch_header_t *h, const rn_last_record_t *lr, size_t nlr)
{
    size_t lo = 0, hi = nlr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lr[mid].producer_id < h->producer_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == nlr || lr[lo].producer_id != h->producer_id)
        return false;
    if (lr[lo].last_data_offset >= 0)
        return h->base_offset + h->last_offset_delta == lr[lo].last_data_offset;
    return (h->attributes & RN_BATCH_ATTR_CONTROL) != 0 &&
           h->producer_epoch == lr[lo].producer_epoch;
}

typedef struct group_ctx {
    rn_log_t *log;
    rn_log_cleaner_t *c;
    rn_segment_t *cleaned;
    txn_walk_t *txns;
    const rn_last_record_t *last_records;
    size_t nlast;
    int64_t now_ms;
    int64_t log_end; /* the log end offset when the round began */
    rn_log_clean_stats_t *st;
} group_ctx_t;

/* One batch of the group: Kafka's checkBatchRetention, then the records. */
static int filter_batch(group_ctx_t *g, const uint8_t *b, const rn_batch_header_t *h)
{
    rn_log_cleaner_t *c = g->c;
    size_t len = rn_batch_size(h);
    bool control = (h->attributes & RN_BATCH_ATTR_CONTROL) != 0;
    int marker = control ? marker_of(b, len) : -1;
    bool discardable = control ? txn_on_control(g->txns, h, marker) : txn_on_batch(g->txns, h);
    int64_t horizon = rn_batch_delete_horizon(h);
    /* A marker goes only once its horizon has passed; an aborted batch's records go at once. */
    bool drop_records = control ? discardable && horizon >= 0 && horizon <= g->now_ms : discardable;
    /* Kept, emptied if need be: a producer's last batch (its sequence state), as Kafka keeps
     * it, and the log's last batch, so readers still reach the log end (only a round asked for
     * now cleans the segment that holds it). */
    bool retain_empty = (h->producer_id >= 0 && last_of_producer(h, g->last_records, g->nlast)) ||
                        h->base_offset + h->last_offset_delta + 1 >= g->log_end;
    if (drop_records && !retain_empty) {
        if (control)
            g->st->markers_dropped++;
        else
            g->st->aborted_dropped += h->records_count;
        return 0;
    }

    size_t nkeep = 0;
    bool whole = true, tombstones = false;
    int err;
    if (rn_record_iter_start(&c->it, b, len) != 0) {
        /* Cannot be walked (it was valid when written): keep it as it is rather than lose it. */
        rn_log(RN_LOG_WARN, "log", "%s: cleaner keeps an unreadable batch at offset %" PRId64,
               g->log->dir, h->base_offset);
        g->st->records_kept += h->records_count;
        return emit(c, g->log, g->cleaned, b, len, g->st);
    }
    rn_record_t rec;
    int rc;
    while ((rc = rn_record_iter_next(&c->it, &rec)) == 1) {
        g->st->records_read++;
        bool keep = !drop_records && (control || keep_record(c, h, &rec, g->now_ms, g->st));
        if (!keep) {
            whole = false;
            continue;
        }
        if (rec.value.ptr == NULL)
            tombstones = true;
        if ((err = push_keep(c, nkeep, &rec)) != 0)
            return err;
        nkeep++;
    }
    if (rc < 0) {
        rn_log(RN_LOG_WARN, "log", "%s: cleaner keeps a batch it cannot walk at offset %" PRId64,
               g->log->dir, h->base_offset);
        g->st->records_kept += h->records_count;
        return emit(c, g->log, g->cleaned, b, len, g->st);
    }
    g->st->records_kept += (int64_t)nkeep;
    if (nkeep == 0) {
        if (!retain_empty)
            return 0;
        uint8_t empty[RN_BATCH_HEADER_LEN];
        rn_records_empty_batch(h, empty);
        return emit(c, g->log, g->cleaned, empty, sizeof empty, g->st);
    }
    /* KIP-534: a batch that keeps tombstones, or a marker of a transaction whose data is gone,
     * gets its delete horizon the first time it is cleaned. */
    bool set_horizon = (tombstones || (discardable && control)) && horizon < 0;
    if (whole && !set_horizon)
        return emit(c, g->log, g->cleaned, b, len, g->st);
    uint8_t *rebuilt;
    size_t rebuilt_len;
    int64_t new_horizon = set_horizon ? g->now_ms + g->log->cfg.delete_retention_ms : -1;
    if (set_horizon && new_horizon < g->now_ms)
        new_horizon = INT64_MAX; /* delete.retention.ms near INT64_MAX: never */
    if ((err = rn_records_rebuild_batch(h, c->keep, nkeep, new_horizon, &rebuilt, &rebuilt_len)) !=
        0)
        return err == RN_ENOMEM ? -ENOMEM : -EINVAL;
    err = emit(c, g->log, g->cleaned, rebuilt, rebuilt_len, g->st);
    free(rebuilt);
    return err;
}

/* Writes the cleaned segment's .txnindex (always, even empty: swap.c renames it) and syncs it. */
static int write_txn_index(const rn_log_t *log, int64_t base, const txn_walk_t *t)
{
    char path[PATH_MAX];
    int err =
        rn_segment_path_ext(path, sizeof path, log->dir, base, ".txnindex", RN_CLEANED_SUFFIX);
    if (err != 0)
        return err;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    for (size_t i = 0; i < t->nindex && err == 0; i++) {
        uint8_t e[RN_TXN_INDEX_ENTRY_LEN];
        const rn_aborted_txn_t *a = &t->index[i];
        rn_store_be16(e, 0);
        rn_store_be64(e + 2, (uint64_t)a->producer_id);
        rn_store_be64(e + 10, (uint64_t)a->first_offset);
        rn_store_be64(e + 18, (uint64_t)a->last_offset);
        rn_store_be64(e + 26, (uint64_t)a->last_stable_offset);
        if (pwrite(fd, e, sizeof e, (off_t)(i * sizeof e)) != (ssize_t)sizeof e)
            err = errno ? -errno : -EIO;
    }
    if (err == 0 && fsync(fd) != 0)
        err = -errno;
    close(fd);
    return err;
}

static int cmp_last_offset(const void *a, const void *b)
{
    int64_t x = ((const rn_aborted_txn_t *)a)->last_offset;
    int64_t y = ((const rn_aborted_txn_t *)b)->last_offset;
    return (x > y) - (x < y);
}

/* Cleans group[0..n) into one segment and swaps it in. */
static int clean_group(rn_log_t *log, rn_log_cleaner_t *c, rn_segment_t *const *group, size_t n,
                       txn_walk_t *txns, int64_t now_ms, rn_log_clean_stats_t *st)
{
    int64_t base = group[0]->base_offset;
    rn_log_config_t cfg;
    pthread_mutex_lock(&log->append_lock);
    cfg = log->cfg;
    pthread_mutex_unlock(&log->append_lock);
    rn_segment_t *cleaned;
    int err = rn_segment_create_cleaned(log->dir, base, (size_t)cfg.max_index_bytes, &cleaned);
    if (err != 0)
        return err;
    group_ctx_t g = {
        .log = log, .c = c, .cleaned = cleaned, .txns = txns, .now_ms = now_ms, .st = st
    };
    pthread_mutex_lock(&log->append_lock);
    g.log_end = log->leo;
    pthread_mutex_unlock(&log->append_lock);
    rn_last_record_t *lr;
    g.nlast = rn_producers_last_records(log, &lr);
    g.last_records = lr;
    txns->nindex = 0;
    c->out_len = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        reader_t r;
        reader_init(&r, c, group[i], 0);
        const uint8_t *b;
        rn_batch_header_t h;
        int rc;
        while ((rc = reader_next(&r, &b, &h)) == 0) {
            if (aborted(c)) {
                err = -ECANCELED;
                break;
            }
            st->batches_read++;
            if ((err = filter_batch(&g, b, &h)) != 0)
                break;
        }
        if (rc < 0 && err == 0)
            err = rc;
        st->bytes_read += r.bytes;
    }
    free(lr);
    if (err == 0)
        err = flush_out(c, cleaned, st);
    if (err == 0) {
        /* Sealed and durable before the commit point. */
        cleaned->max_timestamp = cleaned->w_max_timestamp;
        cleaned->max_timestamp_offset = cleaned->w_max_timestamp_offset;
        cleaned->next_offset = group[n - 1]->next_offset;
        /* Kafka gives the cleaned segment the last source segment's mtime: retention of a
         * segment without timestamps goes by it, and the cleaned one is not new data. */
        struct stat sb;
        int fd = rn_segment_pin(group[n - 1]);
        if (fd >= 0) {
            if (fstat(fd, &sb) == 0) {
                struct timespec times[2] = { sb.st_atim, sb.st_mtim };
                (void)futimens(cleaned->fd, times); /* pinned since created */
            }
            rn_segment_unpin(group[n - 1]);
        }
        rn_segment_seal(cleaned);
        if (fdatasync(cleaned->fd) != 0)
            err = -errno;
        else if ((err = rn_segment_sync_indexes(cleaned)) == 0)
            cleaned->index_synced = true;
    }
    if (err == 0) {
        if (txns->nindex > 1)
            qsort(txns->index, txns->nindex, sizeof *txns->index, cmp_last_offset);
        err = write_txn_index(log, base, txns);
    }
    if (err == 0) {
        pthread_mutex_lock(&log->swap_lock);
        err = rn_log_swap_in(log, group, n, cleaned, txns->index, txns->nindex);
        pthread_mutex_unlock(&log->swap_lock);
    }
    if (err != 0) {
        rn_segment_unref(cleaned);
        rn_segment_unlink_cleaned(log->dir, base);
        return err;
    }
    rn_segment_unpin(cleaned); /* its files have their final names: the cache may reopen it */
    st->segments_after++;
    return 0;
}

/* Kafka's groupSegmentsBySize: how many segments from segs[i] go into one cleaned segment. */
static size_t group_size(rn_segment_t *const *segs, size_t nsegs, size_t i, int64_t uncleanable,
                         const rn_log_config_t *cfg)
{
    int64_t size = segs[i]->size;
    int64_t index = (int64_t)rn_index_entries(&segs[i]->index) * RN_OFFSET_INDEX_ENTRY_LEN;
    int64_t tindex = (int64_t)rn_index_entries(&segs[i]->timeindex) * RN_TIME_INDEX_ENTRY_LEN;
    int64_t max_size = cfg->segment_bytes < INT32_MAX ? cfg->segment_bytes : INT32_MAX;
    size_t n = 1;
    while (i + n < nsegs) {
        const rn_segment_t *next = segs[i + n];
        int64_t ni = (int64_t)rn_index_entries(&next->index) * RN_OFFSET_INDEX_ENTRY_LEN;
        int64_t nt = (int64_t)rn_index_entries(&next->timeindex) * RN_TIME_INDEX_ENTRY_LEN;
        /* The last offset the merged segment could hold must stay within int32 of its base. */
        int64_t last = i + n + 1 < nsegs ? segs[i + n + 1]->base_offset - 1 : uncleanable - 1;
        if (size + next->size > max_size || index + ni > cfg->max_index_bytes ||
            tindex + nt > cfg->max_index_bytes ||
            (next->size > 0 && last - segs[i]->base_offset > INT32_MAX))
            break;
        size += next->size;
        index += ni;
        tindex += nt;
        n++;
    }
    return n;
}

int rn_log_clean(rn_log_t *log, rn_log_cleaner_t *c, const rn_log_cleanable_t *what, int64_t now_ms,
                 rn_log_clean_stats_t *st)
{
    *st = (rn_log_clean_stats_t){ .first_dirty = what->first_dirty, .end_offset = -1 };
    int64_t started = rn_clock_mono_ms();
    /* The sealed segments below the first uncleanable offset, with references. */
    pthread_mutex_lock(&log->append_lock);
    rn_log_config_t cfg = log->cfg;
    size_t nsegs = 0;
    rn_segment_t **segs = rn_xmalloc(log->nsegs * sizeof *segs);
    for (size_t i = 0; i + 1 < log->nsegs && log->segs[i]->base_offset < what->first_uncleanable;
         i++) {
        segs[nsegs] = log->segs[i];
        rn_segment_ref(segs[nsegs++]);
    }
    pthread_mutex_unlock(&log->append_lock);

    int err = 0;
    bool ncleaned_skip = false;
    /* The map, sized to the dirty section's offsets at most (each record one entry). */
    size_t want = (size_t)(what->first_uncleanable - what->first_dirty);
    rn_offset_map_deinit(&c->map);
    if (rn_offset_map_init(&c->map, c->opt.dedupe_bytes, want, c->opt.load_factor) != 0)
        err = -ENOMEM;
    if (err == 0)
        err = build_map(log, c, segs, nsegs, what->first_dirty, what->first_uncleanable, st);
    if (err == 0 && c->map.latest_offset < what->first_dirty) {
        if (c->map.count > 0) {
            rn_log(RN_LOG_ERROR, "log",
                   "%s: the dedupe buffer (log.cleaner.dedupe.buffer.size) cannot hold the keys "
                   "of one batch",
                   log->dir);
            err = -ENOBUFS;
        } else {
            /* No batch in the dirty section at all (a gap cleaning left): nothing to clean,
             * and the next round starts past it. */
            st->end_offset = what->first_uncleanable;
            ncleaned_skip = true;
        }
    }
    int64_t end = ncleaned_skip ? INT64_MIN : st->end_offset;
    /* Every segment from the log start that begins before the end of what was mapped. */
    size_t ncleaned = 0;
    while (end != INT64_MIN && ncleaned < nsegs && segs[ncleaned]->base_offset < end)
        ncleaned++;
    st->segments_before = (int)ncleaned;
    if (err == 0 && ncleaned > 0) {
        /* One walk of the transactions for the whole round, as Kafka shares it among groups. */
        txn_walk_t txns;
        txn_walk_init(&txns, log, segs[0]->base_offset, segs[ncleaned - 1]->next_offset);
        for (size_t i = 0; i < ncleaned && err == 0;) {
            size_t n = group_size(segs, ncleaned, i, what->first_uncleanable, &cfg);
            err = clean_group(log, c, segs + i, n, &txns, now_ms, st);
            i += n;
        }
        txn_walk_deinit(&txns);
    }
    for (size_t i = 0; i < nsegs; i++)
        rn_segment_unref(segs[i]);
    free(segs);
    rn_offset_map_deinit(&c->map); /* memory only while a round runs */
    double secs = (double)(rn_clock_mono_ms() - started) / 1000.0;
    rn_log_metrics_clean(st, err);
    if (err == 0)
        rn_log(RN_LOG_INFO, "log",
               "%s: cleaned offsets %" PRId64 " to %" PRId64 " in %.3f s: %" PRId64
               " segments' %.1f MB read, %.1f MB written (%.1f MB/s), %" PRId64 " of %" PRId64
               " records kept, %" PRId64 " tombstones, %" PRId64 " aborted records, %" PRId64
               " markers dropped; %" PRId64 " keys mapped",
               log->dir, what->first_dirty, end, secs, (int64_t)st->segments_before,
               (double)st->bytes_read / 1e6, (double)st->bytes_written / 1e6,
               secs > 0 ? (double)st->bytes_read / 1e6 / secs : 0.0, st->records_kept,
               st->records_read, st->tombstones_dropped, st->aborted_dropped, st->markers_dropped,
               st->map_entries);
    return err;
}
