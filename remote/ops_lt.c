/* ops_lt.c — cuBLASLt on the executor: handles by client ID, real descriptors cached by content.
 *
 * Per session (s->lt, created on the first Lt op, freed by exec_lt_session_close):
 *   - client handle ID -> real cublasLtHandle_t (LT_CREATE / LT_DESTROY), plus one handle of
 *     the session's own for heuristics asked before the client's LT_CREATE arrived (a query
 *     frame overtakes the batch that holds it; see shim/cublaslt.c);
 *   - real matmul descriptors, layouts and preferences rebuilt from their wire bytes
 *     (protocol/lt.h) and kept in an LRU cache keyed by those bytes, at most LT_CACHE_MAX;
 *     the ones an op is using are never evicted under it.
 * Real objects live in storage of ours set up with cublasLt*Init_internal (what the header's
 * cublasLt*Init helpers call), so the library allocates nothing for them and nothing inside
 * it calls its own exported Init through the PLT: in the in-process mode libgenie.so, which
 * exports the same names, would otherwise take such a call. The Create and Destroy calls are the
 * fallback when a library lacks the Init entry points.
 * The cuBLASLt functions come from the library exec_lib_cublaslt loads; one that is missing
 * makes the ops needing it fail with CUBLAS_STATUS_NOT_SUPPORTED. */
#include "remote/exec_lib_int.h"

#include <cublasLt.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/lt.h"

#define LT_FNS(X)                                                                                  \
    X(Create, cublasLtCreate)                                                                      \
    X(Destroy, cublasLtDestroy)                                                                    \
    X(DescInit, cublasLtMatmulDescInit_internal)                                                   \
    X(DescCreate, cublasLtMatmulDescCreate)                                                        \
    X(DescDestroy, cublasLtMatmulDescDestroy)                                                      \
    X(DescSet, cublasLtMatmulDescSetAttribute)                                                     \
    X(LayoutInit, cublasLtMatrixLayoutInit_internal)                                               \
    X(LayoutCreate, cublasLtMatrixLayoutCreate)                                                    \
    X(LayoutDestroy, cublasLtMatrixLayoutDestroy)                                                  \
    X(LayoutSet, cublasLtMatrixLayoutSetAttribute)                                                 \
    X(PrefInit, cublasLtMatmulPreferenceInit_internal)                                             \
    X(PrefCreate, cublasLtMatmulPreferenceCreate)                                                  \
    X(PrefDestroy, cublasLtMatmulPreferenceDestroy)                                                \
    X(PrefSet, cublasLtMatmulPreferenceSetAttribute)                                               \
    X(Heuristic, cublasLtMatmulAlgoGetHeuristic)                                                   \
    X(GetIds, cublasLtMatmulAlgoGetIds)                                                            \
    X(AlgoInit, cublasLtMatmulAlgoInit)                                                            \
    X(CapGet, cublasLtMatmulAlgoCapGetAttribute)                                                   \
    X(ConfigSet, cublasLtMatmulAlgoConfigSetAttribute)                                             \
    X(ConfigGet, cublasLtMatmulAlgoConfigGetAttribute)                                             \
    X(Check, cublasLtMatmulAlgoCheck)                                                              \
    X(Matmul, cublasLtMatmul)

typedef struct lt_fns {
#define LT_FIELD_(f, sym) __typeof__(sym) *f;
    LT_FNS(LT_FIELD_)
#undef LT_FIELD_
} lt_fns;

/* One real object, keyed by its wire bytes (owned, in key[]). */
typedef struct lt_entry {
    struct lt_entry *hnext;       /* hash chain */
    struct lt_entry *prev, *next; /* LRU list: lru.next is the most recent */
    genie_hash128 h;
    uint64_t stamp; /* the op that last used it */
    int kind;
    int own; /* real is storage of ours, initialised by cublasLt*Init_internal */
    void *real;
    size_t len;
    uint8_t key[];
} lt_entry;

#define LT_BUCKETS 512u
#define LT_CACHE_MAX 256u

typedef struct exec_lt {
    lt_fns f;
    exec_idmap handles;     /* client ID -> cublasLtHandle_t */
    cublasLtHandle_t query; /* the session's own handle, for heuristics; NULL until needed */
    lt_entry *buckets[LT_BUCKETS];
    lt_entry lru; /* sentinel */
    unsigned n;
    uint64_t stamp;
} exec_lt;

/* ------------------------------------------------------------------ state ---- */

static int lt_state(exec_session *s, uint32_t index, const char *op, exec_lt **out)
{
    /* set on every path: GCC at -O3 cannot see that exec_fail never returns 0 */
    *out = s->lt;
    if (s->lt) {
        *out = s->lt;
        return 0;
    }
    void *lib = exec_lib_cublaslt(s->ctx);
    if (!lib)
        return exec_fail(s, index, EXEC_cudaErrorNotSupported, CUBLAS_STATUS_NOT_SUPPORTED,
                         "%s: cuBLASLt is not available on this host", op);
    exec_lt *L = calloc(1, sizeof *L); /* freed by exec_lt_session_close */
    if (!L)
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED,
                         "%s: out of memory", op);
#define LT_SYM_(fld, sym) *(void **)&L->f.fld = dlsym(lib, #sym);
    LT_FNS(LT_SYM_)
