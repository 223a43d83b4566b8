/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/topics/persist.c: reading files back, the topic file format, Kafka's
 * checkpoint format byte for byte, the clean-shutdown marker, and the sweep of stale partition
 * directories. Damaged files are checked as hostile input. */
#include "fixture.h"

static fixture_t f;

static void setup(void)
{
    fixture_init(&f, NULL);
}

static void teardown(void)
{
    fixture_deinit(&f);
}

TestSuite(persist, .init = setup, .fini = teardown);

Test(persist, read_reports_missing_and_oversized_files)
{
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(rn_persist_read(f.dir, "absent", &text, &len), -ENOENT);
    char path[128];
    snprintf(path, sizeof path, "%s/big", f.dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)RN_TOPICS_FILE_MAX_BYTES + 1), 0);
    close(fd);
    cr_assert_eq(rn_persist_read(f.dir, "big", &text, &len), -EFBIG);
}

/* ---- The topic file ---- */

static const char golden_topics[] = "runnel-topics 1\n"
                                    "_schemas AAAAAAAAAAAAAAAAAAAAAQ 1 0 cleanup.policy=compact\n"
                                    "__consumer_offsets AAAAAAAAAAAAAAAAAAAAAg 50 1 "
                                    "cleanup.policy=compact segment.bytes=104857600\n"
                                    "odd AAAAAAAAAAAAAAAAAAAAAw 3 0 compression.type=producer "
                                    "message.timestamp.type=LogAppendTime\n";

Test(persist, topic_file_round_trips_byte_for_byte)
{
    rn_topic_line_t *lines;
    size_t n;
    char why[200] = "";
    cr_assert_eq(rn_topics_file_decode(golden_topics, strlen(golden_topics), &lines, &n, why,
                                       sizeof why),
                 0, "%s", why);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(lines[1].name, "__consumer_offsets");
    cr_assert_eq(lines[1].npartitions, 50);
    cr_assert(lines[1].internal);
    cr_assert_eq(lines[1].id.b[15], 2);
    cr_assert_eq(lines[1].noverrides, 2);
    cr_assert_str_eq(lines[1].overrides[1].key, "segment.bytes");
    cr_assert_str_eq(lines[1].overrides[1].value, "104857600");
    rn_text_t t = { 0 };
    rn_topics_file_encode(lines, n, &t);
    cr_assert_str_eq(t.ptr, golden_topics);
    rn_text_free(&t);
    rn_topic_lines_free(lines, n);
}

Test(persist, topic_file_escapes_values)
{
    rn_topic_override_t ov[] = { { "cleanup.policy", "compact, delete" } };
    rn_topic_line_t line = {
        .name = "t", .id = { { [15] = 9 } }, .npartitions = 2, .overrides = ov, .noverrides = 1
    };
    rn_text_t t = { 0 };
    rn_topics_file_encode(&line, 1, &t);
    cr_assert_str_eq(t.ptr, "runnel-topics 1\nt AAAAAAAAAAAAAAAAAAAACQ 2 0 "
                            "cleanup.policy=compact,%20delete\n");
    rn_topic_line_t *lines;
    size_t n;
    char why[200];
    cr_assert_eq(rn_topics_file_decode(t.ptr, t.len, &lines, &n, why, sizeof why), 0, "%s", why);
    cr_assert_str_eq(lines[0].overrides[0].value, "compact, delete");
    rn_topic_lines_free(lines, n);
    rn_text_free(&t);
}

