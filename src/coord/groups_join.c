/* SPDX-License-Identifier: Apache-2.0 */
/* JoinGroup and the rebalance, as Kafka's classic group coordinator runs them
 * (GroupMetadataManager's classic-group join, ClassicGroup):
 *
 *   Empty --join--> PreparingRebalance --every member rejoined, or the rebalance timeout-->
 *   CompletingRebalance (generation + 1, JoinGroup answers; the leader gets the member list)
 *   --the leader's SyncGroup--> Stable --a join, leave, expiry or metadata change--> Preparing...
 *
 * A rebalance from Empty first waits group.initial.rebalance.delay.ms, again for each member
 * that joins meanwhile, up to the rebalance timeout (Kafka's InitialDelayedJoin). Members that
 * did not rejoin when the join phase ends are removed, unless static. A new dynamic member of a
 * v4+ client is handed an id with MEMBER_ID_REQUIRED and joins with it (KIP-394); a static member
 * (group.instance.id, KIP-345) that comes back with an unknown member id takes over its old
 * entry: in a Stable group whose protocol choice does not change it gets its assignment back
 * without a rebalance, and the old member id is fenced. */
#include <inttypes.h>
#include <string.h>

#include "coord/groups_internal.h"
#include "util/logging.h"
#include "util/xmalloc.h"

/* ---- the rebalance ---- */

void rn_groups_remove_member_and_update(rn_groups_t *groups, rn_group_t *g, rn_group_member_t *m)
{
    rn_groups_remove_member(groups, g, m);
    if (g->state == RN_GROUP_STABLE || g->state == RN_GROUP_COMPLETING_REBALANCE)
        rn_groups_maybe_prepare_or_complete(groups, g);
    else if (g->state == RN_GROUP_PREPARING_REBALANCE && rn_groups_all_joined(g))
        rn_groups_complete_join(groups, g);
}

void rn_groups_remove_pending_and_update(rn_groups_t *groups, rn_group_t *g, size_t i)
{
    rn_groups_remove_pending_at(g, i);
    if (g->state == RN_GROUP_PREPARING_REBALANCE && rn_groups_all_joined(g))
        rn_groups_complete_join(groups, g);
}

void rn_groups_prepare_rebalance(rn_groups_t *groups, rn_group_t *g)
{
    /* Members waiting for an assignment of the generation that is being replaced rejoin. */
    if (g->state == RN_GROUP_COMPLETING_REBALANCE)
        rn_groups_reset_assignments(groups, g, RN_KERR_REBALANCE_IN_PROGRESS);
    for (size_t i = 0; i < g->nmembers; i++)
        g->members[i]->pending_sync = false;
    g->sync_deadline_ms = RN_GROUPS_NO_DEADLINE;
    bool initial = g->state == RN_GROUP_EMPTY;
    int32_t timeout = rn_groups_rebalance_timeout(g);
    if (initial) {
        /* A new group waits for more members before its first generation. */
        g->join_initial = true;
        g->new_member_added = false;
        g->initial_delay_ms = groups->initial_delay_ms;
        g->initial_remaining_ms =
            timeout > groups->initial_delay_ms ? timeout - groups->initial_delay_ms : 0;
        g->join_deadline_ms = groups->now_ms + groups->initial_delay_ms;
    }
    rn_log(RN_LOG_INFO, "coord", "group %s: preparing to rebalance from %s, generation %" PRId32,
           g->group_id.ptr, rn_groups_state_name(g->state), g->generation);
    rn_groups_transition(groups, g, RN_GROUP_PREPARING_REBALANCE);
    if (initial)
        return;
    if (rn_groups_all_joined(g)) {
        rn_groups_complete_join(groups, g);
    } else {
        g->join_initial = false;
        g->join_deadline_ms = groups->now_ms + timeout;
    }
}

