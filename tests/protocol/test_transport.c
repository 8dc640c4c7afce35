/* test_transport.c — tests the gRPC transport (protocol/transport/): echo, chunking, timeouts, sessions. */
#include "common/genie.h"
#include "protocol/transport.h"
#include "protocol/gen/ops.h"

#include <criterion/criterion.h>
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

/* ---- a test handler: echo, with commands in the first bytes ---- */
static atomic_int n_open, n_close, n_handle;

typedef struct sess {
    int id;
} sess;

static void *h_open(void *ud, const char *peer)
{
    (void)ud;
    cr_assert(peer && *peer);
    sess *s = malloc(sizeof *s);
    s->id = atomic_fetch_add(&n_open, 1);
    return s;
}

/* Time bounds stretch under the sanitizers (a loaded 2-core VM running ASan builds is slow),
 * and so do the handler sleeps they are measured against: every bound stays below the sleep
 * it guards, so a test still fails if the client waits for the sleeping handler. */
#if defined(__SANITIZE_ADDRESS__)
#define SLACK 3
#else
#define SLACK 1
#endif

/* "SLEEP <ms * SLACK>" in buf */
static const char *sleep_cmd(char *buf, size_t n, int ms)
{
    snprintf(buf, n, "SLEEP %d", ms * SLACK);
    return buf;
}

static void sleep_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

/* "SLEEP <ms>": sleeps then echoes; "BYE": replies and ends the stream; a frame (starts
 * with the frame magic): replies with proto_frame_parse's result (int) and, if it parsed,
 * the crc32c of its payload (u32); else echo. */
static int h_handle(void *session, const void *req, size_t n, void **reply, size_t *reply_n)
{
    (void)session;
    atomic_fetch_add(&n_handle, 1);
    uint32_t magic = 0;
    if (n >= 4)
        memcpy(&magic, req, 4);
    if (magic == PROTO_MAGIC) {
        proto_frame f;
        int r[2] = {proto_frame_parse(req, n, 1ull << 32, &f), 0};
        if (!r[0])
            r[1] = (int)genie_crc32c(0, f.payload, f.length);
        *reply = malloc(sizeof r);
        memcpy(*reply, r, sizeof r);
        *reply_n = sizeof r;
        return 0;
    }
    if (n >= 6 && !memcmp(req, "SLEEP ", 6)) {
        char tmp[32] = {0};
        memcpy(tmp, (const char *)req + 6, n - 6 < 31 ? n - 6 : 31);
        sleep_ms(atoi(tmp));
    }
    *reply = malloc(n ? n : 1);
    if (n)
        memcpy(*reply, req, n);
    *reply_n = n;
    return n == 3 && !memcmp(req, "BYE", 3);
}

static void h_close(void *session)
{
    atomic_fetch_add(&n_close, 1);
    free(session);
}

static const proto_handler handler = {.open = h_open, .handle = h_handle, .close = h_close};

/* ---- helpers ---- */
static char sock_path[108];

static proto_server *start_unix(char *target, size_t n)
{
    snprintf(sock_path, sizeof sock_path, "/tmp/genie-tr-%d.sock", (int)getpid());
    snprintf(target, n, "unix:%s", sock_path);
    proto_server *s;
    char err[256];
    int rc = proto_server_start(target, &handler, &s, err, sizeof err);
    cr_assert_eq(rc, 0, "server start: %s", err);
    return s;
}

static proto_server *start_tcp(char *target, size_t n)
{
    proto_server *s;
    char err[256];
    int rc = proto_server_start("127.0.0.1:0", &handler, &s, err, sizeof err);
    cr_assert_eq(rc, 0, "server start: %s", err);
    int port = proto_server_port(s);
    cr_assert_gt(port, 0);
    snprintf(target, n, "127.0.0.1:%d", port);
    return s;
}

static proto_conn *connect_ok(const char *target)
{
    proto_conn *c;
    char err[256];
    int rc = proto_conn_open(target, 3000, &c, err, sizeof err);
    cr_assert_eq(rc, 0, "connect %s: %s", target, err);
    return c;
}

static double ms_since(uint64_t t0)
{
    return (double)(genie_now_ns() - t0) / 1e6;
}

static void echo_check(proto_conn *c, const void *req, size_t n)
{
    void *rep;
    size_t rn;
    int rc = proto_conn_call(c, req, n, &rep, &rn, 10000);
    cr_assert_eq(rc, 0, "call of %zu bytes: %s", n, genie_strerror(rc));
    cr_assert_not_null(rep);
    cr_assert_eq(rn, n, "reply of %zu bytes for %zu", rn, n);
    cr_assert(n == 0 || memcmp(rep, req, n) == 0, "reply differs (%zu bytes)", n);
    free(rep);
}

/* Median round trip of a 64-byte message, in µs. */
static double rtt_us(proto_conn *c)
{
    enum { N = 400 };
    static double t[N];
    char msg[64];
    memset(msg, 'x', sizeof msg);
    for (int i = 0; i < 50; i++)
        echo_check(c, msg, sizeof msg);
    for (int i = 0; i < N; i++) {
        uint64_t t0 = genie_now_ns();
        echo_check(c, msg, sizeof msg);
        t[i] = (double)(genie_now_ns() - t0) / 1e3;
    }
    for (int i = 1; i < N; i++) /* insertion sort: small N */
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return t[N / 2];
}

static void wait_closed(int expect)
{
    uint64_t t0 = genie_now_ns();
    while (atomic_load(&n_close) < expect && ms_since(t0) < 3000 * SLACK)
        sleep_ms(5);
    cr_assert_eq(atomic_load(&n_close), expect, "close called %d times, expected %d",
                 atomic_load(&n_close), expect);
}

