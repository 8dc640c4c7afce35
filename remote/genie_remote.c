/* genie_remote.c — the genie-remote program: serves executor sessions over the gRPC transport until
 * SIGINT/SIGTERM. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/genie.h"
#include "protocol/frame.h"
#include "protocol/transport.h"
#include "remote/exec.h"

#define GENIE_REMOTE_VERSION "0.1"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: genie-remote [--listen ADDR] [--token T] [--port-file PATH]\n"
        "  --listen ADDR     host:port or unix:/path to listen on (default 127.0.0.1:7070)\n"
        "  --token T         token clients must present (default $GENIE_TOKEN; empty: none)\n"
        "  --port-file PATH  write the bound TCP port there once listening (for --listen host:0)\n"
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
    const char *port_file = NULL;
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},    {"token", required_argument, NULL, 't'},
        {"port-file", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
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
    genie_log_init();

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
    if (rc) {
        fprintf(stderr, "genie-remote: cannot open the GPU: %s\n", err);
        return 1;
    }
    proto_handler h = {.ud = ctx, .open = on_open, .handle = on_handle, .close = on_close};
    proto_server *srv;
    if ((rc = proto_server_start(listen, &h, &srv, err, sizeof err))) {
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
    fprintf(stderr, "genie-remote: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    proto_server_stop(srv); /* ends every stream; each session's close runs first */
    exec_ctx_close(ctx);
    return 0;
}
