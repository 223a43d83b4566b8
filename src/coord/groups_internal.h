/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/coord/groups*.c (and their unit tests): the group and member structs, shared by
 *   groups.c         the map, the clock and deadlines, persistence queue, load, admin calls;
 *   groups_member.c  members: lookups, copies, ids, JoinGroup answers, adding and removing;
 *   groups_join.c    JoinGroup and the rebalance (prepare, complete, protocol choice, static
 *                    member replacement);
 *   groups_sync.c    SyncGroup, Heartbeat, LeaveGroup and the waiters;
 *   groups_record.c  GroupMetadataKey / GroupMetadataValue encoding and decoding.
 * Every function here that takes an rn_groups_t runs with groups->lock held. */
#ifndef RN_COORD_GROUPS_INTERNAL_H
#define RN_COORD_GROUPS_INTERNAL_H

#include <pthread.h>
#include <sys/types.h>

#include "coord/groups.h"
#include "util/hmap.h"
#include "util/outbuf.h"

#define RN_GROUPS_NO_DEADLINE INT64_MAX
/* Kafka's GroupCoordinator.NewMemberJoinTimeoutMs: a member that joined during a rebalance has
 * no id to heartbeat with yet, so its JoinGroup is given up after this long. */
#define RN_GROUPS_NEW_MEMBER_JOIN_TIMEOUT_MS 300000

typedef enum rn_group_state {
    RN_GROUP_EMPTY,
    RN_GROUP_PREPARING_REBALANCE,
    RN_GROUP_COMPLETING_REBALANCE,
    RN_GROUP_STABLE,
    RN_GROUP_DEAD,
} rn_group_state_t;

/* An owned, NUL-terminated copy; ptr NULL: null. */
typedef struct rn_ostr {
    char *ptr;
    size_t len;
} rn_ostr_t;

typedef struct rn_group_protocol {
    rn_ostr_t name;
    rn_ostr_t metadata; /* bytes */
} rn_group_protocol_t;

typedef struct rn_group_member {
    rn_ostr_t member_id;
    rn_ostr_t group_instance_id;
    rn_ostr_t client_id;
    rn_ostr_t client_host;
    rn_ostr_t protocol_type;
    rn_group_protocol_t *protocols; /* in the member's order of preference */
    size_t nprotocols;
    rn_ostr_t assignment; /* bytes; ptr NULL: none yet */
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    int64_t deadline_ms; /* session expiry; RN_GROUPS_NO_DEADLINE while waiting in a rebalance */
    bool is_new;         /* joined during the current rebalance */
    bool pending_sync;   /* got its JoinGroup answer, has not sent SyncGroup yet */
    rn_groups_waiter_t *join_waiter; /* a parked JoinGroup: the member "awaits join" */
    rn_groups_waiter_t *sync_waiter; /* a parked SyncGroup */
} rn_group_member_t;

typedef struct rn_group_pending {
    rn_ostr_t member_id; /* handed out with MEMBER_ID_REQUIRED */
    int64_t deadline_ms;
} rn_group_pending_t;

typedef struct rn_group rn_group_t;
struct rn_group {
    rn_hmap_node_t node; /* in groups->map, keyed by group_id */
    rn_ostr_t group_id;
    rn_group_state_t state, previous_state;
    int64_t state_timestamp;
    int32_t generation;
    rn_ostr_t protocol_type;     /* null: none yet */
    rn_ostr_t protocol_name;     /* null unless CompletingRebalance or Stable */
    rn_group_member_t *leader;   /* NULL only when there are no members */
    rn_group_member_t **members; /* in join order */
    size_t nmembers, members_cap;
    rn_group_pending_t *pending;
    size_t npending, pending_cap;
    /* The join phase's deadline: the initial delay (Kafka's InitialDelayedJoin) or the rebalance
     * timeout (DelayedJoin). */
    int64_t join_deadline_ms;
    bool join_initial;
    int32_t initial_delay_ms, initial_remaining_ms;
    bool new_member_added;
    /* The sync phase's deadline (Kafka's pending-sync expiry) and its generation. */
    int64_t sync_deadline_ms;
    int32_t sync_generation;
};

typedef struct rn_groups_write rn_groups_write_t;
struct rn_groups_write {
    rn_groups_write_t *next;
    rn_ostr_t group_id;
    rn_outbuf_t key;
    rn_outbuf_t value;
    bool tombstone;
    int64_t now_ms;
};

/* Where queued records go: the store (rn_store_append), or a unit test's recorder. */
typedef int (*rn_groups_write_fn)(void *ctx, rn_str_t group_id, rn_bytes_t key, rn_bytes_t value,
                                  int64_t now_ms);

