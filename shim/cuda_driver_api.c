/* cuda_driver_api.c — the CUDA driver API the program calls (libcuda.so.1 look-alike), answered by the shim.
 *
 * Device, context and version queries come from the session's device description, address
 * ranges from the shim's allocator, entry-point lookup from the table; modules, functions and
 * launches of code the program hands over go through shim/register.c's machinery (image sizes:
 * shim/module_image.c); everything else is a logged CUDA_ERROR_NOT_SUPPORTED. Not to be
 * confused with remote/gpu_loader.c, the executor's loader of the real driver. */
#define _GNU_SOURCE /* dladdr */
#include "shim/driver_api.h"

#include <dlfcn.h>
#include "shim/module_image.h"
#include "shim/shim_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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
    genie_warn_once_at(&logged[idx],
                       "driver API %s is not supported by Genie; returning "
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

/* ------------------------------------------------------- export tables ---- */

/* The first caller outside Genie's objects (the shim and the libcuda.so.1 look-alike whose
 * trampoline called in): its object's file name, or "?". */
static const char *foreign_caller(void)
{
    uintptr_t pcs[16];
    int n = genie_callers(pcs, 16);
    for (int i = 0; i < n; i++) {
        Dl_info di;
        if (!dladdr((void *)pcs[i], &di) || !di.dli_fname)
            continue;
        const char *base = strrchr(di.dli_fname, '/') ? strrchr(di.dli_fname, '/') + 1 : di.dli_fname;
        if (strncmp(base, "libcuda.so", 10) != 0)
            return base;
    }
    return "?";
}

/* A library that carries its own CUDA runtime (cuFFT, cuSPARSE, cuRAND, NCCL, ... linked with
 * the static cudart) initialises through the driver's private export tables. Genie has none:
 * such a library cannot work through it, and without this line it fails with its own
 * unexplained status (cuFFT: CUFFT_INTERNAL_ERROR). Logged once, at the default level, with
 * the library's name and the caller's frames. */
GENIE_EXPORT CUresult genie_drv_cuGetExportTable(const void **ppExportTable,
                                                 const CUuuid *pExportTableId)
{
    static _Atomic unsigned char logged;
    (void)pExportTableId;
    if (ppExportTable)
        *ppExportTable = NULL;
    genie_warn_once_at(&logged,
                       "%s asked the CUDA driver for a private export table (cuGetExportTable): "
                       "it is a library with its own CUDA runtime, which is not supported by "
                       "Genie (Genie covers the CUDA runtime, cuBLAS, cuBLASLt and cuDNN); its "
                       "calls will fail",
                       foreign_caller());
    return CUDA_ERROR_NOT_SUPPORTED;
}

/* A driver function Genie does not serve, called through the libcuda.so.1 look-alike
 * (shim/lookalike_cuda_deny.c): logged once per name, at the default level, with the library
 * that called it and the caller's frames. */
GENIE_EXPORT CUresult genie_drv_unsupported(const char *name)
{
    static const char *seen[64]; /* names logged so far (the look-alike's string literals) */
    static unsigned nseen;
    int first = 1;
    shim_lock();
    for (unsigned i = 0; i < nseen && first; i++)
        first = seen[i] != name;
    if (first && nseen < sizeof seen / sizeof seen[0])
        seen[nseen++] = name;
    else if (first)
        first = 0; /* past 64 names: enough said */
    shim_unlock();
    if (first)
        genie_warn_once_at(NULL,
                           "driver API %s (called by %s) is not supported by Genie; returning "
                           "CUDA_ERROR_NOT_SUPPORTED",
                           name, foreign_caller());
    return CUDA_ERROR_NOT_SUPPORTED;
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

/* ------------------------------------------------------- modules, launches ---- */
/* Code the program hands over (jiterator and lazy NVRTC in PyTorch): a CUmodule is a
 * shim_module, a CUfunction a shim_func (shim/register.c), both validated through the handle
 * table, never read through. The module is loaded remotely with its first cuModuleGetFunction
 * (hash first, the image only if the executor lacks it, and the FUNC_GET in the same frame), so
 * an image the remote driver refuses (no code for its GPU, bad PTX) is reported there; images
 * whose size cannot be known are refused by cuModuleLoadData itself. A driver call leaves the
 * runtime's last error as it found it, as the real driver does. */

/* Runtime error (with the executor's CUresult when it gave one) -> CUresult. Most runtime
 * codes share the driver's values (200 invalid image, 400 invalid handle, 700 illegal
 * address, 801 not supported...). */
static CUresult drv_result(cudaError_t e, int32_t cu)
{
    if (e == cudaSuccess)
        return CUDA_SUCCESS;
    if (cu)
        return (CUresult)cu;
    switch (e) {
    case cudaErrorInvalidConfiguration:
        return CUDA_ERROR_INVALID_VALUE;
    case cudaErrorInvalidDeviceFunction:
        return CUDA_ERROR_NOT_FOUND;
    case cudaErrorMemoryAllocation:
        return CUDA_ERROR_OUT_OF_MEMORY;
    default: {
        const char *name;
        return genie_drv_cuGetErrorName((CUresult)e, &name) == CUDA_SUCCESS ? (CUresult)e
                                                                            : CUDA_ERROR_UNKNOWN;
    }
    }
}

/* The runtime's last error is the runtime's: kept across each call below. */
#define DRV_KEEP_LAST_ERROR(expr)                                                              \
    do {                                                                                       \
        cudaError_t saved_ = shim_last_error;                                                  \
        expr;                                                                                  \
        shim_last_error = saved_;                                                              \
    } while (0)

static CUresult drv_module_load(CUmodule *module, const void *image, const char *who)
{
    if (!module || !image)
        return CUDA_ERROR_INVALID_VALUE;
    const uint8_t *start = NULL;
    const char *why = "unknown image";
    uint64_t len = shim_image_size(image, UINT64_MAX, &start, &why);
    if (!len) {
        GENIE_ERROR("%s: %s; returning CUDA_ERROR_INVALID_IMAGE", who, why);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    shim_module *m;
    if (shim_module_create(start, (size_t)len, &m) != cudaSuccess)
        return CUDA_ERROR_OUT_OF_MEMORY;
    GENIE_DEBUG("%s: module of %llu bytes", who, (unsigned long long)len);
    *module = (CUmodule)(void *)m;
    return CUDA_SUCCESS;
}

GENIE_EXPORT CUresult genie_drv_cuModuleLoadData(CUmodule *module, const void *image)
{
    return drv_module_load(module, image, "cuModuleLoadData");
}

GENIE_EXPORT CUresult genie_drv_cuModuleLoadDataEx(CUmodule *module, const void *image,
                                                   unsigned int numOptions,
                                                   CUjit_option *options, void **optionValues)
{
    if (numOptions && (!options || !optionValues))
        return CUDA_ERROR_INVALID_VALUE;
    /* JIT options concern the remote driver and are ignored; the outputs say "nothing logged,
     * no time spent" rather than keep what the caller left in them. A log size is in: the
     * buffer's size, out: the bytes written. */
    size_t info_cap = 0, error_cap = 0;
    for (unsigned i = 0; i < numOptions; i++) {
        if (options[i] == CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES)
            info_cap = (size_t)(uintptr_t)optionValues[i];
        else if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
            error_cap = (size_t)(uintptr_t)optionValues[i];
    }
    for (unsigned i = 0; i < numOptions; i++) {
        switch (options[i]) {
        case CU_JIT_INFO_LOG_BUFFER:
        case CU_JIT_ERROR_LOG_BUFFER:
            if (optionValues[i] &&
                (options[i] == CU_JIT_INFO_LOG_BUFFER ? info_cap : error_cap) > 0)
                *(char *)optionValues[i] = 0;
            break;
        case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
        case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES:
            optionValues[i] = NULL;
            break;
        case CU_JIT_WALL_TIME: {
            float zero = 0;
            optionValues[i] = NULL;
            memcpy(&optionValues[i], &zero, sizeof zero);
            break;
        }
        default:
            break;
        }
    }
    return drv_module_load(module, image, "cuModuleLoadDataEx");
}

GENIE_EXPORT CUresult genie_drv_cuModuleLoad(CUmodule *module, const char *fname)
{
    if (!module || !fname)
        return CUDA_ERROR_INVALID_VALUE;
    FILE *fp = fopen(fname, "rb");
    if (!fp)
        return CUDA_ERROR_FILE_NOT_FOUND;
    uint8_t *buf = NULL;
    long n = -1;
    CUresult r = CUDA_ERROR_FILE_NOT_FOUND;
    if (!fseek(fp, 0, SEEK_END) && (n = ftell(fp)) >= 0 && !fseek(fp, 0, SEEK_SET)) {
        if ((uint64_t)n >= SHIM_MAX_IMAGE || !(buf = calloc((size_t)n + 1, 1)))
            r = CUDA_ERROR_OUT_OF_MEMORY;
        else if (fread(buf, 1, (size_t)n, fp) == (size_t)n)
            r = CUDA_SUCCESS;
    }
    fclose(fp);
    if (r == CUDA_SUCCESS) {
        /* a PTX file gets its NUL from the extra byte */
        const uint8_t *start = NULL;
        const char *why = "unknown image";
        uint64_t len = shim_image_size(buf, (uint64_t)n + 1, &start, &why);
        if (len > (uint64_t)n + 1)
            len = 0, why = "image larger than its file";
        if (!len) {
            GENIE_ERROR("cuModuleLoad %s: %s; returning CUDA_ERROR_INVALID_IMAGE", fname, why);
            r = CUDA_ERROR_INVALID_IMAGE;
        } else {
            shim_module *m;
            if (shim_module_create(start, (size_t)len, &m) == cudaSuccess)
                *module = (CUmodule)(void *)m;
            else
                r = CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    free(buf);
    return r;
}

GENIE_EXPORT CUresult genie_drv_cuModuleUnload(CUmodule hmod)
{
    shim_lock();
    int ok = shim_handle_is(hmod, SHIM_MODULE_MAGIC);
    if (ok)
        shim_module_destroy((shim_module *)(void *)hmod);
    shim_unlock();
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

GENIE_EXPORT CUresult genie_drv_cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod,
                                                    const char *name)
{
    if (!hfunc || !name)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r;
    shim_lock();
    if (!shim_handle_is(hmod, SHIM_MODULE_MAGIC)) {
        r = CUDA_ERROR_INVALID_HANDLE;
    } else {
        shim_func *f = NULL;
        int32_t cu = 0;
        cudaError_t e;
        DRV_KEEP_LAST_ERROR(e = shim_module_function((shim_module *)(void *)hmod, name, &f, &cu));
        r = drv_result(e, cu);
        if (r == CUDA_SUCCESS)
            *hfunc = (CUfunction)(void *)f;
    }
    shim_unlock();
    return r;
}

/* Lock held. */
static shim_func *drv_func(CUfunction f)
{
    return shim_handle_is(f, SHIM_FUNC_MAGIC) ? (shim_func *)(void *)f : NULL;
}

GENIE_EXPORT CUresult genie_drv_cuLaunchKernel(CUfunction f, unsigned int gridDimX,
                                               unsigned int gridDimY, unsigned int gridDimZ,
                                               unsigned int blockDimX, unsigned int blockDimY,
                                               unsigned int blockDimZ, unsigned int sharedMemBytes,
                                               CUstream hStream, void **kernelParams, void **extra)
{
    /* extra: NULL or an empty list. Parameter buffers (CU_LAUNCH_PARAM_BUFFER_POINTER) are
     * not supported yet. */
    if (extra && extra[0] != CU_LAUNCH_PARAM_END) {
        static _Atomic unsigned char logged;
        if (!atomic_exchange(&logged, 1))
            GENIE_WARN("cuLaunchKernel: launch parameters through `extra` are not supported "
                       "by Genie (pass kernelParams); returning CUDA_ERROR_NOT_SUPPORTED");
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    CUresult r;
    shim_lock();
    shim_func *fn = drv_func(f);
    if (!fn) {
        r = CUDA_ERROR_INVALID_HANDLE;
    } else {
        cudaError_t e;
        DRV_KEEP_LAST_ERROR(e = shim_launch(fn, (dim3){gridDimX, gridDimY, gridDimZ},
                                            (dim3){blockDimX, blockDimY, blockDimZ},
                                            kernelParams, sharedMemBytes,
                                            (cudaStream_t)(void *)hStream));
        r = drv_result(e, 0);
    }
    shim_unlock();
    return r;
}

GENIE_EXPORT CUresult genie_drv_cuFuncGetAttribute(int *pi, CUfunction_attribute attrib,
                                                   CUfunction hfunc)
{
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r;
    shim_lock();
    shim_func *fn = drv_func(hfunc);
    if (!fn) {
        r = CUDA_ERROR_INVALID_HANDLE;
    } else {
        cudaError_t e;
        int32_t cu = 0;
        DRV_KEEP_LAST_ERROR(e = shim_func_attribute(fn, (int)attrib, pi, &cu));
        r = drv_result(e, cu);
    }
    shim_unlock();
    return r;
}

GENIE_EXPORT CUresult genie_drv_cuFuncSetAttribute(CUfunction hfunc,
                                                   CUfunction_attribute attrib, int value)
{
    CUresult r;
    shim_lock();
    shim_func *fn = drv_func(hfunc);
    if (!fn) {
        r = CUDA_ERROR_INVALID_HANDLE;
    } else {
        /* recorded like cudaFuncSetAttribute (the settable CUfunction_attribute values are
         * the cudaFuncAttribute values); the executor reports a refusal at the next sync */
        cudaError_t e;
        DRV_KEEP_LAST_ERROR(e = shim_impl_cudaFuncSetAttribute(
                                (const void *)fn, (enum cudaFuncAttribute)attrib, value));
        r = drv_result(e, 0);
    }
    shim_unlock();
    return r;
}

GENIE_EXPORT CUresult genie_drv_cuOccupancyMaxActiveBlocksPerMultiprocessor(
    int *numBlocks, CUfunction func, int blockSize, size_t dynamicSMemSize)
{
    if (!numBlocks)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r;
    shim_lock();
    shim_func *fn = drv_func(func);
    if (!fn) {
        r = CUDA_ERROR_INVALID_HANDLE;
    } else {
        cudaError_t e;
        DRV_KEEP_LAST_ERROR(e = shim_impl_cudaOccupancyMaxActiveBlocksPerMultiprocessor(
                                numBlocks, (const void *)fn, blockSize, dynamicSMemSize));
        r = drv_result(e, 0);
    }
    shim_unlock();
    return r;
}

GENIE_EXPORT CUresult genie_drv_cuCtxSynchronize(void)
{
    cudaError_t e;
    DRV_KEEP_LAST_ERROR(e = shim_impl_cudaDeviceSynchronize());
    return drv_result(e, 0);
}
