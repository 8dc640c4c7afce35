/* cudart_device.c — device queries, versions and error strings, answered locally. */
#include "shim/shim_int.h"

#include <stdio.h>
#include <string.h>

static __thread int cur_device;
static unsigned device_flags;

const char *shim_impl_cudaGetErrorName(cudaError_t error)
{
    switch ((int)error) {
#define CUDA_ERR(name, value, msg)                                                             \
    case value:                                                                                \
        return #name;
#include "shim/cuda_errors.def"
#undef CUDA_ERR
    default:
        return "cudaErrorUnknown";
    }
}

const char *shim_impl_cudaGetErrorString(cudaError_t error)
{
    switch ((int)error) {
#define CUDA_ERR(name, value, msg)                                                             \
    case value:                                                                                \
        return msg;
#include "shim/cuda_errors.def"
#undef CUDA_ERR
    default:
        return "unrecognized error code";
    }
}

cudaError_t shim_impl_cudaGetLastError(void)
{
    /* a sticky error cannot be cleared */
    cudaError_t e = shim_last_error;
    shim_last_error = shim_g.fatal;
    return e;
}

cudaError_t shim_impl_cudaPeekAtLastError(void) { return shim_last_error; }

/* Device queries need the session's device list: connect on first use. */
static cudaError_t ready(void)
{
    shim_lock();
    cudaError_t e = shim_ensure();
    shim_unlock();
    return e;
}

static cudaError_t check_device(int device)
{
    cudaError_t e = ready();
    if (e != cudaSuccess)
        return e;
    if (device < 0 || device >= shim_g.ndevices)
        return shim_set_error(cudaErrorInvalidDevice);
    return cudaSuccess;
}

cudaError_t shim_impl_cudaGetDeviceCount(int *count)
{
    cudaError_t e = ready();
    if (e != cudaSuccess) {
        /* the runtime's answer when no device can be used */
        *count = 0;
        return shim_set_error(cudaErrorNoDevice);
    }
    *count = shim_g.ndevices;
    return cudaSuccess;
}

cudaError_t shim_impl_cudaSetDevice(int device)
{
    cudaError_t e = check_device(device);
    if (e == cudaSuccess)
        cur_device = device;
    return e;
}

cudaError_t shim_impl_cudaInitDevice(int device, unsigned int deviceFlags, unsigned int flags)
{
    (void)deviceFlags, (void)flags;
    return check_device(device);
}

cudaError_t shim_impl_cudaGetDevice(int *device)
{
    *device = cur_device;
    return cudaSuccess;
}

cudaError_t shim_impl_cudaSetDeviceFlags(unsigned int flags)
{
    device_flags = flags;
    return cudaSuccess;
}

cudaError_t shim_impl_cudaGetDeviceFlags(unsigned int *flags)
{
    *flags = device_flags;
    return cudaSuccess;
}

cudaError_t shim_impl_cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int device)
{
    cudaError_t e = check_device(device);
    if (e != cudaSuccess)
        return e;
    if ((int)attr < 0 || (uint32_t)attr >= shim_g.dev[device].nattrs ||
        (uint32_t)attr >= PROTO_MAX_ATTRS)
        return shim_set_error(cudaErrorInvalidValue);
    *value = shim_g.dev[device].attrs[attr];
    return cudaSuccess;
}

cudaError_t shim_impl_cudaGetDeviceProperties(struct cudaDeviceProp *p, int device)
{
    cudaError_t e = check_device(device);
    if (e != cudaSuccess)
        return e;
    const proto_devinfo *d = &shim_g.dev[device];
    const int32_t *a = d->attrs;
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", d->name);
    memcpy(&p->uuid, d->uuid, sizeof p->uuid);
    p->totalGlobalMem = d->total_mem;
    p->sharedMemPerBlock = (size_t)a[CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK];
    p->regsPerBlock = a[CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK];
    p->warpSize = a[CU_DEVICE_ATTRIBUTE_WARP_SIZE];
    p->memPitch = (size_t)a[CU_DEVICE_ATTRIBUTE_MAX_PITCH];
    p->maxThreadsPerBlock = a[CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK];
    p->maxThreadsDim[0] = a[CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X];
    p->maxThreadsDim[1] = a[CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y];
    p->maxThreadsDim[2] = a[CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z];
    p->maxGridSize[0] = a[CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X];
    p->maxGridSize[1] = a[CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y];
    p->maxGridSize[2] = a[CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z];
    p->totalConstMem = (size_t)a[CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY];
    p->major = a[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR];
    p->minor = a[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR];
    p->textureAlignment = (size_t)a[CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT];
    p->texturePitchAlignment = (size_t)a[CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT];
    p->multiProcessorCount = a[CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT];
    p->integrated = a[CU_DEVICE_ATTRIBUTE_INTEGRATED];
    p->canMapHostMemory = 0; /* mapped host memory cannot cross the network */
    p->concurrentKernels = a[CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS];
    p->ECCEnabled = a[CU_DEVICE_ATTRIBUTE_ECC_ENABLED];
    p->pciBusID = a[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID];
    p->pciDeviceID = a[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID];
    p->pciDomainID = a[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID];
    p->tccDriver = a[CU_DEVICE_ATTRIBUTE_TCC_DRIVER];
    p->asyncEngineCount = a[CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT];
    p->unifiedAddressing = a[CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING];
    p->memoryBusWidth = a[CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH];
    p->l2CacheSize = a[CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE];
    p->persistingL2CacheMaxSize = a[CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE];
    p->maxThreadsPerMultiProcessor = a[CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR];
    p->streamPrioritiesSupported = a[CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED];
    p->globalL1CacheSupported = a[CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED];
    p->localL1CacheSupported = a[CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED];
    p->sharedMemPerMultiprocessor =
        (size_t)a[CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR];
    p->regsPerMultiprocessor = a[CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR];
    p->managedMemory = 0; /* not supported by Genie */
    p->isMultiGpuBoard = a[CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD];
    p->multiGpuBoardGroupID = a[CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD_GROUP_ID];
    p->computePreemptionSupported = a[CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED];
    p->cooperativeLaunch = a[CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH];
    p->sharedMemPerBlockOptin = (size_t)a[CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN];
    p->maxBlocksPerMultiProcessor = a[CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR];
    p->accessPolicyMaxWindowSize = a[CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE];
    p->reservedSharedMemPerBlock = (size_t)a[CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK];
    p->memoryPoolsSupported = 0;
    p->clusterLaunch = a[CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH];
    return cudaSuccess;
}

