/* SPDX-License-Identifier: Apache-2.0 */
/* Metadata (key 3): this broker, the cluster id, the controller, and topics from the registry.
 *
 * The controller id is this node's id: admin clients (kafkajs, librdkafka, kafka-python) send
 * CreateTopics to the controller and wait until they time out when it names no broker.
 * Topics a request names that do not exist are created when auto.create.topics.enable is on
 * and the request allows it (v4+ has allow_auto_topic_creation; v0-v3 always may), never for
 * an all-topics request (CLIENTS.md rule 4). A request that will create topics is answered from
 * the thread pool (creation writes files); the new topic is answered ready at once. Kafka 4.4
 * answers UNKNOWN_TOPIC_OR_PARTITION first, with no partitions and a zero id, while its
 * controller creates the topic; every client retries on that code, and here the complete answer
 * spares them the retry (a declared difference, tests/conformance/differences.tsv). */
#include <stdatomic.h>

#include "config/config.h"
#include "coord/coord.h"
#include "coord/store.h"
#include "handlers/acl.h"
#include "handlers/admin.h"
#include "handlers/handlers.h"
#include "handlers/job.h"
#include "topics/topics.h"
#include "util/logging.h"

static bool uuid_is_zero(const rn_uuid_t *id)
{
    for (size_t i = 0; i < sizeof id->b; i++)
        if (id->b[i] != 0)
            return false;
    return true;
}

/* Fills `t` from `topic`; false on allocation failure. */
static bool describe_topic(rn_request_t *req, rn_topic_t *topic, rn_metadata_response_topic_t *t,
                           int32_t *node)
{
    t->error_code = 0;
    t->name = rn_str_from_cstr(topic->name);
    t->topic_id = topic->id;
    t->is_internal = topic->internal;
    int32_t n = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
    rn_metadata_response_partition_t *parts =
        rn_arena_try_alloc_array(&req->arena, rn_metadata_response_partition_t, n ? n : 1);
    if (parts == NULL)
        return false;
    for (int32_t i = 0; i < n; i++) {
        rn_metadata_response_partition_init(&parts[i]);
        parts[i].partition_index = i;
        parts[i].leader_id = *node;
        parts[i].leader_epoch = RN_LOG_LEADER_EPOCH;
        /* One node: it is the only replica and the whole ISR. The arrays share one element. */
        parts[i].replica_nodes.items = node;
        parts[i].replica_nodes.count = 1;
        parts[i].isr_nodes.items = node;
        parts[i].isr_nodes.count = 1;
    }
    t->partitions.items = parts;
    t->partitions.count = n;
    return true;
}

/* Whether `name` could name a topic (Kafka's rules); Kafka answers INVALID_TOPIC_EXCEPTION
 * for a name that could not, whether or not the request allows auto-creation. */
static bool legal_name(rn_str_t name)
{
    char why[160];
    return rn_topic_name_valid(name, why, sizeof why);
}

/* A requested topic that does not exist: create it when allowed, else report it unknown (or
 * its name illegal). */
static rn_topic_t *find_or_create(rn_request_t *req, const rn_metadata_request_t *body,
                                  rn_str_t name, rn_kerr_t *error)
{
    rn_topics_t *topics = req->broker->topics;
    rn_topic_t *topic = rn_topics_get(topics, name);
    if (topic != NULL)
        return topic;
    if (!legal_name(name)) {
        *error = RN_KERR_INVALID_TOPIC_EXCEPTION;
        return NULL;
    }
    *error = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    bool allowed = req->broker->auto_create_topics_enable &&
                   (req->api_version < 4 || body->allow_auto_topic_creation);
    if (!allowed)
        return NULL;
    if (rn_topic_name_internal(name)) {
        /* As Kafka's AutoTopicCreationManager: an internal topic is created as its coordinator
         * creates it (partitions and configs), never as an ordinary topic. */
        rn_coord_t *coord = req->broker->coord;
        if (coord == NULL)
            return NULL;
        rn_store_t *store = rn_str_eq_cstr(name, "__transaction_state") ? rn_coord_txn_store(coord)
                                                                        : rn_coord_store(coord);
        if (rn_store_ensure(store) != 0) {
            *error = RN_KERR_LEADER_NOT_AVAILABLE;
            return NULL;
        }
        return rn_topics_get(topics, name);
    }
    rn_topic_spec_t spec = { .name = name, .num_partitions = -1, .replication_factor = -1 };
    rn_topics_result_t res = rn_topics_create(topics, &spec, false, &topic);
    if (res.error_code == RN_KERR_TOPIC_ALREADY_EXISTS) /* created meanwhile by another request */
        return rn_topics_get(topics, name);
    if (res.error_code != 0) {
        *error = res.error_code == RN_KERR_INVALID_TOPIC_EXCEPTION ? RN_KERR_INVALID_TOPIC_EXCEPTION
                                                                   : RN_KERR_LEADER_NOT_AVAILABLE;
        return NULL;
    }
    rn_log(RN_LOG_INFO, "metadata", "auto-created topic %.*s for %s", (int)name.len, name.ptr,
           req->peer);
    return topic;
}

