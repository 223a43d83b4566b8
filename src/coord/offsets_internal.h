/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/coord/offsets*.c: the offsets struct and the helpers shared by
 *   offsets.c         the map of committed offsets, commits, fetches, deletions, expiry and the
 *                     list of commits on their way;
 *   offsets_txn.c     transactional offsets (TxnOffsetCommit): held per producer until a marker
 *                     commits or aborts them;
 *   offsets_record.c  OffsetCommitKey / OffsetCommitValue encoding and decoding (declared in
 *                     offsets.h: the store's loader and the tests use them too).
 * The map's group and entry types stay inside offsets.c: only the map code walks them. */
#ifndef RN_COORD_OFFSETS_INTERNAL_H
#define RN_COORD_OFFSETS_INTERNAL_H

#include <pthread.h>
#include <string.h>

#include "coord/offsets.h"
#include "coord/store.h"
#include "util/hmap.h"

/* One offset a transaction holds. The strings live in the same allocation, after the struct. */
typedef struct rn_offsets_txn_offset {
    struct rn_offsets_txn_offset *next;
    int64_t producer_id;
    int32_t store_partition; /* the group's __consumer_offsets partition */
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    int64_t commit_timestamp;
    size_t group_len, topic_len, metadata_len;
    char text[]; /* group, topic, metadata */
} rn_offsets_txn_offset_t;

struct rn_offsets {
    rn_store_t *store;
    int64_t retention_ms;
    pthread_mutex_t lock; /* the map lock: groups and everything in them */
    rn_hmap_t groups;     /* seeded: clients choose group ids and topic names */
    size_t noffsets;
    rn_offsets_pending_t *pending; /* commits on their way (few: one per request in flight) */
    rn_offsets_txn_offset_t *txn_offsets; /* held for open transactions, oldest first */
    size_t ntxn_offsets;
    int64_t last_expire;
    int32_t nwrite_locks;
    pthread_mutex_t *write_locks; /* one per __consumer_offsets partition */
};

/* Whether the `alen` bytes at `a` are the string `b`. */
static inline bool rn_offsets_str_eq(const char *a, size_t alen, rn_str_t b)
{
    return alen == b.len && (alen == 0 || memcmp(a, b.ptr, alen) == 0);
}

/* ---- offsets.c ---- */

/* Inserts or overwrites; `value->metadata` is copied. Under the map lock. */
void rn_offsets_upsert(rn_offsets_t *offsets, rn_str_t group_id, rn_str_t topic, int32_t partition,
                       const rn_offsets_value_t *value);
/* The write lock of the group's __consumer_offsets partition: held from a group's append to
 * the memory update, so that the memory follows the log's order. */
pthread_mutex_t *rn_offsets_write_lock(rn_offsets_t *offsets, rn_str_t group_id);

/* A commit's records, encoded: one allocation of keys and values, the records pointing into it,
 * and the values decoded as they will be applied. */
typedef struct rn_offsets_encoded {
    rn_store_record_t *recs;
    rn_offsets_value_t *values;
    uint8_t *bytes;
} rn_offsets_encoded_t;

/* Encodes `n` commits of the group into *out (a commit timestamp of -1 becomes `now_ms`).
 * Returns 0, RN_EINVAL (a string too long for the record layout, or more than INT32_MAX bytes
 * in all) or RN_ENOMEM; on success the caller frees *out with rn_offsets_encoded_free. */
int rn_offsets_encode_commits(rn_str_t group_id, const rn_offsets_commit_t *commits, size_t n,
                              int64_t now_ms, rn_offsets_encoded_t *out);
void rn_offsets_encoded_free(rn_offsets_encoded_t *e);

/* ---- offsets_txn.c ---- */

/* Whether an open transaction holds an offset for the group's `topic`/`partition`. Under the
 * map lock. */
bool rn_offsets_txn_holds(const rn_offsets_t *offsets, rn_str_t group_id, rn_str_t topic,
                          int32_t partition);

#endif
