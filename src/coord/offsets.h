/* SPDX-License-Identifier: Apache-2.0 */
/* Committed offsets per group, topic and partition, persisted as OffsetCommitKey (version 1)
 * and OffsetCommitValue (version 3) records in __consumer_offsets, and kept in memory (a hash
 * map) for OffsetFetch. Kafka's rules: the latest commit wins; a tombstone deletes. Offsets of
 * empty groups expire after offsets.retention.minutes (from the last commit). */
#ifndef RN_COORD_OFFSETS_H
#define RN_COORD_OFFSETS_H

#include <stdbool.h>
#include <stdint.h>

#include "coord/coord.h"
#include "util/bytes.h"

rn_offsets_t *rn_offsets_new(const rn_config_t *cfg, rn_store_t *store);
void rn_offsets_free(rn_offsets_t *offsets);
/* Start-up: an OffsetCommitKey (version 0 or 1) record and its value (ptr NULL: tombstone). */
bool rn_offsets_load_record(rn_offsets_t *offsets, rn_bytes_t key, rn_bytes_t value);
/* Expires offsets of groups for which `is_empty(group)` holds and whose last commit is older
 * than the retention. */
void rn_offsets_expire(rn_offsets_t *offsets, int64_t now_ms, bool (*is_empty)(void *ctx, rn_str_t group), void *ctx);
/* DeleteGroups: removes every offset of the group (writing tombstones). */
int rn_offsets_delete_group(rn_offsets_t *offsets, rn_str_t group_id, int64_t now_ms);
/* Whether any offset is stored for the group (ListGroups shows such groups as Empty). */
bool rn_offsets_has_group(rn_offsets_t *offsets, rn_str_t group_id);
/* The groups that have offsets, for ListGroups: calls `fn` for each group id (under the
 * offsets lock: fn must only copy). */
void rn_offsets_each_group(rn_offsets_t *offsets, void (*fn)(void *ctx, rn_str_t group_id), void *ctx);
/* Removes every offset of a topic (writing tombstones). */
void rn_offsets_topic_deleted(rn_offsets_t *offsets, const char *topic, int64_t now_ms);

#endif
