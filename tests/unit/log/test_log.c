/* SPDX-License-Identifier: Apache-2.0 */
/* rn_log_t through log.h: append and read back, offset lookups, rolls, retention,
 * DeleteRecords, the flush policy, clean reopen, and readers racing an appender. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "helpers.h"
#include "log/internal.h"
#include "records/records.h"
#include "util/clock.h"
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

TestSuite(log, .init = setup, .fini = teardown);

static rn_log_t *open_log(const rn_log_config_t *cfg)
{
    rn_log_t *log;
    cr_assert_eq(rn_log_open(dir, cfg, 0, -1, true, &log), 0);
    return log;
}

/* Appends `nbatches` single-batch blobs of `records` records; returns the bytes as stored. */
static lt_buf_t append_batches(rn_log_t *log, int nbatches, int records, size_t value_len,
                               int64_t first_ts)
{
    lt_buf_t stored = { 0 };
    for (int i = 0; i < nbatches; i++) {
        lt_buf_t b = { 0 };
        lt_simple(&b, records, value_len, first_ts + i * records);
        int64_t base = lt_append(log, b.p, b.len);
        rn_records_assign_offsets(b.p, b.len, base, 0);
        lt_put(&stored, b.p, b.len);
        lt_buf_free(&b);
    }
    return stored;
}

Test(log, append_and_read_back_byte_exact)
{
    rn_log_config_t cfg = lt_config();
    rn_log_t *log = open_log(&cfg);
    cr_assert_eq(rn_log_high_watermark(log), 0);
    lt_buf_t stored = append_batches(log, 4, 3, 100, 1000);

    /* A blob of three batches in one append gets consecutive offsets. */
    lt_buf_t blob = { 0 };
    for (int i = 0; i < 3; i++)
        lt_simple(&blob, 2, 10, 2000);
    int64_t base = lt_append(log, blob.p, blob.len);
    cr_assert_eq(base, 12);
    rn_records_assign_offsets(blob.p, blob.len, base, 0);
    lt_put(&stored, blob.p, blob.len);
    cr_assert_eq(rn_log_high_watermark(log), 18);
    cr_assert_eq(rn_log_size_bytes(log), (int64_t)stored.len);

    rn_log_slice_t slice;
    cr_assert_eq(rn_log_read(log, 0, 1 << 20, &slice), 0);
    cr_assert_eq(slice.high_watermark, 18);
    cr_assert_eq(slice.log_start_offset, 0);
    cr_assert_eq(slice.range.pos, 0);
    cr_assert_eq(slice.range.len, stored.len);
    uint8_t *got = lt_read_range(&slice.range);
    cr_assert_eq(memcmp(got, stored.p, stored.len), 0, "the bytes as appended, offsets assigned");
    free(got);
    slice.range.release(slice.range.owner);
    lt_buf_free(&stored);
    lt_buf_free(&blob);
    rn_log_close(log);
}

Test(log, an_offset_inside_a_batch_returns_that_whole_batch)
{
    rn_log_config_t cfg = lt_config();
    rn_log_t *log = open_log(&cfg);
    lt_buf_t stored = append_batches(log, 30, 5, 40, 1000); /* offsets 0..149, 5 per batch */
    size_t one = stored.len / 30;
    for (int64_t off = 0; off < 150; off++) {
        rn_log_slice_t slice;
        cr_assert_eq(rn_log_read(log, off, 1, &slice), 0);
        cr_assert_eq(slice.range.len, one, "max_bytes 1: still the first batch whole (KIP-74)");
        cr_assert_eq(slice.range.pos, (int64_t)((off / 5) * one), "offset %ld", (long)off);
        uint8_t *got = lt_read_range(&slice.range);
        cr_assert_eq(rn_load_be64(got), (uint64_t)(off / 5 * 5));
        free(got);
        slice.range.release(slice.range.owner);
    }
    lt_buf_free(&stored);
    rn_log_close(log);
}

