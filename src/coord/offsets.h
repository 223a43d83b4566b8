/* SPDX-License-Identifier: Apache-2.0 */
/* Committed offsets per group, topic and partition, persisted as OffsetCommitKey (version 1)
 * and OffsetCommitValue (version 3) records in __consumer_offsets, and kept in memory (hash
 * maps: groups, then topic and partition) for OffsetFetch. Kafka's rules: the latest commit
 * wins; a tombstone (null value) deletes.
 *
 * Retention (offsets.retention.minutes, KIP-211): an offset expires once its group is empty
 * and the retention has passed both since its commit and since this broker first saw the group
 * empty (the moment a group became empty is not persisted, so after a restart the clock starts
 * again: offsets are kept longer, never shorter). A v1 value's expire timestamp, when set, is
 * honoured instead, for empty groups too.
 *
 * Threads: every function is safe from any thread. A map lock guards the memory, held for a
 * few instructions. Changes are also serialized per __consumer_offsets partition by a write
 * lock held across the append and the memory update (as the log's own append lock is held
 * across its write): that keeps memory in the order of the log, which is the order a restart
 * sees. Order: write lock, then map lock; callbacks (is_empty, each_group's fn) run with no
 * write lock held. */
#ifndef RN_COORD_OFFSETS_H
#define RN_COORD_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/coord.h"
#include "util/arena.h"
#include "util/bytes.h"

/* ---- record layouts (Kafka's group-coordinator OffsetCommitKey / OffsetCommitValue) ----
 * Both start with an INT16 version. Key versions 0 and 1: group STRING, topic STRING, partition
 * INT32 (version 2 is GroupMetadataKey, for groups.h). Value version 0: offset INT64, metadata
 * STRING, commit_timestamp INT64; 1: the same plus expire_timestamp INT64; 2: as 0; 3: offset,
 * leader_epoch INT32, metadata, commit_timestamp; 4: as 3 in flexible form (COMPACT_STRING,
 * then tagged fields). We write key 1 and value 3 and read values 0-4. */
#define RN_OFFSETS_KEY_VERSION 1
#define RN_OFFSETS_VALUE_VERSION 3

typedef struct rn_offsets_key {
    rn_str_t group;
    rn_str_t topic;
    int32_t partition;
} rn_offsets_key_t;

typedef struct rn_offsets_value {
    int64_t offset;
    int32_t leader_epoch; /* -1: none (always for values 0-2) */
    rn_str_t metadata;    /* never null: Kafka's NoMetadata is "" */
    int64_t commit_timestamp;
    int64_t expire_timestamp; /* -1: none (set only by value version 1) */
} rn_offsets_value_t;

/* Encoded sizes, or 0 when a string is longer than an INT16 length allows. */
size_t rn_offsets_key_len(const rn_offsets_key_t *key);
size_t rn_offsets_value_len(const rn_offsets_value_t *value);
/* Write exactly rn_offsets_*_len() bytes (which must not be 0) at `out`. */
void rn_offsets_key_encode(const rn_offsets_key_t *key, uint8_t *out);
void rn_offsets_value_encode(const rn_offsets_value_t *value, uint8_t *out);
/* Decode from bytes that may come from a damaged file: 0, or RN_EPROTO for a version other
 * than the ones above, a null or cut-short string, or (keys only) bytes left over. Views point
 * into `b`. */
int rn_offsets_key_decode(rn_bytes_t b, rn_offsets_key_t *out);
int rn_offsets_value_decode(rn_bytes_t b, rn_offsets_value_t *out);

/* ---- the map ---- */

/* `store` must outlive the offsets. Reads offsets.retention.minutes from `cfg`. */
rn_offsets_t *rn_offsets_new(const rn_config_t *cfg, rn_store_t *store);
void rn_offsets_free(rn_offsets_t *offsets);
/* The control plane's reset: forgets every committed offset and every offset held for an open
 * transaction, writing nothing (the broker empties the store's topic). */
void rn_offsets_clear(rn_offsets_t *offsets);

/* Start-up: an OffsetCommitKey (version 0 or 1) record and its value (ptr NULL: tombstone),
 * applied in log order. Returns false when the bytes do not parse (the caller logs and skips). */
bool rn_offsets_load_record(rn_offsets_t *offsets, rn_bytes_t key, rn_bytes_t value);

/* OffsetCommit: writes all commits of one group as one batch, then makes them visible. A topic
 * and partition given twice: the later one wins, as on reload. The caller has checked topics,
 * metadata sizes and the group. Blocking (an append, maybe an fsync): not on an event loop.
 * Returns 0, RN_EINVAL (a string too long to encode, or a batch over 2 GiB), RN_ENOMEM, or the
 * store's errno; nothing is visible unless the append succeeded. */
typedef struct rn_offsets_commit {
    rn_str_t topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;     /* -1: none */
    rn_str_t metadata;        /* ptr NULL is stored as "" */
    int64_t commit_timestamp; /* -1: now_ms (OffsetCommit v1 may set it) */
} rn_offsets_commit_t;
int rn_offsets_commit(rn_offsets_t *offsets, rn_str_t group_id, const rn_offsets_commit_t *commits,
                      size_t n, int64_t now_ms);

/* One stored offset, copied out for a response. */
typedef struct rn_offsets_entry {
    rn_str_t topic; /* in the arena (fetch_all) or the caller's (fetch) */
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    rn_str_t metadata; /* in the arena; "" when none */
    int64_t commit_timestamp;
} rn_offsets_entry_t;
/* OffsetFetch for one partition: 0 with *found set, and *out filled when it is (metadata copied
 * into `arena`); RN_ENOMEM when the arena is exhausted. */
