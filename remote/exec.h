/* exec.h — the executor: runs request frames of CUDA ops on a GPU reached through the driver API.
 *
 * One exec_ctx per process (the dlopen'ed driver, the device description, the module cache
 * shared by all sessions); one exec_session per client stream. genie-remote wraps these in
 * transport callbacks; the shim links the library for its in-process "local" mode. */
#ifndef GENIE_REMOTE_EXEC_H
#define GENIE_REMOTE_EXEC_H

#include <stddef.h>

#include "protocol/session.h"

typedef struct exec_ctx
    exec_ctx; /* one per process: the dlopen'ed driver, device info, module cache */
typedef struct exec_session exec_session; /* one per client stream */

/* token: NULL or "" accepts any client; several tokens (tenants) are separated by newlines. */
/* Loads GENIE_CUDA_LIB (default "libcuda.so.1"), cuInit, retains the primary context of device 0.
 * token: required client token or NULL (copied). Returns 0 or a negative GENIE_E* code with a
 * reason in err. */
int exec_ctx_open(const char *token, exec_ctx **out, char *err, size_t errlen);
/* Every session of ctx must be closed first. */
void exec_ctx_close(exec_ctx *ctx);
/* Device 0 as HELLO describes it (borrowed; lives as long as ctx). */
const proto_devinfo *exec_ctx_devinfo(const exec_ctx *ctx);

/* What one client may use (genie-remote's flags; docs/operations.md). 0 in a field: no limit. */
typedef struct exec_limits {
    unsigned max_sessions;         /* sessions past HELLO */
    unsigned long long mem_quota;  /* device bytes a session may map; HELLO reports it as the
                                      device's total memory, so the client fails cudaMalloc */
    unsigned long long max_reply;  /* D2H bytes in one reply (always <= the message limit) */
    unsigned login_fails;          /* failed HELLOs per peer address per window ... */
    unsigned login_window_s;       /* ... after which that address is refused for the window */
    int weight_cache_global;       /* 0 (default): a weight-cache entry serves only sessions
                                      that presented the same token; 1: every session */
    int module_cache_global;       /* the same for the module cache (sessions in one process) */
} exec_limits;
/* Defaults of the flags: 64 sessions, no quota, 1 GiB replies, 5 failures a minute. */
exec_limits exec_limits_default(void);
/* Before the first session opens. */
void exec_ctx_set_limits(exec_ctx *ctx, const exec_limits *l);

/* Makes ctx a worker process's (remote/worker.c): it will serve one session, with this id
 * (nonzero), whose token genie-remote's front has checked and found to be tenant's. Before
 * the session opens; ctx was opened without a token. */
void exec_ctx_worker(exec_ctx *ctx, uint32_t session, unsigned tenant);

/* The cost model's device-side parameters (remote/cost.c, R_COST): 0 in a field: unknown. */
typedef struct exec_cost {
    unsigned long long op_ps, flops, mem_bps, took_ns;
} exec_cost;
/* Gives ctx parameters measured earlier by another process of this genie-remote (a worker is
 * told the front's): HELLO then answers them without measuring. */
void exec_ctx_cost_known(exec_ctx *ctx, const exec_cost *k);

/* NULL on allocation failure. peer (gRPC's "ipv4:a.b.c.d:port", ...) names the client in logs
 * and keys the failed-login throttle (may be NULL). */
exec_session *exec_session_open(exec_ctx *ctx, const char *peer);
/* One request frame in, one reply frame out (*reply malloc'd, caller frees). Returns 0, or nonzero
 * when the stream must end after this reply (bad token, HELLO missing). Never returns without a
 * reply unless memory ran out (then *reply is NULL and the return is nonzero). */
int exec_session_handle(exec_session *s, const void *req, size_t n, void **reply, size_t *reply_n);
/* Takes a reply of exec_session_handle back (the transport's reply_done): a big one's buffer
 * is kept for the next replies, others are freed. Optional: callers may free() replies. */
void exec_session_reply_done(exec_session *s, void *reply);
/* Memory the next replies are built in (a worker's shared reply window), cap bytes, borrowed:
 * a reply that outgrows it moves to malloc'd memory, so a reply is in p only if it fits.
 * NULL: none. Replies other than p are then freed when given back, not kept. */
void exec_session_reply_arena(exec_session *s, void *p, size_t cap);
/* Ends the session: destroys its streams/events, unmaps and releases everything it mapped, frees
 * its VA range. */
void exec_session_close(exec_session *s);
/* 1 once HELLO has succeeded: the transport then lifts its pre-authentication limits. */
int exec_session_authenticated(const exec_session *s);

#endif
