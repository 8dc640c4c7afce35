/* fd_dnn.c — a CPU double of cuDNN 9 for the tests: handles, the backend API for one convolution per graph (forward, backward data, backward filter), legacy tensors and batch norm, computed on the fake GPU's streams.
 *
 * What it models (GENIE_CUDNN_LIB points the executor here):
 *   - backend descriptors of any type keep every attribute set on them (descriptor-valued
 *     ones by reference, counted); Finalize checks what an execution needs: a tensor's type,
 *     dimensions, strides and UID; a convolution operation's three tensors and convolution;
 *     an operation graph of exactly one forward, backward-data or backward-filter convolution
 *     (anything else: NOT_SUPPORTED, as an engine-less graph is on a GPU);
 *   - heuristics answer one engine config (engine 0, no knobs, no notes); a plan of it needs
 *     no workspace;
 *   - Execute computes the convolution (cross-correlation or convolution, any padding,
 *     stride, dilation and group count, NCHW or NHWC or any strides; fp32, fp16, bf16 in a
 *     float accumulator, fp64 in double) as out = alpha * result + beta * out on the handle's
 *     stream: im2col and one GEMM per image and group, col2im for backward data;
 *   - batch norm (spatial, spatial persistent, per activation; CUDNN_BATCHNORM_OPS_BN only):
 *     inference, forward training (the batch's statistics, running mean and unbiased
 *     variance, saved mean and inverse deviation) and backward (dx, dscale, dbias, from the
 *     saved statistics or the reserve space); no workspace, a reserve space of two floats per
 *     parameter (the saved statistics again).
 * A GetAttribute the double does not model prints its attribute and descriptor type on
 * stderr and answers NOT_SUPPORTED, so a new caller shows what it needs. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cuda.h>
#include <cudnn.h>

#include "fakegpu_work.h"
#include "fd_dnn_int.h"

#define FD_API __attribute__((visibility("default")))
#define FD_MAGIC 0x46444e44u
#define FD_MAX_ATTRS 64

typedef struct fd_desc fd_desc;
typedef struct fd_attr {
    int name, type;
    int64_t n;
    void *v; /* n elements, owned; descriptor elements hold a reference */
} fd_attr;

struct fd_desc {
    uint32_t magic;
    int type;
    int finalized;
    int refs;
    fd_attr attrs[FD_MAX_ATTRS];
    int nattrs;
};

typedef struct fd_handle {
    uint32_t magic;
    void *stream;
} fd_handle;

/* ------------------------------------------------------------------ versions ---- */

FD_API size_t cudnnGetVersion(void) { return CUDNN_VERSION; }
FD_API const char *cudnnGetErrorString(cudnnStatus_t s)
{
    return s == CUDNN_STATUS_SUCCESS ? "CUDNN_STATUS_SUCCESS" : "fake cuDNN error";
}

/* Handles and legacy tensor descriptors: zeroed objects of size bytes that begin with the
 * magic, created into *out (freed by obj_free). */
static cudnnStatus_t obj_new(size_t size, void **out)
{
    if (!out)
        return CUDNN_STATUS_BAD_PARAM;
    uint32_t *o = calloc(1, size);
    if (!o)
        return CUDNN_STATUS_ALLOC_FAILED;
    *o = FD_MAGIC;
    *out = o;
    return CUDNN_STATUS_SUCCESS;
}

static cudnnStatus_t obj_free(void *p)
{
    uint32_t *o = p;
    if (!o || *o != FD_MAGIC)
        return CUDNN_STATUS_BAD_PARAM;
    *o = 0;
    free(o);
    return CUDNN_STATUS_SUCCESS;
}

FD_API cudnnStatus_t cudnnCreate(cudnnHandle_t *h)
{
    return obj_new(sizeof(fd_handle), (void **)h);
}

FD_API cudnnStatus_t cudnnDestroy(cudnnHandle_t h) { return obj_free(h); }

FD_API cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t s)
{
    fd_handle *f = (fd_handle *)h;
    if (!f || f->magic != FD_MAGIC)
        return CUDNN_STATUS_BAD_PARAM;
    f->stream = s;
    return CUDNN_STATUS_SUCCESS;
}

/* ------------------------------------------------------- backend descriptors ---- */

static size_t elem_size(int t)
{
    switch (t) {
    case CUDNN_TYPE_HANDLE:
    case CUDNN_TYPE_VOID_PTR:
    case CUDNN_TYPE_BACKEND_DESCRIPTOR:
        return sizeof(void *);
    case CUDNN_TYPE_INT64:
    case CUDNN_TYPE_DOUBLE:
        return 8;
    case CUDNN_TYPE_BOOLEAN:
    case CUDNN_TYPE_CHAR:
        return 1;
    case CUDNN_TYPE_FRACTION:
        return sizeof(cudnnFraction_t);
    default:
        return 4;
    }
}

static fd_desc *desc(void *p)
{
    fd_desc *d = p;
    return d && d->magic == FD_MAGIC ? d : NULL;
}

static void desc_unref(fd_desc *d);

static void attr_free(fd_attr *a)
{
    if (a->type == CUDNN_TYPE_BACKEND_DESCRIPTOR)
        for (int64_t i = 0; i < a->n; i++)
            desc_unref(((fd_desc **)a->v)[i]);
    free(a->v);
    a->v = NULL;
}

static void desc_unref(fd_desc *d)
{
    if (!d || --d->refs > 0)
        return;
    for (int i = 0; i < d->nattrs; i++)
        attr_free(&d->attrs[i]);
    d->magic = 0;
    free(d);
}

static fd_attr *find(fd_desc *d, int name)
{
    for (int i = 0; d && i < d->nattrs; i++)
        if (d->attrs[i].name == name)
            return &d->attrs[i];
    return NULL;
}

/* Stores n elements of type at v under name (replacing): 0 or a status. */
static cudnnStatus_t put(fd_desc *d, int name, int type, int64_t n, const void *v)
{
    size_t es = elem_size(type);
    void *copy = malloc(n ? (size_t)n * es : 1);
    if (!copy)
        return CUDNN_STATUS_ALLOC_FAILED;
    if (n)
        memcpy(copy, v, (size_t)n * es);
    if (type == CUDNN_TYPE_BACKEND_DESCRIPTOR)
        for (int64_t i = 0; i < n; i++) {
            fd_desc *o = desc(((fd_desc **)copy)[i]);
            if (!o) {
                free(copy);
                return CUDNN_STATUS_BAD_PARAM;
            }
            o->refs++;
        }
    fd_attr *a = find(d, name);
    if (!a) {
        if (d->nattrs == FD_MAX_ATTRS) {
            free(copy);
            return CUDNN_STATUS_NOT_SUPPORTED;
        }
        a = &d->attrs[d->nattrs++];
    } else {
        attr_free(a);
    }
    *a = (fd_attr){name, type, n, copy};
    return CUDNN_STATUS_SUCCESS;
}

static fd_desc *new_desc(int type)
{
    fd_desc *d = calloc(1, sizeof *d);
    if (d) {
        d->magic = FD_MAGIC;
        d->type = type;
        d->refs = 1;
    }
    return d;
}

FD_API cudnnStatus_t cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t t,
                                                  cudnnBackendDescriptor_t *out)
{
    if (!out)
        return CUDNN_STATUS_BAD_PARAM;
    fd_desc *d = new_desc((int)t);
    if (!d)
        return CUDNN_STATUS_ALLOC_FAILED;
    *out = (cudnnBackendDescriptor_t)d;
    return CUDNN_STATUS_SUCCESS;
}

