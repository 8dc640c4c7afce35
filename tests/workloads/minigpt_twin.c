/* minigpt_twin.c — CPU twins of minigpt.cu's kernels: embedding, layernorm, KV append, causal softmax, residual add, argmax. */
#include <math.h>

#include "tests/workloads/wl_twin.h"

#define RED_SHARED 256 /* floats in the kernels' static shared reduction arrays */

/* The kernels' shared-memory tree over bd slots (any bd: a non-power-of-two block
 * drops what the kernel's tree drops). */
static float tree_sum(float *red, unsigned bd)
{
    for (unsigned s = bd / 2; s > 0; s >>= 1)
        for (unsigned t = 0; t < s; t++)
            red[t] += red[t + s];
    return red[0];
}

static float tree_max(float *red, unsigned bd)
{
    for (unsigned s = bd / 2; s > 0; s >>= 1)
        for (unsigned t = 0; t < s; t++)
            red[t] = red[t + s] > red[t] ? red[t + s] : red[t];
    return red[0];
}

/* __global__ void embed_tokens(const int *tok, const float *wte, const float *wpe, float *x,
 *                              int M, int d, int pos0)
 * Grid-stride copy-and-add: any non-empty 1-D grid covers all M*d elements. */
static int embed_tokens_twin(const fg_launch *l, void **args)
{
    const int32_t *tok = wl_ptr(args, 0);
    const float *wte = wl_ptr(args, 1), *wpe = wl_ptr(args, 2);
    float *x = wl_ptr(args, 3);
    int32_t M = wl_i32(args, 4), d = wl_i32(args, 5), pos0 = wl_i32(args, 6);
    if (wl_grid_threads_x(l) == 0 || M <= 0 || d <= 0)
        return 0;
    for (int64_t i = 0; i < M; i++) {
        int64_t t = tok[pos0 + i];
        for (int64_t c = 0; c < d; c++)
            x[i * d + c] = wte[t * d + c] + wpe[(pos0 + i) * d + c];
    }
    return 0;
}

/* __global__ void layernorm_rows(const float *x, const float *g, const float *b, float *y,
 *                                int M, int d, float eps)
 * Block per row (grid-stride over rows): per-thread strided sums, tree, mean; the same
 * for fmaf(c, c, q); 1/sqrtf(var + eps); fmaf((x - mean) * inv, g, b). Bit-exact: every
 * operation is IEEE-rounded on both sides and the order is the kernel's. */
static int layernorm_rows_twin(const fg_launch *l, void **args)
{
    const float *X = wl_ptr(args, 0), *g = wl_ptr(args, 1), *b = wl_ptr(args, 2);
    float *Y = wl_ptr(args, 3);
    int32_t M = wl_i32(args, 4), d = wl_i32(args, 5);
    float eps = wl_f32(args, 6);
    unsigned bd = l->block.x;
    float red[RED_SHARED];
    if (bd > RED_SHARED)
        return 700; /* CUDA_ERROR_ILLEGAL_ADDRESS: the kernel would index past red[] */
    if (bd == 0 || l->grid.x == 0)
        return 0;
    for (int64_t r = 0; r < M; r++) {
        const float *x = X + r * d;
        for (unsigned t = 0; t < bd; t++) {
            float s = 0.0f;
            for (int64_t j = t; j < d; j += bd)
                s += x[j];
            red[t] = s;
        }
        float mean = tree_sum(red, bd) / (float)d;
        for (unsigned t = 0; t < bd; t++) {
            float q = 0.0f;
            for (int64_t j = t; j < d; j += bd) {
                float c = x[j] - mean;
                q = fmaf(c, c, q);
            }
            red[t] = q;
        }
        float var = tree_sum(red, bd) / (float)d;
        float inv = 1.0f / sqrtf(var + eps);
        for (int64_t j = 0; j < d; j++) {
            float n = (x[j] - mean) * inv;
            Y[r * d + j] = fmaf(n, g[j], b[j]);
        }
    }
    return 0;
}

/* __global__ void kv_append(const float *qkv, float *kc, float *vc, int M, int d, int H,
 *                           int past, int ctx)
 * Grid-stride copy of K and V of M tokens into [H][ctx][dh] caches at rows past.. */
static int kv_append_twin(const fg_launch *l, void **args)
{
    const float *qkv = wl_ptr(args, 0);
    float *kc = wl_ptr(args, 1), *vc = wl_ptr(args, 2);
    int32_t M = wl_i32(args, 3), d = wl_i32(args, 4), H = wl_i32(args, 5);
    int32_t past = wl_i32(args, 6), ctx = wl_i32(args, 7);
    if (wl_grid_threads_x(l) == 0 || M <= 0 || d <= 0)
        return 0;
    if (H <= 0)
        return WL_CUDA_ERROR_INVALID_VALUE; /* the kernel would divide by zero */
    int64_t dh = d / H;
    if (dh == 0)
        return WL_CUDA_ERROR_INVALID_VALUE;
    for (int64_t i = 0; i < M; i++)
        for (int64_t c = 0; c < d; c++) {
            int64_t h = c / dh, e = c % dh;
            int64_t dst = (h * ctx + past + i) * dh + e;
            kc[dst] = qkv[i * 3 * d + d + c];
            vc[dst] = qkv[i * 3 * d + 2 * d + c];
        }
    return 0;
}

