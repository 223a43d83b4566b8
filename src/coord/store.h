/* SPDX-License-Identifier: Apache-2.0 */
/* The __consumer_offsets topic as a key-value journal. Records are written through the same
 * partition log as user data (uncompressed v2 batches, offsets assigned by the log), and read
 * back in order at start-up; a record with a null value is a tombstone. The partition of a
 * group is Kafka's: abs(Java String.hashCode(group_id)) % partitions, so the files look as
 * Kafka's would. */
#ifndef RN_COORD_STORE_H
#define RN_COORD_STORE_H

#include <stdint.h>

#include "coord/coord.h"
#include "util/bytes.h"

#define RN_STORE_TOPIC "__consumer_offsets"

int32_t rn_store_partition_for(const rn_store_t *store, rn_str_t group_id);
/* Appends one record keyed `key` with `value` (ptr NULL: a tombstone) to the group's partition,
 * timestamped `now_ms`. In the page cache when it returns (like a Produce with acks=1); when the
 * flush policy asks for a sync the sync runs here, so call it off the event loops if that can be
 * slow. Returns 0 or a negative errno. */
int rn_store_append(rn_store_t *store, rn_str_t group_id, rn_bytes_t key, rn_bytes_t value, int64_t now_ms);
/* Appends several records for one group as one batch (atomic in the log). */
typedef struct rn_store_record {
    rn_bytes_t key;
    rn_bytes_t value;            /* ptr NULL: tombstone */
} rn_store_record_t;
int rn_store_append_many(rn_store_t *store, rn_str_t group_id, const rn_store_record_t *records, size_t n,
                         int64_t now_ms);

#endif
