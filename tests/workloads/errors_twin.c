/* errors_twin.c — CPU twin of errors.cu's fill_iota kernel. */
#include "tests/workloads/wl_twin.h"

/* __global__ void fill_iota(int *p, int base, int n)
 * A grid-stride store of base + i: any non-empty 1-D grid writes every i < n once.
 * (errors.cu's <<<1, 2048>>> launch must never reach a twin: Genie rejects it first.) */
static int fill_iota_twin(const fg_launch *l, void **args)
{
    int32_t *p = wl_ptr(args, 0);
    int32_t base = wl_i32(args, 1), n = wl_i32(args, 2);
    if (wl_grid_threads_x(l) == 0)
        return 0;
    for (int32_t i = 0; i < n; i++)
        p[i] = (int32_t)((uint32_t)base + (uint32_t)i); /* wraps like the GPU */
    return 0;
}

FG_TWIN(fill_iota, "_Z9fill_iotaPiii", fill_iota_twin, 3, 8, 4, 4)
