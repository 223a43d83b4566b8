/* SPDX-License-Identifier: Apache-2.0 */
/* The index of live topics: two hash tables (util/hmap.h) over the same topics, one keyed by
 * name and one by id, always holding the same set. Callers hold the registry's lock
 * (internal.h). One node per topic sits in both tables; the tables' seeded hash keeps clients
 * that choose topic names from choosing buckets. */
#include "topics/internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/xmalloc.h"

/* One topic's place in both tables. */
typedef struct topic_node {
    rn_hmap_node_t by_name;
    rn_hmap_node_t by_id;
    rn_topic_t *topic;
} topic_node_t;

void rn_topic_index_init(rn_topic_index_t *index)
{
    *index = (rn_topic_index_t){ 0 };
    rn_hmap_init(&index->by_name);
    rn_hmap_init(&index->by_id);
}

void rn_topic_index_deinit(rn_topic_index_t *index)
{
    rn_hmap_iter_t it = rn_hmap_iter(&index->by_name);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;)
        free(rn_container_of(n, topic_node_t, by_name));
    rn_hmap_deinit(&index->by_name);
    rn_hmap_deinit(&index->by_id);
    *index = (rn_topic_index_t){ 0 };
}

static uint64_t name_hash(const rn_topic_index_t *index, const char *name, size_t len)
{
    return rn_hmap_hash(&index->by_name, name, len);
}

static uint64_t id_hash(const rn_topic_index_t *index, const rn_uuid_t *id)
{
    return rn_hmap_hash(&index->by_id, id->b, sizeof id->b);
}

static topic_node_t *find_node(const rn_topic_index_t *index, const char *name, size_t len)
{
    uint64_t h = name_hash(index, name, len);
    for (rn_hmap_node_t *n = rn_hmap_next_match(&index->by_name, NULL, h); n != NULL;
         n = rn_hmap_next_match(&index->by_name, n, h)) {
        topic_node_t *node = rn_container_of(n, topic_node_t, by_name);
        if (strlen(node->topic->name) == len && memcmp(node->topic->name, name, len) == 0)
            return node;
    }
    return NULL;
}

rn_topic_t *rn_topic_index_find(const rn_topic_index_t *index, rn_str_t name)
{
    if (name.ptr == NULL)
        return NULL;
    topic_node_t *node = find_node(index, name.ptr, name.len);
    return node != NULL ? node->topic : NULL;
}

rn_topic_t *rn_topic_index_find_id(const rn_topic_index_t *index, const rn_uuid_t *id)
{
    uint64_t h = id_hash(index, id);
    for (rn_hmap_node_t *n = rn_hmap_next_match(&index->by_id, NULL, h); n != NULL;
         n = rn_hmap_next_match(&index->by_id, n, h)) {
        topic_node_t *node = rn_container_of(n, topic_node_t, by_id);
        if (memcmp(node->topic->id.b, id->b, sizeof id->b) == 0)
            return node->topic;
    }
    return NULL;
}

void rn_topic_index_insert(rn_topic_index_t *index, rn_topic_t *topic)
{
    topic_node_t *node = rn_xmalloc(sizeof *node);
    node->topic = topic;
    rn_hmap_insert(&index->by_name, &node->by_name,
                   name_hash(index, topic->name, strlen(topic->name)));
    rn_hmap_insert(&index->by_id, &node->by_id, id_hash(index, &topic->id));
    index->count++;
}

void rn_topic_index_remove(rn_topic_index_t *index, rn_topic_t *topic)
{
    topic_node_t *node = find_node(index, topic->name, strlen(topic->name));
    if (node == NULL || node->topic != topic)
        return;
    rn_hmap_remove(&index->by_name, &node->by_name);
    rn_hmap_remove(&index->by_id, &node->by_id);
    index->count--;
    free(node);
}

void rn_topic_index_each(const rn_topic_index_t *index, void (*fn)(rn_topic_t *topic, void *arg),
                         void *arg)
{
    rn_hmap_iter_t it = rn_hmap_iter(&index->by_name);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;)
        fn(rn_container_of(n, topic_node_t, by_name)->topic, arg);
}
