/* minicnn_twin.c — CPU twins of minicnn.cu's kernels: im2col, per-channel bias(+residual)(+ReLU), max pool, global average pool. */
#include <math.h>

#include "tests/workloads/wl_twin.h"

/* All four kernels are grid-stride loops over their outputs: any non-empty 1-D grid
 * covers everything, and each output element is computed by one thread from inputs no
 * other thread writes, so the twins are plain loops and bit-exact. */

/* __global__ void im2col(const float *x, float *col, int C, int B, int H, int W, int k,
 *                        int stride, int pad, int OH, int OW)
 * x is [C][B][H][W]; col is [C*k*k][B*OH*OW], zero where the window leaves the image. */
static int im2col_twin(const fg_launch *l, void **args)
{
    const float *x = wl_ptr(args, 0);
    float *col = wl_ptr(args, 1);
    int32_t C = wl_i32(args, 2), B = wl_i32(args, 3), H = wl_i32(args, 4), W = wl_i32(args, 5);
    int32_t k = wl_i32(args, 6), stride = wl_i32(args, 7), pad = wl_i32(args, 8);
    int32_t OH = wl_i32(args, 9), OW = wl_i32(args, 10);
    if (wl_grid_threads_x(l) == 0 || C <= 0 || B <= 0 || k <= 0 || OH <= 0 || OW <= 0)
        return 0;
    float *out = col; /* row (c, ky, kx), then column (b, oy, ox): col's memory order */
    for (int64_t c = 0; c < C; c++)
        for (int64_t ky = 0; ky < k; ky++)
            for (int64_t kx = 0; kx < k; kx++)
                for (int64_t b = 0; b < B; b++)
                    for (int64_t oy = 0; oy < OH; oy++)
                        for (int64_t ox = 0; ox < OW; ox++) {
                            int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                            *out++ = (iy >= 0 && iy < H && ix >= 0 && ix < W)
                                         ? x[((c * B + b) * H + iy) * W + ix]
                                         : 0.0f;
                        }
    return 0;
}

/* __global__ void bias_act_ch(float *y, const float *bias, const float *res, int C, int S,
 *                             int relu)
 * y[c][s] = y + bias[c], + res[c][s] when res is not NULL, ReLU by comparison. */
static int bias_act_ch_twin(const fg_launch *l, void **args)
{
    float *y = wl_ptr(args, 0);
    const float *bias = wl_ptr(args, 1), *res = wl_ptr(args, 2);
    int32_t C = wl_i32(args, 3), S = wl_i32(args, 4), relu = wl_i32(args, 5);
    if (wl_grid_threads_x(l) == 0 || C <= 0 || S <= 0)
        return 0;
    for (int64_t i = 0; i < (int64_t)C * S; i++) {
        float v = y[i] + bias[i / S];
        if (res)
            v = v + res[i];
        if (relu)
            v = v > 0.0f ? v : 0.0f;
        y[i] = v;
    }
    return 0;
}

/* __global__ void maxpool2d(const float *x, float *y, int C, int B, int H, int W, int k,
 *                           int stride, int pad, int OH, int OW)
 * Max over the in-image part of each window, scanned row by row; -inf if none is inside. */
static int maxpool2d_twin(const fg_launch *l, void **args)
{
    const float *x = wl_ptr(args, 0);
    float *y = wl_ptr(args, 1);
    int32_t C = wl_i32(args, 2), B = wl_i32(args, 3), H = wl_i32(args, 4), W = wl_i32(args, 5);
    int32_t k = wl_i32(args, 6), stride = wl_i32(args, 7), pad = wl_i32(args, 8);
    int32_t OH = wl_i32(args, 9), OW = wl_i32(args, 10);
    if (wl_grid_threads_x(l) == 0 || C <= 0 || B <= 0 || OH <= 0 || OW <= 0)
        return 0;
    for (int64_t cb = 0; cb < (int64_t)C * B; cb++)
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++) {
                float m = -INFINITY;
                for (int64_t ky = 0; ky < k; ky++)
                    for (int64_t kx = 0; kx < k; kx++) {
                        int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                        if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
                            float v = x[(cb * H + iy) * W + ix];
                            m = v > m ? v : m;
                        }
                    }
                y[(cb * OH + oy) * OW + ox] = m;
            }
    return 0;
}

/* __global__ void global_avgpool(const float *x, float *y, int C, int B, int HW)
 * y[b][c] = (sum over j in order of x[c][b][j]) / HW, float throughout. */
static int global_avgpool_twin(const fg_launch *l, void **args)
{
    const float *x = wl_ptr(args, 0);
    float *y = wl_ptr(args, 1);
    int32_t C = wl_i32(args, 2), B = wl_i32(args, 3), HW = wl_i32(args, 4);
    if (wl_grid_threads_x(l) == 0 || C <= 0 || B <= 0)
        return 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++) {
            const float *p = x + (c * B + b) * HW;
            float s = 0.0f;
            for (int64_t j = 0; j < HW; j++)
                s += p[j];
            y[b * C + c] = s / (float)HW;
        }
    return 0;
}

FG_TWIN(im2col, "_Z6im2colPKfPfiiiiiiiii", im2col_twin, 11, 8, 8, 4, 4, 4, 4, 4, 4, 4, 4, 4)
FG_TWIN(bias_act_ch, "_Z11bias_act_chPfPKfS1_iii", bias_act_ch_twin, 6, 8, 8, 8, 4, 4, 4)
FG_TWIN(maxpool2d, "_Z9maxpool2dPKfPfiiiiiiiii", maxpool2d_twin, 11, 8, 8, 4, 4, 4, 4, 4, 4, 4, 4,
        4)
FG_TWIN(global_avgpool, "_Z14global_avgpoolPKfPfiii", global_avgpool_twin, 5, 8, 8, 4, 4, 4)
