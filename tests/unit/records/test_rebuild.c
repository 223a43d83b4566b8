/* SPDX-License-Identifier: Apache-2.0 */
/* The cleaner's batch rewrites (src/records/rebuild.c): a subset of a producer's batch, from
 * every codec, walked back with rn_record_iter (offsets, keys, values, headers, timestamps,
 * negative deltas under a delete horizon, LogAppendTime), the header fields Kafka keeps
 * (last_offset_delta above all), the inputs it refuses, and the header-only batch that keeps a
 * producer's state when all of its records went. Originals come from the independent test
 * builder (builder.h). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "records/records.h"
#include "util/err.h"

#define NRECORDS 6
#define BASE_OFFSET 500
#define LEADER_EPOCH 7
#define PRODUCER_ID 42
#define PRODUCER_EPOCH 3
#define BASE_SEQUENCE 10
#define BASE_TS 1000

static const int codecs[] = { RN_CODEC_NONE, RN_CODEC_GZIP, RN_CODEC_SNAPPY, RN_CODEC_LZ4,
                              RN_CODEC_ZSTD };
#define NCODECS (sizeof codecs / sizeof codecs[0])

static void put_be(uint8_t *p, uint64_t v, int nbytes)
{
    for (int i = nbytes - 1; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
}

/* A stored producer batch: NRECORDS records with keys, values and 2 headers each, timestamps
 * BASE_TS + i, offsets BASE_OFFSET + i, `extra` attribute bits on top of the codec, and
 * max_timestamp `max_ts` when LogAppendTime. */
static tb_buf_t original(int codec, int16_t extra, int64_t max_ts)
{
    tb_spec_t spec = { .nrecords = NRECORDS,
                       .codec = codec,
                       .xerial = true,
                       .value_len = 20,
                       .nheaders = 2,
                       .base_timestamp = BASE_TS };
    tb_buf_t b = tb_batch(&spec);
    put_be(b.p + 0, BASE_OFFSET, 8);
    put_be(b.p + 12, LEADER_EPOCH, 4);
    put_be(b.p + 21, (uint16_t)(codec | extra), 2);
    if (extra & RN_BATCH_ATTR_LOG_APPEND_TIME)
        put_be(b.p + 35, (uint64_t)max_ts, 8);
    put_be(b.p + 43, PRODUCER_ID, 8);
    put_be(b.p + 51, PRODUCER_EPOCH, 2);
    put_be(b.p + 53, BASE_SEQUENCE, 4);
    tb_fix_crc(b.p, b.len);
    return b;
}

/* Walks `batch` into `recs` (at most `cap`): returns how many, after checking the batch ends
 * cleanly. The records point into `it`'s scratch or into `batch`. */
static size_t walk(rn_record_iter_t *it, const uint8_t *batch, size_t len, rn_record_t *recs,
                   size_t cap)
{
    cr_assert_eq(rn_record_iter_start(it, batch, len), 0, "%s", it->err ? it->err : "");
    size_t n = 0;
    int rc;
    while ((rc = rn_record_iter_next(it, &recs[n])) == 1) {
        cr_assert_lt(n, cap);
        n++;
    }
    cr_assert_eq(rc, 0, "%s", it->err ? it->err : "");
    return n;
}

