/* blas_copy.c — cublasSet/GetVector and cublasSet/GetMatrix (and their Async and _64 forms).
 *
 * These helpers move host memory of the client to or from device memory, so they are not
 * library calls on the remote: each is a strided copy on the client, through the runtime's
 * own 2D copy path (cudaMemcpy2D/cudaMemcpy2DAsync: batched, captured and checked like any
 * other copy). A vector of n elements with strides incx, incy is a 2D copy of n rows of one
 * element; a contiguous vector (both strides 1) is one row, so one copy. A column-major
 * matrix is cols rows of rows*elemSize bytes, pitched by the leading dimensions.
 *
 * Arguments are checked as cuBLAS documents (CUBLAS_STATUS_INVALID_VALUE for a negative count,
 * an element size, stride or leading dimension <= 0, and here also a leading dimension below
 * the row count, or sizes whose byte counts overflow); a failed copy is
 * CUBLAS_STATUS_MAPPING_ERROR, cuBLAS's "error accessing GPU memory". */
#include "shim/shim_blas.h"

#include <stdint.h>

static int mul_ok(int64_t a, int64_t b, size_t *out)
{
    uint64_t r;
    if (a < 0 || b < 0 || __builtin_mul_overflow((uint64_t)a, (uint64_t)b, &r) || r > SIZE_MAX)
        return 0;
    *out = (size_t)r;
    return 1;
}

static cublasStatus_t copy2d(void *dst, size_t dpitch, const void *src, size_t spitch,
                             size_t width, size_t height, enum cudaMemcpyKind kind,
                             cudaStream_t stream, int async)
{
    cudaError_t e = async ? shim_impl_cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, height,
                                                         kind, stream)
                          : shim_impl_cudaMemcpy2D(dst, dpitch, src, spitch, width, height, kind);
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_MAPPING_ERROR;
}

static cublasStatus_t vector_copy(int64_t n, int64_t elemSize, const void *src, int64_t incs,
                                  void *dst, int64_t incd, enum cudaMemcpyKind kind,
                                  cudaStream_t stream, int async)
{
    size_t esz, spitch, dpitch, total;
    if (n < 0 || elemSize <= 0 || incs <= 0 || incd <= 0)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (n == 0)
        return CUBLAS_STATUS_SUCCESS;
    if (!mul_ok(elemSize, 1, &esz) || !mul_ok(incs, elemSize, &spitch) ||
        !mul_ok(incd, elemSize, &dpitch) || !mul_ok(n, spitch > dpitch ? spitch : dpitch, &total))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (incs == 1 && incd == 1)
        return copy2d(dst, total, src, total, total, 1, kind, stream, async);
    return copy2d(dst, dpitch, src, spitch, esz, (size_t)n, kind, stream, async);
}

static cublasStatus_t matrix_copy(int64_t rows, int64_t cols, int64_t elemSize, const void *src,
                                  int64_t lds, void *dst, int64_t ldd, enum cudaMemcpyKind kind,
                                  cudaStream_t stream, int async)
{
    size_t width, spitch, dpitch, total;
    if (rows < 0 || cols < 0 || elemSize <= 0 || lds <= 0 || ldd <= 0 || lds < rows ||
        ldd < rows)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (rows == 0 || cols == 0)
        return CUBLAS_STATUS_SUCCESS;
    if (!mul_ok(rows, elemSize, &width) || !mul_ok(lds, elemSize, &spitch) ||
        !mul_ok(ldd, elemSize, &dpitch) || !mul_ok(cols, spitch > dpitch ? spitch : dpitch, &total))
        return CUBLAS_STATUS_INVALID_VALUE;
    return copy2d(dst, dpitch, src, spitch, width, (size_t)cols, kind, stream, async);
}

#define H2D cudaMemcpyHostToDevice
#define D2H cudaMemcpyDeviceToHost

cublasStatus_t shim_impl_cublasSetVector(int n, int elemSize, const void *x, int incx,
                                         void *devicePtr, int incy)
{
    return vector_copy(n, elemSize, x, incx, devicePtr, incy, H2D, NULL, 0);
}

cublasStatus_t shim_impl_cublasSetVector_64(int64_t n, int64_t elemSize, const void *x,
                                            int64_t incx, void *devicePtr, int64_t incy)
{
    return vector_copy(n, elemSize, x, incx, devicePtr, incy, H2D, NULL, 0);
}

