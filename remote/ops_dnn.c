/* ops_dnn.c — cuDNN on the executor: handles and backend descriptors by client ID, Execute and batch norm (inference, training, backward, their size queries) on the session's streams.
 *
 * The library is GENIE_CUDNN_LIB (default libcudnn.so.9), loaded on the first cuDNN op of
 * the process; tests point it at tests/fakegpu/dnn. Per session (s->dnn, freed by
 * exec_dnn_session_close): client handle ID -> cudnnHandle_t, client descriptor ID ->
 * cudnnBackendDescriptor_t. A descriptor- or handle-valued attribute arrives as client IDs and
 * is translated; a pointer-valued one (a variant pack's data pointers and workspace) must
 * point into the session's memory, except a variant pack's by-value scalars, which point at
 * slots the executor keeps for that pack and DNN_BE_VALUES fills before each Execute.
 * Execute checks every tensor of the variant pack over its whole extent and the workspace over
 * the plan's size before the library runs (remote/dnn_mirror.c keeps what that needs: the
 * extents of the tensors of each plan's graph, mirrored from the attributes the library
 * accepted); a plan or a UID it cannot size is refused, never run unchecked.
 * Batch norm (inference, training, backward: CUDNN_BATCHNORM_OPS_BN) checks every buffer over
 * its whole extent: tensors by their descriptors' span, workspace and reserve by their sizes.
 * The library's own status never becomes an R_ERROR for a Finalize or GetAttribute (it is the
 * call's answer: R_VALUE, R_DATA); for Execute and batch norm it does, as a kernel's failure
 * would. */
#include "remote/exec_int.h"

#include <cudnn.h>
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dnn.h"
#include "remote/dnn_mirror.h"

#define DNN_FNS(X)                                                                                 \
    X(Create, cudnnCreate)                                                                         \
    X(Destroy, cudnnDestroy)                                                                       \
    X(SetStream, cudnnSetStream)                                                                   \
    X(BeCreate, cudnnBackendCreateDescriptor)                                                      \
    X(BeDestroy, cudnnBackendDestroyDescriptor)                                                    \
    X(BeSet, cudnnBackendSetAttribute)                                                             \
    X(BeGet, cudnnBackendGetAttribute)                                                             \
    X(BeFinalize, cudnnBackendFinalize)                                                            \
    X(BeExecute, cudnnBackendExecute)                                                              \
    X(TCreate, cudnnCreateTensorDescriptor)                                                        \
    X(TDestroy, cudnnDestroyTensorDescriptor)                                                      \
    X(TSet, cudnnSetTensorNdDescriptor)                                                            \
    X(BnInfer, cudnnBatchNormalizationForwardInference)                                            \
    X(BnTrain, cudnnBatchNormalizationForwardTrainingEx)                                           \
    X(BnBackward, cudnnBatchNormalizationBackwardEx)                                               \
    X(BnFwdWs, cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize)                           \
    X(BnBwdWs, cudnnGetBatchNormalizationBackwardExWorkspaceSize)                                  \
    X(BnReserve, cudnnGetBatchNormalizationTrainingExReserveSpaceSize)

typedef struct dnn_fns {
#define DNN_FIELD_(f, sym) __typeof__(sym) *f;
    DNN_FNS(DNN_FIELD_)
#undef DNN_FIELD_
} dnn_fns;

typedef struct exec_dnn {
    dnn_fns f;
    exec_idmap handles; /* client ID -> cudnnHandle_t */
    exec_idmap descs;   /* client ID -> cudnnBackendDescriptor_t */
    exec_idmap values;  /* client ID of a variant pack -> its by-value slots (dnn_values) */
    exec_dnnm mirror;   /* what Execute's range checks need of each descriptor */
} exec_dnn;

/* A variant pack's by-value scalars: one PROTO_DNN_BYVALUE_SLOT-byte slot per element of its
 * data pointer array, which the library reads at Execute (owned by exec_dnn.values). */
typedef struct dnn_values {
    uint32_t n;
    uint8_t slot[];
} dnn_values;

static void *load(exec_ctx *ctx)
{
    static void *lib;
    static int loaded;
    if (__atomic_load_n(&loaded, __ATOMIC_ACQUIRE))
        return lib;
    pthread_mutex_lock(&ctx->lock);
    if (!loaded) {
        char err[512];
        lib = exec_dlopen(genie_env_str("GENIE_CUDNN_LIB", "libcudnn.so.9"), err, sizeof err);
        if (!lib)
            GENIE_ERROR("cuDNN: %s; cuDNN calls will fail", err);
        __atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&ctx->lock);
    return lib;
}

/* The cudaError_t a failed cuDNN status surfaces as at the next sync. */
static int dnn_cuda_err(int st)
{
    switch (st) {
    case CUDNN_STATUS_BAD_PARAM:
        return EXEC_cudaErrorInvalidValue;
    case CUDNN_STATUS_NOT_SUPPORTED:
        return EXEC_cudaErrorNotSupported;
    case CUDNN_STATUS_ALLOC_FAILED:
        return EXEC_cudaErrorMemoryAllocation;
    default:
        return EXEC_cudaErrorUnknown;
    }
}

