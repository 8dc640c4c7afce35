/* test_fakeblas.c — unit tests of libgenie_fakecublas.so: every GEMM form vs a naive loop. */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fakeblas.h"
#include "fakegpu_work.h"

static const cublasOperation_t OPS[2] = {CUBLAS_OP_N, CUBLAS_OP_T};

/* ---- test matrices: typed storage plus the exact values it holds ------------------------- */

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) /* xorshift: deterministic */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double rnd(void)
{
    return (double)(next() >> 11) / (double)(1ull << 52) - 1.0;
} /* [-1, 1) */

static size_t tsize(cudaDataType t)
{
    return t == CUDA_R_64F ? 8 : t == CUDA_R_32F ? 4 : 2;
}

static void put(void *p, cudaDataType t, int64_t i, double v)
{
    switch (t) {
    case CUDA_R_16F:
        ((uint16_t *)p)[i] = fb_f2h((float)v);
        break;
    case CUDA_R_16BF:
        ((uint16_t *)p)[i] = fb_f2bf((float)v);
        break;
    case CUDA_R_32F:
        ((float *)p)[i] = (float)v;
        break;
    default:
        ((double *)p)[i] = v;
    }
}

static double get(const void *p, cudaDataType t, int64_t i)
{
    switch (t) {
    case CUDA_R_16F:
        return fb_h2f(((const uint16_t *)p)[i]);
    case CUDA_R_16BF:
        return fb_bf2f(((const uint16_t *)p)[i]);
    case CUDA_R_32F:
        return ((const float *)p)[i];
    default:
        return ((const double *)p)[i];
    }
}

/* A batch of rows x cols matrices in typed storage with padding (ld > inner, stride > matrix)
 * that holds a sentinel, so a write outside the matrix is seen. */
struct mat {
    cudaDataType t;
    int64_t rows, cols, ld, stride, batch;
    int rowmajor;
    void *buf, *orig; /* buf: what the library sees; orig: its initial bytes */
    size_t bytes;
};

static int64_t off(const struct mat *x, int64_t b, int64_t i, int64_t j)
{
    return b * x->stride + (x->rowmajor ? i * x->ld + j : i + j * x->ld);
}

/* fill: 0 random, 1 NaN everywhere (an output never to be read) */
static void mat_init(struct mat *x, cudaDataType t, int64_t rows, int64_t cols, int64_t pad,
                     int64_t batch, int rowmajor, int fill)
{
    x->t = t;
    x->rows = rows;
    x->cols = cols;
    x->rowmajor = rowmajor;
    int64_t inner = rowmajor ? cols : rows, outer = rowmajor ? rows : cols;
    x->ld = (inner > 1 ? inner : 1) + pad;
    x->stride = x->ld * outer + 3 * pad;
    x->batch = batch;
    int64_t n = x->stride * batch + 1;
    x->bytes = (size_t)n * tsize(t);
    x->buf = malloc(x->bytes);
    x->orig = malloc(x->bytes);
    for (int64_t i = 0; i < n; i++)
        put(x->buf, t, i, 777.0); /* sentinel */
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++)
                put(x->buf, t, off(x, b, i, j), fill ? NAN : rnd());
    memcpy(x->orig, x->buf, x->bytes);
}

static void mat_free(struct mat *x)
{
    free(x->buf);
    free(x->orig);
}

static double at(const struct mat *x, int64_t b, int64_t i, int64_t j)
{
    return get(x->orig, x->t, off(x, b, i, j));
}

/* Every element outside the matrices still holds its initial bytes. */
/* The fake cuBLAS queues GEMMs on the fake GPU's streams, to run after the call returns:
 * every checked call waits for all queued work before the test looks at memory. */
static cublasStatus_t synced(cublasStatus_t s)
{
    cr_assert_eq(fg_work_sync_all(), 0, "queued work failed");
    return s;
}
#define OK(call) cr_assert_eq(synced(call), CUBLAS_STATUS_SUCCESS, "%s", #call)
#define IS(st, call) cr_assert_eq(synced(call), (st), "%s: want %s", #call, #st)
static void check_padding(const struct mat *x)
{
    synced(CUBLAS_STATUS_SUCCESS);
    size_t es = tsize(x->t);
    char *in = calloc(x->bytes / es, 1);
    for (int64_t b = 0; b < x->batch; b++)
        for (int64_t i = 0; i < x->rows; i++)
            for (int64_t j = 0; j < x->cols; j++)
                in[off(x, b, i, j)] = 1;
    for (size_t e = 0; e < x->bytes / es; e++)
        if (!in[e])
            cr_assert(memcmp((char *)x->buf + e * es, (char *)x->orig + e * es, es) == 0,
                      "write outside the matrix at element %zu", e);
    free(in);
}

/* ---- the reference: a naive triple loop in double, with cuBLASLt's epilogue --------------- */

struct ref {
    int ta, tb;
    int64_t m, n, k, batch;
    double alpha, beta;
    const double *alpha_vec; /* per row, or NULL */
    const struct mat *a, *b, *c;
    const void *bias;
    cudaDataType bias_t;
    int64_t bias_stride;
    int relu, gelu;
    double eps_acc; /* unit roundoff of the accumulation */
};

static double gelu(double x)
{
    return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

static double eps_of(cudaDataType t)
{
    switch (t) {
    case CUDA_R_16F:
        return 0x1p-11;
    case CUDA_R_16BF:
        return 0x1p-8;
    case CUDA_R_32F:
        return 0x1p-24;
    default:
        return 0x1p-53;
    }
}

/* Compares every element of D with the reference; then D's padding. */
static void check(const struct ref *r, const struct mat *d)
{
    synced(CUBLAS_STATUS_SUCCESS);
    double eout = eps_of(d->t);
    for (int64_t b = 0; b < r->batch; b++)
        for (int64_t j = 0; j < r->n; j++)
            for (int64_t i = 0; i < r->m; i++) {
                double acc = 0, mag = 0;
                for (int64_t l = 0; l < r->k; l++) {
                    double x = r->ta ? at(r->a, b, l, i) : at(r->a, b, i, l);
                    double y = r->tb ? at(r->b, b, j, l) : at(r->b, b, l, j);
                    acc += x * y;
                    mag += fabs(x * y);
                }
                double al = r->alpha_vec ? r->alpha_vec[i] : r->alpha;
                double v = al * acc;
                mag = fabs(al) * mag;
                if (r->beta != 0) {
                    double c = at(r->c, b, i, j);
                    v += r->beta * c;
                    mag += fabs(r->beta * c);
                }
                if (r->bias) {
                    double bb = get(r->bias, r->bias_t, b * r->bias_stride + i);
                    v += bb;
                    mag += fabs(bb);
                }
                if (r->relu)
                    v = v > 0 ? v : 0;
                if (r->gelu)
                    v = gelu(v);
                double got = get(d->buf, d->t, off(d, b, i, j));
                double tol = 2 * (r->k + 4) * r->eps_acc * mag + 2 * eout * (fabs(v) + 1e-4);
                cr_assert(fabs(got - v) <= tol, "b=%ld i=%ld j=%ld: got %.9g want %.9g (tol %.3g)",
                          (long)b, (long)i, (long)j, got, v, tol);
            }
    check_padding(d);
}

static cublasHandle_t handle(void)
{
    cublasHandle_t h;
    OK(cublasCreate_v2(&h));
    return h;
}

/* ---- fp16 / bf16 conversion ---------------------------------------------------------------- */

Test(convert, half_matches_compiler)
{
    /* every half survives half -> float -> half, and agrees with the compiler's _Float16 */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = fb_h2f((uint16_t)h);
        _Float16 c;
        uint16_t cb = (uint16_t)h;
        memcpy(&c, &cb, 2);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) {
            cr_assert(isnan(f));
            continue;
        }
        cr_assert_eq(f, (float)c, "h=%#x", h);
        cr_assert_eq(fb_f2h(f), h, "round trip h=%#x", h);
    }
    /* random floats of every magnitude round as the compiler rounds (nearest even) */
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = (uint32_t)(next() >> 32);
        float f = fb_u2f(u);
        if (isnan(f))
            continue;
        _Float16 c = (_Float16)f;
        uint16_t cb;
        memcpy(&cb, &c, 2);
        cr_assert_eq(fb_f2h(f), cb, "f=%a", (double)f);
    }
}

Test(convert, bf16_round_to_nearest_even)
{
    cr_assert_eq(fb_f2bf(1.0f), 0x3f80);
    cr_assert_eq(fb_f2bf(1.0f + 0x1p-8f), 0x3f80);     /* tie -> even */
    cr_assert_eq(fb_f2bf(1.0f + 3 * 0x1p-8f), 0x3f82); /* tie -> even (up) */
    cr_assert_eq(fb_f2bf(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    cr_assert_eq(fb_f2bf(-2.0f), 0xc000);
    cr_assert_eq(fb_f2bf(INFINITY), 0x7f80);
    cr_assert(isnan(fb_bf2f(fb_f2bf(NAN))));
    cr_assert_eq(fb_f2bf(FLT_MAX), 0x7f80); /* rounds past the largest finite bf16 */
    for (uint32_t b = 0; b < 0x10000; b++)
        if ((b & 0x7f80) != 0x7f80 || !(b & 0x7f))
            cr_assert_eq(fb_f2bf(fb_bf2f((uint16_t)b)), b);
}

/* ---- cuBLAS GEMM: typed forms -------------------------------------------------------------- */

/* One single-matrix GEMM of type t through the typed entry point (Sgemm, Dgemm, Hgemm). */
static void typed_case(cudaDataType t, int ta, int tb, int64_t m, int64_t n, int64_t k,
                       double alpha, double beta)
{
    cublasHandle_t h = handle();
    struct mat a, b, c;
    mat_init(&a, t, ta ? k : m, ta ? m : k, 3, 1, 0, 0);
    mat_init(&b, t, tb ? n : k, tb ? k : n, 2, 1, 0, 0);
    mat_init(&c, t, m, n, 1, 1, 0, beta == 0);
    cublasStatus_t s;
    if (t == CUDA_R_32F) {
        float al = (float)alpha, be = (float)beta;
        s = cublasSgemm(h, OPS[ta], OPS[tb], (int)m, (int)n, (int)k, &al, a.buf, (int)a.ld, b.buf,
                        (int)b.ld, &be, c.buf, (int)c.ld);
    } else if (t == CUDA_R_64F) {
        s = cublasDgemm(h, OPS[ta], OPS[tb], (int)m, (int)n, (int)k, &alpha, a.buf, (int)a.ld,
                        b.buf, (int)b.ld, &beta, c.buf, (int)c.ld);
    } else {
        __half al = {fb_f2h((float)alpha)}, be = {fb_f2h((float)beta)};
        s = cublasHgemm(h, OPS[ta], OPS[tb], (int)m, (int)n, (int)k, &al, a.buf, (int)a.ld, b.buf,
                        (int)b.ld, &be, c.buf, (int)c.ld);
    }
    cr_assert_eq(s, CUBLAS_STATUS_SUCCESS);
    struct ref r = {.ta = ta,
                    .tb = tb,
                    .m = m,
                    .n = n,
                    .k = k,
                    .batch = 1,
                    .alpha = alpha,
                    .beta = beta,
                    .a = &a,
                    .b = &b,
                    .c = &c,
                    .eps_acc = eps_of(CUDA_R_32F)};
    if (t == CUDA_R_64F)
        r.eps_acc = eps_of(CUDA_R_64F);
    check(&r, &c);
    mat_free(&a);
    mat_free(&b);
    mat_free(&c);
    OK(cublasDestroy_v2(h));
}

Test(gemm, sgemm_all_transposes_odd_sizes)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            typed_case(CUDA_R_32F, ta, tb, 7, 5, 9, 1.5, -0.5);
            typed_case(CUDA_R_32F, ta, tb, 33, 17, 65, -0.75, 2.0);
            typed_case(CUDA_R_32F, ta, tb, 1, 1, 1, 1.0, 1.0);
        }
}

Test(gemm, dgemm_all_transposes)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            typed_case(CUDA_R_64F, ta, tb, 11, 6, 13, 0.5, 0.25);
}

Test(gemm, hgemm_all_transposes)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            typed_case(CUDA_R_16F, ta, tb, 9, 7, 15, 1.0, 0.5);
}

Test(gemm, beta_zero_ignores_nan_in_c)
{
    for (int ta = 0; ta < 2; ta++) {
        typed_case(CUDA_R_32F, ta, 1 - ta, 8, 3, 5, 2.0, 0.0);
        typed_case(CUDA_R_64F, ta, ta, 8, 3, 5, 2.0, 0.0);
        typed_case(CUDA_R_16F, ta, ta, 8, 3, 5, 2.0, 0.0);
    }
}

Test(gemm, op_c_is_op_t_for_real_types)
{
    cublasHandle_t h = handle();
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 2, 1, 0, 3}, c1[4], c2[4], one = 1, zero = 0;
    OK(cublasSgemm(h, CUBLAS_OP_C, CUBLAS_OP_C, 2, 2, 3, &one, a, 3, b, 2, &zero, c1, 2));
    OK(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_T, 2, 2, 3, &one, a, 3, b, 2, &zero, c2, 2));
    cr_assert(memcmp(c1, c2, sizeof c1) == 0);
    OK(cublasDestroy_v2(h));
}

Test(gemm, zero_sizes)
{
    cublasHandle_t h = handle();
    float c[4] = {1, 2, 3, 4}, al = 1, be = 3;
    /* m == 0 or n == 0: nothing is touched, not even NULL A/B */
    OK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 0, 2, 2, &al, NULL, 1, NULL, 2, &be, c, 1));
    OK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 0, 2, &al, NULL, 2, NULL, 2, &be, c, 2));
    cr_assert(c[0] == 1 && c[3] == 4);
    /* k == 0: the product is empty, so C = beta * C (A and B are not read) */
    OK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 0, &al, NULL, 2, NULL, 1, &be, c, 2));
    cr_assert(c[0] == 3 && c[1] == 6 && c[2] == 9 && c[3] == 12);
    float z = 0, nanc[4] = {NAN, NAN, NAN, NAN};
    OK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 0, &al, NULL, 2, NULL, 1, &z, nanc, 2));
    for (int i = 0; i < 4; i++)
        cr_assert(nanc[i] == 0);
    OK(cublasDestroy_v2(h));
}

