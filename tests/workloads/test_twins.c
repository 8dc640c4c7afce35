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
    fg_launch l = {{grid, 1, 1}, {block, 1, 1}, shmem, NULL};
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
    fg_launch l = {{(N + 15) / 16, (M + 15) / 16, 1}, {16, 16, 1}, 0, NULL};
    cr_assert_eq(run("_Z12matmul_tiledPKfS0_Pfiii", &l, args), 0);
    cr_expect_eq(memcmp(C, want, sizeof C), 0, "matmul twin is not bit-exact");

    fg_launch bad = {{5, 5, 1}, {8, 8, 1}, 0, NULL}; /* not the kernel's 16x16 tile */
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
    fg_launch l = {{1, 1, 1}, {16, 16, 1}, 0, NULL}; /* covers rows/cols 0..15 only */
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

/* ---- model workloads (minigpt, minicnn, twobranch) ---- */

Test(workload_twins, model_twins_registered_with_layouts)
{
    static const struct {
        const char *name;
        unsigned n, sizes[11];
    } want[] = {
        {"_Z12embed_tokensPKiPKfS2_Pfiii", 7, {8, 8, 8, 8, 4, 4, 4}},
        {"_Z14layernorm_rowsPKfS0_S0_Pfiif", 7, {8, 8, 8, 8, 4, 4, 4}},
        {"_Z9kv_appendPKfPfS1_iiiii", 8, {8, 8, 8, 4, 4, 4, 4, 4}},
        {"_Z14causal_softmaxPfiiii", 5, {8, 4, 4, 4, 4}},
        {"_Z12residual_addPfPKfi", 3, {8, 8, 4}},
        {"_Z10argmax_rowPKfiPii", 4, {8, 4, 8, 4}},
        {"_Z6im2colPKfPfiiiiiiiii", 11, {8, 8, 4, 4, 4, 4, 4, 4, 4, 4, 4}},
        {"_Z11bias_act_chPfPKfS1_iii", 6, {8, 8, 8, 4, 4, 4}},
        {"_Z9maxpool2dPKfPfiiiiiiiii", 11, {8, 8, 4, 4, 4, 4, 4, 4, 4, 4, 4}},
        {"_Z14global_avgpoolPKfPfiii", 5, {8, 8, 4, 4, 4}},
        {"_Z8patchifyPKfPfiiii", 6, {8, 8, 4, 4, 4, 4}},
        {"_Z10text_embedPKiPKfS2_Pfiii", 7, {8, 8, 8, 8, 4, 4, 4}},
        {"_Z13row_layernormPKfS0_S0_Pfiif", 7, {8, 8, 8, 8, 4, 4, 4}},
        {"_Z11mean_tokensPKfS0_Pfiii", 6, {8, 8, 8, 4, 4, 4}},
        {"_Z7concat2PKfS0_Pfiii", 6, {8, 8, 8, 4, 4, 4}},
        {"_Z12softmax_biasPfPKfS_ii", 5, {8, 8, 8, 4, 4}},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const fg_twin *t = fg_twin_find(want[i].name);
        cr_assert_not_null(t, "%s", want[i].name);
        cr_expect_eq(t->nparams, want[i].n, "%s", want[i].name);
        for (unsigned k = 0; k < want[i].n; k++)
            cr_expect_eq(t->sizes[k], want[i].sizes[k], "%s param %u", want[i].name, k);
    }
}

/* Naive float layernorm in one sequential pass order: what a 1-thread block computes. */
static void naive_ln(const float *x, const float *g, const float *b, float *y, int d, float eps)
{
    float s = 0.0f, q = 0.0f;
    for (int j = 0; j < d; j++)
        s += x[j];
    float mean = s / (float)d;
    for (int j = 0; j < d; j++) {
        float c = x[j] - mean;
        q = fmaf(c, c, q);
    }
    float inv = 1.0f / sqrtf(q / (float)d + eps);
    for (int j = 0; j < d; j++) {
        float n = (x[j] - mean) * inv;
        y[j] = fmaf(n, g[j], b[j]);
    }
}