void rn_groups_maybe_prepare_or_complete(rn_groups_t *groups, rn_group_t *g)
{
    if (g->state == RN_GROUP_STABLE || g->state == RN_GROUP_COMPLETING_REBALANCE ||
        g->state == RN_GROUP_EMPTY)
        rn_groups_prepare_rebalance(groups, g);
    else
        rn_groups_maybe_complete_join(groups, g);
}

void rn_groups_maybe_complete_join(rn_groups_t *groups, rn_group_t *g)
{
    /* The initial rebalance ends only with its delay, however fast the members are. */
    if (g->state == RN_GROUP_PREPARING_REBALANCE && rn_groups_all_joined(g) &&
        g->previous_state != RN_GROUP_EMPTY)
        rn_groups_complete_join(groups, g);
}

/* Keeps the leader if it rejoined, else makes the first member that did the leader. False when
 * no member rejoined (or there are none). */
static bool elect_joined_leader(rn_group_t *g)
{
    if (g->leader == NULL)
        return false;
    if (g->leader->join_waiter != NULL)
        return true;
    for (size_t i = 0; i < g->nmembers; i++) {
        if (g->members[i]->join_waiter != NULL) {
            rn_log(RN_LOG_INFO, "coord", "group %s: leader %s did not rejoin; %s leads",
                   g->group_id.ptr, g->leader->member_id.ptr, g->members[i]->member_id.ptr);
            g->leader = g->members[i];
            return true;
        }
    }
    return false;
}

/* Kafka's selectProtocol: the candidates are the protocols every member supports; each member
 * votes for the first candidate in its own order of preference, and the most votes win (a tie
 * goes to the candidate the first member prefers). NULL for a group with no common protocol,
 * which joins prevent. */
static const rn_ostr_t *select_protocol(const rn_group_t *g)
{
    if (g->nmembers == 0)
        return NULL;
    const rn_group_member_t *first = g->members[0];
    size_t votes[RN_GROUPS_MAX_PROTOCOLS] = { 0 };
    bool candidate[RN_GROUPS_MAX_PROTOCOLS] = { false };
    for (size_t c = 0; c < first->nprotocols; c++) {
        candidate[c] = true;
        for (size_t i = 1; candidate[c] && i < g->nmembers; i++)
            candidate[c] =
                rn_groups_member_supports(g->members[i], rn_ostr_view(first->protocols[c].name));
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        const rn_group_member_t *m = g->members[i];
        for (size_t p = 0; p < m->nprotocols; p++) {
            size_t c = 0;
            while (c < first->nprotocols &&
                   !(candidate[c] &&
                     rn_ostr_eq(first->protocols[c].name, rn_ostr_view(m->protocols[p].name))))
                c++;
            if (c < first->nprotocols) {
                votes[c]++;
                break;
            }
        }
    }
    const rn_ostr_t *best = NULL;
    size_t best_votes = 0;
    for (size_t c = 0; c < first->nprotocols; c++) {
        if (candidate[c] && (best == NULL || votes[c] > best_votes)) {
            best = &first->protocols[c].name;
            best_votes = votes[c];
        }
    }
    return best;
}

/* Kafka's supportsProtocols: an Empty group takes any protocol type; otherwise the type must be
 * the group's and one of the member's protocols must be one that every member supports. */
static bool supports_protocols(const rn_group_t *g, const rn_groups_join_args_t *args)
{
    if (g->state == RN_GROUP_EMPTY)
        return args->protocol_type.len > 0 && args->nprotocols > 0;
    if (!rn_ostr_eq(g->protocol_type, args->protocol_type))
        return false;
    for (size_t p = 0; p < args->nprotocols; p++) {
        bool all = true;
        for (size_t i = 0; all && i < g->nmembers; i++)
            all = rn_groups_member_supports(g->members[i], args->protocols[p].name);
        if (all)
            return true;
    }
    return false;
}

