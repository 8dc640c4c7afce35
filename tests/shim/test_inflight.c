/* test_inflight.c — shim/inflight.c and the flushes that do not wait: the size threshold, sync elision, the pipeline's chunks; errors at the next waiting sync.
 *
 * The shim's objects against the in-process executor on the fake GPU (GENIE_REMOTE=local),
 * where a frame's reply is kept until the shim asks for it, as the transport does. Each test
 * has a twin with the feature off that must behave the old way, so the counters asserted
 * here are known to move. The wire-level twin (genie-remote over a socket) is
 * e2e_saxpy_threshold_nowait_* (tests/e2e). */
#include <cublas_v2.h>
#include <stdio.h>
#include <string.h>

#include "tests/shim/shim_harness.h"

static void env_small_batches(void)
{
    shim_test_env();
    setenv("GENIE_BATCH_BYTES", "4096", 1); /* a flush every ~100 memsets */
}
static void env_blocking(void)
{
    env_small_batches();
    setenv("GENIE_INFLIGHT_BATCHES", "0", 1);
}
static void env_no_elision(void)
{
    shim_test_env();
    setenv("GENIE_SYNC_ELISION", "0", 1);
}
static void env_no_pipeline(void)
{
    shim_test_env();
    setenv("GENIE_PIPELINE", "0", 1);
}
/* Cost-model parameters whose chunk sizes do not depend on how fast this machine records.
 * Slow ops (a second each): the executor is busy far beyond any recording, every chunk after
 * the first is as long as allowed. Free ops behind a free wire: the executor is idle again
 * as soon as a chunk has gone, every chunk is the least size. */
static void env_cost_slow(void)
{
    shim_test_env();
    setenv("GENIE_PIPELINE_COST", "1", 1);
    setenv("GENIE_COST_PARAMS", "rtt_ns=0,wire_bps=1e15,op_ns=1e9,flops=1e30,mem_bps=1e30", 1);
}
static void env_cost_free(void)
{
    shim_test_env();
    setenv("GENIE_PIPELINE_COST", "1", 1);
    setenv("GENIE_COST_PARAMS", "rtt_ns=0,wire_bps=1e15,op_ns=0,flops=1e30,mem_bps=1e30", 1);
}
/* The same through the calibration (GENIE_COST_CALIBRATE, on with GENIE_PIPELINE_COST): the
 * wire's parameters given, the per-op cost left to genie-remote's measurement, which the
 * executor's test knob fixes (GENIE_TEST_COST: op_ps,flops,mem_bps) at a second or at 1 ps. */
static void env_calibrated(const char *op_ps)
{
    shim_test_env();
    setenv("GENIE_PIPELINE_COST", "1", 1);
    setenv("GENIE_COST_PARAMS", "rtt_ns=0,wire_bps=1e15", 1);
    char v[96];
    snprintf(v, sizeof v, "%s,1000000000000000000,1000000000000000000", op_ps);
    setenv("GENIE_TEST_COST", v, 1);
}
static void env_calibrated_slow(void)
{
    env_calibrated("1000000000000");
}
static void env_calibrated_free(void)
{
    env_calibrated("1");
}
static void env_cost_slow_fixed(void)
{
    env_cost_slow();
    setenv("GENIE_PIPELINE_COST", "0", 1);
}

/* Records a MEMSET the client's checks would refuse, straight through the batch seam: the
 * executor refuses it (outside the session's memory) with an R_ERROR in the batch's reply. */
static void record_bad_memset(void)
{
    shim_lock();
    cr_assert_eq(shim_ensure(), cudaSuccess);
    shim_rec r;
    shim_batch_begin(&r);
    cr_assert(SHIM_PUT(&r, MEMSET, (uint64_t)0x1000, 64, 0u, 0u));
    shim_sem_op(SEM_OP_MEMSET, PROTO_OP_MEMSET, 0);
    cr_assert_eq(shim_batch_commit(&r, 0, 0), cudaSuccess);
    shim_unlock();
}

#define MEMSETS 2000

/* An early batch fails; thousands of ops later, several size-threshold flushes on, the first
 * D2H copy reports it, and no call before that copy waited for a reply. */
