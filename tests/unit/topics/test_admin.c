/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/topics/admin.c: CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs and
 * IncrementalAlterConfigs through the room's interface, with real logs in a temporary
 * directory: error codes and messages as Kafka gives them, what lands on disk, and what lookups
 * see. */
#include "fixture.h"

static fixture_t f;
static rn_topics_t *topics;

static void open_with(const char *props)
{
    fixture_init(&f, props);
    cr_assert_eq(rn_topics_open(&f.cfg, &topics), 0);
}

static void setup(void)
{
    open_with(NULL);
}

static void teardown(void)
{
    rn_topics_close(topics);
    fixture_deinit(&f);
}

TestSuite(admin, .init = setup, .fini = teardown);

static rn_topics_result_t create(const char *name, int32_t partitions, int16_t rf)
{
    rn_topic_spec_t spec = fixture_spec(name, partitions);
    spec.replication_factor = rf;
    return rn_topics_create(topics, &spec, false, NULL);
}

static void assert_result(rn_topics_result_t res, int16_t code, const char *message)
{
    cr_assert_eq(res.error_code, code, "got %d: %s", res.error_code, res.message);
    if (message != NULL)
        cr_assert_str_eq(res.message, message);
}

static char *topic_file(void)
{
    char *text = fixture_read(f.dir, "runnel-topics");
    cr_assert_not_null(text);
    return text;
}

Test(admin, create_makes_partitions_and_writes_the_topic_file)
{
    rn_topic_t *topic = NULL;
    rn_topic_spec_t spec = fixture_spec("orders", 3);
    rn_topics_result_t res = rn_topics_create(topics, &spec, false, &topic);
    assert_result(res, 0, "");
    cr_assert_not_null(topic, "out_topic holds a reference");
    cr_assert_str_eq(topic->name, "orders");
    cr_assert_eq(atomic_load(&topic->npartitions), 3);
    cr_assert_not(topic->internal);
    cr_assert_not(rn_uuid_is_zero(&topic->id));
    for (int i = 0; i < 3; i++) {
        rn_partition_t *part = rn_topic_partition(topic, i);
        cr_assert_not_null(part);
        cr_assert_eq(part->index, i);
        cr_assert_eq(part->topic, topic);
        cr_assert_not_null(part->log);
        char name[32];
        snprintf(name, sizeof name, "orders-%d", i);
        cr_assert(fixture_exists(f.dir, name), "%s", name);
    }
    cr_assert_null(rn_topic_partition(topic, 3));
    cr_assert_null(rn_topic_partition(topic, -1));

    char id[23], want[128];
    rn_uuid_format(&topic->id, id);
    snprintf(want, sizeof want, "runnel-topics 1\norders %s 3 0\n", id);
    char *text = topic_file();
    cr_assert_str_eq(text, want);
    free(text);

    rn_topic_t *again = rn_topics_get(topics, rn_str_from_cstr("orders"));
    cr_assert_eq(again, topic);
    rn_topic_t *by_id = rn_topics_get_by_id(topics, topic->id);
    cr_assert_eq(by_id, topic);
    rn_topic_unref(again);
    rn_topic_unref(by_id);
    rn_topic_unref(topic);
}

Test(admin, minus_one_partitions_means_num_partitions)
{
    teardown();
    open_with("num.partitions=4\n");
    assert_result(create("t", -1, -1), 0, "");
    rn_topic_t *topic = rn_topics_get(topics, rn_str_from_cstr("t"));
    cr_assert_eq(atomic_load(&topic->npartitions), 4);
    rn_topic_unref(topic);
}

Test(admin, bad_partition_counts_are_invalid_partitions)
{
    assert_result(create("t", 0, 1), 37,
                  "Number of partitions was set to an invalid non-positive value.");
    assert_result(create("t", -2, 1), 37, NULL);
    /* Kafka 4.4 refuses more than 10,000 partitions in one request as a policy. */
    assert_result(create("t", 10001, 1), 44, "Excessively large number of partitions per request.");
    rn_topic_t *topic = rn_topics_get(topics, rn_str_from_cstr("t"));
    cr_assert_null(topic);
    cr_assert_not(fixture_exists(f.dir, "t-0"));
}

