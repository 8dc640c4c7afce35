/* exec_int.h — the executor's internals: driver table, context, session state, shared helpers. */
#ifndef GENIE_REMOTE_EXEC_INT_H
#define GENIE_REMOTE_EXEC_INT_H

#include <cuda.h> /* types and enums only: the driver is reached through dlsym */
#include <pthread.h>
#include <stdint.h>

#include "common/genie.h"
#include "protocol/delta.h"
#include "remote/gen/exec_ops.h"
#include "remote/auth.h"
#include "remote/exec.h"

/* ---- the driver, loaded with dlopen ----
 * XX(field, proto, "exported symbol", required). proto is the cuda.h name, whose type we
 * borrow with __typeof__ (cuda.h #defines some names to their _v2 symbols, so the type is
 * that of the symbol we dlsym). A missing optional symbol makes its op fail with
 * CUDA_ERROR_NOT_SUPPORTED instead of refusing to start. */
#define EXEC_DRIVER_MAP(XX)                                                                        \
    XX(Init, cuInit, "cuInit", 1)                                                                  \
    XX(DriverGetVersion, cuDriverGetVersion, "cuDriverGetVersion", 1)                              \
    XX(DeviceGetCount, cuDeviceGetCount, "cuDeviceGetCount", 1)                                    \
    XX(DeviceGet, cuDeviceGet, "cuDeviceGet", 1)                                                   \
    XX(DeviceGetName, cuDeviceGetName, "cuDeviceGetName", 1)                                       \
    XX(DeviceTotalMem, cuDeviceTotalMem, "cuDeviceTotalMem_v2", 1)                                 \
    XX(DeviceGetAttribute, cuDeviceGetAttribute, "cuDeviceGetAttribute", 1)                        \
    XX(DeviceGetUuid, cuDeviceGetUuid, "cuDeviceGetUuid_v2", 0)                                    \
    XX(PrimaryCtxRetain, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", 1)                  \
    XX(PrimaryCtxRelease, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", 1)            \
    XX(PrimaryCtxReset, cuDevicePrimaryCtxReset, "cuDevicePrimaryCtxReset_v2", 0)                  \
    XX(CtxSetCurrent, cuCtxSetCurrent, "cuCtxSetCurrent", 1)                                       \
    XX(GetErrorName, cuGetErrorName, "cuGetErrorName", 0)                                          \
    XX(GetErrorString, cuGetErrorString, "cuGetErrorString", 0)                                    \
    XX(MemGetInfo, cuMemGetInfo, "cuMemGetInfo_v2", 0)                                             \
    XX(MemGetAllocationGranularity, cuMemGetAllocationGranularity,                                 \
       "cuMemGetAllocationGranularity", 1)                                                         \
    XX(MemAddressReserve, cuMemAddressReserve, "cuMemAddressReserve", 1)                           \
    XX(MemAddressFree, cuMemAddressFree, "cuMemAddressFree", 1)                                    \
    XX(MemCreate, cuMemCreate, "cuMemCreate", 1)                                                   \
    XX(MemRelease, cuMemRelease, "cuMemRelease", 1)                                                \
    XX(MemMap, cuMemMap, "cuMemMap", 1)                                                            \
    XX(MemUnmap, cuMemUnmap, "cuMemUnmap", 1)                                                      \
    XX(MemSetAccess, cuMemSetAccess, "cuMemSetAccess", 1)                                          \
    XX(MemcpyHtoDAsync, cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", 1)                              \
    XX(MemHostAlloc, cuMemHostAlloc, "cuMemHostAlloc", 0)                                          \
    XX(MemFreeHost, cuMemFreeHost, "cuMemFreeHost", 0)                                             \
    XX(MemcpyDtoHAsync, cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", 1)                              \
    XX(MemcpyDtoDAsync, cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", 1)                              \
    XX(MemsetD8Async, cuMemsetD8Async, "cuMemsetD8Async", 1)                                       \
    XX(StreamCreateWithPriority, cuStreamCreateWithPriority, "cuStreamCreateWithPriority", 1)      \
    XX(StreamDestroy, cuStreamDestroy, "cuStreamDestroy_v2", 1)                                    \
    XX(StreamSynchronize, cuStreamSynchronize, "cuStreamSynchronize", 1)                           \
    XX(StreamQuery, cuStreamQuery, "cuStreamQuery", 1)                                             \
    XX(StreamWaitEvent, cuStreamWaitEvent, "cuStreamWaitEvent", 1)                                 \
    XX(EventCreate, cuEventCreate, "cuEventCreate", 1)                                             \
    XX(EventDestroy, cuEventDestroy, "cuEventDestroy_v2", 1)                                       \
    XX(EventRecord, cuEventRecord, "cuEventRecord", 1)                                             \
    XX(EventQuery, cuEventQuery, "cuEventQuery", 1)                                                \
    XX(EventSynchronize, cuEventSynchronize, "cuEventSynchronize", 1)                              \
    XX(EventElapsedTime, cuEventElapsedTime, "cuEventElapsedTime_v2", 0)                           \
    XX(ModuleLoadData, cuModuleLoadData, "cuModuleLoadData", 0)                                    \
    XX(ModuleUnload, cuModuleUnload, "cuModuleUnload", 0)                                          \
    XX(ModuleGetFunction, cuModuleGetFunction, "cuModuleGetFunction", 0)                           \
    XX(ModuleGetGlobal, cuModuleGetGlobal, "cuModuleGetGlobal_v2", 0)                              \
    XX(FuncGetParamInfo, cuFuncGetParamInfo, "cuFuncGetParamInfo", 0)                              \
    XX(FuncGetAttribute, cuFuncGetAttribute, "cuFuncGetAttribute", 0)                              \
    XX(FuncSetAttribute, cuFuncSetAttribute, "cuFuncSetAttribute", 0)                              \
    XX(LaunchKernel, cuLaunchKernel, "cuLaunchKernel", 0)                                          \
    XX(LaunchCooperativeKernel, cuLaunchCooperativeKernel, "cuLaunchCooperativeKernel", 0)         \
    XX(OccupancyMaxActiveBlocks, cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags,             \
       "cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags", 0)                                   \
    XX(StreamBeginCapture, cuStreamBeginCapture, "cuStreamBeginCapture_v2", 0)                     \
    XX(StreamEndCapture, cuStreamEndCapture, "cuStreamEndCapture", 0)                              \
    XX(StreamGetCaptureInfo, cuStreamGetCaptureInfo, "cuStreamGetCaptureInfo_v3", 0)               \
    XX(GraphInstantiate, cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags", 0)            \
    XX(GraphLaunch, cuGraphLaunch, "cuGraphLaunch", 0)                                             \
    XX(GraphExecKernelNodeSetParams, cuGraphExecKernelNodeSetParams,                               \
       "cuGraphExecKernelNodeSetParams_v2", 0)                                                     \
    XX(GraphExecMemcpyNodeSetParams, cuGraphExecMemcpyNodeSetParams,                               \
       "cuGraphExecMemcpyNodeSetParams", 0)                                                        \
    XX(GraphDestroy, cuGraphDestroy, "cuGraphDestroy", 0)                                          \
    XX(GraphExecDestroy, cuGraphExecDestroy, "cuGraphExecDestroy", 0)

