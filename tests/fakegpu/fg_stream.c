/* fg_stream.c — fake streams and events: work completes at issue, so they validate and stamp. */
#include "fakegpu_int.h"

#include <stdlib.h>
#include <time.h>

typedef struct fg_stream {
    unsigned flags;
    int prio;
} fg_stream;

typedef struct fg_event {
    unsigned flags;
    int recorded;
    uint64_t ns; /* CLOCK_MONOTONIC at the last record */
} fg_event;

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
    fg_stream *s = malloc(sizeof *s);
    if (!s)
        return CUDA_ERROR_OUT_OF_MEMORY;
    /* Out-of-range priorities are clamped, as the driver documents. */
    s->flags = flags;
    s->prio = prio > 0 ? 0 : prio < -5 ? -5 : prio;
    FG_LOCK();
    int bad = fg_handle_add(s, FG_H_STREAM);
    FG_UNLOCK();
    if (bad) {
        free(s);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *ph = (CUstream)s;
    return CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
    return fg_stream_new(phStream, Flags, 0);
}

CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
    return fg_stream_new(phStream, flags, priority);
}

CUresult cuStreamDestroy(CUstream hStream)
{
    CUresult r = fg_check_init();
    if (r)
        return r;
    FG_LOCK();
    if (!fg_handle_is(hStream, FG_H_STREAM)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    fg_handle_del(hStream);
    FG_UNLOCK();
    free(hStream);
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
    return fg_stream_check(hStream);
}

CUresult cuStreamQuery(CUstream hStream)
{
    return fg_stream_check(hStream);
}

CUresult cuStreamGetPriority(CUstream hStream, int *priority)
{
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

CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    CUresult r = fg_check_stream_ctx(hStream);
    if (r)
        return r;
    if (Flags & ~(unsigned)CU_EVENT_WAIT_EXTERNAL)
        return CUDA_ERROR_INVALID_VALUE;
    FG_LOCK();
    int ok = fg_stream_ok(hStream) && fg_handle_is(hEvent, FG_H_EVENT);
    FG_UNLOCK();
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
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

CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
    CUresult r = fg_check_stream_ctx(hStream);
    if (r)
        return r;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    FG_LOCK();
    if (!fg_handle_is(hEvent, FG_H_EVENT) || !fg_stream_ok(hStream)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    fg_event *e = (fg_event *)hEvent;
    e->recorded = 1;
    e->ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    FG_UNLOCK();
    return CUDA_SUCCESS;
}

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

CUresult cuEventQuery(CUevent hEvent)
{
    return fg_event_check(hEvent);
}

CUresult cuEventSynchronize(CUevent hEvent)
{
    return fg_event_check(hEvent);
}

CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    CUresult r = fg_check_init();
    if (r)
        return r;
    if (!pMilliseconds)
        return CUDA_ERROR_INVALID_VALUE;
    FG_LOCK();
    if (!fg_handle_is(hStart, FG_H_EVENT) || !fg_handle_is(hEnd, FG_H_EVENT)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    const fg_event *a = (const fg_event *)hStart, *b = (const fg_event *)hEnd;
    /* Unrecorded or timing-disabled events: INVALID_HANDLE, as the driver answers. */
    if (!a->recorded || !b->recorded || ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING)) {
        FG_UNLOCK();
        return CUDA_ERROR_INVALID_HANDLE;
    }
    *pMilliseconds = (float)((double)((int64_t)(b->ns - a->ns)) / 1e6);
    FG_UNLOCK();
    return CUDA_SUCCESS;
}

CUresult cuEventDestroy(CUevent hEvent)
{
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
    free(hEvent);
    return CUDA_SUCCESS;
}
