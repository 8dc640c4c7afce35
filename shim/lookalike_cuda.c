/* lookalike_cuda.c — the body of build/shim/lookalike/libcuda.so.1: each driver function of
 * shim/driver_api.h as a trampoline to the shim's genie_drv_<name>. The references bind through
 * the global scope, so they reach the one shim of the process: libgenie.so when preloaded,
 * else the look-alike libcudart.so.13 this library needs (RUNPATH $ORIGIN). */
#include "shim/driver_api.h"

#define TRAMPOLINE_(kind, name, params, args)                                                  \
    __attribute__((visibility("default"))) CUresult CUDAAPI name params                        \
    {                                                                                          \
        return genie_drv_##name args;                                                          \
    }
GENIE_DRIVER_API(TRAMPOLINE_)
#undef TRAMPOLINE_
