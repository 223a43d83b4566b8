/* SPDX-License-Identifier: Apache-2.0 */
/* Committed offsets (src/coord/offsets.c): Kafka's OffsetCommitKey / OffsetCommitValue bytes
 * against hand-written vectors, commit / fetch / overwrite / delete, persistence across a clean
 * restart and a kill -9 of a real registry, retention of empty groups' offsets with a fake
 * clock, and offsets of deleted topics. */
#include <criterion/criterion.h>

#include "coord/offsets.h"
#include "coord/store.h"
#include "fixture.h"
#include "util/err.h"

static rn_str_t S(const char *s)
{
    return rn_str_from_cstr(s);
}

/* ---- record layouts ---- */

Test(offsets, key_is_version_1_group_topic_partition)
{
    rn_offsets_key_t k = { .group = S("g1"), .topic = S("t"), .partition = 258 };
    static const uint8_t want[] = {
        0x00, 0x01,             /* version 1 */
        0x00, 0x02, 'g',  '1',  /* group */
        0x00, 0x01, 't',        /* topic */
        0x00, 0x00, 0x01, 0x02, /* partition 258 */
    };
    cr_assert_eq(rn_offsets_key_len(&k), sizeof want);
    uint8_t out[sizeof want];
    rn_offsets_key_encode(&k, out);
    cr_assert_arr_eq(out, want, sizeof want);
    rn_offsets_key_t back;
    cr_assert_eq(rn_offsets_key_decode((rn_bytes_t){ want, sizeof want }, &back), 0);
    cr_assert_eq(back.group.len, 2);
    cr_assert_eq(memcmp(back.group.ptr, "g1", 2), 0);
    cr_assert_eq(back.topic.len, 1);
    cr_assert_eq(back.partition, 258);
}

Test(offsets, value_is_version_3_offset_epoch_metadata_timestamp)
{
    rn_offsets_value_t v = {
        .offset = 0x0102030405,
        .leader_epoch = 7,
        .metadata = S("md"),
        .commit_timestamp = 1700000000000,
        .expire_timestamp = -1,
    };
    static const uint8_t want[] = {
        0x00, 0x03,                                     /* version 3 */
        0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, /* offset */
        0x00, 0x00, 0x00, 0x07,                         /* leader epoch */
        0x00, 0x02, 'm',  'd',                          /* metadata */
        0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* commit timestamp 1700000000000 */
    };
    cr_assert_eq(rn_offsets_value_len(&v), sizeof want);
    uint8_t out[sizeof want];
    rn_offsets_value_encode(&v, out);
    cr_assert_arr_eq(out, want, sizeof want);
    rn_offsets_value_t back;
    cr_assert_eq(rn_offsets_value_decode((rn_bytes_t){ want, sizeof want }, &back), 0);
    cr_assert_eq(back.offset, 0x0102030405);
    cr_assert_eq(back.leader_epoch, 7);
    cr_assert_eq(back.metadata.len, 2);
    cr_assert_eq(back.commit_timestamp, 1700000000000);
    cr_assert_eq(back.expire_timestamp, -1);
}

Test(offsets, older_value_versions_decode)
{
    /* v0: offset 5, metadata "", commit timestamp 9 */
    static const uint8_t v0[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9 };
    /* v1: offset 5, metadata "x", commit 9, expire 100 */
    static const uint8_t v1[] = { 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 1, 'x', 0,  0,
                                  0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0,   100 };
    /* v2: as v0 */
    static const uint8_t v2[] = { 0, 2, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9 };
    /* v4 (flexible): offset 5, epoch 3, compact metadata "x" (length 2), commit 9, no tags */
    static const uint8_t v4[] = { 0, 4, 0,   0, 0, 0, 0, 0, 0, 5, 0, 0, 0,
                                  3, 2, 'x', 0, 0, 0, 0, 0, 0, 0, 9, 0 };
    rn_offsets_value_t v;
    cr_assert_eq(rn_offsets_value_decode((rn_bytes_t){ v0, sizeof v0 }, &v), 0);
    cr_assert_eq(v.offset, 5);
    cr_assert_eq(v.leader_epoch, -1);
    cr_assert_eq(v.metadata.len, 0);
    cr_assert_eq(v.commit_timestamp, 9);
    cr_assert_eq(v.expire_timestamp, -1);
    cr_assert_eq(rn_offsets_value_decode((rn_bytes_t){ v1, sizeof v1 }, &v), 0);
    cr_assert_eq(v.metadata.len, 1);
    cr_assert_eq(v.commit_timestamp, 9);
    cr_assert_eq(v.expire_timestamp, 100);
    cr_assert_eq(rn_offsets_value_decode((rn_bytes_t){ v2, sizeof v2 }, &v), 0);
    cr_assert_eq(v.offset, 5);
    cr_assert_eq(rn_offsets_value_decode((rn_bytes_t){ v4, sizeof v4 }, &v), 0);
    cr_assert_eq(v.leader_epoch, 3);
    cr_assert_eq(v.metadata.len, 1);
    cr_assert_eq(v.commit_timestamp, 9);
    /* Version 0 keys are read like version 1. */
    static const uint8_t k0[] = { 0, 0, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 3 };
    rn_offsets_key_t k;
    cr_assert_eq(rn_offsets_key_decode((rn_bytes_t){ k0, sizeof k0 }, &k), 0);
    cr_assert_eq(k.partition, 3);
}

