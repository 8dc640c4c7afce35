/* stress_fakegpu.c — drives the fake GPU's workers from several host threads at once: launches,
 * copies, events, cross-stream waits, host functions, legacy-stream work, stream destruction,
 * graphs captured, updated and launched, and GEMMs of the fake cuBLAS; checks every result. A plain program (no Criterion, whose
 * forking runner does not start under ThreadSanitizer), built and run in the TSan tree
 * (cmake -DGENIE_TSAN=ON, scripts/test.sh), where it must finish with no report. */
#include <cublas_v2.h>
#include <cuda.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakegpu_twin.h"

#define CK(call)                                                                                   \
    do {                                                                                           \
        int r_ = (int)(call);                                                                      \
        if (r_) {                                                                                  \
            fprintf(stderr, "%s:%d: %s failed: %d\n", __FILE__, __LINE__, #call, r_);              \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)
#define CHECK(c, ...)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* add(int *p, int n, int v): p[i] += v */
static int add_twin(const fg_launch *l, void **args)
{
    (void)l;
    int *p = *(int **)args[0];
    int n = *(int *)args[1], v = *(int *)args[2];
    for (int i = 0; i < n; i++)
        p[i] += v;
    return 0;
}
FG_TWIN(add, "stress_add", add_twin, 3, 8, 4, 4)

static const unsigned fatbin[4] = {0xba55ed50u, 0x00100001u, 0, 0};
static CUcontext ctx;
static CUfunction fn;
static atomic_int host_calls;

static void on_host(void *u)
{
    atomic_fetch_add(&host_calls, 1);
    (void)u;
}

enum { N = 1024, ROUNDS = 40 };

static void *worker(void *arg)
{
    long id = (long)arg;
    CK(cuCtxSetCurrent(ctx));
    CUstream a, b;
    CK(cuStreamCreate(&a, id % 2 ? CU_STREAM_NON_BLOCKING : 0));
    CK(cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
    CUevent e;
    CK(cuEventCreate(&e, 0));
    CUdeviceptr p;
    CK(cuMemAlloc(&p, N * sizeof(int)));
    CK(cuMemsetD8Async(p, 0, N * sizeof(int), a));
    int n = N;
    for (int r = 0; r < ROUNDS; r++) {
        int v = 1;
        void *args[] = {&p, &n, &v};
        CK(cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, a, args, NULL));
        CK(cuEventRecord(e, a));
        CK(cuStreamWaitEvent(b, e, 0));
        v = 2;
        CK(cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, b, args, NULL));
        CK(cuEventRecord(e, b));
        CK(cuStreamWaitEvent(a, e, 0));
        CK(cuLaunchHostFunc(b, on_host, NULL));
        if (r % 8 == 0)
            (void)cuEventQuery(e), (void)cuStreamQuery(a);
    }
    int h[N];
    CK(cuMemcpyDtoHAsync(h, p, sizeof h, a));
    for (int i = 0; i < N; i++)
        CHECK(h[i] == 3 * ROUNDS, "thread %ld: p[%d] = %d, want %d", id, i, h[i], 3 * ROUNDS);
    /* a graph captured on b, updated between launches on a (each launch keeps the parameters
     * it was queued with), destroyed while launches are still queued */
    CUdeviceptr q;
    CK(cuMemAlloc(&q, N * sizeof(int)));
    CK(cuMemsetD8Async(q, 0, N * sizeof(int), a));
    CK(cuStreamBeginCapture(b, CU_STREAM_CAPTURE_MODE_RELAXED));
    int v0 = 1;
    void *ga[] = {&q, &n, &v0};
    CK(cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, b, ga, NULL));
    CUstreamCaptureStatus cs;
    const CUgraphNode *deps = NULL;
    size_t nd = 0;
    CK(cuStreamGetCaptureInfo(b, &cs, NULL, NULL, &deps, NULL, &nd));
    CHECK(nd == 1, "thread %ld: %zu capture dependencies", id, nd);
    CUgraphNode k = deps[0];
    CUgraph g;
    CUgraphExec x;
    CK(cuStreamEndCapture(b, &g));
    CK(cuGraphInstantiate(&x, g, 0));
    CK(cuGraphDestroy(g));
    int sum = 0;
    for (int r = 0; r < ROUNDS; r++) {
        int vr = r % 3 + 1;
        void *ua[] = {&q, &n, &vr};
        CUDA_KERNEL_NODE_PARAMS kp = {.func = fn, .gridDimX = 1, .gridDimY = 1, .gridDimZ = 1,
                                      .blockDimX = 1, .blockDimY = 1, .blockDimZ = 1,
                                      .kernelParams = ua};
        CK(cuGraphExecKernelNodeSetParams(x, k, &kp));
        CK(cuGraphLaunch(x, a));
        sum += vr;
    }
    CK(cuGraphExecDestroy(x));
    int hq[N];
    CK(cuMemcpyDtoHAsync(hq, q, sizeof hq, a));
    for (int i = 0; i < N; i++)
        CHECK(hq[i] == sum, "thread %ld: graph q[%d] = %d, want %d", id, i, hq[i], sum);
    CK(cuMemFree(q));
    /* a stream destroyed with work queued still runs it */
    CUstream d;
    CK(cuStreamCreate(&d, 0));
    int v = 5;
    void *args[] = {&p, &n, &v};
    CK(cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, d, args, NULL));
    CK(cuStreamDestroy(d));
    CK(cuMemcpyDtoH(h, p, sizeof h)); /* legacy: waits for the blocking stream d */
    CHECK(h[0] == 3 * ROUNDS + 5, "thread %ld: destroyed stream's work: %d", id, h[0]);
    CK(cuEventDestroy(e));
    CK(cuStreamDestroy(a));
    CK(cuStreamDestroy(b));
    CK(cuMemFree(p));
    return NULL;
}

