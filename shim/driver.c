/* driver.c — the CUDA driver API surface the client answers (shim/driver_api.h): device,
 * context and version queries from the session's device description, address ranges from the
 * shim's allocator, entry-point lookup; everything else a logged CUDA_ERROR_NOT_SUPPORTED. */
#include "shim/driver_api.h"
#include "shim/shim_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* every row's genie_drv_<name> has exactly the prototype cuda.h gives <name> */
#define DRV_CHECK_(kind, name, params, args)                                                   \
    _Static_assert(__builtin_types_compatible_p(__typeof__(genie_drv_##name), __typeof__(name)), \
                   #name " differs from cuda.h");
GENIE_DRIVER_API(DRV_CHECK_)
#undef DRV_CHECK_

/* ------------------------------------------------------------------ deny ---- */

enum {
#define DRV_IDX_(kind, name, params, args) DRV_IDX_##name,
    GENIE_DRIVER_API(DRV_IDX_)
#undef DRV_IDX_
        DRV_COUNT
};

static CUresult drv_deny(unsigned idx, const char *name)
{
    static _Atomic unsigned char logged[DRV_COUNT];
    if (!atomic_exchange(&logged[idx], 1))
        GENIE_WARN("driver API %s is not supported by Genie; returning "
                   "CUDA_ERROR_NOT_SUPPORTED",
                   name);
    return CUDA_ERROR_NOT_SUPPORTED;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define DRV_IMPL_(name, params, args)
#define DRV_DENY_(name, params, args)                                                          \
    GENIE_EXPORT CUresult genie_drv_##name params { return drv_deny(DRV_IDX_##name, #name); }
#define DRV_DEF_(kind, name, params, args) DRV_##kind##_(name, params, args)
GENIE_DRIVER_API(DRV_DEF_)
#undef DRV_DEF_
#undef DRV_DENY_
#undef DRV_IMPL_
#pragma GCC diagnostic pop

/* -------------------------------------------------------- entry points ---- */

static const struct drv_entry {
    const char *name;
    void (*fn)(void);
} drv_table[] = {
#define DRV_ROW_(kind, name, params, args) {#name, (void (*)(void))genie_drv_##name},
    GENIE_DRIVER_API(DRV_ROW_)
#undef DRV_ROW_
};

/* The driver resolves the base name a caller asks for ("cuMemGetAddressRange") to the
 * variant its headers select ("cuMemGetAddressRange_v2"); an exact name matches too. */
static int drv_name_matches(const char *row, const char *want)
{
    size_t n = strlen(want);
    if (strncmp(row, want, n) != 0)
        return 0;
    const char *rest = row + n;
    if (*rest == 0)
        return 1;
    if (rest[0] != '_' || rest[1] != 'v' || !rest[2])
        return 0;
    for (rest += 2; *rest; rest++)
        if (*rest < '0' || *rest > '9')
            return 0;
    return 1;
}

void (*shim_driver_proc(const char *name))(void)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof drv_table / sizeof drv_table[0]; i++)
        if (drv_name_matches(drv_table[i].name, name))
            return drv_table[i].fn;
    GENIE_INFO("driver entry point %s: not provided by Genie", name);
    return NULL;
}

GENIE_EXPORT CUresult genie_drv_cuGetProcAddress_v2(const char *symbol, void **pfn,
                                                    int cudaVersion, cuuint64_t flags,
                                                    CUdriverProcAddressQueryResult *symbolStatus)
{
    (void)cudaVersion, (void)flags;
    if (!symbol || !pfn)
        return CUDA_ERROR_INVALID_VALUE;
    void (*fn)(void) = shim_driver_proc(symbol);
    *pfn = (void *)fn;
    if (symbolStatus)
        *symbolStatus = fn ? CU_GET_PROC_ADDRESS_SUCCESS : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return fn ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

/* ------------------------------------------------------- errors, version ---- */

GENIE_EXPORT CUresult genie_drv_cuGetErrorName(CUresult error, const char **pStr)
{
    if (!pStr)
        return CUDA_ERROR_INVALID_VALUE;
    switch ((int)error) {
#define CU_ERR(name, value)                                                                    \
    case value:                                                                                \
        *pStr = #name;                                                                         \
        return CUDA_SUCCESS;
#include "shim/cu_errors.def"
#undef CU_ERR
    default:
        *pStr = NULL;
        return CUDA_ERROR_INVALID_VALUE;
    }
}

GENIE_EXPORT CUresult genie_drv_cuGetErrorString(CUresult error, const char **pStr)
{
    if (!pStr)
        return CUDA_ERROR_INVALID_VALUE;
    switch ((int)error) {
    case CUDA_SUCCESS: *pStr = "no error"; return CUDA_SUCCESS;
    case CUDA_ERROR_INVALID_VALUE: *pStr = "invalid argument"; return CUDA_SUCCESS;
    case CUDA_ERROR_OUT_OF_MEMORY: *pStr = "out of memory"; return CUDA_SUCCESS;
    case CUDA_ERROR_NOT_INITIALIZED: *pStr = "initialization error"; return CUDA_SUCCESS;
    case CUDA_ERROR_NO_DEVICE: *pStr = "no CUDA-capable device is detected"; return CUDA_SUCCESS;
    case CUDA_ERROR_INVALID_DEVICE: *pStr = "invalid device ordinal"; return CUDA_SUCCESS;
    case CUDA_ERROR_INVALID_CONTEXT: *pStr = "invalid device context"; return CUDA_SUCCESS;
    case CUDA_ERROR_NOT_FOUND: *pStr = "named symbol not found"; return CUDA_SUCCESS;
    case CUDA_ERROR_NOT_SUPPORTED: *pStr = "operation not supported"; return CUDA_SUCCESS;
    default:
        /* the name, for every other code cuda.h defines */
        return genie_drv_cuGetErrorName(error, pStr);
    }
}

GENIE_EXPORT CUresult genie_drv_cuDriverGetVersion(int *driverVersion)
{
    if (!driverVersion)
        return CUDA_ERROR_INVALID_VALUE;
    return cudaDriverGetVersion(driverVersion) == cudaSuccess ? CUDA_SUCCESS
                                                               : CUDA_ERROR_UNKNOWN;
}

/* ------------------------------------------------------------- devices ---- */

/* Connects on first use: the device list comes with the session. */
static CUresult drv_ready(void)
{
    shim_lock();
    cudaError_t e = shim_ensure();
    shim_unlock();
    return e == cudaSuccess ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
}

static CUresult drv_device(CUdevice dev)
{
    CUresult r = drv_ready();
    if (r != CUDA_SUCCESS)
        return r;
    return dev >= 0 && dev < shim_g.ndevices ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

GENIE_EXPORT CUresult genie_drv_cuInit(unsigned int Flags)
{
    if (Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    return drv_ready();
}

GENIE_EXPORT CUresult genie_drv_cuDeviceGetCount(int *count)
{
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = drv_ready();
    *count = r == CUDA_SUCCESS ? shim_g.ndevices : 0;
    return r;
}

GENIE_EXPORT CUresult genie_drv_cuDeviceGet(CUdevice *device, int ordinal)
{
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = drv_device(ordinal);
    if (r == CUDA_SUCCESS)
        *device = ordinal;
    return r;
}

GENIE_EXPORT CUresult genie_drv_cuDeviceGetName(char *name, int len, CUdevice dev)
{
    if (!name || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = drv_device(dev);
    if (r == CUDA_SUCCESS)
        snprintf(name, (size_t)len, "%s", shim_g.dev[dev].name);
    return r;
}

GENIE_EXPORT CUresult genie_drv_cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
    if (!uuid)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = drv_device(dev);
    if (r == CUDA_SUCCESS)
        memcpy(uuid->bytes, shim_g.dev[dev].uuid, sizeof uuid->bytes);
    return r;
}

GENIE_EXPORT CUresult genie_drv_cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = drv_device(dev);
    if (r == CUDA_SUCCESS)
        *bytes = (size_t)shim_g.dev[dev].total_mem;
    return r;
}

GENIE_EXPORT CUresult genie_drv_cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib,
                                                     CUdevice dev)
{
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    /* the same table cudaDeviceGetAttribute reads: CUdevice_attribute values are the
     * cudaDeviceAttr values */
    cudaError_t e = cudaDeviceGetAttribute(pi, (enum cudaDeviceAttr)attrib, dev);
    if (e == cudaSuccess)
        return CUDA_SUCCESS;
    return e == cudaErrorInvalidDevice ? CUDA_ERROR_INVALID_DEVICE
           : e == cudaErrorInvalidValue ? CUDA_ERROR_INVALID_VALUE
                                        : CUDA_ERROR_NO_DEVICE;
}

/* ------------------------------------------------------------ contexts ---- */
/* One primary context per device, as in the runtime; the handle is a client-side token the
 * driver surface recognises (nothing reads through it). */

static struct drv_ctx {
    int device;
} drv_primary[PROTO_MAX_DEVICES];
static __thread CUcontext drv_current;
static __thread int drv_current_set;

static int drv_ctx_device(CUcontext ctx)
{
    for (int i = 0; i < PROTO_MAX_DEVICES; i++)
        if ((void *)ctx == (void *)&drv_primary[i])
            return i;
    return -1;
}

GENIE_EXPORT CUresult genie_drv_cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = drv_device(dev);
    if (r == CUDA_SUCCESS) {
        drv_primary[dev].device = dev;
        *pctx = (CUcontext)(void *)&drv_primary[dev];
    }
    return r;
}

GENIE_EXPORT CUresult genie_drv_cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    /* the session keeps the device's context for the life of the process */
    return drv_device(dev);
}

GENIE_EXPORT CUresult genie_drv_cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags,
                                                           int *active)
{
    if (!flags || !active)
        return CUDA_ERROR_INVALID_VALUE;
    /* no round trip: before the session exists no context is active, after it the remote
     * primary context is */
    shim_lock();
    int connected = shim_g.connected, n = shim_g.ndevices;
    shim_unlock();
    if (connected && (dev < 0 || dev >= n))
        return CUDA_ERROR_INVALID_DEVICE;
    unsigned dflags = 0;
    cudaGetDeviceFlags(&dflags);
    *flags = dflags;
    *active = connected;
    return CUDA_SUCCESS;
}

