/* replay.c — iteration replay on the executor (GENIE_GRAPH_REPLAY): a batch whose shape has
 * repeated runs as CUDA graphs captured from it, updated per BATCH_DELTA and launched.
 *
 * A decode step travels as a BATCH_DELTA of the last step (remote/session.c rebuilds it). Once
 * the same shape (the same records, in order, of the same ops and lengths) has arrived as
 * REPLAY_AFTER deltas in a row, the executor captures the rebuilt batch: every record a graph
 * can hold (kernel launches, copies host-to-device, device-to-device and device-to-host,
 * memsets, GEMMs) on the batch's stream goes into a segment, captured on a private stream
 * (stream capture, the remote stream remapped to it), one graph per run of such records; every
 * other record (a sync, an event, work on another stream, and any record that changed and
 * that a graph cannot update, such as a GEMM whose shape grows with the KV length) stays plain
 * and runs in order between the segments. The host side of the captured copies is a
 * page-locked staging buffer (cuMemHostAlloc: a memcpy node may not name pageable memory).
 * Capture runs nothing: the batch then runs as the walk below, so the step that captures
 * already goes through graphs.
 *
 * Each later delta is compared record by record with the batch the graphs hold. A changed
 * kernel launch (same function) becomes cuGraphExecKernelNodeSetParams, a changed copy
 * destination cuGraphExecMemcpyNodeSetParams (range-checked first), changed host-to-device
 * bytes a write into the staging buffer the captured copy reads. Then the session's usual loop
 * walks the records (exec_session_handle): a plain record is dispatched, a device-to-host copy
 * in a segment reserves its R_DATA, the last record of a segment launches it (cuGraphLaunch on
 * the batch's stream; then, if it holds device-to-host copies, one sync and their bytes from
 * the staging buffer into the reply), the others do nothing.
 *
 * Variants (rp_var): up to 1 + RP_PARK sets of graphs per shape; each step runs through the
 * one that needs the fewest calls, a change none absorbs falls back and is captured as a new
 * variant when it comes again, and a step whose graphs would cost as many calls as its
 * records runs plainly.
 *
 * Fails safe. Whatever no variant can absorb (another function, a changed GEMM, memset or
 * state call inside a segment) runs the batch plainly, as without the pass, with the same
 * checks and the same results; a failed update (a copy out of range, a refused update) drops
 * that variant first. Any frame that is not a BATCH_DELTA (memory mapped or
 * unmapped, a module loaded) drops them too, and so does an error in a batch run through them.
 * A capture that fails (an op the driver refuses to capture) is discarded before anything runs
 * and the shape is not tried again until it changes. */
#include "remote/exec_lib_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/frame.h"
#include "protocol/graph.h"
#include "remote/gen/exec_lib.h"

#define REPLAY_AFTER 3 /* a shape is captured on its 3rd delta in a row */
#define RP_PARK 3      /* variants kept besides the active one */

typedef struct rp_rec {
    uint32_t off, len; /* in the payload */
    uint16_t op;
    int32_t seg;     /* -1: plain */
    CUgraphNode node; /* its node, when a single one was captured for it (else NULL) */
    uint32_t stage;  /* MEMCPY_H2D/D2H in a segment: its bytes' place in the staging buffer */
    uint32_t size;   /* MEMCPY_D2H in a segment: its bytes */
} rp_rec;

/* A device-to-host copy of the walk whose graph has not run yet: its R_DATA is reserved in
 * the reply (at reply offset `at`) and filled from the staging buffer once the launch of its
 * segment has completed. */
typedef struct rp_d2h {
    size_t at;
    uint32_t stage, size;
} rp_d2h;

typedef struct rp_seg {
    CUgraph g;
    CUgraphExec x;
    uint32_t last; /* the record that launches it */
} rp_seg;

/* A variant: graphs captured from one batch of the shape, with what they hold. The shape's
 * records repeat, but the values they carry may come in a few recurring forms: PyTorch's
 * caching allocator, with the last step's outputs still alive, hands a decode step's
 * temporaries one of two sets of addresses in turn, so step k is step k-2 again but not
 * step k-1, and a cuBLASLt matmul's pointers (which no node update can change) differ from
 * the step before. One variant per form lets each step find graphs that already hold it. */
#define RP_VAR_FIELDS(X)                                                                           \
    X(recs) X(caprec) X(segs) X(nseg) X(capseg) X(cur) X(stage) X(stage_len) X(stage_cap)      \
        X(stage_busy) X(live) X(stream) X(d2h) X(nd2h) X(capd2h) X(used)
typedef struct rp_var {
    struct rp_rec *recs;
    uint32_t caprec;
    rp_seg *segs;
    uint32_t nseg, capseg;
    genie_buf cur;
    uint8_t *stage;
    size_t stage_len, stage_cap;
    int stage_busy, live;
    uint32_t stream;
    struct rp_d2h *d2h;
    uint32_t nd2h, capd2h;
    uint64_t used;
} rp_var;