/* ---- cuBLAS GEMM: Ex forms ------------------------------------------------------------------ */

struct ex_types {
    cudaDataType ab, c;
    cublasComputeType_t comp;
};

static const struct ex_types EX_TYPES[] = {
    {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F},
    {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32},
    {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_16F},
    {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_16BF},
    {CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_32F},
    {CUDA_R_16F, CUDA_R_32F, CUBLAS_COMPUTE_32F},
    {CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F},
    {CUDA_R_16BF, CUDA_R_32F, CUBLAS_COMPUTE_32F},
    {CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_16F},
    {CUDA_R_64F, CUDA_R_64F, CUBLAS_COMPUTE_64F},
};

/* alpha/beta in the compute type's scale type, as cuBLAS wants them */
union scal {
    float f;
    double d;
    uint16_t h;
};

static union scal scal(cublasComputeType_t comp, double v)
{
    union scal s;
    if (comp == CUBLAS_COMPUTE_16F)
        s.h = fb_f2h((float)v);
    else if (comp == CUBLAS_COMPUTE_64F)
        s.d = v;
    else
        s.f = (float)v;
    return s;
}

static double eps_acc(const struct ex_types *t)
{
    return t->comp == CUBLAS_COMPUTE_64F ? 0x1p-53 : 0x1p-24;
}

enum ex_form { EX_SINGLE, EX_STRIDED, EX_ARRAY };

static void ex_case(enum ex_form form, const struct ex_types *ty, int ta, int tb, int64_t m,
                    int64_t n, int64_t k, int64_t batch, double alpha, double beta, int devptr)
{
    cublasHandle_t h = handle();
    if (devptr)
        OK(cublasSetPointerMode_v2(h, CUBLAS_POINTER_MODE_DEVICE));
    struct mat a, b, c;
    mat_init(&a, ty->ab, ta ? k : m, ta ? m : k, 1, batch, 0, 0);
    mat_init(&b, ty->ab, tb ? n : k, tb ? k : n, 4, batch, 0, 0);
    mat_init(&c, ty->c, m, n, 2, batch, 0, beta == 0);
    /* "device" scalars: heap memory standing for device memory */
    union scal *al = malloc(sizeof *al), *be = malloc(sizeof *be);
    *al = scal(ty->comp, alpha);
    *be = scal(ty->comp, beta);
    double ra = ty->comp == CUBLAS_COMPUTE_16F ? fb_h2f(al->h) : alpha;
    cublasStatus_t s;
    if (form == EX_SINGLE) {
        s = cublasGemmEx(h, OPS[ta], OPS[tb], (int)m, (int)n, (int)k, al, a.buf, ty->ab, (int)a.ld,
                         b.buf, ty->ab, (int)b.ld, be, c.buf, ty->c, (int)c.ld, ty->comp,
                         CUBLAS_GEMM_DEFAULT);
    } else if (form == EX_STRIDED) {
        s = cublasGemmStridedBatchedEx(h, OPS[ta], OPS[tb], (int)m, (int)n, (int)k, al, a.buf,
                                       ty->ab, (int)a.ld, a.stride, b.buf, ty->ab, (int)b.ld,
                                       b.stride, be, c.buf, ty->c, (int)c.ld, c.stride, (int)batch,
                                       ty->comp, CUBLAS_GEMM_DEFAULT_TENSOR_OP);
    } else {
        const void **pa = malloc((size_t)batch * sizeof *pa),
                   **pb = malloc((size_t)batch * sizeof *pb);
        void **pc = malloc((size_t)batch * sizeof *pc);
        for (int64_t i = 0; i < batch; i++) {
            pa[i] = (char *)a.buf + (size_t)(i * a.stride) * tsize(a.t);
            pb[i] = (char *)b.buf + (size_t)(i * b.stride) * tsize(b.t);
            pc[i] = (char *)c.buf + (size_t)(i * c.stride) * tsize(c.t);
        }
        s = cublasGemmBatchedEx(h, OPS[ta], OPS[tb], (int)m, (int)n, (int)k, al, pa, ty->ab,
                                (int)a.ld, pb, ty->ab, (int)b.ld, be, (void *const *)pc, ty->c,
                                (int)c.ld, (int)batch, ty->comp, CUBLAS_GEMM_ALGO3);
        synced(s); /* the GEMM reads the arrays when it runs: cudaFree would wait for it too */
        free(pa);
        free(pb);
        free(pc);
    }
    cr_assert_eq(s, CUBLAS_STATUS_SUCCESS, "form %d types %d/%d/%d", form, ty->ab, ty->c, ty->comp);
    struct ref r = {.ta = ta,
                    .tb = tb,
                    .m = m,
                    .n = n,
                    .k = k,
                    .batch = batch,
                    .alpha = ra,
                    .beta = beta,
                    .a = &a,
                    .b = &b,
                    .c = &c,
                    .eps_acc = eps_acc(ty)};
    check(&r, &c);
    free(al);
    free(be);
    mat_free(&a);
    mat_free(&b);
    mat_free(&c);
    OK(cublasDestroy_v2(h));
}

Test(gemm_ex, every_type_combination_and_transpose)
{
    for (size_t i = 0; i < sizeof EX_TYPES / sizeof EX_TYPES[0]; i++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                ex_case(EX_SINGLE, &EX_TYPES[i], ta, tb, 13, 6, 21, 1, 1.25, -0.5, 0);
}

Test(gemm_ex, strided_batched_every_type)
{
    for (size_t i = 0; i < sizeof EX_TYPES / sizeof EX_TYPES[0]; i++)
        ex_case(EX_STRIDED, &EX_TYPES[i], (int)i & 1, ((int)i >> 1) & 1, 5, 7, 9, 3, 0.5, 1.0, 0);
}

Test(gemm_ex, pointer_array_batched_every_type)
{
    for (size_t i = 0; i < sizeof EX_TYPES / sizeof EX_TYPES[0]; i++)
        ex_case(EX_ARRAY, &EX_TYPES[i], ((int)i >> 1) & 1, (int)i & 1, 6, 5, 4, 4, -1.0, 0.5, 0);
}

Test(gemm_ex, pointer_mode_device_and_beta_zero)
{
    for (size_t i = 0; i < sizeof EX_TYPES / sizeof EX_TYPES[0]; i++) {
        ex_case(EX_SINGLE, &EX_TYPES[i], 1, 0, 10, 3, 8, 1, 2.0, 0.0, 1);
        ex_case(EX_STRIDED, &EX_TYPES[i], 0, 1, 4, 4, 4, 2, 1.0, 0.0, 1);
    }
}

Test(gemm_ex, typed_batched_forms)
{
    cublasHandle_t h = handle();
    const int m = 5, n = 3, k = 7, batch = 3;
    struct mat a, b, c;
    /* Sgemm/HgemmStridedBatched with A broadcast (stride 0) */
    for (int half = 0; half < 2; half++) {
        cudaDataType t = half ? CUDA_R_16F : CUDA_R_32F;
        mat_init(&a, t, m, k, 1, 1, 0, 0);
        mat_init(&b, t, k, n, 1, batch, 0, 0);
        mat_init(&c, t, m, n, 1, batch, 0, 0);
        if (half) {
            __half al = {fb_f2h(1.5f)}, be = {fb_f2h(0.5f)};
            OK(cublasHgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &al, a.buf,
                                         (int)a.ld, 0, b.buf, (int)b.ld, b.stride, &be, c.buf,
                                         (int)c.ld, c.stride, batch));
        } else {
            float al = 1.5f, be = 0.5f;
            OK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &al, a.buf,
                                         (int)a.ld, 0, b.buf, (int)b.ld, b.stride, &be, c.buf,
                                         (int)c.ld, c.stride, batch));
        }
        a.stride = 0; /* the reference reads the one A for every batch member */
        struct ref r = {.m = m,
                        .n = n,
                        .k = k,
                        .batch = batch,
                        .alpha = 1.5,
                        .beta = 0.5,
                        .a = &a,
                        .b = &b,
                        .c = &c,
                        .eps_acc = 0x1p-24};
        check(&r, &c);
        mat_free(&a);
        mat_free(&b);
        mat_free(&c);
    }
    /* SgemmBatched */
    mat_init(&a, CUDA_R_32F, k, m, 2, batch, 0, 0);
    mat_init(&b, CUDA_R_32F, n, k, 2, batch, 0, 0);
    mat_init(&c, CUDA_R_32F, m, n, 2, batch, 0, 0);
    const float *pa[3], *pb[3];
    float *pc[3];
    for (int i = 0; i < batch; i++) {
        pa[i] = (float *)a.buf + i * a.stride;
        pb[i] = (float *)b.buf + i * b.stride;
        pc[i] = (float *)c.buf + i * c.stride;
    }
    float al = -2.0f, be = 1.0f;
    OK(cublasSgemmBatched(h, CUBLAS_OP_T, CUBLAS_OP_T, m, n, k, &al, pa, (int)a.ld, pb, (int)b.ld,
                          &be, pc, (int)c.ld, batch));
    struct ref r = {.ta = 1,
                    .tb = 1,
                    .m = m,
                    .n = n,
                    .k = k,
                    .batch = batch,
                    .alpha = -2,
                    .beta = 1,
                    .a = &a,
                    .b = &b,
                    .c = &c,
                    .eps_acc = 0x1p-24};
    check(&r, &c);
    mat_free(&a);
    mat_free(&b);
    mat_free(&c);
    OK(cublasDestroy_v2(h));
}

Test(gemm_ex, sixty_four_bit_forms)
{
    cublasHandle_t h = handle();
    struct mat a, b, c;
    mat_init(&a, CUDA_R_32F, 6, 4, 1, 2, 0, 0);
    mat_init(&b, CUDA_R_32F, 4, 5, 1, 2, 0, 0);
    mat_init(&c, CUDA_R_32F, 6, 5, 1, 2, 0, 0);
    float al = 1, be = 1;
    OK(cublasSgemm_v2_64(h, CUBLAS_OP_N, CUBLAS_OP_N, 6, 5, 4, &al, a.buf, a.ld, b.buf, b.ld, &be,
                         c.buf, c.ld));
    struct ref r = {.m = 6,
                    .n = 5,
                    .k = 4,
                    .batch = 1,
                    .alpha = 1,
                    .beta = 1,
                    .a = &a,
                    .b = &b,
                    .c = &c,
                    .eps_acc = 0x1p-24};
    check(&r, &c);
    memcpy(c.orig, c.buf, c.bytes); /* the next call accumulates onto this result */
    OK(cublasGemmStridedBatchedEx_64(h, CUBLAS_OP_N, CUBLAS_OP_N, 6, 5, 4, &al, a.buf, CUDA_R_32F,
                                     a.ld, a.stride, b.buf, CUDA_R_32F, b.ld, b.stride, &be, c.buf,
                                     CUDA_R_32F, c.ld, c.stride, 2, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT));
    r.batch = 2;
    check(&r, &c);
    mat_free(&a);
    mat_free(&b);
    mat_free(&c);
    OK(cublasDestroy_v2(h));
}

/* ---- errors ---------------------------------------------------------------------------------- */

Test(errors, bad_handles)
{
    float x[4] = {0}, one = 1;
    cublasHandle_t bogus = (cublasHandle_t)(uintptr_t)0x1000;
    IS(CUBLAS_STATUS_NOT_INITIALIZED,
       cublasSgemm(bogus, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, x, 1, x, 1, &one, x, 1));
    IS(CUBLAS_STATUS_NOT_INITIALIZED,
       cublasSgemm(NULL, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, x, 1, x, 1, &one, x, 1));
    cublasHandle_t h = handle();
    OK(cublasDestroy_v2(h));
    IS(CUBLAS_STATUS_NOT_INITIALIZED,
       cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, x, 1, x, 1, &one, x, 1));
    IS(CUBLAS_STATUS_NOT_INITIALIZED, cublasDestroy_v2(h));
    IS(CUBLAS_STATUS_NOT_INITIALIZED, cublasSetStream_v2(h, NULL));
    IS(CUBLAS_STATUS_NOT_INITIALIZED, cublasSdot_v2(h, 1, x, 1, x, 1, x));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasCreate_v2(NULL));
    cublasLtHandle_t lt;
    OK(cublasLtCreate(&lt));
    /* an Lt handle is not a cuBLAS handle */
    IS(CUBLAS_STATUS_NOT_INITIALIZED,
       cublasSetPointerMode_v2((cublasHandle_t)(void *)lt, CUBLAS_POINTER_MODE_HOST));
    OK(cublasLtDestroy(lt));
    IS(CUBLAS_STATUS_NOT_INITIALIZED, cublasLtDestroy(lt));
}

Test(errors, bad_arguments)
{
    cublasHandle_t h = handle();
    float x[64] = {0}, one = 1;
    const cublasOperation_t N = CUBLAS_OP_N, T = CUBLAS_OP_T;
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSgemm(h, N, N, 4, 4, 4, &one, x, 3, x, 4, &one, x, 4));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSgemm(h, T, N, 4, 4, 5, &one, x, 4, x, 5, &one, x, 4));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSgemm(h, N, N, 4, 4, 5, &one, x, 4, x, 4, &one, x, 4));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSgemm(h, N, T, 4, 6, 5, &one, x, 4, x, 5, &one, x, 4));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSgemm(h, N, N, 4, 4, 4, &one, x, 4, x, 4, &one, x, 3));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSgemm(h, N, N, 0, 4, 4, &one, x, 0, x, 4, &one, x, 0));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSgemm(h, N, N, -1, 4, 4, &one, x, 4, x, 4, &one, x, 4));
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasSgemm(h, (cublasOperation_t)7, N, 4, 4, 4, &one, x, 4, x, 4, &one, x, 4));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSgemm(h, N, N, 4, 4, 4, NULL, x, 4, x, 4, &one, x, 4));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSgemm(h, N, N, 4, 4, 4, &one, x, 4, x, 4, NULL, x, 4));
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasSgemmStridedBatched(h, N, N, 2, 2, 2, &one, x, 2, 4, x, 2, 4, &one, x, 2, 4, -1));
    OK(cublasSgemmStridedBatched(h, N, N, 2, 2, 2, &one, x, 2, 4, x, 2, 4, &one, x, 2, 4, 0));
    OK(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSetMathMode(h, (cublasMath_t)5));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSetPointerMode_v2(h, (cublasPointerMode_t)2));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSetAtomicsMode(h, (cublasAtomicsMode_t)2));
    OK(cublasDestroy_v2(h));
}

