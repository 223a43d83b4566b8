/* SPDX-License-Identifier: Apache-2.0 */
/* The log cleaner (cleaner.c, offset_map.c, swap.c) through log.h's compaction section: the
 * offset map; a round keeps exactly the last record of each key with offsets, indexes, the
 * active segment and the size in order; tombstones get a delete horizon and go after it; a
 * dedupe buffer too small for the dirty section; fetch ranges taken before a round; DeleteRecords
 * before, after and in the middle of a round; an aborted round. Transactions and crash recovery
 * are in test_cleaner_txn.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clean_helpers.h"
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

TestSuite(cleaner, .init = setup, .fini = teardown);

/* ---- the offset map ---- */

Test(cleaner, offset_map_puts_gets_and_overwrites)
{
    rn_offset_map_t m;
    cr_assert_eq(rn_offset_map_init(&m, 1 << 20, 100, 0.9), 0);
    cr_assert_eq(rn_offset_map_get(&m, "a", 1), -1);
    rn_offset_map_put(&m, "a", 1, 5);
    rn_offset_map_put(&m, "b", 1, 6);
    rn_offset_map_put(&m, "", 0, 7);
    cr_assert_eq(rn_offset_map_get(&m, "a", 1), 5);
    cr_assert_eq(rn_offset_map_get(&m, "b", 1), 6);
    cr_assert_eq(rn_offset_map_get(&m, "", 0), 7, "the empty key is a key");
    cr_assert_eq(rn_offset_map_get(&m, "ab", 2), -1);
    rn_offset_map_put(&m, "a", 1, 42);
    cr_assert_eq(rn_offset_map_get(&m, "a", 1), 42, "overwritten");
    cr_assert_eq(m.count, 3, "an overwrite takes no new slot");
    /* Many keys through wrap-around probing: all found, none confused. */
    char key[16];
    for (int i = 0; i < 80; i++)
        rn_offset_map_put(&m, key, (size_t)snprintf(key, sizeof key, "key-%d", i), 1000 + i);
    for (int i = 0; i < 80; i++)
        cr_assert_eq(rn_offset_map_get(&m, key, (size_t)snprintf(key, sizeof key, "key-%d", i)),
                     1000 + i);
    cr_assert_eq(m.count, 83);
    rn_offset_map_clear(&m);
    cr_assert_eq(m.count, 0);
    cr_assert_eq(m.latest_offset, -1);
    cr_assert_eq(rn_offset_map_get(&m, "a", 1), -1, "cleared");
    rn_offset_map_deinit(&m);
}

Test(cleaner, offset_map_is_full_at_the_load_factor)
{
    rn_offset_map_t m;
    /* 16 slots at most, half of them usable. */
    cr_assert_eq(rn_offset_map_init(&m, 16 * sizeof(rn_offset_slot_t), 1000, 0.5), 0);
    cr_assert_eq(m.nslots, 16);
    cr_assert_eq(m.max_count, 8);
    char key[16];
    for (int i = 0; i < 8; i++) {
        cr_assert_not(rn_offset_map_full(&m), "full after %d keys", i);
        rn_offset_map_put(&m, key, (size_t)snprintf(key, sizeof key, "k%d", i), i);
    }
    cr_assert(rn_offset_map_full(&m));
    rn_offset_map_put(&m, "new", 3, 99);
    cr_assert_eq(rn_offset_map_get(&m, "new", 3), -1, "a full map takes no new key");
    cr_assert_eq(m.count, 8);
    rn_offset_map_put(&m, "k3", 2, 33);
    cr_assert_eq(rn_offset_map_get(&m, "k3", 2), 33, "but still overwrites");
    for (int i = 0; i < 8; i++)
        if (i != 3)
            cr_assert_eq(rn_offset_map_get(&m, key, (size_t)snprintf(key, sizeof key, "k%d", i)),
                         i);
    rn_offset_map_deinit(&m);

    /* A load factor of 1 still leaves one slot empty, so probes for absent keys end. */
    cr_assert_eq(rn_offset_map_init(&m, 16 * sizeof(rn_offset_slot_t), 1000, 1.0), 0);
    cr_assert_eq(m.max_count, 15);
    for (int i = 0; i < 20; i++)
        rn_offset_map_put(&m, key, (size_t)snprintf(key, sizeof key, "k%d", i), i);
    cr_assert_eq(m.count, 15);
    cr_assert_eq(rn_offset_map_get(&m, "absent", 6), -1);
    rn_offset_map_deinit(&m);
}

