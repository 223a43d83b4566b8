/* SPDX-License-Identifier: Apache-2.0 */
/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), the checksum of record batch v2
 * (KIP-98). Two implementations that must agree bit for bit: the SSE4.2 `crc32` instruction,
 * chosen at run time when the CPU has it, and a slicing-by-8 table walk for everything else.
 * The running value is kept inverted inside; callers see the conventional form, so
 * rn_crc32c(rn_crc32c(0, a), b) == rn_crc32c(0, a || b). */
#include "records/internal.h"
#include "records/records.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82f63b78u

/* table[k][b]: the CRC of byte b followed by k zero bytes. Filled once, then read-only. */
static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_fill(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
        table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
}

/* Little-endian load without alignment assumptions; the table walk treats the first byte of
 * the word as the lowest, whatever the host order. */
static inline uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

uint32_t rn_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t c = ~crc;
    pthread_once(&table_once, table_fill);
    for (; len >= 8; len -= 8, p += 8) {
        uint64_t w = load_le64(p) ^ c;
        c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
            table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
            table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
    }
    for (; len > 0; len--, p++)
        c = (c >> 8) ^ table[0][(c ^ *p) & 0xff];
    return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

bool rn_crc32c_hw_available(void)
{
    /* libgcc fills in the CPU model from a constructor; asking for it here as well keeps the
     * answer right when we are called from another constructor first. Both calls are cheap
     * (the init returns at once once done), next to any CRC worth computing. */
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}

/* One dependent `crc32` per 8 bytes (3-cycle latency, so several GB/s): batches are at most a
 * few MiB, and interleaving three streams is not worth the extra code yet. */
__attribute__((target("sse4.2"))) uint32_t rn_crc32c_hw(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    /* Bytes first up to an 8-byte boundary, so the word loads below are aligned. */
    for (; len > 0 && ((uintptr_t)p & 7) != 0; len--, p++)
        c = __builtin_ia32_crc32qi((uint32_t)c, *p);
    for (; len >= 8; len -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, sizeof w); /* x86 is little-endian, as the instruction expects */
        c = __builtin_ia32_crc32di(c, w);
    }
    if (len >= 4) {
        uint32_t w;
        memcpy(&w, p, sizeof w);
        c = __builtin_ia32_crc32si((uint32_t)c, w);
        len -= 4;
        p += 4;
    }
    for (; len > 0; len--, p++)
        c = __builtin_ia32_crc32qi((uint32_t)c, *p);
    return ~(uint32_t)c;
}

#else

bool rn_crc32c_hw_available(void)
{
    return false;
}

uint32_t rn_crc32c_hw(uint32_t crc, const void *data, size_t len)
{
    return rn_crc32c_sw(crc, data, len);
}

#endif

uint32_t rn_crc32c(uint32_t crc, const void *data, size_t len)
{
    if (rn_crc32c_hw_available())
        return rn_crc32c_hw(crc, data, len);
    return rn_crc32c_sw(crc, data, len);
}
