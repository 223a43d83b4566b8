/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/topics/registry.c: lookups and references, listing, partition watchers, and
 * readers racing CreatePartitions and DeleteTopics from other threads. */
#include "fixture.h"

#include <pthread.h>

static fixture_t f;
static rn_topics_t *topics;

static void setup(void)
{
    fixture_init(&f, NULL);
    cr_assert_eq(rn_topics_open(&f.cfg, &topics), 0);
}

static void teardown(void)
{
    rn_topics_close(topics);
    fixture_deinit(&f);
}

TestSuite(registry, .init = setup, .fini = teardown);

static rn_topic_t *create(const char *name, int32_t partitions)
{
    rn_topic_spec_t spec = fixture_spec(name, partitions);
    rn_topic_t *topic = NULL;
    rn_topics_result_t res = rn_topics_create(topics, &spec, false, &topic);
    cr_assert_eq(res.error_code, 0, "%s", res.message);
    return topic;
}

Test(registry, lookups_count_references)
{
    rn_topic_t *topic = create("t", 1);
    cr_assert_eq(atomic_load(&topic->refs), 2, "the index's and ours");
    rn_topic_t *found = rn_topics_get(topics, rn_str_from_cstr("t"));
    cr_assert_eq(found, topic);
    cr_assert_eq(atomic_load(&topic->refs), 3);
    rn_topic_ref(found);
    cr_assert_eq(atomic_load(&topic->refs), 4);
    rn_topic_unref(found);
    rn_topic_unref(found);
    rn_topic_unref(topic);
    cr_assert_eq(atomic_load(&topic->refs), 1);
    rn_topic_ref(NULL);
    rn_topic_unref(NULL);
    cr_assert_null(rn_topics_get(topics, rn_str_from_cstr("T")), "names are case-sensitive");
    rn_uuid_t zero = { { 0 } };
    cr_assert_null(rn_topics_get_by_id(topics, zero));
}

Test(registry, a_view_is_matched_by_its_length)
{
    rn_topic_t *topic = create("abc", 1);
    rn_topic_t *found = rn_topics_get(topics, (rn_str_t){ "abcdef", 3 });
    cr_assert_eq(found, topic);
    rn_topic_unref(found);
    cr_assert_null(rn_topics_get(topics, (rn_str_t){ "abcdef", 4 }));
    rn_topic_unref(topic);
}

Test(registry, list_is_sorted_and_holds_references)
{
    static const char *names[] = { "zeta", "alpha", "__mine", "m" };
    for (size_t i = 0; i < 4; i++)
        rn_topic_unref(create(names[i], 1));
    rn_topic_t **list;
    size_t n = rn_topics_list(topics, &list);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(list[0]->name, "__mine");
    cr_assert_str_eq(list[1]->name, "alpha");
    cr_assert_str_eq(list[2]->name, "m");
    cr_assert_str_eq(list[3]->name, "zeta");
    cr_assert_eq(rn_topics_delete(topics, rn_str_from_cstr("m")).error_code, 0);
    cr_assert_str_eq(list[2]->name, "m", "the list's reference keeps it alive");
    cr_assert(atomic_load(&list[2]->deleted));
    rn_topics_list_free(list, n);
    n = rn_topics_list(topics, &list);
    cr_assert_eq(n, 3);
    rn_topics_list_free(list, n);
}

typedef struct counting_watch {
    rn_watch_t w;
    int wakes;
} counting_watch_t;

static void count_wake(rn_watch_t *w)
{
    rn_container_of(w, counting_watch_t, w)->wakes++;
}

