/* genie_remote.c — the genie-remote program: serves executor sessions over the gRPC transport until
 * SIGINT/SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/genie.h"
#include "protocol/frame.h"
#include "protocol/gen/ops.h"
#include "protocol/transport.h"
#include "remote/exec.h"

#define GENIE_REMOTE_VERSION "0.1"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: genie-remote [--listen ADDR] [--token-file PATH] [--port-file PATH] [limits]\n"
        "  --listen ADDR         host:port or unix:/path to listen on (default 127.0.0.1:7070)\n"
        "  --token-file PATH     file whose first line is the token clients must present\n"
        "                        (default $GENIE_TOKEN_FILE, else $GENIE_TOKEN; none: no token)\n"
        "  --token T             the same on the command line (visible in ps: avoid)\n"
        "  --tls-cert PEM --tls-key PEM   serve TLS with this certificate chain and key\n"
        "  --tls-client-ca PEM   mutual TLS: require client certificates signed by this CA\n"
        "  --port-file PATH      write the bound TCP port there once listening (for host:0)\n"
        "  --max-sessions N      sessions past HELLO (default 64; 0: no limit)\n"
        "  --max-unauth N        connections that have not completed HELLO (default 16)\n"
        "  --handshake-ms MS     time to complete HELLO (default 5000)\n"
        "  --pre-auth-bytes N    largest message before HELLO (default 16384)\n"
        "  --idle-seconds S      close a session silent this long (default 3600; 0: never)\n"
        "  --mem-quota BYTES     device memory per session (default 0: the whole GPU)\n"
        "  --max-reply-bytes N   D2H bytes in one reply (default 1 GiB)\n"
        "  --login-fails N       failed logins per address a minute before it is refused (5)\n"
        "  --drain-seconds S     on SIGTERM, let running batches finish this long (default 30)\n"
        "  --status ADDR         ask the genie-remote at ADDR for its sessions (with the token\n"
        "                        of --token-file, $GENIE_TOKEN_FILE or $GENIE_TOKEN) and exit\n"
        "  --help, --version\n"
        "Environment: GENIE_CUDA_LIB (driver library, default libcuda.so.1), GENIE_VA_SIZE,\n"
        "GENIE_LOG, GENIE_MAX_MESSAGE_BYTES.\n");
}

/* Transport callbacks: thin wrappers, the executor does the work. */
static void *on_open(void *ud, const char *peer)
{
    return exec_session_open(ud, peer);
}
static int on_handle(void *s, const void *req, size_t n, void **reply, size_t *reply_n)
{
    return exec_session_handle(s, req, n, reply, reply_n);
}
static void on_close(void *s)
{
    exec_session_close(s);
}
static int on_authenticated(void *s)
{
    return exec_session_authenticated(s);
}

/* The token from a file: its first line, without the line end. NULL (reason printed) when the
 * file cannot be read or holds no token. Caller frees. */
static char *read_token_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "genie-remote: cannot read the token file %s: %s\n", path,
                strerror(errno));
        return NULL;
    }
    char buf[4096];
    char *line = fgets(buf, sizeof buf, f);
    fclose(f);
    size_t n = line ? strcspn(buf, "\r\n") : 0;
    if (!n) {
        fprintf(stderr, "genie-remote: the token file %s holds no token on its first line\n",
                path);
        return NULL;
    }
    buf[n] = 0;
    char *t = strdup(buf);
    memset(buf, 0, sizeof buf);
    return t;
}

/* Loopback or a unix socket: only this machine can connect. */
static int local_only(const char *listen)
{
    return !strncmp(listen, "unix:", 5) || !strncmp(listen, "127.", 4) ||
           !strncmp(listen, "localhost:", 10) || !strncmp(listen, "[::1]:", 6) ||
           !strncmp(listen, "ipv4:127.", 9);
}

