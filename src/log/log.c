/* SPDX-License-Identifier: Apache-2.0 */
/* A partition's log: an array of segments sorted by base offset, the last one active. Appends
 * run under append_lock; what readers may see is published under segs_lock together with the
 * high watermark, so a reader that found offset < hw also finds the bytes of that offset inside
 * the segment size it read (internal.h has the lock rules). Reads take segs_lock only to pick a
 * segment, its end and a reference; index lookups and preads run without any lock. */
#include "log/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/fs.h"
#include "util/logging.h"
#include "util/xmalloc.h"

void rn_log_config_defaults(rn_log_config_t *cfg)
{
    *cfg = (rn_log_config_t){
        .segment_bytes = 1073741824,
        .segment_ms = 7 * 24 * 3600 * 1000LL,
        .retention_ms = 7 * 24 * 3600 * 1000LL,
        .retention_bytes = -1,
        .flush_messages = INT64_MAX,
        .flush_ms = INT64_MAX,
        .index_interval_bytes = 4096,
        .max_index_bytes = 10485760,
        .delete_enabled = true,
        .compact = false,
        .min_cleanable_ratio = 0.5,
        .min_compaction_lag_ms = 0,
        .max_compaction_lag_ms = INT64_MAX,
        .delete_retention_ms = 86400000,
    };
}

void rn_log_push_segment(rn_log_t *log, rn_segment_t *seg)
{
    pthread_mutex_lock(&log->segs_lock);
    if (log->nsegs == log->segs_cap) {
        log->segs_cap = log->segs_cap ? log->segs_cap * 2 : 4;
        log->segs = rn_xrealloc(log->segs, log->segs_cap * sizeof(*log->segs));
    }
    log->segs[log->nsegs++] = seg;
    pthread_mutex_unlock(&log->segs_lock);
}

static void log_free(rn_log_t *log)
{
    for (size_t i = 0; i < log->nsegs; i++)
        rn_segment_unref(log->segs[i]);
    free(log->segs);
    rn_producers_deinit(&log->producers);
    pthread_mutex_destroy(&log->swap_lock);
    pthread_mutex_destroy(&log->sync_lock);
    pthread_mutex_destroy(&log->segs_lock);
    pthread_mutex_destroy(&log->append_lock);
    free(log->dir);
    free(log);
}

int rn_log_open(const char *dir, const rn_log_config_t *cfg, int64_t recovery_point,
                int64_t log_start_offset, bool clean, rn_log_t **out)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -errno;
    rn_log_t *log = rn_xcalloc(1, sizeof(*log));
    log->dir = rn_xstrdup(dir);
    log->snapshot_offset = -1;
    rn_log_read_fault_injection(log);
    log->cfg = *cfg;
    pthread_mutex_init(&log->append_lock, NULL);
    pthread_mutex_init(&log->segs_lock, NULL);
    pthread_mutex_init(&log->sync_lock, NULL);
    pthread_mutex_init(&log->swap_lock, NULL);
    atomic_init(&log->cleaner_checkpoint, -1);
    atomic_init(&log->hw, 0);
    atomic_init(&log->log_start, log_start_offset);
    atomic_init(&log->recovery_point, 0);
    atomic_init(&log->size_bytes, 0);
    atomic_init(&log->last_flush_ms, rn_clock_wall_ms());
    atomic_init(&log->dir_dirty, false);
    atomic_init(&log->first_unstable, INT64_MAX);
    rn_producers_init(&log->producers);

    int err = rn_log_load(log, recovery_point, clean);
    if (err == 0)
        err = rn_producers_load(log);
    if (err != 0) {
        log_free(log);
        return err;
    }
    int64_t size = 0;
    for (size_t i = 0; i < log->nsegs; i++)
        size += log->segs[i]->size;
    int64_t first = log->segs[0]->base_offset;
    int64_t start = log_start_offset < first      ? first
                    : log_start_offset > log->leo ? log->leo
                                                  : log_start_offset;
    /* All on disk now is durable: a clean close synced it, recovery synced what it scanned. */
    log->flushed_offset = log->leo;
    atomic_store_explicit(&log->log_start, start, memory_order_relaxed);
    atomic_store_explicit(&log->recovery_point, log->leo, memory_order_relaxed);
    atomic_store_explicit(&log->size_bytes, size, memory_order_relaxed);
    /* Release: a thread that receives the log pointer through a mutex or mailbox is ordered
     * anyway; this keeps a reader that only loads hw from seeing it before the segments. */
    atomic_store_explicit(&log->hw, log->leo, memory_order_release);
    *out = log;
    return 0;
}

