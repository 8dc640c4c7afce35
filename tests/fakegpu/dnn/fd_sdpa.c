/* fd_sdpa.c — the fake cuDNN's attention: SDPA_FWD operations and the matmul, pointwise and reduction graphs cudnn-frontend lowers attention to, run on the CPU on the handle's fake stream.
 *
 * PyTorch 2.11's cuDNN attention goes through cudnn-frontend 1.18, which builds one of two
 * operation graphs (seen with CUDNN_FRONTEND_LOG_INFO=1 on the fake GPU):
 *   - "unified": one CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR (Q, K, V, O, optional Stats
 *     and attention scale), when cuDNN is 9.13.1 or later and nothing but those is asked
 *     (no causal mask before cuDNN 9.21);
 *   - "composite": the same attention spelled out: a matmul Q K^T, pointwise ops (the scale,
 *     the causal mask as GEN_INDEX, CMP_GE and BINARY_SELECT against float's lowest), the
 *     softmax as reductions and pointwise ops (max, sub, exp, sum, log, add: the stats; div),
 *     and a second matmul with V. Intermediates are virtual tensors.
 * This file runs both: a graph is a list of those operations over tensors (device tensors
 * from the variant pack, virtual ones allocated here in their declared type, by-value scalars
 * read from the host pointer the pack gives at Execute, as cuDNN does). Operations run in
 * dependency order; math is in double, every stored value is rounded to its tensor's type (a
 * HALF virtual tensor, as the composite's probabilities are, is rounded as cuDNN rounds it).
 * Anything else (an unknown operation, mode or attribute, a shape it does not model) is
 * refused with CUDNN_STATUS_NOT_SUPPORTED and a reason, never run approximately. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cudnn.h>

#include "fakegpu_work.h"
#include "fd_dnn_int.h"

#define G_MAXT 64  /* tensors in one graph */
#define G_MAXOPS 48
#define G_MAXD 8

enum { T_DEV, T_VIRT, T_VALUE };

typedef struct gt {
    int64_t uid;
    int dt, nd, kind;
    int64_t dims[G_MAXD], strides[G_MAXD];
    void *ptr;    /* T_DEV: the pack's pointer; T_VIRT: allocated by the run */
    double value; /* T_VALUE: read at Execute */
} gt;

enum { OP_SDPA, OP_MATMUL, OP_POINTWISE, OP_REDUCTION };

typedef struct gop {
    int kind;
    int mode;     /* pointwise mode, reduction operator */
    int64_t axis; /* GEN_INDEX */
    int in[4];    /* tensor indexes, -1 when absent: SDPA Q K V scale; matmul A B; pointwise X B T */
    int out[2];   /* SDPA O Stats; others Y */
} gop;

typedef struct fd_graph {
    int nt, nops;
    gt t[G_MAXT];
    gop op[G_MAXOPS];
    int order[G_MAXOPS];
} fd_graph;

/* ------------------------------------------------------------- elements ---- */

static size_t dt_size(int dt)
{
    switch (dt) {
    case CUDNN_DATA_DOUBLE:
    case CUDNN_DATA_INT64:
        return 8;
    case CUDNN_DATA_FLOAT:
    case CUDNN_DATA_INT32:
        return 4;
    case CUDNN_DATA_HALF:
    case CUDNN_DATA_BFLOAT16:
        return 2;
    case CUDNN_DATA_BOOLEAN:
        return 1;
    default:
        return 0;
    }
}

static double gload(const void *p, int64_t i, int dt)
{
    switch (dt) {
    case CUDNN_DATA_INT32:
        return ((const int32_t *)p)[i];
    case CUDNN_DATA_INT64:
        return (double)((const int64_t *)p)[i];
    case CUDNN_DATA_BOOLEAN:
        return ((const uint8_t *)p)[i] != 0;
    default:
        return fd_load(p, i, dt);
    }
}

static void gstore(void *p, int64_t i, int dt, double v)
{
    switch (dt) {
    case CUDNN_DATA_INT32:
        ((int32_t *)p)[i] = (int32_t)v;
        break;
    case CUDNN_DATA_INT64:
        ((int64_t *)p)[i] = (int64_t)v;
        break;
    case CUDNN_DATA_BOOLEAN:
        ((uint8_t *)p)[i] = v != 0;
        break;
    default:
        fd_store(p, i, dt, v);
    }
}

/* ------------------------------------------------------ building a graph ---- */