Test(log, max_bytes_takes_whole_batches_that_fit)
{
    rn_log_config_t cfg = lt_config();
    rn_log_t *log = open_log(&cfg);
    lt_buf_t stored = append_batches(log, 10, 1, 60, 1000);
    size_t one = stored.len / 10;
    rn_log_slice_t slice;
    cr_assert_eq(rn_log_read(log, 2, 3 * one + one / 2, &slice), 0);
    cr_assert_eq(slice.range.len, 3 * one);
    cr_assert_eq(slice.range.pos, (int64_t)(2 * one));
    slice.range.release(slice.range.owner);
    cr_assert_eq(rn_log_read(log, 2, 3 * one, &slice), 0);
    cr_assert_eq(slice.range.len, 3 * one, "exactly max_bytes fits");
    slice.range.release(slice.range.owner);
    lt_buf_free(&stored);
    rn_log_close(log);
}

/* rn_log_read_bytes cuts as Kafka's segment read does: max_bytes from the batch holding the
 * offset, wherever that ends; the first batch whole when asked; never past the segment's end. */
Test(log, read_bytes_cuts_where_max_bytes_ends)
{
    rn_log_config_t cfg = lt_config();
    rn_log_t *log = open_log(&cfg);
    lt_buf_t stored = append_batches(log, 10, 1, 60, 1000);
    size_t one = stored.len / 10;
    rn_log_slice_t slice;
    cr_assert_eq(rn_log_read_bytes(log, 2, 3 * one + one / 2, true, &slice), 0);
    cr_assert_eq(slice.range.pos, (int64_t)(2 * one));
    cr_assert_eq(slice.range.len, 3 * one + one / 2, "half of the fourth batch too");
    slice.range.release(slice.range.owner);
    cr_assert_eq(rn_log_read_bytes(log, 2, one / 2, true, &slice), 0);
    cr_assert_eq(slice.range.len, one, "the first batch whole");
    slice.range.release(slice.range.owner);
    cr_assert_eq(rn_log_read_bytes(log, 2, one / 2, false, &slice), 0);
    cr_assert_eq(slice.range.len, one / 2, "or only part of it");
    slice.range.release(slice.range.owner);
    cr_assert_eq(rn_log_read_bytes(log, 2, 0, false, &slice), 0);
    cr_assert_eq(slice.range.len, 0);
    cr_assert_null(slice.range.release, "nothing held");
    cr_assert_eq(rn_log_read_bytes(log, 8, 100 * one, false, &slice), 0);
    cr_assert_eq(slice.range.len, 2 * one, "up to the end of the log");
    cr_assert_eq(slice.high_watermark, 10);
    slice.range.release(slice.range.owner);
    cr_assert_eq(rn_log_read_bytes(log, 10, one, true, &slice), 0);
    cr_assert_eq(slice.range.len, 0, "at the high watermark");
    cr_assert_eq(rn_log_read_bytes(log, 11, one, true, &slice), RN_LOG_OFFSET_OUT_OF_RANGE);
    lt_buf_free(&stored);
    rn_log_close(log);
}

Test(log, max_bytes_agrees_with_a_batch_by_batch_count)
{
    /* Reads skip ahead through the offset index before walking headers: check every limit. */
    rn_log_config_t cfg = lt_config();
    cfg.index_interval_bytes = 300;
    rn_log_t *log = open_log(&cfg);
    enum { N = 120 };
    int64_t pos[N + 1];
    pos[0] = 0;
    for (int i = 0; i < N; i++) {
        lt_buf_t b = { 0 };
        lt_simple(&b, 1, 10 + (size_t)(i * 53) % 290, 1000 + i);
        lt_append(log, b.p, b.len);
        pos[i + 1] = pos[i] + (int64_t)b.len;
        lt_buf_free(&b);
    }
    for (int first = 0; first < N; first += 7) {
        for (size_t max = 1; max < 9000; max += 97) {
            int want = first + 1; /* the first batch always */
            while (want < N && (size_t)(pos[want + 1] - pos[first]) <= max)
                want++;
            rn_log_slice_t slice;
            cr_assert_eq(rn_log_read(log, first, max, &slice), 0);
            cr_assert_eq(slice.range.pos, pos[first]);
            cr_assert_eq(slice.range.len, (size_t)(pos[want] - pos[first]), "from %d, max %zu",
                         first, max);
            slice.range.release(slice.range.owner);
        }
    }
    rn_log_close(log);
}