/* genie-remote --status ADDR: one STATUS request; prints the table. 0, or 1 with the reason. */
static int status_client(const char *addr, const char *token)
{
    char err[512] = "";
    proto_conn *c;
    if (proto_conn_open(addr, 5000, &c, err, sizeof err)) {
        fprintf(stderr, "genie-remote --status: %s\n", err);
        return 1;
    }
    genie_buf b = {0};
    size_t tn = token ? strlen(token) : 0;
    int rc = 1;
    void *raw = NULL;
    size_t rn = 0;
    uint8_t *p;
    if (proto_frame_begin(&b, PROTO_KIND_REQUEST, 1) || !(p = proto_put_STATUS(&b, tn))) {
        fprintf(stderr, "genie-remote --status: out of memory\n");
        goto out;
    }
    if (tn)
        memcpy(p, token, tn);
    proto_frame_end(&b);
    if (proto_conn_call(c, b.data, b.len, &raw, &rn, 10000)) {
        fprintf(stderr, "genie-remote --status: no answer from %s\n", addr);
        goto out;
    }
    proto_frame f;
    proto_iter it;
    proto_rec r;
    if (proto_frame_parse(raw, rn, proto_max_message(), &f)) {
        fprintf(stderr, "genie-remote --status: malformed reply\n");
        goto out;
    }
    proto_iter_init(&it, &f);
    while (proto_iter_next(&it, &r) == 1) {
        proto_R_DATA d;
        proto_R_ERROR e;
        if (r.op == PROTO_OP_R_DATA && !proto_get_R_DATA(&r, &d)) {
            fwrite(d.data, 1, d.data_len, stdout);
            rc = 0;
        } else if (r.op == PROTO_OP_R_ERROR && !proto_get_R_ERROR(&r, &e)) {
            fprintf(stderr, "genie-remote --status: %.*s\n", (int)e.msg_len,
                    (const char *)e.msg);
        }
    }
out:
    free(raw);
    genie_buf_free(&b);
    proto_conn_close(c);
    return rc;
}

/* A non-negative number option, or exit 2 with a message. */
static unsigned long long num_opt(const char *name, const char *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || end == v || *end || *v == '-') {
        fprintf(stderr, "genie-remote: %s needs a non-negative number, not \"%s\"\n", name, v);
        exit(2);
    }
    return x;
}

