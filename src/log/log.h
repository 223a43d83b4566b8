/* SPDX-License-Identifier: Apache-2.0 */
/* The log room: one partition's log on disk, in Kafka's layout and formats (CLIENTS.md):
 * a directory `<log.dir>/<topic>-<partition>/` of segments named by their 20-digit base offset:
 * `.log` (record batches exactly as stored), a sparse `.index` (8-byte entries: offset relative
 * to the segment base, file position; one per index.interval.bytes) and `.timeindex` (12-byte
 * entries: timestamp, relative offset; monotonic).
 *
 * Threads: every function is safe from any thread (close and delete excepted, see there).
 * Appends are serialized by the log's append lock, held across the write; readers find their
 * byte range under a second lock that is only ever held for a few instructions (never across
 * I/O), and then read the file without any lock. The high watermark and log start offset are
 * published with atomics, so rn_log_high_watermark() takes no lock at all. Segments are
 * reference-counted: retention and delete unlink a file that a fetch is still sending; the file
 * stays readable until the last rn_file_range_t release.
 *
 * Durability: an append returns when the bytes are in the page cache (Kafka's acks semantics).
 * When the flush policy (flush.messages / flush.ms) says a sync is due, rn_log_append sets
 * *sync_needed and the caller runs rn_log_sync() off its event loop before acknowledging;
 * concurrent callers share one fdatasync (group commit). */
#ifndef RN_LOG_LOG_H
#define RN_LOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records/records.h"
#include "util/outbuf.h"

typedef struct rn_log rn_log_t;

/* One node never elects a new leader: every partition's leader epoch is 0, written into each
 * batch's partition_leader_epoch and reported by Metadata and ListOffsets (KIP-320). */
#define RN_LOG_LEADER_EPOCH 0

/* Effective settings of one partition's log: the topic's overrides over the broker's log.*
 * defaults. Kafka's names in comments. -1 means unlimited where Kafka allows it. */
typedef struct rn_log_config {
    int64_t segment_bytes; /* segment.bytes / log.segment.bytes, default 1 GiB */
    int64_t segment_ms;    /* segment.ms / log.roll.ms(hours), default 7 days */
    int64_t retention_ms;  /* retention.ms / log.retention.ms(minutes, hours), default 7 days; -1 */
    int64_t retention_bytes; /* retention.bytes / log.retention.bytes, default -1 */
    int64_t flush_messages;  /* flush.messages / log.flush.interval.messages, default INT64_MAX */
    int64_t flush_ms;        /* flush.ms / log.flush.interval.ms, default INT64_MAX */
    int32_t index_interval_bytes; /* index.interval.bytes, default 4096 */
    int32_t max_index_bytes; /* segment.index.bytes / log.index.size.max.bytes, default 10 MiB */
    bool delete_enabled;     /* cleanup.policy contains "delete" (retention applies) */
    /* Compaction (cleaner.c), Kafka's topic keys over the broker's log.cleaner.* defaults. */
    bool compact;                  /* cleanup.policy contains "compact" */
    double min_cleanable_ratio;    /* min.cleanable.dirty.ratio, default 0.5 */
    int64_t min_compaction_lag_ms; /* min.compaction.lag.ms, default 0 */
    int64_t max_compaction_lag_ms; /* max.compaction.lag.ms, default INT64_MAX */
    int64_t delete_retention_ms;   /* delete.retention.ms, default 86400000 (1 day) */
} rn_log_config_t;

/* Kafka's defaults, for tests and as the base of the broker's. */
void rn_log_config_defaults(rn_log_config_t *cfg);

/* Open .log descriptors are a cache shared by every log: at most `max` stay open unpinned,
 * least recently used closed first, so partitions (and their history) are bounded by disk, not
 * by the descriptor limit. The broker sets it from runnel.log.open.files.max at start-up. */
