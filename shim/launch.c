/* launch.c — kernel launches: nvcc's call configuration, __cudaLaunchKernel, cudaLaunchKernel(ExC), the LAUNCH record. */
#include "shim/modules.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ call configuration ---- */

typedef struct call_config {
    dim3 grid, block;
    size_t shmem;
    cudaStream_t stream;
} call_config;

#define CONFIG_DEPTH 16
static __thread call_config config_stack[CONFIG_DEPTH];
static __thread int config_top;

GENIE_EXPORT unsigned __cudaPushCallConfiguration(dim3 gridDim, dim3 blockDim, size_t sharedMem,
                                                  struct CUstream_st *stream)
{
    shim_count(GENIE_APIX___cudaPushCallConfiguration);
    if (config_top == CONFIG_DEPTH)
        return (unsigned)shim_set_error(cudaErrorInvalidConfiguration);
    config_stack[config_top++] = (call_config){gridDim, blockDim, sharedMem, stream};
    return 0;
}

GENIE_EXPORT cudaError_t __cudaPopCallConfiguration(dim3 *gridDim, dim3 *blockDim,
                                                    size_t *sharedMem, void *stream)
{
    shim_count(GENIE_APIX___cudaPopCallConfiguration);
    if (config_top == 0)
        return shim_set_error(cudaErrorMissingConfiguration);
    call_config c = config_stack[--config_top];
    *gridDim = c.grid;
    *blockDim = c.block;
    *sharedMem = c.shmem;
    *(cudaStream_t *)stream = c.stream;
    return cudaSuccess;
}


/* ------------------------------------------------------------------ launch ---- */

static int attr(int a) { return shim_g.dev[0].attrs[a]; }

/* coop: a cooperative launch (cudaLaunchCooperativeKernel): a LAUNCH_COOP record, run with
 * cuLaunchCooperativeKernel on the executor, whose driver checks that the whole grid fits on
 * the GPU at once (that answer, from the kernel's occupancy, comes back at the next sync as
 * cudaErrorCooperativeLaunchTooLarge; a grid beyond every SM's block limit is refused here). */
static cudaError_t launch_rec(shim_func *f, dim3 g, dim3 b, void **args, size_t shmem,
                              cudaStream_t stream, int coop);

cudaError_t shim_launch(shim_func *f, dim3 g, dim3 b, void **args, size_t shmem,
                        cudaStream_t stream)
{
    return launch_rec(f, g, b, args, shmem, stream, 0);
}

static cudaError_t launch_rec(shim_func *f, dim3 g, dim3 b, void **args, size_t shmem,
                              cudaStream_t stream, int coop)
{
    shim_lock();
    cudaError_t e;
    if ((e = shim_ensure()) != cudaSuccess)
        goto out;
    /* configuration errors are reported by the launch itself, as the runtime does */
    uint64_t threads = (uint64_t)b.x * b.y * b.z;
    if (g.x == 0 || g.y == 0 || g.z == 0 || threads == 0 ||
        threads > (uint64_t)attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK) ||
        b.x > (unsigned)attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X) ||
        b.y > (unsigned)attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y) ||
        b.z > (unsigned)attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z) ||
        g.x > (unsigned)attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X) ||
        g.y > (unsigned)attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y) ||
        g.z > (unsigned)attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z) ||
        shmem > (size_t)attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)) {
        e = shim_set_error(cudaErrorInvalidConfiguration);
        goto out;
    }
    uint32_t sid = shim_stream_id(stream);
    if (sid == UINT32_MAX) {
        e = shim_set_error(cudaErrorInvalidResourceHandle);
        goto out;
    }
    if (coop) {
        if (!attr(CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH)) {
            e = shim_set_error(cudaErrorNotSupported); /* what the runtime answers */
            goto out;
        }
        if ((uint64_t)g.x * g.y * g.z >
            (uint64_t)attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) *
                (uint64_t)attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR)) {
            e = shim_set_error(cudaErrorCooperativeLaunchTooLarge);
            goto out;
        }
        if ((e = shim_capture_unsupported(sid, "a cooperative launch (cudaLaunchCooperativeKernel)")))
            goto out;
    }
    if (!f->ready && (e = shim_func_prepare(f)) != cudaSuccess)
        goto out;
    if (f->nparams && !args) {
        e = shim_set_error(cudaErrorInvalidValue);
        goto out;
    }
    shim_rec r;
    shim_batch_begin(&r);
    uint8_t *p = coop ? SHIM_PUT(&r, LAUNCH_COOP, f->id, sid, g.x, g.y, g.z, b.x, b.y, b.z,
                                 (uint32_t)shmem, f->params_size)
                      : SHIM_PUT(&r, LAUNCH, f->id, sid, g.x, g.y, g.z, b.x, b.y, b.z,
                                 (uint32_t)shmem, f->params_size);
    if (!p) {
        e = shim_batch_fail(&r);
        goto out;
    }
    memset(p, 0, f->params_size);
    for (uint32_t i = 0; i < f->nparams; i++)
        memcpy(p + f->offsets[i], args[i], f->sizes[i]);
    /* its IR descriptor: parameter words inside the session's VA range are its buffers
     * (GENIE_BENCH_NO_IR: a build for bench/micro/ab.sh that measures what the IR costs) */
