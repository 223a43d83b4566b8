/* SPDX-License-Identifier: Apache-2.0 */
/* Framing a Produce partition's bytes into batches the way Kafka does before it validates any
 * of them (records.h says the rules). Kafka's answers depend on it: no whole batch is
 * INVALID_RECORD, a corrupt header CORRUPT_MESSAGE, and a fragment after the last whole batch
 * is dropped without a word. The offsets of batch_length and magic are the same in every
 * magic, so old message sets frame the same way. */
#include <stdio.h>

#include "records/records.h"
#include "util/endian.h"

#define POS_BATCH_LENGTH 8
#define POS_MAGIC 16
#define POS_ATTRIBUTES 21
#define POS_PRODUCER_ID 43
#define UP_TO_MAGIC (POS_MAGIC + 1)
/* The smallest message of any magic (a magic 0 message without key or value): crc, magic,
 * attributes, key length, value length. */
#define MIN_RECORD_OVERHEAD 14
#define MAX_MAGIC 2

rn_records_framing_t rn_records_frame(const uint8_t *p, size_t len)
{
    rn_records_framing_t f = { .first_magic = -1, .first_producer_id = -1 };
    size_t pos = 0;
    for (;;) {
        size_t left = len - pos;
        if (left < RN_BATCH_LOG_OVERHEAD)
            break;
        int32_t size = (int32_t)rn_load_be32(p + pos + POS_BATCH_LENGTH);
        if (size < MIN_RECORD_OVERHEAD) {
            f.error = RN_FRAME_SHORT_SIZE;
            f.error_value = size;
            break;
        }
        if (left < UP_TO_MAGIC)
            break;
        /* Kafka reads magic as a signed byte: 0xff is -1. */
        uint8_t byte = p[pos + POS_MAGIC];
        int32_t magic = byte > INT8_MAX ? (int32_t)byte - 256 : (int32_t)byte;
        if (magic < 0 || magic > MAX_MAGIC) {
            f.error = RN_FRAME_BAD_MAGIC;
            f.error_value = magic;
            break;
        }
        size_t whole = (size_t)size + RN_BATCH_LOG_OVERHEAD;
        if (left < whole)
            break;
        if (f.nbatches == 0) {
            f.first_magic = (int8_t)magic;
            /* A whole batch of magic 2 is at least 26 bytes: its attributes are there; its
             * producer id only when the header is whole (a shorter one is corrupt later). */
            if (magic == MAX_MAGIC)
                f.first_attributes = (int16_t)rn_load_be16(p + pos + POS_ATTRIBUTES);
            if (magic == MAX_MAGIC && whole >= RN_BATCH_HEADER_LEN)
                f.first_producer_id = (int64_t)rn_load_be64(p + pos + POS_PRODUCER_ID);
        }
        f.nbatches++;
        pos += whole;
        f.len = pos;
    }
    return f;
}

const char *rn_records_frame_message(const rn_records_framing_t *f, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    switch (f->error) {
    case RN_FRAME_SHORT_SIZE:
        snprintf(buf, cap, "Record size %d is less than the minimum record overhead (%d)",
                 (int)f->error_value, MIN_RECORD_OVERHEAD);
        break;
    case RN_FRAME_BAD_MAGIC:
        snprintf(buf, cap, "Invalid magic found in record: %d", (int)f->error_value);
        break;
    case RN_FRAME_OK:
    default:
        buf[0] = '\0';
        break;
    }
    return buf;
}
