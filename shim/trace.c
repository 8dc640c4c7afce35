/* trace.c — GENIE_TRACE_FILE: a Chrome trace-event JSON (Perfetto opens it) of the client's
 * recording, each frame on the wire and the executor's stream work, on one clock.
 *
 * Tracks (docs/semantics.md, "A trace users can open"): process 1 is this client, with thread
 * 1 "recording" (one span per batch, from its first recorded op to its flush) and thread 2
 * "wire" (per frame: send, wait, reply, unpack); process 2 is the genie-remote session, with
 * thread 1 "executor" (receipt to dispatch of each frame) and one thread per client stream
 * (the device-side span of each timed op, from the executor's timing events; R_TRACE).
 * Server times become client times through one offset measured right after HELLO: the
 * PING of least round trip out of SHIM_TRACE_PINGS, offset = server_ns - (t_send + t_recv)/2,
 * off by at most half that round trip. Events are kept in memory and written at exit.
 * Everything here runs under the shim's lock. */
#include "shim/shim_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHIM_TRACE_PINGS 5

typedef struct shim_trace {
    char *path;
    genie_buf ev;   /* events, each ending in ",\n" */
    uint64_t t0;    /* client ns of ts 0 */
    int64_t offset; /* server ns - client ns */
    uint64_t rtt;   /* round trip of the PING that set offset */
    int synced;
    int clock_done;     /* the PINGs are over: frames are traced from then on, all converted
                         * with the one offset */
    uint64_t rec_first; /* the batch's first op (0: none yet) */
    uint64_t srv_recv, srv_done; /* of the frame being received (R_TRACE), or 0 */
    uint64_t nspans;
    uint32_t named[64], nnamed; /* streams whose track has its name */
} shim_trace;

static shim_trace *T;
int shim_trace_enabled;

