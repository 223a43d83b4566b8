/* SPDX-License-Identifier: Apache-2.0 */
/* The groups: a hash map of rn_group_t under one lock, the clock and the deadlines it fires,
 * the queue of records for __consumer_offsets, start-up loading, and the calls that only read
 * or remove groups (OffsetCommit's check, DescribeGroups, ListGroups, DeleteGroups).
 *
 * The one idea: nothing here waits on a timer of its own. Every deadline is a number in a group
 * or member struct, compared with the clock that rn_groups_tick advances, so the whole state
 * machine runs the same under the broker's 100 ms tick and under a unit test's fake clock. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "coord/groups_internal.h"
#include "coord/store.h"
#include "util/err.h"
#include "util/logging.h"
#include "util/xmalloc.h"

/* Kafka's offsets.retention.check.interval.ms default: how often empty groups are swept. */
#define SWEEP_INTERVAL_MS 60000

/* ---- owned strings ---- */

bool rn_ostr_set(rn_ostr_t *dst, const void *ptr, size_t len, bool null)
{
    rn_ostr_t s = { NULL, 0 };
    if (!null) {
        /* The size comes from a client: a failure fails the request, not the broker. */
        if ((s.ptr = malloc(len + 1)) == NULL)
            return false;
        if (len > 0)
            memcpy(s.ptr, ptr, len);
        s.ptr[len] = '\0';
        s.len = len;
    }
    rn_ostr_clear(dst);
    *dst = s;
    return true;
}

void rn_ostr_clear(rn_ostr_t *s)
{
    free(s->ptr);
    s->ptr = NULL;
    s->len = 0;
}

