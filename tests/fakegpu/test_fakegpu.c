/* test_fakegpu.c — unit tests of libgenie_fakecuda.so: memory, VMM, launches, faults, handles. */
#include <criterion/criterion.h>

#include <cuda.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fakegpu_twin.h"

#define OK(call) cr_assert_eq((call), CUDA_SUCCESS, "%s", #call)
#define MiB ((size_t)1 << 20)

static const uint32_t fake_fatbin[4] = {0xba55ed50u, 0x00100001u, 0, 0};

/* ---- twins registered by the test ---- */

/* vadd(const float *a, const float *b, float *c, int n): c = a + b, one thread per element. */
static int vadd_twin(const fg_launch *l, void **args)
{
    const float *a = *(const float **)args[0], *b = *(const float **)args[1];
    float *c = *(float **)args[2];
    int n = *(int *)args[3];
    unsigned long long threads = (unsigned long long)l->grid.x * l->block.x;
    for (unsigned long long i = 0; i < threads && i < (unsigned long long)n; i++)
        c[i] = a[i] + b[i];
    return 0;
}
FG_TWIN(vadd, "_Z4vaddPKfS0_Pfi", vadd_twin, 4, 8, 8, 8, 4)

/* poke(int *p): writes through whatever pointer it is given. */
static int poke_twin(const fg_launch *l, void **args)
{
    (void)l;
    volatile int *p = *(int **)args[0];
    *p = 42;
    return 0;
}
FG_TWIN(poke, "_Z4pokePi", poke_twin, 1, 8)

/* mixed(int, float *, float, double *) and (char, short, float4, int). */
static int nop_twin(const fg_launch *l, void **args)
{
    (void)l;
    (void)args;
    return 0;
}
FG_TWIN(mixed, "mixed", nop_twin, 4, 4, 8, 4, 8)
FG_TWIN(mixed2, "mixed2", nop_twin, 4, 1, 2, 16, 4)

static CUcontext ctx;

static void setup(void)
{
    CUdevice dev;
    OK(cuInit(0));
    OK(cuDeviceGet(&dev, 0));
    OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    OK(cuCtxSetCurrent(ctx));
}

static CUfunction get_func(CUmodule *mod, const char *name)
{
    CUfunction f;
    OK(cuModuleLoadData(mod, fake_fatbin));
    OK(cuModuleGetFunction(&f, *mod, name));
    return f;
}

/* ---- device, init ---- */

Test(fakegpu, not_initialized)
{
    int n;
    CUdeviceptr p;
    cr_assert_eq(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
    cr_assert_eq(cuMemAlloc(&p, 16), CUDA_ERROR_NOT_INITIALIZED);
    OK(cuDriverGetVersion(&n));
    cr_assert_eq(n, 13000);
    OK(cuInit(0));
    /* Initialised but no current context. */
    cr_assert_eq(cuMemAlloc(&p, 16), CUDA_ERROR_INVALID_CONTEXT);
}

Test(fakegpu, device_queries, .init = setup)
{
    int n, v;
    char name[64];
    size_t total;
    CUuuid uuid;
    OK(cuDeviceGetCount(&n));
    cr_assert_eq(n, 1);
    OK(cuDeviceGetName(name, sizeof name, 0));
    cr_assert_str_eq(name, "Genie fake GPU (CPU)");
    OK(cuDeviceTotalMem(&total, 0));
    cr_assert_eq(total, (size_t)16 << 30);
    OK(cuDeviceGetUuid(&uuid, 0));
    for (int a = 1; a < CU_DEVICE_ATTRIBUTE_MAX; a++)
        OK(cuDeviceGetAttribute(&v, (CUdevice_attribute)a, 0));
    cr_assert_eq(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX, 0), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuDeviceGetAttribute(&v, (CUdevice_attribute)0, 0), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 1),
                 CUDA_ERROR_INVALID_DEVICE);
    OK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0));
    cr_assert_eq(v, 9);
    OK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 0));
    cr_assert_eq(v, 232448);
    OK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 0));
    cr_assert_eq(v, 1);
    CUcontext cur;
    OK(cuCtxGetCurrent(&cur));
    cr_assert_eq(cur, ctx);
    OK(cuCtxSynchronize());
}

/* ---- memory ---- */

Test(fakegpu, alloc_free_info, .init = setup)
{
    size_t free0, free1, total;
    CUdeviceptr p;
    OK(cuMemGetInfo(&free0, &total));
    cr_assert_eq(free0, total);
    OK(cuMemAlloc(&p, 1 * MiB));
    OK(cuMemGetInfo(&free1, &total));
    cr_assert_eq(free0 - free1, 1 * MiB);
    OK(cuMemsetD8(p, 0x5a, 1 * MiB));
    unsigned char b[16];
    OK(cuMemcpyDtoH(b, p + 1000, sizeof b));
    cr_assert_eq(b[7], 0x5a);
    OK(cuMemFree(p));
    cr_assert_eq(cuMemFree(p), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemAlloc(&p, 0), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemAlloc(&p, total + 1), CUDA_ERROR_OUT_OF_MEMORY);
}