static bool same_bytes(rn_bytes_t a, rn_bytes_t b)
{
    if ((a.ptr == NULL) != (b.ptr == NULL) || a.len != b.len)
        return false;
    return a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Copies record bytes out of an iterator's scratch so they survive the next start. */
typedef struct saved {
    int64_t offset, timestamp;
    uint8_t key[32], value[32], headers[64];
    size_t key_len, value_len, headers_len;
    int32_t nheaders;
} saved_t;

static saved_t save(const rn_record_t *r)
{
    saved_t s = { .offset = r->offset,
                  .timestamp = r->timestamp,
                  .key_len = r->key.len,
                  .value_len = r->value.len,
                  .headers_len = r->headers.len,
                  .nheaders = r->nheaders };
    cr_assert(r->key.ptr && r->value.ptr && r->key.len <= 32 && r->value.len <= 32 &&
              r->headers.len <= 64);
    memcpy(s.key, r->key.ptr, r->key.len);
    memcpy(s.value, r->value.ptr, r->value.len);
    memcpy(s.headers, r->headers.ptr, r->headers.len);
    return s;
}

static void assert_same_record(const rn_record_t *got, const saved_t *want)
{
    cr_assert_eq(got->offset, want->offset);
    cr_assert_eq(got->timestamp, want->timestamp, "offset %lld: timestamp %lld, want %lld",
                 (long long)got->offset, (long long)got->timestamp, (long long)want->timestamp);
    cr_assert(same_bytes(got->key, (rn_bytes_t){ want->key, want->key_len }));
    cr_assert(same_bytes(got->value, (rn_bytes_t){ want->value, want->value_len }));
    cr_assert_eq(got->nheaders, want->nheaders);
    cr_assert(same_bytes(got->headers, (rn_bytes_t){ want->headers, want->headers_len }));
}

/* Rebuilds `orig` keeping the records at `idx[0..n)` with `horizon`; checks the walk gives them
 * back unchanged, and returns the new batch and its header. */
static uint8_t *rebuild_subset(const tb_buf_t *orig, const int *idx, size_t n, int64_t horizon,
                               size_t *len, rn_batch_header_t *nh)
{
    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 20);
    rn_record_t all[NRECORDS], keep[NRECORDS];
    saved_t want[NRECORDS];
    size_t nall = walk(&it, orig->p, orig->len, all, NRECORDS);
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt((size_t)idx[i], nall);
        keep[i] = all[idx[i]];
        want[i] = save(&all[idx[i]]);
    }
    uint8_t *out = NULL;
    cr_assert_eq(rn_records_rebuild_batch(&it.header, keep, n, horizon, &out, len), 0);
    cr_assert_eq(rn_batch_parse_header(out, *len, nh), RN_DECODE_OK);
    cr_assert_eq(rn_batch_size(nh), *len);
    cr_assert(rn_batch_crc_ok(out, *len));
    rn_record_t got[NRECORDS];
    cr_assert_eq(walk(&it, out, *len, got, NRECORDS), n);
    for (size_t i = 0; i < n; i++)
        assert_same_record(&got[i], &want[i]);
    rn_record_iter_deinit(&it);
    return out;
}

static void assert_kept_identity(const rn_batch_header_t *nh, int codec, int16_t extra)
{
    cr_assert_eq(nh->base_offset, BASE_OFFSET);
    cr_assert_eq(nh->partition_leader_epoch, LEADER_EPOCH);
    cr_assert_eq(nh->producer_id, PRODUCER_ID);
    cr_assert_eq(nh->producer_epoch, PRODUCER_EPOCH);
    cr_assert_eq(nh->base_sequence, BASE_SEQUENCE);
    cr_assert_eq(nh->last_offset_delta, NRECORDS - 1, "the original last offset stays");
    cr_assert_eq(nh->attributes & ~RN_BATCH_ATTR_DELETE_HORIZON, codec | extra);
}

Test(rebuild, keeps_a_subset_in_every_codec)
{
    static const int idx[] = { 0, 2, 3 }; /* the last records go: last_offset_delta must stay */
    for (size_t c = 0; c < NCODECS; c++) {
        tb_buf_t orig = original(codecs[c], RN_BATCH_ATTR_TRANSACTIONAL, 0);
        size_t len;
        rn_batch_header_t nh;
        uint8_t *out = rebuild_subset(&orig, idx, 3, -1, &len, &nh);
        assert_kept_identity(&nh, codecs[c], RN_BATCH_ATTR_TRANSACTIONAL);
        cr_assert_eq(nh.records_count, 3);
        cr_assert_eq(nh.base_timestamp, BASE_TS, "the first kept record's");
        cr_assert_eq(nh.max_timestamp, BASE_TS + 3);
        cr_assert_eq(rn_batch_delete_horizon(&nh), -1);
        free(out);
        free(orig.p);
    }
}

