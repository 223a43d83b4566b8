/* SPDX-License-Identifier: Apache-2.0 */
/* Validation of a Produce request's records before anything reaches disk (STYLE.md: no
 * unvalidated bytes reach disk). Each batch is checked in the order Kafka's broker checks it
 * (UnifiedLog.analyzeAndValidateRecords, then LogValidator): framing and magic, CRC, codec,
 * the header's counts, then every record, walked in a reader narrowed to its declared length,
 * its timestamp held against the topic's KIP-937 limits when the caller gives them.
 * Compressed payloads are inflated into a per-thread scratch buffer that grows on demand up to
 * the caller's bound, so the common case neither allocates nor faults in fresh pages. */
#include "records/records.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "records/internal.h"

/* The smallest record: length, attributes, timestampDelta, offsetDelta, keyLength,
 * valueLength and headers count, one byte each. Bounds a declared count before the loop. */
#define MIN_RECORD_LEN 7
#define MIN_HEADER_LEN 2 /* headerKeyLength, headerValueLength */

/* Message v0: crc, magic, attributes, key length, value length; v1 adds a timestamp. */
#define MIN_MESSAGE_V0_LEN (4 + 1 + 1 + 4 + 4)
#define MIN_MESSAGE_V1_LEN (MIN_MESSAGE_V0_LEN + 8)

/* Scratch buffers above this are freed after use rather than kept for the next batch. */
#define SCRATCH_KEEP (8u << 20)
#define SCRATCH_FIRST (64u << 10)

typedef struct check {
    rn_kerr_t err; /* RN_KERR_NONE while fine */
    const char *why;
    /* KIP-937 (rn_records_validate_at): NULL when timestamps are not checked. */
    const rn_timestamp_bounds_t *bounds;
    int64_t base_timestamp, base_offset; /* of the batch being walked */
    int64_t timestamp_errors;            /* records out of bounds so far */
    int64_t keyless;                     /* records with a null key so far */
    rn_timestamp_error_t *errors;        /* where to list them (rn_records_timestamp_errors) */
    size_t errors_cap, nerrors;
} check_t;

static rn_kerr_t fail(check_t *c, rn_kerr_t err, const char *why)
{
    if (c->err == 0) {
        c->err = err;
        c->why = why;
    }
    return c->err;
}

/* A length-prefixed (varint) byte field: -1 is null where `nullable`, other negatives are
 * invalid, and the bytes must be inside the record. Returns whether it was null. */
static bool skip_bytes_field(rn_reader_t *r, bool nullable, const char *what)
{
    int32_t n = rn_read_varint(r, what);
    if (!rn_reader_ok(r))
        return false;
    if (n < 0) {
        if (n != -1 || !nullable)
            rn_reader_fail(r, what);
        return n == -1;
    }
    rn_reader_skip(r, (size_t)n, what);
    return false;
}

