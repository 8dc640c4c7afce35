/* rawsock.c — a minimal raw-socket echo server and client: the limit gRPC and Genie are held to. */
#include "bench/micro/rawsock.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CONNS 64
/* Reads shorter than this go through a connection's small buffer (a header and a small body
 * in one recv); longer ones go straight into their destination. */
#define RD_BUF (64u << 10)
#define FETCH_BIT (1ull << 63)

static int g_bufsize = 8 << 20;
static size_t g_chunk; /* largest send or recv; 0: unbounded */

void rawsock_set_buffers(int bytes)
{
    g_bufsize = bytes;
}

void rawsock_set_chunk(size_t bytes)
{
    g_chunk = bytes;
}

/* A buffered reader: small messages cost one recv, big ones are read in place. */
typedef struct rd {
    int fd;
    size_t chunk; /* largest recv (and send on this socket); 0: unbounded */
    size_t off, len;
    uint8_t buf[RD_BUF];
} rd;

struct rawsock_server {
    int lfd;
    int port;
    char path[128]; /* unix socket file to unlink at stop; empty for TCP */
    pthread_t acceptor;
    pthread_mutex_t mu;
    int stopping;
    int nconn;
    int fds[MAX_CONNS];         /* live connection fds, -1 when free (under mu) */
    pthread_t threads[MAX_CONNS];
    int used[MAX_CONNS];        /* slot has a thread to join */
    uint64_t reply_max;         /* bytes echoed back at most */
    size_t chunk;               /* g_chunk when it started */
};

struct rawsock_conn {
    int bufsize; /* the rawsock_set_buffers value it was made with */
    rd r;
};

typedef struct conn_arg {
    rawsock_server *s;
    int slot;
} conn_arg;

static int read_full(rd *r, void *p, size_t n)
{
    uint8_t *b = p;
    while (n) {
        if (r->off < r->len) {
            size_t k = r->len - r->off < n ? r->len - r->off : n;
            memcpy(b, r->buf + r->off, k);
            r->off += k;
            b += k;
            n -= k;
            continue;
        }
        ssize_t got;
        if (n >= RD_BUF) { /* big: straight into the destination */
            got = recv(r->fd, b, r->chunk && n > r->chunk ? r->chunk : n, 0);
            if (got > 0) {
                b += got;
                n -= (size_t)got;
            }
        } else {
            got = recv(r->fd, r->buf, RD_BUF, 0);
            if (got > 0) {
                r->off = 0;
                r->len = (size_t)got;
            }
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
    }
    return 0;
}

/* Writes the header and the body with one writev (sendmsg), as many times as it takes; at
 * most chunk bytes per call when chunk is set. */
static int write_msg(int fd, size_t chunk, const uint8_t *h, size_t hn, const void *p, size_t n)
{
    struct iovec v[2] = {{(void *)h, hn}, {(void *)p, n}};
    struct iovec *iv = v;
    int cnt = n ? 2 : 1;
    while (cnt) {
        struct iovec lim[2] = {iv[0], cnt > 1 ? iv[1] : (struct iovec){0}};
        if (chunk) { /* trim the pair to chunk bytes */
            if (lim[0].iov_len >= chunk)
                lim[0].iov_len = chunk, lim[1].iov_len = 0;
            else if (cnt > 1 && lim[0].iov_len + lim[1].iov_len > chunk)
                lim[1].iov_len = chunk - lim[0].iov_len;
        }
        struct msghdr m = {.msg_iov = lim, .msg_iovlen = (size_t)cnt};
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        size_t k = (size_t)w;
        while (cnt && k >= iv->iov_len) {
            k -= iv->iov_len;
            iv++;
            cnt--;
        }
        if (cnt) {
            iv->iov_base = (uint8_t *)iv->iov_base + k;
            iv->iov_len -= k;
        }
    }
    return 0;
}

static void put_len(uint8_t *h, uint64_t n)
{
    for (int i = 0; i < 8; i++)
        h[i] = (uint8_t)(n >> (8 * i));
}

static uint64_t get_len(const uint8_t *h)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | h[i];
    return n;
}

