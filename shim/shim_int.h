/* shim_int.h — what the files of libgenie.so share: state, batch recorder, link, allocator. */
#ifndef GENIE_SHIM_INT_H
#define GENIE_SHIM_INT_H

#include <assert.h>
#include <pthread.h>
#include <stdint.h>

#include <cuda.h>
#include <cuda_runtime_api.h>

#include "common/genie.h"
#include "protocol/frame.h"
#include "protocol/gen/api.h"
#include "protocol/gen/ops.h"
#include "protocol/session.h"
#include "protocol/transport.h" /* proto_land */
#include "semantics/sem.h"
#include "shim/batch.h"
#include "shim/gen/shim_api.h" /* every shim_impl_* with its row's prototype */

#define GENIE_EXPORT __attribute__((visibility("default")))

/* ---- counters (shim/stats.c) ---- */
typedef struct shim_stats {
    uint64_t calls[GENIE_APIX__COUNT];
    uint64_t calls_total;
    uint64_t ops_recorded, launches;
    uint64_t batches;          /* frames sent, all kinds */
    uint64_t round_trips;      /* frames whose reply the caller waited for (the rt_* below):
                                * batches minus batches_nowait */
    uint64_t rt_setup;         /* HELLO */
    uint64_t rt_module;        /* module loads and function lookups */
    uint64_t rt_sync;          /* flushes of recorded work that waited for their reply */
    uint64_t rt_query;         /* queries answered remotely (attributes, occupancy) */
    uint64_t flush_threshold;  /* flushes forced by the size threshold */
    uint64_t bytes_sent, bytes_received;
    uint64_t h2d_bytes, d2h_bytes;
    /* the weight cache (GENIE_WEIGHT_CACHE): pieces of large uploads the executor had
     * (nothing sent) or had not (sent with MEMCPY_H2D_STORE), and the bytes not sent */
    uint64_t h2d_cache_hits, h2d_cache_misses, h2d_bytes_saved;
    /* GENIE_GRAPH_REPLAY: batches sent as a BATCH_DELTA of the one before, and the bytes
     * that saved (full frame minus delta frame) */
    uint64_t batches_delta, delta_bytes_saved;
    uint64_t batches_template; /* flagged as templates or sent as deltas (GENIE_GRAPH_REPLAY) */
    uint64_t batches_branched; /* sent with a BRANCHES record (GENIE_PARALLEL_BRANCHES) */
    uint64_t branches_ns;      /* time the pass took at flushes (its graph and lanes) */
    /* Non-blocking flushes (shim/inflight.c): frames of recorded work sent without waiting
     * (size threshold, pipeline chunks, large uploads, elided syncs), the waits the in-flight
     * bound forced (GENIE_INFLIGHT_BATCHES / _BYTES: the oldest reply taken), the stream and
     * device syncs that sent their batch without waiting (GENIE_SYNC_ELISION), the chunks the
     * pipeline pass cut (GENIE_PIPELINE), and the most frames in flight at once. */
    uint64_t batches_nowait, inflight_stalls, syncs_elided, pipeline_chunks, inflight_max;
    uint64_t wire_ns; /* time spent on the wire: sending, and waiting for replies */
    uint64_t exec_ns; /* the executor's own time for those frames (R_EXEC of each reply) */
    uint64_t last_exec_ns; /* R_EXEC of the last reply read (not a counter) */
    uint64_t connect_ns;   /* opening the session: connect, HELLO, the VA range, calibration */
    /* GENIE_PHASE: flushed batches and bytes sent, per phase (sem_phase: other, prefill,
     * decode); GENIE_KV_COLOCATE: buffers marked as KV cache and the bytes of copies into and
     * out of them that went over the wire */
    uint64_t phase_batches[3], phase_bytes[3];
    uint64_t kv_buffers, kv_h2d_bytes, kv_d2h_bytes;
    /* Modules (shim/register.c, shim/module_load.c; lock held): fatbins nvcc's registration
     * handed over and their bytes; modules hashed, loaded by the executor and the image bytes
     * sent for them, kernels whose layout was fetched. Registration only records pointers:
     * hashing and shipping wait for a kernel's first launch (docs/architecture.md, start-up). */
    uint64_t fatbins_registered, fatbin_bytes_registered;
    uint64_t modules_hashed, modules_loaded, module_bytes_sent, funcs_prepared;
} shim_stats;

