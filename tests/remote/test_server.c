/* test_server.c — genie-remote end to end: a child process on a unix socket, clients through the
 * real transport. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "protocol/gen/ops.h"
#include "protocol/session.h"
#include "protocol/transport.h"

static pid_t server = -1;
static char sock_path[108], target[128], port_file[128];
static const char *server_log; /* where a spawned genie-remote writes (NULL: inherited) */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs genie-remote with args (quiet: output to /dev/null); returns its pid. */
static pid_t spawn_q(char *const argv[], int quiet)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (quiet) {
            freopen("/dev/null", "w", stdout);
            freopen("/dev/null", "w", stderr);
        } else if (server_log) {
            freopen(server_log, "w", stderr);
        }
        setenv("GENIE_CUDA_LIB", FAKEGPU_LIB, 1);
        setenv("GENIE_VA_SIZE", "1073741824", 1);
        unsetenv("GENIE_TOKEN");
        execv(GENIE_REMOTE_BIN, argv);
        _exit(127);
    }
    return pid;
}
static pid_t spawn(char *const argv[])
{
    return spawn_q(argv, 0);
}

/* Exit status of pid, waiting at most ms; -1 on timeout. */
static int wait_exit(pid_t pid, int ms)
{
    int st;
    for (int t = 0; t < ms; t += 10) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        sleep_ms(10);
    }
    return -1;
}

/* genie-remote on a unix socket with token "secret" and the extra arguments (NULL-ended). */
static void start_server_with(char *const *extra)
{
    snprintf(sock_path, sizeof sock_path, "/tmp/genie-rmt-%d.sock", (int)getpid());
    snprintf(target, sizeof target, "unix:%s", sock_path);
    snprintf(port_file, sizeof port_file, "/tmp/genie-rmt-%d.port", (int)getpid());
    unlink(port_file);
    char *argv[32] = {"genie-remote", "--listen",    target,    "--token",
                      "secret",       "--port-file", port_file};
    int n = 7;
    for (; extra && *extra && n < 31; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    server = spawn(argv);
    struct stat st;
    for (int t = 0; t < 10000 && stat(port_file, &st) != 0; t += 10) {
        cr_assert_eq(waitpid(server, NULL, WNOHANG), 0, "genie-remote died at start");
        sleep_ms(10);
    }
    cr_assert_eq(stat(port_file, &st), 0, "genie-remote did not come up");
}

static void start_server(void)
{
    start_server_with(NULL);
}

static void stop_server(void)
{
    if (server > 0) {
        kill(server, SIGTERM);
        int rc = wait_exit(server, 10000);
        if (rc == -1) {
            kill(server, SIGKILL);
            waitpid(server, NULL, 0);
        }
        server = -1;
        unlink(port_file);
        cr_assert_eq(rc, 0, "genie-remote did not stop cleanly on SIGTERM (status %d)", rc);
    }
}

/* ---- one client ---- */

typedef struct call {
    int rc;
    int n;
    proto_rec recs[16];
    void *raw;
} call;

static void send_frame(proto_conn *c, genie_buf *b, call *out)
{
    proto_frame_end(b);
    size_t rn = 0;
    memset(out, 0, sizeof *out);
    out->rc = proto_conn_call(c, b->data, b->len, &out->raw, &rn, 10000);
    if (out->rc)
        return;
    proto_frame f;
    cr_assert_eq(proto_frame_parse(out->raw, rn, proto_max_message(), &f), 0);
    proto_iter it;
    proto_iter_init(&it, &f);
    while (out->n < 16 && proto_iter_next(&it, &out->recs[out->n]) == 1)
        out->n++;
}

static proto_conn *connect_to(void)
{
    proto_conn *c;
    char err[256] = "";
    int rc = proto_conn_open(target, 5000, &c, err, sizeof err);
    cr_assert_eq(rc, 0, "connect: %s", err);
    return c;
}

/* HELLO with token; returns the R_HELLO (devinfo not kept) or fails the test. */
static proto_R_HELLO hello(proto_conn *c, const char *token, call *r)
{
    genie_buf b = {0};
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 1);
    memcpy(proto_put_HELLO(&b, (uint64_t)getpid(), PROTO_SESSION_VERSION, 0, strlen(token)), token,
           strlen(token));
    send_frame(c, &b, r);
    genie_buf_free(&b);
    proto_R_HELLO h = {0};
    if (!r->rc && r->n == 1 && r->recs[0].op == PROTO_OP_R_HELLO)
        proto_get_R_HELLO(&r->recs[0], &h);
    return h;
}

