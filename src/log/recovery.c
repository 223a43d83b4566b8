/* SPDX-License-Identifier: Apache-2.0 */
/* Loading a partition's segments at open. After a clean shutdown the files are trusted: each
 * sealed segment's last time index entry gives its largest timestamp, and the active segment's
 * log end offset comes from walking batch headers from its last offset index entry to the end of
 * the file (a few reads, so a thousand partitions open in milliseconds). After a crash, every
 * segment from the one holding the recovery point is scanned batch by batch: header, length
 * within the file, CRC-32C, offsets increasing. The .log is truncated at the first byte that
 * fails, its indexes are rebuilt from the scan, and any later segment is deleted (its offsets
 * would follow a hole). Kafka does the same (LogLoader.recoverLog). */
#include "log/internal.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/logging.h"
#include "util/xmalloc.h"

#define RECOVERY_BUF_LEN (1u << 20)

typedef struct recovery_stats {
    int64_t batches;
    int64_t bytes;
    int64_t truncated_bytes;
    int segments;
    int deleted_segments;
} recovery_stats_t;

static int cmp_offsets(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t rn_log_parse_name(const char *name, const char *suffix)
{
    size_t len = strlen(name), slen = strlen(suffix);
    if (len != 20 + slen || strcmp(name + 20, suffix) != 0)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - (name[i] - '0')) / 10)
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

static void push(int64_t **v, size_t *n, size_t *cap, int64_t x)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *v = rn_xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = x;
}

/* The base offsets of the .log files in `dir`, sorted. Index files without their .log (left by a
 * crash in the middle of a deletion) are removed. */
static int list_segments(const char *dir, int64_t **out, size_t *count)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -errno;
    int64_t *bases = NULL, *indexes = NULL;
    size_t n = 0, cap = 0, nindexes = 0, indexes_cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t base = rn_log_parse_name(de->d_name, ".log");
        if (base >= 0) {
            push(&bases, &n, &cap, base);
            continue;
        }
        if ((base = rn_log_parse_name(de->d_name, ".index")) >= 0 ||
            (base = rn_log_parse_name(de->d_name, ".timeindex")) >= 0 ||
            (base = rn_log_parse_name(de->d_name, ".txnindex")) >= 0)
            push(&indexes, &nindexes, &indexes_cap, base);
    }
    if (n > 0)
        qsort(bases, n, sizeof(*bases), cmp_offsets);
    for (size_t i = 0; i < nindexes; i++) {
        if (n > 0 && bsearch(&indexes[i], bases, n, sizeof(*bases), cmp_offsets) != NULL)
            continue;
        char path[PATH_MAX];
        if (rn_segment_path(path, sizeof(path), dir, indexes[i], ".index") == 0 &&
            unlink(path) == 0)
            rn_log(RN_LOG_INFO, "log", "%s: removed orphan index %s", dir, path);
        if (rn_segment_path(path, sizeof(path), dir, indexes[i], ".timeindex") == 0 &&
            unlink(path) == 0)
            rn_log(RN_LOG_INFO, "log", "%s: removed orphan index %s", dir, path);
        if (rn_segment_path(path, sizeof(path), dir, indexes[i], ".txnindex") == 0 &&
            unlink(path) == 0)
            rn_log(RN_LOG_INFO, "log", "%s: removed orphan index %s", dir, path);
    }
    free(indexes);
    closedir(d);
    *out = bases;
    *count = n;
    return 0;
}

/* A sealed segment as found: its largest timestamp is its time index's last entry (written when
 * it was sealed), and it ends where the next segment begins. False when the indexes contradict the
 * file (then it is rebuilt). */
static bool load_sealed(rn_segment_t *seg, int64_t next_base)
{
    seg->next_offset = next_base;
    size_t n = rn_index_entries(&seg->index);
    if (n > 0) {
        uint32_t rel, pos;
        rn_index_offset_entry(&seg->index, n - 1, &rel, &pos);
        if ((int64_t)pos >= seg->size || seg->base_offset + rel >= next_base)
            return false;
    }
    n = rn_index_entries(&seg->timeindex);
    if (n > 0) {
        int64_t ts;
        uint32_t rel;
        rn_index_time_entry(&seg->timeindex, n - 1, &ts, &rel);
        if (seg->base_offset + rel >= next_base)
            return false;
        seg->max_timestamp = seg->w_max_timestamp = ts;
        seg->max_timestamp_offset = seg->w_max_timestamp_offset = seg->base_offset + rel;
        seg->indexed_max_timestamp = ts;
    }
    return true;
}

static bool walk_active(rn_segment_t *seg, rn_scan_t *scan);

/* The active segment after a clean shutdown: walk the headers after the last offset index entry
 * to find the log end offset. False when they do not lead exactly to the end of the file (or it
 * cannot be read). */