Test(inflight, threshold_flushes_do_not_wait_and_the_error_waits_for_the_copy,
     .init = env_small_batches)
{
    uint8_t *d;
    cr_assert_eq(cudaMalloc((void **)&d, 4096), cudaSuccess);
    shim_stats s0 = shim_test_stats();
    record_bad_memset();
    for (int i = 0; i < MEMSETS; i++)
        cr_assert_eq(cudaMemsetAsync(d, i & 0xff, 4096, NULL), cudaSuccess, "memset %d", i);
    shim_stats s1 = shim_test_stats();
    cr_assert_eq(s1.round_trips, s0.round_trips, "%lu waits before the copy",
                 (unsigned long)(s1.round_trips - s0.round_trips));
    cr_assert_geq(s1.flush_threshold - s0.flush_threshold, 10, "only %lu threshold flushes",
                  (unsigned long)(s1.flush_threshold - s0.flush_threshold));
    cr_assert_eq(s1.batches_nowait - s0.batches_nowait, s1.flush_threshold - s0.flush_threshold);
    uint8_t h[4096];
    cr_assert_eq(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost), cudaErrorInvalidValue,
                 "the early batch's error is reported at the first copy");
    shim_stats s2 = shim_test_stats();
    cr_assert_eq(s2.rt_sync - s1.rt_sync, 1, "the copy is the one wait");
    /* reported once, not sticky: the copy runs again and sees the last memset */
    cr_assert_eq(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost), cudaSuccess);
    for (size_t i = 0; i < sizeof h; i++)
        cr_assert_eq(h[i], (MEMSETS - 1) & 0xff, "byte %zu", i);
}

/* The twin: with every flush waiting (GENIE_INFLIGHT_BATCHES=0) the error comes back at the
 * first threshold flush, from a memset, long before the copy. */
Test(inflight, blocking_twin_reports_the_error_at_the_threshold, .init = env_blocking)
{
    uint8_t *d;
    cr_assert_eq(cudaMalloc((void **)&d, 4096), cudaSuccess);
    shim_stats s0 = shim_test_stats();
    record_bad_memset();
    int failed_at = -1;
    for (int i = 0; i < MEMSETS; i++)
        if (cudaMemsetAsync(d, i & 0xff, 4096, NULL) != cudaSuccess && failed_at < 0)
            failed_at = i;
    shim_stats s1 = shim_test_stats();
    cr_assert_geq(failed_at, 0, "no memset reported the error");
    cr_assert_lt(failed_at, MEMSETS / 10, "reported late, at memset %d", failed_at);
    cr_assert_eq(s1.batches_nowait, s0.batches_nowait);
    cr_assert_geq(s1.rt_sync - s0.rt_sync, 10, "the threshold flushes waited");
    uint8_t h[16];
    cr_assert_eq(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost), cudaSuccess);
}

/* A sync with nothing to bring back is sent without waiting (GENIE_SYNC_ELISION): the upload
 * pattern of model.cuda(), a copy and a stream sync per parameter. Its error surfaces at the
 * next sync that waits; the data is all there. */
Test(inflight, syncs_after_uploads_are_elided, .init = shim_test_env)
{
    enum { N = 50, SZ = 8192 };
    uint8_t *d, src[SZ], h[SZ];
    cr_assert_eq(cudaMalloc((void **)&d, (size_t)N * SZ), cudaSuccess);
    cudaStream_t st;
    cr_assert_eq(cudaStreamCreate(&st), cudaSuccess);
    shim_stats s0 = shim_test_stats();
    for (int i = 0; i < N; i++) {
        memset(src, i + 1, sizeof src);
        cr_assert_eq(cudaMemcpyAsync(d + (size_t)i * SZ, src, SZ, cudaMemcpyHostToDevice, st),
                     cudaSuccess);
        cr_assert_eq(cudaStreamSynchronize(st), cudaSuccess);
    }
    record_bad_memset();
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess, "elided: the error is not known yet");
    shim_stats s1 = shim_test_stats();
    cr_assert_eq(s1.round_trips, s0.round_trips, "%lu waits",
                 (unsigned long)(s1.round_trips - s0.round_trips));
    cr_assert_eq(s1.syncs_elided - s0.syncs_elided, N + 1);
    cr_assert_eq(cudaMemcpy(h, d, SZ, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(cudaMemcpy(h, d + (size_t)i * SZ, SZ, cudaMemcpyDeviceToHost), cudaSuccess);
        cr_assert_eq(h[0], i + 1);
        cr_assert_eq(h[SZ - 1], i + 1);
    }
}