static void setup(void)
{
    genie_log_init();
    atomic_store(&n_open, 0);
    atomic_store(&n_close, 0);
    atomic_store(&n_handle, 0);
}

TestSuite(transport, .init = setup, .timeout = 30);

/* ---- echo ---- */
Test(transport, echo_unix)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    cr_assert_eq(proto_server_port(s), 0);
    proto_conn *c = connect_ok(target);
    echo_check(c, "hello", 5);
    uint64_t sent, recvd;
    proto_conn_bytes(c, &sent, &recvd);
    cr_assert_eq(sent, 5);
    cr_assert_eq(recvd, 5);
    fprintf(stderr, "transport: 64-byte round trip over unix: %.1f us (median)\n", rtt_us(c));
    proto_conn_close(c);
    wait_closed(1);
    proto_server_stop(s);
    cr_assert_eq(access(sock_path, F_OK), -1, "socket file left behind");
}

Test(transport, echo_tcp)
{
    char target[160];
    proto_server *s = start_tcp(target, sizeof target);
    proto_conn *c = connect_ok(target);
    echo_check(c, "hello", 5);
    fprintf(stderr, "transport: 64-byte round trip over TCP: %.1f us (median)\n", rtt_us(c));
    proto_conn_close(c);
    wait_closed(1);
    proto_server_stop(s);
}

Test(transport, stale_unix_socket_replaced)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    /* A second server on the same path replaces the socket file of the first. */
    proto_server_stop(s);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0); /* leave a stale socket file behind */
    struct sockaddr_un {
        sa_family_t f;
        char p[108];
    } sa = {AF_UNIX, {0}};
    strcpy(sa.p, sock_path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    s = start_unix(target, sizeof target);
    proto_conn *c = connect_ok(target);
    echo_check(c, "x", 1);
    proto_conn_close(c);
    proto_server_stop(s);
}

Test(transport, round_trips_in_order)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    proto_conn *c = connect_ok(target);
    for (uint32_t i = 0; i < 100; i++) {
        uint32_t v[4] = {i, i * 7, ~i, 0x5a5a5a5a};
        void *rep;
        size_t rn;
        cr_assert_eq(proto_conn_call(c, v, sizeof v, &rep, &rn, 5000), 0);
        cr_assert_eq(rn, sizeof v);
        cr_assert_eq(((uint32_t *)rep)[0], i, "reply %u out of order", i);
        free(rep);
    }
    proto_conn_close(c);
    proto_server_stop(s);
    cr_assert_eq(atomic_load(&n_handle), 100);
}

/* Sends without reading (proto_conn_sendv), then reads the replies (proto_conn_recv): each
 * comes back once, in order, byte for byte: small (copied), mid-size and 20 MiB (borrowed,
 * above the copy limit) requests, and one in two pieces. The caller's buffer is changed at
 * once after each send: what was sent must be what the server saw. */
static uint8_t *pattern(size_t n, uint32_t seed);
Test(transport, sends_ahead_of_their_replies)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    proto_conn *c = connect_ok(target);
    const size_t sizes[] = {16, 300u << 10, 20u << 20, 64, 5000};
    enum { N = sizeof sizes / sizeof sizes[0] };
    uint8_t *want[N];
    for (int i = 0; i < N; i++) {
        want[i] = pattern(sizes[i], (uint32_t)i + 7);
        uint8_t *buf = malloc(sizes[i]);
        memcpy(buf, want[i], sizes[i]);
        proto_iov iov[2] = {{buf, sizes[i] / 2}, {buf + sizes[i] / 2, sizes[i] - sizes[i] / 2}};
        if (i != 4) /* one piece */
            iov[0].n = sizes[i];
        cr_assert_eq(proto_conn_sendv(c, iov, i == 4 ? 2 : 1, 5000), 0, "send %d", i);
        memset(buf, 0xee, sizes[i]); /* the caller's again */
        free(buf);
    }
    for (int i = 0; i < N; i++) {
        void *rep;
        size_t rn;
        cr_assert_eq(proto_conn_recv(c, &rep, &rn, 20000), 0, "reply %d", i);
        cr_assert_eq(rn, sizes[i], "reply %d: %zu bytes", i, rn);
        cr_assert_eq(memcmp(rep, want[i], rn), 0, "reply %d differs", i);
        free(rep);
        free(want[i]);
    }
    /* and a plain call after them */
    echo_check(c, "after", 5);
    proto_conn_close(c);
    proto_server_stop(s);
}

/* ---- sizes ---- */
static uint8_t *pattern(size_t n, uint32_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    uint32_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    return p;
}

static void sizes_on(const char *kind, proto_server *s, const char *target)
{
    proto_conn *c = connect_ok(target);
    const size_t sizes[] = {0, 1, (4u << 20) - 16, 4u << 20, (4u << 20) + 1, 9u << 20};
    uint64_t want = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *p = pattern(sizes[i], (uint32_t)i + 1);
        echo_check(c, p, sizes[i]);
        want += sizes[i];
        free(p);
    }
    size_t big = 64u << 20;
    uint8_t *p = pattern(big, 99);
    echo_check(c, p, big); /* warm-up and byte-exact check */
    uint64_t t0 = genie_now_ns();
    echo_check(c, p, big);
    double ms = ms_since(t0);
    want += 2 * big;
    fprintf(stderr, "transport: 64 MiB echo over %s: %.1f ms, %.0f MB/s each way\n", kind, ms,
            (double)big / 1e6 / (ms / 1e3 / 2));
    free(p);
    uint64_t sent, recvd;
    proto_conn_bytes(c, &sent, &recvd);
    cr_assert_eq(sent, want);
    cr_assert_eq(recvd, want);
    proto_conn_close(c);
    proto_server_stop(s);
}

