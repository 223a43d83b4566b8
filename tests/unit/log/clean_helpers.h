/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the cleaner's tests (test_cleaner*.c): compacted logs in scratch directories,
 * batches of records with keys "key<k>" and values "v<n>" (or null: a tombstone), producers'
 * and transactional batches, a model of what was written, and everything read back through
 * rn_log_read and rn_record_iter as a consumer would see it. */
#ifndef RN_TESTS_LOG_CLEAN_HELPERS_H
#define RN_TESTS_LOG_CLEAN_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "helpers.h"
#include "log/log.h"

/* The cleaner's clock in these tests: record timestamps are far below it. */
#define CT_NOW 1700000000000LL
#define CT_RETENTION 10000 /* delete.retention.ms */

/* A compacted log's settings: min.cleanable.dirty.ratio 0.01, delete.retention.ms 10 s. */
rn_log_config_t ct_config(int64_t segment_bytes);
rn_log_t *ct_open(const char *dir, const rn_log_config_t *cfg, bool clean);
/* Rolls the active segment now (segment.ms through rn_log_maintain); it must not be empty. */
void ct_roll(rn_log_t *log);
/* Appends one plain record (key CT_TAIL_KEY) after a roll: the active segment then holds the log's
 * last batch, as in Kafka, and every sealed segment is cleanable. */
#define CT_TAIL_KEY 9999
void ct_tail(rn_log_t *log);

/* One record written: key k, value v (-1: null, a tombstone). */
typedef struct ct_kv {
    int key, val;
} ct_kv_t;

/* What was written, record by record, for the expectations. */
typedef struct ct_model {
    int64_t *offset;
    ct_kv_t *kv;
    size_t n, cap;
} ct_model_t;
void ct_model_free(ct_model_t *m);

/* Who writes a batch: no producer (pid -1), or a producer's sequence, transactional or not. */
typedef struct ct_producer {
    int64_t pid;
    int16_t epoch;
    int32_t seq;
    bool txn;
} ct_producer_t;
#define CT_PLAIN ((ct_producer_t){ -1, -1, -1, false })

/* Appends one batch of kvs[0..n); records it in `m` (may be NULL). Returns its base offset. */
int64_t ct_append(rn_log_t *log, ct_model_t *m, ct_producer_t p, const ct_kv_t *kvs, size_t n);
/* `nbatches` batches of `per` records with keys key0 + i % nkeys and values val0 + i (i counts
 * records from 0). */
void ct_fill(rn_log_t *log, ct_model_t *m, int nbatches, int per, int key0, int nkeys, int val0);
/* A transaction marker; returns its offset. */
int64_t ct_marker(rn_log_t *log, int64_t pid, int16_t epoch, bool commit);

/* Everything readable from the log start, batch by batch. */
typedef struct ct_batch {
    int64_t base, last;
    int16_t attributes;
    int32_t count;
    int64_t pid;
    int32_t base_seq;
    int64_t base_timestamp;
    int marker; /* RN_MARKER_* of a control batch, else -1 */
} ct_batch_t;
typedef struct ct_rec {
    int64_t offset;
    int key, val;
    size_t batch; /* index in ct_read_t.b */
} ct_rec_t;
typedef struct ct_read {
    ct_batch_t *b;
    size_t nb;
    ct_rec_t *r;
    size_t nr;
} ct_read_t;
/* Reads the whole log from its start (asserting increasing offsets, whole batches, records
 * that walk); ct_read_free frees it. */
void ct_read_all(rn_log_t *log, ct_read_t *out);
void ct_read_free(ct_read_t *rd);
/* The records of key k read, in order; at most cap written to out, the count returned. */
size_t ct_find_key(const ct_read_t *rd, int key, const ct_rec_t **out, size_t cap);
/* The read equals `want` (same records, same order, same batches' offsets). */
void ct_assert_same(const ct_read_t *got, const ct_read_t *want);

/* rn_log_read at every offset of [start, hw) finds the first batch read that ends at or after
 * it (through the offset index and across gaps). */
void ct_assert_reads_everywhere(rn_log_t *log, const ct_read_t *rd);
/* Every .index entry of every segment in dir points at a batch starting at its offset. */
void ct_assert_indexes_point_at_batches(const char *dir);

/* A cleaner with a dedupe buffer of `dedupe_bytes` (load factor 0.9 unless given). */
rn_log_cleaner_t *ct_cleaner(size_t dedupe_bytes, double load_factor);
/* rn_log_cleanable must say due; runs the round at now_ms, asserts success and checkpoints
 * the end offset as the broker's cleaner does. */
void ct_round(rn_log_t *log, rn_log_cleaner_t *c, int64_t now_ms, rn_log_clean_stats_t *st);

/* The base offset of the last segment file in dir (the active one), and the sum of .log sizes. */
int64_t ct_last_base(const char *dir);
int64_t ct_log_bytes(const char *dir);
/* Copies file src to dst (overwriting). */
void ct_copy_file(const char *src, const char *dst);
/* Removes every *.snapshot in dir. */
void ct_remove_snapshots(const char *dir);
/* Whether any file name in dir ends with `suffix`. */
bool ct_any_file_ending(const char *dir, const char *suffix);

#endif
