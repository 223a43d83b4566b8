/* SPDX-License-Identifier: Apache-2.0 */
/* Hand-made byte vectors, laid out from the Kafka protocol guide field by field, for the two
 * messages every client sends first: ApiVersions (v0 and v3) and Metadata (v0 and v9); and for
 * OffsetCommit v10 and OffsetFetch v9-v10, whose responses are bytes Apache Kafka 4.4 sent. */
#include <criterion/criterion.h>
#include <string.h>

#include "proto/messages.h"

static void assert_encodes_to(const rn_outbuf_t *w, const uint8_t *want, size_t len)
{
    cr_assert_eq(w->len, len, "encoded %zu bytes, want %zu", w->len, len);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(w->data[i], want[i], "byte %zu: 0x%02x, want 0x%02x", i, w->data[i], want[i]);
}

/* ApiVersions v3 request as librdkafka 2.0.2 sends it: header v2, then compact strings. */
static const uint8_t api_versions_v3_request[] = {
    0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,      /* key 18, version 3, correlation 1 */
    0x00, 0x07, 'r',  'd',  'k',  'a',  'f',  'k',  'a', /* client id: INT16 string even in v2 */
    0x00,                                                /* header tag section */
    0x0b, 'l',  'i',  'b',  'r',  'd',  'k',  'a',  'f', 'k', 'a', /* client_software_name, len+1 */
    0x06, '2',  '.',  '0',  '.',  '2',                             /* client_software_version */
    0x00,                                                          /* body tag section */
};

Test(vectors, api_versions_v3_request_decodes)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_reader_t r;
    rn_reader_init(&r, api_versions_v3_request, sizeof api_versions_v3_request);
    rn_request_header_t h;
    cr_assert_eq(rn_request_header_decode(&r, 2, &arena, &h), RN_DECODE_OK);
    cr_assert_eq(h.request_api_key, 18);
    cr_assert_eq(h.request_api_version, 3);
    cr_assert_eq(h.correlation_id, 1);
    cr_assert(rn_str_eq_cstr(h.client_id, "rdkafka"));
    rn_api_versions_request_t body;
    cr_assert_eq(rn_api_versions_request_decode(&r, 3, &arena, &body), RN_DECODE_OK, "%s", r.err);
    cr_assert(rn_str_eq_cstr(body.client_software_name, "librdkafka"));
    cr_assert(rn_str_eq_cstr(body.client_software_version, "2.0.2"));
    cr_assert_eq(rn_reader_left(&r), 0);
    rn_arena_deinit(&arena);
}

Test(vectors, api_versions_v0_request_is_header_only)
{
    static const uint8_t req[] = { 0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00 };
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_reader_t r;
    rn_reader_init(&r, req, sizeof req);
    rn_request_header_t h;
    cr_assert_eq(rn_request_header_decode(&r, 1, &arena, &h), RN_DECODE_OK);
    cr_assert_eq(h.correlation_id, 7);
    rn_api_versions_request_t body;
    cr_assert_eq(rn_api_versions_request_decode(&r, 0, &arena, &body), RN_DECODE_OK);
    cr_assert_eq(rn_reader_left(&r), 0);
    rn_arena_deinit(&arena);
}

static void two_apis(rn_api_versions_response_t *resp,
                     rn_api_versions_response_api_version_t items[2])
{
    rn_api_versions_response_init(resp);
    rn_api_versions_response_api_version_init(&items[0]);
    rn_api_versions_response_api_version_init(&items[1]);
    items[0] = (rn_api_versions_response_api_version_t){ .api_key = 3,
                                                         .min_version = 0,
                                                         .max_version = 12 };
    items[1] = (rn_api_versions_response_api_version_t){ .api_key = 18,
                                                         .min_version = 0,
                                                         .max_version = 4 };
    resp->api_keys.items = items;
    resp->api_keys.count = 2;
}

Test(vectors, api_versions_v0_response_encodes)
{
    rn_api_versions_response_t resp;
    rn_api_versions_response_api_version_t items[2];
    two_apis(&resp, items);
    resp.error_code = 35;
    static const uint8_t want[] = {
        0x00, 0x23,                         /* error_code 35 */
        0x00, 0x00, 0x00, 0x02,             /* INT32 array length */
        0x00, 0x03, 0x00, 0x00, 0x00, 0x0c, /* Metadata 0-12 */
        0x00, 0x12, 0x00, 0x00, 0x00, 0x04, /* ApiVersions 0-4 */
    };
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_api_versions_response_encode(&w, 0, &resp);
    assert_encodes_to(&w, want, sizeof want);
    rn_outbuf_deinit(&w);
}

