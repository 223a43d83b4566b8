/* SPDX-License-Identifier: Apache-2.0 */
/* DescribeAcls (29), CreateAcls (30), DeleteAcls (31) on a broker without an authorizer.
 *
 * Runnel has no authorizer (no SASL yet either), and Kafka's answer on a broker whose
 * `authorizer.class.name` is empty is SECURITY_DISABLED with "No Authorizer is configured on
 * the broker", per request (Describe) or per creation and filter (Create, Delete). We answer
 * exactly that, so admin tools report the truth instead of timing out. A side effect that
 * matters: kafka-python infers the broker's version from advertised ranges, and DescribeAcls
 * v2 is its probe for 2.5 (CLIENTS.md rule 3). */
#include "handlers/handlers.h"

static const char no_authorizer[] = "No Authorizer is configured on the broker";

void rn_handle_describe_acls(rn_request_t *req)
{
    rn_describe_acls_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_describe_acls_response_t resp;
    rn_describe_acls_response_init(&resp);
    resp.error_code = RN_KERR_SECURITY_DISABLED;
    resp.error_message = rn_str_from_cstr(no_authorizer);
    rn_respond(req, &resp);
}

void rn_handle_create_acls(rn_request_t *req)
{
    rn_create_acls_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_create_acls_response_t resp;
    rn_create_acls_response_init(&resp);
    int32_t n = body.creations.count > 0 ? body.creations.count : 0;
    rn_create_acls_response_result_t *results =
        rn_arena_try_alloc_array(&req->arena, rn_create_acls_response_result_t, n);
    if (n > 0 && results == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        rn_create_acls_response_result_init(&results[i]);
        results[i].error_code = RN_KERR_SECURITY_DISABLED;
        results[i].error_message = rn_str_from_cstr(no_authorizer);
    }
    resp.results.items = results;
    resp.results.count = n;
    rn_respond(req, &resp);
}

void rn_handle_delete_acls(rn_request_t *req)
{
    rn_delete_acls_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_delete_acls_response_t resp;
    rn_delete_acls_response_init(&resp);
    int32_t n = body.filters.count > 0 ? body.filters.count : 0;
    rn_delete_acls_response_filter_result_t *results =
        rn_arena_try_alloc_array(&req->arena, rn_delete_acls_response_filter_result_t, n);
    if (n > 0 && results == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        rn_delete_acls_response_filter_result_init(&results[i]);
        results[i].error_code = RN_KERR_SECURITY_DISABLED;
        results[i].error_message = rn_str_from_cstr(no_authorizer);
    }
    resp.filter_results.items = results;
    resp.filter_results.count = n;
    rn_respond(req, &resp);
}
