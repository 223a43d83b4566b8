/* SPDX-License-Identifier: Apache-2.0 */
/* Walking the records of a stored batch v2, for readers inside the broker (loading
 * __consumer_offsets at start-up). Unlike validation, which holds a producer to the letter, the
 * walk accepts what a log may legitimately hold: offset deltas with gaps and a records_count
 * below last_offset_delta + 1, as compaction leaves them. Every length is still checked against
 * its record, and a compressed batch is inflated into a buffer the iterator keeps between
 * batches, grown fourfold up to the caller's bound, so loading many small compressed batches
 * does not allocate per batch. */
#include "records/records.h"

#include <stdlib.h>

#include "records/internal.h"
#include "util/err.h"

/* length, attributes, timestampDelta, offsetDelta, key, value, headers: one byte each */
#define MIN_RECORD_LEN 7
#define MIN_HEADER_LEN 2 /* headerKeyLength, headerValueLength */
#define SCRATCH_FIRST (64u << 10)

static int fail(rn_record_iter_t *it, const char *why)
{
    it->err = why;
    it->left = 0;
    return RN_EPROTO;
}

void rn_record_iter_init(rn_record_iter_t *it, size_t max_uncompressed)
{
    *it = (rn_record_iter_t){ .max_uncompressed = max_uncompressed };
}

void rn_record_iter_deinit(rn_record_iter_t *it)
{
    free(it->scratch);
    rn_record_iter_init(it, it->max_uncompressed);
}

/* Inflates into the scratch buffer, growing it while the output does not fit. */
static int inflate(rn_record_iter_t *it, int codec, const uint8_t *in, size_t in_len,
                   size_t *out_len)
{
    size_t cap = it->scratch_cap;
    if (cap < SCRATCH_FIRST)
        cap = SCRATCH_FIRST;
    if (cap / 4 < in_len)
        cap = in_len > SIZE_MAX / 4 ? SIZE_MAX : in_len * 4;
    if (cap > it->max_uncompressed)
        cap = it->max_uncompressed;
    for (;;) {
        if (cap > it->scratch_cap) {
            free(it->scratch);
            it->scratch_cap = 0;
            if ((it->scratch = malloc(cap)) == NULL) {
                it->err = "out of memory for decompression";
                return RN_ENOMEM;
            }
            it->scratch_cap = cap;
        }
        int rc = rn_codec_inflate(codec, in, in_len, it->scratch, it->scratch_cap, out_len);
        if (rc == 0)
            return 0;
        if (rc != RN_CODEC_ETOOBIG)
            return fail(it, "compressed records are not valid for their codec");
        if (it->scratch_cap >= it->max_uncompressed)
            return fail(it, "decompressed records exceed the bound");
        cap =
            it->scratch_cap > it->max_uncompressed / 4 ? it->max_uncompressed : it->scratch_cap * 4;
    }
}

int rn_record_iter_start(rn_record_iter_t *it, const uint8_t *batch, size_t len)
{
    it->err = NULL;
    it->left = 0;
    it->index = 0;
    switch (rn_batch_parse_header(batch, len, &it->header)) {
    case RN_DECODE_OK:
        break;
    case RN_DECODE_PARTIAL:
        return fail(it, "batch header is cut short");
    case RN_DECODE_INVALID:
        return fail(it, "batch has a bad magic or a batch_length below 49");
    }
    size_t size = rn_batch_size(&it->header);
    if (size > len)
        return fail(it, "batch_length runs past the bytes given");
    if (!rn_batch_crc_ok(batch, size))
        return fail(it, "batch CRC-32C does not match");
    if (it->header.records_count < 0)
        return fail(it, "negative records_count");
    const uint8_t *payload = batch + RN_BATCH_HEADER_LEN;
    size_t payload_len = size - RN_BATCH_HEADER_LEN;
    int codec = it->header.attributes & RN_BATCH_ATTR_CODEC_MASK;
    if (codec > RN_CODEC_ZSTD)
        return fail(it, "batch codec bits are 5, 6 or 7");
    if (codec != RN_CODEC_NONE && it->header.records_count > 0) {
        size_t out_len = 0;
        int rc = inflate(it, codec, payload, payload_len, &out_len);
        if (rc != 0)
            return rc;
        payload = it->scratch;
        payload_len = out_len;
    }
    if ((size_t)it->header.records_count > payload_len / MIN_RECORD_LEN)
        return fail(it, "records_count is more than the batch can hold");
    rn_reader_init(&it->r, payload, payload_len);
    it->left = it->header.records_count;
    return 0;
}