FD_API cudnnStatus_t cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t p)
{
    fd_desc *d = desc(p);
    if (!d)
        return CUDNN_STATUS_BAD_PARAM;
    desc_unref(d);
    return CUDNN_STATUS_SUCCESS;
}

FD_API cudnnStatus_t cudnnBackendSetAttribute(cudnnBackendDescriptor_t p,
                                              cudnnBackendAttributeName_t name,
                                              cudnnBackendAttributeType_t type, int64_t n,
                                              const void *v)
{
    fd_desc *d = desc(p);
    if (!d || n < 0 || (n && !v))
        return CUDNN_STATUS_BAD_PARAM;
    if (d->finalized)
        return CUDNN_STATUS_NOT_SUPPORTED;
    return put(d, (int)name, (int)type, n, v);
}

/* The single element of a descriptor-valued attribute, or NULL. */
static fd_desc *one(fd_desc *d, int name)
{
    fd_attr *a = find(d, name);
    return a && a->type == CUDNN_TYPE_BACKEND_DESCRIPTOR && a->n == 1 ? ((fd_desc **)a->v)[0]
                                                                      : NULL;
}

static int conv_dir(int type);
static const int conv_attr[3][6];

/* The conv operation (forward, backward data or backward filter) of a graph the double can
 * run, or NULL. */
static fd_desc *graph_conv(fd_desc *g)
{
    fd_attr *a = find(g, CUDNN_ATTR_OPERATIONGRAPH_OPS);
    if (!a || a->type != CUDNN_TYPE_BACKEND_DESCRIPTOR || a->n != 1)
        return NULL;
    fd_desc *op = ((fd_desc **)a->v)[0];
    return conv_dir(op->type) >= 0 ? op : NULL;
}

static int has(fd_desc *d, int name) { return find(d, name) != NULL; }

FD_API cudnnStatus_t cudnnBackendFinalize(cudnnBackendDescriptor_t p)
{
    fd_desc *d = desc(p);
    if (!d || d->finalized)
        return CUDNN_STATUS_BAD_PARAM;
    int ok = 1;
    switch (d->type) {
    case CUDNN_BACKEND_TENSOR_DESCRIPTOR:
        ok = has(d, CUDNN_ATTR_TENSOR_DATA_TYPE) && has(d, CUDNN_ATTR_TENSOR_DIMENSIONS) &&
             has(d, CUDNN_ATTR_TENSOR_STRIDES) && has(d, CUDNN_ATTR_TENSOR_UNIQUE_ID);
        break;
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR: {
        const int *an = conv_attr[conv_dir(d->type)];
        ok = one(d, an[0]) && one(d, an[1]) && one(d, an[2]) && one(d, an[3]);
        break;
    }
    case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR: {
        const char *why = NULL;
        if (!graph_conv(d) && !fd_graph_supported(d, &why)) { /* fd_sdpa.c: attention */
            if (why)
                fprintf(stderr, "fake cuDNN: operation graph not supported: %s\n", why);
            return CUDNN_STATUS_NOT_SUPPORTED;
        }
        break;
    }
    case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR:
        ok = one(d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH) != NULL;
        break;
    case CUDNN_BACKEND_ENGINE_DESCRIPTOR:
        ok = one(d, CUDNN_ATTR_ENGINE_OPERATION_GRAPH) != NULL;
        break;
    case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR:
        ok = one(d, CUDNN_ATTR_ENGINECFG_ENGINE) != NULL;
        break;
    case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR:
        ok = one(d, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG) != NULL;
        break;
    case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR:
        ok = has(d, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS) &&
             has(d, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS);
        break;
    default:
        break;
    }
    if (!ok)
        return CUDNN_STATUS_BAD_PARAM;
    d->finalized = 1;
    return CUDNN_STATUS_SUCCESS;
}

/* Makes dst (a caller's descriptor) a finalized copy of src: the library's way of returning
 * a descriptor. */
static cudnnStatus_t fill(fd_desc *dst, fd_desc *src)
{
    if (!dst || dst == src)
        return CUDNN_STATUS_BAD_PARAM;
    for (int i = 0; i < dst->nattrs; i++)
        attr_free(&dst->attrs[i]);
    dst->nattrs = 0;
    dst->type = src->type;
    for (int i = 0; i < src->nattrs; i++) {
        cudnnStatus_t st = put(dst, src->attrs[i].name, src->attrs[i].type, src->attrs[i].n,
                               src->attrs[i].v);
        if (st)
            return st;
    }
    dst->finalized = 1;
    return CUDNN_STATUS_SUCCESS;
}

/* Answers a computed attribute: n elements (up to req written into out). */
static cudnnStatus_t answer(int type, const void *v, int64_t n, int64_t req, int64_t *count,
                            void *out)
{
    if (count)
        *count = n;
    int64_t k = req < n ? req : n;
    if (k > 0 && v)
        memcpy(out, v, (size_t)k * elem_size(type));
    return CUDNN_STATUS_SUCCESS;
}

