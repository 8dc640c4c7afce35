/* dnn_mirror.c — the executor's mirror of cuDNN backend descriptors: tensor extents, the tensors of each plan's graph, variant packs, and the whole-extent check of an Execute (see dnn_mirror.h). */
#include "remote/dnn_mirror.h"

#include <cudnn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dnn.h"

#define DNNM_MAX_DIMS 12

/* A tensor as a plan's graph names it. why: NULL when sized, else why it could not be. */
typedef struct dnnm_tensor {
    int64_t uid;
    uint64_t bytes;
    const char *why; /* static */
    uint8_t virt, byval;
} dnnm_tensor;

/* The tensors of an operation graph, shared by reference by what is built on it. */
typedef struct dnnm_table {
    uint32_t refs, n;
    char why[128]; /* empty: every tensor sized and named consistently */
    dnnm_tensor t[];
} dnnm_table;

/* An operation's tensor: the attribute that named it, a copy of its extent. */
typedef struct dnnm_use {
    uint32_t attr;
    dnnm_tensor t;
} dnnm_use;

typedef struct dnnm_desc {
    uint32_t type;
    uint8_t finalized;
    uint8_t opaque; /* filled in by the library: its tensors are not known here */
    /* a tensor: attributes as set; its extent once finalized */
    uint8_t has_dtype, has_uid, virt, byval, ragged;
    int nd, nst; /* -1: more dimensions than the mirror keeps */
    int32_t dtype;
    int64_t uid, vcount;
    int64_t dims[DNNM_MAX_DIMS], strides[DNNM_MAX_DIMS];
    dnnm_tensor self;
    /* an operation: the tensors it names (owned) */
    dnnm_use *uses;
    uint32_t nuses;
    /* an operation graph, heuristic, engine, engine config, plan: its graph's tensors */
    dnnm_table *tab;
    /* a plan */
    uint8_t ws_known;
    uint64_t ws;
    /* a variant pack (owned arrays) */
    int64_t *uids;
    uint64_t *ptrs;
    uint32_t nuids, nptrs;
    uint8_t has_ws;
    uint64_t wsptr;
} dnnm_desc;

/* Bytes of one element of a cudnnDataType_t as a tensor stores it; sub-byte and vector types
 * are rounded up (conservative). 0: a type the mirror cannot size. */
static uint64_t elem_bytes(int32_t dt)
{
    uint64_t n = proto_dnn_dtype_size(dt);
    if (n)
        return n;
    switch (dt) {
    case CUDNN_DATA_COMPLEX_FP64:
        return 16;
    case CUDNN_DATA_COMPLEX_FP32:
        return 8;
    case CUDNN_DATA_UINT32:
    case 5: /* CUDNN_DATA_INT8x4 (deprecated) */
    case 7: /* CUDNN_DATA_UINT8x4 (deprecated) */
        return 4;
    case 8: /* CUDNN_DATA_INT8x32 (deprecated) */
        return 32;
    case CUDNN_DATA_FP8_E4M3:
    case CUDNN_DATA_FP8_E5M2:
    case CUDNN_DATA_FAST_FLOAT_FOR_FP8:
    case CUDNN_DATA_FP8_E8M0:
    case CUDNN_DATA_FP4_E2M1:
    case CUDNN_DATA_INT4:
    case CUDNN_DATA_UINT4:
        return 1;
    default:
        return 0;
    }
}

uint64_t exec_dnnm_extent(int nd, const int64_t *dims, const int64_t *strides, uint64_t elem,
                          int64_t vcount)
{
    if (nd <= 0 || !elem || vcount <= 0)
        return 0;
    uint64_t last = 0; /* index of the last element */
    for (int i = 0; i < nd; i++) {
        if (dims[i] <= 0 || strides[i] < 0)
            return 0;
        uint64_t d = (uint64_t)dims[i] - 1, s = (uint64_t)strides[i];
        if (s && d > (UINT64_MAX - last) / s)
            return 0;
        last += d * s;
    }
    if (last == UINT64_MAX)
        return 0;
    uint64_t n = last + 1;
    if (n > UINT64_MAX / elem || n * elem > UINT64_MAX / (uint64_t)vcount)
        return 0;
    return n * elem * (uint64_t)vcount;
}

