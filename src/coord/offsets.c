/* SPDX-License-Identifier: Apache-2.0 */
/* Committed offsets in memory, written through to __consumer_offsets. Two levels of chained
 * hash tables: groups by id, then each group's offsets by (topic, partition). A group's offsets
 * live in one __consumer_offsets partition, so each change is one batch in one log, and the
 * partition's write lock, held from the append to the memory update, keeps the memory in log
 * order (see offsets.h). Deletions (OffsetDelete, DeleteGroups, deleted topics, retention) are
 * tombstones written first and applied after, like commits. Transactional offsets live in
 * offsets_txn.c, the record layouts in offsets_record.c (see offsets_internal.h). */
#include "coord/offsets.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "coord/offsets_internal.h"
#include "coord/store.h"
#include "util/err.h"
#include "util/hmap.h"
#include "util/logging.h"
#include "util/xmalloc.h"

/* How often (in now_ms) expiry looks at the groups at all. */
#define EXPIRE_CHECK_MS 1000

/* ---- the map ---- */

typedef struct entry entry_t;
struct entry {
    rn_hmap_node_t node; /* in its group's `entries`, keyed by (topic, partition) */
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    int64_t commit_timestamp;
    int64_t expire_timestamp;
    char *metadata; /* NULL when empty */
    size_t metadata_len;
    size_t topic_len;
    char topic[];
};

typedef struct group group_t;
struct group {
    rn_hmap_node_t node; /* in offsets->groups, keyed by id */
    rn_hmap_t entries;   /* hashed with the offsets' key */
    int64_t empty_since; /* -1: not seen empty since it last had members */
    int64_t next_due;    /* no offset expires before this (0: unknown) */
    size_t id_len;
    char id[];
};
static uint64_t group_hash(const rn_offsets_t *offsets, rn_str_t id)
{
    return rn_hmap_hash(&offsets->groups, id.ptr, id.len);
}

static uint64_t entry_hash(const group_t *g, rn_str_t topic, int32_t partition)
{
    rn_hmap_hasher_t h;
    rn_hmap_hash_begin(&g->entries, &h);
    rn_hmap_hash_add(&h, topic.ptr, topic.len);
    rn_hmap_hash_add(&h, &partition, sizeof partition);
    return rn_hmap_hash_end(&h);
}

static rn_str_t group_name(const group_t *g)
{
    return (rn_str_t){ .ptr = g->id, .len = g->id_len };
}
static rn_str_t entry_topic(const entry_t *e)
{
    return (rn_str_t){ .ptr = e->topic, .len = e->topic_len };
}

static group_t *group_at(rn_hmap_node_t *n)
{
    return n != NULL ? rn_container_of(n, group_t, node) : NULL;
}
static entry_t *entry_at(rn_hmap_node_t *n)
{
    return n != NULL ? rn_container_of(n, entry_t, node) : NULL;
}

static group_t *find_group(rn_offsets_t *offsets, rn_str_t id)
{
    uint64_t h = group_hash(offsets, id);
    for (rn_hmap_node_t *n = rn_hmap_next_match(&offsets->groups, NULL, h); n != NULL;
         n = rn_hmap_next_match(&offsets->groups, n, h))
        if (rn_offsets_str_eq(group_at(n)->id, group_at(n)->id_len, id))
            return group_at(n);
    return NULL;
}

static group_t *get_group(rn_offsets_t *offsets, rn_str_t id)
{
    group_t *g = find_group(offsets, id);
    if (g != NULL)
        return g;
    g = rn_xmalloc(sizeof *g + id.len);
    *g = (group_t){ .empty_since = -1, .id_len = id.len };
    /* The groups' key, drawn once: a getrandom per group would cost a system call per commit
     * of a new group at load time, and the key is as secret either way. */
    rn_hmap_init_keyed(&g->entries, offsets->groups.k0, offsets->groups.k1);
    if (id.len > 0)
        memcpy(g->id, id.ptr, id.len);
    rn_hmap_insert(&offsets->groups, &g->node, group_hash(offsets, id));
    return g;
}

static void free_entry(entry_t *e)
{
    free(e->metadata);
    free(e);
}

