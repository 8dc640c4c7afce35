/* fg_stream.c — fake streams, events and host functions: handles over the scheduler's queues. */
#include "fakegpu_int.h"

#include <stdlib.h>

int fg_stream_ok(CUstream s)
{
    return s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD ||
           fg_handle_is(s, FG_H_STREAM);
}

CUresult fg_check_stream_ctx(CUstream s)
{
    if (s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD)
        return fg_check_ctx();
    CUresult r = fg_check_init();
    return r ? r : fg_check_sticky();
}

static CUresult fg_stream_new(CUstream *ph, unsigned flags, int prio)
{
    CUresult r = fg_check_ctx();
    if (r)
        return r;
    if (!ph || (flags & ~(unsigned)CU_STREAM_NON_BLOCKING))
        return CUDA_ERROR_INVALID_VALUE;
    /* Out-of-range priorities are clamped, as the driver documents. */
    fg_stream *s = fg_sched_stream_new(flags, prio > 0 ? 0 : prio < -5 ? -5 : prio);
    if (!s)
        return CUDA_ERROR_OUT_OF_MEMORY;
    FG_LOCK();
    int bad = fg_handle_add(s, FG_H_STREAM);
    FG_UNLOCK();
    if (bad) {
        fg_sched_stream_destroy(s);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *ph = (CUstream)s;
    return CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
    fg_work_count_call();
    return fg_stream_new(phStream, Flags, 0);
}

CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
    fg_work_count_call();
    return fg_stream_new(phStream, flags, priority);
}

/* Returns at once; work still queued runs to completion and the stream is freed after it,
 * as the driver documents. The handle is dead from now on. */
CUresult cuStreamDestroy(CUstream hStream)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    FG_LOCK();
    if (!fg_handle_take(hStream, FG_H_STREAM)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    FG_UNLOCK();
    fg_sched_stream_destroy((fg_stream *)hStream);
    return CUDA_SUCCESS;
}

static CUresult fg_stream_check(CUstream s)
{
    CUresult r = fg_check_stream_ctx(s);
    if (r)
        return r;
    FG_LOCK();
    int ok = fg_stream_ok(s);
    FG_UNLOCK();
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuStreamSynchronize(CUstream hStream)
{
    fg_work_count_call();
    CUresult r = fg_stream_check(hStream);
    return r ? r : fg_sched_sync_stream(fg_sched_stream(hStream));
}

CUresult cuStreamQuery(CUstream hStream)
{
    fg_work_count_call();
    CUresult r = fg_stream_check(hStream);
    return r ? r : fg_sched_query_stream(fg_sched_stream(hStream));
}

CUresult cuStreamGetPriority(CUstream hStream, int *priority)
{
    fg_work_count_call();
    CUresult r = fg_stream_check(hStream);
    if (r)
        return r;
    if (!priority)
        return CUDA_ERROR_INVALID_VALUE;
    FG_LOCK();
    *priority = fg_handle_is(hStream, FG_H_STREAM) ? ((fg_stream *)hStream)->prio : 0;
    FG_UNLOCK();
    return CUDA_SUCCESS;
}

CUresult cuStreamGetFlags(CUstream hStream, unsigned int *flags)
{
    fg_work_count_call();
    CUresult r = fg_stream_check(hStream);
    if (r)
        return r;
    if (!flags)
        return CUDA_ERROR_INVALID_VALUE;
    FG_LOCK();
    *flags = fg_handle_is(hStream, FG_H_STREAM) ? ((fg_stream *)hStream)->flags : 0;
    FG_UNLOCK();
    return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize(void)
{
    fg_work_count_call();
    CUresult r = fg_check_ctx();
    return r ? r : fg_sched_sync_all();
}

/* Event handles are checked under fg_lock, then used without it: an event destroyed by
 * another thread meanwhile is the caller's race, as on the GPU. */
static CUresult fg_event_check(CUevent e)
{
    CUresult r = fg_check_init();
    if (!r)
        r = fg_check_sticky();
    if (r)
        return r;
    FG_LOCK();
    int ok = fg_handle_is(e, FG_H_EVENT);
    FG_UNLOCK();
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    fg_work_count_call();
    CUresult r = fg_check_stream_ctx(hStream);
    if (r)
        return r;
    if (Flags & ~(unsigned)CU_EVENT_WAIT_EXTERNAL)
        return CUDA_ERROR_INVALID_VALUE;
    FG_LOCK();
    int ok = fg_stream_ok(hStream) && fg_handle_is(hEvent, FG_H_EVENT);
    FG_UNLOCK();
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    return fg_sched_wait_event(fg_sched_stream(hStream), (fg_event *)hEvent);
}

CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
    fg_work_count_call();
    CUresult r = fg_check_ctx();
    if (r)
        return r;
    const unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
    if (!phEvent || (Flags & ~known) ||
        ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING)))
        return CUDA_ERROR_INVALID_VALUE;
    fg_event *e = calloc(1, sizeof *e);
    if (!e)
        return CUDA_ERROR_OUT_OF_MEMORY;
    e->flags = Flags;
    FG_LOCK();
    int bad = fg_handle_add(e, FG_H_EVENT);
    FG_UNLOCK();
    if (bad) {
        free(e);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *phEvent = (CUevent)e;
    return CUDA_SUCCESS;
}

