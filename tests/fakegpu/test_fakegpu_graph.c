/* test_fakegpu_graph.c — CUDA graphs on the fake GPU (fg_graph.c): stream capture runs nothing,
 * a launch runs the nodes in order, captured host-to-device copies read their source at each
 * launch, exec node updates change later launches only, ops the host waits for invalidate a
 * capture, and the API call counter counts each call once. */
#include <criterion/criterion.h>

#include <cuda.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "fakegpu_twin.h"
#include "fakegpu_work.h"

#define OK(call) cr_assert_eq((call), CUDA_SUCCESS, "%s", #call)

static const uint32_t fake_fatbin[4] = {0xba55ed50u, 0x00100001u, 0, 0};

/* shift_in(int *p, int v, int ms): sleeps ms, then *p = *p * 10 + v (order shows in digits). */
static int shift_in_twin(const fg_launch *l, void **args)
{
    (void)l;
    int *p = *(int **)args[0];
    int v = *(int *)args[1], ms = *(int *)args[2];
    if (ms) {
        struct timespec ts = {0, (long)ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    *p = *p * 10 + v;
    return 0;
}
FG_TWIN(shift_in, "shift_in", shift_in_twin, 3, 8, 4, 4)

static CUcontext ctx;
static CUfunction fn;
static CUstream st;
static CUdeviceptr p, q, r;

static void setup(void)
{
    CUdevice dev;
    CUmodule mod;
    OK(cuInit(0));
    OK(cuDeviceGet(&dev, 0));
    OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    OK(cuCtxSetCurrent(ctx));
    OK(cuModuleLoadData(&mod, fake_fatbin));
    OK(cuModuleGetFunction(&fn, mod, "shift_in"));
    OK(cuStreamCreate(&st, CU_STREAM_NON_BLOCKING));
    OK(cuMemAlloc(&p, 64));
    OK(cuMemAlloc(&q, 64));
    OK(cuMemAlloc(&r, 64));
    OK(cuMemsetD8(p, 0, 64));
    OK(cuMemsetD8(q, 0, 64));
    OK(cuMemsetD8(r, 0, 64));
    /* the memsets are queued on the legacy stream, which a non-blocking stream does not wait
     * for: done before any test's work on st */
    OK(cuCtxSynchronize());
}

static int peek(CUdeviceptr d) { return *(volatile int *)(uintptr_t)d; }

static void shift_in(CUstream s, CUdeviceptr d, int v, int ms)
{
    void *args[] = {&d, &v, &ms};
    OK(cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, s, args, NULL));
}

/* The node the last captured op made. */
static CUgraphNode last_node(CUstream s)
{
    CUstreamCaptureStatus cs;
    const CUgraphNode *deps = NULL;
    size_t nd = 0;
    OK(cuStreamGetCaptureInfo(s, &cs, NULL, NULL, &deps, NULL, &nd));
    cr_assert_eq(cs, CU_STREAM_CAPTURE_STATUS_ACTIVE);
    cr_assert_eq(nd, 1);
    return deps[0];
}

TestSuite(graph, .init = setup, .timeout = 60);

Test(graph, capture_runs_nothing_and_launch_runs_nodes_in_order)
{
    int *hp; /* a captured copy's host side is page-locked memory */
    OK(cuMemHostAlloc((void **)&hp, sizeof *hp, 0));
#define host (*hp)
    host = 41;
    CUgraph g;
    CUgraphExec x;
    OK(cuStreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_RELAXED));
    shift_in(st, p, 1, 0);
    OK(cuMemcpyHtoDAsync(q, &host, sizeof host, st));
    shift_in(st, p, 2, 0);
    OK(cuStreamEndCapture(st, &g));
    cr_assert_not_null(g);
    size_t n = 0;
    OK(cuGraphGetNodes(g, NULL, &n));
    cr_assert_eq(n, 3);
    OK(cuStreamSynchronize(st));
    cr_assert_eq(peek(p), 0, "the capture ran a kernel");
    cr_assert_eq(peek(q), 0, "the capture ran a copy");
    OK(cuGraphInstantiate(&x, g, 0));
    OK(cuGraphLaunch(x, st));
    OK(cuStreamSynchronize(st));
    cr_assert_eq(peek(p), 12);
    cr_assert_eq(peek(q), 41);
    host = 42; /* a captured copy reads its source when the graph runs */
    OK(cuGraphLaunch(x, st));
    OK(cuStreamSynchronize(st));
    cr_assert_eq(peek(p), 1212);
    cr_assert_eq(peek(q), 42);
    OK(cuGraphExecDestroy(x));
    OK(cuGraphDestroy(g));
    OK(cuMemFreeHost(hp));
#undef host
}