static void ping(proto_conn *c, uint64_t nonce)
{
    genie_buf b = {0};
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 2);
    proto_put_PING(&b, nonce);
    call r;
    send_frame(c, &b, &r);
    genie_buf_free(&b);
    cr_assert_eq(r.rc, 0, "PING: %s", genie_strerror(r.rc));
    cr_assert_eq(r.n, 1);
    proto_R_PONG p;
    cr_assert_eq(proto_get_R_PONG(&r.recs[0], &p), 0);
    cr_assert_eq(p.nonce, nonce);
    free(r.raw);
}

/* A client that says HELLO, maps and writes memory, then dies without a word. */
static void vanishing_client(void)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        proto_conn *c;
        char err[256];
        if (proto_conn_open(target, 5000, &c, err, sizeof err))
            _exit(1);
        call r;
        proto_R_HELLO h = hello(c, "secret", &r);
        if (r.rc || !h.va_base)
            _exit(2);
        genie_buf b = {0};
        proto_frame_begin(&b, PROTO_KIND_REQUEST, 2);
        proto_put_MEM_MAP(&b, h.va_base, 4u << 20);
        memset(proto_put_MEMCPY_H2D(&b, h.va_base, 0, 4096), 1, 4096);
        proto_put_STREAM_CREATE(&b, 16, 0, 0);
        send_frame(c, &b, &r);
        if (r.rc || r.n != 0)
            _exit(3);
        kill(getpid(), SIGKILL); /* vanish: no stream close, no goodbye */
        _exit(4);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
              "vanishing client failed early (status 0x%x)", st);
}

Test(server, serves_and_survives, .fini = stop_server, .timeout = 60)
{
    start_server();
    /* Before this process touches gRPC: forking after would not be safe. */
    vanishing_client();
    sleep_ms(100);
    cr_assert_eq(waitpid(server, NULL, WNOHANG), 0, "genie-remote died with the vanished client");

    proto_conn *c = connect_to();
    call r;
    proto_R_HELLO h = hello(c, "secret", &r);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.recs[0].op, PROTO_OP_R_HELLO);
    cr_assert_eq(h.ndevices, 1);
    cr_assert_gt(h.session, 1, "the vanished client was session 1");
    cr_assert_eq(h.devinfo_len, sizeof(proto_devinfo));
    free(r.raw);
    ping(c, 12345);

    /* A wrong token: refused, and the server ends that stream. */
    proto_conn *bad = connect_to();
    hello(bad, "wrong", &r);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.n, 1);
    proto_R_ERROR e;
    cr_assert_eq(r.recs[0].op, PROTO_OP_R_ERROR);
    cr_assert_eq(proto_get_R_ERROR(&r.recs[0], &e), 0);
    char msg[256] = "";
    memcpy(msg, e.msg, e.msg_len < sizeof msg - 1 ? e.msg_len : sizeof msg - 1);
    cr_assert(strstr(msg, "authentication"), "message: %s", msg);
    free(r.raw);
    genie_buf b = {0};
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 3);
    proto_put_PING(&b, 1);
    send_frame(bad, &b, &r);
    genie_buf_free(&b);
    cr_assert_neq(r.rc, 0, "the refused stream should be closed");
    proto_conn_close(bad);

    /* The good session is unaffected; a new one works too. */
    ping(c, 777);
    proto_conn *c2 = connect_to();
    hello(c2, "secret", &r);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.recs[0].op, PROTO_OP_R_HELLO);
    free(r.raw);
    ping(c2, 3);
    proto_conn_close(c2);
    proto_conn_close(c);
}

