/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/log/: the log object, its segments and their two indexes.
 *
 * Locks (a log has three, never nested except segs_lock inside append_lock):
 *  - append_lock serializes the writer side: append, roll, retention, DeleteRecords, config
 *    changes, close. It is held across the .log write, because offsets must reach the file in
 *    the order they were assigned.
 *  - segs_lock guards the segment array and the fields each segment publishes to readers (size,
 *    next_offset, the max-timestamp pair). The writer changes them holding both locks, so either
 *    lock is enough to read them. Readers take only segs_lock, for a few instructions, and never
 *    wait for a write to the disk.
 *  - sync_lock is held across fdatasync: the caller that holds it syncs for everyone queued
 *    behind it (group commit); it guards flushed_offset and each segment's index_synced. */
#ifndef RN_LOG_INTERNAL_H
#define RN_LOG_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log/log.h"
#include "util/endian.h"
#include "util/hmap.h"

/* Kafka's index entry sizes (OffsetIndex, TimeIndex). */
#define RN_OFFSET_INDEX_ENTRY_LEN 8
#define RN_TIME_INDEX_ENTRY_LEN 12

/* Bytes of a batch header the read path needs: base_offset, batch_length, partition_leader_epoch,
 * magic, crc, attributes, last_offset_delta (records.h has the layout). */
#define RN_LOG_PEEK_LEN 27

/* Largest decompressed size the timestamp lookups accept for one batch (a bound, not a buffer). */
#define RN_LOG_MAX_DECOMPRESSED (64u << 20)

/* ---- index.c: one memory-mapped index file (.index or .timeindex) ----
 *
 * An index is either writable (the active segment's: the file is preallocated, sparse, to the
 * maximum size and mapped whole) or sealed (trimmed to its entries; never written again). The
 * writer stores an entry's bytes and then publishes the count with a release store, so a reader
 * that loads the count with acquire may read entries [0, n) without a lock. The mapping lives
 * until rn_index_close, which only the segment's last unref calls. */
typedef struct rn_index {
    char *path;   /* a writable index's file, for the calls that open it; NULL once sealed and
                   * durable (rn_index_forget_path), and for indexes opened sealed */
    uint8_t *map; /* MAP_SHARED over the file's first map_len bytes; NULL if map_len is 0 */
    size_t map_len;
    size_t entry_len;   /* RN_OFFSET_INDEX_ENTRY_LEN or RN_TIME_INDEX_ENTRY_LEN */
    size_t max_entries; /* entries the mapping can hold */
    _Atomic size_t n;   /* entries written and visible */
    size_t alloc_len;   /* writable: bytes of the file known to have disk blocks */
    bool writable;
} rn_index_t;

enum {
    RN_INDEX_CREATE = 1 << 0,   /* start empty (truncating any file left there) */
    RN_INDEX_WRITABLE = 1 << 1, /* preallocate to max_bytes and accept appends */
};

/* Opens the index at `path`. An existing file's entries are counted from its length, ignoring a
 * zero-filled tail left by a crash before trimming. `max_bytes` (rounded down to whole entries)
 * is the size a writable index is preallocated to. Returns 0 or a negative errno. */
int rn_index_open(rn_index_t *idx, const char *path, size_t entry_len, size_t max_bytes, int flags);
void rn_index_close(rn_index_t *idx);
static inline size_t rn_index_entries(const rn_index_t *idx)
{
    /* Acquire: pairs with the release in the append functions: the entries counted are written. */
    return atomic_load_explicit(&idx->n, memory_order_acquire);
}
/* Room for `more` entries? Always false once sealed. Writer only. */
bool rn_index_has_room(const rn_index_t *idx, size_t more);
/* Appends one entry. Returns 0, -ENOSPC when the index is full or the disk has no room for it
 * (then nothing changes: an index is sparse, so a missing entry only lengthens later scans). */
