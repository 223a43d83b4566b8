/* SPDX-License-Identifier: Apache-2.0 */
/* The fault registry's matching, counting and listing (src/faults/faults.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "faults/faults.h"

static rn_fault_query_t query(int16_t api, const char *client, const rn_fault_target_t *targets,
                              size_t ntargets)
{
    return (rn_fault_query_t){
        .api_key = api,
        .client_id = client,
        .client_id_len = client != NULL ? strlen(client) : 0,
        .targets = targets,
        .ntargets = ntargets,
    };
}

static int64_t add_error(rn_faults_t *f, int16_t api, int64_t count, const char *topic,
                         int32_t partition, const char *client)
{
    rn_fault_spec_t spec = {
        .action = RN_FAULT_ERROR,
        .api_key = api,
        .error_code = 6,
        .count = count,
        .topic = topic,
        .partition = partition,
        .client_id = client,
    };
    return rn_faults_add(f, &spec);
}

Test(faults, an_empty_registry_is_not_armed_and_matches_nothing)
{
    rn_faults_t *f = rn_faults_new();
    cr_assert(!rn_faults_armed(f));
    cr_assert(!rn_faults_armed(NULL));
    rn_fault_query_t q = query(0, "c", NULL, 0);
    rn_fault_hit_t hit;
    cr_assert(!rn_faults_take(f, &q, &hit));
    rn_faults_free(f);
}

Test(faults, an_error_fault_applies_count_times_then_disarms_but_stays_listed)
{
    rn_faults_t *f = rn_faults_new();
    int64_t id = add_error(f, 0, 3, NULL, -1, NULL);
    cr_assert_eq(id, 1);
    cr_assert(rn_faults_armed(f));
    rn_fault_query_t q = query(0, "producer", NULL, 0);
    rn_fault_hit_t hit;
    for (int64_t left = 2; left >= 0; left--) {
        cr_assert(rn_faults_take(f, &q, &hit));
        cr_assert_eq(hit.id, id);
        cr_assert_eq(hit.action, RN_FAULT_ERROR);
        cr_assert_eq(hit.error_code, 6);
        cr_assert_eq(hit.remaining, left);
    }
    cr_assert(!rn_faults_take(f, &q, &hit));
    cr_assert(!rn_faults_armed(f));
    cr_assert_eq(rn_faults_injected(f, RN_FAULT_ERROR, 0), 3);
    cr_assert_eq(rn_faults_injected(f, RN_FAULT_ERROR, 1), 0);
    cr_assert_eq(rn_faults_clear(f), 1); /* still listed until cleared */
    cr_assert_eq(rn_faults_injected(f, RN_FAULT_ERROR, 0), 3);
    rn_faults_free(f);
}

Test(faults, the_api_and_client_id_must_match)
{
    rn_faults_t *f = rn_faults_new();
    add_error(f, 1, 5, NULL, -1, "wanted");
    rn_fault_hit_t hit;
    rn_fault_query_t other_api = query(0, "wanted", NULL, 0);
    rn_fault_query_t other_client = query(1, "wanted2", NULL, 0);
    rn_fault_query_t null_client = query(1, NULL, NULL, 0);
    rn_fault_query_t right = query(1, "wanted", NULL, 0);
    cr_assert(!rn_faults_take(f, &other_api, &hit));
    cr_assert(!rn_faults_take(f, &other_client, &hit));
    cr_assert(!rn_faults_take(f, &null_client, &hit));
    cr_assert(rn_faults_take(f, &right, &hit));
    rn_faults_free(f);
}

Test(faults, topic_and_partition_filters_match_what_the_request_names)
{
    rn_faults_t *f = rn_faults_new();
    add_error(f, 0, -1, "orders", 2, NULL);
    cr_assert(rn_faults_wants_topics(f, 0));
    cr_assert(!rn_faults_wants_topics(f, 1));
    rn_fault_target_t other_partition[] = { { "orders", 6, 1 }, { "audit", 5, 2 } };
    rn_fault_target_t prefix_name[] = { { "orders", 5, 2 } }; /* "order" */
    rn_fault_target_t named[] = { { "audit", 5, 0 }, { "orders", 6, 2 } };
    rn_fault_target_t whole_topic[] = { { "orders", 6, -1 } };
    rn_fault_hit_t hit;
    rn_fault_query_t q = query(0, "c", other_partition, 2);
    cr_assert(!rn_faults_take(f, &q, &hit));
    q = query(0, "c", prefix_name, 1);
    cr_assert(!rn_faults_take(f, &q, &hit));
    q = query(0, "c", NULL, 0);
    cr_assert(!rn_faults_take(f, &q, &hit));
    q = query(0, "c", named, 2);
    cr_assert(rn_faults_take(f, &q, &hit));
    cr_assert_eq(hit.remaining, -1);
    q = query(0, "c", whole_topic, 1);
    cr_assert(rn_faults_take(f, &q, &hit));
    rn_faults_free(f);
}