#define RN_LOG_OPEN_FILES_DEFAULT 1024
void rn_log_set_open_files_max(size_t max);
typedef struct rn_log_open_files {
    size_t max, open;       /* the bound, and .log descriptors open now (pinned ones too) */
    uint64_t opens, closes; /* since start */
} rn_log_open_files_t;
void rn_log_open_files_stats(rn_log_open_files_t *out);

/* Opens (creating if needed) the log in directory `dir` (the partition directory itself).
 * `recovery_point` is the offset up to which the log is known flushed (from the log dir's
 * recovery-point-offset-checkpoint; 0 if unknown); `clean` says the broker stopped cleanly (no
 * recovery needed). Without `clean`, every segment from the one holding `recovery_point` on is
 * scanned: batch headers and CRCs checked, indexes rebuilt, the file truncated at the first
 * invalid byte, later segments removed; one INFO line per partition says what was recovered and
 * truncated. `log_start_offset` comes from log-start-offset-checkpoint (-1 if unknown: the first
 * segment's base). Returns 0 or a negative errno. */
int rn_log_open(const char *dir, const rn_log_config_t *cfg, int64_t recovery_point,
                int64_t log_start_offset, bool clean, rn_log_t **out);
/* Flushes, trims the active segment's indexes to their used size and closes. Waits for no
 * reader: open file ranges keep their segments alive on their own. No other call on this log may
 * be running or start once close begins. rn_log_close(NULL) is a no-op. */
void rn_log_close(rn_log_t *log);
/* Closes the log and removes its directory (DeleteTopics). File ranges already handed out stay
 * readable; as with close, no other call on this log may be running or start. */
int rn_log_delete(rn_log_t *log);
/* Rolls the active segment now unless it is empty (a compaction asked for). 0 or -errno. */
int rn_log_roll(rn_log_t *log);
/* Replaces the settings (AlterConfigs); takes effect at the next append, roll or retention. */
void rn_log_set_config(rn_log_t *log, const rn_log_config_t *cfg);

/* Appends a blob of record batches that rn_records_validate() accepted (`sum` is its summary),
 * assigning offsets in place from the log end offset (base offset and leader epoch rewritten,
 * CRC untouched) and writing the bytes as they are. Rolls first when the active segment is full
 * (segment.bytes) or old (segment.ms). Updates the indexes and publishes the new high watermark.
 * Sets *base_offset to the first assigned offset and *sync_needed when the flush policy asks for
 * rn_log_sync() before the append may be acknowledged. Returns 0 or a negative errno (ENOSPC,
 * EIO: nothing is published then and the file is cut back; EINVAL for a blob shorter than a batch
 * header or over INT32_MAX bytes). */
int rn_log_append(rn_log_t *log, uint8_t *records, size_t len, const rn_records_summary_t *sum,
                  int64_t *base_offset, bool *sync_needed);
/* rn_log_append with everything it found out, for Produce: the refusals of the producer state
 * (log.h's producer section) are positive returns, and a retry of a batch already written
 * returns 0 with `duplicate` set, nothing written, and the original's first offset and max
 * timestamp (Kafka 4.4 answers a retry's log_append_time_ms with that timestamp). */
typedef struct rn_log_appended {
    int64_t base_offset;
    bool sync_needed;
    bool duplicate;
    int64_t duplicate_timestamp;
} rn_log_appended_t;
int rn_log_append_batch(rn_log_t *log, uint8_t *records, size_t len,
                        const rn_records_summary_t *sum, rn_log_appended_t *out);

/* Whether an I/O error took the log offline. Kafka takes the whole log directory offline when a
 * write or a flush fails, since what reached the disk is then unknown; here it is the one
 * partition: from then on appends and reads fail with EIO (Produce and Fetch answer
 * KAFKA_STORAGE_ERROR) until the broker restarts and recovery checks the files. A write refused
 * for want of room (ENOSPC, EDQUOT, EFBIG) is the exception: it publishes nothing and is cut
 * back, so the log goes on once there is room again.
 * For tests, the environment variable RUNNEL_FAULT_INJECTION ("write:DIR,sync:DIR", DIR a
 * partition directory's name such as mytopic-0) makes every append write or every sync of
 * that log fail with EIO; rn_log_open logs a WARN when it applies. */
