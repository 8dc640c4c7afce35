// queries.cu — the runtime's query calls, answered by Genie locally or in one query round trip.
//
// Device count/properties/attributes, versions, memory info, pointer attributes (device,
// pinned host, unregistered), stream capture status, function attributes, occupancy,
// opting a kernel into more than 48 KiB of dynamic shared memory, and a call Genie does
// not support (cudaMallocManaged: cudaErrorNotSupported); cudaLaunchKernelExC with hint
// attributes (dropped) and a cluster (refused through Genie); the kernel's name and parameter
// layout, cache preferences, cudaChooseDevice, stream IDs and devices. Prints RESULT OK.
#include "wl_common.h"

__global__ void fill_shared(int *out, int n)
{
    extern __shared__ int buf[];
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        buf[i] = i;
    __syncthreads();
    if (threadIdx.x == 0)
        out[blockIdx.x] = buf[n - 1];
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "(no arguments)");
    int count = 0;
    CK(cudaGetDeviceCount(&count));
    EXPECT(count >= 1);
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    int v = 0;
    CK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxThreadsPerBlock, 0));
    EXPECT(v == p.maxThreadsPerBlock && v >= 256);
    CK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0));
    EXPECT(v == p.multiProcessorCount && v > 0);
    EXPECT(p.major >= 7 && p.totalGlobalMem > 0 && p.name[0] != 0);
    std::printf("device 0: %s, cc %d.%d, %d SMs, %zu MiB\n", p.name, p.major, p.minor,
                p.multiProcessorCount, p.totalGlobalMem >> 20);
    int drv = 0, rt = 0;
    CK(cudaDriverGetVersion(&drv));
    CK(cudaRuntimeGetVersion(&rt));
    EXPECT(drv >= 13000 && rt >= 13000);
    EXPECT(cudaSetDevice(0) == cudaSuccess);
    int dev = -1;
    CK(cudaGetDevice(&dev));
    EXPECT(dev == 0);

    size_t free0, total;
    CK(cudaMemGetInfo(&free0, &total));
    int *d;
    CK(cudaMalloc(&d, 64 << 20));
    size_t free1;
    CK(cudaMemGetInfo(&free1, &total));
    EXPECT(total > 0 && free1 <= free0 && free1 + (64u << 20) >= free0);

    cudaPointerAttributes a;
    CK(cudaPointerGetAttributes(&a, d + 100));
    EXPECT(a.type == cudaMemoryTypeDevice && a.device == 0);
    int *pinned;
    CK(cudaMallocHost(&pinned, 4096));
    CK(cudaPointerGetAttributes(&a, pinned));
    EXPECT(a.type == cudaMemoryTypeHost);
    int local = 0;
    CK(cudaPointerGetAttributes(&a, &local));
    EXPECT(a.type == cudaMemoryTypeUnregistered);

    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    cudaStreamCaptureStatus cs;
    CK(cudaStreamIsCapturing(s, &cs));
    EXPECT(cs == cudaStreamCaptureStatusNone);

    cudaFuncAttributes fa;
    CK(cudaFuncGetAttributes(&fa, fill_shared));
    EXPECT(fa.maxThreadsPerBlock > 0 && fa.numRegs >= 0);
    int blocks = 0;
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, fill_shared, 256, 0));
    EXPECT(blocks > 0);

    // More than 48 KiB of dynamic shared memory needs an explicit opt-in per kernel.
    int n = 64 * 1024 / 4 + 16; // 64 KiB + 64 bytes of ints
    size_t shmem = (size_t)n * sizeof(int);
    if ((size_t)p.sharedMemPerBlockOptin >= shmem) {
        CK(cudaFuncSetAttribute(fill_shared, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)shmem));
        fill_shared<<<4, 128, shmem, s>>>(d, n);
        CK_LAUNCH();
        int out[4] = {0};
        CK(cudaMemcpyAsync(out, d, sizeof out, cudaMemcpyDeviceToHost, s));
        CK(cudaStreamSynchronize(s));
        EXPECT(out[0] == n - 1 && out[3] == n - 1);
    }

    {
        // cudaLaunchKernelExC with hint attributes: runs (Genie drops the hints); with a
        // 2x1x1 cluster: runs natively on a GPU with clusters, refused through Genie (the e2e
        // test checks the printed name)
        cudaLaunchAttribute at[2];
        at[0].id = cudaLaunchAttributePriority;
        at[0].val.priority = 0;
        at[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        at[1].val.programmaticStreamSerializationAllowed = 1;
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3(4);
        cfg.blockDim = dim3(128);
        cfg.dynamicSmemBytes = 1024 * sizeof(int);
        cfg.stream = s;
        cfg.attrs = at;
        cfg.numAttrs = 2;
        int n = 1024;
        void *kargs[] = {&d, &n};
        CK(cudaMemsetAsync(d, 0, 4 * sizeof(int), s));
        CK(cudaLaunchKernelExC(&cfg, (const void *)fill_shared, kargs));
        int out[4] = {0};
        CK(cudaMemcpyAsync(out, d, sizeof out, cudaMemcpyDeviceToHost, s));
        CK(cudaStreamSynchronize(s));
        EXPECT(out[0] == n - 1 && out[3] == n - 1);
        at[0].id = cudaLaunchAttributeClusterDimension;
        at[0].val.clusterDim.x = 2;
        at[0].val.clusterDim.y = 1;
        at[0].val.clusterDim.z = 1;
        cfg.numAttrs = 1;
        cudaError_t ce = cudaLaunchKernelExC(&cfg, (const void *)fill_shared, kargs);
        std::printf("cluster launch: %s\n", cudaGetErrorName(ce));
        EXPECT(ce == cudaSuccess || ce == cudaErrorNotSupported);
        (void)cudaGetLastError();
        CK(cudaStreamSynchronize(s));
        cudaStreamCaptureStatus cs = cudaStreamCaptureStatusActive;
        unsigned long long cid = 1;
        CK(cudaStreamGetCaptureInfo(s, &cs, &cid, nullptr, nullptr, nullptr, nullptr));
        EXPECT(cs == cudaStreamCaptureStatusNone);
    }

    void *managed = nullptr;
    cudaError_t e = cudaMallocManaged(&managed, 4096);
    std::printf("cudaMallocManaged: %s\n", cudaGetErrorName(e));
    EXPECT(e == cudaErrorNotSupported);
    EXPECT(cudaGetLastError() == cudaErrorNotSupported);
    EXPECT(cudaGetLastError() == cudaSuccess);

    // calls with one answer under Genie, served on the client (issue 14): the kernel's name and
    // parameter layout, cache preferences (hints), the device chosen, stream identity
    const char *fname = nullptr;
    CK(cudaFuncGetName(&fname, (const void *)fill_shared));
    EXPECT(fname && !std::strcmp(fname, "_Z11fill_sharedPii"));
    size_t poff = 99, psize = 99;
    CK(cudaFuncGetParamInfo((const void *)fill_shared, 0, &poff, &psize));
    EXPECT(poff == 0 && psize == 8);
    CK(cudaFuncGetParamInfo((const void *)fill_shared, 1, &poff, &psize));
    EXPECT(poff == 8 && psize == 4);
    EXPECT(cudaFuncGetParamInfo((const void *)fill_shared, 2, &poff, &psize) == cudaErrorInvalidValue);
    EXPECT(cudaFuncGetName(&fname, (const void *)&count) == cudaErrorInvalidDeviceFunction);
    CK(cudaFuncSetCacheConfig((const void *)fill_shared, cudaFuncCachePreferShared));
    EXPECT(cudaFuncSetCacheConfig((const void *)fill_shared, (cudaFuncCache)7) == cudaErrorInvalidValue);
    enum cudaFuncCache cc = cudaFuncCachePreferEqual;
    CK(cudaDeviceGetCacheConfig(&cc));
    EXPECT(cc == cudaFuncCachePreferNone);
    CK(cudaDeviceSetCacheConfig(cudaFuncCachePreferL1));
    CK(cudaDeviceGetCacheConfig(&cc));
    EXPECT(cc == cudaFuncCachePreferL1);
    int chosen = -1;
    cudaDeviceProp want = {};
    want.major = 9;
    CK(cudaChooseDevice(&chosen, &want));
    EXPECT(chosen == 0);
    CK(cudaCtxResetPersistingL2Cache());
    cudaStream_t s2;
    CK(cudaStreamCreate(&s2));
    unsigned long long id1 = 0, id2 = 0, id0 = 1;
    CK(cudaStreamGetId(s, &id1));
    CK(cudaStreamGetId(s2, &id2));
    CK(cudaStreamGetId(0, &id0));
    EXPECT(id1 != id2 && id1 != id0 && id2 != id0);
    int sdev = -1;
    CK(cudaStreamGetDevice(s2, &sdev));
    EXPECT(sdev == 0);
    CK(cudaStreamDestroy(s2));
    EXPECT(cudaStreamGetDevice(s2, &sdev) == cudaErrorInvalidResourceHandle);
    (void)cudaGetLastError();

    CK(cudaStreamDestroy(s));
    CK(cudaFreeHost(pinned));
    CK(cudaFree(d));
    return wl_result();
}
