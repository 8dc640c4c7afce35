/* sem.h — the semantics IR (one typed descriptor per committed op of a batch) and its passes.
 *
 * The recorder (shim/) appends a descriptor to a side array for every record it commits to the
 * batch, filled from the values it has in hand: no second parse of the batch bytes. The passes
 * read the IR (and a dependency graph built from it on demand) and answer through a narrow
 * interface: when to flush, how to send a host-to-device copy, whether a batch goes in full,
 * as a template or as a delta of the last one, and the frame flags that carry that choice.
 *
 * Pure: nothing here includes shim/ or remote/, nothing calls the transport or the driver, and
 * everything is testable with data alone (tests/semantics). Memory: an IR keeps its arrays
 * from batch to batch (a reset only rewinds), so recording costs no malloc once warm. */
#ifndef GENIE_SEMANTICS_SEM_H
#define GENIE_SEMANTICS_SEM_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------- the IR ---- */

typedef enum sem_kind {
    SEM_OP_OTHER = 0,   /* anything below does not describe: treated as a barrier */
    SEM_OP_LAUNCH,      /* a kernel launch (function, stream, pointer-valued parameters) */
    SEM_OP_H2D,         /* host-to-device copy (bytes in the record, or bulk sent from the caller) */
    SEM_OP_D2H,         /* device-to-host copy (its bytes come back in the reply) */
    SEM_OP_D2D,
    SEM_OP_MEMSET,
    SEM_OP_GEMM,        /* a cuBLAS/cuBLASLt matrix product: gemm holds its shape */
    SEM_OP_LIB,         /* another library call */
    SEM_OP_EVENT_RECORD,
    SEM_OP_STREAM_WAIT, /* a stream waits for an event */
    SEM_OP_SYNC,        /* stream/device/event sync or query: the host observes the device */
    SEM_OP_MEM,         /* mapping or unmapping device memory */
    SEM_OP_HANDLE,      /* creating or destroying a stream, event or library handle */
    SEM_OP_GRAPH,       /* defining, launching or destroying a captured graph */
    SEM_OP__COUNT
} sem_kind;

/* How an op uses a device range. */
enum { SEM_R = 1, SEM_W = 2, SEM_RW = 3 };
/* A range whose extent the recorder does not know (a pointer-valued kernel parameter, a
 * library argument): from ptr to the end of the allocation holding it, as far as a graph's
 * extent function can tell, else anywhere. */
#define SEM_SIZE_UNKNOWN 0

/* 16 bytes: a launch with two pointer parameters adds 32 to the IR. */
typedef struct sem_range {
    uint64_t ptr;
    uint64_t size : 62; /* bytes (saturated at 2^62 - 1), or SEM_SIZE_UNKNOWN */
    uint64_t mode : 2;  /* SEM_R, SEM_W or SEM_RW */
} sem_range;
_Static_assert(sizeof(sem_range) == 16, "sem_range is 16 bytes");
#define SEM_SIZE_MAX ((1ull << 62) - 1)

/* The shape of a matrix product, as the library was asked: C[m x n] = op(A)[m x k] op(B)[k x n]
 * over batch products. dtype is the cudaDataType of A (CUDA_R_32F = 0, ...), or -1. */
typedef struct sem_gemm {
    int32_t m, n, k, batch;
    int8_t dtype;
    uint8_t transa, transb; /* 0: N, 1: T, 2: C (cublasOperation_t) */
    uint8_t pad_;
} sem_gemm;

