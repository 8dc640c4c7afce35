/* fakegpu_work.h — stream work for the fake GPU's companions (the fake cuBLAS): queue a unit of
 * device work on a fake stream, with what the device-time model needs to time it.
 *
 * The fake GPU is asynchronous like a GPU: each stream is an ordered queue that workers run
 * after the enqueuing call has returned (tests/fakegpu/fg_sched.c, docs/fakegpu.md). A library
 * that computes "on the device" (cuBLAS GEMMs) submits its work here so that it runs in stream
 * order with the kernels and copies around it. */
#ifndef GENIE_FAKEGPU_WORK_H
#define GENIE_FAKEGPU_WORK_H

#include <stddef.h>

/* What the device-time model needs to know about a unit of work (fg_model.c). */
enum fg_cost_kind {
    FG_COST_NONE = 0, /* no device time (markers, waits) */
    FG_COST_KERNEL,   /* a kernel: launch latency, plus a roofline when flops/bytes are known */
    FG_COST_GEMM,     /* a GEMM or Lt matmul: 2*M*N*K*batch flops at the dtype's peak */
    FG_COST_H2D,      /* bytes over the host link */
    FG_COST_D2H,
    FG_COST_D2D, /* bytes read and written in device memory */
    FG_COST_MEMSET,
};

/* Math precision of a GEMM: which peak FLOP/s applies. */
enum fg_dtype {
    FG_DT_F32 = 0, /* plain FP32 (CUDA cores) */
    FG_DT_TF32,    /* FP32 through tensor cores (CUBLAS_TF32_TENSOR_OP_MATH, COMPUTE_32F_FAST_TF32) */
    FG_DT_F16,     /* FP16 or BF16 inputs on tensor cores */
    FG_DT_F64,
    FG_DT_I8,
    FG_DT_F8,
    FG_DT_COUNT
};

typedef struct fg_cost {
    enum fg_cost_kind kind;
    enum fg_dtype dtype; /* GEMM */
    double flops;        /* GEMM: 2*M*N*K*batch; kernel: 0 when unknown */
    double bytes;        /* copies, memsets; kernel/GEMM: bytes moved, 0 when unknown */
    const char *name;    /* kernel: its (mangled) name, for the table of PyTorch's kernels */
    unsigned long long blocks; /* kernel: blocks in the grid */
} fg_cost;

#define FG_WORK_API __attribute__((visibility("default")))

/* Queues fn(arg) on stream (a CUstream of the fake GPU; NULL is the legacy stream), after the
 * work already queued there and under the legacy NULL-stream rules. fn runs later on a worker
 * thread and returns 0 or a CUresult, which is reported at the next synchronising call, as a
 * GPU reports a kernel's fault. release(arg) runs once fn has run (or was skipped); it may be
 * NULL. cost may be NULL (no device time). Returns 0 or a CUresult (invalid stream, sticky
 * context error, no memory): then fn never runs but release(arg) has. */
FG_WORK_API int fg_work_submit(void *stream, int (*fn)(void *arg), void *arg,
                               void (*release)(void *arg), const fg_cost *cost);
/* Waits until the work queued on stream so far has finished, for a routine that then
 * computes on the calling thread (results the host reads at once). 0 or a CUresult. */
FG_WORK_API int fg_work_drain(void *stream);
/* 1 when work is to be computed; 0 in the model's timing-only mode (GENIE_FAKE_GPU_MODEL set
 * without GENIE_FAKE_GPU_COMPUTE=1): the work only takes its modeled time. */
FG_WORK_API int fg_work_compute(void);
/* The modeled duration of c in ns under the current GENIE_FAKE_GPU_MODEL (0 without one). */
FG_WORK_API unsigned long long fg_work_model_ns(const fg_cost *c);
/* Waits for all work on every stream, as cuCtxSynchronize does, without needing a current
 * context; returns and clears a pending asynchronous error. For tests of the companions. */
FG_WORK_API int fg_work_sync_all(void);
/* Counts one API call of the calling thread (every exported cu*, cublas* and cublasLt* entry
 * point calls it first); genie_fake_api_calls() returns the calling thread's count. The
 * executor reads it, when its driver exports it, to report device-API calls per batch. */
FG_WORK_API void fg_work_count_call(void);
FG_WORK_API unsigned long long genie_fake_api_calls(void);

#endif