Test(server, stops_with_live_sessions, .fini = stop_server, .timeout = 60)
{
    start_server();
    proto_conn *c = connect_to();
    call r;
    hello(c, "secret", &r);
    cr_assert_eq(r.rc, 0);
    free(r.raw);
    kill(server, SIGTERM);
    int rc = wait_exit(server, 10000);
    server = -1;
    cr_assert_eq(rc, 0, "exit status %d", rc);
    proto_conn_close(c);
}

Test(server, command_line, .timeout = 30)
{
    char *bad_opt[] = {"genie-remote", "--bogus", NULL};
    cr_assert_eq(wait_exit(spawn_q(bad_opt, 1), 5000), 2);
    char *no_arg[] = {"genie-remote", "--listen", NULL};
    cr_assert_eq(wait_exit(spawn_q(no_arg, 1), 5000), 2);
    char *bad_addr[] = {"genie-remote", "--listen", "unix:/nonexistent-dir/x.sock", NULL};
    cr_assert_eq(wait_exit(spawn_q(bad_addr, 1), 10000), 2);
    char *version[] = {"genie-remote", "--version", NULL};
    cr_assert_eq(wait_exit(spawn_q(version, 1), 5000), 0);
    char *help[] = {"genie-remote", "--help", NULL};
    cr_assert_eq(wait_exit(spawn_q(help, 1), 5000), 0);
}

Test(server, tcp_port_zero_and_port_file, .timeout = 60)
{
    snprintf(port_file, sizeof port_file, "/tmp/genie-rmt-%d.port", (int)getpid());
    unlink(port_file);
    char *argv[] = {"genie-remote", "--listen", "127.0.0.1:0", "--port-file", port_file, NULL};
    server = spawn(argv);
    FILE *f = NULL;
    for (int t = 0; t < 10000 && !(f = fopen(port_file, "r")); t += 10)
        sleep_ms(10);
    cr_assert_not_null(f, "no port file");
    int port = 0;
    cr_assert_eq(fscanf(f, "%d", &port), 1);
    fclose(f);
    cr_assert_gt(port, 0);
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    proto_conn *c = connect_to();
    call r;
    hello(c, "", &r); /* no token required */
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.recs[0].op, PROTO_OP_R_HELLO);
    free(r.raw);
    ping(c, 9);
    proto_conn_close(c);
    stop_server();
}

/* ---- limits (issue 12; docs/operations.md "Limits and authentication") ---- */

/* The text of the first R_ERROR of a reply, or "" when it has none. */
static const char *error_text(const call *r, int *cuda_err)
{
    static char msg[512];
    msg[0] = 0;
    for (int i = 0; i < r->n; i++) {
        proto_R_ERROR e;
        if (r->recs[i].op == PROTO_OP_R_ERROR && !proto_get_R_ERROR(&r->recs[i], &e)) {
            memcpy(msg, e.msg, e.msg_len < sizeof msg - 1 ? e.msg_len : sizeof msg - 1);
            msg[e.msg_len < sizeof msg - 1 ? e.msg_len : sizeof msg - 1] = 0;
            if (cuda_err)
                *cuda_err = e.cuda_err;
            break;
        }
    }
    return msg;
}

static int is_hello_ok(const call *r)
{
    return !r->rc && r->n == 1 && r->recs[0].op == PROTO_OP_R_HELLO;
}

