/* SPDX-License-Identifier: Apache-2.0 */
/* The transaction coordinator (src/coord/txn.c) through the whole coordinator (rn_coord_open
 * over a topic registry in /tmp) with a fake clock: the moves Kafka 4.4 makes and answers
 * (asked with the same requests: tests/integration/test_transactions_basic.py and the probes
 * behind the handler comments), markers in the partitions' logs (the last stable offset
 * moves), transactional offsets held until the commit, timeouts and expiry in the tick, and
 * every state back after a clean restart and a kill -9, a transaction caught between its
 * Prepare record and its markers included. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "coord/coord.h"
#include "coord/offsets.h"
#include "coord/store.h"
#include "coord/txn.h"
#include "fixture.h"
#include "kerr_assert.h"
#include "log/log.h"
#include "records/records.h"
#include "util/outbuf.h"

#define T0 1700000000000
#define PROPS                                                                  \
    "transaction.state.log.num.partitions=4\noffsets.topic.num.partitions=3\n" \
    "transaction.abort.timed.out.transaction.cleanup.interval.ms=1000\n"       \
    "transactional.id.expiration.ms=60000\n"                                   \
    "transaction.remove.expired.transaction.cleanup.interval.ms=10000\n"

static rn_str_t S(const char *s)
{
    return rn_str_from_cstr(s);
}

typedef struct env {
    fixture_t f;
    rn_coord_t *coord;
    rn_txn_t *txn;
} env_t;

static void env_open(env_t *e, int64_t now)
{
    cr_assert_eq(rn_coord_open(&e->f.cfg, e->f.topics, now, &e->coord), 0);
    e->txn = rn_coord_txn(e->coord);
}

static void make_topic(env_t *e, const char *name, int32_t partitions)
{
    rn_topic_spec_t spec = { .name = S(name),
                             .num_partitions = partitions,
                             .replication_factor = 1 };
    rn_topic_t *topic = NULL;
    rn_topics_result_t res = rn_topics_create(e->f.topics, &spec, false, &topic);
    cr_assert_eq(res.error_code, 0, "%s", res.message ? res.message : "");
    rn_topic_unref(topic);
}

static void env_init(env_t *e)
{
    fixture_init(&e->f, PROPS);
    make_topic(e, "t", 2);
    env_open(e, T0);
}

static void env_restart(env_t *e, int64_t now)
{
    rn_coord_close(e->coord);
    fixture_restart(&e->f);
    env_open(e, now);
}

static void env_deinit(env_t *e)
{
    rn_coord_close(e->coord);
    fixture_deinit(&e->f);
}

static rn_log_t *log_of(env_t *e, const char *topic, int32_t partition)
{
    rn_topic_t *t = rn_topics_get(e->f.topics, S(topic));
    cr_assert_not_null(t);
    rn_log_t *log = rn_topic_partition(t, partition)->log;
    rn_topic_unref(t);
    return log;
}

/* A producer's transactional batch of one record, written as Produce would. */
static int64_t append_txn(env_t *e, const char *topic, int32_t partition, int64_t pid,
                          int16_t epoch, int32_t seq)
{
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    rn_batch_builder_set_producer(&b, pid, epoch, seq, RN_BATCH_ATTR_TRANSACTIONAL);
    rn_bytes_t v = { (const uint8_t *)"v", 1 };
    cr_assert_eq(rn_batch_builder_add(&b, T0, (rn_bytes_t){ NULL, 0 }, v), 0);
    uint8_t *batch;
    size_t len;
    rn_records_summary_t sum;
    cr_assert_eq(rn_batch_builder_finish(&b, &batch, &len, &sum), 0);
    int64_t base = -1;
    bool sync;
    cr_assert_eq(rn_log_append(log_of(e, topic, partition), batch, len, &sum, &base, &sync), 0);
    free(batch);
    return base;
}

static int64_t pid_of(env_t *e, const char *id, int16_t *epoch)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_txn_description_t d;
    bool found;
    cr_assert_eq(rn_txn_describe(e->txn, S(id), &arena, &d, &found), 0);
    cr_assert(found, "%s", id);
    rn_arena_deinit(&arena);
    if (epoch != NULL)
        *epoch = d.producer_epoch;
    return d.producer_id;
}

