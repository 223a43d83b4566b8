/* SPDX-License-Identifier: Apache-2.0 */
/* rn_records_validate against hand-built v2 batches: good ones (each codec, several batches),
 * bad CRC, every truncation, hostile varints, counts and lengths, offset deltas, unsupported
 * codecs and magics, trailing garbage and decompression bombs. The codes are Kafka 4.4's for
 * the same bytes: CORRUPT_MESSAGE for what breaks a batch's frame or CRC or codec,
 * INVALID_RECORD for no whole batch and for what breaks the records inside. */
#include <criterion/criterion.h>
#include <pthread.h>

#include "builder.h"
#include "golden.h"
#include "records/records.h"

#define BOUND (1u << 20)

static int validate(const tb_buf_t *b, rn_records_summary_t *sum)
{
    const char *why = "unset";
    int rc = rn_records_validate(b->p, b->len, BOUND, sum, &why);
    if (rc == 0)
        cr_assert_null(why, "no reason on success");
    else
        cr_assert(why != NULL && why[0] != '\0', "error %d comes with a reason", rc);
    return rc;
}

static int validate_quiet(const tb_buf_t *b)
{
    rn_records_summary_t sum;
    return validate(b, &sum);
}

static const struct {
    int codec;
    bool xerial;
    const char *name;
} codecs[] = {
    { RN_CODEC_NONE, false, "none" },         { RN_CODEC_GZIP, false, "gzip" },
    { RN_CODEC_SNAPPY, false, "snappy raw" }, { RN_CODEC_SNAPPY, true, "snappy xerial" },
    { RN_CODEC_LZ4, false, "lz4" },           { RN_CODEC_ZSTD, false, "zstd" },
};
#define NCODECS (sizeof codecs / sizeof codecs[0])

static const struct {
    const uint8_t *batch;
    size_t len;
    const char *name;
} golden[] = {
    { golden_none, sizeof golden_none, "librdkafka none" },
    { golden_gzip, sizeof golden_gzip, "librdkafka gzip" },
    { golden_snappy, sizeof golden_snappy, "librdkafka snappy" },
    { golden_lz4, sizeof golden_lz4, "librdkafka lz4" },
    { golden_zstd, sizeof golden_zstd, "librdkafka zstd" },
    { golden_idempotent_lz4, sizeof golden_idempotent_lz4, "librdkafka idempotent lz4" },
};
#define NGOLDEN (sizeof golden / sizeof golden[0])

static tb_buf_t golden_copy(size_t i)
{
    tb_buf_t b = { 0 };
    tb_put(&b, golden[i].batch, golden[i].len);
    return b;
}

Test(validate, librdkafka_batches_are_accepted)
{
    for (size_t i = 0; i < NGOLDEN; i++) {
        tb_buf_t b = golden_copy(i);
        rn_records_summary_t sum;
        cr_assert_eq(validate(&b, &sum), 0, "%s", golden[i].name);
        cr_assert_eq(sum.nbatches, 1);
        cr_assert_eq(sum.nrecords, 10, "%s", golden[i].name);
        cr_assert_eq(sum.max_timestamp_delta, 9, "%s", golden[i].name);
        cr_assert_eq(sum.max_batch_size, golden[i].len);
        rn_batch_header_t h;
        cr_assert_eq(rn_batch_parse_header(b.p, b.len, &h), RN_DECODE_OK);
        cr_assert_eq(sum.max_timestamp, h.max_timestamp);
        cr_assert_eq(h.producer_id >= 0, i == NGOLDEN - 1,
                     "%s: only the idempotent one has a producer id", golden[i].name);
        free(b.p);
    }
}

Test(validate, every_truncation_of_a_librdkafka_batch_is_rejected)
{
    for (size_t i = 0; i < NGOLDEN; i++)
        for (size_t n = 1; n < golden[i].len; n++)
            cr_assert_eq(rn_records_validate(golden[i].batch, n, BOUND,
                                             &(rn_records_summary_t){ 0 }, NULL),
                         RN_KERR_INVALID_RECORD, "%s: %zu-byte prefix", golden[i].name, n);
}

Test(validate, a_fragment_after_a_librdkafka_batch_is_no_batch)
{
    for (size_t i = 0; i < NGOLDEN; i++) {
        tb_buf_t b = golden_copy(i);
        tb_u8(&b, 0);
        cr_assert_eq(validate_quiet(&b), RN_KERR_INVALID_RECORD, "%s", golden[i].name);
        free(b.p);
    }
}