struct exec_replay {
    int on;          /* GENIE_GRAPH_REPLAY on this executor and the driver has graphs */
    uint32_t repeats; /* deltas of this shape in a row */
    int refused;     /* this shape failed to capture: not tried again */
    int live;        /* graphs captured and valid */
    int walking;     /* exec_session_handle is walking a batch through the graphs */
    int capturing;   /* exec_stream maps `stream` to cap */
    uint32_t stream; /* the client stream the segments run on */
    CUstream cap;    /* private capture stream */
    rp_rec *recs;
    uint32_t nrec, caprec;
    rp_seg *segs;
    uint32_t nseg, capseg;
    genie_buf cur;    /* the payload the graphs hold */
    uint8_t *stage;   /* page-locked (cuMemHostAlloc): the host side of the segments' copies:
                         host-to-device sources, device-to-host destinations */
    size_t stage_len, stage_cap;
    int stage_busy;   /* a launch that reads stage may still run */
    rp_d2h *d2h;      /* the walk's copies waiting for their segment's launch */
    uint32_t nd2h, capd2h;
    uint64_t used;    /* when the graphs last ran (r->clock) */
    /* ^ the active variant: the graphs the walk uses. Other variants of the same shape wait
     * in park[] (RP_VAR_FIELDS: the fields a variant owns) */
    rp_var park[RP_PARK];
    uint64_t clock;
    uint32_t misses;   /* batches no variant could absorb since the last capture */
    size_t shape_len;  /* the payload length of the shape */
    genie_buf hist[2]; /* the last two payloads of this shape, newest first */
    uint32_t nhist;
    uint64_t n_d2h;   /* device-to-host copies that ran inside a graph */
    FILE *stats;      /* GENIE_REPLAY_STATS: one line per delta batch */
    uint64_t n_graph, n_capture, n_fallback, n_plain, n_updates;
};

#define RP_VAR_SWAP_(f)                                                                            \
    {                                                                                              \
        __typeof__(x->f) t_ = x->f;                                                                \
        x->f = r->f;                                                                               \
        r->f = t_;                                                                                 \
    }
/* Makes variant x the active one, and the active one x. */
static void var_swap(exec_replay *r, rp_var *x)
{
    RP_VAR_FIELDS(RP_VAR_SWAP_)
}

/* ---- set-up ---- */

static exec_replay *rp_of(exec_session *s)
{
    if (s->replay)
        return s->replay;
    exec_replay *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    exec_driver *d = &s->ctx->drv;
    r->on = genie_env_int("GENIE_SEMANTICS", 1) != 0 && genie_env_int("GENIE_GRAPH_REPLAY", 1) != 0 &&
            genie_env_int("GENIE_REPLAY_GRAPHS", 1) != 0 && d->StreamBeginCapture &&
            d->StreamEndCapture && d->StreamGetCaptureInfo && d->GraphInstantiate &&
            d->GraphLaunch && d->GraphExecKernelNodeSetParams && d->GraphExecMemcpyNodeSetParams &&
            d->GraphDestroy && d->GraphExecDestroy;
    const char *path = genie_env_str("GENIE_REPLAY_STATS", NULL);
    if (path && *path)
        r->stats = fopen(path, "a");
    s->replay = r;
    return r;
}

static void drop_graphs(exec_session *s, exec_replay *r)
{
    exec_driver *d = &s->ctx->drv;
    if (r->stage_busy) { /* a launch on the batch's stream may still read the staging buffer */
        CUstream target = NULL;
        int e = r->stream < 3 ? 0 : !(target = exec_idmap_get(&s->streams, r->stream));
        if (e) /* the stream is gone (destroyed after its launches): wait for everything */
            exec_sync_all(s);
        else
            d->StreamSynchronize(target);
    }
    for (uint32_t k = 0; k < r->nseg; k++) {
        if (r->segs[k].x)
            d->GraphExecDestroy(r->segs[k].x);
        if (r->segs[k].g)
            d->GraphDestroy(r->segs[k].g);
    }
    r->nseg = 0;
    r->live = 0;
    r->stage_busy = 0;
    r->stage_len = 0; /* the buffer itself is kept for the next capture */
    r->nd2h = 0;
}

/* Destroys parked variant k: its graphs, staging buffer and arrays. */
static void var_destroy(exec_session *s, exec_replay *r, int k)
{
    rp_var *x = &r->park[k];
    var_swap(r, x);
    drop_graphs(s, r);
    if (r->stage)
        s->ctx->drv.MemFreeHost(r->stage);
    free(r->segs);
    free(r->d2h);
    free(r->recs);
    genie_buf_free(&r->cur);
    var_swap(r, x);
    memset(x, 0, sizeof *x);
}

/* Drops every variant's graphs (the active one keeps its arrays for the next capture). */
static void drop_all(exec_session *s, exec_replay *r)
{
    for (int k = 0; k < RP_PARK; k++)
        if (r->park[k].recs)
            var_destroy(s, r, k);
    drop_graphs(s, r);
}

static int any_live(const exec_replay *r)
{
    int n = r->live;
    for (int k = 0; k < RP_PARK; k++)
        n += r->park[k].live;
    return n;
}

void exec_replay_break(exec_session *s)
{
    exec_replay *r = s->replay;
    if (!r || r->walking)
        return;
    drop_all(s, r);
    r->repeats = 0;
    r->refused = 0;
    r->misses = 0;
    r->nhist = 0;
}

