/* SPDX-License-Identifier: Apache-2.0 */
/* Big-endian (network order) loads and stores of fixed-width integers, for everything Kafka
 * puts on the wire or on disk: frame sizes, batch headers, index entries, record keys. Byte by
 * byte, so alignment never matters; compilers turn each into one load or store plus a swap.
 * A store returns the byte after what it wrote, so encoders can chain them. */
#ifndef RN_UTIL_ENDIAN_H
#define RN_UTIL_ENDIAN_H

#include <stdint.h>

static inline uint16_t rn_load_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t rn_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t rn_load_be64(const uint8_t *p)
{
    return (uint64_t)rn_load_be32(p) << 32 | rn_load_be32(p + 4);
}

static inline uint8_t *rn_store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *rn_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static inline uint8_t *rn_store_be64(uint8_t *p, uint64_t v)
{
    rn_store_be32(p, (uint32_t)(v >> 32));
    return rn_store_be32(p + 4, (uint32_t)v);
}

#endif