static rn_txn_state_t state_of(env_t *e, const char *id)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_txn_description_t d;
    bool found;
    cr_assert_eq(rn_txn_describe(e->txn, S(id), &arena, &d, &found), 0);
    cr_assert(found, "%s", id);
    rn_arena_deinit(&arena);
    return d.state;
}

static void init_ok(env_t *e, const char *id, int64_t *pid, int16_t *epoch, int64_t now)
{
    assert_kerr(rn_txn_init_producer(e->txn, S(id), 60000, -1, -1, now, pid, epoch), RN_KERR_NONE);
}

static rn_kerr_t add(env_t *e, const char *id, int64_t pid, int16_t epoch, const char *topic,
                     int32_t partition, int64_t now)
{
    rn_txn_tp_t tp = { S(topic), partition };
    return rn_txn_add_partitions(e->txn, S(id), pid, epoch, &tp, 1, now);
}

TestSuite(txn, .timeout = 60);

/* ---- InitProducerId ---- */

Test(txn, a_new_transactional_id_gets_a_producer_id_and_each_init_bumps_the_epoch)
{
    env_t e;
    env_init(&e);
    int64_t pid = -1;
    int16_t epoch = -1;
    init_ok(&e, "a", &pid, &epoch, T0);
    cr_assert_eq(pid, 0);
    cr_assert_eq(epoch, 0);
    cr_assert_eq(state_of(&e, "a"), RN_TXN_EMPTY);
    int64_t pid2;
    init_ok(&e, "a", &pid2, &epoch, T0 + 1);
    cr_assert_eq(pid2, 0, "same id");
    cr_assert_eq(epoch, 1);
    init_ok(&e, "b", &pid2, &epoch, T0 + 2);
    cr_assert_eq(pid2, 1);
    cr_assert_eq(epoch, 0);
    env_deinit(&e);
}

Test(txn, a_timeout_outside_one_to_the_maximum_is_invalid)
{
    env_t e;
    env_init(&e);
    int64_t pid;
    int16_t epoch;
    assert_kerr(rn_txn_init_producer(e.txn, S("a"), 0, -1, -1, T0, &pid, &epoch),
                RN_KERR_INVALID_TRANSACTION_TIMEOUT);
    assert_kerr(rn_txn_init_producer(e.txn, S("a"), 900001, -1, -1, T0, &pid, &epoch),
                RN_KERR_INVALID_TRANSACTION_TIMEOUT);
    assert_kerr(rn_txn_init_producer(e.txn, S("a"), 900000, -1, -1, T0, &pid, &epoch),
                RN_KERR_NONE);
    env_deinit(&e);
}

Test(txn, kip_360_bumps_for_the_holder_and_fences_everyone_else)
{
    env_t e;
    env_init(&e);
    int64_t pid, got;
    int16_t epoch, bumped;
    init_ok(&e, "a", &pid, &epoch, T0);
    assert_kerr(rn_txn_init_producer(e.txn, S("a"), 60000, pid, epoch, T0, &got, &bumped),
                RN_KERR_NONE);
    cr_assert_eq(got, pid);
    cr_assert_eq(bumped, epoch + 1);
    /* The same request again (its answer lost): the same epoch, not another bump. */
    assert_kerr(rn_txn_init_producer(e.txn, S("a"), 60000, pid, epoch, T0, &got, &bumped),
                RN_KERR_NONE);
    cr_assert_eq(bumped, epoch + 1);
    /* An epoch that is neither the current nor the last: an older instance. */
    assert_kerr(rn_txn_init_producer(e.txn, S("a"), 60000, pid, 7, T0, &got, &bumped),
                RN_KERR_PRODUCER_FENCED);
    assert_kerr(rn_txn_init_producer(e.txn, S("a"), 60000, 999, 0, T0, &got, &bumped),
                RN_KERR_PRODUCER_FENCED);
    env_deinit(&e);
}

/* ---- a transaction ---- */