/* One op: 64 bytes, a cache line (the launch path writes one per call). */
typedef struct sem_op {
    uint16_t kind;        /* sem_kind */
    uint16_t wire_op;     /* the record's op in the wire protocol (protocol/gen/ops.h) */
    uint32_t api;         /* the intercepted call (protocol/gen/api.h ID), 0 when unknown */
    uint32_t stream;      /* client stream ID (0-2: the legacy/per-thread streams) */
    uint32_t wire_bytes;  /* the record's bytes in the batch: header, body, padding */
    uint32_t first_range; /* ranges[first_range, + nranges) of the IR */
    uint32_t nranges;
    uint64_t bulk_bytes;  /* payload sent from the caller's memory (not in wire_bytes) */
    uint64_t site;        /* the intercepted call's return address, 0 when unknown */
    union {
        uint32_t event;   /* EVENT_RECORD, STREAM_WAIT, event syncs: the client event ID */
        uint32_t func;    /* LAUNCH, FUNC_SET_ATTR: the client function ID */
    };
    sem_gemm gemm;        /* kind SEM_OP_GEMM */
} sem_op;
_Static_assert(sizeof(sem_op) == 64, "sem_op is one cache line");

typedef struct sem_ir {
    sem_op *ops;
    uint32_t n, cap;
    sem_range *ranges;
    uint32_t nranges, cap_ranges;
    uint64_t wire_bytes; /* sum over the committed ops */
    /* An allocation failed: ops are missing and the IR no longer describes the batch. Every
     * pass that needs it whole fails safe (the behaviour with the pass off). */
    int lost;
    int staged; /* a descriptor was staged since the last commit */
    sem_op scratch; /* where a descriptor goes when there is no room (lost) */
} sem_ir;

/* Rewinds to an empty IR, keeping the arrays (after a flush). */
void sem_ir_reset(sem_ir *ir);
void sem_ir_free(sem_ir *ir);

/* Out of line: grows ops (what 1) or ranges (what 2); 0 or -1 (the IR is then lost). */
int sem_ir_grow_(sem_ir *ir, int what);

/* Stages the descriptor of the op being recorded: zeroed, with kind and stream set, ranges to
 * follow. The recorder fills the rest, then the batch commits it (sem_ir_commit) or drops it
 * by staging the next one. Never NULL: without room it returns scratch space and marks the IR
 * lost. */
static inline sem_op *sem_ir_stage(sem_ir *ir, unsigned kind, uint32_t stream)
{
    sem_op *o;
    if (__builtin_expect(ir->n == ir->cap, 0) && sem_ir_grow_(ir, 1))
        o = &ir->scratch;
    else
        o = &ir->ops[ir->n];
    *o = (sem_op){.kind = (uint16_t)kind, .stream = stream, .first_range = ir->nranges};
    ir->staged = 1;
    return o;
}

/* Adds a device range to the staged op o. */
static inline void sem_ir_range(sem_ir *ir, sem_op *o, uint64_t ptr, uint64_t size, unsigned mode)
{
    uint32_t at = o->first_range + o->nranges;
    if (__builtin_expect(at >= ir->cap_ranges, 0) && sem_ir_grow_(ir, 2))
        return; /* lost */
    ir->ranges[at] = (sem_range){.ptr = ptr, .size = size < SEM_SIZE_MAX ? size : SEM_SIZE_MAX,
                                 .mode = mode};
    o->nranges++;
}

/* The staged op went into the batch as wire_bytes of records. A commit with nothing staged
 * (a recorder that does not describe its op) appends an SEM_OP_OTHER barrier. */
void sem_ir_commit_slow_(sem_ir *ir, uint32_t wire_bytes);
static inline void sem_ir_commit(sem_ir *ir, uint32_t wire_bytes)
{
    if (__builtin_expect(!ir->staged || ir->lost || ir->n == ir->cap, 0)) {
        sem_ir_commit_slow_(ir, wire_bytes);
        return;
    }
    ir->staged = 0;
    ir->wire_bytes += wire_bytes;
    sem_op *o = &ir->ops[ir->n++];
    o->wire_bytes = wire_bytes;
    ir->nranges = o->first_range + o->nranges;
}
/* Takes back the last committed op (its record was rolled back). */
void sem_ir_uncommit(sem_ir *ir);