static int64_t int64_of(fd_desc *d, int name, int64_t def)
{
    int type;
    int64_t n;
    const void *v = fd_attr_get(d, name, &type, &n);
    if (!v || n != 1)
        return def;
    if (type == CUDNN_TYPE_INT64)
        return *(const int64_t *)v;
    if (type == CUDNN_TYPE_BOOLEAN)
        return *(const _Bool *)v;
    if (type == CUDNN_TYPE_INT32 || type == CUDNN_TYPE_DATA_TYPE ||
        type == CUDNN_TYPE_POINTWISE_MODE || type == CUDNN_TYPE_REDUCTION_OPERATOR_TYPE)
        return *(const int32_t *)v;
    return def;
}

/* The index of tensor descriptor td in g (added on first sight, by UID), or -1 with *why. */
static int tensor_add(fd_graph *g, fd_desc *td, const char **why)
{
    if (!td || fd_desc_type(td) != CUDNN_BACKEND_TENSOR_DESCRIPTOR) {
        *why = "an operation's tensor is not a tensor descriptor";
        return -1;
    }
    int type;
    int64_t nd, ns;
    const int64_t *dims = fd_attr_get(td, CUDNN_ATTR_TENSOR_DIMENSIONS, &type, &nd);
    const int64_t *strides = fd_attr_get(td, CUDNN_ATTR_TENSOR_STRIDES, &type, &ns);
    int64_t uid = int64_of(td, CUDNN_ATTR_TENSOR_UNIQUE_ID, -1);
    int dt = (int)int64_of(td, CUDNN_ATTR_TENSOR_DATA_TYPE, -1);
    if (!dims || !strides || nd != ns || nd < 1 || nd > G_MAXD || uid < 0) {
        *why = "a tensor without dimensions, strides or UID";
        return -1;
    }
    if (!dt_size(dt)) {
        *why = "a tensor of a data type the double does not model";
        return -1;
    }
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].uid == uid)
            return i;
    if (g->nt == G_MAXT) {
        *why = "more tensors than the double models";
        return -1;
    }
    gt *t = &g->t[g->nt];
    memset(t, 0, sizeof *t);
    t->uid = uid;
    t->dt = dt;
    t->nd = (int)nd;
    for (int i = 0; i < nd; i++) {
        if (dims[i] < 1 || strides[i] < 0) {
            *why = "a tensor with an empty dimension or a negative stride";
            return -1;
        }
        t->dims[i] = dims[i];
        t->strides[i] = strides[i];
    }
    t->kind = int64_of(td, CUDNN_ATTR_TENSOR_IS_BY_VALUE, 0) ? T_VALUE
              : int64_of(td, CUDNN_ATTR_TENSOR_IS_VIRTUAL, 0) ? T_VIRT
                                                              : T_DEV;
    if (int64_of(td, CUDNN_ATTR_TENSOR_VECTOR_COUNT, 1) != 1) {
        *why = "a vectorized tensor";
        return -1;
    }
    return g->nt++;
}

/* The tensor of attribute name of op d (required or not): its index, -1 when absent and
 * optional; -2 with *why on an error. */
static int op_tensor(fd_graph *g, fd_desc *d, int name, int required, const char **why)
{
    fd_desc *td = fd_attr_desc(d, name);
    if (!td) {
        if (required) {
            *why = "an operation lacks a required tensor";
            return -2;
        }
        return -1;
    }
    int i = tensor_add(g, td, why);
    return i < 0 ? -2 : i;
}

static int pw_binary(int mode)
{
    switch (mode) {
    case CUDNN_POINTWISE_ADD:
    case CUDNN_POINTWISE_SUB:
    case CUDNN_POINTWISE_MUL:
    case CUDNN_POINTWISE_DIV:
    case CUDNN_POINTWISE_MAX:
    case CUDNN_POINTWISE_MIN:
    case CUDNN_POINTWISE_POW:
    case CUDNN_POINTWISE_CMP_EQ:
    case CUDNN_POINTWISE_CMP_NEQ:
    case CUDNN_POINTWISE_CMP_GT:
    case CUDNN_POINTWISE_CMP_GE:
    case CUDNN_POINTWISE_CMP_LT:
    case CUDNN_POINTWISE_CMP_LE:
    case CUDNN_POINTWISE_LOGICAL_AND:
    case CUDNN_POINTWISE_LOGICAL_OR:
        return 1;
    default:
        return 0;
    }
}

