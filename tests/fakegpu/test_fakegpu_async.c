/* test_fakegpu_async.c — the fake GPU in time: work runs after the call returns, events and
 * queries see its progress, copies stage their source, host functions keep stream order,
 * streams run concurrently, and a destroyed stream still finishes its work. */
#include <criterion/criterion.h>

#include <cuda.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fakegpu_twin.h"

#define OK(call) cr_assert_eq((call), CUDA_SUCCESS, "%s", #call)
#define SLEEP_MS 200

static const uint32_t fake_fatbin[4] = {0xba55ed50u, 0x00100001u, 0, 0};

/* sleep_write(int *p, int v, int ms): sleeps ms, then *p = v. */
static int sleep_write_twin(const fg_launch *l, void **args)
{
    (void)l;
    int *p = *(int **)args[0];
    int v = *(int *)args[1], ms = *(int *)args[2];
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    *p = v;
    return 0;
}
FG_TWIN(sleep_write, "sleep_write", sleep_write_twin, 3, 8, 4, 4)

static CUcontext ctx;
static CUmodule mod;
static CUfunction fn;

static void setup(void)
{
    CUdevice dev;
    OK(cuInit(0));
    OK(cuDeviceGet(&dev, 0));
    OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    OK(cuCtxSetCurrent(ctx));
    OK(cuModuleLoadData(&mod, fake_fatbin));
    OK(cuModuleGetFunction(&fn, mod, "sleep_write"));
}

static void setup_two_workers(void)
{
    setenv("GENIE_FAKE_GPU_WORKERS", "2", 1);
    setup();
}

static void setup_early_sync(void)
{
    setenv("GENIE_FAKE_GPU_BREAK", "early_sync", 1);
    setup();
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_write(CUstream s, CUdeviceptr p, int v, int ms)
{
    void *args[] = {&p, &v, &ms};
    OK(cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, s, args, NULL));
}

static int peek(CUdeviceptr p) /* device memory is host memory: look without a sync */
{
    return *(volatile int *)(uintptr_t)p;
}

TestSuite(async, .timeout = 60);

Test(async, launch_returns_before_the_kernel_runs, .init = setup)
{
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 4));
    CUstream s;
    OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUevent a, b;
    OK(cuEventCreate(&a, 0));
    OK(cuEventCreate(&b, 0));
    double t0 = now_ms();
    OK(cuEventRecord(a, s));
    sleep_write(s, p, 7, SLEEP_MS);
    OK(cuEventRecord(b, s));
    cr_assert_lt(now_ms() - t0, SLEEP_MS / 2.0, "the launch waited for its kernel");
    cr_assert_eq(peek(p), 0, "the kernel ran at issue time");
    cr_assert_eq(cuEventQuery(b), CUDA_ERROR_NOT_READY);
    cr_assert_eq(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    float ms;
    cr_assert_eq(cuEventElapsedTime(&ms, a, b), CUDA_ERROR_NOT_READY);
    OK(cuEventSynchronize(b));
    cr_assert_eq(peek(p), 7);
    cr_assert_geq(now_ms() - t0, SLEEP_MS * 0.95);
    OK(cuEventQuery(b));
    OK(cuStreamQuery(s));
    OK(cuEventElapsedTime(&ms, a, b));
    cr_assert_geq(ms, SLEEP_MS * 0.95, "elapsed %g ms", ms);
    OK(cuEventDestroy(a));
    OK(cuEventDestroy(b));
    OK(cuStreamDestroy(s));
}

/* The same check with every host-side wait broken: it must fail. */
Test(async, early_sync_is_caught, .init = setup_early_sync)
{
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 4));
    sleep_write(NULL, p, 7, SLEEP_MS);
    OK(cuStreamSynchronize(NULL));
    cr_assert_neq(peek(p), 7, "a broken synchronize went unnoticed");
}

Test(async, stream_synchronize_waits, .init = setup)
{
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 4));
    sleep_write(NULL, p, 7, SLEEP_MS);
    OK(cuStreamSynchronize(NULL));
    cr_assert_eq(peek(p), 7);
}

