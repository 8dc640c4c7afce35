/* relay.c — genie-relay: a TCP relay that emulates a link (one-way delay per direction, optional rate).
 *
 * This machine's kernel has no netem, so genie-bench puts this relay between the client and
 * genie-remote for --link lan|dc|wan. One thread, epoll: each accepted connection gets its
 * own upstream connection; every chunk read from one side is queued for its direction and
 * written to the other side once its delay has passed and, with a rate, once the link has
 * finished sending the chunks before it (a token bucket of one chunk: serialisation at the
 * configured rate). A timerfd with nanosecond resolution wakes the loop for the next chunk.
 * No root needed. SIGINT/SIGTERM end it cleanly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MAX (64 * 1024)
#define QUEUE_MAX ((size_t)32 << 20) /* bytes queued per direction before reading pauses */
#define MAX_CONNS 64

static const char USAGE[] =
    "usage: genie-relay --listen HOST:PORT --connect HOST:PORT [--delay-us N] [--rate-mbit R]\n"
    "                   [--port-file FILE] [--spin-us N]\n"
    "  Relays every TCP connection accepted on --listen to --connect, holding each chunk for\n"
    "  N microseconds of one-way delay in each direction and, with --rate-mbit, pacing each\n"
    "  direction to R Mbit/s (0: unlimited). --listen HOST:0 picks a free port; --port-file\n"
    "  receives the port once listening. --spin-us: the last N us before a chunk is due are\n"
    "  spun rather than slept (default 100; 0: sleep on the timer only, whose wake-ups come\n"
    "  late on a loaded machine). Profiles used by genie-bench --link: dc 25 us and\n"
    "  25000 Mbit/s, lan 250 us and 1000 Mbit/s, wan 10000 us and 100 Mbit/s.\n";

typedef struct chunk {
    struct chunk *next;
    uint64_t at; /* may be written from this time on (ns, CLOCK_MONOTONIC) */
    size_t len, off;
    char data[];
} chunk;

typedef struct dir {
    int src, dst;
    chunk *head, *tail;
    size_t queued;
    uint64_t free_at; /* the link is busy sending until then (rate) */
    int eof, shut;
    int blocked; /* the last send hit a full socket: wait for EPOLLOUT */
} dir;

typedef struct conn {
    int fd[2]; /* 0: client, 1: upstream */
    dir d[2];  /* d[0]: client -> upstream, d[1]: upstream -> client */
    int used;
    struct tag {
        struct conn *c;
        int side;
    } tag[2];
} conn;

static conn conns[MAX_CONNS];
static int ep, tfd, lfd;
static uint64_t delay_ns;
static double ns_per_byte; /* 0: no rate limit */
static uint64_t burst_ns;   /* token bucket depth, in time at the rate */
static uint64_t spin_ns = 100000; /* the last stretch before a chunk is due is spun, not slept */
static volatile sig_atomic_t stop;
static struct addrinfo *up_addr;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_signal(int s)
{
    (void)s;
    stop = 1;
}

static int parse_hostport(const char *s, char *host, size_t hn, char *port, size_t pn)
{
    const char *c = strrchr(s, ':');
    if (!c || (size_t)(c - s) >= hn || strlen(c + 1) >= pn || !c[1])
        return -1;
    memcpy(host, s, (size_t)(c - s));
    host[c - s] = 0;
    strcpy(port, c + 1);
    return 0;
}

static void set_events(conn *c, int side)
{
    /* read from this side when its outgoing direction has room; write when the incoming
     * direction's head is due but the socket was full */
    dir *out = &c->d[side], *in = &c->d[1 - side];
    struct epoll_event ev = {0};
    if (!out->eof && out->queued < QUEUE_MAX)
        ev.events |= EPOLLIN;
    if (in->blocked)
        ev.events |= EPOLLOUT;
    ev.data.ptr = &c->tag[side];
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd[side], &ev);
}

static void conn_close(conn *c)
{
    for (int i = 0; i < 2; i++) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd[i], NULL);
        close(c->fd[i]);
        chunk *k = c->d[i].head;
        while (k) {
            chunk *n = k->next;
            free(k);
            k = n;
        }
    }
    memset(c, 0, sizeof *c);
}

