// blasio.cu — cuBLAS's host/device helpers: cublasSet/GetMatrix, cublasSet/GetVector, their
// Async and _64 forms, in the style of the cuBLAS documentation's first example (a column-major
// matrix set on the device, two cublasSscal calls on a row and a column, got back and checked).
//
//   blasio [M=6] [N=5]
// Then: leading dimensions that differ on each side (the host padding is left alone), strided
// vectors (incx 3 into incy 2 and back), the Async forms on a stream with cublasSaxpy between
// them, a _64 form, and the argument checks cuBLAS documents (CUBLAS_STATUS_INVALID_VALUE),
// all between cudaProfilerStart and cudaProfilerStop.
// Prints RESULT OK.
#include "wl_common.h"

#include <cublas_v2.h>
#include <cuda_profiler_api.h>
#include <vector>

#define IDX2C(i, j, ld) (((j) * (ld)) + (i))

#define CB(call)                                                                           \
    do {                                                                                   \
        cublasStatus_t cb_st_ = (call);                                                    \
        if (cb_st_ != CUBLAS_STATUS_SUCCESS) {                                             \
            std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,      \
                         cublasGetStatusName(cb_st_));                                     \
            std::exit(2);                                                                  \
        }                                                                                  \
    } while (0)

// The documentation's modify(): scale row p from column q by alpha, column q from row p by beta.
static void modify(cublasHandle_t handle, float *m, int ldm, int n, int p, int q, float alpha,
                   float beta)
{
    CB(cublasSscal(handle, n - q, &alpha, &m[IDX2C(p, q, ldm)], ldm));
    CB(cublasSscal(handle, ldm - p, &beta, &m[IDX2C(p, q, ldm)], 1));
}

