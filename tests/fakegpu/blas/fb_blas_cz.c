/* fb_blas_cz.c — cuBLAS routines PyTorch imports beyond the real GEMMs: the complex level 1-3,
 * and the S/D/C/Z rot, trmv/trsv, symv/hemv, syr/her(2), syrk/herk, syr2k/her2k, symm/hemm,
 * trsm/trmm and trsmBatched; Dgemv and Sgeam. */
#include "fb_cz.h"

#include <stdlib.h>

/* Plain loops over fb_get/fb_put (fb_cz.h): one body serves the four types, column-major, and
 * alpha/beta are read through their pointers in either pointer mode ("device" memory is host
 * memory here). Argument checks follow the reference BLAS; an invalid one is INVALID_VALUE. */

/* These routines compute on the calling thread, after the work queued on the handle's stream
 * (results such as dot's may go straight to the host): host-synchronous, in stream order. */
static cublasStatus_t check(cublasHandle_t h)
{
    return fb_handle_drain(h);
}

/* BLAS convention for a negative stride: element i lives at (n-1-i)*|inc|. */
static int64_t first(int64_t n, int64_t inc)
{
    return inc >= 0 ? 0 : (1 - n) * inc;
}
static int64_t max1(int64_t x)
{
    return x > 1 ? x : 1;
}

#define EL(p, t, ld, i, j) fb_get(p, t, (i) + (int64_t)(j) * (ld))
#define SET(p, t, ld, i, j, v) fb_put(p, t, (i) + (int64_t)(j) * (ld), v)

static int fill_ok(cublasFillMode_t u)
{
    return u == CUBLAS_FILL_MODE_LOWER || u == CUBLAS_FILL_MODE_UPPER;
}
static int diag_ok(cublasDiagType_t d)
{
    return d == CUBLAS_DIAG_NON_UNIT || d == CUBLAS_DIAG_UNIT;
}
static int side_ok(cublasSideMode_t s)
{
    return s == CUBLAS_SIDE_LEFT || s == CUBLAS_SIDE_RIGHT;
}

/* (i, j) of op(A) */
static fb_z opel(const void *A, int t, int64_t lda, cublasOperation_t op, int64_t i, int64_t j)
{
    if (op == CUBLAS_OP_N)
        return EL(A, t, lda, i, j);
    fb_z v = EL(A, t, lda, j, i);
    return op == CUBLAS_OP_C ? conj(v) : v;
}

/* (i, j) of the symmetric (herm 0) or Hermitian matrix stored in the uplo triangle of A; a
 * Hermitian diagonal is taken as real, its imaginary part never read */
static fb_z symel(const void *A, int t, int64_t lda, cublasFillMode_t uplo, int herm, int64_t i,
                  int64_t j)
{
    if (i == j)
        return herm ? creal(EL(A, t, lda, i, i)) : EL(A, t, lda, i, i);
    int stored = uplo == CUBLAS_FILL_MODE_LOWER ? i > j : i < j;
    if (stored)
        return EL(A, t, lda, i, j);
    fb_z v = EL(A, t, lda, j, i);
    return herm ? conj(v) : v;
}

/* op(T) of the triangular T in the uplo triangle of A, as a dense k x k matrix (caller frees);
 * *lower says whether op(T) is lower triangular. NULL when out of memory. */
static fb_z *dense_tri(const void *A, int t, int64_t lda, cublasFillMode_t uplo,
                       cublasOperation_t op, cublasDiagType_t diag, int64_t k, int *lower)
{
    fb_z *M = calloc((size_t)(k * k > 0 ? k * k : 1), sizeof *M);
    if (!M)
        return NULL;
    int lo = uplo == CUBLAS_FILL_MODE_LOWER;
    for (int64_t j = 0; j < k; j++)
        for (int64_t i = 0; i < k; i++) {
            int64_t r = op == CUBLAS_OP_N ? i : j, c = op == CUBLAS_OP_N ? j : i; /* in T */
            fb_z v;
            if (r == c)
                v = diag == CUBLAS_DIAG_UNIT ? 1 : EL(A, t, lda, r, r);
            else if (lo ? r > c : r < c)
                v = EL(A, t, lda, r, c);
            else
                v = 0;
            M[i + j * k] = op == CUBLAS_OP_C ? conj(v) : v;
        }
    *lower = lo == (op == CUBLAS_OP_N);
    return M;
}

/* x := M^-1 x for the dense triangular M (k x k), by substitution */
static void trisolve(const fb_z *M, int64_t k, int lower, fb_z *x)
{
    if (lower) {
        for (int64_t i = 0; i < k; i++) {
            fb_z s = x[i];
            for (int64_t j = 0; j < i; j++)
                s -= M[i + j * k] * x[j];
            x[i] = s / M[i + i * k];
        }
    } else {
        for (int64_t i = k - 1; i >= 0; i--) {
            fb_z s = x[i];
            for (int64_t j = i + 1; j < k; j++)
                s -= M[i + j * k] * x[j];
            x[i] = s / M[i + i * k];
        }
    }
}

/* ================================================================== level 1 ==== */