/* A launch's parameter block (n bytes as packed for the wire): every 8-byte-aligned word that
 * falls inside [va_base, va_base + va_size) becomes a range of unknown size, read-write (a
 * kernel may do either with any pointer it gets), except a repeat of the last pointer found
 * (the same buffer passed twice). Returns how many were added. */
static inline uint32_t sem_ir_scan_params(sem_ir *ir, sem_op *o, const uint8_t *params,
                                          size_t n, uint64_t va_base, uint64_t va_size)
{
    uint32_t added = 0;
    uint64_t last = 0;
    for (size_t off = 0; off + 8 <= n; off += 8) {
        uint64_t w;
        __builtin_memcpy(&w, params + off, 8);
        /* unsigned: below va_base wraps past va_size */
        if (w - va_base < va_size && w != last) {
            sem_ir_range(ir, o, w, SEM_SIZE_UNKNOWN, SEM_RW);
            added++;
            last = w;
        }
    }
    return added;
}

static inline const sem_range *sem_op_ranges(const sem_ir *ir, const sem_op *o)
{
    return ir->ranges + o->first_range;
}

const char *sem_kind_name(unsigned kind);

/* Writes the IR as text, one line per op (GENIE_SEM_DUMP; docs/semantics.md has the format):
 *   KIND stream=S op=0xOP bytes=B bulk=N ranges=R [func=F | event=E] [api=0xA]
 *        [use=MODE SIZE,...] [site=0xS]     (MODE R, W or RW; SIZE ? when unknown)
 *        [gemm=MxNxK batch=C dtype=D trans=TATB]
 * f is a FILE * (void * keeps stdio out of this header). */
void sem_ir_print(void *f, const sem_ir *ir);

/* ------------------------------------------------------- the dependency graph ---- */

/* Why op `to` must follow op `from` (bits). */
enum {
    SEM_DEP_STREAM = 1,  /* program order on one stream (or the legacy stream's implicit sync) */
    SEM_DEP_DATA = 2,    /* overlapping ranges, at least one written */
    SEM_DEP_EVENT = 4,   /* a wait for an event recorded earlier in the batch */
    SEM_DEP_BARRIER = 8, /* one of them orders against everything (sync, mapping, handle, graph,
                          * other) */
};

/* Where the allocation holding ptr starts and how long it is; 1 when known. */
typedef int (*sem_extent_fn)(void *ud, uint64_t ptr, uint64_t *start, uint64_t *size);

/* Predecessors of each op (compressed rows): preds[first[i], first[i+1]) with their why. */
typedef struct sem_graph {
    uint32_t nops;
    uint32_t *first; /* nops + 1 */
    uint32_t *preds;
    uint8_t *why;
    uint32_t nedges;
} sem_graph;

/* The most ops a graph is built for: the pairwise build is quadratic. */
#define SEM_GRAPH_MAX_OPS 8192u

/* Builds the graph of ir: 0, GENIE_ETOOBIG (more than SEM_GRAPH_MAX_OPS ops), GENIE_EINVAL
 * (a lost IR) or GENIE_ENOMEM. extent (may be NULL) bounds the ranges of unknown size;
 * without it, or when it does not know a pointer, such a range overlaps every other. An op's
 * predecessors are the last op of its stream (of every stream, for the legacy stream), the
 * latest record of an event it waits for, and every earlier op back to the nearest barrier
 * whose ranges conflict with its own; a barrier follows every op back to the one before it.
 * No transitive reduction. Nearest predecessors come first in each row. */
int sem_graph_build(sem_graph *g, const sem_ir *ir, sem_extent_fn extent, void *ud);
void sem_graph_free(sem_graph *g);
/* 1 when op `to` has op `from` among its direct predecessors, with any of the bits in why. */
int sem_graph_depends(const sem_graph *g, uint32_t to, uint32_t from, unsigned why);
/* Labels each op with its branch: ops joined by data, event or barrier edges share a label,
 * stream order alone does not (two independent towers recorded on one stream are two
 * branches). label has nops entries; returns the number of branches. */
uint32_t sem_graph_branches(const sem_graph *g, uint32_t *label);

