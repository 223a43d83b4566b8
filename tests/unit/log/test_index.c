/* SPDX-License-Identifier: Apache-2.0 */
/* rn_index_t: Kafka's .index and .timeindex formats, lookups, preallocation and trimming, and
 * how a file a crash left untrimmed is read back. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"
#include "log/internal.h"

static char *dir;
static char path[4096];

static void setup(void)
{
    dir = lt_tmpdir();
    snprintf(path, sizeof(path), "%s/00000000000000000000.index", dir);
}

static void teardown(void)
{
    lt_rmtree(dir);
    free(dir);
}

TestSuite(index, .init = setup, .fini = teardown);

Test(index, writable_index_is_preallocated_and_sealing_trims_it)
{
    rn_index_t idx;
    cr_assert_eq(rn_index_open(&idx, path, RN_OFFSET_INDEX_ENTRY_LEN, 1000,
                               RN_INDEX_CREATE | RN_INDEX_WRITABLE),
                 0);
    cr_assert_eq(lt_file_size(path), 1000 / 8 * 8, "preallocated to max_index_bytes rounded down");
    cr_assert_eq(rn_index_entries(&idx), 0);
    cr_assert_eq(rn_index_append_offset(&idx, 10, 4100), 0);
    cr_assert_eq(rn_index_append_offset(&idx, 20, 8300), 0);
    cr_assert_eq(rn_index_seal(&idx), 0);
    cr_assert_eq(lt_file_size(path), 16);
    cr_assert_eq(rn_index_append_offset(&idx, 30, 9000), -ENOSPC,
                 "a sealed index takes no entries");
    rn_index_close(&idx);
}

/* An index holds no descriptor and opens its file to fsync it. A segment the cleaner replaced
 * or retention removed may still be synced by a flush that took it before; its files are gone,
 * and that is no error (an error would take the partition offline). */
Test(index, syncing_an_index_whose_file_was_removed_is_no_error)
{
    rn_index_t idx;
    cr_assert_eq(rn_index_open(&idx, path, RN_OFFSET_INDEX_ENTRY_LEN, 1000,
                               RN_INDEX_CREATE | RN_INDEX_WRITABLE),
                 0);
    cr_assert_eq(rn_index_append_offset(&idx, 10, 4100), 0);
    cr_assert_eq(rn_index_seal(&idx), 0);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(rn_index_sync(&idx), 0);
    rn_index_close(&idx);
}

Test(index, entries_are_big_endian_as_kafka_writes_them)
{
    rn_index_t idx;
    cr_assert_eq(rn_index_open(&idx, path, RN_OFFSET_INDEX_ENTRY_LEN, 64,
                               RN_INDEX_CREATE | RN_INDEX_WRITABLE),
                 0);
    cr_assert_eq(rn_index_append_offset(&idx, 0x01020304, 0x0a0b0c0d), 0);
    rn_index_seal(&idx);
    rn_index_close(&idx);
    FILE *f = fopen(path, "rb");
    uint8_t b[8];
    cr_assert_eq(fread(b, 1, 8, f), 8);
    fclose(f);
    uint8_t want[8] = { 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d };
    cr_assert_arr_eq(b, want, 8);

    char tpath[4096];
    snprintf(tpath, sizeof(tpath), "%s/00000000000000000000.timeindex", dir);
    cr_assert_eq(rn_index_open(&idx, tpath, RN_TIME_INDEX_ENTRY_LEN, 64,
                               RN_INDEX_CREATE | RN_INDEX_WRITABLE),
                 0);
    cr_assert_eq(rn_index_append_time(&idx, 0x0102030405060708LL, 0x11223344), 0);
    rn_index_seal(&idx);
    rn_index_close(&idx);
    uint8_t t[12];
    f = fopen(tpath, "rb");
    cr_assert_eq(fread(t, 1, 12, f), 12);
    fclose(f);
    uint8_t twant[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x22, 0x33, 0x44 };
    cr_assert_arr_eq(t, twant, 12);
}

Test(index, offset_lookup_finds_the_largest_entry_at_or_below)
{
    rn_index_t idx;
    cr_assert_eq(rn_index_open(&idx, path, RN_OFFSET_INDEX_ENTRY_LEN, 4096,
                               RN_INDEX_CREATE | RN_INDEX_WRITABLE),
                 0);
    cr_assert_eq(rn_index_lookup_offset(&idx, 5), 0, "empty index: the segment start");
    for (uint32_t i = 1; i <= 100; i++)
        cr_assert_eq(rn_index_append_offset(&idx, i * 10, i * 1000), 0);
    cr_assert_eq(rn_index_lookup_offset(&idx, 0), 0);
    cr_assert_eq(rn_index_lookup_offset(&idx, 9), 0);
    cr_assert_eq(rn_index_lookup_offset(&idx, 10), 1000);
    cr_assert_eq(rn_index_lookup_offset(&idx, 19), 1000);
    cr_assert_eq(rn_index_lookup_offset(&idx, 555), 55000);
    cr_assert_eq(rn_index_lookup_offset(&idx, 1000), 100000);
    cr_assert_eq(rn_index_lookup_offset(&idx, UINT32_MAX), 100000);
    rn_index_close(&idx);
}

