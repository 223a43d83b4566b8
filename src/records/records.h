/* SPDX-License-Identifier: Apache-2.0 */
/* The records room: Kafka record batches (magic 2, KIP-98), their CRC-32C, validation of what
 * producers send, offsets assigned in place, and the compression codecs (gzip, snappy raw and
 * xerial-framed, lz4 frame, zstd) used to validate compressed batches. Batches are stored as
 * received; only the cleaner rewrites one (rebuild.c), recompressing it with its codec.
 *
 * Batch v2 layout (big-endian), byte positions from the start of the batch:
 *    0 base_offset int64        8 batch_length int32 (bytes after this field)
 *   12 partition_leader_epoch int32   16 magic int8 (2)   17 crc uint32 (CRC-32C of 21..end)
 *   21 attributes int16       23 last_offset_delta int32   27 base_timestamp int64
 *   35 max_timestamp int64    43 producer_id int64   51 producer_epoch int16
 *   53 base_sequence int32    57 records_count int32   61 records...
 * Attributes: bits 0-2 codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd), bit 3 timestamp type
 * (1 = LogAppendTime), bit 4 transactional, bit 5 control, bit 6 delete horizon (KIP-534: the
 * cleaner set base_timestamp to the time after which its tombstones and markers may go). */
#ifndef RN_RECORDS_RECORDS_H
#define RN_RECORDS_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h" /* rn_kerr_t */
#include "proto/reader.h" /* rn_decode_t */

#define RN_BATCH_HEADER_LEN 61
#define RN_BATCH_LOG_OVERHEAD 12 /* base_offset + batch_length */
#define RN_BATCH_CRC_START 21

enum {
    RN_CODEC_NONE = 0,
    RN_CODEC_GZIP = 1,
    RN_CODEC_SNAPPY = 2,
    RN_CODEC_LZ4 = 3,
    RN_CODEC_ZSTD = 4,
};

#define RN_BATCH_ATTR_CODEC_MASK 0x07
#define RN_BATCH_ATTR_LOG_APPEND_TIME 0x08
#define RN_BATCH_ATTR_TRANSACTIONAL 0x10
#define RN_BATCH_ATTR_CONTROL 0x20
#define RN_BATCH_ATTR_DELETE_HORIZON 0x40

typedef struct rn_batch_header {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
} rn_batch_header_t;

/* Bytes of the whole batch: batch_length + 12. */
static inline size_t rn_batch_size(const rn_batch_header_t *h)
{
    return (size_t)h->batch_length + RN_BATCH_LOG_OVERHEAD;
}

/* KIP-534: the batch's delete horizon (ms) when the cleaner set one (bit 6: base_timestamp is
 * the horizon; record timestamps are still base_timestamp + timestampDelta), else -1. */
static inline int64_t rn_batch_delete_horizon(const rn_batch_header_t *h)
{
    return (h->attributes & RN_BATCH_ATTR_DELETE_HORIZON) != 0 ? h->base_timestamp : -1;
}

/* Reads the header of the batch starting at `p` with `len` bytes available. INVALID as soon as
 * the bytes present prove it: batch_length below the header's size (49) once 12 bytes are
 * there, magic other than 2 once 17 are; otherwise PARTIAL until all 61 header bytes are there.
 * `*out` is filled only on OK. Does not check the CRC or that the whole batch is present:
 * compare rn_batch_size() with `len` for that. Pure function, any thread. */
rn_decode_t rn_batch_parse_header(const uint8_t *p, size_t len, rn_batch_header_t *out);

/* CRC-32C (Castagnoli), continuing from `crc` (start with 0): rn_crc32c(rn_crc32c(0, a), b)
 * is the CRC of a followed by b. Uses the SSE4.2 instruction when the CPU has it, a table
 * otherwise; both agree with the standard check value (crc32c("123456789") == 0xe3069283).
 * Any thread. */
uint32_t rn_crc32c(uint32_t crc, const void *data, size_t len);