struct rn_groups {
    pthread_mutex_t lock; /* guards everything below but the settings */
    int64_t now_ms;
    int64_t next_sweep_ms; /* rn_groups_remove_empty's next look */
    /* Settings, fixed at creation. */
    int32_t initial_delay_ms, min_session_ms, max_session_ms;
    rn_groups_write_fn write;
    void *write_ctx;
    /* The groups by id (seeded: clients choose the ids). */
    rn_hmap_t map;
    /* Records waiting for rn_groups_flush, oldest first. */
    rn_groups_write_t *writes, **writes_tail;
    bool flushing;
    uint64_t queued, written;    /* records queued and written since start; written <= queued */
    pthread_cond_t written_cond; /* signalled when `written` moves */
};

/* Test seam: send queued records to `fn` instead of the store. */
void rn_groups_set_writer(rn_groups_t *groups, rn_groups_write_fn fn, void *ctx);

/* ---- groups.c ---- */
bool rn_ostr_set(rn_ostr_t *dst, const void *ptr, size_t len, bool null);
void rn_ostr_clear(rn_ostr_t *s);
static inline rn_str_t rn_ostr_view(rn_ostr_t s)
{
    return (rn_str_t){ s.ptr, s.len };
}
static inline rn_bytes_t rn_ostr_bytes(rn_ostr_t s)
{
    return (rn_bytes_t){ (const uint8_t *)s.ptr, s.len };
}
bool rn_ostr_eq(rn_ostr_t a, rn_str_t b);
/* A copy of `s` (or of bytes) in `arena`; null stays null. Sets *oom when the arena says no. */
rn_str_t rn_groups_arena_str(rn_arena_t *arena, rn_str_t s, bool *oom);
rn_bytes_t rn_groups_arena_bytes(rn_arena_t *arena, rn_bytes_t b, bool *oom);

rn_group_t *rn_groups_find(rn_groups_t *groups, rn_str_t group_id);
rn_group_t *rn_groups_create(rn_groups_t *groups, rn_str_t group_id); /* NULL on ENOMEM */
void rn_groups_destroy(rn_groups_t *groups, rn_group_t *g);           /* unlinks and frees */
const char *rn_groups_state_name(rn_group_state_t state);
void rn_groups_transition(rn_groups_t *groups, rn_group_t *g, rn_group_state_t state);
/* Fires the group's due deadlines. */
void rn_groups_run_deadlines(rn_groups_t *groups, rn_group_t *g);
/* Queues the group's GroupMetadataValue (members with their assignments) or a tombstone. */
void rn_groups_queue_metadata(rn_groups_t *groups, rn_group_t *g);
void rn_groups_queue_tombstone(rn_groups_t *groups, rn_str_t group_id);

/* ---- groups_member.c ---- */
rn_group_member_t *rn_groups_member(rn_group_t *g, rn_str_t member_id);
rn_group_member_t *rn_groups_static_member(rn_group_t *g, rn_str_t group_instance_id);
ssize_t rn_groups_pending_index(rn_group_t *g, rn_str_t member_id);
void rn_groups_remove_pending_at(rn_group_t *g, size_t i);
/* A member from a JoinGroup (copies of everything), or NULL when memory runs out. */
rn_group_member_t *rn_groups_new_member(const rn_groups_join_args_t *args, rn_str_t member_id);
void rn_groups_member_free(rn_group_member_t *m);
/* Replaces the member's protocols with copies of the JoinGroup's; false (unchanged) on ENOMEM. */
bool rn_groups_set_protocols(rn_group_member_t *m, const rn_groups_join_args_t *args);
/* Same protocols in the same order with the same metadata (Kafka's MemberMetadata.matches). */
bool rn_groups_member_matches(const rn_group_member_t *m, const rn_groups_join_args_t *args);
bool rn_groups_member_supports(const rn_group_member_t *m, rn_str_t protocol);
/* The member's metadata for protocol `name`; empty when it has none. */
rn_bytes_t rn_groups_member_metadata(const rn_group_member_t *m, rn_ostr_t name);
/* `prefix`, a dash and a random UUID, as Kafka makes member ids. False on ENOMEM. */
bool rn_groups_generate_member_id(rn_str_t prefix, rn_ostr_t *out);
int32_t rn_groups_rebalance_timeout(const rn_group_t *g);
bool rn_groups_all_joined(const rn_group_t *g);
/* Kafka's validateMember: 0, UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID. */
rn_kerr_t rn_groups_validate_member(rn_group_t *g, rn_str_t member_id, rn_str_t group_instance_id);
/* Answers a JoinGroup. On success (error 0) the generation, protocol type and name come from
 * `g`; `with_members` gives the member list (the leader's answer). */
