/* SPDX-License-Identifier: Apache-2.0 */
/* The group admin APIs: DescribeGroups (key 15) v0-v5, ListGroups (16) v0-v4, DeleteGroups (42)
 * v0-v2, over src/coord/groups.h and, for groups that only have committed offsets (a kcat or
 * simple consumer that never joined, or a group loaded without its metadata), offsets.h: Kafka
 * shows those as Empty groups with protocol type "", and deletes them like any empty group.
 *
 * DeleteGroups writes tombstones (blocking), so it runs as a job (job.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coord/groups.h"
#include "coord/offsets.h"
#include "handlers/acl.h"
#include "handlers/admin.h"
#include "handlers/handlers.h"
#include "handlers/job.h"
#include "util/err.h"

static rn_groups_t *groups_of(const rn_request_t *req)
{
    return req->broker != NULL && req->broker->coord != NULL ? rn_coord_groups(req->broker->coord)
                                                             : NULL;
}

static rn_offsets_t *offsets_of(const rn_request_t *req)
{
    return req->broker != NULL && req->broker->coord != NULL ? rn_coord_offsets(req->broker->coord)
                                                             : NULL;
}

/* ---- DescribeGroups ---- */

static bool describe_one(rn_request_t *req, rn_groups_t *groups, rn_offsets_t *offsets,
                         bool with_operations, rn_describe_groups_response_group_t *out)
{
    rn_groups_description_t d;
    if (rn_groups_describe(groups, out->group_id, &req->arena, &d) != 0)
        return false;
    /* A group with offsets and no metadata exists for Kafka: an Empty group of no type. */
    bool has_offsets = offsets != NULL && rn_offsets_has_group(offsets, out->group_id);
    if (!d.found && has_offsets)
        d.state = "Empty";
    /* KIP-1043: from v6 a group that does not exist is an error, not a Dead group. */
    if (!d.found && !has_offsets && req->api_version >= 6) {
        out->error_code = RN_KERR_GROUP_ID_NOT_FOUND;
        out->error_message = rn_admin_message(req, "Group %.*s not found.", (int)out->group_id.len,
                                              out->group_id.ptr);
    }
    out->group_state = rn_str_from_cstr(d.state);
    out->protocol_type = d.protocol_type;
    out->protocol_data = d.protocol_data;
    /* KIP-430: every operation a group supports (acl.h), for a group the answer describes; a
     * group answered with an error (v6+: not found) keeps the "not asked" value, as in Kafka. */
    if (with_operations && out->error_code == 0)
        out->authorized_operations = rn_acl_authorized_operations(RN_ACL_RESOURCE_GROUP);
    if (d.nmembers == 0)
        return true;
    rn_describe_groups_response_member_t *items =
        rn_arena_try_alloc_array(&req->arena, rn_describe_groups_response_member_t, d.nmembers);
    if (items == NULL)
        return false;
    for (size_t i = 0; i < d.nmembers; i++) {
        rn_describe_groups_response_member_init(&items[i]);
        items[i].member_id = d.members[i].member_id;
        items[i].group_instance_id = d.members[i].group_instance_id;
        items[i].client_id = d.members[i].client_id;
        items[i].client_host = d.members[i].client_host;
        items[i].member_metadata = d.members[i].metadata;
        items[i].member_assignment = d.members[i].assignment;
    }
    out->members.items = items;
    out->members.count = (int32_t)d.nmembers;
    return true;
}

