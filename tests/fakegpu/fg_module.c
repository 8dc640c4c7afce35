/* fg_module.c — fake modules and functions: images, twin lookup, param layout, launch. */
#include "fakegpu_int.h"
#include "fakegpu_work.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FG_FATBIN_MAGIC 0xba55ed50u /* fatbin image header */
#define FG_FATBIN_WRAPPER                                                                          \
    0x466243b1u /* __fatBinC_Wrapper_t, as passed to __cudaRegisterFatBinary */

struct fg_module;

typedef struct fg_func {
    struct fg_func *next;
    struct fg_module *module;
    const fg_twin *twin; /* borrowed: twin entries live for the whole process */
    const char *name;    /* the kernel's name: the twin's, or owned for a no-op stand-in */
    /* the cubin's layout (borrowed from the module), or NULL: then a twin's sizes at natural
     * alignment, and no parameters for a no-op stand-in */
    const fg_layout *layout;
    int max_dyn_shmem; /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
    int carveout;
    int nonportable_cluster;
    int cluster[3];
    int sched_policy;
} fg_func;

/* Functions belong to their module and die with it, so a CUfunction kept past
 * cuModuleUnload is reported as an invalid handle. */
/* A device variable's copy in one module. */
typedef struct fg_gvar {
    struct fg_gvar *next;
    const fg_global *decl; /* borrowed: registry entries live for the whole process */
    CUdeviceptr ptr;
} fg_gvar;

typedef struct fg_module {
    fg_func *funcs;
    fg_gvar *globals;
    fg_layout *layouts; /* read from the image's cubin at load (fg_cubin.c) */
} fg_module;

/* GENIE_FAKE_UNKNOWN_KERNELS=noop: a kernel without a twin "runs" as a no-op (with the
 * parameter layout its cubin gives, else none), so that a program whose kernels the fake GPU cannot
 * compute (stock PyTorch's) still goes through its whole sequence of API calls. Its results are
 * garbage: the mode is for counting calls, round trips and bytes (tests/torch/trace_calls.py),
 * never for checking values. */
static int fg_noop_run(const fg_launch *l, void **args)
{
    (void)l, (void)args;
    return 0;
}

static const fg_twin fg_noop_twin = {"(no-op stand-in)", fg_noop_run, 0, {0}};

static int fg_noop_unknown(void)
{
    static int on = -1;
    if (on < 0) {
        const char *v = getenv("GENIE_FAKE_UNKNOWN_KERNELS");
        on = v && !strcmp(v, "noop");
    }
    return on;
}

/* The twin table says which kernels exist; the image's cubin gives their parameter layouts. */
static CUresult fg_module_load(CUmodule *module, const void *image)
{
    CUresult r = fg_check_ctx();
    if (r)
        return r;
    if (!module)
        return CUDA_ERROR_INVALID_VALUE;
    uint32_t magic;
    if (!image)
        return CUDA_ERROR_INVALID_IMAGE;
    memcpy(&magic, image, sizeof magic);
    if (magic != FG_FATBIN_MAGIC && magic != FG_FATBIN_WRAPPER)
        return CUDA_ERROR_INVALID_IMAGE;
    fg_module *m = calloc(1, sizeof *m);
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    m->layouts = fg_image_layouts(image);
    FG_LOCK();
    int bad = fg_handle_add(m, FG_H_MODULE);
    FG_UNLOCK();
    if (bad) {
        fg_layouts_free(m->layouts);
        free(m);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *module = (CUmodule)m;
    return CUDA_SUCCESS;
}

CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
    fg_work_count_call();
    return fg_module_load(module, image);
}

CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
    fg_work_count_call();
    return fg_module_load(module, fatCubin);
}

CUresult cuModuleUnload(CUmodule hmod)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    fg_module *m = (fg_module *)hmod;
    FG_LOCK();
    if (!fg_handle_take(m, FG_H_MODULE)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    for (fg_func *f = m->funcs, *n; f; f = n) {
        n = f->next;
        fg_handle_del(f);
        if (f->twin == &fg_noop_twin)
            free((char *)f->name);
        free(f);
    }
    fg_gvar *g = m->globals;
    FG_UNLOCK();
    for (fg_gvar *n; g; g = n) {
        n = g->next;
        fg_global_release(g->ptr);
        free(g);
    }
    fg_layouts_free(m->layouts);
    free(m);
    return CUDA_SUCCESS;
}

