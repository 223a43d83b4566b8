/* SPDX-License-Identifier: Apache-2.0 */
/* The producer id counter (src/coord/producer_ids.c): ids in order from 0, a block reserved on
 * disk before its first id goes out, no id handed out twice across a clean reopen or a crash
 * (the file is all that survives one), a damaged file refused, and many threads drawing at
 * once without a duplicate. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coord/producer_ids.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/logging.h"

static char dir[64];

static void setup(void)
{
    rn_log_set_level(RN_LOG_ERROR);
    snprintf(dir, sizeof dir, "/tmp/rn-pids-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(producer_ids, .init = setup, .fini = teardown);

static int64_t next_id(rn_producer_ids_t *ids)
{
    int64_t id = -1;
    cr_assert_eq(rn_producer_ids_next(ids, &id), 0);
    return id;
}

/* The file's text, NUL-terminated, or "" when absent. */
static const char *file_text(void)
{
    static char text[128];
    size_t len = 0;
    if (rn_fs_read_small(dir, RN_PRODUCER_IDS_FILE, text, sizeof text - 1, &len) != 0)
        len = 0;
    text[len] = '\0';
    return text;
}

Test(producer_ids, a_new_broker_starts_at_zero_and_writes_nothing_until_asked)
{
    rn_producer_ids_t *ids = NULL;
    cr_assert_eq(rn_producer_ids_open(dir, &ids), 0);
    cr_assert_str_eq(file_text(), "", "no block is reserved before the first id");
    cr_assert_eq(next_id(ids), 0);
    cr_assert_str_eq(file_text(), "runnel-producer-ids 1\n1000\n");
    for (int64_t want = 1; want < 1000; want++)
        cr_assert_eq(next_id(ids), want);
    cr_assert_str_eq(file_text(), "runnel-producer-ids 1\n1000\n", "one write per block");
    cr_assert_eq(next_id(ids), 1000);
    cr_assert_str_eq(file_text(), "runnel-producer-ids 1\n2000\n");
    rn_producer_ids_close(ids);
}

Test(producer_ids, a_reopen_continues_after_the_reserved_block)
{
    rn_producer_ids_t *ids = NULL;
    cr_assert_eq(rn_producer_ids_open(dir, &ids), 0);
    for (int i = 0; i < 5; i++)
        next_id(ids);
    rn_producer_ids_close(ids);
    /* What a crash leaves is the file alone: the unused rest of the block is skipped. */
    cr_assert_eq(rn_producer_ids_open(dir, &ids), 0);
    cr_assert_eq(next_id(ids), 1000);
    cr_assert_eq(next_id(ids), 1001);
    rn_producer_ids_close(ids);
    cr_assert_eq(rn_producer_ids_open(dir, &ids), 0);
    cr_assert_eq(next_id(ids), 2000);
    rn_producer_ids_close(ids);
}

Test(producer_ids, a_file_that_does_not_parse_is_refused)
{
    static const char *const bad[] = {
        "",
        "runnel-producer-ids 1\n",
        "runnel-producer-ids 1\n12",
        "runnel-producer-ids 1\n-5\n",
        "runnel-producer-ids 1\nabc\n",
        "runnel-producer-ids 2\n1000\n",
        "runnel-producer-ids 1\n99999999999999999999\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(rn_fs_write_atomic(dir, RN_PRODUCER_IDS_FILE, bad[i], strlen(bad[i])), 0);
        rn_producer_ids_t *ids = NULL;
        cr_assert_eq(rn_producer_ids_open(dir, &ids), RN_EINVAL, "%s", bad[i]);
        cr_assert_null(ids);
    }
}

Test(producer_ids, a_block_that_cannot_be_written_hands_out_nothing)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/gone", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    rn_producer_ids_t *ids = NULL;
    cr_assert_eq(rn_producer_ids_open(sub, &ids), 0);
    cr_assert_eq(rmdir(sub), 0);
    int64_t id = -7;
    cr_assert_eq(rn_producer_ids_next(ids, &id), -ENOENT);
    cr_assert_eq(id, -7);
    cr_assert_eq(mkdir(sub, 0755), 0);
    cr_assert_eq(rn_producer_ids_next(ids, &id), 0, "a later call tries again");
    cr_assert_eq(id, 0);
    rn_producer_ids_close(ids);
}

enum { THREADS = 4, PER_THREAD = 1500 };

typedef struct drawer {
    rn_producer_ids_t *ids;
    int64_t got[PER_THREAD];
} drawer_t;

static void *draw(void *arg)
{
    drawer_t *d = arg;
    for (int i = 0; i < PER_THREAD; i++)
        if (rn_producer_ids_next(d->ids, &d->got[i]) != 0)
            d->got[i] = -1;
    return NULL;
}

Test(producer_ids, threads_drawing_at_once_never_share_an_id)
{
    rn_producer_ids_t *ids = NULL;
    cr_assert_eq(rn_producer_ids_open(dir, &ids), 0);
    static drawer_t drawers[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        drawers[t].ids = ids;
        cr_assert_eq(pthread_create(&threads[t], NULL, draw, &drawers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    static bool seen[THREADS * PER_THREAD];
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < PER_THREAD; i++) {
            int64_t id = drawers[t].got[i];
            cr_assert(id >= 0 && id < THREADS * PER_THREAD, "id %lld", (long long)id);
            cr_assert_not(seen[id], "id %lld twice", (long long)id);
            seen[id] = true;
        }
    }
    cr_assert_str_eq(file_text(), "runnel-producer-ids 1\n6000\n");
    rn_producer_ids_close(ids);
}
