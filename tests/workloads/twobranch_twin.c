/* twobranch_twin.c — CPU twins of twobranch.cu's kernels: patchify, text embedding, row layernorm, mean over tokens, concat, bias + softmax. */
#include <math.h>

#include "tests/workloads/wl_twin.h"

/* Every kernel is a grid-stride loop whose iterations are independent (one output
 * element, or one row, per iteration), so any non-empty 1-D grid does all the work and
 * the twins are plain loops in the kernels' own per-element operation order. */

/* __global__ void patchify(const float *img, float *out, int B, int C, int S, int p) */
static int patchify_twin(const fg_launch *l, void **args)
{
    const float *img = wl_ptr(args, 0);
    float *out = wl_ptr(args, 1);
    int32_t B = wl_i32(args, 2), C = wl_i32(args, 3), S = wl_i32(args, 4), p = wl_i32(args, 5);
    if (wl_grid_threads_x(l) == 0 || B <= 0 || C <= 0)
        return 0;
    if (p <= 0)
        return WL_CUDA_ERROR_INVALID_VALUE; /* the kernel would divide by zero */
    int64_t g = S / p;
    for (int64_t b = 0; b < B; b++)
        for (int64_t py = 0; py < g; py++)
            for (int64_t px = 0; px < g; px++)
                for (int64_t c = 0; c < C; c++)
                    for (int64_t ky = 0; ky < p; ky++)
                        for (int64_t kx = 0; kx < p; kx++)
                            *out++ = img[((b * C + c) * S + py * p + ky) * S + px * p + kx];
    return 0;
}

/* __global__ void text_embed(const int *tok, const float *emb, const float *pos, float *x,
 *                            int B, int L, int d) */
static int text_embed_twin(const fg_launch *l, void **args)
{
    const int32_t *tok = wl_ptr(args, 0);
    const float *emb = wl_ptr(args, 1), *pos = wl_ptr(args, 2);
    float *x = wl_ptr(args, 3);
    int32_t B = wl_i32(args, 4), L = wl_i32(args, 5), d = wl_i32(args, 6);
    if (wl_grid_threads_x(l) == 0 || B <= 0 || L <= 0 || d <= 0)
        return 0;
    for (int64_t r = 0; r < (int64_t)B * L; r++)
        for (int64_t j = 0; j < d; j++)
            x[r * d + j] = emb[(int64_t)tok[r] * d + j] + pos[(r % L) * d + j];
    return 0;
}

/* __global__ void row_layernorm(const float *x, const float *g, const float *b, float *y,
 *                               int rows, int d, float eps)
 * One thread per row: sequential sum, fmaf(c, c, q), 1/sqrtf(q/d + eps), fmaf(n, g, b). */
static int row_layernorm_twin(const fg_launch *l, void **args)
{
    const float *X = wl_ptr(args, 0), *g = wl_ptr(args, 1), *b = wl_ptr(args, 2);
    float *Y = wl_ptr(args, 3);
    int32_t rows = wl_i32(args, 4), d = wl_i32(args, 5);
    float eps = wl_f32(args, 6);
    if (wl_grid_threads_x(l) == 0)
        return 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *x = X + r * d;
        float s = 0.0f, q = 0.0f;
        for (int64_t j = 0; j < d; j++)
            s += x[j];
        float mean = s / (float)d;
        for (int64_t j = 0; j < d; j++) {
            float c = x[j] - mean;
            q = fmaf(c, c, q);
        }
        float inv = 1.0f / sqrtf(q / (float)d + eps);
        for (int64_t j = 0; j < d; j++) {
            float n = (x[j] - mean) * inv;
            Y[r * d + j] = fmaf(n, g[j], b[j]);
        }
    }
    return 0;
}

/* __global__ void mean_tokens(const float *x, const float *bias, float *y, int B, int n, int d)
 * y[b][j] = (in-order sum over t of x[b*n + t][j]) / n, + bias[j] when bias is not NULL. */
static int mean_tokens_twin(const fg_launch *l, void **args)
{
    const float *x = wl_ptr(args, 0), *bias = wl_ptr(args, 1);
    float *y = wl_ptr(args, 2);
    int32_t B = wl_i32(args, 3), n = wl_i32(args, 4), d = wl_i32(args, 5);
    if (wl_grid_threads_x(l) == 0 || B <= 0 || d <= 0)
        return 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < d; j++) {
            float s = 0.0f;
            for (int64_t t = 0; t < n; t++)
                s += x[(b * n + t) * d + j];
            float m = s / (float)n;
            y[b * d + j] = bias ? m + bias[j] : m;
        }
    return 0;
}

/* __global__ void concat2(const float *a, const float *c, float *out, int B, int da, int dc) */
static int concat2_twin(const fg_launch *l, void **args)
{
    const float *a = wl_ptr(args, 0), *c = wl_ptr(args, 1);
    float *out = wl_ptr(args, 2);
    int32_t B = wl_i32(args, 3), da = wl_i32(args, 4), dc = wl_i32(args, 5);
    if (wl_grid_threads_x(l) == 0 || B <= 0)
        return 0;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t j = 0; j < da; j++)
            *out++ = a[b * da + j];
        for (int64_t j = 0; j < dc; j++)
            *out++ = c[b * dc + j];
    }
    return 0;
}

/* __global__ void softmax_bias(float *logits, const float *bias, float *probs, int B, int K)
 * Per row: z += bias (stored), max, in-order sum of expf(z - max), expf(z - max) / sum.
 * Only expf may differ from CUDA's by an ulp or two. */
static int softmax_bias_twin(const fg_launch *l, void **args)
{
    float *logits = wl_ptr(args, 0);
    const float *bias = wl_ptr(args, 1);
    float *probs = wl_ptr(args, 2);
    int32_t B = wl_i32(args, 3), K = wl_i32(args, 4);
    if (wl_grid_threads_x(l) == 0)
        return 0;
    for (int64_t b = 0; b < B; b++) {
        float *z = logits + b * K, m = -INFINITY, s = 0.0f;
        for (int64_t j = 0; j < K; j++) {
            z[j] = z[j] + bias[j];
            m = z[j] > m ? z[j] : m;
        }
        for (int64_t j = 0; j < K; j++)
            s += expf(z[j] - m);
        for (int64_t j = 0; j < K; j++)
            probs[b * K + j] = expf(z[j] - m) / s;
    }
    return 0;
}

FG_TWIN(patchify, "_Z8patchifyPKfPfiiii", patchify_twin, 6, 8, 8, 4, 4, 4, 4)
FG_TWIN(text_embed, "_Z10text_embedPKiPKfS2_Pfiii", text_embed_twin, 7, 8, 8, 8, 8, 4, 4, 4)
FG_TWIN(row_layernorm, "_Z13row_layernormPKfS0_S0_Pfiif", row_layernorm_twin, 7, 8, 8, 8, 8, 4, 4,
        4)
FG_TWIN(mean_tokens, "_Z11mean_tokensPKfS0_Pfiii", mean_tokens_twin, 6, 8, 8, 8, 4, 4, 4)
FG_TWIN(concat2, "_Z7concat2PKfS0_Pfiii", concat2_twin, 6, 8, 8, 8, 4, 4, 4)
FG_TWIN(softmax_bias, "_Z12softmax_biasPfPKfS_ii", softmax_bias_twin, 5, 8, 8, 8, 4, 4)
