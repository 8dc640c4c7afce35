/* cudnn.c — cuDNN on the client: handles, backend descriptors mirrored here and on the executor, legacy tensor descriptors, async Execute and batch norm (inference, training, backward).
 *
 * Backend descriptors (what PyTorch's convolutions use, through cudnn-frontend) live twice:
 * the client keeps each one's type, the attributes the program set and whether it is
 * finalized; the executor keeps the real descriptor under the same client ID.
 *   CreateDescriptor, SetAttribute, Destroy   recorded into the batch (no round trip)
 *   Finalize                                  of a descriptor whose answer only the library
 *                                             knows (operation graph, heuristics, engine,
 *                                             engine config, execution plan, ...): one query
 *                                             round trip; of a plain one (tensor, convolution,
 *                                             operation, variant pack, ...): recorded
 *   GetAttribute                              answered here when the program set the
 *                                             attribute or asked it before of a finalized
 *                                             descriptor (cached); else one round trip
 *   Execute                                   recorded on the handle's stream (no round trip)
 * So once PyTorch has its execution plan for a convolution (it caches plans per problem),
 * each convolution costs a variant pack's create/set/finalize/destroy and one Execute, all
 * recorded: no round trip. Legacy tensor descriptors live on the client only and travel
 * inside the compute call (batch norm) that uses them. Batch norm (inference, and training's
 * ForwardTrainingEx and BackwardEx with CUDNN_BATCHNORM_OPS_BN) is recorded; training's three
 * size queries are one round trip per distinct problem, answered from the client afterwards.
 * Errors of recorded calls surface at the next sync, as a kernel's would. Lock held in every shim_impl_* (the generated wrapper
 * takes it). */
#include "shim/shim_dnn.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/dnn.h"
#include "shim/shim_int.h"

#define SHIM_DNN_MAGIC 0x444e4e48u        /* cudnnHandle_t */
#define SHIM_DNN_DESC_MAGIC 0x444e4e44u   /* cudnnBackendDescriptor_t */
#define SHIM_DNN_TENSOR_MAGIC 0x444e4e54u /* cudnnTensorDescriptor_t */

typedef struct dnn_handle {
    SHIM_HANDLE_FIELDS /* magic, id, generation: shim_int.h */
    cudaStream_t stream;
} dnn_handle;

typedef struct dnn_attr {
    uint32_t name, type;
    int64_t count;
    uint8_t *v; /* count elements as the program passed them (client pointers for descriptors
                   and handles); owned */
} dnn_attr;

typedef struct dnn_desc {
    SHIM_HANDLE_FIELDS
    uint32_t type;
    int finalized;
    int filled; /* filled in by the executor (a heuristic's engine configs): its attributes
                   are the library's, never set here */
    void *graph;       /* a filled descriptor: the operation graph it was made for (looked up */
    uint32_t graph_id; /* in the registry and its ID checked at use), for an Execute's by-value
                          scalars */
    dnn_attr *attrs; /* owned */
    uint32_t nattrs, cap;
} dnn_desc;

typedef struct dnn_tensor {
    SHIM_HANDLE_FIELDS
    proto_dnn_tensor t;
} dnn_tensor;

static uint32_t next_handle = 1, next_desc = 1;

cudnnStatus_t shim_deny_cudnn(unsigned apix)
{
    shim_deny_note(apix, "CUDNN_STATUS_NOT_SUPPORTED (cuDNN)");
    return CUDNN_STATUS_NOT_SUPPORTED;
}

cudnnStatus_t shim_bad_dnn_arg(unsigned apix, const char *arg)
{
    GENIE_DEBUG("%s: %s is NULL", genie_api_table[apix].name, arg);
    return CUDNN_STATUS_BAD_PARAM;
}

static dnn_handle *handle_of(const void *p)
{
    return shim_handle_of(p, SHIM_DNN_MAGIC);
}
static dnn_desc *desc_of(const void *p)
{
    return shim_handle_of(p, SHIM_DNN_DESC_MAGIC);
}
static dnn_tensor *tensor_of(const void *p)
{
    return shim_handle_of(p, SHIM_DNN_TENSOR_MAGIC);
}

/* Commits a recorded op with no reply; the status of the call. An earlier op's async error
 * that a threshold flush brings back is not this call's: it surfaces at the next sync. */
static cudnnStatus_t commit(shim_rec *r, uint32_t sid)
{
    (void)shim_batch_commit(r, sid, 0);
    return r->committed || r->captured ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_ALLOC_FAILED;
}

/* Commits a query op (its reply slot asked for) and flushes: the slot, or NULL when the op
 * could not be sent or the session is lost. */
static const shim_slot *query(shim_rec *r)
{
    (void)shim_batch_commit(r, SHIM_NO_STREAM, SHIM_COMMIT_HOLD);
    if (!r->committed)
        return NULL;
    (void)shim_flush(SHIM_RT_QUERY); /* an earlier op's error: surfaces at the next sync */
    const shim_slot *s = shim_batch_result(r->slot);
    return s->filled ? s : NULL;
}

/* Sends the record announcing a new handle or descriptor obj (put: the op's bytes, or NULL
 * when SHIM_PUT failed) and commits it; on any failure obj is unregistered and freed, and the
 * call's status says so. */