static dnnm_desc *get(const exec_dnnm *m, uint32_t id)
{
    return exec_idmap_get(&m->descs, id);
}

static void unref(dnnm_table *t)
{
    if (t && --t->refs == 0)
        free(t);
}

static dnnm_table *ref(dnnm_table *t)
{
    if (t)
        t->refs++;
    return t;
}

/* Forgets what d was set to (the library replaced it, or it goes). */
static void clear(dnnm_desc *d)
{
    free(d->uses);
    d->uses = NULL;
    d->nuses = 0;
    unref(d->tab);
    d->tab = NULL;
    free(d->uids);
    free(d->ptrs);
    d->uids = NULL;
    d->ptrs = NULL;
    d->nuids = d->nptrs = 0;
    d->has_ws = d->ws_known = 0;
}

int exec_dnnm_create(exec_dnnm *m, uint32_t id, uint32_t type)
{
    dnnm_desc *d = calloc(1, sizeof *d); /* m->descs */
    if (!d || exec_idmap_put(&m->descs, id, d)) {
        free(d);
        return GENIE_ENOMEM;
    }
    d->type = type;
    d->vcount = 1;
    return 0;
}

void exec_dnnm_destroy(exec_dnnm *m, uint32_t id)
{
    dnnm_desc *d = exec_idmap_del(&m->descs, id);
    if (d)
        clear(d);
    free(d);
}

void exec_dnnm_free(exec_dnnm *m)
{
    for (uint32_t i = 0; i < m->descs.cap; i++)
        if (m->descs.vals[i]) {
            clear(m->descs.vals[i]);
            free(m->descs.vals[i]);
        }
    exec_idmap_free(&m->descs);
}

uint32_t exec_dnnm_type(const exec_dnnm *m, uint32_t id)
{
    dnnm_desc *d = get(m, id);
    return d ? d->type : UINT32_MAX;
}

int exec_dnnm_finalized(const exec_dnnm *m, uint32_t id)
{
    dnnm_desc *d = get(m, id);
    return d && d->finalized;
}

static uint64_t u64_at(const uint8_t *w, uint32_t i)
{
    uint64_t v;
    memcpy(&v, w + (size_t)i * 8, 8);
    return v;
}

static void tensor_attr(dnnm_desc *d, uint32_t attr, uint32_t type, uint32_t count,
                        const uint8_t *w)
{
    int64_t v = 0;
    if (type == CUDNN_TYPE_INT64 && count >= 1)
        memcpy(&v, w, 8);
    switch (attr) {
    case CUDNN_ATTR_TENSOR_DATA_TYPE:
        d->has_dtype = type == CUDNN_TYPE_DATA_TYPE && count == 1;
        if (d->has_dtype)
            memcpy(&d->dtype, w, 4);
        break;
    case CUDNN_ATTR_TENSOR_DIMENSIONS:
    case CUDNN_ATTR_TENSOR_STRIDES: {
        int n = type == CUDNN_TYPE_INT64 && count <= DNNM_MAX_DIMS ? (int)count : -1;
        int64_t *dst = attr == CUDNN_ATTR_TENSOR_DIMENSIONS ? d->dims : d->strides;
        if (n > 0)
            memcpy(dst, w, (size_t)n * 8);
        *(attr == CUDNN_ATTR_TENSOR_DIMENSIONS ? &d->nd : &d->nst) = n;
        break;
    }
    case CUDNN_ATTR_TENSOR_UNIQUE_ID:
        d->has_uid = type == CUDNN_TYPE_INT64 && count == 1;
        d->uid = v;
        break;
    case CUDNN_ATTR_TENSOR_IS_VIRTUAL:
    case CUDNN_ATTR_TENSOR_IS_BY_VALUE: {
        uint8_t b = type == CUDNN_TYPE_BOOLEAN && count == 1 && w[0];
        *(attr == CUDNN_ATTR_TENSOR_IS_VIRTUAL ? &d->virt : &d->byval) = b;
        break;
    }
    case CUDNN_ATTR_TENSOR_VECTOR_COUNT:
        d->vcount = type == CUDNN_TYPE_INT64 && count == 1 ? v : 0;
        break;
    case CUDNN_ATTR_TENSOR_RAGGED_OFFSET_DESC:
        d->ragged = count > 0; /* its extent depends on the offsets' values */
        break;
    default:
        break;
    }
}