Test(validate, a_flipped_byte_in_a_librdkafka_batch_is_never_accepted_unless_outside_the_crc)
{
    for (size_t i = 0; i < NGOLDEN; i++) {
        tb_buf_t b = golden_copy(i);
        for (size_t pos = 0; pos < b.len; pos++) {
            b.p[pos] ^= 0x10;
            int rc = validate_quiet(&b);
            bool outside_crc = pos < 8 || (pos >= 12 && pos < 16);
            cr_assert(outside_crc ? rc == 0 : rc != 0, "%s: byte %zu flipped gives %d",
                      golden[i].name, pos, rc);
            b.p[pos] ^= 0x10;
        }
        free(b.p);
    }
}

Test(validate, a_good_batch_is_accepted_with_its_summary)
{
    tb_spec_t s = {
        .nrecords = 5, .value_len = 20, .nheaders = 3, .base_timestamp = 1700000000000
    };
    tb_buf_t b = tb_batch(&s);
    rn_records_summary_t sum;
    cr_assert_eq(validate(&b, &sum), 0);
    cr_assert_eq(sum.nbatches, 1);
    cr_assert_eq(sum.nrecords, 5);
    cr_assert_eq(sum.max_timestamp, 1700000000004);
    cr_assert_eq(sum.max_timestamp_delta, 4);
    cr_assert_eq(sum.max_batch_size, b.len);
    free(b.p);
}

Test(validate, the_summary_counts_null_keys_for_compacted_topics)
{
    tb_spec_t keyless = { .nrecords = 3, .null_key = true, .value_len = 4 };
    tb_spec_t keyed = { .nrecords = 3, .value_len = 4 };
    tb_buf_t b = tb_batch(&keyless);
    rn_records_summary_t sum;
    cr_assert_eq(validate(&b, &sum), 0);
    cr_assert_eq(sum.keyless, 3);
    free(b.p);
    b = tb_batch(&keyed);
    cr_assert_eq(validate(&b, &sum), 0);
    cr_assert_eq(sum.keyless, 0);
    free(b.p);
}

Test(validate, null_keys_null_values_and_empty_values_are_fine)
{
    tb_spec_t s[] = { { .nrecords = 3, .null_key = true, .value_len = -1 },
                      { .nrecords = 1, .value_len = 0, .nheaders = 2 },
                      { .nrecords = 300, .value_len = 1 } };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        tb_buf_t b = tb_batch(&s[i]);
        cr_assert_eq(validate_quiet(&b), 0, "case %zu", i);
        free(b.p);
    }
}

Test(validate, every_codec_is_accepted)
{
    for (size_t c = 0; c < NCODECS; c++) {
        tb_spec_t s = { .nrecords = 50,
                        .value_len = 100,
                        .nheaders = 1,
                        .codec = codecs[c].codec,
                        .xerial = codecs[c].xerial,
                        .base_timestamp = 42 };
        tb_buf_t b = tb_batch(&s);
        rn_records_summary_t sum;
        cr_assert_eq(validate(&b, &sum), 0, "%s", codecs[c].name);
        cr_assert_eq(sum.nrecords, 50, "%s", codecs[c].name);
        cr_assert_eq(sum.max_timestamp, 91, "%s", codecs[c].name);
        free(b.p);
    }
}

/* Batches of 2, 4 and 3 records with max timestamps 101, 303 and 202. */
Test(validate, several_batches_add_up)
{
    tb_buf_t blob = { 0 };
    static const int counts[] = { 2, 4, 3 };
    static const int64_t base[] = { 100, 300, 200 };
    size_t biggest = 0;
    for (int i = 0; i < 3; i++) {
        tb_spec_t s = { .nrecords = counts[i],
                        .value_len = 10 * (i + 1),
                        .base_timestamp = base[i],
                        .codec = codecs[i % NCODECS].codec };
        tb_buf_t b = tb_batch(&s);
        tb_put(&blob, b.p, b.len);
        biggest = b.len > biggest ? b.len : biggest;
        free(b.p);
    }
    rn_records_summary_t sum;
    cr_assert_eq(validate(&blob, &sum), 0);
    cr_assert_eq(sum.nbatches, 3);
    cr_assert_eq(sum.nrecords, 9);
    cr_assert_eq(sum.max_timestamp, 303);
    cr_assert_eq(sum.max_timestamp_delta, 5, "last record of the second batch: 2 + 3");
    cr_assert_eq(sum.max_batch_size, biggest);
    free(blob.p);
}

