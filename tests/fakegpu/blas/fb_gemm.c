/* fb_gemm.c — the GEMM engine behind cuBLAS and cuBLASLt: convert, OpenBLAS, epilogue. */
#include "fb_int.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- type rules ---- */

int fb_scale_type(cublasComputeType_t ct)
{
    switch (ct) {
    case CUBLAS_COMPUTE_16F:
    case CUBLAS_COMPUTE_16F_PEDANTIC:
        return CUDA_R_16F;
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_32F_FAST_TF32:
    case CUBLAS_COMPUTE_32F_EMULATED_16BFX9:
        return CUDA_R_32F;
    case CUBLAS_COMPUTE_64F:
    case CUBLAS_COMPUTE_64F_PEDANTIC:
    case CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT:
        return CUDA_R_64F;
    default:
        return -1; /* includes 32I: no int8 GEMM here */
    }
}

/* The real-valued rows of cublasGemmEx's table of supported combinations. Every float-class
 * compute type is computed in full float (no half/TF32 down-conversion): results are at least
 * as accurate as the GPU's, and identical run to run. */
int fb_types_ok(cublasComputeType_t ct, cudaDataType st, cudaDataType ab, cudaDataType cd, int *dbl)
{
    *dbl = 0;
    switch (ct) {
    case CUBLAS_COMPUTE_16F:
    case CUBLAS_COMPUTE_16F_PEDANTIC:
        return st == CUDA_R_16F && ab == CUDA_R_16F && cd == CUDA_R_16F;
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
    case CUBLAS_COMPUTE_32F_EMULATED_16BFX9:
        if (st != CUDA_R_32F)
            return 0;
        if (ab == CUDA_R_32F)
            return cd == CUDA_R_32F;
        if (ab == CUDA_R_16F || ab == CUDA_R_16BF)
            return cd == ab || cd == CUDA_R_32F;
        return 0;
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_32F_FAST_TF32:
        return st == CUDA_R_32F && ab == CUDA_R_32F && cd == CUDA_R_32F;
    case CUBLAS_COMPUTE_64F:
    case CUBLAS_COMPUTE_64F_PEDANTIC:
    case CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT:
        *dbl = 1;
        return st == CUDA_R_64F && ab == CUDA_R_64F && cd == CUDA_R_64F;
    default:
        return 0;
    }
}

size_t fb_type_size(cudaDataType t)
{
    switch (t) {
    case CUDA_R_16F:
    case CUDA_R_16BF:
        return 2;
    case CUDA_R_32F:
        return 4;
    case CUDA_R_64F:
        return 8;
    default:
        return 0;
    }
}

int fb_valid_op(cublasOperation_t op)
{
    return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C;
}

double fb_load(const void *p, cudaDataType t, int64_t i)
{
    switch (t) {
    case CUDA_R_16F:
        return fb_h2f(((const uint16_t *)p)[i]);
    case CUDA_R_16BF:
        return fb_bf2f(((const uint16_t *)p)[i]);
    case CUDA_R_32F:
        return ((const float *)p)[i];
    case CUDA_R_64F:
        return ((const double *)p)[i];
    default:
        return 0; /* unreachable: types are validated before the engine runs */
    }
}

/* A float-compute result is rounded to float first, then to the storage type: the GPU's
 * float accumulator followed by its down-conversion, with one rounding each. */
static void store(void *p, cudaDataType t, int64_t i, double v, int dbl)
{
    float f = (float)v;
    switch (t) {
    case CUDA_R_16F:
        ((uint16_t *)p)[i] = fb_f2h(f);
        break;
    case CUDA_R_16BF:
        ((uint16_t *)p)[i] = fb_f2bf(f);
        break;
    case CUDA_R_32F:
        ((float *)p)[i] = f;
        break;
    case CUDA_R_64F:
        ((double *)p)[i] = dbl ? v : (double)f;
        break;
    default:
        break;
    }
}

/* ---- the engine ---- */

static const void *member(const struct fb_mat *x, int64_t b)
{
    if (x->ptrs)
        return x->ptrs[b];
    if (!x->p)
        return NULL;
    return (const char *)x->p + (ptrdiff_t)(b * x->stride) * (ptrdiff_t)fb_type_size(x->t);
}