void rn_groups_deliver_join(rn_groups_t *groups, rn_group_t *g, rn_groups_waiter_t *w,
                            rn_kerr_t error, rn_str_t member_id, rn_str_t leader, bool with_members,
                            bool skip_assignment);
/* The same for the member's parked JoinGroup, if it has one. */
void rn_groups_answer_join(rn_groups_t *groups, rn_group_t *g, rn_group_member_t *m,
                           rn_kerr_t error, rn_str_t member_id, rn_str_t leader, bool with_members,
                           bool skip_assignment);
void rn_groups_answer_join_error(rn_groups_t *groups, rn_groups_waiter_t *w, rn_kerr_t error,
                                 rn_str_t member_id);
/* Makes `w` the member's parked JoinGroup (an older one still parked is answered first). */
void rn_groups_await_join(rn_groups_t *groups, rn_group_member_t *m, rn_groups_waiter_t *w);
/* Appends the member (the first one sets the group's protocol type and leads). False on ENOMEM. */
bool rn_groups_add_to_group(rn_group_t *g, rn_group_member_t *m);
/* Answers the member's waiters with UNKNOWN_MEMBER_ID and takes it out of the group. */
void rn_groups_remove_member(rn_groups_t *groups, rn_group_t *g, rn_group_member_t *m);

/* ---- groups_join.c ---- */
/* Kafka's removeMemberAndUpdateGroup / removePendingMemberAndUpdateGroup. */
void rn_groups_remove_member_and_update(rn_groups_t *groups, rn_group_t *g, rn_group_member_t *m);
void rn_groups_remove_pending_and_update(rn_groups_t *groups, rn_group_t *g, size_t i);
void rn_groups_prepare_rebalance(rn_groups_t *groups, rn_group_t *g);
void rn_groups_maybe_prepare_or_complete(rn_groups_t *groups, rn_group_t *g);
void rn_groups_maybe_complete_join(rn_groups_t *groups, rn_group_t *g);
void rn_groups_complete_join(rn_groups_t *groups, rn_group_t *g);
/* The join deadline fired (initial delay or rebalance timeout). */
void rn_groups_join_deadline(rn_groups_t *groups, rn_group_t *g);

/* ---- groups_sync.c ---- */
void rn_groups_deliver_sync(rn_groups_t *groups, rn_group_t *g, rn_groups_waiter_t *w,
                            rn_kerr_t error, rn_bytes_t assignment);
/* Kafka's resetAndPropagateAssignmentWithError (CompletingRebalance only). */
void rn_groups_reset_assignments(rn_groups_t *groups, rn_group_t *g, rn_kerr_t error);
/* The sync deadline fired: members that never sent SyncGroup are removed. */
void rn_groups_sync_deadline(rn_groups_t *groups, rn_group_t *g);

/* ---- groups_record.c ---- */
#define RN_GROUPS_KEY_VERSION 2
#define RN_GROUPS_VALUE_VERSION 3

typedef struct rn_groups_value_member {
    rn_str_t member_id;
    rn_str_t group_instance_id;
    rn_str_t client_id;
    rn_str_t client_host;
    int32_t rebalance_timeout;
    int32_t session_timeout;
    rn_bytes_t subscription;
    rn_bytes_t assignment;
} rn_groups_value_member_t;

/* A decoded GroupMetadataValue; views point into the record. */
typedef struct rn_groups_value {
    int16_t version;
    rn_str_t protocol_type;
    int32_t generation;
    rn_str_t protocol; /* ptr NULL: null */
    rn_str_t leader;
    int64_t current_state_timestamp;
    int32_t nmembers;
    rn_groups_value_member_t *members; /* in the decode's arena; NULL when none was given */
} rn_groups_value_t;

void rn_groups_key_encode(rn_outbuf_t *w, rn_str_t group_id);
void rn_groups_value_encode(rn_outbuf_t *w, const rn_group_t *g, int64_t now_ms);
/* 0, or RN_EPROTO for another version, a cut-short field, or bytes left over. */
int rn_groups_key_decode(rn_bytes_t b, rn_str_t *group_id);
/* Versions 0-4. Members are checked; they are kept only when `arena` is given. 0, RN_EPROTO or
 * RN_ENOMEM. */
int rn_groups_value_decode(rn_bytes_t b, rn_arena_t *arena, rn_groups_value_t *out);

#endif