Test(validate, a_bad_crc_is_corrupt)
{
    tb_spec_t s = { .nrecords = 3, .value_len = 8 };
    tb_buf_t b = tb_batch(&s);
    b.p[b.len - 1] ^= 1;
    cr_assert_eq(validate_quiet(&b), RN_KERR_CORRUPT_MESSAGE);
    b.p[b.len - 1] ^= 1;
    b.p[17] ^= 0x80;
    cr_assert_eq(validate_quiet(&b), RN_KERR_CORRUPT_MESSAGE);
    free(b.p);
}

Test(validate, every_truncation_is_rejected)
{
    for (size_t c = 0; c < NCODECS; c++) {
        tb_spec_t s = { .nrecords = 4,
                        .value_len = 9,
                        .nheaders = 2,
                        .codec = codecs[c].codec,
                        .xerial = codecs[c].xerial };
        tb_buf_t b = tb_batch(&s);
        for (size_t n = 0; n < b.len; n++) {
            rn_batch_header_t h;
            rn_decode_t d = rn_batch_parse_header(b.p, n, &h);
            cr_assert(d == RN_DECODE_PARTIAL || (d == RN_DECODE_OK && rn_batch_size(&h) > n),
                      "%s: %zu-byte prefix", codecs[c].name, n);
            rn_records_summary_t sum;
            int rc = rn_records_validate(b.p, n, BOUND, &sum, NULL);
            cr_assert_eq(rc, RN_KERR_INVALID_RECORD, "%s: %zu-byte prefix", codecs[c].name, n);
        }
        free(b.p);
    }
}

Test(validate, a_second_batch_cut_short_rejects_the_whole_blob)
{
    tb_spec_t s = { .nrecords = 2, .value_len = 5 };
    tb_buf_t one = tb_batch(&s), blob = { 0 };
    tb_put(&blob, one.p, one.len);
    tb_put(&blob, one.p, one.len);
    for (size_t n = one.len + 1; n < blob.len; n++) {
        tb_buf_t cut = { .p = blob.p, .len = n };
        cr_assert_eq(validate_quiet(&cut), RN_KERR_INVALID_RECORD, "%zu bytes", n);
    }
    free(one.p);
    free(blob.p);
}

Test(validate, trailing_garbage_is_corrupt)
{
    tb_spec_t s = { .nrecords = 2, .value_len = 5 };
    tb_buf_t b = tb_batch(&s);
    tb_put(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
    cr_assert_eq(validate_quiet(&b), RN_KERR_CORRUPT_MESSAGE);
    free(b.p);
}

Test(validate, an_empty_blob_has_no_batch)
{
    tb_buf_t b = { .p = (uint8_t *)"", .len = 0 };
    cr_assert_eq(validate_quiet(&b), RN_KERR_INVALID_RECORD);
}

/* Hand-built records sections wrapped in a valid header with the given count. */
static int validate_payload(const tb_buf_t *payload, int32_t count)
{
    tb_buf_t b = tb_wrap(0, count, 0, 0, payload->p, payload->len);
    int rc = validate_quiet(&b);
    free(b.p);
    return rc;
}

/* A well-formed record with offsetDelta `i` and a 1-byte value, as the varints would write it. */
static void good_record(tb_buf_t *p, int i)
{
    tb_varint(p, 7);
    tb_u8(p, 0);      /* attributes */
    tb_varint(p, 0);  /* timestampDelta */
    tb_varint(p, i);  /* offsetDelta */
    tb_varint(p, -1); /* null key */
    tb_varint(p, 1);
    tb_u8(p, 'v');
    tb_varint(p, 0); /* no headers */
}

Test(validate, the_hand_built_record_is_valid)
{
    tb_buf_t p = { 0 };
    good_record(&p, 0);
    good_record(&p, 1);
    cr_assert_eq(validate_payload(&p, 2), 0);
    free(p.p);
}

Test(validate, a_six_byte_varint_length_is_invalid_record)
{
    tb_buf_t p = { 0 };
    static const uint8_t six[] = { 0x8e, 0x80, 0x80, 0x80, 0x80, 0x00 }; /* 7, padded to 6 bytes */
    tb_put(&p, six, sizeof six);
    tb_buf_t rec = { 0 };
    good_record(&rec, 0);
    tb_put(&p, rec.p + 1, rec.len - 1); /* the record without its 1-byte length */
    cr_assert_eq(validate_payload(&p, 1), RN_KERR_INVALID_RECORD);
    free(p.p);
    free(rec.p);
}

Test(validate, an_overlong_varint_inside_a_record_is_invalid_record)
{
    /* timestampDelta as an 11-byte varlong; the record length covers it. */
    tb_buf_t p = { 0 };
    tb_varint(&p, 17);
    tb_u8(&p, 0);
    static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                      0x80, 0x80, 0x80, 0x80, 0x00 };
    tb_put(&p, eleven, sizeof eleven);
    tb_varint(&p, 0);
    tb_varint(&p, -1);
    tb_varint(&p, -1);
    tb_varint(&p, 0);
    cr_assert_eq(validate_payload(&p, 1), RN_KERR_INVALID_RECORD);
    free(p.p);
}

