/* SPDX-License-Identifier: Apache-2.0 */
/* OffsetCommit (key 8) v0-v10, OffsetFetch (key 9) v0-v10 and OffsetDelete (key 47) v0: committed
 * offsets kept by the coordinator (src/coord/offsets.h). Commits and deletes write to
 * __consumer_offsets, where a flush policy may fsync, so they run as jobs (job.h) and answer
 * back on the loop; fetches only read memory and answer at once. A connection's requests run
 * one at a time (net.h), so pipelined commits are applied in the order they were sent.
 *
 * Kafka's order of checks for a commit (KafkaApis.handleOffsetCommitRequest, then the group
 * coordinator): a topic id that no topic has (v10) is UNKNOWN_TOPIC_ID and a partition that
 * does not exist UNKNOWN_TOPIC_OR_PARTITION, whatever the group; then the group's verdict
 * (generation, member, rebalance) applies to every remaining partition; then metadata over
 * offset.metadata.max.bytes is OFFSET_METADATA_TOO_LARGE.
 *
 * KIP-848 versions, for the classic groups Runnel has (answers of Kafka 4.4, asked): OffsetCommit
 * v9 reads its generation as "generation or member epoch" and answers GROUP_ID_NOT_FOUND for a
 * generation of a group that does not exist (groups.h); OffsetFetch v9's member id and epoch
 * are checked for consumer groups only, so they change nothing here. v10 of both names topics
 * by id; offsets stay stored by name, so every version reads what any version wrote. */
#include <string.h>

#include "config/config.h"
#include "coord/coord.h"
#include "coord/groups.h"
#include "coord/offsets.h"
#include "handlers/admin.h"
#include "handlers/handlers.h"
#include "handlers/job.h"
#include "topics/topics.h"
#include "util/err.h"
#include "util/logging.h"

/* Group ids longer than this cannot be written: OffsetCommitKey's group is an INT16 string. */
#define MAX_GROUP_ID_LEN INT16_MAX

/* Kafka's mapping of append failures for group writes (GroupMetadataManager.appendForGroup):
 * a too-large batch is INVALID_COMMIT_OFFSET_SIZE, a storage failure NOT_COORDINATOR (clients
 * look the coordinator up again and retry), anything else UNKNOWN_SERVER_ERROR. */
static rn_kerr_t append_error(int rc)
{
    if (rc == RN_EINVAL)
        return RN_KERR_INVALID_COMMIT_OFFSET_SIZE;
    if (rc == RN_ENOMEM)
        return RN_KERR_UNKNOWN_SERVER_ERROR;
    return RN_KERR_NOT_COORDINATOR;
}

/* v10 names topics by id (KIP-848). Sets *name to the name of the topic with id `id`, copied
 * into the request's arena, or to a NULL ptr when no topic has that id. False only when the
 * arena is exhausted. */
static bool name_of_id(rn_request_t *req, rn_uuid_t id, rn_str_t *name)
{
    *name = (rn_str_t){ NULL, 0 };
    rn_topic_t *topic = rn_topics_get_by_id(req->broker->topics, id);
    if (topic == NULL)
        return true;
    size_t len = strlen(topic->name);
    char *copy = rn_arena_try_alloc(&req->arena, len > 0 ? len : 1);
    if (copy != NULL) {
        memcpy(copy, topic->name, len);
        *name = (rn_str_t){ copy, len };
    }
    rn_topic_unref(topic);
    return copy != NULL;
}

/* `topic` is looked up once per topic of a request (NULL: it does not exist). */
static bool partition_exists(rn_topic_t *topic, int32_t partition)
{
    return topic != NULL && rn_topic_partition(topic, partition) != NULL;
}

/* ---- OffsetCommit ---- */

typedef struct commit_job {
    rn_job_t job;
    rn_offset_commit_request_t body;
    rn_offset_commit_response_t resp;
    rn_offsets_pending_t pending; /* registered while the commit is on its way; n 0: none */
} commit_job_t;

