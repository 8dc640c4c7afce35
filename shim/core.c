/* core.c — the shim's session: connect and HELLO, the batch, flushing, errors, deny. */
#include "shim/shim_int.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

shim_state shim_g;
__thread cudaError_t shim_last_error;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void shim_stats_atexit(void);

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
        .batch_bytes = (uint64_t)genie_env_int("GENIE_BATCH_BYTES", 8ll << 20),
        .direct_min = SHIM_H2D_DIRECT_MIN,
        .template_max = PROTO_DELTA_TEMPLATE_MAX,
    };
    atexit(shim_stats_atexit);
}

int shim_inited; /* set once shim_init has run; read without the lock on the fast path */

static void shim_init_once(void)
{
    shim_init();
    __atomic_store_n(&shim_inited, 1, __ATOMIC_RELEASE);
}

/* The shim's one lock: a plain (non-recursive) mutex, taken once per API call by the
 * generated wrapper (or by a hand-written entry point: RAW rows, the driver and NVML
 * look-alikes); shim_depth counts this thread's holds, so a call made while the thread is
 * inside the shim goes straight through and internal functions only check it. */
int shim_lockword; /* 0 free, 1 held, 2 held and someone may wait (Drepper, "Futexes Are Tricky") */
__thread unsigned shim_depth __attribute__((tls_model("initial-exec")));