Test(validate, a_record_count_that_disagrees_with_the_records_is_invalid_record)
{
    for (int skew = -2; skew <= 2; skew++) {
        if (skew == 0)
            continue;
        tb_spec_t s = { .nrecords = 4, .value_len = 3, .records_count_skew = skew };
        for (size_t c = 0; c < NCODECS; c++) {
            s.codec = codecs[c].codec;
            s.xerial = codecs[c].xerial;
            tb_buf_t b = tb_batch(&s);
            cr_assert_eq(validate_quiet(&b), RN_KERR_INVALID_RECORD, "%s, skew %d", codecs[c].name,
                         skew);
            free(b.p);
        }
    }
}

Test(validate, last_offset_delta_must_match_the_count)
{
    tb_spec_t s = { .nrecords = 4, .value_len = 3 };
    tb_buf_t b = tb_batch(&s);
    b.p[26] = 7; /* last_offset_delta 3 -> 7 */
    tb_fix_crc(b.p, b.len);
    cr_assert_eq(validate_quiet(&b), RN_KERR_INVALID_RECORD);
    free(b.p);
}

Test(validate, hostile_records_counts_are_invalid_record)
{
    static const int32_t counts[] = { 0, -1, INT32_MIN, INT32_MAX, 1 << 20 };
    tb_buf_t p = { 0 };
    good_record(&p, 0);
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        cr_assert_eq(validate_payload(&p, counts[i]), RN_KERR_INVALID_RECORD, "count %d",
                     counts[i]);
    free(p.p);
}

Test(validate, an_offset_delta_out_of_place_is_an_invalid_record)
{
    tb_spec_t s = { .nrecords = 3, .value_len = 3, .offset_delta_skew = 1 };
    tb_buf_t b = tb_batch(&s);
    cr_assert_eq(validate_quiet(&b), RN_KERR_INVALID_RECORD);
    free(b.p);
    tb_buf_t p = { 0 };
    good_record(&p, 1); /* first record claims delta 1 */
    cr_assert_eq(validate_payload(&p, 1), RN_KERR_INVALID_RECORD);
    free(p.p);
}

Test(validate, a_record_length_that_does_not_match_its_fields_is_invalid_record)
{
    tb_buf_t longer = { 0 }, shorter = { 0 };
    tb_varint(&longer, 8); /* one byte more than the fields */
    tb_buf_t rec = { 0 };
    good_record(&rec, 0);
    tb_put(&longer, rec.p + 1, rec.len - 1);
    tb_u8(&longer, 0);
    cr_assert_eq(validate_payload(&longer, 1), RN_KERR_INVALID_RECORD);
    tb_varint(&shorter, 6); /* one byte fewer */
    tb_put(&shorter, rec.p + 1, rec.len - 1);
    cr_assert_eq(validate_payload(&shorter, 1), RN_KERR_INVALID_RECORD);
    free(longer.p);
    free(shorter.p);
    free(rec.p);
}

/* One record whose body is `fields` (everything after the length varint). */
static int validate_fields(const tb_buf_t *fields)
{
    tb_buf_t p = { 0 };
    tb_varint(&p, (int64_t)fields->len);
    tb_put(&p, fields->p, fields->len);
    int rc = validate_payload(&p, 1);
    free(p.p);
    return rc;
}

