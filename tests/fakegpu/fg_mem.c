/* fg_mem.c — fake device memory in host memory: cuMemAlloc, VMM, copies and memsets. */
#define _GNU_SOURCE /* memfd_create, MAP_FIXED_NOREPLACE */
#include "fakegpu_int.h"
#include "fakegpu_work.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Accessible device ranges (cuMemAlloc blocks and cuMemMap mappings), sorted by base and
 * disjoint, so a copy's range check is a binary search. */
enum { FG_R_ALLOC = 1, FG_R_MAP, FG_R_GLOBAL };
typedef struct fg_range {
    uintptr_t base;
    size_t size;
    int kind;
    int prot; /* PROT_* the device has: a mapping starts with none (cuMemSetAccess) */
} fg_range;
static fg_range *fg_ranges;
static size_t fg_nranges, fg_capranges;

/* VA reservations (cuMemAddressReserve): few, so a plain array. */
typedef struct fg_resv {
    uintptr_t base;
    size_t size;
} fg_resv;
static fg_resv *fg_resvs;
static size_t fg_nresvs, fg_capresvs;

/* Physical memory (cuMemCreate): a memfd, so every mapping of one handle aliases the same
 * pages, and data survives unmap/remap as on the GPU. */
typedef struct fg_mem {
    int fd;
    size_t size;
} fg_mem;

static size_t fg_used; /* bytes of cuMemAlloc + cuMemCreate, for cuMemGetInfo */

