/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the records the coordinators load from the internal topics at start-up
 * (src/coord): __consumer_offsets' OffsetCommit and GroupMetadata records and
 * __transaction_state's records. The input is a run of records, each
 *   u8 topic (even: __consumer_offsets, odd: __transaction_state) | u16 key length | key |
 *   i32 value length (negative: a tombstone) | value,
 * fed in order to the loaders of one offsets map and one group registry, as the broker's
 * start-up feeds them, and to the transaction record decoders. The whole input is also given
 * to every decoder as one key and as one value. Nothing may crash or read past the bytes; a
 * record that does not parse is refused, as the loaders refuse it. Build with -Dfuzz=true
 * (clang); see scripts/fuzz. */
#include <stdint.h>
#include <string.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "coord/groups.h"
#include "coord/groups_internal.h"
#include "coord/offsets.h"
#include "coord/store.h"
#include "coord/txn_record.h"
#include "runnel/runnel.h"
#include "topics/topics.h"
#include "util/arena.h"
#include "util/logging.h"

#define ARENA_LIMIT (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_all(rn_bytes_t b)
{
    rn_offsets_key_t okey;
    rn_offsets_value_t ovalue;
    (void)rn_offsets_key_decode(b, &okey);
    (void)rn_offsets_value_decode(b, &ovalue);

    rn_str_t id;
    (void)rn_groups_key_decode(b, &id);
    (void)rn_txn_key_decode(b, &id);

    rn_arena_t arena;
    rn_arena_init(&arena, ARENA_LIMIT);
    rn_groups_value_t gvalue;
    (void)rn_groups_value_decode(b, NULL, &gvalue);
    (void)rn_groups_value_decode(b, &arena, &gvalue);
    rn_txn_log_value_t tvalue;
    (void)rn_txn_value_decode(b, &arena, &tvalue);
    rn_arena_deinit(&arena);
}

static uint32_t read_be(const uint8_t *p, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The offsets map needs its store (__consumer_offsets, one partition, in a temporary log
 * directory), made once per process; nothing is written to it. */
static rn_config_t cfg;
static rn_topics_t *topics;
static rn_store_t *store;
static char dir[] = "/tmp/runnel-fuzz-coord-XXXXXX";

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* At exit (libFuzzer exits when its time is up): the store closes and its directory goes. */
static void close_store(void)
{
    rn_store_close(store);
    rn_topics_close(topics);
    rn_config_deinit(&cfg);
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void open_store(void)
{
    char err[256];
    runnel_config_t *props = runnel_config_new();
    if (props == NULL || mkdtemp(dir) == NULL || runnel_config_set(props, "log.dirs", dir) != 0 ||
        runnel_config_set(props, "log.level", "error") != 0 ||
        runnel_config_set(props, "offsets.topic.num.partitions", "1") != 0 ||
        rn_config_build(props, &cfg, err, sizeof(err)) != 0)
        abort();
    runnel_config_free(props);
    rn_log_set_level(RN_LOG_ERROR);
    if (rn_topics_open(&cfg, &topics) != 0 || rn_store_open(&cfg, topics, &store) != 0)
        abort();
    atexit(close_store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t none[1];
    if (store == NULL)
        open_store();
    decode_all((rn_bytes_t){ size ? data : none, size });

    rn_groups_t *groups = rn_groups_new(&cfg, NULL, 1700000000000);
    rn_offsets_t *offsets = rn_offsets_new(&cfg, store);
    size_t pos = 0;
    while (groups != NULL && offsets != NULL && size - pos >= 7) {
        uint8_t topic = data[pos];
        size_t key_len = read_be(data + pos + 1, 2);
        pos += 3;
        if (key_len > size - pos - 4)
            break;
        rn_bytes_t key = { data + pos, key_len };
        pos += key_len;
        int32_t value_len = (int32_t)read_be(data + pos, 4);
        pos += 4;
        rn_bytes_t value = { NULL, 0 };
        if (value_len >= 0) {
            if ((size_t)value_len > size - pos)
                break;
            value = (rn_bytes_t){ data + pos, (size_t)value_len };
            pos += (size_t)value_len;
        }
        if (value.ptr == NULL && value_len >= 0)
            value.ptr = none; /* an empty value is not a tombstone */
        if (topic % 2 == 0) {
            /* The broker's loader: key version 0/1 is an offset commit, 2 a group. */
            (void)rn_offsets_load_record(offsets, key, value);
            (void)rn_groups_load_record(groups, key, value);
        } else {
            rn_str_t id;
            (void)rn_txn_key_decode(key, &id);
            if (value.ptr != NULL) {
                rn_arena_t arena;
                rn_arena_init(&arena, ARENA_LIMIT);
                rn_txn_log_value_t tvalue;
                (void)rn_txn_value_decode(value, &arena, &tvalue);
                rn_arena_deinit(&arena);
            }
        }
    }
    rn_offsets_free(offsets);
    rn_groups_free(groups);
    return 0;
}