int rn_index_append_offset(rn_index_t *idx, uint32_t rel_offset, uint32_t pos);
int rn_index_append_time(rn_index_t *idx, int64_t timestamp, uint32_t rel_offset);
void rn_index_offset_entry(const rn_index_t *idx, size_t i, uint32_t *rel_offset, uint32_t *pos);
void rn_index_time_entry(const rn_index_t *idx, size_t i, int64_t *timestamp, uint32_t *rel_offset);
/* The largest entry whose relative offset is <= `rel_offset`: its file position, or 0 (the
 * segment's start) when there is none. */
uint32_t rn_index_lookup_offset(const rn_index_t *idx, uint32_t rel_offset);
/* The largest entry whose file position is <= `pos`: that position, or 0 when there is none
 * (positions ascend with offsets). */
uint32_t rn_index_lookup_position(const rn_index_t *idx, uint32_t pos);
/* The last entry whose timestamp is < `timestamp`: its relative offset, or -1 when none. Every
 * record before that offset (in this segment) has a timestamp < `timestamp`. */
int64_t rn_index_lookup_time(const rn_index_t *idx, int64_t timestamp);
/* Forgets every entry (recovery rebuilds the index). Writer only, before readers exist. */
void rn_index_reset(rn_index_t *idx);
/* Trims the file to its entries and stops accepting appends. Returns 0 or a negative errno
 * (the index stays usable either way). */
int rn_index_seal(rn_index_t *idx);
/* fsync: on Linux this also writes the mapping's dirty pages, which live in the page cache.
 * 0 at once for an index whose path was dropped. The index holds no descriptor: the file is
 * opened for the call (as for the fallocate of new pages and the trim when sealed). */
int rn_index_sync(rn_index_t *idx);
/* Forgets the path of a sealed index once it is durable: nothing will open its file again.
 * Sealed indexes opened from disk never keep theirs. */
void rn_index_forget_path(rn_index_t *idx);

/* ---- segment.c: one segment (.log + .index + .timeindex), reference-counted ---- */
typedef struct rn_segment {
    _Atomic int refs;    /* the log's array holds one; every handed-out range one */
    int64_t base_offset; /* immutable */
    char *log_path;      /* the .log's final name: the cache reopens it (immutable) */
    rn_index_t index;
    rn_index_t timeindex;

    /* Published: written holding append_lock and segs_lock, read under either. */
    int64_t size;                 /* bytes of whole batches in the .log */
    int64_t next_offset;          /* offset after the last batch (base_offset when empty) */
    int64_t max_timestamp;        /* largest batch max_timestamp, -1 when none */
    int64_t max_timestamp_offset; /* last offset of the batch that has it, -1 when none */

    /* Writer state: append_lock. */
    int64_t w_max_timestamp;        /* the max-timestamp pair as written, published at the end */
    int64_t w_max_timestamp_offset; /* of each append (load and recovery set both copies) */
    int64_t bytes_since_index;      /* .log bytes since the last offset index entry */
    int64_t indexed_max_timestamp;  /* timestamp of the last time index entry, -1 when none */
    int64_t first_append_ms;        /* wall clock of the first append (segment.ms), -1 if none */
    bool changed;                   /* created, rebuilt or appended to since the log was opened */

    bool index_synced; /* sealed and both indexes fsynced: sync_lock */

    /* The .log descriptor, in the cache of open files (files.c), whose lock guards these. */
    int fd;                                 /* -1 while closed */
    int pins;                               /* users of fd now: it stays open while > 0 */
    bool keep_open;                         /* files removed or renamed: never closed early */
    bool in_lru;                            /* open and unpinned */
    struct rn_segment *lru_prev, *lru_next; /* in the cache's list, when in_lru */
} rn_segment_t;

/* "<dir>/<20-digit base><suffix><ext>" into buf: `ext` is "" or a cleaner suffix (".cleaned",
 * ".swap"). Returns 0 or -ENAMETOOLONG. */
