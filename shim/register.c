/* register.c — the registration and launch ABI of nvcc's host stubs, lazy module loading. */
#include "shim/shim_int.h"

#include <stdlib.h>
#include <string.h>

#define FATBIN_WRAPPER_MAGIC 0x466243b1u
#define FATBIN_MAGIC 0xba55ed50u
/* CUDA 12.1+ allows 32764 bytes of kernel parameters; the executor counts up to 32768. */
#define SHIM_MAX_PARAMS (64u << 10)

typedef struct fatbin_wrapper {
    int magic;
    int version;
    const unsigned long long *data;
    void *filename_or_fatbins;
} fatbin_wrapper;

typedef struct fatbin_header {
    uint32_t magic;
    uint16_t version;
    uint16_t header_size;
    uint64_t fat_size;
} fatbin_header;

struct shim_module {
    uint32_t magic;
    uint32_t id;
    const uint8_t *image; /* borrowed: the program's static fatbin; or owned (below) */
    size_t len;
    genie_hash128 hash;
    int hashed;
    int loaded; /* the executor bound our ID to the module */
    /* driver-API modules only: the image is a private copy (freed once loaded) and the
     * module owns its functions */
    uint8_t *owned;
    shim_func *funcs;
    /* the fatbin registered device variables: the executor loads it for this session alone
     * (MODULE_LOAD_PRIVATE), so that its variables are not shared with other sessions */
    int has_vars;
};

/* A device variable (__device__, __constant__) of a registered fatbin, by its host shadow. */
typedef struct shim_var {
    shim_module *module;
    const char *name; /* borrowed from the program's static data */
    size_t size;
    uint64_t dptr; /* 0 until GLOBAL_GET told us */
} shim_var;

/* host function -> shim_func */
static shim_ptrmap ftab;
/* host shadow variable -> shim_var */
static shim_ptrmap vtab;

/* Lock held. */
static shim_func *lookup_locked(const void *p)
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
    shim_func *f = lookup_locked(p);
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
    const fatbin_wrapper *w = fatCubin;
    if (w && (uint32_t)w->magic == FATBIN_WRAPPER_MAGIC && w->data) {
        const fatbin_header *h = (const fatbin_header *)w->data;
        if (h->magic == FATBIN_MAGIC) {
            m->image = (const uint8_t *)h;
            m->len = h->header_size + h->fat_size;
        }
    }
    if (!m->image)
        GENIE_WARN("__cudaRegisterFatBinary: unrecognised fatbin wrapper; its kernels will "
                   "fail to launch");
    shim_lock();
    m->id = shim_g.next_module++;
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

/* ------------------------------------------------------ call configuration ---- */

typedef struct call_config {
    dim3 grid, block;
    size_t shmem;
    cudaStream_t stream;
} call_config;

#define CONFIG_DEPTH 16
static __thread call_config config_stack[CONFIG_DEPTH];
static __thread int config_top;

GENIE_EXPORT unsigned __cudaPushCallConfiguration(dim3 gridDim, dim3 blockDim, size_t sharedMem,
                                                  struct CUstream_st *stream)
{
    shim_count(GENIE_APIX___cudaPushCallConfiguration);
    if (config_top == CONFIG_DEPTH)
        return (unsigned)shim_set_error(cudaErrorInvalidConfiguration);
    config_stack[config_top++] = (call_config){gridDim, blockDim, sharedMem, stream};
    return 0;
}

GENIE_EXPORT cudaError_t __cudaPopCallConfiguration(dim3 *gridDim, dim3 *blockDim,
                                                    size_t *sharedMem, void *stream)
{
    shim_count(GENIE_APIX___cudaPopCallConfiguration);
    if (config_top == 0)
        return shim_set_error(cudaErrorMissingConfiguration);
    call_config c = config_stack[--config_top];
    *gridDim = c.grid;
    *blockDim = c.block;
    *sharedMem = c.shmem;
    *(cudaStream_t *)stream = c.stream;
    return cudaSuccess;
}

