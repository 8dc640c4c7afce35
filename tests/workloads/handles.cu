// handles.cu — handles and sizes a program gets wrong; exits 0 only when every case matches.
//
// Genie validates a stream, event or cuBLAS handle by looking it up among the live ones,
// never by reading through it, and rejects an allocation no device range can hold:
//   malloc_size_max          cudaMalloc(SIZE_MAX) -> cudaErrorMemoryAllocation
//   malloc_after_huge        two 4 MiB allocations afterwards are distinct from each other
//                              and from anything the huge call handed out
//   stream_sync_destroyed    cudaStreamSynchronize on a destroyed stream
//                              -> cudaErrorInvalidResourceHandle
//   stream_destroy_twice     cudaStreamDestroy again -> cudaErrorInvalidResourceHandle
//   stream_sync_garbage      cudaStreamSynchronize((cudaStream_t)0x10)
//                              -> cudaErrorInvalidResourceHandle (no crash)
//   stream_is_event          an event handle passed as a stream -> cudaErrorInvalidResourceHandle
//   event_record_destroyed   cudaEventRecord of a destroyed event -> cudaErrorInvalidResourceHandle
//   event_destroy_twice      cudaEventDestroy again -> cudaErrorInvalidResourceHandle
//   event_query_garbage      cudaEventQuery((cudaEvent_t)0x20) -> cudaErrorInvalidResourceHandle
//   blas_set_stream_destroyed  cublasSetStream on a destroyed handle -> CUBLAS_STATUS_NOT_INITIALIZED
//   blas_destroy_twice       cublasDestroy again -> CUBLAS_STATUS_NOT_INITIALIZED
//   device_sync_after        cudaDeviceSynchronize() -> cudaSuccess (nothing above is sticky)
// Each case prints "case <name>: <result>"; a mismatch adds an "expected" line.
#include <cstdint>
#include <cublas_v2.h>

#include "wl_common.h"

static int mismatches;

static void expect(const char *name, cudaError_t got, cudaError_t want)
{
    std::printf("case %s: %s\n", name, cudaGetErrorName(got));
    if (got != want) {
        std::printf("  expected %s\n", cudaGetErrorName(want));
        mismatches++;
    }
    (void)cudaGetLastError(); // each case starts clean
}

static void expect_blas(const char *name, cublasStatus_t got, cublasStatus_t want)
{
    std::printf("case %s: %d\n", name, (int)got);
    if (got != want) {
        std::printf("  expected %d\n", (int)want);
        mismatches++;
    }
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "   runs the handle and size cases (see the top of handles.cu)");

    // (a) sizes that cannot be allocated.
    void *huge = nullptr;
    expect("malloc_size_max", cudaMalloc(&huge, SIZE_MAX), cudaErrorMemoryAllocation);
    void *a = nullptr, *b = nullptr;
    CK(cudaMalloc(&a, 4 << 20));
    CK(cudaMalloc(&b, 4 << 20));
    int distinct = a != b && a != huge && b != huge;
    std::printf("case malloc_after_huge: %s\n", distinct ? "distinct" : "overlapping");
    if (!distinct) {
        std::printf("  expected distinct (huge %p, a %p, b %p)\n", huge, a, b);
        mismatches++;
    }

    // (b) streams.
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    CK(cudaStreamDestroy(s));
    expect("stream_sync_destroyed", cudaStreamSynchronize(s), cudaErrorInvalidResourceHandle);
    expect("stream_destroy_twice", cudaStreamDestroy(s), cudaErrorInvalidResourceHandle);
    expect("stream_sync_garbage", cudaStreamSynchronize((cudaStream_t)(uintptr_t)0x10),
           cudaErrorInvalidResourceHandle);

    // (c) events.
    cudaEvent_t ev, ev2;
    CK(cudaEventCreate(&ev2));
    expect("stream_is_event", cudaStreamSynchronize((cudaStream_t)ev2),
           cudaErrorInvalidResourceHandle);
    CK(cudaEventCreate(&ev));
    CK(cudaEventDestroy(ev));
    expect("event_record_destroyed", cudaEventRecord(ev, 0), cudaErrorInvalidResourceHandle);
    expect("event_destroy_twice", cudaEventDestroy(ev), cudaErrorInvalidResourceHandle);
    expect("event_query_garbage", cudaEventQuery((cudaEvent_t)(uintptr_t)0x20),
           cudaErrorInvalidResourceHandle);
    CK(cudaEventDestroy(ev2));

    // (d) cuBLAS handles.
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        std::fprintf(stderr, "cublasCreate failed\n");
        return 2;
    }
    if (cublasDestroy(h) != CUBLAS_STATUS_SUCCESS) {
        std::fprintf(stderr, "cublasDestroy failed\n");
        return 2;
    }
    expect_blas("blas_set_stream_destroyed", cublasSetStream(h, 0), CUBLAS_STATUS_NOT_INITIALIZED);
    expect_blas("blas_destroy_twice", cublasDestroy(h), CUBLAS_STATUS_NOT_INITIALIZED);

    expect("device_sync_after", cudaDeviceSynchronize(), cudaSuccess);
    CK(cudaFree(a));
    CK(cudaFree(b));

    if (mismatches) {
        std::printf("RESULT FAIL %d case(s) did not match\n", mismatches);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
