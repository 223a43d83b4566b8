/* SPDX-License-Identifier: Apache-2.0 */
/* Putting a cleaned segment in place of the group it replaces, crash-safe at every step, with
 * Kafka's file names (LocalLog.replaceSegments, LogLoader):
 *   1. the cleaner writes `<base>.log.cleaned` and its `.index/.timeindex/.txnindex.cleaned`
 *      and syncs them;
 *   2. the indexes, then the .log, are renamed to `.swap`, and the directory synced: the rename
 *      of the .log is the commit point;
 *   3. the array of segments takes the cleaned segment in place of the group;
 *   4. the replaced segments' files are deleted (open descriptors stay readable for fetches
 *      already sending them), then the `.swap` indexes and the `.swap` log renamed to their
 *      final names (the .log replacing the group's first file in one rename), directory synced.
 * A crash before 2 leaves `.cleaned` files, which the next open deletes: the old segments are
 * whole. A crash after 2 leaves `<base>.log.swap`, complete and synced: the next open deletes
 * every segment whose base lies inside the swap's offsets, renames the swap to its final name
 * and rebuilds its offset and time indexes from the .log. */
#include "log/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/logging.h"
#include "util/xmalloc.h"

/* The index files move first and the .log last, so a `.log.swap` on disk always comes with its
 * .txnindex already renamed (or still `.swap`). */
static const char *const order[] = { ".txnindex", ".index", ".timeindex", ".log" };
#define NFILES (sizeof(order) / sizeof(order[0]))

static int rename_ext(const char *dir, int64_t base, const char *suffix, const char *from,
                      const char *to)
{
    char a[PATH_MAX], b[PATH_MAX];
    int err;
    if ((err = rn_segment_path_ext(a, sizeof a, dir, base, suffix, from)) != 0 ||
        (err = rn_segment_path_ext(b, sizeof b, dir, base, suffix, to)) != 0)
        return err;
    return rename(a, b) == 0 ? 0 : -errno;
}

/* The position of `seg` in the array, or nsegs. Caller holds either lock. */
static size_t position(const rn_log_t *log, const rn_segment_t *seg)
{
    for (size_t i = 0; i < log->nsegs; i++)
        if (log->segs[i] == seg)
            return i;
    return log->nsegs;
}

/* The group is still segs[i..i+n), none of them active. append_lock. */
static bool group_in_place(const rn_log_t *log, rn_segment_t *const *group, size_t n, size_t *at)
{
    size_t i = position(log, group[0]);
    if (i + n >= log->nsegs) /* missing, or reaching the active segment */
        return false;
    for (size_t k = 1; k < n; k++)
        if (log->segs[i + k] != group[k])
            return false;
    *at = i;
    return true;
}

