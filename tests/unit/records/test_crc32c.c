/* SPDX-License-Identifier: Apache-2.0 */
/* CRC-32C: the standard check value, known vectors, chaining, and agreement between the
 * SSE4.2 path and the table walk on random data at random lengths and alignments. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "records/internal.h"
#include "records/records.h"

Test(crc32c, standard_check_value)
{
    cr_assert_eq(rn_crc32c(0, "123456789", 9), 0xe3069283u);
    cr_assert_eq(rn_crc32c_sw(0, "123456789", 9), 0xe3069283u);
    cr_assert_eq(rn_crc32c_hw(0, "123456789", 9), 0xe3069283u);
}

/* RFC 3720 (iSCSI) B.4 test patterns. */
Test(crc32c, rfc3720_vectors)
{
    uint8_t buf[32];
    memset(buf, 0, sizeof buf);
    cr_assert_eq(rn_crc32c(0, buf, 32), 0x8a9136aau);
    memset(buf, 0xff, sizeof buf);
    cr_assert_eq(rn_crc32c(0, buf, 32), 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    cr_assert_eq(rn_crc32c(0, buf, 32), 0x46dd794eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    cr_assert_eq(rn_crc32c(0, buf, 32), 0x113fdb5cu);
}

Test(crc32c, empty_input_returns_the_running_value)
{
    cr_assert_eq(rn_crc32c(0, "", 0), 0);
    cr_assert_eq(rn_crc32c(0x12345678u, NULL, 0), 0x12345678u);
}

Test(crc32c, chaining_equals_one_pass)
{
    const char *s = "The quick brown fox jumps over the lazy dog";
    size_t n = strlen(s);
    uint32_t whole = rn_crc32c(0, s, n);
    for (size_t cut = 0; cut <= n; cut++)
        cr_assert_eq(rn_crc32c(rn_crc32c(0, s, cut), s + cut, n - cut), whole, "cut at %zu", cut);
}

Test(crc32c, hardware_and_table_agree_on_random_data)
{
    if (!rn_crc32c_hw_available())
        cr_log_warn("no SSE4.2 here: both names run the table walk");
    enum { MAX = 5000 };
    uint8_t *buf = malloc(MAX + 16);
    cr_assert_not_null(buf);
    srand(12345);
    for (size_t i = 0; i < MAX + 16; i++)
        buf[i] = (uint8_t)rand();
    for (int iter = 0; iter < 2000; iter++) {
        size_t align = (size_t)rand() % 16;
        size_t len = iter < 64 ? (size_t)iter : (size_t)rand() % MAX;
        uint32_t seed = iter % 3 ? 0 : (uint32_t)rand();
        uint32_t sw = rn_crc32c_sw(seed, buf + align, len);
        uint32_t hw = rn_crc32c_hw(seed, buf + align, len);
        cr_assert_eq(sw, hw, "len %zu align %zu: table %08x, sse4.2 %08x", len, align, sw, hw);
    }
    free(buf);
}