bool rn_log_is_offline(const rn_log_t *log);

/* Makes everything appended so far durable (fdatasync of each unflushed segment), sharing one
 * sync among concurrent callers. Blocking: call it from a worker thread, never an event loop.
 * Returns 0 or a negative errno. */
int rn_log_sync(rn_log_t *log);
/* Time-based flush (flush.ms) and roll (segment.ms): called periodically off the loops with the
 * wall clock in ms. Rolls a non-empty active segment whose first append is older than segment.ms
 * even when no append comes (so retention, which spares the active segment, can reach its data),
 * and runs rn_log_sync() when flush.ms has passed with unflushed messages. 0 or a negative errno.
 */
int rn_log_maintain(rn_log_t *log, int64_t now_ms);

/* ---- Producer state and transactions (producers.c, txnindex.c) ----
 * Every partition keeps Kafka's producer state: for each producer id, its epoch, the metadata
 * of its last five batches, its last timestamp, the coordinator epoch of its last marker and
 * the first offset of its open transaction. rn_log_append checks a batch with a producer id
 * (>= 0) against it before anything is written, as Kafka's ProducerStateManager does:
 *  - a batch equal (same epoch, first and last sequence) to one of the last five is a retry:
 *    rn_log_append returns 0 with *base_offset where it was first written and writes nothing;
 *  - an epoch below the producer's: RN_KERR_INVALID_PRODUCER_EPOCH (the handler picks the
 *    version's fencing code); a new epoch must start at sequence 0, and a sequence that does
 *    not follow the last one: RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER (a producer the partition has
 *    no state for may start anywhere); base_sequence -1 (the broker's own transactional
 *    writes, such as TxnOffsetCommit's) skips the sequence checks;
 *  - a non-transactional batch while the producer has a transaction open in this partition:
 *    RN_KERR_INVALID_TXN_STATE.
 * Those refusals are positive returns (rn_kerr_t values), apart from the negative errnos.
 * A transactional batch opens the producer's transaction here (its first offset holds back
 * the last stable offset) until a marker ends it. State is snapshotted at every roll and at
 * close (`<offset>.snapshot`, Kafka's format) and rebuilt at open from the last snapshot plus
 * the batches after it. */

/* Writes a transaction marker (a control batch: commit or abort) for `producer_id` at
 * `producer_epoch`, ending its open transaction in this partition; an abort also goes into the
 * segment's .txnindex so read_committed fetches can list it. Kafka's checks: an epoch below the
 * producer's is RN_KERR_INVALID_PRODUCER_EPOCH, a coordinator epoch below the producer's last
 * is RN_KERR_TRANSACTION_COORDINATOR_FENCED (positive returns, nothing written). A producer
 * without an open transaction here still gets its marker (Kafka writes it all the same).
 * Sets *offset to the marker's offset and *sync_needed as rn_log_append does. Returns 0, a
 * positive rn_kerr_t, or a negative errno. */
int rn_log_append_marker(rn_log_t *log, int64_t producer_id, int16_t producer_epoch,
                         int32_t coordinator_epoch, bool commit, int64_t now_ms, int64_t *offset,
                         bool *sync_needed);

/* Whether `producer_id` has a transaction open in this partition at `producer_epoch` (Kafka's
 * hasOngoingTransaction): its later batches need no word from the coordinator. */
bool rn_log_txn_open(rn_log_t *log, int64_t producer_id, int16_t producer_epoch);

/* The last stable offset: the first offset of the oldest open transaction, or the high
 * watermark when none is open (read_committed reads stop there). */
int64_t rn_log_last_stable_offset(rn_log_t *log);