static int dnn_state(exec_session *s, uint32_t index, const char *op, exec_dnn **out)
{
    *out = s->dnn;
    if (s->dnn)
        return 0;
    void *lib = load(s->ctx);
    if (!lib)
        return exec_fail(s, index, EXEC_cudaErrorNotSupported, CUDNN_STATUS_NOT_SUPPORTED,
                         "%s: cuDNN is not available on this host", op);
    exec_dnn *D = calloc(1, sizeof *D); /* freed by exec_dnn_session_close */
    if (!D)
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUDNN_STATUS_ALLOC_FAILED,
                         "%s: out of memory", op);
#define DNN_SYM_(fld, sym) *(void **)&D->f.fld = dlsym(lib, #sym);
    DNN_FNS(DNN_SYM_)
#undef DNN_SYM_
    s->dnn = D;
    *out = D;
    return 0;
}

static int missing(exec_session *s, uint32_t index, const char *sym)
{
    return exec_fail(s, index, EXEC_cudaErrorNotSupported, CUDNN_STATUS_NOT_SUPPORTED,
                     "%s is missing from the cuDNN library", sym);
}

static int status_fail(exec_session *s, uint32_t index, int st, const char *what)
{
    return exec_fail(s, index, dnn_cuda_err(st), st, "%s: cuDNN status %d", what, st);
}

/* ------------------------------------------------------------------- handles ---- */

int exec_op_DNN_CREATE(exec_session *s, uint32_t index, const proto_DNN_CREATE *a)
{
    exec_dnn *D;
    int e;
    if ((e = dnn_state(s, index, "DNN_CREATE", &D)))
        return e;
    if (!D->f.Create || !D->f.Destroy || !D->f.SetStream)
        return missing(s, index, "cudnnCreate");
    if (a->handle == 0 || exec_idmap_get(&D->handles, a->handle))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUDNN_STATUS_BAD_PARAM,
                         "DNN_CREATE: cuDNN handle ID %u in use", a->handle);
    cudnnHandle_t h = NULL;
    int st = D->f.Create(&h);
    if (st)
        return status_fail(s, index, st, "cudnnCreate");
    if (exec_idmap_put(&D->handles, a->handle, h)) {
        D->f.Destroy(h);
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUDNN_STATUS_ALLOC_FAILED,
                         "DNN_CREATE: out of memory");
    }
    return 0;
}

int exec_op_DNN_DESTROY(exec_session *s, uint32_t index, const proto_DNN_DESTROY *a)
{
    exec_dnn *D;
    int e;
    if ((e = dnn_state(s, index, "DNN_DESTROY", &D)))
        return e;
    cudnnHandle_t h = exec_idmap_del(&D->handles, a->handle);
    if (!h)
        return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, CUDNN_STATUS_BAD_PARAM,
                         "DNN_DESTROY: unknown cuDNN handle %u", a->handle);
    int st = D->f.Destroy(h);
    return st ? status_fail(s, index, st, "cudnnDestroy") : 0;
}

/* The handle of ID id, set to run on the session's stream sid; 0 or an R_ERROR. */
static int handle_on(exec_session *s, exec_dnn *D, uint32_t index, uint32_t id, uint32_t sid,
                     const char *op, cudnnHandle_t *out)
{
    *out = NULL; /* on every path: GCC at -O3 cannot see that exec_fail never returns 0 */
    cudnnHandle_t h = exec_idmap_get(&D->handles, id);
    if (!h)
        return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, CUDNN_STATUS_BAD_PARAM,
                         "%s: unknown cuDNN handle %u", op, id);
    CUstream stream;
    int e;
    if ((e = exec_stream(s, index, sid, op, &stream)))
        return e;
    int st = D->f.SetStream(h, (cudaStream_t)stream);
    if (st)
        return status_fail(s, index, st, "cudnnSetStream");
    *out = h;
    return 0;
}

/* ------------------------------------------------------- backend descriptors ---- */

static int desc_get(exec_session *s, exec_dnn *D, uint32_t index, uint32_t id, const char *op,
                    cudnnBackendDescriptor_t *out)
{
    *out = exec_idmap_get(&D->descs, id);
    if (!*out)
        return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, CUDNN_STATUS_BAD_PARAM,
                         "%s: unknown cuDNN descriptor %u", op, id);
    return 0;
}

