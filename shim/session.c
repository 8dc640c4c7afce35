/* session.c — the shim's process state and its session with the executor: init, connect, HELLO, the VA range. */
#include "shim/shim_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

shim_state shim_g;


static void shim_init(void)
{
    genie_log_init();
    shim_g.next_stream = PROTO_STREAM_FIRST;
    shim_g.next_event = 1;
    shim_g.next_module = 1;
    shim_g.next_func = 1;
    shim_g.next_blas = 1;
    shim_g.clean = shim_g.clean_after = SHIM_CLEAN_NONE;
    shim_g.next_lt = 1;
    /* today's policies, the passes' first implementations (semantics/passes.c) */
    int sem = genie_env_bool("GENIE_SEMANTICS", 1);
    shim_g.pol = (sem_policy){
        .remote = 0, /* known once connected */
        .weight_cache = sem && genie_env_bool("GENIE_WEIGHT_CACHE", 1),
        .repeat = sem && genie_env_bool("GENIE_GRAPH_REPLAY", 1),
        .branches = sem && genie_env_bool("GENIE_PARALLEL_BRANCHES", 1),
        .batch_bytes = (uint64_t)genie_env_int("GENIE_BATCH_BYTES", 8ll << 20),
        .direct_min = SHIM_H2D_DIRECT_MIN,
        .template_max = PROTO_DELTA_TEMPLATE_MAX,
        .phase = sem && genie_env_bool("GENIE_PHASE", 1),
        .kv = sem && genie_env_bool("GENIE_KV_COLOCATE", 1),
        .decode_tokens = (uint32_t)genie_env_int("GENIE_PHASE_DECODE_TOKENS", 1),
        .kv_bufs = &shim_g.kv,
        .sync_elision = sem ? (int)genie_env_int("GENIE_SYNC_ELISION", SEM_ELIDE_UPLOADS) : 0,
        .pipeline = sem && genie_env_bool("GENIE_PIPELINE", 1),
        .pipe_first = (uint32_t)genie_env_int("GENIE_PIPELINE_FIRST", 32),
        .pipe_max = (uint32_t)genie_env_int("GENIE_PIPELINE_MAX", 512),
    };
    shim_g.delta_z = genie_env_bool("GENIE_DELTA_DEFLATE", 1); /* only deltas use it */
    shim_g.delta_ref = genie_env_bool("GENIE_DELTA_REF", 1);
    const char *dump = genie_env_str("GENIE_SEM_DUMP", NULL);
    if (dump && !(shim_g.sem_dump = fopen(dump, "w")))
        GENIE_ERROR("cannot write GENIE_SEM_DUMP=%s: %s", dump, strerror(errno));
    /* the baseline of API remoting with one RPC per call (bench's naive-remote): lazy
     * batching off, each recorded op goes out alone and the caller waits for its reply */
    shim_g.naive = genie_env_bool("GENIE_NAIVE", 0);
    /* Non-blocking flushes (shim/inflight.c): frames in flight at most, and their request
     * bytes. 0 batches: every flush waits for its reply, as without semantics. */
    long long nb = genie_env_int("GENIE_INFLIGHT_BATCHES", 1024);
    shim_g.inflight_batches = sem && !shim_g.naive && nb > 0 ? (uint32_t)nb : 0;
    shim_g.inflight_bytes = (uint64_t)genie_env_int("GENIE_INFLIGHT_BYTES", 256ll << 20);
    if (!shim_g.inflight_batches || !shim_g.inflight_bytes) {
        shim_g.inflight_batches = 0; /* sync elision and pipelining send without waiting */
        shim_g.pol.sync_elision = shim_g.pol.pipeline = 0;
    }
    if (!shim_g.pol.pipe_first || shim_g.pol.pipe_max < shim_g.pol.pipe_first)
        shim_g.pol.pipeline = 0;
    /* GENIE_PIPELINE_COST=1: the cost model sizes the pipeline's chunks, with parameters
     * calibrated against the remote at session start (shim/cost.c), GENIE_COST_PARAMS over
     * them. Off by default: on the simulated H100 it did not bring the result sooner than the
     * fixed sizes (docs/semantics.md). */
    int model = shim_g.pol.pipeline && genie_env_bool("GENIE_PIPELINE_COST", 0);
    shim_cost_init(model);
    if (model)
        shim_g.pol.cost = &shim_g.cost;
    atexit(shim_stats_atexit);
    shim_trace_init(); /* its atexit runs before the stats' */
}