/* The cubin's layout of kernel `name` for a function run by twin t: a no-op stand-in takes it
 * as it is; a twin only when it agrees with the twin's own sizes (the twin reads what it says
 * it reads; a disagreement is the twin's bug, and is said). NULL when there is none. */
static const fg_layout *fg_func_layout(const fg_module *m, const fg_twin *t, const char *name)
{
    const fg_layout *l = fg_layout_find(m->layouts, name);
    if (!l || t == &fg_noop_twin)
        return l;
    int same = l->n == t->nparams;
    for (unsigned i = 0; same && i < l->n; i++)
        same = l->size[i] == t->sizes[i];
    if (!same)
        fprintf(stderr,
                "fakegpu: the twin of %s takes %u parameters that differ from its cubin's %u; "
                "the twin's layout is used\n",
                name, t->nparams, l->n);
    return same ? l : NULL;
}

/* A name lookup in the module's host-side table: under lazy loading (CUDA's default since
 * 12.2) it loads nothing, so a corrupted context does not fail it; the first call that
 * needs the kernel on the device (cuFuncGetParamInfo, a launch) does. */
CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    if (!hfunc || !name)
        return CUDA_ERROR_INVALID_VALUE;
    const fg_twin *t = fg_twin_find(name);
    if (!t && fg_noop_unknown())
        t = &fg_noop_twin;
    fg_module *m = (fg_module *)hmod;
    FG_LOCK();
    if (!fg_handle_is(m, FG_H_MODULE)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (!t) {
        FG_UNLOCK();
        fprintf(stderr, "fakegpu: no CPU twin for kernel %s\n", name);
        return CUDA_ERROR_NOT_FOUND;
    }
    fg_func *f;
    /* every no-op stand-in is a function of its own, under its own name (the model's table of
     * PyTorch's kernels is keyed by it) */
    for (f = m->funcs; f; f = f->next)
        if (f->twin == t && (t != &fg_noop_twin || !strcmp(f->name, name)))
            break;
    if (!f) {
        f = calloc(1, sizeof *f);
        char *own = t == &fg_noop_twin ? strdup(name) : NULL;
        if (!f || (t == &fg_noop_twin && !own) || fg_handle_add(f, FG_H_FUNC)) {
            FG_UNLOCK();
            free(f);
            free(own);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        f->twin = t;
        f->name = own ? own : t->name;
        f->module = m;
        f->layout = fg_func_layout(m, t, name);
        f->max_dyn_shmem = FG_SHMEM_PER_BLOCK;
        f->carveout = -1;
        f->next = m->funcs;
        m->funcs = f;
    }
    FG_UNLOCK();
    *hfunc = (CUfunction)f;
    return CUDA_SUCCESS;
}

/* Locks and copies out what the caller needs of a function, or fails. */
static CUresult fg_func_get(CUfunction hf, fg_func *out)
{
    CUresult r = fg_check_init();
    if (!r)
        r = fg_check_sticky();
    if (r)
        return r;
    FG_LOCK();
    if (!fg_handle_is(hf, FG_H_FUNC)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    *out = *(fg_func *)hf;
    FG_UNLOCK();
    return CUDA_SUCCESS;
}

/* Natural alignment of a parameter of `size` bytes: its largest power-of-two divisor,
 * at most 16 (int 4, pointer 8, float2 8, float3 4, float4 16). A struct whose alignment
 * is less than that (e.g. two longs, 16 bytes, align 8) would need its twin to say so. */
static size_t fg_param_align(size_t size)
{
    size_t a = size & (~size + 1);
    return a == 0 || a > 16 ? 16 : a;
}

static unsigned fg_func_nparams(const fg_func *f)
{
    return f->layout ? f->layout->n : f->twin->nparams;
}

CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t *paramOffset,
                            size_t *paramSize)
{
    fg_work_count_call();
    fg_func f;
    CUresult r = fg_func_get(func, &f);
    if (r)
        return r;
    if (paramIndex >= fg_func_nparams(&f) || (!paramOffset && !paramSize))
        return CUDA_ERROR_INVALID_VALUE;
    if (f.layout) {
        if (paramOffset)
            *paramOffset = f.layout->off[paramIndex];
        if (paramSize)
            *paramSize = f.layout->size[paramIndex];
        return CUDA_SUCCESS;
    }
    size_t off = 0;
    for (size_t i = 0;; i++) {
        size_t sz = f.twin->sizes[i], a = fg_param_align(sz);
        off = (off + a - 1) & ~(a - 1);
        if (i == paramIndex) {
            if (paramOffset)
                *paramOffset = off;
            if (paramSize)
                *paramSize = sz;
            return CUDA_SUCCESS;
        }
        off += sz;
    }
}

CUresult cuFuncGetName(const char **name, CUfunction hfunc)
{
    fg_work_count_call();
    fg_func f;
    CUresult r = fg_func_get(hfunc, &f);
    if (r)
        return r;
    if (!name)
        return CUDA_ERROR_INVALID_VALUE;
    *name = f.name;
    return CUDA_SUCCESS;
}

CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
    fg_work_count_call();
    fg_func f;
    CUresult r = fg_func_get(hfunc, &f);
    if (r)
        return r;
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
        *pi = FG_MAX_THREADS_PER_BLOCK;
        break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES:
        *pi = 0;
        break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES:
        *pi = 0;
        break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES:
        *pi = 0;
        break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS:
        *pi = 32;
        break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
        *pi = 90;
        break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION:
        *pi = 90;
        break;
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA:
        *pi = 0;
        break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
        *pi = f.max_dyn_shmem;
        break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        *pi = f.carveout;
        break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET:
        *pi = 0;
        break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
        *pi = f.cluster[0];
        break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
        *pi = f.cluster[1];
        break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
        *pi = f.cluster[2];
        break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
        *pi = f.nonportable_cluster;
        break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        *pi = f.sched_policy;
        break;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

/* Only the attributes the driver lets you set are settable; the rest are read-only there
 * too. */
CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    FG_LOCK();
    if (!fg_handle_is(hfunc, FG_H_FUNC)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    fg_func *f = (fg_func *)hfunc;
    r = CUDA_SUCCESS;
    switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
        if (value < 0 || value > FG_SHMEM_OPTIN)
            r = CUDA_ERROR_INVALID_VALUE;
        else
            f->max_dyn_shmem = value;
        break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        if (value < -1 || value > 100)
            r = CUDA_ERROR_INVALID_VALUE;
        else
            f->carveout = value;
        break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
        f->cluster[0] = value;
        break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
        f->cluster[1] = value;
        break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
        f->cluster[2] = value;
        break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
        f->nonportable_cluster = value != 0;
        break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        f->sched_policy = value;
        break;
    default:
        r = CUDA_ERROR_INVALID_VALUE;
        break;
    }
    FG_UNLOCK();
    return r;
}