Test(transport, sizes_unix)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    sizes_on("unix", s, target);
}

/* The server keeps one receive buffer per session for big requests (>= 1 MiB): requests
 * that shrink, grow and shrink again must each arrive byte-exact. */
Test(transport, big_requests_of_changing_size)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    proto_conn *c = connect_ok(target);
    const size_t sizes[] = {9u << 20, 2u << 20, (9u << 20) + 3, 1u << 20, 5, (3u << 20) - 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *p = pattern(sizes[i], (uint32_t)i + 11);
        echo_check(c, p, sizes[i]);
        free(p);
    }
    proto_conn_close(c);
    wait_closed(1);
    proto_server_stop(s);
}

Test(transport, echo_256mib)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    proto_conn *c = connect_ok(target);
    size_t n = 256u << 20;
    uint8_t *p = pattern(n, 7);
    echo_check(c, p, n);
    free(p);
    proto_conn_close(c);
    proto_server_stop(s);
}

/* A message in pieces (big ones sent from their own memory, small ones copied, pieces
 * straddling chunk boundaries) arrives as their concatenation. */
Test(transport, pieces_arrive_concatenated)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    proto_conn *c = connect_ok(target);
    const size_t sizes[] = {40, 4095, 4096, (4u << 20) - 9, 3, 9u << 20, 0, 100000, 1};
    enum { N = sizeof sizes / sizeof sizes[0] };
    proto_iov iov[N];
    size_t total = 0;
    for (size_t i = 0; i < N; i++)
        total += sizes[i];
    uint8_t *all = pattern(total, 5), *p = all;
    for (size_t i = 0; i < N; i++) {
        /* each piece in its own allocation, as the shim's batch and the caller's buffer */
        uint8_t *q = malloc(sizes[i] ? sizes[i] : 1);
        memcpy(q, p, sizes[i]);
        iov[i] = (proto_iov){q, sizes[i]};
        p += sizes[i];
    }
    for (size_t k = 1; k <= N; k += N - 1) { /* the first piece alone, then all of them */
        size_t n = 0;
        for (size_t i = 0; i < k; i++)
            n += sizes[i];
        void *rep;
        size_t rn;
        cr_assert_eq(proto_conn_callv(c, iov, k, &rep, &rn, 10000), 0);
        cr_assert_eq(rn, n);
        cr_assert_eq(memcmp(rep, all, n), 0, "%zu pieces arrive in order", k);
        free(rep);
    }
    /* many small pieces in a big message: more pieces than slices in one chunk */
    enum { M = 200 };
    proto_iov many[M];
    for (size_t i = 0; i < M; i++)
        many[i] = (proto_iov){all + i * 1000, 1000};
    void *rep;
    size_t rn;
    cr_assert_eq(proto_conn_callv(c, many, M, &rep, &rn, 10000), 0);
    cr_assert_eq(rn, (size_t)M * 1000);
    cr_assert_eq(memcmp(rep, all, rn), 0);
    free(rep);
    for (size_t i = 0; i < N; i++)
        free((void *)iov[i].p);
    free(all);
    proto_conn_close(c);
    proto_server_stop(s);
}

/* A frame whose bulk data is spliced in from the caller's memory (the shim's path for
 * large H2D copies) parses on the server, where the checksum is computed while the chunks
 * are copied in; a bit flipped in the payload or in the records after the checksum was
 * taken (as a bad link would) is caught there. */
static int send_frame(proto_conn *c, const genie_buf *b, const proto_ext *ext, size_t next,
                      uint32_t *payload_crc)
{
    proto_iov iov[8];
    size_t n = proto_frame_iov(b, ext, next, iov);
    void *rep;
    size_t rn;
    cr_assert_eq(proto_conn_callv(c, iov, n, &rep, &rn, 10000), 0);
    int r[2];
    cr_assert_eq(rn, sizeof r);
    memcpy(r, rep, sizeof r);
    free(rep);
    *payload_crc = (uint32_t)r[1];
    return r[0];
}

static void spliced_frame_on(const char *target)
{
    proto_conn *c = connect_ok(target);
    size_t big_n = (9u << 20) + 5;
    uint8_t *big = pattern(big_n, 21);
    genie_buf b = {0};
    proto_ext ext[2];
    cr_assert_eq(proto_frame_begin(&b, PROTO_KIND_REQUEST, 3), 0);
    uint8_t *p = proto_rec_add(&b, 0x20, 12);
    memset(p, 1, 12);
    cr_assert_eq(proto_rec_splice(&b, PROTO_HDR_SIZE, big_n, &ext[0].at), 0);
    ext[0].p = big;
    ext[0].n = big_n;
    size_t rec = b.len;
    memset(proto_rec_add(&b, 0x20, 12), 2, 12);
    cr_assert_eq(proto_rec_splice(&b, rec, 3, &ext[1].at), 0);
    ext[1].p = "abc";
    ext[1].n = 3;
    memset(proto_rec_add(&b, 0x34, 4), 0, 4);
    proto_frame_end_ext(&b, ext, 2);

    /* what the payload's crc must be: the gathered frame, checked here */
    genie_buf flat = {0};
    proto_iov iov[8];
    size_t n = proto_frame_iov(&b, ext, 2, iov);
    for (size_t i = 0; i < n; i++)
        genie_buf_append(&flat, iov[i].p, iov[i].n);
    proto_frame f;
    cr_assert_eq(proto_frame_parse(flat.data, flat.len, 1ull << 32, &f), 0);
    uint32_t want = genie_crc32c(0, f.payload, f.length), got;

    cr_assert_eq(send_frame(c, &b, ext, 2, &got), 0, "the frame parses on the server");
    cr_assert_eq(got, want, "and holds the bytes sent");
    const size_t flips[] = {0, 1u << 20, big_n - 1};
    for (size_t i = 0; i < 3; i++) {
        big[flips[i]] ^= 0x04;
        cr_assert_eq(send_frame(c, &b, ext, 2, &got), GENIE_ECRC, "flip at %zu", flips[i]);
        big[flips[i]] ^= 0x04;
    }
    b.data[PROTO_HDR_SIZE + 9] ^= 0x80; /* in the first record's fixed fields */
    cr_assert_eq(send_frame(c, &b, ext, 2, &got), GENIE_ECRC);
    b.data[PROTO_HDR_SIZE + 9] ^= 0x80;
    cr_assert_eq(send_frame(c, &b, ext, 2, &got), 0, "the session goes on");
    genie_buf_free(&flat);
    genie_buf_free(&b);
    free(big);
    proto_conn_close(c);
}

