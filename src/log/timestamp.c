/* SPDX-License-Identifier: Apache-2.0 */
/* ListOffsets by timestamp and max timestamp (KIP-734). The time index narrows the search to a
 * few batches; the answer is then exact to the record, as in Kafka: the first batch whose
 * max_timestamp reaches the target is read whole and its records are walked (decompressed first
 * when the batch is compressed, up to RN_LOG_MAX_DECOMPRESSED). LogAppendTime batches need no
 * walk: every record carries the batch's max_timestamp. When a compressed batch cannot be
 * walked (over the bound, or a codec that fails), the answer falls back to the batch: its first
 * offset at or after the start and its max_timestamp, which Kafka's message format v1 gave too. */
#include "log/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Walks `count` records (DefaultRecord: length varint, attributes int8, timestampDelta varlong,
 * offsetDelta varint, ...); UNWALKABLE when they do not parse. */
static rn_log_find_t walk_records(const uint8_t *p, size_t len, int32_t count, int64_t base_offset,
                                  int64_t base_ts, int64_t min_offset, int64_t timestamp,
                                  int64_t *offset, int64_t *record_ts)
{
    rn_reader_t r;
    rn_reader_init(&r, p, len);
    for (int32_t i = 0; i < count; i++) {
        int32_t rec_len = rn_read_varint(&r, "record length");
        if (!rn_reader_ok(&r) || rec_len < 0 || (size_t)rec_len > rn_reader_left(&r))
            return RN_LOG_FIND_UNWALKABLE;
        rn_reader_t rec = rn_reader_split(&r, (size_t)rec_len, "record");
        (void)rn_read_int8(&rec, "attributes");
        int64_t ts_delta = rn_read_varlong(&rec, "timestampDelta");
        int32_t off_delta = rn_read_varint(&rec, "offsetDelta");
        if (!rn_reader_ok(&rec))
            return RN_LOG_FIND_UNWALKABLE;
        /* Wrapping arithmetic: the deltas were only checked for form, not for range. */
        int64_t ts = (int64_t)((uint64_t)base_ts + (uint64_t)ts_delta);
        int64_t off = (int64_t)((uint64_t)base_offset + (uint64_t)(int64_t)off_delta);
        if (off >= min_offset && ts >= timestamp) {
            *offset = off;
            *record_ts = ts;
            return RN_LOG_FIND_FOUND;
        }
    }
    return RN_LOG_FIND_NONE;
}

rn_log_find_t rn_log_find_record(const uint8_t *batch, size_t len, int64_t min_offset,
                                 int64_t timestamp, int64_t *offset, int64_t *record_ts)
{
    rn_batch_header_t h;
    if (rn_batch_parse_header(batch, len, &h) != RN_DECODE_OK || rn_batch_size(&h) != len)
        return RN_LOG_FIND_UNWALKABLE;
    int64_t last = h.base_offset + h.last_offset_delta;
    if (h.attributes & RN_BATCH_ATTR_LOG_APPEND_TIME) {
        if (h.max_timestamp < timestamp || min_offset > last)
            return RN_LOG_FIND_NONE;
        *offset = min_offset > h.base_offset ? min_offset : h.base_offset;
        *record_ts = h.max_timestamp;
        return RN_LOG_FIND_FOUND;
    }
    const uint8_t *records = batch + RN_BATCH_HEADER_LEN;
    size_t records_len = len - RN_BATCH_HEADER_LEN;
    int codec = h.attributes & RN_BATCH_ATTR_CODEC_MASK;
    if (codec == RN_CODEC_NONE)
        return walk_records(records, records_len, h.records_count, h.base_offset, h.base_timestamp,
                            min_offset, timestamp, offset, record_ts);

    /* rn_codec_decompress does not say whether it ran out of room or met bad data, so grow the
     * buffer up to the bound before giving up. */
    size_t cap =
        records_len < (RN_LOG_MAX_DECOMPRESSED / 8) ? records_len * 8 : RN_LOG_MAX_DECOMPRESSED;
    if (cap < 65536)
        cap = 65536;
    for (;;) {
        uint8_t *buf = malloc(cap);
        if (buf == NULL)
            return RN_LOG_FIND_NOMEM;
        size_t out_len;
        if (rn_codec_decompress(codec, records, records_len, buf, cap, &out_len) == 0) {
            rn_log_find_t rc =
                walk_records(buf, out_len, h.records_count, h.base_offset, h.base_timestamp,
                             min_offset, timestamp, offset, record_ts);
            free(buf);
            return rc;
        }
        free(buf);
        if (cap >= RN_LOG_MAX_DECOMPRESSED)
            return RN_LOG_FIND_UNWALKABLE;
        cap = cap * 4 > RN_LOG_MAX_DECOMPRESSED ? RN_LOG_MAX_DECOMPRESSED : cap * 4;
    }
}

/* Reads the batch at pos whole and looks inside it; the batch-level answer when it cannot.
 * Returns 0 with the answer set, RN_LOG_NOT_FOUND, or a negative errno. */
static int answer_in_batch(rn_segment_t *seg, int64_t pos, size_t len, int64_t min_offset,
                           int64_t timestamp, int64_t fallback_offset, int64_t batch_max_ts,
                           int64_t *offset, int64_t *record_ts)
{
    uint8_t *batch = malloc(len);
    if (batch == NULL)
        return -ENOMEM;
    int rc = rn_segment_read(seg, pos, batch, len);
    rn_log_find_t found = RN_LOG_FIND_NONE;
    if (rc == 0)
        found = rn_log_find_record(batch, len, min_offset, timestamp, offset, record_ts);
    free(batch);
    if (rc != 0)
        return rc;
    switch (found) {
    case RN_LOG_FIND_FOUND:
        return 0;
    case RN_LOG_FIND_NONE:
        return RN_LOG_NOT_FOUND;
    case RN_LOG_FIND_UNWALKABLE:
        *offset = fallback_offset;
        *record_ts = batch_max_ts;
        return 0;
    case RN_LOG_FIND_NOMEM:
        break;
    }
    return -ENOMEM;
}