Test(vectors, api_versions_v3_response_encodes)
{
    rn_api_versions_response_t resp;
    rn_api_versions_response_api_version_t items[2];
    two_apis(&resp, items);
    static const uint8_t want[] = {
        0x00, 0x00,                               /* error_code */
        0x03,                                     /* compact array: 2 entries + 1 */
        0x00, 0x03, 0x00, 0x00, 0x00, 0x0c, 0x00, /* entry + its empty tag section */
        0x00, 0x12, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, /* throttle_time_ms */
        0x00, /* tags: defaults are not written */
    };
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_api_versions_response_encode(&w, 3, &resp);
    assert_encodes_to(&w, want, sizeof want);

    /* A non-default tagged field is written: finalized_features_epoch = 5 as tag 1, 8 bytes. */
    resp.finalized_features_epoch = 5;
    rn_outbuf_t t;
    rn_outbuf_init(&t);
    rn_api_versions_response_encode(&t, 3, &resp);
    static const uint8_t tail[] = { 0x01, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x05 };
    cr_assert_eq(t.len, sizeof want - 1 + sizeof tail);
    cr_assert_eq(memcmp(t.data + sizeof want - 1, tail, sizeof tail), 0);
    rn_outbuf_deinit(&t);
    rn_outbuf_deinit(&w);
}

Test(vectors, metadata_v0_request_and_response)
{
    static const uint8_t req[] = { 0x00, 0x00, 0x00, 0x01, 0x00, 0x03, 'f', 'o', 'o' };
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_reader_t r;
    rn_reader_init(&r, req, sizeof req);
    rn_metadata_request_t m;
    cr_assert_eq(rn_metadata_request_decode(&r, 0, &arena, &m), RN_DECODE_OK);
    cr_assert_eq(m.topics.count, 1);
    cr_assert(rn_str_eq_cstr(m.topics.items[0].name, "foo"));
    cr_assert(m.allow_auto_topic_creation, "v0-v3 may always auto-create (default true)");

    rn_metadata_response_t resp;
    rn_metadata_response_init(&resp);
    rn_metadata_response_broker_t b;
    rn_metadata_response_broker_init(&b);
    b.node_id = 1;
    b.host = rn_str_from_cstr("h");
    b.port = 9092;
    resp.brokers.items = &b;
    resp.brokers.count = 1;
    rn_metadata_response_topic_t t;
    rn_metadata_response_topic_init(&t);
    t.error_code = 3;
    t.name = rn_str_from_cstr("foo");
    resp.topics.items = &t;
    resp.topics.count = 1;
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x01, /* brokers */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 'h',  0x00,
        0x00, 0x23, 0x84, 0x00, 0x00, 0x00, 0x01, /* topics */
        0x00, 0x03, 0x00, 0x03, 'f',  'o',  'o',  /* error 3, name */
        0x00, 0x00, 0x00, 0x00,                   /* no partitions */
    };
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_metadata_response_encode(&w, 0, &resp);
    assert_encodes_to(&w, want, sizeof want);
    rn_outbuf_deinit(&w);
    rn_arena_deinit(&arena);
}