/* ---- the phase and KV passes around a flush (shim/phase.c) ----
 * shim_phase_before: the batch about to go (repeated: as a delta) gets its phase (shim_g.phase,
 * what a flush policy reads) and the KV pass sees it; shim_phase_after: the bytes it took on
 * the wire (bytes_sent before the send) are counted under its phase. */
void shim_phase_before(int repeated);
void shim_phase_after(uint64_t bytes_sent_before);

/* ---- the link to the executor (shim/link.c) ---- */
typedef struct shim_link shim_link;
/* GENIE_REMOTE: "host:port", "unix:/path" or "local" (in-process executor). */
int shim_link_open(const char *target, shim_link **out, char *err, size_t errlen);
/* One frame out, one reply in (malloc'd; caller frees). */
int shim_link_call(shim_link *l, const void *req, size_t n, void **reply, size_t *reply_n);
/* The same with the request in pieces, sent from their own memory (borrowed until return). */
int shim_link_callv(shim_link *l, const proto_iov *iov, size_t niov, void **reply,
                    size_t *reply_n);
/* shim_link_callv with the reply's bulk data placed per land (protocol/transport.h); the
 * in-process executor ignores land (land->landed and crc_set stay 0). */
int shim_link_callv_land(shim_link *l, const proto_iov *iov, size_t niov, proto_land *land,
                         void **reply, size_t *reply_n);
/* The two halves of a call, for frames kept in flight (shim/inflight.c): send returns once
 * the pieces are the caller's again, without waiting for the reply; recv takes the next
 * reply, in the order the frames were sent. Local: the in-process executor runs the frame at
 * send and its reply waits for recv. */
int shim_link_send(shim_link *l, const proto_iov *iov, size_t niov);
int shim_link_recv(shim_link *l, void **reply, size_t *reply_n);
/* shim_link_recv with the reply's bulk data placed per land (as shim_link_callv_land). */
int shim_link_recv_land(shim_link *l, proto_land *land, void **reply, size_t *reply_n);
/* Gives a reply of the latest call back (kept for the next big reply, or freed). */
void shim_link_reply_free(shim_link *l, void *reply);
int shim_link_is_local(const shim_link *l);
void shim_link_close(shim_link *l);

/* ---- the device VA allocator (shim/alloc.c) ---- */
typedef struct shim_alloc shim_alloc;
int shim_alloc_init(shim_alloc **out, uint64_t base, uint64_t size, uint64_t granularity);
/* Returns 0 and the pointer; map_ptr and map_size are nonzero when a new range must be mapped
 * remotely first (MEM_MAP). */
int shim_alloc_get(shim_alloc *a, uint64_t size, uint64_t *ptr, uint64_t *map_ptr,
                   uint64_t *map_size);
/* 0, or GENIE_EINVAL for a pointer that is not a live allocation start. *unmap_size nonzero
 * when [*unmap_ptr, +size) must be unmapped remotely (MEM_UNMAP). */
int shim_alloc_put(shim_alloc *a, uint64_t ptr, uint64_t *unmap_ptr, uint64_t *unmap_size);
/* 1 when [ptr, ptr+len) lies inside one live allocation. */
int shim_alloc_contains(const shim_alloc *a, uint64_t ptr, uint64_t len);
/* 1 when ptr is inside the session's VA range at all, or inside an external allocation. */
int shim_alloc_in_range(const shim_alloc *a, uint64_t ptr);
/* A module's device variable at [ptr, ptr+size), outside the range: valid for copies, never
 * freed. 0, or GENIE_EINVAL when it overlaps the range or another allocation. */