bool rn_ostr_eq(rn_ostr_t a, rn_str_t b)
{
    if (a.ptr == NULL || b.ptr == NULL)
        return a.ptr == NULL && b.ptr == NULL;
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

rn_str_t rn_groups_arena_str(rn_arena_t *arena, rn_str_t s, bool *oom)
{
    if (s.ptr == NULL)
        return s;
    char *p = rn_arena_try_alloc(arena, s.len + 1);
    if (p == NULL) {
        *oom = true;
        return (rn_str_t){ "", 0 };
    }
    if (s.len > 0)
        memcpy(p, s.ptr, s.len);
    return (rn_str_t){ p, s.len };
}

rn_bytes_t rn_groups_arena_bytes(rn_arena_t *arena, rn_bytes_t b, bool *oom)
{
    rn_str_t s = rn_groups_arena_str(arena, (rn_str_t){ (const char *)b.ptr, b.len }, oom);
    return (rn_bytes_t){ (const uint8_t *)s.ptr, s.len };
}

/* ---- the map ---- */

static uint64_t hash_id(const rn_groups_t *groups, rn_str_t s)
{
    return rn_hmap_hash(&groups->map, s.ptr, s.len);
}

rn_group_t *rn_groups_find(rn_groups_t *groups, rn_str_t group_id)
{
    if (group_id.ptr == NULL)
        return NULL;
    uint64_t h = hash_id(groups, group_id);
    for (rn_hmap_node_t *n = rn_hmap_next_match(&groups->map, NULL, h); n != NULL;
         n = rn_hmap_next_match(&groups->map, n, h)) {
        rn_group_t *g = rn_container_of(n, rn_group_t, node);
        if (rn_ostr_eq(g->group_id, group_id))
            return g;
    }
    return NULL;
}

rn_group_t *rn_groups_create(rn_groups_t *groups, rn_str_t group_id)
{
    rn_group_t *g = rn_xcalloc(1, sizeof *g);
    if (!rn_ostr_set(&g->group_id, group_id.ptr, group_id.len, false)) {
        free(g);
        return NULL;
    }
    g->state = g->previous_state = RN_GROUP_EMPTY;
    g->state_timestamp = groups->now_ms;
    g->join_deadline_ms = RN_GROUPS_NO_DEADLINE;
    g->sync_deadline_ms = RN_GROUPS_NO_DEADLINE;
    rn_hmap_insert(&groups->map, &g->node, hash_id(groups, group_id));
    return g;
}

static void group_free(rn_group_t *g)
{
    for (size_t i = 0; i < g->nmembers; i++)
        rn_groups_member_free(g->members[i]);
    for (size_t i = 0; i < g->npending; i++)
        rn_ostr_clear(&g->pending[i].member_id);
    free(g->members);
    free(g->pending);
    rn_ostr_clear(&g->group_id);
    rn_ostr_clear(&g->protocol_type);
    rn_ostr_clear(&g->protocol_name);
    free(g);
}

void rn_groups_destroy(rn_groups_t *groups, rn_group_t *g)
{
    rn_hmap_remove(&groups->map, &g->node);
    group_free(g);
}

const char *rn_groups_state_name(rn_group_state_t state)
{
    switch (state) {
    case RN_GROUP_EMPTY:
        return "Empty";
    case RN_GROUP_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case RN_GROUP_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case RN_GROUP_STABLE:
        return "Stable";
    case RN_GROUP_DEAD:
        return "Dead";
    }
    return "Dead";
}

void rn_groups_transition(rn_groups_t *groups, rn_group_t *g, rn_group_state_t state)
{
    g->previous_state = g->state;
    g->state = state;
    g->state_timestamp = groups->now_ms;
}

/* ---- lifecycle and the clock ---- */

static int store_write(void *ctx, rn_str_t group_id, rn_bytes_t key, rn_bytes_t value,
                       int64_t now_ms)
{
    return rn_store_append(ctx, group_id, key, value, now_ms);
}

rn_groups_t *rn_groups_new(const rn_config_t *cfg, rn_store_t *store, int64_t now_ms)
{
    rn_groups_t *groups = rn_xcalloc(1, sizeof *groups);
    pthread_mutex_init(&groups->lock, NULL);
    pthread_cond_init(&groups->written_cond, NULL);
    groups->now_ms = now_ms;
    groups->next_sweep_ms = now_ms + SWEEP_INTERVAL_MS;
    groups->initial_delay_ms = cfg ? cfg->group_initial_rebalance_delay_ms : 3000;
    groups->min_session_ms = cfg ? cfg->group_min_session_timeout_ms : 6000;
    groups->max_session_ms = cfg ? cfg->group_max_session_timeout_ms : 1800000;
    if (store != NULL) {
        groups->write = store_write;
        groups->write_ctx = store;
    }
    rn_hmap_init(&groups->map);
    groups->writes_tail = &groups->writes;
    return groups;
}

void rn_groups_set_writer(rn_groups_t *groups, rn_groups_write_fn fn, void *ctx)
{
    groups->write = fn;
    groups->write_ctx = ctx;
}

void rn_groups_free(rn_groups_t *groups)
{
    if (groups == NULL)
        return;
    rn_groups_flush(groups);
    pthread_mutex_lock(&groups->lock);
    rn_hmap_iter_t it = rn_hmap_iter(&groups->map);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;) {
        rn_group_t *g = rn_container_of(n, rn_group_t, node);
        /* The loops stop, answering their parked requests, before the coordinator closes:
         * a waiter still registered belongs to no request any more, so it is dropped. */
        for (size_t i = 0; i < g->nmembers; i++)
            g->members[i]->join_waiter = g->members[i]->sync_waiter = NULL;
        rn_groups_destroy(groups, g);
    }
    pthread_mutex_unlock(&groups->lock);
    pthread_mutex_destroy(&groups->lock);
    pthread_cond_destroy(&groups->written_cond);
    rn_hmap_deinit(&groups->map);
    free(groups);
}

void rn_groups_clear(rn_groups_t *groups)
{
    /* Records queued before the reset go out first, so that the writer's counters stay whole;
     * the store's topic is emptied after this by the broker. */
    rn_groups_flush(groups);
    pthread_mutex_lock(&groups->lock);
    rn_hmap_iter_t it = rn_hmap_iter(&groups->map);
    size_t n = 0;
    for (rn_hmap_node_t *node; (node = rn_hmap_iter_next(&it)) != NULL; n++) {
        rn_group_t *g = rn_container_of(node, rn_group_t, node);
        /* Parked requests get UNKNOWN_MEMBER_ID: every client then joins again from scratch,
         * which is what a member of a group that no longer exists has to do. */
        for (size_t i = 0; i < g->nmembers; i++) {
            rn_group_member_t *m = g->members[i];
            rn_groups_answer_join(groups, g, m, RN_KERR_UNKNOWN_MEMBER_ID, (rn_str_t){ "", 0 },
                                  (rn_str_t){ "", 0 }, false, false);
            if (m->sync_waiter != NULL) {
                rn_groups_waiter_t *w = m->sync_waiter;
                m->sync_waiter = NULL;
                rn_groups_deliver_sync(groups, NULL, w, RN_KERR_UNKNOWN_MEMBER_ID,
                                       (rn_bytes_t){ NULL, 0 });
            }
        }
        rn_groups_destroy(groups, g);
    }
    pthread_mutex_unlock(&groups->lock);
    if (n > 0)
        rn_log(RN_LOG_INFO, "coord", "reset: %zu groups removed", n);
}

