/* fg_graph.c — CUDA graphs on the fake GPU: stream capture into a graph, instantiation, launch,
 * and the updates of an instantiated graph's kernel and copy nodes (what the executor's
 * iteration replay uses: remote/replay.c).
 *
 * Model. A capture turns each op queued on the capturing stream into a node holding the op's
 * work exactly as the call built it (a kernel with a copy of its parameters, a copy, a cuBLAS
 * GEMM); a captured host-to-device copy reads its source when the graph runs, not at capture,
 * as a memcpy node does. Captures are linear (one stream, no events): the nodes run in capture
 * order. An op the host waits for (a device-to-host copy, a synchronize, an event record or
 * wait) cannot be captured: it fails with CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and invalidates
 * the capture, whose cuStreamEndCapture then fails with CUDA_ERROR_STREAM_CAPTURE_INVALIDATED.
 * The legacy NULL stream cannot capture. cuGraphLaunch queues the nodes, in order, on the
 * launch stream. Work is shared by reference between a graph, its instantiations and queued
 * launches, so an update or a destroy never frees work a queued launch still reads. */
#include "fakegpu_int.h"
#include "fakegpu_work.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A node's work, shared by reference. */
typedef struct fg_narg {
    atomic_int refs;
    fg_work w;
} fg_narg;

struct CUgraphNode_st {
    int kind; /* fg_node_kind */
};

struct CUgraph_st {
    struct CUgraphNode_st **nodes; /* owned */
    fg_narg **work;                /* a reference each */
    size_t n, cap;
    int invalid;    /* the capture met an op it cannot hold */
    uint64_t id;    /* the capture's ID */
};

struct CUgraphExec_st {
    size_t n;
    struct CUgraphNode_st **keys; /* the graph's node handles: compared, never followed */
    int *kinds;
    fg_narg **work; /* a reference each */
};

static atomic_ullong fg_capture_ids;

static fg_narg *narg_new(const fg_work *w)
{
    fg_narg *n = malloc(sizeof *n);
    if (!n) {
        if (w->release)
            w->release(w->arg);
        return NULL;
    }
    atomic_init(&n->refs, 1);
    n->w = *w;
    return n;
}

static void narg_put(void *p)
{
    fg_narg *n = p;
    if (n && atomic_fetch_sub(&n->refs, 1) == 1) {
        if (n->w.release)
            n->w.release(n->w.arg);
        free(n);
    }
}

static int narg_run(void *p)
{
    fg_narg *n = p;
    return n->w.fn(n->w.arg);
}

/* ---- capture ---- */

int fg_sched_capturing(const fg_stream *s)
{
    return s && __atomic_load_n(&s->cap, __ATOMIC_ACQUIRE) != NULL;
}

