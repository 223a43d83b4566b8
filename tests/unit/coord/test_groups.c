/* SPDX-License-Identifier: Apache-2.0 */
/* The group state machine (src/coord/groups*.c) driven directly, without sockets, with a fake
 * clock: Empty -> PreparingRebalance -> CompletingRebalance -> Stable, joins, syncs, heartbeats,
 * leaves, session and rebalance timeouts, protocol choice, MEMBER_ID_REQUIRED, static members,
 * DeleteGroups, OffsetCommit's check, and the group records written and loaded back.
 *
 * A "client" below is a waiter as a handler would embed it: its wake callback counts calls, and
 * the test plays the loop's part (arm after the call, wait_end when woken). */
#include "kerr_assert.h"
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/groups_internal.h"
#include "coord/store.h"
#include "fixture.h"
#include "util/err.h"

static rn_str_t S(const char *s)
{
    return rn_str_from_cstr(s);
}
static const rn_str_t NONE = { NULL, 0 };

/* ---- the fixture: groups with a fake clock and a recorder for their records ---- */

typedef struct record {
    char group[64];
    uint8_t *key, *value; /* value NULL: tombstone */
    size_t key_len, value_len;
} record_t;

static rn_groups_t *G;
static int64_t NOW;
static rn_arena_t ARENA;
static record_t RECORDS[64];
static size_t NRECORDS;

static int record_write(void *ctx, rn_str_t group_id, rn_bytes_t key, rn_bytes_t value,
                        int64_t now_ms)
{
    (void)ctx;
    (void)now_ms;
    cr_assert_lt(NRECORDS, 64);
    record_t *r = &RECORDS[NRECORDS++];
    snprintf(r->group, sizeof r->group, "%.*s", (int)group_id.len, group_id.ptr);
    r->key = malloc(key.len);
    memcpy(r->key, key.ptr, key.len);
    r->key_len = key.len;
    if (value.ptr != NULL) {
        r->value = malloc(value.len ? value.len : 1);
        memcpy(r->value, value.ptr, value.len);
        r->value_len = value.len;
    }
    return 0;
}

static rn_groups_t *make_groups(int32_t initial_delay_ms)
{
    rn_config_t cfg = { 0 };
    cfg.group_initial_rebalance_delay_ms = initial_delay_ms;
    cfg.group_min_session_timeout_ms = 6000;
    cfg.group_max_session_timeout_ms = 1800000;
    rn_groups_t *groups = rn_groups_new(&cfg, NULL, NOW);
    rn_groups_set_writer(groups, record_write, NULL);
    return groups;
}

static void setup(void)
{
    rn_log_set_level(RN_LOG_ERROR);
    NOW = 1700000000000;
    NRECORDS = 0;
    rn_arena_init(&ARENA, 0);
    G = make_groups(3000);
}

static void teardown(void)
{
    rn_groups_free(G);
    rn_arena_deinit(&ARENA);
    for (size_t i = 0; i < NRECORDS; i++) {
        free(RECORDS[i].key);
        free(RECORDS[i].value);
    }
}

static void tick(int64_t ms)
{
    NOW += ms;
    rn_groups_tick(G, NOW);
}

/* ---- clients ---- */

typedef struct client {
    rn_groups_waiter_t w;
    int wakes;
    bool waiting;         /* registered and armed, no answer taken yet */
    char id[160];         /* the member id to send */
    const char *instance; /* group.instance.id, or NULL */
    const char *client_id;
    int32_t session_ms, rebalance_ms;
    int32_t generation;
    const rn_groups_protocol_t *protocols;
    size_t nprotocols;
} client_t;

static const rn_groups_protocol_t RANGE[] = { { { "range", 5 },
                                                { (const uint8_t *)"meta-range", 10 } } };
static const rn_groups_protocol_t RANGE_RR[] = {
    { { "range", 5 }, { (const uint8_t *)"r", 1 } },
    { { "roundrobin", 10 }, { (const uint8_t *)"rr", 2 } },
};
static const rn_groups_protocol_t RR_RANGE[] = {
    { { "roundrobin", 10 }, { (const uint8_t *)"rr", 2 } },
    { { "range", 5 }, { (const uint8_t *)"r", 1 } },
};
static const rn_groups_protocol_t STICKY[] = { { { "sticky", 6 }, { (const uint8_t *)"s", 1 } } };

static void on_wake(rn_groups_waiter_t *w)
{
    rn_container_of(w, client_t, w)->wakes++;
}

static void client_init(client_t *c, const char *instance)
{
    memset(c, 0, sizeof *c);
    c->instance = instance;
    c->client_id = "client";
    c->session_ms = 10000;
    c->rebalance_ms = 20000;
    c->generation = -1;
    c->protocols = RANGE;
    c->nprotocols = 1;
    c->w.arena = &ARENA;
    c->w.wake = on_wake;
}

/* Takes a join answer: the member id to use from now on, and the generation. */
static void took_join(client_t *c)
{
    const rn_groups_join_result_t *r = &c->w.join;
    if (r->error_code == 0 || r->error_code == RN_KERR_MEMBER_ID_REQUIRED)
        snprintf(c->id, sizeof c->id, "%.*s", (int)r->member_id.len, r->member_id.ptr);
    if (r->error_code == 0)
        c->generation = r->generation_id;
}

