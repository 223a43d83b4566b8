/* SPDX-License-Identifier: Apache-2.0 */
/* Counters of every log in the process, for the control plane's /metrics: how long segment
 * fdatasyncs take (the cost of log.flush.* and of a clean shutdown), and what the cleaner has
 * done. Process-wide, like the descriptor cache: two brokers embedded in one process share them.
 * Relaxed atomics: statistics that publish no other memory. */
#include "log/internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/histogram.h"

static rn_histogram_t fsync_hist;
static _Atomic uint64_t clean_runs, clean_failures, clean_bytes_read, clean_bytes_written,
    clean_records_read, clean_records_kept, clean_tombstones_dropped;

int rn_log_datasync(int fd)
{
    int64_t t0 = rn_clock_mono_ns();
    int rc = fdatasync(fd);
    int saved = errno; /* the clock read must not disturb the caller's errno */
    rn_histogram_observe_ns(&fsync_hist, rn_clock_mono_ns() - t0);
    errno = saved;
    return rc;
}

static void add(_Atomic uint64_t *counter, int64_t n)
{
    if (n > 0)
        atomic_fetch_add_explicit(counter, (uint64_t)n, memory_order_relaxed);
}

void rn_log_metrics_clean(const rn_log_clean_stats_t *st, int err)
{
    /* -ECANCELED (stopping, or the topic went away) and -ESTALE (the log changed under the
     * round) are the cleaner's normal retreats, not failures. */
    if (err == 0)
        add(&clean_runs, 1);
    else if (err != -ECANCELED && err != -ESTALE)
        add(&clean_failures, 1);
    add(&clean_bytes_read, st->bytes_read);
    add(&clean_bytes_written, st->bytes_written);
    add(&clean_records_read, st->records_read);
    add(&clean_records_kept, st->records_kept);
    add(&clean_tombstones_dropped, st->tombstones_dropped);
}

void rn_log_metrics_get(rn_log_metrics_t *out)
{
    out->fsync = &fsync_hist;
    out->clean_runs = atomic_load_explicit(&clean_runs, memory_order_relaxed);
    out->clean_failures = atomic_load_explicit(&clean_failures, memory_order_relaxed);
    out->clean_bytes_read = atomic_load_explicit(&clean_bytes_read, memory_order_relaxed);
    out->clean_bytes_written = atomic_load_explicit(&clean_bytes_written, memory_order_relaxed);
    out->clean_records_read = atomic_load_explicit(&clean_records_read, memory_order_relaxed);
    out->clean_records_kept = atomic_load_explicit(&clean_records_kept, memory_order_relaxed);
    out->clean_tombstones_dropped =
        atomic_load_explicit(&clean_tombstones_dropped, memory_order_relaxed);
}
