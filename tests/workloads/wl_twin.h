/* wl_twin.h — parameter readers and grid helpers shared by the workload twins (C11).
 *
 * args[i] points at the bytes of parameter i as cuLaunchKernel received them. The fake
 * GPU's device memory is host memory, so a device pointer parameter is a usable host
 * address. memcpy keeps the reads free of alignment assumptions about args[i]. */
#ifndef GENIE_WL_TWIN_H
#define GENIE_WL_TWIN_H

#include <stdint.h>
#include <string.h>

#include "tests/fakegpu/fakegpu_twin.h"

/* CUresult values a twin may return (no CUDA headers here). */
#define WL_CUDA_ERROR_INVALID_VALUE 1
#define WL_CUDA_ERROR_OUT_OF_MEMORY 2

static inline int32_t wl_i32(void **args, unsigned i)
{
    int32_t v;
    memcpy(&v, args[i], sizeof v);
    return v;
}

static inline float wl_f32(void **args, unsigned i)
{
    float v;
    memcpy(&v, args[i], sizeof v);
    return v;
}

static inline void *wl_ptr(void **args, unsigned i)
{
    uint64_t v; /* CUdeviceptr: 8 bytes on every supported host */
    memcpy(&v, args[i], sizeof v);
    return (void *)(uintptr_t)v;
}

/* Threads in the whole grid along x, as the kernels' grid-stride loops use it. */
static inline uint64_t wl_grid_threads_x(const fg_launch *l)
{
    return (uint64_t)l->grid.x * l->block.x;
}

#endif
