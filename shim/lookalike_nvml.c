/* lookalike_nvml.c — the body of build/shim/lookalike/libnvidia-ml.so.1: each NVML function
 * of shim/nvml_api.h as a trampoline to the shim's genie_nvml_<name> (see lookalike_cuda.c). */
#include "shim/nvml_api.h"

#define EXPORT_ __attribute__((visibility("default")))
#define TRAMPOLINE_(kind, name, params, args)                                                  \
    EXPORT_ nvmlReturn_t name params;                                                          \
    EXPORT_ nvmlReturn_t name params { return genie_nvml_##name args; }
GENIE_NVML_API(TRAMPOLINE_)
#undef TRAMPOLINE_

EXPORT_ const char *nvmlErrorString(nvmlReturn_t result);
EXPORT_ const char *nvmlErrorString(nvmlReturn_t result)
{
    return genie_nvml_nvmlErrorString(result);
}
