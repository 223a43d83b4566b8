/* SPDX-License-Identifier: Apache-2.0 */
/* Fetch (src/handlers/fetch.c) driven through rn_handlers_dispatch with real frames, against a
 * real topic registry in a temporary data directory. The records of a response are file ranges
 * (sent with sendfile); the fixture reads them in, so each test sees the bytes a consumer gets
 * and walks the batches in them. Without a loop a fetch cannot park: one that would wait for
 * min_bytes answers at once with what is there (long polling is covered by the integration
 * tests). */
#include "handlers/fixture.h"
#include "kerr_assert.h"
#include "log/log.h"
#include "records/builder.h"
#include "records/records.h"

/* Every batch appended here: five records with 100-byte values, so all have one size. */
#define RECORDS_PER_BATCH 5
static size_t batch_len;

static tb_buf_t make_batch(void)
{
    tb_spec_t s = { .nrecords = RECORDS_PER_BATCH, .value_len = 100, .base_timestamp = NOW };
    return tb_batch(&s);
}

static void append(const char *topic, int32_t partition, int nbatches)
{
    for (int i = 0; i < nbatches; i++) {
        tb_buf_t b = make_batch();
        fixture_append(topic, partition, b.p, b.len, -1);
        batch_len = b.len;
        free(b.p);
    }
}

