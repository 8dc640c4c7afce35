// blas64.cu — cuBLAS calls beyond the common 32-bit ones: the 64-bit-integer API (the _64 forms,
// CUDA 12+) beside the 32-bit one, and cublasDotEx (torch.dot on fp16), in the style of the
// cuBLAS documentation examples: allocate, set, compute, get, check.
//
//   blas64 [M=48] [N=40] [K=56]
// cublasSaxpy_64, Sscal_64, Scopy_64, Sdot_64, Snrm2_64, Sgemv_64, Sgemm_64, Dgemm_64,
// SgemmStridedBatched_64, SgemmBatched_64, GemmEx_64 and GemmStridedBatchedEx_64, each
// compared with its 32-bit form on the same inputs (the same library computes both: the
// results must be identical) and with a CPU reference; cublasDotEx in fp16 and fp32 against
// cublasSdot and the CPU. Prints RESULT OK.
#include "wl_common.h"

#include <cmath>
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <vector>

#define CB(call)                                                                           \
    do {                                                                                   \
        cublasStatus_t cb_st_ = (call);                                                    \
        if (cb_st_ != CUBLAS_STATUS_SUCCESS) {                                             \
            std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,      \
                         cublasGetStatusName(cb_st_));                                     \
            std::exit(2);                                                                  \
        }                                                                                  \
    } while (0)

template <typename T> static std::vector<T> get(const T *d, size_t n)
{
    std::vector<T> h(n);
    CK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
}

template <typename T> static T *put(const std::vector<T> &h)
{
    T *d;
    CK(cudaMalloc(&d, h.size() * sizeof(T)));
    CK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}

static bool close(double got, double want) { return std::fabs(got - want) <= 1e-4 * (1 + std::fabs(want)); }