static void pending_end(commit_job_t *j)
{
    if (j->pending.n > 0)
        rn_offsets_pending_remove(rn_coord_offsets(j->job.req->broker->coord), &j->pending);
    j->pending.n = 0;
}

static void on_commit_dropped(rn_job_t *job)
{
    pending_end((commit_job_t *)job);
}

/* From the moment the request is accepted until its offsets are visible, OffsetFetch with
 * require_stable answers UNSTABLE_OFFSET_COMMIT for its partitions (KIP-447), as Kafka does
 * while an offset commit is being written. False when the arena ran out. */
static bool pending_begin(commit_job_t *j)
{
    rn_request_t *req = j->job.req;
    const rn_offset_commit_request_t *body = &j->body;
    if (req->broker->coord == NULL)
        return true;
    size_t total = 0;
    for (int32_t t = 0; t < body->topics.count; t++)
        total += body->topics.items[t].partitions.count > 0
                     ? (size_t)body->topics.items[t].partitions.count
                     : 0;
    if (total == 0)
        return true;
    rn_offsets_tp_t *tps = rn_arena_try_alloc_array(&req->arena, rn_offsets_tp_t, total);
    if (tps == NULL)
        return false;
    size_t n = 0;
    for (int32_t t = 0; t < body->topics.count; t++) {
        if (body->topics.items[t].name.ptr == NULL)
            continue; /* v10: no topic has its id; nothing will be written for it */
        for (int32_t i = 0; i < body->topics.items[t].partitions.count; i++)
            tps[n++] =
                (rn_offsets_tp_t){ body->topics.items[t].name,
                                   body->topics.items[t].partitions.items[i].partition_index };
    }
    if (n == 0)
        return true;
    j->pending = (rn_offsets_pending_t){ .group_id = body->group_id, .tps = tps, .n = n };
    rn_offsets_pending_add(rn_coord_offsets(req->broker->coord), &j->pending);
    return true;
}

