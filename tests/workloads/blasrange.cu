// blasrange.cu — cuBLAS calls whose buffers reach past their allocation (issue 12); exits 0 only when every case matches.
//
// Genie's executor checks every device buffer of a forwarded cuBLAS call over the whole extent
// the call's arguments give it (protocol/api/cublas.def), before cuBLAS runs. Before, only the
// first byte was checked, and the first case wrote 4 GiB through a 2 MiB allocation: on the
// fake GPU that killed genie-remote. Each refused call is recorded asynchronously, as the
// real one would be, and its error surfaces at the next sync; nothing is sticky.
//   sscal_4gib           cublasSscal of 2^30 floats on a 2 MiB allocation
//                          -> cudaErrorInvalidValue at cudaDeviceSynchronize
//   scopy_strided_past   cublasScopy whose y (incy 4096) ends ~14 MiB past its allocation
//                          -> cudaErrorInvalidValue at cudaDeviceSynchronize
//   sscal_in_range       cublasSscal of 4 floats afterwards -> cudaSuccess, the values doubled
//   gemm_batched         cublasSgemmBatched of two 2x2 products named by pointer arrays in
//                          device memory -> cudaSuccess, both products right
//   gemm_batched_wild    the same with A_1's pointer 1 GiB past x (unmapped): the executor
//                          reads the array and checks each matrix -> cudaErrorInvalidValue at
//                          cudaDeviceSynchronize, and C is not written
//   gemm_batched_again   the correct call once more -> cudaSuccess (the session goes on)
// Each case prints "case <name>: <result>"; a mismatch adds an "expected" line. Not for a real
// GPU without Genie: there the first two cases are out-of-bounds accesses.
#include <cublas_v2.h>

#include "wl_common.h"

static int mismatches;

static void expect(const char *name, cudaError_t got, cudaError_t want)
{
    std::printf("case %s: %s\n", name, cudaGetErrorName(got));
    if (got != want) {
        std::printf("  expected %s\n", cudaGetErrorName(want));
        mismatches++;
    }
    (void)cudaGetLastError(); // each case starts clean
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "   runs the out-of-range cuBLAS cases (see the top of blasrange.cu)");
    float *x = nullptr, *y = nullptr;
    CK(cudaMalloc(&x, 2 << 20));
    CK(cudaMalloc(&y, 2 << 20));
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        std::fprintf(stderr, "cublasCreate failed\n");
        return 2;
    }
    const float two = 2.0f;

    // recorded like any asynchronous call: the status is the record's, the error the sync's
    if (cublasSscal(h, 1 << 30, &two, x, 1) != CUBLAS_STATUS_SUCCESS)
        mismatches++, std::printf("  cublasSscal was not recorded\n");
    expect("sscal_4gib", cudaDeviceSynchronize(), cudaErrorInvalidValue);

    if (cublasScopy(h, 1024, x, 1, y, 4096) != CUBLAS_STATUS_SUCCESS)
        mismatches++, std::printf("  cublasScopy was not recorded\n");
    expect("scopy_strided_past", cudaDeviceSynchronize(), cudaErrorInvalidValue);

    float v[4] = {1, 2, 3, 4};
    CK(cudaMemcpy(x, v, sizeof v, cudaMemcpyHostToDevice));
    if (cublasSscal(h, 4, &two, x, 1) != CUBLAS_STATUS_SUCCESS)
        mismatches++, std::printf("  cublasSscal was not recorded\n");
    cudaError_t e = cudaMemcpy(v, x, sizeof v, cudaMemcpyDeviceToHost);
    expect("sscal_in_range", e, cudaSuccess);
    if (v[0] != 2 || v[1] != 4 || v[2] != 6 || v[3] != 8) {
        std::printf("  expected 2 4 6 8, got %g %g %g %g\n", v[0], v[1], v[2], v[3]);
        mismatches++;
    }

    // batched GEMM: A_i at x + 4 i, B_i at x + 8 + 4 i, C_i at y + 4 i, named by arrays in
    // device memory (A's, B's, C's pointers side by side)
    float in[16] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 0, 1, 2, 1, 1, 2}, sentinel[8], c[8];
    for (float &f : sentinel)
        f = -1;
    const float want[8] = {1, 2, 3, 4, 17, 20, 19, 22}, one = 1, zero = 0;
    float **arr = nullptr;
    CK(cudaMalloc(&arr, 6 * sizeof(float *)));
    float *ptrs[6] = {x, x + 4, x + 8, x + 12, y, y + 4};
    CK(cudaMemcpy(x, in, sizeof in, cudaMemcpyHostToDevice));
    for (const char *name : {"gemm_batched", "gemm_batched_wild", "gemm_batched_again"}) {
        int wild = name[12] == '_' && name[13] == 'w';
        ptrs[1] = wild ? x + (1ull << 28) : x + 4;
        CK(cudaMemcpy(arr, ptrs, sizeof ptrs, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(y, sentinel, sizeof sentinel, cudaMemcpyHostToDevice));
        if (cublasSgemmBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, (const float **)arr, 2,
                               (const float **)arr + 2, 2, &zero, arr + 4, 2,
                               2) != CUBLAS_STATUS_SUCCESS)
            mismatches++, std::printf("  cublasSgemmBatched was not recorded\n");
        expect(name, cudaDeviceSynchronize(), wild ? cudaErrorInvalidValue : cudaSuccess);
        CK(cudaMemcpy(c, y, sizeof c, cudaMemcpyDeviceToHost));
        const float *w = wild ? sentinel : want;
        for (int i = 0; i < 8; i++)
            if (c[i] != w[i]) {
                std::printf("  C[%d] = %g, expected %g\n", i, c[i], w[i]);
                mismatches++;
            }
    }
    CK(cudaFree(arr));
    cublasDestroy(h);
    CK(cudaFree(x));
    CK(cudaFree(y));
    if (mismatches) {
        std::printf("RESULT FAIL %d case(s) did not match\n", mismatches);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