int exec_op_DNN_BE_CREATE(exec_session *s, uint32_t index, const proto_DNN_BE_CREATE *a)
{
    exec_dnn *D;
    int e;
    if ((e = dnn_state(s, index, "DNN_BE_CREATE", &D)))
        return e;
    if (!D->f.BeCreate || !D->f.BeDestroy)
        return missing(s, index, "cudnnBackendCreateDescriptor");
    if (a->desc == 0 || exec_idmap_get(&D->descs, a->desc))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUDNN_STATUS_BAD_PARAM,
                         "DNN_BE_CREATE: descriptor ID %u in use", a->desc);
    cudnnBackendDescriptor_t d = NULL;
    int st = D->f.BeCreate((cudnnBackendDescriptorType_t)a->type, &d);
    if (st)
        return status_fail(s, index, st, "cudnnBackendCreateDescriptor");
    if (exec_idmap_put(&D->descs, a->desc, d) || exec_dnnm_create(&D->mirror, a->desc, a->type)) {
        exec_idmap_del(&D->descs, a->desc);
        D->f.BeDestroy(d);
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUDNN_STATUS_ALLOC_FAILED,
                         "DNN_BE_CREATE: out of memory");
    }
    return 0;
}

int exec_op_DNN_BE_DESTROY(exec_session *s, uint32_t index, const proto_DNN_BE_DESTROY *a)
{
    exec_dnn *D;
    int e;
    if ((e = dnn_state(s, index, "DNN_BE_DESTROY", &D)))
        return e;
    cudnnBackendDescriptor_t d = exec_idmap_del(&D->descs, a->desc);
    if (!d)
        return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, CUDNN_STATUS_BAD_PARAM,
                         "DNN_BE_DESTROY: unknown cuDNN descriptor %u", a->desc);
    free(exec_idmap_del(&D->values, a->desc));
    exec_dnnm_destroy(&D->mirror, a->desc);
    int st = D->f.BeDestroy(d);
    return st ? status_fail(s, index, st, "cudnnBackendDestroyDescriptor") : 0;
}

/* Turns n wire elements of type at w into what the library takes, in out (n * 8 bytes for
 * descriptors and handles): IDs become objects, pointers are checked; with slots (a variant
 * pack's data pointers), a by-value tag becomes the address of its slot. */
static int from_wire(exec_session *s, exec_dnn *D, uint32_t index, const char *op, uint32_t type,
                     uint32_t n, const uint8_t *w, size_t es, void *out, dnn_values *slots)
{
    if (type == CUDNN_TYPE_BACKEND_DESCRIPTOR || type == CUDNN_TYPE_HANDLE) {
        for (uint32_t i = 0; i < n; i++) {
            uint64_t id;
            memcpy(&id, w + (size_t)i * 8, 8);
            void *o = id > UINT32_MAX ? NULL
                      : type == CUDNN_TYPE_HANDLE ? exec_idmap_get(&D->handles, (uint32_t)id)
                                                  : exec_idmap_get(&D->descs, (uint32_t)id);
            if (!o)
                return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle,
                                 CUDNN_STATUS_BAD_PARAM, "%s: unknown cuDNN %s %llu", op,
                                 type == CUDNN_TYPE_HANDLE ? "handle" : "descriptor",
                                 (unsigned long long)id);
            memcpy((uint8_t *)out + (size_t)i * sizeof o, &o, sizeof o);
        }
        return 0;
    }
    memcpy(out, w, (size_t)n * es);
    if (type == CUDNN_TYPE_VOID_PTR) {
        for (uint32_t i = 0; i < n; i++) {
            uint64_t p;
            memcpy(&p, w + (size_t)i * 8, 8);
            if (slots && p == (PROTO_DNN_BYVALUE_TAG | i) && i < slots->n) {
                void *v = slots->slot + (size_t)i * PROTO_DNN_BYVALUE_SLOT;
                memcpy((uint8_t *)out + (size_t)i * sizeof v, &v, sizeof v);
            } else if (p && !exec_range_ok(s, p, 1)) {
                return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUDNN_STATUS_BAD_PARAM,
                                 "%s: pointer %#llx is not in this session's memory", op,
                                 (unsigned long long)p);
            }
        }
    }
    return 0;
}

/* The by-value slots of descriptor id, made (zeroed) for n elements: 0 or an R_ERROR. A pack
 * whose pointers are set again gets fresh slots. */
static int values_for(exec_session *s, exec_dnn *D, uint32_t index, uint32_t id, uint32_t n,
                      dnn_values **out)
{
    free(exec_idmap_del(&D->values, id));
    dnn_values *v = calloc(1, sizeof *v + (size_t)n * PROTO_DNN_BYVALUE_SLOT); /* D->values */
    if (!v || exec_idmap_put(&D->values, id, v)) {
        free(v);
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUDNN_STATUS_ALLOC_FAILED,
                         "DNN_BE_SET: out of memory");
    }
    v->n = n;
    *out = v;
    return 0;
}

int exec_op_DNN_BE_VALUES(exec_session *s, uint32_t index, const proto_DNN_BE_VALUES *a)
{
    exec_dnn *D;
    int e;
    if ((e = dnn_state(s, index, "DNN_BE_VALUES", &D)))
        return e;
    dnn_values *v = exec_idmap_get(&D->values, a->desc);
    if (!v || a->values_len != (size_t)v->n * PROTO_DNN_BYVALUE_SLOT)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUDNN_STATUS_BAD_PARAM,
                         "DNN_BE_VALUES: descriptor %u has no %zu bytes of by-value slots",
                         a->desc, (size_t)a->values_len);
    memcpy(v->slot, a->values, a->values_len);
    return 0;
}