int shim_alloc_add_external(shim_alloc *a, uint64_t ptr, uint64_t size);
/* Start and size of the live allocation holding ptr; 0 when none. */
int shim_alloc_find(const shim_alloc *a, uint64_t ptr, uint64_t *start, uint64_t *size);
uint64_t shim_alloc_mapped_bytes(const shim_alloc *a);
/* Allocations that would map more than bytes in all fail (0: no limit). */
void shim_alloc_set_limit(shim_alloc *a, uint64_t bytes);
void shim_alloc_free_all(shim_alloc *a);

/* ---- client handles ----
 * Every client object whose pointer the program holds as a CUDA handle (streams, events,
 * modules, functions, graphs, cuBLAS and cuBLASLt handles) starts with these fields, as
 * libuv's handles start with UV_HANDLE_FIELDS: magic is its kind (a SHIM_*_MAGIC, 0 once
 * destroyed), id its client ID on the wire (0 for kinds that have none), generation the
 * registry's count at its registration (a later object at a reused address has another). One
 * registry (shim/handles.c) holds the live ones: a handle the program passes is validated by
 * looking it up there, never by reading through it. */
#define SHIM_HANDLE_FIELDS                                                                     \
    uint32_t magic;                                                                            \
    uint32_t id;                                                                               \
    uint32_t generation;
typedef struct shim_handle {
    SHIM_HANDLE_FIELDS
} shim_handle;

/* ---- modules and functions (shim/modules.h) ---- */
typedef struct shim_module shim_module;
typedef struct shim_func {
    SHIM_HANDLE_FIELDS /* magic, id, generation: shim_int.h */
    shim_module *module;
    const void *host_fun;    /* NULL for a driver-API function */
    const char *device_name; /* borrowed from the program's static data (driver API: owned) */
    int ready;               /* layout fetched */
    uint32_t nparams;
    uint32_t *offsets, *sizes;
    uint32_t params_size;
    int32_t cu_err;          /* the executor's CUresult when the last prepare failed, or 0 */
    struct shim_func *next;  /* driver API: the module's next function */
} shim_func;
#define SHIM_FUNC_MAGIC 0x47464e43u
#define SHIM_MODULE_MAGIC 0x4d4f444cu
shim_func *shim_func_lookup(const void *host_fun_or_kernel);
/* Loads the module remotely if needed and fetches the layout (round trips, first use only). */
cudaError_t shim_func_prepare(shim_func *f);
/* Records a LAUNCH of f on stream (cudaLaunchKernel's checks and packing). */
cudaError_t shim_launch(shim_func *f, dim3 grid, dim3 block, void **args, size_t shmem,
                        cudaStream_t stream);

/* Driver-API modules and functions (cuModuleLoadData, cuModuleGetFunction): the CUmodule and
 * CUfunction handles are these objects, live in the handle table under SHIM_MODULE_MAGIC and
 * SHIM_FUNC_MAGIC. The module copies image[0, len) and is loaded remotely (hash first, bytes
 * if needed) with its first function; each function is prepared (FUNC_GET) when first asked
 * for and then reused. On a failure the executor answered, *cu_err is its CUresult (else 0). */
cudaError_t shim_module_create(const void *image, size_t len, shim_module **out);
cudaError_t shim_module_function(shim_module *m, const char *name, shim_func **out,
                                 int32_t *cu_err);
/* Frees the module and its functions; their handles stop being valid. */
void shim_module_destroy(shim_module *m);
/* One FUNC_ATTR query (CUfunction_attribute attr): a round trip. */
cudaError_t shim_func_attribute(shim_func *f, int attr, int *value, int32_t *cu_err);

/* ---- streams and events: client objects whose pointers are the CUDA handles ---- */
typedef struct shim_stream {
    SHIM_HANDLE_FIELDS /* magic, id, generation: shim_int.h */
    unsigned flags;
    int priority;
} shim_stream;
#define SHIM_STREAM_MAGIC 0x5354524du
typedef struct shim_event {
    SHIM_HANDLE_FIELDS /* magic, id, generation: shim_int.h */
    unsigned flags;
    int recorded;
    unsigned long long capture; /* recorded in this capture (its id), or 0 */
} shim_event;
#define SHIM_EVENT_MAGIC 0x45564e54u

