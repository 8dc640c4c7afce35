/* cublaslt.c — cuBLASLt on the client (PLACEHOLDER: being written; calls are denied). */
#include "shim/shim_blas.h"

cublasStatus_t shim_impl_cublasLtCreate(cublasLtHandle_t* lightHandle)
{
    (void)lightHandle;
    return shim_deny_blas(GENIE_APIX_cublasLtCreate);
}

cublasStatus_t shim_impl_cublasLtDestroy(cublasLtHandle_t lightHandle)
{
    (void)lightHandle;
    return shim_deny_blas(GENIE_APIX_cublasLtDestroy);
}

const char* shim_impl_cublasLtGetStatusName(cublasStatus_t status)
{
    (void)status;
    return "CUBLAS_STATUS_NOT_SUPPORTED";
}

const char* shim_impl_cublasLtGetStatusString(cublasStatus_t status)
{
    (void)status;
    return "CUBLAS_STATUS_NOT_SUPPORTED";
}

size_t shim_impl_cublasLtGetVersion(void)
{
    return 0;
}

size_t shim_impl_cublasLtGetCudartVersion(void)
{
    return 0;
}

cublasStatus_t shim_impl_cublasLtGetProperty(libraryPropertyType type, int* value)
{
    (void)type;
    (void)value;
    return shim_deny_blas(GENIE_APIX_cublasLtGetProperty);
}

cublasStatus_t shim_impl_cublasLtMatmul(cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t computeDesc, const void* alpha, const void* A, cublasLtMatrixLayout_t Adesc, const void* B, cublasLtMatrixLayout_t Bdesc, const void* beta, const void* C, cublasLtMatrixLayout_t Cdesc, void* D, cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t* algo, void* workspace, size_t workspaceSizeInBytes, cudaStream_t stream)
{
    (void)lightHandle;
    (void)computeDesc;
    (void)alpha;
    (void)A;
    (void)Adesc;
    (void)B;
    (void)Bdesc;
    (void)beta;
    (void)C;
    (void)Cdesc;
    (void)D;
    (void)Ddesc;
    (void)algo;
    (void)workspace;
    (void)workspaceSizeInBytes;
    (void)stream;
    return shim_deny_blas(GENIE_APIX_cublasLtMatmul);
}

cublasStatus_t shim_impl_cublasLtMatrixLayoutInit_internal(cublasLtMatrixLayout_t matLayout, size_t size, cudaDataType type, uint64_t rows, uint64_t cols, int64_t ld)
{
    (void)matLayout;
    (void)size;
    (void)type;
    (void)rows;
    (void)cols;
    (void)ld;
    return shim_deny_blas(GENIE_APIX_cublasLtMatrixLayoutInit_internal);
}

cublasStatus_t shim_impl_cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* matLayout, cudaDataType type, uint64_t rows, uint64_t cols, int64_t ld)
{
    (void)matLayout;
    (void)type;
    (void)rows;
    (void)cols;
    (void)ld;
    return shim_deny_blas(GENIE_APIX_cublasLtMatrixLayoutCreate);
}

cublasStatus_t shim_impl_cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t matLayout)
{
    (void)matLayout;
    return shim_deny_blas(GENIE_APIX_cublasLtMatrixLayoutDestroy);
}

cublasStatus_t shim_impl_cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t matLayout, cublasLtMatrixLayoutAttribute_t attr, const void* buf, size_t sizeInBytes)
{
    (void)matLayout;
    (void)attr;
    (void)buf;
    (void)sizeInBytes;
    return shim_deny_blas(GENIE_APIX_cublasLtMatrixLayoutSetAttribute);
}

cublasStatus_t shim_impl_cublasLtMatrixLayoutGetAttribute(cublasLtMatrixLayout_t matLayout, cublasLtMatrixLayoutAttribute_t attr, void* buf, size_t sizeInBytes, size_t* sizeWritten)
{
    (void)matLayout;
    (void)attr;
    (void)buf;
    (void)sizeInBytes;
    (void)sizeWritten;
    return shim_deny_blas(GENIE_APIX_cublasLtMatrixLayoutGetAttribute);
}