/* One aborted transaction that overlaps a fetch (FetchResponse.aborted_transactions). */
typedef struct rn_log_aborted {
    int64_t producer_id;
    int64_t first_offset;
} rn_log_aborted_t;
/* The aborted transactions whose range meets [from, upto): their last offset >= from and their
 * first offset < upto, in the order they were aborted. Writes at most `cap` to `out` and
 * returns how many there are in all (call again with more room), or a negative errno. */
int rn_log_aborted_txns(rn_log_t *log, int64_t from, int64_t upto, rn_log_aborted_t *out,
                        size_t cap);

/* DescribeProducers: the producers this partition holds state for. */
typedef struct rn_log_producer {
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t last_sequence;     /* -1 when none */
    int64_t last_timestamp;    /* -1 when none */
    int32_t coordinator_epoch; /* -1 when no marker was written */
    int64_t txn_start_offset;  /* first offset of the open transaction, -1 when none */
} rn_log_producer_t;
/* Writes at most `cap` producers to `out`, ordered by producer id, and returns how many there
 * are in all. */
size_t rn_log_producers(rn_log_t *log, rn_log_producer_t *out, size_t cap);

/* Expires producers whose last batch is older than producer.id.expiration.ms and that have no
 * open transaction (Kafka's removeExpiredProducers). Returns how many were removed. */
size_t rn_log_expire_producers(rn_log_t *log, int64_t now_ms, int64_t expiration_ms);

/* Published offsets, read without the lock. */
int64_t rn_log_high_watermark(const rn_log_t *log); /* = log end offset on one node */
int64_t rn_log_start_offset(const rn_log_t *log);
int64_t rn_log_recovery_point(const rn_log_t *log); /* everything below is flushed */
/* Bytes in all segments (DescribeLogDirs, retention.bytes). */
int64_t rn_log_size_bytes(const rn_log_t *log);

/* Process-wide counters of every log (for /metrics). Any thread. */
typedef struct rn_log_metrics {
    const struct rn_histogram *fsync;    /* each fdatasync of a segment in a log sync */
    uint64_t clean_runs, clean_failures; /* rounds finished (ok or -ECANCELED), and failed */
    uint64_t clean_bytes_read, clean_bytes_written, clean_records_read, clean_records_kept;
    uint64_t clean_tombstones_dropped;
} rn_log_metrics_t;
void rn_log_metrics_get(rn_log_metrics_t *out);

#define RN_LOG_OFFSET_OUT_OF_RANGE 1 /* a positive return: not an errno */

/* A byte range to send for a fetch, or an empty one at the high watermark. */
typedef struct rn_log_slice {
    rn_file_range_t range; /* len 0: nothing to send (range.release is NULL then) */
    int64_t high_watermark;
    int64_t log_start_offset;
} rn_log_slice_t;

/* Finds the batch that contains `offset` (via the offset index, then a short scan of batch
 * headers) and returns whole batches from there, up to `max_bytes`, within one segment and never
 * past the high watermark. The first batch is always returned whole, even beyond max_bytes
 * (KIP-74). The range holds a reference on its segment: the caller hands it to the network layer,
 * whose release drops it. Returns 0, RN_LOG_OFFSET_OUT_OF_RANGE when offset < log start or
 * > high watermark (offset == high watermark gives an empty slice), or a negative errno (EIO when
 * the file no longer holds a sane batch header). The slice's high watermark and log start are
 * from the same instant as the range. */
int rn_log_read(rn_log_t *log, int64_t offset, size_t max_bytes, rn_log_slice_t *out);

/* The same start, cut as Kafka cuts a fetch: `max_bytes` bytes from the batch holding `offset`
 * (fewer at the end of the segment), so the range may end inside a batch, which consumers
 * skip; with `first_batch_whole`, at least that first batch (KIP-74: Kafka's minOneMessage,
 * true for the first partition of a fetch with data). Same returns as rn_log_read. */
int rn_log_read_bytes(rn_log_t *log, int64_t offset, size_t max_bytes, bool first_batch_whole,
                      rn_log_slice_t *out);

