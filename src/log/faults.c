/* SPDX-License-Identifier: Apache-2.0 */
/* I/O errors of one log: the offline state a failed write or sync leaves it in (log.h says why
 * a partition, not the directory as in Kafka), and RUNNEL_FAULT_INJECTION, the test hook that
 * makes a partition's writes or syncs fail. */
#include "log/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/logging.h"

void rn_log_read_fault_injection(rn_log_t *log)
{
    const char *spec = getenv("RUNNEL_FAULT_INJECTION");
    if (spec == NULL || *spec == '\0')
        return;
    const char *slash = strrchr(log->dir, '/');
    const char *name = slash != NULL ? slash + 1 : log->dir;
    size_t name_len = strlen(name);
    for (const char *item = spec; *item != '\0';) {
        size_t len = strcspn(item, ",");
        const char *colon = memchr(item, ':', len);
        if (colon != NULL && (size_t)(item + len - colon - 1) == name_len &&
            memcmp(colon + 1, name, name_len) == 0) {
            size_t op_len = (size_t)(colon - item);
            if (op_len == 5 && memcmp(item, "write", 5) == 0)
                log->fault_write = true;
            else if (op_len == 4 && memcmp(item, "sync", 4) == 0)
                log->fault_sync = true;
        }
        item += len;
        if (*item == ',')
            item++;
    }
    if (log->fault_write || log->fault_sync)
        rn_log(RN_LOG_WARN, "log", "%s: fault injection (RUNNEL_FAULT_INJECTION): every %s fails",
               log->dir,
               log->fault_write && log->fault_sync ? "write and sync"
               : log->fault_write                  ? "append write"
                                                   : "sync");
}

bool rn_log_no_room(int err)
{
    return err == -ENOSPC || err == -EDQUOT || err == -EFBIG;
}

void rn_log_go_offline(rn_log_t *log, const char *what, int err)
{
    if (!atomic_exchange_explicit(&log->offline, true, memory_order_relaxed))
        rn_log(RN_LOG_ERROR, "log",
               "%s: offline after a failed %s (%s): produce and fetch answer "
               "KAFKA_STORAGE_ERROR until the broker restarts",
               log->dir, what, strerror(-err));
}

bool rn_log_is_offline(const rn_log_t *log)
{
    return atomic_load_explicit(&log->offline, memory_order_relaxed);
}
