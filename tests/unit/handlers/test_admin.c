/* SPDX-License-Identifier: Apache-2.0 */
/* The admin handlers (src/handlers/admin_topics.c, admin_configs.c) driven through
 * rn_handlers_dispatch with real frames, against a real topic registry in a temporary data
 * directory: what a client sees in the response, and what the registry holds afterwards. */
#include "kerr_assert.h"
#include <uv.h>

#include "handlers/fixture.h"
#include "log/log.h"
#include "records/records.h"

/* A registry without a coordinator; `extra` is "key=value\n" lines for the configuration. */
static void start(const char *extra)
{
    char props[512];
    snprintf(props, sizeof props, "auto.create.topics.enable=false\n%s", extra ? extra : "");
    fixture_start("admin", props, false);
}

static void stop(void)
{
    fixture_stop();
}

/* ---- request builders ---- */

static rn_create_topics_response_topic_t create_topic_v(int16_t version, const char *name,
                                                        int32_t partitions, int16_t rf,
                                                        const char *config_key,
                                                        const char *config_value)
{
    rn_create_topics_request_topic_t t;
    rn_create_topics_request_topic_init(&t);
    t.name = S(name);
    t.num_partitions = partitions;
    t.replication_factor = rf;
    rn_create_topics_request_config_t c;
    rn_create_topics_request_config_init(&c);
    if (config_key != NULL) {
        c.name = S(config_key);
        c.value = S(config_value);
        t.configs.items = &c;
        t.configs.count = 1;
    }
    rn_create_topics_request_t body;
    rn_create_topics_request_init(&body);
    body.topics.items = &t;
    body.topics.count = 1;
    rn_create_topics_response_t resp;
    call(RN_API_CREATE_TOPICS, version, &body, &resp);
    cr_assert_eq(resp.topics.count, 1);
    return resp.topics.items[0];
}

static int16_t create_topic(const char *name, int32_t partitions, int16_t rf)
{
    return create_topic_v(4, name, partitions, rf, NULL, NULL).error_code;
}

static int32_t partitions_of(const char *name)
{
    rn_topic_t *topic = rn_topics_get(fx.topics, S(name));
    if (topic == NULL)
        return -1;
    int32_t n = atomic_load(&topic->npartitions);
    rn_topic_unref(topic);
    return n;
}

/* DescribeConfigs v3 of one topic (or broker) with synonyms and documentation. */
static rn_describe_configs_response_result_t describe(int8_t type, const char *name)
{
    rn_describe_configs_request_resource_t res;
    rn_describe_configs_request_resource_init(&res);
    res.resource_type = type;
    res.resource_name = S(name);
    res.configuration_keys.count = -1;
    rn_describe_configs_request_t body;
    rn_describe_configs_request_init(&body);
    body.resources.items = &res;
    body.resources.count = 1;
    body.include_synonyms = true;
    body.include_documentation = true;
    rn_describe_configs_response_t resp;
    call(RN_API_DESCRIBE_CONFIGS, 3, &body, &resp);
    cr_assert_eq(resp.results.count, 1);
    return resp.results.items[0];
}

static const rn_describe_configs_response_config_t *
find_config(const rn_describe_configs_response_result_t *r, const char *name)
{
    for (int32_t i = 0; i < r->configs.count; i++)
        if (rn_str_eq_cstr(r->configs.items[i].name, name))
            return &r->configs.items[i];
    return NULL;
}

/* ---- CreateTopics ---- */

Test(admin, create_topics_creates_and_a_second_create_is_topic_already_exists)
{
    start(NULL);
    cr_assert_eq(create_topic("orders", 3, 1), 0);
    cr_assert_eq(partitions_of("orders"), 3);
    cr_assert_eq(create_topic("orders", 3, 1), 36,
                 "TOPIC_ALREADY_EXISTS (kafkajs counts it as success)");
    stop();
}

Test(admin, create_topics_refuses_an_illegal_name_with_17)
{
    start(NULL);
    cr_assert_eq(create_topic("bad name!", 1, 1), 17);
    cr_assert_eq(create_topic("..", 1, 1), 17);
    stop();
}

Test(admin, create_topics_refuses_zero_partitions_with_37)
{
    start(NULL);
    cr_assert_eq(create_topic("zero", 0, 1), 37);
    cr_assert_eq(partitions_of("zero"), -1);
    stop();
}

Test(admin, replication_factor_3_is_38_unless_the_broker_accepts_it)
{
    start(NULL);
    cr_assert_eq(create_topic("connect-offsets", 25, 3), 38);
    stop();

    start("runnel.accept.replication.factor=true\n");
    rn_create_topics_response_topic_t t = create_topic_v(5, "connect-offsets", 25, 3, NULL, NULL);
    assert_kerr(t.error_code, 0);
    cr_assert_eq(t.num_partitions, 25);
    cr_assert_eq(t.replication_factor, 1, "honest metadata: one replica");
    stop();
}

Test(admin, create_topics_defaults_minus_one_to_the_broker_settings)
{
    start("num.partitions=4\n");
    rn_create_topics_response_topic_t t = create_topic_v(5, "defaults", -1, -1, NULL, NULL);
    assert_kerr(t.error_code, 0);
    cr_assert_eq(t.num_partitions, 4);
    cr_assert_eq(partitions_of("defaults"), 4);
    stop();
}

Test(admin, create_topics_v7_returns_the_topic_id_and_its_configs)
{
    start(NULL);
    rn_create_topics_response_topic_t t =
        create_topic_v(7, "with-id", 2, 1, "cleanup.policy", "compact");
    assert_kerr(t.error_code, 0);
    rn_topic_t *topic = rn_topics_get(fx.topics, S("with-id"));
    cr_assert_not_null(topic);
    cr_assert_eq(memcmp(t.topic_id.b, topic->id.b, 16), 0, "the id Metadata will show");
    static const rn_uuid_t zero;
    cr_assert_neq(memcmp(t.topic_id.b, zero.b, 16), 0);
    rn_topic_unref(topic);
    cr_assert_eq(t.num_partitions, 2);
    bool found = false;
    for (int32_t i = 0; i < t.configs.count; i++) {
        if (rn_str_eq_cstr(t.configs.items[i].name, "cleanup.policy")) {
            cr_assert(rn_str_eq_cstr(t.configs.items[i].value, "compact"));
            cr_assert_eq(t.configs.items[i].config_source, 1, "TOPIC_CONFIG");
            found = true;
        }
    }
    cr_assert(found);
    stop();
}

