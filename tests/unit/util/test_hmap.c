/* SPDX-License-Identifier: Apache-2.0 */
/* rn_hmap: its SipHash code against the paper's SipHash-2-4 test vector, the table's insert,
 * lookup, removal, growth and iteration, and the reason it exists: group ids chosen to share a
 * bucket under an unseeded FNV-1a (what the coordinator's maps used to do) spread out under the
 * seeded hash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "util/hmap.h"

typedef struct item {
    rn_hmap_node_t node;
    char key[32];
} item_t;

static item_t *find(const rn_hmap_t *m, const char *key)
{
    uint64_t h = rn_hmap_hash(m, key, strlen(key));
    for (rn_hmap_node_t *n = rn_hmap_next_match(m, NULL, h); n != NULL;
         n = rn_hmap_next_match(m, n, h)) {
        item_t *it = rn_container_of(n, item_t, node);
        if (strcmp(it->key, key) == 0)
            return it;
    }
    return NULL;
}

static void add(rn_hmap_t *m, item_t *it)
{
    rn_hmap_insert(m, &it->node, rn_hmap_hash(m, it->key, strlen(it->key)));
}

Test(hmap, siphash_2_4_matches_the_papers_vector)
{
    /* Appendix A of the SipHash paper: key 00 01 .. 0f, message 00 01 .. 0e (15 bytes). The
     * tables use the same code with fewer rounds (1-3). */
    uint8_t msg[15];
    for (int i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    cr_assert_eq(rn_hmap_siphash24(0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull, msg, sizeof msg),
                 0xa129ca6149be45e5ull);
    /* The empty message, the reference implementation's first vector. */
    cr_assert_eq(rn_hmap_siphash24(0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull, msg, 0),
                 0x726fdb47dd0e0e31ull);
}

Test(hmap, pieces_hash_as_the_whole)
{
    rn_hmap_t m;
    rn_hmap_init(&m);
    const char *text = "__consumer_offsets-and-then-some";
    uint64_t whole = rn_hmap_hash(&m, text, strlen(text));
    for (size_t cut = 0; cut <= strlen(text); cut++) {
        rn_hmap_hasher_t h;
        rn_hmap_hash_begin(&m, &h);
        rn_hmap_hash_add(&h, text, cut);
        rn_hmap_hash_add(&h, text + cut, strlen(text) - cut);
        cr_assert_eq(rn_hmap_hash_end(&h), whole, "cut at %zu", cut);
    }
    rn_hmap_t other;
    rn_hmap_init(&other);
    cr_assert_neq(rn_hmap_hash(&other, text, strlen(text)), whole, "two tables, two keys");
    rn_hmap_deinit(&other);
    rn_hmap_deinit(&m);
}

Test(hmap, insert_find_remove_and_grow)
{
    enum { N = 1000 };
    static item_t items[N];
    rn_hmap_t m;
    rn_hmap_init(&m);
    for (int i = 0; i < N; i++) {
        snprintf(items[i].key, sizeof items[i].key, "topic-%d", i);
        add(&m, &items[i]);
    }
    cr_assert_eq(m.count, N);
    cr_assert_geq(m.nbuckets, N, "grew to keep chains short");
    for (int i = 0; i < N; i++)
        cr_assert_eq(find(&m, items[i].key), &items[i], "%s", items[i].key);
    cr_assert_null(find(&m, "topic-1000"));
    for (int i = 0; i < N; i += 2)
        cr_assert(rn_hmap_remove(&m, &items[i].node));
    cr_assert_not(rn_hmap_remove(&m, &items[0].node), "already out");
    cr_assert_eq(m.count, N / 2);
    for (int i = 0; i < N; i++)
        cr_assert_eq(find(&m, items[i].key), i % 2 ? &items[i] : NULL, "%s", items[i].key);
    rn_hmap_deinit(&m);
}

Test(hmap, iteration_sees_each_node_once_and_survives_removing_it)
{
    enum { N = 100 };
    static item_t items[N];
    rn_hmap_t m;
    rn_hmap_init(&m);
    for (int i = 0; i < N; i++) {
        snprintf(items[i].key, sizeof items[i].key, "g%d", i);
        add(&m, &items[i]);
    }
    int seen[N] = { 0 };
    rn_hmap_iter_t it = rn_hmap_iter(&m);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;) {
        item_t *item = rn_container_of(n, item_t, node);
        seen[item - items]++;
        rn_hmap_remove(&m, n);
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(seen[i], 1, "item %d seen %d times", i, seen[i]);
    cr_assert_eq(m.count, 0);
    rn_hmap_deinit(&m);
    rn_hmap_t empty = { 0 };
    it = rn_hmap_iter(&empty);
    cr_assert_null(rn_hmap_iter_next(&it), "a zeroed table is empty");
}

/* FNV-1a 64 with its published offset basis and prime, as an unseeded table would use it. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s != '\0'; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

Test(hmap, group_ids_colliding_under_unseeded_fnv_spread_out)
{
    /* What a client can do to an unseeded table: search offline for ids whose FNV-1a hashes
     * share their low 12 bits, so that in a table of 4096 buckets they all land in one. */
    enum { N = 3000, MASK = 4095 };
    static item_t items[N];
    int found = 0;
    for (uint32_t i = 0; found < N; i++) {
        char key[32];
        snprintf(key, sizeof key, "group-%08x", i);
        if ((fnv1a(key) & MASK) == 0)
            memcpy(items[found++].key, key, sizeof key);
    }
    for (int i = 1; i < N; i++)
        cr_assert_eq(fnv1a(items[i].key) & MASK, fnv1a(items[0].key) & MASK, "the ids do collide");

    rn_hmap_t m;
    rn_hmap_init(&m);
    for (int i = 0; i < N; i++)
        add(&m, &items[i]);
    cr_assert_eq(m.nbuckets, MASK + 1, "the same table size the attack was aimed at");
    /* 3000 keys in 4096 buckets: an unseeded table has one chain of 3000; a keyed hash gives
     * chains of a few entries (above 12 with odds far below one in a billion). */
    size_t longest = rn_hmap_longest_chain(&m);
    cr_assert_leq(longest, 12, "longest chain %zu", longest);
    for (int i = 0; i < N; i++)
        cr_assert_eq(find(&m, items[i].key), &items[i]);
    rn_hmap_deinit(&m);
}
