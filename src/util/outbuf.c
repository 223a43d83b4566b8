/* SPDX-License-Identifier: Apache-2.0 */
/* An outgoing message: memory bytes with file ranges spliced in (see outbuf.h for the wire
 * order). Responses can be large and their size follows what clients asked for, so growth
 * failures are reported through `failed` instead of aborting; the caller then fails that one
 * response. Ranges are owned from the moment they are appended: each is released exactly once,
 * by rn_outbuf_deinit or by the network writer once it has been sent. */
#include "util/outbuf.h"
#include "util/endian.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP 256
#define MIN_SPLICES 4

void rn_outbuf_init(rn_outbuf_t *out)
{
    *out = (rn_outbuf_t){ 0 };
}

static void release_range(rn_file_range_t *range)
{
    if (range->release != NULL) {
        void (*release)(void *) = range->release;
        range->release = NULL; /* a second deinit must not release it again */
        release(range->owner);
    }
}

void rn_outbuf_deinit(rn_outbuf_t *out)
{
    for (size_t i = 0; i < out->nsplices; i++)
        release_range(&out->splices[i].range);
    free(out->data);
    free(out->splices);
    rn_outbuf_init(out);
}

/* Makes room for `n` more bytes, at least doubling so appends stay amortised O(1). */
static bool reserve(rn_outbuf_t *out, size_t n)
{
    if (out->failed)
        return false;
    if (n <= out->cap - out->len && out->data != NULL)
        return true;
    if (n > SIZE_MAX / 2 - out->len) {
        out->failed = true;
        return false;
    }
    size_t need = out->len + n;
    size_t cap = out->cap > MIN_CAP / 2 ? out->cap * 2 : MIN_CAP;
    while (cap < need)
        cap *= 2;
    uint8_t *data = realloc(out->data, cap);
    if (data == NULL) {
        out->failed = true;
        return false;
    }
    out->data = data;
    out->cap = cap;
    return true;
}

uint8_t *rn_outbuf_extend(rn_outbuf_t *out, size_t n)
{
    if (!reserve(out, n))
        return NULL;
    uint8_t *p = out->data + out->len;
    out->len += n;
    return p;
}

void rn_outbuf_append(rn_outbuf_t *out, const void *src, size_t n)
{
    uint8_t *p = rn_outbuf_extend(out, n);
    if (p != NULL && n > 0)
        memcpy(p, src, n);
}

/* Sets `failed` when the splice array cannot grow. */
static void grow_splices(rn_outbuf_t *out)
{
    size_t cap = out->splices_cap ? out->splices_cap * 2 : MIN_SPLICES;
    rn_splice_t *splices = NULL;
    if (cap <= SIZE_MAX / sizeof(rn_splice_t))
        splices = realloc(out->splices, cap * sizeof(rn_splice_t));
    if (splices == NULL) {
        out->failed = true;
        return;
    }
    out->splices = splices;
    out->splices_cap = cap;
}

void rn_outbuf_append_file(rn_outbuf_t *out, const rn_file_range_t *range)
{
    if (!out->failed && out->nsplices == out->splices_cap)
        grow_splices(out);
    if (out->failed) {
        rn_file_range_t dropped = *range; /* the range is ours on this path too */
        release_range(&dropped);
        return;
    }
    out->splices[out->nsplices++] = (rn_splice_t){ .at = out->len, .range = *range };
}

void rn_outbuf_patch_be32(rn_outbuf_t *out, size_t at, uint32_t v)
{
    if (out->failed)
        return;
    assert(at <= out->len && out->len - at >= 4);
    rn_store_be32(out->data + at, v);
}

size_t rn_outbuf_wire_len(const rn_outbuf_t *out)
{
    size_t len = out->len;
    for (size_t i = 0; i < out->nsplices; i++)
        len += out->splices[i].range.len;
    return len;
}

void rn_outbuf_move(rn_outbuf_t *dst, rn_outbuf_t *src)
{
    assert(dst->len == 0 && dst->nsplices == 0);
    free(dst->data);
    free(dst->splices);
    *dst = *src;
    rn_outbuf_init(src);
}
