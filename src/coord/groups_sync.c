/* SPDX-License-Identifier: Apache-2.0 */
/* SyncGroup, Heartbeat and LeaveGroup, and the waiters of parked requests.
 *
 * After a join phase the group is CompletingRebalance: every member sends SyncGroup; followers
 * wait (parked) until the leader's SyncGroup brings the assignments, which answers them all and
 * makes the group Stable. A member that sends no SyncGroup within the rebalance timeout is
 * removed (Kafka's pending-sync expiry), so a leader that died after its JoinGroup does not
 * leave its followers waiting for its session timeout.
 *
 * A waiter is completed under the groups lock by whichever thread decides (a loop handling
 * another member's request, or the tick): the result is copied into the waiter's arena, and
 * w->wake is called only once the waiter is armed, that is once its request is parked. */
#include <inttypes.h>
#include <string.h>

#include "coord/groups_internal.h"
#include "util/logging.h"

/* ---- waiters ---- */

void rn_groups_deliver_sync(rn_groups_t *groups, rn_group_t *g, rn_groups_waiter_t *w,
                            rn_kerr_t error, rn_bytes_t assignment)
{
    (void)groups;
    rn_groups_sync_result_t *r = &w->sync;
    bool oom = false;
    memset(r, 0, sizeof *r);
    r->error_code = error;
    r->assignment = (rn_bytes_t){ (const uint8_t *)"", 0 };
    if (error == 0 && g != NULL) {
        r->protocol_type = rn_groups_arena_str(w->arena, rn_ostr_view(g->protocol_type), &oom);
        r->protocol_name = rn_groups_arena_str(w->arena, rn_ostr_view(g->protocol_name), &oom);
        if (assignment.ptr != NULL)
            r->assignment = rn_groups_arena_bytes(w->arena, assignment, &oom);
    }
    if (oom) {
        memset(r, 0, sizeof *r);
        r->error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
        r->assignment = (rn_bytes_t){ (const uint8_t *)"", 0 };
    }
    w->member = NULL;
    w->done = true;
    if (w->armed)
        w->wake(w);
}

bool rn_groups_arm(rn_groups_t *groups, rn_groups_waiter_t *w)
{
    pthread_mutex_lock(&groups->lock);
    bool done = w->done;
    if (!done)
        w->armed = true;
    pthread_mutex_unlock(&groups->lock);
    return done;
}

bool rn_groups_wait_end(rn_groups_t *groups, rn_groups_waiter_t *w, bool give_up)
{
    pthread_mutex_lock(&groups->lock);
    bool done = w->done;
    rn_group_member_t *m = w->member;
    if (!done && give_up && m != NULL) {
        /* The member stops waiting; its session runs again from now (a member that joined in
         * this rebalance keeps its new-member deadline). */
        if (m->join_waiter == w)
            m->join_waiter = NULL;
        if (m->sync_waiter == w)
            m->sync_waiter = NULL;
        if (!m->is_new)
            m->deadline_ms = groups->now_ms + m->session_timeout_ms;
        w->member = NULL;
    }
    pthread_mutex_unlock(&groups->lock);
    return done;
}

/* Answers every parked SyncGroup with the member's assignment (or `error`), and restarts their
 * sessions: an expiry that came while they waited was ignored (Kafka's propagateAssignment). */
static void propagate(rn_groups_t *groups, rn_group_t *g, rn_kerr_t error)
{
    for (size_t i = 0; i < g->nmembers; i++) {
        rn_group_member_t *m = g->members[i];
        if (m->sync_waiter == NULL)
            continue;
        rn_groups_waiter_t *w = m->sync_waiter;
        m->sync_waiter = NULL;
        rn_bytes_t assignment = error == 0 ? rn_ostr_bytes(m->assignment) : (rn_bytes_t){ NULL, 0 };
        rn_groups_deliver_sync(groups, g, w, error, assignment);
        m->deadline_ms = groups->now_ms + m->session_timeout_ms;
    }
}

void rn_groups_reset_assignments(rn_groups_t *groups, rn_group_t *g, rn_kerr_t error)
{
    for (size_t i = 0; i < g->nmembers; i++)
        rn_ostr_clear(&g->members[i]->assignment);
    propagate(groups, g, error);
}

void rn_groups_sync_deadline(rn_groups_t *groups, rn_group_t *g)
{
    g->sync_deadline_ms = RN_GROUPS_NO_DEADLINE;
    if (g->sync_generation != g->generation ||
        (g->state != RN_GROUP_COMPLETING_REBALANCE && g->state != RN_GROUP_STABLE))
        return;
    bool removed = false;
    for (size_t i = 0; i < g->nmembers;) {
        rn_group_member_t *m = g->members[i];
        if (m->pending_sync) {
            rn_log(RN_LOG_INFO, "coord",
                   "group %s: member %s sent no SyncGroup within the rebalance timeout; removed",
                   g->group_id.ptr, m->member_id.ptr);
            rn_groups_remove_member(groups, g, m);
            removed = true;
        } else {
            i++;
        }
    }
    if (removed)
        rn_groups_prepare_rebalance(groups, g);
}