/* A launch as queued: the twin, the configuration and a copy of the parameters (the driver
 * copies them at the launch; the caller may reuse its buffers at once). */
typedef struct fg_run {
    const fg_twin *twin;
    fg_launch l;
    int ret;
    void *args[FG_MAX_PARAMS];
    unsigned char bytes[]; /* the parameters' values, each 16-aligned */
} fg_run;

static void fg_run_twin(void *a)
{
    fg_run *x = a;
    x->ret = x->twin->fn(&x->l, x->args);
}

/* On a worker: the kernel's fault becomes the error the next synchronising call reports. */
static int fg_run_item(void *a)
{
    fg_run *x = a;
    int sig = fg_guarded(fg_run_twin, x);
    CUresult r = (CUresult)x->ret;
    if (sig == SIGSEGV || sig == SIGBUS)
        r = CUDA_ERROR_ILLEGAL_ADDRESS;
    else if (sig == SIGILL)
        r = CUDA_ERROR_ILLEGAL_INSTRUCTION;
    else if (sig)
        r = CUDA_ERROR_LAUNCH_FAILED;
    if (sig)
        fg_fault(r);
    return (int)r;
}

/* Checks a launch's configuration and builds its work (a copy of the parameters): shared by
 * cuLaunchKernel and the kernel nodes of a graph (fg_graph.c). */