Test(errors, unsupported_types)
{
    cublasHandle_t h = handle();
    float x[16] = {0}, one = 1;
    const cublasOperation_t N = CUBLAS_OP_N;
#define EX(at, bt, ct, comp)                                                                       \
    cublasGemmEx(h, N, N, 2, 2, 2, &one, x, at, 2, x, bt, 2, &one, x, ct, 2, comp,                 \
                 CUBLAS_GEMM_DEFAULT)
    IS(CUBLAS_STATUS_NOT_SUPPORTED, EX(CUDA_R_16F, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F));
    IS(CUBLAS_STATUS_NOT_SUPPORTED, EX(CUDA_R_16F, CUDA_R_16F, CUDA_R_16BF, CUBLAS_COMPUTE_32F));
    IS(CUBLAS_STATUS_NOT_SUPPORTED, EX(CUDA_R_16BF, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_16F));
    IS(CUBLAS_STATUS_NOT_SUPPORTED, EX(CUDA_R_16F, CUDA_R_16F, CUDA_R_32F, CUBLAS_COMPUTE_16F));
    IS(CUBLAS_STATUS_NOT_SUPPORTED,
       EX(CUDA_R_16F, CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_32F_FAST_TF32));
    IS(CUBLAS_STATUS_NOT_SUPPORTED, EX(CUDA_R_32F, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_64F));
    IS(CUBLAS_STATUS_NOT_SUPPORTED, EX(CUDA_R_8I, CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I));
    IS(CUBLAS_STATUS_NOT_SUPPORTED, EX(CUDA_R_32F, CUDA_R_32F, CUDA_R_32F, (cublasComputeType_t)0));
    IS(CUBLAS_STATUS_NOT_SUPPORTED,
       cublasGemmEx(h, N, N, 2, 2, 2, &one, x, CUDA_R_32F, 2, x, CUDA_R_32F, 2, &one, x, CUDA_R_32F,
                    2, CUBLAS_COMPUTE_32F, (cublasGemmAlgo_t)50));
    /* argument errors come before type errors */
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasGemmEx(h, N, N, 2, 2, 2, &one, x, CUDA_R_8I, 1, x, CUDA_R_8I, 2, &one, x, CUDA_R_32I,
                    2, CUBLAS_COMPUTE_32I, CUBLAS_GEMM_DEFAULT));
#undef EX
    OK(cublasDestroy_v2(h));
}

/* ---- handle settings, versions, status text -------------------------------------------------- */

Test(handle, settings_round_trip)
{
    cublasHandle_t h = handle();
    cudaStream_t s = (cudaStream_t)(uintptr_t)0x1234, got;
    OK(cublasGetStream_v2(h, &got));
    cr_assert_null(got);
    OK(cublasSetStream_v2(h, s));
    OK(cublasGetStream_v2(h, &got));
    cr_assert_eq(got, s);
    char ws[256];
    OK(cublasSetWorkspace_v2(h, ws, sizeof ws));
    cublasMath_t mm;
    OK(cublasGetMathMode(h, &mm));
    cr_assert_eq(mm, CUBLAS_DEFAULT_MATH);
    cublasMath_t want =
        CUBLAS_TF32_TENSOR_OP_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
    OK(cublasSetMathMode(h, want));
    OK(cublasGetMathMode(h, &mm));
    cr_assert_eq(mm, want);
    cublasPointerMode_t pm;
    OK(cublasGetPointerMode_v2(h, &pm));
    cr_assert_eq(pm, CUBLAS_POINTER_MODE_HOST);
    OK(cublasSetPointerMode_v2(h, CUBLAS_POINTER_MODE_DEVICE));
    OK(cublasGetPointerMode_v2(h, &pm));
    cr_assert_eq(pm, CUBLAS_POINTER_MODE_DEVICE);
    cublasAtomicsMode_t am;
    OK(cublasGetAtomicsMode(h, &am));
    cr_assert_eq(am, CUBLAS_ATOMICS_NOT_ALLOWED);
    OK(cublasSetAtomicsMode(h, CUBLAS_ATOMICS_ALLOWED));
    OK(cublasGetAtomicsMode(h, &am));
    cr_assert_eq(am, CUBLAS_ATOMICS_ALLOWED);
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasGetMathMode(h, NULL));
    int v;
    OK(cublasGetVersion_v2(h, &v));
    cr_assert_eq(v, CUBLAS_VERSION);
    OK(cublasGetProperty(MAJOR_VERSION, &v));
    cr_assert_eq(v, CUBLAS_VER_MAJOR);
    OK(cublasGetProperty(MINOR_VERSION, &v));
    cr_assert_eq(v, CUBLAS_VER_MINOR);
    cr_assert_eq(cublasLtGetVersion(), (size_t)CUBLAS_VERSION);
    OK(cublasDestroy_v2(h));
}

Test(handle, status_text)
{
    cr_assert_str_eq(cublasGetStatusName(CUBLAS_STATUS_SUCCESS), "CUBLAS_STATUS_SUCCESS");
    cr_assert_str_eq(cublasGetStatusName(CUBLAS_STATUS_NOT_SUPPORTED),
                     "CUBLAS_STATUS_NOT_SUPPORTED");
    cr_assert_str_eq(cublasLtGetStatusName(CUBLAS_STATUS_INVALID_VALUE),
                     "CUBLAS_STATUS_INVALID_VALUE");
    cr_assert_str_eq(cublasGetStatusString(CUBLAS_STATUS_ALLOC_FAILED),
                     "the resource allocation failed");
    cr_assert_str_eq(cublasLtGetStatusString(CUBLAS_STATUS_SUCCESS),
                     "the operation completed successfully");
    cr_assert_not_null(cublasGetStatusName((cublasStatus_t)1234));
    cr_assert_not_null(cublasGetStatusString((cublasStatus_t)1234));
}

/* ---- level 1 and 2 -------------------------------------------------------------------------- */

Test(level12, sgemv_both_transposes_strided_vectors)
{
    cublasHandle_t h = handle();
    const int m = 7, n = 5, lda = 9;
    float A[9 * 5], x[2 * 7], y[3 * 7];
    for (int i = 0; i < lda * n; i++)
        A[i] = (float)rnd();
    for (int t = 0; t < 2; t++)
        for (int bz = 0; bz < 2; bz++) {
            int lenx = t ? m : n, leny = t ? n : m;
            for (int i = 0; i < 2 * 7; i++)
                x[i] = (float)rnd();
            for (int i = 0; i < 3 * 7; i++)
                y[i] = bz ? NAN : (float)rnd();
            float y0[3 * 7], al = 1.5f, be = bz ? 0.0f : -0.5f;
            memcpy(y0, y, sizeof y);
            OK(cublasSgemv_v2(h, OPS[t], m, n, &al, A, lda, x, 2, &be, y, 3));
            for (int i = 0; i < leny; i++) {
                double acc = 0;
                for (int j = 0; j < lenx; j++)
                    acc += (double)(t ? A[j + i * lda] : A[i + j * lda]) * x[2 * j];
                double want = 1.5 * acc + (bz ? 0 : -0.5 * y0[3 * i]);
                cr_assert(fabs(y[3 * i] - want) < 1e-5, "t=%d i=%d %g vs %g", t, i, y[3 * i], want);
                cr_assert(isnan(y[3 * i + 1]) == isnan(y0[3 * i + 1]));
            }
        }
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasSgemv_v2(h, CUBLAS_OP_N, m, n, &(float){1}, A, 6, x, 1, &(float){0}, y, 1));
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasSgemv_v2(h, CUBLAS_OP_N, m, n, &(float){1}, A, lda, x, 0, &(float){0}, y, 1));
    OK(cublasDestroy_v2(h));
}

Test(level12, vector_routines)
{
    cublasHandle_t h = handle();
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8] = {0}, r;
    float two = 2;
    OK(cublasScopy_v2(h, 4, x, 2, y, 1)); /* 1 3 5 7 */
    cr_assert(y[0] == 1 && y[1] == 3 && y[2] == 5 && y[3] == 7);
    OK(cublasScopy_v2(h, 4, x, 1, y, -1)); /* negative stride: reversed */
    cr_assert(y[0] == 4 && y[1] == 3 && y[2] == 2 && y[3] == 1);
    OK(cublasSaxpy_v2(h, 4, &two, x, 1, y, 1)); /* y = 2x + y */
    cr_assert(y[0] == 6 && y[1] == 7 && y[2] == 8 && y[3] == 9);
    OK(cublasSscal_v2(h, 3, &two, y, 2)); /* y[0], y[2], y[4] doubled */
    cr_assert(y[0] == 12 && y[1] == 7 && y[2] == 16 && y[4] == 0);
    OK(cublasSdot_v2(h, 3, x, 1, x, 2, &r)); /* 1*1 + 2*3 + 3*5 */
    cr_assert_eq(r, 22);
    OK(cublasSnrm2_v2(h, 2, x + 2, 1, &r)); /* |(3,4)| */
    cr_assert_eq(r, 5);
    OK(cublasSdot_v2(h, 0, x, 1, x, 1, &r));
    cr_assert_eq(r, 0);
    /* pointer mode device: the result goes to "device" memory */
    OK(cublasSetPointerMode_v2(h, CUBLAS_POINTER_MODE_DEVICE));
    float *dr = malloc(sizeof *dr), *dalpha = malloc(sizeof *dalpha);
    *dalpha = 0.5f;
    OK(cublasSdot_v2_64(h, 2, x, 1, x, 1, dr));
    cr_assert_eq(*dr, 5);
    OK(cublasSscal_v2_64(h, 1, dalpha, dr, 1));
    cr_assert_eq(*dr, 2.5f);
    OK(cublasSnrm2_v2_64(h, 1, dr, 1, dr));
    cr_assert_eq(*dr, 2.5f);
    free(dr);
    free(dalpha);
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasSdot_v2(h, 2, x, 1, x, 1, NULL));
    OK(cublasDestroy_v2(h));
}

/* Naive references for the routines below: element i of a vector with stride inc (BLAS
 * convention: a negative stride walks the vector backwards). */
static int64_t vi(int64_t n, int64_t inc, int64_t i)
{
    return inc >= 0 ? i * inc : (n - 1 - i) * -inc;
}

