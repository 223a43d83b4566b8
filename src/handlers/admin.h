/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the admin handlers (admin_topics.c, admin_configs.c). Private to the
 * handler room.
 *
 * Admin requests change the topic registry, which writes and fsyncs its file before it returns:
 * they run as jobs (job.h). */
#ifndef RN_HANDLERS_ADMIN_H
#define RN_HANDLERS_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "handlers/handlers.h"

/* Where a key stands among the keys of one request. */
enum { RN_ADMIN_KEY_UNIQUE = 0, RN_ADMIN_KEY_FIRST_OF_MANY = 1, RN_ADMIN_KEY_REPEAT = 2 };

/* Sets out[i] to RN_ADMIN_KEY_UNIQUE, _FIRST_OF_MANY (the first of several equal keys) or
 * _REPEAT (a later one) for each of the n keys, comparing bytes (a NULL ptr equals an empty key).
 * O(n log n): a client chooses n. Returns false when the arena is exhausted. */
bool rn_admin_classify_keys(rn_arena_t *arena, const rn_str_t *keys, int32_t n, uint8_t *out);

/* For each of the n keys, the index of the first and of the last key equal to it (itself when
 * it is unique), for requests where Kafka keeps one entry per key and the last one wins (it
 * reads them into a map). `first` or `last` may be NULL. O(n log n); false when the arena is
 * exhausted. */
bool rn_admin_group_keys(rn_arena_t *arena, const rn_str_t *keys, int32_t n, int32_t *first,
                         int32_t *last);

/* A formatted message for a response, in the request's arena; null (no message) when the arena
 * is exhausted, which only loses the text. */
rn_str_t rn_admin_message(rn_request_t *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A copy of NUL-terminated `s` in the request's arena; null for NULL. Sets *oom on failure. */
rn_str_t rn_admin_str(rn_request_t *req, const char *s, bool *oom);

#endif
