/* SPDX-License-Identifier: Apache-2.0 */
/* DescribeCluster and DescribeLogDirs (src/handlers/cluster.c) through rn_handlers_dispatch:
 * one node is the cluster, its only broker and its controller; one log directory holds every
 * partition, with its size. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "handlers/fixture.h"
#include "kerr_assert.h"
#include "records/builder.h"

static void start(void)
{
    fixture_start("cluster", "auto.create.topics.enable=false\n", false);
    rn_topic_spec_t spec = { .name = S("t"), .num_partitions = 2, .replication_factor = 1 };
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
    spec.name = S("u");
    spec.num_partitions = 1;
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
    tb_spec_t s = { .nrecords = 5, .value_len = 100, .base_timestamp = NOW };
    tb_buf_t b = tb_batch(&s);
    fixture_append("t", 1, b.p, b.len, -1);
    free(b.p);
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(cluster_handler, .init = start, .fini = stop);

/* ---- DescribeCluster ---- */

static rn_describe_cluster_response_t describe_cluster(int16_t version, int8_t endpoint_type,
                                                       bool operations)
{
    rn_describe_cluster_request_t body;
    rn_describe_cluster_request_init(&body);
    body.endpoint_type = endpoint_type;
    body.include_cluster_authorized_operations = operations;
    rn_describe_cluster_response_t resp;
    call(RN_API_DESCRIBE_CLUSTER, version, &body, &resp);
    return resp;
}

Test(cluster_handler, describe_cluster_names_this_node_as_broker_and_controller)
{
    for (int16_t v = 0; v <= 2; v++) {
        rn_describe_cluster_response_t r = describe_cluster(v, 1, false);
        assert_kerr(r.error_code, 0, "v0 to v2");
        cr_assert(rn_str_eq_cstr(r.cluster_id, "test-cluster"));
        cr_assert_eq(r.controller_id, 1);
        cr_assert_eq(r.brokers.count, 1);
        cr_assert_eq(r.brokers.items[0].broker_id, 1);
        cr_assert(rn_str_eq_cstr(r.brokers.items[0].host, "127.0.0.1"));
        cr_assert_eq(r.brokers.items[0].port, 9092);
        cr_assert_null(r.brokers.items[0].rack.ptr, "no rack");
        cr_assert_eq(r.cluster_authorized_operations, INT32_MIN, "not asked for");
        cr_assert_eq(r.endpoint_type, 1);
        cr_assert_not(r.brokers.items[0].is_fenced, "v2: this broker serves");
    }
}

Test(cluster_handler, describe_cluster_reports_the_clusters_operations_when_asked)
{
    rn_describe_cluster_response_t r = describe_cluster(1, 1, true);
    /* CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
     * IDEMPOTENT_WRITE 12: everything the cluster resource supports, without an authorizer. */
    cr_assert_eq(r.cluster_authorized_operations, 0x1fa0);
}

/* Kafka's error answer when the endpoint type is not the brokers': endpoint type 1 (what a
 * broker is), an empty cluster id, controller -1, no brokers, no operations. */
static void assert_refused(const rn_describe_cluster_response_t *r, int16_t error,
                           const char *message)
{
    assert_kerr(r->error_code, error);
    cr_assert(rn_str_eq_cstr(r->error_message, message), "%.*s", (int)r->error_message.len,
              r->error_message.ptr);
    cr_assert_eq(r->endpoint_type, 1, "a broker answers as the brokers' endpoint");
    cr_assert(rn_str_eq_cstr(r->cluster_id, ""));
    cr_assert_eq(r->controller_id, -1);
    cr_assert_eq(r->brokers.count, 0);
    cr_assert_eq(r->cluster_authorized_operations, INT32_MIN);
}

Test(cluster_handler, describe_cluster_of_the_controllers_is_a_mismatched_endpoint_type)
{
    for (int16_t v = 1; v <= 2; v++) {
        rn_describe_cluster_response_t r = describe_cluster(v, 2, true);
        assert_refused(&r, RN_KERR_MISMATCHED_ENDPOINT_TYPE,
                       "The request was sent to an endpoint of type BROKER, but we wanted an "
                       "endpoint of type CONTROLLER");
    }
}

