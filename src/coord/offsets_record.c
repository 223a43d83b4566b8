/* SPDX-License-Identifier: Apache-2.0 */
/* OffsetCommitKey and OffsetCommitValue, the offset records of __consumer_offsets, in Kafka's
 * layouts (group-coordinator OffsetCommitKey.json / OffsetCommitValue.json; the versions are
 * described in offsets.h). We write key 1 and value 3 and read values 0-4. Pure functions: bytes
 * read here may come from a damaged file, so every length goes through a reader that knows
 * where the record ends. */
#include <string.h>

#include "coord/offsets.h"
#include "proto/reader.h"
#include "util/endian.h"
#include "util/err.h"

static uint8_t *put_str(uint8_t *p, rn_str_t s)
{
    p = rn_store_be16(p, (uint16_t)s.len);
    if (s.len > 0)
        memcpy(p, s.ptr, s.len);
    return p + s.len;
}

size_t rn_offsets_key_len(const rn_offsets_key_t *key)
{
    if (key->group.len > INT16_MAX || key->topic.len > INT16_MAX)
        return 0;
    return 2 + 2 + key->group.len + 2 + key->topic.len + 4;
}

void rn_offsets_key_encode(const rn_offsets_key_t *key, uint8_t *out)
{
    out = rn_store_be16(out, RN_OFFSETS_KEY_VERSION);
    out = put_str(out, key->group);
    out = put_str(out, key->topic);
    rn_store_be32(out, (uint32_t)key->partition);
}

size_t rn_offsets_value_len(const rn_offsets_value_t *value)
{
    if (value->metadata.len > INT16_MAX)
        return 0;
    return 2 + 8 + 4 + 2 + value->metadata.len + 8;
}

void rn_offsets_value_encode(const rn_offsets_value_t *value, uint8_t *out)
{
    out = rn_store_be16(out, RN_OFFSETS_VALUE_VERSION);
    out = rn_store_be64(out, (uint64_t)value->offset);
    out = rn_store_be32(out, (uint32_t)value->leader_epoch);
    out = put_str(out, value->metadata);
    rn_store_be64(out, (uint64_t)value->commit_timestamp);
}

int rn_offsets_key_decode(rn_bytes_t b, rn_offsets_key_t *out)
{
    rn_reader_t r;
    rn_reader_init(&r, b.ptr, b.len);
    int16_t version = rn_read_int16(&r, "key version");
    if (rn_reader_ok(&r) && version != 0 && version != 1)
        return RN_EPROTO;
    rn_offsets_key_t k;
    k.group = rn_read_string(&r, false, false, "group");
    k.topic = rn_read_string(&r, false, false, "topic");
    k.partition = rn_read_int32(&r, "partition");
    if (!rn_reader_ok(&r) || rn_reader_left(&r) != 0)
        return RN_EPROTO;
    *out = k;
    return 0;
}

int rn_offsets_value_decode(rn_bytes_t b, rn_offsets_value_t *out)
{
    rn_reader_t r;
    rn_reader_init(&r, b.ptr, b.len);
    int16_t version = rn_read_int16(&r, "value version");
    if (!rn_reader_ok(&r) || version < 0 || version > 4)
        return RN_EPROTO;
    rn_offsets_value_t v = { .leader_epoch = -1, .expire_timestamp = -1 };
    v.offset = rn_read_int64(&r, "offset");
    if (version >= 3)
        v.leader_epoch = rn_read_int32(&r, "leader epoch");
    v.metadata = rn_read_string(&r, version >= 4, false, "metadata");
    v.commit_timestamp = rn_read_int64(&r, "commit timestamp");
    if (version == 1)
        v.expire_timestamp = rn_read_int64(&r, "expire timestamp");
    if (version >= 4) {
        /* KIP-482 tagged fields: none are known, each is skipped. */
        uint32_t ntags = rn_read_uvarint(&r, "tag count");
        for (uint32_t i = 0; i < ntags && rn_reader_ok(&r); i++) {
            rn_read_uvarint(&r, "tag");
            uint32_t len = rn_read_uvarint(&r, "tag length");
            rn_reader_skip(&r, len, "tag data");
        }
    }
    /* Bytes after the known fields are ignored, as Kafka's readers ignore them (KIP-915: newer
     * writers may append). */
    if (!rn_reader_ok(&r))
        return RN_EPROTO;
    *out = v;
    return 0;
}