static void ev(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ev(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        genie_buf_append(&T->ev, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* µs since t0, from client ns (may be before t0: negative) */
static double us(uint64_t ns)
{
    return (double)(int64_t)(ns - T->t0) / 1e3;
}
static uint64_t from_server(uint64_t ns)
{
    return (uint64_t)((int64_t)ns - T->offset);
}

static void span(int pid, int tid, const char *cat, const char *name, uint64_t a, uint64_t b,
                 const char *args)
{
    ev("{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"cat\":\"%s\",\"name\":\"%s\",\"ts\":%.3f,"
       "\"dur\":%.3f,\"args\":{%s}},\n",
       pid, tid, cat, name, us(a), b > a ? (double)(b - a) / 1e3 : 0.0, args);
}

static void write_file(void)
{
    shim_lock();
    if (T) {
        FILE *f = fopen(T->path, "w");
        if (!f) {
            GENIE_ERROR("cannot write GENIE_TRACE_FILE=%s: %s", T->path, strerror(errno));
        } else {
            fprintf(f,
                    "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"clock_offset_ns\":%lld,"
                    "\"clock_rtt_ns\":%llu,\"clock_synced\":%d,\"device_spans\":%llu},\n"
                    "\"traceEvents\":[\n",
                    (long long)T->offset, (unsigned long long)T->rtt, T->synced,
                    (unsigned long long)T->nspans);
            fwrite(T->ev.data, 1, T->ev.len, f);
            /* the last event's ",\n" is followed by one closing metadata event */
            fprintf(f,
                    "{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\","
                    "\"args\":{\"name\":\"genie client (pid %d)\"}}\n]}\n",
                    (int)getpid());
            if (fclose(f))
                GENIE_ERROR("cannot write GENIE_TRACE_FILE=%s: %s", T->path, strerror(errno));
        }
    }
    shim_unlock();
}

void shim_trace_init(void)
{
    const char *path = genie_env_str("GENIE_TRACE_FILE", NULL);
    if (!path || !*path)
        return;
    T = calloc(1, sizeof *T);
    if (!T || !(T->path = strdup(path))) {
        free(T);
        T = NULL;
        GENIE_ERROR("GENIE_TRACE_FILE: out of memory; no trace");
        return;
    }
    T->t0 = genie_now_ns();
    ev("{\"ph\":\"M\",\"pid\":1,\"tid\":1,\"name\":\"thread_name\",\"args\":{\"name\":"
       "\"recording\"}},\n");
    ev("{\"ph\":\"M\",\"pid\":1,\"tid\":2,\"name\":\"thread_name\",\"args\":{\"name\":\"wire\"}},"
       "\n");
    ev("{\"ph\":\"M\",\"pid\":2,\"tid\":1,\"name\":\"thread_name\",\"args\":{\"name\":\"executor\"}"
       "},\n");
    atexit(write_file);
    shim_trace_enabled = 1;
}

static int pong_cb(void *ud, const proto_rec *r)
{
    if (r->op != PROTO_OP_R_PONG)
        return 0;
    proto_R_PONG p;
    if (proto_get_R_PONG(r, &p))
        return GENIE_EPROTO;
    *(uint64_t *)ud = p.server_ns;
    return 0;
}

void shim_trace_clock(uint32_t session)
{
    if (!T)
        return;
    ev("{\"ph\":\"M\",\"pid\":2,\"tid\":0,\"name\":\"process_name\","
       "\"args\":{\"name\":\"genie-remote session %u\"}},\n",
       session);
    genie_buf b = {0};
    for (int i = 0; i < SHIM_TRACE_PINGS; i++) {
        uint64_t srv = 0;
        if (proto_frame_begin(&b, PROTO_KIND_REQUEST, 0) || !proto_put_PING(&b, (uint64_t)i))
            break;
        uint64_t a = genie_now_ns();
        if (shim_call_frame(&b, SHIM_RT_SETUP, pong_cb, &srv) != cudaSuccess || !srv)
            break;
        uint64_t z = genie_now_ns();
        if (!T->synced || z - a < T->rtt) {
            T->rtt = z - a;
            T->offset = (int64_t)(srv - (a + (z - a) / 2));
            T->synced = 1;
        }
    }
    genie_buf_free(&b);
    T->clock_done = 1;
    if (!T->synced)
        GENIE_WARN("GENIE_TRACE_FILE: no clock offset measured; executor times are the server's");
}

void shim_trace_batch_first(void)
{
    T->rec_first = genie_now_ns();
}

void shim_trace_recording(uint32_t ops, uint64_t bytes)
{
    if (!T->rec_first)
        return;
    char args[96];
    snprintf(args, sizeof args, "\"ops\":%u,\"bytes\":%llu,\"seq\":%u", ops,
             (unsigned long long)bytes, shim_g.seq + 1);
    span(1, 1, "client", "record", T->rec_first, genie_now_ns(), args);
    T->rec_first = 0;
}

uint32_t shim_trace_frame_flags(void)
{
    return T && T->clock_done ? PROTO_FRAME_TRACE : 0;
}

int shim_trace_reply(const proto_rec *r)
{
    proto_R_TRACE t;
    if (proto_get_R_TRACE(r, &t) || t.spans_len != (size_t)t.nspans * sizeof(proto_trace_span))
        return GENIE_EPROTO;
    T->srv_recv = t.recv_ns;
    T->srv_done = t.done_ns;
    for (uint32_t i = 0; i < t.nspans; i++) {
        proto_trace_span sp;
        memcpy(&sp, t.spans + (size_t)i * sizeof sp, sizeof sp);
        const char *name = proto_op_name(sp.op);
        uint32_t st = sp.stream < 3 ? 0 : sp.stream; /* 0-2: the legacy stream */
        int tid = 100 + (int)st, seen = 0;
        for (uint32_t k = 0; k < T->nnamed && !seen; k++)
            seen = T->named[k] == st;
        if (!seen && T->nnamed < sizeof T->named / sizeof T->named[0]) {
            T->named[T->nnamed++] = st;
            ev("{\"ph\":\"M\",\"pid\":2,\"tid\":%d,\"name\":\"thread_name\","
               "\"args\":{\"name\":\"stream %u\"}},\n",
               tid, st);
        }
        char args[96];
        snprintf(args, sizeof args, "\"seq\":%u,\"index\":%u,\"stream\":%u", sp.seq, sp.index,
                 sp.stream);
        span(2, tid, "device", name ? name : "op", from_server(sp.t0), from_server(sp.t1), args);
        T->nspans++;
    }
    return 0;
}

void shim_trace_frame(uint32_t seq, int kind, uint64_t a, uint64_t z, uint64_t done, uint64_t sent,
                      uint64_t received)
{
    static const char *const kinds[] = {"sync", "setup", "module", "query"};
    char args[160];
    snprintf(args, sizeof args,
             "\"seq\":%u,\"kind\":\"%s\",\"bytes_sent\":%llu,"
             "\"bytes_received\":%llu",
             seq, kind >= 0 && kind < 4 ? kinds[kind] : "?", (unsigned long long)sent,
             (unsigned long long)received);
    if (T->srv_recv && T->srv_done) {
        /* the executor's receipt and dispatch on the client's clock, clamped into the
         * round trip (the offset is off by up to half the PING's round trip) */
        uint64_t r = from_server(T->srv_recv), d = from_server(T->srv_done);
        r = r < a ? a : r > z ? z : r;
        d = d < r ? r : d > z ? z : d;
        span(1, 2, "wire", "send", a, r, args);
        span(1, 2, "wire", "wait", r, d, args);
        span(1, 2, "wire", "reply", d, z, args);
        span(2, 1, "executor", "batch", from_server(T->srv_recv), from_server(T->srv_done), args);
    } else {
        span(1, 2, "wire", "round trip", a, z, args);
    }
    span(1, 2, "wire", "unpack", z, done, args);
    T->srv_recv = T->srv_done = 0;
}
