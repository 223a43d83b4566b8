/* SPDX-License-Identifier: Apache-2.0 */
/* Kafka primitive readers. All multi-byte integers are big-endian on the wire; varints are
 * LEB128 (KIP-482 for the unsigned ones in flexible versions, zig-zag for record fields). */
#include "proto/reader.h"

#include <string.h>

rn_reader_t rn_reader_split(rn_reader_t *r, size_t len, const char *what)
{
    rn_reader_t sub = { .cur = r->cur, .end = r->cur, .err = r->err };
    if (rn_reader_need(r, len, what)) {
        sub.end = r->cur + len;
        r->cur += len;
    } else {
        sub.err = r->err;
    }
    return sub;
}

void rn_reader_skip(rn_reader_t *r, size_t len, const char *what)
{
    if (rn_reader_need(r, len, what))
        r->cur += len;
}

static uint64_t read_be(rn_reader_t *r, size_t n, const char *what)
{
    if (!rn_reader_need(r, n, what))
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | r->cur[i];
    r->cur += n;
    return v;
}

int8_t rn_read_int8(rn_reader_t *r, const char *what)
{
    return (int8_t)read_be(r, 1, what);
}
int16_t rn_read_int16(rn_reader_t *r, const char *what)
{
    return (int16_t)read_be(r, 2, what);
}
int32_t rn_read_int32(rn_reader_t *r, const char *what)
{
    return (int32_t)read_be(r, 4, what);
}
int64_t rn_read_int64(rn_reader_t *r, const char *what)
{
    return (int64_t)read_be(r, 8, what);
}
uint16_t rn_read_uint16(rn_reader_t *r, const char *what)
{
    return (uint16_t)read_be(r, 2, what);
}
uint32_t rn_read_uint32(rn_reader_t *r, const char *what)
{
    return (uint32_t)read_be(r, 4, what);
}

double rn_read_float64(rn_reader_t *r, const char *what)
{
    uint64_t bits = read_be(r, 8, what);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* Kafka reads any non-zero byte as true. */
bool rn_read_bool(rn_reader_t *r, const char *what)
{
    return read_be(r, 1, what) != 0;
}

rn_uuid_t rn_read_uuid(rn_reader_t *r, const char *what)
{
    rn_uuid_t u = { { 0 } };
    if (rn_reader_need(r, sizeof u.b, what)) {
        memcpy(u.b, r->cur, sizeof u.b);
        r->cur += sizeof u.b;
    }
    return u;
}

/* At most `max_bytes` bytes; the last allowed byte may carry only the bits that still fit. */
static uint64_t read_uvar(rn_reader_t *r, unsigned max_bytes, unsigned width, const char *what)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < max_bytes; i++) {
        if (!rn_reader_need(r, 1, what))
            return 0;
        uint8_t b = *r->cur++;
        unsigned shift = 7 * i;
        if (i == max_bytes - 1 && (b >> (width - shift)) != 0) {
            rn_reader_fail(r, what);
            return 0;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0)
            return v;
    }
    rn_reader_fail(r, what);
    return 0;
}

uint32_t rn_read_uvarint(rn_reader_t *r, const char *what)
{
    return (uint32_t)read_uvar(r, 5, 32, what);
}
uint64_t rn_read_uvarlong(rn_reader_t *r, const char *what)
{
    return read_uvar(r, 10, 64, what);
}

int32_t rn_read_varint(rn_reader_t *r, const char *what)
{
    uint32_t u = rn_read_uvarint(r, what);
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

int64_t rn_read_varlong(rn_reader_t *r, const char *what)
{
    uint64_t u = rn_read_uvarlong(r, what);
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

/* Reads a length prefix and returns -1 for null, or a length known to fit in the reader. */
static int64_t read_len(rn_reader_t *r, bool compact, bool wide, bool nullable, const char *what)
{
    int64_t len;
    if (compact)
        len = (int64_t)rn_read_uvarint(r, what) - 1;
    else
        len = wide ? rn_read_int32(r, what) : rn_read_int16(r, what);
    if (!rn_reader_ok(r))
        return -1;
    if (len == -1 && nullable)
        return -1;
    if (len < 0) {
        rn_reader_fail(r, what);
        return -1;
    }
    if (!rn_reader_need(r, (size_t)len, what))
        return -1;
    return len;
}

rn_str_t rn_read_string(rn_reader_t *r, bool compact, bool nullable, const char *what)
{
    rn_str_t s = { NULL, 0 };
    int64_t len = read_len(r, compact, false, nullable, what);
    if (len >= 0) {
        s.ptr = (const char *)r->cur;
        s.len = (size_t)len;
        r->cur += len;
    }
    return s;
}

rn_bytes_t rn_read_bytes(rn_reader_t *r, bool compact, bool nullable, const char *what)
{
    rn_bytes_t b = { NULL, 0 };
    int64_t len = read_len(r, compact, true, nullable, what);
    if (len >= 0) {
        b.ptr = r->cur;
        b.len = (size_t)len;
        r->cur += len;
    }
    return b;
}

int32_t rn_read_array_len(rn_reader_t *r, bool compact, bool nullable, size_t min_elem_len,
                          const char *what)
{
    int64_t n;
    if (compact)
        n = (int64_t)rn_read_uvarint(r, what) - 1;
    else
        n = rn_read_int32(r, what);
    if (!rn_reader_ok(r))
        return 0;
    if (n == -1 && nullable)
        return -1;
    if (n < 0 || n > INT32_MAX) {
        rn_reader_fail(r, what);
        return 0;
    }
    /* A count the remaining bytes cannot hold is rejected before anyone allocates for it. */
    if (min_elem_len > 0 && (uint64_t)n > rn_reader_left(r) / min_elem_len) {
        rn_reader_fail(r, what);
        return 0;
    }
    return (int32_t)n;
}