static CUmemAllocationProp dev_prop(void)
{
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof prop);
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    return prop;
}

Test(fakegpu, vmm_round_trip, .init = setup)
{
    CUmemAllocationProp prop = dev_prop();
    size_t gran;
    OK(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
    cr_assert_eq(gran, 2 * MiB);

    CUdeviceptr va;
    OK(cuMemAddressReserve(&va, 8 * MiB, 0, 0, 0));
    cr_assert_eq(va % gran, 0);
    CUmemGenericAllocationHandle h0, h1;
    OK(cuMemCreate(&h0, 2 * MiB, &prop, 0));
    OK(cuMemCreate(&h1, 2 * MiB, &prop, 0));
    size_t fr, tot;
    OK(cuMemGetInfo(&fr, &tot));
    cr_assert_eq(tot - fr, 4 * MiB);
    OK(cuMemMap(va, 2 * MiB, 0, h0, 0));
    OK(cuMemMap(va + 2 * MiB, 2 * MiB, 0, h1, 0));
    CUmemAccessDesc acc = {{CU_MEM_LOCATION_TYPE_DEVICE, 0}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    OK(cuMemSetAccess(va, 4 * MiB, &acc, 1));

    /* A copy straddling two adjacent mappings. */
    static uint32_t in[1 << 18], out[1 << 18];
    for (size_t i = 0; i < 1 << 18; i++)
        in[i] = (uint32_t)(i * 2654435761u);
    CUdeviceptr at = va + 2 * MiB - sizeof in / 2;
    OK(cuMemcpyHtoD(at, in, sizeof in));
    OK(cuMemcpyDtoH(out, at, sizeof out));
    cr_assert_eq(memcmp(in, out, sizeof in), 0);

    /* DtoD, async copies on a stream, memsets. */
    CUstream s;
    OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    OK(cuMemcpyDtoDAsync(va, at, 4096, s));
    OK(cuMemcpyDtoHAsync(out, va, 4096, s));
    cr_assert_eq(memcmp(in, out, 4096), 0);
    OK(cuMemsetD32Async(va, 0xdeadbeef, 16, s));
    OK(cuMemsetD8Async(va + 64, 0x11, 4, s));
    OK(cuMemcpyHtoDAsync(va + 68, in, 4, s));
    /* s is non-blocking: the legacy NULL stream's copy below does not wait for it */
    OK(cuStreamSynchronize(s));
    OK(cuMemcpyDtoD(va + 72, va + 68, 4));
    OK(cuMemcpyDtoH(out, va, 80));
    cr_assert_eq(out[0], 0xdeadbeef);
    cr_assert_eq(out[15], 0xdeadbeef);
    cr_assert_eq(out[16], 0x11111111);
    cr_assert_eq(out[17], in[0]);
    cr_assert_eq(out[18], in[0]);
    cr_assert_eq(cuMemsetD32Async(va + 2, 0, 4, s), CUDA_ERROR_INVALID_VALUE);

    /* Data lives in the allocation: unmap, map it elsewhere, read it back. */
    OK(cuMemUnmap(va, 2 * MiB));
    cr_assert_eq(cuMemcpyDtoH(out, va, 4), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemMap(va + 6 * MiB, 2 * MiB, 0, h0, 0));
    OK(cuMemSetAccess(va + 6 * MiB, 2 * MiB, &acc, 1)); /* a new mapping starts inaccessible */
    OK(cuMemcpyDtoH(out, va + 6 * MiB, 4));
    cr_assert_eq(out[0], 0xdeadbeef);

    OK(cuMemUnmap(va + 2 * MiB, 2 * MiB));
    OK(cuMemUnmap(va + 6 * MiB, 2 * MiB));
    OK(cuMemRelease(h0));
    OK(cuMemRelease(h1));
    OK(cuMemAddressFree(va, 8 * MiB));
    OK(cuMemGetInfo(&fr, &tot));
    cr_assert_eq(fr, tot);
    OK(cuStreamDestroy(s));
}

Test(fakegpu, vmm_address_hint, .init = setup)
{
    CUdeviceptr a, b;
    OK(cuMemAddressReserve(&a, 4 * MiB, 0, 0, 0));
    OK(cuMemAddressFree(a, 4 * MiB));
    /* A free hint is honoured; a taken one is not, but still yields a range. */
    OK(cuMemAddressReserve(&b, 4 * MiB, 0, a, 0));
    cr_assert_eq(b, a);
    OK(cuMemAddressReserve(&a, 4 * MiB, 0, b, 0));
    cr_assert_neq(a, b);
    OK(cuMemAddressFree(a, 4 * MiB));
    OK(cuMemAddressFree(b, 4 * MiB));
    cr_assert_eq(cuMemAddressFree(b, 4 * MiB), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemAddressReserve(&a, 3 * MiB, 0, 0, 0), CUDA_ERROR_INVALID_VALUE);
}

Test(fakegpu, vmm_rejects, .init = setup)
{
    CUmemAllocationProp prop = dev_prop();
    CUdeviceptr va;
    CUmemGenericAllocationHandle h;
    OK(cuMemAddressReserve(&va, 4 * MiB, 0, 0, 0));
    OK(cuMemCreate(&h, 4 * MiB, &prop, 0));
    /* Outside any reservation: an mmap of our own, 2 MiB aligned. */
    char *raw = mmap(NULL, 8 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(raw, MAP_FAILED);
    CUdeviceptr outside = ((CUdeviceptr)(uintptr_t)raw + 2 * MiB - 1) & ~(CUdeviceptr)(2 * MiB - 1);
    cr_assert_eq(cuMemMap(outside, 2 * MiB, 0, h, 0), CUDA_ERROR_INVALID_VALUE);
    /* Running past the end of the reservation, misaligned, past the handle's size. */
    cr_assert_eq(cuMemMap(va + 2 * MiB, 4 * MiB, 0, h, 0), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemMap(va + 4096, 2 * MiB, 0, h, 0), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemMap(va, 4 * MiB, 2 * MiB, h, 0), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemMap(va, 2 * MiB, 0, (CUmemGenericAllocationHandle)(uintptr_t)&prop, 0),
                 CUDA_ERROR_INVALID_HANDLE);
    /* Reserved but not mapped: copies and memsets fail cleanly. */
    int x = 0;
    cr_assert_eq(cuMemcpyHtoD(va, &x, sizeof x), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemsetD8(va, 0, 16), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemMap(va, 2 * MiB, 0, h, 0));
    cr_assert_eq(cuMemMap(va, 2 * MiB, 2 * MiB, h, 0),
                 CUDA_ERROR_INVALID_VALUE); /* already mapped */
    CUmemAccessDesc acc = {{CU_MEM_LOCATION_TYPE_DEVICE, 0}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    OK(cuMemSetAccess(va, 2 * MiB, &acc, 1));
    OK(cuMemcpyHtoD(va, &x, sizeof x));
    /* A copy running off the end of the mapping, unmapping a partial range. */
    cr_assert_eq(cuMemcpyHtoD(va + 2 * MiB - 2, &x, sizeof x), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemUnmap(va, 1 * MiB), CUDA_ERROR_INVALID_VALUE);
    /* Bogus device pointers, and a bogus host pointer on the host side (caught by the guard). */
    cr_assert_eq(cuMemcpyDtoH(&x, (CUdeviceptr)0x10, 4), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemcpyDtoD(va, outside, 4), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemsetD32Async(outside, 1, 4, NULL), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemcpyDtoH(raw, va, 4), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemcpyHtoD(va, raw, 4), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemUnmap(va, 2 * MiB));
    OK(cuMemRelease(h));
    OK(cuMemAddressFree(va, 4 * MiB));
    munmap(raw, 8 * MiB);
}

/* "All mappings start with no accessibility setup" (cuMemUnmap/cuMemMap docs): until
 * cuMemSetAccess, copies and kernels touching a mapping fail; access is per mapping and a
 * remap starts without it again. */
Test(fakegpu, vmm_access_required, .init = setup)
{
    CUmemAllocationProp prop = dev_prop();
    CUdeviceptr va;
    CUmemGenericAllocationHandle h;
    OK(cuMemAddressReserve(&va, 4 * MiB, 0, 0, 0));
    OK(cuMemCreate(&h, 2 * MiB, &prop, 0));
    OK(cuMemMap(va, 2 * MiB, 0, h, 0));
    int x = 7, y = 0;
    cr_assert_neq(cuMemcpyHtoD(va, &x, sizeof x), CUDA_SUCCESS);
    cr_assert_neq(cuMemcpyDtoH(&y, va, sizeof y), CUDA_SUCCESS);
    cr_assert_neq(cuMemsetD8(va, 0, 16), CUDA_SUCCESS);
    CUmodule m;
    CUfunction f = get_func(&m, "_Z4pokePi");
    void *args[] = {&va};
    OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL)); /* faults later, */
    cr_assert_eq(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);   /* seen at the next sync */
    /* Read-only: reads work, writes do not. */
    CUmemAccessDesc ro = {{CU_MEM_LOCATION_TYPE_DEVICE, 0}, CU_MEM_ACCESS_FLAGS_PROT_READ};
    OK(cuMemSetAccess(va, 2 * MiB, &ro, 1));
    OK(cuMemcpyDtoH(&y, va, sizeof y));
    cr_assert_eq(y, 0);
    cr_assert_neq(cuMemcpyHtoD(va, &x, sizeof x), CUDA_SUCCESS);
    OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL)); /* faults later, */
    cr_assert_eq(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);   /* seen at the next sync */
    CUmemAccessDesc rw = {{CU_MEM_LOCATION_TYPE_DEVICE, 0}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    OK(cuMemSetAccess(va, 2 * MiB, &rw, 1));
    OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
    OK(cuMemcpyDtoH(&y, va, sizeof y));
    cr_assert_eq(y, 42);
    /* Access cannot be set on a range that is not wholly mapped, nor for another device. */
    cr_assert_eq(cuMemSetAccess(va, 4 * MiB, &rw, 1), CUDA_ERROR_INVALID_VALUE);
    CUmemAccessDesc dev1 = {{CU_MEM_LOCATION_TYPE_DEVICE, 1}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    cr_assert_eq(cuMemSetAccess(va, 2 * MiB, &dev1, 1), CUDA_ERROR_INVALID_DEVICE);
    /* Unmap and map again: the data is still there, the access is not. */
    OK(cuMemUnmap(va, 2 * MiB));
    OK(cuMemMap(va + 2 * MiB, 2 * MiB, 0, h, 0));
    cr_assert_neq(cuMemcpyDtoH(&y, va + 2 * MiB, sizeof y), CUDA_SUCCESS);
    OK(cuMemSetAccess(va + 2 * MiB, 2 * MiB, &rw, 1));
    OK(cuMemcpyDtoH(&y, va + 2 * MiB, sizeof y));
    cr_assert_eq(y, 42);
    OK(cuMemUnmap(va + 2 * MiB, 2 * MiB));
    OK(cuMemRelease(h));
    OK(cuMemAddressFree(va, 4 * MiB));
    OK(cuModuleUnload(m));
}

/* The documented teardown order is unmap, release, then free the reservation; the fake
 * refuses to free a reservation that still holds a mapping, and a size other than the
 * reserved one. */
Test(fakegpu, vmm_address_free_needs_unmap, .init = setup)
{
    CUmemAllocationProp prop = dev_prop();
    CUdeviceptr va;
    CUmemGenericAllocationHandle h;
    OK(cuMemAddressReserve(&va, 4 * MiB, 0, 0, 0));
    OK(cuMemCreate(&h, 2 * MiB, &prop, 0));
    OK(cuMemMap(va + 2 * MiB, 2 * MiB, 0, h, 0));
    OK(cuMemRelease(h)); /* legal while mapped: the mapping keeps the memory */
    cr_assert_eq(cuMemAddressFree(va, 4 * MiB), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuMemAddressFree(va, 2 * MiB), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemUnmap(va + 2 * MiB, 2 * MiB));
    OK(cuMemAddressFree(va, 4 * MiB));
}

/* The NULL stream belongs to the calling thread's current context: without one, ops on it
 * fail with CUDA_ERROR_INVALID_CONTEXT; ops on a created stream need only cuInit. */
typedef struct noctx_args {
    CUfunction f;
    CUstream s;
    CUevent e;
    CUdeviceptr p;
} noctx_args;

static void *noctx_thread(void *arg)
{
    noctx_args *a = arg;
    CUcontext cur = (CUcontext)1;
    OK(cuCtxGetCurrent(&cur));
    cr_assert_null(cur, "a new thread has no current context");
    void *args[] = {&a->p};
    cr_assert_eq(cuStreamSynchronize(NULL), CUDA_ERROR_INVALID_CONTEXT);
    cr_assert_eq(cuStreamQuery(NULL), CUDA_ERROR_INVALID_CONTEXT);
    cr_assert_eq(cuStreamSynchronize(CU_STREAM_LEGACY), CUDA_ERROR_INVALID_CONTEXT);
    cr_assert_eq(cuEventRecord(a->e, NULL), CUDA_ERROR_INVALID_CONTEXT);
    cr_assert_eq(cuStreamWaitEvent(NULL, a->e, 0), CUDA_ERROR_INVALID_CONTEXT);
    cr_assert_eq(cuLaunchKernel(a->f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL),
                 CUDA_ERROR_INVALID_CONTEXT);
    int x = 1;
    cr_assert_eq(cuMemcpyHtoD(a->p, &x, sizeof x), CUDA_ERROR_INVALID_CONTEXT);
    CUstream s2;
    cr_assert_eq(cuStreamCreate(&s2, 0), CUDA_ERROR_INVALID_CONTEXT);
    OK(cuStreamSynchronize(a->s));
    OK(cuEventRecord(a->e, a->s));
    OK(cuStreamWaitEvent(a->s, a->e, 0));
    OK(cuEventSynchronize(a->e));
    /* Once the context is current, everything works. */
    OK(cuCtxSetCurrent(ctx));
    OK(cuStreamSynchronize(NULL));
    OK(cuLaunchKernel(a->f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
    OK(cuEventRecord(a->e, NULL));
    return NULL;
}

Test(fakegpu, null_stream_needs_current_context, .init = setup)
{
    noctx_args a;
    CUmodule m;
    a.f = get_func(&m, "_Z4pokePi");
    OK(cuStreamCreate(&a.s, 0));
    OK(cuEventCreate(&a.e, 0));
    OK(cuMemAlloc(&a.p, 4));
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, noctx_thread, &a), 0);
    pthread_join(t, NULL);
    int v = 0;
    OK(cuMemcpyDtoH(&v, a.p, sizeof v));
    cr_assert_eq(v, 42);
    OK(cuMemFree(a.p));
    OK(cuEventDestroy(a.e));
    OK(cuStreamDestroy(a.s));
    OK(cuModuleUnload(m));
}

/* ---- modules and launches ---- */

Test(fakegpu, module_images, .init = setup)
{
    CUmodule m;
    CUfunction f;
    static const uint32_t wrapper[4] = {0x466243b1u, 1, 0, 0};
    static const char elf[8] = "\177ELF";
    cr_assert_eq(cuModuleLoadData(&m, NULL), CUDA_ERROR_INVALID_IMAGE);
    cr_assert_eq(cuModuleLoadData(&m, elf), CUDA_ERROR_INVALID_IMAGE);
    OK(cuModuleLoadFatBinary(&m, wrapper));
    cr_assert_eq(cuModuleGetFunction(&f, m, "_Z9no_suchv"), CUDA_ERROR_NOT_FOUND);
    OK(cuModuleGetFunction(&f, m, "_Z4vaddPKfS0_Pfi"));
    const char *name;
    OK(cuFuncGetName(&name, f));
    cr_assert_str_eq(name, "_Z4vaddPKfS0_Pfi");
    CUdeviceptr g;
    size_t gb;
    cr_assert_eq(cuModuleGetGlobal(&g, &gb, m, "sym"), CUDA_ERROR_NOT_FOUND);
    OK(cuModuleUnload(m));
    /* The function died with its module. */
    cr_assert_eq(cuFuncGetName(&name, f), CUDA_ERROR_INVALID_HANDLE);
    cr_assert_eq(cuModuleUnload(m), CUDA_ERROR_INVALID_HANDLE);
}

static void run_vadd(CUfunction f, CUstream s, int n)
{
    size_t bytes = (size_t)n * sizeof(float);
    CUdeviceptr a, b, c;
    OK(cuMemAlloc(&a, bytes));
    OK(cuMemAlloc(&b, bytes));
    OK(cuMemAlloc(&c, bytes));
    float *ha = malloc(bytes), *hb = malloc(bytes), *hc = malloc(bytes);
    for (int i = 0; i < n; i++) {
        ha[i] = (float)i;
        hb[i] = 0.5f * (float)i;
    }
    OK(cuMemcpyHtoDAsync(a, ha, bytes, s));
    OK(cuMemcpyHtoDAsync(b, hb, bytes, s));
    void *args[] = {&a, &b, &c, &n};
    OK(cuLaunchKernel(f, (unsigned)(n + 255) / 256, 1, 1, 256, 1, 1, 0, s, args, NULL));
    OK(cuMemcpyDtoHAsync(hc, c, bytes, s));
    OK(cuStreamSynchronize(s));
    for (int i = 0; i < n; i++)
        cr_assert_eq(hc[i], 1.5f * (float)i);
    free(ha);
    free(hb);
    free(hc);
    OK(cuMemFree(a));
    OK(cuMemFree(b));
    OK(cuMemFree(c));
}

Test(fakegpu, launch_vadd, .init = setup)
{
    CUmodule m;
    CUfunction f = get_func(&m, "_Z4vaddPKfS0_Pfi");
    run_vadd(f, NULL, 1000);
    int v;
    OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f));
    cr_assert_eq(v, 1024);
    OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, f));
    cr_assert_eq(v, 32);
    OK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&v, f, 256, 0));
    cr_assert_eq(v, 8);
    OK(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&v, f, 32, 0, 0));
    cr_assert_eq(v, 32);
    OK(cuModuleUnload(m));
}