#undef LT_SYM_
    L->lru.next = L->lru.prev = &L->lru;
    s->lt = L;
    *out = L;
    return 0;
}

static int missing(exec_session *s, uint32_t index, const char *sym)
{
    return exec_fail(s, index, EXEC_cudaErrorNotSupported, CUBLAS_STATUS_NOT_SUPPORTED,
                     "%s is missing from the cuBLASLt library", sym);
}

static int lt_status_fail(exec_session *s, uint32_t index, int st, const char *what)
{
    /* the cuBLAS status rides in cu_result; the client turns it back into a status */
    return exec_fail(s, index, exec_blas_cuda_err(st), st, "%s: cuBLAS status %d", what, st);
}

/* --------------------------------------------------------- the object cache ---- */

static void lru_unlink(lt_entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void lru_front(exec_lt *L, lt_entry *e)
{
    e->next = L->lru.next;
    e->prev = &L->lru;
    L->lru.next->prev = e;
    L->lru.next = e;
}

static void destroy_real(exec_lt *L, int kind, int own, void *real)
{
    if (own)
        free(real); /* Init'd storage: cuBLASLt has nothing to release */
    else if (kind == PROTO_LT_DESC && L->f.DescDestroy)
        L->f.DescDestroy((cublasLtMatmulDesc_t)real);
    else if (kind == PROTO_LT_LAYOUT && L->f.LayoutDestroy)
        L->f.LayoutDestroy((cublasLtMatrixLayout_t)real);
    else if (kind == PROTO_LT_PREF && L->f.PrefDestroy)
        L->f.PrefDestroy((cublasLtMatmulPreference_t)real);
}

static void entry_drop(exec_lt *L, lt_entry *e)
{
    lt_entry **pp = &L->buckets[e->h.lo % LT_BUCKETS];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(e);
    destroy_real(L, e->kind, e->own, e->real);
    free(e);
    L->n--;
}

/* Evicts least recently used entries beyond the bound, never one the current op holds. */
static void evict(exec_lt *L)
{
    lt_entry *e = L->lru.prev;
    while (L->n > LT_CACHE_MAX && e != &L->lru) {
        lt_entry *prev = e->prev;
        if (e->stamp != L->stamp)
            entry_drop(L, e);
        e = prev;
    }
}

/* Builds the real object an in-memory object describes: in storage of ours (*own = 1) with
 * cublasLt*Init_internal, or with cublasLt*Create. 0 or the failing cuBLAS status, what
 * naming the call that failed. */
static int build(exec_lt *L, int kind, const void *obj, void **real, int *own, const char **what)
{
    int st;
    void *r = NULL;
    size_t bytes = proto_lt_obj_bytes(kind);
    *own = 0;
    if (kind == PROTO_LT_DESC) {
        cublasComputeType_t ct =
            (cublasComputeType_t)proto_lt_obj_geti(obj, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE);
        cudaDataType_t sct =
            (cudaDataType_t)proto_lt_obj_geti(obj, CUBLASLT_MATMUL_DESC_SCALE_TYPE);
        *what = "cublasLtMatmulDescInit_internal";
        if (!L->f.DescSet || (!L->f.DescInit && (!L->f.DescCreate || !L->f.DescDestroy)))
            return CUBLAS_STATUS_NOT_SUPPORTED;
        if (L->f.DescInit) {
            if (!(r = calloc(1, bytes))) /* owned by the cache entry */
                return CUBLAS_STATUS_ALLOC_FAILED;
            *own = 1;
            st = L->f.DescInit((cublasLtMatmulDesc_t)r, bytes, ct, sct);
        } else {
            *what = "cublasLtMatmulDescCreate";
            st = L->f.DescCreate((cublasLtMatmulDesc_t *)&r, ct, sct);
        }
        *what = "cublasLtMatmulDescSetAttribute";
        for (int a = proto_lt_obj_next_set(obj, -1); !st && a >= 0;
             a = proto_lt_obj_next_set(obj, a)) {
            /* the creation arguments; and an emulation descriptor, which travels only as
             * NULL, its default */
            if (a == CUBLASLT_MATMUL_DESC_COMPUTE_TYPE || a == CUBLASLT_MATMUL_DESC_SCALE_TYPE ||
                a == CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR)
                continue;
            st = L->f.DescSet((cublasLtMatmulDesc_t)r, (cublasLtMatmulDescAttributes_t)a,
                              proto_lt_obj_val(obj, (uint32_t)a),
                              proto_lt_attr_size(kind, (uint32_t)a));
        }
    } else if (kind == PROTO_LT_LAYOUT) {
        cudaDataType t = (cudaDataType)proto_lt_obj_geti(obj, CUBLASLT_MATRIX_LAYOUT_TYPE);
        uint64_t rows = (uint64_t)proto_lt_obj_geti(obj, CUBLASLT_MATRIX_LAYOUT_ROWS);
        uint64_t cols = (uint64_t)proto_lt_obj_geti(obj, CUBLASLT_MATRIX_LAYOUT_COLS);
        int64_t ld = proto_lt_obj_geti(obj, CUBLASLT_MATRIX_LAYOUT_LD);
        *what = "cublasLtMatrixLayoutInit_internal";
        if (!L->f.LayoutSet || (!L->f.LayoutInit && (!L->f.LayoutCreate || !L->f.LayoutDestroy)))
            return CUBLAS_STATUS_NOT_SUPPORTED;
        if (L->f.LayoutInit) {
            if (!(r = calloc(1, bytes)))
                return CUBLAS_STATUS_ALLOC_FAILED;
            *own = 1;
            st = L->f.LayoutInit((cublasLtMatrixLayout_t)r, bytes, t, rows, cols, ld);
        } else {
            *what = "cublasLtMatrixLayoutCreate";
            st = L->f.LayoutCreate((cublasLtMatrixLayout_t *)&r, t, rows, cols, ld);
        }
        *what = "cublasLtMatrixLayoutSetAttribute";
        for (int a = proto_lt_obj_next_set(obj, -1); !st && a >= 0;
             a = proto_lt_obj_next_set(obj, a)) {
            if (a == CUBLASLT_MATRIX_LAYOUT_TYPE || a == CUBLASLT_MATRIX_LAYOUT_ROWS ||
                a == CUBLASLT_MATRIX_LAYOUT_COLS || a == CUBLASLT_MATRIX_LAYOUT_LD)
                continue;
            st = L->f.LayoutSet((cublasLtMatrixLayout_t)r, (cublasLtMatrixLayoutAttribute_t)a,
                                proto_lt_obj_val(obj, (uint32_t)a),
                                proto_lt_attr_size(kind, (uint32_t)a));
        }
    } else {
        *what = "cublasLtMatmulPreferenceInit_internal";
        if (!L->f.PrefSet || (!L->f.PrefInit && (!L->f.PrefCreate || !L->f.PrefDestroy)))
            return CUBLAS_STATUS_NOT_SUPPORTED;
        if (L->f.PrefInit) {
            if (!(r = calloc(1, bytes)))
                return CUBLAS_STATUS_ALLOC_FAILED;
            *own = 1;
            st = L->f.PrefInit((cublasLtMatmulPreference_t)r, bytes);
        } else {
            *what = "cublasLtMatmulPreferenceCreate";
            st = L->f.PrefCreate((cublasLtMatmulPreference_t *)&r);
        }
        *what = "cublasLtMatmulPreferenceSetAttribute";
        for (int a = proto_lt_obj_next_set(obj, -1); !st && a >= 0;
             a = proto_lt_obj_next_set(obj, a))
            st = L->f.PrefSet(
                (cublasLtMatmulPreference_t)r, (cublasLtMatmulPreferenceAttributes_t)a,
                proto_lt_obj_val(obj, (uint32_t)a), proto_lt_attr_size(kind, (uint32_t)a));
    }
    if (st) {
        /* a failed Init or Create leaves nothing of the library's to release */
        if (*own)
            free(r);
        else if (r)
            destroy_real(L, kind, 0, r);
        *own = 0;
        return st;
    }
    *real = r;
    return 0;
}

/* The real object for wire bytes w (decoded as obj): from the cache, or built and cached. */
static int lt_obj(exec_session *s, exec_lt *L, uint32_t index, int kind, proto_lt_span w,
                  const void *obj, void **out)
{
    genie_hash128 h = genie_hash_content(w.p, w.n);
    for (lt_entry *e = L->buckets[h.lo % LT_BUCKETS]; e; e = e->hnext)
        if (e->h.lo == h.lo && e->h.hi == h.hi && e->len == w.n && !memcmp(e->key, w.p, w.n)) {
            lru_unlink(e);
            lru_front(L, e);
            e->stamp = L->stamp;
            *out = e->real;
            return 0;
        }
    const char *what = "";
    void *real = NULL;
    int own = 0;
    int st = build(L, kind, obj, &real, &own, &what);
    if (st)
        return lt_status_fail(s, index, st, what);
    lt_entry *e = malloc(sizeof *e + w.n); /* freed by entry_drop */
    if (!e) {
        destroy_real(L, kind, own, real);
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED,
                         "cuBLASLt: out of memory");
    }
    e->h = h;
    e->stamp = L->stamp;
    e->kind = kind;
    e->own = own;
    e->real = real;
    e->len = w.n;
    memcpy(e->key, w.p, w.n);
    e->hnext = L->buckets[h.lo % LT_BUCKETS];
    L->buckets[h.lo % LT_BUCKETS] = e;
    lru_front(L, e);
    L->n++;
    evict(L);
    *out = real;
    return 0;
}

