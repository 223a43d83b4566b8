/* SPDX-License-Identifier: Apache-2.0 */
/* The index of live topics: two chained hash tables over the same topics, one keyed by name and
 * one by id, always holding the same set. Callers hold the registry's lock (internal.h). The
 * hash is FNV-1a mixed with a random seed, so clients that choose topic names cannot choose
 * which bucket they land in. */
#include "topics/internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/xmalloc.h"

struct rn_topic_node {
    rn_topic_t *topic;
    rn_topic_node_t *next;
};

#define INITIAL_BUCKETS 64

static uint64_t hash_bytes(uint64_t seed, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 14695981039346656037ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    /* FNV's low bits mix poorly; fold the high half in before masking. */
    return h ^ (h >> 32);
}

static size_t name_bucket(const rn_topic_index_t *index, const char *name, size_t len)
{
    return (size_t)(hash_bytes(index->seed, name, len) & (index->nbuckets - 1));
}

static size_t id_bucket(const rn_topic_index_t *index, const rn_uuid_t *id)
{
    return (size_t)(hash_bytes(index->seed, id->b, sizeof id->b) & (index->nbuckets - 1));
}

void rn_topic_index_init(rn_topic_index_t *index)
{
    *index = (rn_topic_index_t){ .nbuckets = INITIAL_BUCKETS };
    index->by_name = rn_xcalloc(index->nbuckets, sizeof *index->by_name);
    index->by_id = rn_xcalloc(index->nbuckets, sizeof *index->by_id);
    /* A weak seed only weakens the flooding defence; the tables work with any seed. */
    if (getrandom(&index->seed, sizeof index->seed, GRND_NONBLOCK) != (ssize_t)sizeof index->seed)
        index->seed = (uint64_t)(uintptr_t)index;
}

static void free_chain(rn_topic_node_t *node)
{
    while (node != NULL) {
        rn_topic_node_t *next = node->next;
        free(node);
        node = next;
    }
}

void rn_topic_index_deinit(rn_topic_index_t *index)
{
    for (size_t i = 0; i < index->nbuckets; i++) {
        free_chain(index->by_name[i]);
        free_chain(index->by_id[i]);
    }
    free(index->by_name);
    free(index->by_id);
    *index = (rn_topic_index_t){ 0 };
}

rn_topic_t *rn_topic_index_find(const rn_topic_index_t *index, rn_str_t name)
{
    if (name.ptr == NULL || index->nbuckets == 0)
        return NULL;
    for (rn_topic_node_t *n = index->by_name[name_bucket(index, name.ptr, name.len)]; n != NULL; n = n->next)
        if (strlen(n->topic->name) == name.len && memcmp(n->topic->name, name.ptr, name.len) == 0)
            return n->topic;
    return NULL;
}

rn_topic_t *rn_topic_index_find_id(const rn_topic_index_t *index, const rn_uuid_t *id)
{
    if (index->nbuckets == 0)
        return NULL;
    for (rn_topic_node_t *n = index->by_id[id_bucket(index, id)]; n != NULL; n = n->next)
        if (memcmp(n->topic->id.b, id->b, sizeof id->b) == 0)
            return n->topic;
    return NULL;
}

static void push(rn_topic_node_t **bucket, rn_topic_t *topic)
{
    rn_topic_node_t *node = rn_xmalloc(sizeof *node);
    node->topic = topic;
    node->next = *bucket;
    *bucket = node;
}

/* Doubles the tables when they average more than one topic per bucket. */
static void grow(rn_topic_index_t *index)
{
    size_t old_n = index->nbuckets;
    rn_topic_node_t **old_name = index->by_name, **old_id = index->by_id;
    index->nbuckets = old_n * 2;
    index->by_name = rn_xcalloc(index->nbuckets, sizeof *index->by_name);
    index->by_id = rn_xcalloc(index->nbuckets, sizeof *index->by_id);
    for (size_t i = 0; i < old_n; i++) {
        for (rn_topic_node_t *n = old_name[i], *next; n != NULL; n = next) {
            next = n->next;
            size_t b = name_bucket(index, n->topic->name, strlen(n->topic->name));
            n->next = index->by_name[b];
            index->by_name[b] = n;
        }
        for (rn_topic_node_t *n = old_id[i], *next; n != NULL; n = next) {
            next = n->next;
            size_t b = id_bucket(index, &n->topic->id);
            n->next = index->by_id[b];
            index->by_id[b] = n;
        }
    }
    free(old_name);
    free(old_id);
}

void rn_topic_index_insert(rn_topic_index_t *index, rn_topic_t *topic)
{
    if (index->count + 1 > index->nbuckets)
        grow(index);
    push(&index->by_name[name_bucket(index, topic->name, strlen(topic->name))], topic);
    push(&index->by_id[id_bucket(index, &topic->id)], topic);
    index->count++;
}

static bool unlink_from(rn_topic_node_t **bucket, const rn_topic_t *topic)
{
    for (rn_topic_node_t **p = bucket; *p != NULL; p = &(*p)->next)
        if ((*p)->topic == topic) {
            rn_topic_node_t *node = *p;
            *p = node->next;
            free(node);
            return true;
        }
    return false;
}

void rn_topic_index_remove(rn_topic_index_t *index, rn_topic_t *topic)
{
    bool by_name = unlink_from(&index->by_name[name_bucket(index, topic->name, strlen(topic->name))], topic);
    bool by_id = unlink_from(&index->by_id[id_bucket(index, &topic->id)], topic);
    if (by_name && by_id)
        index->count--;
}

void rn_topic_index_each(const rn_topic_index_t *index, void (*fn)(rn_topic_t *topic, void *arg), void *arg)
{
    for (size_t i = 0; i < index->nbuckets; i++)
        for (rn_topic_node_t *n = index->by_name[i]; n != NULL; n = n->next)
            fn(n->topic, arg);
}