Test(log, high_watermark_is_empty_and_outside_is_out_of_range)
{
    rn_log_config_t cfg = lt_config();
    rn_log_t *log = open_log(&cfg);
    rn_log_slice_t slice;
    cr_assert_eq(rn_log_read(log, 0, 100, &slice), 0, "an empty log at offset 0");
    cr_assert_eq(slice.range.len, 0);
    cr_assert_null(slice.range.release);
    lt_buf_t stored = append_batches(log, 2, 4, 10, 1000);
    cr_assert_eq(rn_log_read(log, 8, 100, &slice), 0);
    cr_assert_eq(slice.range.len, 0);
    cr_assert_null(slice.range.release);
    cr_assert_eq(slice.high_watermark, 8);
    cr_assert_eq(rn_log_read(log, 9, 100, &slice), RN_LOG_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(rn_log_read(log, -1, 100, &slice), RN_LOG_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(rn_log_delete_records(log, 4), 0);
    cr_assert_eq(rn_log_read(log, 3, 100, &slice), RN_LOG_OFFSET_OUT_OF_RANGE,
                 "below the log start");
    cr_assert_eq(slice.log_start_offset, 4);
    cr_assert_eq(rn_log_read(log, 4, 100, &slice), 0);
    cr_assert_eq(slice.range.len, stored.len / 2);
    slice.range.release(slice.range.owner);
    lt_buf_free(&stored);
    rn_log_close(log);
}

Test(log, rolls_by_size_and_reads_across_segments)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 1000;
    rn_log_t *log = open_log(&cfg);
    lt_buf_t stored = append_batches(log, 20, 1, 150, 1000); /* 222-byte batches: 4 per segment */
    size_t one = stored.len / 20;
    cr_assert_eq(one * 4 <= 1000 && one * 5 > 1000, true, "batch size %zu", one);
    cr_assert_eq(lt_count_segments(dir), 5);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 8, ".log")), (int64_t)(4 * one));
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 8, ".index")), 8,
                 "a rolled segment's index is trimmed");
    cr_assert_gt(lt_file_size(lt_seg_path(dir, 16, ".index")), 8,
                 "the active one stays preallocated");

    /* Reading from 0 stays within the first segment. */
    rn_log_slice_t slice;
    cr_assert_eq(rn_log_read(log, 0, 1 << 20, &slice), 0);
    cr_assert_eq(slice.range.len, 4 * one);
    slice.range.release(slice.range.owner);
    int64_t off = 0;
    size_t total = 0;
    while (off < rn_log_high_watermark(log)) {
        cr_assert_eq(rn_log_read(log, off, 1 << 20, &slice), 0);
        uint8_t *got = lt_read_range(&slice.range);
        cr_assert_eq(memcmp(got, stored.p + total, slice.range.len), 0);
        total += slice.range.len;
        off += (int64_t)(slice.range.len / one);
        free(got);
        slice.range.release(slice.range.owner);
    }
    cr_assert_eq(total, stored.len);
    lt_buf_free(&stored);
    rn_log_close(log);
}

Test(log, rolls_by_time_through_maintain_and_on_append)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_ms = 60000;
    rn_log_t *log = open_log(&cfg);
    lt_buf_t stored = append_batches(log, 3, 1, 10, 1000);
    int64_t now = rn_clock_wall_ms();
    cr_assert_eq(rn_log_maintain(log, now), 0);
    cr_assert_eq(lt_count_segments(dir), 1, "not old yet");
    cr_assert_eq(rn_log_maintain(log, now + 60001), 0);
    cr_assert_eq(lt_count_segments(dir), 2);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 3, ".log")), 0);
    cr_assert_eq(rn_log_maintain(log, now + 600000), 0);
    cr_assert_eq(lt_count_segments(dir), 2, "an empty segment never rolls");

    /* On append: a segment whose first append is older than segment.ms rolls first. */
    cfg.segment_ms = 1;
    rn_log_set_config(log, &cfg);
    for (int i = 0; i < 3; i++) {
        lt_buf_t more = append_batches(log, 1, 1, 10, 2000);
        lt_buf_free(&more);
        usleep(5000);
    }
    cr_assert_eq(lt_count_segments(dir), 4,
                 "the empty segment takes the first, then one roll per append");
    lt_buf_free(&stored);
    rn_log_close(log);
}