static void double_ln_check(const float *x, const float *g, const float *b, const float *y, int d,
                            float eps)
{
    double mean = 0.0, var = 0.0;
    for (int j = 0; j < d; j++)
        mean += x[j];
    mean /= d;
    for (int j = 0; j < d; j++)
        var += (x[j] - mean) * (x[j] - mean);
    var /= d;
    for (int j = 0; j < d; j++) {
        double want = (x[j] - mean) / sqrt(var + eps) * g[j] + b[j];
        cr_expect(fabs(y[j] - want) <= 1e-5, "col %d: %g vs %g", j, y[j], want);
    }
}

Test(workload_twins, layernorms_match_naive)
{
    enum { M = 3, D = 37 };
    float x[M * D], g[D], b[D], y[M * D], y2[M * D], want[M * D];
    for (int i = 0; i < M * D; i++)
        x[i] = unitf() * 3.0f + 0.5f;
    for (int j = 0; j < D; j++) {
        g[j] = 1.0f + 0.1f * unitf();
        b[j] = 0.1f * unitf();
    }
    int32_t m = M, d = D;
    float eps = 1e-5f;
    uint64_t px = DP(x), pg = DP(g), pb = DP(b), py = DP(y), py2 = DP(y2);
    void *args[] = {&px, &pg, &pb, &py, &m, &d, &eps};
    void *args2[] = {&px, &pg, &pb, &py2, &m, &d, &eps};
    /* A one-thread block sums sequentially, like the naive loop: bit-exact. */
    fg_launch l1 = launch1(2, 1, 0);
    cr_assert_eq(run("_Z14layernorm_rowsPKfS0_S0_Pfiif", &l1, args), 0);
    for (int r = 0; r < M; r++)
        naive_ln(x + r * D, g, b, want + r * D, D, eps);
    cr_expect_eq(memcmp(y, want, sizeof y), 0, "layernorm_rows (1 thread) not bit-exact");
    /* The one-thread-per-row kernel of twobranch is the same computation. */
    fg_launch lr = launch1(1, 2, 0); /* 2 threads, 3 rows: the grid-stride path */
    cr_assert_eq(run("_Z13row_layernormPKfS0_S0_Pfiif", &lr, args2), 0);
    cr_expect_eq(memcmp(y2, want, sizeof y2), 0, "row_layernorm not bit-exact");
    /* 8 threads (a tree; d not a multiple of the block) stays within float error. */
    fg_launch l8 = launch1(1, 8, 0);
    cr_assert_eq(run("_Z14layernorm_rowsPKfS0_S0_Pfiif", &l8, args), 0);
    for (int r = 0; r < M; r++)
        double_ln_check(x + r * D, g, b, y + r * D, D, eps);
    fg_launch big = launch1(1, 512, 0);
    cr_expect_eq(run("_Z14layernorm_rowsPKfS0_S0_Pfiif", &big, args), 700);
}

Test(workload_twins, embed_and_kv_append_copy_exactly)
{
    enum { V = 11, D = 8, H = 2, CTX = 6, M = 3, PAST = 2 };
    float wte[V * D], wpe[CTX * D], x[M * D], qkv[M * 3 * D], kc[H * CTX * D / H],
        vc[H * CTX * D / H];
    int32_t tok[PAST + M] = {9, 9, 3, 10, 0};
    for (int i = 0; i < V * D; i++)
        wte[i] = unitf();
    for (int i = 0; i < CTX * D; i++)
        wpe[i] = unitf();
    for (int i = 0; i < M * 3 * D; i++)
        qkv[i] = unitf();
    for (int i = 0; i < H * CTX * D / H; i++)
        kc[i] = vc[i] = -7.0f;
    int32_t m = M, d = D, h = H, past = PAST, ctx = CTX;
    uint64_t pt = DP(tok), pwte = DP(wte), pwpe = DP(wpe), px = DP(x);
    uint64_t pq = DP(qkv), pk = DP(kc), pv = DP(vc);
    fg_launch l = launch1(1, 5, 0);
    void *ea[] = {&pt, &pwte, &pwpe, &px, &m, &d, &past};
    cr_assert_eq(run("_Z12embed_tokensPKiPKfS2_Pfiii", &l, ea), 0);
    for (int i = 0; i < M; i++)
        for (int c = 0; c < D; c++)
            cr_expect_eq(x[i * D + c], wte[tok[PAST + i] * D + c] + wpe[(PAST + i) * D + c]);
    void *ka[] = {&pq, &pk, &pv, &m, &d, &h, &past, &ctx};
    cr_assert_eq(run("_Z9kv_appendPKfPfS1_iiiii", &l, ka), 0);
    int dh = D / H;
    for (int hh = 0; hh < H; hh++)
        for (int t = 0; t < CTX; t++)
            for (int e = 0; e < dh; e++) {
                float k = kc[(hh * CTX + t) * dh + e], v = vc[(hh * CTX + t) * dh + e];
                if (t < PAST || t >= PAST + M) {
                    cr_expect_eq(k, -7.0f);
                    cr_expect_eq(v, -7.0f);
                } else {
                    cr_expect_eq(k, qkv[(t - PAST) * 3 * D + D + hh * dh + e]);
                    cr_expect_eq(v, qkv[(t - PAST) * 3 * D + 2 * D + hh * dh + e]);
                }
            }
}