/* The event completes when the stream reaches this point; until then cuEventQuery says
 * CUDA_ERROR_NOT_READY. */
CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
    fg_work_count_call();
    CUresult r = fg_check_stream_ctx(hStream);
    if (r)
        return r;
    FG_LOCK();
    int ok = fg_handle_is(hEvent, FG_H_EVENT) && fg_stream_ok(hStream);
    FG_UNLOCK();
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    return fg_sched_record((fg_event *)hEvent, fg_sched_stream(hStream));
}

/* An event never recorded counts as complete, as on the GPU. */
CUresult cuEventQuery(CUevent hEvent)
{
    fg_work_count_call();
    CUresult r = fg_event_check(hEvent);
    if (r)
        return r;
    fg_mark *m = fg_sched_event_mark((fg_event *)hEvent);
    int ready = !m || fg_sched_mark_ready(m);
    fg_mark_put(m);
    return ready ? fg_sched_sync_result() : CUDA_ERROR_NOT_READY;
}

CUresult cuEventSynchronize(CUevent hEvent)
{
    fg_work_count_call();
    CUresult r = fg_event_check(hEvent);
    if (r)
        return r;
    fg_mark *m = fg_sched_event_mark((fg_event *)hEvent);
    if (m) {
        fg_sched_wait(m);
        fg_mark_put(m);
    }
    return fg_sched_sync_result();
}

/* The modeled times of the two records (the device clock of the fake GPU). */
CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    if (!pMilliseconds)
        return CUDA_ERROR_INVALID_VALUE;
    FG_LOCK();
    int ok = fg_handle_is(hStart, FG_H_EVENT) && fg_handle_is(hEnd, FG_H_EVENT);
    FG_UNLOCK();
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    fg_event *a = (fg_event *)hStart, *b = (fg_event *)hEnd;
    fg_mark *ma = fg_sched_event_mark(a), *mb = fg_sched_event_mark(b);
    /* Unrecorded or timing-disabled events: INVALID_HANDLE, as the driver answers. */
    if (!ma || !mb || ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING)) {
        fg_mark_put(ma);
        fg_mark_put(mb);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    uint64_t ta, tb;
    int ready = fg_sched_mark_ready(ma) && fg_sched_mark_ready(mb);
    fg_sched_mark_time(ma, &ta);
    fg_sched_mark_time(mb, &tb);
    fg_mark_put(ma);
    fg_mark_put(mb);
    if (!ready)
        return CUDA_ERROR_NOT_READY;
    *pMilliseconds = (float)((double)((int64_t)(tb - ta)) / 1e6);
    return CUDA_SUCCESS;
}

CUresult cuEventDestroy(CUevent hEvent)
{
    fg_work_count_call();
    CUresult r = fg_check_init();
    if (r)
        return r;
    FG_LOCK();
    if (!fg_handle_is(hEvent, FG_H_EVENT)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    fg_handle_del(hEvent);
    FG_UNLOCK();
    fg_sched_event_free((fg_event *)hEvent); /* queued records hold their own marks */
    return CUDA_SUCCESS;
}

/* ---- host functions: run by a worker in stream order, at their modeled time ---- */

typedef struct fg_hostfn {
    CUhostFn fn;
    void *user;
} fg_hostfn;

static int fg_hostfn_run(void *a)
{
    fg_hostfn *h = a;
    h->fn(h->user);
    return 0;
}

CUresult cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData)
{
    fg_work_count_call();
    CUresult r = fg_stream_check(hStream);
    if (r)
        return r;
    if (!fn)
        return CUDA_ERROR_INVALID_VALUE;
    fg_hostfn *h = malloc(sizeof *h);
    if (!h)
        return CUDA_ERROR_OUT_OF_MEMORY;
    h->fn = fn;
    h->user = userData;
    return (CUresult)fg_sched_submit(fg_sched_stream(hStream), fg_hostfn_run, h, free, 0,
                                     FG_ITEM_HOST, NULL);
}

typedef struct fg_callback {
    CUstream stream;
    CUstreamCallback cb;
    void *user;
} fg_callback;

static int fg_callback_run(void *a)
{
    fg_callback *c = a;
    c->cb(c->stream, fg_check_sticky(), c->user);
    return 0;
}

CUresult cuStreamAddCallback(CUstream hStream, CUstreamCallback callback, void *userData,
                             unsigned int flags)
{
    fg_work_count_call();
    CUresult r = fg_stream_check(hStream);
    if (r)
        return r;
    if (!callback || flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    fg_callback *c = malloc(sizeof *c);
    if (!c)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *c = (fg_callback){hStream, callback, userData};
    return (CUresult)fg_sched_submit(fg_sched_stream(hStream), fg_callback_run, c, free, 0,
                                     FG_ITEM_HOST, NULL);
}