static void modify_ref(float *m, int ldm, int n, int p, int q, float alpha, float beta)
{
    for (int j = q; j < n; j++)
        m[IDX2C(p, j, ldm)] *= alpha;
    for (int i = p; i < ldm; i++)
        m[IDX2C(i, q, ldm)] *= beta;
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[M=6] [N=5]");
    const int M = (int)wl_arg(argc, argv, 1, 6), N = (int)wl_arg(argc, argv, 2, 5);
    cublasHandle_t handle;
    CB(cublasCreate(&handle));

    // the region bracketed for a profiler, as tutorials do (accepted under Genie)
    EXPECT(cudaProfilerStart() == cudaSuccess);

    // 1. the documentation example
    std::vector<float> a((size_t)M * N), want;
    for (int j = 0; j < N; j++)
        for (int i = 0; i < M; i++)
            a[IDX2C(i, j, M)] = (float)(i * N + j + 1);
    want = a;
    float *devA;
    CK(cudaMalloc(&devA, (size_t)M * N * sizeof(float)));
    CB(cublasSetMatrix(M, N, sizeof(float), a.data(), M, devA, M));
    modify(handle, devA, M, N, 1, 2, 16.0f, 12.0f);
    modify_ref(want.data(), M, N, 1, 2, 16.0f, 12.0f);
    std::vector<float> got((size_t)M * N, -1.0f);
    CB(cublasGetMatrix(M, N, sizeof(float), devA, M, got.data(), M));
    EXPECT(got == want);

    // 2. leading dimensions: host lda M+3 -> device ld M+1 -> host ldb M+2 (padding untouched)
    const int lda = M + 3, ldd = M + 1, ldb = M + 2;
    std::vector<float> h((size_t)lda * N, 7.0f), back((size_t)ldb * N, -3.0f);
    for (int j = 0; j < N; j++)
        for (int i = 0; i < M; i++)
            h[IDX2C(i, j, lda)] = (float)(100 * j + i);
    float *devP;
    CK(cudaMalloc(&devP, (size_t)ldd * N * sizeof(float)));
    CK(cudaMemset(devP, 0, (size_t)ldd * N * sizeof(float)));
    CB(cublasSetMatrix(M, N, sizeof(float), h.data(), lda, devP, ldd));
    CB(cublasGetMatrix(M, N, sizeof(float), devP, ldd, back.data(), ldb));
    bool vals = true, pad = true;
    for (int j = 0; j < N; j++)
        for (int i = 0; i < ldb; i++)
            if (i < M)
                vals &= back[IDX2C(i, j, ldb)] == (float)(100 * j + i);
            else
                pad &= back[IDX2C(i, j, ldb)] == -3.0f;
    EXPECT(vals);
    EXPECT(pad);
    // the device rows between M and ldd kept the memset's zeros
    std::vector<float> dev_all((size_t)ldd * N, -1.0f);
    CK(cudaMemcpy(dev_all.data(), devP, dev_all.size() * sizeof(float), cudaMemcpyDeviceToHost));
    bool dev_pad = true;
    for (int j = 0; j < N; j++)
        dev_pad &= dev_all[IDX2C(M, j, ldd)] == 0.0f;
    EXPECT(dev_pad);

    // 3. strided vectors: every 3rd host element into every 2nd device element, back contiguous
    const int n = M * N;
    std::vector<float> hx((size_t)3 * n), hy((size_t)n, 0.0f);
    for (int i = 0; i < 3 * n; i++)
        hx[i] = (float)(i % 3 == 0 ? i / 3 + 1 : -9999);
    float *dv;
    CK(cudaMalloc(&dv, (size_t)2 * n * sizeof(float)));
    CK(cudaMemset(dv, 0, (size_t)2 * n * sizeof(float)));
    CB(cublasSetVector(n, sizeof(float), hx.data(), 3, dv, 2));
    CB(cublasGetVector(n, sizeof(float), dv, 2, hy.data(), 1));
    bool vec = true;
    for (int i = 0; i < n; i++)
        vec &= hy[i] == (float)(i + 1);
    EXPECT(vec);
    std::vector<float> gaps((size_t)2 * n, -1.0f);
    CB(cublasGetVector(2 * n, sizeof(float), dv, 1, gaps.data(), 1));
    bool odd_zero = true;
    for (int i = 1; i < 2 * n; i += 2)
        odd_zero &= gaps[i] == 0.0f;
    EXPECT(odd_zero);

    // 4. the Async forms on a stream: y = 2 x + y between the copies, one sync at the end
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    CB(cublasSetStream(handle, s));
    std::vector<float> x((size_t)n), y((size_t)n), r((size_t)n, 0.0f), rm((size_t)M * N, 0.0f);
    for (int i = 0; i < n; i++) {
        x[i] = 0.5f * (float)i;
        y[i] = (float)(n - i);
    }
    float *dx, *dy;
    CK(cudaMalloc(&dx, (size_t)n * sizeof(float)));
    CK(cudaMalloc(&dy, (size_t)n * sizeof(float)));
    CB(cublasSetVectorAsync(n, sizeof(float), x.data(), 1, dx, 1, s));
    CB(cublasSetMatrixAsync(M, N, sizeof(float), y.data(), M, dy, M, s));
    const float two = 2.0f;
    CB(cublasSaxpy(handle, n, &two, dx, 1, dy, 1));
    CB(cublasGetVectorAsync(n, sizeof(float), dy, 1, r.data(), 1, s));
    CB(cublasGetMatrixAsync(M, N, sizeof(float), dx, M, rm.data(), M, s));
    CK(cudaStreamSynchronize(s));
    bool axpy = true;
    for (int i = 0; i < n; i++)
        axpy &= r[i] == 2.0f * x[i] + y[i];
    EXPECT(axpy);
    EXPECT(rm == x);
    CB(cublasSetStream(handle, 0));

    // 5. a _64 form: a column of the documentation matrix through int64 strides
    std::vector<float> row((size_t)N, 0.0f);
    CB(cublasGetVector_64(N, sizeof(float), devA + 1, M, row.data(), 1));
    bool row_ok = true;
    for (int j = 0; j < N; j++)
        row_ok &= row[j] == want[IDX2C(1, j, M)];
    EXPECT(row_ok);

    // 6. the documented argument checks, and an empty copy
    EXPECT(cublasSetVector(n, 0, hx.data(), 1, dv, 1) == CUBLAS_STATUS_INVALID_VALUE);
    EXPECT(cublasSetVector(n, sizeof(float), hx.data(), 0, dv, 1) == CUBLAS_STATUS_INVALID_VALUE);
    EXPECT(cublasGetVector(n, sizeof(float), dv, 1, hy.data(), -1) == CUBLAS_STATUS_INVALID_VALUE);
    EXPECT(cublasSetVector(-1, sizeof(float), hx.data(), 1, dv, 1) == CUBLAS_STATUS_INVALID_VALUE);
    EXPECT(cublasSetMatrix(M, N, sizeof(float), a.data(), 0, devA, M) == CUBLAS_STATUS_INVALID_VALUE);
    EXPECT(cublasGetMatrix(-1, N, sizeof(float), devA, M, got.data(), M) == CUBLAS_STATUS_INVALID_VALUE);
    EXPECT(cublasSetVector(0, sizeof(float), hx.data(), 1, dv, 1) == CUBLAS_STATUS_SUCCESS);

    EXPECT(cudaProfilerStop() == cudaSuccess);

    CK(cudaStreamDestroy(s));
    CK(cudaFree(dx));
    CK(cudaFree(dy));
    CK(cudaFree(dv));
    CK(cudaFree(devP));
    CK(cudaFree(devA));
    CB(cublasDestroy(handle));
    return wl_result();
}
