// blascheck.cu — the cuBLAS calls a transformer and a CNN make, checked against a CPU reference.
//
//   blascheck [M=37] [N=29] [K=23]
// Sgemm in all four transpose combinations, GemmEx (FP32), SgemmStridedBatched, Sgemv,
// Saxpy, Sscal, Sdot with a host result (a sync) and with a device result (pointer mode
// device), handle state getters, then (pointer mode host) Daxpy, Dscal, Dcopy, S/Dswap, Ddot,
// Dnrm2, S/Dasum, I[sd]amax, I[sd]amin, S/Dger and DgemmBatched; Cgemm, Zgemm,
// CgemmStridedBatched, Strsm, Dsyrk, Sgeam, SgetrfBatched + SgetrsBatched (device arrays of
// device pointers, a host info); handle state set again and again with the same values
// around GEMMs, as PyTorch does before every GEMM (under Genie with GENIE_STATS=1 it prints
// "state dedup: ..." with the records those made); and a call on a NULL handle. Prints RESULT OK.
#include "wl_common.h"
#include "wl_models.h"

#include <cmath>
#include <complex>
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

typedef std::complex<double> zc;

static void checkz(const char *what, const zc *got, const zc *want, size_t n, double tol)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = std::abs(got[i] - want[i]) / (1.0 + std::abs(want[i]));
        if (!(d <= worst))
            worst = d;
    }
    bool ok = worst < tol;
    std::printf("%-28s max rel err %.2e %s\n", what, worst, ok ? "ok" : "WRONG");
    failures += !ok;
}

// element (i, j) of op(X), X column-major with leading dimension ld
static zc zop(const std::vector<zc> &X, int ld, cublasOperation_t op, int i, int j)
{
    if (op == CUBLAS_OP_N)
        return X[i + (size_t)j * ld];
    zc v = X[j + (size_t)i * ld];
    return op == CUBLAS_OP_C ? std::conj(v) : v;
}

template <typename T> static T *dev_copy(const std::vector<T> &h)
{
    T *d;
    CK(cudaMalloc(&d, h.size() * sizeof(T)));
    CK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}

template <typename T> static std::vector<T> host_copy(const T *d, size_t n)
{
    std::vector<T> h(n);
    CK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
}

