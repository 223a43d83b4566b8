/* SPDX-License-Identifier: Apache-2.0 */
/* Log lines on stderr, one per event:
 *
 *     2024-05-01T12:34:56.789Z WARN  net: peer 127.0.0.1:50112: request size 2147483647 ...
 *
 * Each line is formatted into a buffer on the caller's stack and written with one write(2), so
 * lines from different threads never interleave (writes to a pipe or terminal of up to PIPE_BUF
 * bytes are atomic; longer lines are cut to fit). Control characters in the message become '?',
 * so bytes a client chose can never start a fake line. */
#include "util/logging.h"
#include "util/clock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

/* Relaxed: the level is a lone flag that publishes no other data, and a thread that sees a
 * change a little late writes or skips one line more. */
static _Atomic int current_level = RN_LOG_INFO;

static const char *const level_names[] = {
    [RN_LOG_ERROR] = "ERROR", [RN_LOG_WARN] = "WARN",   [RN_LOG_INFO] = "INFO",
    [RN_LOG_DEBUG] = "DEBUG", [RN_LOG_TRACE] = "TRACE",
};

void rn_log_set_level(rn_log_level_t level)
{
    atomic_store_explicit(&current_level, (int)level, memory_order_relaxed);
}

rn_log_level_t rn_log_get_level(void)
{
    return (rn_log_level_t)atomic_load_explicit(&current_level, memory_order_relaxed);
}

int rn_log_level_parse(const char *name, rn_log_level_t *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (rn_log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) { /* log4j says WARN, people often write WARNING */
        *out = RN_LOG_WARN;
        return 0;
    }
    return RN_EINVAL;
}

/* PIPE_BUF on Linux: the longest write a pipe takes in one piece. */
#define LINE_MAX_LEN 4096

void rn_log(rn_log_level_t level, const char *room, const char *fmt, ...)
{
    if (!rn_log_enabled(level))
        return;
    if ((unsigned)level > RN_LOG_TRACE)
        level = RN_LOG_TRACE;

    char line[LINE_MAX_LEN];
    int64_t now_ms = rn_clock_wall_ms();
    time_t now_s = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&now_s, &tm);
    int head = snprintf(line, sizeof(line),
                        "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        (long)(now_ms % 1000), level_names[level], room);
    if (head < 0)
        return;
    size_t len = (size_t)head < sizeof(line) ? (size_t)head : sizeof(line) - 1;

    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (body < 0)
        body = 0;
    size_t end = len + (size_t)body;
    if (end > sizeof(line) - 2) { /* cut, leaving room for "..." and '\n' */
        end = sizeof(line) - 2;
        memcpy(line + end - 3, "...", 3);
    }
    for (size_t i = len; i < end; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 && c != '\t')
            line[i] = '?';
    }
    line[end++] = '\n';

    /* One write for the whole line; a short write to stderr is rare (a full pipe), and
     * finishing it keeps the line whole for whoever reads it. */
    size_t done = 0;
    while (done < end) {
        ssize_t n = write(STDERR_FILENO, line + done, end - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        done += (size_t)n;
    }
}