Test(offsets, damaged_records_are_refused)
{
    static const uint8_t v5[] = { 0, 5, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9 };
    static const uint8_t null_md[] = { 0,    0,    0, 0, 0, 0, 0, 0, 0, 5,
                                       0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 9 };
    static const uint8_t v3[] = { 0, 3, 0, 0,   0, 0, 0, 0, 0, 5, 0, 0, 0,
                                  3, 0, 1, 'x', 0, 0, 0, 0, 0, 0, 0, 9 };
    rn_offsets_value_t v;
    cr_assert_eq(rn_offsets_value_decode((rn_bytes_t){ v5, sizeof v5 }, &v), RN_EPROTO);
    cr_assert_eq(rn_offsets_value_decode((rn_bytes_t){ null_md, sizeof null_md }, &v), RN_EPROTO);
    for (size_t n = 0; n < sizeof v3; n++)
        cr_assert_eq(rn_offsets_value_decode((rn_bytes_t){ v3, n }, &v), RN_EPROTO,
                     "%zu-byte prefix", n);
    cr_assert_eq(rn_offsets_value_decode((rn_bytes_t){ v3, sizeof v3 }, &v), 0);

    static const uint8_t k1[] = { 0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 3, 0 }; /* a byte too many */
    static const uint8_t k2[] = { 0, 2, 0, 1, 'g' };                           /* group metadata */
    static const uint8_t kneg[] = { 0, 1, 0x80, 0x00, 'g', 0, 1, 't', 0, 0, 0, 3 };
    rn_offsets_key_t k;
    cr_assert_eq(rn_offsets_key_decode((rn_bytes_t){ k1, sizeof k1 }, &k), RN_EPROTO);
    cr_assert_eq(rn_offsets_key_decode((rn_bytes_t){ k1, sizeof k1 - 1 }, &k), 0);
    for (size_t n = 0; n < sizeof k1 - 1; n++)
        cr_assert_eq(rn_offsets_key_decode((rn_bytes_t){ k1, n }, &k), RN_EPROTO, "%zu-byte prefix",
                     n);
    cr_assert_eq(rn_offsets_key_decode((rn_bytes_t){ k2, sizeof k2 }, &k), RN_EPROTO);
    cr_assert_eq(rn_offsets_key_decode((rn_bytes_t){ kneg, sizeof kneg }, &k), RN_EPROTO);
}

Test(offsets, strings_too_long_for_int16_are_not_encodable)
{
    static char big[40000];
    rn_offsets_key_t k = { .group = { big, 32768 }, .topic = S("t") };
    cr_assert_eq(rn_offsets_key_len(&k), 0);
    k.group.len = 32767;
    cr_assert_eq(rn_offsets_key_len(&k), 2 + 2 + 32767 + 2 + 1 + 4);
    rn_offsets_value_t v = { .metadata = { big, 32768 } };
    cr_assert_eq(rn_offsets_value_len(&v), 0);
}

/* ---- the map over a real registry ---- */

typedef struct env {
    fixture_t f;
    rn_store_t *store;
    rn_offsets_t *offsets;
} env_t;

/* As the coordinator replays the topic: offset records to the offsets, the rest ignored. */
static void load_offsets(void *ctx, int32_t partition, rn_bytes_t key, rn_bytes_t value)
{
    (void)partition;
    if (key.len >= 2 && key.ptr[0] == 0 && key.ptr[1] <= 1)
        cr_assert(rn_offsets_load_record(ctx, key, value));
}

