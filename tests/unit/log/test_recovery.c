/* SPDX-License-Identifier: Apache-2.0 */
/* Loading a log at open: the clean path trusts the files, the crash path scans from the
 * recovery point, truncates the torn tail and rebuilds the indexes. The headline test cuts the
 * last batch at every byte. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "log/internal.h"
#include "records/records.h"
#include "util/logging.h"

static char *dir;

static void setup(void)
{
    rn_log_set_level(RN_LOG_WARN);
    dir = lt_tmpdir();
}

static void teardown(void)
{
    lt_rmtree(dir);
    free(dir);
}

TestSuite(recovery, .init = setup, .fini = teardown);

/* Builds a closed log in `dir` of `nbatches` batches (2 records each). Returns the base offset
 * of the last batch, the segment holding it, its position there and that segment's length. */
static void build_log(const rn_log_config_t *cfg, int nbatches, int64_t *last_pos,
                      int64_t *last_base, int64_t *last_seg, int64_t *end_pos)
{
    rn_log_t *log;
    cr_assert_eq(rn_log_open(dir, cfg, 0, -1, true, &log), 0);
    int64_t global_pos = 0;
    for (int i = 0; i < nbatches; i++) {
        lt_buf_t b = { 0 };
        lt_simple(&b, 2, 30 + (size_t)i, 1000 + i);
        global_pos = rn_log_size_bytes(log);
        *last_base = lt_append(log, b.p, b.len);
        lt_buf_free(&b);
    }
    rn_log_close(log);
    /* Positions so far are log-wide: subtract the segments before the last one. */
    *last_seg = 0;
    int64_t before = 0;
    for (int64_t off = 0; off <= *last_base; off++) {
        int64_t len = lt_file_size(lt_seg_path(dir, off, ".log"));
        if (len >= 0 && off > 0) {
            before += lt_file_size(lt_seg_path(dir, *last_seg, ".log"));
            *last_seg = off;
        }
    }
    *last_pos = global_pos - before;
    *end_pos = lt_file_size(lt_seg_path(dir, *last_seg, ".log"));
}

/* Runs `fn` with stderr captured into a string (freed by the caller). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    char path[] = "/tmp/runnel-log-stderr-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    cr_assert_eq(pread(fd, text, (size_t)len, 0), len);
    close(fd);
    unlink(path);
    return text;
}

typedef struct open_args {
    const char *dir;
    rn_log_config_t cfg;
    int64_t recovery_point;
    bool clean;
    rn_log_t *log;
    int rc;
} open_args_t;

static void do_open(void *p)
{
    open_args_t *a = p;
    rn_log_set_level(RN_LOG_INFO);
    a->rc = rn_log_open(a->dir, &a->cfg, a->recovery_point, -1, a->clean, &a->log);
    rn_log_set_level(RN_LOG_WARN);
}

Test(recovery, a_tail_cut_at_every_byte_of_the_last_batch_is_truncated_away, .timeout = 120)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 600;
    int64_t start, last_base, last_seg, end_pos;
    build_log(&cfg, 12, &start, &last_base, &last_seg, &end_pos);
    cr_assert_gt(last_seg, 0, "several segments");
    char copy[4200];
    snprintf(copy, sizeof(copy), "%s/copy", dir);
    for (int64_t cut = start; cut < end_pos; cut++) {
        lt_copydir(dir, copy);
        cr_assert_eq(truncate(lt_seg_path(copy, last_seg, ".log"), cut), 0);
        /* Recovery from the last segment: the earlier ones are trusted (and another test scans
         * everything); fewer fsyncs keep the sweep quick. */
        open_args_t a = { .dir = copy, .cfg = cfg, .recovery_point = last_seg, .clean = false };
        char *out = capture_stderr(do_open, &a);
        cr_assert_eq(a.rc, 0, "cut at %ld", (long)cut);
        rn_log_t *log = a.log;
        cr_assert_eq(rn_log_high_watermark(log), last_base, "cut at %ld", (long)cut);
        cr_assert_eq(lt_file_size(lt_seg_path(copy, last_seg, ".log")), start);
        cr_assert_not_null(strstr(out, "recovered"), "%s", out);
        char want[64];
        snprintf(want, sizeof(want), "truncated %ld bytes at offset %ld", (long)(cut - start),
                 (long)last_base);
        cr_assert_not_null(strstr(out, want), "want '%s' in: %s", want, out);
        free(out);

        /* The next append goes right after the surviving batches and reads back. */
        lt_buf_t b = { 0 };
        lt_simple(&b, 3, 20, 5000);
        cr_assert_eq(lt_append(log, b.p, b.len), last_base);
        cr_assert_eq(rn_log_high_watermark(log), last_base + 3);
        rn_log_slice_t slice;
        cr_assert_eq(rn_log_read(log, last_base + 1, 1 << 20, &slice), 0);
        cr_assert_eq(slice.range.len, b.len);
        uint8_t *got = lt_read_range(&slice.range);
        cr_assert(rn_batch_crc_ok(got, b.len));
        cr_assert_eq(rn_load_be64(got), (uint64_t)last_base);
        free(got);
        slice.range.release(slice.range.owner);
        lt_buf_free(&b);
        rn_log_close(log);
        lt_rmtree(copy);
    }
}