Test(fakegpu, param_info, .init = setup)
{
    CUmodule m;
    CUfunction f = get_func(&m, "mixed");
    size_t off, sz;
    static const size_t want[4][2] = {{0, 4}, {8, 8}, {16, 4}, {24, 8}};
    for (size_t i = 0; i < 4; i++) {
        OK(cuFuncGetParamInfo(f, i, &off, &sz));
        cr_assert_eq(off, want[i][0], "param %zu offset %zu", i, off);
        cr_assert_eq(sz, want[i][1]);
    }
    cr_assert_eq(cuFuncGetParamInfo(f, 4, &off, &sz), CUDA_ERROR_INVALID_VALUE);
    CUfunction g;
    OK(cuModuleGetFunction(&g, m, "mixed2"));
    static const size_t want2[4] = {0, 2, 16, 32}; /* char, short, float4 (align 16), int */
    for (size_t i = 0; i < 4; i++) {
        OK(cuFuncGetParamInfo(g, i, &off, NULL));
        cr_assert_eq(off, want2[i], "param %zu offset %zu", i, off);
    }
    OK(cuModuleUnload(m));
}

Test(fakegpu, launch_config_rejected, .init = setup)
{
    CUmodule m;
    CUfunction f = get_func(&m, "_Z4vaddPKfS0_Pfi");
    CUdeviceptr p = 0;
    int n = 0;
    void *args[] = {&p, &p, &p, &n};
    const CUresult E = CUDA_ERROR_INVALID_VALUE;
    cr_assert_eq(cuLaunchKernel(f, 1, 1, 1, 1025, 1, 1, 0, NULL, args, NULL), E);
    cr_assert_eq(cuLaunchKernel(f, 1, 1, 1, 32, 32, 2, 0, NULL, args, NULL), E);
    cr_assert_eq(cuLaunchKernel(f, 1, 1, 1, 1, 1, 65, 0, NULL, args, NULL), E);
    cr_assert_eq(cuLaunchKernel(f, 0, 1, 1, 32, 1, 1, 0, NULL, args, NULL), E);
    cr_assert_eq(cuLaunchKernel(f, 1, 65536, 1, 32, 1, 1, 0, NULL, args, NULL), E);
    cr_assert_eq(cuLaunchKernel(f, 1, 1, 65536, 32, 1, 1, 0, NULL, args, NULL), E);
    cr_assert_eq(cuLaunchKernel(f, 1, 1, 1, 0, 1, 1, 0, NULL, args, NULL), E);
    cr_assert_eq(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL), E);
    /* Dynamic shared memory above 48 KiB needs the opt-in attribute, and never above 227 KiB. */
    cr_assert_eq(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 64 * 1024, NULL, args, NULL), E);
    cr_assert_eq(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 232449), E);
    cr_assert_eq(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_NUM_REGS, 10), E);
    OK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 232448));
    OK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 64 * 1024, NULL, args, NULL));
    cr_assert_eq(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 232448 + 1, NULL, args, NULL), E);
    void *extra[] = {CU_LAUNCH_PARAM_END};
    cr_assert_eq(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, extra),
                 CUDA_ERROR_NOT_SUPPORTED);
    /* The largest legal shapes go through. */
    OK(cuLaunchKernel(f, 2147483647u, 65535, 65535, 1024, 1, 1, 0, NULL, args, NULL));
    OK(cuLaunchKernel(f, 1, 1, 1, 16, 1, 64, 0, NULL, args, NULL));
    OK(cuModuleUnload(m));
}