FD_API cudnnStatus_t cudnnBackendGetAttribute(cudnnBackendDescriptor_t const p,
                                              cudnnBackendAttributeName_t name,
                                              cudnnBackendAttributeType_t type, int64_t req,
                                              int64_t *count, void *out)
{
    fd_desc *d = desc(p);
    if (!d || req < 0)
        return CUDNN_STATUS_BAD_PARAM;
    if (!out) /* a count query */
        req = 0;
    fd_attr *a = find(d, (int)name);
    if (a) {
        if (a->type != (int)type)
            return CUDNN_STATUS_BAD_PARAM;
        if (type != CUDNN_TYPE_BACKEND_DESCRIPTOR)
            return answer(type, a->v, a->n, req, count, out);
        if (count)
            *count = a->n;
        for (int64_t i = 0; i < req && i < a->n; i++) {
            cudnnStatus_t st = fill(desc(((fd_desc **)out)[i]), ((fd_desc **)a->v)[i]);
            if (st)
                return st;
        }
        return CUDNN_STATUS_SUCCESS;
    }
    static const int64_t zero64 = 0;
    switch ((int)name) {
    case CUDNN_ATTR_OPERATIONGRAPH_ENGINE_GLOBAL_COUNT: {
        int64_t one_engine = 1;
        return answer(type, &one_engine, 1, req, count, out);
    }
    case CUDNN_ATTR_ENGINEHEUR_RESULTS: {
        if (!d->finalized || type != CUDNN_TYPE_BACKEND_DESCRIPTOR)
            return CUDNN_STATUS_BAD_PARAM;
        if (count)
            *count = 1;
        if (req < 1)
            return CUDNN_STATUS_SUCCESS;
        fd_desc *cfg = desc(((fd_desc **)out)[0]);
        if (!cfg)
            return CUDNN_STATUS_BAD_PARAM;
        /* one engine config: engine 0 of the heuristic's graph, no knobs */
        fd_desc *eng = new_desc(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
        fd_desc *tmp = new_desc(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
        fd_desc *g = one(d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH);
        cudnnStatus_t st = eng && tmp ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_ALLOC_FAILED;
        if (!st)
            st = put(eng, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &g);
        if (!st)
            st = put(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &zero64);
        if (!st) {
            eng->finalized = 1;
            st = put(tmp, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &eng);
        }
        if (!st)
            st = fill(cfg, tmp);
        desc_unref(eng);
        desc_unref(tmp);
        return st;
    }
    case CUDNN_ATTR_ENGINECFG_KNOB_CHOICES:
    case CUDNN_ATTR_ENGINECFG_INTERMEDIATE_INFO:
    case CUDNN_ATTR_ENGINE_KNOB_INFO:
    case CUDNN_ATTR_ENGINE_NUMERICAL_NOTE:
    case CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE:
    case CUDNN_ATTR_ENGINE_LAYOUT_INFO:
    case CUDNN_ATTR_EXECUTION_PLAN_COMPUTED_INTERMEDIATE_UIDS:
    case CUDNN_ATTR_EXECUTION_PLAN_RUN_ONLY_INTERMEDIATE_UIDS:
        return answer(type, NULL, 0, req, count, out);
    case CUDNN_ATTR_ENGINECFG_WORKSPACE_SIZE:
    case CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE:
        /* none is used; GENIE_FAKE_DNN_WORKSPACE=BYTES claims some (the executor's check of a
         * variant pack's workspace against the plan's size is tested with it) */
        if (type == CUDNN_TYPE_INT64 && getenv("GENIE_FAKE_DNN_WORKSPACE")) {
            int64_t ws = strtoll(getenv("GENIE_FAKE_DNN_WORKSPACE"), NULL, 0);
            return answer(type, &ws, 1, req, count, out);
        }
        /* fall through */
    case CUDNN_ATTR_ENGINECFG_SHARED_MEMORY_USED: /* asked for attention plans */
    case CUDNN_ATTR_ENGINE_SM_COUNT_TARGET:
        if (type == CUDNN_TYPE_INT32) {
            int32_t z = 0;
            return answer(type, &z, 1, req, count, out);
        }
        return answer(type, &zero64, 1, req, count, out);
    case CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION: {
        static const char json[] = "{\"engineId\":0,\"fake\":\"genie\"}";
        return answer(type, json, (int64_t)sizeof json, req, count, out);
    }
    default:
        fprintf(stderr, "fake cuDNN: GetAttribute %d (type %d) of descriptor type %d is not modeled\n",
                (int)name, (int)type, d->type);
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
}

/* ------------------------------------------------------------ the convolution ---- */

static float half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, f;
    if (e == 0) {
        if (!m) {
            f = s;
        } else { /* subnormal */
            e = 113;
            while (!(m & 1024)) {
                m <<= 1;
                e--;
            }
            f = s | (e << 23) | ((m & 1023) << 13);
        }
    } else if (e == 31) {
        f = s | 0x7f800000u | (m << 13);
    } else {
        f = s | ((e + 112) << 23) | (m << 13);
    }
    float out;
    memcpy(&out, &f, 4);
    return out;
}

static uint16_t float_to_half(float v)
{
    uint32_t f;
    memcpy(&f, &v, 4);
    uint32_t s = (f >> 16) & 0x8000, e = (f >> 23) & 255, m = f & 0x7fffff;
    if (e == 255)
        return (uint16_t)(s | 0x7c00 | (m ? 0x200 : 0));
    int ne = (int)e - 112;
    if (ne >= 31)
        return (uint16_t)(s | 0x7c00);
    if (ne <= 0) {
        if (ne < -10)
            return (uint16_t)s;
        m |= 0x800000;
        uint32_t shift = (uint32_t)(14 - ne);
        uint32_t hm = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (hm & 1)))
            hm++;
        return (uint16_t)(s | hm);
    }
    uint32_t hm = m >> 13, rem = m & 0x1fff;
    uint32_t out = s | ((uint32_t)ne << 10) | hm;
    if (rem > 0x1000 || (rem == 0x1000 && (hm & 1)))
        out++;
    return (uint16_t)out;
}

static double load(const void *base, int64_t i, int dt)
{
    switch (dt) {
    case CUDNN_DATA_FLOAT:
        return ((const float *)base)[i];
    case CUDNN_DATA_DOUBLE:
        return ((const double *)base)[i];
    case CUDNN_DATA_HALF:
        return half_to_float(((const uint16_t *)base)[i]);
    case CUDNN_DATA_BFLOAT16: {
        uint32_t f = (uint32_t)((const uint16_t *)base)[i] << 16;
        float v;
        memcpy(&v, &f, 4);
        return v;
    }
    default:
        return 0;
    }
}

static void store(void *base, int64_t i, int dt, double v)
{
    switch (dt) {
    case CUDNN_DATA_FLOAT:
        ((float *)base)[i] = (float)v;
        break;
    case CUDNN_DATA_DOUBLE:
        ((double *)base)[i] = v;
        break;
    case CUDNN_DATA_HALF:
        ((uint16_t *)base)[i] = float_to_half((float)v);
        break;
    case CUDNN_DATA_BFLOAT16: {
        float f = (float)v;
        uint32_t b;
        memcpy(&b, &f, 4);
        b += 0x7fff + ((b >> 16) & 1); /* round to nearest even */
        ((uint16_t *)base)[i] = (uint16_t)(b >> 16);
        break;
    }
    default:
        break;
    }
}

typedef struct fd_tensor {
    int dt;
    int nd;
    int64_t dims[8], strides[8], uid;
    void *ptr;
} fd_tensor;

/* A backend tensor descriptor's shape; 0 or -1. */
static int tensor_of(fd_desc *t, fd_tensor *out)
{
    fd_attr *dt = find(t, CUDNN_ATTR_TENSOR_DATA_TYPE), *dm = find(t, CUDNN_ATTR_TENSOR_DIMENSIONS),
            *st = find(t, CUDNN_ATTR_TENSOR_STRIDES), *id = find(t, CUDNN_ATTR_TENSOR_UNIQUE_ID);
    if (!dt || !dm || !st || !id || dm->n != st->n || dm->n < 3 || dm->n > 8 ||
        dm->type != CUDNN_TYPE_INT64 || st->type != CUDNN_TYPE_INT64)
        return -1;
    memset(out, 0, sizeof *out);
    out->dt = *(int *)dt->v;
    out->nd = (int)dm->n;
    memcpy(out->dims, dm->v, (size_t)dm->n * 8);
    memcpy(out->strides, st->v, (size_t)st->n * 8);
    memcpy(&out->uid, id->v, 8);
    return 0;
}

/* The three convolutions a graph may hold. Each names the forward's tensors by role: x, w, y
 * are x, w, y (forward), dx, w, dy (backward data) or x, dw, dy (backward filter). */
enum { FD_FWD, FD_BWD_DATA, FD_BWD_FILTER };

/* Per direction: the attributes holding x, w, y, the convolution, alpha and beta. */
static const int conv_attr[3][6] = {
    {CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
     CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
     CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA},
    {CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA},
    {CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA},
};

/* The direction of a convolution operation descriptor's type, or -1. */
static int conv_dir(int type)
{
    switch (type) {
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR:
        return FD_FWD;
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR:
        return FD_BWD_DATA;
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR:
        return FD_BWD_FILTER;
    default:
        return -1;
    }
}

typedef struct fd_conv {
    int dir;
    fd_tensor x, w, y;
    int nsp; /* spatial dimensions */
    int64_t pad[6], stride[6], dil[6];
    int cross; /* CUDNN_CROSS_CORRELATION */
    double alpha, beta;
} fd_conv;

static double scalar(fd_desc *op, int name, double def)
{
    fd_attr *a = find(op, name);
    if (!a || a->n != 1)
        return def;
    if (a->type == CUDNN_TYPE_DOUBLE)
        return *(double *)a->v;
    if (a->type == CUDNN_TYPE_FLOAT)
        return *(float *)a->v;
    return def;
}

