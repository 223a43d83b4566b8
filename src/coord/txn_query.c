/* SPDX-License-Identifier: Apache-2.0 */
/* The transaction coordinator's read-only queries (txn.h): what DescribeTransactions and
 * ListTransactions report. Each copies what it needs from the entries into the request's arena
 * under the lock, and never changes an entry. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "coord/txn_internal.h"
#include "util/arena.h"
#include "util/err.h"
#include "util/hmap.h"

/* ---- DescribeTransactions, ListTransactions ---- */

static rn_str_t arena_copy(rn_arena_t *arena, const char *s, size_t len, bool *oom)
{
    char *p = rn_arena_try_alloc(arena, len > 0 ? len : 1);
    if (p == NULL) {
        *oom = true;
        return (rn_str_t){ "", 0 };
    }
    if (len > 0)
        memcpy(p, s, len);
    return (rn_str_t){ p, len };
}

int rn_txn_describe(rn_txn_t *txn, rn_str_t transactional_id, rn_arena_t *arena,
                    rn_txn_description_t *out, bool *found)
{
    bool oom = false;
    pthread_mutex_lock(&txn->lock);
    rn_txn_entry_t *e = rn_txn_find_entry(txn, transactional_id);
    *found = e != NULL;
    if (e != NULL) {
        const rn_txn_meta_t *m = &e->meta;
        *out = (rn_txn_description_t){
            .state = m->state,
            .timeout_ms = m->timeout_ms,
            .start_ms = m->start_ms,
            .producer_id = m->producer_id,
            .producer_epoch = m->producer_epoch,
        };
        if (m->ntps > 0) {
            out->tps = rn_arena_try_alloc_array(arena, rn_txn_tp_t, m->ntps);
            oom = out->tps == NULL;
            for (size_t i = 0; !oom && i < m->ntps; i++) {
                out->tps[i].topic = arena_copy(arena, m->tps[i].topic, m->tps[i].topic_len, &oom);
                out->tps[i].partition = m->tps[i].partition;
            }
            out->ntps = oom ? 0 : m->ntps;
        }
    }
    pthread_mutex_unlock(&txn->lock);
    return oom ? RN_ENOMEM : 0;
}

static int cmp_listing(const void *a, const void *b)
{
    const rn_txn_listing_t *x = a, *y = b;
    size_t n = x->transactional_id.len < y->transactional_id.len ? x->transactional_id.len
                                                                 : y->transactional_id.len;
    int c = n > 0 ? memcmp(x->transactional_id.ptr, y->transactional_id.ptr, n) : 0;
    if (c != 0)
        return c;
    return x->transactional_id.len < y->transactional_id.len   ? -1
           : x->transactional_id.len > y->transactional_id.len ? 1
                                                               : 0;
}

int rn_txn_list(rn_txn_t *txn, bool filter_states, uint32_t states, const int64_t *producer_ids,
                size_t nids, int64_t min_duration_ms, int64_t now_ms, rn_arena_t *arena,
                rn_txn_listing_t **out, size_t *n)
{
    bool oom = false;
    size_t count = 0;
    pthread_mutex_lock(&txn->lock);
    size_t cap = txn->entries.count;
    rn_txn_listing_t *items =
        cap > 0 ? rn_arena_try_alloc_array(arena, rn_txn_listing_t, cap) : NULL;
    oom = cap > 0 && items == NULL;
    rn_hmap_iter_t it = rn_hmap_iter(&txn->entries);
    for (rn_hmap_node_t *node; !oom && (node = rn_hmap_iter_next(&it)) != NULL;) {
        const rn_txn_entry_t *e = rn_txn_entry_at(node);
        const rn_txn_meta_t *m = &e->meta;
        if (filter_states && (states & (1u << m->state)) == 0)
            continue;
        bool id_ok = nids == 0;
        for (size_t i = 0; i < nids && !id_ok; i++)
            id_ok = producer_ids[i] == m->producer_id;
        if (!id_ok)
            continue;
        /* Kafka lists transactions running longer than the filter. The coordinator's clock
         * moves in ticks (rn_coord_tick), so a transaction started in the current tick has run
         * for a time the clock cannot see yet: its measured duration counts when it reaches
         * the filter, which errs by at most a tick, as the clock itself does. */
        if (min_duration_ms >= 0 && now_ms - m->start_ms < min_duration_ms)
            continue;
        items[count++] = (rn_txn_listing_t){
            .transactional_id = arena_copy(arena, e->id, e->id_len, &oom),
            .producer_id = m->producer_id,
            .state = m->state,
        };
    }
    pthread_mutex_unlock(&txn->lock);
    if (oom)
        return RN_ENOMEM;
    if (count > 1)
        qsort(items, count, sizeof *items, cmp_listing);
    *out = items;
    *n = count;
    return 0;
}
