/* ops_lib.c — forwarded cuBLAS calls: library loading, the LIB_CALL op, argument decoding. */
#include "remote/exec_lib_int.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/gen/exec_lib.h"

static void load_libs(exec_ctx *ctx)
{
    /* every forwarded call comes here: once loaded, no lock (ctx->lock is also held across
     * module loads) */
    if (__atomic_load_n(&ctx->lib_loaded, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&ctx->lock);
    if (!ctx->lib_loaded) {
        const char *pb = genie_env_str("GENIE_CUBLAS_LIB", "libcublas.so.13");
        const char *pl = genie_env_str("GENIE_CUBLASLT_LIB", "libcublasLt.so.13");
        char err[512];
        ctx->cublas = exec_dlopen(pb, err, sizeof err);
        if (!ctx->cublas)
            GENIE_ERROR("cuBLAS: %s; cuBLAS calls will fail", err);
        ctx->cublaslt = exec_dlopen(pl, err, sizeof err);
        if (!ctx->cublaslt)
            GENIE_ERROR("cuBLASLt: %s; cuBLASLt calls will fail", err);
        ctx->lib = calloc(1, sizeof *ctx->lib);
        if (ctx->lib)
            exec_lib_resolve(ctx->cublas, ctx->cublaslt, ctx->lib);
        __atomic_store_n(&ctx->lib_loaded, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&ctx->lock);
}

void *exec_lib_cublas(exec_ctx *ctx)
{
    load_libs(ctx);
    return ctx->cublas;
}

void *exec_lib_cublaslt(exec_ctx *ctx)
{
    load_libs(ctx);
    return ctx->cublaslt;
}

const exec_lib_fns *exec_lib_table(exec_session *s)
{
    static exec_lib_fns none;
    load_libs(s->ctx);
    return s->ctx->lib ? s->ctx->lib : &none;
}

void exec_lib_session_close(exec_session *s)
{
    if (s->blas.cap && s->ctx->lib && s->ctx->lib->cublasDestroy_v2)
        for (uint32_t i = 0; i < s->blas.cap; i++)
            if (s->blas.vals[i])
                s->ctx->lib->cublasDestroy_v2((cublasHandle_t)s->blas.vals[i]);
    exec_idmap_free(&s->blas);
}

int exec_op_LIB_CALL(exec_session *s, uint32_t index, const proto_LIB_CALL *a)
{
    return exec_lib_dispatch(s, index, a->api, a->args, a->args_len);
}

/* ---------------------------------------------------------------- decoding ---- */

void exec_lib_rd_init(exec_lib_rd *r, const uint8_t *args, size_t n)
{
    memset(r, 0, offsetof(exec_lib_rd, scalars));
    r->p = args;
    r->end = args + n;
    r->nscalars = 0;
}

static int take(exec_lib_rd *r, void *dst, size_t n)
{
    if (r->err)
        return -1;
    if ((size_t)(r->end - r->p) < n) {
        r->err = GENIE_EPROTO;
        snprintf(r->why, sizeof r->why, "arguments end early");
        return -1;
    }
    memcpy(dst, r->p, n);
    r->p += n;
    return 0;
}

static void bad(exec_lib_rd *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bad(exec_lib_rd *r, int err, const char *fmt, ...)
{
    if (r->err)
        return;
    r->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

void *exec_lib_handle(exec_session *s, exec_lib_rd *r)
{
    uint32_t id;
    if (take(r, &id, 4))
        return NULL;
    void *h = exec_idmap_get(&s->blas, id);
    if (!h)
        bad(r, GENIE_EHANDLE, "unknown cuBLAS handle %u", id);
    return h;
}

void *exec_lib_hnew(exec_session *s, exec_lib_rd *r)
{
    uint32_t id;
    if (take(r, &id, 4))
        return NULL;
    if (id == 0 || exec_idmap_get(&s->blas, id))
        bad(r, GENIE_EINVAL, "cuBLAS handle ID %u in use", id);
    r->has_new = 1;
    r->new_id = id;
    return &r->new_handle;
}

void *exec_lib_hdel(exec_session *s, exec_lib_rd *r)
{
    void *h = exec_lib_handle(s, r);
    if (h) {
        r->has_del = 1;
        memcpy(&r->del_id, r->p - 4, 4);
    }
    return h;
}

void *exec_lib_stream(exec_session *s, exec_lib_rd *r)
{
    uint32_t id;
    if (take(r, &id, 4))
        return NULL;
    if (id == 0 || id == 1 || id == 2)
        return NULL; /* the legacy default stream */
    void *st = exec_idmap_get(&s->streams, id);
    if (!st)
        bad(r, GENIE_EHANDLE, "unknown stream %u", id);
    return st;
}

void exec_lib_val(exec_lib_rd *r, void *dst, size_t n)
{
    if (take(r, dst, n))
        memset(dst, 0, n);
}

void *exec_lib_dev(exec_session *s, exec_lib_rd *r)
{
    uint64_t p;
    (void)s; /* checked over its whole extent by exec_lib_ranges, once all arguments are in */
    if (take(r, &p, 8))
        return NULL;
    return (void *)(uintptr_t)p;
}

int exec_lib_ranges(exec_session *s, exec_lib_rd *r, const proto_buf *b, int n)
{
    for (int i = 0; i < n && !r->err; i++) {
        if (!b[i].ptr)
            continue;
        if (b[i].bytes == PROTO_EXT_UNKNOWN)
            bad(r, GENIE_ERANGE, "%s (%#llx): its extent overflows or cannot be computed",
                b[i].name, (unsigned long long)b[i].ptr);
        /* a call that touches nothing (n = 0) still names memory of this session */
        else if (!exec_range_ok(s, b[i].ptr, b[i].bytes ? b[i].bytes : 1))
            bad(r, GENIE_ERANGE, "%s (%#llx, %llu bytes) is not in this session's memory",
                b[i].name, (unsigned long long)b[i].ptr, (unsigned long long)b[i].bytes);
    }
    return r->err;
}

/* The matrices behind a pointer array are named in device memory, so the array is read
 * here: after everything queued before the call on the handle's stream (the call's own order:
 * a kernel or copy earlier in the batch may have written the array), by a copy on that stream.
 * This costs a stream drain per such call; batched calls with pointer arrays are rare (PyTorch's
 * bmm is strided). Between the read and the call another stream of the same session could
 * rewrite the array; with a worker process per session that reaches only the session's own
 * address space (docs/operations.md). */
int exec_lib_ptr_arrays(exec_session *s, exec_lib_rd *r, void *handle, const proto_buf *b, int n)
{
    exec_driver *d = &s->ctx->drv;
    for (int i = 0; i < n && !r->err; i++) {
        if (!(b[i].flags & PROTO_BUF_PTRS) || !b[i].ptr || !b[i].bytes || !b[i].each)
            continue; /* no array, no entry, or matrices of no extent (m = 0) */
        if (b[i].each == PROTO_EXT_UNKNOWN) {
            bad(r, GENIE_ERANGE, "%s: the extent of its matrices overflows or cannot be computed",
                b[i].name);
            break;
        }
        uint64_t count = b[i].bytes / sizeof(uint64_t);
        uint64_t *v = malloc((size_t)b[i].bytes); /* the array lies in session memory: bounded */
        cudaStream_t st = NULL;
        const exec_lib_fns *f = exec_lib_table(s);
        char nm[64];
        CUresult cr = CUDA_SUCCESS;
        if (!v) {
            bad(r, GENIE_ENOMEM, "%s: no memory to read its %llu pointers", b[i].name,
                (unsigned long long)count);
        } else if (!f->cublasGetStream_v2 || f->cublasGetStream_v2(handle, &st)) {
            bad(r, GENIE_EHANDLE, "%s: the handle's stream cannot be read", b[i].name);
        } else if ((cr = d->MemcpyDtoHAsync(v, (CUdeviceptr)b[i].ptr, (size_t)b[i].bytes,
                                            (CUstream)st)) ||
                   (cr = d->StreamSynchronize((CUstream)st))) {
            bad(r, GENIE_ERANGE, "%s (%#llx): reading its %llu pointers failed: %s", b[i].name,
                (unsigned long long)b[i].ptr, (unsigned long long)count,
                exec_cu_name(d, cr, nm, sizeof nm));
        } else {
            for (uint64_t j = 0; j < count; j++) {
                if (!v[j]) {
                    bad(r, GENIE_ERANGE, "%s[%llu] is NULL", b[i].name, (unsigned long long)j);
                    break;
                }
                if (!exec_range_ok(s, v[j], b[i].each)) {
                    bad(r, GENIE_ERANGE,
                        "%s[%llu] (%#llx, %llu bytes) is not in this session's memory",
                        b[i].name, (unsigned long long)j, (unsigned long long)v[j],
                        (unsigned long long)b[i].each);
                    break;
                }
            }
        }
        free(v);
    }
    return r->err;
}

const void *exec_lib_scalar(exec_session *s, exec_lib_rd *r)
{
    uint32_t kind, size;
    uint8_t v[16];
    if (take(r, &kind, 4) || take(r, &size, 4) || take(r, v, 16))
        return NULL;
    if (kind == 1) {
        uint64_t p;
        memcpy(&p, v, 8);
        if (!exec_range_ok(s, p, size))
            bad(r, GENIE_ERANGE, "scalar pointer %#llx is not in this session's memory",
                (unsigned long long)p);
        return (const void *)(uintptr_t)p;
    }
    if (kind != 0 || size > 16 || r->nscalars == 4) {
        bad(r, GENIE_EPROTO, "bad scalar (kind %u, %u bytes)", kind, size);
        return NULL;
    }
    memcpy(r->scalars[r->nscalars], v, 16);
    return r->scalars[r->nscalars++];
}

void *exec_lib_result(exec_session *s, exec_lib_rd *r)
{
    uint32_t kind, size;
    uint64_t p;
    if (take(r, &kind, 4) || take(r, &size, 4) || take(r, &p, 8))
        return NULL;
    if (size > sizeof r->result_buf) {
        bad(r, GENIE_EPROTO, "result of %u bytes", size);
        return NULL;
    }
    if (kind == 0) {
        if (r->result_host) { /* one buffer: a second host output cannot come back */
            bad(r, GENIE_EPROTO, "a second host result");
            return NULL;
        }
        r->result_host = 1;
        r->result_size = size;
        memset(r->result_buf, 0, sizeof r->result_buf); /* nothing of this stack goes back */
        return r->result_buf;
    }
    if (!exec_range_ok(s, p, size))
        bad(r, GENIE_ERANGE, "result pointer %#llx is not in this session's memory",
            (unsigned long long)p);
    return (void *)(uintptr_t)p;
}

/* HOUT: the callee takes a host pointer whatever its pointer mode, so a device kind here
 * would hand it an address it must not write through. */
void *exec_lib_hout(exec_session *s, exec_lib_rd *r)
{
    uint32_t kind;
    if (!r->err && (size_t)(r->end - r->p) >= 4) {
        memcpy(&kind, r->p, 4);
        if (kind != 0) {
            bad(r, GENIE_EPROTO, "host output of kind %u", kind);
            return NULL;
        }
    }
    void *p = exec_lib_result(s, r);
    if (p)
        r->result_hout = 1;
    return p;
}

/* Real cuBLAS keeps whatever stream a handle was given, dead or not: a call after the stream
 * is destroyed is the program's bug, and here it would reach a CUstream that the driver may
 * have handed to another session since. So the handles bound to a dying stream go back to the
 * NULL stream (which also resets their workspace to the default pool), and the shim's mirror
 * says the same: cublasGetStream_v2 answers NULL after the destroy (shim/blas.c). */
void exec_lib_stream_gone(exec_session *s, void *stream)
{
    const exec_lib_fns *f = s->ctx->lib;
    if (!stream || !s->blas.cap || !f || !f->cublasGetStream_v2 || !f->cublasSetStream_v2)
        return;
    for (uint32_t i = 0; i < s->blas.cap; i++) {
        cudaStream_t cur = NULL;
        cublasHandle_t h = (cublasHandle_t)s->blas.vals[i];
        if (h && f->cublasGetStream_v2(h, &cur) == CUBLAS_STATUS_SUCCESS &&
            cur == (cudaStream_t)stream) {
            int st = (int)f->cublasSetStream_v2(h, NULL);
            if (st != CUBLAS_STATUS_SUCCESS)
                GENIE_ERROR("session %u: cublasSetStream_v2(NULL) on a handle of a destroyed "
                            "stream: status %d",
                            s->id, st);
        }
    }
}

int exec_blas_cuda_err(int status)
{
    switch (status) {
    case CUBLAS_STATUS_SUCCESS:
        return EXEC_cudaSuccess;
    case CUBLAS_STATUS_ALLOC_FAILED:
        return EXEC_cudaErrorMemoryAllocation;
    case CUBLAS_STATUS_NOT_SUPPORTED:
    case CUBLAS_STATUS_ARCH_MISMATCH:
        return EXEC_cudaErrorNotSupported;
    case CUBLAS_STATUS_EXECUTION_FAILED:
        return 719; /* cudaErrorLaunchFailure */
    case CUBLAS_STATUS_NOT_INITIALIZED:
        return EXEC_cudaErrorInitializationError;
    default: /* INVALID_VALUE, MAPPING_ERROR, INTERNAL_ERROR, LICENSE_ERROR */
        return EXEC_cudaErrorInvalidValue;
    }
}

int exec_lib_done(exec_session *s, uint32_t index, exec_lib_rd *r, int status, const char *name)
{
    if (status != CUBLAS_STATUS_SUCCESS) {
        /* A host output (HOUT: int *info) is written by a failing call too (info = -i for a
         * bad argument i): it goes back ahead of the error, into the client's slot. */
        if (r->result_hout) {
            uint8_t *p = proto_put_R_DATA(&s->reply, index, r->result_size);
            if (!p)
                return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "%s: reply", name);
            memcpy(p, r->result_buf, r->result_size);
        }
        /* the cuBLAS status rides in cu_result; the client turns it back into a status */
        return exec_fail(s, index, exec_blas_cuda_err(status), status, "%s: cuBLAS status %d",
                         name, status);
    }
    if (r->has_new && exec_idmap_put(&s->blas, r->new_id, r->new_handle)) {
        if (s->ctx->lib->cublasDestroy_v2)
            s->ctx->lib->cublasDestroy_v2((cublasHandle_t)r->new_handle);
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "%s: out of memory", name);
    }
    if (r->has_del)
        exec_idmap_del(&s->blas, r->del_id);
    if (r->result_host) {
        uint8_t *p = proto_put_R_DATA(&s->reply, index, r->result_size);
        if (!p)
            return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "%s: reply", name);
        memcpy(p, r->result_buf, r->result_size);
    }
    return 0;
}

int exec_lib_bad(exec_session *s, uint32_t index, exec_lib_rd *r, const char *name)
{
    int ce = r->err == GENIE_EHANDLE ? EXEC_cudaErrorInvalidResourceHandle : EXEC_cudaErrorInvalidValue;
    return exec_fail(s, index, ce, 0, "%s: %s", name, r->why);
}

int exec_lib_missing(exec_session *s, uint32_t index, const char *name)
{
    return exec_fail(s, index, EXEC_cudaErrorNotSupported, CUBLAS_STATUS_NOT_SUPPORTED,
                     "%s: not available in the executor's libraries", name);
}

int exec_lib_unknown(exec_session *s, uint32_t index, uint32_t api)
{
    return exec_fail(s, index, EXEC_cudaErrorNotSupported, CUBLAS_STATUS_NOT_SUPPORTED,
                     "LIB_CALL: API %#x is not forwarded by this executor", api);
}
