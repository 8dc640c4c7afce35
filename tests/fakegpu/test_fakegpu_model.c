/* test_fakegpu_model.c — the device-time model (GENIE_FAKE_GPU_MODEL=h100), timing-only: GEMMs,
 * copies and kernel launches take their modeled time, never less, and well under twice it.
 *
 * The expected times are computed here from the data file itself (models/h100.model, read by
 * this test with its own parser), by the formulas docs/fakegpu.md gives, so a wrong formula or
 * a wrong unit in fg_model.c fails the test. Sizes are chosen so that each modeled time is
 * tens of milliseconds or more: the fixed costs of queuing and waking, and a loaded machine's
 * scheduling delays, stay inside the bounds. */
#include <criterion/criterion.h>

#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fakegpu_twin.h"
#include "fakegpu_work.h"

#define OK(call) cr_assert_eq((call), CUDA_SUCCESS, "%s", #call)

static const uint32_t fake_fatbin[4] = {0xba55ed50u, 0x00100001u, 0, 0};

/* ---- the data file, read independently of fg_model.c ---- */

static double param(const char *key)
{
    FILE *f = fopen(FG_MODEL_DIR "/h100.model", "r");
    cr_assert_not_null(f, "cannot open %s", FG_MODEL_DIR "/h100.model");
    char line[512];
    double v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && (line[kl] == ' ' || line[kl] == '='))
            v = strtod(strchr(line, '=') + 1, NULL);
    fclose(f);
    cr_assert_geq(v, 0, "no %s in the model file", key);
    return v;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void setup(void)
{
    setenv("GENIE_FAKE_GPU_MODEL", "h100", 1);
    setenv("GENIE_FAKE_UNKNOWN_KERNELS", "noop", 1);
    CUdevice dev;
    CUcontext ctx;
    OK(cuInit(0));
    OK(cuDeviceGet(&dev, 0));
    OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    OK(cuCtxSetCurrent(ctx));
}

TestSuite(model, .init = setup, .timeout = 60);

static int must_not_run(void *arg)
{
    (void)arg;
    cr_assert_fail("timing-only mode computed a unit of work");
    return 0;
}

/* Loose bounds: never faster than the formula, under twice it. */
static void within(double got_ms, double want_ms, const char *what)
{
    cr_assert_geq(got_ms, want_ms * 0.999, "%s: %.3f ms, faster than the model's %.3f ms", what,
                  got_ms, want_ms);
    cr_assert_lt(got_ms, want_ms * 2, "%s: %.3f ms, not under twice the model's %.3f ms", what,
                 got_ms, want_ms);
}

static double gemm_ms(double m, double n, double k, const char *peak, double bytes_per_elem)
{
    double flops = 2 * m * n * k;
    double bytes = (m * k + k * n + m * n) * bytes_per_elem;
    double t = flops / (param(peak) * param("gemm_efficiency"));
    double tb = bytes / (param("hbm_bandwidth") * param("hbm_efficiency"));
    t = t > tb ? t : tb;
    double tmin = param("gemm_min_us") * 1e-6;
    return (t > tmin ? t : tmin) * 1e3;
}

Test(model, gemms_take_the_modeled_time)
{
    struct {
        double m, n, k;
        enum fg_dtype dt;
        const char *peak;
        double esz;
    } cases[] = {
        {16384, 16384, 8192, FG_DT_F32, "peak_f32", 4},
        {32768, 32768, 16384, FG_DT_F16, "peak_f16", 2},
        {16384, 16384, 32768, FG_DT_TF32, "peak_tf32", 4},
    };
    cr_assert_eq(fg_work_compute(), 0, "a model must run timing-only by default");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fg_cost c = {.kind = FG_COST_GEMM,
                     .dtype = cases[i].dt,
                     .flops = 2 * cases[i].m * cases[i].n * cases[i].k,
                     .bytes = (cases[i].m * cases[i].k + cases[i].k * cases[i].n +
                               cases[i].m * cases[i].n) *
                              cases[i].esz};
        double t0 = now_ms();
        cr_assert_eq(fg_work_submit(NULL, must_not_run, NULL, NULL, &c), 0);
        OK(cuStreamSynchronize(NULL));
        char what[64];
        snprintf(what, sizeof what, "GEMM %gx%gx%g %s", cases[i].m, cases[i].n, cases[i].k,
                 cases[i].peak);
        within(now_ms() - t0, gemm_ms(cases[i].m, cases[i].n, cases[i].k, cases[i].peak,
                                      cases[i].esz),
               what);
    }
}