static bool load_active(rn_segment_t *seg)
{
    if (!load_sealed(seg, INT64_MAX))
        return false;
    rn_scan_t scan;
    if (rn_scan_open(&scan, seg, seg->size) != 0)
        return false;
    bool ok = walk_active(seg, &scan);
    rn_scan_close(&scan);
    return ok;
}

static bool walk_active(rn_segment_t *seg, rn_scan_t *scan)
{
    int64_t pos = 0, expect = seg->base_offset;
    size_t n = rn_index_entries(&seg->index);
    if (n > 0) {
        uint32_t rel, ipos;
        rn_index_offset_entry(&seg->index, n - 1, &rel, &ipos);
        pos = ipos;
        expect = seg->base_offset + rel;
    }
    seg->bytes_since_index = seg->size - pos;
    seg->next_offset = seg->base_offset;
    bool first = true;
    while (pos < seg->size) {
        const uint8_t *h;
        if (rn_scan_peek(scan, pos, 43, &h) != 0) /* through max_timestamp */
            return false;
        int64_t base = (int64_t)rn_load_be64(h);
        int32_t length = (int32_t)rn_load_be32(h + 8);
        int32_t last_delta = (int32_t)rn_load_be32(h + 23);
        int64_t max_ts = (int64_t)rn_load_be64(h + 35);
        if (h[16] != 2 || length < RN_BATCH_HEADER_LEN - RN_BATCH_LOG_OVERHEAD || last_delta < 0 ||
            length > seg->size - pos - RN_BATCH_LOG_OVERHEAD ||
            (first && n > 0 && base != expect) || base < expect)
            return false;
        first = false;
        /* The time index's last entry already covers everything sealed at the last close; this
         * catches batches appended after it (it costs nothing: the header is in hand). */
        if (max_ts > seg->max_timestamp) {
            seg->max_timestamp = seg->w_max_timestamp = max_ts;
            seg->max_timestamp_offset = seg->w_max_timestamp_offset = base + last_delta;
        }
        expect = base + last_delta + 1;
        seg->next_offset = expect;
        pos += (int64_t)length + RN_BATCH_LOG_OVERHEAD;
    }
    return true;
}

/* Reads [pos, pos + need) of the file into the buffer window. 0, 1 past the end, or -errno. */
typedef struct window {
    int fd;
    int64_t file_len;
    uint8_t *buf;
    int64_t pos;
    size_t len;
} window_t;

