// blascheck.cu — the cuBLAS calls a transformer and a CNN make, checked against a CPU reference.
//
//   blascheck [M=37] [N=29] [K=23]
// Sgemm in all four transpose combinations, GemmEx (FP32), SgemmStridedBatched, Sgemv,
// Saxpy, Sscal, Sdot with a host result (a sync) and with a device result (pointer mode
// device), handle state getters, then (pointer mode host) Daxpy, Dscal, Dcopy, S/Dswap, Ddot,
// Dnrm2, S/Dasum, I[sd]amax, I[sd]amin, S/Dger and DgemmBatched, and a call on a NULL handle.
// Prints RESULT OK.
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

static int failures;

// Column-major reference: C = alpha op(A) op(B) + beta C.
static void ref_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                double a = ta ? A[p + (size_t)i * lda] : A[i + (size_t)p * lda];
                double b = tb ? B[j + (size_t)p * ldb] : B[p + (size_t)j * ldb];
                s += a * b;
            }
            C[i + (size_t)j * ldc] = (float)(alpha * s + beta * C[i + (size_t)j * ldc]);
        }
}

static void check(const char *what, const float *got, const float *want, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = std::fabs((double)got[i] - want[i]) / (1.0 + std::fabs((double)want[i]));
        if (!(d <= worst))
            worst = d;
    }
    bool ok = worst < 1e-4;
    std::printf("%-28s max rel err %.2e %s\n", what, worst, ok ? "ok" : "WRONG");
    failures += !ok;
}

static void checkd(const char *what, const double *got, const double *want, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = std::fabs(got[i] - want[i]) / (1.0 + std::fabs(want[i]));
        if (!(d <= worst))
            worst = d;
    }
    bool ok = worst < 1e-12;
    std::printf("%-28s max rel err %.2e %s\n", what, worst, ok ? "ok" : "WRONG");
    failures += !ok;
}

static void checki(const char *what, int got, int want)
{
    bool ok = got == want;
    std::printf("%-28s got %d want %d %s\n", what, got, want, ok ? "ok" : "WRONG");
    failures += !ok;
}

// 1-based index of the first largest (or smallest) |x[i]|, as cuBLAS I?amax/I?amin.
template <typename T> static int ref_iamax(const T *x, int n, bool want_max)
{
    int best = 0;
    for (int i = 1; i < n; i++) {
        double v = std::fabs((double)x[i]), b = std::fabs((double)x[best]);
        if (want_max ? v > b : v < b)
            best = i;
    }
    return best + 1;
}

