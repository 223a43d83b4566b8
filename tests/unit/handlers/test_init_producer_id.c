/* SPDX-License-Identifier: Apache-2.0 */
/* InitProducerId (src/handlers/init_producer_id.c) through rn_handlers_dispatch, against a
 * real coordinator in a temporary data directory. What Kafka 4.4 answered the same requests:
 * without a transactional id, a new producer id at epoch 0 at every version (ids from 0), even
 * when the request names a producer id and epoch (KIP-360 fields, v3+); a producer id without
 * an epoch or the reverse, and an empty transactional id, are INVALID_REQUEST (42). */
#include "handlers/fixture.h"
#include "kerr_assert.h"

static void start(void)
{
    fixture_start("init-producer-id", NULL, true);
}

static void start_without_coordinator(void)
{
    fixture_start("init-producer-id-none", NULL, false);
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(init_producer_id_handler, .init = start, .fini = stop);
TestSuite(init_producer_id_handler_without_coordinator, .init = start_without_coordinator,
          .fini = stop);

static rn_init_producer_id_response_t init_pid(int16_t version, const char *txn_id,
                                               int64_t producer_id, int16_t producer_epoch)
{
    rn_init_producer_id_request_t body;
    rn_init_producer_id_request_init(&body);
    body.transactional_id = txn_id ? S(txn_id) : (rn_str_t){ NULL, 0 };
    body.transaction_timeout_ms = 60000;
    body.producer_id = producer_id;
    body.producer_epoch = producer_epoch;
    rn_init_producer_id_response_t resp;
    call(RN_API_INIT_PRODUCER_ID, version, &body, &resp);
    return resp;
}

Test(init_producer_id_handler, every_version_hands_out_the_next_id_at_epoch_zero)
{
    for (int16_t v = 0; v <= 5; v++) {
        rn_init_producer_id_response_t r = init_pid(v, NULL, -1, -1);
        assert_kerr(r.error_code, RN_KERR_NONE, " v%d", v);
        cr_assert_eq(r.producer_id, v, "v%d", v);
        cr_assert_eq(r.producer_epoch, 0);
    }
    cr_assert_eq(fx.executor.queued, 6, "each id is drawn off the loop (it may fsync)");
}

Test(init_producer_id_handler, an_idempotent_producer_naming_its_id_still_gets_a_new_one)
{
    init_pid(4, NULL, -1, -1);
    rn_init_producer_id_response_t r = init_pid(4, NULL, 0, 3);
    assert_kerr(r.error_code, RN_KERR_NONE);
    cr_assert_eq(r.producer_id, 1);
    cr_assert_eq(r.producer_epoch, 0);
    r = init_pid(3, NULL, 0, 32767);
    cr_assert_eq(r.producer_id, 2, "an exhausted epoch changes nothing either");
    cr_assert_eq(r.producer_epoch, 0);
}

Test(init_producer_id_handler, half_a_producer_id_and_epoch_pair_is_invalid)
{
    rn_init_producer_id_response_t r = init_pid(4, NULL, 5, -1);
    assert_kerr(r.error_code, RN_KERR_INVALID_REQUEST);
    cr_assert_eq(r.producer_id, -1);
    cr_assert_eq(r.producer_epoch, -1);
    r = init_pid(3, NULL, -1, 3);
    assert_kerr(r.error_code, RN_KERR_INVALID_REQUEST);
    cr_assert_eq(fx.executor.queued, 0, "refused on the loop");
    r = init_pid(4, NULL, -1, -1);
    cr_assert_eq(r.producer_id, 0, "no id was used up by the refusals");
}

Test(init_producer_id_handler, an_empty_transactional_id_is_invalid)
{
    rn_init_producer_id_response_t r = init_pid(4, "", -1, -1);
    assert_kerr(r.error_code, RN_KERR_INVALID_REQUEST);
    cr_assert_eq(r.producer_id, -1);
}

Test(init_producer_id_handler, ids_are_never_reused_after_a_restart)
{
    cr_assert_eq(init_pid(4, NULL, -1, -1).producer_id, 0);
    cr_assert_eq(init_pid(4, NULL, -1, -1).producer_id, 1);
    fixture_close();
    fixture_open(true);
    cr_assert_eq(init_pid(4, NULL, -1, -1).producer_id, 1000, "the next block");
}

Test(init_producer_id_handler_without_coordinator, answers_coordinator_not_available)
{
    rn_init_producer_id_response_t r = init_pid(4, NULL, -1, -1);
    assert_kerr(r.error_code, RN_KERR_COORDINATOR_NOT_AVAILABLE);
    cr_assert_eq(r.producer_id, -1);
    cr_assert_eq(r.producer_epoch, -1);
}