Test(log, rolls_when_the_index_is_full)
{
    rn_log_config_t cfg = lt_config();
    cfg.index_interval_bytes = 0; /* an entry for every batch but the first */
    cfg.max_index_bytes = 24;     /* three offset entries, two time entries */
    rn_log_t *log = open_log(&cfg);
    lt_buf_t stored = append_batches(log, 10, 1, 10, 1000);
    cr_assert_gt(lt_count_segments(dir), 2);
    /* Every offset still reads back. */
    for (int64_t off = 0; off < 10; off++) {
        rn_log_slice_t slice;
        cr_assert_eq(rn_log_read(log, off, 1, &slice), 0);
        uint8_t *got = lt_read_range(&slice.range);
        cr_assert_eq(rn_load_be64(got), (uint64_t)off);
        free(got);
        slice.range.release(slice.range.owner);
    }
    lt_buf_free(&stored);
    rn_log_close(log);
}

Test(log, retention_by_time_deletes_old_segments_but_never_the_active_one)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 600;
    rn_log_t *log = open_log(&cfg);
    int64_t now = rn_clock_wall_ms();
    lt_buf_t old = append_batches(log, 6, 1, 200, now - 7200000); /* two hours old: 3 segments */
    lt_buf_t fresh = append_batches(log, 4, 1, 200, now);
    int before = lt_count_segments(dir);
    cr_assert_eq(before, 5);
    cr_assert_eq(rn_log_enforce_retention(log, now), 0, "retention.ms -1: unlimited");
    cfg.retention_ms = 3600000;
    rn_log_set_config(log, &cfg);
    cr_assert_eq(rn_log_enforce_retention(log, now), 3);
    cr_assert_eq(lt_count_segments(dir), 2);
    cr_assert_eq(rn_log_start_offset(log), 6);
    cr_assert_eq(rn_log_size_bytes(log), (int64_t)fresh.len);
    rn_log_slice_t slice;
    cr_assert_eq(rn_log_read(log, 5, 100, &slice), RN_LOG_OFFSET_OUT_OF_RANGE);

    /* Far in the future everything is old, but the active segment stays. */
    cr_assert_eq(rn_log_enforce_retention(log, now + 100 * 3600000LL), 1);
    cr_assert_eq(lt_count_segments(dir), 1);
    cr_assert_eq(rn_log_high_watermark(log), 10);
    cfg.delete_enabled = false;
    rn_log_set_config(log, &cfg);
    cr_assert_eq(rn_log_enforce_retention(log, now + 100 * 3600000LL), 0);
    lt_buf_free(&old);
    lt_buf_free(&fresh);
    rn_log_close(log);
}

Test(log, retention_by_size_keeps_the_newest_bytes)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 600;
    rn_log_t *log = open_log(&cfg);
    lt_buf_t stored = append_batches(log, 10, 1, 200, 1000); /* 5 segments of 2 batches */
    size_t seg_len = stored.len / 5;
    cr_assert_eq(lt_count_segments(dir), 5);
    /* Kafka's rule: a segment goes only if what remains is still >= retention.bytes. */
    cfg.retention_bytes = (int64_t)(2 * seg_len + 10);
    rn_log_set_config(log, &cfg);
    cr_assert_eq(rn_log_enforce_retention(log, 0), 2);
    cr_assert_eq(rn_log_size_bytes(log), (int64_t)(3 * seg_len));
    cfg.retention_bytes = (int64_t)(2 * seg_len);
    rn_log_set_config(log, &cfg);
    cr_assert_eq(rn_log_enforce_retention(log, 0), 1);
    cr_assert_eq(rn_log_size_bytes(log), (int64_t)(2 * seg_len));
    cr_assert_eq(rn_log_start_offset(log), 6);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 0, ".log")), -1);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 4, ".index")), -1);
    cr_assert_eq(rn_log_enforce_retention(log, 0), 0);
    lt_buf_free(&stored);
    rn_log_close(log);
}