Test(graph, exec_node_updates_change_later_launches)
{
    int *hp;
    OK(cuMemHostAlloc((void **)&hp, 2 * sizeof *hp, 0));
#define host (*hp)
    host = 5;
    CUgraph g;
    CUgraphExec x;
    OK(cuStreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_RELAXED));
    shift_in(st, p, 1, 0);
    CUgraphNode k = last_node(st);
    OK(cuMemcpyHtoDAsync(q, &host, sizeof host, st));
    CUgraphNode c = last_node(st);
    cr_assert_neq(k, c);
    OK(cuStreamEndCapture(st, &g));
    OK(cuGraphInstantiate(&x, g, 0));
    /* the kernel node: another value and another target */
    int v = 7, ms = 0;
    void *args[] = {&r, &v, &ms};
    CUDA_KERNEL_NODE_PARAMS kp = {.func = fn, .gridDimX = 1, .gridDimY = 1, .gridDimZ = 1,
                                  .blockDimX = 1, .blockDimY = 1, .blockDimZ = 1,
                                  .kernelParams = args};
    OK(cuGraphExecKernelNodeSetParams(x, k, &kp));
    v = 9; /* the parameters were copied at the call */
    /* the copy node: another destination */
    CUDA_MEMCPY3D m = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = &host,
                       .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = r + 8,
                       .WidthInBytes = sizeof host, .Height = 1, .Depth = 1};
    OK(cuGraphExecMemcpyNodeSetParams(x, c, &m, ctx));
    OK(cuGraphLaunch(x, st));
    OK(cuStreamSynchronize(st));
    cr_assert_eq(peek(p), 0, "the old kernel parameters ran");
    cr_assert_eq(peek(q), 0, "the old copy destination was written");
    cr_assert_eq(peek(r), 7);
    cr_assert_eq(peek(r + 8), 5);
    /* each kind of node takes only its own kind of update; a bad copy range is refused */
    cr_assert_eq(cuGraphExecKernelNodeSetParams(x, c, &kp), CUDA_ERROR_INVALID_VALUE);
    cr_assert_eq(cuGraphExecMemcpyNodeSetParams(x, k, &m, ctx), CUDA_ERROR_INVALID_VALUE);
    m.dstDevice = 4096; /* not device memory */
    cr_assert_eq(cuGraphExecMemcpyNodeSetParams(x, c, &m, ctx), CUDA_ERROR_INVALID_VALUE);
    /* the graph's own nodes are unchanged: a second instantiation runs the captured values */
    CUgraphExec y;
    OK(cuGraphInstantiate(&y, g, 0));
    OK(cuGraphLaunch(y, st));
    OK(cuStreamSynchronize(st));
    cr_assert_eq(peek(p), 1);
    cr_assert_eq(peek(q), 5);
    /* a memcpy node's host side stays page-locked memory */
    int pageable = 6;
    m.dstDevice = r + 8;
    m.srcHost = &pageable;
    cr_assert_eq(cuGraphExecMemcpyNodeSetParams(x, c, &m, ctx), CUDA_ERROR_INVALID_VALUE);
    m.srcHost = hp + 1;
    OK(cuGraphExecMemcpyNodeSetParams(x, c, &m, ctx));
    m.srcHost = hp + 2; /* past the allocation */
    cr_assert_eq(cuGraphExecMemcpyNodeSetParams(x, c, &m, ctx), CUDA_ERROR_INVALID_VALUE);
    OK(cuGraphExecDestroy(x));
    OK(cuGraphExecDestroy(y));
    OK(cuGraphDestroy(g));
    OK(cuMemFreeHost(hp));
#undef host
}

/* A copy between the device and page-locked memory is a memcpy node that reads or writes the
 * host memory at each launch; with pageable memory the capture refuses the copy. */
