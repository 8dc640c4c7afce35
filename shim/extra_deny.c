/* extra_deny.c — exports declared in headers the generated code lacks. */
#include "shim/shim_int.h"

#include <stdatomic.h>

/* cudaProfilerStart/Stop (cudart.def RAW rows, imported by stock PyTorch): defined here, under
 * their own header, so the compiler checks the prototypes against CUDA's. Genie has no
 * profiler hook on the remote: both are accepted (cudaSuccess, as the runtime answers when no
 * profiler is attached) so that tutorials and scripts that bracket a region with them run on;
 * the first call says once, at info level, that nothing is profiled remotely. */
#include <cuda_profiler_api.h>

static atomic_int profiler_noted;

static void profiler_note(const char *name)
{
    if (!atomic_exchange(&profiler_noted, 1))
        GENIE_INFO("%s: accepted; the remote GPU is not profiled", name);
}

GENIE_EXPORT cudaError_t cudaProfilerStart(void)
{
    profiler_note("cudaProfilerStart");
    return cudaSuccess;
}

GENIE_EXPORT cudaError_t cudaProfilerStop(void)
{
    profiler_note("cudaProfilerStop");
    return cudaSuccess;
}