void rn_groups_run_deadlines(rn_groups_t *groups, rn_group_t *g)
{
    int64_t now = groups->now_ms;
    for (size_t i = g->npending; i-- > 0;) {
        if (i < g->npending && g->pending[i].deadline_ms <= now) {
            rn_log(RN_LOG_INFO, "coord",
                   "group %s: pending member %s removed after its session timeout", g->group_id.ptr,
                   g->pending[i].member_id.ptr);
            rn_groups_remove_pending_and_update(groups, g, i);
        }
    }
    /* Kafka's heartbeat expiry: a member that waits in a rebalance counts as alive (its timer
     * starts again when the rebalance answers it), unless it joined during this rebalance and
     * has waited longer than the new-member timeout. A removal changes the array (and may
     * complete a rebalance), so the scan starts again after each. */
    for (size_t i = 0; i < g->nmembers;) {
        rn_group_member_t *m = g->members[i];
        if (m->deadline_ms > now) {
            i++;
            continue;
        }
        if (!m->is_new && (m->join_waiter != NULL || m->sync_waiter != NULL)) {
            m->deadline_ms = RN_GROUPS_NO_DEADLINE;
            i++;
            continue;
        }
        rn_log(RN_LOG_INFO, "coord", "group %s: member %s removed: %s", g->group_id.ptr,
               m->member_id.ptr,
               m->is_new ? "its JoinGroup was not answered within 5 minutes"
                         : "session timeout expired");
        rn_groups_remove_member_and_update(groups, g, m);
        i = 0;
    }
    if (g->join_deadline_ms <= now)
        rn_groups_join_deadline(groups, g);
    if (g->sync_deadline_ms <= now)
        rn_groups_sync_deadline(groups, g);
}

void rn_groups_tick(rn_groups_t *groups, int64_t now_ms)
{
    pthread_mutex_lock(&groups->lock);
    if (now_ms > groups->now_ms)
        groups->now_ms = now_ms;
    rn_hmap_iter_t it = rn_hmap_iter(&groups->map);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;)
        rn_groups_run_deadlines(groups, rn_container_of(n, rn_group_t, node));
    pthread_mutex_unlock(&groups->lock);
    rn_groups_flush(groups);
}

int64_t rn_groups_now(rn_groups_t *groups)
{
    pthread_mutex_lock(&groups->lock);
    int64_t now = groups->now_ms;
    pthread_mutex_unlock(&groups->lock);
    return now;
}

/* ---- persistence ---- */

static void queue(rn_groups_t *groups, rn_str_t group_id, const rn_group_t *g)
{
    if (groups->write == NULL)
        return;
    rn_groups_write_t *w = rn_xcalloc(1, sizeof *w);
    rn_outbuf_init(&w->key);
    rn_outbuf_init(&w->value);
    w->tombstone = g == NULL;
    w->now_ms = groups->now_ms;
    rn_groups_key_encode(&w->key, group_id);
    if (g != NULL)
        rn_groups_value_encode(&w->value, g, groups->now_ms);
    if (!rn_ostr_set(&w->group_id, group_id.ptr, group_id.len, false) || w->key.failed ||
        w->value.failed) {
        rn_log(RN_LOG_WARN, "coord",
               "group %.*s: out of memory encoding its metadata; not persisted",
               (int)(group_id.len > 200 ? 200 : group_id.len), group_id.ptr);
        rn_ostr_clear(&w->group_id);
        rn_outbuf_deinit(&w->key);
        rn_outbuf_deinit(&w->value);
        free(w);
        return;
    }
    *groups->writes_tail = w;
    groups->writes_tail = &w->next;
    groups->queued++;
}

void rn_groups_queue_metadata(rn_groups_t *groups, rn_group_t *g)
{
    queue(groups, rn_ostr_view(g->group_id), g);
}

void rn_groups_queue_tombstone(rn_groups_t *groups, rn_str_t group_id)
{
    queue(groups, group_id, NULL);
}

