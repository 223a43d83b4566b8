/* SPDX-License-Identifier: Apache-2.0 */
/* A per-request bump allocator: everything decoded for one request lives here and is released
 * in one go with rn_arena_deinit(). Allocations are 8-byte aligned. A client chooses many of the
 * sizes asked for here, so allocation failure is reported (NULL), never fatal. */
#ifndef RN_UTIL_ARENA_H
#define RN_UTIL_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct rn_arena_block rn_arena_block_t;

typedef struct rn_arena {
    rn_arena_block_t *head; /* newest block first */
    size_t limit;           /* most bytes this arena may hold in all; 0: no limit */
    size_t used;            /* bytes taken from the system so far */
} rn_arena_t;

void rn_arena_init(rn_arena_t *arena, size_t limit);
void rn_arena_deinit(rn_arena_t *arena);

/* Returns `len` bytes (zeroed), or NULL when the system or the arena's limit says no. */
__attribute__((warn_unused_result)) void *rn_arena_try_alloc(rn_arena_t *arena, size_t len);
/* Same for `count` elements of `size` bytes, with the multiplication checked. */
__attribute__((warn_unused_result)) void *rn_arena_try_alloc_n(rn_arena_t *arena, size_t count,
                                                               size_t size);
/* A NUL-terminated copy of `len` bytes at `src`. */
__attribute__((warn_unused_result)) char *rn_arena_strndup(rn_arena_t *arena, const char *src,
                                                           size_t len);
char *rn_arena_sprintf(rn_arena_t *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define rn_arena_try_alloc_array(arena, type, count) \
    ((type *)rn_arena_try_alloc_n((arena), (size_t)(count), sizeof(type)))

#endif
