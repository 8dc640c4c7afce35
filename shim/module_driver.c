/* module_driver.c — modules the program hands over through the driver API (cuModuleLoadData): private image copies, functions by name. */
#include "shim/modules.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ driver-API modules ---- */
/* cuModuleLoadData & co. (shim/cuda_driver_api.c): the same lazy loading as a registered fatbin; the
 * module keeps a copy of the image until the executor has it, and owns its functions. */

cudaError_t shim_module_create(const void *image, size_t len, shim_module **out)
{
    shim_module *m = calloc(1, sizeof *m);
    uint8_t *copy = malloc(len ? len : 1);
    if (!m || !copy) {
        free(m);
        free(copy);
        return cudaErrorMemoryAllocation;
    }
    memcpy(copy, image, len);
    m->magic = SHIM_MODULE_MAGIC;
    m->image = m->owned = copy;
    m->len = len;
    m->hash = genie_hash_content(copy, len);
    m->hashed = 1;
    shim_lock();
    int bad = shim_handle_add(m, SHIM_MODULE_MAGIC);
    if (!bad)
        m->id = shim_g.next_module++;
    shim_unlock();
    if (bad) {
        free(copy);
        free(m);
        return cudaErrorMemoryAllocation;
    }
    *out = m;
    return cudaSuccess;
}

cudaError_t shim_module_function(shim_module *m, const char *name, shim_func **out,
                                 int32_t *cu_err)
{
    cudaError_t e = cudaSuccess;
    *cu_err = 0;
    shim_lock();
    shim_func *f;
    for (f = m->funcs; f; f = f->next)
        if (!strcmp(f->device_name, name))
            goto done;
    if ((e = shim_ensure()) != cudaSuccess)
        goto done;
    size_t nl = strlen(name);
    if (!(f = calloc(1, sizeof *f + nl + 1))) {
        e = cudaErrorMemoryAllocation;
        goto done;
    }
    char *copy = (char *)(f + 1); /* the name lives with the function */
    memcpy(copy, name, nl + 1);
    f->magic = SHIM_FUNC_MAGIC;
    f->module = m;
    f->device_name = copy;
    f->id = shim_g.next_func++;
    if ((e = shim_func_prepare(f)) == cudaSuccess && shim_handle_add(f, SHIM_FUNC_MAGIC))
        e = cudaErrorMemoryAllocation;
    if (e != cudaSuccess) {
        *cu_err = f->cu_err;
        free(f->offsets);
        free(f);
        f = NULL;
        goto done;
    }
    f->next = m->funcs;
    m->funcs = f;
done:
    shim_unlock();
    if (e == cudaSuccess)
        *out = f;
    return e;
}

void shim_module_destroy(shim_module *m)
{
    shim_lock();
    for (shim_func *f = m->funcs, *n; f; f = n) {
        n = f->next;
        shim_handle_del(f);
        f->magic = 0;
        free(f->offsets);
        free(f);
    }
    shim_handle_del(m);
    shim_unlock();
    /* the executor keeps the session's binding (there is no unload op); launches recorded
     * before this still run */
    free(m->owned);
    m->magic = 0;
    free(m);
}

