/* hash.c — CRC32C through ISA-L and content hashes through xxHash (XXH3-128). */
#include "common/genie.h"

#include <isa-l/crc.h>
#include <time.h>
#include <xxhash.h>

uint32_t genie_crc32c(uint32_t crc, const void *p, size_t n)
{
    /* ISA-L's crc32_iscsi is CRC32C with the init/final inversion left to the caller. */
    const unsigned char *b = p;
    crc = ~crc;
    while (n) { /* ISA-L takes an int length */
        int k = n > (1u << 30) ? (1 << 30) : (int)n;
        crc = crc32_iscsi((unsigned char *)b, k, crc);
        b += k;
        n -= (size_t)k;
    }
    return ~crc;
}

genie_hash128 genie_hash_content(const void *p, size_t n)
{
    XXH128_hash_t h = XXH3_128bits(p, n);
    genie_hash128 r = {h.low64, h.high64};
    return r;
}

uint64_t genie_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
