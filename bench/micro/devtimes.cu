// devtimes.cu — device time of single GPU operations, for fitting the fake GPU's model files.
//
//   devtimes [--quick] > device-timings.tsv
//
// Prints the timings TSV bench/micro/fit_fakegpu_model.py reads: one row per operation (cuBLAS
// GEMMs in fp16, fp32 and tf32, copies H2D / D2H from pinned memory, D2D, memsets, and kernels
// named after rows of the model's kernel table), its time in ms measured with CUDA events around
// a run of repetitions on one stream, median of 3 runs. scripts/device-validate.sh runs it
// natively on a GPU host (step g) and keeps the TSV. Under libgenie.so on the fake GPU with a
// model (tests/bench/test_devtimes_fit.sh) the same rows give the model's SIMULATED times.
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define CK(call)                                                                           \
    do {                                                                                   \
        cudaError_t e_ = (call);                                                           \
        if (e_ != cudaSuccess) {                                                           \
            std::fprintf(stderr, "devtimes: %s: %s\n", #call, cudaGetErrorString(e_));     \
            std::exit(1);                                                                  \
        }                                                                                  \
    } while (0)
#define CB(call)                                                                           \
    do {                                                                                   \
        cublasStatus_t s_ = (call);                                                        \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                 \
            std::fprintf(stderr, "devtimes: %s: status %d\n", #call, (int)s_);             \
            std::exit(1);                                                                  \
        }                                                                                  \
    } while (0)

// named so that the model's kernel table matches them as it matches PyTorch's kernels
extern "C" __global__ void devt_vectorized_elementwise_kernel_probe(float *p, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        p[i] = p[i] * 2.0f + 1.0f;
}
extern "C" __global__ void devt_reduce_kernel_probe(float *p, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        p[i] += 1.0f;
}
extern "C" __global__ void devt_empty(float *p, long n)
{
    if (n < 0)
        p[0] = 0;
}

static cudaStream_t st;
static cudaEvent_t e0, e1;

// ms per repetition of fn: CUDA events around reps runs, median of 3 (after one warm-up run)
template <typename F> static double per_rep_ms(int reps, F fn)
{
    fn();
    CK(cudaStreamSynchronize(st));
    double m[3];
    for (int r = 0; r < 3; r++) {
        CK(cudaEventRecord(e0, st));
        for (int i = 0; i < reps; i++)
            fn();
        CK(cudaEventRecord(e1, st));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        m[r] = ms / reps;
    }
    std::sort(m, m + 3);
    return m[1];
}

static void row(const char *kind, const char *dtype, long m, long n, long k, double bytes,
                long blocks, const char *name, double ms)
{
    std::printf("%s\t%s\t%ld\t%ld\t%ld\t%.0f\t%ld\t%s\t%.9g\n", kind, dtype, m, n, k, bytes,
                blocks, name, ms);
    std::fflush(stdout);
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && !std::strcmp(argv[1], "--quick");
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    cublasHandle_t h;
    CB(cublasCreate(&h));
    CB(cublasSetStream(h, st));
    const size_t big = quick ? ((size_t)64 << 20) : ((size_t)1 << 30);
    void *a, *b, *c, *host;
    CK(cudaMalloc(&a, big));
    CK(cudaMalloc(&b, big));
    CK(cudaMalloc(&c, big));
    CK(cudaMallocHost(&host, big));
    CK(cudaMemsetAsync(a, 0, big, st)); // GEMM inputs: zeros (timing only)
    CK(cudaMemsetAsync(b, 0, big, st));
    std::printf("# devtimes: device time per operation (CUDA events, median of 3)\n");
    std::printf("kind\tdtype\tm\tn\tk\tbytes\tblocks\tname\tms\n");

    struct G {
        const char *dt;
        cudaDataType t;
        cublasComputeType_t ct;
        double esz;
    } gt[] = {{"f16", CUDA_R_16F, CUBLAS_COMPUTE_32F, 2},
              {"f32", CUDA_R_32F, CUBLAS_COMPUTE_32F, 4},
              {"tf32", CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32, 4}};
    std::vector<long> sizes = {64, 256, 1024, 2048, 4096};
    if (!quick)
        sizes.push_back(8192);
    const float one = 1, zero = 0;
    for (auto &g : gt)
        for (long s : sizes) {
            double bytes = 3.0 * s * s * g.esz;
            if (bytes / 3 > (double)big)
                continue;
            int reps = s <= 1024 ? 50 : 5;
            double ms = per_rep_ms(reps, [&] {
                CB(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)s, (int)s, (int)s, &one, a, g.t,
                                (int)s, b, g.t, (int)s, &zero, c, g.t, (int)s, g.ct,
                                CUBLAS_GEMM_DEFAULT));
            });
            row("gemm", g.dt, s, s, s, bytes, 0, "-", ms);
        }
    // decode-shaped GEMMs (one token): bound by reading the weights
    long gv[][2] = {{50257, 768}, {3072, 768}, {768, 3072}};
    for (auto &v : gv) {
        long n = v[0], k = v[1];
        double ms = per_rep_ms(50, [&] {
            CB(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)n, 1, (int)k, &one, a, CUDA_R_16F,
                            (int)n, b, CUDA_R_16F, (int)k, &zero, c, CUDA_R_16F, (int)n,
                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        });
        row("gemm", "f16", 1, n, k, (double)(k + k * n + n) * 2, 0, "-", ms);
    }
    for (size_t n = 4096; n <= big; n *= 16) {
        int reps = n <= ((size_t)1 << 20) ? 50 : 3;
        row("h2d", "-", 0, 0, 0, (double)n, 0, "-",
            per_rep_ms(reps, [&] { CK(cudaMemcpyAsync(a, host, n, cudaMemcpyHostToDevice, st)); }));
        row("d2h", "-", 0, 0, 0, (double)n, 0, "-",
            per_rep_ms(reps, [&] { CK(cudaMemcpyAsync(host, a, n, cudaMemcpyDeviceToHost, st)); }));
        row("d2d", "-", 0, 0, 0, (double)n, 0, "-",
            per_rep_ms(reps, [&] { CK(cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice, st)); }));
        row("memset", "-", 0, 0, 0, (double)n, 0, "-",
            per_rep_ms(reps, [&] { CK(cudaMemsetAsync(b, 1, n, st)); }));
    }
    struct K {
        const char *name;
        void (*fn)(float *, long);
    } ks[] = {{"devt_vectorized_elementwise_kernel_probe", devt_vectorized_elementwise_kernel_probe},
              {"devt_reduce_kernel_probe", devt_reduce_kernel_probe},
              {"devt_empty", devt_empty}};
    for (auto &k : ks)
        for (long blocks = 1; blocks <= 1000000; blocks *= 100) {
            long n = blocks * 128;
            if ((size_t)n * 4 > big)
                break;
            double ms = per_rep_ms(100, [&] {
                k.fn<<<(unsigned)blocks, 128, 0, st>>>((float *)c, n);
                CK(cudaGetLastError());
            });
            row("kernel", "-", 0, 0, 0, 0, blocks, k.name, ms);
        }
    CB(cublasDestroy(h));
    CK(cudaFreeHost(host));
    CK(cudaFree(a));
    CK(cudaFree(b));
    CK(cudaFree(c));
    return 0;
}