Test(recovery, a_bad_crc_in_an_old_segment_truncates_there_and_drops_later_segments)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 600;
    int64_t last_pos, last_base, last_seg, end_pos;
    build_log(&cfg, 20, &last_pos, &last_base, &last_seg, &end_pos);
    int before = lt_count_segments(dir);
    cr_assert_gt(before, 3);
    /* Segment 0 holds batches of 2 records; damage a value byte of its second batch. */
    int fd = open(lt_seg_path(dir, 0, ".log"), O_RDWR);
    uint8_t hdr[12];
    cr_assert_eq(pread(fd, hdr, 12, 0), 12);
    int64_t second = 12 + (int64_t)rn_load_be32(hdr + 8);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, second + 70), 1);
    byte ^= 0xff;
    cr_assert_eq(pwrite(fd, &byte, 1, second + 70), 1);
    close(fd);

    rn_log_t *log;
    cr_assert_eq(rn_log_open(dir, &cfg, 0, -1, false, &log), 0);
    cr_assert_eq(rn_log_high_watermark(log), 2);
    cr_assert_eq(lt_count_segments(dir), 1);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 0, ".log")), second);
    lt_buf_t b = { 0 };
    lt_simple(&b, 1, 10, 1);
    cr_assert_eq(lt_append(log, b.p, b.len), 2);
    lt_buf_free(&b);
    rn_log_close(log);
}

Test(recovery, segments_below_the_recovery_point_are_trusted)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 600;
    int64_t last_pos, last_base, last_seg, end_pos;
    build_log(&cfg, 20, &last_pos, &last_base, &last_seg, &end_pos);
    /* Damage segment 0 as above: with the recovery point in the last segment nobody looks. */
    int fd = open(lt_seg_path(dir, 0, ".log"), O_RDWR);
    uint8_t byte = 0x55;
    cr_assert_eq(pwrite(fd, &byte, 1, 40), 1);
    close(fd);
    rn_log_t *log;
    cr_assert_eq(rn_log_open(dir, &cfg, last_seg, -1, false, &log), 0);
    cr_assert_eq(rn_log_high_watermark(log), last_base + 2);
    rn_log_close(log);
    /* Without a recovery point everything is scanned. */
    cr_assert_eq(rn_log_open(dir, &cfg, 0, -1, false, &log), 0);
    cr_assert_eq(rn_log_high_watermark(log), 0);
    rn_log_close(log);
}

Test(recovery, a_clean_open_says_so_and_finds_the_end_from_the_index)
{
    rn_log_config_t cfg = lt_config();
    int64_t last_pos, last_base, last_seg, end_pos;
    build_log(&cfg, 50, &last_pos, &last_base, &last_seg, &end_pos);
    open_args_t a = { .dir = dir, .cfg = cfg, .recovery_point = 0, .clean = true };
    char *out = capture_stderr(do_open, &a);
    cr_assert_eq(a.rc, 0);
    cr_assert_not_null(strstr(out, "no recovery needed (clean shutdown)"), "%s", out);
    free(out);
    cr_assert_eq(rn_log_high_watermark(a.log), last_base + 2);
    rn_log_close(a.log);
}

