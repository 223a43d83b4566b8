/* SPDX-License-Identifier: Apache-2.0 */
/* The ACL APIs and the authorized-operations bit fields (src/handlers/acls.c, acl.h): without an
 * authorizer every ACL request is SECURITY_DISABLED, with Kafka's texts, and every resource the
 * describe APIs answer about allows every operation its type supports. */
#include "handlers/acl.h"
#include "handlers/fixture.h"
#include "kerr_assert.h"

static void start(void)
{
    fixture_start("acls", NULL, false);
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(acls, .init = start, .fini = stop);

/* ---- authorized operations ---- */

Test(acls, each_resource_type_allows_the_operations_kafka_answers)
{
    /* The values Kafka 4.4 answers without an authorizer: a topic READ, WRITE, CREATE,
     * DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS; a group READ, DELETE,
     * DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS; the cluster CREATE, ALTER, DESCRIBE,
     * CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE. */
    cr_assert_eq(rn_acl_authorized_operations(RN_ACL_RESOURCE_TOPIC), 3576);
    cr_assert_eq(rn_acl_authorized_operations(RN_ACL_RESOURCE_GROUP), 3400);
    cr_assert_eq(rn_acl_authorized_operations(RN_ACL_RESOURCE_CLUSTER), 8096);
}

Test(acls, other_resource_types_have_no_answer)
{
    static const rn_acl_resource_type_t others[] = {
        RN_ACL_RESOURCE_UNKNOWN,          RN_ACL_RESOURCE_ANY,  RN_ACL_RESOURCE_TRANSACTIONAL_ID,
        RN_ACL_RESOURCE_DELEGATION_TOKEN, RN_ACL_RESOURCE_USER,
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        cr_assert_eq(rn_acl_authorized_operations(others[i]), INT32_MIN, "type %d", others[i]);
}

/* ---- the ACL APIs ---- */

/* How the broker finished `body` at `version` of API `key`; the response, if any, in *resp
 * (decoded by sending the request again through call(): the ACL APIs change nothing). */
static rn_finish_t ask(int16_t key, int16_t version, const void *body, void *resp)
{
    rn_outbuf_t w;
    build_frame(key, version, body, &w);
    reply_t o = run_frame(w.data, w.len);
    rn_outbuf_deinit(&w);
    free(o.bytes);
    if (o.how == RN_FINISH_RESPOND)
        call(key, version, body, resp);
    return o.how;
}

static rn_describe_acls_request_t any_filter(void)
{
    rn_describe_acls_request_t f;
    rn_describe_acls_request_init(&f);
    f.resource_type_filter = RN_ACL_RESOURCE_ANY;
    f.pattern_type_filter = 1; /* ANY */
    f.operation = RN_ACL_OP_ANY;
    f.permission_type = 1; /* ANY */
    return f;
}

Test(acls, describe_is_security_disabled)
{
    for (int16_t v = 0; v <= 3; v++) {
        rn_describe_acls_request_t f = any_filter();
        rn_describe_acls_response_t r;
        cr_assert_eq(ask(RN_API_DESCRIBE_ACLS, v, &f, &r), RN_FINISH_RESPOND, "v%d", v);
        assert_kerr(r.error_code, RN_KERR_SECURITY_DISABLED);
        cr_assert(rn_str_eq_cstr(r.error_message, "No Authorizer is configured on the broker"));
        cr_assert_eq(r.resources.count, 0);
    }
}

Test(acls, a_describe_filter_with_an_unknown_element_closes_the_connection)
{
    /* Kafka 4.4 closes on a 0 (UNKNOWN) in any of the four codes, and answers codes it does
     * not know at all (resource type 8, operation 16, ...) like any other filter. */
    for (int16_t v = 1; v <= 3; v++) {
        rn_describe_acls_response_t r;
        rn_describe_acls_request_t f = any_filter();
        f.resource_type_filter = RN_ACL_RESOURCE_UNKNOWN;
        cr_assert_eq(ask(RN_API_DESCRIBE_ACLS, v, &f, &r), RN_FINISH_CLOSE, "v%d type", v);
        f = any_filter();
        f.pattern_type_filter = RN_ACL_PATTERN_UNKNOWN;
        cr_assert_eq(ask(RN_API_DESCRIBE_ACLS, v, &f, &r), RN_FINISH_CLOSE, "v%d pattern", v);
        f = any_filter();
        f.operation = RN_ACL_OP_UNKNOWN;
        cr_assert_eq(ask(RN_API_DESCRIBE_ACLS, v, &f, &r), RN_FINISH_CLOSE, "v%d op", v);
        f = any_filter();
        f.permission_type = RN_ACL_PERMISSION_UNKNOWN;
        cr_assert_eq(ask(RN_API_DESCRIBE_ACLS, v, &f, &r), RN_FINISH_CLOSE, "v%d perm", v);
        f = any_filter();
        f.resource_type_filter = 8;
        f.operation = 16;
        cr_assert_eq(ask(RN_API_DESCRIBE_ACLS, v, &f, &r), RN_FINISH_RESPOND, "v%d", v);
        assert_kerr(r.error_code, RN_KERR_SECURITY_DISABLED);
    }
    /* v0 has no pattern type: LITERAL. */
    rn_describe_acls_request_t f = any_filter();
    rn_describe_acls_response_t r;
    cr_assert_eq(ask(RN_API_DESCRIBE_ACLS, 0, &f, &r), RN_FINISH_RESPOND);
    f.operation = RN_ACL_OP_UNKNOWN;
    cr_assert_eq(ask(RN_API_DESCRIBE_ACLS, 0, &f, &r), RN_FINISH_CLOSE);
}

static rn_create_acls_request_creation_t binding(void)
{
    rn_create_acls_request_creation_t c;
    rn_create_acls_request_creation_init(&c);
    c.resource_type = RN_ACL_RESOURCE_TOPIC;
    c.resource_name = S("t");
    c.resource_pattern_type = 3; /* LITERAL */
    c.principal = S("User:alice");
    c.host = S("*");
    c.operation = RN_ACL_OP_READ;
    c.permission_type = 3; /* ALLOW */
    return c;
}

Test(acls, create_answers_each_binding_and_closes_on_an_unknown_element)
{
    for (int16_t v = 0; v <= 3; v++) {
        rn_create_acls_request_creation_t c[2] = { binding(), binding() };
        rn_create_acls_request_t body;
        rn_create_acls_request_init(&body);
        body.creations.items = c;
        body.creations.count = 2;
        rn_create_acls_response_t r;
        cr_assert_eq(ask(RN_API_CREATE_ACLS, v, &body, &r), RN_FINISH_RESPOND, "v%d", v);
        cr_assert_eq(r.results.count, 2);
        for (int i = 0; i < 2; i++) {
            assert_kerr(r.results.items[i].error_code, RN_KERR_SECURITY_DISABLED);
            cr_assert(rn_str_eq_cstr(r.results.items[i].error_message,
                                     "No Authorizer is configured."),
                      "Kafka's text for a binding");
        }
        /* One bad binding among good ones refuses the whole request. */
        c[1].operation = RN_ACL_OP_UNKNOWN;
        cr_assert_eq(ask(RN_API_CREATE_ACLS, v, &body, &r), RN_FINISH_CLOSE, "v%d", v);
        c[1] = binding();
        c[1].resource_type = RN_ACL_RESOURCE_UNKNOWN;
        cr_assert_eq(ask(RN_API_CREATE_ACLS, v, &body, &r), RN_FINISH_CLOSE, "v%d", v);
        c[1] = binding();
        c[1].permission_type = RN_ACL_PERMISSION_UNKNOWN;
        cr_assert_eq(ask(RN_API_CREATE_ACLS, v, &body, &r), RN_FINISH_CLOSE, "v%d", v);
        if (v >= 1) {
            c[1] = binding();
            c[1].resource_pattern_type = RN_ACL_PATTERN_UNKNOWN;
            cr_assert_eq(ask(RN_API_CREATE_ACLS, v, &body, &r), RN_FINISH_CLOSE, "v%d", v);
        }
    }
}

Test(acls, delete_answers_each_filter_and_closes_on_an_unknown_element)
{
    for (int16_t v = 0; v <= 3; v++) {
        rn_delete_acls_request_filter_t f[1];
        rn_delete_acls_request_filter_init(&f[0]);
        f[0].resource_type_filter = RN_ACL_RESOURCE_ANY;
        f[0].pattern_type_filter = 1;
        f[0].operation = 99; /* not a code Kafka knows, yet not UNKNOWN: answered */
        f[0].permission_type = 1;
        rn_delete_acls_request_t body;
        rn_delete_acls_request_init(&body);
        body.filters.items = f;
        body.filters.count = 1;
        rn_delete_acls_response_t r;
        cr_assert_eq(ask(RN_API_DELETE_ACLS, v, &body, &r), RN_FINISH_RESPOND, "v%d", v);
        cr_assert_eq(r.filter_results.count, 1);
        assert_kerr(r.filter_results.items[0].error_code, RN_KERR_SECURITY_DISABLED);
        cr_assert(rn_str_eq_cstr(r.filter_results.items[0].error_message,
                                 "No Authorizer is configured."));
        f[0].operation = RN_ACL_OP_UNKNOWN;
        cr_assert_eq(ask(RN_API_DELETE_ACLS, v, &body, &r), RN_FINISH_CLOSE, "v%d", v);
    }
}
