/* SPDX-License-Identifier: Apache-2.0 */
/* Group membership: Kafka's classic rebalance protocol (Empty, PreparingRebalance,
 * CompletingRebalance, Stable, Dead). This header lists what the rest of the coordinator and
 * the broker use; the handler-facing calls (join, sync, heartbeat, leave, describe, list,
 * delete) are declared below them. Group metadata (GroupMetadataKey v2 / GroupMetadataValue v3)
 * is written to the store when a generation completes and loaded back at start-up.
 *
 * Threads: one lock guards all groups; calls are short. Requests that must wait (a JoinGroup
 * until the rebalance completes, a SyncGroup until the leader's assignment arrives) are given
 * back through a callback run under that lock: it must only copy the result and wake the
 * request's loop (park.h), never respond from there.
 *
 * Time: the groups' clock is the `now_ms` of the last rn_groups_tick (wall-clock milliseconds,
 * used for record timestamps too); handler calls take no time argument and read that clock, so
 * a test drives every deadline with a fake clock. Deadlines (session expiry, rebalance timeout,
 * the initial rebalance delay, the sync phase) fire in rn_groups_tick, and a deadline that is
 * already due when a call sets it (group.initial.rebalance.delay.ms=0) fires in that call.
 *
 * Persistence: state changes queue records (encoded under the lock); rn_groups_flush appends
 * them to the store in queue order, one flusher at a time, without the lock. rn_groups_tick
 * flushes before it returns (it runs on the broker's maintenance thread, not a loop); a handler
 * answers only after the records its call (or an earlier one) queued are written, flushing off
 * the loop, as Kafka answers SyncGroup once the group's assignment is stored. A failed append is
 * logged: the group state in memory stays, as it would until the next generation in Kafka. */
#ifndef RN_COORD_GROUPS_H
#define RN_COORD_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/coord.h"
#include "proto/errors.h"
#include "util/arena.h"
#include "util/bytes.h"

/* Reads group.initial.rebalance.delay.ms and group.min/max.session.timeout.ms from `cfg`.
 * `store` may be NULL (nothing is persisted: unit tests). */
rn_groups_t *rn_groups_new(const rn_config_t *cfg, rn_store_t *store, int64_t now_ms);
/* Writes what is still queued (so free the groups before the store) and frees everything.
 * Parked requests must have ended first (the loops stop before the coordinator closes): a
 * waiter still registered is dropped without a word. NULL does nothing. */
void rn_groups_free(rn_groups_t *groups);
/* The control plane's reset: every group goes, without tombstones (the broker empties the
 * store's topic); parked JoinGroup and SyncGroup requests are answered UNKNOWN_MEMBER_ID so
 * their clients join again. Queued records are written first. */
void rn_groups_clear(rn_groups_t *groups);
/* Advances the clock (never backwards) and fires due deadlines, then flushes queued records. */
void rn_groups_tick(rn_groups_t *groups, int64_t now_ms);
/* Start-up: a GroupMetadataKey (version 2) record and its value (ptr NULL: tombstone). Returns
 * false when the bytes do not parse (the loader logs and skips the record). A loaded group comes
 * back Empty with its generation and protocol type: members must join again. */
bool rn_groups_load_record(rn_groups_t *groups, rn_bytes_t key, rn_bytes_t value);

/* OffsetCommit's check (Kafka's ClassicGroup.validateOffsetCommit). Standalone commits
 * (generation -1, as kcat, simple consumers and admin tools send, with or without a member id)
 * are allowed when the group does not exist or is Empty. A group this room does not know exists
 * all the same while it has committed offsets (`has_offsets`): Kafka keeps the Empty group a
 * standalone commit made, so a generation for it is UNKNOWN_MEMBER_ID. For a group that does
 * not exist at all a generation >= 0 is ILLEGAL_GENERATION, or GROUP_ID_NOT_FOUND from
 * OffsetCommit v9 (KIP-848). Returns 0 or one of those, REBALANCE_IN_PROGRESS 27 (the group is
 * CompletingRebalance) or FENCED_INSTANCE_ID 82. A member's commit also counts as a heartbeat,
 * as in Kafka. TxnOffsetCommit's check (`transactional`) differs as Kafka 4.4's does: a
 * generation for a group that does not exist is UNKNOWN_MEMBER_ID, and a rebalance does not
 * stop it. Every view is borrowed for the call only. */
