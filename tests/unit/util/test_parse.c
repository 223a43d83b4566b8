/* SPDX-License-Identifier: Apache-2.0 */
/* rn_parse_int64: exactly the strings Java's Long.parseLong accepts, the whole int64 range,
 * and "not a number" kept apart from "too large". */
#include <criterion/criterion.h>
#include <errno.h>

#include "util/err.h"
#include "util/parse.h"

Test(parse, int64_is_strict)
{
    int64_t v = 0;
    cr_assert_eq(rn_parse_int64("-9223372036854775808", &v), 0);
    cr_assert_eq(v, INT64_MIN);
    cr_assert_eq(rn_parse_int64("9223372036854775808", &v), -ERANGE);
    cr_assert_eq(rn_parse_int64("12 ", &v), RN_EINVAL);
    cr_assert_eq(rn_parse_int64("", &v), RN_EINVAL);
}

Test(parse, int64_takes_a_sign_and_digits_only)
{
    int64_t v = 0;
    cr_assert_eq(rn_parse_int64("+42", &v), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(rn_parse_int64("9223372036854775807", &v), 0);
    cr_assert_eq(v, INT64_MAX);
    cr_assert_eq(rn_parse_int64("-0", &v), 0);
    cr_assert_eq(v, 0);
    static const char *bad[] = { "-", "+", " 1", "0x10", "1e3", "1.0", "--1", "12a" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 7;
        cr_assert_eq(rn_parse_int64(bad[i], &v), RN_EINVAL, "'%s'", bad[i]);
        cr_assert_eq(v, 7, "'%s' left the output alone", bad[i]);
    }
    cr_assert_eq(rn_parse_int64("99999999999999999999x", &v), RN_EINVAL,
                 "junk after an overflow is junk");
    cr_assert_eq(rn_parse_int64("-9223372036854775809", &v), -ERANGE);
}