Test(index, time_lookup_is_strictly_below_the_target)
{
    rn_index_t idx;
    cr_assert_eq(rn_index_open(&idx, path, RN_TIME_INDEX_ENTRY_LEN, 4096,
                               RN_INDEX_CREATE | RN_INDEX_WRITABLE),
                 0);
    cr_assert_eq(rn_index_lookup_time(&idx, 1000), -1);
    cr_assert_eq(rn_index_append_time(&idx, 1000, 5), 0);
    cr_assert_eq(rn_index_append_time(&idx, 2000, 15), 0);
    cr_assert_eq(rn_index_append_time(&idx, 3000, 25), 0);
    cr_assert_eq(rn_index_lookup_time(&idx, 1000), -1,
                 "an equal timestamp may have earlier records");
    cr_assert_eq(rn_index_lookup_time(&idx, 1001), 5);
    cr_assert_eq(rn_index_lookup_time(&idx, 3000), 15);
    cr_assert_eq(rn_index_lookup_time(&idx, 99999), 25);
    rn_index_close(&idx);
}

Test(index, a_full_index_refuses_entries)
{
    rn_index_t idx;
    cr_assert_eq(rn_index_open(&idx, path, RN_OFFSET_INDEX_ENTRY_LEN, 20,
                               RN_INDEX_CREATE | RN_INDEX_WRITABLE),
                 0);
    cr_assert(rn_index_has_room(&idx, 2));
    cr_assert_not(rn_index_has_room(&idx, 3));
    cr_assert_eq(rn_index_append_offset(&idx, 1, 1), 0);
    cr_assert_eq(rn_index_append_offset(&idx, 2, 2), 0);
    cr_assert_eq(rn_index_append_offset(&idx, 3, 3), -ENOSPC);
    cr_assert_eq(rn_index_entries(&idx), 2);
    rn_index_close(&idx);
}

Test(index, reopening_counts_entries_and_ignores_an_untrimmed_zero_tail)
{
    rn_index_t idx;
    cr_assert_eq(rn_index_open(&idx, path, RN_OFFSET_INDEX_ENTRY_LEN, 8000,
                               RN_INDEX_CREATE | RN_INDEX_WRITABLE),
                 0);
    for (uint32_t i = 1; i <= 37; i++)
        rn_index_append_offset(&idx, i, i * 100);
    rn_index_close(&idx); /* no seal: as after a crash */
    cr_assert_eq(lt_file_size(path), 8000);

    cr_assert_eq(rn_index_open(&idx, path, RN_OFFSET_INDEX_ENTRY_LEN, 8000, 0), 0);
    cr_assert_eq(rn_index_entries(&idx), 37);
    cr_assert_eq(rn_index_lookup_offset(&idx, 1000), 3700);
    rn_index_close(&idx);

    /* Writable again (the active segment after a restart): appends continue after entry 37. */
    cr_assert_eq(rn_index_open(&idx, path, RN_OFFSET_INDEX_ENTRY_LEN, 8000, RN_INDEX_WRITABLE), 0);
    cr_assert_eq(rn_index_entries(&idx), 37);
    cr_assert_eq(rn_index_append_offset(&idx, 50, 5000), 0);
    cr_assert_eq(rn_index_seal(&idx), 0);
    rn_index_close(&idx);
    cr_assert_eq(lt_file_size(path), 38 * 8);
}

Test(index, an_all_zero_file_has_no_entries)
{
    FILE *f = fopen(path, "wb");
    static const uint8_t zeros[96];
    fwrite(zeros, 1, sizeof(zeros), f);
    fclose(f);
    rn_index_t idx;
    cr_assert_eq(rn_index_open(&idx, path, RN_TIME_INDEX_ENTRY_LEN, 0, 0), 0);
    cr_assert_eq(rn_index_entries(&idx), 0);
    rn_index_close(&idx);
}

Test(index, time_index_reopen_counts_entries)
{
    rn_index_t idx;
    cr_assert_eq(rn_index_open(&idx, path, RN_TIME_INDEX_ENTRY_LEN, 1200,
                               RN_INDEX_CREATE | RN_INDEX_WRITABLE),
                 0);
    for (int i = 0; i < 10; i++)
        rn_index_append_time(&idx, 1700000000000LL + i, (uint32_t)i * 3);
    rn_index_close(&idx);
    cr_assert_eq(rn_index_open(&idx, path, RN_TIME_INDEX_ENTRY_LEN, 1200, 0), 0);
    cr_assert_eq(rn_index_entries(&idx), 10);
    int64_t ts;
    uint32_t rel;
    rn_index_time_entry(&idx, 9, &ts, &rel);
    cr_assert_eq(ts, 1700000000009LL);
    cr_assert_eq(rel, 27);
    rn_index_close(&idx);
}
