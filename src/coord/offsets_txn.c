/* SPDX-License-Identifier: Apache-2.0 */
/* Transactional offsets (TxnOffsetCommit, KIP-98 and KIP-447). A producer's offsets are written
 * as its transactional batch and held apart, per producer, in the offsets' txn list until a
 * marker for that producer lands in the group's __consumer_offsets partition: a commit makes
 * them committed offsets in the map (offsets.c), an abort drops them. Appends and the memory
 * updates after them run under the partition's write lock, as plain commits do. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "coord/offsets_internal.h"
#include "coord/store.h"
#include "log/log.h"
#include "topics/topics.h"
#include "util/xmalloc.h"

static rn_str_t txn_group(const rn_offsets_txn_offset_t *t)
{
    return (rn_str_t){ t->text, t->group_len };
}
static rn_str_t txn_topic(const rn_offsets_txn_offset_t *t)
{
    return (rn_str_t){ t->text + t->group_len, t->topic_len };
}
static rn_str_t txn_metadata(const rn_offsets_txn_offset_t *t)
{
    return (rn_str_t){ t->text + t->group_len + t->topic_len, t->metadata_len };
}

bool rn_offsets_txn_holds(const rn_offsets_t *offsets, rn_str_t group_id, rn_str_t topic,
                          int32_t partition)
{
    for (const rn_offsets_txn_offset_t *t = offsets->txn_offsets; t != NULL; t = t->next)
        if (t->partition == partition && rn_offsets_str_eq(t->text, t->group_len, group_id) &&
            rn_offsets_str_eq(t->text + t->group_len, t->topic_len, topic))
            return true;
    return false;
}

/* Holds one offset for `producer_id`, replacing what the same producer held for the same
 * group and partition (the later commit wins, as on reload). Under the map lock. */
static void txn_hold(rn_offsets_t *offsets, int64_t producer_id, rn_str_t group_id, rn_str_t topic,
                     int32_t partition, const rn_offsets_value_t *v)
{
    rn_offsets_txn_offset_t **link = &offsets->txn_offsets;
    while (*link != NULL) {
        rn_offsets_txn_offset_t *t = *link;
        if (t->producer_id == producer_id && t->partition == partition &&
            rn_offsets_str_eq(t->text, t->group_len, group_id) &&
            rn_offsets_str_eq(t->text + t->group_len, t->topic_len, topic)) {
            *link = t->next;
            free(t);
            offsets->ntxn_offsets--;
            continue;
        }
        link = &t->next;
    }
    /* Bounded: each string has an INT16 length in the record it came from. */
    rn_offsets_txn_offset_t *t = rn_xmalloc(sizeof *t + group_id.len + topic.len + v->metadata.len);
    *t = (rn_offsets_txn_offset_t){
        .producer_id = producer_id,
        .store_partition = rn_store_partition_for(offsets->store, group_id),
        .partition = partition,
        .offset = v->offset,
        .leader_epoch = v->leader_epoch,
        .commit_timestamp = v->commit_timestamp,
        .group_len = group_id.len,
        .topic_len = topic.len,
        .metadata_len = v->metadata.len,
    };
    if (group_id.len > 0)
        memcpy(t->text, group_id.ptr, group_id.len);
    if (topic.len > 0)
        memcpy(t->text + group_id.len, topic.ptr, topic.len);
    if (v->metadata.len > 0)
        memcpy(t->text + group_id.len + topic.len, v->metadata.ptr, v->metadata.len);
    *link = t; /* at the tail: applied in the order they were written */
    offsets->ntxn_offsets++;
}

/* Ends `producer_id`'s transaction in __consumer_offsets-`store_partition`: its offsets there
 * become committed ones, or go. Under the map lock. */
