/* SPDX-License-Identifier: Apache-2.0 */
/* Start-up, shutdown and housekeeping of the registry.
 *
 * Start-up trusts the topic file alone: it opens the partitions it lists, with the offsets of
 * Kafka's two checkpoint files, and removes partition directories it does not list (a delete
 * that a crash interrupted). Whether logs recover depends on Kafka's clean-shutdown marker,
 * which start-up removes once everything is open and shutdown writes only after every log has
 * been synced and closed and the checkpoints written: so a crash at any moment in between means
 * recovery at the next start. */
#include "topics/internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/err.h"
#include "util/logging.h"
#include "util/xmalloc.h"

static rn_topics_t *registry_new(const rn_config_t *cfg)
{
    rn_topics_t *topics = rn_xcalloc(1, sizeof *topics);
    topics->cfg = cfg;
    topics->log_dir = rn_xstrdup(cfg->log_dir != NULL ? cfg->log_dir : ".");
    pthread_mutex_init(&topics->admin_lock, NULL);
    /* glibc's default rwlock lets a steady stream of readers (every produce and fetch looks a
     * topic up) starve a writer forever; a waiting writer goes first instead. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&topics->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&topics->pending_lock, NULL);
    pthread_mutex_init(&topics->checkpoint_lock, NULL);
    rn_topic_index_init(&topics->index);
    topics->last_checkpoint_ms = -1;
    return topics;
}

static void drop_topic(rn_topic_t *topic, void *arg)
{
    rn_topic_t ***next = arg;
    *(*next)++ = topic;
}

/* Frees the registry; the logs of its topics must be closed (or never opened). */
static void registry_free(rn_topics_t *topics)
{
    rn_topic_t **list = rn_xmalloc((topics->index.count + 1) * sizeof *list), **end = list;
    rn_topic_index_each(&topics->index, drop_topic, &end);
    rn_topic_index_deinit(&topics->index);
    for (rn_topic_t **p = list; p < end; p++)
        rn_topic_unref(*p);
    free(list);
    /* Left: topics still referenced (a caller broke the contract; leaked, not freed under it)
     * and deleted topics whose directories could not be removed (names only). */
    for (rn_topic_impl_t *t = topics->pending, *next; t != NULL; t = next) {
        next = t->pending_next;
        if (atomic_load(&t->pub.refs) > 0) {
            /* Detached: its last unref deletes its logs without touching the freed registry. */
            rn_log(RN_LOG_ERROR, "topics", "deleted topic %s still referenced at close",
                   t->pub.name);
            t->registry = NULL;
            t->pending_prev = t->pending_next = NULL;
            continue;
        }
        free(t->pub.name);
        free(t);
    }
    pthread_mutex_destroy(&topics->checkpoint_lock);
    pthread_mutex_destroy(&topics->pending_lock);
    pthread_rwlock_destroy(&topics->lock);
    pthread_mutex_destroy(&topics->admin_lock);
    free(topics->log_dir);
    free(topics);
}

/* Reads one checkpoint file; a missing or damaged one counts as empty, which only costs a
 * longer recovery (and, for log starts, the first segment's base). */
static void read_checkpoint(const char *dir, const char *name, rn_checkpoint_entry_t **entries,
                            size_t *n)
{
    char *text = NULL, why[200];
    size_t len = 0;
    *entries = NULL;
    *n = 0;
    int err = rn_persist_read(dir, name, &text, &len);
    if (err == -ENOENT)
        return;
    if (err != 0) {
        rn_log(RN_LOG_WARN, "topics", "cannot read %s/%s: %s; ignoring it", dir, name,
               strerror(-err));
        return;
    }
    if (rn_checkpoint_decode(text, len, entries, n, why, sizeof why) != 0)
        rn_log(RN_LOG_WARN, "topics", "%s/%s: %s; ignoring it", dir, name, why);
    free(text);
}

typedef struct listed {
    const rn_topic_line_t *lines;
    size_t n;
} listed_t;

static bool is_listed(const char *topic, int32_t partition, void *arg)
{
    const listed_t *l = arg;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->lines[i].name, topic) == 0)
            return partition < l->lines[i].npartitions;
    return false;
}

static bool keep_all(const char *topic, int32_t partition, void *arg)
{
    (void)topic;
    (void)partition;
    (void)arg;
    return true;
}

/* Reads the topic file into `lines`. A missing file is an empty registry, unless partition
 * directories exist: then we refuse rather than delete data we cannot account for. */
