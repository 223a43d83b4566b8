/* SPDX-License-Identifier: Apache-2.0 */
/* Codecs: round trips through each library's own compressor, the exact bound, garbage and
 * truncated input, and decompression bombs (64 MiB of zeros) stopped at a 1 MiB bound. */
#include <criterion/criterion.h>
#include <time.h>

#include "builder.h"
#include "golden.h"
#include "records/internal.h"
#include "records/records.h"

typedef struct codec_case {
    int codec;
    bool xerial;
    const char *name;
} codec_case_t;

static const codec_case_t codecs[] = {
    { RN_CODEC_GZIP, false, "gzip" },           { RN_CODEC_SNAPPY, false, "snappy raw" },
    { RN_CODEC_SNAPPY, true, "snappy xerial" }, { RN_CODEC_LZ4, false, "lz4" },
    { RN_CODEC_ZSTD, false, "zstd" },
};
#define NCODECS (sizeof codecs / sizeof codecs[0])

/* Compressible but not trivial: runs of a few symbols with some noise. */
static uint8_t *sample(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len ? len : 1);
    cr_assert_not_null(p);
    srand(seed);
    for (size_t i = 0; i < len; i++)
        p[i] = (rand() % 8 == 0) ? (uint8_t)rand() : (uint8_t)('a' + (i / 13) % 5);
    return p;
}

Test(codecs, every_codec_round_trips_at_several_sizes)
{
    static const size_t sizes[] = { 0, 1, 100, 4096, 32 * 1024, 32 * 1024 + 1, 300000 };
    for (size_t c = 0; c < NCODECS; c++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t len = sizes[s];
            uint8_t *data = sample(len, (unsigned)(len + c));
            tb_buf_t z = tb_compress(codecs[c].codec, codecs[c].xerial, data, len);
            uint8_t *out = malloc(len + 1);
            size_t out_len = 12345;
            cr_assert_eq(rn_codec_decompress(codecs[c].codec, z.p, z.len, out, len + 1, &out_len),
                         0, "%s, %zu bytes", codecs[c].name, len);
            cr_assert_eq(out_len, len, "%s, %zu bytes", codecs[c].name, len);
            cr_assert_arr_eq(out, data, len, "%s, %zu bytes", codecs[c].name, len);
            free(out);
            free(z.p);
            free(data);
        }
    }
}

Test(codecs, output_exactly_at_the_bound_fits_and_one_byte_less_does_not)
{
    size_t len = 70000;
    uint8_t *data = sample(len, 7);
    uint8_t *out = malloc(len);
    for (size_t c = 0; c < NCODECS; c++) {
        tb_buf_t z = tb_compress(codecs[c].codec, codecs[c].xerial, data, len);
        size_t out_len = 0;
        cr_assert_eq(rn_codec_decompress(codecs[c].codec, z.p, z.len, out, len, &out_len), 0, "%s",
                     codecs[c].name);
        cr_assert_eq(out_len, len);
        cr_assert_arr_eq(out, data, len, "%s", codecs[c].name);
        cr_assert_eq(rn_codec_decompress(codecs[c].codec, z.p, z.len, out, len - 1, &out_len), -1,
                     "%s", codecs[c].name);
        cr_assert_eq(rn_codec_inflate(codecs[c].codec, z.p, z.len, out, len - 1, &out_len),
                     RN_CODEC_ETOOBIG, "%s: too big is told apart from invalid", codecs[c].name);
        free(z.p);
    }
    free(out);
    free(data);
}

Test(codecs, garbage_is_rejected_by_every_codec)
{
    uint8_t out[4096];
    size_t out_len;
    uint8_t garbage[512];
    srand(99);
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)rand();
    garbage[0] = 0xff; /* a raw snappy preamble claiming more than 4096 would be "too big" */
    garbage[1] = 0x01; /* instead: 255 bytes, then a body that is not snappy */
    for (size_t c = 0; c < NCODECS; c++) {
        cr_assert_eq(rn_codec_decompress(codecs[c].codec, garbage, sizeof garbage, out, sizeof out,
                                         &out_len),
                     -1, "%s", codecs[c].name);
        cr_assert_eq(rn_codec_decompress(codecs[c].codec, garbage, 0, out, sizeof out, &out_len),
                     -1, "%s, empty input", codecs[c].name);
    }
    cr_assert_eq(rn_codec_decompress(5, garbage, sizeof garbage, out, sizeof out, &out_len), -1,
                 "unknown codec");
}

