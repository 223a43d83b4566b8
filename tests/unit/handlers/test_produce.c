/* SPDX-License-Identifier: Apache-2.0 */
/* Produce (src/handlers/produce.c) driven through rn_handlers_dispatch with real frames, against
 * a real topic registry in a temporary data directory: the error code and offsets each
 * partition gets, how acks=0 finishes, and what the log holds afterwards (read back as a fetch
 * would). Records are librdkafka's golden batches (every codec) or batches built by hand. */
#include "kerr_assert.h"
#include "util/endian.h"
#include <time.h>

#include "handlers/fixture.h"
#include "log/log.h"
#include "records/builder.h"
#include "records/golden.h"
#include "records/records.h"

static void create(const char *name, int32_t partitions, const char *key, const char *value)
{
    rn_topic_override_t config = { .key = (char *)key, .value = (char *)value };
    rn_topic_spec_t spec = { .name = S(name),
                             .num_partitions = partitions,
                             .replication_factor = 1,
                             .configs = &config,
                             .nconfigs = key != NULL ? 1 : 0 };
    cr_assert_eq(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0, "create %s", name);
}

static void start(void)
{
    fixture_start("produce", "auto.create.topics.enable=false\n", false);
    create("t", 2, NULL, NULL);
}

static void start_with_flush_policy(void)
{
    fixture_start("produce-flush", "log.flush.interval.messages=1\n", false);
    create("t", 2, NULL, NULL);
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(produce_handler, .init = start, .fini = stop);
TestSuite(produce_handler_flush, .init = start_with_flush_policy, .fini = stop);

/* ---- request builders ---- */

/* One partition's records; each gets its own topic entry in the request. */
typedef struct part {
    const char *topic;
    int32_t partition;
    const uint8_t *records;
    size_t len;
} part_t;

typedef struct produce_body {
    rn_produce_request_t body;
    rn_produce_request_topic_t topics[4];
    rn_produce_request_partition_t parts[4];
} produce_body_t;

static void produce_body_init(produce_body_t *b, int16_t acks, const part_t *parts, int n)
{
    cr_assert_leq(n, 4);
    rn_produce_request_init(&b->body);
    b->body.acks = acks;
    b->body.timeout_ms = 30000;
    for (int i = 0; i < n; i++) {
        rn_produce_request_topic_init(&b->topics[i]);
        rn_produce_request_partition_init(&b->parts[i]);
        b->topics[i].name = S(parts[i].topic);
        b->parts[i].index = parts[i].partition;
        b->parts[i].records = (rn_records_t){ .ptr = parts[i].records, .len = parts[i].len };
        b->topics[i].partition_data.items = &b->parts[i];
        b->topics[i].partition_data.count = 1;
    }
    b->body.topic_data.items = b->topics;
    b->body.topic_data.count = n;
}

/* The answer for `topic`-`partition`, which must be there exactly once. */
static rn_produce_response_partition_t answer_for(const rn_produce_response_t *resp,
                                                  const char *topic, int32_t partition)
{
    const rn_produce_response_partition_t *found = NULL;
    int topics = 0;
    for (int32_t t = 0; t < resp->responses.count; t++) {
        const rn_produce_response_topic_t *rt = &resp->responses.items[t];
        if (!rn_str_eq_cstr(rt->name, topic))
            continue;
        topics++;
        for (int32_t i = 0; i < rt->partition_responses.count; i++) {
            if (rt->partition_responses.items[i].index != partition)
                continue;
            cr_assert_null(found, "%s-%d answered twice", topic, partition);
            found = &rt->partition_responses.items[i];
        }
    }
    cr_assert_eq(topics, 1, "%s is one topic of the answer", topic);
    cr_assert_not_null(found, "%s-%d answered", topic, partition);
    return *found;
}

/* A Produce that gets a response (acks 1, -1, or an invalid value): each partition's answer, in
 * request order (parts name distinct partitions). */
static void produce_v(int16_t version, int16_t acks, const part_t *parts, int n,
                      rn_produce_response_partition_t *out)
{
    produce_body_t b;
    produce_body_init(&b, acks, parts, n);
    rn_produce_response_t resp;
    call(RN_API_PRODUCE, version, &b.body, &resp);
    int answered = 0;
    for (int32_t t = 0; t < resp.responses.count; t++)
        answered += resp.responses.items[t].partition_responses.count;
    cr_assert_eq(answered, n);
    for (int i = 0; i < n; i++)
        out[i] = answer_for(&resp, parts[i].topic, parts[i].partition);
}

static rn_produce_response_partition_t
produce(int16_t version, const char *topic, int32_t partition, const uint8_t *records, size_t len)
{
    part_t p = { topic, partition, records, len };
    rn_produce_response_partition_t out;
    produce_v(version, 1, &p, 1, &out);
    return out;
}

/* A Produce with acks=0: how the request finished (no response, or a closed connection). */
static rn_finish_t produce_acks0(int16_t version, const part_t *parts, int n)
{
    produce_body_t b;
    produce_body_init(&b, 0, parts, n);
    rn_outbuf_t w;
    build_frame(RN_API_PRODUCE, version, &b.body, &w);
    reply_t o = run_frame(w.data, w.len);
    rn_outbuf_deinit(&w);
    cr_assert_null(o.bytes, "acks=0 never gets response bytes");
    return o.how;
}

/* ---- what the log holds ---- */

static int64_t high_watermark(const char *topic, int32_t partition)
{
    rn_topic_t *t = rn_topics_get(fx.topics, S(topic));
    cr_assert_not_null(t);
    int64_t hw = rn_log_high_watermark(rn_topic_partition(t, partition)->log);
    rn_topic_unref(t);
    return hw;
}

static int64_t recovery_point(const char *topic, int32_t partition)
{
    rn_topic_t *t = rn_topics_get(fx.topics, S(topic));
    cr_assert_not_null(t);
    int64_t rp = rn_log_recovery_point(rn_topic_partition(t, partition)->log);
    rn_topic_unref(t);
    return rp;
}

/* The stored batch holding `offset`, read as a fetch would send it; returns its size. */
static size_t stored_batch(const char *topic, int32_t partition, int64_t offset, uint8_t *buf,
                           size_t cap)
{
    rn_topic_t *t = rn_topics_get(fx.topics, S(topic));
    cr_assert_not_null(t);
    rn_log_slice_t slice;
    cr_assert_eq(rn_log_read(rn_topic_partition(t, partition)->log, offset, 1, &slice), 0);
    cr_assert_gt(slice.range.len, 0, "a batch at offset %lld", (long long)offset);
    cr_assert_leq(slice.range.len, cap);
    fixture_read_range(&slice.range, buf);
    slice.range.release(slice.range.owner);
    rn_topic_unref(t);
    return slice.range.len;
}

static rn_batch_header_t header_of(const uint8_t *batch, size_t len)
{
    rn_batch_header_t h;
    cr_assert_eq(rn_batch_parse_header(batch, len, &h), RN_DECODE_OK);
    cr_assert_eq(rn_batch_size(&h), len, "one whole batch");
    return h;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- offsets ---- */

Test(produce_handler, each_batch_gets_the_next_offsets_at_every_version)
{
    int64_t next = 0;
    for (int16_t v = 3; v <= 10; v++) {
        rn_produce_response_partition_t p = produce(v, "t", 1, golden_none, sizeof golden_none);
        cr_assert_eq(p.error_code, 0, "v%d", v);
        cr_assert_eq(p.base_offset, next, "v%d", v);
        if (v >= 10)
            cr_assert_eq(p.current_leader.leader_id, -1, "KIP-951's hint only for a new leader");
        cr_assert_eq(p.log_append_time_ms, -1, "CreateTime topic");
        if (v >= 5)
            cr_assert_eq(p.log_start_offset, 0, "v%d", v);
        next += 10;
    }
    cr_assert_eq(high_watermark("t", 1), next);
    cr_assert_eq(high_watermark("t", 0), 0, "the other partition is untouched");
}

Test(produce_handler, every_codec_is_stored_as_received_with_its_offset_assigned)
{
    static const struct {
        const uint8_t *batch;
        size_t len;
    } codecs[] = {
        { golden_none, sizeof golden_none },     { golden_gzip, sizeof golden_gzip },
        { golden_snappy, sizeof golden_snappy }, { golden_lz4, sizeof golden_lz4 },
        { golden_zstd, sizeof golden_zstd },
    };
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        rn_produce_response_partition_t p = produce(7, "t", 0, codecs[i].batch, codecs[i].len);
        cr_assert_eq(p.error_code, 0, "codec %zu", i);
        cr_assert_eq(p.base_offset, (int64_t)i * 10);
        uint8_t back[1024];
        size_t len = stored_batch("t", 0, p.base_offset, back, sizeof back);
        cr_assert_eq(len, codecs[i].len);
        rn_batch_header_t h = header_of(back, len);
        cr_assert_eq(h.base_offset, p.base_offset);
        /* Only the base offset and leader epoch change (both outside the CRC): the rest of the
         * batch, compressed records included, is the producer's bytes. */
        cr_assert_eq(memcmp(back + 16, codecs[i].batch + 16, len - 16), 0, "codec %zu", i);
        cr_assert(rn_batch_crc_ok(back, len));
    }
}

Test(produce_handler, acks_all_answers_like_acks_1)
{
    part_t p = { "t", 0, golden_none, sizeof golden_none };
    rn_produce_response_partition_t out;
    produce_v(8, -1, &p, 1, &out);
    assert_kerr(out.error_code, 0);
    cr_assert_eq(out.base_offset, 0);
    cr_assert_eq(high_watermark("t", 0), 10);
}

Test(produce_handler, partitions_of_one_request_answer_independently)
{
    uint8_t corrupt[sizeof golden_none];
    memcpy(corrupt, golden_none, sizeof corrupt);
    corrupt[sizeof corrupt - 5] ^= 0x01;
    part_t parts[] = {
        { "t", 0, golden_lz4, sizeof golden_lz4 },
        { "t", 1, corrupt, sizeof corrupt },
        { "missing", 0, golden_none, sizeof golden_none },
    };
    rn_produce_response_partition_t out[3];
    produce_v(9, 1, parts, 3, out);
    assert_kerr(out[0].error_code, 0);
    cr_assert_eq(out[0].base_offset, 0);
    assert_kerr(out[1].error_code, RN_KERR_CORRUPT_MESSAGE);
    cr_assert_eq(out[1].base_offset, -1);
    assert_kerr(out[2].error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(out[2].base_offset, -1);
    cr_assert_eq(high_watermark("t", 0), 10);
    cr_assert_eq(high_watermark("t", 1), 0);
}

Test(produce_handler, log_start_offset_is_in_the_answer)
{
    assert_kerr(produce(8, "t", 0, golden_none, sizeof golden_none).error_code, 0);
    assert_kerr(produce(8, "t", 0, golden_none, sizeof golden_none).error_code, 0);
    rn_topic_t *t = rn_topics_get(fx.topics, S("t"));
    cr_assert_eq(rn_log_delete_records(rn_topic_partition(t, 0)->log, 15), 0);
    rn_topic_unref(t);
    rn_produce_response_partition_t p = produce(8, "t", 0, golden_none, sizeof golden_none);
    assert_kerr(p.error_code, 0);
    cr_assert_eq(p.base_offset, 20);
    cr_assert_eq(p.log_start_offset, 15);
}

/* ---- acks ---- */

Test(produce_handler, acks_0_gets_no_response_and_the_records_are_written)
{
    part_t p = { "t", 1, golden_gzip, sizeof golden_gzip };
    cr_assert_eq(produce_acks0(9, &p, 1), RN_FINISH_NONE);
    cr_assert_eq(high_watermark("t", 1), 10);
    cr_assert_eq(produce_acks0(3, &p, 1), RN_FINISH_NONE);
    cr_assert_eq(high_watermark("t", 1), 20);
}

Test(produce_handler, acks_0_with_an_error_closes_the_connection)
{
    /* The only way a producer that waits for nothing can learn of an error (as Kafka). */
    part_t unknown = { "missing", 0, golden_none, sizeof golden_none };
    cr_assert_eq(produce_acks0(9, &unknown, 1), RN_FINISH_CLOSE);
    uint8_t corrupt[sizeof golden_none];
    memcpy(corrupt, golden_none, sizeof corrupt);
    corrupt[100] ^= 0x40;
    part_t bad = { "t", 0, corrupt, sizeof corrupt };
    cr_assert_eq(produce_acks0(9, &bad, 1), RN_FINISH_CLOSE);
    cr_assert_eq(high_watermark("t", 0), 0);
    /* One bad partition closes the connection; the good one is written all the same. */
    part_t mixed[] = { { "t", 1, golden_none, sizeof golden_none }, unknown };
    cr_assert_eq(produce_acks0(9, mixed, 2), RN_FINISH_CLOSE);
    cr_assert_eq(high_watermark("t", 1), 10);
}

Test(produce_handler, acks_other_than_0_1_and_all_is_invalid_required_acks)
{
    static const int16_t invalid[] = { 2, -2, 5 };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        part_t p = { "t", 0, golden_none, sizeof golden_none };
        rn_produce_response_partition_t out;
        produce_v(9, invalid[i], &p, 1, &out);
        cr_assert_eq(out.error_code, RN_KERR_INVALID_REQUIRED_ACKS, "acks=%d", invalid[i]);
        cr_assert_eq(out.base_offset, -1);
    }
    cr_assert_eq(high_watermark("t", 0), 0, "nothing written");
}

/* ---- refused batches: an error code, and nothing written ---- */

Test(produce_handler, unknown_topic_or_partition)
{
    cr_assert_eq(produce(9, "missing", 0, golden_none, sizeof golden_none).error_code,
                 RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(produce(9, "t", 2, golden_none, sizeof golden_none).error_code,
                 RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, "t has partitions 0 and 1");
    cr_assert_eq(produce(9, "t", -1, golden_none, sizeof golden_none).error_code,
                 RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_null(rn_topics_get(fx.topics, S("missing")), "Produce creates no topic");
}

Test(produce_handler, a_bad_crc_or_a_truncated_batch_is_corrupt_message)
{
    uint8_t corrupt[sizeof golden_snappy];
    memcpy(corrupt, golden_snappy, sizeof corrupt);
    corrupt[sizeof corrupt - 1] ^= 0x80; /* inside the compressed records */
    rn_produce_response_partition_t p = produce(9, "t", 0, corrupt, sizeof corrupt);
    assert_kerr(p.error_code, RN_KERR_CORRUPT_MESSAGE);
    cr_assert_eq(p.base_offset, -1);
    cr_assert_eq(produce(9, "t", 0, golden_none, sizeof golden_none - 1).error_code,
                 RN_KERR_INVALID_RECORD, "the batch runs past the records: no whole batch");
    uint8_t flipped[sizeof golden_none];
    memcpy(flipped, golden_none, sizeof flipped);
    flipped[sizeof flipped - 5] ^= 0x01; /* a byte of the last value */
    assert_kerr(produce(9, "t", 0, flipped, sizeof flipped).error_code, RN_KERR_CORRUPT_MESSAGE);
    cr_assert_eq(high_watermark("t", 0), 0);
    /* The same bytes with a CRC that matches are accepted: the CRC was the reason. */
    tb_fix_crc(flipped, sizeof flipped);
    assert_kerr(produce(9, "t", 0, flipped, sizeof flipped).error_code, RN_KERR_NONE);
    cr_assert_eq(high_watermark("t", 0), 10);
}

Test(produce_handler, two_batches_in_one_partition_are_invalid_record)
{
    /* ProduceRequest v3+ carries exactly one batch per partition (Kafka's validateRecords). */
    uint8_t two[2 * sizeof golden_none];
    memcpy(two, golden_none, sizeof golden_none);
    memcpy(two + sizeof golden_none, golden_none, sizeof golden_none);
    rn_produce_response_partition_t p = produce(9, "t", 0, two, sizeof two);
    assert_kerr(p.error_code, RN_KERR_INVALID_RECORD);
    cr_assert_eq(p.base_offset, -1);
    cr_assert_eq(high_watermark("t", 0), 0);
}

Test(produce_handler, a_control_batch_is_invalid_record)
{
    tb_spec_t s = { .nrecords = 1, .value_len = 6, .base_timestamp = NOW };
    tb_buf_t b = tb_batch(&s);
    assert_kerr(produce(9, "t", 0, b.p, b.len).error_code, RN_KERR_NONE, "as built: accepted");
    b.p[22] |= RN_BATCH_ATTR_CONTROL; /* attributes, low byte */
    tb_fix_crc(b.p, b.len);
    assert_kerr(produce(9, "t", 0, b.p, b.len).error_code, RN_KERR_INVALID_RECORD,
                "clients may not write control batches");
    free(b.p);
    cr_assert_eq(high_watermark("t", 0), 1);
}

Test(produce_handler, zstd_needs_produce_v7)
{
    /* KIP-110: zstd batches in an older Produce are refused, whatever the client thought. */
    for (int16_t v = 3; v <= 6; v++) {
        rn_produce_response_partition_t p = produce(v, "t", 0, golden_zstd, sizeof golden_zstd);
        cr_assert_eq(p.error_code, RN_KERR_UNSUPPORTED_COMPRESSION_TYPE, "v%d", v);
        cr_assert_eq(p.base_offset, -1);
    }
    cr_assert_eq(high_watermark("t", 0), 0);
    assert_kerr(produce(3, "t", 0, golden_lz4, sizeof golden_lz4).error_code, 0, "lz4 at v3");
    assert_kerr(produce(7, "t", 0, golden_zstd, sizeof golden_zstd).error_code, 0, "zstd at v7");
    cr_assert_eq(high_watermark("t", 0), 20);
}

Test(produce_handler, a_batch_over_max_message_bytes_is_message_too_large)
{
    /* max.message.bytes bounds the whole batch as stored, header included. */
    create("exact", 1, "max.message.bytes", "965");
    create("small", 1, "max.message.bytes", "964");
    cr_assert_eq(sizeof golden_none, 965);
    rn_produce_response_partition_t p = produce(9, "small", 0, golden_none, sizeof golden_none);
    assert_kerr(p.error_code, RN_KERR_MESSAGE_TOO_LARGE);
    cr_assert_eq(p.base_offset, -1);
    cr_assert_eq(high_watermark("small", 0), 0);
    assert_kerr(produce(9, "exact", 0, golden_none, sizeof golden_none).error_code, 0);
    /* A compressed batch is measured as sent, not as inflated. */
    assert_kerr(produce(9, "small", 0, golden_zstd, sizeof golden_zstd).error_code, 0);
}

Test(produce_handler, produce_v0_to_v2_is_unsupported_for_message_format)
{
    /* v0-v2 carry magic 0/1 message sets, which Runnel cannot convert yet. */
    for (int16_t v = 0; v <= 2; v++) {
        rn_produce_response_partition_t p = produce(v, "t", 0, golden_none, sizeof golden_none);
        cr_assert_eq(p.error_code, RN_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT, "v%d", v);
        cr_assert_eq(p.base_offset, -1);
    }
    cr_assert_eq(high_watermark("t", 0), 0);
}

/* ---- timestamps ---- */

Test(produce_handler, log_append_time_topics_stamp_the_batch_with_the_broker_time)
{
    create("stamped", 1, "message.timestamp.type", "LogAppendTime");
    int64_t before = wall_ms();
    rn_produce_response_partition_t p = produce(9, "stamped", 0, golden_lz4, sizeof golden_lz4);
    int64_t after = wall_ms();
    assert_kerr(p.error_code, 0);
    cr_assert_geq(p.log_append_time_ms, before);
    cr_assert_leq(p.log_append_time_ms, after);
    uint8_t back[1024];
    size_t len = stored_batch("stamped", 0, 0, back, sizeof back);
    rn_batch_header_t h = header_of(back, len);
    cr_assert_neq(h.attributes & RN_BATCH_ATTR_LOG_APPEND_TIME, 0);
    cr_assert_eq(h.max_timestamp, p.log_append_time_ms, "readers take max_timestamp for all");
    cr_assert(rn_batch_crc_ok(back, len), "the CRC was recomputed");
    /* A CreateTime topic keeps the producer's timestamps and answers -1. */
    p = produce(9, "t", 0, golden_lz4, sizeof golden_lz4);
    cr_assert_eq(p.log_append_time_ms, -1);
    len = stored_batch("t", 0, 0, back, sizeof back);
    cr_assert_eq(memcmp(back + 16, golden_lz4 + 16, len - 16), 0);
}

/* ---- the flush policy ---- */

Test(produce_handler, without_a_flush_policy_the_answer_does_not_wait_for_a_sync)
{
    assert_kerr(produce(9, "t", 0, golden_none, sizeof golden_none).error_code, 0);
    cr_assert_eq(recovery_point("t", 0), 0, "in the page cache, not synced");
}

Test(produce_handler_flush, a_flush_policy_syncs_before_the_answer)
{
    rn_produce_response_partition_t p = produce(9, "t", 0, golden_none, sizeof golden_none);
    assert_kerr(p.error_code, 0);
    cr_assert_eq(p.base_offset, 0);
    cr_assert_eq(recovery_point("t", 0), 10, "log.flush.interval.messages=1: synced");
    part_t parts[] = { { "t", 0, golden_gzip, sizeof golden_gzip },
                       { "t", 1, golden_snappy, sizeof golden_snappy } };
    rn_produce_response_partition_t out[2];
    produce_v(9, -1, parts, 2, out);
    assert_kerr(out[0].error_code, 0);
    cr_assert_eq(out[0].base_offset, 10);
    assert_kerr(out[1].error_code, 0);
    cr_assert_eq(recovery_point("t", 0), 20);
    cr_assert_eq(recovery_point("t", 1), 10);
}

Test(produce_handler_flush, the_sync_runs_off_the_handler_and_the_answer_waits_for_it)
{
    int before = fx.executor.queued;
    assert_kerr(produce(9, "t", 0, golden_none, sizeof golden_none).error_code, 0);
    cr_assert_eq(fx.executor.queued, before + 1, "one sync queued, none run inline");
    cr_assert_eq(recovery_point("t", 0), 10);
}

Test(produce_handler_flush, a_slow_sync_delays_the_answer_but_never_times_it_out)
{
    /* Kafka flushes inside the append: the answer comes late, never REQUEST_TIMED_OUT for data
     * that was written (a retry would write it twice). */
    part_t p = { "t", 0, golden_none, sizeof golden_none };
    produce_body_t b;
    produce_body_init(&b, -1, &p, 1);
    b.body.timeout_ms = 0;
    rn_produce_response_t resp;
    call(RN_API_PRODUCE, 9, &b.body, &resp);
    assert_kerr(resp.responses.items[0].partition_responses.items[0].error_code, 0);
    cr_assert_eq(recovery_point("t", 0), 10);
}

Test(produce_handler_flush, a_sync_that_cannot_be_queued_fails_the_request_not_the_loop)
{
    fx.executor.refuse = true;
    rn_produce_response_partition_t p = produce(9, "t", 0, golden_none, sizeof golden_none);
    fx.executor.refuse = false;
    assert_kerr(p.error_code, RN_KERR_KAFKA_STORAGE_ERROR);
    cr_assert_eq(recovery_point("t", 0), 0, "nothing synced on the caller's thread");
}

Test(produce_handler, a_partition_in_error_answers_log_start_offset_minus_1)
{
    rn_produce_response_partition_t p = produce(9, "t", 7, golden_none, sizeof golden_none);
    assert_kerr(p.error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(p.log_start_offset, -1);
    static const uint8_t none[1];
    p = produce(9, "t", 0, none, 0);
    assert_kerr(p.error_code, RN_KERR_INVALID_RECORD);
    cr_assert_eq(p.log_start_offset, -1);
}

/* ---- where Runnel used to differ from Kafka ---- */

/* Kafka's flush policy runs inside the log append (UnifiedLog.append flushes once
 * flush.messages are unflushed), whatever the acks. */
Test(produce_handler_flush, acks_0_is_synced_by_the_flush_policy_too)
{
    part_t p = { "t", 0, golden_none, sizeof golden_none };
    cr_assert_eq(produce_acks0(9, &p, 1), RN_FINISH_NONE);
    cr_assert_eq(high_watermark("t", 0), 10);
    cr_assert_eq(recovery_point("t", 0), 10);
}

/* Kafka (UnifiedLog.analyzeAndValidateRecords) refuses a client batch whose base offset is not
 * 0 with INVALID_RECORD. */
Test(produce_handler, a_batch_with_a_base_offset_other_than_0_is_invalid_record)
{
    uint8_t moved[sizeof golden_none];
    memcpy(moved, golden_none, sizeof moved);
    moved[7] = 5; /* base_offset 5, outside the CRC */
    assert_kerr(produce(9, "t", 0, moved, sizeof moved).error_code, RN_KERR_INVALID_RECORD);
    cr_assert_eq(high_watermark("t", 0), 0);
}

/* Kafka's ProduceRequest.validateRecords answers INVALID_RECORD for a partition without a
 * batch ("must have at least one record batch"), and rn_records_validate says so too. */
Test(produce_handler, empty_records_are_invalid_record)
{
    static const uint8_t none[1];
    assert_kerr(produce(9, "t", 0, none, 0).error_code, RN_KERR_INVALID_RECORD);
}

/* Kafka checks each batch against max.message.bytes before its CRC
 * (analyzeAndValidateRecords: RecordTooLargeException, then batch.ensureValid()), so an
 * oversized batch is MESSAGE_TOO_LARGE even when damaged (and is never inflated). */
Test(produce_handler, an_oversized_batch_is_message_too_large_even_when_corrupt)
{
    create("small", 1, "max.message.bytes", "964");
    uint8_t corrupt[sizeof golden_none];
    memcpy(corrupt, golden_none, sizeof corrupt);
    corrupt[sizeof corrupt - 5] ^= 0x01;
    cr_assert_eq(produce(9, "small", 0, corrupt, sizeof corrupt).error_code,
                 RN_KERR_MESSAGE_TOO_LARGE);
}

/* ---- what Kafka 4.4 answered to the same bytes (issue 10's oracle) ---- */

/* A copy of golden_none followed by `extra` bytes of `fill`, in `buf`. */
static size_t batch_with_tail(uint8_t *buf, size_t extra, uint8_t fill)
{
    memcpy(buf, golden_none, sizeof golden_none);
    memset(buf + sizeof golden_none, fill, extra);
    return sizeof golden_none + extra;
}

Test(produce_handler, a_fragment_after_the_batch_is_dropped_and_the_batch_written)
{
    uint8_t buf[sizeof golden_none + 16];
    size_t n = batch_with_tail(buf, 7, 0);
    rn_produce_response_partition_t p = produce(9, "t", 0, buf, n);
    assert_kerr(p.error_code, 0);
    cr_assert_eq(high_watermark("t", 0), 10);
    uint8_t stored[sizeof golden_none + 16];
    cr_assert_eq(stored_batch("t", 0, 0, stored, sizeof stored), sizeof golden_none,
                 "only the batch is in the log");
}

Test(produce_handler, a_corrupt_second_header_is_corrupt_message_for_its_partition)
{
    uint8_t buf[sizeof golden_none + 32];
    size_t n = batch_with_tail(buf, 20, 0); /* a batch_length of 0 after the batch */
    part_t parts[] = { { "t", 0, buf, n }, { "t", 1, golden_none, sizeof golden_none } };
    rn_produce_response_partition_t out[2];
    produce_v(9, 1, parts, 2, out);
    assert_kerr(out[0].error_code, RN_KERR_CORRUPT_MESSAGE);
    cr_assert_eq(out[0].log_start_offset, -1);
    cr_assert_null(out[0].error_message.ptr);
    assert_kerr(out[1].error_code, 0);
    cr_assert_eq(high_watermark("t", 0), 0);
}

Test(produce_handler, a_first_batch_that_cannot_be_a_batch_fails_the_whole_request)
{
    uint8_t bad[sizeof golden_none];
    memcpy(bad, golden_none, sizeof bad);
    bad[8] = bad[9] = bad[10] = 0;
    bad[11] = 10; /* batch_length 10: below any message */
    part_t parts[] = { { "t", 0, golden_none, sizeof golden_none },
                       { "t", 1, bad, sizeof bad },
                       { "missing", 0, golden_none, sizeof golden_none } };
    rn_produce_response_partition_t out[3];
    produce_v(9, 1, parts, 3, out);
    for (int i = 0; i < 3; i++) {
        assert_kerr(out[i].error_code, RN_KERR_CORRUPT_MESSAGE, "partition %d", i);
        cr_assert(rn_str_eq_cstr(out[i].error_message,
                                 "Record size 10 is less than the minimum record overhead (14)"));
        cr_assert_eq(out[i].log_start_offset, -1);
    }
    cr_assert_eq(high_watermark("t", 0), 0, "nothing written, not even the good partition");
    bad[11] = 49;
    bad[16] = 3;
    parts[1].records = bad;
    produce_v(9, 1, parts, 3, out);
    cr_assert(rn_str_eq_cstr(out[0].error_message, "Invalid magic found in record: 3"));
    cr_assert_eq(high_watermark("t", 0), 0);
}

Test(produce_handler, no_whole_batch_and_old_magics_are_invalid_record_from_v3)
{
    /* A magic 1 message: size counts from the crc: 4 + 1 + 1 + 8 + 4 + 4 + 1 = 23. */
    static const uint8_t v1[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,    0,    0,    23,   1, 2, 3, 4, 1,  0,
                                  0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 'v' };
    rn_produce_response_partition_t p = produce(9, "t", 0, v1, sizeof v1);
    assert_kerr(p.error_code, RN_KERR_INVALID_RECORD);
    cr_assert_eq(p.log_start_offset, -1, "refused before the log");
    static const size_t cuts[] = { 7, 12, 17, sizeof golden_none - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        p = produce(9, "t", 0, golden_none, cuts[i]);
        assert_kerr(p.error_code, RN_KERR_INVALID_RECORD, "%zu bytes", cuts[i]);
        cr_assert_eq(p.log_start_offset, -1);
    }
    cr_assert_eq(high_watermark("t", 0), 0);
}

Test(produce_handler, a_count_that_disagrees_is_invalid_record_with_the_log_start)
{
    tb_spec_t s = { .nrecords = 2, .value_len = 6, .base_timestamp = NOW };
    tb_buf_t b = tb_batch(&s);
    b.p[60] = 3; /* records_count 3 for 2 records; last_offset_delta stays 1 */
    tb_fix_crc(b.p, b.len);
    rn_produce_response_partition_t p = produce(9, "t", 0, b.p, b.len);
    assert_kerr(p.error_code, RN_KERR_INVALID_RECORD);
    cr_assert_eq(p.log_start_offset, 0, "refused by the log's checks, which know its start");
    cr_assert_eq(high_watermark("t", 0), 0);
    free(b.p);
}

Test(produce_handler, a_partition_named_twice_is_answered_once_and_the_last_copy_written)
{
    tb_spec_t one = { .nrecords = 1, .value_len = 6, .base_timestamp = NOW };
    tb_spec_t three = { .nrecords = 3, .value_len = 6, .base_timestamp = NOW };
    tb_buf_t a = tb_batch(&one), b = tb_batch(&three);
    part_t parts[] = { { "t", 0, a.p, a.len }, { "t", 0, b.p, b.len } };
    produce_body_t body;
    produce_body_init(&body, 1, parts, 2); /* the topic named twice, each with partition 0 */
    rn_produce_response_t resp;
    call(RN_API_PRODUCE, 9, &body.body, &resp);
    cr_assert_eq(resp.responses.count, 1, "one topic");
    cr_assert_eq(resp.responses.items[0].partition_responses.count, 1, "one partition");
    rn_produce_response_partition_t p = answer_for(&resp, "t", 0);
    assert_kerr(p.error_code, 0);
    cr_assert_eq(p.base_offset, 0);
    cr_assert_eq(high_watermark("t", 0), 3, "the second copy (3 records) was written");
    free(a.p);
    free(b.p);
}

Test(produce_handler, transactional_batches_are_refused_without_a_transaction)
{
    tb_spec_t s = { .nrecords = 1, .value_len = 6, .base_timestamp = NOW };
    tb_buf_t b = tb_batch(&s);
    b.p[22] |= RN_BATCH_ATTR_TRANSACTIONAL;
    rn_store_be64(b.p + 43, 5); /* producer id 5 */
    tb_fix_crc(b.p, b.len);
    /* No transactional id: every partition of the request, as Kafka. */
    part_t parts[] = { { "t", 0, golden_none, sizeof golden_none }, { "t", 1, b.p, b.len } };
    rn_produce_response_partition_t out[2];
    produce_v(9, 1, parts, 2, out);
    assert_kerr(out[0].error_code, RN_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    assert_kerr(out[1].error_code, RN_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    /* With one: no producer id belongs to it (this broker runs without a coordinator). */
    produce_body_t body;
    produce_body_init(&body, 1, parts, 2);
    body.body.transactional_id = S("tx");
    rn_produce_response_t resp;
    call(RN_API_PRODUCE, 9, &body.body, &resp);
    assert_kerr(answer_for(&resp, "t", 0).error_code, 0);
    assert_kerr(answer_for(&resp, "t", 1).error_code, RN_KERR_INVALID_PRODUCER_ID_MAPPING);
    cr_assert_eq(high_watermark("t", 0), 10);
    cr_assert_eq(high_watermark("t", 1), 0);
    /* Without a producer id Kafka writes it, and so do we. */
    rn_store_be64(b.p + 43, (uint64_t)-1);
    tb_fix_crc(b.p, b.len);
    call(RN_API_PRODUCE, 9, &body.body, &resp);
    assert_kerr(answer_for(&resp, "t", 1).error_code, 0);
    cr_assert_eq(high_watermark("t", 1), 1);
    free(b.p);
}

Test(produce_handler, invalid_acks_come_after_the_unknown_topic)
{
    part_t parts[] = { { "missing", 0, golden_none, sizeof golden_none },
                       { "t", 0, golden_none, sizeof golden_none } };
    rn_produce_response_partition_t out[2];
    produce_v(9, 2, parts, 2, out);
    assert_kerr(out[0].error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_kerr(out[1].error_code, RN_KERR_INVALID_REQUIRED_ACKS);
}

/* KIP-937, as Kafka 4.4 answers: a CreateTime topic refuses a batch with a record more than
 * message.timestamp.after.max.ms (1 hour by default) ahead of the broker's clock, or more than
 * message.timestamp.before.max.ms behind it, with INVALID_TIMESTAMP, one record error per such
 * record, Kafka's message, and the log start offset; a LogAppendTime topic does not check. */
Test(produce_handler, records_too_far_from_the_clock_are_invalid_timestamp)
{
    int64_t ahead = wall_ms() + 2 * 3600 * 1000;
    tb_spec_t s = { .nrecords = 3, .value_len = 6, .base_timestamp = ahead };
    tb_buf_t b = tb_batch(&s);
    rn_produce_response_partition_t p = produce(9, "t", 0, b.p, b.len);
    assert_kerr(p.error_code, RN_KERR_INVALID_TIMESTAMP);
    cr_assert_eq(p.record_errors.count, 3);
    cr_assert_eq(p.record_errors.items[2].batch_index, 2);
    cr_assert(rn_str_eq_cstr(p.error_message,
                             "One or more records have been rejected due to invalid timestamp"));
    cr_assert_eq(p.log_start_offset, 0);
    cr_assert_eq(high_watermark("t", 0), 0);
    /* One hour ahead is within the bound; a batch of the past is too (before.max is unbounded). */
    tb_spec_t near = { .nrecords = 1, .value_len = 6, .base_timestamp = wall_ms() + 60 * 1000 };
    tb_buf_t ok = tb_batch(&near);
    assert_kerr(produce(9, "t", 0, ok.p, ok.len).error_code, 0);
    assert_kerr(produce(9, "t", 0, golden_none, sizeof golden_none).error_code, 0);
    create("appended", 1, "message.timestamp.type", "LogAppendTime");
    assert_kerr(produce(9, "appended", 0, b.p, b.len).error_code, 0, "LogAppendTime: no check");
    create("strict", 1, "message.timestamp.before.max.ms", "60000");
    assert_kerr(produce(9, "strict", 0, golden_none, sizeof golden_none).error_code,
                RN_KERR_INVALID_TIMESTAMP, "a batch of 2023 is more than a minute old");
    free(b.p);
    free(ok.p);
}
