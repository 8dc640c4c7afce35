/* fd_dnn.c — a CPU double of cuDNN 9 for the tests: handles, the backend API for one forward convolution per graph, legacy tensors and batch-norm inference, computed on the fake GPU's streams.
 *
 * What it models (GENIE_CUDNN_LIB points the executor here):
 *   - backend descriptors of any type keep every attribute set on them (descriptor-valued
 *     ones by reference, counted); Finalize checks what an execution needs: a tensor's type,
 *     dimensions, strides and UID; a forward convolution's X, W, Y and convolution; an
 *     operation graph of exactly one forward convolution (anything else: NOT_SUPPORTED, as an
 *     engine-less graph is on a GPU);
 *   - heuristics answer one engine config (engine 0, no knobs, no notes); a plan of it needs
 *     no workspace;
 *   - Execute computes the convolution (cross-correlation or convolution, any padding,
 *     stride, dilation and group count, NCHW or NHWC or any strides; fp32, fp16, bf16 in a
 *     float accumulator, fp64) as y = alpha * conv(x, w) + beta * y on the handle's stream;
 *   - cudnnBatchNormalizationForwardInference (spatial and per-activation).
 * A GetAttribute the double does not model prints its attribute and descriptor type on
 * stderr and answers NOT_SUPPORTED, so a new caller shows what it needs. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
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

FD_API cudnnStatus_t cudnnCreate(cudnnHandle_t *h)
{
    fd_handle *f = calloc(1, sizeof *f);
    if (!h || !f) {
        free(f);
        return CUDNN_STATUS_BAD_PARAM;
    }
    f->magic = FD_MAGIC;
    *h = (cudnnHandle_t)f;
    return CUDNN_STATUS_SUCCESS;
}

FD_API cudnnStatus_t cudnnDestroy(cudnnHandle_t h)
{
    fd_handle *f = (fd_handle *)h;
    if (!f || f->magic != FD_MAGIC)
        return CUDNN_STATUS_BAD_PARAM;
    f->magic = 0;
    free(f);
    return CUDNN_STATUS_SUCCESS;
}

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

/* The conv operation of a graph the double can run, or NULL. */
static fd_desc *graph_conv(fd_desc *g)
{
    fd_attr *a = find(g, CUDNN_ATTR_OPERATIONGRAPH_OPS);
    if (!a || a->type != CUDNN_TYPE_BACKEND_DESCRIPTOR || a->n != 1)
        return NULL;
    fd_desc *op = ((fd_desc **)a->v)[0];
    return op->type == CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR ? op : NULL;
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
        ok = one(d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X) &&
             one(d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W) &&
             one(d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y) &&
             one(d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC);
        break;
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
    case CUDNN_ATTR_ENGINECFG_SHARED_MEMORY_USED: /* asked for attention plans */
    case CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE:
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

typedef struct fd_conv {
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

/* The convolution as im2col and one SGEMM per image and group (fp32, fp16 and bf16 data:
 * a float accumulator, as cuDNN's default math). The weights are gathered once. */
static int conv_gemm(fd_conv *c)
{
    const fd_tensor *x = &c->x, *w = &c->w, *y = &c->y;
    int64_t N = y->dims[0], K = y->dims[1], C = x->dims[1], Cg = w->dims[1];
    int64_t G = Cg ? C / Cg : 1, Kg = G ? K / G : K;
    int ns = c->nsp;
    int64_t out_sp = 1, ker_sp = 1;
    for (int i = 0; i < ns; i++) {
        out_sp *= y->dims[2 + i];
        ker_sp *= w->dims[2 + i];
    }
    int64_t crs = Cg * ker_sp;
    float *wf = malloc((size_t)(K * crs) * sizeof(float));
    float *col = malloc((size_t)(crs * out_sp) * sizeof(float));
    float *yf = malloc((size_t)(Kg * out_sp) * sizeof(float));
    int64_t *kp = malloc((size_t)(ker_sp * ns) * sizeof(int64_t)); /* kernel positions */
    if (!wf || !col || !yf || !kp) {
        free(wf), free(col), free(yf), free(kp);
        return -1;
    }
    for (int64_t r = 0; r < ker_sp; r++) {
        int64_t q = r;
        for (int i = ns - 1; i >= 0; i--) {
            kp[r * ns + i] = q % w->dims[2 + i];
            q /= w->dims[2 + i];
        }
    }
    for (int64_t k = 0; k < K; k++)
        for (int64_t cc = 0; cc < Cg; cc++)
            for (int64_t r = 0; r < ker_sp; r++) {
                int64_t off = k * w->strides[0] + cc * w->strides[1];
                for (int i = 0; i < ns; i++) {
                    int64_t p = kp[r * ns + i];
                    off += (c->cross ? p : w->dims[2 + i] - 1 - p) * w->strides[2 + i];
                }
                wf[k * crs + cc * ker_sp + r] = (float)load(w->ptr, off, w->dt);
            }
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++) {
            for (int64_t o = 0; o < out_sp; o++) {
                int64_t opos[6], rem = o;
                for (int i = ns - 1; i >= 0; i--) {
                    opos[i] = rem % y->dims[2 + i];
                    rem /= y->dims[2 + i];
                }
                for (int64_t cc = 0; cc < Cg; cc++) {
                    int64_t base = n * x->strides[0] + (g * Cg + cc) * x->strides[1];
                    for (int64_t r = 0; r < ker_sp; r++) {
                        int64_t off = base;
                        int inside = 1;
                        for (int i = 0; i < ns; i++) {
                            int64_t xi = opos[i] * c->stride[i] - c->pad[i] + kp[r * ns + i] * c->dil[i];
                            if (xi < 0 || xi >= x->dims[2 + i]) {
                                inside = 0;
                                break;
                            }
                            off += xi * x->strides[2 + i];
                        }
                        col[(cc * ker_sp + r) * out_sp + o] =
                            inside ? (float)load(x->ptr, off, x->dt) : 0.0f;
                    }
                }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)Kg, (blasint)out_sp,
                        (blasint)crs, 1.0f, wf + g * Kg * crs, (blasint)crs, col, (blasint)out_sp,
                        0.0f, yf, (blasint)out_sp);
            for (int64_t kk = 0; kk < Kg; kk++)
                for (int64_t o = 0; o < out_sp; o++) {
                    int64_t yoff = n * y->strides[0] + (g * Kg + kk) * y->strides[1], rem = o;
                    for (int i = ns - 1; i >= 0; i--) {
                        yoff += (rem % y->dims[2 + i]) * y->strides[2 + i];
                        rem /= y->dims[2 + i];
                    }
                    double v = c->alpha * yf[kk * out_sp + o];
                    if (c->beta != 0)
                        v += c->beta * load(y->ptr, yoff, y->dt);
                    store(y->ptr, yoff, y->dt, v);
                }
        }
    free(wf), free(col), free(yf), free(kp);
    return 0;
}

