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
