/* SPDX-License-Identifier: Apache-2.0 */
/* The topic registry's objects: topics and partitions, their references and lifetime, lookups,
 * the topic file and checkpoints written from the live topics, and partition watchers. The
 * changes admin requests make are in admin.c; start-up and shutdown in lifecycle.c.
 *
 * A topic holds one reference for the index while it is live. The last reference closes its
 * logs, or deletes them when the topic was deleted; only then does a deleted topic leave the
 * pending list and free its name for a new topic. */
#include "topics/internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/err.h"
#include "util/fs.h"
#include "util/logging.h"
#include "util/xmalloc.h"

static rn_topic_impl_t *impl_of(rn_topic_t *topic)
{
    return rn_container_of(topic, rn_topic_impl_t, pub);
}

char *rn_partition_dir(const rn_topics_t *topics, const char *name, int32_t index)
{
    size_t len = strlen(topics->log_dir) + strlen(name) + 16;
    char *dir = rn_xmalloc(len);
    snprintf(dir, len, "%s/%s-%d", topics->log_dir, name, index);
    return dir;
}

/* ---- Topics and partitions ---- */

/* A topic not yet published, holding the index's reference. Takes ownership of `ov`. */
rn_topic_impl_t *rn_topic_new(rn_topics_t *topics, const char *name, const rn_uuid_t *id,
                              bool internal, rn_topic_override_t *ov, size_t nov)
{
    rn_topic_impl_t *t = rn_xcalloc(1, sizeof *t);
    atomic_init(&t->pub.refs, 1);
    t->pub.name = rn_xstrdup(name);
    t->pub.id = *id;
    t->pub.internal = internal || rn_topic_name_internal(rn_str_from_cstr(name));
    atomic_init(&t->pub.npartitions, 0);
    atomic_init(&t->pub.partitions, NULL);
    atomic_init(&t->pub.deleted, false);
    t->pub.overrides = ov;
    t->pub.noverrides = nov;
    rn_topic_config_compute(topics->cfg, ov, nov, &t->pub.config);
    t->registry = topics;
    return t;
}

int rn_partition_open(rn_topics_t *topics, rn_topic_impl_t *t, int32_t index,
                      int64_t recovery_point, int64_t log_start, bool clean, rn_partition_t **out)
{
    char *dir = rn_partition_dir(topics, t->pub.name, index);
    rn_log_t *log = NULL;
    int err = rn_log_open(dir, &t->pub.config.log, recovery_point, log_start, clean, &log);
    if (err != 0) {
        rn_log(RN_LOG_ERROR, "topics", "cannot open the log in %s: %s", dir,
               strerror(err < 0 ? -err : err));
        free(dir);
        return err < 0 ? err : -EIO;
    }
    free(dir);
    rn_partition_t *part = rn_xcalloc(1, sizeof *part);
    part->topic = &t->pub;
    part->index = index;
    part->log = log;
    pthread_mutex_init(&part->watch_lock, NULL);
    *out = part;
    return 0;
}

static void partition_free(rn_partition_t *part)
{
    pthread_mutex_destroy(&part->watch_lock);
    free(part);
}

/* Removes the logs of partitions that were opened for a change that failed. */
void rn_partitions_discard(rn_partition_t **parts, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        if (parts[i] == NULL)
            continue;
        rn_log_delete(parts[i]->log);
        partition_free(parts[i]);
    }
}

/* Publishes partitions [from, to) of `t`; the caller holds the write lock, or `t` is not
 * visible yet. The slots are filled before the count is raised (release), so a reader that sees
 * the new count (acquire) sees them. */
void rn_partitions_publish(rn_topic_impl_t *t, rn_partition_t **parts, int32_t from, int32_t to)
{
    rn_partition_t **arr = atomic_load_explicit(&t->pub.partitions, memory_order_relaxed);
    if (to > t->capacity) {
        int32_t cap = t->capacity > 0 ? t->capacity : 1;
        while (cap < to)
            cap = cap > RN_TOPICS_MAX_PARTITIONS / 2 ? RN_TOPICS_MAX_PARTITIONS : cap * 2;
        rn_partition_t **bigger = rn_xcalloc((size_t)cap, sizeof *bigger);
        if (from > 0)
            memcpy(bigger, arr, (size_t)from * sizeof *bigger);
        if (arr != NULL) {
            /* Readers may still be indexing the old array: keep it until the topic goes. */
            t->retired = rn_xrealloc(t->retired, (t->nretired + 1) * sizeof *t->retired);
            t->retired[t->nretired++] = arr;
        }
        arr = bigger;
        t->capacity = cap;
    }
    for (int32_t i = from; i < to; i++)
        arr[i] = parts[i - from];
    atomic_store_explicit(&t->pub.partitions, arr, memory_order_release);
    atomic_store_explicit(&t->pub.npartitions, to, memory_order_release);
}