Test(workload_twins, causal_softmax_masks_and_normalises)
{
    enum { H = 2, M = 3, PAST = 2, T = PAST + M };
    float S[H * M * T];
    for (int i = 0; i < H * M * T; i++)
        S[i] = unitf() * 5.0f;
    float S0[H * M * T];
    memcpy(S0, S, sizeof S);
    int32_t rows = H * M, m = M, t = T, past = PAST;
    uint64_t ps = DP(S);
    void *args[] = {&ps, &rows, &m, &t, &past};
    fg_launch l = launch1(4, 4, 0); /* fewer blocks than rows, threads < T */
    cr_assert_eq(run("_Z14causal_softmaxPfiiii", &l, args), 0);
    for (int r = 0; r < H * M; r++) {
        int nv = PAST + r % M + 1;
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j < nv; j++)
            mx = S0[r * T + j] > mx ? S0[r * T + j] : mx;
        for (int j = 0; j < nv; j++)
            sum += exp(S0[r * T + j] - mx);
        for (int j = 0; j < T; j++) {
            double want = j < nv ? exp(S0[r * T + j] - mx) / sum : 0.0;
            cr_expect(fabs(S[r * T + j] - want) <= 1e-6, "row %d col %d: %g vs %g", r, j,
                      S[r * T + j], want);
            if (j >= nv)
                cr_expect_eq(S[r * T + j], 0.0f, "masked row %d col %d", r, j);
        }
    }
}

Test(workload_twins, argmax_row_lowest_index_on_ties)
{
    enum { V = 100 };
    float x[V];
    for (int i = 0; i < V; i++)
        x[i] = unitf();
    x[37] = 2.0f;
    x[81] = 2.0f; /* tie: the lower index wins whatever thread holds it */
    x[5] = -INFINITY;
    int32_t tok[4] = {-1, -1, -1, -1}, v = V, pos = 2;
    uint64_t px = DP(x), pt = DP(tok);
    void *args[] = {&px, &v, &pt, &pos};
    fg_launch l = launch1(1, 8, 0);
    cr_assert_eq(run("_Z10argmax_rowPKfiPii", &l, args), 0);
    cr_expect_eq(tok[2], 37);
    cr_expect_eq(tok[1], -1);
    x[37] = 1.5f;
    cr_assert_eq(run("_Z10argmax_rowPKfiPii", &l, args), 0);
    cr_expect_eq(tok[2], 81);
    /* residual_add: plain x += y. */
    float a[7] = {1, 2, 3, 4, 5, 6, 7}, b[7] = {0.5f, -2, 0, 1, 1, 1, -7};
    int32_t n = 7;
    uint64_t pa = DP(a), pb = DP(b);
    void *ra[] = {&pa, &pb, &n};
    fg_launch l2 = launch1(1, 3, 0);
    cr_assert_eq(run("_Z12residual_addPfPKfi", &l2, ra), 0);
    cr_expect_eq(a[0], 1.5f);
    cr_expect_eq(a[6], 0.0f);
}

