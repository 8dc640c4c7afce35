/* extra_deny.c — default deny for exports declared in headers the generated code lacks. */
#include "shim/shim_int.h"

/* cudaProfilerStart/Stop (cudart.def RAW rows, imported by stock PyTorch): defined here, under
 * their own header, so the compiler checks the prototypes against CUDA's. Genie has no
 * profiler hook on the remote, so they deny like every other unsupported call: a silent
 * success would tell a profiling script it measured something. */
#include <cuda_profiler_api.h>

GENIE_EXPORT cudaError_t cudaProfilerStart(void)
{
    return shim_deny_cudart(GENIE_APIX_cudaProfilerStart);
}

GENIE_EXPORT cudaError_t cudaProfilerStop(void)
{
    return shim_deny_cudart(GENIE_APIX_cudaProfilerStop);
}