/* An operand as OpenBLAS wants it. A row-major matrix is the column-major storage of its
 * transpose, so it needs no copy: only its transpose flag flips. A type other than the
 * compute type is converted into *scratch (dense, column-major in storage order). */
struct operand {
    const void *p;
    int64_t ld;
    int trans;
};

static void prep(const struct fb_mat *x, const void *p, int trans, int64_t rows, int64_t cols,
                 int dbl, float *scratch, struct operand *o)
{
    o->trans = trans ^ x->rowmajor;
    if ((dbl && x->t == CUDA_R_64F) || (!dbl && x->t == CUDA_R_32F)) {
        o->p = p;
        o->ld = x->ld;
        return;
    }
    int64_t inner = x->rowmajor ? cols : rows, outer = x->rowmajor ? rows : cols;
    for (int64_t j = 0; j < outer; j++) {
        float *dst = scratch + j * inner;
        int64_t base = j * x->ld;
        switch (x->t) {
        case CUDA_R_16F:
            for (int64_t i = 0; i < inner; i++)
                dst[i] = fb_h2f(((const uint16_t *)p)[base + i]);
            break;
        case CUDA_R_16BF:
            for (int64_t i = 0; i < inner; i++)
                dst[i] = fb_bf2f(((const uint16_t *)p)[base + i]);
            break;
        default:
            for (int64_t i = 0; i < inner; i++)
                dst[i] = (float)fb_load(p, x->t, base + i);
            break;
        }
    }
    o->p = scratch;
    o->ld = inner > 0 ? inner : 1;
}

static inline int64_t at(const struct fb_mat *x, int64_t i, int64_t j)
{
    return x->rowmajor ? i * x->ld + j : i + j * x->ld;
}

static double gelu(double x)
{
    /* the tanh approximation cuBLASLt documents for its GELU epilogues */
    const double k = 0.7978845608028654; /* sqrt(2/pi) */
    return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
}

/* Can OpenBLAS write D directly with alpha and beta? Only when nothing follows the product:
 * same buffer for C and D, compute-type column-major storage, scalar alpha/beta. */
static int direct(const struct fb_gemm *g)
{
    cudaDataType ct = g->dbl ? CUDA_R_64F : CUDA_R_32F;
    return g->k > 0 && g->d.t == ct && !g->d.rowmajor && !g->c.rowmajor && g->c.t == g->d.t &&
           g->c.ld == g->d.ld && g->c.stride == g->d.stride && g->c.p == g->d.p &&
           g->c.ptrs == g->d.ptrs && !g->alpha_vec && !g->beta_vec && !g->beta_zero && !g->relu &&
           !g->gelu && !g->bias;
}

static void blas(const struct fb_gemm *g, const struct operand *a, const struct operand *b,
                 double alpha, double beta, void *c, int64_t ldc)
{
    enum CBLAS_TRANSPOSE ta = a->trans ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = b->trans ? CblasTrans : CblasNoTrans;
    if (g->dbl)
        cblas_dgemm(CblasColMajor, ta, tb, (blasint)g->m, (blasint)g->n, (blasint)g->k, alpha, a->p,
                    (blasint)a->ld, b->p, (blasint)b->ld, beta, c, (blasint)ldc);
    else
        cblas_sgemm(CblasColMajor, ta, tb, (blasint)g->m, (blasint)g->n, (blasint)g->k,
                    (float)alpha, a->p, (blasint)a->ld, b->p, (blasint)b->ld, (float)beta, c,
                    (blasint)ldc);
}