cublasStatus_t shim_impl_cublasGetVector(int n, int elemSize, const void *x, int incx, void *y,
                                         int incy)
{
    return vector_copy(n, elemSize, x, incx, y, incy, D2H, NULL, 0);
}

cublasStatus_t shim_impl_cublasGetVector_64(int64_t n, int64_t elemSize, const void *x,
                                            int64_t incx, void *y, int64_t incy)
{
    return vector_copy(n, elemSize, x, incx, y, incy, D2H, NULL, 0);
}

cublasStatus_t shim_impl_cublasSetMatrix(int rows, int cols, int elemSize, const void *A, int lda,
                                         void *B, int ldb)
{
    return matrix_copy(rows, cols, elemSize, A, lda, B, ldb, H2D, NULL, 0);
}

cublasStatus_t shim_impl_cublasSetMatrix_64(int64_t rows, int64_t cols, int64_t elemSize,
                                            const void *A, int64_t lda, void *B, int64_t ldb)
{
    return matrix_copy(rows, cols, elemSize, A, lda, B, ldb, H2D, NULL, 0);
}

cublasStatus_t shim_impl_cublasGetMatrix(int rows, int cols, int elemSize, const void *A, int lda,
                                         void *B, int ldb)
{
    return matrix_copy(rows, cols, elemSize, A, lda, B, ldb, D2H, NULL, 0);
}

cublasStatus_t shim_impl_cublasGetMatrix_64(int64_t rows, int64_t cols, int64_t elemSize,
                                            const void *A, int64_t lda, void *B, int64_t ldb)
{
    return matrix_copy(rows, cols, elemSize, A, lda, B, ldb, D2H, NULL, 0);
}

cublasStatus_t shim_impl_cublasSetVectorAsync(int n, int elemSize, const void *hostPtr, int incx,
                                              void *devicePtr, int incy, cudaStream_t stream)
{
    return vector_copy(n, elemSize, hostPtr, incx, devicePtr, incy, H2D, stream, 1);
}

cublasStatus_t shim_impl_cublasSetVectorAsync_64(int64_t n, int64_t elemSize, const void *hostPtr,
                                                 int64_t incx, void *devicePtr, int64_t incy,
                                                 cudaStream_t stream)
{
    return vector_copy(n, elemSize, hostPtr, incx, devicePtr, incy, H2D, stream, 1);
}

cublasStatus_t shim_impl_cublasGetVectorAsync(int n, int elemSize, const void *devicePtr, int incx,
                                              void *hostPtr, int incy, cudaStream_t stream)
{
    return vector_copy(n, elemSize, devicePtr, incx, hostPtr, incy, D2H, stream, 1);
}

cublasStatus_t shim_impl_cublasGetVectorAsync_64(int64_t n, int64_t elemSize,
                                                 const void *devicePtr, int64_t incx,
                                                 void *hostPtr, int64_t incy, cudaStream_t stream)
{
    return vector_copy(n, elemSize, devicePtr, incx, hostPtr, incy, D2H, stream, 1);
}

cublasStatus_t shim_impl_cublasSetMatrixAsync(int rows, int cols, int elemSize, const void *A,
                                              int lda, void *B, int ldb, cudaStream_t stream)
{
    return matrix_copy(rows, cols, elemSize, A, lda, B, ldb, H2D, stream, 1);
}

cublasStatus_t shim_impl_cublasSetMatrixAsync_64(int64_t rows, int64_t cols, int64_t elemSize,
                                                 const void *A, int64_t lda, void *B, int64_t ldb,
                                                 cudaStream_t stream)
{
    return matrix_copy(rows, cols, elemSize, A, lda, B, ldb, H2D, stream, 1);
}

cublasStatus_t shim_impl_cublasGetMatrixAsync(int rows, int cols, int elemSize, const void *A,
                                              int lda, void *B, int ldb, cudaStream_t stream)
{
    return matrix_copy(rows, cols, elemSize, A, lda, B, ldb, D2H, stream, 1);
}

cublasStatus_t shim_impl_cublasGetMatrixAsync_64(int64_t rows, int64_t cols, int64_t elemSize,
                                                 const void *A, int64_t lda, void *B, int64_t ldb,
                                                 cudaStream_t stream)
{
    return matrix_copy(rows, cols, elemSize, A, lda, B, ldb, D2H, stream, 1);
}