static int pw_unary(int mode)
{
    switch (mode) {
    case CUDNN_POINTWISE_EXP:
    case CUDNN_POINTWISE_LOG:
    case CUDNN_POINTWISE_NEG:
    case CUDNN_POINTWISE_ABS:
    case CUDNN_POINTWISE_SQRT:
    case CUDNN_POINTWISE_RSQRT:
    case CUDNN_POINTWISE_RECIPROCAL:
    case CUDNN_POINTWISE_IDENTITY:
    case CUDNN_POINTWISE_TANH_FWD:
    case CUDNN_POINTWISE_SIGMOID_FWD:
    case CUDNN_POINTWISE_GELU_FWD:
    case CUDNN_POINTWISE_GELU_APPROX_TANH_FWD:
    case CUDNN_POINTWISE_ERF:
    case CUDNN_POINTWISE_LOGICAL_NOT:
    case CUDNN_POINTWISE_GEN_INDEX:
        return 1;
    default:
        return 0;
    }
}

/* 1 when attribute name of d is unset or the scalar 1 (the only value modeled). */
static int unit_or_unset(fd_desc *d, int name)
{
    int type;
    int64_t n;
    const void *v = fd_attr_get(d, name, &type, &n);
    if (!v)
        return 1;
    if (n != 1)
        return 0;
    if (type == CUDNN_TYPE_FLOAT)
        return *(const float *)v == 1.0f;
    if (type == CUDNN_TYPE_DOUBLE)
        return *(const double *)v == 1.0;
    return 0;
}

static int op_add(fd_graph *g, fd_desc *d, const char **why)
{
    gop *o = &g->op[g->nops];
    memset(o, 0, sizeof *o);
    for (int i = 0; i < 4; i++)
        o->in[i] = -1;
    o->out[0] = o->out[1] = -1;
    int type;
    int64_t n;
#define T_(slot, name, req)                                                                        \
    if (((slot) = op_tensor(g, d, (name), (req), why)) == -2)                                      \
        return -1;
    switch (fd_desc_type(d)) {
    case CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR: {
        static const int unmodeled[] = {
            CUDNN_ATTR_OPERATION_SDPA_FWD_BLOCK_MASK_DESC,
            CUDNN_ATTR_OPERATION_SDPA_FWD_PAGE_TABLE_KDESC,
            CUDNN_ATTR_OPERATION_SDPA_FWD_PAGE_TABLE_VDESC,
            CUDNN_ATTR_OPERATION_SDPA_FWD_SEQ_LEN_QDESC,
            CUDNN_ATTR_OPERATION_SDPA_FWD_SEQ_LEN_KVDESC,
        };
        for (size_t i = 0; i < sizeof unmodeled / sizeof unmodeled[0]; i++)
            if (fd_attr_get(d, unmodeled[i], &type, &n)) {
                *why = "SDPA_FWD with a block mask, paged K/V or sequence lengths";
                return -1;
            }
        o->kind = OP_SDPA;
        T_(o->in[0], CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, 1)
        T_(o->in[1], CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC, 1)
        T_(o->in[2], CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, 1)
        T_(o->in[3], CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC, 0)
        T_(o->out[0], CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC, 1)
        T_(o->out[1], CUDNN_ATTR_OPERATION_SDPA_FWD_STATSDESC, 0)
        break;
    }
    case CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR:
        if (fd_attr_get(d, CUDNN_ATTR_OPERATION_MATMUL_GEMM_M_OVERRIDE_DESC, &type, &n) ||
            fd_attr_get(d, CUDNN_ATTR_OPERATION_MATMUL_GEMM_N_OVERRIDE_DESC, &type, &n) ||
            fd_attr_get(d, CUDNN_ATTR_OPERATION_MATMUL_GEMM_K_OVERRIDE_DESC, &type, &n)) {
            *why = "a matmul with M/N/K overrides (ragged sequences)";
            return -1;
        }
        o->kind = OP_MATMUL;
        T_(o->in[0], CUDNN_ATTR_OPERATION_MATMUL_ADESC, 1)
        T_(o->in[1], CUDNN_ATTR_OPERATION_MATMUL_BDESC, 1)
        T_(o->out[0], CUDNN_ATTR_OPERATION_MATMUL_CDESC, 1)
        break;
    case CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR: {
        fd_desc *pw = fd_attr_desc(d, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR);
        if (!pw) {
            *why = "a pointwise operation without its descriptor";
            return -1;
        }
        if (fd_attr_get(d, CUDNN_ATTR_OPERATION_POINTWISE_DXDESC, &type, &n) ||
            fd_attr_get(d, CUDNN_ATTR_OPERATION_POINTWISE_DYDESC, &type, &n) ||
            !unit_or_unset(d, CUDNN_ATTR_OPERATION_POINTWISE_ALPHA1) ||
            !unit_or_unset(d, CUDNN_ATTR_OPERATION_POINTWISE_ALPHA2)) {
            *why = "a backward pointwise operation or one with alpha scales";
            return -1;
        }
        o->kind = OP_POINTWISE;
        o->mode = (int)int64_of(pw, CUDNN_ATTR_POINTWISE_MODE, -1);
        o->axis = int64_of(pw, CUDNN_ATTR_POINTWISE_AXIS, -1);
        T_(o->in[0], CUDNN_ATTR_OPERATION_POINTWISE_XDESC, 1)
        T_(o->in[1], CUDNN_ATTR_OPERATION_POINTWISE_BDESC, 0)
        T_(o->in[2], CUDNN_ATTR_OPERATION_POINTWISE_TDESC, 0)
        T_(o->out[0], CUDNN_ATTR_OPERATION_POINTWISE_YDESC, 1)
        int ok = o->mode == CUDNN_POINTWISE_BINARY_SELECT ? o->in[1] >= 0 && o->in[2] >= 0
                 : pw_binary(o->mode)                     ? o->in[1] >= 0 && o->in[2] < 0
                 : pw_unary(o->mode)                      ? o->in[1] < 0 && o->in[2] < 0
                                                          : 0;
        if (!ok) {
            *why = "a pointwise mode the double does not model, or its inputs do not fit it";
            return -1;
        }
        if (o->mode == CUDNN_POINTWISE_GEN_INDEX &&
            (o->axis < 0 || o->axis >= g->t[o->out[0]].nd)) {
            *why = "GEN_INDEX without a valid axis";
            return -1;
        }
        break;
    }
    case CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR: {
        fd_desc *rd = fd_attr_desc(d, CUDNN_ATTR_OPERATION_REDUCTION_DESC);
        if (!rd) {
            *why = "a reduction without its descriptor";
            return -1;
        }
        o->kind = OP_REDUCTION;
        o->mode = (int)int64_of(rd, CUDNN_ATTR_REDUCTION_OPERATOR, -1);
        if (o->mode != CUDNN_REDUCE_TENSOR_ADD && o->mode != CUDNN_REDUCE_TENSOR_MAX &&
            o->mode != CUDNN_REDUCE_TENSOR_MIN && o->mode != CUDNN_REDUCE_TENSOR_MUL &&
            o->mode != CUDNN_REDUCE_TENSOR_AMAX && o->mode != CUDNN_REDUCE_TENSOR_AVG) {
            *why = "a reduction operator the double does not model";
            return -1;
        }
        T_(o->in[0], CUDNN_ATTR_OPERATION_REDUCTION_XDESC, 1)
        T_(o->out[0], CUDNN_ATTR_OPERATION_REDUCTION_YDESC, 1)
        break;
    }
    default:
        *why = "an operation type the double does not run in a graph";
        return -1;
    }
#undef T_
    g->nops++;
    return 0;
}

