/* fb_solve.c — cuBLAS's batched LAPACK-like routines: getrf, getrs, geqrf and gels, S/D/C/Z. */
#include "fb_cz.h"

#include <stdlib.h>

/* By hand (no LAPACKE here): the unblocked LAPACK algorithms (getf2, getrs, geqr2 with larfg,
 * gels through QR) in double precision over fb_get/fb_put. The arrays of matrix pointers and
 * the pivot/info arrays are "device" memory, plain memory here. As in cuBLAS, getrfBatched's
 * info is a device array (one per matrix); getrs/geqrf/gelsBatched's info is one host int
 * that reports a bad argument as -i (i counts from 1, the handle not counted). */

#define EL(p, t, ld, i, j) fb_get(p, t, (i) + (int64_t)(j) * (ld))
#define SET(p, t, ld, i, j, v) fb_put(p, t, (i) + (int64_t)(j) * (ld), v)

static int64_t max1(int64_t x)
{
    return x > 1 ? x : 1;
}

static cublasStatus_t bad(int *info, int i)
{
    if (info)
        *info = -i;
    return CUBLAS_STATUS_INVALID_VALUE;
}

/* ---- getrf: P A = L U, partial pivoting (P NULL: none); info[q] = first zero U(i,i), 1-based */

static void getf2(void *A, int t, int64_t n, int64_t lda, int *piv, int *info)
{
    *info = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t p = k;
        if (piv) {
            double best = fb_abs1(EL(A, t, lda, k, k));
            for (int64_t i = k + 1; i < n; i++)
                if (fb_abs1(EL(A, t, lda, i, k)) > best) {
                    best = fb_abs1(EL(A, t, lda, i, k));
                    p = i;
                }
            piv[k] = (int)(p + 1);
            if (p != k)
                for (int64_t j = 0; j < n; j++) {
                    fb_z x = EL(A, t, lda, k, j);
                    SET(A, t, lda, k, j, EL(A, t, lda, p, j));
                    SET(A, t, lda, p, j, x);
                }
        }
        fb_z d = EL(A, t, lda, k, k);
        if (d == 0) {
            if (!*info)
                *info = (int)(k + 1);
            continue; /* as getf2: the column is left, the elimination goes on */
        }
        for (int64_t i = k + 1; i < n; i++) {
            fb_z l = EL(A, t, lda, i, k) / d;
            SET(A, t, lda, i, k, l);
            for (int64_t j = k + 1; j < n; j++)
                SET(A, t, lda, i, j, EL(A, t, lda, i, j) - l * EL(A, t, lda, k, j));
        }
    }
}

static cublasStatus_t getrf(cublasHandle_t h, int n, void *const *A, int lda, int *P, int *info,
                            int batch, int t)
{
    cublasStatus_t s = fb_handle_drain(h); /* computes on this thread, in stream order */
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (n < 0 || lda < max1(n) || batch < 0 || (batch > 0 && (!A || !info)))
        return CUBLAS_STATUS_INVALID_VALUE;
    for (int q = 0; q < batch; q++)
        getf2(A[q], t, n, lda, P ? P + (size_t)q * n : NULL, &info[q]);
    return CUBLAS_STATUS_SUCCESS;
}

/* ---- getrs: op(A) X = B with A's getrf factors ---------------------------------------------- */

