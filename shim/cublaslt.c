/* cublaslt.c — cuBLASLt on the client: handles, local descriptors, cached heuristics, async matmul.
 *
 * Descriptors, layouts and preferences live entirely here, inside the storage cuBLASLt's API
 * gives them (protocol/lt.h: the in-memory form fits the public opaque structs), so setting or
 * reading an attribute costs nothing on the wire. What needs the GPU travels serialised:
 *   cublasLtCreate/Destroy          LT_CREATE/LT_DESTROY records in the batch (async)
 *   cublasLtMatmulAlgoGetHeuristic  one LT_HEURISTIC frame per distinct problem (a query round
 *                                   trip), then answered from a process-wide cache
 *   cublasLtMatmul                  one LT_MATMUL record in the batch (async, like a launch)
 *   cublasLtMatmulAlgoGetIds, Init,  one LT_ALGO frame per distinct call (a query round trip),
 *   Cap/ConfigGet/SetAttribute,     then answered from a process-wide cache (below)
 *   Check
 * The heuristic frame travels on its own, ahead of the batch, so the executor may not have seen
 * the handle's LT_CREATE yet; it answers with a handle of its own then (heuristics do not depend
 * on the handle's state). */
#include "shim/shim_blas.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/lt.h"

/* A cuBLASLt handle as the client sees it; the cublasLtHandle_t is a pointer to this. */
typedef struct shim_lt_handle {
    SHIM_HANDLE_FIELDS
} shim_lt_handle;
#define SHIM_LT_MAGIC 0x4c544c54u /* "TLTL" */

void *shim_lt_companion(const void *blas); /* shim/lt_companion.c */
void shim_lt_companions_forget(void);     /* shim/lt_companion.c */
static shim_lt_handle *lt_handle_of(cublasLtHandle_t h)
{
    /* lock held by every caller; looked up, not read through */
    if (shim_handle_is(h, SHIM_BLAS_MAGIC)) /* PyTorch's cuBLAS handle as an Lt handle */
        h = shim_lt_companion(h);
    return shim_handle_is(h, SHIM_LT_MAGIC) ? (shim_lt_handle *)h : NULL;
}

/* ------------------------------------------------------------- local answers ---- */

const char *shim_impl_cublasLtGetStatusName(cublasStatus_t status)
{
    return shim_impl_cublasGetStatusName(status);
}

const char *shim_impl_cublasLtGetStatusString(cublasStatus_t status)
{
    return shim_impl_cublasGetStatusString(status);
}

/* cuBLASLt ships with cuBLAS and reports the same version. */
size_t shim_impl_cublasLtGetVersion(void)
{
    return CUBLAS_VERSION;
}

size_t shim_impl_cublasLtGetCudartVersion(void)
{
    return CUDART_VERSION;
}

cublasStatus_t shim_impl_cublasLtGetProperty(libraryPropertyType type, int *value)
{
    if (!value)
        return CUBLAS_STATUS_INVALID_VALUE;
    return shim_impl_cublasGetProperty(type, value); /* one library, one version */
}

/* ------------------------------------------------------------------- handles ---- */