/* The real descriptor and the four layouts of a problem (and its preference if wanted). */
static int lt_objs(exec_session *s, exec_lt *L, uint32_t index, const proto_lt_problem *pb,
                   void **desc, void *lay[4], void **pref)
{
    int e;
    L->stamp++;
    if ((e = lt_obj(s, L, index, PROTO_LT_DESC, pb->wire_desc, pb->desc, desc)))
        return e;
    for (int i = 0; i < 4; i++)
        if ((e = lt_obj(s, L, index, PROTO_LT_LAYOUT, pb->wire_layout[i], pb->layout[i], &lay[i])))
            return e;
    if (pref && (e = lt_obj(s, L, index, PROTO_LT_PREF, pb->wire_pref, pb->pref, pref)))
        return e;
    return 0;
}

static int decode(exec_session *s, uint32_t index, const char *op, const uint8_t *p, size_t n,
                  int form, proto_lt_problem *pb)
{
    char why[160] = "";
    if (proto_lt_problem_decode(p, n, pb, why, sizeof why))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUBLAS_STATUS_INVALID_VALUE,
                         "%s: malformed problem: %s", op, why);
    if (pb->form != form)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUBLAS_STATUS_INVALID_VALUE,
                         "%s: problem of the wrong form (%d)", op, pb->form);
    return 0;
}

