/* SPDX-License-Identifier: Apache-2.0 */
/* GroupMetadataKey / GroupMetadataValue (src/coord/groups_record.c) against bytes written by
 * hand from Kafka's schemas (group-coordinator GroupMetadataKey.json, GroupMetadataValue.json):
 * the version 3 we write, versions 0 and 4 (flexible) that Kafka may have written, a truncation
 * sweep, trailing bytes, hostile counts and unknown versions. */
#include <criterion/criterion.h>

#include <string.h>

#include "coord/groups_internal.h"
#include "util/err.h"

#define OSTR(s) ((rn_ostr_t){ (char *)(s), sizeof(s) - 1 })
#define BYTES(a) ((rn_bytes_t){ (a), sizeof(a) })

static bool str_is(rn_str_t s, const char *want)
{
    return s.ptr != NULL && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static const uint8_t value_v3[] = {
    0x00, 0x03,                                               /* version 3 */
    0x00, 0x08, 'c',  'o',  'n',  's',  'u',  'm',  'e', 'r', /* protocolType */
    0x00, 0x00, 0x00, 0x05,                                   /* generation */
    0x00, 0x05, 'r',  'a',  'n',  'g',  'e',                  /* protocol */
    0x00, 0x02, 'm',  '1',                                    /* leader */
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* currentStateTimestamp 1700000000000 */
    0x00, 0x00, 0x00, 0x01,                         /* one member */
    0x00, 0x02, 'm',  '1',                          /*   memberId */
    0xff, 0xff,                                     /*   groupInstanceId null */
    0x00, 0x01, 'c',                                /*   clientId */
    0x00, 0x02, '/',  'h',                          /*   clientHost */
    0x00, 0x00, 0x75, 0x30,                         /*   rebalanceTimeout 30000 */
    0x00, 0x00, 0x27, 0x10,                         /*   sessionTimeout 10000 */
    0x00, 0x00, 0x00, 0x01, 'S',                    /*   subscription */
    0x00, 0x00, 0x00, 0x01, 'A',                    /*   assignment */
};

Test(groups_record, key_is_version_2_and_the_group)
{
    static const uint8_t want[] = { 0x00, 0x02, 0x00, 0x03, 'g', 'r', 'p' };
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_groups_key_encode(&w, rn_str_from_cstr("grp"));
    cr_assert_eq(w.len, sizeof want);
    cr_assert_arr_eq(w.data, want, sizeof want);
    rn_outbuf_deinit(&w);
    rn_str_t group;
    cr_assert_eq(rn_groups_key_decode(BYTES(want), &group), 0);
    cr_assert(str_is(group, "grp"));
    static const uint8_t offset_key[] = {
        0x00, 0x01, 0x00, 0x01, 'g', 0x00, 0x01, 't', 0, 0, 0, 0
    };
    cr_assert_eq(rn_groups_key_decode(BYTES(offset_key), &group), RN_EPROTO, "an OffsetCommitKey");
    static const uint8_t trailing[] = { 0x00, 0x02, 0x00, 0x01, 'g', 0x00 };
    cr_assert_eq(rn_groups_key_decode(BYTES(trailing), &group), RN_EPROTO);
}

Test(groups_record, value_is_written_as_version_3)
{
    rn_group_protocol_t protocol = { OSTR("range"), OSTR("S") };
    rn_group_member_t m = {
        .member_id = OSTR("m1"),
        .client_id = OSTR("c"),
        .client_host = OSTR("/h"),
        .protocol_type = OSTR("consumer"),
        .protocols = &protocol,
        .nprotocols = 1,
        .assignment = OSTR("A"),
        .session_timeout_ms = 10000,
        .rebalance_timeout_ms = 30000,
    };
    rn_group_member_t *members[] = { &m };
    rn_group_t g = {
        .group_id = OSTR("grp"),
        .state = RN_GROUP_STABLE,
        .state_timestamp = 1700000000000,
        .generation = 5,
        .protocol_type = OSTR("consumer"),
        .protocol_name = OSTR("range"),
        .leader = &m,
        .members = members,
        .nmembers = 1,
    };
    rn_outbuf_t w;
    rn_outbuf_init(&w);
    rn_groups_value_encode(&w, &g, 0);
    cr_assert_eq(w.len, sizeof value_v3);
    cr_assert_arr_eq(w.data, value_v3, sizeof value_v3);
    rn_outbuf_deinit(&w);
}

Test(groups_record, value_version_3_decodes)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_groups_value_t v;
    cr_assert_eq(rn_groups_value_decode(BYTES(value_v3), &arena, &v), 0);
    cr_assert_eq(v.version, 3);
    cr_assert(str_is(v.protocol_type, "consumer"));
    cr_assert_eq(v.generation, 5);
    cr_assert(str_is(v.protocol, "range"));
    cr_assert(str_is(v.leader, "m1"));
    cr_assert_eq(v.current_state_timestamp, 1700000000000);
    cr_assert_eq(v.nmembers, 1);
    cr_assert(str_is(v.members[0].member_id, "m1"));
    cr_assert_null(v.members[0].group_instance_id.ptr);
    cr_assert(str_is(v.members[0].client_host, "/h"));
    cr_assert_eq(v.members[0].rebalance_timeout, 30000);
    cr_assert_eq(v.members[0].session_timeout, 10000);
    cr_assert_eq(v.members[0].subscription.len, 1);
    cr_assert_eq(v.members[0].assignment.ptr[0], 'A');
    rn_arena_deinit(&arena);
}