cudaError_t shim_impl_cudaDeviceGetLimit(size_t *pValue, enum cudaLimit limit)
{
    /* the runtime's defaults; Genie does not forward cudaDeviceSetLimit yet */
    switch (limit) {
    case cudaLimitStackSize:
        *pValue = 1024;
        return cudaSuccess;
    case cudaLimitPrintfFifoSize:
        *pValue = 1 << 20;
        return cudaSuccess;
    case cudaLimitMallocHeapSize:
        *pValue = 8 << 20;
        return cudaSuccess;
    default:
        return shim_set_error(cudaErrorUnsupportedLimit);
    }
}

cudaError_t shim_impl_cudaDeviceGetStreamPriorityRange(int *leastPriority, int *greatestPriority)
{
    *leastPriority = 0;
    *greatestPriority = -5;
    return cudaSuccess;
}

cudaError_t shim_impl_cudaDeviceGetPCIBusId(char *pciBusId, int len, int device)
{
    cudaError_t e = check_device(device);
    if (e != cudaSuccess)
        return e;
    if (len <= 0)
        return shim_set_error(cudaErrorInvalidValue);
    const int32_t *a = shim_g.dev[device].attrs;
    snprintf(pciBusId, (size_t)len, "%08x:%02x:%02x.0", a[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID],
             a[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID], a[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID]);
    return cudaSuccess;
}

cudaError_t shim_impl_cudaDeviceGetByPCIBusId(int *device, const char *pciBusId)
{
    cudaError_t e = ready();
    if (e != cudaSuccess)
        return e;
    for (int d = 0; d < shim_g.ndevices; d++) {
        char id[32];
        shim_impl_cudaDeviceGetPCIBusId(id, sizeof id, d);
        if (pciBusId && !strcasecmp(id, pciBusId)) {
            *device = d;
            return cudaSuccess;
        }
    }
    return shim_set_error(cudaErrorInvalidDevice);
}

cudaError_t shim_impl_cudaDriverGetVersion(int *driverVersion)
{
    cudaError_t e = ready();
    /* PyTorch refuses a driver below its runtime: report at least 13000 */
    int v = e == cudaSuccess ? shim_g.dev[0].driver_version : 0;
    *driverVersion = v >= 13000 ? v : 13000;
    return cudaSuccess;
}

cudaError_t shim_impl_cudaRuntimeGetVersion(int *runtimeVersion)
{
    *runtimeVersion = CUDART_VERSION;
    return cudaSuccess;
}

/* cudaDeviceReset: the flags go back to the default (the current device stays: it is the
 * thread's, not the context's). */
void shim_device_forget(void)
{
    device_flags = 0;
}

/* ---- preferences and choices with one answer under Genie ---- */

/* The cache preference is a hint the runtime may ignore: kept and reported, never sent. */
static enum cudaFuncCache cache_config = cudaFuncCachePreferNone;

cudaError_t shim_impl_cudaDeviceGetCacheConfig(enum cudaFuncCache *pCacheConfig)
{
    *pCacheConfig = cache_config;
    return cudaSuccess;
}

cudaError_t shim_impl_cudaDeviceSetCacheConfig(enum cudaFuncCache cacheConfig)
{
    if ((unsigned)cacheConfig > cudaFuncCachePreferEqual)
        return shim_set_error(cudaErrorInvalidValue);
    cache_config = cacheConfig;
    return cudaSuccess;
}

/* Genie shows one device: it is the best match for any properties. */
cudaError_t shim_impl_cudaChooseDevice(int *device, const struct cudaDeviceProp *prop)
{
    if (!prop)
        return shim_set_error(cudaErrorInvalidValue);
    *device = 0;
    return cudaSuccess;
}

/* Genie drops the access policy windows that would make L2 lines persist
 * (cudaLaunchKernelExC), so there are none to reset. */
cudaError_t shim_impl_cudaCtxResetPersistingL2Cache(void)
{
    return cudaSuccess;
}
