/* SPDX-License-Identifier: Apache-2.0 */
/* The control plane's reset of the registry: every topic that is not internal is deleted at
 * once (one rewrite of the topic file and of the checkpoints for all of them, where
 * DeleteTopics pays one per topic), and the internal topics are emptied by moving their log
 * start offset to their end, so that a restart loads none of the coordinators' old state. */
#include "topics/internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/logging.h"
#include "util/xmalloc.h"

static rn_topic_impl_t *impl_of(rn_topic_t *topic)
{
    return rn_container_of(topic, rn_topic_impl_t, pub);
}

typedef struct collected {
    rn_topic_t **list;
    size_t n;
} collected_t;

static void collect(rn_topic_t *topic, void *arg)
{
    collected_t *c = arg;
    c->list[c->n++] = topic;
}

int rn_topics_reset(rn_topics_t *topics, rn_topics_reset_stats_t *stats)
{
    *stats = (rn_topics_reset_stats_t){ 0 };
    pthread_mutex_lock(&topics->admin_lock);
    collected_t all = { .list = rn_xmalloc((topics->index.count + 1) * sizeof *all.list) };
    rn_topic_index_each(&topics->index, collect, &all);
    collected_t gone = { .list = rn_xmalloc((all.n + 1) * sizeof *gone.list) };

    /* Every deleted topic is on the pending list before it leaves the index (see
     * rn_topics_delete): its name stays taken while its directories exist. */
    pthread_mutex_lock(&topics->pending_lock);
    for (size_t i = 0; i < all.n; i++) {
        if (all.list[i]->internal)
            continue;
        rn_topic_impl_t *t = impl_of(all.list[i]);
        t->pending_prev = NULL;
        t->pending_next = topics->pending;
        if (topics->pending != NULL)
            topics->pending->pending_prev = t;
        topics->pending = t;
        gone.list[gone.n++] = all.list[i];
    }
    pthread_mutex_unlock(&topics->pending_lock);
    pthread_rwlock_wrlock(&topics->lock);
    for (size_t i = 0; i < gone.n; i++) {
        rn_topic_index_remove(&topics->index, gone.list[i]);
        atomic_store_explicit(&gone.list[i]->deleted, true, memory_order_release);
    }
    pthread_rwlock_unlock(&topics->lock);
    /* The topic file follows the index: the deleted topics are gone from it in one write. */
    int err = gone.n > 0 ? rn_topics_write_file(topics, NULL, NULL) : 0;

    /* The internal topics stay, empty: their log start moves to their end. */
    for (size_t i = 0; i < all.n; i++) {
        rn_topic_t *topic = all.list[i];
        if (!topic->internal)
            continue;
        int32_t n = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
        for (int32_t p = 0; p < n; p++) {
            rn_partition_t *part = rn_topic_partition(topic, p);
            int rc = rn_log_delete_records(part->log, -1);
            if (rc < 0 && err == 0)
                err = rc;
            /* A transaction left open (a transactional offset commit) would otherwise hold the
             * partition's last stable offset for good: its coordinator forgets it too. */
            rn_log_forget_producers(part->log);
        }
        stats->internal_emptied++;
    }
    rn_topics_write_checkpoints(topics);
    pthread_mutex_unlock(&topics->admin_lock);

    for (size_t i = 0; i < gone.n; i++) {
        rn_topic_t *topic = gone.list[i];
        int32_t n = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
        /* Parked fetches wake up, see `deleted` and drop their references. */
        for (int32_t p = 0; p < n; p++)
            rn_partition_notify(rn_topic_partition(topic, p));
        stats->partitions_deleted += (size_t)n;
        rn_topic_unref(topic); /* the index's reference */
    }
    stats->topics_deleted = gone.n;
    if (gone.n > 0)
        rn_log(RN_LOG_INFO, "topics", "reset: deleted %zu topics (%zu partitions)", gone.n,
               stats->partitions_deleted);
    free(gone.list);
    free(all.list);
    return err;
}
