/* ops_module.c — modules (process-wide cache by content hash), kernels and their parameter layouts,
 * launches. */
#include "remote/exec_int.h"

#include <stdlib.h>
#include <string.h>

/* Most kernel parameter buffers are far smaller; CUDA 12.1+ allows 32764 bytes of them. */
#define EXEC_MAX_PARAMS 32768u

/* Caller holds ctx->lock. */
static exec_module *module_find(exec_ctx *c, uint64_t lo, uint64_t hi)
{
    for (exec_module *m = c->modules; m; m = m->next)
        if (m->hash.lo == lo && m->hash.hi == hi)
            return m;
    return NULL;
}

static int bind(exec_idmap *m, uint32_t id, void *val)
{
    exec_idmap_del(m, id);
    return exec_idmap_put(m, id, val);
}

/* The driver gets an image without its length and trusts its headers: a fatbin whose header
 * claims more bytes than arrived would have it (or the fake GPU, which reads the cubin's
 * parameter layouts) read past the copy, and a fatbin wrapper holds a pointer into this
 * process. Neither reaches it; the shim sends a wrapper's fatbin, never the wrapper. */
static CUresult check_image(const uint8_t *image, size_t len)
{
    uint32_t magic;
    if (len < 4)
        return 0; /* the driver judges */
    memcpy(&magic, image, 4);
    if (magic == 0x466243b1u) /* __fatBinC_Wrapper_t */
        return CUDA_ERROR_INVALID_IMAGE;
    if (magic == 0xba55ed50u) { /* fatbin: u32 magic, u16 version, u16 header size, u64 size */
        uint16_t hsize;
        uint64_t size;
        if (len < 16)
            return CUDA_ERROR_INVALID_IMAGE;
        memcpy(&hsize, image + 6, 2);
        memcpy(&size, image + 8, 8);
        if (hsize < 16 || hsize > len || size > len - hsize)
            return CUDA_ERROR_INVALID_IMAGE;
    }
    return 0;
}

/* cuModuleLoadData from an aligned, NUL-terminated copy: record bodies are only 4-byte aligned
 * and PTX must end in a NUL (the scratch buffer, reused; the driver keeps no pointer). */
static CUresult load_image(exec_session *s, const uint8_t *image, size_t len, CUmodule *mod)
{
    CUresult bad = check_image(image, len);
    if (bad)
        return bad;
    genie_buf_reset(&s->scratch);
    CUresult r = CUDA_ERROR_OUT_OF_MEMORY;
    if (!genie_buf_append(&s->scratch, image, len) && !genie_buf_append(&s->scratch, "", 1))
        r = EXEC_CU(&s->ctx->drv, ModuleLoadData, mod, s->scratch.data);
    if (s->scratch.cap > (16u << 20)) /* do not keep a big image's copy for the session's life */
        genie_buf_free(&s->scratch);
    return r;
}

int exec_op_MODULE_LOAD(exec_session *s, uint32_t index, const proto_MODULE_LOAD *a)
{
    exec_ctx *c = s->ctx;
    if (a->image_len) {
        /* Check the bytes before taking the lock: hashing a large fatbin takes a while. */
        genie_hash128 h = genie_hash_content(a->image, a->image_len);
        if (h.lo != a->hash_lo || h.hi != a->hash_hi)
            return exec_fail(
                s, index, EXEC_cudaErrorInvalidValue, 0,
                "MODULE_LOAD: module %u image (%zu bytes) does not match its hash %016llx%016llx",
                a->module, a->image_len, (unsigned long long)a->hash_hi,
                (unsigned long long)a->hash_lo);
    }
    /* Scoped by tenant like the weight cache: a module another tenant loaded is not found
     * (it would load faster and tell that someone runs the same kernels). */
    genie_hash128 key = exec_cache_key(s, (genie_hash128){a->hash_lo, a->hash_hi},
                                       c->limits.module_cache_global);
    pthread_mutex_lock(&c->lock);
    exec_module *m = module_find(c, key.lo, key.hi);
    if (!m && a->image_len) {
        CUmodule mod;
        CUresult r = load_image(s, a->image, a->image_len, &mod);
        if (!r && !(m = calloc(1, sizeof *m))) {
            (void)EXEC_CU(&c->drv, ModuleUnload, mod);
            r = CUDA_ERROR_OUT_OF_MEMORY;
        }
        if (r) {
            pthread_mutex_unlock(&c->lock);
            return exec_cufail(s, index, r, "MODULE_LOAD: cuModuleLoadData");
        }
        m->hash = key;
        m->mod = mod;
        m->next = c->modules;
        c->modules = m;
    }
    pthread_mutex_unlock(&c->lock);
    if (!m)
        exec_idmap_del(&s->modules, a->module); /* "not here": the client sends the bytes next */
    else if (bind(&s->modules, a->module, m))
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "MODULE_LOAD: %s",
                         genie_strerror(GENIE_ENOMEM));
    return proto_put_R_MODULE(&s->reply, index, a->module, m != NULL) ? 0 : GENIE_ENOMEM;
}

