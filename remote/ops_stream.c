/* ops_stream.c — stream and event ops: client IDs bound to the session's real streams and events.
 */
#include "remote/exec_int.h"
#include "remote/exec_lib_int.h"

#include <stdlib.h>
#include <string.h>

static int event_of(exec_session *s, uint32_t index, uint32_t id, const char *op, CUevent *out)
{
    *out = exec_idmap_get(&s->events, id);
    if (*out)
        return 0;
    return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, CUDA_ERROR_INVALID_HANDLE,
                     "%s: unknown event %u", op, id);
}

/* A query answer: R_VALUE status 0, or cudaErrorNotReady; any other result fails the op. */
static int query_reply(exec_session *s, uint32_t index, CUresult r, const char *what)
{
    if (r && r != CUDA_ERROR_NOT_READY)
        return exec_cufail(s, index, r, what);
    return proto_put_R_VALUE(&s->reply, 0, index, r ? EXEC_cudaErrorNotReady : 0) ? 0
                                                                                  : GENIE_ENOMEM;
}

int exec_op_STREAM_CREATE(exec_session *s, uint32_t index, const proto_STREAM_CREATE *a)
{
    if (a->stream < PROTO_STREAM_FIRST || exec_idmap_get(&s->streams, a->stream))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "STREAM_CREATE: stream ID %u is %s", a->stream,
                         a->stream < PROTO_STREAM_FIRST ? "reserved" : "in use");
    CUstream st;
    CUresult r = s->ctx->drv.StreamCreateWithPriority(&st, a->flags, a->priority);
    if (r)
        return exec_cufail(s, index, r, "STREAM_CREATE: cuStreamCreateWithPriority");
    if (exec_idmap_put(&s->streams, a->stream, st)) {
        s->ctx->drv.StreamDestroy(st);
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "STREAM_CREATE: %s",
                         genie_strerror(GENIE_ENOMEM));
    }
    return 0;
}

int exec_op_STREAM_DESTROY(exec_session *s, uint32_t index, const proto_STREAM_DESTROY *a)
{
    CUstream st = a->stream >= PROTO_STREAM_FIRST ? exec_idmap_del(&s->streams, a->stream) : NULL;
    if (!st)
        return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, CUDA_ERROR_INVALID_HANDLE,
                         "STREAM_DESTROY: unknown stream %u", a->stream);
    exec_lib_stream_gone(s, st); /* no cuBLAS handle keeps a dead stream */
    CUresult r = s->ctx->drv.StreamDestroy(st);
    return r ? exec_cufail(s, index, r, "STREAM_DESTROY: cuStreamDestroy") : 0;
}

int exec_op_STREAM_SYNC(exec_session *s, uint32_t index, const proto_STREAM_SYNC *a)
{
    CUstream st;
    int e = exec_stream(s, index, a->stream, "STREAM_SYNC", &st);
    if (e)
        return e;
    CUresult r = s->ctx->drv.StreamSynchronize(st);
    return r ? exec_cufail(s, index, r, "STREAM_SYNC: cuStreamSynchronize") : 0;
}

/* GENIE_TEST_DROP_WAITS=1, for tests only: the executor checks a STREAM_WAIT_EVENT and then
 * drops it, as an executor that lost an ordering edge would. tests/remote/test_order.c runs its
 * ordering tests with it to show that they catch the loss. Read once per process. */
static int drop_waits(void)
{
    static int on = -1;
    if (on < 0) {
        const char *v = getenv("GENIE_TEST_DROP_WAITS");
        on = v && *v == '1';
    }
    return on;
}

int exec_op_STREAM_WAIT_EVENT(exec_session *s, uint32_t index, const proto_STREAM_WAIT_EVENT *a)
{
    CUstream st;
    CUevent ev;
    int e;
    if ((e = exec_stream(s, index, a->stream, "STREAM_WAIT_EVENT", &st)) ||
        (e = event_of(s, index, a->event, "STREAM_WAIT_EVENT", &ev)))
        return e;
    if (drop_waits())
        return 0;
    CUresult r = s->ctx->drv.StreamWaitEvent(st, ev, a->flags);
    return r ? exec_cufail(s, index, r, "STREAM_WAIT_EVENT: cuStreamWaitEvent") : 0;
}

/* The session's streams and the NULL stream, not the whole context: other sessions'
 * work is none of this client's business. */
