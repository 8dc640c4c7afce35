/* graph.c — CUDA graphs by stream capture: captured records become a graph the executor replays.
 *
 * cudaStreamBeginCapture starts a capture on a stream: from then on the records of its work
 * (launches, D2D and H2D copies, memsets, cuBLAS calls and cuBLASLt matmuls on it) go into
 * the capture instead of the batch, and nothing is sent. cudaStreamEndCapture turns them into
 * a client cudaGraph_t; cudaGraphInstantiate ships them once as GRAPH_DEFINE (in the batch,
 * no round trip) under a new graph ID; cudaGraphLaunch records one GRAPH_LAUNCH into the
 * batch, carrying the bytes of the captured H2D copies read from the program's memory then
 * (a copy node reads host memory each time the graph runs). Graphs and executable graphs are
 * client objects in the live-handle table, like streams and events.
 *
 * Single-stream capture only: another stream joining the capture (cudaStreamWaitEvent on an
 * event recorded in it) is refused with cudaErrorNotSupported and a log line, never run out
 * of order. */
#include "shim/shim_blas.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/graph.h"

typedef struct shim_h2d_node {
    const void *src; /* the program's memory, read at each launch */
    uint64_t size;
} shim_h2d_node;

typedef struct shim_capture {
    struct shim_capture *next;
    uint32_t origin; /* the capturing stream */
    unsigned long long id;
    enum cudaStreamCaptureMode mode;
    pthread_t thread;
    int blocking;        /* the origin synchronises with the legacy stream */
    cudaError_t invalid; /* why the capture was invalidated, or cudaSuccess */
    genie_buf recs;
    uint32_t nrec;
    shim_h2d_node *h2d;
    uint32_t nh2d, caph2d;
    uint64_t h2d_bytes;
} shim_capture;

/* cudaGraph_t */
typedef struct shim_graph {
    SHIM_HANDLE_FIELDS /* id: unused (a graph has no wire ID until instantiated) */
    uint32_t origin;
    genie_buf recs;
    uint32_t nrec;
    shim_h2d_node *h2d;
    uint32_t nh2d;
    uint64_t h2d_bytes;
    unsigned char *nodes; /* nrec bytes: &nodes[i] is node i's handle (cudaGraphGetNodes) */
} shim_graph;
#define SHIM_GRAPH_MAGIC 0x47524150u

/* cudaGraphExec_t: independent of its graph once made, as in the runtime */
typedef struct shim_graph_exec {
    SHIM_HANDLE_FIELDS /* id: the executor's graph ID */
    shim_h2d_node *h2d;
    uint32_t nh2d;
    uint64_t h2d_bytes;
} shim_graph_exec;
#define SHIM_GEXEC_MAGIC 0x47455845u

static __thread enum cudaStreamCaptureMode thread_mode = cudaStreamCaptureModeGlobal;

/* ------------------------------------------------------------- the capture ---- */

static shim_capture *capture_of(uint32_t sid)
{
    for (shim_capture *c = shim_g.captures; c; c = c->next)
        if (c->origin == sid)
            return c;
    return NULL;
}

int shim_capturing(uint32_t sid)
{
    return shim_g.ncaptures && capture_of(sid) != NULL;
}

static void capture_free(shim_capture *c)
{
    genie_buf_free(&c->recs);
    free(c->h2d);
    free(c);
}

static void capture_unlink(shim_capture *c)
{
    for (shim_capture **p = &shim_g.captures; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            shim_g.ncaptures--;
            return;
        }
}

static cudaError_t invalidate(shim_capture *c, cudaError_t why, const char *what)
{
    if (c->invalid == cudaSuccess) {
        GENIE_WARN("stream capture %llu (stream %u) invalidated: %s (%s)", c->id, c->origin, what,
                   cudaGetErrorName(why));
        c->invalid = why;
    }
    return shim_set_error(why);
}

/* The capture that makes work on the legacy stream illegal: one whose origin is a blocking
 * stream (the legacy stream synchronises with those, so the work would depend on the capture:
 * cudaErrorStreamCaptureImplicit in the runtime), NULL when none. */