Test(log, delete_records_moves_the_start_and_deletes_whole_segments_below)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 600;
    rn_log_t *log = open_log(&cfg);
    lt_buf_t stored = append_batches(log, 10, 2, 100, 1000); /* 20 offsets */
    int nsegs = lt_count_segments(dir);
    cr_assert_eq(rn_log_delete_records(log, 21), RN_LOG_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(rn_log_delete_records(log, 5), 0);
    cr_assert_eq(rn_log_start_offset(log), 5);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 0, ".log")), -1, "segment 0..3 lies wholly below 5");
    cr_assert_eq(lt_count_segments(dir), nsegs - 1);
    rn_log_slice_t slice;
    cr_assert_eq(rn_log_read(log, 5, 1, &slice), 0, "offset 5 is inside batch 4..5");
    uint8_t *got = lt_read_range(&slice.range);
    cr_assert_eq(rn_load_be64(got), 4);
    free(got);
    slice.range.release(slice.range.owner);
    cr_assert_eq(rn_log_delete_records(log, 3), 0, "below the start: nothing to do");
    cr_assert_eq(rn_log_start_offset(log), 5);
    cr_assert_eq(rn_log_delete_records(log, -1), 0, "-1: up to the high watermark");
    cr_assert_eq(rn_log_start_offset(log), 20);
    cr_assert_eq(lt_count_segments(dir), 1);
    cr_assert_eq(rn_log_read(log, 20, 100, &slice), 0);
    cr_assert_eq(slice.range.len, 0);
    lt_buf_free(&stored);
    rn_log_close(log);
}

Test(log, a_range_held_past_retention_stays_readable_until_released)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 600;
    rn_log_t *log = open_log(&cfg);
    lt_buf_t stored = append_batches(log, 6, 1, 200, 1000);
    rn_log_slice_t slice;
    cr_assert_eq(rn_log_read(log, 0, 1 << 20, &slice), 0);
    cfg.retention_bytes = 0;
    rn_log_set_config(log, &cfg);
    cr_assert_eq(rn_log_enforce_retention(log, 0), 2);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 0, ".log")), -1, "unlinked");
    uint8_t *got = lt_read_range(&slice.range);
    cr_assert_eq(memcmp(got, stored.p, slice.range.len), 0,
                 "still readable through the range's fd");
    free(got);
    slice.range.release(slice.range.owner);

    /* The same after the whole log is deleted (DeleteTopics). */
    cr_assert_eq(rn_log_read(log, 5, 1 << 20, &slice), 0);
    cr_assert_eq(rn_log_delete(log), 0);
    cr_assert_eq(access(dir, F_OK), -1, "the directory is gone");
    got = lt_read_range(&slice.range);
    cr_assert_eq(memcmp(got, stored.p + stored.len - slice.range.len, slice.range.len), 0);
    free(got);
    slice.range.release(slice.range.owner);
    lt_buf_free(&stored);
}

Test(log, flush_policy_asks_for_a_sync_and_sync_moves_the_recovery_point)
{
    rn_log_config_t cfg = lt_config();
    cfg.flush_messages = 5;
    rn_log_t *log = open_log(&cfg);
    lt_buf_t b = { 0 };
    lt_simple(&b, 2, 10, 1000);
    bool need = true;
    int64_t base;
    rn_records_summary_t sum = lt_summary(b.p, b.len);
    cr_assert_eq(rn_log_append(log, b.p, b.len, &sum, &base, &need), 0);
    cr_assert_not(need);
    cr_assert_eq(rn_log_append(log, b.p, b.len, &sum, &base, &need), 0);
    cr_assert_not(need);
    cr_assert_eq(rn_log_append(log, b.p, b.len, &sum, &base, &need), 0);
    cr_assert(need, "6 unflushed messages >= flush.messages 5");
    cr_assert_eq(rn_log_recovery_point(log), 0);
    cr_assert_eq(rn_log_sync(log), 0);
    cr_assert_eq(rn_log_recovery_point(log), 6);
    cr_assert_eq(rn_log_append(log, b.p, b.len, &sum, &base, &need), 0);
    cr_assert_not(need);

    cfg.flush_ms = 0;
    rn_log_set_config(log, &cfg);
    cr_assert_eq(rn_log_append(log, b.p, b.len, &sum, &base, &need), 0);
    cr_assert(need, "flush.ms 0: always due");
    cr_assert_eq(rn_log_maintain(log, rn_clock_wall_ms()), 0);
    cr_assert_eq(rn_log_recovery_point(log), 10, "maintain ran the due flush");
    lt_buf_free(&b);
    rn_log_close(log);
}

