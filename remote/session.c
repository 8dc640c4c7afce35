/* session.c — one client stream: frame in, ops dispatched in order, reply frame out; HELLO, PING,
 * errors. */
#include "remote/exec_int.h"

#include "protocol/delta.h"

#include <stdarg.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where sessions ask for their VA range: a hint only, chosen so a client process (which
 * mmaps the same range PROT_NONE) usually finds it free too: a random granularity-aligned
 * place in a 64 TiB window starting at 32 TiB, so that no client can tell where another
 * session's memory lies (a session id says nothing about it). */
#define EXEC_VA_HINT_BASE 0x200000000000ull
#define EXEC_VA_HINT_SPAN 0x400000000000ull
#define EXEC_VA_DEFAULT (64ull << 30)

/* "ipv4:10.0.0.1:5123" -> "ipv4:10.0.0.1", "ipv6:[::1]:5123" -> "ipv6:[::1]"; a unix
 * socket's peer has no port and is kept whole (every local client shares that address). */
static void peer_addr(const char *peer, char *out, size_t n)
{
    snprintf(out, n, "%s", peer ? peer : "local");
    if (strncmp(out, "ipv4:", 5) && strncmp(out, "ipv6:", 5))
        return;
    char *colon = strrchr(out, ':');
    if (colon && colon > out + 4 && (out[3] == '4' || colon[-1] == ']'))
        *colon = 0;
}

exec_session *exec_session_open(exec_ctx *ctx, const char *peer)
{
    exec_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ctx = ctx;
    peer_addr(peer, s->peer, sizeof s->peer);
    s->opened_ns = genie_now_ns();
    pthread_mutex_lock(&ctx->lock);
    s->id = ++ctx->next_session;
    s->next = ctx->live;
    if (ctx->live)
        ctx->live->prev = s;
    ctx->live = s;
    pthread_mutex_unlock(&ctx->lock);
    GENIE_INFO("session %u opened (%s)", s->id, peer ? peer : "local");
    return s;
}

int exec_session_authenticated(const exec_session *s)
{
    return s && s->hello;
}

/* ---- errors ---- */

int exec_fail(exec_session *s, uint32_t index, int cuda_err, int cu_result, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int pre = s->replaying ? snprintf(msg, sizeof msg, "graph %u record %u: ", s->replay_graph,
                                      s->replay_rec)
                           : 0;
    int n = vsnprintf(msg + pre, sizeof msg - (size_t)pre, fmt, ap);
    va_end(ap);
    if (n >= 0)
        n += pre;
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof msg ? sizeof msg - 1 : (size_t)n;
    GENIE_DEBUG("session %u op %u: %s", s->id, index, msg);
    if (cu_result)
        exec_ctx_poison(s->ctx, (CUresult)cu_result);
    __atomic_fetch_add(&s->nfail, 1, __ATOMIC_RELAXED); /* STATUS reads it */
    uint8_t *p = proto_put_R_ERROR(&s->reply, index, cuda_err, cu_result, len);
    if (!p)
        return GENIE_ENOMEM;
    memcpy(p, msg, len);
    return GENIE_EDRIVER;
}

int exec_cufail(exec_session *s, uint32_t index, CUresult r, const char *what)
{
    char nb[32];
    return exec_fail(s, index, exec_cuda_err(r), (int)r, "%s: %s", what,
                     exec_cu_name(&s->ctx->drv, r, nb, sizeof nb));
}

int exec_bad_record(exec_session *s, uint32_t index, const proto_rec *r, int err)
{
    const proto_op_info *oi = proto_op_lookup(r->op);
    if (!oi) /* a newer client's op: say so plainly rather than call it corruption */
        return exec_fail(s, index, EXEC_cudaErrorNotSupported, 0, "unknown op 0x%04x", r->op);
    if (!oi->is_request)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "%s is a reply record, not a request", oi->name);
    return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0, "malformed %s record (%u bytes): %s",
                     oi->name, r->len, genie_strerror(err));
}

/* ---- streams shared by every op file ---- */

int exec_stream(exec_session *s, uint32_t index, uint32_t id, const char *op, CUstream *out)
{
    /* 0 and the runtime's special handles cudaStreamLegacy (1) and cudaStreamPerThread (2)
     * all run on the legacy NULL stream: one thread drives a session, and the legacy stream
     * orders at least as strictly as per-thread would. */
    if (s->replaying && id == s->remap_from)
        id = s->remap_to; /* a graph's origin stream is the stream it is launched on */
    if (id < 3) {
        *out = NULL;
        return 0;
    }
    CUstream st = exec_idmap_get(&s->streams, id);
    if (!st)
        return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, CUDA_ERROR_INVALID_HANDLE,
                         "%s: unknown stream %u", op, id);
    *out = st;
    return 0;
}

