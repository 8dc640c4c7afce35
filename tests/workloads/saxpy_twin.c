/* saxpy_twin.c — CPU twin of saxpy.cu's kernel, registered with the fake GPU. */
#include <math.h>

#include "tests/workloads/wl_twin.h"

/* __global__ void saxpy(int n, float a, const float *x, float *y)
 * Covers what the kernel's grid-stride loop covers for any 1-D grid; fmaf matches the
 * kernel's explicit fmaf bit for bit. */
static int saxpy_twin(const fg_launch *l, void **args)
{
    int32_t n = wl_i32(args, 0);
    float a = wl_f32(args, 1);
    const float *x = wl_ptr(args, 2);
    float *y = wl_ptr(args, 3);
    /* Thread t handles i = t, t + threads, ...: every i < n is handled by exactly one
     * thread as soon as the grid is non-empty, and elements are independent, so a plain
     * walk over i is the whole grid's work, in cache order. */
    if (wl_grid_threads_x(l) == 0)
        return 0;
    for (int32_t i = 0; i < n; i++)
        y[i] = fmaf(a, x[i], y[i]);
    return 0;
}

FG_TWIN(saxpy, "_Z5saxpyifPKfPf", saxpy_twin, 4, 4, 4, 8, 8)
