/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the records room (src/records): the input is a Produce `records` blob.
 * rn_records_validate() runs with a 1 MiB decompression bound; when it accepts the blob, its
 * summary must agree with the batches, offsets are assigned on a copy and every batch's CRC
 * must still hold. Every whole batch in the input (valid or not) is also walked with
 * rn_record_iter, as the log's readers do. Build with -Dfuzz=true (clang); see scripts/fuzz. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/records.h"

#define MAX_UNCOMPRESSED (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_records(const uint8_t *data, size_t size)
{
    rn_record_iter_t it;
    rn_record_iter_init(&it, MAX_UNCOMPRESSED);
    size_t pos = 0;
    while (pos < size) {
        rn_batch_header_t h;
        if (rn_batch_parse_header(data + pos, size - pos, &h) != RN_DECODE_OK)
            break;
        size_t n = rn_batch_size(&h);
        if (n > size - pos)
            break;
        if (rn_record_iter_start(&it, data + pos, size - pos) == 0) {
            rn_record_t rec;
            int rc;
            int32_t count = 0;
            while ((rc = rn_record_iter_next(&it, &rec)) == 1) {
                if (rec.offset < h.base_offset) {
                    fprintf(stderr, "record offset %lld below base %lld\n", (long long)rec.offset,
                            (long long)h.base_offset);
                    abort();
                }
                count++;
            }
            if (rc == 0 && count != h.records_count) {
                /* records_count may be below last_offset_delta + 1 (compaction), but what the
                 * iterator returned is what the batch says it holds. */
                fprintf(stderr, "iterator returned %d records, batch says %d\n", count,
                        h.records_count);
                abort();
            }
        }
        pos += n;
    }
    rn_record_iter_deinit(&it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rn_records_summary_t sum;
    const char *why = NULL;
    int err = rn_records_validate(data, size, MAX_UNCOMPRESSED, &sum, &why);
    if (err == 0) {
        if (why != NULL) {
            fprintf(stderr, "validate accepted the blob but set why: %s\n", why);
            abort();
        }
        uint8_t *copy = malloc(size ? size : 1);
        if (copy == NULL)
            return 0;
        memcpy(copy, data, size);
        int64_t next = rn_records_assign_offsets(copy, size, 1000, 7);
        if (next != 1000 + sum.nrecords) {
            fprintf(stderr, "assign_offsets returned %lld, want %lld\n", (long long)next,
                    (long long)(1000 + sum.nrecords));
            abort();
        }
        size_t pos = 0;
        int32_t nbatches = 0;
        int64_t expect = 1000;
        while (pos < size) {
            rn_batch_header_t h;
            if (rn_batch_parse_header(copy + pos, size - pos, &h) != RN_DECODE_OK) {
                fprintf(stderr, "batch at %zu of a validated blob does not parse\n", pos);
                abort();
            }
            size_t n = rn_batch_size(&h);
            if (n > size - pos || !rn_batch_crc_ok(copy + pos, n)) {
                fprintf(stderr, "batch at %zu: CRC broken by assign_offsets\n", pos);
                abort();
            }
            if (h.base_offset != expect || h.partition_leader_epoch != 7) {
                fprintf(stderr, "batch at %zu: base offset %lld (want %lld), epoch %d\n", pos,
                        (long long)h.base_offset, (long long)expect, h.partition_leader_epoch);
                abort();
            }
            expect += (int64_t)h.last_offset_delta + 1;
            if (n > sum.max_batch_size) {
                fprintf(stderr, "batch of %zu bytes above max_batch_size %zu\n", n,
                        sum.max_batch_size);
                abort();
            }
            pos += n;
            nbatches++;
        }
        if (nbatches != sum.nbatches) {
            fprintf(stderr, "walked %d batches, summary says %d\n", nbatches, sum.nbatches);
            abort();
        }
        /* What validate accepted, the log's reader must read back. */
        rn_record_iter_t it;
        rn_record_iter_init(&it, MAX_UNCOMPRESSED);
        for (pos = 0; pos < size;) {
            rn_batch_header_t h;
            (void)rn_batch_parse_header(copy + pos, size - pos, &h);
            if (rn_record_iter_start(&it, copy + pos, size - pos) != 0) {
                fprintf(stderr, "validated batch at %zu refused by the iterator: %s\n", pos,
                        it.err ? it.err : "?");
                abort();
            }
            rn_record_t rec;
            int rc;
            while ((rc = rn_record_iter_next(&it, &rec)) == 1)
                ;
            if (rc != 0) {
                fprintf(stderr, "validated batch at %zu: iterator failed: %s\n", pos,
                        it.err ? it.err : "?");
                abort();
            }
            pos += rn_batch_size(&h);
        }
        rn_record_iter_deinit(&it);
        free(copy);
    } else if (why == NULL && err != -1) {
        fprintf(stderr, "validate refused (%d) without saying why\n", err);
        abort();
    }
    walk_records(data, size);
    return 0;
}
