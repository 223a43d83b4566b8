/* SPDX-License-Identifier: Apache-2.0 */
/* TransactionLogKey / TransactionLogValue (src/coord/txn_record.c) against the bytes Kafka 4.4.0
 * wrote to __transaction_state-20 for the transactional id "tx-golden" (producer id 13) while
 * librdkafka 2.0.2 (python3-confluent-kafka 1.7 from Debian) ran init_transactions, a commit of
 * two partitions of "t1", and a commit with send_offsets_to_transaction for group "g-golden"
 * (__consumer_offsets-39): read from the segment file with a hex dump. Then version 0, a
 * truncation sweep, trailing bytes, hostile counts and unknown versions and tags. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/store.h"
#include "coord/txn_record.h"
#include "records/records.h"
#include "util/err.h"

/* Hex text to bytes, for the golden dumps. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    cr_assert_leq(n, cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        cr_assert_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static bool str_is(rn_str_t s, const char *want)
{
    return s.ptr != NULL && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static const char key_hex[] = "0000000974782d676f6c64656e";

/* After InitProducerId: Empty, partitions null, no start time. */
static const char empty_hex[] = "0001000000000000000d0000000075300000000001a2358f64aeffffffffffff"
                                "ffff010008000000000000000d";
/* After AddPartitionsToTxn of t1-1 and t1-0 (Kafka's set order). */
static const char ongoing_hex[] = "0001000000000000000d00000000753001020374310300000001000000000000"
                                  "0001a2358f6871000001a2358f6871010008000000000000000d";
/* After EndTxn(commit) was written out: an empty array (not null), the start time kept. */
static const char complete_hex[] =
    "0001000000000000000d0000000075300401000001a2358f68d4000001a2358f"
    "6871010008000000000000000d";
/* PrepareCommit of a transaction holding t1-1 and __consumer_offsets-39. */
static const char prepare_hex[] = "0001000000000000000d0000000075300203037431020000000100135f5f636f"
                                  "6e73756d65725f6f666673657473020000002700000001a2358f6dbd000001"
                                  "a2358f694f010008000000000000000d";
/* The whole first batch of the segment (base offset 0, leader epoch 0 as the log wrote them). */
static const char batch_hex[] =
    "0000000000000000000000730000000002bf4935e7000000000000000001a2358f64b9000001a2358f64b9ff"
    "ffffffffffffffffffffffffff0000000180010000001a0000000974782d676f6c64656e5a00010000000000"
    "00000d0000000075300000000001a2358f64aeffffffffffffffff010008000000000000000d00";

typedef struct golden {
    uint8_t bytes[256];
    size_t len;
    rn_arena_t arena;
    rn_txn_log_value_t v;
} golden_t;

static void decode_golden(golden_t *g, const char *hex)
{
    g->len = unhex(hex, g->bytes, sizeof g->bytes);
    rn_arena_init(&g->arena, 0);
    cr_assert_eq(rn_txn_value_decode((rn_bytes_t){ g->bytes, g->len }, &g->arena, &g->v), 0);
}

/* Encodes `v` and compares with `want`. */
static void assert_encodes_to(const rn_txn_log_value_t *v, const uint8_t *want, size_t len)
{
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_txn_value_encode(&w, v);
    cr_assert_not(w.failed);
    cr_assert_eq(w.len, len, "%zu bytes, want %zu", w.len, len);
    cr_assert_eq(memcmp(w.data, want, len), 0);
    rn_outbuf_deinit(&w);
}

Test(txn_record, key_is_version_0_and_the_transactional_id)
{
    uint8_t want[32];
    size_t len = unhex(key_hex, want, sizeof want);
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_txn_key_encode(&w, rn_str_from_cstr("tx-golden"));
    cr_assert_eq(w.len, len);
    cr_assert_eq(memcmp(w.data, want, len), 0);
    rn_outbuf_deinit(&w);
    rn_str_t id;
    cr_assert_eq(rn_txn_key_decode((rn_bytes_t){ want, len }, &id), 0);
    cr_assert(str_is(id, "tx-golden"));
    want[1] = 1;
    cr_assert_eq(rn_txn_key_decode((rn_bytes_t){ want, len }, &id), RN_EPROTO, "key version 1");
    want[1] = 0;
    cr_assert_eq(rn_txn_key_decode((rn_bytes_t){ want, len - 1 }, &id), RN_EPROTO);
}