void rn_groups_complete_join(rn_groups_t *groups, rn_group_t *g)
{
    g->join_deadline_ms = RN_GROUPS_NO_DEADLINE;
    g->join_initial = false;
    /* Dynamic members that did not rejoin in time are out; static ones keep their place until
     * their session times out. */
    for (size_t i = 0; i < g->nmembers;) {
        rn_group_member_t *m = g->members[i];
        if (m->join_waiter == NULL && m->group_instance_id.ptr == NULL) {
            rn_log(RN_LOG_INFO, "coord", "group %s: member %s did not rejoin in time; removed",
                   g->group_id.ptr, m->member_id.ptr);
            rn_groups_remove_member(groups, g, m);
        } else {
            i++;
        }
    }
    if (!elect_joined_leader(g) && g->nmembers > 0) {
        /* Only static members that have not rejoined are left: wait another rebalance timeout,
         * until their sessions expire or they come back. */
        rn_log(RN_LOG_WARN, "coord", "group %s: no member rejoined; the rebalance goes on",
               g->group_id.ptr);
        g->join_deadline_ms = groups->now_ms + rn_groups_rebalance_timeout(g);
        return;
    }
    g->generation++;
    if (g->nmembers == 0) {
        rn_ostr_clear(&g->protocol_name);
        rn_groups_transition(groups, g, RN_GROUP_EMPTY);
        rn_log(RN_LOG_INFO, "coord", "group %s: empty at generation %" PRId32, g->group_id.ptr,
               g->generation);
        rn_groups_queue_metadata(groups, g);
        return;
    }
    const rn_ostr_t *protocol = select_protocol(g);
    /* The name is at most an INT16 string: a fixed bound, so an allocation failure here is one
     * the broker does not survive anyway. */
    char *name = rn_xmalloc(protocol->len + 1);
    memcpy(name, protocol->ptr, protocol->len + 1);
    rn_ostr_clear(&g->protocol_name);
    g->protocol_name = (rn_ostr_t){ name, protocol->len };
    rn_groups_transition(groups, g, RN_GROUP_COMPLETING_REBALANCE);
    rn_log(RN_LOG_INFO, "coord",
           "group %s: generation %" PRId32 " with %zu members, protocol %s, leader %s",
           g->group_id.ptr, g->generation, g->nmembers, g->protocol_name.ptr,
           g->leader->member_id.ptr);
    rn_str_t leader = rn_ostr_view(g->leader->member_id);
    for (size_t i = 0; i < g->nmembers; i++) {
        rn_group_member_t *m = g->members[i];
        rn_groups_answer_join(groups, g, m, 0, rn_ostr_view(m->member_id), leader, m == g->leader,
                              false);
        m->deadline_ms = groups->now_ms + m->session_timeout_ms;
        m->is_new = false;
        m->pending_sync = true;
    }
    /* Members that do not send SyncGroup within the rebalance timeout are removed. */
    g->sync_generation = g->generation;
    g->sync_deadline_ms = groups->now_ms + rn_groups_rebalance_timeout(g);
}

void rn_groups_join_deadline(rn_groups_t *groups, rn_group_t *g)
{
    g->join_deadline_ms = RN_GROUPS_NO_DEADLINE;
    if (g->state != RN_GROUP_PREPARING_REBALANCE)
        return;
    if (g->join_initial && g->new_member_added && g->initial_remaining_ms != 0) {
        /* A member joined during the delay: wait once more, within the rebalance timeout. */
        int32_t delay = groups->initial_delay_ms < g->initial_remaining_ms
                            ? groups->initial_delay_ms
                            : g->initial_remaining_ms;
        int32_t remaining = g->initial_remaining_ms - g->initial_delay_ms;
        g->new_member_added = false;
        g->initial_delay_ms = delay;
        g->initial_remaining_ms = remaining > 0 ? remaining : 0;
        g->join_deadline_ms = groups->now_ms + delay;
        return;
    }
    rn_groups_complete_join(groups, g);
}

/* ---- JoinGroup ---- */