/* ---------------------------------------------------------- module loading ---- */

typedef struct prep_reply {
    shim_func *f;
    int module_seen, module_loaded, func_ok;
    cudaError_t err; /* the first failure: a failed load, not the FUNC_GET it dooms */
    int32_t cu_err;
} prep_reply;

static int prep_cb(void *ud, const proto_rec *r)
{
    prep_reply *pr = ud;
    if (r->op == PROTO_OP_R_MODULE) {
        proto_R_MODULE m;
        if (proto_get_R_MODULE(r, &m))
            return GENIE_EPROTO;
        pr->module_seen = 1;
        pr->module_loaded = m.loaded != 0;
    } else if (r->op == PROTO_OP_R_FUNC) {
        proto_R_FUNC fr;
        if (!pr->f || proto_get_R_FUNC(r, &fr) || fr.layout_len < (size_t)fr.nparams * 8)
            return GENIE_EPROTO;
        shim_func *f = pr->f;
        uint32_t *v = malloc(2 * ((size_t)fr.nparams + 1) * sizeof *v);
        if (!v)
            return GENIE_ENOMEM;
        /* the end of each parameter in 64 bits: a wrapped u32 sum would give a short
         * params_size, and launch() would copy the arguments past the record it reserved */
        uint64_t need = 0;
        for (uint32_t i = 0; i < fr.nparams; i++) {
            memcpy(&v[i], fr.layout + 8 * i, 4);
            memcpy(&v[fr.nparams + 1 + i], fr.layout + 8 * i + 4, 4);
            if ((uint64_t)v[i] + v[fr.nparams + 1 + i] > need)
                need = (uint64_t)v[i] + v[fr.nparams + 1 + i];
        }
        if (need > SHIM_MAX_PARAMS) {
            free(v);
            return GENIE_EPROTO;
        }
        free(f->offsets); /* a layout fetched before (a retried prepare) */
        f->offsets = v;
        f->sizes = v + fr.nparams + 1;
        f->params_size = (uint32_t)need;
        f->nparams = fr.nparams;
        pr->func_ok = 1;
    } else if (r->op == PROTO_OP_R_ERROR) {
        proto_R_ERROR e;
        if (proto_get_R_ERROR(r, &e))
            return GENIE_EPROTO;
        /* a FUNC_GET behind a by-hash load the executor could not satisfy fails too:
         * that one is expected and answered by sending the image */
        if (!(pr->module_seen && !pr->module_loaded)) {
            GENIE_ERROR("cannot prepare %s%s: %.*s", pr->f ? "kernel " : "a module",
                        pr->f ? pr->f->device_name : "", (int)e.msg_len, (const char *)e.msg);
            if (pr->err == cudaSuccess) {
                pr->err = (cudaError_t)e.cuda_err;
                pr->cu_err = e.cu_result;
            }
        }
    }
    return 0;
}

/* One round trip: the module m (by hash, or its image; privately when it has device
 * variables) when with_module, then FUNC_GET for f when f is not NULL. */
static cudaError_t prep_round(shim_module *m, shim_func *f, int with_module, int with_image,
                              prep_reply *pr)
{
    genie_buf b = {0};
    cudaError_t e = cudaSuccess;
    if (proto_frame_begin(&b, PROTO_KIND_REQUEST, 0))
        return shim_set_error(cudaErrorMemoryAllocation);
    if (with_module) {
        size_t n = with_image || m->has_vars ? m->len : 0;
        uint8_t *p = m->has_vars ? proto_put_MODULE_LOAD_PRIVATE(&b, m->id, n)
                                 : proto_put_MODULE_LOAD(&b, m->hash.lo, m->hash.hi, m->id, n);
        if (!p)
            goto oom;
        if (n)
            memcpy(p, m->image, n);
    }
    if (f) {
        size_t nl = strlen(f->device_name);
        uint8_t *p = proto_put_FUNC_GET(&b, f->id, m->id, nl);
        if (!p)
            goto oom;
        memcpy(p, f->device_name, nl);
    }
    memset(pr, 0, sizeof *pr);
    pr->f = f;
    e = shim_call_frame(&b, SHIM_RT_MODULE, prep_cb, pr);
    genie_buf_free(&b);
    return e;
oom:
    genie_buf_free(&b);
    return shim_set_error(cudaErrorMemoryAllocation);
}