int rn_offsets_fetch(rn_offsets_t *offsets, rn_str_t group_id, rn_str_t topic, int32_t partition,
                     rn_arena_t *arena, rn_offsets_entry_t *out, bool *found);
/* OffsetFetch with topics null: every offset of the group, sorted by topic then partition, in
 * `arena`. 0 (*n may be 0) or RN_ENOMEM. */
int rn_offsets_fetch_all(rn_offsets_t *offsets, rn_str_t group_id, rn_arena_t *arena,
                         rn_offsets_entry_t **out, size_t *n);

/* OffsetDelete: writes tombstones for the given partitions that have an offset (others are
 * ignored) and removes them. Blocking. 0 or a negative errno (nothing removed then). */
typedef struct rn_offsets_tp {
    rn_str_t topic;
    int32_t partition;
} rn_offsets_tp_t;
int rn_offsets_delete(rn_offsets_t *offsets, rn_str_t group_id, const rn_offsets_tp_t *tps,
                      size_t n, int64_t now_ms);
/* DeleteGroups: removes every offset of the group (writing tombstones). Blocking. */
int rn_offsets_delete_group(rn_offsets_t *offsets, rn_str_t group_id, int64_t now_ms);
/* Removes every offset of a topic, in every group (writing tombstones). Blocking. Failures are
 * logged; the offsets whose tombstones could not be written stay. */
void rn_offsets_topic_deleted(rn_offsets_t *offsets, const char *topic, int64_t now_ms);

/* Expires offsets of groups for which `is_empty(ctx, group)` holds (see Retention above),
 * writing tombstones. Checks at most once per second of `now_ms`, so calling it on every tick is
 * cheap. Blocking. */
void rn_offsets_expire(rn_offsets_t *offsets, int64_t now_ms,
                       bool (*is_empty)(void *ctx, rn_str_t group), void *ctx);

/* Commits on their way (KIP-447's require_stable): an OffsetCommit handler registers its
 * partitions when it accepts the request and removes them once rn_offsets_commit has returned
 * (or the commit will never run). Meanwhile OffsetFetch with require_stable answers
 * UNSTABLE_OFFSET_COMMIT for them, as Kafka does for an offset still being written. The struct
 * and the views it holds are the caller's, alive until removed. */
typedef struct rn_offsets_pending rn_offsets_pending_t;
struct rn_offsets_pending {
    rn_str_t group_id;
    const rn_offsets_tp_t *tps;
    size_t n;
    rn_offsets_pending_t *prev, *next; /* the offsets' list; set by add */
};
void rn_offsets_pending_add(rn_offsets_t *offsets, rn_offsets_pending_t *pending);
void rn_offsets_pending_remove(rn_offsets_t *offsets, rn_offsets_pending_t *pending);
/* Whether a commit of the group's `topic`/`partition` is on its way, or held by an open
 * transaction. */
bool rn_offsets_is_pending(rn_offsets_t *offsets, rn_str_t group_id, rn_str_t topic,
                           int32_t partition);

/* ---- transactional offsets (TxnOffsetCommit, KIP-98 and KIP-447) ----
 * A producer's offsets are written as its transactional batch and held apart, per producer,
 * until a marker for that producer lands in the group's __consumer_offsets partition: a commit
 * makes them the group's committed offsets, an abort drops them. Meanwhile OffsetFetch answers
 * the offsets committed before, and rn_offsets_is_pending is true for them (require_stable
 * gets UNSTABLE_OFFSET_COMMIT), as in Kafka. */

/* TxnOffsetCommit: writes the offsets as the producer's transactional batch and holds them
 * pending. Same rules as rn_offsets_commit; returns 0, a negative errno, or a positive rn_kerr_t
 * when the log's producer state refused the batch (INVALID_PRODUCER_EPOCH). Blocking. */
int rn_offsets_txn_commit(rn_offsets_t *offsets, rn_str_t group_id, int64_t producer_id,
                          int16_t producer_epoch, const rn_offsets_commit_t *commits, size_t n,
                          int64_t now_ms);
/* Writes a commit or abort marker for `producer_id` into __consumer_offsets-`partition` (the
 * transaction coordinator's; see rn_log_append_marker) and then applies or drops that
 * producer's pending offsets of the groups in that partition. Returns what
 * rn_log_append_marker returns (0 when the topic does not exist: nothing to mark). Blocking. */
int rn_offsets_txn_marker(rn_offsets_t *offsets, int32_t partition, int64_t producer_id,
                          int16_t producer_epoch, int32_t coordinator_epoch, bool commit,
                          int64_t now_ms);
/* Start-up, in log order: an offset record of a producer's transactional batch (false when it
 * does not parse), and a marker of that producer in __consumer_offsets-`partition`. */
bool rn_offsets_txn_load_record(rn_offsets_t *offsets, int64_t producer_id, rn_bytes_t key,
                                rn_bytes_t value);
void rn_offsets_txn_load_marker(rn_offsets_t *offsets, int32_t partition, int64_t producer_id,
                                bool commit);
/* Offsets held for open transactions, in all groups (start-up log line, tests). */
size_t rn_offsets_txn_count(rn_offsets_t *offsets);

/* Whether any offset is stored for the group (ListGroups shows such groups as Empty). */
bool rn_offsets_has_group(rn_offsets_t *offsets, rn_str_t group_id);
/* The groups that have offsets, for ListGroups: calls `fn` for each group id (under the map
 * lock: fn must only copy, and must not call back into the offsets). */
void rn_offsets_each_group(rn_offsets_t *offsets, void (*fn)(void *ctx, rn_str_t group_id),
                           void *ctx);
/* Offsets stored, in all groups (start-up log line, tests). */
size_t rn_offsets_count(rn_offsets_t *offsets);

#endif