/* The shapes every direction works in: per image n and group g, the input as columns (im2col:
 * crs rows of Cg * kernel positions, out_sp columns), the output as a Kg x out_sp tile and the
 * weights as a K x crs matrix. Work buffers hold float (double for fp64 data: dbl). */
typedef struct fd_geom {
    int64_t N, K, C, Cg, G, Kg, out_sp, in_sp, ker_sp, crs;
    int64_t *kp; /* ker_sp x nsp kernel positions; owned */
    int dbl;
} fd_geom;

static double wget(const void *b, int64_t i, int dbl)
{
    return dbl ? ((const double *)b)[i] : ((const float *)b)[i];
}
static void wset(void *b, int64_t i, int dbl, double v)
{
    if (dbl)
        ((double *)b)[i] = v;
    else
        ((float *)b)[i] = (float)v;
}
static void *wat(void *b, int64_t i, int dbl) { return (char *)b + i * (dbl ? 8 : 4); }

/* C = A * B + beta * C on row-major work buffers (OpenBLAS, one thread per fake worker). */
static void gemm(int dbl, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *a,
                 int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc)
{
    enum CBLAS_TRANSPOSE A = ta ? CblasTrans : CblasNoTrans, B = tb ? CblasTrans : CblasNoTrans;
    if (dbl)
        cblas_dgemm(CblasRowMajor, A, B, (blasint)m, (blasint)n, (blasint)k, 1.0, a, (blasint)lda,
                    b, (blasint)ldb, beta, c, (blasint)ldc);
    else
        cblas_sgemm(CblasRowMajor, A, B, (blasint)m, (blasint)n, (blasint)k, 1.0f, a,
                    (blasint)lda, b, (blasint)ldb, (float)beta, c, (blasint)ldc);
}

static int geom_init(const fd_conv *c, fd_geom *g)
{
    const fd_tensor *x = &c->x, *w = &c->w, *y = &c->y;
    int ns = c->nsp;
    memset(g, 0, sizeof *g);
    g->N = y->dims[0], g->K = y->dims[1], g->C = x->dims[1], g->Cg = w->dims[1];
    g->G = g->Cg ? g->C / g->Cg : 1;
    g->Kg = g->G ? g->K / g->G : g->K;
    g->out_sp = g->in_sp = g->ker_sp = 1;
    for (int i = 0; i < ns; i++) {
        g->out_sp *= y->dims[2 + i];
        g->in_sp *= x->dims[2 + i];
        g->ker_sp *= w->dims[2 + i];
    }
    g->crs = g->Cg * g->ker_sp;
    g->dbl = x->dt == CUDNN_DATA_DOUBLE;
    g->kp = malloc((size_t)(g->ker_sp * ns) * sizeof(int64_t));
    if (!g->kp)
        return -1;
    for (int64_t r = 0; r < g->ker_sp; r++) {
        int64_t q = r;
        for (int i = ns - 1; i >= 0; i--) {
            g->kp[r * ns + i] = q % w->dims[2 + i];
            q /= w->dims[2 + i];
        }
    }
    return 0;
}

/* The element offset of spatial position lin (row-major over dims[2..]) in tensor t. */
static int64_t sp_off(const fd_tensor *t, int ns, int64_t lin)
{
    int64_t off = 0;
    for (int i = ns - 1; i >= 0; i--) {
        off += (lin % t->dims[2 + i]) * t->strides[2 + i];
        lin /= t->dims[2 + i];
    }
    return off;
}

/* Walks the columns of image n, group grp: for each column row (channel cc, kernel position r)
 * and output position o, the input position it reads, or -1 in the padding. col2im (add) sums
 * col into acc (Cg x in_sp) at those positions; im2col (!add) fills col from x. */
static void cols(const fd_conv *c, const fd_geom *g, int64_t n, int64_t grp, void *col, void *acc,
                 int add)
{
    const fd_tensor *x = &c->x;
    int ns = c->nsp;
    for (int64_t o = 0; o < g->out_sp; o++) {
        int64_t opos[6], rem = o;
        for (int i = ns - 1; i >= 0; i--) {
            opos[i] = rem % c->y.dims[2 + i];
            rem /= c->y.dims[2 + i];
        }
        for (int64_t r = 0; r < g->ker_sp; r++) {
            int64_t lin = 0, off = 0; /* dense position in acc, element offset in x */
            for (int i = 0; i < ns && lin >= 0; i++) {
                int64_t xi = opos[i] * c->stride[i] - c->pad[i] + g->kp[r * ns + i] * c->dil[i];
                if (xi < 0 || xi >= x->dims[2 + i])
                    lin = -1;
                else
                    lin = lin * x->dims[2 + i] + xi, off += xi * x->strides[2 + i];
            }
            for (int64_t cc = 0; cc < g->Cg; cc++) {
                int64_t ci = (cc * g->ker_sp + r) * g->out_sp + o;
                if (add) {
                    if (lin >= 0)
                        wset(acc, cc * g->in_sp + lin, g->dbl,
                             wget(acc, cc * g->in_sp + lin, g->dbl) + wget(col, ci, g->dbl));
                } else {
                    int64_t xo = n * x->strides[0] + (grp * g->Cg + cc) * x->strides[1] + off;
                    wset(col, ci, g->dbl, lin >= 0 ? load(x->ptr, xo, x->dt) : 0.0);
                }
            }
        }
    }
}

/* Stores v into a tensor element: alpha * v + beta * (what it held); beta 0 never reads it
 * (it may hold anything, NaN included). */
static void blend(const fd_conv *c, const fd_tensor *t, int64_t off, double v)
{
    double out = c->alpha * v;
    if (c->beta != 0)
        out += c->beta * load(t->ptr, off, t->dt);
    store(t->ptr, off, t->dt, out);
}

/* The y tile of image n, group grp (Kg x out_sp): loaded into buf, or blended from it. */
static void ytile(const fd_conv *c, const fd_geom *g, int64_t n, int64_t grp, void *buf, int put)
{
    const fd_tensor *y = &c->y;
    for (int64_t kk = 0; kk < g->Kg; kk++)
        for (int64_t o = 0; o < g->out_sp; o++) {
            int64_t off = n * y->strides[0] + (grp * g->Kg + kk) * y->strides[1] +
                          sp_off(y, c->nsp, o);
            if (put)
                blend(c, y, off, wget(buf, kk * g->out_sp + o, g->dbl));
            else
                wset(buf, kk * g->out_sp + o, g->dbl, load(y->ptr, off, y->dt));
        }
}

/* The weights as K x crs (flipped for CUDNN_CONVOLUTION): loaded into buf, or blended from it. */
static void wmat(const fd_conv *c, const fd_geom *g, void *buf, int put)
{
    const fd_tensor *w = &c->w;
    int ns = c->nsp;
    for (int64_t k = 0; k < g->K; k++)
        for (int64_t cc = 0; cc < g->Cg; cc++)
            for (int64_t r = 0; r < g->ker_sp; r++) {
                int64_t off = k * w->strides[0] + cc * w->strides[1];
                for (int i = 0; i < ns; i++) {
                    int64_t p = g->kp[r * ns + i];
                    off += (c->cross ? p : w->dims[2 + i] - 1 - p) * w->strides[2 + i];
                }
                int64_t bi = k * g->crs + cc * g->ker_sp + r;
                if (put)
                    blend(c, w, off, wget(buf, bi, g->dbl));
                else
                    wset(buf, bi, g->dbl, load(w->ptr, off, w->dt));
            }
}

