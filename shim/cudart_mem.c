/* cudart_mem.c — device and pinned-host memory, copies and memsets. */
#include "shim/shim_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- pinned host memory: plain page-aligned memory we remember, so that async D2H into
 * it needs no flush (the data arrives with the next sync, as on a real GPU). cudaHostRegister
 * adds the program's own ranges to the same set (registered: freed by the program, not us). */
typedef struct pinned {
    uintptr_t ptr;
    size_t size;
    unsigned flags;
    int registered; /* cudaHostRegister'ed (cudaHostUnregister), else ours (cudaFreeHost) */
} pinned;
static pinned *pins;
static size_t npins, cappins;

static long pin_find(uintptr_t p)
{
    for (size_t i = 0; i < npins; i++)
        if (p >= pins[i].ptr && p - pins[i].ptr < pins[i].size)
            return (long)i;
    return -1;
}

/* 1 when [p, p+n) overlaps a pinned range. Lock held. */
static int pin_overlaps(uintptr_t p, size_t n)
{
    for (size_t i = 0; i < npins; i++)
        if (p < pins[i].ptr + pins[i].size && pins[i].ptr < p + n)
            return 1;
    return 0;
}

int shim_host_is_pinned(const void *p, size_t n)
{
    long i = pin_find((uintptr_t)p);
    return i >= 0 && n <= pins[i].size - ((uintptr_t)p - pins[i].ptr);
}

/* Lock held. 0, or -1 when out of memory. */
static int pin_add(uintptr_t p, size_t size, unsigned flags, int registered)
{
    if (npins == cappins) {
        size_t cap = cappins ? cappins * 2 : 16;
        pinned *v = realloc(pins, cap * sizeof *v);
        if (!v)
            return -1;
        pins = v;
        cappins = cap;
    }
    pins[npins++] = (pinned){p, size, flags, registered};
    return 0;
}

/* Before pinned memory stops being ours to write: an async D2H copy recorded into it still
 * waits in the batch (it rides along with the next flush), so flush it now rather than
 * write into memory the program is about to free. Lock held. */
static cudaError_t pin_drain(uintptr_t p, size_t n)
{
    return shim_batch_writes_into((const void *)p, n) ? shim_flush(SHIM_RT_SYNC) : cudaSuccess;
}

static cudaError_t host_alloc(void **out, size_t size, unsigned flags)
{
    void *p = NULL;
    if (posix_memalign(&p, 4096, size ? size : 1))
        return shim_set_error(cudaErrorMemoryAllocation);
    shim_lock();
    if (pin_add((uintptr_t)p, size ? size : 1, flags, 0)) {
        shim_unlock();
        free(p);
        return shim_set_error(cudaErrorMemoryAllocation);
    }
    shim_unlock();
    *out = p;
    return cudaSuccess;
}

cudaError_t shim_impl_cudaMallocHost(void **ptr, size_t size) { return host_alloc(ptr, size, 0); }

cudaError_t shim_impl_cudaHostAlloc(void **pHost, size_t size, unsigned int flags)
{
    if (flags & cudaHostAllocMapped) {
        /* a device view of host memory cannot exist across the network */
        GENIE_WARN("cudaHostAlloc(cudaHostAllocMapped) is not supported by Genie");
        return shim_set_error(cudaErrorNotSupported);
    }
    return host_alloc(pHost, size, flags);
}

cudaError_t shim_impl_cudaFreeHost(void *ptr)
{
    if (!ptr)
        return cudaSuccess;
    shim_lock();
    long i = pin_find((uintptr_t)ptr);
    if (i < 0 || pins[i].ptr != (uintptr_t)ptr || pins[i].registered) {
        shim_unlock();
        return shim_set_error(cudaErrorInvalidValue);
    }
    /* the real cudaFreeHost synchronises; here only a pending copy into it must land first */
    cudaError_t e = pin_drain(pins[i].ptr, pins[i].size);
    i = pin_find((uintptr_t)ptr); /* the flush ran no program code, but look again anyway */
    if (i >= 0)
        pins[i] = pins[--npins];
    shim_unlock();
    free(ptr);
    return e;
}

/* The program's own memory joins the pinned set: async D2H copies into it then ride along
 * with the next flush, and cudaPointerGetAttributes says host, as for cudaHostAlloc. No page
 * is locked (there is no device here to DMA into it). Mapped and I/O memory need a device
 * view of host memory, which cannot exist across the network. */
