/* SPDX-License-Identifier: Apache-2.0 */
/* A segment: `<base>.log` with its `.index` and `.timeindex`, named by the 20-digit base offset
 * as Kafka names them. A segment is shared: the log's array holds one reference and every file
 * range a fetch is sending holds another. The .log's descriptor is in the cache of open files
 * (files.c) and pinned while used. Retention unlinks the files at once, but a segment about to
 * lose its files is kept open until the last unref, so a range being sent stays readable. */
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

#include "util/logging.h"
#include "util/xmalloc.h"

int rn_segment_path(char *buf, size_t cap, const char *dir, int64_t base_offset, const char *suffix)
{
    return rn_segment_path_ext(buf, cap, dir, base_offset, suffix, "");
}

static rn_segment_t *segment_alloc(int64_t base_offset)
{
    rn_segment_t *seg = rn_xcalloc(1, sizeof(*seg));
    atomic_init(&seg->refs, 1);
    seg->base_offset = base_offset;
    seg->fd = -1;
    seg->next_offset = base_offset;
    seg->max_timestamp = -1;
    seg->max_timestamp_offset = -1;
    seg->w_max_timestamp = -1;
    seg->w_max_timestamp_offset = -1;
    seg->indexed_max_timestamp = -1;
    seg->first_append_ms = -1;
    return seg;
}

int rn_segment_path_ext(char *buf, size_t cap, const char *dir, int64_t base_offset,
                        const char *suffix, const char *ext)
{
    int n = snprintf(buf, cap, "%s/%020" PRId64 "%s%s", dir, base_offset, suffix, ext);
    return n >= 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

/* Opens (or creates) the three files. The .log's descriptor is left in the cache, unpinned.
 * `ext` is "" or a cleaner suffix: a cleaned segment is created under `.cleaned` and stays
 * pinned by the cleaner until its files have their final names, which log_path holds. */
static int open_files(rn_segment_t *seg, const char *dir, size_t max_index_bytes, bool create,
                      bool writable, const char *ext)
{
    char path[PATH_MAX];
    int err;
    int flags = (create ? RN_INDEX_CREATE : 0) | (writable ? RN_INDEX_WRITABLE : 0);

    if ((err = rn_segment_path_ext(path, sizeof(path), dir, seg->base_offset, ".log", ext)) != 0)
        return err;
    if (ext[0] == '\0') {
        seg->log_path = rn_xstrdup(path);
    } else {
        char final[PATH_MAX];
        if ((err = rn_segment_path(final, sizeof(final), dir, seg->base_offset, ".log")) != 0)
            return err;
        seg->log_path = rn_xstrdup(final);
        /* Opened by its present name; pinned, the cache never reopens it by the final one. */
        int fd = rn_log_open_file(path, O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0644);
        if (fd < 0)
            return fd;
        rn_segment_adopt_log(seg, fd);
    }
    int fd = seg->fd >= 0 ? seg->fd : rn_segment_open_log(seg, create ? O_CREAT | O_TRUNC : 0);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = -errno;
        goto fail_unpin;
    }
    seg->size = st.st_size;

    if ((err = rn_segment_path_ext(path, sizeof(path), dir, seg->base_offset, ".index", ext)) != 0)
        goto fail_unpin;
    if ((err = rn_index_open(&seg->index, path, RN_OFFSET_INDEX_ENTRY_LEN, max_index_bytes,
                             flags)) != 0)
        goto fail_unpin;
    if ((err = rn_segment_path_ext(path, sizeof(path), dir, seg->base_offset, ".timeindex", ext)) !=
        0)
        goto fail_close_index;
    if ((err = rn_index_open(&seg->timeindex, path, RN_TIME_INDEX_ENTRY_LEN, max_index_bytes,
                             flags)) != 0)
        goto fail_close_index;
    if (ext[0] == '\0')
        rn_segment_unpin(seg);
    return 0;
fail_close_index:
    rn_index_close(&seg->index);
fail_unpin:
    rn_segment_unpin(seg);
    return err;
}

/* Frees a segment that never became shared (its files failed to open). */
static void segment_discard(rn_segment_t *seg)
{
    rn_segment_close_log(seg);
    free(seg->log_path);
    free(seg);
}

int rn_segment_create(const char *dir, int64_t base_offset, size_t max_index_bytes,
                      rn_segment_t **out)
{
    rn_segment_t *seg = segment_alloc(base_offset);
    int err = open_files(seg, dir, max_index_bytes, true, true, "");
    if (err != 0) {
        segment_discard(seg);
        return err;
    }
    seg->changed = true;
    *out = seg;
    return 0;
}

