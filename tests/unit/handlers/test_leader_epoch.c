/* SPDX-License-Identifier: Apache-2.0 */
/* OffsetForLeaderEpoch (src/handlers/leader_epoch.c) through rn_handlers_dispatch: on one node
 * every partition has had one leader epoch, 0, ending at the log end offset; other epochs are
 * undefined (-1, -1), and a current_leader_epoch other than 0 is refused as Kafka refuses it. */
#include <stdlib.h>

#include "handlers/fixture.h"
#include "kerr_assert.h"
#include "records/builder.h"

static void start(void)
{
    fixture_start("leader-epoch", "auto.create.topics.enable=false\n", false);
    rn_topic_spec_t spec = { .name = S("t"), .num_partitions = 1, .replication_factor = 1 };
    assert_kerr(rn_topics_create(fx.topics, &spec, false, NULL).error_code, 0);
    tb_spec_t s = { .nrecords = 7, .value_len = 10, .base_timestamp = NOW };
    tb_buf_t b = tb_batch(&s);
    fixture_append("t", 0, b.p, b.len, -1);
    free(b.p);
}

static void stop(void)
{
    fixture_stop();
}

TestSuite(leader_epoch_handler, .init = start, .fini = stop);

static rn_offset_for_leader_epoch_response_epoch_end_offset_t
end_offset(int16_t version, const char *topic, int32_t partition, int32_t leader_epoch,
           int32_t current_leader_epoch)
{
    rn_offset_for_leader_epoch_request_partition_t p;
    rn_offset_for_leader_epoch_request_partition_init(&p);
    p.partition = partition;
    p.leader_epoch = leader_epoch;
    p.current_leader_epoch = current_leader_epoch;
    rn_offset_for_leader_epoch_request_topic_t t;
    rn_offset_for_leader_epoch_request_topic_init(&t);
    t.topic = S(topic);
    t.partitions.items = &p;
    t.partitions.count = 1;
    rn_offset_for_leader_epoch_request_t body;
    rn_offset_for_leader_epoch_request_init(&body);
    body.replica_id = -1;
    body.topics.items = &t;
    body.topics.count = 1;
    rn_offset_for_leader_epoch_response_t resp;
    call(RN_API_OFFSET_FOR_LEADER_EPOCH, version, &body, &resp);
    cr_assert_eq(resp.topics.count, 1);
    cr_assert_eq(resp.topics.items[0].partitions.count, 1);
    return resp.topics.items[0].partitions.items[0];
}

Test(leader_epoch_handler, epoch_0_ends_at_the_log_end_offset_at_every_version)
{
    for (int16_t v = 0; v <= 4; v++) {
        rn_offset_for_leader_epoch_response_epoch_end_offset_t r = end_offset(v, "t", 0, 0, 0);
        assert_kerr(r.error_code, 0);
        cr_assert_eq(r.end_offset, 7, "v%d", v);
        cr_assert_eq(r.leader_epoch, v >= 1 ? 0 : -1, "v%d: the epoch is on the wire from v1", v);
    }
}

Test(leader_epoch_handler, other_epochs_are_undefined)
{
    rn_offset_for_leader_epoch_response_epoch_end_offset_t r = end_offset(4, "t", 0, 3, -1);
    assert_kerr(r.error_code, 0);
    cr_assert_eq(r.leader_epoch, -1);
    cr_assert_eq(r.end_offset, -1);
}

Test(leader_epoch_handler, unknown_partitions_and_fenced_epochs_are_refused)
{
    assert_kerr(end_offset(4, "t", 1, 0, -1).error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_kerr(end_offset(4, "nope", 0, 0, -1).error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_kerr(end_offset(4, "t", 0, 0, 5).error_code, RN_KERR_UNKNOWN_LEADER_EPOCH);
    assert_kerr(end_offset(1, "t", 0, 0, 5).error_code, 0, "no current epoch below v2");
}
