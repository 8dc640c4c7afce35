/* trace.c — the executor's side of GENIE_TRACE_FILE: stream work of flagged frames timed with
 * events, sent back as R_TRACE.
 *
 * For a frame flagged PROTO_FRAME_TRACE, every op that puts work on a stream (launches, copies,
 * memsets, Lt matmuls, graph launches) is bracketed by two timing events on the stream it
 * resolved (exec_stream arms the first, the batch loop records the second after the op). The
 * pair waits in a pending list until its end event has completed; the reply of each traced
 * frame carries the pairs that completed by then, converted to the server's clock through one
 * base event recorded and synchronised on the NULL stream when the session's first traced
 * frame arrives (t = base_ns + elapsed(base, event)). Nothing here runs for a frame without the
 * flag: a session that never traces creates no event. */
#include "remote/exec_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct trace_pair {
    CUevent a, b;
    uint32_t seq, index, stream;
    uint16_t op;
} trace_pair;

struct exec_trace {
    CUevent base;
    uint64_t base_ns;
    trace_pair *pend; /* in record order */
    size_t npend, cap;
    CUevent *pool; /* completed events, reused */
    size_t npool, cappool;
    trace_pair cur; /* the op being run: its start recorded by exec_trace_arm */
    CUstream cur_stream;
    int armed;
    int broken; /* an event call failed: tracing stops for the session (logged once) */
};

/* Ops whose stream work is timed. */
int exec_trace_wanted(uint16_t op)
{
    switch (op) {
    case PROTO_OP_LAUNCH:
    case PROTO_OP_MEMCPY_H2D:
    case PROTO_OP_MEMCPY_D2H:
    case PROTO_OP_MEMCPY_D2D:
    case PROTO_OP_MEMSET:
    case PROTO_OP_MEMCPY_H2D_CACHED:
    case PROTO_OP_MEMCPY_H2D_STORE:
    case PROTO_OP_LT_MATMUL:
    case PROTO_OP_GRAPH_LAUNCH:
        return 1;
    default:
        return 0;
    }
}

static void broke(exec_session *s, CUresult r, const char *what)
{
    char nb[32];
    if (!s->trace->broken)
        GENIE_WARN("session %u: tracing stops: %s: %s", s->id, what,
                   exec_cu_name(&s->ctx->drv, r, nb, sizeof nb));
    s->trace->broken = 1;
}

static CUevent ev_get(exec_session *s)
{
    exec_trace *t = s->trace;
    if (t->npool)
        return t->pool[--t->npool];
    CUevent e = NULL;
    CUresult r = s->ctx->drv.EventCreate(&e, CU_EVENT_DEFAULT); /* timing on */
    if (r) {
        broke(s, r, "cuEventCreate");
        return NULL;
    }
    return e;
}

static void ev_put(exec_session *s, CUevent e)
{
    exec_trace *t = s->trace;
    if (!e)
        return;
    if (t->npool == t->cappool) {
        size_t cap = t->cappool ? 2 * t->cappool : 64;
        CUevent *p = realloc(t->pool, cap * sizeof *p);
        if (!p) {
            s->ctx->drv.EventDestroy(e);
            return;
        }
        t->pool = p;
        t->cappool = cap;
    }
    t->pool[t->npool++] = e;
}

int exec_trace_frame_begin(exec_session *s)
{
    exec_driver *d = &s->ctx->drv;
    if (!s->trace) {
        exec_trace *t = calloc(1, sizeof *t);
        if (!t)
            return GENIE_ENOMEM;
        s->trace = t;
        CUresult r = d->EventCreate(&t->base, CU_EVENT_DEFAULT);
        if (!r)
            r = d->EventRecord(t->base, NULL);
        if (!r)
            r = d->EventSynchronize(t->base);
        if (r) {
            broke(s, r, "the base event");
            return 0;
        }
        t->base_ns = genie_now_ns();
    }
    return 0;
}