Test(level12, double_vector_routines)
{
    cublasHandle_t h = handle();
    enum { N = 11 };
    double x[3 * N], y[3 * N], x0[3 * N], y0[3 * N], r;
    for (int i = 0; i < 3 * N; i++) {
        x0[i] = rnd() * 4 - 2;
        y0[i] = rnd() * 4 - 2;
    }
    const int incs[][2] = {{1, 1}, {2, 3}, {-2, 1}, {3, -1}};
    for (size_t c = 0; c < sizeof incs / sizeof *incs; c++) {
        int ix = incs[c][0], iy = incs[c][1];
        /* Daxpy */
        double al = -1.25;
        memcpy(x, x0, sizeof x);
        memcpy(y, y0, sizeof y);
        OK(cublasDaxpy_v2(h, N, &al, x, ix, y, iy));
        for (int i = 0; i < 3 * N; i++) {
            double want = y0[i];
            for (int j = 0; j < N; j++)
                if (vi(N, iy, j) == i)
                    want = y0[i] + al * x0[vi(N, ix, j)];
            cr_assert(fabs(y[i] - want) <= 1e-15 * (1 + fabs(want)), "Daxpy c=%zu i=%d", c, i);
        }
        /* Dcopy */
        memcpy(y, y0, sizeof y);
        OK(cublasDcopy_v2(h, N, x, ix, y, iy));
        for (int j = 0; j < N; j++)
            cr_assert_eq(y[vi(N, iy, j)], x0[vi(N, ix, j)], "Dcopy c=%zu j=%d", c, j);
        /* Dswap and Sswap */
        memcpy(x, x0, sizeof x);
        memcpy(y, y0, sizeof y);
        OK(cublasDswap_v2(h, N, x, ix, y, iy));
        double xw[3 * N], yw[3 * N];
        memcpy(xw, x0, sizeof xw);
        memcpy(yw, y0, sizeof yw);
        for (int j = 0; j < N; j++) {
            xw[vi(N, ix, j)] = y0[vi(N, iy, j)];
            yw[vi(N, iy, j)] = x0[vi(N, ix, j)];
        }
        cr_assert(memcmp(x, xw, sizeof x) == 0 && memcmp(y, yw, sizeof y) == 0, "Dswap c=%zu", c);
        float fx[3 * N], fy[3 * N];
        for (int i = 0; i < 3 * N; i++) {
            fx[i] = (float)x0[i];
            fy[i] = (float)y0[i];
        }
        OK(cublasSswap_v2(h, N, fx, ix, fy, iy));
        for (int i = 0; i < 3 * N; i++)
            cr_assert(fx[i] == (float)xw[i] && fy[i] == (float)yw[i], "Sswap c=%zu i=%d", c, i);
        /* Ddot */
        double want = 0;
        for (int j = 0; j < N; j++)
            want += x0[vi(N, ix, j)] * y0[vi(N, iy, j)];
        OK(cublasDdot_v2(h, N, x0, ix, y0, iy, &r));
        cr_assert(fabs(r - want) <= 1e-14 * (1 + fabs(want)), "Ddot c=%zu %g vs %g", c, r, want);
    }
    /* Dscal, Dnrm2, asum, amax/amin: positive strides (the others read nothing) */
    for (int inc = 1; inc <= 3; inc++) {
        double al = 3.0;
        memcpy(x, x0, sizeof x);
        OK(cublasDscal_v2(h, N, &al, x, inc));
        for (int i = 0; i < 3 * N; i++)
            cr_assert_eq(x[i], i % inc == 0 && i / inc < N ? 3.0 * x0[i] : x0[i], "Dscal %d", i);
        double ss = 0, sa = 0, big = -1, small = INFINITY;
        int imax = 0, imin = 0;
        float fx[3 * N];
        for (int i = 0; i < 3 * N; i++)
            fx[i] = (float)x0[i];
        for (int j = 0; j < N; j++) {
            double v = x0[j * inc];
            ss += v * v;
            sa += fabs((double)fx[j * inc]);
            if (fabs((double)fx[j * inc]) > big) {
                big = fabs((double)fx[j * inc]);
                imax = j + 1;
            }
            if (fabs((double)fx[j * inc]) < small) {
                small = fabs((double)fx[j * inc]);
                imin = j + 1;
            }
        }
        OK(cublasDnrm2_v2(h, N, x0, inc, &r));
        cr_assert(fabs(r - sqrt(ss)) <= 1e-14 * sqrt(ss), "Dnrm2 %g vs %g", r, sqrt(ss));
        float fr;
        OK(cublasSasum_v2(h, N, fx, inc, &fr));
        cr_assert(fabs(fr - sa) <= 1e-6 * sa, "Sasum %g vs %g", fr, sa);
        double dsa = 0;
        for (int j = 0; j < N; j++)
            dsa += fabs(x0[j * inc]);
        OK(cublasDasum_v2(h, N, x0, inc, &r));
        cr_assert(fabs(r - dsa) <= 1e-14 * dsa, "Dasum %g vs %g", r, dsa);
        int ir;
        OK(cublasIsamax_v2(h, N, fx, inc, &ir));
        cr_assert_eq(ir, imax, "Isamax inc=%d", inc);
        OK(cublasIsamin_v2(h, N, fx, inc, &ir));
        cr_assert_eq(ir, imin, "Isamin inc=%d", inc);
        /* the double forms on the same values, as doubles */
        double dx[3 * N];
        for (int i = 0; i < 3 * N; i++)
            dx[i] = fx[i];
        OK(cublasIdamax_v2(h, N, dx, inc, &ir));
        cr_assert_eq(ir, imax, "Idamax inc=%d", inc);
        OK(cublasIdamin_v2(h, N, dx, inc, &ir));
        cr_assert_eq(ir, imin, "Idamin inc=%d", inc);
    }
    /* ties: the first index wins; n <= 0: 0 */
    double t[4] = {1, -3, 3, -3};
    int ir = -1;
    OK(cublasIdamax_v2(h, 4, t, 1, &ir));
    cr_assert_eq(ir, 2);
    OK(cublasIdamin_v2(h, 0, t, 1, &ir));
    cr_assert_eq(ir, 0);
    int64_t ir64 = -1;
    OK(cublasIdamin_v2_64(h, 4, t, 1, &ir64));
    cr_assert_eq(ir64, 1);
    /* Dnrm2 does not overflow where the squares would */
    double huge[2] = {3e300, 4e300};
    OK(cublasDnrm2_v2(h, 2, huge, 1, &r));
    cr_assert(fabs(r - 5e300) <= 1e-14 * 5e300, "Dnrm2 huge %g", r);
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasDdot_v2(h, 2, x, 1, x, 1, NULL));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasIsamax_v2(h, 2, (float *)x, 1, NULL));
    OK(cublasDestroy_v2(h));
    IS(CUBLAS_STATUS_NOT_INITIALIZED, cublasDasum_v2(h, 1, x, 1, &r));
}

Test(level12, ger_single_and_double)
{
    cublasHandle_t h = handle();
    enum { M = 6, N = 4, LDA = 8 };
    const int incs[][2] = {{1, 1}, {2, -3}};
    for (size_t c = 0; c < 2; c++) {
        int ix = incs[c][0], iy = incs[c][1];
        double x[3 * M], y[3 * N], A[LDA * N], A0[LDA * N];
        float fx[3 * M], fy[3 * N], fA[LDA * N];
        for (int i = 0; i < 3 * M; i++)
            fx[i] = (float)(x[i] = (float)rnd());
        for (int i = 0; i < 3 * N; i++)
            fy[i] = (float)(y[i] = (float)rnd());
        for (int i = 0; i < LDA * N; i++)
            fA[i] = (float)(A[i] = A0[i] = (float)rnd());
        double al = 0.75;
        float fal = 0.75f;
        OK(cublasDger_v2(h, M, N, &al, x, ix, y, iy, A, LDA));
        OK(cublasSger_v2(h, M, N, &fal, fx, ix, fy, iy, fA, LDA));
        for (int j = 0; j < N; j++)
            for (int i = 0; i < LDA; i++) {
                double want = A0[i + j * LDA];
                if (i < M)
                    want += al * x[vi(M, ix, i)] * y[vi(N, iy, j)];
                cr_assert(fabs(A[i + j * LDA] - want) <= 1e-15 * (1 + fabs(want)),
                          "Dger c=%zu i=%d j=%d", c, i, j);
                cr_assert(fabs(fA[i + j * LDA] - want) <= 1e-6 * (1 + fabs(want)),
                          "Sger c=%zu i=%d j=%d", c, i, j);
            }
    }
    double d[4] = {0};
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasDger_v2(h, 2, 2, &(double){1}, d, 1, d, 1, d, 1));
    IS(CUBLAS_STATUS_INVALID_VALUE, cublasDger_v2(h, 2, 2, &(double){1}, d, 0, d, 1, d, 2));
    OK(cublasDestroy_v2(h));
}

Test(gemm_typed, dgemm_batched)
{
    cublasHandle_t h = handle();
    enum { M = 5, N = 3, K = 4, B = 3 };
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? K : M) + 1, ldb = (tb ? N : K) + 2, ldc = M + 1;
            double a[B][(M + 1) * (K + 1)], b[B][(K + 2) * (N + 2)], c[B][(M + 1) * N],
                c0[B][(M + 1) * N];
            const double *pa[B], *pb[B];
            double *pc[B];
            for (int q = 0; q < B; q++) {
                for (size_t i = 0; i < sizeof a[q] / sizeof **a; i++)
                    a[q][i] = rnd();
                for (size_t i = 0; i < sizeof b[q] / sizeof **b; i++)
                    b[q][i] = rnd();
                for (size_t i = 0; i < sizeof c[q] / sizeof **c; i++)
                    c[q][i] = c0[q][i] = rnd();
                pa[q] = a[q];
                pb[q] = b[q];
                pc[q] = c[q];
            }
            double al = 1.5, be = -0.25;
            OK(cublasDgemmBatched(h, OPS[ta], OPS[tb], M, N, K, &al, pa, lda, pb, ldb, &be, pc,
                                  ldc, B));
            for (int q = 0; q < B; q++)
                for (int j = 0; j < N; j++)
                    for (int i = 0; i < ldc; i++) {
                        double want = c0[q][i + j * ldc];
                        if (i < M) {
                            double acc = 0;
                            for (int p = 0; p < K; p++)
                                acc += (ta ? a[q][p + i * lda] : a[q][i + p * lda]) *
                                       (tb ? b[q][j + p * ldb] : b[q][p + j * ldb]);
                            want = al * acc + be * want;
                        }
                        cr_assert(fabs(c[q][i + j * ldc] - want) <= 1e-13 * (1 + fabs(want)),
                                  "ta=%d tb=%d q=%d i=%d j=%d: %g vs %g", ta, tb, q, i, j,
                                  c[q][i + j * ldc], want);
                    }
        }
    OK(cublasDestroy_v2(h));
}

/* ---- cuBLASLt ---------------------------------------------------------------------------------
 */

#define SETD(desc, attr, val)                                                                      \
    do {                                                                                           \
        __typeof__(val) v_ = (val);                                                                \
        OK(cublasLtMatmulDescSetAttribute(desc, attr, &v_, sizeof v_));                            \
    } while (0)

static cublasLtMatrixLayout_t layout(const struct mat *x)
{
    cublasLtMatrixLayout_t l;
    OK(cublasLtMatrixLayoutCreate(&l, x->t, (uint64_t)x->rows, (uint64_t)x->cols, x->ld));
    int32_t order = x->rowmajor ? CUBLASLT_ORDER_ROW : CUBLASLT_ORDER_COL;
    int32_t batch = (int32_t)x->batch;
    int64_t stride = x->stride;
    OK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_ORDER, &order, sizeof order));
    OK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch,
                                        sizeof batch));
    OK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                        sizeof stride));
    return l;
}

struct lt_case {
    cudaDataType ab, cd, bias_t; /* bias_t 0: leave BIAS_DATA_TYPE at its default (D's type) */
    int ta, tb, rowmajor, separate_d, devptr, alpha_vec, null_c;
    uint32_t epilogue;
    int64_t m, n, k, batch;
    double alpha, beta;
};

static void lt_case(const struct lt_case *tc)
{
    cublasLtHandle_t lt;
    OK(cublasLtCreate(&lt));
    int64_t m = tc->m, n = tc->n, k = tc->k;
    struct mat a, b, c, d;
    int rm = tc->rowmajor;
    mat_init(&a, tc->ab, tc->ta ? k : m, tc->ta ? m : k, 2, tc->batch, rm, 0);
    mat_init(&b, tc->ab, tc->tb ? n : k, tc->tb ? k : n, 1, tc->batch, rm, 0);
    mat_init(&c, tc->cd, m, n, 3, tc->batch, rm, tc->beta == 0);
    if (tc->separate_d)
        mat_init(&d, tc->cd, m, n, 5, tc->batch, rm, 1);
    cublasLtMatmulDesc_t desc;
    OK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    SETD(desc, CUBLASLT_MATMUL_DESC_TRANSA, (int32_t)OPS[tc->ta]);
    SETD(desc, CUBLASLT_MATMUL_DESC_TRANSB, (int32_t)OPS[tc->tb]);
    SETD(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, (uint32_t)tc->epilogue);
    cudaDataType bias_t = tc->bias_t ? tc->bias_t : tc->cd;
    int64_t bias_stride = m + 2;
    void *bias = malloc((size_t)(bias_stride * tc->batch) * tsize(bias_t));
    for (int64_t i = 0; i < bias_stride * tc->batch; i++)
        put(bias, bias_t, i, rnd());
    if (tc->epilogue & CUBLASLT_EPILOGUE_BIAS) {
        SETD(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, (const void *)bias);
        SETD(desc, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, bias_stride);
        if (tc->bias_t)
            SETD(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, (int32_t)tc->bias_t);
    }
    float *al = malloc((size_t)m * sizeof *al), *be = malloc(sizeof *be);
    double *alv = malloc((size_t)m * sizeof *alv);
    for (int64_t i = 0; i < m; i++)
        alv[i] = al[i] = tc->alpha_vec ? (float)(tc->alpha + 0.125 * (double)i) : (float)tc->alpha;
    *be = (float)tc->beta;
    if (tc->alpha_vec)
        SETD(desc, CUBLASLT_MATMUL_DESC_POINTER_MODE,
             (int32_t)CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST);
    else if (tc->devptr)
        SETD(desc, CUBLASLT_MATMUL_DESC_POINTER_MODE, (int32_t)CUBLASLT_POINTER_MODE_DEVICE);

    cublasLtMatrixLayout_t la = layout(&a), lb = layout(&b), lc = layout(&c);
    cublasLtMatrixLayout_t ld = tc->separate_d ? layout(&d) : lc;
    cublasLtMatmulPreference_t pref;
    OK(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t wsmax = 1 << 20;
    OK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsmax,
                                            sizeof wsmax));
    cublasLtMatmulHeuristicResult_t res[4];
    int nres = -1;
    OK(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, ld, pref, 4, res, &nres));
    cr_assert_eq(nres, 1);
    cr_assert_eq(res[0].state, CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(res[0].workspaceSize, 0);

    struct mat *out = tc->separate_d ? &d : &c;
    const void *cptr = tc->null_c ? NULL : c.buf;
    OK(cublasLtMatmul(lt, desc, al, a.buf, la, b.buf, lb, be, cptr, lc, out->buf, ld, &res[0].algo,
                      NULL, 0, NULL));
    struct ref r = {.ta = tc->ta,
                    .tb = tc->tb,
                    .m = m,
                    .n = n,
                    .k = k,
                    .batch = tc->batch,
                    .alpha = (float)tc->alpha,
                    .beta = tc->beta,
                    .alpha_vec = tc->alpha_vec ? alv : NULL,
                    .a = &a,
                    .b = &b,
                    .c = &c,
                    .eps_acc = 0x1p-24,
                    .relu = (tc->epilogue & CUBLASLT_EPILOGUE_RELU) != 0,
                    .gelu = (tc->epilogue & CUBLASLT_EPILOGUE_GELU) != 0};
    if (tc->epilogue & CUBLASLT_EPILOGUE_BIAS) {
        r.bias = bias;
        r.bias_t = bias_t;
        r.bias_stride = bias_stride;
    }
    check(&r, out);
    if (tc->separate_d)
        cr_assert(memcmp(c.buf, c.orig, c.bytes) == 0, "C must not change when D is separate");

    OK(cublasLtMatmulPreferenceDestroy(pref));
    OK(cublasLtMatrixLayoutDestroy(la));
    OK(cublasLtMatrixLayoutDestroy(lb));
    OK(cublasLtMatrixLayoutDestroy(lc));
    if (tc->separate_d) {
        OK(cublasLtMatrixLayoutDestroy(ld));
        mat_free(&d);
    }
    OK(cublasLtMatmulDescDestroy(desc));
    free(bias);
    free(al);
    free(be);
    free(alv);
    mat_free(&a);
    mat_free(&b);
    mat_free(&c);
    OK(cublasLtDestroy(lt));
}

static const uint32_t EPILOGUES[] = {CUBLASLT_EPILOGUE_DEFAULT, CUBLASLT_EPILOGUE_RELU,
                                     CUBLASLT_EPILOGUE_BIAS,    CUBLASLT_EPILOGUE_RELU_BIAS,
                                     CUBLASLT_EPILOGUE_GELU,    CUBLASLT_EPILOGUE_GELU_BIAS};