/* v12+ may name topics by id. As in Kafka, one non-zero id makes the whole request a lookup
 * by id: names are ignored (the Java Admin sends "" beside each id), entries without an id
 * are dropped, a repeated id is answered once, and nothing is auto-created. */
static bool asks_by_id(const rn_request_t *req, const rn_metadata_request_t *body)
{
    if (req->api_version < 12)
        return false;
    for (int32_t i = 0; i < body->topics.count; i++)
        if (!uuid_is_zero(&body->topics.items[i].topic_id))
            return true;
    return false;
}

/* Metadata v10-v11 carry a topic id beside each name, but Kafka looks topics up by id only from
 * v12 (KIP-516): it refuses a v10-v11 request with a non-zero id or a null name as a whole. */
static bool refused_before_v12(const rn_request_t *req, const rn_metadata_request_t *body)
{
    if (req->api_version < 10 || req->api_version >= 12)
        return false;
    for (int32_t i = 0; i < body->topics.count; i++) {
        const rn_metadata_request_topic_t *want = &body->topics.items[i];
        if (!uuid_is_zero(&want->topic_id) || want->name.ptr == NULL)
            return true;
    }
    return false;
}

/* The refusal in the shape of Kafka's error response: every entry (repeats too) with
 * INVALID_REQUEST, its name ("" for null) and its id; no brokers, no cluster id, controller -1
 * and no authorized operations, asked or not. False when the arena ran out. */
static bool refuse(rn_request_t *req, const rn_metadata_request_t *body,
                   rn_metadata_response_t *resp)
{
    int32_t n = body->topics.count;
    rn_metadata_response_topic_t *topics =
        rn_arena_try_alloc_array(&req->arena, rn_metadata_response_topic_t, n ? n : 1);
    if (topics == NULL)
        return false;
    for (int32_t i = 0; i < n; i++) {
        const rn_metadata_request_topic_t *want = &body->topics.items[i];
        rn_metadata_response_topic_init(&topics[i]);
        topics[i].error_code = RN_KERR_INVALID_REQUEST;
        topics[i].name = want->name.ptr != NULL ? want->name : rn_str_from_cstr("");
        topics[i].topic_id = want->topic_id;
    }
    resp->topics.items = topics;
    resp->topics.count = n;
    return true;
}

/* Marks with true each entry whose id (`by_id`) or name an earlier entry already asked for:
 * Kafka answers each topic once. False when the arena ran out. O(n log n): the client
 * chooses n. */
static bool find_repeats(rn_request_t *req, const rn_metadata_request_t *body, bool by_id,
                         uint8_t *repeat)
{
    int32_t n = body->topics.count;
    rn_str_t *keys = rn_arena_try_alloc_array(&req->arena, rn_str_t, n ? n : 1);
    if (keys == NULL)
        return false;
    for (int32_t i = 0; i < n; i++) {
        const rn_metadata_request_topic_t *want = &body->topics.items[i];
        keys[i] =
            by_id ? (rn_str_t){ (const char *)&want->topic_id, sizeof want->topic_id } : want->name;
    }
    if (!rn_admin_classify_keys(&req->arena, keys, n, repeat))
        return false;
    for (int32_t i = 0; i < n; i++)
        repeat[i] = repeat[i] == RN_ADMIN_KEY_REPEAT;
    return true;
}

/* Every topic in the registry, internal ones (__consumer_offsets, once a group lookup has
 * created it) included, as Kafka lists them with is_internal set; false when the arena ran
 * out. */
static bool list_all(rn_request_t *req, rn_metadata_response_t *resp, int32_t *node)
{
    rn_topic_t **list = NULL;
    size_t n = rn_topics_list(req->broker->topics, &list);
    rn_metadata_response_topic_t *topics =
        rn_arena_try_alloc_array(&req->arena, rn_metadata_response_topic_t, n ? n : 1);
    bool ok = topics != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        rn_metadata_response_topic_init(&topics[i]);
        ok = describe_topic(req, list[i], &topics[i], node);
    }
    rn_topics_list_free(list, n);
    resp->topics.items = topics;
    resp->topics.count = ok ? (int32_t)n : 0;
    return ok;
}