CUresult exec_sync_all(exec_session *s)
{
    exec_driver *d = &s->ctx->drv;
    CUresult first = d->StreamSynchronize(NULL);
    for (uint32_t i = 0; i < s->streams.cap; i++)
        if (s->streams.vals[i]) {
            CUresult r = d->StreamSynchronize((CUstream)s->streams.vals[i]);
            if (r && !first)
                first = r;
        }
    return first;
}

/* ---- session ops ---- */

/* Constant time in the token: the loop runs over the bytes the client sent (its own length,
 * which it knows), compares each with the token's byte at that place (or its first byte past
 * its end) and folds the length difference in, so neither the matching prefix nor the
 * token's length shows in the time taken. */
static int token_ok(const char *want, const uint8_t *got, size_t got_len)
{
    if (!want)
        return 1;
    size_t n = strlen(want);
    /* A trailing NUL sent by a C client is not part of the token. */
    if (got_len && got[got_len - 1] == 0)
        got_len--;
    volatile unsigned diff = (unsigned)(got_len ^ n) | (unsigned)((uint64_t)(got_len ^ n) >> 32);
    for (size_t i = 0; i < got_len; i++) {
        size_t in = (size_t)(i < n); /* 1 inside the token: no branch on the token's length */
        diff |= (unsigned)((uint8_t)want[i * in] ^ got[i]);
    }
    return n > 0 && diff == 0;
}

/* Failed-login throttle: the entry of addr, or a reused one (the oldest). Under ctx->lock. */
static struct exec_login_fail *fail_entry(exec_ctx *c, const char *addr, int create)
{
    struct exec_login_fail *old = NULL;
    for (size_t i = 0; i < sizeof c->fails / sizeof c->fails[0]; i++) {
        struct exec_login_fail *f = &c->fails[i];
        if (f->count && !strcmp(f->addr, addr))
            return f;
        /* an empty slot first, else the one whose window began first */
        if (!old || (old->count && (!f->count || f->first_ns < old->first_ns)))
            old = f;
    }
    if (!create)
        return NULL;
    memset(old, 0, sizeof *old);
    snprintf(old->addr, sizeof old->addr, "%s", addr);
    return old;
}

/* Seconds addr must still wait, or 0 if it may try a token. */
static unsigned login_blocked(exec_ctx *c, const char *addr)
{
    unsigned wait = 0;
    pthread_mutex_lock(&c->lock);
    uint64_t win = (uint64_t)c->limits.login_window_s * 1000000000ull, now = genie_now_ns();
    struct exec_login_fail *f = c->limits.login_fails ? fail_entry(c, addr, 0) : NULL;
    if (f && now - f->first_ns >= win)
        memset(f, 0, sizeof *f); /* the window has passed: start over */
    else if (f && f->count >= c->limits.login_fails)
        wait = (unsigned)((win - (now - f->first_ns)) / 1000000000ull) + 1;
    pthread_mutex_unlock(&c->lock);
    return wait;
}

static void login_failed(exec_session *s)
{
    exec_ctx *c = s->ctx;
    pthread_mutex_lock(&c->lock);
    unsigned count = 0;
    if (c->limits.login_fails) {
        struct exec_login_fail *f = fail_entry(c, s->peer, 1);
        if (!f->count)
            f->first_ns = genie_now_ns();
        count = ++f->count;
    }
    pthread_mutex_unlock(&c->lock);
    /* never the token it sent: a near miss would give the real one away in the log */
    GENIE_WARN("session %u: failed login from %s (%u in this window%s)", s->id, s->peer, count,
               count && count >= c->limits.login_fails ? "; refusing it for the rest of the window"
                                                      : "");
}