CUresult fg_capture_refuse(fg_stream *s)
{
    struct CUgraph_st *g = __atomic_load_n(&s->cap, __ATOMIC_ACQUIRE);
    if (g)
        g->invalid = 1;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

int fg_graph_capture(fg_stream *s, const fg_work *w)
{
    struct CUgraph_st *g = __atomic_load_n(&s->cap, __ATOMIC_ACQUIRE);
    if (g->invalid) {
        if (w->release)
            w->release(w->arg);
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 64;
        struct CUgraphNode_st **nn = realloc(g->nodes, cap * sizeof *nn);
        if (nn)
            g->nodes = nn;
        fg_narg **nw = nn ? realloc(g->work, cap * sizeof *nw) : NULL;
        if (!nw) {
            if (w->release)
                w->release(w->arg);
            g->invalid = 1;
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        g->work = nw;
        g->cap = cap;
    }
    struct CUgraphNode_st *node = malloc(sizeof *node);
    fg_narg *na = node ? narg_new(w) : NULL;
    if (!na) {
        if (!node && w->release)
            w->release(w->arg);
        free(node);
        g->invalid = 1;
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    node->kind = w->kind;
    g->nodes[g->n] = node;
    g->work[g->n] = na;
    g->n++;
    return CUDA_SUCCESS;
}

static void graph_free(struct CUgraph_st *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->nodes[i]);
        narg_put(g->work[i]);
    }
    free(g->nodes);
    free(g->work);
    free(g);
}

/* A created stream that may capture: 0, or the error. */
static CUresult capture_stream(CUstream h, fg_stream **out)
{
    CUresult r = fg_check_init();
    if (r)
        return r;
    FG_LOCK();
    int ok = fg_stream_ok(h);
    FG_UNLOCK();
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    fg_stream *s = fg_sched_stream(h);
    if (s->legacy)
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    *out = s;
    return CUDA_SUCCESS;
}

CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)
{
    fg_work_count_call();
    (void)mode; /* one thread per capture here: the modes' cross-thread rules do not arise */
    fg_stream *s;
    CUresult r = capture_stream(hStream, &s);
    if (r)
        return r;
    if (fg_sched_capturing(s))
        return CUDA_ERROR_ILLEGAL_STATE;
    struct CUgraph_st *g = calloc(1, sizeof *g);
    if (!g)
        return CUDA_ERROR_OUT_OF_MEMORY;
    g->id = atomic_fetch_add(&fg_capture_ids, 1) + 1;
    __atomic_store_n(&s->cap, g, __ATOMIC_RELEASE);
    return CUDA_SUCCESS;
}

CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)
{
    fg_work_count_call();
    fg_stream *s;
    CUresult r = capture_stream(hStream, &s);
    if (r)
        return r;
    struct CUgraph_st *g = __atomic_load_n(&s->cap, __ATOMIC_ACQUIRE);
    if (!g)
        return CUDA_ERROR_ILLEGAL_STATE;
    __atomic_store_n(&s->cap, NULL, __ATOMIC_RELEASE);
    if (phGraph)
        *phGraph = NULL;
    if (g->invalid || !phGraph) {
        graph_free(g);
        return phGraph ? CUDA_ERROR_STREAM_CAPTURE_INVALIDATED : CUDA_ERROR_INVALID_VALUE;
    }
    FG_LOCK();
    int e = fg_handle_add(g, FG_H_GRAPH);
    FG_UNLOCK();
    if (e) {
        graph_free(g);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *phGraph = g;
    return CUDA_SUCCESS;
}

CUresult cuStreamIsCapturing(CUstream hStream, CUstreamCaptureStatus *captureStatus)
{
    fg_work_count_call();
    if (!captureStatus)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = fg_check_init();
    if (r)
        return r;
    FG_LOCK();
    int ok = fg_stream_ok(hStream);
    FG_UNLOCK();
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    fg_stream *s = fg_sched_stream(hStream);
    struct CUgraph_st *g = __atomic_load_n(&s->cap, __ATOMIC_ACQUIRE);
    *captureStatus = !g ? CU_STREAM_CAPTURE_STATUS_NONE
                     : g->invalid ? CU_STREAM_CAPTURE_STATUS_INVALIDATED
                                  : CU_STREAM_CAPTURE_STATUS_ACTIVE;
    return CUDA_SUCCESS;
}

/* The capture's state; while active, its graph and the node the next op will follow (the last
 * captured: captures here are linear), none before the first. */
CUresult cuStreamGetCaptureInfo_v3(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
                                   cuuint64_t *id_out, CUgraph *graph_out,
                                   const CUgraphNode **dependencies_out,
                                   const CUgraphEdgeData **edgeData_out,
                                   size_t *numDependencies_out)
{
    CUstreamCaptureStatus st;
    CUresult r = cuStreamIsCapturing(hStream, &st); /* counts the call */
    if (r)
        return r;
    if (!captureStatus_out)
        return CUDA_ERROR_INVALID_VALUE;
    *captureStatus_out = st;
    struct CUgraph_st *g = __atomic_load_n(&fg_sched_stream(hStream)->cap, __ATOMIC_ACQUIRE);
    if (id_out)
        *id_out = g ? g->id : 0;
    if (graph_out)
        *graph_out = g;
    if (edgeData_out)
        *edgeData_out = NULL;
    size_t nd = g && g->n ? 1 : 0;
    if (dependencies_out)
        *dependencies_out = nd ? (const CUgraphNode *)&g->nodes[g->n - 1] : NULL;
    if (numDependencies_out)
        *numDependencies_out = nd;
    return CUDA_SUCCESS;
}

/* ---- graphs and their instantiations ---- */

static int graph_ok(CUgraph g)
{
    FG_LOCK();
    int ok = g && fg_handle_is(g, FG_H_GRAPH);
    FG_UNLOCK();
    return ok;
}

static int exec_ok(CUgraphExec e)
{
    FG_LOCK();
    int ok = e && fg_handle_is(e, FG_H_GEXEC);
    FG_UNLOCK();
    return ok;
}

static void exec_free(struct CUgraphExec_st *e)
{
    for (size_t i = 0; i < e->n; i++)
        narg_put(e->work[i]);
    free(e->keys);
    free(e->kinds);
    free(e->work);
    free(e);
}

CUresult cuGraphDestroy(CUgraph hGraph)
{
    fg_work_count_call();
    FG_LOCK();
    int ok = fg_handle_take(hGraph, FG_H_GRAPH);
    FG_UNLOCK();
    if (!ok)
        return CUDA_ERROR_INVALID_VALUE;
    graph_free(hGraph);
    return CUDA_SUCCESS;
}

CUresult cuGraphGetNodes(CUgraph hGraph, CUgraphNode *nodes, size_t *numNodes)
{
    fg_work_count_call();
    if (!graph_ok(hGraph) || !numNodes)
        return CUDA_ERROR_INVALID_VALUE;
    if (nodes)
        for (size_t i = 0; i < *numNodes && i < hGraph->n; i++)
            nodes[i] = hGraph->nodes[i];
    *numNodes = hGraph->n;
    return CUDA_SUCCESS;
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph,
                                     unsigned long long flags)
{
    fg_work_count_call();
    (void)flags;
    if (!phGraphExec || !graph_ok(hGraph))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = fg_check_ctx();
    if (r)
        return r;
    struct CUgraphExec_st *e = calloc(1, sizeof *e);
    size_t n = hGraph->n;
    if (e && n) {
        e->keys = malloc(n * sizeof *e->keys);
        e->kinds = malloc(n * sizeof *e->kinds);
        e->work = malloc(n * sizeof *e->work);
    }
    if (!e || (n && (!e->keys || !e->kinds || !e->work))) {
        if (e)
            exec_free(e);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        e->keys[i] = hGraph->nodes[i];
        e->kinds[i] = hGraph->nodes[i]->kind;
        e->work[i] = hGraph->work[i];
        atomic_fetch_add(&e->work[i]->refs, 1);
    }
    e->n = n;
    FG_LOCK();
    int bad = fg_handle_add(e, FG_H_GEXEC);
    FG_UNLOCK();
    if (bad) {
        exec_free(e);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *phGraphExec = e;
    return CUDA_SUCCESS;
}

CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
{
    fg_work_count_call();
    FG_LOCK();
    int ok = fg_handle_take(hGraphExec, FG_H_GEXEC);
    FG_UNLOCK();
    if (!ok)
        return CUDA_ERROR_INVALID_VALUE;
    exec_free(hGraphExec); /* queued launches hold their own references */
    return CUDA_SUCCESS;
}

CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
{
    fg_work_count_call();
    if (!exec_ok(hGraphExec))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = fg_check_stream_ctx(hStream);
    if (!r)
        r = fg_check_sticky();
    if (r)
        return r;
    FG_LOCK();
    int ok = fg_stream_ok(hStream);
    FG_UNLOCK();
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    fg_stream *s = fg_sched_stream(hStream);
    if (fg_sched_capturing(s)) /* graphs as child nodes are not modelled */
        return fg_capture_refuse(s);
    for (size_t i = 0; i < hGraphExec->n; i++) {
        fg_narg *na = hGraphExec->work[i];
        atomic_fetch_add(&na->refs, 1);
        int e = fg_sched_submit(s, na->w.fn ? narg_run : NULL, na, narg_put, na->w.cost_ns,
                                na->w.flags, NULL);
        if (e)
            return (CUresult)e; /* the nodes before it are queued, as a partial launch */
    }
    return CUDA_SUCCESS;
}

/* The instantiation's slot of node, or -1. */
static long exec_slot(const struct CUgraphExec_st *e, CUgraphNode node)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->keys[i] == node)
            return (long)i;
    return -1;
}

