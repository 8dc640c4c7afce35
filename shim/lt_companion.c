/* lt_companion.c — a cuBLAS handle used as a cuBLASLt handle.
 *
 * Stock PyTorch (CublasHandlePool.cpp, getCurrentCUDABlasLtHandle) passes its cublasHandle_t,
 * reinterpret_cast, wherever cuBLASLt wants a cublasLtHandle_t; real cuBLAS accepts that.
 * Genie's cuBLAS and cuBLASLt handles are distinct client objects with distinct remote IDs, so
 * the first Lt call on a cuBLAS handle creates a companion Lt handle (cublasLtCreate: one
 * LT_CREATE record, no round trip) and later calls reuse it. The companion lives as long as
 * the process (PyTorch keeps its handles that long too). */
#include "shim/shim_int.h"

#include <cublasLt.h>

enum { LT_COMPANIONS = 256 };
static struct {
    const void *blas;
    cublasLtHandle_t lt;
} companions[LT_COMPANIONS];
static int ncompanions;

/* Lock held (cublasLtCreate takes it again: a nested hold only counts). NULL when no
 * companion can be made. */
void *shim_lt_companion(const void *blas)
{
    for (int i = 0; i < ncompanions; i++)
        if (companions[i].blas == blas)
            return companions[i].lt;
    if (ncompanions == LT_COMPANIONS) {
        GENIE_ERROR("more than %d cuBLAS handles used as cuBLASLt handles", LT_COMPANIONS);
        return NULL;
    }
    cublasLtHandle_t lt;
    if (cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS)
        return NULL;
    companions[ncompanions].blas = blas;
    companions[ncompanions].lt = lt;
    ncompanions++;
    return lt;
}

/* cudaDeviceReset: the companions' Lt handles are forgotten with every other (cublaslt.c). */
void shim_lt_companions_forget(void)
{
    ncompanions = 0;
}