Test(admin, names_follow_kafkas_rules)
{
    assert_result(create("", 1, 1), 17, "Topic name is illegal, it can't be empty");
    assert_result(create("..", 1, 1), 17, "Topic name cannot be \".\" or \"..\"");
    assert_result(create("a b", 1, 1), 17, NULL);
    assert_result(create("../etc", 1, 1), 17, NULL);
    assert_result(create("a.b", 1, 1), 0, "");
    assert_result(create("a_b", 1, 1), 17, "Topic 'a_b' collides with existing topic: a.b");
    assert_result(create("a.b", 1, 1), 36, "Topic 'a.b' already exists.");
}

Test(admin, replication_factor_above_one_is_refused_by_default)
{
    assert_result(create("t", 1, 3), 38,
                  "Unable to replicate the partition 3 time(s): The target replication factor of 3 "
                  "cannot be reached "
                  "because only 1 broker(s) are registered.");
    assert_result(create("t", 1, 0), 38,
                  "Replication factor must be larger than 0, or -1 to use the default value.");
    assert_result(create("t", 1, -2), 38, NULL);
    assert_result(create("t", 1, 1), 0, "");
    assert_result(create("u", 1, -1), 0, "");
}

Test(admin, replication_factor_above_one_is_accepted_with_a_warning_when_configured)
{
    teardown();
    open_with("runnel.accept.replication.factor=true\n");
    capture_t c;
    fixture_capture_begin(&c);
    rn_topics_result_t res = create("connect-offsets", 25, 3);
    char *log = fixture_capture_end(&c);
    assert_result(res, 0, "");
    cr_assert_not_null(strstr(log, "WARN"), "%s", log);
    cr_assert_not_null(strstr(log, "connect-offsets"), "%s", log);
    cr_assert_not_null(strstr(log, "replication factor 3"), "%s", log);
    free(log);
}

Test(admin, default_replication_factor_applies_to_minus_one)
{
    teardown();
    open_with("default.replication.factor=2\n");
    assert_result(create("t", 1, -1), 38, NULL);
    assert_result(create("t", 1, 1), 0, "");
}

Test(admin, configs_are_checked_and_kept)
{
    rn_topic_override_t bad[] = { { "cleanup.policy", "compact" }, { "retention.ms", "soon" } };
    rn_topic_spec_t spec = fixture_spec("t", 1);
    spec.configs = bad;
    spec.nconfigs = 2;
    assert_result(rn_topics_create(topics, &spec, false, NULL), 40,
                  "Invalid value soon for configuration retention.ms: Not a number of type LONG");
    rn_topic_override_t unknown[] = { { "cleanup.policies", "compact" } };
    spec.configs = unknown;
    spec.nconfigs = 1;
    assert_result(rn_topics_create(topics, &spec, false, NULL), 40,
                  "Unknown topic config name: cleanup.policies");
    cr_assert_not(fixture_exists(f.dir, "t-0"));

    rn_topic_override_t good[] = { { "cleanup.policy", "compact" }, { "retention.ms", "-1" } };
    spec.configs = good;
    spec.nconfigs = 2;
    rn_topic_t *topic;
    assert_result(rn_topics_create(topics, &spec, false, &topic), 0, "");
    rn_topic_config_t cfg;
    rn_topic_get_config(topics, topic, &cfg);
    cr_assert_str_eq(cfg.cleanup_policy, "compact");
    cr_assert_not(cfg.log.delete_enabled);
    cr_assert_eq(cfg.log.retention_ms, -1);
    char *text = topic_file();
    cr_assert_not_null(strstr(text, " cleanup.policy=compact retention.ms=-1\n"), "%s", text);
    free(text);
    rn_topic_unref(topic);
}

Test(admin, validate_only_checks_everything_and_creates_nothing)
{
    rn_topic_spec_t spec = fixture_spec("t", 2);
    rn_topic_t *topic = (void *)1;
    assert_result(rn_topics_create(topics, &spec, true, &topic), 0, "");
    cr_assert_null(topic);
    cr_assert_null(rn_topics_get(topics, rn_str_from_cstr("t")));
    cr_assert_not(fixture_exists(f.dir, "t-0"));
    assert_result(create("t", 2, 1), 0, "");
    assert_result(rn_topics_create(topics, &spec, true, NULL), 36, "Topic 't' already exists.");
}