static void add_member(rn_groups_t *groups, rn_group_t *g, const rn_groups_join_args_t *args,
                       rn_str_t member_id, rn_groups_waiter_t *w)
{
    rn_group_member_t *m = rn_groups_new_member(args, member_id);
    if (m == NULL || !rn_groups_add_to_group(g, m)) {
        rn_groups_member_free(m);
        rn_groups_answer_join_error(groups, w, RN_KERR_UNKNOWN_SERVER_ERROR, args->member_id);
        return;
    }
    m->is_new = true;
    if (g->state == RN_GROUP_PREPARING_REBALANCE && g->previous_state == RN_GROUP_EMPTY)
        g->new_member_added = true; /* extends the initial delay */
    rn_groups_await_join(groups, m, w);
    /* A new member has no id to heartbeat with until the rebalance answers it, so its JoinGroup
     * is bounded by the new-member timeout instead of its session. */
    m->deadline_ms = groups->now_ms + RN_GROUPS_NEW_MEMBER_JOIN_TIMEOUT_MS;
    rn_log(RN_LOG_INFO, "coord", "group %s: member %s (client %s) joins", g->group_id.ptr,
           m->member_id.ptr, m->client_id.ptr);
    rn_groups_maybe_prepare_or_complete(groups, g);
}

/* Kafka's updateMember: new protocols and timeouts, and the JoinGroup to answer. */
static bool update_member(rn_groups_t *groups, rn_group_member_t *m,
                          const rn_groups_join_args_t *args, rn_groups_waiter_t *w)
{
    if (!rn_groups_set_protocols(m, args)) {
        rn_groups_answer_join_error(groups, w, RN_KERR_UNKNOWN_SERVER_ERROR, args->member_id);
        return false;
    }
    m->session_timeout_ms = args->session_timeout_ms;
    m->rebalance_timeout_ms = args->rebalance_timeout_ms;
    rn_groups_await_join(groups, m, w);
    return true;
}

static void update_member_and_rebalance(rn_groups_t *groups, rn_group_t *g, rn_group_member_t *m,
                                        const rn_groups_join_args_t *args, rn_groups_waiter_t *w)
{
    if (update_member(groups, m, args, w))
        rn_groups_maybe_prepare_or_complete(groups, g);
}

static void update_static_member(rn_groups_t *groups, rn_group_t *g, rn_group_member_t *m,
                                 const rn_groups_join_args_t *args, rn_ostr_t *new_id,
                                 rn_groups_waiter_t *w)
{
    /* The leader id as it was: a client before v9 must not take the lead of a Stable group, whose
     * new assignment nobody would hear of. */
    rn_ostr_t old_id = m->member_id;
    rn_str_t old_leader =
        g->leader != NULL ? rn_ostr_view(g->leader->member_id) : (rn_str_t){ "", 0 };
    /* The instance that had this id is fenced at once if it still waits. */
    rn_groups_answer_join(groups, g, m, RN_KERR_FENCED_INSTANCE_ID, rn_ostr_view(old_id),
                          (rn_str_t){ 0 }, false, false);
    if (m->sync_waiter != NULL) {
        rn_groups_waiter_t *sw = m->sync_waiter;
        m->sync_waiter = NULL;
        rn_groups_deliver_sync(groups, g, sw, RN_KERR_FENCED_INSTANCE_ID, (rn_bytes_t){ NULL, 0 });
    }
    m->member_id = *new_id;
    *new_id = (rn_ostr_t){ NULL, 0 };
    m->deadline_ms = groups->now_ms + m->session_timeout_ms;
    rn_log(RN_LOG_INFO, "coord", "group %s: static member %s rejoins as %s, replacing %s",
           g->group_id.ptr, m->group_instance_id.ptr, m->member_id.ptr, old_id.ptr);
    if (update_member(groups, m, args, w)) {
        if (g->state == RN_GROUP_STABLE) {
            const rn_ostr_t *next = select_protocol(g);
            if (next != NULL && rn_ostr_eq(g->protocol_name, rn_ostr_view(*next))) {
                /* Nothing the others have changes: no rebalance, the member gets its assignment
                 * back with its next SyncGroup (KIP-345). */
                rn_groups_queue_metadata(groups, g);
                bool leader = g->leader == m;
                if (args->version >= 9)
                    rn_groups_answer_join(groups, g, m, 0, rn_ostr_view(m->member_id),
                                          rn_ostr_view(g->leader->member_id), leader, leader);
                else
                    rn_groups_answer_join(groups, g, m, 0, rn_ostr_view(m->member_id), old_leader,
                                          false, false);
            } else {
                rn_groups_maybe_prepare_or_complete(groups, g);
            }
        } else if (g->state == RN_GROUP_COMPLETING_REBALANCE) {
            /* The leader may be assigning to the old id already: start over. */
            rn_groups_prepare_rebalance(groups, g);
        } else {
            rn_groups_maybe_complete_join(groups, g);
        }
    }
    rn_ostr_clear(&old_id);
}

