/* SPDX-License-Identifier: Apache-2.0 */
/* An outgoing message under construction: bytes in memory with file ranges spliced in at
 * given positions. The proto encoders write into it; the network layer sends the memory parts
 * with writev and the file ranges with sendfile, so record bytes never pass through user space.
 *
 * Wire order is: data[0, s0.at), range s0, data[s0.at, s1.at), range s1, ..., data[sN.at, len). */
#ifndef RN_UTIL_OUTBUF_H
#define RN_UTIL_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* `len` bytes of the open file `fd` from byte `pos`. Whoever holds the range keeps the file
 * alive until it calls `release(owner)` (exactly once, when sent or dropped; may be NULL). */
typedef struct rn_file_range {
    int fd;
    int64_t pos;
    size_t len;
    void (*release)(void *owner);
    void *owner;
} rn_file_range_t;

typedef struct rn_splice {
    size_t at; /* position in data before which the range goes */
    rn_file_range_t range;
} rn_splice_t;

typedef struct rn_outbuf {
    uint8_t *data;
    size_t len, cap;
    rn_splice_t *splices;
    size_t nsplices, splices_cap;
    bool failed; /* an allocation failed: the content is incomplete */
} rn_outbuf_t;

void rn_outbuf_init(rn_outbuf_t *out);
/* Frees the memory and releases every range still held. */
void rn_outbuf_deinit(rn_outbuf_t *out);

/* Appends `n` uninitialised bytes and returns them, or NULL (and sets `failed`) when memory
 * runs out; after a failure every later call does nothing. */
uint8_t *rn_outbuf_extend(rn_outbuf_t *out, size_t n);
void rn_outbuf_append(rn_outbuf_t *out, const void *src, size_t n);
/* Appends a file range at the current end. Takes ownership of the range on every path: on
 * failure the range is released and `failed` is set. */
void rn_outbuf_append_file(rn_outbuf_t *out, const rn_file_range_t *range);
/* Overwrites 4 bytes at `at` (which must already be written) with `v`, big-endian. */
void rn_outbuf_patch_be32(rn_outbuf_t *out, size_t at, uint32_t v);
/* Bytes in memory plus bytes in ranges: what goes on the wire. */
size_t rn_outbuf_wire_len(const rn_outbuf_t *out);
/* Moves the content of `src` into `dst` (which must be initialised and empty) and leaves
 * `src` empty. */
void rn_outbuf_move(rn_outbuf_t *dst, rn_outbuf_t *src);

#endif