static void txn_end(rn_offsets_t *offsets, int32_t store_partition, int64_t producer_id,
                    bool commit)
{
    rn_offsets_txn_offset_t **link = &offsets->txn_offsets;
    while (*link != NULL) {
        rn_offsets_txn_offset_t *t = *link;
        if (t->producer_id != producer_id || t->store_partition != store_partition) {
            link = &t->next;
            continue;
        }
        if (commit) {
            rn_offsets_value_t v = {
                .offset = t->offset,
                .leader_epoch = t->leader_epoch,
                .metadata = txn_metadata(t),
                .commit_timestamp = t->commit_timestamp,
                .expire_timestamp = -1,
            };
            rn_offsets_upsert(offsets, txn_group(t), txn_topic(t), t->partition, &v);
        }
        *link = t->next;
        free(t);
        offsets->ntxn_offsets--;
    }
}

int rn_offsets_txn_commit(rn_offsets_t *offsets, rn_str_t group_id, int64_t producer_id,
                          int16_t producer_epoch, const rn_offsets_commit_t *commits, size_t n,
                          int64_t now_ms)
{
    if (n == 0)
        return 0;
    rn_offsets_encoded_t enc;
    int rc = rn_offsets_encode_commits(group_id, commits, n, now_ms, &enc);
    if (rc != 0)
        return rc;
    pthread_mutex_t *wl = rn_offsets_write_lock(offsets, group_id);
    pthread_mutex_lock(wl);
    rc = rn_store_append_txn(offsets->store, group_id, enc.recs, n, now_ms, producer_id,
                             producer_epoch);
    if (rc == 0) {
        pthread_mutex_lock(&offsets->lock);
        for (size_t i = 0; i < n; i++)
            txn_hold(offsets, producer_id, group_id, commits[i].topic, commits[i].partition,
                     &enc.values[i]);
        pthread_mutex_unlock(&offsets->lock);
    }
    pthread_mutex_unlock(wl);
    rn_offsets_encoded_free(&enc);
    return rc;
}

int rn_offsets_txn_marker(rn_offsets_t *offsets, int32_t partition, int64_t producer_id,
                          int16_t producer_epoch, int32_t coordinator_epoch, bool commit,
                          int64_t now_ms)
{
    rn_partition_t *part = rn_store_partition(offsets->store, partition);
    if (part == NULL)
        return 0;
    /* Under the partition's write lock, as a commit: the memory follows the log's order. */
    pthread_mutex_t *wl = &offsets->write_locks[partition];
    pthread_mutex_lock(wl);
    int64_t at = 0;
    bool sync_needed = false;
    int rc = rn_log_append_marker(part->log, producer_id, producer_epoch, coordinator_epoch, commit,
                                  now_ms, &at, &sync_needed);
    if (rc == 0 && sync_needed)
        rc = rn_log_sync(part->log);
    if (rc == 0) {
        pthread_mutex_lock(&offsets->lock);
        txn_end(offsets, partition, producer_id, commit);
        pthread_mutex_unlock(&offsets->lock);
        rn_partition_notify(part);
    }
    pthread_mutex_unlock(wl);
    return rc;
}

bool rn_offsets_txn_load_record(rn_offsets_t *offsets, int64_t producer_id, rn_bytes_t key,
                                rn_bytes_t value)
{
    rn_offsets_key_t k;
    rn_offsets_value_t v;
    if (rn_offsets_key_decode(key, &k) != 0)
        return false;
    if (value.ptr == NULL)
        return true; /* TxnOffsetCommit writes no tombstones; nothing to hold */
    if (rn_offsets_value_decode(value, &v) != 0)
        return false;
    pthread_mutex_lock(&offsets->lock);
    txn_hold(offsets, producer_id, k.group, k.topic, k.partition, &v);
    pthread_mutex_unlock(&offsets->lock);
    return true;
}

void rn_offsets_txn_load_marker(rn_offsets_t *offsets, int32_t partition, int64_t producer_id,
                                bool commit)
{
    pthread_mutex_lock(&offsets->lock);
    txn_end(offsets, partition, producer_id, commit);
    pthread_mutex_unlock(&offsets->lock);
}

size_t rn_offsets_txn_count(rn_offsets_t *offsets)
{
    pthread_mutex_lock(&offsets->lock);
    size_t n = offsets->ntxn_offsets;
    pthread_mutex_unlock(&offsets->lock);
    return n;
}
