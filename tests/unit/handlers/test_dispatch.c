/* SPDX-License-Identifier: Apache-2.0 */
/* The dispatcher and the first handlers, driven without a socket: a frame in, and what the
 * broker would do with the connection out. */
#include "kerr_assert.h"
#include <criterion/criterion.h>
#include <string.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"
#include "handlers/handlers.h"
#include "proto/writer.h"
#include "topics/topics.h"

typedef struct outcome {
    rn_finish_t how;
    int calls;
    uint8_t bytes[4096];
    size_t len;
} outcome_t;

static void capture(rn_request_t *req, rn_finish_t how)
{
    outcome_t *o = req->finish_ctx;
    o->how = how;
    o->calls++;
    if (how == RN_FINISH_RESPOND) {
        cr_assert_eq(req->out.nsplices, 0);
        cr_assert_leq(req->out.len, sizeof o->bytes);
        memcpy(o->bytes, req->out.data, req->out.len);
        o->len = req->out.len;
    }
}

static rn_broker_info_t info = { .node_id = 1,
                                 .cluster_id = "test-cluster",
                                 .advertised_host = "127.0.0.1" };

/* A real, empty topic registry in a temporary log directory. */
static char dir[64];
static rn_config_t cfg;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/rn-dispatch-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    runnel_config_t *p = runnel_config_new();
    runnel_config_set(p, "log.dirs", dir);
    runnel_config_set(p, "auto.create.topics.enable", "false");
    char err[256];
    cr_assert_eq(rn_config_build(p, &cfg, err, sizeof err), 0, "%s", err);
    runnel_config_free(p);
    cr_assert_eq(rn_topics_open(&cfg, &info.topics), 0);
    info.config = &cfg;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    rn_topics_close(info.topics);
    info.topics = NULL;
    rn_config_deinit(&cfg);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(dispatch, .init = setup, .fini = teardown);

static outcome_t run(const uint8_t *frame, size_t len)
{
    static outcome_t o;
    memset(&o, 0, sizeof o);
    atomic_store(&info.advertised_port, 9092);
    rn_request_t req;
    memset(&req, 0, sizeof req);
    req.frame = frame;
    req.frame_len = len;
    req.peer = "test";
    req.broker = &info;
    rn_arena_init(&req.arena, 0);
    rn_outbuf_init(&req.out);
    req.finish = capture;
    req.finish_ctx = &o;
    rn_handlers_dispatch(&req);
    rn_outbuf_deinit(&req.out);
    rn_arena_deinit(&req.arena);
    cr_assert_eq(o.calls, 1, "every request is finished exactly once");
    return o;
}

static int32_t be32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}
static int16_t be16(const uint8_t *p)
{
    return (int16_t)(p[0] << 8 | p[1]);
}

Test(dispatch, unknown_api_key_closes_the_connection)
{
    static const uint8_t frame[] = { 0x03, 0xe7, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff };
    cr_assert_eq(run(frame, sizeof frame).how, RN_FINISH_CLOSE);
}

Test(dispatch, unsupported_version_of_a_known_api_closes_the_connection)
{
    static const uint8_t frame[] = { 0x00, 0x03, 0x00, 0x63, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff };
    cr_assert_eq(run(frame, sizeof frame).how, RN_FINISH_CLOSE);
}

Test(dispatch, api_versions_of_an_unknown_version_answers_35_with_a_v0_body)
{
    static const uint8_t frame[] = { 0x00, 0x12, 0x03, 0xe7, 0x00, 0x00, 0x00,
                                     0x2a, 0x00, 0x01, 'x',  0x12, 0x34 };
    outcome_t o = run(frame, sizeof frame);
    cr_assert_eq(o.how, RN_FINISH_RESPOND);
    cr_assert_eq(be32(o.bytes), (int32_t)o.len - 4, "size prefix");
    cr_assert_eq(be32(o.bytes + 4), 42, "correlation id, header v0");
    cr_assert_eq(be16(o.bytes + 8), 35, "UNSUPPORTED_VERSION");
    int32_t n = be32(o.bytes + 10);
    cr_assert_eq((size_t)(14 + 6 * n), o.len,
                 "a v0 body: INT32 array of 6-byte entries, nothing after");
    bool has_api_versions = false;
    for (int32_t i = 0; i < n; i++)
        if (be16(o.bytes + 14 + 6 * i) == 18)
            has_api_versions = true;
    cr_assert(has_api_versions);
}

