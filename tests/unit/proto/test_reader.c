/* SPDX-License-Identifier: Apache-2.0 */
/* Primitive readers: bounds, varints at their limits, classic and compact nullable forms. */
#include <criterion/criterion.h>

#include "proto/reader.h"

#define READER(name, ...)                              \
    static const uint8_t name##_bytes[] = __VA_ARGS__; \
    rn_reader_t name;                                  \
    rn_reader_init(&name, name##_bytes, sizeof name##_bytes)

Test(reader, fixed_width_integers_are_big_endian)
{
    READER(r, { 0x80, 0x01, 0x02, 0x80, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe });
    cr_assert_eq(rn_read_int8(&r, "a"), -128);
    cr_assert_eq(rn_read_int16(&r, "b"), 0x0102);
    cr_assert_eq(rn_read_int32(&r, "c"), (int32_t)0x80000001);
    cr_assert_eq(rn_read_int64(&r, "d"), -2);
    cr_assert(rn_reader_ok(&r));
    cr_assert_eq(rn_reader_left(&r), 0);
}

Test(reader, reading_past_the_end_fails_and_stays_failed)
{
    READER(r, { 0x00, 0x01, 0x02 });
    cr_assert_eq(rn_read_int32(&r, "first"), 0);
    cr_assert_not(rn_reader_ok(&r));
    cr_assert_str_eq(r.err, "first");
    cr_assert_eq(rn_read_int8(&r, "second"), 0, "a failed reader returns 0");
    cr_assert_str_eq(r.err, "first", "the first failure is kept");
    cr_assert_eq(rn_reader_left(&r), 3, "nothing was consumed");
}

Test(reader, uvarint_limits)
{
    READER(r, { 0x00, 0x7f, 0x80, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f });
    cr_assert_eq(rn_read_uvarint(&r, "0"), 0);
    cr_assert_eq(rn_read_uvarint(&r, "127"), 127);
    cr_assert_eq(rn_read_uvarint(&r, "128"), 128);
    cr_assert_eq(rn_read_uvarint(&r, "max"), UINT32_MAX);
    cr_assert(rn_reader_ok(&r));
}

Test(reader, uvarint_longer_than_five_bytes_is_invalid)
{
    READER(r, { 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 });
    rn_read_uvarint(&r, "long");
    cr_assert_not(rn_reader_ok(&r));
}

Test(reader, uvarint_fifth_byte_with_bits_past_32_is_invalid)
{
    READER(r, { 0xff, 0xff, 0xff, 0xff, 0x1f });
    rn_read_uvarint(&r, "overflow");
    cr_assert_not(rn_reader_ok(&r));
}

Test(reader, uvarlong_limits)
{
    READER(r, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 });
    cr_assert_eq(rn_read_uvarlong(&r, "max"), UINT64_MAX);
    cr_assert(rn_reader_ok(&r));
    rn_read_uvarlong(&r, "overflow");
    cr_assert_not(rn_reader_ok(&r), "a tenth byte above 1 shifts past bit 63");
}

Test(reader, uvarlong_longer_than_ten_bytes_is_invalid)
{
    READER(r, { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 });
    rn_read_uvarlong(&r, "long");
    cr_assert_not(rn_reader_ok(&r));
}

Test(reader, zigzag_varints)
{
    READER(r, { 0x00, 0x01, 0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f });
    cr_assert_eq(rn_read_varint(&r, "0"), 0);
    cr_assert_eq(rn_read_varint(&r, "-1"), -1);
    cr_assert_eq(rn_read_varint(&r, "1"), 1);
    cr_assert_eq(rn_read_varint(&r, "max"), INT32_MAX);
    cr_assert_eq(rn_read_varint(&r, "min"), INT32_MIN);
    cr_assert(rn_reader_ok(&r));
}

Test(reader, truncated_varint_fails)
{
    READER(r, { 0x80, 0x80 });
    rn_read_uvarint(&r, "cut");
    cr_assert_not(rn_reader_ok(&r));
}

Test(reader, classic_strings_null_and_empty)
{
    READER(r, { 0xff, 0xff, 0x00, 0x00, 0x00, 0x02, 'h', 'i' });
    rn_str_t n = rn_read_string(&r, false, true, "null");
    cr_assert_null(n.ptr);
    rn_str_t e = rn_read_string(&r, false, false, "empty");
    cr_assert_not_null(e.ptr);
    cr_assert_eq(e.len, 0);
    rn_str_t hi = rn_read_string(&r, false, false, "hi");
    cr_assert(rn_str_eq_cstr(hi, "hi"));
    cr_assert(rn_reader_ok(&r));
}