Test(recovery, a_log_copied_while_open_loads_clean_or_not)
{
    /* Copying the files of an open log is what a crash leaves: indexes preallocated, untrimmed. */
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 2000;
    rn_log_t *log;
    cr_assert_eq(rn_log_open(dir, &cfg, 0, -1, true, &log), 0);
    for (int i = 0; i < 60; i++) {
        lt_buf_t b = { 0 };
        lt_simple(&b, 2, 40, 1000 + i);
        lt_append(log, b.p, b.len);
        lt_buf_free(&b);
    }
    int64_t hw = rn_log_high_watermark(log);
    char copy1[4200], copy2[4200];
    snprintf(copy1, sizeof(copy1), "%s/c1", dir);
    snprintf(copy2, sizeof(copy2), "%s/c2", dir);
    lt_copydir(dir, copy1);
    lt_copydir(dir, copy2);
    rn_log_close(log);

    rn_log_t *l1, *l2;
    cr_assert_eq(rn_log_open(copy1, &cfg, 0, -1, false, &l1), 0);
    cr_assert_eq(rn_log_high_watermark(l1), hw);
    cr_assert_eq(rn_log_open(copy2, &cfg, 0, -1, true, &l2), 0);
    cr_assert_eq(rn_log_high_watermark(l2), hw);
    int64_t o1, t1, o2, t2;
    cr_assert_eq(rn_log_max_timestamp(l1, &o1, &t1), 0);
    cr_assert_eq(rn_log_max_timestamp(l2, &o2, &t2), 0);
    cr_assert_eq(t1, 1000 + 59 + 1);
    cr_assert_eq(t2, t1);
    cr_assert_eq(o1, hw - 1);
    cr_assert_eq(o2, hw - 1);
    for (int64_t off = 0; off < hw; off += 5) {
        rn_log_slice_t s1, s2;
        cr_assert_eq(rn_log_read(l1, off, 1, &s1), 0);
        cr_assert_eq(rn_log_read(l2, off, 1, &s2), 0);
        cr_assert_eq(s1.range.pos, s2.range.pos);
        cr_assert_eq(s1.range.len, s2.range.len);
        s1.range.release(s1.range.owner);
        s2.range.release(s2.range.owner);
    }
    rn_log_close(l1);
    rn_log_close(l2);
}

Test(recovery, a_damaged_index_on_a_clean_open_is_rebuilt)
{
    rn_log_config_t cfg = lt_config();
    int64_t last_pos, last_base, last_seg, end_pos;
    build_log(&cfg, 40, &last_pos, &last_base, &last_seg, &end_pos);
    /* Point the last index entry past the end of the file. */
    const char *ipath = lt_seg_path(dir, last_seg, ".index");
    int64_t ilen = lt_file_size(ipath);
    cr_assert_gt(ilen, 0);
    int fd = open(ipath, O_RDWR);
    uint8_t e[8] = { 0, 0, 0, 1, 0x7f, 0, 0, 0 };
    cr_assert_eq(pwrite(fd, e, 8, ilen - 8), 8);
    close(fd);
    rn_log_t *log;
    cr_assert_eq(rn_log_open(dir, &cfg, 0, -1, true, &log), 0);
    cr_assert_eq(rn_log_high_watermark(log), last_base + 2);
    rn_log_slice_t slice;
    cr_assert_eq(rn_log_read(log, last_base, 1, &slice), 0);
    cr_assert_eq(slice.range.pos, last_pos);
    slice.range.release(slice.range.owner);
    rn_log_close(log);
}

Test(recovery, orphan_indexes_are_removed_and_missing_ones_recreated)
{
    rn_log_config_t cfg = lt_config();
    int64_t last_pos, last_base, last_seg, end_pos;
    build_log(&cfg, 10, &last_pos, &last_base, &last_seg, &end_pos);
    FILE *f = fopen(lt_seg_path(dir, 99999, ".index"), "w");
    fclose(f);
    cr_assert_eq(unlink(lt_seg_path(dir, 0, ".timeindex")), 0);
    rn_log_t *log;
    cr_assert_eq(rn_log_open(dir, &cfg, 0, -1, false, &log), 0);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 99999, ".index")), -1);
    cr_assert_eq(rn_log_high_watermark(log), last_base + 2);
    int64_t off, ts;
    cr_assert_eq(rn_log_max_timestamp(log, &off, &ts), 0);
    cr_assert_eq(ts, 1000 + 9 + 1);
    rn_log_close(log);
}

Test(recovery, a_new_log_starts_at_the_log_start_offset)
{
    rn_log_config_t cfg = lt_config();
    rn_log_t *log;
    char sub[4200];
    snprintf(sub, sizeof(sub), "%s/topic-0", dir);
    cr_assert_eq(rn_log_open(sub, &cfg, 0, 500, false, &log), 0);
    cr_assert_eq(rn_log_high_watermark(log), 500);
    cr_assert_eq(rn_log_start_offset(log), 500);
    cr_assert_eq(lt_file_size(lt_seg_path(sub, 500, ".log")), 0);
    rn_log_close(log);
}