static void env_attach(env_t *e)
{
    cr_assert_eq(rn_store_open(&e->f.cfg, e->f.topics, &e->store), 0);
    e->offsets = rn_offsets_new(&e->f.cfg, e->store);
    cr_assert_eq(rn_store_load(e->store, load_offsets, e->offsets, NULL), 0);
}

static void env_detach(env_t *e)
{
    rn_offsets_free(e->offsets);
    rn_store_close(e->store);
}

static void env_init(env_t *e, const char *props)
{
    fixture_init(&e->f, props);
    env_attach(e);
}

static void env_restart(env_t *e)
{
    env_detach(e);
    fixture_restart(&e->f);
    env_attach(e);
}

static void env_deinit(env_t *e)
{
    env_detach(e);
    fixture_deinit(&e->f);
}

static const char *PROPS = "offsets.topic.num.partitions=3\noffsets.retention.minutes=1\n";

static int commit(rn_offsets_t *offsets, const char *group, const char *topic, int32_t partition,
                  int64_t offset, const char *metadata, int64_t now)
{
    rn_offsets_commit_t c = {
        .topic = S(topic),
        .partition = partition,
        .offset = offset,
        .leader_epoch = -1,
        .metadata = metadata ? S(metadata) : (rn_str_t){ NULL, 0 },
        .commit_timestamp = -1,
    };
    return rn_offsets_commit(offsets, S(group), &c, 1, now);
}

/* The committed offset, or -1 when none. */
static int64_t fetched(rn_offsets_t *offsets, const char *group, const char *topic,
                       int32_t partition)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_offsets_entry_t e;
    bool found;
    cr_assert_eq(rn_offsets_fetch(offsets, S(group), S(topic), partition, &arena, &e, &found), 0);
    rn_arena_deinit(&arena);
    return found ? e.offset : -1;
}

Test(offsets, commit_fetch_overwrite)
{
    env_t e;
    env_init(&e, PROPS);
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), -1);
    cr_assert_eq(commit(e.offsets, "g", "t", 0, 10, "m1", 1000), 0);
    cr_assert_eq(commit(e.offsets, "g", "t", 1, 20, NULL, 1000), 0);
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), 10);
    cr_assert_eq(fetched(e.offsets, "g", "t", 1), 20);
    cr_assert_eq(fetched(e.offsets, "other", "t", 0), -1, "groups are apart");
    cr_assert_eq(fetched(e.offsets, "g", "u", 0), -1, "topics are apart");
    cr_assert_eq(commit(e.offsets, "g", "t", 0, 15, "", 2000), 0);
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), 15,
                 "the latest commit wins, even going backwards");

    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_offsets_entry_t one;
    bool found = false;
    cr_assert_eq(rn_offsets_fetch(e.offsets, S("g"), S("t"), 1, &arena, &one, &found), 0);
    cr_assert(found);
    cr_assert_not_null(one.metadata.ptr, "null metadata is stored as \"\"");
    cr_assert_eq(one.metadata.len, 0);
    cr_assert_eq(one.leader_epoch, -1);
    cr_assert_eq(one.commit_timestamp, 1000);
    rn_arena_deinit(&arena);
    cr_assert(rn_offsets_has_group(e.offsets, S("g")));
    cr_assert_not(rn_offsets_has_group(e.offsets, S("other")));
    cr_assert_eq(rn_offsets_count(e.offsets), 2);
    env_deinit(&e);
}