static int fg_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? 2 * *cap : 64;
    void *p = realloc(*arr, nc * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

/* Index of the first range whose base is > p. */
static size_t fg_upper(uintptr_t p)
{
    size_t lo = 0, hi = fg_nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fg_ranges[mid].base <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Does any range intersect [p, p+n)? */
static int fg_overlaps(uintptr_t p, size_t n)
{
    size_t i = fg_upper(p);
    if (i > 0 && fg_ranges[i - 1].base + fg_ranges[i - 1].size > p)
        return 1;
    return i < fg_nranges && fg_ranges[i].base < p + n;
}

static int fg_range_insert(uintptr_t base, size_t size, int kind)
{
    if (fg_grow((void **)&fg_ranges, &fg_capranges, fg_nranges, sizeof *fg_ranges))
        return -1;
    size_t i = fg_upper(base);
    memmove(&fg_ranges[i + 1], &fg_ranges[i], (fg_nranges - i) * sizeof *fg_ranges);
    fg_ranges[i] = (fg_range){base, size, kind, kind == FG_R_MAP ? PROT_NONE : PROT_READ | PROT_WRITE};
    fg_nranges++;
    return 0;
}

static void fg_range_remove(size_t i)
{
    memmove(&fg_ranges[i], &fg_ranges[i + 1], (fg_nranges - i - 1) * sizeof *fg_ranges);
    fg_nranges--;
}

/* Caller holds fg_lock. If [p, p+n) is covered by contiguous ranges of one kind (any
 * kind when kind is 0), returns the index of the first one, else -1. */
static long fg_covered(uintptr_t p, size_t n, int kind)
{
    if (n == 0 || p + n < p)
        return -1;
    size_t i = fg_upper(p);
    if (i == 0)
        return -1;
    size_t first = --i;
    uintptr_t end = p + n;
    uintptr_t cur = fg_ranges[i].base + fg_ranges[i].size;
    if (cur <= p || (kind && fg_ranges[i].kind != kind))
        return -1;
    while (cur < end) {
        if (++i >= fg_nranges || fg_ranges[i].base != cur || (kind && fg_ranges[i].kind != kind))
            return -1;
        cur += fg_ranges[i].size;
    }
    return (long)first;
}

int fg_dev_range_ok(CUdeviceptr p, size_t n)
{
    FG_LOCK();
    int ok = fg_covered((uintptr_t)p, n, 0) >= 0;
    FG_UNLOCK();
    return ok;
}

/* Does [p, p+n) lie in device memory the device may access with prot? Copies check this at
 * the call, as the driver validates a copy's range, so a copy into a mapping without access
 * fails there rather than on a worker. */
static int fg_dev_access_ok(uintptr_t p, size_t n, int prot)
{
    FG_LOCK();
    long i = fg_covered(p, n, 0);
    int ok = i >= 0;
    for (size_t k = (size_t)i; ok && k < fg_nranges && fg_ranges[k].base < p + n; k++)
        ok = (fg_ranges[k].prot & prot) == prot;
    FG_UNLOCK();
    return ok;
}

static fg_resv *fg_resv_containing(uintptr_t p, size_t n)
{
    for (size_t i = 0; i < fg_nresvs; i++)
        if (p >= fg_resvs[i].base && p + n >= p && p + n <= fg_resvs[i].base + fg_resvs[i].size)
            return &fg_resvs[i];
    return NULL;
}

static size_t fg_page(void)
{
    return (size_t)sysconf(_SC_PAGESIZE); /* glibc answers from a cached value */
}

/* ---- cuMemAlloc / cuMemFree / cuMemGetInfo ---- */

/* Zero-filled pages of their own, counted as used memory, as a device range of kind. */
static CUresult fg_anon_alloc(size_t bytes, int kind, CUdeviceptr *out)
{
    size_t pg = fg_page();
    if (bytes > SIZE_MAX - pg)
        return CUDA_ERROR_OUT_OF_MEMORY;
    size_t size = (bytes + pg - 1) & ~(pg - 1);
    FG_LOCK();
    if (size > fg_total_mem - fg_used) {
        FG_UNLOCK();
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || fg_range_insert((uintptr_t)p, size, kind)) {
        if (p != MAP_FAILED)
            munmap(p, size);
        FG_UNLOCK();
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    fg_used += size;
    FG_UNLOCK();
    *out = (CUdeviceptr)(uintptr_t)p;
    return CUDA_SUCCESS;
}

/* Removes the range of kind starting exactly at p and frees its pages. Caller holds fg_lock. */
static int fg_anon_free_locked(uintptr_t p, int kind)
{
    size_t i = fg_upper(p);
    if (i == 0 || fg_ranges[i - 1].base != p || fg_ranges[i - 1].kind != kind)
        return -1;
    fg_range g = fg_ranges[i - 1];
    fg_range_remove(i - 1);
    fg_used -= g.size;
    munmap((void *)g.base, g.size);
    return 0;
}

CUresult cuMemAlloc(CUdeviceptr *dptr, size_t bytesize)
{
    fg_work_count_call();
    CUresult r = fg_check_ctx();
    if (r)
        return r;
    if (!dptr || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    return fg_anon_alloc(bytesize, FG_R_ALLOC, dptr);
}

/* A module's device variable: not cuMemFree'able; the module frees it when it is unloaded. */
CUresult fg_global_alloc(size_t bytes, CUdeviceptr *out)
{
    return bytes ? fg_anon_alloc(bytes, FG_R_GLOBAL, out) : CUDA_ERROR_INVALID_VALUE;
}

void fg_global_release(CUdeviceptr ptr)
{
    FG_LOCK();
    (void)fg_anon_free_locked((uintptr_t)ptr, FG_R_GLOBAL);
    FG_UNLOCK();
}

/* Like the driver's, it waits for the work already queued (which may still use the memory). */
CUresult cuMemFree(CUdeviceptr dptr)
{
    fg_work_count_call();
    CUresult r = fg_check_ctx();
    if (r || (r = fg_sched_wait_all()))
        return r;
    FG_LOCK();
    int bad = fg_anon_free_locked((uintptr_t)dptr, FG_R_ALLOC);
    FG_UNLOCK();
    return bad ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

CUresult cuMemGetInfo(size_t *free, size_t *total)
{
    fg_work_count_call();
    CUresult r = fg_check_ctx();
    if (r)
        return r;
    if (!free || !total)
        return CUDA_ERROR_INVALID_VALUE;
    FG_LOCK();
    *free = fg_total_mem - fg_used;
    *total = fg_total_mem;
    FG_UNLOCK();
    return CUDA_SUCCESS;
}

/* ---- Virtual memory management ---- */

static int fg_prop_ok(const CUmemAllocationProp *prop)
{
    return prop && prop->type == CU_MEM_ALLOCATION_TYPE_PINNED &&
           prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE && prop->location.id == 0;
}

CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                       CUmemAllocationGranularity_flags option)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    if (!granularity || !fg_prop_ok(prop) ||
        (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM &&
         option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED))
        return CUDA_ERROR_INVALID_VALUE;
    *granularity = FG_GRANULARITY;
    return CUDA_SUCCESS;
}

/* PROT_NONE + MAP_NORESERVE: a reservation costs address space only. A nonzero addr is a
 * hint, as on the real driver: when it cannot be honoured we return another range. */
CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
                             unsigned long long flags)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    if (!ptr || size == 0 || size % FG_GRANULARITY || flags != 0 || (alignment & (alignment - 1)))
        return CUDA_ERROR_INVALID_VALUE;
    if (alignment < FG_GRANULARITY)
        alignment = FG_GRANULARITY;
    const int mf = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    void *p = MAP_FAILED;
    if (addr && addr % alignment == 0) {
        p = mmap((void *)(uintptr_t)addr, size, PROT_NONE, mf | MAP_FIXED_NOREPLACE, -1, 0);
        /* Kernels before 4.17 treat the flag as a plain hint. */
        if (p != MAP_FAILED && p != (void *)(uintptr_t)addr) {
            munmap(p, size);
            p = MAP_FAILED;
        }
    }
    if (p == MAP_FAILED) {
        if (size > SIZE_MAX - alignment)
            return CUDA_ERROR_OUT_OF_MEMORY;
        /* Over-reserve, then trim to an aligned window. */
        char *raw = mmap(NULL, size + alignment, PROT_NONE, mf, -1, 0);
        if (raw == MAP_FAILED)
            return CUDA_ERROR_OUT_OF_MEMORY;
        uintptr_t a = ((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1);
        if (a > (uintptr_t)raw)
            munmap(raw, a - (uintptr_t)raw);
        size_t tail = (uintptr_t)raw + size + alignment - (a + size);
        if (tail)
            munmap((void *)(a + size), tail);
        p = (void *)a;
    }
    FG_LOCK();
    if (fg_grow((void **)&fg_resvs, &fg_capresvs, fg_nresvs, sizeof *fg_resvs)) {
        FG_UNLOCK();
        munmap(p, size);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    fg_resvs[fg_nresvs++] = (fg_resv){(uintptr_t)p, size};
    FG_UNLOCK();
    *ptr = (CUdeviceptr)(uintptr_t)p;
    return CUDA_SUCCESS;
}

/* ptr and size must be exactly what cuMemAddressReserve gave. A range that still holds
 * mappings is refused: the documented order is cuMemUnmap, then cuMemAddressFree (the real
 * driver leaves the other order undefined; the fake makes it an error so the executor's
 * cleanup order is checked). */
CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    FG_LOCK();
    size_t k;
    for (k = 0; k < fg_nresvs; k++)
        if (fg_resvs[k].base == (uintptr_t)ptr && fg_resvs[k].size == size)
            break;
    if (k == fg_nresvs || fg_overlaps((uintptr_t)ptr, size)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_VALUE;
    }
    fg_resvs[k] = fg_resvs[--fg_nresvs];
    munmap((void *)(uintptr_t)ptr, size);
    FG_UNLOCK();
    return CUDA_SUCCESS;
}

CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                     const CUmemAllocationProp *prop, unsigned long long flags)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    if (!handle || !fg_prop_ok(prop) || size == 0 || size % FG_GRANULARITY || flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    fg_mem *m = malloc(sizeof *m);
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    FG_LOCK();
    if (size > fg_total_mem - fg_used) {
        FG_UNLOCK();
        free(m);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    m->size = size;
    m->fd = memfd_create("genie-fakegpu", MFD_CLOEXEC);
    if (m->fd < 0 || ftruncate(m->fd, (off_t)size) != 0 || fg_handle_add(m, FG_H_MEM)) {
        if (m->fd >= 0)
            close(m->fd);
        FG_UNLOCK();
        free(m);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    fg_used += size;
    FG_UNLOCK();
    *handle = (CUmemGenericAllocationHandle)(uintptr_t)m;
    return CUDA_SUCCESS;
}

/* Legal while mapped, as on the GPU: the mappings keep the memfd's pages alive. */
CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    fg_mem *m = (fg_mem *)(uintptr_t)handle;
    FG_LOCK();
    if (!fg_handle_take(m, FG_H_MEM)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    fg_used -= m->size;
    FG_UNLOCK();
    close(m->fd);
    free(m);
    return CUDA_SUCCESS;
}

CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                  unsigned long long flags)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    uintptr_t p = (uintptr_t)ptr;
    if (size == 0 || p % FG_GRANULARITY || size % FG_GRANULARITY || offset % FG_GRANULARITY ||
        flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    fg_mem *m = (fg_mem *)(uintptr_t)handle;
    FG_LOCK();
    if (!fg_handle_is(m, FG_H_MEM)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (offset > m->size || size > m->size - offset || !fg_resv_containing(p, size) ||
        fg_overlaps(p, size)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_VALUE;
    }
    /* MAP_FIXED is safe here: the range is ours (reserved) and nothing is mapped in it.
     * PROT_NONE: "all mappings start with no accessibility setup" until cuMemSetAccess, so
     * a copy or kernel touching the range before then fails as on the GPU. */
    void *q = mmap((void *)p, size, PROT_NONE, MAP_SHARED | MAP_FIXED, m->fd, (off_t)offset);
    if (q == MAP_FAILED || fg_range_insert(p, size, FG_R_MAP)) {
        if (q != MAP_FAILED)
            mmap((void *)p, size, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
        FG_UNLOCK();
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    FG_UNLOCK();
    return CUDA_SUCCESS;
}

/* The range must be exactly a run of whole mappings. */
CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    uintptr_t p = (uintptr_t)ptr;
    FG_LOCK();
    long i = fg_covered(p, size, FG_R_MAP);
    if (i < 0 || fg_ranges[i].base != p) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_VALUE;
    }
    size_t n = 0, cov = 0;
    while (cov < size)
        cov += fg_ranges[(size_t)i + n++].size;
    if (cov != size) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_VALUE;
    }
    /* Back to a PROT_NONE reservation (MAP_FIXED replaces the shared mapping atomically). */
    mmap((void *)p, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
         0);
    while (n--)
        fg_range_remove((size_t)i);
    FG_UNLOCK();
    return CUDA_SUCCESS;
}

CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    if (!desc || count == 0)
        return CUDA_ERROR_INVALID_VALUE;
    int prot = -1;
    for (size_t k = 0; k < count; k++) {
        if (desc[k].location.type != CU_MEM_LOCATION_TYPE_DEVICE || desc[k].location.id != 0)
            return CUDA_ERROR_INVALID_DEVICE;
        switch (desc[k].flags) {
        case CU_MEM_ACCESS_FLAGS_PROT_NONE:
            prot = PROT_NONE;
            break;
        case CU_MEM_ACCESS_FLAGS_PROT_READ:
            prot = PROT_READ;
            break;
        case CU_MEM_ACCESS_FLAGS_PROT_READWRITE:
            prot = PROT_READ | PROT_WRITE;
            break;
        default:
            return CUDA_ERROR_INVALID_VALUE;
        }
    }
    FG_LOCK();
    long i = fg_covered((uintptr_t)ptr, size, FG_R_MAP);
    int ok = i >= 0;
    if (ok && mprotect((void *)(uintptr_t)ptr, size, prot) != 0)
        ok = 0;
    for (size_t k = (size_t)i; ok && k < fg_nranges && fg_ranges[k].base < ptr + size; k++)
        fg_ranges[k].prot = prot;
    FG_UNLOCK();
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ---- Page-locked host memory: cuMemHostAlloc, cuMemAllocHost, cuMemFreeHost ----
 *
 * Plain heap memory here, remembered as page-locked: what changes is the rules the copies
 * follow (below) and that a graph may hold a copy to or from it (fg_graph.c). */

static pthread_mutex_t fg_pin_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fg_pin {
    uintptr_t base;
    size_t size;
} *fg_pins;
static size_t fg_npins, fg_cappins;

int fg_host_pinned(const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    int ok = 0;
    pthread_mutex_lock(&fg_pin_lock);
    for (size_t i = 0; i < fg_npins && !ok; i++)
        ok = a >= fg_pins[i].base && n <= fg_pins[i].size && a - fg_pins[i].base <= fg_pins[i].size - n;
    pthread_mutex_unlock(&fg_pin_lock);
    return p && ok;
}

CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
    fg_work_count_call();
    if (!pp || !bytesize || (Flags & ~(unsigned)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP |
                                                 CU_MEMHOSTALLOC_WRITECOMBINED)))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = fg_check_ctx();
    if (r)
        return r;
    void *m = calloc(1, bytesize);
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&fg_pin_lock);
    if (fg_npins == fg_cappins) {
        size_t c = fg_cappins ? 2 * fg_cappins : 16;
        struct fg_pin *x = realloc(fg_pins, c * sizeof *x);
        if (!x) {
            pthread_mutex_unlock(&fg_pin_lock);
            free(m);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        fg_pins = x;
        fg_cappins = c;
    }
    fg_pins[fg_npins++] = (struct fg_pin){(uintptr_t)m, bytesize};
    pthread_mutex_unlock(&fg_pin_lock);
    *pp = m;
    return CUDA_SUCCESS;
}

CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
{
    return cuMemHostAlloc(pp, bytesize, 0); /* counts the call */
}

CUresult cuMemFreeHost(void *p)
{
    fg_work_count_call();
    int found = 0;
    pthread_mutex_lock(&fg_pin_lock);
    for (size_t i = 0; i < fg_npins && !found; i++)
        if (fg_pins[i].base == (uintptr_t)p) {
            fg_pins[i] = fg_pins[--fg_npins];
            found = 1;
        }
    pthread_mutex_unlock(&fg_pin_lock);
    if (!found)
        return CUDA_ERROR_INVALID_VALUE;
    free(p);
    return CUDA_SUCCESS;
}

/* ---- Copies and memsets: queued on their stream, range-checked at the call, guarded ----
 *
 * What the driver documents ("API synchronization behavior"): an async copy from pageable
 * memory to the device stages the source before it returns; a copy from the device to pageable
 * memory returns once done, and one into page-locked memory (cuMemHostAlloc) is asynchronous;
 * the synchronous cuMemcpyHtoD synchronises the NULL stream first and returns once the source
 * is staged; cuMemcpyDtoD and the memsets are asynchronous to the host.
 *
 * Under stream capture a copy with a host side becomes a memcpy node that reads or writes that
 * host memory each time the graph runs, which is only defined for page-locked memory: a copy
 * from or to pageable memory is refused (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, the capture
 * invalidated), stricter than a driver that would accept it and race with the host. */

