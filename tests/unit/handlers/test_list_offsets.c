/* SPDX-License-Identifier: Apache-2.0 */
/* ListOffsets (src/handlers/list_offsets.c) driven through rn_handlers_dispatch with real
 * frames, against a real topic registry in a temporary data directory whose logs hold batches
 * with known timestamps: earliest (-2), latest (-1), the first record at or after a timestamp,
 * the record with the largest timestamp (-3, KIP-734), v0's list of offsets, and unknown
 * partitions. */
#include "handlers/fixture.h"
#include "kerr_assert.h"
#include "log/log.h"
#include "records/builder.h"
#include "records/records.h"

enum { LATEST = -1, EARLIEST = -2, MAX_TIMESTAMP = -3 };

/* Appends one batch of `n` records timestamped base_ts, base_ts + 1, ...; with
 * `log_append_time` the batch is stamped `log_append_time` as Produce would. */
static void append(const char *topic, int32_t partition, int codec, int n, int64_t base_ts,
                   int64_t log_append_time)
{
    tb_spec_t s = { .nrecords = n, .codec = codec, .value_len = 20, .base_timestamp = base_ts };
    tb_buf_t b = tb_batch(&s);
    fixture_append(topic, partition, b.p, b.len, log_append_time);
    free(b.p);
}

/* t-0: offsets 0-4 at 1000-1004, 5-9 at 5000-5004, 10-14 at 3000-3004 (timestamps need not
 * grow with offsets). t-1: one gzip batch, offsets 0-9 at 2000-2009. empty-0: nothing. */
