/* handles.c — the registry of live client handles (streams, events, modules, functions, graphs, library handles). */
#include "shim/shim_int.h"

#include <stdlib.h>

/* pointer -> its kind (the magic, never 0), as the map's value */
static shim_ptrmap handles;
static uint32_t generation; /* registrations so far */

int shim_handle_add(void *h, uint32_t kind)
{
    if (shim_ptrmap_put(&handles, h, (void *)(uintptr_t)kind))
        return GENIE_ENOMEM;
    shim_handle *hd = h;
    hd->magic = kind;
    hd->generation = ++generation;
    return 0;
}

/* kind 0: any kind */
int shim_handle_is(const void *p, uint32_t kind)
{
    uintptr_t k = (uintptr_t)shim_ptrmap_get(&handles, p);
    return k && (!kind || k == kind);
}

void *shim_handle_of(const void *p, uint32_t kind)
{
    return shim_handle_is(p, kind) ? (void *)p : NULL;
}

void shim_handle_del(void *h)
{
    shim_ptrmap_del(&handles, h);
    ((shim_handle *)h)->magic = 0;
}

void shim_handles_each(uint32_t kind, void (*visit)(void *h))
{
    /* collected first: visit may unregister the handle, which moves the map's entries */
    size_t n = 0;
    void **hs = handles.n ? malloc(handles.n * sizeof *hs) : NULL;
    if (handles.n && !hs) {
        GENIE_ERROR("out of memory walking the handle registry");
        return;
    }
    for (size_t j = 0; j < handles.cap; j++)
        if (handles.keys[j] && (uintptr_t)handles.vals[j] == kind)
            hs[n++] = (void *)handles.keys[j];
    for (size_t i = 0; i < n; i++)
        if (shim_handle_is(hs[i], kind)) /* an earlier visit may have dropped it */
            visit(hs[i]);
    free(hs);
}