/* True when the batch's stored CRC matches its bytes 21..end. `len` must be rn_batch_size()
 * (already checked to be available); false when it is below the 61-byte header. */
bool rn_batch_crc_ok(const uint8_t *batch, size_t len);

/* How Kafka cuts one Produce partition's `records` into batches before it looks inside any of
 * them (its batch iterator over a request's bytes, which Kafka 4.4 was asked about with the
 * same bytes). From the start: fewer than 12 bytes left is not a batch; then a batch_length
 * below 14 (the smallest message of any magic) is a corrupt header; fewer than 17 bytes left
 * is not a batch; a magic outside 0..2 is a corrupt header; fewer bytes left than the batch
 * claims is not a batch. Whatever is left after the last whole batch is a fragment that Kafka
 * ignores, and never writes. Any magic counts here: telling magic 2 apart is the caller's.
 * Pure function, any thread. */
typedef enum rn_frame_error {
    RN_FRAME_OK = 0,
    RN_FRAME_SHORT_SIZE, /* batch_length below 14 */
    RN_FRAME_BAD_MAGIC,  /* magic outside 0..2 */
} rn_frame_error_t;

typedef struct rn_records_framing {
    size_t nbatches;           /* whole batches before the first fragment or corrupt header */
    size_t len;                /* bytes those batches span */
    int8_t first_magic;        /* the first whole batch's magic; -1 when there is none */
    int16_t first_attributes;  /* its attributes when its magic is 2, else 0 */
    int64_t first_producer_id; /* its producer id when its magic is 2, else -1 */
    rn_frame_error_t error;    /* a corrupt header after the `nbatches` whole ones */
    int32_t error_value;       /* the batch_length or magic that made it corrupt */
} rn_records_framing_t;

rn_records_framing_t rn_records_frame(const uint8_t *p, size_t len);

/* Kafka's words for a corrupt header (its CorruptRecordException messages), into `buf`; "" for
 * RN_FRAME_OK. Returns `buf`. */
const char *rn_records_frame_message(const rn_records_framing_t *f, char *buf, size_t cap);

/* Validation of one Produce request's `records` blob before anything is written. Every batch
 * must be magic 2, whole, CRC-valid, with a known codec, records_count >= 1 and
 * last_offset_delta == records_count - 1, and its records must parse: each record is walked
 * (varints bounded, every length inside its record, each record's length matching its fields,
 * offsetDelta equal to its position, the records using up the batch exactly). Compressed
 * batches are first decompressed into a per-thread scratch buffer of at most
 * `max_uncompressed` bytes (a bomb beyond that is rejected without decoding past the bound).
 * Control batches and transactional bits are accepted. The blob must hold at least one batch
 * and nothing after the last one. Per-record timestamps, keys on compacted topics, the
 * one-batch-per-partition rule of Produce v3+ and zstd's Produce v7 minimum are the caller's.
 * Returns RN_KERR_NONE and fills `*out`, or the Kafka error code to answer (`*out` untouched),
 * as Kafka 4.4 answers the same bytes:
 *   CORRUPT_MESSAGE: bad CRC, a batch_length below the v2 header, a magic other than 2 inside
 *     the blob, compressed data not valid for its codec;
 *   MESSAGE_TOO_LARGE: a bomb, records inflating past `max_uncompressed` (Kafka, which never
 *     holds a whole batch inflated, accepts them; CORRUPT_MESSAGE would be retried);
 *   INVALID_RECORD: an empty blob or no whole batch, a records_count that disagrees with
 *     last_offset_delta or with the records, a record that does not parse, and a record whose
 *     offsetDelta is not its position (which Kafka would store; we refuse it);
 *   UNSUPPORTED_FOR_MESSAGE_FORMAT: a magic 0/1 message set;
 *   UNSUPPORTED_COMPRESSION_TYPE: codec bits 5-7;
 *   UNKNOWN_SERVER_ERROR: no memory for the decompression buffer.
 * `why` (may be NULL) gets static text saying what, NULL on success. Any thread; the scratch
 * buffer is per thread and freed at thread exit. */