/* Written whole and renamed into place, so a test polling the file never reads half a number. */
static int write_port_file(const char *path, int port)
{
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int ok = f && fprintf(f, "%d\n", port) > 0;
    if (f && fclose(f))
        ok = 0;
    ok = ok && rename(tmp, path) == 0;
    if (!ok)
        remove(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:7070";
    const char *token = genie_env_str("GENIE_TOKEN", NULL);
    const char *token_file = genie_env_str("GENIE_TOKEN_FILE", NULL);
    const char *port_file = NULL;
    int drain_s = 30;
    const char *status_addr = NULL;
    exec_limits lim = exec_limits_default();
    proto_server_opts so = {.pre_auth_bytes = 16384,
                            .handshake_ms = 5000,
                            .max_unauth = 16,
                            .idle_ms = 3600 * 1000};
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"token", required_argument, NULL, 't'},
        {"token-file", required_argument, NULL, 'T'},
        {"port-file", required_argument, NULL, 'p'},
        {"tls-cert", required_argument, NULL, 1},
        {"tls-key", required_argument, NULL, 2},
        {"tls-client-ca", required_argument, NULL, 3},
        {"max-sessions", required_argument, NULL, 4},
        {"max-unauth", required_argument, NULL, 5},
        {"handshake-ms", required_argument, NULL, 6},
        {"pre-auth-bytes", required_argument, NULL, 7},
        {"idle-seconds", required_argument, NULL, 8},
        {"mem-quota", required_argument, NULL, 9},
        {"max-reply-bytes", required_argument, NULL, 10},
        {"login-fails", required_argument, NULL, 11},
        {"drain-seconds", required_argument, NULL, 12},
        {"status", required_argument, NULL, 13},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 't':
            token = optarg;
            token_file = NULL;
            break;
        case 'T':
            token_file = optarg;
            break;
        case 1:
            so.tls_cert = optarg;
            break;
        case 2:
            so.tls_key = optarg;
            break;
        case 3:
            so.tls_client_ca = optarg;
            break;
        case 4:
            lim.max_sessions = (unsigned)num_opt("--max-sessions", optarg);
            break;
        case 5:
            so.max_unauth = (unsigned)num_opt("--max-unauth", optarg);
            break;
        case 6:
            so.handshake_ms = (int)num_opt("--handshake-ms", optarg);
            break;
        case 7:
            so.pre_auth_bytes = num_opt("--pre-auth-bytes", optarg);
            break;
        case 8:
            so.idle_ms = (int)num_opt("--idle-seconds", optarg) * 1000;
            break;
        case 9:
            lim.mem_quota = num_opt("--mem-quota", optarg);
            break;
        case 10:
            lim.max_reply = num_opt("--max-reply-bytes", optarg);
            break;
        case 11:
            lim.login_fails = (unsigned)num_opt("--login-fails", optarg);
            break;
        case 12:
            drain_s = (int)num_opt("--drain-seconds", optarg);
            break;
        case 13:
            status_addr = optarg;
            break;
        case 'p':
            port_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("genie-remote %s (frame version %d, session version %d)\n", GENIE_REMOTE_VERSION,
                   PROTO_VERSION, PROTO_SESSION_VERSION);
            return 0;
        default:
            if (optopt)
                fprintf(stderr, "genie-remote: option %s needs an argument\n", argv[optind - 1]);
            else
                fprintf(stderr, "genie-remote: unknown option %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "genie-remote: unexpected argument %s\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!*listen) {
        fprintf(stderr, "genie-remote: --listen needs an address (host:port or unix:/path)\n");
        return 2;
    }
    if (!so.tls_cert != !so.tls_key) {
        fprintf(stderr, "genie-remote: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (so.tls_client_ca && !so.tls_cert) {
        fprintf(stderr, "genie-remote: --tls-client-ca needs --tls-cert and --tls-key\n");
        return 2;
    }
    genie_log_init();
    char *token_owned = NULL;
    if (token_file && *token_file) {
        if (!(token_owned = read_token_file(token_file)))
            return 2;
        token = token_owned;
    }
    if (status_addr) {
        int rc = status_client(status_addr, token);
        free(token_owned);
        return rc;
    }
    if (!local_only(listen)) {
        if (!token || !*token)
            fprintf(stderr, "genie-remote: WARNING: listening on %s, beyond this machine, "
                            "without a token: anyone who can reach it may use the GPU "
                            "(--token-file)\n", listen);
        if (!so.tls_cert)
            fprintf(stderr, "genie-remote: WARNING: listening on %s without TLS: the token and "
                            "every byte cross the network in plaintext (--tls-cert, --tls-key)\n",
                    listen);
    }

    /* Block the stop signals before any thread exists: every transport and driver thread
     * inherits the mask, so sigwait below is the only place they are delivered. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512] = "";
    exec_ctx *ctx;
    int rc = exec_ctx_open(token, &ctx, err, sizeof err);
    if (token_owned) /* exec_ctx keeps its own copy */
        memset(token_owned, 0, strlen(token_owned));
    free(token_owned);
    if (rc) {
        fprintf(stderr, "genie-remote: cannot open the GPU: %s\n", err);
        return 1;
    }
    exec_ctx_set_limits(ctx, &lim);
    proto_handler h = {.ud = ctx,
                       .open = on_open,
                       .handle = on_handle,
                       .close = on_close,
                       .authenticated = on_authenticated};
    proto_server *srv;
    if ((rc = proto_server_start_opts(listen, &h, &so, &srv, err, sizeof err))) {
        if (*err)
            fprintf(stderr, "genie-remote: %s\n", err);
        else
            fprintf(stderr, "genie-remote: cannot listen on %s: %s\n", listen, genie_strerror(rc));
        exec_ctx_close(ctx);
        return 2;
    }
    int port = proto_server_port(srv);
    if (port_file && write_port_file(port_file, port)) {
        fprintf(stderr, "genie-remote: cannot write the port file %s\n", port_file);
        proto_server_stop(srv);
        exec_ctx_close(ctx);
        return 1;
    }
    const proto_devinfo *di = exec_ctx_devinfo(ctx);
    if (port > 0)
        fprintf(stderr, "genie-remote: listening on %s (port %d), device %s, driver %d\n", listen,
                port, di->name, di->driver_version);
    else
        fprintf(stderr, "genie-remote: listening on %s, device %s, driver %d\n", listen, di->name,
                di->driver_version);
    fflush(stderr);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    if (sig == SIGTERM && drain_s > 0) {
        fprintf(stderr, "genie-remote: SIGTERM, draining: no new sessions; running batches "
                        "have %d s to finish\n", drain_s);
        fflush(stderr);
        int left = proto_server_drain(srv, drain_s * 1000);
        if (left)
            fprintf(stderr, "genie-remote: %d session(s) still running after %d s: ending them\n",
                    left, drain_s);
    }
    fprintf(stderr, "genie-remote: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    proto_server_stop(srv); /* ends every stream; each session's close runs first */
    exec_ctx_close(ctx);
    return 0;
}
