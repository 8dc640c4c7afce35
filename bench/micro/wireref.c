/* wireref.c — the references the wire is measured against: raw sockets and a minimal gRPC stream.
 *
 *   wireref --raw TARGET --grpc TARGET [--pings N] [--bulk MIB] [--reps N] [--raw-variants LIST]
 *
 * A child process serves (as genie-remote does) a raw-socket echo per variant in LIST
 * (comma-separated BUF:CHUNK, BUF the socket buffers in MiB, 0 = the kernel's defaults and TCP
 * autotuning, CHUNK the largest send/recv in KiB, 0 = whole messages; default
 * "0:0,8:0,8:4096"; the best variant of each measure is the reference) and a
 * minimal gRPC C-core server: one thread, one completion queue, no framing of its own beyond
 * an 8-byte length in the first message of a request. The parent measures, interleaved:
 *   - a 64-byte ping-pong (median of N) on each raw variant and on one gRPC bidi stream;
 *   - H2D bulk: MIB bytes up, a 64-byte reply (best and median of --reps);
 *   - D2H bulk: a small request, MIB bytes back into the caller's buffer.
 * The gRPC side uses Genie's own channel arguments (protocol/transport) and 4 MiB messages
 * as Genie does; its server copies what it receives into one kept buffer (the bytes must land
 * somewhere contiguous, as the raw server's recv puts them) and its client copies a download
 * into the caller's buffer: what any program on gRPC must do at least. So gRPC / raw is gRPC's
 * own cost, and Genie / gRPC (bench/micro/micro, same run) Genie's. */
