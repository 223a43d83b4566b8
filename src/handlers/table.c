/* SPDX-License-Identifier: Apache-2.0 */
/* The handler table: which APIs and versions this broker serves. ApiVersions advertises
 * exactly this table, so an entry is added when its handler lands, never before. Ranges
 * start at v0 (CLIENTS.md rule 2: librdkafka enables features only when an advertised range
 * overlaps fixed versions, and kafkajs ignores minimums). */
#include "handlers/handlers.h"

static const rn_handler_t handlers[] = {
    /* Produce and Fetch start at v0 although v0-v2 / v0-v3 (magic 0/1) get
     * UNSUPPORTED_FOR_MESSAGE_FORMAT for now: librdkafka turns compression off without a word
     * when Produce's advertised minimum is above 0 (KAFKA-18659; CLIENTS.md rule 11). */
    /* Produce v11 adds TRANSACTION_ABORTABLE, v12 adds partitions to a transaction implicitly
     * (KIP-890), v13 needs both: they wait for transactions (issue 11). Fetch v14-v18 add only
     * what followers send or what a one-node broker never answers (tiered storage, KIP-951's
     * new-leader hints), so a consumer's fetch means the same at v18 as at v13. */
    [RN_API_PRODUCE] = { .min = 0, .max = 10, .fn = rn_handle_produce },
    [RN_API_FETCH] = { .min = 0, .max = 18, .fn = rn_handle_fetch },
    [RN_API_LIST_OFFSETS] = { .min = 0, .max = 11, .fn = rn_handle_list_offsets },
    [RN_API_METADATA] = { .min = 0, .max = 13, .fn = rn_handle_metadata },
    [RN_API_OFFSET_COMMIT] = { .min = 0, .max = 10, .fn = rn_handle_offset_commit },
    [RN_API_OFFSET_FETCH] = { .min = 0, .max = 10, .fn = rn_handle_offset_fetch },
    [RN_API_FIND_COORDINATOR] = { .min = 0, .max = 5, .fn = rn_handle_find_coordinator },
    /* Classic consumer groups (issue #6); ListGroups v5 lists them as type "classic". */
    [RN_API_JOIN_GROUP] = { .min = 0, .max = 9, .fn = rn_handle_join_group },
    [RN_API_HEARTBEAT] = { .min = 0, .max = 4, .fn = rn_handle_heartbeat },
    [RN_API_LEAVE_GROUP] = { .min = 0, .max = 5, .fn = rn_handle_leave_group },
    [RN_API_SYNC_GROUP] = { .min = 0, .max = 5, .fn = rn_handle_sync_group },
    [RN_API_DESCRIBE_GROUPS] = { .min = 0, .max = 6, .fn = rn_handle_describe_groups },
    [RN_API_LIST_GROUPS] = { .min = 0, .max = 5, .fn = rn_handle_list_groups },
    [RN_API_DELETE_GROUPS] = { .min = 0, .max = 3, .fn = rn_handle_delete_groups },
    [RN_API_API_VERSIONS] = { .min = 0, .max = 5, .fn = rn_handle_api_versions },
    /* Admin requests go to the controller, and this node is always the controller. */
    [RN_API_CREATE_TOPICS] = { .min = 0, .max = 7, .fn = rn_handle_create_topics },
    [RN_API_DELETE_TOPICS] = { .min = 0, .max = 6, .fn = rn_handle_delete_topics },
    [RN_API_DELETE_RECORDS] = { .min = 0, .max = 2, .fn = rn_handle_delete_records },
    [RN_API_DESCRIBE_ACLS] = { .min = 0, .max = 3, .fn = rn_handle_describe_acls },
    [RN_API_CREATE_ACLS] = { .min = 0, .max = 3, .fn = rn_handle_create_acls },
    [RN_API_DELETE_ACLS] = { .min = 0, .max = 3, .fn = rn_handle_delete_acls },
    [RN_API_DESCRIBE_CONFIGS] = { .min = 0, .max = 4, .fn = rn_handle_describe_configs },
    [RN_API_ALTER_CONFIGS] = { .min = 0, .max = 2, .fn = rn_handle_alter_configs },
    [RN_API_CREATE_PARTITIONS] = { .min = 0, .max = 3, .fn = rn_handle_create_partitions },
    [RN_API_INCREMENTAL_ALTER_CONFIGS] = { .min = 0,
                                           .max = 1,
                                           .fn = rn_handle_incremental_alter_configs },
    [RN_API_OFFSET_DELETE] = { .min = 0, .max = 0, .fn = rn_handle_offset_delete },
    /* What today's Admin and consumers ask of the cluster (issue 10). */
    [RN_API_OFFSET_FOR_LEADER_EPOCH] = { .min = 0,
                                         .max = 4,
                                         .fn = rn_handle_offset_for_leader_epoch },
    [RN_API_DESCRIBE_LOG_DIRS] = { .min = 0, .max = 5, .fn = rn_handle_describe_log_dirs },
    [RN_API_DESCRIBE_CLUSTER] = { .min = 0, .max = 2, .fn = rn_handle_describe_cluster },
    /* Idempotent and transactional producers (issue 11), transaction protocol version 1:
     * AddPartitionsToTxn v4+ are broker-to-broker and EndTxn v5 is version 2 (KIP-890). */
    [RN_API_INIT_PRODUCER_ID] = { .min = 0, .max = 5, .fn = rn_handle_init_producer_id },
    /* Producer state of partitions, for operators (issue 11). */
    [RN_API_DESCRIBE_PRODUCERS] = { .min = 0, .max = 0, .fn = rn_handle_describe_producers },
    [RN_API_ADD_PARTITIONS_TO_TXN] = { .min = 0, .max = 3, .fn = rn_handle_add_partitions_to_txn },
    [RN_API_ADD_OFFSETS_TO_TXN] = { .min = 0, .max = 4, .fn = rn_handle_add_offsets_to_txn },
    [RN_API_END_TXN] = { .min = 0, .max = 4, .fn = rn_handle_end_txn },
    [RN_API_TXN_OFFSET_COMMIT] = { .min = 0, .max = 4, .fn = rn_handle_txn_offset_commit },
    [RN_API_DESCRIBE_TRANSACTIONS] = { .min = 0, .max = 0, .fn = rn_handle_describe_transactions },
    [RN_API_LIST_TRANSACTIONS] = { .min = 0, .max = 1, .fn = rn_handle_list_transactions },
    [RN_API_DESCRIBE_TOPIC_PARTITIONS] = { .min = 0,
                                           .max = 0,
                                           .fn = rn_handle_describe_topic_partitions },
};

enum { HANDLER_SLOTS = sizeof handlers / sizeof handlers[0] };

const rn_handler_t *rn_handlers_find(int16_t api_key)
{
    if (api_key < 0 || api_key >= HANDLER_SLOTS || handlers[api_key].fn == NULL)
        return NULL;
    return &handlers[api_key];
}

size_t rn_handlers_list(int16_t *keys, int16_t *mins, int16_t *maxs, size_t cap)
{
    size_t n = 0;
    for (int k = 0; k < HANDLER_SLOTS; k++) {
        if (handlers[k].fn == NULL)
            continue;
        if (n < cap) {
            keys[n] = (int16_t)k;
            mins[n] = handlers[k].min;
            maxs[n] = handlers[k].max;
        }
        n++;
    }
    return n;
}