Test(limits, before_hello, .fini = stop_server, .timeout = 60)
{
    char *extra[] = {"--handshake-ms", "1500", "--max-unauth", "2", "--max-sessions", "1",
                     "--pre-auth-bytes", "4096", NULL};
    start_server_with(extra);
    call r;
    /* Two connections that never send a byte fill --max-unauth: a third is refused at once. */
    proto_conn *idle1 = connect_to(), *idle2 = connect_to();
    sleep_ms(200);
    proto_conn *c3 = NULL;
    char err[256] = "";
    cr_assert_neq(proto_conn_open(target, 5000, &c3, err, sizeof err), 0,
                  "a third unauthenticated connection was served (--max-unauth 2)");
    cr_assert(strstr(err, "--max-unauth"), "the refusal does not name the limit: %s", err);
    /* The handshake deadline closes the idle ones; they never counted as sessions, so a
     * session opens afterwards although --max-sessions is 1. */
    sleep_ms(2000);
    genie_buf b = {0};
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 9);
    proto_put_PING(&b, 1);
    send_frame(idle1, &b, &r);
    cr_assert_neq(r.rc, 0, "an idle connection outlived --handshake-ms");
    genie_buf_free(&b);
    proto_conn_close(idle1);
    proto_conn_close(idle2);
    proto_conn *c = connect_to();
    hello(c, "secret", &r);
    cr_assert(is_hello_ok(&r), "HELLO after the idle connections were closed failed");
    free(r.raw);
    ping(c, 5);
    /* --max-sessions 1: a second session is refused with a message naming the flag. */
    proto_conn *c2 = connect_to();
    hello(c2, "secret", &r);
    cr_assert_eq(r.rc, 0);
    cr_assert(strstr(error_text(&r, NULL), "--max-sessions"), "reply: %s", error_text(&r, NULL));
    free(r.raw);
    proto_conn_close(c2);
    /* A message above --pre-auth-bytes before HELLO ends that stream, whatever it holds. */
    proto_conn *big = connect_to();
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 1);
    memset(proto_put_MEMCPY_H2D(&b, 0, 0, 8192), 7, 8192);
    send_frame(big, &b, &r);
    genie_buf_free(&b);
    cr_assert_neq(r.rc, 0, "an 8 KiB message before HELLO was accepted (--pre-auth-bytes 4096)");
    proto_conn_close(big);
    /* After HELLO the same message is fine (it fails in the executor, not the transport). */
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 3);
    memset(proto_put_MEMCPY_H2D(&b, 0, 0, 8192), 7, 8192);
    send_frame(c, &b, &r);
    genie_buf_free(&b);
    cr_assert_eq(r.rc, 0, "an 8 KiB message after HELLO was refused");
    free(r.raw);
    ping(c, 6);
    proto_conn_close(c);
}

Test(limits, idle_session_closed, .fini = stop_server, .timeout = 60)
{
    char *extra[] = {"--idle-seconds", "1", NULL};
    start_server_with(extra);
    proto_conn *c = connect_to();
    call r;
    hello(c, "secret", &r);
    cr_assert(is_hello_ok(&r));
    free(r.raw);
    ping(c, 1);
    sleep_ms(600);
    ping(c, 2); /* activity restarts the clock */
    sleep_ms(2000);
    genie_buf b = {0};
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 4);
    proto_put_PING(&b, 3);
    send_frame(c, &b, &r);
    genie_buf_free(&b);
    cr_assert_neq(r.rc, 0, "a session silent for 2 s outlived --idle-seconds 1");
    proto_conn_close(c);
}