Test(transport, spliced_frame_checked_on_the_server_unix)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    spliced_frame_on(target);
    proto_server_stop(s);
}

Test(transport, spliced_frame_checked_on_the_server_tcp)
{
    char target[160];
    proto_server *s = start_tcp(target, sizeof target);
    spliced_frame_on(target);
    proto_server_stop(s);
}

Test(transport, timeout_mid_send_releases_buffer)
{
    char target[160];
    proto_server *s = start_tcp(target, sizeof target);
    proto_conn *c = connect_ok(target);
    size_t n = 256u << 20;
    uint8_t *p = pattern(n, 3);
    void *rep;
    size_t rn;
    uint64_t t0 = genie_now_ns();
    int rc = proto_conn_call(c, p, n, &rep, &rn, 20); /* far too short for 256 MiB */
    double ms = ms_since(t0);
    cr_assert_eq(rc, GENIE_ETIMEOUT, "rc %d", rc);
    cr_assert_lt(ms, 1000 * SLACK, "returned after %.0f ms", ms);
    /* gRPC must hold no reference into p now: ASan catches it if it does. */
    memset(p, 0, n);
    free(p);
    proto_conn_close(c);
    wait_closed(1);
    proto_server_stop(s);
}

/* ---- replies kept for reuse: the client's (proto_conn_reply_free) and the server's
 * (proto_handler.reply_done) ---- */

/* Big replies given back land in one kept buffer: byte-exact whatever the size order, the
 * same memory while it is big enough, and free() of a reply stays allowed. */
Test(transport, big_replies_given_back_land_in_one_buffer)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    proto_conn *c = connect_ok(target);
    /* same: the reply must land in the buffer the last big reply given back left */
    const struct {
        size_t n;
        int same, give_back;
    } steps[] = {{3u << 20, 0, 1}, {2u << 20, 1, 1}, {5, 0, 1},  {(3u << 20) - 7, 1, 1},
                 {(3u << 20) + 3, 0, 1}, {1u << 20, 1, 0}, {4u << 20, 0, 1}, {3u << 20, 1, 1}};
    void *kept = NULL;
    uint64_t t_back = 0; /* when kept was given back */
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        uint8_t *p = pattern(steps[i].n, (uint32_t)i + 5);
        void *rep;
        size_t rn;
        cr_assert_eq(proto_conn_call(c, p, steps[i].n, &rep, &rn, 10000), 0);
        cr_assert_eq(rn, steps[i].n);
        cr_assert(memcmp(rep, p, rn) == 0, "reply %zu differs", i);
        /* A kept buffer idle for 2 s is released (PROTO_REUSE_IDLE_NS): only a reply that
         * came back sooner must be in it (a stalled, loaded machine may take longer). */
        if (steps[i].same && genie_now_ns() - t_back < 2000000000ull)
            cr_assert_eq(rep, kept, "reply %zu (%zu bytes) not in the kept buffer", i, rn);
        free(p);
        if (steps[i].give_back) {
            if (rn >= 1u << 20) {
                kept = rep;
                t_back = genie_now_ns();
            }
            proto_conn_reply_free(c, rep);
        } else {
            free(rep); /* allowed: nothing is kept */
            kept = NULL;
        }
    }
    proto_conn_close(c); /* frees the kept buffer (LeakSanitizer checks) */
    proto_server_stop(s);
}

/* The server side: a handler with reply_done gets each reply back before its next request,
 * and before close even when the send failed (the client gave up mid-reply). */
static atomic_int rd_out, rd_back, rd_bad;
static void *_Atomic rd_last;

static int rd_handle(void *session, const void *req, size_t n, void **reply, size_t *reply_n)
{
    if (atomic_load(&rd_out) != atomic_load(&rd_back))
        atomic_fetch_add(&rd_bad, 1); /* the previous reply did not come back first */
    int r = 0;
    if (n == 3 && !memcmp(req, "BIG", 3)) {
        *reply_n = 256u << 20;
        *reply = malloc(*reply_n);
        memset(*reply, 0x77, *reply_n);
    } else {
        r = h_handle(session, req, n, reply, reply_n);
    }
    atomic_store(&rd_last, *reply);
    atomic_fetch_add(&rd_out, 1);
    return r;
}

static void rd_done(void *session, void *reply)
{
    (void)session;
    if (reply != atomic_load(&rd_last))
        atomic_fetch_add(&rd_bad, 1);
    /* gRPC must hold no reference into it now: ASan sees a read after this free */
    memset(reply, 0, 1);
    free(reply);
    atomic_fetch_add(&rd_back, 1);
}

