/* SPDX-License-Identifier: Apache-2.0 */
/* A latency histogram that any thread may add to without a lock: one relaxed atomic add per
 * bucket, count and sum. The buckets are fixed (seconds, as Prometheus wants durations) and the
 * same for every histogram, so a reader needs no description of them. Buckets are stored
 * apart (not cumulative): a snapshot adds them up, so its +Inf bucket always equals its count,
 * even while other threads observe. */
#ifndef RN_UTIL_HISTOGRAM_H
#define RN_UTIL_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#define RN_HISTOGRAM_BOUNDS 14
/* The upper bounds in seconds, ascending: 0.0005 ... 10. A last, unbounded bucket follows. */
extern const double rn_histogram_bounds[RN_HISTOGRAM_BOUNDS];

typedef struct rn_histogram {
    _Atomic uint64_t buckets[RN_HISTOGRAM_BOUNDS + 1]; /* the last: above every bound */
    _Atomic uint64_t sum_ns;
} rn_histogram_t;

/* Zero-initialized storage is an empty histogram (static or calloc'd). */
/* Adds one observation of `ns` nanoseconds (negative counts as 0). Any thread. */
void rn_histogram_observe_ns(rn_histogram_t *h, int64_t ns);

typedef struct rn_histogram_snapshot {
    uint64_t cumulative[RN_HISTOGRAM_BOUNDS + 1]; /* observations <= bound i; the last: all */
    uint64_t count;                               /* = cumulative[RN_HISTOGRAM_BOUNDS] */
    double sum_seconds;
} rn_histogram_snapshot_t;
/* Reads `h` into `out` (cumulative, as the Prometheus text format lists buckets). Any thread. */
void rn_histogram_read(const rn_histogram_t *h, rn_histogram_snapshot_t *out);

#endif