/* ---- global state (shim/core.c) ---- */
typedef struct shim_state {
    /* everything below is guarded by the shim's lock (shim_lock) */
    int connected;
    cudaError_t fatal; /* session lost or unusable: every call returns it */
    shim_link *link;
    shim_alloc *alloc;
    int ndevices;
    proto_devinfo dev[PROTO_MAX_DEVICES];
    uint64_t va_base, va_size, granularity;

    uint32_t seq; /* of the last frame sent */

    uint32_t next_stream, next_event, next_module, next_func, next_blas, next_lt;
    /* Which streams the executor has drained with nothing recorded since: the stream ID,
     * SHIM_CLEAN_ALL after a device sync, or SHIM_CLEAN_NONE. A stream sync on a clean
     * stream needs no round trip (a decode step's D2H copy then costs the only one).
     * clean_after is what the flush being prepared will leave clean. */
    int64_t clean, clean_after;
    /* Streams capturing a CUDA graph (shim/graph.c); ncaptures 0 keeps the recorders' check
     * to one compare. */
    struct shim_capture *captures;
    uint32_t ncaptures, next_graph;
    unsigned long long next_capture_id;
    /* The semantics layer (semantics/sem.h): ir describes the batch, one descriptor per
     * committed record (shim/batch.c appends it at the commit); pol holds what the passes may
     * do (GENIE_SEMANTICS, GENIE_WEIGHT_CACHE, GENIE_GRAPH_REPLAY, GENIE_BATCH_BYTES; the
     * weight cache is switched off when the executor keeps none); rep is the repeated-batch
     * pass's memory of the template (its bytes: shim/delta.c). */
    sem_ir ir;
    sem_policy pol;
    sem_repeat rep;
    sem_kv kv;       /* the KV pass's buffers (pol.kv_bufs points here) */
    sem_phase phase; /* the phase of the batch being flushed (or the last one flushed) */
    void *sem_dump; /* GENIE_SEM_DUMP: a FILE * that gets each flushed batch's IR, or NULL */
    int naive; /* GENIE_NAIVE=1: every recorded op is flushed and waited for on its own */
    /* Non-blocking flushes: at most inflight_batches frames (0: every flush waits) and
     * inflight_bytes request bytes in flight (GENIE_INFLIGHT_BATCHES, GENIE_INFLIGHT_BYTES);
     * sync_elision: GENIE_SYNC_ELISION. All off with GENIE_SEMANTICS=0 or GENIE_NAIVE=1. */
    uint32_t inflight_batches;
    uint64_t inflight_bytes;
    int sync_elision;
    sem_pipe pipe; /* the pipeline pass's run of chunks since the last waiting flush */
    sem_cost_params cost; /* the cost model's parameters (shim/cost.c) */
    int delta_z; /* GENIE_DELTA_DEFLATE: a BATCH_DELTA's patches go compressed when smaller */
    int delta_ref; /* GENIE_DELTA_REF: a BATCH_DELTA's list may patch the back-reference prediction */
    shim_stats stats;
} shim_state;

extern shim_state shim_g;

/* ---- the cost model's parameters (shim/cost.c); lock held ----
 * init: defaults, then GENIE_COST_PARAMS; model_used: the pipeline sizes chunks with them
 * (GENIE_COST_CALIBRATE's default). hello_flags: HELLO's PROTO_HELLO_COST or 0. r_cost: an
 * R_COST of the HELLO reply. session: after HELLO, the PINGs. wire_sample: a frame of bytes
 * (sent + received) waited for round_trip_ns, exec_ns of it the executor's. json: the
 * parameters and where they came from, as members for genie_stats_json. */
void shim_cost_init(int model_used);
uint32_t shim_cost_hello_flags(void);
int shim_cost_r_cost(const proto_rec *r);
void shim_cost_session(void);
void shim_cost_wire_sample(uint64_t bytes, uint64_t round_trip_ns, uint64_t exec_ns);
/* A batch (its IR) whose reply was waited for, exec_ns its R_EXEC: teaches op_ns the
 * executor's whole cost per op (decode, checks, dispatch, device), beyond the device's alone. */