typedef struct rn_records_summary {
    int32_t nbatches;
    int64_t nrecords;            /* sum of records_count (== last_offset_delta + 1) */
    int64_t max_timestamp;       /* largest batch max_timestamp, -1 if none is above -1 */
    int64_t max_timestamp_delta; /* offset of that batch's last record, relative to the first
                                    record of the blob (sum of earlier batches' counts);
                                    -1 while max_timestamp is -1 */
    size_t max_batch_size;       /* largest rn_batch_size(), for message.max.bytes
                                    (MESSAGE_TOO_LARGE compares the whole batch, as Kafka) */
    int64_t timestamp_errors;    /* records out of bounds (rn_records_validate_at), else 0 */
    int64_t keyless;             /* records with a null key (a compacted topic refuses them) */
} rn_records_summary_t;
rn_kerr_t rn_records_validate(const uint8_t *p, size_t len, size_t max_uncompressed,
                              rn_records_summary_t *out, const char **why);

/* KIP-937: how far a record's timestamp may stray from the broker's clock on a CreateTime topic
 * (message.timestamp.before.max.ms and message.timestamp.after.max.ms, both >= 0). A record
 * whose timestamp is -1 (none) is never refused. */
typedef struct rn_timestamp_bounds {
    int64_t now_ms;        /* the broker's clock, read once for the whole request */
    int64_t before_max_ms; /* refused: now_ms - timestamp > before_max_ms */
    int64_t after_max_ms;  /* refused: timestamp - now_ms > after_max_ms */
} rn_timestamp_bounds_t;

/* True when `timestamp` is acceptable. The differences are exact: nothing overflows. */
static inline bool rn_timestamp_in_bounds(const rn_timestamp_bounds_t *b, int64_t timestamp)
{
    if (timestamp == -1)
        return true;
    if (timestamp < b->now_ms)
        return (uint64_t)b->now_ms - (uint64_t)timestamp <= (uint64_t)b->before_max_ms;
    return (uint64_t)timestamp - (uint64_t)b->now_ms <= (uint64_t)b->after_max_ms;
}

/* rn_records_validate, and with `bounds` (NULL: no limit, as for a LogAppendTime topic) every
 * record's timestamp (base_timestamp + timestampDelta) held against them, as Kafka's
 * LogValidator does for CreateTime topics. A blob that is otherwise valid but holds records out
 * of bounds gets RN_KERR_INVALID_TIMESTAMP, with `*out` filled and out->timestamp_errors
 * counting those records; list them with rn_records_timestamp_errors for Produce's
 * record_errors (v8+), whose error_message is then RN_RECORDS_INVALID_TIMESTAMP_MESSAGE. Other
 * errors take precedence and leave `*out` untouched, as in rn_records_validate. */
rn_kerr_t rn_records_validate_at(const uint8_t *p, size_t len, size_t max_uncompressed,
                                 const rn_timestamp_bounds_t *bounds, rn_records_summary_t *out,
                                 const char **why);

/* Kafka's partition error_message when records were refused for their timestamps. */
#define RN_RECORDS_INVALID_TIMESTAMP_MESSAGE \
    "One or more records have been rejected due to invalid timestamp"

/* One record whose timestamp is out of bounds. */
typedef struct rn_timestamp_error {
    int32_t batch_index; /* the record's position in its batch, from 0 (Produce's batch_index) */
    int64_t timestamp;
    int64_t offset; /* as the producer's batch gives it: base_offset + offsetDelta */
} rn_timestamp_error_t;

/* The records of a blob that rn_records_validate_at refused with INVALID_TIMESTAMP, in order:
 * writes at most `cap` of them to `out` and returns how many it wrote. Walks the blob again
 * (inflating compressed batches into the same per-thread buffer), which only refused requests
 * pay for. Any thread. */