static void pending_remove(rn_topics_t *topics, rn_topic_impl_t *t)
{
    pthread_mutex_lock(&topics->pending_lock);
    if (t->pending_prev != NULL)
        t->pending_prev->pending_next = t->pending_next;
    else if (topics->pending == t)
        topics->pending = t->pending_next;
    if (t->pending_next != NULL)
        t->pending_next->pending_prev = t->pending_prev;
    t->pending_prev = t->pending_next = NULL;
    pthread_mutex_unlock(&topics->pending_lock);
}

/* The last reference is gone: close (or, for a deleted topic, delete) the logs and free. */
static void topic_free(rn_topic_impl_t *t)
{
    bool deleted = atomic_load_explicit(&t->pub.deleted, memory_order_acquire);
    int32_t n = atomic_load_explicit(&t->pub.npartitions, memory_order_acquire);
    rn_partition_t **parts = atomic_load_explicit(&t->pub.partitions, memory_order_acquire);
    bool stuck = false;
    for (int32_t i = 0; i < n; i++) {
        rn_partition_t *part = parts[i];
        if (part->log != NULL && !deleted) {
            rn_log_close(part->log);
        } else if (part->log != NULL) {
            int err = rn_log_delete(part->log);
            if (err != 0 && t->registry != NULL) {
                /* The log is closed; try to remove what it left, or keep the name taken so a new
                 * topic never opens the old data. The next start sweeps the directory. */
                char *dir = rn_partition_dir(t->registry, t->pub.name, i);
                struct stat st;
                if (stat(dir, &st) == 0 && rn_persist_remove_tree(dir) != 0) {
                    rn_log(RN_LOG_ERROR, "topics",
                           "cannot remove %s (%s): topic %s stays reserved until restart", dir,
                           strerror(-err), t->pub.name);
                    stuck = true;
                }
                free(dir);
            }
        }
        partition_free(part);
    }
    free(parts);
    for (size_t i = 0; i < t->nretired; i++)
        free(t->retired[i]);
    free(t->retired);
    t->retired = NULL;
    t->nretired = 0;
    atomic_store_explicit(&t->pub.partitions, NULL, memory_order_relaxed);
    atomic_store_explicit(&t->pub.npartitions, 0, memory_order_relaxed);
    rn_overrides_free(t->pub.overrides, t->pub.noverrides);
    t->pub.overrides = NULL;
    t->pub.noverrides = 0;
    if (stuck) {
        /* Kept on the pending list, name only, so the name stays taken; rn_topics_close frees it.
         * A topic whose creation failed was never on the list: put it there. */
        pthread_mutex_lock(&t->registry->pending_lock);
        if (t->pending_prev == NULL && t->registry->pending != t) {
            t->pending_next = t->registry->pending;
            if (t->registry->pending != NULL)
                t->registry->pending->pending_prev = t;
            t->registry->pending = t;
        }
        pthread_mutex_unlock(&t->registry->pending_lock);
        return;
    }
    if (deleted && t->registry != NULL)
        pending_remove(t->registry, t);
    free(t->pub.name);
    free(t);
}

void rn_topic_ref(rn_topic_t *topic)
{
    /* Relaxed: a new reference is always made from one the caller already holds (or under the
     * registry lock that keeps the index's), so the object cannot go away meanwhile. */
    if (topic != NULL)
        atomic_fetch_add_explicit(&topic->refs, 1, memory_order_relaxed);
}

void rn_topic_unref(rn_topic_t *topic)
{
    /* acq_rel: every use through other references happens before the free. */
    if (topic != NULL && atomic_fetch_sub_explicit(&topic->refs, 1, memory_order_acq_rel) == 1)
        topic_free(impl_of(topic));
}

rn_partition_t *rn_topic_partition(rn_topic_t *topic, int32_t index)
{
    int32_t n = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
    if (index < 0 || index >= n)
        return NULL;
    rn_partition_t **parts = atomic_load_explicit(&topic->partitions, memory_order_acquire);
    return parts[index];
}

/* ---- Lookups ---- */

