/* hash.h - the one hash of the tables whose keys peers and tenants choose
 * (UUIDs, MACs, IPs): murmur3's 64-bit finaliser, and a byte string folded
 * into it from a random seed (a keyless hash lets one pick keys that share
 * a chain or a probe sequence). */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>
#include <stdint.h>

/* Every output bit depends on every input bit. */
static inline uint64_t
hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* n bytes of b (FNV-1a steps) under seed. */
static inline uint64_t
hash_bytes(uint64_t seed, const uint8_t *b, size_t n)
{
    uint64_t h = seed ^ 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return hash_mix64(h);
}

#endif
