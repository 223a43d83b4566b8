/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/control/: writing the Prometheus text exposition format, version 0.0.4. A
 * family is a "# HELP" and a "# TYPE" line, then its samples, one per line:
 * name{label="value",...} value. Label values escape backslash, double quote and newline
 * (\\, \", \n); HELP text escapes backslash and newline. Integers are written exactly (an
 * offset above 2^53 would lose digits as a double). */
#ifndef RN_CONTROL_PROM_H
#define RN_CONTROL_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "util/histogram.h"
#include "util/outbuf.h"

typedef struct rn_prom_label {
    const char *name;  /* a valid label name, written as is */
    const char *value; /* any bytes, escaped */
    size_t len;        /* of value */
} rn_prom_label_t;

/* A label from a NUL-terminated value. */
rn_prom_label_t rn_prom_label(const char *name, const char *value);

/* The HELP and TYPE lines of family `name`; `type` is counter, gauge or histogram. */
void rn_prom_family(rn_outbuf_t *out, const char *name, const char *type, const char *help);
/* Writes `value` escaped for a label value (without the quotes). */
void rn_prom_escape(rn_outbuf_t *out, const char *value, size_t len);
/* One sample line of `name` (a family's name, or it plus _bucket/_sum/_count). */
void rn_prom_int(rn_outbuf_t *out, const char *name, const rn_prom_label_t *labels, size_t n,
                 int64_t value);
void rn_prom_uint(rn_outbuf_t *out, const char *name, const rn_prom_label_t *labels, size_t n,
                  uint64_t value);
void rn_prom_double(rn_outbuf_t *out, const char *name, const rn_prom_label_t *labels, size_t n,
                    double value);
/* A histogram's samples under `labels`: name_bucket{...,le="0.0005"} .. {le="+Inf"}, name_sum,
 * name_count (the family lines are the caller's). */
void rn_prom_histogram(rn_outbuf_t *out, const char *name, const rn_prom_label_t *labels, size_t n,
                       const rn_histogram_snapshot_t *snap);

#endif
