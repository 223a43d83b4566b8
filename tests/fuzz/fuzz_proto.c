/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the proto codecs generated from the proto/ schemas. The input is
 * decoded as the body of every API's request and response at every version. Whenever a decode
 * succeeds, the message is encoded again, the encoding decoded, and that re-encoded: the two
 * encodings must be the same bytes (the first may differ from the input, which can hold
 * non-canonical varints or trailing bytes). The input is also tried as a whole request (header
 * v1 or v2 then the body of the API and version the header names), as the dispatcher reads one.
 * Build with -Dfuzz=true (clang); see scripts/fuzz. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/messages.h"

#define ARENA_LIMIT (64u << 20)

static void check_round_trip(const rn_proto_api_t *api, int16_t version, bool request,
                             const void *msg, size_t msg_size)
{
    void (*encode)(rn_outbuf_t *, int16_t, const void *) =
        request ? api->request_encode : api->response_encode;
    rn_decode_t (*decode)(rn_reader_t *, int16_t, rn_arena_t *, void *) =
        request ? api->request_decode : api->response_decode;

    rn_outbuf_t first, second;
    rn_outbuf_init(&first);
    rn_outbuf_init(&second);
    encode(&first, version, msg);
    if (first.failed)
        goto out;

    rn_arena_t arena;
    rn_arena_init(&arena, ARENA_LIMIT);
    void *again = rn_arena_try_alloc(&arena, msg_size);
    if (again == NULL)
        goto out_arena;
    rn_reader_t r;
    static const uint8_t none[1];
    /* An empty outbuf has no data pointer; the reader wants one even for 0 bytes. */
    rn_reader_init(&r, first.data != NULL ? first.data : none, first.len);
    if (decode(&r, version, &arena, again) != RN_DECODE_OK) {
        fprintf(stderr, "%s %s v%d: own encoding (%zu bytes) does not decode: %s\n", api->name,
                request ? "request" : "response", version, first.len, r.err ? r.err : "?");
        abort();
    }
    if (rn_reader_left(&r) != 0) {
        fprintf(stderr, "%s %s v%d: own encoding leaves %zu of %zu bytes unread\n", api->name,
                request ? "request" : "response", version, rn_reader_left(&r), first.len);
        abort();
    }
    encode(&second, version, again);
    if (second.failed)
        goto out_arena;
    if (first.len != second.len ||
        (first.len > 0 && memcmp(first.data, second.data, first.len) != 0)) {
        fprintf(stderr, "%s %s v%d: re-encoding differs (%zu vs %zu bytes)\n", api->name,
                request ? "request" : "response", version, first.len, second.len);
        abort();
    }
out_arena:
    rn_arena_deinit(&arena);
out:
    rn_outbuf_deinit(&first);
    rn_outbuf_deinit(&second);
}

static void try_body(const rn_proto_api_t *api, int16_t version, bool request, const uint8_t *data,
                     size_t size)
{
    size_t msg_size = request ? api->request_size : api->response_size;
    rn_decode_t (*decode)(rn_reader_t *, int16_t, rn_arena_t *, void *) =
        request ? api->request_decode : api->response_decode;
    rn_arena_t arena;
    rn_arena_init(&arena, ARENA_LIMIT);
    void *msg = rn_arena_try_alloc(&arena, msg_size);
    if (msg != NULL) {
        rn_reader_t r;
        rn_reader_init(&r, data, size);
        rn_decode_t rc = decode(&r, version, &arena, msg);
        if (rc == RN_DECODE_OK) {
            if (r.cur > r.end) {
                fprintf(stderr, "%s v%d: reader past its end\n", api->name, version);
                abort();
            }
            check_round_trip(api, version, request, msg, msg_size);
        }
    }
    rn_arena_deinit(&arena);
}

/* The input as a request frame without its size prefix. */
static void try_request(const uint8_t *data, size_t size)
{
    for (int16_t hv = 1; hv <= 2; hv++) {
        rn_arena_t arena;
        rn_arena_init(&arena, ARENA_LIMIT);
        rn_reader_t r;
        rn_reader_init(&r, data, size);
        rn_request_header_t h;
        memset(&h, 0, sizeof h);
        if (rn_request_header_decode(&r, hv, &arena, &h) == RN_DECODE_OK) {
            const rn_proto_api_t *api = rn_proto_api_find(h.request_api_key);
            int16_t v = h.request_api_version;
            if (api != NULL && v >= api->min_version && v <= api->max_version) {
                bool flexible = api->flexible_min >= 0 && v >= api->flexible_min;
                if ((hv == 2) == flexible)
                    try_body(api, v, true, r.cur, rn_reader_left(&r));
            }
        }
        rn_arena_deinit(&arena);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_request(data, size);
    for (size_t i = 0; i < rn_proto_api_count; i++) {
        const rn_proto_api_t *api = &rn_proto_apis[i];
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            try_body(api, v, true, data, size);
            try_body(api, v, false, data, size);
        }
    }
    return 0;
}