static std::vector<float> fill(size_t n, wl_lcg &g)
{
    std::vector<float> v(n);
    for (auto &x : v)
        x = g.unit();
    return v;
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[M=37] [N=29] [K=23]");
    int m = (int)wl_arg(argc, argv, 1, 37), n = (int)wl_arg(argc, argv, 2, 29),
        k = (int)wl_arg(argc, argv, 3, 23);
    wl_lcg g(42);
    int big = m > n ? m : n;
    big = big > k ? big : k;
    size_t sz = (size_t)big * big;
    std::vector<float> hA = fill(sz, g), hB = fill(sz, g), hC = fill(sz, g), out(sz);
    float *A, *B, *C;
    CK(cudaMalloc(&A, sz * 4));
    CK(cudaMalloc(&B, sz * 4));
    CK(cudaMalloc(&C, sz * 4));
    CK(cudaMemcpy(A, hA.data(), sz * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(B, hB.data(), sz * 4, cudaMemcpyHostToDevice));

    cublasHandle_t h;
    CB(cublasCreate(&h));
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    CB(cublasSetStream(h, s));
    CB(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    cudaStream_t got_s;
    CB(cublasGetStream(h, &got_s));
    cublasPointerMode_t pm;
    CB(cublasGetPointerMode(h, &pm));
    if (got_s != s || pm != CUBLAS_POINTER_MODE_HOST) {
        std::printf("handle state not mirrored\n");
        failures++;
    }

    // Sgemm, four transpose combinations; ld = big for every matrix.
    const float alpha = 1.5f, beta = -0.5f;
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        CK(cudaMemcpy(C, hC.data(), sz * 4, cudaMemcpyHostToDevice));
        CB(cublasSgemm(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
                       &alpha, A, big, B, big, &beta, C, big));
        CK(cudaMemcpyAsync(out.data(), C, sz * 4, cudaMemcpyDeviceToHost, s));
        CK(cudaStreamSynchronize(s));
        std::vector<float> want = hC;
        ref_gemm(ta, tb, m, n, k, alpha, hA.data(), big, hB.data(), big, beta, want.data(), big);
        char what[64];
        std::snprintf(what, sizeof what, "Sgemm %c%c", ta ? 'T' : 'N', tb ? 'T' : 'N');
        check(what, out.data(), want.data(), sz);
    }

    // GemmEx in FP32.
    CK(cudaMemcpy(C, hC.data(), sz * 4, cudaMemcpyHostToDevice));
    CB(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A, CUDA_R_32F, big, B, CUDA_R_32F,
                    big, &beta, C, CUDA_R_32F, big, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    CK(cudaMemcpy(out.data(), C, sz * 4, cudaMemcpyDeviceToHost));
    {
        std::vector<float> want = hC;
        ref_gemm(false, false, m, n, k, alpha, hA.data(), big, hB.data(), big, beta, want.data(), big);
        check("GemmEx fp32", out.data(), want.data(), sz);
    }

    // Half precision: Hgemm (half in, half out, half scalars) and SgemmEx (half in, float
    // out, float scalars), against the float reference with a half-sized tolerance.
    {
        std::vector<__half> hA16(sz), hB16(sz), hC16(sz);
        std::vector<float> a16(sz), b16(sz);
        for (size_t i = 0; i < sz; i++) {
            hA16[i] = __float2half(hA[i]);
            hB16[i] = __float2half(hB[i]);
            hC16[i] = __float2half(0.0f);
            a16[i] = __half2float(hA16[i]); // what the GPU sees
            b16[i] = __half2float(hB16[i]);
        }
        __half *A16, *B16, *C16;
        CK(cudaMalloc(&A16, sz * 2));
        CK(cudaMalloc(&B16, sz * 2));
        CK(cudaMalloc(&C16, sz * 2));
        CK(cudaMemcpy(A16, hA16.data(), sz * 2, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(B16, hB16.data(), sz * 2, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(C16, hC16.data(), sz * 2, cudaMemcpyHostToDevice));
        __half one = __float2half(1.0f), zero = __float2half(0.0f);
        CB(cublasHgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, A16, big, B16, big, &zero, C16,
                       big));
        std::vector<__half> c16(sz);
        CK(cudaMemcpy(c16.data(), C16, sz * 2, cudaMemcpyDeviceToHost));
        std::vector<float> got(sz, 0.0f), want(sz, 0.0f);
        ref_gemm(false, false, m, n, k, 1.0f, a16.data(), big, b16.data(), big, 0.0f, want.data(), big);
        double worst = 0;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double d = std::fabs(__half2float(c16[i + (size_t)j * big]) - want[i + (size_t)j * big]);
                worst = d > worst ? d : worst;
            }
        bool ok = worst < 2e-2;
        std::printf("%-28s max abs err %.2e %s\n", "Hgemm", worst, ok ? "ok" : "WRONG");
        failures += !ok;
        const float fone = 1.0f, fzero = 0.0f;
        CB(cublasSgemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &fone, A16, CUDA_R_16F, big, B16,
                         CUDA_R_16F, big, &fzero, C, CUDA_R_32F, big));
        CK(cudaMemcpy(out.data(), C, sz * 4, cudaMemcpyDeviceToHost));
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
                got[i + (size_t)j * big] = out[i + (size_t)j * big];
        check("SgemmEx fp16 in, fp32 out", got.data(), want.data(), sz);
        CK(cudaFree(A16));
        CK(cudaFree(B16));
        CK(cudaFree(C16));
    }

    // Strided batched: two small problems inside the same buffers.
    int bm = 5, bn = 4, bk = 3, batch = 2;
    long long stA = bm * bk, stB = bk * bn, stC = bm * bn;
    CK(cudaMemcpy(C, hC.data(), sz * 4, cudaMemcpyHostToDevice));
    CB(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, bm, bn, bk, &alpha, A, bm, stA, B, bk,
                                 stB, &beta, C, bm, stC, batch));
    CK(cudaMemcpy(out.data(), C, sz * 4, cudaMemcpyDeviceToHost));
    {
        std::vector<float> want = hC;
        for (int b = 0; b < batch; b++)
            ref_gemm(false, false, bm, bn, bk, alpha, hA.data() + b * stA, bm, hB.data() + b * stB,
                     bk, beta, want.data() + b * stC, bm);
        check("SgemmStridedBatched", out.data(), want.data(), (size_t)batch * stC);
    }

    // Level 1 and 2 on vectors of length k inside A and B.
    CK(cudaMemcpy(C, hC.data(), sz * 4, cudaMemcpyHostToDevice));
    CB(cublasSgemv(h, CUBLAS_OP_N, m, k, &alpha, A, big, B, 1, &beta, C, 1));
    CK(cudaMemcpy(out.data(), C, (size_t)m * 4, cudaMemcpyDeviceToHost));
    {
        std::vector<float> want(hC.begin(), hC.begin() + m);
        ref_gemm(false, false, m, 1, k, alpha, hA.data(), big, hB.data(), k, beta, want.data(), m);
        check("Sgemv", out.data(), want.data(), (size_t)m);
    }
    CK(cudaMemcpy(C, hC.data(), sz * 4, cudaMemcpyHostToDevice));
    CB(cublasSaxpy(h, k, &alpha, A, 1, C, 1));
    const float two = 2.0f;
    CB(cublasSscal(h, k, &two, C, 1));
    CK(cudaMemcpy(out.data(), C, (size_t)k * 4, cudaMemcpyDeviceToHost));
    {
        std::vector<float> want(k);
        for (int i = 0; i < k; i++)
            want[i] = 2.0f * (alpha * hA[i] + hC[i]);
        check("Saxpy+Sscal", out.data(), want.data(), (size_t)k);
    }
    float dot = 0;
    CB(cublasSdot(h, k, A, 1, B, 1, &dot)); // host result: this call syncs
    double want_dot = 0;
    for (int i = 0; i < k; i++)
        want_dot += (double)hA[i] * hB[i];
    float wd = (float)want_dot;
    check("Sdot (host result)", &dot, &wd, 1);

    CB(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_DEVICE));
    CB(cublasSdot(h, k, A, 1, B, 1, C)); // device result: asynchronous
    float ddot = 0;
    CK(cudaMemcpy(&ddot, C, 4, cudaMemcpyDeviceToHost));
    check("Sdot (device result)", &ddot, &wd, 1);
    CB(cublasGetPointerMode(h, &pm));
    if (pm != CUBLAS_POINTER_MODE_DEVICE) {
        std::printf("pointer mode not mirrored\n");
        failures++;
    }

    // Double precision level 1, swap, asum, i?amax/i?amin, ger and DgemmBatched: each new
    // forwarded call once, results in host memory.
    CB(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST));
    {
        const int nv = k;
        std::vector<double> hx(nv), hy(nv), got(nv), want(nv);
        for (int i = 0; i < nv; i++) {
            hx[i] = hA[i] + hA[nv + i] * (1.0 / 4096); // not representable as float
            hy[i] = hB[i];
        }
        double *dx, *dy;
        CK(cudaMalloc(&dx, nv * 8));
        CK(cudaMalloc(&dy, nv * 8));
        CK(cudaMemcpy(dx, hx.data(), nv * 8, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(dy, hy.data(), nv * 8, cudaMemcpyHostToDevice));
        const double dal = -0.75, dtwo = 2.0;
        CB(cublasDaxpy(h, nv, &dal, dx, 1, dy, 1));
        CB(cublasDscal(h, nv, &dtwo, dy, 1));
        CK(cudaMemcpy(got.data(), dy, nv * 8, cudaMemcpyDeviceToHost));
        for (int i = 0; i < nv; i++)
            want[i] = 2.0 * (dal * hx[i] + hy[i]);
        checkd("Daxpy+Dscal", got.data(), want.data(), nv);
        CB(cublasDcopy(h, nv, dx, 1, dy, 1));
        CK(cudaMemcpy(got.data(), dy, nv * 8, cudaMemcpyDeviceToHost));
        checkd("Dcopy", got.data(), hx.data(), nv);
        CK(cudaMemcpy(dy, hy.data(), nv * 8, cudaMemcpyHostToDevice));
        CB(cublasDswap(h, nv, dx, 1, dy, 1)); // now dx = hy, dy = hx
        CK(cudaMemcpy(got.data(), dx, nv * 8, cudaMemcpyDeviceToHost));
        checkd("Dswap x", got.data(), hy.data(), nv);
        CK(cudaMemcpy(got.data(), dy, nv * 8, cudaMemcpyDeviceToHost));
        checkd("Dswap y", got.data(), hx.data(), nv);
        double r = 0, wr = 0;
        CB(cublasDdot(h, nv, dx, 1, dy, 1, &r));
        for (int i = 0; i < nv; i++)
            wr += hx[i] * hy[i];
        checkd("Ddot (host result)", &r, &wr, 1);
        CB(cublasDnrm2(h, nv, dy, 1, &r));
        wr = 0;
        for (int i = 0; i < nv; i++)
            wr += hx[i] * hx[i];
        wr = std::sqrt(wr);
        checkd("Dnrm2", &r, &wr, 1);
        CB(cublasDasum(h, nv, dy, 1, &r));
        wr = 0;
        for (int i = 0; i < nv; i++)
            wr += std::fabs(hx[i]);
        checkd("Dasum", &r, &wr, 1);
        int idx = -1;
        CB(cublasIdamax(h, nv, dy, 1, &idx));
        checki("Idamax", idx, ref_iamax(hx.data(), nv, true));
        CB(cublasIdamin(h, nv, dy, 1, &idx));
        checki("Idamin", idx, ref_iamax(hx.data(), nv, false));

        // Single precision: Sswap, Sasum, Isamax, Isamin on two fresh vectors.
        float *fx, *fy;
        CK(cudaMalloc(&fx, nv * 4));
        CK(cudaMalloc(&fy, nv * 4));
        CK(cudaMemcpy(fx, hA.data(), nv * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(fy, hB.data(), nv * 4, cudaMemcpyHostToDevice));
        CB(cublasSswap(h, nv, fx, 1, fy, 1)); // now fx = hB, fy = hA
        CK(cudaMemcpy(out.data(), fx, nv * 4, cudaMemcpyDeviceToHost));
        check("Sswap x", out.data(), hB.data(), nv);
        CK(cudaMemcpy(out.data(), fy, nv * 4, cudaMemcpyDeviceToHost));
        check("Sswap y", out.data(), hA.data(), nv);
        float fr = 0;
        CB(cublasSasum(h, nv, fy, 1, &fr));
        double wa = 0;
        for (int i = 0; i < nv; i++)
            wa += std::fabs((double)hA[i]);
        float fwa = (float)wa;
        check("Sasum", &fr, &fwa, 1);
        CB(cublasIsamax(h, nv, fy, 1, &idx));
        checki("Isamax", idx, ref_iamax(hA.data(), nv, true));
        CB(cublasIsamin(h, nv, fy, 1, &idx));
        checki("Isamin", idx, ref_iamax(hA.data(), nv, false));

        // Sger: C(m x n, ld big) += alpha A[0..m) B[0..n)^T.
        CK(cudaMemcpy(C, hC.data(), sz * 4, cudaMemcpyHostToDevice));
        CB(cublasSger(h, m, n, &alpha, A, 1, B, 1, C, big));
        CK(cudaMemcpy(out.data(), C, sz * 4, cudaMemcpyDeviceToHost));
        {
            std::vector<float> w = hC;
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++)
                    w[i + (size_t)j * big] =
                        (float)(hC[i + (size_t)j * big] + (double)alpha * hA[i] * hB[j]);
            check("Sger", out.data(), w.data(), sz);
        }

        // Dger: G(nv x nv, ld nv) += dal hx hy^T.
        std::vector<double> hg((size_t)nv * nv), gg((size_t)nv * nv), wg((size_t)nv * nv);
        for (size_t i = 0; i < hg.size(); i++)
            hg[i] = hC[i];
        double *dg;
        CK(cudaMalloc(&dg, hg.size() * 8));
        CK(cudaMemcpy(dg, hg.data(), hg.size() * 8, cudaMemcpyHostToDevice));
        CB(cublasDger(h, nv, nv, &dal, dy, 1, dx, 1, dg, nv)); // dy = hx, dx = hy
        CK(cudaMemcpy(gg.data(), dg, hg.size() * 8, cudaMemcpyDeviceToHost));
        for (int j = 0; j < nv; j++)
            for (int i = 0; i < nv; i++)
                wg[i + (size_t)j * nv] = hg[i + (size_t)j * nv] + dal * hx[i] * hy[j];
        checkd("Dger", gg.data(), wg.data(), wg.size());

        // DgemmBatched: two (bm x bk)(bk x bn) problems, A transposed, through a device
        // array of device pointers.
        const int nb = 2;
        const size_t la = (size_t)bk * bm, lb = (size_t)bk * bn, lc = (size_t)bm * bn;
        std::vector<double> ha(nb * la), hb(nb * lb), hc(nb * lc), gc(nb * lc), wc(nb * lc);
        for (size_t i = 0; i < ha.size(); i++)
            ha[i] = hA[i] + hA[ha.size() + i] * (1.0 / 4096);
        for (size_t i = 0; i < hb.size(); i++)
            hb[i] = hB[i];
        for (size_t i = 0; i < hc.size(); i++)
            hc[i] = hC[i];
        double *ma, *mb, *mc;
        CK(cudaMalloc(&ma, ha.size() * 8));
        CK(cudaMalloc(&mb, hb.size() * 8));
        CK(cudaMalloc(&mc, hc.size() * 8));
        CK(cudaMemcpy(ma, ha.data(), ha.size() * 8, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(mb, hb.data(), hb.size() * 8, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(mc, hc.data(), hc.size() * 8, cudaMemcpyHostToDevice));
        const double *pa[nb] = {ma, ma + la}, *pb[nb] = {mb, mb + lb};
        double *pc[nb] = {mc, mc + lc};
        const double **dpa, **dpb;
        double **dpc;
        CK(cudaMalloc(&dpa, sizeof pa));
        CK(cudaMalloc(&dpb, sizeof pb));
        CK(cudaMalloc(&dpc, sizeof pc));
        CK(cudaMemcpy(dpa, pa, sizeof pa, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(dpb, pb, sizeof pb, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(dpc, pc, sizeof pc, cudaMemcpyHostToDevice));
        const double gal = 1.25, gbe = -0.5;
        CB(cublasDgemmBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, bm, bn, bk, &gal, dpa, bk, dpb, bk,
                              &gbe, dpc, bm, nb));
        CK(cudaMemcpy(gc.data(), mc, gc.size() * 8, cudaMemcpyDeviceToHost));
        for (int b = 0; b < nb; b++)
            for (int j = 0; j < bn; j++)
                for (int i = 0; i < bm; i++) {
                    double acc = 0;
                    for (int p = 0; p < bk; p++)
                        acc += ha[b * la + p + (size_t)i * bk] * hb[b * lb + p + (size_t)j * bk];
                    size_t o = b * lc + i + (size_t)j * bm;
                    wc[o] = gal * acc + gbe * hc[o];
                }
        checkd("DgemmBatched", gc.data(), wc.data(), wc.size());
        CK(cudaFree(dpa));
        CK(cudaFree(dpb));
        CK(cudaFree(dpc));
        CK(cudaFree(ma));
        CK(cudaFree(mb));
        CK(cudaFree(mc));
        CK(cudaFree(dg));
        CK(cudaFree(fx));
        CK(cudaFree(fy));
        CK(cudaFree(dx));
        CK(cudaFree(dy));
    }

    CB(cublasDestroy(h));
    cublasStatus_t st = cublasSgemm(nullptr, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &alpha, A, 1, B, 1,
                                    &beta, C, 1);
    std::printf("call on a NULL handle: %s\n", cublasGetStatusName(st));
    failures += st != CUBLAS_STATUS_NOT_INITIALIZED;
    CK(cudaDeviceSynchronize());
    CK(cudaFree(A));
    CK(cudaFree(B));
    CK(cudaFree(C));
    if (failures) {
        std::printf("RESULT FAIL %d check(s)\n", failures);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