Test(offsets, one_commit_of_many_partitions_is_one_batch_and_the_last_duplicate_wins)
{
    env_t e;
    env_init(&e, PROPS);
    rn_offsets_commit_t c[] = {
        { .topic = S("b"),
          .partition = 1,
          .offset = 1,
          .leader_epoch = 4,
          .metadata = S("x"),
          .commit_timestamp = -1 },
        { .topic = S("a"),
          .partition = 0,
          .offset = 2,
          .leader_epoch = -1,
          .commit_timestamp = 77 },
        { .topic = S("b"),
          .partition = 1,
          .offset = 3,
          .leader_epoch = 5,
          .metadata = S("y"),
          .commit_timestamp = -1 },
        { .topic = S("b"),
          .partition = 0,
          .offset = 4,
          .leader_epoch = -1,
          .commit_timestamp = -1 },
    };
    cr_assert_eq(rn_offsets_commit(e.offsets, S("g"), c, 4, 5000), 0);
    for (int pass = 0; pass < 2; pass++) {
        rn_arena_t arena;
        rn_arena_init(&arena, 0);
        rn_offsets_entry_t *all;
        size_t n;
        cr_assert_eq(rn_offsets_fetch_all(e.offsets, S("g"), &arena, &all, &n), 0);
        cr_assert_eq(n, 3, "pass %d", pass);
        /* Sorted by topic, then partition. */
        cr_assert_eq(all[0].topic.len, 1);
        cr_assert_eq(all[0].topic.ptr[0], 'a');
        cr_assert_eq(all[0].offset, 2);
        cr_assert_eq(all[0].commit_timestamp, 77, "v1 commits carry their own timestamp");
        cr_assert_eq(all[1].topic.ptr[0], 'b');
        cr_assert_eq(all[1].partition, 0);
        cr_assert_eq(all[1].commit_timestamp, 5000);
        cr_assert_eq(all[2].partition, 1);
        cr_assert_eq(all[2].offset, 3);
        cr_assert_eq(all[2].leader_epoch, 5);
        cr_assert_eq(all[2].metadata.len, 1);
        cr_assert_eq(all[2].metadata.ptr[0], 'y');
        rn_arena_deinit(&arena);
        env_restart(&e);
    }
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_offsets_entry_t *all;
    size_t n = 99;
    cr_assert_eq(rn_offsets_fetch_all(e.offsets, S("nobody"), &arena, &all, &n), 0);
    cr_assert_eq(n, 0);
    rn_arena_deinit(&arena);
    env_deinit(&e);
}

Test(offsets, unencodable_commits_change_nothing)
{
    env_t e;
    env_init(&e, PROPS);
    static char big[40000];
    memset(big, 'm', sizeof big);
    rn_offsets_commit_t c[] = {
        { .topic = S("t"),
          .partition = 0,
          .offset = 1,
          .leader_epoch = -1,
          .commit_timestamp = -1 },
        { .topic = S("t"),
          .partition = 1,
          .offset = 1,
          .leader_epoch = -1,
          .metadata = { big, 40000 },
          .commit_timestamp = -1 },
    };
    cr_assert_eq(rn_offsets_commit(e.offsets, S("g"), c, 2, 1), RN_EINVAL);
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), -1);
    env_deinit(&e);
}

Test(offsets, deletes_write_tombstones_that_survive_a_restart)
{
    env_t e;
    env_init(&e, PROPS);
    cr_assert_eq(commit(e.offsets, "g", "t", 0, 1, NULL, 1), 0);
    cr_assert_eq(commit(e.offsets, "g", "t", 1, 2, NULL, 1), 0);
    cr_assert_eq(commit(e.offsets, "g", "u", 0, 3, NULL, 1), 0);
    cr_assert_eq(commit(e.offsets, "h", "t", 0, 4, NULL, 1), 0);
    rn_offsets_tp_t tps[] = { { S("t"), 1 }, { S("t"), 9 }, { S("nope"), 0 } };
    cr_assert_eq(rn_offsets_delete(e.offsets, S("g"), tps, 3, 2), 0,
                 "absent partitions are ignored");
    cr_assert_eq(fetched(e.offsets, "g", "t", 1), -1);
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), 1);
    cr_assert_eq(rn_offsets_delete_group(e.offsets, S("h"), 3), 0);
    cr_assert_not(rn_offsets_has_group(e.offsets, S("h")));
    cr_assert_eq(rn_offsets_delete_group(e.offsets, S("nobody"), 3), 0);
    env_restart(&e);
    cr_assert_eq(fetched(e.offsets, "g", "t", 1), -1);
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), 1);
    cr_assert_eq(fetched(e.offsets, "g", "u", 0), 3);
    cr_assert_eq(fetched(e.offsets, "h", "t", 0), -1);
    cr_assert_eq(rn_offsets_count(e.offsets), 2);
    /* A commit after a delete brings the offset back, also after a restart. */
    cr_assert_eq(commit(e.offsets, "g", "t", 1, 7, NULL, 4), 0);
    env_restart(&e);
    cr_assert_eq(fetched(e.offsets, "g", "t", 1), 7);
    env_deinit(&e);
}