void rn_log_set_config(rn_log_t *log, const rn_log_config_t *cfg)
{
    pthread_mutex_lock(&log->append_lock);
    log->cfg = *cfg;
    pthread_mutex_unlock(&log->append_lock);
}

int64_t rn_log_high_watermark(const rn_log_t *log)
{
    /* Acquire: pairs with the release in append; the batches below it are in the file. */
    return atomic_load_explicit(&log->hw, memory_order_acquire);
}

int64_t rn_log_start_offset(const rn_log_t *log)
{
    return atomic_load_explicit(&log->log_start, memory_order_acquire);
}

int64_t rn_log_recovery_point(const rn_log_t *log)
{
    return atomic_load_explicit(&log->recovery_point, memory_order_acquire);
}

int64_t rn_log_size_bytes(const rn_log_t *log)
{
    /* Relaxed: a statistic; it publishes nothing else. */
    return atomic_load_explicit(&log->size_bytes, memory_order_relaxed);
}

/* ---- durability ---- */

/* Group commit: whoever holds sync_lock syncs everything appended so far; callers queued behind
 * it find their target covered and return at once. `seal_active`: close has sealed the active
 * segment, whose indexes then need an fsync too. */
static int sync_log(rn_log_t *log, bool seal_active)
{
    int64_t target = atomic_load_explicit(&log->hw, memory_order_acquire);
    pthread_mutex_lock(&log->sync_lock);
    if (log->flushed_offset >= target && !seal_active &&
        !atomic_load_explicit(&log->dir_dirty, memory_order_relaxed)) {
        pthread_mutex_unlock(&log->sync_lock);
        return 0;
    }

    /* The segments with bytes past flushed_offset, plus sealed ones whose indexes were never
     * synced: a suffix of the array. The end is read with the sizes, so every byte below it is
     * in one of these files before the fdatasyncs start. */
    pthread_mutex_lock(&log->segs_lock);
    int64_t end = atomic_load_explicit(&log->hw, memory_order_relaxed);
    size_t first = log->nsegs;
    while (first > 0 && (log->segs[first - 1]->next_offset > log->flushed_offset ||
                         !log->segs[first - 1]->index_synced))
        first--;
    size_t count = log->nsegs - first;
    rn_segment_t **todo = count ? rn_xmalloc(count * sizeof(*todo)) : NULL;
    for (size_t i = 0; i < count; i++) {
        todo[i] = log->segs[first + i];
        rn_segment_ref(todo[i]);
    }
    pthread_mutex_unlock(&log->segs_lock);

    int err = 0;
    for (size_t i = 0; i < count && err == 0; i++) {
        rn_segment_t *seg = todo[i];
        bool sealed = i + 1 < count || seal_active;
        int fd = log->fault_sync ? -EIO : rn_segment_pin(seg);
        if (fd < 0) {
            err = fd;
        } else {
            if (rn_log_datasync(fd) != 0)
                err = -errno;
            rn_segment_unpin(seg);
        }
        if (err != 0)
            break;
        if (sealed && !seg->index_synced && (err = rn_segment_sync_indexes(seg)) == 0)
            seg->index_synced = true;
    }
    /* A segment created by a roll is not durable until its directory entry is. */
    if (err == 0 && atomic_exchange_explicit(&log->dir_dirty, false, memory_order_relaxed)) {
        if ((err = rn_fsync_dir(log->dir)) != 0)
            atomic_store_explicit(&log->dir_dirty, true, memory_order_relaxed);
    }
    if (err == 0) {
        log->flushed_offset = end;
        atomic_store_explicit(&log->recovery_point, end, memory_order_release);
        atomic_store_explicit(&log->last_flush_ms, rn_clock_wall_ms(), memory_order_relaxed);
    } else {
        rn_log(RN_LOG_ERROR, "log", "%s: sync failed: %s", log->dir, strerror(-err));
        rn_log_go_offline(log, "sync", err);
    }
    pthread_mutex_unlock(&log->sync_lock);
    for (size_t i = 0; i < count; i++)
        rn_segment_unref(todo[i]);
    free(todo);
    return err;
}

int rn_log_sync(rn_log_t *log)
{
    return sync_log(log, false);
}