/* Parses the target and fills a sockaddr; returns its length or -1 with err set. */
static int resolve(const char *target, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    memset(ss, 0, sizeof *ss);
    if (!strncmp(target, "unix:", 5)) {
        const char *path = target + 5;
        if (!strncmp(path, "//", 2))
            path += 2;
        struct sockaddr_un *sa = (struct sockaddr_un *)ss;
        if (!*path || strlen(path) >= sizeof sa->sun_path) {
            snprintf(err, errlen, "%s: bad unix socket path", target);
            return -1;
        }
        sa->sun_family = AF_UNIX;
        strcpy(sa->sun_path, path);
        return (int)sizeof *sa;
    }
    char host[256];
    const char *colon = strrchr(target, ':');
    if (!colon || (size_t)(colon - target) >= sizeof host) {
        snprintf(err, errlen, "%s: expected host:port or unix:/path", target);
        return -1;
    }
    const char *h = target;
    size_t hl = (size_t)(colon - target);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [v6]:port */
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int e = getaddrinfo(host, colon + 1, &hints, &ai);
    if (e) {
        snprintf(err, errlen, "%s: %s", target, gai_strerror(e));
        return -1;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    int len = (int)ai->ai_addrlen;
    freeaddrinfo(ai);
    return len;
}

static void tune(int fd, int family)
{
    int one = 1, buf = g_bufsize;
    if (family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (buf <= 0)
        return; /* the kernel's defaults: TCP autotuning */
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf))
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
}

static void *echo_main(void *arg)
{
    conn_arg *a = arg;
    rawsock_server *s = a->s;
    rd *r = malloc(sizeof *r);
    if (!r) {
        free(a);
        return NULL;
    }
    r->fd = s->fds[a->slot];
    r->off = r->len = 0;
    r->chunk = s->chunk;
    free(a);
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (;;) {
        uint8_t h[8];
        if (read_full(r, h, 8))
            break;
        uint64_t n = get_len(h), want = n & ~FETCH_BIT;
        if (want > cap) {
            /* kept for the next message: a timed transfer never faults fresh pages in */
            uint8_t *nb = realloc(buf, want);
            if (!nb)
                break;
            memset(nb, 0x5a, want);
            buf = nb;
            cap = want;
        }
        uint8_t rh[8];
        if (n & FETCH_BIT) { /* a download: the bytes asked for, from the kept buffer */
            put_len(rh, want);
            if (write_msg(r->fd, r->chunk, rh, 8, buf, want))
                break;
            continue;
        }
        /* echo at most reply_max bytes: a bulk upload is answered like genie-remote answers
         * a batch, with a short reply */
        uint64_t rn = n < s->reply_max ? n : s->reply_max;
        put_len(rh, rn);
        if (read_full(r, buf, n) || write_msg(r->fd, r->chunk, rh, 8, buf, rn))
            break;
    }
    free(buf);
    free(r);
    return NULL;
}

