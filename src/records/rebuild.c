/* SPDX-License-Identifier: Apache-2.0 */
/* Rewriting a stored batch for the cleaner, as Kafka 4.4's MemoryRecords.filterTo does: the
 * records it keeps go into a new batch with the original's identity (base offset, last offset,
 * producer state, bits, codec), so that offsets, the producer's last sequence and the
 * transaction a batch belongs to read the same after cleaning; and a producer's last batch
 * whose records all went stays behind as a bare header. What Kafka writes was checked against
 * the 4.4 jars: MemoryRecordsBuilder takes the delete horizon as the base timestamp when there
 * is one (else the first record's timestamp), a LogAppendTime batch keeps its max timestamp,
 * and writeEmptyHeader writes base timestamp -1 (NO_TIMESTAMP) and no horizon bit. */
#include "records/records.h"

#include <stdlib.h>
#include <string.h>

#include "records/internal.h"
#include "util/endian.h"
#include "util/err.h"

#define MAX_BATCH_LENGTH ((size_t)INT32_MAX) /* batch_length is an int32 */
/* The most bytes behind the header: batch_length also counts the header's last 49. */
#define MAX_PAYLOAD_LEN (MAX_BATCH_LENGTH - (RN_BATCH_HEADER_LEN - RN_BATCH_LOG_OVERHEAD))

/* The attribute bits a rewritten batch carries over from the original. */
#define KEPT_BITS \
    (RN_BATCH_ATTR_LOG_APPEND_TIME | RN_BATCH_ATTR_TRANSACTIONAL | RN_BATCH_ATTR_CONTROL)

/* Everything but base_offset, batch_length's use and the CRC comes in `h`; `payload_len` is
 * the bytes after the header. The CRC is computed over the header and `payload`, which need
 * not follow the header in memory. */
static void write_header(uint8_t *p, const rn_batch_header_t *h, const uint8_t *payload,
                         size_t payload_len)
{
    rn_store_be64(p + 0, (uint64_t)h->base_offset);
    rn_store_be32(p + 8, (uint32_t)(RN_BATCH_HEADER_LEN - RN_BATCH_LOG_OVERHEAD + payload_len));
    rn_store_be32(p + 12, (uint32_t)h->partition_leader_epoch);
    p[16] = 2; /* magic */
    rn_store_be16(p + 21, (uint16_t)h->attributes);
    rn_store_be32(p + 23, (uint32_t)h->last_offset_delta);
    rn_store_be64(p + 27, (uint64_t)h->base_timestamp);
    rn_store_be64(p + 35, (uint64_t)h->max_timestamp);
    rn_store_be64(p + 43, (uint64_t)h->producer_id);
    rn_store_be16(p + 51, (uint16_t)h->producer_epoch);
    rn_store_be32(p + 53, (uint32_t)h->base_sequence);
    rn_store_be32(p + 57, (uint32_t)h->records_count);
    uint32_t crc = rn_crc32c(0, p + RN_BATCH_CRC_START, RN_BATCH_HEADER_LEN - RN_BATCH_CRC_START);
    rn_store_be32(p + 17, rn_crc32c(crc, payload, payload_len));
}

void rn_records_empty_batch(const rn_batch_header_t *h, uint8_t out[RN_BATCH_HEADER_LEN])
{
    rn_batch_header_t e = *h;
    e.attributes = (int16_t)(h->attributes & KEPT_BITS); /* codec none, no horizon */
    e.base_timestamp = -1;                               /* NO_TIMESTAMP, as Kafka writes it */
    e.records_count = 0;
    write_header(out, &e, NULL, 0);
}

/* One record's fields after its length varint, or 0 when they do not fit the format. */
static size_t record_body_len(const rn_record_t *rec, int32_t offset_delta, int64_t ts_delta)
{
    if (rec->key.len > MAX_BATCH_LENGTH || rec->value.len > MAX_BATCH_LENGTH ||
        rec->headers.len > MAX_BATCH_LENGTH || rec->nheaders < 0)
        return 0;
    /* Each term is at most 2^31 + 10 bytes, so the sum cannot wrap a 64-bit size_t. */
    size_t body = 1 /* attributes */ + rn_varlong_len(ts_delta) + rn_varlong_len(offset_delta) +
                  rn_field_len(rec->key) + rn_field_len(rec->value) +
                  rn_varlong_len(rec->nheaders) + rec->headers.len;
    return body > MAX_BATCH_LENGTH ? 0 : body;
}

/* The deltas of keep[i], checked: offsets increasing inside the original batch, the timestamp
 * difference representable. */