Test(vectors, metadata_v9_request_and_response)
{
    static const uint8_t req[] = {
        0x02, 0x04, 'f',  'o', 'o', 0x00, /* compact array of 1: compact name, topic tags */
        0x01, 0x00, 0x01,                 /* allow auto-create, cluster ops, topic ops */
        0x00,                             /* tags */
    };
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_reader_t r;
    rn_reader_init(&r, req, sizeof req);
    rn_metadata_request_t m;
    cr_assert_eq(rn_metadata_request_decode(&r, 9, &arena, &m), RN_DECODE_OK, "%s", r.err);
    cr_assert_eq(rn_reader_left(&r), 0);
    cr_assert_eq(m.topics.count, 1);
    cr_assert(rn_str_eq_cstr(m.topics.items[0].name, "foo"));
    cr_assert(m.include_topic_authorized_operations);

    rn_metadata_response_t resp;
    rn_metadata_response_init(&resp);
    rn_metadata_response_broker_t b;
    rn_metadata_response_broker_init(&b);
    b.node_id = 1;
    b.host = rn_str_from_cstr("h");
    b.port = 9092;
    resp.brokers.items = &b;
    resp.brokers.count = 1;
    resp.cluster_id = rn_str_from_cstr("c");
    resp.controller_id = 1;
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x00,                                          /* throttle_time_ms */
        0x02,                                                            /* brokers: 1 + 1 */
        0x00, 0x00, 0x00, 0x01, 0x02, 'h', 0x00, 0x00, 0x23, 0x84, 0x00, /* rack: null */
        0x00,                                                            /* broker tags */
        0x02, 'c',                                                       /* cluster_id */
        0x00, 0x00, 0x00, 0x01,                                          /* controller_id */
        0x01,                                                            /* topics: empty */
        0x80, 0x00, 0x00, 0x00, /* cluster_authorized_operations default */
        0x00,                   /* tags */
    };
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_metadata_response_encode(&w, 9, &resp);
    assert_encodes_to(&w, want, sizeof want);
    rn_outbuf_deinit(&w);
    rn_arena_deinit(&arena);
}

static int released;
static void count_release(void *owner)
{
    (void)owner;
    released++;
}

Test(vectors, fetch_records_from_a_file_range_become_a_splice)
{
    /* Fetch v4 response: throttle, one topic, one partition whose records are 100 file bytes. */
    rn_file_range_t range = { .fd = 7, .pos = 4096, .len = 100, .release = count_release };
    rn_fetch_response_partition_t part;
    rn_fetch_response_partition_init(&part);
    part.records.file = &range;
    rn_fetch_response_topic_t topic;
    rn_fetch_response_topic_init(&topic);
    topic.topic = rn_str_from_cstr("t");
    topic.partitions.items = &part;
    topic.partitions.count = 1;
    rn_fetch_response_t resp;
    rn_fetch_response_init(&resp);
    resp.responses.items = &topic;
    resp.responses.count = 1;

    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_fetch_response_encode(&w, 4, &resp);
    cr_assert_eq(w.nsplices, 1);
    cr_assert_eq(w.splices[0].at, w.len, "the records are the last bytes of the body");
    cr_assert_eq(w.splices[0].range.pos, 4096);
    cr_assert_eq(rn_outbuf_wire_len(&w), w.len + 100);
    const uint8_t *len = w.data + w.len - 4;
    cr_assert_eq(len[0] << 24 | len[1] << 16 | len[2] << 8 | len[3], 100,
                 "INT32 size of the file bytes");
    released = 0;
    rn_outbuf_deinit(&w);
    cr_assert_eq(released, 1, "the outbuf owned the range and released it");
}

Test(vectors, fetch_v12_does_not_write_tagged_structs_left_at_default)
{
    rn_fetch_response_partition_t part;
    rn_fetch_response_partition_init(&part);
    rn_fetch_response_topic_t topic;
    rn_fetch_response_topic_init(&topic);
    topic.topic = rn_str_from_cstr("t");
    topic.partitions.items = &part;
    topic.partitions.count = 1;
    rn_fetch_response_t resp;
    rn_fetch_response_init(&resp);
    resp.responses.items = &topic;
    resp.responses.count = 1;
    rn_outbuf_t a, b;
    rn_outbuf_init(&a);
    rn_outbuf_init(&b);
    rn_fetch_response_encode(&a, 12, &resp);
    part.current_leader.leader_id = 1; /* now it differs: tag 1 is written */
    rn_fetch_response_encode(&b, 12, &resp);
    cr_assert_gt(b.len, a.len);
    rn_outbuf_deinit(&a);
    rn_outbuf_deinit(&b);
}

/* ---- OffsetCommit v10 and OffsetFetch v9-v10 (KIP-848): topics by id ---- */

/* The topic id in the answers Kafka 4.4 gave (a topic it created). */
static const uint8_t kafka_topic_id[16] = { 0x5c, 0x48, 0x2b, 0x0d, 0x41, 0xb5, 0x4e, 0x5a,
                                            0xaf, 0xbd, 0xd6, 0x58, 0x44, 0x9e, 0xe8, 0x74 };