static void *accept_main(void *arg)
{
    rawsock_server *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break; /* shutdown() of the listening socket at stop */
        }
        pthread_mutex_lock(&s->mu);
        int slot = -1;
        for (int i = 0; i < MAX_CONNS && slot < 0 && !s->stopping; i++)
            if (!s->used[i])
                slot = i;
        if (slot < 0) {
            pthread_mutex_unlock(&s->mu);
            close(fd);
            continue;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        tune(fd, ss.ss_family);
        conn_arg *a = malloc(sizeof *a);
        s->fds[slot] = fd;
        if (a) {
            a->s = s;
            a->slot = slot;
        }
        if (a && pthread_create(&s->threads[slot], NULL, echo_main, a) == 0) {
            s->used[slot] = 1;
        } else {
            free(a);
            close(fd);
            s->fds[slot] = -1;
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

rawsock_server *rawsock_server_start(const char *target, char *err, size_t errlen)
{
    return rawsock_server_start_opts(target, UINT64_MAX, err, errlen);
}

rawsock_server *rawsock_server_start_opts(const char *target, uint64_t reply_max, char *err,
                                          size_t errlen)
{
    struct sockaddr_storage ss;
    int len = resolve(target, &ss, err, errlen);
    if (len < 0)
        return NULL;
    rawsock_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->reply_max = reply_max;
    s->chunk = g_chunk;
    for (int i = 0; i < MAX_CONNS; i++)
        s->fds[i] = -1;
    if (ss.ss_family == AF_UNIX) {
        struct stat st;
        const char *path = ((struct sockaddr_un *)&ss)->sun_path;
        if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path); /* stale socket file */
        snprintf(s->path, sizeof s->path, "%s", path);
    }
    s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (ss.ss_family != AF_UNIX)
        setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s->lfd >= 0) /* accepted sockets inherit the sizes; the window scale comes from them */
        tune(s->lfd, ss.ss_family);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&ss, (socklen_t)len) ||
        listen(s->lfd, 64)) {
        snprintf(err, errlen, "cannot listen on %s: %s", target, strerror(errno));
        if (s->lfd >= 0)
            close(s->lfd);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    if (ss.ss_family != AF_UNIX) {
        socklen_t sl = sizeof ss;
        getsockname(s->lfd, (struct sockaddr *)&ss, &sl);
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    }
    if (pthread_create(&s->acceptor, NULL, accept_main, s)) {
        snprintf(err, errlen, "cannot start the accept thread");
        close(s->lfd);
        if (s->path[0])
            unlink(s->path);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

int rawsock_server_port(const rawsock_server *s)
{
    return s ? s->port : 0;
}

void rawsock_server_stop(rawsock_server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_mutex_unlock(&s->mu);
    shutdown(s->lfd, SHUT_RDWR); /* wakes accept() */
    pthread_join(s->acceptor, NULL);
    close(s->lfd);
    for (int i = 0; i < MAX_CONNS; i++) {
        if (!s->used[i])
            continue;
        shutdown(s->fds[i], SHUT_RDWR); /* wakes the echo thread's read() */
        pthread_join(s->threads[i], NULL);
        close(s->fds[i]);
    }
    if (s->path[0])
        unlink(s->path);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

rawsock_conn *rawsock_connect(const char *target, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int len = resolve(target, &ss, err, errlen);
    if (len < 0)
        return NULL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0)
        tune(fd, ss.ss_family); /* before connect: the TCP window scale is set at SYN */
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, (socklen_t)len)) {
        snprintf(err, errlen, "cannot connect to %s: %s", target, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    rawsock_conn *c = malloc(sizeof *c);
    if (!c) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->r.fd = fd;
    c->r.off = c->r.len = 0;
    c->r.chunk = g_chunk;
    c->bufsize = g_bufsize;
    return c;
}

int rawsock_call(rawsock_conn *c, const void *req, size_t n, void **reply, size_t *reply_n)
{
    *reply = NULL;
    *reply_n = 0;
    uint8_t h[8];
    put_len(h, n);
    if (write_msg(c->r.fd, c->r.chunk, h, 8, req, n) || read_full(&c->r, h, 8))
        return -1;
    uint64_t rn = get_len(h);
    uint8_t *b = malloc(rn ? rn : 1);
    if (!b || read_full(&c->r, b, rn)) {
        free(b);
        return -1;
    }
    *reply = b;
    *reply_n = rn;
    return 0;
}

int rawsock_fetch(rawsock_conn *c, void *dst, size_t n)
{
    uint8_t h[8];
    put_len(h, (uint64_t)n | FETCH_BIT);
    if (write_msg(c->r.fd, c->r.chunk, h, 8, NULL, 0) || read_full(&c->r, h, 8) || get_len(h) != n)
        return -1;
    return read_full(&c->r, dst, n);
}

void rawsock_describe(const rawsock_conn *c, char *buf, size_t n)
{
    int snd = 0, rcv = 0, nd = 0;
    socklen_t l = sizeof snd;
    getsockopt(c->r.fd, SOL_SOCKET, SO_SNDBUF, &snd, &l);
    l = sizeof rcv;
    getsockopt(c->r.fd, SOL_SOCKET, SO_RCVBUF, &rcv, &l);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(c->r.fd, (struct sockaddr *)&ss, &sl);
    int tcp = ss.ss_family != AF_UNIX;
    l = sizeof nd;
    if (tcp)
        getsockopt(c->r.fd, IPPROTO_TCP, TCP_NODELAY, &nd, &l);
    char how[64] = "whole-message reads and writes";
    if (c->r.chunk)
        snprintf(how, sizeof how, "reads and writes of at most %zu KiB", c->r.chunk >> 10);
    snprintf(buf, n, "%s, SO_SNDBUF %d KiB, SO_RCVBUF %d KiB (%s)%s, one writev per message, %s",
             tcp ? "TCP" : "unix", snd >> 10, rcv >> 10,
             c->bufsize > 0 ? "forced" : "kernel defaults",
             tcp ? (nd ? ", TCP_NODELAY" : ", Nagle on") : "", how);
}

void rawsock_close(rawsock_conn *c)
{
    if (!c)
        return;
    close(c->r.fd);
    free(c);
}
