// graphs.cu — a CUDA graph by stream capture, launched N times: kernels, a memset, a D2D copy,
// an H2D copy node and a cuBLAS Sgemm, checked against the same calls made directly and a CPU
// reference.
//
// Captured on a blocking stream s (cuBLAS handle on s):
//   H2D dBias <- hBias (pinned: a copy node, read each time the graph runs)
//   memset dAcc = 0;  T = 2 * In;  U = T (D2D);  U += Bias;  Out = W * U (Sgemm, M x K by K x C);
//   Acc += Out
// Before capturing it: a capture that syncs its stream must fail as the runtime documents
// (cudaStreamSynchronize: cudaErrorStreamCaptureUnsupported, the capture invalidated,
// cudaStreamEndCapture: cudaErrorStreamCaptureInvalidated), and cudaStreamIsCapturing /
// cudaStreamGetCaptureInfo must report the capture.
// Then: graph phase: N x (H2D In <- new input; cudaGraphLaunch; D2D stash Acc), one final D2H.
//       direct phase: the same calls without a graph. Results must be bit-identical, and
//       match the CPU reference. Last, hBias changes and one more launch must see it.
// Under Genie with GENIE_STATS=1 each phase prints its round trips and bytes.
#include "wl_models.h"

#include <cmath>
#include <vector>

__global__ void gscale(float *y, const float *x, float a, int n)
{
    int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] = a * x[i];
}

__global__ void gadd(float *y, const float *x, int n)
{
    int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] += x[i];
}

static const int M = 32, K = 64, C = 64, NIN = K * C, NOUT = M * C;

struct bufs {
    float *in, *bias, *t, *u, *out, *acc;
};

// The work of one step, on s: what the graph holds, or what the direct phase calls.
static void step(cublasHandle_t h, cudaStream_t s, const bufs &d, const float *dW,
                 const float *hBias)
{
    const float one = 1.0f, zero = 0.0f;
    CK(cudaMemcpyAsync(d.bias, hBias, NIN * sizeof(float), cudaMemcpyHostToDevice, s));
    CK(cudaMemsetAsync(d.acc, 0, NOUT * sizeof(float), s));
    gscale<<<16, 128, 0, s>>>(d.t, d.in, 2.0f, NIN);
    CK_LAUNCH();
    CK(cudaMemcpyAsync(d.u, d.t, NIN * sizeof(float), cudaMemcpyDeviceToDevice, s));
    gadd<<<16, 128, 0, s>>>(d.u, d.bias, NIN);
    CK_LAUNCH();
    CKB(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, M, C, K, &one, dW, M, d.u, K, &zero, d.out, M));
    gadd<<<16, 128, 0, s>>>(d.acc, d.out, NOUT);
    CK_LAUNCH();
}

static void fill_input(std::vector<float> &in, int iter)
{
    wl_lcg r(1000u + (unsigned)iter);
    for (auto &v : in)
        v = r.unit();
}

// Acc = W * (2 * In + Bias), column-major, in double.
static void reference(const std::vector<float> &W, const std::vector<float> &in,
                      const float *bias, std::vector<double> &acc)
{
    for (int c = 0; c < C; c++)
        for (int m = 0; m < M; m++) {
            double sum = 0;
            for (int k = 0; k < K; k++)
                sum += (double)W[m + k * M] * (double)(2.0f * in[k + c * K] + bias[k + c * K]);
            acc[m + c * M] = sum;
        }
}

static int check(const char *what, const float *got, const std::vector<double> &want)
{
    for (int i = 0; i < NOUT; i++)
        if (std::fabs(got[i] - want[i]) > 1e-3 * (1.0 + std::fabs(want[i]))) {
            std::printf("%s: element %d is %g, want %g\n", what, i, got[i], want[i]);
            return 1;
        }
    return 0;
}