#define _GNU_SOURCE
#include "bench/micro/opts.h"
#include "bench/micro/rawsock.h"
#include "protocol/transport/transport_int.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXV 4
#define GCHUNK PROTO_CHUNK
#define FETCH_BIT (1ull << 63)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Runs one batch on a pluck queue and waits for it; 1 on success. */
static int batch(grpc_call *call, grpc_completion_queue *cq, const grpc_op *ops, size_t n)
{
    char tag;
    if (grpc_call_start_batch(call, ops, n, &tag, NULL) != GRPC_CALL_OK)
        return 0;
    grpc_event ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                                NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

/* Copies bb's bytes from offset skip into dst (at most n); returns the bytes copied. */
static size_t bb_copy(grpc_byte_buffer *bb, size_t skip, uint8_t *dst, size_t n)
{
    grpc_byte_buffer_reader r;
    size_t done = 0;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return 0;
    grpc_slice *sl;
    while (done < n && grpc_byte_buffer_reader_peek(&r, &sl)) {
        const uint8_t *p = GRPC_SLICE_START_PTR(*sl);
        size_t k = GRPC_SLICE_LENGTH(*sl);
        if (skip >= k) {
            skip -= k;
            continue;
        }
        p += skip;
        k -= skip;
        skip = 0;
        if (k > n - done)
            k = n - done;
        memcpy(dst + done, p, k);
        done += k;
    }
    grpc_byte_buffer_reader_destroy(&r);
    return done;
}

/* Sends n bytes of p as messages of at most GCHUNK, the first prefixed by hdr (8 bytes, may be
 * NULL), from p's memory (static slices: p outlives the stream); the last send carries a
 * RECV_MESSAGE into *rx when rx is set. */
static int send_msgs(grpc_call *call, grpc_completion_queue *cq, const uint8_t *hdr,
                     const uint8_t *p, size_t n, grpc_byte_buffer **rx)
{
    size_t off = 0;
    int first = 1;
    do {
        grpc_slice sl[2];
        size_t ns = 0, room = GCHUNK;
        if (first && hdr) {
            sl[ns++] = grpc_slice_from_copied_buffer((const char *)hdr, 8);
            room -= 8;
        }
        size_t k = n - off < room ? n - off : room;
        if (k && k <= 4096)
            sl[ns++] = grpc_slice_from_copied_buffer((const char *)p + off, k);
        else if (k)
            sl[ns++] = grpc_slice_from_static_buffer(p + off, k);
        off += k;
        first = 0;
        grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(sl, ns);
        for (size_t i = 0; i < ns; i++)
            grpc_slice_unref(sl[i]);
        grpc_op ops[2];
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_SEND_MESSAGE;
        ops[0].data.send_message.send_message = bb;
        size_t nops = 1;
        if (off == n && rx) {
            *rx = NULL;
            ops[1].op = GRPC_OP_RECV_MESSAGE;
            ops[1].data.recv_message.recv_message = rx;
            nops = 2;
        }
        int ok = batch(call, cq, ops, nops);
        grpc_byte_buffer_destroy(bb);
        if (!ok)
            return -1;
    } while (off < n);
    return 0;
}

/* ---- the minimal gRPC server (child process) ---- */

typedef struct gsrv {
    grpc_server *srv;
    grpc_completion_queue *cq; /* polled by the server's one thread */
    int port;
} gsrv;

/* Serves one stream: requests are an 8-byte length (bit 63: a download of that many bytes)
 * then the bytes; an upload is answered with 64 bytes once complete. */
static void serve_call(grpc_call *call, grpc_completion_queue *cq)
{
    static uint8_t reply[64];
    uint8_t *keep = NULL, *down = NULL;
    size_t keep_cap = 0, down_cap = 0;
    grpc_byte_buffer *bb = NULL;
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_MESSAGE;
    ops[1].data.recv_message.recv_message = &bb;
    int ok = batch(call, cq, ops, 2);
    while (ok && bb) {
        uint8_t h[8];
        size_t len = grpc_byte_buffer_length(bb);
        if (len < 8 || bb_copy(bb, 0, h, 8) != 8)
            break;
        uint64_t n = get_le64(h), want = n & ~FETCH_BIT;
        if (n & FETCH_BIT) {
            grpc_byte_buffer_destroy(bb);
            bb = NULL;
            if (want > down_cap) {
                free(down);
                down = malloc(want);
                if (!down)
                    break;
                memset(down, 0x5a, want);
                down_cap = want;
            }
            if (send_msgs(call, cq, NULL, down, want, &bb))
                break;
            continue;
        }
        if (n > keep_cap) {
            free(keep);
            keep = malloc(n ? n : 1);
            if (!keep)
                break;
            memset(keep, 0, n);
            keep_cap = n;
        }
        size_t got = bb_copy(bb, 8, keep, n);
        grpc_byte_buffer_destroy(bb);
        bb = NULL;
        while (ok && got < n) {
            memset(ops, 0, sizeof ops);
            ops[0].op = GRPC_OP_RECV_MESSAGE;
            ops[0].data.recv_message.recv_message = &bb;
            ok = batch(call, cq, ops, 1) && bb;
            if (ok) {
                got += bb_copy(bb, 0, keep + got, n - got);
                grpc_byte_buffer_destroy(bb);
                bb = NULL;
            }
        }
        if (!ok || send_msgs(call, cq, NULL, reply, n < 64 ? n : 64, &bb))
            break;
    }
    if (bb)
        grpc_byte_buffer_destroy(bb);
    free(keep);
    free(down);
}

static void *gsrv_main(void *arg)
{
    gsrv *g = arg;
    for (;;) {
        grpc_call *call = NULL;
        grpc_call_details det;
        grpc_metadata_array md;
        grpc_call_details_init(&det);
        grpc_metadata_array_init(&md);
        grpc_completion_queue *ccq = grpc_completion_queue_create_for_pluck(NULL);
        char tag;
        if (grpc_server_request_call(g->srv, &call, &det, &md, ccq, g->cq, &tag) != GRPC_CALL_OK)
            break;
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                                   NULL);
        if (ev.type != GRPC_OP_COMPLETE || !ev.success)
            break;
        serve_call(call, ccq);
        grpc_call_cancel(call, NULL);
        grpc_call_unref(call);
        grpc_call_details_destroy(&det);
        grpc_metadata_array_destroy(&md);
    }
    return NULL;
}

