/* driver_api.h — the CUDA driver API surface Genie serves on the client (shim/cuda_driver_api.c).
 *
 * PyTorch reaches the driver two ways: c10's DriverAPI table through
 * cudaGetDriverEntryPointByVersion (it asserts non-null VMM entry points), and
 * dlopen("libcuda.so.1") / libcaffe2_nvrtc.so's NEEDED libcuda.so.1 (lazy NVRTC, the primary
 * context on cuBLAS paths). Both are served from this list:
 *   - the shim defines genie_drv_<name> for every row (exported, so the look-alike can bind
 *     to it; never under the driver's own names, which in GENIE_REMOTE=local mode would
 *     interpose on the driver the in-process executor loads);
 *   - cudaGetDriverEntryPointByVersion / cuGetProcAddress return those pointers by name;
 *   - build/shim/lookalike/libcuda.so.1 defines each <name> as a one-line trampoline to
 *     genie_drv_<name> (shim/lookalike_cuda.c), bound through the global scope to the one
 *     shim of the process (libgenie.so preloaded, else the look-alike libcudart.so.13 it needs).
 *
 * _(kind, name, (params), (args))
 *   IMPL  written by hand in shim/cuda_driver_api.c: answered locally from the session's device
 *         description or the shim's allocator; modules, functions and launches of code the
 *         program hands over (NVRTC output: fatbin, cubin or PTX) go through the same wire
 *         as the runtime's (MODULE_LOAD, FUNC_GET, LAUNCH; shim/register.c)
 *   DENY  returns CUDA_ERROR_NOT_SUPPORTED and logs its name once (generated in cuda_driver_api.c):
 *         VMM (Genie's allocator owns the device VA range), links (cuLink*), cooperative
 *         launches, green contexts, multicast, stream memory operations.
 * Prototypes are CUDA 13.0's cuda.h (cuda_driver_api.c checks each against it); names are the
 * exported symbols (the _v2 that cuda.h's macros select). */
#ifndef GENIE_SHIM_DRIVER_API_H
#define GENIE_SHIM_DRIVER_API_H

#include <cuda.h>

