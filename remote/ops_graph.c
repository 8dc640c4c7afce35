/* ops_graph.c — CUDA graphs captured on the client: kept per session, replayed record by record.
 *
 * A graph is the records a stream captured (protocol/graph.h lists the kinds), shipped once by
 * GRAPH_DEFINE. GRAPH_LAUNCH replays them in order through the same handlers a batch uses, so
 * every pointer range, handle and launch is checked again at each replay (memory may have been
 * freed or remapped since the graph was defined), with the graph's origin stream mapped to the
 * launch stream.
 *
 * TODO(real GPU): the replay is one driver call per record, as a batch would make. On a GPU the
 * executor could capture the first replay of a graph into a real CUDA graph (cuStreamBeginCapture
 * on the launch stream around the loop in exec_op_GRAPH_LAUNCH, cuGraphInstantiate, then
 * cuGraphLaunch for later launches, re-captured when the launch stream changes) to cut launch
 * overhead. Not done: the GRAPH_H2D bytes change per launch and would need pinned staging
 * buffers the captured copies read from; LIB_CALL stream switches (cublasSetStream) cannot be
 * captured; and the fake GPU has no graphs to test it on. */
#include "remote/exec_lib_int.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "remote/gen/exec_lib.h"
#include "protocol/graph.h"

typedef struct exec_graph {
    uint32_t origin; /* the client stream that captured it */
    uint32_t nrec;
    uint64_t h2d_bytes; /* what each GRAPH_LAUNCH must carry */
    size_t len;
    uint8_t *recs; /* owned, 8-aligned: records in batch layout */
} exec_graph;

static void graph_free(exec_graph *g)
{
    if (g) {
        free(g->recs);
        free(g);
    }
}

void exec_graph_session_close(exec_session *s)
{
    for (uint32_t i = 0; i < s->graphs.cap; i++)
        graph_free(s->graphs.vals[i]);
    exec_idmap_free(&s->graphs);
}

/* The stream field of a record a graph may hold (its kind is proto_graph_op_ok), or
 * UINT32_MAX for LIB_CALL, whose stream is its handle's. 0, or the decoder's error. */
static int record_stream(const proto_rec *r, uint32_t *stream)
{
    int e = 0;
    *stream = UINT32_MAX;
    switch (r->op) {
    case PROTO_OP_LAUNCH: {
        proto_LAUNCH a = {0};
        if (!(e = proto_get_LAUNCH(r, &a)))
            *stream = a.stream;
        break;
    }
    case PROTO_OP_MEMCPY_D2D: {
        proto_MEMCPY_D2D a;
        if (!(e = proto_get_MEMCPY_D2D(r, &a)))
            *stream = a.stream;
        break;
    }
    case PROTO_OP_MEMSET: {
        proto_MEMSET a;
        if (!(e = proto_get_MEMSET(r, &a)))
            *stream = a.stream;
        break;
    }
    case PROTO_OP_GRAPH_H2D: {
        proto_GRAPH_H2D a = {0};
        if (!(e = proto_get_GRAPH_H2D(r, &a)))
            *stream = a.stream;
        break;
    }
    case PROTO_OP_LT_MATMUL: {
        proto_LT_MATMUL a;
        if (!(e = proto_get_LT_MATMUL(r, &a)))
            *stream = a.stream;
        break;
    }
    case PROTO_OP_LIB_CALL: {
        proto_LIB_CALL a = {0};
        e = proto_get_LIB_CALL(r, &a);
        break;
    }
    default:
        e = GENIE_EPROTO;
    }
    return e;
}

/* The cuBLAS handle ID a LIB_CALL's arguments start with. */
static uint32_t lib_handle_id(const proto_LIB_CALL *a)
{
    uint32_t id = 0;
    if (a->args_len >= 4)
        memcpy(&id, a->args, 4);
    return id;
}

