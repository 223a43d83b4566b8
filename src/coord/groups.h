/* SPDX-License-Identifier: Apache-2.0 */
/* Group membership: Kafka's classic rebalance protocol (Empty, PreparingRebalance,
 * CompletingRebalance, Stable, Dead). This header lists what the rest of the coordinator and
 * the broker use; the handler-facing calls (join, sync, heartbeat, leave, describe, list,
 * delete) are declared below them. Group metadata (GroupMetadataKey v2 / GroupMetadataValue)
 * is written to the store when a generation completes and loaded back at start-up.
 *
 * Threads: one lock guards all groups; calls are short. Requests that must wait (a JoinGroup
 * until the rebalance completes, a SyncGroup until the leader's assignment arrives) are given
 * back through a callback run under that lock: it must only copy the result and wake the
 * request's loop (park.h), never respond from there. */
#ifndef RN_COORD_GROUPS_H
#define RN_COORD_GROUPS_H

#include <stdbool.h>
#include <stdint.h>

#include "coord/coord.h"
#include "util/bytes.h"

rn_groups_t *rn_groups_new(const rn_config_t *cfg, rn_store_t *store, int64_t now_ms);
void rn_groups_free(rn_groups_t *groups);
void rn_groups_tick(rn_groups_t *groups, int64_t now_ms);
/* Start-up: a GroupMetadataKey (version 2) record and its value (ptr NULL: tombstone). Returns
 * false when the bytes do not parse (the loader logs and skips the record). */
bool rn_groups_load_record(rn_groups_t *groups, rn_bytes_t key, rn_bytes_t value);

/* OffsetCommit's check (Kafka's GroupMetadataManager rules). Standalone commits (generation -1,
 * empty member id, as kcat and simple consumers send) are allowed when the group has no
 * members. Returns 0 or ILLEGAL_GENERATION 22, UNKNOWN_MEMBER_ID 25, REBALANCE_IN_PROGRESS 27,
 * FENCED_INSTANCE_ID 82, GROUP_ID_NOT_FOUND ... as Kafka does. */
int16_t rn_groups_check_commit(rn_groups_t *groups, rn_str_t group_id, rn_str_t member_id,
                               rn_str_t group_instance_id, int32_t generation);
/* True when the group does not exist or has no members (offsets retention may apply). */
bool rn_groups_is_empty(rn_groups_t *groups, rn_str_t group_id);

#endif