static cublasStatus_t nrm2(cublasHandle_t h, int64_t n, const void *x, int64_t incx, int t,
                           void *result, int rt)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!result)
        return CUBLAS_STATUS_INVALID_VALUE;
    double acc = 0;
    if (n > 0 && incx > 0)
        for (int64_t i = 0; i < n; i++) {
            fb_z v = fb_get(x, t, i * incx);
            acc += creal(v) * creal(v) + cimag(v) * cimag(v);
        }
    fb_put(result, rt, 0, sqrt(acc));
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t dot(cublasHandle_t h, int64_t n, const void *x, int64_t incx, const void *y,
                          int64_t incy, void *result, int t, int conjx)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!result)
        return CUBLAS_STATUS_INVALID_VALUE;
    fb_z acc = 0;
    if (n > 0) {
        int64_t kx = first(n, incx), ky = first(n, incy);
        for (int64_t i = 0; i < n; i++) {
            fb_z a = fb_get(x, t, kx + i * incx);
            acc += (conjx ? conj(a) : a) * fb_get(y, t, ky + i * incy);
        }
    }
    fb_put(result, t, 0, acc);
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t scal(cublasHandle_t h, int64_t n, const void *alpha, int at, void *x,
                           int64_t incx, int t)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!alpha)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (n <= 0 || incx <= 0)
        return CUBLAS_STATUS_SUCCESS;
    fb_z a = fb_get(alpha, at, 0);
    for (int64_t i = 0; i < n; i++)
        fb_put(x, t, i * incx, a * fb_get(x, t, i * incx));
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t axpy(cublasHandle_t h, int64_t n, const void *alpha, const void *x,
                           int64_t incx, void *y, int64_t incy, int t)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!alpha)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (n <= 0)
        return CUBLAS_STATUS_SUCCESS;
    int64_t kx = first(n, incx), ky = first(n, incy);
    fb_z a = fb_get(alpha, t, 0);
    for (int64_t i = 0; i < n; i++)
        fb_put(y, t, ky + i * incy, fb_get(y, t, ky + i * incy) + a * fb_get(x, t, kx + i * incx));
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t copy_swap(cublasHandle_t h, int64_t n, void *x, int64_t incx, void *y,
                                int64_t incy, int t, int swap)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (n <= 0)
        return CUBLAS_STATUS_SUCCESS;
    int64_t kx = first(n, incx), ky = first(n, incy);
    for (int64_t i = 0; i < n; i++) {
        fb_z a = fb_get(x, t, kx + i * incx);
        if (swap)
            fb_put(x, t, kx + i * incx, fb_get(y, t, ky + i * incy));
        fb_put(y, t, ky + i * incy, a);
    }
    return CUBLAS_STATUS_SUCCESS;
}

/* 1-based index of the first element of largest (want_max) or smallest |Re| + |Im| */
static cublasStatus_t iamaxmin(cublasHandle_t h, int64_t n, const void *x, int64_t incx, int t,
                               int *result, int want_max)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!result)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (n <= 0 || incx <= 0) {
        *result = 0;
        return CUBLAS_STATUS_SUCCESS;
    }
    int64_t best = 0;
    double bv = fb_abs1(fb_get(x, t, 0));
    for (int64_t i = 1; i < n; i++) {
        double v = fb_abs1(fb_get(x, t, i * incx));
        if (want_max ? v > bv : v < bv) {
            bv = v;
            best = i;
        }
    }
    *result = (int)(best + 1);
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t asum(cublasHandle_t h, int64_t n, const void *x, int64_t incx, int t,
                           void *result, int rt)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!result)
        return CUBLAS_STATUS_INVALID_VALUE;
    double acc = 0;
    if (n > 0 && incx > 0)
        for (int64_t i = 0; i < n; i++)
            acc += fb_abs1(fb_get(x, t, i * incx));
    fb_put(result, rt, 0, acc);
    return CUBLAS_STATUS_SUCCESS;
}

/* x' = c x + s y, y' = c y - conj(s) x */
static cublasStatus_t rot(cublasHandle_t h, int64_t n, void *x, int64_t incx, void *y, int64_t incy,
                          const void *c, int ct, const void *sp, int st, int t)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!c || !sp)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (n <= 0)
        return CUBLAS_STATUS_SUCCESS;
    fb_z cv = fb_get(c, ct, 0), sv = fb_get(sp, st, 0);
    int64_t kx = first(n, incx), ky = first(n, incy);
    for (int64_t i = 0; i < n; i++) {
        fb_z a = fb_get(x, t, kx + i * incx), b = fb_get(y, t, ky + i * incy);
        fb_put(x, t, kx + i * incx, cv * a + sv * b);
        fb_put(y, t, ky + i * incy, cv * b - conj(sv) * a);
    }
    return CUBLAS_STATUS_SUCCESS;
}

#define NRM2(NAME, T, RT, TC, RC)                                                                  \
    cublasStatus_t NAME(cublasHandle_t handle, int n, const T *x, int incx, RT *result)            \
    {                                                                                              \
        return nrm2(handle, n, x, incx, TC, result, RC);                                           \
    }
NRM2(cublasScnrm2_v2, cuComplex, float, FB_C, FB_S)
NRM2(cublasDznrm2_v2, cuDoubleComplex, double, FB_Z, FB_D)

#define DOT(NAME, T, TC, CJ)                                                                       \
    cublasStatus_t NAME(cublasHandle_t handle, int n, const T *x, int incx, const T *y, int incy,  \
                        T *result)                                                                 \
    {                                                                                              \
        return dot(handle, n, x, incx, y, incy, result, TC, CJ);                                   \
    }
DOT(cublasCdotu_v2, cuComplex, FB_C, 0)
DOT(cublasCdotc_v2, cuComplex, FB_C, 1)
DOT(cublasZdotu_v2, cuDoubleComplex, FB_Z, 0)
DOT(cublasZdotc_v2, cuDoubleComplex, FB_Z, 1)

#define SCAL(NAME, AT, T, AC, TC)                                                                  \
    cublasStatus_t NAME(cublasHandle_t handle, int n, const AT *alpha, T *x, int incx)             \
    {                                                                                              \
        return scal(handle, n, alpha, AC, x, incx, TC);                                            \
    }
