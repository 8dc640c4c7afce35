/* test_fakesdpa.c — the fake cuDNN's attention graphs (fd_sdpa.c) against a direct reference: one SDPA_FWD operation (grouped K/V heads, stats, a by-value scale read at Execute), the composite causal graph cudnn-frontend builds, and refusals. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cudnn.h>

#include "fakegpu_work.h"

#define OK(call) cr_assert_eq((call), CUDNN_STATUS_SUCCESS, "%s", #call)

static cudnnBackendDescriptor_t make(cudnnBackendDescriptorType_t t)
{
    cudnnBackendDescriptor_t d;
    OK(cudnnBackendCreateDescriptor(t, &d));
    return d;
}

static void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t a,
                cudnnBackendAttributeType_t t, int64_t n, const void *v)
{
    cr_assert_eq(cudnnBackendSetAttribute(d, a, t, n, v), CUDNN_STATUS_SUCCESS, "attribute %d",
                 (int)a);
}

static void set_desc(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t a,
                     cudnnBackendDescriptor_t v)
{
    set(d, a, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &v);
}

/* A 4-d tensor; strides NULL: packed row-major. */
static cudnnBackendDescriptor_t tensor(int64_t uid, cudnnDataType_t dt, int64_t d0, int64_t d1,
                                       int64_t d2, int64_t d3, const int64_t *strides, int virt,
                                       int byval)
{
    int64_t dims[4] = {d0, d1, d2, d3}, st[4] = {d1 * d2 * d3, d2 * d3, d3, 1};
    if (strides)
        memcpy(st, strides, sizeof st);
    cudnnBackendDescriptor_t d = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    _Bool v = virt, b = byval;
    int64_t align = 16;
    set(d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
    set(d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
    set(d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, st);
    set(d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
    set(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
    set(d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &v);
    if (byval)
        set(d, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &b);
    OK(cudnnBackendFinalize(d));
    return d;
}

/* Graph of ops, heuristics, engine config, plan: as cudnn-frontend builds them. The graph's
 * finalize status is returned; on success *plan is ready. */
static cudnnStatus_t plan_of(cudnnHandle_t h, cudnnBackendDescriptor_t *ops, int n,
                             cudnnBackendDescriptor_t *plan)
{
    cudnnBackendDescriptor_t g = make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    set(g, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
    set(g, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, n, ops);
    cudnnStatus_t st = cudnnBackendFinalize(g);
    if (st)
        return st;
    cudnnBackendDescriptor_t heur = make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    cudnnBackendHeurMode_t hm = CUDNN_HEUR_MODE_A;
    set_desc(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, g);
    set(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &hm);
    OK(cudnnBackendFinalize(heur));
    int64_t count;
    cudnnBackendDescriptor_t cfg = make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    OK(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                1, &count, &cfg));
    *plan = make(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    set(*plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
    set_desc(*plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfg);
    OK(cudnnBackendFinalize(*plan));
    return CUDNN_STATUS_SUCCESS;
}

static cudnnBackendDescriptor_t pack_of(int n, const int64_t *uids, void **ptrs)
{
    cudnnBackendDescriptor_t pack = make(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    void *ws = NULL;
    set(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n, uids);
    set(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n, ptrs);
    set(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
    OK(cudnnBackendFinalize(pack));
    return pack;
}

static double rnd(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return ((double)((*seed >> 8) & 0xffff) / 32768.0) - 1.0;
}

static float h2f(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023;
    float v = e ? ldexpf((float)(m | 1024), (int)e - 25) : ldexpf((float)m, -24);
    return s ? -v : v;
}

static uint16_t f2h(float f) /* inputs only: normal range, truncation is fine */
{
    uint32_t b;
    memcpy(&b, &f, 4);
    uint32_t s = (b >> 16) & 0x8000;
    int e = (int)((b >> 23) & 255) - 112;
    if (e <= 0)
        return (uint16_t)s;
    return (uint16_t)(s | ((uint32_t)e << 10) | ((b >> 13) & 1023));
}

/* softmax(scale q k^T [causal]) v and the log-sum-exp of row i, in double. */
static void ref_row(const double *q, const double *k, const double *v, int64_t skv, int64_t d,
                    double scale, int64_t causal_row, double *o, double *lse)
{
    double s[64], mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < skv; j++) {
        s[j] = 0;
        for (int64_t e = 0; e < d; e++)
            s[j] += q[e] * k[j * d + e];
        s[j] *= scale;
        if (causal_row >= 0 && j > causal_row)
            s[j] = -INFINITY;
        mx = fmax(mx, s[j]);
    }
    for (int64_t j = 0; j < skv; j++)
        sum += s[j] = exp(s[j] - mx);
    for (int64_t e = 0; e < d; e++) {
        o[e] = 0;
        for (int64_t j = 0; j < skv; j++)
            o[e] += s[j] / sum * v[j * d + e];
    }
    *lse = mx + log(sum);
}

/* One SDPA_FWD operation in fp16: 2 query heads sharing 1 K/V head, Sq 5, Skv 7, D 8, with
 * stats and a by-value scale whose value changes between the pack's set-up and Execute (cuDNN
 * reads it at Execute). */
Test(fakesdpa, sdpa_fwd_gqa_stats_byvalue_scale)
{
    enum { H = 2, SQ = 5, SKV = 7, D = 8 };
    cudnnHandle_t h;
    OK(cudnnCreate(&h));
    cudnnBackendDescriptor_t Q = tensor(1, CUDNN_DATA_HALF, 1, H, SQ, D, NULL, 0, 0);
    cudnnBackendDescriptor_t K = tensor(2, CUDNN_DATA_HALF, 1, 1, SKV, D, NULL, 0, 0);
    cudnnBackendDescriptor_t V = tensor(3, CUDNN_DATA_HALF, 1, 1, SKV, D, NULL, 0, 0);
    cudnnBackendDescriptor_t O = tensor(4, CUDNN_DATA_HALF, 1, H, SQ, D, NULL, 0, 0);
    cudnnBackendDescriptor_t S = tensor(5, CUDNN_DATA_FLOAT, 1, H, SQ, 1, NULL, 0, 0);
    cudnnBackendDescriptor_t C = tensor(6, CUDNN_DATA_FLOAT, 1, 1, 1, 1, NULL, 0, 1);
    cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, Q);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC, K);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, V);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC, O);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_STATSDESC, S);
    set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC, C);
    OK(cudnnBackendFinalize(op));
    cudnnBackendDescriptor_t plan;
    OK(plan_of(h, &op, 1, &plan));

    uint16_t q[H * SQ * D], k[SKV * D], v[SKV * D], o[H * SQ * D];
    float stats[H * SQ], scale = 1.0f;
    double qd[H * SQ * D], kd[SKV * D], vd[SKV * D];
    unsigned seed = 3;
    for (int i = 0; i < H * SQ * D; i++)
        qd[i] = h2f(q[i] = f2h((float)rnd(&seed)));
    for (int i = 0; i < SKV * D; i++) {
        kd[i] = h2f(k[i] = f2h((float)rnd(&seed)));
        vd[i] = h2f(v[i] = f2h((float)rnd(&seed)));
    }
    int64_t uids[6] = {1, 2, 3, 4, 5, 6};
    void *ptrs[6] = {q, k, v, o, stats, &scale};
    cudnnBackendDescriptor_t pack = pack_of(6, uids, ptrs);
    scale = 0.7f; /* after the pack was set: Execute must read this */
    OK(cudnnBackendExecute(h, plan, pack));
    scale = 5.0f; /* after Execute: must not matter, even before the work has run */
    cr_assert_eq(fg_work_sync_all(), 0, "queued work failed");
    for (int hh = 0; hh < H; hh++)
        for (int i = 0; i < SQ; i++) {
            double ro[D], lse;
            ref_row(&qd[(hh * SQ + i) * D], kd, vd, SKV, D, 0.7, -1, ro, &lse);
            for (int e = 0; e < D; e++)
                cr_expect(fabs(h2f(o[(hh * SQ + i) * D + e]) - ro[e]) < 5e-3,
                          "O[%d][%d][%d] = %g, want %g", hh, i, e, h2f(o[(hh * SQ + i) * D + e]),
                          ro[e]);
            cr_expect(fabs(stats[hh * SQ + i] - lse) < 1e-5, "stats[%d][%d] = %g, want %g", hh, i,
                      stats[hh * SQ + i], lse);
        }
    OK(cudnnDestroy(h));
}

static cudnnBackendDescriptor_t pw_op(cudnnPointwiseMode_t mode, int64_t axis,
                                      cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                                      cudnnBackendDescriptor_t t, cudnnBackendDescriptor_t y)
{
    cudnnBackendDescriptor_t pw = make(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    set(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
    set(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec);
    if (axis >= 0)
        set(pw, CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &axis);
    OK(cudnnBackendFinalize(pw));
    cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw);
    set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x);
    if (b)
        set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b);
    if (t)
        set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, t);
    set_desc(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
    OK(cudnnBackendFinalize(op));
    return op;
}

