/* fb_blas_l12.c — cuBLAS level 1/2: Sgemv, S/D axpy, scal, dot, nrm2, copy, swap, asum, I?amax,
 * I?amin, S/Dger (and _64). */
#include "fb_int.h"

#include <math.h>
#include <string.h>

/* Plain loops, not OpenBLAS: they take 64-bit sizes and strides, and accumulating in double
 * makes dot and nrm2 at least as accurate as the GPU's and independent of threading. */

/* BLAS convention for a negative stride: element i lives at (n-1-i)*|inc|. */
static int64_t first(int64_t n, int64_t inc)
{
    return inc >= 0 ? 0 : (1 - n) * inc;
}

/* These routines compute on the calling thread, after the work queued on the handle's stream
 * (results such as dot's may go straight to the host): host-synchronous, in stream order. */
static cublasStatus_t check(cublasHandle_t h)
{
    return fb_handle_drain(h);
}

#define GEMV(NAME, IDX)                                                                            \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t trans, IDX m, IDX n,              \
                        const float *alpha, const float *A, IDX lda, const float *x, IDX incx,     \
                        const float *beta, float *y, IDX incy)                                     \
    {                                                                                              \
        return gemv(handle, trans, m, n, alpha, A, lda, x, incx, beta, y, incy);                   \
    }

static cublasStatus_t gemv(cublasHandle_t h, cublasOperation_t trans, int64_t m, int64_t n,
                           const float *alpha, const float *A, int64_t lda, const float *x,
                           int64_t incx, const float *beta, float *y, int64_t incy)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!fb_valid_op(trans) || m < 0 || n < 0 || lda < (m > 1 ? m : 1) || incx == 0 || incy == 0 ||
        !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0)
        return CUBLAS_STATUS_SUCCESS;
    int t = trans != CUBLAS_OP_N;
    int64_t lenx = t ? m : n, leny = t ? n : m;
    int64_t kx = first(lenx, incx), ky = first(leny, incy);
    double a = *alpha, b = *beta;
    for (int64_t i = 0; i < leny; i++) {
        double acc = 0;
        for (int64_t j = 0; j < lenx; j++) {
            double aij = t ? A[j + i * lda] : A[i + j * lda];
            acc += aij * x[kx + j * incx];
        }
        float *yi = &y[ky + i * incy];
        double v = (double)(float)(a * acc);
        if (b != 0) /* beta == 0: y is output only, never read */
            v += b * *yi;
        *yi = (float)v;
    }
    return CUBLAS_STATUS_SUCCESS;
}

GEMV(cublasSgemv_v2, int)
GEMV(cublasSgemv_v2_64, int64_t)

static cublasStatus_t axpy(cublasHandle_t h, int64_t n, const float *alpha, const float *x,
                           int64_t incx, float *y, int64_t incy)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!alpha)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (n <= 0)
        return CUBLAS_STATUS_SUCCESS;
    int64_t kx = first(n, incx), ky = first(n, incy);
    float a = *alpha;
    for (int64_t i = 0; i < n; i++)
        y[ky + i * incy] += a * x[kx + i * incx];
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSaxpy_v2(cublasHandle_t handle, int n, const float *alpha, const float *x,
                              int incx, float *y, int incy)
{
    return axpy(handle, n, alpha, x, incx, y, incy);
}

cublasStatus_t cublasSaxpy_v2_64(cublasHandle_t handle, int64_t n, const float *alpha,
                                 const float *x, int64_t incx, float *y, int64_t incy)
{
    return axpy(handle, n, alpha, x, incx, y, incy);
}

static cublasStatus_t scal(cublasHandle_t h, int64_t n, const float *alpha, float *x, int64_t incx)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!alpha)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (n <= 0 || incx <= 0) /* the reference BLAS quick return */
        return CUBLAS_STATUS_SUCCESS;
    float a = *alpha;
    for (int64_t i = 0; i < n; i++)
        x[i * incx] *= a;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSscal_v2(cublasHandle_t handle, int n, const float *alpha, float *x, int incx)
{
    return scal(handle, n, alpha, x, incx);
}