#define NEPI (sizeof EPILOGUES / sizeof EPILOGUES[0])

static const cudaDataType LT_TYPES[][2] = {{CUDA_R_32F, CUDA_R_32F},
                                           {CUDA_R_16F, CUDA_R_16F},
                                           {CUDA_R_16BF, CUDA_R_16BF},
                                           {CUDA_R_16F, CUDA_R_32F},
                                           {CUDA_R_16BF, CUDA_R_32F}};
#define NLT (sizeof LT_TYPES / sizeof LT_TYPES[0])

Test(lt, every_epilogue_every_type)
{
    for (size_t t = 0; t < NLT; t++)
        for (size_t e = 0; e < NEPI; e++) {
            struct lt_case tc = {.ab = LT_TYPES[t][0],
                                 .cd = LT_TYPES[t][1],
                                 .ta = (int)e & 1,
                                 .tb = (int)(e >> 1) & 1,
                                 .epilogue = EPILOGUES[e],
                                 .m = 9,
                                 .n = 6,
                                 .k = 11,
                                 .batch = 1,
                                 .alpha = 1.25,
                                 .beta = 0.75};
            lt_case(&tc);
        }
}

Test(lt, all_transposes_row_major)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t t = 0; t < NLT; t++) {
                struct lt_case tc = {.ab = LT_TYPES[t][0],
                                     .cd = LT_TYPES[t][1],
                                     .ta = ta,
                                     .tb = tb,
                                     .rowmajor = 1,
                                     .epilogue = CUBLASLT_EPILOGUE_BIAS,
                                     .m = 7,
                                     .n = 10,
                                     .k = 5,
                                     .batch = 1,
                                     .alpha = -1,
                                     .beta = 0.5};
                lt_case(&tc);
            }
}

Test(lt, separate_d_batched_bias_stride)
{
    for (size_t t = 0; t < NLT; t++)
        for (size_t e = 0; e < NEPI; e++) {
            struct lt_case tc = {.ab = LT_TYPES[t][0],
                                 .cd = LT_TYPES[t][1],
                                 .ta = 1,
                                 .separate_d = 1,
                                 .rowmajor = (int)e & 1,
                                 .epilogue = EPILOGUES[e],
                                 .m = 6,
                                 .n = 5,
                                 .k = 8,
                                 .batch = 3,
                                 .alpha = 0.5,
                                 .beta = 1.0};
            lt_case(&tc);
        }
}

Test(lt, beta_zero_nan_c_null_c_device_pointers)
{
    for (size_t t = 0; t < NLT; t++) {
        struct lt_case tc = {.ab = LT_TYPES[t][0],
                             .cd = LT_TYPES[t][1],
                             .devptr = 1,
                             .epilogue = CUBLASLT_EPILOGUE_GELU_BIAS,
                             .m = 12,
                             .n = 4,
                             .k = 6,
                             .batch = 2,
                             .alpha = 2,
                             .beta = 0};
        lt_case(&tc);
        tc.separate_d = 1;
        tc.null_c = 1;
        lt_case(&tc);
    }
}

Test(lt, bias_type_differs_from_d)
{
    struct lt_case tc = {.ab = CUDA_R_16F,
                         .cd = CUDA_R_16F,
                         .bias_t = CUDA_R_32F,
                         .epilogue = CUBLASLT_EPILOGUE_RELU_BIAS,
                         .m = 8,
                         .n = 8,
                         .k = 8,
                         .batch = 1,
                         .alpha = 1,
                         .beta = 0};
    lt_case(&tc);
    tc.ab = tc.cd = CUDA_R_16BF;
    tc.bias_t = CUDA_R_16F;
    lt_case(&tc);
}

Test(lt, alpha_vector_mode)
{
    struct lt_case tc = {.ab = CUDA_R_32F,
                         .cd = CUDA_R_32F,
                         .alpha_vec = 1,
                         .epilogue = CUBLASLT_EPILOGUE_DEFAULT,
                         .m = 5,
                         .n = 4,
                         .k = 3,
                         .batch = 1,
                         .alpha = 1,
                         .beta = 0.5};
    lt_case(&tc);
}

Test(lt, pointer_array_batch_mode)
{
    cublasLtHandle_t lt;
    OK(cublasLtCreate(&lt));
    struct mat a, b, c;
    mat_init(&a, CUDA_R_16F, 5, 4, 1, 2, 0, 0);
    mat_init(&b, CUDA_R_16F, 4, 3, 1, 2, 0, 0);
    mat_init(&c, CUDA_R_16F, 5, 3, 1, 2, 0, 0);
    cublasLtMatrixLayout_t la = layout(&a), lb = layout(&b), lc = layout(&c);
    uint32_t mode = CUBLASLT_BATCH_MODE_POINTER_ARRAY;
    cublasLtMatrixLayout_t all[3] = {la, lb, lc};
    for (int i = 0; i < 3; i++)
        OK(cublasLtMatrixLayoutSetAttribute(all[i], CUBLASLT_MATRIX_LAYOUT_BATCH_MODE, &mode,
                                            sizeof mode));
    const void *pa[2], *pb[2];
    void *pc[2];
    for (int i = 0; i < 2; i++) {
        pa[i] = (uint16_t *)a.buf + i * a.stride;
        pb[i] = (uint16_t *)b.buf + i * b.stride;
        pc[i] = (uint16_t *)c.buf + i * c.stride;
    }
    cublasLtMatmulDesc_t desc;
    OK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    float al = 0.5f, be = 2.0f;
    OK(cublasLtMatmul(lt, desc, &al, pa, la, pb, lb, &be, pc, lc, pc, lc, NULL, NULL, 0, NULL));
    struct ref r = {.m = 5,
                    .n = 3,
                    .k = 4,
                    .batch = 2,
                    .alpha = 0.5,
                    .beta = 2,
                    .a = &a,
                    .b = &b,
                    .c = &c,
                    .eps_acc = 0x1p-24};
    check(&r, &c);
    OK(cublasLtMatmulDescDestroy(desc));
    for (int i = 0; i < 3; i++)
        OK(cublasLtMatrixLayoutDestroy(all[i]));
    mat_free(&a);
    mat_free(&b);
    mat_free(&c);
    OK(cublasLtDestroy(lt));
}

Test(lt, desc_attributes_round_trip)
{
    cublasLtMatmulDesc_t d;
    OK(cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F_FAST_TF32, CUDA_R_32F));
    int32_t i32;
    uint32_t u32;
    size_t w = 0;
    OK(cublasLtMatmulDescGetAttribute(d, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, &i32, 4, &w));
    cr_assert_eq(i32, CUBLAS_COMPUTE_32F_FAST_TF32);
    cr_assert_eq(w, 4);
    OK(cublasLtMatmulDescGetAttribute(d, CUBLASLT_MATMUL_DESC_SCALE_TYPE, &i32, 4, &w));
    cr_assert_eq(i32, CUDA_R_32F);
    OK(cublasLtMatmulDescGetAttribute(d, CUBLASLT_MATMUL_DESC_EPILOGUE, &u32, 4, &w));
    cr_assert_eq(u32, CUBLASLT_EPILOGUE_DEFAULT);
    OK(cublasLtMatmulDescGetAttribute(d, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &i32, 4, &w));
    cr_assert_eq(i32, -1);
    /* every attribute: its size, then a set/get round trip of a distinctive value */
    static const struct {
        int id;
        size_t size;
    } attrs[] = {
        {CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, 4},
        {CUBLASLT_MATMUL_DESC_SCALE_TYPE, 4},
        {CUBLASLT_MATMUL_DESC_POINTER_MODE, 4},
        {CUBLASLT_MATMUL_DESC_TRANSA, 4},
        {CUBLASLT_MATMUL_DESC_TRANSB, 4},
        {CUBLASLT_MATMUL_DESC_TRANSC, 4},
        {CUBLASLT_MATMUL_DESC_FILL_MODE, 4},
        {CUBLASLT_MATMUL_DESC_EPILOGUE, 4},
        {CUBLASLT_MATMUL_DESC_BIAS_POINTER, 8},
        {CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, 8},
        {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, 8},
        {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, 8},
        {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE, 8},
        {CUBLASLT_MATMUL_DESC_ALPHA_VECTOR_BATCH_STRIDE, 8},
        {CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET, 4},
        {CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, 8},
        {CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, 8},
        {CUBLASLT_MATMUL_DESC_C_SCALE_POINTER, 8},
        {CUBLASLT_MATMUL_DESC_D_SCALE_POINTER, 8},
        {CUBLASLT_MATMUL_DESC_AMAX_D_POINTER, 8},
        {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, 4},
        {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_POINTER, 8},
        {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_AMAX_POINTER, 8},
        {CUBLASLT_MATMUL_DESC_FAST_ACCUM, 1},
        {CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, 4},
        {CUBLASLT_MATMUL_DESC_A_SCALE_MODE, 4},
        {CUBLASLT_MATMUL_DESC_B_SCALE_MODE, 4},
        {CUBLASLT_MATMUL_DESC_C_SCALE_MODE, 4},
        {CUBLASLT_MATMUL_DESC_D_SCALE_MODE, 4},
        {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_MODE, 4},
        {CUBLASLT_MATMUL_DESC_D_OUT_SCALE_POINTER, 8},
        {CUBLASLT_MATMUL_DESC_D_OUT_SCALE_MODE, 4},
        {CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR, 8},
    };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        cublasLtMatmulDescAttributes_t id = (cublasLtMatmulDescAttributes_t)attrs[i].id;
        size_t sz = attrs[i].size;
        OK(cublasLtMatmulDescGetAttribute(d, id, NULL, 0, &w));
        cr_assert_eq(w, sz, "attr %d: size %zu, want %zu", attrs[i].id, w, sz);
        unsigned char in[8], out[8] = {0};
        for (size_t j = 0; j < 8; j++)
            in[j] = (unsigned char)(0x11 * (j + 1) + i);
        IS(CUBLAS_STATUS_INVALID_VALUE, cublasLtMatmulDescSetAttribute(d, id, in, sz + 1));
        IS(CUBLAS_STATUS_INVALID_VALUE, cublasLtMatmulDescSetAttribute(d, id, NULL, sz));
        OK(cublasLtMatmulDescSetAttribute(d, id, in, sz));
        IS(CUBLAS_STATUS_INVALID_VALUE, cublasLtMatmulDescGetAttribute(d, id, out, sz * 2, &w));
        OK(cublasLtMatmulDescGetAttribute(d, id, out, sz, &w));
        cr_assert_eq(w, sz);
        cr_assert(memcmp(in, out, sz) == 0, "attr %d", attrs[i].id);
    }
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasLtMatmulDescSetAttribute(d, (cublasLtMatmulDescAttributes_t)9, &i32, 4));
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasLtMatmulDescSetAttribute(d, (cublasLtMatmulDescAttributes_t)1000, &i32, 4));
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasLtMatmulDescGetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, NULL, 0, NULL));
    OK(cublasLtMatmulDescDestroy(d));
}

Test(lt, layout_and_preference_attributes_round_trip)
{
    cublasLtMatrixLayout_t l;
    OK(cublasLtMatrixLayoutCreate(&l, CUDA_R_16BF, 3, 4, 5));
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    size_t w;
    OK(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_TYPE, &u32, 4, &w));
    cr_assert(u32 == CUDA_R_16BF && w == 4);
    OK(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_ORDER, &i32, 4, &w));
    cr_assert_eq(i32, CUBLASLT_ORDER_COL);
    OK(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_ROWS, &u64, 8, &w));
    cr_assert(u64 == 3 && w == 8);
    OK(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_COLS, &u64, 8, &w));
    cr_assert_eq(u64, 4);
    OK(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_LD, &i64, 8, &w));
    cr_assert_eq(i64, 5);
    OK(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &i32, 4, &w));
    cr_assert_eq(i32, 1);
    OK(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &i64, 8,
                                        &w));
    cr_assert_eq(i64, 0);
    i64 = 1234;
    OK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &i64, 8));
    i32 = CUBLASLT_ORDER_ROW;
    OK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_ORDER, &i32, 4));
    u64 = 99;
    OK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_ROWS, &u64, 8));
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_ROWS, &u32, 4));
    i64 = 0;
    OK(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &i64, 8,
                                        &w));
    cr_assert_eq(i64, 1234);
    OK(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_ORDER, &i32, 4, &w));
    cr_assert_eq(i32, CUBLASLT_ORDER_ROW);
    OK(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_ROWS, &u64, 8, &w));
    cr_assert_eq(u64, 99);
    OK(cublasLtMatrixLayoutDestroy(l));

    /* the Init form works in caller-provided storage */
    cublasLtMatrixLayoutOpaque_t storage;
    OK(cublasLtMatrixLayoutInit(&storage, CUDA_R_32F, 8, 2, 8));
    OK(cublasLtMatrixLayoutGetAttribute(&storage, CUBLASLT_MATRIX_LAYOUT_ROWS, &u64, 8, &w));
    cr_assert_eq(u64, 8);

    cublasLtMatmulPreference_t p;
    OK(cublasLtMatmulPreferenceCreate(&p));
    OK(cublasLtMatmulPreferenceGetAttribute(p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &u64, 8,
                                            &w));
    cr_assert(u64 == 0 && w == 8);
    u64 = 32 << 20;
    OK(cublasLtMatmulPreferenceSetAttribute(p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &u64, 8));
    u64 = 0;
    OK(cublasLtMatmulPreferenceGetAttribute(p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &u64, 8,
                                            &w));
    cr_assert_eq(u64, 32 << 20);
    OK(cublasLtMatmulPreferenceGetAttribute(p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &u32, 4,
                                            &w));
    cr_assert_eq(u32, 256);
    u32 = 16;
    OK(cublasLtMatmulPreferenceSetAttribute(p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &u32,
                                            4));
    OK(cublasLtMatmulPreferenceGetAttribute(p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, NULL, 0,
                                            &w));
    cr_assert_eq(w, 4);
    float waves = 2.5f;
    OK(cublasLtMatmulPreferenceSetAttribute(p, CUBLASLT_MATMUL_PREF_MAX_WAVES_COUNT, &waves, 4));
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasLtMatmulPreferenceSetAttribute(p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &u32, 4));
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasLtMatmulPreferenceSetAttribute(p, (cublasLtMatmulPreferenceAttributes_t)2, &u32, 4));
    OK(cublasLtMatmulPreferenceDestroy(p));
}