/* 1 when every dimension of a is 1, equal to y's, or (batch dimensions of a matmul or SDPA)
 * divides y's: grouped K/V heads. */
static int fits(const gt *a, const gt *y, int upto, int grouped)
{
    if (a->kind == T_VALUE)
        return 1;
    if (a->nd != y->nd)
        return 0;
    for (int i = 0; i < upto; i++)
        if (a->dims[i] != 1 && a->dims[i] != y->dims[i] &&
            !(grouped && y->dims[i] % a->dims[i] == 0))
            return 0;
    return 1;
}

static int shapes_ok(const fd_graph *g, const gop *o, const char **why)
{
    const gt *t = g->t;
    switch (o->kind) {
    case OP_SDPA: {
        const gt *q = &t[o->in[0]], *k = &t[o->in[1]], *v = &t[o->in[2]], *out = &t[o->out[0]];
        int ok = q->nd == 4 && k->nd == 4 && v->nd == 4 && out->nd == 4 &&
                 q->dims[0] == k->dims[0] && k->dims[0] == v->dims[0] &&
                 out->dims[0] == q->dims[0] && out->dims[1] == q->dims[1] &&
                 out->dims[2] == q->dims[2] && out->dims[3] == v->dims[3] &&
                 k->dims[1] == v->dims[1] && q->dims[1] % k->dims[1] == 0 &&
                 k->dims[2] == v->dims[2] && k->dims[3] == q->dims[3];
        if (ok && o->out[1] >= 0) {
            const gt *st = &t[o->out[1]];
            ok = st->nd == 4 && st->dims[0] == q->dims[0] && st->dims[1] == q->dims[1] &&
                 st->dims[2] == q->dims[2] && st->dims[3] == 1;
        }
        if (ok && o->in[3] >= 0) {
            const gt *sc = &t[o->in[3]];
            for (int i = 0; i < sc->nd; i++)
                ok &= sc->dims[i] == 1;
        }
        if (!ok)
            *why = "SDPA_FWD tensors of shapes the double does not model";
        return ok;
    }
    case OP_MATMUL: {
        const gt *a = &t[o->in[0]], *b = &t[o->in[1]], *c = &t[o->out[0]];
        int nd = c->nd;
        int ok = nd >= 2 && a->kind != T_VALUE && b->kind != T_VALUE && fits(a, c, nd - 2, 1) &&
                 fits(b, c, nd - 2, 1) && a->dims[nd - 2] == c->dims[nd - 2] &&
                 b->dims[nd - 1] == c->dims[nd - 1] && a->dims[nd - 1] == b->dims[nd - 2];
        if (!ok)
            *why = "matmul tensors whose shapes do not multiply";
        return ok;
    }
    case OP_POINTWISE: {
        const gt *y = &t[o->out[0]];
        for (int i = 0; i < 3; i++)
            if (o->in[i] >= 0 && !fits(&t[o->in[i]], y, y->nd, 0)) {
                *why = "a pointwise input that does not broadcast to its output";
                return 0;
            }
        return 1;
    }
    case OP_REDUCTION: {
        const gt *x = &t[o->in[0]], *y = &t[o->out[0]];
        int ok = x->nd == y->nd && x->kind != T_VALUE;
        for (int i = 0; ok && i < y->nd; i++)
            ok = y->dims[i] == 1 || y->dims[i] == x->dims[i];
        if (!ok)
            *why = "a reduction whose output is not its input with reduced dimensions";
        return ok;
    }
    }
    return 0;
}

