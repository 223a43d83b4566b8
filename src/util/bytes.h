/* SPDX-License-Identifier: Apache-2.0 */
/* Borrowed views of bytes and strings. A view never owns its memory: the comment at each use
 * says which buffer it points into (usually the connection's receive buffer for a request).
 * A NULL `ptr` is the wire's null (length -1); an empty value has a non-NULL `ptr`. */
#ifndef RN_UTIL_BYTES_H
#define RN_UTIL_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct rn_bytes {
    const uint8_t *ptr;
    size_t len;
} rn_bytes_t;

typedef struct rn_str {
    const char *ptr; /* not NUL-terminated */
    size_t len;
} rn_str_t;

static inline rn_str_t rn_str_from_cstr(const char *s)
{
    return (rn_str_t){ .ptr = s, .len = s ? strlen(s) : 0 };
}

static inline bool rn_str_eq_cstr(rn_str_t s, const char *c)
{
    size_t n = strlen(c);
    return s.ptr != NULL && s.len == n && memcmp(s.ptr, c, n) == 0;
}

/* Same bytes (two null strings are equal; null and "" are not). */
static inline bool rn_str_eq(rn_str_t a, rn_str_t b)
{
    if (a.ptr == NULL || b.ptr == NULL)
        return a.ptr == b.ptr;
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

typedef struct rn_uuid {
    uint8_t b[16];
} rn_uuid_t;

#endif
