/* cudart_stream.c — streams, events and the synchronisation calls that flush the batch. */
#include "shim/shim_int.h"

#include <stdlib.h>
#include <string.h>

uint32_t shim_stream_id(cudaStream_t s)
{
    /* NULL, cudaStreamLegacy and cudaStreamPerThread all map to the session's default
     * stream: Genie keeps one default stream per process */
    if (s == NULL || s == cudaStreamLegacy || s == cudaStreamPerThread)
        return 0;
    /* looked up, not read through: a destroyed or made-up handle is never dereferenced */
    shim_lock();
    uint32_t id = shim_handle_is(s, SHIM_STREAM_MAGIC) ? ((const shim_stream *)s)->id : UINT32_MAX;
    shim_unlock();
    return id;
}

/* Lock held (the caller keeps it while it uses the event). */
static shim_event *event_of(cudaEvent_t e)
{
    return shim_handle_is(e, SHIM_EVENT_MAGIC) ? (shim_event *)e : NULL;
}

/* ---- streams ---- */

static cudaError_t stream_create(cudaStream_t *out, unsigned flags, int priority)
{
    if (flags & ~(unsigned)cudaStreamNonBlocking)
        return shim_set_error(cudaErrorInvalidValue);
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess) {
        shim_stream *s = calloc(1, sizeof *s);
        if (!s) {
            e = shim_set_error(cudaErrorMemoryAllocation);
        } else {
            s->magic = SHIM_STREAM_MAGIC;
            s->id = shim_g.next_stream++;
            s->flags = flags;
            /* clamp like the runtime: [greatest, least] = [-5, 0] on current GPUs */
            s->priority = priority > 0 ? 0 : priority < -5 ? -5 : priority;
            shim_rec r;
            shim_batch_begin(&r);
            if (shim_handle_add(s, SHIM_STREAM_MAGIC)) {
                free(s);
                e = shim_set_error(cudaErrorMemoryAllocation);
            } else if (!SHIM_PUT(&r, STREAM_CREATE, s->id, flags, s->priority)) {
                shim_handle_del(s);
                free(s);
                e = shim_batch_fail(&r);
            } else if (shim_sem_op(SEM_OP_HANDLE, PROTO_OP_STREAM_CREATE, s->id),
                       (e = shim_batch_commit(&r, SHIM_NO_STREAM, 0)), !r.committed) {
                shim_handle_del(s);
                free(s);
            } else {
                *out = (cudaStream_t)s;
            }
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaStreamCreate(cudaStream_t *pStream)
{
    return stream_create(pStream, 0, 0);
}

cudaError_t shim_impl_cudaStreamCreateWithFlags(cudaStream_t *pStream, unsigned int flags)
{
    return stream_create(pStream, flags, 0);
}

cudaError_t shim_impl_cudaStreamCreateWithPriority(cudaStream_t *pStream, unsigned int flags,
                                                   int priority)
{
    return stream_create(pStream, flags, priority);
}

cudaError_t shim_impl_cudaStreamGetPriority(cudaStream_t hStream, int *priority)
{
    shim_lock();
    uint32_t id = shim_stream_id(hStream);
    cudaError_t e = cudaSuccess;
    if (id == UINT32_MAX)
        e = shim_set_error(cudaErrorInvalidResourceHandle);
    else
        *priority = id ? ((shim_stream *)hStream)->priority : 0;
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaStreamGetFlags(cudaStream_t hStream, unsigned int *flags)
{
    shim_lock();
    uint32_t id = shim_stream_id(hStream);
    cudaError_t e = cudaSuccess;
    if (id == UINT32_MAX)
        e = shim_set_error(cudaErrorInvalidResourceHandle);
    else
        *flags = id ? ((shim_stream *)hStream)->flags : 0;
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaStreamDestroy(cudaStream_t stream)
{
    /* checked and freed under one hold of the lock: two threads destroying the same stream
     * cannot both pass the check */
    shim_lock();
    uint32_t id = shim_stream_id(stream);
    cudaError_t e;
    if (id == UINT32_MAX || id == 0) {
        e = shim_set_error(cudaErrorInvalidResourceHandle);
    } else if ((e = shim_ensure()) == cudaSuccess) {
        shim_rec r;
        shim_batch_begin(&r);
        if (!SHIM_PUT(&r, STREAM_DESTROY, id)) {
            e = shim_batch_fail(&r);
        } else if (shim_sem_op(SEM_OP_HANDLE, PROTO_OP_STREAM_DESTROY, id),
                   (e = shim_batch_commit(&r, SHIM_NO_STREAM, 0)), r.committed) {
            shim_capture_stream_gone(id); /* its capture, if any, ends with it */
            shim_handle_del(stream); /* later use is an invalid handle */
            ((shim_stream *)stream)->magic = 0;
            free(stream);
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event,
                                          unsigned int flags)
{
    shim_lock();
    uint32_t id = shim_stream_id(stream);
    shim_event *ev = event_of(event);
    if (id == UINT32_MAX || !ev) {
        shim_unlock();
        return shim_set_error(cudaErrorInvalidResourceHandle);
    }
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess && (ev->capture || shim_capturing(id))) {
        /* inside a capture, or another stream joining one (shim/graph.c) */
        e = shim_capture_wait(id, ev);
    } else if (e == cudaSuccess) {
        shim_rec r;
        shim_batch_begin(&r);
        if (!SHIM_PUT(&r, STREAM_WAIT_EVENT, id, ev->id, flags)) {
            e = shim_batch_fail(&r);
        } else {
            shim_sem_op(SEM_OP_STREAM_WAIT, PROTO_OP_STREAM_WAIT_EVENT, id)->event = ev->id;
            e = shim_batch_commit(&r, id, 0);
        }
    }
    shim_unlock();
    return e;
}

/* Ends a sync op begun with r whose record put returned rec (wire op, on stream, of event),
 * and flushes. With value, the op's R_VALUE status is the result and its value goes to
 * *value. elidable (a stream or device sync): the sync pass may let it go without waiting. */
static cudaError_t sync_op(shim_rec *r, uint64_t *value, uint8_t *rec, uint16_t op,
                           uint32_t stream, uint32_t event, int elidable)
{
    if (!rec)
        return shim_batch_fail(r);
    /* GENIE_SYNC_ELISION (semantics/passes.c), asked before the sync's own descriptor is
     * staged: the IR then holds exactly the batch it ends. Nothing of it may come back to the
     * host (no D2H copy, no event record, nothing undescribed), and nothing of a batch still
     * in flight either. */
    int elide = elidable && !value && shim_g.pol.sync_elision &&
                shim_batch_reply_bytes() == 0 && !shim_inflight_observable() &&
                sem_pass_sync_elide(&shim_g.pol, &shim_g.ir);
    shim_sem_op(SEM_OP_SYNC, op, stream)->event = event;
    if (value)
        shim_batch_want_reply(r, NULL, 0);
    cudaError_t e = shim_batch_commit(r, SHIM_NO_STREAM, SHIM_COMMIT_HOLD);
    if (e != cudaSuccess)
        return e; /* rolled back whole: the batch is as it was */
    if (elide) {
        /* sent, not waited for: an error of the batch surfaces at the next sync that waits */
        shim_g.stats.syncs_elided++;
        return shim_flush_nowait();
    }
    e = shim_flush(SHIM_RT_SYNC);
    if (e != cudaSuccess || !value)
        return e;
    /* the flush reset the batch but the slot's memory holds the reply */
    const shim_slot *sl = shim_batch_result(r->slot);
    if (!sl->filled)
        return shim_set_error(cudaErrorUnknown);
    *value = sl->value;
    return (cudaError_t)sl->status;
}

/* A stream sync; elidable: the sync pass may send it without waiting (a host function's
 * drain may not: the function may read what the stream computed). */
static cudaError_t stream_sync(cudaStream_t stream, int elidable)
{
    uint32_t id = shim_stream_id(stream);
    if (id == UINT32_MAX)
        return shim_set_error(cudaErrorInvalidResourceHandle);
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess)
        e = shim_capture_forbid(id, "cudaStreamSynchronize");
    if (e == cudaSuccess && shim_batch_empty() &&
        (shim_g.clean == SHIM_CLEAN_ALL || shim_g.clean == (int64_t)id) &&
        (elidable || !shim_inflight_count())) {
        shim_unlock();
        return cudaSuccess; /* drained by the last flush, nothing recorded since */
    }
    if (e == cudaSuccess) {
        shim_g.clean_after = id;
        shim_rec r;
        shim_batch_begin(&r);
        e = sync_op(&r, NULL, SHIM_PUT(&r, STREAM_SYNC, id), PROTO_OP_STREAM_SYNC, id, 0,
                    elidable);
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaStreamSynchronize(cudaStream_t stream)
{
    return stream_sync(stream, 1);
}

cudaError_t shim_impl_cudaStreamQuery(cudaStream_t stream)
{
    uint32_t id = shim_stream_id(stream);
    if (id == UINT32_MAX)
        return shim_set_error(cudaErrorInvalidResourceHandle);
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess)
        e = shim_capture_forbid(id, "cudaStreamQuery");
    if (e == cudaSuccess) {
        uint64_t v;
        shim_rec r;
        shim_batch_begin(&r);
        e = sync_op(&r, &v, SHIM_PUT(&r, STREAM_QUERY, id), PROTO_OP_STREAM_QUERY, id, 0, 0);
    }
    shim_unlock();
    return e; /* cudaErrorNotReady is not recorded as the last error, as in the runtime */
}

cudaError_t shim_impl_cudaDeviceSynchronize(void)
{
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess)
        e = shim_capture_forbid(SHIM_CAPTURE_ANY, "cudaDeviceSynchronize");
    if (e == cudaSuccess && shim_batch_empty() && shim_g.clean == SHIM_CLEAN_ALL) {
        shim_unlock();
        return cudaSuccess;
    }
    if (e == cudaSuccess) {
        shim_g.clean_after = SHIM_CLEAN_ALL;
        shim_rec r;
        shim_batch_begin(&r);
        e = sync_op(&r, NULL, SHIM_PUT(&r, DEVICE_SYNC, 0), PROTO_OP_DEVICE_SYNC, 0, 0, 1);
    }
    shim_unlock();
    return e;
}

/* ---- events ---- */

static cudaError_t event_create(cudaEvent_t *out, unsigned flags)
{
    if (flags & ~(unsigned)(cudaEventBlockingSync | cudaEventDisableTiming))
        return shim_set_error(cudaErrorInvalidValue); /* interprocess events cannot cross */
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess) {
        shim_event *ev = calloc(1, sizeof *ev);
        if (!ev) {
            e = shim_set_error(cudaErrorMemoryAllocation);
        } else {
            ev->magic = SHIM_EVENT_MAGIC;
            ev->id = shim_g.next_event++;
            ev->flags = flags;
            shim_rec r;
            shim_batch_begin(&r);
            if (shim_handle_add(ev, SHIM_EVENT_MAGIC)) {
                free(ev);
                e = shim_set_error(cudaErrorMemoryAllocation);
            } else if (!SHIM_PUT(&r, EVENT_CREATE, ev->id, flags)) {
                shim_handle_del(ev);
                free(ev);
                e = shim_batch_fail(&r);
            } else if ((shim_sem_op(SEM_OP_HANDLE, PROTO_OP_EVENT_CREATE, 0)->event = ev->id),
                       (e = shim_batch_commit(&r, SHIM_NO_STREAM, 0)), !r.committed) {
                shim_handle_del(ev);
                free(ev);
            } else {
                *out = (cudaEvent_t)ev;
            }
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaEventCreate(cudaEvent_t *event) { return event_create(event, 0); }

cudaError_t shim_impl_cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags)
{
    return event_create(event, flags);
}

static cudaError_t event_record(cudaEvent_t event, cudaStream_t stream)
{
    shim_lock();
    shim_event *ev = event_of(event);
    uint32_t sid = shim_stream_id(stream);
    if (!ev || sid == UINT32_MAX) {
        shim_unlock();
        return shim_set_error(cudaErrorInvalidResourceHandle);
    }
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess && shim_capturing(sid)) {
        /* in a capture an event record is no work, only a point other streams could wait
         * for (shim/graph.c) */
        e = shim_capture_event(sid, ev);
    } else if (e == cudaSuccess) {
        shim_rec r;
        shim_batch_begin(&r);
        if (!SHIM_PUT(&r, EVENT_RECORD, ev->id, sid)) {
            e = shim_batch_fail(&r);
        } else {
            shim_sem_op(SEM_OP_EVENT_RECORD, PROTO_OP_EVENT_RECORD, sid)->event = ev->id;
            /* recorded when the record was committed (and went out): an error here may be
             * an earlier op's, returned by a flush the record rode along with */
            e = shim_batch_commit(&r, sid, 0);
            if (r.committed) {
                ev->recorded = 1;
                ev->capture = 0;
            }
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
    return event_record(event, stream);
}

cudaError_t shim_impl_cudaEventRecordWithFlags(cudaEvent_t event, cudaStream_t stream,
                                               unsigned int flags)
{
    if (flags & ~(unsigned)cudaEventRecordExternal)
        return shim_set_error(cudaErrorInvalidValue);
    return event_record(event, stream);
}

cudaError_t shim_impl_cudaEventQuery(cudaEvent_t event)
{
    shim_lock();
    shim_event *ev = event_of(event);
    if (!ev) {
        shim_unlock();
        return shim_set_error(cudaErrorInvalidResourceHandle);
    }
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess)
        e = shim_capture_event_use(ev, "cudaEventQuery");
    if (e == cudaSuccess) {
        if (!ev->recorded && shim_batch_empty())
            e = cudaSuccess; /* a never-recorded event is complete */
        else
        {
            uint64_t v;
            shim_rec r;
            shim_batch_begin(&r);
            e = sync_op(&r, &v, SHIM_PUT(&r, EVENT_QUERY, ev->id), PROTO_OP_EVENT_QUERY, 0,
                        ev->id, 0);
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaEventSynchronize(cudaEvent_t event)
{
    shim_lock();
    shim_event *ev = event_of(event);
    if (!ev) {
        shim_unlock();
        return shim_set_error(cudaErrorInvalidResourceHandle);
    }
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess)
        e = shim_capture_event_use(ev, "cudaEventSynchronize");
    if (e == cudaSuccess) {
        shim_rec r;
        shim_batch_begin(&r);
        e = sync_op(&r, NULL, SHIM_PUT(&r, EVENT_SYNC, ev->id), PROTO_OP_EVENT_SYNC, 0,
                    ev->id, 0);
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaEventDestroy(cudaEvent_t event)
{
    shim_lock();
    shim_event *ev = event_of(event);
    if (!ev) {
        shim_unlock();
        return shim_set_error(cudaErrorInvalidResourceHandle);
    }
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess) {
        shim_rec r;
        shim_batch_begin(&r);
        if (!SHIM_PUT(&r, EVENT_DESTROY, ev->id)) {
            e = shim_batch_fail(&r);
        } else if ((shim_sem_op(SEM_OP_HANDLE, PROTO_OP_EVENT_DESTROY, 0)->event = ev->id),
                   (e = shim_batch_commit(&r, SHIM_NO_STREAM, 0)), r.committed) {
            shim_handle_del(ev);
            ev->magic = 0;
            free(ev);
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
    shim_lock();
    shim_event *a = event_of(start), *b = event_of(end);
    if (!a || !b || ((a->flags | b->flags) & cudaEventDisableTiming) || !a->recorded ||
        !b->recorded) {
        shim_unlock();
        return shim_set_error(cudaErrorInvalidResourceHandle);
    }
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess) {
        uint64_t v = 0;
        shim_rec r;
        shim_batch_begin(&r);
        e = sync_op(&r, &v, SHIM_PUT(&r, EVENT_ELAPSED, a->id, b->id),
                    PROTO_OP_EVENT_ELAPSED, 0, b->id, 0);
        if (e == cudaSuccess) {
            uint32_t bits = (uint32_t)v;
            memcpy(ms, &bits, sizeof bits);
        } else {
            shim_set_error(e);
        }
    }
    shim_unlock();
    return e;
}

/* ---- host functions ----
 * A host function must run after all work enqueued on its stream before it has completed,
 * and before any work enqueued after it starts. Genie drains the stream (a STREAM_SYNC: one
 * round trip, none when the stream is already drained) and then calls the function on the
 * calling thread, before the enqueueing call returns: later work cannot have been enqueued
 * yet, so both orderings hold. The shim's lock is not held during the call, so a function
 * that (against the documentation) calls CUDA does not deadlock on it. What differs from the
 * runtime, which runs host functions on a thread of its own: the function has run when the
 * enqueueing call returns (the program blocks for it), and a function that waits for
 * something the enqueueing thread does only after enqueueing it deadlocks. */

/* Drains stream sid for a host function of what; lock held. */
static cudaError_t host_fn_drain(cudaStream_t stream, uint32_t sid, const char *what)
{
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess)
        e = shim_capture_forbid(sid, what); /* the legacy stream during a blocking capture */
    if (e == cudaSuccess)
        e = stream_sync(stream, 0);
    return e;
}

cudaError_t shim_impl_cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void *userData)
{
    uint32_t sid = shim_stream_id(stream);
    if (sid == UINT32_MAX)
        return shim_set_error(cudaErrorInvalidResourceHandle);
    if (!fn)
        return shim_set_error(cudaErrorInvalidValue);
    shim_lock();
    cudaError_t e = shim_ensure();
    /* in a capture this is a host node, which the executor's replay cannot call back into
     * the client for: refused (and the capture invalidated) rather than run once now */
    if (e == cudaSuccess)
        e = shim_capture_unsupported(sid, "a host function node (cudaLaunchHostFunc)");
    if (e == cudaSuccess)
        e = host_fn_drain(stream, sid, "cudaLaunchHostFunc");
    shim_unlock();
    /* "the function will not be called in the event of an error in the CUDA context" */
    if (e == cudaSuccess) {
        unsigned held = shim_release(); /* the wrapper's hold too: the program runs unlocked */
        fn(userData);
        shim_reacquire(held);
    }
    return e;
}

cudaError_t shim_impl_cudaStreamAddCallback(cudaStream_t stream, cudaStreamCallback_t callback,
                                            void *userData, unsigned int flags)
{
    uint32_t sid = shim_stream_id(stream);
    if (sid == UINT32_MAX)
        return shim_set_error(cudaErrorInvalidResourceHandle);
    if (!callback || flags != 0) /* "flags: reserved for future use, must be 0" */
        return shim_set_error(cudaErrorInvalidValue);
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e != cudaSuccess) {
        shim_unlock();
        return e;
    }
    /* stream callbacks cannot be captured (cudaLaunchHostFunc can): refused as the runtime
     * refuses them, invalidating the capture */
    if ((e = shim_capture_forbid(sid, "cudaStreamAddCallback")) != cudaSuccess) {
        shim_unlock();
        return e;
    }
    e = host_fn_drain(stream, sid, "cudaStreamAddCallback");
    shim_unlock();
    /* a callback runs even after an error and is told it: the status of the stream's work */
    unsigned held = shim_release(); /* the wrapper's hold too: the program runs unlocked */
    callback(stream, e, userData);
    shim_reacquire(held);
    return e;
}

/* ---- cudaDeviceReset ---- */

static void forget_one(void *h)
{
    shim_handle_del(h);
    free(h);
}

void shim_streams_forget(void)
{
    SHIM_HELD();
    shim_handles_each(SHIM_STREAM_MAGIC, forget_one);
    shim_handles_each(SHIM_EVENT_MAGIC, forget_one);
}

/* ---- stream identity, answered on the client ---- */

/* A created stream's client ID is unique in the process (IDs are never reused); the legacy
 * default stream is the session's stream 0. */
cudaError_t shim_impl_cudaStreamGetId(cudaStream_t hStream, unsigned long long *streamId)
{
    uint32_t id = shim_stream_id(hStream);
    if (id == UINT32_MAX)
        return shim_set_error(cudaErrorInvalidResourceHandle);
    *streamId = id;
    return cudaSuccess;
}

cudaError_t shim_impl_cudaStreamGetDevice(cudaStream_t hStream, int *device)
{
    if (shim_stream_id(hStream) == UINT32_MAX)
        return shim_set_error(cudaErrorInvalidResourceHandle);
    *device = 0;
    return cudaSuccess;
}