void rn_log_close(rn_log_t *log)
{
    if (log == NULL)
        return;
    pthread_mutex_lock(&log->append_lock);
    log->closed = true;
    rn_segment_t *active = log->segs[log->nsegs - 1];
    rn_segment_seal(active);
    bool changed = active->changed;
    /* Kafka snapshots producer state at a clean shutdown, so the next open replays nothing
     * (unsynced, like every snapshot: syncing a thousand partitions' snapshots one by one made
     * a clean stop ten times slower, and a lost one only lengthens a replay). */
    if (log->snapshot_offset != log->leo && rn_producers_snapshot(log, log->leo) == 0)
        log->snapshot_offset = log->leo;
    pthread_mutex_unlock(&log->append_lock);
    if (!changed) {
        /* Opened clean and never written: sealing gave its indexes back the length they had on
         * disk, so there is nothing to fsync (a broker with many idle partitions stops fast). */
        pthread_mutex_lock(&log->sync_lock);
        active->index_synced = true;
        pthread_mutex_unlock(&log->sync_lock);
    }
    (void)sync_log(log, true);
    log_free(log);
}

int rn_log_delete(rn_log_t *log)
{
    pthread_mutex_lock(&log->append_lock);
    log->closed = true;
    pthread_mutex_unlock(&log->append_lock);
    int err = 0, e;
    for (size_t i = 0; i < log->nsegs; i++) {
        rn_log_keep_open(log, log->segs[i]);
        if ((e = rn_segment_unlink(log->dir, log->segs[i]->base_offset)) != 0 && err == 0)
            err = e;
    }
    /* Anything else in the directory (orphans, files of a newer version) goes too. */
    DIR *d = opendir(log->dir);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
                unlinkat(dirfd(d), de->d_name, 0) != 0 && err == 0)
                err = -errno;
        closedir(d);
    }
    if (rmdir(log->dir) != 0 && err == 0)
        err = -errno;
    if (err != 0)
        rn_log(RN_LOG_WARN, "log", "%s: cannot remove everything: %s", log->dir, strerror(-err));
    log_free(log);
    return err;
}

/* ---- append ---- */

/* Rolls to a new active segment at the log end offset. Caller holds append_lock. */
static int roll(rn_log_t *log, const char *why)
{
    rn_segment_t *old = log->segs[log->nsegs - 1], *seg;
    int err = rn_segment_create(log->dir, log->leo, (size_t)log->cfg.max_index_bytes, &seg);
    if (err != 0) {
        rn_log(RN_LOG_ERROR, "log", "%s: cannot roll to a new segment at offset %" PRId64 ": %s",
               log->dir, log->leo, strerror(-err));
        return err;
    }
    rn_segment_seal(old);
    rn_log_push_segment(log, seg);
    atomic_store_explicit(&log->dir_dirty, true, memory_order_relaxed);
    /* The producer state as of the new segment's base (Kafka's snapshot at every roll): a
     * replay after a crash starts here instead of at the log start. */
    if (rn_producers_snapshot(log, log->leo) == 0)
        log->snapshot_offset = log->leo;
    rn_log(RN_LOG_DEBUG, "log",
           "%s: rolled segment %020" PRId64 " (%" PRId64 " bytes, %s) to %020" PRId64, log->dir,
           old->base_offset, old->size, why, seg->base_offset);
    return 0;
}

/* Kafka's LogConfig.maxSegmentMs: a compacted log also rolls by max.compaction.lag.ms, so its
 * records leave the active segment, which is never cleaned, in time. */
static int64_t max_segment_ms(const rn_log_config_t *cfg)
{
    if (cfg->compact && cfg->max_compaction_lag_ms > 0 &&
        cfg->max_compaction_lag_ms < cfg->segment_ms)
        return cfg->max_compaction_lag_ms;
    return cfg->segment_ms;
}

/* Kafka's LogSegment.shouldRoll, minus the jitter: full, old, its index full, or its offsets
 * about to leave the int32 range of relative offsets. An empty segment never rolls. */
static const char *roll_reason(const rn_log_t *log, const rn_segment_t *seg, size_t len,
                               const rn_records_summary_t *sum, int64_t now_ms)
{
    if (seg->size == 0)
        return NULL;
    int64_t limit = log->cfg.segment_bytes < INT32_MAX ? log->cfg.segment_bytes : INT32_MAX;
    if ((int64_t)len > limit - seg->size)
        return "segment.bytes";
    if (seg->first_append_ms >= 0 && now_ms - seg->first_append_ms > max_segment_ms(&log->cfg))
        return "segment.ms";
    /* An index too small for even one append's entries only rolls once it holds something, or
     * a tiny segment.index.bytes would roll on every append. */
    size_t nbatches = sum->nbatches > 0 ? (size_t)sum->nbatches : 1;
    if ((!rn_index_has_room(&seg->index, nbatches) && rn_index_entries(&seg->index) > 0) ||
        (!rn_index_has_room(&seg->timeindex, nbatches + 1) &&
         rn_index_entries(&seg->timeindex) > 0))
        return "index full";
    if (sum->nrecords > INT32_MAX || log->leo + sum->nrecords - seg->base_offset > INT32_MAX)
        return "relative offsets";
    return NULL;
}