int rn_log_swap_in(rn_log_t *log, rn_segment_t *const *group, size_t n, rn_segment_t *cleaned,
                   const rn_aborted_txn_t *txns, size_t ntxns)
{
    size_t at;
    int64_t base = group[0]->base_offset;
    /* swap_lock (held) keeps retention and DeleteRecords away; the check under append_lock
     * sees a close that began meanwhile. */
    pthread_mutex_lock(&log->append_lock);
    bool ok = !log->closed && group_in_place(log, group, n, &at);
    pthread_mutex_unlock(&log->append_lock);
    if (!ok)
        return -ESTALE;

    int err = 0;
    for (size_t i = 0; i < NFILES && err == 0; i++)
        err = rename_ext(log->dir, base, order[i], RN_CLEANED_SUFFIX, RN_SWAP_SUFFIX);
    if (err == 0)
        err = rn_fsync_dir(log->dir);
    if (err != 0) {
        /* Not committed unless the .log rename reached the disk: undo what moved. */
        for (size_t i = 0; i < NFILES; i++) {
            char path[PATH_MAX];
            if (rn_segment_path_ext(path, sizeof path, log->dir, base, order[i], RN_SWAP_SUFFIX) ==
                0)
                (void)unlink(path);
        }
        rn_log(RN_LOG_ERROR, "log", "%s: cannot commit cleaned segment %020" PRId64 ": %s",
               log->dir, base, strerror(-err));
        return err;
    }

    /* Committed: from here a crash completes the swap at the next open. */
    int64_t old_bytes = 0;
    pthread_mutex_lock(&log->append_lock);
    pthread_mutex_lock(&log->segs_lock);
    at = position(log, group[0]); /* unchanged: nothing removes segments under swap_lock */
    for (size_t k = 0; k < n; k++)
        old_bytes += group[k]->size;
    int64_t end = log->segs[at + n]->base_offset;
    log->segs[at] = cleaned;
    memmove(log->segs + at + 1, log->segs + at + n, (log->nsegs - at - n) * sizeof *log->segs);
    log->nsegs -= n - 1;
    rn_producers_replace_aborted(log, base, end, txns, ntxns);
    pthread_mutex_unlock(&log->segs_lock);
    pthread_mutex_unlock(&log->append_lock);
    atomic_fetch_add_explicit(&log->size_bytes, cleaned->size - old_bytes, memory_order_relaxed);

    /* A fetch may still hold any of the group; their names are about to go or (the first's)
     * to name the cleaned file. */
    for (size_t k = 0; k < n; k++)
        rn_log_keep_open(log, group[k]);
    for (size_t k = 1; k < n; k++) {
        int e = rn_segment_unlink(log->dir, group[k]->base_offset);
        if (e != 0)
            rn_log(RN_LOG_WARN, "log", "%s: cannot remove cleaned-away segment %020" PRId64 ": %s",
                   log->dir, group[k]->base_offset, strerror(-e));
    }
    for (size_t i = 0; i < NFILES && err == 0; i++)
        err = rename_ext(log->dir, base, order[i], RN_SWAP_SUFFIX, "");
    if (err == 0)
        err = rn_fsync_dir(log->dir);
    if (err != 0) {
        rn_log(RN_LOG_ERROR, "log",
               "%s: cleaned segment %020" PRId64 " is in use but not renamed (%s); the next "
               "start completes it",
               log->dir, base, strerror(-err));
        rn_log_keep_open(log, cleaned); /* its final name is not there to reopen */
    }
    for (size_t k = 0; k < n; k++)
        rn_segment_unref(group[k]); /* the array's references */
    return 0;
}

/* ---- at open ---- */

/* `name` is "<20 digits><suffix><ext>": the base, else -1. */
static int64_t parse_ext(const char *name, const char *suffix, const char *ext)
{
    size_t len = strlen(name), elen = strlen(ext);
    if (len <= elen || strcmp(name + len - elen, ext) != 0)
        return -1;
    char stem[64];
    if (len - elen >= sizeof stem)
        return -1;
    memcpy(stem, name, len - elen);
    stem[len - elen] = '\0';
    return rn_log_parse_name(stem, suffix);
}

/* The offset after the last whole batch of a swap file (its base when it has none). */
static int64_t swap_end(const char *path, int64_t base)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return base;
    int64_t next = base, pos = 0;
    uint8_t h[RN_BATCH_HEADER_LEN];
    for (;;) {
        ssize_t r = pread(fd, h, sizeof h, (off_t)pos);
        rn_batch_header_t bh;
        if (r != (ssize_t)sizeof h || rn_batch_parse_header(h, sizeof h, &bh) != RN_DECODE_OK ||
            bh.last_offset_delta < 0)
            break;
        next = bh.base_offset + bh.last_offset_delta + 1;
        pos += (int64_t)rn_batch_size(&bh);
    }
    close(fd);
    return next;
}

static void push64(int64_t **v, size_t *n, size_t *cap, int64_t x)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *v = rn_xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = x;
}

