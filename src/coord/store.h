/* SPDX-License-Identifier: Apache-2.0 */
/* An internal compacted topic as a key-value journal: __consumer_offsets (groups and offsets)
 * and __transaction_state (the transaction coordinator's). Records are written through the
 * same partition log as user data (one uncompressed v2 batch per call, offsets assigned by the
 * log), and read back in order at start-up; a record with a null value is a tombstone. The
 * partition of a group or transactional id is Kafka's: Utils.abs(Java
 * String.hashCode(id)) % partitions, so the files look as Kafka's would.
 *
 * Threads: every function is safe from any thread. The store keeps no state of its own beyond
 * a reference to the topic; appends are serialized by each partition log's append lock. */
#ifndef RN_COORD_STORE_H
#define RN_COORD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/coord.h"
#include "util/bytes.h"

#define RN_STORE_TOPIC "__consumer_offsets"
#define RN_STORE_TXN_TOPIC "__transaction_state"

/* Opens __consumer_offsets in `topics`: rn_store_open_topic(cfg, RN_STORE_TOPIC, ...). */
int rn_store_open(const rn_config_t *cfg, rn_topics_t *topics, rn_store_t **out);
/* Opens the internal topic `name` (RN_STORE_TOPIC or RN_STORE_TXN_TOPIC) in `topics`, to be
 * created when first needed (rn_store_ensure) as Kafka 4.4 creates it: the partitions of
 * offsets.topic.num.partitions (transaction.state.log.num.partitions), cleanup.policy=compact,
 * segment.bytes from offsets.topic.segment.bytes (transaction.state.log.segment.bytes), and
 * Kafka's compression.type (and, for __transaction_state, min.insync.replicas from
 * transaction.state.log.min.isr and unclean.leader.election.enable=false), all read from `cfg`
 * now. An existing topic keeps its partition count and configs (a different count is logged,
 * naming the key, and ignored, as Kafka uses the topic's). Holds a topic reference until
 * rn_store_close. Returns 0 or a negative errno. */
int rn_store_open_topic(const rn_config_t *cfg, const char *name, rn_topics_t *topics,
                        rn_store_t **out);
/* The topic's name. */
const char *rn_store_name(const rn_store_t *store);
/* Drops the topic reference; the logs stay with the registry. rn_store_close(NULL) does nothing. */
void rn_store_close(rn_store_t *store);

int32_t rn_store_partitions(const rn_store_t *store);
/* Java's String.hashCode of `s` read as UTF-8 (UTF-16 code units; a malformed byte counts as
 * U+FFFD). */
int32_t rn_store_java_hash(rn_str_t s);
/* Creates the topic when it does not exist yet (Kafka creates it on the first
 * FindCoordinator). Blocking file work: call it off the event loops. Appends call it too.
 * Returns 0 or a negative errno. */
int rn_store_ensure(rn_store_t *store);
/* Whether the topic exists (no creation needed). */
bool rn_store_ready(const rn_store_t *store);
/* The topic's partition `index`, or NULL while the topic does not exist (borrowed: partitions
 * live as long as the topic, which the store holds). */
rn_partition_t *rn_store_partition(const rn_store_t *store, int32_t index);
/* The partition of a group id or transactional id. */
int32_t rn_store_partition_for(const rn_store_t *store, rn_str_t group_id);

/* Appends one record keyed `key` with `value` (ptr NULL: a tombstone) to the partition of
 * `group_id` (a group id, or a transactional id in __transaction_state), timestamped `now_ms`.
 * In the page cache when it returns (like a Produce with acks=1); when the flush policy asks for
 * a sync the sync runs here, so call it off the event loops if that can be slow. Returns 0 or a
 * negative errno (RN_EINVAL: too large for one batch). */
int rn_store_append(rn_store_t *store, rn_str_t group_id, rn_bytes_t key, rn_bytes_t value,
                    int64_t now_ms);
/* Appends several records for one group as one batch (atomic in the log). n == 0 does nothing. */
typedef struct rn_store_record {
    rn_bytes_t key;
    rn_bytes_t value; /* ptr NULL: tombstone */
} rn_store_record_t;
int rn_store_append_many(rn_store_t *store, rn_str_t group_id, const rn_store_record_t *records,
                         size_t n, int64_t now_ms);
/* rn_store_append_many as a producer's transactional batch (TxnOffsetCommit's offsets): the
 * producer's id and epoch, no sequence (-1: the broker's own write, which the log does not
 * hold to the producer's sequence). Returns 0, a negative errno, or a positive rn_kerr_t from
 * the log's producer checks (INVALID_PRODUCER_EPOCH for a fenced epoch). */
int rn_store_append_txn(rn_store_t *store, rn_str_t group_id, const rn_store_record_t *records,
                        size_t n, int64_t now_ms, int64_t producer_id, int16_t producer_epoch);

/* Start-up: reads every partition from its log start to its end, in offset order within each
 * partition, and calls `fn` for each record (value ptr NULL: tombstone; the views are valid
 * during the call only). Control batches and transactional batches are skipped. A batch that does
 * not parse ends that partition's load with a log line (what was before it stays loaded). Counts go
 * to `stats` (may be NULL). Returns 0 or a negative errno (a read failure). Run it before serving.
 */
typedef struct rn_store_stats {
    int64_t batches;
    int64_t records;
    int64_t bytes;
    int32_t bad_partitions; /* partitions whose load stopped at a bad batch */
} rn_store_stats_t;
typedef void (*rn_store_record_fn)(void *ctx, int32_t partition, rn_bytes_t key, rn_bytes_t value);
int rn_store_load(rn_store_t *store, rn_store_record_fn fn, void *ctx, rn_store_stats_t *stats);

/* Where a loaded record came from, for the transactional offsets of __consumer_offsets: the
 * producer of a transactional batch, and the markers that end its transaction. */
typedef struct rn_store_origin {
    int64_t offset;         /* the record's offset */
    int64_t producer_id;    /* the batch's, -1 when none */
    int16_t producer_epoch; /* the batch's, -1 when none */
    bool transactional;     /* the batch is a transaction's (its records wait for a marker) */
    int marker;             /* a marker: RN_MARKER_COMMIT or RN_MARKER_ABORT (key and value are the
                               control record's); -1 for a data record. Other control batches are skipped. */
} rn_store_origin_t;
typedef void (*rn_store_entry_fn)(void *ctx, int32_t partition, const rn_store_origin_t *origin,
                                  rn_bytes_t key, rn_bytes_t value);
/* rn_store_load with each record's origin, control batches included (one call per marker). */
int rn_store_load_entries(rn_store_t *store, rn_store_entry_fn fn, void *ctx,
                          rn_store_stats_t *stats);

#endif