int exec_op_DNN_BE_SET(exec_session *s, uint32_t index, const proto_DNN_BE_SET *a)
{
    exec_dnn *D;
    int e;
    if ((e = dnn_state(s, index, "DNN_BE_SET", &D)))
        return e;
    if (!D->f.BeSet)
        return missing(s, index, "cudnnBackendSetAttribute");
    size_t es = proto_dnn_elem_size((int)a->type);
    if (!es || a->values_len != (size_t)a->count * es)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUDNN_STATUS_BAD_PARAM,
                         "DNN_BE_SET: %u elements of type %u in %zu bytes", a->count, a->type,
                         (size_t)a->values_len);
    cudnnBackendDescriptor_t d;
    if ((e = desc_get(s, D, index, a->desc, "DNN_BE_SET", &d)))
        return e;
    const char *why = proto_dnn_attr_unchecked(exec_dnnm_type(&D->mirror, a->desc), a->attr,
                                               (int)a->type);
    if (why)
        return exec_fail(s, index, EXEC_cudaErrorNotSupported, CUDNN_STATUS_NOT_SUPPORTED,
                         "DNN_BE_SET: attribute %u of descriptor %u (%s) is not supported: its "
                         "extent could not be checked",
                         a->attr, a->desc, why);
    if (exec_dnnm_finalized(&D->mirror, a->desc)) { /* as the library would: the mirror stays */
        GENIE_INFO("cudnnBackendSetAttribute(descriptor %u, attribute %u): the descriptor is "
                   "finalized",
                   a->desc, a->attr);
        return 0;
    }
    void *v = malloc(a->values_len ? a->values_len : 1); /* freed below */
    if (!v)
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUDNN_STATUS_ALLOC_FAILED,
                         "DNN_BE_SET: out of memory");
    dnn_values *slots = NULL;
    if (a->type == CUDNN_TYPE_VOID_PTR && a->attr == CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS &&
        (e = values_for(s, D, index, a->desc, a->count, &slots))) {
        free(v);
        return e;
    }
    if (!(e = from_wire(s, D, index, "DNN_BE_SET", a->type, a->count, a->values, es, v, slots))) {
        int st = D->f.BeSet(d, (cudnnBackendAttributeName_t)a->attr,
                            (cudnnBackendAttributeType_t)a->type, (int64_t)a->count, v);
        if (st)
            GENIE_INFO("cudnnBackendSetAttribute(descriptor %u, attribute %u): status %d", a->desc,
                       a->attr, st);
        else if (exec_dnnm_set(&D->mirror, a->desc, a->attr, a->type, a->count, a->values))
            e = exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUDNN_STATUS_ALLOC_FAILED,
                          "DNN_BE_SET: out of memory");
    }
    free(v);
    return e;
}

/* The library finalized descriptor id (d): the mirror follows, and a plan's workspace size is
 * asked once, for Execute's check. */
static void finalized(exec_dnn *D, uint32_t id, cudnnBackendDescriptor_t d)
{
    exec_dnnm_finalize(&D->mirror, id);
    if (exec_dnnm_type(&D->mirror, id) != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR)
        return;
    int64_t ws = -1, count = 0;
    int st = D->f.BeGet ? D->f.BeGet(d, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64,
                                     1, &count, &ws)
                        : CUDNN_STATUS_NOT_SUPPORTED;
    exec_dnnm_workspace(&D->mirror, id, !st && count == 1 && ws >= 0, (uint64_t)ws);
}

int exec_op_DNN_BE_FINALIZE(exec_session *s, uint32_t index, const proto_DNN_BE_FINALIZE *a)
{
    exec_dnn *D;
    int e;
    if ((e = dnn_state(s, index, "DNN_BE_FINALIZE", &D)))
        return e;
    if (!D->f.BeFinalize)
        return missing(s, index, "cudnnBackendFinalize");
    cudnnBackendDescriptor_t d;
    if ((e = desc_get(s, D, index, a->desc, "DNN_BE_FINALIZE", &d)))
        return e;
    int st = D->f.BeFinalize(d);
    if (!st)
        finalized(D, a->desc, d);
    return proto_put_R_VALUE(&s->reply, 0, index, st) ? 0 : GENIE_ENOMEM;
}