Test(persist, configs_kafka_4_removed_are_dropped_when_the_file_is_read)
{
    /* Earlier releases accepted these two; a file that holds them still loads. */
    static const char text[] = "runnel-topics 1\n"
                               "old AAAAAAAAAAAAAAAAAAAABA 1 0 message.downconversion.enable=false "
                               "retention.ms=1000 message.timestamp.difference.max.ms=5\n";
    rn_topic_line_t *lines;
    size_t n;
    char why[200] = "";
    cr_assert_eq(rn_topics_file_decode(text, strlen(text), &lines, &n, why, sizeof why), 0, "%s",
                 why);
    cr_assert_eq(n, 1);
    cr_assert_eq(lines[0].noverrides, 1);
    cr_assert_str_eq(lines[0].overrides[0].key, "retention.ms");
    rn_text_t t = { 0 };
    rn_topics_file_encode(lines, n, &t);
    cr_assert_str_eq(t.ptr, "runnel-topics 1\nold AAAAAAAAAAAAAAAAAAAABA 1 0 retention.ms=1000\n");
    rn_text_free(&t);
    rn_topic_lines_free(lines, n);
}

Test(persist, an_empty_registry_is_just_the_header)
{
    rn_text_t t = { 0 };
    rn_topics_file_encode(NULL, 0, &t);
    cr_assert_str_eq(t.ptr, "runnel-topics 1\n");
    rn_topic_line_t *lines;
    size_t n;
    char why[200];
    cr_assert_eq(rn_topics_file_decode(t.ptr, t.len, &lines, &n, why, sizeof why), 0);
    cr_assert_eq(n, 0);
    rn_text_free(&t);
}

static void assert_bad_topics(const char *text, const char *want)
{
    rn_topic_line_t *lines = (void *)1;
    size_t n = 7;
    char why[200] = "";
    cr_assert_eq(rn_topics_file_decode(text, strlen(text), &lines, &n, why, sizeof why), RN_EINVAL,
                 "accepted: %s", text);
    cr_assert_str_eq(why, want);
    cr_assert_null(lines);
    cr_assert_eq(n, 0);
}

Test(persist, damaged_topic_files_are_refused_with_the_line)
{
    assert_bad_topics("", "line 1: not a topic file");
    assert_bad_topics("runnel-topics 1", "line 1: not a topic file");
    assert_bad_topics("kafka 1\n", "line 1: not a topic file");
    assert_bad_topics("runnel-topics 2\n",
                      "line 1: unsupported version '2' (this Runnel reads version 1)");
    assert_bad_topics("runnel-topics 1\n\n", "line 2: empty line");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 1 0",
                      "line 2: no end of line (file cut short?)");
    assert_bad_topics("runnel-topics 1\na b AAAAAAAAAAAAAAAAAAAAAQ 1 0\n",
                      "line 2: topic a: bad topic id");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAA 1 0\n",
                      "line 2: topic a: bad topic id");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 0 0\n",
                      "line 2: topic a: bad partition count");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 10001 0\n",
                      "line 2: topic a: bad partition count");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ +1 0\n",
                      "line 2: topic a: bad partition count");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 1 2\n",
                      "line 2: topic a: bad internal flag");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 1 0 \n",
                      "line 2: topic a: trailing space");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 1 0 x\n",
                      "line 2: topic a: expected key=value");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 1 0 no.such=1\n",
                      "line 2: topic a: Unknown topic config name: no.such");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 1 0 retention.ms=%4\n",
                      "line 2: topic a: bad escape in a config");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 1 0 retention.ms=x\n",
                      "line 2: topic a: Invalid value x for configuration retention.ms: Not a "
                      "number of type LONG");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 1 0 retention.ms=1 "
                      "retention.ms=2\n",
                      "line 2: topic a: config retention.ms given twice");
    assert_bad_topics("runnel-topics 1\na/b AAAAAAAAAAAAAAAAAAAAAQ 1 0\n",
                      "line 2: Topic name is illegal, it contains a character other than ASCII "
                      "alphanumerics, '.', "
                      "'_' and '-'");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 1 0\na AAAAAAAAAAAAAAAAAAAAAg 1 "
                      "0\n",
                      "topic a is listed twice");
    assert_bad_topics("runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 1 0\nb AAAAAAAAAAAAAAAAAAAAAQ 1 "
                      "0\n",
                      "topics a and b have the same id");
    static const char nul[] = "runnel-topics 1\na AAAAAAAAAAAAAAAAAAAAAQ 1\0 0\n";
    rn_topic_line_t *lines;
    size_t n;
    char why[200];
    cr_assert_eq(rn_topics_file_decode(nul, sizeof nul - 1, &lines, &n, why, sizeof why),
                 RN_EINVAL);
    cr_assert_str_eq(why, "line 2: NUL byte");
}