Test(offsets, commits_survive_a_kill)
{
    env_t e;
    env_init(&e, PROPS);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(commit(e.offsets, i % 2 ? "g1" : "g2", "t", i % 5, i, "meta", i), 0);
    rn_offsets_tp_t tp = { S("t"), 4 };
    cr_assert_eq(rn_offsets_delete(e.offsets, S("g1"), &tp, 1, 200), 0);
    /* kill -9: the files as they are, no clean close. */
    fixture_t crashed;
    fixture_crash_copy(&e.f, &crashed, PROPS);
    rn_store_t *store;
    cr_assert_eq(rn_store_open(&crashed.cfg, crashed.topics, &store), 0);
    rn_offsets_t *offsets = rn_offsets_new(&crashed.cfg, store);
    cr_assert_eq(rn_store_load(store, load_offsets, offsets, NULL), 0);
    /* The last commit of (g, t, p) is the largest i with i % 2 and i % 5 matching. */
    cr_assert_eq(fetched(offsets, "g1", "t", 0), 95);
    cr_assert_eq(fetched(offsets, "g2", "t", 0), 90);
    cr_assert_eq(fetched(offsets, "g1", "t", 3), 93);
    cr_assert_eq(fetched(offsets, "g2", "t", 4), 94);
    cr_assert_eq(fetched(offsets, "g1", "t", 4), -1, "the tombstone was there too");
    cr_assert_eq(rn_offsets_count(offsets), 9);
    rn_offsets_free(offsets);
    rn_store_close(store);
    fixture_deinit(&crashed);
    env_deinit(&e);
}

typedef struct emptiness {
    bool empty;
    int calls;
} emptiness_t;

static bool is_empty(void *ctx, rn_str_t group)
{
    emptiness_t *x = ctx;
    (void)group;
    x->calls++;
    return x->empty;
}

#define MINUTE 60000

Test(offsets, an_empty_groups_offsets_expire_after_the_retention)
{
    env_t e;
    env_init(&e, PROPS); /* offsets.retention.minutes=1 */
    int64_t t0 = 1000000;
    cr_assert_eq(commit(e.offsets, "g", "t", 0, 5, NULL, t0), 0);
    emptiness_t x = { .empty = true };
    rn_offsets_expire(e.offsets, t0, is_empty, &x);                 /* seen empty from t0 */
    rn_offsets_expire(e.offsets, t0 + MINUTE - 1000, is_empty, &x); /* checks run once a second */
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), 5, "kept until the retention has passed");
    rn_offsets_expire(e.offsets, t0 + MINUTE, is_empty, &x);
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), -1);
    cr_assert_not(rn_offsets_has_group(e.offsets, S("g")));
    env_restart(&e);
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), -1, "the expiry was written");
    env_deinit(&e);
}

Test(offsets, a_group_with_members_keeps_its_offsets_and_the_clock_starts_when_it_empties)
{
    env_t e;
    env_init(&e, PROPS);
    int64_t t0 = 1000000;
    cr_assert_eq(commit(e.offsets, "g", "t", 0, 5, NULL, t0), 0);
    emptiness_t x = { .empty = false };
    rn_offsets_expire(e.offsets, t0 + 10 * MINUTE, is_empty, &x);
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), 5);
    cr_assert_gt(x.calls, 0);
    /* The members leave at t0 + 10 min: the offset, committed long ago, still gets a full
     * retention from that moment (KIP-211). */
    x.empty = true;
    rn_offsets_expire(e.offsets, t0 + 10 * MINUTE + 1000, is_empty, &x);
    rn_offsets_expire(e.offsets, t0 + 11 * MINUTE, is_empty, &x);
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), 5);
    rn_offsets_expire(e.offsets, t0 + 11 * MINUTE + 1000, is_empty, &x);
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), -1);
    env_deinit(&e);
}

