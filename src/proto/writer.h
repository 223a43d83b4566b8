/* SPDX-License-Identifier: Apache-2.0 */
/* Writing Kafka primitives into an rn_outbuf_t. Writers never fail on their own: an allocation
 * failure marks the outbuf failed and the caller checks `failed` once, at the end. */
#ifndef RN_PROTO_WRITER_H
#define RN_PROTO_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/bytes.h"
#include "util/outbuf.h"

void rn_write_int8(rn_outbuf_t *w, int8_t v);
void rn_write_int16(rn_outbuf_t *w, int16_t v);
void rn_write_int32(rn_outbuf_t *w, int32_t v);
void rn_write_int64(rn_outbuf_t *w, int64_t v);
void rn_write_uint16(rn_outbuf_t *w, uint16_t v);
void rn_write_uint32(rn_outbuf_t *w, uint32_t v);
void rn_write_float64(rn_outbuf_t *w, double v);
void rn_write_bool(rn_outbuf_t *w, bool v);
void rn_write_uuid(rn_outbuf_t *w, rn_uuid_t v);
void rn_write_uvarint(rn_outbuf_t *w, uint32_t v);
void rn_write_uvarlong(rn_outbuf_t *w, uint64_t v);
void rn_write_varint(rn_outbuf_t *w, int32_t v);
void rn_write_varlong(rn_outbuf_t *w, int64_t v);
/* Bytes a uvarint encoding of `v` takes (1 to 5). */
size_t rn_uvarint_len(uint32_t v);

/* A NULL `ptr` writes null (length -1, or 0 in compact form). */
void rn_write_string(rn_outbuf_t *w, bool compact, rn_str_t s);
void rn_write_bytes(rn_outbuf_t *w, bool compact, rn_bytes_t b);
/* An array length; -1 writes null. */
void rn_write_array_len(rn_outbuf_t *w, bool compact, int32_t count);

#endif