rn_topic_t *rn_topics_get(rn_topics_t *topics, rn_str_t name)
{
    pthread_rwlock_rdlock(&topics->lock);
    rn_topic_t *topic = rn_topic_index_find(&topics->index, name);
    rn_topic_ref(topic);
    pthread_rwlock_unlock(&topics->lock);
    return topic;
}

rn_topic_t *rn_topics_get_by_id(rn_topics_t *topics, rn_uuid_t id)
{
    pthread_rwlock_rdlock(&topics->lock);
    rn_topic_t *topic = rn_topic_index_find_id(&topics->index, &id);
    rn_topic_ref(topic);
    pthread_rwlock_unlock(&topics->lock);
    return topic;
}

void rn_topic_get_config(rn_topics_t *topics, rn_topic_t *topic, rn_topic_config_t *out)
{
    pthread_rwlock_rdlock(&topics->lock);
    *out = topic->config;
    pthread_rwlock_unlock(&topics->lock);
}

size_t rn_topic_config_entries(rn_topics_t *topics, rn_topic_t *topic, rn_config_entry_t **out)
{
    pthread_rwlock_rdlock(&topics->lock);
    size_t n = rn_topic_config_describe(topics->cfg, topic->overrides, topic->noverrides, out);
    pthread_rwlock_unlock(&topics->lock);
    return n;
}

typedef struct collect {
    rn_topic_t **list;
    size_t n;
} collect_t;

static void collect_one(rn_topic_t *topic, void *arg)
{
    collect_t *c = arg;
    rn_topic_ref(topic);
    c->list[c->n++] = topic;
}

static int compare_topics(const void *a, const void *b)
{
    return strcmp((*(rn_topic_t *const *)a)->name, (*(rn_topic_t *const *)b)->name);
}

size_t rn_topics_list(rn_topics_t *topics, rn_topic_t ***out)
{
    pthread_rwlock_rdlock(&topics->lock);
    collect_t c = { .list = rn_xmalloc((topics->index.count + 1) * sizeof *c.list) };
    rn_topic_index_each(&topics->index, collect_one, &c);
    pthread_rwlock_unlock(&topics->lock);
    qsort(c.list, c.n, sizeof *c.list, compare_topics);
    *out = c.list;
    return c.n;
}

void rn_topics_list_free(rn_topic_t **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rn_topic_unref(list[i]);
    free(list);
}

/* ---- The topic file ---- */

typedef struct file_lines {
    rn_topic_line_t *lines;
    size_t n;
} file_lines_t;

static void line_of(rn_topic_t *topic, void *arg)
{
    file_lines_t *f = arg;
    f->lines[f->n++] = (rn_topic_line_t){
        .name = topic->name,
        .id = topic->id,
        .npartitions = atomic_load_explicit(&topic->npartitions, memory_order_acquire),
        .internal = topic->internal,
        .overrides = topic->overrides,
        .noverrides = topic->noverrides,
    };
}

static int compare_lines(const void *a, const void *b)
{
    return strcmp(((const rn_topic_line_t *)a)->name, ((const rn_topic_line_t *)b)->name);
}

/* Writes the topic file as the index says, except: `skip` left out, `change` (if set) replacing
 * or adding the line of its name. Caller holds admin_lock, which keeps the index, counts and
 * overrides still. Lines borrow from the topics. */
int rn_topics_write_file(rn_topics_t *topics, const rn_topic_t *skip, const rn_topic_line_t *change)
{
    file_lines_t f = { .lines = rn_xmalloc((topics->index.count + 1) * sizeof *f.lines) };
    rn_topic_index_each(&topics->index, line_of, &f);
    bool replaced = false;
    for (size_t i = 0; i < f.n; i++) {
        if (skip != NULL && strcmp(f.lines[i].name, skip->name) == 0) {
            f.lines[i--] = f.lines[--f.n];
        } else if (change != NULL && strcmp(f.lines[i].name, change->name) == 0) {
            f.lines[i] = *change;
            replaced = true;
        }
    }
    if (change != NULL && !replaced)
        f.lines[f.n++] = *change;
    qsort(f.lines, f.n, sizeof *f.lines, compare_lines); /* stable text for people and diffs */
    rn_text_t text = { 0 };
    rn_topics_file_encode(f.lines, f.n, &text);
    int err = rn_fs_write_atomic(topics->log_dir, RN_TOPICS_FILE, text.ptr, text.len);
    if (err != 0)
        rn_log(RN_LOG_ERROR, "topics", "cannot write %s/%s: %s", topics->log_dir, RN_TOPICS_FILE,
               strerror(-err));
    rn_text_free(&text);
    free(f.lines);
    return err;
}