size_t rn_records_timestamp_errors(const uint8_t *p, size_t len, size_t max_uncompressed,
                                   const rn_timestamp_bounds_t *bounds, rn_timestamp_error_t *out,
                                   size_t cap);

/* Kafka's batch_index_error_message for `e`: "Timestamp T of message with offset O is out of
 * range. The timestamp should be within [L, H]", with L = now - before and H = now + after
 * computed as Java computes them: wrapping, so that an after limit of 9223372036854775807 prints
 * a negative H, as Kafka 4.4 prints it. Returns what snprintf returns. */
int rn_timestamp_error_format(const rn_timestamp_error_t *e, const rn_timestamp_bounds_t *bounds,
                              char *buf, size_t cap);

/* Offsets in place (CLIENTS.md rule 8: base offset and leader epoch are outside the CRC).
 * Walks every batch of the blob `p`/`len`, which rn_records_validate() accepted, setting base
 * offsets consecutively from `first_offset` and the leader epoch to `leader_epoch`; CRCs stay
 * valid. Returns the offset after the last record. */
int64_t rn_records_assign_offsets(uint8_t *p, size_t len, int64_t first_offset,
                                  int32_t leader_epoch);

/* message.timestamp.type=LogAppendTime: sets the timestamp-type bit and max_timestamp to
 * `now_ms` in every batch of the validated blob and recomputes each CRC. base_timestamp and
 * the records are left alone: readers of a LogAppendTime batch use max_timestamp for all. */
void rn_records_set_log_append_time(uint8_t *p, size_t len, int64_t now_ms);

/* Decompresses `in` with `codec` into `out` (capacity `cap`). Returns 0 and sets *out_len, or
 * -1 when the data is not valid for the codec (empty input included) or would exceed `cap`:
 * decoding stops at the bound, and nothing is allocated from sizes the data declares. Snappy
 * accepts raw blocks and the xerial framing Java clients use; gzip accepts concatenated
 * members; lz4 and zstd reject bytes after the last frame. RN_CODEC_NONE copies. Any thread. */
int rn_codec_decompress(int codec, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
                        size_t *out_len);

/* Compresses `in` with `codec` as Kafka 4.4's broker does when it rewrites a batch with the
 * codec's default level: gzip (RFC 1952 member, zlib level 6, OS byte 255 as Java 16+ writes),
 * snappy in the xerial framing of Java's SnappyOutputStream (16-byte header, version 1,
 * compatible 1, then [int32 length][raw block] per 32 KiB of input), lz4 as one frame with
 * Kafka's options (64 KiB independent blocks, no block or content checksum, no content size;
 * LZ4HC level 9), zstd level 3 (one frame without checksum or content size, as zstd-jni
 * streams it). RN_CODEC_NONE copies. Empty input gives a valid empty stream (snappy: the header
 * alone). With the same library versions the bytes are Kafka's (checked for gzip and snappy). *out
 * is malloc'd (free() it; never NULL on success). Returns 0, RN_ENOMEM, or RN_EINVAL for an unknown
 * codec or more than INT32_MAX bytes. Any thread. */
int rn_codec_compress(int codec, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len);

/* ---- Building a batch (build.c) ----
 * One v2 batch of uncompressed records with keys and values, for what the broker writes itself
 * (__consumer_offsets). Base offset 0 and leader epoch -1 (the log assigns both), CreateTime,
 * producer id/epoch/sequence -1, no record headers; record i has offsetDelta i and timestamps
 * are relative to the first record's. The buffer grows with malloc: sizes may come from a
 * client, so running out of memory is an error, not an abort. Not thread-safe: one builder per
 * caller. */