Test(fakegpu, faulting_twin_survives, .init = setup)
{
    CUmodule m;
    CUfunction f = get_func(&m, "_Z4pokePi");
    CUdeviceptr bad = 0x10, va, ok;
    void *args[] = {&bad};
    OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL)); /* faults later, */
    cr_assert_eq(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);   /* seen at the next sync */
    /* A freed allocation and a reserved-but-unmapped range fault the same way. */
    OK(cuMemAlloc(&bad, 4096));
    OK(cuMemFree(bad));
    OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL)); /* faults later, */
    cr_assert_eq(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);   /* seen at the next sync */
    OK(cuMemAddressReserve(&va, 2 * MiB, 0, 0, 0));
    bad = va;
    OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL)); /* faults later, */
    cr_assert_eq(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);   /* seen at the next sync */
    /* The process and the fake GPU still work. */
    OK(cuMemAlloc(&ok, 4096));
    args[0] = &ok;
    OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
    int v = 0;
    OK(cuMemcpyDtoH(&v, ok, sizeof v));
    cr_assert_eq(v, 42);
    OK(cuMemFree(ok));
    OK(cuModuleUnload(m));
}

/* GENIE_FAKE_STICKY=1: a kernel fault corrupts the context as on the GPU: every later
 * context-bound call returns the fault's code, device queries still answer, and the
 * context is usable again only once every reference to it was released. */