int exec_op_HELLO(exec_session *s, uint32_t index, const proto_HELLO *a)
{
    exec_ctx *c = s->ctx;
    exec_driver *d = &c->drv;
    if (s->hello)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0, "HELLO repeated in session %u",
                         s->id);
    unsigned wait = login_blocked(c, s->peer);
    if (wait)
        return exec_fail(s, index, EXEC_cudaErrorDevicesUnavailable, 0,
                         "%s: too many failed logins from %s; retry in %u s",
                         genie_strerror(GENIE_EAUTH), s->peer, wait);
    if (!token_ok(c->token, a->token, a->token_len)) {
        login_failed(s);
        return exec_fail(s, index, EXEC_cudaErrorDevicesUnavailable, 0, "%s",
                         genie_strerror(GENIE_EAUTH));
    }
    if (a->version != PROTO_SESSION_VERSION)
        return exec_fail(s, index, EXEC_cudaErrorInsufficientDriver, 0,
                         "the client speaks session version %u, genie-remote %s speaks session "
                         "version %u: use a libgenie.so and genie-remote of one release",
                         a->version, GENIE_BUILD_ID, PROTO_SESSION_VERSION);
    pthread_mutex_lock(&c->lock);
    CUresult poison = c->poison;
    unsigned max = c->limits.max_sessions, open = c->nsessions;
    if (!poison && !(max && open >= max))
        c->nsessions++; /* counted from here: given back below if the range cannot be had */
    pthread_mutex_unlock(&c->lock);
    if (!poison && max && open >= max)
        return exec_fail(s, index, EXEC_cudaErrorDevicesUnavailable, 0,
                         "HELLO: genie-remote serves its maximum of %u sessions "
                         "(--max-sessions); retry later",
                         max);
    if (poison) {
        char nb[32];
        return exec_fail(s, index, EXEC_cudaErrorDevicesUnavailable, (int)poison,
                         "HELLO: another session's %s corrupted the GPU context; it is reset once "
                         "the open sessions have ended: retry then",
                         exec_cu_name(d, poison, nb, sizeof nb));
    }
    uint64_t g = c->granularity;
    /* Address space only (no memory until MEM_MAP): twice the device's memory, at least
     * 64 GiB, so that one client can use all of an 80 GiB H100 or a 141 GiB H200 and the
     * allocator's slabs and rounding never run it short first. */
    uint64_t dflt = 2 * c->devinfo.total_mem > EXEC_VA_DEFAULT ? 2 * c->devinfo.total_mem
                                                                : EXEC_VA_DEFAULT;
    long long want = genie_env_int("GENIE_VA_SIZE", (long long)dflt);
    uint64_t size = want > 0 ? (uint64_t)want : dflt;
    if (size > EXEC_VA_HINT_SPAN)
        size = EXEC_VA_HINT_SPAN;
    size = (size + g - 1) & ~(g - 1);
    uint64_t places = (EXEC_VA_HINT_SPAN - size) / g + 1, rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd = genie_now_ns() * 0x9e3779b97f4a7c15ull; /* no entropy source: still varies */
    CUdeviceptr hint = (CUdeviceptr)(EXEC_VA_HINT_BASE + (rnd % places) * g);
    /* Tests only: the first session's hint, to make a client's range collide on purpose. */
    long long test_hint = genie_env_int("GENIE_TEST_VA_HINT", 0);
    if (test_hint > 0 && s->id == 1)
        hint = (CUdeviceptr)test_hint & ~(CUdeviceptr)(g - 1);
    CUdeviceptr base = 0;
    CUresult r = d->MemAddressReserve(&base, size, g, hint, 0);
    if (r) /* a driver that refuses an unavailable hint instead of ignoring it */
        r = d->MemAddressReserve(&base, size, g, 0, 0);
    if (r) {
        pthread_mutex_lock(&c->lock);
        exec_ctx_session_gone(c);
        pthread_mutex_unlock(&c->lock);
        return exec_cufail(s, index, r, "HELLO: cuMemAddressReserve");
    }
    s->va_base = base;
    s->va_size = size;
    s->hello = 1;
    uint8_t *p =
        proto_put_R_HELLO(&s->reply, s->va_base, s->va_size, g, s->id, 1, sizeof c->devinfo);
    if (!p)
        return GENIE_ENOMEM;
    proto_devinfo di = c->devinfo;
    /* The quota is this session's GPU: the client's cudaMalloc and cudaMemGetInfo see it. */
    if (c->limits.mem_quota && c->limits.mem_quota < di.total_mem)
        di.total_mem = c->limits.mem_quota;
    memcpy(p, &di, sizeof di);
    GENIE_INFO("session %u: pid %llu, VA 0x%llx + %llu MiB", s->id, (unsigned long long)a->pid,
               (unsigned long long)base, (unsigned long long)(size >> 20));
    return 0;
}