/* __global__ void causal_softmax(float *S, int rows, int M, int T, int past)
 * Row r (query r % M at position past + r % M) keeps keys j < nv = min(past + r%M + 1, T):
 * max tree, per-thread strided sums of expf, sum tree, expf(s - max) / sum, zeros past nv.
 * Same order as the kernel; only expf itself may differ from CUDA's by an ulp or two. */
static int causal_softmax_twin(const fg_launch *l, void **args)
{
    float *S = wl_ptr(args, 0);
    int32_t rows = wl_i32(args, 1), M = wl_i32(args, 2), T = wl_i32(args, 3);
    int32_t past = wl_i32(args, 4);
    unsigned bd = l->block.x;
    float red[RED_SHARED];
    if (bd > RED_SHARED)
        return 700;
    if (bd == 0 || l->grid.x == 0 || rows <= 0)
        return 0;
    if (M <= 0)
        return WL_CUDA_ERROR_INVALID_VALUE; /* r % M: the kernel would fault */
    for (int64_t r = 0; r < rows; r++) {
        float *s = S + r * T;
        int64_t nv = (int64_t)past + r % M + 1;
        if (nv > T)
            nv = T;
        for (unsigned t = 0; t < bd; t++) {
            float m = -INFINITY;
            for (int64_t j = t; j < nv; j += bd)
                m = s[j] > m ? s[j] : m;
            red[t] = m;
        }
        float mx = tree_max(red, bd);
        for (unsigned t = 0; t < bd; t++) {
            float sum = 0.0f;
            for (int64_t j = t; j < nv; j += bd)
                sum += expf(s[j] - mx);
            red[t] = sum;
        }
        float total = tree_sum(red, bd);
        for (int64_t j = 0; j < T; j++)
            s[j] = j < nv ? expf(s[j] - mx) / total : 0.0f;
    }
    return 0;
}

/* __global__ void residual_add(float *x, const float *y, int n) — grid-stride x += y. */
static int residual_add_twin(const fg_launch *l, void **args)
{
    float *x = wl_ptr(args, 0);
    const float *y = wl_ptr(args, 1);
    int32_t n = wl_i32(args, 2);
    if (wl_grid_threads_x(l) == 0)
        return 0;
    for (int32_t i = 0; i < n; i++)
        x[i] += y[i];
    return 0;
}

/* __global__ void argmax_row(const float *logits, int V, int *tok, int pos)
 * One block: thread t keeps the first strided element and then any strictly greater one;
 * the tree keeps the larger value, the lower index on equal values. The twin replays the
 * threads and the tree (only block 0's thread 0 stores; more blocks store the same). */
static int argmax_row_twin(const fg_launch *l, void **args)
{
    const float *x = wl_ptr(args, 0);
    int32_t V = wl_i32(args, 1);
    int32_t *tok = wl_ptr(args, 2);
    int32_t pos = wl_i32(args, 3);
    unsigned bd = l->block.x;
    float bv[RED_SHARED];
    int32_t bi[RED_SHARED];
    if (bd > RED_SHARED)
        return 700;
    if (bd == 0 || l->grid.x == 0)
        return 0;
    for (unsigned t = 0; t < bd; t++) {
        float best = -INFINITY;
        int32_t idx = V;
        for (int64_t v = t; v < V; v += bd)
            if (x[v] > best || idx == V) {
                best = x[v];
                idx = (int32_t)v;
            }
        bv[t] = best;
        bi[t] = idx;
    }
    for (unsigned s = bd / 2; s > 0; s >>= 1)
        for (unsigned t = 0; t < s; t++) {
            float ov = bv[t + s];
            int32_t oi = bi[t + s];
            if (oi < V && (bi[t] == V || ov > bv[t] || (ov == bv[t] && oi < bi[t]))) {
                bv[t] = ov;
                bi[t] = oi;
            }
        }
    tok[pos] = bi[0] < V ? bi[0] : 0;
    return 0;
}

FG_TWIN(embed_tokens, "_Z12embed_tokensPKiPKfS2_Pfiii", embed_tokens_twin, 7, 8, 8, 8, 8, 4, 4, 4)
FG_TWIN(layernorm_rows, "_Z14layernorm_rowsPKfS0_S0_Pfiif", layernorm_rows_twin, 7, 8, 8, 8, 8, 4,
        4, 4)
FG_TWIN(kv_append, "_Z9kv_appendPKfPfS1_iiiii", kv_append_twin, 8, 8, 8, 8, 4, 4, 4, 4, 4)
FG_TWIN(causal_softmax, "_Z14causal_softmaxPfiiii", causal_softmax_twin, 5, 8, 4, 4, 4, 4)
FG_TWIN(residual_add, "_Z12residual_addPfPKfi", residual_add_twin, 3, 8, 8, 4)
FG_TWIN(argmax_row, "_Z10argmax_rowPKfiPii", argmax_row_twin, 4, 8, 4, 8, 4)