static void rd_close(void *session)
{
    if (atomic_load(&rd_out) != atomic_load(&rd_back))
        atomic_fetch_add(&rd_bad, 1); /* a reply still out at close */
    h_close(session);
}

static const proto_handler rd_handler = {
    .open = h_open, .handle = rd_handle, .close = rd_close, .reply_done = rd_done};

static proto_server *start_rd(char *target, size_t n)
{
    atomic_store(&rd_out, 0);
    atomic_store(&rd_back, 0);
    atomic_store(&rd_bad, 0);
    proto_server *s;
    char err[256];
    cr_assert_eq(proto_server_start("127.0.0.1:0", &rd_handler, &s, err, sizeof err), 0, "%s",
                 err);
    snprintf(target, n, "127.0.0.1:%d", proto_server_port(s));
    return s;
}

Test(transport, reply_done_gets_each_reply_back_in_order)
{
    char target[160];
    proto_server *s = start_rd(target, sizeof target);
    proto_conn *c = connect_ok(target);
    const size_t sizes[] = {10, 3u << 20, 0, 70000, 9u << 20, 64};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *p = pattern(sizes[i], (uint32_t)i + 9);
        echo_check(c, p, sizes[i]);
        free(p);
    }
    echo_check(c, "BYE", 3); /* the last reply, after which the handler ends the stream */
    proto_conn_close(c);
    wait_closed(1);
    cr_assert_eq(atomic_load(&rd_out), 7);
    cr_assert_eq(atomic_load(&rd_back), 7);
    cr_assert_eq(atomic_load(&rd_bad), 0);
    proto_server_stop(s);
}

Test(transport, reply_done_after_a_failed_send)
{
    char target[160];
    proto_server *s = start_rd(target, sizeof target);
    proto_conn *c = connect_ok(target);
    echo_check(c, "hi", 2);
    void *rep;
    size_t rn;
    /* 20 ms is far too short for a 256 MiB reply: the client gives up and cancels */
    int rc = proto_conn_call(c, "BIG", 3, &rep, &rn, 20);
    cr_assert_eq(rc, GENIE_ETIMEOUT, "rc %d", rc);
    proto_conn_close(c);
    wait_closed(1);
    cr_assert_eq(atomic_load(&rd_out), atomic_load(&rd_back), "%d replies out, %d back",
                 atomic_load(&rd_out), atomic_load(&rd_back));
    cr_assert_eq(atomic_load(&rd_bad), 0);
    proto_server_stop(s);
}

Test(transport, sizes_tcp)
{
    char target[160];
    proto_server *s = start_tcp(target, sizeof target);
    sizes_on("TCP", s, target);
}

Test(transport, too_big_is_refused_locally)
{
    setenv("GENIE_MAX_MESSAGE_BYTES", "1000000", 1);
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    proto_conn *c = connect_ok(target);
    uint8_t *p = pattern(2000000, 5);
    void *rep;
    size_t rn;
    cr_assert_eq(proto_conn_call(c, p, 2000000, &rep, &rn, 5000), GENIE_ETOOBIG);
    echo_check(c, p, 1000000); /* still usable */
    free(p);
    proto_conn_close(c);
    proto_server_stop(s);
}

/* ---- concurrency ---- */
typedef struct slow_arg {
    const char *target;
    int rc;
    double ms;
} slow_arg;

static void *slow_client(void *arg)
{
    slow_arg *a = arg;
    proto_conn *c = connect_ok(a->target);
    void *rep;
    size_t rn;
    uint64_t t0 = genie_now_ns();
    char cmd[32];
    sleep_cmd(cmd, sizeof cmd, 1500);
    a->rc = proto_conn_call(c, cmd, strlen(cmd), &rep, &rn, 5000 * SLACK);
    a->ms = ms_since(t0);
    if (!a->rc)
        free(rep);
    proto_conn_close(c);
    return NULL;
}

Test(transport, slow_session_does_not_block_others)
{
    char target[160];
    proto_server *s = start_tcp(target, sizeof target);
    proto_conn *c = connect_ok(target); /* open before the slow one holds its handler */
    slow_arg a = {target, -1, 0};
    pthread_t t;
    pthread_create(&t, NULL, slow_client, &a);
    while (atomic_load(&n_handle) == 0)
        sleep_ms(1);
    uint64_t t0 = genie_now_ns();
    for (int i = 0; i < 50; i++)
        echo_check(c, "quick", 5);
    double ms = ms_since(t0);
    cr_assert_lt(ms, 500 * SLACK, "50 round trips took %.0f ms next to a slow session", ms);
    pthread_join(t, NULL);
    cr_assert_eq(a.rc, 0);
    cr_assert_geq(a.ms, 1400 * SLACK);
    proto_conn_close(c);
    wait_closed(2);
    proto_server_stop(s);
}

/* Session threads do the server's polling; while the only session sits in a handler, the
 * backup poller must still accept and serve a new client promptly. */
Test(transport, new_client_while_only_session_is_busy)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    slow_arg a = {target, -1, 0};
    pthread_t t;
    pthread_create(&t, NULL, slow_client, &a);
    while (atomic_load(&n_handle) == 0)
        sleep_ms(1);
    uint64_t t0 = genie_now_ns();
    proto_conn *c = connect_ok(target);
    for (int i = 0; i < 20; i++)
        echo_check(c, "quick", 5);
    double ms = ms_since(t0);
    cr_assert_lt(ms, 500 * SLACK, "connect + 20 round trips took %.0f ms beside a busy session",
                 ms);
    proto_conn_close(c);
    pthread_join(t, NULL);
    cr_assert_eq(a.rc, 0);
    wait_closed(2);
    proto_server_stop(s);
}