Test(persist, every_truncation_of_a_topic_file_is_refused_or_a_prefix)
{
    size_t len = strlen(golden_topics);
    for (size_t i = 0; i < len; i++) {
        rn_topic_line_t *lines;
        size_t n;
        char why[200];
        int rc = rn_topics_file_decode(golden_topics, i, &lines, &n, why, sizeof why);
        /* Only a cut right after a line end parses, and then it holds exactly the whole lines. */
        if (rc == 0) {
            cr_assert(i > 0 && golden_topics[i - 1] == '\n', "%zu-byte prefix accepted", i);
            rn_topic_lines_free(lines, n);
        }
    }
}

/* ---- Checkpoints ---- */

Test(persist, checkpoints_are_written_as_kafka_writes_them)
{
    rn_checkpoint_entry_t entries[] = { { "orders", 1, 42 },
                                        { "_schemas", 0, 0 },
                                        { "orders", 0, 1234567890123 } };
    rn_checkpoint_sort(entries, 3);
    rn_text_t t = { 0 };
    rn_checkpoint_encode(entries, 3, &t);
    cr_assert_str_eq(t.ptr, "0\n3\n_schemas 0 0\norders 0 1234567890123\norders 1 42\n");
    rn_text_free(&t);
    rn_checkpoint_encode(NULL, 0, &t);
    cr_assert_str_eq(t.ptr, "0\n0\n");
    rn_text_free(&t);
}

Test(persist, checkpoints_read_back_and_find_offsets)
{
    static const char text[] = "0\n3\norders 1 42\n_schemas 0 0\norders 0 7\n";
    rn_checkpoint_entry_t *e;
    size_t n;
    char why[200] = "";
    cr_assert_eq(rn_checkpoint_decode(text, strlen(text), &e, &n, why, sizeof why), 0, "%s", why);
    cr_assert_eq(n, 3);
    cr_assert_eq(rn_checkpoint_find(e, n, "orders", 0, -5), 7);
    cr_assert_eq(rn_checkpoint_find(e, n, "orders", 1, -5), 42);
    cr_assert_eq(rn_checkpoint_find(e, n, "_schemas", 0, -5), 0);
    cr_assert_eq(rn_checkpoint_find(e, n, "orders", 2, -5), -5);
    cr_assert_eq(rn_checkpoint_find(e, n, "other", 0, -5), -5);
    cr_assert_eq(rn_checkpoint_find(NULL, 0, "x", 0, -5), -5);
    rn_checkpoint_entries_free(e, n);
    /* Kafka's reader takes a last line without its newline. */
    cr_assert_eq(rn_checkpoint_decode("0\n1\na 0 5", 9, &e, &n, why, sizeof why), 0, "%s", why);
    cr_assert_eq(rn_checkpoint_find(e, n, "a", 0, -1), 5);
    rn_checkpoint_entries_free(e, n);
}

static void assert_bad_checkpoint(const char *text, const char *want)
{
    rn_checkpoint_entry_t *e = (void *)1;
    size_t n = 3;
    char why[200] = "";
    cr_assert_eq(rn_checkpoint_decode(text, strlen(text), &e, &n, why, sizeof why), RN_EINVAL,
                 "accepted: %s", text);
    cr_assert_str_eq(why, want);
    cr_assert_null(e);
    cr_assert_eq(n, 0);
}