Test(offsets, a_newer_commit_is_kept_when_older_ones_expire)
{
    env_t e;
    env_init(&e, PROPS);
    int64_t t0 = 1000000;
    emptiness_t x = { .empty = true };
    cr_assert_eq(commit(e.offsets, "g", "t", 0, 5, NULL, t0), 0);
    rn_offsets_expire(e.offsets, t0, is_empty, &x);
    cr_assert_eq(commit(e.offsets, "g", "t", 1, 6, NULL, t0 + 30000), 0);
    rn_offsets_expire(e.offsets, t0 + MINUTE, is_empty, &x);
    cr_assert_eq(fetched(e.offsets, "g", "t", 0), -1);
    cr_assert_eq(fetched(e.offsets, "g", "t", 1), 6);
    /* Checks run at most once a second of the clock. */
    rn_offsets_expire(e.offsets, t0 + MINUTE + 30000, is_empty, &x);
    int calls = x.calls;
    rn_offsets_expire(e.offsets, t0 + MINUTE + 30500, is_empty, &x);
    cr_assert_eq(x.calls, calls);
    cr_assert_eq(fetched(e.offsets, "g", "t", 1), -1);
    env_deinit(&e);
}

Test(offsets, a_deleted_topics_offsets_are_removed_in_every_group)
{
    env_t e;
    env_init(&e, PROPS);
    cr_assert_eq(commit(e.offsets, "g1", "gone", 0, 1, NULL, 1), 0);
    cr_assert_eq(commit(e.offsets, "g1", "gone", 1, 1, NULL, 1), 0);
    cr_assert_eq(commit(e.offsets, "g1", "kept", 0, 2, NULL, 1), 0);
    cr_assert_eq(commit(e.offsets, "g2", "gone", 0, 3, NULL, 1), 0);
    cr_assert_eq(commit(e.offsets, "g3", "kept", 0, 4, NULL, 1), 0);
    rn_offsets_topic_deleted(e.offsets, "gone", 2);
    cr_assert_eq(fetched(e.offsets, "g1", "gone", 0), -1);
    cr_assert_eq(fetched(e.offsets, "g1", "gone", 1), -1);
    cr_assert_eq(fetched(e.offsets, "g2", "gone", 0), -1);
    cr_assert_not(rn_offsets_has_group(e.offsets, S("g2")));
    cr_assert_eq(fetched(e.offsets, "g1", "kept", 0), 2);
    env_restart(&e);
    cr_assert_eq(fetched(e.offsets, "g1", "gone", 0), -1);
    cr_assert_eq(fetched(e.offsets, "g1", "kept", 0), 2);
    cr_assert_eq(fetched(e.offsets, "g3", "kept", 0), 4);
    cr_assert_eq(rn_offsets_count(e.offsets), 2);
    env_deinit(&e);
}

typedef struct names {
    int n;
    char seen[8][16];
} names_t;

static void add_name(void *ctx, rn_str_t id)
{
    names_t *names = ctx;
    snprintf(names->seen[names->n++], sizeof names->seen[0], "%.*s", (int)id.len, id.ptr);
}

Test(offsets, each_group_lists_the_groups_with_offsets)
{
    env_t e;
    env_init(&e, PROPS);
    cr_assert_eq(commit(e.offsets, "g1", "t", 0, 1, NULL, 1), 0);
    cr_assert_eq(commit(e.offsets, "g2", "t", 0, 1, NULL, 1), 0);
    cr_assert_eq(commit(e.offsets, "", "t", 0, 1, NULL, 1), 0); /* the empty id is a group too */
    names_t names = { 0 };
    rn_offsets_each_group(e.offsets, add_name, &names);
    cr_assert_eq(names.n, 3);
    int found = 0;
    for (int i = 0; i < names.n; i++)
        found += !strcmp(names.seen[i], "g1") + !strcmp(names.seen[i], "g2") * 2 +
                 !strcmp(names.seen[i], "") * 4;
    cr_assert_eq(found, 7);
    env_deinit(&e);
}

Test(offsets, many_offsets_in_one_group_grow_the_tables)
{
    env_t e;
    env_init(&e, PROPS);
    enum { N = 5000 };
    static rn_offsets_commit_t c[N];
    static char topics[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(topics[i], sizeof topics[i], "topic-%d", i % 50);
        c[i] = (rn_offsets_commit_t){ .topic = S(topics[i]),
                                      .partition = i / 50,
                                      .offset = i,
                                      .leader_epoch = -1,
                                      .commit_timestamp = -1 };
    }
    cr_assert_eq(rn_offsets_commit(e.offsets, S("big"), c, N, 1), 0);
    cr_assert_eq(rn_offsets_count(e.offsets), N);
    env_restart(&e);
    cr_assert_eq(rn_offsets_count(e.offsets), N);
    for (int i = 0; i < N; i += 97)
        cr_assert_eq(fetched(e.offsets, "big", topics[i], i / 50), i);
    env_deinit(&e);
}