/* An async copy from pageable memory has consumed its source when it returns, even though it
 * runs after a long kernel. */
Test(async, htod_async_stages_the_source, .init = setup)
{
    CUdeviceptr p, q;
    OK(cuMemAlloc(&p, 4));
    OK(cuMemAlloc(&q, 4));
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    sleep_write(s, p, 1, SLEEP_MS);
    int v = 5;
    OK(cuMemcpyHtoDAsync(q, &v, sizeof v, s));
    v = 9;
    int got = 0;
    OK(cuMemcpyDtoHAsync(&got, q, sizeof got, s)); /* pageable: returns once done */
    cr_assert_eq(got, 5);
    cr_assert_eq(peek(p), 1, "the copy ran before the kernel queued ahead of it");
    OK(cuStreamDestroy(s));
}

struct seen {
    CUdeviceptr p;
    int value;
};

static void record_value(void *user)
{
    struct seen *c = user;
    c->value = peek(c->p);
}

Test(async, host_function_runs_in_stream_order, .init = setup)
{
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 4));
    CUstream s;
    OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    struct seen c = {p, -1};
    sleep_write(s, p, 7, SLEEP_MS);
    OK(cuLaunchHostFunc(s, record_value, &c));
    OK(cuStreamSynchronize(s));
    cr_assert_eq(c.value, 7, "the host function ran before the kernel queued ahead of it");
    OK(cuStreamDestroy(s));
}

Test(async, destroyed_stream_finishes_its_work, .init = setup)
{
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 4));
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    sleep_write(s, p, 7, SLEEP_MS);
    OK(cuStreamDestroy(s));
    cr_assert_eq(cuStreamQuery(s), CUDA_ERROR_INVALID_HANDLE);
    OK(cuCtxSynchronize());
    cr_assert_eq(peek(p), 7);
}

/* Two streams, one sleeping kernel each: with two workers they overlap. */
Test(async, streams_run_concurrently, .init = setup_two_workers)
{
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 8));
    CUstream a, b;
    OK(cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
    OK(cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
    double t0 = now_ms();
    sleep_write(a, p, 1, 2 * SLEEP_MS);
    sleep_write(b, p + 4, 2, 2 * SLEEP_MS);
    OK(cuCtxSynchronize());
    double t = now_ms() - t0;
    cr_assert_eq(peek(p), 1);
    cr_assert_eq(peek(p + 4), 2);
    cr_assert_lt(t, 3 * SLEEP_MS, "two %d ms kernels on two streams took %g ms", 2 * SLEEP_MS, t);
    OK(cuStreamDestroy(a));
    OK(cuStreamDestroy(b));
}

/* A wait on an event orders a second stream after the first; the legacy stream waits for a
 * blocking stream but not for a non-blocking one. */
Test(async, waits_and_legacy_rules, .init = setup)
{
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 4));
    CUstream a, b, nb;
    OK(cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
    OK(cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
    OK(cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
    CUevent e;
    OK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
    sleep_write(a, p, 1, SLEEP_MS);
    OK(cuEventRecord(e, a));
    OK(cuStreamWaitEvent(b, e, 0));
    int got = 0;
    OK(cuMemcpyDtoHAsync(&got, p, 4, b));
    cr_assert_eq(got, 1, "b did not wait for the event");

    sleep_write(nb, p, 2, SLEEP_MS);
    OK(cuMemcpyDtoH(&got, p, 4)); /* legacy: does not wait for the non-blocking stream */
    cr_assert_eq(got, 1, "the legacy stream waited for a non-blocking stream");
    OK(cuCtxSynchronize());

    CUstream blk;
    OK(cuStreamCreate(&blk, 0));
    sleep_write(blk, p, 3, SLEEP_MS);
    OK(cuMemcpyDtoH(&got, p, 4)); /* legacy: waits for the blocking stream */
    cr_assert_eq(got, 3, "the legacy stream did not wait for a blocking stream");
    OK(cuEventDestroy(e));
    OK(cuStreamDestroy(a));
    OK(cuStreamDestroy(b));
    OK(cuStreamDestroy(nb));
    OK(cuStreamDestroy(blk));
}