static void getrs1(const void *A, int t, int64_t n, int64_t lda, const int *piv,
                   cublasOperation_t trans, void *B, int64_t nrhs, int64_t ldb)
{
    int cj = trans == CUBLAS_OP_C;
    for (int64_t c = 0; c < nrhs; c++) {
        if (trans == CUBLAS_OP_N) {
            if (piv) /* apply P */
                for (int64_t i = 0; i < n; i++) {
                    int64_t p = piv[i] - 1;
                    if (p != i && p >= 0 && p < n) {
                        fb_z x = EL(B, t, ldb, i, c);
                        SET(B, t, ldb, i, c, EL(B, t, ldb, p, c));
                        SET(B, t, ldb, p, c, x);
                    }
                }
            for (int64_t i = 0; i < n; i++) { /* L y = b, unit diagonal */
                fb_z x = EL(B, t, ldb, i, c);
                for (int64_t j = 0; j < i; j++)
                    x -= EL(A, t, lda, i, j) * EL(B, t, ldb, j, c);
                SET(B, t, ldb, i, c, x);
            }
            for (int64_t i = n - 1; i >= 0; i--) { /* U x = y */
                fb_z x = EL(B, t, ldb, i, c);
                for (int64_t j = i + 1; j < n; j++)
                    x -= EL(A, t, lda, i, j) * EL(B, t, ldb, j, c);
                SET(B, t, ldb, i, c, x / EL(A, t, lda, i, i));
            }
        } else { /* A^T = U^T L^T P: U^T y = b, L^T z = y, then P^T */
            for (int64_t i = 0; i < n; i++) {
                fb_z x = EL(B, t, ldb, i, c);
                for (int64_t j = 0; j < i; j++) {
                    fb_z u = EL(A, t, lda, j, i);
                    x -= (cj ? conj(u) : u) * EL(B, t, ldb, j, c);
                }
                fb_z d = EL(A, t, lda, i, i);
                SET(B, t, ldb, i, c, x / (cj ? conj(d) : d));
            }
            for (int64_t i = n - 1; i >= 0; i--) {
                fb_z x = EL(B, t, ldb, i, c);
                for (int64_t j = i + 1; j < n; j++) {
                    fb_z l = EL(A, t, lda, j, i);
                    x -= (cj ? conj(l) : l) * EL(B, t, ldb, j, c);
                }
                SET(B, t, ldb, i, c, x);
            }
            if (piv)
                for (int64_t i = n - 1; i >= 0; i--) {
                    int64_t p = piv[i] - 1;
                    if (p != i && p >= 0 && p < n) {
                        fb_z x = EL(B, t, ldb, i, c);
                        SET(B, t, ldb, i, c, EL(B, t, ldb, p, c));
                        SET(B, t, ldb, p, c, x);
                    }
                }
        }
    }
}

static cublasStatus_t getrs(cublasHandle_t h, cublasOperation_t trans, int n, int nrhs,
                            const void *const *A, int lda, const int *piv, void *const *B, int ldb,
                            int *info, int batch, int t)
{
    cublasStatus_t s = fb_handle_drain(h); /* computes on this thread, in stream order */
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!info)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (!fb_valid_op(trans))
        return bad(info, 1);
    if (n < 0)
        return bad(info, 2);
    if (nrhs < 0)
        return bad(info, 3);
    if (batch > 0 && !A)
        return bad(info, 4);
    if (lda < max1(n))
        return bad(info, 5);
    if (batch > 0 && !B)
        return bad(info, 7);
    if (ldb < max1(n))
        return bad(info, 8);
    if (batch < 0)
        return bad(info, 10);
    *info = 0;
    for (int q = 0; q < batch; q++)
        getrs1(A[q], t, n, lda, piv ? piv + (size_t)q * n : NULL, trans, B[q], nrhs, ldb);
    return CUBLAS_STATUS_SUCCESS;
}

/* ---- geqrf: A = Q R, Q = H(1)...H(k), H(i) = I - tau v v^H (LAPACK geqr2, larfg) ------------- */

