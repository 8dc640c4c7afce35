/* graphs_twin.c — CPU twins of graphs.cu's elementwise float kernels. */
#include "tests/workloads/wl_twin.h"

/* Grid-stride loops over independent elements: any non-empty 1-D grid covers each i < n
 * once, so a walk over i is the whole grid's work; float arithmetic in the kernel's order. */

/* __global__ void gscale(float *y, const float *x, float a, int n): y = a * x */
static int gscale_twin(const fg_launch *l, void **args)
{
    float *y = wl_ptr(args, 0);
    const float *x = wl_ptr(args, 1);
    float a = wl_f32(args, 2);
    int32_t n = wl_i32(args, 3);
    if (wl_grid_threads_x(l) == 0)
        return 0;
    for (int32_t i = 0; i < n; i++)
        y[i] = a * x[i];
    return 0;
}

/* __global__ void gadd(float *y, const float *x, int n): y += x */
static int gadd_twin(const fg_launch *l, void **args)
{
    float *y = wl_ptr(args, 0);
    const float *x = wl_ptr(args, 1);
    int32_t n = wl_i32(args, 2);
    if (wl_grid_threads_x(l) == 0)
        return 0;
    for (int32_t i = 0; i < n; i++)
        y[i] += x[i];
    return 0;
}

FG_TWIN(gscale, "_Z6gscalePfPKffi", gscale_twin, 4, 8, 8, 4, 4)
FG_TWIN(gadd, "_Z4gaddPfPKfi", gadd_twin, 3, 8, 8, 4)
