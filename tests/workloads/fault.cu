// fault.cu — an asynchronous kernel fault surfaces at the next sync and sticks, as in CUDA.
//
// Documented behaviour (Genie keeps the runtime's semantics for async errors):
//   launch of a kernel writing to unmapped device memory    -> cudaSuccess (async)
//   the next sync (cudaDeviceSynchronize)                    -> cudaErrorIllegalAddress
//   cudaGetLastError, twice                                  -> cudaErrorIllegalAddress (sticky)
//   any later call (cudaMalloc, cudaMemcpy)                  -> cudaErrorIllegalAddress
// Prints "case <name>: <error name>" per step and RESULT OK when all match.
#include "wl_common.h"

__global__ void poke(int *p, int v) { p[threadIdx.x] = v; }

static int failures;

static void expect(const char *name, cudaError_t got, cudaError_t want)
{
    std::printf("case %s: %s\n", name, cudaGetErrorName(got));
    if (got != want) {
        std::printf("  expected %s\n", cudaGetErrorName(want));
        failures++;
    }
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "(no arguments): checks that a kernel fault is reported at the next sync and sticks");
    int *ok;
    CK(cudaMalloc(&ok, 4 << 20));
    poke<<<1, 32>>>(ok, 1);
    CK(cudaDeviceSynchronize());
    // A large allocation has a mapping of its own: freed, the address is unmapped remotely.
    int *gone;
    CK(cudaMalloc(&gone, 8 << 20));
    CK(cudaFree(gone));
    poke<<<1, 32>>>(gone, 2);
    expect("launch_is_async", cudaGetLastError(), cudaSuccess);
    expect("sync_reports_fault", cudaDeviceSynchronize(), cudaErrorIllegalAddress);
    expect("last_error", cudaGetLastError(), cudaErrorIllegalAddress);
    expect("last_error_sticks", cudaGetLastError(), cudaErrorIllegalAddress);
    int *more;
    expect("malloc_after_fault", cudaMalloc(&more, 1024), cudaErrorIllegalAddress);
    int host = 0;
    expect("memcpy_after_fault", cudaMemcpy(&host, ok, 4, cudaMemcpyDeviceToHost),
           cudaErrorIllegalAddress);
    if (failures) {
        std::printf("RESULT FAIL %d case(s)\n", failures);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
