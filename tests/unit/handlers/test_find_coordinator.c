/* SPDX-License-Identifier: Apache-2.0 */
/* FindCoordinator (src/handlers/find_coordinator.c) driven through rn_handlers_dispatch with
 * real frames, against a real coordinator over a topic registry in a temporary data directory:
 * on one node this node coordinates every group, answered in the v0-v3 shape (one node) and the
 * v4 shape (one entry per key, KIP-699); the first group lookup creates __consumer_offsets, the
 * first transactional one __transaction_state. A broker started without a coordinator
 * answers COORDINATOR_NOT_AVAILABLE (15) to every lookup. */
#include "handlers/fixture.h"
#include "kerr_assert.h"

enum { KEY_GROUP = 0, KEY_TRANSACTION = 1 };

static void start(void)
{
    fixture_start("find-coordinator", "offsets.topic.num.partitions=3\n", true);
}

static void start_without_coordinator(void)
{
    fixture_start("find-coordinator-none", NULL, false);
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(find_coordinator_handler, .init = start, .fini = stop);
TestSuite(find_coordinator_handler_without_coordinator, .init = start_without_coordinator,
          .fini = stop);

/* ---- request builders ---- */

/* v0-v3: one key. v0 has no key type (always a group). */
static rn_find_coordinator_response_t find_v(int16_t version, int8_t key_type, const char *key)
{
    rn_find_coordinator_request_t body;
    rn_find_coordinator_request_init(&body);
    body.key = S(key);
    body.key_type = key_type;
    rn_find_coordinator_response_t resp;
    call(RN_API_FIND_COORDINATOR, version, &body, &resp);
    return resp;
}

/* v4: `n` keys of one type; asserts one answer per key, in request order. */
static rn_find_coordinator_response_t find_keys(int8_t key_type, const char *const *keys, int n)
{
    rn_str_t strs[4];
    cr_assert_leq(n, 4);
    for (int i = 0; i < n; i++)
        strs[i] = S(keys[i]);
    rn_find_coordinator_request_t body;
    rn_find_coordinator_request_init(&body);
    body.key_type = key_type;
    body.coordinator_keys.items = strs;
    body.coordinator_keys.count = n;
    rn_find_coordinator_response_t resp;
    call(RN_API_FIND_COORDINATOR, 4, &body, &resp);
    cr_assert_eq(resp.coordinators.count, n);
    for (int i = 0; i < n; i++)
        cr_assert(rn_str_eq_cstr(resp.coordinators.items[i].key, keys[i]));
    return resp;
}

static bool offsets_topic_exists(void)
{
    rn_topic_t *t = rn_topics_get(fx.topics, S("__consumer_offsets"));
    rn_topic_unref(t);
    return t != NULL;
}

/* The v0-v3 answer: this node (node.id 1 at the fixture's advertised 127.0.0.1:9092). */
static void assert_this_node(const rn_find_coordinator_response_t *r, int16_t version)
{
    cr_assert_eq(r->error_code, 0, "v%d", version);
    cr_assert_eq(r->node_id, 1);
    cr_assert(rn_str_eq_cstr(r->host, "127.0.0.1"));
    cr_assert_eq(r->port, 9092);
}

/* The v0-v3 answer for an error: Kafka's Node.noNode(). */
static void assert_no_node(const rn_find_coordinator_response_t *r, int16_t version, int16_t error)
{
    cr_assert_eq(r->error_code, error, "v%d", version);
    cr_assert_eq(r->node_id, -1);
    cr_assert(rn_str_eq_cstr(r->host, ""));
    cr_assert_eq(r->port, -1);
}

/* ---- groups ---- */

Test(find_coordinator_handler, a_group_is_coordinated_by_this_node_at_v0_to_v3)
{
    for (int16_t v = 0; v <= 3; v++) {
        rn_find_coordinator_response_t r = find_v(v, KEY_GROUP, "orders-app");
        assert_this_node(&r, v);
    }
}

Test(find_coordinator_handler, v4_answers_each_key_with_this_node)
{
    static const char *const keys[] = { "a", "b", "" };
    rn_find_coordinator_response_t r = find_keys(KEY_GROUP, keys, 3);
    for (int i = 0; i < 3; i++) {
        const rn_find_coordinator_response_coordinator_t *c = &r.coordinators.items[i];
        cr_assert_eq(c->error_code, 0, "key %d", i);
        cr_assert_eq(c->node_id, 1);
        cr_assert(rn_str_eq_cstr(c->host, "127.0.0.1"));
        cr_assert_eq(c->port, 9092);
    }
    r = find_keys(KEY_GROUP, keys, 0);
    cr_assert_eq(r.coordinators.count, 0, "no keys, no answers");
}

Test(find_coordinator_handler, the_first_group_lookup_creates_the_offsets_topic)
{
    /* As Kafka does, lazily, so an empty broker starts without it. */
    cr_assert_not(offsets_topic_exists());
    rn_find_coordinator_response_t r = find_v(3, KEY_GROUP, "g");
    assert_this_node(&r, 3);
    rn_topic_t *t = rn_topics_get(fx.topics, S("__consumer_offsets"));
    cr_assert_not_null(t);
    cr_assert(t->internal);
    cr_assert_eq(atomic_load(&t->npartitions), 3, "offsets.topic.num.partitions");
    rn_topic_config_t cfg;
    rn_topic_get_config(fx.topics, t, &cfg);
    cr_assert_str_eq(cfg.cleanup_policy, "compact");
    rn_topic_unref(t);
    /* Later lookups find it there. */
    r = find_v(1, KEY_GROUP, "h");
    assert_this_node(&r, 1);
}

Test(find_coordinator_handler, the_advertised_port_is_read_when_answering)
{
    /* The listener publishes its port once bound (port 0 picks one at start). */
    atomic_store(&fx.info.advertised_port, 19092);
    rn_find_coordinator_response_t r = find_v(2, KEY_GROUP, "g");
    assert_kerr(r.error_code, 0);
    cr_assert_eq(r.port, 19092);
    static const char *const keys[] = { "g" };
    r = find_keys(KEY_GROUP, keys, 1);
    cr_assert_eq(r.coordinators.items[0].port, 19092);
}

Test(find_coordinator_handler, a_failed_creation_of_the_offsets_topic_is_coordinator_not_available)
{
    /* "__consumer.offsets" collides with "__consumer_offsets" ('.' and '_' are confused in
     * metric names), so the coordinator cannot create its topic (and logs an ERROR line for
     * each attempt). */
    rn_topic_spec_t spec = { .name = S("__consumer.offsets"),
                             .num_partitions = 1,
                             .replication_factor = 1 };
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
    rn_find_coordinator_response_t r = find_v(3, KEY_GROUP, "g");
    assert_no_node(&r, 3, RN_KERR_COORDINATOR_NOT_AVAILABLE);
    static const char *const keys[] = { "g", "h" };
    r = find_keys(KEY_GROUP, keys, 2);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(r.coordinators.items[i].error_code, RN_KERR_COORDINATOR_NOT_AVAILABLE);
        cr_assert_eq(r.coordinators.items[i].node_id, -1);
    }
    cr_assert_not(offsets_topic_exists());
}

