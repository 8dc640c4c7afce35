/* fg_guard.c — turns a fault inside a twin or a copy into an error code, not a dead server. */
#include "fakegpu_int.h"

#include <setjmp.h>
#include <signal.h>
#include <string.h>

typedef struct fg_guard {
    sigjmp_buf jb;
    volatile sig_atomic_t sig;
    struct fg_guard *prev; /* guards nest: a twin may copy */
} fg_guard;

/* initial-exec: the handler reads this, and a dlopen'd library's default (dynamic) TLS may
 * allocate on first touch, which a signal handler must not do. */
static __thread fg_guard *fg_top __attribute__((tls_model("initial-exec")));

static const int fg_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
#define FG_NSIGS (sizeof fg_sigs / sizeof fg_sigs[0])
static struct sigaction fg_prev[FG_NSIGS]; /* what we chain to outside a guard */
static pthread_mutex_t fg_guard_lock = PTHREAD_MUTEX_INITIALIZER;

static void fg_on_fault(int sig, siginfo_t *si, void *uc)
{
    fg_guard *g = fg_top;
    if (g) {
        g->sig = sig;
        siglongjmp(g->jb, 1);
    }
    /* Not ours: behave as if we were never installed. */
    const struct sigaction *p = NULL;
    for (size_t i = 0; i < FG_NSIGS; i++)
        if (fg_sigs[i] == sig)
            p = &fg_prev[i];
    if (p && (p->sa_flags & SA_SIGINFO) && p->sa_sigaction) {
        p->sa_sigaction(sig, si, uc);
        return;
    }
    if (p && p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
        p->sa_handler(sig);
        return;
    }
    /* Default action: restore it; a hardware fault re-executes and dies with a core, a
     * signal sent by kill() has to be re-raised. Ignoring a real SIGSEGV would spin. */
    signal(sig, SIG_DFL);
    if (si->si_code <= 0)
        raise(sig);
}

/* Installs (or re-installs) our handler. Checked on every guarded call, not once: the
 * server or a sanitizer may install its own handler after us, and we chain to it. */
static void fg_guard_install(void)
{
    for (size_t i = 0; i < FG_NSIGS; i++) {
        struct sigaction cur;
        if (sigaction(fg_sigs[i], NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
            cur.sa_sigaction == fg_on_fault)
            continue;
        pthread_mutex_lock(&fg_guard_lock);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = fg_on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        struct sigaction old;
        if (sigaction(fg_sigs[i], &sa, &old) == 0 &&
            !((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == fg_on_fault))
            fg_prev[i] = old;
        pthread_mutex_unlock(&fg_guard_lock);
    }
}

int fg_guarded(void (*fn)(void *), void *arg)
{
    fg_guard_install();
    fg_guard g;
    g.sig = 0;
    g.prev = fg_top;
    /* savemask=1: the handler runs with the signal blocked; the jump must unblock it. */
    if (sigsetjmp(g.jb, 1) == 0) {
        fg_top = &g;
        fn(arg);
        fg_top = g.prev;
        return 0;
    }
    fg_top = g.prev;
    return g.sig;
}