/* Writes a validated blob at the log end: roll if due, offsets, the write, the indexes, the
 * producer state, then publishes. `h` is the header of a producer's batch (the blob's only
 * one), or NULL. Caller holds append_lock and has checked that the log is open. */
static int append_locked(rn_log_t *log, uint8_t *records, size_t len,
                         const rn_records_summary_t *sum, const rn_batch_header_t *h,
                         int marker_type, int32_t coordinator_epoch, int64_t *base_offset,
                         bool *sync_needed)
{
    int64_t now = rn_clock_wall_ms();
    rn_segment_t *seg = log->segs[log->nsegs - 1];
    const char *why = roll_reason(log, seg, len, sum, now);
    int err;
    if (why != NULL) {
        if ((err = roll(log, why)) != 0)
            return err;
        seg = log->segs[log->nsegs - 1];
    }

    int64_t base = log->leo;
    int64_t next = rn_records_assign_offsets(records, len, base, RN_LOG_LEADER_EPOCH);
    err = log->fault_write ? -EIO : rn_segment_write(seg, records, len);
    if (err != 0) {
        rn_log(RN_LOG_ERROR, "log", "%s: append of %zu bytes at offset %" PRId64 " failed: %s",
               log->dir, len, base, strerror(-err));
        if (!rn_log_no_room(err))
            rn_log_go_offline(log, "write", err);
        return err;
    }

    /* The blob was validated: these headers are whole and sane. */
    size_t pos = 0;
    rn_batch_header_t bh;
    while (pos < len && rn_batch_parse_header(records + pos, len - pos, &bh) == RN_DECODE_OK &&
           rn_batch_size(&bh) <= len - pos) {
        rn_segment_index_batch(seg, seg->size + (int64_t)pos, rn_batch_size(&bh), bh.base_offset,
                               bh.base_offset + bh.last_offset_delta, bh.max_timestamp,
                               log->cfg.index_interval_bytes);
        pos += rn_batch_size(&bh);
    }
    if (h != NULL) {
        rn_batch_header_t written = *h;
        written.base_offset = base;
        rn_producers_apply(log, seg, &written, marker_type, coordinator_epoch);
    }
    if (seg->first_append_ms < 0)
        seg->first_append_ms = now;
    seg->changed = true;

    pthread_mutex_lock(&log->segs_lock);
    seg->size += (int64_t)len;
    seg->next_offset = next;
    seg->max_timestamp = seg->w_max_timestamp;
    seg->max_timestamp_offset = seg->w_max_timestamp_offset;
    /* Release, before hw: a reader that sees the new hw sees where the open transactions
     * start, so its last stable offset never passes an open transaction's first batch. */
    atomic_store_explicit(&log->first_unstable, rn_producers_first_unstable(log),
                          memory_order_release);
    /* Release: whoever loads this hw (acquire) sees the bytes written and the size above. */
    atomic_store_explicit(&log->hw, next, memory_order_release);
    pthread_mutex_unlock(&log->segs_lock);
    log->leo = next;
    atomic_fetch_add_explicit(&log->size_bytes, (int64_t)len, memory_order_relaxed);

    int64_t unflushed = next - atomic_load_explicit(&log->recovery_point, memory_order_acquire);
    int64_t since_flush = now - atomic_load_explicit(&log->last_flush_ms, memory_order_relaxed);
    *sync_needed = unflushed >= log->cfg.flush_messages || since_flush >= log->cfg.flush_ms;
    *base_offset = base;
    return 0;
}

int rn_log_append_batch(rn_log_t *log, uint8_t *records, size_t len,
                        const rn_records_summary_t *sum, rn_log_appended_t *out)
{
    *out = (rn_log_appended_t){ .base_offset = -1, .duplicate_timestamp = -1 };
    if (len < RN_BATCH_HEADER_LEN || len > INT32_MAX)
        return -EINVAL;
    rn_batch_header_t h;
    if (rn_batch_parse_header(records, len, &h) != RN_DECODE_OK)
        return -EINVAL;
    bool producer = h.producer_id >= 0;
    /* The producer state follows one batch per append: every caller's blob with a producer id
     * is one batch (Produce v3+ allows no more, and the broker's own writes build one). */
    if (producer && sum->nbatches != 1)
        return -EINVAL;
    pthread_mutex_lock(&log->append_lock);
    int err = 0;
    if (log->closed) {
        err = -EBADF;
        goto out;
    }
    if (rn_log_is_offline(log)) {
        err = -EIO;
        goto out;
    }
    if (producer) {
        rn_kerr_t refusal = RN_KERR_NONE;
        switch (
            rn_producers_check(log, &h, &out->base_offset, &out->duplicate_timestamp, &refusal)) {
        case RN_PRODUCER_DUPLICATE:
            /* A retry: Kafka answers with where the batch was first written, writes nothing. */
            out->duplicate = true;
            goto out;
        case RN_PRODUCER_REFUSED:
            err = (int)refusal;
            goto out;
        case RN_PRODUCER_APPEND:
            break;
        }
    }
    err = append_locked(log, records, len, sum, producer ? &h : NULL, -1, -1, &out->base_offset,
                        &out->sync_needed);
out:
    pthread_mutex_unlock(&log->append_lock);
    return err;
}