/* GEMMs of the fake cuBLAS on two streams, checked against a loop. */
static void gemms(void)
{
    enum { M = 48 };
    cublasHandle_t h;
    CK(cublasCreate_v2(&h));
    CUstream s;
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CK(cublasSetStream_v2(h, (cudaStream_t)s));
    CUdeviceptr a, c;
    CK(cuMemAlloc(&a, M * M * sizeof(float)));
    CK(cuMemAlloc(&c, M * M * sizeof(float)));
    float ha[M * M], hc[M * M];
    for (int i = 0; i < M * M; i++)
        ha[i] = (float)(i % 7) - 3;
    CK(cuMemcpyHtoDAsync(a, ha, sizeof ha, s));
    float one = 1, zero = 0;
    for (int r = 0; r < 20; r++)
        CK(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, M, M, M, &one, (float *)a, M, (float *)a,
                          M, &zero, (float *)c, M));
    CK(cuMemcpyDtoHAsync(hc, c, sizeof hc, s));
    for (int j = 0; j < M; j++)
        for (int i = 0; i < M; i++) {
            float want = 0;
            for (int k = 0; k < M; k++)
                want += ha[i + k * M] * ha[k + j * M];
            CHECK(hc[i + j * M] == want, "gemm (%d,%d) %g want %g", i, j, hc[i + j * M], want);
        }
    CK(cublasDestroy_v2(h));
    CK(cuStreamDestroy(s));
}

int main(void)
{
    CUdevice dev;
    CUmodule m;
    CK(cuInit(0));
    CK(cuDeviceGet(&dev, 0));
    CK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cuCtxSetCurrent(ctx));
    CK(cuModuleLoadData(&m, fatbin));
    CK(cuModuleGetFunction(&fn, m, "stress_add"));
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0, "pthread_create");
    gemms();
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CK(cuCtxSynchronize());
    CHECK(atomic_load(&host_calls) == 4 * ROUNDS, "host functions: %d", atomic_load(&host_calls));
    printf("stress_fakegpu: OK\n");
    return 0;
}