/* --------------------------------------------------------------- the passes ---- */

struct sem_kv;

/* What the passes are allowed to do and today's fixed parameters (the shim fills it from the
 * environment once). */
typedef struct sem_policy {
    int remote;             /* the executor is another process: bulk copies are worth sending
                             * from the caller's memory */
    int weight_cache;       /* GENIE_WEIGHT_CACHE (and GENIE_SEMANTICS) */
    int repeat;             /* GENIE_GRAPH_REPLAY (and GENIE_SEMANTICS) */
    int branches;           /* GENIE_PARALLEL_BRANCHES (and GENIE_SEMANTICS) */
    uint64_t batch_bytes;   /* GENIE_BATCH_BYTES: flush a batch that reaches it */
    uint64_t direct_min;    /* an H2D copy this large to a remote goes from the caller's memory */
    uint64_t template_max;  /* the largest payload kept as a template */
    int phase;              /* GENIE_PHASE (and GENIE_SEMANTICS) */
    int kv;                 /* GENIE_KV_COLOCATE (and GENIE_SEMANTICS) */
    uint32_t decode_tokens; /* a batch of GEMMs over at most this many tokens is a decode step */
    const struct sem_kv *kv_bufs; /* the KV pass's buffers (borrowed), or NULL */
    int sync_elision;       /* GENIE_SYNC_ELISION (and GENIE_SEMANTICS): SEM_ELIDE_* */
    int pipeline;           /* GENIE_PIPELINE (and GENIE_SEMANTICS) */
    uint32_t pipe_first;    /* ops in the pipeline's first chunk (and the least in any chunk);
                             * without the cost model each next one is twice as long */
    uint32_t pipe_max;      /* the most ops in a chunk */
    /* The cost model's parameters (borrowed) when it sizes the pipeline's chunks
     * (GENIE_PIPELINE_COST); NULL: the fixed doubling above. */
    const struct sem_cost_params *cost;
} sem_policy;

/* ---- flush decisions ---- */
/* 1 when the batch (batch_len bytes, ir its ops) should be flushed now. Today: the size
 * threshold. */
int sem_pass_flush_due(const sem_policy *p, const sem_ir *ir, uint64_t batch_len);

/* ---- sync elision (GENIE_SYNC_ELISION) ---- */
/* Levels: off; uploads (the default: a batch of copies to the device, device copies,
 * memsets, mappings, handle ops and stream waits, as model.cuda() makes); all (kernels and
 * library calls too: their faults then surface at the next sync that waits, not at this one,
 * which breaks the `kernel; check(cudaDeviceSynchronize())` idiom, hence not the default). */
enum { SEM_ELIDE_OFF = 0, SEM_ELIDE_UPLOADS = 1, SEM_ELIDE_ALL = 2 };
/* 1 when a stream or device sync that ends the batch described by ir need not wait for its
 * reply: no op of the batch lets the host observe the device afterwards. A D2H copy (its
 * bytes land in host memory), an event record (the host may read the event), a sync or query
 * and an undescribed op (SEM_OP_OTHER, whatever it is) each make the sync wait; so does a lost
 * IR, and below SEM_ELIDE_ALL a launch, a library call or a graph launch. The caller adds what
 * the IR does not hold: host functions wait on their own, and batches still in flight must
 * bring nothing back either. */
int sem_pass_sync_elide(const sem_policy *p, const sem_ir *ir);