typedef struct exec_driver {
#define EXEC_XX_(field, proto, sym, req) __typeof__(proto) *field;
    EXEC_DRIVER_MAP(EXEC_XX_)
#undef EXEC_XX_
    /* The fake GPU's count of API calls made by the calling thread (genie_fake_api_calls),
     * NULL with a real driver: the replay's measurements read it (remote/replay.c). */
    unsigned long long (*api_calls)(void);
} exec_driver;

/* Calls an entry that may be missing: CUDA_ERROR_NOT_SUPPORTED when the driver lacks it. */
#define EXEC_CU(d, field, ...) ((d)->field ? (d)->field(__VA_ARGS__) : CUDA_ERROR_NOT_SUPPORTED)

/* Loads the library and resolves the table; 0 or GENIE_EDRIVER with a reason in err. */
int exec_driver_load(const char *path, exec_driver *d, char *err, size_t errlen);
/* The cudaError_t the runtime reports for a CUresult (999 cudaErrorUnknown when unsure). */
int exec_cuda_err(CUresult r);
/* "CUDA_ERROR_X" for r, or "CUresult N" written into buf. */
const char *exec_cu_name(const exec_driver *d, CUresult r, char *buf, size_t n);

/* cudaError_t values the executor reports itself. */
enum {
    EXEC_cudaSuccess = 0,
    EXEC_cudaErrorInvalidValue = 1,
    EXEC_cudaErrorMemoryAllocation = 2,
    EXEC_cudaErrorInitializationError = 3,
    EXEC_cudaErrorInvalidConfiguration = 9,
    EXEC_cudaErrorInvalidSymbol = 13,
    EXEC_cudaErrorInsufficientDriver = 35,
    EXEC_cudaErrorDevicesUnavailable = 46,
    EXEC_cudaErrorInvalidDeviceFunction = 98,
    EXEC_cudaErrorInvalidDevice = 101,
    EXEC_cudaErrorInvalidResourceHandle = 400,
    EXEC_cudaErrorNotReady = 600,
    EXEC_cudaErrorNotPermitted = 800,
    EXEC_cudaErrorNotSupported = 801,
    EXEC_cudaErrorUnknown = 999,
};

