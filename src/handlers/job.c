/* SPDX-License-Identifier: Apache-2.0 */
/* Requests whose work blocks (job.h): run off the loop, answered on it. */
#include "handlers/job.h"

#include <stdio.h>
#include <string.h>

#include "util/err.h"

void *rn_job_new(rn_request_t *req, size_t size, void (*run)(rn_job_t *job))
{
    rn_job_t *job = rn_arena_try_alloc(&req->arena, size);
    if (job == NULL) {
        rn_reject(req, "out of memory");
        return NULL;
    }
    job->req = req;
    job->run = run;
    return job;
}

static void on_job_work(rn_work_t *w)
{
    rn_job_t *job = rn_container_of(w, rn_job_t, work);
    job->run(job);
}

static void on_job_done(rn_work_t *w, int status)
{
    rn_job_t *job = rn_container_of(w, rn_job_t, work);
    if (status != 0 && job->dropped != NULL)
        job->dropped(job);
    if (status != 0)
        rn_reject(job->req, "its work was dropped before it ran");
    else if (job->oom || job->resp == NULL)
        rn_reject(job->req, "out of memory");
    else
        rn_respond(job->req, job->resp);
}

void rn_job_start(rn_job_t *job)
{
    job->work.run = on_job_work;
    job->work.done = on_job_done;
    int err = rn_work_queue(job->req->executor, &job->work);
    if (err != 0) {
        if (job->dropped != NULL)
            job->dropped(job);
        char why[96];
        snprintf(why, sizeof why, "cannot queue its work: %s", strerror(-err));
        rn_reject(job->req, why);
    }
}
