/* SPDX-License-Identifier: Apache-2.0 */
/* assert_kerr(actual, expected[, "note"]): checks a Kafka error code and, when it differs,
 * says both by Kafka's name (proto/errors.h), e.g. "got UNKNOWN_TOPIC_OR_PARTITION (3), want
 * NONE (0)", where criterion alone would print only the expression. */
#ifndef RN_TESTS_UNIT_KERR_ASSERT_H
#define RN_TESTS_UNIT_KERR_ASSERT_H

#include <criterion/criterion.h>

#include "proto/errors.h"

#define assert_kerr(actual, expected, ...) \
    assert_kerr_((actual), (expected), #actual, "" __VA_ARGS__)
#define assert_kerr_(actual, expected, expr, note)                                          \
    do {                                                                                    \
        int kerr_got_ = (actual), kerr_want_ = (expected);                                  \
        cr_assert_eq(kerr_got_, kerr_want_, "%s%s%s: got %s (%d), want %s (%d)", note,      \
                     note[0] != '\0' ? ": " : "", expr, rn_kerr_name(kerr_got_), kerr_got_, \
                     rn_kerr_name(kerr_want_), kerr_want_);                                 \
    } while (0)

#endif
