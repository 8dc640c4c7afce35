/* fb_blas_l12.c — cuBLAS level 1/2: Sgemv, Saxpy, Sscal, Sdot, Snrm2, Scopy (and _64). */
#include "fb_int.h"

#include <math.h>

/* Plain loops, not OpenBLAS: they take 64-bit sizes and strides, and accumulating in double
 * makes dot and nrm2 at least as accurate as the GPU's and independent of threading. */

/* BLAS convention for a negative stride: element i lives at (n-1-i)*|inc|. */
static int64_t first(int64_t n, int64_t inc)
{
    return inc >= 0 ? 0 : (1 - n) * inc;
}

static cublasStatus_t check(cublasHandle_t h)
{
    return fb_handle_get(h, FB_BLAS, NULL);
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