/* Sends a JoinGroup at `version`; true when answered at once. */
static bool join_v(client_t *c, int16_t version, const char *group)
{
    rn_groups_join_args_t a = {
        .version = version,
        .group_id = S(group),
        .member_id = S(c->id),
        .group_instance_id = c->instance ? S(c->instance) : NONE,
        .protocol_type = S("consumer"),
        .client_id = S(c->client_id),
        .client_host = S("/127.0.0.1"),
        .session_timeout_ms = c->session_ms,
        .rebalance_timeout_ms = c->rebalance_ms,
        .protocols = c->protocols,
        .nprotocols = c->nprotocols,
    };
    uint64_t wait_ms = 0;
    c->wakes = 0;
    bool done = rn_groups_join(G, &a, &c->w, &wait_ms);
    if (!done) {
        cr_assert_geq(wait_ms, (uint64_t)RN_GROUPS_WAIT_SLACK_MS);
        done = rn_groups_arm(G, &c->w);
    }
    c->waiting = !done;
    if (done)
        took_join(c);
    return done;
}

static bool join(client_t *c, const char *group)
{
    return join_v(c, 7, group);
}

/* A v4+ new member: MEMBER_ID_REQUIRED first, then the join with the id it was given. */
static bool join_new(client_t *c, const char *group)
{
    cr_assert(join(c, group));
    assert_kerr(c->w.join.error_code, RN_KERR_MEMBER_ID_REQUIRED);
    return join(c, group);
}

/* The parked request's retry after a wake: true (and the answer taken) once answered. */
static bool answered(client_t *c)
{
    if (!c->waiting)
        return true;
    if (!rn_groups_wait_end(G, &c->w, false))
        return false;
    cr_assert_eq(c->wakes, 1, "one wake per answer");
    c->waiting = false;
    return true;
}

static bool join_answered(client_t *c)
{
    if (!answered(c))
        return false;
    took_join(c);
    return true;
}

static bool sync_with(client_t *c, const char *group, const rn_groups_assignment_t *assignments,
                      size_t n)
{
    rn_groups_sync_args_t a = {
        .group_id = S(group),
        .generation_id = c->generation,
        .member_id = S(c->id),
        .group_instance_id = c->instance ? S(c->instance) : NONE,
        .assignments = assignments,
        .nassignments = n,
    };
    uint64_t wait_ms = 0;
    c->wakes = 0;
    bool done = rn_groups_sync(G, &a, &c->w, &wait_ms);
    if (!done)
        done = rn_groups_arm(G, &c->w);
    c->waiting = !done;
    return done;
}

static bool sync(client_t *c, const char *group)
{
    return sync_with(c, group, NULL, 0);
}

static int16_t heartbeat(client_t *c, const char *group)
{
    return rn_groups_heartbeat(G, S(group), S(c->id), c->instance ? S(c->instance) : NONE,
                               c->generation);
}

/* OffsetCommit's check at `version`, for a group without offsets unless `has_offsets`. */
static rn_kerr_t check_commit_at(int16_t version, bool has_offsets, const char *group,
                                 const char *member, rn_str_t instance, int32_t generation)
{
    rn_groups_commit_args_t args = {
        .version = version,
        .group_id = S(group),
        .member_id = S(member),
        .group_instance_id = instance,
        .generation = generation,
        .has_offsets = has_offsets,
    };
    return rn_groups_check_commit(G, &args);
}

static rn_kerr_t check_commit(const char *group, const char *member, rn_str_t instance,
                              int32_t generation)
{
    return check_commit_at(8, false, group, member, instance, generation);
}

static int16_t leave(client_t *c, const char *group)
{
    rn_groups_leaver_t l = { S(c->id), c->instance ? S(c->instance) : NONE };
    rn_kerr_t err = -2; /* not a Kafka code: shows it was written */
    cr_assert_eq(rn_groups_leave(G, S(group), &l, 1, &err), 0);
    return err;
}

static const char *state(const char *group)
{
    rn_groups_description_t d;
    cr_assert_eq(rn_groups_describe(G, S(group), &ARENA, &d), 0);
    return d.state;
}