Test(vectors, offset_commit_v10_request_names_topics_by_id)
{
    static const uint8_t req[] = {
        0x02, 'g',                                      /* group_id */
        0x00, 0x00, 0x00, 0x03,                         /* generation_id_or_member_epoch */
        0x02, 'm',                                      /* member_id */
        0x00,                                           /* group_instance_id: null */
        0x02,                                           /* topics: 1 + 1 */
        0x5c, 0x48, 0x2b, 0x0d, 0x41, 0xb5, 0x4e, 0x5a, /* topic_id, in place of the name */
        0xaf, 0xbd, 0xd6, 0x58, 0x44, 0x9e, 0xe8, 0x74, /* */
        0x02,                                           /* partitions: 1 + 1 */
        0x00, 0x00, 0x00, 0x01,                         /* partition_index */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, /* committed_offset */
        0xff, 0xff, 0xff, 0xff,                         /* committed_leader_epoch */
        0x03, 'm',  'd',                                /* committed_metadata */
        0x00, 0x00, 0x00,                               /* partition, topic, request tags */
    };
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_reader_t r;
    rn_reader_init(&r, req, sizeof req);
    rn_offset_commit_request_t body;
    cr_assert_eq(rn_offset_commit_request_decode(&r, 10, &arena, &body), RN_DECODE_OK, "%s", r.err);
    cr_assert_eq(rn_reader_left(&r), 0);
    cr_assert(rn_str_eq_cstr(body.group_id, "g"));
    cr_assert_eq(body.generation_id_or_member_epoch, 3);
    cr_assert_null(body.group_instance_id.ptr);
    cr_assert_eq(body.topics.count, 1);
    cr_assert_eq(memcmp(body.topics.items[0].topic_id.b, kafka_topic_id, 16), 0);
    cr_assert_eq(body.topics.items[0].name.len, 0, "v10 has no topic name");
    cr_assert_eq(body.topics.items[0].partitions.count, 1);
    cr_assert_eq(body.topics.items[0].partitions.items[0].partition_index, 1);
    cr_assert_eq(body.topics.items[0].partitions.items[0].committed_offset, 5);
    cr_assert(rn_str_eq_cstr(body.topics.items[0].partitions.items[0].committed_metadata, "md"));
    /* The same bytes at v9 read a name where the id is: its length byte 0x5c runs past the end. */
    rn_reader_init(&r, req, sizeof req);
    cr_assert_neq(rn_offset_commit_request_decode(&r, 9, &arena, &body), RN_DECODE_OK);
    rn_arena_deinit(&arena);
}

Test(vectors, offset_commit_v10_response_is_what_kafka_sends)
{
    rn_offset_commit_response_partition_t p;
    rn_offset_commit_response_partition_init(&p);
    rn_offset_commit_response_topic_t t;
    rn_offset_commit_response_topic_init(&t);
    memcpy(t.topic_id.b, kafka_topic_id, 16);
    t.name = rn_str_from_cstr("not on the wire");
    t.partitions.items = &p;
    t.partitions.count = 1;
    rn_offset_commit_response_t resp;
    rn_offset_commit_response_init(&resp);
    resp.topics.items = &t;
    resp.topics.count = 1;
    /* Kafka 4.4's body (after the response header's tag section) for a commit of partition 0. */
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x00, 0x02, 0x5c, 0x48, 0x2b, 0x0d, 0x41, 0xb5,
        0x4e, 0x5a, 0xaf, 0xbd, 0xd6, 0x58, 0x44, 0x9e, 0xe8, 0x74, 0x02,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_offset_commit_response_encode(&w, 10, &resp);
    assert_encodes_to(&w, want, sizeof want);
    rn_outbuf_deinit(&w);
}

Test(vectors, offset_fetch_v9_request_carries_member_id_and_epoch)
{
    static const uint8_t req[] = {
        0x02,                               /* groups: 1 + 1 */
        0x02, 'g',                          /* group_id */
        0x02, 'm',                          /* member_id */
        0x00, 0x00, 0x00, 0x04,             /* member_epoch */
        0x02, 0x02, 't',                    /* topics: 1 + 1; name */
        0x02, 0x00, 0x00, 0x00, 0x07, 0x00, /* partition_indexes [7]; topic tags */
        0x00,                               /* group tags */
        0x01,                               /* require_stable */
        0x00,                               /* tags */
    };
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_reader_t r;
    rn_reader_init(&r, req, sizeof req);
    rn_offset_fetch_request_t body;
    cr_assert_eq(rn_offset_fetch_request_decode(&r, 9, &arena, &body), RN_DECODE_OK, "%s", r.err);
    cr_assert_eq(rn_reader_left(&r), 0);
    cr_assert_eq(body.groups.count, 1);
    cr_assert(rn_str_eq_cstr(body.groups.items[0].member_id, "m"));
    cr_assert_eq(body.groups.items[0].member_epoch, 4);
    cr_assert(rn_str_eq_cstr(body.groups.items[0].topics.items[0].name, "t"));
    cr_assert_eq(body.groups.items[0].topics.items[0].partition_indexes.items[0], 7);
    cr_assert(body.require_stable);
    rn_arena_deinit(&arena);
}