Test(graph, host_copies_are_captured_from_and_to_page_locked_memory_only)
{
    int *pin;
    OK(cuMemHostAlloc((void **)&pin, 4 * sizeof *pin, 0));
    CUgraph g;
    CUgraphExec x;
    OK(cuStreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_RELAXED));
    OK(cuMemcpyHtoDAsync(q, pin, sizeof *pin, st));
    shift_in(st, q, 3, 0);
    OK(cuMemcpyDtoHAsync(pin + 1, q, sizeof *pin, st));
    OK(cuStreamEndCapture(st, &g));
    OK(cuGraphInstantiate(&x, g, 0));
    pin[0] = 4;
    pin[1] = -1;
    OK(cuGraphLaunch(x, st));
    OK(cuStreamSynchronize(st));
    cr_assert_eq(pin[1], 43, "got %d", pin[1]);
    pin[0] = 5; /* both host sides are read and written at each launch */
    OK(cuGraphLaunch(x, st));
    OK(cuStreamSynchronize(st));
    cr_assert_eq(pin[1], 53, "got %d", pin[1]);
    OK(cuGraphExecDestroy(x));
    OK(cuGraphDestroy(g));
    /* pageable memory on either side: refused, the capture invalidated */
    int h = 0;
    CUstreamCaptureStatus cs;
    OK(cuStreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_RELAXED));
    cr_assert_eq(cuMemcpyHtoDAsync(q, &h, sizeof h, st), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    OK(cuStreamIsCapturing(st, &cs));
    cr_assert_eq(cs, CU_STREAM_CAPTURE_STATUS_INVALIDATED);
    cr_assert_eq(cuStreamEndCapture(st, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    OK(cuStreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_RELAXED));
    cr_assert_eq(cuMemcpyDtoHAsync(&h, q, sizeof h, st), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    cr_assert_eq(cuStreamEndCapture(st, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    /* memory that was freed is pageable again */
    OK(cuMemFreeHost(pin));
    cr_assert_eq(cuMemFreeHost(pin), CUDA_ERROR_INVALID_VALUE);
    OK(cuStreamSynchronize(st));
}

Test(graph, a_queued_launch_keeps_its_parameters_through_update_and_destroy)
{
    CUgraph g;
    CUgraphExec x;
    OK(cuStreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_RELAXED));
    shift_in(st, p, 1, 20);
    CUgraphNode k = last_node(st);
    OK(cuStreamEndCapture(st, &g));
    OK(cuGraphInstantiate(&x, g, 0));
    OK(cuGraphDestroy(g)); /* an instantiation outlives its graph */
    OK(cuGraphLaunch(x, st));
    int v = 3, ms = 0;
    void *args[] = {&p, &v, &ms};
    CUDA_KERNEL_NODE_PARAMS kp = {.func = fn, .gridDimX = 1, .gridDimY = 1, .gridDimZ = 1,
                                  .blockDimX = 1, .blockDimY = 1, .blockDimZ = 1,
                                  .kernelParams = args};
    OK(cuGraphExecKernelNodeSetParams(x, k, &kp));
    OK(cuGraphLaunch(x, st));
    OK(cuGraphExecDestroy(x)); /* both launches are queued: they still run */
    OK(cuStreamSynchronize(st));
    cr_assert_eq(peek(p), 13, "got %d", peek(p));
}

Test(graph, ops_the_host_waits_for_invalidate_the_capture)
{
    int h = 0;
    CUgraph g = (CUgraph)&h;
    CUstreamCaptureStatus cs;
    OK(cuStreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_RELAXED));
    cr_assert_eq(cuStreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_RELAXED),
                 CUDA_ERROR_ILLEGAL_STATE);
    shift_in(st, p, 1, 0);
    cr_assert_eq(cuMemcpyDtoHAsync(&h, p, sizeof h, st), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    OK(cuStreamIsCapturing(st, &cs));
    cr_assert_eq(cs, CU_STREAM_CAPTURE_STATUS_INVALIDATED);
    cr_assert_eq(cuStreamEndCapture(st, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    cr_assert_null(g);
    OK(cuStreamIsCapturing(st, &cs));
    cr_assert_eq(cs, CU_STREAM_CAPTURE_STATUS_NONE);
    /* a synchronize too; and the legacy stream cannot capture */
    OK(cuStreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_RELAXED));
    cr_assert_eq(cuStreamSynchronize(st), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    cr_assert_eq(cuStreamEndCapture(st, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    cr_assert_eq(cuStreamBeginCapture(NULL, CU_STREAM_CAPTURE_MODE_RELAXED),
                 CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    cr_assert_eq(cuStreamEndCapture(st, &g), CUDA_ERROR_ILLEGAL_STATE);
    /* nothing captured ever ran */
    OK(cuStreamSynchronize(st));
    cr_assert_eq(peek(p), 0);
}

Test(graph, api_calls_are_counted_once_each)
{
    unsigned long long c0 = genie_fake_api_calls();
    shift_in(st, p, 1, 0);                 /* 1 */
    OK(cuStreamSynchronize(st));           /* 2 */
    CUstreamCaptureStatus cs;
    OK(cuStreamIsCapturing(st, &cs));      /* 3 */
    OK(cuMemcpyHtoDAsync(q, &cs, 4, st));  /* 4 */
    cr_assert_eq(genie_fake_api_calls() - c0, 4);
}
