/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/config.c: Java-properties syntax, defaults, every validation error and the shape
 * of its message, unknown-key warnings, and the order in which files and overrides win. */
#include <criterion/criterion.h>

#include <errno.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "util/err.h"

/* Parses `text` into a new property list; the text must be valid. */
static runnel_config_t *props_of(const char *text)
{
    runnel_config_t *props = runnel_config_new();
    char err[256] = "";
    cr_assert_not_null(props);
    int rc = rn_props_parse(props, text, strlen(text), err, sizeof err);
    cr_assert_eq(rc, 0, "parse failed: %s", err);
    return props;
}

/* Parses `text`, which must be invalid, and returns the message. */
static const char *parse_error(const char *text, size_t len)
{
    static char err[256];
    runnel_config_t *props = runnel_config_new();
    err[0] = '\0';
    cr_assert_eq(rn_props_parse(props, text, len, err, sizeof err), RN_ECONFIG, "accepted: %s",
                 text);
    runnel_config_free(props);
    return err;
}

static void assert_value(const runnel_config_t *props, const char *key, const char *want)
{
    const char *got = rn_props_get(props, key);
    cr_assert_not_null(got, "key '%s' missing", key);
    cr_assert_str_eq(got, want, "key '%s'", key);
}

/* Builds a configuration holding just key=value. Returns rn_config_build's result. */
static int build_one(const char *key, const char *value, rn_config_t *out, char *err, size_t errlen)
{
    runnel_config_t *props = runnel_config_new();
    cr_assert_eq(runnel_config_set(props, key, value), 0);
    int rc = rn_config_build(props, out, err, errlen);
    runnel_config_free(props);
    return rc;
}

/* Asserts that key=value is rejected with exactly `message`. */
static void assert_invalid(const char *key, const char *value, const char *message)
{
    rn_config_t cfg;
    char err[512] = "";
    cr_assert_eq(build_one(key, value, &cfg, err, sizeof err), RN_ECONFIG, "%s=%s accepted", key,
                 value);
    cr_assert_str_eq(err, message);
    cr_assert_null(cfg.listener_host, "a failed build leaves nothing to free");
}

static void assert_valid(const char *key, const char *value, rn_config_t *out)
{
    char err[512] = "";
    cr_assert_eq(build_one(key, value, out, err, sizeof err), 0, "%s=%s rejected: %s", key, value,
                 err);
}

