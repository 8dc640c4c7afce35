/* test_cublaslt.c — shim/cublaslt.c: the heuristic cache (one round trip per distinct problem) and the async matmul. */
#include <cublasLt.h>
#include <string.h>

#include "tests/shim/shim_harness.h"

TestSuite(cublaslt, .init = shim_test_env);

#define CL(x) cr_assert_eq((x), CUBLAS_STATUS_SUCCESS, "%s", #x)

Test(cublaslt, heuristic_answers_are_cached)
{
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc, lbig, lcbig;
    cublasLtMatmulPreference_t pref;
    CL(cublasLtCreate(&lt));
    CL(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    CL(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, 8, 8, 8));
    CL(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, 8, 8, 8));
    CL(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, 8, 8, 8));
    CL(cublasLtMatrixLayoutCreate(&lbig, CUDA_R_32F, 16, 8, 16));
    CL(cublasLtMatrixLayoutCreate(&lcbig, CUDA_R_32F, 16, 8, 16));
    CL(cublasLtMatmulPreferenceCreate(&pref));
    cublasLtMatmulHeuristicResult_t r1, r2;
    int n1 = 0, n2 = 0;
    shim_stats s0 = shim_test_stats();
    CL(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, 1, &r1, &n1));
    shim_stats s1 = shim_test_stats();
    cr_assert_eq(n1, 1);
    cr_assert_eq(s1.rt_query, s0.rt_query + 1, "the first ask is a round trip");
    memset(&r2, 0, sizeof r2);
    CL(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, 1, &r2, &n2));
    cr_assert_eq(shim_test_stats().rt_query, s1.rt_query, "the same problem: from the cache");
    cr_assert_eq(n2, n1);
    cr_assert_eq(memcmp(&r1, &r2, sizeof r1), 0, "the cached answer is the executor's");
    /* another shape is another problem; so is another requested count */
    CL(cublasLtMatmulAlgoGetHeuristic(lt, desc, lbig, lb, lcbig, lcbig, pref, 1, &r2, &n2));
    cr_assert_eq(shim_test_stats().rt_query, s1.rt_query + 1, "a new shape asks");
    cublasLtMatmulHeuristicResult_t r4[4];
    int n4 = 0;
    CL(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, 4, r4, &n4));
    cr_assert_eq(shim_test_stats().rt_query, s1.rt_query + 2, "a new count asks");
    /* a changed descriptor attribute changes the problem too */
    cublasOperation_t t = CUBLAS_OP_T;
    CL(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
    CL(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, 1, &r2, &n2));
    cr_assert_eq(shim_test_stats().rt_query, s1.rt_query + 3, "a new attribute asks");

    /* the matmul itself is recorded, not sent */
    t = CUBLAS_OP_N;
    CL(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
    float *d;
    cr_assert_eq(cudaMalloc((void **)&d, 4096), cudaSuccess);
    float host[64];
    for (int i = 0; i < 64; i++)
        host[i] = (float)(i % 5);
    cr_assert_eq(cudaMemcpy(d, host, sizeof host, cudaMemcpyHostToDevice), cudaSuccess);
    cr_assert_eq(cudaMemcpy(d + 64, host, sizeof host, cudaMemcpyHostToDevice), cudaSuccess);
    const float one = 1, zero = 0;
    shim_stats m0 = shim_test_stats();
    CL(cublasLtMatmul(lt, desc, &one, d, la, d + 64, lb, &zero, d + 128, lc, d + 128, lc,
                      &r1.algo, NULL, 0, NULL));
    shim_stats m1 = shim_test_stats();
    cr_assert_eq(m1.round_trips, m0.round_trips, "a matmul waits in the batch");
    cr_assert_eq(m1.ops_recorded, m0.ops_recorded + 1);
    float out[64];
    cr_assert_eq(cudaMemcpy(out, d + 128, sizeof out, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int j = 0; j < 8; j++)
        for (int i = 0; i < 8; i++) {
            float s = 0;
            for (int k = 0; k < 8; k++)
                s += host[k * 8 + i] * host[j * 8 + k];
            cr_assert_float_eq(out[j * 8 + i], s, 1e-4f, "C[%d,%d]", i, j);
        }
    CL(cublasLtMatmulPreferenceDestroy(pref));
    CL(cublasLtMatrixLayoutDestroy(la));
    CL(cublasLtMatrixLayoutDestroy(lb));
    CL(cublasLtMatrixLayoutDestroy(lc));
    CL(cublasLtMatrixLayoutDestroy(lbig));
    CL(cublasLtMatrixLayoutDestroy(lcbig));
    CL(cublasLtMatmulDescDestroy(desc));
    CL(cublasLtDestroy(lt));
}