static void start(void)
{
    fixture_start("list-offsets", "auto.create.topics.enable=false\n", false);
    rn_topic_spec_t spec = { .name = S("t"), .num_partitions = 2, .replication_factor = 1 };
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
    spec.name = S("empty");
    spec.num_partitions = 1;
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
    append("t", 0, RN_CODEC_NONE, 5, 1000, -1);
    append("t", 0, RN_CODEC_NONE, 5, 5000, -1);
    append("t", 0, RN_CODEC_NONE, 5, 3000, -1);
    append("t", 1, RN_CODEC_GZIP, 10, 2000, -1);
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(list_offsets_handler, .init = start, .fini = stop);

/* ---- request builders ---- */

/* ListOffsets of one topic's partitions, as a consumer sends it (replica -1); v0 asks for at
 * most `max_num_offsets` offsets. Answers the partitions in request order into `out`. */
static void list_v(int16_t version, const char *topic, const int32_t *partitions,
                   const int64_t *timestamps, int n, int32_t max_num_offsets,
                   rn_list_offsets_response_partition_t *out)
{
    rn_list_offsets_request_partition_t ps[4];
    cr_assert_leq(n, 4);
    for (int i = 0; i < n; i++) {
        rn_list_offsets_request_partition_init(&ps[i]);
        ps[i].partition_index = partitions[i];
        ps[i].timestamp = timestamps[i];
        ps[i].max_num_offsets = max_num_offsets;
    }
    rn_list_offsets_request_topic_t t;
    rn_list_offsets_request_topic_init(&t);
    t.name = S(topic);
    t.partitions.items = ps;
    t.partitions.count = n;
    rn_list_offsets_request_t body;
    rn_list_offsets_request_init(&body);
    body.replica_id = -1;
    body.topics.items = &t;
    body.topics.count = 1;
    rn_list_offsets_response_t resp;
    call(RN_API_LIST_OFFSETS, version, &body, &resp);
    cr_assert_eq(resp.topics.count, 1);
    cr_assert(rn_str_eq_cstr(resp.topics.items[0].name, topic));
    cr_assert_eq(resp.topics.items[0].partitions.count, n);
    for (int i = 0; i < n; i++) {
        out[i] = resp.topics.items[0].partitions.items[i];
        cr_assert_eq(out[i].partition_index, partitions[i]);
    }
}

static rn_list_offsets_response_partition_t list(int16_t version, const char *topic,
                                                 int32_t partition, int64_t timestamp)
{
    rn_list_offsets_response_partition_t out;
    list_v(version, topic, &partition, &timestamp, 1, 1, &out);
    return out;
}

/* Asserts an answer of v1+: no error, `offset` and `timestamp`. */
static void assert_found(int16_t version, const char *topic, int32_t partition, int64_t ts,
                         int64_t offset, int64_t timestamp)
{
    rn_list_offsets_response_partition_t p = list(version, topic, partition, ts);
    cr_assert_eq(p.error_code, 0, "v%d %s-%d at %lld", version, topic, partition, (long long)ts);
    cr_assert_eq(p.offset, offset, "v%d %s-%d at %lld", version, topic, partition, (long long)ts);
    cr_assert_eq(p.timestamp, timestamp, "v%d %s-%d at %lld", version, topic, partition,
                 (long long)ts);
}

/* ---- earliest and latest ---- */

Test(list_offsets_handler, earliest_and_latest_at_every_version)
{
    for (int16_t v = 1; v <= 11; v++) {
        assert_found(v, "t", 0, EARLIEST, 0, -1);
        assert_found(v, "t", 0, LATEST, 15, -1);
        assert_found(v, "t", 1, LATEST, 10, -1);
        assert_found(v, "empty", 0, EARLIEST, 0, -1);
        assert_found(v, "empty", 0, LATEST, 0, -1);
        if (v >= 4)
            cr_assert_eq(list(v, "t", 0, LATEST).leader_epoch, 0, "one leader, never re-elected");
    }
}

Test(list_offsets_handler, earliest_follows_delete_records)
{
    cr_assert_eq(rn_log_delete_records(fixture_log_of("t", 0), 7), 0);
    for (int16_t v = 1; v <= 11; v++) {
        assert_found(v, "t", 0, EARLIEST, 7, -1);
        assert_found(v, "t", 0, LATEST, 15, -1);
        if (v >= 8)
            assert_found(v, "t", 0, -4, 7, -1);
    }
    /* The search by timestamp starts at the log start too. */
    assert_found(5, "t", 0, 0, 7, 5002);
}

Test(list_offsets_handler, several_partitions_in_one_request)
{
    int32_t parts[] = { 0, 1 };
    int64_t ts[] = { 1003, LATEST };
    rn_list_offsets_response_partition_t out[2];
    list_v(7, "t", parts, ts, 2, 1, out);
    cr_assert_eq(out[0].offset, 3);
    cr_assert_eq(out[0].timestamp, 1003);
    cr_assert_eq(out[1].offset, 10);
}

/* ---- by timestamp ---- */

Test(list_offsets_handler, a_timestamp_finds_the_first_record_at_or_after_it)
{
    for (int16_t v = 1; v <= 7; v++) {
        assert_found(v, "t", 0, 0, 0, 1000);
        assert_found(v, "t", 0, 1002, 2, 1002);
        assert_found(v, "t", 0, 1005, 5, 5000);
        /* In offset order: offset 5 (5000) comes before offset 10 (3000). */
        assert_found(v, "t", 0, 3001, 5, 5000);
        assert_found(v, "t", 0, 5004, 9, 5004);
        /* Nothing at or after: -1 and -1, no error (Kafka's answer too). */
        assert_found(v, "t", 0, 5005, -1, -1);
        assert_found(v, "empty", 0, 0, -1, -1);
    }
}

Test(list_offsets_handler, records_inside_a_compressed_batch_are_found_exactly)
{
    assert_found(7, "t", 1, 2004, 4, 2004);
    assert_found(7, "t", 1, 1999, 0, 2000);
    assert_found(7, "t", 1, 2009, 9, 2009);
    assert_found(7, "t", 1, 2010, -1, -1);
}

Test(list_offsets_handler, a_log_append_time_batch_answers_its_first_offset_and_its_time)
{
    rn_topic_spec_t spec = { .name = S("stamped"), .num_partitions = 1, .replication_factor = 1 };
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
    append("stamped", 0, RN_CODEC_NONE, 3, 1000, 7000);
    append("stamped", 0, RN_CODEC_LZ4, 3, 1000, 8000);
    /* Every record of a LogAppendTime batch carries the batch's max_timestamp. */
    assert_found(7, "stamped", 0, 0, 0, 7000);
    assert_found(7, "stamped", 0, 7000, 0, 7000);
    assert_found(7, "stamped", 0, 7001, 3, 8000);
    assert_found(7, "stamped", 0, 8001, -1, -1);
}

/* ---- max timestamp (KIP-734) ---- */

Test(list_offsets_handler, max_timestamp_is_the_record_with_the_largest_timestamp)
{
    assert_found(7, "t", 0, MAX_TIMESTAMP, 9, 5004);
    assert_found(7, "t", 1, MAX_TIMESTAMP, 9, 2009);
    assert_found(7, "empty", 0, MAX_TIMESTAMP, -1, -1);
}

/* What Kafka 4.4 answers (asked with the same requests): a negative target the version does not
 * know is UNSUPPORTED_VERSION with offset and leader epoch -1, at every version; -3 too below
 * v7, although KIP-734 reads as if the broker did not check. */
Test(list_offsets_handler, a_target_the_version_does_not_know_is_unsupported_version)
{
    static const struct {
        int64_t ts;
        int16_t from; /* the first version that knows it */
    } targets[] = { { -3, 7 }, { -4, 8 }, { -5, 9 }, { -6, 11 }, { -7, 99 }, { -100, 99 } };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        for (int16_t v = 1; v <= 11 && v < targets[i].from; v++) {
            rn_list_offsets_response_partition_t p = list(v, "t", 0, targets[i].ts);
            cr_assert_eq(p.error_code, RN_KERR_UNSUPPORTED_VERSION, "v%d at %lld", v,
                         (long long)targets[i].ts);
            cr_assert_eq(p.offset, -1);
            if (v >= 4)
                cr_assert_eq(p.leader_epoch, -1);
        }
    }
}