/* Loads m remotely if it is not yet, and fetches f's layout (f may be NULL): one round trip,
 * or two when the executor does not have a shared module by hash. Lock held. */
static cudaError_t module_prepare(shim_module *m, shim_func *f, prep_reply *pr)
{
    if (!m->image && !m->loaded) {
        GENIE_ERROR("%s%s: its module has no fatbin Genie understands", f ? "kernel " : "module",
                    f ? f->device_name : "");
        return shim_set_error(cudaErrorInvalidKernelImage);
    }
    if (!m->hashed && !m->has_vars) { /* a private load sends the image, never the hash */
        m->hash = genie_hash_content(m->image, m->len);
        m->hashed = 1;
    }
    cudaError_t e;
    if (m->loaded) {
        if (f)
            return prep_round(m, f, 0, 0, pr);
        memset(pr, 0, sizeof *pr);
        return cudaSuccess;
    }
    /* hash first: the executor may have the module from an earlier process (a private
     * module always goes with its image) */
    if ((e = prep_round(m, f, 1, 0, pr)) != cudaSuccess)
        return e;
    if (pr->module_seen && !pr->module_loaded && !m->has_vars) {
        if ((e = prep_round(m, f, 1, 1, pr)) != cudaSuccess)
            return e;
    }
    if (pr->module_seen && pr->module_loaded) {
        m->loaded = 1;
        if (m->owned) { /* the executor has it for the session's life */
            free(m->owned);
            m->owned = NULL;
            m->image = NULL;
        }
    }
    return cudaSuccess;
}

cudaError_t shim_func_prepare(shim_func *f)
{
    f->cu_err = 0;
    prep_reply pr;
    cudaError_t e = module_prepare(f->module, f, &pr);
    if (e != cudaSuccess)
        return e;
    if (pr.err != cudaSuccess) {
        f->cu_err = pr.cu_err;
        return shim_set_error(pr.err);
    }
    if (!pr.func_ok)
        return shim_set_error(cudaErrorInvalidDeviceFunction);
    f->ready = 1;
    return cudaSuccess;
}

/* ------------------------------------------------------ driver-API modules ---- */
/* cuModuleLoadData & co. (shim/driver.c): the same lazy loading as a registered fatbin; the
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

/* -------------------------------------------------------- device variables ---- */
/* cudaGetSymbolAddress & co.: the variable's module is loaded (privately: it has variables),
 * GLOBAL_GET gives its address once (one round trip, then cached), and the address joins the
 * allocator as an external allocation so that the ordinary copy paths accept it. */

typedef struct global_reply {
    uint64_t ptr, size;
    int got;
    cudaError_t err;
} global_reply;

static int global_cb(void *ud, const proto_rec *r)
{
    global_reply *g = ud;
    if (r->op == PROTO_OP_R_GLOBAL) {
        proto_R_GLOBAL v;
        if (proto_get_R_GLOBAL(r, &v))
            return GENIE_EPROTO;
        g->ptr = v.ptr;
        g->size = v.size;
        g->got = 1;
    } else if (r->op == PROTO_OP_R_ERROR) {
        proto_R_ERROR e;
        if (proto_get_R_ERROR(r, &e))
            return GENIE_EPROTO;
        GENIE_ERROR("device variable: %.*s", (int)e.msg_len, (const char *)e.msg);
        g->err = (cudaError_t)e.cuda_err;
    }
    return 0;
}

