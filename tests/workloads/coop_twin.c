/* coop_twin.c — CPU twin of coop.cu's kernel, registered with the fake GPU. */
#include "tests/workloads/wl_twin.h"

/* __global__ void coop_partial(const int *x, long long *partial, int n)
 * Block b's threads take i = b*blockDim + t, then i += gridDim*blockDim; each adds x[i] into
 * partial[b] (integers: the GPU's atomics in any order give the same sum). */
static int coop_partial_twin(const fg_launch *l, void **args)
{
    const int32_t *x = wl_ptr(args, 0);
    int64_t *partial = wl_ptr(args, 1);
    int32_t n = wl_i32(args, 2);
    uint64_t stride = wl_grid_threads_x(l);
    if (stride == 0)
        return 0;
    for (int64_t i = 0; i < n; i++)
        partial[(uint64_t)i % stride / l->block.x] += x[i];
    return 0;
}

FG_TWIN(coop_partial, "_Z12coop_partialPKiPxi", coop_partial_twin, 3, 8, 8, 4)
