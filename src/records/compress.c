/* SPDX-License-Identifier: Apache-2.0 */
/* The compressors, for the one place the broker writes compressed records itself: the cleaner
 * rebuilding a batch it keeps part of, in the batch's own codec. Each writes what Kafka 4.4's
 * broker writes for the codec at its default level (Compression.of(type).build()), so a
 * cleaned log reads the same to every client as one Kafka cleaned: the stream formats and
 * options below were read off Kafka 4.4's jars. The output buffer is sized from the
 * library's own worst-case bound for the input, compressed in one call, then shrunk. */
#include "records/records.h"

#include <limits.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "records/internal.h"
#include "util/err.h"

/* Kafka's default levels: gzip's is Deflater's default (6), lz4's is 9 (LZ4HC), zstd's 3. */
#define GZIP_LEVEL Z_DEFAULT_COMPRESSION
#define LZ4_LEVEL 9
#define ZSTD_LEVEL 3

/* snappy-java's SnappyOutputStream: magic, version 1, minimum compatible version 1, then each
 * 32 KiB of input as one raw block behind its big-endian int32 length. */
static const uint8_t xerial_header[16] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                           0,    0,   0,   1,   0,   0,   0,   1 };
#define XERIAL_BLOCK (32u << 10)

/* Gives back the unused tail of a buffer sized for the worst case; keeps it when realloc
 * cannot. */
static uint8_t *shrink(uint8_t *p, size_t len)
{
    uint8_t *q = realloc(p, len > 0 ? len : 1);
    return q != NULL ? q : p;
}

/* One gzip member. Java's GZIPOutputStream writes a fixed header (no name, mtime 0, XFL 0) and
 * since Java 16 OS 255 ("unknown"); zlib's own header says OS 3 (Unix) unless told otherwise,
 * so the header is set to Java's. XFL follows the level, 0 at the default, as Java's. */
static int gzip_deflate(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    z_stream z = { 0 };
    if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return RN_ENOMEM; /* Z_MEM_ERROR: the arguments are constants zlib accepts */
    gz_header gz = { .os = 255 };
    int rc = RN_ENOMEM;
    uint8_t *buf = NULL;
    if (deflateSetHeader(&z, &gz) != Z_OK)
        goto done;
    size_t cap = deflateBound(&z, (uLong)in_len);
    if ((buf = malloc(cap)) == NULL)
        goto done;
    z.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const-correct; it only reads */
    z.avail_in = (uInt)in_len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) { /* the bound makes one call enough */
        rc = RN_EINVAL;
        goto done;
    }
    *out_len = cap - z.avail_out;
    *out = shrink(buf, *out_len);
    buf = NULL;
    rc = 0;
done:
    free(buf);
    deflateEnd(&z);
    return rc;
}

static int snappy_xerial(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    size_t nblocks = (in_len + XERIAL_BLOCK - 1) / XERIAL_BLOCK;
    size_t block_cap = snappy_max_compressed_length(XERIAL_BLOCK);
    size_t cap = sizeof xerial_header + nblocks * (4 + block_cap);
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return RN_ENOMEM;
    memcpy(buf, xerial_header, sizeof xerial_header);
    size_t pos = sizeof xerial_header;
    for (size_t done = 0; done < in_len; done += XERIAL_BLOCK) {
        size_t n = in_len - done < XERIAL_BLOCK ? in_len - done : XERIAL_BLOCK;
        size_t clen = block_cap;
        if (snappy_compress((const char *)in + done, n, (char *)buf + pos + 4, &clen) !=
            SNAPPY_OK) {
            free(buf);
            return RN_EINVAL;
        }
        rn_store_be32(buf + pos, (uint32_t)clen);
        pos += 4 + clen;
    }
    *out_len = pos;
    *out = shrink(buf, pos);
    return 0;
}

/* Kafka's Lz4BlockOutputStream writes the standard frame with FLG 0x60 (version 1, independent
 * blocks, no block checksum, no content size, no content checksum) and BD 0x40 (64 KiB
 * blocks), blocks compressed by LZ4HC at the level, stored raw when that does not shrink them,
 * and the zero end mark. LZ4F with the same preferences writes the same frame layout. */
static int lz4_frame(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    LZ4F_preferences_t prefs = {
        .frameInfo = {
            .blockSizeID = LZ4F_max64KB,
            .blockMode = LZ4F_blockIndependent,
            .contentChecksumFlag = LZ4F_noContentChecksum,
            .blockChecksumFlag = LZ4F_noBlockChecksum,
            .contentSize = 0,
        },
        .compressionLevel = LZ4_LEVEL,
    };
    size_t cap = LZ4F_compressFrameBound(in_len, &prefs);
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return RN_ENOMEM;
    size_t n = LZ4F_compressFrame(buf, cap, in, in_len, &prefs);
    if (LZ4F_isError(n)) {
        free(buf);
        return RN_ENOMEM; /* the bound rules out a short buffer; LZ4F failed to allocate */
    }
    *out_len = n;
    *out = shrink(buf, n);
    return 0;
}

/* One zstd frame at level 3 as zstd-jni's ZstdOutputStream writes it for Kafka: no checksum,
 * and no content size in the header (the stream does not know it), so the frame declares the
 * level's window instead. */
static int zstd_frame(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (cctx == NULL)
        return RN_ENOMEM;
    size_t cap = ZSTD_compressBound(in_len);
    uint8_t *buf = malloc(cap);
    int rc = RN_ENOMEM;
    if (buf == NULL)
        goto done;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)))
        goto done;
    /* Streamed, as the stream does: input first, then the end. One ZSTD_e_end call with all
     * the input would tell libzstd the size, and it would shrink the window to fit. */
    ZSTD_inBuffer src = { in, in_len, 0 };
    ZSTD_outBuffer dst = { buf, cap, 0 };
    size_t left = ZSTD_compressStream2(cctx, &dst, &src, ZSTD_e_continue);
    if (ZSTD_isError(left) || src.pos != in_len)
        goto done;
    ZSTD_inBuffer none = { NULL, 0, 0 };
    left = ZSTD_compressStream2(cctx, &dst, &none, ZSTD_e_end);
    if (ZSTD_isError(left) || left != 0)
        goto done; /* the bound leaves room for the whole frame: only an allocation failed */
    size_t n = dst.pos;
    *out_len = n;
    *out = shrink(buf, n);
    buf = NULL;
    rc = 0;
done:
    free(buf);
    ZSTD_freeCCtx(cctx);
    return rc;
}

int rn_codec_compress(int codec, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    static const uint8_t nothing[1];
    if (in_len > INT32_MAX) /* no batch holds more; and zlib counts in uInt */
        return RN_EINVAL;
    if (in == NULL)
        in = nothing; /* an empty input may come without a buffer */
    switch (codec) {
    case RN_CODEC_NONE: {
        uint8_t *buf = malloc(in_len > 0 ? in_len : 1);
        if (buf == NULL)
            return RN_ENOMEM;
        if (in_len > 0)
            memcpy(buf, in, in_len);
        *out = buf;
        *out_len = in_len;
        return 0;
    }
    case RN_CODEC_GZIP:
        return gzip_deflate(in, in_len, out, out_len);
    case RN_CODEC_SNAPPY:
        return snappy_xerial(in, in_len, out, out_len);
    case RN_CODEC_LZ4:
        return lz4_frame(in, in_len, out, out_len);
    case RN_CODEC_ZSTD:
        return zstd_frame(in, in_len, out, out_len);
    default:
        return RN_EINVAL;
    }
}
