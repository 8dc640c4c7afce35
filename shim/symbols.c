/* symbols.c — device variables (__device__, __constant__): their addresses, sizes and symbol copies. */
#include "shim/modules.h"

#include <stdlib.h>
#include <string.h>

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
    shim_var *v = shim_var_lookup(symbol);
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
    if ((e = shim_module_prepare(m, NULL, &pr)) != cudaSuccess)
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
    shim_var *v = shim_var_lookup(symbol);
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