cublasStatus_t cublasSscal_v2_64(cublasHandle_t handle, int64_t n, const float *alpha, float *x,
                                 int64_t incx)
{
    return scal(handle, n, alpha, x, incx);
}

static cublasStatus_t dot(cublasHandle_t h, int64_t n, const float *x, int64_t incx, const float *y,
                          int64_t incy, float *result)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!result)
        return CUBLAS_STATUS_INVALID_VALUE;
    double acc = 0;
    if (n > 0) {
        int64_t kx = first(n, incx), ky = first(n, incy);
        for (int64_t i = 0; i < n; i++)
            acc += (double)x[kx + i * incx] * y[ky + i * incy];
    }
    *result = (float)acc; /* host or "device" pointer: both are plain memory here */
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSdot_v2(cublasHandle_t handle, int n, const float *x, int incx, const float *y,
                             int incy, float *result)
{
    return dot(handle, n, x, incx, y, incy, result);
}

cublasStatus_t cublasSdot_v2_64(cublasHandle_t handle, int64_t n, const float *x, int64_t incx,
                                const float *y, int64_t incy, float *result)
{
    return dot(handle, n, x, incx, y, incy, result);
}

/* cublasDotEx (what torch.dot runs for fp16 and bf16): x, y and the result of one real type,
 * computed in float (double for fp64) and rounded once to the result's type. */
cublasStatus_t cublasDotEx(cublasHandle_t handle, int n, const void *x, cudaDataType xType,
                           int incx, const void *y, cudaDataType yType, int incy, void *result,
                           cudaDataType resultType, cudaDataType executionType)
{
    cublasStatus_t s = check(handle);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!result)
        return CUBLAS_STATUS_INVALID_VALUE;
    int dbl = xType == CUDA_R_64F;
    if (xType != yType || xType != resultType ||
        (xType != CUDA_R_16F && xType != CUDA_R_16BF && xType != CUDA_R_32F && !dbl) ||
        executionType != (dbl ? CUDA_R_64F : CUDA_R_32F))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    double acc = 0;
    if (n > 0) {
        int64_t kx = first(n, incx), ky = first(n, incy);
        for (int64_t i = 0; i < n; i++)
            acc += fb_load(x, xType, kx + i * incx) * fb_load(y, yType, ky + i * incy);
    }
    float f = (float)acc;
    switch (resultType) {
    case CUDA_R_16F: {
        uint16_t h = fb_f2h(f);
        memcpy(result, &h, 2);
        break;
    }
    case CUDA_R_16BF: {
        uint16_t h = fb_f2bf(f);
        memcpy(result, &h, 2);
        break;
    }
    case CUDA_R_32F:
        memcpy(result, &f, 4);
        break;
    default:
        memcpy(result, &acc, 8);
        break;
    }
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t nrm2(cublasHandle_t h, int64_t n, const float *x, int64_t incx, float *result)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!result)
        return CUBLAS_STATUS_INVALID_VALUE;
    double acc = 0; /* a float squared cannot overflow a double: no scaling needed */
    if (n > 0 && incx > 0)
        for (int64_t i = 0; i < n; i++)
            acc += (double)x[i * incx] * x[i * incx];
    *result = (float)sqrt(acc);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSnrm2_v2(cublasHandle_t handle, int n, const float *x, int incx, float *result)
{
    return nrm2(handle, n, x, incx, result);
}

cublasStatus_t cublasSnrm2_v2_64(cublasHandle_t handle, int64_t n, const float *x, int64_t incx,
                                 float *result)
{
    return nrm2(handle, n, x, incx, result);
}

