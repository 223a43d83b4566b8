/* SPDX-License-Identifier: Apache-2.0 */
/* The transactional requests (src/handlers/txn.c, txn_offset_commit.c, txn_admin.c,
 * init_producer_id.c with a transactional id, and produce.c's check of transactional batches)
 * driven with real frames through rn_handlers_dispatch against a real coordinator. Expected
 * answers are Kafka 4.4's to the same requests: per-version mapping of PRODUCER_FENCED (47
 * before KIP-588's versions, 90 after), AddPartitionsToTxn's OPERATION_NOT_ATTEMPTED beside an
 * unknown partition, TxnOffsetCommit's INVALID_TXN_STATE / TRANSACTION_ABORTABLE (v4) for a
 * group not added, OffsetFetch require_stable's UNSTABLE_OFFSET_COMMIT while a transaction
 * holds the offset, Produce's INVALID_TXN_STATE with Kafka's message, DescribeTransactions'
 * and ListTransactions' answers for unknown ids and state names. */
#include "handlers/fixture.h"
#include "kerr_assert.h"

static void start(void)
{
    fixture_start("txn",
                  "auto.create.topics.enable=false\noffsets.topic.num.partitions=3\n"
                  "transaction.state.log.num.partitions=3\n",
                  true);
    rn_topic_spec_t spec = { .name = S("t"), .num_partitions = 2, .replication_factor = 1 };
    rn_topic_t *topic = NULL;
    cr_assert_eq(rn_topics_create(fx.topics, &spec, false, &topic).error_code, 0);
    rn_topic_unref(topic);
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(txn_handlers, .init = start, .fini = stop);

/* ---- requests ---- */

static rn_init_producer_id_response_t init_v(int16_t v, const char *id, int64_t pid, int16_t epoch)
{
    rn_init_producer_id_request_t body;
    rn_init_producer_id_request_init(&body);
    body.transactional_id = S(id);
    body.transaction_timeout_ms = 60000;
    body.producer_id = pid;
    body.producer_epoch = epoch;
    rn_init_producer_id_response_t resp;
    call(RN_API_INIT_PRODUCER_ID, v, &body, &resp);
    return resp;
}

/* AddPartitionsToTxn v0-v3 with one topic's partitions; the answer for topic i, partition j. */
static rn_add_partitions_to_txn_response_t add_v(int16_t v, const char *id, int64_t pid,
                                                 int16_t epoch, const char *topic, int32_t *parts,
                                                 int n)
{
    rn_add_partitions_to_txn_request_t body;
    rn_add_partitions_to_txn_request_init(&body);
    body.v3_and_below_transactional_id = S(id);
    body.v3_and_below_producer_id = pid;
    body.v3_and_below_producer_epoch = epoch;
    rn_add_partitions_to_txn_request_topic_t t;
    rn_add_partitions_to_txn_request_topic_init(&t);
    t.name = S(topic);
    t.partitions.items = parts;
    t.partitions.count = n;
    body.v3_and_below_topics.items = &t;
    body.v3_and_below_topics.count = 1;
    rn_add_partitions_to_txn_response_t resp;
    call(RN_API_ADD_PARTITIONS_TO_TXN, v, &body, &resp);
    return resp;
}

static int16_t add_error(const rn_add_partitions_to_txn_response_t *r, int32_t partition)
{
    for (int32_t t = 0; t < r->results_by_topic_v3_and_below.count; t++)
        for (int32_t i = 0;
             i < r->results_by_topic_v3_and_below.items[t].results_by_partition.count; i++)
            if (r->results_by_topic_v3_and_below.items[t]
                    .results_by_partition.items[i]
                    .partition_index == partition)
                return r->results_by_topic_v3_and_below.items[t]
                    .results_by_partition.items[i]
                    .partition_error_code;
    cr_assert_fail("no answer for partition %d", partition);
    return -1;
}

static int16_t add_offsets_v(int16_t v, const char *id, int64_t pid, int16_t epoch,
                             const char *group)
{
    rn_add_offsets_to_txn_request_t body;
    rn_add_offsets_to_txn_request_init(&body);
    body.transactional_id = S(id);
    body.producer_id = pid;
    body.producer_epoch = epoch;
    body.group_id = S(group);
    rn_add_offsets_to_txn_response_t resp;
    call(RN_API_ADD_OFFSETS_TO_TXN, v, &body, &resp);
    return resp.error_code;
}

static int16_t end_v(int16_t v, const char *id, int64_t pid, int16_t epoch, bool commit)
{
    rn_end_txn_request_t body;
    rn_end_txn_request_init(&body);
    body.transactional_id = S(id);
    body.producer_id = pid;
    body.producer_epoch = epoch;
    body.committed = commit;
    rn_end_txn_response_t resp;
    call(RN_API_END_TXN, v, &body, &resp);
    return resp.error_code;
}

static int16_t txn_commit_v(int16_t v, const char *id, const char *group, int64_t pid,
                            int16_t epoch, const char *topic, int32_t partition, int64_t offset)
{
    rn_txn_offset_commit_request_t body;
    rn_txn_offset_commit_request_init(&body);
    body.transactional_id = S(id);
    body.group_id = S(group);
    body.producer_id = pid;
    body.producer_epoch = epoch;
    rn_txn_offset_commit_request_partition_t p;
    rn_txn_offset_commit_request_partition_init(&p);
    p.partition_index = partition;
    p.committed_offset = offset;
    p.committed_metadata = S("m");
    rn_txn_offset_commit_request_topic_t t;
    rn_txn_offset_commit_request_topic_init(&t);
    t.name = S(topic);
    t.partitions.items = &p;
    t.partitions.count = 1;
    body.topics.items = &t;
    body.topics.count = 1;
    rn_txn_offset_commit_response_t resp;
    call(RN_API_TXN_OFFSET_COMMIT, v, &body, &resp);
    cr_assert_eq(resp.topics.count, 1);
    cr_assert_eq(resp.topics.items[0].partitions.count, 1);
    return resp.topics.items[0].partitions.items[0].error_code;
}

/* OffsetFetch v7 with require_stable of group/t-0. */
static rn_offset_fetch_response_partition_t fetch_stable(const char *group)
{
    rn_offset_fetch_request_t body;
    rn_offset_fetch_request_init(&body);
    body.group_id = S(group);
    int32_t partition = 0;
    rn_offset_fetch_request_topic_t t;
    rn_offset_fetch_request_topic_init(&t);
    t.name = S("t");
    t.partition_indexes.items = &partition;
    t.partition_indexes.count = 1;
    body.topics.items = &t;
    body.topics.count = 1;
    body.require_stable = true;
    rn_offset_fetch_response_t resp;
    call(RN_API_OFFSET_FETCH, 7, &body, &resp);
    return resp.topics.items[0].partitions.items[0];
}

/* A transaction of "tx" at its producer's id and epoch, set up through the handlers. */
static void begin(int64_t *pid, int16_t *epoch)
{
    rn_init_producer_id_response_t r = init_v(4, "tx", -1, -1);
    assert_kerr(r.error_code, 0);
    *pid = r.producer_id;
    *epoch = r.producer_epoch;
}

/* ---- tests ---- */

Test(txn_handlers, init_producer_id_maps_fencing_to_the_versions_error)
{
    int64_t pid;
    int16_t epoch;
    begin(&pid, &epoch);
    cr_assert_eq(epoch, 0);
    rn_init_producer_id_response_t r = init_v(4, "tx", pid, 9);
    assert_kerr(r.error_code, RN_KERR_PRODUCER_FENCED);
    cr_assert_eq(r.producer_id, -1);
    r = init_v(3, "tx", pid, 9);
    assert_kerr(r.error_code, RN_KERR_INVALID_PRODUCER_EPOCH, " v3 knows no PRODUCER_FENCED");
    r = init_v(0, "tx", -1, -1);
    assert_kerr(r.error_code, 0);
    cr_assert_eq(r.producer_epoch, 1);
}

Test(txn_handlers, add_partitions_checks_every_partition_exists_first)
{
    int64_t pid;
    int16_t epoch;
    begin(&pid, &epoch);
    int32_t parts[] = { 0, 7, 0 };
    rn_add_partitions_to_txn_response_t r = add_v(3, "tx", pid, epoch, "t", parts, 3);
    cr_assert_eq(r.results_by_topic_v3_and_below.count, 1);
    cr_assert_eq(r.results_by_topic_v3_and_below.items[0].results_by_partition.count, 2,
                 "a partition named twice is answered once");
    assert_kerr(add_error(&r, 0), RN_KERR_OPERATION_NOT_ATTEMPTED);
    assert_kerr(add_error(&r, 7), RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    r = add_v(3, "", pid, epoch, "t", parts, 1);
    assert_kerr(add_error(&r, 0), RN_KERR_INVALID_REQUEST);
    r = add_v(1, "tx", pid, epoch + 1, "t", parts, 1);
    assert_kerr(add_error(&r, 0), RN_KERR_INVALID_PRODUCER_EPOCH);
    r = add_v(2, "tx", pid, epoch + 1, "t", parts, 1);
    assert_kerr(add_error(&r, 0), RN_KERR_PRODUCER_FENCED);
    r = add_v(3, "tx", pid, epoch, "t", parts, 1);
    assert_kerr(add_error(&r, 0), RN_KERR_NONE);
}

Test(txn_handlers, end_txn_answers_as_kafka_at_each_version)
{
    int64_t pid;
    int16_t epoch;
    begin(&pid, &epoch);
    assert_kerr(end_v(3, "", pid, epoch, true), RN_KERR_INVALID_REQUEST);
    assert_kerr(end_v(3, "tx", pid, epoch, true), RN_KERR_INVALID_TXN_STATE, " nothing begun");
    assert_kerr(end_v(1, "tx", pid, epoch + 1, true), RN_KERR_INVALID_PRODUCER_EPOCH);
    assert_kerr(end_v(4, "tx", pid, epoch + 1, true), RN_KERR_PRODUCER_FENCED);
    assert_kerr(end_v(4, "none", pid, epoch, true), RN_KERR_INVALID_PRODUCER_ID_MAPPING);
    int32_t part = 1;
    add_v(3, "tx", pid, epoch, "t", &part, 1);
    assert_kerr(end_v(4, "tx", pid, epoch, false), RN_KERR_NONE);
    assert_kerr(end_v(4, "tx", pid, epoch, false), RN_KERR_NONE, " a retry");
}

Test(txn_handlers, txn_offset_commit_needs_the_group_in_the_transaction)
{
    int64_t pid;
    int16_t epoch;
    begin(&pid, &epoch);
    assert_kerr(txn_commit_v(3, "tx", "g", pid, epoch, "t", 0, 5), RN_KERR_INVALID_TXN_STATE);
    assert_kerr(txn_commit_v(4, "tx", "g", pid, epoch, "t", 0, 5), RN_KERR_TRANSACTION_ABORTABLE);
    assert_kerr(txn_commit_v(3, "tx", "", pid, epoch, "t", 0, 5), RN_KERR_INVALID_GROUP_ID);
    assert_kerr(txn_commit_v(3, "tx", "g", pid, epoch, "nope", 0, 5),
                RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_kerr(add_offsets_v(3, "tx", pid, epoch, "g"), RN_KERR_NONE);
    assert_kerr(add_offsets_v(1, "tx", pid, epoch + 1, "g"), RN_KERR_INVALID_PRODUCER_EPOCH);
    assert_kerr(txn_commit_v(3, "tx", "g", pid, epoch + 1, "t", 0, 5),
                RN_KERR_INVALID_PRODUCER_EPOCH);
    assert_kerr(txn_commit_v(3, "tx", "g", pid + 1, epoch, "t", 0, 5),
                RN_KERR_INVALID_PRODUCER_ID_MAPPING);
    assert_kerr(txn_commit_v(3, "tx", "g", pid, epoch, "t", 0, 5), RN_KERR_NONE);
    rn_offset_fetch_response_partition_t f = fetch_stable("g");
    assert_kerr(f.error_code, RN_KERR_UNSTABLE_OFFSET_COMMIT);
    cr_assert_eq(f.committed_offset, -1);
    assert_kerr(end_v(4, "tx", pid, epoch, true), RN_KERR_NONE);
    f = fetch_stable("g");
    assert_kerr(f.error_code, 0);
    cr_assert_eq(f.committed_offset, 5);
}

/* Produce v`v` of one transactional batch of producer `pid` at `epoch` into t-`partition`
 * for transactional id "tx"; the partition's answer. */
static rn_produce_response_partition_t produce_txn(int16_t v, int32_t partition, int64_t pid,
                                                   int16_t epoch, int32_t seq)
{
    uint8_t *batch;
    size_t len;
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    rn_batch_builder_set_producer(&b, pid, epoch, seq, RN_BATCH_ATTR_TRANSACTIONAL);
    cr_assert_eq(rn_batch_builder_add(&b, NOW, (rn_bytes_t){ NULL, 0 },
                                      (rn_bytes_t){ (const uint8_t *)"v", 1 }),
                 0);
    cr_assert_eq(rn_batch_builder_finish(&b, &batch, &len, NULL), 0);
    rn_produce_request_t body;
    rn_produce_request_init(&body);
    body.transactional_id = S("tx");
    body.acks = -1;
    body.timeout_ms = 30000;
    rn_produce_request_partition_t qp;
    rn_produce_request_partition_init(&qp);
    qp.index = partition;
    qp.records = (rn_records_t){ .ptr = batch, .len = len };
    rn_produce_request_topic_t qt;
    rn_produce_request_topic_init(&qt);
    qt.name = S("t");
    qt.partition_data.items = &qp;
    qt.partition_data.count = 1;
    body.topic_data.items = &qt;
    body.topic_data.count = 1;
    rn_produce_response_t resp;
    call(RN_API_PRODUCE, v, &body, &resp);
    free(batch);
    cr_assert_eq(resp.responses.count, 1);
    return resp.responses.items[0].partition_responses.items[0];
}

Test(txn_handlers, produce_refuses_a_transactional_batch_outside_its_transaction)
{
    int64_t pid;
    int16_t epoch;
    begin(&pid, &epoch);
    int32_t part = 0;
    add_v(3, "tx", pid, epoch, "t", &part, 1);
    rn_produce_response_partition_t r = produce_txn(10, 1, pid, epoch, 0);
    assert_kerr(r.error_code, RN_KERR_INVALID_TXN_STATE);
    cr_assert(rn_str_eq_cstr(r.error_message, "Partition was not added to the transaction"));
    cr_assert_eq(r.log_start_offset, -1);
    r = produce_txn(10, 0, pid, epoch + 1, 0);
    assert_kerr(r.error_code, RN_KERR_INVALID_PRODUCER_EPOCH, " fenced, at every version");
    r = produce_txn(10, 0, pid + 3, epoch, 0);
    assert_kerr(r.error_code, RN_KERR_INVALID_PRODUCER_ID_MAPPING);
    r = produce_txn(10, 0, pid, epoch, 0);
    assert_kerr(r.error_code, RN_KERR_NONE);
    cr_assert_eq(r.base_offset, 0);
    assert_kerr(end_v(4, "tx", pid, epoch, true), RN_KERR_NONE);
    r = produce_txn(3, 0, pid, epoch, 1);
    assert_kerr(r.error_code, RN_KERR_INVALID_TXN_STATE, " the transaction is over");
}

Test(txn_handlers, describe_and_list_answer_as_kafka)
{
    int64_t pid;
    int16_t epoch;
    begin(&pid, &epoch);
    int32_t parts[] = { 1, 0 };
    add_v(3, "tx", pid, epoch, "t", parts, 2);
    rn_str_t ids[] = { S("tx"), S("nope"), S("") };
    rn_describe_transactions_request_t dq;
    rn_describe_transactions_request_init(&dq);
    dq.transactional_ids.items = ids;
    dq.transactional_ids.count = 3;
    rn_describe_transactions_response_t d;
    call(RN_API_DESCRIBE_TRANSACTIONS, 0, &dq, &d);
    cr_assert_eq(d.transaction_states.count, 3);
    rn_describe_transactions_response_transaction_state_t *s = d.transaction_states.items;
    assert_kerr(s[0].error_code, 0);
    cr_assert(rn_str_eq_cstr(s[0].transaction_state, "Ongoing"));
    cr_assert_eq(s[0].producer_id, pid);
    cr_assert_eq(s[0].transaction_timeout_ms, 60000);
    cr_assert_eq(s[0].topics.count, 1);
    cr_assert(rn_str_eq_cstr(s[0].topics.items[0].topic, "t"));
    cr_assert_eq(s[0].topics.items[0].partitions.count, 2);
    assert_kerr(s[1].error_code, RN_KERR_TRANSACTIONAL_ID_NOT_FOUND);
    cr_assert(rn_str_eq_cstr(s[1].transaction_state, ""));
    assert_kerr(s[2].error_code, RN_KERR_INVALID_REQUEST);

    rn_str_t filters[] = { S("Ongoing"), S("ongoing"), S("Bogus") };
    rn_list_transactions_request_t lq;
    rn_list_transactions_request_init(&lq);
    lq.state_filters.items = filters;
    lq.state_filters.count = 3;
    rn_list_transactions_response_t l;
    call(RN_API_LIST_TRANSACTIONS, 1, &lq, &l);
    assert_kerr(l.error_code, 0);
    cr_assert_eq(l.unknown_state_filters.count, 2, "names are case-sensitive");
    cr_assert(rn_str_eq_cstr(l.unknown_state_filters.items[0], "ongoing"));
    cr_assert_eq(l.transaction_states.count, 1);
    cr_assert(rn_str_eq_cstr(l.transaction_states.items[0].transactional_id, "tx"));
    cr_assert(rn_str_eq_cstr(l.transaction_states.items[0].transaction_state, "Ongoing"));
    lq.state_filters.count = 0;
    lq.duration_filter = 0;
    call(RN_API_LIST_TRANSACTIONS, 0, &lq, &l);
    cr_assert_eq(l.transaction_states.count, 1, "v0 has no duration filter");
}
