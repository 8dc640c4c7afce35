/* fakegpu_int.h — fake GPU internals: global lock, handle table, fault guard, init checks. */
#ifndef GENIE_FAKEGPU_INT_H
#define GENIE_FAKEGPU_INT_H

/* The library builds with -fvisibility=hidden; declarations made under this pragma keep
 * default visibility, so exactly the cu* functions we define (and the twin API) are
 * exported, and nothing else needs an attribute. */
#pragma GCC visibility push(default)
#include <cuda.h>

#include "fakegpu_twin.h"
#include "fakegpu_work.h"
#pragma GCC visibility pop

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* One lock for every global table (handles, memory ranges, reservations, modules). It is
 * never held while user code (a twin) or a bulk copy runs. */
extern pthread_mutex_t fg_lock;

#define FG_LOCK() pthread_mutex_lock(&fg_lock)
#define FG_UNLOCK() pthread_mutex_unlock(&fg_lock)

/* Handle table: every live handle we gave out, keyed by address, with its kind. A lookup
 * never dereferences the handle, so a bogus or freed handle is reported, not followed. */
enum fg_kind {
    FG_H_CTX = 1,
    FG_H_STREAM,
    FG_H_EVENT,
    FG_H_MODULE,
    FG_H_FUNC,
    FG_H_MEM,
    FG_H_GRAPH,
    FG_H_GEXEC
};
int fg_handle_add(const void *h, enum fg_kind k); /* caller holds fg_lock; 0 or -1 (ENOMEM) */
void fg_handle_del(const void *h);                /* caller holds fg_lock */
int fg_handle_is(const void *h, enum fg_kind k);  /* caller holds fg_lock */
/* Removes h if it is a live handle of kind k: 1 if it was (caller holds fg_lock). */
int fg_handle_take(const void *h, enum fg_kind k);

/* Device-wide state (fg_core.c). */
#define FG_GRANULARITY ((size_t)2 << 20)
#define FG_MAX_THREADS_PER_BLOCK 1024
#define FG_SHMEM_PER_BLOCK 49152
#define FG_SHMEM_OPTIN 232448
extern size_t fg_total_mem;            /* GENIE_FAKE_MEM, fixed at cuInit */
CUresult fg_check_init(void);          /* CUDA_ERROR_NOT_INITIALIZED before cuInit */
CUresult fg_check_ctx(void); /* also CUDA_ERROR_INVALID_CONTEXT with no current context, and
                                the sticky error of a corrupted context */
CUresult fg_check_sticky(void); /* the context's sticky error (GENIE_FAKE_STICKY=1), or 0 */
void fg_fault(CUresult r);      /* a kernel faulted with r: sticky when GENIE_FAKE_STICKY=1 */
int fg_dev_attr(CUdevice_attribute a); /* value of a valid attribute */

/* Streams (fg_stream.c): NULL, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD are valid too.
 * Caller holds fg_lock. */
int fg_stream_ok(CUstream s);
/* The NULL stream (and CU_STREAM_LEGACY / CU_STREAM_PER_THREAD) is the current context's:
 * an op on it needs a context current on the calling thread (CUDA_ERROR_INVALID_CONTEXT),
 * an op on a created stream only cuInit. Takes no lock. */
CUresult fg_check_stream_ctx(CUstream s);

/* Kernels' parameter layouts read from a module image's cubin (fg_cubin.c). */
typedef struct fg_layout {
    struct fg_layout *next;
    unsigned n;     /* parameters */
    uint32_t *off;  /* n offsets, in the same allocation */
    uint32_t *size; /* n sizes */
    char *name;     /* the kernel's (mangled) name */
} fg_layout;
/* Every kernel layout the image's cubin (the ELF entry for sm_90, uncompressed when zstd'd)
 * gives, or NULL (none, unreadable, or GENIE_FAKE_PARAM_LAYOUT=off). Caller frees with
 * fg_layouts_free. image: a fatbin or fatbin wrapper, trusted as the driver trusts it. */
fg_layout *fg_image_layouts(const void *image);
const fg_layout *fg_layout_find(const fg_layout *list, const char *name); /* borrowed */
void fg_layouts_free(fg_layout *list);

/* ---- the fake GPU in time (fg_sched.c) ----
 * A mark is a position in a stream; done once the work before it is, at modeled time t. Its
 * fields are guarded by the scheduler's own lock. */
typedef struct fg_mark {
    int refs;
    int done;
    uint64_t t; /* CLOCK_MONOTONIC ns: the modeled end of the work before it */
} fg_mark;

/* One unit of stream work. fn NULL: a marker or a wait, which only completes (its mark). */
typedef struct fg_item {
    struct fg_item *next;
    int (*fn)(void *arg); /* 0 or a CUresult, reported at the next sync */
    void *arg;
    void (*release)(void *arg);
    fg_mark *mark;   /* completed with the item (a reference), or NULL */
    fg_mark **deps;  /* must be done before it starts (references) */
    unsigned ndeps;
    int host;        /* a host function: runs when the real clock reaches its start */
    int computed;    /* real CPU work: its end is at least when the CPU finished it */
    uint64_t t_issue; /* when it was queued */
    uint64_t cost_ns; /* modeled device time */
} fg_item;
#define FG_ITEM_HOST 1u
#define FG_ITEM_COMPUTED 2u