static void remove_group(rn_offsets_t *offsets, group_t *g)
{
    rn_hmap_remove(&offsets->groups, &g->node);
    rn_hmap_iter_t it = rn_hmap_iter(&g->entries);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;) {
        free_entry(entry_at(n));
        offsets->noffsets--;
    }
    rn_hmap_deinit(&g->entries);
    free(g);
}

static entry_t *find_entry(group_t *g, rn_str_t topic, int32_t partition)
{
    uint64_t h = entry_hash(g, topic, partition);
    for (rn_hmap_node_t *n = rn_hmap_next_match(&g->entries, NULL, h); n != NULL;
         n = rn_hmap_next_match(&g->entries, n, h)) {
        entry_t *e = entry_at(n);
        if (e->partition == partition && rn_offsets_str_eq(e->topic, e->topic_len, topic))
            return e;
    }
    return NULL;
}

/* Inserts or overwrites; `value->metadata` is copied. */
void rn_offsets_upsert(rn_offsets_t *offsets, rn_str_t group_id, rn_str_t topic, int32_t partition,
                       const rn_offsets_value_t *value)
{
    group_t *g = get_group(offsets, group_id);
    entry_t *e = find_entry(g, topic, partition);
    if (e == NULL) {
        e = rn_xmalloc(sizeof *e + topic.len);
        *e = (entry_t){ .partition = partition, .topic_len = topic.len };
        if (topic.len > 0)
            memcpy(e->topic, topic.ptr, topic.len);
        rn_hmap_insert(&g->entries, &e->node, entry_hash(g, topic, partition));
        offsets->noffsets++;
    }
    e->offset = value->offset;
    e->leader_epoch = value->leader_epoch;
    e->commit_timestamp = value->commit_timestamp;
    e->expire_timestamp = value->expire_timestamp;
    if (value->metadata.len != e->metadata_len ||
        (e->metadata_len > 0 && memcmp(e->metadata, value->metadata.ptr, e->metadata_len) != 0)) {
        free(e->metadata);
        e->metadata = NULL;
        e->metadata_len = 0;
        if (value->metadata.len > 0) {
            /* Bounded: at most INT16_MAX bytes (the record layout's limit). */
            e->metadata = rn_xmalloc(value->metadata.len);
            memcpy(e->metadata, value->metadata.ptr, value->metadata.len);
            e->metadata_len = value->metadata.len;
        }
    }
    g->next_due = 0; /* a new commit time: expiry looks again */
}

static void remove_entry(rn_offsets_t *offsets, rn_str_t group_id, rn_str_t topic,
                         int32_t partition)
{
    group_t *g = find_group(offsets, group_id);
    entry_t *e = g != NULL ? find_entry(g, topic, partition) : NULL;
    if (e == NULL)
        return;
    rn_hmap_remove(&g->entries, &e->node);
    free_entry(e);
    offsets->noffsets--;
    /* A group without offsets goes (groups.h keeps its membership); its empty_since goes with
     * it, which can only make retention later. */
    if (g->entries.count == 0)
        remove_group(offsets, g);
}

rn_offsets_t *rn_offsets_new(const rn_config_t *cfg, rn_store_t *store)
{
    rn_offsets_t *offsets = rn_xmalloc(sizeof *offsets);
    *offsets = (rn_offsets_t){
        .store = store,
        .retention_ms = (int64_t)cfg->offsets_retention_minutes * 60000,
        .last_expire = INT64_MIN,
        .nwrite_locks = rn_store_partitions(store),
    };
    pthread_mutex_init(&offsets->lock, NULL);
    rn_hmap_init(&offsets->groups);
    offsets->write_locks = rn_xcalloc((size_t)offsets->nwrite_locks, sizeof(pthread_mutex_t));
    for (int32_t i = 0; i < offsets->nwrite_locks; i++)
        pthread_mutex_init(&offsets->write_locks[i], NULL);
    return offsets;
}

void rn_offsets_free(rn_offsets_t *offsets)
{
    if (offsets == NULL)
        return;
    rn_hmap_iter_t it = rn_hmap_iter(&offsets->groups);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;)
        remove_group(offsets, group_at(n));
    rn_hmap_deinit(&offsets->groups);
    while (offsets->txn_offsets != NULL) {
        rn_offsets_txn_offset_t *next = offsets->txn_offsets->next;
        free(offsets->txn_offsets);
        offsets->txn_offsets = next;
    }
    for (int32_t i = 0; i < offsets->nwrite_locks; i++)
        pthread_mutex_destroy(&offsets->write_locks[i]);
    free(offsets->write_locks);
    pthread_mutex_destroy(&offsets->lock);
    free(offsets);
}

