/* SPDX-License-Identifier: Apache-2.0 */
/* Integer parsing (parse.h). */
#include "util/parse.h"

#include <stdbool.h>

#include "util/err.h"

int rn_parse_int64(const char *s, int64_t *out)
{
    bool neg = false;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (*s == '\0')
        return RN_EINVAL;
    /* Accumulate as a negative number: its range is one larger, so INT64_MIN parses too. */
    int64_t v = 0;
    bool overflow = false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return RN_EINVAL;
        int digit = *s - '0';
        if (v < (INT64_MIN + digit) / 10)
            overflow = true; /* keep scanning: "99999999999999999999x" is a syntax error */
        else
            v = v * 10 - digit;
    }
    if (overflow || (!neg && v == INT64_MIN))
        return -ERANGE;
    *out = neg ? v : -v;
    return 0;
}