static CUresult exec_replace(struct CUgraphExec_st *e, long i, const fg_work *w)
{
    fg_narg *na = narg_new(w);
    if (!na)
        return CUDA_ERROR_OUT_OF_MEMORY;
    fg_narg *old = e->work[i];
    e->work[i] = na;
    narg_put(old);
    return CUDA_SUCCESS;
}

/* The next launches run the kernel with these parameters (copied now); launches already
 * queued keep theirs. The function may not change to one of another kind of node. */
CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec hGraphExec, CUgraphNode hNode,
                                           const CUDA_KERNEL_NODE_PARAMS *p)
{
    fg_work_count_call();
    if (!exec_ok(hGraphExec) || !p)
        return CUDA_ERROR_INVALID_VALUE;
    long i = exec_slot(hGraphExec, hNode);
    if (i < 0 || hGraphExec->kinds[i] != FG_NODE_KERNEL || !p->func)
        return CUDA_ERROR_INVALID_VALUE;
    fg_work w;
    unsigned grid[3] = {p->gridDimX, p->gridDimY, p->gridDimZ};
    unsigned block[3] = {p->blockDimX, p->blockDimY, p->blockDimZ};
    CUresult r = fg_launch_work(p->func, grid, block, p->sharedMemBytes, p->kernelParams, p->extra,
                                &w);
    return r ? r : exec_replace(hGraphExec, i, &w);
}

/* 1-D copies only (Height and Depth 1, no arrays, no pitches): what a captured
 * cuMemcpy*Async makes. */
CUresult cuGraphExecMemcpyNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                        const CUDA_MEMCPY3D *p, CUcontext ctx)
{
    fg_work_count_call();
    (void)ctx;
    if (!exec_ok(hGraphExec) || !p)
        return CUDA_ERROR_INVALID_VALUE;
    long i = exec_slot(hGraphExec, hNode);
    if (i < 0 || hGraphExec->kinds[i] != FG_NODE_MEMCPY)
        return CUDA_ERROR_INVALID_VALUE;
    if (p->Height > 1 || p->Depth > 1 || p->srcArray || p->dstArray || p->srcY || p->srcZ ||
        p->dstY || p->dstZ)
        return CUDA_ERROR_NOT_SUPPORTED;
    int devs = p->srcMemoryType == CU_MEMORYTYPE_DEVICE;
    int devd = p->dstMemoryType == CU_MEMORYTYPE_DEVICE;
    if ((!devs && p->srcMemoryType != CU_MEMORYTYPE_HOST) ||
        (!devd && p->dstMemoryType != CU_MEMORYTYPE_HOST) || (!devs && !devd))
        return CUDA_ERROR_INVALID_VALUE;
    const char *src = devs ? (const char *)(uintptr_t)p->srcDevice : (const char *)p->srcHost;
    char *dst = devd ? (char *)(uintptr_t)p->dstDevice : (char *)p->dstHost;
    fg_work w;
    CUresult r = fg_copy_work(dst ? dst + p->dstXInBytes : NULL,
                              src ? src + p->srcXInBytes : NULL, p->WidthInBytes, devd, devs, &w);
    return r ? r : exec_replace(hGraphExec, i, &w);
}
