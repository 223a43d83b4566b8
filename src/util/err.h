/* SPDX-License-Identifier: Apache-2.0 */
/* Internal error codes: 0 for success, -errno for system errors, and a reserved range below
 * RN_EBASE for Runnel's own failures. Kafka error codes are a different type (rn_kerr_t). */
#ifndef RN_UTIL_ERR_H
#define RN_UTIL_ERR_H

#include <errno.h>

#define RN_EBASE (-10000)
#define RN_ENOMEM (-ENOMEM)
#define RN_EINVAL (-EINVAL)
#define RN_ECONFIG (RN_EBASE - 1) /* an invalid configuration value */
#define RN_EPROTO (RN_EBASE - 2)  /* bytes that break the protocol */

#define rn_container_of(ptr, type, member) \
    ((type *)(void *)(((char *)(ptr)) - offsetof(type, member)))

#endif