CUresult fg_launch_work(CUfunction f, const unsigned grid[3], const unsigned block[3],
                        unsigned sharedMemBytes, void **kernelParams, void **extra, fg_work *out)
{
    fg_func fn;
    CUresult r = fg_func_get(f, &fn);
    if (r)
        return r;
    if (extra)
        return CUDA_ERROR_NOT_SUPPORTED;
    unsigned gridDimX = grid[0], gridDimY = grid[1], gridDimZ = grid[2];
    unsigned blockDimX = block[0], blockDimY = block[1], blockDimZ = block[2];
    if (gridDimX < 1 || gridDimY < 1 || gridDimZ < 1 || blockDimX < 1 || blockDimY < 1 ||
        blockDimZ < 1 || gridDimX > (unsigned)fg_dev_attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X) ||
        gridDimY > (unsigned)fg_dev_attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y) ||
        gridDimZ > (unsigned)fg_dev_attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z) ||
        blockDimX > (unsigned)fg_dev_attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X) ||
        blockDimY > (unsigned)fg_dev_attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y) ||
        blockDimZ > (unsigned)fg_dev_attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z) ||
        (unsigned long long)blockDimX * blockDimY * blockDimZ > FG_MAX_THREADS_PER_BLOCK)
        return CUDA_ERROR_INVALID_VALUE;
    /* Above 48 KiB a kernel must have opted in (cuFuncSetAttribute), as on the GPU. */
    if (sharedMemBytes > (unsigned)fn.max_dyn_shmem)
        return CUDA_ERROR_INVALID_VALUE;
    const fg_twin *t = fn.twin;
    if (fg_func_nparams(&fn) > 0 && !kernelParams)
        return CUDA_ERROR_INVALID_VALUE;
    size_t total = 0;
    for (unsigned i = 0; i < t->nparams; i++)
        total += (t->sizes[i] + 15) & ~(size_t)15;
    fg_run *run = calloc(1, sizeof *run + total);
    if (!run)
        return CUDA_ERROR_OUT_OF_MEMORY;
    run->twin = t;
    run->l = (fg_launch){{gridDimX, gridDimY, gridDimZ},
                         {blockDimX, blockDimY, blockDimZ},
                         sharedMemBytes,
                         fn.module};
    size_t off = 0;
    for (unsigned i = 0; i < t->nparams; i++) {
        run->args[i] = run->bytes + off;
        memcpy(run->args[i], kernelParams[i], t->sizes[i]);
        off += (t->sizes[i] + 15) & ~(size_t)15;
    }
    fg_cost c = {.kind = FG_COST_KERNEL,
                 .name = fn.name,
                 .blocks = (unsigned long long)gridDimX * gridDimY * gridDimZ};
    int compute = fg_model_compute() && t != &fg_noop_twin; /* a no-op has nothing to run */
    *out = (fg_work){compute ? fg_run_item : NULL, run, free, fg_model_ns(&c),
                     compute ? FG_ITEM_COMPUTED : 0u, FG_NODE_KERNEL};
    return CUDA_SUCCESS;
}

/* Queues the whole grid on the stream; a worker runs the twin after this returns. Launch
 * configuration errors are reported here, faults inside the kernel at the next sync. */
CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                        unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                        unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                        void **kernelParams, void **extra)
{
    fg_work_count_call();
    fg_func fn;
    CUresult r = fg_func_get(f, &fn);
    if (!r)
        r = fg_check_stream_ctx(hStream);
    if (r)
        return r;
    FG_LOCK();
    int sok = fg_stream_ok(hStream);
    FG_UNLOCK();
    if (!sok)
        return CUDA_ERROR_INVALID_HANDLE;
    fg_work w;
    unsigned grid[3] = {gridDimX, gridDimY, gridDimZ}, block[3] = {blockDimX, blockDimY, blockDimZ};
    if ((r = fg_launch_work(f, grid, block, sharedMemBytes, kernelParams, extra, &w)))
        return r;
    return (CUresult)fg_sched_submit_work(fg_sched_stream(hStream), &w, NULL);
}

/* Threads per SM 2048, at most 32 blocks per SM, and the SM's shared memory. */
static CUresult fg_occupancy(int *numBlocks, CUfunction func, int blockSize, size_t dynamicSMemSize)
{
    fg_func f;
    CUresult r = fg_func_get(func, &f);
    if (r)
        return r;
    if (!numBlocks || blockSize <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    int n = 0;
    if (blockSize <= FG_MAX_THREADS_PER_BLOCK && dynamicSMemSize <= (size_t)f.max_dyn_shmem) {
        n = 2048 / blockSize;
        if (n > 32)
            n = 32;
        if (dynamicSMemSize) {
            size_t per_sm =
                (size_t)fg_dev_attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
            size_t by_smem = per_sm / (dynamicSMemSize + 1024); /* 1 KiB reserved per block */
            if ((size_t)n > by_smem)
                n = (int)by_smem;
        }
    }
    *numBlocks = n;
    return CUDA_SUCCESS;
}

CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func, int blockSize,
                                                     size_t dynamicSMemSize)
{
    fg_work_count_call();
    return fg_occupancy(numBlocks, func, blockSize, dynamicSMemSize);
}

CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *numBlocks, CUfunction func,
                                                              int blockSize, size_t dynamicSMemSize,
                                                              unsigned int flags)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    if (flags & ~(unsigned)CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE)
        return CUDA_ERROR_INVALID_VALUE;
    return fg_occupancy(numBlocks, func, blockSize, dynamicSMemSize);
}

/* A cooperative launch: every block must be resident at once, so the grid may not exceed
 * what the kernel's occupancy allows on all SMs (CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE); then
 * it runs as any launch (the twins run blocks in turn: a kernel that waits in grid.sync for
 * the others would not finish here, and none of the test kernels does). */
CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                   unsigned int gridDimZ, unsigned int blockDimX,
                                   unsigned int blockDimY, unsigned int blockDimZ,
                                   unsigned int sharedMemBytes, CUstream hStream,
                                   void **kernelParams)
{
    if (!fg_dev_attr(CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH))
        return CUDA_ERROR_NOT_SUPPORTED;
    int per_sm = 0;
    unsigned long long threads = (unsigned long long)blockDimX * blockDimY * blockDimZ;
    CUresult r = fg_occupancy(&per_sm, f, threads > 0 && threads <= FG_MAX_THREADS_PER_BLOCK
                                              ? (int)threads : FG_MAX_THREADS_PER_BLOCK + 1,
                              sharedMemBytes);
    if (r)
        return r;
    if ((unsigned long long)gridDimX * gridDimY * gridDimZ >
        (unsigned long long)per_sm * (unsigned)fg_dev_attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT))
        return per_sm ? CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE : CUDA_ERROR_INVALID_VALUE;
    return cuLaunchKernel(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                          sharedMemBytes, hStream, kernelParams, NULL);
}

/* ---- device variables ---- */

/* Module m's copy of variable decl, made on first use. Takes fg_lock; m must be live. */
static CUresult fg_gvar_get(fg_module *m, const fg_global *decl, CUdeviceptr *out)
{
    FG_LOCK();
    if (!fg_handle_is(m, FG_H_MODULE)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    for (fg_gvar *g = m->globals; g; g = g->next)
        if (g->decl == decl) {
            *out = g->ptr;
            FG_UNLOCK();
            return CUDA_SUCCESS;
        }
    FG_UNLOCK();
    /* allocated outside the lock (fg_global_alloc takes it); a racing second creator's
     * copy is dropped below */
    fg_gvar *g = calloc(1, sizeof *g);
    if (!g)
        return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult r = fg_global_alloc(decl->size, &g->ptr);
    if (r) {
        free(g);
        return r;
    }
    g->decl = decl;
    FG_LOCK();
    fg_gvar *have = NULL;
    int live = fg_handle_is(m, FG_H_MODULE);
    if (live)
        for (have = m->globals; have && have->decl != decl; have = have->next)
            ;
    if (live && !have) {
        g->next = m->globals;
        m->globals = g;
        *out = g->ptr;
    } else if (have) {
        *out = have->ptr;
    }
    FG_UNLOCK();
    if (!live || have) {
        fg_global_release(g->ptr);
        free(g);
        if (!live)
            return CUDA_ERROR_INVALID_HANDLE;
    }
    return CUDA_SUCCESS;
}

CUresult cuModuleGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name)
{
    fg_work_count_call();
    CUresult r = fg_check_ctx();
    if (r)
        return r;
    if (!name)
        return CUDA_ERROR_INVALID_VALUE;
    const fg_global *decl = fg_global_find(name);
    if (!decl) {
        FG_LOCK();
        int ok = fg_handle_is(hmod, FG_H_MODULE);
        FG_UNLOCK();
        return ok ? CUDA_ERROR_NOT_FOUND : CUDA_ERROR_INVALID_HANDLE;
    }
    CUdeviceptr p;
    if ((r = fg_gvar_get((fg_module *)hmod, decl, &p)))
        return r;
    if (dptr)
        *dptr = p;
    if (bytes)
        *bytes = decl->size;
    return CUDA_SUCCESS;
}

void *fg_global_ptr(const fg_launch *l, const char *name)
{
    const fg_global *decl = fg_global_find(name);
    CUdeviceptr p;
    if (!l || !decl || fg_gvar_get((fg_module *)(uintptr_t)l->module, decl, &p))
        return NULL;
    return (void *)(uintptr_t)p;
}