void exec_trace_arm(exec_session *s, uint32_t id, CUstream st)
{
    exec_trace *t = s->trace;
    if (!t || t->broken || t->armed || !s->trace_op)
        return;
    CUevent a = ev_get(s), b = a ? ev_get(s) : NULL;
    if (!b) {
        ev_put(s, a);
        return;
    }
    CUresult r = s->ctx->drv.EventRecord(a, st);
    if (r) {
        ev_put(s, a);
        ev_put(s, b);
        broke(s, r, "cuEventRecord");
        return;
    }
    t->cur = (trace_pair){.a = a,
                          .b = b,
                          .seq = s->trace_seq,
                          .index = s->trace_index,
                          .stream = id,
                          .op = s->trace_op};
    t->cur_stream = st;
    t->armed = 1;
}

void exec_trace_op_done(exec_session *s)
{
    exec_trace *t = s->trace;
    if (!t || !t->armed)
        return;
    t->armed = 0;
    CUresult r = s->ctx->drv.EventRecord(t->cur.b, t->cur_stream);
    if (!r && t->npend == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        trace_pair *p = realloc(t->pend, cap * sizeof *p);
        if (!p)
            r = CUDA_ERROR_OUT_OF_MEMORY;
        else
            t->pend = p, t->cap = cap;
    }
    if (r) {
        /* the start event may still be pending on the stream: recycling it is safe, a
         * later record replaces the earlier one */
        ev_put(s, t->cur.a);
        ev_put(s, t->cur.b);
        if (r != CUDA_ERROR_OUT_OF_MEMORY)
            broke(s, r, "cuEventRecord");
        return;
    }
    t->pend[t->npend++] = t->cur;
}

/* ns since base of event e, or -1 while it has not completed. */
static int64_t at(exec_session *s, CUevent e)
{
    float ms = 0;
    CUresult r = s->ctx->drv.EventQuery(e);
    if (r == CUDA_ERROR_NOT_READY)
        return -1;
    if (!r)
        r = EXEC_CU(&s->ctx->drv, EventElapsedTime, &ms, s->trace->base, e);
    if (r) {
        broke(s, r, "cuEventElapsedTime");
        return -2;
    }
    return (int64_t)((double)ms * 1e6);
}

int exec_trace_reply(exec_session *s, uint64_t recv_ns)
{
    exec_trace *t = s->trace;
    uint64_t done = genie_now_ns(), skew = (uint64_t)s->clock_skew;
    size_t n = 0;
    proto_trace_span *sp = NULL;
    if (t && t->npend)
        sp = malloc(t->npend * sizeof *sp);
    size_t keep = 0;
    for (size_t i = 0; t && i < t->npend; i++) {
        trace_pair *p = &t->pend[i];
        int64_t tb = sp && !t->broken ? at(s, p->b) : -2, ta = tb >= 0 ? at(s, p->a) : tb;
        if (tb == -1 || (tb >= 0 && ta == -1)) { /* still running: next reply */
            t->pend[keep++] = *p;
            continue;
        }
        if (tb >= 0 && ta >= 0)
            sp[n++] = (proto_trace_span){.seq = p->seq,
                                         .index = p->index,
                                         .stream = p->stream,
                                         .op = p->op,
                                         .t0 = t->base_ns + skew + (uint64_t)ta,
                                         .t1 = t->base_ns + skew + (uint64_t)tb};
        ev_put(s, p->a); /* given up (broken, no memory) or reported */
        ev_put(s, p->b);
    }
    if (t)
        t->npend = keep;
    uint8_t *out =
        proto_put_R_TRACE(&s->reply, recv_ns + skew, done + skew, (uint32_t)n, n * sizeof *sp);
    if (out && n)
        memcpy(out, sp, n * sizeof *sp);
    free(sp);
    return out ? 0 : GENIE_ENOMEM;
}

void exec_trace_session_close(exec_session *s)
{
    exec_trace *t = s->trace;
    if (!t)
        return;
    exec_driver *d = &s->ctx->drv;
    for (size_t i = 0; i < t->npend; i++) {
        d->EventDestroy(t->pend[i].a);
        d->EventDestroy(t->pend[i].b);
    }
    for (size_t i = 0; i < t->npool; i++)
        d->EventDestroy(t->pool[i]);
    if (t->armed) {
        d->EventDestroy(t->cur.a);
        d->EventDestroy(t->cur.b);
    }
    if (t->base)
        d->EventDestroy(t->base);
    free(t->pend);
    free(t->pool);
    free(t);
    s->trace = NULL;
}