/* ---- the module cache (process-wide, under ctx->lock) ---- */
typedef struct exec_module {
    struct exec_module *next; /* the cache's list; a private module: the session's list */
    genie_hash128 hash;
    CUmodule mod; /* loaded once, unloaded at exec_ctx_close (private: at session close) */
} exec_module;

/* ---- the weight cache (process-wide, under its own lock; remote/wcache.c) ---- */
typedef struct exec_wcache {
    pthread_mutex_t lock;
    uint64_t limit; /* GENIE_WEIGHT_CACHE_BYTES; 0: no cache */
    genie_lru lru;  /* the entries by hash, in LRU order; lru.bytes: held by them */
    uint64_t hits, misses, stored, evicted, bytes_served;
} exec_wcache;
void exec_wcache_init(exec_wcache *w, uint64_t limit);
void exec_wcache_free(exec_wcache *w);
/* Logs the cache's size and counters at info level (a session closing). */
void exec_wcache_log(exec_wcache *w);

/* In a worker process the weight cache is the front's, shared by the sessions of one tenant
 * (remote/worker.c, remote/wshare.c); ctx->wc_remote is then set and ctx->wcache unused. */
typedef struct exec_wcache_remote {
    void *ud;
    /* 1: a hit, *data holds size bytes until release; 0: a miss; 2: no cache there */
    int (*get)(void *ud, genie_hash128 h, uint64_t size, const void **data);
    void (*release)(void *ud, const void *data, uint64_t size);
    /* bytes whose hash was checked: offered to the cache, which checks them again */
    void (*store)(void *ud, genie_hash128 h, const void *data, uint64_t size);
} exec_wcache_remote;

struct exec_ctx {
    exec_driver drv;
    CUdevice dev;
    CUcontext primary;
    size_t granularity; /* minimum VMM granularity of device 0 */
    rmt_auth auth;      /* the tokens and the failed-login throttle */
    proto_devinfo devinfo;
    pthread_mutex_t lock; /* guards modules, next_session, nsessions and poison */
    exec_module *modules;
    uint32_t next_session;
    uint32_t nsessions; /* sessions past HELLO and not yet closed (an idle connection is none) */
    /* A kernel fault corrupts the primary context every session shares: from then on every
     * call fails with it. New sessions are refused until the open ones have closed; the
     * last to close resets the context (exec_ctx_poison, remote/ctx.c). 0: healthy. */
    CUresult poison;
    int lib_loaded; /* libraries below loaded on first use (set under lock, read atomically) */
    void *cublas, *cublaslt; /* dlopen handles, never closed */
    struct exec_lib_fns *lib;
    exec_wcache wcache; /* host copies of uploads by content hash */
    const exec_wcache_remote *wc_remote; /* a worker's: the front's cache (borrowed) */
    exec_limits limits;
    uint64_t wc_salt[2]; /* random per process: mixed with a tenant into weight-cache keys */
    exec_session *live; /* sessions past open, for the status table (under lock) */
    /* Nonzero in a worker process of genie-remote's front (remote/worker.c): this process
     * serves one session, whose id this is; the front checked its token and says which
     * tenant presented it. */
    uint32_t worker_session;
    unsigned worker_tenant;
    /* the cost model's device-side parameters, measured at the first HELLO that asks for
     * them (remote/cost.c) or given by the front; kept for the process's lifetime (lock) */
    exec_cost cost;
    int cost_known;
};

/* remote/cost.c: ctx's device-side cost parameters, measured on first call (*fresh = 1), then
 * kept. 0, or a CUresult (nothing measured). */
int exec_cost_get(exec_ctx *c, exec_cost *out, int *fresh);
/* Appends R_COST to s's reply (HELLO with PROTO_HELLO_COST). 0 or GENIE_ENOMEM; a failed
 * measurement leaves R_COST out and is no error of the session's. */
int exec_cost_reply(exec_session *s);