SCAL(cublasCscal_v2, cuComplex, cuComplex, FB_C, FB_C)
SCAL(cublasCsscal_v2, float, cuComplex, FB_S, FB_C)
SCAL(cublasZscal_v2, cuDoubleComplex, cuDoubleComplex, FB_Z, FB_Z)
SCAL(cublasZdscal_v2, double, cuDoubleComplex, FB_D, FB_Z)

#define AXPY(NAME, T, TC)                                                                          \
    cublasStatus_t NAME(cublasHandle_t handle, int n, const T *alpha, const T *x, int incx, T *y,  \
                        int incy)                                                                  \
    {                                                                                              \
        return axpy(handle, n, alpha, x, incx, y, incy, TC);                                       \
    }
AXPY(cublasCaxpy_v2, cuComplex, FB_C)
AXPY(cublasZaxpy_v2, cuDoubleComplex, FB_Z)

#define COPY(NAME, T, TC, CONST, SWAP)                                                             \
    cublasStatus_t NAME(cublasHandle_t handle, int n, CONST T *x, int incx, T *y, int incy)        \
    {                                                                                              \
        return copy_swap(handle, n, (void *)x, incx, y, incy, TC, SWAP);                           \
    }
COPY(cublasCcopy_v2, cuComplex, FB_C, const, 0)
COPY(cublasZcopy_v2, cuDoubleComplex, FB_Z, const, 0)
COPY(cublasCswap_v2, cuComplex, FB_C, , 1)
COPY(cublasZswap_v2, cuDoubleComplex, FB_Z, , 1)

#define IAM(NAME, T, TC, MAX)                                                                      \
    cublasStatus_t NAME(cublasHandle_t handle, int n, const T *x, int incx, int *result)           \
    {                                                                                              \
        return iamaxmin(handle, n, x, incx, TC, result, MAX);                                      \
    }
IAM(cublasIcamax_v2, cuComplex, FB_C, 1)
IAM(cublasIzamax_v2, cuDoubleComplex, FB_Z, 1)
IAM(cublasIcamin_v2, cuComplex, FB_C, 0)
IAM(cublasIzamin_v2, cuDoubleComplex, FB_Z, 0)

#define ASUM(NAME, T, RT, TC, RC)                                                                  \
    cublasStatus_t NAME(cublasHandle_t handle, int n, const T *x, int incx, RT *result)            \
    {                                                                                              \
        return asum(handle, n, x, incx, TC, result, RC);                                           \
    }
ASUM(cublasScasum_v2, cuComplex, float, FB_C, FB_S)
ASUM(cublasDzasum_v2, cuDoubleComplex, double, FB_Z, FB_D)

#define ROT(NAME, T, CT, ST, TC, CC, SC)                                                           \
    cublasStatus_t NAME(cublasHandle_t handle, int n, T *x, int incx, T *y, int incy, const CT *c, \
                        const ST *s)                                                               \
    {                                                                                              \
        return rot(handle, n, x, incx, y, incy, c, CC, s, SC, TC);                                 \
    }
ROT(cublasSrot_v2, float, float, float, FB_S, FB_S, FB_S)
ROT(cublasDrot_v2, double, double, double, FB_D, FB_D, FB_D)
ROT(cublasCrot_v2, cuComplex, float, cuComplex, FB_C, FB_S, FB_C)
ROT(cublasCsrot_v2, cuComplex, float, float, FB_C, FB_S, FB_S)
ROT(cublasZrot_v2, cuDoubleComplex, double, cuDoubleComplex, FB_Z, FB_D, FB_Z)
ROT(cublasZdrot_v2, cuDoubleComplex, double, double, FB_Z, FB_D, FB_D)

/* ================================================================== level 2 ==== */

static cublasStatus_t gemv(cublasHandle_t h, cublasOperation_t trans, int64_t m, int64_t n,
                           const void *alpha, const void *A, int64_t lda, const void *x,
                           int64_t incx, const void *beta, void *y, int64_t incy, int t)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!fb_valid_op(trans) || m < 0 || n < 0 || lda < max1(m) || incx == 0 || incy == 0 ||
        !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0)
        return CUBLAS_STATUS_SUCCESS;
    int tr = trans != CUBLAS_OP_N;
    int64_t lenx = tr ? m : n, leny = tr ? n : m;
    int64_t kx = first(lenx, incx), ky = first(leny, incy);
    fb_z a = fb_get(alpha, t, 0), b = fb_get(beta, t, 0);
    for (int64_t i = 0; i < leny; i++) {
        fb_z acc = 0;
        for (int64_t j = 0; j < lenx; j++)
            acc += opel(A, t, lda, trans, i, j) * fb_get(x, t, kx + j * incx);
        int64_t o = ky + i * incy;
        fb_put(y, t, o, a * acc + (b != 0 ? b * fb_get(y, t, o) : 0));
    }
    return CUBLAS_STATUS_SUCCESS;
}