Test(groups_record, value_version_0_has_no_timestamps_or_instance_ids)
{
    static const uint8_t v0[] = {
        0x00, 0x00, 0x00, 0x08, 'c',  'o',  'n',  's',  'u',  'm',
        'e',  'r',  0x00, 0x00, 0x00, 0x01, 0xff, 0xff, /* protocol null */
        0xff, 0xff,                                     /* leader null */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 'm',  '1',  0x00, 0x01,
        'c',  0x00, 0x02, '/',  'h',  0x00, 0x00, 0x27, 0x10, /* sessionTimeout */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_groups_value_t v;
    cr_assert_eq(rn_groups_value_decode(BYTES(v0), &arena, &v), 0);
    cr_assert_eq(v.generation, 1);
    cr_assert_null(v.protocol.ptr);
    cr_assert_null(v.leader.ptr);
    cr_assert_eq(v.current_state_timestamp, -1);
    cr_assert_eq(v.members[0].rebalance_timeout, -1);
    cr_assert_eq(v.members[0].session_timeout, 10000);
    rn_arena_deinit(&arena);
}

Test(groups_record, value_version_4_is_flexible_with_tagged_fields)
{
    static const uint8_t v4[] = {
        0x00, 0x04, 0x09, 'c',  'o',  'n',  's',  'u',  'm',  'e',
        'r',  0x00, 0x00, 0x00, 0x07, 0x00,             /* protocol null */
        0x00,                                           /* leader null */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* currentStateTimestamp -1 */
        0x02,                                           /* one member */
        0x03, 'm',  '1',  0x03, 'i',  '1',  0x02, 'c',  0x03, '/',
        'h',  0x00, 0x00, 0x75, 0x30, 0x00, 0x00, 0x27, 0x10, 0x01, /* subscription: empty */
        0x02, 'A',                                                  /* assignment */
        0x00,                                                       /* member tags */
        0x01, 0x05, 0x02, 'x',  'y', /* one unknown tagged field, skipped */
    };
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_groups_value_t v;
    cr_assert_eq(rn_groups_value_decode(BYTES(v4), &arena, &v), 0);
    cr_assert_eq(v.version, 4);
    cr_assert_eq(v.generation, 7);
    cr_assert(str_is(v.members[0].group_instance_id, "i1"));
    cr_assert_eq(v.members[0].subscription.len, 0);
    cr_assert_eq(v.members[0].assignment.len, 1);
    rn_arena_deinit(&arena);
}

Test(groups_record, every_truncation_and_trailing_bytes_are_refused)
{
    rn_groups_value_t v;
    for (size_t n = 0; n < sizeof value_v3; n++)
        cr_assert_eq(rn_groups_value_decode((rn_bytes_t){ value_v3, n }, NULL, &v), RN_EPROTO,
                     "%zu-byte prefix", n);
    uint8_t longer[sizeof value_v3 + 1];
    memcpy(longer, value_v3, sizeof value_v3);
    longer[sizeof value_v3] = 0;
    cr_assert_eq(rn_groups_value_decode(BYTES(longer), NULL, &v), RN_EPROTO);
    cr_assert_eq(rn_groups_value_decode(BYTES(value_v3), NULL, &v), 0,
                 "members are checked without an arena");
    cr_assert_null(v.members);
}

Test(groups_record, hostile_counts_and_versions_are_refused)
{
    static const uint8_t many[] = {
        0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff,
        0,    0,    0,    0,    0,    0,    0,    0,    0x7f, 0xff, 0xff, 0xff, /* 2^31-1 members */
    };
    rn_arena_t arena;
    rn_arena_init(&arena, 1 << 20);
    rn_groups_value_t v;
    cr_assert_eq(rn_groups_value_decode(BYTES(many), &arena, &v), RN_EPROTO,
                 "refused before any allocation");
    static const uint8_t negative[] = {
        0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0,
        0,    0,    0,    0,    0,    0,    0,    0xff, 0xff, 0xff, 0xff, /* null members: not
                                                                             nullable */
    };
    cr_assert_eq(rn_groups_value_decode(BYTES(negative), &arena, &v), RN_EPROTO);
    uint8_t v5[sizeof value_v3];
    memcpy(v5, value_v3, sizeof v5);
    v5[1] = 5;
    cr_assert_eq(rn_groups_value_decode(BYTES(v5), &arena, &v), RN_EPROTO,
                 "version 5 does not exist");
    static const uint8_t bad_len[] = { 0x00, 0x03, 0xff, 0xfe, 'x' };
    cr_assert_eq(rn_groups_value_decode(BYTES(bad_len), &arena, &v), RN_EPROTO,
                 "a string length of -2");
    rn_arena_deinit(&arena);
}
