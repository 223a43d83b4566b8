/* SPDX-License-Identifier: Apache-2.0 */
/* TransactionLogKey and TransactionLogValue (txn_record.h): encoding and checked decoding. */
#include "coord/txn_record.h"

#include <string.h>

#include "proto/reader.h"
#include "proto/writer.h"
#include "util/err.h"

enum { TAG_PREVIOUS_PRODUCER_ID = 0, TAG_NEXT_PRODUCER_ID = 1, TAG_CLIENT_TXN_VERSION = 2 };

static const char *const state_names[RN_TXN_STATE_COUNT] = {
    [RN_TXN_EMPTY] = "Empty",
    [RN_TXN_ONGOING] = "Ongoing",
    [RN_TXN_PREPARE_COMMIT] = "PrepareCommit",
    [RN_TXN_PREPARE_ABORT] = "PrepareAbort",
    [RN_TXN_COMPLETE_COMMIT] = "CompleteCommit",
    [RN_TXN_COMPLETE_ABORT] = "CompleteAbort",
    [RN_TXN_DEAD] = "Dead",
    [RN_TXN_PREPARE_EPOCH_FENCE] = "PrepareEpochFence",
};

const char *rn_txn_state_name(int state)
{
    return state >= 0 && state < RN_TXN_STATE_COUNT ? state_names[state] : NULL;
}

int rn_txn_state_from_name(rn_str_t name)
{
    for (int s = 0; s < RN_TXN_STATE_COUNT; s++)
        if (rn_str_eq_cstr(name, state_names[s]))
            return s;
    return -1;
}

void rn_txn_key_encode(rn_outbuf_t *w, rn_str_t transactional_id)
{
    rn_write_int16(w, RN_TXN_KEY_VERSION);
    rn_write_string(w, false, transactional_id);
}

int rn_txn_key_decode(rn_bytes_t b, rn_str_t *transactional_id)
{
    rn_reader_t r;
    rn_reader_init(&r, b.ptr, b.len);
    int16_t version = rn_read_int16(&r, "key version");
    rn_str_t id = rn_read_string(&r, false, false, "transactional_id");
    if (!rn_reader_ok(&r) || version != RN_TXN_KEY_VERSION || rn_reader_left(&r) != 0)
        return RN_EPROTO;
    *transactional_id = id;
    return 0;
}

/* Tagged fields are written in ascending tag order, each only when it is not its default. */
static void write_tags(rn_outbuf_t *w, const rn_txn_log_value_t *v)
{
    uint32_t n = (v->previous_producer_id != -1) + (v->next_producer_id != -1) +
                 (v->client_transaction_version != 0);
    rn_write_uvarint(w, n);
    if (v->previous_producer_id != -1) {
        rn_write_uvarint(w, TAG_PREVIOUS_PRODUCER_ID);
        rn_write_uvarint(w, 8);
        rn_write_int64(w, v->previous_producer_id);
    }
    if (v->next_producer_id != -1) {
        rn_write_uvarint(w, TAG_NEXT_PRODUCER_ID);
        rn_write_uvarint(w, 8);
        rn_write_int64(w, v->next_producer_id);
    }
    if (v->client_transaction_version != 0) {
        rn_write_uvarint(w, TAG_CLIENT_TXN_VERSION);
        rn_write_uvarint(w, 2);
        rn_write_int16(w, v->client_transaction_version);
    }
}

void rn_txn_value_encode(rn_outbuf_t *w, const rn_txn_log_value_t *v)
{
    bool flex = v->version >= 1;
    rn_write_int16(w, flex ? 1 : 0);
    rn_write_int64(w, v->producer_id);
    rn_write_int16(w, v->producer_epoch);
    rn_write_int32(w, v->transaction_timeout_ms);
    rn_write_int8(w, v->transaction_status);
    rn_write_array_len(w, flex, v->ntopics);
    for (int32_t t = 0; t < v->ntopics; t++) {
        const rn_txn_log_topic_t *topic = &v->topics[t];
        rn_write_string(w, flex, topic->topic);
        rn_write_array_len(w, flex, topic->npartitions);
        for (int32_t i = 0; i < topic->npartitions; i++)
            rn_write_int32(w, topic->partitions[i]);
        if (flex)
            rn_write_uvarint(w, 0); /* the entry's tagged fields: none */
    }
    rn_write_int64(w, v->last_update_timestamp_ms);
    rn_write_int64(w, v->start_timestamp_ms);
    if (flex)
        write_tags(w, v);
}

/* Reads the value's tagged fields: the known ones by tag and size, others skipped (a later
 * Kafka may add some). */