/* ---- SyncGroup ---- */

static void end_pending_sync(rn_group_t *g, rn_group_member_t *m)
{
    m->pending_sync = false;
    for (size_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->pending_sync)
            return;
    g->sync_deadline_ms = RN_GROUPS_NO_DEADLINE;
}

/* The leader's assignments: a member the leader left out gets an empty one; a member named twice
 * gets the later one. */
static void set_assignments(rn_group_t *g, const rn_groups_sync_args_t *args)
{
    for (size_t i = 0; i < g->nmembers; i++) {
        rn_group_member_t *m = g->members[i];
        rn_bytes_t a = { (const uint8_t *)"", 0 };
        for (size_t k = 0; k < args->nassignments; k++)
            if (rn_ostr_eq(m->member_id, args->assignments[k].member_id))
                a = args->assignments[k].assignment;
        if (!rn_ostr_set(&m->assignment, a.ptr, a.len, false)) {
            rn_log(RN_LOG_WARN, "coord",
                   "group %s: out of memory for the assignment of %s; it gets none",
                   g->group_id.ptr, m->member_id.ptr);
            rn_ostr_set(&m->assignment, "", 0, false);
        }
    }
}

static void sync_locked(rn_groups_t *groups, rn_group_t *g, const rn_groups_sync_args_t *args,
                        rn_groups_waiter_t *w)
{
    rn_kerr_t err = rn_groups_validate_member(g, args->member_id, args->group_instance_id);
    if (err == 0 && args->generation_id != g->generation)
        err = RN_KERR_ILLEGAL_GENERATION;
    /* v5 (KIP-559): a member whose idea of the protocol differs from the group's. */
    if (err == 0 &&
        ((args->protocol_type.ptr != NULL && !rn_ostr_eq(g->protocol_type, args->protocol_type)) ||
         (args->protocol_name.ptr != NULL && !rn_ostr_eq(g->protocol_name, args->protocol_name))))
        err = RN_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err == 0 && g->state == RN_GROUP_EMPTY)
        err = RN_KERR_UNKNOWN_MEMBER_ID;
    if (err == 0 && g->state == RN_GROUP_PREPARING_REBALANCE)
        err = RN_KERR_REBALANCE_IN_PROGRESS;
    if (err != 0) {
        rn_groups_deliver_sync(groups, g, w, err, (rn_bytes_t){ NULL, 0 });
        return;
    }
    rn_group_member_t *m = rn_groups_member(g, args->member_id);
    end_pending_sync(g, m);
    if (g->state == RN_GROUP_STABLE) {
        rn_groups_deliver_sync(groups, g, w, 0, rn_ostr_bytes(m->assignment));
        return;
    }
    /* CompletingRebalance: wait for the leader's assignment (a SyncGroup sent before and still
     * waiting was given up by its client; it gets a retriable error). */
    if (m->sync_waiter != NULL && m->sync_waiter != w) {
        rn_groups_waiter_t *old = m->sync_waiter;
        m->sync_waiter = NULL;
        rn_groups_deliver_sync(groups, g, old, RN_KERR_REBALANCE_IN_PROGRESS,
                               (rn_bytes_t){ NULL, 0 });
    }
    m->sync_waiter = w;
    w->member = m;
    if (m == g->leader) {
        rn_log(RN_LOG_INFO, "coord", "group %s: assignment from leader %s for generation %" PRId32,
               g->group_id.ptr, m->member_id.ptr, g->generation);
        set_assignments(g, args);
        rn_groups_transition(groups, g, RN_GROUP_STABLE);
        rn_groups_queue_metadata(groups, g);
        propagate(groups, g, 0);
    }
}

bool rn_groups_sync(rn_groups_t *groups, const rn_groups_sync_args_t *args, rn_groups_waiter_t *w,
                    uint64_t *wait_ms)
{
    w->member = NULL;
    w->armed = w->done = false;
    pthread_mutex_lock(&groups->lock);
    rn_group_t *g = args->group_id.len > 0 ? rn_groups_find(groups, args->group_id) : NULL;
    if (args->group_id.len == 0)
        rn_groups_deliver_sync(groups, NULL, w, RN_KERR_INVALID_GROUP_ID, (rn_bytes_t){ NULL, 0 });
    else if (g == NULL)
        rn_groups_deliver_sync(groups, NULL, w, RN_KERR_UNKNOWN_MEMBER_ID, (rn_bytes_t){ NULL, 0 });
    else
        sync_locked(groups, g, args, w);
    bool done = w->done;
    if (!done)
        *wait_ms = (uint64_t)rn_groups_rebalance_timeout(g) + RN_GROUPS_WAIT_SLACK_MS;
    pthread_mutex_unlock(&groups->lock);
    return done;
}