/* One record (DefaultRecord, magic 2), `rec` narrowed to its declared length. */
static void walk_record(rn_reader_t *rec, int32_t index, check_t *c)
{
    rn_read_int8(rec, "record attributes"); /* unused by the spec */
    int64_t timestamp_delta = rn_read_varlong(rec, "record timestampDelta");
    int32_t offset_delta = rn_read_varint(rec, "record offsetDelta");
    /* Inner offsets must run 0, 1, 2... Kafka 4.4 stores an uncompressed batch that breaks
     * this, whose records then claim offsets the log never gave them; we refuse it with the
     * code Kafka gives malformed records (tests/conformance/differences.tsv). */
    if (rn_reader_ok(rec) && offset_delta != index) {
        fail(c, RN_KERR_INVALID_RECORD, "record offsetDelta is not its position in the batch");
        return;
    }
    /* Java adds the delta to the base timestamp with wrapping arithmetic; so do we. */
    int64_t timestamp = (int64_t)((uint64_t)c->base_timestamp + (uint64_t)timestamp_delta);
    if (c->bounds != NULL && rn_reader_ok(rec) && !rn_timestamp_in_bounds(c->bounds, timestamp)) {
        if (c->nerrors < c->errors_cap)
            c->errors[c->nerrors++] = (rn_timestamp_error_t){
                .batch_index = index,
                .timestamp = timestamp,
                .offset = (int64_t)((uint64_t)c->base_offset + (uint64_t)offset_delta),
            };
        c->timestamp_errors++;
    }
    if (skip_bytes_field(rec, true, "record key"))
        c->keyless++; /* a compacted topic refuses the batch (the caller's rule) */
    (void)skip_bytes_field(rec, true, "record value");
    int32_t nheaders = rn_read_varint(rec, "record headers count");
    if (rn_reader_ok(rec) &&
        (nheaders < 0 || (size_t)nheaders > rn_reader_left(rec) / MIN_HEADER_LEN))
        rn_reader_fail(rec, "record headers count");
    for (int32_t h = 0; h < nheaders && rn_reader_ok(rec); h++) {
        /* Kafka: "Invalid negative header key size" */
        (void)skip_bytes_field(rec, false, "header key");
        (void)skip_bytes_field(rec, true, "header value");
    }
    if (!rn_reader_ok(rec))
        fail(c, RN_KERR_INVALID_RECORD, rec->err);
    else if (rn_reader_left(rec) != 0)
        fail(c, RN_KERR_INVALID_RECORD, "record length does not match its fields");
}

/* `records_count` records that must use up `data` exactly; anything else is a count that
 * disagrees with the records. Kafka 4.4 answers a record that does not parse, and a count
 * that disagrees with the records, with INVALID_RECORD (asked with the same bytes). */
static void walk_records(const uint8_t *data, size_t len, int32_t records_count, check_t *c)
{
    rn_reader_t r;
    rn_reader_init(&r, data, len);
    if ((size_t)records_count > len / MIN_RECORD_LEN) {
        fail(c, RN_KERR_INVALID_RECORD, "records_count is more than the batch can hold");
        return;
    }
    for (int32_t i = 0; i < records_count; i++) {
        int32_t rec_len = rn_read_varint(&r, "record length");
        if (!rn_reader_ok(&r)) {
            fail(c, RN_KERR_INVALID_RECORD, r.err);
            return;
        }
        if (rec_len < MIN_RECORD_LEN - 1) {
            fail(c, RN_KERR_INVALID_RECORD, "record length is too small");
            return;
        }
        rn_reader_t rec = rn_reader_split(&r, (size_t)rec_len, "record runs past the batch");
        if (!rn_reader_ok(&r)) {
            fail(c, RN_KERR_INVALID_RECORD, r.err);
            return;
        }
        walk_record(&rec, i, c);
        if (c->err != 0)
            return;
    }
    if (rn_reader_left(&r) != 0)
        fail(c, RN_KERR_INVALID_RECORD, "bytes after the last of records_count records");
}

/* The calling thread's scratch buffer. The pointer is also the thread's key value, so the key's
 * destructor frees it when a thread exits. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local uint8_t *scratch;
static _Thread_local size_t scratch_cap;

static void scratch_key_create(void)
{
    (void)pthread_key_create(&scratch_key, free);
}

static void scratch_set(uint8_t *p, size_t cap)
{
    scratch = p;
    scratch_cap = cap;
    (void)pthread_setspecific(scratch_key, p);
}

/* Makes the scratch buffer hold at least `want` bytes (its old contents are not kept). */
static bool scratch_reserve(size_t want)
{
    if (scratch_cap >= want)
        return true;
    pthread_once(&scratch_once, scratch_key_create);
    free(scratch);
    scratch_set(NULL, 0);
    uint8_t *p = malloc(want);
    if (p == NULL)
        return false;
    scratch_set(p, want);
    return true;
}

static void scratch_trim(void)
{
    if (scratch_cap > SCRATCH_KEEP) {
        free(scratch);
        scratch_set(NULL, 0);
    }
}

/* Inflates a compressed records section and walks it. The buffer starts at the size the thread
 * already has (or a guess from the compressed size) and grows fourfold while the output does
 * not fit, up to `max_uncompressed`; each retry decodes from the start again, which costs at
 * most a third more work than knowing the size up front. */