void shim_cost_exec_sample(const sem_ir *ir, uint64_t exec_ns);
/* The parallel-branches pass took ns over a batch of nops: teaches pair_ns. */
void shim_cost_pass_sample(uint32_t nops, uint64_t ns);
int shim_cost_json(char *out, size_t n);

/* GENIE_PARALLEL_BRANCHES (shim/branches.c): at a flush, before the batch's form is decided,
 * appends a BRANCHES record when the batch's graph has independent branches. Lock held. */
void shim_branches_annotate(void);

/* ---- GENIE_TRACE_FILE (shim/trace.c); lock held ---- */
extern int shim_trace_enabled; /* set once at init: the recorders' one check */
void shim_trace_init(void);
/* After HELLO: names the executor's track and measures the clock offset (PINGs). */
void shim_trace_clock(uint32_t session);
/* The first op of a batch was committed / the batch is being flushed. */
void shim_trace_batch_first(void);
void shim_trace_recording(uint32_t ops, uint64_t bytes);
/* PROTO_FRAME_TRACE once the clocks are aligned, else 0. */
uint32_t shim_trace_frame_flags(void);
/* An R_TRACE record of the reply being read: 0 or GENIE_EPROTO. */
int shim_trace_reply(const proto_rec *r);
/* A frame's round trip: sent at a, reply in at z, unpacked at done (client ns). */
void shim_trace_frame(uint32_t seq, int kind, uint64_t a, uint64_t z, uint64_t done,
                      uint64_t sent, uint64_t received);

/* The shim's lock: one plain mutex, taken once per API call by the generated wrapper (and by
 * the hand-written entry points that have no wrapper). shim_depth is this thread's count of
 * holds: a nested shim_lock (an internal function, a call made from inside the shim) only
 * counts, so the mutex is never taken twice and never recursively. */
extern __thread unsigned shim_depth __attribute__((tls_model("initial-exec")));
/* The mutex itself: a futex word (0 free, 1 held, 2 held with waiters), so that an
 * uncontended call costs one compare-and-swap in and one exchange out, inline (about half a
 * pthread mutex pair on the launch path); shim_inited says the process state is set up. */
extern int shim_lockword, shim_inited;
void shim_lock_slow(int seen);
void shim_unlock_slow(void);
static inline void shim_lock(void)
{
    if (shim_depth++ == 0) {
        int c = 0;
        if (__builtin_expect(!__atomic_load_n(&shim_inited, __ATOMIC_ACQUIRE), 0) ||
            !__atomic_compare_exchange_n(&shim_lockword, &c, 1, 0, __ATOMIC_ACQUIRE,
                                         __ATOMIC_RELAXED))
            shim_lock_slow(c);
    }
}
static inline void shim_unlock(void)
{
    if (--shim_depth == 0 && __atomic_exchange_n(&shim_lockword, 0, __ATOMIC_RELEASE) == 2)
        shim_unlock_slow();
}
/* Internal functions that run inside an API call: the caller holds the lock. */
#define SHIM_HELD() assert(shim_depth > 0)
/* Around a call out to the program (a host function): drops every hold of this thread and
 * takes them back after. */
unsigned shim_release(void);
void shim_reacquire(unsigned depth);
/* Process setup, once (shim/session.c; run by the first shim_lock) and the counters' report
 * at exit (shim/stats.c). */
void shim_init_once(void);
void shim_stats_atexit(void);

/* Connects on first use (HELLO). Returns cudaSuccess or the session error. Lock held. */
cudaError_t shim_ensure(void);

/* The IR descriptor of the op being recorded (semantics/sem.h): call after the record's
 * SHIM_PUT (after any flush the recorder makes first), fill in what the kind needs; the
 * batch's commit appends it (shim_batch_commit), a rollback drops it. wire_op is the record's
 * PROTO_OP_*. Lock held. */
