/* SPDX-License-Identifier: Apache-2.0 */
/* ApiVersions (key 18): the versions of every API this broker handles, straight from the
 * handler table. Clients send it first on every connection (librdkafka holds all other
 * requests until it is answered), so it must never fail and never close the connection. */
#include "handlers/handlers.h"

#include <stdbool.h>

/* KIP-511: ClientSoftwareName and ClientSoftwareVersion must match
 * [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? or the request is INVALID_REQUEST. */
static bool valid_software_field(rn_str_t s)
{
    if (s.ptr == NULL || s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.ptr[i];
        bool alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        bool inner = ch == '-' || ch == '.';
        if (!alnum && !(inner && i > 0 && i + 1 < s.len))
            return false;
    }
    return true;
}

bool rn_api_versions_fill(rn_request_t *req, rn_api_versions_response_t *resp)
{
    int16_t keys[128], mins[128], maxs[128];
    size_t n = rn_handlers_list(keys, mins, maxs, 128);
    _Static_assert(RN_API_CONSUMER_GROUP_DESCRIBE < 128, "the handler table fits the arrays");
    rn_api_versions_response_api_version_t *items =
        rn_arena_try_alloc_array(&req->arena, rn_api_versions_response_api_version_t, n);
    if (items == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        rn_api_versions_response_api_version_init(&items[i]);
        items[i].api_key = keys[i];
        items[i].min_version = mins[i];
        items[i].max_version = maxs[i];
    }
    resp->api_keys.items = items;
    resp->api_keys.count = (int32_t)n;
    return true;
}

void rn_handle_api_versions(rn_request_t *req)
{
    rn_api_versions_request_t body;
    rn_api_versions_response_t resp;
    rn_api_versions_response_init(&resp);

    const rn_proto_api_t *api = rn_proto_api_find(RN_API_API_VERSIONS);
    /* A malformed body is answered, not dropped: INVALID_REQUEST sends librdkafka back to v0. */
    if (api->request_decode(&req->body, req->api_version, &req->arena, &body) != RN_DECODE_OK ||
        rn_reader_left(&req->body) != 0) {
        resp.error_code = RN_KERR_INVALID_REQUEST;
        rn_respond(req, &resp);
        return;
    }
    if (req->api_version >= 3 && (!valid_software_field(body.client_software_name) ||
                                  !valid_software_field(body.client_software_version))) {
        resp.error_code = RN_KERR_INVALID_REQUEST;
        rn_respond(req, &resp);
        return;
    }
    /* KIP-1242: a client that says which cluster and node it means to reach learns at once when
     * it reached another one (a reused address), and bootstraps again. */
    if (req->api_version >= 5 && ((body.cluster_id.ptr != NULL &&
                                   !rn_str_eq_cstr(body.cluster_id, req->broker->cluster_id)) ||
                                  (body.node_id >= 0 && body.node_id != req->broker->node_id))) {
        resp.error_code = RN_KERR_REBOOTSTRAP_REQUIRED;
        rn_respond(req, &resp);
        return;
    }

    if (!rn_api_versions_fill(req, &resp)) {
        rn_reject(req, "out of memory");
        return;
    }
    rn_respond(req, &resp);
}
