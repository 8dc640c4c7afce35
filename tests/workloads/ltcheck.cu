// ltcheck.cu — PyTorch's addmm through cuBLASLt (bias epilogue, heuristic, workspace), twice.
//
//   ltcheck [M=96] [N=40] [K=72]
// y = x W^T + b with x [N, K], W [M, K], b [M], row-major as PyTorch holds them; seen
// column-major as cuBLASLt does, D (M x N) = op(A) B + bias with A = W (transposed).
// Each of two Linear calls builds its descriptors, layouts and preference afresh, asks
// the heuristic, and runs cublasLtMatmul on a stream, as at::cuda::blas::gemm_and_bias does.
// The second call is the same problem on other buffers (another bias of the same
// alignment): under Genie its heuristic is answered from the client's cache, so the run
// makes one query round trip in all (the e2e test checks EXPECT_RT_QUERY=1).
// The layouts of the second call use the header's cublasLt*Init helpers on stack storage.
// Prints RESULT OK.
#include "wl_common.h"

#include <cmath>
#include <cublasLt.h>
#include <vector>

#define CL(call)                                                                           \
    do {                                                                                   \
        cublasStatus_t cl_st_ = (call);                                                    \
        if (cl_st_ != CUBLAS_STATUS_SUCCESS) {                                             \
            std::fprintf(stderr, "%s:%d: %s failed: cublasStatus %d\n", __FILE__, __LINE__, \
                         #call, (int)cl_st_);                                              \
            std::exit(2);                                                                  \
        }                                                                                  \
    } while (0)

static const size_t kWorkspace = 1 << 22; // PyTorch's default cuBLASLt workspace is a few MiB

struct linear {
    int m, n, k;
    const float *w, *x, *b; // device
    float *y;               // device
};

// One addmm, the way PyTorch issues it. inline_layouts: the layouts live in caller storage.
static void addmm(cublasLtHandle_t lt, const linear &L, void *ws, cudaStream_t st,
                  bool inline_layouts)
{
    cublasLtMatmulDesc_t desc;
    CL(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    CL(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CL(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    CL(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    CL(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &L.b, sizeof L.b));

    // attributes read back locally, with cuBLASLt's size rules
    size_t need = 0;
    CL(cublasLtMatmulDescGetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, nullptr, 0, &need));
    const void *bias_back = nullptr;
    size_t wrote = 0;
    CL(cublasLtMatmulDescGetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_back,
                                      sizeof bias_back, &wrote));
    int32_t bad = 0;
    if (need != sizeof(void *) || wrote != need || bias_back != L.b ||
        cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &bad, 1) !=
            CUBLAS_STATUS_INVALID_VALUE) {
        std::fprintf(stderr, "descriptor attributes do not behave like cuBLASLt's\n");
        std::exit(1);
    }

    cublasLtMatrixLayoutOpaque_t store[3];
    cublasLtMatrixLayout_t la, lb, lc;
    if (inline_layouts) {
        la = &store[0];
        lb = &store[1];
        lc = &store[2];
        CL(cublasLtMatrixLayoutInit(la, CUDA_R_32F, L.k, L.m, L.k));
        CL(cublasLtMatrixLayoutInit(lb, CUDA_R_32F, L.k, L.n, L.k));
        CL(cublasLtMatrixLayoutInit(lc, CUDA_R_32F, L.m, L.n, L.m));
    } else {
        CL(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, L.k, L.m, L.k));
        CL(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, L.k, L.n, L.k));
        CL(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, L.m, L.n, L.m));
    }
    cublasLtMatmulPreference_t pref;
    CL(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t wsz = kWorkspace;
    CL(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsz,
                                            sizeof wsz));

    cublasLtMatmulHeuristicResult_t heur = {};
    int found = 0;
    CL(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, 1, &heur, &found));
    if (found < 1) {
        std::fprintf(stderr, "the heuristic found no algorithm\n");
        std::exit(2);
    }
    float alpha = 1.0f, beta = 0.0f;
    CL(cublasLtMatmul(lt, desc, &alpha, L.w, la, L.x, lb, &beta, L.y, lc, L.y, lc, &heur.algo, ws,
                      kWorkspace, st));
    CL(cublasLtMatmulPreferenceDestroy(pref));
    if (!inline_layouts) {
        CL(cublasLtMatrixLayoutDestroy(la));
        CL(cublasLtMatrixLayoutDestroy(lb));
        CL(cublasLtMatrixLayoutDestroy(lc));
    }
    CL(cublasLtMatmulDescDestroy(desc));
}

