/* SPDX-License-Identifier: Apache-2.0 */
/* A group's members: lookups, copies of what a JoinGroup brings, member ids, the answers to a
 * parked JoinGroup, and adding and removing members. Kafka's ClassicGroup and
 * ClassicGroupMember hold the same rules; the rebalance that uses them is in groups_join.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "coord/groups_internal.h"
#include "util/xmalloc.h"

/* ---- members ---- */

rn_group_member_t *rn_groups_member(rn_group_t *g, rn_str_t member_id)
{
    if (member_id.ptr == NULL || member_id.len == 0)
        return NULL;
    for (size_t i = 0; i < g->nmembers; i++)
        if (rn_ostr_eq(g->members[i]->member_id, member_id))
            return g->members[i];
    return NULL;
}

rn_group_member_t *rn_groups_static_member(rn_group_t *g, rn_str_t group_instance_id)
{
    if (group_instance_id.ptr == NULL)
        return NULL;
    for (size_t i = 0; i < g->nmembers; i++)
        if (rn_ostr_eq(g->members[i]->group_instance_id, group_instance_id))
            return g->members[i];
    return NULL;
}

ssize_t rn_groups_pending_index(rn_group_t *g, rn_str_t member_id)
{
    for (size_t i = 0; member_id.len > 0 && i < g->npending; i++)
        if (rn_ostr_eq(g->pending[i].member_id, member_id))
            return (ssize_t)i;
    return -1;
}

void rn_groups_remove_pending_at(rn_group_t *g, size_t i)
{
    rn_ostr_clear(&g->pending[i].member_id);
    memmove(&g->pending[i], &g->pending[i + 1], (g->npending - i - 1) * sizeof g->pending[0]);
    g->npending--;
}

static void free_protocols(rn_group_protocol_t *protocols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rn_ostr_clear(&protocols[i].name);
        rn_ostr_clear(&protocols[i].metadata);
    }
    free(protocols);
}

void rn_groups_member_free(rn_group_member_t *m)
{
    if (m == NULL)
        return;
    rn_ostr_clear(&m->member_id);
    rn_ostr_clear(&m->group_instance_id);
    rn_ostr_clear(&m->client_id);
    rn_ostr_clear(&m->client_host);
    rn_ostr_clear(&m->protocol_type);
    rn_ostr_clear(&m->assignment);
    free_protocols(m->protocols, m->nprotocols);
    free(m);
}

bool rn_groups_set_protocols(rn_group_member_t *m, const rn_groups_join_args_t *args)
{
    rn_group_protocol_t *p = rn_xcalloc(args->nprotocols ? args->nprotocols : 1, sizeof *p);
    for (size_t i = 0; i < args->nprotocols; i++) {
        const rn_groups_protocol_t *src = &args->protocols[i];
        if (!rn_ostr_set(&p[i].name, src->name.ptr, src->name.len, false) ||
            !rn_ostr_set(&p[i].metadata, src->metadata.ptr, src->metadata.len, false)) {
            free_protocols(p, args->nprotocols);
            return false;
        }
    }
    free_protocols(m->protocols, m->nprotocols);
    m->protocols = p;
    m->nprotocols = args->nprotocols;
    return true;
}

rn_group_member_t *rn_groups_new_member(const rn_groups_join_args_t *args, rn_str_t member_id)
{
    rn_group_member_t *m = rn_xcalloc(1, sizeof *m);
    rn_str_t client_id = args->client_id.ptr ? args->client_id : (rn_str_t){ "", 0 };
    rn_str_t host = args->client_host.ptr ? args->client_host : (rn_str_t){ "", 0 };
    if (!rn_ostr_set(&m->member_id, member_id.ptr, member_id.len, false) ||
        !rn_ostr_set(&m->group_instance_id, args->group_instance_id.ptr,
                     args->group_instance_id.len, args->group_instance_id.ptr == NULL) ||
        !rn_ostr_set(&m->client_id, client_id.ptr, client_id.len, false) ||
        !rn_ostr_set(&m->client_host, host.ptr, host.len, false) ||
        !rn_ostr_set(&m->protocol_type, args->protocol_type.ptr, args->protocol_type.len, false) ||
        !rn_groups_set_protocols(m, args)) {
        rn_groups_member_free(m);
        return NULL;
    }
    m->session_timeout_ms = args->session_timeout_ms;
    m->rebalance_timeout_ms = args->rebalance_timeout_ms;
    m->deadline_ms = RN_GROUPS_NO_DEADLINE;
    return m;
}