/* Reads the graph g into out: 0, or -1 with *why. */
static int graph_build(fd_desc *gd, fd_graph *g, const char **why)
{
    g->nt = g->nops = 0;
    int type;
    int64_t n;
    fd_desc *const *ops = fd_attr_get(gd, CUDNN_ATTR_OPERATIONGRAPH_OPS, &type, &n);
    if (!ops || type != CUDNN_TYPE_BACKEND_DESCRIPTOR || n < 1) {
        *why = "an operation graph without operations";
        return -1;
    }
    if (n > G_MAXOPS) {
        *why = "more operations than the double models";
        return -1;
    }
    for (int64_t i = 0; i < n; i++)
        if (op_add(g, ops[i], why))
            return -1;
    for (int i = 0; i < g->nops; i++)
        if (!shapes_ok(g, &g->op[i], why))
            return -1;
    /* dependency order: an op runs once every virtual tensor it reads has been written; each
     * virtual tensor has exactly one writer, device tensors are never read before written */
    int writer[G_MAXT];
    for (int i = 0; i < g->nt; i++)
        writer[i] = -1;
    for (int i = 0; i < g->nops; i++)
        for (int j = 0; j < 2; j++) {
            int o = g->op[i].out[j];
            if (o < 0)
                continue;
            if (writer[o] >= 0 || g->t[o].kind == T_VALUE) {
                *why = "a tensor written twice, or a by-value tensor written";
                return -1;
            }
            writer[o] = i;
        }
    int done[G_MAXOPS] = {0}, avail[G_MAXT];
    for (int i = 0; i < g->nt; i++)
        avail[i] = writer[i] < 0;
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].kind == T_VIRT && writer[i] < 0) {
            *why = "a virtual tensor no operation writes";
            return -1;
        }
    for (int k = 0; k < g->nops; k++) {
        int pick = -1;
        for (int i = 0; i < g->nops && pick < 0; i++) {
            if (done[i])
                continue;
            int ready = 1;
            for (int j = 0; j < 4; j++)
                if (g->op[i].in[j] >= 0 && !avail[g->op[i].in[j]])
                    ready = 0;
            if (ready)
                pick = i;
        }
        if (pick < 0) {
            *why = "an operation graph with a cycle";
            return -1;
        }
        done[pick] = 1;
        g->order[k] = pick;
        for (int j = 0; j < 2; j++)
            if (g->op[pick].out[j] >= 0)
                avail[g->op[pick].out[j]] = 1;
    }
    return 0;
}

int fd_graph_supported(fd_desc *gd, const char **why)
{
    fd_graph *g = malloc(sizeof *g); /* freed below */
    if (!g) {
        *why = "out of memory";
        return 0;
    }
    int ok = graph_build(gd, g, why) == 0;
    free(g);
    return ok;
}

/* ------------------------------------------------------------- running it ---- */

static int64_t span(const gt *t)
{
    int64_t s = 1;
    for (int i = 0; i < t->nd; i++)
        s += (t->dims[i] - 1) * t->strides[i];
    return s;
}