/* The variable behind a host shadow, its address known. Lock held. */
static cudaError_t var_resolve(const void *symbol, shim_var **out)
{
    shim_var *v = symbol ? shim_ptrmap_get(&vtab, symbol) : NULL;
    if (!v)
        return shim_set_error(cudaErrorInvalidSymbol);
    cudaError_t e;
    if (v->dptr) {
        *out = v;
        return cudaSuccess;
    }
    if ((e = shim_ensure()) != cudaSuccess)
        return e;
    prep_reply pr;
    shim_module *m = v->module;
    if ((e = module_prepare(m, NULL, &pr)) != cudaSuccess)
        return e;
    if (pr.err != cudaSuccess)
        return shim_set_error(pr.err);
    if (!m->loaded)
        return shim_set_error(cudaErrorInvalidKernelImage);
    genie_buf b = {0};
    size_t nl = strlen(v->name);
    uint8_t *p;
    if (proto_frame_begin(&b, PROTO_KIND_REQUEST, 0) ||
        !(p = proto_put_GLOBAL_GET(&b, m->id, nl))) {
        genie_buf_free(&b);
        return shim_set_error(cudaErrorMemoryAllocation);
    }
    memcpy(p, v->name, nl);
    global_reply g = {0};
    e = shim_call_frame(&b, SHIM_RT_MODULE, global_cb, &g);
    genie_buf_free(&b);
    if (e != cudaSuccess)
        return e;
    if (g.err != cudaSuccess)
        return shim_set_error(g.err);
    if (!g.got || !g.ptr || g.size != v->size) {
        GENIE_ERROR("device variable %s: the executor reports %llu bytes, the program %zu",
                    v->name, (unsigned long long)g.size, v->size);
        return shim_set_error(cudaErrorInvalidSymbol);
    }
    if (shim_alloc_add_external(shim_g.alloc, g.ptr, g.size)) {
        GENIE_ERROR("device variable %s at 0x%llx + %llu overlaps device memory Genie manages",
                    v->name, (unsigned long long)g.ptr, (unsigned long long)g.size);
        return shim_set_error(cudaErrorInvalidSymbol);
    }
    v->dptr = g.ptr;
    *out = v;
    return cudaSuccess;
}