// The complex GEMMs, trsm, syrk, geam and the batched LU solve (pointer mode host).
static void more_checks(cublasHandle_t h, wl_lcg &g)
{
    const int m = 7, n = 5, k = 6, ld = 8;
    std::vector<zc> za(ld * 8), zb(ld * 8), zcm(ld * 8);
    for (auto *v : {&za, &zb, &zcm})
        for (auto &x : *v)
            x = zc(g.unit(), g.unit()); // exact in float: C and Z share the inputs

    // Cgemm (N, C) and Zgemm (T, N): C = alpha op(A) op(B) + beta C
    struct {
        cublasOperation_t ta, tb;
        bool dbl;
    } cases[2] = {{CUBLAS_OP_N, CUBLAS_OP_C, false}, {CUBLAS_OP_T, CUBLAS_OP_N, true}};
    const zc al(0.75, -0.5), be(-0.25, 1);
    for (auto &c : cases) {
        std::vector<zc> want = zcm;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                zc acc = 0;
                for (int p = 0; p < k; p++)
                    acc += zop(za, ld, c.ta, i, p) * zop(zb, ld, c.tb, p, j);
                want[i + (size_t)j * ld] = al * acc + be * zcm[i + (size_t)j * ld];
            }
        std::vector<zc> got(zcm.size());
        if (c.dbl) {
            std::vector<cuDoubleComplex> a(za.size()), b(zb.size()), cc(zcm.size());
            for (size_t i = 0; i < za.size(); i++) {
                a[i] = make_cuDoubleComplex(za[i].real(), za[i].imag());
                b[i] = make_cuDoubleComplex(zb[i].real(), zb[i].imag());
                cc[i] = make_cuDoubleComplex(zcm[i].real(), zcm[i].imag());
            }
            cuDoubleComplex *da = dev_copy(a), *db = dev_copy(b), *dc = dev_copy(cc);
            cuDoubleComplex alz = make_cuDoubleComplex(al.real(), al.imag());
            cuDoubleComplex bez = make_cuDoubleComplex(be.real(), be.imag());
            CB(cublasZgemm(h, c.ta, c.tb, m, n, k, &alz, da, ld, db, ld, &bez, dc, ld));
            std::vector<cuDoubleComplex> r = host_copy(dc, cc.size());
            for (size_t i = 0; i < r.size(); i++)
                got[i] = zc(cuCreal(r[i]), cuCimag(r[i]));
            checkz("Zgemm (T, N)", got.data(), want.data(), got.size(), 1e-12);
            CK(cudaFree(da));
            CK(cudaFree(db));
            CK(cudaFree(dc));
        } else {
            std::vector<cuComplex> a(za.size()), b(zb.size()), cc(zcm.size());
            for (size_t i = 0; i < za.size(); i++) {
                a[i] = make_cuComplex((float)za[i].real(), (float)za[i].imag());
                b[i] = make_cuComplex((float)zb[i].real(), (float)zb[i].imag());
                cc[i] = make_cuComplex((float)zcm[i].real(), (float)zcm[i].imag());
            }
            cuComplex *da = dev_copy(a), *db = dev_copy(b), *dc = dev_copy(cc);
            cuComplex alc = make_cuComplex((float)al.real(), (float)al.imag());
            cuComplex bec = make_cuComplex((float)be.real(), (float)be.imag());
            CB(cublasCgemm(h, c.ta, c.tb, m, n, k, &alc, da, ld, db, ld, &bec, dc, ld));
            std::vector<cuComplex> r = host_copy(dc, cc.size());
            for (size_t i = 0; i < r.size(); i++)
                got[i] = zc(cuCrealf(r[i]), cuCimagf(r[i]));
            checkz("Cgemm (N, C)", got.data(), want.data(), got.size(), 1e-5);

            // CgemmStridedBatched: two (m x k)(k x n) problems packed one after the other
            const int nb = 2;
            const long long sa = (long long)m * k, sb = (long long)k * n, sc = (long long)m * n;
            std::vector<cuComplex> ba(nb * sa), bb(nb * sb), bc(nb * sc);
            for (size_t i = 0; i < ba.size(); i++)
                ba[i] = a[i % a.size()];
            for (size_t i = 0; i < bb.size(); i++)
                bb[i] = b[(i * 3) % b.size()];
            for (size_t i = 0; i < bc.size(); i++)
                bc[i] = cc[i];
            cuComplex *dba = dev_copy(ba), *dbb = dev_copy(bb), *dbc = dev_copy(bc);
            CB(cublasCgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alc, dba, m, sa,
                                         dbb, k, sb, &bec, dbc, m, sc, nb));
            std::vector<cuComplex> rb = host_copy(dbc, bc.size());
            std::vector<zc> gotb(bc.size()), wantb(bc.size());
            for (int q = 0; q < nb; q++)
                for (int j = 0; j < n; j++)
                    for (int i = 0; i < m; i++) {
                        zc acc = 0;
                        for (int p = 0; p < k; p++) {
                            cuComplex x = ba[q * sa + i + (size_t)p * m],
                                      y = bb[q * sb + p + (size_t)j * k];
                            acc += zc(cuCrealf(x), cuCimagf(x)) * zc(cuCrealf(y), cuCimagf(y));
                        }
                        size_t o = q * sc + i + (size_t)j * m;
                        wantb[o] = al * acc + be * zc(cuCrealf(bc[o]), cuCimagf(bc[o]));
                        gotb[o] = zc(cuCrealf(rb[o]), cuCimagf(rb[o]));
                    }
            checkz("CgemmStridedBatched", gotb.data(), wantb.data(), gotb.size(), 1e-5);
            CK(cudaFree(da));
            CK(cudaFree(db));
            CK(cudaFree(dc));
            CK(cudaFree(dba));
            CK(cudaFree(dbb));
            CK(cudaFree(dbc));
        }
    }

    // Strsm, left, lower, N, non-unit: X = alpha L^-1 B; checked by L X == alpha B
    {
        const int tm = 6, tn = 4;
        std::vector<float> L(tm * tm), Bm(tm * tn);
        for (int j = 0; j < tm; j++)
            for (int i = 0; i < tm; i++)
                L[i + j * tm] = i == j ? 2 + g.unit() * 0.5f : g.unit();
        for (auto &x : Bm)
            x = g.unit();
        float *dL = dev_copy(L), *dB = dev_copy(Bm);
        const float ta = 1.5f;
        CB(cublasStrsm(h, CUBLAS_SIDE_LEFT, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N,
                       CUBLAS_DIAG_NON_UNIT, tm, tn, &ta, dL, tm, dB, tm));
        std::vector<float> X = host_copy(dB, Bm.size()), LX(Bm.size()), want(Bm.size());
        for (int j = 0; j < tn; j++)
            for (int i = 0; i < tm; i++) {
                double acc = 0;
                for (int p = 0; p <= i; p++)
                    acc += (double)L[i + p * tm] * X[p + j * tm];
                LX[i + j * tm] = (float)acc;
                want[i + j * tm] = ta * Bm[i + j * tm];
            }
        check("Strsm (L X = alpha B)", LX.data(), want.data(), LX.size());
        CK(cudaFree(dL));
        CK(cudaFree(dB));
    }

    // Dsyrk, upper, N: C = alpha A A^T + beta C on the upper triangle only
    {
        const int sn = 5, sk = 3;
        std::vector<double> A(sn * sk), C(sn * sn);
        for (auto &x : A)
            x = g.unit();
        for (auto &x : C)
            x = g.unit();
        double *dA = dev_copy(A), *dC = dev_copy(C);
        const double sa = 0.5, sb = 2;
        CB(cublasDsyrk(h, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N, sn, sk, &sa, dA, sn, &sb, dC, sn));
        std::vector<double> got = host_copy(dC, C.size()), want = C;
        for (int j = 0; j < sn; j++)
            for (int i = 0; i <= j; i++) {
                double acc = 0;
                for (int p = 0; p < sk; p++)
                    acc += A[i + p * sn] * A[j + p * sn];
                want[i + j * sn] = sa * acc + sb * C[i + j * sn];
            }
        checkd("Dsyrk (upper)", got.data(), want.data(), got.size());
        CK(cudaFree(dA));
        CK(cudaFree(dC));
    }

    // Sgeam: C = alpha A^T + beta B, C m x n
    {
        std::vector<float> A(n * m), Bm(m * n);
        for (auto &x : A)
            x = g.unit();
        for (auto &x : Bm)
            x = g.unit();
        float *dA = dev_copy(A), *dB = dev_copy(Bm), *dC;
        CK(cudaMalloc(&dC, (size_t)m * n * 4));
        const float ga = 2, gb = -0.5f;
        CB(cublasSgeam(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, &ga, dA, n, &gb, dB, m, dC, m));
        std::vector<float> got = host_copy(dC, (size_t)m * n), want(got.size());
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
                want[i + j * m] = ga * A[j + i * n] + gb * Bm[i + j * m];
        check("Sgeam (T, N)", got.data(), want.data(), got.size());
        CK(cudaFree(dA));
        CK(cudaFree(dB));
        CK(cudaFree(dC));
    }

    // SgetrfBatched + SgetrsBatched: two 6 x 6 systems, device arrays of device pointers,
    // pivots and per-matrix info on the device, getrs's info on the host
    {
        const int ln = 6, nb = 2, nrhs = 2;
        std::vector<float> A(nb * ln * ln), Bm(nb * ln * nrhs);
        for (auto &x : A)
            x = g.unit();
        for (auto &x : Bm)
            x = g.unit();
        A[0] = 0; // the first pivot must come from another row
        float *dA = dev_copy(A), *dB = dev_copy(Bm);
        float *pa[nb] = {dA, dA + ln * ln}, *pb[nb] = {dB, dB + ln * nrhs};
        std::vector<float *> vpa(pa, pa + nb), vpb(pb, pb + nb);
        float **dpa = dev_copy(vpa), **dpb = dev_copy(vpb);
        int *dpiv, *dinfo;
        CK(cudaMalloc(&dpiv, nb * ln * sizeof(int)));
        CK(cudaMalloc(&dinfo, nb * sizeof(int)));
        CB(cublasSgetrfBatched(h, ln, dpa, ln, dpiv, dinfo, nb));
        int hinfo = -99;
        CB(cublasSgetrsBatched(h, CUBLAS_OP_N, ln, nrhs, (const float *const *)dpa, ln, dpiv, dpb,
                               ln, &hinfo, nb));
        checki("SgetrsBatched host info", hinfo, 0);
        // a bad argument (ldb under n: the 8th after the handle): the status and info say so
        hinfo = -99;
        cublasStatus_t bad = cublasSgetrsBatched(h, CUBLAS_OP_N, ln, nrhs,
                                                 (const float *const *)dpa, ln, dpiv, dpb, 1,
                                                 &hinfo, nb);
        checki("SgetrsBatched bad ldb status", (int)bad, (int)CUBLAS_STATUS_INVALID_VALUE);
        checki("SgetrsBatched bad ldb info", hinfo, -8);
        (void)cudaGetLastError();
        std::vector<int> info = host_copy(dinfo, nb), piv = host_copy(dpiv, (size_t)nb * ln);
        checki("SgetrfBatched info[0]", info[0], 0);
        checki("SgetrfBatched info[1]", info[1], 0);
        failures += piv[0] == 1; // A[0] = 0 cannot be the first pivot
        std::vector<float> X = host_copy(dB, Bm.size()), AX(Bm.size());
        for (int q = 0; q < nb; q++)
            for (int j = 0; j < nrhs; j++)
                for (int i = 0; i < ln; i++) {
                    double acc = 0;
                    for (int p = 0; p < ln; p++)
                        acc += (double)A[q * ln * ln + i + p * ln] * X[q * ln * nrhs + p + j * ln];
                    AX[q * ln * nrhs + i + j * ln] = (float)acc;
                }
        double worst = 0;
        for (size_t i = 0; i < AX.size(); i++)
            worst = std::fmax(worst, std::fabs((double)AX[i] - Bm[i]));
        bool ok = worst < 1e-3;
        std::printf("%-28s max residual %.2e %s\n", "Sgetr{f,s}Batched A X = B", worst,
                    ok ? "ok" : "WRONG");
        failures += !ok;
        CK(cudaFree(dA));
        CK(cudaFree(dB));
        CK(cudaFree(dpa));
        CK(cudaFree(dpb));
        CK(cudaFree(dpiv));
        CK(cudaFree(dinfo));
    }
}