Test(log, a_failed_write_is_cut_back_and_publishes_nothing)
{
    rn_log_config_t cfg = lt_config();
    rn_log_t *log = open_log(&cfg);
    lt_buf_t stored = append_batches(log, 3, 2, 50, 1000);
    int64_t size = rn_log_size_bytes(log);
    /* A file size limit makes the next write short and then fail (EFBIG) half way. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = (rlim_t)size + 100;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    lt_buf_t big = { 0 };
    lt_simple(&big, 1, 1000, 2000);
    rn_records_summary_t sum = lt_summary(big.p, big.len);
    int64_t base = -7;
    bool need = false;
    cr_assert_eq(rn_log_append(log, big.p, big.len, &sum, &base, &need), -EFBIG);
    cr_assert_eq(base, -7, "untouched on failure");
    cr_assert_eq(rn_log_high_watermark(log), 6);
    cr_assert_eq(rn_log_size_bytes(log), size);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 0, ".log")), size, "the partial batch is cut off");
    rl.rlim_cur = old;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);

    cr_assert_eq(lt_append(log, big.p, big.len), 6);
    rn_log_slice_t slice;
    cr_assert_eq(rn_log_read(log, 6, 1 << 20, &slice), 0);
    cr_assert_eq(slice.range.pos, size);
    cr_assert_eq(slice.range.len, big.len);
    slice.range.release(slice.range.owner);
    lt_buf_free(&big);
    lt_buf_free(&stored);
    rn_log_close(log);
}

typedef struct sync_arg {
    rn_log_t *log;
    int rc;
} sync_arg_t;

static void *sync_thread(void *p)
{
    sync_arg_t *a = p;
    a->rc = rn_log_sync(a->log);
    return NULL;
}

Test(log, concurrent_syncs_all_return_with_everything_flushed)
{
    rn_log_config_t cfg = lt_config();
    rn_log_t *log = open_log(&cfg);
    lt_buf_t stored = append_batches(log, 50, 2, 100, 1000);
    pthread_t t[4];
    sync_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (sync_arg_t){ .log = log, .rc = -1 };
        pthread_create(&t[i], NULL, sync_thread, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(args[i].rc, 0);
    }
    cr_assert_eq(rn_log_recovery_point(log), 100);
    lt_buf_free(&stored);
    rn_log_close(log);
}

Test(log, clean_reopen_keeps_offsets_indexes_and_timestamps)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 4000;
    rn_log_t *log = open_log(&cfg);
    lt_buf_t stored = append_batches(log, 40, 3, 60, 5000);
    int64_t hw = rn_log_high_watermark(log);
    int64_t max_off, max_ts;
    cr_assert_eq(rn_log_max_timestamp(log, &max_off, &max_ts), 0);
    int nsegs = lt_count_segments(dir);
    rn_log_close(log);

    int64_t active = 0;
    for (int64_t off = 0; off < hw; off++)
        if (lt_file_size(lt_seg_path(dir, off, ".log")) >= 0)
            active = off;
    int64_t index_len = lt_file_size(lt_seg_path(dir, active, ".index"));
    cr_assert_eq(index_len % 8, 0, "trimmed on close");
    cr_assert_gt(index_len, 0);

    log = open_log(&cfg);
    cr_assert_eq(rn_log_high_watermark(log), hw);
    cr_assert_eq(rn_log_recovery_point(log), hw);
    cr_assert_eq(lt_count_segments(dir), nsegs);
    int64_t off2, ts2;
    cr_assert_eq(rn_log_max_timestamp(log, &off2, &ts2), 0);
    cr_assert_eq(ts2, max_ts);
    cr_assert_eq(off2, max_off);
    for (int64_t off = 0; off < hw; off += 7) {
        rn_log_slice_t slice;
        cr_assert_eq(rn_log_read(log, off, 1, &slice), 0);
        uint8_t *got = lt_read_range(&slice.range);
        cr_assert_eq(rn_load_be64(got), (uint64_t)(off / 3 * 3));
        free(got);
        slice.range.release(slice.range.owner);
    }
    lt_buf_t more = append_batches(log, 1, 3, 60, 9000);
    (void)more;
    cr_assert_eq(rn_log_high_watermark(log), hw + 3);
    rn_log_close(log);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, active, ".index")) >= index_len, true);
    lt_buf_free(&more);
    lt_buf_free(&stored);
}

/* ---- one appender, two readers ---- */

#define RACE_BATCHES 3000

typedef struct race {
    rn_log_t *log;
    atomic_bool done;
    atomic_long batches_seen[2];
} race_t;

static void *appender(void *p)
{
    race_t *race = p;
    for (int i = 0; i < RACE_BATCHES; i++) {
        lt_buf_t b = { 0 };
        lt_simple(&b, 1 + i % 4, 20 + (size_t)(i * 37) % 300, 1000 + i);
        lt_append(race->log, b.p, b.len);
        lt_buf_free(&b);
        if (i % 200 == 0)
            rn_log_enforce_retention(race->log, 0);
    }
    atomic_store(&race->done, true);
    return NULL;
}

typedef struct reader_arg {
    race_t *race;
    int id;
} reader_arg_t;

/* Reads from the log start to the high watermark over and over: every range must hold whole
 * CRC-valid batches with consecutive offsets, starting with the batch that holds the offset asked.
 */
static void *reader(void *p)
{
    reader_arg_t *arg = p;
    race_t *race = arg->race;
    int64_t off = 0;
    for (;;) {
        bool finished = atomic_load(&race->done);
        rn_log_slice_t slice;
        int rc = rn_log_read(race->log, off, 2000, &slice);
        if (rc == RN_LOG_OFFSET_OUT_OF_RANGE) {
            cr_assert_lt(off, slice.log_start_offset, "only retention puts us out of range");
            off = slice.log_start_offset;
            continue;
        }
        cr_assert_eq(rc, 0);
        if (slice.range.len == 0) {
            if (finished && off == rn_log_high_watermark(race->log))
                break;
            continue;
        }
        uint8_t *got = lt_read_range(&slice.range);
        size_t pos = 0;
        bool first = true;
        while (pos < slice.range.len) {
            rn_batch_header_t h;
            cr_assert_eq(rn_batch_parse_header(got + pos, slice.range.len - pos, &h), RN_DECODE_OK);
            size_t len = rn_batch_size(&h);
            cr_assert_leq(len, slice.range.len - pos, "a whole batch");
            cr_assert(rn_batch_crc_ok(got + pos, len), "no torn batch");
            if (first)
                cr_assert(h.base_offset <= off && off <= h.base_offset + h.last_offset_delta);
            else
                cr_assert_eq(h.base_offset, off);
            off = h.base_offset + h.last_offset_delta + 1;
            first = false;
            pos += len;
            atomic_fetch_add(&race->batches_seen[arg->id], 1);
        }
        cr_assert_leq(off, slice.high_watermark);
        free(got);
        slice.range.release(slice.range.owner);
    }
    return NULL;
}

Test(log, readers_racing_an_appender_see_only_whole_batches, .timeout = 60)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 16384;
    cfg.retention_bytes = 65536;
    rn_log_t *log = open_log(&cfg);
    race_t race = { .log = log };
    pthread_t w, r[2];
    reader_arg_t args[2] = { { &race, 0 }, { &race, 1 } };
    pthread_create(&r[0], NULL, reader, &args[0]);
    pthread_create(&r[1], NULL, reader, &args[1]);
    pthread_create(&w, NULL, appender, &race);
    pthread_join(w, NULL);
    pthread_join(r[0], NULL);
    pthread_join(r[1], NULL);
    cr_assert_gt(atomic_load(&race.batches_seen[0]), 0);
    cr_assert_gt(atomic_load(&race.batches_seen[1]), 0);
    int64_t expect = 0;
    for (int i = 0; i < RACE_BATCHES; i++)
        expect += 1 + i % 4;
    cr_assert_eq(rn_log_high_watermark(log), expect);
    rn_log_close(log);
}