/* Checks one record of a graph being defined; 0 or the R_ERROR's return. */
static int check_record(exec_session *s, uint32_t index, uint32_t graph, uint32_t origin,
                        uint32_t n, const proto_rec *r, uint64_t *h2d)
{
    const char *name = proto_op_name(r->op) ? proto_op_name(r->op) : "an unknown op";
    if (!proto_graph_op_ok(r->op))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "GRAPH_DEFINE %u: record %u is %s, which a graph cannot hold", graph, n,
                         name);
    uint32_t stream;
    int e = record_stream(r, &stream);
    if (e)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "GRAPH_DEFINE %u: record %u: malformed %s (%u bytes): %s", graph, n, name,
                         r->len, genie_strerror(e));
    if (stream != UINT32_MAX && stream != origin)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "GRAPH_DEFINE %u: record %u (%s) is on stream %u, not the origin %u",
                         graph, n, name, stream, origin);
    if (r->op == PROTO_OP_LAUNCH) {
        proto_LAUNCH a = {0};
        (void)proto_get_LAUNCH(r, &a);
        if (!exec_idmap_get(&s->funcs, a.func))
            return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, 0,
                             "GRAPH_DEFINE %u: record %u launches unknown function %u", graph, n,
                             a.func);
    } else if (r->op == PROTO_OP_LIB_CALL) {
        proto_LIB_CALL a = {0};
        (void)proto_get_LIB_CALL(r, &a);
        if (proto_graph_lib_state(a.api))
            return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                             "GRAPH_DEFINE %u: record %u: cuBLAS API %#x changes a handle, it is "
                             "not work a graph can hold",
                             graph, n, a.api);
        if (!exec_idmap_get(&s->blas, lib_handle_id(&a)))
            return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, 0,
                             "GRAPH_DEFINE %u: record %u: unknown cuBLAS handle %u", graph, n,
                             lib_handle_id(&a));
    } else if (r->op == PROTO_OP_GRAPH_H2D) {
        proto_GRAPH_H2D a = {0};
        (void)proto_get_GRAPH_H2D(r, &a);
        if (a.size > PROTO_GRAPH_MAX_H2D || *h2d + a.size > PROTO_GRAPH_MAX_H2D)
            return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                             "GRAPH_DEFINE %u: host-to-device copies above %llu bytes", graph,
                             (unsigned long long)PROTO_GRAPH_MAX_H2D);
        *h2d += a.size;
    }
    return 0;
}

int exec_op_GRAPH_DEFINE(exec_session *s, uint32_t index, const proto_GRAPH_DEFINE *a)
{
    if (a->graph == 0 || exec_idmap_get(&s->graphs, a->graph))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0, "GRAPH_DEFINE: graph ID %u is %s",
                         a->graph, a->graph ? "in use" : "reserved");
    if (a->origin < 3)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "GRAPH_DEFINE %u: origin %u is a default stream, which cannot capture",
                         a->graph, a->origin);
    if (a->records_len > PROTO_GRAPH_MAX_BYTES)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "GRAPH_DEFINE %u: %zu bytes of records", a->graph, a->records_len);
    exec_graph *g = calloc(1, sizeof *g);
    /* a copy: the frame goes away, and its records must stay 8-aligned for the decoders */
    if (!g || (a->records_len && !(g->recs = malloc(a->records_len)))) {
        graph_free(g);
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "GRAPH_DEFINE: %s",
                         genie_strerror(GENIE_ENOMEM));
    }
    if (a->records_len)
        memcpy(g->recs, a->records, a->records_len);
    g->len = a->records_len;
    g->origin = a->origin;
    proto_iter it = {g->recs, g->recs + g->len};
    proto_rec r;
    int k, e = 0;
    while ((k = proto_iter_next(&it, &r)) == 1) {
        if ((e = check_record(s, index, a->graph, a->origin, g->nrec, &r, &g->h2d_bytes)))
            break;
        g->nrec++;
    }
    if (!e && k < 0)
        e = exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0, "GRAPH_DEFINE %u: record %u: %s",
                      a->graph, g->nrec, genie_strerror(k));
    if (!e && exec_idmap_put(&s->graphs, a->graph, g))
        e = exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "GRAPH_DEFINE: %s",
                      genie_strerror(GENIE_ENOMEM));
    if (e)
        graph_free(g);
    return e;
}

