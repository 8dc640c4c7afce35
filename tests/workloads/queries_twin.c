/* queries_twin.c — CPU twin of queries.cu's fill_shared: out[block] = n - 1 per block. */
#include "tests/fakegpu/fakegpu_twin.h"

#include <string.h>

static int fill_shared(const fg_launch *l, void **args)
{
    int *out, n;
    memcpy(&out, args[0], sizeof out);
    memcpy(&n, args[1], sizeof n);
    if (n <= 0 || (size_t)n * sizeof(int) > l->shmem)
        return 700; /* the kernel would run past its dynamic shared memory */
    for (unsigned b = 0; b < l->grid.x; b++)
        out[b] = n - 1;
    return 0;
}

/* __global__ void fill_shared(int *out, int n) */
FG_TWIN(fill_shared, "_Z11fill_sharedPii", fill_shared, 2, 8, 4)