static cudnnBackendDescriptor_t red_op(cudnnReduceTensorOp_t mode, cudnnBackendDescriptor_t x,
                                       cudnnBackendDescriptor_t y)
{
    cudnnBackendDescriptor_t r = make(CUDNN_BACKEND_REDUCTION_DESCRIPTOR);
    cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    set(r, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode);
    set(r, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &prec);
    OK(cudnnBackendFinalize(r));
    cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, r);
    set_desc(op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x);
    set_desc(op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y);
    OK(cudnnBackendFinalize(op));
    return op;
}

static cudnnBackendDescriptor_t mm_op(cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b,
                                      cudnnBackendDescriptor_t c)
{
    cudnnBackendDescriptor_t m = make(CUDNN_BACKEND_MATMUL_DESCRIPTOR);
    cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    set(m, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &prec);
    OK(cudnnBackendFinalize(m));
    cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
    set_desc(op, CUDNN_ATTR_OPERATION_MATMUL_DESC, m);
    set_desc(op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, a);
    set_desc(op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, b);
    set_desc(op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, c);
    OK(cudnnBackendFinalize(op));
    return op;
}

/* The composite causal graph of cudnn-frontend's SDPA (fp32 here): bmm1 with K given as its
 * transposed view, the scale and the mask's fill value by value, GEN_INDEX/CMP_GE/BINARY_SELECT,
 * softmax as reductions and pointwise ops with the stats written out, the probabilities in a
 * HALF virtual tensor (as the frontend declares them), bmm2. The ops are listed out of order. */