typedef struct rn_batch_builder {
    uint8_t *buf; /* header room + the records so far; owned by the builder */
    size_t len, cap;
    int32_t count;
    int64_t base_timestamp; /* the first record's */
    int64_t max_timestamp;
    /* The producer fields finish writes: -1 (none) after init; rn_batch_builder_set_producer
     * changes them. */
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int16_t attributes; /* RN_BATCH_ATTR_TRANSACTIONAL and RN_BATCH_ATTR_CONTROL only */
} rn_batch_builder_t;

void rn_batch_builder_init(rn_batch_builder_t *b);
/* Frees the buffer (if finish did not hand it out) and empties the builder. */
void rn_batch_builder_deinit(rn_batch_builder_t *b);
/* Appends a record; a NULL `ptr` in key or value is null (a null value is a tombstone). Returns
 * 0, RN_ENOMEM, or RN_EINVAL when the batch would exceed INT32_MAX bytes or a timestamp delta
 * does not fit; the builder is unchanged on failure. */
int rn_batch_builder_add(rn_batch_builder_t *b, int64_t timestamp, rn_bytes_t key,
                         rn_bytes_t value);
/* Makes the batch a producer's: its id, epoch and first sequence (-1: none, as the broker's
 * own transactional writes carry), and `attributes` (RN_BATCH_ATTR_TRANSACTIONAL, with
 * RN_BATCH_ATTR_CONTROL for a marker). Any time before finish. */
void rn_batch_builder_set_producer(rn_batch_builder_t *b, int64_t producer_id,
                                   int16_t producer_epoch, int32_t base_sequence,
                                   int16_t attributes);

/* A transaction marker (KIP-98's control batch): one record whose key is version 0 and type
 * (0 abort, 1 commit) and whose value is version 0 and the coordinator epoch, in a batch that
 * is transactional and control, with the producer's id and epoch and no sequence. Hands it out
 * as rn_batch_builder_finish does (*out to free()). Returns 0 or RN_ENOMEM. */
#define RN_MARKER_ABORT 0
#define RN_MARKER_COMMIT 1
int rn_records_build_marker(int16_t type, int64_t producer_id, int16_t producer_epoch,
                            int32_t coordinator_epoch, int64_t timestamp, uint8_t **out,
                            size_t *out_len, rn_records_summary_t *sum);
/* The type of the marker in a control batch's first record key (RN_MARKER_*), or -1 when the
 * bytes `batch`/`len` (a whole batch) are not a control batch with a readable marker key. Sets
 * *coordinator_epoch (may be NULL) from the value, -1 when it has none. */
int rn_records_marker_type(const uint8_t *batch, size_t len, int32_t *coordinator_epoch);

/* Writes the header and CRC-32C and hands the batch out: *out (free() it) and *out_len, plus the
 * summary rn_records_validate() would give (`sum` may be NULL), ready for rn_log_append. The
 * builder is empty afterwards. RN_EINVAL when no record was added (nothing handed out). */
int rn_batch_builder_finish(rn_batch_builder_t *b, uint8_t **out, size_t *out_len,
                            rn_records_summary_t *sum);

/* ---- Walking a batch's records (iter.c) ----
 * For batches read back from a log. Checks the header, that the batch is whole, its CRC and
 * codec, then each record inside its declared length (varints bounded, key, value and headers
 * inside the record, nothing left over, offsetDelta within last_offset_delta). Offset deltas
 * may have gaps and records_count may be below last_offset_delta + 1, as after compaction.
 * Compressed batches are inflated (at most `max_uncompressed` bytes) into a buffer the iterator
 * owns and reuses from batch to batch. Not thread-safe: one iterator per caller. */
typedef struct rn_record {
    int64_t offset;    /* base_offset + offsetDelta */
    int64_t timestamp; /* base_timestamp + timestampDelta; max_timestamp for LogAppendTime */
    rn_bytes_t key;    /* ptr NULL: null */
    rn_bytes_t value;  /* ptr NULL: null (a tombstone) */
    int32_t nheaders;
    rn_bytes_t headers; /* the nheaders encoded headers, already checked */
} rn_record_t;