/* ---- Heartbeat ---- */

rn_kerr_t rn_groups_heartbeat(rn_groups_t *groups, rn_str_t group_id, rn_str_t member_id,
                              rn_str_t group_instance_id, int32_t generation_id)
{
    if (group_id.len == 0)
        return RN_KERR_INVALID_GROUP_ID;
    pthread_mutex_lock(&groups->lock);
    rn_group_t *g = rn_groups_find(groups, group_id);
    rn_kerr_t err = g == NULL ? RN_KERR_UNKNOWN_MEMBER_ID
                              : rn_groups_validate_member(g, member_id, group_instance_id);
    if (err == 0 && generation_id != g->generation)
        err = RN_KERR_ILLEGAL_GENERATION;
    if (err == 0) {
        rn_group_member_t *m = rn_groups_member(g, member_id);
        switch (g->state) {
        case RN_GROUP_EMPTY:
        case RN_GROUP_DEAD:
            err = RN_KERR_UNKNOWN_MEMBER_ID;
            break;
        case RN_GROUP_PREPARING_REBALANCE:
            /* The member is alive but must rejoin: that is how it learns of the rebalance. */
            m->deadline_ms = groups->now_ms + m->session_timeout_ms;
            err = RN_KERR_REBALANCE_IN_PROGRESS;
            break;
        case RN_GROUP_COMPLETING_REBALANCE:
        case RN_GROUP_STABLE:
            /* A member may heartbeat between its JoinGroup answer and its SyncGroup. */
            m->deadline_ms = groups->now_ms + m->session_timeout_ms;
            break;
        }
    }
    pthread_mutex_unlock(&groups->lock);
    return err;
}

/* ---- LeaveGroup ---- */

rn_kerr_t rn_groups_leave(rn_groups_t *groups, rn_str_t group_id, const rn_groups_leaver_t *members,
                          size_t n, rn_kerr_t *errors)
{
    if (group_id.len == 0) {
        for (size_t i = 0; i < n; i++)
            errors[i] = RN_KERR_INVALID_GROUP_ID;
        return RN_KERR_INVALID_GROUP_ID;
    }
    pthread_mutex_lock(&groups->lock);
    rn_group_t *g = rn_groups_find(groups, group_id);
    bool removed = false;
    for (size_t i = 0; i < n; i++) {
        rn_str_t member_id = members[i].member_id;
        rn_str_t instance_id = members[i].group_instance_id;
        ssize_t p;
        if (g == NULL) {
            errors[i] = RN_KERR_UNKNOWN_MEMBER_ID;
        } else if (member_id.len == 0) {
            /* An administrator removes a static member by its instance id alone (KIP-345). */
            rn_group_member_t *m = rn_groups_static_member(g, instance_id);
            errors[i] = m != NULL ? 0 : RN_KERR_UNKNOWN_MEMBER_ID;
            if (m != NULL) {
                rn_log(RN_LOG_INFO, "coord",
                       "group %s: static member %s (%s) removed by LeaveGroup", g->group_id.ptr,
                       m->group_instance_id.ptr, m->member_id.ptr);
                rn_groups_remove_member(groups, g, m);
                removed = true;
            }
        } else if (instance_id.ptr == NULL && (p = rn_groups_pending_index(g, member_id)) >= 0) {
            rn_groups_remove_pending_at(g, (size_t)p);
            errors[i] = 0;
            removed = true;
        } else {
            errors[i] = rn_groups_validate_member(g, member_id, instance_id);
            if (errors[i] == 0) {
                rn_log(RN_LOG_INFO, "coord", "group %s: member %.*s leaves", g->group_id.ptr,
                       (int)member_id.len, member_id.ptr);
                rn_groups_remove_member(groups, g, rn_groups_member(g, member_id));
                removed = true;
            }
        }
    }
    if (removed) {
        if (g->state == RN_GROUP_STABLE || g->state == RN_GROUP_COMPLETING_REBALANCE)
            rn_groups_maybe_prepare_or_complete(groups, g);
        else if (g->state == RN_GROUP_PREPARING_REBALANCE)
            rn_groups_maybe_complete_join(groups, g);
    }
    pthread_mutex_unlock(&groups->lock);
    return 0;
}
