/* SPDX-License-Identifier: Apache-2.0 */
/* The record iterator (src/records/iter.c): round trips through the builder, batches from the
 * independent test builder with every codec, LogAppendTime, the gaps compaction leaves, and
 * damaged input: every truncation, bad CRCs, lengths that run past their record. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "records/records.h"
#include "util/err.h"

static rn_bytes_t B(const char *s)
{
    return (rn_bytes_t){ .ptr = (const uint8_t *)s, .len = strlen(s) };
}

static bool bytes_eq(rn_bytes_t b, const char *s)
{
    return b.ptr != NULL && b.len == strlen(s) && memcmp(b.ptr, s, b.len) == 0;
}

static uint8_t *built_batch(size_t *len)
{
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    cr_assert_eq(rn_batch_builder_add(&b, 100, B("k0"), B("v0")), 0);
    cr_assert_eq(rn_batch_builder_add(&b, 90, B("k1"), (rn_bytes_t){ 0 }), 0);
    cr_assert_eq(rn_batch_builder_add(&b, 130, (rn_bytes_t){ 0 }, B("")), 0);
    uint8_t *batch;
    cr_assert_eq(rn_batch_builder_finish(&b, &batch, len, NULL), 0);
    return batch;
}

Test(iter, walks_what_the_builder_wrote)
{
    size_t len;
    uint8_t *batch = built_batch(&len);
    cr_assert_eq(rn_records_assign_offsets(batch, len, 40, 0), 43);
    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 20);
    cr_assert_eq(rn_record_iter_start(&it, batch, len), 0);
    rn_record_t rec;
    cr_assert_eq(rn_record_iter_next(&it, &rec), 1);
    cr_assert_eq(rec.offset, 40);
    cr_assert_eq(rec.timestamp, 100);
    cr_assert(bytes_eq(rec.key, "k0"));
    cr_assert(bytes_eq(rec.value, "v0"));
    cr_assert_eq(rec.nheaders, 0);
    cr_assert_eq(rn_record_iter_next(&it, &rec), 1);
    cr_assert_eq(rec.offset, 41);
    cr_assert_eq(rec.timestamp, 90);
    cr_assert(bytes_eq(rec.key, "k1"));
    cr_assert_null(rec.value.ptr, "a null value is a tombstone");
    cr_assert_eq(rn_record_iter_next(&it, &rec), 1);
    cr_assert_eq(rec.offset, 42);
    cr_assert_null(rec.key.ptr);
    cr_assert_not_null(rec.value.ptr, "an empty value is not null");
    cr_assert_eq(rec.value.len, 0);
    cr_assert_eq(rn_record_iter_next(&it, &rec), 0);
    cr_assert_eq(rn_record_iter_next(&it, &rec), 0, "the end stays the end");
    rn_record_iter_deinit(&it);
    free(batch);
}

static void walk_spec(const tb_spec_t *s)
{
    tb_buf_t b = tb_batch(s);
    rn_record_iter_t it;
    rn_record_iter_init(&it, 16 << 20);
    cr_assert_eq(rn_record_iter_start(&it, b.p, b.len), 0, "codec %d: %s", s->codec, it.err);
    rn_record_t rec;
    int n = 0, rc;
    while ((rc = rn_record_iter_next(&it, &rec)) == 1) {
        char key[32];
        snprintf(key, sizeof key, "key-%d", n);
        cr_assert(bytes_eq(rec.key, key), "codec %d record %d", s->codec, n);
        cr_assert_eq(rec.value.len, (size_t)s->value_len);
        cr_assert_eq(rec.offset, n);
        cr_assert_eq(rec.timestamp, s->base_timestamp + n);
        cr_assert_eq(rec.nheaders, s->nheaders);
        n++;
    }
    cr_assert_eq(rc, 0, "codec %d: %s", s->codec, it.err);
    cr_assert_eq(n, s->nrecords);
    rn_record_iter_deinit(&it);
    free(b.p);
}

Test(iter, walks_every_codec)
{
    for (int codec = RN_CODEC_NONE; codec <= RN_CODEC_ZSTD; codec++) {
        tb_spec_t s = {
            .nrecords = 50, .codec = codec, .value_len = 100, .nheaders = 2, .base_timestamp = 1000
        };
        walk_spec(&s);
    }
    tb_spec_t xerial = {
        .nrecords = 500, .codec = RN_CODEC_SNAPPY, .xerial = true, .value_len = 200
    };
    walk_spec(&xerial);
}

Test(iter, grows_its_buffer_for_large_batches_and_reuses_it)
{
    /* 4 MiB of zeros compress to little: the buffer starts small and has to grow. */
    tb_spec_t s = { .nrecords = 64, .codec = RN_CODEC_ZSTD, .value_len = 65536, .value_fill = 1 };
    walk_spec(&s);
    tb_buf_t big = tb_batch(&s);
    tb_spec_t small = { .nrecords = 2, .codec = RN_CODEC_LZ4, .value_len = 10 };
    tb_buf_t little = tb_batch(&small);
    rn_record_iter_t it;
    rn_record_iter_init(&it, 8 << 20);
    rn_record_t rec;
    cr_assert_eq(rn_record_iter_start(&it, big.p, big.len), 0);
    size_t cap = it.scratch_cap;
    cr_assert_geq(cap, (size_t)64 * 65536);
    cr_assert_eq(rn_record_iter_start(&it, little.p, little.len), 0);
    cr_assert_eq(it.scratch_cap, cap, "the buffer is kept between batches");
    cr_assert_eq(rn_record_iter_next(&it, &rec), 1);
    rn_record_iter_deinit(&it);
    free(big.p);
    free(little.p);
}