static inline sem_op *shim_sem_op(unsigned kind, uint16_t wire_op, uint32_t stream)
{
    sem_op *o = sem_ir_stage(&shim_g.ir, kind, stream);
    o->wire_op = wire_op;
    o->site = (uint64_t)(uintptr_t)shim_call_site; /* the call being served on this thread */
    return o;
}
static inline void shim_sem_range(sem_op *o, uint64_t ptr, uint64_t size, unsigned mode)
{
    sem_ir_range(&shim_g.ir, o, ptr, size, mode);
}

/* Sends the batch (if it holds ops) and applies the reply. kind says which counter the
 * round trip goes to. Returns the first async error of the batch, or cudaSuccess. */
enum { SHIM_RT_SYNC, SHIM_RT_SETUP, SHIM_RT_MODULE, SHIM_RT_QUERY };
enum { SHIM_CLEAN_NONE = -1, SHIM_CLEAN_ALL = -2 };
/* Copies travel in pieces of at most this many bytes (records have 32-bit lengths), and one
 * reply carries at most SHIM_REPLY_BUDGET bytes of device-to-host data. */
#define SHIM_COPY_PIECE ((size_t)64 << 20)
#define SHIM_REPLY_BUDGET ((uint64_t)1 << 30)
cudaError_t shim_flush(int kind);
/* A flush that is not a sync point (the size threshold, a pipeline chunk, a large upload whose
 * bytes are sent before the call returns, an elided sync): the batch is sent and the call
 * returns without its reply, when the batch allows (non-blocking flushes on, every reply slot
 * an R_DATA into the program's memory, its reply small); else it waits like shim_flush. An
 * error of the batch surfaces at the next flush that waits. */
cudaError_t shim_flush_nowait(void);
/* The most D2H bytes the replies of frames in flight may carry in all (they wait in gRPC's
 * 8 MiB flow-control window until taken). */
#define SHIM_INFLIGHT_REPLY_MAX ((uint64_t)4 << 20)

/* ---- frames in flight (shim/inflight.c) ----
 * Batches sent without waiting, oldest first, with what their replies must fill. Replies come
 * in the order the frames went out; whatever waits for a reply takes the older ones first.
 * Lock held. */
/* Sends batch frame b (ext spliced in) without waiting; the reply's R_DATA go to slots
 * (copied). First waits for the oldest replies while the bound would be passed. */
cudaError_t shim_inflight_send(genie_buf *b, const proto_ext *ext, size_t next,
                               const shim_slot *slots, uint32_t nslots, uint64_t reply_bytes);
/* Takes every outstanding reply. cudaSuccess, or the session's loss; the executor's errors
 * are kept for shim_inflight_error. */
cudaError_t shim_inflight_drain(void);
/* The first error an in-flight batch's reply reported and no call has returned yet (then
 * cleared), or cudaSuccess. */
cudaError_t shim_inflight_error(void);
uint32_t shim_inflight_count(void);
/* 1 when a batch in flight brings data back to the host (an async D2H into pinned memory). */
int shim_inflight_observable(void);
/* 1 when a batch in flight will write into [p, p+n). */
int shim_inflight_writes_into(const void *p, size_t n);
/* The session ends: forget what is in flight. */
void shim_inflight_reset(void);

/* The reply walk of a batch (shim/batch.c): fills slots from R_DATA/R_VALUE, notes errors. */
typedef struct shim_batch_reply {
    cudaError_t err;    /* the first R_ERROR's code */
    uint32_t nerr;      /* R_ERROR records */
    int delta_refused;  /* an R_ERROR at PROTO_INDEX_DELTA: the executor had no template */
    shim_slot *slots;   /* the batch's reply slots, in op order */
    uint32_t nslots;
} shim_batch_reply;
int shim_batch_reply_cb(void *ud, const proto_rec *r);
/* proto_land.fn for a batch's reply (ud: its shim_batch_reply): a big R_DATA's bytes go
 * straight to its slot's destination, and shim_batch_reply_cb then leaves them be. */
int shim_batch_reply_land(void *ud, const void *head, size_t head_n, uint64_t total,
                          proto_land_at *at);