/* Without tiered storage, as Kafka 4.4 answers: the earliest local offset (-4) is the earliest;
 * the last tiered offset (-5) and the earliest pending upload (-6) are not found. */
Test(list_offsets_handler, the_tiered_storage_targets_without_tiered_storage)
{
    for (int16_t v = 8; v <= 11; v++) {
        assert_found(v, "t", 0, -4, 0, -1);
        cr_assert_eq(list(v, "t", 0, -4).leader_epoch, 0);
        if (v >= 9) {
            assert_found(v, "t", 0, -5, -1, -1);
            cr_assert_eq(list(v, "t", 0, -5).leader_epoch, -1);
        }
        if (v >= 11)
            assert_found(v, "t", 0, -6, -1, -1);
    }
}

/* Nothing found has no leader epoch either: a timestamp past every record, or the largest
 * timestamp of an empty partition. */
Test(list_offsets_handler, nothing_found_answers_offset_and_epoch_minus_one)
{
    rn_list_offsets_response_partition_t p = list(7, "t", 0, 1LL << 50);
    assert_kerr(p.error_code, 0);
    cr_assert_eq(p.offset, -1);
    cr_assert_eq(p.leader_epoch, -1);
    p = list(7, "empty", 0, MAX_TIMESTAMP);
    cr_assert_eq(p.offset, -1);
    cr_assert_eq(p.leader_epoch, -1);
}

/* ---- v0 ---- */

static rn_list_offsets_response_partition_t list_v0(const char *topic, int32_t partition,
                                                    int64_t timestamp, int32_t max_num_offsets)
{
    rn_list_offsets_response_partition_t out;
    list_v(0, topic, &partition, &timestamp, 1, max_num_offsets, &out);
    return out;
}

Test(list_offsets_handler, v0_answers_a_list_of_offsets)
{
    rn_list_offsets_response_partition_t p = list_v0("t", 0, LATEST, 1);
    assert_kerr(p.error_code, 0);
    cr_assert_eq(p.old_style_offsets.count, 1);
    cr_assert_eq(p.old_style_offsets.items[0], 15);
    p = list_v0("t", 0, EARLIEST, 1);
    cr_assert_eq(p.old_style_offsets.count, 1);
    cr_assert_eq(p.old_style_offsets.items[0], 0);
    p = list_v0("empty", 0, LATEST, 1);
    cr_assert_eq(p.old_style_offsets.count, 1);
    cr_assert_eq(p.old_style_offsets.items[0], 0);
    p = list_v0("t", 0, LATEST, 0);
    assert_kerr(p.error_code, 0);
    cr_assert_eq(p.old_style_offsets.count, 0, "asked for none");
    cr_assert_eq(rn_log_delete_records(fixture_log_of("t", 0), 7), 0);
    p = list_v0("t", 0, EARLIEST, 1);
    cr_assert_eq(p.old_style_offsets.count, 1);
    cr_assert_eq(p.old_style_offsets.items[0], 7);
}