void exec_replay_session_close(exec_session *s)
{
    exec_replay *r = s->replay;
    if (!r)
        return;
    if (r->n_graph || r->n_capture || r->n_fallback)
        GENIE_INFO("session %u: replay: %llu batches through graphs (%llu captures, %llu node "
                   "updates, %llu device-to-host copies), %llu fallbacks, %llu plain",
                   s->id, (unsigned long long)r->n_graph, (unsigned long long)r->n_capture,
                   (unsigned long long)r->n_updates, (unsigned long long)r->n_d2h,
                   (unsigned long long)r->n_fallback, (unsigned long long)r->n_plain);
    drop_all(s, r);
    if (r->stage)
        s->ctx->drv.MemFreeHost(r->stage);
    free(r->d2h);
    if (r->cap)
        s->ctx->drv.StreamDestroy(r->cap);
    if (r->stats)
        fclose(r->stats);
    free(r->recs);
    free(r->segs);
    genie_buf_free(&r->cur);
    genie_buf_free(&r->hist[0]);
    genie_buf_free(&r->hist[1]);
    free(r);
    s->replay = NULL;
}

int exec_replay_remap(exec_session *s, uint32_t id, CUstream *out)
{
    exec_replay *r = s->replay;
    if (!r || !r->capturing || id != r->stream)
        return 0;
    *out = r->cap;
    return 1;
}

/* ---- records ---- */

/* The records of payload p[0, n) into r->recs; 0, or -1 when they do not parse. */
static int parse(exec_replay *r, const uint8_t *p, size_t n, rp_rec **out, uint32_t *nout,
                 uint32_t *cap)
{
    proto_iter it = {p, p + n};
    proto_rec rec;
    uint32_t k = 0;
    int e;
    while ((e = proto_iter_next(&it, &rec)) == 1) {
        if (k == *cap) {
            uint32_t c = *cap ? 2 * *cap : 256;
            rp_rec *x = realloc(*out, c * sizeof *x);
            if (!x)
                return -1;
            *out = x;
            *cap = c;
        }
        uint32_t off = (uint32_t)((const uint8_t *)rec.body - PROTO_REC_HDR_SIZE - p);
        uint32_t next = (uint32_t)(it.p - p);
        (*out)[k++] = (rp_rec){.off = off, .len = next - off, .op = rec.op, .seg = -1};
    }
    (void)r;
    *nout = k;
    return e < 0 ? -1 : 0;
}

static int rec_at(const uint8_t *p, const rp_rec *x, proto_rec *out)
{
    proto_iter it = {p + x->off, p + x->off + x->len};
    return proto_iter_next(&it, out) == 1 ? 0 : -1;
}

/* A call with an array of device pointers (PTRS): the executor reads the array and checks the
 * matrices it names before each call (exec_lib_ptr_arrays), after draining the handle's stream,
 * which a capture cannot do and a graph launch would skip; so it is never captured. */
static int has_ptr_array(uint32_t api)
{
    const proto_api_bufs *b = proto_api_bufs_of(api);
    for (int i = 0; b && i < b->n; i++)
        if (b->bufs[i].flags & PROTO_BUF_PTRS)
            return 1;
    return 0;
}

/* The stream a record runs on: its own field, a cuBLAS handle's current stream (LIB_CALL:
 * UINT32_MAX with *lib the handle), or none; 1: a cuBLAS state call, 2: a call never captured
 * (a pointer array), -1: undecodable. */
static int record_stream(const proto_rec *rec, uint32_t *stream, uint32_t *lib_handle)
{
    *stream = UINT32_MAX;
    *lib_handle = 0;
    switch (rec->op) {
    case PROTO_OP_LAUNCH: {
        proto_LAUNCH a = {0};
        if (proto_get_LAUNCH(rec, &a))
            return -1;
        *stream = a.stream;
        return 0;
    }
    case PROTO_OP_MEMCPY_H2D: {
        proto_MEMCPY_H2D a = {0};
        if (proto_get_MEMCPY_H2D(rec, &a))
            return -1;
        *stream = a.stream;
        return 0;
    }
    case PROTO_OP_MEMCPY_D2D: {
        proto_MEMCPY_D2D a;
        if (proto_get_MEMCPY_D2D(rec, &a))
            return -1;
        *stream = a.stream;
        return 0;
    }
    case PROTO_OP_MEMCPY_D2H: {
        proto_MEMCPY_D2H a;
        if (proto_get_MEMCPY_D2H(rec, &a))
            return -1;
        *stream = a.stream;
        return 0;
    }
    case PROTO_OP_MEMSET: {
        proto_MEMSET a;
        if (proto_get_MEMSET(rec, &a))
            return -1;
        *stream = a.stream;
        return 0;
    }
    case PROTO_OP_LT_MATMUL: {
        proto_LT_MATMUL a;
        if (proto_get_LT_MATMUL(rec, &a))
            return -1;
        *stream = a.stream;
        return 0;
    }
    case PROTO_OP_LIB_CALL: {
        proto_LIB_CALL a = {0};
        if (proto_get_LIB_CALL(rec, &a) || a.args_len < 4)
            return -1;
        if (proto_graph_lib_state(a.api))
            return 1; /* host state: runs plainly, never in a graph */
        if (has_ptr_array(a.api))
            return 2; /* plain: its matrices are checked at each run, which a graph skips */
        memcpy(lib_handle, a.args, 4);
        return 0;
    }
    default:
        return -1;
    }
}

/* Whether a change of this record can be absorbed by updating its node. */
static int absorbable(uint16_t op)
{
    return op == PROTO_OP_LAUNCH || op == PROTO_OP_MEMCPY_H2D || op == PROTO_OP_MEMCPY_D2D ||
           op == PROTO_OP_MEMCPY_D2H;
}