/* ---- Checkpoints ---- */

void rn_checkpoint_offsets_add(rn_checkpoint_offsets_t *o, char *topic, int32_t partition,
                               int64_t recovery_point, int64_t log_start)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 64;
        o->recovery = rn_xrealloc(o->recovery, o->cap * sizeof *o->recovery);
        o->start = rn_xrealloc(o->start, o->cap * sizeof *o->start);
    }
    o->recovery[o->n] = (rn_checkpoint_entry_t){ topic, partition, recovery_point };
    o->start[o->n] = (rn_checkpoint_entry_t){ topic, partition, log_start };
    o->n++;
}

void rn_checkpoint_offsets_free(rn_checkpoint_offsets_t *o)
{
    free(o->recovery);
    free(o->start);
    *o = (rn_checkpoint_offsets_t){ 0 };
}

static void offsets_of(rn_topic_t *topic, void *arg)
{
    rn_checkpoint_offsets_t *o = arg;
    int32_t n = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
    for (int32_t i = 0; i < n; i++) {
        rn_partition_t *part = rn_topic_partition(topic, i);
        if (part->log == NULL)
            continue;
        rn_checkpoint_offsets_add(o, topic->name, i, rn_log_recovery_point(part->log),
                                  rn_log_start_offset(part->log));
    }
}

/* Writes both files from `o` (sorting it). Caller holds checkpoint_lock. */
int rn_topics_write_checkpoint_files(rn_topics_t *topics, rn_checkpoint_offsets_t *o)
{
    rn_checkpoint_sort(o->recovery, o->n);
    rn_checkpoint_sort(o->start, o->n);
    rn_text_t rp = { 0 }, ls = { 0 };
    rn_checkpoint_encode(o->recovery, o->n, &rp);
    rn_checkpoint_encode(o->start, o->n, &ls);
    int err = rn_fs_write_atomic(topics->log_dir, RN_RECOVERY_POINT_CHECKPOINT, rp.ptr, rp.len);
    if (err == 0)
        err = rn_fs_write_atomic(topics->log_dir, RN_LOG_START_CHECKPOINT, ls.ptr, ls.len);
    if (err != 0)
        rn_log(RN_LOG_ERROR, "topics", "cannot write the checkpoints in %s: %s", topics->log_dir,
               strerror(-err));
    rn_text_free(&rp);
    rn_text_free(&ls);
    return err;
}

int rn_topics_write_checkpoints(rn_topics_t *topics)
{
    /* Offsets are read under the lock, so two writers cannot put older offsets over newer. */
    pthread_mutex_lock(&topics->checkpoint_lock);
    rn_topic_t **list;
    size_t n = rn_topics_list(topics, &list);
    rn_checkpoint_offsets_t o = { 0 };
    for (size_t i = 0; i < n; i++)
        offsets_of(list[i], &o);
    int err = rn_topics_write_checkpoint_files(topics, &o);
    pthread_mutex_unlock(&topics->checkpoint_lock);
    rn_checkpoint_offsets_free(&o);
    rn_topics_list_free(list, n);
    return err;
}

/* ---- Watchers ---- */

void rn_partition_watch(rn_partition_t *part, rn_watch_t *w)
{
    pthread_mutex_lock(&part->watch_lock);
    w->prev = NULL;
    w->next = part->watchers;
    if (part->watchers != NULL)
        part->watchers->prev = w;
    part->watchers = w;
    pthread_mutex_unlock(&part->watch_lock);
}

void rn_partition_unwatch(rn_partition_t *part, rn_watch_t *w)
{
    pthread_mutex_lock(&part->watch_lock);
    if (w->prev != NULL || part->watchers == w) {
        if (w->prev != NULL)
            w->prev->next = w->next;
        else
            part->watchers = w->next;
        if (w->next != NULL)
            w->next->prev = w->prev;
    }
    w->prev = w->next = NULL;
    pthread_mutex_unlock(&part->watch_lock);
}

void rn_partition_notify(rn_partition_t *part)
{
    pthread_mutex_lock(&part->watch_lock);
    for (rn_watch_t *w = part->watchers, *next; w != NULL; w = next) {
        next = w->next;
        w->wake(w);
    }
    pthread_mutex_unlock(&part->watch_lock);
}