typedef struct rn_record_iter {
    rn_batch_header_t header; /* the current batch's, valid after a successful start */
    rn_reader_t r;            /* the records not yet returned */
    int32_t index;            /* records returned from the current batch */
    int32_t left;
    uint8_t *scratch; /* inflated records; owned, reused */
    size_t scratch_cap;
    size_t max_uncompressed;
    const char *err; /* why the batch was refused; NULL while fine */
} rn_record_iter_t;

void rn_record_iter_init(rn_record_iter_t *it, size_t max_uncompressed);
/* Frees the scratch buffer. Records returned before are invalid afterwards. */
void rn_record_iter_deinit(rn_record_iter_t *it);
/* Starts on the batch at `batch` with `len` bytes available (at least rn_batch_size(); bytes
 * after the batch are ignored). Returns 0, RN_EPROTO (it->err says why) or RN_ENOMEM. Records
 * point into `batch` (uncompressed) or the scratch buffer: valid until the next start. */
int rn_record_iter_start(rn_record_iter_t *it, const uint8_t *batch, size_t len);
/* The next record: returns 1 and fills *out, 0 after the last one (once every byte of the batch
 * was used), or RN_EPROTO for a bad record (it->err says why; every later call fails too). */
int rn_record_iter_next(rn_record_iter_t *it, rn_record_t *out);

/* ---- Rewriting a stored batch for the cleaner (rebuild.c) ---- */
/* One v2 batch holding exactly `keep[0..nkeep)` (nkeep >= 1): records that rn_record_iter
 * returned from the stored batch whose header is `h`, in increasing offset order, as Kafka's
 * MemoryRecords.filterTo rebuilds a batch it retains part of (buildRetainedRecordsInto). Kept
 * from `h`: base_offset, partition_leader_epoch, producer id/epoch, base_sequence, the
 * transactional, control and timestamp-type bits, the codec (records recompressed with
 * rn_codec_compress), and last_offset_delta (Kafka overrides the builder's last offset with
 * the original's so the producer's last sequence survives). records_count = nkeep; record i
 * has offsetDelta keep[i].offset - base_offset, attributes 0, and its key, value and headers.
 * Timestamps: with `delete_horizon_ms` >= 0, base_timestamp is it and bit 6 is set; else when
 * `h` has bit 6, its base_timestamp and bit stay; else base_timestamp is the first kept
 * record's timestamp. timestampDelta = timestamp - base_timestamp (may be negative).
 * max_timestamp: the largest kept timestamp above -1 for CreateTime (else -1), h's for
 * LogAppendTime (rn_record_iter reports it as every record's timestamp, as Kafka's iterator
 * does, so the deltas come out as Kafka writes them). CRC-32C written. *out is malloc'd.
 * Returns 0, RN_ENOMEM, or RN_EINVAL: nkeep 0, a codec above 4, offsets not increasing or
 * outside base_offset..base_offset + last_offset_delta, a timestamp delta that does not fit an
 * int64, more than INT32_MAX bytes. Any thread. */
int rn_records_rebuild_batch(const rn_batch_header_t *h, const rn_record_t *keep, size_t nkeep,
                             int64_t delete_horizon_ms, uint8_t **out, size_t *out_len);

/* The header-only batch Kafka's cleaner keeps when every record of a producer's last batch is
 * gone (BatchRetention.RETAIN_EMPTY, DefaultRecordBatch.writeEmptyHeader), so the producer's
 * sequence and epoch survive: base_offset, last_offset_delta, partition_leader_epoch, producer
 * id/epoch/base_sequence, the transactional, control and timestamp-type bits from `h`; codec
 * none, no delete horizon bit, base_timestamp -1 (Kafka 4.4 writes NO_TIMESTAMP there),
 * max_timestamp = h->max_timestamp, records_count 0, batch_length 49, CRC-32C. */
void rn_records_empty_batch(const rn_batch_header_t *h, uint8_t out[RN_BATCH_HEADER_LEN]);

#endif
