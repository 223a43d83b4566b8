/* SPDX-License-Identifier: Apache-2.0 */
/* rn_outbuf_t: memory bytes with file ranges spliced in. What the network writer relies on:
 * splice positions follow the appends, wire_len counts both kinds of bytes, and every range is
 * released exactly once whatever path it takes. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "util/outbuf.h"

static int released[8];

static void count_release(void *owner)
{
    released[(intptr_t)owner]++;
}

static rn_file_range_t range_of(int tag, int64_t pos, size_t len)
{
    return (rn_file_range_t){ .fd = 100 + tag,
                              .pos = pos,
                              .len = len,
                              .release = count_release,
                              .owner = (void *)(intptr_t)tag };
}

static void reset_released(void)
{
    memset(released, 0, sizeof(released));
}

TestSuite(outbuf, .init = reset_released);

Test(outbuf, starts_empty)
{
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    cr_assert_eq(out.len, 0);
    cr_assert_eq(out.nsplices, 0);
    cr_assert_eq(rn_outbuf_wire_len(&out), 0);
    cr_assert(!out.failed);
    rn_outbuf_deinit(&out);
}

Test(outbuf, appends_and_splices_keep_wire_order)
{
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    rn_outbuf_append(&out, "abc", 3);
    uint8_t *p = rn_outbuf_extend(&out, 2);
    cr_assert_not_null(p);
    memcpy(p, "de", 2);
    rn_file_range_t a = range_of(0, 4096, 10);
    rn_outbuf_append_file(&out, &a);
    rn_outbuf_append(&out, "fg", 2);
    rn_file_range_t b = range_of(1, 7, 5);
    rn_file_range_t c = range_of(2, 0, 0);
    rn_outbuf_append_file(&out, &b);
    rn_outbuf_append_file(&out, &c);
    rn_outbuf_append(&out, "h", 1);

    cr_assert_eq(out.len, 8);
    cr_assert_eq(memcmp(out.data, "abcdefgh", 8), 0);
    cr_assert_eq(out.nsplices, 3);
    cr_assert_eq(out.splices[0].at, 5, "range a goes after \"abcde\"");
    cr_assert_eq(out.splices[1].at, 7, "range b goes after \"fg\"");
    cr_assert_eq(out.splices[2].at, 7, "an empty range keeps its place too");
    cr_assert_eq(out.splices[0].range.fd, 100);
    cr_assert_eq(out.splices[0].range.pos, 4096);
    cr_assert_eq(out.splices[1].range.len, 5);
    cr_assert_eq(rn_outbuf_wire_len(&out), 8 + 10 + 5 + 0);
    cr_assert_eq(released[0] + released[1] + released[2], 0, "appending releases nothing");
    rn_outbuf_deinit(&out);
}

Test(outbuf, patch_be32_overwrites_in_place)
{
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    rn_outbuf_extend(&out, 4);
    rn_outbuf_append(&out, "xyz", 3);
    rn_outbuf_patch_be32(&out, 0, 0x01020304);
    rn_outbuf_append(&out, "\0\0\0\0", 4);
    rn_outbuf_patch_be32(&out, 7, (uint32_t)out.len - 4);
    static const uint8_t want[] = { 1, 2, 3, 4, 'x', 'y', 'z', 0, 0, 0, 7 };
    cr_assert_eq(out.len, sizeof(want));
    cr_assert_eq(memcmp(out.data, want, sizeof(want)), 0);
    rn_outbuf_deinit(&out);
}

Test(outbuf, grows_across_many_small_appends)
{
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    for (uint32_t i = 0; i < 100000; i++) {
        uint8_t b = (uint8_t)(i * 31 + 7);
        rn_outbuf_append(&out, &b, 1);
    }
    cr_assert_eq(out.len, 100000);
    cr_assert(out.cap >= out.len);
    for (uint32_t i = 0; i < 100000; i++)
        cr_assert_eq(out.data[i], (uint8_t)(i * 31 + 7), "byte %u", i);
    rn_outbuf_deinit(&out);
}

Test(outbuf, extend_zero_returns_a_pointer)
{
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    cr_assert_not_null(rn_outbuf_extend(&out, 0), "NULL would read as a failure");
    cr_assert(!out.failed);
    rn_outbuf_deinit(&out);
}

Test(outbuf, deinit_releases_every_range_once)
{
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    for (int i = 0; i < 8; i++) {
        rn_file_range_t r = range_of(i, i, (size_t)i);
        rn_outbuf_append_file(&out, &r); /* more than the first splice array holds */
    }
    rn_outbuf_deinit(&out);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(released[i], 1, "range %d released %d times", i, released[i]);
    rn_outbuf_deinit(&out); /* deinit leaves an empty outbuf: a second one does nothing */
    for (int i = 0; i < 8; i++)
        cr_assert_eq(released[i], 1);
}

Test(outbuf, range_without_release_is_fine)
{
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    rn_file_range_t r = { .fd = 3, .pos = 0, .len = 10 };
    rn_outbuf_append_file(&out, &r);
    cr_assert_eq(rn_outbuf_wire_len(&out), 10);
    rn_outbuf_deinit(&out);
}

Test(outbuf, move_transfers_ranges_and_empties_source)
{
    rn_outbuf_t src, dst;
    rn_outbuf_init(&src);
    rn_outbuf_init(&dst);
    rn_outbuf_append(&src, "head", 4);
    rn_file_range_t r = range_of(3, 0, 100);
    rn_outbuf_append_file(&src, &r);
    rn_outbuf_move(&dst, &src);

    cr_assert_eq(src.len, 0);
    cr_assert_eq(src.nsplices, 0);
    cr_assert_null(src.data);
    cr_assert_eq(rn_outbuf_wire_len(&dst), 104);
    cr_assert_eq(memcmp(dst.data, "head", 4), 0);
    rn_outbuf_deinit(&src);
    cr_assert_eq(released[3], 0, "the source no longer owns the range");
    rn_outbuf_deinit(&dst);
    cr_assert_eq(released[3], 1);
}

Test(outbuf, failed_allocation_is_sticky_and_releases_later_ranges)
{
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    rn_outbuf_append(&out, "ok", 2);
    cr_assert_null(rn_outbuf_extend(&out, SIZE_MAX / 2), "an impossible size fails");
    cr_assert(out.failed);
    cr_assert_eq(out.len, 2, "a failed extend adds nothing");
    cr_assert_null(rn_outbuf_extend(&out, 1), "every later call does nothing");
    rn_outbuf_append(&out, "x", 1);
    cr_assert_eq(out.len, 2);

    rn_file_range_t r = range_of(5, 0, 10);
    rn_outbuf_append_file(&out, &r);
    cr_assert_eq(released[5], 1, "a range appended after a failure is released at once");
    cr_assert_eq(out.nsplices, 0);
    rn_outbuf_deinit(&out);
    cr_assert_eq(released[5], 1, "and never again");
}
