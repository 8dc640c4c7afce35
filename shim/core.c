/* core.c — the shim's session: connect and HELLO, the batch, flushing, errors, deny. */
#include "shim/shim_int.h"

#include "protocol/delta.h"

#include <errno.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* remote op failures logged as warnings; later ones go to the debug log */
#define SHIM_REMOTE_ERRORS_LOGGED 8u

shim_state shim_g;
__thread cudaError_t shim_last_error;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void shim_stats_atexit(void);

static void shim_init(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&shim_g.mu, &a);
    pthread_mutexattr_destroy(&a);
    genie_log_init();
    shim_g.flush_bytes = (size_t)genie_env_int("GENIE_BATCH_BYTES", 8ll << 20);
    shim_g.next_stream = PROTO_STREAM_FIRST;
    shim_g.next_event = 1;
    shim_g.next_module = 1;
    shim_g.next_func = 1;
    shim_g.next_blas = 1;
    shim_g.clean = shim_g.clean_after = SHIM_CLEAN_NONE;
    shim_g.next_lt = 1;
    shim_g.wcache = genie_env_bool("GENIE_SEMANTICS", 1) && genie_env_bool("GENIE_WEIGHT_CACHE", 1);
    shim_g.replay = genie_env_bool("GENIE_SEMANTICS", 1) && genie_env_bool("GENIE_GRAPH_REPLAY", 1);
    atexit(shim_stats_atexit);
}

static int inited; /* set once shim_init has run; read without the lock on the fast path */

static void shim_init_once(void)
{
    shim_init();
    __atomic_store_n(&inited, 1, __ATOMIC_RELEASE);
}

void shim_lock(void)
{
    if (__builtin_expect(!__atomic_load_n(&inited, __ATOMIC_ACQUIRE), 0))
        pthread_once(&init_once, shim_init_once);
    pthread_mutex_lock(&shim_g.mu);
}

void shim_unlock(void) { pthread_mutex_unlock(&shim_g.mu); }

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

static cudaError_t lost(const char *what, int err)
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
        return lost("allocator", GENIE_ENOMEM);
    /* genie-remote reports a session's memory quota as the device's total memory */
    shim_alloc_set_limit(shim_g.alloc, shim_g.dev[0].total_mem);
    if (proto_frame_begin(&shim_g.batch, PROTO_KIND_REQUEST, 0))
        return lost("batch", GENIE_ENOMEM);
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

/* ------------------------------------------------------------------- batch ---- */

shim_slot *shim_slot_add(void *dst, uint64_t size)
{
    if (shim_g.nslots == shim_g.cap_slots) {
        uint32_t cap = shim_g.cap_slots ? shim_g.cap_slots * 2 : 16;
        shim_slot *s = realloc(shim_g.slots, cap * sizeof *s);
        if (!s)
            return NULL;
        shim_g.slots = s;
        shim_g.cap_slots = cap;
    }
    shim_slot *s = &shim_g.slots[shim_g.nslots++];
    memset(s, 0, sizeof *s);
    s->index = shim_g.batch_ops - 1;
    s->dst = dst;
    s->size = size;
    return s;
}

int shim_remote(void) { return shim_g.link && !shim_link_is_local(shim_g.link); }

cudaError_t shim_batch_splice(size_t rec_off, const void *p, size_t n)
{
    if (shim_g.next == shim_g.cap_ext) {
        uint32_t cap = shim_g.cap_ext ? shim_g.cap_ext * 2 : 8;
        proto_ext *e = realloc(shim_g.ext, cap * sizeof *e);
        if (!e)
            return shim_set_error(cudaErrorMemoryAllocation);
        shim_g.ext = e;
        shim_g.cap_ext = cap;
    }
    size_t at;
    int r = proto_rec_splice(&shim_g.batch, rec_off, n, &at);
    if (r)
        return shim_set_error(r == GENIE_ENOMEM ? cudaErrorMemoryAllocation
                                                : cudaErrorInvalidValue);
    shim_g.ext[shim_g.next++] = (proto_ext){at, p, n};
    shim_g.ext_bytes += n;
    return cudaSuccess;
}

cudaError_t shim_op_done(void)
{
    shim_g.batch_ops++;
    shim_g.stats.ops_recorded++;
    if (shim_g.batch.len >= shim_g.flush_bytes) {
        shim_g.stats.flush_threshold++;
        return shim_flush(SHIM_RT_SYNC);
    }
    return cudaSuccess;
}

