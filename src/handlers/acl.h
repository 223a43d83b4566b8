/* SPDX-License-Identifier: Apache-2.0 */
/* Kafka's ACL vocabulary, shared by the handlers: the codes of the ACL APIs' enum fields, and
 * the authorized-operations bit fields (KIP-430) that Metadata, DescribeTopicPartitions,
 * DescribeCluster and DescribeGroups answer. Private to the handler room; defined in acls.c.
 *
 * Runnel has no authorizer. Kafka without one authorizes everything, so where a client asks
 * which operations it may perform on a resource, the answer is every operation that resource
 * type supports: bit N set for operation code N. */
#ifndef RN_HANDLERS_ACL_H
#define RN_HANDLERS_ACL_H

#include <stdbool.h>
#include <stdint.h>

/* AclOperation codes (the ACL APIs' `operation`). */
typedef enum rn_acl_operation {
    RN_ACL_OP_UNKNOWN = 0,
    RN_ACL_OP_ANY = 1,
    RN_ACL_OP_ALL = 2,
    RN_ACL_OP_READ = 3,
    RN_ACL_OP_WRITE = 4,
    RN_ACL_OP_CREATE = 5,
    RN_ACL_OP_DELETE = 6,
    RN_ACL_OP_ALTER = 7,
    RN_ACL_OP_DESCRIBE = 8,
    RN_ACL_OP_CLUSTER_ACTION = 9,
    RN_ACL_OP_DESCRIBE_CONFIGS = 10,
    RN_ACL_OP_ALTER_CONFIGS = 11,
    RN_ACL_OP_IDEMPOTENT_WRITE = 12,
    RN_ACL_OP_CREATE_TOKENS = 13,
    RN_ACL_OP_DESCRIBE_TOKENS = 14,
    RN_ACL_OP_TWO_PHASE_COMMIT = 15,
} rn_acl_operation_t;

/* ResourceType codes (`resource_type`, `resource_type_filter`). */
typedef enum rn_acl_resource_type {
    RN_ACL_RESOURCE_UNKNOWN = 0,
    RN_ACL_RESOURCE_ANY = 1,
    RN_ACL_RESOURCE_TOPIC = 2,
    RN_ACL_RESOURCE_GROUP = 3,
    RN_ACL_RESOURCE_CLUSTER = 4,
    RN_ACL_RESOURCE_TRANSACTIONAL_ID = 5,
    RN_ACL_RESOURCE_DELEGATION_TOKEN = 6,
    RN_ACL_RESOURCE_USER = 7,
} rn_acl_resource_type_t;

/* PatternType (`resource_pattern_type`, `pattern_type_filter`) and AclPermissionType
 * (`permission_type`): only UNKNOWN matters here, and both give it code 0. */
enum { RN_ACL_PATTERN_UNKNOWN = 0, RN_ACL_PERMISSION_UNKNOWN = 0 };

/* The authorized_operations value of a resource the client did not ask about (KIP-430). */
#define RN_ACL_OPERATIONS_OMITTED INT32_MIN

/* Every operation a resource of `type` supports, as a bit field: what Kafka without an
 * authorizer answers when asked. Defined for topics, groups and the cluster (the resources
 * the describe APIs answer about); RN_ACL_OPERATIONS_OMITTED for any other type. */
int32_t rn_acl_authorized_operations(rn_acl_resource_type_t type);

#endif
