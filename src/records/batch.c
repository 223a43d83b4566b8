/* SPDX-License-Identifier: Apache-2.0 */
/* Record batch v2 headers (KIP-98): parsing, the CRC check, and the in-place rewrites the
 * broker makes on append. The CRC covers bytes 21..end (attributes onwards), so base_offset
 * and partition_leader_epoch can be rewritten without touching it (CLIENTS.md rule 8); only
 * LogAppendTime, which changes attributes and max_timestamp, recomputes it. */
#include "records/records.h"

#include "records/internal.h"

_Static_assert(RN_BATCH_HEADER_LEN == 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4,
               "batch v2 header is 61 bytes");

/* batch_length counts the bytes after itself: the 49 header bytes from the leader epoch on. */
#define MIN_BATCH_LENGTH (RN_BATCH_HEADER_LEN - RN_BATCH_LOG_OVERHEAD)

#define POS_BATCH_LENGTH 8
#define POS_LEADER_EPOCH 12
#define POS_MAGIC 16
#define POS_CRC 17
#define POS_ATTRIBUTES 21
#define POS_LAST_OFFSET_DELTA 23
#define POS_MAX_TIMESTAMP 35

/* Reports INVALID as soon as the bytes present prove it (batch_length with 12 bytes, magic with
 * 17), so log recovery can tell a torn tail from garbage; PARTIAL otherwise until all 61. */
rn_decode_t rn_batch_parse_header(const uint8_t *p, size_t len, rn_batch_header_t *out)
{
    if (len < RN_BATCH_LOG_OVERHEAD)
        return RN_DECODE_PARTIAL;
    if ((int32_t)rn_load_be32(p + POS_BATCH_LENGTH) < MIN_BATCH_LENGTH)
        return RN_DECODE_INVALID;
    if (len <= POS_MAGIC)
        return RN_DECODE_PARTIAL;
    if (p[POS_MAGIC] != 2)
        return RN_DECODE_INVALID;
    if (len < RN_BATCH_HEADER_LEN)
        return RN_DECODE_PARTIAL;

    rn_reader_t r;
    rn_reader_init(&r, p, RN_BATCH_HEADER_LEN);
    out->base_offset = rn_read_int64(&r, "base_offset");
    out->batch_length = rn_read_int32(&r, "batch_length");
    out->partition_leader_epoch = rn_read_int32(&r, "partition_leader_epoch");
    out->magic = rn_read_int8(&r, "magic");
    out->crc = rn_read_uint32(&r, "crc");
    out->attributes = rn_read_int16(&r, "attributes");
    out->last_offset_delta = rn_read_int32(&r, "last_offset_delta");
    out->base_timestamp = rn_read_int64(&r, "base_timestamp");
    out->max_timestamp = rn_read_int64(&r, "max_timestamp");
    out->producer_id = rn_read_int64(&r, "producer_id");
    out->producer_epoch = rn_read_int16(&r, "producer_epoch");
    out->base_sequence = rn_read_int32(&r, "base_sequence");
    out->records_count = rn_read_int32(&r, "records_count");
    return RN_DECODE_OK; /* the reader cannot fail: exactly 61 bytes were checked above */
}

bool rn_batch_crc_ok(const uint8_t *batch, size_t len)
{
    if (len < RN_BATCH_HEADER_LEN)
        return false;
    return rn_load_be32(batch + POS_CRC) ==
           rn_crc32c(0, batch + RN_BATCH_CRC_START, len - RN_BATCH_CRC_START);
}

/* The walks below trust a blob that rn_records_validate() accepted; the length checks only
 * keep a misuse from running past `len`, they are not validation. */
static size_t next_batch_size(const uint8_t *p, size_t left)
{
    if (left < RN_BATCH_HEADER_LEN)
        return 0;
    int32_t batch_length = (int32_t)rn_load_be32(p + POS_BATCH_LENGTH);
    if (batch_length < MIN_BATCH_LENGTH || (size_t)batch_length + RN_BATCH_LOG_OVERHEAD > left)
        return 0;
    return (size_t)batch_length + RN_BATCH_LOG_OVERHEAD;
}

int64_t rn_records_assign_offsets(uint8_t *p, size_t len, int64_t first_offset,
                                  int32_t leader_epoch)
{
    int64_t offset = first_offset;
    size_t size;
    for (size_t pos = 0; (size = next_batch_size(p + pos, len - pos)) != 0; pos += size) {
        uint8_t *batch = p + pos;
        rn_store_be64(batch, (uint64_t)offset);
        rn_store_be32(batch + POS_LEADER_EPOCH, (uint32_t)leader_epoch);
        offset += (int64_t)(int32_t)rn_load_be32(batch + POS_LAST_OFFSET_DELTA) + 1;
    }
    return offset;
}

void rn_records_set_log_append_time(uint8_t *p, size_t len, int64_t now_ms)
{
    size_t size;
    for (size_t pos = 0; (size = next_batch_size(p + pos, len - pos)) != 0; pos += size) {
        uint8_t *batch = p + pos;
        uint16_t attributes = (uint16_t)(batch[POS_ATTRIBUTES] << 8 | batch[POS_ATTRIBUTES + 1]);
        rn_store_be16(batch + POS_ATTRIBUTES, attributes | RN_BATCH_ATTR_LOG_APPEND_TIME);
        rn_store_be64(batch + POS_MAX_TIMESTAMP, (uint64_t)now_ms);
        rn_store_be32(batch + POS_CRC,
                      rn_crc32c(0, batch + RN_BATCH_CRC_START, size - RN_BATCH_CRC_START));
    }
}