Test(txn_record, the_empty_state_kafka_wrote_decodes_and_encodes_back)
{
    golden_t g;
    decode_golden(&g, empty_hex);
    cr_assert_eq(g.v.version, 1);
    cr_assert_eq(g.v.producer_id, 13);
    cr_assert_eq(g.v.previous_producer_id, 13, "Kafka 4.4 records the id before the transition");
    cr_assert_eq(g.v.next_producer_id, -1);
    cr_assert_eq(g.v.producer_epoch, 0);
    cr_assert_eq(g.v.transaction_timeout_ms, 30000);
    cr_assert_eq(g.v.transaction_status, RN_TXN_EMPTY);
    cr_assert_eq(g.v.ntopics, -1, "null partitions");
    cr_assert_eq(g.v.last_update_timestamp_ms, 1796194919598);
    cr_assert_eq(g.v.start_timestamp_ms, -1);
    cr_assert_eq(g.v.client_transaction_version, 0);
    assert_encodes_to(&g.v, g.bytes, g.len);
    rn_arena_deinit(&g.arena);
}

Test(txn_record, ongoing_complete_and_prepare_states_round_trip)
{
    golden_t g;
    decode_golden(&g, ongoing_hex);
    cr_assert_eq(g.v.transaction_status, RN_TXN_ONGOING);
    cr_assert_eq(g.v.ntopics, 1);
    cr_assert(str_is(g.v.topics[0].topic, "t1"));
    cr_assert_eq(g.v.topics[0].npartitions, 2);
    cr_assert_eq(g.v.topics[0].partitions[0], 1);
    cr_assert_eq(g.v.topics[0].partitions[1], 0);
    cr_assert_eq(g.v.start_timestamp_ms, 1796194920561);
    assert_encodes_to(&g.v, g.bytes, g.len);
    rn_arena_deinit(&g.arena);

    decode_golden(&g, complete_hex);
    cr_assert_eq(g.v.transaction_status, RN_TXN_COMPLETE_COMMIT);
    cr_assert_eq(g.v.ntopics, 0, "an empty array, not null");
    cr_assert_eq(g.v.start_timestamp_ms, 1796194920561, "kept from the transaction");
    assert_encodes_to(&g.v, g.bytes, g.len);
    rn_arena_deinit(&g.arena);

    decode_golden(&g, prepare_hex);
    cr_assert_eq(g.v.transaction_status, RN_TXN_PREPARE_COMMIT);
    cr_assert_eq(g.v.ntopics, 2);
    cr_assert(str_is(g.v.topics[1].topic, "__consumer_offsets"));
    cr_assert_eq(g.v.topics[1].partitions[0], 39);
    assert_encodes_to(&g.v, g.bytes, g.len);
    rn_arena_deinit(&g.arena);
}

Test(txn_record, a_value_built_by_hand_is_what_kafka_wrote)
{
    uint8_t want[128];
    size_t len = unhex(ongoing_hex, want, sizeof want);
    static const int32_t parts[] = { 1, 0 };
    rn_txn_log_topic_t topic = { rn_str_from_cstr("t1"), parts, 2 };
    rn_txn_log_value_t v = {
        .version = RN_TXN_VALUE_VERSION,
        .producer_id = 13,
        .previous_producer_id = 13,
        .next_producer_id = -1,
        .producer_epoch = 0,
        .transaction_timeout_ms = 30000,
        .transaction_status = RN_TXN_ONGOING,
        .topics = &topic,
        .ntopics = 1,
        .last_update_timestamp_ms = 1796194920561,
        .start_timestamp_ms = 1796194920561,
    };
    assert_encodes_to(&v, want, len);
}

/* The journal's batch around the record is Kafka's too: same bytes apart from the base offset
 * and leader epoch, which the log assigns. */
Test(txn_record, the_batch_around_the_record_is_kafkas)
{
    uint8_t want[256], key[32], value[128];
    size_t len = unhex(batch_hex, want, sizeof want);
    size_t klen = unhex(key_hex, key, sizeof key);
    size_t vlen = unhex(empty_hex, value, sizeof value);
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    cr_assert_eq(rn_batch_builder_add(&b, 1796194919609, (rn_bytes_t){ key, klen },
                                      (rn_bytes_t){ value, vlen }),
                 0);
    uint8_t *out;
    size_t out_len;
    cr_assert_eq(rn_batch_builder_finish(&b, &out, &out_len, NULL), 0);
    cr_assert_eq(out_len, len);
    cr_assert_eq(memcmp(out, want, 12), 0, "base offset 0 and length");
    cr_assert_eq(memcmp(out + 16, want + 16, len - 16), 0, "everything after the leader epoch");
    free(out);
}

