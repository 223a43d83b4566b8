/* SPDX-License-Identifier: Apache-2.0 */
/* The cache of open .log descriptors: a bound on how many stay open, pins that keep one open,
 * segments kept open before their files go, and running out of descriptors. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "helpers.h"
#include "log/internal.h"
#include "records/records.h"

static char *dir;

static void setup(void)
{
    dir = lt_tmpdir();
}

static void teardown(void)
{
    lt_rmtree(dir);
    free(dir);
}

TestSuite(files, .init = setup, .fini = teardown);

/* One batch of 3 records at the segment's next offset; its bytes are added to `all`. */
static void append_one(rn_segment_t *seg, int64_t ts, lt_buf_t *all)
{
    lt_buf_t b = { 0 };
    lt_simple(&b, 3, 40, ts);
    rn_records_assign_offsets(b.p, b.len, seg->next_offset, 0);
    cr_assert_eq(rn_segment_write(seg, b.p, b.len), 0);
    seg->size += (int64_t)b.len;
    seg->next_offset += 3;
    lt_put(all, b.p, b.len);
    lt_buf_free(&b);
}

static void assert_reads(rn_segment_t *seg, const lt_buf_t *want)
{
    uint8_t *buf = malloc(want->len);
    cr_assert_eq(rn_segment_read(seg, 0, buf, want->len), 0);
    cr_assert_eq(memcmp(buf, want->p, want->len), 0, "segment %ld", (long)seg->base_offset);
    free(buf);
}

static size_t open_now(void)
{
    rn_log_open_files_t st;
    rn_log_open_files_stats(&st);
    return st.open;
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

Test(files, at_most_the_bound_stay_open_and_closed_ones_reopen)
{
    rn_log_set_open_files_max(2);
    enum { N = 6 };
    rn_segment_t *segs[N];
    lt_buf_t all[N] = { 0 };
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < N; i++) {
            if (round == 0)
                cr_assert_eq(rn_segment_create(dir, i * 1000, 4096, &segs[i]), 0);
            append_one(segs[i], 1000 * round + i, &all[i]);
            cr_assert_leq(open_now(), 2);
        }
    for (int i = N - 1; i >= 0; i--)
        assert_reads(segs[i], &all[i]);
    rn_log_open_files_t st;
    rn_log_open_files_stats(&st);
    cr_assert_leq(st.open, 2);
    cr_assert_geq(st.closes, 3 * N - 2, "every round reopened them: %lu closes",
                  (unsigned long)st.closes);
    for (int i = 0; i < N; i++) {
        rn_segment_unref(segs[i]);
        lt_buf_free(&all[i]);
    }
    cr_assert_eq(open_now(), 0);
}

Test(files, a_pinned_descriptor_stays_open_beyond_the_bound)
{
    rn_log_set_open_files_max(1);
    rn_segment_t *a, *b, *c;
    lt_buf_t wa = { 0 }, wb = { 0 }, wc = { 0 };
    cr_assert_eq(rn_segment_create(dir, 0, 4096, &a), 0);
    append_one(a, 1, &wa);
    int fd = rn_segment_pin(a); /* as a fetch's range does */
    cr_assert_geq(fd, 0);
    cr_assert_eq(rn_segment_create(dir, 100, 4096, &b), 0);
    cr_assert_eq(rn_segment_create(dir, 200, 4096, &c), 0);
    append_one(b, 2, &wb);
    append_one(c, 3, &wc);
    cr_assert(fd_is_open(fd));
    cr_assert_eq(a->fd, fd);
    uint8_t buf[8];
    cr_assert_eq(pread(fd, buf, 8, 0), 8, "still this segment's file");
    cr_assert_eq(memcmp(buf, wa.p, 8), 0);
    cr_assert_eq(open_now(), 1, "the pinned one counts: the others were closed after use");
    cr_assert_eq(b->fd, -1);
    rn_segment_unpin(a);
    cr_assert_eq(open_now(), 1);
    cr_assert_eq(a->fd, fd, "unpinned, it stays open while within the bound");
    assert_reads(a, &wa);
    assert_reads(b, &wb);
    rn_segment_unref(a);
    rn_segment_unref(b);
    rn_segment_unref(c);
    lt_buf_free(&wa);
    lt_buf_free(&wb);
    lt_buf_free(&wc);
}