Test(model, copies_take_the_modeled_time)
{
    const size_t n = (size_t)4 << 30; /* timing-only: never touched */
    CUdeviceptr a, b;
    OK(cuMemAlloc(&a, n));
    OK(cuMemAlloc(&b, n));
    void *host = malloc(64);
    double lat = param("copy_latency_us") * 1e-3;
    double t0 = now_ms();
    OK(cuMemcpyHtoDAsync(a, host, n, NULL));
    OK(cuStreamSynchronize(NULL));
    within(now_ms() - t0, lat + (double)n / param("h2d_bandwidth") * 1e3, "H2D 4 GiB");
    t0 = now_ms();
    OK(cuMemcpyDtoDAsync(b, a, n, NULL));
    OK(cuStreamSynchronize(NULL));
    within(now_ms() - t0,
           lat + 2.0 * (double)n / (param("hbm_bandwidth") * param("hbm_efficiency")) * 1e3,
           "D2D 4 GiB");
    /* A D2H writes its destination (zeros, timing-only): the host sees it done no sooner than
     * the model says, nor before the fill ends, which on a CPU is slower than an H100's host
     * link: only the lower bound holds for a large one. */
    const size_t nd = (size_t)64 << 20;
    char *dst = malloc(nd);
    cr_assert(dst);
    memset(dst, 0x5a, nd);
    t0 = now_ms();
    OK(cuMemcpyDtoH(dst, a, nd)); /* pageable: returns once done */
    double got = now_ms() - t0, want = lat + (double)nd / param("d2h_bandwidth") * 1e3;
    cr_assert_geq(got, want * 0.999, "D2H 64 MiB: %.3f ms, faster than the model's %.3f ms", got,
                  want);
    free(dst);
    free(host);
    OK(cuMemFree(a));
    OK(cuMemFree(b));
}

/* Timing-only, a D2H gives zeros, every time, whatever the destination held before and
 * whatever the device memory holds (nothing computed it); and never sooner than the model's
 * time. */
Test(model, timing_only_d2h_gives_zeros)
{
    const size_t n = 4096;
    CUdeviceptr d;
    OK(cuMemAlloc(&d, n));
    OK(cuMemsetD8(d, 0x77, n)); /* not computed either: the device bytes are whatever */
    unsigned char *host = malloc(n);
    cr_assert(host);
    CUstream s;
    OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    double lat = param("copy_latency_us") * 1e-3;
    for (int round = 0; round < 3; round++) {
        memset(host, 0xa5 + round, n); /* stale bytes, as a reused reply buffer holds */
        if (round == 2) {
            OK(cuMemcpyDtoHAsync(host, d, n, s));
            OK(cuStreamSynchronize(s));
        } else {
            double t0 = now_ms();
            OK(cuMemcpyDtoH(host, d, n));
            double got = now_ms() - t0;
            cr_assert_geq(got, (lat + (double)n / param("d2h_bandwidth") * 1e3) * 0.999,
                          "D2H 4 KiB: %.4f ms, faster than the model", got);
        }
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(host[i], 0, "round %d: byte %zu of a timing-only D2H is 0x%02x, not 0",
                         round, i, host[i]);
    }
    OK(cuStreamDestroy(s));
    free(host);
    OK(cuMemFree(d));
}

/* A PyTorch-style kernel (a no-op here) takes launch + the table row's base + blocks * per_block. */
Test(model, kernels_take_the_table_time)
{
    CUmodule m;
    CUfunction f;
    OK(cuModuleLoadData(&m, fake_fatbin));
    OK(cuModuleGetFunction(&f, m, "_ZN2at6native29vectorized_elementwise_kernelILi4EEEvi"));
    const unsigned blocks = 200000;
    const int launches = 200;
    double per = param("launch_us") * 1e-3 + 1.0e-3 /* its base_us */ +
                 blocks * 1.5e-6; /* its per_block_ns */
    double t0 = now_ms();
    for (int i = 0; i < launches; i++)
        OK(cuLaunchKernel(f, blocks, 1, 1, 128, 1, 1, 0, NULL, NULL, NULL));
    OK(cuStreamSynchronize(NULL));
    within(now_ms() - t0, launches * per, "200 elementwise kernels of 200000 blocks");
    OK(cuModuleUnload(m));
}

/* The time is spent on the stream, not on the host: two streams overlap, and the host is free
 * meanwhile. */
Test(model, streams_overlap_in_modeled_time)
{
    CUstream a, b;
    OK(cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
    OK(cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
    fg_cost c = {.kind = FG_COST_GEMM, .dtype = FG_DT_F32, .flops = 2.0 * 16384 * 16384 * 8192};
    double one = gemm_ms(16384, 16384, 8192, "peak_f32", 0);
    double t0 = now_ms();
    cr_assert_eq(fg_work_submit(a, must_not_run, NULL, NULL, &c), 0);
    cr_assert_eq(fg_work_submit(b, must_not_run, NULL, NULL, &c), 0);
    cr_assert_lt(now_ms() - t0, one / 2, "the host waited for the modeled time");
    OK(cuCtxSynchronize());
    within(now_ms() - t0, one, "two GEMMs on two streams");
    OK(cuStreamDestroy(a));
    OK(cuStreamDestroy(b));
}

/* The device's name says the numbers are simulated. */
Test(model, device_name_says_simulated)
{
    char name[128];
    OK(cuDeviceGetName(name, sizeof name, 0));
    cr_assert(strstr(name, "simulated H100"), "device name %s", name);
}
