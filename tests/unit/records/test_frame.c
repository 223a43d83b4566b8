/* SPDX-License-Identifier: Apache-2.0 */
/* rn_records_frame: how a Produce partition's bytes split into batches before anything looks
 * inside them. Each case is one that Apache Kafka 4.4 was sent (issue 10's oracle) and the
 * expectation is what its answer implies: ignored fragments were not refused and not written,
 * corrupt headers were CORRUPT_MESSAGE with the message checked here. */
#include <criterion/criterion.h>

#include "golden.h"
#include "records/records.h"

static rn_records_framing_t frame(const uint8_t *p, size_t len)
{
    return rn_records_frame(p, len);
}

/* The golden batch followed by `extra` bytes of `fill`. */
static size_t with_tail(uint8_t *buf, size_t extra, uint8_t fill)
{
    memcpy(buf, golden_none, sizeof golden_none);
    memset(buf + sizeof golden_none, fill, extra);
    return sizeof golden_none + extra;
}

Test(frame, one_whole_batch)
{
    rn_records_framing_t f = frame(golden_none, sizeof golden_none);
    cr_assert_eq(f.error, RN_FRAME_OK);
    cr_assert_eq(f.nbatches, 1);
    cr_assert_eq(f.len, sizeof golden_none);
    cr_assert_eq(f.first_magic, 2);
    cr_assert_eq(f.first_attributes, 0);
    cr_assert_eq(f.first_producer_id, -1, "librdkafka's plain producer has none");
}

Test(frame, nothing_or_a_fragment_is_no_batch)
{
    /* Kafka: INVALID_RECORD, "at least one record batch": 0, 7, 12 and 17 bytes of a batch,
     * and a batch one byte short. */
    static const size_t cuts[] = { 0, 7, 11, 12, 16, 17, 60, sizeof golden_none - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        rn_records_framing_t f = frame(golden_none, cuts[i]);
        cr_assert_eq(f.error, RN_FRAME_OK, "%zu bytes", cuts[i]);
        cr_assert_eq(f.nbatches, 0, "%zu bytes", cuts[i]);
        cr_assert_eq(f.len, 0);
        cr_assert_eq(f.first_magic, -1);
    }
    uint8_t zeros[7] = { 0 };
    cr_assert_eq(frame(zeros, sizeof zeros).nbatches, 0);
}

Test(frame, a_short_fragment_after_a_batch_is_ignored)
{
    /* Kafka appended the batch and answered NONE for a batch followed by 7 zero bytes. */
    uint8_t buf[sizeof golden_none + 64];
    size_t n = with_tail(buf, 7, 0);
    rn_records_framing_t f = frame(buf, n);
    cr_assert_eq(f.error, RN_FRAME_OK);
    cr_assert_eq(f.nbatches, 1);
    cr_assert_eq(f.len, sizeof golden_none, "the fragment is not part of what is written");
    /* So is the start of a second batch that is not all there. */
    memcpy(buf + sizeof golden_none, golden_none, 40);
    f = frame(buf, sizeof golden_none + 40);
    cr_assert_eq(f.error, RN_FRAME_OK);
    cr_assert_eq(f.nbatches, 1);
    cr_assert_eq(f.len, sizeof golden_none);
}

Test(frame, a_batch_length_below_14_is_corrupt_once_12_bytes_are_there)
{
    /* Kafka: CORRUPT_MESSAGE after a batch followed by 20 zero bytes (a length of 0). */
    uint8_t buf[sizeof golden_none + 64];
    size_t n = with_tail(buf, 20, 0);
    rn_records_framing_t f = frame(buf, n);
    cr_assert_eq(f.error, RN_FRAME_SHORT_SIZE);
    cr_assert_eq(f.error_value, 0);
    cr_assert_eq(f.nbatches, 1, "the batch before it was whole");
    /* And alone, with Kafka's message. */
    uint8_t head[sizeof golden_none];
    memcpy(head, golden_none, sizeof head);
    head[8] = head[9] = head[10] = 0;
    head[11] = 10;
    f = frame(head, sizeof head);
    cr_assert_eq(f.error, RN_FRAME_SHORT_SIZE);
    cr_assert_eq(f.nbatches, 0);
    char msg[128];
    cr_assert_str_eq(rn_records_frame_message(&f, msg, sizeof msg),
                     "Record size 10 is less than the minimum record overhead (14)");
    /* A negative length is below 14 too. */
    head[8] = 0xff;
    f = frame(head, sizeof head);
    cr_assert_eq(f.error, RN_FRAME_SHORT_SIZE);
    cr_assert_lt(f.error_value, 0);
    /* With fewer than 12 bytes the length is not read at all. */
    cr_assert_eq(frame(head, 11).error, RN_FRAME_OK);
}

Test(frame, a_magic_above_2_is_corrupt_once_17_bytes_are_there)
{
    uint8_t head[sizeof golden_none];
    memcpy(head, golden_none, sizeof head);
    head[16] = 3;
    rn_records_framing_t f = frame(head, sizeof head);
    cr_assert_eq(f.error, RN_FRAME_BAD_MAGIC);
    char msg[128];
    cr_assert_str_eq(rn_records_frame_message(&f, msg, sizeof msg),
                     "Invalid magic found in record: 3");
    head[16] = 0xff; /* a signed byte: -1 */
    f = frame(head, sizeof head);
    cr_assert_eq(f.error, RN_FRAME_BAD_MAGIC);
    cr_assert_str_eq(rn_records_frame_message(&f, msg, sizeof msg),
                     "Invalid magic found in record: -1");
    cr_assert_eq(frame(head, 16).error, RN_FRAME_OK, "magic not there yet: a fragment");
}

Test(frame, two_whole_batches_and_old_magics_are_counted_as_batches)
{
    uint8_t buf[2 * sizeof golden_none];
    memcpy(buf, golden_none, sizeof golden_none);
    memcpy(buf + sizeof golden_none, golden_none, sizeof golden_none);
    rn_records_framing_t f = frame(buf, sizeof buf);
    cr_assert_eq(f.nbatches, 2);
    cr_assert_eq(f.len, sizeof buf);
    /* A magic 1 message: offset, size, crc, magic 1, attributes, timestamp, key -1, value "v".
     * Size counts from the crc: 4 + 1 + 1 + 8 + 4 + 4 + 1 = 23. */
    static const uint8_t v1[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,    0,    0,    23,   1, 2, 3, 4, 1,  0,
                                  0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 'v' };
    f = frame(v1, sizeof v1);
    cr_assert_eq(f.error, RN_FRAME_OK);
    cr_assert_eq(f.nbatches, 1);
    cr_assert_eq(f.first_magic, 1);
    cr_assert_eq(f.first_attributes, 0);
}

Test(frame, the_first_batchs_attributes_are_reported)
{
    uint8_t b[sizeof golden_none];
    memcpy(b, golden_none, sizeof b);
    b[22] |= RN_BATCH_ATTR_TRANSACTIONAL; /* the CRC does not matter here */
    rn_records_framing_t f = frame(b, sizeof b);
    cr_assert_eq(f.first_attributes & RN_BATCH_ATTR_TRANSACTIONAL, RN_BATCH_ATTR_TRANSACTIONAL);
    b[43 + 7] = 9; /* producer id 0x...09 over librdkafka's -1 */
    memset(b + 43, 0, 7);
    cr_assert_eq(frame(b, sizeof b).first_producer_id, 9);
    /* A header cut before the attributes has none to report, and is no batch anyway. */
    cr_assert_eq(frame(b, 22).first_attributes, 0);
}
