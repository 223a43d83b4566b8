/* SPDX-License-Identifier: Apache-2.0 */
/* DescribeCluster (key 60) and DescribeLogDirs (key 35): what Kafka's Admin asks of the cluster
 * and its disks (describeCluster, describeLogDirs; Kafka Connect and Debezium call the first).
 * One node is the cluster, its only broker and its controller; it has one log directory. Both
 * only read, so they answer on the loop (statvfs of one directory is a few microseconds). A
 * DescribeCluster for another endpoint type than the brokers' gets Kafka 4.4's error answer. */
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "config/config.h"
#include "handlers/acl.h"
#include "handlers/admin.h"
#include "handlers/handlers.h"
#include "log/log.h"
#include "topics/topics.h"

enum { ENDPOINT_BROKERS = 1, ENDPOINT_CONTROLLERS = 2 };

/* ---- DescribeCluster ---- */

void rn_handle_describe_cluster(rn_request_t *req)
{
    rn_describe_cluster_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    const rn_broker_info_t *info = req->broker;
    rn_describe_cluster_response_t resp;
    rn_describe_cluster_response_init(&resp);
    /* A broker always answers as the brokers' endpoint; v0 asks for nothing else. */
    resp.endpoint_type = ENDPOINT_BROKERS;
    int8_t asked = req->api_version >= 1 ? body.endpoint_type : ENDPOINT_BROKERS;
    if (asked != ENDPOINT_BROKERS) {
        /* The controllers' endpoints come from a controller (KIP-919); any other type is
         * unknown. Kafka's error answer: no cluster id, no controller, no brokers. */
        if (asked == ENDPOINT_CONTROLLERS) {
            resp.error_code = RN_KERR_MISMATCHED_ENDPOINT_TYPE;
            resp.error_message = rn_str_from_cstr("The request was sent to an endpoint of type "
                                                  "BROKER, but we wanted an endpoint of type "
                                                  "CONTROLLER");
        } else {
            resp.error_code = RN_KERR_UNSUPPORTED_ENDPOINT_TYPE;
            resp.error_message = rn_admin_message(req, "Unsupported endpoint type %d", asked);
        }
        resp.cluster_id = rn_str_from_cstr("");
        rn_respond(req, &resp);
        return;
    }
    resp.cluster_id = rn_str_from_cstr(info->cluster_id);
    resp.controller_id = info->node_id;
    rn_describe_cluster_response_broker_t broker;
    rn_describe_cluster_response_broker_init(&broker);
    broker.broker_id = info->node_id;
    broker.host = rn_str_from_cstr(info->advertised_host);
    broker.port = atomic_load_explicit(&info->advertised_port, memory_order_relaxed);
    resp.brokers.items = &broker;
    resp.brokers.count = 1;
    if (body.include_cluster_authorized_operations)
        resp.cluster_authorized_operations = rn_acl_authorized_operations(RN_ACL_RESOURCE_CLUSTER);
    rn_respond(req, &resp);
}

/* ---- DescribeLogDirs ---- */

typedef struct dir_answer {
    rn_request_t *req;
    rn_describe_log_dirs_response_topic_t *topics;
    int32_t ntopics, cap;
    bool oom;
} dir_answer_t;

/* Adds `topic` with the partitions `wanted` (NULL: all) that exist; a topic that ends up with
 * no partition is left out, as Kafka lists only what the directory holds. */
static void add_topic(dir_answer_t *a, rn_topic_t *topic, const int32_t *wanted, int32_t nwanted)
{
    if (a->oom)
        return;
    rn_request_t *req = a->req;
    int32_t n = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
    int32_t count = wanted != NULL ? nwanted : n;
    if (count <= 0)
        return;
    rn_describe_log_dirs_response_partition_t *parts =
        rn_arena_try_alloc_array(&req->arena, rn_describe_log_dirs_response_partition_t, count);
    if (parts == NULL || a->ntopics == a->cap) {
        a->oom = true;
        return;
    }
    int32_t k = 0;
    for (int32_t i = 0; i < count; i++) {
        int32_t index = wanted != NULL ? wanted[i] : i;
        rn_partition_t *part = rn_topic_partition(topic, index);
        if (part == NULL)
            continue;
        rn_describe_log_dirs_response_partition_init(&parts[k]);
        parts[k].partition_index = index;
        parts[k].partition_size = rn_log_size_bytes(part->log);
        parts[k].offset_lag = 0; /* no replica to catch up with */
        k++;
    }
    if (k == 0)
        return;
    rn_describe_log_dirs_response_topic_t *t = &a->topics[a->ntopics++];
    rn_describe_log_dirs_response_topic_init(t);
    t->name = rn_str_from_cstr(topic->name);
    t->partitions.items = parts;
    t->partitions.count = k;
}

void rn_handle_describe_log_dirs(rn_request_t *req)
{
    rn_describe_log_dirs_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_topics_t *topics = req->broker->topics;
    rn_topic_t **all = NULL;
    size_t nall = 0;
    int32_t cap = body.topics.count;
    if (body.topics.count < 0) {
        nall = rn_topics_list(topics, &all);
        cap = (int32_t)nall;
    }
    dir_answer_t a = { .req = req, .cap = cap };
    a.topics = rn_arena_try_alloc_array(&req->arena, rn_describe_log_dirs_response_topic_t,
                                        cap > 0 ? cap : 1);
    a.oom = a.topics == NULL;
    for (size_t i = 0; i < nall; i++)
        add_topic(&a, all[i], NULL, 0);
    rn_topics_list_free(all, nall);
    for (int32_t i = 0; i < body.topics.count; i++) {
        const rn_describe_log_dirs_request_topic_t *qt = &body.topics.items[i];
        rn_topic_t *topic = rn_topics_get(topics, qt->topic);
        if (topic == NULL)
            continue;
        add_topic(&a, topic, qt->partitions.items, qt->partitions.count);
        rn_topic_unref(topic);
    }
    if (a.oom) {
        rn_reject(req, "out of memory");
        return;
    }
    rn_describe_log_dirs_response_result_t result;
    rn_describe_log_dirs_response_result_init(&result);
    /* Kafka names the directory by its absolute path. */
    const char *dir = req->broker->config->log_dir;
    char *abs = rn_arena_try_alloc(&req->arena, PATH_MAX);
    result.log_dir = rn_str_from_cstr(abs != NULL && realpath(dir, abs) != NULL ? abs : dir);
    result.topics.items = a.topics;
    result.topics.count = a.ntopics;
    struct statvfs fs;
    if (statvfs(dir, &fs) == 0) {
        result.total_bytes = (int64_t)fs.f_blocks * (int64_t)fs.f_frsize;
        result.usable_bytes = (int64_t)fs.f_bavail * (int64_t)fs.f_frsize;
    }
    rn_describe_log_dirs_response_t resp;
    rn_describe_log_dirs_response_init(&resp);
    resp.results.items = &result;
    resp.results.count = 1;
    rn_respond(req, &resp);
}