Test(admin, internal_topics_are_marked)
{
    rn_topic_spec_t spec = fixture_spec("__consumer_offsets", 3);
    spec.internal = true; /* as the group coordinator creates it */
    rn_topic_t *topic;
    assert_result(rn_topics_create(topics, &spec, false, &topic), 0, "");
    cr_assert(topic->internal);
    rn_topic_unref(topic);
    spec = fixture_spec("__transaction_state", 1);
    spec.internal = true;
    assert_result(rn_topics_create(topics, &spec, false, &topic), 0, "");
    cr_assert(topic->internal);
    rn_topic_unref(topic);
    spec = fixture_spec("__mine", 1);
    spec.internal = true;
    assert_result(rn_topics_create(topics, &spec, false, &topic), 0, "");
    cr_assert(topic->internal);
    char *text = topic_file();
    cr_assert_not_null(strstr(text, " 1 1\n"), "%s", text);
    free(text);
    rn_topic_unref(topic);
}

Test(admin, delete_removes_the_topic_its_line_and_its_directories)
{
    assert_result(create("keep", 1, 1), 0, "");
    assert_result(create("gone", 2, 1), 0, "");
    assert_result(rn_topics_delete(topics, rn_str_from_cstr("gone")), 0, "");
    cr_assert_null(rn_topics_get(topics, rn_str_from_cstr("gone")));
    cr_assert_not(fixture_exists(f.dir, "gone-0"));
    cr_assert_not(fixture_exists(f.dir, "gone-1"));
    cr_assert(fixture_exists(f.dir, "keep-0"));
    char *text = topic_file();
    cr_assert_null(strstr(text, "gone"), "%s", text);
    cr_assert_not_null(strstr(text, "keep"), "%s", text);
    free(text);
    text = fixture_read(f.dir, "recovery-point-offset-checkpoint");
    cr_assert_str_eq(text, "0\n1\nkeep 0 0\n", "the checkpoints forget it at once");
    free(text);
    assert_result(rn_topics_delete(topics, rn_str_from_cstr("gone")), 3,
                  "This server does not host this topic-partition.");
}

Test(admin, recreating_a_deleted_topic_gives_a_new_id)
{
    rn_topic_t *first, *second;
    rn_topic_spec_t spec = fixture_spec("t", 1);
    assert_result(rn_topics_create(topics, &spec, false, &first), 0, "");
    rn_uuid_t old = first->id;
    rn_topic_unref(first);
    assert_result(rn_topics_delete(topics, rn_str_from_cstr("t")), 0, "");
    assert_result(rn_topics_create(topics, &spec, false, &second), 0, "");
    cr_assert_neq(memcmp(second->id.b, old.b, 16), 0);
    cr_assert_null(rn_topics_get_by_id(topics, old));
    rn_topic_unref(second);
}

static int woken;

static void wake(rn_watch_t *w)
{
    (void)w;
    woken++;
}

Test(admin, a_referenced_deleted_topic_keeps_its_logs_and_its_name_until_released)
{
    rn_topic_t *held;
    rn_topic_spec_t spec = fixture_spec("t", 1);
    assert_result(rn_topics_create(topics, &spec, false, &held), 0, "");
    rn_watch_t w = { .wake = wake };
    rn_partition_watch(rn_topic_partition(held, 0), &w);
    woken = 0;
    assert_result(rn_topics_delete(topics, rn_str_from_cstr("t")), 0, "");
    cr_assert_eq(woken, 1, "parked fetches are woken by the delete");
    cr_assert(atomic_load(&held->deleted));
    cr_assert_null(rn_topics_get(topics, rn_str_from_cstr("t")));
    cr_assert_not_null(rn_topic_partition(held, 0)->log, "still usable through the reference");
    cr_assert(fixture_exists(f.dir, "t-0"), "removed at the last reference");
    assert_result(create("t", 1, 1), 36, "Topic 't' is marked for deletion.");
    rn_partition_unwatch(rn_topic_partition(held, 0), &w);
    rn_topic_unref(held);
    cr_assert_not(fixture_exists(f.dir, "t-0"));
    assert_result(create("t", 1, 1), 0, "");
}

Test(admin, delete_can_be_disabled)
{
    teardown();
    open_with("delete.topic.enable=false\n");
    assert_result(create("t", 1, 1), 0, "");
    assert_result(rn_topics_delete(topics, rn_str_from_cstr("t")), 73,
                  "Topic deletion is disabled.");
    rn_topic_t *topic = rn_topics_get(topics, rn_str_from_cstr("t"));
    cr_assert_not_null(topic);
    rn_topic_unref(topic);
}

