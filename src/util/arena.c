/* SPDX-License-Identifier: Apache-2.0 */
/* Bump allocator in growing blocks. A request's decoded structs are many small allocations
 * with one lifetime, so they are carved from blocks and released together. */
#include "util/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rn_arena_block {
    rn_arena_block_t *next;
    size_t used, cap;
    _Alignas(max_align_t) uint8_t data[];
};

enum { ARENA_MIN_BLOCK = 4096, ARENA_ALIGN = 8 };

void rn_arena_init(rn_arena_t *arena, size_t limit)
{
    arena->head = NULL;
    arena->limit = limit;
    arena->used = 0;
}

void rn_arena_deinit(rn_arena_t *arena)
{
    rn_arena_block_t *b = arena->head;
    while (b != NULL) {
        rn_arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    arena->head = NULL;
    arena->used = 0;
}

void *rn_arena_try_alloc(rn_arena_t *arena, size_t len)
{
    if (len > SIZE_MAX / 2)
        return NULL;
    size_t need = (len + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0)
        need = ARENA_ALIGN;
    rn_arena_block_t *b = arena->head;
    if (b == NULL || b->cap - b->used < need) {
        /* Blocks double with the arena's size so a large request costs few mallocs. */
        size_t cap = arena->used < ARENA_MIN_BLOCK ? ARENA_MIN_BLOCK : arena->used;
        if (cap < need)
            cap = need;
        if (arena->limit != 0 && (arena->used + cap > arena->limit)) {
            if (arena->used + need > arena->limit)
                return NULL;
            cap = need;
        }
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->next = arena->head;
        b->used = 0;
        b->cap = cap;
        arena->head = b;
        arena->used += cap;
    }
    void *p = b->data + b->used;
    b->used += need;
    memset(p, 0, len);
    return p;
}

void *rn_arena_try_alloc_n(rn_arena_t *arena, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / 2 / size)
        return NULL;
    return rn_arena_try_alloc(arena, count * size);
}

char *rn_arena_strndup(rn_arena_t *arena, const char *src, size_t len)
{
    char *p = rn_arena_try_alloc(arena, len + 1);
    if (p != NULL && len > 0)
        memcpy(p, src, len);
    return p;
}

char *rn_arena_sprintf(rn_arena_t *arena, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = rn_arena_try_alloc(arena, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
