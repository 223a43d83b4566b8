/* SPDX-License-Identifier: Apache-2.0 */
/* The log cleaner and transactions (Kafka's CleanedTransactionMetadata rules, facts in
 * CLEANER.md A4/A5): aborted data goes at once, markers stay while their transaction's batches
 * do and then get a delete horizon, the rebuilt .txnindex lists only what still has data, a
 * producer's last batch stays (empty) so its state survives a restart. And crash safety at open:
 * `.cleaned` leftovers, a committed `.swap` with the old segments still there, orphan index
 * swaps. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clean_helpers.h"
#include "log/internal.h"
#include "records/records.h"
#include "util/logging.h"

static char *dir;

static void setup(void)
{
    rn_log_set_level(RN_LOG_ERROR);
    dir = lt_tmpdir();
}

static void teardown(void)
{
    lt_rmtree(dir);
    free(dir);
}

TestSuite(cleaner_txn, .init = setup, .fini = teardown);

#define A 10 /* two committed transactions, the first one's data all overwritten */
#define B 20 /* an aborted transaction, then a committed one */
#define D 40 /* an aborted transaction that is its last batch */
#define E 50 /* idempotent, its only batch overwritten */

static ct_producer_t txn(int64_t pid, int32_t seq)
{
    return (ct_producer_t){ pid, 0, seq, true };
}

/* The batch read at `base`, NULL when there is none. */
static const ct_batch_t *batch_at(const ct_read_t *rd, int64_t base)
{
    for (size_t i = 0; i < rd->nb; i++)
        if (rd->b[i].base == base)
            return &rd->b[i];
    return NULL;
}

static bool has_horizon(const ct_batch_t *b)
{
    return (b->attributes & RN_BATCH_ATTR_DELETE_HORIZON) != 0;
}

/* No aborted transaction listed covers a retained record of its producer: every data batch of
 * the producer between the listed first offset and its abort marker is empty. Returns how many
 * are listed. */
static size_t check_aborted(rn_log_t *log, const ct_read_t *rd, rn_log_aborted_t *ab, size_t cap)
{
    int n = rn_log_aborted_txns(log, 0, INT64_MAX, ab, cap);
    cr_assert_geq(n, 0);
    cr_assert_leq((size_t)n, cap);
    for (int i = 0; i < n; i++) {
        bool ended = false;
        for (size_t k = 0; k < rd->nb && !ended; k++) {
            const ct_batch_t *b = &rd->b[k];
            if (b->pid != ab[i].producer_id || b->last < ab[i].first_offset)
                continue;
            if (b->attributes & RN_BATCH_ATTR_CONTROL) {
                ended = b->marker == RN_MARKER_ABORT;
                continue;
            }
            cr_assert_eq(b->count, 0, "aborted txn of %lld at %lld lists a batch with data at %lld",
                         (long long)ab[i].producer_id, (long long)ab[i].first_offset,
                         (long long)b->base);
        }
        cr_assert(ended, "the abort marker of %lld is kept", (long long)ab[i].producer_id);
    }
    return (size_t)n;
}