Test(cleaner, offset_map_sizing_stays_within_max_bytes)
{
    static const struct {
        size_t max_bytes, want;
        double lf;
    } cases[] = {
        { 1 << 20, 100, 0.9 },  { 1 << 20, 1000000, 0.9 }, { 100 * 24, 10000, 0.9 },
        { 1000 * 24, 10, 0.5 }, { 4096 * 24, 4096, 0.75 }, { 17 * 24, 5, 0.9 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rn_offset_map_t m;
        cr_assert_eq(rn_offset_map_init(&m, cases[i].max_bytes, cases[i].want, cases[i].lf), 0);
        cr_assert_leq(m.nslots * sizeof(rn_offset_slot_t), cases[i].max_bytes, "case %zu", i);
        cr_assert_geq(m.nslots, 16);
        cr_assert_eq(m.nslots & (m.nslots - 1), 0, "a power of two");
        cr_assert_eq(m.max_count, (size_t)((double)m.nslots * cases[i].lf), "case %zu", i);
        /* Big enough for what was wanted when the bytes allow it, and not much bigger. */
        size_t fits = (size_t)((double)(cases[i].max_bytes / sizeof(rn_offset_slot_t)) * 0.5);
        if (cases[i].want <= fits * cases[i].lf)
            cr_assert_geq(m.max_count, cases[i].want, "case %zu", i);
        if (m.nslots > 16)
            cr_assert_lt((double)m.nslots / 2 * cases[i].lf, (double)cases[i].want + 1,
                         "case %zu: no bigger than needed", i);
        rn_offset_map_deinit(&m);
    }
}

/* ---- compaction ---- */

/* What a round over [0, end) from the log start keeps of `m`: the last record of each key below
 * end, and everything from end on. */
static void expect_compacted(const ct_read_t *rd, const ct_model_t *m, int64_t end)
{
    size_t j = 0;
    for (size_t i = 0; i < m->n; i++) {
        bool keep = true;
        for (size_t k = i + 1; m->offset[i] < end && k < m->n && m->offset[k] < end; k++)
            if (m->kv[k].key == m->kv[i].key)
                keep = false;
        if (!keep)
            continue;
        cr_assert_lt(j, rd->nr, "record %lld missing", (long long)m->offset[i]);
        cr_assert_eq(rd->r[j].offset, m->offset[i], "record %zu at %lld, want %lld", j,
                     (long long)rd->r[j].offset, (long long)m->offset[i]);
        cr_assert_eq(rd->r[j].key, m->kv[i].key);
        cr_assert_eq(rd->r[j].val, m->kv[i].val);
        j++;
    }
    cr_assert_eq(j, rd->nr, "%zu records read, %zu expected", rd->nr, j);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    int64_t size = lt_file_size(path);
    cr_assert_geq(size, 0, "%s", path);
    uint8_t *buf = malloc((size_t)size + 1);
    int fd = open(path, O_RDONLY);
    cr_assert_eq(read(fd, buf, (size_t)size), size);
    close(fd);
    *len = (size_t)size;
    return buf;
}

Test(cleaner, a_round_keeps_the_last_record_of_each_key)
{
    rn_log_config_t cfg = ct_config(1024);
    rn_log_t *log = ct_open(dir, &cfg, true);
    ct_model_t m = { 0 };
    ct_fill(log, &m, 60, 5, 0, 17, 0);
    int nsegs = lt_count_segments(dir);
    cr_assert_geq(nsegs, 8, "many segments");
    int64_t active = ct_last_base(dir), size_before = rn_log_size_bytes(log);
    size_t active_len;
    uint8_t *active_bytes = slurp(lt_seg_path(dir, active, ".log"), &active_len);
    cr_assert_gt(active_len, 0);

    rn_log_cleanable_t plan;
    cr_assert(rn_log_cleanable(log, CT_NOW, &plan));
    cr_assert_eq(plan.first_dirty, 0);
    cr_assert_eq(plan.first_uncleanable, active);
    cr_assert_eq(plan.clean_bytes, 0);
    cr_assert_eq(plan.dirty_bytes, size_before - (int64_t)active_len);
    cr_assert_not(plan.must_clean);

    rn_log_cleaner_t *c = ct_cleaner(1 << 20, 0.9);
    rn_log_clean_stats_t st;
    cr_assert_eq(rn_log_clean(log, c, &plan, CT_NOW, &st), 0);
    cr_assert_eq(st.end_offset, active, "everything below the active segment mapped");
    /* Groups go by the sizes before cleaning (Kafka's groupSegmentsBySize): full segments are
     * cleaned one by one, and merged by the next round. */
    cr_assert_eq(st.segments_before, nsegs - 1);
    cr_assert_leq(st.segments_after, st.segments_before);
    cr_assert_gt(st.segments_after, 1, "more than one group (segment.bytes 1024)");
    cr_assert_eq(lt_count_segments(dir), st.segments_after + 1);
    cr_assert_eq(st.map_entries, 17);
    cr_assert_eq(st.tombstones_dropped + st.aborted_dropped + st.markers_dropped, 0);

    ct_read_t rd;
    ct_read_all(log, &rd);
    expect_compacted(&rd, &m, active);
    for (int k = 0; k < 17; k++)
        cr_assert_geq(ct_find_key(&rd, k, NULL, 0), 1, "key %d kept", k);
    cr_assert_eq(rn_log_high_watermark(log), 300);

    /* The active segment is untouched; the size shrank and matches the files. */
    size_t after_len;
    uint8_t *after = slurp(lt_seg_path(dir, active, ".log"), &after_len);
    cr_assert_eq(after_len, active_len);
    cr_assert_arr_eq(after, active_bytes, active_len);
    free(after);
    free(active_bytes);
    cr_assert_lt(rn_log_size_bytes(log), size_before);
    cr_assert_eq(rn_log_size_bytes(log), ct_log_bytes(dir));
    cr_assert_not(ct_any_file_ending(dir, ".cleaned"));
    cr_assert_not(ct_any_file_ending(dir, ".swap"));

    /* Reads land on the next batch anywhere in the gaps, and the indexes are right. */
    ct_assert_reads_everywhere(log, &rd);
    ct_assert_indexes_point_at_batches(dir);

    /* Checkpointed at the end: nothing more to do until new data comes. */
    rn_log_set_cleaner_checkpoint(log, st.end_offset);
    cr_assert_not(rn_log_cleanable(log, CT_NOW, &plan));
    cr_assert_eq(plan.first_dirty, active);
    cr_assert_eq(plan.dirty_bytes, 0);

    /* New data and a second round: the small cleaned segments are merged. */
    ct_fill(log, &m, 30, 5, 0, 17, 1000);
    nsegs = lt_count_segments(dir);
    ct_round(log, c, CT_NOW, &st);
    cr_assert_lt(lt_count_segments(dir), nsegs - 2, "merged: %d segments, were %d",
                 lt_count_segments(dir), nsegs);
    cr_assert_lt(st.segments_after, st.segments_before);
    ct_read_free(&rd);
    ct_read_all(log, &rd);
    expect_compacted(&rd, &m, st.end_offset);
    ct_assert_reads_everywhere(log, &rd);
    ct_assert_indexes_point_at_batches(dir);
    cr_assert_eq(rn_log_size_bytes(log), ct_log_bytes(dir));

    /* The cleaned log reopens the same, clean or recovered. */
    for (int clean = 1; clean >= 0; clean--) {
        rn_log_close(log);
        log = ct_open(dir, &cfg, clean);
        ct_read_t again;
        ct_read_all(log, &again);
        ct_assert_same(&again, &rd);
        ct_assert_reads_everywhere(log, &again);
        ct_read_free(&again);
    }
    ct_read_free(&rd);
    ct_model_free(&m);
    rn_log_cleaner_free(c);
    rn_log_close(log);
}

/* Records of `key` read: exactly one, with value `val`; returns its batch. */
static const ct_batch_t *only(const ct_read_t *rd, int key, int val)
{
    const ct_rec_t *r[4];
    cr_assert_eq(ct_find_key(rd, key, r, 4), 1, "one record of key %d", key);
    cr_assert_eq(r[0]->val, val, "key %d: value %d, want %d", key, r[0]->val, val);
    return &rd->b[r[0]->batch];
}

Test(cleaner, tombstones_get_a_delete_horizon_and_go_after_it)
{
    rn_log_config_t cfg = ct_config(1 << 20);
    rn_log_t *log = ct_open(dir, &cfg, true);
    ct_fill(log, NULL, 2, 5, 0, 10, 0); /* keys 0..9 = values 0..9 */
    ct_kv_t mixed[6] = { { 0, -1 }, { 1, -1 }, { 2, -1 }, { 3, -1 }, { 4, -1 }, { 10, 100 } };
    ct_append(log, NULL, CT_PLAIN, mixed, 6);
    ct_roll(log);
    ct_fill(log, NULL, 1, 5, 100, 5, 0);
    ct_roll(log);

    rn_log_cleaner_t *c = ct_cleaner(1 << 20, 0.9);
    rn_log_clean_stats_t st;
    ct_round(log, c, CT_NOW, &st);
    cr_assert_eq(st.tombstones_dropped, 0);
    ct_read_t rd;
    ct_read_all(log, &rd);
    for (int k = 0; k < 5; k++) {
        const ct_batch_t *b = only(&rd, k, -1);
        cr_assert(b->attributes & RN_BATCH_ATTR_DELETE_HORIZON, "key %d: horizon bit", k);
        cr_assert_eq(b->base_timestamp, CT_NOW + CT_RETENTION);
    }
    for (int k = 5; k < 10; k++) {
        const ct_batch_t *b = only(&rd, k, k);
        cr_assert_not(b->attributes & RN_BATCH_ATTR_DELETE_HORIZON, "no tombstone, no horizon");
    }
    only(&rd, 10, 100);
    ct_read_free(&rd);

    /* A later round before the horizon keeps them and their horizon. */
    ct_fill(log, NULL, 1, 5, 200, 5, 0);
    ct_roll(log);
    ct_round(log, c, CT_NOW + CT_RETENTION - 1, &st);
    cr_assert_eq(st.tombstones_dropped, 0);
    ct_read_all(log, &rd);
    for (int k = 0; k < 5; k++)
        cr_assert_eq(only(&rd, k, -1)->base_timestamp, CT_NOW + CT_RETENTION, "not restamped");
    ct_read_free(&rd);

    /* At the horizon they go; everything else stays. */
    ct_fill(log, NULL, 1, 5, 300, 5, 0);
    ct_roll(log);
    ct_round(log, c, CT_NOW + CT_RETENTION, &st);
    cr_assert_eq(st.tombstones_dropped, 5);
    ct_read_all(log, &rd);
    for (int k = 0; k < 5; k++)
        cr_assert_eq(ct_find_key(&rd, k, NULL, 0), 0, "key %d deleted", k);
    for (int k = 5; k < 10; k++)
        only(&rd, k, k);
    only(&rd, 10, 100);
    for (int k = 0; k < 5; k++) {
        only(&rd, 100 + k, k);
        only(&rd, 200 + k, k);
        only(&rd, 300 + k, k);
    }
    ct_assert_reads_everywhere(log, &rd);
    ct_read_free(&rd);
    rn_log_cleaner_free(c);
    rn_log_close(log);
}

/* Rounds until none is due; returns how many ran. Every round must get further. */
static int rounds_until_clean(rn_log_t *log, rn_log_cleaner_t *c)
{
    rn_log_cleanable_t plan;
    int n = 0;
    while (rn_log_cleanable(log, CT_NOW, &plan)) {
        cr_assert_lt(n++, 40, "too many rounds");
        rn_log_clean_stats_t st;
        ct_round(log, c, CT_NOW, &st);
    }
    return n;
}

Test(cleaner, a_small_dedupe_buffer_cleans_in_several_rounds)
{
    rn_log_config_t cfg = ct_config(1 << 20);
    rn_log_t *log = ct_open(dir, &cfg, true);
    ct_fill(log, NULL, 10, 4, 0, 40, 0); /* keys 0..39 at offsets 0..39 */
    ct_roll(log);
    ct_fill(log, NULL, 10, 4, 0, 40, 100); /* again, values 100..139 at 40..79 */
    ct_roll(log);
    ct_tail(log); /* offset 80 */
    /* 16 slots at load factor 0.5: 8 keys a round. */
    rn_log_cleaner_t *c = ct_cleaner(16 * sizeof(rn_offset_slot_t), 0.5);
    rn_log_cleanable_t plan;
    cr_assert(rn_log_cleanable(log, CT_NOW, &plan));
    cr_assert_eq(plan.first_uncleanable, 80);
    rn_log_clean_stats_t st;
    cr_assert_eq(rn_log_clean(log, c, &plan, CT_NOW, &st), 0);
    cr_assert_eq(st.end_offset, 8, "two batches of four keys fill the map");
    cr_assert_eq(st.map_entries, 8);
    rn_log_set_cleaner_checkpoint(log, st.end_offset);
    ct_read_t rd;
    ct_read_all(log, &rd);
    cr_assert_eq(rd.nr, 81, "nothing below the end of the map was superseded yet");
    ct_read_free(&rd);

    int n = rounds_until_clean(log, c);
    cr_assert_geq(n, 8, "%d more rounds", n);
    ct_read_all(log, &rd);
    cr_assert_eq(rd.nr, 41, "the 40 keys' last values and the tail");
    for (int k = 0; k < 40; k++)
        only(&rd, k, 100 + k);
    ct_assert_reads_everywhere(log, &rd);
    ct_read_free(&rd);
    rn_log_cleaner_free(c);
    rn_log_close(log);
}

/* One batch with more keys than the map holds: Kafka's map stops in the middle of the batch
 * (latestOffset is the last record put) and the round goes on from there. */
Test(cleaner, a_batch_with_more_keys_than_the_map_holds)
{
    rn_log_config_t cfg = ct_config(1 << 20);
    rn_log_t *log = ct_open(dir, &cfg, true);
    ct_fill(log, NULL, 1, 12, 0, 12, 0);
    ct_fill(log, NULL, 1, 12, 0, 12, 100);
    ct_roll(log);
    ct_tail(log);
    rn_log_cleaner_t *c = ct_cleaner(16 * sizeof(rn_offset_slot_t), 0.5);
    rn_log_cleanable_t plan;
    cr_assert(rn_log_cleanable(log, CT_NOW, &plan));
    rn_log_clean_stats_t st;
    int err = rn_log_clean(log, c, &plan, CT_NOW, &st);
    cr_assert_eq(err, 0, "clean: %d", err);
    cr_assert_eq(st.end_offset, 8, "inside the first batch, after the eighth key");
    rn_log_set_cleaner_checkpoint(log, st.end_offset);
    cr_assert_geq(rounds_until_clean(log, c), 2);
    ct_read_t rd;
    ct_read_all(log, &rd);
    cr_assert_eq(rd.nr, 13, "12 keys' last values and the tail");
    for (int k = 0; k < 12; k++)
        only(&rd, k, 100 + k);
    ct_read_free(&rd);
    rn_log_cleaner_free(c);
    rn_log_close(log);
}

Test(cleaner, a_fetch_range_taken_before_a_round_stays_readable)
{
    rn_log_config_t cfg = ct_config(1024);
    rn_log_t *log = ct_open(dir, &cfg, true);
    ct_fill(log, NULL, 40, 5, 0, 10, 0);
    rn_log_slice_t s0, s1;
    cr_assert_eq(rn_log_read(log, 0, 1 << 20, &s0), 0);
    uint8_t *b0 = lt_read_range(&s0.range);
    rn_batch_header_t h;
    /* The last batch of the first segment, then the second segment. */
    size_t pos = 0, last = 0;
    while (pos < s0.range.len) {
        cr_assert_eq(rn_batch_parse_header(b0 + pos, s0.range.len - pos, &h), RN_DECODE_OK);
        last = pos;
        pos += rn_batch_size(&h);
    }
    (void)last;
    cr_assert_eq(rn_log_read(log, h.base_offset + h.last_offset_delta + 1, 1 << 20, &s1), 0);
    uint8_t *b1 = lt_read_range(&s1.range);
    cr_assert_gt(s1.range.len, 0);

    rn_log_cleaner_t *c = ct_cleaner(1 << 20, 0.9);
    rn_log_clean_stats_t st;
    ct_round(log, c, CT_NOW, &st);
    cr_assert_lt(lt_file_size(lt_seg_path(dir, 0, ".log")), (int64_t)s0.range.len, "replaced");

    uint8_t *again0 = lt_read_range(&s0.range), *again1 = lt_read_range(&s1.range);
    cr_assert_arr_eq(again0, b0, s0.range.len, "the replaced file is still readable");
    cr_assert_arr_eq(again1, b1, s1.range.len, "the deleted file too");
    free(again0);
    free(again1);
    free(b0);
    free(b1);
    s0.range.release(s0.range.owner);
    s1.range.release(s1.range.owner);
    rn_log_cleaner_free(c);
    rn_log_close(log);
}

/* The model's records at or after `from` that a fully compacted log below `bound` keeps: each
 * key's last record, and everything from bound on. */
static void expect_latest(const ct_read_t *rd, const ct_model_t *m, int64_t from, int64_t bound)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->offset[i] < from)
            continue;
        bool last = true;
        for (size_t k = i + 1; k < m->n && m->offset[k] < bound; k++)
            if (m->kv[k].key == m->kv[i].key)
                last = false;
        const ct_rec_t *r[64];
        size_t n = ct_find_key(rd, m->kv[i].key, r, 64);
        bool found = false;
        for (size_t j = 0; j < n && j < 64; j++)
            found |= r[j]->offset == m->offset[i] && r[j]->val == m->kv[i].val;
        if (last || m->offset[i] >= bound)
            cr_assert(found, "record %lld kept", (long long)m->offset[i]);
        else
            cr_assert_not(found, "record %lld gone", (long long)m->offset[i]);
    }
    for (size_t j = 0; j < rd->nr; j++)
        cr_assert_geq(rd->r[j].offset, from);
}