Test(iter, refuses_a_batch_that_inflates_past_the_bound)
{
    tb_spec_t s = { .nrecords = 16, .codec = RN_CODEC_GZIP, .value_len = 65536, .value_fill = 7 };
    tb_buf_t b = tb_batch(&s);
    rn_record_iter_t it;
    rn_record_iter_init(&it, 100000);
    cr_assert_eq(rn_record_iter_start(&it, b.p, b.len), RN_EPROTO);
    cr_assert_str_eq(it.err, "decompressed records exceed the bound");
    rn_record_t rec;
    cr_assert_eq(rn_record_iter_next(&it, &rec), RN_EPROTO);
    rn_record_iter_deinit(&it);
    free(b.p);
}

Test(iter, log_append_time_records_carry_the_max_timestamp)
{
    tb_spec_t s = { .nrecords = 3, .value_len = 4, .base_timestamp = 10 };
    tb_buf_t b = tb_batch(&s);
    rn_records_set_log_append_time(b.p, b.len, 777);
    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 20);
    cr_assert_eq(rn_record_iter_start(&it, b.p, b.len), 0);
    rn_record_t rec;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(rn_record_iter_next(&it, &rec), 1);
        cr_assert_eq(rec.timestamp, 777);
    }
    rn_record_iter_deinit(&it);
    free(b.p);
}

Test(iter, accepts_the_offset_gaps_compaction_leaves)
{
    /* Records 0 and 2 of three kept: offset deltas 0 and 2, records_count 2, last delta 2. */
    tb_spec_t s = { .nrecords = 2, .value_len = 1, .offset_delta_skew = 1 };
    tb_buf_t recs = tb_records(&s);
    tb_buf_t b = tb_wrap(0, 3, 0, 1, recs.p, recs.len);
    b.p[57 + 3] = 2; /* records_count 2 (low byte), last_offset_delta stays 2 */
    tb_fix_crc(b.p, b.len);
    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 20);
    cr_assert_eq(rn_record_iter_start(&it, b.p, b.len), 0, "%s", it.err);
    rn_record_t rec;
    cr_assert_eq(rn_record_iter_next(&it, &rec), 1);
    cr_assert_eq(rec.offset, 0);
    cr_assert_eq(rn_record_iter_next(&it, &rec), 1);
    cr_assert_eq(rec.offset, 2);
    cr_assert_eq(rn_record_iter_next(&it, &rec), 0);
    rn_record_iter_deinit(&it);
    free(recs.p);
    free(b.p);
}

Test(iter, every_truncation_is_refused)
{
    size_t len;
    uint8_t *batch = built_batch(&len);
    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 20);
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, batch, n);
        cr_assert_eq(rn_record_iter_start(&it, copy, n), RN_EPROTO, "%zu-byte prefix", n);
        free(copy);
    }
    cr_assert_eq(rn_record_iter_start(&it, batch, len), 0);
    rn_record_iter_deinit(&it);
    free(batch);
}

