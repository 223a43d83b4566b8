/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/records/ and its unit tests: the two CRC-32C implementations (so tests can
 * check that they agree), the codec result that tells "too big" from "not valid", and the
 * big-endian helpers for rewriting batch header fields in place. */
#ifndef RN_RECORDS_INTERNAL_H
#define RN_RECORDS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Table walk (slicing-by-8); works on every CPU. Same contract as rn_crc32c(). */
uint32_t rn_crc32c_sw(uint32_t crc, const void *data, size_t len);
/* The SSE4.2 instruction. Call only when rn_crc32c_hw_available(); on other architectures
 * it is the table walk under another name. */
uint32_t rn_crc32c_hw(uint32_t crc, const void *data, size_t len);
bool rn_crc32c_hw_available(void);

/* rn_codec_decompress() results, told apart so that validation can retry with a larger buffer
 * when the output, not the input, was the problem. The public function folds both into -1. */
#define RN_CODEC_EINVAL (-1)   /* not valid data for the codec */
#define RN_CODEC_ETOOBIG (-2)  /* valid so far, but the output would exceed `cap` */
int rn_codec_inflate(int codec, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len);

static inline uint32_t rn_be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void rn_be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void rn_be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void rn_be64_put(uint8_t *p, uint64_t v)
{
    rn_be32_put(p, (uint32_t)(v >> 32));
    rn_be32_put(p + 4, (uint32_t)v);
}

#endif
