// dnncheck.cu — a forward convolution through the cuDNN backend API, a batch-norm inference, and a batch-norm training step forward and backward, as PyTorch issues them, checked on the host.
//
//   dnncheck
// Builds what cudnn-frontend builds for one convolution (tensors, convolution, operation,
// operation graph, engine heuristics, engine config, execution plan, variant pack) on a
// stream, runs it twice (the second time with a fresh variant pack, as PyTorch does for every
// call once it holds the plan), then cudnnBatchNormalizationForwardInference on the result
// (legacy tensor descriptors, NHWC-strided), then cudnnBatchNormalizationForwardTrainingEx
// and cudnnBatchNormalizationBackwardEx after their three size queries (each asked twice).
// Compares with a host reference. Under Genie the plan and the size queries cost query round
// trips once (the e2e test counts them: EXPECT_RT_QUERY) and each run is recorded. Prints
// RESULT OK. DNNCHECK_BN_RANGE=1: then a batch norm with a fused activation, which Genie
// refuses on the client ("bn activation: refused"), and one whose reserve space runs past its
// allocation, which Genie's executor refuses ("bn range: refused"). DNNCHECK_UNCHECKED=1
// (through Genie only): a variant pack's OVERRIDE_SHAPES is refused at the call.
#include "wl_common.h"

#include <cmath>
#include <cstdlib>
#include <cudnn.h>
#include <vector>

#define DN(call)                                                                           \
    do {                                                                                   \
        cudnnStatus_t dn_st_ = (call);                                                     \
        if (dn_st_ != CUDNN_STATUS_SUCCESS) {                                              \
            std::fprintf(stderr, "%s:%d: %s failed: cudnnStatus %d\n", __FILE__, __LINE__, \
                         #call, (int)dn_st_);                                              \
            std::exit(2);                                                                  \
        }                                                                                  \
    } while (0)

static cudnnBackendDescriptor_t make(cudnnBackendDescriptorType_t t)
{
    cudnnBackendDescriptor_t d;
    DN(cudnnBackendCreateDescriptor(t, &d));
    return d;
}

static cudnnBackendDescriptor_t tensor(int64_t uid, const int64_t dims[4], const int64_t st[4])
{
    cudnnBackendDescriptor_t d = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    cudnnDataType_t dt = CUDNN_DATA_FLOAT;
    int64_t align = 16;
    DN(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt));
    DN(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims));
    DN(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, st));
    DN(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid));
    DN(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align));
    DN(cudnnBackendFinalize(d));
    return d;
}

static void run(cudnnHandle_t h, cudnnBackendDescriptor_t plan, void *x, void *w, void *y, void *ws)
{
    cudnnBackendDescriptor_t pack = make(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    int64_t uids[3] = {'x', 'w', 'y'};
    void *ptrs[3] = {x, w, y};
    DN(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids));
    DN(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs));
    DN(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws));
    DN(cudnnBackendFinalize(pack));
    DN(cudnnBackendExecute(h, plan, pack));
    DN(cudnnBackendDestroyDescriptor(pack));
}