/* ---- errors ---- */

Test(list_offsets_handler, unknown_topics_and_partitions_are_unknown_topic_or_partition)
{
    for (int16_t v = 0; v <= 7; v++) {
        static const struct {
            const char *topic;
            int32_t partition;
        } unknown[] = { { "missing", 0 }, { "t", 2 }, { "t", -1 } };
        for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
            rn_list_offsets_response_partition_t p =
                list(v, unknown[i].topic, unknown[i].partition, LATEST);
            cr_assert_eq(p.error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, "v%d %s-%d", v,
                         unknown[i].topic, unknown[i].partition);
            if (v == 0) {
                cr_assert_leq(p.old_style_offsets.count, 0);
            } else {
                cr_assert_eq(p.offset, -1);
                cr_assert_eq(p.timestamp, -1);
            }
        }
    }
    cr_assert_null(rn_topics_get(fx.topics, S("missing")), "ListOffsets creates no topic");
}

/* ---- where Runnel used to differ from Kafka ---- */

/* Kafka (KafkaApis.handleListOffsetRequestV1AndAbove) answers INVALID_REQUEST for each copy of
 * a partition named twice in one request. */
/* Kafka 4.4 answers a partition named twice once, with INVALID_REQUEST; the other partitions
 * as usual. */
Test(list_offsets_handler, a_partition_named_twice_is_answered_once_with_invalid_request)
{
    rn_list_offsets_request_partition_t ps[3];
    int32_t idx[] = { 0, 1, 0 };
    for (int i = 0; i < 3; i++) {
        rn_list_offsets_request_partition_init(&ps[i]);
        ps[i].partition_index = idx[i];
        ps[i].timestamp = LATEST;
    }
    rn_list_offsets_request_topic_t t;
    rn_list_offsets_request_topic_init(&t);
    t.name = S("t");
    t.partitions.items = ps;
    t.partitions.count = 3;
    rn_list_offsets_request_t body;
    rn_list_offsets_request_init(&body);
    body.replica_id = -1;
    body.topics.items = &t;
    body.topics.count = 1;
    rn_list_offsets_response_t resp;
    call(RN_API_LIST_OFFSETS, 7, &body, &resp);
    cr_assert_eq(resp.topics.count, 1);
    cr_assert_eq(resp.topics.items[0].partitions.count, 2);
    const rn_list_offsets_response_partition_t *p = resp.topics.items[0].partitions.items;
    cr_assert_eq(p[0].partition_index, 0);
    assert_kerr(p[0].error_code, RN_KERR_INVALID_REQUEST);
    cr_assert_eq(p[0].offset, -1);
    cr_assert_eq(p[1].partition_index, 1);
    assert_kerr(p[1].error_code, 0);
    cr_assert_eq(p[1].offset, 10);
}

/* From v4 Kafka checks current_leader_epoch against the partition's (here always 0):
 * a newer epoch is UNKNOWN_LEADER_EPOCH, an older one FENCED_LEADER_EPOCH. */
Test(list_offsets_handler, a_current_leader_epoch_above_the_leaders_is_unknown_leader_epoch)
{
    rn_list_offsets_request_partition_t ps;
    rn_list_offsets_request_partition_init(&ps);
    ps.partition_index = 0;
    ps.timestamp = LATEST;
    ps.current_leader_epoch = 3;
    rn_list_offsets_request_topic_t t;
    rn_list_offsets_request_topic_init(&t);
    t.name = S("t");
    t.partitions.items = &ps;
    t.partitions.count = 1;
    rn_list_offsets_request_t body;
    rn_list_offsets_request_init(&body);
    body.replica_id = -1;
    body.topics.items = &t;
    body.topics.count = 1;
    rn_list_offsets_response_t resp;
    call(RN_API_LIST_OFFSETS, 7, &body, &resp);
    cr_assert_eq(resp.topics.items[0].partitions.items[0].error_code, 75, "UNKNOWN_LEADER_EPOCH");
}
