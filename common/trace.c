/* trace.c — call-site traces for error reports: who called the API Genie refused.
 *
 * LLVM libunwind walks the stack (linked statically with its symbols hidden, so that its
 * _Unwind_* never interpose on the program's C++ exception handling); dladdr names each
 * frame. Frames inside the object that holds Genie itself are left out: the user wants the
 * first frames of their program or framework, e.g. libtorch_cuda.so, not the shim's. */
#define _GNU_SOURCE
#include "common/genie.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <libunwind.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* the load address of the object this file is linked into */
static const void *own_base(void)
{
    static const void *base;
    if (!base) {
        Dl_info di;
        if (dladdr((const void *)&own_base, &di))
            base = di.dli_fbase;
    }
    return base;
}

int genie_callers(uintptr_t *pcs, int max)
{
    if (max <= 0)
        return 0;
    unw_context_t ctx;
    unw_cursor_t cur;
    if (unw_getcontext(&ctx) || unw_init_local(&cur, &ctx))
        return 0;
    const void *self = own_base();
    int n = 0;
    /* 64 frames at most: enough to climb out of Genie, bounded if the stack is corrupt */
    for (int depth = 0; depth < 64 && n < max && unw_step(&cur) > 0; depth++) {
        unw_word_t ip = 0;
        if (unw_get_reg(&cur, UNW_REG_IP, &ip) || ip == 0)
            break;
        Dl_info di;
        /* ip is a return address: ip - 1 lies inside the calling instruction */
        if (self && dladdr((const void *)(ip - 1), &di) && di.dli_fbase == self)
            continue;
        pcs[n++] = (uintptr_t)ip;
    }
    return n;
}

void genie_pc_name(uintptr_t pc, char *buf, size_t n)
{
    Dl_info di;
    if (!n)
        return;
    if (!pc || !dladdr((const void *)(pc - 1), &di) || !di.dli_fname) {
        snprintf(buf, n, "0x%" PRIxPTR, pc);
        return;
    }
    const char *obj = strrchr(di.dli_fname, '/');
    obj = obj ? obj + 1 : di.dli_fname;
    if (!*obj)
        obj = "(main program)";
    if (di.dli_sname && di.dli_saddr)
        snprintf(buf, n, "%s+0x%" PRIxPTR " (%s)", di.dli_sname, pc - (uintptr_t)di.dli_saddr,
                 obj);
    else
        snprintf(buf, n, "%s+0x%" PRIxPTR, obj, pc - (uintptr_t)di.dli_fbase);
}

int genie_callers_str(char *buf, size_t n, int depth)
{
    uintptr_t pcs[16];
    if (depth > 16)
        depth = 16;
    int k = genie_callers(pcs, depth);
    size_t len = 0;
    if (n)
        buf[0] = 0;
    for (int i = 0; i < k && len + 1 < n; i++) {
        char name[256];
        genie_pc_name(pcs[i], name, sizeof name);
        int w = snprintf(buf + len, n - len, "%s%s", i ? " <- " : "", name);
        if (w < 0)
            break;
        len += (size_t)w < n - len ? (size_t)w : n - len - 1;
    }
    return k;
}

void genie_warn_once_at(_Atomic unsigned char *once, const char *fmt, ...)
{
    if (once && atomic_exchange(once, 1))
        return;
    if (genie_log_level < GENIE_LOG_WARN)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    static int depth = -1;
    if (depth < 0)
        depth = (int)genie_env_int("GENIE_TRACE_DEPTH", 3);
    char where[768];
    if (depth > 0 && genie_callers_str(where, sizeof where, depth) > 0)
        genie_log(GENIE_LOG_WARN, "%s (called from %s)", msg, where);
    else
        genie_log(GENIE_LOG_WARN, "%s", msg);
}