/* x := op(T) x (solve 0) or op(T)^-1 x (solve 1) */
static cublasStatus_t trmv_sv(cublasHandle_t h, cublasFillMode_t uplo, cublasOperation_t trans,
                              cublasDiagType_t diag, int64_t n, const void *A, int64_t lda, void *x,
                              int64_t incx, int t, int solve)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!fill_ok(uplo) || !fb_valid_op(trans) || !diag_ok(diag) || n < 0 || lda < max1(n) ||
        incx == 0)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (n == 0)
        return CUBLAS_STATUS_SUCCESS;
    int lower;
    fb_z *M = dense_tri(A, t, lda, uplo, trans, diag, n, &lower);
    fb_z *v = malloc((size_t)n * sizeof *v);
    if (!M || !v) {
        free(M);
        free(v);
        return CUBLAS_STATUS_ALLOC_FAILED;
    }
    int64_t kx = first(n, incx);
    for (int64_t i = 0; i < n; i++)
        v[i] = fb_get(x, t, kx + i * incx);
    if (solve) {
        trisolve(M, n, lower, v);
        for (int64_t i = 0; i < n; i++)
            fb_put(x, t, kx + i * incx, v[i]);
    } else {
        for (int64_t i = 0; i < n; i++) {
            fb_z acc = 0;
            for (int64_t j = 0; j < n; j++)
                acc += M[i + j * n] * v[j];
            fb_put(x, t, kx + i * incx, acc);
        }
    }
    free(M);
    free(v);
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t symv(cublasHandle_t h, cublasFillMode_t uplo, int64_t n, const void *alpha,
                           const void *A, int64_t lda, const void *x, int64_t incx,
                           const void *beta, void *y, int64_t incy, int t, int herm)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!fill_ok(uplo) || n < 0 || lda < max1(n) || incx == 0 || incy == 0 || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (n == 0)
        return CUBLAS_STATUS_SUCCESS;
    int64_t kx = first(n, incx), ky = first(n, incy);
    fb_z a = fb_get(alpha, t, 0), b = fb_get(beta, t, 0);
    for (int64_t i = 0; i < n; i++) {
        fb_z acc = 0;
        for (int64_t j = 0; j < n; j++)
            acc += symel(A, t, lda, uplo, herm, i, j) * fb_get(x, t, kx + j * incx);
        int64_t o = ky + i * incy;
        fb_put(y, t, o, a * acc + (b != 0 ? b * fb_get(y, t, o) : 0));
    }
    return CUBLAS_STATUS_SUCCESS;
}

/* A += alpha x y^T (conjy 0) or alpha x y^H (conjy 1), m x n */
static cublasStatus_t ger(cublasHandle_t h, int64_t m, int64_t n, const void *alpha, const void *x,
                          int64_t incx, const void *y, int64_t incy, void *A, int64_t lda, int t,
                          int conjy)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (m < 0 || n < 0 || incx == 0 || incy == 0 || lda < max1(m) || !alpha)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0)
        return CUBLAS_STATUS_SUCCESS;
    fb_z a = fb_get(alpha, t, 0);
    int64_t kx = first(m, incx), ky = first(n, incy);
    for (int64_t j = 0; j < n; j++) {
        fb_z yj = fb_get(y, t, ky + j * incy);
        fb_z ay = a * (conjy ? conj(yj) : yj);
        for (int64_t i = 0; i < m; i++)
            SET(A, t, lda, i, j, EL(A, t, lda, i, j) + ay * fb_get(x, t, kx + i * incx));
    }
    return CUBLAS_STATUS_SUCCESS;
}

/* The uplo triangle of A += alpha x y' + alpha' y x' (two 1) or alpha x x' (two 0), where ' is
 * ^H and alpha' = conj(alpha) when herm, else ^T and alpha. A Hermitian diagonal stays real. */
static cublasStatus_t syr(cublasHandle_t h, cublasFillMode_t uplo, int64_t n, const void *alpha,
                          int at, const void *x, int64_t incx, const void *y, int64_t incy, void *A,
                          int64_t lda, int t, int herm, int two)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!fill_ok(uplo) || n < 0 || incx == 0 || (two && incy == 0) || lda < max1(n) || !alpha)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (n == 0)
        return CUBLAS_STATUS_SUCCESS;
    fb_z a = fb_get(alpha, at, 0), a2 = herm ? conj(a) : a;
    int64_t kx = first(n, incx), ky = two ? first(n, incy) : 0;
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < n; i++) {
            if (uplo == CUBLAS_FILL_MODE_LOWER ? i < j : i > j)
                continue;
            fb_z xi = fb_get(x, t, kx + i * incx), xj = fb_get(x, t, kx + j * incx);
            fb_z d;
            if (two) {
                fb_z yi = fb_get(y, t, ky + i * incy), yj = fb_get(y, t, ky + j * incy);
                d = a * xi * (herm ? conj(yj) : yj) + a2 * yi * (herm ? conj(xj) : xj);
            } else {
                d = a * xi * (herm ? conj(xj) : xj);
            }
            fb_z v = EL(A, t, lda, i, j) + d;
            SET(A, t, lda, i, j, herm && i == j ? creal(v) : v);
        }
    return CUBLAS_STATUS_SUCCESS;
}

#define GEMV(NAME, T, TC)                                                                          \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t trans, int m, int n,              \
                        const T *alpha, const T *A, int lda, const T *x, int incx, const T *beta,  \
                        T *y, int incy)                                                            \
    {                                                                                              \
        return gemv(handle, trans, m, n, alpha, A, lda, x, incx, beta, y, incy, TC);               \
    }
GEMV(cublasCgemv_v2, cuComplex, FB_C)
GEMV(cublasZgemv_v2, cuDoubleComplex, FB_Z)
GEMV(cublasDgemv_v2, double, FB_D)

#define TRXV(NAME, T, TC, SOLVE)                                                                   \
    cublasStatus_t NAME(cublasHandle_t handle, cublasFillMode_t uplo, cublasOperation_t trans,     \
                        cublasDiagType_t diag, int n, const T *A, int lda, T *x, int incx)         \
    {                                                                                              \
        return trmv_sv(handle, uplo, trans, diag, n, A, lda, x, incx, TC, SOLVE);                  \
    }
