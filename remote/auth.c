/* auth.c — tokens, their constant-time compare and the failed-login throttle (remote/auth.h). */
#include "remote/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/genie.h"

int rmt_auth_init(rmt_auth *a, const char *token)
{
    memset(a, 0, sizeof *a);
    if (token && *token && !(a->token = strdup(token)))
        return GENIE_ENOMEM;
    pthread_mutex_init(&a->lock, NULL);
    a->login_fails = 5;
    a->login_window_s = 60;
    return 0;
}

void rmt_auth_free(rmt_auth *a)
{
    if (a->token) {
        memset(a->token, 0, strlen(a->token));
        free(a->token);
    }
    pthread_mutex_destroy(&a->lock);
    memset(a, 0, sizeof *a);
}

void rmt_auth_limits(rmt_auth *a, unsigned login_fails, unsigned login_window_s)
{
    pthread_mutex_lock(&a->lock);
    a->login_fails = login_fails;
    a->login_window_s = login_window_s;
    pthread_mutex_unlock(&a->lock);
}

void rmt_peer_addr(const char *peer, char *out, size_t n)
{
    snprintf(out, n, "%s", peer ? peer : "local");
    if (strncmp(out, "ipv4:", 5) && strncmp(out, "ipv6:", 5))
        return;
    char *colon = strrchr(out, ':');
    if (colon && colon > out + 4 && (out[3] == '4' || colon[-1] == ']'))
        *colon = 0;
}

/* Constant time in the token: the loop runs over the bytes the client sent (its own length,
 * which it knows), compares each with the token's byte at that place (or its first byte past
 * its end) and folds the length difference in, so neither the matching prefix nor the
 * token's length shows in the time taken. */
static int token_eq(const char *want, size_t n, const uint8_t *got, size_t got_len)
{
    volatile unsigned diff = (unsigned)(got_len ^ n) | (unsigned)((uint64_t)(got_len ^ n) >> 32);
    for (size_t i = 0; i < got_len; i++) {
        size_t in = (size_t)(i < n); /* 1 inside the token: no branch on the token's length */
        diff |= (unsigned)((uint8_t)want[i * in] ^ got[i]);
    }
    return n > 0 && diff == 0;
}

/* want: the server's tokens, one per line (tenants). Returns 1 + the index of the token got
 * equals, or 0. Every token is compared, whichever matches. */
static unsigned token_ok(const char *want, const uint8_t *got, size_t got_len)
{
    if (!want)
        return 1;
    /* A trailing NUL sent by a C client is not part of the token. */
    if (got_len && got[got_len - 1] == 0)
        got_len--;
    unsigned match = 0, k = 0;
    for (const char *t = want;; k++) {
        size_t n = strcspn(t, "\n");
        unsigned eq = (unsigned)token_eq(t, n, got, got_len);
        match |= (k + 1) & (0u - eq); /* tokens differ, so at most one is equal */
        if (!t[n])
            break;
        t += n + 1;
    }
    return match;
}

/* The throttle's entry of addr, or a reused one (the oldest). Under a->lock. */
static struct rmt_login_fail *fail_entry(rmt_auth *a, const char *addr, int create)
{
    struct rmt_login_fail *old = NULL;
    for (size_t i = 0; i < sizeof a->fails / sizeof a->fails[0]; i++) {
        struct rmt_login_fail *f = &a->fails[i];
        if (f->count && !strcmp(f->addr, addr))
            return f;
        /* an empty slot first, else the one whose window began first */
        if (!old || (old->count && (!f->count || f->first_ns < old->first_ns)))
            old = f;
    }
    if (!create)
        return NULL;
    memset(old, 0, sizeof *old);
    snprintf(old->addr, sizeof old->addr, "%s", addr);
    return old;
}

/* Seconds addr must still wait, or 0 if it may try a token. */
static unsigned login_blocked(rmt_auth *a, const char *addr)
{
    unsigned wait = 0;
    pthread_mutex_lock(&a->lock);
    uint64_t win = (uint64_t)a->login_window_s * 1000000000ull, now = genie_now_ns();
    struct rmt_login_fail *f = a->login_fails ? fail_entry(a, addr, 0) : NULL;
    if (f && now - f->first_ns >= win)
        memset(f, 0, sizeof *f); /* the window has passed: start over */
    else if (f && f->count >= a->login_fails)
        wait = (unsigned)((win - (now - f->first_ns)) / 1000000000ull) + 1;
    pthread_mutex_unlock(&a->lock);
    return wait;
}

static void login_failed(rmt_auth *a, const char *addr, unsigned session)
{
    pthread_mutex_lock(&a->lock);
    unsigned count = 0, max = a->login_fails;
    if (max) {
        struct rmt_login_fail *f = fail_entry(a, addr, 1);
        if (!f->count)
            f->first_ns = genie_now_ns();
        count = ++f->count;
    }
    pthread_mutex_unlock(&a->lock);
    /* never the token it sent: a near miss would give the real one away in the log */
    GENIE_WARN("session %u: failed login from %s (%u in this window%s)", session, addr, count,
               count && count >= max ? "; refusing it for the rest of the window" : "");
}

int rmt_auth_login(rmt_auth *a, const char *addr, unsigned session, const uint8_t *tok, size_t n,
                   unsigned *tenant, char *msg, size_t msglen)
{
    *tenant = 0;
    unsigned wait = login_blocked(a, addr);
    if (wait) {
        snprintf(msg, msglen, "%s: too many failed logins from %s; retry in %u s",
                 genie_strerror(GENIE_EAUTH), addr, wait);
        return GENIE_EAUTH;
    }
    unsigned t = token_ok(a->token, tok, n);
    if (!t) {
        login_failed(a, addr, session);
        snprintf(msg, msglen, "%s", genie_strerror(GENIE_EAUTH));
        return GENIE_EAUTH;
    }
    *tenant = t - 1;
    return 0;
}
