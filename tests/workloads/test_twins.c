/* test_twins.c — calls each workload twin directly on small inputs and checks it against a naive loop. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fakegpu/fakegpu_twin.h"

/* The fake GPU hands twins device pointers as 8-byte CUdeviceptr values that are host
 * addresses; the tests do the same. */
#define DP(p) ((uint64_t)(uintptr_t)(p))

static fg_launch launch1(unsigned grid, unsigned block, unsigned shmem)
{
    fg_launch l = {{grid, 1, 1}, {block, 1, 1}, shmem};
    return l;
}

static int run(const char *name, const fg_launch *l, void **args)
{
    const fg_twin *t = fg_twin_find(name);
    cr_assert_not_null(t, "twin %s is not registered", name);
    return t->fn(l, args);
}

/* Deterministic test data: the same LCG as the programs use. */
static unsigned lcg_s = 1;
static unsigned lcg(void) { return lcg_s = lcg_s * 1664525u + 1013904223u; }
static float unitf(void) { return (float)(lcg() >> 8) * (1.0f / 8388608.0f) - 1.0f; }

Test(workload_twins, registered_with_layouts)
{
    static const struct {
        const char *name;
        unsigned n, sizes[6];
    } want[] = {
        {"_Z5saxpyifPKfPf", 4, {4, 4, 8, 8}},
        {"_Z14reduce_partialIixEvPKT_iPT0_", 3, {8, 4, 8}},
        {"_Z14reduce_partialIffEvPKT_iPT0_", 3, {8, 4, 8}},
        {"_Z12reduce_finalIxEvPKT_iPS0_", 3, {8, 4, 8}},
        {"_Z12reduce_finalIfEvPKT_iPS0_", 3, {8, 4, 8}},
        {"_Z12matmul_tiledPKfS0_Pfiii", 6, {8, 8, 8, 4, 4, 4}},
        {"_Z8bias_actPfPKfiii", 5, {8, 8, 4, 4, 4}},
        {"_Z12softmax_rowsPKfPfii", 4, {8, 8, 4, 4}},
        {"_Z9add_constPiii", 3, {8, 4, 4}},
        {"_Z8axpy_intPiPKiii", 4, {8, 8, 4, 4}},
        {"_Z9fill_iotaPiii", 3, {8, 4, 4}},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const fg_twin *t = fg_twin_find(want[i].name);
        cr_assert_not_null(t, "%s", want[i].name);
        cr_expect_eq(t->nparams, want[i].n, "%s", want[i].name);
        for (unsigned k = 0; k < want[i].n; k++)
            cr_expect_eq(t->sizes[k], want[i].sizes[k], "%s param %u", want[i].name, k);
    }
}

Test(workload_twins, saxpy_matches_fmaf_loop)
{
    enum { N = 1000 };
    float x[N], y[N], ref[N];
    for (int i = 0; i < N; i++) {
        x[i] = unitf();
        y[i] = ref[i] = unitf();
    }
    int32_t n = N;
    float a = 1.375f;
    uint64_t px = DP(x), py = DP(y);
    void *args[] = {&n, &a, &px, &py};
    fg_launch l = launch1(2, 128, 0); /* 256 threads < N: the grid-stride path */
    cr_assert_eq(run("_Z5saxpyifPKfPf", &l, args), 0);
    for (int i = 0; i < N; i++)
        ref[i] = fmaf(a, x[i], ref[i]);
    cr_assert_eq(memcmp(y, ref, sizeof y), 0, "saxpy twin is not bit-exact");
}

/* Naive reference of reduce_partial for ints: element i belongs to the thread
 * (i mod stride), i.e. to block (i mod stride) / blockDim. */
Test(workload_twins, reduce_int_two_pass)
{
    enum { N = 5003, GRID = 8, BLOCK = 64 };
    int32_t in[N];
    long long want_part[GRID] = {0}, part[GRID], out = -1, total = 0;
    for (int i = 0; i < N; i++) {
        in[i] = (int32_t)(lcg() % 2001u) - 1000;
        want_part[(i % (GRID * BLOCK)) / BLOCK] += in[i];
        total += in[i];
    }
    int32_t n = N, m = GRID;
    uint64_t pin = DP(in), ppart = DP(part), pout = DP(&out);
    void *a1[] = {&pin, &n, &ppart};
    fg_launch l = launch1(GRID, BLOCK, BLOCK * sizeof(long long));
    cr_assert_eq(run("_Z14reduce_partialIixEvPKT_iPT0_", &l, a1), 0);
    for (int b = 0; b < GRID; b++)
        cr_expect_eq(part[b], want_part[b], "block %d", b);
    void *a2[] = {&ppart, &m, &pout};
    l = launch1(1, 32, 32 * sizeof(long long));
    cr_assert_eq(run("_Z12reduce_finalIxEvPKT_iPS0_", &l, a2), 0);
    cr_expect_eq(out, total);
}

/* A non-power-of-two block loses what the kernel's tree loses: with blockDim 3 the
 * tree is one step (s = 1) and thread 2's sum never reaches slot 0. */
