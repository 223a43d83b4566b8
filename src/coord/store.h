/* SPDX-License-Identifier: Apache-2.0 */
/* The __consumer_offsets topic as a key-value journal. Records are written through the same
 * partition log as user data (one uncompressed v2 batch per call, offsets assigned by the log),
 * and read back in order at start-up; a record with a null value is a tombstone. The partition
 * of a group is Kafka's: Utils.abs(Java String.hashCode(group_id)) % partitions, so the files
 * look as Kafka's would.
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

/* Opens __consumer_offsets in `topics`, creating it on first start as an internal topic with
 * offsets.topic.num.partitions partitions and cleanup.policy=compact. An existing topic keeps
 * its partition count (a different configured count is logged and ignored, as Kafka uses the
 * topic's). Holds a topic reference until rn_store_close. Returns 0 or a negative errno. */
int rn_store_open(const rn_config_t *cfg, rn_topics_t *topics, rn_store_t **out);
/* Drops the topic reference; the logs stay with the registry. rn_store_close(NULL) does nothing. */
void rn_store_close(rn_store_t *store);

int32_t rn_store_partitions(const rn_store_t *store);
/* Java's String.hashCode of `s` read as UTF-8 (UTF-16 code units; a malformed byte counts as
 * U+FFFD). */
int32_t rn_store_java_hash(rn_str_t s);
/* Creates __consumer_offsets when it does not exist yet (Kafka creates it on the first
 * FindCoordinator). Blocking file work: call it off the event loops. Appends call it too.
 * Returns 0 or a negative errno. */
int rn_store_ensure(rn_store_t *store);
/* Whether the topic exists (no creation needed). */
bool rn_store_ready(const rn_store_t *store);
int32_t rn_store_partition_for(const rn_store_t *store, rn_str_t group_id);

/* Appends one record keyed `key` with `value` (ptr NULL: a tombstone) to the group's partition,
 * timestamped `now_ms`. In the page cache when it returns (like a Produce with acks=1); when the
 * flush policy asks for a sync the sync runs here, so call it off the event loops if that can be
 * slow. Returns 0 or a negative errno (RN_EINVAL: too large for one batch). */
int rn_store_append(rn_store_t *store, rn_str_t group_id, rn_bytes_t key, rn_bytes_t value,
                    int64_t now_ms);
/* Appends several records for one group as one batch (atomic in the log). n == 0 does nothing. */
typedef struct rn_store_record {
    rn_bytes_t key;
    rn_bytes_t value; /* ptr NULL: tombstone */
} rn_store_record_t;
int rn_store_append_many(rn_store_t *store, rn_str_t group_id, const rn_store_record_t *records,
                         size_t n, int64_t now_ms);

/* Start-up: reads every partition from its log start to its end, in offset order within each
 * partition, and calls `fn` for each record (value ptr NULL: tombstone; the views are valid
 * during the call only). Control batches are skipped. A batch that does not parse ends that
 * partition's load with a log line (what was before it stays loaded). Counts go to `stats`
 * (may be NULL). Returns 0 or a negative errno (a read failure). Run it before serving. */
typedef struct rn_store_stats {
    int64_t batches;
    int64_t records;
    int64_t bytes;
    int32_t bad_partitions; /* partitions whose load stopped at a bad batch */
} rn_store_stats_t;
typedef void (*rn_store_record_fn)(void *ctx, int32_t partition, rn_bytes_t key, rn_bytes_t value);
int rn_store_load(rn_store_t *store, rn_store_record_fn fn, void *ctx, rn_store_stats_t *stats);

#endif