Test(cleaner, delete_records_after_a_round_and_a_round_after_delete_records)
{
    rn_log_config_t cfg = ct_config(1024);
    rn_log_t *log = ct_open(dir, &cfg, true);
    ct_model_t m = { 0 };
    ct_fill(log, &m, 4, 5, 1000, 20, 1000); /* unique keys first */
    ct_fill(log, &m, 40, 5, 0, 10, 0);
    rn_log_cleaner_t *c = ct_cleaner(1 << 20, 0.9);
    rn_log_clean_stats_t st;
    ct_round(log, c, CT_NOW, &st);
    int64_t bound = st.end_offset;

    /* DeleteRecords into the middle of the cleaned segment. */
    int64_t x = 7;
    cr_assert_eq(rn_log_delete_records(log, x), 0);
    cr_assert_eq(rn_log_start_offset(log), x);
    ct_read_t rd;
    ct_read_all(log, &rd);
    expect_latest(&rd, &m, x, bound);
    ct_assert_reads_everywhere(log, &rd);
    ct_read_free(&rd);

    /* More data, another round from the checkpoint, then DeleteRecords past the cleaned part
     * and a round after that (the checkpoint is then below the log start). */
    ct_fill(log, &m, 40, 5, 0, 10, 500);
    ct_round(log, c, CT_NOW, &st);
    bound = st.end_offset;
    ct_read_all(log, &rd);
    expect_latest(&rd, &m, x, bound);
    ct_read_free(&rd);
    int64_t y = bound + 3;
    ct_fill(log, &m, 40, 5, 0, 10, 900);
    cr_assert_eq(rn_log_delete_records(log, y), 0);
    rn_log_cleanable_t plan;
    cr_assert(rn_log_cleanable(log, CT_NOW, &plan));
    cr_assert_eq(plan.first_dirty, y, "a checkpoint below the log start starts there");
    cr_assert_eq(rn_log_clean(log, c, &plan, CT_NOW, &st), 0);
    cr_assert_eq(rn_log_start_offset(log), y);
    ct_read_all(log, &rd);
    expect_latest(&rd, &m, y, st.end_offset);
    ct_assert_reads_everywhere(log, &rd);
    ct_read_free(&rd);
    ct_model_free(&m);
    rn_log_cleaner_free(c);
    rn_log_close(log);
}