#ifndef GENIE_BENCH_NO_IR
    sem_op *o = shim_sem_op(SEM_OP_LAUNCH, coop ? PROTO_OP_LAUNCH_COOP : PROTO_OP_LAUNCH, sid);
    o->func = f->id;
    sem_ir_scan_params(&shim_g.ir, o, p, f->params_size, shim_g.va_base, shim_g.va_size);
    /* A module with __device__ or __constant__ variables: its kernels may read or write them,
     * and their addresses are not among the parameters. A range of unknown size outside every
     * allocation stands for all memory, so the kernel stays ordered with every copy and kernel
     * around it (the parallel-branches pass once moved symbols.cu's cudaMemcpyToSymbol of a
     * counter onto another lane than the kernel counting into it). */
    if (f->module && f->module->has_vars)
        shim_sem_range(o, 0, SEM_SIZE_UNKNOWN, SEM_RW);
#endif
    e = shim_batch_commit(&r, sid, 0);
    if (r.committed || r.captured)
        shim_g.stats.launches++;
out:
    shim_unlock();
    return e;
}

/* fn: a host stub (cudaLaunchKernel), or, from __cudaLaunchKernel, the cudaKernel_t that
 * __cudaGetKernel handed out (our shim_func, a live handle): that one is looked up in the
 * handle registry first, one hash lookup instead of two on nvcc's launch path. */
static cudaError_t launch_as(const void *fn, dim3 g, dim3 b, void **args, size_t shmem,
                             cudaStream_t stream, int kernel_handle, int coop)
{
    shim_lock();
    shim_func *f = kernel_handle ? shim_handle_of(fn, SHIM_FUNC_MAGIC) : NULL;
    if (!f)
        f = shim_func_lookup_locked(fn);
    cudaError_t e = f ? launch_rec(f, g, b, args, shmem, stream, coop)
                      : shim_set_error(cudaErrorInvalidDeviceFunction);
    shim_unlock();
    return e;
}

static cudaError_t launch(const void *fn, dim3 g, dim3 b, void **args, size_t shmem,
                          cudaStream_t stream, int kernel_handle)
{
    return launch_as(fn, g, b, args, shmem, stream, kernel_handle, 0);
}

GENIE_EXPORT cudaError_t __cudaGetKernel(cudaKernel_t *kernelPtr, const void *entryFuncAddr)
{
    shim_count(GENIE_APIX___cudaGetKernel);
    if (!kernelPtr)
        return shim_set_error(cudaErrorInvalidValue);
    shim_func *f = shim_func_lookup(entryFuncAddr);
    if (!f)
        return shim_set_error(cudaErrorInvalidDeviceFunction);
    *kernelPtr = (cudaKernel_t)f;
    return cudaSuccess;
}

GENIE_EXPORT cudaError_t __cudaLaunchKernel(cudaKernel_t kernel, dim3 gridDim, dim3 blockDim,
                                            void **args, size_t sharedMem, cudaStream_t stream)
{
    shim_call_site = __builtin_return_address(0); /* RAW: what the generated wrappers do */
    shim_count(GENIE_APIX___cudaLaunchKernel);
    return launch(kernel, gridDim, blockDim, args, sharedMem, stream, 1);
}

GENIE_EXPORT cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t kernel, dim3 gridDim,
                                                 dim3 blockDim, void **args, size_t sharedMem,
                                                 cudaStream_t stream)
{
    shim_call_site = __builtin_return_address(0);
    shim_count(GENIE_APIX___cudaLaunchKernel_ptsz);
    return launch(kernel, gridDim, blockDim, args, sharedMem, stream, 1);
}