static int load_topic_file(const char *dir, rn_topic_line_t **lines, size_t *n)
{
    char *text = NULL, why[240];
    size_t len = 0, found = 0;
    int err = rn_persist_read(dir, RN_TOPICS_FILE, &text, &len);
    if (err == -ENOENT) {
        if ((err = rn_persist_sweep_partition_dirs(dir, keep_all, NULL, &found)) != 0 &&
            err != -ENOENT)
            return err;
        if (found > 0) {
            rn_log(RN_LOG_ERROR, "topics",
                   "%s holds %zu partition directories but no %s: restore that file or move the "
                   "directories away",
                   dir, found, RN_TOPICS_FILE);
            return RN_EINVAL;
        }
        return 0;
    }
    if (err != 0) {
        rn_log(RN_LOG_ERROR, "topics", "cannot read %s/%s: %s", dir, RN_TOPICS_FILE,
               strerror(-err));
        return err;
    }
    err = rn_topics_file_decode(text, len, lines, n, why, sizeof why);
    free(text);
    if (err != 0) {
        rn_log(RN_LOG_ERROR, "topics", "%s/%s: %s", dir, RN_TOPICS_FILE, why);
        return err;
    }
    listed_t listed = { *lines, *n };
    if ((err = rn_persist_sweep_partition_dirs(dir, is_listed, &listed, &found)) != 0)
        rn_log(RN_LOG_WARN, "topics", "cannot remove every stale partition directory in %s: %s",
               dir, strerror(-err));
    return 0;
}

int rn_topics_open(const rn_config_t *cfg, rn_topics_t **out)
{
    rn_topics_t *topics = registry_new(cfg);
    const char *dir = topics->log_dir;
    rn_topic_line_t *lines = NULL;
    rn_checkpoint_entry_t *rp = NULL, *ls = NULL;
    size_t nlines = 0, nrp = 0, nls = 0;
    int err = 0;
    *out = NULL;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        err = -errno;
        rn_log(RN_LOG_ERROR, "topics", "cannot create %s: %s", dir, strerror(-err));
        goto fail;
    }
    bool clean = rn_clean_marker_exists(dir);
    if ((err = load_topic_file(dir, &lines, &nlines)) != 0)
        goto fail;
    read_checkpoint(dir, RN_RECOVERY_POINT_CHECKPOINT, &rp, &nrp);
    read_checkpoint(dir, RN_LOG_START_CHECKPOINT, &ls, &nls);

    size_t total = 0;
    for (size_t i = 0; i < nlines; i++)
        total += (size_t)lines[i].npartitions;
    if (clean)
        rn_log(RN_LOG_INFO, "topics",
               "clean shutdown marker found: skipping recovery (%zu topics, %zu partitions)",
               nlines, total);
    else
        rn_log(RN_LOG_INFO, "topics", "no clean shutdown marker: recovering %zu partitions", total);

    for (size_t i = 0; i < nlines && err == 0; i++) {
        rn_topic_line_t *line = &lines[i];
        rn_topic_impl_t *t = rn_topic_new(topics, line->name, &line->id, line->internal,
                                          line->overrides, line->noverrides);
        line->overrides = NULL;
        line->noverrides = 0;
        rn_partition_t **parts = rn_xcalloc((size_t)line->npartitions, sizeof *parts);
        int32_t opened = 0;
        for (; opened < line->npartitions && err == 0; opened++) {
            int64_t recovery = rn_checkpoint_find(rp, nrp, line->name, opened, 0);
            int64_t start = rn_checkpoint_find(ls, nls, line->name, opened, -1);
            if ((err = rn_partition_open(topics, t, opened, recovery, start, clean,
                                         &parts[opened])) != 0)
                break;
        }
        /* Published even when incomplete, so registry_free closes what was opened. */
        rn_partitions_publish(t, parts, 0, opened);
        free(parts);
        rn_topic_index_insert(&topics->index, &t->pub);
    }
    if (err != 0)
        goto fail;
    /* Offsets of topics deleted before a crash must not outlive them: a new topic of the same
     * name would start from them. */
    rn_topics_write_checkpoints(topics);
    if ((err = rn_clean_marker_remove(dir)) != 0) {
        rn_log(RN_LOG_ERROR, "topics", "cannot remove %s/%s: %s", dir, RN_CLEAN_SHUTDOWN_FILE,
               strerror(-err));
        goto fail;
    }
    rn_topic_lines_free(lines, nlines);
    rn_checkpoint_entries_free(rp, nrp);
    rn_checkpoint_entries_free(ls, nls);
    *out = topics;
    return 0;

fail:
    rn_topic_lines_free(lines, nlines);
    rn_checkpoint_entries_free(rp, nrp);
    rn_checkpoint_entries_free(ls, nls);
    registry_free(topics); /* closes the logs opened so far; the marker stays as it was */
    return err;
}