Test(registry, notify_wakes_each_watcher_and_unwatch_removes_it)
{
    rn_topic_t *topic = create("t", 2);
    rn_partition_t *p0 = rn_topic_partition(topic, 0), *p1 = rn_topic_partition(topic, 1);
    counting_watch_t a = { .w.wake = count_wake }, b = { .w.wake = count_wake },
                     c = { .w.wake = count_wake };
    rn_partition_watch(p0, &a.w);
    rn_partition_watch(p0, &b.w);
    rn_partition_watch(p1, &c.w);
    rn_partition_notify(p0);
    cr_assert_eq(a.wakes, 1);
    cr_assert_eq(b.wakes, 1);
    cr_assert_eq(c.wakes, 0, "another partition's watchers sleep on");
    rn_partition_unwatch(p0, &a.w);
    rn_partition_notify(p0);
    cr_assert_eq(a.wakes, 1, "unwatched");
    cr_assert_eq(b.wakes, 2);
    rn_partition_unwatch(p0, &a.w); /* twice: harmless */
    rn_partition_unwatch(p0, &b.w);
    rn_partition_notify(p0);
    cr_assert_eq(b.wakes, 2);
    cr_assert_null(p0->watchers);
    counting_watch_t never = { .w.wake = count_wake };
    rn_partition_unwatch(p1, &never.w); /* never added: harmless */
    cr_assert_eq(p1->watchers, &c.w);
    rn_partition_watch(p0, &a.w); /* may watch again after unwatch */
    rn_partition_notify(p0);
    cr_assert_eq(a.wakes, 2);
    rn_partition_unwatch(p0, &a.w);
    rn_partition_unwatch(p1, &c.w);
    rn_topic_unref(topic);
}

Test(registry, watchers_in_the_middle_of_the_list_unlink_cleanly)
{
    rn_topic_t *topic = create("t", 1);
    rn_partition_t *part = rn_topic_partition(topic, 0);
    counting_watch_t w[5];
    for (int i = 0; i < 5; i++) {
        w[i] = (counting_watch_t){ .w.wake = count_wake };
        rn_partition_watch(part, &w[i].w);
    }
    rn_partition_unwatch(part, &w[2].w);
    rn_partition_unwatch(part, &w[4].w);
    rn_partition_unwatch(part, &w[0].w);
    rn_partition_notify(part);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(w[i].wakes, i == 1 || i == 3, "%d", i);
    rn_partition_unwatch(part, &w[1].w);
    rn_partition_unwatch(part, &w[3].w);
    cr_assert_null(part->watchers);
    rn_topic_unref(topic);
}

/* ---- Readers racing changes ---- */

static atomic_bool stop;

static void *reader(void *arg)
{
    (void)arg;
    long seen = 0;
    while (!atomic_load(&stop)) {
        rn_topic_t *topic = rn_topics_get(topics, rn_str_from_cstr("grow"));
        if (topic != NULL) {
            int32_t n = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
            for (int32_t i = 0; i < n; i++) {
                rn_partition_t *part = rn_topic_partition(topic, i);
                if (part == NULL || part->index != i || part->log == NULL)
                    abort();
            }
            rn_config_entry_t *e;
            size_t ne = rn_topic_config_entries(topics, topic, &e);
            rn_config_entries_free(e, ne);
            rn_topic_unref(topic);
            seen++;
        }
        rn_topic_t *other = rn_topics_get(topics, rn_str_from_cstr("churn"));
        if (other != NULL) {
            rn_partition_t *part = rn_topic_partition(other, 0);
            if (part == NULL || part->log == NULL)
                abort();
            rn_topic_unref(other);
        }
    }
    return (void *)seen;
}

Test(registry, readers_see_whole_partitions_while_topics_grow_and_churn)
{
    rn_topic_unref(create("grow", 1));
    pthread_t threads[4];
    atomic_store(&stop, false);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, reader, NULL), 0);
    for (int32_t n = 2; n <= 20; n++) {
        cr_assert_eq(rn_topics_add_partitions(topics, rn_str_from_cstr("grow"), n, false)
                         .error_code,
                     0);
        rn_topic_spec_t spec = fixture_spec("churn", 1);
        rn_topics_result_t res = rn_topics_create(topics, &spec, false, NULL);
        cr_assert(res.error_code == 0 || res.error_code == 36, "%s", res.message);
        rn_config_op_t op[] = { { "retention.ms", n % 2 ? "1000" : "2000", 0 } };
        cr_assert_eq(rn_topics_incremental_alter_configs(topics, rn_str_from_cstr("grow"), op, 1,
                                                         false)
                         .error_code,
                     0);
        rn_topics_delete(topics, rn_str_from_cstr("churn"));
    }
    atomic_store(&stop, true);
    long seen = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(threads[i], &r);
        seen += (long)r;
    }
    cr_assert_gt(seen, 0);
}
