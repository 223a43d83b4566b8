/* SPDX-License-Identifier: Apache-2.0 */
/* Building a record batch v2 of uncompressed records, for what the broker writes itself (the
 * coordinator's __consumer_offsets records). Records are encoded one after another behind room
 * for the 61-byte header, which finish fills in last, CRC-32C included, because the header's
 * counts and timestamps are known only then. The producer fields say "not idempotent" (-1) and
 * the base offset is 0: the log assigns offsets on append. */
#include "records/records.h"

#include <stdlib.h>
#include <string.h>

#include "proto/reader.h"
#include "records/internal.h"
#include "util/endian.h"
#include "util/err.h"

#define FIRST_CAP 256

/* Bytes a record's fields may take, so that their sum never overflows a size_t on 64 bits and
 * every length fits the varint32 the format gives it. */
#define MAX_FIELD_LEN ((size_t)INT32_MAX)

static int reserve(rn_batch_builder_t *b, size_t more)
{
    if (more > SIZE_MAX - b->len)
        return RN_EINVAL;
    size_t want = b->len + more;
    if (want <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : FIRST_CAP;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    uint8_t *p = realloc(b->buf, cap);
    if (p == NULL)
        return RN_ENOMEM;
    b->buf = p;
    b->cap = cap;
    return 0;
}

void rn_batch_builder_init(rn_batch_builder_t *b)
{
    *b = (rn_batch_builder_t){
        .max_timestamp = -1,
        .producer_id = -1,
        .producer_epoch = -1,
        .base_sequence = -1,
    };
}

void rn_batch_builder_deinit(rn_batch_builder_t *b)
{
    free(b->buf);
    rn_batch_builder_init(b);
}

int rn_batch_builder_add(rn_batch_builder_t *b, int64_t timestamp, rn_bytes_t key, rn_bytes_t value)
{
    if (key.len > MAX_FIELD_LEN || value.len > MAX_FIELD_LEN || b->count == INT32_MAX)
        return RN_EINVAL;
    int rc;
    if (b->len == 0 && (rc = reserve(b, RN_BATCH_HEADER_LEN)) != 0)
        return rc;
    if (b->count == 0) {
        b->len = RN_BATCH_HEADER_LEN;
        b->base_timestamp = timestamp;
    }
    /* Deltas are relative to the first record's timestamp and may be negative; a difference
     * that does not fit an int64 cannot be encoded. */
    int64_t ts_delta;
    if (__builtin_sub_overflow(timestamp, b->base_timestamp, &ts_delta))
        return RN_EINVAL;
    size_t body = 1 /* attributes */ + rn_varlong_len(ts_delta) + rn_varlong_len(b->count) +
                  rn_field_len(key) + rn_field_len(value) + 1 /* headers count 0 */;
    if (body > MAX_FIELD_LEN)
        return RN_EINVAL;
    size_t total = rn_varlong_len((int64_t)body) + body;
    /* The batch_length field is an int32 counting the bytes after its own 12-byte prefix. */
    if (total > (size_t)INT32_MAX - (b->len - RN_BATCH_LOG_OVERHEAD))
        return RN_EINVAL;
    if ((rc = reserve(b, total)) != 0)
        return rc;
    uint8_t *p = b->buf + b->len;
    p = rn_put_varlong(p, (int64_t)body);
    *p++ = 0; /* record attributes: unused */
    p = rn_put_varlong(p, ts_delta);
    p = rn_put_varlong(p, b->count); /* offsetDelta */
    p = rn_put_field(p, key);
    p = rn_put_field(p, value);
    p = rn_put_varlong(p, 0); /* no headers */
    b->len = (size_t)(p - b->buf);
    if (b->count == 0 || timestamp > b->max_timestamp)
        b->max_timestamp = timestamp;
    b->count++;
    return 0;
}

int rn_batch_builder_finish(rn_batch_builder_t *b, uint8_t **out, size_t *out_len,
                            rn_records_summary_t *sum)
{
    if (b->count == 0)
        return RN_EINVAL;
    uint8_t *p = b->buf;
    rn_store_be64(p + 0, 0);                                          /* base_offset */
    rn_store_be32(p + 8, (uint32_t)(b->len - RN_BATCH_LOG_OVERHEAD)); /* batch_length */
    rn_store_be32(p + 12, (uint32_t)-1);                              /* partition_leader_epoch */
    p[16] = 2;                                                        /* magic */
    rn_store_be16(p + 21, (uint16_t)b->attributes);                   /* no codec, CreateTime */
    rn_store_be32(p + 23, (uint32_t)(b->count - 1));                  /* last_offset_delta */
    rn_store_be64(p + 27, (uint64_t)b->base_timestamp);
    rn_store_be64(p + 35, (uint64_t)b->max_timestamp);
    rn_store_be64(p + 43, (uint64_t)b->producer_id);
    rn_store_be16(p + 51, (uint16_t)b->producer_epoch);
    rn_store_be32(p + 53, (uint32_t)b->base_sequence);
    rn_store_be32(p + 57, (uint32_t)b->count); /* records_count */
    rn_store_be32(p + 17, rn_crc32c(0, p + RN_BATCH_CRC_START, b->len - RN_BATCH_CRC_START));
    if (sum != NULL) {
        /* As rn_records_validate() would summarize this blob: one batch, a max timestamp only
         * when above -1, carried by the batch's last offset. */
        *sum = (rn_records_summary_t){
            .nbatches = 1,
            .nrecords = b->count,
            .max_timestamp = b->max_timestamp > -1 ? b->max_timestamp : -1,
            .max_timestamp_delta = b->max_timestamp > -1 ? b->count - 1 : -1,
            .max_batch_size = b->len,
        };
    }
    *out = b->buf;
    *out_len = b->len;
    rn_batch_builder_init(b);
    return 0;
}

void rn_batch_builder_set_producer(rn_batch_builder_t *b, int64_t producer_id,
                                   int16_t producer_epoch, int32_t base_sequence,
                                   int16_t attributes)
{
    b->producer_id = producer_id;
    b->producer_epoch = producer_epoch;
    b->base_sequence = base_sequence;
    b->attributes = (int16_t)(attributes & (RN_BATCH_ATTR_TRANSACTIONAL | RN_BATCH_ATTR_CONTROL));
}

int rn_records_build_marker(int16_t type, int64_t producer_id, int16_t producer_epoch,
                            int32_t coordinator_epoch, int64_t timestamp, uint8_t **out,
                            size_t *out_len, rn_records_summary_t *sum)
{
    /* Kafka's EndTransactionMarker: key (version 0, type), value (version 0, epoch). */
    uint8_t key[4], value[6];
    rn_store_be16(key, 0);
    rn_store_be16(key + 2, (uint16_t)type);
    rn_store_be16(value, 0);
    rn_store_be32(value + 2, (uint32_t)coordinator_epoch);
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    rn_batch_builder_set_producer(&b, producer_id, producer_epoch, -1,
                                  RN_BATCH_ATTR_TRANSACTIONAL | RN_BATCH_ATTR_CONTROL);
    int rc = rn_batch_builder_add(&b, timestamp, (rn_bytes_t){ key, sizeof key },
                                  (rn_bytes_t){ value, sizeof value });
    if (rc == 0)
        rc = rn_batch_builder_finish(&b, out, out_len, sum);
    rn_batch_builder_deinit(&b);
    return rc;
}

int rn_records_marker_type(const uint8_t *batch, size_t len, int32_t *coordinator_epoch)
{
    if (coordinator_epoch != NULL)
        *coordinator_epoch = -1;
    rn_batch_header_t h;
    if (rn_batch_parse_header(batch, len, &h) != RN_DECODE_OK || rn_batch_size(&h) > len ||
        (h.attributes & RN_BATCH_ATTR_CONTROL) == 0 ||
        (h.attributes & RN_BATCH_ATTR_CODEC_MASK) != RN_CODEC_NONE || h.records_count < 1)
        return -1;
    /* The first record: length, attributes, timestamp delta, offset delta, then the key. */
    rn_reader_t r;
    rn_reader_init(&r, batch + RN_BATCH_HEADER_LEN, rn_batch_size(&h) - RN_BATCH_HEADER_LEN);
    (void)rn_read_varlong(&r, "record length");
    (void)rn_read_int8(&r, "record attributes");
    (void)rn_read_varlong(&r, "timestamp delta");
    (void)rn_read_varlong(&r, "offset delta");
    int64_t key_len = rn_read_varlong(&r, "key length");
    int16_t version = rn_read_int16(&r, "marker version");
    int16_t type = rn_read_int16(&r, "marker type");
    if (!rn_reader_ok(&r) || key_len < 4 || version < 0 ||
        (type != RN_MARKER_ABORT && type != RN_MARKER_COMMIT))
        return -1;
    /* The rest of the key (a newer version may add fields), then the value: version, epoch. */
    rn_reader_skip(&r, (size_t)key_len - 4, "marker key");
    int64_t value_len = rn_read_varlong(&r, "value length");
    (void)rn_read_int16(&r, "value version");
    int32_t epoch = rn_read_int32(&r, "coordinator epoch");
    if (coordinator_epoch != NULL && rn_reader_ok(&r) && value_len >= 6)
        *coordinator_epoch = epoch;
    return type;
}