Test(txn, add_then_commit_writes_markers_and_moves_the_last_stable_offset)
{
    env_t e;
    env_init(&e);
    int64_t pid;
    int16_t epoch;
    init_ok(&e, "a", &pid, &epoch, T0);
    /* Nothing added yet: Produce's check says so. */
    assert_kerr(rn_txn_verify(e.txn, S("a"), pid, epoch, S("t"), 0), RN_KERR_TRANSACTION_ABORTABLE);
    assert_kerr(add(&e, "a", pid, epoch, "t", 0, T0 + 10), RN_KERR_NONE);
    assert_kerr(add(&e, "a", pid, epoch, "t", 1, T0 + 20), RN_KERR_NONE);
    cr_assert_eq(state_of(&e, "a"), RN_TXN_ONGOING);
    assert_kerr(rn_txn_verify(e.txn, S("a"), pid, epoch, S("t"), 0), RN_KERR_NONE);
    assert_kerr(rn_txn_verify(e.txn, S("a"), pid, epoch + 1, S("t"), 0), RN_KERR_PRODUCER_FENCED);
    assert_kerr(rn_txn_verify(e.txn, S("a"), pid + 1, epoch, S("t"), 0),
                RN_KERR_INVALID_PRODUCER_ID_MAPPING);
    assert_kerr(rn_txn_verify(e.txn, S("zz"), pid, epoch, S("t"), 0),
                RN_KERR_INVALID_PRODUCER_ID_MAPPING);
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_txn_description_t d;
    bool found;
    cr_assert_eq(rn_txn_describe(e.txn, S("a"), &arena, &d, &found), 0);
    cr_assert_eq(d.start_ms, T0 + 10, "from the first partition added");
    cr_assert_eq(d.ntps, 2);
    rn_arena_deinit(&arena);

    int64_t first = append_txn(&e, "t", 0, pid, epoch, 0);
    cr_assert_eq(rn_log_last_stable_offset(log_of(&e, "t", 0)), first, "held back");
    assert_kerr(rn_txn_end(e.txn, S("a"), pid, epoch, true, T0 + 30), RN_KERR_NONE);
    cr_assert_eq(state_of(&e, "a"), RN_TXN_COMPLETE_COMMIT);
    cr_assert_eq(rn_log_high_watermark(log_of(&e, "t", 0)), 2, "the batch and its marker");
    cr_assert_eq(rn_log_last_stable_offset(log_of(&e, "t", 0)), 2);
    cr_assert_eq(rn_log_high_watermark(log_of(&e, "t", 1)), 1, "a marker where nothing was");
    /* A retry of the commit is answered as done; an abort of it is not allowed. */
    assert_kerr(rn_txn_end(e.txn, S("a"), pid, epoch, true, T0 + 31), RN_KERR_NONE);
    assert_kerr(rn_txn_end(e.txn, S("a"), pid, epoch, false, T0 + 31), RN_KERR_INVALID_TXN_STATE);
    assert_kerr(rn_txn_verify(e.txn, S("a"), pid, epoch, S("t"), 0), RN_KERR_TRANSACTION_ABORTABLE);
    env_deinit(&e);
}

Test(txn, an_abort_lists_the_transaction_as_aborted_in_the_partition)
{
    env_t e;
    env_init(&e);
    int64_t pid;
    int16_t epoch;
    init_ok(&e, "a", &pid, &epoch, T0);
    assert_kerr(add(&e, "a", pid, epoch, "t", 0, T0), RN_KERR_NONE);
    int64_t first = append_txn(&e, "t", 0, pid, epoch, 0);
    assert_kerr(rn_txn_end(e.txn, S("a"), pid, epoch, false, T0 + 1), RN_KERR_NONE);
    cr_assert_eq(state_of(&e, "a"), RN_TXN_COMPLETE_ABORT);
    rn_log_aborted_t aborted[2];
    cr_assert_eq(rn_log_aborted_txns(log_of(&e, "t", 0), 0, 10, aborted, 2), 1);
    cr_assert_eq(aborted[0].producer_id, pid);
    cr_assert_eq(aborted[0].first_offset, first);
    env_deinit(&e);
}

