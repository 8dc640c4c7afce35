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
#include <sys/stat.h>
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
    /* a body in the shared window (RMT_WF_WIN) does not come on the socket */
    size_t on_sock = h->flags & RMT_WF_WIN ? 0 : (size_t)h->len;
    if (!rc && !(*body = malloc(on_sock ? on_sock : 1)))
        rc = GENIE_ENOMEM;
    if (!rc && read_all(fd, *body, on_sock))
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

/* ---- the shared windows for big frames ---- */

int rmt_win_fit(rmt_win *w, size_t n)
{
    if (w->p && w->cap >= n)
        return 0;
    size_t cap = (n + RMT_WIN_MIN - 1) & ~(RMT_WIN_MIN - 1);
    int fd = memfd_create("genie-window", MFD_CLOEXEC);
    if (fd < 0)
        return GENIE_ENOMEM;
    void *p = ftruncate(fd, (off_t)cap) ? MAP_FAILED
                                        : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        return GENIE_ENOMEM;
    }
    rmt_win_drop(w);
    *w = (rmt_win){.fd = fd, .p = p, .cap = cap, .used_ns = genie_now_ns(), .fresh = 1};
    return 0;
}

int rmt_win_adopt(rmt_win *w, int fd)
{
    struct stat st;
    void *p = MAP_FAILED;
    if (!fstat(fd, &st) && st.st_size > 0)
        p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    rmt_win_drop(w);
    if (p == MAP_FAILED)
        return GENIE_ENOMEM;
    *w = (rmt_win){.fd = -1, .p = p, .cap = (size_t)st.st_size, .used_ns = genie_now_ns()};
    return 0;
}

void rmt_win_drop(rmt_win *w)
{
    if (w->p)
        munmap(w->p, w->cap);
    if (w->fd >= 0)
        close(w->fd);
    *w = (rmt_win){.fd = -1};
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
    rmt_win in_win = {.fd = -1}, out_win = {.fd = -1}; /* the front's requests, our replies */
    int dropped = 0; /* out_win was dropped: the next reply tells the front */
    for (;;) {
        void *req;
        rmt_wmsg in;
        int wfd = -1;
        if (rmt_wmsg_recv(a->fd, &in, &req, proto_max_message(), &wfd) ||
            in.type != RMT_W_FRAME) {
            free(req);
            if (wfd >= 0)
                close(wfd);
            break; /* the front closed the session (or broke the protocol: same end) */
        }
        if (in.flags & RMT_WF_DROP)
            rmt_win_drop(&in_win);
        const void *frame = req;
        if (in.flags & RMT_WF_WIN) {
            if ((wfd >= 0 && rmt_win_adopt(&in_win, wfd)) || !in_win.p || in.len > in_win.cap) {
                GENIE_ERROR("worker: the front's window cannot hold its frame");
                free(req);
                break;
            }
            wfd = -1;
            frame = in_win.p;
            if (in.flags & RMT_WF_CRC) /* checked by the front as gRPC's bytes came in */
                proto_frame_crc_note(frame, (size_t)in.len, in.crc);
        }
        if (wfd >= 0)
            close(wfd);
        void *reply = NULL;
        size_t rn = 0;
        exec_session_reply_arena(s, out_win.p, out_win.cap); /* built in place if it fits */
        int end = exec_session_handle(s, frame, (size_t)in.len, &reply, &rn);
        free(req);
        rmt_wmsg out = {.type = RMT_W_REPLY,
                        .rc = reply ? end : -1, /* no reply (no memory): the session ends */
                        .len = reply ? rn : 0,
                        .mapped = s->mapped,
                        .nbatches = s->nbatches,
                        .nfail = s->nfail,
                        .poisoned = ctx->poison != CUDA_SUCCESS};
        const void *body = reply;
        int pass = -1;
        uint64_t now = genie_now_ns();
        out.flags = dropped ? RMT_WF_DROP : 0; /* the window we dropped after the last reply */
        dropped = 0;
        int placed = reply && out_win.p && reply == out_win.p;
        if (!placed && reply && rn >= RMT_WIN_MIN && !rmt_win_fit(&out_win, rn)) {
            /* outgrew the window (or the first big one): one copy into a window that fits,
             * in place of a socket write and the front's read into a fresh buffer */
            memcpy(out_win.p, reply, rn);
            placed = 1;
        }
        if (placed) { /* the front sends it from the window */
            out.flags |= RMT_WF_WIN;
            body = NULL;
            if (rn >= RMT_WIN_MIN)
                out_win.used_ns = now;
            if (out_win.fresh)
                pass = out_win.fd;
            out_win.fresh = 0;
        }
        int sent = rmt_wmsg_send(a->fd, &out, body, pass);
        exec_session_reply_done(s, reply); /* a big reply's buffer serves the next one */
        if (sent)
            break;
        if (out_win.p && now - out_win.used_ns > RMT_WIN_IDLE_NS) {
            /* big replies stopped: give the memory back (the front's mapping goes with our
             * next reply; it may still be sending this one from it) */
            exec_session_reply_arena(s, NULL, 0);
            GENIE_DEBUG("session %u: reply window of %zu bytes dropped (idle)", a->session,
                        out_win.cap);
            rmt_win_drop(&out_win);
            dropped = 1;
        }
    }
    rmt_win_drop(&in_win);
    rmt_win_drop(&out_win);
    exec_session_close(s);
    exec_ctx_close(ctx);
    return 0;
}