/* --------------------------------------------------------------------- ops ---- */

int exec_op_LT_CREATE(exec_session *s, uint32_t index, const proto_LT_CREATE *a)
{
    exec_lt *L;
    int e;
    if ((e = lt_state(s, index, "LT_CREATE", &L)))
        return e;
    if (!L->f.Create || !L->f.Destroy)
        return missing(s, index, "cublasLtCreate");
    if (a->handle == 0 || exec_idmap_get(&L->handles, a->handle))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUBLAS_STATUS_INVALID_VALUE,
                         "LT_CREATE: cuBLASLt handle ID %u in use", a->handle);
    cublasLtHandle_t h = NULL;
    int st = L->f.Create(&h);
    if (st)
        return lt_status_fail(s, index, st, "cublasLtCreate");
    if (exec_idmap_put(&L->handles, a->handle, h)) {
        L->f.Destroy(h);
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED,
                         "LT_CREATE: out of memory");
    }
    return 0;
}

int exec_op_LT_DESTROY(exec_session *s, uint32_t index, const proto_LT_DESTROY *a)
{
    exec_lt *L;
    int e;
    if ((e = lt_state(s, index, "LT_DESTROY", &L)))
        return e;
    cublasLtHandle_t h = exec_idmap_get(&L->handles, a->handle);
    if (!h)
        return exec_fail(s, index, EXEC_cudaErrorInitializationError, CUBLAS_STATUS_NOT_INITIALIZED,
                         "LT_DESTROY: unknown cuBLASLt handle %u", a->handle);
    exec_idmap_del(&L->handles, a->handle);
    int st = L->f.Destroy ? L->f.Destroy(h) : CUBLAS_STATUS_SUCCESS;
    return st ? lt_status_fail(s, index, st, "cublasLtDestroy") : 0;
}

/* The handle a query runs with: the client's, or the session's own while the client's
 * LT_CREATE is still in its unsent batch (a query frame overtakes it; any handle answers
 * alike). */
static int query_handle(exec_session *s, exec_lt *L, uint32_t index, uint32_t id,
                        cublasLtHandle_t *out)
{
    *out = exec_idmap_get(&L->handles, id);
    if (*out)
        return 0;
    if (!L->query) {
        if (!L->f.Create)
            return missing(s, index, "cublasLtCreate");
        int st = L->f.Create(&L->query);
        if (st) {
            L->query = NULL;
            return lt_status_fail(s, index, st, "cublasLtCreate");
        }
    }
    *out = L->query;
    return 0;
}

int exec_op_LT_HEURISTIC(exec_session *s, uint32_t index, const proto_LT_HEURISTIC *a)
{
    exec_lt *L;
    int e;
    if ((e = lt_state(s, index, "LT_HEURISTIC", &L)))
        return e;
    if (!L->f.Heuristic)
        return missing(s, index, "cublasLtMatmulAlgoGetHeuristic");
    if (a->requested == 0 || a->requested > PROTO_LT_MAX_ALGOS)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUBLAS_STATUS_INVALID_VALUE,
                         "LT_HEURISTIC: %u algorithms requested", a->requested);
    proto_lt_problem *pb = malloc(sizeof *pb); /* ~700 bytes: kept off the stack; freed below */
    cublasLtMatmulHeuristicResult_t *res = calloc(a->requested, sizeof *res);
    if (!pb || !res) {
        e = exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED,
                      "LT_HEURISTIC: out of memory");
        goto out;
    }
    if ((e = decode(s, index, "LT_HEURISTIC", a->problem, a->problem_len, PROTO_LT_FORM_HEURISTIC,
                    pb)))
        goto out;
    cublasLtHandle_t h;
    if ((e = query_handle(s, L, index, a->handle, &h)))
        goto out;
    void *desc, *lay[4], *pref;
    if ((e = lt_objs(s, L, index, pb, &desc, lay, &pref)))
        goto out;
    int count = 0;
    int st = L->f.Heuristic(h, desc, lay[0], lay[1], lay[2], lay[3], pref, (int)a->requested, res,
                            &count);
    if (st) {
        e = lt_status_fail(s, index, st, "cublasLtMatmulAlgoGetHeuristic");
        goto out;
    }
    if (count < 0 || (uint32_t)count > a->requested)
        count = 0;
    uint8_t *p = proto_put_R_DATA(&s->reply, index, 4 + (size_t)count * sizeof *res);
    if (!p) {
        e = exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED,
                      "LT_HEURISTIC: reply");
        goto out;
    }
    uint32_t c32 = (uint32_t)count;
    memcpy(p, &c32, 4);
    memcpy(p + 4, res, (size_t)count * sizeof *res);
out:
    free(pb);
    free(res);
    return e;
}

/* Is the matrix at p (layout lay) inside the session's memory? NULL passes for an empty
 * matrix (nothing is read or written) and for C when may_be_null (cuBLASLt reads C only when
 * beta is nonzero and says so itself). Layouts whose extent Genie cannot compute (IMMA
 * orders, pointer arrays, planar complex) are checked at their start. */