/* One batch member through the scratch product T = op(A) op(B), then the epilogue pass. */
static void combine(const struct fb_gemm *g, int64_t b, const void *tprod, const void *c, void *d)
{
    double alpha = g->alpha ? fb_load(g->alpha, g->scale_t, 0) : 1.0;
    double beta = g->beta && !g->beta_zero ? fb_load(g->beta, g->scale_t, 0) : 0.0;
    const void *bias = NULL;
    if (g->bias)
        bias = (const char *)g->bias +
               (ptrdiff_t)(b * g->bias_stride) * (ptrdiff_t)fb_type_size(g->bias_t);
    int64_t av = b * g->alpha_vec_stride;
    for (int64_t j = 0; j < g->n; j++) {
        for (int64_t i = 0; i < g->m; i++) {
            double ai = g->alpha_vec ? fb_load(g->alpha_vec, g->scale_t, av + i) : alpha;
            double bi = g->beta_vec ? fb_load(g->beta_vec, g->scale_t, i) : beta;
            double v = g->k ? fb_load(tprod, g->dbl ? CUDA_R_64F : CUDA_R_32F, i + j * g->m) : 0;
            if (!g->dbl)
                v = (float)(ai * v); /* the GPU's float accumulator times alpha */
            else
                v = ai * v;
            /* beta == 0 never reads C: NaN or garbage there must not reach D */
            if (bi != 0)
                v += bi * fb_load(c, g->c.t, at(&g->c, i, j));
            if (bias)
                v += fb_load(bias, g->bias_t, i);
            if (g->relu && !(v > 0))
                v = v != v ? v : 0; /* max(x, 0), NaN stays NaN */
            if (g->gelu)
                v = gelu(v);
            store(d, g->d.t, at(&g->d, i, j), v, g->dbl);
        }
    }
}

cublasStatus_t fb_gemm_run(const struct fb_gemm *g)
{
    if (g->m == 0 || g->n == 0 || g->batch == 0)
        return CUBLAS_STATUS_SUCCESS;
    /* OpenBLAS takes int dimensions; refuse rather than truncate. */
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX || g->a.ld > INT_MAX ||
        g->b.ld > INT_MAX || g->c.ld > INT_MAX || g->d.ld > INT_MAX)
        return CUBLAS_STATUS_NOT_SUPPORTED;

    int64_t ar = g->ta ? g->k : g->m, ac = g->ta ? g->m : g->k;
    int64_t br = g->tb ? g->n : g->k, bc = g->tb ? g->k : g->n;
    int is_direct = direct(g);
    int conv_a = g->k && !(g->dbl || g->a.t == CUDA_R_32F);
    int conv_b = g->k && !(g->dbl || g->b.t == CUDA_R_32F);
    size_t esz = g->dbl ? sizeof(double) : sizeof(float);
    float *sa = conv_a ? malloc((size_t)(ar * ac) * sizeof(float)) : NULL;
    float *sb = conv_b ? malloc((size_t)(br * bc) * sizeof(float)) : NULL;
    void *t = !is_direct && g->k ? malloc((size_t)(g->m * g->n) * esz) : NULL;
    if ((conv_a && !sa) || (conv_b && !sb) || (!is_direct && g->k && !t)) {
        free(sa);
        free(sb);
        free(t);
        return CUBLAS_STATUS_ALLOC_FAILED;
    }

    for (int64_t bi = 0; bi < g->batch; bi++) {
        const void *pa = member(&g->a, bi), *pb = member(&g->b, bi), *pc = member(&g->c, bi);
        void *pd = (void *)member(&g->d, bi);
        struct operand oa = {0}, ob = {0};
        if (g->k) {
            prep(&g->a, pa, g->ta, ar, ac, g->dbl, sa, &oa);
            prep(&g->b, pb, g->tb, br, bc, g->dbl, sb, &ob);
        }
        if (is_direct) {
            double alpha = fb_load(g->alpha, g->scale_t, 0);
            double beta = fb_load(g->beta, g->scale_t, 0);
            if (beta == 0) /* cuBLAS never reads C when beta == 0: clear it, NaN included */
                for (int64_t j = 0; j < g->n; j++)
                    memset((char *)pd + (size_t)(j * g->d.ld) * esz, 0, (size_t)g->m * esz);
            blas(g, &oa, &ob, alpha, beta, pd, g->d.ld);
        } else {
            if (g->k)
                blas(g, &oa, &ob, 1.0, 0.0, t, g->m);
            combine(g, bi, t, pc, pd);
        }
    }
    free(sa);
    free(sb);
    free(t);
    return CUBLAS_STATUS_SUCCESS;
}

/* ---- on the fake GPU's streams ---- */