/* Slots are added in op order, so their indices ascend: a binary search (a pitched D2H copy
 * adds one slot per row, thousands in one batch). */
static shim_slot *slot_for(uint32_t index)
{
    uint32_t lo = 0, hi = shim_g.nslots;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (shim_g.slots[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < shim_g.nslots && shim_g.slots[lo].index == index ? &shim_g.slots[lo] : NULL;
}

typedef struct batch_reply {
    cudaError_t err;
    uint32_t nerr;      /* R_ERROR records */
    int delta_refused;  /* an R_ERROR at PROTO_INDEX_DELTA: the executor had no template */
} batch_reply;

static int batch_cb(void *ud, const proto_rec *r)
{
    batch_reply *br = ud;
    switch (r->op) {
    case PROTO_OP_R_DATA: {
        proto_R_DATA d;
        if (proto_get_R_DATA(r, &d))
            return GENIE_EPROTO;
        shim_slot *s = slot_for(d.index);
        if (!s || d.data_len != s->size)
            return GENIE_EPROTO;
        memcpy(s->dst, d.data, d.data_len);
        s->filled = 1;
        shim_g.stats.d2h_bytes += d.data_len;
        return 0;
    }
    case PROTO_OP_R_VALUE: {
        proto_R_VALUE v;
        if (proto_get_R_VALUE(r, &v))
            return GENIE_EPROTO;
        shim_slot *s = slot_for(v.index);
        if (!s)
            return GENIE_EPROTO;
        s->value = v.value;
        s->status = v.status;
        s->filled = 1;
        return 0;
    }
    case PROTO_OP_R_ERROR: {
        proto_R_ERROR e;
        if (proto_get_R_ERROR(r, &e))
            return GENIE_EPROTO;
        br->nerr++;
        if (e.index == PROTO_INDEX_DELTA) { /* not the program's error: the batch is resent */
            GENIE_DEBUG("genie-remote refused a BATCH_DELTA: %.*s", (int)e.msg_len,
                        (const char *)e.msg);
            br->delta_refused = 1;
            return 0;
        }
        /* The program sees only the error code, at this sync: the executor's words say
         * which op failed and why. The first few are warnings, the rest debug lines. */
        static _Atomic unsigned warned;
        unsigned n = atomic_fetch_add(&warned, 1);
        if (n < SHIM_REMOTE_ERRORS_LOGGED || genie_log_level >= GENIE_LOG_DEBUG)
            genie_log(n < SHIM_REMOTE_ERRORS_LOGGED ? GENIE_LOG_WARN : GENIE_LOG_DEBUG,
                      "genie-remote: op %u of the batch failed with %s (%d): %.*s%s", e.index,
                      cudaGetErrorName((cudaError_t)e.cuda_err), e.cuda_err, (int)e.msg_len,
                      (const char *)e.msg,
                      n + 1 == SHIM_REMOTE_ERRORS_LOGGED ? " (further remote errors: GENIE_LOG=debug)"
                                                         : "");
        if (br->err == cudaSuccess)
            br->err = (cudaError_t)e.cuda_err;
        return 0;
    }
    default:
        return 0;
    }
}

static cudaError_t call_frame(genie_buf *b, const proto_ext *ext, size_t next, int kind,
                              shim_reply_cb cb, void *ud);

/* Reads a u32 of the payload at off. */
static uint32_t pay32(const uint8_t *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, 4);
    return v;
}

/* Builds shim_g.delta: the batch (payload cur, n bytes) as a BATCH_DELTA of the template,
 * when the template has the same length and record headers and the delta frame is under
 * half the batch's (protocol/delta.h encodes the patches). Returns 1 if built. */
static int delta_build(const uint8_t *cur, size_t n)
{
    const uint8_t *old = shim_g.tmpl.data;
    if (!shim_g.tmpl_ok || shim_g.tmpl.len != n)
        return 0;
    for (size_t off = 0; off < n;) { /* the same ops in the same order, the same lengths */
        if (n - off < PROTO_REC_HDR_SIZE || memcmp(cur + off, old + off, PROTO_REC_HDR_SIZE))
            return 0;
        uint64_t len = pay32(cur, off + 4);
        off += PROTO_REC_HDR_SIZE + ((len + 7) & ~(uint64_t)7);
    }
    uint32_t npatch;
    genie_buf *pb = &shim_g.patches;
    if (proto_delta_encode(cur, old, n, n / 2, pb, &npatch))
        return 0;
    genie_buf *d = &shim_g.delta;
    if (proto_frame_begin(d, PROTO_KIND_REQUEST, 0))
        return 0;
    uint32_t fl = PROTO_FRAME_TEMPLATE;
    memcpy(d->data + 8, &fl, 4);
    uint8_t *p = proto_put_BATCH_DELTA(d, shim_g.tmpl_seq, npatch, pb->len);
    if (!p)
        return 0;
    if (pb->len)
        memcpy(p, pb->data, pb->len);
    return d->len < PROTO_HDR_SIZE + n / 2;
}

cudaError_t shim_flush(int kind)
{
    if (shim_g.batch_ops == 0)
        return cudaSuccess;
    batch_reply br = {cudaSuccess, 0, 0};
    cudaError_t ce;
    /* GENIE_GRAPH_REPLAY: a plain batch (no spliced payload) is a template, sent as a delta
     * of the last one when that is much smaller. Both sides keep a template only after a
     * batch with no R_ERROR, so they hold the same bytes. */
    size_t plen = shim_g.batch.len - PROTO_HDR_SIZE;
    int tmpl = shim_g.replay && shim_g.next == 0 && plen <= PROTO_DELTA_TEMPLATE_MAX;
    if (tmpl) {
        const uint8_t *cur = shim_g.batch.data + PROTO_HDR_SIZE;
        uint32_t fl = PROTO_FRAME_TEMPLATE;
        memcpy(shim_g.batch.data + 8, &fl, 4);
        genie_buf *sent = &shim_g.batch;
        if (delta_build(cur, plen)) {
            ce = call_frame(&shim_g.delta, NULL, 0, kind, batch_cb, &br);
            if (ce == cudaSuccess && br.delta_refused) { /* resend in full */
                GENIE_DEBUG("BATCH_DELTA refused: sending the batch in full");
                br = (batch_reply){cudaSuccess, 0, 0};
                ce = call_frame(&shim_g.batch, NULL, 0, kind, batch_cb, &br);
            } else if (ce == cudaSuccess) {
                sent = &shim_g.delta;
                shim_g.stats.batches_delta++;
                shim_g.stats.delta_bytes_saved += shim_g.batch.len - shim_g.delta.len;
            }
        } else {
            ce = call_frame(&shim_g.batch, NULL, 0, kind, batch_cb, &br);
        }
        shim_g.tmpl_ok = 0;
        if (ce == cudaSuccess && br.nerr == 0) {
            genie_buf_reset(&shim_g.tmpl);
            if (!genie_buf_append(&shim_g.tmpl, cur, plen)) {
                memcpy(&shim_g.tmpl_seq, sent->data + 12, 4);
                shim_g.tmpl_ok = 1;
            }
        }
    } else {
        ce = call_frame(&shim_g.batch, shim_g.ext, shim_g.next, kind, batch_cb, &br);
    }
    shim_g.next = 0; /* sent: the callers' buffers are theirs again */
    shim_g.ext_bytes = 0;
    shim_g.batch_ops = 0;
    shim_g.nslots = 0;
    shim_g.reply_bytes = 0;
    shim_g.clean = ce == cudaSuccess ? shim_g.clean_after : SHIM_CLEAN_NONE;
    shim_g.clean_after = SHIM_CLEAN_NONE;
    if (proto_frame_begin(&shim_g.batch, PROTO_KIND_REQUEST, 0))
        return lost("batch", GENIE_ENOMEM);
    if (ce != cudaSuccess)
        return ce;
    return shim_async_error(br.err);
}

cudaError_t shim_call_frame(genie_buf *b, int kind, shim_reply_cb cb, void *ud)
{
    return call_frame(b, NULL, 0, kind, cb, ud);
}

/* Sends b with ext spliced in (see proto_ext) and walks the reply. */
static cudaError_t call_frame(genie_buf *b, const proto_ext *ext, size_t next, int kind,
                              shim_reply_cb cb, void *ud)
{
    /* the seq goes in at send time so every frame, batch or not, is numbered in order */
    uint32_t seq = ++shim_g.seq;
    memcpy(b->data + 12, &seq, 4);
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
            return lost("batch", GENIE_ENOMEM); /* the frame was built: cannot drop it */
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
        return lost("genie-remote", e);
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
        return lost("bad reply from genie-remote", e);
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