static int matrix_ok(exec_session *s, uint32_t index, const char *name, uint64_t p, const void *lay,
                     int may_be_null)
{
    uint64_t n = 1;
    int e = proto_lt_layout_extent(lay, &n);
    if (e == GENIE_EINVAL)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUBLAS_STATUS_INVALID_VALUE,
                         "LT_MATMUL: the layout of %s is invalid", name);
    if (!p) {
        if (may_be_null || (!e && n == 0))
            return 0;
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUBLAS_STATUS_INVALID_VALUE,
                         "LT_MATMUL: %s is NULL", name);
    }
    if (e || n == 0)
        n = 1;
    if (!exec_range_ok(s, p, n))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUBLAS_STATUS_INVALID_VALUE,
                         "LT_MATMUL: %s [%#llx, +%llu) is not in this session's memory", name,
                         (unsigned long long)p, (unsigned long long)n);
    return 0;
}

static int ptr_ok(exec_session *s, uint32_t index, const char *name, uint64_t p, uint64_t n)
{
    if (p && !exec_range_ok(s, p, n ? n : 1))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUBLAS_STATUS_INVALID_VALUE,
                         "LT_MATMUL: %s %#llx (+%llu) is not in this session's memory", name,
                         (unsigned long long)p, (unsigned long long)n);
    return 0;
}

/* u64 a*b + c, saturating: an extent that overflows is one no session can hold. */
static uint64_t mad_sat(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r) || __builtin_add_overflow(r, c, &r))
        return UINT64_MAX;
    return r;
}

/* D's shape: rows, columns, batch count (at least 1) and element type. */
typedef struct {
    uint64_t rows, cols, batch;
    int type;
} lt_dshape;

static lt_dshape d_shape(const proto_lt_problem *pb)
{
    const void *dl = pb->layout[3];
    int64_t b = proto_lt_obj_geti(dl, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT);
    return (lt_dshape){(uint64_t)proto_lt_obj_geti(dl, CUBLASLT_MATRIX_LAYOUT_ROWS),
                       (uint64_t)proto_lt_obj_geti(dl, CUBLASLT_MATRIX_LAYOUT_COLS),
                       b > 1 ? (uint64_t)b : 1,
                       (int)proto_lt_obj_geti(dl, CUBLASLT_MATRIX_LAYOUT_TYPE)};
}

/* Bytes of a batched vector or matrix: per batch `one` elements after the first batch's
 * start, batches `stride` elements apart (0: all batches share it), of el bytes (el 0: the
 * count is in bits, rounded up to bytes). */
static uint64_t batched_bytes(uint64_t one, uint64_t batch, int64_t stride, size_t el)
{
    uint64_t elems = mad_sat(batch - 1, stride > 0 ? (uint64_t)stride : 0, one);
    if (!el)
        return elems == UINT64_MAX ? elems : elems / 8 + (elems % 8 != 0);
    return mad_sat(elems, el, 0);
}

/* The bias (or bias gradient) vector: one element per row of D, or per column for BGRADB;
 * its type is BIAS_DATA_TYPE, else D's, except that 8-bit outputs may take a 32-bit bias
 * (IMMA, fp8): counted at 4 bytes then, the larger. 0 when the epilogue reads no bias. */
static uint64_t bias_bytes(const proto_lt_problem *pb, uint32_t epi, lt_dshape d)
{
    if (!(epi & (CUBLASLT_EPILOGUE_BIAS | CUBLASLT_EPILOGUE_BGRADA | CUBLASLT_EPILOGUE_BGRADB |
                 16 /* the BGRAD of DRELU_BGRAD and DGELU_BGRAD */)))
        return 0;
    int64_t bt = proto_lt_obj_geti(pb->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE);
    size_t el = proto_lt_type_size((int)(bt == -1 ? d.type : bt));
    if (bt == -1 && el == 1)
        el = 4;
    if (!el)
        return UINT64_MAX;
    uint64_t len = (epi & CUBLASLT_EPILOGUE_BGRADB) ? d.cols : d.rows;
    return batched_bytes(len, d.batch,
                         proto_lt_obj_geti(pb->desc, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE), el);
}

/* The epilogue's auxiliary matrix (AUX epilogues: ReLU bit-mask or GELU input), rows of D
 * by columns of D with EPILOGUE_AUX_LD (in bits for the bit-mask) and its batch stride. 0
 * when the epilogue has none. */
static uint64_t aux_bytes(const proto_lt_problem *pb, uint32_t epi, lt_dshape d)
{
    if (!(epi & 128))
        return 0;
    int64_t ld = proto_lt_obj_geti(pb->desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD);
    uint64_t lda = ld > 0 && (uint64_t)ld > d.rows ? (uint64_t)ld : d.rows;
    uint64_t one = d.cols ? mad_sat(d.cols - 1, lda, d.rows) : 0;
    int64_t bs = proto_lt_obj_geti(pb->desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE);
    if (epi & (CUBLASLT_EPILOGUE_RELU | 8 /* DRELU */))
        return batched_bytes(one, d.batch, bs, 0);
    int64_t at = proto_lt_obj_geti(pb->desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE);
    size_t el = proto_lt_type_size((int)(at == -1 ? d.type : at));
    if (at == -1 && el == 1)
        el = 2; /* fp8 outputs may keep a 16-bit GELU input */
    return el ? batched_bytes(one, d.batch, bs, el) : UINT64_MAX;
}

