/* ops_mem.c — memory ops: mapping physical memory into the session's VA range, copies and memsets,
 * each range validated. */
#include "remote/exec_int.h"

#include <stdlib.h>
#include <string.h>

/* Index of the last mapping with ptr <= p, or -1. */
static long map_find(const exec_session *s, uint64_t p)
{
    size_t lo = 0, hi = s->nmaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->maps[mid].ptr <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

/* Does [p, p+n) lie in live mappings? Adjacent mappings count as one range: the VA is
 * contiguous and the driver copies across them (a client may grow a heap map by map). */
int exec_range_ok(const exec_session *s, uint64_t p, uint64_t n)
{
    if (n > UINT64_MAX - p)
        return 0;
    /* a device variable the session asked for (GLOBAL_GET): few, outside the VA range */
    for (size_t k = 0; (p < s->va_base || p - s->va_base >= s->va_size) && k < s->nglobals; k++)
        if (p >= s->globals[k].ptr && p - s->globals[k].ptr <= s->globals[k].size &&
            n <= s->globals[k].size - (p - s->globals[k].ptr))
            return 1;
    long i = map_find(s, p);
    if (i < 0)
        return 0;
    uint64_t end = p + n;
    for (size_t k = (size_t)i; k < s->nmaps; k++) {
        const exec_map *m = &s->maps[k];
        if (k > (size_t)i && m->ptr != s->maps[k - 1].ptr + s->maps[k - 1].size)
            return 0; /* a gap */
        if (p < m->ptr || p >= m->ptr + m->size)
            return 0;
        if (end <= m->ptr + m->size)
            return 1;
        p = m->ptr + m->size;
    }
    return 0;
}

static int check_range(exec_session *s, uint32_t index, const char *op, uint64_t p, uint64_t n)
{
    if (exec_range_ok(s, p, n))
        return 0;
    return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                     "%s: device range 0x%llx + %llu is not inside a mapping of session %u", op,
                     (unsigned long long)p, (unsigned long long)n, s->id);
}

int exec_op_MEM_MAP(exec_session *s, uint32_t index, const proto_MEM_MAP *a)
{
    exec_driver *d = &s->ctx->drv;
    uint64_t g = s->ctx->granularity, p = a->ptr, n = a->size;
    if (!n || p % g || n % g || p < s->va_base || n > s->va_size || p - s->va_base > s->va_size - n)
        return exec_fail(
            s, index, EXEC_cudaErrorInvalidValue, 0,
            "MEM_MAP: 0x%llx + %llu is not a granularity-aligned range inside the session's VA "
            "0x%llx + %llu",
            (unsigned long long)p, (unsigned long long)n, (unsigned long long)s->va_base,
            (unsigned long long)s->va_size);
    uint64_t quota = s->ctx->limits.mem_quota;
    if (quota && (n > quota || s->mapped > quota - n))
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0,
                         "MEM_MAP: %llu more bytes would pass session %u's device memory quota "
                         "of %llu (--mem-quota; %llu mapped)",
                         (unsigned long long)n, s->id, (unsigned long long)quota,
                         (unsigned long long)s->mapped);
    long i = map_find(s, p);
    if ((i >= 0 && s->maps[i].ptr + s->maps[i].size > p) ||
        ((size_t)(i + 1) < s->nmaps && s->maps[i + 1].ptr < p + n))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "MEM_MAP: 0x%llx + %llu overlaps a mapping", (unsigned long long)p,
                         (unsigned long long)n);
    if (s->nmaps == s->capmaps) {
        size_t cap = s->capmaps ? s->capmaps * 2 : 16;
        exec_map *m = realloc(s->maps, cap * sizeof *m);
        if (!m)
            return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "MEM_MAP: %s",
                             genie_strerror(GENIE_ENOMEM));
        s->maps = m;
        s->capmaps = cap;
    }
    CUmemAllocationProp prop = {
        .type = CU_MEM_ALLOCATION_TYPE_PINNED,
        .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = s->ctx->dev}};
    CUmemAccessDesc acc = {.location = prop.location, .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    CUmemGenericAllocationHandle h;
    CUresult r = d->MemCreate(&h, n, &prop, 0);
    if (r)
        return exec_cufail(s, index, r, "MEM_MAP: cuMemCreate");
    if ((r = d->MemMap((CUdeviceptr)p, n, 0, h, 0))) {
        d->MemRelease(h);
        return exec_cufail(s, index, r, "MEM_MAP: cuMemMap");
    }
    if ((r = d->MemSetAccess((CUdeviceptr)p, n, &acc, 1))) {
        d->MemUnmap((CUdeviceptr)p, n);
        d->MemRelease(h);
        return exec_cufail(s, index, r, "MEM_MAP: cuMemSetAccess");
    }
    size_t at = (size_t)(i + 1);
    memmove(&s->maps[at + 1], &s->maps[at], (s->nmaps - at) * sizeof *s->maps);
    s->maps[at] = (exec_map){p, n, h};
    s->nmaps++;
    __atomic_fetch_add(&s->mapped, n, __ATOMIC_RELAXED); /* STATUS reads it */
    return 0;
}