Test(limits, memory_quota_and_reply_cap, .fini = stop_server, .timeout = 60)
{
    char *extra[] = {"--mem-quota", "8388608", "--max-reply-bytes", "65536", NULL};
    start_server_with(extra);
    proto_conn *c = connect_to();
    call r;
    proto_R_HELLO h = hello(c, "secret", &r);
    cr_assert(is_hello_ok(&r));
    proto_devinfo di;
    cr_assert_eq(h.devinfo_len, sizeof di);
    memcpy(&di, h.devinfo, sizeof di);
    cr_assert_eq(di.total_mem, 8u << 20, "HELLO reports %llu bytes, not the 8 MiB quota",
                 (unsigned long long)di.total_mem);
    uint64_t base = h.va_base;
    free(r.raw);
    genie_buf b = {0};
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 2);
    proto_put_MEM_MAP(&b, base, 4u << 20);
    proto_put_MEM_MAP(&b, base + (4u << 20), 4u << 20);
    proto_put_MEM_MAP(&b, base + (8u << 20), 2u << 20); /* 10 MiB: past the quota */
    proto_put_MEMCPY_D2H(&b, base, 4096, 0);             /* within the reply cap */
    proto_put_MEMCPY_D2H(&b, base, 128u << 10, 0);       /* past it */
    send_frame(c, &b, &r);
    genie_buf_free(&b);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.n, 3, "%d records", r.n);
    proto_R_ERROR e;
    cr_assert_eq(r.recs[0].op, PROTO_OP_R_ERROR);
    cr_assert_eq(proto_get_R_ERROR(&r.recs[0], &e), 0);
    cr_assert_eq(e.index, 2);
    cr_assert_eq(e.cuda_err, 2 /* cudaErrorMemoryAllocation */);
    char msg[512] = "";
    memcpy(msg, e.msg, e.msg_len < sizeof msg - 1 ? e.msg_len : sizeof msg - 1);
    cr_assert(strstr(msg, "--mem-quota"), "%s", msg);
    cr_assert_eq(r.recs[1].op, PROTO_OP_R_DATA);
    cr_assert_eq(r.recs[2].op, PROTO_OP_R_ERROR);
    cr_assert_eq(proto_get_R_ERROR(&r.recs[2], &e), 0);
    cr_assert_eq(e.index, 4);
    memcpy(msg, e.msg, e.msg_len < sizeof msg - 1 ? e.msg_len : sizeof msg - 1);
    msg[e.msg_len < sizeof msg - 1 ? e.msg_len : sizeof msg - 1] = 0;
    cr_assert(strstr(msg, "--max-reply-bytes"), "%s", msg);
    free(r.raw);
    /* Unmapping gives the quota back. */
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 3);
    proto_put_MEM_UNMAP(&b, base + (4u << 20), 4u << 20);
    proto_put_MEM_MAP(&b, base + (8u << 20), 2u << 20);
    send_frame(c, &b, &r);
    genie_buf_free(&b);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.n, 0, "remapping within the quota after an unmap failed: %s",
                 error_text(&r, NULL));
    free(r.raw);
    proto_conn_close(c);
}

Test(limits, failed_logins_throttled_and_logged, .fini = stop_server, .timeout = 60)
{
    char logp[128];
    snprintf(logp, sizeof logp, "/tmp/genie-rmt-%d.log", (int)getpid());
    server_log = logp;
    char *extra[] = {"--login-fails", "2", NULL};
    start_server_with(extra);
    server_log = NULL;
    call r;
    /* A prefix, a longer string and a wrong one: all refused (and counted). */
    const char *bad[] = {"secre", "secretX"};
    for (int i = 0; i < 2; i++) {
        proto_conn *c = connect_to();
        hello(c, bad[i], &r);
        cr_assert_eq(r.rc, 0);
        cr_assert(strstr(error_text(&r, NULL), "authentication"), "%s", error_text(&r, NULL));
        free(r.raw);
        proto_conn_close(c);
    }
    /* The third try from the same address is refused unchecked, even with the right token. */
    proto_conn *c = connect_to();
    hello(c, "secret", &r);
    cr_assert_eq(r.rc, 0);
    cr_assert(strstr(error_text(&r, NULL), "too many failed logins"), "%s",
              error_text(&r, NULL));
    free(r.raw);
    proto_conn_close(c);
    stop_server();
    FILE *f = fopen(logp, "r");
    cr_assert_not_null(f);
    char line[512];
    int warned = 0, leaked = 0;
    while (fgets(line, sizeof line, f)) {
        warned += strstr(line, "failed login from unix:") != NULL;
        leaked += strstr(line, "secre") != NULL;
    }
    fclose(f);
    unlink(logp);
    cr_assert_eq(warned, 2, "%d failed-login warnings with the peer, expected 2", warned);
    cr_assert_eq(leaked, 0, "a token appears in the log");
}

