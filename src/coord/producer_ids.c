/* SPDX-License-Identifier: Apache-2.0 */
/* The producer id counter (producer_ids.h). Two locks: `lock` guards the counter and is held
 * for a few instructions; `reserve_lock` lets one thread at a time write the file, so the
 * callers that find the block used up wait for one reservation instead of each writing their
 * own. The file always holds an end at or beyond every id handed out. */
#include "coord/producer_ids.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/fs.h"
#include "util/logging.h"
#include "util/parse.h"
#include "util/xmalloc.h"

#define FILE_MAGIC "runnel-producer-ids 1\n"
#define FILE_MAX 64

struct rn_producer_ids {
    char *dir;
    pthread_mutex_t lock;         /* guards next and end */
    int64_t next;                 /* the next id to hand out */
    int64_t end;                  /* one past the last reserved id: durable in the file */
    pthread_mutex_t reserve_lock; /* one writer of the file at a time; held across its I/O */
};

/* Parses the file's text into the first unreserved id. */
static int parse_file(const char *text, size_t len, int64_t *end)
{
    size_t magic = strlen(FILE_MAGIC);
    if (len <= magic || memcmp(text, FILE_MAGIC, magic) != 0 || text[len - 1] != '\n')
        return RN_EINVAL;
    char num[FILE_MAX];
    size_t n = len - magic - 1;
    if (n == 0 || n >= sizeof num)
        return RN_EINVAL;
    memcpy(num, text + magic, n);
    num[n] = '\0';
    int64_t v;
    if (rn_parse_int64(num, &v) != 0 || v < 0)
        return RN_EINVAL;
    *end = v;
    return 0;
}

int rn_producer_ids_open(const char *dir, rn_producer_ids_t **out)
{
    char text[FILE_MAX];
    size_t len = 0;
    int64_t end = 0;
    int rc = rn_fs_read_small(dir, RN_PRODUCER_IDS_FILE, text, sizeof text, &len);
    if (rc == 0 && (rc = parse_file(text, len, &end)) != 0)
        rn_log(RN_LOG_ERROR, "coord",
               "%s/%s does not parse: which producer ids were handed out is unknown", dir,
               RN_PRODUCER_IDS_FILE);
    if (rc != 0 && rc != -ENOENT)
        return rc;
    rn_producer_ids_t *ids = rn_xcalloc(1, sizeof *ids);
    ids->dir = rn_xstrdup(dir);
    ids->next = end;
    ids->end = end;
    pthread_mutex_init(&ids->lock, NULL);
    pthread_mutex_init(&ids->reserve_lock, NULL);
    *out = ids;
    return 0;
}

void rn_producer_ids_close(rn_producer_ids_t *ids)
{
    if (ids == NULL)
        return;
    pthread_mutex_destroy(&ids->reserve_lock);
    pthread_mutex_destroy(&ids->lock);
    free(ids->dir);
    free(ids);
}

/* Takes an id from the reserved block; false when it is used up. */
static bool take(rn_producer_ids_t *ids, int64_t *id)
{
    pthread_mutex_lock(&ids->lock);
    bool ok = ids->next < ids->end;
    if (ok)
        *id = ids->next++;
    pthread_mutex_unlock(&ids->lock);
    return ok;
}

/* Writes the end of the next block, then publishes it: an id is handed out only once the end
 * beyond it is on disk. Called with reserve_lock held. */
static int reserve(rn_producer_ids_t *ids)
{
    pthread_mutex_lock(&ids->lock);
    int64_t start = ids->end;
    bool needed = ids->next >= ids->end;
    pthread_mutex_unlock(&ids->lock);
    if (!needed)
        return 0; /* another thread reserved while this one waited */
    if (start > INT64_MAX - RN_PRODUCER_ID_BLOCK)
        return -EOVERFLOW;
    int64_t end = start + RN_PRODUCER_ID_BLOCK;
    char text[FILE_MAX];
    int n = snprintf(text, sizeof text, "%s%" PRId64 "\n", FILE_MAGIC, end);
    int rc = rn_fs_write_atomic(ids->dir, RN_PRODUCER_IDS_FILE, text, (size_t)n);
    if (rc != 0) {
        rn_log(RN_LOG_ERROR, "coord", "cannot reserve producer ids in %s/%s: %s", ids->dir,
               RN_PRODUCER_IDS_FILE, strerror(-rc));
        return rc;
    }
    pthread_mutex_lock(&ids->lock);
    ids->end = end;
    pthread_mutex_unlock(&ids->lock);
    return 0;
}

int rn_producer_ids_next(rn_producer_ids_t *ids, int64_t *id)
{
    for (;;) {
        if (take(ids, id))
            return 0;
        pthread_mutex_lock(&ids->reserve_lock);
        int rc = reserve(ids);
        pthread_mutex_unlock(&ids->reserve_lock);
        if (rc != 0)
            return rc;
    }
}