/* ---- the pipeline pass (GENIE_PIPELINE) ---- */
/* The run of chunks since the last flush that waited. */
typedef struct sem_pipe {
    uint32_t chunks;
    /* With the cost model: when the executor is estimated to have run every frame sent in this
     * run (ns, on the caller's clock: each frame arrives its wire time after its send, starts
     * once it has arrived and the frames before it are done, and runs its ops' estimated
     * time). 0: nothing in flight. */
    double idle_ns;
} sem_pipe;
/* 1 when the batch described by ir (batch_bytes on the wire so far) should go out now as a
 * chunk, without waiting, so the executor runs it while the program records the next one.
 * Only batches that carry work worth overlapping are cut: the first chunk, pipe_first ops,
 * needs a matrix product over more than one column (n > 1: a prefill's tokens, a
 * convolution's pixels); a one-token decode step (n = 1) stays one batch, which keeps it a
 * repeated batch for the delta. Once a chunk is cut, the rest of the batch up to the next
 * waiting flush is cut alike, each chunk between pipe_first and pipe_max ops:
 *  - without the cost model (p->cost NULL), each twice as long as the one before;
 *  - with it, at the latest moment at which the chunk's wire time (sem_cost_wire of its bytes)
 *    is still covered by the work estimated to be in flight: when now_ns plus that wire time
 *    reaches pp->idle_ns. Slow ops (or a fast wire) make long chunks and few frames; fast ops
 *    behind a slow wire make short ones, so the executor starts on each as soon as it can.
 * now_ns is read only by that last rule (the caller may pass 0 otherwise). */
int sem_pass_pipeline_due(const sem_policy *p, const sem_pipe *pp, const sem_ir *ir,
                          uint64_t batch_bytes, uint64_t now_ns);
/* A frame of bytes described by ir went out without waiting at now_ns: the executor's
 * estimated idle time moves on (with the cost model; nothing without it). */
void sem_pipe_sent(const sem_policy *p, sem_pipe *pp, const sem_ir *ir, uint64_t bytes,
                   uint64_t now_ns);
/* A flush waited: nothing is in flight, the run of chunks ends. */
static inline void sem_pipe_reset(sem_pipe *pp) { *pp = (sem_pipe){0}; }

/* ---- the H2D policy (the weight-cache pass) ---- */
typedef enum sem_h2d {
    SEM_H2D_INLINE = 0, /* the bytes go into the batch (captured now) */
    SEM_H2D_DIRECT,     /* sent from the caller's memory, flushed before the call returns */
    SEM_H2D_CACHED,     /* asked for by content hash first; only missing pieces are sent */
} sem_h2d;
/* The decision for the H2D copy described by o (kind SEM_OP_H2D, its destination range
 * staged, bulk_bytes the copy's size): large copies to a remote go direct, and through the
 * weight cache while it is on. */
sem_h2d sem_pass_h2d(const sem_policy *p, const sem_op *o);
/* The same for a copy to dst: never through the weight cache into a marked KV buffer (the KV
 * pass, GENIE_KV_COLOCATE). */
sem_h2d sem_pass_h2d_to(const sem_policy *p, const sem_op *o, uint64_t dst);

/* ---- the repeated-batch pass (delta or template) ---- */
/* The pass's memory: the signature of the last template batch (wire op and bytes of each op)
 * and its payload length. The shim keeps the template's bytes for the encoder. */
typedef struct sem_repeat {
    uint64_t *sig;
    uint32_t n, cap;
    uint64_t len;
    int ok;
} sem_repeat;

typedef enum sem_form {
    SEM_BATCH_PLAIN = 0, /* sent as it is; the executor's template is left alone */
    SEM_BATCH_TEMPLATE,  /* sent in full and flagged: it becomes the template if it runs cleanly */
    SEM_BATCH_DELTA,     /* the same ops as the template: try a BATCH_DELTA of it (the encoder may
                          * still find it too large and send it as SEM_BATCH_TEMPLATE) */
} sem_form;

/* Frame annotations a decision asks for (the shim maps them to protocol header flags). */
enum { SEM_FRAME_TEMPLATE = 1 };

typedef struct sem_batch_decision {
    sem_form form;
    uint32_t frame_flags; /* SEM_FRAME_* */
} sem_batch_decision;

/* The form of the batch about to be flushed: payload_len bytes described by ir, has_bulk when
 * it carries payload spliced from the caller's memory (never a template). */