/* H2D copies of at least this many bytes to a remote are sent from the caller's memory:
 * recorded with shim_batch_splice, then flushed before the call returns (a pageable H2D
 * copy is synchronous with respect to its source; one round trip per large copy). */
#define SHIM_H2D_DIRECT_MIN ((size_t)1 << 20)
/* A frame holding spliced bytes is flushed before it would pass this size. */
#define SHIM_EXT_FRAME_MAX ((uint64_t)1 << 30)
/* 1 when the session talks to a remote (spliced sends are worth it only there). */
int shim_remote(void);
/* Sends a separate frame built by the caller in b (e.g. module loads) and walks its
 * reply with cb; pending work in the batch is left alone. */
typedef int (*shim_reply_cb)(void *ud, const proto_rec *r);
cudaError_t shim_call_frame(genie_buf *b, int kind, shim_reply_cb cb, void *ud);
/* The same with ext spliced into b (see proto_ext). */
cudaError_t shim_call_framev(genie_buf *b, const proto_ext *ext, size_t next, int kind,
                             shim_reply_cb cb, void *ud);
/* The halves, for frames kept in flight: send numbers frame b and sends it (*seq its number,
 * *sent_bytes what went out, may be NULL); recv takes the next reply, which must be frame
 * seq's (sent at sent_at, sent_bytes: for the trace), and walks it with cb (waited: counted as
 * a round trip of kind). */
cudaError_t shim_wire_send(genie_buf *b, const proto_ext *ext, size_t next, uint32_t *seq,
                           uint64_t *sent_bytes);
cudaError_t shim_wire_recv(uint32_t seq, int kind, int waited, uint64_t sent_at,
                           uint64_t sent_bytes, shim_reply_cb cb, void *ud);
/* The session is lost (what failed, a GENIE_E* code): logs, makes every later call fail with
 * cudaErrorDevicesUnavailable, and returns it. */
cudaError_t shim_lost(const char *what, int err);

/* GENIE_GRAPH_REPLAY (shim/delta.c): the batch payload cur (n bytes) as a BATCH_DELTA frame of
 * the kept template (the repeated-batch pass found the same ops), or NULL when the delta
 * would be half the batch or more (borrowed until the next call); keep stores the payload of
 * a template frame that ran cleanly as frame seq (the pass's shim_g.rep says whether it is
 * valid; was_delta: that frame was the delta last built, whose runs the next delta may reuse).
 * Lock held. */
genie_buf *shim_delta_build(const uint8_t *cur, size_t n);
void shim_delta_keep(const uint8_t *cur, size_t n, uint32_t seq, int was_delta);

/* ---- stream capture (shim/graph.c) ----
 * While a stream captures, the records of its work go into the capture instead of the batch.
 * A recorder records into the batch as usual; shim_batch_commit asks shim_capture_take with
 * the record's bytes: for a capturing stream they are copied into the capture (nothing is
 * sent); work on the legacy stream while a capture runs fails as in the runtime
 * (cudaErrorStreamCaptureImplicit, the capture invalidated). Returns 1 when the capture took
 * (or refused) the record, which then leaves the batch, with *e the call's result; 0 when it
 * goes into the batch. Lock held. */
int shim_capture_take(uint32_t sid, const uint8_t *rec, size_t n, cudaError_t *e);
/* 1 when stream sid is capturing (lock held). */
int shim_capturing(uint32_t sid);
/* A call that the runtime forbids while sid captures (a sync, a D2H copy): when sid is
 * capturing (or sid is the legacy stream and a capture runs, or sid is SHIM_CAPTURE_ANY and a
 * capture runs), logs why, invalidates the capture and returns the error; else cudaSuccess. */
#define SHIM_CAPTURE_ANY UINT32_MAX
cudaError_t shim_capture_forbid(uint32_t sid, const char *what);
/* Work the runtime would capture but Genie cannot replay (a host function node): when sid is
 * capturing, logs what, invalidates the capture and returns cudaErrorNotSupported; else
 * cudaSuccess. */
