/* test_blas.c — shim/blas.c: the cuBLAS handle mirror (elided setters, the deferred workspace reset, dead streams). */
#include <cublas_v2.h>

#include "tests/shim/shim_harness.h"

TestSuite(blas, .init = shim_test_env);

static uint64_t ops(void) { return shim_test_stats().ops_recorded; }

Test(blas, setters_that_change_nothing_record_nothing)
{
    cublasHandle_t h;
    cudaStream_t s;
    float *ws;
    cr_assert_eq(cudaStreamCreate(&s), cudaSuccess);
    cr_assert_eq(cudaMalloc((void **)&ws, 1 << 20), cudaSuccess);
    cr_assert_eq(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    uint64_t n = ops();
    cr_assert_eq(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(ops(), n, "the default math mode again: nothing to record");
    cr_assert_eq(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(ops(), n + 1, "a new math mode is recorded");
    cublasMath_t mm;
    shim_stats q = shim_test_stats();
    cr_assert_eq(cublasGetMathMode(h, &mm), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(mm, CUBLAS_TF32_TENSOR_OP_MATH);
    cr_assert_eq(shim_test_stats().round_trips, q.round_trips, "a getter is answered locally");

    cr_assert_eq(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cublasSetWorkspace(h, ws, 1 << 20), CUBLAS_STATUS_SUCCESS);
    n = ops();
    /* PyTorch's pattern before every GEMM: same stream (a reset of the workspace becomes due),
     * the same workspace (which cancels it), the same math mode */
    cr_assert_eq(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cublasSetWorkspace(h, ws, 1 << 20), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(ops(), n, "three setters that change nothing");
    const float one = 1, zero = 0;
    cr_assert_eq(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, ws, 4, ws + 16, 4, &zero,
                             ws + 32, 4),
                 CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(ops(), n + 1, "the GEMM alone");

    /* a same-stream SetStream not followed by the same workspace: the reset goes out first */
    n = ops();
    cr_assert_eq(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(ops(), n, "deferred");
    cr_assert_eq(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, ws, 4, ws + 16, 4, &zero,
                             ws + 32, 4),
                 CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(ops(), n + 2, "the deferred SetStream, then the GEMM");
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    cr_assert_eq(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

Test(blas, a_destroyed_stream_leaves_the_handle_on_the_null_stream)
{
    cublasHandle_t h;
    cudaStream_t s, got;
    cr_assert_eq(cudaStreamCreate(&s), cudaSuccess);
    cr_assert_eq(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cublasGetStream(h, &got), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(got, s);
    cr_assert_eq(cudaStreamDestroy(s), cudaSuccess);
    /* the executor moved its handle to the NULL stream; the mirror says the same */
    float *d;
    cr_assert_eq(cudaMalloc((void **)&d, 4096), cudaSuccess);
    const float one = 1;
    cr_assert_eq(cublasSscal(h, 4, &one, d, 1), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cublasGetStream(h, &got), CUBLAS_STATUS_SUCCESS);
    cr_assert_null(got);
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    cr_assert_eq(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cublasSetStream(h, NULL), CUBLAS_STATUS_NOT_INITIALIZED, "a destroyed handle");
}