int exec_op_DEVICE_SYNC(exec_session *s, uint32_t index, const proto_DEVICE_SYNC *a)
{
    if (a->device != 0)
        return exec_fail(s, index, EXEC_cudaErrorInvalidDevice, 0, "DEVICE_SYNC: no device %u",
                         a->device);
    CUresult r = exec_sync_all(s);
    return r ? exec_cufail(s, index, r, "DEVICE_SYNC: cuStreamSynchronize") : 0;
}

int exec_op_STREAM_QUERY(exec_session *s, uint32_t index, const proto_STREAM_QUERY *a)
{
    CUstream st;
    int e = exec_stream(s, index, a->stream, "STREAM_QUERY", &st);
    return e ? e
             : query_reply(s, index, s->ctx->drv.StreamQuery(st), "STREAM_QUERY: cuStreamQuery");
}

int exec_op_EVENT_CREATE(exec_session *s, uint32_t index, const proto_EVENT_CREATE *a)
{
    if (exec_idmap_get(&s->events, a->event))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "EVENT_CREATE: event ID %u is in use", a->event);
    CUevent ev;
    CUresult r = s->ctx->drv.EventCreate(&ev, a->flags);
    if (r)
        return exec_cufail(s, index, r, "EVENT_CREATE: cuEventCreate");
    if (exec_idmap_put(&s->events, a->event, ev)) {
        s->ctx->drv.EventDestroy(ev);
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "EVENT_CREATE: %s",
                         genie_strerror(GENIE_ENOMEM));
    }
    return 0;
}

int exec_op_EVENT_DESTROY(exec_session *s, uint32_t index, const proto_EVENT_DESTROY *a)
{
    CUevent ev = exec_idmap_del(&s->events, a->event);
    if (!ev)
        return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, CUDA_ERROR_INVALID_HANDLE,
                         "EVENT_DESTROY: unknown event %u", a->event);
    CUresult r = s->ctx->drv.EventDestroy(ev);
    return r ? exec_cufail(s, index, r, "EVENT_DESTROY: cuEventDestroy") : 0;
}

int exec_op_EVENT_RECORD(exec_session *s, uint32_t index, const proto_EVENT_RECORD *a)
{
    CUstream st;
    CUevent ev;
    int e;
    if ((e = event_of(s, index, a->event, "EVENT_RECORD", &ev)) ||
        (e = exec_stream(s, index, a->stream, "EVENT_RECORD", &st)))
        return e;
    CUresult r = s->ctx->drv.EventRecord(ev, st);
    return r ? exec_cufail(s, index, r, "EVENT_RECORD: cuEventRecord") : 0;
}

int exec_op_EVENT_SYNC(exec_session *s, uint32_t index, const proto_EVENT_SYNC *a)
{
    CUevent ev;
    int e = event_of(s, index, a->event, "EVENT_SYNC", &ev);
    if (e)
        return e;
    CUresult r = s->ctx->drv.EventSynchronize(ev);
    return r ? exec_cufail(s, index, r, "EVENT_SYNC: cuEventSynchronize") : 0;
}

int exec_op_EVENT_QUERY(exec_session *s, uint32_t index, const proto_EVENT_QUERY *a)
{
    CUevent ev;
    int e = event_of(s, index, a->event, "EVENT_QUERY", &ev);
    return e ? e : query_reply(s, index, s->ctx->drv.EventQuery(ev), "EVENT_QUERY: cuEventQuery");
}

/* R_VALUE: the float milliseconds' bit pattern in the low 32 bits; status cudaErrorNotReady
 * (not an op failure) when an event has not completed yet, as cudaEventElapsedTime says. */
int exec_op_EVENT_ELAPSED(exec_session *s, uint32_t index, const proto_EVENT_ELAPSED *a)
{
    CUevent e0, e1;
    int e;
    if ((e = event_of(s, index, a->start, "EVENT_ELAPSED", &e0)) ||
        (e = event_of(s, index, a->end, "EVENT_ELAPSED", &e1)))
        return e;
    float ms = 0;
    CUresult r = EXEC_CU(&s->ctx->drv, EventElapsedTime, &ms, e0, e1);
    if (r && r != CUDA_ERROR_NOT_READY)
        return exec_cufail(s, index, r, "EVENT_ELAPSED: cuEventElapsedTime");
    uint32_t bits;
    memcpy(&bits, &ms, sizeof bits);
    return proto_put_R_VALUE(&s->reply, r ? 0 : bits, index, r ? EXEC_cudaErrorNotReady : 0)
               ? 0
               : GENIE_ENOMEM;
}
