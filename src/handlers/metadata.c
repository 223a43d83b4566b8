/* SPDX-License-Identifier: Apache-2.0 */
/* Metadata (key 3): this broker, the cluster id, the controller, and the requested topics.
 *
 * The controller id is this node's id: admin clients (kafkajs, librdkafka, kafka-python) send
 * CreateTopics to the controller and wait until they time out when it names no broker.
 * Until storage lands (issue #4) the topic registry is empty, so every requested topic is
 * UNKNOWN_TOPIC_OR_PARTITION (or UNKNOWN_TOPIC_ID when asked for by id) and an all-topics
 * request lists none. Auto-creation arrives with the registry. */
#include "handlers/handlers.h"

#include <stdatomic.h>

static bool uuid_is_zero(const rn_uuid_t *id)
{
    for (size_t i = 0; i < sizeof id->b; i++)
        if (id->b[i] != 0)
            return false;
    return true;
}

void rn_handle_metadata(rn_request_t *req)
{
    rn_metadata_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    const rn_broker_info_t *info = req->broker;

    rn_metadata_response_t resp;
    rn_metadata_response_init(&resp);

    rn_metadata_response_broker_t *self = rn_arena_try_alloc(&req->arena, sizeof *self);
    if (self == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    rn_metadata_response_broker_init(self);
    self->node_id = info->node_id;
    self->host = rn_str_from_cstr(info->advertised_host);
    self->port = atomic_load_explicit(&info->advertised_port, memory_order_acquire);
    resp.brokers.items = self;
    resp.brokers.count = 1;
    resp.cluster_id = rn_str_from_cstr(info->cluster_id);
    resp.controller_id = info->node_id;

    /* v0: an empty array asks for all topics; v1+: null does (and empty asks for none). */
    int32_t nreq = body.topics.count;
    if (nreq > 0) {
        rn_metadata_response_topic_t *topics = rn_arena_try_alloc_array(&req->arena, rn_metadata_response_topic_t, nreq);
        if (topics == NULL) {
            rn_reject(req, "out of memory");
            return;
        }
        for (int32_t i = 0; i < nreq; i++) {
            const rn_metadata_request_topic_t *want = &body.topics.items[i];
            rn_metadata_response_topic_t *t = &topics[i];
            rn_metadata_response_topic_init(t);
            t->name = want->name;
            t->topic_id = want->topic_id;
            bool by_id = want->name.ptr == NULL && !uuid_is_zero(&want->topic_id);
            t->error_code = by_id ? RN_KERR_UNKNOWN_TOPIC_ID : RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
        resp.topics.items = topics;
        resp.topics.count = nreq;
    }
    rn_respond(req, &resp);
}
