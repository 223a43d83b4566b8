/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation for fixed-size internal objects: aborts on failure. Never use it for a size that a
 * client or a file chose; those go through the arena or a checked reserve. */
#ifndef RN_UTIL_XMALLOC_H
#define RN_UTIL_XMALLOC_H

#include <stddef.h>

void *rn_xmalloc(size_t len);
void *rn_xcalloc(size_t count, size_t size);
void *rn_xrealloc(void *ptr, size_t len);
char *rn_xstrdup(const char *s);

#endif
