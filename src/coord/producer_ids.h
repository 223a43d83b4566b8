/* SPDX-License-Identifier: Apache-2.0 */
/* Producer ids (KIP-98): every InitProducerId that needs a new id takes the next one of a
 * counter that never goes back, not even across a crash. Ids are reserved in blocks of
 * RN_PRODUCER_ID_BLOCK, as Kafka's controller hands them to brokers: the end of the current
 * block is written durably to `runnel-producer-ids` in the log directory before any id of the
 * block is handed out, and a restart begins at that end. A crash loses at most the rest of a
 * block, never reuses an id, so partitions that still hold state for an old id are never
 * confused by a new producer with the same one.
 *
 * File: the text "runnel-producer-ids 1\n" then the next unreserved id in decimal and "\n".
 *
 * Threads: every function is safe from any thread. Taking an id is a few instructions under a
 * lock, except once per block, when the caller writes and fsyncs the file: call
 * rn_producer_ids_next off the event loops. */
#ifndef RN_COORD_PRODUCER_IDS_H
#define RN_COORD_PRODUCER_IDS_H

#include <stdint.h>

#define RN_PRODUCER_ID_BLOCK 1000
#define RN_PRODUCER_IDS_FILE "runnel-producer-ids"

typedef struct rn_producer_ids rn_producer_ids_t;

/* Reads `dir`/runnel-producer-ids (absent: ids start at 0, as on a new Kafka cluster). No block
 * is reserved until the first id is asked for. Returns 0, RN_EINVAL for a file that does not
 * parse (logged: which ids were handed out is unknown then, so the broker must not start), or a
 * negative errno. `dir` is copied. */
int rn_producer_ids_open(const char *dir, rn_producer_ids_t **out);
/* rn_producer_ids_close(NULL) does nothing. */
void rn_producer_ids_close(rn_producer_ids_t *ids);

/* Sets *id to the next producer id. Reserves a new block first when the current one is used
 * up (blocking file work). Returns 0, or a negative errno when the block could not be made
 * durable (no id is handed out then; a later call tries again), or -EOVERFLOW when the ids are
 * exhausted. */
int rn_producer_ids_next(rn_producer_ids_t *ids, int64_t *id);

#endif