/* The device pointers a descriptor carries, each over its whole extent before the library
 * runs: the bias or bias gradient and the auxiliary matrix from the epilogue and D's shape
 * (a pointer the epilogue does not use is checked at its first byte), the scale and amax
 * pointers as one value of the scale type (at least 4 bytes) in the scalar scale mode. The
 * block and vector scale modes (fp8/fp4 scaling) are refused: Genie does not size their
 * scale tensors, and runs nothing it has not range-checked. */
static int desc_ptrs_ok(exec_session *s, uint32_t index, const proto_lt_problem *pb)
{
    enum { BIAS, AUX, SCALAR };
    static const struct {
        uint32_t attr, mode;
        const char *name;
        int kind;
    } ptrs[] = {
        {CUBLASLT_MATMUL_DESC_BIAS_POINTER, 0, "bias", BIAS},
        {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, 0, "epilogue aux", AUX},
        {CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, "A scale", SCALAR},
        {CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, "B scale", SCALAR},
        {CUBLASLT_MATMUL_DESC_C_SCALE_POINTER, CUBLASLT_MATMUL_DESC_C_SCALE_MODE, "C scale", SCALAR},
        {CUBLASLT_MATMUL_DESC_D_SCALE_POINTER, CUBLASLT_MATMUL_DESC_D_SCALE_MODE, "D scale", SCALAR},
        {CUBLASLT_MATMUL_DESC_AMAX_D_POINTER, 0, "amax D", SCALAR},
        {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_POINTER,
         CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_MODE, "aux scale", SCALAR},
        {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_AMAX_POINTER, 0, "aux amax", SCALAR},
        {CUBLASLT_MATMUL_DESC_D_OUT_SCALE_POINTER, CUBLASLT_MATMUL_DESC_D_OUT_SCALE_MODE,
         "D out scale", SCALAR},
    };
    const void *d = pb->desc;
    uint32_t epi = (uint32_t)proto_lt_obj_geti(d, CUBLASLT_MATMUL_DESC_EPILOGUE);
    lt_dshape ds = d_shape(pb);
    size_t scale_el = proto_lt_type_size((int)proto_lt_obj_geti(d, CUBLASLT_MATMUL_DESC_SCALE_TYPE));
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) {
        uint64_t p = (uint64_t)proto_lt_obj_geti(d, ptrs[i].attr), n = 1;
        if (!p)
            continue;
        int64_t mode = ptrs[i].mode ? proto_lt_obj_geti(d, ptrs[i].mode) : 0;
        if (mode != CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F)
            return exec_fail(s, index, EXEC_cudaErrorNotSupported, CUBLAS_STATUS_NOT_SUPPORTED,
                             "LT_MATMUL: %s mode %lld (block or vector scaling) is not supported "
                             "by Genie",
                             ptrs[i].name, (long long)mode);
        if (ptrs[i].kind == BIAS)
            n = bias_bytes(pb, epi, ds);
        else if (ptrs[i].kind == AUX)
            n = aux_bytes(pb, epi, ds);
        else
            n = scale_el > 4 ? scale_el : 4;
        int e = ptr_ok(s, index, ptrs[i].name, p, n ? n : 1);
        if (e)
            return e;
    }
    return 0;
}

/* A device alpha/beta: one value, or one per row of D in the vector modes. */
static int scalar_ok(exec_session *s, uint32_t index, const char *name, uint32_t kind,
                     const uint8_t v[16], const proto_lt_problem *pb)
{
    if (kind != PROTO_LT_SC_DEVICE)
        return 0;
    uint64_t p, n = pb->sc.size;
    memcpy(&p, v, 8);
    int64_t mode = proto_lt_obj_geti(pb->desc, CUBLASLT_MATMUL_DESC_POINTER_MODE);
    if (mode != CUBLASLT_POINTER_MODE_DEVICE) { /* a vector: one per row of D, per batch */
        lt_dshape d = d_shape(pb);
        if (d.rows)
            n = batched_bytes(d.rows, d.batch,
                              proto_lt_obj_geti(pb->desc,
                                                CUBLASLT_MATMUL_DESC_ALPHA_VECTOR_BATCH_STRIDE),
                              pb->sc.size);
    }
    if (!p)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUBLAS_STATUS_INVALID_VALUE,
                         "LT_MATMUL: %s is NULL", name);
    return ptr_ok(s, index, name, p, n);
}