Test(txn, end_answers_by_state_as_kafka_does)
{
    env_t e;
    env_init(&e);
    int64_t pid;
    int16_t epoch;
    assert_kerr(rn_txn_end(e.txn, S("a"), 0, 0, true, T0), RN_KERR_INVALID_PRODUCER_ID_MAPPING);
    init_ok(&e, "a", &pid, &epoch, T0);
    assert_kerr(rn_txn_end(e.txn, S("a"), pid, epoch, true, T0), RN_KERR_INVALID_TXN_STATE,
                " Empty");
    assert_kerr(rn_txn_end(e.txn, S("a"), pid + 5, epoch, true, T0),
                RN_KERR_INVALID_PRODUCER_ID_MAPPING);
    assert_kerr(rn_txn_end(e.txn, S("a"), pid, epoch + 1, true, T0), RN_KERR_PRODUCER_FENCED);
    assert_kerr(add(&e, "a", pid, epoch + 1, "t", 0, T0), RN_KERR_PRODUCER_FENCED);
    assert_kerr(add(&e, "a", pid + 5, epoch, "t", 0, T0), RN_KERR_INVALID_PRODUCER_ID_MAPPING);
    assert_kerr(add(&e, "nope", pid, epoch, "t", 0, T0), RN_KERR_INVALID_PRODUCER_ID_MAPPING);
    env_deinit(&e);
}

Test(txn, a_new_producer_fences_the_old_one_and_aborts_its_transaction)
{
    env_t e;
    env_init(&e);
    int64_t pid, pid2;
    int16_t epoch, epoch2;
    init_ok(&e, "a", &pid, &epoch, T0);
    assert_kerr(add(&e, "a", pid, epoch, "t", 0, T0), RN_KERR_NONE);
    int64_t first = append_txn(&e, "t", 0, pid, epoch, 0);
    /* The new instance is told to retry while the old transaction is aborted at epoch + 1. */
    assert_kerr(rn_txn_init_producer(e.txn, S("a"), 60000, -1, -1, T0 + 1, &pid2, &epoch2),
                RN_KERR_CONCURRENT_TRANSACTIONS);
    int16_t now_epoch;
    pid_of(&e, "a", &now_epoch);
    cr_assert_eq(state_of(&e, "a"), RN_TXN_COMPLETE_ABORT);
    cr_assert_eq(now_epoch, epoch + 1);
    cr_assert_eq(rn_log_last_stable_offset(log_of(&e, "t", 0)), first + 2, "aborted");
    init_ok(&e, "a", &pid2, &epoch2, T0 + 2);
    cr_assert_eq(pid2, pid);
    cr_assert_eq(epoch2, epoch + 2);
    /* The old instance is fenced everywhere. */
    assert_kerr(rn_txn_end(e.txn, S("a"), pid, epoch, true, T0 + 3), RN_KERR_PRODUCER_FENCED);
    assert_kerr(add(&e, "a", pid, epoch, "t", 1, T0 + 3), RN_KERR_PRODUCER_FENCED);
    env_deinit(&e);
}

/* ---- the tick ---- */

Test(txn, a_transaction_past_its_timeout_is_aborted_with_a_bumped_epoch)
{
    env_t e;
    env_init(&e);
    int64_t pid;
    int16_t epoch;
    assert_kerr(rn_txn_init_producer(e.txn, S("a"), 5000, -1, -1, T0, &pid, &epoch), RN_KERR_NONE);
    assert_kerr(add(&e, "a", pid, epoch, "t", 0, T0), RN_KERR_NONE);
    append_txn(&e, "t", 0, pid, epoch, 0);
    rn_coord_tick(e.coord, T0 + 5000);
    cr_assert_eq(state_of(&e, "a"), RN_TXN_ONGOING, "not past it yet");
    rn_coord_tick(e.coord, T0 + 6500);
    cr_assert_eq(state_of(&e, "a"), RN_TXN_COMPLETE_ABORT);
    int16_t now_epoch;
    pid_of(&e, "a", &now_epoch);
    cr_assert_eq(now_epoch, epoch + 1, "the producer is fenced");
    cr_assert_eq(rn_log_last_stable_offset(log_of(&e, "t", 0)),
                 rn_log_high_watermark(log_of(&e, "t", 0)));
    assert_kerr(rn_txn_end(e.txn, S("a"), pid, epoch, true, T0 + 7000), RN_KERR_PRODUCER_FENCED);
    /* KIP-360: the producer may resume, at the bumped epoch and without another bump. */
    int64_t got;
    int16_t resumed;
    assert_kerr(rn_txn_init_producer(e.txn, S("a"), 5000, pid, epoch, T0 + 7000, &got, &resumed),
                RN_KERR_NONE);
    cr_assert_eq(got, pid);
    cr_assert_eq(resumed, epoch + 1);
    env_deinit(&e);
}