/* [offset, offset+count) of the variable: its device address, or an error. */
static cudaError_t var_span(const void *symbol, size_t count, size_t offset, void **dptr)
{
    shim_lock();
    shim_var *v = NULL;
    cudaError_t e = var_resolve(symbol, &v);
    if (e == cudaSuccess && (offset > v->size || count > v->size - offset))
        e = shim_set_error(cudaErrorInvalidValue);
    if (e == cudaSuccess)
        *dptr = (void *)(uintptr_t)(v->dptr + offset);
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaGetSymbolAddress(void **devPtr, const void *symbol)
{
    return var_span(symbol, 0, 0, devPtr);
}

cudaError_t shim_impl_cudaGetSymbolSize(size_t *size, const void *symbol)
{
    shim_lock();
    shim_var *v = symbol ? shim_ptrmap_get(&vtab, symbol) : NULL;
    if (v)
        *size = v->size;
    shim_unlock();
    return v ? cudaSuccess : shim_set_error(cudaErrorInvalidSymbol);
}

/* shim/cudart_mem.c (the generated cudart_api.c declares every shim_impl_) */
cudaError_t shim_impl_cudaMemcpy(void *dst, const void *src, size_t count,
                                 enum cudaMemcpyKind kind);
cudaError_t shim_impl_cudaMemcpyAsync(void *dst, const void *src, size_t count,
                                      enum cudaMemcpyKind kind, cudaStream_t stream);

static int to_symbol_kind(enum cudaMemcpyKind k)
{
    return k == cudaMemcpyHostToDevice || k == cudaMemcpyDeviceToDevice || k == cudaMemcpyDefault;
}

static int from_symbol_kind(enum cudaMemcpyKind k)
{
    return k == cudaMemcpyDeviceToHost || k == cudaMemcpyDeviceToDevice || k == cudaMemcpyDefault;
}

cudaError_t shim_impl_cudaMemcpyToSymbol(const void *symbol, const void *src, size_t count,
                                         size_t offset, enum cudaMemcpyKind kind)
{
    if (!to_symbol_kind(kind))
        return shim_set_error(cudaErrorInvalidMemcpyDirection);
    void *d;
    cudaError_t e = var_span(symbol, count, offset, &d);
    if (e != cudaSuccess)
        return e;
    return shim_impl_cudaMemcpy(d, src, count, kind);
}

cudaError_t shim_impl_cudaMemcpyToSymbolAsync(const void *symbol, const void *src, size_t count,
                                              size_t offset, enum cudaMemcpyKind kind,
                                              cudaStream_t stream)
{
    if (!to_symbol_kind(kind))
        return shim_set_error(cudaErrorInvalidMemcpyDirection);
    void *d;
    cudaError_t e = var_span(symbol, count, offset, &d);
    if (e != cudaSuccess)
        return e;
    return shim_impl_cudaMemcpyAsync(d, src, count, kind, stream);
}

cudaError_t shim_impl_cudaMemcpyFromSymbol(void *dst, const void *symbol, size_t count,
                                           size_t offset, enum cudaMemcpyKind kind)
{
    if (!from_symbol_kind(kind))
        return shim_set_error(cudaErrorInvalidMemcpyDirection);
    void *s;
    cudaError_t e = var_span(symbol, count, offset, &s);
    if (e != cudaSuccess)
        return e;
    return shim_impl_cudaMemcpy(dst, s, count, kind);
}

cudaError_t shim_impl_cudaMemcpyFromSymbolAsync(void *dst, const void *symbol, size_t count,
                                                size_t offset, enum cudaMemcpyKind kind,
                                                cudaStream_t stream)
{
    if (!from_symbol_kind(kind))
        return shim_set_error(cudaErrorInvalidMemcpyDirection);
    void *s;
    cudaError_t e = var_span(symbol, count, offset, &s);
    if (e != cudaSuccess)
        return e;
    return shim_impl_cudaMemcpyAsync(dst, s, count, kind, stream);
}

/* ------------------------------------------------------------------ launch ---- */

static int attr(int a) { return shim_g.dev[0].attrs[a]; }

cudaError_t shim_launch(shim_func *f, dim3 g, dim3 b, void **args, size_t shmem,
                        cudaStream_t stream)
{
    shim_lock();
    cudaError_t e;
    if ((e = shim_ensure()) != cudaSuccess)
        goto out;
    /* configuration errors are reported by the launch itself, as the runtime does */
    uint64_t threads = (uint64_t)b.x * b.y * b.z;
    if (g.x == 0 || g.y == 0 || g.z == 0 || threads == 0 ||
        threads > (uint64_t)attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK) ||
        b.x > (unsigned)attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X) ||
        b.y > (unsigned)attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y) ||
        b.z > (unsigned)attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z) ||
        g.x > (unsigned)attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X) ||
        g.y > (unsigned)attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y) ||
        g.z > (unsigned)attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z) ||
        shmem > (size_t)attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)) {
        e = shim_set_error(cudaErrorInvalidConfiguration);
        goto out;
    }
    uint32_t sid = shim_stream_id(stream);
    if (sid == UINT32_MAX) {
        e = shim_set_error(cudaErrorInvalidResourceHandle);
        goto out;
    }
    if (!f->ready && (e = shim_func_prepare(f)) != cudaSuccess)
        goto out;
    if (f->nparams && !args) {
        e = shim_set_error(cudaErrorInvalidValue);
        goto out;
    }
    size_t mark = shim_g.batch.len;
    uint8_t *p = proto_put_LAUNCH(SHIM_BATCH, f->id, sid, g.x, g.y, g.z, b.x, b.y, b.z,
                                  (uint32_t)shmem, f->params_size);
    if (!p) {
        e = shim_set_error(cudaErrorMemoryAllocation);
        goto out;
    }
    memset(p, 0, f->params_size);
    for (uint32_t i = 0; i < f->nparams; i++)
        memcpy(p + f->offsets[i], args[i], f->sizes[i]);
    /* its IR descriptor: parameter words inside the session's VA range are its buffers */
    sem_op *o = shim_sem_op(SEM_OP_LAUNCH, PROTO_OP_LAUNCH, sid);
    o->func = f->id;
    sem_ir_scan_params(&shim_g.ir, o, p, f->params_size, shim_g.va_base, shim_g.va_size);
    shim_g.stats.launches++;
    e = shim_op_done_on(sid, mark);