static double at(const gt *t, int64_t off)
{
    return t->kind == T_VALUE ? t->value : gload(t->ptr, off, t->dt);
}

/* The element offset in a of the output coordinate c (of y's dims): broadcast dimensions
 * read index 0, grouped ones index c * a / y. */
static int64_t off_of(const gt *a, const gt *y, const int64_t *c, int upto)
{
    if (a->kind == T_VALUE)
        return 0;
    int64_t off = 0;
    for (int i = 0; i < upto; i++)
        off += (a->dims[i] == 1 ? 0 : c[i] * a->dims[i] / y->dims[i]) * a->strides[i];
    return off;
}

static void coords(const gt *y, int64_t lin, int64_t *c)
{
    for (int i = y->nd - 1; i >= 0; i--) {
        c[i] = lin % y->dims[i];
        lin /= y->dims[i];
    }
}

static int64_t count(const gt *y)
{
    int64_t n = 1;
    for (int i = 0; i < y->nd; i++)
        n *= y->dims[i];
    return n;
}

static double gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }

static double pw(int mode, double x, double b, double t, const int64_t *c, int64_t axis)
{
    switch (mode) {
    case CUDNN_POINTWISE_ADD: return x + b;
    case CUDNN_POINTWISE_SUB: return x - b;
    case CUDNN_POINTWISE_MUL: return x * b;
    case CUDNN_POINTWISE_DIV: return x / b;
    case CUDNN_POINTWISE_MAX: return fmax(x, b);
    case CUDNN_POINTWISE_MIN: return fmin(x, b);
    case CUDNN_POINTWISE_POW: return pow(x, b);
    case CUDNN_POINTWISE_CMP_EQ: return x == b;
    case CUDNN_POINTWISE_CMP_NEQ: return x != b;
    case CUDNN_POINTWISE_CMP_GT: return x > b;
    case CUDNN_POINTWISE_CMP_GE: return x >= b;
    case CUDNN_POINTWISE_CMP_LT: return x < b;
    case CUDNN_POINTWISE_CMP_LE: return x <= b;
    case CUDNN_POINTWISE_LOGICAL_AND: return x != 0 && b != 0;
    case CUDNN_POINTWISE_LOGICAL_OR: return x != 0 || b != 0;
    case CUDNN_POINTWISE_LOGICAL_NOT: return x == 0;
    case CUDNN_POINTWISE_EXP: return exp(x);
    case CUDNN_POINTWISE_LOG: return log(x);
    case CUDNN_POINTWISE_NEG: return -x;
    case CUDNN_POINTWISE_ABS: return fabs(x);
    case CUDNN_POINTWISE_SQRT: return sqrt(x);
    case CUDNN_POINTWISE_RSQRT: return 1 / sqrt(x);
    case CUDNN_POINTWISE_RECIPROCAL: return 1 / x;
    case CUDNN_POINTWISE_IDENTITY: return x;
    case CUDNN_POINTWISE_TANH_FWD: return tanh(x);
    case CUDNN_POINTWISE_SIGMOID_FWD: return 1 / (1 + exp(-x));
    case CUDNN_POINTWISE_GELU_FWD: return gelu(x);
    case CUDNN_POINTWISE_GELU_APPROX_TANH_FWD:
        return 0.5 * x * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
    case CUDNN_POINTWISE_ERF: return erf(x);
    case CUDNN_POINTWISE_GEN_INDEX: return (double)c[axis];
    case CUDNN_POINTWISE_BINARY_SELECT: return t != 0 ? x : b; /* frontend: (x, b, mask) */
    default: return NAN;
    }
}

static void run_pointwise(fd_graph *g, const gop *o)
{
    const gt *y = &g->t[o->out[0]];
    const gt *x = &g->t[o->in[0]];
    const gt *b = o->in[1] >= 0 ? &g->t[o->in[1]] : NULL;
    const gt *t = o->in[2] >= 0 ? &g->t[o->in[2]] : NULL;
    int64_t c[G_MAXD], n = count(y);
    for (int64_t e = 0; e < n; e++) {
        coords(y, e, c);
        double xv = at(x, off_of(x, y, c, y->nd));
        double bv = b ? at(b, off_of(b, y, c, y->nd)) : 0;
        double tv = t ? at(t, off_of(t, y, c, y->nd)) : 0;
        gstore(y->ptr, off_of(y, y, c, y->nd), y->dt, pw(o->mode, xv, bv, tv, c, o->axis));
    }
}

