/* nvml.c — NVML answered from the session's device description (shim/nvml_api.h). */
#include "shim/nvml_api.h"
#include "shim/shim_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum {
#define NVML_IDX_(kind, name, params, args) NVML_IDX_##name,
    GENIE_NVML_API(NVML_IDX_)
#undef NVML_IDX_
        NVML_COUNT
};

static nvmlReturn_t nvml_deny(unsigned idx, const char *name)
{
    static _Atomic unsigned char logged[NVML_COUNT];
    genie_warn_once_at(&logged[idx],
                       "NVML %s is not supported by Genie; returning NVML_ERROR_NOT_SUPPORTED",
                       name);
    return NVML_ERROR_NOT_SUPPORTED;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define NVML_IMPL_(name, params, args)
#define NVML_DENY_(name, params, args)                                                         \
    GENIE_EXPORT nvmlReturn_t genie_nvml_##name params                                         \
    {                                                                                          \
        return nvml_deny(NVML_IDX_##name, #name);                                              \
    }
#define NVML_DEF_(kind, name, params, args) NVML_##kind##_(name, params, args)
GENIE_NVML_API(NVML_DEF_)
#undef NVML_DEF_
#undef NVML_DENY_
#undef NVML_IMPL_
#pragma GCC diagnostic pop

/* A device handle is the address of its slot here; nothing reads through it. */
static struct nvmlDevice_st {
    unsigned index;
} nvml_dev[PROTO_MAX_DEVICES];
static _Atomic int nvml_inits;

GENIE_EXPORT const char *genie_nvml_nvmlErrorString(nvmlReturn_t result)
{
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    default: return "Unknown Error";
    }
}

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlInitWithFlags(unsigned int flags)
{
    (void)flags;
    /* the devices are the session's: connect now (no session: no driver to talk to) */
    shim_lock();
    cudaError_t e = shim_ensure();
    shim_unlock();
    if (e != cudaSuccess)
        return NVML_ERROR_DRIVER_NOT_LOADED;
    atomic_fetch_add(&nvml_inits, 1);
    return NVML_SUCCESS;
}

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlInit_v2(void) { return genie_nvml_nvmlInitWithFlags(0); }
GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlInit(void) { return genie_nvml_nvmlInitWithFlags(0); }

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlShutdown(void)
{
    int n = atomic_load(&nvml_inits);
    while (n > 0 && !atomic_compare_exchange_weak(&nvml_inits, &n, n - 1))
        ;
    return n > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
}

static nvmlReturn_t nvml_ready(void)
{
    return atomic_load(&nvml_inits) > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
}

static int nvml_index(nvmlDevice_t d)
{
    for (int i = 0; i < shim_g.ndevices && i < PROTO_MAX_DEVICES; i++)
        if (d == &nvml_dev[i])
            return i;
    return -1;
}

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    nvmlReturn_t r = nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    if (!deviceCount)
        return NVML_ERROR_INVALID_ARGUMENT;
    *deviceCount = (unsigned)shim_g.ndevices;
    return NVML_SUCCESS;
}

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlDeviceGetHandleByIndex_v2(unsigned int index,
                                                                   nvmlDevice_t *device)
{
    nvmlReturn_t r = nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    if (!device || index >= (unsigned)shim_g.ndevices)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvml_dev[index].index = index;
    *device = &nvml_dev[index];
    return NVML_SUCCESS;
}

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
    nvmlReturn_t r = nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    int i = nvml_index(device);
    if (i < 0 || !index)
        return NVML_ERROR_INVALID_ARGUMENT;
    *index = (unsigned)i;
    return NVML_SUCCESS;
}

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlDeviceGetName(nvmlDevice_t device, char *name,
                                                       unsigned int length)
{
    nvmlReturn_t r = nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    int i = nvml_index(device);
    if (i < 0 || !name)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(shim_g.dev[i].name) >= length)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    snprintf(name, length, "%s", shim_g.dev[i].name);
    return NVML_SUCCESS;
}

/* The session's view, as cudaMemGetInfo answers it (shim/cudart_mem.c): the device's total,
 * and as used what this process mapped on device 0 (the allocator's range is device 0's). */
static nvmlReturn_t nvml_mem(nvmlDevice_t device, unsigned long long *total,
                             unsigned long long *free_, unsigned long long *used)
{
    nvmlReturn_t r = nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    int i = nvml_index(device);
    if (i < 0)
        return NVML_ERROR_INVALID_ARGUMENT;
    shim_lock();
    uint64_t t = shim_g.dev[i].total_mem;
    uint64_t m = i == 0 && shim_g.alloc ? shim_alloc_mapped_bytes(shim_g.alloc) : 0;
    shim_unlock();
    if (m > t)
        m = t;
    *total = t;
    *used = m;
    *free_ = t - m;
    return NVML_SUCCESS;
}

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlDeviceGetMemoryInfo(nvmlDevice_t device,
                                                             nvmlMemory_t *memory)
{
    if (!memory)
        return NVML_ERROR_INVALID_ARGUMENT;
    return nvml_mem(device, &memory->total, &memory->free, &memory->used);
}

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device,
                                                                nvmlMemory_v2_t *memory)
{
    if (!memory)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (memory->version != GENIE_NVML_MEMORY_V2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    memory->reserved = 0;
    return nvml_mem(device, &memory->total, &memory->free, &memory->used);
}

/* NVML's form of a UUID: "GPU-" and the 16 bytes as 8-4-4-4-12 hex digits */
static void nvml_uuid_str(const proto_devinfo *d, char out[41])
{
    const unsigned char *u = (const unsigned char *)d->uuid;
    snprintf(out, 41,
             "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
}

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid,
                                                       unsigned int length)
{
    nvmlReturn_t r = nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    int i = nvml_index(device);
    if (i < 0 || !uuid)
        return NVML_ERROR_INVALID_ARGUMENT;
    char s[41];
    nvml_uuid_str(&shim_g.dev[i], s);
    if (strlen(s) >= length)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(uuid, s, strlen(s) + 1);
    return NVML_SUCCESS;
}

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlDeviceGetHandleByUUID(const char *uuid,
                                                               nvmlDevice_t *device)
{
    nvmlReturn_t r = nvml_ready();
    if (r != NVML_SUCCESS)
        return r;
    if (!uuid || !device)
        return NVML_ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < shim_g.ndevices && i < PROTO_MAX_DEVICES; i++) {
        char s[41];
        nvml_uuid_str(&shim_g.dev[i], s);
        if (strcmp(s, uuid) == 0)
            return genie_nvml_nvmlDeviceGetHandleByIndex_v2((unsigned)i, device);
    }
    return NVML_ERROR_NOT_FOUND;
}

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)
{
    if (!cudaDriverVersion)
        return NVML_ERROR_INVALID_ARGUMENT;
    return cudaDriverGetVersion(cudaDriverVersion) == cudaSuccess ? NVML_SUCCESS
                                                                   : NVML_ERROR_UNKNOWN;
}

GENIE_EXPORT nvmlReturn_t genie_nvml_nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)
{
    return genie_nvml_nvmlSystemGetCudaDriverVersion(cudaDriverVersion);
}