/* ---- other key types ---- */

static bool txn_topic_exists(void)
{
    rn_topic_t *t = rn_topics_get(fx.topics, S("__transaction_state"));
    rn_topic_unref(t);
    return t != NULL;
}

Test(find_coordinator_handler, this_node_coordinates_transactions_and_creates_their_topic)
{
    cr_assert_not(txn_topic_exists(), "created by the first lookup, not at start");
    for (int16_t v = 1; v <= 3; v++) {
        rn_find_coordinator_response_t r = find_v(v, KEY_TRANSACTION, "txn-1");
        assert_this_node(&r, v);
    }
    cr_assert(txn_topic_exists());
    cr_assert_not(offsets_topic_exists(), "only a group lookup creates the offsets topic");
    /* Any key, the empty one too, as Kafka 4.4 answers. */
    static const char *const keys[] = { "txn-1", "" };
    rn_find_coordinator_response_t r = find_keys(KEY_TRANSACTION, keys, 2);
    for (int i = 0; i < 2; i++) {
        assert_kerr(r.coordinators.items[i].error_code, RN_KERR_NONE);
        cr_assert_eq(r.coordinators.items[i].node_id, 1);
        cr_assert_eq(r.coordinators.items[i].port, 9092);
    }
    rn_topic_t *t = rn_topics_get(fx.topics, S("__transaction_state"));
    cr_assert(t->internal);
    cr_assert_eq(atomic_load(&t->npartitions), 50, "transaction.state.log.num.partitions");
    rn_topic_unref(t);
}