static int conv_run(void *arg)
{
    fd_conv *c = arg;
    if (!fg_work_compute())
        return 0;
    if (c->x.dt != CUDNN_DATA_DOUBLE && !conv_gemm(c))
        return 0;
    const fd_tensor *x = &c->x, *w = &c->w, *y = &c->y;
    int64_t N = y->dims[0], K = y->dims[1], C = x->dims[1], Cg = w->dims[1];
    int64_t G = Cg ? C / Cg : 1, Kg = G ? K / G : K;
    int ns = c->nsp;
    int64_t out_sp = 1, ker_sp = 1;
    for (int i = 0; i < ns; i++) {
        out_sp *= y->dims[2 + i];
        ker_sp *= w->dims[2 + i];
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            int64_t g = k / Kg;
            for (int64_t o = 0; o < out_sp; o++) {
                int64_t opos[6], rem = o;
                for (int i = ns - 1; i >= 0; i--) {
                    opos[i] = rem % y->dims[2 + i];
                    rem /= y->dims[2 + i];
                }
                double acc = 0;
                for (int64_t cc = 0; cc < Cg; cc++) {
                    int64_t ci = g * Cg + cc;
                    for (int64_t r = 0; r < ker_sp; r++) {
                        int64_t kpos[6], rr = r, xoff = n * x->strides[0] + ci * x->strides[1];
                        int inside = 1;
                        for (int i = ns - 1; i >= 0; i--) {
                            kpos[i] = rr % w->dims[2 + i];
                            rr /= w->dims[2 + i];
                        }
                        int64_t woff = k * w->strides[0] + cc * w->strides[1];
                        for (int i = 0; i < ns && inside; i++) {
                            int64_t kp = c->cross ? kpos[i] : w->dims[2 + i] - 1 - kpos[i];
                            int64_t xi = opos[i] * c->stride[i] - c->pad[i] + kpos[i] * c->dil[i];
                            if (xi < 0 || xi >= x->dims[2 + i])
                                inside = 0;
                            xoff += xi * x->strides[2 + i];
                            woff += kp * w->strides[2 + i];
                        }
                        if (inside)
                            acc += load(x->ptr, xoff, x->dt) * load(w->ptr, woff, w->dt);
                    }
                }
                int64_t yoff = n * y->strides[0] + k * y->strides[1];
                for (int i = 0; i < ns; i++)
                    yoff += opos[i] * y->strides[2 + i];
                double v = c->alpha * acc;
                if (c->beta != 0)
                    v += c->beta * load(y->ptr, yoff, y->dt);
                store(y->ptr, yoff, y->dt, v);
            }
        }
    return 0;
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
    fd_desc *cd = one(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC);
    fd_conv *c = calloc(1, sizeof *c); /* freed after the work ran */
    if (!c)
        return CUDNN_STATUS_ALLOC_FAILED;
    fd_attr *sp = find(cd, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS);
    fd_attr *pad = find(cd, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS);
    fd_attr *str = find(cd, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES);
    fd_attr *dil = find(cd, CUDNN_ATTR_CONVOLUTION_DILATIONS);
    fd_attr *mode = find(cd, CUDNN_ATTR_CONVOLUTION_CONV_MODE);
    if (tensor_of(one(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X), &c->x) ||
        tensor_of(one(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W), &c->w) ||
        tensor_of(one(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y), &c->y) || !sp || !pad ||
        !str || !dil) {
        free(c);
        return CUDNN_STATUS_BAD_PARAM;
    }
    c->nsp = (int)*(int64_t *)sp->v;
    if (c->nsp < 1 || c->nsp > 6 || c->nsp + 2 != c->x.nd || c->x.nd != c->w.nd ||
        c->x.nd != c->y.nd || pad->n < c->nsp || str->n < c->nsp || dil->n < c->nsp) {
        free(c);
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
    memcpy(c->pad, pad->v, (size_t)c->nsp * 8);
    memcpy(c->stride, str->v, (size_t)c->nsp * 8);
    memcpy(c->dil, dil->v, (size_t)c->nsp * 8);
    c->cross = mode && *(int *)mode->v == CUDNN_CROSS_CORRELATION;
    c->alpha = scalar(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, 1);
    c->beta = scalar(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, 0);
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
                    .dtype = c->x.dt == CUDNN_DATA_FLOAT ? FG_DT_F32 : FG_DT_F16,
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
    fd_ltensor *l = calloc(1, sizeof *l);
    if (!t || !l) {
        free(l);
        return CUDNN_STATUS_BAD_PARAM;
    }
    l->magic = FD_MAGIC;
    *t = (cudnnTensorDescriptor_t)l;
    return CUDNN_STATUS_SUCCESS;
}

FD_API cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t t)
{
    fd_ltensor *l = (fd_ltensor *)t;
    if (l && l->magic == FD_MAGIC) {
        l->magic = 0;
        free(l);
    }
    return CUDNN_STATUS_SUCCESS;
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

typedef struct fd_bn {
    fd_ltensor x, y, b;
    const void *px, *scale, *bias, *mean, *var;
    void *py;
    double alpha, beta, eps;
    int per_activation;
} fd_bn;

static int bn_run(void *arg)
{
    fd_bn *b = arg;
    if (!fg_work_compute())
        return 0;
    int nd = b->x.nd;
    int64_t total = 1;
    for (int i = 0; i < nd; i++)
        total *= b->x.dims[i];
    for (int64_t e = 0; e < total; e++) {
        int64_t rem = e, xo = 0, yo = 0, po = 0, pos[8];
        for (int i = nd - 1; i >= 0; i--) {
            pos[i] = rem % b->x.dims[i];
            rem /= b->x.dims[i];
        }
        for (int i = 0; i < nd; i++) {
            xo += pos[i] * b->x.strides[i];
            yo += pos[i] * b->y.strides[i];
            /* the parameters: channel (spatial) or channel and position (per activation) */
            if (i == 1 || (b->per_activation && i >= 1))
                po += pos[i] * b->b.strides[i];
        }
        double m = load(b->mean, po, b->b.dt), v = load(b->var, po, b->b.dt);
        double s = load(b->scale, po, b->b.dt), bi = load(b->bias, po, b->b.dt);
        double r = s * (load(b->px, xo, b->x.dt) - m) / sqrt(v + b->eps) + bi;
        double out = b->alpha * r;
        if (b->beta != 0)
            out += b->beta * load(b->py, yo, b->y.dt);
        store(b->py, yo, b->y.dt, out);
    }
    return 0;
}

FD_API cudnnStatus_t cudnnBatchNormalizationForwardInference(
    cudnnHandle_t h, cudnnBatchNormMode_t mode, const void *alpha, const void *beta,
    const cudnnTensorDescriptor_t xd, const void *x, const cudnnTensorDescriptor_t yd, void *y,
    const cudnnTensorDescriptor_t bd, const void *scale, const void *bias, const void *mean,
    const void *var, double eps)
{
    fd_handle *hd = (fd_handle *)h;
    fd_ltensor *X = (fd_ltensor *)xd, *Y = (fd_ltensor *)yd, *B = (fd_ltensor *)bd;
    if (!hd || hd->magic != FD_MAGIC || !X || !Y || !B || X->nd != Y->nd || X->nd != B->nd ||
        !alpha || !beta)
        return CUDNN_STATUS_BAD_PARAM;
    if (mode != CUDNN_BATCHNORM_SPATIAL && mode != CUDNN_BATCHNORM_PER_ACTIVATION &&
        mode != CUDNN_BATCHNORM_SPATIAL_PERSISTENT)
        return CUDNN_STATUS_NOT_SUPPORTED;
    fd_bn *b = calloc(1, sizeof *b); /* freed after the work ran */
    if (!b)
        return CUDNN_STATUS_ALLOC_FAILED;
    b->x = *X, b->y = *Y, b->b = *B;
    b->px = x, b->py = y, b->scale = scale, b->bias = bias, b->mean = mean, b->var = var;
    int dbl = X->dt == CUDNN_DATA_DOUBLE;
    b->alpha = dbl ? *(const double *)alpha : *(const float *)alpha;
    b->beta = dbl ? *(const double *)beta : *(const float *)beta;
    b->eps = eps;
    b->per_activation = mode == CUDNN_BATCHNORM_PER_ACTIVATION;
    double bytes = 1;
    for (int i = 0; i < X->nd; i++)
        bytes *= X->dims[i];
    fg_cost cost = {.kind = FG_COST_KERNEL, .bytes = bytes * 8, .name = "fake_cudnn_bn_infer"};
    int r = fg_work_submit(hd->stream, bn_run, b, free, &cost);
    return r ? CUDNN_STATUS_EXECUTION_FAILED : CUDNN_STATUS_SUCCESS;
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