int shim_inited; /* set once shim_init has run; read without the lock on the fast path */

void shim_init_once(void)
{
    shim_init();
    __atomic_store_n(&shim_inited, 1, __ATOMIC_RELEASE);
}

static uint32_t hello_session; /* R_HELLO's session number (the trace names it) */

static int hello_cb(void *ud, const proto_rec *r)
{
    (void)ud;
    if (r->op == PROTO_OP_R_COST)
        return shim_cost_r_cost(r);
    if (r->op != PROTO_OP_R_HELLO)
        return 0;
    proto_R_HELLO h;
    if (proto_get_R_HELLO(r, &h))
        return GENIE_EPROTO;
    if (h.ndevices < 1 || h.ndevices > PROTO_MAX_DEVICES ||
        h.devinfo_len < (size_t)h.ndevices * sizeof(proto_devinfo))
        return GENIE_EPROTO;
    shim_g.ndevices = (int)h.ndevices;
    memcpy(shim_g.dev, h.devinfo, h.ndevices * sizeof(proto_devinfo));
    for (uint32_t i = 0; i < h.ndevices; i++) { /* wire data: terminate what is used as a string */
        shim_g.dev[i].name[sizeof shim_g.dev[i].name - 1] = 0;
        if (shim_g.dev[i].nattrs > PROTO_MAX_ATTRS)
            shim_g.dev[i].nattrs = PROTO_MAX_ATTRS;
    }
    shim_g.va_base = h.va_base;
    shim_g.va_size = h.va_size;
    shim_g.granularity = h.granularity;
    hello_session = h.session;
    return 1;
}

/* The token: GENIE_TOKEN_FILE's first line, else GENIE_TOKEN, else none. Written into buf. */
static const char *client_token(char *buf, size_t n)
{
    const char *path = genie_env_str("GENIE_TOKEN_FILE", NULL);
    if (path && *path) {
        FILE *f = fopen(path, "r");
        buf[0] = 0;
        if (!f || !fgets(buf, (int)n, f))
            GENIE_ERROR("cannot read the token file %s (GENIE_TOKEN_FILE): %s", path,
                        f ? "empty" : strerror(errno));
        if (f)
            fclose(f);
        buf[strcspn(buf, "\r\n")] = 0;
        return buf;
    }
    return genie_env_str("GENIE_TOKEN", "");
}

/* A session whose device range the client cannot reserve (its own program image or a
 * library sits there) is given up and a new one asked for: genie-remote places each
 * session's range at random, so the next one lands elsewhere. */
#define SHIM_VA_TRIES 4

static cudaError_t connect_once(int try_, int *again);

static cudaError_t connect_session(void)
{
    int again = 0;
    cudaError_t e = cudaSuccess;
    uint64_t t0 = genie_now_ns();
    for (int t = 1; t <= SHIM_VA_TRIES; t++) {
        e = connect_once(t, &again);
        if (!again)
            break;
    }
    shim_g.stats.connect_ns += genie_now_ns() - t0;
    return e;
}

