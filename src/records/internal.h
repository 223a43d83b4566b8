/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/records/ and its unit tests: the two CRC-32C implementations (so tests can
 * check that they agree), the codec result that tells "too big" from "not valid" (big-endian
 * helpers are util/endian.h). */
#ifndef RN_RECORDS_INTERNAL_H
#define RN_RECORDS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/endian.h"

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
