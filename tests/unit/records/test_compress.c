/* SPDX-License-Identifier: Apache-2.0 */
/* The compressors (src/records/compress.c): every codec round-trips through
 * rn_codec_decompress at the sizes that matter (nothing, one byte, a block boundary, 1 MiB of
 * compressible and of incompressible bytes), and each stream starts the way Kafka 4.4's broker
 * starts it (gzip's fixed header, xerial's header and 32 KiB blocks, lz4's frame descriptor). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "records/records.h"
#include "util/err.h"

static const int codecs[] = { RN_CODEC_NONE, RN_CODEC_GZIP, RN_CODEC_SNAPPY, RN_CODEC_LZ4,
                              RN_CODEC_ZSTD };
#define NCODECS (sizeof codecs / sizeof codecs[0])

/* `len` bytes: text-like when `compressible`, else a xorshift stream that no codec shrinks. */
static uint8_t *input(size_t len, bool compressible)
{
    uint8_t *p = malloc(len > 0 ? len : 1);
    cr_assert_not_null(p);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < len; i++) {
        if (compressible) {
            p[i] = (uint8_t)("key-value record payload "[i % 25] + (i / 4096) % 3);
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p[i] = (uint8_t)x;
        }
    }
    return p;
}

static void round_trip(int codec, size_t len, bool compressible)
{
    uint8_t *in = input(len, compressible);
    uint8_t *z = NULL;
    size_t z_len = 0;
    cr_assert_eq(rn_codec_compress(codec, in, len, &z, &z_len), 0, "codec %d len %zu", codec, len);
    cr_assert_not_null(z);
    if (codec != RN_CODEC_NONE && compressible && len >= 4096)
        cr_assert_lt(z_len, len / 4, "codec %d did not compress %zu bytes: %zu", codec, len, z_len);
    size_t cap = len + 1;
    uint8_t *back = malloc(cap);
    size_t back_len = (size_t)-1;
    cr_assert_eq(rn_codec_decompress(codec, z, z_len, back, cap, &back_len), 0, "codec %d len %zu",
                 codec, len);
    cr_assert_eq(back_len, len, "codec %d: %zu bytes back of %zu", codec, back_len, len);
    cr_assert(len == 0 || memcmp(back, in, len) == 0, "codec %d len %zu differs", codec, len);
    free(back);
    free(z);
    free(in);
}

Test(compress, round_trips_every_codec_and_size)
{
    static const size_t sizes[] = {
        1, 2, 100, 32767, 32768, 32769, 65536, 65537, 200000, 1u << 20
    };
    for (size_t c = 0; c < NCODECS; c++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            round_trip(codecs[c], sizes[s], true);
            round_trip(codecs[c], sizes[s], false);
        }
    }
}

Test(compress, empty_input_is_a_valid_empty_stream)
{
    for (size_t c = 0; c < NCODECS; c++) {
        uint8_t *z = NULL;
        size_t z_len = 99;
        cr_assert_eq(rn_codec_compress(codecs[c], NULL, 0, &z, &z_len), 0);
        cr_assert_not_null(z);
        uint8_t back[1];
        size_t back_len = 99;
        if (codecs[c] == RN_CODEC_NONE) {
            cr_assert_eq(z_len, 0);
        } else {
            cr_assert_gt(z_len, 0, "codec %d wrote nothing", codecs[c]);
            cr_assert_eq(rn_codec_decompress(codecs[c], z, z_len, back, sizeof back, &back_len), 0,
                         "codec %d", codecs[c]);
            cr_assert_eq(back_len, 0);
        }
        free(z);
    }
}

Test(compress, gzip_writes_javas_header)
{
    uint8_t *z;
    size_t z_len;
    cr_assert_eq(rn_codec_compress(RN_CODEC_GZIP, (const uint8_t *)"abc", 3, &z, &z_len), 0);
    /* ID1 ID2, deflate, no flags, mtime 0, XFL 0, OS 255 (unknown), as Java 16+ writes. */
    static const uint8_t header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };
    cr_assert_geq(z_len, 18);
    cr_assert_arr_eq(z, header, sizeof header);
    /* Trailer: CRC-32 of "abc" (0x352441c2) and ISIZE 3, little-endian. */
    static const uint8_t trailer[8] = { 0xc2, 0x41, 0x24, 0x35, 3, 0, 0, 0 };
    cr_assert_arr_eq(z + z_len - 8, trailer, sizeof trailer);
    free(z);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

Test(compress, snappy_writes_xerial_blocks_of_32_kib)
{
    size_t len = (1u << 20) + 5;
    uint8_t *in = input(len, true);
    uint8_t *z;
    size_t z_len;
    cr_assert_eq(rn_codec_compress(RN_CODEC_SNAPPY, in, len, &z, &z_len), 0);
    static const uint8_t header[16] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                        0,    0,   0,   1,   0,   0,   0,   1 };
    cr_assert_arr_eq(z, header, sizeof header);
    /* Walk the blocks: 32 whole ones and the 5-byte tail, each a raw block whose preamble says
     * how much it holds. */
    size_t pos = 16, nblocks = 0, total = 0;
    while (pos < z_len) {
        uint32_t clen = be32(z + pos);
        cr_assert_leq(pos + 4 + clen, z_len);
        /* The raw block's preamble: its uncompressed length as a varint. */
        uint64_t n = 0;
        for (int shift = 0, i = 0;; shift += 7, i++) {
            uint8_t b = z[pos + 4 + (size_t)i];
            n |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
        }
        cr_assert_eq(n, nblocks < 32 ? 32768u : 5u, "block %zu holds %llu", nblocks,
                     (unsigned long long)n);
        total += n;
        pos += 4 + clen;
        nblocks++;
    }
    cr_assert_eq(pos, z_len);
    cr_assert_eq(nblocks, 33);
    cr_assert_eq(total, len);
    free(z);
    free(in);
}

Test(compress, lz4_writes_kafkas_frame_descriptor)
{
    size_t len = 200000;
    uint8_t *in = input(len, true);
    uint8_t *z;
    size_t z_len;
    cr_assert_eq(rn_codec_compress(RN_CODEC_LZ4, in, len, &z, &z_len), 0);
    static const uint8_t magic[4] = { 0x04, 0x22, 0x4d, 0x18 };
    cr_assert_arr_eq(z, magic, sizeof magic);
    cr_assert_eq(z[4], 0x60, "FLG: version 1, independent blocks, no checksums or size");
    cr_assert_eq(z[5], 0x40, "BD: 64 KiB blocks");
    static const uint8_t end_mark[4] = { 0, 0, 0, 0 };
    cr_assert_arr_eq(z + z_len - 4, end_mark, sizeof end_mark, "no content checksum after it");
    free(z);
    free(in);
}

Test(compress, zstd_writes_one_frame)
{
    uint8_t *in = input(100000, true);
    uint8_t *z;
    size_t z_len;
    cr_assert_eq(rn_codec_compress(RN_CODEC_ZSTD, in, 100000, &z, &z_len), 0);
    static const uint8_t magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
    cr_assert_arr_eq(z, magic, sizeof magic);
    free(z);
    free(in);
}

Test(compress, refuses_unknown_codecs)
{
    uint8_t *z = NULL;
    size_t z_len;
    cr_assert_eq(rn_codec_compress(5, (const uint8_t *)"x", 1, &z, &z_len), RN_EINVAL);
    cr_assert_eq(rn_codec_compress(-1, (const uint8_t *)"x", 1, &z, &z_len), RN_EINVAL);
    cr_assert_null(z);
}
