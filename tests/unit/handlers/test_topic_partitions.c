/* SPDX-License-Identifier: Apache-2.0 */
/* DescribeTopicPartitions (src/handlers/topic_partitions.c) through rn_handlers_dispatch: topics
 * in name order, partitions in index order, paged by the partition limit (at least one) with a
 * cursor, unknown names answered UNKNOWN_TOPIC_OR_PARTITION (but left out of an all-topics
 * answer) and illegal ones INVALID_TOPIC_EXCEPTION, and a cursor Kafka refuses (a negative
 * partition, a topic the request does not name) answered with Kafka's error answer. */
#include "handlers/fixture.h"
#include "kerr_assert.h"

static void start(void)
{
    fixture_start("topic-partitions", "auto.create.topics.enable=false\n", false);
    const char *names[] = { "b", "a", "c" };
    int32_t counts[] = { 3, 2, 1 };
    for (int i = 0; i < 3; i++) {
        rn_topic_spec_t spec = { .name = S(names[i]),
                                 .num_partitions = counts[i],
                                 .replication_factor = 1 };
        assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
    }
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(topic_partitions_handler, .init = start, .fini = stop);

/* READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS
 * 11: every operation a topic supports, which Kafka 4.4 answers (3576) without an authorizer. */
#define TOPIC_OPERATIONS 3576

typedef struct cursor {
    const char *topic;
    int32_t partition;
} cursor_t;

static rn_describe_topic_partitions_response_t describe(const char *const *names, int n,
                                                        int32_t limit, const cursor_t *from)
{
    rn_describe_topic_partitions_request_topic_request_t topics[4];
    cr_assert_leq(n, 4);
    for (int i = 0; i < n; i++) {
        rn_describe_topic_partitions_request_topic_request_init(&topics[i]);
        topics[i].name = S(names[i]);
    }
    rn_describe_topic_partitions_request_cursor_t cursor;
    rn_describe_topic_partitions_request_cursor_init(&cursor);
    rn_describe_topic_partitions_request_t body;
    rn_describe_topic_partitions_request_init(&body);
    body.topics.items = topics;
    body.topics.count = n;
    body.response_partition_limit = limit;
    if (from != NULL) {
        cursor.topic_name = S(from->topic);
        cursor.partition_index = from->partition;
        body.cursor = &cursor;
    }
    rn_describe_topic_partitions_response_t resp;
    call(RN_API_DESCRIBE_TOPIC_PARTITIONS, 0, &body, &resp);
    return resp;
}

static void assert_topic(const rn_describe_topic_partitions_response_t *r, int i, const char *name,
                         int32_t first, int32_t count)
{
    cr_assert_gt(r->topics.count, i);
    const rn_describe_topic_partitions_response_topic_t *t = &r->topics.items[i];
    cr_assert(rn_str_eq_cstr(t->name, name), "topic %d is %s", i, name);
    assert_kerr(t->error_code, 0);
    cr_assert_eq(t->topic_authorized_operations, TOPIC_OPERATIONS, "%s", name);
    cr_assert_eq(t->partitions.count, count, "%s: %d partitions", name, count);
    for (int32_t k = 0; k < count; k++) {
        const rn_describe_topic_partitions_response_partition_t *p = &t->partitions.items[k];
        cr_assert_eq(p->partition_index, first + k);
        cr_assert_eq(p->leader_id, 1);
        cr_assert_eq(p->leader_epoch, 0);
        cr_assert_eq(p->replica_nodes.count, 1);
        cr_assert_eq(p->isr_nodes.count, 1);
        cr_assert_eq(p->eligible_leader_replicas.count, 0, "empty, not null");
    }
}

Test(topic_partitions_handler, named_topics_come_back_in_name_order_with_every_partition)
{
    const char *names[] = { "c", "a", "b", "a" };
    rn_describe_topic_partitions_response_t r = describe(names, 4, 2000, NULL);
    cr_assert_eq(r.topics.count, 3, "a repeated name is answered once");
    assert_topic(&r, 0, "a", 0, 2);
    assert_topic(&r, 1, "b", 0, 3);
    assert_topic(&r, 2, "c", 0, 1);
    cr_assert_null(r.next_cursor);
}

Test(topic_partitions_handler, the_partition_limit_pages_with_a_cursor)
{
    const char *names[] = { "a", "b", "c" };
    rn_describe_topic_partitions_response_t r = describe(names, 3, 3, NULL);
    cr_assert_eq(r.topics.count, 2);
    assert_topic(&r, 0, "a", 0, 2);
    assert_topic(&r, 1, "b", 0, 1);
    cr_assert_not_null(r.next_cursor);
    cr_assert(rn_str_eq_cstr(r.next_cursor->topic_name, "b"));
    cr_assert_eq(r.next_cursor->partition_index, 1);
    cursor_t from = { "b", 1 };
    r = describe(names, 3, 3, &from);
    cr_assert_eq(r.topics.count, 2);
    assert_topic(&r, 0, "b", 1, 2);
    assert_topic(&r, 1, "c", 0, 1);
    cr_assert_null(r.next_cursor, "everything was answered");
    /* A limit that ends exactly at a topic's end points the cursor at the next topic. */
    r = describe(names, 3, 2, NULL);
    cr_assert_eq(r.topics.count, 1);
    cr_assert(rn_str_eq_cstr(r.next_cursor->topic_name, "b"));
    cr_assert_eq(r.next_cursor->partition_index, 0);
}

Test(topic_partitions_handler, every_topic_when_none_is_named)
{
    rn_describe_topic_partitions_response_t r = describe(NULL, 0, 2000, NULL);
    cr_assert_eq(r.topics.count, 3);
    assert_topic(&r, 0, "a", 0, 2);
    assert_topic(&r, 2, "c", 0, 1);
}

Test(topic_partitions_handler, unknown_names_and_foreign_cursors_are_errors)
{
    const char *names[] = { "a", "zz" };
    rn_describe_topic_partitions_response_t r = describe(names, 2, 2000, NULL);
    cr_assert_eq(r.topics.count, 2);
    assert_kerr(r.topics.items[1].error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(r.topics.items[1].partitions.count, 0);
    cr_assert_eq(r.topics.items[1].topic_authorized_operations, TOPIC_OPERATIONS,
                 "an unknown topic's operations too, as Kafka answers");
    cursor_t from = { "b", 0 };
    r = describe(names, 2, 2000, &from);
    cr_assert_gt(r.topics.count, 0);
    for (int32_t i = 0; i < r.topics.count; i++) {
        assert_kerr(r.topics.items[i].error_code, RN_KERR_INVALID_REQUEST);
        cr_assert_eq(r.topics.items[i].topic_authorized_operations, INT32_MIN,
                     "a refused request answers no operations");
    }
}

Test(topic_partitions_handler, an_illegal_name_is_invalid_topic_exception)
{
    const char *names[] = { "bad name!", "..", "zz" };
    rn_describe_topic_partitions_response_t r = describe(names, 3, 2000, NULL);
    cr_assert_eq(r.topics.count, 3);
    assert_kerr(r.topics.items[0].error_code, RN_KERR_INVALID_TOPIC_EXCEPTION,
                "\"..\" sorts first");
    assert_kerr(r.topics.items[1].error_code, RN_KERR_INVALID_TOPIC_EXCEPTION, "bad name!");
    assert_kerr(r.topics.items[2].error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, "zz");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(r.topics.items[i].topic_authorized_operations, TOPIC_OPERATIONS);
}

Test(topic_partitions_handler, a_limit_below_one_answers_one_partition)
{
    /* Kafka 4.4 answers limits 0 and -1 as 1, so that paging moves on. */
    const char *names[] = { "b", "c" };
    static const int32_t limits[] = { 0, -1, INT32_MIN };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        rn_describe_topic_partitions_response_t r = describe(names, 2, limits[i], NULL);
        cr_assert_eq(r.topics.count, 1, "limit %d", limits[i]);
        assert_topic(&r, 0, "b", 0, 1);
        cr_assert_not_null(r.next_cursor);
        cr_assert(rn_str_eq_cstr(r.next_cursor->topic_name, "b"));
        cr_assert_eq(r.next_cursor->partition_index, 1);
    }
    /* An unknown topic takes no room: the one partition still comes. */
    const char *with_missing[] = { "a0", "c" };
    rn_describe_topic_partitions_response_t r = describe(with_missing, 2, 0, NULL);
    cr_assert_eq(r.topics.count, 2);
    assert_kerr(r.topics.items[0].error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_topic(&r, 1, "c", 0, 1);
    cr_assert_null(r.next_cursor);
}

Test(topic_partitions_handler, a_refused_cursor_gets_kafkas_error_answer)
{
    /* Every topic of the request, in its order, repeats included, INVALID_REQUEST, no
     * operations, no cursor. */
    const char *names[] = { "c", "a", "c" };
    cursor_t negative = { "a", -1 };
    rn_describe_topic_partitions_response_t r = describe(names, 3, 2000, &negative);
    cr_assert_eq(r.topics.count, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert(rn_str_eq_cstr(r.topics.items[i].name, names[i]), "entry %d", i);
        assert_kerr(r.topics.items[i].error_code, RN_KERR_INVALID_REQUEST);
        cr_assert_eq(r.topics.items[i].topic_authorized_operations, INT32_MIN);
        cr_assert_eq(r.topics.items[i].partitions.count, 0);
    }
    cr_assert_null(r.next_cursor);
    /* A cursor past every name asked for is refused too, not answered empty. */
    const char *one[] = { "a" };
    cursor_t later = { "zz", 0 };
    r = describe(one, 1, 2000, &later);
    cr_assert_eq(r.topics.count, 1);
    assert_kerr(r.topics.items[0].error_code, RN_KERR_INVALID_REQUEST);
    /* Every topic with a negative partition: nothing at all. */
    r = describe(NULL, 0, 2000, &negative);
    cr_assert_eq(r.topics.count, 0);
    cr_assert_null(r.next_cursor);
    /* Every topic from a cursor on a topic that is not there: from the next name on. */
    cursor_t between = { "a5", 0 };
    r = describe(NULL, 0, 2000, &between);
    cr_assert_eq(r.topics.count, 2);
    assert_topic(&r, 0, "b", 0, 3);
}
