/* SPDX-License-Identifier: Apache-2.0 */
#include "clean_helpers.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/internal.h"
#include "records/records.h"
#include "util/clock.h"
#include "util/endian.h"

rn_log_config_t ct_config(int64_t segment_bytes)
{
    rn_log_config_t cfg = lt_config();
    cfg.compact = true;
    cfg.delete_enabled = false;
    cfg.segment_bytes = segment_bytes;
    cfg.min_cleanable_ratio = 0.01;
    cfg.delete_retention_ms = CT_RETENTION;
    return cfg;
}

rn_log_t *ct_open(const char *dir, const rn_log_config_t *cfg, bool clean)
{
    rn_log_t *log;
    int err = rn_log_open(dir, cfg, 0, -1, clean, &log);
    cr_assert_eq(err, 0, "open: %d", err);
    return log;
}

void ct_roll(rn_log_t *log)
{
    int before = lt_count_segments(log->dir);
    cr_assert_eq(rn_log_maintain(log, rn_clock_wall_ms() + 30LL * 86400000), 0);
    cr_assert_eq(lt_count_segments(log->dir), before + 1, "rolled");
}

void ct_tail(rn_log_t *log)
{
    const ct_kv_t tail = { CT_TAIL_KEY, CT_TAIL_KEY };
    ct_append(log, NULL, CT_PLAIN, &tail, 1);
}

void ct_model_free(ct_model_t *m)
{
    free(m->offset);
    free(m->kv);
    *m = (ct_model_t){ 0 };
}

static void model_push(ct_model_t *m, int64_t offset, ct_kv_t kv)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->offset = realloc(m->offset, m->cap * sizeof *m->offset);
        m->kv = realloc(m->kv, m->cap * sizeof *m->kv);
    }
    m->offset[m->n] = offset;
    m->kv[m->n++] = kv;
}

int64_t ct_append(rn_log_t *log, ct_model_t *m, ct_producer_t p, const ct_kv_t *kvs, size_t n)
{
    rn_batch_builder_t bb;
    rn_batch_builder_init(&bb);
    if (p.pid >= 0)
        rn_batch_builder_set_producer(&bb, p.pid, p.epoch, p.seq,
                                      p.txn ? RN_BATCH_ATTR_TRANSACTIONAL : 0);
    for (size_t i = 0; i < n; i++) {
        char key[24], val[24];
        int klen = snprintf(key, sizeof key, "key%d", kvs[i].key);
        int vlen = snprintf(val, sizeof val, "v%d", kvs[i].val);
        rn_bytes_t v = kvs[i].val < 0 ? (rn_bytes_t){ NULL, 0 }
                                      : (rn_bytes_t){ (const uint8_t *)val, (size_t)vlen };
        cr_assert_eq(rn_batch_builder_add(&bb, 1000 + (int64_t)i,
                                          (rn_bytes_t){ (const uint8_t *)key, (size_t)klen }, v),
                     0);
    }
    uint8_t *buf;
    size_t len;
    rn_records_summary_t sum;
    cr_assert_eq(rn_batch_builder_finish(&bb, &buf, &len, &sum), 0);
    rn_log_appended_t a;
    int rc = rn_log_append_batch(log, buf, len, &sum, &a);
    free(buf);
    cr_assert_eq(rc, 0, "append: %d", rc);
    cr_assert(!a.duplicate);
    for (size_t i = 0; m != NULL && i < n; i++)
        model_push(m, a.base_offset + (int64_t)i, kvs[i]);
    return a.base_offset;
}

void ct_fill(rn_log_t *log, ct_model_t *m, int nbatches, int per, int key0, int nkeys, int val0)
{
    ct_kv_t kvs[64];
    cr_assert(per <= 64);
    int i = 0;
    for (int b = 0; b < nbatches; b++) {
        for (int j = 0; j < per; j++, i++)
            kvs[j] = (ct_kv_t){ key0 + i % nkeys, val0 + i };
        ct_append(log, m, CT_PLAIN, kvs, (size_t)per);
    }
}

int64_t ct_marker(rn_log_t *log, int64_t pid, int16_t epoch, bool commit)
{
    int64_t off;
    bool sync;
    int rc = rn_log_append_marker(log, pid, epoch, 0, commit, CT_NOW, &off, &sync);
    cr_assert_eq(rc, 0, "marker: %d", rc);
    return off;
}

static int parse_int(rn_bytes_t b, const char *prefix)
{
    size_t plen = strlen(prefix);
    cr_assert(b.len > plen && b.len < 24 && memcmp(b.ptr, prefix, plen) == 0, "a %s... field",
              prefix);
    char s[24];
    memcpy(s, b.ptr + plen, b.len - plen);
    s[b.len - plen] = '\0';
    return atoi(s);
}