sem_batch_decision sem_pass_batch(const sem_policy *p, const sem_repeat *r, const sem_ir *ir,
                                  uint64_t payload_len, int has_bulk);
/* After a flagged batch: clean (no R_ERROR in its reply) keeps ir as the template's signature,
 * anything else drops it. Returns 0, or -1 when the signature could not be kept (then none). */
int sem_repeat_after(sem_repeat *r, const sem_ir *ir, uint64_t payload_len, int clean);
void sem_repeat_drop(sem_repeat *r);
void sem_repeat_free(sem_repeat *r);

/* ---- the phase pass (GENIE_PHASE; semantics/phase.c) ---- */
typedef enum sem_phase {
    SEM_PHASE_OTHER = 0, /* no matrix products (uploads, set-up, a CNN's im2col alone) or off */
    SEM_PHASE_PREFILL,   /* products over many tokens at once */
    SEM_PHASE_DECODE,    /* products over one token (a few with batched decode), or a repeat */
    SEM_PHASE__COUNT
} sem_phase;
/* The token count of a batch: the smallest N of its unbatched matrix products (a linear
 * layer's N is the number of tokens; attention's batched products are left out), 0 with none. */
uint32_t sem_batch_tokens(const sem_ir *ir);
/* The phase of the batch about to be flushed; repeated: it goes as a delta of the last one. */
sem_phase sem_pass_phase(const sem_policy *p, const sem_ir *ir, int repeated);
const char *sem_phase_name(sem_phase ph);

/* ---- KV cache identification (GENIE_KV_COLOCATE; semantics/kv.c) ----
 * A KV cache is read by attention's batched products from the same start every step, over an
 * extent that grows as tokens are appended, and never written by a product (a kernel appends
 * to it). The pass follows every range a batched product reads across batches and marks the
 * ones whose extent has grown in SEM_KV_GROWS successive batches. */
#define SEM_KV_GROWS 2
typedef struct sem_kv_buf {
    uint64_t ptr, size; /* the read range's start and its latest extent */
    uint32_t grew;      /* successive batches it grew in */
    uint32_t marked;    /* 0, or the batch (sem_kv.batches) that marked it */
} sem_kv_buf;
typedef struct sem_kv {
    sem_kv_buf *b;
    uint32_t n, cap;
    uint32_t nmarked;
    uint32_t batches; /* batches observed */
} sem_kv;
/* Observes a flushed batch; returns how many buffers it newly marked (or -1: out of memory,
 * the pass then sees nothing more). */
int sem_pass_kv(const sem_policy *p, sem_kv *kv, const sem_ir *ir);
/* 1 when [ptr, ptr + n) overlaps a marked buffer (its latest extent). */
int sem_kv_contains(const sem_kv *kv, uint64_t ptr, uint64_t n);
/* Bytes of the batch's host-to-device and device-to-host copies that touch marked buffers:
 * KV cache on the wire (a stateless client ships it every step; Genie never should). */
void sem_kv_wire(const sem_kv *kv, const sem_ir *ir, uint64_t *h2d, uint64_t *d2h);
void sem_kv_free(sem_kv *kv);

/* ---- parallel branches (GENIE_PARALLEL_BRANCHES) ---- */
/* Where one op of a one-stream batch runs: lane 0 is the batch's stream, lanes 1.. are
 * executor streams forked from it. join: bit L set: the op waits for lane L's work so far
 * (its data predecessors there); SEM_LANE_BARRIER: the op is a barrier, every lane joins lane 0
 * before it and lanes fork anew after it. After the batch's last op every lane joins lane 0. */
#define SEM_LANES_MAX 4
#define SEM_LANE_BARRIER 0x80u
typedef struct sem_lane {
    uint8_t lane, join;
} sem_lane;
/* The wire op of an Lt matmul (protocol/gen/ops.h's PROTO_OP_LT_MATMUL: semantics/ includes
 * no protocol header; a test checks that they agree). */
