/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation that cannot fail, for fixed-size internal objects only. Running out of memory for
 * one of those leaves the broker with no sane way on, so we say so on stderr and abort. Sizes
 * chosen by a client or a file go through the arena or a checked reserve instead. */
#include "util/xmalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/logging.h"

static void out_of_memory(size_t len) __attribute__((noreturn));

static void out_of_memory(size_t len)
{
    rn_log(RN_LOG_ERROR, "util", "out of memory allocating %zu bytes; aborting", len);
    abort();
}

/* malloc(0) and realloc(p, 0) may return NULL on success; asking for one byte keeps NULL
 * meaning "failed" and keeps the result a pointer the caller may free. */
void *rn_xmalloc(size_t len)
{
    void *ptr = malloc(len != 0 ? len : 1);
    if (ptr == NULL)
        out_of_memory(len);
    return ptr;
}

void *rn_xcalloc(size_t count, size_t size)
{
    if (count == 0 || size == 0)
        count = size = 1;
    void *ptr = calloc(count, size); /* calloc checks count * size for overflow */
    if (ptr == NULL)
        out_of_memory(count > SIZE_MAX / size ? SIZE_MAX : count * size);
    return ptr;
}

void *rn_xrealloc(void *ptr, size_t len)
{
    void *moved = realloc(ptr, len != 0 ? len : 1);
    if (moved == NULL)
        out_of_memory(len);
    return moved;
}

char *rn_xstrdup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *copy = rn_xmalloc(len);
    memcpy(copy, s, len);
    return copy;
}
