/* fakeblas.h — C additions to the cuBLAS headers: Hgemm prototypes, fp16/bf16 conversions. */
#ifndef GENIE_FAKEBLAS_H
#define GENIE_FAKEBLAS_H

#include <cublasLt.h>
#include <cublas_v2.h>

#include <stdint.h>
#include <string.h>

/* cublas_api.h declares the __half routines only for C++, and cuda_fp16.h gives C no more
 * than a forward declaration of struct __half. This is the C++ layout (one 16-bit word),
 * so the prototypes below are ABI-identical to the C++ ones. */
#ifndef __cplusplus
struct __half {
    unsigned short __x;
};
typedef struct __half __half;

cublasStatus_t cublasHgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const __half *alpha,
                           const __half *A, int lda, const __half *B, int ldb, const __half *beta,
                           __half *C, int ldc);
cublasStatus_t cublasHgemm_64(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int64_t m, int64_t n, int64_t k,
                              const __half *alpha, const __half *A, int64_t lda, const __half *B,
                              int64_t ldb, const __half *beta, __half *C, int64_t ldc);
cublasStatus_t cublasHgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const __half *alpha, const __half *A, int lda,
                                         long long int strideA, const __half *B, int ldb,
                                         long long int strideB, const __half *beta, __half *C,
                                         int ldc, long long int strideC, int batchCount);
cublasStatus_t cublasHgemmStridedBatched_64(cublasHandle_t handle, cublasOperation_t transa,
                                            cublasOperation_t transb, int64_t m, int64_t n,
                                            int64_t k, const __half *alpha, const __half *A,
                                            int64_t lda, long long int strideA, const __half *B,
                                            int64_t ldb, long long int strideB, const __half *beta,
                                            __half *C, int64_t ldc, long long int strideC,
                                            int64_t batchCount);
#endif

/* IEEE binary16 and bfloat16 <-> float, round to nearest even, NaN stays NaN (quiet).
 * Integer-only so the result never depends on compiler flags or the FPU rounding mode. */
static inline uint32_t fb_f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float fb_u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t fb_f2h(float f)
{
    uint32_t x = fb_f2u(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) /* NaN: keep the top payload bits, force quiet */
        return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu));
    if (x >= 0x477ff000u) /* >= 65520 (and inf) round to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (x >= 0x38800000u) { /* normal half: rebias exponent 127 -> 15, round 13 bits away */
        uint32_t r = x - 0x38000000u;
        r += 0xfffu + ((r >> 13) & 1u);
        return (uint16_t)(sign | (r >> 13));
    }
    if (x <= 0x33000000u) /* <= 2^-25: rounds (ties to even) to zero */
        return sign;
    /* subnormal half: value = q * 2^-24 with q = mantissa >> (126 - exponent) */
    uint32_t e = x >> 23, mant = (x & 0x7fffffu) | 0x800000u, sh = 126u - e;
    uint32_t q = mant >> sh, rem = mant & ((1u << sh) - 1u), half = 1u << (sh - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return (uint16_t)(sign | q);
}

static inline float fb_h2f(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f)
        return fb_u2f(sign | 0x7f800000u | (m << 13));
    if (e)
        return fb_u2f(sign | ((e + 112u) << 23) | (m << 13));
    float f = (float)m * 0x1p-24f; /* zero or subnormal: exact in float */
    return sign ? -f : f;
}

static inline uint16_t fb_f2bf(float f)
{
    uint32_t x = fb_f2u(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

static inline float fb_bf2f(uint16_t b)
{
    return fb_u2f((uint32_t)b << 16);
}

#endif
