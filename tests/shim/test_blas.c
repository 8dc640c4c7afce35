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

/* The last committed IR descriptor and its ranges. */
static const sem_op *last_op(const sem_range **r)
{
    cr_assert_gt(shim_g.ir.n, 0, "nothing in the IR");
    const sem_op *o = &shim_g.ir.ops[shim_g.ir.n - 1];
    *r = sem_op_ranges(&shim_g.ir, o);
    return o;
}

/* A forwarded call's IR descriptor takes its ranges from the table's buffer roles (read,
 * written, both) and whole extents, and the call site from the generated wrapper. */
Test(blas, the_ir_gets_roles_extents_and_the_call_site)
{
    cublasHandle_t h;
    float *d;
    cr_assert_eq(cudaMalloc((void **)&d, 1 << 20), cudaSuccess);
    cr_assert_eq(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    const float one = 1, zero = 0;
    const sem_range *r;

    cr_assert_eq(cublasScopy(h, 8, d, 2, d + 1024, 3), CUBLAS_STATUS_SUCCESS);
    const sem_op *o = last_op(&r);
    cr_assert_eq(o->nranges, 2);
    cr_assert_eq(r[0].ptr, (uint64_t)(uintptr_t)d);
    cr_assert_eq(r[0].size, (1 + 7 * 2) * 4);
    cr_assert_eq(r[0].mode, SEM_R);
    cr_assert_eq(r[1].ptr, (uint64_t)(uintptr_t)(d + 1024));
    cr_assert_eq(r[1].size, (1 + 7 * 3) * 4);
    cr_assert_eq(r[1].mode, SEM_W);
    cr_assert_neq(o->site, 0, "no call site");
    uint64_t site = o->site;

    /* C(4x2) = A^T (A stored 3x4, lda 5) B(3x2, ldb 3): A spans 3 * 5 + 3 floats */
    cr_assert_eq(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 4, 2, 3, &one, d, 5, d + 64, 3, &zero,
                             d + 128, 4),
                 CUBLAS_STATUS_SUCCESS);
    o = last_op(&r);
    cr_assert_eq(o->nranges, 3);
    cr_assert_eq(r[0].size, (3 * 5 + 3) * 4);
    cr_assert_eq(r[0].mode, SEM_R);
    cr_assert_eq(r[1].size, 6 * 4);
    cr_assert_eq(r[2].size, 8 * 4);
    cr_assert_eq(r[2].mode, SEM_RW);
    cr_assert_neq(o->site, site, "two calls from two places, one call site");

    /* n = 0 touches nothing: no range */
    cr_assert_eq(cublasSscal(h, 0, &one, d, 1), CUBLAS_STATUS_SUCCESS);
    o = last_op(&r);
    cr_assert_eq(o->nranges, 0);
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    cr_assert_eq(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}