out:
    shim_unlock();
    return e;
}

static cudaError_t launch(const void *fn, dim3 g, dim3 b, void **args, size_t shmem,
                          cudaStream_t stream)
{
    shim_lock();
    shim_func *f = lookup_locked(fn);
    cudaError_t e = f ? shim_launch(f, g, b, args, shmem, stream)
                      : shim_set_error(cudaErrorInvalidDeviceFunction);
    shim_unlock();
    return e;
}

GENIE_EXPORT cudaError_t __cudaGetKernel(cudaKernel_t *kernelPtr, const void *entryFuncAddr)
{
    shim_count(GENIE_APIX___cudaGetKernel);
    if (!kernelPtr)
        return shim_set_error(cudaErrorInvalidValue);
    shim_func *f = shim_func_lookup(entryFuncAddr);
    if (!f)
        return shim_set_error(cudaErrorInvalidDeviceFunction);
    *kernelPtr = (cudaKernel_t)f;
    return cudaSuccess;
}

GENIE_EXPORT cudaError_t __cudaLaunchKernel(cudaKernel_t kernel, dim3 gridDim, dim3 blockDim,
                                            void **args, size_t sharedMem, cudaStream_t stream)
{
    shim_call_site = __builtin_return_address(0); /* RAW: what the generated wrappers do */
    shim_count(GENIE_APIX___cudaLaunchKernel);
    return launch(kernel, gridDim, blockDim, args, sharedMem, stream);
}

GENIE_EXPORT cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t kernel, dim3 gridDim,
                                                 dim3 blockDim, void **args, size_t sharedMem,
                                                 cudaStream_t stream)
{
    shim_call_site = __builtin_return_address(0);
    shim_count(GENIE_APIX___cudaLaunchKernel_ptsz);
    return launch(kernel, gridDim, blockDim, args, sharedMem, stream);
}

cudaError_t shim_impl_cudaLaunchKernel(const void *func, dim3 gridDim, dim3 blockDim,
                                       void **args, size_t sharedMem, cudaStream_t stream)
{
    return launch(func, gridDim, blockDim, args, sharedMem, stream);
}

/* cudaLaunchKernelExC (and the cudaLaunchKernelEx template over it): a launch with attributes.
 * Attributes that only give the GPU more freedom or a hint (L2 access policy, priority,
 * programmatic serialization, memory sync domains, cluster scheduling preferences, shared
 * memory carveout) are dropped: the launch then runs as an ordinary, fully ordered one, which
 * is always a correct schedule. Attributes that change what the kernel may do or what the
 * launch produces (a cooperative grid, a cluster shape other than 1x1x1, programmatic or
 * completion events, device-updatable graph nodes) are refused with cudaErrorNotSupported,
 * logged once per attribute with the caller: silently dropping them would run the kernel
 * wrong or leave an event never recorded. */
static const char *launch_attr_refused(const cudaLaunchAttribute *a)
{
    switch ((int)a->id) {
    case cudaLaunchAttributeIgnore:
    case cudaLaunchAttributeAccessPolicyWindow:
    case cudaLaunchAttributeSynchronizationPolicy:
    case cudaLaunchAttributeClusterSchedulingPolicyPreference:
    case cudaLaunchAttributeProgrammaticStreamSerialization:
    case cudaLaunchAttributePriority:
    case cudaLaunchAttributeMemSyncDomainMap:
    case cudaLaunchAttributeMemSyncDomain:
    case cudaLaunchAttributePreferredClusterDimension:
    case cudaLaunchAttributePreferredSharedMemoryCarveout:
    case cudaLaunchAttributeNvlinkUtilCentricScheduling:
        return NULL;
    case cudaLaunchAttributeCooperative:
        return a->val.cooperative ? "cudaLaunchAttributeCooperative" : NULL;
    case cudaLaunchAttributeClusterDimension:
        return a->val.clusterDim.x * a->val.clusterDim.y * a->val.clusterDim.z > 1
                   ? "cudaLaunchAttributeClusterDimension (a cluster larger than 1x1x1)"
                   : NULL;
    case cudaLaunchAttributeProgrammaticEvent:
        return "cudaLaunchAttributeProgrammaticEvent";
    case cudaLaunchAttributeLaunchCompletionEvent:
        return "cudaLaunchAttributeLaunchCompletionEvent";
    case cudaLaunchAttributeDeviceUpdatableKernelNode:
        return "cudaLaunchAttributeDeviceUpdatableKernelNode";
    default:
        return "an unknown launch attribute";
    }
}

