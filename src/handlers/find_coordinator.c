/* SPDX-License-Identifier: Apache-2.0 */
/* FindCoordinator (key 10), v0-v4: on one node, this node coordinates every group.
 *
 * It is advertised before the group APIs exist (issue #6) because librdkafka 2.0.2 enables
 * LZ4 only when FindCoordinator v0 is advertised (CLIENTS.md rule 2): without it, `-z lz4`
 * silently sends uncompressed batches. Transaction coordinators do not exist yet, so key type 1
 * answers COORDINATOR_NOT_AVAILABLE, which clients retry rather than treat as fatal. */
#include <stdatomic.h>

#include "handlers/handlers.h"

enum { RN_KERR_COORDINATOR_NOT_AVAILABLE = 15 };
enum { KEY_TYPE_GROUP = 0, KEY_TYPE_TRANSACTION = 1 };

static int16_t answer_for(int8_t key_type)
{
    if (key_type == KEY_TYPE_GROUP)
        return RN_KERR_NONE;
    if (key_type == KEY_TYPE_TRANSACTION)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    return RN_KERR_INVALID_REQUEST;
}

void rn_handle_find_coordinator(rn_request_t *req)
{
    rn_find_coordinator_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    const rn_broker_info_t *info = req->broker;
    int32_t port = atomic_load_explicit(&info->advertised_port, memory_order_acquire);
    rn_str_t host = rn_str_from_cstr(info->advertised_host);
    int16_t error = answer_for(body.key_type);

    rn_find_coordinator_response_t resp;
    rn_find_coordinator_response_init(&resp);
    if (req->api_version < 4) {
        resp.error_code = error;
        resp.node_id = error == 0 ? info->node_id : -1;
        resp.host = error == 0 ? host : rn_str_from_cstr("");
        resp.port = error == 0 ? port : -1;
        rn_respond(req, &resp);
        return;
    }
    /* v4+ (KIP-699): one answer per key. */
    int32_t n = body.coordinator_keys.count > 0 ? body.coordinator_keys.count : 0;
    rn_find_coordinator_response_coordinator_t *items =
        rn_arena_try_alloc_array(&req->arena, rn_find_coordinator_response_coordinator_t, n ? n : 1);
    if (items == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        rn_find_coordinator_response_coordinator_init(&items[i]);
        items[i].key = body.coordinator_keys.items[i];
        items[i].error_code = error;
        items[i].node_id = error == 0 ? info->node_id : -1;
        items[i].host = error == 0 ? host : rn_str_from_cstr("");
        items[i].port = error == 0 ? port : -1;
    }
    resp.coordinators.items = items;
    resp.coordinators.count = n;
    rn_respond(req, &resp);
}