Test(workload_twins, reduce_odd_block_drops_like_the_kernel)
{
    int32_t in[6] = {1, 10, 100, 1000, 10000, 100000};
    long long part[1];
    int32_t n = 6;
    uint64_t pin = DP(in), ppart = DP(part);
    void *args[] = {&pin, &n, &ppart};
    fg_launch l = launch1(1, 3, 3 * sizeof(long long));
    cr_assert_eq(run("_Z14reduce_partialIixEvPKT_iPT0_", &l, args), 0);
    cr_expect_eq(part[0], (1 + 1000) + (10 + 10000)); /* thread 2 (100 + 100000) dropped */
}

Test(workload_twins, reduce_short_shmem_is_an_error)
{
    int32_t in[4] = {0}, n = 4;
    float part[1];
    uint64_t pin = DP(in), ppart = DP(part);
    void *args[] = {&pin, &n, &ppart};
    fg_launch l = launch1(1, 64, 64 * sizeof(float) - 4);
    cr_expect_eq(run("_Z14reduce_partialIffEvPKT_iPT0_", &l, args), 700);
}

/* Float order: thread sums in grid-stride order, then the tree, written out naively. */
Test(workload_twins, reduce_float_keeps_kernel_order)
{
    enum { N = 3001, GRID = 4, BLOCK = 16 };
    float in[N], part[GRID], out = 0.0f;
    for (int i = 0; i < N; i++)
        in[i] = unitf() * 1000.0f; /* wide magnitudes: a different order would round differently */
    float want_part[GRID];
    for (int b = 0; b < GRID; b++) {
        float sh[BLOCK];
        for (int t = 0; t < BLOCK; t++) {
            sh[t] = 0.0f;
            for (int i = b * BLOCK + t; i < N; i += GRID * BLOCK)
                sh[t] += in[i];
        }
        for (int s = BLOCK / 2; s > 0; s /= 2)
            for (int t = 0; t < s; t++)
                sh[t] += sh[t + s];
        want_part[b] = sh[0];
    }
    float want_out = (want_part[0] + want_part[2]) + (want_part[1] + want_part[3]); /* block 2 */

    int32_t n = N, m = GRID;
    uint64_t pin = DP(in), ppart = DP(part), pout = DP(&out);
    void *a1[] = {&pin, &n, &ppart};
    fg_launch l = launch1(GRID, BLOCK, BLOCK * sizeof(float));
    cr_assert_eq(run("_Z14reduce_partialIffEvPKT_iPT0_", &l, a1), 0);
    cr_expect_eq(memcmp(part, want_part, sizeof part), 0, "partials not bit-exact");
    void *a2[] = {&ppart, &m, &pout};
    l = launch1(1, 4, 4 * sizeof(float)); /* 4 threads: one partial each, then the tree */
    cr_assert_eq(run("_Z12reduce_finalIfEvPKT_iPS0_", &l, a2), 0);
    cr_expect_eq(memcmp(&out, &want_out, sizeof out), 0, "final not bit-exact");
}

Test(workload_twins, matmul_tiled_partial_tiles)
{
    enum { M = 20, N = 37, K = 50 };
    static float A[M * K], B[K * N], C[M * N], want[M * N];
    for (int i = 0; i < M * K; i++)
        A[i] = unitf();
    for (int i = 0; i < K * N; i++)
        B[i] = unitf();
    for (int r = 0; r < M; r++)
        for (int c = 0; c < N; c++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++)
                acc = fmaf(A[r * K + k], B[k * N + c], acc); /* zero-padded k add nothing */
            want[r * N + c] = acc;
        }
    int32_t m = M, n = N, k = K;
    uint64_t pa = DP(A), pb = DP(B), pc = DP(C);
    void *args[] = {&pa, &pb, &pc, &m, &n, &k};
    fg_launch l = {{(N + 15) / 16, (M + 15) / 16, 1}, {16, 16, 1}, 0};
    cr_assert_eq(run("_Z12matmul_tiledPKfS0_Pfiii", &l, args), 0);
    cr_expect_eq(memcmp(C, want, sizeof C), 0, "matmul twin is not bit-exact");

    fg_launch bad = {{5, 5, 1}, {8, 8, 1}, 0}; /* not the kernel's 16x16 tile */
    cr_expect_eq(run("_Z12matmul_tiledPKfS0_Pfiii", &bad, args), 1);
}

Test(workload_twins, matmul_tiled_grid_too_small_leaves_rest)
{
    enum { M = 20, N = 20, K = 3 };
    float A[M * K], B[K * N], C[M * N];
    for (int i = 0; i < M * K; i++)
        A[i] = 1.0f;
    for (int i = 0; i < K * N; i++)
        B[i] = 2.0f;
    for (int i = 0; i < M * N; i++)
        C[i] = -1.0f;
    int32_t m = M, n = N, k = K;
    uint64_t pa = DP(A), pb = DP(B), pc = DP(C);
    void *args[] = {&pa, &pb, &pc, &m, &n, &k};
    fg_launch l = {{1, 1, 1}, {16, 16, 1}, 0}; /* covers rows/cols 0..15 only */
    cr_assert_eq(run("_Z12matmul_tiledPKfS0_Pfiii", &l, args), 0);
    cr_expect_eq(C[0], 6.0f);
    cr_expect_eq(C[15 * N + 15], 6.0f);
    cr_expect_eq(C[15 * N + 16], -1.0f);
    cr_expect_eq(C[16 * N + 0], -1.0f);
}