int exec_op_LT_MATMUL(exec_session *s, uint32_t index, const proto_LT_MATMUL *a)
{
    exec_lt *L;
    int e;
    if ((e = lt_state(s, index, "LT_MATMUL", &L)))
        return e;
    if (!L->f.Matmul)
        return missing(s, index, "cublasLtMatmul");
    cublasLtHandle_t h = exec_idmap_get(&L->handles, a->handle);
    if (!h)
        return exec_fail(s, index, EXEC_cudaErrorInitializationError, CUBLAS_STATUS_NOT_INITIALIZED,
                         "LT_MATMUL: unknown cuBLASLt handle %u", a->handle);
    CUstream stream;
    if ((e = exec_stream(s, index, a->stream, "LT_MATMUL", &stream)))
        return e;
    proto_lt_problem *pb = malloc(sizeof *pb); /* freed below */
    if (!pb)
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED,
                         "LT_MATMUL: out of memory");
    if ((e = decode(s, index, "LT_MATMUL", a->problem, a->problem_len, PROTO_LT_FORM_MATMUL, pb)) ||
        (e = matrix_ok(s, index, "A", a->a, pb->layout[0], 0)) ||
        (e = matrix_ok(s, index, "B", a->b, pb->layout[1], 0)) ||
        (e = matrix_ok(s, index, "C", a->c, pb->layout[2], 1)) ||
        (e = matrix_ok(s, index, "D", a->d, pb->layout[3], 0)) ||
        (e = desc_ptrs_ok(s, index, pb)) ||
        (e = scalar_ok(s, index, "alpha", pb->sc.alpha_kind, pb->sc.alpha, pb)) ||
        (e = scalar_ok(s, index, "beta", pb->sc.beta_kind, pb->sc.beta, pb)))
        goto out;
    if (a->workspace_size &&
        (!a->workspace || !exec_range_ok(s, a->workspace, a->workspace_size))) {
        e = exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUBLAS_STATUS_INVALID_VALUE,
                      "LT_MATMUL: workspace [%#llx, +%llu) is not in this session's memory",
                      (unsigned long long)a->workspace, (unsigned long long)a->workspace_size);
        goto out;
    }
    void *desc, *lay[4];
    if ((e = lt_objs(s, L, index, pb, &desc, lay, NULL)))
        goto out;
    const void *alpha, *beta;
    uint64_t v;
    if (pb->sc.alpha_kind == PROTO_LT_SC_HOST) {
        alpha = pb->sc.alpha;
    } else {
        memcpy(&v, pb->sc.alpha, 8);
        alpha = (const void *)(uintptr_t)v;
    }
    if (pb->sc.beta_kind == PROTO_LT_SC_DEVICE) {
        memcpy(&v, pb->sc.beta, 8);
        beta = (const void *)(uintptr_t)v;
    } else {
        beta = pb->sc.beta; /* the value, or zeros when the mode ignores beta */
    }
    int st = L->f.Matmul(h, desc, alpha, (const void *)(uintptr_t)a->a, lay[0],
                         (const void *)(uintptr_t)a->b, lay[1], beta, (const void *)(uintptr_t)a->c,
                         lay[2], (void *)(uintptr_t)a->d, lay[3],
                         pb->has_algo ? (const cublasLtMatmulAlgo_t *)pb->algo : NULL,
                         a->workspace_size ? (void *)(uintptr_t)a->workspace : NULL,
                         (size_t)a->workspace_size, (cudaStream_t)stream);
    if (st)
        e = lt_status_fail(s, index, st, "cublasLtMatmul");
out:
    free(pb);
    return e;
}

/* ------------------------------------------------------ the algorithm calls ---- */

static int algo_bad(exec_session *s, uint32_t index, const char *why)
{
    return exec_fail(s, index, EXEC_cudaErrorInvalidValue, CUBLAS_STATUS_INVALID_VALUE,
                     "LT_ALGO: %s", why);
}

/* cublasLtMatmulAlgoGetIds, Init, CapGetAttribute, ConfigSet/GetAttribute, Check (protocol/lt.h:
 * args and reply by call). The library's status travels in the reply, not as an R_ERROR: the
 * client returns it as the call's own, as cuBLASLt would. */
