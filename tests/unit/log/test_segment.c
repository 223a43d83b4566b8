/* SPDX-License-Identifier: Apache-2.0 */
/* rn_segment_t: file names, writes, header scans, and the reference count that keeps an
 * unlinked segment readable. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

TestSuite(segment, .init = setup, .fini = teardown);

Test(segment, files_are_named_by_the_20_digit_base_offset)
{
    rn_segment_t *seg;
    cr_assert_eq(rn_segment_create(dir, 1234, 4096, &seg), 0);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 1234, ".log")), 0);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 1234, ".index")), 4096);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 1234, ".timeindex")), 4092,
                 "rounded down to 12-byte entries");
    char path[4096];
    cr_assert_eq(rn_segment_path(path, sizeof(path), "/d", 1234, ".log"), 0);
    cr_assert_str_eq(path, "/d/00000000000000001234.log");
    cr_assert_eq(rn_segment_path(path, 10, "/d", 1234, ".log"), -ENAMETOOLONG);
    rn_segment_unref(seg);
}

/* Writes `n` batches of `records` records each at offsets from the segment's base. */
static void fill(rn_segment_t *seg, int n, int records, lt_buf_t *all)
{
    for (int i = 0; i < n; i++) {
        lt_buf_t b = { 0 };
        lt_simple(&b, records, 50, 1000 + i);
        rn_records_assign_offsets(b.p, b.len, seg->next_offset, 0);
        cr_assert_eq(rn_segment_write(seg, b.p, b.len), 0);
        rn_segment_index_batch(seg, seg->size, b.len, seg->next_offset,
                               seg->next_offset + records - 1, 1000 + i + records - 1, 100);
        seg->size += (int64_t)b.len;
        seg->next_offset += records;
        lt_put(all, b.p, b.len);
        lt_buf_free(&b);
    }
}

Test(segment, find_batch_returns_the_batch_holding_an_offset)
{
    rn_segment_t *seg;
    cr_assert_eq(rn_segment_create(dir, 100, 4096, &seg), 0);
    lt_buf_t all = { 0 };
    fill(seg, 20, 3, &all); /* offsets 100..159 in batches of 3, 238 bytes each */
    /* index.interval.bytes 100: Kafka's rule gives every batch but the first an entry, and the
     * time index one at the same moments because the timestamps grow. */
    cr_assert_eq(rn_index_entries(&seg->index), 19);
    cr_assert_eq(rn_index_entries(&seg->timeindex), 19);
    uint32_t rel, ipos;
    rn_index_offset_entry(&seg->index, 0, &rel, &ipos);
    cr_assert_eq(rel, 3);
    cr_assert_eq(ipos, all.len / 20);

    rn_scan_t scan;
    for (int64_t off = 100; off < 160; off++) {
        cr_assert_eq(rn_scan_open(&scan, seg, seg->size), 0);
        uint32_t pos = rn_index_lookup_offset(&seg->index, (uint32_t)(off - 100));
        int64_t bpos, base, last;
        size_t blen;
        cr_assert_eq(rn_segment_find_batch(&scan, pos, off, &bpos, &blen, &base, &last), 0);
        cr_assert_eq(base, 100 + (off - 100) / 3 * 3, "offset %ld", (long)off);
        cr_assert_eq(last, base + 2);
        cr_assert_eq(rn_load_be64(all.p + bpos), (uint64_t)base);
        rn_scan_close(&scan);
    }
    cr_assert_eq(rn_scan_open(&scan, seg, seg->size), 0);
    int64_t bpos, base, last;
    size_t blen;
    cr_assert_eq(rn_segment_find_batch(&scan, 0, 160, &bpos, &blen, &base, &last), 1,
                 "past the end");
    rn_scan_close(&scan);
    lt_buf_free(&all);
    rn_segment_unref(seg);
}

Test(segment, find_batch_stops_at_a_damaged_header)
{
    rn_segment_t *seg;
    cr_assert_eq(rn_segment_create(dir, 0, 4096, &seg), 0);
    lt_buf_t all = { 0 };
    fill(seg, 3, 1, &all);
    uint8_t bad[4] = { 0, 0, 0, 5 }; /* batch_length 5: shorter than a header */
    rn_scan_t scan;
    cr_assert_eq(rn_scan_open(&scan, seg, seg->size), 0);
    cr_assert_eq(pwrite(scan.fd, bad, 4, 8), 4);
    int64_t bpos, base, last;
    size_t blen;
    cr_assert_eq(rn_segment_find_batch(&scan, 0, 1, &bpos, &blen, &base, &last), -EIO);
    rn_scan_close(&scan);
    lt_buf_free(&all);
    rn_segment_unref(seg);
}

Test(segment, an_unlinked_segment_stays_readable_until_its_last_reference)
{
    rn_segment_t *seg;
    cr_assert_eq(rn_segment_create(dir, 0, 4096, &seg), 0);
    lt_buf_t all = { 0 };
    fill(seg, 5, 2, &all);
    rn_segment_ref(seg); /* a fetch's range: a reference and a pin */
    cr_assert_geq(rn_segment_pin(seg), 0);
    cr_assert_eq(rn_segment_keep_open(seg), 0);
    cr_assert_eq(rn_segment_unlink(dir, 0), 0);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 0, ".log")), -1);
    rn_segment_unref(seg); /* the log lets go */
    uint8_t *buf = malloc(all.len);
    cr_assert_eq(rn_segment_read(seg, 0, buf, all.len), 0);
    cr_assert_eq(memcmp(buf, all.p, all.len), 0);
    free(buf);
    rn_segment_release(seg); /* the last one: closes */
    lt_buf_free(&all);
}

Test(segment, seal_writes_the_largest_timestamp_and_trims)
{
    rn_segment_t *seg;
    cr_assert_eq(rn_segment_create(dir, 0, 4096, &seg), 0);
    lt_buf_t all = { 0 };
    fill(seg, 10, 1, &all);
    rn_segment_seal(seg);
    size_t n = rn_index_entries(&seg->timeindex);
    cr_assert_gt(n, 0);
    int64_t ts;
    uint32_t rel;
    rn_index_time_entry(&seg->timeindex, n - 1, &ts, &rel);
    cr_assert_eq(ts, 1009);
    cr_assert_eq(rel, 9);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 0, ".timeindex")), (int64_t)n * 12);
    cr_assert_eq(lt_file_size(lt_seg_path(dir, 0, ".index")),
                 (int64_t)rn_index_entries(&seg->index) * 8);
    lt_buf_free(&all);
    rn_segment_unref(seg);
}
