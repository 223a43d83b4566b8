/* SPDX-License-Identifier: Apache-2.0 */
/* Batch v2 headers: parsing, every truncation, the CRC over bytes 21..end, offsets assigned
 * in place without touching the CRC (CLIENTS.md rule 8), and LogAppendTime. */
#include <criterion/criterion.h>

#include "builder.h"
#include "records/records.h"

static tb_buf_t three_record_batch(void)
{
    tb_spec_t s = {
        .nrecords = 3, .value_len = 10, .nheaders = 1, .base_timestamp = 1700000000000
    };
    return tb_batch(&s);
}

static int64_t be64_at(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

Test(batch, parses_every_header_field)
{
    tb_buf_t b = three_record_batch();
    rn_batch_header_t h;
    cr_assert_eq(rn_batch_parse_header(b.p, b.len, &h), RN_DECODE_OK);
    cr_assert_eq(h.base_offset, 0);
    cr_assert_eq(rn_batch_size(&h), b.len);
    cr_assert_eq(h.partition_leader_epoch, -1);
    cr_assert_eq(h.magic, 2);
    cr_assert_eq(h.crc, rn_crc32c(0, b.p + 21, b.len - 21));
    cr_assert_eq(h.attributes, 0);
    cr_assert_eq(h.last_offset_delta, 2);
    cr_assert_eq(h.base_timestamp, 1700000000000);
    cr_assert_eq(h.max_timestamp, 1700000000002);
    cr_assert_eq(h.producer_id, -1);
    cr_assert_eq(h.producer_epoch, -1);
    cr_assert_eq(h.base_sequence, -1);
    cr_assert_eq(h.records_count, 3);
    free(b.p);
}

Test(batch, every_header_truncation_is_partial)
{
    tb_buf_t b = three_record_batch();
    rn_batch_header_t h;
    for (size_t n = 0; n < RN_BATCH_HEADER_LEN; n++)
        cr_assert_eq(rn_batch_parse_header(b.p, n, &h), RN_DECODE_PARTIAL, "%zu-byte prefix", n);
    /* The header alone parses: the caller compares rn_batch_size() with what it has. */
    cr_assert_eq(rn_batch_parse_header(b.p, RN_BATCH_HEADER_LEN, &h), RN_DECODE_OK);
    cr_assert_gt(rn_batch_size(&h), RN_BATCH_HEADER_LEN);
    free(b.p);
}

Test(batch, wrong_magic_is_invalid_once_visible)
{
    tb_buf_t b = three_record_batch();
    rn_batch_header_t h;
    for (int magic = 0; magic < 256; magic++) {
        if (magic == 2)
            continue;
        b.p[16] = (uint8_t)magic;
        cr_assert_eq(rn_batch_parse_header(b.p, b.len, &h), RN_DECODE_INVALID, "magic %d", magic);
        cr_assert_eq(rn_batch_parse_header(b.p, 17, &h), RN_DECODE_INVALID, "magic %d", magic);
        cr_assert_eq(rn_batch_parse_header(b.p, 16, &h), RN_DECODE_PARTIAL, "magic %d", magic);
    }
    free(b.p);
}

Test(batch, batch_length_below_the_header_is_invalid)
{
    tb_buf_t b = three_record_batch();
    rn_batch_header_t h;
    static const int32_t bad[] = { 48, 0, -1, INT32_MIN };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t v = (uint32_t)bad[i];
        b.p[8] = (uint8_t)(v >> 24), b.p[9] = (uint8_t)(v >> 16), b.p[10] = (uint8_t)(v >> 8),
        b.p[11] = (uint8_t)v;
        cr_assert_eq(rn_batch_parse_header(b.p, b.len, &h), RN_DECODE_INVALID, "batch_length %d",
                     bad[i]);
        cr_assert_eq(rn_batch_parse_header(b.p, 12, &h), RN_DECODE_INVALID, "batch_length %d",
                     bad[i]);
    }
    b.p[8] = 0, b.p[9] = 0, b.p[10] = 0, b.p[11] = 49;
    cr_assert_eq(rn_batch_parse_header(b.p, b.len, &h), RN_DECODE_OK,
                 "an empty records section parses");
    free(b.p);
}