/* Descriptors this process has open. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory stream's own */
}

/* Issue 14: no index holds a descriptor, the active ones included: a partition costs one per
 * .log file (sealed ones are still open for reads), so a broker under a descriptor limit of N
 * holds nearly N single-segment partitions, not N / 3. */
Test(log, a_partition_holds_one_descriptor_for_its_active_log)
{
    char *pdir = lt_tmpdir();
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 4096; /* several segments */
    cfg.index_interval_bytes = 1;
    int before = open_fds();
    rn_log_t *log = NULL;
    cr_assert_eq(rn_log_open(pdir, &cfg, 0, -1, false, &log), 0);
    cr_assert_eq(open_fds() - before, 1, "an empty log holds its active .log only");
    lt_buf_t b = { 0 };
    lt_simple(&b, 10, 100, 1700000000000);
    for (int i = 0; i < 20; i++)
        lt_append(log, b.p, b.len);
    cr_assert_gt(lt_count_segments(pdir), 2);
    cr_assert_eq(rn_log_sync(log), 0);
    int segments = lt_count_segments(pdir);
    cr_assert_eq(open_fds() - before, segments, "one per .log, none per index");
    rn_log_close(log);
    cr_assert_eq(open_fds(), before);

    /* Opened again, after a clean stop and after a crash (recovery rebuilds the indexes). */
    for (int clean = 0; clean < 2; clean++) {
        cr_assert_eq(rn_log_open(pdir, &cfg, 0, -1, clean, &log), 0);
        cr_assert_eq(open_fds() - before, segments, "clean %d", clean);
        lt_append(log, b.p, b.len);
        rn_log_close(log);
    }
    lt_buf_free(&b);
    lt_rmtree(pdir);
}