static shim_capture *legacy_conflict(void)
{
    for (shim_capture *c = shim_g.captures; c; c = c->next)
        if (c->blocking)
            return c;
    return NULL;
}

cudaError_t shim_capture_forbid(uint32_t sid, const char *what)
{
    if (!shim_g.ncaptures)
        return cudaSuccess;
    shim_capture *c;
    if (sid == SHIM_CAPTURE_ANY) {
        c = shim_g.captures;
        return invalidate(c, cudaErrorStreamCaptureUnsupported, what);
    }
    if ((c = capture_of(sid)))
        return invalidate(c, cudaErrorStreamCaptureUnsupported, what);
    if (sid == 0 && (c = legacy_conflict()))
        return invalidate(c, cudaErrorStreamCaptureImplicit, what);
    return cudaSuccess;
}

cudaError_t shim_capture_unsupported(uint32_t sid, const char *what)
{
    shim_capture *c = shim_g.ncaptures ? capture_of(sid) : NULL;
    if (!c)
        return cudaSuccess;
    return invalidate(c, cudaErrorNotSupported, what);
}

int shim_capture_take(uint32_t sid, const uint8_t *rec, size_t n, cudaError_t *e)
{
    shim_capture *c = capture_of(sid);
    if (!c) {
        if (sid == 0 && (c = legacy_conflict())) { /* the call fails: nothing of it stays */
            *e = invalidate(c, cudaErrorStreamCaptureImplicit,
                            "work on the legacy default stream during the capture");
            return 1;
        }
        return 0;
    }
    *e = cudaSuccess;
    if (c->invalid != cudaSuccess)
        *e = shim_set_error(cudaErrorStreamCaptureInvalidated);
    else if (c->recs.len + n > PROTO_GRAPH_MAX_BYTES)
        *e = invalidate(c, cudaErrorNotSupported, "graph larger than Genie's 1 GiB record limit");
    else if (genie_buf_append(&c->recs, rec, n))
        *e = invalidate(c, cudaErrorMemoryAllocation, "out of memory");
    else
        c->nrec++;
    return 1;
}

cudaError_t shim_capture_h2d(uint32_t sid, uint64_t dst, const void *src, size_t n)
{
    shim_capture *c = capture_of(sid);
    if (!c)
        return shim_set_error(cudaErrorUnknown);
    if (c->invalid != cudaSuccess)
        return shim_set_error(cudaErrorStreamCaptureInvalidated);
    if (c->h2d_bytes + n > PROTO_GRAPH_MAX_H2D)
        return invalidate(c, cudaErrorNotSupported,
                          "host-to-device copies in one graph above Genie's 64 MiB");
    if (c->recs.len + PROTO_REC_HDR_SIZE + 24 > PROTO_GRAPH_MAX_BYTES)
        return invalidate(c, cudaErrorNotSupported, "graph larger than Genie's 1 GiB record limit");
    if (c->nh2d == c->caph2d) {
        uint32_t cap = c->caph2d ? 2 * c->caph2d : 8;
        shim_h2d_node *h = realloc(c->h2d, cap * sizeof *h);
        if (!h)
            return invalidate(c, cudaErrorMemoryAllocation, "out of memory");
        c->h2d = h;
        c->caph2d = cap;
    }
    if (!proto_put_GRAPH_H2D(&c->recs, dst, n, sid))
        return invalidate(c, cudaErrorMemoryAllocation, "out of memory");
    c->h2d[c->nh2d++] = (shim_h2d_node){src, n};
    c->h2d_bytes += n;
    c->nrec++;
    return cudaSuccess;
}

void shim_capture_stream_gone(uint32_t sid)
{
    shim_capture *c = shim_g.ncaptures ? capture_of(sid) : NULL;
    if (c) {
        capture_unlink(c);
        capture_free(c);
    }
}

/* ------------------------------------------------------------ the runtime calls ---- */