/* Every direction as im2col (col2im) and one GEMM per image and group:
 *   forward          y_g  = W_g  x cols(x)           (Kg x crs)(crs x out_sp)
 *   backward data    dx_g = col2im(W_g^T x dy_g)     (crs x Kg)(Kg x out_sp)
 *   backward filter  dW_g = sum_n dy_g x cols(x)^T   (Kg x out_sp)(out_sp x crs)
 * fp32, fp16 and bf16 data in a float accumulator, as cuDNN's default math; fp64 in double. */
static int conv_run(void *arg)
{
    fd_conv *c = arg;
    if (!fg_work_compute())
        return 0;
    fd_geom g;
    if (geom_init(c, &g))
        return CUDA_ERROR_OUT_OF_MEMORY;
    size_t es = g.dbl ? 8 : 4;
    void *wf = calloc((size_t)(g.K * g.crs), es), *col = malloc((size_t)(g.crs * g.out_sp) * es);
    void *tile = malloc((size_t)(g.Kg * g.out_sp) * es);
    void *acc = c->dir == FD_BWD_DATA ? malloc((size_t)(g.Cg * g.in_sp) * es) : NULL;
    int err = 0;
    if (!wf || !col || !tile || (c->dir == FD_BWD_DATA && !acc)) {
        err = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    if (c->dir != FD_BWD_FILTER)
        wmat(c, &g, wf, 0);
    for (int64_t n = 0; n < g.N; n++)
        for (int64_t grp = 0; grp < g.G; grp++) {
            void *wg = wat(wf, grp * g.Kg * g.crs, g.dbl);
            switch (c->dir) {
            case FD_FWD:
                cols(c, &g, n, grp, col, NULL, 0);
                gemm(g.dbl, 0, 0, g.Kg, g.out_sp, g.crs, wg, g.crs, col, g.out_sp, 0, tile,
                     g.out_sp);
                ytile(c, &g, n, grp, tile, 1);
                break;
            case FD_BWD_DATA: {
                ytile(c, &g, n, grp, tile, 0);
                gemm(g.dbl, 1, 0, g.crs, g.out_sp, g.Kg, wg, g.crs, tile, g.out_sp, 0, col,
                     g.out_sp);
                memset(acc, 0, (size_t)(g.Cg * g.in_sp) * es);
                cols(c, &g, n, grp, col, acc, 1);
                const fd_tensor *x = &c->x;
                for (int64_t cc = 0; cc < g.Cg; cc++)
                    for (int64_t p = 0; p < g.in_sp; p++)
                        blend(c, x,
                              n * x->strides[0] + (grp * g.Cg + cc) * x->strides[1] +
                                  sp_off(x, c->nsp, p),
                              wget(acc, cc * g.in_sp + p, g.dbl));
                break;
            }
            default: /* FD_BWD_FILTER: summed over the images in wf */
                cols(c, &g, n, grp, col, NULL, 0);
                ytile(c, &g, n, grp, tile, 0);
                gemm(g.dbl, 0, 1, g.Kg, g.crs, g.out_sp, tile, g.out_sp, col, g.out_sp, 1, wg,
                     g.crs);
                break;
            }
        }
    if (c->dir == FD_BWD_FILTER)
        wmat(c, &g, wf, 1);
out:
    free(wf), free(col), free(tile), free(acc), free(g.kp);
    return err;
}

static void *pack_ptr(fd_desc *pack, int64_t uid)
{
    fd_attr *u = find(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS);
    fd_attr *p = find(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS);
    if (!u || !p || u->n != p->n)
        return NULL;
    for (int64_t i = 0; i < u->n; i++)
        if (((int64_t *)u->v)[i] == uid)
            return ((void **)p->v)[i];
    return NULL;
}

FD_API cudnnStatus_t cudnnBackendExecute(cudnnHandle_t h, cudnnBackendDescriptor_t planp,
                                         cudnnBackendDescriptor_t packp)
{
    fd_handle *hd = (fd_handle *)h;
    fd_desc *plan = desc(planp), *pack = desc(packp);
    if (!hd || hd->magic != FD_MAGIC || !plan || !pack || !plan->finalized || !pack->finalized)
        return CUDNN_STATUS_BAD_PARAM;
    fd_desc *cfg = one(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG);
    fd_desc *eng = one(cfg, CUDNN_ATTR_ENGINECFG_ENGINE);
    fd_desc *g = one(eng, CUDNN_ATTR_ENGINE_OPERATION_GRAPH);
    fd_desc *op = g ? graph_conv(g) : NULL;
    if (!op)
        return g ? fd_graph_execute(hd->stream, g, pack) : CUDNN_STATUS_NOT_SUPPORTED;
    int dir = conv_dir(op->type);
    const int *an = conv_attr[dir];
    fd_desc *cd = one(op, an[3]);
    fd_conv *c = calloc(1, sizeof *c); /* freed after the work ran */
    if (!c)
        return CUDNN_STATUS_ALLOC_FAILED;
    c->dir = dir;
    fd_attr *sp = find(cd, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS);
    fd_attr *pad = find(cd, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS);
    fd_attr *str = find(cd, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES);
    fd_attr *dil = find(cd, CUDNN_ATTR_CONVOLUTION_DILATIONS);
    fd_attr *mode = find(cd, CUDNN_ATTR_CONVOLUTION_CONV_MODE);
    if (tensor_of(one(op, an[0]), &c->x) || tensor_of(one(op, an[1]), &c->w) ||
        tensor_of(one(op, an[2]), &c->y) || !sp || !pad || !str || !dil) {
        free(c);
        return CUDNN_STATUS_BAD_PARAM;
    }
    c->nsp = (int)*(int64_t *)sp->v;
    if (c->nsp < 1 || c->nsp > 6 || c->nsp + 2 != c->x.nd || c->x.nd != c->w.nd ||
        c->x.nd != c->y.nd || pad->n < c->nsp || str->n < c->nsp || dil->n < c->nsp ||
        c->x.dt != c->w.dt || c->x.dt != c->y.dt) {
        free(c);
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
    memcpy(c->pad, pad->v, (size_t)c->nsp * 8);
    memcpy(c->stride, str->v, (size_t)c->nsp * 8);
    memcpy(c->dil, dil->v, (size_t)c->nsp * 8);
    c->cross = mode && *(int *)mode->v == CUDNN_CROSS_CORRELATION;
    c->alpha = scalar(op, an[4], 1);
    c->beta = scalar(op, an[5], 0);
    c->x.ptr = pack_ptr(pack, c->x.uid);
    c->w.ptr = pack_ptr(pack, c->w.uid);
    c->y.ptr = pack_ptr(pack, c->y.uid);
    if (!c->x.ptr || !c->w.ptr || !c->y.ptr) {
        free(c);
        return CUDNN_STATUS_BAD_PARAM;
    }
    double flops = 2.0 * (double)c->y.dims[0] * (double)c->y.dims[1] * (double)c->w.dims[1];
    for (int i = 0; i < c->nsp; i++)
        flops *= (double)c->y.dims[2 + i] * (double)c->w.dims[2 + i];
    fg_cost cost = {.kind = FG_COST_GEMM,
                    .dtype = c->x.dt == CUDNN_DATA_FLOAT    ? FG_DT_F32
                             : c->x.dt == CUDNN_DATA_DOUBLE ? FG_DT_F64
                                                            : FG_DT_F16,
                    .flops = flops};
    int r = fg_work_submit(hd->stream, conv_run, c, free, &cost);
    return r ? CUDNN_STATUS_EXECUTION_FAILED : CUDNN_STATUS_SUCCESS;
}

/* ----------------------------------------------------- legacy tensors, batch norm ---- */

typedef struct fd_ltensor {
    uint32_t magic;
    int dt, nd;
    int dims[8], strides[8];
} fd_ltensor;

FD_API cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *t)
{
    return obj_new(sizeof(fd_ltensor), (void **)t);
}

FD_API cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t t)
{
    return t ? obj_free(t) : CUDNN_STATUS_SUCCESS; /* as cuDNN: destroying NULL is fine */
}