typedef struct rn_groups_commit_args {
    int16_t version; /* OffsetCommit's */
    rn_str_t group_id;
    rn_str_t member_id;
    rn_str_t group_instance_id; /* ptr NULL: none */
    int32_t generation;         /* v9+ "generation or member epoch": a generation here */
    bool has_offsets;           /* the group has committed offsets (rn_offsets_has_group) */
    bool transactional;         /* TxnOffsetCommit's check */
} rn_groups_commit_args_t;
rn_kerr_t rn_groups_check_commit(rn_groups_t *groups, const rn_groups_commit_args_t *args);
/* True when the group does not exist or is Empty (offsets retention may apply). */
bool rn_groups_is_empty(rn_groups_t *groups, rn_str_t group_id);
/* Removes Empty groups that have no committed offsets (`has_offsets` says, called without the
 * groups lock), writing their tombstones, as Kafka's periodic cleanup does; a group that was
 * joined meanwhile stays. Meant for the coordinator's tick after rn_offsets_expire; cheap to
 * call often (it looks at most once a minute of the groups' clock). */
void rn_groups_remove_empty(rn_groups_t *groups, bool (*has_offsets)(void *ctx, rn_str_t group_id),
                            void *ctx);

/* ---- handler-facing calls ---- */

/* Limits on what a client chooses. Kafka's group.max.size is unlimited by default; members and
 * members waiting for their id (MEMBER_ID_REQUIRED) count together here. A JoinGroup with more
 * protocols than this gets INVALID_REQUEST: every rebalance compares them across members. */
#define RN_GROUPS_MAX_MEMBERS 10000
#define RN_GROUPS_MAX_PROTOCOLS 64
/* Added to a parked request's wait beyond the rebalance timeout, so that the group's own
 * deadline (fired by the tick) always answers it first. */
#define RN_GROUPS_WAIT_SLACK_MS 5000

/* Results. Strings and bytes are copies in the waiter's arena; a NULL ptr is the wire's null. */
typedef struct rn_groups_member_meta {
    rn_str_t member_id;
    rn_str_t group_instance_id;
    rn_bytes_t metadata; /* the member's metadata for the chosen protocol */
} rn_groups_member_meta_t;

typedef struct rn_groups_join_result {
    rn_kerr_t error_code;
    int32_t generation_id;  /* -1 on error */
    rn_str_t protocol_type; /* null on error */
    rn_str_t protocol_name; /* null on error or when the group has none */
    rn_str_t leader;
    rn_str_t member_id;   /* the member's id; the one to rejoin with for MEMBER_ID_REQUIRED */
    bool skip_assignment; /* v9+: a static leader that rejoined a Stable group */
    rn_groups_member_meta_t *members; /* for the leader: every member; else NULL */
    int32_t nmembers;
} rn_groups_join_result_t;

typedef struct rn_groups_sync_result {
    rn_kerr_t error_code;
    rn_str_t protocol_type; /* null on error */
    rn_str_t protocol_name;
    rn_bytes_t assignment; /* empty on error */
} rn_groups_sync_result_t;

/* A request that may wait. The caller owns the storage (embedded in its parked request) and
 * sets `arena` and `wake` before rn_groups_join / rn_groups_sync; the rest is private. While
 * the waiter is registered (the call returned false and neither rn_groups_wait_end nor a
 * completion has ended it) the caller must not touch `arena`: the completing thread copies the
 * result into it under the groups lock. */
typedef struct rn_groups_waiter rn_groups_waiter_t;
struct rn_groups_waiter {
    rn_arena_t *arena;
    /* Runs under the groups lock, on any thread, once the result is in and the waiter armed:
     * it may only wake the request's loop (rn_parked_wake). */
    void (*wake)(rn_groups_waiter_t *w);
    /* Private. */
    void *member; /* the member whose join or sync it waits for */
    bool armed, done;
    rn_groups_join_result_t join;
    rn_groups_sync_result_t sync;
};

typedef struct rn_groups_protocol {
    rn_str_t name;
    rn_bytes_t metadata;
} rn_groups_protocol_t;

/* A JoinGroup. Every view is borrowed for the call only. */
typedef struct rn_groups_join_args {
    int16_t version; /* v4+: a new dynamic member gets MEMBER_ID_REQUIRED; v9+: skip_assignment */
    rn_str_t group_id;
    rn_str_t member_id;         /* empty: a new member */
    rn_str_t group_instance_id; /* ptr NULL: dynamic member */
    rn_str_t protocol_type;
    rn_str_t client_id;
    rn_str_t client_host; /* as Kafka shows it: "/127.0.0.1" */
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* v0: the session timeout */
    const rn_groups_protocol_t *protocols;
    size_t nprotocols;
} rn_groups_join_args_t;

/* Joins (Kafka's GroupCoordinator rules; see groups_join.c). Returns true when the answer is in
 * w->join now. Otherwise the member waits for the rebalance: the caller parks for *wait_ms, then
 * calls rn_groups_arm; w->wake runs when the answer is in. Owner: the request's loop. */
bool rn_groups_join(rn_groups_t *groups, const rn_groups_join_args_t *args, rn_groups_waiter_t *w,
                    uint64_t *wait_ms);

