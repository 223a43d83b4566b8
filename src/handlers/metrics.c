/* SPDX-License-Identifier: Apache-2.0 */
/* Request metrics (handlers.h): counters per API key and version, and a duration histogram per
 * API key, as flat arrays of atomics indexed by key so that a network thread finishing a
 * request takes no lock. Relaxed order: statistics that publish no other memory. A request
 * whose key or version falls outside the arrays (no handler has such keys today) is not
 * metered; neither is one whose header could not be read. */
#include "handlers/handlers.h"

#include "util/clock.h"
#include "util/histogram.h"

static _Atomic uint64_t requests[RN_HANDLERS_METRICS_KEYS][RN_HANDLERS_METRICS_VERSIONS];
static _Atomic uint64_t errors[RN_HANDLERS_METRICS_KEYS][RN_HANDLERS_METRICS_VERSIONS];
static rn_histogram_t durations[RN_HANDLERS_METRICS_KEYS];

static bool metered(int16_t api_key, int16_t version)
{
    return api_key >= 0 && api_key < RN_HANDLERS_METRICS_KEYS && version >= 0 &&
           version < RN_HANDLERS_METRICS_VERSIONS;
}

void rn_handlers_metrics_finish(const rn_request_t *req, rn_finish_t how)
{
    /* An unknown key is rejected before a handler is found: it has no API to count under. */
    if (req->start_ns == 0 || !metered(req->api_key, req->api_version) ||
        rn_proto_api_find(req->api_key) == NULL)
        return;
    size_t k = (size_t)req->api_key, v = (size_t)req->api_version;
    atomic_fetch_add_explicit(&requests[k][v], 1, memory_order_relaxed);
    if (how == RN_FINISH_CLOSE || (how == RN_FINISH_RESPOND && req->answered_error != 0))
        atomic_fetch_add_explicit(&errors[k][v], 1, memory_order_relaxed);
    rn_histogram_observe_ns(&durations[k], rn_clock_mono_ns() - req->start_ns);
}

void rn_handlers_metrics_get(int16_t api_key, int16_t version, uint64_t *n, uint64_t *nerr)
{
    *n = *nerr = 0;
    if (!metered(api_key, version))
        return;
    *n = atomic_load_explicit(&requests[api_key][version], memory_order_relaxed);
    *nerr = atomic_load_explicit(&errors[api_key][version], memory_order_relaxed);
}

const rn_histogram_t *rn_handlers_metrics_duration(int16_t api_key)
{
    return api_key >= 0 && api_key < RN_HANDLERS_METRICS_KEYS ? &durations[api_key] : NULL;
}