static void run_commit(rn_job_t *job)
{
    commit_job_t *j = (commit_job_t *)job;
    rn_request_t *req = job->req;
    const rn_offset_commit_request_t *body = &j->body;
    int16_t v = req->api_version;
    rn_coord_t *coord = req->broker->coord;
    const rn_config_t *cfg = req->broker->config;

    int32_t nt = body->topics.count > 0 ? body->topics.count : 0;
    size_t total = 0;
    for (int32_t t = 0; t < nt; t++)
        total += body->topics.items[t].partitions.count > 0
                     ? (size_t)body->topics.items[t].partitions.count
                     : 0;
    rn_offset_commit_response_topic_t *rtopics =
        rn_arena_try_alloc_array(&req->arena, rn_offset_commit_response_topic_t, nt ? nt : 1);
    rn_offsets_commit_t *commits =
        rn_arena_try_alloc_array(&req->arena, rn_offsets_commit_t, total ? total : 1);
    rn_offset_commit_response_partition_t **slots =
        rn_arena_try_alloc_array(&req->arena, rn_offset_commit_response_partition_t *,
                                 total ? total : 1);
    if (rtopics == NULL || commits == NULL || slots == NULL)
        goto oom;

    /* The group's verdict. v0 commits come from the ZooKeeper era, without generation or member:
     * they are stored like standalone v1 commits (generation -1, empty member id). */
    rn_kerr_t group_error = 0;
    if (coord == NULL) {
        group_error = RN_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if (body->group_id.len > MAX_GROUP_ID_LEN) {
        group_error = RN_KERR_INVALID_GROUP_ID;
    } else {
        rn_groups_commit_args_t args = {
            .version = v,
            .group_id = body->group_id,
            .member_id =
                v >= 1 && body->member_id.ptr != NULL ? body->member_id : rn_str_from_cstr(""),
            .group_instance_id = v >= 7 ? body->group_instance_id : (rn_str_t){ NULL, 0 },
            .generation = v >= 1 ? body->generation_id_or_member_epoch : -1,
            .has_offsets = rn_offsets_has_group(rn_coord_offsets(coord), body->group_id),
        };
        group_error = rn_groups_check_commit(rn_coord_groups(coord), &args);
    }
    int32_t max_metadata = cfg != NULL ? cfg->offset_metadata_max_bytes : 4096;

    size_t n = 0;
    for (int32_t t = 0; t < nt; t++) {
        const rn_offset_commit_request_topic_t *qt = &body->topics.items[t];
        rn_offset_commit_response_topic_t *rt = &rtopics[t];
        rn_offset_commit_response_topic_init(rt);
        rt->name = qt->name;
        rt->topic_id = qt->topic_id;
        int32_t np = qt->partitions.count > 0 ? qt->partitions.count : 0;
        rn_offset_commit_response_partition_t *rparts =
            rn_arena_try_alloc_array(&req->arena, rn_offset_commit_response_partition_t,
                                     np ? np : 1);
        if (rparts == NULL)
            goto oom;
        rt->partitions.items = rparts;
        rt->partitions.count = np;
        /* v10: looked up by id again, so a topic deleted since the handler read its name is
         * unknown here, and a topic of that name made meanwhile is not taken for it. */
        rn_topic_t *topic = v < 10 ? rn_topics_get(req->broker->topics, qt->name)
                            : qt->name.ptr != NULL
                                ? rn_topics_get_by_id(req->broker->topics, qt->topic_id)
                                : NULL;
        for (int32_t i = 0; i < np; i++) {
            const rn_offset_commit_request_partition_t *qp = &qt->partitions.items[i];
            rn_offset_commit_response_partition_t *rp = &rparts[i];
            rn_offset_commit_response_partition_init(rp);
            rp->partition_index = qp->partition_index;
            if (topic == NULL && v >= 10)
                rp->error_code = RN_KERR_UNKNOWN_TOPIC_ID;
            else if (!partition_exists(topic, qp->partition_index))
                rp->error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (group_error != 0)
                rp->error_code = group_error;
            else if (qp->committed_metadata.len > (size_t)max_metadata)
                rp->error_code = RN_KERR_OFFSET_METADATA_TOO_LARGE;
            if (rp->error_code != 0)
                continue;
            commits[n] = (rn_offsets_commit_t){
                .topic = qt->name,
                .partition = qp->partition_index,
                .offset = qp->committed_offset,
                .leader_epoch = v >= 6 ? qp->committed_leader_epoch : -1,
                .metadata = qp->committed_metadata,
                /* v1 alone lets the client stamp the commit; -1 there means now, as elsewhere. */
                .commit_timestamp = v == 1 ? qp->commit_timestamp : -1,
            };
            slots[n++] = rp;
        }
        rn_topic_unref(topic);
    }
    if (n > 0) {
        /* retention_time_ms (v2-v4) is not honoured: offsets.retention.minutes applies to all. */
        int rc = rn_offsets_commit(rn_coord_offsets(coord), body->group_id, commits, n,
                                   rn_coord_now(coord));
        if (rc != 0) {
            rn_log(RN_LOG_ERROR, "handlers",
                   "OffsetCommit of %zu offsets for group %.*s failed: %s", n,
                   (int)(body->group_id.len > 200 ? 200 : body->group_id.len), body->group_id.ptr,
                   strerror(-rc));
            for (size_t i = 0; i < n; i++)
                slots[i]->error_code = append_error(rc);
        }
    }
    rn_offset_commit_response_init(&j->resp);
    j->resp.topics.items = rtopics;
    j->resp.topics.count = nt;
    job->resp = &j->resp;
    pending_end(j);
    return;
oom:
    pending_end(j);
    job->oom = true;
}

void rn_handle_offset_commit(rn_request_t *req)
{
    commit_job_t *j = rn_job_new(req, sizeof *j, run_commit);
    if (j == NULL || !rn_decode_body(req, &j->body))
        return;
    /* v10 names topics by id: from here on each topic's `name` is the name of the topic with
     * that id (ptr NULL: none), under which its offsets are kept and marked pending. */
    for (int32_t t = 0; req->api_version >= 10 && t < j->body.topics.count; t++) {
        rn_offset_commit_request_topic_t *qt = &j->body.topics.items[t];
        if (!name_of_id(req, qt->topic_id, &qt->name)) {
            rn_reject(req, "out of memory");
            return;
        }
    }
    if (!pending_begin(j)) {
        rn_reject(req, "out of memory");
        return;
    }
    j->job.dropped = on_commit_dropped;
    rn_job_start(&j->job);
}

/* ---- OffsetFetch ---- */

/* The answer for one partition, in the v8 shape (v0-v7 copy it into theirs). Unknown offsets
 * are -1 with no error, as Kafka answers them. */
typedef rn_offset_fetch_response_group_partition_t fetched_t;

static int fetch_one(rn_request_t *req, rn_offsets_t *offsets, rn_str_t group, rn_str_t topic,
                     int32_t partition, rn_kerr_t group_error, bool require_stable, fetched_t *out)
{
    rn_offset_fetch_response_group_partition_init(out);
    out->partition_index = partition;
    out->committed_offset = -1;
    out->committed_leader_epoch = -1;
    out->metadata = rn_str_from_cstr("");
    out->error_code = group_error;
    if (group_error != 0)
        return 0;
    if (require_stable && rn_offsets_is_pending(offsets, group, topic, partition)) {
        out->error_code = RN_KERR_UNSTABLE_OFFSET_COMMIT;
        return 0;
    }
    rn_offsets_entry_t e;
    bool found;
    int rc = rn_offsets_fetch(offsets, group, topic, partition, &req->arena, &e, &found);
    if (rc != 0)
        return rc;
    if (found) {
        out->committed_offset = e.offset;
        out->committed_leader_epoch = e.leader_epoch;
        out->metadata = e.metadata;
    }
    return 0;
}

/* One group's answer in the v8 shape: the requested topics (`ntopics` -1: every offset of the
 * group, named by id too when `by_id`). Returns false when the arena is exhausted. */
typedef struct requested_topic {
    rn_str_t name; /* v10: the name of the topic with that id; ptr NULL: no topic has it */
    rn_uuid_t topic_id;
    const int32_t *partitions;
    int32_t npartitions;
} requested_topic_t;

static bool same_name(rn_str_t a, rn_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool fetch_group(rn_request_t *req, rn_offsets_t *offsets, rn_str_t group,
                        const requested_topic_t *topics, int32_t ntopics, rn_kerr_t group_error,
                        bool require_stable, bool by_id, rn_offset_fetch_response_group_t *out)
{
    rn_offset_fetch_response_group_init(out);
    out->group_id = group;
    out->error_code = group_error;
    if (ntopics >= 0) {
        rn_offset_fetch_response_group_topic_t *rtopics =
            rn_arena_try_alloc_array(&req->arena, rn_offset_fetch_response_group_topic_t,
                                     ntopics ? ntopics : 1);
        if (rtopics == NULL)
            return false;
        for (int32_t t = 0; t < ntopics; t++) {
            rn_offset_fetch_response_group_topic_init(&rtopics[t]);
            rtopics[t].name = topics[t].name;
            rtopics[t].topic_id = topics[t].topic_id;
            int32_t np = topics[t].npartitions > 0 ? topics[t].npartitions : 0;
            fetched_t *parts = rn_arena_try_alloc_array(&req->arena, fetched_t, np ? np : 1);
            if (parts == NULL)
                return false;
            /* Kafka resolves ids before it asks the group: an unknown id is UNKNOWN_TOPIC_ID
             * (offset -1, metadata "") whatever the group. */
            rn_kerr_t error =
                by_id && topics[t].name.ptr == NULL ? RN_KERR_UNKNOWN_TOPIC_ID : group_error;
            for (int32_t i = 0; i < np; i++) {
                int32_t partition = topics[t].partitions[i];
                if (fetch_one(req, offsets, group, topics[t].name, partition, error, require_stable,
                              &parts[i]) != 0)
                    return false;
            }
            rtopics[t].partitions.items = parts;
            rtopics[t].partitions.count = np;
        }
        out->topics.items = rtopics;
        out->topics.count = ntopics;
        return true;
    }
    /* All topics: the group's offsets sorted by topic, one response topic per run. */
    rn_offsets_entry_t *entries = NULL;
    size_t n = 0;
    if (group_error == 0 && rn_offsets_fetch_all(offsets, group, &req->arena, &entries, &n) != 0)
        return false;
    int32_t nt = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || !same_name(entries[i].topic, entries[i - 1].topic))
            nt++;
    rn_offset_fetch_response_group_topic_t *rtopics =
        rn_arena_try_alloc_array(&req->arena, rn_offset_fetch_response_group_topic_t, nt ? nt : 1);
    fetched_t *parts = rn_arena_try_alloc_array(&req->arena, fetched_t, n ? n : 1);
    if (rtopics == NULL || parts == NULL)
        return false;
    int32_t t = -1;
    size_t k = 0;
    bool skip = false;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || !same_name(entries[i].topic, entries[i - 1].topic)) {
            rn_uuid_t id = { { 0 } };
            if (by_id) {
                /* A topic deleted since its offsets were read has no id to name it by; its
                 * offsets are on their way out (rn_coord_topic_deleted), as in Kafka. */
                rn_topic_t *topic = rn_topics_get(req->broker->topics, entries[i].topic);
                if (topic != NULL)
                    id = topic->id;
                skip = topic == NULL;
                rn_topic_unref(topic);
            }
            if (skip)
                continue;
            t++;
            rn_offset_fetch_response_group_topic_init(&rtopics[t]);
            rtopics[t].name = entries[i].topic;
            rtopics[t].topic_id = id;
            rtopics[t].partitions.items = &parts[k];
        } else if (skip) {
            continue;
        }
        fetched_t *p = &parts[k++];
        rn_offset_fetch_response_group_partition_init(p);
        p->partition_index = entries[i].partition;
        p->committed_offset = entries[i].offset;
        p->committed_leader_epoch = entries[i].leader_epoch;
        p->metadata = entries[i].metadata;
        if (require_stable &&
            rn_offsets_is_pending(offsets, group, entries[i].topic, entries[i].partition)) {
            p->error_code = RN_KERR_UNSTABLE_OFFSET_COMMIT;
            p->committed_offset = -1;
            p->committed_leader_epoch = -1;
            p->metadata = rn_str_from_cstr("");
        }
        rtopics[t].partitions.count++;
    }
    out->topics.items = rtopics;
    out->topics.count = t + 1;
    return true;
}

