/* fakegpu_model.c — checks the fake GPU's device-time model against itself: GEMMs, copies and
 * kernel launches of several sizes in timing-only mode, measured wall time vs the formula.
 *
 *   build/bench/micro/fakegpu_model [h100|h200|a100|FILE] [--formula-only]   (default h100)
 *
 * --formula-only prints, without running anything, the model's time for a fixed set of
 * operations as `FORMULA<TAB>kind<TAB>dtype<TAB>m<TAB>n<TAB>k<TAB>bytes<TAB>blocks<TAB>name<TAB>ms`
 * lines (the columns of bench/micro/fit_fakegpu_model.py's timings), so a test can check the fit
 * script's formulas against fg_model.c's and that a fitted file parses.
 *
 * Every number is a SIMULATION of the named GPU, not a measurement of one: this checks that the
 * fake GPU spends the time its model says (aim: within 15%), not that the model is right about
 * the GPU (that needs a GPU host: docs/fakegpu.md). Ratio = measured / formula; each row is the
 * median of 5 runs, with the formula from the model itself (fg_work_model_ns). */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fakegpu_work.h"

#define CK(call)                                                                                   \
    do {                                                                                           \
        CUresult r_ = (call);                                                                      \
        if (r_) {                                                                                  \
            fprintf(stderr, "%s failed: %d\n", #call, (int)r_);                                    \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

static const unsigned fatbin[4] = {0xba55ed50u, 0x00100001u, 0, 0};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int worst_ok = 1;

static void row(const char *what, double formula_ms, double got[5])
{
    qsort(got, 5, sizeof got[0], cmp);
    double r = got[2] / formula_ms;
    if (r > 1.15 || r < 0.999)
        worst_ok = 0;
    printf("%-40s %12.3f %12.3f %8.3f%s\n", what, formula_ms, got[2], r,
           r > 1.15 || r < 0.999 ? "  (outside the aim)" : "");
}

/* The model's times for the operations fit_fakegpu_model.py's synthetic timings use. */
static void formula_only(void)
{
    static const char *dt[] = {"f32", "tf32", "f16"};
    static const double esz[] = {4, 4, 2};
    static const double sizes[] = {64, 1024, 4096, 16384};
    for (int d = 0; d < 3; d++)
        for (int i = 0; i < 4; i++) {
            double m = sizes[i];
            fg_cost c = {.kind = FG_COST_GEMM,
                         .dtype = (enum fg_dtype)d,
                         .flops = 2 * m * m * m,
                         .bytes = 3 * m * m * esz[d]};
            printf("FORMULA\tgemm\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t0\t-\t%.9g\n", dt[d], m, m, m,
                   c.bytes, fg_work_model_ns(&c) / 1e6);
        }
    fg_cost g = {.kind = FG_COST_GEMM,
                 .dtype = FG_DT_F16,
                 .flops = 2.0 * 50257 * 768,
                 .bytes = (768 + 768.0 * 50257 + 50257) * 2};
    printf("FORMULA\tgemm\tf16\t1\t50257\t768\t%.0f\t0\t-\t%.9g\n", g.bytes,
           fg_work_model_ns(&g) / 1e6);
    static const struct {
        const char *name;
        enum fg_cost_kind kind;
    } cp[] = {{"h2d", FG_COST_H2D},
              {"d2h", FG_COST_D2H},
              {"d2d", FG_COST_D2D},
              {"memset", FG_COST_MEMSET}};
    for (int k = 0; k < 4; k++)
        for (int sh = 12; sh <= 30; sh += 9) {
            fg_cost c = {.kind = cp[k].kind, .bytes = (double)(1ull << sh)};
            printf("FORMULA\t%s\t-\t0\t0\t0\t%llu\t0\t-\t%.9g\n", cp[k].name, 1ull << sh,
                   fg_work_model_ns(&c) / 1e6);
        }
    static const char *kn[] = {"devt_vectorized_elementwise_kernel_probe",
                               "devt_reduce_kernel_probe", "devt_empty"};
    for (int k = 0; k < 3; k++)
        for (unsigned b = 1; b <= 1000000; b *= 1000) {
            fg_cost c = {.kind = FG_COST_KERNEL, .name = kn[k], .blocks = b};
            printf("FORMULA\tkernel\t-\t0\t0\t0\t0\t%u\t%s\t%.9g\n", b, kn[k],
                   fg_work_model_ns(&c) / 1e6);
        }
}

int main(int argc, char **argv)
{
    const char *gpu = argc > 1 && strcmp(argv[1], "--formula-only") ? argv[1] : "h100";
    int only = 0;
    for (int i = 1; i < argc; i++)
        only |= !strcmp(argv[i], "--formula-only");
    setenv("GENIE_FAKE_GPU_MODEL", gpu, 1);
    setenv("GENIE_FAKE_UNKNOWN_KERNELS", "noop", 1);
    unsetenv("GENIE_FAKE_GPU_COMPUTE");
    CUdevice dev;
    CUcontext ctx;
    CK(cuInit(0));
    CK(cuDeviceGet(&dev, 0));
    CK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cuCtxSetCurrent(ctx));
    char name[128];
    CK(cuDeviceGetName(name, sizeof name, 0));
    printf("device: %s; timing-only; every time below is simulated\n", name);
    if (only) {
        formula_only();
        return 0;
    }
    printf("%-40s %12s %12s %8s\n", "work", "formula ms", "measured ms", "ratio");

    struct {
        const char *what;
        double m, n, k;
        enum fg_dtype dt;
        double esz;
    } g[] = {
        {"GEMM fp16 1024^3 (small: the minimum)", 1024, 1024, 1024, FG_DT_F16, 2},
        {"GEMM fp16 4096^3", 4096, 4096, 4096, FG_DT_F16, 2},
        {"GEMM fp16 16384^3", 16384, 16384, 16384, FG_DT_F16, 2},
        {"GEMM fp32 4096^3", 4096, 4096, 4096, FG_DT_F32, 4},
        {"GEMM tf32 8192^3", 8192, 8192, 8192, FG_DT_TF32, 4},
        {"GEMM fp16 1x768x50257 (decode, HBM)", 1, 50257, 768, FG_DT_F16, 2},
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        fg_cost c = {.kind = FG_COST_GEMM,
                     .dtype = g[i].dt,
                     .flops = 2 * g[i].m * g[i].n * g[i].k,
                     .bytes = (g[i].m * g[i].k + g[i].k * g[i].n + g[i].m * g[i].n) * g[i].esz};
        /* a small GEMM repeated 1000 times, so the row is milliseconds long */
        int reps = fg_work_model_ns(&c) < 1000000 ? 1000 : 1;
        double got[5];
        for (int r = 0; r < 5; r++) {
            double t0 = now_ms();
            for (int k = 0; k < reps; k++)
                if (fg_work_submit(NULL, NULL, NULL, NULL, &c))
                    return 2;
            CK(cuStreamSynchronize(NULL));
            got[r] = now_ms() - t0;
        }
        char what[96];
        snprintf(what, sizeof what, "%s%s", g[i].what, reps > 1 ? " x1000" : "");
        row(what, reps * fg_work_model_ns(&c) / 1e6, got);
    }

    size_t sizes[] = {(size_t)1 << 20, (size_t)64 << 20, (size_t)1 << 30};
    CUdeviceptr a, b;
    CK(cuMemAlloc(&a, (size_t)1 << 30));
    CK(cuMemAlloc(&b, (size_t)1 << 30));
    static char host[1]; /* H2D timing-only: never read */
    /* a D2H writes its destination (zeros, timing-only: docs/fakegpu.md), so it gets a real one,
     * touched before the runs */
    char *dhost = malloc((size_t)1 << 30);
    if (!dhost)
        return 2;
    memset(dhost, 1, (size_t)1 << 30);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        int reps = n < ((size_t)64 << 20) ? 100 : 1;
        struct {
            const char *what;
            enum fg_cost_kind kind;
        } k[] = {{"H2D", FG_COST_H2D}, {"D2D", FG_COST_D2D}, {"D2H", FG_COST_D2H}};
        for (int j = 0; j < 3; j++) {
            double got[5];
            for (int r = 0; r < 5; r++) {
                double t0 = now_ms();
                for (int q = 0; q < reps; q++) {
                    if (k[j].kind == FG_COST_H2D)
                        CK(cuMemcpyHtoDAsync(a, host, n, NULL));
                    else if (k[j].kind == FG_COST_D2D)
                        CK(cuMemcpyDtoDAsync(b, a, n, NULL));
                    else
                        CK(cuMemcpyDtoHAsync(dhost, a, n, NULL)); /* pageable: waits */
                }
                CK(cuStreamSynchronize(NULL));
                got[r] = now_ms() - t0;
            }
            fg_cost c = {.kind = k[j].kind, .bytes = (double)n};
            char what[96];
            snprintf(what, sizeof what, "%s %zu MiB%s", k[j].what, n >> 20,
                     reps > 1 ? " x100" : "");
            row(what, reps * fg_work_model_ns(&c) / 1e6, got);
        }
    }

    free(dhost);

    CUmodule m;
    CUfunction f;
    CK(cuModuleLoadData(&m, fatbin));
    CK(cuModuleGetFunction(&f, m, "_ZN2at6native29vectorized_elementwise_kernelILi4EEEvi"));
    unsigned grids[] = {1, 1000, 100000};
    for (size_t i = 0; i < sizeof grids / sizeof grids[0]; i++) {
        fg_cost c = {.kind = FG_COST_KERNEL,
                     .name = "_ZN2at6native29vectorized_elementwise_kernelILi4EEEvi",
                     .blocks = grids[i]};
        int reps = 1000;
        double got[5];
        for (int r = 0; r < 5; r++) {
            double t0 = now_ms();
            for (int q = 0; q < reps; q++)
                CK(cuLaunchKernel(f, grids[i], 1, 1, 128, 1, 1, 0, NULL, NULL, NULL));
            CK(cuStreamSynchronize(NULL));
            got[r] = now_ms() - t0;
        }
        char what[96];
        snprintf(what, sizeof what, "elementwise kernel, %u blocks x1000", grids[i]);
        row(what, reps * fg_work_model_ns(&c) / 1e6, got);
    }
    printf("%s\n", worst_ok ? "all rows within 15% of the formula"
                            : "some rows outside 15% of the formula (see above)");
    return 0;
}
