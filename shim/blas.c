/* blas.c — cuBLAS on the client: handles mirrored locally, calls recorded as LIB_CALL records. */
#include "shim/shim_blas.h"

#include "protocol/graph.h"

#include <stdlib.h>
#include <string.h>

shim_blas_handle *shim_blas_handle_of(cublasHandle_t h)
{
    /* looked up, not read through: a destroyed handle is never dereferenced */
    shim_lock();
    shim_blas_handle *b = shim_handle_is(h, SHIM_BLAS_MAGIC) ? (shim_blas_handle *)h : NULL;
    shim_unlock();
    return b;
}

cublasStatus_t shim_deny_blas(unsigned apix)
{
    shim_deny_note(apix, "CUBLAS_STATUS_NOT_SUPPORTED");
    return CUBLAS_STATUS_NOT_SUPPORTED;
}

cublasStatus_t shim_bad_blas_arg(unsigned apix, const char *arg)
{
    GENIE_DEBUG("%s: %s is NULL", genie_api_table[apix].name, arg);
    return CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t shim_blas_status(cudaError_t e)
{
    switch (e) {
    case cudaSuccess:
        return CUBLAS_STATUS_SUCCESS;
    case cudaErrorMemoryAllocation:
        return CUBLAS_STATUS_ALLOC_FAILED;
    case cudaErrorNotSupported:
        return CUBLAS_STATUS_NOT_SUPPORTED;
    case cudaErrorInvalidValue:
    case cudaErrorInvalidResourceHandle:
        return CUBLAS_STATUS_INVALID_VALUE;
    case cudaErrorInitializationError:
        return CUBLAS_STATUS_NOT_INITIALIZED;
    default:
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
}

size_t shim_blas_scalar_size(cublasComputeType_t t)
{
    switch (t) {
    case CUBLAS_COMPUTE_16F:
    case CUBLAS_COMPUTE_16F_PEDANTIC:
        return 2;
    case CUBLAS_COMPUTE_64F:
    case CUBLAS_COMPUTE_64F_PEDANTIC:
        return 8;
    default: /* 32F and its fast/pedantic forms, 32I */
        return 4;
    }
}

/* ------------------------------------------------------------- the recorder ---- */

int shim_lib_begin(shim_lib_call *c, unsigned api, size_t args_len)
{
    memset(c, 0, sizeof *c);
    c->api = api;
    SHIM_HELD(); /* the generated wrapper holds the lock */
    cudaError_t e = shim_ensure();
    if (e != cudaSuccess) {
        c->status = CUBLAS_STATUS_NOT_INITIALIZED;
        return 1;
    }
    shim_batch_begin(&c->rec);
    c->p = SHIM_PUT(&c->rec, LIB_CALL, api, args_len);
    if (!c->p) {
        c->status = CUBLAS_STATUS_ALLOC_FAILED;
        shim_batch_rollback(&c->rec);
        return 1;
    }
    c->end = c->p + args_len;
    c->op = shim_sem_op(SEM_OP_LIB, PROTO_OP_LIB_CALL, 0);
    c->op->api = api;
    return 0;
}

/* Caller holds the lock. A stream destroyed since it was set is no longer live under its ID
 * (or its address now belongs to another stream): the executor has put the handle back on
 * the NULL stream when it destroyed the stream (remote/ops_lib.c, exec_lib_stream_gone), and
 * the mirror follows. Real cuBLAS would keep the dead stream; the decision is explained there. */
static void mirror_check_stream(shim_blas_handle *b)
{
    if (b->stream && shim_stream_id(b->stream) != b->stream_id) {
        b->stream = NULL;
        b->stream_id = 0;
        b->workspace_user = 0; /* cublasSetStream resets the workspace to the default pool */
        b->workspace_reset_due = 0;
    }
}

int shim_lib_begin_on(shim_lib_call *c, cublasHandle_t h, unsigned api, size_t args_len)
{
    SHIM_HELD(); /* the generated wrapper holds the lock */
    shim_blas_handle *b = shim_blas_handle_of(h);
    if (b) {
        mirror_check_stream(b);
        if (b->workspace_reset_due) {
            /* the SetStream that was elided: its workspace reset is due before this call */
            cublasStatus_t st = shim_rec_cublasSetStream_v2(h, b->stream);
            if (st != CUBLAS_STATUS_SUCCESS) {
                memset(c, 0, sizeof *c);
                c->status = st;
                return 1;
            }
            b->workspace_user = 0;
            b->workspace_reset_due = 0;
        }
    }
    int r = shim_lib_begin(c, api, args_len);
    c->checked = b; /* looked up under this hold: shim_lib_handle need not look again */
    return r;
}

static void put(shim_lib_call *c, const void *v, size_t n)
{
    if (c->status || (size_t)(c->end - c->p) < n) {
        if (!c->status)
            c->status = CUBLAS_STATUS_INTERNAL_ERROR;
        return;
    }
    memcpy(c->p, v, n);
    c->p += n;
}

void shim_lib_handle(shim_lib_call *c, cublasHandle_t h)
{
    c->h = c->checked && (cublasHandle_t)c->checked == h ? c->checked : shim_blas_handle_of(h);
    if (!c->h) {
        c->status = CUBLAS_STATUS_NOT_INITIALIZED;
        return;
    }
    put(c, &c->h->id, 4);
}

void shim_lib_hnew(shim_lib_call *c, cublasHandle_t *out)
{
    shim_blas_handle *b = calloc(1, sizeof *b);
    if (!b) {
        c->status = CUBLAS_STATUS_ALLOC_FAILED;
        return;
    }
    b->magic = SHIM_BLAS_MAGIC;
    b->id = shim_g.next_blas++;
    /* cuBLAS's defaults for a new handle: the NULL stream, the default workspace pool
     * (workspace_user 0), host pointer mode, default math, no atomics */
    b->stream = NULL;
    b->pointer_mode = CUBLAS_POINTER_MODE_HOST;
    b->math_mode = CUBLAS_DEFAULT_MATH;
    b->atomics_mode = CUBLAS_ATOMICS_NOT_ALLOWED;
    c->created = b;
    c->h = b;
    *out = (cublasHandle_t)b;
    put(c, &b->id, 4);
}

void shim_lib_hdel(shim_lib_call *c, cublasHandle_t h)
{
    shim_lib_handle(c, h);
    c->destroyed = c->h;
}

void shim_lib_stream(shim_lib_call *c, cudaStream_t s)
{
    uint32_t id = shim_stream_id(s);
    if (id == UINT32_MAX) {
        c->status = CUBLAS_STATUS_INVALID_VALUE;
        return;
    }
    put(c, &id, 4);
}

void shim_lib_val(shim_lib_call *c, const void *v, size_t n)
{
    if (n == 4 || n == 8) {
        int32_t i4;
        int64_t i8;
        if (n == 4)
            memcpy(&i4, v, 4), i8 = i4;
        else
            memcpy(&i8, v, 8);
        if (c->nvals < sizeof c->vals / sizeof c->vals[0])
            c->vals[c->nvals] = i8;
        c->nvals++;
    }
    put(c, v, n);
}

void shim_lib_dev(shim_lib_call *c, const void *p)
{
    uint64_t v = (uint64_t)(uintptr_t)p;
    put(c, &v, 8); /* its range comes with the others from shim_lib_bufs */
}

void shim_lib_bufs(shim_lib_call *c, const proto_buf *b, int n)
{
    for (int i = 0; i < n; i++) {
        if (!b[i].ptr)
            continue;
        if (b[i].flags & PROTO_BUF_PTRS) {
            /* an array of device pointers: read; the matrices it names may be anywhere, and
             * an unknown range at an address no allocation holds overlaps everything */
            if (b[i].bytes && b[i].bytes != PROTO_EXT_UNKNOWN)
                shim_sem_range(c->op, b[i].ptr, b[i].bytes, SEM_R);
            shim_sem_range(c->op, 0, SEM_SIZE_UNKNOWN, SEM_RW);
            continue;
        }
        if (b[i].bytes == 0)
            continue; /* the call touches nothing through it (n = 0) */
        unsigned mode = b[i].role == PROTO_BUF_IN ? SEM_R : b[i].role == PROTO_BUF_OUT ? SEM_W
                                                                                      : SEM_RW;
        /* an extent that overflows is refused by the executor; here it is merely unknown */
        shim_sem_range(c->op, b[i].ptr,
                       b[i].bytes == PROTO_EXT_UNKNOWN ? SEM_SIZE_UNKNOWN : b[i].bytes, mode);
    }
}

/* For the GEMM family: the shape from the VAL arguments in order (transa, transb, m, n, k,
 * then for the Ex forms Atype), the element type from the name or Atype, the batch count
 * from its place (last VAL of the typed batched forms, third from last of the Ex ones). */
static void lib_gemm(shim_lib_call *c)
{
    enum { EX = 1, BATCHED = 2 };
    int dtype, f;
    switch (c->api) {
#define G(name, dt, fl)                                                                        \
    case GENIE_API_cublas##name:                                                               \
    case GENIE_API_cublas##name##_64:                                                          \
        dtype = dt;                                                                            \
        f = fl;                                                                                \
        break;
        G(Sgemm_v2, CUDA_R_32F, 0)
        G(Dgemm_v2, CUDA_R_64F, 0)
        G(Cgemm_v2, CUDA_C_32F, 0)
        G(Zgemm_v2, CUDA_C_64F, 0)
        G(SgemmEx, -1, EX)
        G(GemmEx, -1, EX)
        G(CgemmEx, -1, EX)
        G(SgemmBatched, CUDA_R_32F, BATCHED)
        G(DgemmBatched, CUDA_R_64F, BATCHED)
        G(SgemmStridedBatched, CUDA_R_32F, BATCHED)
        G(DgemmStridedBatched, CUDA_R_64F, BATCHED)
        G(GemmBatchedEx, -1, EX | BATCHED)
        G(GemmStridedBatchedEx, -1, EX | BATCHED)
#undef G
    case GENIE_API_cublasHgemm:
        dtype = CUDA_R_16F;
        f = 0;
        break;
    case GENIE_API_cublasHgemmStridedBatched:
        dtype = CUDA_R_16F;
        f = BATCHED;
        break;
    default:
        return;
    }
    const int64_t *v = c->vals;
    const uint32_t cap = sizeof c->vals / sizeof c->vals[0];
    if (c->nvals < ((f & EX) ? 6u : 5u) + ((f & BATCHED) ? 1u : 0u) || c->nvals > cap)
        return;
    c->op->kind = SEM_OP_GEMM;
    c->op->gemm = (sem_gemm){
        .m = (int32_t)v[2],
        .n = (int32_t)v[3],
        .k = (int32_t)v[4],
        .batch = !(f & BATCHED) ? 1 : (int32_t)v[c->nvals - ((f & EX) ? 3 : 1)],
        .dtype = (int8_t)((f & EX) ? v[5] : dtype),
        .transa = (uint8_t)v[0],
        .transb = (uint8_t)v[1],
    };
}

void shim_lib_scalar(shim_lib_call *c, const void *p, size_t n)
{
    uint8_t v[16] = {0};
    uint32_t kind = c->h && c->h->pointer_mode == CUBLAS_POINTER_MODE_DEVICE ? SHIM_LIB_DEVICE
                                                                            : SHIM_LIB_HOST;
    uint32_t size = (uint32_t)n;
    if (!p || n > 16) {
        if (!c->status)
            c->status = CUBLAS_STATUS_INVALID_VALUE;
        return;
    }
    if (kind == SHIM_LIB_HOST) {
        memcpy(v, p, n); /* the value is captured now, as the real library reads it now */
    } else {
        uint64_t a = (uint64_t)(uintptr_t)p;
        memcpy(v, &a, 8);
    }
    put(c, &kind, 4);
    put(c, &size, 4);
    put(c, v, 16);
}

void shim_lib_result(shim_lib_call *c, void *p, size_t n)
{
    uint32_t kind = c->h && c->h->pointer_mode == CUBLAS_POINTER_MODE_DEVICE ? SHIM_LIB_DEVICE
                                                                            : SHIM_LIB_HOST;
    uint32_t size = (uint32_t)n;
    uint64_t a = kind == SHIM_LIB_DEVICE ? (uint64_t)(uintptr_t)p : 0;
    if (!p) {
        if (!c->status)
            c->status = CUBLAS_STATUS_INVALID_VALUE;
        return;
    }
    if (kind == SHIM_LIB_HOST) {
        c->result = p;
        c->result_size = n;
    }
    put(c, &kind, 4);
    put(c, &size, 4);
    put(c, &a, 8);
}

/* RESULT's layout with the host kind. The executor sends it back also when the call fails
 * (ahead of the error), so *info says which argument was bad as real cuBLAS's does. */
void shim_lib_hout(shim_lib_call *c, void *p, size_t n)
{
    uint32_t kind = SHIM_LIB_HOST, size = (uint32_t)n;
    uint64_t a = 0;
    if (!p || n > 16 || c->result) {
        if (!c->status)
            c->status = p ? CUBLAS_STATUS_INTERNAL_ERROR : CUBLAS_STATUS_INVALID_VALUE;
        return;
    }
    c->result = p;
    c->result_size = n;
    put(c, &kind, 4);
    put(c, &size, 4);
    put(c, &a, 8);
}

int shim_lib_end(shim_lib_call *c)
{
    if (c->status) {
        /* nothing of a rejected call reaches the wire */
        shim_batch_rollback(&c->rec);
        free(c->created);
        return c->status;
    }
    cudaError_t e;
    /* the descriptor: the handle's stream; state setters are handle ops, not device work */
    if (c->h)
        c->op->stream = c->h->stream_id;
    if (proto_graph_lib_state(c->api))
        c->op->kind = SEM_OP_HANDLE;
    else
        lib_gemm(c);
    /* During a capture, work on a handle whose stream captures goes into the graph; calls
     * that change the handle run at once (protocol/graph.h). */
    uint32_t sid = shim_g.ncaptures && c->h && !proto_graph_lib_state(c->api)
                       ? shim_stream_id(c->h->stream)
                       : UINT32_MAX;
    if (sid != UINT32_MAX && c->result && (sid == 0 || shim_capturing(sid))) {
        /* a host result needs a sync, which a capture forbids */
        e = shim_capture_forbid(sid, "a cuBLAS call returning a host value");
        if (e != cudaSuccess) {
            shim_batch_rollback(&c->rec);
            free(c->created);
            return shim_blas_status(e);
        }
    }
    /* a created handle is live before its record is committed, so that a failure of either
     * leaves neither */
    if (c->created && shim_handle_add(c->created, SHIM_BLAS_MAGIC)) {
        shim_batch_rollback(&c->rec);
        free(c->created);
        return CUBLAS_STATUS_ALLOC_FAILED;
    }
    if (c->result) /* a host result: the value must be here before the call returns */
        shim_batch_want_reply(&c->rec, c->result, c->result_size);
    e = shim_batch_commit(&c->rec, sid != UINT32_MAX && !c->result ? sid : SHIM_NO_STREAM,
                          c->result ? SHIM_COMMIT_HOLD : 0);
    if (!c->rec.committed && !c->rec.captured) {
        /* rolled back whole (e.g. no room for the reply slot): the call did not happen */
        if (c->created)
            shim_handle_del(c->created);
        free(c->created);
        return e == cudaErrorMemoryAllocation ? CUBLAS_STATUS_ALLOC_FAILED : shim_blas_status(e);
    }
    if (c->result && e == cudaSuccess)
        e = shim_flush(SHIM_RT_SYNC);
    if (c->destroyed) {
        shim_handle_del(c->destroyed);
        c->destroyed->magic = 0;
        free(c->destroyed);
    }
    return shim_blas_status(e);
}

/* ------------------------------------------------------ local answers, mirrors ---- */

cublasStatus_t shim_impl_cublasGetVersion_v2(cublasHandle_t handle, int *version)
{
    (void)handle;
    *version = CUBLAS_VERSION;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t shim_impl_cublasGetProperty(libraryPropertyType type, int *value)
{
    switch (type) {
    case MAJOR_VERSION:
        *value = CUBLAS_VER_MAJOR;
        return CUBLAS_STATUS_SUCCESS;
    case MINOR_VERSION:
        *value = CUBLAS_VER_MINOR;
        return CUBLAS_STATUS_SUCCESS;
    case PATCH_LEVEL:
        *value = CUBLAS_VER_PATCH;
        return CUBLAS_STATUS_SUCCESS;
    default:
        return CUBLAS_STATUS_INVALID_VALUE;
    }
}

size_t shim_impl_cublasGetCudartVersion(void) { return CUDART_VERSION; }

const char *shim_impl_cublasGetStatusName(cublasStatus_t status)
{
    switch (status) {
#define S(x)                                                                                   \
    case x:                                                                                    \
        return #x;
        S(CUBLAS_STATUS_SUCCESS)
        S(CUBLAS_STATUS_NOT_INITIALIZED)
        S(CUBLAS_STATUS_ALLOC_FAILED)
        S(CUBLAS_STATUS_INVALID_VALUE)
        S(CUBLAS_STATUS_ARCH_MISMATCH)
        S(CUBLAS_STATUS_MAPPING_ERROR)
        S(CUBLAS_STATUS_EXECUTION_FAILED)
        S(CUBLAS_STATUS_INTERNAL_ERROR)
        S(CUBLAS_STATUS_NOT_SUPPORTED)
        S(CUBLAS_STATUS_LICENSE_ERROR)
#undef S
    default:
        return "CUBLAS_STATUS_UNKNOWN";
    }
}

const char *shim_impl_cublasGetStatusString(cublasStatus_t status)
{
    switch (status) {
    case CUBLAS_STATUS_SUCCESS:
        return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED:
        return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED:
        return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE:
        return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH:
        return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR:
        return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED:
        return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR:
        return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED:
        return "the functionality requested is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR:
        return "error detected trying to check the license";
    default:
        return "unknown error";
    }
}

#define WITH_HANDLE(h, b)                                                                      \
    shim_blas_handle *b = shim_blas_handle_of(h);                                              \
    if (!b)                                                                                    \
        return CUBLAS_STATUS_NOT_INITIALIZED;

cublasStatus_t shim_impl_cublasGetStream_v2(cublasHandle_t handle, cudaStream_t *streamId)
{
    shim_lock(); /* one hold: the handle and its stream cannot go away in between */
    shim_blas_handle *b = shim_blas_handle_of(handle);
    if (b) {
        mirror_check_stream(b);
        *streamId = b->stream;
    }
    shim_unlock();
    return b ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t shim_impl_cublasGetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t *mode)
{
    WITH_HANDLE(handle, b);
    *mode = b->pointer_mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t shim_impl_cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode)
{
    WITH_HANDLE(handle, b);
    *mode = b->math_mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t shim_impl_cublasGetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t *mode)
{
    WITH_HANDLE(handle, b);
    *mode = b->atomics_mode;
    return CUBLAS_STATUS_SUCCESS;
}

/* The setters validate what real cuBLAS validates, record only a change (the mirror is the
 * executor's state: a value it already has needs no record), and update the mirror once the
 * record is made. Each holds the lock throughout (nested holds only count): the handle cannot be destroyed
 * in between. A record that still fails remotely (the handle's create failed there) reports
 * its error at the next sync, like any recorded call. */
cublasStatus_t shim_impl_cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)
{
    shim_lock();
    shim_blas_handle *b = shim_blas_handle_of(handle);
    uint32_t id = shim_stream_id(streamId);
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (!b) {
        st = CUBLAS_STATUS_NOT_INITIALIZED;
    } else if (id == UINT32_MAX) {
        st = CUBLAS_STATUS_INVALID_VALUE; /* not a live stream: nothing changes */
    } else {
        mirror_check_stream(b);
        if (b->stream == streamId) {
            /* Same stream: only the workspace reset is left of the call; deferred, so that
             * PyTorch's SetStream + SetWorkspace(same buffer) before a GEMM records nothing. */
            b->workspace_reset_due = b->workspace_user;
        } else if ((st = shim_rec_cublasSetStream_v2(handle, streamId)) == CUBLAS_STATUS_SUCCESS) {
            b->stream = streamId;
            b->stream_id = id;
            b->workspace_user = 0;
            b->workspace_reset_due = 0;
        }
    }
    shim_unlock();
    return st;
}

cublasStatus_t shim_impl_cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace,
                                               size_t workspaceSizeInBytes)
{
    shim_lock();
    shim_blas_handle *b = shim_blas_handle_of(handle);
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (!b) {
        st = CUBLAS_STATUS_NOT_INITIALIZED;
    } else if ((uintptr_t)workspace % 256) {
        st = CUBLAS_STATUS_INVALID_VALUE; /* cuBLAS wants it aligned to 256 bytes at least */
    } else {
        mirror_check_stream(b);
        if (b->workspace_user && b->workspace == workspace &&
            b->workspace_size == workspaceSizeInBytes) {
            b->workspace_reset_due = 0; /* the executor's handle has just this buffer */
        } else if ((st = shim_rec_cublasSetWorkspace_v2(handle, workspace, workspaceSizeInBytes)) ==
                   CUBLAS_STATUS_SUCCESS) {
            b->workspace_user = 1;
            b->workspace_reset_due = 0;
            b->workspace = workspace;
            b->workspace_size = workspaceSizeInBytes;
        }
    }
    shim_unlock();
    return st;
}

cublasStatus_t shim_impl_cublasSetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t mode)
{
    if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE)
        return CUBLAS_STATUS_INVALID_VALUE;
    shim_lock();
    shim_blas_handle *b = shim_blas_handle_of(handle);
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (!b)
        st = CUBLAS_STATUS_NOT_INITIALIZED;
    else if (b->pointer_mode != mode &&
             (st = shim_rec_cublasSetPointerMode_v2(handle, mode)) == CUBLAS_STATUS_SUCCESS)
        b->pointer_mode = mode;
    shim_unlock();
    return st;
}

