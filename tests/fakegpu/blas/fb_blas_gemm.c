/* fb_blas_gemm.c — cuBLAS GEMM entry points (S/D/H, Ex, batched, _64): checks, then the engine. */
#include "fb_int.h"

/* Every cuBLAS GEMM form, widened to one description. */
struct call {
    cublasHandle_t h;
    cublasOperation_t ta, tb;
    int64_t m, n, k;
    const void *alpha, *beta;
    const void *A, *B;
    void *C;
    const void *const *Aa, *const *Ba; /* pointer-array forms */
    void *const *Ca;
    int arrays; /* 1 for the pointer-array forms */
    cudaDataType at, bt, ct;
    int64_t lda, ldb, ldc;
    long long sa, sb, sc;
    int64_t batch;
    cublasComputeType_t comp;
    cublasGemmAlgo_t algo;
};

static int algo_ok(cublasGemmAlgo_t a)
{
    return (a >= CUBLAS_GEMM_DEFAULT && a <= CUBLAS_GEMM_ALGO23) ||
           (a >= CUBLAS_GEMM_DEFAULT_TENSOR_OP && a <= CUBLAS_GEMM_ALGO15_TENSOR_OP) ||
           a == CUBLAS_GEMM_AUTOTUNE;
}

static int64_t max1(int64_t x)
{
    return x > 1 ? x : 1;
}

/* Order of checks: handle, then arguments as the reference BLAS checks them (an invalid one is
 * INVALID_VALUE), then the type combination (NOT_SUPPORTED), then the quick returns. */
static cublasStatus_t run(const struct call *c)
{
    struct fb_state st;
    cublasStatus_t s = fb_handle_get(c->h, FB_BLAS, &st);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!fb_valid_op(c->ta) || !fb_valid_op(c->tb) || c->m < 0 || c->n < 0 || c->k < 0 ||
        c->batch < 0)
        return CUBLAS_STATUS_INVALID_VALUE;
    int ta = c->ta != CUBLAS_OP_N, tb = c->tb != CUBLAS_OP_N;
    if (c->lda < max1(ta ? c->k : c->m) || c->ldb < max1(tb ? c->n : c->k) || c->ldc < max1(c->m))
        return CUBLAS_STATUS_INVALID_VALUE;
    int dbl;
    int scale = fb_scale_type(c->comp);
    if (scale < 0 || c->at != c->bt || !fb_types_ok(c->comp, scale, c->at, c->ct, &dbl) ||
        !algo_ok(c->algo))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!c->alpha || !c->beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (c->m == 0 || c->n == 0 || c->batch == 0)
        return CUBLAS_STATUS_SUCCESS;
    /* Device memory is host memory here: a NULL matrix would crash the executor, not raise an
     * async fault as on a GPU. Refuse it instead. */
    int reads_ab = c->k > 0;
    if (c->arrays ? (!c->Ca || (reads_ab && (!c->Aa || !c->Ba)))
                  : (!c->C || (reads_ab && (!c->A || !c->B))))
        return CUBLAS_STATUS_INVALID_VALUE;

    struct fb_gemm g = {
        .ta = ta,
        .tb = tb,
        .m = c->m,
        .n = c->n,
        .k = c->k,
        .batch = c->batch,
        .a = {.p = c->A, .ptrs = c->Aa, .t = c->at, .ld = c->lda, .stride = c->sa},
        .b = {.p = c->B, .ptrs = c->Ba, .t = c->bt, .ld = c->ldb, .stride = c->sb},
        .c = {.p = c->C,
              .ptrs = (const void *const *)c->Ca,
              .t = c->ct,
              .ld = c->ldc,
              .stride = c->sc},
        .d = {.p = c->C,
              .ptrs = (const void *const *)c->Ca,
              .t = c->ct,
              .ld = c->ldc,
              .stride = c->sc},
        .dbl = dbl,
        .scale_t = (cudaDataType)scale,
        .alpha = c->alpha,
        .beta = c->beta,
    };
    unsigned host = st.pointer_mode == CUBLAS_POINTER_MODE_HOST ? FB_HOST_ALPHA | FB_HOST_BETA : 0;
    return fb_gemm_submit(st.stream, &g, host, fb_gemm_dtype(c->comp, st.math, c->at));
}