Test(workload_twins, im2col_and_maxpool_match_naive)
{
    enum { C = 2, B = 2, H = 5, W = 4, K = 3, STRIDE = 2, PAD = 1 };
    enum { OH = (H + 2 * PAD - K) / STRIDE + 1, OW = (W + 2 * PAD - K) / STRIDE + 1 };
    float x[C * B * H * W], col[C * K * K * B * OH * OW], y[C * B * OH * OW];
    for (int i = 0; i < C * B * H * W; i++)
        x[i] = unitf();
    int32_t c = C, b = B, h = H, w = W, k = K, s = STRIDE, p = PAD, oh = OH, ow = OW;
    uint64_t px = DP(x), pc = DP(col), py = DP(y);
    void *args[] = {&px, &pc, &c, &b, &h, &w, &k, &s, &p, &oh, &ow};
    fg_launch l = launch1(2, 16, 0);
    cr_assert_eq(run("_Z6im2colPKfPfiiiiiiiii", &l, args), 0);
    int S = B * OH * OW;
    for (int ci = 0; ci < C; ci++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++)
                for (int bi = 0; bi < B; bi++)
                    for (int oy = 0; oy < OH; oy++)
                        for (int ox = 0; ox < OW; ox++) {
                            int iy = oy * STRIDE - PAD + ky, ix = ox * STRIDE - PAD + kx;
                            float want = (iy >= 0 && iy < H && ix >= 0 && ix < W)
                                             ? x[((ci * B + bi) * H + iy) * W + ix]
                                             : 0.0f;
                            int row = (ci * K + ky) * K + kx, sc = (bi * OH + oy) * OW + ox;
                            cr_expect_eq(col[row * S + sc], want, "row %d col %d", row, sc);
                        }
    void *margs[] = {&px, &py, &c, &b, &h, &w, &k, &s, &p, &oh, &ow};
    cr_assert_eq(run("_Z9maxpool2dPKfPfiiiiiiiii", &l, margs), 0);
    for (int cb = 0; cb < C * B; cb++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                float m = -INFINITY;
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++) {
                        int iy = oy * STRIDE - PAD + ky, ix = ox * STRIDE - PAD + kx;
                        if (iy >= 0 && iy < H && ix >= 0 && ix < W && x[(cb * H + iy) * W + ix] > m)
                            m = x[(cb * H + iy) * W + ix];
                    }
                cr_expect_eq(y[(cb * OH + oy) * OW + ox], m);
            }
}

Test(workload_twins, bias_act_ch_and_avgpool)
{
    enum { C = 3, S = 10 };
    float y[C * S], y0[C * S], res[C * S], bias[C] = {0.25f, -1.0f, 0.0f};
    for (int i = 0; i < C * S; i++) {
        y[i] = y0[i] = unitf();
        res[i] = unitf();
    }
    int32_t c = C, s = S, relu = 1, norelu = 0;
    uint64_t py = DP(y), pb = DP(bias), pr = DP(res), pnull = 0;
    void *a1[] = {&py, &pb, &pr, &c, &s, &relu};
    fg_launch l = launch1(1, 7, 0);
    cr_assert_eq(run("_Z11bias_act_chPfPKfS1_iii", &l, a1), 0);
    for (int i = 0; i < C * S; i++) {
        float v = y0[i] + bias[i / S];
        v = v + res[i];
        cr_expect_eq(y[i], v > 0.0f ? v : 0.0f, "relu+res %d", i);
    }
    memcpy(y, y0, sizeof y);
    void *a2[] = {&py, &pb, &pnull, &c, &s, &norelu};
    cr_assert_eq(run("_Z11bias_act_chPfPKfS1_iii", &l, a2), 0);
    for (int i = 0; i < C * S; i++)
        cr_expect_eq(y[i], y0[i] + bias[i / S], "plain %d", i);

    /* global_avgpool over x [C][B][HW] into [B][C]. */
    enum { B = 2, HW = 5 };
    float x[C * B * HW], out[B * C];
    for (int i = 0; i < C * B * HW; i++)
        x[i] = unitf();
    int32_t b = B, hw = HW;
    uint64_t px = DP(x), po = DP(out);
    void *a3[] = {&px, &po, &c, &b, &hw};
    cr_assert_eq(run("_Z14global_avgpoolPKfPfiii", &l, a3), 0);
    for (int bi = 0; bi < B; bi++)
        for (int ci = 0; ci < C; ci++) {
            float sum = 0.0f;
            for (int j = 0; j < HW; j++)
                sum += x[(ci * B + bi) * HW + j];
            cr_expect_eq(out[bi * C + ci], sum / (float)HW);
        }
}

