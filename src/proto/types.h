/* SPDX-License-Identifier: Apache-2.0 */
/* Value types of generated message fields that are not plain C scalars. */
#ifndef RN_PROTO_TYPES_H
#define RN_PROTO_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/bytes.h"
#include "util/outbuf.h"

/* A `records` field: record batches either in memory (a slice of the request buffer, or bytes
 * the handler built) or in a file, sent with sendfile. Null when `ptr` and `file` are both NULL.
 * Encoding a field that holds a file range hands the range to the output buffer, which then
 * releases it; the handler must not release it itself. */
typedef struct rn_records {
    const uint8_t *ptr;
    size_t len;
    const rn_file_range_t *file;
} rn_records_t;

static inline bool rn_records_is_null(const rn_records_t *rec)
{
    return rec->ptr == NULL && rec->file == NULL;
}

static inline size_t rn_records_len(const rn_records_t *rec)
{
    return rec->file != NULL ? rec->file->len : rec->len;
}

#endif