Test(admin, a_name_given_twice_is_invalid_request_once_and_creates_nothing)
{
    start(NULL);
    rn_create_topics_request_topic_t t[2];
    for (int i = 0; i < 2; i++) {
        rn_create_topics_request_topic_init(&t[i]);
        t[i].name = S("twice");
        t[i].num_partitions = 1;
        t[i].replication_factor = 1;
    }
    rn_create_topics_request_t body;
    rn_create_topics_request_init(&body);
    body.topics.items = t;
    body.topics.count = 2;
    rn_create_topics_response_t resp;
    call(RN_API_CREATE_TOPICS, 4, &body, &resp);
    cr_assert_eq(resp.topics.count, 1);
    cr_assert_eq(resp.topics.items[0].error_code, 42);
    cr_assert(rn_str_eq_cstr(resp.topics.items[0].error_message, "Duplicate topic name."));
    cr_assert_eq(partitions_of("twice"), -1);
    stop();
}

static int16_t create_with_assignment(const char *name, const int32_t *replicas, int32_t nreplicas,
                                      int32_t nparts)
{
    rn_create_topics_request_assignment_t a[4];
    for (int32_t i = 0; i < nparts; i++) {
        rn_create_topics_request_assignment_init(&a[i]);
        a[i].partition_index = i;
        a[i].broker_ids.items = (int32_t *)replicas;
        a[i].broker_ids.count = nreplicas;
    }
    rn_create_topics_request_topic_t t;
    rn_create_topics_request_topic_init(&t);
    t.name = S(name);
    t.num_partitions = -1;
    t.replication_factor = -1;
    t.assignments.items = a;
    t.assignments.count = nparts;
    rn_create_topics_request_t body;
    rn_create_topics_request_init(&body);
    body.topics.items = &t;
    body.topics.count = 1;
    rn_create_topics_response_t resp;
    call(RN_API_CREATE_TOPICS, 4, &body, &resp);
    return resp.topics.items[0].error_code;
}

Test(admin, manual_assignments_must_name_only_this_broker)
{
    start(NULL);
    static const int32_t self[] = { 1 }, other[] = { 2 }, twice[] = { 1, 1 };
    cr_assert_eq(create_with_assignment("placed", self, 1, 2), 0);
    cr_assert_eq(partitions_of("placed"), 2);
    cr_assert_eq(create_with_assignment("elsewhere", other, 1, 1), 39,
                 "INVALID_REPLICA_ASSIGNMENT");
    cr_assert_eq(create_with_assignment("doubled", twice, 2, 1), 39);
    cr_assert_eq(partitions_of("elsewhere"), -1);
    stop();
}

Test(admin, validate_only_checks_without_creating)
{
    start(NULL);
    rn_create_topics_request_topic_t t;
    rn_create_topics_request_topic_init(&t);
    t.name = S("dry-run");
    t.num_partitions = 2;
    t.replication_factor = 1;
    rn_create_topics_request_t body;
    rn_create_topics_request_init(&body);
    body.topics.items = &t;
    body.topics.count = 1;
    body.validate_only = true;
    rn_create_topics_response_t resp;
    call(RN_API_CREATE_TOPICS, 5, &body, &resp);
    assert_kerr(resp.topics.items[0].error_code, 0);
    cr_assert_eq(resp.topics.items[0].num_partitions, 2);
    cr_assert_eq(partitions_of("dry-run"), -1);
    stop();
}

Test(admin, validate_only_v7_answers_the_configs_and_a_made_up_id_as_kafka_does)
{
    start(NULL);
    static const rn_uuid_t zero;
    rn_uuid_t first;
    for (int i = 0; i < 2; i++) {
        rn_create_topics_request_topic_t t;
        rn_create_topics_request_topic_init(&t);
        t.name = S("dry-run");
        t.num_partitions = 2;
        t.replication_factor = 1;
        rn_create_topics_request_config_t c;
        rn_create_topics_request_config_init(&c);
        c.name = S("retention.ms");
        c.value = S(" 1000 ");
        t.configs.items = &c;
        t.configs.count = 1;
        rn_create_topics_request_t body;
        rn_create_topics_request_init(&body);
        body.topics.items = &t;
        body.topics.count = 1;
        body.validate_only = true;
        rn_create_topics_response_t resp;
        call(RN_API_CREATE_TOPICS, 7, &body, &resp);
        const rn_create_topics_response_topic_t *r = &resp.topics.items[0];
        assert_kerr(r->error_code, 0);
        cr_assert_eq(r->num_partitions, 2);
        cr_assert_eq(r->replication_factor, 1);
        cr_assert_eq(r->configs.count, 37, "every config, as a creation lists them");
        bool found = false;
        for (int32_t k = 0; k < r->configs.count; k++)
            if (rn_str_eq_cstr(r->configs.items[k].name, "retention.ms")) {
                cr_assert(rn_str_eq_cstr(r->configs.items[k].value, "1000"));
                cr_assert_eq(r->configs.items[k].config_source, 1, "TOPIC_CONFIG");
                found = true;
            }
        cr_assert(found);
        /* Kafka 4.4 makes up a new random id for each validate_only request. */
        cr_assert_neq(memcmp(r->topic_id.b, zero.b, 16), 0);
        if (i == 0)
            first = r->topic_id;
        else
            cr_assert_neq(memcmp(r->topic_id.b, first.b, 16), 0, "a new one each time");
    }
    cr_assert_eq(partitions_of("dry-run"), -1, "nothing created");
    rn_create_topics_response_topic_t bad =
        create_topic_v(7, "dry-run", 1, 1, "remote.storage.enable", "true");
    assert_kerr(bad.error_code, 40);
    cr_assert_eq(bad.configs.count, 0);
    stop();
}

Test(admin, every_truncation_of_a_create_topics_request_closes_without_a_crash)
{
    start(NULL);
    rn_create_topics_request_topic_t t;
    rn_create_topics_request_topic_init(&t);
    t.name = S("cut");
    t.num_partitions = 1;
    t.replication_factor = 1;
    rn_create_topics_request_t body;
    rn_create_topics_request_init(&body);
    body.topics.items = &t;
    body.topics.count = 1;
    rn_outbuf_t w;
    build_frame(RN_API_CREATE_TOPICS, 5, &body, &w);
    for (size_t n = 0; n < w.len; n++) {
        reply_t o = run_frame(w.data, n);
        cr_assert_eq(o.how, RN_FINISH_CLOSE, "%zu-byte prefix", n);
    }
    cr_assert_eq(partitions_of("cut"), -1);
    rn_outbuf_deinit(&w);
    stop();
}