int exec_op_MEM_UNMAP(exec_session *s, uint32_t index, const proto_MEM_UNMAP *a)
{
    exec_driver *d = &s->ctx->drv;
    long i = map_find(s, a->ptr);
    if (i < 0 || s->maps[i].ptr != a->ptr || s->maps[i].size != a->size)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "MEM_UNMAP: 0x%llx + %llu is not a mapping", (unsigned long long)a->ptr,
                         (unsigned long long)a->size);
    /* cudaFree semantics: work queued on this memory finishes before it goes away. */
    CUresult r = exec_sync_all(s);
    if (r)
        return exec_cufail(s, index, r, "MEM_UNMAP: synchronize");
    if ((r = d->MemUnmap((CUdeviceptr)a->ptr, a->size)))
        return exec_cufail(s, index, r, "MEM_UNMAP: cuMemUnmap");
    d->MemRelease(s->maps[i].h);
    __atomic_fetch_sub(&s->mapped, s->maps[i].size, __ATOMIC_RELAXED);
    memmove(&s->maps[i], &s->maps[i + 1], (s->nmaps - (size_t)i - 1) * sizeof *s->maps);
    s->nmaps--;
    return 0;
}

int exec_op_MEMCPY_H2D(exec_session *s, uint32_t index, const proto_MEMCPY_H2D *a)
{
    CUstream st;
    int e = exec_stream(s, index, a->stream, "MEMCPY_H2D", &st);
    if (e || !a->data_len || (e = check_range(s, index, "MEMCPY_H2D", a->dst, a->data_len)))
        return e;
    /* The source is the request buffer, which the caller frees after we return: fine, the
     * driver stages a pageable source before an async H2D returns. */
    CUresult r = s->ctx->drv.MemcpyHtoDAsync((CUdeviceptr)a->dst, a->data, a->data_len, st);
    return r ? exec_cufail(s, index, r, "MEMCPY_H2D: cuMemcpyHtoDAsync") : 0;
}

int exec_d2h_reply(exec_session *s, uint32_t index, uint64_t src, uint64_t size, uint8_t **out)
{
    /* The bytes go straight into the reply; it must stay within what the client accepts. */
    uint64_t room = proto_max_message(), cap = s->ctx->limits.max_reply;
    if (cap && cap < room)
        room = cap;
    if (size > UINT32_MAX - PROTO_R_DATA_FIXED || s->reply.len + size + 64 > room)
        return exec_fail(
            s, index, EXEC_cudaErrorInvalidValue, 0,
            "MEMCPY_D2H: %llu bytes from 0x%llx do not fit in one reply of at most %llu bytes "
            "(--max-reply-bytes); split the copy",
            (unsigned long long)size, (unsigned long long)src, (unsigned long long)room);
    uint8_t *dst = proto_put_R_DATA(&s->reply, index, (size_t)size);
    if (!dst)
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0,
                         "MEMCPY_D2H: no memory for %llu reply bytes", (unsigned long long)size);
    *out = dst;
    return 0;
}

int exec_op_MEMCPY_D2H(exec_session *s, uint32_t index, const proto_MEMCPY_D2H *a)
{
    exec_driver *d = &s->ctx->drv;
    CUstream st;
    int e = exec_stream(s, index, a->stream, "MEMCPY_D2H", &st);
    if (e || (a->size && (e = check_range(s, index, "MEMCPY_D2H", a->src, a->size))))
        return e;
    uint8_t *dst;
    if ((e = exec_d2h_reply(s, index, a->src, a->size, &dst)) || !a->size)
        return e;
    CUresult r = d->MemcpyDtoHAsync(dst, (CUdeviceptr)a->src, (size_t)a->size, st);
    if (!r)
        r = d->StreamSynchronize(st);
    if (r) { /* drop the record we reserved: the error replaces it */
        s->reply.len -=
            PROTO_REC_HDR_SIZE + (((size_t)a->size + PROTO_R_DATA_FIXED + 7) & ~(size_t)7);
        return exec_cufail(s, index, r, "MEMCPY_D2H: cuMemcpyDtoHAsync");
    }
    return 0;
}

int exec_op_MEMCPY_D2D(exec_session *s, uint32_t index, const proto_MEMCPY_D2D *a)
{
    CUstream st;
    int e = exec_stream(s, index, a->stream, "MEMCPY_D2D", &st);
    if (e || !a->size || (e = check_range(s, index, "MEMCPY_D2D dst", a->dst, a->size)) ||
        (e = check_range(s, index, "MEMCPY_D2D src", a->src, a->size)))
        return e;
    CUresult r =
        s->ctx->drv.MemcpyDtoDAsync((CUdeviceptr)a->dst, (CUdeviceptr)a->src, (size_t)a->size, st);
    return r ? exec_cufail(s, index, r, "MEMCPY_D2D: cuMemcpyDtoDAsync") : 0;
}

int exec_op_MEMSET(exec_session *s, uint32_t index, const proto_MEMSET *a)
{
    CUstream st;
    int e = exec_stream(s, index, a->stream, "MEMSET", &st);
    if (e || !a->size || (e = check_range(s, index, "MEMSET", a->dst, a->size)))
        return e;
    /* cudaMemset takes an int and writes its low byte. */
    CUresult r = s->ctx->drv.MemsetD8Async((CUdeviceptr)a->dst, (unsigned char)a->value,
                                           (size_t)a->size, st);
    return r ? exec_cufail(s, index, r, "MEMSET: cuMemsetD8Async") : 0;
}
