/* SPDX-License-Identifier: Apache-2.0 */
/* Reading Kafka primitives from a slice that knows where it ends. Every read goes through
 * rn_reader_need(), so a reader never runs past its slice; the first failure is sticky (`err`
 * names what was being read) and every later read returns 0. Callers check rn_reader_ok()
 * before a decoded value sizes an allocation, a loop or an index. */
#ifndef RN_PROTO_READER_H
#define RN_PROTO_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/bytes.h"

typedef struct rn_reader {
    const uint8_t *cur, *end; /* next unread byte; one past the last readable byte */
    const char *err;          /* first failure, sticky; NULL while healthy */
} rn_reader_t;

/* Decoders answer complete, need-more, or bad; "need more" and "bad" never share a code.
 * Inside a complete frame, running out of bytes is RN_DECODE_INVALID. */
typedef enum rn_decode {
    RN_DECODE_OK = 0,
    RN_DECODE_PARTIAL,
    RN_DECODE_INVALID,
} rn_decode_t;

static inline void rn_reader_init(rn_reader_t *r, const void *data, size_t len)
{
    r->cur = data;
    r->end = r->cur + len;
    r->err = NULL;
}

static inline bool rn_reader_ok(const rn_reader_t *r)
{
    return r->err == NULL;
}
static inline size_t rn_reader_left(const rn_reader_t *r)
{
    return (size_t)(r->end - r->cur);
}

/* Marks the reader failed (if it is not already) with `what`. Returns false. */
static inline bool rn_reader_fail(rn_reader_t *r, const char *what)
{
    if (r->err == NULL)
        r->err = what;
    return false;
}

static inline bool rn_reader_need(rn_reader_t *r, size_t n, const char *what)
{
    if (r->err == NULL &&
        n > (size_t)(r->end - r->cur)) /* compare lengths: `cur + n` can overflow */
        r->err = what;
    return r->err == NULL;
}

/* Narrows a sub-reader to the next `len` bytes of `r` and skips them in `r`. */
rn_reader_t rn_reader_split(rn_reader_t *r, size_t len, const char *what);
void rn_reader_skip(rn_reader_t *r, size_t len, const char *what);

int8_t rn_read_int8(rn_reader_t *r, const char *what);
int16_t rn_read_int16(rn_reader_t *r, const char *what);
int32_t rn_read_int32(rn_reader_t *r, const char *what);
int64_t rn_read_int64(rn_reader_t *r, const char *what);
uint16_t rn_read_uint16(rn_reader_t *r, const char *what);
uint32_t rn_read_uint32(rn_reader_t *r, const char *what);
double rn_read_float64(rn_reader_t *r, const char *what);
bool rn_read_bool(rn_reader_t *r, const char *what);
rn_uuid_t rn_read_uuid(rn_reader_t *r, const char *what);

/* Unsigned LEB128 of at most 5 bytes (32 bits) / 10 bytes (64 bits); a longer encoding, or one
 * whose last byte carries bits past the width, is invalid. */
uint32_t rn_read_uvarint(rn_reader_t *r, const char *what);
uint64_t rn_read_uvarlong(rn_reader_t *r, const char *what);
/* Zig-zag signed forms. */
int32_t rn_read_varint(rn_reader_t *r, const char *what);
int64_t rn_read_varlong(rn_reader_t *r, const char *what);

/* Strings and bytes: classic (INT16/INT32 length, -1 null) or compact (UNSIGNED_VARINT length+1,
 * 0 null). Null is accepted only when `nullable`; any other negative length is invalid. The
 * result points into the reader's buffer. */
rn_str_t rn_read_string(rn_reader_t *r, bool compact, bool nullable, const char *what);
rn_bytes_t rn_read_bytes(rn_reader_t *r, bool compact, bool nullable, const char *what);

/* An array's element count (INT32 or compact UNSIGNED_VARINT count+1). Returns -1 for null
 * (only when `nullable`), else a count whose elements, at `min_elem_len` bytes each, fit in what
 * is left of the reader. */
int32_t rn_read_array_len(rn_reader_t *r, bool compact, bool nullable, size_t min_elem_len,
                          const char *what);

#endif