cublasStatus_t shim_impl_cublasLtMatmulDescInit_internal(cublasLtMatmulDesc_t matmulDesc, size_t size, cublasComputeType_t computeType, cudaDataType_t scaleType)
{
    (void)matmulDesc;
    (void)size;
    (void)computeType;
    (void)scaleType;
    return shim_deny_blas(GENIE_APIX_cublasLtMatmulDescInit_internal);
}

cublasStatus_t shim_impl_cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* matmulDesc, cublasComputeType_t computeType, cudaDataType_t scaleType)
{
    (void)matmulDesc;
    (void)computeType;
    (void)scaleType;
    return shim_deny_blas(GENIE_APIX_cublasLtMatmulDescCreate);
}

cublasStatus_t shim_impl_cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t matmulDesc)
{
    (void)matmulDesc;
    return shim_deny_blas(GENIE_APIX_cublasLtMatmulDescDestroy);
}

cublasStatus_t shim_impl_cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t matmulDesc, cublasLtMatmulDescAttributes_t attr, const void* buf, size_t sizeInBytes)
{
    (void)matmulDesc;
    (void)attr;
    (void)buf;
    (void)sizeInBytes;
    return shim_deny_blas(GENIE_APIX_cublasLtMatmulDescSetAttribute);
}

cublasStatus_t shim_impl_cublasLtMatmulDescGetAttribute(cublasLtMatmulDesc_t matmulDesc, cublasLtMatmulDescAttributes_t attr, void* buf, size_t sizeInBytes, size_t* sizeWritten)
{
    (void)matmulDesc;
    (void)attr;
    (void)buf;
    (void)sizeInBytes;
    (void)sizeWritten;
    return shim_deny_blas(GENIE_APIX_cublasLtMatmulDescGetAttribute);
}

cublasStatus_t shim_impl_cublasLtMatmulPreferenceInit_internal(cublasLtMatmulPreference_t pref, size_t size)
{
    (void)pref;
    (void)size;
    return shim_deny_blas(GENIE_APIX_cublasLtMatmulPreferenceInit_internal);
}

cublasStatus_t shim_impl_cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* pref)
{
    (void)pref;
    return shim_deny_blas(GENIE_APIX_cublasLtMatmulPreferenceCreate);
}

cublasStatus_t shim_impl_cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref)
{
    (void)pref;
    return shim_deny_blas(GENIE_APIX_cublasLtMatmulPreferenceDestroy);
}

cublasStatus_t shim_impl_cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr, const void* buf, size_t sizeInBytes)
{
    (void)pref;
    (void)attr;
    (void)buf;
    (void)sizeInBytes;
    return shim_deny_blas(GENIE_APIX_cublasLtMatmulPreferenceSetAttribute);
}

cublasStatus_t shim_impl_cublasLtMatmulPreferenceGetAttribute(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr, void* buf, size_t sizeInBytes, size_t* sizeWritten)
{
    (void)pref;
    (void)attr;
    (void)buf;
    (void)sizeInBytes;
    (void)sizeWritten;
    return shim_deny_blas(GENIE_APIX_cublasLtMatmulPreferenceGetAttribute);
}

cublasStatus_t shim_impl_cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t operationDesc, cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc, cublasLtMatmulPreference_t preference, int requestedAlgoCount, cublasLtMatmulHeuristicResult_t heuristicResultsArray[], int* returnAlgoCount)
{
    (void)lightHandle;
    (void)operationDesc;
    (void)Adesc;
    (void)Bdesc;
    (void)Cdesc;
    (void)Ddesc;
    (void)preference;
    (void)requestedAlgoCount;
    (void)heuristicResultsArray;
    (void)returnAlgoCount;
    return shim_deny_blas(GENIE_APIX_cublasLtMatmulAlgoGetHeuristic);
}
