/* SPDX-License-Identifier: Apache-2.0 */
/* The fault registry (faults.h): a list in the order faults were added, a mutex, and two atomics
 * the hot paths read without it. A fault whose count is used up stays listed (remaining 0) until
 * cleared, so a harness can see that it fired; it no longer matches. */
#include "faults/faults.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/xmalloc.h"

typedef struct fault fault_t;
struct fault {
    fault_t *next;
    int64_t id;
    rn_fault_spec_t spec; /* strings owned */
    int64_t remaining;
    uint64_t injected;
    int64_t until_ms; /* refuse_connections: end of the window (monotonic) */
};

struct rn_faults {
    pthread_mutex_t lock; /* guards everything below but the atomics */
    fault_t *head, *tail;
    int64_t next_id;
    uint64_t injected[RN_FAULT__COUNT][RN_FAULT_MAX_API + 2]; /* [.][0]: RN_FAULT_NO_API */
    /* Live request faults (error, delay, close with a count left). Written under the lock,
     * read without it by every request: relaxed is enough, since a request racing with a POST
     * may go either way, and the lock orders everything the slow path then reads. */
    atomic_int armed;
    /* The latest end of a refuse_connections window (monotonic ms), 0 when none; same reasoning. */
    atomic_int_fast64_t refuse_until_ms;
};

static const char *const action_names[RN_FAULT__COUNT] = {
    [RN_FAULT_ERROR] = "error",
    [RN_FAULT_DELAY] = "delay",
    [RN_FAULT_CLOSE] = "close",
    [RN_FAULT_REFUSE_CONNECTIONS] = "refuse_connections",
};

const char *rn_fault_action_name(rn_fault_action_t action)
{
    return (unsigned)action < RN_FAULT__COUNT ? action_names[action] : "?";
}

bool rn_fault_action_parse(const char *name, rn_fault_action_t *out)
{
    for (int i = 0; i < RN_FAULT__COUNT; i++) {
        if (strcmp(name, action_names[i]) == 0) {
            *out = (rn_fault_action_t)i;
            return true;
        }
    }
    return false;
}

static size_t counter_slot(int16_t api_key)
{
    if (api_key < 0 || api_key > RN_FAULT_MAX_API)
        return 0;
    return (size_t)api_key + 1;
}

static bool is_request_fault(const fault_t *f)
{
    return f->spec.action != RN_FAULT_REFUSE_CONNECTIONS && f->remaining != 0;
}

/* Recomputes the fast-path flags. Called with the lock held, after any change. */
static void rearm(rn_faults_t *faults)
{
    int armed = 0;
    int64_t until = 0;
    for (fault_t *f = faults->head; f != NULL; f = f->next) {
        if (is_request_fault(f))
            armed++;
        else if (f->spec.action == RN_FAULT_REFUSE_CONNECTIONS && f->until_ms > until)
            until = f->until_ms;
    }
    atomic_store_explicit(&faults->armed, armed, memory_order_relaxed);
    atomic_store_explicit(&faults->refuse_until_ms, until, memory_order_relaxed);
}

rn_faults_t *rn_faults_new(void)
{
    rn_faults_t *faults = rn_xcalloc(1, sizeof *faults);
    pthread_mutex_init(&faults->lock, NULL);
    faults->next_id = 1;
    atomic_init(&faults->armed, 0);
    atomic_init(&faults->refuse_until_ms, 0);
    return faults;
}

static void fault_free(fault_t *f)
{
    free((char *)f->spec.topic);
    free((char *)f->spec.client_id);
    free(f);
}

void rn_faults_free(rn_faults_t *faults)
{
    if (faults == NULL)
        return;
    (void)rn_faults_clear(faults);
    pthread_mutex_destroy(&faults->lock);
    free(faults);
}

int64_t rn_faults_add(rn_faults_t *faults, const rn_fault_spec_t *spec)
{
    fault_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->spec = *spec;
    f->spec.topic = spec->topic != NULL ? strdup(spec->topic) : NULL;
    f->spec.client_id = spec->client_id != NULL ? strdup(spec->client_id) : NULL;
    if ((spec->topic != NULL && f->spec.topic == NULL) ||
        (spec->client_id != NULL && f->spec.client_id == NULL)) {
        fault_free(f);
        return -1;
    }
    f->remaining = spec->action == RN_FAULT_REFUSE_CONNECTIONS ? -1 : spec->count;
    if (spec->action == RN_FAULT_REFUSE_CONNECTIONS)
        f->until_ms = rn_clock_mono_ms() + (int64_t)spec->duration_ms;
    pthread_mutex_lock(&faults->lock);
    f->id = faults->next_id++;
    if (faults->tail != NULL)
        faults->tail->next = f;
    else
        faults->head = f;
    faults->tail = f;
    int64_t id = f->id;
    rearm(faults);
    pthread_mutex_unlock(&faults->lock);
    return id;
}

size_t rn_faults_clear(rn_faults_t *faults)
{
    pthread_mutex_lock(&faults->lock);
    fault_t *f = faults->head;
    faults->head = faults->tail = NULL;
    rearm(faults);
    pthread_mutex_unlock(&faults->lock);
    size_t n = 0;
    while (f != NULL) {
        fault_t *next = f->next;
        fault_free(f);
        f = next;
        n++;
    }
    return n;
}

bool rn_faults_remove(rn_faults_t *faults, int64_t id)
{
    pthread_mutex_lock(&faults->lock);
    fault_t *prev = NULL, *f = faults->head;
    while (f != NULL && f->id != id) {
        prev = f;
        f = f->next;
    }
    if (f != NULL) {
        if (prev != NULL)
            prev->next = f->next;
        else
            faults->head = f->next;
        if (faults->tail == f)
            faults->tail = prev;
        rearm(faults);
    }
    pthread_mutex_unlock(&faults->lock);
    if (f == NULL)
        return false;
    fault_free(f);
    return true;
}