/* The tensor descriptor d as an operation names it now. */
static dnnm_tensor named(const dnnm_desc *d)
{
    if (d->finalized)
        return d->self;
    dnnm_tensor t = {.uid = d->uid, .why = "it was not finalized when named"};
    return t;
}

/* Operation d names the tensors at w under attr (replacing what attr named before). */
static int op_uses(const exec_dnnm *m, dnnm_desc *d, uint32_t attr, uint32_t count,
                   const uint8_t *w)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < d->nuses; i++)
        if (d->uses[i].attr != attr)
            d->uses[k++] = d->uses[i];
    d->nuses = k;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t id = u64_at(w, i);
        dnnm_desc *t = id <= UINT32_MAX ? get(m, (uint32_t)id) : NULL;
        if (!t || t->type != CUDNN_BACKEND_TENSOR_DESCRIPTOR)
            continue;
        dnnm_use *u = realloc(d->uses, (d->nuses + 1) * sizeof *u); /* d->uses */
        if (!u)
            return GENIE_ENOMEM;
        d->uses = u;
        d->uses[d->nuses++] = (dnnm_use){attr, named(t)};
    }
    return 0;
}

static void table_why(dnnm_table *t, const char *fmt, long long uid, const char *what)
{
    if (!t->why[0])
        snprintf(t->why, sizeof t->why, fmt, uid, what);
}

/* Graph d's table from the operations at w. */
static int graph_ops(const exec_dnnm *m, dnnm_desc *d, uint32_t count, const uint8_t *w)
{
    size_t n = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t id = u64_at(w, i);
        dnnm_desc *op = id <= UINT32_MAX ? get(m, (uint32_t)id) : NULL;
        n += op ? op->nuses : 0;
    }
    dnnm_table *t = calloc(1, sizeof *t + n * sizeof t->t[0]); /* d->tab, shared */
    if (!t)
        return GENIE_ENOMEM;
    t->refs = 1;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t id = u64_at(w, i);
        dnnm_desc *op = id <= UINT32_MAX ? get(m, (uint32_t)id) : NULL;
        if (!op || op->opaque || !op->finalized) {
            /* a library may hold what it is given by reference: an operation not finalized
             * could still change after its graph copied its tensors */
            table_why(t, "operation %lld of its graph %s", (long long)id,
                      !op           ? "is not known"
                      : op->opaque  ? "was filled in by the library"
                                    : "was not finalized when the graph was given it");
            continue;
        }
        for (uint32_t j = 0; j < op->nuses; j++) {
            const dnnm_tensor *u = &op->uses[j].t;
            if (u->why)
                table_why(t, "tensor UID %lld cannot be sized: %s", (long long)u->uid, u->why);
            uint32_t k = 0;
            while (k < t->n && t->t[k].uid != u->uid)
                k++;
            if (k == t->n) {
                t->t[t->n++] = *u;
            } else if (t->t[k].virt != u->virt || t->t[k].byval != u->byval) {
                table_why(t, "tensor UID %lld is named %s", (long long)u->uid,
                          "as different kinds of tensor");
            } else if (u->bytes > t->t[k].bytes) {
                t->t[k].bytes = u->bytes;
            }
        }
    }
    unref(d->tab);
    d->tab = t;
    return 0;
}