Test(rebuild, first_record_gone_moves_base_timestamp_not_base_offset)
{
    static const int idx[] = { 2, 5 };
    tb_buf_t orig = original(RN_CODEC_LZ4, 0, 0);
    size_t len;
    rn_batch_header_t nh;
    uint8_t *out = rebuild_subset(&orig, idx, 2, -1, &len, &nh);
    assert_kept_identity(&nh, RN_CODEC_LZ4, 0);
    cr_assert_eq(nh.base_timestamp, BASE_TS + 2);
    cr_assert_eq(nh.max_timestamp, BASE_TS + 5);
    free(out);
    free(orig.p);
}

Test(rebuild, delete_horizon_gives_negative_deltas)
{
    static const int idx[] = { 1, 4 };
    for (size_t c = 0; c < NCODECS; c++) {
        tb_buf_t orig = original(codecs[c], 0, 0);
        size_t len;
        rn_batch_header_t nh;
        int64_t horizon = BASE_TS + 86400000;
        /* rebuild_subset checks the timestamps come back as they were: base + negative delta. */
        uint8_t *out = rebuild_subset(&orig, idx, 2, horizon, &len, &nh);
        assert_kept_identity(&nh, codecs[c], 0);
        cr_assert(nh.attributes & RN_BATCH_ATTR_DELETE_HORIZON);
        cr_assert_eq(nh.base_timestamp, horizon);
        cr_assert_eq(rn_batch_delete_horizon(&nh), horizon);
        cr_assert_eq(nh.max_timestamp, BASE_TS + 4);

        /* Cleaned again without a new horizon: the one it has stays. */
        static const int first[] = { 0 };
        tb_buf_t again = { .p = out, .len = len };
        size_t len2;
        rn_batch_header_t nh2;
        uint8_t *out2 = rebuild_subset(&again, first, 1, -1, &len2, &nh2);
        cr_assert_eq(rn_batch_delete_horizon(&nh2), horizon);
        cr_assert_eq(nh2.records_count, 1);
        cr_assert_eq(nh2.last_offset_delta, NRECORDS - 1);
        cr_assert_eq(nh2.max_timestamp, BASE_TS + 1);
        free(out2);
        free(out);
        free(orig.p);
    }
}

Test(rebuild, log_append_time_keeps_the_batch_max_timestamp)
{
    static const int idx[] = { 1, 2 };
    int64_t append_time = 777777;
    tb_buf_t orig = original(RN_CODEC_ZSTD, RN_BATCH_ATTR_LOG_APPEND_TIME, append_time);
    size_t len;
    rn_batch_header_t nh;
    uint8_t *out = rebuild_subset(&orig, idx, 2, -1, &len, &nh);
    assert_kept_identity(&nh, RN_CODEC_ZSTD, RN_BATCH_ATTR_LOG_APPEND_TIME);
    cr_assert_eq(nh.max_timestamp, append_time);
    /* Kafka's iterator, like ours, gives every record the append time, and its builder takes
     * the first one as the base. */
    cr_assert_eq(nh.base_timestamp, append_time);
    free(out);
    free(orig.p);
}