void rn_offsets_clear(rn_offsets_t *offsets)
{
    pthread_mutex_lock(&offsets->lock);
    size_t n = offsets->noffsets;
    rn_hmap_iter_t it = rn_hmap_iter(&offsets->groups);
    for (rn_hmap_node_t *node; (node = rn_hmap_iter_next(&it)) != NULL;)
        remove_group(offsets, group_at(node));
    while (offsets->txn_offsets != NULL) {
        rn_offsets_txn_offset_t *next = offsets->txn_offsets->next;
        free(offsets->txn_offsets);
        offsets->txn_offsets = next;
    }
    offsets->ntxn_offsets = 0;
    offsets->noffsets = 0;
    pthread_mutex_unlock(&offsets->lock);
    if (n > 0)
        rn_log(RN_LOG_INFO, "coord", "reset: %zu committed offsets removed", n);
}

pthread_mutex_t *rn_offsets_write_lock(rn_offsets_t *offsets, rn_str_t group_id)
{
    return &offsets->write_locks[rn_store_partition_for(offsets->store, group_id)];
}

bool rn_offsets_load_record(rn_offsets_t *offsets, rn_bytes_t key, rn_bytes_t value)
{
    rn_offsets_key_t k;
    rn_offsets_value_t v;
    if (rn_offsets_key_decode(key, &k) != 0)
        return false;
    if (value.ptr != NULL && rn_offsets_value_decode(value, &v) != 0)
        return false;
    pthread_mutex_lock(&offsets->lock);
    if (value.ptr == NULL)
        remove_entry(offsets, k.group, k.topic, k.partition);
    else
        rn_offsets_upsert(offsets, k.group, k.topic, k.partition, &v);
    pthread_mutex_unlock(&offsets->lock);
    return true;
}

void rn_offsets_encoded_free(rn_offsets_encoded_t *e)
{
    free(e->bytes);
    free(e->values);
    free(e->recs);
}

int rn_offsets_encode_commits(rn_str_t group_id, const rn_offsets_commit_t *commits, size_t n,
                              int64_t now_ms, rn_offsets_encoded_t *out)
{
    *out = (rn_offsets_encoded_t){ 0 };
    if (n > SIZE_MAX / (sizeof(rn_store_record_t) + sizeof(rn_offsets_value_t)))
        return RN_EINVAL;
    /* Sizes first, so that one allocation holds every encoded key and value. */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        rn_offsets_key_t k = { .group = group_id,
                               .topic = commits[i].topic,
                               .partition = commits[i].partition };
        rn_offsets_value_t v = { .metadata = commits[i].metadata };
        size_t klen = rn_offsets_key_len(&k), vlen = rn_offsets_value_len(&v);
        if (klen == 0 || vlen == 0 || klen + vlen > (size_t)INT32_MAX - total)
            return RN_EINVAL;
        total += klen + vlen;
    }
    out->recs = malloc(n * sizeof *out->recs);
    out->values = malloc(n * sizeof *out->values);
    out->bytes = malloc(total);
    if (out->recs == NULL || out->values == NULL || out->bytes == NULL) {
        rn_offsets_encoded_free(out);
        return RN_ENOMEM;
    }
    uint8_t *p = out->bytes;
    for (size_t i = 0; i < n; i++) {
        const rn_offsets_commit_t *c = &commits[i];
        rn_offsets_key_t k = { .group = group_id, .topic = c->topic, .partition = c->partition };
        rn_offsets_value_t *v = &out->values[i];
        *v = (rn_offsets_value_t){
            .offset = c->offset,
            .leader_epoch = c->leader_epoch,
            .metadata = c->metadata.ptr != NULL ? c->metadata : (rn_str_t){ .ptr = "", .len = 0 },
            .commit_timestamp = c->commit_timestamp == -1 ? now_ms : c->commit_timestamp,
            .expire_timestamp = -1,
        };
        size_t klen = rn_offsets_key_len(&k), vlen = rn_offsets_value_len(v);
        rn_offsets_key_encode(&k, p);
        rn_offsets_value_encode(v, p + klen);
        out->recs[i] = (rn_store_record_t){
            .key = { .ptr = p, .len = klen },
            .value = { .ptr = p + klen, .len = vlen },
        };
        p += klen + vlen;
    }
    return 0;
}