static void print_stats(wl_stats_fn fn, const char *what, int launches, const wl_stats &a,
                        const wl_stats &b)
{
    if (fn)
        std::printf("%s: %d steps, round_trips %llu batches %llu bytes_sent %llu bytes_received "
                    "%llu\n",
                    what, launches, b.round_trips - a.round_trips, b.batches - a.batches,
                    b.bytes_sent - a.bytes_sent, b.bytes_received - a.bytes_received);
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[N=20]   a captured CUDA graph launched N times vs the same calls direct");
    int N = (int)wl_arg(argc, argv, 1, 20);
    int fails = 0;
    wl_stats_fn fn = wl_stats_lookup();

    std::vector<float> W(M * K), in(NIN);
    wl_lcg r(7);
    for (auto &v : W)
        v = r.unit();
    float *hBias;
    CK(cudaMallocHost(&hBias, NIN * sizeof(float)));
    for (int i = 0; i < NIN; i++)
        hBias[i] = 0.25f * (float)(i % 7) - 0.5f;

    float *dW, *dRes;
    bufs d;
    CK(cudaMalloc(&dW, W.size() * sizeof(float)));
    CK(cudaMalloc(&d.in, NIN * sizeof(float)));
    CK(cudaMalloc(&d.bias, NIN * sizeof(float)));
    CK(cudaMalloc(&d.t, NIN * sizeof(float)));
    CK(cudaMalloc(&d.u, NIN * sizeof(float)));
    CK(cudaMalloc(&d.out, NOUT * sizeof(float)));
    CK(cudaMalloc(&d.acc, NOUT * sizeof(float)));
    CK(cudaMalloc(&dRes, (size_t)2 * N * NOUT * sizeof(float)));
    CK(cudaMemcpy(dW, W.data(), W.size() * sizeof(float), cudaMemcpyHostToDevice));
    CK(cudaMemset(d.in, 0, NIN * sizeof(float)));

    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    cublasHandle_t h;
    CKB(cublasCreate(&h));
    CKB(cublasSetStream(h, s));

    // ---- a capture that syncs its stream fails as documented ----
    cudaStreamCaptureStatus st;
    unsigned long long id1 = 0, id2 = 0;
    CK(cudaStreamIsCapturing(s, &st));
    if (st != cudaStreamCaptureStatusNone) {
        std::printf("not capturing yet, but status %d\n", (int)st);
        fails++;
    }
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    CK(cudaStreamGetCaptureInfo(s, &st, &id1));
    std::printf("capture info: %s, id %s\n",
                st == cudaStreamCaptureStatusActive ? "active" : "NOT ACTIVE",
                id1 ? "nonzero" : "ZERO");
    if (st != cudaStreamCaptureStatusActive || !id1)
        fails++;
    gscale<<<16, 128, 0, s>>>(d.t, d.in, 2.0f, NIN);
    CK_LAUNCH();
    cudaError_t e = cudaStreamSynchronize(s);
    std::printf("sync during capture: %s\n", cudaGetErrorName(e));
    if (e != cudaErrorStreamCaptureUnsupported)
        fails++;
    CK(cudaStreamIsCapturing(s, &st));
    std::printf("after the sync: %s\n",
                st == cudaStreamCaptureStatusInvalidated ? "invalidated" : "NOT INVALIDATED");
    if (st != cudaStreamCaptureStatusInvalidated)
        fails++;
    cudaGraph_t g = nullptr;
    e = cudaStreamEndCapture(s, &g);
    std::printf("end of the invalidated capture: %s\n", cudaGetErrorName(e));
    if (e != cudaErrorStreamCaptureInvalidated || g != nullptr)
        fails++;
    (void)cudaGetLastError();
    CK(cudaStreamIsCapturing(s, &st));
    if (st != cudaStreamCaptureStatusNone) {
        std::printf("capture still there after its end: status %d\n", (int)st);
        fails++;
    }

    // ---- the graph ----
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    CK(cudaStreamGetCaptureInfo(s, &st, &id2));
    if (st != cudaStreamCaptureStatusActive || !id2 || id2 == id1) {
        std::printf("second capture: status %d, id %llu (first %llu)\n", (int)st, id2, id1);
        fails++;
    }
    step(h, s, d, dW, hBias);
    CK(cudaStreamEndCapture(s, &g));
    size_t nodes = 0;
    CK(cudaGraphGetNodes(g, nullptr, &nodes));
    std::printf("graph nodes: %s\n", nodes >= 7 ? "at least 7" : "TOO FEW");
    if (nodes < 7)
        fails++;
    cudaGraphExec_t x;
    CK(cudaGraphInstantiateWithFlags(&x, g, 0));
    CK(cudaGraphDestroy(g)); // the executable graph lives on without it
    // set-up, uploads and the graph's definition go out now (one round trip), so that the
    // phases below count only their own steps
    CK(cudaStreamSynchronize(s));

    // ---- graph phase: N launches, one copy back ----
    std::vector<float> res((size_t)2 * N * NOUT);
    wl_stats a = wl_stats_read(fn);
    for (int i = 0; i < N; i++) {
        fill_input(in, i);
        CK(cudaMemcpyAsync(d.in, in.data(), NIN * sizeof(float), cudaMemcpyHostToDevice, s));
        CK(cudaGraphLaunch(x, s));
        CK(cudaMemcpyAsync(dRes + (size_t)i * NOUT, d.acc, NOUT * sizeof(float),
                           cudaMemcpyDeviceToDevice, s));
    }
    CK(cudaMemcpyAsync(res.data(), dRes, (size_t)N * NOUT * sizeof(float), cudaMemcpyDeviceToHost,
                       s));
    CK(cudaStreamSynchronize(s));
    wl_stats b = wl_stats_read(fn);
    print_stats(fn, "graph", N, a, b);

    // ---- direct phase: the same calls ----
    a = wl_stats_read(fn);
    for (int i = 0; i < N; i++) {
        fill_input(in, i);
        CK(cudaMemcpyAsync(d.in, in.data(), NIN * sizeof(float), cudaMemcpyHostToDevice, s));
        step(h, s, d, dW, hBias);
        CK(cudaMemcpyAsync(dRes + (size_t)(N + i) * NOUT, d.acc, NOUT * sizeof(float),
                           cudaMemcpyDeviceToDevice, s));
    }
    CK(cudaMemcpyAsync(res.data() + (size_t)N * NOUT, dRes + (size_t)N * NOUT,
                       (size_t)N * NOUT * sizeof(float), cudaMemcpyDeviceToHost, s));
    CK(cudaStreamSynchronize(s));
    b = wl_stats_read(fn);
    print_stats(fn, "direct", N, a, b);

    bool same = std::memcmp(res.data(), res.data() + (size_t)N * NOUT,
                            (size_t)N * NOUT * sizeof(float)) == 0;
    std::printf("graph replays bit-identical to direct calls: %s\n", same ? "yes" : "NO");
    if (!same)
        fails++;
    std::vector<double> want(NOUT);
    for (int i = 0; i < N && !fails; i++) {
        fill_input(in, i);
        reference(W, in, hBias, want);
        fails += check("graph", res.data() + (size_t)i * NOUT, want);
    }

    // ---- the copy node reads host memory at each launch ----
    for (int i = 0; i < NIN; i++)
        hBias[i] = 1.0f - 0.125f * (float)(i % 5);
    CK(cudaGraphLaunch(x, s));
    std::vector<float> last(NOUT);
    CK(cudaMemcpyAsync(last.data(), d.acc, NOUT * sizeof(float), cudaMemcpyDeviceToHost, s));
    CK(cudaStreamSynchronize(s));
    fill_input(in, N - 1); // d.in still holds the last input
    reference(W, in, hBias, want);
    int f = check("launch after the bias changed", last.data(), want);
    std::printf("copy node sees the new host bytes: %s\n", f ? "NO" : "yes");
    fails += f;

    CK(cudaGraphExecDestroy(x));
    CKB(cublasDestroy(h));
    CK(cudaStreamDestroy(s));
    CK(cudaFreeHost(hBias));
    for (float *p : {dW, dRes, d.in, d.bias, d.t, d.u, d.out, d.acc})
        CK(cudaFree(p));
    if (fails) {
        std::printf("RESULT FAIL (%d)\n", fails);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