/* ---- typed forms ---- */

#define GEMM_TYPED(NAME, IDX, T, CT, COMP)                                                         \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, \
                        IDX m, IDX n, IDX k, const T *alpha, const T *A, IDX lda, const T *B,      \
                        IDX ldb, const T *beta, T *C, IDX ldc)                                     \
    {                                                                                              \
        struct call c = {.h = handle,                                                              \
                         .ta = transa,                                                             \
                         .tb = transb,                                                             \
                         .m = m,                                                                   \
                         .n = n,                                                                   \
                         .k = k,                                                                   \
                         .alpha = alpha,                                                           \
                         .beta = beta,                                                             \
                         .A = A,                                                                   \
                         .B = B,                                                                   \
                         .C = C,                                                                   \
                         .at = CT,                                                                 \
                         .bt = CT,                                                                 \
                         .ct = CT,                                                                 \
                         .lda = lda,                                                               \
                         .ldb = ldb,                                                               \
                         .ldc = ldc,                                                               \
                         .batch = 1,                                                               \
                         .comp = COMP,                                                             \
                         .algo = CUBLAS_GEMM_DEFAULT};                                             \
        return run(&c);                                                                            \
    }

GEMM_TYPED(cublasSgemm_v2, int, float, CUDA_R_32F, CUBLAS_COMPUTE_32F)
GEMM_TYPED(cublasSgemm_v2_64, int64_t, float, CUDA_R_32F, CUBLAS_COMPUTE_32F)
GEMM_TYPED(cublasDgemm_v2, int, double, CUDA_R_64F, CUBLAS_COMPUTE_64F)
GEMM_TYPED(cublasDgemm_v2_64, int64_t, double, CUDA_R_64F, CUBLAS_COMPUTE_64F)
GEMM_TYPED(cublasHgemm, int, __half, CUDA_R_16F, CUBLAS_COMPUTE_16F)
GEMM_TYPED(cublasHgemm_64, int64_t, __half, CUDA_R_16F, CUBLAS_COMPUTE_16F)

#define GEMM_STRIDED(NAME, IDX, T, CT, COMP)                                                       \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, \
                        IDX m, IDX n, IDX k, const T *alpha, const T *A, IDX lda,                  \
                        long long int strideA, const T *B, IDX ldb, long long int strideB,         \
                        const T *beta, T *C, IDX ldc, long long int strideC, IDX batchCount)       \
    {                                                                                              \
        struct call c = {.h = handle,                                                              \
                         .ta = transa,                                                             \
                         .tb = transb,                                                             \
                         .m = m,                                                                   \
                         .n = n,                                                                   \
                         .k = k,                                                                   \
                         .alpha = alpha,                                                           \
                         .beta = beta,                                                             \
                         .A = A,                                                                   \
                         .B = B,                                                                   \
                         .C = C,                                                                   \
                         .at = CT,                                                                 \
                         .bt = CT,                                                                 \
                         .ct = CT,                                                                 \
                         .lda = lda,                                                               \
                         .ldb = ldb,                                                               \
                         .ldc = ldc,                                                               \
                         .sa = strideA,                                                            \
                         .sb = strideB,                                                            \
                         .sc = strideC,                                                            \
                         .batch = batchCount,                                                      \
                         .comp = COMP,                                                             \
                         .algo = CUBLAS_GEMM_DEFAULT};                                             \
        return run(&c);                                                                            \
    }