Test(workload_twins, bias_act_relu_and_plain)
{
    enum { M = 3, N = 5 };
    float X[M * N], Y[M * N], b[N] = {0.5f, -0.5f, 0.0f, 1.0f, -2.0f};
    for (int i = 0; i < M * N; i++)
        X[i] = Y[i] = unitf();
    X[2] = -0.0f; /* -0 + 0 = +0 either way; ReLU of it must be +0 */
    int32_t m = M, n = N, relu = 1, norelu = 0;
    uint64_t px = DP(X), py = DP(Y), pb = DP(b);
    fg_launch l = launch1(1, 4, 0); /* 4 threads over 15 elements */
    void *a1[] = {&px, &pb, &m, &n, &relu};
    void *a2[] = {&py, &pb, &m, &n, &norelu};
    float x0[M * N], y0[M * N];
    memcpy(x0, X, sizeof X);
    memcpy(y0, Y, sizeof Y);
    cr_assert_eq(run("_Z8bias_actPfPKfiii", &l, a1), 0);
    cr_assert_eq(run("_Z8bias_actPfPKfiii", &l, a2), 0);
    for (int i = 0; i < M * N; i++) {
        float v = x0[i] + b[i % N];
        cr_expect_eq(X[i], v > 0.0f ? v : 0.0f, "relu %d", i);
        cr_expect_eq(Y[i], y0[i] + b[i % N], "plain %d", i);
    }
    cr_expect(!signbit(X[2]), "ReLU gave -0");
}

Test(workload_twins, softmax_rows_close_to_double)
{
    enum { M = 5, N = 10 };
    float X[M * N], Y[M * N];
    for (int i = 0; i < M * N; i++)
        X[i] = unitf() * 4.0f;
    int32_t m = M, n = N;
    uint64_t px = DP(X), py = DP(Y);
    void *args[] = {&px, &py, &m, &n};
    fg_launch l = launch1(2, 8, 0); /* fewer blocks than rows, fewer threads than columns */
    cr_assert_eq(run("_Z12softmax_rowsPKfPfii", &l, args), 0);
    for (int r = 0; r < M; r++) {
        double mx = X[r * N], sum = 0.0;
        for (int j = 1; j < N; j++)
            mx = X[r * N + j] > mx ? X[r * N + j] : mx;
        for (int j = 0; j < N; j++)
            sum += exp(X[r * N + j] - mx);
        for (int j = 0; j < N; j++) {
            double want = exp(X[r * N + j] - mx) / sum;
            cr_expect(fabs(Y[r * N + j] - want) <= 1e-6, "row %d col %d: %g vs %g", r, j,
                      Y[r * N + j], want);
        }
    }
    fg_launch big = launch1(1, 512, 0); /* past the kernel's 256-float shared array */
    cr_expect_eq(run("_Z12softmax_rowsPKfPfii", &big, args), 700);
}

Test(workload_twins, int_elementwise_kernels)
{
    enum { N = 777 };
    int32_t p[N], y[N], x[N];
    for (int i = 0; i < N; i++) {
        p[i] = i - 300;
        y[i] = 5 * i;
        x[i] = 1000 - i;
    }
    int32_t n = N, c = 7, a = 3, base = 100;
    uint64_t pp = DP(p), py = DP(y), px = DP(x);
    fg_launch l = launch1(3, 64, 0);
    void *ac[] = {&pp, &c, &n};
    cr_assert_eq(run("_Z9add_constPiii", &l, ac), 0);
    void *aa[] = {&py, &px, &a, &n};
    cr_assert_eq(run("_Z8axpy_intPiPKiii", &l, aa), 0);
    for (int i = 0; i < N; i++) {
        cr_expect_eq(p[i], i - 300 + 7);
        cr_expect_eq(y[i], 5 * i + 3 * (1000 - i));
    }
    void *af[] = {&pp, &base, &n};
    cr_assert_eq(run("_Z9fill_iotaPiii", &l, af), 0);
    for (int i = 0; i < N; i++)
        cr_expect_eq(p[i], 100 + i);
}

Test(workload_twins, empty_grid_does_nothing)
{
    float x[4] = {1, 2, 3, 4}, y[4] = {1, 1, 1, 1};
    int32_t n = 4;
    float a = 2.0f;
    uint64_t px = DP(x), py = DP(y);
    void *args[] = {&n, &a, &px, &py};
    fg_launch l = launch1(0, 128, 0);
    cr_assert_eq(run("_Z5saxpyifPKfPf", &l, args), 0);
    cr_expect_eq(y[3], 1.0f);
}
