/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/topics/topic_config.c: which topic configs exist, Kafka's validation messages,
 * how a topic's values derive from its overrides and the broker's log.* keys, what
 * DescribeConfigs reports (value, source, synonym), and IncrementalAlterConfigs' operations. */
#include "fixture.h"

static void build(const char *props, rn_config_t *cfg)
{
    runnel_config_t *p = runnel_config_new();
    char err[256] = "";
    if (props != NULL)
        cr_assert_eq(rn_props_parse(p, props, strlen(props), err, sizeof err), 0, "%s", err);
    cr_assert_eq(rn_config_build(p, cfg, err, sizeof err), 0, "%s", err);
    runnel_config_free(p);
}

static void assert_check(const char *key, const char *value, const char *want)
{
    rn_topics_result_t res = { 0 };
    cr_assert_eq(rn_topic_config_check(key, value, &res), 40, "%s=%s accepted", key, value);
    cr_assert_eq(res.error_code, 40);
    cr_assert_str_eq(res.message, want);
}

static void assert_ok(const char *key, const char *value)
{
    rn_topics_result_t res = { 0 };
    cr_assert_eq(rn_topic_config_check(key, value, &res), 0, "%s=%s refused: %s", key, value,
                 res.message);
}

static const rn_config_entry_t *entry(const rn_config_entry_t *e, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0)
            return &e[i];
    cr_assert_fail("no entry %s", name);
    return NULL;
}

Test(topic_config, values_are_checked_with_kafkas_messages)
{
    assert_check("no.such.key", "1", "Unknown topic config name: no.such.key");
    assert_check(NULL, "1", "Unknown topic config name: null");
    assert_check("retention.ms", NULL, "Null value not supported for topic configs: retention.ms");
    assert_check("retention.ms", "1d",
                 "Invalid value 1d for configuration retention.ms: Not a number of type LONG");
    assert_check("retention.ms", "-2",
                 "Invalid value -2 for configuration retention.ms: Value must be at least -1");
    assert_check("segment.bytes", "13",
                 "Invalid value 13 for configuration segment.bytes: Value must be at least 14");
    assert_check("segment.bytes", "2147483648",
                 "Invalid value 2147483648 for configuration segment.bytes: Not a number of type "
                 "INT");
    assert_check("segment.ms", "0",
                 "Invalid value 0 for configuration segment.ms: Value must be at least 1");
    assert_check("segment.index.bytes", "3",
                 "Invalid value 3 for configuration segment.index.bytes: Value must be at least 4");
    assert_check("flush.messages", "0",
                 "Invalid value 0 for configuration flush.messages: Value must be at least 1");
    assert_check("max.message.bytes", "-1",
                 "Invalid value -1 for configuration max.message.bytes: Value must be at least 0");
    assert_check("min.insync.replicas", "0",
                 "Invalid value 0 for configuration min.insync.replicas: Value must be at least 1");
    assert_check("cleanup.policy", "remove",
                 "Invalid value remove for configuration cleanup.policy: String must be one of: "
                 "compact, delete");
    assert_check("message.timestamp.type", "createtime",
                 "Invalid value createtime for configuration message.timestamp.type: String must "
                 "be one of: CreateTime, "
                 "LogAppendTime");
    assert_check("compression.type", "none",
                 "Invalid value none for configuration compression.type: String must be one of: "
                 "uncompressed, zstd, "
                 "lz4, snappy, gzip, producer");
    assert_check("unclean.leader.election.enable", "yes",
                 "Invalid value yes for configuration unclean.leader.election.enable: Expected "
                 "value to be either true "
                 "or false");
    assert_check("min.cleanable.dirty.ratio", "1.01",
                 "Invalid value 1.01 for configuration min.cleanable.dirty.ratio: Value must be no "
                 "more than 1");
    assert_check("min.cleanable.dirty.ratio", "half",
                 "Invalid value half for configuration min.cleanable.dirty.ratio: Not a number of "
                 "type DOUBLE");
    assert_check("retention.ms", "\x01\x02",
                 "Invalid value ?? for configuration retention.ms: Not a number of type LONG");

    assert_ok("retention.ms", "-1");
    assert_ok("retention.bytes", "-5");
    assert_ok("segment.bytes", "14");
    assert_ok("cleanup.policy", "compact");
    assert_ok("cleanup.policy", "compact,delete");
    assert_ok("cleanup.policy", "delete, compact");
    assert_ok("cleanup.policy", "");
    assert_ok("compression.type", "zstd");
    assert_ok("message.timestamp.type", "LogAppendTime");
    assert_ok("min.cleanable.dirty.ratio", "0.1");
    assert_ok("preallocate", "TRUE");
    assert_ok("max.message.bytes", "0");
}