/* Writes what is due in d; returns -1 when the connection is broken. */
static int pump(dir *d, uint64_t now)
{
    while (d->head && d->head->at <= now && d->free_at <= now) {
        chunk *k = d->head;
        ssize_t n = send(d->dst, k->data + k->off, k->len - k->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                d->blocked = 1; /* stays at the head; EPOLLOUT wakes us */
                break;
            }
            return -1;
        }
        d->blocked = 0;
        k->off += (size_t)n;
        if (k->off < k->len) {
            d->blocked = 1; /* the socket is full: wait for EPOLLOUT */
            break;
        }
        if (ns_per_byte > 0) {
            /* a token bucket of burst_ns: a late wake-up is made up for by sending the next
             * chunks sooner, so the average rate holds; an idle link starts afresh */
            uint64_t base = d->free_at + burst_ns > now ? d->free_at : now - burst_ns;
            d->free_at = base + (uint64_t)(k->len * ns_per_byte);
        }
        d->queued -= k->len;
        d->head = k->next;
        if (!d->head)
            d->tail = NULL;
        free(k);
    }
    if (d->eof && !d->head && !d->shut) {
        shutdown(d->dst, SHUT_WR);
        d->shut = 1;
    }
    return 0;
}

static int readside(conn *c, int side, uint64_t now)
{
    dir *d = &c->d[side];
    while (d->queued < QUEUE_MAX) {
        chunk *k = malloc(sizeof *k + CHUNK_MAX);
        if (!k)
            return -1;
        ssize_t n = recv(d->src, k->data, CHUNK_MAX, 0);
        if (n <= 0) {
            free(k);
            if (n == 0) {
                d->eof = 1;
                return 0;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        k->next = NULL;
        k->at = now + delay_ns;
        k->len = (size_t)n;
        k->off = 0;
        if (d->tail)
            d->tail->next = k;
        else
            d->head = k;
        d->tail = k;
        d->queued += (size_t)n;
    }
    return 0;
}

/* The time the next chunk is due (UINT64_MAX: none). */
static uint64_t next_due(void)
{
    uint64_t next = UINT64_MAX;
    for (int i = 0; i < MAX_CONNS; i++) {
        if (!conns[i].used)
            continue;
        for (int j = 0; j < 2; j++) {
            dir *d = &conns[i].d[j];
            if (!d->head || d->blocked)
                continue;
            uint64_t t = d->head->at > d->free_at ? d->head->at : d->free_at;
            if (t < next)
                next = t;
        }
    }
    return next;
}

/* Wakes the loop spin_ns before `next`: a timer wake-up on a loaded machine comes 20-60 us
 * late, which on lan's 250 us was +20% of delay; the last stretch is spun (epoll_wait with no
 * timeout) instead, so a chunk leaves at its time. */
static void arm_timer(uint64_t next)
{
    struct itimerspec its = {0};
    if (next != UINT64_MAX) {
        next = next > spin_ns ? next - spin_ns : 1;
        its.it_value.tv_sec = (time_t)(next / 1000000000ull);
        its.it_value.tv_nsec = (long)(next % 1000000000ull);
    }
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void accept_one(void)
{
    int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0)
        return;
    conn *c = NULL;
    for (int i = 0; i < MAX_CONNS; i++)
        if (!conns[i].used) {
            c = &conns[i];
            break;
        }
    int ufd = socket(up_addr->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (!c || ufd < 0 || connect(ufd, up_addr->ai_addr, up_addr->ai_addrlen) < 0) {
        fprintf(stderr, "genie-relay: cannot relay a connection: %s\n",
                c ? strerror(errno) : "too many connections");
        if (ufd >= 0)
            close(ufd);
        close(cfd);
        return;
    }
    fcntl(ufd, F_SETFL, fcntl(ufd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(c, 0, sizeof *c);
    c->used = 1;
    c->fd[0] = cfd, c->fd[1] = ufd;
    c->d[0] = (dir){.src = cfd, .dst = ufd};
    c->d[1] = (dir){.src = ufd, .dst = cfd};
    for (int s = 0; s < 2; s++) {
        c->tag[s] = (struct tag){c, s};
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->tag[s]};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd[s], &ev);
    }
}

int main(int argc, char **argv)
{
    const char *listen_s = NULL, *connect_s = NULL, *port_file = NULL;
    double delay_us = 0, rate_mbit = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--listen") && v)
            listen_s = v, i++;
        else if (!strcmp(a, "--connect") && v)
            connect_s = v, i++;
        else if (!strcmp(a, "--port-file") && v)
            port_file = v, i++;
        else if (!strcmp(a, "--delay-us") && v)
            delay_us = atof(v), i++;
        else if (!strcmp(a, "--rate-mbit") && v)
            rate_mbit = atof(v), i++;
        else if (!strcmp(a, "--spin-us") && v)
            spin_ns = (uint64_t)(atof(v) * 1000.0), i++;
        else {
            fprintf(stderr, "genie-relay: bad argument %s\n%s", a, USAGE);
            return 2;
        }
    }
    char lh[256], lp[32], ch[256], cp[32];
    if (!listen_s || !connect_s || parse_hostport(listen_s, lh, sizeof lh, lp, sizeof lp) ||
        parse_hostport(connect_s, ch, sizeof ch, cp, sizeof cp) || delay_us < 0 || rate_mbit < 0) {
        fputs(USAGE, stderr);
        return 2;
    }
    delay_ns = (uint64_t)(delay_us * 1000.0);
    ns_per_byte = rate_mbit > 0 ? 8.0 * 1000.0 / rate_mbit : 0; /* 1 Mbit/s = 1 bit/us */
    burst_ns = (uint64_t)(CHUNK_MAX * ns_per_byte);
    if (burst_ns < 200000)
        burst_ns = 200000;
    prctl(PR_SET_TIMERSLACK, 1ul); /* wake-ups at the chunk's time, not 50 us later */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *la;
    int e = getaddrinfo(ch, cp, &hints, &up_addr);
    if (e) {
        fprintf(stderr, "genie-relay: %s: %s\n", connect_s, gai_strerror(e));
        return 1;
    }
    hints.ai_flags = AI_PASSIVE;
    if ((e = getaddrinfo(lh, lp, &hints, &la))) {
        fprintf(stderr, "genie-relay: %s: %s\n", listen_s, gai_strerror(e));
        return 1;
    }
    lfd = socket(la->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, la->ai_addr, la->ai_addrlen) || listen(lfd, 64)) {
        fprintf(stderr, "genie-relay: cannot listen on %s: %s\n", listen_s, strerror(errno));
        return 1;
    }
    freeaddrinfo(la);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(lfd, (struct sockaddr *)&ss, &sl);
    int port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    if (port_file) { /* written whole, then renamed: a reader never sees half a number */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) || rename(tmp, port_file)) {
            fprintf(stderr, "genie-relay: cannot write %s\n", port_file);
            return 1;
        }
    }
    fprintf(stderr, "genie-relay: %s:%d -> %s, delay %.1f us each way, rate %s%.0f Mbit/s\n", lh,
            port, connect_s, delay_us, rate_mbit > 0 ? "" : "unlimited ", rate_mbit);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    ep = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.ptr = &tfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    struct epoll_event evs[64];
    uint64_t due = UINT64_MAX;
    while (!stop) {
        /* within spin_ns of the next chunk: poll without sleeping */
        int spin = due != UINT64_MAX && due <= now_ns() + spin_ns;
        int n = epoll_wait(ep, evs, 64, spin ? 0 : -1);
        if (n < 0 && errno != EINTR)
            break;
        uint64_t now = now_ns();
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &lfd) {
                accept_one();
            } else if (evs[i].data.ptr == &tfd) {
                uint64_t x;
                (void)!read(tfd, &x, sizeof x);
            } else {
                struct tag *t = evs[i].data.ptr;
                conn *c = t->c;
                if (!c->used)
                    continue;
                if (evs[i].events & EPOLLOUT)
                    c->d[1 - t->side].blocked = 0; /* writable again: pump below retries */
                if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
                    readside(c, t->side, now) < 0) {
                    conn_close(c);
                    continue;
                }
            }
        }
        now = now_ns();
        for (int i = 0; i < MAX_CONNS; i++) {
            conn *c = &conns[i];
            if (!c->used)
                continue;
            if (pump(&c->d[0], now) < 0 || pump(&c->d[1], now) < 0 ||
                (c->d[0].shut && c->d[1].shut)) {
                conn_close(c);
                continue;
            }
            set_events(c, 0);
            set_events(c, 1);
        }
        due = next_due();
        arm_timer(due);
    }
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i].used)
            conn_close(&conns[i]);
    freeaddrinfo(up_addr);
    return 0;
}