int exec_op_DNN_BE_FINALIZE_ASYNC(exec_session *s, uint32_t index,
                                  const proto_DNN_BE_FINALIZE_ASYNC *a)
{
    exec_dnn *D;
    int e;
    if ((e = dnn_state(s, index, "DNN_BE_FINALIZE_ASYNC", &D)))
        return e;
    if (!D->f.BeFinalize)
        return missing(s, index, "cudnnBackendFinalize");
    cudnnBackendDescriptor_t d;
    if ((e = desc_get(s, D, index, a->desc, "DNN_BE_FINALIZE_ASYNC", &d)))
        return e;
    int st = D->f.BeFinalize(d);
    if (st) /* shows when a descriptor built on this one is finalized (asked) */
        GENIE_INFO("cudnnBackendFinalize(descriptor %u): status %d", a->desc, st);
    else
        finalized(D, a->desc, d);
    return 0;
}

int exec_op_DNN_BE_GET(exec_session *s, uint32_t index, const proto_DNN_BE_GET *a)
{
    exec_dnn *D;
    int e;
    if ((e = dnn_state(s, index, "DNN_BE_GET", &D)))
        return e;
    if (!D->f.BeGet)
        return missing(s, index, "cudnnBackendGetAttribute");
    size_t es = proto_dnn_elem_size((int)a->type);
    int isdesc = a->type == CUDNN_TYPE_BACKEND_DESCRIPTOR;
    if (!es || a->type == CUDNN_TYPE_HANDLE || a->requested > PROTO_DNN_ATTR_MAX / es ||
        a->outs_len != (isdesc ? (size_t)a->requested * 8 : 0))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUDNN_STATUS_BAD_PARAM,
                         "DNN_BE_GET: %u elements of type %u, %zu bytes of descriptors",
                         a->requested, a->type, (size_t)a->outs_len);
    cudnnBackendDescriptor_t d;
    if ((e = desc_get(s, D, index, a->desc, "DNN_BE_GET", &d)))
        return e;
    size_t vn = (size_t)a->requested * es;
    void *v = malloc(vn ? vn : 1); /* freed below */
    if (!v)
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUDNN_STATUS_ALLOC_FAILED,
                         "DNN_BE_GET: out of memory");
    if (isdesc &&
        (e = from_wire(s, D, index, "DNN_BE_GET", a->type, a->requested, a->outs, es, v, NULL)))
        goto out;
    int64_t count = 0;
    int32_t st = CUDNN_STATUS_BAD_PARAM;
    /* the library fills descriptors in place: never one finalized already (a tensor an
     * operation names, a plan), whose mirror would then be wrong */
    for (uint32_t i = 0; isdesc && i < a->requested; i++) {
        uint64_t id;
        memcpy(&id, a->outs + (size_t)i * 8, 8);
        if (exec_dnnm_finalized(&D->mirror, (uint32_t)id))
            goto answer;
    }
    st = D->f.BeGet(d, (cudnnBackendAttributeName_t)a->attr, (cudnnBackendAttributeType_t)a->type,
                    (int64_t)a->requested, &count, a->requested ? v : NULL);
    if (!st && isdesc)
        exec_dnnm_fill(&D->mirror, a->desc,
                       (uint32_t)(count < (int64_t)a->requested ? (count > 0 ? count : 0)
                                                                : (int64_t)a->requested),
                       a->outs);
answer:
    if (st)
        GENIE_DEBUG("cudnnBackendGetAttribute(descriptor %u, attribute %u): status %d", a->desc,
                    a->attr, st);
    size_t rn = PROTO_DNN_GET_HEAD + (isdesc ? 0 : vn);
    uint8_t *p = proto_put_R_DATA(&s->reply, index, rn);
    if (!p) {
        e = GENIE_ENOMEM;
        goto out;
    }
    memset(p, 0, rn);
    memcpy(p, &count, 8);
    memcpy(p + 8, &st, 4);
    if (!isdesc && !st) {
        int64_t k = count < (int64_t)a->requested ? count : (int64_t)a->requested;
        if (k > 0)
            memcpy(p + PROTO_DNN_GET_HEAD, v, (size_t)k * es);
    }
out:
    free(v);
    return e;
}

static int in_session(void *s, uint64_t p, uint64_t n)
{
    return exec_range_ok(s, p, n);
}

int exec_op_DNN_BE_EXECUTE(exec_session *s, uint32_t index, const proto_DNN_BE_EXECUTE *a)
{
    exec_dnn *D;
    int e;
    if ((e = dnn_state(s, index, "DNN_BE_EXECUTE", &D)))
        return e;
    if (!D->f.BeExecute)
        return missing(s, index, "cudnnBackendExecute");
    cudnnHandle_t h;
    cudnnBackendDescriptor_t plan, pack;
    if ((e = handle_on(s, D, index, a->handle, a->stream, "DNN_BE_EXECUTE", &h)) ||
        (e = desc_get(s, D, index, a->plan, "DNN_BE_EXECUTE", &plan)) ||
        (e = desc_get(s, D, index, a->pack, "DNN_BE_EXECUTE", &pack)))
        return e;
    char why[320];
    if (exec_dnnm_check(&D->mirror, a->plan, a->pack, in_session, s, why, sizeof why))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUDNN_STATUS_BAD_PARAM,
                         "DNN_BE_EXECUTE: %s", why);
    int st = D->f.BeExecute(h, plan, pack);
    return st ? status_fail(s, index, st, "cudnnBackendExecute") : 0;
}