typedef struct fg_stream {
    unsigned flags; /* CU_STREAM_NON_BLOCKING */
    int prio;
    int legacy; /* the NULL stream */
    int dead;   /* destroyed by its owner; freed once drained */
    fg_item *head, *tail;
    unsigned pending;  /* queued and running items */
    int running;       /* a worker is running its head */
    uint64_t t;        /* modeled end of its last finished item */
    fg_mark *tail_mark; /* a mark at the end of the queue, while nothing was queued after it */
    struct CUgraph_st *cap; /* capturing into this graph (cuStreamBeginCapture), or NULL; only
                             * the capturing thread changes it (atomic loads elsewhere) */
    struct fg_stream *next;
} fg_stream;

typedef struct fg_event {
    unsigned flags;
    fg_mark *last; /* the latest record, or NULL (under the scheduler's lock) */
} fg_event;

uint64_t fg_now(void);
void fg_sleep_until(uint64_t t);
int fg_sched_workers(void);
fg_stream *fg_sched_stream(CUstream s); /* NULL, LEGACY and PER_THREAD: the legacy stream */
fg_stream *fg_sched_stream_new(unsigned flags, int prio);
void fg_sched_stream_destroy(fg_stream *s);
/* Queues fn(arg) (NULL fn: nothing to compute, cost_ns still spent) on s; *done, when asked,
 * gets a mark completed with it. 0 or CUDA_ERROR_OUT_OF_MEMORY (release(arg) has run). */
int fg_sched_submit(fg_stream *s, int (*fn)(void *), void *arg, void (*release)(void *),
                    uint64_t cost_ns, unsigned flags, fg_mark **done);
fg_mark *fg_sched_tail(fg_stream *s); /* a referenced mark at the end of s's queue */
void fg_sched_wait(fg_mark *m);       /* until done and its modeled time reached */
int fg_sched_mark_ready(const fg_mark *m);
int fg_sched_mark_time(const fg_mark *m, uint64_t *t); /* done? and its time */
void fg_mark_put(fg_mark *m);
CUresult fg_sched_take_err(void);   /* the pending async error, cleared */
CUresult fg_sched_sync_result(void); /* sticky error, else the pending async one (cleared) */
CUresult fg_sched_sync_stream(fg_stream *s);
CUresult fg_sched_query_stream(fg_stream *s);
CUresult fg_sched_sync_all(void);
CUresult fg_sched_wait_all(void); /* as sync_all, leaving a pending error for the next sync */
CUresult fg_sched_record(fg_event *e, fg_stream *s);
CUresult fg_sched_wait_event(fg_stream *s, fg_event *e);
fg_mark *fg_sched_event_mark(fg_event *e); /* referenced, or NULL if never recorded */
void fg_sched_event_free(fg_event *e);

/* A unit of stream work as built by a call, before it is queued or captured as a graph node:
 * fn(arg) runs on a worker (NULL: only the cost is spent), release(arg) frees it. */
enum fg_node_kind { FG_NODE_OTHER = 0, FG_NODE_KERNEL, FG_NODE_MEMCPY };
typedef struct fg_work {
    int (*fn)(void *arg);
    void *arg;
    void (*release)(void *arg);
    uint64_t cost_ns;
    unsigned flags; /* FG_ITEM_* */
    int kind;       /* fg_node_kind: what a graph node made of it may be updated as */
} fg_work;
/* Queues w on s, or adds it to the graph s is capturing (then done must be NULL: an op the
 * host waits for cannot be captured; the capture is invalidated and
 * CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED returned). release(arg) has run on failure. */
int fg_sched_submit_work(fg_stream *s, const fg_work *w, fg_mark **done);
/* Whether s is capturing (fg_graph.c); an op that cannot be captured calls
 * fg_capture_refuse(s), which invalidates the capture and returns the error to report. */
int fg_sched_capturing(const fg_stream *s);
CUresult fg_capture_refuse(fg_stream *s);
/* Adds w to the graph s captures (fg_graph.c); release(arg) has run on failure. */
int fg_graph_capture(fg_stream *s, const fg_work *w);
/* The kernel launch of cuLaunchKernel as work (fg_module.c), and a 1-D copy (fg_mem.c; devd,
 * devs: which sides are device memory; a host source is read when the work runs). */
CUresult fg_launch_work(CUfunction f, const unsigned grid[3], const unsigned block[3],
                        unsigned sharedMemBytes, void **kernelParams, void **extra, fg_work *out);
CUresult fg_copy_work(void *dst, const void *src, size_t n, int devd, int devs, fg_work *out);

/* ---- the device-time model (fg_model.c) ---- */
struct fg_cost;
uint64_t fg_model_ns(const struct fg_cost *c); /* 0 without a model */
int fg_model_compute(void); /* 0 in timing-only mode */
const char *fg_model_name(void); /* the modeled GPU's name, or NULL without a model */

/* Memory (fg_mem.c): does [p, p+n) lie in device memory (cuMemAlloc or cuMemMap ranges,
 * adjacent ranges allowed)? Takes fg_lock itself. */
int fg_dev_range_ok(CUdeviceptr p, size_t n);
/* Page-locked host memory (fg_mem.c: cuMemHostAlloc, cuMemAllocHost): does [p, p+n) lie in one
 * such allocation? A graph's memcpy node may only name host memory of this kind. */
int fg_host_pinned(const void *p, size_t n);
/* A module's device variable (fg_module.c): its own zeroed pages, a valid device range.
 * Takes fg_lock itself. */
CUresult fg_global_alloc(size_t bytes, CUdeviceptr *out);
void fg_global_release(CUdeviceptr ptr);

/* Fault guard (fg_guard.c): runs fn(arg) so that SIGSEGV/SIGBUS/SIGFPE/SIGILL raised in
 * this thread while it runs unwind back here. Returns 0, or the signal number. Whatever
 * fn allocated before faulting leaks: acceptable for a test double. */
int fg_guarded(void (*fn)(void *), void *arg);

#endif