Test(codecs, a_truncated_stream_never_decodes_to_the_whole)
{
    size_t len = 5000;
    uint8_t *data = sample(len, 3);
    uint8_t *out = malloc(len);
    for (size_t c = 0; c < NCODECS; c++) {
        tb_buf_t z = tb_compress(codecs[c].codec, codecs[c].xerial, data, len);
        for (size_t n = 0; n < z.len; n++) {
            size_t out_len = 0;
            int rc = rn_codec_decompress(codecs[c].codec, z.p, n, out, len, &out_len);
            cr_assert(rc == -1 || out_len < len, "%s: %zu of %zu bytes decoded whole",
                      codecs[c].name, n, z.len);
        }
        free(z.p);
    }
    free(out);
    free(data);
}

Test(codecs, flipped_bytes_never_crash_or_overrun)
{
    size_t len = 3000;
    uint8_t *data = sample(len, 5);
    uint8_t *out = malloc(len);
    for (size_t c = 0; c < NCODECS; c++) {
        tb_buf_t z = tb_compress(codecs[c].codec, codecs[c].xerial, data, len);
        for (size_t pos = 0; pos < z.len; pos++) {
            z.p[pos] ^= 0x5a;
            size_t out_len = 0;
            int rc = rn_codec_decompress(codecs[c].codec, z.p, z.len, out, len, &out_len);
            cr_assert(rc == -1 || out_len <= len);
            z.p[pos] ^= 0x5a;
        }
        free(z.p);
    }
    free(out);
    free(data);
}

Test(codecs, gzip_accepts_concatenated_members_and_rejects_trailing_bytes)
{
    tb_buf_t a = tb_compress(RN_CODEC_GZIP, false, (const uint8_t *)"hello ", 6);
    tb_buf_t b = tb_compress(RN_CODEC_GZIP, false, (const uint8_t *)"world", 5);
    tb_put(&a, b.p, b.len);
    uint8_t out[64];
    size_t out_len;
    cr_assert_eq(rn_codec_decompress(RN_CODEC_GZIP, a.p, a.len, out, sizeof out, &out_len), 0);
    cr_assert_eq(out_len, 11);
    cr_assert_arr_eq(out, "hello world", 11);
    tb_put(&a, "x", 1);
    cr_assert_eq(rn_codec_decompress(RN_CODEC_GZIP, a.p, a.len, out, sizeof out, &out_len), -1);
    free(a.p);
    free(b.p);
}

Test(codecs, xerial_with_a_bad_block_length_is_invalid)
{
    tb_buf_t z = tb_compress(RN_CODEC_SNAPPY, true, (const uint8_t *)"abcdefgh", 8);
    uint8_t out[64];
    size_t out_len;
    static const uint8_t bad_lengths[][4] = { { 0, 0, 0, 0 },
                                              { 0xff, 0xff, 0xff, 0xff },
                                              { 0x7f, 0, 0, 0 } };
    for (size_t i = 0; i < 3; i++) {
        memcpy(z.p + 16, bad_lengths[i], 4);
        cr_assert_eq(rn_codec_decompress(RN_CODEC_SNAPPY, z.p, z.len, out, sizeof out, &out_len),
                     -1, "case %zu", i);
    }
    free(z.p);
}

/* A snappy block expands at most 64/3 times (a 3-byte copy of 64 bytes), so a preamble that
 * claims more than that for the bytes that follow is garbage, not a bomb: it must be invalid
 * (CORRUPT_MESSAGE to a producer, as Kafka answers) and never "too big" (MESSAGE_TOO_LARGE). */
Test(codecs, snappy_preamble_beyond_any_expansion_is_invalid_not_too_big)
{
    uint8_t block[64] = { 0x80, 0x80, 0x80, 0x80, 0x04 }; /* preamble: 1 GiB */
    for (size_t i = 5; i < sizeof block; i++)
        block[i] = (uint8_t)(i * 37);
    uint8_t out[64];
    size_t out_len;
    cr_assert_eq(rn_codec_inflate(RN_CODEC_SNAPPY, block, sizeof block, out, sizeof out, &out_len),
                 RN_CODEC_EINVAL);
    /* The largest claim 59 bytes can back is still only "too big" for a small buffer. */
    block[0] = 0x92; /* 59 * 22 = 1298 = 0x512: varint 0x92 0x0a */
    block[1] = 0x0a;
    memmove(block + 2, block + 5, sizeof block - 5);
    cr_assert_eq(rn_codec_inflate(RN_CODEC_SNAPPY, block, 61, out, sizeof out, &out_len),
                 RN_CODEC_ETOOBIG);
}