static void geqr2(void *A, int t, int64_t m, int64_t n, int64_t lda, void *tau, int taut)
{
    int64_t k = m < n ? m : n;
    for (int64_t i = 0; i < k; i++) {
        fb_z alpha = EL(A, t, lda, i, i);
        double xn = 0;
        for (int64_t r = i + 1; r < m; r++) {
            fb_z v = EL(A, t, lda, r, i);
            xn += creal(v) * creal(v) + cimag(v) * cimag(v);
        }
        fb_z tv = 0;
        if (xn != 0 || cimag(alpha) != 0) { /* larfg: else H = I, tau = 0 */
            double ar = creal(alpha), ai = cimag(alpha);
            double beta = -copysign(sqrt(ar * ar + ai * ai + xn), ar);
            tv = CMPLX((beta - ar) / beta, -ai / beta);
            fb_z sc = 1 / (alpha - beta);
            for (int64_t r = i + 1; r < m; r++)
                SET(A, t, lda, r, i, sc * EL(A, t, lda, r, i));
            alpha = beta;
        }
        fb_put(tau, taut, i, tv);
        SET(A, t, lda, i, i, alpha);
        /* the rest: C := H(i)^H C = C - conj(tau) v (v^H C), v = (1, A(i+1:m, i)) */
        fb_z ct = conj(tv);
        for (int64_t j = i + 1; j < n && tv != 0; j++) {
            fb_z w = EL(A, t, lda, i, j);
            for (int64_t r = i + 1; r < m; r++)
                w += conj(EL(A, t, lda, r, i)) * EL(A, t, lda, r, j);
            SET(A, t, lda, i, j, EL(A, t, lda, i, j) - ct * w);
            for (int64_t r = i + 1; r < m; r++)
                SET(A, t, lda, r, j, EL(A, t, lda, r, j) - ct * EL(A, t, lda, r, i) * w);
        }
    }
}

static cublasStatus_t geqrf(cublasHandle_t h, int m, int n, void *const *A, int lda,
                            void *const *tau, int *info, int batch, int t)
{
    cublasStatus_t s = fb_handle_drain(h); /* computes on this thread, in stream order */
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!info)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m < 0)
        return bad(info, 1);
    if (n < 0)
        return bad(info, 2);
    if (batch > 0 && !A)
        return bad(info, 3);
    if (lda < max1(m))
        return bad(info, 4);
    if (batch > 0 && !tau)
        return bad(info, 5);
    if (batch < 0)
        return bad(info, 7);
    *info = 0;
    for (int q = 0; q < batch; q++)
        geqr2(A[q], t, m, n, lda, tau[q], t);
    return CUBLAS_STATUS_SUCCESS;
}

/* ---- gels: min ||A X - C|| for full-rank A, m >= n, trans N only (as cuBLAS) ----------------- */

static cublasStatus_t gels(cublasHandle_t h, cublasOperation_t trans, int m, int n, int nrhs,
                           void *const *A, int lda, void *const *C, int ldc, int *info,
                           int *dev_info, int batch, int t)
{
    cublasStatus_t s = fb_handle_drain(h); /* computes on this thread, in stream order */
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!info)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (trans != CUBLAS_OP_N)
        return bad(info, 1);
    if (m < 0)
        return bad(info, 2);
    if (n < 0 || n > m)
        return bad(info, 3);
    if (nrhs < 0)
        return bad(info, 4);
    if (batch > 0 && !A)
        return bad(info, 5);
    if (lda < max1(m))
        return bad(info, 6);
    if (batch > 0 && !C)
        return bad(info, 7);
    if (ldc < max1(m))
        return bad(info, 8);
    if (batch < 0)
        return bad(info, 11);
    fb_z *tau = malloc((size_t)(n > 0 ? n : 1) * sizeof *tau);
    if (!tau)
        return CUBLAS_STATUS_ALLOC_FAILED;
    *info = 0;
    for (int q = 0; q < batch; q++) {
        void *a = A[q], *c = C[q];
        geqr2(a, t, m, n, lda, tau, FB_Z); /* tau in double complex, whatever t */
        int di = 0;
        for (int64_t i = 0; i < n && !di; i++)
            if (EL(a, t, lda, i, i) == 0)
                di = (int)(i + 1);
        if (dev_info)
            dev_info[q] = di;
        if (di)
            continue;
        for (int64_t j = 0; j < nrhs; j++) {
            for (int64_t i = 0; i < n; i++) { /* c := H(i)^H c, in order: Q^H c */
                fb_z tv = tau[i], w = EL(c, t, ldc, i, j);
                for (int64_t r = i + 1; r < m; r++)
                    w += conj(EL(a, t, lda, r, i)) * EL(c, t, ldc, r, j);
                fb_z ct = conj(tv);
                SET(c, t, ldc, i, j, EL(c, t, ldc, i, j) - ct * w);
                for (int64_t r = i + 1; r < m; r++)
                    SET(c, t, ldc, r, j, EL(c, t, ldc, r, j) - ct * EL(a, t, lda, r, i) * w);
            }
            for (int64_t i = n - 1; i >= 0; i--) { /* R x = (Q^H c)(1:n) */
                fb_z x = EL(c, t, ldc, i, j);
                for (int64_t l = i + 1; l < n; l++)
                    x -= EL(a, t, lda, i, l) * EL(c, t, ldc, l, j);
                SET(c, t, ldc, i, j, x / EL(a, t, lda, i, i));
            }
        }
    }
    free(tau);
    return CUBLAS_STATUS_SUCCESS;
}