static void walk_compressed(int codec, const uint8_t *in, size_t in_len, int32_t records_count,
                            size_t max_uncompressed, check_t *c)
{
    size_t cap = scratch_cap;
    if (cap < SCRATCH_FIRST)
        cap = SCRATCH_FIRST;
    if (cap / 4 < in_len)
        cap = in_len > SIZE_MAX / 4 ? SIZE_MAX : in_len * 4;
    if (cap > max_uncompressed)
        cap = max_uncompressed;
    for (;;) {
        if (!scratch_reserve(cap)) {
            fail(c, RN_KERR_UNKNOWN_SERVER_ERROR, "out of memory for decompression");
            return;
        }
        size_t out_len;
        int rc = rn_codec_inflate(codec, in, in_len, scratch, cap, &out_len);
        if (rc == 0) {
            walk_records(scratch, out_len, records_count, c);
            break;
        }
        if (rc != RN_CODEC_ETOOBIG) {
            fail(c, RN_KERR_CORRUPT_MESSAGE, "compressed records are not valid for their codec");
            break;
        }
        if (cap >= max_uncompressed) {
            /* Not CORRUPT_MESSAGE: producers retry that one, sending the bomb again and
             * again. MESSAGE_TOO_LARGE they do not (the Java producer splits a batch of
             * several records and sends the halves, which may then fit). */
            fail(c, RN_KERR_MESSAGE_TOO_LARGE, "decompressed records exceed the bound");
            break;
        }
        cap = cap > max_uncompressed / 4 ? max_uncompressed : cap * 4;
    }
    scratch_trim();
}

/* One batch at the start of `p` (`left` bytes to the end of the blob). Sets *size on success. */
static void check_batch(const uint8_t *p, size_t left, size_t max_uncompressed,
                        rn_batch_header_t *h, size_t *size, check_t *c)
{
    /* Message sets v0/v1 keep magic at the same position (offset, message_size, crc, magic),
     * and a v0 message is shorter than a v2 header, so look before parsing the header. Only a
     * message_size a real v0/v1 message can have counts, so that zeros are not a message set. */
    if (left > 16 && (p[16] == 0 || p[16] == 1)) {
        int32_t message_size = (int32_t)rn_load_be32(p + 8);
        if (message_size >= (p[16] == 0 ? MIN_MESSAGE_V0_LEN : MIN_MESSAGE_V1_LEN)) {
            fail(c, RN_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT,
                 "magic 0/1 message sets are not supported");
            return;
        }
    }
    switch (rn_batch_parse_header(p, left, h)) {
    case RN_DECODE_OK:
        break;
    case RN_DECODE_PARTIAL: /* no whole batch: what Kafka answers (rn_records_frame) */
        fail(c, RN_KERR_INVALID_RECORD, "records end inside a batch header");
        return;
    case RN_DECODE_INVALID:
        fail(c, RN_KERR_CORRUPT_MESSAGE, "batch has a bad magic or a batch_length below 49");
        return;
    }
    *size = rn_batch_size(h);
    if (*size > left) {
        fail(c, RN_KERR_INVALID_RECORD, "batch_length runs past the records");
        return;
    }
    if (!rn_batch_crc_ok(p, *size)) {
        fail(c, RN_KERR_CORRUPT_MESSAGE, "batch CRC-32C does not match");
        return;
    }
    int codec = h->attributes & RN_BATCH_ATTR_CODEC_MASK;
    if (codec > RN_CODEC_ZSTD) {
        fail(c, RN_KERR_UNSUPPORTED_COMPRESSION_TYPE, "batch codec bits are 5, 6 or 7");
        return;
    }
    /* At least one record, and offsets 0..count-1: Kafka 4.4 answers INVALID_RECORD. (Issue 4
     * asked for CORRUPT_MESSAGE here, from documents; the oracle settles it, and a producer
     * retries CORRUPT_MESSAGE, which never heals, where INVALID_RECORD fails at once.) */
    if (h->records_count <= 0 || h->last_offset_delta != h->records_count - 1) {
        fail(c, RN_KERR_INVALID_RECORD, "records_count and last_offset_delta disagree");
        return;
    }
    c->base_timestamp = h->base_timestamp;
    c->base_offset = h->base_offset;
    const uint8_t *payload = p + RN_BATCH_HEADER_LEN;
    size_t payload_len = *size - RN_BATCH_HEADER_LEN;
    if (codec == RN_CODEC_NONE)
        walk_records(payload, payload_len, h->records_count, c);
    else
        walk_compressed(codec, payload, payload_len, h->records_count, max_uncompressed, c);
}

