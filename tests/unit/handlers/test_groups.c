/* SPDX-License-Identifier: Apache-2.0 */
/* The group APIs (src/handlers/groups.c, groups_admin.c) driven through rn_handlers_dispatch
 * with real frames, against a real coordinator over a topic registry in a temporary data
 * directory, with group.initial.rebalance.delay.ms=0 so that a lone member's join answers at
 * once. Without a loop a request that would wait cannot park: it gets COORDINATOR_NOT_AVAILABLE
 * (the parking itself is covered by the integration tests with real clients). */
#include "coord/groups.h"
#include "handlers/fixture.h"
#include "kerr_assert.h"

static const rn_str_t NUL = { NULL, 0 };

static void start(void)
{
    fixture_start("groups", "offsets.topic.num.partitions=3\ngroup.initial.rebalance.delay.ms=0\n",
                  true);
    fx.client_id = "groups-test";
    fx.peer = "10.0.0.7:51234";
    rn_topic_spec_t spec = { .name = S("t"), .num_partitions = 1, .replication_factor = 1 };
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(groups_handlers, .init = start, .fini = stop);

static bool str_is(rn_str_t s, const char *want)
{
    return s.ptr != NULL && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* ---- request builders ---- */

static rn_join_group_response_t join_v(int16_t version, const char *group, rn_str_t member_id,
                                       rn_str_t instance)
{
    rn_join_group_request_protocol_t p;
    rn_join_group_request_protocol_init(&p);
    p.name = S("range");
    p.metadata = (rn_bytes_t){ (const uint8_t *)"sub", 3 };
    rn_join_group_request_t body;
    rn_join_group_request_init(&body);
    body.group_id = S(group);
    body.session_timeout_ms = 10000;
    body.rebalance_timeout_ms = 20000;
    body.member_id = member_id;
    body.group_instance_id = instance;
    body.protocol_type = S("consumer");
    body.protocols.items = &p;
    body.protocols.count = 1;
    rn_join_group_response_t resp;
    call(RN_API_JOIN_GROUP, version, &body, &resp);
    return resp;
}

static rn_sync_group_response_t sync_v(int16_t version, const char *group, int32_t generation,
                                       rn_str_t member_id, const char *assignment)
{
    rn_sync_group_request_assignment_t a;
    rn_sync_group_request_assignment_init(&a);
    a.member_id = member_id;
    a.assignment = (rn_bytes_t){ (const uint8_t *)assignment, assignment ? strlen(assignment) : 0 };
    rn_sync_group_request_t body;
    rn_sync_group_request_init(&body);
    body.group_id = S(group);
    body.generation_id = generation;
    body.member_id = member_id;
    body.protocol_type = version >= 5 ? S("consumer") : NUL;
    body.protocol_name = version >= 5 ? S("range") : NUL;
    body.assignments.items = &a;
    body.assignments.count = assignment ? 1 : 0;
    rn_sync_group_response_t resp;
    call(RN_API_SYNC_GROUP, version, &body, &resp);
    return resp;
}

static int16_t heartbeat_v(int16_t version, const char *group, int32_t generation,
                           rn_str_t member_id)
{
    rn_heartbeat_request_t body;
    rn_heartbeat_request_init(&body);
    body.group_id = S(group);
    body.generation_id = generation;
    body.member_id = member_id;
    rn_heartbeat_response_t resp;
    call(RN_API_HEARTBEAT, version, &body, &resp);
    return resp.error_code;
}

static rn_describe_groups_response_group_t describe_v(int16_t version, const char *group)
{
    rn_str_t ids[] = { S(group) };
    rn_describe_groups_request_t body;
    rn_describe_groups_request_init(&body);
    body.groups.items = ids;
    body.groups.count = 1;
    body.include_authorized_operations = true;
    rn_describe_groups_response_t resp;
    call(RN_API_DESCRIBE_GROUPS, version, &body, &resp);
    cr_assert_eq(resp.groups.count, 1);
    return resp.groups.items[0];
}

static int16_t delete_v(int16_t version, const char *group)
{
    rn_str_t ids[] = { S(group), S(group) };
    rn_delete_groups_request_t body;
    rn_delete_groups_request_init(&body);
    body.groups_names.items = ids;
    body.groups_names.count = 2;
    rn_delete_groups_response_t resp;
    call(RN_API_DELETE_GROUPS, version, &body, &resp);
    cr_assert_eq(resp.results.count, 1, "a group named twice is answered once");
    cr_assert(str_is(resp.results.items[0].group_id, group));
    return resp.results.items[0].error_code;
}

static int16_t commit_standalone(const char *group)
{
    rn_offset_commit_request_partition_t p;
    rn_offset_commit_request_partition_init(&p);
    p.partition_index = 0;
    p.committed_offset = 42;
    rn_offset_commit_request_topic_t t;
    rn_offset_commit_request_topic_init(&t);
    t.name = S("t");
    t.partitions.items = &p;
    t.partitions.count = 1;
    rn_offset_commit_request_t body;
    rn_offset_commit_request_init(&body);
    body.group_id = S(group);
    body.generation_id_or_member_epoch = -1;
    body.member_id = S("");
    body.topics.items = &t;
    body.topics.count = 1;
    rn_offset_commit_response_t resp;
    call(RN_API_OFFSET_COMMIT, 2, &body, &resp);
    return resp.topics.items[0].partitions.items[0].error_code;
}

/* ---- tests ---- */

Test(groups_handlers, join_v5_asks_for_a_member_id_then_joins_and_syncs)
{
    rn_join_group_response_t j = join_v(5, "g", S(""), NUL);
    assert_kerr(j.error_code, RN_KERR_MEMBER_ID_REQUIRED);
    cr_assert_eq(strncmp(j.member_id.ptr, "groups-test-", 12), 0,
                 "the client id, a dash and a UUID");
    rn_str_t id = j.member_id;
    j = join_v(5, "g", id, NUL);
    assert_kerr(j.error_code, 0, "group.initial.rebalance.delay.ms=0: answered at once");
    cr_assert_eq(j.generation_id, 1);
    cr_assert(j.leader.len == id.len && memcmp(j.leader.ptr, id.ptr, id.len) == 0, "it leads");
    cr_assert(str_is(j.protocol_name, "range"));
    cr_assert_eq(j.members.count, 1);
    cr_assert_eq(j.members.items[0].metadata.len, 3);
    rn_sync_group_response_t s = sync_v(5, "g", 1, id, "assigned");
    assert_kerr(s.error_code, 0);
    cr_assert(str_is(s.protocol_type, "consumer"));
    cr_assert(str_is(s.protocol_name, "range"));
    cr_assert_eq(s.assignment.len, 8);
    cr_assert_eq(heartbeat_v(4, "g", 1, id), 0);
    cr_assert_eq(heartbeat_v(0, "g", 0, id), RN_KERR_ILLEGAL_GENERATION);

    rn_describe_groups_response_group_t d = describe_v(5, "g");
    assert_kerr(d.error_code, 0);
    cr_assert(str_is(d.group_state, "Stable"));
    cr_assert(str_is(d.protocol_type, "consumer"));
    cr_assert(str_is(d.protocol_data, "range"));
    cr_assert_eq(d.members.count, 1);
    cr_assert(str_is(d.members.items[0].client_id, "groups-test"));
    cr_assert(str_is(d.members.items[0].client_host, "/10.0.0.7"),
              "Kafka's form of the client's address");
    cr_assert_eq(d.members.items[0].member_assignment.len, 8);
    /* READ 3, DELETE 6, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11: every operation a
     * group supports (Kafka 4.4 answers 3400 without an authorizer). */
    cr_assert_eq(d.authorized_operations, 3400);
}

Test(groups_handlers, join_v0_joins_at_once_and_v7_names_the_protocol_type)
{
    rn_join_group_response_t j = join_v(0, "old", S(""), NUL);
    assert_kerr(j.error_code, 0, "no MEMBER_ID_REQUIRED before v4");
    cr_assert_eq(j.generation_id, 1);
    cr_assert_gt(j.member_id.len, 0);
    rn_str_t id = j.member_id;
    rn_sync_group_response_t s = sync_v(0, "old", 1, id, "x");
    assert_kerr(s.error_code, 0);
    j = join_v(7, "new", S(""), S("instance"));
    assert_kerr(j.error_code, 0, "a static member joins without MEMBER_ID_REQUIRED");
    cr_assert(str_is(j.protocol_type, "consumer"));
}

Test(groups_handlers, a_join_that_must_wait_without_a_loop_gets_coordinator_not_available)
{
    rn_join_group_response_t a = join_v(3, "g", S(""), NUL);
    assert_kerr(a.error_code, 0);
    assert_kerr(sync_v(3, "g", 1, a.member_id, "x").error_code, 0);
    rn_join_group_response_t b = join_v(3, "g", S(""), NUL);
    assert_kerr(b.error_code, RN_KERR_COORDINATOR_NOT_AVAILABLE,
                "it would wait for the leader to rejoin");
    cr_assert_eq(heartbeat_v(3, "g", 1, a.member_id), RN_KERR_REBALANCE_IN_PROGRESS);
}

Test(groups_handlers, leave_v0_and_v3_and_delete_groups)
{
    rn_join_group_response_t a = join_v(3, "g", S(""), NUL);
    assert_kerr(sync_v(3, "g", 1, a.member_id, "x").error_code, 0);
    cr_assert_eq(delete_v(2, "g"), RN_KERR_NON_EMPTY_GROUP);
    cr_assert_eq(delete_v(0, "nosuch"), RN_KERR_GROUP_ID_NOT_FOUND);

    rn_leave_group_request_t body;
    rn_leave_group_request_init(&body);
    body.group_id = S("g");
    body.member_id = S("stranger");
    rn_leave_group_response_t resp;
    call(RN_API_LEAVE_GROUP, 0, &body, &resp);
    assert_kerr(resp.error_code, RN_KERR_UNKNOWN_MEMBER_ID, "v0: the member's error is the error");

    rn_leave_group_request_member_t ms[2];
    rn_leave_group_request_member_init(&ms[0]);
    rn_leave_group_request_member_init(&ms[1]);
    ms[0].member_id = a.member_id;
    ms[1].member_id = S("stranger");
    body.members.items = ms;
    body.members.count = 2;
    call(RN_API_LEAVE_GROUP, 5, &body, &resp);
    assert_kerr(resp.error_code, 0);
    cr_assert_eq(resp.members.count, 2);
    assert_kerr(resp.members.items[0].error_code, 0);
    assert_kerr(resp.members.items[1].error_code, RN_KERR_UNKNOWN_MEMBER_ID);
    cr_assert(str_is(describe_v(0, "g").group_state, "Empty"));
    cr_assert_eq(delete_v(1, "g"), 0);
    rn_describe_groups_response_group_t d = describe_v(5, "g");
    assert_kerr(d.error_code, 0, "before v6 an unknown group is described, not an error");
    cr_assert(str_is(d.group_state, "Dead"));
}

Test(groups_handlers, list_groups_with_offsets_only_groups_and_state_filter)
{
    rn_join_group_response_t a = join_v(3, "active", S(""), NUL);
    assert_kerr(sync_v(3, "active", 1, a.member_id, "x").error_code, 0);
    cr_assert_eq(commit_standalone("solo"), 0, "kcat-style commit without a group");

    rn_list_groups_request_t body;
    rn_list_groups_request_init(&body);
    rn_list_groups_response_t resp;
    call(RN_API_LIST_GROUPS, 0, &body, &resp);
    assert_kerr(resp.error_code, 0);
    cr_assert_eq(resp.groups.count, 2);
    cr_assert(str_is(resp.groups.items[0].group_id, "active"));
    cr_assert(str_is(resp.groups.items[0].protocol_type, "consumer"));
    cr_assert(str_is(resp.groups.items[1].group_id, "solo"));
    cr_assert(str_is(resp.groups.items[1].protocol_type, ""), "offsets only: no protocol type");

    rn_str_t states[] = { S("empty") };
    body.states_filter.items = states;
    body.states_filter.count = 1;
    call(RN_API_LIST_GROUPS, 4, &body, &resp);
    cr_assert_eq(resp.groups.count, 1, "the filter ignores case, as Kafka's");
    cr_assert(str_is(resp.groups.items[0].group_id, "solo"));
    cr_assert(str_is(resp.groups.items[0].group_state, "Empty"));

    cr_assert(str_is(describe_v(3, "solo").group_state, "Empty"));
    cr_assert_eq(delete_v(2, "solo"), 0, "a group with only offsets is deleted with them");
    cr_assert(str_is(describe_v(3, "solo").group_state, "Dead"));
    cr_assert_eq(delete_v(2, "solo"), RN_KERR_GROUP_ID_NOT_FOUND);
}

Test(groups_handlers, describe_v6_says_a_group_is_not_found_and_list_v5_gives_types)
{
    rn_describe_groups_response_group_t d = describe_v(6, "nobody");
    assert_kerr(d.error_code, RN_KERR_GROUP_ID_NOT_FOUND, "KIP-1043");
    cr_assert(str_is(d.error_message, "Group nobody not found."));
    cr_assert_eq(d.authorized_operations, INT32_MIN, "no operations for a group not found");
    d = describe_v(5, "nobody");
    assert_kerr(d.error_code, 0, "below v6 a Dead group");
    cr_assert_eq(d.authorized_operations, 3400, "described, so its operations are answered");

    rn_join_group_response_t a = join_v(3, "g5", S(""), NUL);
    assert_kerr(sync_v(3, "g5", 1, a.member_id, "x").error_code, 0);
    assert_kerr(describe_v(6, "g5").error_code, 0);
    rn_list_groups_request_t body;
    rn_list_groups_request_init(&body);
    rn_list_groups_response_t resp;
    call(RN_API_LIST_GROUPS, 5, &body, &resp);
    cr_assert_eq(resp.groups.count, 1);
    cr_assert(str_is(resp.groups.items[0].group_type, "classic"));
    rn_str_t types[] = { S("Consumer") };
    body.types_filter.items = types;
    body.types_filter.count = 1;
    call(RN_API_LIST_GROUPS, 5, &body, &resp);
    cr_assert_eq(resp.groups.count, 0, "no KIP-848 groups here");
    types[0] = S("CLASSIC");
    call(RN_API_LIST_GROUPS, 5, &body, &resp);
    cr_assert_eq(resp.groups.count, 1, "the types filter ignores case");
}

Test(groups_handlers, group_generation_survives_a_restart_and_members_rejoin)
{
    rn_join_group_response_t a = join_v(3, "g", S(""), NUL);
    assert_kerr(sync_v(3, "g", 1, a.member_id, "x").error_code, 0);
    rn_coord_close(fx.coord);
    cr_assert_eq(rn_coord_open(&fx.cfg, fx.topics, NOW + 1000, &fx.coord), 0);
    fx.info.coord = fx.coord;
    rn_describe_groups_response_group_t d = describe_v(5, "g");
    cr_assert(str_is(d.group_state, "Empty"), "members must join again after a restart");
    cr_assert(str_is(d.protocol_type, "consumer"));
    cr_assert_eq(heartbeat_v(3, "g", 1, a.member_id), RN_KERR_UNKNOWN_MEMBER_ID);
    rn_join_group_response_t b = join_v(3, "g", S(""), NUL);
    assert_kerr(b.error_code, 0);
    cr_assert_eq(b.generation_id, 2, "the generation goes on");
}
