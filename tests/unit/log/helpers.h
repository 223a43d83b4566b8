/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the log room's tests: record batch v2 bytes built by hand (uncompressed or gzip)
 * with their CRC-32C, the summary rn_records_validate would give, and scratch directories.
 * Compiled once (helpers.c) into each log test executable. */
#ifndef RN_TESTS_LOG_HELPERS_H
#define RN_TESTS_LOG_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/log.h"

typedef struct lt_buf {
    uint8_t *p;
    size_t len, cap;
} lt_buf_t;

void lt_put(lt_buf_t *b, const void *data, size_t n);
void lt_buf_free(lt_buf_t *b);

/* What a batch holds. Record i has timestamp timestamps[i] (or first_ts + i when timestamps is
 * NULL), key "k<i>" and a value of value_len bytes of `fill` (fill 0: a pattern varying with i). */
typedef struct lt_spec {
    int nrecords;
    const int64_t *timestamps;
    int64_t first_ts;
    size_t value_len;
    uint8_t fill;
    int codec;            /* RN_CODEC_NONE or RN_CODEC_GZIP */
    bool log_append_time; /* attribute bit 3; max_timestamp is then first_ts */
} lt_spec_t;

/* Appends one batch (base offset 0) to `b`. */
void lt_batch(lt_buf_t *b, const lt_spec_t *spec);
/* A batch of n records with values of value_len bytes, timestamps from first_ts. */
void lt_simple(lt_buf_t *b, int nrecords, size_t value_len, int64_t first_ts);
/* The summary of a blob of batches, as rn_records_validate computes it. */
rn_records_summary_t lt_summary(const uint8_t *p, size_t len);
/* Appends a copy of the blob and asserts success; returns the base offset. */
int64_t lt_append(rn_log_t *log, const uint8_t *p, size_t len);
/* Reads a range's bytes (pread from its fd) into a new buffer; releases nothing. */
uint8_t *lt_read_range(const rn_file_range_t *range);

/* A fresh directory under /tmp; lt_rmtree removes a directory of plain files (one level deep
 * when `nested`). */
char *lt_tmpdir(void);
void lt_rmtree(const char *dir);
/* Copies the plain files of `src` into a new directory `dst`. */
void lt_copydir(const char *src, const char *dst);
/* Size of a file, -1 when missing. */
int64_t lt_file_size(const char *path);
/* "<dir>/<20-digit base><suffix>" into a static buffer. */
const char *lt_seg_path(const char *dir, int64_t base, const char *suffix);
/* Number of .log files in dir. */
int lt_count_segments(const char *dir);

/* A config for small tests: tiny segments and indexes where asked, no retention. */
rn_log_config_t lt_config(void);

#endif
