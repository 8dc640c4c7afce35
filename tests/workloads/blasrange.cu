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
