/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the admin handlers: duplicate detection and response messages. */
#include "handlers/admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct keyed {
    rn_str_t key;
    int32_t idx;
} keyed_t;

static int compare_keys(rn_str_t a, rn_str_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0)
        return c;
    return (a.len > b.len) - (a.len < b.len);
}

static int compare_keyed(const void *a, const void *b)
{
    const keyed_t *x = a, *y = b;
    int c = compare_keys(x->key, y->key);
    return c != 0 ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

bool rn_admin_group_keys(rn_arena_t *arena, const rn_str_t *keys, int32_t n, int32_t *first,
                         int32_t *last)
{
    if (n <= 0)
        return true;
    keyed_t *sorted = rn_arena_try_alloc_array(arena, keyed_t, n);
    if (sorted == NULL)
        return false;
    for (int32_t i = 0; i < n; i++)
        sorted[i] = (keyed_t){ keys[i], i };
    qsort(sorted, (size_t)n, sizeof *sorted, compare_keyed);
    for (int32_t i = 0; i < n;) {
        int32_t j = i + 1;
        while (j < n && compare_keys(sorted[j].key, sorted[i].key) == 0)
            j++;
        /* A run of equal keys is in index order: it starts at the first, ends at the last. */
        for (int32_t k = i; k < j; k++) {
            if (first != NULL)
                first[sorted[k].idx] = sorted[i].idx;
            if (last != NULL)
                last[sorted[k].idx] = sorted[j - 1].idx;
        }
        i = j;
    }
    return true;
}

bool rn_admin_classify_keys(rn_arena_t *arena, const rn_str_t *keys, int32_t n, uint8_t *out)
{
    if (n <= 0)
        return true;
    int32_t *first = rn_arena_try_alloc_array(arena, int32_t, n);
    int32_t *last = rn_arena_try_alloc_array(arena, int32_t, n);
    if (first == NULL || last == NULL || !rn_admin_group_keys(arena, keys, n, first, last))
        return false;
    for (int32_t i = 0; i < n; i++)
        out[i] = first[i] == last[i] ? RN_ADMIN_KEY_UNIQUE
                 : first[i] == i     ? RN_ADMIN_KEY_FIRST_OF_MANY
                                     : RN_ADMIN_KEY_REPEAT;
    return true;
}

rn_str_t rn_admin_message(rn_request_t *req, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len < 0)
        return (rn_str_t){ NULL, 0 };
    size_t n = (size_t)len < sizeof buf ? (size_t)len : sizeof buf - 1;
    char *copy = rn_arena_strndup(&req->arena, buf, n);
    return (rn_str_t){ copy, copy != NULL ? n : 0 };
}

rn_str_t rn_admin_str(rn_request_t *req, const char *s, bool *oom)
{
    if (s == NULL)
        return (rn_str_t){ NULL, 0 };
    size_t n = strlen(s);
    char *copy = rn_arena_strndup(&req->arena, s, n);
    if (copy == NULL)
        *oom = true;
    return (rn_str_t){ copy, copy != NULL ? n : 0 };
}
