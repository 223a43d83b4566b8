/* SPDX-License-Identifier: Apache-2.0 */
/* One log line per event on stderr: time, level, room, message. Safe from any thread: each
 * line is formatted into a local buffer and written with a single write(2). */
#ifndef RN_UTIL_LOGGING_H
#define RN_UTIL_LOGGING_H

typedef enum rn_log_level {
    RN_LOG_ERROR = 0,
    RN_LOG_WARN,
    RN_LOG_INFO,
    RN_LOG_DEBUG,
    RN_LOG_TRACE,
} rn_log_level_t;

/* Sets the most verbose level written. Default RN_LOG_INFO. */
void rn_log_set_level(rn_log_level_t level);
rn_log_level_t rn_log_get_level(void);
/* Parses "error", "warn", "info", "debug", "trace" (any case). Returns 0 or RN_EINVAL. */
int rn_log_level_parse(const char *name, rn_log_level_t *out);

void rn_log(rn_log_level_t level, const char *room, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define rn_log_enabled(level) ((level) <= rn_log_get_level())

#endif