int rn_offsets_commit(rn_offsets_t *offsets, rn_str_t group_id, const rn_offsets_commit_t *commits,
                      size_t n, int64_t now_ms)
{
    if (n == 0)
        return 0;
    rn_offsets_encoded_t enc;
    int rc = rn_offsets_encode_commits(group_id, commits, n, now_ms, &enc);
    if (rc != 0)
        return rc;
    pthread_mutex_t *wl = rn_offsets_write_lock(offsets, group_id);
    pthread_mutex_lock(wl);
    rc = rn_store_append_many(offsets->store, group_id, enc.recs, n, now_ms);
    if (rc == 0) {
        pthread_mutex_lock(&offsets->lock);
        for (size_t i = 0; i < n; i++)
            rn_offsets_upsert(offsets, group_id, commits[i].topic, commits[i].partition,
                              &enc.values[i]);
        pthread_mutex_unlock(&offsets->lock);
    }
    pthread_mutex_unlock(wl);
    rn_offsets_encoded_free(&enc);
    return rc;
}

static rn_str_t arena_str(rn_arena_t *arena, const char *s, size_t len, bool *oom)
{
    if (len == 0)
        return (rn_str_t){ .ptr = "", .len = 0 };
    char *copy = rn_arena_try_alloc(arena, len);
    if (copy == NULL) {
        *oom = true;
        return (rn_str_t){ .ptr = "", .len = 0 };
    }
    memcpy(copy, s, len);
    return (rn_str_t){ .ptr = copy, .len = len };
}

static void fill_entry(const entry_t *e, rn_offsets_entry_t *out)
{
    out->partition = e->partition;
    out->offset = e->offset;
    out->leader_epoch = e->leader_epoch;
    out->commit_timestamp = e->commit_timestamp;
}