Test(lt, heuristic_algo_and_errors)
{
    cublasHandle_t bh = handle();
    /* a cuBLAS handle works as an Lt handle, as cuBLAS documents */
    cublasLtHandle_t lt = (cublasLtHandle_t)(void *)bh;
    cublasLtMatmulDesc_t desc;
    OK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasLtMatrixLayout_t a, b, c, h16, bad;
    OK(cublasLtMatrixLayoutCreate(&a, CUDA_R_32F, 4, 3, 4));
    OK(cublasLtMatrixLayoutCreate(&b, CUDA_R_32F, 3, 2, 3));
    OK(cublasLtMatrixLayoutCreate(&c, CUDA_R_32F, 4, 2, 4));
    OK(cublasLtMatrixLayoutCreate(&h16, CUDA_R_16F, 3, 2, 3));
    OK(cublasLtMatrixLayoutCreate(&bad, CUDA_R_32F, 5, 2, 5));
    cublasLtMatmulPreference_t pref;
    OK(cublasLtMatmulPreferenceCreate(&pref));
    cublasLtMatmulHeuristicResult_t r;
    int n = -1;
    OK(cublasLtMatmulAlgoGetHeuristic(lt, desc, a, b, c, c, pref, 1, &r, &n));
    cr_assert(n == 1 && r.state == CUBLAS_STATUS_SUCCESS && r.workspaceSize == 0);
    IS(CUBLAS_STATUS_NOT_SUPPORTED,
       cublasLtMatmulAlgoGetHeuristic(lt, desc, a, h16, c, c, pref, 1, &r, &n)); /* A/B types */
    cr_assert_eq(n, 0);
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasLtMatmulAlgoGetHeuristic(lt, desc, a, b, bad, bad, pref, 1, &r, &n)); /* shape */
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasLtMatmulAlgoGetHeuristic(lt, desc, a, b, c, c, pref, 0, &r, &n));
    IS(CUBLAS_STATUS_NOT_INITIALIZED,
       cublasLtMatmulAlgoGetHeuristic((cublasLtHandle_t)(uintptr_t)64, desc, a, b, c, c, pref, 1,
                                      &r, &n));
    uint32_t epi = CUBLASLT_EPILOGUE_DGELU_BGRAD;
    OK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    IS(CUBLAS_STATUS_NOT_SUPPORTED,
       cublasLtMatmulAlgoGetHeuristic(lt, desc, a, b, c, c, pref, 1, &r, &n));
    epi = CUBLASLT_EPILOGUE_BIAS; /* no bias pointer: the matmul refuses, the heuristic does not */
    OK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    OK(cublasLtMatmulAlgoGetHeuristic(lt, desc, a, b, c, c, pref, 1, &r, &n));
    float A[12] = {0}, B[6] = {0}, C[8] = {0}, one = 1;
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasLtMatmul(lt, desc, &one, A, a, B, b, &one, C, c, C, c, NULL, NULL, 0, NULL));
    epi = CUBLASLT_EPILOGUE_DEFAULT;
    OK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));

    /* AlgoInit / AlgoCheck, then a matmul with that algo and one with none */
    cublasLtMatmulAlgo_t algo;
    OK(cublasLtMatmulAlgoInit(lt, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_32F, CUDA_R_32F,
                              CUDA_R_32F, CUDA_R_32F, 0, &algo));
    IS(CUBLAS_STATUS_NOT_SUPPORTED,
       cublasLtMatmulAlgoInit(lt, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_16F, CUDA_R_32F,
                              CUDA_R_32F, CUDA_R_32F, 0, &algo));
    OK(cublasLtMatmulAlgoCheck(lt, desc, a, b, c, c, &algo, &r));
    cr_assert(r.state == CUBLAS_STATUS_SUCCESS && r.workspaceSize == 0);
    for (int i = 0; i < 12; i++)
        A[i] = (float)i;
    for (int i = 0; i < 6; i++)
        B[i] = 1;
    OK(cublasLtMatmul(lt, desc, &one, A, a, B, b, &one, C, c, C, c, &algo, NULL, 0, NULL));
    OK(cublasLtMatmul(lt, desc, &one, A, a, B, b, &one, C, c, C, c, NULL, NULL, 0, NULL));
    /* C(0,0) = 2 * (A(0,0) + A(0,1) + A(0,2)) = 2 * (0 + 4 + 8) */
    cr_assert_eq(C[0], 24);
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasLtMatmul(lt, desc, NULL, A, a, B, b, &one, C, c, C, c, NULL, NULL, 0, NULL));
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasLtMatmul(lt, NULL, &one, A, a, B, b, &one, C, c, C, c, NULL, NULL, 0, NULL));
    /* an ld below the rows is refused */
    cublasLtMatrixLayout_t thin;
    OK(cublasLtMatrixLayoutCreate(&thin, CUDA_R_32F, 4, 3, 3));
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasLtMatmulAlgoGetHeuristic(lt, desc, thin, b, c, c, pref, 1, &r, &n));
    OK(cublasLtMatrixLayoutDestroy(thin));

    OK(cublasLtMatmulPreferenceDestroy(pref));
    OK(cublasLtMatrixLayoutDestroy(a));
    OK(cublasLtMatrixLayoutDestroy(b));
    OK(cublasLtMatrixLayoutDestroy(c));
    OK(cublasLtMatrixLayoutDestroy(h16));
    OK(cublasLtMatrixLayoutDestroy(bad));
    OK(cublasLtMatmulDescDestroy(desc));
    OK(cublasDestroy_v2(bh));
}

/* ---- threads ----------------------------------------------------------------------------------
 */

#define TN 48

struct job {
    float a[TN * TN], b[TN * TN], c[TN * TN];
    int ok;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    cublasHandle_t h;
    if (cublasCreate_v2(&h) != CUBLAS_STATUS_SUCCESS)
        return NULL;
    float one = 1, zero = 0;
    j->ok = 1;
    for (int it = 0; it < 20; it++) {
        if (cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, TN, TN, TN, &one, j->a, TN, j->b, TN, &zero,
                        j->c, TN) != CUBLAS_STATUS_SUCCESS)
            j->ok = 0;
        cublasSetMathMode(h, it & 1 ? CUBLAS_DEFAULT_MATH : CUBLAS_TF32_TENSOR_OP_MATH);
    }
    cublasDestroy_v2(h);
    return NULL;
}

Test(threads, concurrent_handles_are_independent_and_deterministic)
{
    enum { NT = 8 };
    struct job *jobs = calloc(NT, sizeof *jobs);
    for (int t = 0; t < NT; t++)
        for (int i = 0; i < TN * TN; i++) {
            jobs[t].a[i] = (float)(((i * 7 + t) % 13) - 6) / 8;
            jobs[t].b[i] = (float)(((i * 5 + t) % 11) - 5) / 4;
        }
    pthread_t th[NT];
    for (int t = 0; t < NT; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, worker, &jobs[t]), 0);
    for (int t = 0; t < NT; t++)
        pthread_join(th[t], NULL);
    cublasHandle_t h = handle();
    float ref[TN * TN], one = 1, zero = 0;
    for (int t = 0; t < NT; t++) {
        cr_assert(jobs[t].ok);
        OK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, TN, TN, TN, &one, jobs[t].a, TN, jobs[t].b, TN,
                       &zero, ref, TN));
        cr_assert(memcmp(ref, jobs[t].c, sizeof ref) == 0, "thread %d differs", t);
    }
    OK(cublasDestroy_v2(h));
    free(jobs);
}

/* ==== complex and solver routines (fb_blas_cz.c, fb_solve.c) ===============================
 * Typed storage through fb_get/fb_put (fb_cz.h: storage only); the references are plain loops
 * over double complex matrices written out below, or residual checks of the solution. */
#include "fb_cz.h"

static const cublasOperation_t OPS3[3] = {CUBLAS_OP_N, CUBLAS_OP_T, CUBLAS_OP_C};

static fb_z zrnd(int t)
{
    return fb_cplx(t) ? CMPLX(rnd(), rnd()) : rnd();
}
static size_t esz(int t)
{
    return t == FB_S ? 4 : t == FB_Z ? 16 : 8;
}
static double tol(int t)
{
    return t == FB_S || t == FB_C ? 2e-4 : 1e-10;
}

/* n random elements in typed storage (caller frees) and, in *ref, the values it holds */
static void *zmat(int t, int64_t n, fb_z **ref)
{
    void *p = calloc((size_t)n, esz(t));
    *ref = calloc((size_t)n, sizeof **ref);
    for (int64_t i = 0; i < n; i++) {
        fb_put(p, t, i, zrnd(t));
        (*ref)[i] = fb_get(p, t, i);
    }
    return p;
}

static void zclose(const void *got, int t, const fb_z *want, int64_t n, double scale,
                   const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        fb_z g = fb_get(got, t, i);
        cr_assert(cabs(g - want[i]) <= tol(t) * (scale + cabs(want[i])),
                  "%s[%lld]: got %g%+gi, want %g%+gi", what, (long long)i, creal(g), cimag(g),
                  creal(want[i]), cimag(want[i]));
    }
}

static fb_z zop(const fb_z *A, int64_t ld, cublasOperation_t op, int64_t i, int64_t j)
{
    return op == CUBLAS_OP_N   ? A[i + j * ld]
           : op == CUBLAS_OP_T ? A[j + i * ld]
                               : conj(A[j + i * ld]);
}

Test(cz, complex_gemm_all_ops)
{
    cublasHandle_t h = handle();
    const int m = 5, n = 4, k = 3, ld = 6;
    for (int t = FB_C; t <= FB_Z; t++)
        for (int ia = 0; ia < 3; ia++)
            for (int ib = 0; ib < 3; ib++) {
                fb_z *ra, *rb, *rc;
                void *A = zmat(t, ld * 6, &ra), *B = zmat(t, ld * 6, &rb),
                     *C = zmat(t, ld * n, &rc);
                fb_z al = CMPLX(0.5, -1.25), be = CMPLX(-0.75, 0.5);
                double alpha[2] = {creal(al), cimag(al)}, beta[2] = {creal(be), cimag(be)};
                float af[2] = {(float)alpha[0], (float)alpha[1]},
                      bf[2] = {(float)beta[0], (float)beta[1]};
                fb_z want[6 * 4];
                for (int j = 0; j < n; j++)
                    for (int i = 0; i < ld; i++) {
                        fb_z acc = 0;
                        for (int l = 0; l < k; l++)
                            acc += zop(ra, ld, OPS3[ia], i, l) * zop(rb, ld, OPS3[ib], l, j);
                        want[i + j * ld] = i < m ? al * acc + be * rc[i + j * ld] : rc[i + j * ld];
                    }
                if (t == FB_C)
                    OK(cublasCgemm_v2(h, OPS3[ia], OPS3[ib], m, n, k, (cuComplex *)af, A, ld, B, ld,
                                      (cuComplex *)bf, C, ld));
                else
                    OK(cublasZgemm_v2(h, OPS3[ia], OPS3[ib], m, n, k, (cuDoubleComplex *)alpha, A,
                                      ld, B, ld, (cuDoubleComplex *)beta, C, ld));
                zclose(C, t, want, ld * n, 4, "C");
                free(A), free(B), free(C), free(ra), free(rb), free(rc);
            }
    OK(cublasDestroy_v2(h));
}

Test(cz, complex_gemm_strided_and_pointer_array_batches)
{
    cublasHandle_t h = handle();
    enum { M = 3, N = 2, K = 4, NB = 3, SA = 20, SB = 12, SC = 9 };
    fb_z *ra, *rb, *rc;
    void *A = zmat(FB_Z, SA * NB, &ra), *B = zmat(FB_Z, SB * NB, &rb),
         *C = zmat(FB_Z, SC * NB, &rc);
    double alpha[2] = {1, 0.5}, beta[2] = {0, 0};
    fb_z want[SC * NB];
    memcpy(want, rc, sizeof want);
    for (int q = 0; q < NB; q++)
        for (int j = 0; j < N; j++)
            for (int i = 0; i < M; i++) {
                fb_z acc = 0;
                for (int l = 0; l < K; l++) /* A^H (K x M, ld K), B (K x N, ld K) */
                    acc += conj(ra[q * SA + l + i * K]) * rb[q * SB + l + j * K];
                want[q * SC + i + j * M] = CMPLX(1, 0.5) * acc;
            }
    OK(cublasZgemmStridedBatched(h, CUBLAS_OP_C, CUBLAS_OP_N, M, N, K, (cuDoubleComplex *)alpha, A,
                                 K, SA, B, K, SB, (cuDoubleComplex *)beta, C, M, SC, NB));
    zclose(C, FB_Z, want, SC * NB, 4, "strided C");

    /* the same through pointer arrays, single precision */
    fb_z *sa, *sb, *sc;
    void *As = zmat(FB_C, SA * NB, &sa), *Bs = zmat(FB_C, SB * NB, &sb),
         *Cs = zmat(FB_C, SC * NB, &sc);
    const cuComplex *pa[NB], *pb[NB];
    cuComplex *pc[NB];
    for (int q = 0; q < NB; q++) {
        pa[q] = (const cuComplex *)As + q * SA;
        pb[q] = (const cuComplex *)Bs + q * SB;
        pc[q] = (cuComplex *)Cs + q * SC;
    }
    float af[2] = {-1, 2}, bf[2] = {0.5f, 0};
    memcpy(want, sc, sizeof want);
    for (int q = 0; q < NB; q++)
        for (int j = 0; j < N; j++)
            for (int i = 0; i < M; i++) {
                fb_z acc = 0;
                for (int l = 0; l < K; l++) /* A (M x K, ld M), B^T (N x K, ld N) */
                    acc += sa[q * SA + i + l * M] * sb[q * SB + j + l * N];
                want[q * SC + i + j * M] = CMPLX(-1, 2) * acc + 0.5 * sc[q * SC + i + j * M];
            }
    OK(cublasCgemmBatched(h, CUBLAS_OP_N, CUBLAS_OP_T, M, N, K, (cuComplex *)af, pa, M, pb, N,
                          (cuComplex *)bf, pc, M, NB));
    zclose(Cs, FB_C, want, SC * NB, 4, "batched C");
    free(A), free(B), free(C), free(ra), free(rb), free(rc);
    free(As), free(Bs), free(Cs), free(sa), free(sb), free(sc);
    OK(cublasDestroy_v2(h));
}