int rn_log_append(rn_log_t *log, uint8_t *records, size_t len, const rn_records_summary_t *sum,
                  int64_t *base_offset, bool *sync_needed)
{
    rn_log_appended_t a;
    int err = rn_log_append_batch(log, records, len, sum, &a);
    if (err == 0) {
        *base_offset = a.base_offset;
        *sync_needed = a.sync_needed;
    }
    return err;
}

int rn_log_append_marker(rn_log_t *log, int64_t producer_id, int16_t producer_epoch,
                         int32_t coordinator_epoch, bool commit, int64_t now_ms, int64_t *offset,
                         bool *sync_needed)
{
    uint8_t *batch;
    size_t len;
    rn_records_summary_t sum;
    int16_t type = commit ? RN_MARKER_COMMIT : RN_MARKER_ABORT;
    if (rn_records_build_marker(type, producer_id, producer_epoch, coordinator_epoch, now_ms,
                                &batch, &len, &sum) != 0)
        return -ENOMEM;
    rn_batch_header_t h;
    (void)rn_batch_parse_header(batch, len, &h);
    pthread_mutex_lock(&log->append_lock);
    int err = 0;
    if (log->closed) {
        err = -EBADF;
        goto out;
    }
    if (rn_log_is_offline(log)) {
        err = -EIO;
        goto out;
    }
    /* Kafka's checks of a marker (ProducerAppendInfo.appendEndTxnMarker): the producer's epoch,
     * then the coordinator's. */
    int64_t unused_offset, unused_timestamp;
    rn_kerr_t refusal = RN_KERR_NONE;
    if (rn_producers_check(log, &h, &unused_offset, &unused_timestamp, &refusal) ==
        RN_PRODUCER_REFUSED) {
        err = (int)refusal;
        goto out;
    }
    if (rn_producers_coordinator_epoch(log, producer_id) > coordinator_epoch) {
        err = RN_KERR_TRANSACTION_COORDINATOR_FENCED;
        goto out;
    }
    err = append_locked(log, batch, len, &sum, &h, type, coordinator_epoch, offset, sync_needed);
out:
    pthread_mutex_unlock(&log->append_lock);
    free(batch);
    return err;
}

int rn_log_roll(rn_log_t *log)
{
    int err = 0;
    pthread_mutex_lock(&log->append_lock);
    if (!log->closed && log->segs[log->nsegs - 1]->size > 0)
        err = roll(log, "asked for");
    pthread_mutex_unlock(&log->append_lock);
    return err;
}

int rn_log_maintain(rn_log_t *log, int64_t now_ms)
{
    int err = 0;
    pthread_mutex_lock(&log->append_lock);
    rn_segment_t *seg = log->segs[log->nsegs - 1];
    /* segment.ms also rolls a segment that stopped receiving appends, so retention (which never
     * deletes the active segment) can reach its data; Kafka gets there by rolling in retention. */
    if (!log->closed && seg->size > 0 && seg->first_append_ms >= 0 &&
        now_ms - seg->first_append_ms > max_segment_ms(&log->cfg))
        err = roll(log, "segment.ms");
    bool flush_due = now_ms - atomic_load_explicit(&log->last_flush_ms, memory_order_relaxed) >=
                         log->cfg.flush_ms &&
                     log->leo > atomic_load_explicit(&log->recovery_point, memory_order_relaxed);
    pthread_mutex_unlock(&log->append_lock);
    if (err == 0 && flush_due)
        err = rn_log_sync(log);
    return err;
}

/* ---- read ---- */

/* The segment holding `offset`: the last with base_offset <= offset (the first if none).
 * Caller holds segs_lock. */