/* The key under which session s finds content hash h in a cache this process's sessions
 * share (weights, modules): unless global, h mixed with the session's tenant (the token it
 * presented) and a per-process secret, so a tenant hits only what its own sessions put
 * there and cannot learn what another tenant uploaded or loaded. */
genie_hash128 exec_cache_key(const exec_session *s, genie_hash128 h, int global);

/* ---- u32 client ID -> non-NULL pointer (open addressing, backward-shift delete) ---- */
typedef struct exec_idmap {
    uint32_t *keys;
    void **vals; /* NULL marks an empty slot */
    uint32_t cap, n;
} exec_idmap;
void *exec_idmap_get(const exec_idmap *m, uint32_t key);
int exec_idmap_put(exec_idmap *m, uint32_t key, void *val); /* key absent; 0 or GENIE_ENOMEM */
void *exec_idmap_del(exec_idmap *m, uint32_t key);          /* returns the old value or NULL */
void exec_idmap_free(exec_idmap *m);

/* One cuMemMap'ed range of the session; the handle is released when it is unmapped. */
typedef struct exec_map {
    uint64_t ptr, size;
    CUmemGenericAllocationHandle h;
} exec_map;

/* A device variable of one of the session's private modules (GLOBAL_GET). */
typedef struct exec_global {
    uint64_t ptr, size;
} exec_global;

/* A kernel bound to a client function ID, with its parameter layout. */
typedef struct exec_func {
    CUfunction f;
    uint32_t nparams;
    uint64_t need;     /* bytes of parameter buffer the layout covers: max(offset + size) */
    uint32_t layout[]; /* nparams x (offset, size) */
} exec_func;

struct exec_session {
    exec_ctx *ctx; /* borrowed */
    uint32_t id;
    int hello; /* HELLO done: VA reserved */
    uint64_t va_base, va_size;
    exec_map *maps; /* sorted by ptr, disjoint */
    size_t nmaps, capmaps;
    exec_idmap streams; /* client ID -> CUstream */
    exec_idmap events;  /* client ID -> CUevent */
    exec_idmap modules; /* client ID -> exec_module (borrowed from ctx cache, or private) */
    exec_module *private_modules; /* MODULE_LOAD_PRIVATE: owned, unloaded at close */
    exec_global *globals;         /* the variables GLOBAL_GET handed out: valid ranges */
    size_t nglobals, capglobals;
    exec_idmap funcs;   /* client ID -> exec_func (owned) */
    genie_buf reply;    /* the reply being built; handed to the caller at the end */
    /* A big reply's buffer, given back by the transport (exec_session_reply_done) and kept
     * for the next replies: a large D2H writes into pages faulted in once, not afresh. */
    uint8_t *out;       /* the last reply handed out (borrowed by the transport) */
    size_t out_cap, out_len;
    uint8_t *keep;      /* owned; NULL when none (handed out in s->reply) */
    const uint8_t *keep_last; /* the kept buffer's address, even while handed out */
    size_t keep_cap;
    uint64_t keep_big_ns; /* when a reply last needed it (big replies stopped: freed) */
    size_t reply_hint;  /* length of the last reply: the next one starts that big */
    uint8_t *arena;     /* exec_session_reply_arena: borrowed; NULL: none */
    size_t arena_cap;
    genie_buf scratch;  /* reused per batch: aligned kernel params, module images, names */
    void **kparams;     /* reused kernelParams array */
    size_t capkparams;
    exec_idmap blas;    /* client ID -> cublasHandle_t (remote/ops_lib.c) */
    void *lt;           /* cuBLASLt state of the session (remote/ops_lt.c) */
    void *dnn;          /* cuDNN state of the session (remote/ops_dnn.c) */
    exec_idmap graphs;  /* client graph ID -> exec_graph (owned; remote/ops_graph.c) */
    /* While a GRAPH_LAUNCH replays: exec_stream maps the graph's origin stream to the launch
     * stream, and exec_fail names the graph and record. */
    int replaying;
    uint32_t replay_graph, replay_rec, remap_from, remap_to;
    /* BATCH_DELTA (GENIE_GRAPH_REPLAY): the payload of the last request frame flagged
     * PROTO_FRAME_TEMPLATE that ran without an R_ERROR, and that frame's seq. */
    genie_buf tmpl;
    uint32_t tmpl_seq;
    int tmpl_ok;
    /* the runs of the delta that made the template (PROTO_DELTA_SAME_LAYOUT reuses them), and
     * those of the delta being run */
    proto_delta_layout tmpl_layout, pend_layout;
    int tmpl_layout_ok, pend_layout_ok;
    proto_delta_refs refs; /* proto_delta_apply_ref's tables (PROTO_FRAME_DELTA_REF) */
    int in_delta;    /* running a reconstructed batch */
    struct exec_replay *replay; /* GENIE_GRAPH_REPLAY on the executor (remote/replay.c) */
    uint64_t nfail;  /* R_ERROR records written (exec_fail) */
    uint64_t t_handle; /* genie_now_ns() when the frame being handled arrived (R_EXEC) */
    uint64_t mapped; /* bytes mapped by MEM_MAP: held against limits.mem_quota */
    char peer[64];   /* the client's address without its port ("local" in-process) */
    unsigned tenant; /* which of the server's tokens it presented (0: the first, or none) */
    exec_session *prev, *next; /* ctx->live, under ctx->lock */
    uint64_t opened_ns;
    uint64_t nbatches; /* frames handled; with mapped and nfail read by STATUS (atomics) */
    /* GENIE_TRACE_FILE (remote/trace.c): created by the first frame flagged
     * PROTO_FRAME_TRACE. trace_op: the op being run is timed (its wire op), else 0. */
    struct exec_trace *trace;
    uint16_t trace_op;
    uint32_t trace_seq, trace_index;
    /* tests only (GENIE_TEST_CLOCK_SKEW_NS): added to every server time the client sees (PING,
     * R_TRACE), as if genie-remote's clock were another machine's */
    int64_t clock_skew;
    /* GENIE_PARALLEL_BRANCHES (remote/branches.c): the BRANCHES annotation of the frame being
     * run (borrowed from it; NULL: none), the lane of the op being run, the lanes' streams
     * (aux[0] unused: lane 0 is lane_st, the batch's stream) and events; forked: lanes that
     * waited for the fork point since the last barrier. */
    const uint8_t *lanes;
    uint32_t lane, lane_origin;
    CUstream lane_st;
    CUstream aux[4];
    CUevent lane_ev[4], fork_ev;
    uint8_t forked;
    int lane_ok; /* the fork point is recorded on lane_st: lanes may be used */
};

