/* SPDX-License-Identifier: Apache-2.0 */
/* The batch builder (src/records/build.c): hand-computed record bytes, the header it writes,
 * and that validation (what a Produce must pass) accepts its output with the same summary. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/records.h"
#include "util/err.h"

static rn_bytes_t B(const char *s)
{
    return (rn_bytes_t){ .ptr = (const uint8_t *)s, .len = strlen(s) };
}

static const rn_bytes_t NUL = { .ptr = NULL, .len = 0 };

static int64_t be64_at(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

static int32_t be32_at(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]);
}

Test(build, one_record_has_the_hand_computed_bytes)
{
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    cr_assert_eq(rn_batch_builder_add(&b, 1700000000000, B("k"), B("v")), 0);
    uint8_t *batch;
    size_t len;
    rn_records_summary_t sum;
    cr_assert_eq(rn_batch_builder_finish(&b, &batch, &len, &sum), 0);
    /* length 8 (zig-zag 0x10), attributes 0, timestampDelta 0, offsetDelta 0, key length 1
     * (0x02) "k", value length 1 (0x02) "v", no headers. */
    static const uint8_t record[] = { 0x10, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x00 };
    cr_assert_eq(len, RN_BATCH_HEADER_LEN + sizeof record);
    cr_assert_arr_eq(batch + RN_BATCH_HEADER_LEN, record, sizeof record);
    rn_batch_header_t h;
    cr_assert_eq(rn_batch_parse_header(batch, len, &h), RN_DECODE_OK);
    cr_assert_eq(h.base_offset, 0);
    cr_assert_eq(rn_batch_size(&h), len);
    cr_assert_eq(h.partition_leader_epoch, -1);
    cr_assert_eq(h.attributes, 0);
    cr_assert_eq(h.last_offset_delta, 0);
    cr_assert_eq(h.base_timestamp, 1700000000000);
    cr_assert_eq(h.max_timestamp, 1700000000000);
    cr_assert_eq(h.producer_id, -1);
    cr_assert_eq(h.producer_epoch, -1);
    cr_assert_eq(h.base_sequence, -1);
    cr_assert_eq(h.records_count, 1);
    cr_assert(rn_batch_crc_ok(batch, len));
    cr_assert_eq(sum.nbatches, 1);
    cr_assert_eq(sum.nrecords, 1);
    cr_assert_eq(sum.max_timestamp, 1700000000000);
    cr_assert_eq(sum.max_timestamp_delta, 0);
    cr_assert_eq(sum.max_batch_size, len);
    free(batch);
    rn_batch_builder_deinit(&b);
}

Test(build, null_value_is_length_minus_one)
{
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    cr_assert_eq(rn_batch_builder_add(&b, 5, B("k"), NUL), 0);
    uint8_t *batch;
    size_t len;
    cr_assert_eq(rn_batch_builder_finish(&b, &batch, &len, NULL), 0);
    static const uint8_t record[] = { 0x0e, 0x00, 0x00, 0x00, 0x02, 'k', 0x01, 0x00 };
    cr_assert_eq(len, RN_BATCH_HEADER_LEN + sizeof record);
    cr_assert_arr_eq(batch + RN_BATCH_HEADER_LEN, record, sizeof record);
    free(batch);
}

Test(build, output_passes_validation_with_the_same_summary)
{
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    char big[300];
    memset(big, 'x', sizeof big);
    cr_assert_eq(rn_batch_builder_add(&b, 1000, B("a"), B("first")), 0);
    cr_assert_eq(rn_batch_builder_add(&b, 1500, (rn_bytes_t){ (const uint8_t *)big, sizeof big },
                                      B("")),
                 0);
    cr_assert_eq(rn_batch_builder_add(&b, 900, NUL, NUL),
                 0); /* earlier than the base: negative delta */
    uint8_t *batch;
    size_t len;
    rn_records_summary_t built, checked;
    cr_assert_eq(rn_batch_builder_finish(&b, &batch, &len, &built), 0);
    const char *why = NULL;
    cr_assert_eq(rn_records_validate(batch, len, 1 << 20, &checked, &why), 0, "%s", why);
    cr_assert_eq(built.nbatches, checked.nbatches);
    cr_assert_eq(built.nrecords, 3);
    cr_assert_eq(built.nrecords, checked.nrecords);
    cr_assert_eq(built.max_timestamp, 1500);
    cr_assert_eq(built.max_timestamp, checked.max_timestamp);
    cr_assert_eq(built.max_timestamp_delta, checked.max_timestamp_delta);
    cr_assert_eq(built.max_batch_size, checked.max_batch_size);
    cr_assert_eq(be64_at(batch + 27), 1000, "base timestamp is the first record's");
    cr_assert_eq(be64_at(batch + 35), 1500);
    cr_assert_eq(be32_at(batch + 23), 2, "last_offset_delta");
    free(batch);
}