TRXV(cublasStrmv_v2, float, FB_S, 0)
TRXV(cublasDtrmv_v2, double, FB_D, 0)
TRXV(cublasCtrmv_v2, cuComplex, FB_C, 0)
TRXV(cublasZtrmv_v2, cuDoubleComplex, FB_Z, 0)
TRXV(cublasStrsv_v2, float, FB_S, 1)
TRXV(cublasDtrsv_v2, double, FB_D, 1)
TRXV(cublasCtrsv_v2, cuComplex, FB_C, 1)
TRXV(cublasZtrsv_v2, cuDoubleComplex, FB_Z, 1)

#define SYMV(NAME, T, TC, HERM)                                                                    \
    cublasStatus_t NAME(cublasHandle_t handle, cublasFillMode_t uplo, int n, const T *alpha,       \
                        const T *A, int lda, const T *x, int incx, const T *beta, T *y, int incy)  \
    {                                                                                              \
        return symv(handle, uplo, n, alpha, A, lda, x, incx, beta, y, incy, TC, HERM);             \
    }
SYMV(cublasSsymv_v2, float, FB_S, 0)
SYMV(cublasDsymv_v2, double, FB_D, 0)
SYMV(cublasCsymv_v2, cuComplex, FB_C, 0)
SYMV(cublasZsymv_v2, cuDoubleComplex, FB_Z, 0)
SYMV(cublasChemv_v2, cuComplex, FB_C, 1)
SYMV(cublasZhemv_v2, cuDoubleComplex, FB_Z, 1)

#define GER(NAME, T, TC, CJ)                                                                       \
    cublasStatus_t NAME(cublasHandle_t handle, int m, int n, const T *alpha, const T *x, int incx, \
                        const T *y, int incy, T *A, int lda)                                       \
    {                                                                                              \
        return ger(handle, m, n, alpha, x, incx, y, incy, A, lda, TC, CJ);                         \
    }
GER(cublasCgeru_v2, cuComplex, FB_C, 0)
GER(cublasCgerc_v2, cuComplex, FB_C, 1)
GER(cublasZgeru_v2, cuDoubleComplex, FB_Z, 0)
GER(cublasZgerc_v2, cuDoubleComplex, FB_Z, 1)

#define SYR(NAME, AT, T, AC, TC, HERM)                                                             \
    cublasStatus_t NAME(cublasHandle_t handle, cublasFillMode_t uplo, int n, const AT *alpha,      \
                        const T *x, int incx, T *A, int lda)                                       \
    {                                                                                              \
        return syr(handle, uplo, n, alpha, AC, x, incx, NULL, 0, A, lda, TC, HERM, 0);             \
    }
SYR(cublasSsyr_v2, float, float, FB_S, FB_S, 0)
SYR(cublasDsyr_v2, double, double, FB_D, FB_D, 0)
SYR(cublasCsyr_v2, cuComplex, cuComplex, FB_C, FB_C, 0)
SYR(cublasZsyr_v2, cuDoubleComplex, cuDoubleComplex, FB_Z, FB_Z, 0)
SYR(cublasCher_v2, float, cuComplex, FB_S, FB_C, 1)
SYR(cublasZher_v2, double, cuDoubleComplex, FB_D, FB_Z, 1)

#define SYR2(NAME, T, TC, HERM)                                                                    \
    cublasStatus_t NAME(cublasHandle_t handle, cublasFillMode_t uplo, int n, const T *alpha,       \
                        const T *x, int incx, const T *y, int incy, T *A, int lda)                 \
    {                                                                                              \
        return syr(handle, uplo, n, alpha, TC, x, incx, y, incy, A, lda, TC, HERM, 1);             \
    }
SYR2(cublasSsyr2_v2, float, FB_S, 0)
SYR2(cublasDsyr2_v2, double, FB_D, 0)
SYR2(cublasCsyr2_v2, cuComplex, FB_C, 0)
SYR2(cublasZsyr2_v2, cuDoubleComplex, FB_Z, 0)
SYR2(cublasCher2_v2, cuComplex, FB_C, 1)
SYR2(cublasZher2_v2, cuDoubleComplex, FB_Z, 1)

/* ================================================================== level 3 ==== */

/* C = alpha op(A) op(B) + beta C for each batch member: pointer arrays (Aa != NULL) or strided */
static cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m,
                           int64_t n, int64_t k, const void *alpha, const void *A,
                           const void *const *Aa, int64_t lda, long long sa, const void *B,
                           const void *const *Ba, int64_t ldb, long long sb, const void *beta,
                           void *C, void *const *Ca, int64_t ldc, long long sc, int64_t batch,
                           int t)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!fb_valid_op(ta) || !fb_valid_op(tb) || m < 0 || n < 0 || k < 0 || batch < 0 ||
        lda < max1(ta == CUBLAS_OP_N ? m : k) || ldb < max1(tb == CUBLAS_OP_N ? k : n) ||
        ldc < max1(m) || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    fb_z a = fb_get(alpha, t, 0), b = fb_get(beta, t, 0);
    size_t es = t == FB_S ? 4 : t == FB_Z ? 16 : 8;
    for (int64_t q = 0; q < batch; q++) {
        const void *Aq = Aa ? Aa[q] : (const char *)A + (size_t)(q * sa) * es;
        const void *Bq = Ba ? Ba[q] : (const char *)B + (size_t)(q * sb) * es;
        void *Cq = Ca ? Ca[q] : (char *)C + (size_t)(q * sc) * es;
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < m; i++) {
                fb_z acc = 0;
                for (int64_t l = 0; l < k; l++)
                    acc += opel(Aq, t, lda, ta, i, l) * opel(Bq, t, ldb, tb, l, j);
                fb_z v = a * acc + (b != 0 ? b * EL(Cq, t, ldc, i, j) : 0);
                SET(Cq, t, ldc, i, j, v);
            }
    }
    return CUBLAS_STATUS_SUCCESS;
}

