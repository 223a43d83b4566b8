/* SPDX-License-Identifier: Apache-2.0 */
/* Faults injected into requests (the registry is src/faults/faults.h; the control plane fills
 * it). Private to the handler room: dispatch asks rn_inject_faults about every request while a
 * fault is registered; error_answer.c builds the error responses. */
#ifndef RN_HANDLERS_INJECT_H
#define RN_HANDLERS_INJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "handlers/handlers.h"

/* Applies the first registered fault that matches `req` (its header decoded, its body not yet):
 * an error fault answers it (rn_answer_error) and a close fault closes its connection, both
 * returning true (the request is finished: do not run the handler); a delay fault makes the
 * request's answer wait and returns false, as does no fault (run the handler). Logs each fault
 * applied at INFO. Owner loop: the request's. */
bool rn_inject_faults(rn_request_t *req);

/* Answers `req` with Kafka error `code` in every error field of its response, without running
 * it, as Kafka answers a request it refuses. For an API without such an answer
 * (rn_error_answer_supported) the request is rejected. Finishes the request. */
void rn_answer_error(rn_request_t *req, int16_t code);

#endif