cublasStatus_t shim_impl_cublasLtCreate(cublasLtHandle_t *lightHandle)
{
    if (!lightHandle)
        return CUBLAS_STATUS_INVALID_VALUE;
    shim_lt_handle *h = calloc(1, sizeof *h); /* freed by cublasLtDestroy */
    if (!h)
        return CUBLAS_STATUS_ALLOC_FAILED;
    shim_lock();
    cudaError_t e = shim_ensure();
    if (e != cudaSuccess) {
        shim_unlock();
        free(h);
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    h->magic = SHIM_LT_MAGIC;
    h->id = shim_g.next_lt++;
    if (shim_handle_add(h, SHIM_LT_MAGIC)) {
        shim_unlock();
        free(h);
        return CUBLAS_STATUS_ALLOC_FAILED;
    }
    shim_rec r;
    shim_batch_begin(&r);
    if (!SHIM_PUT(&r, LT_CREATE, h->id)) {
        shim_batch_rollback(&r);
        shim_handle_del(h);
        shim_unlock();
        free(h);
        return CUBLAS_STATUS_ALLOC_FAILED;
    }
    shim_sem_op(SEM_OP_HANDLE, PROTO_OP_LT_CREATE, 0);
    e = shim_batch_commit(&r, SHIM_NO_STREAM, 0);
    if (!r.committed) {
        shim_handle_del(h);
        shim_unlock();
        free(h);
        return CUBLAS_STATUS_ALLOC_FAILED;
    }
    shim_unlock();
    /* the handle exists whatever an earlier op's async error says; that error surfaces at
     * the next sync as the runtime's would */
    (void)e;
    *lightHandle = (cublasLtHandle_t)h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t shim_impl_cublasLtDestroy(cublasLtHandle_t lightHandle)
{
    shim_lock();
    shim_lt_handle *h = lt_handle_of(lightHandle);
    if (!h) {
        shim_unlock();
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    /* a lost session has nothing left to destroy remotely */
    if (shim_ensure() == cudaSuccess) {
        shim_rec r;
        shim_batch_begin(&r);
        if (SHIM_PUT(&r, LT_DESTROY, h->id)) {
            shim_sem_op(SEM_OP_HANDLE, PROTO_OP_LT_DESTROY, 0);
            (void)shim_batch_commit(&r, SHIM_NO_STREAM, 0);
        } else
            shim_batch_rollback(&r);
        if (!r.committed)
            st = CUBLAS_STATUS_ALLOC_FAILED;
    }
    shim_handle_del(h);
    h->magic = 0;
    free(h);
    shim_unlock();
    return st;
}

/* ------------------------------------------------------- descriptors (local) ---- */

static cublasStatus_t obj_create(void **out, int kind)
{
    if (!out)
        return CUBLAS_STATUS_INVALID_VALUE;
    void *o = malloc(proto_lt_obj_bytes(kind)); /* freed by the kind's Destroy */
    if (!o)
        return CUBLAS_STATUS_ALLOC_FAILED;
    proto_lt_obj_init(o, kind, 1);
    *out = o;
    return CUBLAS_STATUS_SUCCESS;
}

/* The caller's storage (cublasLt*Init): it must hold the whole in-memory form. */
static cublasStatus_t obj_init(void *o, size_t size, int kind)
{
    if (!o)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (size < proto_lt_obj_bytes(kind))
        return CUBLAS_STATUS_ALLOC_FAILED;
    proto_lt_obj_init(o, kind, 0);
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t obj_destroy(void *o, int kind)
{
    if (!o) /* cuBLASLt accepts destroying NULL */
        return CUBLAS_STATUS_SUCCESS;
    if (proto_lt_obj_kind(o) != kind)
        return CUBLAS_STATUS_INVALID_VALUE;
    int heap = proto_lt_obj_heap(o);
    proto_lt_obj_kill(o);
    if (heap)
        free(o);
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t obj_set(void *o, int kind, uint32_t attr, const void *buf, size_t n)
{
    if (proto_lt_obj_kind(o) != kind)
        return CUBLAS_STATUS_INVALID_VALUE;
    /* an emulation descriptor is a client object the executor could not follow (and
     * cublasLtEmulationDescCreate is denied): only NULL is accepted */
    if (kind == PROTO_LT_DESC && attr == CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR && buf &&
        n == sizeof(void *)) {
        void *p;
        memcpy(&p, buf, sizeof p);
        if (p)
            return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    return proto_lt_obj_set(o, attr, buf, n) ? CUBLAS_STATUS_INVALID_VALUE : CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t obj_get(const void *o, int kind, uint32_t attr, void *buf, size_t n,
                              size_t *written)
{
    if (proto_lt_obj_kind(o) != kind)
        return CUBLAS_STATUS_INVALID_VALUE;
    return proto_lt_obj_get(o, attr, buf, n, written) ? CUBLAS_STATUS_INVALID_VALUE
                                                      : CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t desc_fill(void *o, cublasComputeType_t ct, cudaDataType_t st)
{
    int32_t c = (int32_t)ct, s = (int32_t)st;
    proto_lt_obj_set(o, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, &c, 4);
    proto_lt_obj_set(o, CUBLASLT_MATMUL_DESC_SCALE_TYPE, &s, 4);
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t layout_fill(void *o, cudaDataType type, uint64_t rows, uint64_t cols,
                                  int64_t ld)
{
    uint32_t t = (uint32_t)type;
    proto_lt_obj_set(o, CUBLASLT_MATRIX_LAYOUT_TYPE, &t, 4);
    proto_lt_obj_set(o, CUBLASLT_MATRIX_LAYOUT_ROWS, &rows, 8);
    proto_lt_obj_set(o, CUBLASLT_MATRIX_LAYOUT_COLS, &cols, 8);
    proto_lt_obj_set(o, CUBLASLT_MATRIX_LAYOUT_LD, &ld, 8);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t shim_impl_cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *matmulDesc,
                                                  cublasComputeType_t computeType,
                                                  cudaDataType_t scaleType)
{
    cublasStatus_t st = obj_create((void **)matmulDesc, PROTO_LT_DESC);
    return st ? st : desc_fill(*matmulDesc, computeType, scaleType);
}

cublasStatus_t shim_impl_cublasLtMatmulDescInit_internal(cublasLtMatmulDesc_t matmulDesc,
                                                         size_t size,
                                                         cublasComputeType_t computeType,
                                                         cudaDataType_t scaleType)
{
    cublasStatus_t st = obj_init(matmulDesc, size, PROTO_LT_DESC);
    return st ? st : desc_fill(matmulDesc, computeType, scaleType);
}

cublasStatus_t shim_impl_cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t matmulDesc)
{
    return obj_destroy(matmulDesc, PROTO_LT_DESC);
}

cublasStatus_t shim_impl_cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t matmulDesc,
                                                        cublasLtMatmulDescAttributes_t attr,
                                                        const void *buf, size_t sizeInBytes)
{
    return obj_set(matmulDesc, PROTO_LT_DESC, (uint32_t)attr, buf, sizeInBytes);
}

cublasStatus_t shim_impl_cublasLtMatmulDescGetAttribute(cublasLtMatmulDesc_t matmulDesc,
                                                        cublasLtMatmulDescAttributes_t attr,
                                                        void *buf, size_t sizeInBytes,
                                                        size_t *sizeWritten)
{
    return obj_get(matmulDesc, PROTO_LT_DESC, (uint32_t)attr, buf, sizeInBytes, sizeWritten);
}

cublasStatus_t shim_impl_cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *matLayout,
                                                    cudaDataType type, uint64_t rows, uint64_t cols,
                                                    int64_t ld)
{
    cublasStatus_t st = obj_create((void **)matLayout, PROTO_LT_LAYOUT);
    return st ? st : layout_fill(*matLayout, type, rows, cols, ld);
}

cublasStatus_t shim_impl_cublasLtMatrixLayoutInit_internal(cublasLtMatrixLayout_t matLayout,
                                                           size_t size, cudaDataType type,
                                                           uint64_t rows, uint64_t cols, int64_t ld)
{
    cublasStatus_t st = obj_init(matLayout, size, PROTO_LT_LAYOUT);
    return st ? st : layout_fill(matLayout, type, rows, cols, ld);
}

cublasStatus_t shim_impl_cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t matLayout)
{
    return obj_destroy(matLayout, PROTO_LT_LAYOUT);
}

cublasStatus_t shim_impl_cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t matLayout,
                                                          cublasLtMatrixLayoutAttribute_t attr,
                                                          const void *buf, size_t sizeInBytes)
{
    return obj_set(matLayout, PROTO_LT_LAYOUT, (uint32_t)attr, buf, sizeInBytes);
}

cublasStatus_t shim_impl_cublasLtMatrixLayoutGetAttribute(cublasLtMatrixLayout_t matLayout,
                                                          cublasLtMatrixLayoutAttribute_t attr,
                                                          void *buf, size_t sizeInBytes,
                                                          size_t *sizeWritten)
{
    return obj_get(matLayout, PROTO_LT_LAYOUT, (uint32_t)attr, buf, sizeInBytes, sizeWritten);
}

cublasStatus_t shim_impl_cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref)
{
    return obj_create((void **)pref, PROTO_LT_PREF);
}

cublasStatus_t shim_impl_cublasLtMatmulPreferenceInit_internal(cublasLtMatmulPreference_t pref,
                                                               size_t size)
{
    return obj_init(pref, size, PROTO_LT_PREF);
}

cublasStatus_t shim_impl_cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref)
{
    return obj_destroy(pref, PROTO_LT_PREF);
}

cublasStatus_t
shim_impl_cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                               cublasLtMatmulPreferenceAttributes_t attr,
                                               const void *buf, size_t sizeInBytes)
{
    return obj_set(pref, PROTO_LT_PREF, (uint32_t)attr, buf, sizeInBytes);
}

cublasStatus_t
shim_impl_cublasLtMatmulPreferenceGetAttribute(cublasLtMatmulPreference_t pref,
                                               cublasLtMatmulPreferenceAttributes_t attr, void *buf,
                                               size_t sizeInBytes, size_t *sizeWritten)
{
    return obj_get(pref, PROTO_LT_PREF, (uint32_t)attr, buf, sizeInBytes, sizeWritten);
}

/* ------------------------------------------------------------ the heuristic ---- */

/* Answers of the executor's heuristic, keyed by the hash of (requested count, problem bytes).
 * Process-wide, under the shim lock; entries and their results are owned here and live until
 * the cache is full, when it starts over (a model has a few dozen distinct GEMMs). */
typedef struct lt_cached {
    struct lt_cached *next;
    genie_hash128 key;
    int count;
    cublasLtMatmulHeuristicResult_t *results; /* count entries, owned */
} lt_cached;

#define LT_CACHE_BUCKETS 256u
#define LT_CACHE_MAX 4096u
static lt_cached *lt_cache[LT_CACHE_BUCKETS];
static unsigned lt_cache_n;

static lt_cached *cache_find(genie_hash128 k)
{
    for (lt_cached *c = lt_cache[k.lo % LT_CACHE_BUCKETS]; c; c = c->next)
        if (c->key.lo == k.lo && c->key.hi == k.hi)
            return c;
    return NULL;
}

static void cache_clear(void)
{
    for (unsigned b = 0; b < LT_CACHE_BUCKETS; b++)
        while (lt_cache[b]) {
            lt_cached *c = lt_cache[b];
            lt_cache[b] = c->next;
            free(c->results);
            free(c);
        }
    lt_cache_n = 0;
}

static void cache_add(genie_hash128 k, const cublasLtMatmulHeuristicResult_t *r, int count)
{
    if (lt_cache_n >= LT_CACHE_MAX)
        cache_clear();
    lt_cached *c = calloc(1, sizeof *c);
    if (!c)
        return; /* not cached: the next identical call asks again */
    c->results = malloc((size_t)(count ? count : 1) * sizeof *r);
    if (!c->results) {
        free(c);
        return;
    }
    memcpy(c->results, r, (size_t)count * sizeof *r);
    c->key = k;
    c->count = count;
    c->next = lt_cache[k.lo % LT_CACHE_BUCKETS];
    lt_cache[k.lo % LT_CACHE_BUCKETS] = c;
    lt_cache_n++;
}

typedef struct heur_reply {
    cublasLtMatmulHeuristicResult_t *out; /* the caller's array (borrowed) */
    int requested, count, got;
    cublasStatus_t status;
} heur_reply;

static int heur_cb(void *ud, const proto_rec *r)
{
    heur_reply *h = ud;
    if (r->op == PROTO_OP_R_DATA) {
        proto_R_DATA d;
        uint32_t n;
        if (proto_get_R_DATA(r, &d) || d.data_len < 4)
            return GENIE_EPROTO;
        memcpy(&n, d.data, 4);
        if (n > (uint32_t)h->requested || d.data_len != 4 + (size_t)n * PROTO_LT_RESULT_BYTES)
            return GENIE_EPROTO;
        memcpy(h->out, d.data + 4, (size_t)n * PROTO_LT_RESULT_BYTES);
        h->count = (int)n;
        h->got = 1;
    } else if (r->op == PROTO_OP_R_ERROR) {
        proto_R_ERROR e;
        if (proto_get_R_ERROR(r, &e))
            return GENIE_EPROTO;
        GENIE_DEBUG("cublasLtMatmulAlgoGetHeuristic: %.*s", (int)e.msg_len, (const char *)e.msg);
        /* the executor puts the library's status in cu_result */
        h->status = e.cu_result > 0 && e.cu_result <= CUBLAS_STATUS_LICENSE_ERROR
                        ? (cublasStatus_t)e.cu_result
                        : shim_blas_status((cudaError_t)e.cuda_err);
    }
    return 0;
}

/* Checks the objects of a problem: each must be a live object of its kind. */
static cublasStatus_t check_objs(const void *desc, const void *const lay[4], const void *pref)
{
    if (proto_lt_obj_kind(desc) != PROTO_LT_DESC)
        return CUBLAS_STATUS_INVALID_VALUE;
    for (int i = 0; i < 4; i++)
        if (proto_lt_obj_kind(lay[i]) != PROTO_LT_LAYOUT)
            return CUBLAS_STATUS_INVALID_VALUE;
    if (pref && proto_lt_obj_kind(pref) != PROTO_LT_PREF)
        return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t shim_impl_cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t operationDesc, cublasLtMatrixLayout_t Adesc,
    cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
    cublasLtMatmulPreference_t preference, int requestedAlgoCount,
    cublasLtMatmulHeuristicResult_t heuristicResultsArray[], int *returnAlgoCount)
{
    const void *lay[4] = {Adesc, Bdesc, Cdesc, Ddesc};
    shim_lock();
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    shim_lt_handle *h = lt_handle_of(lightHandle);
    uint8_t *prob = NULL;
    genie_buf b = {0};
    if (!h) {
        st = CUBLAS_STATUS_NOT_INITIALIZED;
        goto out;
    }
    if (requestedAlgoCount <= 0 || !heuristicResultsArray || !returnAlgoCount ||
        check_objs(operationDesc, lay, preference) || !preference) {
        st = CUBLAS_STATUS_INVALID_VALUE;
        goto out;
    }
    /* more than the wire carries: the executor never has that many anyway */
    int req =
        requestedAlgoCount > (int)PROTO_LT_MAX_ALGOS ? (int)PROTO_LT_MAX_ALGOS : requestedAlgoCount;
    size_t n = proto_lt_problem_encode(NULL, 0, PROTO_LT_FORM_HEURISTIC, operationDesc, lay,
                                       preference, NULL, NULL);
    /* the key: requested count, then the problem (owned here, freed below) */
    prob = malloc(4 + n);
    if (!prob) {
        st = CUBLAS_STATUS_ALLOC_FAILED;
        goto out;
    }
    uint32_t r32 = (uint32_t)req;
    memcpy(prob, &r32, 4);
    proto_lt_problem_encode(prob + 4, n, PROTO_LT_FORM_HEURISTIC, operationDesc, lay, preference,
                            NULL, NULL);
    genie_hash128 key = genie_hash_content(prob, 4 + n);
    lt_cached *c = cache_find(key);
    if (c) {
        memcpy(heuristicResultsArray, c->results, (size_t)c->count * sizeof *c->results);
        *returnAlgoCount = c->count;
        goto out;
    }
    if (shim_ensure() != cudaSuccess) {
        st = CUBLAS_STATUS_NOT_INITIALIZED;
        goto out;
    }
    /* a frame of its own: the batch keeps recording (see the top of the file) */
    uint8_t *p;
    if (proto_frame_begin(&b, PROTO_KIND_REQUEST, 0) ||
        !(p = proto_put_LT_HEURISTIC(&b, h->id, r32, n))) {
        st = CUBLAS_STATUS_ALLOC_FAILED;
        goto out;
    }
    memcpy(p, prob + 4, n);
    heur_reply hr = {heuristicResultsArray, req, 0, 0, CUBLAS_STATUS_SUCCESS};
    cudaError_t e = shim_call_frame(&b, SHIM_RT_QUERY, heur_cb, &hr);
    if (e != cudaSuccess) {
        st = shim_blas_status(e);
        goto out;
    }
    if (hr.status != CUBLAS_STATUS_SUCCESS) {
        st = hr.status;
        *returnAlgoCount = 0;
        goto out;
    }
    if (!hr.got) {
        st = CUBLAS_STATUS_INTERNAL_ERROR;
        goto out;
    }
    *returnAlgoCount = hr.count;
    cache_add(key, heuristicResultsArray, hr.count);
out:
    genie_buf_free(&b);
    free(prob);
    shim_unlock();
    return st;
}

/* ------------------------------------------------------ the algorithm calls ---- */

/* cublasLtMatmulAlgoGetIds, Init, CapGetAttribute, ConfigSet/GetAttribute and Check go to the
 * host's cuBLASLt as one LT_ALGO query each (protocol/lt.h). Each answer is a function of the
 * call's arguments and the GPU alone, so it is kept for the process, keyed by (call, args): an
 * autotuning program that asks again (or a second run of its loop) costs no round trip. The
 * algo is the caller's 64-byte value; the configuration calls go to the library too, because
 * where it keeps a configuration inside that value is not documented. */
typedef struct algo_cached {
    struct algo_cached *next;
    genie_hash128 key;
    int status;
    uint64_t written;
    size_t n;
    uint8_t out[]; /* n bytes */
} algo_cached;

#define ALGO_CACHE_BUCKETS 256u
#define ALGO_CACHE_MAX 4096u
static algo_cached *algo_cache[ALGO_CACHE_BUCKETS];
static unsigned algo_cache_n;

static void algo_cache_clear(void)
{
    for (unsigned b = 0; b < ALGO_CACHE_BUCKETS; b++)
        while (algo_cache[b]) {
            algo_cached *c = algo_cache[b];
            algo_cache[b] = c->next;
            free(c);
        }
    algo_cache_n = 0;
}

typedef struct algo_reply {
    uint8_t *out; /* the caller's buffer (borrowed) */
    size_t cap;
    int got, status;
    uint64_t written;
    size_t n; /* bytes of output that came */
} algo_reply;

static int algo_cb(void *ud, const proto_rec *r)
{
    algo_reply *a = ud;
    if (r->op == PROTO_OP_R_DATA) {
        proto_R_DATA d;
        int32_t st;
        if (proto_get_R_DATA(r, &d) || d.data_len < PROTO_LT_ALGO_REPLY_HEAD)
            return GENIE_EPROTO;
        memcpy(&st, d.data, 4);
        memcpy(&a->written, d.data + 8, 8);
        a->n = d.data_len - PROTO_LT_ALGO_REPLY_HEAD;
        if (a->n > a->cap)
            return GENIE_EPROTO;
        if (a->n) /* out may be NULL when nothing is asked for (a size query) */
            memcpy(a->out, d.data + PROTO_LT_ALGO_REPLY_HEAD, a->n);
        a->status = st;
        a->got = 1;
    } else if (r->op == PROTO_OP_R_ERROR) {
        proto_R_ERROR e;
        if (proto_get_R_ERROR(r, &e))
            return GENIE_EPROTO;
        GENIE_DEBUG("cuBLASLt algorithm call: %.*s", (int)e.msg_len, (const char *)e.msg);
        a->status = e.cu_result > 0 && e.cu_result <= CUBLAS_STATUS_LICENSE_ERROR
                        ? (cublasStatus_t)e.cu_result
                        : shim_blas_status((cudaError_t)e.cuda_err);
    }
    return 0;
}

/* One LT_ALGO call (lock held): out gets at most cap bytes of output, *written the library's
 * sizeWritten. handle: the Lt handle's client ID (0: none needed). */
static cublasStatus_t algo_call(uint32_t handle, uint32_t call, const uint8_t *args, size_t n,
                                void *out, size_t cap, uint64_t *written)
{
    uint8_t *keyb = malloc(4 + n); /* freed below */
    if (!keyb)
        return CUBLAS_STATUS_ALLOC_FAILED;
    memcpy(keyb, &call, 4);
    memcpy(keyb + 4, args, n);
    genie_hash128 key = genie_hash_content(keyb, 4 + n);
    free(keyb);
    for (algo_cached *c = algo_cache[key.lo % ALGO_CACHE_BUCKETS]; c; c = c->next)
        if (c->key.lo == key.lo && c->key.hi == key.hi) {
            if (c->n && cap)
                memcpy(out, c->out, c->n < cap ? c->n : cap);
            *written = c->written;
            return (cublasStatus_t)c->status;
        }
    if (shim_ensure() != cudaSuccess)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    genie_buf b = {0};
    uint8_t *p;
    if (proto_frame_begin(&b, PROTO_KIND_REQUEST, 0) ||
        !(p = proto_put_LT_ALGO(&b, handle, call, n))) {
        genie_buf_free(&b);
        return CUBLAS_STATUS_ALLOC_FAILED;
    }
    memcpy(p, args, n);
    /* a frame of its own, like the heuristic: the batch keeps recording */
    algo_reply ar = {out, cap, 0, CUBLAS_STATUS_SUCCESS, 0, 0};
    cudaError_t e = shim_call_frame(&b, SHIM_RT_QUERY, algo_cb, &ar);
    genie_buf_free(&b);
    if (e != cudaSuccess)
        return shim_blas_status(e);
    if (!ar.got)
        return ar.status != CUBLAS_STATUS_SUCCESS ? (cublasStatus_t)ar.status
                                                  : CUBLAS_STATUS_INTERNAL_ERROR;
    *written = ar.written;
    if (algo_cache_n >= ALGO_CACHE_MAX)
        algo_cache_clear();
    algo_cached *c = malloc(sizeof *c + ar.n); /* owned by the cache */
    if (c) {
        c->key = key;
        c->status = ar.status;
        c->written = ar.written;
        c->n = ar.n;
        if (ar.n)
            memcpy(c->out, out, ar.n);
        c->next = algo_cache[key.lo % ALGO_CACHE_BUCKETS];
        algo_cache[key.lo % ALGO_CACHE_BUCKETS] = c;
        algo_cache_n++;
    }
    return (cublasStatus_t)ar.status;
}

static void put_types(uint8_t *p, cublasComputeType_t c, cudaDataType_t s, cudaDataType_t a,
                      cudaDataType_t b, cudaDataType_t cc, cudaDataType_t d, int last)
{
    int32_t t[7] = {(int32_t)c, (int32_t)s, (int32_t)a, (int32_t)b, (int32_t)cc, (int32_t)d, last};
    memcpy(p, t, sizeof t);
}

cublasStatus_t shim_impl_cublasLtMatmulAlgoGetIds(
    cublasLtHandle_t lightHandle, cublasComputeType_t computeType, cudaDataType_t scaleType,
    cudaDataType_t Atype, cudaDataType_t Btype, cudaDataType_t Ctype, cudaDataType_t Dtype,
    int requestedAlgoCount, int algoIdsArray[], int *returnAlgoCount)
{
    shim_lock();
    cublasStatus_t st;
    shim_lt_handle *h = lt_handle_of(lightHandle);
    if (!h) {
        st = CUBLAS_STATUS_NOT_INITIALIZED;
    } else if (requestedAlgoCount <= 0 || !algoIdsArray || !returnAlgoCount) {
        st = CUBLAS_STATUS_INVALID_VALUE;
    } else {
        int req = requestedAlgoCount > (int)PROTO_LT_ALGO_MAX_IDS ? (int)PROTO_LT_ALGO_MAX_IDS
                                                                  : requestedAlgoCount;
        uint8_t args[28];
        put_types(args, computeType, scaleType, Atype, Btype, Ctype, Dtype, req);
        uint64_t written = 0;
        st = algo_call(h->id, PROTO_LT_ALGO_GET_IDS, args, sizeof args, algoIdsArray,
                       (size_t)req * sizeof(int), &written);
        if (st == CUBLAS_STATUS_SUCCESS)
            *returnAlgoCount = (int)(written / sizeof(int));
    }
    shim_unlock();
    return st;
}

cublasStatus_t shim_impl_cublasLtMatmulAlgoInit(cublasLtHandle_t lightHandle,
                                                cublasComputeType_t computeType,
                                                cudaDataType_t scaleType, cudaDataType_t Atype,
                                                cudaDataType_t Btype, cudaDataType_t Ctype,
                                                cudaDataType_t Dtype, int algoId,
                                                cublasLtMatmulAlgo_t *algo)
{
    shim_lock();
    cublasStatus_t st;
    shim_lt_handle *h = lt_handle_of(lightHandle);
    if (!h) {
        st = CUBLAS_STATUS_NOT_INITIALIZED;
    } else if (!algo) {
        st = CUBLAS_STATUS_INVALID_VALUE;
    } else {
        uint8_t args[28];
        put_types(args, computeType, scaleType, Atype, Btype, Ctype, Dtype, algoId);
        cublasLtMatmulAlgo_t got;
        uint64_t written = 0;
        st = algo_call(h->id, PROTO_LT_ALGO_INIT, args, sizeof args, &got, sizeof got, &written);
        if (st == CUBLAS_STATUS_SUCCESS)
            *algo = got;
    }
    shim_unlock();
    return st;
}

/* CapGetAttribute and ConfigGetAttribute: cuBLASLt's size rules are the library's, except the
 * two it states for the arguments themselves. */
static cublasStatus_t algo_get(uint32_t call, const cublasLtMatmulAlgo_t *algo, uint32_t attr,
                               void *buf, size_t sizeInBytes, size_t *sizeWritten)
{
    if (!algo || (sizeInBytes == 0 && !sizeWritten) || (sizeInBytes && !buf))
        return CUBLAS_STATUS_INVALID_VALUE;
    /* the wire carries the first 64 KiB: every attribute is far smaller */
    uint64_t size = sizeInBytes > PROTO_LT_ALGO_MAX_VALUE ? PROTO_LT_ALGO_MAX_VALUE : sizeInBytes;
    uint8_t args[sizeof *algo + 12];
    memcpy(args, algo, sizeof *algo);
    memcpy(args + sizeof *algo, &attr, 4);
    memcpy(args + sizeof *algo + 4, &size, 8);
    uint64_t written = 0;
    shim_lock();
    cublasStatus_t st = algo_call(0, call, args, sizeof args, buf, (size_t)size, &written);
    shim_unlock();
    if (st == CUBLAS_STATUS_SUCCESS && sizeWritten)
        *sizeWritten = (size_t)written;
    return st;
}

cublasStatus_t shim_impl_cublasLtMatmulAlgoCapGetAttribute(const cublasLtMatmulAlgo_t *algo,
                                                           cublasLtMatmulAlgoCapAttributes_t attr,
                                                           void *buf, size_t sizeInBytes,
                                                           size_t *sizeWritten)
{
    return algo_get(PROTO_LT_ALGO_CAP_GET, algo, (uint32_t)attr, buf, sizeInBytes, sizeWritten);
}

cublasStatus_t shim_impl_cublasLtMatmulAlgoConfigGetAttribute(
    const cublasLtMatmulAlgo_t *algo, cublasLtMatmulAlgoConfigAttributes_t attr, void *buf,
    size_t sizeInBytes, size_t *sizeWritten)
{
    return algo_get(PROTO_LT_ALGO_CONFIG_GET, algo, (uint32_t)attr, buf, sizeInBytes,
                    sizeWritten);
}

cublasStatus_t shim_impl_cublasLtMatmulAlgoConfigSetAttribute(
    cublasLtMatmulAlgo_t *algo, cublasLtMatmulAlgoConfigAttributes_t attr, const void *buf,
    size_t sizeInBytes)
{
    if (!algo || !buf || sizeInBytes > PROTO_LT_ALGO_MAX_VALUE)
        return CUBLAS_STATUS_INVALID_VALUE;
    uint8_t *args = malloc(sizeof *algo + 4 + sizeInBytes); /* freed below */
    if (!args)
        return CUBLAS_STATUS_ALLOC_FAILED;
    uint32_t a32 = (uint32_t)attr;
    memcpy(args, algo, sizeof *algo);
    memcpy(args + sizeof *algo, &a32, 4);
    memcpy(args + sizeof *algo + 4, buf, sizeInBytes);
    cublasLtMatmulAlgo_t got;
    uint64_t written = 0;
    shim_lock();
    cublasStatus_t st = algo_call(0, PROTO_LT_ALGO_CONFIG_SET, args, sizeof *algo + 4 + sizeInBytes,
                                  &got, sizeof got, &written);
    shim_unlock();
    free(args);
    if (st == CUBLAS_STATUS_SUCCESS)
        *algo = got;
    return st;
}

cublasStatus_t shim_impl_cublasLtMatmulAlgoCheck(
    cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t operationDesc, cublasLtMatrixLayout_t Adesc,
    cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
    const cublasLtMatmulAlgo_t *algo, cublasLtMatmulHeuristicResult_t *result)
{
    const void *lay[4] = {Adesc, Bdesc, Cdesc, Ddesc};
    shim_lock();
    cublasStatus_t st;
    uint8_t *args = NULL;
    shim_lt_handle *h = lt_handle_of(lightHandle);
    if (!h) {
        st = CUBLAS_STATUS_NOT_INITIALIZED;
        goto out;
    }
    if (!algo || !result || check_objs(operationDesc, lay, NULL)) {
        st = CUBLAS_STATUS_INVALID_VALUE;
        goto out;
    }
    /* the problem as a matmul would send it, without scalars or algo (the algo goes first) */
    proto_lt_scalars sc = {.alpha_kind = PROTO_LT_SC_NONE, .beta_kind = PROTO_LT_SC_NONE,
                           .size = 4};
    size_t n = proto_lt_problem_encode(NULL, 0, PROTO_LT_FORM_MATMUL, operationDesc, lay, NULL,
                                       &sc, NULL);
    if (!(args = malloc(sizeof *algo + n))) { /* freed below */
        st = CUBLAS_STATUS_ALLOC_FAILED;
        goto out;
    }
    memcpy(args, algo, sizeof *algo); /* algo may point into result */
    proto_lt_problem_encode(args + sizeof *algo, n, PROTO_LT_FORM_MATMUL, operationDesc, lay, NULL,
                            &sc, NULL);
    cublasLtMatmulHeuristicResult_t got;
    uint64_t written = 0;
    st = algo_call(h->id, PROTO_LT_ALGO_CHECK, args, sizeof *algo + n, &got, sizeof got, &written);
    if (st == CUBLAS_STATUS_SUCCESS)
        *result = got;
out:
    free(args);
    shim_unlock();
    return st;
}

/* ---------------------------------------------------------------- the matmul ---- */

/* alpha/beta as the descriptor's pointer mode says they are to be read. */
static cublasStatus_t scalars(const void *desc, const void *alpha, const void *beta,
                              proto_lt_scalars *sc)
{
    memset(sc, 0, sizeof *sc);
    size_t sz = proto_lt_type_size((int)proto_lt_obj_geti(desc, CUBLASLT_MATMUL_DESC_SCALE_TYPE));
    if (sz == 0 || sz > 16)
        return CUBLAS_STATUS_INVALID_VALUE;
    sc->size = (uint32_t)sz;
    switch (proto_lt_obj_geti(desc, CUBLASLT_MATMUL_DESC_POINTER_MODE)) {
    case CUBLASLT_POINTER_MODE_HOST:
        sc->alpha_kind = sc->beta_kind = PROTO_LT_SC_HOST;
        break;
    case CUBLASLT_POINTER_MODE_DEVICE:
    case CUBLASLT_POINTER_MODE_DEVICE_VECTOR:
        sc->alpha_kind = sc->beta_kind = PROTO_LT_SC_DEVICE;
        break;
    case CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_ZERO:
        sc->alpha_kind = PROTO_LT_SC_DEVICE;
        sc->beta_kind = PROTO_LT_SC_NONE;
        break;
    case CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST:
        sc->alpha_kind = PROTO_LT_SC_DEVICE;
        sc->beta_kind = PROTO_LT_SC_HOST;
        break;
    default:
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (!alpha || (!beta && sc->beta_kind != PROTO_LT_SC_NONE))
        return CUBLAS_STATUS_INVALID_VALUE;
    /* host values are read now, as the real library reads them at the call */
    if (sc->alpha_kind == PROTO_LT_SC_HOST) {
        memcpy(sc->alpha, alpha, sz);
    } else {
        uint64_t a = (uint64_t)(uintptr_t)alpha;
        memcpy(sc->alpha, &a, 8);
    }
    if (sc->beta_kind == PROTO_LT_SC_HOST) {
        memcpy(sc->beta, beta, sz);
    } else if (sc->beta_kind == PROTO_LT_SC_DEVICE) {
        uint64_t a = (uint64_t)(uintptr_t)beta;
        memcpy(sc->beta, &a, 8);
    }
    return CUBLAS_STATUS_SUCCESS;
}

/* The matmul's IR descriptor: shape and type from the layouts, ranges from their extents
 * (unknown when a layout's extent is not computable), pointer-valued descriptor attributes
 * (bias, epilogue buffers, scale pointers) as read-write ranges of unknown size. */
static void lt_describe(const void *desc, const void *const lay[4], const void *A, const void *B,
                        const void *C, void *D, void *ws, size_t ws_size, uint32_t sid)
{
    sem_op *o = shim_sem_op(SEM_OP_GEMM, PROTO_OP_LT_MATMUL, sid);
    int ta = (int)proto_lt_obj_geti(desc, CUBLASLT_MATMUL_DESC_TRANSA);
    int tb = (int)proto_lt_obj_geti(desc, CUBLASLT_MATMUL_DESC_TRANSB);
    int64_t arows = proto_lt_obj_geti(lay[0], CUBLASLT_MATRIX_LAYOUT_ROWS);
    int64_t acols = proto_lt_obj_geti(lay[0], CUBLASLT_MATRIX_LAYOUT_COLS);
    o->gemm = (sem_gemm){
        .m = (int32_t)proto_lt_obj_geti(lay[3], CUBLASLT_MATRIX_LAYOUT_ROWS),
        .n = (int32_t)proto_lt_obj_geti(lay[3], CUBLASLT_MATRIX_LAYOUT_COLS),
        .k = (int32_t)(ta == CUBLAS_OP_N ? acols : arows),
        .batch = (int32_t)proto_lt_obj_geti(lay[3], CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT),
        .dtype = (int8_t)proto_lt_obj_geti(lay[0], CUBLASLT_MATRIX_LAYOUT_TYPE),
        .transa = (uint8_t)ta,
        .transb = (uint8_t)tb,
    };
    const void *ptr[4] = {A, B, C, D};
    for (int i = 0; i < 4; i++) { /* C in place of D: D is read and written */
        uint64_t ext;
        if (!ptr[i] || (i == 2 && C == D))
            continue;
        if (proto_lt_layout_extent(lay[i], &ext))
            ext = SEM_SIZE_UNKNOWN;
        unsigned mode = i < 3 ? SEM_R : C == D ? SEM_RW : SEM_W;
        shim_sem_range(o, (uint64_t)(uintptr_t)ptr[i], ext, mode);
    }
    if (ws && ws_size)
        shim_sem_range(o, (uint64_t)(uintptr_t)ws, ws_size, SEM_RW);
    for (int a = proto_lt_obj_next_set(desc, -1); a >= 0; a = proto_lt_obj_next_set(desc, a))
        if (proto_lt_attr_is_ptr(PROTO_LT_DESC, (uint32_t)a)) {
            uint64_t v = (uint64_t)proto_lt_obj_geti(desc, (uint32_t)a);
            if (v)
                shim_sem_range(o, v, SEM_SIZE_UNKNOWN, SEM_RW);
        }
}

cublasStatus_t shim_impl_cublasLtMatmul(cublasLtHandle_t lightHandle,
                                        cublasLtMatmulDesc_t computeDesc, const void *alpha,
                                        const void *A, cublasLtMatrixLayout_t Adesc, const void *B,
                                        cublasLtMatrixLayout_t Bdesc, const void *beta,
                                        const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                                        cublasLtMatrixLayout_t Ddesc,
                                        const cublasLtMatmulAlgo_t *algo, void *workspace,
                                        size_t workspaceSizeInBytes, cudaStream_t stream)
{
    const void *lay[4] = {Adesc, Bdesc, Cdesc, Ddesc};
    proto_lt_scalars sc;
    cublasStatus_t st;
    shim_lock();
    shim_lt_handle *h = lt_handle_of(lightHandle);
    if (!h) {
        st = CUBLAS_STATUS_NOT_INITIALIZED;
        goto out;
    }
    if ((st = check_objs(computeDesc, lay, NULL)) || (st = scalars(computeDesc, alpha, beta, &sc)))
        goto out;
    uint32_t sid = shim_stream_id(stream);
    if (sid == UINT32_MAX) {
        st = CUBLAS_STATUS_INVALID_VALUE;
        goto out;
    }
    if (shim_ensure() != cudaSuccess) {
        st = CUBLAS_STATUS_NOT_INITIALIZED;
        goto out;
    }
    size_t n =
        proto_lt_problem_encode(NULL, 0, PROTO_LT_FORM_MATMUL, computeDesc, lay, NULL, &sc, algo);
    shim_rec r;
    shim_batch_begin(&r);
    uint8_t *p = SHIM_PUT(&r, LT_MATMUL, (uint64_t)(uintptr_t)A, (uint64_t)(uintptr_t)B,
                          (uint64_t)(uintptr_t)C, (uint64_t)(uintptr_t)D,
                          (uint64_t)(uintptr_t)workspace, workspaceSizeInBytes, h->id, sid, n);
    if (!p) {
        shim_batch_rollback(&r);
        st = CUBLAS_STATUS_ALLOC_FAILED;
        goto out;
    }
    proto_lt_problem_encode(p, n, PROTO_LT_FORM_MATMUL, computeDesc, lay, NULL, &sc, algo);
    lt_describe(computeDesc, lay, A, B, C, D, workspace, workspaceSizeInBytes, sid);
    /* errors of the matmul itself surface at the next sync, as a kernel's would; what this
     * returns is an earlier batch's error brought back by a threshold flush */
    st = shim_blas_status(shim_batch_commit(&r, sid, 0));
out:
    shim_unlock();
    return st;
}

/* cudaDeviceReset: handles end with the session (the heuristic cache stays: its answers are
 * the GPU's, not the session's). */
static void lt_forget(void *h)
{
    shim_handle_del(h);
    free(h);
}

void shim_lt_forget(void)
{
    SHIM_HELD();
    shim_handles_each(SHIM_LT_MAGIC, lt_forget);
    shim_lt_companions_forget();
}
