/* streams_twin.c — CPU twins of streams.cu's elementwise int kernels. */
#include "tests/workloads/wl_twin.h"

/* Both kernels are grid-stride loops over independent elements: any non-empty 1-D grid
 * covers every i < n exactly once, so a walk over i is the whole grid's work. Arithmetic
 * is done in uint32_t: the GPU wraps on overflow, and C's signed overflow would be UB. */

/* __global__ void add_const(int *p, int c, int n) */
static int add_const_twin(const fg_launch *l, void **args)
{
    int32_t *p = wl_ptr(args, 0);
    int32_t c = wl_i32(args, 1), n = wl_i32(args, 2);
    if (wl_grid_threads_x(l) == 0)
        return 0;
    for (int32_t i = 0; i < n; i++)
        p[i] = (int32_t)((uint32_t)p[i] + (uint32_t)c);
    return 0;
}

/* __global__ void axpy_int(int *y, const int *x, int a, int n) */
static int axpy_int_twin(const fg_launch *l, void **args)
{
    int32_t *y = wl_ptr(args, 0);
    const int32_t *x = wl_ptr(args, 1);
    int32_t a = wl_i32(args, 2), n = wl_i32(args, 3);
    if (wl_grid_threads_x(l) == 0)
        return 0;
    for (int32_t i = 0; i < n; i++)
        y[i] = (int32_t)((uint32_t)y[i] + (uint32_t)a * (uint32_t)x[i]);
    return 0;
}

FG_TWIN(add_const, "_Z9add_constPiii", add_const_twin, 3, 8, 4, 4)
FG_TWIN(axpy_int, "_Z8axpy_intPiPKiii", axpy_int_twin, 4, 8, 8, 4, 4)