cublasStatus_t shim_impl_cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    /* the modes cuBLAS 13 knows, with or without the reduction flag */
    switch ((unsigned)mode & ~(unsigned)CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION) {
    case CUBLAS_DEFAULT_MATH:
    case CUBLAS_TENSOR_OP_MATH:
    case CUBLAS_PEDANTIC_MATH:
    case CUBLAS_TF32_TENSOR_OP_MATH:
    case CUBLAS_FP32_EMULATED_BF16X9_MATH:
    case CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH:
        break;
    default:
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    shim_lock();
    shim_blas_handle *b = shim_blas_handle_of(handle);
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (!b)
        st = CUBLAS_STATUS_NOT_INITIALIZED;
    else if (b->math_mode != mode &&
             (st = shim_rec_cublasSetMathMode(handle, mode)) == CUBLAS_STATUS_SUCCESS)
        b->math_mode = mode;
    shim_unlock();
    return st;
}

cublasStatus_t shim_impl_cublasSetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t mode)
{
    if (mode != CUBLAS_ATOMICS_NOT_ALLOWED && mode != CUBLAS_ATOMICS_ALLOWED)
        return CUBLAS_STATUS_INVALID_VALUE;
    shim_lock();
    shim_blas_handle *b = shim_blas_handle_of(handle);
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (!b)
        st = CUBLAS_STATUS_NOT_INITIALIZED;
    else if (b->atomics_mode != mode &&
             (st = shim_rec_cublasSetAtomicsMode(handle, mode)) == CUBLAS_STATUS_SUCCESS)
        b->atomics_mode = mode;
    shim_unlock();
    return st;
}

/* cudaDeviceReset: the executor's handles end with the session; ours with them. */
static void blas_forget(void *h)
{
    shim_handle_del(h);
    free(h);
}

void shim_blas_forget(void)
{
    SHIM_HELD();
    shim_handles_each(SHIM_BLAS_MAGIC, blas_forget);
}
