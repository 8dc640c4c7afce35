/* drvlaunch_twin.c — CPU twin of drvlaunch_kernel.cu's kernel, registered with the fake GPU. */
#include <math.h>

#include "tests/workloads/wl_twin.h"

/* extern "C" __global__ void drv_axpb(float *y, const float *x, float a, float b, int n)
 * The grid-stride loop covers every i < n once for any non-empty 1-D grid. */
static int drv_axpb_twin(const fg_launch *l, void **args)
{
    float *y = wl_ptr(args, 0);
    const float *x = wl_ptr(args, 1);
    float a = wl_f32(args, 2), b = wl_f32(args, 3);
    int32_t n = wl_i32(args, 4);
    if (wl_grid_threads_x(l) == 0)
        return 0;
    for (int32_t i = 0; i < n; i++)
        y[i] = fmaf(a, x[i], b);
    return 0;
}

FG_TWIN(drv_axpb, "drv_axpb", drv_axpb_twin, 5, 8, 8, 4, 4, 4)