int rn_offsets_fetch(rn_offsets_t *offsets, rn_str_t group_id, rn_str_t topic, int32_t partition,
                     rn_arena_t *arena, rn_offsets_entry_t *out, bool *found)
{
    bool oom = false;
    pthread_mutex_lock(&offsets->lock);
    group_t *g = find_group(offsets, group_id);
    entry_t *e = g != NULL ? find_entry(g, topic, partition) : NULL;
    *found = e != NULL;
    if (e != NULL) {
        out->topic = topic;
        fill_entry(e, out);
        out->metadata = arena_str(arena, e->metadata, e->metadata_len, &oom);
    }
    pthread_mutex_unlock(&offsets->lock);
    return oom ? RN_ENOMEM : 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const rn_offsets_entry_t *x = a, *y = b;
    size_t n = x->topic.len < y->topic.len ? x->topic.len : y->topic.len;
    int c = n > 0 ? memcmp(x->topic.ptr, y->topic.ptr, n) : 0;
    if (c != 0)
        return c;
    if (x->topic.len != y->topic.len)
        return x->topic.len < y->topic.len ? -1 : 1;
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

int rn_offsets_fetch_all(rn_offsets_t *offsets, rn_str_t group_id, rn_arena_t *arena,
                         rn_offsets_entry_t **out, size_t *n)
{
    bool oom = false;
    size_t count = 0;
    rn_offsets_entry_t *items = NULL;
    pthread_mutex_lock(&offsets->lock);
    group_t *g = find_group(offsets, group_id);
    if (g != NULL && g->entries.count > 0) {
        items = rn_arena_try_alloc_array(arena, rn_offsets_entry_t, g->entries.count);
        oom = items == NULL;
        rn_hmap_iter_t iter = rn_hmap_iter(&g->entries);
        for (rn_hmap_node_t *node; !oom && (node = rn_hmap_iter_next(&iter)) != NULL;) {
            entry_t *e = entry_at(node);
            rn_offsets_entry_t *it = &items[count++];
            fill_entry(e, it);
            it->topic = arena_str(arena, e->topic, e->topic_len, &oom);
            it->metadata = arena_str(arena, e->metadata, e->metadata_len, &oom);
        }
    }
    pthread_mutex_unlock(&offsets->lock);
    if (oom)
        return RN_ENOMEM;
    if (count > 1)
        qsort(items, count, sizeof *items, cmp_entry);
    *out = items;
    *n = count;
    return 0;
}

/* ---- deletions: tombstones first, memory after ---- */

/* Which offsets of a group a deletion takes. */
typedef bool (*match_fn)(void *ctx, const entry_t *e);

/* Writes tombstones for the group's offsets that `match` selects and removes them. The write
 * lock keeps the group's offsets from changing between the choice and the removal. Returns 0
 * or a negative errno (nothing removed). */
static int tombstone_matching(rn_offsets_t *offsets, rn_str_t group_id, match_fn match, void *ctx,
                              int64_t now_ms)
{
    pthread_mutex_t *wl = rn_offsets_write_lock(offsets, group_id);
    pthread_mutex_lock(wl);
    /* Pass 1, under the map lock: choose the offsets, then copy their keys, encoded. */
    size_t n = 0, total = 0;
    pthread_mutex_lock(&offsets->lock);
    group_t *g = find_group(offsets, group_id);
    size_t most = g != NULL ? g->entries.count : 0;
    entry_t **chosen = most > 0 ? malloc(most * sizeof *chosen) : NULL;
    int rc = most > 0 && chosen == NULL ? RN_ENOMEM : 0;
    rn_hmap_iter_t it = { 0 };
    if (chosen != NULL)
        it = rn_hmap_iter(&g->entries);
    for (rn_hmap_node_t *node; chosen != NULL && (node = rn_hmap_iter_next(&it)) != NULL;) {
        entry_t *e = entry_at(node);
        if (!match(ctx, e))
            continue;
        rn_offsets_key_t k = { .group = group_id,
                               .topic = entry_topic(e),
                               .partition = e->partition };
        total += rn_offsets_key_len(&k); /* never 0: the entry was encoded once */
        chosen[n++] = e;
    }
    rn_store_record_t *recs = NULL;
    uint8_t *bytes = NULL;
    if (n > 0) {
        recs = malloc(n * sizeof *recs);
        bytes = malloc(total);
        if (recs == NULL || bytes == NULL)
            rc = RN_ENOMEM;
    }
    uint8_t *p = bytes;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rn_offsets_key_t k = { .group = group_id,
                               .topic = entry_topic(chosen[i]),
                               .partition = chosen[i]->partition };
        size_t klen = rn_offsets_key_len(&k);
        rn_offsets_key_encode(&k, p);
        recs[i] = (rn_store_record_t){ .key = { .ptr = p, .len = klen }, .value = { .ptr = NULL } };
        p += klen;
    }
    free(chosen);
    pthread_mutex_unlock(&offsets->lock);
    if (rc == 0 && n > 0)
        rc = rn_store_append_many(offsets->store, group_id, recs, n, now_ms);
    if (rc == 0 && n > 0) {
        /* Pass 2: remove what the tombstones name, decoding our own keys back. */
        pthread_mutex_lock(&offsets->lock);
        for (size_t i = 0; i < n; i++) {
            rn_offsets_key_t k;
            if (rn_offsets_key_decode(recs[i].key, &k) == 0)
                remove_entry(offsets, group_id, k.topic, k.partition);
        }
        pthread_mutex_unlock(&offsets->lock);
    }
    pthread_mutex_unlock(wl);
    free(bytes);
    free(recs);
    return rc;
}

typedef struct tp_set {
    const rn_offsets_tp_t *tps;
    size_t n;
} tp_set_t;

static bool match_tps(void *ctx, const entry_t *e)
{
    const tp_set_t *set = ctx;
    for (size_t i = 0; i < set->n; i++)
        if (set->tps[i].partition == e->partition &&
            rn_offsets_str_eq(e->topic, e->topic_len, set->tps[i].topic))
            return true;
    return false;
}

int rn_offsets_delete(rn_offsets_t *offsets, rn_str_t group_id, const rn_offsets_tp_t *tps,
                      size_t n, int64_t now_ms)
{
    /* A linear match per stored offset: OffsetDelete names few partitions, and only offsets of
     * one group are looked at. */
    tp_set_t set = { .tps = tps, .n = n };
    return tombstone_matching(offsets, group_id, match_tps, &set, now_ms);
}