GENIE_EXPORT CUresult genie_drv_cuCtxGetCurrent(CUcontext *pctx)
{
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    if (drv_current_set) {
        *pctx = drv_current;
        return CUDA_SUCCESS;
    }
    /* the runtime makes the current device's primary context current once it is in use */
    shim_lock();
    int connected = shim_g.connected;
    shim_unlock();
    int dev = 0;
    cudaGetDevice(&dev);
    *pctx = connected ? (CUcontext)(void *)&drv_primary[dev] : NULL;
    return CUDA_SUCCESS;
}

GENIE_EXPORT CUresult genie_drv_cuCtxSetCurrent(CUcontext ctx)
{
    if (ctx) {
        int dev = drv_ctx_device(ctx);
        if (dev < 0)
            return CUDA_ERROR_INVALID_CONTEXT;
        if (cudaSetDevice(dev) != cudaSuccess)
            return CUDA_ERROR_INVALID_CONTEXT;
    }
    drv_current = ctx;
    drv_current_set = 1;
    return CUDA_SUCCESS;
}

GENIE_EXPORT CUresult genie_drv_cuCtxGetDevice(CUdevice *device)
{
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    CUcontext c = NULL;
    genie_drv_cuCtxGetCurrent(&c);
    if (!c)
        return CUDA_ERROR_INVALID_CONTEXT;
    *device = drv_ctx_device(c);
    return CUDA_SUCCESS;
}

/* -------------------------------------------------------------- memory ---- */

GENIE_EXPORT CUresult genie_drv_cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize,
                                                        CUdeviceptr dptr)
{
    shim_lock();
    uint64_t start = 0, size = 0;
    int found = shim_g.connected && shim_g.alloc &&
                shim_alloc_find(shim_g.alloc, (uint64_t)dptr, &start, &size);
    shim_unlock();
    if (!found)
        return CUDA_ERROR_NOT_FOUND;
    if (pbase)
        *pbase = (CUdeviceptr)start;
    if (psize)
        *psize = (size_t)size;
    return CUDA_SUCCESS;
}

GENIE_EXPORT CUresult genie_drv_cuMemGetAllocationGranularity(
    size_t *granularity, const CUmemAllocationProp *prop, CUmemAllocationGranularity_flags option)
{
    (void)option;
    if (!granularity || !prop)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = drv_ready();
    if (r == CUDA_SUCCESS)
        *granularity = (size_t)shim_g.granularity;
    return r;
}