GEMM_STRIDED(cublasSgemmStridedBatched, int, float, CUDA_R_32F, CUBLAS_COMPUTE_32F)
GEMM_STRIDED(cublasSgemmStridedBatched_64, int64_t, float, CUDA_R_32F, CUBLAS_COMPUTE_32F)
GEMM_STRIDED(cublasDgemmStridedBatched, int, double, CUDA_R_64F, CUBLAS_COMPUTE_64F)
GEMM_STRIDED(cublasDgemmStridedBatched_64, int64_t, double, CUDA_R_64F, CUBLAS_COMPUTE_64F)
GEMM_STRIDED(cublasHgemmStridedBatched, int, __half, CUDA_R_16F, CUBLAS_COMPUTE_16F)
GEMM_STRIDED(cublasHgemmStridedBatched_64, int64_t, __half, CUDA_R_16F, CUBLAS_COMPUTE_16F)

#define GEMM_BATCHED(NAME, IDX, T, CT, COMP)                                                       \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, \
                        IDX m, IDX n, IDX k, const T *alpha, const T *const Aarray[], IDX lda,     \
                        const T *const Barray[], IDX ldb, const T *beta, T *const Carray[],        \
                        IDX ldc, IDX batchCount)                                                   \
    {                                                                                              \
        struct call c = {.h = handle,                                                              \
                         .ta = transa,                                                             \
                         .tb = transb,                                                             \
                         .m = m,                                                                   \
                         .n = n,                                                                   \
                         .k = k,                                                                   \
                         .alpha = alpha,                                                           \
                         .beta = beta,                                                             \
                         .Aa = (const void *const *)Aarray,                                        \
                         .Ba = (const void *const *)Barray,                                        \
                         .Ca = (void *const *)Carray,                                              \
                         .arrays = 1,                                                              \
                         .at = CT,                                                                 \
                         .bt = CT,                                                                 \
                         .ct = CT,                                                                 \
                         .lda = lda,                                                               \
                         .ldb = ldb,                                                               \
                         .ldc = ldc,                                                               \
                         .batch = batchCount,                                                      \
                         .comp = COMP,                                                             \
                         .algo = CUBLAS_GEMM_DEFAULT};                                             \
        return run(&c);                                                                            \
    }

GEMM_BATCHED(cublasSgemmBatched, int, float, CUDA_R_32F, CUBLAS_COMPUTE_32F)
GEMM_BATCHED(cublasSgemmBatched_64, int64_t, float, CUDA_R_32F, CUBLAS_COMPUTE_32F)
GEMM_BATCHED(cublasDgemmBatched, int, double, CUDA_R_64F, CUBLAS_COMPUTE_64F)
GEMM_BATCHED(cublasDgemmBatched_64, int64_t, double, CUDA_R_64F, CUBLAS_COMPUTE_64F)

/* ---- Ex forms ---- */

#define GEMM_EX(NAME, IDX)                                                                         \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, \
                        IDX m, IDX n, IDX k, const void *alpha, const void *A, cudaDataType Atype, \
                        IDX lda, const void *B, cudaDataType Btype, IDX ldb, const void *beta,     \
                        void *C, cudaDataType Ctype, IDX ldc, cublasComputeType_t computeType,     \
                        cublasGemmAlgo_t algo)                                                     \
    {                                                                                              \
        struct call c = {.h = handle,                                                              \
                         .ta = transa,                                                             \
                         .tb = transb,                                                             \
                         .m = m,                                                                   \
                         .n = n,                                                                   \
                         .k = k,                                                                   \
                         .alpha = alpha,                                                           \
                         .beta = beta,                                                             \
                         .A = A,                                                                   \
                         .B = B,                                                                   \
                         .C = C,                                                                   \
                         .at = Atype,                                                              \
                         .bt = Btype,                                                              \
                         .ct = Ctype,                                                              \
                         .lda = lda,                                                               \
                         .ldb = ldb,                                                               \
                         .ldc = ldc,                                                               \
                         .batch = 1,                                                               \
                         .comp = computeType,                                                      \
                         .algo = algo};                                                            \
        return run(&c);                                                                            \
    }

