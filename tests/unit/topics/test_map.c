/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/topics/map.c: the index finds each topic by name and by id, through growth and
 * removals. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topics/internal.h"

#define N 1000

static rn_topic_t topics[N];
static char names[N][16];

static void make_topics(void)
{
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "topic-%d", i);
        topics[i].name = names[i];
        memset(topics[i].id.b, 0, 16);
        memcpy(topics[i].id.b, &i, sizeof i);
        topics[i].id.b[15] = 0x5a;
    }
}

static void count_one(rn_topic_t *topic, void *arg)
{
    (void)topic;
    (*(size_t *)arg)++;
}

Test(map, finds_every_topic_by_name_and_id_after_growth)
{
    rn_topic_index_t index;
    make_topics();
    rn_topic_index_init(&index);
    for (int i = 0; i < N; i++)
        rn_topic_index_insert(&index, &topics[i]);
    cr_assert_eq(index.count, N);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(rn_topic_index_find(&index, rn_str_from_cstr(names[i])), &topics[i]);
        cr_assert_eq(rn_topic_index_find_id(&index, &topics[i].id), &topics[i]);
    }
    cr_assert_null(rn_topic_index_find(&index, rn_str_from_cstr("topic-")));
    cr_assert_null(rn_topic_index_find(&index, (rn_str_t){ "topic-1000x", 10 }),
                   "only the view's bytes count");
    cr_assert_eq(rn_topic_index_find(&index, (rn_str_t){ "topic-10x", 8 }), &topics[10]);
    cr_assert_null(rn_topic_index_find(&index, (rn_str_t){ NULL, 0 }));
    rn_uuid_t other = { { 1 } };
    cr_assert_null(rn_topic_index_find_id(&index, &other));
    size_t seen = 0;
    rn_topic_index_each(&index, count_one, &seen);
    cr_assert_eq(seen, N);
    rn_topic_index_deinit(&index);
}

Test(map, removed_topics_are_not_found)
{
    rn_topic_index_t index;
    make_topics();
    rn_topic_index_init(&index);
    for (int i = 0; i < 100; i++)
        rn_topic_index_insert(&index, &topics[i]);
    for (int i = 0; i < 100; i += 2)
        rn_topic_index_remove(&index, &topics[i]);
    cr_assert_eq(index.count, 50);
    for (int i = 0; i < 100; i++) {
        rn_topic_t *want = i % 2 ? &topics[i] : NULL;
        cr_assert_eq(rn_topic_index_find(&index, rn_str_from_cstr(names[i])), want, "%d", i);
        cr_assert_eq(rn_topic_index_find_id(&index, &topics[i].id), want, "%d", i);
    }
    rn_topic_index_remove(&index, &topics[0]); /* not there: nothing happens */
    cr_assert_eq(index.count, 50);
    rn_topic_index_deinit(&index);
}