static cublasStatus_t copy(cublasHandle_t h, int64_t n, const float *x, int64_t incx, float *y,
                           int64_t incy)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (n <= 0)
        return CUBLAS_STATUS_SUCCESS;
    int64_t kx = first(n, incx), ky = first(n, incy);
    for (int64_t i = 0; i < n; i++)
        y[ky + i * incy] = x[kx + i * incx];
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasScopy_v2(cublasHandle_t handle, int n, const float *x, int incx, float *y,
                              int incy)
{
    return copy(handle, n, x, incx, y, incy);
}

cublasStatus_t cublasScopy_v2_64(cublasHandle_t handle, int64_t n, const float *x, int64_t incx,
                                 float *y, int64_t incy)
{
    return copy(handle, n, x, incx, y, incy);
}

/* ---- double forms, swap, asum, i?amax/i?amin, ger ------------------------------------------ */

/* Each macro defines the int entry point and its _64 twin over one static body. */
#define BOTH(NAME, BODY, PARAMS, ARGS)                                                             \
    cublasStatus_t NAME PARAMS(int) { return BODY ARGS; }                                          \
    cublasStatus_t NAME##_64 PARAMS(int64_t) { return BODY ARGS; }

static cublasStatus_t daxpy(cublasHandle_t h, int64_t n, const double *alpha, const double *x,
                            int64_t incx, double *y, int64_t incy)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!alpha)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (n <= 0)
        return CUBLAS_STATUS_SUCCESS;
    int64_t kx = first(n, incx), ky = first(n, incy);
    double a = *alpha;
    for (int64_t i = 0; i < n; i++)
        y[ky + i * incy] += a * x[kx + i * incx];
    return CUBLAS_STATUS_SUCCESS;
}

#define DAXPY_P(IDX)                                                                               \
    (cublasHandle_t handle, IDX n, const double *alpha, const double *x, IDX incx, double *y,      \
     IDX incy)
BOTH(cublasDaxpy_v2, daxpy, DAXPY_P, (handle, n, alpha, x, incx, y, incy))

static cublasStatus_t dscal(cublasHandle_t h, int64_t n, const double *alpha, double *x,
                            int64_t incx)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!alpha)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (n <= 0 || incx <= 0)
        return CUBLAS_STATUS_SUCCESS;
    double a = *alpha;
    for (int64_t i = 0; i < n; i++)
        x[i * incx] *= a;
    return CUBLAS_STATUS_SUCCESS;
}

#define DSCAL_P(IDX) (cublasHandle_t handle, IDX n, const double *alpha, double *x, IDX incx)
BOTH(cublasDscal_v2, dscal, DSCAL_P, (handle, n, alpha, x, incx))

static cublasStatus_t dcopy(cublasHandle_t h, int64_t n, const double *x, int64_t incx, double *y,
                            int64_t incy)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (n <= 0)
        return CUBLAS_STATUS_SUCCESS;
    int64_t kx = first(n, incx), ky = first(n, incy);
    for (int64_t i = 0; i < n; i++)
        y[ky + i * incy] = x[kx + i * incx];
    return CUBLAS_STATUS_SUCCESS;
}

#define DCOPY_P(IDX) (cublasHandle_t handle, IDX n, const double *x, IDX incx, double *y, IDX incy)
BOTH(cublasDcopy_v2, dcopy, DCOPY_P, (handle, n, x, incx, y, incy))

/* swap on elements of esize bytes: the same code serves float and double */
static cublasStatus_t swap(cublasHandle_t h, int64_t n, void *x, int64_t incx, void *y,
                           int64_t incy, size_t esize)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (n <= 0)
        return CUBLAS_STATUS_SUCCESS;
    int64_t kx = first(n, incx), ky = first(n, incy);
    for (int64_t i = 0; i < n; i++) {
        char *a = (char *)x + (size_t)(kx + i * incx) * esize;
        char *b = (char *)y + (size_t)(ky + i * incy) * esize;
        char t[8];
        memcpy(t, a, esize);
        memcpy(a, b, esize);
        memcpy(b, t, esize);
    }
    return CUBLAS_STATUS_SUCCESS;
}