Test(cz, complex_level1)
{
    cublasHandle_t h = handle();
    enum { N = 7 };
    fb_z *rx, *ry;
    void *x = zmat(FB_C, N * 2, &rx), *y = zmat(FB_C, N, &ry);
    fb_z dc = 0, du = 0;
    double as = 0, n2 = 0;
    int imax = 0;
    for (int i = 0; i < N; i++) {
        fb_z xi = rx[2 * i];
        dc += conj(xi) * ry[i];
        du += xi * ry[i];
        as += fabs(creal(xi)) + fabs(cimag(xi));
        n2 += creal(xi * conj(xi));
        if (fabs(creal(xi)) + fabs(cimag(xi)) >
            fabs(creal(rx[2 * imax])) + fabs(cimag(rx[2 * imax])))
            imax = i;
    }
    float r[2], rs;
    int ri;
    OK(cublasCdotc_v2(h, N, x, 2, y, 1, (cuComplex *)r));
    cr_assert(cabs(CMPLX(r[0], r[1]) - dc) < 1e-5);
    OK(cublasCdotu_v2(h, N, x, 2, y, 1, (cuComplex *)r));
    cr_assert(cabs(CMPLX(r[0], r[1]) - du) < 1e-5);
    OK(cublasScasum_v2(h, N, x, 2, &rs));
    cr_assert(fabs(rs - as) < 1e-5);
    OK(cublasIcamax_v2(h, N, x, 2, &ri));
    cr_assert_eq(ri, imax + 1);
    double d;
    fb_z *zx;
    void *xz = zmat(FB_Z, N, &zx);
    OK(cublasDznrm2_v2(h, N, xz, 1, &d));
    double zn = 0;
    for (int i = 0; i < N; i++)
        zn += creal(zx[i] * conj(zx[i]));
    cr_assert(fabs(d - sqrt(zn)) < 1e-12);

    /* y = alpha x + y, then x *= real s, then a rotation with complex s */
    float al[2] = {0.5f, -2};
    fb_z want[N];
    for (int i = 0; i < N; i++)
        want[i] = ry[i] + CMPLX(0.5, -2) * rx[2 * i];
    OK(cublasCaxpy_v2(h, N, (cuComplex *)al, x, 2, y, 1));
    zclose(y, FB_C, want, N, 2, "axpy");
    float ss = 3;
    OK(cublasCsscal_v2(h, N, &ss, y, 1));
    for (int i = 0; i < N; i++)
        want[i] *= 3;
    zclose(y, FB_C, want, N, 2, "csscal");
    double c = 0.6, s[2] = {0, 0.8};
    fb_z wx[N], wy[N];
    for (int i = 0; i < N; i++) {
        fb_z a = zx[i], b = 0.5 * i;
        wx[i] = c * a + CMPLX(0, 0.8) * b;
        wy[i] = c * b - conj(CMPLX(0, 0.8)) * a;
    }
    double yz[2 * N] = {0};
    for (int i = 0; i < N; i++)
        yz[2 * i] = 0.5 * i;
    OK(cublasZrot_v2(h, N, xz, 1, (cuDoubleComplex *)yz, 1, &c, (cuDoubleComplex *)s));
    zclose(xz, FB_Z, wx, N, 1, "rot x");
    zclose(yz, FB_Z, wy, N, 1, "rot y");
    free(x), free(y), free(rx), free(ry), free(xz), free(zx);
    OK(cublasDestroy_v2(h));
}

/* the dense symmetric/Hermitian matrix an uplo triangle stands for */
static void zsym_full(const fb_z *A, int64_t n, int64_t ld, cublasFillMode_t uplo, int herm,
                      fb_z *F)
{
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < n; i++) {
            int stored = uplo == CUBLAS_FILL_MODE_LOWER ? i >= j : i <= j;
            fb_z v = stored ? A[i + j * ld] : A[j + i * ld];
            if (!stored && herm)
                v = conj(v);
            if (i == j && herm)
                v = creal(v);
            F[i + j * n] = v;
        }
}

Test(cz, level2_gemv_hemv_gerc_her2)
{
    cublasHandle_t h = handle();
    enum { N = 5, LD = 6 };
    fb_z *ra, *rx, *ry;
    void *A = zmat(FB_Z, LD * N, &ra), *x = zmat(FB_Z, N, &rx), *y = zmat(FB_Z, N, &ry);
    double al[2] = {0.5, 1}, be[2] = {-1, 0.25};
    fb_z a = CMPLX(0.5, 1), b = CMPLX(-1, 0.25), want[LD * N], F[N * N];
    for (int i = 0; i < N; i++) { /* gemv, op C */
        fb_z acc = 0;
        for (int j = 0; j < N; j++)
            acc += conj(ra[j + i * LD]) * rx[j];
        want[i] = a * acc + b * ry[i];
    }
    OK(cublasZgemv_v2(h, CUBLAS_OP_C, N, N, (cuDoubleComplex *)al, A, LD, x, 1,
                      (cuDoubleComplex *)be, y, 1));
    zclose(y, FB_Z, want, N, 4, "gemv");
    for (int u = 0; u < 2; u++) {
        cublasFillMode_t uplo = u ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER;
        zsym_full(ra, N, LD, uplo, 1, F);
        fb_z y0[N];
        for (int i = 0; i < N; i++)
            y0[i] = fb_get(y, FB_Z, i);
        for (int i = 0; i < N; i++) {
            fb_z acc = 0;
            for (int j = 0; j < N; j++)
                acc += F[i + j * N] * rx[j];
            want[i] = a * acc + b * y0[i];
        }
        OK(cublasZhemv_v2(h, uplo, N, (cuDoubleComplex *)al, A, LD, x, 1, (cuDoubleComplex *)be, y,
                          1));
        zclose(y, FB_Z, want, N, 4, "hemv");
    }
    /* gerc: A += a x y^H, everywhere */
    for (int j = 0; j < N; j++)
        for (int i = 0; i < LD; i++)
            want[i + j * LD] = ra[i + j * LD] + (i < N ? a * rx[i] * conj(fb_get(y, FB_Z, j)) : 0);
    OK(cublasZgerc_v2(h, N, N, (cuDoubleComplex *)al, x, 1, y, 1, A, LD));
    zclose(A, FB_Z, want, LD * N, 4, "gerc");
    /* her2 (upper): only the triangle changes, its diagonal stays real */
    for (int i = 0; i < LD * N; i++)
        ra[i] = fb_get(A, FB_Z, i);
    memcpy(want, ra, sizeof want);
    for (int j = 0; j < N; j++)
        for (int i = 0; i <= j; i++) {
            fb_z yi = fb_get(y, FB_Z, i), yj = fb_get(y, FB_Z, j);
            fb_z v = ra[i + j * LD] + a * rx[i] * conj(yj) + conj(a) * yi * conj(rx[j]);
            want[i + j * LD] = i == j ? creal(v) : v;
        }
    OK(cublasZher2_v2(h, CUBLAS_FILL_MODE_UPPER, N, (cuDoubleComplex *)al, x, 1, y, 1, A, LD));
    zclose(A, FB_Z, want, LD * N, 4, "her2");
    free(A), free(x), free(y), free(ra), free(rx), free(ry);
    OK(cublasDestroy_v2(h));
}

/* dense op(T) for the triangle of A (reference side) */
static void ztri_op(const fb_z *A, int64_t k, int64_t ld, cublasFillMode_t uplo,
                    cublasOperation_t op, cublasDiagType_t diag, fb_z *M)
{
    fb_z T[64];
    for (int64_t j = 0; j < k; j++)
        for (int64_t i = 0; i < k; i++) {
            int in = uplo == CUBLAS_FILL_MODE_LOWER ? i > j : i < j;
            T[i + j * k] = i == j ? (diag == CUBLAS_DIAG_UNIT ? 1 : A[i + j * ld])
                           : in   ? A[i + j * ld]
                                  : 0;
        }
    for (int64_t j = 0; j < k; j++)
        for (int64_t i = 0; i < k; i++)
            M[i + j * k] = zop(T, k, op, i, j);
}

/* trsm and trmm for every side/uplo/op/diag, S and Z: trmm against a dense product, trsm by
 * checking op(T) X = alpha B (or X op(T) = alpha B) */
Test(cz, trsm_trmm_all_modes)
{
    cublasHandle_t h = handle();
    enum { M = 4, N = 3, LD = 5 };
    for (int t = FB_S; t <= FB_Z; t += 3)
        for (int sd = 0; sd < 2; sd++)
            for (int u = 0; u < 2; u++)
                for (int o = 0; o < 3; o++)
                    for (int dg = 0; dg < 2; dg++) {
                        cublasSideMode_t side = sd ? CUBLAS_SIDE_RIGHT : CUBLAS_SIDE_LEFT;
                        cublasFillMode_t uplo = u ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER;
                        cublasDiagType_t diag = dg ? CUBLAS_DIAG_UNIT : CUBLAS_DIAG_NON_UNIT;
                        int k = sd ? N : M;
                        fb_z *ra, *rb, *rc, Mx[64], want[LD * N];
                        void *A = zmat(t, LD * k, &ra), *B = zmat(t, LD * N, &rb);
                        void *C = zmat(t, LD * N, &rc);
                        for (int i = 0; i < k; i++) /* well conditioned */
                            fb_put(A, t, i + i * LD, ra[i + i * LD] = 4 + ra[i + i * LD]);
                        ztri_op(ra, k, LD, uplo, OPS3[o], diag, Mx);
                        double al[2] = {1.5, t == FB_Z ? -0.5 : 0};
                        float af = 1.5f;
                        fb_z a = CMPLX(al[0], al[1]);
                        memcpy(want, rc, sizeof want);
                        for (int j = 0; j < N; j++)
                            for (int i = 0; i < M; i++) {
                                fb_z acc = 0;
                                for (int l = 0; l < k; l++)
                                    acc += sd ? rb[i + l * LD] * Mx[l + j * k]
                                              : Mx[i + l * k] * rb[l + j * LD];
                                want[i + j * LD] = a * acc;
                            }
                        if (t == FB_S)
                            OK(cublasStrmm_v2(h, side, uplo, OPS3[o], diag, M, N, &af, A, LD, B, LD,
                                              C, LD));
                        else
                            OK(cublasZtrmm_v2(h, side, uplo, OPS3[o], diag, M, N,
                                              (cuDoubleComplex *)al, A, LD, B, LD, C, LD));
                        zclose(C, t, want, LD * N, 8, "trmm");
                        if (t == FB_S)
                            OK(cublasStrsm_v2(h, side, uplo, OPS3[o], diag, M, N, &af, A, LD, B,
                                              LD));
                        else
                            OK(cublasZtrsm_v2(h, side, uplo, OPS3[o], diag, M, N,
                                              (cuDoubleComplex *)al, A, LD, B, LD));
                        for (int j = 0; j < N; j++)
                            for (int i = 0; i < M; i++) {
                                fb_z acc = 0;
                                for (int l = 0; l < k; l++)
                                    acc += sd ? fb_get(B, t, i + l * LD) * Mx[l + j * k]
                                              : Mx[i + l * k] * fb_get(B, t, l + j * LD);
                                cr_assert(cabs(acc - a * rb[i + j * LD]) < 50 * tol(t),
                                          "trsm t%d side%d uplo%d op%d diag%d (%d,%d)", t, sd, u, o,
                                          dg, i, j);
                            }
                        free(A), free(B), free(C), free(ra), free(rb), free(rc);
                    }
    OK(cublasDestroy_v2(h));
}

Test(cz, trsm_batched)
{
    cublasHandle_t h = handle();
    enum { N = 3, NB = 2 };
    double A[NB][N * N], B[NB][N * 2], B0[NB][N * 2];
    for (int q = 0; q < NB; q++) {
        for (int i = 0; i < N * N; i++)
            A[q][i] = rnd() + (i % (N + 1) == 0 ? 3 : 0);
        for (int i = 0; i < N * 2; i++)
            B0[q][i] = B[q][i] = rnd();
    }
    const double *pa[NB] = {A[0], A[1]};
    double *pb[NB] = {B[0], B[1]};
    double one = 1;
    OK(cublasDtrsmBatched(h, CUBLAS_SIDE_LEFT, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N,
                          CUBLAS_DIAG_NON_UNIT, N, 2, &one, pa, N, pb, N, NB));
    for (int q = 0; q < NB; q++)
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < N; i++) {
                double acc = 0;
                for (int l = i; l < N; l++)
                    acc += A[q][i + l * N] * B[q][l + j * N];
                cr_assert(fabs(acc - B0[q][i + j * N]) < 1e-12);
            }
    OK(cublasDestroy_v2(h));
}