Test(txn, an_idle_transactional_id_expires_and_stays_gone_after_a_restart)
{
    env_t e;
    env_init(&e);
    int64_t pid;
    int16_t epoch;
    init_ok(&e, "idle", &pid, &epoch, T0);
    init_ok(&e, "busy", &pid, &epoch, T0);
    assert_kerr(add(&e, "busy", pid, epoch, "t", 0, T0), RN_KERR_NONE);
    /* Ongoing transactions never expire (this one's timeout is 60 s: aborted by then, then
     * idle itself only from that abort on). */
    rn_coord_tick(e.coord, T0 + 59999);
    rn_coord_tick(e.coord, T0 + 70000);
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_txn_description_t d;
    bool found = true;
    cr_assert_eq(rn_txn_describe(e.txn, S("idle"), &arena, &d, &found), 0);
    cr_assert_not(found, "expired 60 s after its last update");
    cr_assert_eq(rn_txn_describe(e.txn, S("busy"), &arena, &d, &found), 0);
    cr_assert(found);
    env_restart(&e, T0 + 70000);
    cr_assert_eq(rn_txn_describe(e.txn, S("idle"), &arena, &d, &found), 0);
    cr_assert_not(found, "its tombstone was replayed");
    cr_assert_eq(rn_txn_describe(e.txn, S("busy"), &arena, &d, &found), 0);
    cr_assert(found);
    rn_arena_deinit(&arena);
    env_deinit(&e);
}

/* ---- restarts ---- */

Test(txn, states_come_back_after_a_clean_restart)
{
    env_t e;
    env_init(&e);
    int64_t pid;
    int16_t epoch;
    init_ok(&e, "a", &pid, &epoch, T0);
    assert_kerr(add(&e, "a", pid, epoch, "t", 1, T0 + 5), RN_KERR_NONE);
    init_ok(&e, "b", &pid, &epoch, T0);
    env_restart(&e, T0 + 100);
    cr_assert_eq(state_of(&e, "a"), RN_TXN_ONGOING);
    cr_assert_eq(state_of(&e, "b"), RN_TXN_EMPTY);
    int16_t got_epoch;
    cr_assert_eq(pid_of(&e, "a", &got_epoch), 0);
    assert_kerr(rn_txn_verify(e.txn, S("a"), 0, got_epoch, S("t"), 1), RN_KERR_NONE);
    /* Ids go on from the next block: none is handed out twice. */
    int64_t c;
    init_ok(&e, "c", &c, &epoch, T0 + 100);
    cr_assert_eq(c, 1000);
    env_deinit(&e);
}

/* Writes a TransactionLogValue for `id` as the coordinator would, straight to the topic. */
static void write_state(env_t *e, const char *id, int64_t pid, int16_t epoch, int8_t state,
                        const char *topic, int32_t partition)
{
    int32_t parts[] = { partition };
    rn_txn_log_topic_t t = { S(topic), parts, 1 };
    rn_txn_log_value_t v = {
        .version = 1,
        .producer_id = pid,
        .previous_producer_id = pid,
        .next_producer_id = -1,
        .producer_epoch = epoch,
        .transaction_timeout_ms = 60000,
        .transaction_status = state,
        .topics = &t,
        .ntopics = 1,
        .last_update_timestamp_ms = T0,
        .start_timestamp_ms = T0,
    };
    rn_outbuf_t k, val;
    rn_outbuf_init(&k);
    rn_outbuf_init(&val);
    rn_txn_key_encode(&k, S(id));
    rn_txn_value_encode(&val, &v);
    cr_assert_eq(rn_store_append(rn_coord_txn_store(e->coord), S(id), (rn_bytes_t){ k.data, k.len },
                                 (rn_bytes_t){ val.data, val.len }, T0),
                 0);
    rn_outbuf_deinit(&k);
    rn_outbuf_deinit(&val);
}