static int same_func(const proto_rec *a, const proto_rec *b)
{
    proto_LAUNCH x = {0}, y = {0};
    return !proto_get_LAUNCH(a, &x) && !proto_get_LAUNCH(b, &y) && x.func == y.func &&
           x.params_len == y.params_len;
}

/* ---- capture ---- */

/* Dispatches one record into the open capture. 0 or an error. */
static int capture_one(exec_session *s, exec_replay *r, uint32_t i, rp_rec *x, const proto_rec *rec,
                       CUstream target)
{
    exec_driver *d = &s->ctx->drv;
    if (rec->op == PROTO_OP_MEMCPY_H2D) {
        proto_MEMCPY_H2D a = {0};
        (void)proto_get_MEMCPY_H2D(rec, &a);
        memcpy(r->stage + x->stage, a.data, a.data_len);
        a.data = r->stage + x->stage; /* the captured copy reads the staging buffer */
        return exec_op_MEMCPY_H2D(s, i, &a);
    }
    if (rec->op == PROTO_OP_MEMCPY_D2H) { /* into the staging buffer; the walk replies */
        proto_MEMCPY_D2H a = {0};
        (void)proto_get_MEMCPY_D2H(rec, &a);
        if (!exec_range_ok(s, a.src, a.size))
            return GENIE_EINVAL; /* the plain run reports it */
        return d->MemcpyDtoHAsync(r->stage + x->stage, (CUdeviceptr)a.src, (size_t)a.size, r->cap)
                   ? GENIE_EINVAL
                   : 0;
    }
    if (rec->op != PROTO_OP_LIB_CALL)
        return exec_dispatch(s, i, rec);
    /* a GEMM is captured on the capture stream: its handle is switched to it and back */
    proto_LIB_CALL a = {0};
    (void)proto_get_LIB_CALL(rec, &a);
    uint32_t hid;
    memcpy(&hid, a.args, 4);
    cublasHandle_t h = exec_idmap_get(&s->blas, hid);
    const exec_lib_fns *t = exec_lib_table(s);
    cudaStream_t old = NULL;
    if (!h || !t->cublasGetStream_v2 || !t->cublasSetStream_v2 ||
        t->cublasGetStream_v2(h, &old) || old != (cudaStream_t)target ||
        t->cublasSetStream_v2(h, (cudaStream_t)r->cap))
        return GENIE_EINVAL;
    int e = exec_dispatch(s, i, rec);
    (void)t->cublasSetStream_v2(h, old);
    (void)d;
    return e;
}

/* Closes the open segment: its graph instantiated. 0 or -1. */
static int close_seg(exec_session *s, exec_replay *r, uint32_t last)
{
    exec_driver *d = &s->ctx->drv;
    rp_seg *g = &r->segs[r->nseg - 1];
    r->capturing = 0;
    CUresult cr = d->StreamEndCapture(r->cap, &g->g);
    if (cr || !g->g) {
        g->g = NULL;
        return -1;
    }
    if (d->GraphInstantiate(&g->x, g->g, 0)) {
        g->x = NULL;
        return -1;
    }
    g->last = last;
    return 0;
}

static int open_seg(exec_session *s, exec_replay *r)
{
    exec_driver *d = &s->ctx->drv;
    if (r->nseg == r->capseg) {
        uint32_t c = r->capseg ? 2 * r->capseg : 16;
        rp_seg *x = realloc(r->segs, c * sizeof *x);
        if (!x)
            return -1;
        r->segs = x;
        r->capseg = c;
    }
    r->segs[r->nseg++] = (rp_seg){0};
    if (d->StreamBeginCapture(r->cap, CU_STREAM_CAPTURE_MODE_RELAXED))
        return -1;
    r->capturing = 1;
    return 0;
}

/* Captures payload p (records r->recs) into segments; prev (the template it was a delta of)
 * tells which records change from step to step. Runs nothing on the device. 0, or -1 with
 * everything discarded and the reply as it was. */
