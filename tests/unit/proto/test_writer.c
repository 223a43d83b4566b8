/* SPDX-License-Identifier: Apache-2.0 */
/* Primitive writers, checked byte for byte and against the readers. */
#include <criterion/criterion.h>
#include <string.h>

#include "proto/reader.h"
#include "proto/writer.h"

static void assert_bytes(const rn_outbuf_t *w, const uint8_t *want, size_t len)
{
    cr_assert_eq(w->len, len, "wrote %zu bytes, want %zu", w->len, len);
    cr_assert_eq(memcmp(w->data, want, len), 0);
}

Test(writer, fixed_width_integers_are_big_endian)
{
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_write_int8(&w, -1);
    rn_write_int16(&w, 0x0102);
    rn_write_int32(&w, -2);
    rn_write_int64(&w, 0x0102030405060708);
    static const uint8_t want[] = { 0xff, 1, 2, 0xff, 0xff, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8 };
    assert_bytes(&w, want, sizeof want);
    rn_outbuf_deinit(&w);
}

Test(writer, uvarints_at_their_limits)
{
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_write_uvarint(&w, 0);
    rn_write_uvarint(&w, 127);
    rn_write_uvarint(&w, 128);
    rn_write_uvarint(&w, UINT32_MAX);
    static const uint8_t want[] = { 0x00, 0x7f, 0x80, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f };
    assert_bytes(&w, want, sizeof want);
    cr_assert_eq(rn_uvarint_len(0), 1);
    cr_assert_eq(rn_uvarint_len(127), 1);
    cr_assert_eq(rn_uvarint_len(128), 2);
    cr_assert_eq(rn_uvarint_len(UINT32_MAX), 5);
    rn_outbuf_deinit(&w);
}

Test(writer, signed_varints_round_trip_through_the_reader)
{
    static const int64_t values[] = { 0,  -1,        1,         63,        -64,
                                      64, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN };
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        rn_write_varlong(&w, values[i]);
    rn_write_varint(&w, INT32_MIN);
    rn_reader_t r;
    rn_reader_init(&r, w.data, w.len);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        cr_assert_eq(rn_read_varlong(&r, "v"), values[i], "value %zu", i);
    cr_assert_eq(rn_read_varint(&r, "min"), INT32_MIN);
    cr_assert(rn_reader_ok(&r));
    cr_assert_eq(rn_reader_left(&r), 0);
    rn_outbuf_deinit(&w);
}

Test(writer, strings_bytes_and_arrays_in_both_forms)
{
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_write_string(&w, false, (rn_str_t){ NULL, 0 });
    rn_write_string(&w, false, rn_str_from_cstr("ab"));
    rn_write_string(&w, true, (rn_str_t){ NULL, 0 });
    rn_write_string(&w, true, rn_str_from_cstr(""));
    rn_write_bytes(&w, false, (rn_bytes_t){ NULL, 0 });
    rn_write_bytes(&w, true, (rn_bytes_t){ (const uint8_t *)"x", 1 });
    rn_write_array_len(&w, false, -1);
    rn_write_array_len(&w, true, -1);
    rn_write_array_len(&w, true, 3);
    static const uint8_t want[] = {
        0xff, 0xff, 0x00, 0x02, 'a',  'b',  0x00, 0x01, 0xff, 0xff,
        0xff, 0xff, 0x02, 'x',  0xff, 0xff, 0xff, 0xff, 0x00, 0x04,
    };
    assert_bytes(&w, want, sizeof want);
    rn_outbuf_deinit(&w);
}

Test(writer, uuid_bool_float)
{
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_uuid_t u;
    for (int i = 0; i < 16; i++)
        u.b[i] = (uint8_t)i;
    rn_write_uuid(&w, u);
    rn_write_bool(&w, true);
    rn_write_float64(&w, 1.5);
    cr_assert_eq(w.len, 25);
    cr_assert_eq(w.data[15], 15);
    cr_assert_eq(w.data[16], 1);
    cr_assert_eq(w.data[17], 0x3f);
    cr_assert_eq(w.data[18], 0xf8);
    rn_outbuf_deinit(&w);
}
