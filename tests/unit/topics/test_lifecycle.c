/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/topics/lifecycle.c: what survives a close and an open (topics, ids, overrides,
 * partitions), the checkpoint files as Kafka writes them, the clean-shutdown marker and the log
 * line about recovery, stale partition directories, and refusing damaged state. */
#include "fixture.h"

#include <sys/wait.h>

static fixture_t f;

static void setup(void)
{
    fixture_init(&f, NULL);
}

static void teardown(void)
{
    fixture_deinit(&f);
}

TestSuite(lifecycle, .init = setup, .fini = teardown);

static rn_topics_t *open_ok(void)
{
    rn_topics_t *topics = NULL;
    cr_assert_eq(rn_topics_open(&f.cfg, &topics), 0);
    cr_assert_not_null(topics);
    return topics;
}

/* Opens with stderr captured; returns the log (caller frees). */
static char *open_logging(rn_topics_t **topics, int want)
{
    capture_t c;
    fixture_capture_begin(&c);
    int rc = rn_topics_open(&f.cfg, topics);
    char *log = fixture_capture_end(&c);
    cr_assert_eq(rc, want, "%s", log);
    return log;
}

static void create(rn_topics_t *topics, const char *name, int32_t partitions,
                   const rn_topic_override_t *ov, size_t n)
{
    rn_topic_spec_t spec = fixture_spec(name, partitions);
    spec.configs = ov;
    spec.nconfigs = n;
    rn_topics_result_t res = rn_topics_create(topics, &spec, false, NULL);
    cr_assert_eq(res.error_code, 0, "%s", res.message);
}

Test(lifecycle, an_empty_directory_opens_and_closes_cleanly)
{
    rn_topics_t *topics = open_ok();
    rn_topic_t **list;
    cr_assert_eq(rn_topics_list(topics, &list), 0);
    rn_topics_list_free(list, 0);
    rn_topics_close(topics);
    rn_topics_close(NULL);
    char *text = fixture_read(f.dir, "recovery-point-offset-checkpoint");
    cr_assert_str_eq(text, "0\n0\n");
    free(text);
    cr_assert(fixture_exists(f.dir, ".kafka_cleanshutdown"));
}

Test(lifecycle, a_missing_log_dir_is_made)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/data", f.dir);
    free(f.cfg.log_dir);
    f.cfg.log_dir = strdup(sub);
    rn_topics_t *topics = open_ok();
    rn_topics_close(topics);
    cr_assert(fixture_exists(f.dir, "data/.kafka_cleanshutdown"));
}

Test(lifecycle, topics_ids_overrides_and_partitions_survive_a_restart)
{
    rn_topics_t *topics = open_ok();
    rn_topic_override_t ov[] = { { "cleanup.policy", "compact" }, { "retention.ms", "12345" } };
    create(topics, "orders", 3, NULL, 0);
    create(topics, "_schemas", 1, ov, 2);
    rn_topic_spec_t spec = fixture_spec("__consumer_offsets", 2);
    spec.internal = true; /* as the group coordinator creates it */
    cr_assert_eq(rn_topics_create(topics, &spec, false, NULL).error_code, 0);
    cr_assert_eq(rn_topics_add_partitions(topics, rn_str_from_cstr("orders"), 5, false).error_code,
                 0);
    rn_config_op_t op[] = { { "segment.ms", "60000", 0 } };
    cr_assert_eq(rn_topics_incremental_alter_configs(topics, rn_str_from_cstr("orders"), op, 1,
                                                     false)
                     .error_code,
                 0);
    rn_uuid_t ids[3];
    rn_topic_t **list;
    cr_assert_eq(rn_topics_list(topics, &list), 3);
    for (int i = 0; i < 3; i++)
        ids[i] = list[i]->id;
    rn_topics_list_free(list, 3);
    rn_topics_close(topics);

    topics = open_ok();
    size_t n = rn_topics_list(topics, &list);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(list[0]->name, "__consumer_offsets", "sorted by name");
    cr_assert_str_eq(list[1]->name, "_schemas");
    cr_assert_str_eq(list[2]->name, "orders");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(memcmp(list[i]->id.b, ids[i].b, 16), 0, "%s keeps its id", list[i]->name);
    cr_assert(list[0]->internal);
    cr_assert_not(list[1]->internal);
    cr_assert_eq(atomic_load(&list[0]->npartitions), 2);
    cr_assert_eq(atomic_load(&list[2]->npartitions), 5);
    rn_topic_config_t cfg;
    rn_topic_get_config(topics, list[1], &cfg);
    cr_assert_str_eq(cfg.cleanup_policy, "compact");
    cr_assert_eq(cfg.log.retention_ms, 12345);
    rn_topic_get_config(topics, list[2], &cfg);
    cr_assert_eq(cfg.log.segment_ms, 60000);
    cr_assert_eq(rn_topics_get_by_id(topics, ids[2]), list[2]);
    rn_topic_unref(list[2]);
    rn_topics_list_free(list, n);
    rn_topics_close(topics);
}