GEMM_EX(cublasGemmEx, int)
GEMM_EX(cublasGemmEx_64, int64_t)

#define GEMM_STRIDED_EX(NAME, IDX)                                                                 \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, \
                        IDX m, IDX n, IDX k, const void *alpha, const void *A, cudaDataType Atype, \
                        IDX lda, long long int strideA, const void *B, cudaDataType Btype,         \
                        IDX ldb, long long int strideB, const void *beta, void *C,                 \
                        cudaDataType Ctype, IDX ldc, long long int strideC, IDX batchCount,        \
                        cublasComputeType_t computeType, cublasGemmAlgo_t algo)                    \
    {                                                                                              \
        struct call c = {.h = handle,                                                              \
                         .ta = transa,                                                             \
                         .tb = transb,                                                             \
                         .m = m,                                                                   \
                         .n = n,                                                                   \
                         .k = k,                                                                   \
                         .alpha = alpha,                                                           \
                         .beta = beta,                                                             \
                         .A = A,                                                                   \
                         .B = B,                                                                   \
                         .C = C,                                                                   \
                         .at = Atype,                                                              \
                         .bt = Btype,                                                              \
                         .ct = Ctype,                                                              \
                         .lda = lda,                                                               \
                         .ldb = ldb,                                                               \
                         .ldc = ldc,                                                               \
                         .sa = strideA,                                                            \
                         .sb = strideB,                                                            \
                         .sc = strideC,                                                            \
                         .batch = batchCount,                                                      \
                         .comp = computeType,                                                      \
                         .algo = algo};                                                            \
        return run(&c);                                                                            \
    }

GEMM_STRIDED_EX(cublasGemmStridedBatchedEx, int)
GEMM_STRIDED_EX(cublasGemmStridedBatchedEx_64, int64_t)

#define GEMM_BATCHED_EX(NAME, IDX)                                                                 \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, \
                        IDX m, IDX n, IDX k, const void *alpha, const void *const Aarray[],        \
                        cudaDataType Atype, IDX lda, const void *const Barray[],                   \
                        cudaDataType Btype, IDX ldb, const void *beta, void *const Carray[],       \
                        cudaDataType Ctype, IDX ldc, IDX batchCount,                               \
                        cublasComputeType_t computeType, cublasGemmAlgo_t algo)                    \
    {                                                                                              \
        struct call c = {.h = handle,                                                              \
                         .ta = transa,                                                             \
                         .tb = transb,                                                             \
                         .m = m,                                                                   \
                         .n = n,                                                                   \
                         .k = k,                                                                   \
                         .alpha = alpha,                                                           \
                         .beta = beta,                                                             \
                         .Aa = Aarray,                                                             \
                         .Ba = Barray,                                                             \
                         .Ca = Carray,                                                             \
                         .arrays = 1,                                                              \
                         .at = Atype,                                                              \
                         .bt = Btype,                                                              \
                         .ct = Ctype,                                                              \
                         .lda = lda,                                                               \
                         .ldb = ldb,                                                               \
                         .ldc = ldc,                                                               \
                         .batch = batchCount,                                                      \
                         .comp = computeType,                                                      \
                         .algo = algo};                                                            \
        return run(&c);                                                                            \
    }

GEMM_BATCHED_EX(cublasGemmBatchedEx, int)
GEMM_BATCHED_EX(cublasGemmBatchedEx_64, int64_t)

/* cublasSgemmEx: GemmEx with float scalars and compute (the legacy mixed-input form). */
cublasStatus_t cublasSgemmEx(cublasHandle_t handle, cublasOperation_t transa,
                             cublasOperation_t transb, int m, int n, int k, const float *alpha,
                             const void *A, cudaDataType Atype, int lda, const void *B,
                             cudaDataType Btype, int ldb, const float *beta, void *C,
                             cudaDataType Ctype, int ldc)
{
    return cublasGemmEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb,
                        beta, C, Ctype, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}