Test(admin, add_partitions_grows_and_persists)
{
    rn_topic_t *topic;
    rn_topic_spec_t spec = fixture_spec("t", 1);
    assert_result(rn_topics_create(topics, &spec, false, &topic), 0, "");
    rn_partition_t *first = rn_topic_partition(topic, 0);
    assert_result(rn_topics_add_partitions(topics, rn_str_from_cstr("t"), 1, false), 37,
                  "Topic already has 1 partition(s).");
    assert_result(rn_topics_add_partitions(topics, rn_str_from_cstr("t"), 0, false), 37,
                  "The topic t currently has 1 partition(s); 0 would not be an increase.");
    assert_result(rn_topics_add_partitions(topics, rn_str_from_cstr("t"), 10001, false), 37, NULL);
    assert_result(rn_topics_add_partitions(topics, rn_str_from_cstr("nope"), 2, false), 3, "");
    assert_result(rn_topics_add_partitions(topics, rn_str_from_cstr("t"), 3, true), 0, "");
    cr_assert_eq(atomic_load(&topic->npartitions), 1, "validate_only changes nothing");
    cr_assert_not(fixture_exists(f.dir, "t-1"));
    for (int32_t count = 3; count <= 40; count += 37) {
        assert_result(rn_topics_add_partitions(topics, rn_str_from_cstr("t"), count, false), 0, "");
        cr_assert_eq(atomic_load(&topic->npartitions), count);
    }
    cr_assert_eq(rn_topic_partition(topic, 0), first, "partition objects never move");
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(rn_topic_partition(topic, i)->index, i);
        char name[32];
        snprintf(name, sizeof name, "t-%d", i);
        cr_assert(fixture_exists(f.dir, name), "%s", name);
    }
    char *text = topic_file();
    cr_assert_not_null(strstr(text, " 40 0\n"), "%s", text);
    free(text);
    rn_topic_unref(topic);
}

Test(admin, alter_configs_replaces_every_override)
{
    rn_topic_override_t initial[] = { { "cleanup.policy", "compact" }, { "retention.ms", "1000" } };
    rn_topic_spec_t spec = fixture_spec("t", 1);
    spec.configs = initial;
    spec.nconfigs = 2;
    rn_topic_t *topic;
    assert_result(rn_topics_create(topics, &spec, false, &topic), 0, "");
    rn_topic_override_t set[] = { { "segment.bytes", "1048576" }, { "retention.ms", NULL } };
    assert_result(rn_topics_alter_configs(topics, rn_str_from_cstr("t"), set, 2, true), 0, "");
    cr_assert_eq(topic->noverrides, 2, "validate_only changes nothing");
    assert_result(rn_topics_alter_configs(topics, rn_str_from_cstr("t"), set, 2, false), 0, "");
    cr_assert_eq(topic->noverrides, 1);
    rn_topic_config_t cfg;
    rn_topic_get_config(topics, topic, &cfg);
    cr_assert_eq(cfg.log.segment_bytes, 1048576);
    cr_assert_str_eq(cfg.cleanup_policy, "delete", "back to the broker default");
    cr_assert_eq(cfg.log.retention_ms, 604800000);
    char *text = topic_file();
    cr_assert_not_null(strstr(text, " 1 0 segment.bytes=1048576\n"), "%s", text);
    free(text);

    rn_topic_override_t bad[] = { { "segment.bytes", "1" } };
    assert_result(rn_topics_alter_configs(topics, rn_str_from_cstr("t"), bad, 1, false), 40,
                  "Invalid value 1 for configuration segment.bytes: Value must be at least 14");
    assert_result(rn_topics_alter_configs(topics, rn_str_from_cstr("nope"), set, 1, false), 3,
                  "The topic 'nope' does not exist.");
    rn_topic_unref(topic);
}