/* The topics `body` names; false when the arena ran out. May create topics (disk work). */
static bool list_named(rn_request_t *req, const rn_metadata_request_t *body,
                       rn_metadata_response_t *resp, int32_t *node)
{
    const rn_broker_info_t *info = req->broker;
    int32_t nreq = body->topics.count;
    rn_metadata_response_topic_t *topics =
        rn_arena_try_alloc_array(&req->arena, rn_metadata_response_topic_t, nreq ? nreq : 1);
    if (topics == NULL)
        return false;
    resp->topics.items = topics;
    bool by_id = asks_by_id(req, body);
    uint8_t *repeat = rn_arena_try_alloc_array(&req->arena, uint8_t, nreq ? nreq : 1);
    if (repeat == NULL || !find_repeats(req, body, by_id, repeat))
        return false;
    int32_t shown = 0;
    for (int32_t i = 0; i < nreq; i++) {
        const rn_metadata_request_topic_t *want = &body->topics.items[i];
        if (repeat[i] || (by_id && uuid_is_zero(&want->topic_id)))
            continue;
        rn_metadata_response_topic_t *t = &topics[shown++];
        rn_metadata_response_topic_init(t);
        t->name = by_id ? (rn_str_t){ 0 } : want->name;
        t->topic_id = want->topic_id;
        rn_topic_t *topic = NULL;
        rn_kerr_t error = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        if (by_id) {
            topic = rn_topics_get_by_id(info->topics, want->topic_id);
            error = RN_KERR_UNKNOWN_TOPIC_ID;
        } else if (want->name.ptr != NULL) {
            topic = find_or_create(req, body, want->name, &error);
        }
        if (topic == NULL) {
            t->error_code = error;
            t->is_internal = !by_id && rn_topic_name_internal(want->name); /* as Kafka answers */
            continue;
        }
        bool ok = describe_topic(req, topic, t, node);
        rn_topic_unref(topic);
        if (!ok)
            return false;
    }
    resp->topics.count = shown;
    return true;
}

/* KIP-430: when asked (v8+ for topics, v8-10 for the cluster), every operation the resource
 * supports (acl.h), for each topic of the answer, unknown ones included, as Kafka answers. */
static void add_authorized_operations(const rn_metadata_request_t *body,
                                      rn_metadata_response_t *resp)
{
    if (body->include_cluster_authorized_operations)
        resp->cluster_authorized_operations = rn_acl_authorized_operations(RN_ACL_RESOURCE_CLUSTER);
    if (!body->include_topic_authorized_operations)
        return;
    for (int32_t i = 0; i < resp->topics.count; i++)
        resp->topics.items[i].topic_authorized_operations =
            rn_acl_authorized_operations(RN_ACL_RESOURCE_TOPIC);
}

/* Fills `resp` for `body`; false when the arena ran out. May create topics (disk work). */
static bool build(rn_request_t *req, const rn_metadata_request_t *body,
                  rn_metadata_response_t *resp)
{
    const rn_broker_info_t *info = req->broker;
    rn_metadata_response_init(resp);
    if (refused_before_v12(req, body))
        return refuse(req, body, resp);
    rn_metadata_response_broker_t *self = rn_arena_try_alloc(&req->arena, sizeof *self);
    int32_t *node = rn_arena_try_alloc(&req->arena, sizeof *node);
    if (self == NULL || node == NULL)
        return false;
    *node = info->node_id;
    rn_metadata_response_broker_init(self);
    self->node_id = info->node_id;
    self->host = rn_str_from_cstr(info->advertised_host);
    self->port = atomic_load_explicit(&info->advertised_port, memory_order_acquire);
    resp->brokers.items = self;
    resp->brokers.count = 1;
    resp->cluster_id = rn_str_from_cstr(info->cluster_id);
    resp->controller_id = info->node_id;

    /* v0: an empty array asks for all topics; v1+: null does (and empty asks for none). */
    bool all = body->topics.count < 0 || (req->api_version == 0 && body->topics.count == 0);
    if (!(all ? list_all(req, resp, node) : list_named(req, body, resp, node)))
        return false;
    add_authorized_operations(body, resp);
    return true;
}

/* Would answering create a topic? Then the answer is built on the thread pool: creating a topic
 * writes and fsyncs files, which must not stall the connection's event loop. */
static bool may_create(rn_request_t *req, const rn_metadata_request_t *body)
{
    const rn_broker_info_t *info = req->broker;
    if (!info->auto_create_topics_enable ||
        (req->api_version >= 4 && !body->allow_auto_topic_creation) || asks_by_id(req, body) ||
        refused_before_v12(req, body))
        return false;
    for (int32_t i = 0; i < body->topics.count; i++) {
        rn_str_t name = body->topics.items[i].name;
        if (name.ptr == NULL || !legal_name(name))
            continue;
        rn_topic_t *topic = rn_topics_get(info->topics, name);
        if (topic == NULL)
            return true;
        rn_topic_unref(topic);
    }
    return false;
}

typedef struct metadata_job {
    rn_job_t job; /* first: rn_job_new's contract */
    rn_metadata_request_t body;
    rn_metadata_response_t resp;
} metadata_job_t;

static void run_job(rn_job_t *job)
{
    metadata_job_t *mj = (metadata_job_t *)job;
    job->oom = !build(job->req, &mj->body, &mj->resp);
    job->resp = &mj->resp;
}

void rn_handle_metadata(rn_request_t *req)
{
    rn_metadata_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    if (may_create(req, &body)) {
        metadata_job_t *mj = rn_job_new(req, sizeof *mj, run_job);
        if (mj == NULL)
            return;
        mj->body = body;
        rn_job_start(&mj->job);
        return;
    }
    rn_metadata_response_t resp;
    if (!build(req, &body, &resp)) {
        rn_reject(req, "out of memory");
        return;
    }
    rn_respond(req, &resp);
}