/* rn_log_read_bytes for read_committed: the range also ends before the batch holding `upto`
 * (the last stable offset; INT64_MAX: no bound), so an offset at or past it reads nothing. */
int rn_log_read_committed(rn_log_t *log, int64_t offset, size_t max_bytes, bool first_batch_whole,
                          int64_t upto, rn_log_slice_t *out);
/* The upper bound of the aborted transactions a read_committed fetch of `slice` (non-empty,
 * from rn_log_read_committed) lists: Kafka's fetchUpperBoundOffset, the offset of the first
 * offset index entry at or past the slice's end, else the next segment's base, else the log
 * end. */
int64_t rn_log_fetch_upper_bound(rn_log_t *log, const rn_log_slice_t *slice);

/* ListOffsets by timestamp: the offset and timestamp of the first record at or after the log
 * start whose timestamp is >= `ts` (time index, then the batch's records). *offset = -1 and
 * *timestamp = -1 when none. Exact to the record: uncompressed batches are walked, compressed ones
 * decompressed (at most 64 MiB) and walked; LogAppendTime batches answer with their first offset
 * and max timestamp, which every record of theirs carries. A compressed batch that cannot be
 * decompressed within the bound answers the same way (batch precision). 0 or a negative errno. */
int rn_log_offset_for_timestamp(rn_log_t *log, int64_t ts, int64_t *offset, int64_t *timestamp);
/* ListOffsets -3 (KIP-734): the offset and timestamp of the record with the largest timestamp
 * (the earliest such record); -1/-1 for an empty log. */
int rn_log_max_timestamp(rn_log_t *log, int64_t *offset, int64_t *timestamp);

/* DeleteRecords: advances the log start offset to `offset` (<= high watermark; -1 means the high
 * watermark, as in DeleteRecordsRequest) and deletes the segments wholly below it. An offset at or
 * below the current start changes nothing. Returns 0, RN_LOG_OFFSET_OUT_OF_RANGE, or a negative
 * errno. */
int rn_log_delete_records(rn_log_t *log, int64_t offset);
/* Forgets every producer, open transaction and aborted transaction of the log, as if it had
 * never been written (POST /reset empties the internal topics with rn_log_delete_records, which
 * keeps open transactions, as Kafka's DeleteRecords does, and their last stable offset with
 * them). The last stable offset becomes the high watermark. */
void rn_log_forget_producers(rn_log_t *log);
/* Retention (when delete_enabled): removes whole segments, oldest first and never the active one,
 * while their largest timestamp (the file's mtime when they have none) is older than retention.ms,
 * then while the log without the segment still holds >= retention.bytes (Kafka's rule). Segments
 * wholly below the log start offset go whatever the policy. Advances the log start offset.
 * Returns how many segments were deleted, or a negative errno. */
int rn_log_enforce_retention(rn_log_t *log, int64_t now_ms);

/* ---- Compaction (cleaner.c, swap.c): Kafka's log cleaner for one log ----
 * A compacted log (cleanup.policy contains compact) keeps at least the last record of every key.
 * A cleaning round, as Kafka's Cleaner.doClean: the dirty section [first dirty, first
 * uncleanable) is read into an offset map (key -> last offset; the map's size bounds how far a
 * round gets), then every segment from the log start up to the end of what was mapped is
 * rewritten, in groups that fit one segment, keeping a record only while no later record has its
 * key. Tombstones (null values) and the markers of transactions whose data is gone are kept until
 * delete.retention.ms after the round that first kept them (KIP-534: the horizon is written into
 * the batch), records of aborted transactions go at once, and a producer's last batch stays
 * (empty if need be) so its sequence and epoch survive. Offsets never change: cleaned segments
 * have gaps. Never touches the active segment or anything at or past the first open transaction.
 *
 * Each group is written to `<base>.log.cleaned` (and .index/.timeindex/.txnindex.cleaned),
 * synced, renamed to `.swap` (the commit point), swapped into the array, the replaced segments'
 * files deleted and the `.swap` files renamed to their final names. rn_log_open deletes
 * `.cleaned` files and completes a `.swap` left by a crash. Fetches that hold a replaced segment
 * keep reading its file until they release it. */

