/* register.c — nvcc's registration ABI: fatbins, their functions and device variables, by host address. */
#include "shim/modules.h"
#include "shim/module_image.h"

#include <stdlib.h>
#include <string.h>

/* host function -> shim_func */
static shim_ptrmap ftab;
/* host shadow variable -> shim_var */
static shim_ptrmap vtab;

shim_var *shim_var_lookup(const void *host_var)
{
    return host_var ? shim_ptrmap_get(&vtab, host_var) : NULL;
}

/* Lock held. */
shim_func *shim_func_lookup_locked(const void *p)
{
    shim_func *f = shim_ptrmap_get(&ftab, p);
    if (f)
        return f;
    /* a cudaKernel_t from __cudaGetKernel is our shim_func itself: a live handle */
    return shim_handle_is(p, SHIM_FUNC_MAGIC) ? (shim_func *)p : NULL;
}

shim_func *shim_func_lookup(const void *p)
{
    shim_lock();
    shim_func *f = shim_func_lookup_locked(p);
    shim_unlock();
    return f;
}

/* ----------------------------------------------------------- registration ---- */

GENIE_EXPORT void **__cudaRegisterFatBinary(void *fatCubin)
{
    shim_count(GENIE_APIX___cudaRegisterFatBinary);
    shim_module *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->magic = SHIM_MODULE_MAGIC;
    /* nvcc's fatbin wrapper {magic, version, data, ...}, its fatbin in the program's memory */
    const uint8_t *start = NULL;
    const char *why = "no fatbin wrapper";
    uint64_t len = 0;
    uint32_t magic = 0;
    if (fatCubin)
        memcpy(&magic, fatCubin, sizeof magic);
    if (magic == SHIM_FATBIN_WRAPPER_MAGIC)
        len = shim_image_size(fatCubin, UINT64_MAX, &start, &why);
    else if (fatCubin)
        why = "not a fatbin wrapper";
    if (len) {
        m->image = start;
        m->len = (size_t)len;
    } else {
        GENIE_WARN("__cudaRegisterFatBinary: %s; its kernels will fail to launch", why);
    }
    shim_lock();
    m->id = shim_g.next_module++;
    shim_g.stats.fatbins_registered++;
    shim_g.stats.fatbin_bytes_registered += m->len;
    shim_unlock();
    return (void **)m;
}

GENIE_EXPORT void __cudaRegisterFatBinaryEnd(void **fatCubinHandle)
{
    shim_count(GENIE_APIX___cudaRegisterFatBinaryEnd);
    (void)fatCubinHandle;
}

GENIE_EXPORT void __cudaUnregisterFatBinary(void **fatCubinHandle)
{
    /* Runs from atexit. The executor keeps the module cached for other processes; the
     * session's binding dies with the session, so there is nothing to send. */
    shim_count(GENIE_APIX___cudaUnregisterFatBinary);
    (void)fatCubinHandle;
}

GENIE_EXPORT void __cudaRegisterFunction(void **fatCubinHandle, const char *hostFun,
                                         char *deviceFun, const char *deviceName,
                                         int thread_limit, uint3 *tid, uint3 *bid, dim3 *bDim,
                                         dim3 *gDim, int *wSize)
{
    (void)deviceFun, (void)thread_limit, (void)tid, (void)bid, (void)bDim, (void)gDim,
        (void)wSize;
    shim_count(GENIE_APIX___cudaRegisterFunction);
    shim_module *m = (shim_module *)fatCubinHandle;
    if (!m || m->magic != SHIM_MODULE_MAGIC || !deviceName)
        return;
    shim_func *f = calloc(1, sizeof *f);
    if (!f)
        return;
    f->magic = SHIM_FUNC_MAGIC;
    f->module = m;
    f->host_fun = hostFun;
    f->device_name = deviceName;
    shim_lock();
    f->id = shim_g.next_func++;
    /* re-registration (a module loaded twice): the newest wins the host function */
    if (shim_handle_add(f, SHIM_FUNC_MAGIC)) {
        free(f);
    } else if (shim_ptrmap_put(&ftab, hostFun, f)) {
        shim_handle_del(f);
        free(f);
    }
    shim_unlock();
}

GENIE_EXPORT void __cudaRegisterVar(void **fatCubinHandle, char *hostVar, char *deviceAddress,
                                    const char *deviceName, int ext, size_t size, int constant,
                                    int global)
{
    (void)deviceAddress, (void)ext, (void)constant, (void)global;
    shim_count(GENIE_APIX___cudaRegisterVar);
    shim_module *m = (shim_module *)fatCubinHandle;
    if (!m || m->magic != SHIM_MODULE_MAGIC || !deviceName || !hostVar)
        return;
    shim_var *v = calloc(1, sizeof *v);
    if (!v)
        return;
    v->module = m;
    v->name = deviceName;
    v->size = size;
    shim_lock();
    m->has_vars = 1;
    if (shim_ptrmap_put(&vtab, hostVar, v))
        free(v);
    shim_unlock();
}

GENIE_EXPORT void __cudaRegisterManagedVar(void **fatCubinHandle, void **hostVarPtrAddress,
                                           char *deviceAddress, const char *deviceName, int ext,
                                           size_t size, int constant, int global)
{
    (void)fatCubinHandle, (void)hostVarPtrAddress, (void)deviceAddress, (void)ext, (void)size,
        (void)constant, (void)global;
    shim_count(GENIE_APIX___cudaRegisterManagedVar);
    GENIE_WARN("managed variable %s: managed memory is not supported by Genie",
               deviceName ? deviceName : "?");
}

GENIE_EXPORT char __cudaInitModule(void **fatCubinHandle)
{
    shim_count(GENIE_APIX___cudaInitModule);
    (void)fatCubinHandle;
    return 1;
}


/* ---- cudaDeviceReset ---- */

static void driver_module_forget(void *m)
{
    shim_module_destroy(m); /* its functions with it */
}

static void func_unbind(void *p)
{
    shim_func *f = p;
    f->ready = 0;
    f->cu_err = 0;
    f->module->loaded = 0;
}

/* Driver-API modules end with the context (their image copies are gone once loaded); the
 * program's registered kernels and variables stay and bind again on first use, as the
 * runtime loads its modules lazily: a private module (with variables) starts over from its
 * image's initial values. */
void shim_modules_forget(void)
{
    SHIM_HELD();
    shim_handles_each(SHIM_MODULE_MAGIC, driver_module_forget);
    shim_handles_each(SHIM_FUNC_MAGIC, func_unbind); /* the registered ones are left */
    for (size_t j = 0; j < vtab.cap; j++) {
        shim_var *v = vtab.keys[j] ? vtab.vals[j] : NULL;
        if (v) {
            v->dptr = 0;
            v->module->loaded = 0;
        }
    }
}