static size_t find_segment(const rn_log_t *log, int64_t offset)
{
    size_t lo = 1, hi = log->nsegs; /* answer in [lo - 1, hi) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

static uint32_t relative(const rn_segment_t *seg, int64_t offset)
{
    int64_t rel = offset - seg->base_offset;
    return rel < 0 ? 0 : rel > UINT32_MAX ? UINT32_MAX : (uint32_t)rel;
}

/* Where a read starts: the segment (a reference) and the batch holding the wanted offset. */
typedef struct located {
    rn_segment_t *seg; /* NULL: nothing to send (at the high watermark, or past a last gap) */
    int64_t end;       /* the segment's size when located: a batch boundary at or below hw */
    int64_t batch_pos;
    size_t batch_len;
    rn_scan_t scan;
} located_t;

/* Finds the batch that contains `offset` (via the offset index, then a short scan of batch
 * headers), going on into the next segment over a gap. Sets the slice's offsets. */
static int locate(rn_log_t *log, int64_t offset, rn_log_slice_t *out, located_t *loc)
{
    *out = (rn_log_slice_t){ .range = { .fd = -1 } };
    loc->seg = NULL;
    if (rn_log_is_offline(log))
        return -EIO;
    int64_t target = offset;
    int64_t base, last;
    for (;;) {
        pthread_mutex_lock(&log->segs_lock);
        /* Under segs_lock, hw and the segment sizes come from the same append. */
        int64_t hw = atomic_load_explicit(&log->hw, memory_order_relaxed);
        int64_t start = atomic_load_explicit(&log->log_start, memory_order_relaxed);
        out->high_watermark = hw;
        out->log_start_offset = start;
        if (offset < start || offset > hw) {
            pthread_mutex_unlock(&log->segs_lock);
            return RN_LOG_OFFSET_OUT_OF_RANGE;
        }
        if (target >= hw) {
            pthread_mutex_unlock(&log->segs_lock);
            return 0;
        }
        size_t i = find_segment(log, target);
        rn_segment_t *seg = log->segs[i];
        loc->end = seg->size;
        int64_t next_base = i + 1 < log->nsegs ? log->segs[i + 1]->base_offset : -1;
        rn_segment_ref(seg);
        pthread_mutex_unlock(&log->segs_lock);

        int rc = rn_scan_open(&loc->scan, seg, loc->end);
        if (rc == 0) {
            uint32_t pos = rn_index_lookup_offset(&seg->index, relative(seg, target));
            rc = rn_segment_find_batch(&loc->scan, pos, target, &loc->batch_pos, &loc->batch_len,
                                       &base, &last);
            if (rc == 0) {
                loc->seg = seg; /* pinned by the scan until handed out or dropped */
                return 0;
            }
            rn_scan_close(&loc->scan);
        }
        int64_t seg_base = seg->base_offset;
        rn_segment_unref(seg);
        if (rc < 0) {
            rn_log(RN_LOG_ERROR, "log",
                   "%s: segment %020" PRId64 " unreadable near offset %" PRId64 ": %s", log->dir,
                   seg_base, target, strerror(-rc));
            return rc;
        }
        /* No batch at or after target in this segment (a gap, as compaction leaves): go on in
         * the next one. */
        if (next_base < 0)
            return 0;
        target = next_base;
    }
}

/* A located batch not handed out after all. */
static void drop(located_t *loc)
{
    rn_scan_close(&loc->scan);
    rn_segment_unref(loc->seg);
}

/* The range takes over the scan's pin and the reference: rn_segment_release drops both. */
static void hand_out(const located_t *loc, size_t len, rn_log_slice_t *out)
{
    out->range = (rn_file_range_t){
        .fd = loc->scan.fd,
        .pos = loc->batch_pos,
        .len = len,
        .release = rn_segment_release,
        .owner = loc->seg,
    };
}

int rn_log_read(rn_log_t *log, int64_t offset, size_t max_bytes, rn_log_slice_t *out)
{
    located_t loc;
    int rc = locate(log, offset, out, &loc);
    if (rc != 0 || loc.seg == NULL)
        return rc;
    /* KIP-74: the first batch whole even beyond max_bytes, then whole batches while they fit.
     * `end` is a batch boundary, so when everything up to it fits there is nothing to walk;
     * otherwise the offset index (positions of batch starts) skips to near the limit, and only
     * the last stretch is walked header by header. */
    int64_t batch_pos = loc.batch_pos, end = loc.end;
    int64_t after = batch_pos + (int64_t)loc.batch_len;
    int64_t limit = max_bytes > (size_t)(end - batch_pos) ? end : batch_pos + (int64_t)max_bytes;
    int64_t pos = after;
    if (limit == end) {
        pos = end;
    } else if (limit > after) {
        int64_t jump = rn_index_lookup_position(&loc.seg->index, (uint32_t)limit);
        if (jump > pos)
            pos = jump;
        while (pos < limit) {
            const uint8_t *h;
            if (rn_scan_peek(&loc.scan, pos, RN_BATCH_LOG_OVERHEAD, &h) != 0)
                break;
            int32_t length = (int32_t)rn_load_be32(h + 8);
            if (length < RN_BATCH_HEADER_LEN - RN_BATCH_LOG_OVERHEAD ||
                length > limit - pos - RN_BATCH_LOG_OVERHEAD)
                break;
            pos += (int64_t)length + RN_BATCH_LOG_OVERHEAD;
        }
    }
    hand_out(&loc, (size_t)(pos - batch_pos), out);
    return 0;
}

int rn_log_read_bytes(rn_log_t *log, int64_t offset, size_t max_bytes, bool first_batch_whole,
                      rn_log_slice_t *out)
{
    return rn_log_read_committed(log, offset, max_bytes, first_batch_whole, INT64_MAX, out);
}

int rn_log_read_committed(rn_log_t *log, int64_t offset, size_t max_bytes, bool first_batch_whole,
                          int64_t upto, rn_log_slice_t *out)
{
    located_t loc;
    int rc = locate(log, offset, out, &loc);
    if (rc != 0 || loc.seg == NULL)
        return rc;
    /* read_committed: nothing at or past the last stable offset, which is always a batch's
     * first offset (an open transaction's first batch) or the high watermark. */
    if (upto < out->high_watermark) {
        int64_t pos = loc.batch_pos, bpos, base, last;
        size_t blen;
        if (upto <= offset) {
            drop(&loc);
            return 0;
        }
        int64_t from = rn_index_lookup_offset(&loc.seg->index, relative(loc.seg, upto));
        if (from < pos)
            from = pos;
        rc = rn_segment_find_batch(&loc.scan, from, upto, &bpos, &blen, &base, &last);
        if (rc < 0) {
            drop(&loc);
            return rc;
        }
        if (rc == 0 && bpos < loc.end)
            loc.end = bpos;
    }
    /* Kafka's segment read: max_bytes from the batch holding the offset, cut wherever that
     * ends; with first_batch_whole at least that batch (KIP-74). Nothing to walk. */
    size_t avail = (size_t)(loc.end - loc.batch_pos);
    size_t want = max_bytes;
    if (first_batch_whole && want < loc.batch_len)
        want = loc.batch_len;
    size_t len = want < avail ? want : avail;
    if (len == 0) {
        drop(&loc);
        return 0;
    }
    hand_out(&loc, len, out);
    return 0;
}

int64_t rn_log_fetch_upper_bound(rn_log_t *log, const rn_log_slice_t *slice)
{
    const rn_segment_t *seg = slice->range.owner;
    /* Kafka's fetchUpperBoundOffset: the first offset index entry at or past the end of what
     * was read, else the next segment's base, else the log end. */
    int64_t end = slice->range.pos + (int64_t)slice->range.len;
    size_t n = rn_index_entries(&seg->index);
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t rel, pos;
        rn_index_offset_entry(&seg->index, mid, &rel, &pos);
        if ((int64_t)pos < end)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n) {
        uint32_t rel, pos;
        rn_index_offset_entry(&seg->index, lo, &rel, &pos);
        return seg->base_offset + rel;
    }
    pthread_mutex_lock(&log->segs_lock);
    int64_t upper = atomic_load_explicit(&log->hw, memory_order_relaxed);
    for (size_t i = 0; i + 1 < log->nsegs; i++)
        if (log->segs[i] == seg) {
            upper = log->segs[i + 1]->base_offset;
            break;
        }
    pthread_mutex_unlock(&log->segs_lock);
    return upper;
}