/* The operator's table: one line per session. Written into out (a text, NUL-ended). */
static void status_text(exec_ctx *c, genie_buf *out)
{
    char line[256];
    pthread_mutex_lock(&c->lock);
    int n = snprintf(line, sizeof line,
                     "genie-remote %s: %u session(s) past HELLO, max %u, quota %llu bytes, "
                     "context %s\n"
                     "%-8s %-24s %-6s %10s %14s %10s %8s\n",
                     GENIE_BUILD_ID, c->nsessions, c->limits.max_sessions,
                     (unsigned long long)c->limits.mem_quota, c->poison ? "POISONED" : "healthy",
                     "session", "peer", "hello", "age_s", "mapped_bytes", "batches", "errors");
    genie_buf_append(out, line, (size_t)n);
    uint64_t now = genie_now_ns();
    for (exec_session *s = c->live; s; s = s->next) {
        n = snprintf(line, sizeof line, "%-8u %-24s %-6s %10llu %14llu %10llu %8llu\n", s->id,
                     s->peer, __atomic_load_n(&s->hello, __ATOMIC_RELAXED) ? "yes" : "no",
                     (unsigned long long)((now - s->opened_ns) / 1000000000ull),
                     (unsigned long long)__atomic_load_n(&s->mapped, __ATOMIC_RELAXED),
                     (unsigned long long)__atomic_load_n(&s->nbatches, __ATOMIC_RELAXED),
                     (unsigned long long)__atomic_load_n(&s->nfail, __ATOMIC_RELAXED));
        genie_buf_append(out, line, (size_t)n);
    }
    pthread_mutex_unlock(&c->lock);
}

int exec_op_STATUS(exec_session *s, uint32_t index, const proto_STATUS *a)
{
    exec_ctx *c = s->ctx;
    if (s->hello)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "STATUS is the operator's request, not a session's");
    unsigned wait = login_blocked(c, s->peer);
    if (wait)
        return exec_fail(s, index, EXEC_cudaErrorDevicesUnavailable, 0,
                         "%s: too many failed logins from %s; retry in %u s",
                         genie_strerror(GENIE_EAUTH), s->peer, wait);
    if (!token_ok(c->token, a->token, a->token_len)) {
        login_failed(s);
        return exec_fail(s, index, EXEC_cudaErrorDevicesUnavailable, 0, "%s",
                         genie_strerror(GENIE_EAUTH));
    }
    genie_buf t = {0};
    status_text(c, &t);
    uint8_t *p = proto_put_R_DATA(&s->reply, index, t.len);
    if (p)
        memcpy(p, t.data, t.len);
    genie_buf_free(&t);
    GENIE_INFO("session %u: status requested from %s", s->id, s->peer);
    return p ? 0 : GENIE_ENOMEM;
}

int exec_op_PING(exec_session *s, uint32_t index, const proto_PING *a)
{
    (void)index;
    return proto_put_R_PONG(&s->reply, a->nonce, genie_now_ns()) ? 0 : GENIE_ENOMEM;
}

/* ---- the batch ---- */

/* Takes the finished reply out of s (the caller frees it). */
static int take_reply(exec_session *s, void **reply, size_t *reply_n, int rc)
{
    proto_frame_end(&s->reply);
    *reply = s->reply.data;
    *reply_n = s->reply.len;
    s->reply_hint = s->reply.len;
    s->reply = (genie_buf){0};
    return rc;
}

/* ---- delta-encoded batches (BATCH_DELTA) ---- */

int exec_op_BATCH_DELTA(exec_session *s, uint32_t index, const proto_BATCH_DELTA *a)
{
    (void)a; /* a frame's only record is handled by run_delta, never dispatched */
    return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                     "BATCH_DELTA must be the only record of its frame");
}

/* Applies a BATCH_DELTA to the template, into out (a whole frame: f's header with the
 * TEMPLATE flag, then the patched payload). Returns NULL or why not. */
static const char *delta_build(exec_session *s, const proto_frame *f, const proto_rec *rec,
                               genie_buf *out)
{
    proto_BATCH_DELTA a;
    if (proto_get_BATCH_DELTA(rec, &a))
        return "malformed BATCH_DELTA record";
    if (s->in_delta)
        return "a template may not hold a BATCH_DELTA";
    if (!s->tmpl_ok)
        return "no template (no earlier template batch ran cleanly)";
    if (a.base != s->tmpl_seq)
        return "the template is another frame's";
    if (proto_frame_begin(out, PROTO_KIND_REQUEST, f->seq) ||
        genie_buf_append(out, s->tmpl.data, s->tmpl.len))
        return "out of memory";
    proto_frame_set_flags(out, f->flags | PROTO_FRAME_TEMPLATE);
    const char *why = proto_delta_apply(out->data + PROTO_HDR_SIZE, s->tmpl.len, a.patches,
                                        a.patches_len, a.npatches);
    if (why)
        return why;
    proto_frame_end(out);
    return NULL;
}