Test(cz, syrk_herk_syr2k_her2k_symm_hemm)
{
    cublasHandle_t h = handle();
    enum { N = 4, K = 3, LD = 5 };
    for (int u = 0; u < 2; u++) {
        cublasFillMode_t uplo = u ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER;
        fb_z *ra, *rb, *rc, want[LD * LD], F[N * N];
        /* Dsyrk, op T: C = a A^T A + b C, A K x N */
        void *A = zmat(FB_D, LD * N, &ra), *C = zmat(FB_D, LD * N, &rc);
        double a = 0.75, b = -0.5;
        memcpy(want, rc, sizeof(fb_z) * LD * N);
        for (int j = 0; j < N; j++)
            for (int i = 0; i < N; i++) {
                if (u ? i > j : i < j)
                    continue;
                fb_z acc = 0;
                for (int l = 0; l < K; l++)
                    acc += ra[l + i * LD] * ra[l + j * LD];
                want[i + j * LD] = a * acc + b * rc[i + j * LD];
            }
        OK(cublasDsyrk_v2(h, uplo, CUBLAS_OP_T, N, K, &a, A, LD, &b, C, LD));
        zclose(C, FB_D, want, LD * N, 4, "dsyrk");
        free(A), free(C), free(ra), free(rc);

        /* Zherk, op N, and Zher2k, op C */
        void *Z = zmat(FB_Z, LD * N, &ra), *W = zmat(FB_Z, LD * N, &rb),
             *Cz = zmat(FB_Z, LD * N, &rc);
        memcpy(want, rc, sizeof(fb_z) * LD * N);
        for (int j = 0; j < N; j++)
            for (int i = 0; i < N; i++) {
                if (u ? i > j : i < j)
                    continue;
                fb_z acc = 0;
                for (int l = 0; l < K; l++)
                    acc += ra[i + l * LD] * conj(ra[j + l * LD]);
                fb_z v = a * acc + b * rc[i + j * LD];
                want[i + j * LD] = i == j ? creal(v) : v;
            }
        OK(cublasZherk_v2(h, uplo, CUBLAS_OP_N, N, K, &a, Z, LD, &b, Cz, LD));
        zclose(Cz, FB_Z, want, LD * N, 4, "zherk");
        for (int i = 0; i < LD * N; i++)
            rc[i] = want[i];
        double az[2] = {0.5, -1};
        fb_z al = CMPLX(0.5, -1);
        for (int j = 0; j < N; j++)
            for (int i = 0; i < N; i++) {
                if (u ? i > j : i < j)
                    continue;
                fb_z acc = 0; /* op C: op(A)(i,l) = conj(A(l,i)), A is K x N here (ld LD) */
                for (int l = 0; l < K; l++)
                    acc += al * conj(ra[l + i * LD]) * rb[l + j * LD] +
                           conj(al) * conj(rb[l + i * LD]) * ra[l + j * LD];
                fb_z v = acc + b * rc[i + j * LD];
                want[i + j * LD] = i == j ? creal(v) : v;
            }
        OK(cublasZher2k_v2(h, uplo, CUBLAS_OP_C, N, K, (cuDoubleComplex *)az, Z, LD, W, LD, &b, Cz,
                           LD));
        zclose(Cz, FB_Z, want, LD * N, 4, "zher2k");
        free(Z), free(W), free(Cz), free(ra), free(rb), free(rc);

        /* Chemm, side right: C = a B S + b C, S N x N Hermitian; Csyr2k op N */
        void *S = zmat(FB_C, LD * N, &ra), *Bm = zmat(FB_C, LD * N, &rb),
             *Cm = zmat(FB_C, LD * N, &rc);
        zsym_full(ra, N, LD, uplo, 1, F);
        float ac[2] = {1, 0.5f}, bc[2] = {0.25f, 0};
        fb_z ca = CMPLX(1, 0.5);
        memcpy(want, rc, sizeof(fb_z) * LD * N);
        for (int j = 0; j < N; j++)
            for (int i = 0; i < 3; i++) {
                fb_z acc = 0;
                for (int l = 0; l < N; l++)
                    acc += rb[i + l * LD] * F[l + j * N];
                want[i + j * LD] = ca * acc + 0.25 * rc[i + j * LD];
            }
        OK(cublasChemm_v2(h, CUBLAS_SIDE_RIGHT, uplo, 3, N, (cuComplex *)ac, S, LD, Bm, LD,
                          (cuComplex *)bc, Cm, LD));
        zclose(Cm, FB_C, want, LD * N, 4, "chemm");
        for (int i = 0; i < LD * N; i++)
            rc[i] = want[i];
        for (int j = 0; j < N; j++)
            for (int i = 0; i < N; i++) {
                if (u ? i > j : i < j)
                    continue;
                fb_z acc = 0;
                for (int l = 0; l < K; l++)
                    acc += ra[i + l * LD] * rb[j + l * LD] + rb[i + l * LD] * ra[j + l * LD];
                want[i + j * LD] = ca * acc + 0.25 * rc[i + j * LD];
            }
        OK(cublasCsyr2k_v2(h, uplo, CUBLAS_OP_N, N, K, (cuComplex *)ac, S, LD, Bm, LD,
                           (cuComplex *)bc, Cm, LD));
        zclose(Cm, FB_C, want, LD * N, 4, "csyr2k");
        free(S), free(Bm), free(Cm), free(ra), free(rb), free(rc);
    }
    OK(cublasDestroy_v2(h));
}

/* getrf + getrs, S and Z, with and without pivots: the solution satisfies op(A) x = b */
Test(solve, getrf_getrs_batched)
{
    cublasHandle_t h = handle();
    enum { N = 5, NB = 2, NRHS = 2 };
    for (int t = FB_S; t <= FB_Z; t += 3)
        for (int o = 0; o < 3; o++) {
            fb_z *ra[NB], *rb[NB];
            void *A[NB], *B[NB];
            for (int q = 0; q < NB; q++) {
                A[q] = zmat(t, N * N, &ra[q]);
                B[q] = zmat(t, N * NRHS, &rb[q]);
                fb_put(A[q], t, 0, 0); /* forces a row exchange */
                ra[q][0] = 0;
            }
            int piv[N * NB], info[NB], hinfo = 7;
            if (t == FB_S) {
                OK(cublasSgetrfBatched(h, N, (float *const *)A, N, piv, info, NB));
                OK(cublasSgetrsBatched(h, OPS3[o], N, NRHS, (const float *const *)A, N, piv,
                                       (float *const *)B, N, &hinfo, NB));
            } else {
                OK(cublasZgetrfBatched(h, N, (cuDoubleComplex *const *)A, N, piv, info, NB));
                OK(cublasZgetrsBatched(h, OPS3[o], N, NRHS, (const cuDoubleComplex *const *)A, N,
                                       piv, (cuDoubleComplex *const *)B, N, &hinfo, NB));
            }
            cr_assert_eq(hinfo, 0);
            for (int q = 0; q < NB; q++) {
                cr_assert_eq(info[q], 0);
                cr_assert_neq(piv[q * N], 1, "no exchange for a zero pivot");
                for (int j = 0; j < NRHS; j++)
                    for (int i = 0; i < N; i++) {
                        fb_z acc = 0;
                        for (int l = 0; l < N; l++)
                            acc += zop(ra[q], N, OPS3[o], i, l) * fb_get(B[q], t, l + j * N);
                        cr_assert(cabs(acc - rb[q][i + j * N]) < 2e3 * tol(t),
                                  "t%d op%d q%d (%d,%d): residual %g", t, o, q, i, j,
                                  cabs(acc - rb[q][i + j * N]));
                    }
                free(A[q]), free(B[q]), free(ra[q]), free(rb[q]);
            }
        }
    /* a singular matrix: info names the zero pivot; bad arguments: -i in the host info */
    double S[4] = {1, 2, 2, 4}, Bv[2] = {1, 1};
    double *ps[1] = {S}, *pb[1] = {Bv};
    int piv[2], info[1], hinfo = 0;
    OK(cublasDgetrfBatched(h, 2, ps, 2, piv, info, 1));
    cr_assert_eq(info[0], 2);
    IS(CUBLAS_STATUS_INVALID_VALUE,
       cublasDgetrsBatched(h, CUBLAS_OP_N, 2, 1, (const double *const *)ps, 1, piv, pb, 2, &hinfo,
                           1));
    cr_assert_eq(hinfo, -5);
    OK(cublasDestroy_v2(h));
}

/* geqrf: Q (the product of the reflectors) times R gives A back; gels: the residual is
 * orthogonal to A's columns */
Test(solve, geqrf_and_gels_batched)
{
    cublasHandle_t h = handle();
    enum { M = 5, N = 3 };
    for (int t = FB_S; t <= FB_Z; t++) {
        fb_z *ra, *rt, *rc;
        void *A = zmat(t, M * N, &ra), *tau = zmat(t, N, &rt);
        void *pa[1] = {A}, *pt[1] = {tau};
        int info = 7;
        switch (t) {
        case FB_S:
            OK(cublasSgeqrfBatched(h, M, N, (float *const *)pa, M, (float *const *)pt, &info, 1));
            break;
        case FB_D:
            OK(cublasDgeqrfBatched(h, M, N, (double *const *)pa, M, (double *const *)pt, &info, 1));
            break;
        case FB_C:
            OK(cublasCgeqrfBatched(h, M, N, (cuComplex *const *)pa, M, (cuComplex *const *)pt,
                                   &info, 1));
            break;
        default:
            OK(cublasZgeqrfBatched(h, M, N, (cuDoubleComplex *const *)pa, M,
                                   (cuDoubleComplex *const *)pt, &info, 1));
        }
        cr_assert_eq(info, 0);
        /* QR = H1 H2 H3 R: apply the reflectors to R from the last one */
        fb_z X[M * N];
        for (int j = 0; j < N; j++)
            for (int i = 0; i < M; i++)
                X[i + j * M] = i <= j ? fb_get(A, t, i + j * M) : 0;
        for (int r = N - 1; r >= 0; r--) {
            fb_z tv = fb_get(tau, t, r), v[M];
            for (int i = 0; i < M; i++)
                v[i] = i < r ? 0 : i == r ? 1 : fb_get(A, t, i + r * M);
            for (int j = 0; j < N; j++) {
                fb_z w = 0;
                for (int i = 0; i < M; i++)
                    w += conj(v[i]) * X[i + j * M];
                for (int i = 0; i < M; i++)
                    X[i + j * M] -= tv * v[i] * w;
            }
        }
        for (int i = 0; i < M * N; i++)
            cr_assert(cabs(X[i] - ra[i]) < 50 * tol(t), "t%d geqrf QR[%d] differs by %g", t, i,
                      cabs(X[i] - ra[i]));
        free(A), free(tau), free(ra), free(rt);

        /* gels on a fresh A and two right-hand sides */
        A = zmat(t, M * N, &ra);
        void *C = zmat(t, M * 2, &rc), *pc[1] = {C};
        pa[0] = A;
        int dinfo = 7;
        info = 7;
        switch (t) {
        case FB_S:
            OK(cublasSgelsBatched(h, CUBLAS_OP_N, M, N, 2, (float *const *)pa, M,
                                  (float *const *)pc, M, &info, &dinfo, 1));
            break;
        case FB_D:
            OK(cublasDgelsBatched(h, CUBLAS_OP_N, M, N, 2, (double *const *)pa, M,
                                  (double *const *)pc, M, &info, &dinfo, 1));
            break;
        case FB_C:
            OK(cublasCgelsBatched(h, CUBLAS_OP_N, M, N, 2, (cuComplex *const *)pa, M,
                                  (cuComplex *const *)pc, M, &info, &dinfo, 1));
            break;
        default:
            OK(cublasZgelsBatched(h, CUBLAS_OP_N, M, N, 2, (cuDoubleComplex *const *)pa, M,
                                  (cuDoubleComplex *const *)pc, M, &info, &dinfo, 1));
        }
        cr_assert_eq(info, 0);
        cr_assert_eq(dinfo, 0);
        for (int j = 0; j < 2; j++) {
            fb_z res[M];
            for (int i = 0; i < M; i++) {
                fb_z acc = 0;
                for (int l = 0; l < N; l++)
                    acc += ra[i + l * M] * fb_get(C, t, l + j * M);
                res[i] = acc - rc[i + j * M];
            }
            for (int l = 0; l < N; l++) {
                fb_z g = 0;
                for (int i = 0; i < M; i++)
                    g += conj(ra[i + l * M]) * res[i];
                cr_assert(cabs(g) < 100 * tol(t), "t%d gels: A^H r [%d] = %g", t, l, cabs(g));
            }
        }
        IS(CUBLAS_STATUS_INVALID_VALUE,
           cublasDgelsBatched(h, CUBLAS_OP_T, M, N, 2, (double *const *)pa, M, (double *const *)pc,
                              M, &info, &dinfo, 1));
        cr_assert_eq(info, -1);
        free(A), free(C), free(ra), free(rc);
    }
    OK(cublasDestroy_v2(h));
}

Test(cz, dgemv_and_sgeam)
{
    cublasHandle_t h = handle();
    enum { M = 4, N = 3 };
    double A[M * N], x[M], y[N], y0[N], al = 0.5, be = 2;
    for (int i = 0; i < M * N; i++)
        A[i] = rnd();
    for (int i = 0; i < M; i++)
        x[i] = rnd();
    for (int i = 0; i < N; i++)
        y0[i] = y[i] = rnd();
    OK(cublasDgemv_v2(h, CUBLAS_OP_T, M, N, &al, A, M, x, 1, &be, y, 1));
    for (int j = 0; j < N; j++) {
        double acc = 0;
        for (int i = 0; i < M; i++)
            acc += A[i + j * M] * x[i];
        cr_assert(fabs(y[j] - (al * acc + be * y0[j])) < 1e-12);
    }
    float fa[N * M], fb[M * N], fc[M * N], ga = 2, gb = -0.5f, zero = 0;
    for (int i = 0; i < M * N; i++) {
        fa[i] = (float)rnd();
        fb[i] = (float)rnd();
    }
    OK(cublasSgeam(h, CUBLAS_OP_T, CUBLAS_OP_N, M, N, &ga, fa, N, &gb, fb, M, fc, M));
    for (int j = 0; j < N; j++)
        for (int i = 0; i < M; i++)
            cr_assert(fabsf(fc[i + j * M] - (ga * fa[j + i * N] + gb * fb[i + j * M])) < 1e-6f);
    /* in place, B unread when beta is 0 */
    OK(cublasSgeam(h, CUBLAS_OP_N, CUBLAS_OP_N, M, N, &ga, fc, M, &zero, NULL, M, fc, M));
    for (int j = 0; j < N; j++)
        for (int i = 0; i < M; i++)
            cr_assert(fabsf(fc[i + j * M] - 2 * (ga * fa[j + i * N] + gb * fb[i + j * M])) < 1e-5f);
    OK(cublasDestroy_v2(h));
}
