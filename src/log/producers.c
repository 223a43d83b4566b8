/* SPDX-License-Identifier: Apache-2.0 */
/* Producer state of one partition, as Kafka's ProducerStateManager keeps it: per producer id
 * its epoch and the metadata of its last five batches (to answer a retry with the offset it was
 * first written at), its open transaction, and the partition's aborted transactions (.txnindex).
 *
 * The checks of an append and the state it leaves are two steps: rn_producers_check looks at a
 * batch before anything is written and refuses it or calls it a retry; rn_producers_apply folds
 * a written batch into the state. Replay at open applies the batches after the last snapshot
 * exactly as appends did, so state after a kill -9 is what it was before.
 *
 * Snapshot files are Kafka's (ProducerStateManager's format, version 1): version int16, CRC-32C
 * (uint32) of every byte after it, then an int32 count of entries, each: producer id int64,
 * epoch int16, last sequence int32, last offset int64, offset delta int32, timestamp int64,
 * coordinator epoch int32, first offset of the open transaction int64 (-1). Only the last
 * batch of each producer is in a snapshot, as in Kafka. */
#include "log/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/logging.h"
#include "util/xmalloc.h"

#define SNAPSHOT_VERSION 1
#define SNAPSHOT_HEADER_LEN 10 /* version, crc, count */
#define SNAPSHOT_ENTRY_LEN 46

void rn_producers_init(rn_producers_t *ps)
{
    *ps = (rn_producers_t){ 0 };
    rn_hmap_init(&ps->map);
}

void rn_producers_deinit(rn_producers_t *ps)
{
    rn_hmap_iter_t it = rn_hmap_iter(&ps->map);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;)
        free(rn_container_of(n, rn_producer_t, node));
    rn_hmap_deinit(&ps->map);
    free(ps->open);
    free(ps->aborted);
    *ps = (rn_producers_t){ 0 };
}

static uint64_t hash_id(const rn_producers_t *ps, int64_t id)
{
    uint8_t key[8];
    rn_store_be64(key, (uint64_t)id);
    return rn_hmap_hash(&ps->map, key, sizeof key);
}

static rn_producer_t *find(const rn_producers_t *ps, int64_t id)
{
    uint64_t h = hash_id(ps, id);
    for (rn_hmap_node_t *n = rn_hmap_next_match(&ps->map, NULL, h); n != NULL;
         n = rn_hmap_next_match(&ps->map, n, h)) {
        rn_producer_t *p = rn_container_of(n, rn_producer_t, node);
        if (p->id == id)
            return p;
    }
    return NULL;
}

static rn_producer_t *find_or_add(rn_producers_t *ps, int64_t id)
{
    rn_producer_t *p = find(ps, id);
    if (p != NULL)
        return p;
    p = rn_xcalloc(1, sizeof *p);
    p->id = id;
    p->epoch = -1;
    p->last_timestamp = -1;
    p->coordinator_epoch = -1;
    p->txn_first_offset = -1;
    rn_hmap_insert(&ps->map, &p->node, hash_id(ps, id));
    return p;
}

/* Kafka's inSequence: the next sequence after `last`, wrapping from INT32_MAX to 0. */
static bool in_sequence(int32_t last, int32_t next)
{
    return (int64_t)next == (int64_t)last + 1 || (next == 0 && last == INT32_MAX);
}

/* The last sequence of a batch: sequences wrap at INT32_MAX as Kafka's do. */
static int32_t last_sequence(const rn_batch_header_t *h)
{
    if (h->base_sequence < 0)
        return -1;
    int64_t last = (int64_t)h->base_sequence + h->last_offset_delta;
    return (int32_t)(last > INT32_MAX ? last - INT32_MAX - 1 : last);
}