cudaError_t shim_impl_cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode)
{
    if (mode != cudaStreamCaptureModeGlobal && mode != cudaStreamCaptureModeThreadLocal &&
        mode != cudaStreamCaptureModeRelaxed)
        return shim_set_error(cudaErrorInvalidValue);
    if (stream == cudaStreamPerThread) {
        /* Genie runs the per-thread stream as the legacy one, which cannot capture */
        GENIE_WARN("cudaStreamBeginCapture on cudaStreamPerThread is not supported by Genie "
                   "(it maps the per-thread stream to the legacy stream); capture on a created "
                   "stream");
        return shim_set_error(cudaErrorNotSupported);
    }
    shim_lock();
    uint32_t sid = shim_stream_id(stream);
    cudaError_t e = cudaSuccess;
    if (sid == UINT32_MAX)
        e = shim_set_error(cudaErrorInvalidResourceHandle);
    else if (sid == 0) /* the legacy stream cannot capture */
        e = shim_set_error(cudaErrorStreamCaptureUnsupported);
    else if (capture_of(sid))
        e = shim_set_error(cudaErrorIllegalState);
    else if ((e = shim_ensure()) == cudaSuccess) {
        shim_capture *c = calloc(1, sizeof *c);
        if (!c) {
            e = shim_set_error(cudaErrorMemoryAllocation);
        } else {
            c->origin = sid;
            c->id = ++shim_g.next_capture_id;
            c->mode = mode;
            c->thread = pthread_self();
            c->blocking = !(((shim_stream *)stream)->flags & cudaStreamNonBlocking);
            c->next = shim_g.captures;
            shim_g.captures = c;
            shim_g.ncaptures++;
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *pGraph)
{
    shim_lock();
    uint32_t sid = shim_stream_id(stream);
    shim_capture *c = sid == UINT32_MAX ? NULL : capture_of(sid);
    cudaError_t e = cudaSuccess;
    if (sid == UINT32_MAX) {
        e = shim_set_error(cudaErrorInvalidResourceHandle);
    } else if (!c) {
        e = shim_set_error(cudaErrorIllegalState);
    } else if (c->mode != cudaStreamCaptureModeRelaxed &&
               !pthread_equal(c->thread, pthread_self())) {
        e = shim_set_error(cudaErrorStreamCaptureWrongThread);
    } else {
        capture_unlink(c);
        *pGraph = NULL;
        if (c->invalid != cudaSuccess) {
            e = shim_set_error(cudaErrorStreamCaptureInvalidated);
        } else {
            shim_graph *g = calloc(1, sizeof *g);
            if (!g || !(g->nodes = calloc(c->nrec ? c->nrec : 1, 1)) ||
                shim_handle_add(g, SHIM_GRAPH_MAGIC)) {
                if (g)
                    free(g->nodes);
                free(g);
                e = shim_set_error(cudaErrorMemoryAllocation);
            } else {
                g->magic = SHIM_GRAPH_MAGIC;
                g->origin = c->origin;
                g->recs = c->recs; /* taken over */
                c->recs = (genie_buf){0};
                g->nrec = c->nrec;
                g->h2d = c->h2d;
                c->h2d = NULL;
                g->nh2d = c->nh2d;
                g->h2d_bytes = c->h2d_bytes;
                *pGraph = (cudaGraph_t)g;
            }
        }
        capture_free(c);
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaStreamIsCapturing(cudaStream_t stream,
                                            enum cudaStreamCaptureStatus *pCaptureStatus)
{
    shim_lock();
    uint32_t sid = shim_stream_id(stream);
    cudaError_t e = cudaSuccess;
    if (sid == UINT32_MAX) {
        e = shim_set_error(cudaErrorInvalidResourceHandle);
    } else {
        shim_capture *c = shim_g.ncaptures ? capture_of(sid) : NULL;
        *pCaptureStatus = !c                          ? cudaStreamCaptureStatusNone
                          : c->invalid != cudaSuccess ? cudaStreamCaptureStatusInvalidated
                                                      : cudaStreamCaptureStatusActive;
    }
    shim_unlock();
    return e;
}

/* The status and the capture's unique id; the graph being built and its dependency set are
 * not exposed (NULL, 0): Genie's capture is a list of records, not a graph of nodes yet. */
cudaError_t shim_impl_cudaStreamGetCaptureInfo(cudaStream_t stream,
                                               enum cudaStreamCaptureStatus *captureStatus_out,
                                               unsigned long long *id_out, cudaGraph_t *graph_out,
                                               const cudaGraphNode_t **dependencies_out,
                                               const cudaGraphEdgeData **edgeData_out,
                                               size_t *numDependencies_out)
{
    shim_lock();
    cudaError_t e = shim_impl_cudaStreamIsCapturing(stream, captureStatus_out);
    if (e == cudaSuccess) {
        shim_capture *c = shim_g.ncaptures ? capture_of(shim_stream_id(stream)) : NULL;
        if (id_out)
            *id_out = c ? c->id : 0;
        if (graph_out)
            *graph_out = NULL;
        if (dependencies_out)
            *dependencies_out = NULL;
        if (edgeData_out)
            *edgeData_out = NULL;
        if (numDependencies_out)
            *numDependencies_out = 0;
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaThreadExchangeStreamCaptureMode(enum cudaStreamCaptureMode *mode)
{
    enum cudaStreamCaptureMode m = *mode;
    if (m != cudaStreamCaptureModeGlobal && m != cudaStreamCaptureModeThreadLocal &&
        m != cudaStreamCaptureModeRelaxed)
        return shim_set_error(cudaErrorInvalidValue);
    /* The mode is kept and exchanged as the runtime does; Genie's checks of calls during a
     * capture do not depend on it (a sync of a capturing stream always fails, cudaMalloc
     * always works). */
    *mode = thread_mode;
    thread_mode = m;
    return cudaSuccess;
}

/* ---- graphs ---- */

static shim_graph *graph_of(cudaGraph_t g)
{
    return shim_handle_is(g, SHIM_GRAPH_MAGIC) ? (shim_graph *)g : NULL;
}

static shim_graph_exec *gexec_of(cudaGraphExec_t x)
{
    return shim_handle_is(x, SHIM_GEXEC_MAGIC) ? (shim_graph_exec *)x : NULL;
}

cudaError_t shim_impl_cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t *nodes, size_t *numNodes)
{
    shim_lock();
    shim_graph *g = graph_of(graph);
    cudaError_t e = cudaSuccess;
    if (!g) {
        e = shim_set_error(cudaErrorInvalidValue);
    } else if (!nodes) {
        *numNodes = g->nrec;
    } else {
        /* the handles name nodes for counting only: every node call is denied */
        for (size_t i = 0; i < *numNodes; i++)
            nodes[i] = i < g->nrec ? (cudaGraphNode_t)(void *)&g->nodes[i] : NULL;
        if (*numNodes > g->nrec)
            *numNodes = g->nrec;
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaGraphDestroy(cudaGraph_t graph)
{
    shim_lock();
    shim_graph *g = graph_of(graph);
    cudaError_t e = cudaSuccess;
    if (!g) {
        e = shim_set_error(cudaErrorInvalidValue);
    } else {
        shim_handle_del(g);
        g->magic = 0;
        genie_buf_free(&g->recs);
        free(g->h2d);
        free(g->nodes);
        free(g);
    }
    shim_unlock();
    return e;
}

static cudaError_t instantiate(cudaGraphExec_t *out, cudaGraph_t graph, unsigned long long flags)
{
    if (flags & cudaGraphInstantiateFlagDeviceLaunch) {
        GENIE_WARN("cudaGraphInstantiate: device launch (cudaGraphInstantiateFlagDeviceLaunch) "
                   "is not supported by Genie");
        return shim_set_error(cudaErrorNotSupported);
    }
    if (flags & ~(unsigned long long)(cudaGraphInstantiateFlagAutoFreeOnLaunch |
                                      cudaGraphInstantiateFlagUpload |
                                      cudaGraphInstantiateFlagUseNodePriority))
        return shim_set_error(cudaErrorInvalidValue);
    shim_lock();
    shim_graph *g = graph_of(graph);
    cudaError_t e;
    if (!g) {
        e = shim_set_error(cudaErrorInvalidValue);
    } else if ((e = shim_ensure()) == cudaSuccess) {
        shim_graph_exec *x = calloc(1, sizeof *x);
        if (x && g->nh2d && (x->h2d = malloc(g->nh2d * sizeof *x->h2d)))
            memcpy(x->h2d, g->h2d, g->nh2d * sizeof *x->h2d);
        uint8_t *p;
        shim_rec r;
        shim_batch_begin(&r);
        if (!x || (g->nh2d && !x->h2d) || shim_handle_add(x, SHIM_GEXEC_MAGIC)) {
            if (x)
                free(x->h2d);
            free(x);
            e = shim_set_error(cudaErrorMemoryAllocation);
        } else if (!(p = SHIM_PUT(&r, GRAPH_DEFINE, shim_g.next_graph + 1, g->origin,
                                  g->recs.len))) {
            shim_handle_del(x);
            free(x->h2d);
            free(x);
            e = shim_batch_fail(&r);
        } else {
            if (g->recs.len)
                memcpy(p, g->recs.data, g->recs.len);
            shim_sem_op(SEM_OP_GRAPH, PROTO_OP_GRAPH_DEFINE, g->origin);
            /* the executor checks the records when the batch runs: a refusal surfaces at the
             * next sync, and launches of the graph then fail as unknown */
            e = shim_batch_commit(&r, SHIM_NO_STREAM, 0);
            if (r.committed) {
                x->magic = SHIM_GEXEC_MAGIC;
                x->id = ++shim_g.next_graph;
                x->nh2d = g->nh2d;
                x->h2d_bytes = g->h2d_bytes;
                *out = (cudaGraphExec_t)x;
            } else {
                shim_handle_del(x);
                free(x->h2d);
                free(x);
            }
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaGraphInstantiate(cudaGraphExec_t *pGraphExec, cudaGraph_t graph,
                                           unsigned long long flags)
{
    return instantiate(pGraphExec, graph, flags);
}

cudaError_t shim_impl_cudaGraphInstantiateWithFlags(cudaGraphExec_t *pGraphExec, cudaGraph_t graph,
                                                    unsigned long long flags)
{
    return instantiate(pGraphExec, graph, flags);
}

cudaError_t shim_impl_cudaGraphUpload(cudaGraphExec_t graphExec, cudaStream_t stream)
{
    shim_lock();
    cudaError_t e = cudaSuccess;
    if (!gexec_of(graphExec))
        e = shim_set_error(cudaErrorInvalidValue);
    else if (shim_stream_id(stream) == UINT32_MAX)
        e = shim_set_error(cudaErrorInvalidResourceHandle);
    /* the graph went to the executor at instantiation: nothing more to upload */
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaGraphLaunch(cudaGraphExec_t graphExec, cudaStream_t stream)
{
    shim_lock();
    shim_graph_exec *x = gexec_of(graphExec);
    uint32_t sid = shim_stream_id(stream);
    cudaError_t e;
    if (!x) {
        e = shim_set_error(cudaErrorInvalidValue);
    } else if (sid == UINT32_MAX) {
        e = shim_set_error(cudaErrorInvalidResourceHandle);
    } else if ((e = shim_ensure()) != cudaSuccess) {
    } else if (shim_capturing(sid)) {
        /* a graph launched into a capture would be a child graph node */
        GENIE_WARN("cudaGraphLaunch into a capturing stream (a child graph) is not supported "
                   "by Genie");
        (void)invalidate(capture_of(sid), cudaErrorNotSupported, "cudaGraphLaunch into it");
        e = shim_set_error(cudaErrorNotSupported);
    } else {
        shim_rec r;
        shim_batch_begin(&r);
        uint8_t *p = SHIM_PUT(&r, GRAPH_LAUNCH, x->id, sid, x->h2d_bytes);
        if (!p) {
            e = shim_batch_fail(&r);
        } else {
            /* the copy nodes' sources, read now: the graph runs after what is already
             * recorded, and the program may reuse its buffers once this returns */
            for (uint32_t i = 0; i < x->nh2d; i++) {
                memcpy(p, x->h2d[i].src, x->h2d[i].size);
                p += x->h2d[i].size;
            }
            shim_sem_op(SEM_OP_GRAPH, PROTO_OP_GRAPH_LAUNCH, sid);
            e = shim_batch_commit(&r, sid, 0);
            if (r.committed) {
                shim_g.stats.h2d_bytes += x->h2d_bytes;
                shim_g.stats.launches++;
            }
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaGraphExecDestroy(cudaGraphExec_t graphExec)
{
    shim_lock();
    shim_graph_exec *x = gexec_of(graphExec);
    cudaError_t e;
    if (!x) {
        e = shim_set_error(cudaErrorInvalidValue);
    } else if ((e = shim_ensure()) == cudaSuccess) {
        shim_rec r;
        shim_batch_begin(&r);
        if (!SHIM_PUT(&r, GRAPH_DESTROY, x->id)) {
            e = shim_batch_fail(&r);
        } else if (shim_sem_op(SEM_OP_GRAPH, PROTO_OP_GRAPH_DESTROY, 0),
                   (e = shim_batch_commit(&r, SHIM_NO_STREAM, 0)), r.committed) {
            shim_handle_del(x);
            x->magic = 0;
            free(x->h2d);
            free(x);
        }
    }
    shim_unlock();
    return e;
}

/* ---- events in a capture ---- */

static shim_capture *capture_by_id(unsigned long long id)
{
    for (shim_capture *c = shim_g.captures; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

cudaError_t shim_capture_event(uint32_t sid, shim_event *ev)
{
    shim_capture *c = capture_of(sid);
    if (c->invalid != cudaSuccess)
        return shim_set_error(cudaErrorStreamCaptureInvalidated);
    ev->capture = c->id;
    return cudaSuccess;
}

cudaError_t shim_capture_wait(uint32_t sid, shim_event *ev)
{
    shim_capture *mine = capture_of(sid);
    shim_capture *theirs = ev->capture ? capture_by_id(ev->capture) : NULL;
    if (theirs && theirs == mine)
        return mine->invalid != cudaSuccess ? shim_set_error(cudaErrorStreamCaptureInvalidated)
                                            : cudaSuccess; /* in order already */
    if (theirs) {
        /* another stream joining the capture: its later work would belong to the graph on a
         * stream of its own; Genie replays one stream per graph, so it refuses rather than
         * run that work out of order */
        GENIE_WARN("cudaStreamWaitEvent: stream %u waits for an event recorded in the capture on "
                   "stream %u; capturing several streams into one graph is not supported by "
                   "Genie",
                   sid, theirs->origin);
        (void)invalidate(theirs, cudaErrorNotSupported, "another stream joined it");
        return shim_set_error(cudaErrorNotSupported);
    }
    if (!ev->capture) {
        /* the capturing stream waits for work outside the capture: a graph cannot depend on it */
        return invalidate(mine, cudaErrorStreamCaptureIsolation,
                          "cudaStreamWaitEvent on an event recorded outside the capture");
    }
    /* the event's capture has ended: it was never recorded for real, nothing to wait for */
    if (!mine)
        return cudaSuccess;
    return mine->invalid != cudaSuccess ? shim_set_error(cudaErrorStreamCaptureInvalidated)
                                        : cudaSuccess;
}

cudaError_t shim_capture_event_use(shim_event *ev, const char *what)
{
    shim_capture *c = ev->capture && shim_g.ncaptures ? capture_by_id(ev->capture) : NULL;
    return c ? invalidate(c, cudaErrorStreamCaptureUnsupported, what) : cudaSuccess;
}

/* ---- cudaDeviceReset ---- */

static void graph_forget(void *h)
{
    shim_graph *g = h;
    shim_handle_del(g);
    genie_buf_free(&g->recs);
    free(g->h2d);
    free(g->nodes);
    free(g);
}

static void gexec_forget(void *h)
{
    shim_graph_exec *x = h;
    shim_handle_del(x);
    free(x->h2d);
    free(x);
}

void shim_graphs_forget(void)
{
    SHIM_HELD();
    while (shim_g.captures) { /* a capture running across the reset ends with it */
        shim_capture *c = shim_g.captures;
        capture_unlink(c);
        capture_free(c);
    }
    shim_handles_each(SHIM_GEXEC_MAGIC, gexec_forget);
    shim_handles_each(SHIM_GRAPH_MAGIC, graph_forget);
}
