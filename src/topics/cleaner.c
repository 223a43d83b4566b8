/* SPDX-License-Identifier: Apache-2.0 */
/* The log cleaner's threads (Kafka's LogCleaner and LogCleanerManager): log.cleaner.threads
 * threads, each repeatedly taking the dirtiest compacted log that no other thread is cleaning
 * (rn_log_cleanable: the highest dirty ratio above min.cleanable.dirty.ratio, or one that
 * max.compaction.lag.ms says must be cleaned) and running one round on it (rn_log_clean), then
 * writing `cleaner-offset-checkpoint` (Kafka's checkpoint format) with where each log's next
 * round starts. With nothing to do a thread sleeps log.cleaner.backoff.ms. All threads share one
 * throttle of log.cleaner.io.max.bytes.per.second over the bytes they read and write, and split
 * log.cleaner.dedupe.buffer.size between their offset maps. A round holds a reference on its
 * topic, so a DeleteTopics waits for it (the round notices the deletion and stops early), and
 * rn_cleaner_stop stops the rounds in progress before the logs close. */
#include "topics/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/fs.h"
#include "util/logging.h"
#include "util/xmalloc.h"

#define RN_CLEANER_CHECKPOINT "cleaner-offset-checkpoint"
#define THROTTLE_CHECK_MS 300 /* Kafka's Throttler checks the rate this often */
#define FAILED_RETRY_MS 60000 /* a log whose round failed waits this long before another */

typedef struct failed_log {
    rn_log_t *log;
    int64_t retry_at_ms;
} failed_log_t;

typedef struct worker {
    rn_cleaner_t *cl;
    pthread_t thread;
    rn_log_cleaner_t *lc;
    rn_topic_t *topic; /* of the round in progress */
} worker_t;

struct rn_cleaner {
    rn_topics_t *topics;
    const rn_config_t *cfg;
    pthread_mutex_t lock; /* everything below but the throttle */
    pthread_cond_t cond;
    _Atomic bool stop;
    rn_log_t **busy; /* logs a round is running on */
    size_t nbusy;
    failed_log_t *failed;
    size_t nfailed;
    worker_t *workers;
    int nworkers;

    pthread_mutex_t throttle_lock;
    double rate; /* bytes per second */
    int64_t period_start_ms;
    int64_t period_bytes;

    pthread_mutex_t checkpoint_lock;
};

/* ---- throttle: all threads share it, and it sleeps holding its lock (as Kafka's Throttler) ----
 * Kafka checks the rate only once 300 ms have gone by, so a round shorter than that, or the first
 * 300 ms of any round after an idle spell, runs at full speed. Here a period starts with the
 * first bytes after a quiet spell (idle time is no credit), every call sleeps as long as the
 * bytes of the period so far ask for at the rate, and a period ends after 300 ms. */