/* Where a round would clean and how dirty the log is (Kafka's cleanableOffsets and
 * LogToClean). */
typedef struct rn_log_cleanable {
    int64_t first_dirty;       /* the cleaner checkpoint, within [log start, log end] */
    int64_t first_uncleanable; /* active segment base, first unstable offset, min.compaction.lag */
    int64_t clean_bytes;       /* bytes of the segments below first_dirty */
    int64_t dirty_bytes;       /* bytes of the segments in [first_dirty, first_uncleanable) */
    double ratio;              /* dirty / (clean + dirty), 0 when both are 0 */
    bool must_clean;           /* a dirty record is older than max.compaction.lag.ms */
} rn_log_cleanable_t;

/* Fills *out for a compacted log and returns true when a round is due (dirty bytes and either
 * the ratio above min.cleanable.dirty.ratio or must_clean); false otherwise (not compacted,
 * closed, nothing to clean). Reads a few batch headers; any thread. */
bool rn_log_cleanable(rn_log_t *log, int64_t now_ms, rn_log_cleanable_t *out);
/* The same for a round asked for now (POST /topics/NAME/compact): every sealed segment up to
 * the active one and the first unstable offset, whatever the dirty ratio and
 * min.compaction.lag.ms; true when there is anything dirty. The round then keeps the log's last
 * batch even if it empties it, so readers still reach the log end. */
bool rn_log_cleanable_now(rn_log_t *log, int64_t now_ms, rn_log_cleanable_t *out);

/* The cleaner checkpoint (cleaner-offset-checkpoint): where the next round's dirty section
 * starts; -1 when none (the log start then). */
int64_t rn_log_cleaner_checkpoint(const rn_log_t *log);
void rn_log_set_cleaner_checkpoint(rn_log_t *log, int64_t offset);

/* What one cleaner thread owns: its offset map, buffers and settings. */
typedef struct rn_log_cleaner rn_log_cleaner_t;
typedef struct rn_log_cleaner_options {
    size_t dedupe_bytes;    /* the offset map's memory at most (log.cleaner.dedupe.buffer.size /
                               threads); allocated per round, sized to the dirty section */
    double load_factor;     /* log.cleaner.io.buffer.load.factor */
    size_t io_buffer_bytes; /* read and write buffers (log.cleaner.io.buffer.size) */
    /* Called with every batch's bytes read or written: throttling (may sleep). May be NULL. */
    void (*throttle)(void *arg, size_t bytes);
    /* Polled between batches: true stops the round (nothing is swapped in). May be NULL. */
    bool (*aborted)(void *arg);
    void *arg;
} rn_log_cleaner_options_t;
rn_log_cleaner_t *rn_log_cleaner_new(const rn_log_cleaner_options_t *opt);
void rn_log_cleaner_free(rn_log_cleaner_t *c);

typedef struct rn_log_clean_stats {
    int64_t first_dirty, end_offset; /* the range mapped; end_offset is the new checkpoint */
    int64_t bytes_read, bytes_written;
    int64_t records_read, records_kept, batches_read;
    int64_t tombstones_dropped, aborted_dropped, markers_dropped;
    int64_t map_entries;
    int segments_before, segments_after;
} rn_log_clean_stats_t;

/* Runs one cleaning round over `what` (from rn_log_cleanable) at `now_ms`. One round per log at
 * a time (the caller's rule). Returns 0 with *stats filled (the caller checkpoints
 * stats->end_offset), -ECANCELED when aborted, or a negative errno (nothing of the failed group
 * is swapped in; groups before it stay cleaned). */
int rn_log_clean(rn_log_t *log, rn_log_cleaner_t *c, const rn_log_cleanable_t *what, int64_t now_ms,
                 rn_log_clean_stats_t *stats);

#endif