/* ---------------------------------------------------------------- batch norm ---- */

/* [p, p + n) lies in the session's memory: 0 or an R_ERROR naming op and the argument. */
static int span(exec_session *s, uint32_t index, const char *op, const char *name, uint64_t p,
                uint64_t n)
{
    if (exec_range_ok(s, p, n))
        return 0;
    return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUDNN_STATUS_BAD_PARAM,
                     "%s: %s [%#llx, +%llu) is not in this session's memory", op, name,
                     (unsigned long long)p, (unsigned long long)n);
}

/* A real tensor descriptor from its wire form (out), or only the check of its form. */
static int tdesc(exec_session *s, exec_dnn *D, uint32_t index, const char *op, const char *name,
                 const proto_dnn_tensor *t, cudnnTensorDescriptor_t *out)
{
    if (!proto_dnn_tensor_bytes(t))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUDNN_STATUS_BAD_PARAM,
                         "%s: tensor %s is malformed", op, name);
    if (!out)
        return 0;
    int st = D->f.TCreate(out);
    if (!st && (st = D->f.TSet(*out, (cudnnDataType_t)t->dtype, t->nd, t->dims, t->strides))) {
        D->f.TDestroy(*out);
        *out = NULL;
    }
    return st ? status_fail(s, index, st, "cudnnSetTensorNdDescriptor") : 0;
}

/* tdesc, after checking that [p, p + the tensor's span) lies in the session's memory. */
static int tensor(exec_session *s, exec_dnn *D, uint32_t index, const char *op, const char *name,
                  const proto_dnn_tensor *t, uint64_t p, cudnnTensorDescriptor_t *out)
{
    int e;
    if ((e = tdesc(s, D, index, op, name, t, NULL)) ||
        (e = span(s, index, op, name, p, proto_dnn_tensor_bytes(t))))
        return e;
    return tdesc(s, D, index, op, name, t, out);
}

/* An optional statistic (p may be 0), a workspace or reserve space (n may be 0). */
static int maybe(exec_session *s, uint32_t index, const char *op, const char *name, uint64_t p,
                 uint64_t n)
{
    return p && n ? span(s, index, op, name, p, n) : 0;
}

static void tdestroy(exec_dnn *D, cudnnTensorDescriptor_t *t, int n)
{
    for (int i = 0; i < n; i++)
        if (t[i])
            D->f.TDestroy(t[i]);
}

/* A host scaling factor from a double's bits: as double for double data, float otherwise. */
typedef union dnn_scale {
    double d;
    float f;
} dnn_scale;
static dnn_scale scale_of(uint64_t bits, int dtype)
{
    double v;
    memcpy(&v, &bits, 8);
    dnn_scale u;
    if (dtype == CUDNN_DATA_DOUBLE)
        u.d = v;
    else
        u.f = (float)v;
    return u;
}

static double dbl(uint64_t bits)
{
    double v;
    memcpy(&v, &bits, 8);
    return v;
}

#define P_(x) ((void *)(uintptr_t)(x))

/* The start the batch-norm calls share, in their order of checks: cuDNN with the call (the
 * dnn_fns field at offset fn, named sym when missing) and the tensor-descriptor calls, the n
 * wire tensors of descs copied into t, the handle set on its stream. 0 or an R_ERROR. */
static int bn_begin(exec_session *s, uint32_t index, const char *op, size_t fn, const char *sym,
                    const uint8_t *descs, size_t descs_len, proto_dnn_tensor *t, size_t n,
                    uint32_t handle, uint32_t stream, exec_dnn **D, cudnnHandle_t *h)
{
    int e;
    *h = NULL;
    if ((e = dnn_state(s, index, op, D)))
        return e;
    void (*call)(void);
    memcpy(&call, (const char *)&(*D)->f + fn, sizeof call);
    if (!call || !(*D)->f.TCreate || !(*D)->f.TSet || !(*D)->f.TDestroy)
        return missing(s, index, sym);
    if (descs_len != n * sizeof *t)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUDNN_STATUS_BAD_PARAM,
                         "%s: %zu bytes of descriptors", op, descs_len);
    memcpy(t, descs, n * sizeof *t);
    return handle_on(s, *D, index, handle, stream, op, h);
}
#define BN_BEGIN(op, fld, sym, t, n)                                                               \
    bn_begin(s, index, op, offsetof(dnn_fns, fld), sym, a->descs, a->descs_len, t, n, a->handle, \
             a->stream, &D, &h)