#define SSWAP_P(IDX) (cublasHandle_t handle, IDX n, float *x, IDX incx, float *y, IDX incy)
#define DSWAP_P(IDX) (cublasHandle_t handle, IDX n, double *x, IDX incx, double *y, IDX incy)
BOTH(cublasSswap_v2, swap, SSWAP_P, (handle, n, x, incx, y, incy, sizeof *x))
BOTH(cublasDswap_v2, swap, DSWAP_P, (handle, n, x, incx, y, incy, sizeof *x))

static cublasStatus_t ddot(cublasHandle_t h, int64_t n, const double *x, int64_t incx,
                           const double *y, int64_t incy, double *result)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!result)
        return CUBLAS_STATUS_INVALID_VALUE;
    double acc = 0;
    if (n > 0) {
        int64_t kx = first(n, incx), ky = first(n, incy);
        for (int64_t i = 0; i < n; i++)
            acc += x[kx + i * incx] * y[ky + i * incy];
    }
    *result = acc;
    return CUBLAS_STATUS_SUCCESS;
}

#define DDOT_P(IDX)                                                                                \
    (cublasHandle_t handle, IDX n, const double *x, IDX incx, const double *y, IDX incy,           \
     double *result)
BOTH(cublasDdot_v2, ddot, DDOT_P, (handle, n, x, incx, y, incy, result))

/* Scaled by the largest magnitude so that squares of large or tiny doubles neither overflow
 * nor underflow. */
static cublasStatus_t dnrm2(cublasHandle_t h, int64_t n, const double *x, int64_t incx,
                            double *result)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!result)
        return CUBLAS_STATUS_INVALID_VALUE;
    double scale = 0, acc = 0;
    if (n > 0 && incx > 0) {
        for (int64_t i = 0; i < n; i++)
            if (fabs(x[i * incx]) > scale || isnan(x[i * incx]))
                scale = fabs(x[i * incx]);
        if (scale > 0 && isfinite(scale))
            for (int64_t i = 0; i < n; i++) {
                double v = x[i * incx] / scale;
                acc += v * v;
            }
    }
    *result = scale > 0 && isfinite(scale) ? scale * sqrt(acc) : scale;
    return CUBLAS_STATUS_SUCCESS;
}

#define DNRM2_P(IDX) (cublasHandle_t handle, IDX n, const double *x, IDX incx, double *result)
BOTH(cublasDnrm2_v2, dnrm2, DNRM2_P, (handle, n, x, incx, result))

/* x is float (dbl 0) or double (dbl 1): element i of a positive stride */
static double elem(const void *x, int dbl, int64_t i)
{
    return dbl ? ((const double *)x)[i] : (double)((const float *)x)[i];
}

/* asum, like nrm2, reads nothing for n <= 0 or incx <= 0 and returns 0. */
static double asum(const void *x, int dbl, int64_t n, int64_t incx)
{
    double acc = 0;
    if (n > 0 && incx > 0)
        for (int64_t i = 0; i < n; i++)
            acc += fabs(elem(x, dbl, i * incx));
    return acc;
}

static cublasStatus_t sasum(cublasHandle_t h, int64_t n, const float *x, int64_t incx,
                            float *result)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!result)
        return CUBLAS_STATUS_INVALID_VALUE;
    *result = (float)asum(x, 0, n, incx);
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t dasum(cublasHandle_t h, int64_t n, const double *x, int64_t incx,
                            double *result)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!result)
        return CUBLAS_STATUS_INVALID_VALUE;
    *result = asum(x, 1, n, incx);
    return CUBLAS_STATUS_SUCCESS;
}

#define SASUM_P(IDX) (cublasHandle_t handle, IDX n, const float *x, IDX incx, float *result)
#define DASUM_P(IDX) (cublasHandle_t handle, IDX n, const double *x, IDX incx, double *result)
BOTH(cublasSasum_v2, sasum, SASUM_P, (handle, n, x, incx, result))
BOTH(cublasDasum_v2, dasum, DASUM_P, (handle, n, x, incx, result))

