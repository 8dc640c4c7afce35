/* micro.cu — Genie's first microbenchmark: ratios measured in one run on one machine.
 *
 *   micro --raw TARGET [--launches N] [--gemms N] [--pings N] [--bulk MIB] [--reps N]
 *         [--raw-buf MIB] [--cost]
 *
 * Run under LD_PRELOAD=libgenie.so with GENIE_REMOTE pointing at a genie-remote on the
 * same kind of transport as TARGET (bench/micro/run.sh does this). It measures:
 *   1. the shim's cost to record one asynchronous launch vs a plain function call with
 *      the same arguments (GENIE_BATCH_BYTES should be large enough to hold them all), and
 *      to record one cublasSgemm_v2, bare and as PyTorch issues it (cublasSetStream,
 *      cublasSetWorkspace and cublasSetMathMode with unchanged values before each GEMM);
 *   2. the smallest data-dependent sync, a 4-byte D2H copy (one round trip; an empty
 *      cudaDeviceSynchronize costs none when nothing was recorded since the last sync) vs
 *      a 64-byte ping-pong on a raw socket of the same kind, served by a child process as
 *      genie-remote is;
 *   3. H2D bulk throughput (cudaMemcpy + sync + a 4-byte read back, so the bytes are in
 *      device memory when the clock stops: the shim may answer the sync without waiting,
 *      and the executor's device copy then ran into the D2H that followed) vs sending the
 *      same bytes on the raw socket, and D2H (cudaMemcpy of MIB bytes device-to-host) vs
 *      downloading them on it.
 * The raw socket is the limit (bench/micro/rawsock.h: forced large buffers, whole-message
 * writes); it prints its settings. bench/micro/wireref measures raw-socket variants and a
 * minimal gRPC stream in the same run.sh run.
 *   4. with --cost, the cost model (semantics/cost.c): its parameters calibrated against this
 *      remote (round trip, wire bandwidth, per-op cost, GEMM FLOP/s, device bandwidth, each
 *      from its own timed batch), then its prediction vs the measured time of a set of
 *      batches mixing launches and GEMMs of several sizes, and Pearson's r over them.
 * Written in C style; nvcc builds it because it launches a kernel. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern "C" {
#include "cost_bridge.h"
#include "opts.h"
#include "rawsock.h"
}

__global__ void empty_kernel(int a, float b, const float *p, float *q) {}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

__attribute__((noinline)) static int plain_call(int a, float b, const float *p, float *q)
{
    __asm__ volatile("" ::"r"(a), "x"(b), "r"(p), "r"(q) : "memory");
    return 0;
}

/* The shim's counter key (e.g. "exec_ns") in ns, from genie_stats_json; -1 without the shim.
 * exec_ns sums R_EXEC, genie-remote's own time per request (executor and session work, from
 * the request parsed to the reply built), so a round trip less it is the wire's share. */
static double shim_counter(const char *key)
{
    static int (*fn)(char *, size_t);
    static int looked;
    if (!looked) {
        looked = 1;
        fn = (int (*)(char *, size_t))dlsym(RTLD_DEFAULT, "genie_stats_json");
    }
    static char buf[16384];
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p;
    if (!fn || fn(buf, sizeof buf) || !(p = strstr(buf, pat)))
        return -1;
    return strtod(p + strlen(pat), NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define CK(call)                                                                               \
    do {                                                                                       \
        cudaError_t e_ = (call);                                                               \
        if (e_ != cudaSuccess) {                                                               \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,                      \
                    cudaGetErrorString(e_));                                                   \
            exit(2);                                                                           \
        }                                                                                      \
    } while (0)

/* One timed batch: nlaunch empty launches, ngemm n x n x n SGEMMs (the host's pointers: A, B
 * and C of n*n floats), a 4-byte copy back. Wall time from the first call to the copy's
 * return, ns. */
static double timed_batch(float *d, cublasHandle_t h, const float *a, const float *b, float *c,
                          long nlaunch, long ngemm, int n)
{
    const float one = 1.0f, zero = 0.0f;
    int word;
    double t0 = now_s();
    for (long i = 0; i < nlaunch; i++)
        empty_kernel<<<1, 32>>>((int)i, 1.0f, d, d);
    for (long i = 0; i < ngemm; i++)
        if (cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, n, b, n, &zero, c, n)) {
            fprintf(stderr, "micro: cublasSgemm failed\n");
            exit(2);
        }
    CK(cudaMemcpy(&word, d, sizeof word, cudaMemcpyDeviceToHost));
    return (now_s() - t0) * 1e9;
}