static cudaError_t connect_once(int try_, int *again)
{
    *again = 0;
    const char *target = genie_env_str("GENIE_REMOTE", "local");
    char err[512], tokbuf[4096];
    int e = shim_link_open(target, &shim_g.link, err, sizeof err);
    if (e) {
        GENIE_ERROR("%s", err);
        shim_g.fatal = cudaErrorDevicesUnavailable;
        return shim_set_error(cudaErrorDevicesUnavailable);
    }
    genie_buf b = {0};
    const char *token = client_token(tokbuf, sizeof tokbuf);
    proto_frame_begin(&b, PROTO_KIND_REQUEST, ++shim_g.seq);
    uint8_t *p = proto_put_HELLO(&b, (uint64_t)getpid(), PROTO_SESSION_VERSION,
                                 shim_cost_hello_flags(), strlen(token));
    if (!p) {
        genie_buf_free(&b);
        return shim_set_error(cudaErrorMemoryAllocation);
    }
    memcpy(p, token, strlen(token));
    shim_g.ndevices = 0;
    cudaError_t ce = shim_call_frame(&b, SHIM_RT_SETUP, hello_cb, NULL);
    genie_buf_free(&b);
    if (ce != cudaSuccess || shim_g.ndevices == 0) {
        GENIE_ERROR("session with genie-remote at %s refused (%s)", target,
                    ce != cudaSuccess ? cudaGetErrorName(ce) : "no R_HELLO");
        shim_g.fatal = cudaErrorDevicesUnavailable;
        return shim_set_error(cudaErrorDevicesUnavailable);
    }
    /* Reserve the device VA range locally so no host allocation can ever take an address
     * the executor may hand out: host and device pointers never collide. In local mode
     * the executor in this process already owns the range. */
    if (!shim_link_is_local(shim_g.link)) {
        void *want = (void *)(uintptr_t)shim_g.va_base;
        void *got = mmap(want, shim_g.va_size, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (got != want) {
            int why = got == MAP_FAILED ? errno : EEXIST;
            if (got != MAP_FAILED)
                munmap(got, shim_g.va_size);
            if (try_ < SHIM_VA_TRIES) {
                GENIE_WARN("the device address range [%#llx, +%#llx) is taken in this process "
                           "(%s): asking genie-remote for another session (try %d of %d)",
                           (unsigned long long)shim_g.va_base,
                           (unsigned long long)shim_g.va_size, strerror(why), try_ + 1,
                           SHIM_VA_TRIES);
                shim_link_close(shim_g.link);
                shim_g.link = NULL;
                *again = 1;
                return cudaErrorDevicesUnavailable;
            }
            errno = why;
            GENIE_ERROR("cannot reserve the device address range [%#llx, +%#llx) in this "
                        "process (%s); set GENIE_VA_SIZE smaller on genie-remote",
                        (unsigned long long)shim_g.va_base, (unsigned long long)shim_g.va_size,
                        strerror(errno));
            shim_g.fatal = cudaErrorDevicesUnavailable;
            return shim_set_error(cudaErrorDevicesUnavailable);
        }
    }
    if (shim_alloc_init(&shim_g.alloc, shim_g.va_base, shim_g.va_size, shim_g.granularity))
        return shim_lost("allocator", GENIE_ENOMEM);
    /* genie-remote reports a session's memory quota as the device's total memory */
    shim_alloc_set_limit(shim_g.alloc, shim_g.dev[0].total_mem);
    if (shim_batch_init())
        return shim_lost("batch", GENIE_ENOMEM);
    shim_g.pol.remote = shim_remote();
    /* In-process, a frame has run when its send returns and only its small reply waits: no
     * request bytes are held anywhere, so the byte bound has nothing to bound. */
    if (!shim_g.pol.remote)
        shim_g.inflight_bytes = UINT64_MAX;
    shim_g.connected = 1;
    if (shim_trace_enabled)
        shim_trace_clock(hello_session);
    shim_cost_session(); /* GENIE_COST_CALIBRATE: the round trip */
    GENIE_INFO("session open with %s: %s, VA [%#llx, +%#llx)", target, shim_g.dev[0].name,
               (unsigned long long)shim_g.va_base, (unsigned long long)shim_g.va_size);
    return cudaSuccess;
}

cudaError_t shim_ensure(void)
{
    if (shim_g.fatal != cudaSuccess)
        return shim_set_error(shim_g.fatal);
    if (shim_g.connected)
        return cudaSuccess;
    return connect_session();
}

int shim_remote(void) { return shim_g.link && !shim_link_is_local(shim_g.link); }

