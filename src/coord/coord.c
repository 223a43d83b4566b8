/* SPDX-License-Identifier: Apache-2.0 */
/* The coordinator: opens __consumer_offsets, creates the groups and offsets maps on top of it,
 * and replays the topic into them at start-up, sending each record by its key's version:
 * OffsetCommitKey (0, 1) to the offsets, GroupMetadataKey (2) to the groups; later versions
 * (the KIP-848 consumer-group records Kafka 3.7+ writes) are counted and skipped. Offsets of a
 * producer's transactional batch are held for its transaction and settled by the markers that
 * follow. Then it opens __transaction_state and replays it into the transaction coordinator. */
#include "coord/coord.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "coord/groups.h"
#include "coord/offsets.h"
#include "coord/producer_ids.h"
#include "coord/store.h"
#include "coord/txn.h"
#include "util/clock.h"
#include "util/endian.h"
#include "util/err.h"
#include "util/logging.h"
#include "util/xmalloc.h"

/* Bad records logged one by one at start-up before the rest are only counted. */
#define LOG_BAD_RECORDS 10

struct rn_coord {
    rn_store_t *store;
    rn_groups_t *groups;
    rn_offsets_t *offsets;
    rn_producer_ids_t *producer_ids;
    rn_store_t *txn_store; /* __transaction_state */
    rn_txn_t *txn;
    _Atomic int64_t now_ms; /* the last time given to open or tick; relaxed: a clock reading */
};

typedef struct load {
    rn_coord_t *coord;
    int64_t offset_records, group_records, other_records, bad_records;
    int64_t txn_offset_records, markers;
} load_t;

static void on_record(void *ctx, int32_t partition, const rn_store_origin_t *origin, rn_bytes_t key,
                      rn_bytes_t value)
{
    load_t *ld = ctx;
    int version = key.len >= 2 ? (int16_t)rn_load_be16(key.ptr) : -1;
    bool ok = true;
    if (origin->marker >= 0) {
        ld->markers++;
        rn_offsets_txn_load_marker(ld->coord->offsets, partition, origin->producer_id,
                                   origin->marker == RN_MARKER_COMMIT);
        return;
    }
    if (origin->transactional && (version == 0 || version == 1)) {
        /* TxnOffsetCommit's offsets: held until the producer's marker says what they are. */
        ld->txn_offset_records++;
        ok = rn_offsets_txn_load_record(ld->coord->offsets, origin->producer_id, key, value);
        version = -2;
    }
    switch (version) {
    case -2:
        break;
    case 0:
    case 1:
        ld->offset_records++;
        ok = rn_offsets_load_record(ld->coord->offsets, key, value);
        break;
    case 2:
        ld->group_records++;
        ok = rn_groups_load_record(ld->coord->groups, key, value);
        break;
    default:
        if (version < 0) {
            ok = false;
            break;
        }
        ld->other_records++;
        break;
    }
    if (!ok && ld->bad_records++ < LOG_BAD_RECORDS)
        rn_log(RN_LOG_WARN, "coord",
               "%s-%" PRId32 ": skipping a record that does not parse (key version %d, %zu "
               "key bytes, %zu value bytes)",
               RN_STORE_TOPIC, partition, version, key.len, value.len);
}

typedef struct txn_load {
    rn_txn_t *txn;
    int64_t records, bad_records;
} txn_load_t;

static void on_txn_record(void *ctx, int32_t partition, rn_bytes_t key, rn_bytes_t value)
{
    txn_load_t *ld = ctx;
    ld->records++;
    if (!rn_txn_load_record(ld->txn, key, value) && ld->bad_records++ < LOG_BAD_RECORDS)
        rn_log(RN_LOG_WARN, "coord",
               "%s-%" PRId32 ": skipping a record that does not parse (%zu key bytes, %zu value "
               "bytes)",
               RN_STORE_TXN_TOPIC, partition, key.len, value.len);
}

/* Opens __transaction_state and loads the transaction coordinator from it. On failure nothing
 * of it is left open. */
static int open_transactions(const rn_config_t *cfg, rn_topics_t *topics, rn_coord_t *coord)
{
    int rc = rn_store_open_topic(cfg, RN_STORE_TXN_TOPIC, topics, &coord->txn_store);
    if (rc != 0)
        return rc;
    coord->txn = rn_txn_new(cfg, coord->txn_store, coord->producer_ids, topics, coord->offsets);
    txn_load_t ld = { .txn = coord->txn };
    rn_store_stats_t stats;
    int64_t started = rn_clock_mono_ms();
    if ((rc = rn_store_load(coord->txn_store, on_txn_record, &ld, &stats)) != 0) {
        rn_log(RN_LOG_ERROR, "coord", "cannot read %s: %s", RN_STORE_TXN_TOPIC, strerror(-rc));
        rn_txn_free(coord->txn);
        rn_store_close(coord->txn_store);
        coord->txn = NULL;
        coord->txn_store = NULL;
        return rc;
    }
    size_t ntxns, nprepared;
    rn_txn_loaded(coord->txn, &ntxns, &nprepared);
    if (rn_store_ready(coord->txn_store))
        rn_log(RN_LOG_INFO, "coord",
               "loaded %s in %" PRId64 " ms: %" PRId64 " records, %zu transactional ids, %zu "
               "transactions to complete, %" PRId64 " bad records",
               RN_STORE_TXN_TOPIC, rn_clock_mono_ms() - started, ld.records, ntxns, nprepared,
               ld.bad_records);
    return 0;
}