static double median_of(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* The median of reps runs of timed_batch. */
static double timed_median(float *d, cublasHandle_t h, const float *a, const float *b, float *c,
                           long nlaunch, long ngemm, int n, int reps)
{
    double v[9];
    reps = reps > 9 ? 9 : reps;
    for (int r = 0; r < reps; r++)
        v[r] = timed_batch(d, h, a, b, c, nlaunch, ngemm, n);
    return median_of(v, reps);
}

/* Section 4 (--cost): calibrates the cost model against this remote, then checks it. rtt_ns:
 * the 4-byte sync's median, wire_bps: the H2D bulk rate (sections 2 and 3). Record sizes: a
 * launch of empty_kernel is 64 bytes on the wire, a cublasSgemm_v2 120 (GENIE_SEM_DUMP). */
static int cost_model(float *d, double rtt_ns, double wire_bps)
{
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "micro: cublasCreate failed\n");
        return 1;
    }
    const int nmax = 384;
    float *a, *b, *c, *big;
    size_t mat = (size_t)nmax * nmax * sizeof(float), bigsz = (size_t)32 << 20;
    CK(cudaMalloc(&a, mat));
    CK(cudaMalloc(&b, mat));
    CK(cudaMalloc(&c, mat));
    CK(cudaMalloc(&big, 2 * bigsz));
    CK(cudaMemset(a, 0, mat));
    CK(cudaMemset(b, 0, mat));
    CK(cudaMemset(big, 0, 2 * bigsz));
    CK(cudaDeviceSynchronize());
    timed_batch(d, h, a, b, c, 10, 2, 64); /* warm: module, handle, workspace */
    micro_cost m = {rtt_ns, wire_bps, 0, 0, 0, 0};
    /* per op: the slope between batches of 200 and 1,000 empty launches (what a round trip
     * adds cancels), less their bytes on the wire */
    double tl0 = timed_median(d, h, a, b, c, 200, 0, 0, 5);
    double tl1 = timed_median(d, h, a, b, c, 1000, 0, 0, 5);
    m.op_ns = (tl1 - tl0) / 800 - 64 / wire_bps * 1e9;
    if (m.op_ns < 0)
        m.op_ns = 0;
    /* device bandwidth: a 32 MiB device-to-device copy */
    double v[5];
    for (int r = 0; r < 5; r++) {
        int word;
        double t0 = now_s();
        CK(cudaMemcpyAsync(big + bigsz / sizeof(float), big, bigsz, cudaMemcpyDeviceToDevice, 0));
        CK(cudaMemcpy(&word, d, sizeof word, cudaMemcpyDeviceToHost));
        v[r] = (now_s() - t0) * 1e9 - rtt_ns - m.op_ns;
    }
    double tc = median_of(v, 5);
    m.mem_bps = tc > 0 ? 2.0 * bigsz / (tc * 1e-9) : 0; /* read and write */
    /* GEMM rate: the slope between batches of 2 and 10 SGEMMs of 256 */
    const int n = 256;
    double tg0 = timed_median(d, h, a, b, c, 0, 2, n, 3);
    double tg1 = timed_median(d, h, a, b, c, 0, 10, n, 3);
    double per = (tg1 - tg0) / 8 - m.op_ns - 120 / wire_bps * 1e9;
    m.flops = per > 0 ? 2.0 * n * n * n / (per * 1e-9) : 0;
    printf("cost model, calibrated against this remote: rtt %.1f us, wire %.2f GB/s, op %.0f ns, "
           "GEMM %.2f GFLOP/s, device memory %.2f GB/s\n",
           m.rtt_ns / 1e3, m.wire_bps / 1e9, m.op_ns, m.flops / 1e9, m.mem_bps / 1e9);
    /* the same, as the shim reads it: its pipeline sizes chunks with them (docs/semantics.md) */
    printf("GENIE_COST_PARAMS=rtt_ns=%.0f,wire_bps=%.4g,op_ns=%.0f,flops=%.4g,mem_bps=%.4g\n",
           m.rtt_ns, m.wire_bps, m.op_ns, m.flops, m.mem_bps);
    /* the shim's own parameters: genie-remote's device measurement at HELLO, the PINGs' round
     * trip, the wire rate of the bulk copies above (GENIE_COST_CALIBRATE=1; shim/cost.c) */
    micro_cost ms = {shim_counter("cost_rtt_ns"), shim_counter("cost_wire_bps"),
                     shim_counter("cost_op_ns"), shim_counter("cost_flops"),
                     shim_counter("cost_mem_bps"), shim_counter("cost_pair_ns")};
    int have_shim = shim_counter("cost_device_measured") > 0;
    if (have_shim)
        printf("cost model, calibrated by the shim at session start (device: genie-remote's own "
               "measurement, %.1f ms; rtt: %.0f us of PINGs; wire: %.0f bulk frames): rtt %.1f "
               "us, wire %.2f GB/s, op %.0f ns, GEMM %.2f GFLOP/s, device memory %.2f GB/s, pass %.2f ns "
               "per pair of ops\n",
               shim_counter("cost_remote_took_ns") / 1e6, shim_counter("cost_pings_ns") / 1e3,
               shim_counter("cost_wire_samples"), ms.rtt_ns / 1e3, ms.wire_bps / 1e9, ms.op_ns,
               ms.flops / 1e9, ms.mem_bps / 1e9, ms.pair_ns);
    else
        printf("cost model: the shim did not calibrate (GENIE_COST_CALIBRATE=1 asks it to)\n");
    double preds[64];
    /* the check: batches the calibration did not run */
    static const long launches[] = {0, 100, 500, 1500};
    static const long gemms[] = {0, 1, 4, 12};
    static const int sizes[] = {96, 192, 320};
    double pred[64], meas[64];
    unsigned nb = 0;
    for (int li = 0; li < 4; li++)
        for (int gi = 0; gi < 4; gi++)
            for (int si = 0; si < 3; si++) {
                if (!gemms[gi] && si) /* the size matters only with GEMMs */
                    continue;
                if (!launches[li] && !gemms[gi])
                    continue;
                long nl = launches[li], ng = gemms[gi];
                int sz = sizes[si];
                meas[nb] = timed_median(d, h, a, b, c, nl, ng, sz, 3);
                long sent = nl * 64 + ng * 120 + 32 + 32;
                pred[nb] = micro_predict(&m, nl, ng, sz, sz, sz, sent, 64 + 32);
                preds[nb] = have_shim ? micro_predict(&ms, nl, ng, sz, sz, sz, sent, 64 + 32) : 0;
                printf("CSV-cost,%ld,%ld,%d,%.1f,%.1f,%.1f\n", nl, ng, sz, pred[nb] / 1e3,
                       meas[nb] / 1e3, preds[nb] / 1e3);
                nb++;
            }
    double r = micro_pearson(pred, meas, nb);
    printf("cost model: predicted vs measured over %u batches (CSV-cost: launches, gemms, size, "
           "predicted us, measured us, predicted by the shim's parameters us): Pearson r = %.3f "
           "with this benchmark's calibration (aim: >= 0.9)\n",
           nb, r);
    if (have_shim)
        printf("cost model: Pearson r = %.3f with the shim's calibration at session start (aim: "
               ">= 0.9)\n",
               micro_pearson(preds, meas, nb));
    CK(cudaFree(a));
    CK(cudaFree(b));
    CK(cudaFree(c));
    CK(cudaFree(big));
    cublasDestroy(h);
    return 0;
}