void rn_faults_list(rn_faults_t *faults, void (*fn)(const rn_fault_info_t *info, void *ctx),
                    void *ctx)
{
    int64_t now = rn_clock_mono_ms();
    pthread_mutex_lock(&faults->lock);
    for (const fault_t *f = faults->head; f != NULL; f = f->next) {
        rn_fault_info_t info = {
            .id = f->id,
            .spec = f->spec,
            .remaining = f->remaining,
            .injected = f->injected,
            .remaining_ms = f->until_ms > now ? f->until_ms - now : 0,
        };
        fn(&info, ctx);
    }
    pthread_mutex_unlock(&faults->lock);
}

bool rn_faults_armed(const rn_faults_t *faults)
{
    return faults != NULL && atomic_load_explicit(&faults->armed, memory_order_relaxed) > 0;
}

bool rn_faults_wants_topics(rn_faults_t *faults, int16_t api_key)
{
    bool wants = false;
    pthread_mutex_lock(&faults->lock);
    for (const fault_t *f = faults->head; f != NULL && !wants; f = f->next)
        wants = is_request_fault(f) && f->spec.api_key == api_key && f->spec.topic != NULL;
    pthread_mutex_unlock(&faults->lock);
    return wants;
}

static bool names_equal(const char *a, const char *b, size_t b_len)
{
    return b != NULL && strlen(a) == b_len && memcmp(a, b, b_len) == 0;
}

/* Whether the request names the fault's topic (and partition, when the fault has one). A
 * target with partition -1 stands for the whole topic and so matches any partition filter. */
static bool targets_match(const rn_fault_spec_t *spec, const rn_fault_query_t *q)
{
    for (size_t i = 0; i < q->ntargets; i++) {
        const rn_fault_target_t *t = &q->targets[i];
        if (!names_equal(spec->topic, t->name, t->name_len))
            continue;
        if (spec->partition < 0 || t->partition < 0 || t->partition == spec->partition)
            return true;
    }
    return false;
}

static bool matches(const fault_t *f, const rn_fault_query_t *q)
{
    if (!is_request_fault(f) || f->spec.api_key != q->api_key)
        return false;
    if (f->spec.client_id != NULL &&
        !names_equal(f->spec.client_id, q->client_id, q->client_id_len))
        return false;
    return f->spec.topic == NULL || targets_match(&f->spec, q);
}

bool rn_faults_take(rn_faults_t *faults, const rn_fault_query_t *q, rn_fault_hit_t *hit)
{
    bool found = false;
    pthread_mutex_lock(&faults->lock);
    for (fault_t *f = faults->head; f != NULL; f = f->next) {
        if (!matches(f, q))
            continue;
        if (f->remaining > 0)
            f->remaining--;
        f->injected++;
        faults->injected[f->spec.action][counter_slot(q->api_key)]++;
        *hit = (rn_fault_hit_t){
            .id = f->id,
            .action = f->spec.action,
            .error_code = f->spec.error_code,
            .delay_ms = f->spec.delay_ms,
            .remaining = f->remaining,
        };
        if (f->remaining == 0)
            rearm(faults);
        found = true;
        break;
    }
    pthread_mutex_unlock(&faults->lock);
    return found;
}

bool rn_faults_refuse_connection(rn_faults_t *faults, rn_fault_hit_t *hit)
{
    if (faults == NULL)
        return false;
    int64_t until = atomic_load_explicit(&faults->refuse_until_ms, memory_order_relaxed);
    if (until == 0)
        return false;
    int64_t now = rn_clock_mono_ms();
    if (now >= until)
        return false;
    bool found = false;
    pthread_mutex_lock(&faults->lock);
    for (fault_t *f = faults->head; f != NULL; f = f->next) {
        if (f->spec.action != RN_FAULT_REFUSE_CONNECTIONS || f->until_ms <= now)
            continue;
        f->injected++;
        faults->injected[RN_FAULT_REFUSE_CONNECTIONS][0]++;
        *hit = (rn_fault_hit_t){
            .id = f->id,
            .action = RN_FAULT_REFUSE_CONNECTIONS,
            .remaining = f->until_ms - now, /* ms left in the window */
        };
        found = true;
        break;
    }
    pthread_mutex_unlock(&faults->lock);
    return found;
}

uint64_t rn_faults_injected(rn_faults_t *faults, rn_fault_action_t action, int16_t api_key)
{
    if ((unsigned)action >= RN_FAULT__COUNT)
        return 0;
    pthread_mutex_lock(&faults->lock);
    uint64_t n = faults->injected[action][counter_slot(api_key)];
    pthread_mutex_unlock(&faults->lock);
    return n;
}

void rn_faults_injected_each(rn_faults_t *faults,
                             void (*fn)(rn_fault_action_t action, int16_t api_key, uint64_t count,
                                        void *ctx),
                             void *ctx)
{
    uint64_t copy[RN_FAULT__COUNT][RN_FAULT_MAX_API + 2];
    pthread_mutex_lock(&faults->lock);
    memcpy(copy, faults->injected, sizeof copy);
    pthread_mutex_unlock(&faults->lock);
    for (int a = 0; a < RN_FAULT__COUNT; a++)
        for (size_t slot = 0; slot < RN_FAULT_MAX_API + 2; slot++)
            if (copy[a][slot] != 0)
                fn((rn_fault_action_t)a, (int16_t)((int)slot - 1), copy[a][slot], ctx);
}