Test(lifecycle, checkpoints_are_kafkas_files_byte_for_byte)
{
    rn_topics_t *topics = open_ok();
    create(topics, "b", 2, NULL, 0);
    create(topics, "a", 1, NULL, 0);
    rn_topics_close(topics);
    static const char want[] = "0\n3\na 0 0\nb 0 0\nb 1 0\n";
    char *rp = fixture_read(f.dir, "recovery-point-offset-checkpoint");
    char *ls = fixture_read(f.dir, "log-start-offset-checkpoint");
    cr_assert_str_eq(rp, want);
    cr_assert_str_eq(ls, want);
    free(rp);
    free(ls);
    cr_assert_not(fixture_exists(f.dir, "recovery-point-offset-checkpoint.tmp"));
}

Test(lifecycle, open_forgets_checkpoint_entries_of_unknown_topics)
{
    fixture_write(f.dir, "runnel-topics", "runnel-topics 1\nt AAAAAAAAAAAAAAAAAAAAAQ 1 0\n");
    fixture_write(f.dir, "recovery-point-offset-checkpoint", "0\n2\ngone 0 900\nt 0 0\n");
    fixture_write(f.dir, "log-start-offset-checkpoint", "0\n2\ngone 0 800\nt 0 0\n");
    rn_topics_t *topics = open_ok();
    char *rp = fixture_read(f.dir, "recovery-point-offset-checkpoint");
    char *ls = fixture_read(f.dir, "log-start-offset-checkpoint");
    cr_assert_str_eq(rp, "0\n1\nt 0 0\n");
    cr_assert_str_eq(ls, "0\n1\nt 0 0\n");
    free(rp);
    free(ls);
    rn_topics_close(topics);
}

Test(lifecycle, damaged_checkpoints_only_cost_a_warning)
{
    fixture_write(f.dir, "runnel-topics", "runnel-topics 1\nt AAAAAAAAAAAAAAAAAAAAAQ 1 0\n");
    fixture_write(f.dir, "recovery-point-offset-checkpoint", "0\n5\nt 0 0\n");
    rn_topics_t *topics;
    char *log = open_logging(&topics, 0);
    cr_assert_not_null(strstr(log, "recovery-point-offset-checkpoint: expected 5 entries, found 1; "
                                   "ignoring it"),
                       "%s", log);
    free(log);
    rn_topics_close(topics);
}