typedef struct fg_xfer {
    void *dst;
    const void *src;
    size_t n;
    int op; /* 0 memmove, 1 memset8, 2 memset32 */
    unsigned val;
    void *staged; /* owned copy of a host source */
} fg_xfer;

static void fg_xfer_run(void *a)
{
    fg_xfer *x = a;
    switch (x->op) {
    case 0:
        memmove(x->dst, x->src, x->n);
        break;
    case 1:
        memset(x->dst, (int)x->val, x->n);
        break;
    default: {
        uint32_t *d = x->dst;
        for (size_t i = 0; i < x->n; i++)
            d[i] = x->val;
    }
    }
}

/* The device side was checked at the call: a fault here is a bad host pointer. */
static int fg_xfer_item(void *a)
{
    return fg_guarded(fg_xfer_run, a) ? CUDA_ERROR_INVALID_VALUE : 0;
}

static void fg_xfer_free(void *a)
{
    fg_xfer *x = a;
    free(x->staged);
    free(x);
}

enum { FG_X_ASYNC = 0, FG_X_SYNC_API = 1 };

/* devs/devd: which sides are device pointers and must lie in accessible device memory. A host
 * side is plain host memory; the guard still turns a bad one into an error. kind: the model's
 * FG_COST_* of the transfer. */