bool rn_groups_has_writes(rn_groups_t *groups)
{
    pthread_mutex_lock(&groups->lock);
    bool any = groups->written != groups->queued;
    pthread_mutex_unlock(&groups->lock);
    return any;
}

void rn_groups_flush(rn_groups_t *groups)
{
    pthread_mutex_lock(&groups->lock);
    uint64_t target = groups->queued;
    /* One flusher at a time keeps the log in queue order; a second caller leaves its records
     * to the one already writing, which looks at the queue again before it stops, and waits
     * until they are written: its caller answers a client only then. */
    while (groups->flushing && groups->written < target)
        pthread_cond_wait(&groups->written_cond, &groups->lock);
    if (groups->written >= target) {
        pthread_mutex_unlock(&groups->lock);
        return;
    }
    groups->flushing = true;
    while (groups->writes != NULL) {
        rn_groups_write_t *batch = groups->writes;
        groups->writes = NULL;
        groups->writes_tail = &groups->writes;
        pthread_mutex_unlock(&groups->lock);
        uint64_t n = 0;
        while (batch != NULL) {
            rn_groups_write_t *w = batch;
            batch = w->next;
            rn_bytes_t key = { w->key.data, w->key.len };
            rn_bytes_t value = w->tombstone ? (rn_bytes_t){ NULL, 0 }
                                            : (rn_bytes_t){ w->value.data, w->value.len };
            int rc =
                groups->write(groups->write_ctx, rn_ostr_view(w->group_id), key, value, w->now_ms);
            if (rc != 0)
                rn_log(RN_LOG_WARN, "coord",
                       "group %s: cannot write its %s to " RN_STORE_TOPIC ": %s", w->group_id.ptr,
                       w->tombstone ? "tombstone" : "metadata", strerror(rc < 0 ? -rc : rc));
            rn_ostr_clear(&w->group_id);
            rn_outbuf_deinit(&w->key);
            rn_outbuf_deinit(&w->value);
            free(w);
            n++;
        }
        pthread_mutex_lock(&groups->lock);
        /* Written, or failed and logged: either way nobody waits for these any longer. */
        groups->written += n;
        pthread_cond_broadcast(&groups->written_cond);
    }
    groups->flushing = false;
    pthread_cond_broadcast(&groups->written_cond);
    pthread_mutex_unlock(&groups->lock);
}

bool rn_groups_load_record(rn_groups_t *groups, rn_bytes_t key, rn_bytes_t value)
{
    rn_str_t group_id;
    rn_groups_value_t v;
    if (rn_groups_key_decode(key, &group_id) != 0)
        return false;
    if (value.ptr != NULL && rn_groups_value_decode(value, NULL, &v) != 0)
        return false;
    bool ok = true;
    pthread_mutex_lock(&groups->lock);
    rn_group_t *g = rn_groups_find(groups, group_id);
    if (value.ptr == NULL) {
        if (g != NULL && g->nmembers == 0)
            rn_groups_destroy(groups, g);
    } else if (g == NULL && (g = rn_groups_create(groups, group_id)) == NULL) {
        ok = false;
    } else if (g->nmembers == 0) {
        /* Members are not restored: they must join again after a restart, and the group keeps
         * its generation so that commits from before the restart are told apart. */
        g->generation = v.generation;
        ok = rn_ostr_set(&g->protocol_type, v.protocol_type.ptr, v.protocol_type.len,
                         v.protocol_type.len == 0);
        rn_ostr_clear(&g->protocol_name);
        g->state = g->previous_state = RN_GROUP_EMPTY;
        g->state_timestamp =
            v.current_state_timestamp >= 0 ? v.current_state_timestamp : groups->now_ms;
    }
    pthread_mutex_unlock(&groups->lock);
    return ok;
}

/* ---- calls that read or remove groups ---- */