#define GENIE_DRIVER_API(_) \
    _(IMPL, cuInit, (unsigned int Flags), (Flags)) \
    _(IMPL, cuDriverGetVersion, (int *driverVersion), (driverVersion)) \
    _(IMPL, cuGetExportTable, (const void **ppExportTable, const CUuuid *pExportTableId), (ppExportTable, pExportTableId)) \
    _(IMPL, cuDeviceGet, (CUdevice *device, int ordinal), (device, ordinal)) \
    _(IMPL, cuDeviceGetCount, (int *count), (count)) \
    _(IMPL, cuDeviceGetName, (char *name, int len, CUdevice dev), (name, len, dev)) \
    _(IMPL, cuDeviceGetUuid_v2, (CUuuid *uuid, CUdevice dev), (uuid, dev)) \
    _(IMPL, cuDeviceTotalMem_v2, (size_t *bytes, CUdevice dev), (bytes, dev)) \
    _(IMPL, cuDeviceGetAttribute, (int *pi, CUdevice_attribute attrib, CUdevice dev), (pi, attrib, dev)) \
    _(IMPL, cuGetErrorString, (CUresult error, const char **pStr), (error, pStr)) \
    _(IMPL, cuGetErrorName, (CUresult error, const char **pStr), (error, pStr)) \
    _(IMPL, cuDevicePrimaryCtxRetain, (CUcontext *pctx, CUdevice dev), (pctx, dev)) \
    _(IMPL, cuDevicePrimaryCtxRelease_v2, (CUdevice dev), (dev)) \
    _(IMPL, cuDevicePrimaryCtxGetState, (CUdevice dev, unsigned int *flags, int *active), (dev, flags, active)) \
    _(IMPL, cuCtxGetCurrent, (CUcontext *pctx), (pctx)) \
    _(IMPL, cuCtxSetCurrent, (CUcontext ctx), (ctx)) \
    _(IMPL, cuCtxGetDevice, (CUdevice *device), (device)) \
    _(IMPL, cuMemGetAddressRange_v2, (CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr), (pbase, psize, dptr)) \
    _(IMPL, cuMemGetAllocationGranularity, (size_t *granularity, const CUmemAllocationProp *prop, CUmemAllocationGranularity_flags option), (granularity, prop, option)) \
    _(IMPL, cuGetProcAddress_v2, (const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags, CUdriverProcAddressQueryResult *symbolStatus), (symbol, pfn, cudaVersion, flags, symbolStatus)) \
    _(DENY, cuCtxPushCurrent_v2, (CUcontext ctx), (ctx)) \
    _(DENY, cuCtxPopCurrent_v2, (CUcontext *pctx), (pctx)) \
    _(IMPL, cuCtxSynchronize, (void), ()) \
    _(DENY, cuPointerGetAttribute, (void *data, CUpointer_attribute attribute, CUdeviceptr ptr), (data, attribute, ptr)) \
    _(DENY, cuMemGetInfo_v2, (size_t *free, size_t *total), (free, total)) \
    _(DENY, cuMemAddressReserve, (CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr, unsigned long long flags), (ptr, size, alignment, addr, flags)) \
    _(DENY, cuMemAddressFree, (CUdeviceptr ptr, size_t size), (ptr, size)) \
    _(DENY, cuMemCreate, (CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop, unsigned long long flags), (handle, size, prop, flags)) \
    _(DENY, cuMemRelease, (CUmemGenericAllocationHandle handle), (handle)) \
    _(DENY, cuMemMap, (CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle, unsigned long long flags), (ptr, size, offset, handle, flags)) \
    _(DENY, cuMemUnmap, (CUdeviceptr ptr, size_t size), (ptr, size)) \
    _(DENY, cuMemSetAccess, (CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count), (ptr, size, desc, count)) \
    _(DENY, cuMemExportToShareableHandle, (void *shareableHandle, CUmemGenericAllocationHandle handle, CUmemAllocationHandleType handleType, unsigned long long flags), (shareableHandle, handle, handleType, flags)) \
    _(DENY, cuMemImportFromShareableHandle, (CUmemGenericAllocationHandle *handle, void *osHandle, CUmemAllocationHandleType shHandleType), (handle, osHandle, shHandleType)) \
    _(DENY, cuMemRetainAllocationHandle, (CUmemGenericAllocationHandle *handle, void *addr), (handle, addr)) \
    _(DENY, cuMemGetAllocationPropertiesFromHandle, (CUmemAllocationProp *prop, CUmemGenericAllocationHandle handle), (prop, handle)) \
    _(DENY, cuMemsetD32Async, (CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream), (dstDevice, ui, N, hStream)) \
    _(DENY, cuStreamWriteValue32_v2, (CUstream stream, CUdeviceptr addr, cuuint32_t value, unsigned int flags), (stream, addr, value, flags)) \
    _(IMPL, cuModuleLoad, (CUmodule *module, const char *fname), (module, fname)) \
    _(IMPL, cuModuleLoadData, (CUmodule *module, const void *image), (module, image)) \
    _(IMPL, cuModuleLoadDataEx, (CUmodule *module, const void *image, unsigned int numOptions, CUjit_option *options, void **optionValues), (module, image, numOptions, options, optionValues)) \
    _(IMPL, cuModuleUnload, (CUmodule hmod), (hmod)) \
    _(IMPL, cuModuleGetFunction, (CUfunction *hfunc, CUmodule hmod, const char *name), (hfunc, hmod, name)) \
    _(IMPL, cuLaunchKernel, (CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra), (f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream, kernelParams, extra)) \
    _(DENY, cuLaunchCooperativeKernel, (CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream, void **kernelParams), (f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream, kernelParams)) \
    _(DENY, cuLinkCreate_v2, (unsigned int numOptions, CUjit_option *options, void **optionValues, CUlinkState *stateOut), (numOptions, options, optionValues, stateOut)) \
    _(DENY, cuLinkAddData_v2, (CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name, unsigned int numOptions, CUjit_option *options, void **optionValues), (state, type, data, size, name, numOptions, options, optionValues)) \
    _(DENY, cuLinkComplete, (CUlinkState state, void **cubinOut, size_t *sizeOut), (state, cubinOut, sizeOut)) \
    _(DENY, cuLinkDestroy, (CUlinkState state), (state)) \
    _(DENY, cuFuncSetCacheConfig, (CUfunction hfunc, CUfunc_cache config), (hfunc, config)) \
    _(IMPL, cuFuncSetAttribute, (CUfunction hfunc, CUfunction_attribute attrib, int value), (hfunc, attrib, value)) \
    _(IMPL, cuFuncGetAttribute, (int *pi, CUfunction_attribute attrib, CUfunction hfunc), (pi, attrib, hfunc)) \
    _(IMPL, cuOccupancyMaxActiveBlocksPerMultiprocessor, (int *numBlocks, CUfunction func, int blockSize, size_t dynamicSMemSize), (numBlocks, func, blockSize, dynamicSMemSize)) \
    _(DENY, cuTensorMapEncodeTiled, (CUtensorMap *tensorMap, CUtensorMapDataType tensorDataType, cuuint32_t tensorRank, void *globalAddress, const cuuint64_t *globalDim, const cuuint64_t *globalStrides, const cuuint32_t *boxDim, const cuuint32_t *elementStrides, CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2Promotion, CUtensorMapFloatOOBfill oobFill), (tensorMap, tensorDataType, tensorRank, globalAddress, globalDim, globalStrides, boxDim, elementStrides, interleave, swizzle, l2Promotion, oobFill)) \
    _(DENY, cuCtxFromGreenCtx, (CUcontext *pContext, CUgreenCtx hCtx), (pContext, hCtx)) \
    _(DENY, cuGreenCtxCreate, (CUgreenCtx* phCtx, CUdevResourceDesc desc, CUdevice dev, unsigned int flags), (phCtx, desc, dev, flags)) \
    _(DENY, cuGreenCtxDestroy, (CUgreenCtx hCtx), (hCtx)) \
    _(DENY, cuGreenCtxStreamCreate, (CUstream* phStream, CUgreenCtx greenCtx, unsigned int flags, int priority), (phStream, greenCtx, flags, priority)) \
    _(DENY, cuDevSmResourceSplitByCount, (CUdevResource* result, unsigned int* nbGroups, const CUdevResource* input, CUdevResource* remaining, unsigned int useFlags, unsigned int minCount), (result, nbGroups, input, remaining, useFlags, minCount)) \
    _(DENY, cuDeviceGetDevResource, (CUdevice device, CUdevResource* resource, CUdevResourceType type), (device, resource, type)) \
    _(DENY, cuDevResourceGenerateDesc, (CUdevResourceDesc *phDesc, CUdevResource *resources, unsigned int nbResources), (phDesc, resources, nbResources)) \
    _(DENY, cuMulticastAddDevice, (CUmemGenericAllocationHandle mcHandle, CUdevice dev), (mcHandle, dev)) \
    _(DENY, cuMulticastBindMem, (CUmemGenericAllocationHandle mcHandle, size_t mcOffset, CUmemGenericAllocationHandle memHandle, size_t memOffset, size_t size, unsigned long long flags), (mcHandle, mcOffset, memHandle, memOffset, size, flags)) \
    _(DENY, cuMulticastCreate, (CUmemGenericAllocationHandle *mcHandle, const CUmulticastObjectProp *prop), (mcHandle, prop)) \
    _(DENY, cuMulticastUnbind, (CUmemGenericAllocationHandle mcHandle, CUdevice dev, size_t mcOffset, size_t size), (mcHandle, dev, mcOffset, size))

#define GENIE_DRV_DECL_(kind, name, params, args) CUresult genie_drv_##name params;
GENIE_DRIVER_API(GENIE_DRV_DECL_)
#undef GENIE_DRV_DECL_

#endif