FD_API cudnnStatus_t cudnnSetTensorNdDescriptor(cudnnTensorDescriptor_t t, cudnnDataType_t dt,
                                                int nd, const int dims[], const int strides[])
{
    fd_ltensor *l = (fd_ltensor *)t;
    if (!l || l->magic != FD_MAGIC || nd < 1 || nd > 8)
        return CUDNN_STATUS_BAD_PARAM;
    l->dt = dt;
    l->nd = nd;
    memcpy(l->dims, dims, (size_t)nd * sizeof(int));
    memcpy(l->strides, strides, (size_t)nd * sizeof(int));
    return CUDNN_STATUS_SUCCESS;
}

/* One batch-norm call's work: x (dx), y (dy) and the parameter tensor b; which pointers are set
 * says what runs (inference, forward training or backward). */
typedef struct fd_bn {
    int kind; /* FD_BN_INFER, FD_BN_TRAIN, FD_BN_BACKWARD */
    fd_ltensor x, y, b, dx;
    const void *px, *scale, *bias, *mean, *var;
    void *py, *pdx, *rmean, *rvar, *smean, *sinv, *dscale, *dbias, *reserve;
    const void *dy;
    double alpha, beta, alpha_p, beta_p, eps, factor;
    int per_activation;
} fd_bn;

enum { FD_BN_INFER, FD_BN_TRAIN, FD_BN_BACKWARD };

/* Element e of x (row-major over its dims): its offset in a tensor of x's shape and strides
 * st, and its parameter: dense index (channel, or channel and position per activation) and
 * offset in b. */
static int64_t bn_at(const fd_bn *b, const int *st, int64_t e, int64_t *pidx, int64_t *po)
{
    int nd = b->x.nd;
    int64_t pos[8], off = 0;
    for (int i = nd - 1; i >= 0; i--) {
        pos[i] = e % b->x.dims[i];
        e /= b->x.dims[i];
    }
    *pidx = 0, *po = 0;
    for (int i = 0; i < nd; i++) {
        off += pos[i] * st[i];
        if (i == 1 || (b->per_activation && i >= 1)) {
            *pidx = *pidx * b->x.dims[i] + pos[i];
            *po += pos[i] * b->b.strides[i];
        }
    }
    return off;
}

/* The fake's reserve space: each parameter's mean and inverse deviation as floats, written by
 * forward training and read by a backward call given no saved statistics. */
static size_t bn_reserve_size(const fd_ltensor *x, int per_activation)
{
    int64_t p = x->nd > 1 ? x->dims[1] : 1;
    for (int i = 2; per_activation && i < x->nd; i++)
        p *= x->dims[i];
    return (size_t)p * 2 * sizeof(float);
}