cudaError_t shim_impl_cudaHostRegister(void *ptr, size_t size, unsigned int flags)
{
    const unsigned known = cudaHostRegisterPortable | cudaHostRegisterMapped |
                           cudaHostRegisterIoMemory | cudaHostRegisterReadOnly;
    if (!ptr || !size || (flags & ~known) || (uintptr_t)ptr + size < (uintptr_t)ptr)
        return shim_set_error(cudaErrorInvalidValue);
    if (flags & (cudaHostRegisterMapped | cudaHostRegisterIoMemory)) {
        GENIE_WARN("cudaHostRegister(%s) is not supported by Genie (mapped host memory)",
                   flags & cudaHostRegisterMapped ? "cudaHostRegisterMapped"
                                                  : "cudaHostRegisterIoMemory");
        return shim_set_error(cudaErrorNotSupported);
    }
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e != cudaSuccess) {
    } else if (shim_alloc_in_range(shim_g.alloc, (uint64_t)(uintptr_t)ptr) ||
               shim_alloc_in_range(shim_g.alloc, (uint64_t)(uintptr_t)ptr + size - 1)) {
        e = shim_set_error(cudaErrorInvalidValue); /* device memory is not host memory */
    } else if (pin_overlaps((uintptr_t)ptr, size)) {
        e = shim_set_error(cudaErrorHostMemoryAlreadyRegistered);
    } else if (pin_add((uintptr_t)ptr, size, flags, 1)) {
        e = shim_set_error(cudaErrorMemoryAllocation);
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaHostUnregister(void *ptr)
{
    if (!ptr)
        return shim_set_error(cudaErrorInvalidValue);
    shim_lock();
    long i = pin_find((uintptr_t)ptr);
    cudaError_t e = cudaSuccess;
    if (i < 0 || pins[i].ptr != (uintptr_t)ptr || !pins[i].registered) {
        e = shim_set_error(cudaErrorHostMemoryNotRegistered);
    } else {
        e = pin_drain(pins[i].ptr, pins[i].size); /* the program may free it next */
        if ((i = pin_find((uintptr_t)ptr)) >= 0)
            pins[i] = pins[--npins];
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaHostGetFlags(unsigned int *pFlags, void *pHost)
{
    shim_lock();
    long i = pin_find((uintptr_t)pHost);
    cudaError_t e = cudaSuccess;
    if (i < 0)
        e = cudaErrorInvalidValue;
    else
        *pFlags = pins[i].flags;
    shim_unlock();
    return shim_set_error(e);
}

/* ---- device memory ---- */

cudaError_t shim_impl_cudaMalloc(void **devPtr, size_t size)
{
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess) {
        uint64_t p, mp, ms;
        if (shim_alloc_get(shim_g.alloc, size, &p, &mp, &ms)) {
            e = shim_set_error(cudaErrorMemoryAllocation);
        } else {
            shim_rec r;
            shim_batch_begin(&r);
            if (ms) {
                if (!SHIM_PUT(&r, MEM_MAP, mp, ms)) {
                    e = shim_batch_fail(&r);
                } else {
                    shim_sem_range(shim_sem_op(SEM_OP_MEM, PROTO_OP_MEM_MAP, 0), mp, ms, SEM_RW);
                    e = shim_batch_commit(&r, SHIM_NO_STREAM, 0);
                }
            }
            if (ms && !r.committed) { /* never mapped remotely: give the range back */
                uint64_t up, us;
                (void)shim_alloc_put(shim_g.alloc, p, &up, &us);
            } else {
                *devPtr = (void *)(uintptr_t)p;
            }
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaFree(void *devPtr)
{
    if (!devPtr)
        return cudaSuccess;
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess) {
        uint64_t up, us;
        if (shim_alloc_put(shim_g.alloc, (uint64_t)(uintptr_t)devPtr, &up, &us)) {
            e = shim_set_error(cudaErrorInvalidValue);
        } else if (us) {
            /* cudaFree synchronises the device in the real runtime; here the unmap is ordered
             * after every op already recorded, which is what that synchronisation buys */
            shim_rec r;
            shim_batch_begin(&r);
            if (!SHIM_PUT(&r, MEM_UNMAP, up, us)) {
                e = shim_batch_fail(&r);
            } else {
                shim_sem_range(shim_sem_op(SEM_OP_MEM, PROTO_OP_MEM_UNMAP, 0), up, us, SEM_RW);
                e = shim_batch_commit(&r, SHIM_NO_STREAM, 0);
            }
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaMemGetInfo(size_t *free_, size_t *total)
{
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess) {
        /* answered locally: total minus what this process mapped (other tenants unseen) */
        uint64_t t = shim_g.dev[0].total_mem, m = shim_alloc_mapped_bytes(shim_g.alloc);
        *total = (size_t)t;
        *free_ = (size_t)(m < t ? t - m : 0);
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaPointerGetAttributes(struct cudaPointerAttributes *attr,
                                               const void *ptr)
{
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess) {
        memset(attr, 0, sizeof *attr);
        uint64_t p = (uint64_t)(uintptr_t)ptr, s, n;
        if (shim_alloc_find(shim_g.alloc, p, &s, &n)) {
            attr->type = cudaMemoryTypeDevice;
            attr->device = 0;
            attr->devicePointer = (void *)ptr;
        } else if (pin_find((uintptr_t)ptr) >= 0) {
            attr->type = cudaMemoryTypeHost;
            attr->device = 0;
            attr->hostPointer = (void *)ptr;
        } else {
            attr->type = cudaMemoryTypeUnregistered;
            attr->device = -2; /* what the runtime reports for unregistered memory */
        }
    }
    shim_unlock();
    return e;
}

/* ---- copies ---- */

static int is_dev(const void *p) { return shim_alloc_in_range(shim_g.alloc, (uint64_t)(uintptr_t)p); }

static cudaError_t check_dev(const void *p, size_t n)
{
    if (!shim_alloc_contains(shim_g.alloc, (uint64_t)(uintptr_t)p, n)) {
        GENIE_DEBUG("device range [%p, +%zu) is not inside a live allocation", p, n);
        return shim_set_error(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

/* Records the D2H copy of [src, +n) into dst (its R_DATA lands there at the flush), in
 * pieces; flushes first when the reply would carry too much. Lock held. */
static cudaError_t d2h_record(void *dst, const void *src, size_t n, uint32_t sid)
{
    cudaError_t e;
    for (size_t off = 0; off < n; off += SHIM_COPY_PIECE) {
        size_t k = n - off < SHIM_COPY_PIECE ? n - off : SHIM_COPY_PIECE;
        /* one reply carries at most SHIM_REPLY_BUDGET bytes of copies */
        if (shim_batch_reply_bytes() + k > SHIM_REPLY_BUDGET &&
            (e = shim_flush(SHIM_RT_SYNC)) != cudaSuccess)
            return e;
        shim_rec r;
        shim_batch_begin(&r);
        if (!SHIM_PUT(&r, MEMCPY_D2H, (uint64_t)(uintptr_t)src + off, k, sid))
            return shim_batch_fail(&r);
        shim_sem_range(shim_sem_op(SEM_OP_D2H, PROTO_OP_MEMCPY_D2H, sid),
                       (uint64_t)(uintptr_t)src + off, k, SEM_R);
        shim_batch_want_reply(&r, (uint8_t *)dst + off, k);
        /* held: the caller flushes (or lets an async copy ride along with the next flush) */
        if ((e = shim_batch_commit(&r, SHIM_NO_STREAM, SHIM_COMMIT_HOLD)) != cudaSuccess)
            return e;
        shim_batch_note_reply_bytes(k);
    }
    return cudaSuccess;
}

/* A D2H copy failed part way (a piece or a row could not be recorded): the pieces already
 * committed are flushed now, so nothing writes into the caller's memory after the call has
 * returned its error. */
static cudaError_t d2h_abandon(cudaError_t e, uint64_t reply_before)
{
    if (shim_g.fatal == cudaSuccess && shim_batch_reply_bytes() != reply_before)
        (void)shim_flush(SHIM_RT_SYNC);
    return shim_set_error(e);
}

/* One piece of a large upload, sent from src at the next flush (see shim_batch_splice):
 * MEMCPY_H2D, or MEMCPY_H2D_STORE when hash is given (the executor keeps the bytes). On an
 * error the caller flushes before returning: no pointer into src may stay in the batch. */
static cudaError_t put_direct(uint64_t dst, const uint8_t *src, size_t k, uint32_t sid,
                              const genie_hash128 *hash)
{
    cudaError_t e;
    if (shim_batch_wire_bytes() + k > SHIM_EXT_FRAME_MAX &&
        (e = shim_flush(SHIM_RT_SYNC)) != cudaSuccess)
        return e;
    shim_rec r;
    shim_batch_begin(&r);
    uint8_t *p = hash ? SHIM_PUT(&r, MEMCPY_H2D_STORE, dst, hash->lo, hash->hi, sid, 0)
                      : SHIM_PUT(&r, MEMCPY_H2D, dst, sid, 0);
    if (!p)
        return shim_batch_fail(&r);
    if ((e = shim_batch_splice(&r, src, k)) != cudaSuccess) {
        shim_batch_rollback(&r);
        return e;
    }
    sem_op *o = shim_sem_op(SEM_OP_H2D, hash ? PROTO_OP_MEMCPY_H2D_STORE : PROTO_OP_MEMCPY_H2D,
                            sid);
    shim_sem_range(o, dst, k, SEM_W);
    o->bulk_bytes = k;
    e = shim_batch_commit(&r, SHIM_NO_STREAM, 0);
    if (r.committed)
        shim_g.stats.h2d_bytes += k;
    return e;
}

/* The weight cache (GENIE_WEIGHT_CACHE): each piece of the upload is first asked for by the
 * XXH3-128 hash of its bytes (MEMCPY_H2D_CACHED), as the last records of a flushed frame:
 * one round trip, and on a hit nothing else. The pieces the executor lacked follow in a
 * second frame as MEMCPY_H2D_STORE, sent from src, which the executor keeps for any later
 * session: a second run of the same model sends hashes instead of its weights. Stream order
 * holds: every piece is queued on sid in one of two consecutive frames. */
static cudaError_t h2d_cached(uint64_t dst, const uint8_t *src, size_t n, uint32_t sid)
{
    size_t npieces = (n + SHIM_COPY_PIECE - 1) / SHIM_COPY_PIECE;
    genie_hash128 small[4], *h = npieces <= 4 ? small : malloc(npieces * sizeof *h);
    if (!h)
        return shim_set_error(cudaErrorMemoryAllocation);
    uint32_t first = UINT32_MAX; /* the pieces' answers: slots first .. first+npieces-1 */
    cudaError_t e = cudaSuccess;
    for (size_t i = 0; i < npieces; i++) {
        size_t off = i * SHIM_COPY_PIECE, k = n - off < SHIM_COPY_PIECE ? n - off : SHIM_COPY_PIECE;
        h[i] = genie_hash_content(src + off, k);
        shim_rec r;
        shim_batch_begin(&r);
        if (!SHIM_PUT(&r, MEMCPY_H2D_CACHED, dst + off, k, h[i].lo, h[i].hi, sid)) {
            e = shim_batch_fail(&r);
            break;
        }
        shim_sem_range(shim_sem_op(SEM_OP_H2D, PROTO_OP_MEMCPY_H2D_CACHED, sid), dst + off, k,
                       SEM_W);
        shim_batch_want_reply(&r, NULL, 0); /* its R_VALUE */
        /* held: every piece's slot must come back in the one flush below */
        if ((e = shim_batch_commit(&r, SHIM_NO_STREAM, SHIM_COMMIT_HOLD)) != cudaSuccess)
            break;
        if (i == 0)
            first = r.slot;
    }
    /* An error of earlier work in the batch does not stop the copy (it would have run in
     * the same frame without the cache); the first error is returned at the end. */
    cudaError_t fe = shim_flush(SHIM_RT_SYNC);
    if (e != cudaSuccess || shim_g.fatal != cudaSuccess) {
        if (h != small)
            free(h);
        return e != cudaSuccess ? e : fe;
    }
    /* The flush reset nslots, but the slots' memory holds the answers; read them all before
     * recording anything that could add a slot. */
    uint8_t small_ans[4], *ans = npieces <= 4 ? small_ans : malloc(npieces);
    if (!ans) {
        if (h != small)
            free(h);
        return shim_set_error(cudaErrorMemoryAllocation);
    }
    for (size_t i = 0; i < npieces; i++) {
        const shim_slot *sl = shim_batch_result(first + (uint32_t)i);
        ans[i] = sl->filled && sl->status == 0 && sl->value <= 2 ? (uint8_t)sl->value : 0;
    }
    for (size_t i = 0; i < npieces && e == cudaSuccess; i++) {
        size_t off = i * SHIM_COPY_PIECE, k = n - off < SHIM_COPY_PIECE ? n - off : SHIM_COPY_PIECE;
        if (ans[i] == 1) {
            shim_g.stats.h2d_bytes += k;
            shim_g.stats.h2d_cache_hits++;
            shim_g.stats.h2d_bytes_saved += k;
            continue;
        }
        if (ans[i] == 2 && shim_g.pol.weight_cache) {
            GENIE_INFO("genie-remote keeps no weight cache (GENIE_WEIGHT_CACHE_BYTES=0 there): "
                       "large uploads are sent as they are from now on");
            shim_g.pol.weight_cache = 0;
        }
        if (ans[i] == 0)
            shim_g.stats.h2d_cache_misses++;
        e = put_direct(dst + off, src + off, k, sid, ans[i] == 0 ? &h[i] : NULL);
    }
    if (h != small)
        free(h);
    if (ans != small_ans)
        free(ans);
    /* on an error too: no pointer into src stays. Not a sync point: the bytes are gRPC's (or
     * the in-process executor's) when this returns; the reply is taken later. */
    cudaError_t se = shim_flush_nowait();
    return fe != cudaSuccess ? fe : e != cudaSuccess ? e : se;
}

/* A large upload to a remote: sent from src itself, flushed before we return (then src is
 * the caller's again). In pieces: a record's length is 32 bits, and a bounded piece lets
 * the size threshold flush a huge copy as it goes instead of growing one giant batch. The
 * flush does not wait for the reply when non-blocking flushes are on: a pageable copy need
 * only have consumed its source when it returns, as the runtime's does; an error of the copy
 * surfaces at the next sync. */
static cudaError_t h2d_direct(uint64_t dst, const void *src, size_t n, uint32_t sid)
{
    cudaError_t e = cudaSuccess;
    for (size_t off = 0; off < n && e == cudaSuccess; off += SHIM_COPY_PIECE) {
        size_t k = n - off < SHIM_COPY_PIECE ? n - off : SHIM_COPY_PIECE;
        e = put_direct(dst + off, (const uint8_t *)src + off, k, sid, NULL);
    }
    cudaError_t fe = shim_flush_nowait();
    return e != cudaSuccess ? e : fe;
}

/* What every copy and memset does first: a session, and the client ID of a valid stream.
 * Lock held. */
static cudaError_t op_prologue(cudaStream_t stream, uint32_t *sid)
{
    cudaError_t e = shim_ensure();
    if (e != cudaSuccess)
        return e;
    *sid = shim_stream_id(stream);
    return *sid == UINT32_MAX ? shim_set_error(cudaErrorInvalidResourceHandle) : cudaSuccess;
}

static cudaError_t memcpy_locked(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind,
                                 cudaStream_t stream, int async)
{
    uint32_t sid;
    cudaError_t e = op_prologue(stream, &sid);
    if (e != cudaSuccess)
        return e;
    if (kind == cudaMemcpyDefault)
        kind = is_dev(dst) ? (is_dev(src) ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                           : (is_dev(src) ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
    if (n == 0)
        return cudaSuccess;
    if (!dst || !src)
        return shim_set_error(cudaErrorInvalidValue);
    switch (kind) {
    case cudaMemcpyHostToHost:
        if (is_dev(dst) || is_dev(src))
            return shim_set_error(cudaErrorInvalidValue);
        if (!async) {
            /* ordered after the work already recorded, like the real runtime */
            if ((e = shim_flush(SHIM_RT_SYNC)) != cudaSuccess)
                return e;
        }
        memmove(dst, src, n);
        return cudaSuccess;
    case cudaMemcpyHostToDevice: {
        if ((e = check_dev(dst, n)) != cudaSuccess)
            return e;
        if (is_dev(src))
            return shim_set_error(cudaErrorInvalidValue);
        if (shim_g.ncaptures) {
            if (shim_capturing(sid)) /* a copy node: src is read at each graph launch */
                return shim_capture_h2d(sid, (uint64_t)(uintptr_t)dst, src, n);
            if ((e = shim_capture_forbid(sid, "a host-to-device copy on the legacy stream")) !=
                cudaSuccess)
                return e;
        }
        /* The H2D pass (semantics/passes.c) on the copy's descriptor: a large copy to a
         * remote is sent from src itself (no copy into the batch) and flushed before we
         * return, when src is the caller's again, by content hash first while the weight
         * cache is on; a small one is captured into the batch and src is free at once. The
         * descriptor staged here asks; each record below stages its own. */
        sem_op *q = shim_sem_op(SEM_OP_H2D, PROTO_OP_MEMCPY_H2D, sid);
        q->bulk_bytes = n;
        switch (sem_pass_h2d_to(&shim_g.pol, q, (uint64_t)(uintptr_t)dst)) {
        case SEM_H2D_CACHED:
            return h2d_cached((uint64_t)(uintptr_t)dst, src, n, sid);
        case SEM_H2D_DIRECT:
            return h2d_direct((uint64_t)(uintptr_t)dst, src, n, sid);
        case SEM_H2D_INLINE:
            break;
        }
        /* in pieces: a record's length is 32 bits, and a bounded piece lets the size
         * threshold flush a huge copy as it goes instead of growing one giant batch */
        for (size_t off = 0; off < n; off += SHIM_COPY_PIECE) {
            size_t k = n - off < SHIM_COPY_PIECE ? n - off : SHIM_COPY_PIECE;
            shim_rec r;
            shim_batch_begin(&r);
            uint8_t *p = SHIM_PUT(&r, MEMCPY_H2D, (uint64_t)(uintptr_t)dst + off, sid, k);
            if (!p)
                return shim_batch_fail(&r);
            memcpy(p, (const uint8_t *)src + off, k); /* captured now */
            shim_sem_range(shim_sem_op(SEM_OP_H2D, PROTO_OP_MEMCPY_H2D, sid),
                           (uint64_t)(uintptr_t)dst + off, k, SEM_W);
            e = shim_batch_commit(&r, SHIM_NO_STREAM, 0);
            if (r.committed)
                shim_g.stats.h2d_bytes += k;
            if (e != cudaSuccess)
                return e;
        }
        return cudaSuccess;
    }
    case cudaMemcpyDeviceToHost: {
        if ((e = check_dev(src, n)) != cudaSuccess)
            return e;
        if (is_dev(dst))
            return shim_set_error(cudaErrorInvalidValue);
        /* the reply of a replayed graph carries no data: Genie refuses D2H copies in a
         * capture (and the runtime refuses a synchronous one on the legacy stream then) */
        if (shim_g.ncaptures &&
            (e = shim_capture_forbid(sid, "a device-to-host copy")) != cudaSuccess)
            return e;
        uint64_t rb = shim_batch_reply_bytes();
        if ((e = d2h_record(dst, src, n, sid)) != cudaSuccess)
            return d2h_abandon(e, rb);
        /* an async copy into pinned memory is only visible after a sync, so it rides along
         * with the next flush; anything else must land before we return */
        if (async && shim_host_is_pinned(dst, n))
            return cudaSuccess;
        shim_g.clean_after = sid; /* the executor drains the stream to copy out */
        return shim_flush(SHIM_RT_SYNC);
    }
    case cudaMemcpyDeviceToDevice:
        if ((e = check_dev(dst, n)) != cudaSuccess || (e = check_dev(src, n)) != cudaSuccess)
            return e;
    {
        shim_rec r;
        shim_batch_begin(&r);
        if (!SHIM_PUT(&r, MEMCPY_D2D, (uint64_t)(uintptr_t)dst, (uint64_t)(uintptr_t)src, n, sid))
            return shim_batch_fail(&r);
        sem_op *o = shim_sem_op(SEM_OP_D2D, PROTO_OP_MEMCPY_D2D, sid);
        shim_sem_range(o, (uint64_t)(uintptr_t)src, n, SEM_R);
        shim_sem_range(o, (uint64_t)(uintptr_t)dst, n, SEM_W);
        return shim_batch_commit(&r, sid, 0);
    }
    default:
        return shim_set_error(cudaErrorInvalidMemcpyDirection);
    }
}

cudaError_t shim_impl_cudaMemcpy(void *dst, const void *src, size_t count,
                                 enum cudaMemcpyKind kind)
{
    shim_lock();
    cudaError_t e = memcpy_locked(dst, src, count, kind, NULL, 0);
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaMemcpyAsync(void *dst, const void *src, size_t count,
                                      enum cudaMemcpyKind kind, cudaStream_t stream)
{
    shim_lock();
    cudaError_t e = memcpy_locked(dst, src, count, kind, stream, 1);
    shim_unlock();
    return e;
}

static cudaError_t memset_locked(void *p, int value, size_t n, cudaStream_t stream)
{
    uint32_t sid;
    cudaError_t e = op_prologue(stream, &sid);
    if (e != cudaSuccess)
        return e;
    if (n == 0)
        return cudaSuccess;
    if ((e = check_dev(p, n)) != cudaSuccess)
        return e;
    shim_rec r;
    shim_batch_begin(&r);
    if (!SHIM_PUT(&r, MEMSET, (uint64_t)(uintptr_t)p, n, (uint32_t)value & 0xffu, sid))
        return shim_batch_fail(&r);
    shim_sem_range(shim_sem_op(SEM_OP_MEMSET, PROTO_OP_MEMSET, sid), (uint64_t)(uintptr_t)p, n,
                   SEM_W);
    return shim_batch_commit(&r, sid, 0);
}

cudaError_t shim_impl_cudaMemset(void *devPtr, int value, size_t count)
{
    shim_lock();
    cudaError_t e = memset_locked(devPtr, value, count, NULL);
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaMemsetAsync(void *devPtr, int value, size_t count, cudaStream_t stream)
{
    shim_lock();
    cudaError_t e = memset_locked(devPtr, value, count, stream);
    shim_unlock();
    return e;
}

/* ---- pitched (2D) copies and memsets ----
 * A pitched copy is height rows of width bytes, row r at dst + r*dpitch and src + r*spitch.
 * When both pitches equal the width the rows are contiguous and it is one plain copy. Else
 * H2D and D2D rows are recorded one copy record each (captured like any copy during a
 * capture), and D2H rows are one MEMCPY_D2H record each whose R_DATA lands at its row: the
 * rows come back in the one reply of the one flush, scattered into place by the reply walk,
 * so a pageable D2H of any number of rows is one round trip. Every device row must lie in
 * one live allocation: the span [p, p + (height-1)*pitch + width) is checked as a whole. */

/* (height-1)*pitch + width, or 0 when it overflows (callers rule out width or height 0). */
static size_t span_2d(size_t pitch, size_t width, size_t height)
{
    if (height - 1 > (SIZE_MAX - width) / (pitch ? pitch : 1))
        return 0;
    return (height - 1) * pitch + width;
}

/* The largest pitch the device takes (cudaDevAttrMaxPitch), 0 when the device says none. */
static size_t max_pitch(void)
{
    int32_t m = shim_g.dev[0].attrs[CU_DEVICE_ATTRIBUTE_MAX_PITCH];
    return m > 0 ? (size_t)m : 0;
}

static cudaError_t memcpy2d_locked(void *dst, size_t dpitch, const void *src, size_t spitch,
                                   size_t width, size_t height, enum cudaMemcpyKind kind,
                                   cudaStream_t stream, int async)
{
    uint32_t sid;
    cudaError_t e = op_prologue(stream, &sid);
    if (e != cudaSuccess)
        return e;
    if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault)
        return shim_set_error(cudaErrorInvalidMemcpyDirection);
    if (width == 0 || height == 0)
        return cudaSuccess;
    /* "width must not exceed either dpitch or spitch"; nor may a pitch exceed the device's
     * limit */
    size_t mp = max_pitch();
    if (width > dpitch || width > spitch || (mp && (dpitch > mp || spitch > mp)))
        return shim_set_error(cudaErrorInvalidPitchValue);
    if (!dst || !src)
        return shim_set_error(cudaErrorInvalidValue);
    if (height == 1 || (dpitch == width && spitch == width)) {
        size_t n = span_2d(width, width, height);
        if (!n)
            return shim_set_error(cudaErrorInvalidValue);
        return memcpy_locked(dst, src, n, kind, stream, async);
    }
    if (kind == cudaMemcpyDefault)
        kind = is_dev(dst) ? (is_dev(src) ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                           : (is_dev(src) ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
    size_t dspan = span_2d(dpitch, width, height), sspan = span_2d(spitch, width, height);
    if (!dspan || !sspan)
        return shim_set_error(cudaErrorInvalidValue);
    int ddev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    int sdev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if ((ddev && (e = check_dev(dst, dspan)) != cudaSuccess) ||
        (sdev && (e = check_dev(src, sspan)) != cudaSuccess))
        return e;
    if ((!ddev && is_dev(dst)) || (!sdev && is_dev(src)))
        return shim_set_error(cudaErrorInvalidValue);
    const uint8_t *s = src;
    uint8_t *d = dst;
    switch (kind) {
    case cudaMemcpyHostToHost:
        if (!async && (e = shim_flush(SHIM_RT_SYNC)) != cudaSuccess)
            return e;
        for (size_t r = 0; r < height; r++)
            memmove(d + r * dpitch, s + r * spitch, width);
        return cudaSuccess;
    case cudaMemcpyDeviceToHost:
        if (shim_g.ncaptures &&
            (e = shim_capture_forbid(sid, "a device-to-host copy")) != cudaSuccess)
            return e;
        uint64_t rb = shim_batch_reply_bytes();
        for (size_t r = 0; r < height; r++)
            if ((e = d2h_record(d + r * dpitch, s + r * spitch, width, sid)) != cudaSuccess)
                return d2h_abandon(e, rb);
        if (async && shim_host_is_pinned(dst, dspan))
            return cudaSuccess; /* rides along with the next flush, as a 1D copy does */
        shim_g.clean_after = sid;
        return shim_flush(SHIM_RT_SYNC);
    default: /* H2D (captured, direct or not, per row as a 1D copy) and D2D */
        for (size_t r = 0; r < height; r++)
            if ((e = memcpy_locked(d + r * dpitch, s + r * spitch, width, kind, stream, async)) !=
                cudaSuccess)
                return e;
        return cudaSuccess;
    }
}

cudaError_t shim_impl_cudaMemcpy2D(void *dst, size_t dpitch, const void *src, size_t spitch,
                                   size_t width, size_t height, enum cudaMemcpyKind kind)
{
    shim_lock();
    cudaError_t e = memcpy2d_locked(dst, dpitch, src, spitch, width, height, kind, NULL, 0);
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch,
                                        size_t width, size_t height, enum cudaMemcpyKind kind,
                                        cudaStream_t stream)
{
    shim_lock();
    cudaError_t e = memcpy2d_locked(dst, dpitch, src, spitch, width, height, kind, stream, 1);
    shim_unlock();
    return e;
}

static cudaError_t memset2d_locked(void *p, size_t pitch, int value, size_t width, size_t height,
                                   cudaStream_t stream)
{
    uint32_t sid;
    cudaError_t e = op_prologue(stream, &sid);
    if (e != cudaSuccess)
        return e;
    if (width == 0 || height == 0)
        return cudaSuccess;
    if (width > pitch) /* rows would overlap: the driver refuses it */
        return shim_set_error(cudaErrorInvalidValue);
    size_t span = span_2d(pitch, width, height);
    if (!span)
        return shim_set_error(cudaErrorInvalidValue);
    if ((e = check_dev(p, span)) != cudaSuccess)
        return e;
    if (height == 1 || pitch == width)
        return memset_locked(p, value, span, stream);
    for (size_t r = 0; r < height; r++)
        if ((e = memset_locked((uint8_t *)p + r * pitch, value, width, stream)) != cudaSuccess)
            return e;
    return cudaSuccess;
}

cudaError_t shim_impl_cudaMemset2D(void *devPtr, size_t pitch, int value, size_t width,
                                   size_t height)
{
    shim_lock();
    cudaError_t e = memset2d_locked(devPtr, pitch, value, width, height, NULL);
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaMemset2DAsync(void *devPtr, size_t pitch, int value, size_t width,
                                        size_t height, cudaStream_t stream)
{
    shim_lock();
    cudaError_t e = memset2d_locked(devPtr, pitch, value, width, height, stream);
    shim_unlock();
    return e;
}

/* Rows padded to a multiple of 512 bytes (the texture pitch alignment of current GPUs is
 * smaller; any pitch >= width is valid, and callers must use the one returned). */
cudaError_t shim_impl_cudaMallocPitch(void **devPtr, size_t *pitch, size_t width, size_t height)
{
    size_t pp = width ? (width + 511) & ~(size_t)511 : 512;
    if (pp < width || (height && pp > SIZE_MAX / height))
        return shim_set_error(cudaErrorMemoryAllocation);
    cudaError_t e = shim_impl_cudaMalloc(devPtr, pp * height);
    if (e == cudaSuccess)
        *pitch = pp;
    return e;
}

/* ---- peer copies: Genie shows one device, so a peer copy is a copy inside device 0 ---- */

static cudaError_t peer_copy(void *dst, int dstDevice, const void *src, int srcDevice,
                             size_t count, cudaStream_t stream)
{
    if (dstDevice != 0 || srcDevice != 0)
        return shim_set_error(cudaErrorInvalidDevice);
    shim_lock();
    /* "asynchronous with respect to the host", ordered with the device's other work */
    cudaError_t e = memcpy_locked(dst, src, count, cudaMemcpyDeviceToDevice, stream, 1);
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaMemcpyPeer(void *dst, int dstDevice, const void *src, int srcDevice,
                                     size_t count)
{
    return peer_copy(dst, dstDevice, src, srcDevice, count, NULL);
}

cudaError_t shim_impl_cudaMemcpyPeerAsync(void *dst, int dstDevice, const void *src,
                                          int srcDevice, size_t count, cudaStream_t stream)
{
    return peer_copy(dst, dstDevice, src, srcDevice, count, stream);
}