Test(fakesdpa, composite_causal_graph)
{
    enum { SQ = 6, SKV = 6, D = 4 };
    cudnnHandle_t h;
    OK(cudnnCreate(&h));
    const cudnnDataType_t F = CUDNN_DATA_FLOAT;
    int64_t kt_strides[4] = {SKV * D, SKV * D, 1, D}; /* K [1,1,SKV,D] seen as [1,1,D,SKV] */
    cudnnBackendDescriptor_t Q = tensor(1, F, 1, 1, SQ, D, NULL, 0, 0);
    cudnnBackendDescriptor_t KT = tensor(2, F, 1, 1, D, SKV, kt_strides, 0, 0);
    cudnnBackendDescriptor_t V = tensor(3, F, 1, 1, SKV, D, NULL, 0, 0);
    cudnnBackendDescriptor_t O = tensor(4, F, 1, 1, SQ, D, NULL, 0, 0);
    cudnnBackendDescriptor_t SC = tensor(5, F, 1, 1, 1, 1, NULL, 0, 1);
    cudnnBackendDescriptor_t LOW = tensor(6, F, 1, 1, 1, 1, NULL, 0, 1);
    cudnnBackendDescriptor_t STATS = tensor(7, F, 1, 1, SQ, 1, NULL, 0, 0);
    cudnnBackendDescriptor_t s1 = tensor(10, F, 1, 1, SQ, SKV, NULL, 1, 0);
    cudnnBackendDescriptor_t s2 = tensor(11, F, 1, 1, SQ, SKV, NULL, 1, 0);
    cudnnBackendDescriptor_t ri = tensor(12, CUDNN_DATA_INT32, 1, 1, SQ, SKV, NULL, 1, 0);
    cudnnBackendDescriptor_t ci = tensor(13, CUDNN_DATA_INT32, 1, 1, SQ, SKV, NULL, 1, 0);
    cudnnBackendDescriptor_t mk = tensor(14, CUDNN_DATA_BOOLEAN, 1, 1, SQ, SKV, NULL, 1, 0);
    cudnnBackendDescriptor_t s3 = tensor(15, F, 1, 1, SQ, SKV, NULL, 1, 0);
    cudnnBackendDescriptor_t mx = tensor(16, F, 1, 1, SQ, 1, NULL, 1, 0);
    cudnnBackendDescriptor_t s4 = tensor(17, F, 1, 1, SQ, SKV, NULL, 1, 0);
    cudnnBackendDescriptor_t s5 = tensor(18, F, 1, 1, SQ, SKV, NULL, 1, 0);
    cudnnBackendDescriptor_t z = tensor(19, F, 1, 1, SQ, 1, NULL, 1, 0);
    cudnnBackendDescriptor_t lz = tensor(20, F, 1, 1, SQ, 1, NULL, 1, 0);
    cudnnBackendDescriptor_t p = tensor(21, CUDNN_DATA_HALF, 1, 1, SQ, SKV, NULL, 1, 0);
    cudnnBackendDescriptor_t ops[14] = {
        mm_op(p, V, O), /* bmm2 first: the double must order the graph itself */
        mm_op(Q, KT, s1),
        pw_op(CUDNN_POINTWISE_MUL, -1, s1, SC, NULL, s2),
        pw_op(CUDNN_POINTWISE_GEN_INDEX, 2, s2, NULL, NULL, ri),
        pw_op(CUDNN_POINTWISE_GEN_INDEX, 3, s2, NULL, NULL, ci),
        pw_op(CUDNN_POINTWISE_CMP_GE, -1, ri, ci, NULL, mk),
        pw_op(CUDNN_POINTWISE_BINARY_SELECT, -1, s2, LOW, mk, s3),
        red_op(CUDNN_REDUCE_TENSOR_MAX, s3, mx),
        pw_op(CUDNN_POINTWISE_SUB, -1, s3, mx, NULL, s4),
        pw_op(CUDNN_POINTWISE_EXP, -1, s4, NULL, NULL, s5),
        red_op(CUDNN_REDUCE_TENSOR_ADD, s5, z),
        pw_op(CUDNN_POINTWISE_LOG, -1, z, NULL, NULL, lz),
        pw_op(CUDNN_POINTWISE_ADD, -1, lz, mx, NULL, STATS),
        pw_op(CUDNN_POINTWISE_DIV, -1, s5, z, NULL, p),
    };
    cudnnBackendDescriptor_t plan;
    OK(plan_of(h, ops, 14, &plan));

    float q[SQ * D], k[SKV * D], v[SKV * D], o[SQ * D], stats[SQ], scale = 0.5f,
                                                                 low = -FLT_MAX;
    double qd[SQ * D], kd[SKV * D], vd[SKV * D];
    unsigned seed = 9;
    for (int i = 0; i < SQ * D; i++)
        qd[i] = q[i] = (float)rnd(&seed);
    for (int i = 0; i < SKV * D; i++) {
        kd[i] = k[i] = (float)rnd(&seed);
        vd[i] = v[i] = (float)rnd(&seed);
    }
    int64_t uids[7] = {1, 2, 3, 4, 5, 6, 7};
    void *ptrs[7] = {q, k, v, o, &scale, &low, stats};
    OK(cudnnBackendExecute(h, plan, pack_of(7, uids, ptrs)));
    cr_assert_eq(fg_work_sync_all(), 0, "queued work failed");
    for (int i = 0; i < SQ; i++) {
        double ro[D], lse;
        ref_row(&qd[i * D], kd, vd, SKV, D, 0.5, i, ro, &lse);
        for (int e = 0; e < D; e++) /* the probabilities went through fp16 */
            cr_expect(fabs(o[i * D + e] - ro[e]) < 2e-3, "O[%d][%d] = %g, want %g", i, e,
                      o[i * D + e], ro[e]);
        cr_expect(fabs(stats[i] - lse) < 1e-5, "stats[%d] = %g, want %g", i, stats[i], lse);
    }
    OK(cudnnDestroy(h));
}

