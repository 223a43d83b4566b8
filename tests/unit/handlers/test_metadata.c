/* SPDX-License-Identifier: Apache-2.0 */
/* Metadata (src/handlers/metadata.c) through rn_handlers_dispatch, against a real topic registry
 * in a temporary data directory: what Kafka 4.4 answers, field by field, for the topics a
 * request names or for every topic, and the authorized operations (KIP-430) when asked. */
#include "handlers/fixture.h"
#include "kerr_assert.h"

/* Every operation a topic supports (READ 3 to ALTER_CONFIGS 11, without CLUSTER_ACTION 9) and
 * the cluster supports (CREATE 5, ALTER 7 to IDEMPOTENT_WRITE 12), as Kafka 4.4 answers them
 * without an authorizer. */
#define TOPIC_OPERATIONS 3576
#define CLUSTER_OPERATIONS 8096

static void create(const char *name, int32_t partitions)
{
    rn_topic_spec_t spec = { .name = S(name),
                             .num_partitions = partitions,
                             .replication_factor = 1 };
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
}

static void start(void)
{
    fixture_start("metadata", "auto.create.topics.enable=true\nnum.partitions=2\n", false);
    create("t", 3);
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(metadata_handler, .init = start, .fini = stop);

typedef struct ask {
    const char *const *names; /* NULL: every topic (v0: an empty array, v1+: null) */
    int n;
    bool auto_create;
    bool topic_operations;
    bool cluster_operations;
} ask_t;

static rn_metadata_response_t metadata(int16_t version, const ask_t *a)
{
    rn_metadata_request_topic_t want[8];
    cr_assert_leq(a->n, 8);
    for (int i = 0; i < a->n; i++) {
        rn_metadata_request_topic_init(&want[i]);
        want[i].name = S(a->names[i]);
    }
    rn_metadata_request_t body;
    rn_metadata_request_init(&body);
    body.topics.items = want;
    body.topics.count = a->names != NULL ? a->n : version == 0 ? 0 : -1;
    body.allow_auto_topic_creation = a->auto_create;
    body.include_topic_authorized_operations = a->topic_operations;
    body.include_cluster_authorized_operations = a->cluster_operations;
    rn_metadata_response_t resp;
    call(RN_API_METADATA, version, &body, &resp);
    return resp;
}

static const rn_metadata_response_topic_t *topic_named(const rn_metadata_response_t *r,
                                                       const char *name)
{
    for (int32_t i = 0; i < r->topics.count; i++)
        if (rn_str_eq_cstr(r->topics.items[i].name, name))
            return &r->topics.items[i];
    return NULL;
}

/* ---- authorized operations (KIP-430) ---- */

Test(metadata_handler, asked_operations_are_every_operation_of_each_topic_and_the_cluster)
{
    static const char *const names[] = { "t", "missing", "bad name!" };
    for (int16_t v = 8; v <= 13; v++) {
        ask_t a = { names, 3, .topic_operations = true, .cluster_operations = true };
        rn_metadata_response_t r = metadata(v, &a);
        cr_assert_eq(r.topics.count, 3, "v%d", v);
        for (int32_t i = 0; i < r.topics.count; i++)
            cr_assert_eq(r.topics.items[i].topic_authorized_operations, TOPIC_OPERATIONS,
                         "v%d topic %d, unknown or not", v, i);
        if (v <= 10)
            cr_assert_eq(r.cluster_authorized_operations, CLUSTER_OPERATIONS, "v%d", v);
    }
}

Test(metadata_handler, operations_not_asked_for_are_int32_min)
{
    static const char *const names[] = { "t" };
    for (int16_t v = 8; v <= 13; v++) {
        ask_t a = { names, 1 };
        rn_metadata_response_t r = metadata(v, &a);
        cr_assert_eq(r.topics.items[0].topic_authorized_operations, INT32_MIN, "v%d", v);
        if (v <= 10)
            cr_assert_eq(r.cluster_authorized_operations, INT32_MIN, "v%d", v);
    }
    ask_t all = { NULL, 0, .cluster_operations = true };
    rn_metadata_response_t r = metadata(9, &all);
    cr_assert_eq(topic_named(&r, "t")->topic_authorized_operations, INT32_MIN);
    cr_assert_eq(r.cluster_authorized_operations, CLUSTER_OPERATIONS, "asked separately");
}

/* ---- every topic ---- */

Test(metadata_handler, every_topic_includes_the_internal_ones)
{
    /* Kafka lists __consumer_offsets (once created) with is_internal set; clients that hide
     * internal topics (the Java Admin's listTopics, kafka-python's consumer) do so themselves. */
    rn_topic_spec_t spec = { .name = S("__consumer_offsets"),
                             .num_partitions = 1,
                             .replication_factor = 1,
                             .internal = true };
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
    for (int16_t v = 0; v <= 13; v++) {
        ask_t all = { NULL, 0 };
        rn_metadata_response_t r = metadata(v, &all);
        cr_assert_eq(r.topics.count, 2, "v%d", v);
        const rn_metadata_response_topic_t *t = topic_named(&r, "__consumer_offsets");
        cr_assert_not_null(t, "v%d", v);
        assert_kerr(t->error_code, 0);
        cr_assert_eq(t->partitions.count, 1);
        if (v >= 1) { /* is_internal is v1+ */
            cr_assert(t->is_internal, "v%d", v);
            cr_assert_not(topic_named(&r, "t")->is_internal);
        }
    }
}

/* ---- named topics ---- */

Test(metadata_handler, an_illegal_name_is_invalid_topic_exception_with_or_without_auto_creation)
{
    static char too_long[251];
    memset(too_long, 'x', 250);
    static const char *const names[] = { "bad name!", too_long, ".", "..", "" };
    for (int16_t v = 0; v <= 13; v++) {
        for (int create = 0; create <= 1; create++) {
            ask_t a = { names, 5, .auto_create = create };
            rn_metadata_response_t r = metadata(v, &a);
            cr_assert_eq(r.topics.count, 5, "v%d", v);
            for (int32_t i = 0; i < 5; i++) {
                assert_kerr(r.topics.items[i].error_code, RN_KERR_INVALID_TOPIC_EXCEPTION,
                            "an illegal name");
                cr_assert_eq(r.topics.items[i].partitions.count, 0);
            }
        }
    }
    cr_assert_eq(fx.executor.queued, 0, "nothing to create, so nothing for the thread pool");
}

Test(metadata_handler, the_longest_legal_name_is_unknown_or_created)
{
    static char longest[250];
    memset(longest, 'y', 249);
    static const char *const names[] = { longest };
    ask_t a = { names, 1 };
    rn_metadata_response_t r = metadata(4, &a);
    assert_kerr(r.topics.items[0].error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    a.auto_create = true;
    r = metadata(4, &a);
    assert_kerr(r.topics.items[0].error_code, 0);
    cr_assert_eq(r.topics.items[0].partitions.count, 2, "num.partitions");
}

Test(metadata_handler, a_topic_named_twice_is_answered_once)
{
    create("u", 1);
    static const char *const names[] = { "t",         "u", "t",       "missing",
                                         "bad name!", "u", "missing", "bad name!" };
    for (int16_t v = 0; v <= 13; v++) {
        ask_t a = { names, 8 };
        rn_metadata_response_t r = metadata(v, &a);
        cr_assert_eq(r.topics.count, 4, "v%d: each name once, in the order first asked", v);
        static const char *const want[] = { "t", "u", "missing", "bad name!" };
        for (int i = 0; i < 4; i++)
            cr_assert(rn_str_eq_cstr(r.topics.items[i].name, want[i]), "v%d: %s", v, want[i]);
    }
}

Test(metadata_handler, a_topic_named_twice_is_auto_created_and_answered_once)
{
    static const char *const names[] = { "new", "new" };
    ask_t a = { names, 2, .auto_create = true };
    rn_metadata_response_t r = metadata(4, &a);
    cr_assert_eq(r.topics.count, 1);
    assert_kerr(r.topics.items[0].error_code, 0);
    cr_assert(rn_str_eq_cstr(r.topics.items[0].name, "new"));
}

/* ---- topic ids ---- */

static rn_uuid_t id_of(const char *name)
{
    rn_topic_t *topic = rn_topics_get(fx.topics, S(name));
    cr_assert_not_null(topic);
    rn_uuid_t id = topic->id;
    rn_topic_unref(topic);
    return id;
}

Test(metadata_handler, v10_and_v11_refuse_topic_ids_and_null_names_as_kafka_does)
{
    /* Ids are looked up from v12 (KIP-516). Kafka 4.4 answers a v10-v11 request with an id or
     * a null name in its error shape: every entry INVALID_REQUEST, no brokers, no cluster id,
     * controller -1, no operations even when asked. */
    rn_metadata_request_topic_t want[3];
    for (int i = 0; i < 3; i++)
        rn_metadata_request_topic_init(&want[i]);
    want[0].topic_id = id_of("t"); /* name null */
    want[1].name = S("t");
    memset(want[1].topic_id.b, 0xab, 16);
    want[2].name = S("t"); /* zero id: refused with the others */
    rn_metadata_request_t body;
    rn_metadata_request_init(&body);
    body.topics.items = want;
    body.topics.count = 3;
    body.allow_auto_topic_creation = true;
    body.include_topic_authorized_operations = true;
    body.include_cluster_authorized_operations = true;
    for (int16_t v = 10; v <= 11; v++) {
        for (int32_t n = 1; n <= 3; n++) {
            body.topics.count = n;
            rn_metadata_response_t r;
            call(RN_API_METADATA, v, &body, &r);
            cr_assert_eq(r.brokers.count, 0, "v%d", v);
            cr_assert_null(r.cluster_id.ptr);
            cr_assert_eq(r.controller_id, -1);
            if (v == 10)
                cr_assert_eq(r.cluster_authorized_operations, INT32_MIN);
            cr_assert_eq(r.topics.count, n);
            for (int32_t i = 0; i < n; i++) {
                const rn_metadata_response_topic_t *t = &r.topics.items[i];
                assert_kerr(t->error_code, RN_KERR_INVALID_REQUEST);
                cr_assert(rn_str_eq_cstr(t->name, i == 0 ? "" : "t"), "v%d entry %d", v, i);
                cr_assert_eq(memcmp(t->topic_id.b, want[i].topic_id.b, 16), 0);
                cr_assert_eq(t->partitions.count, 0);
                cr_assert_eq(t->topic_authorized_operations, INT32_MIN);
            }
        }
    }
    /* A null name alone is refused too. */
    rn_metadata_request_topic_init(&want[0]);
    body.topics.count = 1;
    rn_metadata_response_t r;
    call(RN_API_METADATA, 10, &body, &r);
    assert_kerr(r.topics.items[0].error_code, RN_KERR_INVALID_REQUEST);
    cr_assert_eq(fx.executor.queued, 0, "nothing created");
}

Test(metadata_handler, v10_and_v11_by_name_with_zero_ids_are_answered)
{
    static const char *const names[] = { "t" };
    for (int16_t v = 10; v <= 11; v++) {
        ask_t a = { names, 1 };
        rn_metadata_response_t r = metadata(v, &a);
        assert_kerr(r.topics.items[0].error_code, 0);
        cr_assert_eq(r.controller_id, 1);
        cr_assert_eq(r.brokers.count, 1);
        rn_uuid_t id = id_of("t");
        cr_assert_eq(memcmp(r.topics.items[0].topic_id.b, id.b, 16), 0, "the topic's id");
    }
}