static void join_new_member(rn_groups_t *groups, rn_group_t *g, const rn_groups_join_args_t *args,
                            rn_groups_waiter_t *w)
{
    rn_str_t no_id = { "", 0 };
    if (!supports_protocols(g, args)) {
        rn_groups_answer_join_error(groups, w, RN_KERR_INCONSISTENT_GROUP_PROTOCOL, no_id);
        return;
    }
    if (g->nmembers + g->npending >= RN_GROUPS_MAX_MEMBERS) {
        rn_groups_answer_join_error(groups, w, RN_KERR_GROUP_MAX_SIZE_REACHED, no_id);
        return;
    }
    bool is_static = args->group_instance_id.ptr != NULL;
    rn_str_t client_id = args->client_id.ptr ? args->client_id : no_id;
    rn_ostr_t id = { NULL, 0 };
    if (!rn_groups_generate_member_id(is_static ? args->group_instance_id : client_id, &id)) {
        rn_groups_answer_join_error(groups, w, RN_KERR_UNKNOWN_SERVER_ERROR, no_id);
        return;
    }
    rn_group_member_t *old = rn_groups_static_member(g, args->group_instance_id);
    if (old != NULL) {
        update_static_member(groups, g, old, args, &id, w);
    } else if (!is_static && args->version >= 4) {
        /* KIP-394: the member comes back with this id, so that a client that gives up on its
         * JoinGroup does not leave a member behind for every retry. Clients before v4 cannot do
         * that (CLIENTS.md rule 5): they join at once. */
        if (g->npending == g->pending_cap) {
            g->pending_cap = g->pending_cap ? g->pending_cap * 2 : 4;
            g->pending = rn_xrealloc(g->pending, g->pending_cap * sizeof *g->pending);
        }
        g->pending[g->npending++] =
            (rn_group_pending_t){ id, groups->now_ms + args->session_timeout_ms };
        rn_groups_answer_join_error(groups, w, RN_KERR_MEMBER_ID_REQUIRED, rn_ostr_view(id));
        return;
    } else {
        add_member(groups, g, args, rn_ostr_view(id), w);
    }
    rn_ostr_clear(&id);
}

static void join_existing_member(rn_groups_t *groups, rn_group_t *g,
                                 const rn_groups_join_args_t *args, rn_groups_waiter_t *w)
{
    if (!supports_protocols(g, args)) {
        rn_groups_answer_join_error(groups, w, RN_KERR_INCONSISTENT_GROUP_PROTOCOL,
                                    args->member_id);
        return;
    }
    if (args->group_instance_id.ptr == NULL && rn_groups_pending_index(g, args->member_id) >= 0) {
        add_member(groups, g, args, args->member_id, w);
        return;
    }
    int16_t err = rn_groups_validate_member(g, args->member_id, args->group_instance_id);
    if (err != 0) {
        rn_groups_answer_join_error(groups, w, err, args->member_id);
        return;
    }
    rn_group_member_t *m = rn_groups_member(g, args->member_id);
    rn_str_t leader = rn_ostr_view(g->leader->member_id);
    switch (g->state) {
    case RN_GROUP_PREPARING_REBALANCE:
        update_member_and_rebalance(groups, g, m, args, w);
        break;
    case RN_GROUP_COMPLETING_REBALANCE:
        if (rn_groups_member_matches(m, args)) {
            /* The same join again (its answer was lost): the current generation once more. */
            rn_groups_deliver_join(groups, g, w, 0, args->member_id, leader, m == g->leader, false);
        } else {
            update_member_and_rebalance(groups, g, m, args, w);
        }
        break;
    case RN_GROUP_STABLE:
        /* The leader's join starts a rebalance: that is how it reacts to changes outside the
         * members' metadata (new partitions). A follower with nothing new learns the current
         * generation and goes on to SyncGroup. */
        if (m == g->leader || !rn_groups_member_matches(m, args))
            update_member_and_rebalance(groups, g, m, args, w);
        else
            rn_groups_deliver_join(groups, g, w, 0, args->member_id, leader, false, false);
        break;
    case RN_GROUP_EMPTY:
    case RN_GROUP_DEAD:
        rn_groups_answer_join_error(groups, w, RN_KERR_UNKNOWN_MEMBER_ID, args->member_id);
        break;
    }
}