Test(admin, incremental_alter_on_cleanup_policy)
{
    rn_topic_t *topic;
    rn_topic_spec_t spec = fixture_spec("t", 2);
    assert_result(rn_topics_create(topics, &spec, false, &topic), 0, "");
    rn_config_op_t append[] = { { "cleanup.policy", "compact", 2 } };
    assert_result(rn_topics_incremental_alter_configs(topics, rn_str_from_cstr("t"), append, 1,
                                                      false),
                  0, "");
    rn_topic_config_t cfg;
    rn_topic_get_config(topics, topic, &cfg);
    cr_assert_str_eq(cfg.cleanup_policy, "compact,delete");

    rn_config_op_t subtract[] = { { "cleanup.policy", "delete", 3 } };
    assert_result(rn_topics_incremental_alter_configs(topics, rn_str_from_cstr("t"), subtract, 1,
                                                      true),
                  0, "");
    rn_topic_get_config(topics, topic, &cfg);
    cr_assert_str_eq(cfg.cleanup_policy, "compact,delete", "validate_only changes nothing");
    assert_result(rn_topics_incremental_alter_configs(topics, rn_str_from_cstr("t"), subtract, 1,
                                                      false),
                  0, "");
    rn_topic_get_config(topics, topic, &cfg);
    cr_assert_str_eq(cfg.cleanup_policy, "compact");
    cr_assert_not(cfg.log.delete_enabled);

    rn_config_op_t set[] = { { "cleanup.policy", "delete", 0 }, { "retention.bytes", "1000", 0 } };
    assert_result(rn_topics_incremental_alter_configs(topics, rn_str_from_cstr("t"), set, 2, false),
                  0, "");
    rn_config_op_t del[] = { { "cleanup.policy", NULL, 1 } };
    assert_result(rn_topics_incremental_alter_configs(topics, rn_str_from_cstr("t"), del, 1, false),
                  0, "");
    rn_topic_get_config(topics, topic, &cfg);
    cr_assert_str_eq(cfg.cleanup_policy, "delete");
    cr_assert_eq(cfg.log.retention_bytes, 1000);
    cr_assert_eq(topic->noverrides, 1);

    rn_config_op_t bad[] = { { "retention.bytes", "1", 2 } };
    assert_result(rn_topics_incremental_alter_configs(topics, rn_str_from_cstr("t"), bad, 1, false),
                  40, "Can't APPEND to key retention.bytes because its type is not LIST.");
    assert_result(rn_topics_incremental_alter_configs(topics, rn_str_from_cstr("x"), del, 1, false),
                  3, NULL);
    rn_topic_unref(topic);
}

Test(admin, describe_shows_overrides_and_broker_defaults)
{
    rn_topic_override_t configs[] = { { "cleanup.policy", "compact" } };
    rn_topic_spec_t spec = fixture_spec("connect-configs", 1);
    spec.configs = configs;
    spec.nconfigs = 1;
    rn_topic_t *topic;
    assert_result(rn_topics_create(topics, &spec, false, &topic), 0, "");
    rn_config_entry_t *e;
    size_t n = rn_topic_config_entries(topics, topic, &e);
    bool seen = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, "cleanup.policy") == 0) {
            cr_assert_str_eq(e[i].value, "compact");
            cr_assert_eq(e[i].source, 1);
            seen = true;
        } else if (strcmp(e[i].name, "retention.ms") == 0) {
            cr_assert_str_eq(e[i].value, "604800000");
            cr_assert_eq(e[i].source, 5);
        }
    cr_assert(seen);
    rn_config_entries_free(e, n);
    rn_topic_unref(topic);
}

/* ---- Internal topics (issue 14): what Kafka 4.4 allows but would destroy committed state ---- */

#define ALLOW "runnel.internal.topics.allow.destructive.changes"

/* __consumer_offsets as the group coordinator makes it: compacted, marked internal. */
static void create_offsets_topic(void)
{
    rn_topic_override_t ov[] = { { "cleanup.policy", "compact" } };
    rn_topic_spec_t spec = fixture_spec("__consumer_offsets", 1);
    spec.configs = ov;
    spec.nconfigs = 1;
    spec.internal = true;
    assert_result(rn_topics_create(topics, &spec, false, NULL), 0, "");
}

static rn_topics_result_t set_config(const char *key, const char *value, bool validate_only)
{
    rn_config_op_t op[] = { { key, value, 0 } };
    return rn_topics_incremental_alter_configs(topics, rn_str_from_cstr("__consumer_offsets"), op,
                                               1, validate_only);
}

Test(admin, clients_cannot_create_internal_topics)
{
    assert_result(create("__consumer_offsets", 1, 1), 44,
                  "Topic '__consumer_offsets' is internal: the broker creates it, with the configs "
                  "it needs, at the first FindCoordinator. Set " ALLOW "=true to create it "
                  "yourself.");
    rn_topic_spec_t spec = fixture_spec("__transaction_state", 1);
    assert_result(rn_topics_create(topics, &spec, true, NULL), 44, NULL);
    cr_assert_null(rn_topics_get(topics, rn_str_from_cstr("__consumer_offsets")));
    cr_assert_not(fixture_exists(f.dir, "__consumer_offsets-0"));
    create_offsets_topic();
    assert_result(create("__consumer_offsets", 1, 1), 36,
                  "Topic '__consumer_offsets' already exists.");
}