int rn_segment_create_cleaned(const char *dir, int64_t base_offset, size_t max_index_bytes,
                              rn_segment_t **out)
{
    rn_segment_t *seg = segment_alloc(base_offset);
    int err = open_files(seg, dir, max_index_bytes, true, true, RN_CLEANED_SUFFIX);
    if (err != 0) {
        segment_discard(seg);
        return err;
    }
    seg->changed = true;
    *out = seg;
    return 0;
}

void rn_segment_unlink_cleaned(const char *dir, int64_t base_offset)
{
    static const char *const suffixes[] = { ".log", ".index", ".timeindex", ".txnindex" };
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char path[PATH_MAX];
        if (rn_segment_path_ext(path, sizeof(path), dir, base_offset, suffixes[i],
                                RN_CLEANED_SUFFIX) == 0)
            (void)unlink(path);
    }
}

int rn_segment_open(const char *dir, int64_t base_offset, size_t max_index_bytes, bool writable,
                    rn_segment_t **out)
{
    rn_segment_t *seg = segment_alloc(base_offset);
    int err = open_files(seg, dir, max_index_bytes, false, writable, "");
    if (err != 0) {
        segment_discard(seg);
        return err;
    }
    seg->index_synced = !writable; /* trusted as found; recovery fsyncs what it rebuilds */
    *out = seg;
    return 0;
}

void rn_segment_ref(rn_segment_t *seg)
{
    /* Relaxed: taking a reference orders nothing; the caller already reaches seg safely. */
    atomic_fetch_add_explicit(&seg->refs, 1, memory_order_relaxed);
}

void rn_segment_unref(rn_segment_t *seg)
{
    if (seg == NULL)
        return;
    /* Acq_rel: every holder's reads of the files happen before the last holder closes them. */
    if (atomic_fetch_sub_explicit(&seg->refs, 1, memory_order_acq_rel) != 1)
        return;
    rn_index_close(&seg->timeindex);
    rn_index_close(&seg->index);
    rn_segment_close_log(seg);
    free(seg->log_path);
    free(seg);
}

void rn_segment_release(void *owner)
{
    rn_segment_unpin(owner);
    rn_segment_unref(owner);
}

int rn_segment_unlink(const char *dir, int64_t base_offset)
{
    /* A segment's producer snapshot (named by its base offset) and aborted-transaction index
     * belong to it and go with it, as in Kafka. */
    static const char *const suffixes[] = { ".log", ".index", ".timeindex", ".txnindex",
                                            ".snapshot" };
    int first_err = 0;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char path[PATH_MAX];
        int err = rn_segment_path(path, sizeof(path), dir, base_offset, suffixes[i]);
        if (err == 0 && unlink(path) != 0 && errno != ENOENT)
            err = -errno;
        if (err != 0 && first_err == 0)
            first_err = err;
    }
    return first_err;
}

static int write_at(rn_segment_t *seg, int fd, const uint8_t *p, size_t len)
{
    int64_t pos = seg->size;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, p + done, len - done, (off_t)(pos + (int64_t)done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* A write that made no progress and set no errno (n == 0) is a full device. */
            int err = n < 0 ? -errno : -ENOSPC;
            /* Readers never see past seg->size, but the next append and recovery would: cut the
             * partial batch off. If even that fails, recovery truncates it at the next start. */
            if (ftruncate(fd, (off_t)pos) != 0)
                rn_log(RN_LOG_ERROR, "log",
                       "segment %020" PRId64 ": cannot cut back a failed write: %s",
                       seg->base_offset, strerror(errno));
            return err;
        }
        done += (size_t)n; /* a short write is progress: continue from there */
    }
    return 0;
}

int rn_segment_write(rn_segment_t *seg, const uint8_t *p, size_t len)
{
    int fd = rn_segment_pin(seg);
    if (fd < 0)
        return fd;
    int err = write_at(seg, fd, p, len);
    rn_segment_unpin(seg);
    return err;
}