static void setup_sticky(void)
{
    setenv("GENIE_FAKE_STICKY", "1", 1);
    setup();
}

Test(fakegpu, sticky_fault_poisons_the_context, .init = setup_sticky)
{
    CUmodule m;
    CUfunction f = get_func(&m, "_Z4pokePi");
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    CUevent e;
    OK(cuEventCreate(&e, 0));
    CUdeviceptr bad = 0x10, p, q;
    OK(cuMemAlloc(&p, 4));
    void *args[] = {&bad};
    const CUresult ia = CUDA_ERROR_ILLEGAL_ADDRESS;
    OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, args, NULL)); /* the fault comes later */
    cr_assert_eq(cuCtxSynchronize(), ia);
    cr_assert_eq(cuStreamSynchronize(s), ia);
    cr_assert_eq(cuStreamSynchronize(NULL), ia);
    cr_assert_eq(cuEventRecord(e, s), ia);
    cr_assert_eq(cuEventSynchronize(e), ia);
    cr_assert_eq(cuMemAlloc(&q, 4), ia);
    int x = 0;
    cr_assert_eq(cuMemcpyDtoH(&x, p, sizeof x), ia);
    size_t off, sz;
    cr_assert_eq(cuFuncGetParamInfo(f, 0, &off, &sz), ia);
    CUfunction f2; /* a host-side lookup (lazy loading) still answers; using it does not */
    OK(cuModuleGetFunction(&f2, m, "_Z4vaddPKfS0_Pfi"));
    cr_assert_eq(cuFuncGetParamInfo(f2, 0, &off, &sz), ia);
    args[0] = &p;
    cr_assert_eq(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL), ia);
    int v;
    OK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0));
    /* Handles can still be destroyed. */
    OK(cuEventDestroy(e));
    OK(cuStreamDestroy(s));
    OK(cuModuleUnload(m));
    /* Releasing the last reference ends the context; a new one is healthy. */
    OK(cuDevicePrimaryCtxRelease(0));
    OK(cuDevicePrimaryCtxRetain(&ctx, 0));
    OK(cuCtxSetCurrent(ctx));
    OK(cuCtxSynchronize());
    OK(cuMemcpyDtoH(&x, p, sizeof x));
}

