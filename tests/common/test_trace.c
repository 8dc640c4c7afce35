/* test_trace.c — tests common/trace.c: call-site traces leave Genie's own object out. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/genie.h"

/* ASan interposes qsort and fclose: their frames and addresses are in its runtime */
#if defined(__SANITIZE_ADDRESS__)
#define LIBC_OR_INTERCEPTOR "libasan.so"
#else
#define LIBC_OR_INTERCEPTOR "libc.so.6"
#endif

/* genie_common is linked into this executable, so "Genie's object" is the test itself:
 * every frame genie_callers returns must lie in another object. */
static const void *exe_base(void)
{
    Dl_info di;
    cr_assert(dladdr((const void *)&exe_base, &di));
    return di.dli_fbase;
}

static uintptr_t seen[8];
static int nseen;

static int cmp_and_trace(const void *a, const void *b)
{
    if (!nseen)
        nseen = genie_callers(seen, 8);
    return *(const int *)a - *(const int *)b;
}

Test(trace, callers_skip_own_object_and_climb_through_libc)
{
    int v[64];
    for (int i = 0; i < 64; i++)
        v[i] = 64 - i;
    nseen = 0;
    /* the comparator runs inside libc's qsort: the first foreign frame is qsort's */
    qsort(v, 64, sizeof v[0], cmp_and_trace);
    cr_assert_gt(nseen, 0, "no frame outside the test executable");
    for (int i = 0; i < nseen; i++) {
        Dl_info di;
        cr_assert(dladdr((const void *)(seen[i] - 1), &di), "frame %d unknown to dladdr", i);
        cr_assert_neq(di.dli_fbase, exe_base(), "frame %d lies in Genie's own object", i);
    }
    char name[256];
    genie_pc_name(seen[0], name, sizeof name);
    cr_assert(strstr(name, LIBC_OR_INTERCEPTOR), "first foreign frame is %s, not qsort's", name);
}

Test(trace, pc_name_gives_symbol_offset_and_object)
{
    char name[256];
    genie_pc_name((uintptr_t)&fclose + 1, name, sizeof name);
    cr_assert(strstr(name, "+0x1 (" LIBC_OR_INTERCEPTOR), "got %s", name);
    genie_pc_name(0, name, sizeof name);
    cr_assert_str_eq(name, "0x0");
}

Test(trace, callers_str_joins_frames_and_respects_depth)
{
    char buf[1024];
    int k = genie_callers_str(buf, sizeof buf, 1);
    cr_assert_eq(k, 1, "expected one frame outside the executable (the test runner's libc)");
    cr_assert_null(strstr(buf, " <- "), "depth 1 gave %s", buf);
    cr_assert_eq(genie_callers_str(buf, sizeof buf, 0), 0);
    cr_assert_str_eq(buf, "");
}
