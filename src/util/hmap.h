/* SPDX-License-Identifier: Apache-2.0 */
/* The one hash table: chained, intrusive (the caller embeds an rn_hmap_node_t in its own struct
 * and finds it back with rn_container_of), keyed by a seeded hash.
 *
 * Keys here are chosen by clients: topic names, group ids, member ids. With an unseeded hash a
 * client can pick thousands of keys that share a bucket and turn every lookup into a list walk
 * (hash flooding). So every table hashes with SipHash-1-3 under a 128-bit key drawn from the
 * kernel when the table is made: nobody outside can tell which keys collide. Buckets are a power
 * of two, the table doubles when it holds more entries than buckets, and each node keeps its
 * hash, so growing never hashes a key again.
 *
 * Not thread-safe: the owner guards each table with its own lock. Nodes are never allocated or
 * freed here; the bucket array is the table's only memory. */
#ifndef RN_UTIL_HMAP_H
#define RN_UTIL_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rn_hmap_node rn_hmap_node_t;
struct rn_hmap_node {
    rn_hmap_node_t *next; /* the bucket's chain */
    uint64_t hash;
};

typedef struct rn_hmap {
    rn_hmap_node_t **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    uint64_t k0, k1; /* the SipHash key */
} rn_hmap_t;

/* Makes an empty table with a random key (getrandom). */
void rn_hmap_init(rn_hmap_t *map);
/* The same with a given key, for tests that need a known layout. */
void rn_hmap_init_keyed(rn_hmap_t *map, uint64_t k0, uint64_t k1);
/* Frees the bucket array; the nodes belong to the caller. Safe on a zeroed table. */
void rn_hmap_deinit(rn_hmap_t *map);

/* Hashing a key, in one go or piecewise (a topic name, then a partition number). The pieces'
 * boundaries do not matter: "ab" + "c" hashes as "abc". */
typedef struct rn_hmap_hasher {
    uint64_t v0, v1, v2, v3;
    uint64_t tail; /* bytes not yet folded in, little-endian */
    size_t len;    /* bytes seen so far */
    int c_rounds, d_rounds;
} rn_hmap_hasher_t;
void rn_hmap_hash_begin(const rn_hmap_t *map, rn_hmap_hasher_t *h);
void rn_hmap_hash_add(rn_hmap_hasher_t *h, const void *data, size_t len);
uint64_t rn_hmap_hash_end(rn_hmap_hasher_t *h);
uint64_t rn_hmap_hash(const rn_hmap_t *map, const void *data, size_t len);
/* The same construction with the paper's 2 and 4 rounds, for the unit tests to check the code
 * against SipHash-2-4's published vectors. */
uint64_t rn_hmap_siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len);

/* Candidates for `hash`: the first node of its bucket with that hash (after == NULL), then the
 * next one after `after`. The caller compares the keys:
 *     for (n = rn_hmap_next_match(m, NULL, h); n != NULL; n = rn_hmap_next_match(m, n, h))
 *         if (key_equals(n, key)) return n;                                                  */
rn_hmap_node_t *rn_hmap_next_match(const rn_hmap_t *map, const rn_hmap_node_t *after,
                                   uint64_t hash);

/* Adds `node` under `hash` (growing the table first when it is full). Equal keys are the
 * caller's concern: look before inserting. */
void rn_hmap_insert(rn_hmap_t *map, rn_hmap_node_t *node, uint64_t hash);
/* Takes `node` out; false when it is not in the table. */
bool rn_hmap_remove(rn_hmap_t *map, rn_hmap_node_t *node);

/* Every node once, in no particular order. The current node may be removed (or freed) during
 * the walk: the iterator has already moved past it. No other change is allowed meanwhile.
 *     rn_hmap_iter_t it = rn_hmap_iter(m);
 *     for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;) ...                     */
typedef struct rn_hmap_iter {
    const rn_hmap_t *map;
    size_t bucket;
    rn_hmap_node_t *next;
} rn_hmap_iter_t;
rn_hmap_iter_t rn_hmap_iter(const rn_hmap_t *map);
rn_hmap_node_t *rn_hmap_iter_next(rn_hmap_iter_t *it);

/* The longest chain, for tests that check keys spread out. */
size_t rn_hmap_longest_chain(const rn_hmap_t *map);

#endif