Test(cluster_handler, describe_cluster_of_an_unknown_endpoint_type_is_unsupported)
{
    static const int8_t unknown[] = { 0, 3, 5, -1, 127 };
    char message[64];
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        rn_describe_cluster_response_t r = describe_cluster(2, unknown[i], false);
        snprintf(message, sizeof message, "Unsupported endpoint type %d", unknown[i]);
        assert_refused(&r, RN_KERR_UNSUPPORTED_ENDPOINT_TYPE, message);
    }
}

/* ---- DescribeLogDirs ---- */

static rn_describe_log_dirs_response_result_t
describe_dirs(int16_t version, const rn_describe_log_dirs_request_t *body)
{
    rn_describe_log_dirs_response_t resp;
    call(RN_API_DESCRIBE_LOG_DIRS, version, body, &resp);
    cr_assert_eq(resp.results.count, 1, "one log directory");
    return resp.results.items[0];
}

static const rn_describe_log_dirs_response_partition_t *
partition_of(const rn_describe_log_dirs_response_result_t *r, const char *topic, int32_t index)
{
    for (int32_t t = 0; t < r->topics.count; t++) {
        if (!rn_str_eq_cstr(r->topics.items[t].name, topic))
            continue;
        for (int32_t i = 0; i < r->topics.items[t].partitions.count; i++)
            if (r->topics.items[t].partitions.items[i].partition_index == index)
                return &r->topics.items[t].partitions.items[i];
    }
    return NULL;
}

Test(cluster_handler, describe_log_dirs_lists_every_partition_with_its_size)
{
    rn_describe_log_dirs_request_t body;
    rn_describe_log_dirs_request_init(&body);
    body.topics.count = -1; /* all */
    for (int16_t v = 0; v <= 5; v++) {
        rn_describe_log_dirs_response_result_t r = describe_dirs(v, &body);
        assert_kerr(r.error_code, 0);
        char abs[PATH_MAX];
        cr_assert_not_null(realpath(fx.dir, abs));
        cr_assert(rn_str_eq_cstr(r.log_dir, abs), "the absolute path");
        cr_assert_eq(r.topics.count, 2, "t and u");
        const rn_describe_log_dirs_response_partition_t *p = partition_of(&r, "t", 1);
        cr_assert_not_null(p);
        cr_assert_gt(p->partition_size, 0, "holds a batch");
        cr_assert_eq(p->offset_lag, 0);
        cr_assert_not(p->is_future_key);
        cr_assert_eq(partition_of(&r, "t", 0)->partition_size, 0);
        cr_assert_not_null(partition_of(&r, "u", 0));
        cr_assert_not(r.is_cordoned, "v5: never cordoned");
        if (v >= 4) {
            cr_assert_gt(r.total_bytes, 0);
            cr_assert_geq(r.total_bytes, r.usable_bytes);
        }
    }
}

Test(cluster_handler, describe_log_dirs_of_named_partitions_leaves_out_what_is_not_there)
{
    int32_t want_t[] = { 1, 7 };
    int32_t want_none[] = { 0 };
    rn_describe_log_dirs_request_topic_t topics[2];
    rn_describe_log_dirs_request_topic_init(&topics[0]);
    rn_describe_log_dirs_request_topic_init(&topics[1]);
    topics[0].topic = S("t");
    topics[0].partitions.items = want_t;
    topics[0].partitions.count = 2;
    topics[1].topic = S("missing");
    topics[1].partitions.items = want_none;
    topics[1].partitions.count = 1;
    rn_describe_log_dirs_request_t body;
    rn_describe_log_dirs_request_init(&body);
    body.topics.items = topics;
    body.topics.count = 2;
    rn_describe_log_dirs_response_result_t r = describe_dirs(4, &body);
    cr_assert_eq(r.topics.count, 1);
    cr_assert_eq(r.topics.items[0].partitions.count, 1, "t-7 does not exist");
    cr_assert_not_null(partition_of(&r, "t", 1));
}