void rn_handle_describe_groups(rn_request_t *req)
{
    rn_describe_groups_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_groups_t *groups = groups_of(req);
    rn_offsets_t *offsets = offsets_of(req);
    int32_t n = body.groups.count > 0 ? body.groups.count : 0;
    rn_describe_groups_response_group_t *items =
        rn_arena_try_alloc_array(&req->arena, rn_describe_groups_response_group_t, n ? n : 1);
    if (items == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    bool with_operations = req->api_version >= 3 && body.include_authorized_operations;
    for (int32_t i = 0; i < n; i++) {
        rn_describe_groups_response_group_init(&items[i]);
        items[i].group_id = body.groups.items[i];
        if (groups == NULL) {
            items[i].error_code = RN_KERR_COORDINATOR_NOT_AVAILABLE;
        } else if (!describe_one(req, groups, offsets, with_operations, &items[i])) {
            rn_reject(req, "out of memory");
            return;
        }
    }
    rn_describe_groups_response_t resp;
    rn_describe_groups_response_init(&resp);
    resp.groups.items = items;
    resp.groups.count = n;
    rn_respond(req, &resp);
}

/* ---- ListGroups ---- */

typedef struct id_node {
    struct id_node *next;
    rn_str_t id;
} id_node_t;

typedef struct collect {
    rn_arena_t *arena;
    id_node_t *head;
    size_t n;
    bool oom;
} collect_t;

/* Runs under the offsets' lock: it only copies. */
static void collect_offsets_group(void *ctx, rn_str_t group_id)
{
    collect_t *c = ctx;
    id_node_t *node = c->oom ? NULL : rn_arena_try_alloc(c->arena, sizeof *node);
    char *copy = node != NULL
                     ? rn_arena_strndup(c->arena, group_id.ptr ? group_id.ptr : "", group_id.len)
                     : NULL;
    if (copy == NULL) {
        c->oom = true;
        return;
    }
    node->id = (rn_str_t){ copy, group_id.len };
    node->next = c->head;
    c->head = node;
    c->n++;
}

static int compare_ids(rn_str_t a, rn_str_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;
    return c != 0 ? c : (a.len > b.len) - (a.len < b.len);
}

static int compare_overviews(const void *a, const void *b)
{
    return compare_ids(((const rn_groups_overview_t *)a)->group_id,
                       ((const rn_groups_overview_t *)b)->group_id);
}

static int compare_strs(const void *a, const void *b)
{
    return compare_ids(*(const rn_str_t *)a, *(const rn_str_t *)b);
}

/* v4 (KIP-518): keep groups in one of the states asked for; Kafka compares them ignoring case. */
static bool state_wanted(const rn_list_groups_request_t *body, int16_t version, const char *state)
{
    if (version < 4 || body->states_filter.count <= 0)
        return true;
    size_t len = strlen(state);
    for (int32_t i = 0; i < body->states_filter.count; i++) {
        rn_str_t f = body->states_filter.items[i];
        if (f.len == len && strncasecmp(f.ptr, state, len) == 0)
            return true;
    }
    return false;
}

/* v5 (KIP-848): every group here is a classic one; a types filter without "classic" (compared
 * ignoring case) lists none. */
#define GROUP_TYPE "classic"

static bool type_wanted(const rn_list_groups_request_t *body, int16_t version)
{
    if (version < 5 || body->types_filter.count <= 0)
        return true;
    for (int32_t i = 0; i < body->types_filter.count; i++) {
        rn_str_t f = body->types_filter.items[i];
        if (f.len == strlen(GROUP_TYPE) && strncasecmp(f.ptr, GROUP_TYPE, f.len) == 0)
            return true;
    }
    return false;
}

void rn_handle_list_groups(rn_request_t *req)
{
    rn_list_groups_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_groups_t *groups = groups_of(req);
    rn_offsets_t *offsets = offsets_of(req);
    rn_list_groups_response_t resp;
    rn_list_groups_response_init(&resp);
    if (groups == NULL) {
        resp.error_code = RN_KERR_COORDINATOR_NOT_AVAILABLE;
        rn_respond(req, &resp);
        return;
    }
    rn_groups_overview_t *known;
    size_t nknown;
    collect_t c = { .arena = &req->arena };
    if (rn_groups_list(groups, &req->arena, &known, &nknown) != 0) {
        rn_reject(req, "out of memory");
        return;
    }
    if (offsets != NULL)
        rn_offsets_each_group(offsets, collect_offsets_group, &c);
    rn_str_t *extra = rn_arena_try_alloc_array(&req->arena, rn_str_t, c.n ? c.n : 1);
    rn_list_groups_response_group_t *items =
        rn_arena_try_alloc_array(&req->arena, rn_list_groups_response_group_t,
                                 (nknown + c.n) ? nknown + c.n : 1);
    if (c.oom || extra == NULL || items == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    size_t nextra = 0;
    for (id_node_t *node = c.head; node != NULL; node = node->next)
        extra[nextra++] = node->id;
    qsort(known, nknown, sizeof *known, compare_overviews);
    qsort(extra, nextra, sizeof *extra, compare_strs);
    /* Merge by id: a group the groups room knows is listed as it is; one with only offsets is
     * an Empty group without a protocol type. */
    size_t k = 0, i = 0, j = 0;
    while (i < nknown || j < nextra) {
        int cmp = i == nknown ? 1 : j == nextra ? -1 : compare_ids(known[i].group_id, extra[j]);
        rn_list_groups_response_group_t g;
        rn_list_groups_response_group_init(&g);
        const char *state;
        if (cmp <= 0) {
            g.group_id = known[i].group_id;
            g.protocol_type = known[i].protocol_type;
            state = known[i].state;
            i++;
            j += cmp == 0;
        } else {
            g.group_id = extra[j];
            g.protocol_type = (rn_str_t){ "", 0 };
            state = "Empty";
            j++;
        }
        if (!state_wanted(&body, req->api_version, state) || !type_wanted(&body, req->api_version))
            continue;
        g.group_state = rn_str_from_cstr(state);
        g.group_type = rn_str_from_cstr(GROUP_TYPE);
        items[k++] = g;
    }
    resp.groups.items = items;
    resp.groups.count = (int32_t)k;
    rn_respond(req, &resp);
}

/* ---- DeleteGroups ---- */

typedef struct delete_groups_job {
    rn_job_t job;
    rn_delete_groups_request_t body;
    rn_delete_groups_response_t resp;
    rn_groups_t *groups;
    rn_offsets_t *offsets;
    uint8_t *classes; /* rn_admin_classify_keys of the group ids */
} delete_groups_job_t;

/* Deletes one group and its offsets. */
static rn_kerr_t delete_one(delete_groups_job_t *j, rn_str_t group_id, int64_t now_ms)
{
    if (j->groups == NULL)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    int16_t err = rn_groups_delete(j->groups, group_id);
    if (err == RN_KERR_GROUP_ID_NOT_FOUND && j->offsets != NULL &&
        rn_offsets_has_group(j->offsets, group_id))
        err = 0;
    if (err == 0 && j->offsets != NULL &&
        rn_offsets_delete_group(j->offsets, group_id, now_ms) != 0)
        err = RN_KERR_UNKNOWN_SERVER_ERROR; /* the tombstones could not be written; logged there */
    return err;
}

static void run_delete_groups(rn_job_t *job)
{
    delete_groups_job_t *j = rn_container_of(job, delete_groups_job_t, job);
    rn_request_t *req = job->req;
    int32_t n = j->body.groups_names.count > 0 ? j->body.groups_names.count : 0;
    rn_delete_groups_response_init(&j->resp);
    job->resp = &j->resp;
    rn_delete_groups_response_result_t *items =
        rn_arena_try_alloc_array(&req->arena, rn_delete_groups_response_result_t, n ? n : 1);
    j->classes = rn_arena_try_alloc_array(&req->arena, uint8_t, n ? n : 1);
    if (items == NULL || j->classes == NULL ||
        !rn_admin_classify_keys(&req->arena, j->body.groups_names.items, n, j->classes)) {
        job->oom = true;
        return;
    }
    int64_t now_ms = j->groups != NULL ? rn_groups_now(j->groups) : 0;
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        if (j->classes[i] == RN_ADMIN_KEY_REPEAT)
            continue; /* Kafka answers each group once */
        rn_delete_groups_response_result_init(&items[k]);
        items[k].group_id = j->body.groups_names.items[i];
        items[k].error_code = delete_one(j, items[k].group_id, now_ms);
        k++;
    }
    if (j->groups != NULL)
        rn_groups_flush(j->groups);
    j->resp.results.items = items;
    j->resp.results.count = k;
}

void rn_handle_delete_groups(rn_request_t *req)
{
    delete_groups_job_t *j = rn_job_new(req, sizeof *j, run_delete_groups);
    if (j == NULL || !rn_decode_body(req, &j->body))
        return;
    j->groups = groups_of(req);
    j->offsets = offsets_of(req);
    rn_job_start(&j->job);
}