template <typename T> static bool all_close(const std::vector<T> &a, const std::vector<double> &b)
{
    for (size_t i = 0; i < a.size(); i++)
        if (!close((double)a[i], b[i]))
            return false;
    return true;
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[M=48] [N=40] [K=56]");
    const int M = (int)wl_arg(argc, argv, 1, 48), N = (int)wl_arg(argc, argv, 2, 40),
              K = (int)wl_arg(argc, argv, 3, 56);
    const int64_t m = M, n = N, k = K;
    cublasHandle_t h;
    CB(cublasCreate(&h));
    wl_lcg rng(2024u);
    auto vec = [&](size_t len) {
        std::vector<float> v(len);
        for (auto &x : v)
            x = rng.unit();
        return v;
    };

    // level 1: y = a x + y, x *= s, z = x, dot, nrm2
    std::vector<float> hx = vec(M), hy = vec(M);
    float *x = put(hx), *y32 = put(hy), *y64 = put(hy), *z = put(std::vector<float>(M, 0.0f));
    const float a = 0.75f, sc = -1.5f;
    CB(cublasSaxpy(h, M, &a, x, 1, y32, 1));
    CB(cublasSaxpy_64(h, m, &a, x, 1, y64, 1));
    std::vector<double> want(M);
    for (int i = 0; i < M; i++)
        want[i] = (double)a * hx[i] + hy[i];
    std::vector<float> g32 = get(y32, M), g64 = get(y64, M);
    EXPECT(g32 == g64 && all_close(g64, want));
    CB(cublasSscal_64(h, m, &sc, y64, 1));
    CB(cublasScopy_64(h, m, y64, 1, z, 1));
    for (int i = 0; i < M; i++)
        want[i] *= sc;
    EXPECT(all_close(get(z, M), want));
    float d32 = 0, d64 = 0, n32 = 0, n64 = 0;
    CB(cublasSdot(h, M, x, 1, z, 1, &d32));
    CB(cublasSdot_64(h, m, x, 1, z, 1, &d64));
    CB(cublasSnrm2(h, M, z, 1, &n32));
    CB(cublasSnrm2_64(h, m, z, 1, &n64));
    double dref = 0, nref = 0;
    for (int i = 0; i < M; i++)
        dref += (double)hx[i] * want[i], nref += want[i] * want[i];
    EXPECT(d32 == d64 && close(d64, dref));
    EXPECT(n32 == n64 && close(n64, std::sqrt(nref)));

    // cublasDotEx: fp32 like cublasSdot; fp16 inputs (exact in half: multiples of 1/8 below 2)
    float dex = 0;
    CB(cublasDotEx(h, M, x, CUDA_R_32F, 1, z, CUDA_R_32F, 1, &dex, CUDA_R_32F, CUDA_R_32F));
    EXPECT(dex == d32);
    std::vector<__half> hh(M), hk(M);
    double href = 0;
    for (int i = 0; i < M; i++) {
        float p = (float)((i % 32) - 16) / 8.0f, q = (float)((i * 7 % 24) - 12) / 8.0f;
        hh[i] = __float2half(p);
        hk[i] = __float2half(q);
        href += (double)p * q;
    }
    __half *dh = put(hh), *dk = put(hk);
    __half hres;
    CB(cublasDotEx(h, M, dh, CUDA_R_16F, 1, dk, CUDA_R_16F, 1, &hres, CUDA_R_16F, CUDA_R_32F));
    EXPECT(__half2float(hres) == __half2float(__float2half((float)href))); // one rounding
    EXPECT(cublasDotEx(h, M, dh, CUDA_R_16F, 1, dk, CUDA_R_16F, 1, &hres, CUDA_R_16F,
                       CUDA_R_8I) != CUBLAS_STATUS_SUCCESS);
    CK(cudaFree(dh));
    CK(cudaFree(dk));

    // level 2: y = A x (A M x N, column-major)
    std::vector<float> hA = vec((size_t)M * K), hB = vec((size_t)K * N), hv = vec(N);
    std::vector<float> hG = vec((size_t)M * N);
    float *G = put(hG), *v = put(hv), *w32 = put(std::vector<float>(M, 0.0f)),
          *w64 = put(std::vector<float>(M, 0.0f));
    const float one = 1.0f, zero = 0.0f;
    CB(cublasSgemv(h, CUBLAS_OP_N, M, N, &one, G, M, v, 1, &zero, w32, 1));
    CB(cublasSgemv_64(h, CUBLAS_OP_N, m, n, &one, G, m, v, 1, &zero, w64, 1));
    for (int i = 0; i < M; i++) {
        double acc = 0;
        for (int j = 0; j < N; j++)
            acc += (double)hG[(size_t)j * M + i] * hv[j];
        want[i] = acc;
    }
    EXPECT(get(w32, M) == get(w64, M) && all_close(get(w64, M), want));

    // level 3: C = A B, single and double, plain, strided batched (2), batched, GemmEx
    std::vector<double> cref((size_t)M * N);
    for (int j = 0; j < N; j++)
        for (int i = 0; i < M; i++) {
            double acc = 0;
            for (int l = 0; l < K; l++)
                acc += (double)hA[(size_t)l * M + i] * hB[(size_t)j * K + l];
            cref[(size_t)j * M + i] = acc;
        }
    float *A = put(hA), *B = put(hB);
    const size_t mn = (size_t)M * N;
    float *C32 = put(std::vector<float>(mn, 0.0f)), *C64 = put(std::vector<float>(mn, 0.0f));
    CB(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, M, N, K, &one, A, M, B, K, &zero, C32, M));
    CB(cublasSgemm_64(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, A, m, B, k, &zero, C64, m));
    EXPECT(get(C32, mn) == get(C64, mn) && all_close(get(C64, mn), cref));

    std::vector<double> dA(hA.begin(), hA.end()), dB(hB.begin(), hB.end());
    double *DA = put(dA), *DB = put(dB), *DC = put(std::vector<double>(mn, 0.0));
    const double done = 1.0, dzero = 0.0;
    CB(cublasDgemm_64(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &done, DA, m, DB, k, &dzero, DC, m));
    EXPECT(all_close(get(DC, mn), cref));

    // two problems on the same A and B (strides 0), then the batched and Ex forms with alpha 2
    float *Cs = put(std::vector<float>(2 * mn, 0.0f));
    CB(cublasSgemmStridedBatched_64(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, A, m, 0, B, k, 0,
                                    &zero, Cs, m, (long long)mn, 2));
    std::vector<float> gs = get(Cs, 2 * mn);
    EXPECT(std::vector<float>(gs.begin(), gs.begin() + mn) == get(C32, mn) &&
           std::vector<float>(gs.begin() + mn, gs.end()) == get(C32, mn));
    const float *Aarr[2] = {A, A}, *Barr[2] = {B, B};
    float *Carr[2] = {C64, Cs};
    const float **dAarr, **dBarr;
    float **dCarr;
    CK(cudaMalloc(&dAarr, sizeof Aarr));
    CK(cudaMalloc(&dBarr, sizeof Barr));
    CK(cudaMalloc(&dCarr, sizeof Carr));
    CK(cudaMemcpy(dAarr, Aarr, sizeof Aarr, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dBarr, Barr, sizeof Barr, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dCarr, Carr, sizeof Carr, cudaMemcpyHostToDevice));
    const float two = 2.0f;
    CB(cublasSgemmBatched_64(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &two, dAarr, m, dBarr, k, &zero,
                             dCarr, m, 2));
    std::vector<double> cref2(cref);
    for (auto &c : cref2)
        c *= 2;
    EXPECT(all_close(get(C64, mn), cref2) && all_close(get(Cs, mn), cref2));
    CB(cublasGemmEx_64(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, A, CUDA_R_32F, m, B, CUDA_R_32F,
                       k, &zero, C64, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    EXPECT(get(C64, mn) == get(C32, mn));
    CB(cublasGemmStridedBatchedEx_64(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &two, A, CUDA_R_32F, m,
                                     0, B, CUDA_R_32F, k, 0, &zero, Cs, CUDA_R_32F, m,
                                     (long long)mn, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    EXPECT(all_close(get(Cs, 2 * mn), [&] {
        std::vector<double> r(cref2);
        r.insert(r.end(), cref2.begin(), cref2.end());
        return r;
    }()));

    for (void *p : {(void *)x, (void *)y32, (void *)y64, (void *)z, (void *)G, (void *)v,
                    (void *)w32, (void *)w64, (void *)A, (void *)B, (void *)C32, (void *)C64,
                    (void *)DA, (void *)DB, (void *)DC, (void *)Cs, (void *)dAarr, (void *)dBarr,
                    (void *)dCarr})
        CK(cudaFree(p));
    CB(cublasDestroy(h));
    return wl_result();
}