static void run_reduction(fd_graph *g, const gop *o)
{
    const gt *x = &g->t[o->in[0]], *y = &g->t[o->out[0]];
    int64_t ny = count(y), nx = count(x), c[G_MAXD];
    double *acc = malloc((size_t)ny * sizeof *acc); /* freed below */
    if (!acc)
        return;
    double init = o->mode == CUDNN_REDUCE_TENSOR_MAX ? -INFINITY
                  : o->mode == CUDNN_REDUCE_TENSOR_MIN ? INFINITY
                  : o->mode == CUDNN_REDUCE_TENSOR_MUL ? 1
                                                       : 0;
    for (int64_t i = 0; i < ny; i++)
        acc[i] = init;
    for (int64_t e = 0; e < nx; e++) {
        coords(x, e, c);
        int64_t yi = 0;
        for (int i = 0; i < y->nd; i++)
            yi = yi * y->dims[i] + (y->dims[i] == 1 ? 0 : c[i]);
        double v = gload(x->ptr, off_of(x, x, c, x->nd), x->dt);
        switch (o->mode) {
        case CUDNN_REDUCE_TENSOR_MAX: acc[yi] = fmax(acc[yi], v); break;
        case CUDNN_REDUCE_TENSOR_MIN: acc[yi] = fmin(acc[yi], v); break;
        case CUDNN_REDUCE_TENSOR_MUL: acc[yi] *= v; break;
        case CUDNN_REDUCE_TENSOR_AMAX: acc[yi] = fmax(acc[yi], fabs(v)); break;
        default: acc[yi] += v; break;
        }
    }
    double per = (double)nx / (double)ny;
    for (int64_t e = 0; e < ny; e++) {
        coords(y, e, c);
        double v = o->mode == CUDNN_REDUCE_TENSOR_AVG ? acc[e] / per : acc[e];
        gstore(y->ptr, off_of(y, y, c, y->nd), y->dt, v);
    }
    free(acc);
}

static void run_matmul(fd_graph *g, const gop *o)
{
    const gt *a = &g->t[o->in[0]], *b = &g->t[o->in[1]], *cc = &g->t[o->out[0]];
    int nd = cc->nd;
    int64_t M = cc->dims[nd - 2], N = cc->dims[nd - 1], K = a->dims[nd - 1];
    int64_t batches = count(cc) / (M * N), c[G_MAXD] = {0};
    for (int64_t bi = 0; bi < batches; bi++) {
        int64_t rem = bi;
        for (int i = nd - 3; i >= 0; i--) {
            c[i] = rem % cc->dims[i];
            rem /= cc->dims[i];
        }
        int64_t ao = off_of(a, cc, c, nd - 2), bo = off_of(b, cc, c, nd - 2);
        int64_t co = off_of(cc, cc, c, nd - 2);
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += gload(a->ptr, ao + m * a->strides[nd - 2] + k * a->strides[nd - 1], a->dt) *
                         gload(b->ptr, bo + k * b->strides[nd - 2] + n * b->strides[nd - 1], b->dt);
                gstore(cc->ptr, co + m * cc->strides[nd - 2] + n * cc->strides[nd - 1], cc->dt, s);
            }
    }
}

/* softmax(scale * Q K^T) V per batch and head, and the stats (max + log of the sum of
 * exponentials, natural log) when asked; the probabilities are rounded to O's type before
 * the second product, as the fused kernel's are. */