/* What the double does not model is refused at the graph's finalize, never run approximately:
 * a pointwise mode it lacks, a pointwise op with an alpha scale, a matmul whose shapes do not
 * multiply. */
Test(fakesdpa, refusals)
{
    cudnnHandle_t h;
    OK(cudnnCreate(&h));
    const cudnnDataType_t F = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t a = tensor(1, F, 1, 1, 4, 4, NULL, 0, 0);
    cudnnBackendDescriptor_t b = tensor(2, F, 1, 1, 4, 4, NULL, 0, 0);
    cudnnBackendDescriptor_t y = tensor(3, F, 1, 1, 4, 4, NULL, 0, 0);
    cudnnBackendDescriptor_t c = tensor(4, F, 1, 1, 3, 4, NULL, 0, 0);
    cudnnBackendDescriptor_t plan;
    cudnnBackendDescriptor_t op = pw_op(CUDNN_POINTWISE_ATAN2, -1, a, b, NULL, y);
    cr_expect_eq(plan_of(h, &op, 1, &plan), CUDNN_STATUS_NOT_SUPPORTED, "ATAN2");
    op = pw_op(CUDNN_POINTWISE_ADD, -1, a, b, NULL, y);
    cr_expect_eq(plan_of(h, &op, 1, &plan), CUDNN_STATUS_SUCCESS, "ADD");
    cudnnBackendDescriptor_t op2 = make(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    cudnnBackendDescriptor_t pw = make(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    cudnnPointwiseMode_t add = CUDNN_POINTWISE_ADD;
    float two = 2.0f;
    set(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &add);
    OK(cudnnBackendFinalize(pw));
    set_desc(op2, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw);
    set_desc(op2, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, a);
    set_desc(op2, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b);
    set_desc(op2, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
    set(op2, CUDNN_ATTR_OPERATION_POINTWISE_ALPHA1, CUDNN_TYPE_FLOAT, 1, &two);
    OK(cudnnBackendFinalize(op2));
    cr_expect_eq(plan_of(h, &op2, 1, &plan), CUDNN_STATUS_NOT_SUPPORTED, "alpha1 = 2");
    op = mm_op(a, c, y);
    cr_expect_eq(plan_of(h, &op, 1, &plan), CUDNN_STATUS_NOT_SUPPORTED, "4x4 times 3x4");
    OK(cudnnDestroy(h));
}
