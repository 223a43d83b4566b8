/* SPDX-License-Identifier: Apache-2.0 */
/* Decompression of batch payloads, for validation and for readers of the log (the compressors
 * the cleaner needs are in compress.c). Every codec writes into one caller-owned flat buffer and
 * stops the moment the output would pass `cap`, so a small payload that claims (or really holds)
 * gigabytes costs at most `cap` bytes of work and no allocation sized by the sender. Sizes a
 * frame declares about itself (gzip ISIZE, lz4/zstd content size, snappy's preamble) are at
 * most an early "too big"; they never size anything. */
#include "records/records.h"

#include <limits.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h> /* ZSTD_getErrorCode(), a stable API */

#include "records/internal.h"

/* gzip (RFC 1952) as java.util.zip.GZIPOutputStream and librdkafka write it. Concatenated
 * members are accepted, as GZIPInputStream does; anything else after the last one is not. */
static int gzip_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len)
{
    z_stream z = { 0 };
    if (in_len > UINT_MAX)
        return RN_CODEC_EINVAL;                   /* a batch is at most 2 GiB, so this is not one */
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) /* 16: gzip wrapper, not zlib or raw */
        return RN_CODEC_EINVAL;
    z.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const-correct; it only reads */
    z.avail_in = (uInt)in_len;
    size_t pos = 0;
    int err;
    for (;;) {
        size_t room = cap - pos;
        z.next_out = out + pos;
        z.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt avail_out_before = z.avail_out, avail_in_before = z.avail_in;
        int ret = inflate(&z, Z_NO_FLUSH);
        pos += avail_out_before - z.avail_out;
        if (ret == Z_STREAM_END) {
            if (z.avail_in == 0) {
                err = 0;
                break;
            }
            if (z.avail_in < 2 || z.next_in[0] != 0x1f || z.next_in[1] != 0x8b) {
                err = RN_CODEC_EINVAL; /* trailing bytes that are not another member */
                break;
            }
            inflateReset(&z);
            continue;
        }
        if (ret != Z_OK && ret != Z_BUF_ERROR) {
            err = RN_CODEC_EINVAL; /* Z_DATA_ERROR, Z_NEED_DICT, Z_MEM_ERROR */
            break;
        }
        if (z.avail_out == avail_out_before && z.avail_in == avail_in_before) {
            /* No progress: either there is no room left for what comes next, or the input
             * ended before the stream did. */
            err = pos == cap ? RN_CODEC_ETOOBIG : RN_CODEC_EINVAL;
            break;
        }
    }
    inflateEnd(&z);
    if (err == 0)
        *out_len = pos;
    return err;
}

/* No snappy element expands more than this: a 3-byte copy makes at most 64 bytes. */
#define SNAPPY_MAX_EXPANSION 22

/* One raw snappy block. The preamble states the uncompressed length; snappy_uncompress()
 * checks the block against it, so the preamble bounds the work as well as the output. A
 * preamble claiming more than the block could ever make is garbage, not a bomb. */
static int snappy_block(const uint8_t *in, size_t in_len, uint8_t *out, size_t room, size_t *n)
{
    size_t want;
    if (snappy_uncompressed_length((const char *)in, in_len, &want) != SNAPPY_OK)
        return RN_CODEC_EINVAL;
    if (want / SNAPPY_MAX_EXPANSION > in_len)
        return RN_CODEC_EINVAL;
    if (want > room)
        return RN_CODEC_ETOOBIG;
    if (snappy_uncompress((const char *)in, in_len, (char *)out, &want) != SNAPPY_OK)
        return RN_CODEC_EINVAL;
    *n = want;
    return 0;
}

static const uint8_t xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
#define XERIAL_HEADER_LEN 16 /* magic, version int32, compatible version int32 */

/* Java clients compress with org.xerial.snappy.SnappyOutputStream: the header above, then
 * blocks of [int32 compressed length][raw block]. librdkafka sends a bare raw block, and
 * reads both, as we do; a raw block cannot start with 0x82 'S' 'N' and still be valid in
 * practice, which is how Kafka's own reader tells them apart too. */
