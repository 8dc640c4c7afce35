/* test_fakednn.c — the fake cuDNN against a CPU reference: backend convolutions forward, backward data and backward filter (NCHW, NHWC, fp32, fp16, fp64, groups, stride, padding, dilation, both conv modes, alpha/beta) and batch norm. */
#include <criterion/criterion.h>
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

/* A 4-d tensor [n, c, h, w] in NCHW (nhwc 0) or NHWC (nhwc 1) memory order. */
static cudnnBackendDescriptor_t tensor(int64_t uid, cudnnDataType_t dt, const int64_t dims[4],
                                       int nhwc, int64_t strides[4])
{
    int64_t n = dims[0], c = dims[1], h = dims[2], w = dims[3];
    (void)n;
    if (nhwc) {
        strides[0] = h * w * c, strides[1] = 1, strides[2] = w * c, strides[3] = c;
    } else {
        strides[0] = c * h * w, strides[1] = h * w, strides[2] = w, strides[3] = 1;
    }
    cudnnBackendDescriptor_t d = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    int64_t align = 16;
    set(d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
    set(d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
    set(d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
    set(d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
    set(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
    OK(cudnnBackendFinalize(d));
    return d;
}

static float h2f(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023;
    float v = e ? ldexpf((float)(m | 1024), (int)e - 25) : ldexpf((float)m, -24);
    return s ? -v : v;
}

static uint16_t f2h(float f) /* test inputs only: normal range, truncation is fine */
{
    uint32_t b;
    memcpy(&b, &f, 4);
    uint32_t s = (b >> 16) & 0x8000;
    int e = (int)((b >> 23) & 255) - 112;
    if (e <= 0)
        return (uint16_t)s;
    return (uint16_t)(s | ((uint32_t)e << 10) | ((b >> 13) & 1023));
}

enum { FWD, BWD_DATA, BWD_FILTER };
enum { F32, F16, F64 };

typedef struct conv_case {
    int64_t n, c, h, w, k, r, s, groups;
    int64_t pad[2], stride[2], dil[2];
    int nhwc, dt;
    float alpha, beta;
    int dir;   /* FWD, BWD_DATA (x is dx, y is dy) or BWD_FILTER (w is dw, y is dy) */
    int flip;  /* CUDNN_CONVOLUTION instead of cross-correlation */
} conv_case;

static double rnd(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return ((double)((*seed >> 8) & 0xffff) / 32768.0) - 1.0;
}

/* Per direction: the operation's type and its attributes for x, w, y, conv, alpha, beta. */
static const cudnnBackendDescriptorType_t op_type[3] = {
    CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
    CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
    CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR};
static const cudnnBackendAttributeName_t op_attr[3][6] = {
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

/* Runs one case through the backend API (as cudnn-frontend does: tensors, convolution,
 * operation, graph, heuristics, engine config, plan, variant pack) and checks every element of
 * the output (y, dx or dw) against a direct reference over logical indices. */
static void run_case(const conv_case *cc)
{
    int64_t oh = (cc->h + 2 * cc->pad[0] - cc->dil[0] * (cc->r - 1) - 1) / cc->stride[0] + 1;
    int64_t ow = (cc->w + 2 * cc->pad[1] - cc->dil[1] * (cc->s - 1) - 1) / cc->stride[1] + 1;
    int64_t cg = cc->c / cc->groups;
    int64_t xd[4] = {cc->n, cc->c, cc->h, cc->w}, wd[4] = {cc->k, cg, cc->r, cc->s},
            yd[4] = {cc->n, cc->k, oh, ow};
    int64_t xs[4], ws[4], ys[4];
    cudnnDataType_t dt = cc->dt == F16   ? CUDNN_DATA_HALF
                         : cc->dt == F64 ? CUDNN_DATA_DOUBLE
                                         : CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t X = tensor('x', dt, xd, cc->nhwc, xs);
    cudnnBackendDescriptor_t W = tensor('w', dt, wd, cc->nhwc, ws);
    cudnnBackendDescriptor_t Y = tensor('y', dt, yd, cc->nhwc, ys);
    size_t es = cc->dt == F16 ? 2 : cc->dt == F64 ? 8 : 4;
    size_t nx = (size_t)(cc->n * cc->c * cc->h * cc->w), nw = (size_t)(cc->k * cg * cc->r * cc->s),
           ny = (size_t)(cc->n * cc->k * oh * ow);
    uint8_t *x = malloc(nx * es), *w = malloc(nw * es), *y = malloc(ny * es);
    unsigned seed = 7;
    /* values rounded to what the element type holds, so the reference sees the same inputs */
#define PUT(buf, i, v)                                                                             \
    (cc->dt == F16   ? (void)(((uint16_t *)(buf))[i] = f2h((float)(v)))                            \
     : cc->dt == F64 ? (void)(((double *)(buf))[i] = (v))                                          \
                     : (void)(((float *)(buf))[i] = (float)(v)))
#define GET(buf, i)                                                                                \
    (cc->dt == F16   ? (double)h2f(((uint16_t *)(buf))[i])                                         \
     : cc->dt == F64 ? ((double *)(buf))[i]                                                        \
                     : (double)((float *)(buf))[i])
    for (size_t i = 0; i < nx; i++)
        PUT(x, i, rnd(&seed));
    for (size_t i = 0; i < nw; i++)
        PUT(w, i, rnd(&seed));
    for (size_t i = 0; i < ny; i++)
        PUT(y, i, rnd(&seed));
    /* the output, its element count and what it held (beta's operand); the reference sums
     * into acc by element offset (the tensors are packed) */
    uint8_t *out = cc->dir == FWD ? y : cc->dir == BWD_DATA ? x : w;
    size_t nout = cc->dir == FWD ? ny : cc->dir == BWD_DATA ? nx : nw;
    double *before = malloc(nout * sizeof *before), *acc = calloc(nout, sizeof *acc);
    for (size_t i = 0; i < nout; i++)
        before[i] = GET(out, i);

    cudnnBackendDescriptor_t cv = make(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
    int64_t sp = 2;
    cudnnDataType_t comp = cc->dt == F64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    cudnnConvolutionMode_t mode = cc->flip ? CUDNN_CONVOLUTION : CUDNN_CROSS_CORRELATION;
    set(cv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp);
    set(cv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
    set(cv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &sp);
    set(cv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, cc->pad);
    set(cv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, cc->pad);
    set(cv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, cc->stride);
    set(cv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, cc->dil);
    OK(cudnnBackendFinalize(cv));

    const cudnnBackendAttributeName_t *an = op_attr[cc->dir];
    cudnnBackendDescriptor_t op = make(op_type[cc->dir]);
    set(op, an[0], CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &X);
    set(op, an[1], CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &W);
    set(op, an[2], CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &Y);
    set(op, an[3], CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cv);
    if (cc->dt == F64) {
        double a = cc->alpha, b = cc->beta;
        set(op, an[4], CUDNN_TYPE_DOUBLE, 1, &a);
        set(op, an[5], CUDNN_TYPE_DOUBLE, 1, &b);
    } else {
        set(op, an[4], CUDNN_TYPE_FLOAT, 1, &cc->alpha);
        set(op, an[5], CUDNN_TYPE_FLOAT, 1, &cc->beta);
    }
    OK(cudnnBackendFinalize(op));
    /* the tensors and convolution are referenced: destroying them now must not matter */
    OK(cudnnBackendDestroyDescriptor(X));
    OK(cudnnBackendDestroyDescriptor(W));
    OK(cudnnBackendDestroyDescriptor(Y));
    OK(cudnnBackendDestroyDescriptor(cv));

    cudnnHandle_t h;
    OK(cudnnCreate(&h));
    cudnnBackendDescriptor_t g = make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    set(g, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
    set(g, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op);
    OK(cudnnBackendFinalize(g));
    int64_t count = -1;
    OK(cudnnBackendGetAttribute(g, CUDNN_ATTR_OPERATIONGRAPH_ENGINE_GLOBAL_COUNT, CUDNN_TYPE_INT64,
                                1, &count, &count));
    cr_assert_geq(count, 1);

    cudnnBackendDescriptor_t heur = make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    cudnnBackendHeurMode_t hm = CUDNN_HEUR_MODE_A;
    set(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &g);
    set(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &hm);
    OK(cudnnBackendFinalize(heur));
    OK(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                0, &count, NULL));
    cr_assert_eq(count, 1);
    cudnnBackendDescriptor_t cfg = make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    OK(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                1, &count, &cfg));
    cudnnBackendDescriptor_t eng = make(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
    OK(cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                &count, &eng));
    int64_t gidx = -1;
    OK(cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &count,
                                &gidx));
    cr_assert_eq(gidx, 0);

    cudnnBackendDescriptor_t plan = make(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    set(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
    set(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg);
    OK(cudnnBackendFinalize(plan));
    int64_t ws_size = -1;
    OK(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
                                &count, &ws_size));
    cr_assert_eq(ws_size, 0);

    cudnnBackendDescriptor_t pack = make(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    int64_t uids[3] = {'x', 'w', 'y'};
    void *ptrs[3] = {x, w, y}, *wsp = NULL;
    set(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids);
    set(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs);
    set(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &wsp);
    OK(cudnnBackendFinalize(pack));
    OK(cudnnBackendExecute(h, plan, pack));
    cr_assert_eq(fg_work_sync_all(), 0, "queued work failed");

    /* the reference: every (output position, input channel, kernel tap) product of the
     * forward relation y[n,k,i,j] ~ x[n,c,hi,wi] * w[k,c,r,s], summed into the output's
     * element; inputs read from the buffers the fake left alone */
    for (int64_t n = 0; n < cc->n; n++)
        for (int64_t k = 0; k < cc->k; k++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    int64_t gi = k / (cc->k / cc->groups);
                    int64_t yo = n * ys[0] + k * ys[1] + i * ys[2] + j * ys[3];
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t r = 0; r < cc->r; r++)
                            for (int64_t s = 0; s < cc->s; s++) {
                                int64_t hi = i * cc->stride[0] - cc->pad[0] + r * cc->dil[0];
                                int64_t wi = j * cc->stride[1] - cc->pad[1] + s * cc->dil[1];
                                if (hi < 0 || hi >= cc->h || wi < 0 || wi >= cc->w)
                                    continue;
                                int64_t xo = n * xs[0] + (gi * cg + c) * xs[1] + hi * xs[2] +
                                             wi * xs[3];
                                int64_t rr = cc->flip ? cc->r - 1 - r : r;
                                int64_t ss = cc->flip ? cc->s - 1 - s : s;
                                int64_t wo = k * ws[0] + c * ws[1] + rr * ws[2] + ss * ws[3];
                                if (cc->dir == FWD)
                                    acc[yo] += GET(x, xo) * GET(w, wo);
                                else if (cc->dir == BWD_DATA)
                                    acc[xo] += GET(y, yo) * GET(w, wo);
                                else
                                    acc[wo] += GET(y, yo) * GET(x, xo);
                            }
                }
    double tol = cc->dt == F16 ? 2e-2 : cc->dt == F64 ? 1e-12 : 1e-4;
    for (size_t i = 0; i < nout; i++) {
        double want = cc->alpha * acc[i] + cc->beta * before[i];
        double got = GET(out, i);
        cr_assert(fabs(got - want) <= tol * (1 + fabs(want)),
                  "direction %d: element %zu = %.17g, want %.17g", cc->dir, i, got, want);
    }
#undef PUT
#undef GET
    cudnnBackendDescriptor_t all[] = {pack, plan, eng, cfg, heur, g, op};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        OK(cudnnBackendDestroyDescriptor(all[i]));
    OK(cudnnDestroy(h));
    free(x), free(w), free(y), free(before), free(acc);
}

/* Each case in every direction. */
static void run_all(conv_case c)
{
    for (c.dir = FWD; c.dir <= BWD_FILTER; c.dir++)
        run_case(&c);
}

Test(fakednn, conv_nchw_f32_pad_stride)
{
    run_all((conv_case){2, 3, 9, 8, 4, 3, 3, 1, {1, 1}, {2, 1}, {1, 1}, 0, F32, 1.0f, 0.0f, 0, 0});
}

Test(fakednn, conv_nhwc_f32_dilation_alpha_beta)
{
    run_all((conv_case){1, 4, 7, 7, 6, 3, 2, 1, {2, 0}, {1, 2}, {2, 1}, 1, F32, 0.5f, 2.0f, 0, 0});
}

Test(fakednn, conv_nchw_f16_groups)
{
    run_all((conv_case){2, 6, 6, 5, 4, 3, 3, 2, {1, 1}, {1, 1}, {1, 1}, 0, F16, 1.0f, 0.0f, 0, 0});
}

Test(fakednn, conv_nhwc_f16_1x1_stride2)
{
    run_all((conv_case){1, 8, 8, 8, 16, 1, 1, 1, {0, 0}, {2, 2}, {1, 1}, 1, F16, 1.0f, 0.0f, 0, 0});
}

/* stride 3 over a 3-wide kernel with padding: input positions no output reads (dx = beta * dx
 * there), groups, the flipped kernel of CUDNN_CONVOLUTION, fp64 in double */
Test(fakednn, conv_nchw_f64_flip_groups_stride3)
{
    run_all((conv_case){2, 4, 10, 7, 6, 3, 2, 2, {1, 0}, {3, 2}, {1, 2}, 0, F64, 1.5f, -0.5f, 0,
                        1});
}

Test(fakednn, conv_nhwc_f32_depthwise_dilation_beta)
{
    run_all((conv_case){2, 4, 6, 6, 4, 3, 3, 4, {2, 2}, {1, 1}, {2, 2}, 1, F32, 1.0f, 1.0f, 0, 0});
}

Test(fakednn, graph_of_unknown_op_is_not_supported)
{
    cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    cudnnBackendDescriptor_t g = make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    set(g, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op);
    cr_assert_eq(cudnnBackendFinalize(g), CUDNN_STATUS_NOT_SUPPORTED);
    cr_assert_eq(cudnnBackendSetAttribute(g, CUDNN_ATTR_OPERATIONGRAPH_OPS,
                                          CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, NULL),
                 CUDNN_STATUS_BAD_PARAM);
    OK(cudnnBackendDestroyDescriptor(g));
    OK(cudnnBackendDestroyDescriptor(op));
}

Test(fakednn, batch_norm_inference_spatial_nchw_and_nhwc)
{
    for (int nhwc = 0; nhwc < 2; nhwc++) {
        int n = 2, c = 3, hh = 4, ww = 5;
        int dims[4] = {n, c, hh, ww}, st[4];
        if (nhwc)
            st[0] = hh * ww * c, st[1] = 1, st[2] = ww * c, st[3] = c;
        else
            st[0] = c * hh * ww, st[1] = hh * ww, st[2] = ww, st[3] = 1;
        int bdims[4] = {1, c, 1, 1}, bst[4] = {c, 1, 1, 1};
        cudnnTensorDescriptor_t xd, bd;
        OK(cudnnCreateTensorDescriptor(&xd));
        OK(cudnnCreateTensorDescriptor(&bd));
        OK(cudnnSetTensorNdDescriptor(xd, CUDNN_DATA_FLOAT, 4, dims, st));
        OK(cudnnSetTensorNdDescriptor(bd, CUDNN_DATA_FLOAT, 4, bdims, bst));
        size_t total = (size_t)(n * c * hh * ww);
        float *x = malloc(total * 4), *y = malloc(total * 4);
        float scale[3] = {1.5f, -2.0f, 0.25f}, bias[3] = {0.1f, 0.2f, -0.3f},
              mean[3] = {0.5f, -1.0f, 2.0f}, var[3] = {4.0f, 0.25f, 1.0f};
        unsigned seed = 3;
        for (size_t i = 0; i < total; i++)
            x[i] = (float)rnd(&seed), y[i] = 99.0f;
        cudnnHandle_t h;
        OK(cudnnCreate(&h));
        float one = 1.0f, zero = 0.0f;
        double eps = 1e-5;
        OK(cudnnBatchNormalizationForwardInference(h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd, x,
                                                   xd, y, bd, scale, bias, mean, var, eps));
        cr_assert_eq(fg_work_sync_all(), 0);
        for (int a = 0; a < n; a++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < hh; i++)
                    for (int j = 0; j < ww; j++) {
                        size_t o = (size_t)(a * st[0] + ch * st[1] + i * st[2] + j * st[3]);
                        double want = scale[ch] * (x[o] - mean[ch]) / sqrt(var[ch] + eps) + bias[ch];
                        cr_assert(fabs(y[o] - want) < 1e-5 * (1 + fabs(want)),
                                  "nhwc %d: y[%d,%d,%d,%d] = %g, want %g", nhwc, a, ch, i, j,
                                  y[o], want);
                    }
        OK(cudnnDestroy(h));
        OK(cudnnDestroyTensorDescriptor(xd));
        OK(cudnnDestroyTensorDescriptor(bd));
        free(x), free(y);
    }
}

/* Batch-norm training, forward then backward, against the textbook formulas in double: the
 * batch's mean and biased variance normalise x; the running mean and the running (unbiased)
 * variance move by factor; backward gives dbias = sum dy, dscale = sum dy * xhat and
 * dx = scale * inv / M * (M * dy - dbias - xhat * dscale). Then a second backward from the
 * reserve space (no saved statistics) accumulates into dscale and dbias (beta 1). */
static void bn_train_case(int nhwc, int per_act)
{
    int n = 3, c = 2, hh = 3, ww = 4;
    int dims[4] = {n, c, hh, ww}, st[4];
    if (nhwc)
        st[0] = hh * ww * c, st[1] = 1, st[2] = ww * c, st[3] = c;
    else
        st[0] = c * hh * ww, st[1] = hh * ww, st[2] = ww, st[3] = 1;
    int P = per_act ? c * hh * ww : c, M = n * c * hh * ww / P;
    int bdims[4] = {1, c, per_act ? hh : 1, per_act ? ww : 1};
    int bst[4] = {P, per_act ? hh * ww : 1, per_act ? ww : 1, 1};
    cudnnBatchNormMode_t mode = per_act ? CUDNN_BATCHNORM_PER_ACTIVATION
                                        : nhwc ? CUDNN_BATCHNORM_SPATIAL_PERSISTENT
                                               : CUDNN_BATCHNORM_SPATIAL;
    cudnnTensorDescriptor_t xd, bd;
    OK(cudnnCreateTensorDescriptor(&xd));
    OK(cudnnCreateTensorDescriptor(&bd));
    OK(cudnnSetTensorNdDescriptor(xd, CUDNN_DATA_FLOAT, 4, dims, st));
    OK(cudnnSetTensorNdDescriptor(bd, CUDNN_DATA_FLOAT, 4, bdims, bst));
    size_t total = (size_t)(n * c * hh * ww);
    float *x = malloc(total * 4), *y = malloc(total * 4), *dy = malloc(total * 4),
          *dx = malloc(total * 4);
    float *scale = malloc((size_t)P * 4), *bias = malloc((size_t)P * 4),
          *rmean = malloc((size_t)P * 4), *rvar = malloc((size_t)P * 4),
          *smean = malloc((size_t)P * 4), *sinv = malloc((size_t)P * 4),
          *dscale = malloc((size_t)P * 4), *dbias = malloc((size_t)P * 4);
    unsigned seed = 11;
    for (size_t i = 0; i < total; i++)
        x[i] = (float)(rnd(&seed) * 2 + 0.5), dy[i] = (float)rnd(&seed), y[i] = dx[i] = 99.0f;
    for (int p = 0; p < P; p++)
        scale[p] = (float)(1 + rnd(&seed)), bias[p] = (float)rnd(&seed), rmean[p] = 0.25f,
        rvar[p] = 2.0f, smean[p] = sinv[p] = dscale[p] = dbias[p] = 99.0f;
    /* the reference, per parameter p over its M elements (found by their offsets) */
    double *mean = calloc((size_t)P, 8), *var = calloc((size_t)P, 8), *sdy = calloc((size_t)P, 8),
           *sdyx = calloc((size_t)P, 8);
    int *param = malloc(total * sizeof(int));
    for (int a = 0; a < n; a++)
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < hh; i++)
                for (int j = 0; j < ww; j++)
                    param[a * st[0] + ch * st[1] + i * st[2] + j * st[3]] =
                        per_act ? (ch * hh + i) * ww + j : ch;
    double eps = 1e-5, factor = 0.1;
    for (size_t e = 0; e < total; e++)
        mean[param[e]] += x[e] / M;
    for (size_t e = 0; e < total; e++)
        var[param[e]] += (x[e] - mean[param[e]]) * (x[e] - mean[param[e]]) / M;
    size_t reserve_size = 0, ws_size = 1;
    cudnnHandle_t h;
    OK(cudnnCreate(&h));
    OK(cudnnGetBatchNormalizationTrainingExReserveSpaceSize(h, mode, CUDNN_BATCHNORM_OPS_BN, NULL,
                                                            xd, &reserve_size));
    OK(cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(
        h, mode, CUDNN_BATCHNORM_OPS_BN, xd, NULL, xd, bd, NULL, &ws_size));
    cr_assert_eq(ws_size, 0);
    cr_assert_geq(reserve_size, (size_t)P * 8);
    void *reserve = malloc(reserve_size);
    float one = 1.0f, zero = 0.0f;
    /* too small a reserve space is refused */
    cr_assert_eq(cudnnBatchNormalizationForwardTrainingEx(
                     h, mode, CUDNN_BATCHNORM_OPS_BN, &one, &zero, xd, x, NULL, NULL, xd, y, bd,
                     scale, bias, factor, rmean, rvar, eps, smean, sinv, NULL, NULL, 0, reserve,
                     reserve_size - 1),
                 CUDNN_STATUS_BAD_PARAM);
    OK(cudnnBatchNormalizationForwardTrainingEx(h, mode, CUDNN_BATCHNORM_OPS_BN, &one, &zero, xd,
                                                x, NULL, NULL, xd, y, bd, scale, bias, factor,
                                                rmean, rvar, eps, smean, sinv, NULL, NULL, 0,
                                                reserve, reserve_size));
    OK(cudnnBatchNormalizationBackwardEx(h, mode, CUDNN_BATCHNORM_OPS_BN, &one, &zero, &one, &zero,
                                         xd, x, NULL, NULL, xd, dy, NULL, NULL, xd, dx, bd, scale,
                                         NULL, dscale, dbias, eps, smean, sinv, NULL, NULL, 0,
                                         reserve, reserve_size));
    cr_assert_eq(fg_work_sync_all(), 0);
#define NEAR(got, want, what, i)                                                                   \
    cr_assert(fabs((got) - (want)) < 1e-4 * (1 + fabs(want)), "nhwc %d per_act %d: %s[%d] = %g, want %g", \
              nhwc, per_act, what, (int)(i), (double)(got), (double)(want))
    for (int p = 0; p < P; p++) {
        double inv = 1 / sqrt(var[p] + eps);
        NEAR(smean[p], mean[p], "saved mean", p);
        NEAR(sinv[p], inv, "saved inverse deviation", p);
        NEAR(rmean[p], 0.9 * 0.25 + 0.1 * mean[p], "running mean", p);
        NEAR(rvar[p], 0.9 * 2.0 + 0.1 * var[p] * M / (M - 1), "running variance", p);
    }
    for (size_t e = 0; e < total; e++) {
        int p = param[e];
        double xhat = (x[e] - mean[p]) / sqrt(var[p] + eps);
        NEAR(y[e], scale[p] * xhat + bias[p], "y", e);
        sdy[p] += dy[e], sdyx[p] += dy[e] * xhat;
    }
    for (size_t e = 0; e < total; e++) {
        int p = param[e];
        double inv = 1 / sqrt(var[p] + eps), xhat = (x[e] - mean[p]) * inv;
        NEAR(dx[e], scale[p] * inv / M * (M * dy[e] - sdy[p] - xhat * sdyx[p]), "dx", e);
    }
    for (int p = 0; p < P; p++) {
        NEAR(dscale[p], sdyx[p], "dscale", p);
        NEAR(dbias[p], sdy[p], "dbias", p);
    }
    /* from the reserve space, accumulating: the same gradients once more on top */
    OK(cudnnBatchNormalizationBackwardEx(h, mode, CUDNN_BATCHNORM_OPS_BN, &one, &zero, &one, &one,
                                         xd, x, NULL, NULL, xd, dy, NULL, NULL, xd, dx, bd, scale,
                                         NULL, dscale, dbias, eps, NULL, NULL, NULL, NULL, 0,
                                         reserve, reserve_size));
    cr_assert_eq(fg_work_sync_all(), 0);
    for (int p = 0; p < P; p++) {
        NEAR(dscale[p], 2 * sdyx[p], "accumulated dscale", p);
        NEAR(dbias[p], 2 * sdy[p], "accumulated dbias", p);
    }
#undef NEAR
    OK(cudnnDestroy(h));
    OK(cudnnDestroyTensorDescriptor(xd));
    OK(cudnnDestroyTensorDescriptor(bd));
    free(x), free(y), free(dy), free(dx), free(scale), free(bias), free(rmean), free(rvar);
    free(smean), free(sinv), free(dscale), free(dbias), free(mean), free(var), free(sdy);
    free(sdyx), free(param), free(reserve);
}

Test(fakednn, batch_norm_training_spatial_nchw) { bn_train_case(0, 0); }
Test(fakednn, batch_norm_training_spatial_persistent_nhwc) { bn_train_case(1, 0); }
Test(fakednn, batch_norm_training_per_activation) { bn_train_case(0, 1); }