/* v0-v7: the single group's answer moved into the older shape. */
static bool to_old_shape(rn_request_t *req, const rn_offset_fetch_response_group_t *g,
                         rn_offset_fetch_response_t *resp)
{
    int32_t nt = g->topics.count;
    rn_offset_fetch_response_topic_t *rtopics =
        rn_arena_try_alloc_array(&req->arena, rn_offset_fetch_response_topic_t, nt ? nt : 1);
    if (rtopics == NULL)
        return false;
    for (int32_t t = 0; t < nt; t++) {
        const rn_offset_fetch_response_group_topic_t *src = &g->topics.items[t];
        rn_offset_fetch_response_topic_init(&rtopics[t]);
        rtopics[t].name = src->name;
        int32_t np = src->partitions.count;
        rn_offset_fetch_response_partition_t *parts =
            rn_arena_try_alloc_array(&req->arena, rn_offset_fetch_response_partition_t,
                                     np ? np : 1);
        if (parts == NULL)
            return false;
        for (int32_t i = 0; i < np; i++) {
            const fetched_t *f = &src->partitions.items[i];
            rn_offset_fetch_response_partition_init(&parts[i]);
            parts[i].partition_index = f->partition_index;
            parts[i].committed_offset = f->committed_offset;
            parts[i].committed_leader_epoch = f->committed_leader_epoch;
            parts[i].metadata = f->metadata;
            parts[i].error_code = f->error_code;
        }
        rtopics[t].partitions.items = parts;
        rtopics[t].partitions.count = np;
    }
    resp->topics.items = rtopics;
    resp->topics.count = nt;
    /* v0-v1 have no group error field: the partitions carry it (as Kafka does). */
    resp->error_code = g->error_code;
    return true;
}