/* Answers of Kafka 4.4 (CreateTopics validate_only) for the keys it added since 3.x. */
Test(topic_config, kafka_4_keys_are_checked_with_kafkas_messages)
{
    assert_check("compression.gzip.level", "0",
                 "Invalid value 0 for configuration compression.gzip.level: Value must be between "
                 "1 and 9 or equal to -1");
    assert_check("compression.gzip.level", "10",
                 "Invalid value 10 for configuration compression.gzip.level: Value must be "
                 "between 1 and 9 or equal to -1");
    assert_check("compression.gzip.level", "x",
                 "Invalid value x for configuration compression.gzip.level: Not a number of type "
                 "INT");
    assert_check("compression.lz4.level", "0",
                 "Invalid value 0 for configuration compression.lz4.level: Value must be at least "
                 "1");
    assert_check("compression.lz4.level", "18",
                 "Invalid value 18 for configuration compression.lz4.level: Value must be no more "
                 "than 17");
    assert_check("compression.zstd.level", "-131073",
                 "Invalid value -131073 for configuration compression.zstd.level: Value must be "
                 "at least -131072");
    assert_check("compression.zstd.level", "23",
                 "Invalid value 23 for configuration compression.zstd.level: Value must be no more "
                 "than 22");
    assert_check("errors.deadletterqueue.group.enable", "yes",
                 "Invalid value yes for configuration errors.deadletterqueue.group.enable: "
                 "Expected value to be either true or false");
    assert_check("local.retention.ms", "-3",
                 "Invalid value -3 for configuration local.retention.ms: Value must be at least "
                 "-2");
    assert_check("local.retention.bytes", "-3",
                 "Invalid value -3 for configuration local.retention.bytes: Value must be at "
                 "least -2");
    assert_check("max.decompressed.message.bytes", "0",
                 "Invalid value 0 for configuration max.decompressed.message.bytes: Value must be "
                 "at least 1");
    assert_check("max.decompressed.message.bytes", "2147483647",
                 "Invalid value 2147483647 for configuration max.decompressed.message.bytes: "
                 "Value must be no more than 2147483639");
    assert_check("message.timestamp.after.max.ms", "-1",
                 "Invalid value -1 for configuration message.timestamp.after.max.ms: Value must "
                 "be at least 0");
    assert_check("message.timestamp.before.max.ms", "-1",
                 "Invalid value -1 for configuration message.timestamp.before.max.ms: Value must "
                 "be at least 0");
    assert_check("remote.copy.lag.bytes", "-2",
                 "Invalid value -2 for configuration remote.copy.lag.bytes: Value must be at "
                 "least -1");
    assert_check("remote.copy.lag.ms", "-2",
                 "Invalid value -2 for configuration remote.copy.lag.ms: Value must be at least "
                 "-1");
    assert_check("remote.log.copy.disable", "x",
                 "Invalid value x for configuration remote.log.copy.disable: Expected value to be "
                 "either true or false");
    assert_check("remote.storage.enable", "x",
                 "Invalid value x for configuration remote.storage.enable: Expected value to be "
                 "either true or false");
    assert_check("segment.jitter.ms", "-1",
                 "Invalid value -1 for configuration segment.jitter.ms: Value must be at least 0");

    assert_ok("compression.gzip.level", "-1");
    assert_ok("compression.gzip.level", "1");
    assert_ok("compression.gzip.level", "9");
    assert_ok("compression.lz4.level", "17");
    assert_ok("compression.zstd.level", "-131072");
    assert_ok("errors.deadletterqueue.group.enable", "TRUE");
    assert_ok("local.retention.ms", "-2");
    assert_ok("max.decompressed.message.bytes", "1");
    assert_ok("message.timestamp.before.max.ms", "0");
    assert_ok("remote.copy.lag.ms", "-1");
    assert_ok("remote.log.delete.on.disable", "true");
    assert_ok("remote.storage.enable", "false");
    assert_ok("segment.jitter.ms", "999999999999");
}