cudaError_t shim_impl_cudaLaunchKernel(const void *func, dim3 gridDim, dim3 blockDim,
                                       void **args, size_t sharedMem, cudaStream_t stream)
{
    return launch(func, gridDim, blockDim, args, sharedMem, stream, 0);
}

cudaError_t shim_impl_cudaLaunchCooperativeKernel(const void *func, dim3 gridDim, dim3 blockDim,
                                                  void **args, size_t sharedMem,
                                                  cudaStream_t stream)
{
    return launch_as(func, gridDim, blockDim, args, sharedMem, stream, 0, 1);
}

/* cudaLaunchKernelExC (and the cudaLaunchKernelEx template over it): a launch with attributes.
 * Attributes that only give the GPU more freedom or a hint (L2 access policy, priority,
 * programmatic serialization, memory sync domains, cluster scheduling preferences, shared
 * memory carveout) are dropped: the launch then runs as an ordinary, fully ordered one, which
 * is always a correct schedule. A cooperative grid runs as cudaLaunchCooperativeKernel does.
 * Attributes that change what the kernel may do or what the
 * launch produces (a cluster shape other than 1x1x1, programmatic or
 * completion events, device-updatable graph nodes) are refused with cudaErrorNotSupported,
 * logged once per attribute with the caller: silently dropping them would run the kernel
 * wrong or leave an event never recorded. */
static const char *launch_attr_refused(const cudaLaunchAttribute *a)
{
    switch ((int)a->id) {
    case cudaLaunchAttributeIgnore:
    case cudaLaunchAttributeAccessPolicyWindow:
    case cudaLaunchAttributeSynchronizationPolicy:
    case cudaLaunchAttributeClusterSchedulingPolicyPreference:
    case cudaLaunchAttributeProgrammaticStreamSerialization:
    case cudaLaunchAttributePriority:
    case cudaLaunchAttributeMemSyncDomainMap:
    case cudaLaunchAttributeMemSyncDomain:
    case cudaLaunchAttributePreferredClusterDimension:
    case cudaLaunchAttributePreferredSharedMemoryCarveout:
    case cudaLaunchAttributeNvlinkUtilCentricScheduling:
        return NULL;
    case cudaLaunchAttributeCooperative: /* taken by the caller */
        return NULL;
    case cudaLaunchAttributeClusterDimension:
        return a->val.clusterDim.x * a->val.clusterDim.y * a->val.clusterDim.z > 1
                   ? "cudaLaunchAttributeClusterDimension (a cluster larger than 1x1x1)"
                   : NULL;
    case cudaLaunchAttributeProgrammaticEvent:
        return "cudaLaunchAttributeProgrammaticEvent";
    case cudaLaunchAttributeLaunchCompletionEvent:
        return "cudaLaunchAttributeLaunchCompletionEvent";
    case cudaLaunchAttributeDeviceUpdatableKernelNode:
        return "cudaLaunchAttributeDeviceUpdatableKernelNode";
    default:
        return "an unknown launch attribute";
    }
}

cudaError_t shim_impl_cudaLaunchKernelExC(const cudaLaunchConfig_t *config, const void *func,
                                          void **args)
{
    static _Atomic unsigned char logged[32];
    if (!config || (config->numAttrs && !config->attrs))
        return shim_set_error(cudaErrorInvalidValue);
    for (unsigned i = 0; i < config->numAttrs; i++) {
        const char *why = launch_attr_refused(&config->attrs[i]);
        if (why) {
            unsigned id = (unsigned)config->attrs[i].id;
            genie_warn_once_at(&logged[id < 32 ? id : 31],
                               "cudaLaunchKernelExC with %s (attribute %u) is not supported by "
                               "Genie; returning cudaErrorNotSupported",
                               why, id);
            return shim_set_error(cudaErrorNotSupported);
        }
    }
    int coop = 0;
    for (unsigned i = 0; i < config->numAttrs; i++)
        if (config->attrs[i].id == cudaLaunchAttributeCooperative)
            coop = config->attrs[i].val.cooperative != 0; /* the last one given counts */
    return launch_as(func, config->gridDim, config->blockDim, args, config->dynamicSmemBytes,
                     config->stream, 0, coop);
}

