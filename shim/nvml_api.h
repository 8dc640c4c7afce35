/* nvml_api.h — the NVML surface Genie serves (shim/nvml.c), for build/shim/lookalike/
 * libnvidia-ml.so.1: PyTorch counts devices through NVML first (torch.cuda.device_count,
 * ctypes CDLL("libnvidia-ml.so.1"): nvmlInit, nvmlDeviceGetCount_v2, by-index handles and
 * UUIDs) and c10's DriverAPI dlsyms a fixed list from it (each must exist once the library
 * loads). Answers come from the session's device description; what NVML reports about the
 * GPU host itself (processes, NvLink, fabric, P2P) is NVML_ERROR_NOT_SUPPORTED. Memory info is
 * the session's view, as cudaMemGetInfo's: the device's total, and what this process mapped as
 * used (other tenants of the GPU host are not seen).
 *
 * No nvml.h ships with the CUDA toolkit, so the few types are declared here, with NVML's
 * values and layouts. _(kind, name, (params), (args)); every row returns nvmlReturn_t.
 * nvmlErrorString (returns a string) is written by hand in both files. */
#ifndef GENIE_SHIM_NVML_API_H
#define GENIE_SHIM_NVML_API_H

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_UNKNOWN = 999,
};
typedef struct nvmlDevice_st *nvmlDevice_t;
/* nvmlDeviceGetMemoryInfo's (bytes) */
typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;
/* nvmlDeviceGetMemoryInfo_v2's: the caller sets version = nvmlMemory_v2 */
typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
#define GENIE_NVML_MEMORY_V2 ((unsigned)(sizeof(nvmlMemory_v2_t) | (2u << 24)))
enum { NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25 };

#define GENIE_NVML_API(_) \
    _(IMPL, nvmlInit, (void), ()) \
    _(IMPL, nvmlInit_v2, (void), ()) \
    _(IMPL, nvmlInitWithFlags, (unsigned int flags), (flags)) \
    _(IMPL, nvmlShutdown, (void), ()) \
    _(IMPL, nvmlDeviceGetCount_v2, (unsigned int *deviceCount), (deviceCount)) \
    _(IMPL, nvmlDeviceGetHandleByIndex_v2, (unsigned int index, nvmlDevice_t *device), (index, device)) \
    _(IMPL, nvmlDeviceGetHandleByUUID, (const char *uuid, nvmlDevice_t *device), (uuid, device)) \
    _(IMPL, nvmlDeviceGetIndex, (nvmlDevice_t device, unsigned int *index), (device, index)) \
    _(IMPL, nvmlDeviceGetName, (nvmlDevice_t device, char *name, unsigned int length), (device, name, length)) \
    _(IMPL, nvmlDeviceGetUUID, (nvmlDevice_t device, char *uuid, unsigned int length), (device, uuid, length)) \
    _(IMPL, nvmlSystemGetCudaDriverVersion, (int *cudaDriverVersion), (cudaDriverVersion)) \
    _(IMPL, nvmlSystemGetCudaDriverVersion_v2, (int *cudaDriverVersion), (cudaDriverVersion)) \
    _(DENY, nvmlDeviceGetHandleByPciBusId_v2, (const char *pciBusId, nvmlDevice_t *device), (pciBusId, device)) \
    _(DENY, nvmlDeviceGetNvLinkRemoteDeviceType, (nvmlDevice_t device, unsigned int link, int *pNvLinkDeviceType), (device, link, pNvLinkDeviceType)) \
    _(DENY, nvmlDeviceGetNvLinkRemotePciInfo_v2, (nvmlDevice_t device, unsigned int link, void *pci), (device, link, pci)) \
    _(DENY, nvmlDeviceGetComputeRunningProcesses, (nvmlDevice_t device, unsigned int *infoCount, void *infos), (device, infoCount, infos)) \
    _(DENY, nvmlDeviceGetComputeRunningProcesses_v3, (nvmlDevice_t device, unsigned int *infoCount, void *infos), (device, infoCount, infos)) \
    _(DENY, nvmlDeviceGetGpuFabricInfoV, (nvmlDevice_t device, void *gpuFabricInfo), (device, gpuFabricInfo)) \
    _(DENY, nvmlDeviceGetP2PStatus, (nvmlDevice_t device1, nvmlDevice_t device2, int p2pIndex, int *p2pStatus), (device1, device2, p2pIndex, p2pStatus)) \
    _(IMPL, nvmlDeviceGetMemoryInfo, (nvmlDevice_t device, nvmlMemory_t *memory), (device, memory)) \
    _(IMPL, nvmlDeviceGetMemoryInfo_v2, (nvmlDevice_t device, nvmlMemory_v2_t *memory), (device, memory))

#define GENIE_NVML_DECL_(kind, name, params, args) nvmlReturn_t genie_nvml_##name params;
GENIE_NVML_API(GENIE_NVML_DECL_)
#undef GENIE_NVML_DECL_
const char *genie_nvml_nvmlErrorString(nvmlReturn_t result);

#endif