/* A varint-length byte field: -1 is null where `nullable`, other negatives are invalid. */
static rn_bytes_t read_field(rn_reader_t *r, bool nullable, const char *what)
{
    int32_t n = rn_read_varint(r, what);
    if (!rn_reader_ok(r))
        return (rn_bytes_t){ 0 };
    if (n < 0) {
        if (n != -1 || !nullable)
            rn_reader_fail(r, what);
        return (rn_bytes_t){ 0 };
    }
    rn_bytes_t b = { .ptr = r->cur, .len = (size_t)n };
    rn_reader_skip(r, (size_t)n, what);
    return b;
}

int rn_record_iter_next(rn_record_iter_t *it, rn_record_t *out)
{
    if (it->err != NULL)
        return RN_EPROTO;
    if (it->left == 0) {
        if (rn_reader_left(&it->r) != 0)
            return fail(it, "bytes after the last of records_count records");
        return 0;
    }
    rn_reader_t *r = &it->r;
    int32_t rec_len = rn_read_varint(r, "record length");
    if (rn_reader_ok(r) && rec_len < MIN_RECORD_LEN - 1)
        return fail(it, "record length is too small");
    rn_reader_t rec =
        rn_reader_split(r, rn_reader_ok(r) ? (size_t)rec_len : 0, "record runs past the batch");
    if (!rn_reader_ok(r))
        return fail(it, r->err);
    rn_read_int8(&rec, "record attributes");
    int64_t ts_delta = rn_read_varlong(&rec, "record timestampDelta");
    int32_t offset_delta = rn_read_varint(&rec, "record offsetDelta");
    rn_bytes_t key = read_field(&rec, true, "record key");
    rn_bytes_t value = read_field(&rec, true, "record value");
    int32_t nheaders = rn_read_varint(&rec, "record headers count");
    if (rn_reader_ok(&rec) &&
        (nheaders < 0 || (size_t)nheaders > rn_reader_left(&rec) / MIN_HEADER_LEN))
        rn_reader_fail(&rec, "record headers count");
    const uint8_t *headers = rec.cur;
    for (int32_t h = 0; h < nheaders && rn_reader_ok(&rec); h++) {
        read_field(&rec, false, "header key");
        read_field(&rec, true, "header value");
    }
    if (!rn_reader_ok(&rec))
        return fail(it, rec.err);
    if (rn_reader_left(&rec) != 0)
        return fail(it, "record length does not match its fields");
    if (offset_delta < 0 || offset_delta > it->header.last_offset_delta)
        return fail(it, "record offsetDelta is outside the batch");
    const rn_batch_header_t *hd = &it->header;
    bool log_append_time = (hd->attributes & RN_BATCH_ATTR_LOG_APPEND_TIME) != 0;
    *out = (rn_record_t){
        /* Unsigned additions: hostile values wrap instead of overflowing. */
        .offset = (int64_t)((uint64_t)hd->base_offset + (uint64_t)offset_delta),
        .timestamp = log_append_time ? hd->max_timestamp
                                     : (int64_t)((uint64_t)hd->base_timestamp + (uint64_t)ts_delta),
        .key = key,
        .value = value,
        .nheaders = nheaders,
        .headers = { .ptr = headers, .len = (size_t)(rec.cur - headers) },
    };
    it->index++;
    it->left--;
    return 1;
}