/* DeleteRecords while a round is reading (from the cleaner's throttle callback): the round
 * cannot swap its first group in any more and leaves the log as it was. */
typedef struct midway {
    rn_log_t *log;
    int64_t offset;
    int calls;
    bool abort;
} midway_t;

static void delete_midway(void *arg, size_t bytes)
{
    midway_t *mw = arg;
    (void)bytes;
    if (mw->calls++ == 0)
        cr_assert_eq(rn_log_delete_records(mw->log, mw->offset), 0);
}

static bool abort_midway(void *arg)
{
    midway_t *mw = arg;
    return mw->abort && mw->calls++ > 3;
}

Test(cleaner, delete_records_during_a_round)
{
    rn_log_config_t cfg = ct_config(1024);
    rn_log_t *log = ct_open(dir, &cfg, true);
    ct_model_t m = { 0 };
    ct_fill(log, &m, 40, 5, 0, 10, 0);
    rn_log_slice_t s;
    cr_assert_eq(rn_log_read(log, 0, 1 << 20, &s), 0);
    int64_t second = 0; /* the second segment's base */
    {
        uint8_t *b = lt_read_range(&s.range);
        rn_batch_header_t h;
        for (size_t pos = 0; pos < s.range.len; pos += rn_batch_size(&h))
            cr_assert_eq(rn_batch_parse_header(b + pos, s.range.len - pos, &h), RN_DECODE_OK);
        second = h.base_offset + h.last_offset_delta + 1;
        free(b);
        s.range.release(s.range.owner);
    }
    midway_t mw = { .log = log, .offset = second + 1 };
    rn_log_cleaner_options_t opt = {
        .dedupe_bytes = 1 << 20, .load_factor = 0.9, .throttle = delete_midway, .arg = &mw
    };
    rn_log_cleaner_t *c = rn_log_cleaner_new(&opt);
    rn_log_cleanable_t plan;
    cr_assert(rn_log_cleanable(log, CT_NOW, &plan));
    rn_log_clean_stats_t st;
    cr_assert_eq(rn_log_clean(log, c, &plan, CT_NOW, &st), -ESTALE);
    cr_assert_gt(mw.calls, 0);
    cr_assert_eq(rn_log_start_offset(log), second + 1);
    cr_assert_not(ct_any_file_ending(dir, ".cleaned"));
    cr_assert_not(ct_any_file_ending(dir, ".swap"));
    ct_read_t rd;
    ct_read_all(log, &rd);
    expect_latest(&rd, &m, second + 1, second + 1); /* nothing cleaned */
    ct_read_free(&rd);
    rn_log_cleaner_free(c);

    /* An aborted round changes nothing either; the next one works. */
    mw = (midway_t){ .log = log, .abort = true };
    opt = (rn_log_cleaner_options_t){
        .dedupe_bytes = 1 << 20, .load_factor = 0.9, .aborted = abort_midway, .arg = &mw
    };
    c = rn_log_cleaner_new(&opt);
    cr_assert(rn_log_cleanable(log, CT_NOW, &plan));
    cr_assert_eq(rn_log_clean(log, c, &plan, CT_NOW, &st), -ECANCELED);
    cr_assert_not(ct_any_file_ending(dir, ".cleaned"));
    ct_read_all(log, &rd);
    expect_latest(&rd, &m, second + 1, second + 1);
    ct_read_free(&rd);
    mw.abort = false;
    ct_round(log, c, CT_NOW, &st);
    ct_read_all(log, &rd);
    expect_latest(&rd, &m, second + 1, st.end_offset);
    ct_assert_reads_everywhere(log, &rd);
    ct_read_free(&rd);
    ct_model_free(&m);
    rn_log_cleaner_free(c);
    rn_log_close(log);
}