rn_kerr_t rn_groups_check_commit(rn_groups_t *groups, const rn_groups_commit_args_t *args)
{
    rn_kerr_t err = 0;
    int32_t generation = args->generation;
    rn_str_t member_id = args->member_id;
    pthread_mutex_lock(&groups->lock);
    rn_group_t *g = rn_groups_find(groups, args->group_id);
    if (g == NULL) {
        /* No group: a consumer that does not use group management may commit (generation
         * -1), and its commit makes the group. A generation finds no member: in the Empty
         * group Kafka keeps for committed offsets it is an unknown member; for a group that
         * does not exist at all it comes from a group this broker no longer has, and KIP-848
         * gave v9 the precise answer. */
        if (generation >= 0)
            err = args->has_offsets || args->transactional ? RN_KERR_UNKNOWN_MEMBER_ID
                  : args->version >= 9                     ? RN_KERR_GROUP_ID_NOT_FOUND
                                                           : RN_KERR_ILLEGAL_GENERATION;
    } else if (generation < 0 && g->state == RN_GROUP_EMPTY) {
        err = 0;
    } else if (generation >= 0 || member_id.len > 0 || args->group_instance_id.ptr != NULL) {
        err = rn_groups_validate_member(g, member_id, args->group_instance_id);
        if (err == 0 && generation != g->generation)
            err = RN_KERR_ILLEGAL_GENERATION;
    } else if (g->state != RN_GROUP_EMPTY && !args->transactional) {
        /* Only members commit to a group that has them; a transactional commit without a
         * member (TxnOffsetCommit before v3, or v3+ with generation -1 and no member id) is
         * accepted, as Kafka 4.4 accepts it. */
        err = RN_KERR_UNKNOWN_MEMBER_ID;
    }
    if (err == 0 && g != NULL && g->state == RN_GROUP_COMPLETING_REBALANCE && !args->transactional)
        err = RN_KERR_REBALANCE_IN_PROGRESS;
    if (err == 0 && g != NULL) {
        rn_group_member_t *m = rn_groups_member(g, member_id);
        if (m != NULL)
            m->deadline_ms = groups->now_ms + m->session_timeout_ms;
    }
    pthread_mutex_unlock(&groups->lock);
    return err;
}

bool rn_groups_is_empty(rn_groups_t *groups, rn_str_t group_id)
{
    pthread_mutex_lock(&groups->lock);
    rn_group_t *g = rn_groups_find(groups, group_id);
    bool empty = g == NULL || g->state == RN_GROUP_EMPTY;
    pthread_mutex_unlock(&groups->lock);
    return empty;
}

static bool removable(const rn_group_t *g)
{
    return g->state == RN_GROUP_EMPTY && g->nmembers == 0 && g->npending == 0;
}

void rn_groups_remove_empty(rn_groups_t *groups, bool (*has_offsets)(void *ctx, rn_str_t group_id),
                            void *ctx)
{
    pthread_mutex_lock(&groups->lock);
    if (groups->now_ms < groups->next_sweep_ms) {
        pthread_mutex_unlock(&groups->lock);
        return;
    }
    groups->next_sweep_ms = groups->now_ms + SWEEP_INTERVAL_MS;
    size_t n = 0;
    rn_ostr_t *ids = rn_xcalloc(groups->map.count + 1, sizeof *ids);
    rn_hmap_iter_t it = rn_hmap_iter(&groups->map);
    for (rn_hmap_node_t *node; (node = rn_hmap_iter_next(&it)) != NULL;) {
        rn_group_t *g = rn_container_of(node, rn_group_t, node);
        if (removable(g) && rn_ostr_set(&ids[n], g->group_id.ptr, g->group_id.len, false))
            n++;
    }
    pthread_mutex_unlock(&groups->lock);
    /* The offsets are asked without the groups lock: they call rn_groups_is_empty under theirs. */
    for (size_t i = 0; i < n; i++) {
        if (!has_offsets(ctx, rn_ostr_view(ids[i]))) {
            pthread_mutex_lock(&groups->lock);
            rn_group_t *g = rn_groups_find(groups, rn_ostr_view(ids[i]));
            if (g != NULL && removable(g)) {
                rn_log(RN_LOG_INFO, "coord", "group %s: empty and without offsets; removed",
                       ids[i].ptr);
                rn_groups_queue_tombstone(groups, rn_ostr_view(ids[i]));
                rn_groups_destroy(groups, g);
            }
            pthread_mutex_unlock(&groups->lock);
        }
        rn_ostr_clear(&ids[i]);
    }
    free(ids);
    rn_groups_flush(groups);
}