/* dlopen flags for the GPU libraries. In the in-process ("local") mode libgenie.so is
 * preloaded and exports the CUDA runtime, cuBLAS and cuBLASLt names: without DEEPBIND a
 * real libcublas would bind its calls into libcublasLt to the shim's cublasLt* and recurse
 * into Genie. DEEPBIND is incompatible with the sanitizer runtimes, so sanitizer builds go
 * without it (the fake libraries are linked -Bsymbolic for that case). */
#if defined(__has_feature) /* clang says so here; gcc defines __SANITIZE_ADDRESS__ */
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define EXEC_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL)
#else
#define EXEC_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)
#endif

/* Opens a GPU library for the executor; NULL (with the reason in err) when it cannot be
 * loaded or when the name resolved to Genie itself: in local mode with the look-alike
 * libraries on LD_LIBRARY_PATH, "libcublas.so.13" is the shim, and calling it would
 * recurse. */
void *exec_dlopen(const char *path, char *err, size_t errlen);

/* ---- libraries (remote/ops_lib.c, remote/ops_lt.c) ---- */
struct exec_lib_fns;
/* Loads GENIE_CUBLAS_LIB / GENIE_CUBLASLT_LIB once per process (default libcublas.so.13,
 * libcublasLt.so.13); NULL when the library cannot be loaded (logged once). */
void *exec_lib_cublas(exec_ctx *ctx);
void *exec_lib_cublaslt(exec_ctx *ctx);
/* The resolved table of forwarded functions (never NULL; entries may be). */
const struct exec_lib_fns *exec_lib_table(exec_session *s);
/* Frees what the session holds in the libraries: cuBLAS handles, then cuBLASLt state. */
void exec_lib_session_close(exec_session *s);
void exec_lt_session_close(exec_session *s);
/* Frees the session's cuDNN descriptors and handles (remote/ops_dnn.c). */
void exec_dnn_session_close(exec_session *s);
/* Unloads the session's private modules and forgets its device variables (remote/ops_module.c). */
void exec_module_session_close(exec_session *s);
/* ---- iteration replay (remote/replay.c) ----
 * Runs the batch rebuilt from a BATCH_DELTA (frame f, whole; prev: the template it was built
 * from): plainly, or, once its shape has repeated, through CUDA graphs captured from it and
 * updated per delta. Returns as exec_session_handle. */
