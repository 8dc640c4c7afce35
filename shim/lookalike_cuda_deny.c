/* lookalike_cuda_deny.c — the rest of build/shim/lookalike/libcuda.so.1: each driver function Genie does not serve (shim/driver_unsupported.def) as a refusal by name.
 *
 * Libraries that carry their own CUDA runtime (cuFFT, cuSPARSE, cuRAND, NCCL: the static cudart)
 * look the driver's functions up one by one with dlsym and give up in silence at the first one
 * missing (cuFFT then reports CUFFT_INTERNAL_ERROR). With every name present they get as far as
 * calling one, and each call is logged once, at the default level, with the caller's frames
 * (genie_drv_unsupported in shim/cuda_driver_api.c). No cuda.h here: each stub is declared
 * without parameters, which is ABI-safe for a function that only returns a CUresult. */
int genie_drv_unsupported(const char *name);

#define GENIE_DRV_UNSUPPORTED(name)                                                            \
    __attribute__((visibility("default"))) int name(void);                                     \
    int name(void) { return genie_drv_unsupported(#name); }
#include "shim/driver_unsupported.def"
#undef GENIE_DRV_UNSUPPORTED
