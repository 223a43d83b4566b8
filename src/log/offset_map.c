/* SPDX-License-Identifier: Apache-2.0 */
/* The cleaner's dedupe buffer (Kafka's SkimpyOffsetMap): key -> the last offset it was seen at,
 * in a flat open-addressed table of 24-byte slots. A key is not stored, only a 128-bit hash of
 * it: two SipHash-2-4 values under keys drawn from the kernel when the map is made. Kafka keeps
 * an MD5 of the key for the same reason (a fixed slot size bounds memory by the setting,
 * whatever the keys' sizes); a keyed hash also means nobody can choose two keys that collide
 * and so make the cleaner drop one key's record for another's. Linear probing; the table is
 * filled to the load factor at most, so a probe always ends. */
#include "log/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/hmap.h"

#define SLOT_BYTES sizeof(rn_offset_slot_t)

static void random_keys(uint64_t k[4])
{
    size_t got = 0;
    while (got < 4 * sizeof(uint64_t)) {
        ssize_t n = getrandom((uint8_t *)k + got, 4 * sizeof(uint64_t) - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < 4 * sizeof(uint64_t)) {
        /* No entropy to be had: any fixed keys still hash well, they are only guessable. */
        k[0] = 0x736f6d6570736575ull, k[1] = 0x646f72616e646f6dull;
        k[2] = 0x6c7967656e657261ull, k[3] = 0x7465646279746573ull;
    }
}

int rn_offset_map_init(rn_offset_map_t *m, size_t max_bytes, size_t want_entries,
                       double load_factor)
{
    memset(m, 0, sizeof *m);
    if (load_factor <= 0 || load_factor > 1)
        load_factor = 0.9;
    /* Slots: a power of two, enough for want_entries at the load factor, within max_bytes. */
    size_t max_slots = max_bytes / SLOT_BYTES, slots = 16;
    double need = (double)want_entries / load_factor + 1;
    while (slots * 2 <= max_slots && (double)slots < need)
        slots *= 2;
    if (slots > max_slots && max_slots >= 16)
        slots = max_slots; /* only when max_bytes is not a power-of-two multiple: keep it */
    m->slots = malloc(slots * SLOT_BYTES);
    if (m->slots == NULL)
        return -ENOMEM;
    m->nslots = slots;
    m->max_count = (size_t)((double)slots * load_factor);
    if (m->max_count >= slots)
        m->max_count = slots - 1; /* one slot stays empty so a probe for an absent key ends */
    uint64_t k[4];
    random_keys(k);
    memcpy(m->keys, k, sizeof k);
    rn_offset_map_clear(m);
    return 0;
}

void rn_offset_map_deinit(rn_offset_map_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

void rn_offset_map_clear(rn_offset_map_t *m)
{
    for (size_t i = 0; i < m->nslots; i++)
        m->slots[i].offset = -1;
    m->count = 0;
    m->latest_offset = -1;
}

static void hash_key(const rn_offset_map_t *m, const void *key, size_t len, uint64_t h[2])
{
    h[0] = rn_hmap_siphash24(m->keys[0], m->keys[1], key, len);
    h[1] = rn_hmap_siphash24(m->keys[2], m->keys[3], key, len);
}

/* The slot holding the hash, or the empty slot where it would go. */
static rn_offset_slot_t *probe(const rn_offset_map_t *m, const uint64_t h[2])
{
    size_t mask = m->nslots - 1, i = (size_t)h[0] & mask;
    for (;;) {
        rn_offset_slot_t *s = &m->slots[i];
        if (s->offset < 0 || (s->h0 == h[0] && s->h1 == h[1]))
            return s;
        i = (i + 1) & mask;
    }
}

void rn_offset_map_put(rn_offset_map_t *m, const void *key, size_t len, int64_t offset)
{
    uint64_t h[2];
    hash_key(m, key, len, h);
    rn_offset_slot_t *s = probe(m, h);
    if (s->offset < 0) {
        if (m->count >= m->max_count)
            return; /* the caller checks rn_offset_map_full first; never overfill */
        s->h0 = h[0];
        s->h1 = h[1];
        m->count++;
    }
    s->offset = offset;
}

int64_t rn_offset_map_get(const rn_offset_map_t *m, const void *key, size_t len)
{
    uint64_t h[2];
    hash_key(m, key, len, h);
    return probe(m, h)->offset; /* -1 in an empty slot */
}