rn_producer_verdict_t rn_producers_check(rn_log_t *log, const rn_batch_header_t *h,
                                         int64_t *dup_offset, int64_t *dup_timestamp,
                                         rn_kerr_t *err)
{
    const rn_producer_t *p = find(&log->producers, h->producer_id);
    bool control = (h->attributes & RN_BATCH_ATTR_CONTROL) != 0;
    if (p == NULL)
        return RN_PRODUCER_APPEND; /* a producer this partition does not know starts anywhere */
    /* A retry of one of the last five batches: same epoch, same sequence range. */
    if (!control && h->base_sequence >= 0 && h->producer_epoch == p->epoch) {
        int32_t last = last_sequence(h);
        for (int i = 0; i < p->nbatches; i++)
            if (p->batches[i].first_seq == h->base_sequence && p->batches[i].last_seq == last) {
                *dup_offset = p->batches[i].first_offset;
                *dup_timestamp = p->batches[i].timestamp;
                return RN_PRODUCER_DUPLICATE;
            }
    }
    if (h->producer_epoch < p->epoch) {
        *err = RN_KERR_INVALID_PRODUCER_EPOCH;
        return RN_PRODUCER_REFUSED;
    }
    if (control || h->base_sequence < 0)
        return RN_PRODUCER_APPEND;
    if (h->producer_epoch != p->epoch) {
        /* A new epoch starts its sequences again (KIP-360), unless the epoch was unknown. */
        if (h->base_sequence != 0 && p->epoch != -1) {
            *err = RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
            return RN_PRODUCER_REFUSED;
        }
    } else {
        int32_t last = p->nbatches > 0 ? p->batches[p->nbatches - 1].last_seq : -1;
        if (!in_sequence(last, h->base_sequence)) {
            *err = RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
            return RN_PRODUCER_REFUSED;
        }
    }
    if ((h->attributes & RN_BATCH_ATTR_TRANSACTIONAL) == 0 && p->txn_first_offset >= 0) {
        *err = RN_KERR_INVALID_TXN_STATE; /* Kafka: "Expected transactional write" */
        return RN_PRODUCER_REFUSED;
    }
    return RN_PRODUCER_APPEND;
}

/* ---- applying written batches ---- */

static void open_txn_add(rn_producers_t *ps, int64_t id, int64_t first_offset)
{
    if (ps->nopen == ps->open_cap) {
        ps->open_cap = ps->open_cap ? ps->open_cap * 2 : 4;
        ps->open = rn_xrealloc(ps->open, ps->open_cap * sizeof *ps->open);
    }
    /* Appends come in offset order, so this keeps the array sorted; a replayed snapshot's
     * entries may not, hence the insertion. */
    size_t i = ps->nopen;
    while (i > 0 && ps->open[i - 1].first_offset > first_offset) {
        ps->open[i] = ps->open[i - 1];
        i--;
    }
    ps->open[i] = (rn_open_txn_t){ id, first_offset };
    ps->nopen++;
}

static void open_txn_remove(rn_producers_t *ps, int64_t id)
{
    for (size_t i = 0; i < ps->nopen; i++)
        if (ps->open[i].producer_id == id) {
            memmove(&ps->open[i], &ps->open[i + 1], (ps->nopen - i - 1) * sizeof *ps->open);
            ps->nopen--;
            return;
        }
}

int32_t rn_producers_coordinator_epoch(const rn_log_t *log, int64_t producer_id)
{
    const rn_producer_t *p = find(&log->producers, producer_id);
    return p != NULL ? p->coordinator_epoch : -1;
}

int64_t rn_producers_first_unstable(const rn_log_t *log)
{
    return log->producers.nopen > 0 ? log->producers.open[0].first_offset : INT64_MAX;
}

static void set_epoch(rn_producer_t *p, int16_t epoch)
{
    if (epoch != p->epoch) {
        p->epoch = epoch;
        p->nbatches = 0; /* the sequences of the old epoch mean nothing in the new one */
    }
}

/* Appends an aborted transaction to the segment's .txnindex file. A failure is logged: the
 * entry is in memory, and replay after a restart writes it again if the marker lies after the
 * last snapshot. */