static bool str_is(rn_str_t s, const char *want)
{
    return s.ptr != NULL && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static bool bytes_are(rn_bytes_t b, const char *want)
{
    return b.ptr != NULL && b.len == strlen(want) && memcmp(b.ptr, want, b.len) == 0;
}

/* One member that joined (after the initial delay) and synced: generation 1, Stable. */
static void stable_one(client_t *a, const char *group)
{
    if (a->instance != NULL)
        cr_assert_not(join(a, group), "a static member joins without MEMBER_ID_REQUIRED");
    else
        cr_assert_not(join_new(a, group));
    tick(3000);
    cr_assert(join_answered(a));
    cr_assert_eq(a->generation, 1);
    rn_groups_assignment_t as[] = { { S(a->id), { (const uint8_t *)"A1", 2 } } };
    cr_assert(sync_with(a, group, as, 1));
    assert_kerr(a->w.sync.error_code, 0);
}

/* Two members (a leads), Stable at generation 2, a assigned "A", b assigned "B". */
static void stable_two(client_t *a, client_t *b, const char *group)
{
    stable_one(a, group);
    cr_assert_not(join_new(b, group));
    cr_assert_str_eq(state(group), "PreparingRebalance");
    cr_assert_eq(heartbeat(a, group), RN_KERR_REBALANCE_IN_PROGRESS);
    cr_assert(join(a, group), "the last member to rejoin completes the join phase");
    cr_assert(join_answered(b));
    cr_assert_eq(a->generation, 2);
    cr_assert_eq(b->generation, 2);
    cr_assert_not(sync(b, group), "a follower waits for the leader");
    rn_groups_assignment_t as[] = {
        { S(a->id), { (const uint8_t *)"A", 1 } },
        { S(b->id), { (const uint8_t *)"B", 1 } },
    };
    cr_assert(sync_with(a, group, as, 2));
    cr_assert(answered(b));
    cr_assert(bytes_are(b->w.sync.assignment, "B"));
    cr_assert_str_eq(state(group), "Stable");
}

TestSuite(groups, .init = setup, .fini = teardown);

/* ---- the state machine ---- */

Test(groups, first_member_waits_the_initial_delay_then_leads_generation_1)
{
    client_t a;
    client_init(&a, NULL);
    cr_assert(join(&a, "g"));
    assert_kerr(a.w.join.error_code, RN_KERR_MEMBER_ID_REQUIRED);
    cr_assert_eq(strncmp(a.id, "client-", 7), 0, "client id, dash, UUID: %s", a.id);
    cr_assert_eq(strlen(a.id), 7 + 36);
    cr_assert_str_eq(state("g"), "Empty", "a member waiting for its id is not in the group yet");

    cr_assert_not(join(&a, "g"));
    cr_assert_str_eq(state("g"), "PreparingRebalance");
    tick(2900);
    cr_assert_not(answered(&a), "group.initial.rebalance.delay.ms is 3000");
    tick(100);
    cr_assert(join_answered(&a));
    const rn_groups_join_result_t *r = &a.w.join;
    assert_kerr(r->error_code, 0);
    cr_assert_eq(r->generation_id, 1);
    cr_assert(str_is(r->leader, a.id));
    cr_assert(str_is(r->protocol_type, "consumer"));
    cr_assert(str_is(r->protocol_name, "range"));
    cr_assert_eq(r->nmembers, 1, "the leader gets the member list");
    cr_assert(str_is(r->members[0].member_id, a.id));
    cr_assert(bytes_are(r->members[0].metadata, "meta-range"));
    cr_assert_str_eq(state("g"), "CompletingRebalance");
    cr_assert_eq(heartbeat(&a, "g"), 0, "a heartbeat between join and sync is fine");

    rn_groups_assignment_t as[] = { { S(a.id), { (const uint8_t *)"A1", 2 } } };
    cr_assert(sync_with(&a, "g", as, 1), "the leader's sync answers at once");
    assert_kerr(a.w.sync.error_code, 0);
    cr_assert(bytes_are(a.w.sync.assignment, "A1"));
    cr_assert(str_is(a.w.sync.protocol_name, "range"));
    cr_assert_str_eq(state("g"), "Stable");
    cr_assert_eq(heartbeat(&a, "g"), 0);

    rn_groups_description_t d;
    cr_assert_eq(rn_groups_describe(G, S("g"), &ARENA, &d), 0);
    cr_assert(d.found);
    cr_assert(str_is(d.protocol_type, "consumer"));
    cr_assert(str_is(d.protocol_data, "range"));
    cr_assert_eq(d.nmembers, 1);
    cr_assert(str_is(d.members[0].client_id, "client"));
    cr_assert(str_is(d.members[0].client_host, "/127.0.0.1"));
    cr_assert(bytes_are(d.members[0].metadata, "meta-range"));
    cr_assert(bytes_are(d.members[0].assignment, "A1"));
}

Test(groups, member_id_required_only_for_v4_and_later_without_instance_id)
{
    client_t old, v4, st;
    client_init(&old, NULL);
    client_init(&v4, NULL);
    client_init(&st, "instance-1");
    cr_assert_not(join_v(&old, 3, "g"), "a v3 client joins at once (CLIENTS.md rule 5)");
    cr_assert(join_v(&v4, 4, "g"));
    assert_kerr(v4.w.join.error_code, RN_KERR_MEMBER_ID_REQUIRED);
    cr_assert_neq(v4.id[0], '\0');
    cr_assert_eq(v4.w.join.generation_id, -1);
    cr_assert_not(join_v(&st, 5, "g"), "a static member joins at once");
    cr_assert_not(join_v(&v4, 4, "g"), "then joins with the id it was given");
    tick(3000);
    tick(3000); /* members joined during the initial delay: it was extended once */
    cr_assert(join_answered(&old));
    cr_assert(join_answered(&v4));
    cr_assert(join_answered(&st));
    cr_assert_eq(old.generation, 1);
    cr_assert_eq(strncmp(st.id, "instance-1-", 11), 0,
                 "a static member's id starts with its instance id");
}

Test(groups, pending_member_blocks_the_join_phase_until_its_session_expires)
{
    client_t a, b, c;
    client_init(&a, NULL);
    client_init(&b, NULL);
    client_init(&c, NULL);
    stable_two(&a, &b, "g");
    cr_assert(join(&c, "g"));
    assert_kerr(c.w.join.error_code, RN_KERR_MEMBER_ID_REQUIRED);
    cr_assert_not(join(&a, "g"), "the leader's join starts a rebalance");
    cr_assert_not(join(&b, "g"));
    tick(5000);
    cr_assert_not(answered(&a), "c was handed an id and may still come");
    tick(5000);
    cr_assert(join_answered(&a), "c's pending id expired after its session timeout");
    cr_assert(join_answered(&b));
    cr_assert_eq(a.w.join.nmembers, 2);
}

Test(groups, second_member_triggers_a_rebalance_and_gets_its_assignment_from_the_leader)
{
    client_t a, b;
    client_init(&a, NULL);
    client_init(&b, NULL);
    stable_two(&a, &b, "g");
    assert_kerr(a.w.sync.error_code, 0);
    cr_assert(bytes_are(a.w.sync.assignment, "A"));
    cr_assert_eq(heartbeat(&b, "g"), 0);
    cr_assert_eq(heartbeat(&a, "g"), 0);
}

Test(groups, join_answers_carry_the_member_list_only_to_the_leader)
{
    client_t a, b;
    client_init(&a, NULL);
    client_init(&b, NULL);
    stable_one(&a, "g");
    cr_assert_not(join_new(&b, "g"));
    cr_assert(join(&a, "g"));
    cr_assert(join_answered(&b));
    cr_assert_eq(a.w.join.nmembers, 2);
    cr_assert_eq(b.w.join.nmembers, 0);
    cr_assert(str_is(b.w.join.leader, a.id));
    cr_assert(join(&b, "g"),
              "the same join again in CompletingRebalance gets the generation again");
    cr_assert_eq(b.w.join.generation_id, 2);
}

Test(groups, leave_rebalances_the_rest)
{
    client_t a, b;
    client_init(&a, NULL);
    client_init(&b, NULL);
    stable_two(&a, &b, "g");
    cr_assert_eq(leave(&b, "g"), 0);
    cr_assert_str_eq(state("g"), "PreparingRebalance");
    cr_assert_eq(heartbeat(&a, "g"), RN_KERR_REBALANCE_IN_PROGRESS);
    cr_assert(join(&a, "g"), "a is the only member left: the rebalance completes with its join");
    cr_assert_eq(a.generation, 3);
    cr_assert_eq(a.w.join.nmembers, 1);
    cr_assert_eq(leave(&b, "g"), RN_KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(heartbeat(&b, "g"), RN_KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(leave(&a, "g"), 0);
    cr_assert_str_eq(state("g"), "Empty", "the last leave ends the generation at once");
    cr_assert_eq(leave(&a, "nosuch"), RN_KERR_UNKNOWN_MEMBER_ID);
}

Test(groups, leave_v3_batch_removes_static_members_by_instance_id)
{
    client_t a, b;
    client_init(&a, "ia");
    client_init(&b, "ib");
    cr_assert_not(join(&a, "g"));
    cr_assert_not(join(&b, "g"));
    tick(3000);
    tick(3000);
    cr_assert(join_answered(&a));
    cr_assert(join_answered(&b));
    rn_groups_leaver_t ls[] = { { S(""), S("ia") }, { S(b.id), S("ib") }, { S(""), S("nobody") } };
    rn_kerr_t errs[3];
    cr_assert_eq(rn_groups_leave(G, S("g"), ls, 3, errs), 0);
    cr_assert_eq(errs[0], 0);
    cr_assert_eq(errs[1], 0);
    cr_assert_eq(errs[2], RN_KERR_UNKNOWN_MEMBER_ID);
    cr_assert_str_eq(state("g"), "Empty");
    cr_assert_eq(rn_groups_leave(G, S(""), ls, 1, errs), RN_KERR_INVALID_GROUP_ID);
}

Test(groups, session_expiry_removes_a_silent_member)
{
    client_t a, b;
    client_init(&a, NULL);
    client_init(&b, NULL);
    stable_two(&a, &b, "g");
    for (int i = 0; i < 3; i++) {
        tick(3000);
        cr_assert_eq(heartbeat(&a, "g"), 0);
    }
    cr_assert_str_eq(state("g"), "Stable", "9 s of silence is within b's 10 s session");
    tick(1100);
    cr_assert_str_eq(state("g"), "PreparingRebalance", "b expired");
    cr_assert_eq(heartbeat(&b, "g"), RN_KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(heartbeat(&a, "g"), RN_KERR_REBALANCE_IN_PROGRESS);
    cr_assert(join(&a, "g"));
    cr_assert_eq(a.generation, 3);
    cr_assert_eq(a.w.join.nmembers, 1);
}

Test(groups, member_waiting_in_a_rebalance_does_not_expire)
{
    client_t a, b;
    client_init(&a, NULL);
    client_init(&b, NULL);
    b.rebalance_ms = 60000;
    stable_two(&a, &b, "g");
    b.protocols = RANGE_RR;
    b.nprotocols = 2;
    cr_assert_not(join(&b, "g"), "b rejoins with new metadata: a rebalance");
    for (int i = 0; i < 6; i++) {
        tick(3000);
        cr_assert_eq(heartbeat(&a, "g"), RN_KERR_REBALANCE_IN_PROGRESS,
                     "a is alive but does not rejoin");
    }
    cr_assert_not(answered(&b), "18 s without a heartbeat from b, beyond its 10 s session: it "
                                "waits, so it stays");
    cr_assert_str_eq(state("g"), "PreparingRebalance");
    tick(10000);
    cr_assert(join_answered(&b), "a went silent and expired; b was the last member to wait for");
    cr_assert_eq(b.w.join.nmembers, 1, "b leads now");
    cr_assert(str_is(b.w.join.protocol_name, "range"));
}

Test(groups, rebalance_timeout_removes_a_member_that_does_not_rejoin)
{
    client_t a, b;
    client_init(&a, NULL);
    client_init(&b, NULL);
    b.session_ms = 60000;
    stable_two(&a, &b, "g");
    cr_assert_not(join(&a, "g"), "the leader rejoins: a rebalance");
    for (int i = 0; i < 6; i++) {
        tick(3000);
        cr_assert_eq(heartbeat(&b, "g"), RN_KERR_REBALANCE_IN_PROGRESS,
                     "b is alive but never rejoins");
    }
    cr_assert_not(answered(&a), "18 s: within the 20 s rebalance timeout");
    tick(2000);
    cr_assert(join_answered(&a));
    cr_assert_eq(a.generation, 3);
    cr_assert_eq(a.w.join.nmembers, 1, "b was removed");
    cr_assert_eq(heartbeat(&b, "g"), RN_KERR_UNKNOWN_MEMBER_ID);
}

Test(groups, a_member_that_never_syncs_is_removed_after_the_rebalance_timeout)
{
    client_t a, b;
    client_init(&a, NULL);
    client_init(&b, NULL);
    b.session_ms = 60000;
    stable_one(&a, "g");
    cr_assert_not(join_new(&b, "g"));
    cr_assert(join(&a, "g"));
    cr_assert(join_answered(&b));
    cr_assert_not(sync(&b, "g"), "b waits for the leader a, which heartbeats but never syncs");
    for (int i = 0; i < 6; i++) {
        tick(3000);
        cr_assert_eq(heartbeat(&a, "g"), 0);
    }
    cr_assert_not(answered(&b));
    tick(2000);
    cr_assert(answered(&b), "a sent no SyncGroup within the rebalance timeout: removed");
    assert_kerr(b.w.sync.error_code, RN_KERR_REBALANCE_IN_PROGRESS);
    cr_assert_eq(heartbeat(&a, "g"), RN_KERR_UNKNOWN_MEMBER_ID);
    cr_assert(join(&b, "g"), "b, the only member left, rejoins and completes the join phase");
    cr_assert_eq(b.generation, 3);
}

Test(groups, given_up_join_stops_counting_as_joined)
{
    client_t a, b;
    client_init(&a, NULL);
    client_init(&b, NULL);
    stable_two(&a, &b, "g");
    cr_assert_not(join(&a, "g"));
    cr_assert_not(rn_groups_wait_end(G, &a.w, true),
                  "the park timed out: the waiter is taken back");
    a.waiting = false;
    cr_assert_not(join(&b, "g"), "b's join does not complete the phase: a no longer waits");
    tick(20000);
    cr_assert(join_answered(&b));
    cr_assert_eq(b.w.join.nmembers, 1, "a did not rejoin in time");
}

Test(groups, initial_delay_is_extended_by_each_new_member_up_to_the_rebalance_timeout)
{
    client_t a, b;
    client_init(&a, NULL);
    client_init(&b, NULL);
    a.rebalance_ms = b.rebalance_ms = 10000;
    cr_assert_not(join_v(&a, 3, "g"));
    tick(2000);
    cr_assert_not(join_v(&b, 3, "g"));
    tick(1000);
    cr_assert_not(answered(&a), "b joined during the delay: 3 s more");
    tick(2900);
    cr_assert_not(answered(&a));
    tick(100);
    cr_assert(join_answered(&a));
    cr_assert(join_answered(&b));
    cr_assert_eq(a.w.join.nmembers, 2);
}

Test(groups, zero_initial_delay_completes_the_first_join_at_once)
{
    rn_groups_free(G);
    G = make_groups(0);
    client_t a;
    client_init(&a, NULL);
    cr_assert(join_v(&a, 3, "g"));
    assert_kerr(a.w.join.error_code, 0);
    cr_assert_eq(a.w.join.generation_id, 1);
}

/* ---- protocols ---- */

static const char *chosen_protocol(client_t *cs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_not(join_v(&cs[i], 3, "g"));
    tick(3000);
    tick(3000);
    for (size_t i = 0; i < n; i++)
        cr_assert(join_answered(&cs[i]));
    static char name[32];
    snprintf(name, sizeof name, "%.*s", (int)cs[0].w.join.protocol_name.len,
             cs[0].w.join.protocol_name.ptr);
    return name;
}

Test(groups, protocol_is_the_common_one_with_most_first_choices)
{
    client_t cs[3];
    for (int i = 0; i < 3; i++)
        client_init(&cs[i], NULL);
    cs[0].protocols = RANGE_RR, cs[0].nprotocols = 2;
    cs[1].protocols = RANGE_RR, cs[1].nprotocols = 2;
    cs[2].protocols = RR_RANGE, cs[2].nprotocols = 2;
    cr_assert_str_eq(chosen_protocol(cs, 3), "range", "two votes to one");
    cr_assert_eq(cs[0].w.join.nmembers, 3);
    cr_assert(bytes_are(cs[0].w.join.members[2].metadata, "r"), "metadata of the chosen protocol");
}

Test(groups, protocol_not_everyone_supports_is_not_chosen)
{
    client_t cs[3];
    for (int i = 0; i < 3; i++)
        client_init(&cs[i], NULL);
    cs[0].protocols = RANGE_RR, cs[0].nprotocols = 2;
    cs[1].protocols = RANGE_RR, cs[1].nprotocols = 2;
    cs[2].protocols = &RR_RANGE[0], cs[2].nprotocols = 1;
    cr_assert_str_eq(chosen_protocol(cs, 3), "roundrobin", "range is not a candidate");
}

Test(groups, inconsistent_protocol_type_or_protocols_get_error_23)
{
    client_t a, b, c;
    client_init(&a, NULL);
    client_init(&b, NULL);
    client_init(&c, NULL);
    cr_assert_not(join_v(&a, 3, "g"));
    b.protocols = STICKY;
    cr_assert(join_v(&b, 3, "g"));
    assert_kerr(b.w.join.error_code, RN_KERR_INCONSISTENT_GROUP_PROTOCOL);
    rn_groups_join_args_t args = {
        .version = 3,
        .group_id = S("g"),
        .member_id = S(""),
        .protocol_type = S("connect"),
        .client_id = S("c"),
        .session_timeout_ms = 10000,
        .rebalance_timeout_ms = 10000,
        .protocols = RANGE,
        .nprotocols = 1,
    };
    uint64_t wait_ms;
    c.w.arena = &ARENA;
    cr_assert(rn_groups_join(G, &args, &c.w, &wait_ms));
    assert_kerr(c.w.join.error_code, RN_KERR_INCONSISTENT_GROUP_PROTOCOL, "protocol type differs");
    args.protocol_type = S("");
    args.group_id = S("other");
    cr_assert(rn_groups_join(G, &args, &c.w, &wait_ms));
    assert_kerr(c.w.join.error_code, RN_KERR_INCONSISTENT_GROUP_PROTOCOL, "an empty protocol type");
    rn_groups_overview_t *list;
    size_t n;
    cr_assert_eq(rn_groups_list(G, &ARENA, &list, &n), 0);
    cr_assert_eq(n, 1, "a failed join leaves no group behind");
}

Test(groups, session_timeout_outside_the_configured_range_gets_error_26)
{
    client_t a;
    client_init(&a, NULL);
    a.session_ms = 5999;
    cr_assert(join(&a, "g"));
    assert_kerr(a.w.join.error_code, RN_KERR_INVALID_SESSION_TIMEOUT);
    a.session_ms = 1800001;
    cr_assert(join(&a, "g"));
    assert_kerr(a.w.join.error_code, RN_KERR_INVALID_SESSION_TIMEOUT);
    a.session_ms = 6000;
    cr_assert(join(&a, ""));
    assert_kerr(a.w.join.error_code, RN_KERR_INVALID_GROUP_ID);
    snprintf(a.id, sizeof a.id, "stale-id");
    cr_assert(join(&a, "g"));
    assert_kerr(a.w.join.error_code, RN_KERR_UNKNOWN_MEMBER_ID,
                "a member id for a group that does not exist");
}

/* ---- sync and heartbeat errors ---- */

Test(groups, sync_and_heartbeat_check_member_generation_and_state)
{
    client_t a, b;
    client_init(&a, NULL);
    client_init(&b, NULL);
    stable_two(&a, &b, "g");
    a.generation = 1;
    cr_assert_eq(heartbeat(&a, "g"), RN_KERR_ILLEGAL_GENERATION);
    cr_assert(sync(&a, "g"));
    assert_kerr(a.w.sync.error_code, RN_KERR_ILLEGAL_GENERATION);
    a.generation = 2;
    client_t x;
    client_init(&x, NULL);
    snprintf(x.id, sizeof x.id, "nobody");
    x.generation = 2;
    cr_assert_eq(heartbeat(&x, "g"), RN_KERR_UNKNOWN_MEMBER_ID);
    cr_assert(sync(&x, "g"));
    assert_kerr(x.w.sync.error_code, RN_KERR_UNKNOWN_MEMBER_ID);
    cr_assert(sync(&x, "no-group"));
    assert_kerr(x.w.sync.error_code, RN_KERR_UNKNOWN_MEMBER_ID);

    rn_groups_sync_args_t v5 = { .group_id = S("g"),
                                 .generation_id = 2,
                                 .member_id = S(b.id),
                                 .protocol_type = S("consumer"),
                                 .protocol_name = S("roundrobin") };
    uint64_t wait_ms;
    cr_assert(rn_groups_sync(G, &v5, &b.w, &wait_ms));
    assert_kerr(b.w.sync.error_code, RN_KERR_INCONSISTENT_GROUP_PROTOCOL,
                "v5 checks the protocol name");
    v5.protocol_name = S("range");
    cr_assert(rn_groups_sync(G, &v5, &b.w, &wait_ms));
    assert_kerr(b.w.sync.error_code, 0, "a Stable group answers a sync at once");
    cr_assert(bytes_are(b.w.sync.assignment, "B"));

    cr_assert_not(join(&a, "g"));
    cr_assert(sync(&b, "g"));
    assert_kerr(b.w.sync.error_code, RN_KERR_REBALANCE_IN_PROGRESS);
}

Test(groups, a_rebalance_answers_waiting_syncs_with_rebalance_in_progress)
{
    client_t a, b, c;
    client_init(&a, NULL);
    client_init(&b, NULL);
    client_init(&c, NULL);
    stable_one(&a, "g");
    cr_assert_not(join_new(&b, "g"));
    cr_assert(join(&a, "g"));
    cr_assert(join_answered(&b));
    cr_assert_not(sync(&b, "g"));
    cr_assert_not(join_new(&c, "g"), "a new member while b waits for its assignment");
    cr_assert(answered(&b));
    assert_kerr(b.w.sync.error_code, RN_KERR_REBALANCE_IN_PROGRESS);
}

/* ---- static membership ---- */

Test(groups, static_member_rejoining_gets_its_assignment_back_without_a_rebalance)
{
    client_t a, b;
    client_init(&a, "ia");
    client_init(&b, NULL);
    stable_two(&a, &b, "g");
    char old_id[160];
    snprintf(old_id, sizeof old_id, "%s", a.id);
    rn_groups_flush(G);
    size_t before = NRECORDS;

    /* a restarts: same instance id, no member id. */
    a.id[0] = '\0';
    cr_assert(join_v(&a, 5, "g"), "answered at once");
    assert_kerr(a.w.join.error_code, 0);
    cr_assert_str_neq(a.id, old_id, "a new member id");
    cr_assert_eq(a.generation, 2, "same generation");
    cr_assert(str_is(a.w.join.leader, old_id),
              "before v9 the old leader id: no assignment to compute");
    cr_assert_eq(a.w.join.nmembers, 0);
    cr_assert_str_eq(state("g"), "Stable");
    cr_assert_eq(heartbeat(&b, "g"), 0, "b sees no rebalance");
    rn_groups_flush(G);
    cr_assert_eq(NRECORDS, before + 1, "the new member id is persisted");

    cr_assert(sync(&a, "g"));
    assert_kerr(a.w.sync.error_code, 0);
    cr_assert(bytes_are(a.w.sync.assignment, "A"), "its old assignment");

    client_t zombie = a;
    snprintf(zombie.id, sizeof zombie.id, "%s", old_id);
    cr_assert_eq(heartbeat(&zombie, "g"), RN_KERR_FENCED_INSTANCE_ID);
    cr_assert(sync(&zombie, "g"));
    assert_kerr(zombie.w.sync.error_code, RN_KERR_FENCED_INSTANCE_ID);
    cr_assert_eq(check_commit("g", old_id, S("ia"), 2), RN_KERR_FENCED_INSTANCE_ID);
    cr_assert(join(&zombie, "g"));
    assert_kerr(zombie.w.join.error_code, RN_KERR_FENCED_INSTANCE_ID);
}

Test(groups, static_leader_rejoining_with_v9_skips_the_assignment)
{
    client_t a, b;
    client_init(&a, "ia");
    client_init(&b, NULL);
    stable_two(&a, &b, "g");
    a.id[0] = '\0';
    cr_assert(join_v(&a, 9, "g"));
    assert_kerr(a.w.join.error_code, 0);
    cr_assert(str_is(a.w.join.leader, a.id), "v9: the leader learns it leads ...");
    cr_assert(a.w.join.skip_assignment, "... and that it must not assign");
    cr_assert_eq(a.w.join.nmembers, 2);
    cr_assert_str_eq(state("g"), "Stable");
}

Test(groups, static_member_replacing_a_waiting_one_fences_it)
{
    client_t a, b, a2;
    client_init(&a, "ia");
    client_init(&b, NULL);
    stable_two(&a, &b, "g");
    cr_assert_not(join(&a, "g"), "the leader rejoins: a rebalance");
    client_init(&a2, "ia");
    cr_assert_not(join(&a2, "g"), "a second process with a's instance id takes its place");
    cr_assert(answered(&a));
    assert_kerr(a.w.join.error_code, RN_KERR_FENCED_INSTANCE_ID, "the first one is fenced");
    cr_assert(join(&b, "g"), "b is the last to rejoin");
    cr_assert(join_answered(&a2));
    assert_kerr(a2.w.join.error_code, 0);
    cr_assert_eq(a2.generation, 3);
    cr_assert_eq(a2.w.join.nmembers, 2, "a2 took a's place as leader too");
    cr_assert_eq(heartbeat(&a, "g"), RN_KERR_FENCED_INSTANCE_ID);
}

/* ---- admin calls ---- */

Test(groups, delete_refuses_a_group_with_members_and_removes_an_empty_one)
{
    client_t a;
    client_init(&a, NULL);
    stable_one(&a, "g");
    cr_assert_eq(rn_groups_delete(G, S("g")), RN_KERR_NON_EMPTY_GROUP);
    cr_assert_eq(rn_groups_delete(G, S("nosuch")), RN_KERR_GROUP_ID_NOT_FOUND);
    cr_assert_eq(leave(&a, "g"), 0);
    cr_assert_str_eq(state("g"), "Empty");
    cr_assert_eq(rn_groups_delete(G, S("g")), 0);
    rn_groups_flush(G);
    cr_assert_not_null(RECORDS[NRECORDS - 1].key);
    cr_assert_null(RECORDS[NRECORDS - 1].value, "a tombstone");
    cr_assert_str_eq(RECORDS[NRECORDS - 1].group, "g");
    rn_groups_description_t d;
    cr_assert_eq(rn_groups_describe(G, S("g"), &ARENA, &d), 0);
    cr_assert_not(d.found);
    cr_assert_str_eq(d.state, "Dead");
    cr_assert(str_is(d.protocol_type, ""));
}

Test(groups, list_shows_every_group_with_state_and_protocol_type)
{
    client_t a, b;
    client_init(&a, NULL);
    client_init(&b, NULL);
    stable_one(&a, "one");
    cr_assert_not(join_v(&b, 3, "two"));
    rn_groups_overview_t *list;
    size_t n;
    cr_assert_eq(rn_groups_list(G, &ARENA, &list, &n), 0);
    cr_assert_eq(n, 2);
    for (size_t i = 0; i < n; i++) {
        cr_assert(str_is(list[i].protocol_type, "consumer"));
        cr_assert_str_eq(list[i].state,
                         str_is(list[i].group_id, "one") ? "Stable" : "PreparingRebalance");
    }
}

Test(groups, offset_commit_check_follows_kafka)
{
    client_t a, b;
    client_init(&a, NULL);
    client_init(&b, NULL);
    cr_assert_eq(check_commit("solo", "", NONE, -1), 0, "a standalone commit");
    cr_assert_eq(check_commit("solo", "m", NONE, 3), RN_KERR_ILLEGAL_GENERATION);
    cr_assert(rn_groups_is_empty(G, S("solo")));
    stable_one(&a, "g");
    cr_assert_not(rn_groups_is_empty(G, S("g")));
    cr_assert_eq(check_commit("g", a.id, NONE, 1), 0);
    cr_assert_eq(check_commit("g", a.id, NONE, 7), RN_KERR_ILLEGAL_GENERATION);
    cr_assert_eq(check_commit("g", "other", NONE, 1), RN_KERR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(check_commit("g", "", NONE, -1), RN_KERR_UNKNOWN_MEMBER_ID,
                 "only members commit to a group that has them");
    cr_assert_not(join_new(&b, "g"));
    cr_assert_eq(check_commit("g", a.id, NONE, 1), 0, "allowed while preparing");
    cr_assert(join(&a, "g"));
    cr_assert_eq(check_commit("g", a.id, NONE, 2), RN_KERR_REBALANCE_IN_PROGRESS,
                 "not before the assignment");
}

/* Kafka 4.4, asked: v9+ answers GROUP_ID_NOT_FOUND where v8 answered ILLEGAL_GENERATION for a
 * group that does not exist (KIP-848); a group with offsets only exists, Empty, without
 * members, at every version. A group this room knows answers the same at every version. */
Test(groups, offset_commit_check_by_version_and_offsets)
{
    for (int16_t v = 1; v <= 10; v++) {
        assert_kerr(check_commit_at(v, false, "none", "m", NONE, 2),
                    v >= 9 ? RN_KERR_GROUP_ID_NOT_FOUND : RN_KERR_ILLEGAL_GENERATION);
        assert_kerr(check_commit_at(v, false, "none", "", S("i"), 0),
                    v >= 9 ? RN_KERR_GROUP_ID_NOT_FOUND : RN_KERR_ILLEGAL_GENERATION);
        assert_kerr(check_commit_at(v, false, "none", "m", NONE, -1), 0);
        assert_kerr(check_commit_at(v, true, "solo", "m", NONE, 2), RN_KERR_UNKNOWN_MEMBER_ID);
        assert_kerr(check_commit_at(v, true, "solo", "", NONE, 0), RN_KERR_UNKNOWN_MEMBER_ID);
        assert_kerr(check_commit_at(v, true, "solo", "m", S("i"), 1), RN_KERR_UNKNOWN_MEMBER_ID);
        assert_kerr(check_commit_at(v, true, "solo", "m", S("i"), -1), 0);
    }
    client_t a;
    client_init(&a, NULL);
    stable_one(&a, "g");
    for (int16_t v = 8; v <= 10; v++) {
        assert_kerr(check_commit_at(v, true, "g", a.id, NONE, 1), 0);
        assert_kerr(check_commit_at(v, false, "g", a.id, NONE, 3), RN_KERR_ILLEGAL_GENERATION);
        assert_kerr(check_commit_at(v, false, "g", "other", NONE, 1), RN_KERR_UNKNOWN_MEMBER_ID);
    }
}

/* ---- records ---- */

Test(groups, generation_and_empty_group_are_written_and_load_back_empty)
{
    client_t a;
    client_init(&a, NULL);
    stable_one(&a, "g");
    rn_groups_flush(G);
    cr_assert_eq(NRECORDS, 1, "the leader's sync writes the generation");
    rn_groups_value_t v;
    cr_assert_eq(rn_groups_value_decode((rn_bytes_t){ RECORDS[0].value, RECORDS[0].value_len },
                                        &ARENA, &v),
                 0);
    cr_assert_eq(v.version, 3);
    cr_assert_eq(v.generation, 1);
    cr_assert(str_is(v.protocol, "range"));
    cr_assert(str_is(v.leader, a.id));
    cr_assert_eq(v.nmembers, 1);
    cr_assert(bytes_are(v.members[0].subscription, "meta-range"));
    cr_assert(bytes_are(v.members[0].assignment, "A1"));
    cr_assert_eq(v.members[0].session_timeout, 10000);
    cr_assert_eq(v.members[0].rebalance_timeout, 20000);

    cr_assert_eq(leave(&a, "g"), 0);
    rn_groups_flush(G);
    cr_assert_eq(NRECORDS, 2, "the group that became empty is written too");
    cr_assert_eq(rn_groups_value_decode((rn_bytes_t){ RECORDS[1].value, RECORDS[1].value_len },
                                        &ARENA, &v),
                 0);
    cr_assert_eq(v.generation, 2);
    cr_assert_null(v.protocol.ptr);
    cr_assert_eq(v.nmembers, 0);

    /* A restart: a fresh groups room replays the records. */
    rn_groups_t *old = G;
    G = make_groups(3000);
    for (size_t i = 0; i < NRECORDS; i++)
        cr_assert(rn_groups_load_record(G, (rn_bytes_t){ RECORDS[i].key, RECORDS[i].key_len },
                                        (rn_bytes_t){ RECORDS[i].value, RECORDS[i].value_len }));
    rn_groups_description_t d;
    cr_assert_eq(rn_groups_describe(G, S("g"), &ARENA, &d), 0);
    cr_assert(d.found);
    cr_assert_str_eq(d.state, "Empty");
    cr_assert(str_is(d.protocol_type, "consumer"));
    a.id[0] = '\0';
    cr_assert_not(join_v(&a, 3, "g"));
    tick(3000);
    cr_assert(join_answered(&a));
    cr_assert_eq(a.generation, 3, "generations go on after a restart");
    cr_assert(rn_groups_load_record(G, (rn_bytes_t){ RECORDS[0].key, RECORDS[0].key_len },
                                    (rn_bytes_t){ NULL, 0 }),
              "a tombstone for a group with members is ignored");
    cr_assert_eq(rn_groups_describe(G, S("g"), &ARENA, &d), 0);
    cr_assert(d.found);
    rn_groups_free(old);
}

Test(groups, load_rejects_records_that_do_not_parse)
{
    static const uint8_t offset_key[] = { 0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 0 };
    static const uint8_t key[] = { 0, 2, 0, 1, 'g' };
    static const uint8_t bad_value[] = { 0, 3, 0, 8, 'c' };
    cr_assert_not(rn_groups_load_record(G, (rn_bytes_t){ offset_key, sizeof offset_key },
                                        (rn_bytes_t){ NULL, 0 }));
    rn_bytes_t bad = { bad_value, sizeof bad_value };
    cr_assert_not(rn_groups_load_record(G, (rn_bytes_t){ key, sizeof key }, bad));
    cr_assert(rn_groups_load_record(G, (rn_bytes_t){ key, sizeof key }, (rn_bytes_t){ NULL, 0 }),
              "a tombstone for an unknown group is fine");
}

static bool offsets_yes(void *ctx, rn_str_t group_id)
{
    (void)ctx;
    (void)group_id;
    return true;
}

static bool offsets_no(void *ctx, rn_str_t group_id)
{
    (void)ctx;
    (void)group_id;
    return false;
}

Test(groups, remove_empty_sweeps_empty_groups_without_offsets)
{
    client_t a;
    client_init(&a, NULL);
    stable_one(&a, "g");
    cr_assert_eq(leave(&a, "g"), 0);
    rn_groups_remove_empty(G, offsets_no, NULL);
    cr_assert_str_eq(state("g"), "Empty", "not before a minute has passed");
    tick(60000);
    rn_groups_remove_empty(G, offsets_yes, NULL);
    cr_assert_str_eq(state("g"), "Empty", "a group with offsets stays");
    tick(60000);
    size_t before = NRECORDS;
    rn_groups_remove_empty(G, offsets_no, NULL);
    cr_assert_str_eq(state("g"), "Dead");
    cr_assert_eq(NRECORDS, before + 1);
    cr_assert_null(RECORDS[before].value, "its tombstone");
}
