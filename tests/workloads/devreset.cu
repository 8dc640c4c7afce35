// devreset.cu — cudaDeviceReset in the style of the CUDA samples: allocate, copy, compute,
// check, reset; then the same again on the fresh device state, and once more after a kernel
// fault, which only a reset clears.
//
//   devreset [N=65536]
// Each round: cudaMalloc (a small buffer and an 8 MiB one, which gets a mapping of its own),
// a stream and an event, an H2D copy, saxpy (a kernel registered once, at program start),
// cublasSscal on the stream, a D2H copy, checked against the CPU. After cudaDeviceReset the
// objects of the round before are refused: its pointers (copy, free, kernel argument checks
// aside), its stream, its event, its cuBLAS handle; cudaGetLastError is clean. The kernel
// launches again without being registered again (the runtime reloads modules lazily). Between
// cudaProfilerStart and cudaProfilerStop, both accepted. Prints one line per refusal and
// RESULT OK.
#include "wl_common.h"

#include <cmath>
#include <cublas_v2.h>
#include <cuda_profiler_api.h>
#include <vector>

// saxpy.cu's kernel (the fake GPU's twin is registered under its mangled name)
__global__ void saxpy(int n, float a, const float *x, float *y)
{
    int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] = fmaf(a, x[i], y[i]);
}

// fault.cu's kernel: writes p[threadIdx.x]; on a freed mapping it faults
__global__ void poke(int *p, int v) { p[threadIdx.x] = v; }

#define CB(call)                                                                           \
    do {                                                                                   \
        cublasStatus_t cb_st_ = (call);                                                    \
        if (cb_st_ != CUBLAS_STATUS_SUCCESS) {                                             \
            std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,      \
                         cublasGetStatusName(cb_st_));                                     \
            std::exit(2);                                                                  \
        }                                                                                  \
    } while (0)

static int failures;

static void expect(const char *what, cudaError_t got, cudaError_t want)
{
    std::printf("%s: %s\n", what, cudaGetErrorName(got));
    if (got != want) {
        std::printf("  expected %s\n", cudaGetErrorName(want));
        failures++;
    }
}

struct round_objs {
    float *x, *y, *big;
    cudaStream_t s;
    cudaEvent_t ev;
    cublasHandle_t h;
};

// One round of allocate, copy, compute, check. The objects stay alive (the reset ends them).
static round_objs one_round(int r, int n)
{
    round_objs o;
    std::vector<float> x(n), y(n), want(n), got(n, -1.0f);
    wl_lcg rng(1000u + (unsigned)r);
    const float a = 0.5f + (float)r, scale = 2.0f;
    for (int i = 0; i < n; i++) {
        x[i] = rng.unit();
        y[i] = rng.unit();
        want[i] = fmaf(a, x[i], y[i]) * scale;
    }
    CK(cudaMalloc(&o.x, n * sizeof(float)));
    CK(cudaMalloc(&o.y, n * sizeof(float)));
    CK(cudaMalloc(&o.big, 8 << 20));
    CK(cudaStreamCreate(&o.s));
    CK(cudaEventCreate(&o.ev));
    CB(cublasCreate(&o.h));
    CB(cublasSetStream(o.h, o.s));
    CK(cudaMemcpyAsync(o.x, x.data(), n * sizeof(float), cudaMemcpyHostToDevice, o.s));
    CK(cudaMemcpyAsync(o.y, y.data(), n * sizeof(float), cudaMemcpyHostToDevice, o.s));
    CK(cudaMemsetAsync(o.big, 0, 8 << 20, o.s));
    saxpy<<<(n + 255) / 256, 256, 0, o.s>>>(n, a, o.x, o.y);
    CK_LAUNCH();
    CB(cublasSscal(o.h, n, &scale, o.y, 1));
    CK(cudaEventRecord(o.ev, o.s));
    CK(cudaEventSynchronize(o.ev));
    CK(cudaMemcpy(got.data(), o.y, n * sizeof(float), cudaMemcpyDeviceToHost));
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += got[i] != want[i];
    std::printf("round %d: %d of %d values wrong\n", r, bad, n);
    failures += bad != 0;
    return o;
}

// After a reset every object of the round before is unknown.
static void refused_after_reset(const round_objs &o, int n)
{
    std::vector<float> host(n);
    expect("old pointer D2H", cudaMemcpy(host.data(), o.y, n * sizeof(float), cudaMemcpyDeviceToHost),
           cudaErrorInvalidValue);
    expect("old pointer H2D", cudaMemcpy(o.big, host.data(), 4, cudaMemcpyHostToDevice),
           cudaErrorInvalidValue);
    expect("old pointer free", cudaFree(o.x), cudaErrorInvalidValue);
    expect("old stream sync", cudaStreamSynchronize(o.s), cudaErrorInvalidResourceHandle);
    expect("old event query", cudaEventQuery(o.ev), cudaErrorInvalidResourceHandle);
    float one = 1.0f;
    cublasStatus_t st = cublasSscal(o.h, n, &one, o.y, 1);
    std::printf("old cublas handle: %s\n", cublasGetStatusName(st));
    failures += st != CUBLAS_STATUS_NOT_INITIALIZED;
    (void)cudaGetLastError(); // the refusals above set it; a reset clears nothing later
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[N=65536]   rounds of allocate, copy, compute, check, cudaDeviceReset");
    const int n = (int)wl_arg(argc, argv, 1, 65536);

    expect("cudaProfilerStart", cudaProfilerStart(), cudaSuccess);
    round_objs r1 = one_round(1, n);
    expect("cudaProfilerStop", cudaProfilerStop(), cudaSuccess);
    expect("reset", cudaDeviceReset(), cudaSuccess);
    expect("last error after reset", cudaGetLastError(), cudaSuccess);
    refused_after_reset(r1, n);

    // the same program again on the fresh state: the kernel loads again by itself
    round_objs r2 = one_round(2, n);
    CB(cublasDestroy(r2.h)); // destroyed before the reset: nothing of it is left to end

    // a kernel fault sticks until the reset
    CK(cudaFree(r2.big));
    poke<<<1, 32>>>((int *)r2.big, 7);
    expect("fault at sync", cudaDeviceSynchronize(), cudaErrorIllegalAddress);
    int *more = nullptr;
    expect("fault sticks", cudaMalloc(&more, 1024), cudaErrorIllegalAddress);
    expect("reset after fault", cudaDeviceReset(), cudaSuccess);
    refused_after_reset(r2, n);
    round_objs r3 = one_round(3, n);

    // a reset with nothing done since the last is harmless
    expect("reset", cudaDeviceReset(), cudaSuccess);
    expect("reset twice", cudaDeviceReset(), cudaSuccess);
    round_objs r4 = one_round(4, n);
    CK(cudaFree(r4.x));
    CK(cudaFree(r4.y));
    CK(cudaFree(r4.big));
    CK(cudaStreamDestroy(r4.s));
    CK(cudaEventDestroy(r4.ev));
    CB(cublasDestroy(r4.h));
    (void)r3;
    expect("final reset", cudaDeviceReset(), cudaSuccess);
    if (failures) {
        std::printf("RESULT FAIL %d check(s)\n", failures);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