/* t-0: offsets 0-14 in three batches; t-1: 0-9 in two; u-0: empty. */
static void start(void)
{
    fixture_start("fetch", "auto.create.topics.enable=false\n", false);
    rn_topic_spec_t spec = { .name = S("t"), .num_partitions = 2, .replication_factor = 1 };
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
    spec.name = S("u");
    spec.num_partitions = 1;
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
    append("t", 0, 3);
    append("t", 1, 2);
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(fetch_handler, .init = start, .fini = stop);

/* ---- request builders ---- */

typedef struct want {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int32_t max_bytes; /* partition_max_bytes */
} want_t;

/* A request as consumers send it (min_bytes 1, max_wait 500 ms, no session); each partition
 * gets its own topic entry, named by id from v13. */
typedef struct fetch_body {
    rn_fetch_request_t body;
    rn_fetch_request_topic_t topics[4];
    rn_fetch_request_partition_t parts[4];
} fetch_body_t;

static rn_uuid_t id_of(const char *topic)
{
    rn_topic_t *t = rn_topics_get(fx.topics, S(topic));
    cr_assert_not_null(t);
    rn_uuid_t id = t->id;
    rn_topic_unref(t);
    return id;
}

static void fetch_body_init(fetch_body_t *b, int16_t version, const want_t *parts, int n)
{
    cr_assert_leq(n, 4);
    rn_fetch_request_init(&b->body);
    b->body.max_wait_ms = 500;
    b->body.min_bytes = 1;
    for (int i = 0; i < n; i++) {
        rn_fetch_request_topic_init(&b->topics[i]);
        rn_fetch_request_partition_init(&b->parts[i]);
        if (version >= 13)
            b->topics[i].topic_id = id_of(parts[i].topic);
        else
            b->topics[i].topic = S(parts[i].topic);
        b->parts[i].partition = parts[i].partition;
        b->parts[i].fetch_offset = parts[i].offset;
        b->parts[i].partition_max_bytes = parts[i].max_bytes;
        b->topics[i].partitions.items = &b->parts[i];
        b->topics[i].partitions.count = 1;
    }
    b->body.topics.items = b->topics;
    b->body.topics.count = n;
}

/* Sends `b`; answers each partition's response in request order into `out`. */
static rn_fetch_response_t fetch_body(int16_t version, const fetch_body_t *b,
                                      rn_fetch_response_partition_t *out)
{
    rn_fetch_response_t resp;
    call(RN_API_FETCH, version, &b->body, &resp);
    cr_assert_eq(resp.responses.count, b->body.topics.count);
    for (int32_t i = 0; i < resp.responses.count; i++) {
        const rn_fetch_response_topic_t *rt = &resp.responses.items[i];
        if (version >= 13)
            cr_assert_eq(memcmp(rt->topic_id.b, b->topics[i].topic_id.b, 16), 0);
        else
            cr_assert(rt->topic.len == b->topics[i].topic.len &&
                      memcmp(rt->topic.ptr, b->topics[i].topic.ptr, rt->topic.len) == 0);
        cr_assert_eq(rt->partitions.count, 1);
        out[i] = rt->partitions.items[0];
        cr_assert_eq(out[i].partition_index, b->parts[i].partition);
    }
    return resp;
}

static rn_fetch_response_t fetch_v(int16_t version, int32_t max_bytes, const want_t *parts, int n,
                                   rn_fetch_response_partition_t *out)
{
    fetch_body_t b;
    fetch_body_init(&b, version, parts, n);
    b.body.max_bytes = max_bytes;
    return fetch_body(version, &b, out);
}

static rn_fetch_response_partition_t fetch(int16_t version, const char *topic, int32_t partition,
                                           int64_t offset)
{
    want_t w = { topic, partition, offset, 1 << 20 };
    rn_fetch_response_partition_t out;
    fetch_v(version, 50 << 20, &w, 1, &out);
    return out;
}

/* ---- what came back ---- */

typedef struct batches {
    int count;      /* whole batches, each with a valid CRC */
    int64_t first;  /* base offset of the first; -1 without any */
    int64_t next;   /* the offset after the last record of the last one */
    size_t whole;   /* bytes in whole batches */
    size_t partial; /* bytes after them: a cut batch, which clients skip */
} batches_t;

static batches_t batches_in(rn_records_t rec)
{
    cr_assert_null(rec.file, "a decoded response holds bytes");
    batches_t b = { .first = -1, .next = -1 };
    size_t pos = 0;
    while (pos < rec.len) {
        rn_batch_header_t h;
        if (rn_batch_parse_header(rec.ptr + pos, rec.len - pos, &h) != RN_DECODE_OK ||
            rn_batch_size(&h) > rec.len - pos)
            break;
        cr_assert(rn_batch_crc_ok(rec.ptr + pos, rn_batch_size(&h)));
        if (b.count == 0)
            b.first = h.base_offset;
        else
            cr_assert_eq(h.base_offset, b.next, "batches follow each other");
        b.next = h.base_offset + h.last_offset_delta + 1;
        b.count++;
        pos += rn_batch_size(&h);
    }
    b.whole = pos;
    b.partial = rec.len - pos;
    return b;
}

/* The partition answered without error with `count` whole batches from `first`, then
 * `partial` bytes of the next one (Kafka cuts a fetch where max_bytes ends). */
static void assert_cut(const rn_fetch_response_partition_t *p, int count, int64_t first,
                       size_t partial)
{
    assert_kerr(p->error_code, 0);
    batches_t b = batches_in(p->records);
    cr_assert_eq(b.count, count);
    cr_assert_eq(b.partial, partial);
    if (count > 0) {
        cr_assert_eq(b.first, first);
        cr_assert_eq(b.next, first + (int64_t)count * RECORDS_PER_BATCH);
    }
}

/* The same with whole batches only. */
static void assert_batches(const rn_fetch_response_partition_t *p, int count, int64_t first)
{
    assert_cut(p, count, first, 0);
}

/* ---- records and offsets ---- */

Test(fetch_handler, records_come_back_as_appended_at_every_version)
{
    tb_buf_t want = make_batch();
    for (int16_t v = 4; v <= 18; v++) {
        rn_fetch_response_partition_t p = fetch(v, "t", 0, 0);
        assert_batches(&p, 3, 0);
        cr_assert_eq(p.high_watermark, 15, "v%d", v);
        cr_assert_eq(p.last_stable_offset, 15, "no transactions: the high watermark");
        if (v >= 5)
            cr_assert_eq(p.log_start_offset, 0);
        if (v >= 11)
            cr_assert_eq(p.preferred_read_replica, -1, "read from the leader");
        cr_assert_eq(p.records.len, 3 * want.len);
        /* Each batch is the one appended: only base offset and leader epoch were set. */
        for (int i = 0; i < 3; i++)
            cr_assert_eq(memcmp(p.records.ptr + (size_t)i * want.len + 16, want.p + 16,
                                want.len - 16),
                         0, "v%d batch %d", v, i);
    }
    free(want.p);
}

Test(fetch_handler, the_top_level_answer_has_no_error_and_no_session)
{
    want_t w = { "t", 1, 0, 1 << 20 };
    rn_fetch_response_partition_t p;
    rn_fetch_response_t resp = fetch_v(12, 1 << 20, &w, 1, &p);
    assert_kerr(resp.error_code, 0);
    cr_assert_eq(resp.session_id, 0, "sessions (KIP-227) are not kept");
    assert_batches(&p, 2, 0);
    cr_assert_eq(p.high_watermark, 10);
}

Test(fetch_handler, read_committed_reads_up_to_the_high_watermark)
{
    want_t w = { "t", 0, 0, 1 << 20 };
    fetch_body_t b;
    fetch_body_init(&b, 11, &w, 1);
    b.body.isolation_level = 1; /* READ_COMMITTED */
    rn_fetch_response_partition_t p;
    fetch_body(11, &b, &p);
    assert_batches(&p, 3, 0);
    cr_assert_eq(p.last_stable_offset, p.high_watermark);
    cr_assert_eq(p.aborted_transactions.count, 0, "no aborted transactions: an empty list");
}

/* What Kafka 4.4 answers in aborted_transactions: null to read_uncommitted and for a read that
 * failed, an empty list to read_committed and for an unknown partition. */
Test(fetch_handler, aborted_transactions_is_null_or_empty_as_in_kafka)
{
    cr_assert_eq(fetch(11, "t", 0, 0).aborted_transactions.count, -1, "read_uncommitted");
    cr_assert_eq(fetch(11, "t", 0, 99).aborted_transactions.count, -1, "out of range");
    cr_assert_eq(fetch(11, "t", 9, 0).aborted_transactions.count, 0, "unknown partition");
    want_t w = { "t", 0, 99, 1 << 20 };
    fetch_body_t b;
    fetch_body_init(&b, 11, &w, 1);
    b.body.isolation_level = 1;
    rn_fetch_response_partition_t p;
    fetch_body(11, &b, &p);
    assert_kerr(p.error_code, RN_KERR_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(p.aborted_transactions.count, -1, "read_committed, out of range");
}

Test(fetch_handler, a_fetch_inside_the_log_starts_at_the_batch_holding_the_offset)
{
    rn_fetch_response_partition_t p = fetch(12, "t", 0, 7);
    assert_batches(&p, 2, 5);
    p = fetch(12, "t", 0, 14);
    assert_batches(&p, 1, 10);
    p = fetch(12, "t", 0, 15);
    assert_batches(&p, 0, -1);
    cr_assert_eq(p.records.len, 0, "at the high watermark: nothing yet, no error");
    cr_assert_eq(p.high_watermark, 15);
    p = fetch(12, "u", 0, 0);
    assert_batches(&p, 0, -1);
    cr_assert_eq(p.high_watermark, 0);
}

Test(fetch_handler, an_offset_outside_the_log_is_offset_out_of_range)
{
    /* Kafka 4.4 answers -1 for the offsets of a partition out of range (the consumer asks
     * ListOffsets to reset). */
    rn_fetch_response_partition_t p = fetch(12, "t", 0, 16);
    assert_kerr(p.error_code, RN_KERR_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(p.high_watermark, -1);
    cr_assert_eq(p.last_stable_offset, -1);
    cr_assert_eq(p.log_start_offset, -1);
    cr_assert_eq(p.records.len, 0);
    assert_kerr(fetch(12, "t", 0, -1).error_code, RN_KERR_OFFSET_OUT_OF_RANGE);
    /* Below the log start offset after DeleteRecords. */
    cr_assert_eq(rn_log_delete_records(fixture_log_of("t", 0), 5), 0);
    p = fetch(12, "t", 0, 4);
    assert_kerr(p.error_code, RN_KERR_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(p.log_start_offset, -1);
    cr_assert_eq(p.high_watermark, -1);
    p = fetch(12, "t", 0, 5);
    assert_batches(&p, 2, 5);
    cr_assert_eq(p.log_start_offset, 5);
}

/* ---- max_bytes and partition_max_bytes (KIP-74) ---- */

Test(fetch_handler, the_first_batch_goes_out_whole_when_max_bytes_is_smaller)
{
    /* KIP-74: otherwise a consumer stuck behind one large batch never makes progress. */
    want_t w = { "t", 0, 0, 1 << 20 };
    rn_fetch_response_partition_t p;
    fetch_v(12, 1, &w, 1, &p);
    assert_batches(&p, 1, 0);
    w.max_bytes = 1;
    fetch_v(12, 1 << 20, &w, 1, &p);
    assert_batches(&p, 1, 0);
    w.max_bytes = 0;
    fetch_v(12, 1 << 20, &w, 1, &p);
    assert_batches(&p, 1, 0);
}

/* Kafka reads max_bytes from the segment and sends them, cut wherever that ends: the last
 * batch may be partial, and consumers skip it (asked of Kafka 4.4 with the same fetch). */
Test(fetch_handler, max_bytes_cuts_the_records_where_it_ends)
{
    int32_t two = (int32_t)(2 * batch_len);
    want_t w = { "t", 0, 0, 1 << 20 };
    rn_fetch_response_partition_t p;
    fetch_v(12, two, &w, 1, &p);
    assert_batches(&p, 2, 0);
    fetch_v(12, two - 1, &w, 1, &p);
    assert_cut(&p, 1, 0, batch_len - 1);
    fetch_v(12, two + (int32_t)batch_len, &w, 1, &p);
    assert_batches(&p, 3, 0);
    /* The same for partition_max_bytes. */
    w.max_bytes = two;
    fetch_v(12, 1 << 20, &w, 1, &p);
    assert_batches(&p, 2, 0);
    w.max_bytes = two - 1;
    fetch_v(12, 1 << 20, &w, 1, &p);
    assert_cut(&p, 1, 0, batch_len - 1);
    /* Never past the end of the log. */
    w.max_bytes = 1 << 20;
    fetch_v(12, (int32_t)(3 * batch_len) + 7, &w, 1, &p);
    assert_batches(&p, 3, 0);
}

Test(fetch_handler, partition_max_bytes_applies_to_each_partition)
{
    int32_t one = (int32_t)batch_len;
    want_t w[] = { { "t", 0, 0, one + 1 }, { "t", 1, 0, one + 1 } };
    rn_fetch_response_partition_t p[2];
    fetch_v(12, 1 << 20, w, 2, p);
    assert_cut(&p[0], 1, 0, 1);
    assert_cut(&p[1], 1, 0, 1);
    w[1].max_bytes = 2 * one;
    fetch_v(12, 1 << 20, w, 2, p);
    assert_cut(&p[0], 1, 0, 1);
    assert_batches(&p[1], 2, 0);
}

Test(fetch_handler, once_max_bytes_is_used_up_later_partitions_get_no_records)
{
    int32_t three = (int32_t)(3 * batch_len);
    want_t w[] = { { "t", 0, 0, 1 << 20 }, { "t", 1, 0, 1 << 20 } };
    rn_fetch_response_partition_t p[2];
    fetch_v(12, three, w, 2, p);
    assert_batches(&p[0], 3, 0);
    assert_batches(&p[1], 0, -1);
    cr_assert_eq(p[1].high_watermark, 10, "the offsets are there all the same");
    cr_assert_eq(p[1].last_stable_offset, 10);
    cr_assert_eq(p[1].log_start_offset, 0);
    fetch_v(12, three + 2 * (int32_t)batch_len, w, 2, p);
    assert_batches(&p[0], 3, 0);
    assert_batches(&p[1], 2, 0);
}

Test(fetch_handler, the_first_partition_with_data_gets_its_first_batch_whole)
{
    want_t w[] = { { "u", 0, 0, 1 << 20 }, { "t", 1, 0, 1 << 20 } };
    rn_fetch_response_partition_t p[2];
    fetch_v(12, 1, w, 2, p);
    assert_batches(&p[0], 0, -1);
    assert_batches(&p[1], 1, 0);
}

/* Kafka (ReplicaManager.readFromLocalLog) lets only the first partition with data exceed the
 * limits: later partitions read with minOneMessage=false and at most the bytes left, so the
 * response stays within max_bytes. */
Test(fetch_handler, a_later_partition_never_pushes_the_response_past_max_bytes)
{
    int32_t max_bytes = (int32_t)(3 * batch_len) + 1;
    want_t w[] = { { "t", 0, 0, 1 << 20 }, { "t", 1, 0, 1 << 20 } };
    rn_fetch_response_partition_t p[2];
    fetch_v(12, max_bytes, w, 2, p);
    assert_batches(&p[0], 3, 0);
    cr_assert_eq(batches_in(p[1].records).count, 0);
    cr_assert_leq(p[0].records.len + p[1].records.len, (size_t)max_bytes);
}

/* The same for partition_max_bytes: it bounds every partition but the first one with data. */
Test(fetch_handler, partition_max_bytes_bounds_a_later_partition)
{
    int32_t below = (int32_t)batch_len - 1;
    want_t w[] = { { "t", 0, 0, 1 << 20 }, { "t", 1, 0, below } };
    rn_fetch_response_partition_t p[2];
    fetch_v(12, 1 << 20, w, 2, p);
    assert_batches(&p[0], 3, 0);
    cr_assert_eq(batches_in(p[1].records).count, 0);
    cr_assert_leq(p[1].records.len, (size_t)below);
}

/* ---- errors ---- */

Test(fetch_handler, a_current_leader_epoch_other_than_the_leaders_is_refused_from_v9)
{
    want_t w = { "t", 0, 0, 1 << 20 };
    int32_t epochs[] = { 3, -1, 0 }; /* newer, none given, the leader's own */
    rn_kerr_t want[] = { RN_KERR_UNKNOWN_LEADER_EPOCH, RN_KERR_NONE, RN_KERR_NONE };
    for (int i = 0; i < 3; i++) {
        fetch_body_t b;
        fetch_body_init(&b, 12, &w, 1);
        b.parts[0].current_leader_epoch = epochs[i];
        rn_fetch_response_partition_t p;
        fetch_body(12, &b, &p);
        cr_assert_eq(p.error_code, want[i], "epoch %d: got %s", epochs[i],
                     rn_kerr_name(p.error_code));
        if (want[i] != RN_KERR_NONE) {
            cr_assert_eq(p.records.len, 0);
            cr_assert_eq(p.high_watermark, -1, "a partition in error answers -1");
        }
    }
    fetch_body_t b;
    fetch_body_init(&b, 8, &w, 1);
    b.parts[0].current_leader_epoch = 3; /* not on the wire below v9 */
    rn_fetch_response_partition_t p;
    fetch_body(8, &b, &p);
    assert_kerr(p.error_code, 0);
}

Test(fetch_handler, unknown_topics_and_partitions_are_unknown_topic_or_partition)
{
    want_t w[] = { { "missing", 0, 0, 1 << 20 }, { "t", 2, 0, 1 << 20 }, { "t", 0, 0, 1 << 20 } };
    for (int16_t v = 4; v <= 12; v++) {
        rn_fetch_response_partition_t p[3];
        fetch_v(v, 1 << 20, w, 3, p);
        cr_assert_eq(p[0].error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, "v%d", v);
        cr_assert_eq(p[0].records.len, 0);
        assert_kerr(p[1].error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, "t has 0 and 1");
        cr_assert_eq(p[1].records.len, 0);
        assert_batches(&p[2], 3, 0);
    }
}

Test(fetch_handler, v13_names_topics_by_id_and_an_unknown_id_is_unknown_topic_id)
{
    want_t w[] = { { "t", 0, 0, 1 << 20 }, { "t", 0, 0, 1 << 20 }, { "u", 3, 0, 1 << 20 } };
    fetch_body_t b;
    fetch_body_init(&b, 13, w, 3);
    for (int i = 0; i < 16; i++)
        b.topics[1].topic_id.b[i] = (uint8_t)(0xa0 + i); /* no topic has this id */
    rn_fetch_response_partition_t p[3];
    fetch_body(13, &b, p);
    assert_batches(&p[0], 3, 0);
    assert_kerr(p[1].error_code, RN_KERR_UNKNOWN_TOPIC_ID);
    cr_assert_eq(p[1].records.len, 0);
    assert_kerr(p[2].error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, "a known id, no partition 3");
}

/* What v15-v18 add is a follower's: its state in a tagged field (v15), its directory (v17) and
 * its high watermark (v18, tagged). A consumer's fetch carrying them reads as before. */
Test(fetch_handler, v18_tagged_follower_fields_change_nothing_for_a_consumer)
{
    want_t w = { "t", 0, 5, 1 << 20 };
    fetch_body_t b;
    fetch_body_init(&b, 18, &w, 1);
    b.body.replica_state.replica_epoch = 7;
    b.parts[0].high_watermark = 3;
    memset(b.parts[0].replica_directory_id.b, 0x5a, 16);
    rn_fetch_response_partition_t p;
    rn_fetch_response_t resp = fetch_body(18, &b, &p);
    assert_kerr(resp.error_code, 0);
    assert_kerr(p.error_code, 0);
    assert_batches(&p, 2, 5);
    cr_assert_eq(p.high_watermark, 15);
}

Test(fetch_handler, fetch_v0_to_v3_is_unsupported_for_message_format)
{
    /* v0-v3 answer magic 0/1 message sets, which Runnel cannot convert to yet. */
    for (int16_t v = 0; v <= 3; v++) {
        want_t w = { "t", 0, 0, 1 << 20 };
        rn_fetch_response_partition_t p;
        fetch_v(v, 1 << 20, &w, 1, &p);
        cr_assert_eq(p.error_code, RN_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT, "v%d", v);
        cr_assert_eq(p.records.len, 0);
    }
}

Test(fetch_handler, an_incremental_fetch_is_fetch_session_id_not_found)
{
    /* The broker keeps no sessions, so an epoch above 0 names one it never made. */
    want_t w = { "t", 0, 0, 1 << 20 };
    fetch_body_t b;
    fetch_body_init(&b, 12, &w, 1);
    b.body.session_id = 77;
    b.body.session_epoch = 1;
    rn_fetch_response_t resp;
    call(RN_API_FETCH, 12, &b.body, &resp);
    cr_assert_eq(resp.error_code, 70, "FETCH_SESSION_ID_NOT_FOUND");
    cr_assert_eq(resp.responses.count, 0);
    /* A full fetch that closes a session (epoch -1) is answered. */
    b.body.session_epoch = -1;
    rn_fetch_response_partition_t p;
    resp = fetch_body(12, &b, &p);
    assert_kerr(resp.error_code, 0);
    assert_batches(&p, 3, 0);
}

/* ---- min_bytes and max_wait_ms ---- */

Test(fetch_handler, min_bytes_with_max_wait_0_answers_at_once_with_what_is_there)
{
    want_t w[] = { { "t", 1, 0, 1 << 20 }, { "u", 0, 0, 1 << 20 } };
    fetch_body_t b;
    fetch_body_init(&b, 12, w, 2);
    b.body.min_bytes = 1 << 20;
    b.body.max_wait_ms = 0;
    rn_fetch_response_partition_t p[2];
    fetch_body(12, &b, p);
    assert_batches(&p[0], 2, 0);
    assert_batches(&p[1], 0, -1);
}

Test(fetch_handler, a_fetch_that_cannot_park_answers_at_once_with_what_is_there)
{
    /* rn_can_park is false without a loop (and while the loop stops): the fetch answers now
     * instead of waiting max_wait_ms for min_bytes. */
    want_t w = { "u", 0, 0, 1 << 20 };
    fetch_body_t b;
    fetch_body_init(&b, 12, &w, 1);
    b.body.min_bytes = 1 << 20;
    b.body.max_wait_ms = 30000;
    rn_fetch_response_partition_t p;
    fetch_body(12, &b, &p);
    assert_batches(&p, 0, -1);
    cr_assert_eq(p.high_watermark, 0);
    b.topics[0].topic = S("t");
    fetch_body(12, &b, &p);
    assert_batches(&p, 3, 0);
}
