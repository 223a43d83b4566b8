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
    assert_ok("message.timestamp.difference.max.ms", "1000");
}

Test(topic_config, defaults_come_from_the_broker_keys)
{
    rn_config_t cfg;
    build(NULL, &cfg);
    rn_topic_config_t tc;
    rn_topic_config_compute(&cfg, NULL, 0, &tc);
    /* A topic without overrides runs with exactly the broker's derived log defaults. */
    cr_assert_eq(memcmp(&tc.log, &cfg.log_defaults, sizeof tc.log), 0);
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
          "min.insync.replicas=2\nlog.retention.bytes=12345\n",
          &cfg);
    rn_topic_config_compute(&cfg, NULL, 0, &tc);
    cr_assert_eq(memcmp(&tc.log, &cfg.log_defaults, sizeof tc.log), 0);
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
    cr_assert_eq(memcmp(&tc.log, &cfg.log_defaults, sizeof tc.log), 0);
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
        cr_assert_not_null(e[i].synonym_name, "%s", e[i].name);
    }

    const rn_config_entry_t *r = entry(e, n, "retention.ms");
    cr_assert_str_eq(r->value, "86400000");
    cr_assert_eq(r->source, 4, "STATIC_BROKER_CONFIG");
    cr_assert_not(r->is_default);
    cr_assert_str_eq(r->synonym_name, "log.retention.hours");
    cr_assert_str_eq(r->synonym_value, "24");
    cr_assert_eq(r->synonym_source, 4);
    cr_assert_eq(r->type, RN_CONFIG_TYPE_LONG);

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
    cr_assert_str_eq(seg->synonym_name, "log.roll.hours");
    cr_assert_str_eq(seg->synonym_value, "168");

    const rn_config_entry_t *comp = entry(e, n, "compression.type");
    cr_assert_str_eq(comp->value, "producer");
    cr_assert_not_null(strstr(comp->doc, "Not in effect"), "the doc says so honestly");
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
        "Invalid value delete,shred for configuration cleanup.policy: String must be one of: "
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
    size_t keys = 0;
    while (rn_config_key_at(keys) != NULL)
        keys++;
    cr_assert_eq(n, keys);
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
    cr_assert_gt(later, 0, "log.cleaner.enable and others are not in effect yet");
    cr_assert_str_eq(entry(e, n, "log.cleaner.enable")->doc,
                     "Not in effect yet: run compaction for compacted topics");
    rn_config_entries_free(e, n);
    fixture_deinit(&f);
}