static bool match_all(void *ctx, const entry_t *e)
{
    (void)ctx;
    (void)e;
    return true;
}

int rn_offsets_delete_group(rn_offsets_t *offsets, rn_str_t group_id, int64_t now_ms)
{
    return tombstone_matching(offsets, group_id, match_all, NULL, now_ms);
}

/* Group ids copied out of the map, so that callbacks and appends run without the map lock. */
typedef struct id_list {
    char **ids;
    size_t *lens;
    size_t n;
} id_list_t;

static void id_list_take(rn_offsets_t *offsets, id_list_t *list,
                         bool (*want)(void *ctx, group_t *g), void *ctx)
{
    *list = (id_list_t){ 0 };
    pthread_mutex_lock(&offsets->lock);
    size_t cap = offsets->groups.count;
    if (cap > 0) {
        list->ids = rn_xcalloc(cap, sizeof *list->ids);
        list->lens = rn_xcalloc(cap, sizeof *list->lens);
    }
    rn_hmap_iter_t it = rn_hmap_iter(&offsets->groups);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;) {
        group_t *g = group_at(n);
        if (want != NULL && !want(ctx, g))
            continue;
        list->ids[list->n] = rn_xmalloc(g->id_len + 1);
        memcpy(list->ids[list->n], g->id, g->id_len);
        list->lens[list->n] = g->id_len;
        list->n++;
    }
    pthread_mutex_unlock(&offsets->lock);
}

static void id_list_free(id_list_t *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->ids[i]);
    free(list->ids);
    free(list->lens);
}

static rn_str_t id_at(const id_list_t *list, size_t i)
{
    return (rn_str_t){ .ptr = list->ids[i], .len = list->lens[i] };
}

static bool match_topic(void *ctx, const entry_t *e)
{
    return rn_offsets_str_eq(e->topic, e->topic_len, *(const rn_str_t *)ctx);
}

static bool group_has_topic(void *ctx, group_t *g)
{
    rn_hmap_iter_t it = rn_hmap_iter(&g->entries);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;)
        if (match_topic(ctx, entry_at(n)))
            return true;
    return false;
}

void rn_offsets_topic_deleted(rn_offsets_t *offsets, const char *topic, int64_t now_ms)
{
    rn_str_t name = rn_str_from_cstr(topic);
    id_list_t list;
    id_list_take(offsets, &list, group_has_topic, &name);
    for (size_t i = 0; i < list.n; i++) {
        int rc = tombstone_matching(offsets, id_at(&list, i), match_topic, &name, now_ms);
        if (rc != 0)
            rn_log(RN_LOG_ERROR, "coord",
                   "cannot remove offsets of deleted topic %s for group %.*s: %s", topic,
                   (int)list.lens[i], list.ids[i], strerror(-rc));
    }
    id_list_free(&list);
}

typedef struct expiry {
    int64_t now;
    int64_t retention_ms;
    int64_t base;     /* the group's empty_since */
    int64_t next_due; /* smallest due time among offsets kept */
} expiry_t;

/* When an offset expires: its own expire timestamp (value v1), else the retention after both
 * its commit and the moment the group was seen empty. */
static int64_t due_time(const expiry_t *x, const entry_t *e)
{
    if (e->expire_timestamp != -1)
        return e->expire_timestamp;
    int64_t from = e->commit_timestamp > x->base ? e->commit_timestamp : x->base;
    return from > INT64_MAX - x->retention_ms ? INT64_MAX : from + x->retention_ms;
}

static bool match_expired(void *ctx, const entry_t *e)
{
    expiry_t *x = ctx;
    int64_t due = due_time(x, e);
    if (x->now >= due)
        return true;
    if (due < x->next_due)
        x->next_due = due;
    return false;
}