Test(txn, a_transaction_found_prepared_is_completed_after_a_kill)
{
    env_t e;
    env_init(&e);
    int64_t pid;
    int16_t epoch;
    init_ok(&e, "a", &pid, &epoch, T0);
    assert_kerr(add(&e, "a", pid, epoch, "t", 0, T0), RN_KERR_NONE);
    int64_t first = append_txn(&e, "t", 0, pid, epoch, 0);
    /* The broker died right after writing PrepareCommit: no marker, no CompleteCommit. */
    write_state(&e, "a", pid, epoch, RN_TXN_PREPARE_COMMIT, "t", 0);
    fixture_t crashed;
    fixture_crash_copy(&e.f, &crashed, PROPS);
    rn_coord_t *coord;
    cr_assert_eq(rn_coord_open(&crashed.cfg, crashed.topics, T0 + 10, &coord), 0);
    env_t c = { .f = crashed, .coord = coord, .txn = rn_coord_txn(coord) };
    cr_assert_eq(state_of(&c, "a"), RN_TXN_PREPARE_COMMIT);
    cr_assert_eq(rn_log_last_stable_offset(log_of(&c, "t", 0)), first, "still open");
    /* Busy until completed, as in Kafka. */
    assert_kerr(rn_txn_end(c.txn, S("a"), pid, epoch, true, T0 + 11),
                RN_KERR_CONCURRENT_TRANSACTIONS);
    rn_coord_tick(coord, T0 + 100);
    cr_assert_eq(state_of(&c, "a"), RN_TXN_COMPLETE_COMMIT);
    cr_assert_eq(rn_log_last_stable_offset(log_of(&c, "t", 0)), first + 2, "committed");
    env_deinit(&c);
    env_deinit(&e);
}

/* ---- transactional offsets ---- */

static int txn_commit(env_t *e, const char *group, int64_t pid, int16_t epoch, int64_t offset)
{
    rn_offsets_commit_t c = { .topic = S("t"),
                              .partition = 0,
                              .offset = offset,
                              .leader_epoch = -1,
                              .metadata = S("m"),
                              .commit_timestamp = -1 };
    return rn_offsets_txn_commit(rn_coord_offsets(e->coord), S(group), pid, epoch, &c, 1, T0);
}

static int64_t committed(env_t *e, const char *group)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_offsets_entry_t out;
    bool found;
    cr_assert_eq(rn_offsets_fetch(rn_coord_offsets(e->coord), S(group), S("t"), 0, &arena, &out,
                                  &found),
                 0);
    rn_arena_deinit(&arena);
    return found ? out.offset : -1;
}

Test(txn, offsets_of_a_transaction_show_only_after_its_commit)
{
    env_t e;
    env_init(&e);
    int64_t pid;
    int16_t epoch;
    init_ok(&e, "a", &pid, &epoch, T0);
    int32_t part = rn_store_partition_for(rn_coord_store(e.coord), S("g"));
    assert_kerr(add(&e, "a", pid, epoch, RN_STORE_TOPIC, part, T0), RN_KERR_NONE);
    cr_assert_eq(txn_commit(&e, "g", pid, epoch, 42), 0);
    cr_assert_eq(committed(&e, "g"), -1, "held by the transaction");
    cr_assert(rn_offsets_is_pending(rn_coord_offsets(e.coord), S("g"), S("t"), 0));
    assert_kerr(rn_txn_end(e.txn, S("a"), pid, epoch, true, T0 + 1), RN_KERR_NONE);
    cr_assert_eq(committed(&e, "g"), 42);
    cr_assert_not(rn_offsets_is_pending(rn_coord_offsets(e.coord), S("g"), S("t"), 0));
    /* The next transaction aborts: its offset goes. */
    assert_kerr(add(&e, "a", pid, epoch, RN_STORE_TOPIC, part, T0 + 2), RN_KERR_NONE);
    cr_assert_eq(txn_commit(&e, "g", pid, epoch, 50), 0);
    assert_kerr(rn_txn_end(e.txn, S("a"), pid, epoch, false, T0 + 3), RN_KERR_NONE);
    cr_assert_eq(committed(&e, "g"), 42);
    cr_assert_eq(rn_offsets_txn_count(rn_coord_offsets(e.coord)), 0);
    /* A restart replays both transactions to the same end. */
    env_restart(&e, T0 + 10);
    cr_assert_eq(committed(&e, "g"), 42);
    cr_assert_eq(rn_offsets_txn_count(rn_coord_offsets(e.coord)), 0);
    env_deinit(&e);
}