/* A name field (a kernel's, a variable's) as a C string in the scratch buffer: at most one
 * trailing NUL, none inside, not empty. NULL after an R_ERROR, with *rc to return. */
static const char *op_name(exec_session *s, uint32_t index, const char *op, const uint8_t *name,
                           size_t len, int *rc)
{
    if (len && name[len - 1] == 0)
        len--;
    if (!len || memchr(name, 0, len)) {
        *rc = exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0, "%s: bad name", op);
        return NULL;
    }
    genie_buf_reset(&s->scratch);
    if (genie_buf_append(&s->scratch, name, len) || genie_buf_append(&s->scratch, "", 1)) {
        *rc = exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "%s: %s", op,
                        genie_strerror(GENIE_ENOMEM));
        return NULL;
    }
    return (const char *)s->scratch.data;
}

/* A module with device variables, for this session alone: its variables must not be shared
 * with (or written by) other sessions, so it never enters the cache. */
int exec_op_MODULE_LOAD_PRIVATE(exec_session *s, uint32_t index,
                                const proto_MODULE_LOAD_PRIVATE *a)
{
    exec_driver *d = &s->ctx->drv;
    if (!a->image_len)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "MODULE_LOAD_PRIVATE: module %u has no image", a->module);
    CUmodule mod;
    CUresult r = load_image(s, a->image, a->image_len, &mod);
    if (r)
        return exec_cufail(s, index, r, "MODULE_LOAD_PRIVATE: cuModuleLoadData");
    exec_module *m = calloc(1, sizeof *m);
    if (!m || bind(&s->modules, a->module, m)) {
        (void)EXEC_CU(d, ModuleUnload, mod);
        free(m);
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "MODULE_LOAD_PRIVATE: %s",
                         genie_strerror(GENIE_ENOMEM));
    }
    m->mod = mod;
    m->next = s->private_modules;
    s->private_modules = m;
    return proto_put_R_MODULE(&s->reply, index, a->module, 1) ? 0 : GENIE_ENOMEM;
}

int exec_op_GLOBAL_GET(exec_session *s, uint32_t index, const proto_GLOBAL_GET *a)
{
    exec_driver *d = &s->ctx->drv;
    exec_module *m = exec_idmap_get(&s->modules, a->module), *p;
    for (p = s->private_modules; p && p != m; p = p->next)
        ;
    if (!m)
        return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, CUDA_ERROR_INVALID_HANDLE,
                         "GLOBAL_GET: unknown module %u", a->module);
    if (!p) /* a shared module's variables would be every session's */
        return exec_fail(s, index, EXEC_cudaErrorInvalidSymbol, 0,
                         "GLOBAL_GET: module %u was not loaded privately", a->module);
    int rc;
    const char *name = op_name(s, index, "GLOBAL_GET", a->name, a->name_len, &rc);
    if (!name)
        return rc;
    CUdeviceptr ptr;
    size_t size;
    CUresult r = EXEC_CU(d, ModuleGetGlobal, &ptr, &size, m->mod, name);
    if (r == CUDA_ERROR_NOT_FOUND)
        return exec_fail(s, index, EXEC_cudaErrorInvalidSymbol, r,
                         "GLOBAL_GET: no device variable %s in module %u", name, a->module);
    if (r)
        return exec_cufail(s, index, r, "GLOBAL_GET: cuModuleGetGlobal");
    size_t k;
    for (k = 0; k < s->nglobals; k++)
        if (s->globals[k].ptr == ptr)
            break;
    if (k == s->nglobals) {
        if (s->nglobals == s->capglobals) {
            size_t cap = s->capglobals ? 2 * s->capglobals : 8;
            exec_global *g = realloc(s->globals, cap * sizeof *g);
            if (!g)
                return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "GLOBAL_GET: %s",
                                 genie_strerror(GENIE_ENOMEM));
            s->globals = g;
            s->capglobals = cap;
        }
        s->globals[s->nglobals++] = (exec_global){ptr, size};
    }
    return proto_put_R_GLOBAL(&s->reply, ptr, size, index) ? 0 : GENIE_ENOMEM;
}

void exec_module_session_close(exec_session *s)
{
    exec_driver *d = &s->ctx->drv;
    for (exec_module *m = s->private_modules, *n; m; m = n) {
        n = m->next;
        (void)EXEC_CU(d, ModuleUnload, m->mod);
        free(m);
    }
    s->private_modules = NULL;
    free(s->globals);
    s->globals = NULL;
    s->nglobals = s->capglobals = 0;
}