static void throttle(void *arg, size_t bytes)
{
    worker_t *w = arg;
    rn_cleaner_t *cl = w->cl;
    if (!(cl->rate < 1e300))
        return; /* the default: Double.MAX_VALUE, no limit */
    pthread_mutex_lock(&cl->throttle_lock);
    int64_t now = rn_clock_mono_ms();
    if (cl->period_bytes == 0)
        cl->period_start_ms = now;
    cl->period_bytes += (int64_t)bytes;
    double owed_ms =
        (double)cl->period_bytes * 1000.0 / cl->rate - (double)(now - cl->period_start_ms);
    if (owed_ms >= 1 && !atomic_load(&cl->stop)) {
        if (owed_ms > 1000)
            owed_ms = 1000; /* never longer than a stop is willing to wait; the next call goes on */
        struct timespec ts = { (time_t)(owed_ms / 1000),
                               (long)((int64_t)owed_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        now = rn_clock_mono_ms();
    }
    if (now - cl->period_start_ms > THROTTLE_CHECK_MS &&
        (double)cl->period_bytes * 1000.0 / cl->rate <= (double)(now - cl->period_start_ms)) {
        cl->period_bytes = 0; /* paid for: the next bytes start a new period */
    }
    pthread_mutex_unlock(&cl->throttle_lock);
}

static bool aborted(void *arg)
{
    worker_t *w = arg;
    return atomic_load_explicit(&w->cl->stop, memory_order_relaxed) ||
           (w->topic != NULL && atomic_load_explicit(&w->topic->deleted, memory_order_relaxed));
}

/* ---- the checkpoint file ---- */

/* Writes every log's checkpoint (those that have one) to cleaner-offset-checkpoint. */
static void write_checkpoint(rn_cleaner_t *cl)
{
    rn_topic_t **list;
    size_t n = rn_topics_list(cl->topics, &list);
    rn_checkpoint_entry_t *entries = NULL;
    size_t count = 0, cap = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t np = atomic_load_explicit(&list[i]->npartitions, memory_order_acquire);
        for (int32_t p = 0; p < np; p++) {
            int64_t offset = rn_log_cleaner_checkpoint(rn_topic_partition(list[i], p)->log);
            if (offset < 0)
                continue;
            if (count == cap) {
                cap = cap ? cap * 2 : 16;
                entries = rn_xrealloc(entries, cap * sizeof *entries);
            }
            entries[count++] = (rn_checkpoint_entry_t){ list[i]->name, p, offset };
        }
    }
    rn_checkpoint_sort(entries, count);
    rn_text_t text = { 0 };
    rn_checkpoint_encode(entries, count, &text);
    pthread_mutex_lock(&cl->checkpoint_lock);
    int err = rn_fs_write_atomic(cl->cfg->log_dir, RN_CLEANER_CHECKPOINT, text.ptr, text.len);
    pthread_mutex_unlock(&cl->checkpoint_lock);
    if (err != 0)
        rn_log(RN_LOG_ERROR, "cleaner", "cannot write %s/%s: %s", cl->cfg->log_dir,
               RN_CLEANER_CHECKPOINT, strerror(-err));
    rn_text_free(&text);
    free(entries);
    rn_topics_list_free(list, n);
}

/* Gives each log the checkpoint the file holds for it. */
static void read_checkpoint(rn_cleaner_t *cl)
{
    char *text;
    size_t len;
    int err = rn_persist_read(cl->cfg->log_dir, RN_CLEANER_CHECKPOINT, &text, &len);
    if (err == -ENOENT)
        return;
    rn_checkpoint_entry_t *entries = NULL;
    size_t count = 0;
    char why[128];
    if (err != 0 || rn_checkpoint_decode(text, len, &entries, &count, why, sizeof why) != 0) {
        /* A damaged checkpoint only means cleaning starts again from each log start. */
        rn_log(RN_LOG_WARN, "cleaner", "ignoring %s/%s: %s", cl->cfg->log_dir,
               RN_CLEANER_CHECKPOINT, err != 0 ? strerror(-err) : why);
        if (err == 0)
            free(text);
        return;
    }
    free(text);
    rn_topic_t **list;
    size_t n = rn_topics_list(cl->topics, &list);
    for (size_t i = 0; i < n; i++) {
        int32_t np = atomic_load_explicit(&list[i]->npartitions, memory_order_acquire);
        for (int32_t p = 0; p < np; p++) {
            int64_t offset = rn_checkpoint_find(entries, count, list[i]->name, p, -1);
            if (offset >= 0)
                rn_log_set_cleaner_checkpoint(rn_topic_partition(list[i], p)->log, offset);
        }
    }
    rn_topics_list_free(list, n);
    rn_checkpoint_entries_free(entries, count);
}

/* ---- choosing a log ---- */

static bool is_busy(const rn_cleaner_t *cl, const rn_log_t *log, int64_t now)
{
    for (size_t i = 0; i < cl->nbusy; i++)
        if (cl->busy[i] == log)
            return true;
    for (size_t i = 0; i < cl->nfailed; i++)
        if (cl->failed[i].log == log && now < cl->failed[i].retry_at_ms)
            return true;
    return false;
}

/* The dirtiest log no round is running on: its topic (a reference), partition and plan. Marks
 * it busy. Caller holds cl->lock. */
static rn_topic_t *pick(rn_cleaner_t *cl, int64_t now, int32_t *partition, rn_log_cleanable_t *out)
{
    rn_topic_t **list;
    size_t n = rn_topics_list(cl->topics, &list);
    rn_topic_t *best = NULL;
    int32_t best_p = -1;
    rn_log_cleanable_t plan;
    for (size_t i = 0; i < n; i++) {
        int32_t np = atomic_load_explicit(&list[i]->npartitions, memory_order_acquire);
        for (int32_t p = 0; p < np; p++) {
            rn_log_t *log = rn_topic_partition(list[i], p)->log;
            if (is_busy(cl, log, now) || !rn_log_cleanable(log, now, &plan))
                continue;
            if (best == NULL || plan.ratio > out->ratio) {
                best = list[i];
                best_p = p;
                *out = plan;
            }
        }
    }
    if (best != NULL) {
        rn_topic_ref(best);
        cl->busy = rn_xrealloc(cl->busy, (cl->nbusy + 1) * sizeof *cl->busy);
        cl->busy[cl->nbusy++] = rn_topic_partition(best, best_p)->log;
    }
    rn_topics_list_free(list, n);
    *partition = best_p;
    return best;
}

static void done(rn_cleaner_t *cl, rn_log_t *log, bool failed, int64_t now)
{
    for (size_t i = 0; i < cl->nbusy; i++)
        if (cl->busy[i] == log) {
            cl->busy[i] = cl->busy[--cl->nbusy];
            break;
        }
    size_t keep = 0;
    for (size_t i = 0; i < cl->nfailed; i++)
        if (cl->failed[i].log != log && now < cl->failed[i].retry_at_ms)
            cl->failed[keep++] = cl->failed[i];
    cl->nfailed = keep;
    if (failed) {
        cl->failed = rn_xrealloc(cl->failed, (cl->nfailed + 1) * sizeof *cl->failed);
        cl->failed[cl->nfailed++] = (failed_log_t){ log, now + FAILED_RETRY_MS };
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    rn_cleaner_t *cl = w->cl;
    pthread_mutex_lock(&cl->lock);
    while (!atomic_load(&cl->stop)) {
        int64_t now = rn_clock_wall_ms();
        int32_t p;
        rn_log_cleanable_t plan;
        rn_topic_t *topic = pick(cl, now, &p, &plan);
        if (topic == NULL) {
            struct timespec until = rn_clock_wall_after(cl->cfg->log_cleaner_backoff_ms);
            pthread_cond_timedwait(&cl->cond, &cl->lock, &until);
            continue;
        }
        pthread_mutex_unlock(&cl->lock);

        rn_log_t *log = rn_topic_partition(topic, p)->log;
        w->topic = topic;
        rn_log_clean_stats_t st;
        int err = rn_log_clean(log, w->lc, &plan, now, &st);
        w->topic = NULL;
        if (err == 0) {
            rn_log_set_cleaner_checkpoint(log, st.end_offset);
            write_checkpoint(cl);
        } else if (err != -ECANCELED && err != -ESTALE) {
            rn_log(RN_LOG_ERROR, "cleaner", "%s-%d: cleaning failed: %s; retrying in %d s",
                   topic->name, p, strerror(-err), FAILED_RETRY_MS / 1000);
        }
        rn_topic_unref(topic);

        pthread_mutex_lock(&cl->lock);
        done(cl, log, err != 0 && err != -ECANCELED && err != -ESTALE, rn_clock_wall_ms());
    }
    pthread_mutex_unlock(&cl->lock);
    return NULL;
}

/* ---- a compaction asked for ---- */

static void add_stats(rn_log_clean_stats_t *sum, const rn_log_clean_stats_t *st)
{
    sum->bytes_read += st->bytes_read;
    sum->bytes_written += st->bytes_written;
    sum->records_read += st->records_read;
    sum->records_kept += st->records_kept;
    sum->batches_read += st->batches_read;
    sum->tombstones_dropped += st->tombstones_dropped;
    sum->aborted_dropped += st->aborted_dropped;
    sum->markers_dropped += st->markers_dropped;
    sum->segments_before += st->segments_before;
    sum->segments_after += st->segments_after;
}

/* A round is running on `log` (a failed log waiting for its retry is not). Caller holds
 * cl->lock. */
static bool in_round(const rn_cleaner_t *cl, const rn_log_t *log)
{
    for (size_t i = 0; i < cl->nbusy; i++)
        if (cl->busy[i] == log)
            return true;
    return false;
}

/* Rounds on one log until nothing is dirty (each round maps what the offset map holds). */
static int compact_log(rn_cleaner_t *cl, rn_log_cleaner_t *lc, rn_log_t *log,
                       rn_log_clean_stats_t *sum)
{
    int err = rn_log_roll(log);
    for (int round = 0; err == 0 && round < 10000; round++) {
        int64_t now = rn_clock_wall_ms();
        rn_log_cleanable_t plan;
        if (!rn_log_cleanable_now(log, now, &plan))
            break;
        rn_log_clean_stats_t st;
        if ((err = rn_log_clean(log, lc, &plan, now, &st)) != 0)
            break;
        add_stats(sum, &st);
        rn_log_set_cleaner_checkpoint(log, st.end_offset);
        write_checkpoint(cl);
        if (st.end_offset <= plan.first_dirty)
            break; /* no progress: leave it to the cleaner threads */
    }
    return err;
}

int rn_cleaner_compact_now(rn_cleaner_t *cl, rn_topic_t *topic, rn_log_clean_stats_t *sum)
{
    *sum = (rn_log_clean_stats_t){ 0 };
    if (cl == NULL)
        return -ENOTSUP;
    rn_log_cleaner_options_t opt = {
        .dedupe_bytes = (size_t)(cl->cfg->log_cleaner_dedupe_buffer_size /
                                 (cl->nworkers > 0 ? cl->nworkers : 1)),
        .load_factor = cl->cfg->log_cleaner_io_buffer_load_factor,
        .io_buffer_bytes = (size_t)cl->cfg->log_cleaner_io_buffer_size,
    };
    rn_log_cleaner_t *lc = rn_log_cleaner_new(&opt);
    int err = 0;
    int32_t np = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
    for (int32_t p = 0; p < np && err == 0; p++) {
        rn_log_t *log = rn_topic_partition(topic, p)->log;
        /* One round per log at a time: wait for a worker's, then hold the log as busy. */
        pthread_mutex_lock(&cl->lock);
        while (in_round(cl, log) && !atomic_load(&cl->stop)) {
            struct timespec until = rn_clock_wall_after(100);
            pthread_cond_timedwait(&cl->cond, &cl->lock, &until);
        }
        cl->busy = rn_xrealloc(cl->busy, (cl->nbusy + 1) * sizeof *cl->busy);
        cl->busy[cl->nbusy++] = log;
        pthread_mutex_unlock(&cl->lock);

        err = compact_log(cl, lc, log, sum);
        if (err != 0)
            rn_log(RN_LOG_ERROR, "cleaner", "%s-%d: compaction asked for failed: %s", topic->name,
                   p, strerror(-err));

        pthread_mutex_lock(&cl->lock);
        done(cl, log, false, rn_clock_wall_ms());
        pthread_cond_broadcast(&cl->cond);
        pthread_mutex_unlock(&cl->lock);
    }
    rn_log_cleaner_free(lc);
    return err;
}

int rn_cleaner_start(rn_topics_t *topics, const rn_config_t *cfg, rn_cleaner_t **out)
{
    *out = NULL;
    if (!cfg->log_cleaner_enable || cfg->log_cleaner_threads <= 0)
        return 0;
    rn_cleaner_t *cl = rn_xcalloc(1, sizeof *cl);
    cl->topics = topics;
    cl->cfg = cfg;
    pthread_mutex_init(&cl->lock, NULL);
    pthread_cond_init(&cl->cond, NULL);
    pthread_mutex_init(&cl->throttle_lock, NULL);
    pthread_mutex_init(&cl->checkpoint_lock, NULL);
    atomic_init(&cl->stop, false);
    cl->rate = cfg->log_cleaner_io_max_bytes_per_second;
    cl->period_start_ms = rn_clock_mono_ms();
    read_checkpoint(cl);

    int n = cfg->log_cleaner_threads;
    cl->workers = rn_xcalloc((size_t)n, sizeof *cl->workers);
    for (int i = 0; i < n; i++) {
        worker_t *w = &cl->workers[i];
        w->cl = cl;
        rn_log_cleaner_options_t opt = {
            .dedupe_bytes = (size_t)(cfg->log_cleaner_dedupe_buffer_size / n),
            .load_factor = cfg->log_cleaner_io_buffer_load_factor,
            .io_buffer_bytes = (size_t)cfg->log_cleaner_io_buffer_size,
            .throttle = throttle,
            .aborted = aborted,
            .arg = w,
        };
        w->lc = rn_log_cleaner_new(&opt);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            rn_log_cleaner_free(w->lc);
            rn_log(RN_LOG_ERROR, "cleaner", "cannot start cleaner thread %d", i);
            break;
        }
        cl->nworkers++;
    }
    rn_log(RN_LOG_INFO, "cleaner", "%d cleaner thread(s), backoff %lld ms", cl->nworkers,
           (long long)cfg->log_cleaner_backoff_ms);
    *out = cl;
    return 0;
}

void rn_cleaner_stop(rn_cleaner_t *cl)
{
    if (cl == NULL)
        return;
    pthread_mutex_lock(&cl->lock);
    atomic_store(&cl->stop, true);
    pthread_cond_broadcast(&cl->cond);
    pthread_mutex_unlock(&cl->lock);
    for (int i = 0; i < cl->nworkers; i++) {
        pthread_join(cl->workers[i].thread, NULL);
        rn_log_cleaner_free(cl->workers[i].lc);
    }
    free(cl->workers);
    free(cl->busy);
    free(cl->failed);
    pthread_mutex_destroy(&cl->checkpoint_lock);
    pthread_mutex_destroy(&cl->throttle_lock);
    pthread_cond_destroy(&cl->cond);
    pthread_mutex_destroy(&cl->lock);
    free(cl);
}