void rn_offsets_expire(rn_offsets_t *offsets, int64_t now_ms,
                       bool (*is_empty)(void *ctx, rn_str_t group), void *ctx)
{
    pthread_mutex_lock(&offsets->lock);
    bool due =
        offsets->last_expire == INT64_MIN || now_ms - offsets->last_expire >= EXPIRE_CHECK_MS;
    if (due)
        offsets->last_expire = now_ms;
    pthread_mutex_unlock(&offsets->lock);
    if (!due)
        return;
    id_list_t list;
    id_list_take(offsets, &list, NULL, NULL);
    for (size_t i = 0; i < list.n; i++) {
        rn_str_t id = id_at(&list, i);
        bool empty = is_empty(ctx, id); /* no lock of ours held: groups may call back in */
        expiry_t x = { .now = now_ms,
                       .retention_ms = offsets->retention_ms,
                       .next_due = INT64_MAX };
        bool scan = false;
        pthread_mutex_lock(&offsets->lock);
        group_t *g = find_group(offsets, id);
        if (g != NULL) {
            if (!empty) {
                g->empty_since = -1;
            } else {
                if (g->empty_since < 0)
                    g->empty_since = now_ms;
                x.base = g->empty_since;
                scan = now_ms >= g->next_due;
            }
        }
        pthread_mutex_unlock(&offsets->lock);
        if (!scan)
            continue;
        int rc = tombstone_matching(offsets, id, match_expired, &x, now_ms);
        if (rc != 0) {
            rn_log(RN_LOG_ERROR, "coord", "cannot expire offsets of group %.*s: %s", (int)id.len,
                   id.ptr, strerror(-rc));
            continue;
        }
        pthread_mutex_lock(&offsets->lock);
        if ((g = find_group(offsets, id)) != NULL)
            g->next_due = x.next_due;
        pthread_mutex_unlock(&offsets->lock);
    }
    id_list_free(&list);
}

void rn_offsets_pending_add(rn_offsets_t *offsets, rn_offsets_pending_t *pending)
{
    pthread_mutex_lock(&offsets->lock);
    pending->prev = NULL;
    pending->next = offsets->pending;
    if (offsets->pending != NULL)
        offsets->pending->prev = pending;
    offsets->pending = pending;
    pthread_mutex_unlock(&offsets->lock);
}

void rn_offsets_pending_remove(rn_offsets_t *offsets, rn_offsets_pending_t *pending)
{
    pthread_mutex_lock(&offsets->lock);
    if (pending->prev != NULL)
        pending->prev->next = pending->next;
    else
        offsets->pending = pending->next;
    if (pending->next != NULL)
        pending->next->prev = pending->prev;
    pending->prev = pending->next = NULL;
    pthread_mutex_unlock(&offsets->lock);
}

bool rn_offsets_is_pending(rn_offsets_t *offsets, rn_str_t group_id, rn_str_t topic,
                           int32_t partition)
{
    bool found = false;
    pthread_mutex_lock(&offsets->lock);
    for (rn_offsets_pending_t *p = offsets->pending; p != NULL && !found; p = p->next) {
        if (!rn_offsets_str_eq(p->group_id.ptr, p->group_id.len, group_id))
            continue;
        for (size_t i = 0; i < p->n && !found; i++)
            found = p->tps[i].partition == partition &&
                    rn_offsets_str_eq(p->tps[i].topic.ptr, p->tps[i].topic.len, topic);
    }
    if (!found)
        found = rn_offsets_txn_holds(offsets, group_id, topic, partition);
    pthread_mutex_unlock(&offsets->lock);
    return found;
}

bool rn_offsets_has_group(rn_offsets_t *offsets, rn_str_t group_id)
{
    pthread_mutex_lock(&offsets->lock);
    group_t *g = find_group(offsets, group_id);
    bool has = g != NULL && g->entries.count > 0;
    pthread_mutex_unlock(&offsets->lock);
    return has;
}

void rn_offsets_each_group(rn_offsets_t *offsets, void (*fn)(void *ctx, rn_str_t group_id),
                           void *ctx)
{
    pthread_mutex_lock(&offsets->lock);
    rn_hmap_iter_t it = rn_hmap_iter(&offsets->groups);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;)
        fn(ctx, group_name(group_at(n)));
    pthread_mutex_unlock(&offsets->lock);
}

size_t rn_offsets_count(rn_offsets_t *offsets)
{
    pthread_mutex_lock(&offsets->lock);
    size_t n = offsets->noffsets;
    pthread_mutex_unlock(&offsets->lock);
    return n;
}