/* ---- failures ---- */
static void expect_connect_fail(const char *target)
{
    proto_conn *c = NULL;
    char err[256] = "";
    uint64_t t0 = genie_now_ns();
    int rc = proto_conn_open(target, 2000, &c, err, sizeof err);
    double ms = ms_since(t0);
    cr_assert(rc == GENIE_ECONNECT || rc == GENIE_ETIMEOUT, "rc %d", rc);
    cr_assert_null(c);
    cr_assert(strstr(err, target), "reason lacks the target: %s", err);
    cr_assert_lt(ms, 2500, "took %.0f ms", ms);
    fprintf(stderr, "transport: expected failure: %s\n", err);
}

Test(transport, connect_missing_unix_socket)
{
    expect_connect_fail("unix:/tmp/genie-tr-no-such.sock");
}

Test(transport, connect_closed_port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd); /* a port that was free a moment ago and has no listener now */
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", ntohs(sa.sin_port));
    expect_connect_fail(target);
}

typedef struct stop_arg {
    proto_server *s;
    int delay_ms;
} stop_arg;

static void *stopper(void *arg)
{
    stop_arg *a = arg;
    sleep_ms(a->delay_ms);
    proto_server_stop(a->s);
    return NULL;
}

Test(transport, server_stop_while_client_waits)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    proto_conn *c = connect_ok(target);
    stop_arg a = {s, 200};
    pthread_t t;
    pthread_create(&t, NULL, stopper, &a);
    void *rep;
    size_t rn;
    uint64_t t0 = genie_now_ns();
    char cmd[32];
    sleep_cmd(cmd, sizeof cmd, 1000);
    int rc = proto_conn_call(c, cmd, strlen(cmd), &rep, &rn, 5000 * SLACK);
    double ms = ms_since(t0);
    cr_assert(rc == GENIE_ECLOSED || rc == GENIE_EIO, "rc %d (%s)", rc, genie_strerror(rc));
    cr_assert_lt(ms, 900 * SLACK, "the client waited %.0f ms for a stopped server", ms);
    /* Dead connection: later calls fail at once. */
    cr_assert_eq(proto_conn_call(c, "x", 1, &rep, &rn, 5000), GENIE_ECLOSED);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&n_close), 1);
    proto_conn_close(c);
}

Test(transport, hanging_handler_times_out)
{
    char target[160];
    proto_server *s = start_tcp(target, sizeof target);
    proto_conn *c = connect_ok(target);
    void *rep;
    size_t rn;
    uint64_t t0 = genie_now_ns();
    char cmd[32];
    sleep_cmd(cmd, sizeof cmd, 1500);
    int rc = proto_conn_call(c, cmd, strlen(cmd), &rep, &rn, 300);
    double ms = ms_since(t0);
    cr_assert_eq(rc, GENIE_ETIMEOUT, "rc %d", rc);
    cr_assert(ms >= 290 && ms < 800 * SLACK, "timed out after %.0f ms", ms);
    cr_assert_eq(proto_conn_call(c, "x", 1, &rep, &rn, 5000), GENIE_ECLOSED);
    proto_conn_close(c);
    /* Another client is served while that handler still sleeps. */
    proto_conn *c2 = connect_ok(target);
    echo_check(c2, "still here", 10);
    proto_conn_close(c2);
    wait_closed(2);
    proto_server_stop(s);
}

Test(transport, handler_ends_stream)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    proto_conn *c = connect_ok(target);
    echo_check(c, "BYE", 3); /* the reply still arrives */
    void *rep;
    size_t rn;
    int rc = proto_conn_call(c, "x", 1, &rep, &rn, 2000);
    cr_assert(rc == GENIE_ECLOSED, "rc %d", rc);
    proto_conn_close(c);
    wait_closed(1);
    proto_server_stop(s);
}

Test(transport, close_called_for_each_session)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    proto_conn *c[5];
    for (int i = 0; i < 5; i++) {
        c[i] = connect_ok(target);
        echo_check(c[i], "hi", 2);
    }
    for (int i = 0; i < 3; i++)
        proto_conn_close(c[i]);
    wait_closed(3);
    proto_server_stop(s); /* the two still open are ended by the server */
    cr_assert_eq(atomic_load(&n_open), 5);
    cr_assert_eq(atomic_load(&n_close), 5);
    void *rep;
    size_t rn;
    cr_assert_neq(proto_conn_call(c[3], "x", 1, &rep, &rn, 2000), 0);
    proto_conn_close(c[3]);
    proto_conn_close(c[4]);
}

/* ---- a misbehaving client, speaking raw gRPC ---- */
typedef struct raw_client {
    grpc_channel *ch;
    grpc_completion_queue *cq;
    grpc_call *call;
} raw_client;

