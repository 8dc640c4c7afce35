/* fb_blas.c — cuBLAS handles, settings (stream, workspace, modes), versions, status text. */
#include "fb_int.h"

#include <cuda.h>

/* ---- status text: one table for cuBLAS and cuBLASLt ---- */

#define FB_STATUS_MAP(X)                                                                           \
    X(SUCCESS, "the operation completed successfully")                                             \
    X(NOT_INITIALIZED, "the library was not initialized")                                          \
    X(ALLOC_FAILED, "the resource allocation failed")                                              \
    X(INVALID_VALUE, "an invalid numeric value was used as an argument")                           \
    X(ARCH_MISMATCH, "an absent device architectural feature is required")                         \
    X(MAPPING_ERROR, "an access to GPU memory space failed")                                       \
    X(EXECUTION_FAILED, "the GPU program failed to execute")                                       \
    X(INTERNAL_ERROR, "an internal operation failed")                                              \
    X(NOT_SUPPORTED, "the functionality requested is not supported")                               \
    X(LICENSE_ERROR, "the functionality requested requires some license")

const char *cublasGetStatusName(cublasStatus_t status)
{
#define X(n, s)                                                                                    \
    case CUBLAS_STATUS_##n:                                                                        \
        return "CUBLAS_STATUS_" #n;
    switch (status) {
        FB_STATUS_MAP(X)
    }
#undef X
    return "<unknown>";
}

const char *cublasGetStatusString(cublasStatus_t status)
{
#define X(n, s)                                                                                    \
    case CUBLAS_STATUS_##n:                                                                        \
        return s;
    switch (status) {
        FB_STATUS_MAP(X)
    }
#undef X
    return "unknown error";
}

const char *cublasLtGetStatusName(cublasStatus_t status)
{
    return cublasGetStatusName(status);
}
const char *cublasLtGetStatusString(cublasStatus_t status)
{
    return cublasGetStatusString(status);
}

/* ---- versions ---- */

cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int *version)
{
    (void)handle; /* cuBLAS answers without looking at the handle; so do we */
    if (!version)
        return CUBLAS_STATUS_INVALID_VALUE;
    *version = CUBLAS_VERSION;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetProperty(libraryPropertyType type, int *value)
{
    if (!value)
        return CUBLAS_STATUS_INVALID_VALUE;
    switch (type) {
    case MAJOR_VERSION:
        *value = CUBLAS_VER_MAJOR;
        return CUBLAS_STATUS_SUCCESS;
    case MINOR_VERSION:
        *value = CUBLAS_VER_MINOR;
        return CUBLAS_STATUS_SUCCESS;
    case PATCH_LEVEL:
        *value = CUBLAS_VER_PATCH;
        return CUBLAS_STATUS_SUCCESS;
    }
    return CUBLAS_STATUS_INVALID_VALUE;
}

size_t cublasGetCudartVersion(void)
{
    return CUDA_VERSION;
}
size_t cublasLtGetVersion(void)
{
    return CUBLAS_VERSION;
}
size_t cublasLtGetCudartVersion(void)
{
    return CUDA_VERSION;
}
cublasStatus_t cublasLtGetProperty(libraryPropertyType type, int *value)
{
    return cublasGetProperty(type, value);
}

/* ---- handles ---- */

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)
{
    return fb_handle_new(FB_BLAS, (void **)handle);
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)
{
    return fb_handle_free(handle, FB_BLAS);
}

cublasStatus_t cublasLtCreate(cublasLtHandle_t *lightHandle)
{
    return fb_handle_new(FB_LT, (void **)lightHandle);
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t lightHandle)
{
    return fb_handle_free(lightHandle, FB_LT);
}

/* ---- settings: each setter is a tiny function run under the registry lock ---- */

