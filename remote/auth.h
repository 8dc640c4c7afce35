/* auth.h — who may open a session: the server's tokens (one per tenant), their constant-time
 * compare, and the failed-login throttle per peer address. Needs no GPU: the executor's HELLO
 * uses it in one process, and genie-remote's front uses it before it starts a session's
 * worker process. */
#ifndef GENIE_REMOTE_AUTH_H
#define GENIE_REMOTE_AUTH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rmt_auth {
    pthread_mutex_t lock;     /* guards fails and the limits below */
    char *token;              /* owned; NULL: any client; tenants' tokens separated by '\n' */
    unsigned login_fails;     /* failed logins per address per window (0: no throttle) ... */
    unsigned login_window_s;  /* ... after which the address is refused for the window */
    /* Failed logins by peer address: a small table, the oldest entry reused. */
    struct rmt_login_fail {
        char addr[64];
        unsigned count;
        uint64_t first_ns;
    } fails[32];
} rmt_auth;

/* token: NULL or "" accepts any client (copied). 0 or GENIE_ENOMEM. */
int rmt_auth_init(rmt_auth *a, const char *token);
void rmt_auth_free(rmt_auth *a);
void rmt_auth_limits(rmt_auth *a, unsigned login_fails, unsigned login_window_s);

/* A login from addr (rmt_peer_addr's form) presenting tok[0..n). 0 and *tenant (the index of
 * the token it presented; 0 without tokens) when it may open a session. Otherwise
 * GENIE_EAUTH with the client's message in msg: the token was wrong (counted against addr,
 * and logged as a warning naming addr and session, never the token) or addr is refused for
 * the rest of its window. */
int rmt_auth_login(rmt_auth *a, const char *addr, unsigned session, const uint8_t *tok, size_t n,
                   unsigned *tenant, char *msg, size_t msglen);

/* "ipv4:10.0.0.1:5123" -> "ipv4:10.0.0.1", "ipv6:[::1]:5123" -> "ipv6:[::1]"; a unix
 * socket's peer has no port and is kept whole; NULL -> "local". */
void rmt_peer_addr(const char *peer, char *out, size_t n);

#endif