static bool read_tags(rn_reader_t *r, rn_txn_log_value_t *v)
{
    uint32_t n = rn_read_uvarint(r, "tagged field count");
    for (uint32_t i = 0; i < n && rn_reader_ok(r); i++) {
        uint32_t tag = rn_read_uvarint(r, "tag");
        uint32_t size = rn_read_uvarint(r, "tagged field size");
        rn_reader_t field = rn_reader_split(r, size, "tagged field");
        if (!rn_reader_ok(r))
            return false;
        if (tag == TAG_PREVIOUS_PRODUCER_ID)
            v->previous_producer_id = rn_read_int64(&field, "previous_producer_id");
        else if (tag == TAG_NEXT_PRODUCER_ID)
            v->next_producer_id = rn_read_int64(&field, "next_producer_id");
        else if (tag == TAG_CLIENT_TXN_VERSION)
            v->client_transaction_version = rn_read_int16(&field, "client_transaction_version");
        else
            continue;
        if (!rn_reader_ok(&field) || rn_reader_left(&field) != 0)
            return false;
    }
    return rn_reader_ok(r);
}

static bool skip_tags(rn_reader_t *r)
{
    uint32_t n = rn_read_uvarint(r, "tagged field count");
    for (uint32_t i = 0; i < n && rn_reader_ok(r); i++) {
        rn_read_uvarint(r, "tag");
        uint32_t size = rn_read_uvarint(r, "tagged field size");
        rn_reader_skip(r, size, "tagged field");
    }
    return rn_reader_ok(r);
}

static int decode_topics(rn_reader_t *r, bool flex, rn_arena_t *arena, rn_txn_log_value_t *v)
{
    /* An entry takes at least 6 bytes in version 0 (empty string, empty array) and 3 in
     * version 1 (with its tag count), so a count the record cannot hold is refused here. */
    int32_t n = rn_read_array_len(r, flex, true, flex ? 3 : 6, "transaction_partitions");
    if (!rn_reader_ok(r))
        return RN_EPROTO;
    v->ntopics = n;
    v->topics = NULL;
    if (n <= 0)
        return 0;
    rn_txn_log_topic_t *topics = rn_arena_try_alloc_array(arena, rn_txn_log_topic_t, n);
    if (topics == NULL)
        return RN_ENOMEM;
    for (int32_t t = 0; t < n; t++) {
        topics[t].topic = rn_read_string(r, flex, false, "topic");
        int32_t np = rn_read_array_len(r, flex, false, 4, "partition_ids");
        if (!rn_reader_ok(r))
            return RN_EPROTO;
        int32_t *parts = np > 0 ? rn_arena_try_alloc_array(arena, int32_t, np) : NULL;
        if (np > 0 && parts == NULL)
            return RN_ENOMEM;
        for (int32_t i = 0; i < np; i++)
            parts[i] = rn_read_int32(r, "partition_id");
        if (flex && !skip_tags(r))
            return RN_EPROTO;
        topics[t].partitions = parts;
        topics[t].npartitions = np;
    }
    v->topics = topics;
    return rn_reader_ok(r) ? 0 : RN_EPROTO;
}

int rn_txn_value_decode(rn_bytes_t b, rn_arena_t *arena, rn_txn_log_value_t *out)
{
    rn_reader_t r;
    rn_reader_init(&r, b.ptr, b.len);
    *out = (rn_txn_log_value_t){ .previous_producer_id = -1, .next_producer_id = -1 };
    int16_t version = rn_read_int16(&r, "value version");
    if (!rn_reader_ok(&r) || version < 0 || version > 1)
        return RN_EPROTO;
    bool flex = version >= 1;
    out->version = version;
    out->producer_id = rn_read_int64(&r, "producer_id");
    out->producer_epoch = rn_read_int16(&r, "producer_epoch");
    out->transaction_timeout_ms = rn_read_int32(&r, "transaction_timeout_ms");
    out->transaction_status = rn_read_int8(&r, "transaction_status");
    int rc = decode_topics(&r, flex, arena, out);
    if (rc != 0)
        return rc;
    out->last_update_timestamp_ms = rn_read_int64(&r, "last_update_timestamp_ms");
    out->start_timestamp_ms = rn_read_int64(&r, "start_timestamp_ms");
    if (flex && !read_tags(&r, out))
        return RN_EPROTO;
    if (!rn_reader_ok(&r) || rn_reader_left(&r) != 0)
        return RN_EPROTO;
    if (out->transaction_status < 0 || out->transaction_status >= RN_TXN_STATE_COUNT)
        return RN_EPROTO;
    return 0;
}