/* cublasSetStream also drops a user workspace: real cuBLAS goes back to its default pool. */
static void set_stream(struct fb_state *st, const void *arg)
{
    st->stream = *(const cudaStream_t *)arg;
    st->workspace = NULL;
    st->workspace_size = 0;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)
{
    /* Streams are ignored (the fake GPU is synchronous); any value is kept for GetStream. */
    return fb_handle_update(handle, set_stream, &streamId);
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t *streamId)
{
    struct fb_state st;
    cublasStatus_t s = fb_handle_get(handle, FB_BLAS, &st);
    if (s == CUBLAS_STATUS_SUCCESS && !streamId)
        s = CUBLAS_STATUS_INVALID_VALUE;
    if (s == CUBLAS_STATUS_SUCCESS)
        *streamId = st.stream;
    return s;
}

struct ws_arg {
    void *p;
    size_t n;
};

static void set_workspace(struct fb_state *st, const void *arg)
{
    const struct ws_arg *w = arg;
    st->workspace = w->p;
    st->workspace_size = w->n;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace,
                                     size_t workspaceSizeInBytes)
{
    /* Kept, never used: no GEMM here needs device scratch. */
    struct ws_arg w = {workspace, workspace ? workspaceSizeInBytes : 0};
    return fb_handle_update(handle, set_workspace, &w);
}

static void set_math(struct fb_state *st, const void *arg)
{
    st->math = *(const cublasMath_t *)arg;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    cublasStatus_t s = fb_handle_get(handle, FB_BLAS, NULL);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    /* Kept for GetMathMode; results are computed in full float/double whatever it says. */
    unsigned base = (unsigned)mode & ~(unsigned)CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
    switch (base) {
    case CUBLAS_DEFAULT_MATH:
    case CUBLAS_TENSOR_OP_MATH:
    case CUBLAS_PEDANTIC_MATH:
    case CUBLAS_TF32_TENSOR_OP_MATH:
    case CUBLAS_FP32_EMULATED_BF16X9_MATH:
    case CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH:
        return fb_handle_update(handle, set_math, &mode);
    }
    return CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode)
{
    struct fb_state st;
    cublasStatus_t s = fb_handle_get(handle, FB_BLAS, &st);
    if (s == CUBLAS_STATUS_SUCCESS && !mode)
        s = CUBLAS_STATUS_INVALID_VALUE;
    if (s == CUBLAS_STATUS_SUCCESS)
        *mode = st.math;
    return s;
}

static void set_pointer_mode(struct fb_state *st, const void *arg)
{
    st->pointer_mode = *(const cublasPointerMode_t *)arg;
}

cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t mode)
{
    cublasStatus_t s = fb_handle_get(handle, FB_BLAS, NULL);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE)
        return CUBLAS_STATUS_INVALID_VALUE;
    return fb_handle_update(handle, set_pointer_mode, &mode);
}

cublasStatus_t cublasGetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t *mode)
{
    struct fb_state st;
    cublasStatus_t s = fb_handle_get(handle, FB_BLAS, &st);
    if (s == CUBLAS_STATUS_SUCCESS && !mode)
        s = CUBLAS_STATUS_INVALID_VALUE;
    if (s == CUBLAS_STATUS_SUCCESS)
        *mode = st.pointer_mode;
    return s;
}

static void set_atomics(struct fb_state *st, const void *arg)
{
    st->atomics = *(const cublasAtomicsMode_t *)arg;
}

cublasStatus_t cublasSetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t mode)
{
    cublasStatus_t s = fb_handle_get(handle, FB_BLAS, NULL);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (mode != CUBLAS_ATOMICS_NOT_ALLOWED && mode != CUBLAS_ATOMICS_ALLOWED)
        return CUBLAS_STATUS_INVALID_VALUE;
    return fb_handle_update(handle, set_atomics, &mode);
}

cublasStatus_t cublasGetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t *mode)
{
    struct fb_state st;
    cublasStatus_t s = fb_handle_get(handle, FB_BLAS, &st);
    if (s == CUBLAS_STATUS_SUCCESS && !mode)
        s = CUBLAS_STATUS_INVALID_VALUE;
    if (s == CUBLAS_STATUS_SUCCESS)
        *mode = st.atomics;
    return s;
}