Test(find_coordinator_handler, an_unknown_key_type_is_invalid_request)
{
    /* Kafka's CoordinatorType.forId refuses it (2 is SHARE only from Kafka 4.0, KIP-932). */
    static const int8_t unknown[] = { 2, 7, -1 };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        for (int16_t v = 1; v <= 3; v++) {
            rn_find_coordinator_response_t r = find_v(v, unknown[i], "g");
            assert_no_node(&r, v, RN_KERR_INVALID_REQUEST);
        }
        static const char *const keys[] = { "g" };
        rn_find_coordinator_response_t r = find_keys(unknown[i], keys, 1);
        assert_kerr(r.coordinators.items[0].error_code, RN_KERR_INVALID_REQUEST);
        cr_assert_eq(r.coordinators.items[0].node_id, -1);
    }
    cr_assert_not(offsets_topic_exists());
}

/* ---- without a coordinator ---- */

Test(find_coordinator_handler_without_coordinator, every_group_lookup_is_coordinator_not_available)
{
    for (int16_t v = 0; v <= 3; v++) {
        rn_find_coordinator_response_t r = find_v(v, KEY_GROUP, "g");
        assert_no_node(&r, v, RN_KERR_COORDINATOR_NOT_AVAILABLE);
    }
    static const char *const keys[] = { "g", "h" };
    rn_find_coordinator_response_t r = find_keys(KEY_GROUP, keys, 2);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(r.coordinators.items[i].error_code, RN_KERR_COORDINATOR_NOT_AVAILABLE);
    cr_assert_not(offsets_topic_exists());
    /* An unknown key type is still the request's fault. */
    r = find_keys(9, keys, 1);
    assert_kerr(r.coordinators.items[0].error_code, RN_KERR_INVALID_REQUEST);
}

/* ---- error messages, as Kafka 4.4 writes them ---- */

static const char invalid_request_text[] =
    "This most likely occurs because of a request being malformed by the client library or the "
    "message was sent to an incompatible broker. See the broker logs for more details.";

Test(find_coordinator_handler, v1_to_v3_carry_the_errors_text_and_none_for_success)
{
    for (int16_t v = 1; v <= 3; v++) {
        rn_find_coordinator_response_t r = find_v(v, KEY_GROUP, "g");
        cr_assert(rn_str_eq_cstr(r.error_message, "NONE"), "v%d: Kafka's Errors.NONE.message()", v);
        r = find_v(v, KEY_TRANSACTION, "txn");
        cr_assert(rn_str_eq_cstr(r.error_message, "NONE"), "v%d", v);
        static const int8_t invalid[] = { 2, 7 };
        for (size_t i = 0; i < 2; i++) {
            r = find_v(v, invalid[i], "g");
            cr_assert(rn_str_eq_cstr(r.error_message, invalid_request_text), "v%d type %d", v,
                      invalid[i]);
        }
    }
}

Test(find_coordinator_handler, v4_and_v5_carry_an_empty_message_but_for_an_unknown_key_type)
{
    static const char *const keys[] = { "g", "" };
    for (int16_t v = 4; v <= 5; v++) {
        /* A group and a transaction (found) and a share group (refused) are key types Kafka
         * knows: an empty message per key. */
        static const int8_t known[] = { KEY_GROUP, KEY_TRANSACTION, 2 };
        for (size_t i = 0; i < 3; i++) {
            rn_str_t strs[] = { S(keys[0]), S(keys[1]) };
            rn_find_coordinator_request_t body;
            rn_find_coordinator_request_init(&body);
            body.key_type = known[i];
            body.coordinator_keys.items = strs;
            body.coordinator_keys.count = 2;
            rn_find_coordinator_response_t r;
            call(RN_API_FIND_COORDINATOR, v, &body, &r);
            for (int k = 0; k < 2; k++)
                cr_assert(rn_str_eq_cstr(r.coordinators.items[k].error_message, ""),
                          "v%d type %d key %d", v, known[i], k);
        }
        rn_find_coordinator_response_t r = find_keys(7, keys, 2);
        for (int k = 0; k < 2; k++) {
            assert_kerr(r.coordinators.items[k].error_code, RN_KERR_INVALID_REQUEST);
            cr_assert(rn_str_eq_cstr(r.coordinators.items[k].error_message, invalid_request_text));
        }
    }
}
