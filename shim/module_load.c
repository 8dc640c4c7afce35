/* module_load.c — lazy module loading: a registered module goes to the executor with its first use (hash first, bytes if needed), layouts come back. */
#include "shim/modules.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- module loading ---- */

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
        if (n) {
            memcpy(p, m->image, n);
            shim_g.stats.module_bytes_sent += n;
        }
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
cudaError_t shim_module_prepare(shim_module *m, shim_func *f, prep_reply *pr)
{
    if (!m->image && !m->loaded) {
        GENIE_ERROR("%s%s: its module has no fatbin Genie understands", f ? "kernel " : "module",
                    f ? f->device_name : "");
        return shim_set_error(cudaErrorInvalidKernelImage);
    }
    if (!m->hashed && !m->has_vars) { /* a private load sends the image, never the hash */
        m->hash = genie_hash_content(m->image, m->len);
        m->hashed = 1;
        shim_g.stats.modules_hashed++;
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
        shim_g.stats.modules_loaded++;
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
    cudaError_t e = shim_module_prepare(f->module, f, &pr);
    if (e != cudaSuccess)
        return e;
    if (pr.err != cudaSuccess) {
        f->cu_err = pr.cu_err;
        return shim_set_error(pr.err);
    }
    if (!pr.func_ok)
        return shim_set_error(cudaErrorInvalidDeviceFunction);
    f->ready = 1;
    shim_g.stats.funcs_prepared++;
    return cudaSuccess;
}