static CUresult fg_xfer_do(const fg_xfer *in, size_t bytes, int devd, int devs, CUstream s,
                           int mode, enum fg_cost_kind kind)
{
    CUresult r = fg_check_ctx(); /* copies need a current context on any stream */
    if (r)
        return r;
    if (mode != FG_X_SYNC_API) {
        FG_LOCK();
        int ok = fg_stream_ok(s);
        FG_UNLOCK();
        if (!ok)
            return CUDA_ERROR_INVALID_HANDLE;
    }
    if (bytes == 0)
        return CUDA_SUCCESS;
    if (!in->dst || (in->op == 0 && !in->src))
        return CUDA_ERROR_INVALID_VALUE;
    if (devd && !fg_dev_access_ok((uintptr_t)in->dst, bytes, PROT_WRITE))
        return CUDA_ERROR_INVALID_VALUE;
    if (devs && !fg_dev_access_ok((uintptr_t)in->src, bytes, PROT_READ))
        return CUDA_ERROR_INVALID_VALUE;
    fg_stream *st = fg_sched_stream(s);
    int h2d = in->op == 0 && devd && !devs, d2h = in->op == 0 && devs && !devd;
    int pinned = (h2d && fg_host_pinned(in->src, bytes)) || (d2h && fg_host_pinned(in->dst, bytes));
    int capturing = mode != FG_X_SYNC_API && fg_sched_capturing(st);
    if (capturing && (h2d || d2h) && !pinned)
        return fg_capture_refuse(st); /* a graph cannot hold a copy with pageable memory */
    if (h2d && mode == FG_X_SYNC_API && (r = fg_sched_sync_stream(st)))
        return r;
    int compute = fg_model_compute();
    fg_xfer *x = malloc(sizeof *x);
    if (!x)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *x = *in;
    x->staged = NULL;
    /* the caller may reuse its buffer as soon as we return; a captured copy (a graph's memcpy
     * node) reads its source each time the graph runs, as on the GPU */
    if (h2d && compute && !capturing && !pinned) {
        if (!(x->staged = malloc(bytes))) {
            free(x);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        if (fg_guarded(fg_xfer_run, &(fg_xfer){x->staged, in->src, bytes, 0, 0, NULL})) {
            fg_xfer_free(x);
            return CUDA_ERROR_INVALID_VALUE;
        }
        x->src = x->staged;
    }
    /* Timing-only, a D2H still writes its destination, with zeros: what a host reads back is
     * then the same on every run (the executor's reply buffer held an earlier reply's bytes,
     * and a program's control flow could follow them). The fill is not COMPUTED work: the
     * stream's modeled clock ignores it, but the host sees the copy done only once the fill
     * is, so a large D2H takes max(model, memset) (docs/fakegpu.md). */
    int zero_fill = d2h && !compute;
    if (zero_fill) {
        x->op = 1;
        x->val = 0;
        x->src = NULL;
    }
    fg_cost c = {.kind = kind, .bytes = (double)bytes};
    fg_mark *done = NULL;
    fg_work w = {compute || zero_fill ? fg_xfer_item : NULL, x, fg_xfer_free, fg_model_ns(&c),
                 compute ? FG_ITEM_COMPUTED : 0u, in->op == 0 ? FG_NODE_MEMCPY : FG_NODE_OTHER};
    /* the host waits for a D2H into pageable memory; into page-locked memory (and in a graph)
     * the copy is asynchronous */
    int wait = d2h && !(pinned && mode != FG_X_SYNC_API);
    r = (CUresult)fg_sched_submit_work(st, &w, wait ? &done : NULL);
    if (r || !wait)
        return r;
    fg_sched_wait(done);
    fg_mark_put(done);
    return fg_sched_sync_result();
}

CUresult fg_copy_work(void *dst, const void *src, size_t n, int devd, int devs, fg_work *out)
{
    if (!n || !dst || !src)
        return CUDA_ERROR_INVALID_VALUE;
    if ((!devd && !fg_host_pinned(dst, n)) || (!devs && !fg_host_pinned(src, n)))
        return CUDA_ERROR_INVALID_VALUE; /* a memcpy node's host memory is page-locked */
    if (devd && !fg_dev_access_ok((uintptr_t)dst, n, PROT_WRITE))
        return CUDA_ERROR_INVALID_VALUE;
    if (devs && !fg_dev_access_ok((uintptr_t)src, n, PROT_READ))
        return CUDA_ERROR_INVALID_VALUE;
    fg_xfer *x = malloc(sizeof *x);
    if (!x)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *x = (fg_xfer){dst, src, n, 0, 0, NULL};
    fg_cost c = {.kind = devd && devs ? FG_COST_D2D : devd ? FG_COST_H2D : FG_COST_D2H,
                 .bytes = (double)n};
    int compute = fg_model_compute();
    *out = (fg_work){compute ? fg_xfer_item : NULL, x, fg_xfer_free, fg_model_ns(&c),
                     compute ? FG_ITEM_COMPUTED : 0u, FG_NODE_MEMCPY};
    return CUDA_SUCCESS;
}

#define FG_DP(d) ((void *)(uintptr_t)(d))

CUresult cuMemcpyHtoD(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    fg_work_count_call();
    fg_xfer x = {FG_DP(dstDevice), srcHost, ByteCount, 0, 0, NULL};
    return fg_xfer_do(&x, ByteCount, 1, 0, NULL, FG_X_SYNC_API, FG_COST_H2D);
}

CUresult cuMemcpyDtoH(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    fg_work_count_call();
    fg_xfer x = {dstHost, FG_DP(srcDevice), ByteCount, 0, 0, NULL};
    return fg_xfer_do(&x, ByteCount, 0, 1, NULL, FG_X_SYNC_API, FG_COST_D2H);
}

CUresult cuMemcpyDtoD(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    fg_work_count_call();
    fg_xfer x = {FG_DP(dstDevice), FG_DP(srcDevice), ByteCount, 0, 0, NULL};
    return fg_xfer_do(&x, ByteCount, 1, 1, NULL, FG_X_SYNC_API, FG_COST_D2D);
}

CUresult cuMemcpyHtoDAsync(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
                           CUstream hStream)
{
    fg_work_count_call();
    fg_xfer x = {FG_DP(dstDevice), srcHost, ByteCount, 0, 0, NULL};
    return fg_xfer_do(&x, ByteCount, 1, 0, hStream, FG_X_ASYNC, FG_COST_H2D);
}

CUresult cuMemcpyDtoHAsync(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
    fg_work_count_call();
    fg_xfer x = {dstHost, FG_DP(srcDevice), ByteCount, 0, 0, NULL};
    return fg_xfer_do(&x, ByteCount, 0, 1, hStream, FG_X_ASYNC, FG_COST_D2H);
}

CUresult cuMemcpyDtoDAsync(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                           CUstream hStream)
{
    fg_work_count_call();
    fg_xfer x = {FG_DP(dstDevice), FG_DP(srcDevice), ByteCount, 0, 0, NULL};
    return fg_xfer_do(&x, ByteCount, 1, 1, hStream, FG_X_ASYNC, FG_COST_D2D);
}

CUresult cuMemsetD8(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    fg_work_count_call();
    fg_xfer x = {FG_DP(dstDevice), NULL, N, 1, uc, NULL};
    return fg_xfer_do(&x, N, 1, 0, NULL, FG_X_SYNC_API, FG_COST_MEMSET);
}

CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
{
    fg_work_count_call();
    fg_xfer x = {FG_DP(dstDevice), NULL, N, 1, uc, NULL};
    return fg_xfer_do(&x, N, 1, 0, hStream, FG_X_ASYNC, FG_COST_MEMSET);
}

CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
{
    fg_work_count_call();
    CUresult r = fg_check_ctx();
    if (r)
        return r;
    if (dstDevice % 4 || N > SIZE_MAX / 4)
        return CUDA_ERROR_INVALID_VALUE;
    fg_xfer x = {FG_DP(dstDevice), NULL, N, 2, ui, NULL};
    return fg_xfer_do(&x, N * 4, 1, 0, hStream, FG_X_ASYNC, FG_COST_MEMSET);
}