void ct_read_all(rn_log_t *log, ct_read_t *out)
{
    *out = (ct_read_t){ 0 };
    size_t bcap = 0, rcap = 0;
    int64_t start = rn_log_start_offset(log), offset = start, prev = -1;
    rn_record_iter_t it;
    rn_record_iter_init(&it, 1 << 24);
    for (int guard = 0;; guard++) {
        cr_assert_lt(guard, 100000);
        rn_log_slice_t s;
        cr_assert_eq(rn_log_read(log, offset, 1 << 24, &s), 0, "read at %" PRId64, offset);
        if (s.range.len == 0)
            break;
        uint8_t *buf = lt_read_range(&s.range);
        size_t pos = 0;
        while (pos < s.range.len) {
            rn_batch_header_t h;
            cr_assert_eq(rn_batch_parse_header(buf + pos, s.range.len - pos, &h), RN_DECODE_OK);
            size_t blen = rn_batch_size(&h);
            cr_assert_leq(blen, s.range.len - pos, "whole batches");
            cr_assert_gt(h.base_offset, prev, "offsets increase");
            if (out->nb == bcap) {
                bcap = bcap ? bcap * 2 : 64;
                out->b = realloc(out->b, bcap * sizeof *out->b);
            }
            bool control = (h.attributes & RN_BATCH_ATTR_CONTROL) != 0;
            out->b[out->nb] = (ct_batch_t){
                .base = h.base_offset,
                .last = h.base_offset + h.last_offset_delta,
                .attributes = h.attributes,
                .count = h.records_count,
                .pid = h.producer_id,
                .base_seq = h.base_sequence,
                .base_timestamp = h.base_timestamp,
                .marker = control && h.records_count > 0
                              ? rn_records_marker_type(buf + pos, blen, NULL)
                              : -1,
            };
            cr_assert_eq(rn_record_iter_start(&it, buf + pos, blen), 0, "%s", it.err);
            rn_record_t rec;
            int rc;
            while ((rc = rn_record_iter_next(&it, &rec)) == 1) {
                cr_assert_gt(rec.offset, prev, "offsets increase");
                prev = rec.offset;
                if (control || rec.offset < start)
                    continue;
                if (out->nr == rcap) {
                    rcap = rcap ? rcap * 2 : 256;
                    out->r = realloc(out->r, rcap * sizeof *out->r);
                }
                out->r[out->nr++] = (ct_rec_t){
                    .offset = rec.offset,
                    .key = parse_int(rec.key, "key"),
                    .val = rec.value.ptr == NULL ? -1 : parse_int(rec.value, "v"),
                    .batch = out->nb,
                };
            }
            cr_assert_eq(rc, 0, "%s", it.err);
            prev = out->b[out->nb].last;
            offset = prev + 1;
            out->nb++;
            pos += blen;
        }
        free(buf);
        s.range.release(s.range.owner);
    }
    rn_record_iter_deinit(&it);
}

void ct_read_free(ct_read_t *rd)
{
    free(rd->b);
    free(rd->r);
    *rd = (ct_read_t){ 0 };
}

size_t ct_find_key(const ct_read_t *rd, int key, const ct_rec_t **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < rd->nr; i++)
        if (rd->r[i].key == key) {
            if (n < cap)
                out[n] = &rd->r[i];
            n++;
        }
    return n;
}

void ct_assert_same(const ct_read_t *got, const ct_read_t *want)
{
    cr_assert_eq(got->nr, want->nr, "records: %zu, want %zu", got->nr, want->nr);
    cr_assert_eq(got->nb, want->nb, "batches: %zu, want %zu", got->nb, want->nb);
    for (size_t i = 0; i < got->nr; i++) {
        cr_assert_eq(got->r[i].offset, want->r[i].offset);
        cr_assert_eq(got->r[i].key, want->r[i].key);
        cr_assert_eq(got->r[i].val, want->r[i].val);
    }
    for (size_t i = 0; i < got->nb; i++) {
        cr_assert_eq(got->b[i].base, want->b[i].base);
        cr_assert_eq(got->b[i].last, want->b[i].last);
        cr_assert_eq(got->b[i].attributes, want->b[i].attributes);
        cr_assert_eq(got->b[i].base_timestamp, want->b[i].base_timestamp);
    }
}

