/* SPDX-License-Identifier: Apache-2.0 */
/* The handler table: which APIs and versions this broker serves. ApiVersions advertises
 * exactly this table, so an entry is added when its handler lands, never before. Ranges
 * start at v0 (CLIENTS.md rule 2: librdkafka enables features only when an advertised range
 * overlaps fixed versions, and kafkajs ignores minimums). */
#include "handlers/handlers.h"

static const rn_handler_t handlers[] = {
    [RN_API_METADATA] = { .min = 0, .max = 12, .fn = rn_handle_metadata },
    [RN_API_API_VERSIONS] = { .min = 0, .max = 4, .fn = rn_handle_api_versions },
    [RN_API_DESCRIBE_ACLS] = { .min = 0, .max = 3, .fn = rn_handle_describe_acls },
    [RN_API_CREATE_ACLS] = { .min = 0, .max = 3, .fn = rn_handle_create_acls },
    [RN_API_DELETE_ACLS] = { .min = 0, .max = 3, .fn = rn_handle_delete_acls },
};

enum { HANDLER_SLOTS = sizeof handlers / sizeof handlers[0] };

const rn_handler_t *rn_handlers_find(int16_t api_key)
{
    if (api_key < 0 || api_key >= HANDLER_SLOTS || handlers[api_key].fn == NULL)
        return NULL;
    return &handlers[api_key];
}

size_t rn_handlers_list(int16_t *keys, int16_t *mins, int16_t *maxs, size_t cap)
{
    size_t n = 0;
    for (int16_t k = 0; k < HANDLER_SLOTS; k++) {
        if (handlers[k].fn == NULL)
            continue;
        if (n < cap) {
            keys[n] = k;
            mins[n] = handlers[k].min;
            maxs[n] = handlers[k].max;
        }
        n++;
    }
    return n;
}
