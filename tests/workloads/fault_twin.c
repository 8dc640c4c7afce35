/* fault_twin.c — CPU twin of fault.cu's poke kernel: writes p[tid] = v for every thread. */
#include "tests/fakegpu/fakegpu_twin.h"

#include <stdlib.h>
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

/* Test-only: a host-side crash inside a library call of the executor's process, as a vendor
 * library that segfaults would be (no CUDA program launches a kernel of this name). The fake
 * GPU's guard turns SIGSEGV in a twin into CUDA_ERROR_ILLEGAL_ADDRESS, so it aborts instead,
 * when GENIE_FAKE_ALLOW_CRASH is set (else it does nothing): genie-remote's worker process
 * for that session dies (tests/remote/test_server.c,
 * isolation::host_crash_ends_only_its_session). */
static int host_crash(const fg_launch *l, void **args)
{
    (void)l, (void)args;
    if (getenv("GENIE_FAKE_ALLOW_CRASH")) /* only where a test asks for it: not the fuzzer */
        abort();
    return 0;
}
FG_TWIN(host_crash, "genie_test_host_crash", host_crash, 1, 4)
