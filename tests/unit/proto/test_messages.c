/* SPDX-License-Identifier: Apache-2.0 */
/* Every generated message, request and response, at its lowest, highest and first flexible
 * version: filled with varied values (messages_sample.c), encoded, decoded and encoded again
 * to the same bytes; and every proper prefix of the encoding is rejected without a crash. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/messages.h"

typedef struct side {
    const char *what;
    size_t size;
    rn_decode_t (*decode)(rn_reader_t *, int16_t, rn_arena_t *, void *);
    void (*encode)(rn_outbuf_t *, int16_t, const void *);
    void (*sample)(void *, int16_t, rn_arena_t *, unsigned *);
} side_t;

static void encode_sample(const side_t *s, int16_t v, unsigned seed, rn_arena_t *arena,
                          rn_outbuf_t *out)
{
    void *msg = rn_arena_try_alloc(arena, s->size);
    cr_assert_not_null(msg);
    s->sample(msg, v, arena, &seed);
    s->encode(out, v, msg);
    cr_assert_not(out->failed);
}

static void round_trip(const rn_proto_api_t *api, const side_t *s, int16_t v, unsigned seed)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_outbuf_t first, second;
    rn_outbuf_init(&first);
    rn_outbuf_init(&second);
    encode_sample(s, v, seed, &arena, &first);

    void *decoded = rn_arena_try_alloc(&arena, s->size);
    rn_reader_t r;
    rn_reader_init(&r, first.data, first.len);
    rn_decode_t res = s->decode(&r, v, &arena, decoded);
    cr_assert_eq(res, RN_DECODE_OK, "%s %s v%d (seed %u): %s", api->name, s->what, v, seed, r.err);
    cr_assert_eq(rn_reader_left(&r), 0, "%s %s v%d left %zu bytes", api->name, s->what, v,
                 rn_reader_left(&r));
    s->encode(&second, v, decoded);
    cr_assert_eq(first.len, second.len, "%s %s v%d: %zu then %zu bytes", api->name, s->what, v,
                 first.len, second.len);
    cr_assert(first.len == 0 || memcmp(first.data, second.data, first.len) == 0,
              "%s %s v%d re-encodes differently", api->name, s->what, v);

    /* Every proper prefix must fail: a decoder that says OK on fewer bytes read garbage. */
    for (size_t n = 0; n < first.len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact-size copy so ASan sees any over-read */
        if (n > 0)
            memcpy(copy, first.data, n);
        rn_arena_t scratch;
        rn_arena_init(&scratch, 0);
        void *m = rn_arena_try_alloc(&scratch, s->size);
        rn_reader_init(&r, copy, n);
        cr_assert_eq(s->decode(&r, v, &scratch, m), RN_DECODE_INVALID,
                     "%s %s v%d: %zu-byte prefix of %zu decoded", api->name, s->what, v, n,
                     first.len);
        rn_arena_deinit(&scratch);
        free(copy);
    }
    rn_outbuf_deinit(&first);
    rn_outbuf_deinit(&second);
    rn_arena_deinit(&arena);
}

static void check_versions(const rn_proto_api_t *api, const side_t *s)
{
    int16_t versions[3] = { api->min_version, api->max_version, api->flexible_min };
    for (int i = 0; i < 3; i++) {
        if (versions[i] < 0)
            continue;
        for (unsigned seed = 1; seed <= 6; seed++)
            round_trip(api, s, versions[i], seed * 7919u);
    }
}

Test(messages, every_request_round_trips_and_rejects_every_truncation)
{
    cr_assert_geq(rn_proto_api_count, 41, "all 41 APIs of issue #3 have schemas");
    for (size_t i = 0; i < rn_proto_api_count; i++) {
        const rn_proto_api_t *api = &rn_proto_apis[i];
        cr_assert_not_null(api->request_sample, "sample filler linked");
        side_t s = { "request", api->request_size, api->request_decode, api->request_encode,
                     api->request_sample };
        check_versions(api, &s);
    }
}