Test(cleaner_txn, aborted_data_markers_and_producers_last_batches)
{
    rn_log_config_t cfg = ct_config(1 << 20);
    rn_log_t *log = ct_open(dir, &cfg, true);
    const ct_kv_t k0_3[4] = { { 0, 0 }, { 1, 1 }, { 2, 2 }, { 3, 3 } };
    const ct_kv_t k4_7[4] = { { 4, 4 }, { 5, 5 }, { 6, 6 }, { 7, 7 } };
    const ct_kv_t k70[2] = { { 70, 70 }, { 71, 71 } }, k80 = { 80, 80 };
    const ct_kv_t k50[2] = { { 50, 50 }, { 51, 51 } }, k60 = { 60, 60 };
    const ct_kv_t k90[2] = { { 90, 90 }, { 91, 91 } };
    ct_append(log, NULL, txn(A, 0), k0_3, 4);
    int64_t mA1 = ct_marker(log, A, 0, true);
    int64_t offB1 = ct_append(log, NULL, txn(B, 0), k4_7, 4);
    int64_t mB1 = ct_marker(log, B, 0, false);
    int64_t offD = ct_append(log, NULL, txn(D, 0), k70, 2);
    ct_append(log, NULL, CT_PLAIN, &k80, 1); /* inside D's transaction, not part of it */
    int64_t mD = ct_marker(log, D, 0, false);
    ct_append(log, NULL, txn(A, 4), k50, 2);
    int64_t mA2 = ct_marker(log, A, 0, true);
    ct_append(log, NULL, txn(B, 4), &k60, 1);
    int64_t mB2 = ct_marker(log, B, 0, true);
    int64_t offE = ct_append(log, NULL, (ct_producer_t){ E, 0, 0, false }, k90, 2);
    ct_roll(log);
    const ct_kv_t over[6] = { { 0, 100 }, { 1, 101 },  { 2, 102 },
                              { 3, 103 }, { 90, 190 }, { 91, 191 } };
    ct_append(log, NULL, CT_PLAIN, over, 6);
    ct_roll(log);
    ct_tail(log);
    cr_assert_eq(rn_log_last_stable_offset(log), rn_log_high_watermark(log));
    rn_log_aborted_t ab[8];
    cr_assert_eq(rn_log_aborted_txns(log, 0, INT64_MAX, ab, 8), 2, "B's and D's");

    rn_log_cleaner_t *c = ct_cleaner(1 << 20, 0.9);
    rn_log_clean_stats_t st;
    ct_round(log, c, CT_NOW, &st);
    cr_assert_geq(st.aborted_dropped, 4);
    cr_assert_eq(st.markers_dropped, 0);
    ct_read_t rd;
    ct_read_all(log, &rd);
    for (int k = 4; k < 8; k++)
        cr_assert_eq(ct_find_key(&rd, k, NULL, 0), 0, "aborted key %d gone", k);
    cr_assert_eq(ct_find_key(&rd, 70, NULL, 0) + ct_find_key(&rd, 71, NULL, 0), 0);
    cr_assert_null(batch_at(&rd, offB1), "an aborted batch that is not B's last goes");
    cr_assert_null(batch_at(&rd, 0), "A's first batch, all overwritten and not its last, goes");
    const ct_batch_t *b = batch_at(&rd, offD);
    cr_assert_not_null(b, "D's last batch stays");
    cr_assert_eq(b->count, 0);
    cr_assert_eq(b->last, offD + 1);
    /* Every marker stays: each transaction's batches were seen in this pass (Kafka keeps a
     * commit marker while a batch of its transaction precedes it in the pass, even one the pass
     * empties, and an abort marker while one of its batches was observed). */
    cr_assert_not(has_horizon(batch_at(&rd, mA1)));
    cr_assert_not(has_horizon(batch_at(&rd, mB1)));
    cr_assert_not(has_horizon(batch_at(&rd, mD)));
    cr_assert_not(has_horizon(batch_at(&rd, mA2)));
    cr_assert_not(has_horizon(batch_at(&rd, mB2)));
    b = batch_at(&rd, offE);
    cr_assert_not_null(b, "E's last batch stays");
    cr_assert_eq(b->count, 0);
    cr_assert_eq(b->last, offE + 1);
    cr_assert_eq(b->base_seq, 0);
    for (int k = 0; k < 4; k++)
        cr_assert_eq(ct_find_key(&rd, k, NULL, 0), 1);
    cr_assert_eq(ct_find_key(&rd, 80, NULL, 0) + ct_find_key(&rd, 50, NULL, 0) +
                     ct_find_key(&rd, 51, NULL, 0) + ct_find_key(&rd, 60, NULL, 0),
                 4);
    cr_assert_eq(check_aborted(log, &rd, ab, 8), 2, "B's (marker kept) and D's");
    ct_assert_reads_everywhere(log, &rd);
    ct_read_free(&rd);

    /* The next round (new data makes one due) finds no batch of A's first or B's first
     * transaction: their markers get a horizon, and B's aborted transaction is no longer
     * listed. D's marker stays without one: its (empty) batch is still there. */
    ct_fill(log, NULL, 1, 3, 200, 3, 0);
    ct_roll(log);
    ct_tail(log);
    ct_round(log, c, CT_NOW + 1, &st);
    cr_assert_eq(st.markers_dropped, 0);
    ct_read_all(log, &rd);
    cr_assert(has_horizon(batch_at(&rd, mA1)));
    cr_assert_eq(batch_at(&rd, mA1)->base_timestamp, CT_NOW + 1 + CT_RETENTION);
    cr_assert(has_horizon(batch_at(&rd, mB1)));
    cr_assert_eq(batch_at(&rd, mB1)->base_timestamp, CT_NOW + 1 + CT_RETENTION);
    cr_assert_not(has_horizon(batch_at(&rd, mD)));
    cr_assert_not(has_horizon(batch_at(&rd, mA2)));
    cr_assert_not(has_horizon(batch_at(&rd, mB2)));
    cr_assert_eq(check_aborted(log, &rd, ab, 8), 1, "only D's is left");
    cr_assert_eq(ab[0].producer_id, D);
    cr_assert_eq(ab[0].first_offset, offD);
    ct_read_free(&rd);

    /* Before the horizon they stay; at it they go. */
    ct_fill(log, NULL, 1, 3, 300, 3, 0);
    ct_roll(log);
    ct_tail(log);
    ct_round(log, c, CT_NOW + CT_RETENTION, &st);
    cr_assert_eq(st.markers_dropped, 0);
    ct_fill(log, NULL, 1, 3, 400, 3, 0);
    ct_roll(log);
    ct_tail(log);
    ct_round(log, c, CT_NOW + 1 + CT_RETENTION, &st);
    cr_assert_eq(st.markers_dropped, 2);
    ct_read_all(log, &rd);
    cr_assert_null(batch_at(&rd, mA1));
    cr_assert_null(batch_at(&rd, mB1));
    cr_assert_not_null(batch_at(&rd, mD));
    cr_assert_not_null(batch_at(&rd, offD));
    cr_assert_not_null(batch_at(&rd, mA2));
    cr_assert_not_null(batch_at(&rd, mB2));
    cr_assert_not_null(batch_at(&rd, offE));
    cr_assert_eq(check_aborted(log, &rd, ab, 8), 1);
    ct_read_free(&rd);

    /* The producers' state comes back from the log alone (no snapshot): the empty batches
     * carry D's and E's sequences. */
    rn_log_close(log);
    ct_remove_snapshots(dir);
    log = ct_open(dir, &cfg, false);
    rn_log_producer_t ps[8];
    cr_assert_eq(rn_log_producers(log, ps, 8), 4);
    static const struct {
        int64_t pid;
        int32_t last_seq;
    } want[4] = { { A, 5 }, { B, 4 }, { D, 1 }, { E, 1 } };
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(ps[i].producer_id, want[i].pid);
        cr_assert_eq(ps[i].last_sequence, want[i].last_seq, "producer %lld: %d",
                     (long long)ps[i].producer_id, ps[i].last_sequence);
    }
    ct_read_all(log, &rd);
    cr_assert_eq(check_aborted(log, &rd, ab, 8), 1, "the cleaned .txnindex is on disk");
    cr_assert_eq(ab[0].producer_id, D);
    ct_read_free(&rd);
    /* E's retry of its emptied batch is still recognised. */
    rn_batch_builder_t bb;
    rn_batch_builder_init(&bb);
    rn_batch_builder_set_producer(&bb, E, 0, 0, 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(rn_batch_builder_add(&bb, 1000, (rn_bytes_t){ (const uint8_t *)"key90", 5 },
                                          (rn_bytes_t){ (const uint8_t *)"v90", 3 }),
                     0);
    uint8_t *p;
    size_t len;
    rn_records_summary_t sum;
    cr_assert_eq(rn_batch_builder_finish(&bb, &p, &len, &sum), 0);
    rn_log_appended_t a;
    cr_assert_eq(rn_log_append_batch(log, p, len, &sum, &a), 0);
    free(p);
    cr_assert(a.duplicate);
    cr_assert_eq(a.base_offset, offE);
    rn_log_cleaner_free(c);
    rn_log_close(log);
}

