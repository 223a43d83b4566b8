/* SPDX-License-Identifier: Apache-2.0 */
/* OffsetCommit, OffsetFetch and OffsetDelete (src/handlers/offsets.c) driven through
 * rn_handlers_dispatch with real frames, against a real coordinator over a topic registry in a
 * temporary data directory: what a client sees, at every version, and what survives a restart. */
#include "handlers/fixture.h"
#include "kerr_assert.h"

static void open_coord(void)
{
    fixture_open(true);
}

static void close_coord(void)
{
    fixture_close();
}

static void start(void)
{
    fixture_start("offsets", "offsets.topic.num.partitions=3\n", true);
    rn_topic_spec_t spec = { .name = S("t"), .num_partitions = 3, .replication_factor = 1 };
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
    spec.name = S("u");
    spec.num_partitions = 1;
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(offsets_handlers, .init = start, .fini = stop);

/* ---- request builders ---- */

typedef struct want {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *metadata; /* NULL: null on the wire */
} want_t;

/* The id of topic `name`; for a topic that does not exist, an id no topic has (v10). */
static rn_uuid_t topic_id_of(const char *name)
{
    rn_uuid_t id = { { 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99,
                       0x99, 0x99, 0x99 } };
    rn_topic_t *t = rn_topics_get(fx.topics, S(name));
    if (t != NULL)
        id = t->id;
    rn_topic_unref(t);
    return id;
}

static bool id_is(rn_uuid_t a, rn_uuid_t b)
{
    return memcmp(a.b, b.b, sizeof a.b) == 0;
}

/* OffsetCommit of `n` partitions (each its own topic entry), answering the error per partition.
 * v10 names each topic by its id (topic_id_of). */
static void commit_v(int16_t version, const char *group, int32_t generation, const char *member,
                     const want_t *parts, int n, int16_t *errors)
{
    rn_offset_commit_request_t body;
    rn_offset_commit_request_init(&body);
    body.group_id = S(group);
    body.generation_id_or_member_epoch = generation;
    body.member_id = S(member);
    rn_offset_commit_request_topic_t topics[8];
    rn_offset_commit_request_partition_t ps[8];
    cr_assert_leq(n, 8);
    for (int i = 0; i < n; i++) {
        rn_offset_commit_request_topic_init(&topics[i]);
        rn_offset_commit_request_partition_init(&ps[i]);
        topics[i].name = S(parts[i].topic);
        topics[i].topic_id = topic_id_of(parts[i].topic);
        ps[i].partition_index = parts[i].partition;
        ps[i].committed_offset = parts[i].offset;
        ps[i].committed_leader_epoch = 3;
        ps[i].committed_metadata = parts[i].metadata ? S(parts[i].metadata) : (rn_str_t){ NULL, 0 };
        topics[i].partitions.items = &ps[i];
        topics[i].partitions.count = 1;
    }
    body.topics.items = topics;
    body.topics.count = n;
    rn_offset_commit_response_t resp;
    call(RN_API_OFFSET_COMMIT, version, &body, &resp);
    cr_assert_eq(resp.topics.count, n);
    for (int i = 0; i < n; i++) {
        if (version >= 10)
            cr_assert(id_is(resp.topics.items[i].topic_id, topics[i].topic_id), "the id echoed");
        else
            cr_assert(rn_str_eq_cstr(resp.topics.items[i].name, parts[i].topic));
        cr_assert_eq(resp.topics.items[i].partitions.count, 1);
        cr_assert_eq(resp.topics.items[i].partitions.items[0].partition_index, parts[i].partition);
        errors[i] = resp.topics.items[i].partitions.items[0].error_code;
    }
}

static int16_t commit_one(int16_t version, const char *group, const char *topic, int32_t partition,
                          int64_t offset)
{
    want_t w = { topic, partition, offset, "md" };
    int16_t err;
    commit_v(version, group, -1, "", &w, 1, &err);
    return err;
}

/* OffsetFetch v0-v7 of one partition. */
static rn_offset_fetch_response_partition_t fetch_v(int16_t version, const char *group,
                                                    const char *topic, int32_t partition)
{
    rn_offset_fetch_request_t body;
    rn_offset_fetch_request_init(&body);
    body.group_id = S(group);
    rn_offset_fetch_request_topic_t t;
    rn_offset_fetch_request_topic_init(&t);
    t.name = S(topic);
    t.partition_indexes.items = &partition;
    t.partition_indexes.count = 1;
    body.topics.items = &t;
    body.topics.count = 1;
    body.require_stable = true;
    rn_offset_fetch_response_t resp;
    call(RN_API_OFFSET_FETCH, version, &body, &resp);
    if (version >= 2)
        assert_kerr(resp.error_code, 0);
    cr_assert_eq(resp.topics.count, 1);
    cr_assert_eq(resp.topics.items[0].partitions.count, 1);
    return resp.topics.items[0].partitions.items[0];
}

/* OffsetFetch v8-v10 of one partition of one group, with v9's member id (NULL: null) and
 * epoch; v10 names the topic by id (topic_id_of). The group's error goes to *group_error. */
static rn_offset_fetch_response_group_partition_t
fetch_group_v(int16_t version, const char *group, const char *member_id, int32_t member_epoch,
              const char *topic, int32_t partition, rn_kerr_t *group_error)
{
    rn_offset_fetch_request_t body;
    rn_offset_fetch_request_init(&body);
    rn_offset_fetch_request_group_t g;
    rn_offset_fetch_request_group_init(&g);
    g.group_id = S(group);
    g.member_id = member_id ? S(member_id) : (rn_str_t){ NULL, 0 };
    g.member_epoch = member_epoch;
    rn_offset_fetch_request_group_topic_t t;
    rn_offset_fetch_request_group_topic_init(&t);
    t.name = S(topic);
    t.topic_id = topic_id_of(topic);
    t.partition_indexes.items = &partition;
    t.partition_indexes.count = 1;
    g.topics.items = &t;
    g.topics.count = 1;
    body.groups.items = &g;
    body.groups.count = 1;
    body.require_stable = true;
    rn_offset_fetch_response_t resp;
    call(RN_API_OFFSET_FETCH, version, &body, &resp);
    cr_assert_eq(resp.groups.count, 1);
    cr_assert(rn_str_eq_cstr(resp.groups.items[0].group_id, group));
    *group_error = resp.groups.items[0].error_code;
    cr_assert_eq(resp.groups.items[0].topics.count, 1);
    const rn_offset_fetch_response_group_topic_t *rt = &resp.groups.items[0].topics.items[0];
    if (version >= 10)
        cr_assert(id_is(rt->topic_id, t.topic_id), "the id echoed");
    else
        cr_assert(rn_str_eq_cstr(rt->name, topic));
    cr_assert_eq(rt->partitions.count, 1);
    cr_assert_eq(rt->partitions.items[0].partition_index, partition);
    return rt->partitions.items[0];
}

/* assert_kerr with the version in the message. */
#define assert_kerr_at(v, actual, expected, what)                              \
    cr_assert_eq((actual), (expected), "v%d %s: got %s, want %s", (v), (what), \
                 rn_kerr_name(actual), rn_kerr_name(expected))

static bool str_is(rn_str_t s, const char *c)
{
    return s.ptr != NULL && s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

/* ---- OffsetCommit and OffsetFetch ---- */

/* A commit the handler has accepted whose work has not run yet: dispatched without draining the
 * executor. The caller's request and reply outlive the call; a later drain finishes it. */
static void commit_accepted_v(int16_t version, rn_request_t *req, reply_t *o, rn_outbuf_t *frame,
                              const char *group, int64_t offset)
{
    rn_offset_commit_request_t body;
    rn_offset_commit_request_init(&body);
    body.group_id = S(group);
    body.generation_id_or_member_epoch = -1;
    body.member_id = S("");
    rn_offset_commit_request_topic_t t;
    rn_offset_commit_request_topic_init(&t);
    rn_offset_commit_request_partition_t p;
    rn_offset_commit_request_partition_init(&p);
    t.name = S("t");
    t.topic_id = topic_id_of("t");
    p.partition_index = 0;
    p.committed_offset = offset;
    t.partitions.items = &p;
    t.partitions.count = 1;
    body.topics.items = &t;
    body.topics.count = 1;
    build_frame(RN_API_OFFSET_COMMIT, version, &body, frame);
    *o = (reply_t){ 0 };
    memset(req, 0, sizeof *req);
    req->frame = frame->data;
    req->frame_len = frame->len;
    req->peer = fx.peer;
    req->broker = &fx.info;
    req->executor = &fx.executor.ex;
    rn_arena_init(&req->arena, 0);
    rn_outbuf_init(&req->out);
    req->finish = fixture_capture;
    req->finish_ctx = o;
    rn_handlers_dispatch(req);
    cr_assert_eq(o->calls, 0, "the commit waits for its work");
}

static void commit_accepted(rn_request_t *req, reply_t *o, rn_outbuf_t *frame, const char *group,
                            int64_t offset)
{
    commit_accepted_v(8, req, o, frame, group, offset);
}

static void commit_release(rn_request_t *req, reply_t *o, rn_outbuf_t *frame)
{
    cr_assert_eq(o->calls, 1);
    free(o->bytes);
    rn_outbuf_deinit(&req->out);
    rn_arena_deinit(&req->arena);
    rn_outbuf_deinit(frame);
}

Test(offsets_handlers, require_stable_answers_unstable_while_a_commit_is_being_written)
{
    cr_assert_eq(commit_one(2, "g", "t", 0, 5), 0);
    rn_request_t req;
    reply_t o;
    rn_outbuf_t frame;
    commit_accepted(&req, &o, &frame, "g", 9);
    /* OffsetFetch v7 asks for stable offsets (fetch_v sets require_stable): KIP-447. */
    rn_offset_fetch_response_partition_t p = fetch_v(7, "g", "t", 0);
    cr_assert_eq(p.error_code, RN_KERR_UNSTABLE_OFFSET_COMMIT, "got %s",
                 rn_kerr_name(p.error_code));
    cr_assert_eq(p.committed_offset, -1);
    commit_release(&req, &o, &frame); /* the fetch's call ran the queued commit afterwards */
    p = fetch_v(7, "g", "t", 0);
    assert_kerr(p.error_code, 0);
    cr_assert_eq(p.committed_offset, 9);

    /* Below v7 there is no require_stable: the last offset written is the answer. Other
     * partitions and groups are stable meanwhile. */
    commit_accepted(&req, &o, &frame, "g", 12);
    cr_assert_eq(fetch_v(6, "g", "t", 0).committed_offset, 9);
    commit_release(&req, &o, &frame);
    commit_accepted(&req, &o, &frame, "g", 14);
    assert_kerr(fetch_v(7, "g", "t", 1).error_code, 0, "another partition");
    commit_release(&req, &o, &frame);
    commit_accepted(&req, &o, &frame, "g", 15);
    assert_kerr(fetch_v(7, "other", "t", 0).error_code, 0, "another group");
    commit_release(&req, &o, &frame);
    cr_assert_eq(fetch_v(7, "g", "t", 0).committed_offset, 15);
}

Test(offsets_handlers, a_commit_whose_work_cannot_be_queued_leaves_nothing_unstable)
{
    cr_assert_eq(commit_one(2, "g", "t", 0, 5), 0);
    fx.executor.refuse = true;
    want_t w = { "t", 0, 9, "md" };
    rn_offset_commit_request_t body;
    rn_offset_commit_request_init(&body);
    body.group_id = S("g");
    body.generation_id_or_member_epoch = -1;
    body.member_id = S("");
    rn_offset_commit_request_topic_t t;
    rn_offset_commit_request_topic_init(&t);
    rn_offset_commit_request_partition_t p;
    rn_offset_commit_request_partition_init(&p);
    t.name = S(w.topic);
    p.partition_index = w.partition;
    p.committed_offset = w.offset;
    t.partitions.items = &p;
    t.partitions.count = 1;
    body.topics.items = &t;
    body.topics.count = 1;
    rn_outbuf_t frame;
    build_frame(RN_API_OFFSET_COMMIT, 8, &body, &frame);
    reply_t o = run_frame(frame.data, frame.len);
    rn_outbuf_deinit(&frame);
    fx.executor.refuse = false;
    cr_assert_eq(o.how, RN_FINISH_CLOSE, "the commit fails");
    rn_offset_fetch_response_partition_t f = fetch_v(7, "g", "t", 0);
    cr_assert_eq(f.error_code, 0, "got %s", rn_kerr_name(f.error_code));
    cr_assert_eq(f.committed_offset, 5);
}

Test(offsets_handlers, every_version_commits_and_fetches)
{
    for (int16_t v = 0; v <= 10; v++) {
        char group[16];
        snprintf(group, sizeof group, "g%d", v);
        cr_assert_eq(commit_one(v, group, "t", 1, 100 + v), 0, "OffsetCommit v%d", v);
        for (int16_t fv = 0; fv <= 10; fv++) {
            rn_kerr_t group_error = 0;
            rn_offset_fetch_response_partition_t p;
            if (fv <= 7) {
                p = fetch_v(fv, group, "t", 1);
            } else {
                rn_offset_fetch_response_group_partition_t gp =
                    fetch_group_v(fv, group, NULL, -1, "t", 1, &group_error);
                p = (rn_offset_fetch_response_partition_t){
                    .partition_index = gp.partition_index,
                    .committed_offset = gp.committed_offset,
                    .committed_leader_epoch = gp.committed_leader_epoch,
                    .metadata = gp.metadata,
                    .error_code = gp.error_code,
                };
            }
            assert_kerr(group_error, 0);
            assert_kerr(p.error_code, 0);
            cr_assert_eq(p.committed_offset, 100 + v, "commit v%d fetch v%d", v, fv);
            cr_assert(str_is(p.metadata, "md"));
            if (fv >= 5)
                cr_assert_eq(p.committed_leader_epoch, v >= 6 ? 3 : -1,
                             "the epoch is sent from v6");
        }
    }
}

Test(offsets_handlers, unknown_offsets_are_minus_one_without_error)
{
    rn_offset_fetch_response_partition_t p = fetch_v(7, "nobody", "t", 0);
    assert_kerr(p.error_code, 0);
    cr_assert_eq(p.committed_offset, -1);
    cr_assert_eq(p.committed_leader_epoch, -1);
    cr_assert(str_is(p.metadata, ""));
    p = fetch_v(1, "nobody", "no-such-topic", 0);
    assert_kerr(p.error_code, 0);
    cr_assert_eq(p.committed_offset, -1);
}

Test(offsets_handlers, per_partition_errors)
{
    static char big[4098];
    memset(big, 'm', 4097);
    static char limit[4097];
    memset(limit, 'm', 4096);
    want_t parts[] = {
        { "t", 0, 1, NULL },  { "missing", 0, 1, NULL },
        { "t", 3, 1, NULL },  /* t has partitions 0-2 */
        { "t", 1, 1, big },   /* 4097 bytes */
        { "t", 2, 1, limit }, /* exactly offset.metadata.max.bytes */
    };
    int16_t errors[5];
    commit_v(8, "g", -1, "", parts, 5, errors);
    cr_assert_eq(errors[0], 0);
    cr_assert_eq(errors[1], RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(errors[2], RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(errors[3], 12, "OFFSET_METADATA_TOO_LARGE");
    cr_assert_eq(errors[4], 0);
    cr_assert_eq(fetch_v(3, "g", "t", 1).committed_offset, -1);
    cr_assert_eq(fetch_v(3, "g", "t", 2).metadata.len, 4096);
}

Test(offsets_handlers, a_generation_for_a_group_without_members_is_refused)
{
    want_t w = { "t", 0, 5, NULL };
    int16_t err;
    commit_v(2, "g", 4, "member-1", &w, 1, &err);
    cr_assert_eq(err, 22, "ILLEGAL_GENERATION, as Kafka answers for a group it does not know");
    /* An unknown topic still says so first. */
    w.topic = "missing";
    commit_v(2, "g", 4, "member-1", &w, 1, &err);
    cr_assert_eq(err, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(fetch_v(2, "g", "t", 0).committed_offset, -1);
}

/* Kafka 4.4, asked: from v9 a generation for a group that does not exist is GROUP_ID_NOT_FOUND
 * (KIP-848), where v2-v8 answer ILLEGAL_GENERATION; a standalone commit (generation -1, with
 * or without a member id) is accepted at every version. */
Test(offsets_handlers, v9_answers_group_id_not_found_for_a_generation_of_no_group)
{
    want_t w = { "t", 0, 5, NULL };
    for (int16_t v = 1; v <= 10; v++) {
        int16_t err;
        commit_v(v, "nobody", 1, "m", &w, 1, &err);
        assert_kerr_at(v, err, v >= 9 ? RN_KERR_GROUP_ID_NOT_FOUND : RN_KERR_ILLEGAL_GENERATION,
                       "generation 1");
        commit_v(v, "nobody", 0, "", &w, 1, &err);
        assert_kerr_at(v, err, v >= 9 ? RN_KERR_GROUP_ID_NOT_FOUND : RN_KERR_ILLEGAL_GENERATION,
                       "generation 0");
    }
    cr_assert_eq(fetch_v(2, "nobody", "t", 0).committed_offset, -1);
    /* A partition that does not exist says so first, also at v9. */
    w.partition = 3;
    int16_t err;
    commit_v(9, "nobody", 1, "m", &w, 1, &err);
    assert_kerr(err, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    w.partition = 0;
    commit_v(9, "solo", -1, "m", &w, 1, &err);
    assert_kerr(err, 0, "a standalone commit with a member id");
    cr_assert_eq(fetch_v(2, "solo", "t", 0).committed_offset, 5);
}

/* Kafka keeps a group that a standalone commit made (Empty, no members) while it has offsets:
 * a generation for it is UNKNOWN_MEMBER_ID at every version, not ILLEGAL_GENERATION (v2-v8)
 * or GROUP_ID_NOT_FOUND (v9+); generation -1 commits still go in. */
Test(offsets_handlers, a_group_that_has_only_offsets_exists_and_has_no_members)
{
    cr_assert_eq(commit_one(8, "solo", "t", 0, 5), 0);
    want_t w = { "t", 1, 6, NULL };
    for (int16_t v = 1; v <= 10; v++) {
        int16_t err;
        commit_v(v, "solo", 1, "m", &w, 1, &err);
        assert_kerr_at(v, err, RN_KERR_UNKNOWN_MEMBER_ID, "generation 1");
        commit_v(v, "solo", 0, "", &w, 1, &err);
        assert_kerr_at(v, err, RN_KERR_UNKNOWN_MEMBER_ID, "generation 0");
        commit_v(v, "solo", -1, "m", &w, 1, &err);
        assert_kerr_at(v, err, 0, "generation -1");
    }
}

Test(offsets_handlers, v10_commits_and_fetches_topics_by_id)
{
    want_t parts[] = { { "t", 2, 41, "x" }, { "u", 0, 42, NULL } };
    int16_t errors[2];
    commit_v(10, "ids", -1, "", parts, 2, errors);
    assert_kerr(errors[0], 0);
    assert_kerr(errors[1], 0);
    /* Stored under the topic's name: every version reads it. */
    cr_assert_eq(fetch_v(3, "ids", "t", 2).committed_offset, 41);
    cr_assert(str_is(fetch_v(3, "ids", "t", 2).metadata, "x"));
    rn_kerr_t group_error;
    for (int16_t v = 8; v <= 10; v++) {
        rn_offset_fetch_response_group_partition_t p =
            fetch_group_v(v, "ids", NULL, -1, "u", 0, &group_error);
        assert_kerr(group_error, 0);
        assert_kerr(p.error_code, 0);
        cr_assert_eq(p.committed_offset, 42, "v%d", v);
    }
}

/* Kafka 4.4: an id no topic has, the zero id included, is UNKNOWN_TOPIC_ID for each of its
 * partitions, before any group error; a known id without that partition is
 * UNKNOWN_TOPIC_OR_PARTITION. */
Test(offsets_handlers, v10_an_unknown_topic_id_is_unknown_topic_id)
{
    want_t parts[] = { { "missing", 0, 1, NULL }, { "t", 0, 1, NULL }, { "t", 7, 1, NULL } };
    int16_t errors[3];
    commit_v(10, "g", -1, "", parts, 3, errors);
    assert_kerr(errors[0], RN_KERR_UNKNOWN_TOPIC_ID);
    assert_kerr(errors[1], 0);
    assert_kerr(errors[2], RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    commit_v(10, "nobody", 1, "m", parts, 3, errors);
    assert_kerr(errors[0], RN_KERR_UNKNOWN_TOPIC_ID);
    assert_kerr(errors[1], RN_KERR_GROUP_ID_NOT_FOUND);
    assert_kerr(errors[2], RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);

    rn_offset_commit_request_t body;
    rn_offset_commit_request_init(&body);
    body.group_id = S("g");
    body.member_id = S("");
    rn_offset_commit_request_topic_t t;
    rn_offset_commit_request_topic_init(&t);
    rn_offset_commit_request_partition_t p;
    rn_offset_commit_request_partition_init(&p);
    t.partitions.items = &p;
    t.partitions.count = 1;
    body.topics.items = &t;
    body.topics.count = 1;
    rn_offset_commit_response_t resp;
    call(RN_API_OFFSET_COMMIT, 10, &body, &resp);
    assert_kerr(resp.topics.items[0].partitions.items[0].error_code, RN_KERR_UNKNOWN_TOPIC_ID,
                "the zero id");

    rn_kerr_t group_error;
    rn_offset_fetch_response_group_partition_t f =
        fetch_group_v(10, "g", NULL, -1, "missing", 0, &group_error);
    assert_kerr(group_error, 0);
    assert_kerr(f.error_code, RN_KERR_UNKNOWN_TOPIC_ID);
    cr_assert_eq(f.committed_offset, -1);
    cr_assert_eq(f.committed_leader_epoch, -1);
    cr_assert(str_is(f.metadata, ""), "an empty string, not null, as Kafka sends");
    f = fetch_group_v(10, "nobody", NULL, -1, "missing", 0, &group_error);
    assert_kerr(f.error_code, RN_KERR_UNKNOWN_TOPIC_ID, "for a group that does not exist too");
    f = fetch_group_v(9, "g", NULL, -1, "missing", 0, &group_error);
    assert_kerr(f.error_code, 0, "v9 by name: no offset, no error");
}

/* Kafka 4.4 answers v9's member id and epoch for a classic group, or a group that does not
 * exist, as if they were absent: they are checked for KIP-848 consumer groups only. */
Test(offsets_handlers, v9_member_id_and_epoch_change_nothing_for_a_classic_group)
{
    cr_assert_eq(commit_one(8, "g", "t", 0, 5), 0);
    static const struct {
        const char *member_id;
        int32_t epoch;
    } members[] = { { NULL, -1 }, { "m", 5 }, { "", -1 }, { NULL, 3 }, { "m", -1 } };
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
        for (int16_t v = 9; v <= 10; v++) {
            rn_kerr_t group_error;
            rn_offset_fetch_response_group_partition_t p =
                fetch_group_v(v, "g", members[i].member_id, members[i].epoch, "t", 0, &group_error);
            assert_kerr(group_error, 0);
            assert_kerr(p.error_code, 0);
            cr_assert_eq(p.committed_offset, 5);
            p = fetch_group_v(v, "nobody", members[i].member_id, members[i].epoch, "t", 0,
                              &group_error);
            assert_kerr(group_error, 0);
            assert_kerr(p.error_code, 0);
            cr_assert_eq(p.committed_offset, -1);
        }
    }
}

/* v10 with topics null: every topic the group has offsets for, by id. */
Test(offsets_handlers, v10_fetch_of_every_topic_names_them_by_id)
{
    want_t parts[] = { { "u", 0, 7, NULL }, { "t", 2, 5, "x" }, { "t", 0, 3, NULL } };
    int16_t errors[3];
    commit_v(7, "all", -1, "", parts, 3, errors);
    rn_offset_fetch_request_t body;
    rn_offset_fetch_request_init(&body);
    rn_offset_fetch_request_group_t g;
    rn_offset_fetch_request_group_init(&g);
    g.group_id = S("all");
    g.topics.count = -1;
    body.groups.items = &g;
    body.groups.count = 1;
    rn_offset_fetch_response_t resp;
    call(RN_API_OFFSET_FETCH, 10, &body, &resp);
    cr_assert_eq(resp.groups.count, 1);
    const rn_offset_fetch_response_group_t *rg = &resp.groups.items[0];
    assert_kerr(rg->error_code, 0);
    cr_assert_eq(rg->topics.count, 2);
    cr_assert(id_is(rg->topics.items[0].topic_id, topic_id_of("t")));
    cr_assert_eq(rg->topics.items[0].partitions.count, 2);
    cr_assert_eq(rg->topics.items[0].partitions.items[1].committed_offset, 5);
    cr_assert(id_is(rg->topics.items[1].topic_id, topic_id_of("u")));
    cr_assert_eq(rg->topics.items[1].partitions.items[0].committed_offset, 7);
}

/* A topic deleted from the registry whose offsets the coordinator still has (it hears of the
 * deletion after the registry) has no id: v10 leaves it out, v8 still lists it by name. */
Test(offsets_handlers, v10_fetch_of_every_topic_leaves_out_a_topic_without_id)
{
    want_t parts[] = { { "u", 0, 7, NULL }, { "t", 2, 5, NULL } };
    int16_t errors[2];
    commit_v(8, "all", -1, "", parts, 2, errors);
    rn_uuid_t t_id = topic_id_of("t");
    cr_assert_eq(rn_topics_delete(fx.topics, S("u")).error_code, 0);
    rn_offset_fetch_request_t body;
    rn_offset_fetch_request_init(&body);
    rn_offset_fetch_request_group_t g;
    rn_offset_fetch_request_group_init(&g);
    g.group_id = S("all");
    g.topics.count = -1;
    body.groups.items = &g;
    body.groups.count = 1;
    rn_offset_fetch_response_t resp;
    call(RN_API_OFFSET_FETCH, 10, &body, &resp);
    cr_assert_eq(resp.groups.items[0].topics.count, 1);
    cr_assert(id_is(resp.groups.items[0].topics.items[0].topic_id, t_id));
    cr_assert_eq(resp.groups.items[0].topics.items[0].partitions.count, 1);
    cr_assert_eq(resp.groups.items[0].topics.items[0].partitions.items[0].committed_offset, 5);
    call(RN_API_OFFSET_FETCH, 8, &body, &resp);
    cr_assert_eq(resp.groups.items[0].topics.count, 2);
}

/* KIP-447 across the two ways of naming a topic: a commit by id makes the name unstable, and
 * a fetch by id sees a commit by name in flight. */
Test(offsets_handlers, require_stable_sees_commits_by_id_and_by_name)
{
    rn_request_t req;
    reply_t o;
    rn_outbuf_t frame;
    rn_kerr_t group_error;
    commit_accepted_v(10, &req, &o, &frame, "g", 9);
    assert_kerr(fetch_v(7, "g", "t", 0).error_code, RN_KERR_UNSTABLE_OFFSET_COMMIT);
    commit_release(&req, &o, &frame);
    cr_assert_eq(fetch_v(7, "g", "t", 0).committed_offset, 9);
    commit_accepted_v(8, &req, &o, &frame, "g", 10);
    assert_kerr(fetch_group_v(10, "g", NULL, -1, "t", 0, &group_error).error_code,
                RN_KERR_UNSTABLE_OFFSET_COMMIT);
    commit_release(&req, &o, &frame);
    cr_assert_eq(fetch_group_v(10, "g", NULL, -1, "t", 0, &group_error).committed_offset, 10);
}

Test(offsets_handlers, v0_commits_without_generation_like_standalone_v1)
{
    cr_assert_eq(commit_one(0, "zk", "t", 0, 9), 0);
    cr_assert_eq(fetch_v(0, "zk", "t", 0).committed_offset, 9);
}

Test(offsets_handlers, null_topics_fetch_every_offset_of_the_group)
{
    want_t parts[] = { { "u", 0, 7, NULL }, { "t", 2, 5, "x" }, { "t", 0, 3, NULL } };
    int16_t errors[3];
    commit_v(7, "all", -1, "", parts, 3, errors);
    rn_offset_fetch_request_t body;
    rn_offset_fetch_request_init(&body);
    body.group_id = S("all");
    body.topics.count = -1;
    rn_offset_fetch_response_t resp;
    call(RN_API_OFFSET_FETCH, 7, &body, &resp);
    assert_kerr(resp.error_code, 0);
    cr_assert_eq(resp.topics.count, 2);
    cr_assert(str_is(resp.topics.items[0].name, "t"));
    cr_assert_eq(resp.topics.items[0].partitions.count, 2);
    cr_assert_eq(resp.topics.items[0].partitions.items[0].partition_index, 0);
    cr_assert_eq(resp.topics.items[0].partitions.items[0].committed_offset, 3);
    cr_assert_eq(resp.topics.items[0].partitions.items[1].partition_index, 2);
    cr_assert(str_is(resp.topics.items[0].partitions.items[1].metadata, "x"));
    cr_assert(str_is(resp.topics.items[1].name, "u"));
    cr_assert_eq(resp.topics.items[1].partitions.items[0].committed_offset, 7);
    /* A group without offsets: no topics. */
    body.group_id = S("none");
    call(RN_API_OFFSET_FETCH, 2, &body, &resp);
    cr_assert_eq(resp.topics.count, 0);
}

Test(offsets_handlers, v8_fetches_several_groups)
{
    cr_assert_eq(commit_one(8, "a", "t", 0, 1), 0);
    cr_assert_eq(commit_one(8, "b", "t", 1, 2), 0);
    rn_offset_fetch_request_t body;
    rn_offset_fetch_request_init(&body);
    rn_offset_fetch_request_group_t groups[2];
    rn_offset_fetch_request_group_init(&groups[0]);
    rn_offset_fetch_request_group_init(&groups[1]);
    groups[0].group_id = S("a");
    rn_offset_fetch_request_group_topic_t t;
    rn_offset_fetch_request_group_topic_init(&t);
    t.name = S("t");
    int32_t parts[] = { 0, 1 };
    t.partition_indexes.items = parts;
    t.partition_indexes.count = 2;
    groups[0].topics.items = &t;
    groups[0].topics.count = 1;
    groups[1].group_id = S("b");
    groups[1].topics.count = -1;
    body.groups.items = groups;
    body.groups.count = 2;
    rn_offset_fetch_response_t resp;
    call(RN_API_OFFSET_FETCH, 8, &body, &resp);
    cr_assert_eq(resp.groups.count, 2);
    const rn_offset_fetch_response_group_t *a = &resp.groups.items[0], *b = &resp.groups.items[1];
    cr_assert(str_is(a->group_id, "a"));
    assert_kerr(a->error_code, 0);
    cr_assert_eq(a->topics.items[0].partitions.count, 2);
    cr_assert_eq(a->topics.items[0].partitions.items[0].committed_offset, 1);
    cr_assert_eq(a->topics.items[0].partitions.items[1].committed_offset, -1);
    cr_assert(str_is(b->group_id, "b"));
    cr_assert_eq(b->topics.count, 1);
    cr_assert_eq(b->topics.items[0].partitions.items[0].partition_index, 1);
    cr_assert_eq(b->topics.items[0].partitions.items[0].committed_offset, 2);
}

Test(offsets_handlers, commits_survive_a_restart_of_the_coordinator)
{
    cr_assert_eq(commit_one(5, "g", "t", 0, 11), 0);
    cr_assert_eq(commit_one(5, "g", "u", 0, 12), 0);
    close_coord();
    open_coord();
    cr_assert_eq(fetch_v(4, "g", "t", 0).committed_offset, 11);
    cr_assert_eq(fetch_v(4, "g", "u", 0).committed_offset, 12);
    /* The broker tells the coordinator about a deleted topic; its offsets go, also on disk. */
    cr_assert_eq(rn_topics_delete(fx.topics, S("u")).error_code, 0);
    rn_coord_topic_deleted(fx.coord, "u");
    close_coord();
    open_coord();
    cr_assert_eq(fetch_v(4, "g", "u", 0).committed_offset, -1);
    cr_assert_eq(fetch_v(4, "g", "t", 0).committed_offset, 11);
}

Test(offsets_handlers, without_a_coordinator_every_answer_is_coordinator_not_available)
{
    fx.info.coord = NULL;
    cr_assert_eq(commit_one(2, "g", "t", 0, 1), 15);
    cr_assert_eq(fetch_v(1, "g", "t", 0).error_code, 15);
    rn_offset_delete_request_t body;
    rn_offset_delete_request_init(&body);
    body.group_id = S("g");
    rn_offset_delete_response_t resp;
    call(RN_API_OFFSET_DELETE, 0, &body, &resp);
    cr_assert_eq(resp.error_code, 15);
    fx.info.coord = fx.coord;
}

/* ---- OffsetDelete ---- */

static rn_offset_delete_response_t delete_offsets(const char *group, const char *topic,
                                                  const int32_t *partitions, int n)
{
    rn_offset_delete_request_t body;
    rn_offset_delete_request_init(&body);
    body.group_id = S(group);
    rn_offset_delete_request_topic_t t;
    rn_offset_delete_request_topic_init(&t);
    t.name = S(topic);
    rn_offset_delete_request_partition_t ps[4];
    for (int i = 0; i < n; i++) {
        rn_offset_delete_request_partition_init(&ps[i]);
        ps[i].partition_index = partitions[i];
    }
    t.partitions.items = ps;
    t.partitions.count = n;
    body.topics.items = &t;
    body.topics.count = 1;
    rn_offset_delete_response_t resp;
    call(RN_API_OFFSET_DELETE, 0, &body, &resp);
    return resp;
}

/* Kafka 4.4: an empty group id is INVALID_GROUP_ID, an unknown one GROUP_ID_NOT_FOUND. */
Test(offsets_handlers, offset_delete_of_an_empty_group_id_is_invalid_group_id)
{
    int32_t parts[] = { 0 };
    assert_kerr(delete_offsets("", "t", parts, 1).error_code, RN_KERR_INVALID_GROUP_ID);
    assert_kerr(delete_offsets("nobody", "t", parts, 1).error_code, RN_KERR_GROUP_ID_NOT_FOUND);
}

Test(offsets_handlers, offset_delete_removes_an_empty_groups_offsets)
{
    cr_assert_eq(commit_one(2, "g", "t", 0, 1), 0);
    cr_assert_eq(commit_one(2, "g", "t", 1, 2), 0);
    int32_t parts[] = { 0, 2, 7 };
    rn_offset_delete_response_t resp = delete_offsets("g", "t", parts, 3);
    assert_kerr(resp.error_code, 0);
    cr_assert_eq(resp.topics.count, 1);
    assert_kerr(resp.topics.items[0].partitions.items[0].error_code, 0);
    assert_kerr(resp.topics.items[0].partitions.items[1].error_code, 0,
                "nothing to delete is no error");
    assert_kerr(resp.topics.items[0].partitions.items[2].error_code,
                RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(fetch_v(2, "g", "t", 0).committed_offset, -1);
    cr_assert_eq(fetch_v(2, "g", "t", 1).committed_offset, 2);
    close_coord();
    open_coord();
    cr_assert_eq(fetch_v(2, "g", "t", 0).committed_offset, -1);
    cr_assert_eq(fetch_v(2, "g", "t", 1).committed_offset, 2);
    resp = delete_offsets("unknown-group", "t", parts, 1);
    cr_assert_eq(resp.error_code, 69, "GROUP_ID_NOT_FOUND");
}