Test(txn, offsets_of_an_open_transaction_stay_held_across_a_kill)
{
    env_t e;
    env_init(&e);
    int64_t pid;
    int16_t epoch;
    init_ok(&e, "a", &pid, &epoch, T0);
    int32_t part = rn_store_partition_for(rn_coord_store(e.coord), S("g"));
    assert_kerr(add(&e, "a", pid, epoch, RN_STORE_TOPIC, part, T0), RN_KERR_NONE);
    cr_assert_eq(txn_commit(&e, "g", pid, epoch, 7), 0);
    fixture_t crashed;
    fixture_crash_copy(&e.f, &crashed, PROPS);
    rn_coord_t *coord;
    cr_assert_eq(rn_coord_open(&crashed.cfg, crashed.topics, T0 + 10, &coord), 0);
    env_t c = { .f = crashed, .coord = coord, .txn = rn_coord_txn(coord) };
    cr_assert_eq(committed(&c, "g"), -1);
    cr_assert_eq(rn_offsets_txn_count(rn_coord_offsets(coord)), 1);
    int16_t got;
    pid_of(&c, "a", &got);
    assert_kerr(rn_txn_end(c.txn, S("a"), pid, got, true, T0 + 11), RN_KERR_NONE);
    cr_assert_eq(committed(&c, "g"), 7);
    env_deinit(&c);
    env_deinit(&e);
}

/* ---- ListTransactions ---- */

Test(txn, list_filters_by_state_producer_and_duration)
{
    env_t e;
    env_init(&e);
    int64_t pa, pb;
    int16_t ea, eb;
    init_ok(&e, "b", &pb, &eb, T0);
    init_ok(&e, "a", &pa, &ea, T0);
    assert_kerr(add(&e, "a", pa, ea, "t", 0, T0 + 100), RN_KERR_NONE);
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_txn_listing_t *items;
    size_t n;
    cr_assert_eq(rn_txn_list(e.txn, false, 0, NULL, 0, -1, T0 + 200, &arena, &items, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert(rn_str_eq_cstr(items[0].transactional_id, "a"), "sorted");
    cr_assert_eq(items[0].state, RN_TXN_ONGOING);
    cr_assert_eq(rn_txn_list(e.txn, true, 1u << RN_TXN_EMPTY, NULL, 0, -1, T0 + 200, &arena, &items,
                             &n),
                 0);
    cr_assert_eq(n, 1);
    cr_assert(rn_str_eq_cstr(items[0].transactional_id, "b"));
    cr_assert_eq(rn_txn_list(e.txn, true, 0, NULL, 0, -1, T0 + 200, &arena, &items, &n), 0);
    cr_assert_eq(n, 0, "a filter of unknown names only matches nothing");
    cr_assert_eq(rn_txn_list(e.txn, false, 0, &pa, 1, -1, T0 + 200, &arena, &items, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(items[0].producer_id, pa);
    /* Started 100 ms before by the coordinator's clock: kept for 100 (the clock moves in
     * ticks, so it may have run a little longer), not for 101; never started counts as long
     * ago. */
    cr_assert_eq(rn_txn_list(e.txn, true, 1u << RN_TXN_ONGOING, NULL, 0, 100, T0 + 200, &arena,
                             &items, &n),
                 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(rn_txn_list(e.txn, true, 1u << RN_TXN_ONGOING, NULL, 0, 101, T0 + 200, &arena,
                             &items, &n),
                 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(rn_txn_list(e.txn, true, 1u << RN_TXN_EMPTY, NULL, 0, 100000, T0 + 200, &arena,
                             &items, &n),
                 0);
    cr_assert_eq(n, 1);
    rn_arena_deinit(&arena);
    env_deinit(&e);
}