static int snappy_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
                          size_t *out_len)
{
    if (in_len < XERIAL_HEADER_LEN || memcmp(in, xerial_magic, sizeof xerial_magic) != 0)
        return snappy_block(in, in_len, out, cap, out_len);

    rn_reader_t r;
    rn_reader_init(&r, in + XERIAL_HEADER_LEN, in_len - XERIAL_HEADER_LEN);
    size_t pos = 0;
    while (rn_reader_left(&r) > 0) {
        int32_t block_len = rn_read_int32(&r, "xerial block length");
        if (!rn_reader_ok(&r) || block_len <= 0)
            return RN_CODEC_EINVAL;
        rn_reader_t block = rn_reader_split(&r, (size_t)block_len, "xerial block");
        if (!rn_reader_ok(&block))
            return RN_CODEC_EINVAL;
        size_t n;
        int err = snappy_block(block.cur, rn_reader_left(&block), out + pos, cap - pos, &n);
        if (err != 0)
            return err;
        pos += n;
    }
    *out_len = pos;
    return 0;
}

/* One LZ4 frame (Kafka's KafkaLZ4BlockOutputStream and librdkafka both write the standard
 * frame format for magic 2). LZ4F checks the block and content checksums when present. */
static int lz4_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len)
{
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return RN_CODEC_EINVAL;
    /* stableDst: earlier output stays where it is, so LZ4F may use it as the dictionary
     * instead of copying it aside. */
    LZ4F_decompressOptions_t opts = { .stableDst = 1 };
    size_t ipos = 0, pos = 0;
    int err;
    for (;;) {
        size_t dst_len = cap - pos, src_len = in_len - ipos;
        size_t hint = LZ4F_decompress(dctx, out + pos, &dst_len, in + ipos, &src_len, &opts);
        if (LZ4F_isError(hint)) {
            err = RN_CODEC_EINVAL;
            break;
        }
        ipos += src_len;
        pos += dst_len;
        if (hint == 0) { /* the frame is complete */
            err = ipos == in_len ? 0 : RN_CODEC_EINVAL;
            break;
        }
        if (src_len == 0 && dst_len == 0) {
            err = pos == cap ? RN_CODEC_ETOOBIG : RN_CODEC_EINVAL;
            break;
        }
    }
    LZ4F_freeDecompressionContext(dctx);
    if (err == 0)
        *out_len = pos;
    return err;
}

/* zstd in one pass into the flat buffer: the buffer is the window, so a frame that asks for
 * a 128 MiB window (the library's default limit for streaming) costs no window allocation.
 * The frame's content size is never used to size anything; libzstd fails with
 * dstSize_tooSmall as soon as the output would pass `cap`, and checks the content size and
 * checksum it declares. Several frames and skippable frames are accepted. */
static int zstd_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len)
{
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (dctx == NULL)
        return RN_CODEC_EINVAL;
    size_t n = ZSTD_decompressDCtx(dctx, out, cap, in, in_len);
    ZSTD_freeDCtx(dctx);
    if (ZSTD_isError(n))
        return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? RN_CODEC_ETOOBIG
                                                                   : RN_CODEC_EINVAL;
    *out_len = n;
    return 0;
}

int rn_codec_inflate(int codec, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
                     size_t *out_len)
{
    uint8_t none;
    if (cap == 0)
        out = &none; /* zlib refuses a NULL output even when there is no room in it */
    /* No compressor writes an empty stream; zstd alone would read it as zero frames. */
    if (codec != RN_CODEC_NONE && in_len == 0)
        return RN_CODEC_EINVAL;
    switch (codec) {
    case RN_CODEC_NONE:
        if (in_len > cap)
            return RN_CODEC_ETOOBIG;
        if (in_len > 0)
            memcpy(out, in, in_len);
        *out_len = in_len;
        return 0;
    case RN_CODEC_GZIP:
        return gzip_inflate(in, in_len, out, cap, out_len);
    case RN_CODEC_SNAPPY:
        return snappy_inflate(in, in_len, out, cap, out_len);
    case RN_CODEC_LZ4:
        return lz4_inflate(in, in_len, out, cap, out_len);
    case RN_CODEC_ZSTD:
        return zstd_inflate(in, in_len, out, cap, out_len);
    default:
        return RN_CODEC_EINVAL;
    }
}

int rn_codec_decompress(int codec, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    return rn_codec_inflate(codec, in, in_len, out, cap, out_len) == 0 ? 0 : -1;
}
