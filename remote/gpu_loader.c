/* gpu_loader.c — the executor's loader of the real CUDA driver (or the fake GPU): dlopen, entry
 * points, CUresult to cudaError_t. Not to be confused with shim/cuda_driver_api.c, the driver
 * API the client program calls. */
#include "remote/exec_int.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

void *exec_dlopen(const char *path, char *err, size_t errlen)
{
    void *h = dlopen(path, EXEC_DLOPEN_FLAGS);
    if (!h) {
        const char *why = dlerror();
        snprintf(err, errlen, "cannot load %s: %s", path, why ? why : "?");
        return NULL;
    }
    if (dlsym(h, "genie_stats_json")) {
        snprintf(err, errlen,
                 "%s resolves to Genie's own look-alike library; point GENIE_CUDA_LIB, "
                 "GENIE_CUBLAS_LIB and GENIE_CUBLASLT_LIB at the real libraries by path",
                 path);
        return NULL; /* never dlclose: the handle is the shim itself */
    }
    return h;
}

int exec_driver_load(const char *path, exec_driver *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    /* RTLD_LOCAL: the driver's symbols must not satisfy anyone else's references (in local
     * mode the shim exports look-alikes of the same names). The handle is never closed:
     * unloading a real libcuda while its threads may linger is asking for trouble. */
    void *h = exec_dlopen(path, err, errlen);
    if (!h)
        return GENIE_EDRIVER;
#define EXEC_XX_(field, proto, sym, req)                                                           \
    *(void **)&d->field = dlsym(h, sym);                                                           \
    if (!d->field && (req)) {                                                                      \
        snprintf(err, errlen, "the CUDA driver %s lacks %s", path, sym);                           \
        return GENIE_EDRIVER;                                                                      \
    }
    EXEC_DRIVER_MAP(EXEC_XX_)
#undef EXEC_XX_
    *(void **)&d->api_calls = dlsym(h, "genie_fake_api_calls");
    return 0;
}

/* Driver codes whose runtime counterpart has the same value: every CUresult of CUDA 13.0's
 * cuda.h that driver_types.h also defines (checked name by name: e.g. 200 INVALID_IMAGE is
 * cudaErrorInvalidKernelImage, 201 INVALID_CONTEXT is cudaErrorDeviceUninitialized). A code
 * missing here (202, 916, anything newer) is reported as cudaErrorUnknown, not guessed. */
static const int exec_same_code[] = {
    1,   2,   3,   4,   5,   6,   7,   8,   34,  36,  46,  100, 101, 102, 200, 201, 205,
    206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222,
    223, 224, 225, 226, 300, 301, 302, 303, 304, 400, 401, 402, 500, 600, 700, 701, 702,
    703, 704, 705, 708, 709, 710, 711, 712, 713, 714, 715, 716, 717, 718, 719, 720, 721,
    800, 801, 802, 803, 804, 805, 806, 807, 808, 809, 810, 811, 812, 900, 901, 902, 903,
    904, 905, 906, 907, 908, 909, 910, 911, 912, 913, 914, 915, 999,
};

int exec_cuda_err(CUresult r)
{
    if (r == CUDA_SUCCESS)
        return 0;
    for (size_t i = 0; i < sizeof exec_same_code / sizeof exec_same_code[0]; i++)
        if (exec_same_code[i] == (int)r)
            return (int)r;
    return EXEC_cudaErrorUnknown;
}

const char *exec_cu_name(const exec_driver *d, CUresult r, char *buf, size_t n)
{
    const char *name = NULL;
    if (d->GetErrorName && d->GetErrorName(r, &name) == CUDA_SUCCESS && name)
        return name;
    snprintf(buf, n, "CUresult %d", (int)r);
    return buf;
}