static int capture(exec_session *s, exec_replay *r, const uint8_t *p, const uint8_t *prev)
{
    exec_driver *d = &s->ctx->drv;
    size_t reply_len = s->reply.len;
    uint64_t nfail = s->nfail;
    if (!r->cap && d->StreamCreateWithPriority(&r->cap, CU_STREAM_NON_BLOCKING, 0))
        return -1;
    /* the batch's stream: that of its first launch */
    r->stream = UINT32_MAX;
    for (uint32_t i = 0; i < r->nrec && r->stream == UINT32_MAX; i++) {
        proto_rec rec;
        uint32_t st, hid;
        if (r->recs[i].op == PROTO_OP_LAUNCH && !rec_at(p, &r->recs[i], &rec) &&
            !record_stream(&rec, &st, &hid))
            r->stream = st;
    }
    CUstream target;
    if (r->stream == UINT32_MAX || exec_stream(s, UINT32_MAX, r->stream, "replay", &target))
        goto fail;
    /* the staging buffer: the host side of the copies a graph holds. A memcpy node may only
     * name page-locked memory (cuMemHostAlloc); without it the copies stay plain. */
    size_t stage = 0;
    uint32_t nd2h = 0;
    for (uint32_t i = 0; i < r->nrec; i++) {
        proto_rec rec;
        proto_MEMCPY_D2H a;
        r->recs[i].size = 0;
        if (r->recs[i].op == PROTO_OP_MEMCPY_H2D) {
            r->recs[i].stage = (uint32_t)stage;
            stage += (r->recs[i].len + 15) & ~(size_t)15; /* at least the data */
        } else if (r->recs[i].op == PROTO_OP_MEMCPY_D2H && !rec_at(p, &r->recs[i], &rec) &&
                   !proto_get_MEMCPY_D2H(&rec, &a) && a.size && a.size <= UINT32_MAX &&
                   stage + a.size <= UINT32_MAX) {
            r->recs[i].stage = (uint32_t)stage;
            r->recs[i].size = (uint32_t)a.size;
            stage += ((size_t)a.size + 15) & ~(size_t)15;
            nd2h++;
        }
    }
    if (stage > r->stage_cap && d->MemHostAlloc && d->MemFreeHost) {
        if (r->stage)
            d->MemFreeHost(r->stage); /* nothing reads it: the graphs were dropped */
        r->stage = NULL;
        r->stage_cap = 0;
        if (!d->MemHostAlloc((void **)&r->stage, stage, 0))
            r->stage_cap = stage;
        else
            r->stage = NULL;
    }
    int staged = r->stage && stage <= r->stage_cap; /* else: host copies run plainly */
    r->stage_len = staged ? stage : 0;
    if (staged && nd2h > r->capd2h) {
        rp_d2h *x = realloc(r->d2h, nd2h * sizeof *x);
        if (!x)
            goto fail;
        r->d2h = x;
        r->capd2h = nd2h;
    }
    int open = 0;
    for (uint32_t i = 0; i < r->nrec; i++) {
        rp_rec *x = &r->recs[i];
        x->seg = -1;
        x->node = NULL;
        proto_rec rec, old;
        uint32_t st, hid;
        if (rec_at(p, x, &rec))
            goto fail;
        int rs = record_stream(&rec, &st, &hid);
        if (rs == 1) { /* host state: runs now (as it would) and at every step, plainly */
            int cap = r->capturing;
            r->capturing = 0; /* a cublasSetStream names the real stream, not the capture's */
            int e = exec_dispatch(s, i, &rec);
            r->capturing = cap;
            if (e)
                goto fail;
            continue;
        }
        int changed = prev && memcmp(p + x->off, prev + x->off, x->len);
        int ok = rs == 0 && (rec.op == PROTO_OP_MEMCPY_H2D    ? staged
                             : rec.op == PROTO_OP_MEMCPY_D2H ? staged && x->size
                                                             : proto_graph_op_ok(rec.op));
        if (ok && st != UINT32_MAX && st != r->stream)
            ok = 0;
        if (ok && changed &&
            (!absorbable(rec.op) ||
             (rec.op == PROTO_OP_LAUNCH && (rec_at(prev, x, &old) || !same_func(&rec, &old)))))
            ok = 0; /* it changes in a way no node update can follow: plain */
        if (!ok) {
            if (open && close_seg(s, r, i - 1))
                goto fail;
            open = 0;
            continue;
        }
        if (!open && open_seg(s, r))
            goto fail;
        open = 1;
        x->seg = (int32_t)(r->nseg - 1);
        const CUgraphNode *deps = NULL;
        size_t nd = 0;
        CUstreamCaptureStatus cs;
        CUgraphNode before = NULL;
        if (!d->StreamGetCaptureInfo(r->cap, &cs, NULL, NULL, &deps, NULL, &nd) && nd == 1)
            before = deps[0];
        if (capture_one(s, r, i, x, &rec, target))
            goto fail;
        if (absorbable(rec.op) &&
            !d->StreamGetCaptureInfo(r->cap, &cs, NULL, NULL, &deps, NULL, &nd) && nd == 1 &&
            deps[0] != before)
            x->node = deps[0];
    }
    if (open && close_seg(s, r, r->nrec - 1))
        goto fail;
    if (s->reply.len != reply_len || s->nfail != nfail)
        goto fail; /* a record failed while captured: the plain run reports it */
    r->live = 1;
    r->n_capture++;
    return 0;
fail:
    if (r->capturing) {
        CUgraph g = NULL;
        r->capturing = 0;
        if (!d->StreamEndCapture(r->cap, &g) && g)
            d->GraphDestroy(g);
    }
    drop_graphs(s, r);
    s->reply.len = reply_len;
    s->nfail = nfail;
    r->refused = 1;
    return -1;
}

/* ---- updates ---- */

/* Applies the differences of payload p from r->cur to the graphs. 0, or -1 when a difference
 * cannot be absorbed (the graphs must then be dropped: some may be updated already). */