#define SEM_WIRE_LT_MATMUL 0x0064u
/* Lanes for every op of ir (g its graph, built with the allocations' extents): an op that
 * depends on nothing earlier in the batch (back to the last barrier) starts a new lane, an
 * op goes on the lane of its data predecessors and joins the others when they are on several.
 * Launches, in-batch H2D copies, D2D copies, memsets and Lt matmuls may take any lane; cuBLAS
 * GEMMs stay on lane 0 (their handle's stream); every other op is a barrier. Only for a batch
 * whose ops other than barriers are all on one stream (*origin). Returns the number of lanes (1: run it as
 * recorded, out untouched beyond ir->n). */
uint32_t sem_pass_branches(const sem_policy *p, const sem_ir *ir, const sem_graph *g,
                           sem_lane *out, uint32_t *origin);

/* ---- the cost model (semantics/cost.c) ---- */
/* The remote's parameters, measured by a calibration against it (bench/micro's "cost model"
 * section), never taken from the fake GPU's data file. Times in ns, rates per second. */
typedef struct sem_cost_params {
    double rtt_ns;  /* a round trip with nothing to run (an empty sync) */
    double wire_bps; /* bytes per second on the wire, both ways */
    double op_ns;   /* the fixed cost of one op: decode, checks, launch, device latency */
    double flops;   /* achieved GEMM FLOP/s */
    double mem_bps; /* device memory bandwidth: GEMM operands, copies, memsets */
    /* the client's own work at the flush: the parallel-branches pass's dependency graph
     * checks every op against each earlier one (back to a barrier), so it costs about
     * pair_ns per pair of ops in batches of 2 to SEM_BRANCHES_MAX_OPS ops (0: none) */
    double pair_ns;
} sem_cost_params;
/* The parallel-branches pass leaves larger batches alone (its graph is quadratic). */
#define SEM_BRANCHES_MAX_OPS 2048u
/* One op's predicted time (ns): op_ns, plus for a GEMM the larger of its FLOPs over flops and
 * its operands' bytes over mem_bps (a roofline), plus for a copy or memset its bytes over
 * mem_bps. */
double sem_cost_op(const sem_cost_params *p, const sem_op *o, const sem_ir *ir);
/* A batch's predicted time (ns) from the program's flush to its reply: the client's pass at
 * the flush (pair_ns per pair of ops), rtt_ns, sent + received bytes over wire_bps, and every
 * op of ir (run one after the other). */
double sem_cost_batch(const sem_cost_params *p, const sem_ir *ir, uint64_t sent,
                      uint64_t received);
/* The device side of a batch (ns): every op of ir, one after the other, with no round trip
 * and no wire. */
double sem_cost_device(const sem_cost_params *p, const sem_ir *ir);
/* One way on the wire (ns): half the round trip plus bytes over wire_bps. */
double sem_cost_wire(const sem_cost_params *p, uint64_t bytes);
/* Parameters used until a calibration gives others: a 100 us round trip, 1.25 GB/s (10 GbE),
 * 5 us per op, 50 TFLOP/s, 2 TB/s, no pass cost. Typical numbers for a GPU host on a LAN, not
 * measured here and not taken from the fake GPU's model file. */
#define SEM_COST_DEFAULTS ((sem_cost_params){100e3, 1.25e9, 5e3, 50e12, 2e12, 0})
/* The pass's pairs of a batch of n ops, as sem_cost_batch counts them. */
double sem_cost_pairs(uint32_t n);
/* Reads "key=value,key=value" (keys rtt_ns, wire_bps, op_ns, flops, mem_bps, pair_ns; values as strtod
 * reads them, not negative) over the parameters in *p; keys not named keep their values.
 * bench/micro --cost prints such a line from its calibration. 0, or -1 on a malformed string
 * (*p then unchanged). */
int sem_cost_parse(sem_cost_params *p, const char *s);
/* Pearson's correlation of x and y (n values), 0 when undefined. */
double sem_pearson(const double *x, const double *y, uint32_t n);

#endif