static void lockword_wait(void)
{
    syscall(SYS_futex, &shim_lockword, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

/* The contended (or first) path of shim_lock: seen is the word the inline CAS found. */
void shim_lock_slow(int seen)
{
    if (__builtin_expect(!__atomic_load_n(&shim_inited, __ATOMIC_ACQUIRE), 0)) {
        pthread_once(&init_once, shim_init_once);
        seen = 0;
        if (__atomic_compare_exchange_n(&shim_lockword, &seen, 1, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
    }
    if (seen != 2)
        seen = __atomic_exchange_n(&shim_lockword, 2, __ATOMIC_ACQUIRE);
    while (seen != 0) {
        lockword_wait();
        seen = __atomic_exchange_n(&shim_lockword, 2, __ATOMIC_ACQUIRE);
    }
}

void shim_unlock_slow(void)
{
    syscall(SYS_futex, &shim_lockword, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

unsigned shim_release(void)
{
    unsigned d = shim_depth;
    if (d) {
        shim_depth = 1;
        shim_unlock();
    }
    return d;
}

void shim_reacquire(unsigned depth)
{
    if (depth) {
        shim_lock();
        shim_depth = depth;
    }
}

/* ----------------------------------------------------------------- handles ---- */

/* pointer -> its kind (the magic, never 0), as the map's value */
static shim_ptrmap handles;

int shim_handle_add(const void *p, uint32_t kind)
{
    return shim_ptrmap_put(&handles, p, (void *)(uintptr_t)kind);
}

/* kind 0: any kind */
int shim_handle_is(const void *p, uint32_t kind)
{
    uintptr_t k = (uintptr_t)shim_ptrmap_get(&handles, p);
    return k && (!kind || k == kind);
}

void shim_handle_del(const void *p) { shim_ptrmap_del(&handles, p); }

/* ------------------------------------------------------------------ errors ---- */

static int is_sticky(cudaError_t e)
{
    switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorDevicesUnavailable:
        return 1;
    default:
        return 0;
    }
}

cudaError_t shim_set_error(cudaError_t e)
{
    if (e != cudaSuccess)
        shim_last_error = e;
    return e;
}

cudaError_t shim_async_error(cudaError_t e)
{
    if (e != cudaSuccess && is_sticky(e) && shim_g.fatal == cudaSuccess)
        shim_g.fatal = e;
    return shim_set_error(e);
}

cudaError_t shim_lost(const char *what, int err)
{
    GENIE_ERROR("%s: %s; CUDA calls now fail with cudaErrorDevicesUnavailable", what,
                genie_strerror(err));
    shim_g.fatal = cudaErrorDevicesUnavailable;
    return shim_set_error(cudaErrorDevicesUnavailable);
}

/* ------------------------------------------------------------ generated glue ---- */

void shim_count(unsigned apix)
{
    /* Per-call counters are statistics: a relaxed load and store, not a locked
     * read-modify-write, keep them off the launch fast path (about 1 ns instead of ~20).
     * Two threads counting at once may lose an increment; the round-trip and byte
     * counters are exact (updated under the lock). */
    uint64_t *c = &shim_g.stats.calls[apix];
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
    c = &shim_g.stats.calls_total;
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

cudaError_t shim_bad_arg(unsigned apix, const char *arg)
{
    GENIE_DEBUG("%s: %s is NULL", genie_api_table[apix].name, arg);
    return shim_set_error(cudaErrorInvalidValue);
}

void shim_deny_note(unsigned apix, const char *status)
{
    static _Atomic unsigned char logged[GENIE_APIX__COUNT];
    shim_count(apix);
    genie_warn_once_at(&logged[apix], "%s is not supported by Genie; returning %s",
                       genie_api_table[apix].name, status);
}

cudaError_t shim_deny_cudart(unsigned apix)
{
    shim_deny_note(apix, "cudaErrorNotSupported");
    return shim_set_error(cudaErrorNotSupported);
}

/* ----------------------------------------------------------------- session ---- */

static int hello_cb(void *ud, const proto_rec *r)
{
    (void)ud;
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
    return 1;
}

static cudaError_t connect_session(void)
{
    const char *target = genie_env_str("GENIE_REMOTE", "local");
    char err[512];
    int e = shim_link_open(target, &shim_g.link, err, sizeof err);
    if (e) {
        GENIE_ERROR("%s", err);
        shim_g.fatal = cudaErrorDevicesUnavailable;
        return shim_set_error(cudaErrorDevicesUnavailable);
    }
    genie_buf b = {0};
    const char *token = genie_env_str("GENIE_TOKEN", "");
    proto_frame_begin(&b, PROTO_KIND_REQUEST, ++shim_g.seq);
    uint8_t *p = proto_put_HELLO(&b, (uint64_t)getpid(), PROTO_SESSION_VERSION, 0, strlen(token));
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
            if (got != MAP_FAILED)
                munmap(got, shim_g.va_size);
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
    if (shim_batch_init())
        return shim_lost("batch", GENIE_ENOMEM);
    shim_g.pol.remote = shim_remote();
    shim_g.connected = 1;
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

/* ---------------------------------------------------------------- wire call ---- */

cudaError_t shim_call_frame(genie_buf *b, int kind, shim_reply_cb cb, void *ud)
{
    return shim_call_framev(b, NULL, 0, kind, cb, ud);
}

cudaError_t shim_call_framev(genie_buf *b, const proto_ext *ext, size_t next, int kind,
                             shim_reply_cb cb, void *ud)
{
    /* the seq goes in at send time so every frame, batch or not, is numbered in order */
    uint32_t seq = ++shim_g.seq;
    proto_frame_set_seq(b, seq);
    void *reply = NULL;
    size_t reply_n = 0, sent = b->len;
    uint64_t t0 = genie_now_ns();
    int e;
    if (!next) {
        proto_frame_end(b);
        e = shim_link_call(shim_g.link, b->data, b->len, &reply, &reply_n);
    } else {
        proto_frame_end_ext(b, ext, next);
        proto_iov *iov = malloc((2 * next + 1) * sizeof *iov);
        if (!iov)
            return shim_lost("batch", GENIE_ENOMEM); /* the frame was built: cannot drop it */
        size_t niov = proto_frame_iov(b, ext, next, iov);
        for (size_t i = 0; i < next; i++)
            sent += ext[i].n;
        e = shim_link_callv(shim_g.link, iov, niov, &reply, &reply_n);
        free(iov);
    }
    shim_g.stats.wire_ns += genie_now_ns() - t0;
    shim_g.stats.batches++;
    shim_g.stats.round_trips++;
    shim_g.stats.bytes_sent += sent;
    switch (kind) {
    case SHIM_RT_SETUP:
        shim_g.stats.rt_setup++;
        break;
    case SHIM_RT_MODULE:
        shim_g.stats.rt_module++;
        break;
    case SHIM_RT_QUERY:
        shim_g.stats.rt_query++;
        break;
    default:
        shim_g.stats.rt_sync++;
    }
    if (e)
        return shim_lost("genie-remote", e);
    shim_g.stats.bytes_received += reply_n;
    proto_frame f;
    e = proto_frame_parse(reply, reply_n, proto_max_message(), &f);
    if (!e && (f.kind != PROTO_KIND_REPLY || f.seq != seq))
        e = GENIE_EPROTO;
    proto_iter it;
    proto_rec r;
    if (!e) {
        proto_iter_init(&it, &f);
        int k;
        while ((k = proto_iter_next(&it, &r)) > 0) {
            if (r.op == PROTO_OP_R_ERROR && kind == SHIM_RT_SETUP) {
                proto_R_ERROR er;
                if (!proto_get_R_ERROR(&r, &er))
                    GENIE_ERROR("genie-remote refused the session: %.*s", (int)er.msg_len,
                                (const char *)er.msg);
            }
            int c = cb ? cb(ud, &r) : 0;
            if (c < 0) {
                k = c;
                break;
            }
        }
        if (k < 0)
            e = k;
    }
    free(reply);
    if (e)
        return shim_lost("bad reply from genie-remote", e);
    return cudaSuccess;
}

/* ------------------------------------------------------------------ stats ---- */

static void print_stats(FILE *f, int json)
{
    shim_stats *s = &shim_g.stats;
    if (json) {
        fprintf(f,
                "{\"calls\": %llu, \"ops_recorded\": %llu, \"launches\": %llu, "
                "\"batches\": %llu, \"round_trips\": %llu, \"rt_setup\": %llu, "
                "\"rt_module\": %llu, \"rt_sync\": %llu, \"rt_query\": %llu, "
                "\"flush_threshold\": %llu, \"bytes_sent\": %llu, \"bytes_received\": %llu, "
                "\"h2d_bytes\": %llu, \"d2h_bytes\": %llu, \"h2d_cache_hits\": %llu, "
                "\"h2d_cache_misses\": %llu, \"h2d_bytes_saved\": %llu, \"batches_delta\": %llu, "
                "\"delta_bytes_saved\": %llu, \"wire_ns\": %llu, "
                "\"per_api\": {",
                (unsigned long long)s->calls_total, (unsigned long long)s->ops_recorded,
                (unsigned long long)s->launches, (unsigned long long)s->batches,
                (unsigned long long)s->round_trips, (unsigned long long)s->rt_setup,
                (unsigned long long)s->rt_module, (unsigned long long)s->rt_sync,
                (unsigned long long)s->rt_query, (unsigned long long)s->flush_threshold,
                (unsigned long long)s->bytes_sent, (unsigned long long)s->bytes_received,
                (unsigned long long)s->h2d_bytes, (unsigned long long)s->d2h_bytes,
                (unsigned long long)s->h2d_cache_hits, (unsigned long long)s->h2d_cache_misses,
                (unsigned long long)s->h2d_bytes_saved, (unsigned long long)s->batches_delta,
                (unsigned long long)s->delta_bytes_saved, (unsigned long long)s->wire_ns);
        int first = 1;
        for (unsigned i = 0; i < GENIE_APIX__COUNT; i++)
            if (s->calls[i]) {
                fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", genie_api_table[i].name,
                        (unsigned long long)s->calls[i]);
                first = 0;
            }
        fprintf(f, "}}\n");
        return;
    }
    fprintf(f,
            "genie stats: %llu calls, %llu ops recorded (%llu launches), %llu batches, "
            "%llu round trips (setup %llu, module %llu, sync %llu, query %llu), "
            "%llu bytes sent, %llu bytes received, %.3f ms waiting; weight cache %llu hits "
            "(%llu bytes not sent), %llu misses; %llu batches sent as deltas (%llu bytes not "
            "sent)\n",
            (unsigned long long)s->calls_total, (unsigned long long)s->ops_recorded,
            (unsigned long long)s->launches, (unsigned long long)s->batches,
            (unsigned long long)s->round_trips, (unsigned long long)s->rt_setup,
            (unsigned long long)s->rt_module, (unsigned long long)s->rt_sync,
            (unsigned long long)s->rt_query, (unsigned long long)s->bytes_sent,
            (unsigned long long)s->bytes_received, s->wire_ns / 1e6,
            (unsigned long long)s->h2d_cache_hits, (unsigned long long)s->h2d_bytes_saved,
            (unsigned long long)s->h2d_cache_misses, (unsigned long long)s->batches_delta,
            (unsigned long long)s->delta_bytes_saved);
}

GENIE_EXPORT int genie_stats_json(char *buf, size_t n)
{
    FILE *f = fmemopen(buf, n, "w");
    if (!f)
        return -1;
    shim_lock();
    print_stats(f, 1);
    shim_unlock();
    return fclose(f);
}

static void shim_stats_atexit(void)
{
    if (genie_env_bool("GENIE_STATS", 0))
        print_stats(stderr, 0);
    const char *path = genie_env_str("GENIE_STATS_FILE", NULL);
    if (path) {
        FILE *f = fopen(path, "w");
        if (!f) {
            GENIE_ERROR("cannot write GENIE_STATS_FILE=%s: %s", path, strerror(errno));
            return;
        }
        print_stats(f, 1);
        fclose(f);
    }
}
