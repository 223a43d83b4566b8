/* SPDX-License-Identifier: Apache-2.0 */
/* The seeded, intrusive hash table (hmap.h). The hash is SipHash (Aumasson and Bernstein,
 * "SipHash: a fast short-input PRF", 2012), written from the paper: a keyed function whose
 * collisions cannot be found without the key. */
#include "util/hmap.h"

#include <stdlib.h>
#include <sys/random.h>

#include "util/xmalloc.h"

#define INITIAL_BUCKETS 16

/* ---- SipHash-c-d ---- */

/* Rounds per message word and at the end. 1-3 is the variant Rust's and Python's hash tables
 * chose for speed; rn_hmap_siphash24 runs the same code with the paper's 2-4, whose published
 * vectors the unit tests check. */
#define C_ROUNDS 1
#define D_ROUNDS 3

static inline uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static inline void sip_round(rn_hmap_hasher_t *h)
{
    h->v0 += h->v1;
    h->v1 = rotl(h->v1, 13);
    h->v1 ^= h->v0;
    h->v0 = rotl(h->v0, 32);
    h->v2 += h->v3;
    h->v3 = rotl(h->v3, 16);
    h->v3 ^= h->v2;
    h->v0 += h->v3;
    h->v3 = rotl(h->v3, 21);
    h->v3 ^= h->v0;
    h->v2 += h->v1;
    h->v1 = rotl(h->v1, 17);
    h->v1 ^= h->v2;
    h->v2 = rotl(h->v2, 32);
}

static inline void sip_word(rn_hmap_hasher_t *h, uint64_t m)
{
    h->v3 ^= m;
    for (int i = 0; i < h->c_rounds; i++)
        sip_round(h);
    h->v0 ^= m;
}

static void begin(rn_hmap_hasher_t *h, uint64_t k0, uint64_t k1, int c_rounds, int d_rounds)
{
    /* "somepseudorandomlygeneratedbytes", the paper's initialisation constants. */
    *h = (rn_hmap_hasher_t){
        .v0 = k0 ^ 0x736f6d6570736575ull,
        .v1 = k1 ^ 0x646f72616e646f6dull,
        .v2 = k0 ^ 0x6c7967656e657261ull,
        .v3 = k1 ^ 0x7465646279746573ull,
        .c_rounds = c_rounds,
        .d_rounds = d_rounds,
    };
}

void rn_hmap_hash_begin(const rn_hmap_t *map, rn_hmap_hasher_t *h)
{
    begin(h, map->k0, map->k1, C_ROUNDS, D_ROUNDS);
}

/* Message words are little-endian: byte k of a word lands in bits 8k..8k+7. */
static inline uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

void rn_hmap_hash_add(rn_hmap_hasher_t *h, const void *data, size_t len)
{
    const uint8_t *p = data, *end = p + len;
    /* Bytes up to a word boundary of the message, then whole words, then the rest: the same
     * result as byte by byte, a word a step where it matters. */
    for (; p < end && h->len % 8 != 0; p++) {
        h->tail |= (uint64_t)*p << (8 * (h->len % 8));
        if (++h->len % 8 == 0) {
            sip_word(h, h->tail);
            h->tail = 0;
        }
    }
    for (; end - p >= 8; p += 8, h->len += 8)
        sip_word(h, load_le64(p));
    for (; p < end; p++, h->len++)
        h->tail |= (uint64_t)*p << (8 * (h->len % 8));
}

uint64_t rn_hmap_hash_end(rn_hmap_hasher_t *h)
{
    sip_word(h, h->tail | (uint64_t)(h->len & 0xff) << 56);
    h->v2 ^= 0xff;
    for (int i = 0; i < h->d_rounds; i++)
        sip_round(h);
    return h->v0 ^ h->v1 ^ h->v2 ^ h->v3;
}

uint64_t rn_hmap_hash(const rn_hmap_t *map, const void *data, size_t len)
{
    rn_hmap_hasher_t h;
    rn_hmap_hash_begin(map, &h);
    rn_hmap_hash_add(&h, data, len);
    return rn_hmap_hash_end(&h);
}