static int gsrv_start(gsrv *g, const char *target)
{
    grpc_init();
    g->srv = grpc_server_create(proto_channel_args(1), NULL);
    g->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(g->srv, g->cq, NULL);
    grpc_server_credentials *cr = grpc_insecure_server_credentials_create();
    g->port = grpc_server_add_http2_port(g->srv, target, cr);
    grpc_server_credentials_release(cr);
    if (g->port <= 0)
        return -1;
    grpc_server_start(g->srv);
    pthread_t t;
    return pthread_create(&t, NULL, gsrv_main, g) ? -1 : 0;
}

/* ---- the gRPC client ---- */

typedef struct gcli {
    grpc_channel *ch;
    grpc_completion_queue *cq;
    grpc_call *call;
} gcli;

static int gcli_open(gcli *c, const char *target)
{
    grpc_channel_credentials *cr = grpc_insecure_credentials_create();
    c->ch = grpc_channel_create(target, cr, proto_channel_args(0));
    grpc_channel_credentials_release(cr);
    c->cq = grpc_completion_queue_create_for_pluck(NULL);
    c->call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                       grpc_slice_from_static_string("/ref.Echo/Stream"), NULL,
                                       gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_metadata_array im;
    grpc_metadata_array_init(&im);
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].flags = GRPC_INITIAL_METADATA_WAIT_FOR_READY;
    ops[1].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[1].data.recv_initial_metadata.recv_initial_metadata = &im;
    int ok = c->call && batch(c->call, c->cq, ops, 2);
    grpc_metadata_array_destroy(&im);
    return ok ? 0 : -1;
}

/* Sends n bytes up (length-prefixed) and waits for the reply; 0 or -1. */
static int gcli_call(gcli *c, const uint8_t *p, size_t n)
{
    uint8_t h[8];
    put_le64(h, n);
    grpc_byte_buffer *rx = NULL;
    if (send_msgs(c->call, c->cq, h, p, n, &rx) || !rx)
        return -1;
    grpc_byte_buffer_destroy(rx);
    return 0;
}

/* Downloads n bytes into dst; 0 or -1. */
static int gcli_fetch(gcli *c, uint8_t *dst, size_t n)
{
    uint8_t h[8];
    put_le64(h, (uint64_t)n | FETCH_BIT);
    grpc_byte_buffer *rx = NULL;
    if (send_msgs(c->call, c->cq, h, NULL, 0, &rx) || !rx)
        return -1;
    size_t got = 0;
    for (;;) {
        got += bb_copy(rx, 0, dst + got, n - got);
        grpc_byte_buffer_destroy(rx);
        rx = NULL;
        if (got >= n)
            return 0;
        grpc_op op;
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &rx;
        if (!batch(c->call, c->cq, &op, 1) || !rx)
            return -1;
    }
}

/* "unix:/p" -> "unix:/p.SUFFIX"; TCP targets unchanged (port 0: each server picks one). */
static void variant_target(char *out, size_t n, const char *target, const char *suffix)
{
    if (!strncmp(target, "unix:", 5))
        snprintf(out, n, "%s.%s", target, suffix);
    else
        snprintf(out, n, "%s", target);
}

static void client_target(char *out, size_t n, const char *target, int port)
{
    if (!strncmp(target, "unix:", 5))
        snprintf(out, n, "%s", target);
    else
        snprintf(out, n, "127.0.0.1:%d", port);
}

