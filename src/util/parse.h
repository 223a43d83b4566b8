/* SPDX-License-Identifier: Apache-2.0 */
/* Numbers read from text the broker does not control: configuration values, topic configs and
 * the checkpoint and topic files. One parser, so every place accepts exactly the same strings. */
#ifndef RN_UTIL_PARSE_H
#define RN_UTIL_PARSE_H

#include <stdint.h>

/* A decimal integer with an optional sign and nothing else: no spaces, no hex, no trailing
 * junk, the strings Java's Long.parseLong accepts. Returns 0 and sets *out, RN_EINVAL (not an
 * integer) or -ERANGE (beyond int64); *out is untouched on failure. */
int rn_parse_int64(const char *s, int64_t *out);

#endif
