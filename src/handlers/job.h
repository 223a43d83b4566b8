/* SPDX-License-Identifier: Apache-2.0 */
/* Requests whose work blocks: CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords,
 * AlterConfigs, auto-creating Metadata, FindCoordinator's first creation of
 * __consumer_offsets, OffsetCommit, OffsetDelete, DeleteGroups and InitProducerId write and
 * fsync files before they may answer. A job decodes on the connection's loop, runs off it on the
 * request's executor (util/work.h), and answers back on the loop. Private to the handler room.
 *
 * Order: the network room hands a connection's next request up only once this one has
 * answered (rn_net_config_t.one_at_a_time), so a job's effects are in place before anything
 * else that connection sends runs, as in Kafka. */
#ifndef RN_HANDLERS_JOB_H
#define RN_HANDLERS_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "handlers/handlers.h"

/* One request's work. Embed it first in a struct of the handler's that holds the decoded
 * request and the response, allocated from req->arena. */
typedef struct rn_job rn_job_t;
struct rn_job {
    rn_work_t work;
    rn_request_t *req;
    /* Does the blocking calls and fills the response. Runs on a worker thread: it may touch
     * only the job, req->arena and thread-safe rooms. */
    void (*run)(rn_job_t *job);
    /* Optional, on the loop: run will never run (the work could not be queued); undo what the
     * handler set up for it. The request is rejected after it returns. */
    void (*dropped)(rn_job_t *job);
    const void *resp; /* set by run: the response struct to send */
    bool oom;         /* set by run: the arena ran out; the request is rejected */
};

/* Allocates a zeroed job struct of `size` bytes (rn_job_t first) from req->arena, with `req`
 * and `run` filled in. On failure the request is rejected and NULL returned. */
void *rn_job_new(rn_request_t *req, size_t size, void (*run)(rn_job_t *job));

/* Queues job->run on the request's executor and then, on the request's loop, answers
 * job->resp (or rejects the request when job->oom). When the work cannot be queued, the
 * request is rejected at once (logged); it never runs on the loop. The request is finished
 * either way. Owner loop: the request's. */
void rn_job_start(rn_job_t *job);

#endif