static void raw_op(raw_client *r, grpc_op *ops, size_t n)
{
    char tag;
    cr_assert_eq(grpc_call_start_batch(r->call, ops, n, &tag, NULL), GRPC_CALL_OK);
    grpc_completion_queue_pluck(r->cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
}

/* Sends the given gRPC messages and returns the final status code of the stream. */
static grpc_status_code raw_session(const char *target, const void *const *msgs,
                                    const size_t *lens, int n)
{
    raw_client r;
    grpc_channel_credentials *cr = grpc_insecure_credentials_create();
    r.ch = grpc_channel_create(target, cr, NULL);
    grpc_channel_credentials_release(cr);
    r.cq = grpc_completion_queue_create_for_pluck(NULL);
    r.call = grpc_channel_create_call(r.ch, NULL, 0, r.cq,
                                      grpc_slice_from_static_string("/genie.Remote/Session"),
                                      NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_op op[2];
    memset(op, 0, sizeof op);
    op[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    raw_op(&r, op, 1);
    for (int i = 0; i < n; i++) {
        grpc_slice sl = grpc_slice_from_copied_buffer(msgs[i], lens[i]);
        grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&sl, 1);
        grpc_slice_unref(sl);
        memset(op, 0, sizeof op);
        op[0].op = GRPC_OP_SEND_MESSAGE;
        op[0].data.send_message.send_message = bb;
        raw_op(&r, op, 1);
        grpc_byte_buffer_destroy(bb);
    }
    grpc_status_code code;
    grpc_slice details;
    grpc_metadata_array md, imd;
    grpc_metadata_array_init(&md);
    grpc_metadata_array_init(&imd);
    memset(op, 0, sizeof op);
    op[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op[0].data.recv_status_on_client.status = &code;
    op[0].data.recv_status_on_client.status_details = &details;
    op[0].data.recv_status_on_client.trailing_metadata = &md;
    op[1].op = GRPC_OP_RECV_INITIAL_METADATA; /* gRPC holds the status back until this is read */
    op[1].data.recv_initial_metadata.recv_initial_metadata = &imd;
    raw_op(&r, op, 2);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&md);
    grpc_metadata_array_destroy(&imd);
    grpc_call_unref(r.call);
    grpc_channel_destroy(r.ch);
    grpc_completion_queue_shutdown(r.cq);
    while (grpc_completion_queue_pluck(r.cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(r.cq);
    return code;
}

static void put_hdr(uint8_t *h, uint64_t total)
{
    memset(h, 0, 16);
    uint32_t magic = 0x31434e47u; /* "GNC1", little-endian on the wire */
    for (int i = 0; i < 4; i++)
        h[i] = (uint8_t)(magic >> (8 * i));
    for (int i = 0; i < 8; i++)
        h[8 + i] = (uint8_t)(total >> (8 * i));
}

Test(transport, malformed_chunks_end_only_that_stream)
{
    grpc_init();
    char target[160];
    proto_server *s = start_tcp(target, sizeof target);
    proto_conn *good = connect_ok(target);

    uint8_t huge[16];
    put_hdr(huge, 1ull << 40);
    const void *m1[] = {huge};
    size_t l1[] = {16};
    cr_assert_neq(raw_session(target, m1, l1, 1), GRPC_STATUS_OK);

    uint8_t over[16 + 20];
    put_hdr(over, 10); /* announces 10 bytes, carries 20 */
    const void *m2[] = {over};
    size_t l2[] = {sizeof over};
    cr_assert_eq(raw_session(target, m2, l2, 1), GRPC_STATUS_INVALID_ARGUMENT);

    uint8_t part[16 + 4], extra[8] = {0};
    put_hdr(part, 8); /* announces 8, sends 4 then 8 more */
    const void *m3[] = {part, extra};
    size_t l3[] = {sizeof part, sizeof extra};
    cr_assert_eq(raw_session(target, m3, l3, 2), GRPC_STATUS_INVALID_ARGUMENT);

    const char junk[] = "not a genie chunk at all";
    const void *m4[] = {junk};
    size_t l4[] = {sizeof junk};
    cr_assert_eq(raw_session(target, m4, l4, 1), GRPC_STATUS_INVALID_ARGUMENT);

    echo_check(good, "still serving", 13);
    proto_conn_close(good);
    wait_closed(5);
    proto_server_stop(s);
    grpc_shutdown();
}

/* ---- a handler's own memory for big requests (proto_handler.req_buf) ---- */
static uint8_t *rb_mem;
static size_t rb_cap;
static atomic_int rb_asked, rb_used, rb_bad;

static void *rb_req_buf(void *session, size_t n)
{
    (void)session;
    atomic_fetch_add(&rb_asked, 1);
    if (n < (1u << 20))
        atomic_fetch_add(&rb_bad, 1); /* small requests are never asked for */
    if (rb_cap < n) {
        free(rb_mem);
        rb_mem = malloc(n);
        rb_cap = n;
    }
    memset(rb_mem, 0xee, n); /* every byte must then come from the wire */
    return rb_mem;
}

static int rb_handle(void *session, const void *req, size_t n, void **reply, size_t *reply_n)
{
    if (req == rb_mem && rb_mem)
        atomic_fetch_add(&rb_used, 1);
    else if (n >= (1u << 20))
        atomic_fetch_add(&rb_bad, 1); /* a big request not in the handler's memory */
    return h_handle(session, req, n, reply, reply_n);
}

static const proto_handler rb_handler = {
    .open = h_open, .handle = rb_handle, .close = h_close, .req_buf = rb_req_buf};

Test(transport, big_requests_land_in_the_handlers_memory)
{
    atomic_store(&rb_asked, 0);
    atomic_store(&rb_used, 0);
    atomic_store(&rb_bad, 0);
    proto_server *s;
    char err[256], target[160];
    snprintf(sock_path, sizeof sock_path, "/tmp/genie-tr-rb-%d.sock", (int)getpid());
    snprintf(target, sizeof target, "unix:%s", sock_path);
    cr_assert_eq(proto_server_start(target, &rb_handler, &s, err, sizeof err), 0, "%s", err);
    proto_conn *c = connect_ok(target);
    const size_t sizes[] = {100, 1u << 20, (4u << 20) + 5, 70000, 9u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *p = pattern(sizes[i], (uint32_t)i + 21);
        echo_check(c, p, sizes[i]); /* byte-exact through the handler's memory */
        free(p);
    }
    /* a big frame: the handler sees the checksum noted as it came in */
    genie_buf b = {0};
    cr_assert_eq(proto_frame_begin(&b, PROTO_KIND_REQUEST, 1), 0);
    uint8_t *d = proto_put_MEMCPY_H2D(&b, 0x1000, 0, 3u << 20);
    cr_assert_not_null(d);
    memset(d, 0x42, 3u << 20);
    proto_frame_end(&b);
    void *rep;
    size_t rn;
    cr_assert_eq(proto_conn_call(c, b.data, b.len, &rep, &rn, 10000), 0);
    cr_assert_eq(rn, 2 * sizeof(int));
    int r[2];
    memcpy(r, rep, sizeof r);
    cr_assert_eq(r[0], 0, "the frame parsed in the handler's memory");
    free(rep);
    genie_buf_free(&b);
    proto_conn_close(c);
    proto_server_stop(s);
    cr_assert_eq(atomic_load(&rb_asked), 4);
    cr_assert_eq(atomic_load(&rb_used), 4);
    cr_assert_eq(atomic_load(&rb_bad), 0);
    free(rb_mem);
    rb_mem = NULL;
    rb_cap = 0;
}

/* ---- a reply's bulk placed by the caller (proto_conn_callv_land) ---- */
typedef struct land_ud {
    uint64_t off, len;
    void *dst;
    int calls;
    uint64_t total;
    const uint8_t *want_head;
} land_ud;

static int test_land(void *ud, const void *head, size_t head_n, uint64_t total, proto_land_at *at)
{
    land_ud *u = ud;
    u->calls++;
    u->total = total;
    cr_assert_gt(head_n, 0);
    cr_assert_eq(memcmp(head, u->want_head, head_n < 16 ? head_n : 16), 0, "the reply's start");
    if (!u->dst)
        return 0;
    *at = (proto_land_at){u->off, u->len, u->dst};
    return 1;
}

static void land_on(const char *target)
{
    proto_conn *c = connect_ok(target);
    size_t n = (9u << 20) + 77;
    uint8_t *p = pattern(n, 5);
    /* bytes across chunk boundaries (4 MiB) go to dst; the rest into the reply */
    land_ud u = {.off = (3u << 20) + 3, .len = (5u << 20) + 11, .want_head = p};
    u.dst = malloc(u.len);
    memset(u.dst, 0, u.len);
    proto_land land = {.fn = test_land, .ud = &u};
    proto_iov one = {p, n};
    void *rep;
    size_t rn;
    cr_assert_eq(proto_conn_callv_land(c, &one, 1, &land, &rep, &rn, 10000), 0);
    cr_assert_eq(rn, n);
    cr_assert_eq(u.calls, 1);
    cr_assert_eq(u.total, n);
    cr_assert_eq(land.landed, 1);
    cr_assert(memcmp(u.dst, p + u.off, u.len) == 0, "the placed bytes");
    cr_assert(memcmp(rep, p, u.off) == 0, "the bytes before them");
    cr_assert(memcmp((uint8_t *)rep + u.off + u.len, p + u.off + u.len, n - u.off - u.len) == 0,
              "the bytes after them");
    /* the checksum of the whole message, placed bytes included, in frame order */
    proto_crc_acc acc = {0, 0};
    proto_frame_crc_update(&acc, p, n);
    cr_assert_eq(land.crc_set, 1);
    cr_assert_eq(land.crc, acc.crc);
    proto_conn_reply_free(c, rep);
    /* declined: all of it in the reply; small replies are not offered */
    free(u.dst);
    u = (land_ud){.want_head = p};
    land = (proto_land){.fn = test_land, .ud = &u};
    cr_assert_eq(proto_conn_callv_land(c, &one, 1, &land, &rep, &rn, 10000), 0);
    cr_assert_eq(u.calls, 1);
    cr_assert_eq(land.landed, 0);
    cr_assert(rn == n && memcmp(rep, p, n) == 0);
    proto_conn_reply_free(c, rep);
    /* a reply taken apart from its request (proto_conn_recv_land) lands the same way */
    u = (land_ud){.off = 100, .len = (4u << 20) + 1, .want_head = p};
    u.dst = calloc(1, u.len);
    land = (proto_land){.fn = test_land, .ud = &u};
    cr_assert_eq(proto_conn_sendv(c, &one, 1, 10000), 0);
    cr_assert_eq(proto_conn_recv_land(c, &land, &rep, &rn, 10000), 0);
    cr_assert(rn == n && land.landed && land.crc_set && land.crc == acc.crc);
    cr_assert(memcmp(u.dst, p + 100, u.len) == 0 && memcmp(rep, p, 100) == 0);
    cr_assert(memcmp((uint8_t *)rep + 100 + u.len, p + 100 + u.len, n - 100 - u.len) == 0);
    proto_conn_reply_free(c, rep);
    free(u.dst);
    u = (land_ud){.want_head = p};
    land = (proto_land){.fn = test_land, .ud = &u};
    one.n = 1000;
    cr_assert_eq(proto_conn_callv_land(c, &one, 1, &land, &rep, &rn, 10000), 0);
    cr_assert_eq(u.calls, 0, "a small reply is not offered");
    cr_assert(rn == 1000 && memcmp(rep, p, 1000) == 0);
    proto_conn_reply_free(c, rep);
    free(p);
    proto_conn_close(c);
}

Test(transport, reply_bytes_land_where_the_caller_says_unix)
{
    char target[160];
    proto_server *s = start_unix(target, sizeof target);
    land_on(target);
    proto_server_stop(s);
}

Test(transport, reply_bytes_land_where_the_caller_says_tcp)
{
    char target[160];
    proto_server *s = start_tcp(target, sizeof target);
    land_on(target);
    proto_server_stop(s);
}