int rn_segment_path_ext(char *buf, size_t cap, const char *dir, int64_t base_offset,
                        const char *suffix, const char *ext);
/* "<dir>/<20-digit base><suffix>" into buf (at least PATH_MAX). Returns 0 or -ENAMETOOLONG. */
int rn_segment_path(char *buf, size_t cap, const char *dir, int64_t base_offset,
                    const char *suffix);
/* Creates an empty segment at `base_offset` (files created or truncated; indexes writable). */
int rn_segment_create(const char *dir, int64_t base_offset, size_t max_index_bytes,
                      rn_segment_t **out);
/* Opens an existing segment. Its size is the file's; next_offset and the max timestamp are
 * left for the caller (load or recovery) to fill. `writable`: the active segment. */
int rn_segment_open(const char *dir, int64_t base_offset, size_t max_index_bytes, bool writable,
                    rn_segment_t **out);
void rn_segment_ref(rn_segment_t *seg);
/* Drops a reference; the last one closes the files and frees the segment. */
void rn_segment_unref(rn_segment_t *seg);
/* rn_file_range_t.release: `owner` is the segment. */
void rn_segment_release(void *owner);
/* Removes the three files (missing ones are fine). Open descriptors stay readable. */
int rn_segment_unlink(const char *dir, int64_t base_offset);
/* Writes `len` bytes at the end of the .log. On failure the file is cut back to its old size
 * and the negative errno returned. Does not change seg->size: the caller publishes. */
int rn_segment_write(rn_segment_t *seg, const uint8_t *p, size_t len);
/* Adds the final time index entry and trims both indexes (roll and close). */
void rn_segment_seal(rn_segment_t *seg);
/* fsyncs both indexes of a sealed segment and drops their descriptors. 0 or a negative errno. */
int rn_segment_sync_indexes(rn_segment_t *seg);
/* Index entries for one batch of `batch_len` bytes at `pos`, with the given offsets and max
 * timestamp, following index.interval.bytes; updates the writer's max-timestamp pair. Writer
 * only: the caller publishes size, next_offset and the pair afterwards. Used by append and by
 * recovery. */
void rn_segment_index_batch(rn_segment_t *seg, int64_t pos, size_t batch_len, int64_t base_offset,
                            int64_t last_offset, int64_t max_timestamp,
                            int32_t index_interval_bytes);

/* Reads exactly `len` bytes at `pos` of the .log. Returns 0 or a negative errno (-EIO when the
 * file ends first). */
int rn_segment_read(rn_segment_t *seg, int64_t pos, uint8_t *buf, size_t len);

/* Kafka's segment.largestTimestamp: the largest record timestamp, or the file's modification
 * time when no batch had one (INT64_MAX when that cannot be read). timestamp.c. */
int64_t rn_segment_largest_timestamp(rn_segment_t *seg);

/* ---- files.c: the bounded cache of open .log descriptors ---- */

/* The .log's descriptor, pinned: opened (with `flags` added to O_RDWR, such as O_CREAT |
 * O_TRUNC) if the cache had closed it, and left open until the matching rn_segment_unpin.
 * Returns the descriptor or a negative errno (-EMFILE when the process is out of descriptors
 * and the cache has none to give back). */
int rn_segment_open_log(rn_segment_t *seg, int flags);
int rn_segment_pin(rn_segment_t *seg);
void rn_segment_unpin(rn_segment_t *seg);
/* Before a segment's files are unlinked or renamed: its descriptor is never closed by the
 * cache again, and is opened now if another holder may still pin it. 0 or a negative errno
 * (then such a holder's reads fail). */
int rn_segment_keep_open(rn_segment_t *seg);
/* Gives the cache a descriptor opened elsewhere (a cleaned segment under its temporary name),
 * pinned once. */