static cudnnStatus_t announce_new(shim_rec *r, const void *put, unsigned op, void *obj)
{
    if (!put)
        shim_batch_rollback(r);
    else
        shim_sem_op(SEM_OP_HANDLE, op, 0);
    if (!put || commit(r, SHIM_NO_STREAM)) {
        shim_handle_del(obj);
        free(obj);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    return CUDNN_STATUS_SUCCESS;
}

/* Commits the record saying a handle or descriptor is gone (put as above); best effort: the
 * client forgets the object whatever the wire says. */
static void announce_gone(shim_rec *r, const void *put, unsigned op)
{
    if (!put) {
        shim_batch_rollback(r);
        return;
    }
    shim_sem_op(SEM_OP_HANDLE, op, 0);
    (void)commit(r, SHIM_NO_STREAM);
}

/* ------------------------------------------------------------ versions, strings ---- */

size_t shim_impl_cudnnGetVersion(void) { return CUDNN_VERSION; }
size_t shim_impl_cudnnGetMaxDeviceVersion(void) { return 1200; /* sm_120: newer than any GPU lent */ }
size_t shim_impl_cudnnGetCudartVersion(void) { return CUDART_VERSION; }

cudnnStatus_t shim_impl_cudnnGetProperty(libraryPropertyType type, int *value)
{
    if (!value)
        return CUDNN_STATUS_BAD_PARAM;
    switch (type) {
    case MAJOR_VERSION:
        *value = CUDNN_MAJOR;
        return CUDNN_STATUS_SUCCESS;
    case MINOR_VERSION:
        *value = CUDNN_MINOR;
        return CUDNN_STATUS_SUCCESS;
    case PATCH_LEVEL:
        *value = CUDNN_PATCHLEVEL;
        return CUDNN_STATUS_SUCCESS;
    default:
        return CUDNN_STATUS_BAD_PARAM;
    }
}

cudnnStatus_t shim_impl_cudnnGraphVersionCheck(void) { return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t shim_impl_cudnnOpsVersionCheck(void) { return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t shim_impl_cudnnCnnVersionCheck(void) { return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t shim_impl_cudnnAdvVersionCheck(void) { return CUDNN_STATUS_SUCCESS; }

const char *shim_impl_cudnnGetErrorString(cudnnStatus_t status)
{
    switch ((int)status) {
#define S_(x)                                                                                      \
    case x:                                                                                        \
        return #x;
        S_(CUDNN_STATUS_SUCCESS)
        S_(CUDNN_STATUS_NOT_INITIALIZED)
        S_(CUDNN_STATUS_BAD_PARAM)
        S_(CUDNN_STATUS_NOT_SUPPORTED)
        S_(CUDNN_STATUS_INTERNAL_ERROR)
        S_(CUDNN_STATUS_EXECUTION_FAILED)
        S_(CUDNN_STATUS_ALLOC_FAILED)
        S_(CUDNN_STATUS_ARCH_MISMATCH)
        S_(CUDNN_STATUS_MAPPING_ERROR)
        S_(CUDNN_STATUS_INVALID_VALUE)
        S_(CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH)
#undef S_
    default:
        return "CUDNN_STATUS_UNKNOWN (Genie)";
    }
}

void shim_impl_cudnnGetLastErrorString(char *message, const size_t max_size)
{
    if (message && max_size)
        message[0] = 0; /* the executor logs its library's words; none are kept here */
}

/* ------------------------------------------------------------------- handles ---- */

cudnnStatus_t shim_impl_cudnnCreate(cudnnHandle_t *handle)
{
    if (!handle)
        return CUDNN_STATUS_BAD_PARAM;
    if (shim_ensure() != cudaSuccess)
        return CUDNN_STATUS_NOT_INITIALIZED;
    dnn_handle *h = calloc(1, sizeof *h); /* freed by cudnnDestroy */
    if (!h)
        return CUDNN_STATUS_ALLOC_FAILED;
    h->id = next_handle++;
    if (shim_handle_add(h, SHIM_DNN_MAGIC)) {
        free(h);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    shim_rec r;
    shim_batch_begin(&r);
    cudnnStatus_t st = announce_new(&r, SHIM_PUT(&r, DNN_CREATE, h->id), PROTO_OP_DNN_CREATE, h);
    if (st != CUDNN_STATUS_SUCCESS)
        return st;
    *handle = (cudnnHandle_t)h;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t shim_impl_cudnnDestroy(cudnnHandle_t handle)
{
    dnn_handle *h = handle_of(handle);
    if (!h)
        return CUDNN_STATUS_BAD_PARAM;
    if (shim_ensure() == cudaSuccess) { /* a lost session has nothing left to destroy */
        shim_rec r;
        shim_batch_begin(&r);
        announce_gone(&r, SHIM_PUT(&r, DNN_DESTROY, h->id), PROTO_OP_DNN_DESTROY);
    }
    shim_handle_del(h);
    free(h);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t shim_impl_cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId)
{
    dnn_handle *h = handle_of(handle);
    if (!h)
        return CUDNN_STATUS_BAD_PARAM;
    if (shim_stream_id(streamId) == UINT32_MAX)
        return CUDNN_STATUS_BAD_PARAM;
    h->stream = streamId; /* local: every recorded call carries its stream */
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t shim_impl_cudnnGetStream(cudnnHandle_t handle, cudaStream_t *streamId)
{
    dnn_handle *h = handle_of(handle);
    if (!h || !streamId)
        return CUDNN_STATUS_BAD_PARAM;
    *streamId = h->stream;
    return CUDNN_STATUS_SUCCESS;
}

/* The handle's stream as a client ID: a stream destroyed since cudnnSetStream is the NULL
 * stream's (as the executor treats it). */
static uint32_t handle_sid(dnn_handle *h)
{
    uint32_t sid = shim_stream_id(h->stream);
    if (sid == UINT32_MAX) {
        h->stream = NULL;
        sid = 0;
    }
    return sid;
}

/* ------------------------------------------------------- backend descriptors ---- */

/* Descriptors whose finalize PyTorch's use needs no answer from the library for: their
 * Finalize is recorded, not asked. A refusal by the library then shows when a descriptor
 * built on them is finalized (that one is asked). */
static int finalize_is_plain(uint32_t type)
{
    switch (type) {
    case CUDNN_BACKEND_TENSOR_DESCRIPTOR:
    case CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR:
    case CUDNN_BACKEND_POINTWISE_DESCRIPTOR:
    case CUDNN_BACKEND_MATMUL_DESCRIPTOR:
    case CUDNN_BACKEND_REDUCTION_DESCRIPTOR:
    case CUDNN_BACKEND_RESAMPLE_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR:
    case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR:
    case CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR:
        return 1;
    default:
        return 0;
    }
}

static dnn_attr *attr_find(dnn_desc *d, uint32_t name)
{
    for (uint32_t i = 0; i < d->nattrs; i++)
        if (d->attrs[i].name == name)
            return &d->attrs[i];
    return NULL;
}

static void attrs_clear(dnn_desc *d)
{
    for (uint32_t i = 0; i < d->nattrs; i++)
        free(d->attrs[i].v);
    d->nattrs = 0;
}

/* Keeps (name, type, count, v) in the mirror, replacing an earlier value: 0 or -1 (ENOMEM). */
static int attr_keep(dnn_desc *d, uint32_t name, uint32_t type, int64_t count, const void *v,
                     size_t n)
{
    uint8_t *copy = malloc(n ? n : 1); /* owned by the attribute */
    if (!copy)
        return -1;
    if (n)
        memcpy(copy, v, n);
    dnn_attr *a = attr_find(d, name);
    if (!a) {
        if (d->nattrs == d->cap) {
            uint32_t cap = d->cap ? d->cap * 2 : 8;
            dnn_attr *na = realloc(d->attrs, cap * sizeof *na);
            if (!na) {
                free(copy);
                return -1;
            }
            d->attrs = na;
            d->cap = cap;
        }
        a = &d->attrs[d->nattrs++];
        a->v = NULL;
    }
    free(a->v);
    *a = (dnn_attr){name, type, count, copy};
    return 0;
}

cudnnStatus_t shim_impl_cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t descriptorType,
                                                      cudnnBackendDescriptor_t *descriptor)
{
    if (!descriptor)
        return CUDNN_STATUS_BAD_PARAM;
    if (shim_ensure() != cudaSuccess)
        return CUDNN_STATUS_NOT_INITIALIZED;
    dnn_desc *d = calloc(1, sizeof *d); /* freed by cudnnBackendDestroyDescriptor */
    if (!d)
        return CUDNN_STATUS_ALLOC_FAILED;
    d->id = next_desc++;
    d->type = (uint32_t)descriptorType;
    if (shim_handle_add(d, SHIM_DNN_DESC_MAGIC)) {
        free(d);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    shim_rec r;
    shim_batch_begin(&r);
    cudnnStatus_t st = announce_new(&r, SHIM_PUT(&r, DNN_BE_CREATE, d->id, d->type),
                                    PROTO_OP_DNN_BE_CREATE, d);
    if (st != CUDNN_STATUS_SUCCESS)
        return st;
    *descriptor = (cudnnBackendDescriptor_t)d;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t shim_impl_cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t descriptor)
{
    dnn_desc *d = desc_of(descriptor);
    if (!d)
        return CUDNN_STATUS_BAD_PARAM;
    if (shim_ensure() == cudaSuccess) {
        shim_rec r;
        shim_batch_begin(&r);
        announce_gone(&r, SHIM_PUT(&r, DNN_BE_DESTROY, d->id), PROTO_OP_DNN_BE_DESTROY);
    }
    shim_handle_del(d);
    attrs_clear(d);
    free(d->attrs);
    free(d);
    return CUDNN_STATUS_SUCCESS;
}

/* Writes count elements of type into w as the wire carries them (descriptors and handles as
 * u64 client IDs). BAD_PARAM when an element names no live object of its kind. */
static cudnnStatus_t to_wire(uint32_t type, int64_t count, const void *v, size_t es, uint8_t *w)
{
    if (type != CUDNN_TYPE_BACKEND_DESCRIPTOR && type != CUDNN_TYPE_HANDLE) {
        memcpy(w, v, (size_t)count * es);
        return CUDNN_STATUS_SUCCESS;
    }
    for (int64_t i = 0; i < count; i++) {
        void *p;
        memcpy(&p, (const uint8_t *)v + i * (int64_t)es, sizeof p);
        const shim_handle *o = type == CUDNN_TYPE_HANDLE ? (const shim_handle *)handle_of(p)
                                                         : (const shim_handle *)desc_of(p);
        if (!o)
            return CUDNN_STATUS_BAD_PARAM;
        uint64_t id = o->id;
        memcpy(w + i * 8, &id, 8);
    }
    return CUDNN_STATUS_SUCCESS;
}

/* A variant pack's data pointers outside the session's device memory are host pointers to
 * by-value scalars (cudnn-frontend's attention scale and mask value): on the wire they become
 * tags naming their element, which the executor points at slots of its own; the bytes follow
 * at each Execute (DNN_BE_VALUES, execute_values). */
static void byvalue_tags(uint8_t *w, int64_t count)
{
    for (int64_t i = 0; i < count; i++) {
        uint64_t p;
        memcpy(&p, w + i * 8, 8);
        if (p && !shim_alloc_in_range(shim_g.alloc, p)) {
            p = PROTO_DNN_BYVALUE_TAG | (uint64_t)i;
            memcpy(w + i * 8, &p, 8);
        }
    }
}

cudnnStatus_t shim_impl_cudnnBackendSetAttribute(cudnnBackendDescriptor_t descriptor,
                                                  cudnnBackendAttributeName_t attributeName,
                                                  cudnnBackendAttributeType_t attributeType,
                                                  int64_t elementCount, const void *arrayOfElements)
{
    dnn_desc *d = desc_of(descriptor);
    if (!d || elementCount < 0 || (elementCount && !arrayOfElements))
        return CUDNN_STATUS_BAD_PARAM;
    if (d->finalized)
        return CUDNN_STATUS_NOT_SUPPORTED; /* what cuDNN answers: a finalized one is frozen */
    size_t es = proto_dnn_elem_size(attributeType);
    if (!es) {
        GENIE_WARN("cudnnBackendSetAttribute: attribute type %d is not known to Genie",
                   (int)attributeType);
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
    if ((uint64_t)elementCount > PROTO_DNN_ATTR_MAX / es)
        return CUDNN_STATUS_BAD_PARAM;
    const char *why = proto_dnn_attr_unchecked(d->type, (uint32_t)attributeName, attributeType);
    if (why) {
        static _Atomic unsigned char logged;
        genie_warn_once_at(&logged,
                           "cudnnBackendSetAttribute: attribute %d (%s) is not supported by "
                           "Genie, which checks every tensor's extent before it runs; returning "
                           "CUDNN_STATUS_NOT_SUPPORTED",
                           (int)attributeName, why);
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
    if (shim_ensure() != cudaSuccess)
        return CUDNN_STATUS_NOT_INITIALIZED;
    size_t n = (size_t)elementCount * es;
    shim_rec r;
    shim_batch_begin(&r);
    uint8_t *w = SHIM_PUT(&r, DNN_BE_SET, d->id, (uint32_t)attributeName, (uint32_t)attributeType,
                          (uint32_t)elementCount, n);
    if (!w) {
        shim_batch_rollback(&r);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    cudnnStatus_t st = to_wire(attributeType, elementCount, arrayOfElements, es, w);
    if (st) {
        shim_batch_rollback(&r);
        return st;
    }
    if (d->type == CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR &&
        attributeName == CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS &&
        attributeType == CUDNN_TYPE_VOID_PTR)
        byvalue_tags(w, elementCount);
    if (attr_keep(d, attributeName, attributeType, elementCount, arrayOfElements, n)) {
        shim_batch_rollback(&r);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    sem_op *o = shim_sem_op(SEM_OP_OTHER, PROTO_OP_DNN_BE_SET, 0);
    (void)o;
    return commit(&r, SHIM_NO_STREAM);
}

cudnnStatus_t shim_impl_cudnnBackendFinalize(cudnnBackendDescriptor_t descriptor)
{
    dnn_desc *d = desc_of(descriptor);
    if (!d)
        return CUDNN_STATUS_BAD_PARAM;
    if (d->finalized)
        return CUDNN_STATUS_BAD_PARAM;
    if (shim_ensure() != cudaSuccess)
        return CUDNN_STATUS_NOT_INITIALIZED;
    shim_rec r;
    shim_batch_begin(&r);
    if (finalize_is_plain(d->type)) {
        if (!SHIM_PUT(&r, DNN_BE_FINALIZE_ASYNC, d->id)) {
            shim_batch_rollback(&r);
            return CUDNN_STATUS_ALLOC_FAILED;
        }
        shim_sem_op(SEM_OP_OTHER, PROTO_OP_DNN_BE_FINALIZE_ASYNC, 0);
        cudnnStatus_t st = commit(&r, SHIM_NO_STREAM);
        if (!st)
            d->finalized = 1;
        return st;
    }
    if (!SHIM_PUT(&r, DNN_BE_FINALIZE, d->id)) {
        shim_batch_rollback(&r);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    shim_sem_op(SEM_OP_OTHER, PROTO_OP_DNN_BE_FINALIZE, 0);
    shim_batch_want_reply(&r, NULL, 0);
    const shim_slot *s = query(&r);
    if (!s)
        return CUDNN_STATUS_EXECUTION_FAILED;
    if (s->status == CUDNN_STATUS_SUCCESS)
        d->finalized = 1;
    else
        GENIE_DEBUG("cudnnBackendFinalize(descriptor %u of type %u): status %d", d->id, d->type,
                    (int)s->status);
    return (cudnnStatus_t)s->status;
}

/* The descriptor-valued attribute name of d as the program set it (one element), or NULL. */
static dnn_desc *attr_desc(dnn_desc *d, uint32_t name)
{
    dnn_attr *a = d ? attr_find(d, name) : NULL;
    if (!a || a->type != CUDNN_TYPE_BACKEND_DESCRIPTOR || a->count != 1)
        return NULL;
    void *p;
    memcpy(&p, a->v, sizeof p);
    return desc_of(p);
}

/* The operation graph d (a heuristic, engine, engine config or plan) was made for, NULL when
 * unknown or destroyed since. */
static dnn_desc *graph_of(dnn_desc *d)
{
    for (int hops = 0; d && hops < 4; hops++) {
        if (d->type == CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR)
            return d;
        if (d->filled) {
            dnn_desc *g = desc_of(d->graph);
            return g && g->id == d->graph_id ? g : NULL;
        }
        dnn_desc *g = attr_desc(d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH);
        if (!g)
            g = attr_desc(d, CUDNN_ATTR_ENGINE_OPERATION_GRAPH);
        if (!g)
            g = attr_desc(d, CUDNN_ATTR_ENGINECFG_ENGINE);
        if (!g)
            g = attr_desc(d, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG);
        d = g;
    }
    return NULL;
}

cudnnStatus_t shim_impl_cudnnBackendGetAttribute(cudnnBackendDescriptor_t const descriptor,
                                                  cudnnBackendAttributeName_t attributeName,
                                                  cudnnBackendAttributeType_t attributeType,
                                                  int64_t requestedElementCount,
                                                  int64_t *elementCount, void *arrayOfElements)
{
    dnn_desc *d = desc_of(descriptor);
    if (!d || requestedElementCount < 0)
        return CUDNN_STATUS_BAD_PARAM;
    if (!arrayOfElements) /* cudnn-frontend asks notes' count with a NULL array: a count query */
        requestedElementCount = 0;
    size_t es = proto_dnn_elem_size(attributeType);
    if (!es) {
        GENIE_WARN("cudnnBackendGetAttribute: attribute type %d is not known to Genie",
                   (int)attributeType);
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
    if ((uint64_t)requestedElementCount > PROTO_DNN_ATTR_MAX / es)
        return CUDNN_STATUS_BAD_PARAM;
    int isdesc = attributeType == CUDNN_TYPE_BACKEND_DESCRIPTOR;
    /* What the program set, or a finalized descriptor's earlier answer: no round trip. A
     * descriptor-valued attribute is filled in by the library (copies into the caller's
     * descriptors), except for its count. */
    dnn_attr *a = attr_find(d, attributeName);
    if (a && a->type == (uint32_t)attributeType && (!isdesc || requestedElementCount == 0)) {
        if (elementCount)
            *elementCount = a->count;
        int64_t k = requestedElementCount < a->count ? requestedElementCount : a->count;
        if (k)
            memcpy(arrayOfElements, a->v, (size_t)k * es);
        return CUDNN_STATUS_SUCCESS;
    }
    if (attributeType == CUDNN_TYPE_HANDLE)
        return CUDNN_STATUS_BAD_PARAM; /* the program never set it: nothing to name here */
    if (shim_ensure() != cudaSuccess)
        return CUDNN_STATUS_NOT_INITIALIZED;
    size_t outs = isdesc ? (size_t)requestedElementCount * 8 : 0;
    size_t rn = PROTO_DNN_GET_HEAD + (isdesc ? 0 : (size_t)requestedElementCount * es);
    uint8_t *reply = malloc(rn); /* freed below */
    if (!reply)
        return CUDNN_STATUS_ALLOC_FAILED;
    shim_rec r;
    shim_batch_begin(&r);
    uint8_t *w = SHIM_PUT(&r, DNN_BE_GET, d->id, (uint32_t)attributeName, (uint32_t)attributeType,
                          (uint32_t)requestedElementCount, outs);
    cudnnStatus_t st = CUDNN_STATUS_ALLOC_FAILED;
    if (!w)
        goto fail;
    if (isdesc && (st = to_wire(attributeType, requestedElementCount, arrayOfElements, es, w)))
        goto fail;
    shim_sem_op(SEM_OP_OTHER, PROTO_OP_DNN_BE_GET, 0);
    shim_batch_want_reply(&r, reply, rn);
    const shim_slot *s = query(&r);
    if (!s) {
        free(reply);
        return CUDNN_STATUS_EXECUTION_FAILED;
    }
    int64_t count;
    int32_t status;
    memcpy(&count, reply, 8);
    memcpy(&status, reply + 8, 4);
    if (status == CUDNN_STATUS_SUCCESS) {
        if (count < 0)
            count = 0;
        if (elementCount)
            *elementCount = count;
        int64_t k = requestedElementCount < count ? requestedElementCount : count;
        if (!isdesc && k)
            memcpy(arrayOfElements, reply + PROTO_DNN_GET_HEAD, (size_t)k * es);
        if (isdesc) {
            /* the library filled the descriptors in: their attributes are its own now */
            dnn_desc *gd = graph_of(d);
            for (int64_t i = 0; i < k; i++) {
                void *p;
                memcpy(&p, (uint8_t *)arrayOfElements + i * 8, sizeof p);
                dnn_desc *o = desc_of(p);
                if (o) {
                    attrs_clear(o);
                    o->filled = 1;
                    o->graph = gd;
                    o->graph_id = gd ? gd->id : 0;
                }
            }
        } else if ((d->finalized || d->filled) && k == count) {
            /* a finalized descriptor's answers do not change: later asks cost nothing */
            (void)attr_keep(d, attributeName, attributeType, count, reply + PROTO_DNN_GET_HEAD,
                            (size_t)count * es);
        }
    }
    else
        GENIE_DEBUG("cudnnBackendGetAttribute(descriptor %u of type %u, attribute %d): status %d",
                    d->id, d->type, (int)attributeName, (int)status);
    free(reply);
    return (cudnnStatus_t)status;
fail:
    shim_batch_rollback(&r);
    free(reply);
    return st;
}

/* The IR ranges of an Execute: every data pointer and the workspace of the variant pack, read
 * and written, of unknown size. */
static void execute_ranges(sem_op *o, dnn_desc *pack)
{
    dnn_attr *a = attr_find(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS);
    for (int64_t i = 0; a && a->type == CUDNN_TYPE_VOID_PTR && i < a->count; i++) {
        uint64_t p;
        memcpy(&p, a->v + i * 8, 8);
        if (p && shim_alloc_in_range(shim_g.alloc, p))
            shim_sem_range(o, p, SEM_SIZE_UNKNOWN, SEM_RW);
    }
    a = attr_find(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE);
    if (a && a->type == CUDNN_TYPE_VOID_PTR && a->count == 1) {
        uint64_t p;
        memcpy(&p, a->v, 8);
        if (p)
            shim_sem_range(o, p, SEM_SIZE_UNKNOWN, SEM_RW);
    }
}

/* The bytes of the by-value tensor uid of the graph plan runs: its element size, 0 when the
 * graph or the tensor is not known here. Walks the mirror: plan, engine config, engine (or
 * the graph a filled config was made for), graph, its operations' tensors. */
static size_t byvalue_size(dnn_desc *plan, int64_t uid)
{
    dnn_desc *g = graph_of(plan);
    dnn_attr *ops = g ? attr_find(g, CUDNN_ATTR_OPERATIONGRAPH_OPS) : NULL;
    for (int64_t i = 0; ops && ops->type == CUDNN_TYPE_BACKEND_DESCRIPTOR && i < ops->count; i++) {
        void *p;
        memcpy(&p, ops->v + i * 8, sizeof p);
        dnn_desc *op = desc_of(p);
        for (uint32_t j = 0; op && j < op->nattrs; j++) {
            dnn_attr *a = &op->attrs[j];
            if (a->type != CUDNN_TYPE_BACKEND_DESCRIPTOR || a->count != 1)
                continue;
            memcpy(&p, a->v, sizeof p);
            dnn_desc *t = desc_of(p);
            if (!t || t->type != CUDNN_BACKEND_TENSOR_DESCRIPTOR)
                continue;
            dnn_attr *u = attr_find(t, CUDNN_ATTR_TENSOR_UNIQUE_ID);
            dnn_attr *dt = attr_find(t, CUDNN_ATTR_TENSOR_DATA_TYPE);
            int64_t tu;
            int32_t dtype;
            if (!u || u->type != CUDNN_TYPE_INT64 || !dt || dt->type != CUDNN_TYPE_DATA_TYPE)
                continue;
            memcpy(&tu, u->v, 8);
            memcpy(&dtype, dt->v, 4);
            if (tu == uid)
                return proto_dnn_dtype_size(dtype);
        }
    }
    return 0;
}

/* Records the by-value scalars of pack (host pointers, read now: cuDNN reads them at Execute)
 * for the executor's slots: DNN_BE_VALUES before the Execute. CUDNN_STATUS_SUCCESS when the
 * pack has none; NOT_SUPPORTED (logged) when a scalar's type cannot be found. */
static cudnnStatus_t execute_values(dnn_desc *plan, dnn_desc *pack)
{
    dnn_attr *a = attr_find(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS);
    dnn_attr *u = attr_find(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS);
    if (!a || a->type != CUDNN_TYPE_VOID_PTR)
        return CUDNN_STATUS_SUCCESS;
    int any = 0;
    for (int64_t i = 0; i < a->count && !any; i++) {
        uint64_t p;
        memcpy(&p, a->v + i * 8, 8);
        any = p && !shim_alloc_in_range(shim_g.alloc, p);
    }
    if (!any)
        return CUDNN_STATUS_SUCCESS;
    if (!u || u->type != CUDNN_TYPE_INT64 || u->count != a->count)
        return CUDNN_STATUS_BAD_PARAM;
    shim_rec r;
    shim_batch_begin(&r);
    size_t n = (size_t)a->count * PROTO_DNN_BYVALUE_SLOT;
    uint8_t *w = SHIM_PUT(&r, DNN_BE_VALUES, pack->id, n);
    if (!w) {
        shim_batch_rollback(&r);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    memset(w, 0, n);
    for (int64_t i = 0; i < a->count; i++) {
        uint64_t p;
        int64_t uid;
        memcpy(&p, a->v + i * 8, 8);
        memcpy(&uid, u->v + i * 8, 8);
        if (!p || shim_alloc_in_range(shim_g.alloc, p))
            continue;
        size_t es = byvalue_size(plan, uid);
        if (!es || es > PROTO_DNN_BYVALUE_SLOT) {
            shim_batch_rollback(&r);
            GENIE_WARN("cudnnBackendExecute: variant pack pointer %#llx (tensor %lld) is not "
                       "device memory and no by-value tensor of the plan's graph has that UID; "
                       "returning CUDNN_STATUS_NOT_SUPPORTED",
                       (unsigned long long)p, (long long)uid);
            return CUDNN_STATUS_NOT_SUPPORTED;
        }
        memcpy(w + i * PROTO_DNN_BYVALUE_SLOT, (const void *)(uintptr_t)p, es);
    }
    shim_sem_op(SEM_OP_OTHER, PROTO_OP_DNN_BE_VALUES, 0);
    return commit(&r, SHIM_NO_STREAM);
}

cudnnStatus_t shim_impl_cudnnBackendExecute(cudnnHandle_t handle,
                                             cudnnBackendDescriptor_t executionPlan,
                                             cudnnBackendDescriptor_t variantPack)
{
    dnn_handle *h = handle_of(handle);
    dnn_desc *plan = desc_of(executionPlan), *pack = desc_of(variantPack);
    if (!h || !plan || !pack || plan->type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR ||
        pack->type != CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR)
        return CUDNN_STATUS_BAD_PARAM;
    if (!plan->finalized || !pack->finalized)
        return CUDNN_STATUS_BAD_PARAM;
    if (shim_ensure() != cudaSuccess)
        return CUDNN_STATUS_NOT_INITIALIZED;
    uint32_t sid = handle_sid(h);
    if (shim_g.ncaptures && shim_capture_unsupported(sid, "a cuDNN call (cudnnBackendExecute)"))
        return CUDNN_STATUS_NOT_SUPPORTED; /* not replayable in a captured graph yet */
    cudnnStatus_t vst = execute_values(plan, pack);
    if (vst)
        return vst;
    shim_rec r;
    shim_batch_begin(&r);
    if (!SHIM_PUT(&r, DNN_BE_EXECUTE, h->id, sid, plan->id, pack->id)) {
        shim_batch_rollback(&r);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    sem_op *o = shim_sem_op(SEM_OP_LIB, PROTO_OP_DNN_BE_EXECUTE, sid);
    o->api = GENIE_API_cudnnBackendExecute;
    execute_ranges(o, pack);
    return commit(&r, sid);
}

/* ----------------------------------------------------- legacy tensor descriptors ---- */

cudnnStatus_t shim_impl_cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *tensorDesc)
{
    if (!tensorDesc)
        return CUDNN_STATUS_BAD_PARAM;
    dnn_tensor *t = calloc(1, sizeof *t); /* freed by cudnnDestroyTensorDescriptor */
    if (!t)
        return CUDNN_STATUS_ALLOC_FAILED;
    if (shim_handle_add(t, SHIM_DNN_TENSOR_MAGIC)) {
        free(t);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    *tensorDesc = (cudnnTensorDescriptor_t)t;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t shim_impl_cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc)
{
    dnn_tensor *t = tensor_of(tensorDesc);
    if (!tensorDesc)
        return CUDNN_STATUS_SUCCESS; /* as cuDNN: destroying NULL is fine */
    if (!t)
        return CUDNN_STATUS_BAD_PARAM;
    shim_handle_del(t);
    free(t);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t shim_impl_cudnnSetTensorNdDescriptor(cudnnTensorDescriptor_t tensorDesc,
                                                   cudnnDataType_t dataType, int nbDims,
                                                   const int dimA[], const int strideA[])
{
    dnn_tensor *t = tensor_of(tensorDesc);
    if (!t || !dimA || !strideA || nbDims <= 0 || nbDims > PROTO_DNN_MAX_DIMS ||
        !proto_dnn_dtype_size(dataType))
        return CUDNN_STATUS_BAD_PARAM;
    for (int i = 0; i < nbDims; i++)
        if (dimA[i] <= 0 || strideA[i] <= 0)
            return CUDNN_STATUS_BAD_PARAM;
    proto_dnn_tensor n = {.dtype = dataType, .nd = nbDims};
    memcpy(n.dims, dimA, (size_t)nbDims * sizeof(int));
    memcpy(n.strides, strideA, (size_t)nbDims * sizeof(int));
    t->t = n;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t shim_impl_cudnnSetTensor4dDescriptorEx(cudnnTensorDescriptor_t tensorDesc,
                                                     cudnnDataType_t dataType, int n, int c, int h,
                                                     int w, int nStride, int cStride, int hStride,
                                                     int wStride)
{
    int dims[4] = {n, c, h, w}, strides[4] = {nStride, cStride, hStride, wStride};
    return shim_impl_cudnnSetTensorNdDescriptor(tensorDesc, dataType, 4, dims, strides);
}

cudnnStatus_t shim_impl_cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc,
                                                   cudnnTensorFormat_t format,
                                                   cudnnDataType_t dataType, int n, int c, int h,
                                                   int w)
{
    if (format == CUDNN_TENSOR_NCHW)
        return shim_impl_cudnnSetTensor4dDescriptorEx(tensorDesc, dataType, n, c, h, w, c * h * w,
                                                      h * w, w, 1);
    if (format == CUDNN_TENSOR_NHWC)
        return shim_impl_cudnnSetTensor4dDescriptorEx(tensorDesc, dataType, n, c, h, w, h * w * c,
                                                      1, w * c, c);
    return CUDNN_STATUS_NOT_SUPPORTED;
}

cudnnStatus_t shim_impl_cudnnGetTensorNdDescriptor(const cudnnTensorDescriptor_t tensorDesc,
                                                   int nbDimsRequested, cudnnDataType_t *dataType,
                                                   int *nbDims, int dimA[], int strideA[])
{
    dnn_tensor *t = tensor_of(tensorDesc);
    if (!t || nbDimsRequested < 0 || !dataType || !nbDims)
        return CUDNN_STATUS_BAD_PARAM;
    *dataType = (cudnnDataType_t)t->t.dtype;
    *nbDims = t->t.nd;
    for (int i = 0; i < nbDimsRequested && i < t->t.nd; i++) {
        if (dimA)
            dimA[i] = t->t.dims[i];
        if (strideA)
            strideA[i] = t->t.strides[i];
    }
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t shim_impl_cudnnGetTensor4dDescriptor(const cudnnTensorDescriptor_t tensorDesc,
                                                   cudnnDataType_t *dataType, int *n, int *c,
                                                   int *h, int *w, int *nStride, int *cStride,
                                                   int *hStride, int *wStride)
{
    dnn_tensor *t = tensor_of(tensorDesc);
    if (!t || t->t.nd != 4 || !dataType || !n || !c || !h || !w || !nStride || !cStride ||
        !hStride || !wStride)
        return CUDNN_STATUS_BAD_PARAM;
    *dataType = (cudnnDataType_t)t->t.dtype;
    *n = t->t.dims[0], *c = t->t.dims[1], *h = t->t.dims[2], *w = t->t.dims[3];
    *nStride = t->t.strides[0], *cStride = t->t.strides[1];
    *hStride = t->t.strides[2], *wStride = t->t.strides[3];
    return CUDNN_STATUS_SUCCESS;
}

/* ------------------------------------------------------------------ batch norm ---- */

/* A host scaling factor as a double: cuDNN reads alpha and beta as double for double data,
 * as float otherwise. */
static uint64_t host_scale(const void *p, int dtype)
{
    double v;
    if (dtype == CUDNN_DATA_DOUBLE) {
        memcpy(&v, p, 8);
    } else {
        float f;
        memcpy(&f, p, 4);
        v = f;
    }
    uint64_t bits;
    memcpy(&bits, &v, 8);
    return bits;
}

/* The end of a batch-norm record: its n tensor descriptors after the fixed fields (w, from
 * SHIM_PUT), and its IR op, for the caller to add the buffers' ranges to. */
static sem_op *bn_record(uint8_t *w, const proto_dnn_tensor *const *t, int n, unsigned op,
                         unsigned api, uint32_t sid)
{
    for (int i = 0; i < n; i++)
        memcpy(w + (size_t)i * sizeof *t[i], t[i], sizeof *t[i]);
    sem_op *o = shim_sem_op(SEM_OP_LIB, op, sid);
    o->api = api;
    return o;
}

cudnnStatus_t shim_impl_cudnnBatchNormalizationForwardInference(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alpha, const void *beta,
    const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t yDesc,
    void *y, const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void *bnScale,
    const void *bnBias, const void *estimatedMean, const void *estimatedVariance, double epsilon)
{
    dnn_handle *h = handle_of(handle);
    dnn_tensor *xd = tensor_of(xDesc), *yd = tensor_of(yDesc), *bd = tensor_of(bnScaleBiasMeanVarDesc);
    if (!h || !xd || !yd || !bd || !alpha || !beta || !x || !y || !bnScale || !bnBias ||
        !estimatedMean || !estimatedVariance || !xd->t.nd || !yd->t.nd || !bd->t.nd)
        return CUDNN_STATUS_BAD_PARAM;
    if (shim_ensure() != cudaSuccess)
        return CUDNN_STATUS_NOT_INITIALIZED;
    uint32_t sid = handle_sid(h);
    if (shim_g.ncaptures &&
        shim_capture_unsupported(sid, "a cuDNN call (cudnnBatchNormalizationForwardInference)"))
        return CUDNN_STATUS_NOT_SUPPORTED; /* not replayable in a captured graph yet */
    uint64_t eps;
    memcpy(&eps, &epsilon, 8);
    shim_rec r;
    shim_batch_begin(&r);
    uint8_t *w = SHIM_PUT(&r, DNN_BN_INFER, (uint64_t)(uintptr_t)x, (uint64_t)(uintptr_t)y,
                          (uint64_t)(uintptr_t)bnScale, (uint64_t)(uintptr_t)bnBias,
                          (uint64_t)(uintptr_t)estimatedMean,
                          (uint64_t)(uintptr_t)estimatedVariance, eps,
                          host_scale(alpha, xd->t.dtype), host_scale(beta, xd->t.dtype), h->id, sid,
                          (uint32_t)mode, 3 * sizeof(proto_dnn_tensor));
    if (!w) {
        shim_batch_rollback(&r);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    sem_op *o = bn_record(w, (const proto_dnn_tensor *[]){&xd->t, &yd->t, &bd->t}, 3,
                          PROTO_OP_DNN_BN_INFER, GENIE_API_cudnnBatchNormalizationForwardInference,
                          sid);
    uint64_t bn = proto_dnn_tensor_bytes(&bd->t);
    shim_sem_range(o, (uint64_t)(uintptr_t)x, proto_dnn_tensor_bytes(&xd->t), SEM_R);
    shim_sem_range(o, (uint64_t)(uintptr_t)y, proto_dnn_tensor_bytes(&yd->t), SEM_W);
    shim_sem_range(o, (uint64_t)(uintptr_t)bnScale, bn, SEM_R);
    shim_sem_range(o, (uint64_t)(uintptr_t)bnBias, bn, SEM_R);
    shim_sem_range(o, (uint64_t)(uintptr_t)estimatedMean, bn, SEM_R);
    shim_sem_range(o, (uint64_t)(uintptr_t)estimatedVariance, bn, SEM_R);
    return commit(&r, sid);
}

/* ----------------------------------------- batch-norm training (the Ex calls) ---- */

/* What the Ex calls serve: the plain batch norm. Fused activations need an activation
 * descriptor, which Genie does not forward (cudnnCreateActivationDescriptor is denied). */
static cudnnStatus_t bn_ops_ok(unsigned apix, cudnnBatchNormOps_t ops, const void *act)
{
    static _Atomic unsigned char logged;
    if (ops == CUDNN_BATCHNORM_OPS_BN && !act)
        return CUDNN_STATUS_SUCCESS;
    genie_warn_once_at(&logged, "%s with bnOps %d or an activation descriptor is not supported by "
                       "Genie (only CUDNN_BATCHNORM_OPS_BN); returning CUDNN_STATUS_NOT_SUPPORTED",
                       genie_api_table[apix].name, (int)ops);
    return CUDNN_STATUS_NOT_SUPPORTED;
}

/* The wire form of a legacy descriptor argument: NULL as nd 0; BAD_PARAM for one that is not
 * a set tensor descriptor. */
static cudnnStatus_t bn_tensor(const void *desc, proto_dnn_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (!desc)
        return CUDNN_STATUS_SUCCESS;
    dnn_tensor *t = tensor_of(desc);
    if (!t || !t->t.nd)
        return CUDNN_STATUS_BAD_PARAM;
    *out = t->t;
    return CUDNN_STATUS_SUCCESS;
}

/* The session's answers to the size queries, by (which, mode, tensors): the same problem is
 * asked by every batch norm of every step (PyTorch asks before each call). Never freed: a
 * handful per model. */
typedef struct bn_size {
    struct bn_size *next;
    uint32_t which, mode, n;
    proto_dnn_tensor t[6];
    uint64_t size;
} bn_size;
static bn_size *bn_sizes;

static cudnnStatus_t bn_size_query(unsigned apix, cudnnHandle_t handle, uint32_t which,
                                   cudnnBatchNormMode_t mode, cudnnBatchNormOps_t ops,
                                   const void *act, const void *const *descs, uint32_t n,
                                   size_t *size)
{
    dnn_handle *h = handle_of(handle);
    if (!h || !size || !descs[0])
        return CUDNN_STATUS_BAD_PARAM;
    cudnnStatus_t st = bn_ops_ok(apix, ops, act);
    if (st)
        return st;
    bn_size key = {.which = which, .mode = (uint32_t)mode, .n = n};
    for (uint32_t i = 0; i < n; i++)
        if ((st = bn_tensor(descs[i], &key.t[i])))
            return st;
    for (bn_size *b = bn_sizes; b; b = b->next)
        if (b->which == which && b->mode == key.mode && b->n == n &&
            !memcmp(b->t, key.t, n * sizeof key.t[0])) {
            *size = (size_t)b->size;
            return CUDNN_STATUS_SUCCESS;
        }
    if (shim_ensure() != cudaSuccess)
        return CUDNN_STATUS_NOT_INITIALIZED;
    shim_rec r;
    shim_batch_begin(&r);
    uint8_t *w = SHIM_PUT(&r, DNN_BN_SIZE, h->id, which, (uint32_t)mode, n * sizeof key.t[0]);
    if (!w) {
        shim_batch_rollback(&r);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    memcpy(w, key.t, n * sizeof key.t[0]);
    shim_sem_op(SEM_OP_OTHER, PROTO_OP_DNN_BN_SIZE, 0);
    shim_batch_want_reply(&r, NULL, 0);
    const shim_slot *s = query(&r);
    if (!s)
        return CUDNN_STATUS_EXECUTION_FAILED;
    if (s->status != CUDNN_STATUS_SUCCESS)
        return (cudnnStatus_t)s->status;
    key.size = s->value;
    bn_size *keep = malloc(sizeof *keep); /* kept for the process (bn_sizes) */
    if (keep) {
        *keep = key;
        keep->next = bn_sizes;
        bn_sizes = keep;
    }
    *size = (size_t)s->value;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t shim_impl_cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,
    const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t zDesc,
    const cudnnTensorDescriptor_t yDesc, const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc,
    const cudnnActivationDescriptor_t activationDesc, size_t *sizeInBytes)
{
    const void *d[4] = {xDesc, zDesc, yDesc, bnScaleBiasMeanVarDesc};
    return bn_size_query(GENIE_APIX_cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize,
                         handle, PROTO_DNN_BN_SIZE_FWD_WS, mode, bnOps, activationDesc, d, 4,
                         sizeInBytes);
}

cudnnStatus_t shim_impl_cudnnGetBatchNormalizationTrainingExReserveSpaceSize(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,
    const cudnnActivationDescriptor_t activationDesc, const cudnnTensorDescriptor_t xDesc,
    size_t *sizeInBytes)
{
    const void *d[1] = {xDesc};
    return bn_size_query(GENIE_APIX_cudnnGetBatchNormalizationTrainingExReserveSpaceSize, handle,
                         PROTO_DNN_BN_SIZE_RESERVE, mode, bnOps, activationDesc, d, 1, sizeInBytes);
}

cudnnStatus_t shim_impl_cudnnGetBatchNormalizationBackwardExWorkspaceSize(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,
    const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t yDesc,
    const cudnnTensorDescriptor_t dyDesc, const cudnnTensorDescriptor_t dzDesc,
    const cudnnTensorDescriptor_t dxDesc, const cudnnTensorDescriptor_t dBnScaleBiasDesc,
    const cudnnActivationDescriptor_t activationDesc, size_t *sizeInBytes)
{
    const void *d[6] = {xDesc, yDesc, dyDesc, dzDesc, dxDesc, dBnScaleBiasDesc};
    return bn_size_query(GENIE_APIX_cudnnGetBatchNormalizationBackwardExWorkspaceSize, handle,
                         PROTO_DNN_BN_SIZE_BWD_WS, mode, bnOps, activationDesc, d, 6, sizeInBytes);
}

static uint64_t u64p(const void *p) { return (uint64_t)(uintptr_t)p; }

cudnnStatus_t shim_impl_cudnnBatchNormalizationForwardTrainingEx(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps, const void *alpha,
    const void *beta, const cudnnTensorDescriptor_t xDesc, const void *xData,
    const cudnnTensorDescriptor_t zDesc, const void *zData, const cudnnTensorDescriptor_t yDesc,
    void *yData, const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void *bnScale,
    const void *bnBias, double exponentialAverageFactor, void *resultRunningMean,
    void *resultRunningVariance, double epsilon, void *resultSaveMean,
    void *resultSaveInvVariance, cudnnActivationDescriptor_t activationDesc, void *workspace,
    size_t workSpaceSizeInBytes, void *reserveSpace, size_t reserveSpaceSizeInBytes)
{
    dnn_handle *h = handle_of(handle);
    dnn_tensor *xd = tensor_of(xDesc), *yd = tensor_of(yDesc), *bd = tensor_of(bnScaleBiasMeanVarDesc);
    if (!h || !xd || !yd || !bd || !alpha || !beta || !xData || !yData || !bnScale || !bnBias ||
        !xd->t.nd || !yd->t.nd || !bd->t.nd)
        return CUDNN_STATUS_BAD_PARAM;
    cudnnStatus_t st = bn_ops_ok(GENIE_APIX_cudnnBatchNormalizationForwardTrainingEx, bnOps,
                                 activationDesc);
    if (st)
        return st;
    if (zDesc || zData)
        return CUDNN_STATUS_NOT_SUPPORTED; /* z is BN_ADD_ACTIVATION's */
    if (shim_ensure() != cudaSuccess)
        return CUDNN_STATUS_NOT_INITIALIZED;
    uint32_t sid = handle_sid(h);
    if (shim_g.ncaptures &&
        shim_capture_unsupported(sid, "a cuDNN call (cudnnBatchNormalizationForwardTrainingEx)"))
        return CUDNN_STATUS_NOT_SUPPORTED; /* not replayable in a captured graph yet */
    uint64_t eps, factor;
    memcpy(&eps, &epsilon, 8);
    memcpy(&factor, &exponentialAverageFactor, 8);
    shim_rec r;
    shim_batch_begin(&r);
    uint8_t *w = SHIM_PUT(&r, DNN_BN_TRAIN, u64p(xData), u64p(yData), u64p(bnScale), u64p(bnBias),
                          u64p(resultRunningMean), u64p(resultRunningVariance),
                          u64p(resultSaveMean), u64p(resultSaveInvVariance), u64p(workspace),
                          (uint64_t)workSpaceSizeInBytes, u64p(reserveSpace),
                          (uint64_t)reserveSpaceSizeInBytes, factor, eps,
                          host_scale(alpha, xd->t.dtype), host_scale(beta, xd->t.dtype), h->id,
                          sid, (uint32_t)mode, 3 * sizeof(proto_dnn_tensor));
    if (!w) {
        shim_batch_rollback(&r);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    sem_op *o = bn_record(w, (const proto_dnn_tensor *[]){&xd->t, &yd->t, &bd->t}, 3,
                          PROTO_OP_DNN_BN_TRAIN, GENIE_API_cudnnBatchNormalizationForwardTrainingEx,
                          sid);
    uint64_t bn = proto_dnn_tensor_bytes(&bd->t);
    shim_sem_range(o, u64p(xData), proto_dnn_tensor_bytes(&xd->t), SEM_R);
    shim_sem_range(o, u64p(yData), proto_dnn_tensor_bytes(&yd->t), SEM_W);
    shim_sem_range(o, u64p(bnScale), bn, SEM_R);
    shim_sem_range(o, u64p(bnBias), bn, SEM_R);
    const void *rw[2] = {resultRunningMean, resultRunningVariance};
    const void *wo[2] = {resultSaveMean, resultSaveInvVariance};
    for (int i = 0; i < 2; i++) {
        if (rw[i])
            shim_sem_range(o, u64p(rw[i]), bn, SEM_RW);
        if (wo[i])
            shim_sem_range(o, u64p(wo[i]), bn, SEM_W);
    }
    if (workspace && workSpaceSizeInBytes)
        shim_sem_range(o, u64p(workspace), workSpaceSizeInBytes, SEM_RW);
    if (reserveSpace && reserveSpaceSizeInBytes)
        shim_sem_range(o, u64p(reserveSpace), reserveSpaceSizeInBytes, SEM_W);
    return commit(&r, sid);
}

cudnnStatus_t shim_impl_cudnnBatchNormalizationBackwardEx(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,
    const void *alphaDataDiff, const void *betaDataDiff, const void *alphaParamDiff,
    const void *betaParamDiff, const cudnnTensorDescriptor_t xDesc, const void *xData,
    const cudnnTensorDescriptor_t yDesc, const void *yData, const cudnnTensorDescriptor_t dyDesc,
    const void *dyData, const cudnnTensorDescriptor_t dzDesc, void *dzData,
    const cudnnTensorDescriptor_t dxDesc, void *dxData,
    const cudnnTensorDescriptor_t dBnScaleBiasDesc, const void *bnScaleData,
    const void *bnBiasData, void *dBnScaleData, void *dBnBiasData, double epsilon,
    const void *savedMean, const void *savedInvVariance, cudnnActivationDescriptor_t activationDesc,
    void *workSpace, size_t workSpaceSizeInBytes, void *reserveSpace,
    size_t reserveSpaceSizeInBytes)
{
    (void)bnBiasData; /* BN_ADD_ACTIVATION's, like y and dz */
    dnn_handle *h = handle_of(handle);
    dnn_tensor *xd = tensor_of(xDesc), *dyd = tensor_of(dyDesc), *dxd = tensor_of(dxDesc),
               *bd = tensor_of(dBnScaleBiasDesc);
    if (!h || !xd || !dyd || !dxd || !bd || !alphaDataDiff || !betaDataDiff || !alphaParamDiff ||
        !betaParamDiff || !xData || !dyData || !dxData || !bnScaleData || !dBnScaleData ||
        !dBnBiasData || !xd->t.nd || !dyd->t.nd || !dxd->t.nd || !bd->t.nd)
        return CUDNN_STATUS_BAD_PARAM;
    cudnnStatus_t st =
        bn_ops_ok(GENIE_APIX_cudnnBatchNormalizationBackwardEx, bnOps, activationDesc);
    if (st)
        return st;
    if (yDesc || yData || dzDesc || dzData)
        return CUDNN_STATUS_NOT_SUPPORTED;
    if (shim_ensure() != cudaSuccess)
        return CUDNN_STATUS_NOT_INITIALIZED;
    uint32_t sid = handle_sid(h);
    if (shim_g.ncaptures &&
        shim_capture_unsupported(sid, "a cuDNN call (cudnnBatchNormalizationBackwardEx)"))
        return CUDNN_STATUS_NOT_SUPPORTED; /* not replayable in a captured graph yet */
    uint64_t eps;
    memcpy(&eps, &epsilon, 8);
    int dt = xd->t.dtype;
    shim_rec r;
    shim_batch_begin(&r);
    uint8_t *w = SHIM_PUT(&r, DNN_BN_BACKWARD, u64p(xData), u64p(dyData), u64p(dxData),
                          u64p(bnScaleData), u64p(dBnScaleData), u64p(dBnBiasData),
                          u64p(savedMean), u64p(savedInvVariance), u64p(workSpace),
                          (uint64_t)workSpaceSizeInBytes, u64p(reserveSpace),
                          (uint64_t)reserveSpaceSizeInBytes, eps, host_scale(alphaDataDiff, dt),
                          host_scale(betaDataDiff, dt), host_scale(alphaParamDiff, dt),
                          host_scale(betaParamDiff, dt), h->id, sid, (uint32_t)mode,
                          4 * sizeof(proto_dnn_tensor));
    if (!w) {
        shim_batch_rollback(&r);
        return CUDNN_STATUS_ALLOC_FAILED;
    }
    sem_op *o = bn_record(w, (const proto_dnn_tensor *[]){&xd->t, &dyd->t, &dxd->t, &bd->t}, 4,
                          PROTO_OP_DNN_BN_BACKWARD, GENIE_API_cudnnBatchNormalizationBackwardEx,
                          sid);
    uint64_t bn = proto_dnn_tensor_bytes(&bd->t);
    shim_sem_range(o, u64p(xData), proto_dnn_tensor_bytes(&xd->t), SEM_R);
    shim_sem_range(o, u64p(dyData), proto_dnn_tensor_bytes(&dyd->t), SEM_R);
    shim_sem_range(o, u64p(dxData), proto_dnn_tensor_bytes(&dxd->t), SEM_RW);
    shim_sem_range(o, u64p(bnScaleData), bn, SEM_R);
    shim_sem_range(o, u64p(dBnScaleData), bn, SEM_RW);
    shim_sem_range(o, u64p(dBnBiasData), bn, SEM_RW);
    if (savedMean)
        shim_sem_range(o, u64p(savedMean), bn, SEM_R);
    if (savedInvVariance)
        shim_sem_range(o, u64p(savedInvVariance), bn, SEM_R);
    if (workSpace && workSpaceSizeInBytes)
        shim_sem_range(o, u64p(workSpace), workSpaceSizeInBytes, SEM_RW);
    if (reserveSpace && reserveSpaceSizeInBytes)
        shim_sem_range(o, u64p(reserveSpace), reserveSpaceSizeInBytes, SEM_R);
    return commit(&r, sid);
}

/* cudaDeviceReset: handles and backend descriptors (mirrored on the executor, which drops its
 * side with the session) end; legacy tensor descriptors live on the client only and stay. */
static void dnn_handle_forget(void *p)
{
    shim_handle_del(p);
    free(p);
}

static void dnn_desc_forget(void *p)
{
    dnn_desc *d = p;
    shim_handle_del(d);
    attrs_clear(d);
    free(d->attrs);
    free(d);
}

void shim_dnn_forget(void)
{
    SHIM_HELD();
    shim_handles_each(SHIM_DNN_MAGIC, dnn_handle_forget);
    shim_handles_each(SHIM_DNN_DESC_MAGIC, dnn_desc_forget);
}
