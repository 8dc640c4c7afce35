/* test_twin_registry.c — stand-in twin registry for test_workload_twins when the fake GPU library is not built. */
#include <stdio.h>
#include <string.h>

#include "tests/fakegpu/fakegpu_twin.h"

/* Fixed table: the workloads register a dozen twins; registration runs from constructors,
 * before main, single-threaded, so no lock. A repeated name updates its entry. */
#define WL_MAX_TWINS 64
static fg_twin wl_twins[WL_MAX_TWINS];
static unsigned wl_ntwins;

void fg_twin_register(const fg_twin *t)
{
    for (unsigned i = 0; i < wl_ntwins; i++)
        if (!strcmp(wl_twins[i].name, t->name)) {
            wl_twins[i] = *t;
            return;
        }
    if (wl_ntwins == WL_MAX_TWINS) {
        fprintf(stderr, "test_twin_registry: table full at %s\n", t->name);
        return;
    }
    wl_twins[wl_ntwins++] = *t; /* name is a string literal: borrowed for the process */
}

const fg_twin *fg_twin_find(const char *name)
{
    for (unsigned i = 0; i < wl_ntwins; i++)
        if (!strcmp(wl_twins[i].name, name))
            return &wl_twins[i];
    return NULL;
}