static int take_reply(exec_session *s, void **reply, size_t *reply_n, int rc);

/* A frame whose only record is a BATCH_DELTA: the reconstructed batch runs as if sent. */
static int run_delta(exec_session *s, const proto_frame *f, const proto_rec *rec, void **reply,
                     size_t *reply_n)
{
    genie_buf b = {0};
    const char *why = delta_build(s, f, rec, &b);
    if (why) {
        s->tmpl_ok = 0; /* the client drops its own on this error: both start over */
        genie_buf_free(&b);
        int e = exec_fail(s, PROTO_INDEX_DELTA, EXEC_cudaErrorInvalidValue, 0, "BATCH_DELTA: %s",
                          why);
        if (e == GENIE_ENOMEM)
            return -1;
        return take_reply(s, reply, reply_n, 0);
    }
    s->in_delta = 1;
    int rc = exec_session_handle(s, b.data, b.len, reply, reply_n);
    s->in_delta = 0;
    genie_buf_free(&b);
    return rc;
}

/* After a frame flagged PROTO_FRAME_TEMPLATE: its payload is the template if it ran cleanly
 * (no R_ERROR in its reply), else there is none. */
static void keep_template(exec_session *s, const proto_frame *f, int clean)
{
    s->tmpl_ok = 0;
    if (!clean || f->length > PROTO_DELTA_TEMPLATE_MAX)
        return;
    genie_buf_reset(&s->tmpl);
    if (genie_buf_append(&s->tmpl, f->payload, (size_t)f->length))
        return;
    s->tmpl_seq = f->seq;
    s->tmpl_ok = 1;
}

int exec_session_handle(exec_session *s, const void *req, size_t n, void **reply, size_t *reply_n)
{
    *reply = NULL;
    *reply_n = 0;
    exec_driver *d = &s->ctx->drv;
    proto_frame f;
    int e = proto_frame_parse(req, n, proto_max_message(), &f);
    if (!e && f.kind != PROTO_KIND_REQUEST)
        e = GENIE_EPROTO;
    /* Check every record's framing before running any: a malformed frame runs nothing. */
    uint32_t nrec = 0;
    proto_iter it;
    proto_rec rec;
    if (!e) {
        int k;
        proto_iter_init(&it, &f);
        while ((k = proto_iter_next(&it, &rec)) == 1)
            nrec++;
        e = k;
    }
    uint32_t seq = 0;
    if (!e)
        seq = f.seq;
    else if (req && n >= PROTO_HDR_SIZE) /* echo what the header claims: the client can match it */
        seq = proto_frame_peek_seq(req);
    /* The reply buffer goes to the caller, so each batch starts a new one: sized like the
     * last reply, a batch usually costs one malloc however many ops it holds. */
    if (genie_buf_reserve(&s->reply, s->reply_hint < (1u << 20) ? s->reply_hint : (1u << 20)) ||
        proto_frame_begin(&s->reply, PROTO_KIND_REPLY, seq))
        return -1;
    if (e) {
        s->tmpl_ok = 0; /* the flags of a malformed frame are not to be trusted */
        int fe = e == GENIE_EVERSION
                     ? exec_fail(s, UINT32_MAX, EXEC_cudaErrorInsufficientDriver, 0,
                                 "the client sent frame version %u, genie-remote %s speaks "
                                 "frame version %u: use a libgenie.so and genie-remote of one "
                                 "release",
                                 (unsigned)((const uint8_t *)req)[4] |
                                     (unsigned)((const uint8_t *)req)[5] << 8,
                                 GENIE_BUILD_ID, (unsigned)PROTO_VERSION)
                     : exec_fail(s, UINT32_MAX, EXEC_cudaErrorInvalidValue, 0,
                                 "malformed frame: %s", genie_strerror(e));
        if (fe == GENIE_ENOMEM)
            return -1;
        return take_reply(s, reply, reply_n, 0);
    }
    if (nrec == 1 && s->hello) {
        proto_iter_init(&it, &f);
        if (proto_iter_next(&it, &rec) == 1 && rec.op == PROTO_OP_BATCH_DELTA)
            return run_delta(s, &f, &rec, reply, reply_n);
    }
    uint64_t nfail0 = s->nfail;
    __atomic_fetch_add(&s->nbatches, 1, __ATOMIC_RELAXED);
    /* Sessions share the primary context but each runs on its own thread. */
    CUresult r = d->CtxSetCurrent(s->ctx->primary);
    proto_iter_init(&it, &f);
    int end = 0, nerr = 0;
    for (uint32_t i = 0; i < nrec && proto_iter_next(&it, &rec) == 1; i++) {
        if (!s->hello && rec.op == PROTO_OP_STATUS) { /* answered, then the stream ends */
            e = exec_dispatch(s, i, &rec);
            end = 1;
            break;
        }
        if (!s->hello && rec.op != PROTO_OP_HELLO) {
            e = exec_fail(s, i, EXEC_cudaErrorInitializationError, 0,
                          "%s before HELLO: HELLO must open the session",
                          proto_op_name(rec.op) ? proto_op_name(rec.op) : "an unknown op");
            end = 1;
            break;
        }
        if (r) {
            e = exec_cufail(s, i, r, "cuCtxSetCurrent");
            break;
        }
        e = exec_dispatch(s, i, &rec);
        if (e) {
            if (!s->hello) { /* HELLO refused: the stream ends */
                end = 1;
                break;
            }
            /* As in the runtime, a failed call does not cancel the calls after it (a
             * rejected GEMM must not drop the MEM_MAP or STREAM_CREATE that follow, or the
             * client's view of its memory and handles would no longer be true). Each
             * failure gets its R_ERROR; past EXEC_MAX_ERRORS the batch is abandoned. */
            if (e == GENIE_ENOMEM || ++nerr >= EXEC_MAX_ERRORS)
                break;
            e = 0;
        }
    }
    if (e == GENIE_ENOMEM) {
        /* The reply may hold a half-built record: start it over with just the error. */
        genie_buf_free(&s->reply);
        if (proto_frame_begin(&s->reply, PROTO_KIND_REPLY, seq) ||
            exec_fail(s, UINT32_MAX, EXEC_cudaErrorMemoryAllocation, 0, "genie-remote: %s",
                      genie_strerror(GENIE_ENOMEM)) == GENIE_ENOMEM)
            return -1;
    }
    if (f.flags & PROTO_FRAME_TEMPLATE)
        keep_template(s, &f, s->nfail == nfail0);
    return take_reply(s, reply, reply_n, end);
}