/* Runs rn_config_build with fd 2 sent to a file, and returns what was written (caller frees). */
static char *build_capturing_stderr(const runnel_config_t *props, rn_config_t *out, int *rc)
{
    char err[256];
    FILE *tmp = tmpfile();
    cr_assert_not_null(tmp);
    fflush(stderr);
    int saved = dup(2);
    cr_assert_geq(saved, 0);
    cr_assert_geq(dup2(fileno(tmp), 2), 0);
    *rc = rn_config_build(props, out, err, sizeof err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fseek(tmp, 0, SEEK_END);
    long size = ftell(tmp);
    rewind(tmp);
    char *text = calloc(1, (size_t)size + 1);
    cr_assert_not_null(text);
    cr_assert_eq(fread(text, 1, (size_t)size, tmp), (size_t)size);
    fclose(tmp);
    return text;
}

static char *write_temp_file(const char *text)
{
    char *path = strdup("/tmp/runnel-config-test-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

/* ---- Properties syntax ---- */

Test(config, properties_accept_equals_colon_and_whitespace_separators)
{
    runnel_config_t *props = props_of("a=1\nb: 2\nc 3\nd\t=\t4\ne  :5\nf\ng = = x\nh::y\n");
    assert_value(props, "a", "1");
    assert_value(props, "b", "2");
    assert_value(props, "c", "3");
    assert_value(props, "d", "4");
    assert_value(props, "e", "5");
    assert_value(props, "f", "");
    assert_value(props, "g", "= x"); /* only the first separator is skipped */
    assert_value(props, "h", ":y");
    runnel_config_free(props);
}

Test(config, properties_skip_comments_and_blank_lines)
{
    runnel_config_t *props = props_of("# x=1\n! y=2\n   # z=3\n\n \t \nk=v # not a comment\n#\n");
    cr_assert_null(rn_props_get(props, "x"));
    cr_assert_null(rn_props_get(props, "y"));
    cr_assert_null(rn_props_get(props, "z"));
    cr_assert_null(rn_props_get(props, "#"));
    assert_value(props, "k", "v # not a comment");
    cr_assert_eq(props->count, 1);
    runnel_config_free(props);
}

Test(config, properties_drop_leading_whitespace_and_keep_trailing)
{
    runnel_config_t *props = props_of("   key =   value  \n");
    assert_value(props, "key", "value  ");
    runnel_config_free(props);
}

Test(config, properties_join_continued_lines)
{
    runnel_config_t *props = props_of("k = a \\\n    b\\\n\tc\nj=\\\\\nl=x\n");
    assert_value(props, "k", "a bc");
    assert_value(props, "j", "\\"); /* an even run of backslashes does not continue */
    assert_value(props, "l", "x");
    runnel_config_free(props);
}

Test(config, properties_comment_lines_never_continue)
{
    runnel_config_t *props = props_of("# comment \\\nk=v\n");
    assert_value(props, "k", "v");
    runnel_config_free(props);
}

Test(config, properties_continuation_lines_are_not_comments)
{
    runnel_config_t *props = props_of("k=a\\\n  # b\n");
    assert_value(props, "k", "a# b");
    runnel_config_free(props);
}

Test(config, properties_allow_a_continuation_at_the_end_of_the_text)
{
    runnel_config_t *props = props_of("k=v\\");
    assert_value(props, "k", "v");
    runnel_config_free(props);
    props = props_of("\\\n\\\n");
    cr_assert_eq(props->count, 0);
    runnel_config_free(props);
}

Test(config, properties_accept_crlf_and_cr_line_ends)
{
    runnel_config_t *props = props_of("a=1\r\nb=2\rc=3\r\nd=4\\\r\n  5");
    assert_value(props, "a", "1");
    assert_value(props, "b", "2");
    assert_value(props, "c", "3");
    assert_value(props, "d", "45");
    runnel_config_free(props);
}

Test(config, properties_resolve_escapes)
{
    runnel_config_t *props =
        props_of("k=\\t\\n\\r\\f\\\\\\=\\:\\#\\!\\ \\q\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\n");
    assert_value(props, "k", "\t\n\r\f\\=:#! qA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    runnel_config_free(props);
}

Test(config, properties_keys_may_hold_escaped_separators)
{
    runnel_config_t *props = props_of("a\\=b\\ c\\:d=e\n");
    assert_value(props, "a=b c:d", "e");
    runnel_config_free(props);
}

Test(config, properties_last_value_wins)
{
    runnel_config_t *props = props_of("k=1\nother=x\nk=2\n");
    assert_value(props, "k", "2");
    cr_assert_eq(props->count, 2);
    runnel_config_free(props);
}

Test(config, properties_read_only_the_given_length)
{
    const char text[] = "a=1\nb=2";
    runnel_config_t *props = runnel_config_new();
    char err[128];
    cr_assert_eq(rn_props_parse(props, text, 4, err, sizeof err), 0);
    assert_value(props, "a", "1");
    cr_assert_null(rn_props_get(props, "b"));
    cr_assert_eq(rn_props_parse(props, text, 2, err, sizeof err), 0);
    assert_value(props, "a", ""); /* "a=" without its value */
    runnel_config_free(props);
}

Test(config, properties_reject_malformed_unicode_escapes)
{
    cr_assert_str_eq(parse_error("k=\\u12", 6), "line 1: malformed \\uXXXX escape");
    cr_assert_str_eq(parse_error("k=\\uZZZZ", 8), "line 1: malformed \\uXXXX escape");
    cr_assert_str_eq(parse_error("k=\\u0000", 8), "line 1: \\u0000 is not allowed");
    cr_assert_str_eq(parse_error("k=\\uD83D", 8), "line 1: unpaired surrogate in \\u escape");
    cr_assert_str_eq(parse_error("k=\\uD83Dx", 9), "line 1: unpaired surrogate in \\u escape");
    cr_assert_str_eq(parse_error("k=\\uDE00", 8), "line 1: unpaired surrogate in \\u escape");
}

Test(config, properties_errors_name_the_first_line_of_the_logical_line)
{
    const char *text = "a=1\n\n# c\nb=x\\\n  \\u00\n";
    cr_assert_str_eq(parse_error(text, strlen(text)), "line 4: malformed \\uXXXX escape");
}

Test(config, properties_reject_a_missing_key_and_nul_bytes)
{
    cr_assert_str_eq(parse_error("a=1\n=v\n", 7), "line 2: missing key");
    cr_assert_str_eq(parse_error(": v", 3), "line 1: missing key");
    cr_assert_str_eq(parse_error("a=1\nb=\0\n", 8), "line 2: NUL byte");
}

/* ---- runnel_config_set / runnel_config_load ---- */

Test(config, set_rejects_missing_arguments)
{
    runnel_config_t *props = runnel_config_new();
    cr_assert_eq(runnel_config_set(props, NULL, "v"), RN_EINVAL);
    cr_assert_eq(runnel_config_set(props, "k", NULL), RN_EINVAL);
    cr_assert_eq(runnel_config_set(props, "", "v"), RN_EINVAL);
    cr_assert_eq(runnel_config_set(NULL, "k", "v"), RN_EINVAL);
    runnel_config_free(props);
    runnel_config_free(NULL);
}

Test(config, overrides_set_after_load_win_over_the_file)
{
    char *path = write_temp_file("num.partitions=3\nnode.id=7\n");
    runnel_config_t *props = runnel_config_new();
    char err[256];
    cr_assert_eq(runnel_config_load(props, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(runnel_config_set(props, "num.partitions", "5"), 0);
    rn_config_t cfg;
    cr_assert_eq(rn_config_build(props, &cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.num_partitions, 5);
    cr_assert_eq(cfg.node_id, 7);
    rn_config_deinit(&cfg);
    runnel_config_free(props);
    unlink(path);
    free(path);
}

Test(config, a_file_loaded_later_wins_over_earlier_sets)
{
    char *path = write_temp_file("num.partitions=3\n");
    runnel_config_t *props = runnel_config_new();
    char err[256];
    cr_assert_eq(runnel_config_set(props, "num.partitions", "5"), 0);
    cr_assert_eq(runnel_config_load(props, path, err, sizeof err), 0, "%s", err);
    assert_value(props, "num.partitions", "3");
    runnel_config_free(props);
    unlink(path);
    free(path);
}

Test(config, load_of_a_missing_file_names_it)
{
    runnel_config_t *props = runnel_config_new();
    char err[256];
    cr_assert_eq(runnel_config_load(props, "/nonexistent/runnel.properties", err, sizeof err),
                 -ENOENT);
    cr_assert_str_eq(err, "cannot open /nonexistent/runnel.properties: No such file or directory");
    runnel_config_free(props);
}

Test(config, load_of_a_bad_file_names_file_and_line_and_changes_nothing)
{
    char *path = write_temp_file("num.partitions=3\nk=\\u12\n");
    runnel_config_t *props = runnel_config_new();
    char err[256], want[300];
    cr_assert_eq(runnel_config_set(props, "num.partitions", "5"), 0);
    cr_assert_eq(runnel_config_load(props, path, err, sizeof err), RN_ECONFIG);
    snprintf(want, sizeof want, "%s: line 2: malformed \\uXXXX escape", path);
    cr_assert_str_eq(err, want);
    assert_value(props, "num.partitions", "5");
    cr_assert_eq(props->count, 1);
    runnel_config_free(props);
    unlink(path);
    free(path);
}

/* ---- Defaults ---- */

Test(config, an_empty_configuration_takes_every_default)
{
    runnel_config_t *props = runnel_config_new();
    rn_config_t cfg;
    char err[256];
    cr_assert_eq(rn_config_build(props, &cfg, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(cfg.listener_host, "127.0.0.1");
    cr_assert_eq(cfg.listener_port, 9092);
    cr_assert_str_eq(cfg.advertised_host, "127.0.0.1");
    cr_assert_eq(cfg.advertised_port, 9092);
    cr_assert_eq(cfg.node_id, 1);
    cr_assert_null(cfg.cluster_id);
    cr_assert_str_eq(cfg.log_dir, "./data");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cr_assert_eq(cfg.num_network_threads, cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);
    cr_assert_eq(cfg.socket_request_max_bytes, 104857600);
    cr_assert_eq(cfg.connections_max_idle_ms, 600000);
    cr_assert(cfg.auto_create_topics_enable);
    cr_assert_eq(cfg.num_partitions, 1);
    cr_assert_eq(cfg.log_level, RN_LOG_INFO);
    rn_config_deinit(&cfg);
    rn_config_deinit(&cfg); /* safe twice */
    runnel_config_free(props);
}

Test(config, every_documented_default_is_valid)
{
    const rn_config_key_t *key;
    for (size_t i = 0; (key = rn_config_key_at(i)) != NULL; i++) {
        cr_assert_not_null(key->doc);
        cr_assert_null(strchr(key->doc, '\n'), "%s: doc is one line", key->name);
        cr_assert_eq(rn_config_key_find(key->name), key);
        if (key->default_value == NULL)
            continue;
        rn_config_t cfg;
        assert_valid(key->name, key->default_value, &cfg);
        rn_config_deinit(&cfg);
    }
    cr_assert_null(rn_config_key_find("no.such.key"));
}

Test(config, later_kafka_keys_are_known_but_not_in_effect)
{
    static const char *later[] = {
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "compression.type",
        "log.segment.delete.delay.ms",
        "log.preallocate",
        "unclean.leader.election.enable",
        "compression.gzip.level",
        "compression.lz4.level",
        "compression.zstd.level",
        "max.decompressed.message.bytes",
        "log.roll.jitter.ms",
        "log.roll.jitter.hours",
        "log.local.retention.ms",
        "log.local.retention.bytes",
        "log.remote.copy.lag.ms",
        "log.remote.copy.lag.bytes",
    };
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++) {
        const rn_config_key_t *key = rn_config_key_find(later[i]);
        cr_assert_not_null(key, "%s", later[i]);
        cr_assert_not(key->in_effect, "%s", later[i]);
    }
    cr_assert(rn_config_key_find("listeners")->in_effect);
    cr_assert(rn_config_key_find("broker.id")->in_effect);
}

Test(config, group_keys_are_typed_with_kafka_defaults)
{
    rn_config_t cfg;
    assert_valid("group.initial.rebalance.delay.ms", "250", &cfg);
    cr_assert_eq(cfg.group_initial_rebalance_delay_ms, 250);
    cr_assert_eq(cfg.group_min_session_timeout_ms, 6000);
    cr_assert_eq(cfg.group_max_session_timeout_ms, 1800000);
    rn_config_deinit(&cfg);
    assert_valid("group.max.session.timeout.ms", "60000", &cfg);
    cr_assert_eq(cfg.group_initial_rebalance_delay_ms, 3000);
    cr_assert_eq(cfg.group_max_session_timeout_ms, 60000);
    rn_config_deinit(&cfg);
    cr_assert(rn_config_key_find("group.initial.rebalance.delay.ms")->in_effect);
    assert_invalid("group.min.session.timeout.ms", "-1",
                   "invalid value for group.min.session.timeout.ms: '-1' (must be between 0 and "
                   "2147483647)");
}

Test(config, offsets_keys_are_typed_with_kafka_defaults)
{
    rn_config_t cfg;
    assert_valid("offsets.topic.num.partitions", "3", &cfg);
    cr_assert_eq(cfg.offsets_topic_num_partitions, 3);
    cr_assert_eq(cfg.offsets_retention_minutes, 10080);
    cr_assert_eq(cfg.offset_metadata_max_bytes, 4096);
    rn_config_deinit(&cfg);
    assert_valid("offsets.retention.minutes", "1", &cfg);
    cr_assert_eq(cfg.offsets_topic_num_partitions, 50);
    cr_assert_eq(cfg.offsets_retention_minutes, 1);
    rn_config_deinit(&cfg);
    cr_assert(rn_config_key_find("offsets.retention.minutes")->in_effect);
    assert_invalid("offsets.topic.num.partitions", "0",
                   "invalid value for offsets.topic.num.partitions: '0' (must be between 1 and "
                   "10000)");
    assert_invalid("offset.metadata.max.bytes", "40000",
                   "invalid value for offset.metadata.max.bytes: '40000' (must be between 0 and "
                   "32767)");
}

Test(config, log_and_topic_keys_are_in_effect)
{
    static const char *now[] = {
        "log.segment.bytes",
        "log.roll.ms",
        "log.roll.hours",
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
        "log.retention.bytes",
        "log.retention.check.interval.ms",
        "log.flush.interval.messages",
        "log.flush.interval.ms",
        "log.flush.scheduler.interval.ms",
        "log.index.interval.bytes",
        "index.interval.bytes",
        "log.index.size.max.bytes",
        "message.max.bytes",
        "log.cleanup.policy",
        "log.message.timestamp.type",
        "log.message.timestamp.before.max.ms",
        "log.message.timestamp.after.max.ms",
        "min.insync.replicas",
        "default.replication.factor",
        "delete.topic.enable",
        "runnel.accept.replication.factor",
        "runnel.internal.topics.allow.destructive.changes",
    };
    for (size_t i = 0; i < sizeof now / sizeof now[0]; i++) {
        const rn_config_key_t *key = rn_config_key_find(now[i]);
        cr_assert_not_null(key, "%s", now[i]);
        cr_assert(key->in_effect, "%s", now[i]);
        cr_assert_neq(key->type, RN_CONFIG_TYPE_UNKNOWN, "%s", now[i]);
    }
}

/* ---- Log and topic defaults ---- */

/* Builds from properties text, which must be valid. */
static void build_text(const char *text, rn_config_t *cfg)
{
    runnel_config_t *props = props_of(text);
    char err[512] = "";
    cr_assert_eq(rn_config_build(props, cfg, err, sizeof err), 0, "%s", err);
    runnel_config_free(props);
}

Test(config, log_defaults_are_kafkas)
{
    rn_config_t cfg;
    build_text("", &cfg);
    cr_assert_eq(cfg.log_defaults.segment_bytes, 1073741824);
    cr_assert_eq(cfg.log_defaults.segment_ms, 7 * 24 * 3600 * 1000LL);
    cr_assert_eq(cfg.log_defaults.retention_ms, 7 * 24 * 3600 * 1000LL);
    cr_assert_eq(cfg.log_defaults.retention_bytes, -1);
    cr_assert_eq(cfg.log_defaults.flush_messages, INT64_MAX);
    cr_assert_eq(cfg.log_defaults.flush_ms, INT64_MAX);
    cr_assert_eq(cfg.log_defaults.index_interval_bytes, 4096);
    cr_assert_eq(cfg.log_defaults.max_index_bytes, 10485760);
    cr_assert(cfg.log_defaults.delete_enabled);
    cr_assert_not(cfg.log_defaults.compact);
    cr_assert_eq(cfg.log_defaults.min_cleanable_ratio, 0.5);
    cr_assert_eq(cfg.log_defaults.min_compaction_lag_ms, 0);
    cr_assert_eq(cfg.log_defaults.max_compaction_lag_ms, INT64_MAX);
    cr_assert_eq(cfg.log_defaults.delete_retention_ms, 86400000);
    cr_assert_eq(cfg.log_retention_check_interval_ms, 300000);
    cr_assert_eq(cfg.message_max_bytes, 1048588);
    cr_assert_not(cfg.log_append_time);
    cr_assert_str_eq(cfg.log_cleanup_policy, "delete");
    cr_assert_eq(cfg.min_insync_replicas, 1);
    cr_assert_eq(cfg.default_replication_factor, 1);
    cr_assert(cfg.delete_topic_enable);
    cr_assert_not(cfg.accept_replication_factor);
    cr_assert_not(cfg.internal_topics_allow_destructive_changes);
    rn_config_deinit(&cfg);
}

Test(config, retention_prefers_ms_over_minutes_over_hours)
{
    rn_config_t cfg;
    build_text("log.retention.hours=1\n", &cfg);
    cr_assert_eq(cfg.log_defaults.retention_ms, 3600000);
    rn_config_deinit(&cfg);
    build_text("log.retention.hours=1\nlog.retention.minutes=2\n", &cfg);
    cr_assert_eq(cfg.log_defaults.retention_ms, 120000);
    rn_config_deinit(&cfg);
    build_text("log.retention.hours=1\nlog.retention.minutes=2\nlog.retention.ms=5\n", &cfg);
    cr_assert_eq(cfg.log_defaults.retention_ms, 5);
    rn_config_deinit(&cfg);
    build_text("log.retention.ms=-1\n", &cfg);
    cr_assert_eq(cfg.log_defaults.retention_ms, -1);
    rn_config_deinit(&cfg);
    build_text("log.retention.hours=-5\n", &cfg);
    cr_assert_eq(cfg.log_defaults.retention_ms, -1,
                 "any negative retention is unlimited, as in Kafka");
    rn_config_deinit(&cfg);
    build_text("log.retention.bytes=-7\n", &cfg);
    cr_assert_eq(cfg.log_defaults.retention_bytes, -1);
    rn_config_deinit(&cfg);
    assert_invalid("log.retention.minutes", "2147483648",
                   "invalid value for log.retention.minutes: '2147483648' (must be between "
                   "-2147483648 and 2147483647)");
    assert_invalid("log.retention.ms", "1d",
                   "invalid value for log.retention.ms: '1d' (not an integer)");
}

Test(config, roll_and_flush_fall_back_to_their_coarser_keys)
{
    rn_config_t cfg;
    build_text("log.roll.hours=2\n", &cfg);
    cr_assert_eq(cfg.log_defaults.segment_ms, 7200000);
    rn_config_deinit(&cfg);
    build_text("log.roll.hours=2\nlog.roll.ms=1000\n", &cfg);
    cr_assert_eq(cfg.log_defaults.segment_ms, 1000);
    rn_config_deinit(&cfg);
    build_text("log.flush.scheduler.interval.ms=3000\n", &cfg);
    cr_assert_eq(cfg.log_defaults.flush_ms, 3000);
    rn_config_deinit(&cfg);
    build_text("log.flush.scheduler.interval.ms=3000\nlog.flush.interval.ms=10\nlog.flush.interval."
               "messages=1\n",
               &cfg);
    cr_assert_eq(cfg.log_defaults.flush_ms, 10);
    cr_assert_eq(cfg.log_defaults.flush_messages, 1);
    rn_config_deinit(&cfg);
    assert_invalid("log.roll.hours", "0",
                   "invalid value for log.roll.hours: '0' (must be between 1 and 2147483647)");
    assert_invalid("log.roll.ms", "0", "invalid value for log.roll.ms: '0' (must be at least 1)");
    assert_invalid("log.flush.interval.messages", "0",
                   "invalid value for log.flush.interval.messages: '0' (must be at least 1)");
    assert_invalid("log.flush.interval.ms", "-1",
                   "invalid value for log.flush.interval.ms: '-1' (must be at least 0)");
}

Test(config, log_sizes_are_checked)
{
    assert_invalid("log.segment.bytes", "13",
                   "invalid value for log.segment.bytes: '13' (must be between 14 and 2147483647)");
    assert_invalid("log.segment.bytes", "2147483648",
                   "invalid value for log.segment.bytes: '2147483648' (must be between 14 and "
                   "2147483647)");
    assert_invalid("log.index.size.max.bytes", "3",
                   "invalid value for log.index.size.max.bytes: '3' (must be between 4 and "
                   "2147483647)");
    assert_invalid("log.index.interval.bytes", "-1",
                   "invalid value for log.index.interval.bytes: '-1' (must be between 0 and "
                   "2147483647)");
    assert_invalid("index.interval.bytes", "x",
                   "invalid value for index.interval.bytes: 'x' (not an integer)");
    assert_invalid("message.max.bytes", "-1",
                   "invalid value for message.max.bytes: '-1' (must be between 0 and 2147483647)");
    assert_invalid("log.retention.check.interval.ms", "0",
                   "invalid value for log.retention.check.interval.ms: '0' (must be at least 1)");
    assert_invalid("min.insync.replicas", "0",
                   "invalid value for min.insync.replicas: '0' (must be between 1 and 2147483647)");
    rn_config_t cfg;
    assert_valid("log.segment.bytes", "14", &cfg);
    cr_assert_eq(cfg.log_defaults.segment_bytes, 14);
    rn_config_deinit(&cfg);
    assert_valid("message.max.bytes", "2000000", &cfg);
    cr_assert_eq(cfg.message_max_bytes, 2000000);
    rn_config_deinit(&cfg);
    assert_valid("log.retention.check.interval.ms", "1000", &cfg);
    cr_assert_eq(cfg.log_retention_check_interval_ms, 1000);
    rn_config_deinit(&cfg);
}

Test(config, index_interval_takes_the_kafka_name_then_the_old_one)
{
    rn_config_t cfg;
    build_text("index.interval.bytes=100\n", &cfg);
    cr_assert_eq(cfg.log_defaults.index_interval_bytes, 100);
    cr_assert_str_eq(rn_config_value(&cfg, "log.index.interval.bytes"), "100");
    cr_assert(rn_config_is_set(&cfg, "log.index.interval.bytes"));
    rn_config_deinit(&cfg);
    build_text("index.interval.bytes=100\nlog.index.interval.bytes=200\n", &cfg);
    cr_assert_eq(cfg.log_defaults.index_interval_bytes, 200);
    rn_config_deinit(&cfg);
}

Test(config, cleanup_policy_is_a_list_of_delete_and_compact)
{
    static const struct {
        const char *value, *canon;
        bool del;
    } ok[] = {
        { "delete", "delete", true },
        { "compact", "compact", false },
        { "compact,delete", "compact,delete", true },
        { "delete, compact", "compact,delete", true },
        { " compact ,delete ", "compact,delete", true },
        { "delete,delete", "delete", true },
        { "", "", false },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char canon[16];
        bool del = !ok[i].del;
        cr_assert_eq(rn_config_parse_cleanup_policy(ok[i].value, canon, sizeof canon, &del), 0,
                     "'%s'", ok[i].value);
        cr_assert_str_eq(canon, ok[i].canon);
        cr_assert_eq(del, ok[i].del, "'%s'", ok[i].value);
    }
    static const char *bad[] = { "Delete", "compact,",       ",delete",
                                 "remove", "compact;delete", "compact,,delete" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char canon[16];
        cr_assert_eq(rn_config_parse_cleanup_policy(bad[i], canon, sizeof canon, NULL), RN_EINVAL,
                     "'%s'", bad[i]);
    }
    rn_config_t cfg;
    assert_valid("log.cleanup.policy", "compact", &cfg);
    cr_assert_str_eq(cfg.log_cleanup_policy, "compact");
    cr_assert(cfg.log_defaults.compact);
    cr_assert_not(cfg.log_defaults.delete_enabled);
    rn_config_deinit(&cfg);
    assert_invalid("log.cleanup.policy", "shred",
                   "invalid value for log.cleanup.policy: 'shred' (must be a comma list of delete "
                   "and compact)");
}

Test(config, enumerated_and_typed_topic_defaults_are_checked)
{
    assert_invalid("log.message.timestamp.type", "createtime",
                   "invalid value for log.message.timestamp.type: 'createtime' (must be CreateTime "
                   "or LogAppendTime)");
    assert_invalid("compression.type", "none",
                   "invalid value for compression.type: 'none' (must be one of uncompressed, zstd, "
                   "lz4, snappy, gzip, "
                   "producer)");
    assert_invalid("log.cleaner.min.cleanable.ratio", "1.5",
                   "invalid value for log.cleaner.min.cleanable.ratio: '1.5' (must be between 0 "
                   "and 1)");
    assert_invalid("log.cleaner.min.cleanable.ratio", "nan",
                   "invalid value for log.cleaner.min.cleanable.ratio: 'nan' (not a number)");
    assert_invalid("log.preallocate", "maybe",
                   "invalid value for log.preallocate: 'maybe' (must be true or false)");
    assert_invalid("default.replication.factor", "0",
                   "invalid value for default.replication.factor: '0' (must be between 1 and "
                   "32767)");
    assert_invalid("runnel.accept.replication.factor", "yes",
                   "invalid value for runnel.accept.replication.factor: 'yes' (must be true or "
                   "false)");
    rn_config_t cfg;
    assert_valid("log.message.timestamp.type", "LogAppendTime", &cfg);
    cr_assert(cfg.log_append_time);
    rn_config_deinit(&cfg);
    assert_valid("compression.type", "zstd", &cfg);
    rn_config_deinit(&cfg);
    assert_valid("default.replication.factor", "3", &cfg);
    cr_assert_eq(cfg.default_replication_factor, 3);
    rn_config_deinit(&cfg);
    assert_valid("delete.topic.enable", "false", &cfg);
    cr_assert_not(cfg.delete_topic_enable);
    rn_config_deinit(&cfg);
    assert_valid("runnel.accept.replication.factor", "true", &cfg);
    cr_assert(cfg.accept_replication_factor);
    rn_config_deinit(&cfg);
    assert_valid("runnel.internal.topics.allow.destructive.changes", "true", &cfg);
    cr_assert(cfg.internal_topics_allow_destructive_changes);
    rn_config_deinit(&cfg);
}

Test(config, values_in_effect_and_whether_they_were_set)
{
    rn_config_t cfg;
    build_text("log.retention.hours= 24 \nnum.partitions=3\n", &cfg);
    cr_assert_str_eq(rn_config_value(&cfg, "log.retention.hours"), "24", "trimmed");
    cr_assert(rn_config_is_set(&cfg, "log.retention.hours"));
    cr_assert_str_eq(rn_config_value(&cfg, "log.segment.bytes"), "1073741824", "the default");
    cr_assert_not(rn_config_is_set(&cfg, "log.segment.bytes"));
    cr_assert_null(rn_config_value(&cfg, "log.retention.ms"), "no static default");
    cr_assert_not(rn_config_is_set(&cfg, "log.retention.ms"));
    cr_assert_null(rn_config_value(&cfg, "no.such.key"));
    cr_assert_not(rn_config_is_set(&cfg, "no.such.key"));
    cr_assert_str_eq(rn_config_value(&cfg, "num.partitions"), "3");
    rn_config_deinit(&cfg);
    cr_assert_null(rn_config_value(&cfg, "num.partitions"), "a deinited config has no values");
}

/* ---- Listeners ---- */

Test(config, listener_port_70000_is_invalid)
{
    assert_invalid("listeners", "PLAINTEXT://127.0.0.1:70000",
                   "invalid value for listeners: 'PLAINTEXT://127.0.0.1:70000' (port must be "
                   "between 0 and 65535)");
    assert_invalid("listeners", "PLAINTEXT://127.0.0.1:-1",
                   "invalid value for listeners: 'PLAINTEXT://127.0.0.1:-1' (port must be between "
                   "0 and 65535)");
    assert_invalid("listeners", "PLAINTEXT://127.0.0.1:99999999999999999999999",
                   "invalid value for listeners: 'PLAINTEXT://127.0.0.1:99999999999999999999999' "
                   "(port must be between 0 and 65535)");
}

Test(config, listener_without_a_port_is_invalid)
{
    assert_invalid("listeners", "PLAINTEXT://127.0.0.1",
                   "invalid value for listeners: 'PLAINTEXT://127.0.0.1' (missing port)");
    assert_invalid("listeners", "PLAINTEXT://127.0.0.1:",
                   "invalid value for listeners: 'PLAINTEXT://127.0.0.1:' (missing port)");
    assert_invalid("listeners", "PLAINTEXT://[::1]",
                   "invalid value for listeners: 'PLAINTEXT://[::1]' (missing port)");
    assert_invalid("listeners", "PLAINTEXT://",
                   "invalid value for listeners: 'PLAINTEXT://' (missing port)");
}

Test(config, listener_port_must_be_a_number)
{
    assert_invalid("listeners", "PLAINTEXT://:abc",
                   "invalid value for listeners: 'PLAINTEXT://:abc' (port is not a number)");
    assert_invalid("listeners", "PLAINTEXT://:90 92",
                   "invalid value for listeners: 'PLAINTEXT://:90 92' (port is not a number)");
    assert_invalid("listeners", "PLAINTEXT://:0x10",
                   "invalid value for listeners: 'PLAINTEXT://:0x10' (port is not a number)");
}

Test(config, listener_must_be_one_plaintext_endpoint)
{
    assert_invalid("listeners", "SSL://:9093",
                   "invalid value for listeners: 'SSL://:9093' (only PLAINTEXT is supported)");
    assert_invalid("listeners", "PLAINTEXT://:9092,PLAINTEXT://:9093",
                   "invalid value for listeners: 'PLAINTEXT://:9092,PLAINTEXT://:9093' (only one "
                   "listener is supported)");
    assert_invalid("listeners", "127.0.0.1:9092",
                   "invalid value for listeners: '127.0.0.1:9092' (expected NAME://HOST:PORT)");
    assert_invalid("listeners", "", "invalid value for listeners: '' (expected NAME://HOST:PORT)");
    assert_invalid("listeners", "://:1",
                   "invalid value for listeners: '://:1' (expected NAME://HOST:PORT)");
}

Test(config, listener_host_must_be_an_address_or_localhost)
{
    assert_invalid("listeners", "PLAINTEXT://example.com:9092",
                   "invalid value for listeners: 'PLAINTEXT://example.com:9092' "
                   "(host must be empty, an IPv4 address, [IPv6 address] or localhost)");
    assert_invalid("listeners", "PLAINTEXT://::1:9092",
                   "invalid value for listeners: 'PLAINTEXT://::1:9092' "
                   "(an IPv6 address needs brackets, e.g. PLAINTEXT://[::1]:9092)");
    assert_invalid("listeners", "PLAINTEXT://[zz]:9092",
                   "invalid value for listeners: 'PLAINTEXT://[zz]:9092' (not an IPv6 address "
                   "between the brackets)");
    assert_invalid("listeners", "PLAINTEXT://[::1:9092",
                   "invalid value for listeners: 'PLAINTEXT://[::1:9092' (missing ']' after an "
                   "IPv6 address)");
}

Test(config, listener_forms_that_are_accepted)
{
    rn_config_t cfg;
    assert_valid("listeners", "PLAINTEXT://:0", &cfg);
    cr_assert_str_eq(cfg.listener_host, "");
    cr_assert_eq(cfg.listener_port, 0);
    cr_assert_str_eq(cfg.advertised_host, "127.0.0.1");
    cr_assert_eq(cfg.advertised_port, -1, "port 0 advertises the bound port");
    rn_config_deinit(&cfg);

    assert_valid("listeners", "plaintext://LocalHost:19092", &cfg);
    cr_assert_str_eq(cfg.listener_host, "127.0.0.1");
    cr_assert_eq(cfg.listener_port, 19092);
    rn_config_deinit(&cfg);

    assert_valid("listeners", "  PLAINTEXT://0.0.0.0:65535 , ", &cfg);
    cr_assert_str_eq(cfg.listener_host, "0.0.0.0");
    cr_assert_eq(cfg.listener_port, 65535);
    cr_assert_str_eq(cfg.advertised_host, "127.0.0.1");
    cr_assert_eq(cfg.advertised_port, 65535);
    rn_config_deinit(&cfg);

    assert_valid("listeners", "PLAINTEXT://[::1]:9093", &cfg);
    cr_assert_str_eq(cfg.listener_host, "::1");
    cr_assert_str_eq(cfg.advertised_host, "::1");
    rn_config_deinit(&cfg);

    assert_valid("listeners", "PLAINTEXT://[::]:9093", &cfg);
    cr_assert_str_eq(cfg.listener_host, "::");
    cr_assert_str_eq(cfg.advertised_host, "::1");
    rn_config_deinit(&cfg);
}

Test(config, advertised_listener_may_name_a_host)
{
    rn_config_t cfg;
    assert_valid("advertised.listeners", "PLAINTEXT://kafka-1.example_net:19092", &cfg);
    cr_assert_str_eq(cfg.advertised_host, "kafka-1.example_net");
    cr_assert_eq(cfg.advertised_port, 19092);
    cr_assert_str_eq(cfg.listener_host, "127.0.0.1");
    rn_config_deinit(&cfg);

    assert_valid("advertised.listeners", "PLAINTEXT://localhost:0", &cfg);
    cr_assert_str_eq(cfg.advertised_host, "localhost");
    cr_assert_eq(cfg.advertised_port, -1);
    rn_config_deinit(&cfg);

    assert_valid("advertised.listeners", "PLAINTEXT://:9092", &cfg);
    cr_assert_str_eq(cfg.advertised_host, "127.0.0.1");
    rn_config_deinit(&cfg);
}

Test(config, advertised_listener_errors)
{
    assert_invalid("advertised.listeners", "PLAINTEXT://0.0.0.0:9092",
                   "invalid value for advertised.listeners: 'PLAINTEXT://0.0.0.0:9092' "
                   "(cannot advertise the wildcard address; name a host clients can reach)");
    assert_invalid("advertised.listeners", "PLAINTEXT://[::]:9092",
                   "invalid value for advertised.listeners: 'PLAINTEXT://[::]:9092' "
                   "(cannot advertise the wildcard address; name a host clients can reach)");
    assert_invalid("advertised.listeners", "PLAINTEXT://kafka",
                   "invalid value for advertised.listeners: 'PLAINTEXT://kafka' (missing port)");
    assert_invalid("advertised.listeners", "PLAINTEXT://bad host:1",
                   "invalid value for advertised.listeners: 'PLAINTEXT://bad host:1' "
                   "(host must be a DNS name, an IPv4 address or [IPv6 address])");
    assert_invalid("advertised.listeners", "SASL_SSL://kafka:9093",
                   "invalid value for advertised.listeners: 'SASL_SSL://kafka:9093' (only "
                   "PLAINTEXT is supported)");
}

/* ---- Integers, sizes, booleans, levels ---- */

Test(config, negative_size_is_invalid)
{
    assert_invalid("socket.request.max.bytes", "-1",
                   "invalid value for socket.request.max.bytes: '-1' (must be between 1 and "
                   "2147483647)");
    assert_invalid("socket.request.max.bytes", "0",
                   "invalid value for socket.request.max.bytes: '0' (must be between 1 and "
                   "2147483647)");
    assert_invalid("socket.request.max.bytes", "2147483648",
                   "invalid value for socket.request.max.bytes: '2147483648' (must be between 1 "
                   "and 2147483647)");
    rn_config_t cfg;
    assert_valid("socket.request.max.bytes", "2147483647", &cfg);
    cr_assert_eq(cfg.socket_request_max_bytes, 2147483647);
    rn_config_deinit(&cfg);
}

Test(config, integers_are_parsed_strictly)
{
    assert_invalid("num.partitions", "100MB",
                   "invalid value for num.partitions: '100MB' (not an integer)");
    assert_invalid("num.partitions", "1 0",
                   "invalid value for num.partitions: '1 0' (not an integer)");
    assert_invalid("num.partitions", "0x10",
                   "invalid value for num.partitions: '0x10' (not an integer)");
    assert_invalid("num.partitions", "1.5",
                   "invalid value for num.partitions: '1.5' (not an integer)");
    assert_invalid("num.partitions", "", "invalid value for num.partitions: '' (not an integer)");
    assert_invalid("num.partitions", "-", "invalid value for num.partitions: '-' (not an integer)");
    assert_invalid("num.partitions", "99999999999999999999x",
                   "invalid value for num.partitions: '99999999999999999999x' (not an integer)");
    assert_invalid("num.partitions", "99999999999999999999",
                   "invalid value for num.partitions: '99999999999999999999' (must be between 1 "
                   "and 2147483647)");
    assert_invalid("num.partitions", "2147483648",
                   "invalid value for num.partitions: '2147483648' (must be between 1 and "
                   "2147483647)");
    assert_invalid("num.partitions", "0",
                   "invalid value for num.partitions: '0' (must be between 1 and 2147483647)");
    assert_invalid("connections.max.idle.ms", "9223372036854775808",
                   "invalid value for connections.max.idle.ms: '9223372036854775808' (must be at "
                   "least -1)");

    rn_config_t cfg;
    assert_valid("num.partitions", " +12\t", &cfg); /* trimmed like Kafka; Java accepts '+' */
    cr_assert_eq(cfg.num_partitions, 12);
    rn_config_deinit(&cfg);
    assert_valid("connections.max.idle.ms", "9223372036854775807", &cfg);
    cr_assert_eq(cfg.connections_max_idle_ms, INT64_MAX);
    rn_config_deinit(&cfg);
}

Test(config, idle_timeout_minus_one_disables_it)
{
    rn_config_t cfg;
    assert_valid("connections.max.idle.ms", "-1", &cfg);
    cr_assert_eq(cfg.connections_max_idle_ms, 0);
    rn_config_deinit(&cfg);
    assert_valid("connections.max.idle.ms", "0", &cfg);
    cr_assert_eq(cfg.connections_max_idle_ms, 0);
    rn_config_deinit(&cfg);
    assert_invalid("connections.max.idle.ms", "-2",
                   "invalid value for connections.max.idle.ms: '-2' (must be at least -1)");
}

Test(config, network_threads_are_bounded)
{
    assert_invalid("num.network.threads", "0",
                   "invalid value for num.network.threads: '0' (must be between 1 and 256)");
    assert_invalid("num.network.threads", "257",
                   "invalid value for num.network.threads: '257' (must be between 1 and 256)");
    rn_config_t cfg;
    assert_valid("num.network.threads", "4", &cfg);
    cr_assert_eq(cfg.num_network_threads, 4);
    rn_config_deinit(&cfg);
}

Test(config, bad_boolean_is_invalid)
{
    assert_invalid("auto.create.topics.enable", "yes",
                   "invalid value for auto.create.topics.enable: 'yes' (must be true or false)");
    assert_invalid("auto.create.topics.enable", "1",
                   "invalid value for auto.create.topics.enable: '1' (must be true or false)");
    rn_config_t cfg;
    assert_valid("auto.create.topics.enable", "FALSE", &cfg);
    cr_assert_not(cfg.auto_create_topics_enable);
    rn_config_deinit(&cfg);
    assert_valid("auto.create.topics.enable", "True ", &cfg);
    cr_assert(cfg.auto_create_topics_enable);
    rn_config_deinit(&cfg);
}

Test(config, bad_log_level_is_invalid)
{
    assert_invalid("log.level", "verbose",
                   "invalid value for log.level: 'verbose' (must be error, warn, info, debug or "
                   "trace)");
    rn_config_t cfg;
    assert_valid("log.level", "DEBUG", &cfg);
    cr_assert_eq(cfg.log_level, RN_LOG_DEBUG);
    rn_config_deinit(&cfg);
    assert_valid("log.level", "trace", &cfg);
    cr_assert_eq(cfg.log_level, RN_LOG_TRACE);
    rn_config_deinit(&cfg);
}

/* ---- Identity and storage ---- */

Test(config, node_id_and_broker_id_must_agree)
{
    runnel_config_t *props = props_of("node.id=1\nbroker.id=2\n");
    rn_config_t cfg;
    char err[256];
    cr_assert_eq(rn_config_build(props, &cfg, err, sizeof err), RN_ECONFIG);
    cr_assert_str_eq(err, "invalid value for broker.id: '2' (differs from node.id 1)");
    runnel_config_free(props);

    props = props_of("node.id=3\nbroker.id=3\n");
    cr_assert_eq(rn_config_build(props, &cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.node_id, 3);
    rn_config_deinit(&cfg);
    runnel_config_free(props);

    assert_valid("broker.id", "9", &cfg);
    cr_assert_eq(cfg.node_id, 9, "broker.id alone sets the id");
    rn_config_deinit(&cfg);

    assert_invalid("node.id", "-1",
                   "invalid value for node.id: '-1' (must be between 0 and 2147483647)");
    assert_invalid("broker.id", "x", "invalid value for broker.id: 'x' (not an integer)");
}

Test(config, cluster_id_is_optional_and_printable)
{
    rn_config_t cfg;
    assert_valid("cluster.id", "MkU3OEVBNTcwNTJENDM2Qk", &cfg);
    cr_assert_str_eq(cfg.cluster_id, "MkU3OEVBNTcwNTJENDM2Qk");
    rn_config_deinit(&cfg);
    assert_valid("cluster.id", "  ", &cfg);
    cr_assert_null(cfg.cluster_id);
    rn_config_deinit(&cfg);
    assert_invalid("cluster.id", "a b",
                   "invalid value for cluster.id: 'a b' (only printable ASCII without spaces is "
                   "allowed)");
}

Test(config, log_dirs_uses_the_first_directory)
{
    rn_config_t cfg;
    assert_valid("log.dirs", " /var/a , /var/b", &cfg);
    cr_assert_str_eq(cfg.log_dir, "/var/a");
    rn_config_deinit(&cfg);
    assert_valid("log.dir", "/var/c", &cfg);
    cr_assert_str_eq(cfg.log_dir, "/var/c");
    rn_config_deinit(&cfg);
    assert_invalid("log.dirs", " , ", "invalid value for log.dirs: ',' (no directory given)");
    assert_invalid("log.dir", "", "invalid value for log.dir: '' (no directory given)");

    runnel_config_t *props = props_of("log.dir=/var/old\nlog.dirs=/var/new\n");
    char err[256];
    cr_assert_eq(rn_config_build(props, &cfg, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(cfg.log_dir, "/var/new", "log.dirs wins over log.dir, as in Kafka");
    rn_config_deinit(&cfg);
    runnel_config_free(props);
}

/* ---- Messages and warnings ---- */

Test(config, error_message_is_one_line_whatever_the_value)
{
    rn_config_t cfg;
    char err[512];
    cr_assert_eq(build_one("num.partitions", "1\n2\x01", &cfg, err, sizeof err), RN_ECONFIG);
    cr_assert_str_eq(err, "invalid value for num.partitions: '1\\n2' (not an integer)");

    char big[1000];
    memset(big, '7', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(build_one("num.partitions", big, &cfg, err, sizeof err), RN_ECONFIG);
    cr_assert_null(strchr(err, '\n'));
    cr_assert(strncmp(err, "invalid value for num.partitions: '777", 38) == 0, "%s", err);
    cr_assert(strstr(err, "...' (must be between 1 and 2147483647)") != NULL, "%s", err);
    cr_assert_lt(strlen(err), 250);
}

Test(config, errors_fit_a_small_buffer)
{
    rn_config_t cfg;
    char err[16];
    cr_assert_eq(build_one("num.partitions", "x", &cfg, err, sizeof err), RN_ECONFIG);
    cr_assert_str_eq(err, "invalid value f");
    cr_assert_eq(build_one("num.partitions", "x", &cfg, NULL, 0), RN_ECONFIG);
}

Test(config, unknown_keys_are_warned_about_by_name)
{
    runnel_config_t *props =
        props_of("listners=PLAINTEXT://:1\nlog.retention.hours=1\nnode.id=1\n");
    rn_config_t cfg;
    int rc;
    char *out = build_capturing_stderr(props, &cfg, &rc);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, "listners") != NULL, "warning names the key: %s", out);
    cr_assert_null(strstr(out, "log.retention.hours"), "a known key is not warned about: %s", out);
    cr_assert_eq(cfg.listener_port, 9092, "the misspelt key changed nothing");
    free(out);
    rn_config_deinit(&cfg);
    runnel_config_free(props);
}

Test(config, keys_kafka_4_removed_are_unknown_and_ignored)
{
    /* KIP-724 and KIP-937: Kafka 4 dropped both; a configuration written for Kafka 3 still
     * starts, with a warning that names each. */
    runnel_config_t *props = props_of("log.message.downconversion.enable=false\n"
                                      "log.message.timestamp.difference.max.ms=1000\n");
    rn_config_t cfg;
    int rc;
    char *out = build_capturing_stderr(props, &cfg, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_null(rn_config_key_find("log.message.downconversion.enable"));
    cr_assert_null(rn_config_key_find("log.message.timestamp.difference.max.ms"));
    cr_assert(strstr(out, "unknown key 'log.message.downconversion.enable' ignored") != NULL, "%s",
              out);
    cr_assert(strstr(out, "unknown key 'log.message.timestamp.difference.max.ms' ignored") != NULL,
              "%s", out);
    free(out);
    rn_config_deinit(&cfg);
    runnel_config_free(props);
}

Test(config, kafka_4_topic_default_keys_are_checked_as_kafka_checks_them)
{
    rn_config_t cfg;
    assert_valid("compression.gzip.level", "-1", &cfg);
    cr_assert_str_eq(rn_config_value(&cfg, "compression.lz4.level"), "9");
    cr_assert_str_eq(rn_config_value(&cfg, "compression.zstd.level"), "3");
    cr_assert_str_eq(rn_config_value(&cfg, "max.decompressed.message.bytes"), "2147483639");
    cr_assert_str_eq(rn_config_value(&cfg, "log.message.timestamp.after.max.ms"), "3600000");
    cr_assert_str_eq(rn_config_value(&cfg, "log.message.timestamp.before.max.ms"),
                     "9223372036854775807");
    cr_assert_str_eq(rn_config_value(&cfg, "log.local.retention.ms"), "-2");
    cr_assert_str_eq(rn_config_value(&cfg, "log.remote.copy.lag.bytes"), "-1");
    cr_assert_null(rn_config_value(&cfg, "log.roll.jitter.ms"));
    cr_assert_str_eq(rn_config_value(&cfg, "log.roll.jitter.hours"), "0");
    rn_config_deinit(&cfg);
    assert_valid("compression.gzip.level", "9", &cfg);
    rn_config_deinit(&cfg);
    assert_invalid("compression.gzip.level", "0",
                   "invalid value for compression.gzip.level: '0' (must be between 1 and 9, or "
                   "-1)");
    assert_invalid("compression.lz4.level", "18",
                   "invalid value for compression.lz4.level: '18' (must be between 1 and 17)");
    assert_invalid("compression.zstd.level", "-131073",
                   "invalid value for compression.zstd.level: '-131073' (must be between -131072 "
                   "and 22)");
    assert_invalid("max.decompressed.message.bytes", "2147483647",
                   "invalid value for max.decompressed.message.bytes: '2147483647' (must be "
                   "between 1 and 2147483639)");
    assert_invalid("log.message.timestamp.after.max.ms", "-1",
                   "invalid value for log.message.timestamp.after.max.ms: '-1' (must be at least "
                   "0)");
    assert_invalid("log.local.retention.bytes", "-3",
                   "invalid value for log.local.retention.bytes: '-3' (must be at least -2)");
    assert_invalid("log.remote.copy.lag.ms", "-2",
                   "invalid value for log.remote.copy.lag.ms: '-2' (must be at least -1)");
    assert_invalid("log.roll.jitter.ms", "-1",
                   "invalid value for log.roll.jitter.ms: '-1' (must be at least 0)");
}

Test(config, nothing_is_logged_when_the_build_fails_or_log_level_is_error)
{
    runnel_config_t *props = props_of("typo.key=1\nnum.partitions=0\n");
    rn_config_t cfg;
    int rc;
    char *out = build_capturing_stderr(props, &cfg, &rc);
    cr_assert_eq(rc, RN_ECONFIG);
    cr_assert_str_eq(out, "");
    free(out);
    runnel_config_free(props);

    props = props_of("typo.key=1\nlog.level=error\n");
    out = build_capturing_stderr(props, &cfg, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out, "");
    free(out);
    rn_config_deinit(&cfg);
    runnel_config_free(props);
}

#ifdef RUNNEL_SOURCE_ROOT
Test(config, shipped_runnel_properties_is_valid_and_fully_known)
{
    runnel_config_t *props = runnel_config_new();
    char err[256];
    cr_assert_eq(runnel_config_load(props, RUNNEL_SOURCE_ROOT "/conf/runnel.properties", err,
                                    sizeof err),
                 0, "%s", err);
    rn_config_t cfg;
    int rc;
    char *out = build_capturing_stderr(props, &cfg, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out, "", "no warnings for the shipped file");
    cr_assert_str_eq(cfg.listener_host, "127.0.0.1");
    cr_assert_eq(cfg.listener_port, 9092);
    cr_assert_str_eq(cfg.log_dir, "./data");
    cr_assert_eq(cfg.node_id, 1);
    cr_assert(cfg.accept_replication_factor,
              "the development configuration accepts replication factor 3");
    cr_assert_eq(cfg.group_initial_rebalance_delay_ms, 0,
                 "the development configuration joins groups at once");
    free(out);
    rn_config_deinit(&cfg);
    runnel_config_free(props);
}
#endif

/* Kafka 4.4's CleanerConfig keys and the segment sizes of the internal topics (issue 12). */
Test(config, cleaner_keys_are_typed_with_kafka_defaults)
{
    rn_config_t cfg;
    build_text("", &cfg);
    cr_assert(cfg.log_cleaner_enable);
    cr_assert_eq(cfg.log_cleaner_threads, 1);
    cr_assert_eq(cfg.log_cleaner_dedupe_buffer_size, 134217728);
    cr_assert_eq(cfg.log_cleaner_io_buffer_size, 524288);
    cr_assert_eq(cfg.log_cleaner_io_buffer_load_factor, 0.9);
    cr_assert_eq(cfg.log_cleaner_backoff_ms, 15000);
    cr_assert_eq(cfg.log_cleaner_io_max_bytes_per_second, DBL_MAX);
    cr_assert_eq(cfg.offsets_topic_segment_bytes, 104857600);
    cr_assert_eq(cfg.transaction_state_log_segment_bytes, 104857600);
    cr_assert_str_eq(rn_config_value(&cfg, "log.cleaner.io.max.bytes.per.second"),
                     "1.7976931348623157E308");
    cr_assert_not(rn_config_is_set(&cfg, "log.cleaner.threads"));
    rn_config_deinit(&cfg);

    build_text("log.cleaner.enable=FALSE\nlog.cleaner.threads=4\n"
               "log.cleaner.dedupe.buffer.size=4194308\nlog.cleaner.io.buffer.size=0\n"
               "log.cleaner.io.buffer.load.factor=1\nlog.cleaner.backoff.ms=0\n"
               "log.cleaner.io.max.bytes.per.second=1e6\noffsets.topic.segment.bytes=14\n"
               "transaction.state.log.segment.bytes=1048576\n",
               &cfg);
    cr_assert_not(cfg.log_cleaner_enable);
    cr_assert_eq(cfg.log_cleaner_threads, 4);
    cr_assert_eq(cfg.log_cleaner_dedupe_buffer_size, 4194308);
    cr_assert_eq(cfg.log_cleaner_io_buffer_size, 0);
    cr_assert_eq(cfg.log_cleaner_io_buffer_load_factor, 1.0);
    cr_assert_eq(cfg.log_cleaner_backoff_ms, 0);
    cr_assert_eq(cfg.log_cleaner_io_max_bytes_per_second, 1e6);
    cr_assert_eq(cfg.offsets_topic_segment_bytes, 14);
    cr_assert_eq(cfg.transaction_state_log_segment_bytes, 1048576);
    cr_assert(rn_config_is_set(&cfg, "log.cleaner.threads"));
    rn_config_deinit(&cfg);

    static const char *keys[] = {
        "log.cleaner.enable",
        "log.cleaner.threads",
        "log.cleaner.dedupe.buffer.size",
        "log.cleaner.io.buffer.size",
        "log.cleaner.io.buffer.load.factor",
        "log.cleaner.backoff.ms",
        "log.cleaner.io.max.bytes.per.second",
        "log.cleaner.min.cleanable.ratio",
        "log.cleaner.delete.retention.ms",
        "log.cleaner.min.compaction.lag.ms",
        "log.cleaner.max.compaction.lag.ms",
        "offsets.topic.segment.bytes",
        "transaction.state.log.segment.bytes",
    };
    /* Kafka's ConfigType for each, as its DescribeConfigs reports them. */
    static const int8_t types[] = {
        RN_CONFIG_TYPE_BOOLEAN, RN_CONFIG_TYPE_INT,  RN_CONFIG_TYPE_LONG,   RN_CONFIG_TYPE_INT,
        RN_CONFIG_TYPE_DOUBLE,  RN_CONFIG_TYPE_LONG, RN_CONFIG_TYPE_DOUBLE, RN_CONFIG_TYPE_DOUBLE,
        RN_CONFIG_TYPE_LONG,    RN_CONFIG_TYPE_LONG, RN_CONFIG_TYPE_LONG,   RN_CONFIG_TYPE_INT,
        RN_CONFIG_TYPE_INT,
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const rn_config_key_t *key = rn_config_key_find(keys[i]);
        cr_assert_not_null(key, "%s", keys[i]);
        cr_assert(key->in_effect, "%s", keys[i]);
        cr_assert_eq(key->type, types[i], "%s", keys[i]);
        cr_assert_not(key->unlisted, "%s", keys[i]);
    }
}

Test(config, cleaner_keys_are_checked)
{
    assert_invalid("log.cleaner.enable", "yes",
                   "invalid value for log.cleaner.enable: 'yes' (must be true or false)");
    /* Kafka's range is "at least 0", but 0 stops Kafka 4.4 from starting: it divides the
     * dedupe buffer by the thread count. */
    assert_invalid("log.cleaner.threads", "0",
                   "invalid value for log.cleaner.threads: '0' (must be between 1 and "
                   "2147483647)");
    assert_invalid("log.cleaner.threads", "many",
                   "invalid value for log.cleaner.threads: 'many' (not an integer)");
    /* More than 1 MiB per thread, in integer division, as Kafka's KafkaConfig requires. */
    assert_invalid("log.cleaner.dedupe.buffer.size", "1048576",
                   "invalid value for log.cleaner.dedupe.buffer.size: '1048576' (must be at least "
                   "1MB per cleaner thread: 1048577 or more with log.cleaner.threads=1)");
    assert_invalid("log.cleaner.dedupe.buffer.size", "-1",
                   "invalid value for log.cleaner.dedupe.buffer.size: '-1' (must be at least 1MB "
                   "per cleaner thread: 1048577 or more with log.cleaner.threads=1)");
    rn_config_t cfg;
    assert_valid("log.cleaner.dedupe.buffer.size", "1048577", &cfg);
    cr_assert_eq(cfg.log_cleaner_dedupe_buffer_size, 1048577);
    rn_config_deinit(&cfg);
    runnel_config_t *props = props_of("log.cleaner.threads=3\nlog.cleaner.dedupe.buffer.size="
                                      "3145730\n");
    char err[512] = "";
    cr_assert_eq(rn_config_build(props, &cfg, err, sizeof err), RN_ECONFIG);
    cr_assert_str_eq(err, "invalid value for log.cleaner.dedupe.buffer.size: '3145730' (must be at "
                          "least 1MB per cleaner thread: 3145731 or more with "
                          "log.cleaner.threads=3)");
    runnel_config_free(props);
    /* The default (128 MiB) leaves 1 MiB for at most 127 threads. */
    assert_invalid("log.cleaner.threads", "128",
                   "invalid value for log.cleaner.dedupe.buffer.size: '134217728' (must be at "
                   "least 1MB per cleaner thread: 134217856 or more with "
                   "log.cleaner.threads=128)");
    assert_valid("log.cleaner.threads", "127", &cfg);
    rn_config_deinit(&cfg);

    assert_invalid("log.cleaner.io.buffer.size", "-1",
                   "invalid value for log.cleaner.io.buffer.size: '-1' (must be between 0 and "
                   "2147483647)");
    assert_invalid("log.cleaner.backoff.ms", "-1",
                   "invalid value for log.cleaner.backoff.ms: '-1' (must be at least 0)");
    assert_invalid("log.cleaner.io.buffer.load.factor", "0",
                   "invalid value for log.cleaner.io.buffer.load.factor: '0' (must be greater "
                   "than 0 and at most 1)");
    assert_invalid("log.cleaner.io.buffer.load.factor", "1.01",
                   "invalid value for log.cleaner.io.buffer.load.factor: '1.01' (must be greater "
                   "than 0 and at most 1)");
    assert_invalid("log.cleaner.io.buffer.load.factor", "x",
                   "invalid value for log.cleaner.io.buffer.load.factor: 'x' (not a number)");
    assert_invalid("log.cleaner.io.max.bytes.per.second", "0",
                   "invalid value for log.cleaner.io.max.bytes.per.second: '0' (must be greater "
                   "than 0)");
    assert_invalid("log.cleaner.io.max.bytes.per.second", "-5",
                   "invalid value for log.cleaner.io.max.bytes.per.second: '-5' (must be greater "
                   "than 0)");
    assert_invalid("log.cleaner.io.max.bytes.per.second", "Infinity",
                   "invalid value for log.cleaner.io.max.bytes.per.second: 'Infinity' (not a "
                   "number)");
    assert_valid("log.cleaner.io.max.bytes.per.second", "0.5", &cfg);
    cr_assert_eq(cfg.log_cleaner_io_max_bytes_per_second, 0.5);
    rn_config_deinit(&cfg);
    assert_invalid("offsets.topic.segment.bytes", "13",
                   "invalid value for offsets.topic.segment.bytes: '13' (must be between 14 and "
                   "2147483647)");
    assert_invalid("transaction.state.log.segment.bytes", "2147483648",
                   "invalid value for transaction.state.log.segment.bytes: '2147483648' (must be "
                   "between 14 and 2147483647)");
    assert_invalid("transaction.state.log.min.isr", "0",
                   "invalid value for transaction.state.log.min.isr: '0' (must be between 1 and "
                   "2147483647)");
}

/* ---- Connection limits (Kafka 4.4's answers: /work/facts/limits.md) ---- */

static void assert_overrides(const char *value, size_t want_n, const char *const *hosts,
                             const int32_t *maxes)
{
    rn_config_ip_override_t *list = NULL;
    size_t n = 99;
    char why[160] = "";
    cr_assert_eq(rn_config_parse_ip_overrides(value, &list, &n, why, sizeof why), 0,
                 "'%s' rejected: %s", value, why);
    cr_assert_eq(n, want_n, "'%s': %zu entries", value, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(list[i].host, hosts[i], "'%s' entry %zu", value, i);
        cr_assert_eq(list[i].max, maxes[i], "'%s' entry %zu", value, i);
    }
    rn_config_free_ip_overrides(list, n);
}

static void assert_overrides_invalid(const char *value, const char *why_want)
{
    rn_config_ip_override_t *list = (rn_config_ip_override_t *)(uintptr_t)1;
    size_t n = 99;
    char why[160] = "";
    cr_assert_eq(rn_config_parse_ip_overrides(value, &list, &n, why, sizeof why), RN_EINVAL,
                 "'%s' accepted", value);
    cr_assert_null(list);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(why, why_want, "'%s'", value);
}

Test(config, ip_overrides_parse_hosts_and_counts)
{
    assert_overrides("", 0, NULL, NULL);
    assert_overrides("127.0.0.1:200", 1, (const char *[]){ "127.0.0.1" }, (int32_t[]){ 200 });
    assert_overrides("hostName:100,127.0.0.1:200", 2, (const char *[]){ "hostName", "127.0.0.1" },
                     (int32_t[]){ 100, 200 });
    /* Whitespace around commas and colons, as Kafka's split and trims allow. */
    assert_overrides("localhost : 3 ,\t10.1.2.3:7", 2, (const char *[]){ "localhost", "10.1.2.3" },
                     (int32_t[]){ 3, 7 });
    /* The last ':' splits, so IPv6 literals are written without brackets. */
    assert_overrides("::1:5,fe80::1%eth0:6", 2, (const char *[]){ "::1", "fe80::1%eth0" },
                     (int32_t[]){ 5, 6 });
    /* Any Java int: Kafka starts with a negative count (every connection refused). */
    assert_overrides("a:-1,b:+2,c:2147483647,d:-2147483648", 4,
                     (const char *[]){ "a", "b", "c", "d" },
                     (int32_t[]){ -1, 2, INT32_MAX, INT32_MIN });
    /* An empty host is Java's loopback; a host given twice keeps its last count. */
    assert_overrides(":5,a:1,a:9", 2, (const char *[]){ "", "a" }, (int32_t[]){ 5, 9 });
}

Test(config, ip_overrides_drop_only_trailing_empty_entries)
{
    /* Java's String.split drops empty strings at the end only. */
    assert_overrides("127.0.0.2:1,", 1, (const char *[]){ "127.0.0.2" }, (int32_t[]){ 1 });
    assert_overrides("127.0.0.2:1 , ,", 1, (const char *[]){ "127.0.0.2" }, (int32_t[]){ 1 });
    assert_overrides(",", 0, NULL, NULL);
    assert_overrides_invalid("127.0.0.2:1,,127.0.0.3:2", "entry 2 is not host:count");
    assert_overrides_invalid(",127.0.0.2:1", "entry 1 is not host:count");
    assert_overrides_invalid("a:1, ,b:2", "entry 2 is not host:count");
}

Test(config, ip_overrides_reject_what_kafka_rejects)
{
    assert_overrides_invalid("127.0.0.1", "entry 1 is not host:count");
    assert_overrides_invalid("127.0.0.1:abc", "the count of entry 1 is not a 32-bit integer");
    assert_overrides_invalid("a:1,127.0.0.1:", "the count of entry 2 is not a 32-bit integer");
    assert_overrides_invalid("a:2147483648", "the count of entry 1 is not a 32-bit integer");
    assert_overrides_invalid("a:1 2", "the count of entry 1 is not a 32-bit integer");
    assert_overrides_invalid("host#:5", "invalid address 'host#': letters, digits and -%._: only");
    assert_overrides_invalid("[::1]:4", "invalid address '[::1]': letters, digits and -%._: only");
    assert_overrides_invalid("my host:4",
                             "invalid address 'my host': letters, digits and -%._: only");
}

Test(config, connection_limit_defaults_are_kafkas)
{
    rn_config_t cfg;
    assert_valid("max.connections", "2147483647", &cfg);
    cr_assert_eq(cfg.max_connections, INT32_MAX);
    cr_assert_eq(cfg.max_connections_per_ip, INT32_MAX);
    cr_assert_eq(cfg.n_ip_overrides, 0);
    cr_assert_eq(cfg.queued_max_request_bytes, -1);
    rn_config_deinit(&cfg);
}

Test(config, connection_limits_are_checked_as_kafka_checks_them)
{
    assert_invalid("max.connections", "-1",
                   "invalid value for max.connections: '-1' (must be between 0 and 2147483647)");
    assert_invalid("max.connections.per.ip", "-1",
                   "invalid value for max.connections.per.ip: '-1' (must be between 0 and "
                   "2147483647)");
    assert_invalid("max.connections.per.ip", "0",
                   "invalid value for max.connections.per.ip: '0' (can be 0 only if "
                   "max.connections.per.ip.overrides is set)");
    assert_invalid("max.connections.per.ip.overrides", "host#:5",
                   "invalid value for max.connections.per.ip.overrides: 'host#:5' (invalid "
                   "address 'host#': letters, digits and -%._: only)");
    assert_invalid("queued.max.request.bytes", "1000",
                   "invalid value for queued.max.request.bytes: '1000' (must be at least "
                   "socket.request.max.bytes (104857600), or -1)");
    rn_config_t cfg;
    assert_valid("max.connections", "0", &cfg); /* Kafka starts, and accepts nobody */
    rn_config_deinit(&cfg);
    assert_valid("queued.max.request.bytes", "0", &cfg);
    rn_config_deinit(&cfg);
    assert_valid("queued.max.request.bytes", "-5", &cfg);
    rn_config_deinit(&cfg);

    runnel_config_t *props = props_of("max.connections.per.ip=0\n"
                                      "max.connections.per.ip.overrides=127.0.0.1:3, "
                                      "localhost:7\n");
    char err[256] = "";
    cr_assert_eq(rn_config_build(props, &cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.max_connections_per_ip, 0);
    cr_assert_eq(cfg.n_ip_overrides, 2);
    cr_assert_str_eq(cfg.ip_overrides[1].host, "localhost");
    cr_assert_eq(cfg.ip_overrides[1].max, 7);
    cr_assert_str_eq(rn_config_value(&cfg, "max.connections.per.ip.overrides"),
                     "127.0.0.1:3, localhost:7");
    rn_config_deinit(&cfg);
    runnel_config_free(props);
}

Test(config, control_listener_is_off_by_default_and_parses_host_and_port)
{
    rn_config_t cfg;
    char err[256];
    cr_assert_eq(build_one("num.partitions", "1", &cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.control_port, -1);
    cr_assert_null(cfg.control_host);
    rn_config_deinit(&cfg);

    static const struct {
        const char *value, *host;
        int port;
    } ok[] = {
        { "http://127.0.0.1:0", "127.0.0.1", 0 },
        { "127.0.0.1:8090", "127.0.0.1", 8090 },
        { "http://localhost:65535", "127.0.0.1", 65535 },
        { "http://[::1]:9", "::1", 9 },
        { "", NULL, -1 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(build_one("runnel.control.listener", ok[i].value, &cfg, err, sizeof err), 0,
                     "'%s': %s", ok[i].value, err);
        cr_assert_eq(cfg.control_port, ok[i].port, "'%s'", ok[i].value);
        if (ok[i].host == NULL)
            cr_assert_null(cfg.control_host);
        else
            cr_assert_str_eq(cfg.control_host, ok[i].host, "'%s'", ok[i].value);
        rn_config_deinit(&cfg);
    }
    static const char *const bad[] = {
        "http://127.0.0.1", "example.com:80", "127.0.0.1:65536", "127.0.0.1:-1", ":80",
        "http://[::1:80"
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(build_one("runnel.control.listener", bad[i], &cfg, err, sizeof err),
                     RN_ECONFIG, "'%s' accepted", bad[i]);
        cr_assert(strstr(err, "runnel.control.listener") != NULL, "%s", err);
    }
}