int rn_log_offset_for_timestamp(rn_log_t *log, int64_t ts, int64_t *offset, int64_t *timestamp)
{
    *offset = -1;
    *timestamp = -1;
    int64_t after_base = INT64_MIN; /* segments already searched have bases <= this */
    for (;;) {
        /* Kafka: the first segment whose largest timestamp reaches ts, from the log start on. */
        pthread_mutex_lock(&log->segs_lock);
        int64_t start = atomic_load_explicit(&log->log_start, memory_order_relaxed);
        rn_segment_t *seg = NULL;
        int64_t end = 0;
        for (size_t i = 0; i < log->nsegs; i++) {
            rn_segment_t *s = log->segs[i];
            bool below_start = i + 1 < log->nsegs && log->segs[i + 1]->base_offset <= start;
            if (s->base_offset > after_base && !below_start && s->max_timestamp >= ts) {
                seg = s;
                end = s->size;
                rn_segment_ref(seg);
                break;
            }
        }
        pthread_mutex_unlock(&log->segs_lock);
        if (seg == NULL)
            return 0;

        int64_t from = start > seg->base_offset ? start : seg->base_offset;
        int64_t rel = rn_index_lookup_time(&seg->timeindex, ts);
        if (rel >= 0 && seg->base_offset + rel > from)
            from = seg->base_offset + rel;
        int64_t rel_from = from - seg->base_offset;
        int64_t pos =
            rn_index_lookup_offset(&seg->index,
                                   rel_from > UINT32_MAX ? UINT32_MAX : (uint32_t)rel_from);
        rn_scan_t scan;
        int rc = rn_scan_open(&scan, seg, end);
        bool opened = rc == 0;
        while (opened) {
            int64_t batch_pos, base, last;
            size_t batch_len;
            const uint8_t *h;
            if ((rc = rn_segment_find_batch(&scan, pos, from, &batch_pos, &batch_len, &base,
                                            &last)) != 0)
                break;
            if ((rc = rn_scan_peek(&scan, batch_pos, 43, &h)) != 0) {
                rc = rc < 0 ? rc : -EIO;
                break;
            }
            int64_t max_ts = (int64_t)rn_load_be64(h + 35);
            if (max_ts >= ts) {
                rc = answer_in_batch(seg, batch_pos, batch_len, from, ts, from > base ? from : base,
                                     max_ts, offset, timestamp);
                if (rc != RN_LOG_NOT_FOUND)
                    break;
            }
            pos = batch_pos + (int64_t)batch_len;
        }
        if (opened)
            rn_scan_close(&scan);
        after_base = seg->base_offset;
        rn_segment_unref(seg);
        if (rc != RN_LOG_NOT_FOUND)
            return rc;
        /* The segment ended without a match (records below the log start): go on. */
    }
}

int rn_log_max_timestamp(rn_log_t *log, int64_t *offset, int64_t *timestamp)
{
    *offset = -1;
    *timestamp = -1;
    pthread_mutex_lock(&log->segs_lock);
    rn_segment_t *seg = NULL;
    for (size_t i = 0; i < log->nsegs; i++)
        if (log->segs[i]->max_timestamp > (seg ? seg->max_timestamp : -1))
            seg = log->segs[i]; /* strictly greater: the earliest segment wins a tie */
    int64_t max_ts = -1, max_offset = -1, end = 0;
    if (seg != NULL) {
        rn_segment_ref(seg);
        max_ts = seg->max_timestamp;
        max_offset = seg->max_timestamp_offset;
        end = seg->size;
    }
    pthread_mutex_unlock(&log->segs_lock);
    if (seg == NULL)
        return 0;

    /* The segment knows the batch (its last offset); KIP-734 wants the record: the first in that
     * batch with the max timestamp (earlier batches all have smaller ones). */
    rn_scan_t scan;
    int64_t batch_pos, base, last;
    size_t batch_len;
    uint32_t pos = rn_index_lookup_offset(&seg->index, (uint32_t)(max_offset - seg->base_offset));
    int rc = rn_scan_open(&scan, seg, end);
    if (rc != 0) {
        rn_segment_unref(seg);
        return rc;
    }
    rc = rn_segment_find_batch(&scan, pos, max_offset, &batch_pos, &batch_len, &base, &last);
    rn_scan_close(&scan);
    if (rc == 0) {
        rc = answer_in_batch(seg, batch_pos, batch_len, base, max_ts, max_offset, max_ts, offset,
                             timestamp);
        if (rc == RN_LOG_NOT_FOUND) { /* the header promised a record it does not have: answer as
                                         Kafka 3.7 did */
            *offset = max_offset;
            *timestamp = max_ts;
            rc = 0;
        }
    } else if (rc == RN_LOG_NOT_FOUND) {
        rc = -EIO;
    }
    rn_segment_unref(seg);
    return rc;
}

/* Kafka's segment.largestTimestamp: the largest record timestamp, or the file's modification
 * time when no batch had one. */
int64_t rn_segment_largest_timestamp(rn_segment_t *seg)
{
    if (seg->max_timestamp >= 0)
        return seg->max_timestamp;
    struct stat st;
    int fd = rn_segment_pin(seg);
    if (fd < 0)
        return INT64_MAX; /* unknown: keep it */
    int rc = fstat(fd, &st);
    rn_segment_unpin(seg);
    if (rc != 0)
        return INT64_MAX;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}