int exec_op_GRAPH_DESTROY(exec_session *s, uint32_t index, const proto_GRAPH_DESTROY *a)
{
    exec_graph *g = exec_idmap_del(&s->graphs, a->graph);
    if (!g)
        return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, 0,
                         "GRAPH_DESTROY: unknown graph %u", a->graph);
    graph_free(g);
    return 0;
}

int exec_op_GRAPH_H2D(exec_session *s, uint32_t index, const proto_GRAPH_H2D *a)
{
    (void)a;
    return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                     "GRAPH_H2D outside a GRAPH_DEFINE: it has no bytes of its own");
}


/* A LIB_CALL of a graph runs on the launch stream: its handle is switched to it for the call
 * (cublasGetStream/SetStream) and back after, so the handle the client mirrors is unchanged. */
static int replay_lib(exec_session *s, uint32_t index, const proto_rec *r, CUstream launch)
{
    proto_LIB_CALL a = {0};
    (void)proto_get_LIB_CALL(r, &a); /* checked at GRAPH_DEFINE */
    cublasHandle_t h = exec_idmap_get(&s->blas, lib_handle_id(&a));
    const exec_lib_fns *t = exec_lib_table(s);
    cudaStream_t old = NULL;
    int switched = 0;
    if (h && t->cublasGetStream_v2 && t->cublasSetStream_v2 &&
        t->cublasGetStream_v2(h, &old) == CUBLAS_STATUS_SUCCESS && old != (cudaStream_t)launch) {
        if (t->cublasSetStream_v2(h, (cudaStream_t)launch) != CUBLAS_STATUS_SUCCESS)
            return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, 0,
                             "LIB_CALL: cublasSetStream to the launch stream failed");
        switched = 1;
    }
    int e = exec_dispatch(s, index, r);
    if (switched)
        (void)t->cublasSetStream_v2(h, old);
    return e;
}

int exec_op_GRAPH_LAUNCH(exec_session *s, uint32_t index, const proto_GRAPH_LAUNCH *a)
{
    exec_graph *g = exec_idmap_get(&s->graphs, a->graph);
    if (!g)
        return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, 0,
                         "GRAPH_LAUNCH: unknown graph %u", a->graph);
    if (a->h2d_len != g->h2d_bytes)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "GRAPH_LAUNCH %u: %zu bytes of copies, the graph needs %llu", a->graph,
                         a->h2d_len, (unsigned long long)g->h2d_bytes);
    CUstream launch;
    int e = exec_stream(s, index, a->stream, "GRAPH_LAUNCH", &launch);
    if (e)
        return e;
    s->replaying = 1;
    s->replay_graph = a->graph;
    s->remap_from = g->origin;
    s->remap_to = a->stream;
    proto_iter it = {g->recs, g->recs + g->len};
    proto_rec r;
    size_t off = 0;
    for (s->replay_rec = 0; !e && proto_iter_next(&it, &r) == 1; s->replay_rec++) {
        if (r.op == PROTO_OP_GRAPH_H2D) {
            proto_GRAPH_H2D c = {0};
            (void)proto_get_GRAPH_H2D(&r, &c);
            proto_MEMCPY_H2D m = {
                .dst = c.dst, .stream = c.stream, .data = a->h2d + off, .data_len = (size_t)c.size};
            off += (size_t)c.size;
            e = exec_op_MEMCPY_H2D(s, index, &m);
        } else if (r.op == PROTO_OP_LIB_CALL) {
            e = replay_lib(s, index, &r, launch);
        } else {
            e = exec_dispatch(s, index, &r);
        }
    }
    /* a failed record ends the replay: the later ones may depend on it, as a kernel after a
     * faulting one would in a real graph */
    s->replaying = 0;
    return e;
}
