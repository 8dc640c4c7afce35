// coop.cu — a cooperative launch in the style of the CUDA samples: check
// cudaDevAttrCooperativeLaunch, size the grid so that every block is resident at once (SM count
// times the kernel's occupancy), launch with cudaLaunchCooperativeKernel, check the result.
//
//   coop [N=1000000]
// The kernel adds a grid-stride slice of x into one partial sum per block (integers, so the
// order of the atomics does not matter); the host checks each partial and the total. Then the
// same kernel through cudaLaunchKernelEx with cudaLaunchAttributeCooperative, and a grid
// larger than the GPU holds at once, which must fail with cudaErrorCooperativeLaunchTooLarge
// (at the launch or, under Genie, at the next sync: the executor's driver judges the grid).
// Prints RESULT OK.
#include "wl_common.h"

#include <vector>

__global__ void coop_partial(const int *x, long long *partial, int n)
{
    int stride = gridDim.x * blockDim.x;
    long long acc = 0;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        acc += x[i];
    atomicAdd((unsigned long long *)&partial[blockIdx.x], (unsigned long long)acc);
}

static int failures;

static void check(const char *what, const std::vector<long long> &got, const std::vector<int> &x,
                  int blocks, int threads)
{
    long long stride = (long long)blocks * threads;
    std::vector<long long> want(blocks, 0);
    for (size_t i = 0; i < x.size(); i++)
        want[(long long)i % stride / threads] += x[i];
    int bad = 0;
    for (int b = 0; b < blocks; b++)
        bad += got[b] != want[b];
    std::printf("%s: %d blocks, %d partial sums wrong\n", what, blocks, bad);
    failures += bad != 0;
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[N=1000000]   a cooperative launch, its grid sized to the GPU");
    const int n = (int)wl_arg(argc, argv, 1, 1000000);
    int dev = 0, coop = 0, sms = 0, per_sm = 0;
    const int threads = 256;
    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, dev));
    if (!coop) {
        std::printf("device %d does not support cooperative launches\nRESULT OK\n", dev);
        return 0;
    }
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, coop_partial, threads, 0));
    const int blocks = sms * per_sm;
    std::printf("%d SMs x %d blocks of %d threads\n", sms, per_sm, threads);

    std::vector<int> x(n);
    wl_lcg rng(77u);
    for (int i = 0; i < n; i++)
        x[i] = (int)(rng.next() >> 16) - 32768;
    int *dx;
    long long *dp;
    CK(cudaMalloc(&dx, n * sizeof(int)));
    CK(cudaMalloc(&dp, blocks * sizeof(long long)));
    CK(cudaMemcpy(dx, x.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    std::vector<long long> got(blocks);

    // 1. cudaLaunchCooperativeKernel
    CK(cudaMemset(dp, 0, blocks * sizeof(long long)));
    int nn = n;
    void *args[] = {&dx, &dp, &nn};
    CK(cudaLaunchCooperativeKernel((void *)coop_partial, blocks, threads, args, 0, 0));
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(got.data(), dp, blocks * sizeof(long long), cudaMemcpyDeviceToHost));
    check("cudaLaunchCooperativeKernel", got, x, blocks, threads);

    // 2. cudaLaunchKernelEx with the cooperative attribute, on a stream, half the grid
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    CK(cudaMemsetAsync(dp, 0, blocks * sizeof(long long), s));
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(blocks / 2 > 0 ? blocks / 2 : 1);
    cfg.blockDim = dim3(threads);
    cfg.stream = s;
    cudaLaunchAttribute attr;
    attr.id = cudaLaunchAttributeCooperative;
    attr.val.cooperative = 1;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    CK(cudaLaunchKernelEx(&cfg, coop_partial, (const int *)dx, dp, nn));
    CK(cudaMemcpyAsync(got.data(), dp, blocks * sizeof(long long), cudaMemcpyDeviceToHost, s));
    CK(cudaStreamSynchronize(s));
    check("cudaLaunchKernelEx cooperative", got, x, (int)cfg.gridDim.x, threads);

    // 3. a grid the GPU cannot hold at once
    cudaError_t e = cudaLaunchCooperativeKernel((void *)coop_partial, blocks + sms, threads, args, 0, 0);
    if (e == cudaSuccess)
        e = cudaDeviceSynchronize();
    std::printf("too large: %s\n", cudaGetErrorName(e));
    failures += e != cudaErrorCooperativeLaunchTooLarge;
    (void)cudaGetLastError();

    CK(cudaStreamDestroy(s));
    CK(cudaFree(dx));
    CK(cudaFree(dp));
    if (failures) {
        std::printf("RESULT FAIL %d check(s)\n", failures);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