int exec_op_DNN_BN_INFER(exec_session *s, uint32_t index, const proto_DNN_BN_INFER *a)
{
    static const char op[] = "DNN_BN_INFER";
    exec_dnn *D;
    cudnnHandle_t h;
    proto_dnn_tensor t[3];
    int e = BN_BEGIN(op, BnInfer, "cudnnBatchNormalizationForwardInference", t, 3);
    if (e)
        return e;
    cudnnTensorDescriptor_t d[3] = {NULL, NULL, NULL};
    if ((e = tensor(s, D, index, op, "x", &t[0], a->x, &d[0])) ||
        (e = tensor(s, D, index, op, "y", &t[1], a->y, &d[1])) ||
        (e = tensor(s, D, index, op, "scale", &t[2], a->scale, &d[2])) ||
        (e = tensor(s, D, index, op, "bias", &t[2], a->bias, NULL)) ||
        (e = tensor(s, D, index, op, "mean", &t[2], a->mean, NULL)) ||
        (e = tensor(s, D, index, op, "var", &t[2], a->var, NULL)))
        goto out;
    dnn_scale alpha = scale_of(a->alpha, t[0].dtype), beta = scale_of(a->beta, t[0].dtype);
    int st = D->f.BnInfer(h, (cudnnBatchNormMode_t)a->mode, &alpha, &beta, d[0], P_(a->x), d[1],
                          P_(a->y), d[2], P_(a->scale), P_(a->bias), P_(a->mean), P_(a->var),
                          dbl(a->eps));
    if (st)
        e = status_fail(s, index, st, "cudnnBatchNormalizationForwardInference");
out:
    tdestroy(D, d, 3);
    return e;
}

int exec_op_DNN_BN_TRAIN(exec_session *s, uint32_t index, const proto_DNN_BN_TRAIN *a)
{
    static const char op[] = "DNN_BN_TRAIN";
    exec_dnn *D;
    cudnnHandle_t h;
    proto_dnn_tensor t[3];
    int e = BN_BEGIN(op, BnTrain, "cudnnBatchNormalizationForwardTrainingEx", t, 3);
    if (e)
        return e;
    cudnnTensorDescriptor_t d[3] = {NULL, NULL, NULL};
    uint64_t bn = proto_dnn_tensor_bytes(&t[2]);
    if ((e = tensor(s, D, index, op, "x", &t[0], a->x, &d[0])) ||
        (e = tensor(s, D, index, op, "y", &t[1], a->y, &d[1])) ||
        (e = tensor(s, D, index, op, "scale", &t[2], a->scale, &d[2])) ||
        (e = span(s, index, op, "bias", a->bias, bn)) ||
        (e = maybe(s, index, op, "running mean", a->rmean, bn)) ||
        (e = maybe(s, index, op, "running variance", a->rvar, bn)) ||
        (e = maybe(s, index, op, "saved mean", a->smean, bn)) ||
        (e = maybe(s, index, op, "saved inverse variance", a->sinv, bn)) ||
        (e = maybe(s, index, op, "workspace", a->ws, a->ws_size)) ||
        (e = maybe(s, index, op, "reserve space", a->reserve, a->reserve_size)))
        goto out;
    dnn_scale alpha = scale_of(a->alpha, t[0].dtype), beta = scale_of(a->beta, t[0].dtype);
    int st = D->f.BnTrain(h, (cudnnBatchNormMode_t)a->mode, CUDNN_BATCHNORM_OPS_BN, &alpha, &beta,
                          d[0], P_(a->x), NULL, NULL, d[1], P_(a->y), d[2], P_(a->scale),
                          P_(a->bias), dbl(a->factor), P_(a->rmean), P_(a->rvar), dbl(a->eps),
                          P_(a->smean), P_(a->sinv), NULL, P_(a->ws), (size_t)a->ws_size,
                          P_(a->reserve), (size_t)a->reserve_size);
    if (st)
        e = status_fail(s, index, st, "cudnnBatchNormalizationForwardTrainingEx");
out:
    tdestroy(D, d, 3);
    return e;
}