Test(dispatch, api_versions_v3_with_an_invalid_software_name_is_invalid_request)
{
    static const uint8_t frame[] = {
        0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x05, 0xff,
        0xff, 0x00, 0x03, '-',  'x',  0x02, '1',  0x00,
    };
    outcome_t o = run(frame, sizeof frame);
    cr_assert_eq(o.how, RN_FINISH_RESPOND);
    cr_assert_eq(be32(o.bytes + 4), 5);
    cr_assert_eq(be16(o.bytes + 8), 42, "INVALID_REQUEST");
}

Test(dispatch, api_versions_v3_lists_metadata_and_itself)
{
    static const uint8_t frame[] = {
        0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x05, 0xff,
        0xff, 0x00, 0x03, 'r',  'k',  0x02, '1',  0x00,
    };
    outcome_t o = run(frame, sizeof frame);
    cr_assert_eq(o.how, RN_FINISH_RESPOND);
    rn_reader_t r;
    rn_reader_init(&r, o.bytes + 8, o.len - 8); /* header v0 even for a flexible body */
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_api_versions_response_t resp;
    cr_assert_eq(rn_api_versions_response_decode(&r, 3, &arena, &resp), RN_DECODE_OK);
    cr_assert_eq(rn_reader_left(&r), 0);
    assert_kerr(resp.error_code, 0);
    int found = 0;
    for (int32_t i = 0; i < resp.api_keys.count; i++) {
        const rn_api_versions_response_api_version_t *a = &resp.api_keys.items[i];
        cr_assert_eq(a->min_version, 0, "ranges start at v0 (CLIENTS.md rule 2)");
        if (a->api_key == 3 && a->max_version == 13) /* KIP-1102 top-level error: issue 10 */
            found++;
        if (a->api_key == 18 && a->max_version >= 3)
            found++;
    }
    cr_assert_eq(found, 2);
    rn_arena_deinit(&arena);
}

/* An ApiVersions v5 request (KIP-1242) for `cluster_id` (NULL: null) and `node_id`, answered. */
static rn_api_versions_response_t api_versions_v5(const char *cluster_id, int32_t node_id,
                                                  rn_arena_t *arena)
{
    rn_api_versions_request_t body;
    rn_api_versions_request_init(&body);
    body.client_software_name = rn_str_from_cstr("t");
    body.client_software_version = rn_str_from_cstr("1");
    body.cluster_id = cluster_id != NULL ? rn_str_from_cstr(cluster_id) : (rn_str_t){ NULL, 0 };
    body.node_id = node_id;
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_write_int16(&w, RN_API_API_VERSIONS);
    rn_write_int16(&w, 5);
    rn_write_int32(&w, 9);
    rn_write_string(&w, false, rn_str_from_cstr("c"));
    rn_write_uvarint(&w, 0); /* request header v2: empty tag section */
    rn_api_versions_request_encode(&w, 5, &body);
    outcome_t o = run(w.data, w.len);
    rn_outbuf_deinit(&w);
    cr_assert_eq(o.how, RN_FINISH_RESPOND);
    rn_reader_t r;
    rn_reader_init(&r, o.bytes + 8, o.len - 8); /* response header v0 */
    rn_api_versions_response_t resp;
    cr_assert_eq(rn_api_versions_response_decode(&r, 5, arena, &resp), RN_DECODE_OK);
    return resp;
}

Test(dispatch, api_versions_v5_refuses_a_client_that_means_another_cluster_or_node)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    assert_kerr(api_versions_v5(NULL, -1, &arena).error_code, 0, "nothing asked");
    rn_api_versions_response_t resp = api_versions_v5("test-cluster", 1, &arena);
    assert_kerr(resp.error_code, 0, "this cluster and node");
    cr_assert_gt(resp.api_keys.count, 0);
    assert_kerr(api_versions_v5("other", 1, &arena).error_code, RN_KERR_REBOOTSTRAP_REQUIRED);
    assert_kerr(api_versions_v5("test-cluster", 2, &arena).error_code,
                RN_KERR_REBOOTSTRAP_REQUIRED);
    rn_arena_deinit(&arena);
}