/* The twin: GENIE_SYNC_ELISION=0, every sync waits and returns the error itself. */
Test(inflight, without_elision_every_sync_waits, .init = env_no_elision)
{
    enum { N = 50, SZ = 8192 };
    uint8_t *d, src[SZ];
    cr_assert_eq(cudaMalloc((void **)&d, (size_t)N * SZ), cudaSuccess);
    shim_stats s0 = shim_test_stats();
    for (int i = 0; i < N; i++) {
        memset(src, i + 1, sizeof src);
        cr_assert_eq(cudaMemcpy(d + (size_t)i * SZ, src, SZ, cudaMemcpyHostToDevice), cudaSuccess);
        cr_assert_eq(cudaStreamSynchronize(NULL), cudaSuccess);
    }
    record_bad_memset();
    cr_assert_eq(cudaDeviceSynchronize(), cudaErrorInvalidValue);
    shim_stats s1 = shim_test_stats();
    cr_assert_eq(s1.rt_sync - s0.rt_sync, N + 1);
    cr_assert_eq(s1.syncs_elided, s0.syncs_elided);
}

/* What makes a sync wait although elision is on: an async D2H copy into pinned memory in its
 * batch (the host reads it after the sync), an event record, and a host function's drain. */
static int host_fn_ran;
static void CUDART_CB host_fn(void *ud)
{
    (void)ud;
    host_fn_ran++;
}

Test(inflight, syncs_that_bring_something_back_wait, .init = shim_test_env)
{
    uint8_t *d, *pinned;
    cr_assert_eq(cudaMalloc((void **)&d, 4096), cudaSuccess);
    cr_assert_eq(cudaMallocHost((void **)&pinned, 4096), cudaSuccess);
    cudaEvent_t ev;
    cr_assert_eq(cudaEventCreate(&ev), cudaSuccess);

    shim_stats s0 = shim_test_stats();
    cr_assert_eq(cudaMemsetAsync(d, 7, 4096, NULL), cudaSuccess);
    cr_assert_eq(cudaMemcpyAsync(pinned, d, 4096, cudaMemcpyDeviceToHost, NULL), cudaSuccess);
    cr_assert_eq(cudaStreamSynchronize(NULL), cudaSuccess);
    shim_stats s1 = shim_test_stats();
    cr_assert_eq(s1.rt_sync - s0.rt_sync, 1, "the sync after a pinned D2H waits");
    cr_assert_eq(pinned[0], 7);
    cr_assert_eq(pinned[4095], 7);

    cr_assert_eq(cudaMemsetAsync(d, 8, 4096, NULL), cudaSuccess);
    cr_assert_eq(cudaEventRecord(ev, NULL), cudaSuccess);
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    shim_stats s2 = shim_test_stats();
    cr_assert_eq(s2.rt_sync - s1.rt_sync, 1, "the sync after an event record waits");

    cr_assert_eq(cudaMemsetAsync(d, 9, 4096, NULL), cudaSuccess);
    cr_assert_eq(cudaLaunchHostFunc(NULL, host_fn, NULL), cudaSuccess);
    shim_stats s3 = shim_test_stats();
    cr_assert_eq(host_fn_ran, 1);
    cr_assert_eq(s3.rt_sync - s2.rt_sync, 1, "a host function's drain waits");
    cr_assert_eq(s3.syncs_elided, s0.syncs_elided);

    /* and a pinned D2H riding in a frame sent without waiting lands before the next sync
     * that waits returns */
    cr_assert_eq(cudaMemsetAsync(d, 10, 4096, NULL), cudaSuccess);
    cr_assert_eq(cudaMemcpyAsync(pinned, d, 4096, cudaMemcpyDeviceToHost, NULL), cudaSuccess);
    shim_lock();
    cr_assert_eq(shim_flush_nowait(), cudaSuccess);
    cr_assert_eq(shim_inflight_count(), 1);
    cr_assert(shim_inflight_observable());
    shim_unlock();
    cr_assert_eq(cudaStreamSynchronize(NULL), cudaSuccess);
    cr_assert_eq(pinned[0], 10);
    cr_assert_eq(pinned[4095], 10);
    shim_lock();
    cr_assert_eq(shim_inflight_count(), 0);
    shim_unlock();
    cr_assert_eq(cudaFreeHost(pinned), cudaSuccess);
}