int rn_coord_open(const rn_config_t *cfg, rn_topics_t *topics, int64_t now_ms, rn_coord_t **out)
{
    rn_coord_t *coord = rn_xmalloc(sizeof *coord);
    *coord = (rn_coord_t){ 0 };
    atomic_store_explicit(&coord->now_ms, now_ms, memory_order_relaxed);
    int rc = rn_producer_ids_open(cfg->log_dir, &coord->producer_ids);
    if (rc != 0)
        goto fail_free;
    if ((rc = rn_store_open(cfg, topics, &coord->store)) != 0)
        goto fail_ids;
    coord->groups = rn_groups_new(cfg, coord->store, now_ms);
    coord->offsets = rn_offsets_new(cfg, coord->store);
    load_t ld = { .coord = coord };
    rn_store_stats_t stats;
    int64_t started = rn_clock_mono_ms(); /* the load alone: creating the topic is logged apart */
    if ((rc = rn_store_load_entries(coord->store, on_record, &ld, &stats)) != 0) {
        rn_log(RN_LOG_ERROR, "coord", "cannot read %s: %s", RN_STORE_TOPIC, strerror(-rc));
        goto fail_maps;
    }
    rn_log(RN_LOG_INFO, "coord",
           "loaded %s in %" PRId64 " ms: %" PRId64 " records in %" PRId64 " batches (%" PRId64
           " bytes) from %" PRId32 " partitions; %" PRId64
           " offset commits (%zu offsets kept), %" PRId64 " transactional offset commits (%zu "
           "held for open transactions), %" PRId64 " markers, %" PRId64 " group records, %" PRId64
           " other records skipped, %" PRId64 " bad records, %" PRId32 " partitions stopped early",
           RN_STORE_TOPIC, rn_clock_mono_ms() - started, stats.records, stats.batches, stats.bytes,
           rn_store_partitions(coord->store), ld.offset_records, rn_offsets_count(coord->offsets),
           ld.txn_offset_records, rn_offsets_txn_count(coord->offsets), ld.markers,
           ld.group_records, ld.other_records, ld.bad_records, stats.bad_partitions);
    if ((rc = open_transactions(cfg, topics, coord)) != 0)
        goto fail_maps;
    *out = coord;
    return 0;
fail_maps:
    rn_offsets_free(coord->offsets);
    rn_groups_free(coord->groups);
    rn_store_close(coord->store);
fail_ids:
    rn_producer_ids_close(coord->producer_ids);
fail_free:
    free(coord);
    return rc;
}

void rn_coord_close(rn_coord_t *coord)
{
    if (coord == NULL)
        return;
    rn_txn_free(coord->txn);
    rn_store_close(coord->txn_store);
    rn_offsets_free(coord->offsets);
    rn_groups_free(coord->groups);
    rn_store_close(coord->store);
    rn_producer_ids_close(coord->producer_ids);
    free(coord);
}

void rn_coord_reset(rn_coord_t *coord)
{
    /* Transactions first: a transaction's offsets live in the offsets map until it ends. */
    if (coord->txn != NULL)
        rn_txn_clear(coord->txn);
    rn_groups_clear(coord->groups);
    rn_offsets_clear(coord->offsets);
}

static bool group_is_empty(void *ctx, rn_str_t group_id)
{
    return rn_groups_is_empty(ctx, group_id);
}

static bool group_has_offsets(void *ctx, rn_str_t group_id)
{
    return rn_offsets_has_group(ctx, group_id);
}

/* Offsets expire first, so that a group whose last offsets just went can be removed in the
 * same tick, as Kafka's cleanup does both in one pass. */
void rn_coord_tick(rn_coord_t *coord, int64_t now_ms)
{
    atomic_store_explicit(&coord->now_ms, now_ms, memory_order_relaxed);
    rn_groups_tick(coord->groups, now_ms);
    rn_offsets_expire(coord->offsets, now_ms, group_is_empty, coord->groups);
    rn_groups_remove_empty(coord->groups, group_has_offsets, coord->offsets);
    rn_txn_tick(coord->txn, now_ms);
}

void rn_coord_topic_deleted(rn_coord_t *coord, const char *topic)
{
    rn_offsets_topic_deleted(coord->offsets, topic, rn_coord_now(coord));
}

int64_t rn_coord_now(rn_coord_t *coord)
{
    return atomic_load_explicit(&coord->now_ms, memory_order_relaxed);
}

rn_store_t *rn_coord_store(rn_coord_t *coord)
{
    return coord->store;
}
rn_groups_t *rn_coord_groups(rn_coord_t *coord)
{
    return coord->groups;
}
rn_offsets_t *rn_coord_offsets(rn_coord_t *coord)
{
    return coord->offsets;
}
rn_producer_ids_t *rn_coord_producer_ids(rn_coord_t *coord)
{
    return coord->producer_ids;
}
rn_store_t *rn_coord_txn_store(rn_coord_t *coord)
{
    return coord->txn_store;
}
rn_txn_t *rn_coord_txn(rn_coord_t *coord)
{
    return coord->txn;
}