/* ---- retention and DeleteRecords ---- */

/* Takes the first `count` segments out of the array (never the active one) and moves the log
 * start offset up to the new first segment. Caller holds append_lock; the removed segments are
 * returned with the log's references, for the caller to unlink and unref outside the lock. */
static rn_segment_t **remove_prefix(rn_log_t *log, size_t count)
{
    rn_segment_t **removed = rn_xmalloc(count * sizeof(*removed));
    int64_t bytes = 0;
    pthread_mutex_lock(&log->segs_lock);
    for (size_t i = 0; i < count; i++) {
        removed[i] = log->segs[i];
        bytes += removed[i]->size;
    }
    memmove(log->segs, log->segs + count, (log->nsegs - count) * sizeof(*log->segs));
    log->nsegs -= count;
    int64_t start = atomic_load_explicit(&log->log_start, memory_order_relaxed);
    if (log->segs[0]->base_offset > start)
        atomic_store_explicit(&log->log_start, log->segs[0]->base_offset, memory_order_release);
    pthread_mutex_unlock(&log->segs_lock);
    atomic_fetch_sub_explicit(&log->size_bytes, bytes, memory_order_relaxed);
    return removed;
}

/* Unlinks the files (a fetch holding a range keeps reading its open descriptor) and drops the
 * log's references. No lock held: no new segment can take these names, which lie below the log
 * end offset. */