static void txn_index_write(rn_log_t *log, const rn_segment_t *seg, const rn_aborted_txn_t *a)
{
    char path[PATH_MAX];
    uint8_t e[RN_TXN_INDEX_ENTRY_LEN];
    rn_store_be16(e, 0);
    rn_store_be64(e + 2, (uint64_t)a->producer_id);
    rn_store_be64(e + 10, (uint64_t)a->first_offset);
    rn_store_be64(e + 18, (uint64_t)a->last_offset);
    rn_store_be64(e + 26, (uint64_t)a->last_stable_offset);
    int err = rn_segment_path(path, sizeof path, log->dir, seg->base_offset, ".txnindex");
    int fd = err == 0 ? rn_log_open_file(path, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
    if (fd < 0 || write(fd, e, sizeof e) != (ssize_t)sizeof e)
        rn_log(RN_LOG_ERROR, "log", "%s: cannot write an aborted transaction to %s: %s", log->dir,
               path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void aborted_add(rn_log_t *log, const rn_aborted_txn_t *a)
{
    rn_producers_t *ps = &log->producers;
    pthread_mutex_lock(&log->segs_lock);
    if (ps->naborted == ps->aborted_cap) {
        ps->aborted_cap = ps->aborted_cap ? ps->aborted_cap * 2 : 8;
        ps->aborted = rn_xrealloc(ps->aborted, ps->aborted_cap * sizeof *ps->aborted);
    }
    ps->aborted[ps->naborted++] = *a;
    pthread_mutex_unlock(&log->segs_lock);
}

void rn_producers_apply(rn_log_t *log, rn_segment_t *seg, const rn_batch_header_t *h,
                        int marker_type, int32_t coordinator_epoch)
{
    rn_producers_t *ps = &log->producers;
    rn_producer_t *p = find_or_add(ps, h->producer_id);
    int64_t first = h->base_offset, last = h->base_offset + h->last_offset_delta;
    if ((h->attributes & RN_BATCH_ATTR_CONTROL) != 0) {
        if (marker_type < 0)
            return; /* a control batch that is no marker (none exist yet): nothing to do */
        set_epoch(p, h->producer_epoch);
        int64_t txn_first = p->txn_first_offset >= 0 ? p->txn_first_offset : first;
        open_txn_remove(ps, p->id);
        p->txn_first_offset = -1;
        p->last_timestamp = h->max_timestamp;
        p->coordinator_epoch = coordinator_epoch;
        if (marker_type == RN_MARKER_ABORT) {
            /* Kafka's lastStableOffset for the entry: where the LSO stands once this one is
             * done. Replay adds only markers past the last entry loaded from the files. */
            int64_t lso = ps->nopen > 0 ? ps->open[0].first_offset : last + 1;
            rn_aborted_txn_t a = { p->id, txn_first, last, lso };
            if (ps->naborted == 0 || ps->aborted[ps->naborted - 1].last_offset < last) {
                aborted_add(log, &a);
                txn_index_write(log, seg, &a);
            }
        }
        return;
    }
    set_epoch(p, h->producer_epoch);
    if (h->base_sequence >= 0) {
        if (p->nbatches == RN_PRODUCER_BATCHES) {
            memmove(&p->batches[0], &p->batches[1],
                    (RN_PRODUCER_BATCHES - 1) * sizeof p->batches[0]);
            p->nbatches--;
        }
        p->batches[p->nbatches++] = (rn_batch_meta_t){
            .first_seq = h->base_sequence,
            .last_seq = last_sequence(h),
            .first_offset = first,
            .offset_delta = h->last_offset_delta,
            .timestamp = h->max_timestamp,
        };
    }
    p->last_timestamp = h->max_timestamp;
    if ((h->attributes & RN_BATCH_ATTR_TRANSACTIONAL) != 0 && p->txn_first_offset < 0) {
        p->txn_first_offset = first;
        open_txn_add(ps, p->id, first);
    }
}

/* ---- snapshots ---- */

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -ENOSPC;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int rn_producers_snapshot(rn_log_t *log, int64_t offset)
{
    rn_producers_t *ps = &log->producers;
    size_t count = ps->map.count;
    size_t len = SNAPSHOT_HEADER_LEN + count * SNAPSHOT_ENTRY_LEN;
    uint8_t *buf = rn_xmalloc(len);
    rn_store_be16(buf, SNAPSHOT_VERSION);
    rn_store_be32(buf + 6, (uint32_t)count);
    uint8_t *e = buf + SNAPSHOT_HEADER_LEN;
    rn_hmap_iter_t it = rn_hmap_iter(&ps->map);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL; e += SNAPSHOT_ENTRY_LEN) {
        const rn_producer_t *p = rn_container_of(n, rn_producer_t, node);
        const rn_batch_meta_t *b = p->nbatches > 0 ? &p->batches[p->nbatches - 1] : NULL;
        rn_store_be64(e, (uint64_t)p->id);
        rn_store_be16(e + 8, (uint16_t)p->epoch);
        rn_store_be32(e + 10, (uint32_t)(b ? b->last_seq : -1));
        rn_store_be64(e + 14, (uint64_t)(b ? b->first_offset + b->offset_delta : -1));
        rn_store_be32(e + 22, (uint32_t)(b ? b->offset_delta : 0));
        rn_store_be64(e + 26, (uint64_t)p->last_timestamp);
        rn_store_be32(e + 34, (uint32_t)p->coordinator_epoch);
        rn_store_be64(e + 38, (uint64_t)p->txn_first_offset);
    }
    rn_store_be32(buf + 2, rn_crc32c(0, buf + 6, len - 6));

    char path[PATH_MAX], tmp[PATH_MAX + 8];
    int err = rn_segment_path(path, sizeof path, log->dir, offset, ".snapshot");
    if (err == 0 && snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        err = -ENAMETOOLONG;
    int fd = -1;
    if (err == 0 && (fd = rn_log_open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
        err = fd;
    if (err == 0)
        err = write_all(fd, buf, len);
    if (fd >= 0 && close(fd) != 0 && err == 0)
        err = -errno;
    if (err == 0 && rename(tmp, path) != 0)
        err = -errno;
    if (err != 0) {
        (void)unlink(tmp);
        rn_log(RN_LOG_WARN, "log", "%s: cannot write producer snapshot at %" PRId64 ": %s",
               log->dir, offset, strerror(-err));
    }
    free(buf);
    return err;
}

/* Reads a snapshot into the (empty) state. False when the file is not a valid snapshot. */
static bool read_snapshot(rn_log_t *log, const char *path)
{
    FILE *f = fopen(path, "rbe");
    if (f == NULL)
        return false;
    uint8_t head[SNAPSHOT_HEADER_LEN];
    bool ok =
        fread(head, 1, sizeof head, f) == sizeof head && rn_load_be16(head) == SNAPSHOT_VERSION;
    uint32_t count = ok ? rn_load_be32(head + 6) : 0;
    /* The count comes from a file: bound it by the file's length before allocating. */
    long size = 0;
    if (ok && (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
               (uint64_t)size != SNAPSHOT_HEADER_LEN + (uint64_t)count * SNAPSHOT_ENTRY_LEN ||
               fseek(f, SNAPSHOT_HEADER_LEN, SEEK_SET) != 0))
        ok = false;
    uint8_t *body = ok && count > 0 ? rn_xmalloc((size_t)count * SNAPSHOT_ENTRY_LEN) : NULL;
    if (ok && count > 0 && fread(body, SNAPSHOT_ENTRY_LEN, count, f) != count)
        ok = false;
    fclose(f);
    if (ok) {
        uint32_t crc = rn_crc32c(0, head + 6, 4);
        if (count > 0)
            crc = rn_crc32c(crc, body, (size_t)count * SNAPSHOT_ENTRY_LEN);
        ok = crc == rn_load_be32(head + 2);
    }
    for (uint32_t i = 0; ok && i < count; i++) {
        const uint8_t *e = body + (size_t)i * SNAPSHOT_ENTRY_LEN;
        rn_producer_t *p = find_or_add(&log->producers, (int64_t)rn_load_be64(e));
        p->epoch = (int16_t)rn_load_be16(e + 8);
        int32_t last_seq = (int32_t)rn_load_be32(e + 10);
        int64_t last_offset = (int64_t)rn_load_be64(e + 14);
        int32_t delta = (int32_t)rn_load_be32(e + 22);
        p->last_timestamp = (int64_t)rn_load_be64(e + 26);
        p->coordinator_epoch = (int32_t)rn_load_be32(e + 34);
        p->txn_first_offset = (int64_t)rn_load_be64(e + 38);
        if (last_seq >= 0 && last_offset >= 0 && delta >= 0) {
            int64_t first_seq = (int64_t)last_seq - delta;
            p->batches[0] = (rn_batch_meta_t){
                .first_seq = (int32_t)(first_seq < 0 ? first_seq + INT32_MAX + 1 : first_seq),
                .last_seq = last_seq,
                .first_offset = last_offset - delta,
                .offset_delta = delta,
                .timestamp = p->last_timestamp,
            };
            p->nbatches = 1;
        }
        if (p->txn_first_offset >= 0)
            open_txn_add(&log->producers, p->id, p->txn_first_offset);
    }
    free(body);
    if (!ok) {
        /* Start again from nothing: a half-read file must leave no state behind. */
        rn_producers_deinit(&log->producers);
        rn_producers_init(&log->producers);
    }
    return ok;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* The snapshot offsets in the directory, newest first. */
static size_t list_snapshots(const char *dir, int64_t **out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t off = rn_log_parse_name(de->d_name, ".snapshot");
        if (off < 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = rn_xrealloc(*out, cap * sizeof **out);
        }
        (*out)[n++] = off;
    }
    closedir(d);
    if (n > 1)
        qsort(*out, n, sizeof **out, cmp_desc);
    return n;
}

/* Loads every segment's .txnindex and keeps the entries below the log end; a file with
 * entries past it (a truncated log) is cut back. */
static void load_txn_indexes(rn_log_t *log)
{
    for (size_t i = 0; i < log->nsegs; i++) {
        char path[PATH_MAX];
        if (rn_segment_path(path, sizeof path, log->dir, log->segs[i]->base_offset, ".txnindex") !=
            0)
            continue;
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            continue;
        uint8_t e[RN_TXN_INDEX_ENTRY_LEN];
        off_t kept = 0;
        bool cut = false;
        while (pread(fd, e, sizeof e, kept) == (ssize_t)sizeof e) {
            rn_aborted_txn_t a = {
                .producer_id = (int64_t)rn_load_be64(e + 2),
                .first_offset = (int64_t)rn_load_be64(e + 10),
                .last_offset = (int64_t)rn_load_be64(e + 18),
                .last_stable_offset = (int64_t)rn_load_be64(e + 26),
            };
            if (a.last_offset >= log->leo || a.first_offset > a.last_offset ||
                (log->producers.naborted > 0 &&
                 log->producers.aborted[log->producers.naborted - 1].last_offset >=
                     a.last_offset)) {
                cut = true;
                break;
            }
            aborted_add(log, &a);
            kept += (off_t)sizeof e;
        }
        struct stat st;
        if ((cut || (fstat(fd, &st) == 0 && st.st_size != kept)) && ftruncate(fd, kept) != 0)
            rn_log(RN_LOG_WARN, "log", "%s: cannot cut %s: %s", log->dir, path, strerror(errno));
        close(fd);
    }
}

/* Replays the batches of one segment at or after `from` into the state. */
static int replay_segment(rn_log_t *log, rn_segment_t *seg, int64_t from, int64_t *batches)
{
    rn_scan_t scan;
    int rc = rn_scan_open(&scan, seg, seg->size);
    if (rc != 0)
        return rc;
    int64_t pos = 0;
    if (from > seg->base_offset)
        pos = rn_index_lookup_offset(&seg->index, (uint32_t)(from - seg->base_offset));
    while (pos < seg->size) {
        const uint8_t *p;
        rn_batch_header_t h;
        if ((rc = rn_scan_peek(&scan, pos, RN_BATCH_HEADER_LEN, &p)) != 0) {
            rc = rc < 0 ? rc : 0;
            break;
        }
        if (rn_batch_parse_header(p, RN_BATCH_HEADER_LEN, &h) != RN_DECODE_OK) {
            rc = -EIO;
            break;
        }
        size_t len = rn_batch_size(&h);
        if (h.producer_id >= 0 && h.base_offset + h.last_offset_delta >= from) {
            int marker = -1;
            int32_t coordinator_epoch = -1;
            if ((h.attributes & RN_BATCH_ATTR_CONTROL) != 0 && len <= sizeof scan.buf &&
                rn_scan_peek(&scan, pos, len, &p) == 0)
                marker = rn_records_marker_type(p, len, &coordinator_epoch);
            rn_producers_apply(log, seg, &h, marker, coordinator_epoch);
            (*batches)++;
        }
        pos += (int64_t)len;
    }
    rn_scan_close(&scan);
    return rc;
}

/* Replays the batches at or after `from` into the state. */
static int replay(rn_log_t *log, int64_t from, int64_t *batches)
{
    for (size_t i = 0; i < log->nsegs; i++) {
        rn_segment_t *seg = log->segs[i];
        if (seg->next_offset <= from && i + 1 < log->nsegs)
            continue;
        int rc = replay_segment(log, seg, from, batches);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int rn_producers_load(rn_log_t *log)
{
    load_txn_indexes(log);
    int64_t *offsets;
    size_t n = list_snapshots(log->dir, &offsets);
    int64_t from = log->segs[0]->base_offset;
    const char *source = "no snapshot";
    char path[PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        if (rn_segment_path(path, sizeof path, log->dir, offsets[i], ".snapshot") != 0)
            continue;
        /* A snapshot past the log end (the log was truncated) or one that does not read is
         * worthless: Kafka removes it too. */
        if (offsets[i] > log->leo || offsets[i] < from || !read_snapshot(log, path)) {
            if (unlink(path) == 0)
                rn_log(RN_LOG_INFO, "log", "%s: removed producer snapshot %s", log->dir, path);
            continue;
        }
        from = offsets[i];
        log->snapshot_offset = from;
        source = "snapshot";
        break;
    }
    free(offsets);
    int64_t batches = 0;
    int err = from < log->leo ? replay(log, from, &batches) : 0;
    if (err != 0) {
        rn_log(RN_LOG_ERROR, "log", "%s: cannot replay producer state: %s", log->dir,
               strerror(-err));
        return err;
    }
    atomic_store_explicit(&log->first_unstable, rn_producers_first_unstable(log),
                          memory_order_relaxed);
    /* As Kafka does after a recovery: a snapshot at the log end, so the next open (after
     * another crash) replays from here. */
    if (batches > 0 && rn_producers_snapshot(log, log->leo) == 0)
        log->snapshot_offset = log->leo;
    if (log->producers.map.count > 0 || batches > 0)
        rn_log(RN_LOG_DEBUG, "log",
               "%s: producer state from %s at %" PRId64 " and %" PRId64
               " batches after it: %zu producers, %zu open transactions",
               log->dir, source, from, batches, log->producers.map.count, log->producers.nopen);
    return 0;
}

void rn_log_forget_producers(rn_log_t *log)
{
    pthread_mutex_lock(&log->append_lock);
    pthread_mutex_lock(&log->segs_lock);
    rn_producers_deinit(&log->producers);
    rn_producers_init(&log->producers);
    atomic_store_explicit(&log->first_unstable, rn_producers_first_unstable(log),
                          memory_order_release);
    pthread_mutex_unlock(&log->segs_lock);
    /* The empty state at the log end, so a restart does not bring back a snapshot's. */
    if (!log->closed && rn_producers_snapshot(log, log->leo) == 0)
        log->snapshot_offset = log->leo;
    pthread_mutex_unlock(&log->append_lock);
}

void rn_producers_forget_before(rn_log_t *log, int64_t start)
{
    /* Aborted transactions that ended below the log start can meet no fetch any more (their
     * .txnindex files went with their segments). */
    rn_producers_t *ps = &log->producers;
    pthread_mutex_lock(&log->segs_lock);
    size_t drop = 0;
    while (drop < ps->naborted && ps->aborted[drop].last_offset < start)
        drop++;
    if (drop > 0) {
        memmove(ps->aborted, ps->aborted + drop, (ps->naborted - drop) * sizeof *ps->aborted);
        ps->naborted -= drop;
    }
    pthread_mutex_unlock(&log->segs_lock);
    /* Producers whose last batch went with the data (Kafka's evictUnretainedProducers): as
     * after expiry, their next batch may start at any sequence. */
    rn_hmap_iter_t it = rn_hmap_iter(&ps->map);
    for (rn_hmap_node_t *node; (node = rn_hmap_iter_next(&it)) != NULL;) {
        rn_producer_t *p = rn_container_of(node, rn_producer_t, node);
        const rn_batch_meta_t *b = p->nbatches > 0 ? &p->batches[p->nbatches - 1] : NULL;
        int64_t last = b != NULL ? b->first_offset + b->offset_delta : -1;
        if (p->txn_first_offset < 0 && last < start) {
            rn_hmap_remove(&ps->map, node);
            free(p);
        }
    }
    /* Snapshots below the log start describe data that is gone (Kafka deletes them too). */
    int64_t *offsets;
    size_t n = list_snapshots(log->dir, &offsets);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        if (offsets[i] < start &&
            rn_segment_path(path, sizeof path, log->dir, offsets[i], ".snapshot") == 0)
            (void)unlink(path);
    }
    free(offsets);
}

/* ---- what others read ---- */

bool rn_log_txn_open(rn_log_t *log, int64_t producer_id, int16_t producer_epoch)
{
    pthread_mutex_lock(&log->append_lock);
    const rn_producer_t *p = find(&log->producers, producer_id);
    bool open = p != NULL && p->epoch == producer_epoch && p->txn_first_offset >= 0;
    pthread_mutex_unlock(&log->append_lock);
    return open;
}

int64_t rn_log_last_stable_offset(rn_log_t *log)
{
    /* Acquire on both: first_unstable is stored before the hw that could pass it. */
    int64_t fu = atomic_load_explicit(&log->first_unstable, memory_order_acquire);
    int64_t hw = atomic_load_explicit(&log->hw, memory_order_acquire);
    return fu < hw ? fu : hw;
}

int rn_log_aborted_txns(rn_log_t *log, int64_t from, int64_t upto, rn_log_aborted_t *out,
                        size_t cap)
{
    const rn_producers_t *ps = &log->producers;
    pthread_mutex_lock(&log->segs_lock);
    /* Entries are ordered by last offset: skip those that end before `from`. */
    size_t lo = 0, hi = ps->naborted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ps->aborted[mid].last_offset < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t n = 0;
    for (size_t i = lo; i < ps->naborted; i++) {
        const rn_aborted_txn_t *a = &ps->aborted[i];
        if (a->first_offset < upto) {
            if (n < cap)
                out[n] = (rn_log_aborted_t){ a->producer_id, a->first_offset };
            n++;
        }
        /* Kafka's stop: once an entry's LSO reaches the upper bound, no later entry can
         * start below it. */
        if (a->last_stable_offset >= upto)
            break;
    }
    pthread_mutex_unlock(&log->segs_lock);
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

static int cmp_producer(const void *a, const void *b)
{
    int64_t x = ((const rn_log_producer_t *)a)->producer_id;
    int64_t y = ((const rn_log_producer_t *)b)->producer_id;
    return (x > y) - (x < y);
}

size_t rn_log_producers(rn_log_t *log, rn_log_producer_t *out, size_t cap)
{
    pthread_mutex_lock(&log->append_lock);
    size_t total = log->producers.map.count;
    rn_log_producer_t *all = total > 0 ? rn_xmalloc(total * sizeof *all) : NULL;
    size_t n = 0;
    rn_hmap_iter_t it = rn_hmap_iter(&log->producers.map);
    for (rn_hmap_node_t *node; (node = rn_hmap_iter_next(&it)) != NULL;) {
        const rn_producer_t *p = rn_container_of(node, rn_producer_t, node);
        all[n++] = (rn_log_producer_t){
            .producer_id = p->id,
            .producer_epoch = p->epoch,
            .last_sequence = p->nbatches > 0 ? p->batches[p->nbatches - 1].last_seq : -1,
            .last_timestamp = p->last_timestamp,
            .coordinator_epoch = p->coordinator_epoch,
            .txn_start_offset = p->txn_first_offset,
        };
    }
    pthread_mutex_unlock(&log->append_lock);
    if (n > 1)
        qsort(all, n, sizeof *all, cmp_producer);
    if (n > 0 && cap > 0)
        memcpy(out, all, (n < cap ? n : cap) * sizeof *all);
    free(all);
    return total;
}

size_t rn_log_expire_producers(rn_log_t *log, int64_t now_ms, int64_t expiration_ms)
{
    size_t removed = 0;
    pthread_mutex_lock(&log->append_lock);
    rn_hmap_iter_t it = rn_hmap_iter(&log->producers.map);
    for (rn_hmap_node_t *node; (node = rn_hmap_iter_next(&it)) != NULL;) {
        rn_producer_t *p = rn_container_of(node, rn_producer_t, node);
        /* Kafka's isProducerExpired: no open transaction, and the last batch's timestamp is at
         * least producer.id.expiration.ms old. */
        if (p->txn_first_offset < 0 && now_ms - p->last_timestamp >= expiration_ms) {
            rn_hmap_remove(&log->producers.map, node);
            free(p);
            removed++;
        }
    }
    pthread_mutex_unlock(&log->append_lock);
    return removed;
}

/* ---- for the cleaner ---- */

static int cmp_last_record(const void *a, const void *b)
{
    int64_t x = ((const rn_last_record_t *)a)->producer_id;
    int64_t y = ((const rn_last_record_t *)b)->producer_id;
    return (x > y) - (x < y);
}

size_t rn_producers_last_records(rn_log_t *log, rn_last_record_t **out)
{
    pthread_mutex_lock(&log->append_lock);
    size_t n = 0, total = log->producers.map.count;
    rn_last_record_t *all = rn_xmalloc((total > 0 ? total : 1) * sizeof *all);
    rn_hmap_iter_t it = rn_hmap_iter(&log->producers.map);
    for (rn_hmap_node_t *node; (node = rn_hmap_iter_next(&it)) != NULL;) {
        const rn_producer_t *p = rn_container_of(node, rn_producer_t, node);
        const rn_batch_meta_t *b = p->nbatches > 0 ? &p->batches[p->nbatches - 1] : NULL;
        all[n++] = (rn_last_record_t){
            .producer_id = p->id,
            .last_data_offset = b != NULL ? b->first_offset + b->offset_delta : -1,
            .producer_epoch = p->epoch,
        };
    }
    pthread_mutex_unlock(&log->append_lock);
    if (n > 1)
        qsort(all, n, sizeof *all, cmp_last_record);
    *out = all;
    return n;
}

size_t rn_producers_aborted_range(rn_log_t *log, int64_t from, int64_t upto, rn_aborted_txn_t **out)
{
    const rn_producers_t *ps = &log->producers;
    pthread_mutex_lock(&log->segs_lock);
    rn_aborted_txn_t *v = rn_xmalloc((ps->naborted > 0 ? ps->naborted : 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < ps->naborted; i++)
        if (ps->aborted[i].last_offset >= from && ps->aborted[i].first_offset < upto)
            v[n++] = ps->aborted[i];
    pthread_mutex_unlock(&log->segs_lock);
    *out = v;
    return n;
}

void rn_producers_replace_aborted(rn_log_t *log, int64_t from, int64_t to,
                                  const rn_aborted_txn_t *txns, size_t n)
{
    rn_producers_t *ps = &log->producers;
    /* The entries whose marker lies in [from, to): a contiguous run, the list being ordered by
     * last offset; the new ones (ordered, in the same range) take their place. */
    size_t lo = 0;
    while (lo < ps->naborted && ps->aborted[lo].last_offset < from)
        lo++;
    size_t hi = lo;
    while (hi < ps->naborted && ps->aborted[hi].last_offset < to)
        hi++;
    size_t count = ps->naborted - (hi - lo) + n;
    if (count > ps->aborted_cap) {
        ps->aborted_cap = count;
        ps->aborted = rn_xrealloc(ps->aborted, ps->aborted_cap * sizeof *ps->aborted);
    }
    /* A log without aborted transactions has no list at all: memmove/memcpy of NULL, even for
     * 0 bytes, is undefined behaviour. */
    if (hi < ps->naborted)
        memmove(ps->aborted + lo + n, ps->aborted + hi, (ps->naborted - hi) * sizeof *ps->aborted);
    if (n > 0)
        memcpy(ps->aborted + lo, txns, n * sizeof *txns);
    ps->naborted = count;
}
