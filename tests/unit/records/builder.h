/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper shared by the records tests: builds record batch v2 bytes by hand (records with
 * keys, values and headers, compressed with each codec through the libraries' own compress
 * functions) and fixes up CRCs after a test has damaged a field on purpose. Written from the
 * Kafka protocol guide, independently of src/records/, so the two can catch each other out.
 * Everything is `static inline` so a test file may use any subset. */
#ifndef RN_TESTS_RECORDS_BUILDER_H
#define RN_TESTS_RECORDS_BUILDER_H

#include <criterion/criterion.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "records/records.h"

/* A growable byte buffer; aborts the test on allocation failure. */
typedef struct tb_buf {
    uint8_t *p;
    size_t len, cap;
} tb_buf_t;

static inline void tb_put(tb_buf_t *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        cr_assert_not_null(b->p);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

static inline void tb_u8(tb_buf_t *b, uint8_t v)
{
    tb_put(b, &v, 1);
}

static inline void tb_be(tb_buf_t *b, uint64_t v, int nbytes)
{
    for (int i = nbytes - 1; i >= 0; i--)
        tb_u8(b, (uint8_t)(v >> (8 * i)));
}

static inline void tb_uvarint(tb_buf_t *b, uint64_t v)
{
    while (v >= 0x80) {
        tb_u8(b, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    tb_u8(b, (uint8_t)v);
}

static inline void tb_varint(tb_buf_t *b, int64_t v)
{
    tb_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* What goes into a batch. Record i has timestamp base_timestamp + i, offset delta i (unless
 * `offset_delta_skew` moves the last one), key "key-<i>" (or null), a value of `value_len`
 * bytes (or null when value_len < 0) and `nheaders` headers. */
typedef struct tb_spec {
    int nrecords;
    int codec;     /* RN_CODEC_* */
    bool xerial;   /* snappy: xerial framing instead of a raw block */
    int value_len; /* -1 for null values */
    bool null_key;
    int nheaders;
    int64_t base_timestamp;
    int offset_delta_skew;
    int records_count_skew; /* declared records_count = nrecords + skew (and last_offset_delta) */
    uint8_t value_fill;     /* 0: a varied pattern; else every value byte */
} tb_spec_t;

/* One record (Kafka's DefaultRecord) appended to `b`. */
static inline void tb_record(tb_buf_t *b, const tb_spec_t *s, int i)
{
    tb_buf_t body = { 0 };
    tb_u8(&body, 0);     /* attributes */
    tb_varint(&body, i); /* timestampDelta */
    tb_varint(&body, i + (i == s->nrecords - 1 ? s->offset_delta_skew : 0));
    if (s->null_key) {
        tb_varint(&body, -1);
    } else {
        char key[32];
        int n = snprintf(key, sizeof key, "key-%d", i);
        tb_varint(&body, n);
        tb_put(&body, key, (size_t)n);
    }
    tb_varint(&body, s->value_len);
    for (int j = 0; j < s->value_len; j++)
        tb_u8(&body, s->value_fill ? s->value_fill : (uint8_t)(i * 31 + j * 7));
    tb_varint(&body, s->nheaders);
    for (int h = 0; h < s->nheaders; h++) {
        char key[32];
        int n = snprintf(key, sizeof key, "h%d", h);
        tb_varint(&body, n);
        tb_put(&body, key, (size_t)n);
        if (h % 2) {
            tb_varint(&body, -1); /* null header value */
        } else {
            tb_varint(&body, 3);
            tb_put(&body, "val", 3);
        }
    }
    tb_varint(b, (int64_t)body.len);
    tb_put(b, body.p, body.len);
    free(body.p);
}

static inline tb_buf_t tb_records(const tb_spec_t *s)
{
    tb_buf_t b = { 0 };
    for (int i = 0; i < s->nrecords; i++)
        tb_record(&b, s, i);
    return b;
}

/* Compresses `in` the way Kafka's Java and librdkafka producers do. */
static inline tb_buf_t tb_compress(int codec, bool xerial, const uint8_t *in, size_t len)
{
    tb_buf_t out = { 0 };
    switch (codec) {
    case RN_CODEC_GZIP: {
        z_stream z = { 0 };
        cr_assert_eq(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                  Z_DEFAULT_STRATEGY),
                     Z_OK);
        size_t cap = deflateBound(&z, (uLong)len) + 32;
        out.p = malloc(cap);
        out.cap = cap;
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)len;
        z.next_out = out.p;
        z.avail_out = (uInt)cap;
        cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
        out.len = z.total_out;
        deflateEnd(&z);
        break;
    }
    case RN_CODEC_SNAPPY: {
        /* xerial: magic, version 1, compatible version 1, then [int32 length][raw block] per
         * 32 KiB chunk, as org.xerial.snappy.SnappyOutputStream writes. */
        size_t chunk = xerial ? 32 * 1024 : len;
        if (xerial) {
            static const uint8_t magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
            tb_put(&out, magic, sizeof magic);
            tb_be(&out, 1, 4);
            tb_be(&out, 1, 4);
        }
        size_t pos = 0;
        do {
            size_t n = len - pos < chunk ? len - pos : chunk;
            size_t clen = snappy_max_compressed_length(n);
            uint8_t *tmp = malloc(clen);
            cr_assert_eq(snappy_compress((const char *)in + pos, n, (char *)tmp, &clen), SNAPPY_OK);
            if (xerial)
                tb_be(&out, clen, 4);
            tb_put(&out, tmp, clen);
            free(tmp);
            pos += n;
        } while (pos < len);
        break;
    }
    case RN_CODEC_LZ4: {
        LZ4F_preferences_t prefs = { 0 };
        size_t cap = LZ4F_compressFrameBound(len, &prefs);
        out.p = malloc(cap);
        out.cap = cap;
        out.len = LZ4F_compressFrame(out.p, cap, in, len, &prefs);
        cr_assert_not(LZ4F_isError(out.len));
        break;
    }
    case RN_CODEC_ZSTD: {
        size_t cap = ZSTD_compressBound(len);
        out.p = malloc(cap);
        out.cap = cap;
        out.len = ZSTD_compress(out.p, cap, in, len, 3);
        cr_assert_not(ZSTD_isError(out.len));
        break;
    }
    default:
        tb_put(&out, in, len);
    }
    return out;
}

/* Recomputes the CRC of the batch at `p` (after a test changed a covered field). */
static inline void tb_fix_crc(uint8_t *p, size_t len)
{
    uint32_t crc = rn_crc32c(0, p + RN_BATCH_CRC_START, len - RN_BATCH_CRC_START);
    p[17] = (uint8_t)(crc >> 24);
    p[18] = (uint8_t)(crc >> 16);
    p[19] = (uint8_t)(crc >> 8);
    p[20] = (uint8_t)crc;
}

/* Wraps `payload` (records, compressed or not) in a v2 header and computes the CRC. */
static inline tb_buf_t tb_wrap(int16_t attributes, int32_t records_count, int64_t base_timestamp,
                               int64_t max_timestamp, const uint8_t *payload, size_t plen)
{
    tb_buf_t b = { 0 };
    tb_be(&b, 0, 8); /* base_offset: the broker sets it */
    tb_be(&b, (uint64_t)(RN_BATCH_HEADER_LEN - 12 + plen), 4);
    tb_be(&b, (uint64_t)-1, 4); /* partition_leader_epoch */
    tb_u8(&b, 2);               /* magic */
    tb_be(&b, 0, 4);            /* crc, below */
    tb_be(&b, (uint16_t)attributes, 2);
    tb_be(&b, (uint32_t)records_count - 1u, 4); /* last_offset_delta */
    tb_be(&b, (uint64_t)base_timestamp, 8);
    tb_be(&b, (uint64_t)max_timestamp, 8);
    tb_be(&b, (uint64_t)-1, 8); /* producer_id */
    tb_be(&b, (uint16_t)-1, 2); /* producer_epoch */
    tb_be(&b, (uint32_t)-1, 4); /* base_sequence */
    tb_be(&b, (uint32_t)records_count, 4);
    tb_put(&b, payload, plen);
    tb_fix_crc(b.p, b.len);
    return b;
}

static inline tb_buf_t tb_batch(const tb_spec_t *s)
{
    tb_buf_t recs = tb_records(s);
    tb_buf_t payload = tb_compress(s->codec, s->xerial, recs.p, recs.len);
    int32_t count = s->nrecords + s->records_count_skew;
    int64_t max_ts = s->base_timestamp + (s->nrecords > 0 ? s->nrecords - 1 : 0);
    tb_buf_t b =
        tb_wrap((int16_t)s->codec, count, s->base_timestamp, max_ts, payload.p, payload.len);
    free(recs.p);
    free(payload.p);
    return b;
}

#endif