static unsigned long long ops_recorded(wl_stats_fn fn)
{
    static char js[1 << 16];
    return fn && fn(js, sizeof js) == 0 ? wl_json_u64(js, "ops_recorded") : 0ull;
}

// PyTorch sets stream, workspace and math mode before every GEMM, nearly always to what the
// handle already has: Genie records none of those (only the GEMMs), but still records a
// change, the workspace reset a same-stream cublasSetStream implies, and puts a handle whose
// stream was destroyed back on the NULL stream. Results are checked either way.
static void state_checks(int m, int n, int k, const float *A, const float *B, float *C,
                         const std::vector<float> &hA, const std::vector<float> &hB,
                         const std::vector<float> &hC, int big)
{
    wl_stats_fn fn = wl_stats_lookup();
    size_t sz = (size_t)big * big;
    cublasHandle_t h;
    CB(cublasCreate(&h));
    cudaStream_t s;
    // a blocking stream: the plain cudaMemcpy calls (legacy stream) around the GEMMs must be
    // ordered with them; a non-blocking stream would race with them, as on a GPU
    CK(cudaStreamCreate(&s));
    void *ws;
    const size_t wsz = 1 << 20;
    CK(cudaMalloc(&ws, wsz));
    const float alpha = 0.75f, beta = 0.25f;
    CK(cudaMemcpy(C, hC.data(), sz * 4, cudaMemcpyHostToDevice));
    CB(cublasSetStream(h, s));
    CB(cublasSetWorkspace(h, ws, wsz));
    CB(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH));
    const int gemms = 8;
    unsigned long long r0 = ops_recorded(fn);
    for (int i = 0; i < gemms; i++) {
        CB(cublasSetStream(h, s));
        CB(cublasSetWorkspace(h, ws, wsz));
        CB(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH));
        CB(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST));
        CB(cublasSetAtomicsMode(h, CUBLAS_ATOMICS_NOT_ALLOWED));
        CB(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A, big, B, big, &beta, C,
                       big));
    }
    unsigned long long r1 = ops_recorded(fn);
    // the same stream again, no workspace after it: cuBLAS is back on its default pool, so
    // the reset reaches the executor before the GEMM
    CB(cublasSetStream(h, s));
    CB(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A, big, B, big, &beta, C, big));
    unsigned long long r2 = ops_recorded(fn);
    std::vector<float> out(sz), want = hC;
    CK(cudaMemcpyAsync(out.data(), C, sz * 4, cudaMemcpyDeviceToHost, s));
    CK(cudaStreamSynchronize(s));
    for (int i = 0; i < gemms + 1; i++)
        ref_gemm(false, false, m, n, k, alpha, hA.data(), big, hB.data(), big, beta, want.data(),
                 big);
    check("Sgemm, state set each time", out.data(), want.data(), sz);

    // changes still take effect
    cublasMath_t mm;
    CB(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    CB(cublasGetMathMode(h, &mm));
    failures += mm != CUBLAS_DEFAULT_MATH;

    // a stream destroyed under the handle: Genie's handle is back on the NULL stream (real
    // cuBLAS keeps the dead one), and the handle still computes
    cudaStream_t s2, got;
    CK(cudaStreamCreate(&s2));
    CB(cublasSetStream(h, s2));
    CK(cudaStreamDestroy(s2));
    CB(cublasGetStream(h, &got));
    const char *after = got == nullptr ? "NULL" : got == s2 ? "the destroyed one" : "another";
    CK(cudaMemcpy(C, hC.data(), sz * 4, cudaMemcpyHostToDevice));
    CB(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A, big, B, big, &beta, C, big));
    CK(cudaMemcpy(out.data(), C, sz * 4, cudaMemcpyDeviceToHost));
    want = hC;
    ref_gemm(false, false, m, n, k, alpha, hA.data(), big, hB.data(), big, beta, want.data(), big);
    check("Sgemm, stream destroyed", out.data(), want.data(), sz);
    if (fn) {
        std::printf("state dedup: %d gemms, %llu records, workspace reset %llu records, "
                    "destroyed stream %s\n",
                    gemms, r1 - r0, r2 - r1, after);
        failures += r1 - r0 != (unsigned long long)gemms || r2 - r1 != 2 || got != nullptr;
    }
    CB(cublasDestroy(h));
    CK(cudaStreamDestroy(s));
    CK(cudaFree(ws));
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
    // blocking: the checks below copy with plain cudaMemcpy (the legacy stream), which waits
    // for a blocking stream's GEMMs but not for a non-blocking one's (a race on a GPU too)
    CK(cudaStreamCreate(&s));
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

    more_checks(h, g);
    state_checks(m, n, k, A, B, C, hA, hB, hC, big);

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
