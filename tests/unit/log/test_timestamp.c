/* SPDX-License-Identifier: Apache-2.0 */
/* ListOffsets by timestamp and by max timestamp (KIP-734): exact to the record in uncompressed
 * and compressed batches, batch-level for LogAppendTime, across segments and the log start. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "helpers.h"
#include "log/internal.h"
#include "records/records.h"
#include "util/logging.h"

static char *dir;
static rn_log_t *log_;

static void setup(void)
{
    rn_log_set_level(RN_LOG_WARN);
    dir = lt_tmpdir();
}

static void teardown(void)
{
    rn_log_close(log_);
    log_ = NULL;
    lt_rmtree(dir);
    free(dir);
}

TestSuite(timestamp, .init = setup, .fini = teardown);

static void open_with(const rn_log_config_t *cfg)
{
    cr_assert_eq(rn_log_open(dir, cfg, 0, -1, true, &log_), 0);
}

static void append_ts(const int64_t *ts, int n, int codec)
{
    lt_buf_t b = { 0 };
    lt_spec_t spec = { .nrecords = n, .timestamps = ts, .value_len = 20, .codec = codec };
    lt_batch(&b, &spec);
    lt_append(log_, b.p, b.len);
    lt_buf_free(&b);
}

static void expect_lookup(int64_t target, int64_t want_offset, int64_t want_ts)
{
    int64_t off, ts;
    cr_assert_eq(rn_log_offset_for_timestamp(log_, target, &off, &ts), 0);
    cr_assert_eq(off, want_offset, "target %ld: offset %ld, want %ld", (long)target, (long)off,
                 (long)want_offset);
    cr_assert_eq(ts, want_ts, "target %ld: timestamp %ld, want %ld", (long)target, (long)ts,
                 (long)want_ts);
}

static void three_batches(int codec)
{
    rn_log_config_t cfg = lt_config();
    open_with(&cfg);
    append_ts((int64_t[]){ 100, 105, 110 }, 3, codec);
    append_ts((int64_t[]){ 120, 115, 130 }, 3, codec); /* out of order inside the batch */
    append_ts((int64_t[]){ 140, 150, 160 }, 3, codec);
}

static void check_three_batches(void)
{
    expect_lookup(0, 0, 100);
    expect_lookup(100, 0, 100);
    expect_lookup(101, 1, 105);
    expect_lookup(106, 2, 110);
    expect_lookup(111, 3, 120);
    expect_lookup(116, 3, 120);
    expect_lookup(121, 5, 130);
    expect_lookup(155, 8, 160);
    expect_lookup(160, 8, 160);
    expect_lookup(161, -1, -1);
}

Test(timestamp, finds_the_first_record_at_or_after_a_timestamp)
{
    three_batches(RN_CODEC_NONE);
    check_three_batches();
}

Test(timestamp, looks_inside_compressed_batches)
{
    three_batches(RN_CODEC_GZIP);
    check_three_batches();
}

Test(timestamp, respects_the_log_start_offset)
{
    three_batches(RN_CODEC_NONE);
    cr_assert_eq(rn_log_delete_records(log_, 2), 0);
    expect_lookup(0, 2, 110);
    expect_lookup(106, 2, 110);
    expect_lookup(111, 3, 120);
}

Test(timestamp, log_append_time_batches_answer_with_their_first_offset)
{
    rn_log_config_t cfg = lt_config();
    open_with(&cfg);
    lt_buf_t b = { 0 };
    lt_spec_t spec = { .nrecords = 4, .first_ts = 7000, .value_len = 5, .log_append_time = true };
    lt_batch(&b, &spec);
    lt_append(log_, b.p, b.len);
    lt_buf_free(&b);
    expect_lookup(10, 0, 7000);
    expect_lookup(7000, 0, 7000);
    expect_lookup(7001, -1, -1);
}

Test(timestamp, an_empty_log_has_no_answer)
{
    rn_log_config_t cfg = lt_config();
    open_with(&cfg);
    expect_lookup(0, -1, -1);
    int64_t off, ts;
    cr_assert_eq(rn_log_max_timestamp(log_, &off, &ts), 0);
    cr_assert_eq(off, -1);
    cr_assert_eq(ts, -1);
}

Test(timestamp, agrees_with_a_brute_force_search_across_segments)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 1500;
    cfg.index_interval_bytes = 100;
    open_with(&cfg);
    enum { N = 300 };
    int64_t ts[N];
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245 + 12345;
        ts[i] = 10000 + i * 10 + (int64_t)(seed >> 16) % 25; /* rising, with local disorder */
    }
    for (int i = 0; i < N; i += 3)
        append_ts(ts + i, 3, i % 2 ? RN_CODEC_GZIP : RN_CODEC_NONE);
    cr_assert_gt(lt_count_segments(dir), 3);
    for (int64_t target = 9990; target <= 10000 + N * 10 + 40; target += 7) {
        int64_t want = -1, want_ts = -1;
        for (int i = 0; i < N; i++)
            if (ts[i] >= target) {
                want = i;
                want_ts = ts[i];
                break;
            }
        expect_lookup(target, want, want_ts);
    }
}

Test(timestamp, max_timestamp_is_the_earliest_record_holding_it)
{
    rn_log_config_t cfg = lt_config();
    open_with(&cfg);
    append_ts((int64_t[]){ 100, 200 }, 2, RN_CODEC_NONE);
    append_ts((int64_t[]){ 150, 300, 300, 250 }, 4, RN_CODEC_NONE); /* offsets 2..5: 300 at 3 */
    append_ts((int64_t[]){ 300, 120 }, 2, RN_CODEC_GZIP);           /* a tie later: not it */
    int64_t off, ts;
    cr_assert_eq(rn_log_max_timestamp(log_, &off, &ts), 0);
    cr_assert_eq(ts, 300);
    cr_assert_eq(off, 3);
    append_ts((int64_t[]){ 100, 400, 400 }, 3, RN_CODEC_GZIP); /* offsets 8..10 */
    cr_assert_eq(rn_log_max_timestamp(log_, &off, &ts), 0);
    cr_assert_eq(ts, 400);
    cr_assert_eq(off, 9, "inside a compressed batch");
}

Test(timestamp, find_record_walks_and_reports_what_it_cannot_walk)
{
    lt_buf_t b = { 0 };
    lt_spec_t spec = { .nrecords = 3, .timestamps = (int64_t[]){ 10, 30, 20 }, .value_len = 4 };
    lt_batch(&b, &spec);
    rn_records_assign_offsets(b.p, b.len, 50, 0);
    int64_t off, ts;
    cr_assert_eq(rn_log_find_record(b.p, b.len, 0, 25, &off, &ts), RN_LOG_FIND_FOUND);
    cr_assert_eq(off, 51);
    cr_assert_eq(ts, 30);
    cr_assert_eq(rn_log_find_record(b.p, b.len, 52, 15, &off, &ts), RN_LOG_FIND_FOUND,
                 "skips records below min_offset");
    cr_assert_eq(off, 52);
    cr_assert_eq(rn_log_find_record(b.p, b.len, 0, 31, &off, &ts), RN_LOG_FIND_NONE);
    b.p[RN_BATCH_HEADER_LEN] = 0x7f; /* the first record's length now runs past the batch */
    cr_assert_eq(rn_log_find_record(b.p, b.len, 0, 0, &off, &ts), RN_LOG_FIND_UNWALKABLE);
    cr_assert_eq(rn_log_find_record(b.p, b.len - 1, 0, 0, &off, &ts), RN_LOG_FIND_UNWALKABLE,
                 "not a whole batch");
    lt_buf_free(&b);
}