static double check(const std::vector<float> &y, const std::vector<float> &w,
                    const std::vector<float> &x, const std::vector<float> &b, int m, int n, int k)
{
    double worst = 0;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = b[i];
            for (int p = 0; p < k; p++)
                s += (double)w[(size_t)i * k + p] * x[(size_t)j * k + p];
            double d = std::fabs((double)y[(size_t)j * m + i] - s) / (1.0 + std::fabs(s));
            if (!(d <= worst)) // !(<=) also catches NaN
                worst = d;
        }
    return worst;
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[M=96] [N=40] [K=72]   two addmm through cuBLASLt with a bias epilogue");
    int m = (int)wl_arg(argc, argv, 1, 96);
    int n = (int)wl_arg(argc, argv, 2, 40);
    int k = (int)wl_arg(argc, argv, 3, 72);

    wl_lcg rng(4242u);
    std::vector<float> w((size_t)m * k), x1((size_t)n * k), x2((size_t)n * k), b1(m), b2(m);
    for (auto *v : {&w, &x1, &x2, &b1, &b2})
        for (auto &e : *v)
            e = rng.unit();

    float *dw, *dx1, *dx2, *db1, *db2, *dy1, *dy2;
    void *ws;
    CK(cudaMalloc(&dw, w.size() * sizeof(float)));
    CK(cudaMalloc(&dx1, x1.size() * sizeof(float)));
    CK(cudaMalloc(&dx2, x2.size() * sizeof(float)));
    CK(cudaMalloc(&db1, (size_t)m * sizeof(float)));
    CK(cudaMalloc(&db2, (size_t)m * sizeof(float)));
    CK(cudaMalloc(&dy1, (size_t)m * n * sizeof(float)));
    CK(cudaMalloc(&dy2, (size_t)m * n * sizeof(float)));
    CK(cudaMalloc(&ws, kWorkspace));
    cudaStream_t st;
    CK(cudaStreamCreate(&st));
    CK(cudaMemcpyAsync(dw, w.data(), w.size() * sizeof(float), cudaMemcpyHostToDevice, st));
    CK(cudaMemcpyAsync(dx1, x1.data(), x1.size() * sizeof(float), cudaMemcpyHostToDevice, st));
    CK(cudaMemcpyAsync(dx2, x2.data(), x2.size() * sizeof(float), cudaMemcpyHostToDevice, st));
    CK(cudaMemcpyAsync(db1, b1.data(), (size_t)m * sizeof(float), cudaMemcpyHostToDevice, st));
    CK(cudaMemcpyAsync(db2, b2.data(), (size_t)m * sizeof(float), cudaMemcpyHostToDevice, st));

    cublasLtHandle_t lt;
    CL(cublasLtCreate(&lt));
    addmm(lt, linear{m, n, k, dw, dx1, db1, dy1}, ws, st, false);
    addmm(lt, linear{m, n, k, dw, dx2, db2, dy2}, ws, st, true); // same problem: cached heuristic

    std::vector<float> y1((size_t)m * n), y2((size_t)m * n);
    CK(cudaMemcpyAsync(y1.data(), dy1, y1.size() * sizeof(float), cudaMemcpyDeviceToHost, st));
    CK(cudaMemcpyAsync(y2.data(), dy2, y2.size() * sizeof(float), cudaMemcpyDeviceToHost, st));
    CK(cudaStreamSynchronize(st));
    CL(cublasLtDestroy(lt));

    double e1 = check(y1, w, x1, b1, m, n, k), e2 = check(y2, w, x2, b2, m, n, k);
    std::printf("ltcheck m=%d n=%d k=%d version %zu\n", m, n, k, cublasLtGetVersion());
    std::printf("addmm 1 max rel err %.2e, addmm 2 max rel err %.2e\n", e1, e2);

    CK(cudaStreamDestroy(st));
    for (void *p : {(void *)dw, (void *)dx1, (void *)dx2, (void *)db1, (void *)db2, (void *)dy1,
                    (void *)dy2, ws})
        CK(cudaFree(p));
    if (!(e1 < 1e-4) || !(e2 < 1e-4)) {
        std::printf("RESULT WRONG\n");
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
