/* ctx.c — the process-wide executor context: driver, primary context, device description, module
 * cache. */
#include "remote/exec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int ctx_fail(exec_ctx *c, CUresult r, const char *what, char *err, size_t errlen)
{
    char nb[32];
    snprintf(err, errlen, "%s: %s", what, exec_cu_name(&c->drv, r, nb, sizeof nb));
    return GENIE_EDRIVER;
}

/* Fills the device description once: HELLO replies copy it. */
static int ctx_devinfo(exec_ctx *c, char *err, size_t errlen)
{
    exec_driver *d = &c->drv;
    proto_devinfo *di = &c->devinfo;
    CUresult r;
    int v;
    if ((r = d->DeviceGetName(di->name, (int)sizeof di->name - 1, c->dev)))
        return ctx_fail(c, r, "cuDeviceGetName", err, errlen);
    size_t total = 0;
    if ((r = d->DeviceTotalMem(&total, c->dev)))
        return ctx_fail(c, r, "cuDeviceTotalMem", err, errlen);
    di->total_mem = total;
    CUuuid u;
    if (d->DeviceGetUuid && d->DeviceGetUuid(&u, c->dev) == CUDA_SUCCESS)
        memcpy(di->uuid, u.bytes, sizeof di->uuid);
    if ((r = d->DriverGetVersion(&v)))
        return ctx_fail(c, r, "cuDriverGetVersion", err, errlen);
    di->driver_version = v;
    _Static_assert(CU_DEVICE_ATTRIBUTE_MAX <= PROTO_MAX_ATTRS, "proto_devinfo.attrs too small");
    di->nattrs = CU_DEVICE_ATTRIBUTE_MAX;
    for (int i = 1; i < CU_DEVICE_ATTRIBUTE_MAX; i++)
        if (d->DeviceGetAttribute(&v, (CUdevice_attribute)i, c->dev) == CUDA_SUCCESS)
            di->attrs[i] = v;
    return 0;
}

/* The context this thread last made current, and the generation it was made in: any open,
 * reset or close of a context starts a new generation, after which every thread sets its
 * context again. Sessions run each on their own thread, and nothing else in genie-remote
 * changes a thread's context, so a batch needs no cuCtxSetCurrent when its thread's is
 * already the session's (the runtime keeps the same per-thread note). */
static uint64_t ctx_gen = 1;
static _Thread_local struct {
    CUcontext ctx;
    uint64_t gen;
} tl_current;

static void ctx_gen_bump(void)
{
    __atomic_fetch_add(&ctx_gen, 1, __ATOMIC_ACQ_REL);
}

CUresult exec_ctx_make_current(exec_ctx *c)
{
    uint64_t gen = __atomic_load_n(&ctx_gen, __ATOMIC_ACQUIRE);
    if (tl_current.gen == gen && tl_current.ctx == c->primary && c->primary)
        return CUDA_SUCCESS;
    CUresult r = c->drv.CtxSetCurrent(c->primary);
    tl_current.ctx = r ? NULL : c->primary;
    tl_current.gen = gen;
    return r;
}

int exec_ctx_open(const char *token, exec_ctx **out, char *err, size_t errlen)
{
    *out = NULL;
    exec_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "%s", genie_strerror(GENIE_ENOMEM));
        return GENIE_ENOMEM;
    }
    int rc =
        exec_driver_load(genie_env_str("GENIE_CUDA_LIB", "libcuda.so.1"), &c->drv, err, errlen);
    if (rc)
        goto fail;
    exec_driver *d = &c->drv;
    CUresult r;
    int n = 0;
    if ((r = d->Init(0))) {
        rc = ctx_fail(c, r, "cuInit", err, errlen);
        goto fail;
    }
    if ((r = d->DeviceGetCount(&n)) || n < 1) {
        rc = ctx_fail(c, r ? r : CUDA_ERROR_NO_DEVICE, "cuDeviceGetCount", err, errlen);
        goto fail;
    }
    if ((r = d->DeviceGet(&c->dev, 0))) {
        rc = ctx_fail(c, r, "cuDeviceGet", err, errlen);
        goto fail;
    }
    ctx_gen_bump();
    if ((r = d->PrimaryCtxRetain(&c->primary, c->dev))) {
        rc = ctx_fail(c, r, "cuDevicePrimaryCtxRetain", err, errlen);
        goto fail;
    }
    if ((r = d->CtxSetCurrent(c->primary))) {
        rc = ctx_fail(c, r, "cuCtxSetCurrent", err, errlen);
        goto fail_ctx;
    }
    CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = c->dev}};
    if ((r = d->MemGetAllocationGranularity(&c->granularity, &prop,
                                            CU_MEM_ALLOC_GRANULARITY_MINIMUM))) {
        rc = ctx_fail(c, r, "cuMemGetAllocationGranularity", err, errlen);
        goto fail_ctx;
    }
    if (!c->granularity || (c->granularity & (c->granularity - 1))) {
        snprintf(err, errlen, "odd VMM granularity %zu", c->granularity);
        rc = GENIE_EDRIVER;
        goto fail_ctx;
    }
    if ((rc = ctx_devinfo(c, err, errlen)))
        goto fail_ctx;
    if (rmt_auth_init(&c->auth, token)) {
        snprintf(err, errlen, "%s", genie_strerror(GENIE_ENOMEM));
        rc = GENIE_ENOMEM;
        goto fail_ctx;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->limits = exec_limits_default();
    if (getrandom(c->wc_salt, sizeof c->wc_salt, 0) != (ssize_t)sizeof c->wc_salt) {
        c->wc_salt[0] = genie_now_ns() * 0x9e3779b97f4a7c15ull;
        c->wc_salt[1] = (uint64_t)(uintptr_t)c * 0xc2b2ae3d27d4eb4full;
    }
    long long wc = genie_env_int("GENIE_WEIGHT_CACHE_BYTES", 4ll << 30);
    exec_wcache_init(&c->wcache, wc > 0 ? (uint64_t)wc : 0);
    *out = c;
    return 0;
fail_ctx:
    d->PrimaryCtxRelease(c->dev);
fail:
    free(c);
    return rc;
}