/* Issue 14: a failed write or sync takes the one log offline (Kafka takes its log directory);
 * RUNNEL_FAULT_INJECTION is the test hook that makes them fail. */
Test(log, an_io_error_takes_the_log_offline)
{
    lt_buf_t b = { 0 };
    lt_simple(&b, 3, 10, 1700000000000);
    rn_log_config_t cfg = lt_config();
    for (int op = 0; op < 2; op++) {
        char *pdir = lt_tmpdir();
        const char *name = strrchr(pdir, '/') + 1;
        char spec[256];
        snprintf(spec, sizeof spec, "%s:%s,write:some-other-0", op == 0 ? "write" : "sync", name);
        cr_assert_eq(setenv("RUNNEL_FAULT_INJECTION", spec, 1), 0);
        rn_log_t *log = NULL;
        cr_assert_eq(rn_log_open(pdir, &cfg, 0, -1, false, &log), 0);
        cr_assert_eq(unsetenv("RUNNEL_FAULT_INJECTION"), 0);
        cr_assert_not(rn_log_is_offline(log));

        uint8_t *copy = malloc(b.len);
        memcpy(copy, b.p, b.len);
        rn_records_summary_t sum = lt_summary(copy, b.len);
        int64_t base;
        bool sync_needed;
        int rc = rn_log_append(log, copy, b.len, &sum, &base, &sync_needed);
        if (op == 0) {
            cr_assert_eq(rc, -EIO, "the write fails");
        } else {
            cr_assert_eq(rc, 0, "the write works; the sync fails");
            cr_assert_eq(rn_log_sync(log), -EIO);
        }
        cr_assert(rn_log_is_offline(log));
        memcpy(copy, b.p, b.len);
        cr_assert_eq(rn_log_append(log, copy, b.len, &sum, &base, &sync_needed), -EIO,
                     "an offline log takes no append");
        rn_log_slice_t slice;
        cr_assert_eq(rn_log_read(log, 0, 1 << 20, &slice), -EIO, "nor serves reads");
        free(copy);
        rn_log_close(log);

        /* Opened again without the fault: online, with whatever reached the file. */
        cr_assert_eq(rn_log_open(pdir, &cfg, 0, -1, false, &log), 0);
        cr_assert_not(rn_log_is_offline(log));
        cr_assert_eq(rn_log_high_watermark(log), op == 0 ? 0 : 3);
        rn_log_close(log);
        lt_rmtree(pdir);
    }
    lt_buf_free(&b);
}