Test(txn_record, version_0_is_the_classic_layout)
{
    static const int32_t parts[] = { 3 };
    rn_txn_log_topic_t topic = { rn_str_from_cstr("t"), parts, 1 };
    rn_txn_log_value_t v = {
        .version = 0,
        .producer_id = 7,
        .previous_producer_id = -1,
        .next_producer_id = -1,
        .producer_epoch = 2,
        .transaction_timeout_ms = 60000,
        .transaction_status = RN_TXN_PREPARE_ABORT,
        .topics = &topic,
        .ntopics = 1,
        .last_update_timestamp_ms = 5,
        .start_timestamp_ms = 4,
    };
    static const uint8_t want[] = {
        0x00, 0x00,                                           /* version 0 */
        0,    0,    0,    0,    0,    0,    0,    7,          /* producer_id */
        0x00, 0x02,                                           /* producer_epoch */
        0x00, 0x00, 0xea, 0x60,                               /* transaction_timeout_ms */
        0x03,                                                 /* PrepareAbort */
        0x00, 0x00, 0x00, 0x01,                               /* one topic */
        0x00, 0x01, 't',  0x00, 0x00, 0x00, 0x01, 0, 0, 0, 3, /* "t" [3] */
        0,    0,    0,    0,    0,    0,    0,    5,          /* last update */
        0,    0,    0,    0,    0,    0,    0,    4,          /* start */
    };
    assert_encodes_to(&v, want, sizeof want);
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_txn_log_value_t back;
    cr_assert_eq(rn_txn_value_decode((rn_bytes_t){ want, sizeof want }, &arena, &back), 0);
    cr_assert_eq(back.version, 0);
    cr_assert_eq(back.previous_producer_id, -1);
    cr_assert_eq(back.topics[0].partitions[0], 3);
    rn_arena_deinit(&arena);
}

Test(txn_record, every_truncation_and_trailing_byte_is_refused)
{
    golden_t g;
    decode_golden(&g, prepare_hex);
    for (size_t n = 0; n < g.len; n++) {
        rn_txn_log_value_t v;
        cr_assert_neq(rn_txn_value_decode((rn_bytes_t){ g.bytes, n }, &g.arena, &v), 0,
                      "%zu-byte prefix", n);
    }
    g.bytes[g.len] = 0;
    rn_txn_log_value_t v;
    cr_assert_eq(rn_txn_value_decode((rn_bytes_t){ g.bytes, g.len + 1 }, &g.arena, &v), RN_EPROTO);
    rn_arena_deinit(&g.arena);
}

Test(txn_record, hostile_counts_versions_states_and_tags)
{
    golden_t g;
    decode_golden(&g, ongoing_hex);
    rn_txn_log_value_t v;
    /* Byte 17 is the topic count (compact: 2 = one topic): a huge one is refused unallocated. */
    uint8_t copy[256];
    memcpy(copy, g.bytes, g.len);
    copy[17] = 0x7f;
    cr_assert_eq(rn_txn_value_decode((rn_bytes_t){ copy, g.len }, &g.arena, &v), RN_EPROTO);
    memcpy(copy, g.bytes, g.len);
    copy[1] = 2;
    cr_assert_eq(rn_txn_value_decode((rn_bytes_t){ copy, g.len }, &g.arena, &v), RN_EPROTO,
                 "value version 2");
    memcpy(copy, g.bytes, g.len);
    copy[16] = 8;
    cr_assert_eq(rn_txn_value_decode((rn_bytes_t){ copy, g.len }, &g.arena, &v), RN_EPROTO,
                 "state 8");
    /* An unknown tag is skipped; a known one of the wrong size is refused. */
    memcpy(copy, g.bytes, g.len);
    size_t tags = g.len - 11; /* count, tag 0, size 8, the id */
    cr_assert_eq(copy[tags], 1);
    copy[tags + 1] = 9;
    cr_assert_eq(rn_txn_value_decode((rn_bytes_t){ copy, g.len }, &g.arena, &v), 0);
    cr_assert_eq(v.previous_producer_id, -1);
    copy[tags + 1] = 2; /* client_transaction_version is an INT16, not 8 bytes */
    cr_assert_eq(rn_txn_value_decode((rn_bytes_t){ copy, g.len }, &g.arena, &v), RN_EPROTO);
    rn_arena_deinit(&g.arena);
}

Test(txn_record, state_names_are_kafkas)
{
    cr_assert_str_eq(rn_txn_state_name(RN_TXN_EMPTY), "Empty");
    cr_assert_str_eq(rn_txn_state_name(RN_TXN_PREPARE_COMMIT), "PrepareCommit");
    cr_assert_str_eq(rn_txn_state_name(RN_TXN_COMPLETE_ABORT), "CompleteAbort");
    cr_assert_str_eq(rn_txn_state_name(RN_TXN_PREPARE_EPOCH_FENCE), "PrepareEpochFence");
    cr_assert_null(rn_txn_state_name(8));
    cr_assert_null(rn_txn_state_name(-1));
    cr_assert_eq(rn_txn_state_from_name(rn_str_from_cstr("Ongoing")), RN_TXN_ONGOING);
    cr_assert_eq(rn_txn_state_from_name(rn_str_from_cstr("ongoing")), -1);
    cr_assert_eq(rn_txn_state_from_name(rn_str_from_cstr("Dead")), RN_TXN_DEAD);
}