void rn_segment_adopt_log(rn_segment_t *seg, int fd);
/* The last unref: closes the descriptor and leaves the cache. */
void rn_segment_close_log(rn_segment_t *seg);
/* rn_segment_keep_open, with a WARN naming the segment when it fails. */
void rn_log_keep_open(const rn_log_t *log, rn_segment_t *seg);
/* open(2) with O_CLOEXEC that closes cached descriptors while the process is out of them. */
int rn_log_open_file(const char *path, int flags, mode_t mode);

/* Reads batch headers from a segment file with few system calls: one pread fills a buffer from
 * which the next headers are served. `end` bounds every read (the published size). The scan
 * pins the segment's descriptor from open to close. */
typedef struct rn_scan {
    rn_segment_t *seg;
    int fd;
    int64_t end;
    int64_t buf_pos; /* file position of buf[0] */
    size_t buf_len;
    uint8_t buf[4096];
} rn_scan_t;
/* 0 or a negative errno (the descriptor could not be opened); then there is nothing to close. */
int rn_scan_open(rn_scan_t *s, rn_segment_t *seg, int64_t end);
void rn_scan_close(rn_scan_t *s);
/* Points *p at `n` (<= 4096) bytes from `pos`. Returns 0, 1 when fewer than `n` bytes are left
 * before `end`, or a negative errno. */
int rn_scan_peek(rn_scan_t *s, int64_t pos, size_t n, const uint8_t **p);

/* A positive result of the searches below: they looked, and nothing qualifies (not an errno). */
#define RN_LOG_NOT_FOUND 1

/* The position of the first batch at or after `pos` whose last offset is >= `offset`, from a
 * scan that stops at s->end. Sets *batch_pos, *batch_len, *base, *last. Returns 0,
 * RN_LOG_NOT_FOUND when no such batch lies before end, or a negative errno (-EIO for a header
 * that cannot be right). */
int rn_segment_find_batch(rn_scan_t *s, int64_t pos, int64_t offset, int64_t *batch_pos,
                          size_t *batch_len, int64_t *base, int64_t *last);

/* ---- producers.c: producer state, transactions, snapshots (log.h tells the rules) ---- */

/* Batches of each producer whose metadata is kept for spotting retries (Kafka's
 * NUM_BATCHES_TO_RETAIN, which is also the clients' max.in.flight limit for idempotence). */
#define RN_PRODUCER_BATCHES 5

typedef struct rn_batch_meta {
    int32_t first_seq, last_seq;
    int64_t first_offset;
    int32_t offset_delta; /* last offset - first offset */
    int64_t timestamp;    /* the batch's max timestamp */
} rn_batch_meta_t;

typedef struct rn_producer {
    rn_hmap_node_t node;
    int64_t id;
    int16_t epoch;
    int nbatches; /* batches[0..nbatches), oldest first */
    rn_batch_meta_t batches[RN_PRODUCER_BATCHES];
    int64_t last_timestamp;
    int32_t coordinator_epoch; /* of the last marker, -1 when none */
    int64_t txn_first_offset;  /* of the open transaction, -1 when none */
} rn_producer_t;

/* An open transaction; the log keeps them ordered by first offset (appends come in offset
 * order), so the oldest is first and gives the last stable offset. */
typedef struct rn_open_txn {
    int64_t producer_id;
    int64_t first_offset;
} rn_open_txn_t;

/* One entry of a .txnindex, in memory too (aborts are rare: the whole list stays loaded). */
typedef struct rn_aborted_txn {
    int64_t producer_id;
    int64_t first_offset;
    int64_t last_offset; /* the abort marker's offset */
    int64_t last_stable_offset;
} rn_aborted_txn_t;

/* Kafka's AbortedTxn record: version int16 (0), producer id, first, last and last stable offset. */
#define RN_TXN_INDEX_ENTRY_LEN 34

typedef struct rn_producers {
    rn_hmap_t map; /* producer id -> rn_producer_t: append_lock */
    rn_open_txn_t *open;
    size_t nopen, open_cap; /* append_lock */
    /* Written holding append_lock and segs_lock, read under either. */
    rn_aborted_txn_t *aborted;
    size_t naborted, aborted_cap; /* ordered by last offset */
} rn_producers_t;