Test(limits, token_file, .fini = stop_server, .timeout = 60)
{
    char tf[128];
    snprintf(tf, sizeof tf, "/tmp/genie-rmt-%d.token", (int)getpid());
    FILE *f = fopen(tf, "w");
    cr_assert_not_null(f);
    fprintf(f, "from-a-file\n");
    fclose(f);
    /* --token-file wins over the --token that start_server_with puts first */
    char *extra[] = {"--token-file", tf, NULL};
    start_server_with(extra);
    call r;
    proto_conn *c = connect_to();
    hello(c, "secret", &r);
    cr_assert(strstr(error_text(&r, NULL), "authentication"), "%s", error_text(&r, NULL));
    free(r.raw);
    proto_conn_close(c);
    c = connect_to();
    hello(c, "from-a-file", &r);
    cr_assert(is_hello_ok(&r), "the token from the file was refused: %s", error_text(&r, NULL));
    free(r.raw);
    proto_conn_close(c);
    unlink(tf);
    char *missing[] = {"genie-remote", "--token-file", "/nonexistent/token", NULL};
    cr_assert_eq(wait_exit(spawn_q(missing, 1), 5000), 2);
}

Test(limits, warns_beyond_loopback, .timeout = 30)
{
    /* 0.0.0.0 without a token or TLS: two warnings at start; the token is never printed. */
    char logp[128];
    snprintf(logp, sizeof logp, "/tmp/genie-rmt-%d.wlog", (int)getpid());
    snprintf(port_file, sizeof port_file, "/tmp/genie-rmt-%d.port", (int)getpid());
    unlink(port_file);
    server_log = logp;
    char *argv[] = {"genie-remote", "--listen", "0.0.0.0:0", "--port-file", port_file, NULL};
    server = spawn(argv);
    server_log = NULL;
    struct stat st;
    for (int t = 0; t < 10000 && stat(port_file, &st) != 0; t += 10)
        sleep_ms(10);
    stop_server();
    FILE *f = fopen(logp, "r");
    cr_assert_not_null(f);
    char line[512];
    int no_token = 0, no_tls = 0;
    while (fgets(line, sizeof line, f)) {
        no_token += strstr(line, "WARNING") && strstr(line, "without a token");
        no_tls += strstr(line, "WARNING") && strstr(line, "without TLS");
    }
    fclose(f);
    unlink(logp);
    cr_assert_eq(no_token, 1);
    cr_assert_eq(no_tls, 1);
}

Test(limits, session_ranges_are_unpredictable, .fini = stop_server, .timeout = 60)
{
    /* Not derived from the session id: ranges off a grid of their own size, all different. */
    start_server();
    uint64_t base[6];
    int off_grid = 0;
    for (int i = 0; i < 6; i++) {
        proto_conn *c = connect_to();
        call r;
        proto_R_HELLO h = hello(c, "secret", &r);
        cr_assert(is_hello_ok(&r));
        base[i] = h.va_base;
        off_grid += (h.va_base - 0x200000000000ull) % h.va_size != 0;
        for (int j = 0; j < i; j++)
            cr_assert_neq(base[j], base[i], "sessions %d and %d got the same range", j, i);
        free(r.raw);
        proto_conn_close(c);
    }
    cr_assert_gt(off_grid, 0, "every range sits at base + k * size: predictable");
}