/* ---- entry points ---------------------------------------------------------------------------- */

#define GETRF(NAME, T, TC)                                                                         \
    cublasStatus_t NAME(cublasHandle_t handle, int n, T *const A[], int lda, int *P, int *info,    \
                        int batchSize)                                                             \
    {                                                                                              \
        return getrf(handle, n, (void *const *)A, lda, P, info, batchSize, TC);                    \
    }
GETRF(cublasSgetrfBatched, float, FB_S)
GETRF(cublasDgetrfBatched, double, FB_D)
GETRF(cublasCgetrfBatched, cuComplex, FB_C)
GETRF(cublasZgetrfBatched, cuDoubleComplex, FB_Z)

#define GETRS(NAME, T, TC)                                                                         \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t trans, int n, int nrhs,           \
                        const T *const Aarray[], int lda, const int *devIpiv, T *const Barray[],   \
                        int ldb, int *info, int batchSize)                                         \
    {                                                                                              \
        return getrs(handle, trans, n, nrhs, (const void *const *)Aarray, lda, devIpiv,            \
                     (void *const *)Barray, ldb, info, batchSize, TC);                             \
    }
GETRS(cublasSgetrsBatched, float, FB_S)
GETRS(cublasDgetrsBatched, double, FB_D)
GETRS(cublasCgetrsBatched, cuComplex, FB_C)
GETRS(cublasZgetrsBatched, cuDoubleComplex, FB_Z)

#define GEQRF(NAME, T, TC)                                                                         \
    cublasStatus_t NAME(cublasHandle_t handle, int m, int n, T *const Aarray[], int lda,           \
                        T *const TauArray[], int *info, int batchSize)                             \
    {                                                                                              \
        return geqrf(handle, m, n, (void *const *)Aarray, lda, (void *const *)TauArray, info,      \
                     batchSize, TC);                                                               \
    }
GEQRF(cublasSgeqrfBatched, float, FB_S)
GEQRF(cublasDgeqrfBatched, double, FB_D)
GEQRF(cublasCgeqrfBatched, cuComplex, FB_C)
GEQRF(cublasZgeqrfBatched, cuDoubleComplex, FB_Z)

#define GELS(NAME, T, TC)                                                                          \
    cublasStatus_t NAME(cublasHandle_t handle, cublasOperation_t trans, int m, int n, int nrhs,    \
                        T *const Aarray[], int lda, T *const Carray[], int ldc, int *info,         \
                        int *devInfoArray, int batchSize)                                          \
    {                                                                                              \
        return gels(handle, trans, m, n, nrhs, (void *const *)Aarray, lda, (void *const *)Carray,  \
                    ldc, info, devInfoArray, batchSize, TC);                                       \
    }
GELS(cublasSgelsBatched, float, FB_S)
GELS(cublasDgelsBatched, double, FB_D)
GELS(cublasCgelsBatched, cuComplex, FB_C)
GELS(cublasZgelsBatched, cuDoubleComplex, FB_Z)