static int update(exec_session *s, exec_replay *r, const uint8_t *p, uint32_t *nupd)
{
    exec_driver *d = &s->ctx->drv;
    const uint8_t *c = r->cur.data;
    for (uint32_t i = 0; i < r->nrec; i++) {
        rp_rec *x = &r->recs[i];
        if (!memcmp(p + x->off, c + x->off, x->len) || x->seg < 0)
            continue; /* unchanged, or plain: runs with its new bytes */
        CUgraphExec gx = r->segs[x->seg].x;
        proto_rec rec, old;
        if (!x->node || rec_at(p, x, &rec) || rec_at(c, x, &old))
            return -1;
        if (rec.op == PROTO_OP_LAUNCH) {
            proto_LAUNCH a = {0};
            exec_func *fn;
            if (!same_func(&rec, &old) || proto_get_LAUNCH(&rec, &a) ||
                !(fn = exec_idmap_get(&s->funcs, a.func)) || a.params_len < fn->need)
                return -1;
            genie_buf_reset(&s->scratch);
            if (genie_buf_append(&s->scratch, a.params, a.params_len))
                return -1;
            void *kp[256];
            if (fn->nparams > 256)
                return -1;
            for (uint32_t k = 0; k < fn->nparams; k++)
                kp[k] = s->scratch.data + fn->layout[2 * k];
            CUDA_KERNEL_NODE_PARAMS kn = {.func = fn->f, .gridDimX = a.gx, .gridDimY = a.gy,
                                          .gridDimZ = a.gz, .blockDimX = a.bx, .blockDimY = a.by,
                                          .blockDimZ = a.bz, .sharedMemBytes = a.shmem,
                                          .kernelParams = fn->nparams ? kp : NULL};
            if (d->GraphExecKernelNodeSetParams(gx, x->node, &kn))
                return -1;
        } else if (rec.op == PROTO_OP_MEMCPY_H2D) {
            proto_MEMCPY_H2D a = {0}, b = {0};
            if (proto_get_MEMCPY_H2D(&rec, &a) || proto_get_MEMCPY_H2D(&old, &b) ||
                a.data_len != b.data_len || !a.data_len || !exec_range_ok(s, a.dst, a.data_len))
                return -1;
            if (memcmp(a.data, b.data, a.data_len)) {
                if (r->stage_busy) { /* the last launch may still read the bytes */
                    CUstream target;
                    if (exec_stream(s, UINT32_MAX, r->stream, "replay", &target) ||
                        d->StreamSynchronize(target))
                        return -1;
                    r->stage_busy = 0;
                }
                memcpy(r->stage + x->stage, a.data, a.data_len);
            }
            if (a.dst != b.dst) {
                CUDA_MEMCPY3D m = {.srcMemoryType = CU_MEMORYTYPE_HOST,
                                   .srcHost = r->stage + x->stage,
                                   .dstMemoryType = CU_MEMORYTYPE_DEVICE,
                                   .dstDevice = (CUdeviceptr)a.dst,
                                   .WidthInBytes = a.data_len, .Height = 1, .Depth = 1};
                if (d->GraphExecMemcpyNodeSetParams(gx, x->node, &m, s->ctx->primary))
                    return -1;
            }
        } else if (rec.op == PROTO_OP_MEMCPY_D2D) {
            proto_MEMCPY_D2D a;
            if (proto_get_MEMCPY_D2D(&rec, &a) || !a.size || !exec_range_ok(s, a.dst, a.size) ||
                !exec_range_ok(s, a.src, a.size))
                return -1;
            CUDA_MEMCPY3D m = {.srcMemoryType = CU_MEMORYTYPE_DEVICE,
                               .srcDevice = (CUdeviceptr)a.src,
                               .dstMemoryType = CU_MEMORYTYPE_DEVICE,
                               .dstDevice = (CUdeviceptr)a.dst,
                               .WidthInBytes = a.size, .Height = 1, .Depth = 1};
            if (d->GraphExecMemcpyNodeSetParams(gx, x->node, &m, s->ctx->primary))
                return -1;
        } else if (rec.op == PROTO_OP_MEMCPY_D2H) {
            proto_MEMCPY_D2H a, b;
            if (proto_get_MEMCPY_D2H(&rec, &a) || proto_get_MEMCPY_D2H(&old, &b) ||
                a.size != x->size || a.size != b.size || !exec_range_ok(s, a.src, a.size))
                return -1;
            if (a.src != b.src) { /* else only its stream field or padding changed */
                CUDA_MEMCPY3D m = {.srcMemoryType = CU_MEMORYTYPE_DEVICE,
                                   .srcDevice = (CUdeviceptr)a.src,
                                   .dstMemoryType = CU_MEMORYTYPE_HOST,
                                   .dstHost = r->stage + x->stage,
                                   .WidthInBytes = (size_t)a.size, .Height = 1, .Depth = 1};
                if (d->GraphExecMemcpyNodeSetParams(gx, x->node, &m, s->ctx->primary))
                    return -1;
            }
        } else {
            return -1;
        }
        ++*nupd;
    }
    return 0;
}

/* ---- the walk (exec_session_handle's loop, through exec_replay_dispatch) ---- */

int exec_replay_dispatch(exec_session *s, uint32_t index, const proto_rec *rec)
{
    exec_replay *r = s->replay;
    if (!r || !r->walking || index >= r->nrec || r->recs[index].seg < 0)
        return exec_dispatch(s, index, rec);
    rp_rec *x = &r->recs[index];
    rp_seg *g = &r->segs[x->seg];
    int e;
    if (rec->op == PROTO_OP_MEMCPY_D2H) { /* its reply now, in order; its bytes after the run */
        uint8_t *dst;
        proto_MEMCPY_D2H a = {0};
        (void)proto_get_MEMCPY_D2H(rec, &a);
        if ((e = exec_d2h_reply(s, index, a.src, x->size, &dst)))
            return e;
        memset(dst, 0, x->size);
        r->d2h[r->nd2h++] = (rp_d2h){(size_t)(dst - s->reply.data), x->stage, x->size};
    }
    if (g->last != index)
        return 0; /* in its graph */
    CUstream target;
    if ((e = exec_stream(s, index, r->stream, "replay", &target)))
        return e;
    exec_driver *d = &s->ctx->drv;
    CUresult cr = d->GraphLaunch(g->x, target);
    if (r->stage_len)
        r->stage_busy = 1;
    if (cr)
        return exec_cufail(s, index, cr, "replay: cuGraphLaunch");
    if (!r->nd2h)
        return 0;
    /* the segment's device-to-host copies: the host waits for them, as for a plain one */
    cr = d->StreamSynchronize(target);
    if (cr) { /* their replies go: the error stands for them, as a plain copy's would */
        size_t first = r->d2h[0].at - PROTO_REC_HDR_SIZE - PROTO_R_DATA_FIXED;
        if (first <= s->reply.len)
            s->reply.len = first;
        r->nd2h = 0;
        return exec_cufail(s, index, cr, "replay: cuStreamSynchronize");
    }
    r->stage_busy = 0;
    for (uint32_t k = 0; k < r->nd2h; k++)
        memcpy(s->reply.data + r->d2h[k].at, r->stage + r->d2h[k].stage, r->d2h[k].size);
    r->n_d2h += r->nd2h;
    r->nd2h = 0;
    return 0;
}