Test(workload_twins, twobranch_kernels_match_naive)
{
    enum { B = 2, C = 3, S = 4, P = 2, G = S / P, NP = G * G, PD = C * P * P };
    float img[B * C * S * S], patches[B * NP * PD];
    for (int i = 0; i < B * C * S * S; i++)
        img[i] = unitf();
    int32_t b = B, c = C, s = S, p = P;
    uint64_t pi = DP(img), pp = DP(patches);
    void *a1[] = {&pi, &pp, &b, &c, &s, &p};
    fg_launch l = launch1(3, 5, 0);
    cr_assert_eq(run("_Z8patchifyPKfPfiiii", &l, a1), 0);
    for (int bi = 0; bi < B; bi++)
        for (int q = 0; q < NP; q++)
            for (int e = 0; e < PD; e++) {
                int kx = e % P, ky = e / P % P, ch = e / P / P;
                int yy = q / G * P + ky, xx = q % G * P + kx;
                cr_expect_eq(patches[(bi * NP + q) * PD + e],
                             img[((bi * C + ch) * S + yy) * S + xx]);
            }

    enum { V = 9, L = 3, D = 4 };
    int32_t tok[B * L] = {1, 8, 0, 8, 8, 2};
    float emb[V * D], pos[L * D], x[B * L * D], feat[B * D], bias[D] = {1, 2, 3, 4};
    for (int i = 0; i < V * D; i++)
        emb[i] = unitf();
    for (int i = 0; i < L * D; i++)
        pos[i] = unitf();
    int32_t ll = L, d = D;
    uint64_t pt = DP(tok), pe = DP(emb), ppos = DP(pos), px = DP(x), pf = DP(feat), pb = DP(bias);
    uint64_t pnull = 0;
    void *a2[] = {&pt, &pe, &ppos, &px, &b, &ll, &d};
    cr_assert_eq(run("_Z10text_embedPKiPKfS2_Pfiii", &l, a2), 0);
    for (int r = 0; r < B * L; r++)
        for (int j = 0; j < D; j++)
            cr_expect_eq(x[r * D + j], emb[tok[r] * D + j] + pos[(r % L) * D + j]);
    void *a3[] = {&px, &pb, &pf, &b, &ll, &d};
    cr_assert_eq(run("_Z11mean_tokensPKfS0_Pfiii", &l, a3), 0);
    for (int bi = 0; bi < B; bi++)
        for (int j = 0; j < D; j++) {
            float sum = 0.0f;
            for (int t = 0; t < L; t++)
                sum += x[(bi * L + t) * D + j];
            cr_expect_eq(feat[bi * D + j], sum / (float)L + bias[j]);
        }
    void *a4[] = {&px, &pnull, &pf, &b, &ll, &d};
    cr_assert_eq(run("_Z11mean_tokensPKfS0_Pfiii", &l, a4), 0);
    cr_expect_eq(feat[0], ((x[0] + x[D]) + x[2 * D]) / 3.0f);

    float za[B * 2] = {1, 2, 3, 4}, zc[B * 3] = {5, 6, 7, 8, 9, 10}, z[B * 5];
    int32_t da = 2, dc = 3;
    uint64_t pza = DP(za), pzc = DP(zc), pz = DP(z);
    void *a5[] = {&pza, &pzc, &pz, &b, &da, &dc};
    cr_assert_eq(run("_Z7concat2PKfS0_Pfiii", &l, a5), 0);
    const float zwant[B * 5] = {1, 2, 5, 6, 7, 3, 4, 8, 9, 10};
    cr_expect_eq(memcmp(z, zwant, sizeof z), 0, "concat2");

    enum { K = 6 };
    float lg[B * K], lg0[B * K], kb[K], prob[B * K];
    for (int i = 0; i < B * K; i++)
        lg[i] = lg0[i] = unitf() * 3.0f;
    for (int j = 0; j < K; j++)
        kb[j] = unitf();
    int32_t kk = K;
    uint64_t plg = DP(lg), pkb = DP(kb), ppr = DP(prob);
    void *a6[] = {&plg, &pkb, &ppr, &b, &kk};
    cr_assert_eq(run("_Z12softmax_biasPfPKfS_ii", &l, a6), 0);
    for (int bi = 0; bi < B; bi++) {
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j < K; j++) {
            cr_expect_eq(lg[bi * K + j], lg0[bi * K + j] + kb[j]);
            mx = lg[bi * K + j] > mx ? lg[bi * K + j] : mx;
        }
        for (int j = 0; j < K; j++)
            sum += exp(lg[bi * K + j] - mx);
        for (int j = 0; j < K; j++)
            cr_expect(fabs(prob[bi * K + j] - exp(lg[bi * K + j] - mx) / sum) <= 1e-6);
    }
}