void rn_producers_init(rn_producers_t *ps);
void rn_producers_deinit(rn_producers_t *ps);

/* What the producer state says of a batch about to be appended (its header `h`; a blob with
 * a producer's batch holds just that batch): append it, a retry of a batch already written at
 * *dup_offset with max timestamp *dup_timestamp (write nothing), or refused with *err. Caller holds
 * append_lock. */
typedef enum rn_producer_verdict {
    RN_PRODUCER_APPEND,
    RN_PRODUCER_DUPLICATE,
    RN_PRODUCER_REFUSED,
} rn_producer_verdict_t;
rn_producer_verdict_t rn_producers_check(rn_log_t *log, const rn_batch_header_t *h,
                                         int64_t *dup_offset, int64_t *dup_timestamp,
                                         rn_kerr_t *err);
/* Folds a batch just written to `seg` (header `h`, offsets assigned) into the producer state;
 * replay at open does the same from the file. `marker_type` and `coordinator_epoch` are a
 * control batch's (rn_records_marker_type). An abort marker adds to the aborted list (under
 * segs_lock) and the segment's .txnindex. Caller holds append_lock and publishes
 * first_unstable afterwards. */
void rn_producers_apply(rn_log_t *log, rn_segment_t *seg, const rn_batch_header_t *h,
                        int marker_type, int32_t coordinator_epoch);
/* The coordinator epoch of the producer's last marker here, -1 when none. append_lock. */
int32_t rn_producers_coordinator_epoch(const rn_log_t *log, int64_t producer_id);
/* The first offset of the oldest open transaction, INT64_MAX when none. append_lock. */
int64_t rn_producers_first_unstable(const rn_log_t *log);
/* Writes `<offset>.snapshot` (Kafka's producer snapshot format) for the state now, through a
 * temporary file and a rename, never fsynced: a snapshot lost or torn by a crash of the machine
 * is missing or fails its CRC, and the open falls back to an older one and a longer replay.
 * append_lock. 0 or a negative errno. */
int rn_producers_snapshot(rn_log_t *log, int64_t offset);
/* At open, after the segments are loaded: the newest usable snapshot at or below the log end
 * (newer ones removed), then a replay of the batches after it; the .txnindex files are read and
 * what lies past the log end dropped. 0 or a negative errno. */
int rn_producers_load(rn_log_t *log);

/* After the log start moved to `start` (retention, DeleteRecords): forgets aborted
 * transactions that ended below it and removes snapshot files below it. Caller holds
 * append_lock. */
void rn_producers_forget_before(rn_log_t *log, int64_t start);

/* What the cleaner needs of each producer (Kafka's lastRecordsOfActiveProducers): the last
 * offset of its last data batch (-1 when none is known) and its epoch. Takes append_lock;
 * returns a malloc'd array sorted by producer id. */
typedef struct rn_last_record {
    int64_t producer_id;
    int64_t last_data_offset;
    int16_t producer_epoch;
} rn_last_record_t;
size_t rn_producers_last_records(rn_log_t *log, rn_last_record_t **out);
/* A copy of the aborted transactions with last offset >= from and first offset < upto, ordered
 * by last offset (malloc'd). Takes segs_lock. */
size_t rn_producers_aborted_range(rn_log_t *log, int64_t from, int64_t upto,
                                  rn_aborted_txn_t **out);
/* Replaces the aborted transactions whose marker lies in [from, to) with `txns` (ordered, all in
 * that range): a cleaned segment's .txnindex. Caller holds append_lock and segs_lock. */
void rn_producers_replace_aborted(rn_log_t *log, int64_t from, int64_t to,
                                  const rn_aborted_txn_t *txns, size_t n);