Test(persist, damaged_checkpoints_are_refused)
{
    assert_bad_checkpoint("", "line 1: expected version 0");
    assert_bad_checkpoint("1\n0\n", "line 1: expected version 0");
    assert_bad_checkpoint("0\n", "line 2: bad entry count");
    assert_bad_checkpoint("0\n-1\n", "line 2: bad entry count");
    assert_bad_checkpoint("0\n99999999999\n", "line 2: bad entry count");
    assert_bad_checkpoint("0\n2147483647\na 0 1\n", "expected 2147483647 entries, found 1");
    assert_bad_checkpoint("0\n2\na 0 1\n", "expected 2 entries, found 1");
    assert_bad_checkpoint("0\n1\na 0 1\nb 0 1\n", "line 4: more entries than the count says");
    assert_bad_checkpoint("0\n1\na 0\n", "line 3: malformed entry");
    assert_bad_checkpoint("0\n1\na 0 1 2\n", "line 3: malformed entry");
    assert_bad_checkpoint("0\n1\na -1 1\n", "line 3: malformed entry");
    assert_bad_checkpoint("0\n1\na 0 x\n", "line 3: malformed entry");
    assert_bad_checkpoint("0\n1\na/b 0 1\n", "line 3: malformed entry");
    assert_bad_checkpoint("0\n1\na 0 1 \n", "line 3: malformed entry");
    assert_bad_checkpoint("0\n1\na  0 1\n", "line 3: malformed entry");
}

/* ---- The clean-shutdown marker ---- */

Test(persist, marker_is_kafkas_file_and_removal_is_idempotent)
{
    cr_assert_not(rn_clean_marker_exists(f.dir));
    cr_assert_eq(rn_clean_marker_write(f.dir), 0);
    cr_assert(fixture_exists(f.dir, ".kafka_cleanshutdown"));
    cr_assert(rn_clean_marker_exists(f.dir));
    cr_assert_eq(rn_clean_marker_remove(f.dir), 0);
    cr_assert_not(rn_clean_marker_exists(f.dir));
    cr_assert_eq(rn_clean_marker_remove(f.dir), 0);
    fixture_mkdir(f.dir, ".kafka_cleanshutdown");
    cr_assert_not(rn_clean_marker_exists(f.dir), "only a file counts");
}

/* ---- Partition directories ---- */

static bool keep_a(const char *topic, int32_t partition, void *arg)
{
    (void)arg;
    return strcmp(topic, "a-b") == 0 && partition < 2;
}

Test(persist, sweep_removes_partitions_nobody_lists)
{
    fixture_mkdir(f.dir, "a-b-0");
    fixture_mkdir(f.dir, "a-b-1");
    fixture_mkdir(f.dir, "a-b-2");
    fixture_mkdir(f.dir, "gone-0");
    fixture_write(f.dir, "gone-0/00000000000000000000.log", "x");
    fixture_mkdir(f.dir, "a-b-0.AAAAAAAAAAAAAAAAAAAAAQ-delete");
    fixture_mkdir(f.dir, "not-a-partition");
    fixture_mkdir(f.dir, "x-1a");
    fixture_write(f.dir, "file-0", "not a directory");
    size_t found = 0;
    cr_assert_eq(rn_persist_sweep_partition_dirs(f.dir, keep_a, NULL, &found), 0);
    cr_assert_eq(found, 5);
    cr_assert(fixture_exists(f.dir, "a-b-0"));
    cr_assert(fixture_exists(f.dir, "a-b-1"));
    cr_assert_not(fixture_exists(f.dir, "a-b-2"));
    cr_assert_not(fixture_exists(f.dir, "gone-0"));
    cr_assert_not(fixture_exists(f.dir, "a-b-0.AAAAAAAAAAAAAAAAAAAAAQ-delete"));
    cr_assert(fixture_exists(f.dir, "not-a-partition"));
    cr_assert(fixture_exists(f.dir, "x-1a"));
    cr_assert(fixture_exists(f.dir, "file-0"));
}