static int window_get(window_t *w, int64_t pos, size_t need, const uint8_t **p)
{
    if (need > RECOVERY_BUF_LEN || pos > w->file_len || (int64_t)need > w->file_len - pos)
        return 1;
    if (pos < w->pos || pos + (int64_t)need > w->pos + (int64_t)w->len) {
        size_t want = RECOVERY_BUF_LEN;
        if ((int64_t)want > w->file_len - pos)
            want = (size_t)(w->file_len - pos);
        size_t got = 0;
        while (got < want) {
            ssize_t r = pread(w->fd, w->buf + got, want - got, (off_t)(pos + (int64_t)got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return -errno;
            if (r == 0)
                break;
            got += (size_t)r;
        }
        w->pos = pos;
        w->len = got;
        if (got < need)
            return 1;
    }
    *p = w->buf + (pos - w->pos);
    return 0;
}

/* CRC-32C of [pos + 21, pos + len) in window-sized pieces, so a batch larger than the buffer
 * needs no allocation of a size the file chose. */
static int batch_crc(window_t *w, int64_t pos, size_t len, uint32_t *crc)
{
    uint32_t c = 0;
    int64_t at = pos + RN_BATCH_CRC_START, end = pos + (int64_t)len;
    while (at < end) {
        size_t piece = end - at > RECOVERY_BUF_LEN ? RECOVERY_BUF_LEN : (size_t)(end - at);
        const uint8_t *p;
        int rc = window_get(w, at, piece, &p);
        if (rc != 0)
            return rc;
        c = rn_crc32c(c, p, piece);
        at += (int64_t)piece;
    }
    *crc = c;
    return 0;
}

/* Scans `seg` from its start, rebuilding its (writable, emptied) indexes. Returns 0 with
 * *valid_end at the first byte that is not part of a good batch, or a negative errno when the
 * file cannot be read. `min_offset`: the first offset this segment may hold. */
static int scan_segment(rn_log_t *log, rn_segment_t *seg, int fd, uint8_t *buf, int64_t min_offset,
                        recovery_stats_t *st, int64_t *valid_end)
{
    window_t w = { .fd = fd, .file_len = seg->size, .buf = buf, .pos = 0, .len = 0 };
    int64_t pos = 0, expect = min_offset > seg->base_offset ? min_offset : seg->base_offset;
    rn_index_reset(&seg->index);
    rn_index_reset(&seg->timeindex);
    seg->changed = true;
    seg->bytes_since_index = 0;
    seg->w_max_timestamp = -1;
    seg->w_max_timestamp_offset = -1;
    seg->indexed_max_timestamp = -1;
    seg->next_offset = seg->base_offset;
    for (;;) {
        const uint8_t *p;
        rn_batch_header_t h;
        int rc = window_get(&w, pos, RN_BATCH_HEADER_LEN, &p);
        if (rc < 0)
            return rc;
        if (rc > 0)
            break; /* fewer than a header's bytes left: a torn tail (or the clean end) */
        if (rn_batch_parse_header(p, RN_BATCH_HEADER_LEN, &h) != RN_DECODE_OK)
            break;
        size_t len = rn_batch_size(&h);
        if ((int64_t)len > seg->size - pos || h.last_offset_delta < 0 || h.base_offset < expect ||
            h.base_offset > INT64_MAX - h.last_offset_delta ||
            h.base_offset + h.last_offset_delta - seg->base_offset > INT32_MAX ||
            pos + (int64_t)len > INT32_MAX)
            break;
        bool ok;
        if ((rc = window_get(&w, pos, len, &p)) < 0)
            return rc;
        if (rc == 0) {
            ok = rn_batch_crc_ok(p, len);
        } else {
            uint32_t crc;
            if ((rc = batch_crc(&w, pos, len, &crc)) < 0)
                return rc;
            ok = rc == 0 && crc == h.crc;
        }
        if (!ok)
            break;
        int64_t last = h.base_offset + h.last_offset_delta;
        rn_segment_index_batch(seg, pos, len, h.base_offset, last, h.max_timestamp,
                               log->cfg.index_interval_bytes);
        seg->next_offset = last + 1;
        expect = last + 1;
        pos += (int64_t)len;
        st->batches++;
        st->bytes += (int64_t)len;
    }
    seg->max_timestamp = seg->w_max_timestamp;
    seg->max_timestamp_offset = seg->w_max_timestamp_offset;
    *valid_end = pos;
    return 0;
}

/* Recovers `seg` in place: scan, truncate the bad tail, make the result durable. */
static int recover_segment(rn_log_t *log, rn_segment_t *seg, uint8_t *buf, int64_t min_offset,
                           recovery_stats_t *st, bool *truncated)
{
    int64_t valid_end;
    int fd = rn_segment_pin(seg);
    if (fd < 0)
        return fd;
    int err = scan_segment(log, seg, fd, buf, min_offset, st, &valid_end);
    if (err == 0) {
        st->segments++;
        *truncated = valid_end < seg->size;
    }
    if (err == 0 && *truncated) {
        if (ftruncate(fd, (off_t)valid_end) != 0) {
            err = -errno;
        } else {
            st->truncated_bytes += seg->size - valid_end;
            seg->size = valid_end;
        }
    }
    /* The recovery point moves to the end once this returns: what it vouches for is on disk. */
    if (err == 0 && fdatasync(fd) != 0)
        err = -errno;
    rn_segment_unpin(seg);
    return err;
}

/* Reopens a trusted segment whose indexes are wrong, with fresh writable ones, and rebuilds
 * them. The .log itself is checked as in recovery. */
static int rebuild_segment(rn_log_t *log, rn_segment_t **segp, bool active, uint8_t **buf,
                           int64_t min_offset, recovery_stats_t *st, bool *truncated)
{
    rn_segment_t *old = *segp, *seg;
    int err =
        rn_segment_open(log->dir, old->base_offset, (size_t)log->cfg.max_index_bytes, true, &seg);
    if (err != 0)
        return err;
    rn_segment_unref(old);
    *segp = seg;
    if (*buf == NULL && (*buf = malloc(RECOVERY_BUF_LEN)) == NULL)
        return -ENOMEM;
    if ((err = recover_segment(log, seg, *buf, min_offset, st, truncated)) != 0)
        return err;
    if (!active && !*truncated) {
        rn_segment_seal(seg);
        seg->index_synced = rn_segment_sync_indexes(seg) == 0;
    }
    return 0;
}

static bool listed(const int64_t *v, size_t n, int64_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

int rn_log_load(rn_log_t *log, int64_t recovery_point, bool clean)
{
    int64_t *bases, *rescan;
    size_t n, nrescan;
    /* First what a cleaner left: unfinished output goes, committed swaps are completed. */
    int err = rn_log_finish_swaps(log->dir, &rescan, &nrescan);
    if (err != 0)
        return err;
    if ((err = list_segments(log->dir, &bases, &n)) != 0) {
        free(rescan);
        return err;
    }
    size_t max_index = (size_t)log->cfg.max_index_bytes;

    if (n == 0) {
        int64_t start = atomic_load_explicit(&log->log_start, memory_order_relaxed);
        rn_segment_t *seg;
        free(bases);
        free(rescan);
        if ((err = rn_segment_create(log->dir, start > 0 ? start : 0, max_index, &seg)) != 0)
            return err;
        rn_log_push_segment(log, seg);
        log->leo = seg->base_offset;
        atomic_store_explicit(&log->dir_dirty, true, memory_order_relaxed);
        rn_log(RN_LOG_INFO, "log", "%s: new log at offset %" PRId64, log->dir, seg->base_offset);
        return 0;
    }

    /* Segments before `first_scanned` are trusted; the rest are scanned (all of them when the
     * recovery point is unknown or below the first segment). */
    size_t first_scanned = n;
    if (!clean) {
        first_scanned = 0;
        for (size_t i = 1; i < n && recovery_point > 0; i++)
            if (bases[i] <= recovery_point)
                first_scanned = i;
    }

    recovery_stats_t st = { 0 };
    uint8_t *buf = NULL;
    bool truncated = false, rebuilt = false;
    size_t i;
    for (i = 0; i < n && !truncated; i++) {
        bool active = i == n - 1;
        /* A segment a swap just completed has no indexes yet: rebuilt like a recovery's. */
        bool scan = i >= first_scanned || listed(rescan, nrescan, bases[i]);
        int64_t min_offset = log->nsegs > 0 ? log->segs[log->nsegs - 1]->next_offset : 0;
        rn_segment_t *seg;
        if ((err = rn_segment_open(log->dir, bases[i], max_index, active || scan, &seg)) != 0)
            goto fail;
        if (scan) {
            if (buf == NULL && (buf = malloc(RECOVERY_BUF_LEN)) == NULL) {
                rn_segment_unref(seg);
                err = -ENOMEM;
                goto fail;
            }
            if ((err = recover_segment(log, seg, buf, min_offset, &st, &truncated)) != 0) {
                rn_segment_unref(seg);
                goto fail;
            }
            if (!active && !truncated) {
                rn_segment_seal(seg);
                seg->index_synced = rn_segment_sync_indexes(seg) == 0;
            }
        } else if (!(active ? load_active(seg) : load_sealed(seg, bases[i + 1]))) {
            rn_log(RN_LOG_WARN, "log",
                   "%s: segment %020" PRId64 " does not match its index; rebuilding", log->dir,
                   bases[i]);
            rebuilt = true;
            if ((err = rebuild_segment(log, &seg, active, &buf, min_offset, &st, &truncated)) !=
                0) {
                rn_segment_unref(seg);
                goto fail;
            }
        }
        rn_log_push_segment(log, seg);
    }

    /* A truncated segment ends the log: whatever follows it is unreachable. */
    for (size_t j = i; j < n; j++) {
        if ((err = rn_segment_unlink(log->dir, bases[j])) != 0)
            goto fail;
        st.deleted_segments++;
    }
    /* A truncated segment was opened writable (scanned or rebuilt) and left unsealed. */
    rn_segment_t *active = log->segs[log->nsegs - 1];
    free(buf);
    buf = NULL;
    /* segment.ms counts from the first append; across a restart the best guess at hand without
     * another read is the file's last write, which errs towards rolling later, never earlier. */
    struct stat sb;
    int fd = active->size > 0 ? rn_segment_pin(active) : -1;
    if (fd >= 0) {
        if (fstat(fd, &sb) == 0)
            active->first_append_ms =
                (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        rn_segment_unpin(active);
    }
    log->leo = active->next_offset;
    if (st.deleted_segments > 0)
        atomic_store_explicit(&log->dir_dirty, true, memory_order_relaxed);

    if (clean && !rebuilt && nrescan == 0) {
        rn_log(RN_LOG_INFO, "log",
               "%s: no recovery needed (clean shutdown); %zu segments, log end offset %" PRId64,
               log->dir, n, log->leo);
    } else {
        char deleted[64] = "";
        if (st.deleted_segments > 0)
            snprintf(deleted, sizeof(deleted), "; deleted %d later segments", st.deleted_segments);
        rn_log(RN_LOG_INFO, "log",
               "recovered %s: scanned %" PRId64 " batches (%" PRId64
               " bytes) in %d segments, truncated %" PRId64 " bytes at offset %" PRId64 "%s",
               log->dir, st.batches, st.bytes, st.segments, st.truncated_bytes, log->leo, deleted);
    }
    free(bases);
    free(rescan);
    return 0;
fail:
    free(buf);
    free(bases);
    free(rescan);
    rn_log(RN_LOG_ERROR, "log", "%s: cannot load the log: %s", log->dir, strerror(-err));
    return err;
}