Test(topic_config, throttled_replicas_are_a_star_or_partition_broker_pairs)
{
    static const char *const keys[] = { "leader.replication.throttled.replicas",
                                        "follower.replication.throttled.replicas" };
    for (size_t k = 0; k < 2; k++) {
        /* Kafka 4.4 accepts all of these: items are trimmed, empty ones dropped. */
        static const char *const good[] = { "",
                                            "  ",
                                            "*",
                                            " * ",
                                            "0:1",
                                            "0:1,1:1",
                                            "0:1, 1:1",
                                            "0:1,",
                                            "01:1",
                                            ",",
                                            "0:1,,1:1",
                                            "0:7",
                                            "99999999999999999999:1" };
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
            assert_ok(keys[k], good[i]);
    }
    const char *key = "follower.replication.throttled.replicas";
    static const char *const bad[][2] = {
        { "0:1:2", "[0:1:2]" },   { "x", "[x]" },          { "0:x", "[0:x]" },
        { " 0 : 1 ", "[0 : 1]" }, { "*,0:1", "[*, 0:1]" }, { "*,*", "[*, *]" },
        { "-1:1", "[-1:1]" },     { "*:1", "[*:1]" },      { ":", "[:]" },
        { "0:", "[0:]" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[320];
        snprintf(want, sizeof want,
                 "Invalid value %s for configuration %s: %s must be the literal '*' or a list of "
                 "replicas in the following format: [partitionId]:[brokerId],[partitionId]:"
                 "[brokerId],...",
                 bad[i][1], key, key);
        assert_check(key, bad[i][0], want);
    }
}

Test(topic_config, remote_storage_is_refused_without_tiered_storage)
{
    rn_config_t cfg;
    build(NULL, &cfg);
    rn_topic_override_t *ov;
    size_t n;
    rn_topics_result_t res = { 0 };
    rn_topic_override_t on[] = { { "remote.storage.enable", "true" } };
    cr_assert_eq(rn_topic_config_from_entries(&cfg, on, 1, false, &ov, &n, &res), 40);
    cr_assert_str_eq(res.message, "Tiered Storage functionality is disabled in the broker. Topic "
                                  "cannot be configured with remote log storage.");
    rn_topic_override_t upper[] = { { "remote.storage.enable", "TRUE" } };
    cr_assert_eq(rn_topic_config_from_entries(&cfg, upper, 1, false, &ov, &n, &res), 40);
    /* The other tiered-storage keys are accepted without it, as Kafka 4.4 accepts them. */
    rn_topic_override_t off[] = { { "remote.storage.enable", "false" },
                                  { "remote.log.copy.disable", "true" },
                                  { "local.retention.ms", "1000" },
                                  { "retention.ms", "500" } };
    cr_assert_eq(rn_topic_config_from_entries(&cfg, off, 4, false, &ov, &n, &res), 0, "%s",
                 res.message);
    rn_overrides_free(ov, n);
    rn_config_op_t set[] = { { "remote.storage.enable", "true", 0 } };
    cr_assert_eq(rn_topic_config_apply_ops(&cfg, NULL, 0, set, 1, &ov, &n, &res), 40);
    cr_assert_null(ov);
    rn_config_deinit(&cfg);
}

Test(topic_config, keys_kafka_4_removed_are_unknown)
{
    assert_check("message.downconversion.enable", "true",
                 "Unknown topic config name: message.downconversion.enable");
    assert_check("message.timestamp.difference.max.ms", "1000",
                 "Unknown topic config name: message.timestamp.difference.max.ms");
    cr_assert(rn_topic_config_removed("message.downconversion.enable"));
    cr_assert(rn_topic_config_removed("message.timestamp.difference.max.ms"));
    cr_assert_not(rn_topic_config_removed("retention.ms"));
    cr_assert_not(rn_topic_config_removed("no.such.key"));
}

Test(topic_config, the_topic_keys_are_kafka_4s_with_its_defaults_and_types)
{
    rn_config_t cfg;
    build(NULL, &cfg);
    rn_config_entry_t *e;
    size_t n = rn_topic_config_describe(&cfg, NULL, 0, &e);
    /* Kafka 4.4's DescribeConfigs of a topic without overrides: name, value, type. */
    static const struct {
        const char *name, *value;
        int8_t type;
    } want[] = {
        { "cleanup.policy", "delete", RN_CONFIG_TYPE_LIST },
        { "compression.gzip.level", "-1", RN_CONFIG_TYPE_INT },
        { "compression.lz4.level", "9", RN_CONFIG_TYPE_INT },
        { "compression.type", "producer", RN_CONFIG_TYPE_STRING },
        { "compression.zstd.level", "3", RN_CONFIG_TYPE_INT },
        { "delete.retention.ms", "86400000", RN_CONFIG_TYPE_LONG },
        { "errors.deadletterqueue.group.enable", "false", RN_CONFIG_TYPE_BOOLEAN },
        { "file.delete.delay.ms", "60000", RN_CONFIG_TYPE_LONG },
        { "flush.messages", "9223372036854775807", RN_CONFIG_TYPE_LONG },
        { "flush.ms", "9223372036854775807", RN_CONFIG_TYPE_LONG },
        { "follower.replication.throttled.replicas", "", RN_CONFIG_TYPE_LIST },
        { "index.interval.bytes", "4096", RN_CONFIG_TYPE_INT },
        { "leader.replication.throttled.replicas", "", RN_CONFIG_TYPE_LIST },
        { "local.retention.bytes", "-2", RN_CONFIG_TYPE_LONG },
        { "local.retention.ms", "-2", RN_CONFIG_TYPE_LONG },
        { "max.compaction.lag.ms", "9223372036854775807", RN_CONFIG_TYPE_LONG },
        { "max.decompressed.message.bytes", "2147483639", RN_CONFIG_TYPE_INT },
        { "max.message.bytes", "1048588", RN_CONFIG_TYPE_INT },
        { "message.timestamp.after.max.ms", "3600000", RN_CONFIG_TYPE_LONG },
        { "message.timestamp.before.max.ms", "9223372036854775807", RN_CONFIG_TYPE_LONG },
        { "message.timestamp.type", "CreateTime", RN_CONFIG_TYPE_STRING },
        { "min.cleanable.dirty.ratio", "0.5", RN_CONFIG_TYPE_DOUBLE },
        { "min.compaction.lag.ms", "0", RN_CONFIG_TYPE_LONG },
        { "min.insync.replicas", "1", RN_CONFIG_TYPE_INT },
        { "preallocate", "false", RN_CONFIG_TYPE_BOOLEAN },
        { "remote.copy.lag.bytes", "-1", RN_CONFIG_TYPE_LONG },
        { "remote.copy.lag.ms", "0", RN_CONFIG_TYPE_LONG },
        { "remote.log.copy.disable", "false", RN_CONFIG_TYPE_BOOLEAN },
        { "remote.log.delete.on.disable", "false", RN_CONFIG_TYPE_BOOLEAN },
        { "remote.storage.enable", "false", RN_CONFIG_TYPE_BOOLEAN },
        { "retention.bytes", "-1", RN_CONFIG_TYPE_LONG },
        { "retention.ms", "604800000", RN_CONFIG_TYPE_LONG },
        { "segment.bytes", "1073741824", RN_CONFIG_TYPE_INT },
        { "segment.index.bytes", "10485760", RN_CONFIG_TYPE_INT },
        { "segment.jitter.ms", "0", RN_CONFIG_TYPE_LONG },
        { "segment.ms", "604800000", RN_CONFIG_TYPE_LONG },
        { "unclean.leader.election.enable", "false", RN_CONFIG_TYPE_BOOLEAN },
    };
    cr_assert_eq(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(e[i].name, want[i].name);
        cr_assert_str_eq(e[i].value, want[i].value, "%s", e[i].name);
        cr_assert_eq(e[i].type, want[i].type, "%s", e[i].name);
        cr_assert_eq(e[i].source, 5, "%s", e[i].name);
    }
    rn_config_entries_free(e, n);

    /* The same without a built broker configuration: Kafka's defaults from the table. */
    rn_config_t none = { 0 };
    n = rn_topic_config_describe(&none, NULL, 0, &e);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(e[i].value, want[i].value, "%s", e[i].name);
    rn_config_entries_free(e, n);
    rn_config_deinit(&cfg);
}

Test(topic_config, timestamp_limits_come_from_the_topic_or_the_broker)
{
    rn_config_t cfg;
    build(NULL, &cfg);
    rn_topic_config_t tc;
    rn_topic_config_compute(&cfg, NULL, 0, &tc);
    cr_assert_eq(tc.timestamp_before_max_ms, INT64_MAX);
    cr_assert_eq(tc.timestamp_after_max_ms, 3600000);
    rn_config_deinit(&cfg);
    build("log.message.timestamp.before.max.ms=1000\nlog.message.timestamp.after.max.ms=2000\n",
          &cfg);
    rn_topic_config_compute(&cfg, NULL, 0, &tc);
    cr_assert_eq(tc.timestamp_before_max_ms, 1000);
    cr_assert_eq(tc.timestamp_after_max_ms, 2000);
    rn_topic_override_t ov[] = { { "message.timestamp.after.max.ms", "0" } };
    rn_topic_config_compute(&cfg, ov, 1, &tc);
    cr_assert_eq(tc.timestamp_before_max_ms, 1000);
    cr_assert_eq(tc.timestamp_after_max_ms, 0);
    rn_config_deinit(&cfg);
}

/* A topic without overrides runs with exactly the broker's derived log defaults. Field by field:
 * memcmp would also compare padding, which neither side initializes. */
static void assert_log_is_broker_default(const rn_log_config_t *log, const rn_config_t *cfg)
{
    const rn_config_log_defaults_t *d = &cfg->log_defaults;
    /* The same fields in the same order: a field added to one struct belongs in the other. */
    _Static_assert(sizeof(rn_log_config_t) == sizeof(rn_config_log_defaults_t),
                   "rn_log_config_t and rn_config_log_defaults_t differ");
    cr_assert_eq(log->segment_bytes, d->segment_bytes);
    cr_assert_eq(log->segment_ms, d->segment_ms);
    cr_assert_eq(log->retention_ms, d->retention_ms);
    cr_assert_eq(log->retention_bytes, d->retention_bytes);
    cr_assert_eq(log->flush_messages, d->flush_messages);
    cr_assert_eq(log->flush_ms, d->flush_ms);
    cr_assert_eq(log->index_interval_bytes, d->index_interval_bytes);
    cr_assert_eq(log->max_index_bytes, d->max_index_bytes);
    cr_assert_eq(log->delete_enabled, d->delete_enabled);
    cr_assert_eq(log->compact, d->compact);
    cr_assert_eq(log->min_cleanable_ratio, d->min_cleanable_ratio);
    cr_assert_eq(log->min_compaction_lag_ms, d->min_compaction_lag_ms);
    cr_assert_eq(log->max_compaction_lag_ms, d->max_compaction_lag_ms);
    cr_assert_eq(log->delete_retention_ms, d->delete_retention_ms);
}

Test(topic_config, defaults_come_from_the_broker_keys)
{
    rn_config_t cfg;
    build(NULL, &cfg);
    rn_topic_config_t tc;
    rn_topic_config_compute(&cfg, NULL, 0, &tc);
    assert_log_is_broker_default(&tc.log, &cfg);
    cr_assert_not(tc.log.compact);
    cr_assert_eq(tc.log.min_cleanable_ratio, 0.5);
    cr_assert_eq(tc.log.min_compaction_lag_ms, 0);
    cr_assert_eq(tc.log.max_compaction_lag_ms, INT64_MAX);
    cr_assert_eq(tc.log.delete_retention_ms, 86400000);
    cr_assert_eq(tc.max_message_bytes, 1048588);
    cr_assert_eq(tc.min_insync_replicas, 1);
    cr_assert_not(tc.log_append_time);
    cr_assert_str_eq(tc.cleanup_policy, "delete");
    rn_config_deinit(&cfg);

    build("log.retention.hours=2\nlog.roll.ms=5000\nlog.segment.bytes=1000\nlog.flush.interval."
          "messages=1\n"
          "log.flush.scheduler.interval.ms=700\nlog.index.interval.bytes=10\nlog.index.size.max."
          "bytes=100\n"
          "message.max.bytes=99\nlog.cleanup.policy=compact\nlog.message.timestamp.type="
          "LogAppendTime\n"
          "min.insync.replicas=2\nlog.retention.bytes=12345\n"
          "log.cleaner.min.cleanable.ratio=0.25\nlog.cleaner.min.compaction.lag.ms=10\n"
          "log.cleaner.max.compaction.lag.ms=20\nlog.cleaner.delete.retention.ms=30\n",
          &cfg);
    rn_topic_config_compute(&cfg, NULL, 0, &tc);
    assert_log_is_broker_default(&tc.log, &cfg);
    cr_assert(tc.log.compact);
    cr_assert_eq(tc.log.min_cleanable_ratio, 0.25);
    cr_assert_eq(tc.log.min_compaction_lag_ms, 10);
    cr_assert_eq(tc.log.max_compaction_lag_ms, 20);
    cr_assert_eq(tc.log.delete_retention_ms, 30);
    cr_assert_eq(tc.log.retention_ms, 7200000);
    cr_assert_eq(tc.log.segment_ms, 5000);
    cr_assert_eq(tc.log.segment_bytes, 1000);
    cr_assert_eq(tc.log.flush_messages, 1);
    cr_assert_eq(tc.log.flush_ms, 700);
    cr_assert_eq(tc.log.index_interval_bytes, 10);
    cr_assert_eq(tc.log.max_index_bytes, 100);
    cr_assert_eq(tc.log.retention_bytes, 12345);
    cr_assert_not(tc.log.delete_enabled);
    cr_assert_eq(tc.max_message_bytes, 99);
    cr_assert(tc.log_append_time);
    cr_assert_eq(tc.min_insync_replicas, 2);
    cr_assert_str_eq(tc.cleanup_policy, "compact");
    rn_config_deinit(&cfg);

    build("log.retention.minutes=-3\n", &cfg);
    rn_topic_config_compute(&cfg, NULL, 0, &tc);
    cr_assert_eq(tc.log.retention_ms, -1);
    assert_log_is_broker_default(&tc.log, &cfg);
    rn_config_deinit(&cfg);
}

Test(topic_config, overrides_win_over_the_broker)
{
    rn_config_t cfg;
    build("log.retention.hours=2\n", &cfg);
    rn_topic_override_t ov[] = {
        { "retention.ms", "-1" },           { "cleanup.policy", "delete, compact" },
        { "segment.bytes", "1048576" },     { "message.timestamp.type", "LogAppendTime" },
        { "max.message.bytes", "5000000" },
    };
    rn_topic_config_t tc;
    rn_topic_config_compute(&cfg, ov, 5, &tc);
    cr_assert_eq(tc.log.retention_ms, -1);
    cr_assert_str_eq(tc.cleanup_policy, "compact,delete");
    cr_assert(tc.log.delete_enabled);
    cr_assert_eq(tc.log.segment_bytes, 1048576);
    cr_assert(tc.log_append_time);
    cr_assert_eq(tc.max_message_bytes, 5000000);
    cr_assert_eq(tc.log.segment_ms, cfg.log_defaults.segment_ms);
    rn_config_deinit(&cfg);
}

Test(topic_config, describe_reports_value_source_and_synonym)
{
    rn_config_t cfg;
    build("log.retention.hours=24\nlog.cleanup.policy=compact\n", &cfg);
    rn_topic_override_t ov[] = { { "segment.bytes", "1048576" }, { "cleanup.policy", "compact" } };
    rn_config_entry_t *e;
    size_t n = rn_topic_config_describe(&cfg, ov, 2, &e);
    cr_assert_geq(n, 20);
    for (size_t i = 1; i < n; i++)
        cr_assert_lt(strcmp(e[i - 1].name, e[i].name), 0, "sorted by name");
    for (size_t i = 0; i < n; i++) {
        cr_assert_not(e[i].read_only);
        cr_assert_not_null(e[i].value, "%s", e[i].name);
        cr_assert_not_null(e[i].doc);
        cr_assert_neq(e[i].type, 0, "%s", e[i].name);
    }

    /* Kafka 4.4 names only the first broker key, log.retention.ms, and takes the source from
     * it: the value comes from log.retention.hours, yet the source is DEFAULT_CONFIG and the
     * synonym has no value (so DescribeConfigs lists none). */
    const rn_config_entry_t *r = entry(e, n, "retention.ms");
    cr_assert_str_eq(r->value, "86400000");
    cr_assert_eq(r->source, 5, "DEFAULT_CONFIG, as Kafka 4.4 says");
    cr_assert_str_eq(r->synonym_name, "log.retention.ms");
    cr_assert_null(r->synonym_value);
    cr_assert_eq(r->synonym_source, 5);
    cr_assert_eq(r->type, RN_CONFIG_TYPE_LONG);
    cr_assert_null(entry(e, n, "remote.storage.enable")->synonym_name, "Kafka names none");

    const rn_config_entry_t *s = entry(e, n, "segment.bytes");
    cr_assert_str_eq(s->value, "1048576");
    cr_assert_eq(s->source, 1, "TOPIC_CONFIG");
    cr_assert_not(s->is_default);
    cr_assert_str_eq(s->synonym_name, "log.segment.bytes");
    cr_assert_str_eq(s->synonym_value, "1073741824");
    cr_assert_eq(s->synonym_source, 5);
    cr_assert_eq(s->type, RN_CONFIG_TYPE_INT);

    /* CLIENTS.md rule 10: Kafka Connect wants exactly "compact" for its topics. */
    const rn_config_entry_t *c = entry(e, n, "cleanup.policy");
    cr_assert_str_eq(c->value, "compact");
    cr_assert_eq(c->source, 1);
    cr_assert_eq(c->type, RN_CONFIG_TYPE_LIST);

    const rn_config_entry_t *m = entry(e, n, "max.message.bytes");
    cr_assert_str_eq(m->value, "1048588");
    cr_assert_eq(m->source, 5, "DEFAULT_CONFIG");
    cr_assert(m->is_default);
    cr_assert_str_eq(m->synonym_name, "message.max.bytes");

    const rn_config_entry_t *seg = entry(e, n, "segment.ms");
    cr_assert_str_eq(seg->value, "604800000");
    cr_assert_str_eq(seg->synonym_name, "log.roll.ms");
    cr_assert_null(seg->synonym_value);

    const rn_config_entry_t *comp = entry(e, n, "compression.type");
    cr_assert_str_eq(comp->value, "producer");
    cr_assert_not_null(strstr(comp->doc, "Not in effect"), "the doc says so honestly");
    rn_config_entries_free(e, n);
    rn_config_deinit(&cfg);
}

/* What Kafka 4.4 answered with log.retention.hours=100, log.roll.hours=10,
 * log.roll.jitter.hours=1, log.flush.scheduler.interval.ms=5000, log.segment.bytes=2000000 and
 * log.message.timestamp.after.max.ms=7200000 set in its server.properties. */
Test(topic_config, synonyms_are_the_first_broker_key_as_kafka_names_them)
{
    rn_config_t cfg;
    build("log.retention.hours=100\nlog.roll.hours=10\nlog.roll.jitter.hours=1\n"
          "log.flush.scheduler.interval.ms=5000\nlog.segment.bytes=2000000\n"
          "log.message.timestamp.after.max.ms=7200000\n",
          &cfg);
    rn_topic_override_t ov[] = { { "segment.ms", "1000" } };
    rn_config_entry_t *e;
    size_t n = rn_topic_config_describe(&cfg, ov, 1, &e);
    static const struct {
        const char *name, *value;
        int8_t source;
        const char *synonym, *synonym_value;
        int8_t synonym_source;
    } want[] = {
        { "retention.ms", "360000000", 5, "log.retention.ms", NULL, 5 },
        { "segment.jitter.ms", "3600000", 5, "log.roll.jitter.ms", NULL, 5 },
        { "flush.ms", "5000", 5, "log.flush.interval.ms", NULL, 5 },
        { "segment.ms", "1000", 1, "log.roll.ms", NULL, 5 },
        { "segment.bytes", "2000000", 4, "log.segment.bytes", "2000000", 4 },
        { "message.timestamp.after.max.ms", "7200000", 4, "log.message.timestamp.after.max.ms",
          "7200000", 4 },
        { "compression.gzip.level", "-1", 5, "compression.gzip.level", "-1", 5 },
        { "local.retention.ms", "-2", 5, "log.local.retention.ms", "-2", 5 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const rn_config_entry_t *c = entry(e, n, want[i].name);
        cr_assert_str_eq(c->value, want[i].value, "%s", c->name);
        cr_assert_eq(c->source, want[i].source, "%s", c->name);
        cr_assert_str_eq(c->synonym_name, want[i].synonym, "%s", c->name);
        if (want[i].synonym_value == NULL)
            cr_assert_null(c->synonym_value, "%s", c->name);
        else
            cr_assert_str_eq(c->synonym_value, want[i].synonym_value, "%s", c->name);
        cr_assert_eq(c->synonym_source, want[i].synonym_source, "%s", c->name);
    }
    rn_config_entries_free(e, n);
    rn_config_deinit(&cfg);
}

Test(topic_config, describe_works_without_a_built_broker_config)
{
    rn_config_t cfg = { 0 };
    rn_config_entry_t *e;
    size_t n = rn_topic_config_describe(&cfg, NULL, 0, &e);
    cr_assert_str_eq(entry(e, n, "retention.ms")->value, "604800000");
    cr_assert_str_eq(entry(e, n, "cleanup.policy")->value, "delete");
    cr_assert_eq(entry(e, n, "cleanup.policy")->source, 5);
    rn_config_entries_free(e, n);
    rn_config_entries_free(NULL, 0);
}

Test(topic_config, entries_trim_refuse_nulls_and_keep_the_last_value)
{
    rn_config_t cfg;
    build(NULL, &cfg);
    rn_topic_override_t set[] = { { "retention.ms", " 1000 " },
                                  { "cleanup.policy", "compact" },
                                  { "retention.ms", "5" } };
    rn_topic_override_t *ov;
    size_t n;
    rn_topics_result_t res = { 0 };
    cr_assert_eq(rn_topic_config_from_entries(&cfg, set, 3, false, &ov, &n, &res), 0, "%s",
                 res.message);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(rn_overrides_get(ov, n, "retention.ms"), "5");
    cr_assert_str_eq(rn_overrides_get(ov, n, "cleanup.policy"), "compact");
    rn_overrides_free(ov, n);

    rn_topic_override_t with_null[] = { { "cleanup.policy", "compact" }, { "retention.ms", NULL } };
    cr_assert_eq(rn_topic_config_from_entries(&cfg, with_null, 2, false, &ov, &n, &res), 40);
    cr_assert_str_eq(res.message, "Null value not supported for topic configs: retention.ms");
    cr_assert_null(ov);
    cr_assert_eq(rn_topic_config_from_entries(&cfg, with_null, 2, true, &ov, &n, &res), 0,
                 "AlterConfigs drops it");
    cr_assert_eq(n, 1);
    rn_overrides_free(ov, n);

    rn_topic_override_t lag[] = { { "min.compaction.lag.ms", "10" },
                                  { "max.compaction.lag.ms", "5" } };
    cr_assert_eq(rn_topic_config_from_entries(&cfg, lag, 2, false, &ov, &n, &res), 40);
    cr_assert_str_eq(res.message, "conflict topic config setting min.compaction.lag.ms (10) > "
                                  "max.compaction.lag.ms (5)");
    rn_config_deinit(&cfg);
}

static rn_topic_override_t *ops(const rn_config_t *cfg, rn_topic_override_t *cur, size_t ncur,
                                const rn_config_op_t *o, size_t no, size_t *n, int16_t want,
                                const char *message)
{
    rn_topic_override_t *ov = NULL;
    rn_topics_result_t res = { 0 };
    int16_t code = rn_topic_config_apply_ops(cfg, cur, ncur, o, no, &ov, n, &res);
    cr_assert_eq(code, want, "got %d: %s", code, res.message);
    if (message != NULL)
        cr_assert_str_eq(res.message, message);
    return ov;
}

Test(topic_config, incremental_ops_set_delete_append_subtract)
{
    rn_config_t cfg;
    build(NULL, &cfg);
    size_t n;
    rn_config_op_t append[] = { { "cleanup.policy", "compact", 2 } };
    rn_topic_override_t *ov = ops(&cfg, NULL, 0, append, 1, &n, 0, NULL);
    cr_assert_str_eq(rn_overrides_get(ov, n, "cleanup.policy"), "delete,compact",
                     "APPEND starts from the value in effect");

    rn_config_op_t subtract[] = { { "cleanup.policy", "delete", 3 } };
    rn_topic_override_t *ov2 = ops(&cfg, ov, n, subtract, 1, &n, 0, NULL);
    cr_assert_str_eq(rn_overrides_get(ov2, n, "cleanup.policy"), "compact");
    rn_overrides_free(ov, 1);

    rn_config_op_t again[] = { { "cleanup.policy", "compact", 2 } };
    ov = ops(&cfg, ov2, n, again, 1, &n, 0, NULL);
    cr_assert_str_eq(rn_overrides_get(ov, n, "cleanup.policy"), "compact",
                     "APPEND does not repeat an item");
    rn_overrides_free(ov2, 1);

    rn_config_op_t set_del[] = { { "retention.ms", " 100 ", 0 },
                                 { "cleanup.policy", NULL, 1 },
                                 { "no.such", NULL, 1 } };
    ov2 = ops(&cfg, ov, n, set_del, 3, &n, 0, NULL);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(rn_overrides_get(ov2, n, "retention.ms"), "100");
    cr_assert_null(rn_overrides_get(ov2, n, "cleanup.policy"));
    rn_overrides_free(ov, 1);
    rn_overrides_free(ov2, n);

    rn_config_op_t all_gone[] = { { "cleanup.policy", "delete,compact", 3 } };
    ov = ops(&cfg, NULL, 0, all_gone, 1, &n, 0, NULL);
    cr_assert_str_eq(rn_overrides_get(ov, n, "cleanup.policy"), "",
                     "an empty list is allowed, as in Kafka 3");
    rn_overrides_free(ov, n);
    rn_config_deinit(&cfg);
}

Test(topic_config, incremental_ops_refuse_what_kafka_refuses)
{
    rn_config_t cfg;
    build(NULL, &cfg);
    size_t n = 9;
    rn_topic_override_t cur[] = { { "retention.ms", "7" } };
    rn_config_op_t dup[] = { { "retention.ms", "1", 0 }, { "retention.ms", "2", 0 } };
    cr_assert_null(ops(&cfg, cur, 1, dup, 2, &n, 42, "Error due to duplicate config keys"));
    cr_assert_eq(n, 0);
    rn_config_op_t not_list[] = { { "retention.ms", "1", 2 } };
    ops(&cfg, cur, 1, not_list, 1, &n, 40,
        "Can't APPEND to key retention.ms because its type is not LIST.");
    rn_config_op_t not_list2[] = { { "retention.ms", "1", 3 } };
    ops(&cfg, cur, 1, not_list2, 1, &n, 40,
        "Can't SUBTRACT to key retention.ms because its type is not LIST.");
    rn_config_op_t unknown[] = { { "no.such", "1", 0 } };
    ops(&cfg, cur, 1, unknown, 1, &n, 40, "Unknown topic config name: no.such");
    rn_config_op_t unknown_append[] = { { "no.such", "1", 2 } };
    ops(&cfg, cur, 1, unknown_append, 1, &n, 40, "Unknown topic config name: no.such");
    rn_config_op_t bad_op[] = { { "retention.ms", "1", 9 } };
    ops(&cfg, cur, 1, bad_op, 1, &n, 42, "Unknown alter config operation 9");
    rn_config_op_t bad_value[] = { { "cleanup.policy", "shred", 2 } };
    ops(&cfg, cur, 1, bad_value, 1, &n, 40,
        "Invalid value shred for configuration cleanup.policy: String must be one of: "
        "compact, delete");
    rn_config_op_t null_set[] = { { "retention.ms", NULL, 0 } };
    ops(&cfg, cur, 1, null_set, 1, &n, 40,
        "Null value not supported for topic configs: retention.ms");
    rn_config_deinit(&cfg);
}

Test(topic_config, broker_entries_say_what_the_configuration_set)
{
    fixture_t f;
    fixture_init(&f, "log.retention.hours=5\nruntime.unknown=1\n");
    rn_topics_t topics = { .cfg = &f.cfg };
    rn_config_entry_t *e;
    size_t n = rn_topics_broker_config_entries(&topics, &e);
    size_t keys = 0, unlisted = 0;
    while (rn_config_key_at(keys) != NULL)
        unlisted += rn_config_key_at(keys++)->unlisted;
    cr_assert_eq(unlisted, 2,
                 "index.interval.bytes (an older Runnel name), and Kafka's internal "
                 "producer.id.expiration.check.interval.ms");
    cr_assert_eq(n, keys - unlisted);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_neq(e[i].name, "index.interval.bytes");
    const rn_config_entry_t *h = entry(e, n, "log.retention.hours");
    cr_assert_str_eq(h->value, "5");
    cr_assert_eq(h->source, 4);
    cr_assert(h->read_only);
    cr_assert_eq(h->type, RN_CONFIG_TYPE_INT);
    const rn_config_entry_t *rf = entry(e, n, "default.replication.factor");
    cr_assert_str_eq(rf->value, "1");
    cr_assert_eq(rf->source, 5);
    cr_assert(rf->is_default);
    cr_assert_null(entry(e, n, "log.retention.ms")->value);
    cr_assert_str_eq(entry(e, n, "log.dirs")->value, f.dir);
    rn_config_entries_free(e, n);
    fixture_deinit(&f);
}

Test(topic_config, broker_keys_not_in_effect_say_so_in_their_doc)
{
    fixture_t f;
    fixture_init(&f, "");
    rn_topics_t topics = { .cfg = &f.cfg };
    rn_config_entry_t *e;
    size_t n = rn_topics_broker_config_entries(&topics, &e);
    size_t later = 0;
    for (size_t i = 0; i < n; i++) {
        const rn_config_key_t *key = rn_config_key_find(e[i].name);
        cr_assert_not_null(key);
        bool says = strncmp(e[i].doc, "Not in effect yet: ", 19) == 0;
        cr_assert_eq(says, !key->in_effect, "%s: '%s'", e[i].name, e[i].doc);
        later += !key->in_effect;
    }
    cr_assert_gt(later, 0, "log.preallocate and others are not in effect yet");
    cr_assert_str_eq(entry(e, n, "log.preallocate")->doc,
                     "Not in effect yet: preallocate segment files");
    cr_assert_str_eq(entry(e, n, "log.cleaner.threads")->doc,
                     "threads that compact logs (1 or more)");
    rn_config_entries_free(e, n);
    fixture_deinit(&f);
}

/* Kafka 4.4's answers, asked with the same CreateTopics and IncrementalAlterConfigs requests
 * (issue 12): a LIST's items are checked in order, an empty one refused, a bad one named alone. */
Test(topic_config, cleanup_policy_items_are_checked_as_kafka_checks_them)
{
    static const char *empty = "Configuration 'cleanup.policy' values must not be empty.";
    assert_check("cleanup.policy", "compact,,delete", empty);
    assert_check("cleanup.policy", "compact,", empty);
    assert_check("cleanup.policy", ",delete", empty);
    assert_check("cleanup.policy", ",", empty);
    assert_check("cleanup.policy", "compact,foo",
                 "Invalid value foo for configuration cleanup.policy: String must be one of: "
                 "compact, delete");
    assert_check("cleanup.policy", "foo,bar",
                 "Invalid value foo for configuration cleanup.policy: String must be one of: "
                 "compact, delete");
    assert_check("cleanup.policy", "delete , foo",
                 "Invalid value foo for configuration cleanup.policy: String must be one of: "
                 "compact, delete");
    assert_check("cleanup.policy", "foo,,bar",
                 "Invalid value foo for configuration cleanup.policy: String must be one of: "
                 "compact, delete");
    assert_check("cleanup.policy", "COMPACT",
                 "Invalid value COMPACT for configuration cleanup.policy: String must be one of: "
                 "compact, delete");
    assert_ok("cleanup.policy", " ");
    assert_ok("cleanup.policy", "compact,compact");
    assert_ok("cleanup.policy", " compact , delete ");
    assert_ok("cleanup.policy", "delete,compact,delete");
}

Test(topic_config, compaction_keys_are_checked_as_kafka_checks_them)
{
    assert_check("min.cleanable.dirty.ratio", "1.5",
                 "Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no "
                 "more than 1");
    assert_check("min.cleanable.dirty.ratio", "-0.1",
                 "Invalid value -0.1 for configuration min.cleanable.dirty.ratio: Value must be at "
                 "least 0");
    assert_check("min.cleanable.dirty.ratio", "abc",
                 "Invalid value abc for configuration min.cleanable.dirty.ratio: Not a number of "
                 "type DOUBLE");
    assert_check("delete.retention.ms", "-1",
                 "Invalid value -1 for configuration delete.retention.ms: Value must be at least "
                 "0");
    assert_check("min.compaction.lag.ms", "-1",
                 "Invalid value -1 for configuration min.compaction.lag.ms: Value must be at least "
                 "0");
    assert_check("max.compaction.lag.ms", "0",
                 "Invalid value 0 for configuration max.compaction.lag.ms: Value must be at least "
                 "1");
    assert_check("segment.ms", "0",
                 "Invalid value 0 for configuration segment.ms: Value must be at least 1");
    assert_ok("min.cleanable.dirty.ratio", "0");
    assert_ok("min.cleanable.dirty.ratio", "1");
    assert_ok("delete.retention.ms", "0");
    assert_ok("max.compaction.lag.ms", "1");

    rn_config_t cfg;
    build(NULL, &cfg);
    rn_topic_override_t lags[] = { { "min.compaction.lag.ms", "100" },
                                   { "max.compaction.lag.ms", "50" } };
    rn_topics_result_t res = { 0 };
    cr_assert_eq(rn_topic_config_check_set(&cfg, lags, 2, &res), 40);
    cr_assert_str_eq(res.message, "conflict topic config setting min.compaction.lag.ms (100) > "
                                  "max.compaction.lag.ms (50)");
    rn_config_deinit(&cfg);
}

/* Kafka reports a LIST override as it parsed it: items trimmed, repeats dropped, joined with
 * ","; the typed settings follow. */
Test(topic_config, list_overrides_are_described_as_kafka_parses_them)
{
    rn_config_t cfg;
    build(NULL, &cfg);
    static const struct {
        const char *set, *described;
        bool compact, del;
    } cases[] = {
        { "compact,compact", "compact", true, false },
        { " compact , delete ", "compact,delete", true, true },
        { "delete,compact,delete", "delete,compact", true, true },
        { " ", "", false, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rn_topic_override_t ov[] = { { "cleanup.policy", (char *)cases[i].set } };
        rn_config_entry_t *e;
        size_t n = rn_topic_config_describe(&cfg, ov, 1, &e);
        cr_assert_str_eq(entry(e, n, "cleanup.policy")->value, cases[i].described, "'%s'",
                         cases[i].set);
        rn_config_entries_free(e, n);
        rn_topic_config_t tc;
        rn_topic_config_compute(&cfg, ov, 1, &tc);
        cr_assert_eq(tc.log.compact, cases[i].compact, "'%s'", cases[i].set);
        cr_assert_eq(tc.log.delete_enabled, cases[i].del, "'%s'", cases[i].set);
    }
    rn_config_deinit(&cfg);
}

/* Kafka splits an APPEND's operand as Java's String.split(",") does, so an empty item (an empty
 * operand, or one between commas) reaches the check and is refused; commas at the end are not
 * items. */
Test(topic_config, append_of_an_empty_item_is_refused_as_in_kafka)
{
    rn_config_t cfg;
    build(NULL, &cfg);
    rn_topic_override_t cur[] = { { "cleanup.policy", "delete" } };
    size_t n = 0;
    static const char *empty = "Configuration 'cleanup.policy' values must not be empty.";
    rn_config_op_t blank[] = { { "cleanup.policy", "", 2 } };
    ops(&cfg, cur, 1, blank, 1, &n, 40, empty);
    rn_config_op_t inner[] = { { "cleanup.policy", ",compact", 2 } };
    ops(&cfg, cur, 1, inner, 1, &n, 40, empty);
    rn_config_op_t space[] = { { "cleanup.policy", " ", 2 } };
    ops(&cfg, cur, 1, space, 1, &n, 40, empty);
    rn_config_op_t bad_first[] = { { "cleanup.policy", "foo,", 2 } };
    ops(&cfg, cur, 1, bad_first, 1, &n, 40,
        "Invalid value foo for configuration cleanup.policy: String must be one of: compact, "
        "delete");
    rn_config_op_t trailing[] = { { "cleanup.policy", "compact,", 2 } };
    rn_topic_override_t *ov = ops(&cfg, cur, 1, trailing, 1, &n, 0, NULL);
    cr_assert_str_eq(rn_overrides_get(ov, n, "cleanup.policy"), "delete,compact");
    rn_overrides_free(ov, n);
    rn_config_op_t absent[] = { { "cleanup.policy", "bar", 3 } };
    ov = ops(&cfg, cur, 1, absent, 1, &n, 0, NULL);
    cr_assert_str_eq(rn_overrides_get(ov, n, "cleanup.policy"), "delete");
    rn_overrides_free(ov, n);
    rn_config_deinit(&cfg);
}
