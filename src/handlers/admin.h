/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the admin handlers (admin_topics.c, admin_configs.c). Private to the
 * handler room.
 *
 * Admin requests change the topic registry, which writes and fsyncs its file before it returns.
 * That is blocking file work, so a handler decodes on the connection's loop, does the registry
 * calls in libuv's thread pool (rn_admin_run), and answers back on the loop. */
#ifndef RN_HANDLERS_ADMIN_H
#define RN_HANDLERS_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "handlers/handlers.h"

/* Where a key stands among the keys of one request. */
enum { RN_ADMIN_KEY_UNIQUE = 0, RN_ADMIN_KEY_FIRST_OF_MANY = 1, RN_ADMIN_KEY_REPEAT = 2 };

/* Sets out[i] to RN_ADMIN_KEY_UNIQUE, _FIRST_OF_MANY (the first of several equal keys) or
 * _REPEAT (a later one) for each of the n keys, comparing bytes (a NULL ptr equals an empty key).
 * O(n log n): a client chooses n. Returns false when the arena is exhausted. */
bool rn_admin_classify_keys(rn_arena_t *arena, const rn_str_t *keys, int32_t n, uint8_t *out);

/* A formatted message for a response, in the request's arena; null (no message) when the arena
 * is exhausted, which only loses the text. */
rn_str_t rn_admin_message(rn_request_t *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A copy of NUL-terminated `s` in the request's arena; null for NULL. Sets *oom on failure. */
rn_str_t rn_admin_str(rn_request_t *req, const char *s, bool *oom);

/* One admin request's work. Embed it in a struct of the handler's that holds the decoded request
 * and the response, allocated from req->arena. */
typedef struct rn_admin_job rn_admin_job_t;
struct rn_admin_job {
    uv_work_t work;
    rn_request_t *req;
    /* Does the registry calls and fills the response. Runs on a thread-pool thread (or inline,
     * when the request has no loop): it may touch only the job, req->arena and thread-safe rooms. */
    void (*run)(rn_admin_job_t *job);
    const void *resp;            /* set by run: the response struct to send */
    bool oom;                    /* set by run: the arena ran out; the request is rejected */
};

/* Allocates a zeroed job struct of `size` bytes (rn_admin_job_t first) from req->arena, with
 * `req` and `run` filled in. On failure the request is rejected and NULL returned. */
void *rn_admin_job_new(rn_request_t *req, size_t size, void (*run)(rn_admin_job_t *job));

/* Runs job->run off the loop and then, on the request's loop, answers job->resp (or rejects the
 * request when job->oom). Without a loop (unit tests) everything happens before it returns.
 * The request is finished either way. Owner loop: the request's. */
void rn_admin_run(rn_admin_job_t *job);

#endif