Test(admin, work_that_cannot_be_queued_fails_the_request_and_runs_nowhere)
{
    start(NULL);
    rn_create_topics_request_topic_t t;
    rn_create_topics_request_topic_init(&t);
    t.name = S("unqueued");
    t.num_partitions = 1;
    t.replication_factor = 1;
    rn_create_topics_request_t body;
    rn_create_topics_request_init(&body);
    body.topics.items = &t;
    body.topics.count = 1;
    rn_outbuf_t w;
    build_frame(RN_API_CREATE_TOPICS, 5, &body, &w);
    fx.executor.refuse = true;
    reply_t o = run_frame(w.data, w.len);
    fx.executor.refuse = false;
    cr_assert_eq(o.how, RN_FINISH_CLOSE, "the request fails");
    cr_assert_eq(partitions_of("unqueued"), -1, "and its work did not run on the caller's thread");
    rn_outbuf_deinit(&w);
    stop();
}

Test(admin, with_a_loop_the_work_runs_in_the_thread_pool_and_answers_on_the_loop)
{
    start(NULL);
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    void *ctx = rn_handlers_loop_start(&loop, 0, NULL);

    rn_create_topics_request_topic_t t;
    rn_create_topics_request_topic_init(&t);
    t.name = S("pooled");
    t.num_partitions = 2;
    t.replication_factor = 1;
    rn_create_topics_request_t body;
    rn_create_topics_request_init(&body);
    body.topics.items = &t;
    body.topics.count = 1;
    rn_outbuf_t w;
    build_frame(RN_API_CREATE_TOPICS, 4, &body, &w);

    reply_t o = { 0 };
    rn_request_t req;
    memset(&req, 0, sizeof req);
    req.frame = w.data;
    req.frame_len = w.len;
    req.peer = "test";
    req.broker = &fx.info;
    req.loop_ctx = ctx;
    req.executor = rn_handlers_loop_executor(ctx); /* as the broker sets it */
    rn_arena_init(&req.arena, 0);
    rn_outbuf_init(&req.out);
    req.finish = fixture_capture;
    req.finish_ctx = &o;
    rn_handlers_dispatch(&req);
    cr_assert_eq(o.calls, 0, "the answer waits for the thread pool");
    while (o.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(o.how, RN_FINISH_RESPOND);
    cr_assert_eq(partitions_of("pooled"), 2);

    rn_handlers_loop_stop(ctx);
    uv_run(&loop, UV_RUN_DEFAULT);
    rn_handlers_loop_end(ctx);
    cr_assert_eq(uv_loop_close(&loop), 0, "no handle left behind");
    free(o.bytes);
    rn_outbuf_deinit(&req.out);
    rn_arena_deinit(&req.arena);
    rn_outbuf_deinit(&w);
    stop();
}

/* ---- DeleteTopics ---- */

static int16_t delete_topic(int16_t version, const char *name)
{
    rn_str_t names[1] = { S(name) };
    rn_delete_topics_request_topic_t t;
    rn_delete_topics_request_topic_init(&t);
    t.name = S(name);
    rn_delete_topics_request_t body;
    rn_delete_topics_request_init(&body);
    if (version >= 6) {
        body.topics.items = &t;
        body.topics.count = 1;
    } else {
        body.topic_names.items = names;
        body.topic_names.count = 1;
    }
    rn_delete_topics_response_t resp;
    call(RN_API_DELETE_TOPICS, version, &body, &resp);
    cr_assert_eq(resp.responses.count, 1);
    return resp.responses.items[0].error_code;
}

Test(admin, a_deleted_topic_is_unknown_to_metadata)
{
    start(NULL);
    cr_assert_eq(create_topic("doomed", 2, 1), 0);
    cr_assert_eq(delete_topic(4, "doomed"), 0);
    cr_assert_eq(partitions_of("doomed"), -1);

    rn_metadata_request_topic_t want;
    rn_metadata_request_topic_init(&want);
    want.name = S("doomed");
    rn_metadata_request_t body;
    rn_metadata_request_init(&body);
    body.topics.items = &want;
    body.topics.count = 1;
    body.allow_auto_topic_creation = false;
    rn_metadata_response_t resp;
    call(RN_API_METADATA, 9, &body, &resp);
    cr_assert_eq(resp.topics.count, 1);
    cr_assert_eq(resp.topics.items[0].error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");
    cr_assert_eq(delete_topic(4, "doomed"), 3);
    stop();
}

/* The Java Admin's describeTopics(TopicCollection.ofTopicIds(...)) sends Metadata v12 with ""
 * (not null) beside each id. Kafka then looks up every non-zero id, ignores the names, drops
 * entries without an id and answers a repeated id once. */
Test(admin, metadata_v12_by_id_ignores_the_names_and_answers_each_id_once)
{
    start(NULL);
    cr_assert_eq(create_topic("found-by-id", 3, 1), 0);
    rn_topic_t *topic = rn_topics_get(fx.topics, S("found-by-id"));
    cr_assert_not_null(topic);
    rn_metadata_request_topic_t want[4];
    for (int i = 0; i < 4; i++)
        rn_metadata_request_topic_init(&want[i]);
    want[0].topic_id = topic->id;
    want[0].name = S("");
    want[1].name = S("no-id-so-ignored");
    memset(want[2].topic_id.b, 0xab, 16);
    want[2].name = S("found-by-id");
    want[3].topic_id = topic->id;
    rn_topic_unref(topic);
    rn_metadata_request_t body;
    rn_metadata_request_init(&body);
    body.topics.items = want;
    body.topics.count = 4;
    rn_metadata_response_t resp;
    call(RN_API_METADATA, 12, &body, &resp);
    cr_assert_eq(resp.topics.count, 2);
    assert_kerr(resp.topics.items[0].error_code, 0);
    cr_assert_eq(resp.topics.items[0].name.len, strlen("found-by-id"));
    cr_assert_eq(memcmp(resp.topics.items[0].name.ptr, "found-by-id", 11), 0);
    cr_assert_eq(resp.topics.items[0].partitions.count, 3);
    assert_kerr(resp.topics.items[1].error_code, RN_KERR_UNKNOWN_TOPIC_ID);
    cr_assert_null(resp.topics.items[1].name.ptr, "an unknown id has no name");
    cr_assert_eq(resp.topics.items[1].topic_id.b[0], 0xab);
    cr_assert_null(rn_topics_get(fx.topics, S("no-id-so-ignored")), "nothing auto-created");
    stop();
}

Test(admin, delete_topics_v6_by_an_unknown_id_is_100_and_by_a_known_id_deletes)
{
    start(NULL);
    cr_assert_eq(create_topic("by-id", 1, 1), 0);
    rn_topic_t *topic = rn_topics_get(fx.topics, S("by-id"));
    cr_assert_not_null(topic);
    rn_delete_topics_request_topic_t t[2];
    rn_delete_topics_request_topic_init(&t[0]);
    rn_delete_topics_request_topic_init(&t[1]);
    t[0].topic_id = topic->id;
    memset(t[1].topic_id.b, 0xab, 16);
    rn_topic_unref(topic);
    rn_delete_topics_request_t body;
    rn_delete_topics_request_init(&body);
    body.topics.items = t;
    body.topics.count = 2;
    rn_delete_topics_response_t resp;
    call(RN_API_DELETE_TOPICS, 6, &body, &resp);
    cr_assert_eq(resp.responses.count, 2);
    assert_kerr(resp.responses.items[0].error_code, 0);
    cr_assert(rn_str_eq_cstr(resp.responses.items[0].name, "by-id"),
              "the name is resolved from the id");
    cr_assert_eq(resp.responses.items[1].error_code, 100, "UNKNOWN_TOPIC_ID");
    cr_assert_eq(partitions_of("by-id"), -1);
    stop();
}

/* DeleteTopics v5+ carries a message: Kafka 4.4 gives the errors' own for an unknown name (a
 * legal one, an illegal one, "", one deleted already) and an unknown id. */
Test(admin, delete_topics_words_unknown_names_and_ids_as_kafka_does)
{
    start(NULL);
    cr_assert_eq(create_topic("once", 1, 1), 0);
    cr_assert_eq(delete_topic(6, "once"), 0);
    static const char *const names[] = { "once", "bad name!", "", "never" };
    for (int16_t v = 5; v <= 6; v++) {
        rn_str_t by_name[4];
        rn_delete_topics_request_topic_t t[5];
        for (int i = 0; i < 4; i++) {
            by_name[i] = S(names[i]);
            rn_delete_topics_request_topic_init(&t[i]);
            t[i].name = S(names[i]);
        }
        rn_delete_topics_request_topic_init(&t[4]);
        memset(t[4].topic_id.b, 0xab, 16);
        rn_delete_topics_request_t body;
        rn_delete_topics_request_init(&body);
        body.topic_names.items = by_name;
        body.topic_names.count = 4;
        body.topics.items = t;
        body.topics.count = v >= 6 ? 5 : 4;
        rn_delete_topics_response_t resp;
        call(RN_API_DELETE_TOPICS, v, &body, &resp);
        cr_assert_eq(resp.responses.count, body.topics.count);
        for (int32_t i = 0; i < 4; i++) {
            assert_kerr(resp.responses.items[i].error_code, 3);
            cr_assert(rn_str_eq_cstr(resp.responses.items[i].error_message,
                                     "This server does not host this topic-partition."),
                      "v%d %s", v, names[i]);
        }
        if (v >= 6) {
            assert_kerr(resp.responses.items[4].error_code, 100);
            cr_assert(rn_str_eq_cstr(resp.responses.items[4].error_message,
                                     "This server does not host this topic ID."));
        }
    }
    stop();
}

Test(admin, delete_topic_enable_false_refuses_with_73_or_42_before_v3)
{
    start("delete.topic.enable=false\n");
    cr_assert_eq(create_topic("kept", 1, 1), 0);
    cr_assert_eq(delete_topic(4, "kept"), 73, "TOPIC_DELETION_DISABLED");
    cr_assert_eq(delete_topic(1, "kept"), 42, "INVALID_REQUEST: no code 73 before v3");
    cr_assert_eq(partitions_of("kept"), 1);
    stop();
}

/* ---- CreatePartitions ---- */

static int16_t grow(const char *name, int32_t count, const int32_t *replicas, int32_t nassign)
{
    rn_create_partitions_request_assignment_t a[4];
    rn_create_partitions_request_topic_t t;
    rn_create_partitions_request_topic_init(&t);
    t.name = S(name);
    t.count = count;
    t.assignments.count = -1;
    if (replicas != NULL) {
        for (int32_t i = 0; i < nassign; i++) {
            rn_create_partitions_request_assignment_init(&a[i]);
            a[i].broker_ids.items = (int32_t *)replicas;
            a[i].broker_ids.count = 1;
        }
        t.assignments.items = a;
        t.assignments.count = nassign;
    }
    rn_create_partitions_request_t body;
    rn_create_partitions_request_init(&body);
    body.topics.items = &t;
    body.topics.count = 1;
    rn_create_partitions_response_t resp;
    call(RN_API_CREATE_PARTITIONS, 1, &body, &resp);
    cr_assert_eq(resp.results.count, 1);
    return resp.results.items[0].error_code;
}

Test(admin, create_partitions_grows_a_topic_and_refuses_to_shrink_it)
{
    start(NULL);
    cr_assert_eq(create_topic("growing", 1, 1), 0);
    cr_assert_eq(grow("growing", 3, NULL, 0), 0);
    cr_assert_eq(partitions_of("growing"), 3);
    cr_assert_eq(grow("growing", 2, NULL, 0), 37, "INVALID_PARTITIONS");
    static const int32_t self[] = { 1 }, other[] = { 5 };
    cr_assert_eq(grow("growing", 5, other, 2), 39, "INVALID_REPLICA_ASSIGNMENT");
    cr_assert_eq(grow("growing", 5, self, 1), 39, "one assignment for two new partitions");
    cr_assert_eq(grow("growing", 5, self, 2), 0);
    cr_assert_eq(partitions_of("growing"), 5);
    cr_assert_eq(grow("missing", 2, NULL, 0), 3);
    stop();
}

Test(admin, create_partitions_of_an_unknown_topic_has_no_message_as_in_kafka)
{
    start(NULL);
    for (int16_t v = 0; v <= 3; v++) {
        rn_create_partitions_request_topic_t t;
        rn_create_partitions_request_topic_init(&t);
        t.name = S("missing");
        t.count = 2;
        t.assignments.count = -1;
        rn_create_partitions_request_t body;
        rn_create_partitions_request_init(&body);
        body.topics.items = &t;
        body.topics.count = 1;
        rn_create_partitions_response_t resp;
        call(RN_API_CREATE_PARTITIONS, v, &body, &resp);
        assert_kerr(resp.results.items[0].error_code, 3);
        cr_assert_null(resp.results.items[0].error_message.ptr, "v%d", v);
    }
    stop();
}

/* ---- DeleteRecords ---- */

/* An uncompressed batch v2 of n one-byte records. */
static size_t make_batch(uint8_t *p, int n)
{
    size_t len = 61;
    for (int i = 0; i < n; i++) {
        uint8_t rec[] = { 14, 0, 0, (uint8_t)(2 * i), 1, 2, 'x', 0 }; /* length 7, zigzag varints */
        memcpy(p + len, rec, sizeof rec);
        len += sizeof rec;
    }
    memset(p, 0, 61);
    uint32_t batch_length = (uint32_t)(len - 12);
    p[8] = (uint8_t)(batch_length >> 24), p[9] = (uint8_t)(batch_length >> 16);
    p[10] = (uint8_t)(batch_length >> 8), p[11] = (uint8_t)batch_length;
    p[16] = 2;
    p[26] = (uint8_t)(n - 1);        /* last_offset_delta */
    memset(p + 43, 0xff, 8 + 2 + 4); /* producer id, epoch, sequence: -1 */
    p[60] = (uint8_t)n;              /* records_count */
    uint32_t crc = rn_crc32c(0, p + 21, len - 21);
    p[17] = (uint8_t)(crc >> 24), p[18] = (uint8_t)(crc >> 16), p[19] = (uint8_t)(crc >> 8),
    p[20] = (uint8_t)crc;
    return len;
}

static void append_records(const char *name, int n)
{
    rn_topic_t *topic = rn_topics_get(fx.topics, S(name));
    cr_assert_not_null(topic);
    uint8_t batch[61 + 8 * 32];
    cr_assert_leq(n, 32);
    size_t len = make_batch(batch, n);
    rn_records_summary_t sum;
    const char *why = NULL;
    cr_assert_eq(rn_records_validate(batch, len, 1 << 20, &sum, &why), 0, "%s", why ? why : "");
    int64_t base;
    bool sync;
    cr_assert_eq(rn_log_append(rn_topic_partition(topic, 0)->log, batch, len, &sum, &base, &sync),
                 0);
    rn_topic_unref(topic);
}

static rn_delete_records_response_partition_result_t delete_records(const char *name,
                                                                    int64_t offset)
{
    rn_delete_records_request_partition_t p;
    rn_delete_records_request_partition_init(&p);
    p.partition_index = 0;
    p.offset = offset;
    rn_delete_records_request_topic_t t;
    rn_delete_records_request_topic_init(&t);
    t.name = S(name);
    t.partitions.items = &p;
    t.partitions.count = 1;
    rn_delete_records_request_t body;
    rn_delete_records_request_init(&body);
    body.topics.items = &t;
    body.topics.count = 1;
    rn_delete_records_response_t resp;
    call(RN_API_DELETE_RECORDS, 1, &body, &resp);
    cr_assert_eq(resp.topics.count, 1);
    cr_assert_eq(resp.topics.items[0].partitions.count, 1);
    return resp.topics.items[0].partitions.items[0];
}

Test(admin, delete_records_moves_the_low_watermark)
{
    start(NULL);
    cr_assert_eq(create_topic("trimmed", 1, 1), 0);
    append_records("trimmed", 5);
    rn_delete_records_response_partition_result_t r = delete_records("trimmed", 3);
    assert_kerr(r.error_code, 0);
    cr_assert_eq(r.low_watermark, 3);
    r = delete_records("trimmed", 1);
    assert_kerr(r.error_code, 0);
    cr_assert_eq(r.low_watermark, 3, "the log start never moves back");
    r = delete_records("trimmed", 6);
    cr_assert_eq(r.error_code, 1, "OFFSET_OUT_OF_RANGE above the high watermark");
    cr_assert_eq(r.low_watermark, -1);
    r = delete_records("trimmed", -1);
    assert_kerr(r.error_code, 0);
    cr_assert_eq(r.low_watermark, 5, "-1 means the high watermark");
    cr_assert_eq(delete_records("nowhere", 0).error_code, 3);
    stop();
}

/* Kafka 4.4 answers each partition once, with the offset given last, whichever copy errs: a
 * topic named twice is one topic, a topic named without partitions is not answered. */
Test(admin, delete_records_answers_a_partition_named_twice_once_with_the_last_offset)
{
    start(NULL);
    cr_assert_eq(create_topic("twice-a", 2, 1), 0);
    cr_assert_eq(create_topic("twice-b", 1, 1), 0);
    append_records("twice-a", 5);
    append_records("twice-b", 5);
    rn_delete_records_request_partition_t a[4], b[2], b2[1];
    int64_t a_parts[][2] = { { 0, 100 }, { 1, 0 }, { 0, 4 }, { 0, 2 } };
    for (int i = 0; i < 4; i++) {
        rn_delete_records_request_partition_init(&a[i]);
        a[i].partition_index = (int32_t)a_parts[i][0];
        a[i].offset = a_parts[i][1];
    }
    for (int i = 0; i < 2; i++) {
        rn_delete_records_request_partition_init(&b[i]);
        b[i].partition_index = 0;
        b[i].offset = i == 0 ? 3 : -7;
    }
    rn_delete_records_request_partition_init(&b2[0]);
    b2[0].partition_index = 0;
    b2[0].offset = 1;
    rn_delete_records_request_topic_t t[5];
    for (int i = 0; i < 5; i++)
        rn_delete_records_request_topic_init(&t[i]);
    t[0].name = S("nothing-asked"), t[0].partitions.count = 0;
    t[1].name = S("twice-b"), t[1].partitions.items = b, t[1].partitions.count = 2;
    t[2].name = S("twice-a"), t[2].partitions.items = a, t[2].partitions.count = 4;
    t[3].name = S("twice-b"), t[3].partitions.items = b2, t[3].partitions.count = 1;
    t[4].name = S("gone"), t[4].partitions.items = b2, t[4].partitions.count = 1;
    rn_delete_records_request_t body;
    rn_delete_records_request_init(&body);
    body.topics.items = t;
    body.topics.count = 5;
    rn_delete_records_response_t resp;
    call(RN_API_DELETE_RECORDS, 2, &body, &resp);
    cr_assert_eq(resp.topics.count, 3, "twice-b, twice-a, gone: in order of first appearance");
    const rn_delete_records_response_topic_result_t *rb = &resp.topics.items[0];
    const rn_delete_records_response_topic_result_t *ra = &resp.topics.items[1];
    cr_assert(rn_str_eq_cstr(rb->name, "twice-b"));
    cr_assert(rn_str_eq_cstr(ra->name, "twice-a"));
    cr_assert(rn_str_eq_cstr(resp.topics.items[2].name, "gone"));
    cr_assert_eq(resp.topics.items[2].partitions.items[0].error_code, 3);
    /* twice-b 0: 3, then -7 (an error alone), then 1 under its second entry: only 1 counts. */
    cr_assert_eq(rb->partitions.count, 1);
    assert_kerr(rb->partitions.items[0].error_code, 0);
    cr_assert_eq(rb->partitions.items[0].low_watermark, 1);
    /* twice-a 0: 100 (past the end), 4, then 2; partition 1 in between keeps its place. */
    cr_assert_eq(ra->partitions.count, 2);
    cr_assert_eq(ra->partitions.items[0].partition_index, 0);
    assert_kerr(ra->partitions.items[0].error_code, 0);
    cr_assert_eq(ra->partitions.items[0].low_watermark, 2);
    cr_assert_eq(ra->partitions.items[1].partition_index, 1);
    assert_kerr(ra->partitions.items[1].error_code, 0);
    cr_assert_eq(ra->partitions.items[1].low_watermark, 0);
    stop();
}

/* ---- DescribeConfigs, AlterConfigs, IncrementalAlterConfigs ---- */

Test(admin, describe_configs_shows_overrides_and_defaults_with_their_sources)
{
    start(NULL);
    assert_kerr(create_topic_v(4, "compacted", 1, 1, "cleanup.policy", "compact").error_code, 0);
    rn_describe_configs_response_result_t r = describe(2, "compacted");
    assert_kerr(r.error_code, 0);
    const rn_describe_configs_response_config_t *c = find_config(&r, "cleanup.policy");
    cr_assert_not_null(c);
    cr_assert(rn_str_eq_cstr(c->value, "compact"), "exactly `compact` (CLIENTS.md rule 10)");
    cr_assert_eq(c->config_source, 1, "TOPIC_CONFIG");
    cr_assert_geq(c->synonyms.count, 1);
    cr_assert_eq(c->synonyms.items[0].source, 1, "the override comes first");
    const rn_describe_configs_response_config_t *d = find_config(&r, "retention.ms");
    cr_assert_not_null(d);
    cr_assert_eq(d->config_source, 5, "DEFAULT_CONFIG");
    cr_assert_neq(d->config_type, 0, "v3 reports the type");
    stop();
}

Test(admin, describe_configs_v0_reports_is_default_and_filters_by_key)
{
    start(NULL);
    cr_assert_eq(create_topic("plain", 1, 1), 0);
    rn_str_t keys[] = { S("cleanup.policy"), S("no.such.key") };
    rn_describe_configs_request_resource_t res;
    rn_describe_configs_request_resource_init(&res);
    res.resource_type = 2;
    res.resource_name = S("plain");
    res.configuration_keys.items = keys;
    res.configuration_keys.count = 2;
    rn_describe_configs_request_t body;
    rn_describe_configs_request_init(&body);
    body.resources.items = &res;
    body.resources.count = 1;
    rn_describe_configs_response_t resp;
    call(RN_API_DESCRIBE_CONFIGS, 0, &body, &resp);
    cr_assert_eq(resp.results.items[0].configs.count, 1, "an unknown key is left out");
    cr_assert(rn_str_eq_cstr(resp.results.items[0].configs.items[0].value, "delete"));
    cr_assert(resp.results.items[0].configs.items[0].is_default);
    stop();
}

Test(admin, describe_configs_of_an_unknown_topic_is_3_and_of_another_broker_42)
{
    start(NULL);
    cr_assert_eq(describe(2, "ghost").error_code, 3);
    cr_assert_eq(describe(2, "").error_code, 17);
    cr_assert_eq(describe(4, "2").error_code, 42);
    cr_assert_eq(describe(4, "x").error_code, 42);
    cr_assert_eq(describe(99, "1").error_code, 42);
    stop();
}

Test(admin, describe_configs_says_an_empty_message_where_it_has_none_as_kafka_does)
{
    start(NULL);
    cr_assert_eq(create_topic("quiet", 1, 1), 0);
    rn_describe_configs_response_result_t r = describe(2, "quiet");
    assert_kerr(r.error_code, 0);
    cr_assert_not_null(r.error_message.ptr, "\"\", not null");
    cr_assert_eq(r.error_message.len, 0);
    r = describe(2, "ghost");
    assert_kerr(r.error_code, 3);
    cr_assert_not_null(r.error_message.ptr);
    cr_assert_eq(r.error_message.len, 0);
    r = describe(4, "1");
    cr_assert_not_null(r.error_message.ptr);
    cr_assert_eq(r.error_message.len, 0);
    r = describe(4, "2");
    cr_assert(rn_str_eq_cstr(r.error_message,
                             "Unexpected broker id, expected 1 or empty string, but received 2"));
    stop();
}

Test(admin, describe_configs_of_the_broker_logger_is_the_root_log_level)
{
    start(NULL);
    rn_log_level_t saved = rn_log_get_level();
    rn_log_set_level(RN_LOG_WARN);
    rn_describe_configs_response_result_t r = describe(8, "1");
    rn_log_set_level(saved);
    assert_kerr(r.error_code, 0);
    cr_assert_eq(r.configs.count, 1);
    const rn_describe_configs_response_config_t *c = &r.configs.items[0];
    cr_assert(rn_str_eq_cstr(c->name, "root"));
    cr_assert(rn_str_eq_cstr(c->value, "WARN"));
    cr_assert_not(c->read_only);
    cr_assert_eq(c->config_source, 6, "DYNAMIC_BROKER_LOGGER_CONFIG, as Kafka 4.4");
    cr_assert_not(c->is_default);
    cr_assert_eq(c->config_type, 0);
    cr_assert_eq(c->synonyms.count, 0);
    cr_assert(rn_str_eq_cstr(c->documentation, ""));
    /* Kafka 4.4's words for names that are not this node. */
    r = describe(8, "");
    assert_kerr(r.error_code, 42);
    cr_assert(rn_str_eq_cstr(r.error_message, "Broker id must not be empty"));
    r = describe(8, "x");
    cr_assert(rn_str_eq_cstr(r.error_message, "Broker id must be an integer, but it is: x"));
    r = describe(8, "2");
    cr_assert(rn_str_eq_cstr(r.error_message, "Unexpected broker id, expected 1 but received 2"));
    stop();
}

/* IncrementalAlterConfigs of resource `type` with one op; returns the resource's answer. */
static rn_incremental_alter_configs_response_resource_t
incremental_on(int8_t type, const char *name, const char *key, const char *value, int8_t op,
               bool validate_only)
{
    rn_incremental_alter_configs_request_config_t c;
    rn_incremental_alter_configs_request_config_init(&c);
    c.name = S(key);
    c.value = value ? S(value) : (rn_str_t){ NULL, 0 };
    c.config_operation = op;
    rn_incremental_alter_configs_request_resource_t res;
    rn_incremental_alter_configs_request_resource_init(&res);
    res.resource_type = type;
    res.resource_name = S(name);
    res.configs.items = &c;
    res.configs.count = 1;
    rn_incremental_alter_configs_request_t body;
    rn_incremental_alter_configs_request_init(&body);
    body.resources.items = &res;
    body.resources.count = 1;
    body.validate_only = validate_only;
    rn_incremental_alter_configs_response_t resp;
    call(RN_API_INCREMENTAL_ALTER_CONFIGS, 1, &body, &resp);
    cr_assert_eq(resp.responses.count, 1);
    return resp.responses.items[0];
}

static void assert_logger_refused(const char *name, const char *key, const char *value, int8_t op,
                                  int16_t code, const char *message)
{
    rn_incremental_alter_configs_response_resource_t r =
        incremental_on(8, name, key, value, op, false);
    assert_kerr(r.error_code, code);
    cr_assert(rn_str_eq_cstr(r.error_message, message), "%.*s", (int)r.error_message.len,
              r.error_message.ptr);
}

Test(admin, incremental_alter_configs_sets_the_log_level_as_kafka_sets_its_root_logger)
{
    start(NULL);
    rn_log_level_t saved = rn_log_get_level();
    rn_log_set_level(RN_LOG_INFO);
    assert_kerr(incremental_on(8, "1", "root", "DEBUG", 0, true).error_code, 0);
    cr_assert_eq(rn_log_get_level(), RN_LOG_INFO, "validate_only changes nothing");
    assert_kerr(incremental_on(8, "1", "root", "DEBUG", 0, false).error_code, 0);
    cr_assert_eq(rn_log_get_level(), RN_LOG_DEBUG);
    cr_assert(rn_str_eq_cstr(describe(8, "1").configs.items[0].value, "DEBUG"));
    assert_kerr(incremental_on(8, "1", "root", "FATAL", 0, false).error_code, 0);
    cr_assert_eq(rn_log_get_level(), RN_LOG_ERROR, "Runnel's quietest level");

    /* Kafka 4.4's answers, word for word. */
    assert_logger_refused("1", "root", "info", 0, 40,
                          "Cannot set the log level of root to info as it is not a supported log "
                          "level. Valid log levels are DEBUG, ERROR, FATAL, INFO, TRACE, WARN");
    assert_logger_refused("1", "root", NULL, 1, 42,
                          "Removing the log level of the root logger is not allowed");
    assert_logger_refused("1", "root", "INFO", 2, 42,
                          "APPEND operation is not allowed for the BROKER_LOGGER resource");
    assert_logger_refused("1", "no.such", "INFO", 3, 42,
                          "SUBTRACT operation is not allowed for the BROKER_LOGGER resource");
    assert_logger_refused("1", "root", "INFO", 9, 42,
                          "Unknown operation type 9 is not allowed for the BROKER_LOGGER resource");
    assert_logger_refused("1", "kafka.server", "INFO", 0, 40,
                          "Logger kafka.server does not exist!");
    assert_logger_refused("1", "root", NULL, 0, 42, "Null value not supported for : root");
    assert_logger_refused("2", "root", "INFO", 0, 42,
                          "Unexpected node id. Expected 1, but received 2");
    assert_logger_refused("", "root", "INFO", 0, 42, "Node id must be an integer, but it is: ");
    cr_assert_eq(rn_log_get_level(), RN_LOG_ERROR, "none of those changed it");

    /* AlterConfigs does not know loggers, as in Kafka. */
    rn_alter_configs_request_config_t c;
    rn_alter_configs_request_config_init(&c);
    c.name = S("root");
    c.value = S("INFO");
    rn_alter_configs_request_resource_t res;
    rn_alter_configs_request_resource_init(&res);
    res.resource_type = 8;
    res.resource_name = S("1");
    res.configs.items = &c;
    res.configs.count = 1;
    rn_alter_configs_request_t body;
    rn_alter_configs_request_init(&body);
    body.resources.items = &res;
    body.resources.count = 1;
    rn_alter_configs_response_t resp;
    call(RN_API_ALTER_CONFIGS, 2, &body, &resp);
    assert_kerr(resp.responses.items[0].error_code, 42);
    cr_assert(rn_str_eq_cstr(resp.responses.items[0].error_message, "Unknown resource type 8"));
    cr_assert_eq(rn_log_get_level(), RN_LOG_ERROR);
    rn_log_set_level(saved);
    stop();
}

Test(admin, describe_configs_of_this_broker_tells_set_keys_from_defaults)
{
    start("num.partitions=1\n");
    rn_describe_configs_response_result_t r = describe(4, "1");
    assert_kerr(r.error_code, 0);
    const rn_describe_configs_response_config_t *set = find_config(&r, "num.partitions");
    cr_assert_not_null(set);
    cr_assert_eq(set->config_source, 4, "STATIC_BROKER_CONFIG");
    cr_assert(set->read_only);
    const rn_describe_configs_response_config_t *dflt =
        find_config(&r, "default.replication.factor");
    cr_assert_not_null(dflt, "Debezium reads it");
    cr_assert_eq(dflt->config_source, 5);
    cr_assert(rn_str_eq_cstr(dflt->value, "1"));
    cr_assert_eq(describe(4, "").configs.count, 0, "no cluster-wide dynamic defaults");
    stop();
}

Test(admin, describe_configs_of_this_broker_says_which_keys_are_not_in_effect_yet)
{
    start("log.preallocate=false\n");
    rn_describe_configs_response_result_t r = describe(4, "1");
    assert_kerr(r.error_code, 0);
    const rn_describe_configs_response_config_t *later = find_config(&r, "log.preallocate");
    cr_assert_not_null(later);
    cr_assert(rn_str_eq_cstr(later->value, "false"));
    cr_assert_eq(later->config_source, 4, "set, so STATIC_BROKER_CONFIG");
    cr_assert_eq(later->synonyms.count, 2, "the static value, then Kafka's default");
    cr_assert(rn_str_eq_cstr(later->documentation, "Not in effect yet: preallocate segment files"));
    const rn_describe_configs_response_config_t *now = find_config(&r, "num.partitions");
    cr_assert_not_null(now);
    cr_assert(now->documentation.len > 0);
    cr_assert_neq(memcmp(now->documentation.ptr, "Not in effect", 13), 0);
    stop();
}

static int16_t incremental(const char *topic, const char *key, const char *value, int8_t op)
{
    rn_incremental_alter_configs_request_config_t c;
    rn_incremental_alter_configs_request_config_init(&c);
    c.name = S(key);
    c.value = value ? S(value) : (rn_str_t){ NULL, 0 };
    c.config_operation = op;
    rn_incremental_alter_configs_request_resource_t res;
    rn_incremental_alter_configs_request_resource_init(&res);
    res.resource_type = 2;
    res.resource_name = S(topic);
    res.configs.items = &c;
    res.configs.count = 1;
    rn_incremental_alter_configs_request_t body;
    rn_incremental_alter_configs_request_init(&body);
    body.resources.items = &res;
    body.resources.count = 1;
    rn_incremental_alter_configs_response_t resp;
    call(RN_API_INCREMENTAL_ALTER_CONFIGS, 1, &body, &resp);
    cr_assert_eq(resp.responses.count, 1);
    return resp.responses.items[0].error_code;
}

Test(admin, incremental_alter_configs_then_describe)
{
    start(NULL);
    cr_assert_eq(create_topic("tuned", 1, 1), 0);
    cr_assert_eq(incremental("tuned", "retention.ms", "1000", 0), 0);
    rn_describe_configs_response_result_t r = describe(2, "tuned");
    const rn_describe_configs_response_config_t *c = find_config(&r, "retention.ms");
    cr_assert_not_null(c);
    cr_assert(rn_str_eq_cstr(c->value, "1000"));
    cr_assert_eq(c->config_source, 1);
    cr_assert_eq(incremental("tuned", "retention.ms", NULL, 1), 0, "DELETE");
    r = describe(2, "tuned");
    cr_assert_eq(find_config(&r, "retention.ms")->config_source, 5);
    cr_assert_eq(incremental("tuned", "retention.ms", NULL, 0), 42, "a null value for SET");
    cr_assert_eq(incremental("tuned", "no.such.key", "1", 0), 40, "INVALID_CONFIG");
    cr_assert_eq(incremental("ghost", "retention.ms", "1", 0), 3);
    stop();
}

Test(admin, alter_configs_replaces_every_override_and_refuses_broker_changes)
{
    start(NULL);
    assert_kerr(create_topic_v(4, "replaced", 1, 1, "cleanup.policy", "compact").error_code, 0);
    rn_alter_configs_request_config_t c;
    rn_alter_configs_request_config_init(&c);
    c.name = S("retention.ms");
    c.value = S("5000");
    rn_alter_configs_request_resource_t res[2];
    rn_alter_configs_request_resource_init(&res[0]);
    res[0].resource_type = 2;
    res[0].resource_name = S("replaced");
    res[0].configs.items = &c;
    res[0].configs.count = 1;
    rn_alter_configs_request_resource_init(&res[1]);
    res[1].resource_type = 4;
    res[1].resource_name = S("1");
    res[1].configs.items = &c;
    res[1].configs.count = 1;
    rn_alter_configs_request_t body;
    rn_alter_configs_request_init(&body);
    body.resources.items = res;
    body.resources.count = 2;
    rn_alter_configs_response_t resp;
    call(RN_API_ALTER_CONFIGS, 1, &body, &resp);
    cr_assert_eq(resp.responses.count, 2);
    assert_kerr(resp.responses.items[0].error_code, 0);
    cr_assert_eq(resp.responses.items[1].error_code, 42, "no dynamic broker configs");
    rn_describe_configs_response_result_t r = describe(2, "replaced");
    cr_assert(rn_str_eq_cstr(find_config(&r, "retention.ms")->value, "5000"));
    const rn_describe_configs_response_config_t *policy = find_config(&r, "cleanup.policy");
    cr_assert(rn_str_eq_cstr(policy->value, "delete"), "the override not given is gone");
    cr_assert_eq(policy->config_source, 5);
    stop();
}

Test(admin, alter_configs_validate_only_changes_nothing)
{
    start(NULL);
    cr_assert_eq(create_topic("steady", 1, 1), 0);
    rn_incremental_alter_configs_request_config_t c;
    rn_incremental_alter_configs_request_config_init(&c);
    c.name = S("cleanup.policy");
    c.value = S("compact");
    rn_incremental_alter_configs_request_resource_t res;
    rn_incremental_alter_configs_request_resource_init(&res);
    res.resource_type = 2;
    res.resource_name = S("steady");
    res.configs.items = &c;
    res.configs.count = 1;
    rn_incremental_alter_configs_request_t body;
    rn_incremental_alter_configs_request_init(&body);
    body.resources.items = &res;
    body.resources.count = 1;
    body.validate_only = true;
    rn_incremental_alter_configs_response_t resp;
    call(RN_API_INCREMENTAL_ALTER_CONFIGS, 0, &body, &resp);
    assert_kerr(resp.responses.items[0].error_code, 0);
    rn_describe_configs_response_result_t r = describe(2, "steady");
    cr_assert(rn_str_eq_cstr(find_config(&r, "cleanup.policy")->value, "delete"));
    stop();
}