uint64_t rn_hmap_siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    rn_hmap_hasher_t h;
    begin(&h, k0, k1, 2, 4);
    rn_hmap_hash_add(&h, data, len);
    return rn_hmap_hash_end(&h);
}

/* ---- the table ---- */

void rn_hmap_init_keyed(rn_hmap_t *map, uint64_t k0, uint64_t k1)
{
    *map = (rn_hmap_t){ .nbuckets = INITIAL_BUCKETS, .k0 = k0, .k1 = k1 };
    map->buckets = rn_xcalloc(map->nbuckets, sizeof *map->buckets);
}

void rn_hmap_init(rn_hmap_t *map)
{
    uint64_t key[2];
    /* Without entropy (very early boot) the table still works; only the flooding defence
     * weakens, to what an address and a counter give. */
    if (getrandom(key, sizeof key, GRND_NONBLOCK) != (ssize_t)sizeof key) {
        static _Atomic uint64_t counter;
        key[0] = (uint64_t)(uintptr_t)map ^ 0x9e3779b97f4a7c15ull * ++counter;
        key[1] = (uint64_t)(uintptr_t)&key ^ 0xbf58476d1ce4e5b9ull * ++counter;
    }
    rn_hmap_init_keyed(map, key[0], key[1]);
}

void rn_hmap_deinit(rn_hmap_t *map)
{
    free(map->buckets);
    *map = (rn_hmap_t){ 0 };
}

static size_t bucket_of(const rn_hmap_t *map, uint64_t hash)
{
    return (size_t)(hash & (map->nbuckets - 1));
}

rn_hmap_node_t *rn_hmap_next_match(const rn_hmap_t *map, const rn_hmap_node_t *after, uint64_t hash)
{
    if (map->nbuckets == 0)
        return NULL;
    rn_hmap_node_t *n = after != NULL ? after->next : map->buckets[bucket_of(map, hash)];
    while (n != NULL && n->hash != hash)
        n = n->next;
    return n;
}

static void grow(rn_hmap_t *map)
{
    size_t old_n = map->nbuckets;
    rn_hmap_node_t **old = map->buckets;
    map->nbuckets = old_n * 2;
    map->buckets = rn_xcalloc(map->nbuckets, sizeof *map->buckets);
    for (size_t i = 0; i < old_n; i++) {
        for (rn_hmap_node_t *n = old[i], *next; n != NULL; n = next) {
            next = n->next;
            size_t b = bucket_of(map, n->hash);
            n->next = map->buckets[b];
            map->buckets[b] = n;
        }
    }
    free(old);
}

void rn_hmap_insert(rn_hmap_t *map, rn_hmap_node_t *node, uint64_t hash)
{
    if (map->nbuckets == 0)
        rn_hmap_init(map);
    if (map->count + 1 > map->nbuckets)
        grow(map);
    size_t b = bucket_of(map, hash);
    node->hash = hash;
    node->next = map->buckets[b];
    map->buckets[b] = node;
    map->count++;
}

bool rn_hmap_remove(rn_hmap_t *map, rn_hmap_node_t *node)
{
    if (map->nbuckets == 0)
        return false;
    for (rn_hmap_node_t **p = &map->buckets[bucket_of(map, node->hash)]; *p != NULL;
         p = &(*p)->next)
        if (*p == node) {
            *p = node->next;
            node->next = NULL;
            map->count--;
            return true;
        }
    return false;
}

rn_hmap_iter_t rn_hmap_iter(const rn_hmap_t *map)
{
    return (rn_hmap_iter_t){ .map = map, .bucket = 0, .next = NULL };
}

rn_hmap_node_t *rn_hmap_iter_next(rn_hmap_iter_t *it)
{
    while (it->next == NULL) {
        if (it->bucket >= it->map->nbuckets)
            return NULL;
        it->next = it->map->buckets[it->bucket++];
    }
    rn_hmap_node_t *n = it->next;
    it->next = n->next;
    return n;
}

size_t rn_hmap_longest_chain(const rn_hmap_t *map)
{
    size_t longest = 0;
    for (size_t i = 0; i < map->nbuckets; i++) {
        size_t len = 0;
        for (const rn_hmap_node_t *n = map->buckets[i]; n != NULL; n = n->next)
            len++;
        if (len > longest)
            longest = len;
    }
    return longest;
}
