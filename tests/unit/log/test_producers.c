/* SPDX-License-Identifier: Apache-2.0 */
/* Producer state in the log: Kafka 4.4's answers to idempotent batches (asked of a real Kafka
 * with the same sequences: retries of the last five batches, gaps, epochs, wrap-around),
 * transactions and the last stable offset, aborted transactions, and the state's survival of a
 * clean close (snapshot) and of a crash (replay). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "log/internal.h"
#include "records/records.h"
#include "util/logging.h"

#include "../kerr_assert.h"

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

TestSuite(producers, .init = setup, .fini = teardown);

/* One producer batch of `n` records, timestamped `ts`. */
typedef struct pbatch {
    int64_t pid;
    int16_t epoch;
    int32_t seq;
    int n;
    bool txn;
    int64_t ts;
} pbatch_t;

/* Appends the batch; returns what rn_log_append_batch returned, the answer in *a. */
static int append(rn_log_t *log, pbatch_t b, rn_log_appended_t *a)
{
    rn_batch_builder_t bb;
    rn_batch_builder_init(&bb);
    rn_batch_builder_set_producer(&bb, b.pid, b.epoch, b.seq,
                                  b.txn ? RN_BATCH_ATTR_TRANSACTIONAL : 0);
    for (int i = 0; i < b.n; i++)
        cr_assert_eq(rn_batch_builder_add(&bb, b.ts ? b.ts : 1000 + i,
                                          (rn_bytes_t){ (const uint8_t *)"k", 1 },
                                          (rn_bytes_t){ (const uint8_t *)"v", 1 }),
                     0);
    uint8_t *p;
    size_t len;
    rn_records_summary_t sum;
    cr_assert_eq(rn_batch_builder_finish(&bb, &p, &len, &sum), 0);
    rn_log_appended_t unused;
    int rc = rn_log_append_batch(log, p, len, &sum, a ? a : &unused);
    free(p);
    return rc;
}

/* Appends and expects success at `offset` (a new write, not a retry). */
static void expect_written(rn_log_t *log, pbatch_t b, int64_t offset)
{
    rn_log_appended_t a;
    cr_assert_eq(append(log, b, &a), 0, "pid %lld seq %d", (long long)b.pid, b.seq);
    cr_assert(!a.duplicate);
    cr_assert_eq(a.base_offset, offset, "pid %lld seq %d: offset %lld, want %lld", (long long)b.pid,
                 b.seq, (long long)a.base_offset, (long long)offset);
}

static void expect_duplicate(rn_log_t *log, pbatch_t b, int64_t offset)
{
    int64_t hw = rn_log_high_watermark(log);
    rn_log_appended_t a;
    int rc = append(log, b, &a);
    cr_assert_eq(rc, 0, "seq %d: %d", b.seq, rc);
    cr_assert(a.duplicate, "seq %d is a retry", b.seq);
    cr_assert_eq(a.base_offset, offset);
    cr_assert_eq(rn_log_high_watermark(log), hw, "a retry writes nothing");
}

static rn_log_t *open_log(bool clean)
{
    rn_log_config_t cfg = lt_config();
    rn_log_t *log;
    cr_assert_eq(rn_log_open(dir, &cfg, 0, -1, clean, &log), 0);
    return log;
}