/* A fault outside any guard still reaches the handler that was there before ours. */
static void prior_handler(int sig)
{
    (void)sig;
    _exit(77);
}

Test(fakegpu, fault_outside_twin_is_not_swallowed, .init = setup, .exit_code = 77)
{
    signal(SIGSEGV, prior_handler);
    CUmodule m;
    CUfunction f = get_func(&m, "_Z4pokePi");
    CUdeviceptr bad = 0x10;
    void *args[] = {&bad};
    OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL)); /* faults later, */
    cr_assert_eq(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);   /* seen at the next sync */
    *(volatile int *)(uintptr_t)bad = 1;
    cr_assert_fail("the fault was swallowed");
}

/* ---- streams and events ---- */

Test(fakegpu, events, .init = setup)
{
    CUevent a, b, nt;
    CUstream s;
    float ms = -1;
    OK(cuStreamCreateWithPriority(&s, 0, -3));
    int prio;
    OK(cuStreamGetPriority(s, &prio));
    cr_assert_eq(prio, -3);
    OK(cuEventCreate(&a, CU_EVENT_DEFAULT));
    OK(cuEventCreate(&b, CU_EVENT_BLOCKING_SYNC));
    OK(cuEventCreate(&nt, CU_EVENT_DISABLE_TIMING));
    cr_assert_eq(cuEventElapsedTime(&ms, a, b), CUDA_ERROR_INVALID_HANDLE); /* unrecorded */
    OK(cuEventRecord(a, s));
    OK(cuEventRecord(b, s));
    OK(cuEventSynchronize(b));
    OK(cuEventQuery(b));
    OK(cuStreamWaitEvent(NULL, b, 0));
    OK(cuStreamQuery(s));
    OK(cuEventElapsedTime(&ms, a, b));
    cr_assert_geq(ms, 0.0f);
    OK(cuEventRecord(nt, CU_STREAM_LEGACY));
    cr_assert_eq(cuEventElapsedTime(&ms, a, nt), CUDA_ERROR_INVALID_HANDLE);
    OK(cuEventDestroy(a));
    OK(cuEventDestroy(b));
    OK(cuEventDestroy(nt));
    OK(cuStreamDestroy(s));
}