int main(int argc, char **argv)
{
    const char *raw = NULL;
    long launches = 200000, pings = 2000, bulk_mib = 256, gemms = -1, reps = 3, raw_buf = 8,
         raw_chunk = 0;
    int cost = 0;
    const struct bench_opt opts[] = {
        {"--raw", NULL, 0, &raw, NULL},         {"--launches", &launches, 1, NULL, NULL},
        {"--gemms", &gemms, 0, NULL, NULL},     {"--pings", &pings, 1, NULL, NULL},
        {"--bulk", &bulk_mib, 1, NULL, NULL},   {"--reps", &reps, 1, NULL, NULL},
        {"--raw-buf", &raw_buf, 0, NULL, NULL}, {"--raw-chunk", &raw_chunk, 0, NULL, NULL},
        {"--cost", NULL, 0, NULL, &cost},       {NULL, NULL, 0, NULL, NULL},
    };
    int pr = bench_opts_parse(argc, argv, opts,
                              "--raw TARGET [--launches N] [--gemms N] [--pings N] [--bulk MIB]\n"
                              "          [--reps N] [--raw-buf MIB (0: kernel defaults)] [--raw-chunk KIB] [--cost]\n"
                              "Run under LD_PRELOAD=libgenie.so; see bench/micro/run.sh.\n");
    if (pr)
        return pr == 1 ? 0 : 2;
    if (!raw || launches < 1 || pings < 1 || bulk_mib < 1 || reps < 1) {
        fprintf(stderr, "micro: --raw TARGET is required (try --help)\n");
        return 2;
    }

    /* The raw reference server runs in a child process, as genie-remote does. It starts
     * before the first CUDA call, so the child holds no session. */
    rawsock_set_buffers((int)(raw_buf << 20));
    rawsock_set_chunk((size_t)raw_chunk << 10);
    int pfd[2];
    if (pipe(pfd))
        return 1;
    pid_t child = fork();
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive a parent that failed */
        char err[256];
        rawsock_server *s = rawsock_server_start_opts(raw, 64, err, sizeof err);
        char port[32];
        snprintf(port, sizeof port, "%d\n", s ? rawsock_server_port(s) : -1);
        if (write(pfd[1], port, strlen(port)) < 0 || !s)
            _exit(1);
        pause();
        _exit(0);
    }
    char portbuf[32] = {0};
    if (read(pfd[0], portbuf, sizeof portbuf - 1) <= 0 || atoi(portbuf) < 0) {
        fprintf(stderr, "micro: raw server failed on %s\n", raw);
        return 1;
    }
    char target[512];
    if (!strncmp(raw, "unix:", 5))
        snprintf(target, sizeof target, "%s", raw);
    else
        snprintf(target, sizeof target, "127.0.0.1:%d", atoi(portbuf));
    char err[256];
    rawsock_conn *rc = rawsock_connect(target, err, sizeof err);
    if (!rc) {
        fprintf(stderr, "micro: %s\n", err);
        kill(child, SIGTERM);
        return 1;
    }

    /* ---- 1. recording cost of one launch ---- */
    float *d;
    CK(cudaMalloc(&d, 1 << 20));
    empty_kernel<<<1, 32>>>(0, 1.0f, d, d); /* loads the module: not timed */
    CK(cudaDeviceSynchronize());
    /* a first round grows the shim's batch buffer to its working size (page faults, once
     * per process); the measured round is the steady state every later batch sees */
    double c0 = now_s();
    for (long i = 0; i < launches; i++)
        empty_kernel<<<1, 32>>>((int)i, 1.0f, d, d);
    double c1 = now_s();
    CK(cudaDeviceSynchronize());
    double t0 = now_s();
    for (long i = 0; i < launches; i++)
        empty_kernel<<<1, 32>>>((int)i, 1.0f, d, d);
    double t1 = now_s();
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    double t2 = now_s();
    int (*volatile fp)(int, float, const float *, float *) = plain_call;
    double t3 = now_s();
    for (long i = 0; i < launches; i++)
        fp((int)i, 1.0f, d, d);
    double t4 = now_s();
    double rec_ns = (t1 - t0) / launches * 1e9, call_ns = (t4 - t3) / launches * 1e9;
    double e2e_ns = (t2 - t0) / launches * 1e9, cold_ns = (c1 - c0) / launches * 1e9;

    /* ---- 1b. recording cost of one cublasSgemm_v2 ---- */
    cublasHandle_t blas;
    if (cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "micro: cublasCreate failed\n");
        return 1;
    }
    cudaStream_t bs;
    CK(cudaStreamCreate(&bs));
    float *ws;
    size_t wsz = 1 << 20;
    CK(cudaMalloc(&ws, wsz));
    const int gm = 8; /* tiny: the executor's work is not what is measured */
    const float one = 1.0f, zero = 0.0f;
    if (gemms < 1) /* default: a quarter of the launches */
        gemms = launches / 4 > 0 ? launches / 4 : 1;
    int gerr = 0;
    /* a first round grows the batch (not timed) */
    for (long i = 0; i < gemms; i++)
        gerr |= cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, gm, gm, gm, &one, d, gm, d + 64, gm,
                            &zero, d + 128, gm);
    CK(cudaDeviceSynchronize());
    double g0 = now_s();
    for (long i = 0; i < gemms; i++)
        gerr |= cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, gm, gm, gm, &one, d, gm, d + 64, gm,
                            &zero, d + 128, gm);
    double g1 = now_s();
    CK(cudaDeviceSynchronize());
    gerr |= cublasSetStream(blas, bs);
    gerr |= cublasSetWorkspace(blas, ws, wsz);
    gerr |= cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH);
    CK(cudaDeviceSynchronize());
    double g2 = now_s();
    for (long i = 0; i < gemms; i++) {
        gerr |= cublasSetStream(blas, bs);
        gerr |= cublasSetWorkspace(blas, ws, wsz);
        gerr |= cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH);
        gerr |= cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, gm, gm, gm, &one, d, gm, d + 64, gm,
                            &zero, d + 128, gm);
    }
    double g3 = now_s();
    CK(cudaDeviceSynchronize());
    if (gerr) {
        fprintf(stderr, "micro: a cuBLAS call failed\n");
        return 1;
    }
    cublasDestroy(blas);
    double sgemm_ns = (g1 - g0) / gemms * 1e9, torch_gemm_ns = (g3 - g2) / gemms * 1e9;

    /* ---- 2. empty sync vs raw ping-pong ---- */
    double *gs = (double *)malloc(pings * sizeof(double));
    double *rs = (double *)malloc(pings * sizeof(double));
    char msg[64] = {0};
    int word = 0;
    double *ws_ = (double *)malloc(pings * sizeof(double)); /* the round trip less R_EXEC */
    int have_ex = shim_counter("exec_ns") >= 0;
    for (long i = 0; i < pings; i++) {
        double x0 = have_ex ? shim_counter("exec_ns") : 0;
        double a = now_s();
        CK(cudaMemcpy(&word, d, sizeof word, cudaMemcpyDeviceToHost));
        double b = now_s();
        ws_[i] = b - a - (have_ex ? (shim_counter("exec_ns") - x0) * 1e-9 : 0);
        void *rep;
        size_t rn;
        if (rawsock_call(rc, msg, sizeof msg, &rep, &rn)) {
            fprintf(stderr, "micro: raw ping failed\n");
            return 1;
        }
        double c = now_s();
        free(rep);
        gs[i] = b - a;
        rs[i] = c - b;
    }
    qsort(ws_, pings, sizeof(double), cmp_double);
    double w_us = have_ex ? ws_[pings / 2] * 1e6 : -1;
    qsort(gs, pings, sizeof(double), cmp_double);
    qsort(rs, pings, sizeof(double), cmp_double);
    double g_us = gs[pings / 2] * 1e6, r_us = rs[pings / 2] * 1e6;

    /* ---- 3. bulk, both ways ---- */
    size_t bulk = (size_t)bulk_mib << 20;
    char *host = (char *)malloc(bulk), *back = (char *)malloc(bulk);
    memset(host, 0x5a, bulk);
    memset(back, 0, bulk); /* faulted in before timing, like the program's own buffers */
    char *dev;
    CK(cudaMalloc(&dev, bulk));
    /* the fake GPU with a device-time model and no computing (docs/fakegpu.md) copies back
     * zeros: the bytes say nothing then, the times are all that is measured (simulated) */
    const char *fm = getenv("GENIE_FAKE_GPU_MODEL"), *fc = getenv("GENIE_FAKE_GPU_COMPUTE");
    int timing_only = fm && *fm && strcmp(fm, "none") && !(fc && !strcmp(fc, "1"));
    double gbest = 1e30, rbest = 1e30, gdbest = 1e30, rdbest = 1e30, gex = 0, gdex = 0;
    for (long rep = 0; rep <= reps; rep++) { /* round 0 warms both sides up: not counted */
        double x0 = shim_counter("exec_ns");
        double a = now_s();
        CK(cudaMemcpy(dev, host, bulk, cudaMemcpyHostToDevice));
        CK(cudaDeviceSynchronize());
        char probe[4];
        CK(cudaMemcpy(probe, dev + bulk - 4, 4, cudaMemcpyDeviceToHost)); /* waits for it all */
        double b = now_s();
        if (probe[3] != 0x5a && !timing_only) {
            fprintf(stderr, "micro: H2D left wrong bytes\n");
            return 1;
        }
        double x1 = shim_counter("exec_ns");
        void *r;
        size_t rn;
        if (rawsock_call(rc, host, bulk, &r, &rn)) {
            fprintf(stderr, "micro: raw bulk failed\n");
            return 1;
        }
        double c = now_s();
        free(r);
        double x2 = shim_counter("exec_ns");
        CK(cudaMemcpy(back, dev, bulk, cudaMemcpyDeviceToHost));
        double d2 = now_s();
        double x3 = shim_counter("exec_ns");
        if ((back[0] != 0x5a || back[bulk - 1] != 0x5a) && !timing_only) {
            fprintf(stderr, "micro: D2H returned wrong bytes\n");
            return 1;
        }
        if (rawsock_fetch(rc, back, bulk)) {
            fprintf(stderr, "micro: raw download failed\n");
            return 1;
        }
        double e = now_s();
        if (!rep)
            continue;
        if (b - a < gbest) {
            gbest = b - a;
            gex = (x1 - x0) * 1e-9;
        }
        if (c - b < rbest)
            rbest = c - b;
        if (d2 - c < gdbest) {
            gdbest = d2 - c;
            gdex = (x3 - x2) * 1e-9;
        }
        if (e - d2 < rdbest)
            rdbest = e - d2;
    }
    double g_gbs = bulk / gbest / 1e9, r_gbs = bulk / rbest / 1e9;
    double gd_gbs = bulk / gdbest / 1e9, rd_gbs = bulk / rdbest / 1e9;
    char rawdesc[256];
    rawsock_describe(rc, rawdesc, sizeof rawdesc);

    /* the CSV's kind: the socket's, or the label run.sh gives (tls: Genie's TCP with TLS on) */
    const char *kind = getenv("GENIE_MICRO_KIND");
    if (!kind || !*kind)
        kind = strncmp(raw, "unix:", 5) ? "tcp" : "unix";
    printf("transport: %s\n", kind);
    printf("raw socket: %s\n", rawdesc);
    printf("launch record:   %8.1f ns/launch   plain call %6.1f ns   ratio %6.1fx   (aim: < 200 ns)\n",
           rec_ns, call_ns, rec_ns / call_ns);
    printf("launch record, first batch (buffer growing): %.1f ns/launch\n", cold_ns);
    printf("sgemm record:    %8.1f ns/call     as PyTorch issues it (3 setters + sgemm) %.1f ns\n",
           sgemm_ns, torch_gemm_ns);
    printf("launch e2e:      %8.1f ns/launch   (record + ship + execute on this executor)\n", e2e_ns);
    printf("4-byte D2H sync: %8.1f us median   raw ping-pong %6.1f us   ratio %5.2fx   (aim: <= 1.5x)\n",
           g_us, r_us, g_us / r_us);
    if (w_us >= 0)
        printf("  less genie-remote's own time (R_EXEC) per sync: %6.1f us median, %.2fx the raw ping-pong\n",
               w_us, w_us / r_us);
    printf("H2D %4ld MiB:    %8.2f GB/s         raw socket   %6.2f GB/s   ratio %5.0f%%   (aim: >= 80%%; best of %ld)\n",
           bulk_mib, g_gbs, r_gbs, 100 * g_gbs / r_gbs, reps);
    if (gex > 0)
        printf("  of which genie-remote's own time %.0f ms of %.0f ms: the wire alone would move %.2f GB/s, %.0f%%\n",
               gex * 1e3, gbest * 1e3, bulk / (gbest - gex) / 1e9, 100 * bulk / (gbest - gex) / 1e9 / r_gbs);
    printf("D2H %4ld MiB:    %8.2f GB/s         raw socket   %6.2f GB/s   ratio %5.0f%%   (aim: >= 80%%; best of %ld)\n",
           bulk_mib, gd_gbs, rd_gbs, 100 * gd_gbs / rd_gbs, reps);
    if (gdex > 0)
        printf("  of which genie-remote's own time %.0f ms of %.0f ms: the wire alone would move %.2f GB/s, %.0f%%\n",
               gdex * 1e3, gdbest * 1e3, bulk / (gdbest - gdex) / 1e9, 100 * bulk / (gdbest - gdex) / 1e9 / rd_gbs);
    printf("CSV-exec,%s,%.1f,%.4f,%.4f\n", kind, w_us, gex, gdex);
    printf("CSV,%s,%.1f,%.1f,%.1f,%.2f,%.2f,%.3f,%.3f,%.3f,%.3f\n", kind, rec_ns, call_ns, e2e_ns,
           g_us, r_us, g_gbs, r_gbs, gd_gbs, rd_gbs);
    printf("CSV-gemm,%s,%.1f,%.1f\n", kind, sgemm_ns, torch_gemm_ns);
    if (cost && cost_model(d, g_us * 1e3, g_gbs * 1e9))
        return 1;
    rawsock_close(rc);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    CK(cudaFree(dev));
    free(host);
    free(back);
    CK(cudaFree(d));
    return 0;
}