/* One thread of OpenBLAS per fake-GPU worker: the workers are sized to the cores, and
 * OpenBLAS's own pool on top of them spins in sched_yield on a loaded machine (a GPT-2 run
 * took minutes per token). GENIE_FAKE_BLAS_THREADS overrides it. */
__attribute__((constructor)) static void fb_threads(void)
{
    const char *v = getenv("GENIE_FAKE_BLAS_THREADS");
    int n = v && *v ? atoi(v) : 1;
    openblas_set_num_threads(n > 0 ? n : 1);
}

enum fg_dtype fb_gemm_dtype(cublasComputeType_t ct, cublasMath_t math, cudaDataType ab)
{
    switch (ct) {
    case CUBLAS_COMPUTE_64F:
    case CUBLAS_COMPUTE_64F_PEDANTIC:
    case CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT:
        return FG_DT_F64;
    case CUBLAS_COMPUTE_32F_FAST_TF32:
        return FG_DT_TF32;
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_16F:
    case CUBLAS_COMPUTE_16F_PEDANTIC:
        return FG_DT_F16;
    case CUBLAS_COMPUTE_32I:
    case CUBLAS_COMPUTE_32I_PEDANTIC:
        return FG_DT_I8;
    default:
        break;
    }
    switch (ab) {
    case CUDA_R_16F:
    case CUDA_R_16BF:
        return FG_DT_F16;
    case CUDA_R_8F_E4M3:
    case CUDA_R_8F_E5M2:
        return FG_DT_F8;
    case CUDA_R_8I:
        return FG_DT_I8;
    case CUDA_R_64F:
        return FG_DT_F64;
    default:
        return (math & CUBLAS_TF32_TENSOR_OP_MATH) ? FG_DT_TF32 : FG_DT_F32;
    }
}

struct fb_job {
    struct fb_gemm g;
    unsigned char alpha[16], beta[16]; /* host-mode scalars, copied at the call */
};

static int fb_job_run(void *a)
{
    struct fb_job *j = a;
    /* CUDA_ERROR_OUT_OF_MEMORY (2) for ALLOC_FAILED: reported at the next sync */
    return fb_gemm_run(&j->g) == CUBLAS_STATUS_SUCCESS ? 0 : 2;
}

static size_t fb_tsz(cudaDataType t)
{
    size_t z = fb_type_size(t);
    return z ? z : 4;
}

cublasStatus_t fb_gemm_submit(cudaStream_t stream, const struct fb_gemm *g, unsigned host_scalars,
                              enum fg_dtype dt)
{
    if (g->m == 0 || g->n == 0 || g->batch == 0)
        return CUBLAS_STATUS_SUCCESS;
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX || g->a.ld > INT_MAX ||
        g->b.ld > INT_MAX || g->c.ld > INT_MAX || g->d.ld > INT_MAX)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    struct fb_job *j = malloc(sizeof *j);
    if (!j)
        return CUBLAS_STATUS_ALLOC_FAILED;
    j->g = *g;
    size_t sz = fb_type_size(g->scale_t);
    if ((host_scalars & FB_HOST_ALPHA) && g->alpha && sz <= sizeof j->alpha) {
        memcpy(j->alpha, g->alpha, sz);
        j->g.alpha = j->alpha;
    }
    if ((host_scalars & FB_HOST_BETA) && g->beta && sz <= sizeof j->beta) {
        memcpy(j->beta, g->beta, sz);
        j->g.beta = j->beta;
    }
    double mnk = (double)g->m * (double)g->n * (double)g->k * (double)g->batch;
    fg_cost c = {.kind = FG_COST_GEMM,
                 .dtype = dt,
                 .flops = 2 * mnk,
                 .bytes = (double)g->batch * ((double)g->m * (double)g->k * fb_tsz(g->a.t) +
                                              (double)g->k * (double)g->n * fb_tsz(g->b.t) +
                                              (double)g->m * (double)g->n * fb_tsz(g->d.t))};
    int r = fg_work_submit(stream, fb_job_run, j, free, &c);
    if (r == 0)
        return CUBLAS_STATUS_SUCCESS;
    return r == 2 ? CUBLAS_STATUS_ALLOC_FAILED : CUBLAS_STATUS_EXECUTION_FAILED;
}