/* The errors after which "the process is in an inconsistent state and any further CUDA work
 * will return the same error" (CUDA driver API, error types). */
static int sticky(CUresult r)
{
    switch ((int)r) {
    case CUDA_ERROR_ECC_UNCORRECTABLE:
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_LAUNCH_FAILED:
        return 1;
    default:
        return 0;
    }
}

void exec_ctx_poison(exec_ctx *c, CUresult r)
{
    if (!sticky(r))
        return;
    pthread_mutex_lock(&c->lock);
    if (!c->poison && c->worker_session) {
        char nb[32];
        c->poison = r;
        GENIE_ERROR("%s corrupted the GPU context of session %u: its calls fail from now on; "
                    "the context is its worker process's own, no other session is affected",
                    exec_cu_name(&c->drv, r, nb, sizeof nb), c->worker_session);
    } else if (!c->poison) {
        char nb[32];
        c->poison = r;
        GENIE_ERROR("%s corrupted the GPU context all sessions share: every session's calls fail "
                    "from now on; new sessions are refused until the %u open one(s) have ended, "
                    "then the context is reset",
                    exec_cu_name(&c->drv, r, nb, sizeof nb), c->nsessions);
    }
    pthread_mutex_unlock(&c->lock);
}

void exec_ctx_session_gone(exec_ctx *c)
{
    if (--c->nsessions || !c->poison)
        return;
    exec_driver *d = &c->drv;
    /* Nothing of the old context survives a reset: the cached modules go with it. */
    (void)d->CtxSetCurrent(c->primary);
    for (exec_module *m = c->modules, *next; m; m = next) {
        next = m->next;
        (void)EXEC_CU(d, ModuleUnload, m->mod);
        free(m);
    }
    c->modules = NULL;
    /* cuBLAS's own runtime holds a reference too, so releasing ours would not destroy the
     * context: reset it explicitly, then take a reference to the new one. */
    CUresult r = EXEC_CU(d, PrimaryCtxReset, c->dev);
    if (r == CUDA_ERROR_NOT_SUPPORTED) { /* no reset in this driver: release and retain */
        (void)d->PrimaryCtxRelease(c->dev);
        r = CUDA_SUCCESS;
    } else if (!r) {
        (void)d->PrimaryCtxRelease(c->dev);
    }
    CUcontext ctx = NULL;
    if (!r)
        r = d->PrimaryCtxRetain(&ctx, c->dev);
    if (!r)
        r = d->CtxSetCurrent(ctx);
    char nb[32];
    if (r) {
        GENIE_ERROR("resetting the GPU context failed (%s): genie-remote must be restarted",
                    exec_cu_name(d, r, nb, sizeof nb));
        return; /* stays poisoned: new sessions are refused with a clear error */
    }
    c->primary = ctx;
    ctx_gen_bump();
    GENIE_ERROR("GPU context reset after %s: new sessions are accepted again",
                exec_cu_name(d, c->poison, nb, sizeof nb));
    c->poison = CUDA_SUCCESS;
}

exec_limits exec_limits_default(void)
{
    return (exec_limits){.max_sessions = 64,
                         .mem_quota = 0,
                         .max_reply = 1ull << 30,
                         .login_fails = 5,
                         .login_window_s = 60};
}

void exec_ctx_set_limits(exec_ctx *ctx, const exec_limits *l)
{
    pthread_mutex_lock(&ctx->lock);
    ctx->limits = *l;
    pthread_mutex_unlock(&ctx->lock);
    rmt_auth_limits(&ctx->auth, l->login_fails, l->login_window_s);
}

void exec_ctx_worker(exec_ctx *ctx, uint32_t session, unsigned tenant)
{
    pthread_mutex_lock(&ctx->lock);
    ctx->worker_session = session;
    ctx->worker_tenant = tenant;
    ctx->next_session = session - 1; /* the one session this process opens gets that id */
    pthread_mutex_unlock(&ctx->lock);
}

const proto_devinfo *exec_ctx_devinfo(const exec_ctx *ctx)
{
    return &ctx->devinfo;
}

void exec_ctx_close(exec_ctx *c)
{
    if (!c)
        return;
    exec_driver *d = &c->drv;
    d->CtxSetCurrent(c->primary);
    for (exec_module *m = c->modules, *next; m; m = next) {
        next = m->next;
        (void)EXEC_CU(d, ModuleUnload, m->mod);
        free(m);
    }
    d->PrimaryCtxRelease(c->dev);
    ctx_gen_bump();
    pthread_mutex_destroy(&c->lock);
    exec_wcache_free(&c->wcache);
    free(c->lib);
    rmt_auth_free(&c->auth);
    free(c);
}