void exec_session_close(exec_session *s)
{
    if (!s)
        return;
    exec_driver *d = &s->ctx->drv;
    d->CtxSetCurrent(s->ctx->primary);
    /* Nothing may still run on memory we are about to unmap. */
    /* a fault the client never synced on shows here first: it poisons the context too */
    exec_ctx_poison(s->ctx, exec_sync_all(s));
    exec_graph_session_close(s);
    exec_lt_session_close(s);
    exec_lib_session_close(s);
    for (uint32_t i = 0; i < s->events.cap; i++)
        if (s->events.vals[i])
            d->EventDestroy((CUevent)s->events.vals[i]);
    for (uint32_t i = 0; i < s->streams.cap; i++)
        if (s->streams.vals[i])
            d->StreamDestroy((CUstream)s->streams.vals[i]);
    for (size_t i = 0; i < s->nmaps; i++) {
        d->MemUnmap((CUdeviceptr)s->maps[i].ptr, s->maps[i].size);
        d->MemRelease(s->maps[i].h);
    }
    if (s->hello)
        d->MemAddressFree((CUdeviceptr)s->va_base, s->va_size);
    for (uint32_t i = 0; i < s->funcs.cap; i++)
        free(s->funcs.vals[i]);
    exec_module_session_close(s); /* after the sync above: no kernel of theirs still runs */
    exec_wcache_log(&s->ctx->wcache);
    exec_idmap_free(&s->streams);
    exec_idmap_free(&s->events);
    exec_idmap_free(&s->modules);
    exec_idmap_free(&s->funcs);
    free(s->maps);
    free(s->kparams);
    genie_buf_free(&s->reply);
    genie_buf_free(&s->scratch);
    genie_buf_free(&s->tmpl);
    GENIE_INFO("session %u closed", s->id);
    exec_ctx *c = s->ctx;
    int counted = s->hello;
    pthread_mutex_lock(&c->lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        c->live = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (counted) /* never past HELLO: never counted */
        exec_ctx_session_gone(c);
    pthread_mutex_unlock(&c->lock);
    free(s);
}