static int deltas(const rn_batch_header_t *h, const rn_record_t *keep, size_t i,
                  int64_t base_timestamp, int32_t *offset_delta, int64_t *ts_delta)
{
    int64_t od;
    if (__builtin_sub_overflow(keep[i].offset, h->base_offset, &od) || od < 0 ||
        od > h->last_offset_delta || (i > 0 && keep[i].offset <= keep[i - 1].offset))
        return RN_EINVAL;
    if (__builtin_sub_overflow(keep[i].timestamp, base_timestamp, ts_delta))
        return RN_EINVAL;
    *offset_delta = (int32_t)od;
    return 0;
}

int rn_records_rebuild_batch(const rn_batch_header_t *h, const rn_record_t *keep, size_t nkeep,
                             int64_t delete_horizon_ms, uint8_t **out, size_t *out_len)
{
    int codec = h->attributes & RN_BATCH_ATTR_CODEC_MASK;
    if (nkeep == 0 || nkeep > INT32_MAX || codec > RN_CODEC_ZSTD || h->last_offset_delta < 0)
        return RN_EINVAL;

    rn_batch_header_t nh = *h;
    nh.attributes = (int16_t)(h->attributes & (KEPT_BITS | RN_BATCH_ATTR_CODEC_MASK));
    if (delete_horizon_ms >= 0) {
        nh.base_timestamp = delete_horizon_ms;
        nh.attributes |= RN_BATCH_ATTR_DELETE_HORIZON;
    } else if (rn_batch_delete_horizon(h) >= 0) {
        nh.attributes |= RN_BATCH_ATTR_DELETE_HORIZON; /* base_timestamp already is it */
    } else {
        nh.base_timestamp = keep[0].timestamp;
    }
    nh.records_count = (int32_t)nkeep;
    bool log_append_time = (h->attributes & RN_BATCH_ATTR_LOG_APPEND_TIME) != 0;
    if (!log_append_time)
        nh.max_timestamp = -1; /* the largest kept timestamp above -1, found below */

    /* First pass: sizes and checks, so the one buffer is allocated once. */
    size_t records_len = 0;
    for (size_t i = 0; i < nkeep; i++) {
        int32_t od = 0;
        int64_t td = 0;
        if (deltas(h, keep, i, nh.base_timestamp, &od, &td) != 0)
            return RN_EINVAL;
        size_t body = record_body_len(&keep[i], od, td);
        if (body == 0)
            return RN_EINVAL;
        records_len += rn_varlong_len((int64_t)body) + body;
        if (records_len > MAX_PAYLOAD_LEN)
            return RN_EINVAL;
        if (!log_append_time && keep[i].timestamp > nh.max_timestamp)
            nh.max_timestamp = keep[i].timestamp;
    }

    /* Uncompressed records go straight behind the header; compressed ones are encoded into a
     * scratch buffer first. */
    size_t room = codec == RN_CODEC_NONE ? RN_BATCH_HEADER_LEN + records_len : records_len;
    uint8_t *buf = malloc(room);
    if (buf == NULL)
        return RN_ENOMEM;
    uint8_t *p = codec == RN_CODEC_NONE ? buf + RN_BATCH_HEADER_LEN : buf;
    for (size_t i = 0; i < nkeep; i++) {
        int32_t od = 0;
        int64_t td = 0;
        (void)deltas(h, keep, i, nh.base_timestamp, &od, &td); /* checked above */
        const rn_record_t *rec = &keep[i];
        p = rn_put_varlong(p, (int64_t)record_body_len(rec, od, td));
        *p++ = 0; /* record attributes: unused, Kafka writes 0 */
        p = rn_put_varlong(p, td);
        p = rn_put_varlong(p, od);
        p = rn_put_field(p, rec->key);
        p = rn_put_field(p, rec->value);
        p = rn_put_varlong(p, rec->nheaders);
        if (rec->headers.len > 0) {
            memcpy(p, rec->headers.ptr, rec->headers.len);
            p += rec->headers.len;
        }
    }

    if (codec == RN_CODEC_NONE) {
        write_header(buf, &nh, buf + RN_BATCH_HEADER_LEN, records_len);
        *out = buf;
        *out_len = RN_BATCH_HEADER_LEN + records_len;
        return 0;
    }
    uint8_t *z;
    size_t z_len;
    int rc = rn_codec_compress(codec, buf, records_len, &z, &z_len);
    free(buf);
    if (rc != 0)
        return rc;
    if (z_len > MAX_PAYLOAD_LEN) {
        free(z);
        return RN_EINVAL;
    }
    uint8_t *batch = malloc(RN_BATCH_HEADER_LEN + z_len);
    if (batch == NULL) {
        free(z);
        return RN_ENOMEM;
    }
    memcpy(batch + RN_BATCH_HEADER_LEN, z, z_len);
    free(z);
    write_header(batch, &nh, batch + RN_BATCH_HEADER_LEN, z_len);
    *out = batch;
    *out_len = RN_BATCH_HEADER_LEN + z_len;
    return 0;
}