static void run_sdpa(fd_graph *g, const gop *o)
{
    const gt *q = &g->t[o->in[0]], *k = &g->t[o->in[1]], *v = &g->t[o->in[2]];
    const gt *out = &g->t[o->out[0]], *st = o->out[1] >= 0 ? &g->t[o->out[1]] : NULL;
    double scale = o->in[3] >= 0 ? at(&g->t[o->in[3]], 0) : 1.0;
    int64_t B = q->dims[0], H = q->dims[1], Sq = q->dims[2], D = q->dims[3];
    int64_t Hk = k->dims[1], Skv = k->dims[2], Dv = v->dims[3];
    double *p = malloc((size_t)Skv * sizeof *p); /* freed below */
    if (!p)
        return;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            int64_t hk = h / (H / Hk);
            for (int64_t i = 0; i < Sq; i++) {
                double mx = -INFINITY, sum = 0;
                int64_t qo = b * q->strides[0] + h * q->strides[1] + i * q->strides[2];
                for (int64_t j = 0; j < Skv; j++) {
                    int64_t ko = b * k->strides[0] + hk * k->strides[1] + j * k->strides[2];
                    double s = 0;
                    for (int64_t d = 0; d < D; d++)
                        s += gload(q->ptr, qo + d * q->strides[3], q->dt) *
                             gload(k->ptr, ko + d * k->strides[3], k->dt);
                    p[j] = s * scale;
                    mx = fmax(mx, p[j]);
                }
                for (int64_t j = 0; j < Skv; j++) {
                    p[j] = exp(p[j] - mx);
                    sum += p[j];
                }
                for (int64_t j = 0; j < Skv; j++) {
                    double pj = p[j] / sum;
                    if (out->dt == CUDNN_DATA_HALF || out->dt == CUDNN_DATA_BFLOAT16) {
                        uint16_t r;
                        fd_store(&r, 0, out->dt, pj);
                        pj = fd_load(&r, 0, out->dt);
                    }
                    p[j] = pj;
                }
                for (int64_t d = 0; d < Dv; d++) {
                    double s = 0;
                    for (int64_t j = 0; j < Skv; j++)
                        s += p[j] * gload(v->ptr, b * v->strides[0] + hk * v->strides[1] +
                                                      j * v->strides[2] + d * v->strides[3],
                                          v->dt);
                    gstore(out->ptr, b * out->strides[0] + h * out->strides[1] +
                                         i * out->strides[2] + d * out->strides[3],
                           out->dt, s);
                }
                if (st)
                    gstore(st->ptr, b * st->strides[0] + h * st->strides[1] + i * st->strides[2],
                           st->dt, mx + log(sum));
            }
        }
    free(p);
}

static int graph_run(void *arg)
{
    fd_graph *g = arg;
    if (!fg_work_compute())
        return 0;
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].kind == T_VIRT &&
            !(g->t[i].ptr = calloc((size_t)span(&g->t[i]), dt_size(g->t[i].dt))))
            return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
    for (int k = 0; k < g->nops; k++) {
        const gop *o = &g->op[g->order[k]];
        switch (o->kind) {
        case OP_SDPA: run_sdpa(g, o); break;
        case OP_MATMUL: run_matmul(g, o); break;
        case OP_POINTWISE: run_pointwise(g, o); break;
        case OP_REDUCTION: run_reduction(g, o); break;
        }
    }
    return 0;
}

static void graph_free(void *arg)
{
    fd_graph *g = arg;
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].kind == T_VIRT)
            free(g->t[i].ptr);
    free(g);
}

cudnnStatus_t fd_graph_execute(void *stream, fd_desc *gd, fd_desc *pack)
{
    fd_graph *g = calloc(1, sizeof *g); /* freed by graph_free once the work ran */
    if (!g)
        return CUDNN_STATUS_ALLOC_FAILED;
    const char *why = NULL;
    if (graph_build(gd, g, &why)) {
        fprintf(stderr, "fake cuDNN: cannot execute the operation graph: %s\n", why);
        free(g);
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
    double flops = 0;
    for (int i = 0; i < g->nt; i++) {
        gt *t = &g->t[i];
        if (t->kind == T_VIRT)
            continue;
        void *p = fd_pack_ptr(pack, t->uid);
        if (!p) {
            fprintf(stderr, "fake cuDNN: the variant pack has no pointer for tensor %lld\n",
                    (long long)t->uid);
            free(g);
            return CUDNN_STATUS_BAD_PARAM;
        }
        if (t->kind == T_VALUE) /* read now, from the host, as cuDNN reads it at Execute */
            t->value = gload(p, 0, t->dt);
        else
            t->ptr = p;
    }
    for (int i = 0; i < g->nops; i++) {
        const gop *o = &g->op[i];
        if (o->kind == OP_MATMUL) {
            const gt *c = &g->t[o->out[0]];
            flops += 2.0 * (double)count(c) * (double)g->t[o->in[0]].dims[c->nd - 1];
        } else if (o->kind == OP_SDPA) {
            const gt *q = &g->t[o->in[0]], *k = &g->t[o->in[1]], *v = &g->t[o->in[2]];
            flops += 2.0 * (double)count(q) * (double)k->dims[2] +
                     2.0 * (double)(count(q) / q->dims[3]) * (double)k->dims[2] * (double)v->dims[3];
        }
    }
    int dt = g->t[g->op[0].in[0]].dt;
    fg_cost cost = {.kind = FG_COST_GEMM,
                    .dtype = dt == CUDNN_DATA_HALF || dt == CUDNN_DATA_BFLOAT16 ? FG_DT_F16
                                                                                : FG_DT_F32,
                    .flops = flops};
    int r = fg_work_submit(stream, graph_run, g, graph_free, &cost);
    return r ? CUDNN_STATUS_EXECUTION_FAILED : CUDNN_STATUS_SUCCESS;
}