/* The uplo triangle of C = alpha op(A) op(B)' + alpha' op(B) op(A)' + beta C (two 1), or
 * alpha op(A) op(A)' + beta C (two 0); ' is ^H and alpha' = conj(alpha) when herm, else ^T.
 * op(X) is n x k: X itself for trans N, else X^T (X^H for herm). alpha and beta have types
 * at and bt (real for herk, beta real for her2k). */
static cublasStatus_t syrk(cublasHandle_t h, cublasFillMode_t uplo, cublasOperation_t trans,
                           int64_t n, int64_t k, const void *alpha, int at, const void *A,
                           int64_t lda, const void *B, int64_t ldb, const void *beta, int bt,
                           void *C, int64_t ldc, int t, int herm, int two)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    int trans_ok = herm ? trans == CUBLAS_OP_N || trans == CUBLAS_OP_C
                        : trans == CUBLAS_OP_N || trans == CUBLAS_OP_T ||
                              (!fb_cplx(t) && trans == CUBLAS_OP_C);
    int64_t rows = trans == CUBLAS_OP_N ? n : k;
    if (!fill_ok(uplo) || !trans_ok || n < 0 || k < 0 || lda < max1(rows) ||
        (two && ldb < max1(rows)) || ldc < max1(n) || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    cublasOperation_t op = trans == CUBLAS_OP_N ? CUBLAS_OP_N : herm ? CUBLAS_OP_C : CUBLAS_OP_T;
    fb_z a = fb_get(alpha, at, 0), a2 = herm ? conj(a) : a, b = fb_get(beta, bt, 0);
    const void *Bm = two ? B : A;
    int64_t ldbm = two ? ldb : lda;
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < n; i++) {
            if (uplo == CUBLAS_FILL_MODE_LOWER ? i < j : i > j)
                continue;
            fb_z acc = 0, acc2 = 0;
            for (int64_t l = 0; l < k; l++) {
                fb_z bj = opel(Bm, t, ldbm, op, j, l), aj = opel(A, t, lda, op, j, l);
                acc += opel(A, t, lda, op, i, l) * (herm ? conj(bj) : bj);
                if (two)
                    acc2 += opel(B, t, ldb, op, i, l) * (herm ? conj(aj) : aj);
            }
            fb_z v = a * acc + (two ? a2 * acc2 : 0) + (b != 0 ? b * EL(C, t, ldc, i, j) : 0);
            SET(C, t, ldc, i, j, herm && i == j ? creal(v) : v);
        }
    return CUBLAS_STATUS_SUCCESS;
}

/* C = alpha S B + beta C (side left, S m x m) or alpha B S + beta C (right, S n x n), S the
 * symmetric/Hermitian matrix in the uplo triangle of A */
static cublasStatus_t symm(cublasHandle_t h, cublasSideMode_t side, cublasFillMode_t uplo,
                           int64_t m, int64_t n, const void *alpha, const void *A, int64_t lda,
                           const void *B, int64_t ldb, const void *beta, void *C, int64_t ldc,
                           int t, int herm)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    int left = side == CUBLAS_SIDE_LEFT;
    if (!side_ok(side) || !fill_ok(uplo) || m < 0 || n < 0 || lda < max1(left ? m : n) ||
        ldb < max1(m) || ldc < max1(m) || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    fb_z a = fb_get(alpha, t, 0), b = fb_get(beta, t, 0);
    int64_t k = left ? m : n;
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++) {
            fb_z acc = 0;
            for (int64_t l = 0; l < k; l++)
                acc += left ? symel(A, t, lda, uplo, herm, i, l) * EL(B, t, ldb, l, j)
                            : EL(B, t, ldb, i, l) * symel(A, t, lda, uplo, herm, l, j);
            SET(C, t, ldc, i, j, a * acc + (b != 0 ? b * EL(C, t, ldc, i, j) : 0));
        }
    return CUBLAS_STATUS_SUCCESS;
}

/* solve 1: B := alpha op(T)^-1 B (left) or alpha B op(T)^-1 (right), in place.
 * solve 0: C := alpha op(T) B (left) or alpha B op(T) (right); C may be B. */
static cublasStatus_t trsm_mm(cublasHandle_t h, cublasSideMode_t side, cublasFillMode_t uplo,
                              cublasOperation_t trans, cublasDiagType_t diag, int64_t m, int64_t n,
                              const void *alpha, const void *A, int64_t lda, const void *B,
                              int64_t ldb, void *C, int64_t ldc, int t, int solve)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    int left = side == CUBLAS_SIDE_LEFT;
    int64_t k = left ? m : n;
    if (!side_ok(side) || !fill_ok(uplo) || !fb_valid_op(trans) || !diag_ok(diag) || m < 0 ||
        n < 0 || lda < max1(k) || ldb < max1(m) || ldc < max1(m) || !alpha)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0)
        return CUBLAS_STATUS_SUCCESS;
    int lower;
    fb_z *M = dense_tri(A, t, lda, uplo, trans, diag, k, &lower);
    int64_t len = left ? m : n, cnt = left ? n : m; /* vectors: columns (left) or rows */
    fb_z *v = malloc((size_t)len * sizeof *v), *w = malloc((size_t)len * sizeof *w);
    if (!M || !v || !w) {
        free(M);
        free(v);
        free(w);
        return CUBLAS_STATUS_ALLOC_FAILED;
    }
    fb_z a = fb_get(alpha, t, 0);
    if (!left) { /* x op(T) = b  <=>  op(T)^T x^T = b^T: work on the transpose */
        for (int64_t j = 0; j < k; j++)
            for (int64_t i = 0; i < j; i++) {
                fb_z x = M[i + j * k];
                M[i + j * k] = M[j + i * k];
                M[j + i * k] = x;
            }
        lower = !lower;
    }
    for (int64_t c = 0; c < cnt; c++) {
        for (int64_t r = 0; r < len; r++)
            v[r] = a * (left ? EL(B, t, ldb, r, c) : EL(B, t, ldb, c, r));
        if (solve) {
            trisolve(M, k, lower, v);
            memcpy(w, v, (size_t)len * sizeof *w);
        } else {
            for (int64_t r = 0; r < len; r++) {
                fb_z acc = 0;
                for (int64_t l = 0; l < len; l++)
                    acc += M[r + l * k] * v[l];
                w[r] = acc;
            }
        }
        for (int64_t r = 0; r < len; r++) {
            if (left)
                SET(C, t, ldc, r, c, w[r]);
            else
                SET(C, t, ldc, c, r, w[r]);
        }
    }
    free(M);
    free(v);
    free(w);
    return CUBLAS_STATUS_SUCCESS;
}