/* ---- SIGTERM drains ---- */

static proto_conn *busy_conn;
static uint64_t busy_base;
static call busy_reply;
static uint64_t busy_ms;

/* One batch of 24 memsets of 512 MiB and a 4-byte read back: long on the fake GPU. */
static void *busy_batch(void *arg)
{
    (void)arg;
    genie_buf b = {0};
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 7);
    for (int i = 0; i < 24; i++)
        proto_put_MEMSET(&b, busy_base, 512u << 20, (uint32_t)i, 0);
    proto_put_MEMCPY_D2H(&b, busy_base, 4, 0);
    uint64_t t0 = genie_now_ns();
    send_frame(busy_conn, &b, &busy_reply);
    busy_ms = (genie_now_ns() - t0) / 1000000;
    genie_buf_free(&b);
    return NULL;
}

Test(limits, sigterm_drains, .timeout = 90)
{
    char *extra[] = {"--drain-seconds", "20", NULL};
    start_server_with(extra);
    call r;
    proto_conn *idle = connect_to();
    hello(idle, "secret", &r);
    cr_assert(is_hello_ok(&r));
    free(r.raw);
    busy_conn = connect_to();
    proto_R_HELLO h = hello(busy_conn, "secret", &r);
    cr_assert(is_hello_ok(&r));
    free(r.raw);
    busy_base = h.va_base;
    genie_buf b = {0};
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 2);
    proto_put_MEM_MAP(&b, busy_base, 512u << 20);
    send_frame(busy_conn, &b, &r);
    genie_buf_free(&b);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.n, 0);
    free(r.raw);
    pthread_t t;
    uint64_t t0 = genie_now_ns();
    cr_assert_eq(pthread_create(&t, NULL, busy_batch, NULL), 0);
    sleep_ms(300);
    kill(server, SIGTERM);
    pthread_join(t, NULL);
    /* The running batch finished and its reply came back whole. */
    cr_assert_eq(busy_reply.rc, 0, "the batch running at SIGTERM was cut off: %s",
                 genie_strerror(busy_reply.rc));
    cr_assert_gt(busy_ms, 400, "the batch took %llu ms: too short to be running at SIGTERM",
                 (unsigned long long)busy_ms);
    cr_assert_eq(busy_reply.n, 1);
    cr_assert_eq(busy_reply.recs[0].op, PROTO_OP_R_DATA);
    proto_R_DATA d;
    cr_assert_eq(proto_get_R_DATA(&busy_reply.recs[0], &d), 0);
    cr_assert_eq(((const uint8_t *)d.data)[0], 23, "not the last memset's byte");
    free(busy_reply.raw);
    /* Then every session is closed and the server exits cleanly, well inside the 20 s. */
    int rc = wait_exit(server, 15000);
    uint64_t ms = (genie_now_ns() - t0) / 1000000;
    server = -1;
    cr_assert_eq(rc, 0, "exit status %d", rc);
    cr_assert_lt(ms, busy_ms + 5000, "the drain waited %llu ms for nothing", (unsigned long long)ms);
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 8);
    proto_put_PING(&b, 1);
    send_frame(idle, &b, &r);
    genie_buf_free(&b);
    cr_assert_neq(r.rc, 0);
    proto_conn_close(idle);
    proto_conn_close(busy_conn);
}