cudaError_t shim_capture_unsupported(uint32_t sid, const char *what);
/* A captured host-to-device copy: its bytes are read from src at each cudaGraphLaunch. */
cudaError_t shim_capture_h2d(uint32_t sid, uint64_t dst, const void *src, size_t n);
/* cudaEventRecord on capturing stream sid: notes the event as a point of the capture. */
cudaError_t shim_capture_event(uint32_t sid, shim_event *ev);
/* cudaStreamWaitEvent(sid, ev) where sid captures or ev was recorded in a capture. */
cudaError_t shim_capture_wait(uint32_t sid, shim_event *ev);
/* A sync or query of ev: refused while ev belongs to a running capture. */
cudaError_t shim_capture_event_use(shim_event *ev, const char *what);
/* Called when a stream is destroyed: its capture, if any, ends. */
void shim_capture_stream_gone(uint32_t sid);

/* Errors: the runtime's last-error and sticky semantics. */
cudaError_t shim_set_error(cudaError_t e);       /* records as last error, returns e */
cudaError_t shim_async_error(cudaError_t e);      /* an error from the executor */
extern __thread cudaError_t shim_last_error;

/* Streams: 0 for the default streams, the ID of a created stream, or UINT32_MAX when the
 * handle is not one of ours. */
uint32_t shim_stream_id(cudaStream_t s);

/* A hash map from pointers to non-NULL values (shim/ptrmap.c). Lock held. */
typedef struct shim_ptrmap {
    const void **keys; /* NULL marks an empty slot */
    void **vals;
    size_t cap, n;
} shim_ptrmap;
void *shim_ptrmap_get(const shim_ptrmap *m, const void *key); /* NULL when absent */
int shim_ptrmap_put(shim_ptrmap *m, const void *key, void *val); /* insert or replace */
void shim_ptrmap_del(shim_ptrmap *m, const void *key);

/* The registry of live client handles (shim/handles.c), keyed by pointer with their magic as
 * the kind. A destroyed or made-up handle is then an invalid handle, not a read of freed or
 * unmapped memory. Lock held. */
/* Registers h (an object starting with SHIM_HANDLE_FIELDS) as a live handle of kind: sets its
 * magic and generation. 0 or GENIE_ENOMEM (then h is not registered). */
int shim_handle_add(void *h, uint32_t kind);
/* Unregisters h and clears its magic; the caller frees it. */
void shim_handle_del(void *h);
/* 1 when p is a live handle of kind (kind 0: of any kind). */
int shim_handle_is(const void *p, uint32_t kind);
/* p as a live handle of kind, or NULL. */
void *shim_handle_of(const void *p, uint32_t kind);
/* Calls visit on every live handle of kind (visit may unregister and free it). */
void shim_handles_each(uint32_t kind, void (*visit)(void *h));
int shim_host_is_pinned(const void *p, size_t n);

/* cudaDeviceReset (shim/reset.c) ends the session; each file that owns session objects
 * forgets them here, with nothing sent (the executor frees its side with the session): their
 * handles stop being valid, registered kernels and variables stay and load again on first
 * use. Lock held. */
void shim_streams_forget(void);  /* cudart_stream.c: streams, events */
void shim_graphs_forget(void);   /* graph.c: captures, graphs, executable graphs */
void shim_blas_forget(void);     /* blas.c: cuBLAS handles */
void shim_lt_forget(void);       /* cublaslt.c, lt_companion.c: cuBLASLt handles, companions */
void shim_dnn_forget(void);      /* cudnn.c: cuDNN handles, backend descriptors */
void shim_modules_forget(void);  /* module_driver.c, register.c: driver modules; bindings */
void shim_delta_forget(void);    /* delta.c: the template batch */
void shim_device_forget(void);   /* cudart_device.c: cudaSetDeviceFlags */

/* Generated wrappers' helpers. */
void shim_count(unsigned apix);
cudaError_t shim_bad_arg(unsigned apix, const char *arg);
cudaError_t shim_deny_cudart(unsigned apix);
/* Counts a denied call and logs its name once (any library of the API table). */
void shim_deny_note(unsigned apix, const char *status);

#endif