int exec_op_FUNC_GET(exec_session *s, uint32_t index, const proto_FUNC_GET *a)
{
    exec_driver *d = &s->ctx->drv;
    exec_module *m = exec_idmap_get(&s->modules, a->module);
    if (!m)
        return exec_fail(s, index, EXEC_cudaErrorInvalidResourceHandle, CUDA_ERROR_INVALID_HANDLE,
                         "FUNC_GET: unknown module %u", a->module);
    int rc;
    const char *name = op_name(s, index, "FUNC_GET", a->name, a->name_len, &rc);
    if (!name)
        return rc;
    CUfunction f;
    CUresult r = EXEC_CU(d, ModuleGetFunction, &f, m->mod, name);
    if (r == CUDA_ERROR_NOT_FOUND)
        return exec_fail(s, index, EXEC_cudaErrorInvalidDeviceFunction, r,
                         "FUNC_GET: no kernel %s in module %u", name, a->module);
    if (r)
        return exec_cufail(s, index, r, "FUNC_GET: cuModuleGetFunction");
    if (!d->FuncGetParamInfo)
        return exec_fail(s, index, EXEC_cudaErrorNotSupported, CUDA_ERROR_NOT_SUPPORTED,
                         "FUNC_GET: the driver lacks cuFuncGetParamInfo (CUDA >= 12.4 needed)");
    /* Parameters are counted by asking until the driver says there is no such index
     * (CUDA_ERROR_INVALID_VALUE, documented for paramIndex >= the count). Any other answer
     * (an unloadable lazy module, a sticky context error) fails the lookup: taking it for
     * "no more parameters" would record a short layout, and every launch of the kernel
     * would then pass too few parameters. */
    uint32_t np = 0;
    size_t off, sz;
    for (; np < EXEC_MAX_PARAMS; np++) {
        r = d->FuncGetParamInfo(f, np, &off, &sz);
        if (r == CUDA_ERROR_INVALID_VALUE)
            break;
        if (r)
            return exec_cufail(s, index, r, "FUNC_GET: cuFuncGetParamInfo");
    }
    exec_func *fn = malloc(sizeof *fn + (size_t)np * 2 * sizeof(uint32_t));
    if (!fn)
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "FUNC_GET: %s",
                         genie_strerror(GENIE_ENOMEM));
    fn->f = f;
    fn->nparams = np;
    fn->need = 0;
    for (uint32_t i = 0; i < np; i++) {
        if (d->FuncGetParamInfo(f, i, &off, &sz) != CUDA_SUCCESS || off > UINT32_MAX ||
            sz > UINT32_MAX) {
            free(fn);
            return exec_fail(s, index, EXEC_cudaErrorUnknown, 0,
                             "FUNC_GET: %s: parameter %u unreadable", name, i);
        }
        fn->layout[2 * i] = (uint32_t)off;
        fn->layout[2 * i + 1] = (uint32_t)sz;
        if ((uint64_t)off + sz > fn->need)
            fn->need = (uint64_t)off + sz;
    }
    uint8_t *p = proto_put_R_FUNC(&s->reply, index, a->func, np, (size_t)np * 8);
    if (!p) {
        free(fn);
        return GENIE_ENOMEM;
    }
    memcpy(p, fn->layout, (size_t)np * 8);
    free(exec_idmap_del(&s->funcs, a->func));
    if (exec_idmap_put(&s->funcs, a->func, fn)) {
        free(fn);
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "FUNC_GET: %s",
                         genie_strerror(GENIE_ENOMEM));
    }
    return 0;
}

static int func_of(exec_session *s, uint32_t index, uint32_t id, const char *op, exec_func **out)
{
    *out = exec_idmap_get(&s->funcs, id);
    if (*out)
        return 0;
    return exec_fail(s, index, EXEC_cudaErrorInvalidDeviceFunction, 0, "%s: unknown function %u",
                     op, id);
}

/* LAUNCH and LAUNCH_COOP (the same fields: the generator gives each its own struct). */
static int launch(exec_session *s, uint32_t index, const proto_LAUNCH *a, int coop);

int exec_op_LAUNCH(exec_session *s, uint32_t index, const proto_LAUNCH *a)
{
    return launch(s, index, a, 0);
}

int exec_op_LAUNCH_COOP(exec_session *s, uint32_t index, const proto_LAUNCH_COOP *c)
{
    proto_LAUNCH a = {c->func, c->stream, c->gx, c->gy, c->gz, c->bx, c->by, c->bz, c->shmem,
                      c->params, c->params_len};
    return launch(s, index, &a, 1);
}