Test(limits, versions_named_at_connect, .fini = stop_server, .timeout = 60)
{
    start_server();
    call r;
    /* A client of another session version: refused, both versions and the build named. */
    proto_conn *c = connect_to();
    genie_buf b = {0};
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 1);
    memcpy(proto_put_HELLO(&b, 1, PROTO_SESSION_VERSION + 98, 0, 6), "secret", 6);
    send_frame(c, &b, &r);
    genie_buf_free(&b);
    cr_assert_eq(r.rc, 0);
    char want[128];
    snprintf(want, sizeof want, "session version %d, genie-remote %s speaks session version %d",
             PROTO_SESSION_VERSION + 98, GENIE_BUILD_ID, PROTO_SESSION_VERSION);
    cr_assert(strstr(error_text(&r, NULL), want), "%s", error_text(&r, NULL));
    free(r.raw);
    proto_conn_close(c);
    /* A frame of another frame version: the same, for the frame header. */
    c = connect_to();
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 1);
    memcpy(proto_put_HELLO(&b, 1, PROTO_SESSION_VERSION, 0, 6), "secret", 6);
    proto_frame_end(&b);
    b.data[4] = (uint8_t)(PROTO_VERSION + 7);
    b.data[5] = 0;
    void *raw = NULL;
    size_t rn = 0;
    cr_assert_eq(proto_conn_call(c, b.data, b.len, &raw, &rn, 10000), 0);
    genie_buf_free(&b);
    proto_frame f;
    cr_assert_eq(proto_frame_parse(raw, rn, proto_max_message(), &f), 0);
    proto_iter it;
    proto_iter_init(&it, &f);
    memset(&r, 0, sizeof r);
    while (r.n < 16 && proto_iter_next(&it, &r.recs[r.n]) == 1)
        r.n++;
    snprintf(want, sizeof want, "frame version %d, genie-remote %s speaks frame version %d",
             PROTO_VERSION + 7, GENIE_BUILD_ID, PROTO_VERSION);
    cr_assert(strstr(error_text(&r, NULL), want), "%s", error_text(&r, NULL));
    free(raw);
    proto_conn_close(c);
}

/* Runs genie-remote --status against the test server; its stdout into out. Exit status. */
static int run_status(const char *token, char *out, size_t n)
{
    char outp[128];
    snprintf(outp, sizeof outp, "/tmp/genie-rmt-%d.status", (int)getpid());
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        freopen(outp, "w", stdout);
        freopen("/dev/null", "w", stderr);
        setenv("GENIE_TOKEN", token, 1);
        unsetenv("GENIE_TOKEN_FILE");
        char *argv[] = {"genie-remote", "--status", target, NULL};
        execv(GENIE_REMOTE_BIN, argv);
        _exit(127);
    }
    int rc = wait_exit(pid, 20000);
    FILE *f = fopen(outp, "r");
    size_t got = f ? fread(out, 1, n - 1, f) : 0;
    out[got] = 0;
    if (f)
        fclose(f);
    unlink(outp);
    return rc;
}

Test(limits, status_lists_sessions, .fini = stop_server, .timeout = 60)
{
    start_server();
    proto_conn *c = connect_to();
    call r;
    proto_R_HELLO h = hello(c, "secret", &r);
    cr_assert(is_hello_ok(&r));
    free(r.raw);
    genie_buf b = {0};
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 2);
    proto_put_MEM_MAP(&b, h.va_base, 6u << 20);
    proto_put_MEM_UNMAP(&b, h.va_base + 4096, 1); /* one error */
    send_frame(c, &b, &r);
    genie_buf_free(&b);
    free(r.raw);
    char out[4096];
    cr_assert_eq(run_status("secret", out, sizeof out), 0, "%s", out);
    char want[128];
    /* session id, peer, hello, age, 6 MiB mapped, 2 batches, 1 error */
    snprintf(want, sizeof want, "%-8u %-24s %-6s", h.session, "unix:", "yes");
    cr_assert(strstr(out, want), "no line for session %u in:\n%s", h.session, out);
    cr_assert(strstr(out, " 6291456          2        1\n"), "memory/batches/errors wrong:\n%s", out);
    cr_assert(strstr(out, "1 session(s) past HELLO"), "%s", out);
    /* The operator's token is needed. */
    cr_assert_eq(run_status("wrong", out, sizeof out), 1);
    cr_assert_eq(out[0], 0, "a table without the token:\n%s", out);
    proto_conn_close(c);
}