/* The 1-based index of the first element of largest (want_max) or smallest |x|; 0 for
 * n <= 0 or incx <= 0, as the reference BLAS. */
static int64_t iamaxmin(const void *x, int dbl, int64_t n, int64_t incx, int want_max)
{
    if (n <= 0 || incx <= 0)
        return 0;
    int64_t best = 0;
    double bv = fabs(elem(x, dbl, 0));
    for (int64_t i = 1; i < n; i++) {
        double v = fabs(elem(x, dbl, i * incx));
        if (want_max ? v > bv : v < bv) {
            bv = v;
            best = i;
        }
    }
    return best + 1;
}

#define IAMAXMIN(NAME, T, DBL, MAX)                                                                \
    cublasStatus_t NAME(cublasHandle_t handle, int n, const T *x, int incx, int *result)           \
    {                                                                                              \
        cublasStatus_t s = check(handle);                                                          \
        if (s != CUBLAS_STATUS_SUCCESS)                                                            \
            return s;                                                                              \
        if (!result)                                                                               \
            return CUBLAS_STATUS_INVALID_VALUE;                                                    \
        *result = (int)iamaxmin(x, DBL, n, incx, MAX);                                             \
        return CUBLAS_STATUS_SUCCESS;                                                              \
    }                                                                                              \
    cublasStatus_t NAME##_64(cublasHandle_t handle, int64_t n, const T *x, int64_t incx,           \
                             int64_t *result)                                                      \
    {                                                                                              \
        cublasStatus_t s = check(handle);                                                          \
        if (s != CUBLAS_STATUS_SUCCESS)                                                            \
            return s;                                                                              \
        if (!result)                                                                               \
            return CUBLAS_STATUS_INVALID_VALUE;                                                    \
        *result = iamaxmin(x, DBL, n, incx, MAX);                                                  \
        return CUBLAS_STATUS_SUCCESS;                                                              \
    }

IAMAXMIN(cublasIsamax_v2, float, 0, 1)
IAMAXMIN(cublasIdamax_v2, double, 1, 1)
IAMAXMIN(cublasIsamin_v2, float, 0, 0)
IAMAXMIN(cublasIdamin_v2, double, 1, 0)

/* A += alpha x y^T (m x n, column-major), computed in double. */
static cublasStatus_t ger(cublasHandle_t h, int64_t m, int64_t n, const void *alpha, int dbl,
                          const void *x, int64_t incx, const void *y, int64_t incy, void *A,
                          int64_t lda)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (m < 0 || n < 0 || incx == 0 || incy == 0 || lda < (m > 1 ? m : 1) || !alpha)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0)
        return CUBLAS_STATUS_SUCCESS;
    double a = elem(alpha, dbl, 0);
    int64_t kx = first(m, incx), ky = first(n, incy);
    for (int64_t j = 0; j < n; j++) {
        double ay = a * elem(y, dbl, ky + j * incy);
        for (int64_t i = 0; i < m; i++) {
            int64_t o = i + j * lda;
            double v = elem(A, dbl, o) + ay * elem(x, dbl, kx + i * incx);
            if (dbl)
                ((double *)A)[o] = v;
            else
                ((float *)A)[o] = (float)v;
        }
    }
    return CUBLAS_STATUS_SUCCESS;
}

#define SGER_P(IDX)                                                                                \
    (cublasHandle_t handle, IDX m, IDX n, const float *alpha, const float *x, IDX incx,            \
     const float *y, IDX incy, float *A, IDX lda)
#define DGER_P(IDX)                                                                                \
    (cublasHandle_t handle, IDX m, IDX n, const double *alpha, const double *x, IDX incx,          \
     const double *y, IDX incy, double *A, IDX lda)
BOTH(cublasSger_v2, ger, SGER_P, (handle, m, n, alpha, 0, x, incx, y, incy, A, lda))
BOTH(cublasDger_v2, ger, DGER_P, (handle, m, n, alpha, 1, x, incx, y, incy, A, lda))