Test(iter, bad_crc_is_refused)
{
    size_t len;
    uint8_t *batch = built_batch(&len);
    batch[len - 2] ^= 0x40;
    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 20);
    cr_assert_eq(rn_record_iter_start(&it, batch, len), RN_EPROTO);
    cr_assert_str_eq(it.err, "batch CRC-32C does not match");
    rn_record_iter_deinit(&it);
    free(batch);
}

/* A batch whose single record is `body` (already length-prefixed), with a correct CRC. */
static tb_buf_t one_record(const uint8_t *rec, size_t len, int32_t count)
{
    return tb_wrap(0, count, 0, 0, rec, len);
}

static void assert_record_refused(const uint8_t *rec, size_t len, const char *why)
{
    tb_buf_t b = one_record(rec, len, 1);
    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 20);
    rn_record_t out;
    int rc = rn_record_iter_start(&it, b.p, b.len);
    if (rc == 0)
        rc = rn_record_iter_next(&it, &out);
    if (rc == 1)
        rc = rn_record_iter_next(&it, &out);
    cr_assert_eq(rc, RN_EPROTO, "accepted: expected %s", why);
    cr_assert_str_eq(it.err, why);
    rn_record_iter_deinit(&it);
    free(b.p);
}

Test(iter, hostile_lengths_are_refused)
{
    /* key length 100 inside a 7-byte record */
    static const uint8_t key_past[] = { 0x0e, 0x00, 0x00, 0x00, 0xc8, 0x01, 0x01, 0x00 };
    assert_record_refused(key_past, sizeof key_past, "record key");
    /* value length -2 */
    static const uint8_t neg_value[] = { 0x0c, 0x00, 0x00, 0x00, 0x01, 0x03, 0x00 };
    assert_record_refused(neg_value, sizeof neg_value, "record value");
    /* record length 20 in a batch with 7 record bytes */
    static const uint8_t len_past[] = { 0x28, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00 };
    assert_record_refused(len_past, sizeof len_past, "record runs past the batch");
    /* a timestampDelta varint that does not end within 10 bytes */
    static const uint8_t long_varint[] = { 0x16, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff,
                                           0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    assert_record_refused(long_varint, sizeof long_varint, "record timestampDelta");
    /* a header count of 1000 */
    static const uint8_t headers[] = { 0x0e, 0x00, 0x00, 0x00, 0x01, 0x01, 0xd0, 0x0f };
    assert_record_refused(headers, sizeof headers, "record headers count");
    /* a byte left over inside the record */
    static const uint8_t extra[] = { 0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00 };
    assert_record_refused(extra, sizeof extra, "record length does not match its fields");
    /* offsetDelta 5 with last_offset_delta 0 */
    static const uint8_t delta[] = { 0x0c, 0x00, 0x00, 0x0a, 0x01, 0x01, 0x00 };
    assert_record_refused(delta, sizeof delta, "record offsetDelta is outside the batch");
}

Test(iter, a_count_beyond_the_bytes_and_trailing_bytes_are_refused)
{
    static const uint8_t rec[] = { 0x0c, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00 };
    tb_buf_t b = one_record(rec, sizeof rec, 2);
    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 20);
    cr_assert_eq(rn_record_iter_start(&it, b.p, b.len), RN_EPROTO);
    cr_assert_str_eq(it.err, "records_count is more than the batch can hold");
    free(b.p);
    /* One record declared, the same record twice present. */
    uint8_t twice[sizeof rec * 2];
    memcpy(twice, rec, sizeof rec);
    memcpy(twice + sizeof rec, rec, sizeof rec);
    b = one_record(twice, sizeof twice, 1);
    cr_assert_eq(rn_record_iter_start(&it, b.p, b.len), 0);
    rn_record_t out;
    cr_assert_eq(rn_record_iter_next(&it, &out), 1);
    cr_assert_eq(rn_record_iter_next(&it, &out), RN_EPROTO);
    cr_assert_str_eq(it.err, "bytes after the last of records_count records");
    rn_record_iter_deinit(&it);
    free(b.p);
}
