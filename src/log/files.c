/* SPDX-License-Identifier: Apache-2.0 */
/* Open .log files: a bounded cache of descriptors, shared by every log of the process.
 *
 * A partition with data is at least one .log file, and a broker may have tens of thousands of
 * them, more than its descriptor limit. So a segment's descriptor is opened when it is used and
 * closed again, least recently used first, when more than `max` are open. A user pins the
 * descriptor for as long as it uses it (a write, a scan, a file range a fetch is sending); a
 * pinned descriptor is never closed. Reopening goes by the segment's path, so before a segment's
 * files are unlinked or renamed it is kept open for good (rn_segment_keep_open): a fetch that
 * still holds it must read the file it located, not whatever takes the name.
 *
 * Writes into a file whose descriptor was closed and reopened are durable after an fdatasync on
 * the new descriptor: Linux flushes the inode, not the descriptor. An asynchronous write-back
 * error reported before the reopen is still seen by the next fdatasync (errseq since 4.16). */
#include "log/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/logging.h"

typedef struct files {
    pthread_mutex_t lock;
    size_t max;                /* descriptors kept open without a pin; 0 until set */
    size_t open;               /* .log descriptors open now, pinned or not */
    rn_segment_t *head, *tail; /* open and unpinned, most recently used at head */
    uint64_t opens, closes;
} files_t;

static files_t files = { .lock = PTHREAD_MUTEX_INITIALIZER, .max = RN_LOG_OPEN_FILES_DEFAULT };

static void lru_unlink(rn_segment_t *seg)
{
    if (!seg->in_lru)
        return;
    if (seg->lru_prev != NULL)
        seg->lru_prev->lru_next = seg->lru_next;
    else
        files.head = seg->lru_next;
    if (seg->lru_next != NULL)
        seg->lru_next->lru_prev = seg->lru_prev;
    else
        files.tail = seg->lru_prev;
    seg->lru_prev = seg->lru_next = NULL;
    seg->in_lru = false;
}

static void lru_push(rn_segment_t *seg)
{
    seg->lru_prev = NULL;
    seg->lru_next = files.head;
    if (files.head != NULL)
        files.head->lru_prev = seg;
    files.head = seg;
    if (files.tail == NULL)
        files.tail = seg;
    seg->in_lru = true;
}

/* Closes the least recently used unpinned descriptor. False when there is none. Lock held. */
static bool evict_one(void)
{
    rn_segment_t *victim = files.tail;
    if (victim == NULL)
        return false;
    lru_unlink(victim);
    (void)close(victim->fd);
    victim->fd = -1;
    files.open--;
    files.closes++;
    return true;
}

/* open(2), making room in the cache when the process is out of descriptors. Lock held. */
static int open_evicting(const char *path, int flags, mode_t mode)
{
    for (;;) {
        int fd = open(path, flags | O_CLOEXEC, mode);
        if (fd >= 0)
            return fd;
        if ((errno != EMFILE && errno != ENFILE) || !evict_one())
            return -errno;
    }
}

int rn_log_open_file(const char *path, int flags, mode_t mode)
{
    pthread_mutex_lock(&files.lock);
    int fd = open_evicting(path, flags, mode);
    pthread_mutex_unlock(&files.lock);
    return fd;
}

void rn_log_set_open_files_max(size_t max)
{
    pthread_mutex_lock(&files.lock);
    files.max = max > 0 ? max : 1;
    while (files.open > files.max && evict_one())
        ;
    pthread_mutex_unlock(&files.lock);
}

void rn_log_open_files_stats(rn_log_open_files_t *out)
{
    pthread_mutex_lock(&files.lock);
    *out = (rn_log_open_files_t){
        .max = files.max, .open = files.open, .opens = files.opens, .closes = files.closes
    };
    pthread_mutex_unlock(&files.lock);
}

/* Opens the segment's .log unless it is open. Lock held. */
static int ensure_open(rn_segment_t *seg, int flags)
{
    if (seg->fd >= 0)
        return 0;
    while (files.open >= files.max && evict_one())
        ;
    int fd = open_evicting(seg->log_path, O_RDWR | flags, 0644);
    if (fd < 0)
        return fd;
    seg->fd = fd;
    files.open++;
    files.opens++;
    return 0;
}

int rn_segment_open_log(rn_segment_t *seg, int flags)
{
    pthread_mutex_lock(&files.lock);
    int err = ensure_open(seg, flags);
    if (err == 0) {
        seg->pins++;
        lru_unlink(seg);
    }
    pthread_mutex_unlock(&files.lock);
    return err < 0 ? err : seg->fd;
}

int rn_segment_pin(rn_segment_t *seg)
{
    return rn_segment_open_log(seg, 0);
}

void rn_segment_unpin(rn_segment_t *seg)
{
    pthread_mutex_lock(&files.lock);
    if (--seg->pins == 0 && !seg->keep_open) {
        lru_push(seg);
        while (files.open > files.max && evict_one())
            ;
    }
    pthread_mutex_unlock(&files.lock);
}

int rn_segment_keep_open(rn_segment_t *seg)
{
    int err = 0;
    pthread_mutex_lock(&files.lock);
    seg->keep_open = true;
    lru_unlink(seg);
    /* A descriptor closed by the cache is reopened only if someone else holds the segment: a
     * reference taken before the segment left the log's array may still pin it. */
    if (seg->fd < 0 && atomic_load_explicit(&seg->refs, memory_order_acquire) > 1)
        err = ensure_open(seg, 0);
    pthread_mutex_unlock(&files.lock);
    return err;
}

void rn_log_keep_open(const rn_log_t *log, rn_segment_t *seg)
{
    int err = rn_segment_keep_open(seg);
    if (err != 0)
        rn_log(RN_LOG_WARN, "log",
               "%s: cannot keep segment %020" PRId64 " open for the fetches still reading it: %s",
               log->dir, seg->base_offset, strerror(-err));
}

void rn_segment_close_log(rn_segment_t *seg)
{
    pthread_mutex_lock(&files.lock);
    lru_unlink(seg);
    if (seg->fd >= 0) {
        (void)close(seg->fd);
        seg->fd = -1;
        files.open--;
        files.closes++;
    }
    pthread_mutex_unlock(&files.lock);
}

void rn_segment_adopt_log(rn_segment_t *seg, int fd)
{
    pthread_mutex_lock(&files.lock);
    seg->fd = fd;
    seg->pins++;
    files.open++;
    files.opens++;
    pthread_mutex_unlock(&files.lock);
}
