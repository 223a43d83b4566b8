/* SPDX-License-Identifier: Apache-2.0 */
/* The broker's two clocks, in milliseconds. The wall clock is what Kafka stamps on records,
 * commits and segment files (System.currentTimeMillis); it may jump. The monotonic clock never
 * jumps and measures durations: timeouts, deadlines, how long something took. Any thread. */
#ifndef RN_UTIL_CLOCK_H
#define RN_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t rn_clock_wall_ms(void);
/* Milliseconds since an arbitrary start (CLOCK_MONOTONIC); only differences mean anything. */
int64_t rn_clock_mono_ms(void);
/* Nanoseconds on the same monotonic clock, for short durations (metrics). */
int64_t rn_clock_mono_ns(void);
/* The CLOCK_REALTIME instant `ms` from now, for pthread_cond_timedwait. */
struct timespec rn_clock_wall_after(int64_t ms);

#endif