static void dispose(rn_log_t *log, rn_segment_t **removed, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        rn_log_keep_open(log, removed[i]);
        int err = rn_segment_unlink(log->dir, removed[i]->base_offset);
        if (err != 0)
            rn_log(RN_LOG_WARN, "log", "%s: cannot remove segment %020" PRId64 ": %s", log->dir,
                   removed[i]->base_offset, strerror(-err));
        rn_segment_unref(removed[i]);
    }
    free(removed);
}

int rn_log_enforce_retention(rn_log_t *log, int64_t now_ms)
{
    pthread_mutex_lock(&log->swap_lock);
    pthread_mutex_lock(&log->append_lock);
    if (log->closed) {
        pthread_mutex_unlock(&log->append_lock);
        pthread_mutex_unlock(&log->swap_lock);
        return 0;
    }
    /* The array only changes under append_lock, which we hold: no segs_lock needed to read it. */
    size_t n = log->nsegs, count = 0;
    const char *why = "log start offset";
    if (log->cfg.delete_enabled && log->cfg.retention_ms >= 0) {
        while (count + 1 < n &&
               now_ms - rn_segment_largest_timestamp(log->segs[count]) > log->cfg.retention_ms)
            count++;
        if (count > 0)
            why = "retention.ms";
    }
    if (log->cfg.delete_enabled && log->cfg.retention_bytes >= 0) {
        int64_t total = atomic_load_explicit(&log->size_bytes, memory_order_relaxed);
        for (size_t i = 0; i < count; i++)
            total -= log->segs[i]->size;
        size_t before = count;
        while (count + 1 < n && total - log->segs[count]->size >= log->cfg.retention_bytes)
            total -= log->segs[count++]->size;
        if (count > before)
            why = before > 0 ? "retention.ms and retention.bytes" : "retention.bytes";
    }
    /* Segments wholly below the log start offset (after DeleteRecords) go in any case. */
    int64_t start = atomic_load_explicit(&log->log_start, memory_order_relaxed);
    while (count + 1 < n && log->segs[count + 1]->base_offset <= start)
        count++;
    if (count == 0) {
        pthread_mutex_unlock(&log->append_lock);
        pthread_mutex_unlock(&log->swap_lock);
        return 0;
    }
    rn_segment_t **removed = remove_prefix(log, count);
    int64_t new_start = atomic_load_explicit(&log->log_start, memory_order_relaxed);
    rn_producers_forget_before(log, new_start);
    pthread_mutex_unlock(&log->append_lock);
    rn_log(RN_LOG_INFO, "log", "%s: deleting %zu segments (%s); log start offset %" PRId64,
           log->dir, count, why, new_start);
    dispose(log, removed, count);
    pthread_mutex_unlock(&log->swap_lock);
    return (int)count;
}

int rn_log_delete_records(rn_log_t *log, int64_t offset)
{
    pthread_mutex_lock(&log->swap_lock);
    pthread_mutex_lock(&log->append_lock);
    /* DeleteRecords' -1 means "up to the high watermark" (DeleteRecordsRequest v0). */
    if (offset == -1)
        offset = log->leo;
    if (log->closed || offset < 0 || offset > log->leo) {
        pthread_mutex_unlock(&log->append_lock);
        pthread_mutex_unlock(&log->swap_lock);
        return RN_LOG_OFFSET_OUT_OF_RANGE;
    }
    if (offset <= atomic_load_explicit(&log->log_start, memory_order_relaxed)) {
        pthread_mutex_unlock(&log->append_lock);
        pthread_mutex_unlock(&log->swap_lock);
        return 0;
    }
    /* Under segs_lock, so a reader sees the new start together with the segments it left. */
    pthread_mutex_lock(&log->segs_lock);
    atomic_store_explicit(&log->log_start, offset, memory_order_release);
    pthread_mutex_unlock(&log->segs_lock);
    size_t count = 0;
    while (count + 1 < log->nsegs && log->segs[count + 1]->base_offset <= offset)
        count++;
    rn_segment_t **removed = count > 0 ? remove_prefix(log, count) : NULL;
    rn_producers_forget_before(log, offset);
    pthread_mutex_unlock(&log->append_lock);
    if (count > 0)
        dispose(log, removed, count);
    pthread_mutex_unlock(&log->swap_lock);
    rn_log(RN_LOG_INFO, "log",
           "%s: log start offset %" PRId64 " (DeleteRecords), %zu segments deleted", log->dir,
           offset, count);
    return 0;
}
