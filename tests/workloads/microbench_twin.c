/* microbench_twin.c — CPU twin of bench/micro's empty kernel (does nothing, as the kernel). */
#include "tests/fakegpu/fakegpu_twin.h"

static int empty_kernel(const fg_launch *l, void **args)
{
    (void)l, (void)args;
    return 0;
}

/* __global__ void empty_kernel(int, float, const float *, float *) */
FG_TWIN(empty_kernel, "_Z12empty_kernelifPKfPf", empty_kernel, 4, 4, 4, 8, 8)
