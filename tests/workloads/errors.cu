// errors.cu — CUDA error cases with their documented results; exits 0 only when every case matches.
//
// Expected results (what Genie promises: it validates launch configurations locally and
// every copy's range against the live allocations, and none of these errors is sticky):
//   launch_bad_config        <<<1, 2048>>> launch, then cudaGetLastError()
//                              -> cudaErrorInvalidConfiguration
//   last_error_reset         cudaGetLastError() again -> cudaSuccess (the error was consumed)
//   free_twice               cudaFree(p) of an already freed p -> cudaErrorInvalidValue
//   last_error_after_free    cudaGetLastError() right after -> cudaErrorInvalidValue
//   copy_from_freed          cudaMemcpy D2H from a freed device pointer -> cudaErrorInvalidValue
//   copy_past_end_d2h        cudaMemcpy D2H of 2 KiB from a 1 KiB allocation -> cudaErrorInvalidValue
//   copy_past_end_h2d        cudaMemcpy H2D of 2 KiB into a 1 KiB allocation -> cudaErrorInvalidValue
//   copy_past_end_offset     cudaMemcpy D2H of 1 KiB from offset 512 of a 1 KiB allocation
//                              -> cudaErrorInvalidValue
//   set_device_99            cudaSetDevice(99) -> cudaErrorInvalidDevice (current device stays 0)
//   name_success             cudaGetErrorName(cudaSuccess) = "cudaSuccess"
//   name_invalid_config      cudaGetErrorName(cudaErrorInvalidConfiguration)
//                              = "cudaErrorInvalidConfiguration"
//   string_success           cudaGetErrorString(cudaSuccess) = "no error"
//   string_invalid_value     cudaGetErrorString(cudaErrorInvalidValue) = "invalid argument"
//   string_invalid_device    cudaGetErrorString(cudaErrorInvalidDevice) = "invalid device ordinal"
//   string_out_of_memory     cudaGetErrorString(cudaErrorMemoryAllocation) = "out of memory"
//   kernel_after_errors      a normal launch + D2H copy -> cudaSuccess and the right values
//   device_sync_after_errors cudaDeviceSynchronize() -> cudaSuccess
// Each case prints one line "case <name>: <cudaGetErrorName(err)>" (the string cases print
// the string), and a mismatch adds an "expected" line.
#include "wl_common.h"

__global__ void fill_iota(int *p, int base, int n)
{
    int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        p[i] = base + i;
}

static int mismatches;

static void expect(const char *name, cudaError_t got, cudaError_t want)
{
    std::printf("case %s: %s\n", name, cudaGetErrorName(got));
    if (got != want) {
        std::printf("  expected %s\n", cudaGetErrorName(want));
        mismatches++;
    }
}

static void expect_str(const char *name, const char *got, const char *want)
{
    std::printf("case %s: %s\n", name, got ? got : "(null)");
    if (!got || std::strcmp(got, want)) {
        std::printf("  expected %s\n", want);
        mismatches++;
    }
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "   runs the documented error cases (see the top of errors.cu)");
    const int n = 1000;
    static int host[1024];

    int *d;
    CK(cudaMalloc(&d, n * sizeof(int)));

    // (a) 2048 threads exceed maxThreadsPerBlock (1024): the launch itself fails.
    fill_iota<<<1, 2048>>>(d, 0, n);
    expect("launch_bad_config", cudaGetLastError(), cudaErrorInvalidConfiguration);
    expect("last_error_reset", cudaGetLastError(), cudaSuccess);

    // (b) freed pointers.
    int *p;
    CK(cudaMalloc(&p, 1024));
    CK(cudaFree(p));
    expect("free_twice", cudaFree(p), cudaErrorInvalidValue);
    expect("last_error_after_free", cudaGetLastError(), cudaErrorInvalidValue);
    expect("copy_from_freed", cudaMemcpy(host, p, 1024, cudaMemcpyDeviceToHost),
           cudaErrorInvalidValue);
    (void)cudaGetLastError(); // consume it so each case starts clean

    // (c) ranges past the end of a live allocation.
    char *q;
    CK(cudaMalloc(&q, 1024));
    expect("copy_past_end_d2h", cudaMemcpy(host, q, 2048, cudaMemcpyDeviceToHost),
           cudaErrorInvalidValue);
    (void)cudaGetLastError();
    expect("copy_past_end_h2d", cudaMemcpy(q, host, 2048, cudaMemcpyHostToDevice),
           cudaErrorInvalidValue);
    (void)cudaGetLastError();
    expect("copy_past_end_offset", cudaMemcpy(host, q + 512, 1024, cudaMemcpyDeviceToHost),
           cudaErrorInvalidValue);
    (void)cudaGetLastError();
    CK(cudaFree(q));

    // (d) a device that does not exist; the current device must not change.
    expect("set_device_99", cudaSetDevice(99), cudaErrorInvalidDevice);
    (void)cudaGetLastError();
    int dev = -1;
    CK(cudaGetDevice(&dev));
    if (dev != 0) {
        std::printf("  current device is %d after the failed cudaSetDevice, expected 0\n", dev);
        mismatches++;
    }

    // (e) names and strings, answered by the runtime without a device.
    expect_str("name_success", cudaGetErrorName(cudaSuccess), "cudaSuccess");
    expect_str("name_invalid_config", cudaGetErrorName(cudaErrorInvalidConfiguration),
               "cudaErrorInvalidConfiguration");
    expect_str("string_success", cudaGetErrorString(cudaSuccess), "no error");
    expect_str("string_invalid_value", cudaGetErrorString(cudaErrorInvalidValue), "invalid argument");
    expect_str("string_invalid_device", cudaGetErrorString(cudaErrorInvalidDevice),
               "invalid device ordinal");
    expect_str("string_out_of_memory", cudaGetErrorString(cudaErrorMemoryAllocation),
               "out of memory");

    // None of the above is sticky: a normal kernel still runs and computes.
    fill_iota<<<4, 256>>>(d, 100, n);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaMemcpy(host, d, n * sizeof(int), cudaMemcpyDeviceToHost);
    expect("kernel_after_errors", e, cudaSuccess);
    int bad = -1;
    for (int i = 0; i < n && e == cudaSuccess; i++)
        if (host[i] != 100 + i) {
            bad = i;
            break;
        }
    if (bad >= 0) {
        std::printf("  p[%d]=%d expected %d\n", bad, host[bad], 100 + bad);
        mismatches++;
    }
    expect("device_sync_after_errors", cudaDeviceSynchronize(), cudaSuccess);
    CK(cudaFree(d));

    if (mismatches) {
        std::printf("RESULT FAIL %d case(s) did not match\n", mismatches);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
