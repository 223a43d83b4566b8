/* SPDX-License-Identifier: Apache-2.0 */
/* The records of __transaction_state, in Kafka's layouts (transaction-coordinator
 * TransactionLogKey.json and TransactionLogValue.json). Each starts with an INT16 version.
 *   Key version 0: transactional_id STRING.
 *   Value version 0: producer_id INT64, producer_epoch INT16, transaction_timeout_ms INT32,
 *     transaction_status INT8, transaction_partitions [topic STRING, partition_ids [INT32]]
 *     (nullable), last_update_timestamp_ms INT64, start_timestamp_ms INT64.
 *   Value version 1: the same in flexible form (compact strings and arrays, tagged fields),
 *     with tagged previous_producer_id (tag 0, default -1), next_producer_id (tag 1, -1) and
 *     client_transaction_version (tag 2, INT16, 0).
 * Kafka 4.4 writes value version 1 (with transaction.version 1 or 2 finalized, its default),
 * and so do we; both versions are read. A tombstone (null value) removes a transactional id
 * (transactional.id.expiration.ms). Bytes read here may come from a damaged file: every length
 * goes through a reader that knows where the record ends. */
#ifndef RN_COORD_TXN_RECORD_H
#define RN_COORD_TXN_RECORD_H

#include <stdint.h>

#include "util/arena.h"
#include "util/bytes.h"
#include "util/outbuf.h"

#define RN_TXN_KEY_VERSION 0
#define RN_TXN_VALUE_VERSION 1

/* Kafka's TransactionState ids, as TransactionLogValue.transaction_status stores them. */
typedef enum rn_txn_state {
    RN_TXN_EMPTY = 0,
    RN_TXN_ONGOING = 1,
    RN_TXN_PREPARE_COMMIT = 2,
    RN_TXN_PREPARE_ABORT = 3,
    RN_TXN_COMPLETE_COMMIT = 4,
    RN_TXN_COMPLETE_ABORT = 5,
    RN_TXN_DEAD = 6,
    RN_TXN_PREPARE_EPOCH_FENCE = 7,
} rn_txn_state_t;
#define RN_TXN_STATE_COUNT 8

/* Kafka's name of a state ("Empty", "Ongoing", "PrepareCommit", ...), as DescribeTransactions
 * and ListTransactions answer it; NULL for a value out of range. */
const char *rn_txn_state_name(int state);
/* The state called `name` (case-sensitive, as Kafka's TransactionState.fromName), or -1. */
int rn_txn_state_from_name(rn_str_t name);

/* One topic's partitions in a transaction. */
typedef struct rn_txn_log_topic {
    rn_str_t topic;
    const int32_t *partitions;
    int32_t npartitions;
} rn_txn_log_topic_t;

typedef struct rn_txn_log_value {
    int16_t version; /* set by decode; encode writes RN_TXN_VALUE_VERSION's layout if >= 1 */
    int64_t producer_id;
    int64_t previous_producer_id; /* -1: none */
    int64_t next_producer_id;     /* -1: none */
    int16_t producer_epoch;
    int32_t transaction_timeout_ms;
    int8_t transaction_status; /* rn_txn_state_t */
    const rn_txn_log_topic_t *topics;
    int32_t ntopics; /* -1: null (Kafka writes null for an Empty transaction) */
    int64_t last_update_timestamp_ms;
    int64_t start_timestamp_ms; /* -1 when no transaction was started */
    int16_t client_transaction_version;
} rn_txn_log_value_t;

void rn_txn_key_encode(rn_outbuf_t *w, rn_str_t transactional_id);
/* Returns 0 (the id points into `b`) or RN_EPROTO. */
int rn_txn_key_decode(rn_bytes_t b, rn_str_t *transactional_id);

/* Writes `v` at v->version (0 or 1). */
void rn_txn_value_encode(rn_outbuf_t *w, const rn_txn_log_value_t *v);
/* Decodes a value of version 0 or 1; strings point into `b`, the topic and partition arrays are
 * allocated from `arena`. Returns 0, RN_EPROTO, or RN_ENOMEM. */
int rn_txn_value_decode(rn_bytes_t b, rn_arena_t *arena, rn_txn_log_value_t *out);

#endif