Test(codecs, lz4_rejects_bytes_after_the_frame)
{
    tb_buf_t z = tb_compress(RN_CODEC_LZ4, false, (const uint8_t *)"abcdefgh", 8);
    tb_put(&z, "junk", 4);
    uint8_t out[64];
    size_t out_len;
    cr_assert_eq(rn_codec_decompress(RN_CODEC_LZ4, z.p, z.len, out, sizeof out, &out_len), -1);
    free(z.p);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* zstd without the content size in the frame header, as a streaming compressor writes it:
 * the decoder cannot refuse up front and must stop at the bound. */
static tb_buf_t zstd_without_content_size(const uint8_t *in, size_t len)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    cr_assert_not_null(cctx);
    cr_assert_not(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)));
    tb_buf_t out = { 0 };
    out.cap = ZSTD_compressBound(len);
    out.p = malloc(out.cap);
    ZSTD_inBuffer zin = { in, len, 0 };
    ZSTD_outBuffer zout = { out.p, out.cap, 0 };
    cr_assert_eq(ZSTD_compressStream2(cctx, &zout, &zin, ZSTD_e_end), 0);
    out.len = zout.pos;
    ZSTD_freeCCtx(cctx);
    return out;
}

Test(codecs, bombs_stop_at_the_bound, .timeout = 60)
{
    size_t big = 64u << 20, cap = 1u << 20;
    uint8_t *zeros = calloc(1, big); /* mmap'd zero pages: reading them costs no memory */
    cr_assert_not_null(zeros);
    uint8_t *out = malloc(cap);
    for (size_t c = 0; c <= NCODECS; c++) {
        bool streamed_zstd = c == NCODECS;
        int codec = streamed_zstd ? RN_CODEC_ZSTD : codecs[c].codec;
        const char *name = streamed_zstd ? "zstd without content size" : codecs[c].name;
        tb_buf_t z = streamed_zstd ? zstd_without_content_size(zeros, big)
                                   : tb_compress(codec, codecs[c].xerial, zeros, big);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        size_t out_len = 0;
        cr_assert_eq(rn_codec_inflate(codec, z.p, z.len, out, cap, &out_len), RN_CODEC_ETOOBIG,
                     "%s: %zu compressed bytes", name, z.len);
        double took = seconds_since(&t0);
        /* Generous, for sanitizer builds; decoding all 64 MiB of gzip takes several times this. */
        cr_assert_lt(took, 0.5, "%s took %.3f s", name, took);
        free(z.p);
    }
    free(out);
    free(zeros);
}

/* librdkafka's own compressed batches of the same ten records decode to the records section of
 * its uncompressed one (timestamps are deltas, and all ten share one millisecond). */
Test(codecs, librdkafka_golden_payloads_decode_to_the_uncompressed_records)
{
    static const struct {
        const uint8_t *batch;
        size_t len;
        int codec;
    } golden[] = {
        { golden_gzip, sizeof golden_gzip, RN_CODEC_GZIP },
        { golden_snappy, sizeof golden_snappy, RN_CODEC_SNAPPY },
        { golden_lz4, sizeof golden_lz4, RN_CODEC_LZ4 },
        { golden_zstd, sizeof golden_zstd, RN_CODEC_ZSTD },
        { golden_idempotent_lz4, sizeof golden_idempotent_lz4, RN_CODEC_LZ4 },
    };
    const uint8_t *want = golden_none + RN_BATCH_HEADER_LEN;
    size_t want_len = sizeof golden_none - RN_BATCH_HEADER_LEN;
    uint8_t out[2048];
    for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
        size_t out_len = 0;
        cr_assert_eq(golden[i].batch[22] & RN_BATCH_ATTR_CODEC_MASK, golden[i].codec);
        cr_assert_eq(rn_codec_decompress(golden[i].codec, golden[i].batch + RN_BATCH_HEADER_LEN,
                                         golden[i].len - RN_BATCH_HEADER_LEN, out, sizeof out,
                                         &out_len),
                     0, "golden %zu", i);
        cr_assert_eq(out_len, want_len, "golden %zu", i);
        cr_assert_arr_eq(out, want, want_len, "golden %zu", i);
    }
}