Test(admin, internal_topics_refuse_delete_and_more_partitions)
{
    create_offsets_topic();
    rn_str_t name = rn_str_from_cstr("__consumer_offsets");
    assert_result(rn_topics_delete(topics, name), 44,
                  "Topic '__consumer_offsets' is internal: deleting it would throw away the "
                  "committed state of every group. Set " ALLOW "=true to allow it.");
    assert_result(rn_topics_add_partitions(topics, name, 2, true), 44,
                  "Topic '__consumer_offsets' is internal: more partitions would move groups and "
                  "transactional ids away from the state they committed. Set " ALLOW
                  "=true to allow it.");
    assert_result(rn_topics_add_partitions(topics, name, 2, false), 44, NULL);
    assert_result(rn_topics_add_partitions(topics, name, 1, false), 37,
                  "Topic already has 1 partition(s).");
    rn_topic_t *topic = rn_topics_get(topics, name);
    cr_assert_not_null(topic, "still there");
    cr_assert_eq(atomic_load(&topic->npartitions), 1);
    rn_topic_unref(topic);
    cr_assert(fixture_exists(f.dir, "__consumer_offsets-0"));
}

Test(admin, internal_topics_keep_cleanup_policy_compact)
{
    create_offsets_topic();
    rn_str_t name = rn_str_from_cstr("__consumer_offsets");
    const char *refused = "Topic '__consumer_offsets' is internal: its cleanup.policy must stay "
                          "compact (it would be 'delete'), or retention deletes committed state. "
                          "Set " ALLOW "=true to allow it.";
    assert_result(set_config("cleanup.policy", "delete", true), 44, refused);
    assert_result(set_config("cleanup.policy", "delete", false), 44, refused);
    assert_result(set_config("cleanup.policy", "compact,delete", false), 44, NULL);
    rn_config_op_t append[] = { { "cleanup.policy", "delete", 2 } };
    assert_result(rn_topics_incremental_alter_configs(topics, name, append, 1, false), 44, NULL);
    rn_config_op_t unset[] = { { "cleanup.policy", NULL, 1 } };
    assert_result(rn_topics_incremental_alter_configs(topics, name, unset, 1, false), 44, refused);
    /* AlterConfigs replaces every override: leaving cleanup.policy out falls back to the
     * broker's log.cleanup.policy, delete. */
    rn_topic_override_t only_retention[] = { { "retention.ms", "1000" } };
    assert_result(rn_topics_alter_configs(topics, name, only_retention, 1, false), 44, refused);
    /* What keeps the records is allowed, as in Kafka. */
    assert_result(set_config("retention.ms", "1000", false), 0, "");
    assert_result(set_config("segment.bytes", "1048576", false), 0, "");
    rn_topic_override_t keep[] = { { "cleanup.policy", "compact" }, { "retention.ms", "1000" } };
    assert_result(rn_topics_alter_configs(topics, name, keep, 2, false), 0, "");
    rn_topic_t *topic = rn_topics_get(topics, name);
    rn_topic_config_t config;
    rn_topic_get_config(topics, topic, &config);
    cr_assert_str_eq(config.cleanup_policy, "compact");
    rn_topic_unref(topic);
}

Test(admin, the_allow_key_gives_kafkas_behaviour_on_internal_topics)
{
    teardown();
    open_with(ALLOW "=true\n");
    assert_result(create("__transaction_state", 1, 1), 0, "");
    create_offsets_topic();
    rn_str_t name = rn_str_from_cstr("__consumer_offsets");
    assert_result(set_config("cleanup.policy", "delete", false), 0, "");
    assert_result(rn_topics_add_partitions(topics, name, 2, false), 0, "");
    assert_result(rn_topics_delete(topics, name), 0, "");
    assert_result(rn_topics_delete(topics, rn_str_from_cstr("__transaction_state")), 0, "");
    cr_assert_null(rn_topics_get(topics, name));
}

Test(admin, ordinary_topics_are_not_guarded)
{
    rn_topic_spec_t spec = fixture_spec("__mine", 1);
    assert_result(rn_topics_create(topics, &spec, false, NULL), 0, "");
    rn_str_t name = rn_str_from_cstr("__mine");
    assert_result(rn_topics_add_partitions(topics, name, 2, false), 0, "");
    assert_result(rn_topics_delete(topics, name), 0, "");
}