void ct_assert_reads_everywhere(rn_log_t *log, const ct_read_t *rd)
{
    int64_t hw = rn_log_high_watermark(log);
    size_t k = 0;
    for (int64_t o = rn_log_start_offset(log); o < hw; o++) {
        while (k < rd->nb && rd->b[k].last < o)
            k++;
        rn_log_slice_t s;
        cr_assert_eq(rn_log_read(log, o, 1, &s), 0, "read at %" PRId64, o);
        if (k == rd->nb) {
            cr_assert_eq(s.range.len, 0, "nothing after the last batch (offset %" PRId64 ")", o);
            continue;
        }
        cr_assert_geq(s.range.len, RN_BATCH_HEADER_LEN, "offset %" PRId64, o);
        uint8_t *buf = lt_read_range(&s.range);
        rn_batch_header_t h;
        cr_assert_eq(rn_batch_parse_header(buf, s.range.len, &h), RN_DECODE_OK);
        cr_assert_eq(h.base_offset, rd->b[k].base,
                     "offset %" PRId64 ": batch at %" PRId64 ", want %" PRId64, o, h.base_offset,
                     rd->b[k].base);
        free(buf);
        s.range.release(s.range.owner);
    }
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The bases of the segment files in dir, sorted. */
static size_t bases(const char *dir, int64_t *out, size_t cap)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len == 24 && strcmp(de->d_name + 20, ".log") == 0) {
            cr_assert_lt(n, cap);
            out[n++] = strtoll(de->d_name, NULL, 10);
        }
    }
    closedir(d);
    qsort(out, n, sizeof *out, cmp64);
    return n;
}

void ct_assert_indexes_point_at_batches(const char *dir)
{
    int64_t b[512];
    size_t n = bases(dir, b, 512);
    for (size_t i = 0; i < n; i++) {
        char ipath[4096], lpath[4096];
        snprintf(ipath, sizeof ipath, "%s", lt_seg_path(dir, b[i], ".index"));
        snprintf(lpath, sizeof lpath, "%s", lt_seg_path(dir, b[i], ".log"));
        int ifd = open(ipath, O_RDONLY), lfd = open(lpath, O_RDONLY);
        cr_assert(ifd >= 0 && lfd >= 0);
        uint8_t e[8];
        int64_t prev_pos = -1;
        while (read(ifd, e, sizeof e) == (ssize_t)sizeof e) {
            uint32_t rel = rn_load_be32(e), pos = rn_load_be32(e + 4);
            if (rel == 0 && pos == 0 && prev_pos >= 0)
                break; /* preallocated tail of the active segment's index */
            cr_assert_gt((int64_t)pos, prev_pos, "index positions increase");
            prev_pos = pos;
            uint8_t h[8];
            cr_assert_eq(pread(lfd, h, sizeof h, pos), (ssize_t)sizeof h);
            cr_assert_eq((int64_t)rn_load_be64(h), b[i] + rel,
                         "segment %" PRId64 ": index entry %u at %u", b[i], rel, pos);
        }
        close(ifd);
        close(lfd);
    }
}

rn_log_cleaner_t *ct_cleaner(size_t dedupe_bytes, double load_factor)
{
    rn_log_cleaner_options_t opt = {
        .dedupe_bytes = dedupe_bytes,
        .load_factor = load_factor > 0 ? load_factor : 0.9,
        .io_buffer_bytes = 4096,
    };
    return rn_log_cleaner_new(&opt);
}

void ct_round(rn_log_t *log, rn_log_cleaner_t *c, int64_t now_ms, rn_log_clean_stats_t *st)
{
    rn_log_cleanable_t plan;
    bool due = rn_log_cleanable(log, now_ms, &plan);
    cr_assert(due, "a round is due: dirty %ld..%ld, %ld bytes clean, %ld dirty",
              (long)plan.first_dirty, (long)plan.first_uncleanable, (long)plan.clean_bytes,
              (long)plan.dirty_bytes);
    int err = rn_log_clean(log, c, &plan, now_ms, st);
    cr_assert_eq(err, 0, "clean: %d", err);
    cr_assert_gt(st->end_offset, plan.first_dirty, "the round got somewhere");
    cr_assert_leq(st->end_offset, plan.first_uncleanable);
    rn_log_set_cleaner_checkpoint(log, st->end_offset);
}

int64_t ct_last_base(const char *dir)
{
    int64_t b[512];
    size_t n = bases(dir, b, 512);
    cr_assert_gt(n, 0);
    return b[n - 1];
}

int64_t ct_log_bytes(const char *dir)
{
    int64_t b[512], total = 0;
    size_t n = bases(dir, b, 512);
    for (size_t i = 0; i < n; i++)
        total += lt_file_size(lt_seg_path(dir, b[i], ".log"));
    return total;
}

void ct_copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(in >= 0 && out >= 0, "copy %s", src);
    uint8_t buf[8192];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        cr_assert_eq(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

void ct_remove_snapshots(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > 9 && strcmp(de->d_name + len - 9, ".snapshot") == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            cr_assert_eq(unlink(path), 0);
        }
    }
    closedir(d);
}

bool ct_any_file_ending(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *de;
    bool found = false;
    size_t slen = strlen(suffix);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > slen && strcmp(de->d_name + len - slen, suffix) == 0)
            found = true;
    }
    closedir(d);
    return found;
}