typedef struct exec_replay exec_replay;
int exec_replay_run(exec_session *s, const genie_buf *frame, const uint8_t *prev, size_t prev_len,
                    void **reply, size_t *reply_n);
/* Any frame that is not a BATCH_DELTA: the replay's repeat count starts over. */
void exec_replay_break(exec_session *s);
void exec_replay_session_close(exec_session *s);
/* While exec_session_handle walks a batch through the graphs (exec_replay_walking), each
 * record goes through exec_replay_dispatch instead of exec_dispatch. */
int exec_replay_walking(const exec_session *s);
int exec_replay_dispatch(exec_session *s, uint32_t index, const proto_rec *rec);
/* 1 when exec_stream must map this client stream to the capture stream. */
int exec_replay_remap(exec_session *s, uint32_t id, CUstream *out);

/* Frees the session's graphs (remote/ops_graph.c). */
void exec_graph_session_close(exec_session *s);

/* ---- GENIE_PARALLEL_BRANCHES (remote/branches.c) ---- */
#define EXEC_LANES 4
/* Before the batch: 1 when its last record (last, of nrec) is a well-formed BRANCHES whose
 * lanes the session can run (s->lanes set), else 0 (the batch runs as recorded). */
int exec_lanes_begin(exec_session *s, const proto_rec *last, uint32_t nrec);
void exec_lanes_before(exec_session *s, uint32_t i); /* op i's forks and joins; s->lane */
void exec_lanes_after(exec_session *s, uint32_t i);
void exec_lanes_end(exec_session *s); /* every lane joins the batch's stream */
void exec_lanes_session_close(exec_session *s);

/* ---- GENIE_TRACE_FILE (remote/trace.c) ---- */
typedef struct exec_trace exec_trace;
/* 1 for the ops whose stream work a traced frame times. */
int exec_trace_wanted(uint16_t op);
/* A traced frame begins: the first one creates the session's base event. 0 or GENIE_ENOMEM. */
int exec_trace_frame_begin(exec_session *s);
/* exec_stream resolved the stream of the op being run (trace_op set): its start event. */
void exec_trace_arm(exec_session *s, uint32_t id, CUstream st);
/* After the op ran: its end event, and the pair waits for completion. */
void exec_trace_op_done(exec_session *s);
/* Appends R_TRACE with every pending pair that completed by now. 0 or GENIE_ENOMEM. */
int exec_trace_reply(exec_session *s, uint64_t recv_ns);
void exec_trace_session_close(exec_session *s);

/* Failed ops a batch may have before the executor abandons the rest of it. */
#define EXEC_MAX_ERRORS 16

/* Appends R_ERROR for the op at index and returns GENIE_EDRIVER (or GENIE_ENOMEM when even
 * that could not be appended). */
/* Notes a driver result: a sticky one (a kernel fault) poisons the context (remote/ctx.c). */
void exec_ctx_poison(exec_ctx *c, CUresult r);
/* Called as a session closes, ctx->lock held: the last one out resets a poisoned context. */
void exec_ctx_session_gone(exec_ctx *c);
/* Makes c's context current on the calling thread: one cuCtxSetCurrent the first time in
 * this thread (and after any context opens, resets or closes), none after. */
CUresult exec_ctx_make_current(exec_ctx *c);
int exec_fail(exec_session *s, uint32_t index, int cuda_err, int cu_result, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* R_ERROR for a failed driver call: msg "what: CUDA_ERROR_X", cuda_err = exec_cuda_err(r). */
int exec_cufail(exec_session *s, uint32_t index, CUresult r, const char *what);
/* Resolves a client stream ID (0 = legacy NULL stream) or records cudaErrorInvalidResourceHandle.
 */
int exec_stream(exec_session *s, uint32_t index, uint32_t id, const char *op, CUstream *out);
/* Does [p, p+n) lie in the session's live mappings (adjacent ones count as one range)? */
int exec_range_ok(const exec_session *s, uint64_t p, uint64_t n);
/* Reserves the R_DATA of a device-to-host copy of size bytes from src in the reply (checked
 * against the most a reply may carry): 0 with *out its bytes, or the R_ERROR recorded. */
int exec_d2h_reply(exec_session *s, uint32_t index, uint64_t src, uint64_t size, uint8_t **out);
/* Synchronises the session's streams and the NULL stream; returns the first failure. */
CUresult exec_sync_all(exec_session *s);

#endif