Test(lifecycle, the_clean_marker_skips_recovery_and_is_removed_at_open)
{
    rn_topics_t *topics;
    char *log = open_logging(&topics, 0);
    cr_assert_not_null(strstr(log, "no clean shutdown marker: recovering 0 partitions"), "%s", log);
    free(log);
    create(topics, "t", 2, NULL, 0);
    rn_topics_close(topics);
    cr_assert(fixture_exists(f.dir, ".kafka_cleanshutdown"));

    /* A crash: a child process opens the registry and dies without closing it. */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        rn_topics_t *doomed;
        char *child_log = open_logging(&doomed, 0);
        bool ok = strstr(child_log, "clean shutdown marker found: skipping recovery") != NULL &&
                  !fixture_exists(f.dir, ".kafka_cleanshutdown");
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the marker was found, then removed");

    log = open_logging(&topics, 0);
    cr_assert_not_null(strstr(log, "no clean shutdown marker: recovering 2 partitions"), "%s", log);
    free(log);
    rn_topics_close(topics);
}

Test(lifecycle, partitions_nobody_lists_are_removed_at_open)
{
    rn_topics_t *topics = open_ok();
    create(topics, "t", 1, NULL, 0);
    rn_topics_close(topics);
    fixture_mkdir(f.dir, "t-1"); /* beyond the partition count */
    fixture_mkdir(f.dir, "deleted-0");
    fixture_write(f.dir, "deleted-0/00000000000000000000.log", "old data");
    fixture_mkdir(f.dir, "t-0.AAAAAAAAAAAAAAAAAAAAAQ-delete");
    fixture_mkdir(f.dir, "not-a-partition");
    topics = open_ok();
    cr_assert(fixture_exists(f.dir, "t-0"));
    cr_assert_not(fixture_exists(f.dir, "t-1"));
    cr_assert_not(fixture_exists(f.dir, "deleted-0"));
    cr_assert_not(fixture_exists(f.dir, "t-0.AAAAAAAAAAAAAAAAAAAAAQ-delete"));
    cr_assert(fixture_exists(f.dir, "not-a-partition"));
    rn_topics_close(topics);
}

Test(lifecycle, partition_directories_without_a_topic_file_are_refused)
{
    fixture_mkdir(f.dir, "orders-0");
    rn_topics_t *topics = (void *)1;
    char *log = open_logging(&topics, RN_EINVAL);
    cr_assert_null(topics);
    cr_assert_not_null(strstr(log, "holds 1 partition directories but no runnel-topics"), "%s",
                       log);
    free(log);
    cr_assert(fixture_exists(f.dir, "orders-0"), "nothing is deleted");
}

Test(lifecycle, a_damaged_topic_file_is_refused_with_its_line)
{
    fixture_write(f.dir, "runnel-topics",
                  "runnel-topics 1\nt AAAAAAAAAAAAAAAAAAAAAQ 1 0 retention.ms=x\n");
    fixture_write(f.dir, ".kafka_cleanshutdown", "");
    rn_topics_t *topics;
    char *log = open_logging(&topics, RN_EINVAL);
    cr_assert_not_null(strstr(log, "runnel-topics: line 2: topic t: Invalid value x for "
                                   "configuration retention.ms"),
                       "%s", log);
    free(log);
    cr_assert(fixture_exists(f.dir, ".kafka_cleanshutdown"), "a failed start changes nothing");
}

Test(lifecycle, maintenance_writes_checkpoints_every_minute)
{
    rn_topics_t *topics = open_ok();
    create(topics, "t", 1, NULL, 0);
    char path[128];
    snprintf(path, sizeof path, "%s/recovery-point-offset-checkpoint", f.dir);
    cr_assert_eq(unlink(path), 0);
    rn_topics_maintain(topics, 1000000, true);
    cr_assert_not(fixture_exists(f.dir, "recovery-point-offset-checkpoint"),
                  "the first call starts the clock");
    rn_topics_maintain(topics, 1000000 + 59999, false);
    cr_assert_not(fixture_exists(f.dir, "recovery-point-offset-checkpoint"));
    rn_topics_maintain(topics, 1000000 + 60000, false);
    char *text = fixture_read(f.dir, "recovery-point-offset-checkpoint");
    cr_assert_str_eq(text, "0\n1\nt 0 0\n");
    free(text);
    rn_topics_close(topics);
}