/* Same protocols, in the same order, with the same metadata (Kafka's MemberMetadata.matches). */
bool rn_groups_member_matches(const rn_group_member_t *m, const rn_groups_join_args_t *args)
{
    if (m->nprotocols != args->nprotocols)
        return false;
    for (size_t i = 0; i < m->nprotocols; i++) {
        const rn_groups_protocol_t *p = &args->protocols[i];
        if (!rn_ostr_eq(m->protocols[i].name, p->name) ||
            !rn_ostr_eq(m->protocols[i].metadata,
                        (rn_str_t){ (const char *)p->metadata.ptr, p->metadata.len }))
            return false;
    }
    return true;
}

bool rn_groups_member_supports(const rn_group_member_t *m, rn_str_t name)
{
    for (size_t i = 0; i < m->nprotocols; i++)
        if (rn_ostr_eq(m->protocols[i].name, name))
            return true;
    return false;
}

int32_t rn_groups_rebalance_timeout(const rn_group_t *g)
{
    int32_t max = 0;
    for (size_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->rebalance_timeout_ms > max)
            max = g->members[i]->rebalance_timeout_ms;
    return max;
}

bool rn_groups_all_joined(const rn_group_t *g)
{
    for (size_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->join_waiter == NULL)
            return false;
    return g->npending == 0;
}

rn_kerr_t rn_groups_validate_member(rn_group_t *g, rn_str_t member_id, rn_str_t group_instance_id)
{
    if (group_instance_id.ptr != NULL) {
        rn_group_member_t *s = rn_groups_static_member(g, group_instance_id);
        if (s == NULL)
            return RN_KERR_UNKNOWN_MEMBER_ID;
        if (!rn_ostr_eq(s->member_id, member_id))
            return RN_KERR_FENCED_INSTANCE_ID;
    }
    return rn_groups_member(g, member_id) != NULL ? 0 : RN_KERR_UNKNOWN_MEMBER_ID;
}

/* A new member id: the client id (or, for a static member, its instance id), a dash, and a
 * random UUID, as Kafka makes them. */