/* ---- crash safety at open ---- */

/* The log the crash tests start from, closed: three sealed segments and an active one. Segment
 * 0 has B's aborted transaction (its data goes in a round) and its commit; segment 1 has D's
 * aborted transaction (D's last batch: kept empty); the last batch before the active segment
 * has a key of its own, so a cleaned segment ends where the sealed ones end. */
static void prepare(const char *d, rn_log_config_t *cfg)
{
    *cfg = ct_config(1 << 20);
    rn_log_t *log = ct_open(d, cfg, true);
    const ct_kv_t k4_7[4] = { { 4, 4 }, { 5, 5 }, { 6, 6 }, { 7, 7 } }, k60 = { 60, 60 };
    const ct_kv_t k70[2] = { { 70, 70 }, { 71, 71 } }, k500 = { 500, 500 }, k600 = { 600, 600 };
    ct_append(log, NULL, txn(B, 0), k4_7, 4);
    ct_marker(log, B, 0, false);
    ct_fill(log, NULL, 2, 5, 0, 10, 0);
    ct_append(log, NULL, txn(B, 4), &k60, 1);
    ct_marker(log, B, 0, true);
    ct_roll(log);
    ct_append(log, NULL, txn(D, 0), k70, 2);
    ct_marker(log, D, 0, false);
    ct_fill(log, NULL, 2, 5, 0, 10, 100);
    ct_roll(log);
    ct_fill(log, NULL, 2, 5, 0, 10, 200);
    ct_append(log, NULL, CT_PLAIN, &k500, 1);
    ct_roll(log);
    ct_append(log, NULL, CT_PLAIN, &k600, 1);
    rn_log_close(log);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

Test(cleaner_txn, open_removes_cleaned_leftovers_and_orphan_index_swaps)
{
    rn_log_config_t cfg;
    prepare(dir, &cfg);
    rn_log_t *log = ct_open(dir, &cfg, true);
    ct_read_t before;
    ct_read_all(log, &before);
    rn_log_aborted_t ab[4];
    cr_assert_eq(rn_log_aborted_txns(log, 0, INT64_MAX, ab, 4), 2);
    rn_log_close(log);
    int nsegs = lt_count_segments(dir);
    int64_t seg1 = 0;
    for (size_t i = 0; i < before.nb; i++)
        if (before.b[i].pid == D) {
            seg1 = before.b[i].base;
            break;
        }
    cr_assert_gt(seg1, 0);

    /* A round that crashed while writing group 0's .cleaned files, after moving its index files
     * to .swap (but not its .log: not committed); and stray index swaps of segment 1. */
    static const char *const junk[] = { ".log.cleaned",      ".index.cleaned", ".timeindex.cleaned",
                                        ".txnindex.cleaned", ".index.swap",    ".timeindex.swap",
                                        ".txnindex.swap" };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        write_file(lt_seg_path(dir, 0, junk[i]), "not a segment");
    write_file(lt_seg_path(dir, seg1, ".log.cleaned"), "");
    write_file(lt_seg_path(dir, seg1, ".index.swap"), "");

    for (int clean = 1; clean >= 0; clean--) {
        log = ct_open(dir, &cfg, clean);
        cr_assert_not(ct_any_file_ending(dir, ".cleaned"));
        cr_assert_not(ct_any_file_ending(dir, ".swap"));
        cr_assert_eq(lt_count_segments(dir), nsegs);
        ct_read_t after;
        ct_read_all(log, &after);
        ct_assert_same(&after, &before);
        cr_assert_eq(rn_log_aborted_txns(log, 0, INT64_MAX, ab, 4), 2, "old .txnindex kept");
        ct_read_free(&after);
        rn_log_close(log);
    }
    ct_read_free(&before);
}

/* A crash after the commit point: `<0>.log.swap` (a copy of what a round made of the same log
 * elsewhere) beside the old segments it replaces. `txnindex_moved`: the crash came after the
 * cleaned .txnindex took its final name. */
static void complete_swap(bool txnindex_moved, bool clean)
{
    rn_log_config_t cfg;
    prepare(dir, &cfg);
    char *cleaned_dir = lt_tmpdir();
    lt_rmtree(cleaned_dir);
    lt_copydir(dir, cleaned_dir);
    rn_log_t *log = ct_open(cleaned_dir, &cfg, true);
    rn_log_cleaner_t *c = ct_cleaner(1 << 20, 0.9);
    rn_log_clean_stats_t st;
    ct_round(log, c, CT_NOW, &st);
    rn_log_cleaner_free(c);
    cr_assert_eq(st.segments_after, 1, "one group");
    cr_assert_eq(lt_count_segments(cleaned_dir), 2);
    ct_read_t want;
    ct_read_all(log, &want);
    /* Both aborted transactions are listed, now from the one cleaned .txnindex. */
    rn_log_aborted_t ab[4], want_ab[4];
    cr_assert_eq(rn_log_aborted_txns(log, 0, INT64_MAX, want_ab, 4), 2);
    cr_assert_eq(lt_file_size(lt_seg_path(cleaned_dir, 0, ".txnindex")),
                 2 * RN_TXN_INDEX_ENTRY_LEN);
    rn_log_close(log);

    char src[4096];
    snprintf(src, sizeof src, "%s", lt_seg_path(cleaned_dir, 0, ".log"));
    ct_copy_file(src, lt_seg_path(dir, 0, ".log.swap"));
    snprintf(src, sizeof src, "%s", lt_seg_path(cleaned_dir, 0, ".txnindex"));
    ct_copy_file(src, lt_seg_path(dir, 0, txnindex_moved ? ".txnindex" : ".txnindex.swap"));
    if (!txnindex_moved)
        write_file(lt_seg_path(dir, 0, ".index.swap"), "stale");
    lt_rmtree(cleaned_dir);
    free(cleaned_dir);
    cr_assert_eq(lt_count_segments(dir), 4);

    log = ct_open(dir, &cfg, clean);
    cr_assert_not(ct_any_file_ending(dir, ".swap"));
    cr_assert_eq(lt_count_segments(dir), 2, "the replaced segments are gone");
    ct_read_t got;
    ct_read_all(log, &got);
    ct_assert_same(&got, &want);
    ct_assert_reads_everywhere(log, &got);
    ct_assert_indexes_point_at_batches(dir);
    cr_assert_eq(rn_log_size_bytes(log), ct_log_bytes(dir));
    cr_assert_eq(rn_log_aborted_txns(log, 0, INT64_MAX, ab, 4), 2, "the cleaned .txnindex");
    cr_assert_arr_eq(ab, want_ab, sizeof ab[0] * 2);
    cr_assert_eq(ab[0].producer_id, B);
    cr_assert_eq(ab[1].producer_id, D);
    ct_read_free(&got);
    ct_read_free(&want);
    rn_log_close(log);
}

Test(cleaner_txn, open_completes_a_committed_swap)
{
    complete_swap(false, true);
}

Test(cleaner_txn, open_completes_a_swap_whose_txnindex_was_renamed)
{
    complete_swap(true, false);
}

/* POST /reset empties the internal topics with DeleteRecords, which keeps an open transaction
 * (as Kafka's does) and so the last stable offset; forgetting the producers frees it, also
 * across a restart. */
Test(cleaner_txn, forgetting_the_producers_frees_the_last_stable_offset)
{
    rn_log_config_t cfg = ct_config(1 << 20);
    rn_log_t *log = ct_open(dir, &cfg, true);
    const ct_kv_t k = { 1, 1 };
    ct_append(log, NULL, txn(A, 0), &k, 1); /* an open transaction at offset 0 */
    ct_append(log, NULL, CT_PLAIN, &k, 1);
    cr_assert_eq(rn_log_last_stable_offset(log), 0);
    cr_assert_eq(rn_log_delete_records(log, -1), 0);
    cr_assert_lt(rn_log_last_stable_offset(log), rn_log_high_watermark(log),
                 "DeleteRecords keeps the open transaction");
    rn_log_forget_producers(log);
    cr_assert_eq(rn_log_last_stable_offset(log), rn_log_high_watermark(log));
    rn_log_close(log);
    log = ct_open(dir, &cfg, false);
    cr_assert_eq(rn_log_last_stable_offset(log), rn_log_high_watermark(log), "after a restart");
    rn_log_close(log);
}