Test(rebuild, control_batch_keeps_its_bits)
{
    uint8_t *marker;
    size_t mlen;
    cr_assert_eq(rn_records_build_marker(RN_MARKER_COMMIT, 42, 3, 5, 1234, &marker, &mlen, NULL),
                 0);
    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 20);
    rn_record_t rec;
    cr_assert_eq(rn_record_iter_start(&it, marker, mlen), 0);
    cr_assert_eq(rn_record_iter_next(&it, &rec), 1);
    uint8_t *out;
    size_t len;
    cr_assert_eq(rn_records_rebuild_batch(&it.header, &rec, 1, 5000, &out, &len), 0);
    cr_assert_eq(rn_records_marker_type(out, len, NULL), RN_MARKER_COMMIT);
    rn_batch_header_t nh;
    cr_assert_eq(rn_batch_parse_header(out, len, &nh), RN_DECODE_OK);
    cr_assert_eq(nh.attributes, RN_BATCH_ATTR_TRANSACTIONAL | RN_BATCH_ATTR_CONTROL |
                                    RN_BATCH_ATTR_DELETE_HORIZON);
    cr_assert_eq(rn_record_iter_start(&it, out, len), 0);
    cr_assert_eq(rn_record_iter_next(&it, &rec), 1);
    cr_assert_eq(rec.timestamp, 1234);
    free(out);
    free(marker);
    rn_record_iter_deinit(&it);
}

Test(rebuild, all_records_kept_is_a_valid_produce_batch)
{
    static const int idx[] = { 0, 1, 2, 3, 4, 5 };
    for (size_t c = 0; c < NCODECS; c++) {
        tb_buf_t orig = original(codecs[c], 0, 0);
        size_t len;
        rn_batch_header_t nh;
        uint8_t *out = rebuild_subset(&orig, idx, NRECORDS, -1, &len, &nh);
        rn_records_summary_t sum;
        const char *why = NULL;
        cr_assert_eq(rn_records_validate(out, len, 1 << 20, &sum, &why), RN_KERR_NONE, "%s",
                     why ? why : "");
        cr_assert_eq(sum.nrecords, NRECORDS);
        cr_assert_eq(sum.max_timestamp, BASE_TS + NRECORDS - 1);
        if (codecs[c] == RN_CODEC_NONE)
            cr_assert_eq(len, orig.len, "the same records encode to the same bytes");
        if (codecs[c] == RN_CODEC_NONE)
            cr_assert_arr_eq(out + RN_BATCH_HEADER_LEN, orig.p + RN_BATCH_HEADER_LEN,
                             len - RN_BATCH_HEADER_LEN);
        free(out);
        free(orig.p);
    }
}

Test(rebuild, refuses_what_it_cannot_write)
{
    tb_buf_t orig = original(RN_CODEC_NONE, 0, 0);
    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 20);
    rn_record_t all[NRECORDS];
    cr_assert_eq(walk(&it, orig.p, orig.len, all, NRECORDS), NRECORDS);
    uint8_t *out = NULL;
    size_t len;
    cr_assert_eq(rn_records_rebuild_batch(&it.header, all, 0, -1, &out, &len), RN_EINVAL,
                 "no record");
    rn_record_t two[2] = { all[3], all[1] };
    cr_assert_eq(rn_records_rebuild_batch(&it.header, two, 2, -1, &out, &len), RN_EINVAL,
                 "offsets going back");
    two[0] = all[1];
    two[1] = all[1];
    cr_assert_eq(rn_records_rebuild_batch(&it.header, two, 2, -1, &out, &len), RN_EINVAL,
                 "an offset twice");
    rn_record_t r = all[0];
    r.offset = BASE_OFFSET + NRECORDS; /* past last_offset_delta */
    cr_assert_eq(rn_records_rebuild_batch(&it.header, &r, 1, -1, &out, &len), RN_EINVAL);
    r.offset = BASE_OFFSET - 1;
    cr_assert_eq(rn_records_rebuild_batch(&it.header, &r, 1, -1, &out, &len), RN_EINVAL);
    r = all[0];
    r.timestamp = INT64_MIN; /* INT64_MIN - horizon does not fit */
    cr_assert_eq(rn_records_rebuild_batch(&it.header, &r, 1, 5000, &out, &len), RN_EINVAL);
    rn_batch_header_t bad = it.header;
    bad.attributes = 5; /* codec bits 5 */
    cr_assert_eq(rn_records_rebuild_batch(&bad, all, 1, -1, &out, &len), RN_EINVAL);
    cr_assert_null(out);
    rn_record_iter_deinit(&it);
    free(orig.p);
}

