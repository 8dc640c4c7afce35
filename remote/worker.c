/* worker.c — a worker process of genie-remote: one session's executor, fed frames by the front
 * over a socketpair (remote/worker.h). */
#define _GNU_SOURCE /* memfd_create */
#include "remote/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "remote/exec_int.h"

int rmt_wmsg_send(int fd, const rmt_wmsg *h, const void *body, int pass_fd)
{
    struct iovec iov[2] = {{(void *)h, sizeof *h}, {(void *)body, body ? (size_t)h->len : 0}};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    int i = 0;
    while (i < 2) {
        struct msghdr m = {.msg_iov = iov + i, .msg_iovlen = (size_t)(2 - i)};
        if (pass_fd >= 0) { /* with the first byte only */
            memset(&ctl, 0, sizeof ctl);
            m.msg_control = ctl.buf;
            m.msg_controllen = sizeof ctl.buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return GENIE_ECLOSED;
        pass_fd = -1;
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

/* The header, with the descriptor that may come with its first byte. */
static int read_header(int fd, rmt_wmsg *h, int *got_fd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {h, sizeof *h};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                       .msg_controllen = sizeof ctl.buf};
    ssize_t r;
    while ((r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (r <= 0)
        return GENIE_ECLOSED;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int))) {
            int passed;
            memcpy(&passed, CMSG_DATA(c), sizeof passed);
            if (got_fd && *got_fd < 0)
                *got_fd = passed;
            else
                close(passed);
        }
    return read_all(fd, (char *)h + r, sizeof *h - (size_t)r);
}

int rmt_wmsg_recv(int fd, rmt_wmsg *h, void **body, uint64_t max, int *got_fd)
{
    *body = NULL;
    if (got_fd)
        *got_fd = -1;
    int rc = read_header(fd, h, got_fd);
    if (!rc && (h->type != RMT_W_READY && h->type != RMT_W_FRAME && h->type != RMT_W_REPLY &&
                h->type != RMT_W_WC_GET && h->type != RMT_W_WC_ANS && h->type != RMT_W_WC_PUT))
        rc = GENIE_EPROTO;
    if (!rc && h->len > max)
        rc = GENIE_ETOOBIG;
    if (!rc && !(*body = malloc(h->len ? (size_t)h->len : 1)))
        rc = GENIE_ENOMEM;
    if (!rc && read_all(fd, *body, (size_t)h->len))
        rc = GENIE_ECLOSED;
    if (rc) {
        free(*body);
        *body = NULL;
        if (got_fd && *got_fd >= 0) {
            close(*got_fd);
            *got_fd = -1;
        }
    }
    return rc;
}

/* ---- the weight cache through the front (exec_wcache_remote) ---- */

static int wc_get(void *ud, genie_hash128 hh, uint64_t size, const void **data)
{
    int fd = *(int *)ud;
    rmt_wmsg q = {.type = RMT_W_WC_GET, .hash_lo = hh.lo, .hash_hi = hh.hi, .size = size}, a;
    void *body = NULL;
    int mfd = -1;
    if (rmt_wmsg_send(fd, &q, NULL, -1) || rmt_wmsg_recv(fd, &a, &body, 0, &mfd) ||
        a.type != RMT_W_WC_ANS) {
        free(body);
        if (mfd >= 0)
            close(mfd);
        return 0; /* the front is gone: the next reply fails anyway */
    }
    free(body);
    if (a.rc != 1)
        return a.rc == 2 ? 2 : 0;
    void *p = mfd >= 0 ? mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, mfd, 0) : MAP_FAILED;
    if (mfd >= 0)
        close(mfd);
    if (p == MAP_FAILED)
        return 0; /* a miss then: the client sends the bytes */
    *data = p;
    return 1;
}

static void wc_release(void *ud, const void *data, uint64_t size)
{
    (void)ud;
    munmap((void *)data, (size_t)size);
}

static void wc_store(void *ud, genie_hash128 hh, const void *data, uint64_t size)
{
    int fd = *(int *)ud;
    int mfd = memfd_create("genie-weights", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0)
        return;
    const char *p = data;
    for (uint64_t left = size; left;) {
        ssize_t w = write(mfd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(mfd);
            return;
        }
        p += w;
        left -= (uint64_t)w;
    }
    rmt_wmsg q = {.type = RMT_W_WC_PUT, .hash_lo = hh.lo, .hash_hi = hh.hi, .size = size};
    rmt_wmsg_send(fd, &q, NULL, mfd);
    close(mfd);
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
        rmt_wmsg_send(a->fd, &h, err, -1);
        return 1;
    }
    exec_ctx_set_limits(ctx, &a->lim);
    const proto_devinfo *di = exec_ctx_devinfo(ctx);
    char ready[320];
    h.len = (uint64_t)snprintf(ready, sizeof ready, "%s, driver %d", di->name, di->driver_version);
    if (rmt_wmsg_send(a->fd, &h, ready, -1) || !a->session) {
        exec_ctx_close(ctx);
        return 0; /* a probe: the front has what it wanted */
    }
    exec_ctx_worker(ctx, a->session, a->tenant);
    if (a->cost_known) /* measured by an earlier session's worker: once per genie-remote */
        exec_ctx_cost_known(ctx, &a->cost);
    int cache_fd = a->fd;
    exec_wcache_remote wr = {&cache_fd, wc_get, wc_release, wc_store};
    ctx->wc_remote = &wr; /* before the session's first frame */
    exec_session *s = exec_session_open(ctx, a->peer);
    if (!s) {
        exec_ctx_close(ctx);
        return 1;
    }
    for (;;) {
        void *req;
        rmt_wmsg in;
        if (rmt_wmsg_recv(a->fd, &in, &req, proto_max_message(), NULL) ||
            in.type != RMT_W_FRAME) {
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
        int sent = rmt_wmsg_send(a->fd, &out, reply, -1);
        exec_session_reply_done(s, reply); /* a big reply's buffer serves the next one */
        if (sent)
            break;
    }
    exec_session_close(s);
    exec_ctx_close(ctx);
    return 0;
}