/* "<20 digits><suffix>" -> the offset, or -1 for any other name. */
int64_t rn_log_parse_name(const char *name, const char *suffix);

/* ---- recovery.c: loading the segments at open ---- */
/* Fills log->segs from the directory: trusts what a clean shutdown left, recovers the rest (see
 * rn_log_open). Sets log->leo and the max timestamp pairs; logs one INFO line. */
int rn_log_load(rn_log_t *log, int64_t recovery_point, bool clean);

/* ---- timestamp.c ---- */
/* What a search for a record in one batch found. */
typedef enum rn_log_find {
    RN_LOG_FIND_FOUND,      /* *offset and *record_ts are set */
    RN_LOG_FIND_NONE,       /* no record of the batch qualifies */
    RN_LOG_FIND_UNWALKABLE, /* the records cannot be walked (a compressed batch over
                               RN_LOG_MAX_DECOMPRESSED, bad codec data, not a whole batch):
                               the caller answers with the batch's own offsets */
    RN_LOG_FIND_NOMEM,      /* no memory to decompress the batch */
} rn_log_find_t;
/* The first record at or after `min_offset` in the batch `batch`/`len` (whole, as on disk) whose
 * timestamp is >= `timestamp`. */
rn_log_find_t rn_log_find_record(const uint8_t *batch, size_t len, int64_t min_offset,
                                 int64_t timestamp, int64_t *offset, int64_t *record_ts);

/* ---- offset_map.c: the cleaner's dedupe buffer ---- */
typedef struct rn_offset_slot {
    uint64_t h0, h1; /* the key's 128-bit keyed hash */
    int64_t offset;  /* -1: empty slot */
} rn_offset_slot_t;

typedef struct rn_offset_map {
    rn_offset_slot_t *slots;
    size_t nslots; /* a power of two */
    size_t count, max_count;
    uint64_t keys[4];
    int64_t latest_offset; /* the last offset mapped (Kafka's latestOffset), -1 when none */
} rn_offset_map_t;

/* A map with enough slots for `want_entries` at `load_factor` (0 < f <= 1), at most `max_bytes`
 * of slots (and at least 16 slots). 0 or -ENOMEM. */
int rn_offset_map_init(rn_offset_map_t *m, size_t max_bytes, size_t want_entries,
                       double load_factor);
void rn_offset_map_deinit(rn_offset_map_t *m);
void rn_offset_map_clear(rn_offset_map_t *m);
static inline bool rn_offset_map_full(const rn_offset_map_t *m)
{
    return m->count >= m->max_count;
}
/* Maps `key` to `offset` (replacing what it had). A new key on a full map is ignored: check
 * rn_offset_map_full first. */
void rn_offset_map_put(rn_offset_map_t *m, const void *key, size_t len, int64_t offset);
/* The offset of `key`, -1 when it is not in the map. */
int64_t rn_offset_map_get(const rn_offset_map_t *m, const void *key, size_t len);

/* ---- swap.c: cleaned segments in and out of the directory ---- */
/* Kafka's suffixes: a cleaned group is written as `<base>.log.cleaned` (with its indexes) and
 * renamed to `.swap` once complete and synced. */
#define RN_CLEANED_SUFFIX ".cleaned"
#define RN_SWAP_SUFFIX ".swap"
/* Creates the empty `.cleaned` segment at `base_offset` (files created or truncated). */
int rn_segment_create_cleaned(const char *dir, int64_t base_offset, size_t max_index_bytes,
                              rn_segment_t **out);
/* Removes a `.cleaned` segment's files (an aborted or failed group). */
void rn_segment_unlink_cleaned(const char *dir, int64_t base_offset);
/* Puts the cleaned segment `cleaned` (sealed, synced, its .txnindex.cleaned written) in place of
 * segs[first..first+n) of the log, which must still be there: renames to .swap, swaps the array
 * and the aborted list's entries in the group's range for `txns`, deletes the replaced files and
 * renames .swap to the final names. Caller holds swap_lock. 0, -ESTALE when the group is no
 * longer in the log (nothing done), or a negative errno. */