int exec_op_LT_ALGO(exec_session *s, uint32_t index, const proto_LT_ALGO *a)
{
    exec_lt *L;
    int e;
    if ((e = lt_state(s, index, "LT_ALGO", &L)))
        return e;
    const uint8_t *p = a->args;
    size_t n = a->args_len;
    int32_t t[7];
    cublasLtMatmulAlgo_t algo;
    uint32_t attr = 0;
    uint64_t size = 0;
    size_t written = 0;
    int st;
    uint8_t *out = NULL;
    size_t out_n = 0;
    proto_lt_problem *pb = NULL;
    cublasLtMatmulHeuristicResult_t res;
    int32_t *ids = NULL;
    cublasLtHandle_t h = NULL;
    switch (a->call) {
    case PROTO_LT_ALGO_GET_IDS:
    case PROTO_LT_ALGO_INIT:
        if (n != sizeof t)
            return algo_bad(s, index, "types and count: wrong length");
        memcpy(t, p, sizeof t);
        if ((e = query_handle(s, L, index, a->handle, &h)))
            return e;
        if (a->call == PROTO_LT_ALGO_INIT) {
            if (!L->f.AlgoInit)
                return missing(s, index, "cublasLtMatmulAlgoInit");
            memset(&algo, 0, sizeof algo);
            st = L->f.AlgoInit(h, (cublasComputeType_t)t[0], (cudaDataType_t)t[1],
                               (cudaDataType_t)t[2], (cudaDataType_t)t[3], (cudaDataType_t)t[4],
                               (cudaDataType_t)t[5], t[6], &algo);
            out = (uint8_t *)&algo;
            out_n = written = sizeof algo;
            break;
        }
        if (!L->f.GetIds)
            return missing(s, index, "cublasLtMatmulAlgoGetIds");
        if (t[6] < 1 || (uint32_t)t[6] > PROTO_LT_ALGO_MAX_IDS)
            return algo_bad(s, index, "GetIds: requested count out of range");
        if (!(ids = calloc((size_t)t[6], sizeof *ids))) /* freed below */
            return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED,
                             "LT_ALGO: out of memory");
        int count = 0;
        st = L->f.GetIds(h, (cublasComputeType_t)t[0], (cudaDataType_t)t[1], (cudaDataType_t)t[2],
                         (cudaDataType_t)t[3], (cudaDataType_t)t[4], (cudaDataType_t)t[5], t[6],
                         ids, &count);
        if (count < 0 || count > t[6])
            count = 0;
        out = (uint8_t *)ids;
        out_n = written = (size_t)count * sizeof *ids;
        break;
    case PROTO_LT_ALGO_CAP_GET:
    case PROTO_LT_ALGO_CONFIG_GET:
        if (n != sizeof algo + 4 + 8)
            return algo_bad(s, index, "attribute query: wrong length");
        memcpy(&algo, p, sizeof algo);
        memcpy(&attr, p + sizeof algo, 4);
        memcpy(&size, p + sizeof algo + 4, 8);
        if (size > PROTO_LT_ALGO_MAX_VALUE)
            return algo_bad(s, index, "attribute query: value too large");
        if (size && !(out = calloc(1, (size_t)size))) /* freed below */
            return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED,
                             "LT_ALGO: out of memory");
        if (a->call == PROTO_LT_ALGO_CAP_GET) {
            if (!L->f.CapGet) {
                free(out);
                return missing(s, index, "cublasLtMatmulAlgoCapGetAttribute");
            }
            st = L->f.CapGet(&algo, (cublasLtMatmulAlgoCapAttributes_t)attr, out, (size_t)size,
                             &written);
        } else {
            if (!L->f.ConfigGet) {
                free(out);
                return missing(s, index, "cublasLtMatmulAlgoConfigGetAttribute");
            }
            st = L->f.ConfigGet(&algo, (cublasLtMatmulAlgoConfigAttributes_t)attr, out,
                                (size_t)size, &written);
        }
        out_n = written < size ? written : (size_t)size;
        break;
    case PROTO_LT_ALGO_CONFIG_SET:
        if (n < sizeof algo + 4 || n - sizeof algo - 4 > PROTO_LT_ALGO_MAX_VALUE)
            return algo_bad(s, index, "ConfigSetAttribute: wrong length");
        if (!L->f.ConfigSet)
            return missing(s, index, "cublasLtMatmulAlgoConfigSetAttribute");
        memcpy(&algo, p, sizeof algo);
        memcpy(&attr, p + sizeof algo, 4);
        st = L->f.ConfigSet(&algo, (cublasLtMatmulAlgoConfigAttributes_t)attr, p + sizeof algo + 4,
                            n - sizeof algo - 4);
        out = (uint8_t *)&algo;
        out_n = written = sizeof algo;
        break;
    case PROTO_LT_ALGO_CHECK:
        if (n < sizeof algo)
            return algo_bad(s, index, "Check: no algo");
        if (!L->f.Check)
            return missing(s, index, "cublasLtMatmulAlgoCheck");
        memcpy(&algo, p, sizeof algo);
        if (!(pb = malloc(sizeof *pb))) /* freed below */
            return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED,
                             "LT_ALGO: out of memory");
        void *desc, *lay[4];
        if ((e = decode(s, index, "LT_ALGO", p + sizeof algo, n - sizeof algo, PROTO_LT_FORM_MATMUL,
                        pb)) ||
            (e = query_handle(s, L, index, a->handle, &h)) ||
            (e = lt_objs(s, L, index, pb, &desc, lay, NULL))) {
            free(pb);
            return e;
        }
        memset(&res, 0, sizeof res);
        st = L->f.Check(h, desc, lay[0], lay[1], lay[2], lay[3], &algo, &res);
        free(pb);
        out = (uint8_t *)&res;
        out_n = written = sizeof res;
        break;
    default:
        return algo_bad(s, index, "unknown call");
    }
    if (st)
        out_n = 0; /* a failed call writes nothing the caller may read */
    uint8_t *r = proto_put_R_DATA(&s->reply, index, PROTO_LT_ALGO_REPLY_HEAD + out_n);
    if (r) {
        int32_t st32 = st;
        uint32_t zero = 0;
        uint64_t w64 = st ? 0 : written;
        memcpy(r, &st32, 4);
        memcpy(r + 4, &zero, 4);
        memcpy(r + 8, &w64, 8);
        if (out_n)
            memcpy(r + PROTO_LT_ALGO_REPLY_HEAD, out, out_n);
    }
    if (a->call == PROTO_LT_ALGO_GET_IDS)
        free(ids);
    else if (a->call == PROTO_LT_ALGO_CAP_GET || a->call == PROTO_LT_ALGO_CONFIG_GET)
        free(out);
    if (!r)
        return exec_fail(s, index, EXEC_cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED,
                         "LT_ALGO: reply");
    return 0;
}

void exec_lt_session_close(exec_session *s)
{
    exec_lt *L = s->lt;
    if (!L)
        return;
    while (L->lru.next != &L->lru)
        entry_drop(L, L->lru.next);
    if (L->f.Destroy) {
        for (uint32_t i = 0; i < L->handles.cap; i++)
            if (L->handles.vals[i])
                L->f.Destroy((cublasLtHandle_t)L->handles.vals[i]);
        if (L->query)
            L->f.Destroy(L->query);
    }
    exec_idmap_free(&L->handles);
    free(L);
    s->lt = NULL;
}
