/* SPDX-License-Identifier: Apache-2.0 */
/* DescribeAcls (29), CreateAcls (30), DeleteAcls (31) on a broker without an authorizer, and
 * the authorized-operations bit fields the describe APIs answer (acl.h).
 *
 * Runnel has no authorizer (no SASL yet either), and Kafka's answer on a broker whose
 * `authorizer.class.name` is empty is SECURITY_DISABLED, per request (Describe: "No Authorizer
 * is configured on the broker") or per creation and filter (Create, Delete: "No Authorizer is
 * configured."). We answer exactly that, so admin tools report the truth instead of timing out.
 * A binding or filter with an UNKNOWN (0) resource type, pattern type, operation or permission
 * type is one Kafka cannot parse: it closes the connection, and so do we. Other codes it does
 * not know pass. A side effect that matters: kafka-python infers the broker's version from
 * advertised ranges, and DescribeAcls v2 is its probe for 2.5 (CLIENTS.md rule 3). */
#include "handlers/acl.h"
#include "handlers/handlers.h"

static const char no_authorizer[] = "No Authorizer is configured on the broker";
static const char no_authorizer_per_binding[] = "No Authorizer is configured.";

/* ---- authorized operations ---- */

/* The operations each resource type supports, as Kafka's ACL model defines them (an ACL for
 * any other operation on that type is refused). Terminated by RN_ACL_OP_UNKNOWN. */
static const rn_acl_operation_t topic_operations[] = {
    RN_ACL_OP_READ,    RN_ACL_OP_WRITE,    RN_ACL_OP_CREATE,           RN_ACL_OP_DELETE,
    RN_ACL_OP_ALTER,   RN_ACL_OP_DESCRIBE, RN_ACL_OP_DESCRIBE_CONFIGS, RN_ACL_OP_ALTER_CONFIGS,
    RN_ACL_OP_UNKNOWN,
};
/* DESCRIBE_CONFIGS and ALTER_CONFIGS: group configs (KIP-848). */
static const rn_acl_operation_t group_operations[] = {
    RN_ACL_OP_READ,          RN_ACL_OP_DELETE,  RN_ACL_OP_DESCRIBE, RN_ACL_OP_DESCRIBE_CONFIGS,
    RN_ACL_OP_ALTER_CONFIGS, RN_ACL_OP_UNKNOWN,
};
static const rn_acl_operation_t cluster_operations[] = {
    RN_ACL_OP_CREATE,           RN_ACL_OP_ALTER,
    RN_ACL_OP_DESCRIBE,         RN_ACL_OP_CLUSTER_ACTION,
    RN_ACL_OP_DESCRIBE_CONFIGS, RN_ACL_OP_ALTER_CONFIGS,
    RN_ACL_OP_IDEMPOTENT_WRITE, RN_ACL_OP_UNKNOWN,
};

int32_t rn_acl_authorized_operations(rn_acl_resource_type_t type)
{
    const rn_acl_operation_t *ops = type == RN_ACL_RESOURCE_TOPIC     ? topic_operations
                                    : type == RN_ACL_RESOURCE_GROUP   ? group_operations
                                    : type == RN_ACL_RESOURCE_CLUSTER ? cluster_operations
                                                                      : NULL;
    if (ops == NULL)
        return RN_ACL_OPERATIONS_OMITTED;
    int32_t bits = 0;
    for (size_t i = 0; ops[i] != RN_ACL_OP_UNKNOWN; i++)
        bits |= (int32_t)1 << ops[i];
    return bits;
}

/* ---- the ACL APIs ---- */

/* Kafka refuses, while parsing, a binding or filter with an UNKNOWN element (before v1 the
 * pattern type is LITERAL, the decoder's default). */
static bool has_unknown(int8_t resource_type, int8_t pattern_type, int8_t operation,
                        int8_t permission_type)
{
    return resource_type == RN_ACL_RESOURCE_UNKNOWN || pattern_type == RN_ACL_PATTERN_UNKNOWN ||
           operation == RN_ACL_OP_UNKNOWN || permission_type == RN_ACL_PERMISSION_UNKNOWN;
}

void rn_handle_describe_acls(rn_request_t *req)
{
    rn_describe_acls_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    if (has_unknown(body.resource_type_filter, body.pattern_type_filter, body.operation,
                    body.permission_type)) {
        rn_reject(req, "ACL filter with an UNKNOWN element");
        return;
    }
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
    int32_t n = body.creations.count > 0 ? body.creations.count : 0;
    for (int32_t i = 0; i < n; i++) {
        const rn_create_acls_request_creation_t *c = &body.creations.items[i];
        if (has_unknown(c->resource_type, c->resource_pattern_type, c->operation,
                        c->permission_type)) {
            rn_reject(req, "ACL binding with an UNKNOWN element");
            return;
        }
    }
    rn_create_acls_response_t resp;
    rn_create_acls_response_init(&resp);
    rn_create_acls_response_result_t *results =
        rn_arena_try_alloc_array(&req->arena, rn_create_acls_response_result_t, n);
    if (n > 0 && results == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        rn_create_acls_response_result_init(&results[i]);
        results[i].error_code = RN_KERR_SECURITY_DISABLED;
        results[i].error_message = rn_str_from_cstr(no_authorizer_per_binding);
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
    int32_t n = body.filters.count > 0 ? body.filters.count : 0;
    for (int32_t i = 0; i < n; i++) {
        const rn_delete_acls_request_filter_t *f = &body.filters.items[i];
        if (has_unknown(f->resource_type_filter, f->pattern_type_filter, f->operation,
                        f->permission_type)) {
            rn_reject(req, "ACL filter with an UNKNOWN element");
            return;
        }
    }
    rn_delete_acls_response_t resp;
    rn_delete_acls_response_init(&resp);
    rn_delete_acls_response_filter_result_t *results =
        rn_arena_try_alloc_array(&req->arena, rn_delete_acls_response_filter_result_t, n);
    if (n > 0 && results == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        rn_delete_acls_response_filter_result_init(&results[i]);
        results[i].error_code = RN_KERR_SECURITY_DISABLED;
        results[i].error_message = rn_str_from_cstr(no_authorizer_per_binding);
    }
    resp.filter_results.items = results;
    resp.filter_results.count = n;
    rn_respond(req, &resp);
}