/* The walk behind rn_records_validate_at and rn_records_timestamp_errors. */
static rn_kerr_t validate(const uint8_t *p, size_t len, size_t max_uncompressed, check_t *cp,
                          rn_records_summary_t *out, const char **why)
{
    rn_records_summary_t sum = { .max_timestamp = -1, .max_timestamp_delta = -1 };
    check_t c = *cp;
    if (len == 0)
        fail(&c, RN_KERR_INVALID_RECORD, "no record batch"); /* ProduceRequest.validateRecords */
    for (size_t pos = 0; pos < len && c.err == 0;) {
        rn_batch_header_t h;
        size_t size = 0;
        check_batch(p + pos, len - pos, max_uncompressed, &h, &size, &c);
        if (c.err != 0)
            break;
        /* The first batch holding the largest timestamp wins ties, as in LogValidator. */
        if (h.max_timestamp > sum.max_timestamp) {
            sum.max_timestamp = h.max_timestamp;
            sum.max_timestamp_delta = sum.nrecords + h.last_offset_delta;
        }
        if (size > sum.max_batch_size)
            sum.max_batch_size = size;
        sum.nbatches++;
        sum.nrecords += h.records_count;
        pos += size;
    }
    /* Kafka gathers every record's timestamp problem before it refuses the batch; any other
     * problem stops at once, and wins. */
    if (c.err == 0 && c.timestamp_errors > 0)
        fail(&c, RN_KERR_INVALID_TIMESTAMP, "record timestamps out of range");
    sum.timestamp_errors = c.timestamp_errors;
    sum.keyless = c.keyless;
    if (why != NULL)
        *why = c.why;
    if (c.err == 0 || c.err == RN_KERR_INVALID_TIMESTAMP)
        *out = sum;
    *cp = c;
    return c.err;
}

rn_kerr_t rn_records_validate(const uint8_t *p, size_t len, size_t max_uncompressed,
                              rn_records_summary_t *out, const char **why)
{
    return rn_records_validate_at(p, len, max_uncompressed, NULL, out, why);
}

rn_kerr_t rn_records_validate_at(const uint8_t *p, size_t len, size_t max_uncompressed,
                                 const rn_timestamp_bounds_t *bounds, rn_records_summary_t *out,
                                 const char **why)
{
    check_t c = { .bounds = bounds };
    return validate(p, len, max_uncompressed, &c, out, why);
}

size_t rn_records_timestamp_errors(const uint8_t *p, size_t len, size_t max_uncompressed,
                                   const rn_timestamp_bounds_t *bounds, rn_timestamp_error_t *out,
                                   size_t cap)
{
    check_t c = { .bounds = bounds, .errors = out, .errors_cap = cap };
    rn_records_summary_t sum;
    validate(p, len, max_uncompressed, &c, &sum, NULL);
    return c.nerrors;
}

int rn_timestamp_error_format(const rn_timestamp_error_t *e, const rn_timestamp_bounds_t *bounds,
                              char *buf, size_t cap)
{
    int64_t lo = (int64_t)((uint64_t)bounds->now_ms - (uint64_t)bounds->before_max_ms);
    int64_t hi = (int64_t)((uint64_t)bounds->now_ms + (uint64_t)bounds->after_max_ms);
    return snprintf(buf, cap,
                    "Timestamp %" PRId64 " of message with offset %" PRId64
                    " is out of range. The timestamp should be within [%" PRId64 ", %" PRId64 "]",
                    e->timestamp, e->offset, lo, hi);
}