Test(build, finish_without_records_is_einval_and_the_builder_is_reusable)
{
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    uint8_t *batch = NULL;
    size_t len = 0;
    cr_assert_eq(rn_batch_builder_finish(&b, &batch, &len, NULL), RN_EINVAL);
    cr_assert_null(batch);
    cr_assert_eq(rn_batch_builder_add(&b, 1, B("k"), B("v")), 0);
    cr_assert_eq(rn_batch_builder_finish(&b, &batch, &len, NULL), 0);
    free(batch);
    /* After finish the builder is empty: a second batch starts from scratch. */
    cr_assert_eq(rn_batch_builder_add(&b, 2, B("k2"), B("v2")), 0);
    cr_assert_eq(rn_batch_builder_finish(&b, &batch, &len, NULL), 0);
    cr_assert_eq(be32_at(batch + 57), 1, "records_count");
    free(batch);
    rn_batch_builder_deinit(&b);
}

Test(build, timestamp_delta_overflow_is_einval_and_leaves_the_builder_unchanged)
{
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    cr_assert_eq(rn_batch_builder_add(&b, INT64_MIN, B("k"), B("v")), 0);
    size_t before = b.len;
    cr_assert_eq(rn_batch_builder_add(&b, INT64_MAX, B("k"), B("v")), RN_EINVAL);
    cr_assert_eq(b.len, before);
    cr_assert_eq(b.count, 1);
    rn_batch_builder_deinit(&b);
}

Test(build, many_records_stay_valid)
{
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    for (int i = 0; i < 1000; i++) {
        char key[16];
        snprintf(key, sizeof key, "key-%d", i);
        cr_assert_eq(rn_batch_builder_add(&b, 1000 + i, B(key), B("value")), 0);
    }
    uint8_t *batch;
    size_t len;
    rn_records_summary_t sum;
    cr_assert_eq(rn_batch_builder_finish(&b, &batch, &len, &sum), 0);
    const char *why = NULL;
    rn_records_summary_t checked;
    cr_assert_eq(rn_records_validate(batch, len, 1 << 20, &checked, &why), 0, "%s", why);
    cr_assert_eq(checked.nrecords, 1000);
    cr_assert_eq(sum.max_timestamp_delta, 999);
    free(batch);
}

/* KIP-98's commit marker, byte for byte: a 61-byte header (control and transactional, the
 * producer's id and epoch, no sequence) and one 17-byte record whose key is (version 0, type 1)
 * and whose value is (version 0, coordinator epoch 5). */
Test(build, commit_marker_layout)
{
    uint8_t *batch;
    size_t len;
    rn_records_summary_t sum;
    cr_assert_eq(rn_records_build_marker(RN_MARKER_COMMIT, 4242, 3, 5, 1700000000000, &batch, &len,
                                         &sum),
                 0);
    cr_assert_eq(len, 78);
    static const uint8_t record[17] = { 0x20, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01,
                                        0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00 };
    cr_assert_arr_eq(batch + RN_BATCH_HEADER_LEN, record, sizeof record);
    rn_batch_header_t h;
    cr_assert_eq(rn_batch_parse_header(batch, len, &h), RN_DECODE_OK);
    cr_assert_eq(h.attributes, RN_BATCH_ATTR_CONTROL | RN_BATCH_ATTR_TRANSACTIONAL);
    cr_assert_eq(h.producer_id, 4242);
    cr_assert_eq(h.producer_epoch, 3);
    cr_assert_eq(h.base_sequence, -1);
    cr_assert_eq(h.records_count, 1);
    cr_assert_eq(h.max_timestamp, 1700000000000);
    cr_assert(rn_batch_crc_ok(batch, len));
    int32_t epoch = 0;
    cr_assert_eq(rn_records_marker_type(batch, len, &epoch), RN_MARKER_COMMIT);
    cr_assert_eq(epoch, 5);
    const char *why = NULL;
    rn_records_summary_t checked;
    cr_assert_eq(rn_records_validate(batch, len, 1 << 20, &checked, &why), 0, "%s", why);
    cr_assert_eq(sum.nrecords, 1);
    free(batch);
}

Test(build, abort_marker_type_and_non_markers)
{
    uint8_t *batch;
    size_t len;
    cr_assert_eq(rn_records_build_marker(RN_MARKER_ABORT, 1, 0, 0, 1, &batch, &len, NULL), 0);
    cr_assert_eq(rn_records_marker_type(batch, len, NULL), RN_MARKER_ABORT);
    cr_assert_eq(rn_records_marker_type(batch, len - 1, NULL), -1, "a cut batch is no marker");
    free(batch);

    /* A data batch, even a transactional one, is not a marker. */
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    rn_batch_builder_set_producer(&b, 7, 1, 0, RN_BATCH_ATTR_TRANSACTIONAL);
    cr_assert_eq(rn_batch_builder_add(&b, 1, B("k"), B("v")), 0);
    cr_assert_eq(rn_batch_builder_finish(&b, &batch, &len, NULL), 0);
    cr_assert_eq(rn_records_marker_type(batch, len, NULL), -1);
    rn_batch_header_t h;
    cr_assert_eq(rn_batch_parse_header(batch, len, &h), RN_DECODE_OK);
    cr_assert_eq(h.producer_id, 7);
    cr_assert_eq(h.base_sequence, 0);
    cr_assert_eq(h.attributes, RN_BATCH_ATTR_TRANSACTIONAL);
    cr_assert(rn_batch_crc_ok(batch, len));
    free(batch);
}