int main(int argc, char **argv)
{
    const char *raw = NULL, *grpc = NULL, *bufs = "0:0,8:0,8:4096";
    long pings = 2000, bulk_mib = 256, reps = 3;
    const struct bench_opt opts[] = {
        {"--raw", NULL, 0, &raw, NULL},        {"--grpc", NULL, 0, &grpc, NULL},
        {"--pings", &pings, 1, NULL, NULL},    {"--bulk", &bulk_mib, 1, NULL, NULL},
        {"--reps", &reps, 1, NULL, NULL},      {"--raw-variants", NULL, 0, &bufs, NULL},
        {NULL, NULL, 0, NULL, NULL},
    };
    int pr = bench_opts_parse(argc, argv, opts,
                              "--raw TARGET --grpc TARGET [--pings N] [--bulk MIB] [--reps N] "
                              "[--raw-variants MIB:KIB,...]\n");
    if (pr)
        return pr == 1 ? 0 : 2;
    if (!raw || !grpc || pings < 1 || bulk_mib < 1 || reps < 1) {
        fprintf(stderr, "wireref: --raw and --grpc are required (try --help)\n");
        return 2;
    }
    int bufv[MAXV], nv = 0;
    size_t chunkv[MAXV];
    for (const char *p = bufs; *p && nv < MAXV;) {
        char *e;
        bufv[nv] = (int)strtol(p, &e, 10) << 20;
        chunkv[nv] = *e == ':' ? (size_t)strtoul(e + 1, &e, 10) << 10 : 0;
        nv++;
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    char rt[MAXV][300];
    for (int v = 0; v < nv; v++) {
        char suf[16];
        snprintf(suf, sizeof suf, "v%d", v);
        variant_target(rt[v], sizeof rt[v], raw, suf);
    }

    int pfd[2];
    if (pipe(pfd))
        return 1;
    pid_t child = fork();
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        char err[256], line[256];
        int off = 0;
        for (int v = 0; v < nv; v++) {
            rawsock_set_buffers(bufv[v]);
            rawsock_set_chunk(chunkv[v]);
            rawsock_server *s = rawsock_server_start_opts(rt[v], 64, err, sizeof err);
            if (!s) {
                fprintf(stderr, "wireref: %s\n", err);
                _exit(1);
            }
            off += snprintf(line + off, sizeof line - off, "%d ", rawsock_server_port(s));
        }
        static gsrv g;
        if (gsrv_start(&g, grpc)) {
            fprintf(stderr, "wireref: the gRPC server cannot listen on %s\n", grpc);
            _exit(1);
        }
        snprintf(line + off, sizeof line - off, "%d\n", g.port);
        if (write(pfd[1], line, strlen(line)) < 0)
            _exit(1);
        pause();
        _exit(0);
    }
    char portbuf[256] = {0};
    if (read(pfd[0], portbuf, sizeof portbuf - 1) <= 0) {
        fprintf(stderr, "wireref: the servers did not start\n");
        return 1;
    }
    int ports[MAXV + 1];
    char *q = portbuf;
    for (int v = 0; v <= nv; v++)
        ports[v] = (int)strtol(q, &q, 10);

    rawsock_conn *rc[MAXV];
    char err[256], tgt[300];
    for (int v = 0; v < nv; v++) {
        rawsock_set_buffers(bufv[v]);
        rawsock_set_chunk(chunkv[v]);
        client_target(tgt, sizeof tgt, rt[v], ports[v]);
        rc[v] = rawsock_connect(tgt, err, sizeof err);
        if (!rc[v]) {
            fprintf(stderr, "wireref: %s\n", err);
            kill(child, SIGTERM);
            return 1;
        }
    }
    grpc_init();
    gcli gc;
    client_target(tgt, sizeof tgt, grpc, ports[nv]);
    if (gcli_open(&gc, tgt)) {
        fprintf(stderr, "wireref: cannot open a gRPC stream to %s\n", tgt);
        kill(child, SIGTERM);
        return 1;
    }

    const char *kind = strncmp(raw, "unix:", 5) ? "tcp" : "unix";
    printf("transport: %s (references)\n", kind);
    for (int v = 0; v < nv; v++) {
        char d[256];
        rawsock_describe(rc[v], d, sizeof d);
        printf("raw socket %d: %s\n", v, d);
    }
    printf("gRPC: C core %s, one bidi stream, Genie's channel arguments, %u KiB messages\n",
           grpc_version_string(), GCHUNK >> 10);

    /* 64-byte ping-pong, interleaved */
    double *t[MAXV + 1];
    for (int v = 0; v <= nv; v++)
        t[v] = malloc((size_t)pings * sizeof(double));
    uint8_t msg[64] = {0};
    for (long i = 0; i < pings; i++) {
        for (int v = 0; v <= nv; v++) {
            void *rep;
            size_t rn;
            double a = now_s();
            int e = v < nv ? rawsock_call(rc[v], msg, sizeof msg, &rep, &rn)
                           : gcli_call(&gc, msg, sizeof msg);
            t[v][i] = now_s() - a;
            if (e) {
                fprintf(stderr, "wireref: ping failed (%s)\n", v < nv ? "raw" : "gRPC");
                return 1;
            }
            if (v < nv)
                free(rep);
        }
    }
    double ping[MAXV + 1], best_raw_ping = 1e30;
    for (int v = 0; v <= nv; v++) {
        ping[v] = median(t[v], (int)pings) * 1e6;
        if (v < nv && ping[v] < best_raw_ping)
            best_raw_ping = ping[v];
    }

    /* bulk, both directions */
    size_t bulk = (size_t)bulk_mib << 20;
    uint8_t *host = malloc(bulk), *dst = malloc(bulk);
    if (!host || !dst)
        return 1;
    memset(host, 0x5a, bulk);
    memset(dst, 0, bulk);
    double *up[MAXV + 1], *down[MAXV + 1];
    for (int v = 0; v <= nv; v++) {
        up[v] = malloc((size_t)reps * sizeof(double));
        down[v] = malloc((size_t)reps * sizeof(double));
    }
    for (long r = 0; r <= reps; r++) { /* round 0 warms both servers' buffers: not counted */
        for (int v = 0; v <= nv; v++) {
            void *rep;
            size_t rn;
            double a = now_s();
            int e = v < nv ? rawsock_call(rc[v], host, bulk, &rep, &rn) : gcli_call(&gc, host, bulk);
            double b = now_s();
            if (!e && v < nv)
                free(rep);
            e |= v < nv ? rawsock_fetch(rc[v], dst, bulk) : gcli_fetch(&gc, dst, bulk);
            double c = now_s();
            if (e || dst[bulk - 1] != 0x5a) {
                fprintf(stderr, "wireref: bulk transfer failed (%s)\n", v < nv ? "raw" : "gRPC");
                return 1;
            }
            dst[bulk - 1] = 0;
            if (r) {
                up[v][r - 1] = bulk / (b - a) / 1e9;
                down[v][r - 1] = bulk / (c - b) / 1e9;
            }
        }
    }
    double upb[MAXV + 1], dnb[MAXV + 1], upm[MAXV + 1], dnm[MAXV + 1];
    double best_up = 0, best_dn = 0;
    for (int v = 0; v <= nv; v++) {
        upm[v] = median(up[v], (int)reps);
        dnm[v] = median(down[v], (int)reps);
        upb[v] = up[v][reps - 1]; /* sorted by median() */
        dnb[v] = down[v][reps - 1];
        if (v < nv && upb[v] > best_up)
            best_up = upb[v];
        if (v < nv && dnb[v] > best_dn)
            best_dn = dnb[v];
    }
    for (int v = 0; v < nv; v++)
        printf("raw %d: 64-byte ping %6.1f us median; %ld MiB up %5.2f GB/s (median %5.2f), "
               "down %5.2f GB/s (median %5.2f)\n",
               v, ping[v], bulk_mib, upb[v], upm[v], dnb[v], dnm[v]);
    printf("gRPC:  64-byte ping %6.1f us median; %ld MiB up %5.2f GB/s (median %5.2f), "
           "down %5.2f GB/s (median %5.2f)\n",
           ping[nv], bulk_mib, upb[nv], upm[nv], dnb[nv], dnm[nv]);
    printf("gRPC alone vs the best raw socket: ping %.2fx, up %.0f%%, down %.0f%%\n",
           ping[nv] / best_raw_ping, 100 * upb[nv] / best_up, 100 * dnb[nv] / best_dn);
    printf("CSV-ref,%s,%.1f,%.1f,%.3f,%.3f,%.3f,%.3f\n", kind, best_raw_ping, ping[nv], best_up,
           upb[nv], best_dn, dnb[nv]);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    return 0;
}