static bool contains(const int64_t *v, size_t n, int64_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static void unlink_quiet(const char *dir, int64_t base, const char *suffix, const char *ext)
{
    char path[PATH_MAX];
    if (rn_segment_path_ext(path, sizeof path, dir, base, suffix, ext) == 0)
        (void)unlink(path);
}

int rn_log_finish_swaps(const char *dir, int64_t **rescan, size_t *nrescan)
{
    *rescan = NULL;
    *nrescan = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -errno;
    int64_t *swaps = NULL, *logs = NULL, *orphans = NULL;
    size_t nswaps = 0, swaps_cap = 0, nlogs = 0, logs_cap = 0, norphans = 0, orphans_cap = 0;
    size_t rescan_cap = 0;
    bool changed = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t base;
        const char *name = de->d_name;
        size_t len = strlen(name);
        if (len > strlen(RN_CLEANED_SUFFIX) &&
            strcmp(name + len - strlen(RN_CLEANED_SUFFIX), RN_CLEANED_SUFFIX) == 0) {
            /* A group that was being cleaned: never committed, the old segments are whole. */
            if (unlinkat(dirfd(d), name, 0) == 0) {
                rn_log(RN_LOG_INFO, "log", "%s: removed unfinished cleaner output %s", dir, name);
                changed = true;
            }
        } else if ((base = parse_ext(name, ".log", RN_SWAP_SUFFIX)) >= 0) {
            push64(&swaps, &nswaps, &swaps_cap, base);
        } else if ((base = rn_log_parse_name(name, ".log")) >= 0) {
            push64(&logs, &nlogs, &logs_cap, base);
        } else if ((base = parse_ext(name, ".index", RN_SWAP_SUFFIX)) >= 0 ||
                   (base = parse_ext(name, ".timeindex", RN_SWAP_SUFFIX)) >= 0 ||
                   (base = parse_ext(name, ".txnindex", RN_SWAP_SUFFIX)) >= 0) {
            push64(&orphans, &norphans, &orphans_cap, base);
        }
    }
    closedir(d);

    int err = 0;
    for (size_t i = 0; i < nswaps && err == 0; i++) {
        int64_t base = swaps[i];
        char path[PATH_MAX];
        if ((err = rn_segment_path_ext(path, sizeof path, dir, base, ".log", RN_SWAP_SUFFIX)) != 0)
            break;
        int64_t end = swap_end(path, base);
        /* The segments it replaced: every other base inside its offsets. */
        for (size_t j = 0; j < nlogs; j++)
            if (logs[j] > base && logs[j] < end && (err = rn_segment_unlink(dir, logs[j])) != 0)
                break;
        if (err != 0)
            break;
        /* Its indexes are rebuilt from the .log; its .txnindex is final (moved already, or
         * still `.swap`). */
        unlink_quiet(dir, base, ".index", "");
        unlink_quiet(dir, base, ".timeindex", "");
        unlink_quiet(dir, base, ".index", RN_SWAP_SUFFIX);
        unlink_quiet(dir, base, ".timeindex", RN_SWAP_SUFFIX);
        err = rename_ext(dir, base, ".txnindex", RN_SWAP_SUFFIX, "");
        if (err == -ENOENT)
            err = 0;
        if (err == 0)
            err = rename_ext(dir, base, ".log", RN_SWAP_SUFFIX, "");
        if (err != 0)
            break;
        changed = true;
        push64(rescan, nrescan, &rescan_cap, base);
        rn_log(RN_LOG_INFO, "log",
               "%s: completed the swap of cleaned segment %020" PRId64 " (offsets below %" PRId64
               ")",
               dir, base, end);
    }
    /* Index swaps without their .log swap: the commit never happened, or completed. */
    for (size_t i = 0; i < norphans && err == 0; i++) {
        if (contains(swaps, nswaps, orphans[i]))
            continue;
        unlink_quiet(dir, orphans[i], ".index", RN_SWAP_SUFFIX);
        unlink_quiet(dir, orphans[i], ".timeindex", RN_SWAP_SUFFIX);
        unlink_quiet(dir, orphans[i], ".txnindex", RN_SWAP_SUFFIX);
        changed = true;
    }
    if (err == 0 && changed)
        err = rn_fsync_dir(dir);
    free(swaps);
    free(logs);
    free(orphans);
    if (err != 0) {
        free(*rescan);
        *rescan = NULL;
        *nrescan = 0;
        rn_log(RN_LOG_ERROR, "log", "%s: cannot finish a cleaner swap: %s", dir, strerror(-err));
    }
    return err;
}