int exec_replay_walking(const exec_session *s)
{
    return s->replay && s->replay->walking;
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The driver calls a step like p would make through graphs captured from p with ref telling
 * the changing records (as capture() decides): a call per plain record, a launch per segment,
 * a node update per changing record in a segment. */
static long predict(exec_session *s, const exec_replay *r, const uint8_t *p, const uint8_t *ref)
{
    int staged = s->ctx->drv.MemHostAlloc && s->ctx->drv.MemFreeHost;
    uint32_t stream = UINT32_MAX, st, hid;
    proto_rec rec, old;
    for (uint32_t i = 0; i < r->nrec && stream == UINT32_MAX; i++)
        if (r->recs[i].op == PROTO_OP_LAUNCH && !rec_at(p, &r->recs[i], &rec) &&
            !record_stream(&rec, &st, &hid))
            stream = st;
    long cost = 0;
    int open = 0;
    for (uint32_t i = 0; i < r->nrec; i++) {
        const rp_rec *x = &r->recs[i];
        if (rec_at(p, x, &rec))
            return LONG_MAX;
        int rs = record_stream(&rec, &st, &hid);
        if (rs == 1) { /* a state call: plain at every step, inside or between segments */
            cost++;
            continue;
        }
        int changed = memcmp(p + x->off, ref + x->off, x->len) != 0;
        proto_MEMCPY_D2H a = {0};
        int ok = rs == 0 && (rec.op == PROTO_OP_MEMCPY_H2D ? staged
                             : rec.op == PROTO_OP_MEMCPY_D2H
                                 ? staged && !proto_get_MEMCPY_D2H(&rec, &a) && a.size
                                 : proto_graph_op_ok(rec.op));
        if (ok && st != UINT32_MAX && st != stream)
            ok = 0;
        if (ok && changed &&
            (!absorbable(rec.op) ||
             (rec.op == PROTO_OP_LAUNCH && (rec_at(ref, x, &old) || !same_func(&rec, &old)))))
            ok = 0;
        if (!ok) {
            cost++;
            open = 0;
            continue;
        }
        cost += !open + changed;
        open = 1;
    }
    return cost;
}

/* What running p through the active variant's graphs costs in driver calls: a node update per
 * changed record in a segment, a launch per segment, a call per plain record; or -1 when a
 * changed record cannot be a node update (update() may still refuse one, e.g. a copy out of
 * range: the variant is then dropped). */
static long absorb_cost(const exec_replay *r, const uint8_t *p)
{
    const uint8_t *c = r->cur.data;
    long n = r->nseg;
    if (!r->live || r->cur.len != r->shape_len)
        return -1;
    for (uint32_t i = 0; i < r->nrec; i++) {
        const rp_rec *x = &r->recs[i];
        if (x->seg < 0) {
            n++;
            continue;
        }
        if (!memcmp(p + x->off, c + x->off, x->len))
            continue;
        proto_rec a, b;
        if (!x->node || !absorbable(x->op) || rec_at(p, x, &a) || rec_at(c, x, &b) ||
            (x->op == PROTO_OP_LAUNCH && !same_func(&a, &b)))
            return -1;
        n++;
    }
    return n;
}

/* Makes the variant that runs p with the fewest calls the active one: 0; -1 when none can
 * absorb p; -2 when the best would make as many calls as running p plainly (a step whose
 * records nearly all change: every node update costs the call it saves). Ties go to the one
 * used last. */
static int choose(exec_replay *r, const uint8_t *p)
{
    long best = absorb_cost(r, p);
    int at = -1;
    for (int k = 0; k < RP_PARK; k++) {
        if (!r->park[k].live)
            continue;
        var_swap(r, &r->park[k]);
        long c = absorb_cost(r, p);
        var_swap(r, &r->park[k]);
        if (c >= 0 && (best < 0 || c < best ||
                       (c == best && r->park[k].used > (at < 0 ? r->used : r->park[at].used)))) {
            best = c;
            at = k;
        }
    }
    if (best < 0)
        return -1;
    if (best >= (long)r->nrec)
        return -2;
    if (at >= 0)
        var_swap(r, &r->park[at]);
    return 0;
}

/* Parks the active variant (if it holds graphs) so that a new one can be captured: into a
 * free place, else in place of the one used longest ago. The new active variant gets the
 * shape's records. 0, or -1 (no memory: the active variant is dropped instead). */
static int park_active(exec_session *s, exec_replay *r)
{
    if (!r->live)
        return 0;
    int k = -1;
    for (int j = 0; j < RP_PARK && k < 0; j++)
        if (!r->park[j].live)
            k = j;
    if (k < 0) {
        k = 0;
        for (int j = 1; j < RP_PARK; j++)
            if (r->park[j].used < r->park[k].used)
                k = j;
    }
    if (r->park[k].recs)
        var_destroy(s, r, k);
    rp_rec *recs = malloc((r->nrec ? r->nrec : 1) * sizeof *recs);
    if (!recs) {
        drop_graphs(s, r);
        return -1;
    }
    memcpy(recs, r->recs, r->nrec * sizeof *recs);
    var_swap(r, &r->park[k]); /* the active variant is parked; the free place comes back */
    r->recs = recs;
    r->caprec = r->nrec;
    return 0;
}

int exec_replay_run(exec_session *s, const genie_buf *frame, const uint8_t *prev, size_t prev_len,
                    void **reply, size_t *reply_n)
{
    exec_replay *r = rp_of(s);
    if (!r)
        return exec_session_handle(s, frame->data, frame->len, reply, reply_n);
    (void)prev, (void)prev_len; /* the last payloads of the shape are kept here (hist) */
    exec_driver *d = &s->ctx->drv;
    uint64_t calls0 = d->api_calls ? d->api_calls() : 0, t0 = cpu_ns(), d2h0 = r->n_d2h;
    const uint8_t *p = frame->data + PROTO_HDR_SIZE;
    size_t n = frame->len - PROTO_HDR_SIZE;
    const char *form = "plain";
    uint32_t nupd = 0;
    /* the shape: the same records as the last delta batch? */
    rp_rec *nr = NULL;
    uint32_t nn = 0, ncap = 0;
    int same = 0;
    if (!parse(r, p, n, &nr, &nn, &ncap) && nn == r->nrec && r->shape_len == n && r->nhist) {
        same = 1;
        for (uint32_t i = 0; i < nn && same; i++)
            same = nr[i].off == r->recs[i].off && nr[i].len == r->recs[i].len &&
                   nr[i].op == r->recs[i].op;
    }
    if (!same) {
        drop_all(s, r);
        r->refused = 0;
        r->repeats = 1;
        r->misses = 0;
        r->nhist = 0;
        free(r->recs);
        r->recs = nr;
        r->nrec = nn;
        r->caprec = ncap;
        r->shape_len = n;
        nr = NULL;
    } else {
        free(nr);
        r->repeats++;
    }
    int use = 0, ch = r->on && same ? choose(r, p) : -1;
    if (!r->on || !same || ch == -2) {
        /* off, or the graphs would not save a call: plain, counted and logged alike */
    } else if (ch == 0) {
        if (update(s, r, p, &nupd) == 0) {
            use = 1;
            form = "graph";
        } else { /* this variant cannot follow: dropped; the others stay */
            drop_graphs(s, r);
            r->n_fallback++;
            r->misses++;
            form = "fallback";
        }
    } else if (!r->refused && r->repeats >= REPLAY_AFTER && (!any_live(r) || r->misses)) {
        /* no graphs yet, or a second batch since the last capture that none absorbs: a new
         * variant, whose changing records are told by whichever of the last two batches
         * predicts the fewer calls per step (the one before last: a value that alternates) */
        const genie_buf *ref = &r->hist[0];
        if (r->nhist > 1 && predict(s, r, p, r->hist[1].data) < predict(s, r, p, r->hist[0].data))
            ref = &r->hist[1];
        if (!park_active(s, r) && capture(s, r, p, ref->data) == 0) {
            use = 1;
            form = "capture";
            r->misses = 0;
        }
    } else if (any_live(r)) {
        r->n_fallback++;
        r->misses++;
        form = "fallback";
    }
    r->n_updates += nupd;
    r->walking = use;
    uint64_t nfail = s->nfail;
    int rc = exec_session_handle(s, frame->data, frame->len, reply, reply_n);
    r->walking = 0;
    if (use) {
        r->n_graph++;
        r->used = ++r->clock;
        if (rc || !*reply || s->nfail != nfail || r->nd2h)
            drop_all(s, r); /* an error: start over from plain batches */
        /* what the graphs hold now */
        genie_buf_reset(&r->cur);
        if (r->live && genie_buf_append(&r->cur, p, n))
            drop_graphs(s, r);
    } else {
        r->n_plain++;
    }
    /* the last two payloads of the shape: a capture's reference */
    genie_buf t = r->hist[1];
    r->hist[1] = r->hist[0];
    r->hist[0] = t;
    genie_buf_reset(&r->hist[0]);
    if (genie_buf_append(&r->hist[0], p, n)) {
        drop_all(s, r);
        r->nhist = 0;
        r->shape_len = 0; /* the next batch starts a shape */
    } else if (r->nhist < 2) {
        r->nhist++;
    }
    if (r->stats) {
        uint64_t calls = d->api_calls ? d->api_calls() - calls0 : 0;
        fprintf(r->stats,
                "seq=%u form=%s records=%u segments=%u updates=%u d2h=%llu variants=%d "
                "api_calls=%llu cpu_ns=%llu\n",
                proto_frame_peek_seq(frame->data), form, r->nrec, r->live ? r->nseg : 0, nupd,
                (unsigned long long)(r->n_d2h - d2h0), any_live(r), (unsigned long long)calls,
                (unsigned long long)(cpu_ns() - t0));
        fflush(r->stats);
    }
    return rc;
}
