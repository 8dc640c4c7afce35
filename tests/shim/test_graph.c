/* test_graph.c — shim/graph.c: stream capture states, what a capture takes and refuses, replay. */
#include <string.h>

#include "tests/shim/shim_harness.h"

TestSuite(graph, .init = shim_test_env);

#define N 1024

static void holds(const uint8_t *dev, uint8_t want, const char *what)
{
    static uint8_t back[N];
    cr_assert_eq(cudaMemcpy(back, dev, N, cudaMemcpyDeviceToHost), cudaSuccess, "%s", what);
    for (int i = 0; i < N; i++)
        cr_assert_eq(back[i], want, "%s: byte %d is %u, want %u", what, i, back[i], want);
}

Test(graph, capture_records_nothing_and_replays)
{
    uint8_t *a, *b;
    cudaStream_t s;
    cr_assert_eq(cudaMalloc((void **)&a, N), cudaSuccess);
    cr_assert_eq(cudaMalloc((void **)&b, N), cudaSuccess);
    cr_assert_eq(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    cr_assert_eq(cudaMemset(a, 0, N), cudaSuccess);
    cr_assert_eq(cudaMemset(b, 0, N), cudaSuccess);
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);

    enum cudaStreamCaptureStatus st;
    cr_assert_eq(cudaStreamIsCapturing(s, &st), cudaSuccess);
    cr_assert_eq(st, cudaStreamCaptureStatusNone);
    cr_assert_eq(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    cr_assert_eq(cudaStreamIsCapturing(s, &st), cudaSuccess);
    cr_assert_eq(st, cudaStreamCaptureStatusActive);

    shim_stats before = shim_test_stats();
    cr_assert_eq(cudaMemsetAsync(a, 7, N, s), cudaSuccess);
    cr_assert_eq(cudaMemcpyAsync(b, a, N, cudaMemcpyDeviceToDevice, s), cudaSuccess);
    shim_stats after = shim_test_stats();
    cr_assert_eq(after.ops_recorded, before.ops_recorded, "captured work is not recorded");
    shim_lock();
    cr_assert(shim_batch_empty(), "captured work stays out of the batch");
    shim_unlock();

    cudaGraph_t g = NULL;
    cr_assert_eq(cudaStreamEndCapture(s, &g), cudaSuccess);
    cr_assert_not_null(g);
    cr_assert_eq(cudaStreamIsCapturing(s, &st), cudaSuccess);
    cr_assert_eq(st, cudaStreamCaptureStatusNone);
    size_t nodes = 0;
    cr_assert_eq(cudaGraphGetNodes(g, NULL, &nodes), cudaSuccess);
    cr_assert_eq(nodes, 2, "two captured records, %zu nodes", nodes);
    holds(b, 0, "nothing ran during the capture");

    cudaGraphExec_t x;
    cr_assert_eq(cudaGraphInstantiate(&x, g, 0), cudaSuccess);
    cr_assert_eq(cudaGraphLaunch(x, s), cudaSuccess);
    cr_assert_eq(cudaStreamSynchronize(s), cudaSuccess);
    holds(b, 7, "the replay ran both records");
    /* a second launch runs them again */
    cr_assert_eq(cudaMemset(b, 1, N), cudaSuccess);
    /* s is non-blocking: nothing orders it after the legacy stream's memset but a sync (it
     * raced on the asynchronous fake GPU: 1 run in 6 saw the memset land after the replay) */
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    cr_assert_eq(cudaGraphLaunch(x, s), cudaSuccess);
    cr_assert_eq(cudaStreamSynchronize(s), cudaSuccess);
    holds(b, 7, "the second replay");
    cr_assert_eq(cudaGraphExecDestroy(x), cudaSuccess);
    cr_assert_eq(cudaGraphLaunch(x, s), cudaErrorInvalidValue, "a destroyed graph exec");
    cr_assert_eq(cudaGraphDestroy(g), cudaSuccess);
}

Test(graph, a_sync_invalidates_the_capture)
{
    uint8_t *a;
    cudaStream_t s;
    cr_assert_eq(cudaMalloc((void **)&a, N), cudaSuccess);
    cr_assert_eq(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    cr_assert_eq(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    cr_assert_eq(cudaMemsetAsync(a, 3, N, s), cudaSuccess);
    cr_assert_eq(cudaStreamSynchronize(s), cudaErrorStreamCaptureUnsupported);
    enum cudaStreamCaptureStatus st;
    cr_assert_eq(cudaStreamIsCapturing(s, &st), cudaSuccess);
    cr_assert_eq(st, cudaStreamCaptureStatusInvalidated);
    cr_assert_eq(cudaMemsetAsync(a, 4, N, s), cudaErrorStreamCaptureInvalidated);
    cudaGraph_t g = (cudaGraph_t)(uintptr_t)1;
    cr_assert_eq(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);
    cr_assert_null(g);
    /* the session goes on: the stream works, nothing of the capture ran */
    /* on s: a plain cudaMemset (legacy stream) would race with the non-blocking stream */
    cr_assert_eq(cudaMemsetAsync(a, 0, N, s), cudaSuccess);
    cr_assert_eq(cudaMemsetAsync(a, 5, N, s), cudaSuccess);
    cr_assert_eq(cudaStreamSynchronize(s), cudaSuccess);
    holds(a, 5, "after the invalidated capture");
}

Test(graph, refusals_during_a_capture)
{
    uint8_t *a;
    cudaStream_t s;
    uint8_t host[N];
    cr_assert_eq(cudaMalloc((void **)&a, N), cudaSuccess);
    cr_assert_eq(cudaStreamCreate(&s), cudaSuccess); /* blocking: the legacy stream conflicts */
    cr_assert_eq(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    cr_assert_eq(cudaMemsetAsync(a, 1, N, NULL), cudaErrorStreamCaptureImplicit,
                 "work on the legacy stream while a blocking stream captures");
    cudaGraph_t g;
    cr_assert_eq(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);

    cr_assert_eq(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    cr_assert_eq(cudaMemcpyAsync(host, a, N, cudaMemcpyDeviceToHost, s),
                 cudaErrorStreamCaptureUnsupported, "a D2H copy in a capture");
    cr_assert_eq(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);

    /* a destroyed stream ends its capture */
    cr_assert_eq(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    cr_assert_eq(cudaStreamDestroy(s), cudaSuccess);
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess, "no capture is left running");
}