/* ---- errors and handles ---- */

Test(fakegpu, error_names)
{
    static const struct {
        CUresult e;
        const char *name, *msg;
    } want[] = {
        {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
        {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
        {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
        {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
        {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS",
         "an illegal memory access was encountered"},
        {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
    };
    const char *s;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        OK(cuGetErrorName(want[i].e, &s));
        cr_assert_str_eq(s, want[i].name);
        OK(cuGetErrorString(want[i].e, &s));
        cr_assert_str_eq(s, want[i].msg);
    }
    static const int common[] = {0,   1,   2,   3,   100, 101, 200, 201,
                                 300, 400, 500, 600, 700, 719, 801, 999};
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
        OK(cuGetErrorName((CUresult)common[i], &s));
        OK(cuGetErrorString((CUresult)common[i], &s));
    }
    cr_assert_eq(cuGetErrorName((CUresult)12345, &s), CUDA_ERROR_INVALID_VALUE);
    cr_assert_null(s);
}

Test(fakegpu, invalid_handles, .init = setup)
{
    long junk[16] = {0};
    CUstream s;
    CUevent e;
    float ms;
    cr_assert_eq(cuStreamSynchronize((CUstream)junk), CUDA_ERROR_INVALID_HANDLE);
    cr_assert_eq(cuStreamDestroy((CUstream)junk), CUDA_ERROR_INVALID_HANDLE);
    cr_assert_eq(cuStreamDestroy(NULL), CUDA_ERROR_INVALID_HANDLE);
    OK(cuStreamCreate(&s, 0));
    OK(cuStreamDestroy(s));
    cr_assert_eq(cuStreamQuery(s), CUDA_ERROR_INVALID_HANDLE); /* destroyed */
    cr_assert_eq(cuEventRecord((CUevent)junk, NULL), CUDA_ERROR_INVALID_HANDLE);
    cr_assert_eq(cuEventElapsedTime(&ms, (CUevent)junk, (CUevent)junk), CUDA_ERROR_INVALID_HANDLE);
    OK(cuEventCreate(&e, 0));
    cr_assert_eq(cuEventRecord(e, (CUstream)junk), CUDA_ERROR_INVALID_HANDLE);
    cr_assert_eq(cuStreamWaitEvent((CUstream)junk, e, 0), CUDA_ERROR_INVALID_HANDLE);
    OK(cuEventDestroy(e));
    cr_assert_eq(cuEventDestroy(e), CUDA_ERROR_INVALID_HANDLE);
    CUfunction f;
    cr_assert_eq(cuModuleGetFunction(&f, (CUmodule)junk, "_Z4pokePi"), CUDA_ERROR_INVALID_HANDLE);
    cr_assert_eq(cuModuleUnload((CUmodule)junk), CUDA_ERROR_INVALID_HANDLE);
    cr_assert_eq(cuLaunchKernel((CUfunction)junk, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL),
                 CUDA_ERROR_INVALID_HANDLE);
    size_t off;
    cr_assert_eq(cuFuncGetParamInfo((CUfunction)junk, 0, &off, NULL), CUDA_ERROR_INVALID_HANDLE);
    cr_assert_eq(cuMemRelease((CUmemGenericAllocationHandle)(uintptr_t)junk),
                 CUDA_ERROR_INVALID_HANDLE);
    cr_assert_eq(cuCtxSetCurrent((CUcontext)junk), CUDA_ERROR_INVALID_CONTEXT);
    CUmodule m;
    f = get_func(&m, "_Z4pokePi");
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 4));
    void *args[] = {&p};
    cr_assert_eq(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, (CUstream)junk, args, NULL),
                 CUDA_ERROR_INVALID_HANDLE);
    OK(cuMemFree(p));
    OK(cuModuleUnload(m));
}

/* ---- threads ---- */

static void *worker(void *arg)
{
    CUfunction f = arg;
    OK(cuCtxSetCurrent(ctx)); /* the current context is per thread */
    CUstream s;
    OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    for (int i = 0; i < 200; i++)
        run_vadd(f, (i & 1) ? s : NULL, 257 + i);
    OK(cuStreamDestroy(s));
    return NULL;
}

Test(fakegpu, two_threads_launch, .init = setup)
{
    CUmodule m;
    CUfunction f = get_func(&m, "_Z4vaddPKfS0_Pfi");
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, worker, f), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    size_t fr, tot;
    OK(cuMemGetInfo(&fr, &tot));
    cr_assert_eq(fr, tot);
    OK(cuModuleUnload(m));
}