int exec_dnnm_set(exec_dnnm *m, uint32_t id, uint32_t attr, uint32_t type, uint32_t count,
                  const uint8_t *w)
{
    dnnm_desc *d = get(m, id);
    if (!d || d->finalized)
        return 0;
    int isdesc = type == CUDNN_TYPE_BACKEND_DESCRIPTOR;
    switch (d->type) {
    case CUDNN_BACKEND_TENSOR_DESCRIPTOR:
        tensor_attr(d, attr, type, count, w);
        return 0;
    case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR:
        return isdesc && attr == CUDNN_ATTR_OPERATIONGRAPH_OPS ? graph_ops(m, d, count, w) : 0;
    case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR:
    case CUDNN_BACKEND_ENGINE_DESCRIPTOR:
    case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR:
    case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR:
        if (isdesc && count == 1 &&
            (attr == CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH ||
             attr == CUDNN_ATTR_ENGINE_OPERATION_GRAPH || attr == CUDNN_ATTR_ENGINECFG_ENGINE ||
             attr == CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG)) {
            uint64_t e = u64_at(w, 0);
            dnnm_desc *src = e <= UINT32_MAX ? get(m, (uint32_t)e) : NULL;
            /* only a finalized one: what is not could still change (the graph, engine or
             * config it stands for) after its table was taken */
            dnnm_table *t = ref(src && src->finalized ? src->tab : NULL);
            unref(d->tab);
            d->tab = t;
        }
        return 0;
    case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR:
        if (attr == CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS && type == CUDNN_TYPE_INT64) {
            int64_t *u = malloc(count ? (size_t)count * 8 : 1); /* d->uids */
            if (!u)
                return GENIE_ENOMEM;
            memcpy(u, w, (size_t)count * 8);
            free(d->uids);
            d->uids = u;
            d->nuids = count;
        } else if (attr == CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS && type == CUDNN_TYPE_VOID_PTR) {
            uint64_t *p = malloc(count ? (size_t)count * 8 : 1); /* d->ptrs */
            if (!p)
                return GENIE_ENOMEM;
            memcpy(p, w, (size_t)count * 8);
            free(d->ptrs);
            d->ptrs = p;
            d->nptrs = count;
        } else if (attr == CUDNN_ATTR_VARIANT_PACK_WORKSPACE && type == CUDNN_TYPE_VOID_PTR &&
                   count == 1) {
            d->has_ws = 1;
            d->wsptr = u64_at(w, 0);
        }
        return 0;
    default: /* an operation (or a descriptor it names: convolution, pointwise, ...) */
        return isdesc ? op_uses(m, d, attr, count, w) : 0;
    }
}

void exec_dnnm_finalize(exec_dnnm *m, uint32_t id)
{
    dnnm_desc *d = get(m, id);
    if (!d || d->finalized)
        return;
    d->finalized = 1;
    if (d->type != CUDNN_BACKEND_TENSOR_DESCRIPTOR)
        return;
    dnnm_tensor *t = &d->self;
    *t = (dnnm_tensor){.uid = d->uid, .virt = d->virt, .byval = d->byval};
    uint64_t es = d->has_dtype ? elem_bytes(d->dtype) : 0;
    if (!d->has_uid)
        t->why = "it has no unique ID";
    else if (!es)
        t->why = "its data type is not one Genie can size";
    else if (d->ragged)
        t->why = "it is ragged (its extent depends on its offsets' values)";
    else if (d->nd <= 0 || d->nd != d->nst)
        t->why = "its dimensions and strides do not match (or are more than 12)";
    else if (!(t->bytes = exec_dnnm_extent(d->nd, d->dims, d->strides, es, d->vcount)))
        t->why = "a dimension is not positive, a stride is negative or its extent overflows";
}

