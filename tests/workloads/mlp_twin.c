/* mlp_twin.c — CPU twins of mlp.cu's kernels: tiled matmul, bias(+ReLU), row softmax. */
#include <math.h>

#include "tests/workloads/wl_twin.h"

#define TILE 16
#define SOFTMAX_SHARED 256 /* floats in softmax_rows' static shared array */

/* __global__ void matmul_tiled(const float *A, const float *B, float *C, int M, int N, int K)
 * Thread (tx, ty) of block (bx, by) owns C[by*16+ty][bx*16+tx] and accumulates, tile by
 * tile, fmaf(As[ty][k], Bs[k][tx], acc) for k = 0..15 — the values the kernel staged in
 * shared memory, including the zeros of partial tiles — so the sum is bit-exact. The
 * kernel indexes its 16x16 shared tiles with threadIdx, so only a 16x16x1 block is a
 * defined launch; the twin refuses others rather than invent their garbage. */
static int matmul_tiled_twin(const fg_launch *l, void **args)
{
    const float *A = wl_ptr(args, 0);
    const float *B = wl_ptr(args, 1);
    float *C = wl_ptr(args, 2);
    int32_t M = wl_i32(args, 3), N = wl_i32(args, 4), K = wl_i32(args, 5);
    if (l->block.x != TILE || l->block.y != TILE || l->block.z != 1)
        return WL_CUDA_ERROR_INVALID_VALUE;
    int32_t ntiles = (K + TILE - 1) / TILE;
    for (unsigned by = 0; by < l->grid.y; by++)
        for (unsigned bx = 0; bx < l->grid.x; bx++)
            for (int32_t ty = 0; ty < TILE; ty++)
                for (int32_t tx = 0; tx < TILE; tx++) {
                    int64_t row = (int64_t)by * TILE + ty, col = (int64_t)bx * TILE + tx;
                    if (row >= M || col >= N)
                        continue; /* the thread's sum is never stored */
                    float acc = 0.0f;
                    for (int32_t t = 0; t < ntiles; t++)
                        for (int32_t k = 0; k < TILE; k++) {
                            int64_t kk = (int64_t)t * TILE + k;
                            float a = kk < K ? A[row * K + kk] : 0.0f;
                            float b = kk < K ? B[kk * N + col] : 0.0f;
                            acc = fmaf(a, b, acc);
                        }
                    C[row * N + col] = acc;
                }
    /* grid.z > 1 only repeats the same stores. */
    return 0;
}

/* __global__ void bias_act(float *X, const float *b, int M, int N, int relu)
 * Elementwise over a grid-stride loop: any non-empty 1-D grid covers all M*N elements. */
static int bias_act_twin(const fg_launch *l, void **args)
{
    float *X = wl_ptr(args, 0);
    const float *b = wl_ptr(args, 1);
    int32_t M = wl_i32(args, 2), N = wl_i32(args, 3), relu = wl_i32(args, 4);
    int32_t total = M * N; /* int in the kernel too */
    if (wl_grid_threads_x(l) == 0)
        return 0;
    for (int32_t i = 0; i < total; i++) {
        float v = X[i] + b[i % N];
        if (relu)
            v = v > 0.0f ? v : 0.0f;
        X[i] = v;
    }
    return 0;
}

/* __global__ void softmax_rows(const float *X, float *Y, int M, int N)
 * Block b handles rows b, b + gridDim.x, ...; per row: per-thread strided max, max tree,
 * per-thread strided sum of expf, sum tree, then expf(x - max) / sum. The twin keeps the
 * kernel's addition order, so the only difference from a GPU is expf itself (CUDA's
 * expf is within 2 ulp; glibc's is within 1), a few ulp on the probabilities. */
static int softmax_rows_twin(const fg_launch *l, void **args)
{
    const float *X = wl_ptr(args, 0);
    float *Y = wl_ptr(args, 1);
    int32_t M = wl_i32(args, 2), N = wl_i32(args, 3);
    unsigned bd = l->block.x;
    float red[SOFTMAX_SHARED];
    if (bd > SOFTMAX_SHARED)
        return 700; /* CUDA_ERROR_ILLEGAL_ADDRESS: the kernel would index past red[] */
    if (bd == 0 || l->grid.x == 0)
        return 0;
    for (int64_t r = 0; r < M; r++) { /* rows in any order: blocks are independent */
        const float *x = X + r * N;
        for (unsigned t = 0; t < bd; t++) {
            float m = -INFINITY;
            for (int64_t j = t; j < N; j += bd)
                m = x[j] > m ? x[j] : m;
            red[t] = m;
        }
        for (unsigned s = bd / 2; s > 0; s >>= 1)
            for (unsigned t = 0; t < s; t++)
                red[t] = red[t + s] > red[t] ? red[t + s] : red[t];
        float mx = red[0];
        for (unsigned t = 0; t < bd; t++) {
            float sum = 0.0f;
            for (int64_t j = t; j < N; j += bd)
                sum += expf(x[j] - mx);
            red[t] = sum;
        }
        for (unsigned s = bd / 2; s > 0; s >>= 1)
            for (unsigned t = 0; t < s; t++)
                red[t] += red[t + s];
        float total = red[0];
        for (int64_t j = 0; j < N; j++)
            Y[r * N + j] = expf(x[j] - mx) / total;
    }
    return 0;
}

FG_TWIN(matmul_tiled, "_Z12matmul_tiledPKfS0_Pfiii", matmul_tiled_twin, 6, 8, 8, 8, 4, 4, 4)
FG_TWIN(bias_act, "_Z8bias_actPfPKfiii", bias_act_twin, 5, 8, 8, 4, 4, 4)
FG_TWIN(softmax_rows, "_Z12softmax_rowsPKfPfii", softmax_rows_twin, 4, 8, 8, 4, 4)
