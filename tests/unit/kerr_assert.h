/* SPDX-License-Identifier: Apache-2.0 */
/* assert_kerr(actual, expected[, "note"[, args...]]): checks a Kafka error code and, when it
 * differs, says both by Kafka's name (proto/errors.h), e.g. "got UNKNOWN_TOPIC_OR_PARTITION
 * (3), want NONE (0)", where criterion alone would print only the expression. The note is a
 * printf format. */
#ifndef RN_TESTS_UNIT_KERR_ASSERT_H
#define RN_TESTS_UNIT_KERR_ASSERT_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>

#include "proto/errors.h"

/* The note, formatted; the format always starts with a space (so that it is never empty,
 * which -Wformat-zero-length refuses), dropped here. */
__attribute__((format(printf, 3, 4))) static inline const char *kerr_note_(char *buf, size_t cap,
                                                                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return buf[0] == ' ' ? buf + 1 : buf;
}

#define assert_kerr(actual, expected, ...)                                                  \
    do {                                                                                    \
        int kerr_got_ = (actual), kerr_want_ = (expected);                                  \
        char kerr_buf_[256];                                                                \
        const char *kerr_note = kerr_note_(kerr_buf_, sizeof kerr_buf_, " " __VA_ARGS__);   \
        cr_assert_eq(kerr_got_, kerr_want_, "%s%s%s: got %s (%d), want %s (%d)", kerr_note, \
                     kerr_note[0] != '\0' ? ": " : "", #actual, rn_kerr_name(kerr_got_),    \
                     kerr_got_, rn_kerr_name(kerr_want_), kerr_want_);                      \
    } while (0)

#endif