Test(vectors, offset_fetch_v10_request_names_topics_by_id)
{
    static const uint8_t req[] = {
        0x02,                                                 /* groups: 1 + 1 */
        0x02, 'g',                                            /* group_id */
        0x00,                                                 /* member_id: null */
        0xff, 0xff, 0xff, 0xff,                               /* member_epoch -1 */
        0x02,                                                 /* topics: 1 + 1 */
        0x5c, 0x48, 0x2b, 0x0d, 0x41, 0xb5, 0x4e, 0x5a,       /* topic_id, in place of the name */
        0xaf, 0xbd, 0xd6, 0x58, 0x44, 0x9e, 0xe8, 0x74,       /* */
        0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* partition_indexes [0, 1] */
        0x00, 0x00, 0x00, 0x00, /* topic tags, group tags, require_stable, tags */
    };
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_reader_t r;
    rn_reader_init(&r, req, sizeof req);
    rn_offset_fetch_request_t body;
    cr_assert_eq(rn_offset_fetch_request_decode(&r, 10, &arena, &body), RN_DECODE_OK, "%s", r.err);
    cr_assert_eq(rn_reader_left(&r), 0);
    cr_assert_eq(body.groups.count, 1);
    cr_assert_null(body.groups.items[0].member_id.ptr);
    cr_assert_eq(body.groups.items[0].member_epoch, -1);
    cr_assert_eq(body.groups.items[0].topics.count, 1);
    const rn_offset_fetch_request_group_topic_t *t = &body.groups.items[0].topics.items[0];
    cr_assert_eq(memcmp(t->topic_id.b, kafka_topic_id, 16), 0);
    cr_assert_eq(t->name.len, 0, "v10 has no topic name");
    cr_assert_eq(t->partition_indexes.count, 2);
    cr_assert_eq(t->partition_indexes.items[1], 1);
    cr_assert_not(body.require_stable);
    rn_arena_deinit(&arena);
}

Test(vectors, offset_fetch_v10_response_is_what_kafka_sends)
{
    rn_offset_fetch_response_group_partition_t p[2];
    rn_offset_fetch_response_group_partition_init(&p[0]);
    rn_offset_fetch_response_group_partition_init(&p[1]);
    p[0].committed_offset = 5;
    p[0].metadata = rn_str_from_cstr("md");
    p[1].partition_index = 1;
    p[1].committed_offset = -1;
    p[1].metadata = rn_str_from_cstr("");
    rn_offset_fetch_response_group_topic_t t;
    rn_offset_fetch_response_group_topic_init(&t);
    memcpy(t.topic_id.b, kafka_topic_id, 16);
    t.name = rn_str_from_cstr("not on the wire");
    t.partitions.items = p;
    t.partitions.count = 2;
    rn_offset_fetch_response_group_t g;
    rn_offset_fetch_response_group_init(&g);
    g.group_id = rn_str_from_cstr("g");
    g.topics.items = &t;
    g.topics.count = 1;
    rn_offset_fetch_response_t resp;
    rn_offset_fetch_response_init(&resp);
    resp.groups.items = &g;
    resp.groups.count = 1;
    /* Kafka 4.4's body for group g, partitions 0 (offset 5, metadata "md") and 1 (none). */
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x67, 0x02, 0x5c, 0x48, 0x2b, 0x0d, 0x41, 0xb5, 0x4e,
        0x5a, 0xaf, 0xbd, 0xd6, 0x58, 0x44, 0x9e, 0xe8, 0x74, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0xff, 0xff, 0xff, 0xff, 0x03, 0x6d, 0x64, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_offset_fetch_response_encode(&w, 10, &resp);
    assert_encodes_to(&w, want, sizeof want);
    rn_outbuf_deinit(&w);
}