Test(reader, null_string_where_not_nullable_is_invalid)
{
    READER(r, { 0xff, 0xff });
    rn_read_string(&r, false, false, "name");
    cr_assert_not(rn_reader_ok(&r));
}

Test(reader, negative_length_other_than_minus_one_is_invalid)
{
    READER(r, { 0xff, 0xfe });
    rn_read_string(&r, false, true, "name");
    cr_assert_not(rn_reader_ok(&r));
    READER(b, { 0x80, 0x00, 0x00, 0x00 });
    rn_read_bytes(&b, false, true, "bytes");
    cr_assert_not(rn_reader_ok(&b));
}

Test(reader, string_longer_than_the_data_is_invalid)
{
    READER(r, { 0x00, 0x05, 'a', 'b' });
    rn_read_string(&r, false, false, "name");
    cr_assert_not(rn_reader_ok(&r));
}

Test(reader, compact_string_null_empty_and_value)
{
    READER(r, { 0x00, 0x01, 0x03, 'o', 'k' });
    cr_assert_null(rn_read_string(&r, true, true, "null").ptr);
    rn_str_t e = rn_read_string(&r, true, false, "empty");
    cr_assert_not_null(e.ptr);
    cr_assert_eq(e.len, 0);
    cr_assert(rn_str_eq_cstr(rn_read_string(&r, true, false, "ok"), "ok"));
    cr_assert(rn_reader_ok(&r));
}

Test(reader, compact_null_where_not_nullable_is_invalid)
{
    READER(r, { 0x00 });
    rn_read_bytes(&r, true, false, "bytes");
    cr_assert_not(rn_reader_ok(&r));
}

Test(reader, compact_bytes_with_huge_length_is_invalid)
{
    READER(r, { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00 });
    rn_read_bytes(&r, true, true, "bytes");
    cr_assert_not(rn_reader_ok(&r));
}

Test(reader, array_count_that_cannot_fit_is_rejected_before_allocation)
{
    READER(r, { 0x00, 0x00, 0x10, 0x00, 1, 2, 3, 4 });
    rn_read_array_len(&r, false, false, 4, "topics");
    cr_assert_not(rn_reader_ok(&r));
    READER(ok, { 0x00, 0x00, 0x00, 0x02, 1, 2, 3, 4 });
    cr_assert_eq(rn_read_array_len(&ok, false, false, 2, "topics"), 2);
    cr_assert(rn_reader_ok(&ok));
}

Test(reader, array_null_forms)
{
    READER(r, { 0xff, 0xff, 0xff, 0xff, 0x00 });
    cr_assert_eq(rn_read_array_len(&r, false, true, 1, "classic"), -1);
    cr_assert_eq(rn_read_array_len(&r, true, true, 1, "compact"), -1);
    cr_assert(rn_reader_ok(&r));
    READER(bad, { 0xff, 0xff, 0xff, 0xff });
    rn_read_array_len(&bad, false, false, 1, "not nullable");
    cr_assert_not(rn_reader_ok(&bad));
    READER(neg, { 0xff, 0xff, 0xff, 0xfe });
    rn_read_array_len(&neg, false, true, 1, "-2");
    cr_assert_not(rn_reader_ok(&neg));
}

Test(reader, uuid_and_bool_and_float)
{
    READER(r, { 1,  2,  3,  4,    5,    6,    7, 8, 9, 10, 11, 12, 13,
                14, 15, 16, 0x02, 0x3f, 0xf8, 0, 0, 0, 0,  0,  0 });
    rn_uuid_t u = rn_read_uuid(&r, "id");
    cr_assert_eq(u.b[0], 1);
    cr_assert_eq(u.b[15], 16);
    cr_assert(rn_read_bool(&r, "flag"), "any non-zero byte is true, as in Kafka");
    double f = rn_read_float64(&r, "f"); /* criterion's macro evaluates its argument twice */
    cr_assert_float_eq(f, 1.5, 1e-12);
    cr_assert(rn_reader_ok(&r));
}

Test(reader, split_narrows_and_advances)
{
    READER(r, { 0, 1, 2, 3, 4 });
    rn_reader_t sub = rn_reader_split(&r, 2, "sub");
    cr_assert_eq(rn_reader_left(&sub), 2);
    cr_assert_eq(rn_read_int16(&sub, "x"), 1);
    rn_read_int8(&sub, "past");
    cr_assert_not(rn_reader_ok(&sub));
    cr_assert(rn_reader_ok(&r), "a failed sub-reader leaves its parent alone");
    cr_assert_eq(rn_reader_left(&r), 3);
    rn_reader_split(&r, 4, "too long");
    cr_assert_not(rn_reader_ok(&r));
}
