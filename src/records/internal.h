/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/records/ and its unit tests: the two CRC-32C implementations (so tests can
 * check that they agree), the codec result that tells "too big" from "not valid" (big-endian
 * helpers are util/endian.h). */
#ifndef RN_RECORDS_INTERNAL_H
#define RN_RECORDS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/bytes.h"
#include "util/endian.h"

/* Varints of the record format (zigzag, 7 bits a byte, as protobuf's), for the writers
 * (build.c, rebuild.c). An int32 value encodes the same as a varint or a varlong. */
static inline uint64_t rn_zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline size_t rn_varlong_len(int64_t v)
{
    uint64_t u = rn_zigzag64(v);
    size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *rn_put_varlong(uint8_t *p, int64_t v)
{
    uint64_t u = rn_zigzag64(v);
    while (u >= 0x80) {
        *p++ = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    *p++ = (uint8_t)u;
    return p;
}

/* A record's key or value: varint length (-1 for null) then the bytes. */
static inline size_t rn_field_len(rn_bytes_t b)
{
    return b.ptr == NULL ? 1 : rn_varlong_len((int64_t)b.len) + b.len;
}

static inline uint8_t *rn_put_field(uint8_t *p, rn_bytes_t b)
{
    if (b.ptr == NULL)
        return rn_put_varlong(p, -1);
    p = rn_put_varlong(p, (int64_t)b.len);
    if (b.len > 0)
        memcpy(p, b.ptr, b.len);
    return p + b.len;
}

/* Table walk (slicing-by-8); works on every CPU. Same contract as rn_crc32c(). */
uint32_t rn_crc32c_sw(uint32_t crc, const void *data, size_t len);
/* The SSE4.2 instruction. Call only when rn_crc32c_hw_available(); on other architectures
 * it is the table walk under another name. */
uint32_t rn_crc32c_hw(uint32_t crc, const void *data, size_t len);
bool rn_crc32c_hw_available(void);

/* rn_codec_decompress() results, told apart so that validation can retry with a larger buffer
 * when the output, not the input, was the problem. The public function folds both into -1. */
#define RN_CODEC_EINVAL (-1)  /* not valid data for the codec */
#define RN_CODEC_ETOOBIG (-2) /* valid so far, but the output would exceed `cap` */
int rn_codec_inflate(int codec, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
                     size_t *out_len);

#endif