cudaError_t shim_impl_cudaLaunchKernelExC(const cudaLaunchConfig_t *config, const void *func,
                                          void **args)
{
    static _Atomic unsigned char logged[32];
    if (!config || (config->numAttrs && !config->attrs))
        return shim_set_error(cudaErrorInvalidValue);
    for (unsigned i = 0; i < config->numAttrs; i++) {
        const char *why = launch_attr_refused(&config->attrs[i]);
        if (why) {
            unsigned id = (unsigned)config->attrs[i].id;
            genie_warn_once_at(&logged[id < 32 ? id : 31],
                               "cudaLaunchKernelExC with %s (attribute %u) is not supported by "
                               "Genie; returning cudaErrorNotSupported",
                               why, id);
            return shim_set_error(cudaErrorNotSupported);
        }
    }
    return launch(func, config->gridDim, config->blockDim, args, config->dynamicSmemBytes,
                  config->stream);
}

/* ------------------------------------------------------ function queries ---- */

/* One round trip for several FUNC_ATTR/OCCUPANCY queries. */
typedef struct query {
    shim_func *f;
    int n;
    uint64_t values[16];
    int got;
    int32_t cu_err; /* the executor's CUresult for a failed query */
} query;

static int query_cb(void *ud, const proto_rec *r)
{
    query *q = ud;
    if (r->op == PROTO_OP_R_VALUE) {
        proto_R_VALUE v;
        if (proto_get_R_VALUE(r, &v) || v.index >= 16)
            return GENIE_EPROTO;
        q->values[v.index] = v.value;
        q->got++;
    } else if (r->op == PROTO_OP_R_ERROR) {
        proto_R_ERROR e;
        if (q->got >= 0 && !proto_get_R_ERROR(r, &e))
            q->cu_err = e.cu_result;
        q->got = -1;
    }
    return 0;
}

static cudaError_t prepared(const void *func, shim_func **out)
{
    shim_func *f = lookup_locked(func);
    *out = f; /* on every path: GCC at -O3 cannot see that shim_set_error never returns 0 */
    if (!f)
        return shim_set_error(cudaErrorInvalidDeviceFunction);
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess && !f->ready)
        e = shim_func_prepare(f);
    return e;
}

static cudaError_t run_query(genie_buf *b, query *q)
{
    cudaError_t e = shim_call_frame(b, SHIM_RT_QUERY, query_cb, q);
    genie_buf_free(b);
    if (e == cudaSuccess && q->got != q->n)
        e = shim_set_error(cudaErrorInvalidDeviceFunction);
    return e;
}