int exec_op_DNN_BN_BACKWARD(exec_session *s, uint32_t index, const proto_DNN_BN_BACKWARD *a)
{
    static const char op[] = "DNN_BN_BACKWARD";
    exec_dnn *D;
    cudnnHandle_t h;
    proto_dnn_tensor t[4];
    int e = BN_BEGIN(op, BnBackward, "cudnnBatchNormalizationBackwardEx", t, 4);
    if (e)
        return e;
    cudnnTensorDescriptor_t d[4] = {NULL, NULL, NULL, NULL};
    uint64_t bn = proto_dnn_tensor_bytes(&t[3]);
    if ((e = tensor(s, D, index, op, "x", &t[0], a->x, &d[0])) ||
        (e = tensor(s, D, index, op, "dy", &t[1], a->dy, &d[1])) ||
        (e = tensor(s, D, index, op, "dx", &t[2], a->dx, &d[2])) ||
        (e = tensor(s, D, index, op, "dscale", &t[3], a->dscale, &d[3])) ||
        (e = span(s, index, op, "scale", a->scale, bn)) ||
        (e = span(s, index, op, "dbias", a->dbias, bn)) ||
        (e = maybe(s, index, op, "saved mean", a->smean, bn)) ||
        (e = maybe(s, index, op, "saved inverse variance", a->sinv, bn)) ||
        (e = maybe(s, index, op, "workspace", a->ws, a->ws_size)) ||
        (e = maybe(s, index, op, "reserve space", a->reserve, a->reserve_size)))
        goto out;
    int dt = t[0].dtype;
    dnn_scale ad = scale_of(a->alpha_data, dt), bd = scale_of(a->beta_data, dt);
    dnn_scale ap = scale_of(a->alpha_param, dt), bp = scale_of(a->beta_param, dt);
    int st = D->f.BnBackward(h, (cudnnBatchNormMode_t)a->mode, CUDNN_BATCHNORM_OPS_BN, &ad, &bd,
                             &ap, &bp, d[0], P_(a->x), NULL, NULL, d[1], P_(a->dy), NULL, NULL,
                             d[2], P_(a->dx), d[3], P_(a->scale), NULL, P_(a->dscale),
                             P_(a->dbias), dbl(a->eps), P_(a->smean), P_(a->sinv), NULL,
                             P_(a->ws), (size_t)a->ws_size, P_(a->reserve),
                             (size_t)a->reserve_size);
    if (st)
        e = status_fail(s, index, st, "cudnnBatchNormalizationBackwardEx");
out:
    tdestroy(D, d, 4);
    return e;
}

int exec_op_DNN_BN_SIZE(exec_session *s, uint32_t index, const proto_DNN_BN_SIZE *a)
{
    static const char op[] = "DNN_BN_SIZE";
    exec_dnn *D;
    int e;
    if ((e = dnn_state(s, index, op, &D)))
        return e;
    if (!D->f.BnFwdWs || !D->f.BnBwdWs || !D->f.BnReserve || !D->f.TCreate || !D->f.TSet ||
        !D->f.TDestroy)
        return missing(s, index, "cudnnGetBatchNormalization*Size");
    uint32_t n = a->which == PROTO_DNN_BN_SIZE_FWD_WS   ? 4
                 : a->which == PROTO_DNN_BN_SIZE_RESERVE ? 1
                 : a->which == PROTO_DNN_BN_SIZE_BWD_WS  ? 6
                                                        : 0;
    proto_dnn_tensor t[6];
    if (!n || a->descs_len != n * sizeof t[0])
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUDNN_STATUS_BAD_PARAM,
                         "%s: query %u with %zu bytes of descriptors", op, a->which,
                         (size_t)a->descs_len);
    memcpy(t, a->descs, n * sizeof t[0]);
    cudnnHandle_t h = exec_idmap_get(&D->handles, a->handle);
    if (!h)
        return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, CUDNN_STATUS_BAD_PARAM,
                         "%s: unknown cuDNN handle %u", op, a->handle);
    cudnnTensorDescriptor_t d[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    for (uint32_t i = 0; i < n; i++)
        if (t[i].nd && (e = tdesc(s, D, index, op, "descriptor", &t[i], &d[i])))
            goto out;
    size_t size = 0;
    cudnnBatchNormMode_t mode = (cudnnBatchNormMode_t)a->mode;
    int st = a->which == PROTO_DNN_BN_SIZE_FWD_WS
                 ? D->f.BnFwdWs(h, mode, CUDNN_BATCHNORM_OPS_BN, d[0], d[1], d[2], d[3], NULL,
                                &size)
             : a->which == PROTO_DNN_BN_SIZE_RESERVE
                 ? D->f.BnReserve(h, mode, CUDNN_BATCHNORM_OPS_BN, NULL, d[0], &size)
                 : D->f.BnBwdWs(h, mode, CUDNN_BATCHNORM_OPS_BN, d[0], d[1], d[2], d[3], d[4],
                                d[5], NULL, &size);
    if (!proto_put_R_VALUE(&s->reply, st ? 0 : (uint64_t)size, index, st))
        e = GENIE_ENOMEM;
out:
    tdestroy(D, d, 6);
    return e;
}

void exec_dnn_session_close(exec_session *s)
{
    exec_dnn *D = s->dnn;
    if (!D)
        return;
    if (D->f.BeDestroy)
        for (uint32_t i = 0; i < D->descs.cap; i++)
            if (D->descs.vals[i])
                D->f.BeDestroy((cudnnBackendDescriptor_t)D->descs.vals[i]);
    if (D->f.Destroy)
        for (uint32_t i = 0; i < D->handles.cap; i++)
            if (D->handles.vals[i])
                D->f.Destroy((cudnnHandle_t)D->handles.vals[i]);
    for (uint32_t i = 0; i < D->values.cap; i++)
        free(D->values.vals[i]);
    exec_idmap_free(&D->values);
    exec_dnnm_free(&D->mirror);
    exec_idmap_free(&D->descs);
    exec_idmap_free(&D->handles);
    free(D);
    s->dnn = NULL;
}
