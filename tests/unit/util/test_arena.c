/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "util/arena.h"

Test(arena, allocations_are_zeroed_aligned_and_distinct)
{
    rn_arena_t a;
    rn_arena_init(&a, 0);
    uint8_t *prev = NULL;
    for (int i = 1; i < 2000; i++) {
        uint8_t *p = rn_arena_try_alloc(&a, (size_t)i % 37 + 1);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % 8, 0);
        cr_assert_eq(p[0], 0);
        cr_assert_neq(p, prev);
        memset(p, 0xab, (size_t)i % 37 + 1);
        prev = p;
    }
    rn_arena_deinit(&a);
}

Test(arena, limit_fails_the_allocation_not_the_process)
{
    rn_arena_t a;
    rn_arena_init(&a, 10000);
    cr_assert_not_null(rn_arena_try_alloc(&a, 6000));
    cr_assert_null(rn_arena_try_alloc(&a, 6000), "over the limit");
    cr_assert_not_null(rn_arena_try_alloc(&a, 100), "small ones still fit");
    rn_arena_deinit(&a);
}

Test(arena, counts_that_overflow_are_refused)
{
    rn_arena_t a;
    rn_arena_init(&a, 0);
    cr_assert_null(rn_arena_try_alloc_n(&a, SIZE_MAX / 4, 16));
    cr_assert_null(rn_arena_try_alloc(&a, SIZE_MAX));
    rn_arena_deinit(&a);
}

Test(arena, strings)
{
    rn_arena_t a;
    rn_arena_init(&a, 0);
    cr_assert_str_eq(rn_arena_strndup(&a, "hello", 4), "hell");
    cr_assert_str_eq(rn_arena_sprintf(&a, "%d-%s", 7, "x"), "7-x");
    rn_arena_deinit(&a);
}