Test(dispatch, metadata_v1_lists_this_broker_as_controller_and_unknown_topics)
{
    static const uint8_t frame[] = {
        0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x09, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',
    };
    outcome_t o = run(frame, sizeof frame);
    cr_assert_eq(o.how, RN_FINISH_RESPOND);
    rn_reader_t r;
    rn_reader_init(&r, o.bytes + 8, o.len - 8);
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_metadata_response_t resp;
    cr_assert_eq(rn_metadata_response_decode(&r, 1, &arena, &resp), RN_DECODE_OK);
    cr_assert_eq(resp.brokers.count, 1);
    cr_assert_eq(resp.brokers.items[0].node_id, 1);
    cr_assert_eq(resp.brokers.items[0].port, 9092);
    cr_assert(rn_str_eq_cstr(resp.brokers.items[0].host, "127.0.0.1"));
    cr_assert_eq(resp.controller_id, 1);
    cr_assert_eq(resp.topics.count, 1);
    cr_assert_eq(resp.topics.items[0].error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION: no fake topics");
    rn_arena_deinit(&arena);
}

Test(dispatch, metadata_v9_uses_response_header_v1)
{
    static const uint8_t frame[] = {
        0x00, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x09,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    };
    outcome_t o = run(frame, sizeof frame);
    cr_assert_eq(o.how, RN_FINISH_RESPOND);
    cr_assert_eq(o.bytes[8], 0x00, "empty header tag section");
    rn_reader_t r;
    rn_reader_init(&r, o.bytes + 9, o.len - 9);
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_metadata_response_t resp;
    cr_assert_eq(rn_metadata_response_decode(&r, 9, &arena, &resp), RN_DECODE_OK);
    cr_assert(rn_str_eq_cstr(resp.cluster_id, "test-cluster"));
    cr_assert_eq(resp.topics.count, 0, "null topics: all topics, and there are none yet");
    rn_arena_deinit(&arena);
}

/* Kafka 4.4 ignores bytes after a whole request body, and librdkafka 2.16 relies on it: its
 * AdminClient list_topics sends this Metadata v13 (captured with strace from confluent-kafka
 * 2.16.1, librdkafka 2.16.0), three bytes longer than the body, and Kafka answers it. */
Test(dispatch, bytes_after_a_whole_body_are_ignored_as_kafka_ignores_them)
{
    static const uint8_t librdkafka_2_16_list_topics[] = {
        0x00, 0x03, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x03, 0x00, 0x07, 'r',  'd',  'k',
        'a',  'f',  'k',  'a',  0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    };
    cr_assert_eq(run(librdkafka_2_16_list_topics, sizeof librdkafka_2_16_list_topics).how,
                 RN_FINISH_RESPOND);
    static const uint8_t v1_with_garbage[] = {
        0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x09,
        0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xde, 0xad,
    };
    cr_assert_eq(run(v1_with_garbage, sizeof v1_with_garbage).how, RN_FINISH_RESPOND);
}

Test(dispatch, a_hostile_array_count_closes_the_connection)
{
    static const uint8_t frame[] = {
        0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x09, 0x00,
        0x00, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x01, 't',
    };
    cr_assert_eq(run(frame, sizeof frame).how, RN_FINISH_CLOSE);
}

Test(dispatch, every_truncation_of_a_metadata_request_closes_or_answers_without_a_crash)
{
    static const uint8_t frame[] = {
        0x00, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x09, 0x00, 0x02, 'i',  'd',
        0x00, 0x02, 0x04, 'f',  'o',  'o',  0x00, 0x01, 0x00, 0x00, 0x00,
    };
    for (size_t n = 0; n < sizeof frame; n++) {
        uint8_t copy[sizeof frame];
        memcpy(copy, frame, n);
        cr_assert_eq(run(copy, n).how, RN_FINISH_CLOSE, "%zu-byte prefix", n);
    }
    cr_assert_eq(run(frame, sizeof frame).how, RN_FINISH_RESPOND);
}