int rn_log_swap_in(rn_log_t *log, rn_segment_t *const *group, size_t n, rn_segment_t *cleaned,
                   const rn_aborted_txn_t *txns, size_t ntxns);
/* At load, before the segments are listed: deletes `.cleaned` files and completes every
 * `<base>.log.swap` (deletes the segments it replaced, renames it, drops its indexes so that they
 * are rebuilt). Writes the bases of the completed segments to *rescan (malloc'd; scan them as in
 * recovery). 0 or a negative errno. */
int rn_log_finish_swaps(const char *dir, int64_t **rescan, size_t *nrescan);

/* ---- log.c ---- */
struct rn_log {
    char *dir;

    pthread_mutex_t append_lock;
    rn_log_config_t cfg; /* append_lock */
    int64_t leo;         /* log end offset: append_lock (equal to hw between appends) */
    bool closed;         /* append_lock: close or delete has begun */

    pthread_mutex_t segs_lock;
    rn_segment_t **segs;    /* sorted by base offset; the last is the active segment.   */
    size_t nsegs, segs_cap; /* changed holding both locks, so either lock reads them */

    pthread_mutex_t sync_lock;
    int64_t flushed_offset; /* sync_lock: everything below is on disk */

    /* Published. Release stores after the data they describe, acquire loads by readers. */
    _Atomic int64_t hw;
    _Atomic int64_t log_start;
    _Atomic int64_t recovery_point;
    _Atomic int64_t size_bytes;
    _Atomic int64_t last_flush_ms;
    _Atomic bool dir_dirty; /* a segment was created since the directory was last fsynced */
    /* The first offset of the oldest open transaction (INT64_MAX: none): stored holding both
     * locks before the hw that passes it, so lso = min(first_unstable, hw) never runs ahead. */
    _Atomic int64_t first_unstable;
    int64_t snapshot_offset; /* append_lock: the newest producer snapshot on disk, -1 if none */

    /* Compaction. swap_lock is taken before append_lock by whatever removes or replaces sealed
     * segments (the cleaner's swap, retention, DeleteRecords), so a swap's file renames never
     * race a deletion of the same names. */
    pthread_mutex_t swap_lock;
    _Atomic int64_t cleaner_checkpoint; /* -1: none */

    rn_producers_t producers;

    /* Set once by an I/O error other than ENOSPC (rn_log_is_offline): never cleared. */
    _Atomic bool offline;
    /* Test-only fault injection (RUNNEL_FAULT_INJECTION, read at open): every append write or
     * every sync of this log fails with EIO. */
    bool fault_write;
    bool fault_sync;
};

/* ---- faults.c ---- */

/* Sets the log's fault flags from RUNNEL_FAULT_INJECTION (log.h), for the items naming its
 * directory; logs a WARN when one applies. At open. */
void rn_log_read_fault_injection(rn_log_t *log);
/* A write refused for want of room (ENOSPC, EDQUOT, EFBIG): it was cut back and published
 * nothing, so the log stays online for when there is room again. */
bool rn_log_no_room(int err);
/* An I/O error in `what` ("write", "sync"): the log goes offline, said once in an ERROR. */
void rn_log_go_offline(rn_log_t *log, const char *what, int err);

/* Appends `seg` to the array (taking the log's reference). Caller holds append_lock, or is
 * rn_log_load before the log is shared. */
void rn_log_push_segment(rn_log_t *log, rn_segment_t *seg);

/* metrics.c: fdatasync(fd), timed into runnel_log_fsync_duration_seconds; returns what
 * fdatasync returns, errno included. */
int rn_log_datasync(int fd);
/* metrics.c: counts one cleaning round (rn_log_clean's result and stats). */
void rn_log_metrics_clean(const rn_log_clean_stats_t *st, int err);

#endif