/* segment.ms rolls a segment that stopped receiving appends, which Kafka does not (it rolls on
 * an append): the empty active segment that leaves must not make the segment with the log's
 * last batch cleanable, or a round could take that batch away and leave readers short of the
 * high watermark with nothing to read. */
Test(cleaner, an_idle_roll_leaves_the_last_batch_uncleaned)
{
    rn_log_config_t cfg = ct_config(1 << 20);
    rn_log_t *log = ct_open(dir, &cfg, true);
    ct_fill(log, NULL, 4, 1, 0, 2, 0); /* keys 0, 1, 0, 1 at offsets 0..3 */
    ct_roll(log);
    rn_log_cleanable_t plan;
    cr_assert_not(rn_log_cleanable(log, CT_NOW, &plan));
    cr_assert_eq(plan.first_uncleanable, 0);
    cr_assert_eq(plan.dirty_bytes, 0);
    /* An empty segment never rolls: nothing changes. */
    cr_assert_eq(rn_log_maintain(log, rn_clock_wall_ms() + 60LL * 86400000), 0);
    cr_assert_not(rn_log_cleanable(log, CT_NOW, &plan));
    ct_tail(log); /* an append: now the active segment holds the last batch, as in Kafka */
    cr_assert(rn_log_cleanable(log, CT_NOW, &plan));
    cr_assert_eq(plan.first_uncleanable, 4);
    rn_log_close(log);
}