Test(files, a_segment_kept_open_reads_its_own_file_after_the_name_is_reused)
{
    rn_log_set_open_files_max(1);
    rn_segment_t *a, *b;
    lt_buf_t wa = { 0 }, wb = { 0 };
    cr_assert_eq(rn_segment_create(dir, 0, 4096, &a), 0);
    append_one(a, 1, &wa);
    cr_assert_eq(rn_segment_create(dir, 100, 4096, &b), 0);
    append_one(b, 2, &wb);
    cr_assert_eq(a->fd, -1, "closed by the cache");

    rn_segment_ref(a); /* a fetch located it before retention took it out of the log */
    cr_assert_eq(rn_segment_keep_open(a), 0);
    cr_assert_geq(a->fd, 0, "reopened while its name still holds it");
    cr_assert_eq(rn_segment_unlink(dir, 0), 0);
    /* The name now holds other bytes (as a cleaned segment's rename gives it). */
    FILE *f = fopen(lt_seg_path(dir, 0, ".log"), "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite("something else entirely", 1, 23, f), 23);
    fclose(f);
    append_one(b, 3, &wb); /* churn the cache */
    assert_reads(a, &wa);
    rn_segment_unref(a); /* the log's reference */
    assert_reads(a, &wa);
    rn_segment_unref(a); /* the fetch's: closes */
    cr_assert_eq(open_now(), 0, "b was closed after use: the kept one counted");
    rn_segment_unref(b);
    lt_buf_free(&wa);
    lt_buf_free(&wb);
}

Test(files, a_segment_nobody_else_holds_is_not_reopened_to_be_removed)
{
    rn_log_set_open_files_max(1);
    rn_segment_t *a, *b;
    lt_buf_t wa = { 0 }, wb = { 0 };
    cr_assert_eq(rn_segment_create(dir, 0, 4096, &a), 0);
    append_one(a, 1, &wa);
    cr_assert_eq(rn_segment_create(dir, 100, 4096, &b), 0);
    append_one(b, 2, &wb);
    cr_assert_eq(rn_segment_keep_open(a), 0);
    cr_assert_eq(a->fd, -1);
    rn_segment_unref(a);
    rn_segment_unref(b);
    lt_buf_free(&wa);
    lt_buf_free(&wb);
}

/* One above the highest descriptor open now: a limit of this plus `more` leaves at least
 * `more` to open (more if there are holes below it). */
static rlim_t above_highest_open(void)
{
    int highest = -1;
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && atoi(de->d_name) > highest && atoi(de->d_name) != dirfd(d))
            highest = atoi(de->d_name);
    closedir(d);
    return (rlim_t)highest + 1;
}

Test(files, out_of_descriptors_the_cache_gives_some_back)
{
    rn_log_set_open_files_max(1000);
    enum { N = 12 };
    rn_segment_t *segs[N];
    lt_buf_t all[N] = { 0 };
    /* Room for 4 more descriptors; the indexes need one each for a moment when created. */
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = above_highest_open() + 4;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(rn_segment_create(dir, i * 1000, 4096, &segs[i]), 0, "segment %d", i);
        append_one(segs[i], i, &all[i]);
    }
    for (int i = 0; i < N; i++)
        assert_reads(segs[i], &all[i]);
    rn_log_open_files_t st;
    rn_log_open_files_stats(&st);
    cr_assert_lt(st.open, N, "some were closed to make room although the bound is 1000");
    cr_assert_gt(st.closes, 0);

    /* All pinned: nothing to give back, and the error says so. */
    int pinned[N];
    int npinned = 0, err = 0;
    for (int i = 0; i < N && err == 0; i++) {
        int fd = rn_segment_pin(segs[i]);
        if (fd < 0)
            err = fd;
        else
            pinned[npinned++] = i;
    }
    cr_assert_eq(err, -EMFILE);
    cr_assert_geq(npinned, 4);
    cr_assert_lt(npinned, N);
    lt_buf_t more = { 0 };
    lt_simple(&more, 1, 10, 1);
    cr_assert_eq(rn_segment_write(segs[N - 1], more.p, more.len), -EMFILE);
    for (int i = 0; i < npinned; i++)
        rn_segment_unpin(segs[pinned[i]]);
    append_one(segs[N - 1], 99, &all[N - 1]);
    assert_reads(segs[N - 1], &all[N - 1]);
    for (int i = 0; i < N; i++) {
        rn_segment_unref(segs[i]);
        lt_buf_free(&all[i]);
    }
    lt_buf_free(&more);
}