int main()
{
    const int64_t N = 2, C = 3, H = 9, W = 8, K = 4, R = 3, S = 3; // pad 1, stride 1
    const int64_t xd[4] = {N, C, H, W}, xs[4] = {C * H * W, H * W, W, 1};
    const int64_t wd[4] = {K, C, R, S}, wst[4] = {C * R * S, R * S, S, 1};
    // y in NHWC memory order: PyTorch's channels_last
    const int64_t yd[4] = {N, K, H, W}, ys[4] = {H * W * K, 1, W * K, K};
    std::vector<float> hx(N * C * H * W), hw(K * C * R * S), hy(N * K * H * W);
    unsigned seed = 5;
    auto rnd = [&] { seed = seed * 1103515245u + 12345u; return ((seed >> 8) & 0xffff) / 32768.0f - 1.0f; };
    for (auto &v : hx) v = rnd();
    for (auto &v : hw) v = rnd();
    float *x, *w, *y, *z;
    CK(cudaMalloc(&x, hx.size() * 4));
    CK(cudaMalloc(&w, hw.size() * 4));
    CK(cudaMalloc(&y, hy.size() * 4));
    CK(cudaMalloc(&z, hy.size() * 4));
    CK(cudaMemcpy(x, hx.data(), hx.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(w, hw.data(), hw.size() * 4, cudaMemcpyHostToDevice));
    cudaStream_t st;
    CK(cudaStreamCreate(&st));
    cudnnHandle_t h;
    DN(cudnnCreate(&h));
    DN(cudnnSetStream(h, st));

    cudnnBackendDescriptor_t X = tensor('x', xd, xs), Wt = tensor('w', wd, wst), Y = tensor('y', yd, ys);
    cudnnBackendDescriptor_t cv = make(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
    int64_t sp = 2, pad[2] = {1, 1}, one[2] = {1, 1};
    cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    DN(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp));
    DN(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode));
    DN(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &sp));
    DN(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad));
    DN(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad));
    DN(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, one));
    DN(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, one));
    DN(cudnnBackendFinalize(cv));
    cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
    float alpha = 1.0f, beta = 0.0f;
    DN(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &X));
    DN(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &Wt));
    DN(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &Y));
    DN(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cv));
    DN(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha));
    DN(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta));
    DN(cudnnBackendFinalize(op));
    cudnnBackendDescriptor_t g = make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    DN(cudnnBackendSetAttribute(g, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h));
    DN(cudnnBackendSetAttribute(g, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op));
    DN(cudnnBackendFinalize(g));
    cudnnBackendDescriptor_t heur = make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    cudnnBackendHeurMode_t hm = CUDNN_HEUR_MODE_A;
    DN(cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &g));
    DN(cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &hm));
    DN(cudnnBackendFinalize(heur));
    int64_t count = 0;
    DN(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr));
    if (count < 1) { std::fprintf(stderr, "no engine config\n"); return 1; }
    std::vector<cudnnBackendDescriptor_t> cfgs(count);
    for (auto &c : cfgs) c = make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    DN(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &count, cfgs.data()));
    cudnnBackendDescriptor_t plan = nullptr;
    for (int64_t i = 0; i < count && !plan; i++) { // the first config that finalizes, as cudnn-frontend does
        cudnnBackendDescriptor_t p = make(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
        DN(cudnnBackendSetAttribute(p, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h));
        DN(cudnnBackendSetAttribute(p, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfgs[i]));
        if (cudnnBackendFinalize(p) == CUDNN_STATUS_SUCCESS)
            plan = p;
        else
            DN(cudnnBackendDestroyDescriptor(p));
    }
    if (!plan) { std::fprintf(stderr, "no plan finalized\n"); return 1; }
    int64_t wsize = 0;
    DN(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &count, &wsize));
    int64_t again = -1; // a finalized plan's answer is kept: no second round trip under Genie
    DN(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &count, &again));
    if (again != wsize) { std::fprintf(stderr, "workspace size %lld then %lld\n", (long long)wsize, (long long)again); return 1; }
    void *ws = nullptr;
    if (wsize)
        CK(cudaMalloc(&ws, (size_t)wsize));
    CK(cudaMemsetAsync(y, 0xff, hy.size() * 4, st)); // NaN: the convolution must overwrite it
    run(h, plan, x, w, y, ws);
    run(h, plan, x, w, y, ws);

    // batch norm over y (NHWC strides) into z
    cudnnTensorDescriptor_t td, bd;
    DN(cudnnCreateTensorDescriptor(&td));
    DN(cudnnCreateTensorDescriptor(&bd));
    int dims[4] = {(int)N, (int)K, (int)H, (int)W}, strides[4] = {(int)ys[0], (int)ys[1], (int)ys[2], (int)ys[3]};
    DN(cudnnSetTensorNdDescriptor(td, CUDNN_DATA_FLOAT, 4, dims, strides));
    DN(cudnnSetTensor4dDescriptor(bd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, (int)K, 1, 1));
    float hs[4] = {1.5f, -2.0f, 0.25f, 1.0f}, hb[4] = {0.1f, 0.2f, -0.3f, 0.0f};
    float hm_[4] = {0.5f, -1.0f, 2.0f, 0.0f}, hv[4] = {4.0f, 0.25f, 1.0f, 2.0f};
    float *bn;
    CK(cudaMalloc(&bn, 16 * 4));
    CK(cudaMemcpy(bn, hs, 16, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(bn + 4, hb, 16, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(bn + 8, hm_, 16, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(bn + 12, hv, 16, cudaMemcpyHostToDevice));
    const double eps = 1e-5;
    DN(cudnnBatchNormalizationForwardInference(h, CUDNN_BATCHNORM_SPATIAL, &alpha, &beta, td, y, td, z,
                                               bd, bn, bn + 4, bn + 8, bn + 12, eps));
    std::vector<float> hz(hy.size());
    CK(cudaMemcpyAsync(hy.data(), y, hy.size() * 4, cudaMemcpyDeviceToHost, st));
    CK(cudaMemcpyAsync(hz.data(), z, hz.size() * 4, cudaMemcpyDeviceToHost, st));
    CK(cudaStreamSynchronize(st));

    int bad = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t i = 0; i < H; i++)
                for (int64_t j = 0; j < W; j++) {
                    double acc = 0;
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t r = 0; r < R; r++)
                            for (int64_t s = 0; s < S; s++) {
                                int64_t hi = i - 1 + r, wi = j - 1 + s;
                                if (hi < 0 || hi >= H || wi < 0 || wi >= W)
                                    continue;
                                acc += (double)hx[n * xs[0] + c * xs[1] + hi * xs[2] + wi] *
                                       hw[k * wst[0] + c * wst[1] + r * wst[2] + s];
                            }
                    int64_t o = n * ys[0] + k * ys[1] + i * ys[2] + j * ys[3];
                    double bnv = hs[k] * (acc - hm_[k]) / std::sqrt(hv[k] + eps) + hb[k];
                    if (!(std::fabs(hy[o] - acc) <= 1e-4 * (1 + std::fabs(acc))) ||
                        !(std::fabs(hz[o] - bnv) <= 1e-4 * (1 + std::fabs(bnv)))) {
                        if (bad++ < 5)
                            std::fprintf(stderr, "y[%lld,%lld,%lld,%lld] = %g (want %g), bn %g (want %g)\n",
                                         (long long)n, (long long)k, (long long)i, (long long)j,
                                         hy[o], acc, hz[o], bnv);
                    }
                }
    // batch-norm training over y (NHWC: PyTorch's channels_last takes SPATIAL_PERSISTENT) into
    // z, then its backward from an uploaded dy, as PyTorch's cudnn_batch_norm and its backward
    // call them: the size queries first (each problem asked twice: answered once under Genie)
    const cudnnBatchNormMode_t bm = CUDNN_BATCHNORM_SPATIAL_PERSISTENT;
    const cudnnBatchNormOps_t bo = CUDNN_BATCHNORM_OPS_BN;
    size_t fws = 1, bws = 1, rsv = 0;
    for (int twice = 0; twice < 2; twice++) {
        DN(cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(h, bm, bo, td, nullptr, td, bd, nullptr, &fws));
        DN(cudnnGetBatchNormalizationTrainingExReserveSpaceSize(h, bm, bo, nullptr, td, &rsv));
        DN(cudnnGetBatchNormalizationBackwardExWorkspaceSize(h, bm, bo, td, nullptr, td, nullptr, td, bd, nullptr, &bws));
    }
    std::vector<float> hdy(hy.size());
    for (auto &v : hdy) v = rnd();
    float *dy, *dx, *stats, *fwsp = nullptr, *bwsp = nullptr;
    void *reserve = nullptr;
    CK(cudaMalloc(&dy, hdy.size() * 4));
    CK(cudaMalloc(&dx, hdy.size() * 4));
    CK(cudaMalloc(&stats, 24 * 4)); // running mean, running var, saved mean, saved inv, dscale, dbias
    if (fws) CK(cudaMalloc(&fwsp, fws));
    if (bws) CK(cudaMalloc(&bwsp, bws));
    if (rsv) CK(cudaMalloc(&reserve, rsv));
    CK(cudaMemcpy(dy, hdy.data(), hdy.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(stats, hm_, 16, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(stats + 4, hv, 16, cudaMemcpyHostToDevice));
    const double factor = 0.1;
    DN(cudnnBatchNormalizationForwardTrainingEx(h, bm, bo, &alpha, &beta, td, y, nullptr, nullptr, td, z, bd,
                                                bn, bn + 4, factor, stats, stats + 4, eps, stats + 8,
                                                stats + 12, nullptr, fwsp, fws, reserve, rsv));
    DN(cudnnBatchNormalizationBackwardEx(h, bm, bo, &alpha, &beta, &alpha, &beta, td, y, nullptr, nullptr, td,
                                         dy, nullptr, nullptr, td, dx, bd, bn, nullptr, stats + 16,
                                         stats + 20, eps, stats + 8, stats + 12, nullptr, bwsp, bws,
                                         reserve, rsv));
    std::vector<float> hst(24), hdx(hdy.size());
    CK(cudaMemcpyAsync(hz.data(), z, hz.size() * 4, cudaMemcpyDeviceToHost, st));
    CK(cudaMemcpyAsync(hdx.data(), dx, hdx.size() * 4, cudaMemcpyDeviceToHost, st));
    CK(cudaMemcpyAsync(hst.data(), stats, 24 * 4, cudaMemcpyDeviceToHost, st));
    CK(cudaStreamSynchronize(st));
    {
        const double M = (double)(N * H * W);
        auto near = [&](double got, double want, const char *what, int64_t i) {
            if (std::fabs(got - want) <= 1e-4 * (1 + std::fabs(want)))
                return;
            if (bad++ < 5)
                std::fprintf(stderr, "bn training: %s[%lld] = %g, want %g\n", what, (long long)i, got, want);
        };
        for (int64_t k = 0; k < K; k++) {
            double mean = 0, var = 0, sdy = 0, sdyx = 0;
            for (int64_t o = k; o < (int64_t)hy.size(); o += K) // NHWC: channel k every K floats
                mean += hy[o] / M;
            for (int64_t o = k; o < (int64_t)hy.size(); o += K)
                var += (hy[o] - mean) * (hy[o] - mean) / M;
            double inv = 1 / std::sqrt(var + eps);
            near(hst[k], (1 - factor) * hm_[k] + factor * mean, "running mean", k);
            near(hst[4 + k], (1 - factor) * hv[k] + factor * var * M / (M - 1), "running var", k);
            near(hst[8 + k], mean, "saved mean", k);
            near(hst[12 + k], inv, "saved inverse deviation", k);
            for (int64_t o = k; o < (int64_t)hy.size(); o += K) {
                double xh = (hy[o] - mean) * inv;
                near(hz[o], hs[k] * xh + hb[k], "y", o);
                sdy += hdy[o], sdyx += hdy[o] * xh;
            }
            near(hst[16 + k], sdyx, "dscale", k);
            near(hst[20 + k], sdy, "dbias", k);
            for (int64_t o = k; o < (int64_t)hy.size(); o += K) {
                double xh = (hy[o] - mean) * inv;
                near(hdx[o], hs[k] * inv / M * (M * hdy[o] - sdy - xh * sdyx), "dx", o);
            }
        }
    }
    if (std::getenv("DNNCHECK_BN_RANGE")) {
        // under Genie: a fused activation (it needs an activation descriptor, which Genie does
        // not forward) is refused at once, on the client
        cudnnStatus_t fs = cudnnBatchNormalizationForwardTrainingEx(
            h, bm, CUDNN_BATCHNORM_OPS_BN_ACTIVATION, &alpha, &beta, td, y, nullptr, nullptr, td, z,
            bd, bn, bn + 4, factor, stats, stats + 4, eps, stats + 8, stats + 12, nullptr, fwsp,
            fws, reserve, rsv);
        std::printf("bn activation: %s\n", fs == CUDNN_STATUS_NOT_SUPPORTED ? "refused" : "not refused");
        if (fs != CUDNN_STATUS_NOT_SUPPORTED)
            return 1;
        // a reserve space whose start is the program's but whose extent runs past its
        // allocation is refused by the executor before cuDNN runs; the error surfaces at the
        // next sync, as a kernel's fault would
        DN(cudnnBatchNormalizationForwardTrainingEx(h, bm, bo, &alpha, &beta, td, y, nullptr, nullptr, td, z,
                                                    bd, bn, bn + 4, factor, stats, stats + 4, eps,
                                                    stats + 8, stats + 12, nullptr, fwsp, fws, dx,
                                                    (size_t)1 << 40));
        cudaError_t e = cudaStreamSynchronize(st);
        std::printf("bn range: %s\n", e == cudaSuccess ? "not refused" : "refused");
        if (e == cudaSuccess || bad)
            return 1;
        std::printf("RESULT OK\n"); // the session's state after the fault is not looked at
        return 0;
    }
    if (std::getenv("DNNCHECK_UNCHECKED")) {
        // under Genie: a variant pack whose shapes are overridden at execution (cuDNN's
        // dynamic shapes) is refused at the call, since the executor sizes every tensor from
        // the plan's descriptors; a real cuDNN takes it (this branch is for the shim only)
        cudnnBackendDescriptor_t pack = make(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
        int64_t shape[4] = {1, 1, 64, 64};
        cudnnStatus_t s = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_OVERRIDE_SHAPES,
                                                   CUDNN_TYPE_INT64, 4, shape);
        std::printf("override shapes: %s\n",
                    s == CUDNN_STATUS_NOT_SUPPORTED ? "refused" : "not refused");
        DN(cudnnBackendDestroyDescriptor(pack));
        if (s != CUDNN_STATUS_NOT_SUPPORTED)
            return 1;
    }
    if (std::getenv("DNNCHECK_CAPTURE_REFUSED")) {
        // under Genie: cuDNN work in a stream capture is refused (the graph replay does not run
        // it yet) and the capture invalidated, rather than recorded into a graph that fails later
        CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
        cudnnBackendDescriptor_t pack = make(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
        int64_t uids[3] = {'x', 'w', 'y'};
        void *ptrs[3] = {x, w, y};
        DN(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids));
        DN(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs));
        DN(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws));
        DN(cudnnBackendFinalize(pack));
        cudnnStatus_t cs = cudnnBackendExecute(h, plan, pack);
        cudaGraph_t graph = nullptr;
        cudaError_t ce = cudaStreamEndCapture(st, &graph);
        DN(cudnnBackendDestroyDescriptor(pack));
        if (cs != CUDNN_STATUS_NOT_SUPPORTED || ce != cudaErrorStreamCaptureInvalidated || graph) {
            std::printf("RESULT FAIL: cuDNN in a capture: status %d, end capture %d\n", (int)cs, (int)ce);
            return 1;
        }
        (void)cudaGetLastError();
        std::printf("capture refused\n");
    }
    for (auto c : cfgs) DN(cudnnBackendDestroyDescriptor(c));
    cudnnBackendDescriptor_t all[] = {plan, heur, g, op, cv, X, Wt, Y};
    for (auto d : all) DN(cudnnBackendDestroyDescriptor(d));
    DN(cudnnDestroyTensorDescriptor(td));
    DN(cudnnDestroyTensorDescriptor(bd));
    DN(cudnnDestroy(h));
    CK(cudaStreamDestroy(st));
    if (bad) {
        std::printf("RESULT FAIL: %d wrong elements\n", bad);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