int rn_groups_describe(rn_groups_t *groups, rn_str_t group_id, rn_arena_t *arena,
                       rn_groups_description_t *out)
{
    bool oom = false;
    memset(out, 0, sizeof *out);
    out->state = "Dead";
    out->protocol_type = out->protocol_data = (rn_str_t){ "", 0 };
    pthread_mutex_lock(&groups->lock);
    rn_group_t *g = rn_groups_find(groups, group_id);
    if (g != NULL) {
        bool stable = g->state == RN_GROUP_STABLE;
        out->found = true;
        out->state = rn_groups_state_name(g->state);
        if (g->protocol_type.ptr != NULL)
            out->protocol_type = rn_groups_arena_str(arena, rn_ostr_view(g->protocol_type), &oom);
        if (stable)
            out->protocol_data = rn_groups_arena_str(arena, rn_ostr_view(g->protocol_name), &oom);
        out->members = rn_arena_try_alloc_array(arena, rn_groups_described_member_t,
                                                g->nmembers ? g->nmembers : 1);
        oom |= out->members == NULL;
        for (size_t i = 0; !oom && i < g->nmembers; i++) {
            const rn_group_member_t *m = g->members[i];
            rn_groups_described_member_t *d = &out->members[i];
            d->member_id = rn_groups_arena_str(arena, rn_ostr_view(m->member_id), &oom);
            d->group_instance_id =
                rn_groups_arena_str(arena, rn_ostr_view(m->group_instance_id), &oom);
            d->client_id = rn_groups_arena_str(arena, rn_ostr_view(m->client_id), &oom);
            d->client_host = rn_groups_arena_str(arena, rn_ostr_view(m->client_host), &oom);
            d->metadata = d->assignment = (rn_bytes_t){ (const uint8_t *)"", 0 };
            /* Kafka shows metadata and assignment only for a Stable group. */
            for (size_t p = 0; stable && p < m->nprotocols; p++)
                if (rn_ostr_eq(m->protocols[p].name, rn_ostr_view(g->protocol_name)))
                    d->metadata =
                        rn_groups_arena_bytes(arena, rn_ostr_bytes(m->protocols[p].metadata), &oom);
            if (stable && m->assignment.ptr != NULL)
                d->assignment = rn_groups_arena_bytes(arena, rn_ostr_bytes(m->assignment), &oom);
        }
        out->nmembers = oom ? 0 : g->nmembers;
    }
    pthread_mutex_unlock(&groups->lock);
    return oom ? RN_ENOMEM : 0;
}

int rn_groups_list(rn_groups_t *groups, rn_arena_t *arena, rn_groups_overview_t **out, size_t *n)
{
    bool oom = false;
    pthread_mutex_lock(&groups->lock);
    rn_groups_overview_t *items =
        rn_arena_try_alloc_array(arena, rn_groups_overview_t,
                                 groups->map.count ? groups->map.count : 1);
    size_t k = 0;
    oom = items == NULL;
    rn_hmap_iter_t it = rn_hmap_iter(&groups->map);
    for (rn_hmap_node_t *node; !oom && (node = rn_hmap_iter_next(&it)) != NULL;) {
        rn_group_t *g = rn_container_of(node, rn_group_t, node);
        items[k].group_id = rn_groups_arena_str(arena, rn_ostr_view(g->group_id), &oom);
        items[k].protocol_type =
            g->protocol_type.ptr != NULL
                ? rn_groups_arena_str(arena, rn_ostr_view(g->protocol_type), &oom)
                : (rn_str_t){ "", 0 };
        items[k].state = rn_groups_state_name(g->state);
        k++;
    }
    pthread_mutex_unlock(&groups->lock);
    *out = items;
    *n = oom ? 0 : k;
    return oom ? RN_ENOMEM : 0;
}

rn_kerr_t rn_groups_delete(rn_groups_t *groups, rn_str_t group_id)
{
    rn_kerr_t err = 0;
    pthread_mutex_lock(&groups->lock);
    rn_group_t *g = rn_groups_find(groups, group_id);
    if (g == NULL) {
        err = RN_KERR_GROUP_ID_NOT_FOUND;
    } else if (g->state != RN_GROUP_EMPTY) {
        err = RN_KERR_NON_EMPTY_GROUP;
    } else {
        /* Members that were handed an id (MEMBER_ID_REQUIRED) and have not joined yet get
         * UNKNOWN_MEMBER_ID when they do, and start again. */
        rn_groups_queue_tombstone(groups, group_id);
        rn_groups_destroy(groups, g);
    }
    pthread_mutex_unlock(&groups->lock);
    return err;
}