static int bn_run(void *arg)
{
    fd_bn *b = arg;
    if (!fg_work_compute())
        return 0;
    int64_t total = 1, P = 1;
    for (int i = 0; i < b->x.nd; i++)
        total *= b->x.dims[i];
    for (int i = 1; i < b->x.nd; i++)
        if (i == 1 || b->per_activation)
            P *= b->x.dims[i];
    int64_t M = total / P; /* elements per parameter */
    /* per parameter: mean, inverse deviation, and (backward) sum dy, sum dy * xhat */
    double *mean = calloc((size_t)P, sizeof *mean), *inv = calloc((size_t)P, sizeof *inv);
    double *sdy = calloc((size_t)P, sizeof *sdy), *sdyx = calloc((size_t)P, sizeof *sdyx);
    int64_t *po_of = malloc((size_t)P * sizeof *po_of);
    int err = 0;
    if (!mean || !inv || !sdy || !sdyx || !po_of) {
        err = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    int64_t pi, po;
    float *res = b->reserve;
    if (b->kind == FD_BN_INFER) {
        for (int64_t e = 0; e < total; e++) {
            (void)bn_at(b, b->x.strides, e, &pi, &po);
            po_of[pi] = po;
            mean[pi] = load(b->mean, po, b->b.dt);
            inv[pi] = 1.0 / sqrt(load(b->var, po, b->b.dt) + b->eps);
        }
    } else if (b->kind == FD_BN_BACKWARD && b->smean && b->sinv) {
        for (int64_t e = 0; e < total; e++) {
            (void)bn_at(b, b->x.strides, e, &pi, &po);
            po_of[pi] = po;
            mean[pi] = load(b->smean, po, b->b.dt);
            inv[pi] = load(b->sinv, po, b->b.dt);
        }
    } else if (b->kind == FD_BN_BACKWARD && res) {
        for (int64_t e = 0; e < total; e++) {
            (void)bn_at(b, b->x.strides, e, &pi, &po);
            po_of[pi] = po;
            mean[pi] = res[2 * pi];
            inv[pi] = res[2 * pi + 1];
        }
    } else { /* the batch's statistics: mean, then the biased variance about it */
        double *sq = sdyx; /* borrowed: backward sums start after */
        for (int64_t e = 0; e < total; e++) {
            int64_t xo = bn_at(b, b->x.strides, e, &pi, &po);
            po_of[pi] = po;
            mean[pi] += load(b->px, xo, b->x.dt);
        }
        for (int64_t p = 0; p < P; p++)
            mean[p] /= (double)M;
        for (int64_t e = 0; e < total; e++) {
            int64_t xo = bn_at(b, b->x.strides, e, &pi, &po);
            double d = load(b->px, xo, b->x.dt) - mean[pi];
            sq[pi] += d * d;
        }
        for (int64_t p = 0; p < P; p++) {
            double var = sq[p] / (double)M;
            inv[p] = 1.0 / sqrt(var + b->eps);
            if (b->kind != FD_BN_TRAIN)
                continue;
            /* running statistics take the unbiased variance, as cuDNN's */
            double f = b->factor, unbiased = M > 1 ? sq[p] / (double)(M - 1) : sq[p];
            if (b->rmean)
                store(b->rmean, po_of[p], b->b.dt,
                      (1 - f) * load(b->rmean, po_of[p], b->b.dt) + f * mean[p]);
            if (b->rvar)
                store(b->rvar, po_of[p], b->b.dt,
                      (1 - f) * load(b->rvar, po_of[p], b->b.dt) + f * unbiased);
            if (b->smean)
                store(b->smean, po_of[p], b->b.dt, mean[p]);
            if (b->sinv)
                store(b->sinv, po_of[p], b->b.dt, inv[p]);
            if (res)
                res[2 * p] = (float)mean[p], res[2 * p + 1] = (float)inv[p];
        }
        memset(sq, 0, (size_t)P * sizeof *sq);
    }
    if (b->kind != FD_BN_BACKWARD) { /* y = alpha * (scale * xhat + bias) + beta * y */
        for (int64_t e = 0; e < total; e++) {
            int64_t xo = bn_at(b, b->x.strides, e, &pi, &po);
            int64_t yo = bn_at(b, b->y.strides, e, &pi, &po);
            double r = load(b->scale, po, b->b.dt) * (load(b->px, xo, b->x.dt) - mean[pi]) *
                           inv[pi] +
                       load(b->bias, po, b->b.dt);
            double v = b->alpha * r;
            if (b->beta != 0)
                v += b->beta * load(b->py, yo, b->y.dt);
            store(b->py, yo, b->y.dt, v);
        }
        goto out;
    }
    /* backward: dbias = sum dy, dscale = sum dy * xhat,
     * dx = scale * inv / M * (M * dy - dbias - xhat * dscale) */
    for (int64_t e = 0; e < total; e++) {
        int64_t xo = bn_at(b, b->x.strides, e, &pi, &po);
        int64_t yo = bn_at(b, b->y.strides, e, &pi, &po);
        double dy = load(b->dy, yo, b->y.dt);
        sdy[pi] += dy;
        sdyx[pi] += dy * (load(b->px, xo, b->x.dt) - mean[pi]) * inv[pi];
    }
    for (int64_t e = 0; e < total; e++) {
        int64_t xo = bn_at(b, b->x.strides, e, &pi, &po);
        int64_t yo = bn_at(b, b->y.strides, e, &pi, &po);
        int64_t dxo = bn_at(b, b->dx.strides, e, &pi, &po);
        double xhat = (load(b->px, xo, b->x.dt) - mean[pi]) * inv[pi];
        double g = load(b->scale, po, b->b.dt) * inv[pi] / (double)M *
                   ((double)M * load(b->dy, yo, b->y.dt) - sdy[pi] - xhat * sdyx[pi]);
        double v = b->alpha * g;
        if (b->beta != 0)
            v += b->beta * load(b->pdx, dxo, b->dx.dt);
        store(b->pdx, dxo, b->dx.dt, v);
    }
    for (int64_t p = 0; p < P; p++) {
        double ds = b->alpha_p * sdyx[p], db = b->alpha_p * sdy[p];
        if (b->beta_p != 0) {
            ds += b->beta_p * load(b->dscale, po_of[p], b->b.dt);
            db += b->beta_p * load(b->dbias, po_of[p], b->b.dt);
        }
        store(b->dscale, po_of[p], b->b.dt, ds);
        store(b->dbias, po_of[p], b->b.dt, db);
    }
out:
    free(mean), free(inv), free(sdy), free(sdyx), free(po_of);
    return err;
}

/* A host scaling factor: double for double data, float otherwise (as cuDNN reads them). */
static double host_scale(const void *p, int dt)
{
    return dt == CUDNN_DATA_DOUBLE ? *(const double *)p : *(const float *)p;
}

static int bn_mode_ok(cudnnBatchNormMode_t mode)
{
    return mode == CUDNN_BATCHNORM_SPATIAL || mode == CUDNN_BATCHNORM_PER_ACTIVATION ||
           mode == CUDNN_BATCHNORM_SPATIAL_PERSISTENT;
}

/* Queues b (freed after it ran) on the handle's stream. */
static cudnnStatus_t bn_submit(fd_handle *hd, fd_bn *b, const char *name)
{
    double bytes = 1;
    for (int i = 0; i < b->x.nd; i++)
        bytes *= b->x.dims[i];
    fg_cost cost = {.kind = FG_COST_KERNEL, .bytes = bytes * 8, .name = name};
    int r = fg_work_submit(hd->stream, bn_run, b, free, &cost);
    return r ? CUDNN_STATUS_EXECUTION_FAILED : CUDNN_STATUS_SUCCESS;
}

static fd_ltensor *ltensor(const void *p)
{
    fd_ltensor *l = (fd_ltensor *)p;
    return l && l->magic == FD_MAGIC && l->nd > 0 ? l : NULL;
}

/* x, y and the parameters' descriptor agree: same rank and shape (y, and dy and dx), the
 * parameters 1 x C x 1... (spatial) or 1 x C x H... (per activation). */
static int bn_shapes_ok(const fd_ltensor *x, const fd_ltensor *y, const fd_ltensor *b, int per_act)
{
    if (!x || !y || !b || x->nd != y->nd || x->nd != b->nd || x->nd < 2)
        return 0;
    for (int i = 0; i < x->nd; i++) {
        int want = i == 0 ? 1 : (i == 1 || per_act) ? x->dims[i] : 1;
        if (x->dims[i] != y->dims[i] || b->dims[i] != want)
            return 0;
    }
    return 1;
}

FD_API cudnnStatus_t cudnnBatchNormalizationForwardInference(
    cudnnHandle_t h, cudnnBatchNormMode_t mode, const void *alpha, const void *beta,
    const cudnnTensorDescriptor_t xd, const void *x, const cudnnTensorDescriptor_t yd, void *y,
    const cudnnTensorDescriptor_t bd, const void *scale, const void *bias, const void *mean,
    const void *var, double eps)
{
    fd_handle *hd = (fd_handle *)h;
    fd_ltensor *X = ltensor(xd), *Y = ltensor(yd), *B = ltensor(bd);
    if (!hd || hd->magic != FD_MAGIC || !alpha || !beta || !x || !y || !scale || !bias ||
        !mean || !var)
        return CUDNN_STATUS_BAD_PARAM;
    if (!bn_mode_ok(mode))
        return CUDNN_STATUS_NOT_SUPPORTED;
    if (!bn_shapes_ok(X, Y, B, mode == CUDNN_BATCHNORM_PER_ACTIVATION))
        return CUDNN_STATUS_BAD_PARAM;
    fd_bn *b = calloc(1, sizeof *b); /* freed after the work ran */
    if (!b)
        return CUDNN_STATUS_ALLOC_FAILED;
    b->kind = FD_BN_INFER;
    b->x = *X, b->y = *Y, b->b = *B;
    b->px = x, b->py = y, b->scale = scale, b->bias = bias, b->mean = mean, b->var = var;
    b->alpha = host_scale(alpha, X->dt);
    b->beta = host_scale(beta, X->dt);
    b->eps = eps;
    b->per_activation = mode == CUDNN_BATCHNORM_PER_ACTIVATION;
    return bn_submit(hd, b, "fake_cudnn_bn_infer");
}

/* The three size queries of the Ex calls: no workspace; the reserve space holds two floats per
 * parameter (bn_reserve_size). Only the plain batch norm (CUDNN_BATCHNORM_OPS_BN, no
 * activation) is modeled. */
FD_API cudnnStatus_t cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(
    cudnnHandle_t h, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t ops,
    const cudnnTensorDescriptor_t xd, const cudnnTensorDescriptor_t zd,
    const cudnnTensorDescriptor_t yd, const cudnnTensorDescriptor_t bd,
    const cudnnActivationDescriptor_t act, size_t *size)
{
    (void)zd;
    fd_handle *hd = (fd_handle *)h;
    if (!hd || hd->magic != FD_MAGIC || !size || !ltensor(xd) || !ltensor(yd) || !ltensor(bd))
        return CUDNN_STATUS_BAD_PARAM;
    if (!bn_mode_ok(mode) || ops != CUDNN_BATCHNORM_OPS_BN || act)
        return CUDNN_STATUS_NOT_SUPPORTED;
    *size = 0;
    return CUDNN_STATUS_SUCCESS;
}

FD_API cudnnStatus_t cudnnGetBatchNormalizationBackwardExWorkspaceSize(
    cudnnHandle_t h, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t ops,
    const cudnnTensorDescriptor_t xd, const cudnnTensorDescriptor_t yd,
    const cudnnTensorDescriptor_t dyd, const cudnnTensorDescriptor_t dzd,
    const cudnnTensorDescriptor_t dxd, const cudnnTensorDescriptor_t dbd,
    const cudnnActivationDescriptor_t act, size_t *size)
{
    (void)yd, (void)dzd;
    fd_handle *hd = (fd_handle *)h;
    if (!hd || hd->magic != FD_MAGIC || !size || !ltensor(xd) || !ltensor(dyd) ||
        !ltensor(dxd) || !ltensor(dbd))
        return CUDNN_STATUS_BAD_PARAM;
    if (!bn_mode_ok(mode) || ops != CUDNN_BATCHNORM_OPS_BN || act)
        return CUDNN_STATUS_NOT_SUPPORTED;
    *size = 0;
    return CUDNN_STATUS_SUCCESS;
}

FD_API cudnnStatus_t cudnnGetBatchNormalizationTrainingExReserveSpaceSize(
    cudnnHandle_t h, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t ops,
    const cudnnActivationDescriptor_t act, const cudnnTensorDescriptor_t xd, size_t *size)
{
    fd_handle *hd = (fd_handle *)h;
    fd_ltensor *X = ltensor(xd);
    if (!hd || hd->magic != FD_MAGIC || !size || !X)
        return CUDNN_STATUS_BAD_PARAM;
    if (!bn_mode_ok(mode) || ops != CUDNN_BATCHNORM_OPS_BN || act)
        return CUDNN_STATUS_NOT_SUPPORTED;
    *size = bn_reserve_size(X, mode == CUDNN_BATCHNORM_PER_ACTIVATION);
    return CUDNN_STATUS_SUCCESS;
}

FD_API cudnnStatus_t cudnnBatchNormalizationForwardTrainingEx(
    cudnnHandle_t h, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t ops, const void *alpha,
    const void *beta, const cudnnTensorDescriptor_t xd, const void *x,
    const cudnnTensorDescriptor_t zd, const void *z, const cudnnTensorDescriptor_t yd, void *y,
    const cudnnTensorDescriptor_t bd, const void *scale, const void *bias, double factor,
    void *rmean, void *rvar, double eps, void *smean, void *sinv,
    cudnnActivationDescriptor_t act, void *ws, size_t ws_size, void *reserve, size_t reserve_size)
{
    (void)ws, (void)ws_size;
    fd_handle *hd = (fd_handle *)h;
    fd_ltensor *X = ltensor(xd), *Y = ltensor(yd), *B = ltensor(bd);
    if (!hd || hd->magic != FD_MAGIC || !alpha || !beta || !x || !y || !scale || !bias ||
        (!rmean) != (!rvar) || (!smean) != (!sinv))
        return CUDNN_STATUS_BAD_PARAM;
    if (!bn_mode_ok(mode) || ops != CUDNN_BATCHNORM_OPS_BN || act || zd || z)
        return CUDNN_STATUS_NOT_SUPPORTED;
    int per_act = mode == CUDNN_BATCHNORM_PER_ACTIVATION;
    if (!bn_shapes_ok(X, Y, B, per_act) || (reserve && reserve_size < bn_reserve_size(X, per_act)))
        return CUDNN_STATUS_BAD_PARAM;
    fd_bn *b = calloc(1, sizeof *b); /* freed after the work ran */
    if (!b)
        return CUDNN_STATUS_ALLOC_FAILED;
    b->kind = FD_BN_TRAIN;
    b->x = *X, b->y = *Y, b->b = *B;
    b->px = x, b->py = y, b->scale = scale, b->bias = bias;
    b->rmean = rmean, b->rvar = rvar, b->smean = smean, b->sinv = sinv, b->reserve = reserve;
    b->alpha = host_scale(alpha, X->dt);
    b->beta = host_scale(beta, X->dt);
    b->eps = eps, b->factor = factor;
    b->per_activation = per_act;
    return bn_submit(hd, b, "fake_cudnn_bn_train");
}

FD_API cudnnStatus_t cudnnBatchNormalizationBackwardEx(
    cudnnHandle_t h, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t ops, const void *alpha_d,
    const void *beta_d, const void *alpha_p, const void *beta_p, const cudnnTensorDescriptor_t xd,
    const void *x, const cudnnTensorDescriptor_t yd, const void *y,
    const cudnnTensorDescriptor_t dyd, const void *dy, const cudnnTensorDescriptor_t dzd,
    void *dz, const cudnnTensorDescriptor_t dxd, void *dx, const cudnnTensorDescriptor_t dbd,
    const void *scale, const void *bias, void *dscale, void *dbias, double eps,
    const void *smean, const void *sinv, cudnnActivationDescriptor_t act, void *ws,
    size_t ws_size, void *reserve, size_t reserve_size)
{
    (void)ws, (void)ws_size, (void)bias;
    fd_handle *hd = (fd_handle *)h;
    fd_ltensor *X = ltensor(xd), *DY = ltensor(dyd), *DX = ltensor(dxd), *B = ltensor(dbd);
    if (!hd || hd->magic != FD_MAGIC || !alpha_d || !beta_d || !alpha_p || !beta_p || !x ||
        !dy || !dx || !scale || !dscale || !dbias || (!smean) != (!sinv))
        return CUDNN_STATUS_BAD_PARAM;
    if (!bn_mode_ok(mode) || ops != CUDNN_BATCHNORM_OPS_BN || act || yd || y || dzd || dz)
        return CUDNN_STATUS_NOT_SUPPORTED;
    int per_act = mode == CUDNN_BATCHNORM_PER_ACTIVATION;
    if (!bn_shapes_ok(X, DY, B, per_act) || !bn_shapes_ok(X, DX, B, per_act) ||
        (!smean && (!reserve || reserve_size < bn_reserve_size(X, per_act))))
        return CUDNN_STATUS_BAD_PARAM;
    fd_bn *b = calloc(1, sizeof *b); /* freed after the work ran */
    if (!b)
        return CUDNN_STATUS_ALLOC_FAILED;
    b->kind = FD_BN_BACKWARD;
    b->x = *X, b->y = *DY, b->dx = *DX, b->b = *B;
    b->px = x, b->dy = dy, b->pdx = dx, b->scale = scale, b->dscale = dscale, b->dbias = dbias;
    b->smean = (void *)smean, b->sinv = (void *)sinv, b->reserve = smean ? NULL : reserve;
    b->alpha = host_scale(alpha_d, X->dt);
    b->beta = host_scale(beta_d, X->dt);
    b->alpha_p = host_scale(alpha_p, X->dt);
    b->beta_p = host_scale(beta_p, X->dt);
    b->eps = eps;
    b->per_activation = per_act;
    return bn_submit(hd, b, "fake_cudnn_bn_backward");
}

/* ------------------------------------------- what fd_sdpa.c reads (fd_dnn_int.h) ---- */

fd_desc *fd_desc_of(void *p) { return desc(p); }
int fd_desc_type(const fd_desc *d) { return d->type; }
fd_desc *fd_attr_desc(fd_desc *d, int name) { return one(d, name); }
void *fd_pack_ptr(fd_desc *pack, int64_t uid) { return pack_ptr(pack, uid); }
double fd_load(const void *base, int64_t i, int dt) { return load(base, i, dt); }
void fd_store(void *base, int64_t i, int dt, double v) { store(base, i, dt, v); }

const void *fd_attr_get(fd_desc *d, int name, int *type, int64_t *n)
{
    fd_attr *a = find(d, name);
    if (!a)
        return NULL;
    *type = a->type;
    *n = a->n;
    return a->v;
}