Test(messages, every_response_round_trips_and_rejects_every_truncation)
{
    for (size_t i = 0; i < rn_proto_api_count; i++) {
        const rn_proto_api_t *api = &rn_proto_apis[i];
        side_t s = { "response", api->response_size, api->response_decode, api->response_encode,
                     api->response_sample };
        check_versions(api, &s);
    }
}

Test(messages, every_version_in_between_round_trips)
{
    for (size_t i = 0; i < rn_proto_api_count; i++) {
        const rn_proto_api_t *api = &rn_proto_apis[i];
        side_t req = { "request", api->request_size, api->request_decode, api->request_encode,
                       api->request_sample };
        side_t resp = { "response", api->response_size, api->response_decode, api->response_encode,
                        api->response_sample };
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            rn_arena_t arena;
            rn_arena_init(&arena, 0);
            for (int k = 0; k < 2; k++) {
                const side_t *s = k ? &resp : &req;
                rn_outbuf_t out;
                rn_outbuf_init(&out);
                encode_sample(s, v, 12345u + (unsigned)v, &arena, &out);
                void *m = rn_arena_try_alloc(&arena, s->size);
                rn_reader_t r;
                rn_reader_init(&r, out.data, out.len);
                cr_assert_eq(s->decode(&r, v, &arena, m), RN_DECODE_OK, "%s %s v%d: %s", api->name,
                             s->what, v, r.err);
                cr_assert_eq(rn_reader_left(&r), 0);
                rn_outbuf_deinit(&out);
            }
            rn_arena_deinit(&arena);
        }
    }
}

Test(messages, unknown_tagged_fields_are_skipped)
{
    /* Metadata v9 request: null topics, allow_auto_topic_creation,
     * include_topic_authorized_operations, include_cluster_authorized_operations, then a tag
     * section carrying two unknown tags. */
    static const uint8_t bytes[] = { 0x00, 0x01, 0x00, 0x00, 0x02, 0x07,
                                     0x01, 0xaa, 0x09, 0x02, 0xbb, 0xcc };
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_metadata_request_t m;
    rn_reader_t r;
    rn_reader_init(&r, bytes, sizeof bytes);
    cr_assert_eq(rn_metadata_request_decode(&r, 9, &arena, &m), RN_DECODE_OK, "%s", r.err);
    cr_assert_eq(rn_reader_left(&r), 0);
    cr_assert_eq(m.topics.count, -1);
    cr_assert(m.allow_auto_topic_creation);
    rn_arena_deinit(&arena);
}

Test(messages, tagged_field_size_must_match_its_content)
{
    /* ApiVersions v3 response whose tag 1 (finalized_features_epoch, int64) claims 2 bytes. */
    static const uint8_t bytes[] = { 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                     0x00, 0x01, 0x01, 0x02, 0x00, 0x01 };
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_api_versions_response_t m;
    rn_reader_t r;
    rn_reader_init(&r, bytes, sizeof bytes);
    cr_assert_eq(rn_api_versions_response_decode(&r, 3, &arena, &m), RN_DECODE_INVALID);
    rn_arena_deinit(&arena);
}

Test(messages, header_versions)
{
    static const uint8_t v1[] = { 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2a, 0xff, 0xff };
    static const uint8_t v2[] = { 0x00, 0x03, 0x00, 0x09, 0x00, 0x00,
                                  0x00, 0x2a, 0x00, 0x01, 'c',  0x00 };
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_request_header_t h;
    rn_reader_t r;
    rn_reader_init(&r, v1, sizeof v1);
    cr_assert_eq(rn_request_header_decode(&r, 1, &arena, &h), RN_DECODE_OK);
    cr_assert_eq(h.correlation_id, 42);
    cr_assert_null(h.client_id.ptr, "header v1 client id may be null");
    rn_reader_init(&r, v2, sizeof v2);
    cr_assert_eq(rn_request_header_decode(&r, 2, &arena, &h), RN_DECODE_OK);
    cr_assert(rn_str_eq_cstr(h.client_id, "c"), "header v2 keeps an INT16 client id");
    cr_assert_eq(rn_reader_left(&r), 0);
    rn_arena_deinit(&arena);
}