typedef struct rn_groups_assignment {
    rn_str_t member_id;
    rn_bytes_t assignment;
} rn_groups_assignment_t;

typedef struct rn_groups_sync_args {
    rn_str_t group_id;
    int32_t generation_id;
    rn_str_t member_id;
    rn_str_t group_instance_id;                /* ptr NULL: none */
    rn_str_t protocol_type;                    /* v5; ptr NULL: not checked */
    rn_str_t protocol_name;                    /* v5; ptr NULL: not checked */
    const rn_groups_assignment_t *assignments; /* the leader's; others send none */
    size_t nassignments;
} rn_groups_sync_args_t;

/* SyncGroup: as rn_groups_join, with the answer in w->sync. A follower waits for the leader's
 * assignment; the leader's SyncGroup answers everyone. */
bool rn_groups_sync(rn_groups_t *groups, const rn_groups_sync_args_t *args, rn_groups_waiter_t *w,
                    uint64_t *wait_ms);

/* After parking a waiter: true when its answer already came (answer now and unpark); else from
 * now on w->wake runs when it comes. */
bool rn_groups_arm(rn_groups_t *groups, rn_groups_waiter_t *w);
/* From the parked request's retry: true when the answer is in. Otherwise, with `give_up` (the
 * park timed out, or the loop stops) the waiter is taken back (the member no longer counts as
 * waiting) and false returned: the caller answers an error of its own. */
bool rn_groups_wait_end(rn_groups_t *groups, rn_groups_waiter_t *w, bool give_up);

/* Heartbeat: 0, INVALID_GROUP_ID, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ILLEGAL_GENERATION or
 * REBALANCE_IN_PROGRESS (the member must rejoin). Resets the member's session deadline. */
rn_kerr_t rn_groups_heartbeat(rn_groups_t *groups, rn_str_t group_id, rn_str_t member_id,
                              rn_str_t group_instance_id, int32_t generation_id);

/* LeaveGroup for `n` members (v0-v2 send one, with a null instance id). An empty member id with
 * an instance id removes that static member. Fills errors[i] per member and returns the
 * top-level error (INVALID_GROUP_ID, else 0). The rest of the group rebalances. */
typedef struct rn_groups_leaver {
    rn_str_t member_id;
    rn_str_t group_instance_id; /* ptr NULL: none */
} rn_groups_leaver_t;
rn_kerr_t rn_groups_leave(rn_groups_t *groups, rn_str_t group_id, const rn_groups_leaver_t *members,
                          size_t n, rn_kerr_t *errors);

/* DescribeGroups for one group, copied into `arena`. A group this room does not know is
 * described as Kafka does before v6: state "Dead", empty protocol type and protocol, no members,
 * error 0, with `found` false (the caller may know it from its offsets). Members carry metadata
 * and assignment only when the group is Stable. Returns 0 or RN_ENOMEM (arena exhausted). */
typedef struct rn_groups_described_member {
    rn_str_t member_id;
    rn_str_t group_instance_id;
    rn_str_t client_id;
    rn_str_t client_host;
    rn_bytes_t metadata;
    rn_bytes_t assignment;
} rn_groups_described_member_t;
typedef struct rn_groups_description {
    bool found;
    const char *state; /* static: "Empty", "PreparingRebalance", ... */
    rn_str_t protocol_type;
    rn_str_t protocol_data; /* the chosen protocol when Stable, else "" */
    rn_groups_described_member_t *members;
    size_t nmembers;
} rn_groups_description_t;
int rn_groups_describe(rn_groups_t *groups, rn_str_t group_id, rn_arena_t *arena,
                       rn_groups_description_t *out);

/* ListGroups: every group this room knows, copied into `arena`. 0 or RN_ENOMEM. */
typedef struct rn_groups_overview {
    rn_str_t group_id;
    rn_str_t protocol_type; /* "" when none */
    const char *state;      /* static */
} rn_groups_overview_t;
int rn_groups_list(rn_groups_t *groups, rn_arena_t *arena, rn_groups_overview_t **out, size_t *n);

/* DeleteGroups for one group: removes an Empty group and queues its tombstone. Returns 0,
 * NON_EMPTY_GROUP, or GROUP_ID_NOT_FOUND (the caller still deletes offsets of a group that has
 * only offsets). Removing the group's offsets is the caller's part. */
rn_kerr_t rn_groups_delete(rn_groups_t *groups, rn_str_t group_id);

/* Whether records queued so far are not all written yet (queued, or being written by another
 * flusher). */
bool rn_groups_has_writes(rn_groups_t *groups);
/* Writes the queued records. Returns once every record queued before the call is in the log,
 * written by this call or by the flusher already at work (it waits for that one). Blocking:
 * not on a loop. */
void rn_groups_flush(rn_groups_t *groups);
/* The groups' clock (the last tick). */
int64_t rn_groups_now(rn_groups_t *groups);

#endif