void rn_handle_offset_fetch(rn_request_t *req)
{
    rn_offset_fetch_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    int16_t v = req->api_version;
    rn_coord_t *coord = req->broker->coord;
    rn_offsets_t *offsets = coord != NULL ? rn_coord_offsets(coord) : NULL;
    rn_kerr_t group_error = coord == NULL ? RN_KERR_COORDINATOR_NOT_AVAILABLE : 0;
    rn_offset_fetch_response_t resp;
    rn_offset_fetch_response_init(&resp);
    /* require_stable (v7+, KIP-447): an offset whose commit is still being written is answered
     * UNSTABLE_OFFSET_COMMIT, and the client asks again. */
    bool require_stable = v >= 7 && body.require_stable;
    if (v < 8) {
        int32_t nt = body.topics.count;
        requested_topic_t *topics =
            rn_arena_try_alloc_array(&req->arena, requested_topic_t, nt > 0 ? nt : 1);
        if (topics == NULL)
            goto oom;
        for (int32_t t = 0; t < nt; t++)
            topics[t] = (requested_topic_t){
                .name = body.topics.items[t].name,
                .partitions = body.topics.items[t].partition_indexes.items,
                .npartitions = body.topics.items[t].partition_indexes.count,
            };
        rn_offset_fetch_response_group_t g;
        if (!fetch_group(req, offsets, body.group_id, topics, nt < 0 ? -1 : nt, group_error,
                         require_stable, false, &g) ||
            !to_old_shape(req, &g, &resp))
            goto oom;
        rn_respond(req, &resp);
        return;
    }
    /* v9's member_id and member_epoch are a KIP-848 consumer's; Kafka checks them for consumer
     * groups only and answers a classic group, or one that does not exist, as without them. */
    bool by_id = v >= 10;
    int32_t ng = body.groups.count > 0 ? body.groups.count : 0;
    rn_offset_fetch_response_group_t *groups =
        rn_arena_try_alloc_array(&req->arena, rn_offset_fetch_response_group_t, ng ? ng : 1);
    if (groups == NULL)
        goto oom;
    for (int32_t i = 0; i < ng; i++) {
        const rn_offset_fetch_request_group_t *qg = &body.groups.items[i];
        int32_t nt = qg->topics.count;
        requested_topic_t *topics =
            rn_arena_try_alloc_array(&req->arena, requested_topic_t, nt > 0 ? nt : 1);
        if (topics == NULL)
            goto oom;
        for (int32_t t = 0; t < nt; t++) {
            const rn_offset_fetch_request_group_topic_t *qt = &qg->topics.items[t];
            topics[t] = (requested_topic_t){
                .name = qt->name,
                .topic_id = qt->topic_id,
                .partitions = qt->partition_indexes.items,
                .npartitions = qt->partition_indexes.count,
            };
            if (by_id && !name_of_id(req, qt->topic_id, &topics[t].name))
                goto oom;
        }
        if (!fetch_group(req, offsets, qg->group_id, topics, nt < 0 ? -1 : nt, group_error,
                         require_stable, by_id, &groups[i]))
            goto oom;
    }
    resp.groups.items = groups;
    resp.groups.count = ng;
    rn_respond(req, &resp);
    return;
oom:
    rn_reject(req, "out of memory");
}