/* The in-flight bound: at most GENIE_INFLIGHT_BATCHES frames, then the oldest is waited for. */
static void env_bound(void)
{
    env_small_batches();
    setenv("GENIE_INFLIGHT_BATCHES", "3", 1);
}

Test(inflight, the_bound_waits_for_the_oldest, .init = env_bound)
{
    uint8_t *d;
    cr_assert_eq(cudaMalloc((void **)&d, 4096), cudaSuccess);
    shim_stats s0 = shim_test_stats();
    for (int i = 0; i < MEMSETS; i++)
        cr_assert_eq(cudaMemsetAsync(d, 1, 4096, NULL), cudaSuccess);
    shim_stats s1 = shim_test_stats();
    uint64_t sent = s1.batches_nowait - s0.batches_nowait;
    cr_assert_geq(sent, 10);
    cr_assert_eq(s1.inflight_max, 3);
    cr_assert_eq(s1.inflight_stalls - s0.inflight_stalls, sent - 3);
    shim_lock();
    cr_assert_eq(shim_inflight_count(), 3);
    shim_unlock();
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
}

/* The pipeline pass: a batch with a wide product (n > 1, a prefill) goes out in chunks
 * without waiting; a one-column step (n = 1, a decode step) stays one batch. */
static int pipeline_chunks_for(int n)
{
    cublasHandle_t h;
    float *a, *b, *c;
    cr_assert_eq(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cudaMalloc((void **)&a, 64 * 64 * 4), cudaSuccess);
    cr_assert_eq(cudaMalloc((void **)&b, 64 * 64 * 4), cudaSuccess);
    cr_assert_eq(cudaMalloc((void **)&c, 64 * 64 * 4), cudaSuccess);
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    shim_stats s0 = shim_test_stats();
    const float one = 1, zero = 0;
    for (int layer = 0; layer < 40; layer++) {
        cr_assert_eq(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 64, n, 64, &one, a, 64, b, 64,
                                 &zero, c, 64),
                     CUBLAS_STATUS_SUCCESS);
        for (int k = 0; k < 10; k++)
            cr_assert_eq(cudaMemsetAsync(a, 0, 64, NULL), cudaSuccess);
    }
    shim_stats s1 = shim_test_stats();
    float out;
    cr_assert_eq(cudaMemcpy(&out, c, 4, cudaMemcpyDeviceToHost), cudaSuccess);
    cr_assert_eq(s1.round_trips, s0.round_trips, "a chunk waited");
    cr_assert_eq(s1.batches_nowait - s0.batches_nowait, s1.pipeline_chunks - s0.pipeline_chunks);
    cublasDestroy(h);
    return (int)(s1.pipeline_chunks - s0.pipeline_chunks);
}

Test(inflight, a_prefill_is_pipelined_in_chunks, .init = shim_test_env) /* fixed by default */
{
    int chunks = pipeline_chunks_for(16);
    /* 440 ops: chunks of 32, 64, 128, 256 ops */
    cr_assert_eq(chunks, 3, "%d chunks", chunks);
}

/* GENIE_PIPELINE_COST=1: the cost model sizes the chunks after the first (32 ops). Slow ops:
 * the next chunk may be as long as allowed (512), so the other 408 ops stay in the batch the
 * copy sends: 1 chunk. Free ops: every chunk the least size, 32 ops: 13 chunks. */