#define GEMM(NAME, T, TC)                                                                          \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, \
                        int m, int n, int k, const T *alpha, const T *A, int lda, const T *B,      \
                        int ldb, const T *beta, T *C, int ldc)                                     \
    {                                                                                              \
        return gemm(handle, transa, transb, m, n, k, alpha, A, NULL, lda, 0, B, NULL, ldb, 0,      \
                    beta, C, NULL, ldc, 0, 1, TC);                                                 \
    }
GEMM(cublasCgemm_v2, cuComplex, FB_C)
GEMM(cublasZgemm_v2, cuDoubleComplex, FB_Z)

#define GEMM_STRIDED(NAME, T, TC)                                                                  \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, \
                        int m, int n, int k, const T *alpha, const T *A, int lda,                  \
                        long long int strideA, const T *B, int ldb, long long int strideB,         \
                        const T *beta, T *C, int ldc, long long int strideC, int batchCount)       \
    {                                                                                              \
        return gemm(handle, transa, transb, m, n, k, alpha, A, NULL, lda, strideA, B, NULL, ldb,   \
                    strideB, beta, C, NULL, ldc, strideC, batchCount, TC);                         \
    }
GEMM_STRIDED(cublasCgemmStridedBatched, cuComplex, FB_C)
GEMM_STRIDED(cublasZgemmStridedBatched, cuDoubleComplex, FB_Z)

#define GEMM_BATCHED(NAME, T, TC)                                                                  \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, \
                        int m, int n, int k, const T *alpha, const T *const Aarray[], int lda,     \
                        const T *const Barray[], int ldb, const T *beta, T *const Carray[],        \
                        int ldc, int batchCount)                                                   \
    {                                                                                              \
        if (batchCount > 0 && (!Aarray || !Barray || !Carray))                                     \
            return CUBLAS_STATUS_INVALID_VALUE;                                                    \
        return gemm(handle, transa, transb, m, n, k, alpha, NULL, (const void *const *)Aarray,     \
                    lda, 0, NULL, (const void *const *)Barray, ldb, 0, beta, NULL,                 \
                    (void *const *)Carray, ldc, 0, batchCount, TC);                                \
    }
GEMM_BATCHED(cublasCgemmBatched, cuComplex, FB_C)
GEMM_BATCHED(cublasZgemmBatched, cuDoubleComplex, FB_Z)

#define SYRK(NAME, T, ST, TC, SC, HERM)                                                            \
    cublasStatus_t NAME(cublasHandle_t handle, cublasFillMode_t uplo, cublasOperation_t trans,     \
                        int n, int k, const ST *alpha, const T *A, int lda, const ST *beta, T *C,  \
                        int ldc)                                                                   \
    {                                                                                              \
        return syrk(handle, uplo, trans, n, k, alpha, SC, A, lda, NULL, 0, beta, SC, C, ldc, TC,   \
                    HERM, 0);                                                                      \
    }
SYRK(cublasSsyrk_v2, float, float, FB_S, FB_S, 0)
SYRK(cublasDsyrk_v2, double, double, FB_D, FB_D, 0)
SYRK(cublasCsyrk_v2, cuComplex, cuComplex, FB_C, FB_C, 0)
SYRK(cublasZsyrk_v2, cuDoubleComplex, cuDoubleComplex, FB_Z, FB_Z, 0)
SYRK(cublasCherk_v2, cuComplex, float, FB_C, FB_S, 1)
SYRK(cublasZherk_v2, cuDoubleComplex, double, FB_Z, FB_D, 1)

#define SYR2K(NAME, T, BT, TC, BC, HERM)                                                           \
    cublasStatus_t NAME(cublasHandle_t handle, cublasFillMode_t uplo, cublasOperation_t trans,     \
                        int n, int k, const T *alpha, const T *A, int lda, const T *B, int ldb,    \
                        const BT *beta, T *C, int ldc)                                             \
    {                                                                                              \
        return syrk(handle, uplo, trans, n, k, alpha, TC, A, lda, B, ldb, beta, BC, C, ldc, TC,    \
                    HERM, 1);                                                                      \
    }
SYR2K(cublasSsyr2k_v2, float, float, FB_S, FB_S, 0)
SYR2K(cublasDsyr2k_v2, double, double, FB_D, FB_D, 0)
SYR2K(cublasCsyr2k_v2, cuComplex, cuComplex, FB_C, FB_C, 0)
SYR2K(cublasZsyr2k_v2, cuDoubleComplex, cuDoubleComplex, FB_Z, FB_Z, 0)
SYR2K(cublasCher2k_v2, cuComplex, float, FB_C, FB_S, 1)
SYR2K(cublasZher2k_v2, cuDoubleComplex, double, FB_Z, FB_D, 1)

