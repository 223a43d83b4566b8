/* SPDX-License-Identifier: Apache-2.0 */
/* Lock-free latency histograms (histogram.h). Relaxed order everywhere: the counters are
 * statistics and publish no other memory; a reader may see an observation's bucket before its
 * sum, which a scrape tolerates. */
#include "util/histogram.h"

#include <stddef.h>

const double rn_histogram_bounds[RN_HISTOGRAM_BOUNDS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void rn_histogram_observe_ns(rn_histogram_t *h, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    double seconds = (double)ns / 1e9;
    size_t i = 0;
    while (i < RN_HISTOGRAM_BOUNDS && seconds > rn_histogram_bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)ns, memory_order_relaxed);
}

void rn_histogram_read(const rn_histogram_t *h, rn_histogram_snapshot_t *out)
{
    uint64_t total = 0;
    for (size_t i = 0; i <= RN_HISTOGRAM_BOUNDS; i++) {
        total += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        out->cumulative[i] = total;
    }
    out->count = total;
    out->sum_seconds = (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9;
}