Test(rebuild, empty_batch_keeps_the_producer_state)
{
    tb_buf_t orig =
        original(RN_CODEC_GZIP, RN_BATCH_ATTR_TRANSACTIONAL | RN_BATCH_ATTR_LOG_APPEND_TIME, 4242);
    put_be(orig.p + 21,
           RN_CODEC_GZIP | RN_BATCH_ATTR_TRANSACTIONAL | RN_BATCH_ATTR_LOG_APPEND_TIME |
               RN_BATCH_ATTR_DELETE_HORIZON,
           2);
    tb_fix_crc(orig.p, orig.len);
    rn_batch_header_t h;
    cr_assert_eq(rn_batch_parse_header(orig.p, orig.len, &h), RN_DECODE_OK);

    uint8_t e[RN_BATCH_HEADER_LEN];
    rn_records_empty_batch(&h, e);
    rn_batch_header_t eh;
    cr_assert_eq(rn_batch_parse_header(e, sizeof e, &eh), RN_DECODE_OK);
    cr_assert_eq(eh.batch_length, 49);
    cr_assert_eq(rn_batch_size(&eh), RN_BATCH_HEADER_LEN);
    cr_assert(rn_batch_crc_ok(e, sizeof e));
    cr_assert_eq(eh.base_offset, BASE_OFFSET);
    cr_assert_eq(eh.last_offset_delta, NRECORDS - 1);
    cr_assert_eq(eh.partition_leader_epoch, LEADER_EPOCH);
    cr_assert_eq(eh.producer_id, PRODUCER_ID);
    cr_assert_eq(eh.producer_epoch, PRODUCER_EPOCH);
    cr_assert_eq(eh.base_sequence, BASE_SEQUENCE);
    cr_assert_eq(eh.attributes, RN_BATCH_ATTR_TRANSACTIONAL | RN_BATCH_ATTR_LOG_APPEND_TIME,
                 "codec none, no horizon: %#x", eh.attributes);
    cr_assert_eq(eh.base_timestamp, -1, "Kafka's writeEmptyHeader writes NO_TIMESTAMP");
    cr_assert_eq(eh.max_timestamp, 4242);
    cr_assert_eq(eh.records_count, 0);

    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 20);
    rn_record_t rec;
    cr_assert_eq(rn_record_iter_start(&it, e, sizeof e), 0);
    cr_assert_eq(rn_record_iter_next(&it, &rec), 0);
    cr_assert_eq(rn_records_assign_offsets(e, sizeof e, BASE_OFFSET, LEADER_EPOCH),
                 BASE_OFFSET + NRECORDS, "the offsets it covers are still taken");
    rn_record_iter_deinit(&it);
    free(orig.p);
}

Test(rebuild, iterator_walks_a_horizon_batch_from_elsewhere)
{
    /* A batch another broker cleaned: bit 6 set by hand, base_timestamp the horizon. */
    tb_spec_t spec = { .nrecords = 3, .value_len = 4, .base_timestamp = 90000 };
    tb_buf_t b = tb_batch(&spec);
    put_be(b.p + 21, RN_BATCH_ATTR_DELETE_HORIZON, 2);
    tb_fix_crc(b.p, b.len);
    rn_batch_header_t h;
    cr_assert_eq(rn_batch_parse_header(b.p, b.len, &h), RN_DECODE_OK);
    cr_assert_eq(rn_batch_delete_horizon(&h), 90000);
    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 20);
    rn_record_t recs[3];
    cr_assert_eq(walk(&it, b.p, b.len, recs, 3), 3);
    cr_assert_eq(recs[2].timestamp, 90002);
    rn_records_summary_t sum;
    cr_assert_eq(rn_records_validate(b.p, b.len, 1 << 20, &sum, NULL), RN_KERR_NONE);
    rn_record_iter_deinit(&it);
    free(b.p);
}