static int launch(exec_session *s, uint32_t index, const proto_LAUNCH *a, int coop)
{
    exec_func *fn;
    CUstream st;
    int e;
    if ((e = func_of(s, index, a->func, "LAUNCH", &fn)) ||
        (e = exec_stream(s, index, a->stream, "LAUNCH", &st)))
        return e;
    if (a->params_len < fn->need)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "LAUNCH: function %u: %zu parameter bytes, its layout needs %llu", a->func,
                         a->params_len, (unsigned long long)fn->need);
    /* Copy the parameters to an aligned buffer (in the record they are only 4-byte aligned)
     * and point kernelParams into it. Both buffers are reused from launch to launch. */
    genie_buf_reset(&s->scratch);
    if (genie_buf_append(&s->scratch, a->params, a->params_len))
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "LAUNCH: %s",
                         genie_strerror(GENIE_ENOMEM));
    if (fn->nparams > s->capkparams) {
        void **kp = realloc(s->kparams, fn->nparams * sizeof *kp);
        if (!kp)
            return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, 0, "LAUNCH: %s",
                             genie_strerror(GENIE_ENOMEM));
        s->kparams = kp;
        s->capkparams = fn->nparams;
    }
    for (uint32_t i = 0; i < fn->nparams; i++)
        s->kparams[i] = s->scratch.data + fn->layout[2 * i];
    CUresult r;
    if (!coop) {
        r = EXEC_CU(&s->ctx->drv, LaunchKernel, fn->f, a->gx, a->gy, a->gz, a->bx, a->by, a->bz,
                    a->shmem, st, fn->nparams ? s->kparams : NULL, NULL);
    } else {
        /* the driver checks the device's support and that the grid fits on it at once */
        r = EXEC_CU(&s->ctx->drv, LaunchCooperativeKernel, fn->f, a->gx, a->gy, a->gz, a->bx,
                    a->by, a->bz, a->shmem, st, fn->nparams ? s->kparams : NULL);
        if (r)
            return exec_cufail(s, index, r, "LAUNCH_COOP: cuLaunchCooperativeKernel");
        return 0;
    }
    if (r == CUDA_ERROR_INVALID_VALUE) /* what cudaLaunchKernel reports for a bad grid or block */
        return exec_fail(s, index, EXEC_cudaErrorInvalidConfiguration, r,
                         "LAUNCH: invalid configuration grid (%u,%u,%u) block (%u,%u,%u) shmem %u",
                         a->gx, a->gy, a->gz, a->bx, a->by, a->bz, a->shmem);
    return r ? exec_cufail(s, index, r, "LAUNCH: cuLaunchKernel") : 0;
}

int exec_op_FUNC_ATTR(exec_session *s, uint32_t index, const proto_FUNC_ATTR *a)
{
    exec_func *fn;
    int e = func_of(s, index, a->func, "FUNC_ATTR", &fn);
    if (e)
        return e;
    int v = 0;
    CUresult r = EXEC_CU(&s->ctx->drv, FuncGetAttribute, &v, (CUfunction_attribute)a->attr, fn->f);
    if (r)
        return exec_cufail(s, index, r, "FUNC_ATTR: cuFuncGetAttribute");
    return proto_put_R_VALUE(&s->reply, (uint64_t)(int64_t)v, index, 0) ? 0 : GENIE_ENOMEM;
}

int exec_op_OCCUPANCY(exec_session *s, uint32_t index, const proto_OCCUPANCY *a)
{
    exec_func *fn;
    int e = func_of(s, index, a->func, "OCCUPANCY", &fn);
    if (e)
        return e;
    if (a->block > INT32_MAX)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0, "OCCUPANCY: block size %u",
                         a->block);
    int n = 0;
    CUresult r = EXEC_CU(&s->ctx->drv, OccupancyMaxActiveBlocks, &n, fn->f, (int)a->block,
                         (size_t)a->shmem, a->flags);
    if (r)
        return exec_cufail(s, index, r,
                           "OCCUPANCY: cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags");
    return proto_put_R_VALUE(&s->reply, (uint64_t)(int64_t)n, index, 0) ? 0 : GENIE_ENOMEM;
}

int exec_op_FUNC_SET_ATTR(exec_session *s, uint32_t index, const proto_FUNC_SET_ATTR *a)
{
    exec_func *fn;
    int e = func_of(s, index, a->func, "FUNC_SET_ATTR", &fn);
    if (e)
        return e;
    CUresult r =
        EXEC_CU(&s->ctx->drv, FuncSetAttribute, fn->f, (CUfunction_attribute)a->attr, a->value);
    return r ? exec_cufail(s, index, r, "FUNC_SET_ATTR: cuFuncSetAttribute") : 0;
}
