/* worker.h — genie-remote's process per session: the front (remote/front.c) accepts, checks
 * tokens and hands each session to a worker process of its own (remote/worker.c: an executor
 * with one session), and the messages the two exchange over a socketpair.
 *
 * Why a process per session: docs/operations.md ("The session model"). gRPC stays in the
 * front; a worker is `genie-remote --worker 3 ...` started with posix_spawn (no fork of a
 * process whose gRPC threads run), its end of the socketpair as fd 3. Each request frame the
 * front receives after HELLO goes to the worker whole and its reply comes back whole; the
 * front never parses them past HELLO. */
#ifndef GENIE_REMOTE_WORKER_H
#define GENIE_REMOTE_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol/transport.h"
#include "remote/exec.h"

/* One message: this header, then len bytes (host byte order: both ends are one binary). */
enum {
    RMT_W_READY = 0x52454459, /* worker -> front once, after opening the GPU: rc 0 and
                                 "device\tdriver", or rc < 0 and the reason */
    RMT_W_FRAME = 0x46524d45, /* front -> worker: one request frame */
    RMT_W_REPLY = 0x52504c59, /* worker -> front: its reply frame; rc nonzero: end the stream */
    /* The weight cache, held by the front (remote/wshare.c), while a FRAME runs: */
    RMT_W_WC_GET = 0x57434745, /* worker -> front: hash, size; answered by WC_ANS */
    RMT_W_WC_ANS = 0x57434153, /* front -> worker: rc 1 (a hit: a sealed memfd of the bytes
                                  comes with it), 0 (a miss) or 2 (no cache) */
    RMT_W_WC_PUT = 0x57435055, /* worker -> front: hash, size and a memfd of the bytes (the
                                  front seals and checks it); no answer */
};
typedef struct rmt_wmsg {
    uint32_t type;
    int32_t rc;
    uint64_t len;
    /* REPLY: the session's counters after the frame, for the front's status table */
    uint64_t mapped, nbatches, nfail;
    uint32_t poisoned;
    uint32_t flags; /* RMT_WF_*: FRAME and REPLY */
    uint32_t crc, pad; /* FRAME with RMT_WF_CRC: the frame's crc32c, computed by the front */
    /* WC_*: the upload's content hash and size */
    uint64_t hash_lo, hash_hi, size;
} rmt_wmsg;

/* Big frames do not cross the socketpair: each direction has a shared-memory window (a
 * memfd mapped by both processes), the front's for requests (gRPC's bytes are copied
 * straight into it: proto_handler.req_buf), the worker's for replies (the front sends from
 * it without a copy). The window's owner makes it, passes its descriptor with the first
 * message that uses it (a bigger one replaces it), and drops it after RMT_WIN_IDLE_NS
 * without a big frame, telling the other side with RMT_WF_DROP. Only one frame is in
 * flight per session, so a window is never written while the other side reads it. */
#define RMT_WIN_MIN ((size_t)1 << 20) /* smaller frames go through the socket */
#define RMT_WIN_IDLE_NS 2000000000ull
enum {
    RMT_WF_WIN = 1,  /* the body (len bytes) is at the start of the window, not on the socket */
    RMT_WF_CRC = 2,  /* crc holds the frame's checksum (FRAME in the window) */
    RMT_WF_DROP = 4, /* the sender dropped its window: unmap yours */
};
typedef struct rmt_win {
    int fd;          /* the owner's memfd; -1 on the mapping side or none */
    uint8_t *p;      /* mapping; NULL: none */
    size_t cap;
    uint64_t used_ns;
    int fresh;       /* owner: made since the other side last got its descriptor */
} rmt_win;
/* Owner: makes w hold at least n bytes (a new memfd and mapping when it is smaller).
 * 0 or GENIE_ENOMEM (w unchanged). */
int rmt_win_fit(rmt_win *w, size_t n);
/* Mapping side: maps the descriptor fd (taken: closed here) in place of w's mapping. */
int rmt_win_adopt(rmt_win *w, int fd);
void rmt_win_drop(rmt_win *w);

/* Sends h and body (h->len bytes), whole, and pass_fd (>= 0) with it. 0 or GENIE_ECLOSED. */
int rmt_wmsg_send(int fd, const rmt_wmsg *h, const void *body, int pass_fd);
/* Receives one message: *body malloc'd (never NULL on success; caller frees); a descriptor
 * passed with it into *got_fd (-1: none; NULL: closed). 0, GENIE_ECLOSED (the other end is
 * gone), GENIE_EPROTO or GENIE_ETOOBIG (above max). */
int rmt_wmsg_recv(int fd, rmt_wmsg *h, void **body, uint64_t max, int *got_fd);

/* ---- the front's weight cache (remote/wshare.c) ---- */
typedef struct rmt_wshare rmt_wshare;
/* limit: bytes (0: no cache); global: one scope for every tenant. NULL without memory. */
rmt_wshare *rmt_wshare_new(uint64_t limit, int global);
void rmt_wshare_free(rmt_wshare *w);
/* Answers a worker's WC_GET for tenant: 1 with a descriptor of the bytes in *fd (the
 * cache's own: not to be closed), 0 a miss, 2 no cache. */
int rmt_wshare_get(rmt_wshare *w, unsigned tenant, uint64_t lo, uint64_t hi, uint64_t size,
                   int *fd);
/* A worker's WC_PUT: takes fd (kept or closed), seals it and keeps it if its bytes match. */
void rmt_wshare_put(rmt_wshare *w, unsigned tenant, uint64_t lo, uint64_t hi, uint64_t size,
                    int fd);
/* The cache's counters at info level (a session closing). */
void rmt_wshare_log(rmt_wshare *w);

/* What a worker is told on its command line. */
typedef struct rmt_worker_args {
    int fd;            /* its end of the socketpair */
    uint32_t session;  /* the session's id; 0: a probe that only reports READY */
    unsigned tenant;   /* which of the front's tokens the client presented */
    const char *peer;  /* the client's address, for logs */
    exec_limits lim;   /* quota, reply cap, cache scope (the front enforces the others) */
    exec_cost cost;    /* the cost model's parameters an earlier worker measured (--cost) */
    int cost_known;
} rmt_worker_args;
/* The worker's main: serves frames until the front closes the socket. Exit status. */
int rmt_worker_main(const rmt_worker_args *a);

/* ---- the front ---- */
typedef struct rmt_front rmt_front;
/* token: as exec_ctx_open's. Starts one probe worker to check that the GPU opens (its
 * reason in err otherwise: GENIE_EDRIVER). */
int rmt_front_open(const char *token, const exec_limits *lim, rmt_front **out, char *err,
                   size_t errlen);
/* The device the probe worker saw ("name, driver N"; borrowed). */
const char *rmt_front_device(const rmt_front *f);
/* The transport callbacks of the front. */
proto_handler rmt_front_handler(rmt_front *f);
/* Kills every worker still running (a batch that never ends, e.g. a kernel in an endless
 * loop, would otherwise hold its session's thread and so proto_server_stop); their clients
 * get the error of a worker that died. Returns how many. */
int rmt_front_kill_workers(rmt_front *f);
/* After proto_server_stop (every session closed, every worker reaped). */
void rmt_front_close(rmt_front *f);

#endif