bool rn_groups_generate_member_id(rn_str_t prefix, rn_ostr_t *out)
{
    uint8_t b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* No entropy source: ids need only be unique, not secret. */
        static _Atomic uint64_t counter;
        uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)out << 16) ^
                     ++counter * 0x9e3779b97f4a7c15ULL;
        for (size_t i = 0; i < sizeof b;
             i++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
            b[i] = (uint8_t)(x >> 56);
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* IETF variant */
    char uuid[37];
    snprintf(uuid, sizeof uuid,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    size_t len = prefix.len + 1 + 36;
    char *id = malloc(len + 1);
    if (id == NULL)
        return false;
    if (prefix.len > 0)
        memcpy(id, prefix.ptr, prefix.len);
    id[prefix.len] = '-';
    memcpy(id + prefix.len + 1, uuid, 37);
    rn_ostr_clear(out);
    *out = (rn_ostr_t){ id, len };
    return true;
}

/* ---- answers ---- */

rn_bytes_t rn_groups_member_metadata(const rn_group_member_t *m, rn_ostr_t name)
{
    for (size_t i = 0; name.ptr != NULL && i < m->nprotocols; i++)
        if (rn_ostr_eq(m->protocols[i].name, rn_ostr_view(name)))
            return rn_ostr_bytes(m->protocols[i].metadata);
    return (rn_bytes_t){ (const uint8_t *)"", 0 };
}

void rn_groups_deliver_join(rn_groups_t *groups, rn_group_t *g, rn_groups_waiter_t *w,
                            rn_kerr_t error, rn_str_t member_id, rn_str_t leader, bool with_members,
                            bool skip_assignment)
{
    (void)groups;
    rn_groups_join_result_t *r = &w->join;
    bool oom = false;
    memset(r, 0, sizeof *r);
    r->error_code = error;
    r->generation_id = -1;
    r->leader = (rn_str_t){ "", 0 };
    r->member_id =
        rn_groups_arena_str(w->arena, member_id.ptr ? member_id : (rn_str_t){ "", 0 }, &oom);
    if (error == 0 && g != NULL) {
        r->generation_id = g->generation;
        r->protocol_type = rn_groups_arena_str(w->arena, rn_ostr_view(g->protocol_type), &oom);
        r->protocol_name = rn_groups_arena_str(w->arena, rn_ostr_view(g->protocol_name), &oom);
        r->leader = rn_groups_arena_str(w->arena, leader.ptr ? leader : (rn_str_t){ "", 0 }, &oom);
        r->skip_assignment = skip_assignment;
        if (with_members && g->nmembers > 0) {
            r->members = rn_arena_try_alloc_array(w->arena, rn_groups_member_meta_t, g->nmembers);
            oom |= r->members == NULL;
            for (size_t i = 0; !oom && i < g->nmembers; i++) {
                const rn_group_member_t *m = g->members[i];
                r->members[i].member_id =
                    rn_groups_arena_str(w->arena, rn_ostr_view(m->member_id), &oom);
                rn_bytes_t metadata = rn_groups_member_metadata(m, g->protocol_name);
                r->members[i].group_instance_id =
                    rn_groups_arena_str(w->arena, rn_ostr_view(m->group_instance_id), &oom);
                r->members[i].metadata = rn_groups_arena_bytes(w->arena, metadata, &oom);
            }
            r->nmembers = oom ? 0 : (int32_t)g->nmembers;
        }
    }
    if (oom) {
        memset(r, 0, sizeof *r);
        r->error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
        r->generation_id = -1;
        r->leader = r->member_id = (rn_str_t){ "", 0 };
    }
    w->member = NULL;
    w->done = true;
    if (w->armed)
        w->wake(w);
}

/* Answers the member's parked JoinGroup, if it has one. */
void rn_groups_answer_join(rn_groups_t *groups, rn_group_t *g, rn_group_member_t *m,
                           rn_kerr_t error, rn_str_t member_id, rn_str_t leader, bool with_members,
                           bool skip_assignment)
{
    rn_groups_waiter_t *w = m->join_waiter;
    if (w == NULL)
        return;
    m->join_waiter = NULL;
    rn_groups_deliver_join(groups, g, w, error, member_id, leader, with_members, skip_assignment);
}

void rn_groups_answer_join_error(rn_groups_t *groups, rn_groups_waiter_t *w, rn_kerr_t error,
                                 rn_str_t member_id)
{
    rn_groups_deliver_join(groups, NULL, w, error, member_id, (rn_str_t){ "", 0 }, false, false);
}

/* Sets `w` as the member's parked JoinGroup. A JoinGroup it sent before and that still waits
 * (the client gave up on it) is answered REBALANCE_IN_PROGRESS, which every client retries. */
void rn_groups_await_join(rn_groups_t *groups, rn_group_member_t *m, rn_groups_waiter_t *w)
{
    if (m->join_waiter != NULL && m->join_waiter != w)
        rn_groups_answer_join(groups, NULL, m, RN_KERR_REBALANCE_IN_PROGRESS,
                              rn_ostr_view(m->member_id), (rn_str_t){ 0 }, false, false);
    m->join_waiter = w;
    w->member = m;
}

/* ---- the group's members ---- */

bool rn_groups_add_to_group(rn_group_t *g, rn_group_member_t *m)
{
    if (g->nmembers == 0 &&
        !rn_ostr_set(&g->protocol_type, m->protocol_type.ptr, m->protocol_type.len, false))
        return false;
    if (g->nmembers == g->members_cap) {
        g->members_cap = g->members_cap ? g->members_cap * 2 : 4;
        g->members = rn_xrealloc(g->members, g->members_cap * sizeof *g->members);
    }
    g->members[g->nmembers++] = m;
    if (g->leader == NULL)
        g->leader = m;
    ssize_t p = rn_groups_pending_index(g, rn_ostr_view(m->member_id));
    if (p >= 0)
        rn_groups_remove_pending_at(g, (size_t)p);
    return true;
}

void rn_groups_remove_member(rn_groups_t *groups, rn_group_t *g, rn_group_member_t *m)
{
    /* Kafka answers a member removed during a rebalance with UNKNOWN_MEMBER_ID, so that a client
     * that is still there joins again; a parked SyncGroup gets the same. */
    rn_groups_answer_join(groups, g, m, RN_KERR_UNKNOWN_MEMBER_ID, (rn_str_t){ "", 0 },
                          (rn_str_t){ 0 }, false, false);
    if (m->sync_waiter != NULL) {
        rn_groups_waiter_t *w = m->sync_waiter;
        m->sync_waiter = NULL;
        rn_groups_deliver_sync(groups, g, w, RN_KERR_UNKNOWN_MEMBER_ID, (rn_bytes_t){ NULL, 0 });
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        if (g->members[i] == m) {
            memmove(&g->members[i], &g->members[i + 1],
                    (g->nmembers - i - 1) * sizeof g->members[0]);
            g->nmembers--;
            break;
        }
    }
    if (g->leader == m)
        g->leader = g->nmembers > 0 ? g->members[0] : NULL;
    rn_groups_member_free(m);
}