/* Runs the join; returns the group (NULL when there is none after it). */
static rn_group_t *join_locked(rn_groups_t *groups, const rn_groups_join_args_t *args,
                               rn_groups_waiter_t *w)
{
    if (args->group_id.len == 0) {
        rn_groups_answer_join_error(groups, w, RN_KERR_INVALID_GROUP_ID, args->member_id);
        return NULL;
    }
    if (args->session_timeout_ms < groups->min_session_ms ||
        args->session_timeout_ms > groups->max_session_ms) {
        rn_groups_answer_join_error(groups, w, RN_KERR_INVALID_SESSION_TIMEOUT, args->member_id);
        return NULL;
    }
    if (args->nprotocols > RN_GROUPS_MAX_PROTOCOLS || args->rebalance_timeout_ms < 0) {
        rn_groups_answer_join_error(groups, w, RN_KERR_INVALID_REQUEST, args->member_id);
        return NULL;
    }
    bool unknown = args->member_id.len == 0;
    rn_group_t *g = rn_groups_find(groups, args->group_id);
    bool created = false;
    if (g == NULL) {
        /* Only a new member creates a group; a member id for a group that does not exist is
         * stale (the group was deleted, or the broker restarted). */
        if (!unknown) {
            rn_groups_answer_join_error(groups, w, RN_KERR_UNKNOWN_MEMBER_ID, args->member_id);
            return NULL;
        }
        if ((g = rn_groups_create(groups, args->group_id)) == NULL) {
            rn_groups_answer_join_error(groups, w, RN_KERR_UNKNOWN_SERVER_ERROR, args->member_id);
            return NULL;
        }
        created = true;
    }
    if (unknown)
        join_new_member(groups, g, args, w);
    else
        join_existing_member(groups, g, args, w);
    if (created && g->nmembers == 0 && g->npending == 0) {
        rn_groups_destroy(groups, g); /* a join that failed leaves no group behind */
        return NULL;
    }
    return g;
}

bool rn_groups_join(rn_groups_t *groups, const rn_groups_join_args_t *args, rn_groups_waiter_t *w,
                    uint64_t *wait_ms)
{
    w->member = NULL;
    w->armed = w->done = false;
    pthread_mutex_lock(&groups->lock);
    rn_group_t *g = join_locked(groups, args, w);
    if (g != NULL)
        rn_groups_run_deadlines(groups, g); /* a delay of 0 ends the initial rebalance now */
    bool done = w->done;
    if (!done) {
        int64_t wait = rn_groups_rebalance_timeout(g);
        if (g->join_deadline_ms != RN_GROUPS_NO_DEADLINE &&
            g->join_deadline_ms - groups->now_ms > wait)
            wait = g->join_deadline_ms - groups->now_ms;
        *wait_ms = (uint64_t)wait + RN_GROUPS_WAIT_SLACK_MS;
    }
    pthread_mutex_unlock(&groups->lock);
    return done;
}
