/* fault_twin.c — CPU twin of fault.cu's poke kernel: writes p[tid] = v for every thread. */
#include "tests/fakegpu/fakegpu_twin.h"

#include <string.h>

static int poke(const fg_launch *l, void **args)
{
    int *p, v;
    memcpy(&p, args[0], sizeof p);
    memcpy(&v, args[1], sizeof v);
    unsigned n = l->grid.x * l->block.x;
    for (unsigned i = 0; i < n; i++)
        ((volatile int *)p)[i % l->block.x] = v; /* faults on unmapped memory, as the GPU */
    return 0;
}

/* __global__ void poke(int *p, int v) */
FG_TWIN(poke, "_Z4pokePii", poke, 2, 8, 4)