void exec_dnnm_fill(exec_dnnm *m, uint32_t from, uint32_t n, const uint8_t *ids)
{
    dnnm_desc *src = get(m, from);
    int graphy = src && (src->type == CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR ||
                         src->type == CUDNN_BACKEND_ENGINE_DESCRIPTOR ||
                         src->type == CUDNN_BACKEND_ENGINECFG_DESCRIPTOR ||
                         src->type == CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id = u64_at(ids, i);
        dnnm_desc *d = id <= UINT32_MAX ? get(m, (uint32_t)id) : NULL;
        if (!d || d == src)
            continue;
        clear(d);
        d->finalized = 1;
        d->opaque = 1;
        d->self = (dnnm_tensor){.why = "it was filled in by the library"};
        if (graphy)
            d->tab = ref(src->tab);
    }
}

void exec_dnnm_workspace(exec_dnnm *m, uint32_t plan, int known, uint64_t bytes)
{
    dnnm_desc *d = get(m, plan);
    if (d) {
        d->ws_known = (uint8_t)(known != 0);
        d->ws = bytes;
    }
}

static int refuse(char *why, size_t wn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t wn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, wn, fmt, ap);
    va_end(ap);
    return -1;
}

int exec_dnnm_check(const exec_dnnm *m, uint32_t plan, uint32_t pack, exec_dnnm_range_fn in_range,
                    void *arg, char *why, size_t wn)
{
    const dnnm_desc *p = get(m, plan), *v = get(m, pack);
    if (!p || p->type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR || !p->tab)
        return refuse(why, wn, "plan %u: the executor does not know its operation graph's tensors",
                      plan);
    if (p->tab->why[0])
        return refuse(why, wn, "plan %u: %s", plan, p->tab->why);
    if (!p->ws_known)
        return refuse(why, wn, "plan %u: its workspace size is not known", plan);
    if (!v || v->type != CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR || v->nuids != v->nptrs)
        return refuse(why, wn, "variant pack %u: %u unique IDs for %u data pointers", pack,
                      v ? v->nuids : 0, v ? v->nptrs : 0);
    const dnnm_table *t = p->tab;
    for (uint32_t i = 0; i < v->nuids; i++) {
        int64_t uid = v->uids[i];
        uint64_t ptr = v->ptrs[i];
        uint32_t k = 0;
        while (k < t->n && t->t[k].uid != uid)
            k++;
        if (k == t->n)
            return refuse(why, wn, "variant pack %u: tensor UID %lld is not in plan %u's graph",
                          pack, (long long)uid, plan);
        const dnnm_tensor *x = &t->t[k];
        int slot = (ptr & PROTO_DNN_BYVALUE_TAG) == PROTO_DNN_BYVALUE_TAG;
        if (x->byval) {
            if (ptr != (PROTO_DNN_BYVALUE_TAG | i))
                return refuse(why, wn,
                              "variant pack %u: by-value tensor UID %lld has a device pointer "
                              "%#llx, not a value",
                              pack, (long long)uid, (unsigned long long)ptr);
            if (x->bytes > PROTO_DNN_BYVALUE_SLOT)
                return refuse(why, wn,
                              "variant pack %u: by-value tensor UID %lld spans %llu bytes, more "
                              "than a value's %u",
                              pack, (long long)uid, (unsigned long long)x->bytes,
                              PROTO_DNN_BYVALUE_SLOT);
            continue;
        }
        if (slot)
            return refuse(why, wn,
                          "variant pack %u: tensor UID %lld is not by-value but was given a "
                          "host value",
                          pack, (long long)uid);
        /* a virtual tensor's pointer is not used; if one is given it is checked all the same */
        if ((ptr || !x->virt) && !in_range(arg, ptr, x->bytes))
            return refuse(why, wn,
                          "variant pack %u: tensor UID %lld [%#llx, +%llu) is not in this "
                          "session's memory",
                          pack, (long long)uid, (unsigned long long)ptr,
                          (unsigned long long)x->bytes);
    }
    if (p->ws && (!v->has_ws || !in_range(arg, v->wsptr, p->ws)))
        return refuse(why, wn,
                      "variant pack %u: workspace [%#llx, +%llu) (plan %u's size) is not in "
                      "this session's memory",
                      pack, (unsigned long long)v->wsptr, (unsigned long long)p->ws, plan);
    return 0;
}