/* A round asked for now (POST /topics/NAME/compact) cleans the segment with the log's last
 * batch too; that batch stays, emptied if need be, so a reader still gets to the log end: here
 * a tombstone at the end, past its delete horizon on the second round. */
Test(cleaner, a_round_asked_for_keeps_the_last_batch_so_readers_reach_the_end)
{
    rn_log_config_t cfg = ct_config(1 << 20);
    cfg.delete_retention_ms = 0;
    rn_log_t *log = ct_open(dir, &cfg, true);
    ct_fill(log, NULL, 4, 1, 0, 2, 0); /* keys 0, 1, 0, 1 at offsets 0..3 */
    const ct_kv_t tomb = { 1, -1 };
    int64_t last = ct_append(log, NULL, CT_PLAIN, &tomb, 1); /* offset 4 */
    cr_assert_eq(rn_log_roll(log), 0);
    rn_log_cleaner_t *c = ct_cleaner(1 << 20, 0.9);
    for (int round = 0; round < 2; round++) {
        rn_log_cleanable_t plan;
        cr_assert(rn_log_cleanable_now(log, CT_NOW + round, &plan), "round %d", round);
        cr_assert_eq(plan.first_uncleanable, 5, "up to the (empty) active segment");
        rn_log_clean_stats_t st;
        cr_assert_eq(rn_log_clean(log, c, &plan, CT_NOW + round, &st), 0);
        rn_log_set_cleaner_checkpoint(log, round == 0 ? 0 : st.end_offset);
    }
    ct_read_t rd;
    ct_read_all(log, &rd);
    cr_assert_eq(ct_find_key(&rd, 1, NULL, 0), 0, "the tombstone is gone");
    cr_assert_eq(ct_find_key(&rd, 0, NULL, 0), 1);
    cr_assert_geq(rd.nb, 2);
    cr_assert_eq(rd.b[rd.nb - 1].last, last, "the last batch stays, empty");
    cr_assert_eq(rd.b[rd.nb - 1].count, 0);
    ct_assert_reads_everywhere(log, &rd);
    ct_read_free(&rd);
    rn_log_cleaner_free(c);
    rn_log_close(log);
}