Test(faults, the_first_fault_added_that_matches_applies)
{
    rn_faults_t *f = rn_faults_new();
    rn_fault_spec_t delay = {
        .action = RN_FAULT_DELAY, .api_key = 3, .delay_ms = 50, .count = 1, .partition = -1
    };
    int64_t first = rn_faults_add(f, &delay);
    int64_t second = add_error(f, 3, 1, NULL, -1, NULL);
    rn_fault_query_t q = query(3, "c", NULL, 0);
    rn_fault_hit_t hit;
    cr_assert(rn_faults_take(f, &q, &hit));
    cr_assert_eq(hit.id, first);
    cr_assert_eq(hit.action, RN_FAULT_DELAY);
    cr_assert_eq(hit.delay_ms, 50);
    cr_assert(rn_faults_take(f, &q, &hit));
    cr_assert_eq(hit.id, second);
    cr_assert(!rn_faults_take(f, &q, &hit));
    rn_faults_free(f);
}

Test(faults, removing_one_fault_leaves_the_others)
{
    rn_faults_t *f = rn_faults_new();
    int64_t a = add_error(f, 0, 1, NULL, -1, NULL);
    int64_t b = add_error(f, 1, 1, NULL, -1, NULL);
    cr_assert(rn_faults_remove(f, a));
    cr_assert(!rn_faults_remove(f, a));
    rn_fault_hit_t hit;
    rn_fault_query_t produce = query(0, "c", NULL, 0);
    rn_fault_query_t fetch = query(1, "c", NULL, 0);
    cr_assert(!rn_faults_take(f, &produce, &hit));
    cr_assert(rn_faults_take(f, &fetch, &hit));
    cr_assert_eq(hit.id, b);
    int64_t c = add_error(f, 0, 1, NULL, -1, NULL);
    cr_assert_gt(c, b); /* ids are never reused */
    rn_faults_free(f);
}

Test(faults, refuse_connections_lasts_its_window_and_is_counted)
{
    rn_faults_t *f = rn_faults_new();
    rn_fault_hit_t hit;
    cr_assert(!rn_faults_refuse_connection(f, &hit));
    rn_fault_spec_t spec = { .action = RN_FAULT_REFUSE_CONNECTIONS,
                             .api_key = RN_FAULT_NO_API,
                             .duration_ms = 60000,
                             .partition = -1 };
    int64_t id = rn_faults_add(f, &spec);
    cr_assert(!rn_faults_armed(f)); /* no request fault */
    cr_assert(rn_faults_refuse_connection(f, &hit));
    cr_assert_eq(hit.id, id);
    cr_assert(rn_faults_refuse_connection(f, &hit));
    cr_assert_eq(rn_faults_injected(f, RN_FAULT_REFUSE_CONNECTIONS, RN_FAULT_NO_API), 2);
    cr_assert(rn_faults_remove(f, id));
    cr_assert(!rn_faults_refuse_connection(f, &hit));
    spec.duration_ms = 0; /* a window that is already over */
    rn_faults_add(f, &spec);
    cr_assert(!rn_faults_refuse_connection(f, &hit));
    rn_faults_free(f);
}

static void count_each(rn_fault_action_t action, int16_t api, uint64_t n, void *ctx)
{
    char *out = ctx;
    char line[64];
    snprintf(line, sizeof line, "%s/%d=%llu;", rn_fault_action_name(action), api,
             (unsigned long long)n);
    strcat(out, line);
}

Test(faults, the_injected_counters_are_listed_by_action_and_api)
{
    rn_faults_t *f = rn_faults_new();
    add_error(f, 9, 1, NULL, -1, NULL);
    rn_fault_spec_t close = { .action = RN_FAULT_CLOSE, .api_key = 1, .count = 2, .partition = -1 };
    rn_faults_add(f, &close);
    rn_fault_hit_t hit;
    rn_fault_query_t fetch = query(1, NULL, NULL, 0), offset_fetch = query(9, NULL, NULL, 0);
    cr_assert(rn_faults_take(f, &fetch, &hit));
    cr_assert(rn_faults_take(f, &fetch, &hit));
    cr_assert(rn_faults_take(f, &offset_fetch, &hit));
    char out[256] = "";
    rn_faults_injected_each(f, count_each, out);
    cr_assert_str_eq(out, "error/9=1;close/1=2;");
    rn_faults_free(f);
}

Test(faults, action_names_round_trip)
{
    for (int a = 0; a < RN_FAULT__COUNT; a++) {
        rn_fault_action_t back;
        cr_assert(rn_fault_action_parse(rn_fault_action_name((rn_fault_action_t)a), &back));
        cr_assert_eq(back, a);
    }
    rn_fault_action_t x;
    cr_assert(!rn_fault_action_parse("explode", &x));
}