Test(inflight, chunks_follow_the_cost_model_slow_ops_long_chunks, .init = env_cost_slow)
{
    int chunks = pipeline_chunks_for(16);
    cr_assert_eq(chunks, 1, "%d chunks", chunks);
}

Test(inflight, chunks_follow_the_cost_model_free_ops_short_chunks, .init = env_cost_free)
{
    int chunks = pipeline_chunks_for(16);
    cr_assert_eq(chunks, 13, "%d chunks", chunks);
}

/* The pipeline sizes its chunks with the calibrated parameters: the per-op cost genie-remote
 * answers at HELLO (R_COST) decides 1 chunk or 13, as GENIE_COST_PARAMS's op_ns did above. */
Test(inflight, chunks_follow_the_calibrated_op_cost_slow, .init = env_calibrated_slow)
{
    void *p;
    cr_assert_eq(cudaMalloc(&p, 64), cudaSuccess); /* the session: HELLO, R_COST */
    shim_lock();
    double op = shim_g.cost.op_ns;
    shim_unlock();
    cr_assert_float_eq(op, 1e9, 1, "op_ns %g: not genie-remote's", op);
    int chunks = pipeline_chunks_for(16);
    cr_assert_eq(chunks, 1, "%d chunks", chunks);
}

Test(inflight, chunks_follow_the_calibrated_op_cost_free, .init = env_calibrated_free)
{
    int chunks = pipeline_chunks_for(16);
    cr_assert_eq(chunks, 13, "%d chunks", chunks);
}

/* the twin: the same slow parameters with the model's sizing off cut the fixed 3 */
Test(inflight, chunks_ignore_the_cost_model_when_it_is_off, .init = env_cost_slow_fixed)
{
    int chunks = pipeline_chunks_for(16);
    cr_assert_eq(chunks, 3, "%d chunks", chunks);
}

Test(inflight, a_decode_step_is_not_cut, .init = shim_test_env)
{
    cr_assert_eq(pipeline_chunks_for(1), 0);
}

Test(inflight, pipeline_off_cuts_nothing, .init = env_no_pipeline)
{
    cr_assert_eq(pipeline_chunks_for(16), 0);
}

/* A sync after device work (a GEMM here; a launch alike) waits at the default level, which
 * keeps `work; check(cudaDeviceSynchronize())` reporting the work's errors; at
 * GENIE_SYNC_ELISION=2 it is elided too. */
static uint64_t elided_after_gemm(void)
{
    cublasHandle_t h;
    float *a;
    cr_assert_eq(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cudaMalloc((void **)&a, 64 * 64 * 4), cudaSuccess);
    cr_assert_eq(cudaMemset(a, 0, 64 * 64 * 4), cudaSuccess);
    float out = 1;
    cr_assert_eq(cudaMemcpy(&out, a, 4, cudaMemcpyDeviceToHost), cudaSuccess);
    shim_stats s0 = shim_test_stats();
    const float one = 1, zero = 0;
    cr_assert_eq(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 1, 8, &one, a, 8, a + 64, 8, &zero,
                             a + 128, 8),
                 CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    shim_stats s1 = shim_test_stats();
    cr_assert_eq(cudaMemcpy(&out, a + 128, 4, cudaMemcpyDeviceToHost), cudaSuccess);
    cr_assert_eq(out, 0);
    cublasDestroy(h);
    cr_assert_eq(s1.syncs_elided - s0.syncs_elided, s1.batches_nowait - s0.batches_nowait);
    cr_assert_eq(s1.rt_sync - s0.rt_sync, 1 - (s1.syncs_elided - s0.syncs_elided));
    return s1.syncs_elided - s0.syncs_elided;
}

Test(inflight, a_sync_after_device_work_waits_by_default, .init = shim_test_env)
{
    cr_assert_eq(elided_after_gemm(), 0);
}

static void env_elide_all(void)
{
    shim_test_env();
    setenv("GENIE_SYNC_ELISION", "2", 1);
}

Test(inflight, elision_all_elides_it_too, .init = env_elide_all)
{
    cr_assert_eq(elided_after_gemm(), 1);
}