Test(validate, hostile_lengths_inside_a_record_are_invalid_record)
{
    static const int64_t key_lengths[] = { -2, INT32_MIN, 100, INT32_MAX };
    for (size_t i = 0; i < sizeof key_lengths / sizeof key_lengths[0]; i++) {
        tb_buf_t f = { 0 };
        tb_u8(&f, 0), tb_varint(&f, 0), tb_varint(&f, 0);
        tb_varint(&f, key_lengths[i]);
        tb_varint(&f, -1), tb_varint(&f, 0);
        cr_assert_eq(validate_fields(&f), RN_KERR_INVALID_RECORD, "key length %lld",
                     (long long)key_lengths[i]);
        free(f.p);
    }
    static const int64_t header_counts[] = { -1, 1, INT32_MAX };
    for (size_t i = 0; i < sizeof header_counts / sizeof header_counts[0]; i++) {
        tb_buf_t f = { 0 };
        tb_u8(&f, 0), tb_varint(&f, 0), tb_varint(&f, 0), tb_varint(&f, -1), tb_varint(&f, -1);
        tb_varint(&f, header_counts[i]);
        cr_assert_eq(validate_fields(&f), RN_KERR_INVALID_RECORD, "header count %lld",
                     (long long)header_counts[i]);
        free(f.p);
    }
    /* A null header key is not allowed; a null header value is. */
    for (int null_key = 0; null_key <= 1; null_key++) {
        tb_buf_t f = { 0 };
        tb_u8(&f, 0), tb_varint(&f, 0), tb_varint(&f, 0), tb_varint(&f, -1), tb_varint(&f, -1);
        tb_varint(&f, 1);
        if (null_key) {
            tb_varint(&f, -1);
        } else {
            tb_varint(&f, 1);
            tb_u8(&f, 'k');
        }
        tb_varint(&f, -1);
        cr_assert_eq(validate_fields(&f), null_key ? RN_KERR_INVALID_RECORD : 0,
                     "null header key: %d", null_key);
        free(f.p);
    }
}

Test(validate, garbage_under_each_codec_is_corrupt)
{
    uint8_t garbage[300];
    srand(2);
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)rand();
    for (size_t c = 1; c < NCODECS; c++) {
        if (codecs[c].xerial)
            continue;
        tb_buf_t b = tb_wrap((int16_t)codecs[c].codec, 3, 0, 0, garbage, sizeof garbage);
        cr_assert_eq(validate_quiet(&b), RN_KERR_CORRUPT_MESSAGE, "%s", codecs[c].name);
        free(b.p);
    }
}

Test(validate, valid_compression_of_invalid_records_is_invalid_record)
{
    for (size_t c = 1; c < NCODECS; c++) {
        tb_buf_t z = tb_compress(codecs[c].codec, codecs[c].xerial,
                                 (const uint8_t *)"not records at all", 18);
        tb_buf_t b = tb_wrap((int16_t)codecs[c].codec, 1, 0, 0, z.p, z.len);
        cr_assert_eq(validate_quiet(&b), RN_KERR_INVALID_RECORD, "%s", codecs[c].name);
        free(z.p);
        free(b.p);
    }
}

/* Kafka accepts a batch that inflates past any size (it never holds the whole batch inflated);
 * Runnel refuses it with MESSAGE_TOO_LARGE, which producers do not retry as sent (the Java one
 * splits a batch of several records and retries the halves), never with the retriable
 * CORRUPT_MESSAGE, which would have them send the bomb again until delivery.timeout.ms. */
Test(validate, a_bomb_beyond_the_bound_is_message_too_large, .timeout = 60)
{
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big);
    cr_assert_not_null(zeros);
    for (size_t c = 1; c < NCODECS; c++) {
        tb_buf_t z = tb_compress(codecs[c].codec, codecs[c].xerial, zeros, big);
        tb_buf_t b = tb_wrap((int16_t)codecs[c].codec, 1, 0, 0, z.p, z.len);
        const char *why;
        rn_records_summary_t sum;
        cr_assert_eq(rn_records_validate(b.p, b.len, BOUND, &sum, &why), RN_KERR_MESSAGE_TOO_LARGE,
                     "%s", codecs[c].name);
        cr_assert_str_eq(why, "decompressed records exceed the bound", "%s", codecs[c].name);
        free(z.p);
        free(b.p);
    }
    free(zeros);
}