Test(batch, crc_ok_on_a_built_batch)
{
    tb_buf_t b = three_record_batch();
    cr_assert(rn_batch_crc_ok(b.p, b.len));
    cr_assert_not(rn_batch_crc_ok(b.p, 20), "too short to hold a CRC");
    free(b.p);
}

Test(batch, crc_catches_a_flipped_bit_anywhere_it_covers)
{
    tb_buf_t b = three_record_batch();
    for (size_t pos = 17; pos < b.len; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            b.p[pos] ^= (uint8_t)(1u << bit);
            cr_assert_not(rn_batch_crc_ok(b.p, b.len), "bit %d of byte %zu", bit, pos);
            b.p[pos] ^= (uint8_t)(1u << bit);
        }
    }
    cr_assert(rn_batch_crc_ok(b.p, b.len));
    free(b.p);
}

Test(batch, crc_does_not_cover_offset_length_or_epoch)
{
    tb_buf_t b = three_record_batch();
    for (size_t pos = 0; pos < 16; pos++)
        if (pos < 8 || pos >= 12)
            b.p[pos] ^= 0xa5;
    cr_assert(rn_batch_crc_ok(b.p, b.len));
    free(b.p);
}

/* Three batches of 3, 1 and 5 records, concatenated as a Produce blob may carry them. */
static tb_buf_t three_batches(size_t pos[3])
{
    tb_buf_t blob = { 0 };
    static const int counts[3] = { 3, 1, 5 };
    for (int i = 0; i < 3; i++) {
        tb_spec_t s = { .nrecords = counts[i],
                        .value_len = 4,
                        .base_timestamp = 1000 * (i + 1),
                        .codec = i == 2 ? RN_CODEC_ZSTD : RN_CODEC_NONE };
        tb_buf_t b = tb_batch(&s);
        pos[i] = blob.len;
        tb_put(&blob, b.p, b.len);
        free(b.p);
    }
    return blob;
}

Test(batch, assign_offsets_sets_consecutive_base_offsets_and_keeps_crcs)
{
    size_t pos[3];
    tb_buf_t blob = three_batches(pos);
    cr_assert_eq(rn_records_assign_offsets(blob.p, blob.len, 1000, 7), 1009);
    static const int64_t want[3] = { 1000, 1003, 1004 };
    for (int i = 0; i < 3; i++) {
        rn_batch_header_t h;
        cr_assert_eq(rn_batch_parse_header(blob.p + pos[i], blob.len - pos[i], &h), RN_DECODE_OK);
        cr_assert_eq(h.base_offset, want[i], "batch %d", i);
        cr_assert_eq(h.partition_leader_epoch, 7, "batch %d", i);
        cr_assert(rn_batch_crc_ok(blob.p + pos[i], rn_batch_size(&h)), "batch %d", i);
    }
    free(blob.p);
}

Test(batch, assign_offsets_on_nothing_returns_the_first_offset)
{
    uint8_t none[1] = { 0 };
    cr_assert_eq(rn_records_assign_offsets(none, 0, 42, 0), 42);
}

Test(batch, log_append_time_sets_the_bit_and_max_timestamp_and_a_valid_crc)
{
    size_t pos[3];
    tb_buf_t blob = three_batches(pos);
    rn_records_set_log_append_time(blob.p, blob.len, 1234567890123);
    for (int i = 0; i < 3; i++) {
        rn_batch_header_t h;
        cr_assert_eq(rn_batch_parse_header(blob.p + pos[i], blob.len - pos[i], &h), RN_DECODE_OK);
        cr_assert(h.attributes & RN_BATCH_ATTR_LOG_APPEND_TIME, "batch %d", i);
        cr_assert_eq(h.attributes & RN_BATCH_ATTR_CODEC_MASK,
                     i == 2 ? RN_CODEC_ZSTD : RN_CODEC_NONE);
        cr_assert_eq(h.max_timestamp, 1234567890123, "batch %d", i);
        cr_assert_eq(be64_at(blob.p + pos[i] + 35), 1234567890123);
        cr_assert_eq(h.base_timestamp, 1000 * (i + 1), "base_timestamp is left alone");
        cr_assert(rn_batch_crc_ok(blob.p + pos[i], rn_batch_size(&h)), "batch %d", i);
    }
    free(blob.p);
}