typedef struct closing {
    rn_checkpoint_offsets_t offsets;
    bool ok;
} closing_t;

/* Syncs and closes the logs of one topic, noting their final offsets. */
static void close_topic(rn_topic_t *topic, void *arg)
{
    closing_t *c = arg;
    int32_t n = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
    for (int32_t i = 0; i < n; i++) {
        rn_partition_t *part = rn_topic_partition(topic, i);
        if (part->log == NULL)
            continue;
        /* With nothing appending any more, a successful sync makes the whole log durable:
         * the recovery point is its end. */
        int err = rn_log_sync(part->log);
        if (err != 0) {
            rn_log(RN_LOG_ERROR, "topics", "%s-%d: sync failed at shutdown: %s", topic->name, i,
                   strerror(-err));
            c->ok = false;
        }
        int64_t recovery =
            err == 0 ? rn_log_high_watermark(part->log) : rn_log_recovery_point(part->log);
        rn_checkpoint_offsets_add(&c->offsets, topic->name, i, recovery,
                                  rn_log_start_offset(part->log));
        rn_log_close(part->log);
        part->log = NULL;
    }
}

void rn_topics_close(rn_topics_t *topics)
{
    if (topics == NULL)
        return;
    pthread_mutex_lock(&topics->admin_lock);
    closing_t c = { .ok = true };
    rn_topic_index_each(&topics->index, close_topic, &c);
    pthread_mutex_lock(&topics->checkpoint_lock);
    if (rn_topics_write_checkpoint_files(topics, &c.offsets) != 0)
        c.ok = false;
    pthread_mutex_unlock(&topics->checkpoint_lock);
    rn_checkpoint_offsets_free(&c.offsets);
    if (c.ok) {
        int err = rn_clean_marker_write(topics->log_dir);
        if (err != 0)
            rn_log(RN_LOG_ERROR, "topics", "cannot write %s/%s: %s; the next start recovers",
                   topics->log_dir, RN_CLEAN_SHUTDOWN_FILE, strerror(-err));
    } else {
        rn_log(RN_LOG_WARN, "topics",
               "shutdown was not clean: the next start recovers every partition");
    }
    pthread_mutex_unlock(&topics->admin_lock);
    registry_free(topics);
}

void rn_topics_expire_producers(rn_topics_t *topics, int64_t now_ms, int64_t expiration_ms)
{
    rn_topic_t **list;
    size_t n = rn_topics_list(topics, &list);
    size_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t np = atomic_load_explicit(&list[i]->npartitions, memory_order_acquire);
        for (int32_t p = 0; p < np; p++)
            removed +=
                rn_log_expire_producers(rn_topic_partition(list[i], p)->log, now_ms, expiration_ms);
    }
    rn_topics_list_free(list, n);
    if (removed > 0)
        rn_log(RN_LOG_INFO, "topics", "expired the state of %zu idle producer(s)", removed);
}

void rn_topics_maintain(rn_topics_t *topics, int64_t now_ms, bool retention_due)
{
    rn_topic_t **list;
    size_t n = rn_topics_list(topics, &list);
    for (size_t i = 0; i < n; i++) {
        rn_topic_t *topic = list[i];
        int32_t np = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
        for (int32_t p = 0; p < np; p++) {
            rn_log_t *log = rn_topic_partition(topic, p)->log;
            int err = rn_log_maintain(log, now_ms);
            if (err < 0)
                rn_log(RN_LOG_ERROR, "topics", "%s-%d: flush or roll failed: %s", topic->name, p,
                       strerror(-err));
            if (!retention_due)
                continue;
            int removed = rn_log_enforce_retention(log, now_ms);
            if (removed < 0)
                rn_log(RN_LOG_ERROR, "topics", "%s-%d: retention failed: %s", topic->name, p,
                       strerror(-removed));
            else if (removed > 0)
                rn_log(RN_LOG_INFO, "topics",
                       "%s-%d: retention removed %d segment(s); log start offset now %lld",
                       topic->name, p, removed, (long long)rn_log_start_offset(log));
        }
    }
    rn_topics_list_free(list, n);

    pthread_mutex_lock(&topics->checkpoint_lock);
    bool due = topics->last_checkpoint_ms >= 0 &&
               now_ms - topics->last_checkpoint_ms >= RN_CHECKPOINT_INTERVAL_MS;
    if (topics->last_checkpoint_ms < 0 || due)
        topics->last_checkpoint_ms = now_ms;
    pthread_mutex_unlock(&topics->checkpoint_lock);
    if (due)
        rn_topics_write_checkpoints(topics);
}