/* About 1 MiB of records compressing to a few KiB: the scratch buffer has to grow several
 * times from its first guess, and must still stop at the bound. */
Test(validate, the_decompression_buffer_grows_up_to_the_bound)
{
    tb_spec_t s = { .nrecords = 1000, .value_len = 1000, .value_fill = 'x', .null_key = true };
    tb_buf_t recs = tb_records(&s);
    for (size_t c = 1; c < NCODECS; c++) {
        s.codec = codecs[c].codec;
        s.xerial = codecs[c].xerial;
        tb_buf_t b = tb_batch(&s);
        rn_records_summary_t sum;
        cr_assert_eq(rn_records_validate(b.p, b.len, 4 * recs.len, &sum, NULL), 0, "%s",
                     codecs[c].name);
        cr_assert_eq(rn_records_validate(b.p, b.len, recs.len, &sum, NULL), 0,
                     "%s, bound exactly the size", codecs[c].name);
        cr_assert_eq(sum.nrecords, 1000);
        cr_assert_eq(rn_records_validate(b.p, b.len, recs.len - 1, &sum, NULL),
                     RN_KERR_MESSAGE_TOO_LARGE, "%s, one byte over", codecs[c].name);
        cr_assert_eq(rn_records_validate(b.p, b.len, 4 * recs.len, &sum, NULL), 0,
                     "%s, after shrinking", codecs[c].name);
        free(b.p);
    }
    free(recs.p);
}

Test(validate, unknown_codecs_are_unsupported)
{
    tb_spec_t s = { .nrecords = 2, .value_len = 4 };
    for (int codec = 5; codec <= 7; codec++) {
        tb_buf_t b = tb_batch(&s);
        b.p[22] = (uint8_t)((b.p[22] & ~RN_BATCH_ATTR_CODEC_MASK) | codec);
        tb_fix_crc(b.p, b.len);
        cr_assert_eq(validate_quiet(&b), RN_KERR_UNSUPPORTED_COMPRESSION_TYPE, "codec %d", codec);
        free(b.p);
    }
}

