/* worker.c — a worker process of genie-remote: one session's executor, fed frames by the front
 * over a socketpair (remote/worker.h). */
#include "remote/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "remote/exec_int.h"

int rmt_wmsg_send(int fd, const rmt_wmsg *h, const void *body)
{
    struct iovec iov[2] = {{(void *)h, sizeof *h}, {(void *)body, body ? (size_t)h->len : 0}};
    int i = 0;
    while (i < 2) {
        ssize_t w = writev(fd, iov + i, 2 - i);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return GENIE_ECLOSED;
        size_t done = (size_t)w;
        while (i < 2 && done >= iov[i].iov_len)
            done -= iov[i++].iov_len;
        if (i < 2) {
            iov[i].iov_base = (char *)iov[i].iov_base + done;
            iov[i].iov_len -= done;
        }
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return GENIE_ECLOSED;
        p = (char *)p + r;
        n -= (size_t)r;
    }
    return 0;
}

int rmt_wmsg_recv(int fd, rmt_wmsg *h, void **body, uint64_t max)
{
    *body = NULL;
    if (read_all(fd, h, sizeof *h))
        return GENIE_ECLOSED;
    if (h->type != RMT_W_READY && h->type != RMT_W_FRAME && h->type != RMT_W_REPLY)
        return GENIE_EPROTO;
    if (h->len > max)
        return GENIE_ETOOBIG;
    if (!(*body = malloc(h->len ? (size_t)h->len : 1)))
        return GENIE_ENOMEM;
    if (read_all(fd, *body, (size_t)h->len)) {
        free(*body);
        *body = NULL;
        return GENIE_ECLOSED;
    }
    return 0;
}

int rmt_worker_main(const rmt_worker_args *a)
{
    /* The front's death ends the worker (its socket's EOF does too, once it reads). */
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    char err[512] = "";
    exec_ctx *ctx;
    int rc = exec_ctx_open(NULL, &ctx, err, sizeof err);
    rmt_wmsg h = {.type = RMT_W_READY, .rc = rc};
    if (rc) {
        h.len = strlen(err);
        rmt_wmsg_send(a->fd, &h, err);
        return 1;
    }
    exec_ctx_set_limits(ctx, &a->lim);
    const proto_devinfo *di = exec_ctx_devinfo(ctx);
    char ready[320];
    h.len = (uint64_t)snprintf(ready, sizeof ready, "%s, driver %d", di->name, di->driver_version);
    if (rmt_wmsg_send(a->fd, &h, ready) || !a->session) {
        exec_ctx_close(ctx);
        return 0; /* a probe: the front has what it wanted */
    }
    exec_ctx_worker(ctx, a->session, a->tenant);
    exec_session *s = exec_session_open(ctx, a->peer);
    if (!s) {
        exec_ctx_close(ctx);
        return 1;
    }
    for (;;) {
        void *req;
        rmt_wmsg in;
        if (rmt_wmsg_recv(a->fd, &in, &req, proto_max_message()) || in.type != RMT_W_FRAME) {
            free(req);
            break; /* the front closed the session (or broke the protocol: same end) */
        }
        void *reply = NULL;
        size_t rn = 0;
        int end = exec_session_handle(s, req, (size_t)in.len, &reply, &rn);
        free(req);
        rmt_wmsg out = {.type = RMT_W_REPLY,
                        .rc = reply ? end : -1, /* no reply (no memory): the session ends */
                        .len = reply ? rn : 0,
                        .mapped = s->mapped,
                        .nbatches = s->nbatches,
                        .nfail = s->nfail,
                        .poisoned = ctx->poison != CUDA_SUCCESS};
        int sent = rmt_wmsg_send(a->fd, &out, reply);
        free(reply);
        if (sent)
            break;
    }
    exec_session_close(s);
    exec_ctx_close(ctx);
    return 0;
}