#define SYMM(NAME, T, TC, HERM)                                                                    \
    cublasStatus_t NAME(cublasHandle_t handle, cublasSideMode_t side, cublasFillMode_t uplo,       \
                        int m, int n, const T *alpha, const T *A, int lda, const T *B, int ldb,    \
                        const T *beta, T *C, int ldc)                                              \
    {                                                                                              \
        return symm(handle, side, uplo, m, n, alpha, A, lda, B, ldb, beta, C, ldc, TC, HERM);      \
    }
SYMM(cublasSsymm_v2, float, FB_S, 0)
SYMM(cublasDsymm_v2, double, FB_D, 0)
SYMM(cublasCsymm_v2, cuComplex, FB_C, 0)
SYMM(cublasZsymm_v2, cuDoubleComplex, FB_Z, 0)
SYMM(cublasChemm_v2, cuComplex, FB_C, 1)
SYMM(cublasZhemm_v2, cuDoubleComplex, FB_Z, 1)

#define TRSM(NAME, T, TC)                                                                          \
    cublasStatus_t NAME(cublasHandle_t handle, cublasSideMode_t side, cublasFillMode_t uplo,       \
                        cublasOperation_t trans, cublasDiagType_t diag, int m, int n,              \
                        const T *alpha, const T *A, int lda, T *B, int ldb)                        \
    {                                                                                              \
        return trsm_mm(handle, side, uplo, trans, diag, m, n, alpha, A, lda, B, ldb, B, ldb, TC,   \
                       1);                                                                         \
    }
TRSM(cublasStrsm_v2, float, FB_S)
TRSM(cublasDtrsm_v2, double, FB_D)
TRSM(cublasCtrsm_v2, cuComplex, FB_C)
TRSM(cublasZtrsm_v2, cuDoubleComplex, FB_Z)

#define TRMM(NAME, T, TC)                                                                          \
    cublasStatus_t NAME(cublasHandle_t handle, cublasSideMode_t side, cublasFillMode_t uplo,       \
                        cublasOperation_t trans, cublasDiagType_t diag, int m, int n,              \
                        const T *alpha, const T *A, int lda, const T *B, int ldb, T *C, int ldc)   \
    {                                                                                              \
        return trsm_mm(handle, side, uplo, trans, diag, m, n, alpha, A, lda, B, ldb, C, ldc, TC,   \
                       0);                                                                         \
    }
TRMM(cublasStrmm_v2, float, FB_S)
TRMM(cublasDtrmm_v2, double, FB_D)
TRMM(cublasCtrmm_v2, cuComplex, FB_C)
TRMM(cublasZtrmm_v2, cuDoubleComplex, FB_Z)

#define TRSM_BATCHED(NAME, T, TC)                                                                  \
    cublasStatus_t NAME(cublasHandle_t handle, cublasSideMode_t side, cublasFillMode_t uplo,       \
                        cublasOperation_t trans, cublasDiagType_t diag, int m, int n,              \
                        const T *alpha, const T *const A[], int lda, T *const B[], int ldb,        \
                        int batchCount)                                                            \
    {                                                                                              \
        cublasStatus_t s = check(handle);                                                          \
        if (s == CUBLAS_STATUS_SUCCESS && (batchCount < 0 || (batchCount > 0 && (!A || !B))))      \
            s = CUBLAS_STATUS_INVALID_VALUE;                                                       \
        for (int q = 0; s == CUBLAS_STATUS_SUCCESS && q < batchCount; q++)                         \
            s = trsm_mm(handle, side, uplo, trans, diag, m, n, alpha, A[q], lda, B[q], ldb, B[q],  \
                        ldb, TC, 1);                                                               \
        return s;                                                                                  \
    }
TRSM_BATCHED(cublasStrsmBatched, float, FB_S)
TRSM_BATCHED(cublasDtrsmBatched, double, FB_D)
TRSM_BATCHED(cublasCtrsmBatched, cuComplex, FB_C)
TRSM_BATCHED(cublasZtrsmBatched, cuDoubleComplex, FB_Z)

/* C = alpha op(A) + beta op(B), m x n; an operand whose scalar is zero is not read. In place
 * (C == A or C == B, op N, same ld) works element by element. */
static cublasStatus_t geam(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m,
                           int64_t n, const void *alpha, const void *A, int64_t lda,
                           const void *beta, const void *B, int64_t ldb, void *C, int64_t ldc,
                           int t)
{
    cublasStatus_t s = check(h);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!fb_valid_op(ta) || !fb_valid_op(tb) || m < 0 || n < 0 ||
        lda < max1(ta == CUBLAS_OP_N ? m : n) || ldb < max1(tb == CUBLAS_OP_N ? m : n) ||
        ldc < max1(m) || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    fb_z a = fb_get(alpha, t, 0), b = fb_get(beta, t, 0);
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++) {
            fb_z v = (a != 0 ? a * opel(A, t, lda, ta, i, j) : 0) +
                     (b != 0 ? b * opel(B, t, ldb, tb, i, j) : 0);
            SET(C, t, ldc, i, j, v);
        }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgeam(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, const float *alpha,
                           const float *A, int lda, const float *beta, const float *B, int ldb,
                           float *C, int ldc)
{
    return geam(handle, transa, transb, m, n, alpha, A, lda, beta, B, ldb, C, ldc, FB_S);
}