Test(validate, old_magics_are_unsupported_and_unknown_ones_corrupt)
{
    /* A magic 1 message set: offset, message_size, crc, magic 1, attributes, timestamp, key,
     * value. */
    tb_buf_t v1 = { 0 };
    tb_be(&v1, 0, 8);
    tb_be(&v1, 4 + 1 + 1 + 8 + 4 + 4 + 5, 4);
    tb_be(&v1, 0x12345678, 4);
    tb_u8(&v1, 1);
    tb_u8(&v1, 0);
    tb_be(&v1, 1700000000000, 8);
    tb_be(&v1, (uint32_t)-1, 4);
    tb_be(&v1, 5, 4);
    tb_put(&v1, "hello", 5);
    cr_assert_eq(validate_quiet(&v1), RN_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    v1.p[16] = 0;
    cr_assert_eq(validate_quiet(&v1), RN_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    free(v1.p);

    tb_spec_t s = { .nrecords = 1, .value_len = 4 };
    tb_buf_t b = tb_batch(&s);
    b.p[16] = 3;
    cr_assert_eq(validate_quiet(&b), RN_KERR_CORRUPT_MESSAGE);
    free(b.p);
}

Test(validate, control_and_transactional_batches_are_accepted)
{
    tb_spec_t s = { .nrecords = 1, .value_len = 6 };
    tb_buf_t b = tb_batch(&s);
    b.p[22] |= RN_BATCH_ATTR_CONTROL | RN_BATCH_ATTR_TRANSACTIONAL;
    tb_fix_crc(b.p, b.len);
    cr_assert_eq(validate_quiet(&b), 0);
    free(b.p);
}

Test(validate, validated_then_assigned_then_log_append_time_still_validates)
{
    tb_buf_t blob = { 0 };
    for (size_t c = 0; c < NCODECS; c++) {
        tb_spec_t s = {
            .nrecords = 3, .value_len = 7, .codec = codecs[c].codec, .xerial = codecs[c].xerial
        };
        tb_buf_t b = tb_batch(&s);
        tb_put(&blob, b.p, b.len);
        free(b.p);
    }
    rn_records_summary_t sum;
    cr_assert_eq(validate(&blob, &sum), 0);
    cr_assert_eq(rn_records_assign_offsets(blob.p, blob.len, 500, 3), 500 + sum.nrecords);
    rn_records_set_log_append_time(blob.p, blob.len, 999);
    cr_assert_eq(validate(&blob, &sum), 0);
    cr_assert_eq(sum.max_timestamp, 999);
    cr_assert_eq(sum.max_timestamp_delta, 2, "ties go to the first batch");
    free(blob.p);
}

static void *validate_compressed_in_thread(void *arg)
{
    (void)arg;
    tb_spec_t s = { .nrecords = 100, .value_len = 500, .codec = RN_CODEC_LZ4 };
    tb_buf_t b = tb_batch(&s);
    rn_records_summary_t sum;
    int rc = rn_records_validate(b.p, b.len, BOUND, &sum, NULL);
    free(b.p);
    return (void *)(intptr_t)rc;
}

/* LeakSanitizer reports at exit whatever a finished thread left behind. */
Test(validate, a_thread_s_scratch_buffer_is_freed_when_it_exits)
{
    for (int i = 0; i < 3; i++) {
        pthread_t t;
        void *rc;
        cr_assert_eq(pthread_create(&t, NULL, validate_compressed_in_thread, NULL), 0);
        cr_assert_eq(pthread_join(t, &rc), 0);
        cr_assert_eq((intptr_t)rc, 0);
    }
}

/* ---- KIP-937: message.timestamp.before.max.ms and after.max.ms ---- */

/* Five records with timestamps 1000..1004 (the builder's), validated at `now` 1002 with the
 * given limits. */
static rn_kerr_t validate_at(const tb_buf_t *b, int64_t before, int64_t after,
                             rn_records_summary_t *sum)
{
    rn_timestamp_bounds_t bounds = { .now_ms = 1002,
                                     .before_max_ms = before,
                                     .after_max_ms = after };
    const char *why = NULL;
    return rn_records_validate_at(b->p, b->len, BOUND, &bounds, sum, &why);
}

Test(validate, records_within_the_timestamp_limits_are_accepted)
{
    for (size_t c = 0; c < NCODECS; c++) {
        tb_spec_t s = { .nrecords = 5,
                        .value_len = 3,
                        .base_timestamp = 1000,
                        .codec = codecs[c].codec,
                        .xerial = codecs[c].xerial };
        tb_buf_t b = tb_batch(&s);
        rn_records_summary_t sum;
        cr_assert_eq(validate_at(&b, 2, 2, &sum), 0, "%s: the bounds are inclusive",
                     codecs[c].name);
        cr_assert_eq(sum.timestamp_errors, 0);
        cr_assert_eq(validate_at(&b, INT64_MAX, INT64_MAX, &sum), 0, "no overflow");
        cr_assert_eq(rn_records_validate_at(b.p, b.len, BOUND, NULL, &sum, NULL), 0,
                     "no bounds, no check");
        free(b.p);
    }
}

Test(validate, records_outside_the_timestamp_limits_are_each_listed)
{
    for (size_t c = 0; c < NCODECS; c++) {
        tb_spec_t s = { .nrecords = 5,
                        .value_len = 3,
                        .base_timestamp = 1000,
                        .codec = codecs[c].codec,
                        .xerial = codecs[c].xerial };
        tb_buf_t b = tb_batch(&s);
        rn_records_summary_t sum = { 0 };
        cr_assert_eq(validate_at(&b, 1, 1, &sum), RN_KERR_INVALID_TIMESTAMP, "%s", codecs[c].name);
        cr_assert_eq(sum.timestamp_errors, 2, "1000 is too old, 1004 too new");
        cr_assert_eq(sum.nrecords, 5, "the summary is filled for INVALID_TIMESTAMP");

        rn_timestamp_bounds_t bounds = { .now_ms = 1002, .before_max_ms = 1, .after_max_ms = 1 };
        rn_timestamp_error_t errs[4];
        cr_assert_eq(rn_records_timestamp_errors(b.p, b.len, BOUND, &bounds, errs, 4), 2);
        cr_assert_eq(errs[0].batch_index, 0);
        cr_assert_eq(errs[0].timestamp, 1000);
        cr_assert_eq(errs[0].offset, 0);
        cr_assert_eq(errs[1].batch_index, 4);
        cr_assert_eq(errs[1].timestamp, 1004);
        cr_assert_eq(errs[1].offset, 4);
        cr_assert_eq(rn_records_timestamp_errors(b.p, b.len, BOUND, &bounds, errs, 1), 1,
                     "at most cap");
        cr_assert_eq(errs[0].batch_index, 0);

        cr_assert_eq(validate_at(&b, 0, INT64_MAX, &sum), RN_KERR_INVALID_TIMESTAMP);
        cr_assert_eq(sum.timestamp_errors, 2, "1000 and 1001 are in the past");
        cr_assert_eq(validate_at(&b, INT64_MAX, 0, &sum), RN_KERR_INVALID_TIMESTAMP);
        cr_assert_eq(sum.timestamp_errors, 2, "1003 and 1004 are in the future");
        free(b.p);
    }
}

Test(validate, a_record_without_a_timestamp_is_never_refused)
{
    /* Kafka 4.4 accepts timestamp -1 (none) whatever the limits, but refuses -2. */
    tb_spec_t s = { .nrecords = 2, .value_len = 3, .base_timestamp = -1 };
    tb_buf_t b = tb_batch(&s);
    rn_timestamp_bounds_t bounds = { .now_ms = 1000000, .before_max_ms = 0, .after_max_ms = 0 };
    rn_records_summary_t sum;
    cr_assert_eq(rn_records_validate_at(b.p, b.len, BOUND, &bounds, &sum, NULL),
                 RN_KERR_INVALID_TIMESTAMP);
    cr_assert_eq(sum.timestamp_errors, 1, "only the record at 0 (-1 + 1)");
    rn_timestamp_error_t err;
    cr_assert_eq(rn_records_timestamp_errors(b.p, b.len, BOUND, &bounds, &err, 1), 1);
    cr_assert_eq(err.batch_index, 1);
    free(b.p);
    cr_assert(rn_timestamp_in_bounds(&bounds, -1));
    cr_assert_not(rn_timestamp_in_bounds(&bounds, -2));
    cr_assert_not(rn_timestamp_in_bounds(&bounds, INT64_MIN), "no overflow below");
    cr_assert_not(rn_timestamp_in_bounds(&bounds, INT64_MAX), "nor above");
}

Test(validate, a_corrupt_batch_is_corrupt_before_its_timestamps_count)
{
    tb_spec_t s = { .nrecords = 3, .value_len = 3, .base_timestamp = 1000, .offset_delta_skew = 1 };
    tb_buf_t b = tb_batch(&s);
    rn_records_summary_t sum = { .nrecords = 77 };
    cr_assert_eq(validate_at(&b, 0, 0, &sum), RN_KERR_INVALID_RECORD);
    cr_assert_eq(sum.nrecords, 77, "untouched on other errors");
    free(b.p);
}

Test(validate, timestamp_errors_read_as_kafka_words_them)
{
    /* Kafka 4.4's answers, with its clock at 1796190238832 and 1796190340431. */
    rn_timestamp_bounds_t b1 = { .now_ms = 1796190298832,
                                 .before_max_ms = 60000,
                                 .after_max_ms = 60000 };
    rn_timestamp_error_t e1 = { .batch_index = 1, .timestamp = 1796190178796, .offset = 1 };
    char buf[256];
    rn_timestamp_error_format(&e1, &b1, buf, sizeof buf);
    cr_assert_str_eq(buf, "Timestamp 1796190178796 of message with offset 1 is out of range. The "
                          "timestamp should be within [1796190238832, 1796190358832]");
    rn_timestamp_bounds_t b2 = { .now_ms = 1796190341431,
                                 .before_max_ms = 1000,
                                 .after_max_ms = INT64_MAX };
    rn_timestamp_error_t e2 = { .batch_index = 0, .timestamp = -2, .offset = 0 };
    rn_timestamp_error_format(&e2, &b2, buf, sizeof buf);
    cr_assert_str_eq(buf, "Timestamp -2 of message with offset 0 is out of range. The timestamp "
                          "should be within [1796190340431, -9223370240664434378]");
    cr_assert_str_eq(RN_RECORDS_INVALID_TIMESTAMP_MESSAGE,
                     "One or more records have been rejected due to invalid timestamp");
}