void rn_segment_index_batch(rn_segment_t *seg, int64_t pos, size_t batch_len, int64_t base_offset,
                            int64_t last_offset, int64_t max_timestamp,
                            int32_t index_interval_bytes)
{
    /* Kafka's rule (LogSegment.append): an entry once more than index.interval.bytes of .log
     * have gone by since the previous one, pointing at the batch that crosses the line. The time
     * index gets the largest timestamp so far at the same moments, when it has grown, and once
     * more when the segment is sealed, so its last entry is the segment's largest timestamp. */
    if (max_timestamp > seg->w_max_timestamp) {
        seg->w_max_timestamp = max_timestamp;
        seg->w_max_timestamp_offset = last_offset;
    }
    if (seg->bytes_since_index > index_interval_bytes) {
        (void)rn_index_append_offset(&seg->index, (uint32_t)(base_offset - seg->base_offset),
                                     (uint32_t)pos);
        if (seg->w_max_timestamp > seg->indexed_max_timestamp &&
            rn_index_append_time(&seg->timeindex, seg->w_max_timestamp,
                                 (uint32_t)(seg->w_max_timestamp_offset - seg->base_offset)) == 0)
            seg->indexed_max_timestamp = seg->w_max_timestamp;
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += (int64_t)batch_len;
}

void rn_segment_seal(rn_segment_t *seg)
{
    if (seg->w_max_timestamp > seg->indexed_max_timestamp &&
        rn_index_append_time(&seg->timeindex, seg->w_max_timestamp,
                             (uint32_t)(seg->w_max_timestamp_offset - seg->base_offset)) == 0)
        seg->indexed_max_timestamp = seg->w_max_timestamp;
    int err;
    if ((err = rn_index_seal(&seg->index)) != 0 || (err = rn_index_seal(&seg->timeindex)) != 0)
        rn_log(RN_LOG_WARN, "log", "segment %020" PRId64 ": cannot trim its index: %s",
               seg->base_offset, strerror(-err));
}

int rn_segment_read(rn_segment_t *seg, int64_t pos, uint8_t *buf, size_t len)
{
    int fd = rn_segment_pin(seg);
    if (fd < 0)
        return fd;
    int err = 0;
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, (off_t)(pos + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            err = r < 0 ? -errno : -EIO;
            break;
        }
        got += (size_t)r;
    }
    rn_segment_unpin(seg);
    return err;
}

int rn_segment_sync_indexes(rn_segment_t *seg)
{
    int err;
    if ((err = rn_index_sync(&seg->index)) != 0 || (err = rn_index_sync(&seg->timeindex)) != 0)
        return err;
    rn_index_forget_path(&seg->index);
    rn_index_forget_path(&seg->timeindex);
    return 0;
}

int rn_scan_open(rn_scan_t *s, rn_segment_t *seg, int64_t end)
{
    int fd = rn_segment_pin(seg);
    if (fd < 0)
        return fd;
    s->seg = seg;
    s->fd = fd;
    s->end = end;
    s->buf_pos = 0;
    s->buf_len = 0;
    return 0;
}

void rn_scan_close(rn_scan_t *s)
{
    rn_segment_unpin(s->seg);
}

int rn_scan_peek(rn_scan_t *s, int64_t pos, size_t n, const uint8_t **p)
{
    if (pos < 0 || n > sizeof(s->buf) || pos > s->end || (int64_t)n > s->end - pos)
        return 1;
    if (pos >= s->buf_pos && pos + (int64_t)n <= s->buf_pos + (int64_t)s->buf_len) {
        *p = s->buf + (pos - s->buf_pos);
        return 0;
    }
    /* Refill from pos: small batches then come out of one read many at a time. */
    size_t want = sizeof(s->buf);
    if ((int64_t)want > s->end - pos)
        want = (size_t)(s->end - pos);
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(s->fd, s->buf + got, want - got, (off_t)(pos + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break; /* the file is shorter than `end` said: only a damaged file does that */
        got += (size_t)r;
    }
    s->buf_pos = pos;
    s->buf_len = got;
    if (got < n)
        return -EIO;
    *p = s->buf;
    return 0;
}

int rn_segment_find_batch(rn_scan_t *s, int64_t pos, int64_t offset, int64_t *batch_pos,
                          size_t *batch_len, int64_t *base, int64_t *last)
{
    for (;;) {
        const uint8_t *h;
        int rc = rn_scan_peek(s, pos, RN_LOG_PEEK_LEN, &h);
        if (rc != 0)
            return rc < 0 ? rc : (pos == s->end ? RN_LOG_NOT_FOUND : -EIO);
        int64_t b = (int64_t)rn_load_be64(h);
        int32_t length = (int32_t)rn_load_be32(h + 8);
        int32_t last_delta = (int32_t)rn_load_be32(h + 23);
        /* These bytes were validated before they were written; a header that is wrong now means
         * the file was damaged underneath us. Stop rather than loop or read past the end. */
        if (length < RN_BATCH_HEADER_LEN - RN_BATCH_LOG_OVERHEAD || last_delta < 0 ||
            length > s->end - pos - RN_BATCH_LOG_OVERHEAD)
            return -EIO;
        size_t len = (size_t)length + RN_BATCH_LOG_OVERHEAD;
        if (b + last_delta >= offset) {
            *batch_pos = pos;
            *batch_len = len;
            *base = b;
            *last = b + last_delta;
            return 0;
        }
        pos += (int64_t)len;
    }
}
