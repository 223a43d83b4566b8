/* SPDX-License-Identifier: Apache-2.0 */
/* Start-up cost of __consumer_offsets (issue #6: loading must stay fast for a million commits
 * until compaction exists). Writes N commits through rn_offsets_commit, one batch each as an
 * OffsetCommit of one partition writes them (the worst case per record), closes the registry
 * cleanly, reopens it and times the replay the coordinator does at start-up. scripts/bench runs
 * it (N = 1,000,000; 100,000 with --quick) and puts the load's ms and MiB in its table.
 *
 *   coord-load-bench [N [distinct]]
 *
 * N defaults to 1,000,000. `distinct` gives every commit its own partition key (1,000 groups x
 * N/1,000 keys); by default 100 groups commit 10 topics x 10 partitions over and over, as
 * consumers do. The data goes to a fresh directory under $TMPDIR (or /tmp), removed at the end.
 * Prints one line of key=value pairs; load_ms and load_mib are the figures of the table. */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config/config.h"
#include "coord/offsets.h"
#include "coord/store.h"
#include "topics/topics.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void die(const char *what)
{
    fprintf(stderr, "coord-load-bench: %s\n", what);
    exit(1);
}

static void load_offsets(void *ctx, int32_t partition, rn_bytes_t key, rn_bytes_t value)
{
    (void)partition;
    /* OffsetCommitKey versions 0 and 1; group metadata records (version 2) are not ours. */
    bool offset_key = key.len >= 2 && key.ptr[0] == 0 && key.ptr[1] <= 1;
    if (offset_key && !rn_offsets_load_record(ctx, key, value))
        die("a record did not parse");
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (n <= 0 || argc > 3)
        die("usage: coord-load-bench [N [distinct]], N > 0");
    bool distinct = argc > 2 && strcmp(argv[2], "distinct") == 0;
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    int len = snprintf(dir, sizeof dir, "%s/rn-coord-load-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (len < 0 || (size_t)len >= sizeof dir || mkdtemp(dir) == NULL)
        die("cannot make a directory under $TMPDIR");
    runnel_config_t *props = runnel_config_new();
    runnel_config_set(props, "log.dirs", dir);
    runnel_config_set(props, "log.level", "warn");
    rn_config_t cfg;
    char err[256];
    if (rn_config_build(props, &cfg, err, sizeof err) != 0)
        die(err);
    runnel_config_free(props);
    rn_log_set_level(RN_LOG_WARN);

    rn_topics_t *topics;
    rn_store_t *store;
    if (rn_topics_open(&cfg, &topics) != 0 || rn_store_open(&cfg, topics, &store) != 0)
        die("open");
    rn_offsets_t *offsets = rn_offsets_new(&cfg, store);
    double t = now_s();
    for (long i = 0; i < n; i++) {
        char group[32], topic[32];
        int32_t partition;
        if (distinct) {
            snprintf(group, sizeof group, "group-%ld", i % 1000);
            snprintf(topic, sizeof topic, "topic-%ld", (i / 1000) % 100);
            partition = (int32_t)(i / 100000);
        } else {
            snprintf(group, sizeof group, "consumer-group-%ld", i % 100);
            snprintf(topic, sizeof topic, "orders-%ld", (i / 100) % 10);
            partition = (int32_t)((i / 1000) % 10);
        }
        rn_offsets_commit_t c = {
            .topic = rn_str_from_cstr(topic),
            .partition = partition,
            .offset = i,
            .leader_epoch = 0,
            .metadata = rn_str_from_cstr(""),
            .commit_timestamp = -1,
        };
        if (rn_offsets_commit(offsets, rn_str_from_cstr(group), &c, 1, 1700000000000 + i) != 0)
            die("commit");
    }
    double wrote = now_s() - t;
    size_t kept = rn_offsets_count(offsets);
    rn_offsets_free(offsets);
    rn_store_close(store);
    rn_topics_close(topics);

    /* Drop nothing from the page cache: a restart right after a run reads warm files, and a
     * cold read is the disk's speed, not ours. */
    if (rn_topics_open(&cfg, &topics) != 0 || rn_store_open(&cfg, topics, &store) != 0)
        die("reopen");
    offsets = rn_offsets_new(&cfg, store);
    rn_store_stats_t stats;
    t = now_s();
    if (rn_store_load(store, load_offsets, offsets, &stats) != 0)
        die("load");
    double loaded = now_s() - t;
    if (stats.bad_partitions != 0 || stats.records != n)
        die("the load stopped short of the commits written");
    if (rn_offsets_count(offsets) != kept)
        die("a different number of offsets came back");
    printf("commits=%ld keys=%s write_s=%.2f records=%" PRId64 " batches=%" PRId64
           " load_mib=%.1f offsets_kept=%zu load_ms=%.1f mrecords_per_s=%.2f\n",
           n, distinct ? "distinct" : "100-groups-x-100-partitions", wrote, stats.records,
           stats.batches, (double)stats.bytes / (1 << 20), kept, loaded * 1000,
           (double)stats.records / loaded / 1e6);
    rn_offsets_free(offsets);
    rn_store_close(store);
    rn_topics_close(topics);
    rn_config_deinit(&cfg);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