/* ---- OffsetDelete ---- */

typedef struct delete_job {
    rn_job_t job;
    rn_offset_delete_request_t body;
    rn_offset_delete_response_t resp;
} delete_job_t;

static void run_delete(rn_job_t *job)
{
    delete_job_t *j = (delete_job_t *)job;
    rn_request_t *req = job->req;
    const rn_offset_delete_request_t *body = &j->body;
    rn_coord_t *coord = req->broker->coord;
    rn_offset_delete_response_init(&j->resp);
    job->resp = &j->resp;

    int32_t nt = body->topics.count > 0 ? body->topics.count : 0;
    size_t total = 0;
    for (int32_t t = 0; t < nt; t++)
        total += body->topics.items[t].partitions.count > 0
                     ? (size_t)body->topics.items[t].partitions.count
                     : 0;
    rn_offset_delete_response_topic_t *rtopics =
        rn_arena_try_alloc_array(&req->arena, rn_offset_delete_response_topic_t, nt ? nt : 1);
    rn_offsets_tp_t *tps =
        rn_arena_try_alloc_array(&req->arena, rn_offsets_tp_t, total ? total : 1);
    if (rtopics == NULL || tps == NULL)
        goto oom;
    if (coord == NULL) {
        j->resp.error_code = RN_KERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    /* Kafka: an empty group id is INVALID_GROUP_ID, a group that does not exist
     * GROUP_ID_NOT_FOUND. Here a group exists while it has members or offsets. */
    if (body->group_id.len == 0) {
        j->resp.error_code = RN_KERR_INVALID_GROUP_ID;
        return;
    }
    bool empty = rn_groups_is_empty(rn_coord_groups(coord), body->group_id);
    if (empty && !rn_offsets_has_group(rn_coord_offsets(coord), body->group_id)) {
        j->resp.error_code = RN_KERR_GROUP_ID_NOT_FOUND;
        return;
    }
    size_t n = 0;
    for (int32_t t = 0; t < nt; t++) {
        const rn_offset_delete_request_topic_t *qt = &body->topics.items[t];
        rn_offset_delete_response_topic_t *rt = &rtopics[t];
        rn_offset_delete_response_topic_init(rt);
        rt->name = qt->name;
        int32_t np = qt->partitions.count > 0 ? qt->partitions.count : 0;
        rn_offset_delete_response_partition_t *rparts =
            rn_arena_try_alloc_array(&req->arena, rn_offset_delete_response_partition_t,
                                     np ? np : 1);
        if (rparts == NULL)
            goto oom;
        rt->partitions.items = rparts;
        rt->partitions.count = np;
        rn_topic_t *topic = rn_topics_get(req->broker->topics, qt->name);
        for (int32_t i = 0; i < np; i++) {
            int32_t partition = qt->partitions.items[i].partition_index;
            rn_offset_delete_response_partition_init(&rparts[i]);
            rparts[i].partition_index = partition;
            if (!partition_exists(topic, partition))
                rparts[i].error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            /* Kafka refuses only for topics the group is subscribed to; without the members'
             * subscriptions at hand, a group with members keeps all its offsets. */
            else if (!empty)
                rparts[i].error_code = RN_KERR_GROUP_SUBSCRIBED_TO_TOPIC;
            else
                tps[n++] = (rn_offsets_tp_t){ .topic = qt->name, .partition = partition };
        }
        rn_topic_unref(topic);
    }
    j->resp.topics.items = rtopics;
    j->resp.topics.count = nt;
    if (n > 0) {
        int rc =
            rn_offsets_delete(rn_coord_offsets(coord), body->group_id, tps, n, rn_coord_now(coord));
        if (rc != 0) {
            rn_log(RN_LOG_ERROR, "handlers", "OffsetDelete for group %.*s failed: %s",
                   (int)(body->group_id.len > 200 ? 200 : body->group_id.len), body->group_id.ptr,
                   strerror(-rc));
            j->resp.error_code = append_error(rc);
        }
    }
    return;
oom:
    job->oom = true;
}

void rn_handle_offset_delete(rn_request_t *req)
{
    delete_job_t *j = rn_job_new(req, sizeof *j, run_delete);
    if (j != NULL && rn_decode_body(req, &j->body))
        rn_job_start(&j->job);
}