cudaError_t shim_impl_cudaFuncGetAttributes(struct cudaFuncAttributes *attr_,
                                            const void *func)
{
    shim_lock();
    shim_func *f;
    cudaError_t e = prepared(func, &f);
    if (e == cudaSuccess) {
        genie_buf b = {0};
        query q = {f, 10, {0}, 0, 0};
        proto_frame_begin(&b, PROTO_KIND_REQUEST, 0);
        for (int a = 0; a < q.n; a++)
            if (!proto_put_FUNC_ATTR(&b, f->id, a))
                q.n = -1;
        e = q.n < 0 ? (genie_buf_free(&b), shim_set_error(cudaErrorMemoryAllocation))
                    : run_query(&b, &q);
        if (e == cudaSuccess) {
            memset(attr_, 0, sizeof *attr_);
            attr_->maxThreadsPerBlock = (int)q.values[CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK];
            attr_->sharedSizeBytes = q.values[CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES];
            attr_->constSizeBytes = q.values[CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES];
            attr_->localSizeBytes = q.values[CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES];
            attr_->numRegs = (int)q.values[CU_FUNC_ATTRIBUTE_NUM_REGS];
            attr_->ptxVersion = (int)q.values[CU_FUNC_ATTRIBUTE_PTX_VERSION];
            attr_->binaryVersion = (int)q.values[CU_FUNC_ATTRIBUTE_BINARY_VERSION];
            attr_->cacheModeCA = (int)q.values[CU_FUNC_ATTRIBUTE_CACHE_MODE_CA];
            attr_->maxDynamicSharedSizeBytes =
                (int)q.values[CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES];
            attr_->preferredShmemCarveout =
                (int)q.values[CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT];
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_func_attribute(shim_func *f, int attr_, int *value, int32_t *cu_err)
{
    *cu_err = 0;
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e == cudaSuccess && !f->ready)
        e = shim_func_prepare(f);
    if (e == cudaSuccess) {
        genie_buf b = {0};
        query q = {f, 1, {0}, 0, 0};
        if (proto_frame_begin(&b, PROTO_KIND_REQUEST, 0) ||
            !proto_put_FUNC_ATTR(&b, f->id, attr_)) {
            genie_buf_free(&b);
            e = shim_set_error(cudaErrorMemoryAllocation);
        } else if ((e = run_query(&b, &q)) == cudaSuccess) {
            *value = (int)(int64_t)q.values[0];
        } else {
            *cu_err = q.cu_err;
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaFuncSetAttribute(const void *func, enum cudaFuncAttribute attr_,
                                           int value)
{
    shim_lock();
    shim_func *f;
    cudaError_t e = prepared(func, &f);
    if (e == cudaSuccess) {
        /* cudaFuncAttribute values equal CUfunction_attribute values for the settable ones */
        if (!proto_put_FUNC_SET_ATTR(SHIM_BATCH, f->id, (int32_t)attr_, value)) {
            e = shim_set_error(cudaErrorMemoryAllocation);
        } else {
            shim_sem_op(SEM_OP_HANDLE, PROTO_OP_FUNC_SET_ATTR, 0)->func = f->id;
            e = shim_op_done();
        }
    }
    shim_unlock();
    return e;
}

static cudaError_t occupancy(int *numBlocks, const void *func, int blockSize, size_t smem,
                             unsigned flags)
{
    shim_lock();
    shim_func *f;
    cudaError_t e = prepared(func, &f);
    if (e == cudaSuccess) {
        if (blockSize <= 0) {
            e = shim_set_error(cudaErrorInvalidValue);
        } else {
            genie_buf b = {0};
            query q = {f, 1, {0}, 0, 0};
            proto_frame_begin(&b, PROTO_KIND_REQUEST, 0);
            if (!proto_put_OCCUPANCY(&b, smem, f->id, (uint32_t)blockSize, flags)) {
                genie_buf_free(&b);
                e = shim_set_error(cudaErrorMemoryAllocation);
            } else if ((e = run_query(&b, &q)) == cudaSuccess) {
                *numBlocks = (int)q.values[0];
            }
        }
    }
    shim_unlock();
    return e;
}

cudaError_t shim_impl_cudaOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks,
                                                                    const void *func,
                                                                    int blockSize,
                                                                    size_t dynamicSMemSize)
{
    return occupancy(numBlocks, func, blockSize, dynamicSMemSize, 0);
}

cudaError_t shim_impl_cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
    int *numBlocks, const void *func, int blockSize, size_t dynamicSMemSize, unsigned int flags)
{
    return occupancy(numBlocks, func, blockSize, dynamicSMemSize, flags);
}
