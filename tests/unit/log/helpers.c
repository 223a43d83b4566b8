/* SPDX-License-Identifier: Apache-2.0 */
/* Batches are written from the protocol guide's RecordBatch layout, independently of
 * src/records/ and of the records room's own test builder. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "records/records.h"

void lt_put(lt_buf_t *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        cr_assert_not_null(b->p);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

void lt_buf_free(lt_buf_t *b)
{
    free(b->p);
    *b = (lt_buf_t){ 0 };
}

static void put_u8(lt_buf_t *b, uint8_t v)
{
    lt_put(b, &v, 1);
}

static void put_be(lt_buf_t *b, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        put_u8(b, (uint8_t)(v >> (8 * i)));
}

static void put_varint(lt_buf_t *b, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (u >= 0x80) {
        put_u8(b, (uint8_t)(u | 0x80));
        u >>= 7;
    }
    put_u8(b, (uint8_t)u);
}

static void set_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static lt_buf_t gzip(const uint8_t *in, size_t len)
{
    lt_buf_t out = { 0 };
    z_stream z = { 0 };
    cr_assert_eq(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                              Z_DEFAULT_STRATEGY),
                 Z_OK);
    out.cap = deflateBound(&z, (uLong)len) + 64;
    out.p = malloc(out.cap);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = out.p;
    z.avail_out = (uInt)out.cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.len = z.total_out;
    deflateEnd(&z);
    return out;
}

void lt_batch(lt_buf_t *b, const lt_spec_t *spec)
{
    int64_t base_ts = spec->timestamps ? spec->timestamps[0] : spec->first_ts;
    int64_t max_ts = -1;
    lt_buf_t recs = { 0 };
    for (int i = 0; i < spec->nrecords; i++) {
        int64_t ts = spec->timestamps ? spec->timestamps[i] : spec->first_ts + i;
        if (ts > max_ts)
            max_ts = ts;
        lt_buf_t body = { 0 };
        put_u8(&body, 0);
        put_varint(&body, ts - base_ts);
        put_varint(&body, i);
        char key[16];
        int n = snprintf(key, sizeof(key), "k%d", i);
        put_varint(&body, n);
        lt_put(&body, key, (size_t)n);
        put_varint(&body, (int64_t)spec->value_len);
        for (size_t j = 0; j < spec->value_len; j++)
            put_u8(&body, spec->fill ? spec->fill : (uint8_t)(i * 13 + j));
        put_varint(&body, 0); /* headers */
        put_varint(&recs, (int64_t)body.len);
        lt_put(&recs, body.p, body.len);
        lt_buf_free(&body);
    }
    if (spec->codec == RN_CODEC_GZIP) {
        lt_buf_t z = gzip(recs.p, recs.len);
        lt_buf_free(&recs);
        recs = z;
    }
    if (spec->log_append_time)
        max_ts = spec->first_ts;
    int16_t attributes =
        (int16_t)(spec->codec | (spec->log_append_time ? RN_BATCH_ATTR_LOG_APPEND_TIME : 0));

    size_t start = b->len;
    put_be(b, 0, 8);                         /* base_offset */
    put_be(b, (uint64_t)(49 + recs.len), 4); /* batch_length */
    put_be(b, 0, 4);                         /* partition_leader_epoch */
    put_u8(b, 2);                            /* magic */
    put_be(b, 0, 4);                         /* crc, below */
    put_be(b, (uint64_t)(uint16_t)attributes, 2);
    put_be(b, (uint64_t)(spec->nrecords - 1), 4); /* last_offset_delta */
    put_be(b, (uint64_t)base_ts, 8);
    put_be(b, (uint64_t)max_ts, 8);
    put_be(b, (uint64_t)-1, 8); /* producer_id */
    put_be(b, (uint64_t)-1, 2); /* producer_epoch */
    put_be(b, (uint64_t)-1, 4); /* base_sequence */
    put_be(b, (uint64_t)spec->nrecords, 4);
    lt_put(b, recs.p, recs.len);
    lt_buf_free(&recs);
    uint8_t *batch = b->p + start;
    set_be32(batch + 17, rn_crc32c(0, batch + 21, b->len - start - 21));
}

void lt_simple(lt_buf_t *b, int nrecords, size_t value_len, int64_t first_ts)
{
    lt_spec_t spec = { .nrecords = nrecords, .first_ts = first_ts, .value_len = value_len };
    lt_batch(b, &spec);
}

rn_records_summary_t lt_summary(const uint8_t *p, size_t len)
{
    rn_records_summary_t sum = { .max_timestamp = -1 };
    size_t pos = 0;
    rn_batch_header_t h;
    while (pos < len) {
        cr_assert_eq(rn_batch_parse_header(p + pos, len - pos, &h), RN_DECODE_OK);
        int64_t count = h.last_offset_delta + 1;
        if (h.max_timestamp > sum.max_timestamp) {
            sum.max_timestamp = h.max_timestamp;
            sum.max_timestamp_delta = sum.nrecords + h.last_offset_delta;
        }
        sum.nbatches++;
        sum.nrecords += count;
        pos += rn_batch_size(&h);
    }
    return sum;
}

int64_t lt_append(rn_log_t *log, const uint8_t *p, size_t len)
{
    uint8_t *copy = malloc(len);
    memcpy(copy, p, len);
    rn_records_summary_t sum = lt_summary(copy, len);
    int64_t base = -1;
    bool sync_needed = false;
    int err = rn_log_append(log, copy, len, &sum, &base, &sync_needed);
    cr_assert_eq(err, 0, "append: %d", err);
    free(copy);
    return base;
}

uint8_t *lt_read_range(const rn_file_range_t *range)
{
    uint8_t *buf = malloc(range->len ? range->len : 1);
    size_t got = 0;
    while (got < range->len) {
        ssize_t n =
            pread(range->fd, buf + got, range->len - got, (off_t)(range->pos + (int64_t)got));
        cr_assert_gt(n, 0, "pread of a range");
        got += (size_t)n;
    }
    return buf;
}

char *lt_tmpdir(void)
{
    char tmpl[] = "/tmp/runnel-log-test-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

void lt_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            lt_rmtree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

void lt_copydir(const char *src, const char *dst)
{
    cr_assert_eq(mkdir(dst, 0755), 0);
    DIR *d = opendir(src);
    cr_assert_not_null(d);
    struct dirent *de;
    static uint8_t buf[1 << 16];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char from[4096], to[4096];
        snprintf(from, sizeof(from), "%s/%s", src, de->d_name);
        snprintf(to, sizeof(to), "%s/%s", dst, de->d_name);
        int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        cr_assert(in >= 0 && out >= 0);
        ssize_t n;
        while ((n = read(in, buf, sizeof(buf))) > 0)
            cr_assert_eq(write(out, buf, (size_t)n), n);
        close(in);
        close(out);
    }
    closedir(d);
}

int64_t lt_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

const char *lt_seg_path(const char *dir, int64_t base, const char *suffix)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%020" PRId64 "%s", dir, base, suffix);
    return path;
}

int lt_count_segments(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len == 24 && strcmp(de->d_name + 20, ".log") == 0)
            n++;
    }
    closedir(d);
    return n;
}

rn_log_config_t lt_config(void)
{
    rn_log_config_t cfg;
    rn_log_config_defaults(&cfg);
    cfg.retention_ms = -1;
    cfg.index_interval_bytes = 256;
    cfg.max_index_bytes = 4096;
    return cfg;
}