/* The sequence Kafka 4.4 was asked (facts: one partition, pid P at epoch 0). */
Test(producers, retries_gaps_and_epochs_as_kafka_answers_them)
{
    rn_log_t *log = open_log(true);
    const int64_t P = 1000;
    expect_written(log, (pbatch_t){ P, 0, 0, 3 }, 0);
    expect_written(log, (pbatch_t){ P, 0, 3, 2 }, 3);
    for (int s = 5; s <= 9; s++)
        expect_written(log, (pbatch_t){ P, 0, s, 1 }, s);
    /* Each of the last five batches is a retry, answered with its first offset. */
    for (int s = 5; s <= 9; s++)
        expect_duplicate(log, (pbatch_t){ P, 0, s, 1 }, s);
    /* The sixth-last and older are not remembered: out of order. */
    assert_kerr(append(log, (pbatch_t){ P, 0, 3, 2 }, NULL), RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_kerr(append(log, (pbatch_t){ P, 0, 0, 3 }, NULL), RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* Same first sequence, other length; an overlap; a gap. */
    assert_kerr(append(log, (pbatch_t){ P, 0, 8, 2 }, NULL), RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_kerr(append(log, (pbatch_t){ P, 0, 9, 2 }, NULL), RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_kerr(append(log, (pbatch_t){ P, 0, 12, 1 }, NULL), RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* A plain batch between them disturbs nothing. */
    expect_written(log, (pbatch_t){ -1, -1, -1, 1 }, 10);
    expect_written(log, (pbatch_t){ P, 0, 10, 1 }, 11);
    /* Epochs: lower is fenced, higher must start at 0 and then resets the sequence. */
    assert_kerr(append(log, (pbatch_t){ P, -1, 11, 1 }, NULL), RN_KERR_INVALID_PRODUCER_EPOCH);
    assert_kerr(append(log, (pbatch_t){ P, 1, 5, 1 }, NULL), RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect_written(log, (pbatch_t){ P, 1, 0, 1 }, 12);
    assert_kerr(append(log, (pbatch_t){ P, 0, 11, 1 }, NULL), RN_KERR_INVALID_PRODUCER_EPOCH);
    expect_written(log, (pbatch_t){ P, 1, 1, 1 }, 13);
    /* A producer the partition does not know may start anywhere. */
    expect_written(log, (pbatch_t){ 2000, 0, 57, 1 }, 14);
    expect_written(log, (pbatch_t){ 2000, 0, 58, 1 }, 15);
    expect_written(log, (pbatch_t){ 777777, 3, 5, 1 }, 16);
    rn_log_close(log);
}

Test(producers, sequences_wrap_at_int32_max)
{
    rn_log_t *log = open_log(true);
    const int64_t P = 3;
    expect_written(log, (pbatch_t){ P, 0, 2147483646, 1 }, 0);
    expect_written(log, (pbatch_t){ P, 0, 2147483647, 3 }, 1); /* last sequence 1 */
    expect_written(log, (pbatch_t){ P, 0, 2, 1 }, 4);
    expect_duplicate(log, (pbatch_t){ P, 0, 2147483647, 3 }, 1);
    expect_written(log, (pbatch_t){ 4, 0, 2147483647, 1 }, 5);
    expect_written(log, (pbatch_t){ 4, 0, 0, 1 }, 6);
    rn_log_close(log);
}

Test(producers, duplicate_answers_the_original_timestamp)
{
    rn_log_t *log = open_log(true);
    expect_written(log, (pbatch_t){ 9, 0, 0, 2, .ts = 1700000000000 }, 0);
    rn_log_appended_t a;
    cr_assert_eq(append(log, (pbatch_t){ 9, 0, 0, 2, .ts = 1600000000000 }, &a), 0);
    cr_assert(a.duplicate);
    cr_assert_eq(a.duplicate_timestamp, 1700000000000);
    rn_log_close(log);
}

Test(producers, transactions_hold_back_the_last_stable_offset)
{
    rn_log_t *log = open_log(true);
    expect_written(log, (pbatch_t){ -1, -1, -1, 2 }, 0);
    cr_assert_eq(rn_log_last_stable_offset(log), 2);
    expect_written(log, (pbatch_t){ 7, 0, 0, 3, .txn = true }, 2);
    expect_written(log, (pbatch_t){ 8, 0, 0, 1, .txn = true }, 5);
    expect_written(log, (pbatch_t){ 7, 0, 3, 1, .txn = true }, 6);
    cr_assert_eq(rn_log_high_watermark(log), 7);
    cr_assert_eq(rn_log_last_stable_offset(log), 2);
    cr_assert(rn_log_txn_open(log, 7, 0));
    cr_assert_not(rn_log_txn_open(log, 7, 1), "another epoch");
    cr_assert_not(rn_log_txn_open(log, 9, 0), "an unknown producer");
    /* A plain batch from a producer in a transaction: Kafka's INVALID_TXN_STATE. */
    assert_kerr(append(log, (pbatch_t){ 7, 0, 4, 1 }, NULL), RN_KERR_INVALID_TXN_STATE);

    int64_t off;
    bool sync;
    cr_assert_eq(rn_log_append_marker(log, 7, 0, 0, true, 5000, &off, &sync), 0);
    cr_assert_eq(off, 7);
    cr_assert_not(rn_log_txn_open(log, 7, 0), "ended by its marker");
    cr_assert_eq(rn_log_last_stable_offset(log), 5, "producer 8's transaction is still open");
    cr_assert_eq(rn_log_append_marker(log, 8, 0, 0, false, 5000, &off, &sync), 0);
    cr_assert_eq(off, 8);
    cr_assert_eq(rn_log_last_stable_offset(log), 9);

    /* Only the abort is listed, for fetches whose range meets [5, 8]. */
    rn_log_aborted_t ab[4];
    cr_assert_eq(rn_log_aborted_txns(log, 0, 9, ab, 4), 1);
    cr_assert_eq(ab[0].producer_id, 8);
    cr_assert_eq(ab[0].first_offset, 5);
    cr_assert_eq(rn_log_aborted_txns(log, 8, 9, ab, 4), 1);
    cr_assert_eq(rn_log_aborted_txns(log, 9, 20, ab, 4), 0, "ends before the fetch");
    cr_assert_eq(rn_log_aborted_txns(log, 0, 5, ab, 4), 0, "starts after the fetch");
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 0, ".txnindex")), RN_TXN_INDEX_ENTRY_LEN);

    /* Markers are fenced by the producer's epoch and by the coordinator's. */
    expect_written(log, (pbatch_t){ 7, 2, 0, 1, .txn = true }, 9);
    assert_kerr(rn_log_append_marker(log, 7, 1, 0, true, 5000, &off, &sync),
                RN_KERR_INVALID_PRODUCER_EPOCH);
    assert_kerr(rn_log_append_marker(log, 8, 0, -1, true, 5000, &off, &sync),
                RN_KERR_TRANSACTION_COORDINATOR_FENCED);

    rn_log_producer_t ps[4];
    cr_assert_eq(rn_log_producers(log, ps, 4), 2);
    cr_assert_eq(ps[0].producer_id, 7);
    cr_assert_eq(ps[0].producer_epoch, 2);
    cr_assert_eq(ps[0].txn_start_offset, 9);
    cr_assert_eq(ps[0].last_sequence, 0);
    cr_assert_eq(ps[1].producer_id, 8);
    cr_assert_eq(ps[1].coordinator_epoch, 0);
    cr_assert_eq(ps[1].txn_start_offset, -1);
    rn_log_close(log);
}

/* Kafka's empty snapshot, as Kafka 4.4 writes it (facts: 10 bytes, CRC-32C of the count). */
Test(producers, empty_snapshot_is_kafkas_bytes)
{
    rn_log_t *log = open_log(true);
    expect_written(log, (pbatch_t){ -1, -1, -1, 1 }, 0);
    rn_log_close(log);
    const char *path = lt_seg_path(dir, 1, ".snapshot");
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "a clean close snapshots at the log end");
    uint8_t buf[32];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    static const uint8_t want[10] = { 0x00, 0x01, 0x48, 0x67, 0x4b, 0xc7, 0, 0, 0, 0 };
    cr_assert_eq(n, sizeof want);
    cr_assert_arr_eq(buf, want, sizeof want);
}

Test(producers, one_entry_snapshot_layout)
{
    rn_log_t *log = open_log(true);
    expect_written(log, (pbatch_t){ 3, 0, 0, 2, .ts = 1796194776813 }, 0);
    rn_log_close(log);
    FILE *f = fopen(lt_seg_path(dir, 2, ".snapshot"), "rb");
    cr_assert_not_null(f);
    uint8_t buf[64];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert_eq(n, 56);
    static const uint8_t entry[46] = {
        0,    0,    0,    0,    0,    0,    0,    3,    /* producer id */
        0,    0,                                        /* epoch */
        0,    0,    0,    1,                            /* last sequence */
        0,    0,    0,    0,    0,    0,    0,    1,    /* last offset */
        0,    0,    0,    1,                            /* offset delta */
        0,    0,    0x01, 0xa2, 0x35, 0x8d, 0x36, 0xed, /* timestamp */
        0xff, 0xff, 0xff, 0xff,                         /* coordinator epoch */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* no open transaction */
    };
    cr_assert_arr_eq(buf + 10, entry, sizeof entry);
    cr_assert_eq(rn_load_be32(buf + 6), 1);
    cr_assert_eq(rn_load_be32(buf + 2), rn_crc32c(0, buf + 6, n - 6));
}

/* After a clean close only each producer's last batch is known, as in Kafka. */
Test(producers, clean_restart_knows_the_last_batch)
{
    rn_log_t *log = open_log(true);
    for (int s = 0; s < 5; s++)
        expect_written(log, (pbatch_t){ 5, 0, s, 1 }, s);
    rn_log_close(log);
    log = open_log(true);
    expect_duplicate(log, (pbatch_t){ 5, 0, 4, 1 }, 4);
    assert_kerr(append(log, (pbatch_t){ 5, 0, 3, 1 }, NULL), RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_kerr(append(log, (pbatch_t){ 5, 0, 7, 1 }, NULL), RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect_written(log, (pbatch_t){ 5, 0, 5, 1 }, 5);
    rn_log_close(log);
}

/* A crash: the files as they were while the log was open (copied, never closed), opened
 * unclean. The state comes from the last roll's snapshot (each producer's last batch only, as
 * in Kafka) and a replay of what follows it: all five retries of a producer that wrote after
 * the snapshot, the open transaction and the aborted one. */
Test(producers, crash_replays_the_log_after_the_last_snapshot)
{
    rn_log_config_t cfg = lt_config();
    cfg.segment_bytes = 600; /* a few rolls, so replay starts at a roll's snapshot */
    rn_log_t *log;
    cr_assert_eq(rn_log_open(dir, &cfg, 0, -1, true, &log), 0);
    int64_t off = 0;
    for (int s = 0; s < 20; s++, off++)
        expect_written(log, (pbatch_t){ 9, 0, s, 1 }, off);
    cr_assert_eq(lt_count_segments(dir) > 2, true, "rolled");
    cfg.segment_bytes = 1 << 30; /* no more rolls: what follows is replayed */
    rn_log_set_config(log, &cfg);
    for (int s = 0; s < 10; s++, off++)
        expect_written(log, (pbatch_t){ 5, 0, s, 1 }, off);
    int64_t mark;
    bool sync;
    expect_written(log, (pbatch_t){ 6, 0, 0, 2, .txn = true }, off);
    cr_assert_eq(rn_log_append_marker(log, 6, 0, 3, false, 1, &mark, &sync), 0);
    expect_written(log, (pbatch_t){ 6, 0, 2, 1, .txn = true }, mark + 1);

    char *copy = lt_tmpdir();
    lt_rmtree(copy);
    lt_copydir(dir, copy);
    rn_log_close(log);
    lt_rmtree(dir);
    lt_copydir(copy, dir);
    lt_rmtree(copy);
    free(copy);

    cr_assert_eq(rn_log_open(dir, &cfg, 0, -1, false, &log), 0);
    for (int s = 5; s < 10; s++)
        expect_duplicate(log, (pbatch_t){ 5, 0, s, 1 }, 20 + s);
    /* Producer 9 wrote before the last snapshot; its first batch is long forgotten. */
    expect_duplicate(log, (pbatch_t){ 9, 0, 19, 1 }, 19);
    assert_kerr(append(log, (pbatch_t){ 9, 0, 0, 1 }, NULL), RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    cr_assert_eq(rn_log_last_stable_offset(log), mark + 1, "producer 6's second transaction");
    rn_log_aborted_t ab[2];
    cr_assert_eq(rn_log_aborted_txns(log, 0, INT64_MAX, ab, 2), 1);
    cr_assert_eq(ab[0].first_offset, 30);
    assert_kerr(rn_log_append_marker(log, 6, 0, 2, true, 1, &mark, &sync),
                RN_KERR_TRANSACTION_COORDINATOR_FENCED);
    rn_log_close(log);
}

Test(producers, expiry_forgets_idle_producers_without_transactions)
{
    rn_log_t *log = open_log(true);
    expect_written(log, (pbatch_t){ 1, 0, 0, 1, .ts = 1000 }, 0);
    expect_written(log, (pbatch_t){ 2, 0, 0, 1, .ts = 1000, .txn = true }, 1);
    expect_written(log, (pbatch_t){ 3, 0, 0, 1, .ts = 90000 }, 2);
    cr_assert_eq(rn_log_expire_producers(log, 100000, 30000), 1);
    rn_log_producer_t ps[4];
    cr_assert_eq(rn_log_producers(log, ps, 4), 2);
    /* Producer 1 is forgotten: any sequence goes again. */
    expect_written(log, (pbatch_t){ 1, 0, 57, 1 }, 3);
    rn_log_close(log);
}

/* read_committed reads stop before the open transaction's first batch; the aborted list of a
 * read reaches Kafka's upper bound (the log end here: no index entry past the read). */
Test(producers, read_committed_stops_at_the_last_stable_offset)
{
    rn_log_t *log = open_log(true);
    expect_written(log, (pbatch_t){ -1, -1, -1, 2 }, 0);
    expect_written(log, (pbatch_t){ 7, 0, 0, 2, .txn = true }, 2);
    int64_t mark;
    bool sync;
    cr_assert_eq(rn_log_append_marker(log, 7, 0, 0, false, 1, &mark, &sync), 0);
    expect_written(log, (pbatch_t){ -1, -1, -1, 1 }, 5);
    expect_written(log, (pbatch_t){ 8, 0, 0, 1, .txn = true }, 6);
    expect_written(log, (pbatch_t){ -1, -1, -1, 1 }, 7);
    cr_assert_eq(rn_log_last_stable_offset(log), 6);

    rn_log_slice_t all, committed;
    cr_assert_eq(rn_log_read_committed(log, 0, 1 << 20, true, INT64_MAX, &all), 0);
    cr_assert_eq(rn_log_read_committed(log, 0, 1 << 20, true, 6, &committed), 0);
    cr_assert_lt(committed.range.len, all.range.len);
    /* What is cut away is exactly the two last batches. */
    rn_log_slice_t from6;
    cr_assert_eq(rn_log_read_committed(log, 6, 1 << 20, true, INT64_MAX, &from6), 0);
    cr_assert_eq(committed.range.len + from6.range.len, all.range.len);
    /* An index entry at or past the cut (the sparse index decides which), else the log end. */
    int64_t upper = rn_log_fetch_upper_bound(log, &committed);
    cr_assert(upper >= 6 && upper <= 8, "upper bound %lld", (long long)upper);
    rn_log_aborted_t ab[2];
    cr_assert_eq(rn_log_aborted_txns(log, 0, 8, ab, 2), 1);
    cr_assert_eq(ab[0].first_offset, 2);
    rn_log_slice_t none;
    cr_assert_eq(rn_log_read_committed(log, 6, 1 << 20, true, 6, &none), 0);
    cr_assert_eq(none.range.len, 0);
    all.range.release(all.range.owner);
    committed.range.release(committed.range.owner);
    from6.range.release(from6.range.owner);
    rn_log_close(log);
}

/* DeleteRecords past a producer's last batch forgets it, as Kafka's evictUnretainedProducers. */
Test(producers, delete_records_forgets_producers_whose_data_is_gone)
{
    rn_log_t *log = open_log(true);
    expect_written(log, (pbatch_t){ 1, 0, 0, 2 }, 0);
    expect_written(log, (pbatch_t){ 2, 0, 0, 2 }, 2);
    cr_assert_eq(rn_log_delete_records(log, 2), 0);
    rn_log_producer_t ps[4];
    cr_assert_eq(rn_log_producers(log, ps, 4), 1);
    cr_assert_eq(ps[0].producer_id, 2);
    expect_written(log, (pbatch_t){ 1, 0, 99, 1 }, 4);
    assert_kerr(append(log, (pbatch_t){ 2, 0, 99, 1 }, NULL), RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    rn_log_close(log);
}
