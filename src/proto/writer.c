/* SPDX-License-Identifier: Apache-2.0 */
/* Kafka primitive writers into an rn_outbuf_t (big-endian integers, LEB128 varints). */
#include "proto/writer.h"

#include <string.h>

static void write_be(rn_outbuf_t *w, uint64_t v, size_t n)
{
    uint8_t *p = rn_outbuf_extend(w, n);
    if (p == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

void rn_write_int8(rn_outbuf_t *w, int8_t v)
{
    write_be(w, (uint8_t)v, 1);
}
void rn_write_int16(rn_outbuf_t *w, int16_t v)
{
    write_be(w, (uint16_t)v, 2);
}
void rn_write_int32(rn_outbuf_t *w, int32_t v)
{
    write_be(w, (uint32_t)v, 4);
}
void rn_write_int64(rn_outbuf_t *w, int64_t v)
{
    write_be(w, (uint64_t)v, 8);
}
void rn_write_uint16(rn_outbuf_t *w, uint16_t v)
{
    write_be(w, v, 2);
}
void rn_write_uint32(rn_outbuf_t *w, uint32_t v)
{
    write_be(w, v, 4);
}
void rn_write_bool(rn_outbuf_t *w, bool v)
{
    write_be(w, v ? 1 : 0, 1);
}

void rn_write_float64(rn_outbuf_t *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    write_be(w, bits, 8);
}

void rn_write_uuid(rn_outbuf_t *w, rn_uuid_t v)
{
    rn_outbuf_append(w, v.b, sizeof v.b);
}

void rn_write_uvarlong(rn_outbuf_t *w, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    rn_outbuf_append(w, tmp, n);
}

void rn_write_uvarint(rn_outbuf_t *w, uint32_t v)
{
    rn_write_uvarlong(w, v);
}
void rn_write_varint(rn_outbuf_t *w, int32_t v)
{
    rn_write_uvarlong(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}
void rn_write_varlong(rn_outbuf_t *w, int64_t v)
{
    rn_write_uvarlong(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

size_t rn_uvarint_len(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void write_len(rn_outbuf_t *w, bool compact, bool wide, bool null, size_t len)
{
    if (compact)
        rn_write_uvarint(w, null ? 0 : (uint32_t)len + 1);
    else if (wide)
        rn_write_int32(w, null ? -1 : (int32_t)len);
    else
        rn_write_int16(w, null ? -1 : (int16_t)len);
}

void rn_write_string(rn_outbuf_t *w, bool compact, rn_str_t s)
{
    write_len(w, compact, false, s.ptr == NULL, s.len);
    if (s.ptr != NULL)
        rn_outbuf_append(w, s.ptr, s.len);
}

void rn_write_bytes(rn_outbuf_t *w, bool compact, rn_bytes_t b)
{
    write_len(w, compact, true, b.ptr == NULL, b.len);
    if (b.ptr != NULL)
        rn_outbuf_append(w, b.ptr, b.len);
}

void rn_write_array_len(rn_outbuf_t *w, bool compact, int32_t count)
{
    if (compact)
        rn_write_uvarint(w, count < 0 ? 0 : (uint32_t)count + 1);
    else
        rn_write_int32(w, count < 0 ? -1 : count);
}
