/* lt.c — cuBLASLt objects: attribute tables, in-memory form, wire encoding and validated decoding.
 */
#include "protocol/lt.h"

#include <stdio.h>
#include <string.h>

#include "common/genie.h"

/* One attribute: its size (0: no attribute with this ID), its default, and how to read it. */
typedef struct lt_attr {
    uint8_t size;
    uint8_t flags;
    uint64_t dflt; /* the value's bits, truncated to size */
} lt_attr;
enum { A_SIGNED = 1, A_PTR = 2 };

#define DESC_NATTR 39u /* CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR + 1 */
#define LAYOUT_NATTR 9u
#define PREF_NATTR 13u

static const lt_attr desc_attrs[DESC_NATTR] = {
    [CUBLASLT_MATMUL_DESC_COMPUTE_TYPE] = {4, A_SIGNED, CUBLAS_COMPUTE_32F},
    [CUBLASLT_MATMUL_DESC_SCALE_TYPE] = {4, A_SIGNED, CUDA_R_32F},
    [CUBLASLT_MATMUL_DESC_POINTER_MODE] = {4, A_SIGNED, CUBLASLT_POINTER_MODE_HOST},
    [CUBLASLT_MATMUL_DESC_TRANSA] = {4, A_SIGNED, CUBLAS_OP_N},
    [CUBLASLT_MATMUL_DESC_TRANSB] = {4, A_SIGNED, CUBLAS_OP_N},
    [CUBLASLT_MATMUL_DESC_TRANSC] = {4, A_SIGNED, CUBLAS_OP_N},
    [CUBLASLT_MATMUL_DESC_FILL_MODE] = {4, A_SIGNED, CUBLAS_FILL_MODE_FULL},
    [CUBLASLT_MATMUL_DESC_EPILOGUE] = {4, 0, CUBLASLT_EPILOGUE_DEFAULT},
    [CUBLASLT_MATMUL_DESC_BIAS_POINTER] = {8, A_PTR, 0},
    [CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE] = {8, A_SIGNED, 0},
    [CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER] = {8, A_PTR, 0},
    [CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD] = {8, A_SIGNED, 0},
    [CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE] = {8, A_SIGNED, 0},
    [CUBLASLT_MATMUL_DESC_ALPHA_VECTOR_BATCH_STRIDE] = {8, A_SIGNED, 0},
    [CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET] = {4, A_SIGNED, 0},
    [CUBLASLT_MATMUL_DESC_A_SCALE_POINTER] = {8, A_PTR, 0},
    [CUBLASLT_MATMUL_DESC_B_SCALE_POINTER] = {8, A_PTR, 0},
    [CUBLASLT_MATMUL_DESC_C_SCALE_POINTER] = {8, A_PTR, 0},
    [CUBLASLT_MATMUL_DESC_D_SCALE_POINTER] = {8, A_PTR, 0},
    [CUBLASLT_MATMUL_DESC_AMAX_D_POINTER] = {8, A_PTR, 0},
    [CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE] = {4, A_SIGNED, (uint32_t)-1},
    [CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_POINTER] = {8, A_PTR, 0},
    [CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_AMAX_POINTER] = {8, A_PTR, 0},
    [CUBLASLT_MATMUL_DESC_FAST_ACCUM] = {1, A_SIGNED, 0},
    [CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE] = {4, A_SIGNED, (uint32_t)-1},
    [CUBLASLT_MATMUL_DESC_A_SCALE_MODE] = {4, A_SIGNED, 0},
    [CUBLASLT_MATMUL_DESC_B_SCALE_MODE] = {4, A_SIGNED, 0},
    [CUBLASLT_MATMUL_DESC_C_SCALE_MODE] = {4, A_SIGNED, 0},
    [CUBLASLT_MATMUL_DESC_D_SCALE_MODE] = {4, A_SIGNED, 0},
    [CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_MODE] = {4, A_SIGNED, 0},
    [CUBLASLT_MATMUL_DESC_D_OUT_SCALE_POINTER] = {8, A_PTR, 0},
    [CUBLASLT_MATMUL_DESC_D_OUT_SCALE_MODE] = {4, A_SIGNED, 0},
    /* a client object that cannot travel: only NULL is accepted (emulation is denied) */
    [CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR] = {8, 0, 0},
};

static const lt_attr layout_attrs[LAYOUT_NATTR] = {
    [CUBLASLT_MATRIX_LAYOUT_TYPE] = {4, 0, CUDA_R_32F},
    [CUBLASLT_MATRIX_LAYOUT_ORDER] = {4, A_SIGNED, CUBLASLT_ORDER_COL},
    [CUBLASLT_MATRIX_LAYOUT_ROWS] = {8, 0, 0},
    [CUBLASLT_MATRIX_LAYOUT_COLS] = {8, 0, 0},
    [CUBLASLT_MATRIX_LAYOUT_LD] = {8, A_SIGNED, 0},
    [CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT] = {4, A_SIGNED, 1},
    [CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET] = {8, A_SIGNED, 0},
    [CUBLASLT_MATRIX_LAYOUT_PLANE_OFFSET] = {8, A_SIGNED, 0},
    [CUBLASLT_MATRIX_LAYOUT_BATCH_MODE] = {4, 0, CUBLASLT_BATCH_MODE_STRIDED},
};

static const lt_attr pref_attrs[PREF_NATTR] = {
    [CUBLASLT_MATMUL_PREF_SEARCH_MODE] = {4, 0, CUBLASLT_SEARCH_BEST_FIT},
    [CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES] = {8, 0, 0},
    [CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK] = {4, 0, CUBLASLT_REDUCTION_SCHEME_MASK},
    [CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES] = {4, 0, 256},
    [CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES] = {4, 0, 256},
    [CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES] = {4, 0, 256},
    [CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES] = {4, 0, 256},
    [CUBLASLT_MATMUL_PREF_MAX_WAVES_COUNT] = {4, 0, 0}, /* float 0.0f */
    [CUBLASLT_MATMUL_PREF_IMPL_MASK] = {8, 0, UINT64_MAX},
};

typedef struct lt_kind {
    const lt_attr *attrs;
    uint32_t nattr;
    size_t bytes; /* in-memory size */
    size_t mask;  /* bytes of the set mask */
} lt_kind;

static const lt_kind kinds[4] = {
    [PROTO_LT_DESC] = {desc_attrs, DESC_NATTR, sizeof(cublasLtMatmulDescOpaque_t), 8},
    [PROTO_LT_LAYOUT] = {layout_attrs, LAYOUT_NATTR, sizeof(cublasLtMatrixLayoutOpaque_t), 4},
    [PROTO_LT_PREF] = {pref_attrs, PREF_NATTR, sizeof(cublasLtMatmulPreferenceOpaque_t), 4},
};

/* The magic says the kind and whether *Create allocated the storage. */
#define LT_MAGIC_BASE 0x474c5400u /* "\0TLG" */
#define LT_MAGIC(kind, heap) (LT_MAGIC_BASE | ((uint32_t)(kind) << 1) | ((heap) ? 1u : 0u))

static const lt_kind *kind_of(int kind)
{
    return kind >= PROTO_LT_DESC && kind <= PROTO_LT_PREF ? &kinds[kind] : NULL;
}

static const lt_attr *attr_of(const lt_kind *k, uint32_t attr)
{
    return k && attr < k->nattr && k->attrs[attr].size ? &k->attrs[attr] : NULL;
}

/* Offset of attr's value: the header, then the values in ID order. */
static size_t attr_off(const lt_kind *k, uint32_t attr)
{
    size_t off = 4 + k->mask;
    for (uint32_t a = 0; a < attr; a++)
        off += k->attrs[a].size;
    return off;
}

/* Every kind's header and values fit in the public opaque struct (checked once, at startup of
 * the tests: test_lt calls proto_lt_obj_init for each kind, which asserts this). */
static size_t values_end(const lt_kind *k)
{
    return attr_off(k, k->nattr);
}

size_t proto_lt_obj_bytes(int kind)
{
    const lt_kind *k = kind_of(kind);
    return k ? k->bytes : 0;
}

static uint64_t mask_get(const lt_kind *k, const uint8_t *o)
{
    uint64_t m = 0;
    memcpy(&m, o + 4, k->mask);
    return m;
}

static void mask_put(const lt_kind *k, uint8_t *o, uint64_t m)
{
    memcpy(o + 4, &m, k->mask);
}

void proto_lt_obj_init(void *obj, int kind, int heap)
{
    const lt_kind *k = kind_of(kind);
    uint8_t *o = obj;
    if (!k || values_end(k) > k->bytes)
        return; /* cannot happen with the tables above; test_lt checks the sizes */
    memset(o, 0, k->bytes);
    uint32_t magic = LT_MAGIC(kind, heap);
    memcpy(o, &magic, 4);
    for (uint32_t a = 0; a < k->nattr; a++)
        if (k->attrs[a].size)
            memcpy(o + attr_off(k, a), &k->attrs[a].dflt, k->attrs[a].size);
}

int proto_lt_obj_kind(const void *obj)
{
    uint32_t m;
    if (!obj)
        return 0;
    memcpy(&m, obj, 4);
    if ((m & ~0xffu) != LT_MAGIC_BASE)
        return 0;
    int kind = (int)((m & 0xffu) >> 1);
    return kind_of(kind) ? kind : 0;
}

int proto_lt_obj_heap(const void *obj)
{
    uint32_t m;
    memcpy(&m, obj, 4);
    return (m & 1u) != 0;
}

void proto_lt_obj_kill(void *obj)
{
    if (obj)
        memset(obj, 0, 4);
}

size_t proto_lt_attr_size(int kind, uint32_t attr)
{
    const lt_attr *a = attr_of(kind_of(kind), attr);
    return a ? a->size : 0;
}

int proto_lt_attr_is_ptr(int kind, uint32_t attr)
{
    const lt_attr *a = attr_of(kind_of(kind), attr);
    return a && (a->flags & A_PTR);
}

int proto_lt_obj_set(void *obj, uint32_t attr, const void *buf, size_t n)
{
    const lt_kind *k = kind_of(proto_lt_obj_kind(obj));
    const lt_attr *a = attr_of(k, attr);
    if (!a || !buf || n != a->size)
        return GENIE_EINVAL;
    uint8_t *o = obj;
    memcpy(o + attr_off(k, attr), buf, n);
    mask_put(k, o, mask_get(k, o) | (1ull << attr));
    return 0;
}

int proto_lt_obj_get(const void *obj, uint32_t attr, void *buf, size_t n, size_t *written)
{
    const lt_kind *k = kind_of(proto_lt_obj_kind(obj));
    const lt_attr *a = attr_of(k, attr);
    if (!a)
        return GENIE_EINVAL;
    if (n == 0) {
        if (!written)
            return GENIE_EINVAL;
        *written = a->size;
        return 0;
    }
    if (!buf || n != a->size)
        return GENIE_EINVAL;
    memcpy(buf, (const uint8_t *)obj + attr_off(k, attr), n);
    if (written)
        *written = n;
    return 0;
}

const void *proto_lt_obj_val(const void *obj, uint32_t attr)
{
    const lt_kind *k = kind_of(proto_lt_obj_kind(obj));
    const lt_attr *a = attr_of(k, attr);
    return a ? (const uint8_t *)obj + attr_off(k, attr) : NULL;
}

int64_t proto_lt_obj_geti(const void *obj, uint32_t attr)
{
    const lt_kind *k = kind_of(proto_lt_obj_kind(obj));
    const lt_attr *a = attr_of(k, attr);
    if (!a)
        return 0;
    const uint8_t *v = (const uint8_t *)obj + attr_off(k, attr);
    switch (a->size) {
    case 1: {
        int8_t x;
        memcpy(&x, v, 1);
        return (a->flags & A_SIGNED) ? (int64_t)x : (int64_t)(uint8_t)x;
    }
    case 4: {
        int32_t x;
        memcpy(&x, v, 4);
        return (a->flags & A_SIGNED) ? (int64_t)x : (int64_t)(uint32_t)x;
    }
    default: {
        int64_t x;
        memcpy(&x, v, 8);
        return x;
    }
    }
}

int proto_lt_obj_isset(const void *obj, uint32_t attr)
{
    const lt_kind *k = kind_of(proto_lt_obj_kind(obj));
    return attr_of(k, attr) && (mask_get(k, obj) >> attr & 1u);
}

int proto_lt_obj_next_set(const void *obj, int after)
{
    const lt_kind *k = kind_of(proto_lt_obj_kind(obj));
    if (!k)
        return -1;
    uint64_t m = mask_get(k, obj);
    for (uint32_t a = (uint32_t)(after + 1); a < k->nattr; a++)
        if (m >> a & 1u)
            return (int)a;
    return -1;
}

/* ------------------------------------------------------------------ encoding ---- */

typedef struct wr {
    uint8_t *p;
    size_t cap, len;
} wr;

static void put(wr *w, const void *v, size_t n)
{
    if (w->p && w->len + n <= w->cap)
        memcpy(w->p + w->len, v, n);
    w->len += n;
}

static void put16(wr *w, uint32_t v)
{
    uint16_t x = (uint16_t)v;
    put(w, &x, 2);
}

static void put32(wr *w, uint32_t v)
{
    put(w, &v, 4);
}

/* A pointer as the heuristic sees it: its alignment, at most 256 (NULL stays NULL). */
static uint64_t align_of(uint64_t p)
{
    if (!p)
        return 0;
    uint64_t a = p & (~p + 1);
    return a > 256 ? 256 : a;
}

static void put_obj(wr *w, const void *obj, int kind, int align_ptrs)
{
    const lt_kind *k = kind_of(kind);
    uint64_t m = mask_get(k, obj);
    uint32_t count = 0;
    for (uint32_t a = 0; a < k->nattr; a++)
        count += (uint32_t)(m >> a & 1u);
    put16(w, (uint32_t)kind);
    put16(w, count);
    for (uint32_t a = 0; a < k->nattr; a++) {
        if (!(m >> a & 1u))
            continue;
        const lt_attr *at = &k->attrs[a];
        const uint8_t *v = (const uint8_t *)obj + attr_off(k, a);
        put16(w, a);
        put16(w, at->size);
        if (align_ptrs && (at->flags & A_PTR)) {
            uint64_t p;
            memcpy(&p, v, 8);
            p = align_of(p);
            put(w, &p, 8);
        } else {
            put(w, v, at->size);
        }
    }
}

size_t proto_lt_problem_encode(uint8_t *dst, size_t cap, int form, const void *desc,
                               const void *const layout[4], const void *pref,
                               const proto_lt_scalars *sc, const void *algo)
{
    wr w = {dst, cap, 0};
    put32(&w, PROTO_LT_PROBLEM_MAGIC);
    put32(&w, (uint32_t)form);
    put_obj(&w, desc, PROTO_LT_DESC, form == PROTO_LT_FORM_HEURISTIC);
    for (int i = 0; i < 4; i++)
        put_obj(&w, layout[i], PROTO_LT_LAYOUT, 0);
    if (form == PROTO_LT_FORM_HEURISTIC) {
        put_obj(&w, pref, PROTO_LT_PREF, 0);
    } else {
        put32(&w, sc->alpha_kind);
        put32(&w, sc->beta_kind);
        put32(&w, sc->size);
        put32(&w, algo ? 1u : 0u);
        put(&w, sc->alpha, 16);
        put(&w, sc->beta, 16);
        if (algo)
            put(&w, algo, PROTO_LT_ALGO_BYTES);
    }
    return w.len;
}

/* ------------------------------------------------------------------ decoding ---- */

typedef struct rd {
    const uint8_t *p, *end;
    char *why;
    size_t whylen;
} rd;

static int fail(rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(rd *r, const char *fmt, ...)
{
    if (r->why && r->whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->why, r->whylen, fmt, ap);
        va_end(ap);
    }
    return GENIE_EPROTO;
}

static int take(rd *r, void *dst, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    memcpy(dst, r->p, n);
    r->p += n;
    return 0;
}

static const char *kind_name(int kind)
{
    return kind == PROTO_LT_DESC     ? "matmul descriptor"
           : kind == PROTO_LT_LAYOUT ? "layout"
                                     : "preference";
}

static int get_obj(rd *r, int kind, void *obj, proto_lt_span *span)
{
    const lt_kind *k = kind_of(kind);
    const uint8_t *start = r->p;
    uint16_t kd, count;
    if (take(r, &kd, 2) || take(r, &count, 2))
        return fail(r, "%s truncated", kind_name(kind));
    if (kd != kind)
        return fail(r, "object of kind %u where a %s belongs", kd, kind_name(kind));
    if (count > k->nattr)
        return fail(r, "%s with %u attributes", kind_name(kind), count);
    proto_lt_obj_init(obj, kind, 0);
    int last = -1;
    for (uint32_t i = 0; i < count; i++) {
        uint16_t a, sz;
        if (take(r, &a, 2) || take(r, &sz, 2))
            return fail(r, "%s truncated", kind_name(kind));
        const lt_attr *at = attr_of(k, a);
        if (!at)
            return fail(r, "%s: unknown attribute %u", kind_name(kind), a);
        if ((int)a <= last)
            return fail(r, "%s: attribute %u out of order or repeated", kind_name(kind), a);
        if (sz != at->size)
            return fail(r, "%s: attribute %u of %u bytes (want %u)", kind_name(kind), a, sz,
                        at->size);
        if ((size_t)(r->end - r->p) < sz)
            return fail(r, "%s truncated", kind_name(kind));
        proto_lt_obj_set(obj, a, r->p, sz);
        r->p += sz;
        last = a;
    }
    if (kind == PROTO_LT_DESC && proto_lt_obj_geti(obj, CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR))
        return fail(r, "matmul descriptor: an emulation descriptor cannot travel");
    span->p = start;
    span->n = (size_t)(r->p - start);
    return 0;
}

int proto_lt_problem_decode(const uint8_t *p, size_t n, proto_lt_problem *out, char *why,
                            size_t whylen)
{
    rd r = {p, p + n, why, whylen};
    uint32_t magic, form;
    memset(out, 0, sizeof *out);
    if (!p || take(&r, &magic, 4) || take(&r, &form, 4))
        return fail(&r, "problem truncated");
    if (magic != PROTO_LT_PROBLEM_MAGIC)
        return fail(&r, "problem magic %#x", magic);
    if (form != PROTO_LT_FORM_HEURISTIC && form != PROTO_LT_FORM_MATMUL)
        return fail(&r, "problem form %u", form);
    out->form = (int)form;
    int e;
    if ((e = get_obj(&r, PROTO_LT_DESC, out->desc, &out->wire_desc)))
        return e;
    for (int i = 0; i < 4; i++)
        if ((e = get_obj(&r, PROTO_LT_LAYOUT, out->layout[i], &out->wire_layout[i])))
            return e;
    if (form == PROTO_LT_FORM_HEURISTIC) {
        if ((e = get_obj(&r, PROTO_LT_PREF, out->pref, &out->wire_pref)))
            return e;
    } else {
        proto_lt_scalars *sc = &out->sc;
        uint32_t has_algo;
        if (take(&r, &sc->alpha_kind, 4) || take(&r, &sc->beta_kind, 4) || take(&r, &sc->size, 4) ||
            take(&r, &has_algo, 4) || take(&r, sc->alpha, 16) || take(&r, sc->beta, 16))
            return fail(&r, "scalars truncated");
        if (sc->alpha_kind > PROTO_LT_SC_NONE || sc->beta_kind > PROTO_LT_SC_NONE ||
            sc->size == 0 || sc->size > 16 || has_algo > 1)
            return fail(&r, "bad scalars (kinds %u/%u, %u bytes, algo %u)", sc->alpha_kind,
                        sc->beta_kind, sc->size, has_algo);
        out->has_algo = (int)has_algo;
        if (has_algo && take(&r, out->algo, PROTO_LT_ALGO_BYTES))
            return fail(&r, "algorithm truncated");
    }
    if (r.p != r.end)
        return fail(&r, "%zu bytes after the problem", (size_t)(r.end - r.p));
    return 0;
}

/* ------------------------------------------------------------------- helpers ---- */

size_t proto_lt_type_size(int type)
{
    switch (type) {
    case CUDA_R_8I:
    case CUDA_R_8U:
    case CUDA_R_8F_E4M3:
    case CUDA_R_8F_E5M2:
    case CUDA_R_8F_UE8M0:
        return 1;
    case CUDA_R_16F:
    case CUDA_R_16BF:
    case CUDA_C_8I:
    case CUDA_C_8U:
    case CUDA_R_16I:
    case CUDA_R_16U:
        return 2;
    case CUDA_R_32F:
    case CUDA_C_16F:
    case CUDA_C_16BF:
    case CUDA_R_32I:
    case CUDA_R_32U:
    case CUDA_C_16I:
    case CUDA_C_16U:
        return 4;
    case CUDA_R_64F:
    case CUDA_C_32F:
    case CUDA_R_64I:
    case CUDA_R_64U:
    case CUDA_C_32I:
    case CUDA_C_32U:
        return 8;
    case CUDA_C_64F:
    case CUDA_C_64I:
    case CUDA_C_64U:
        return 16;
    default: /* 4- and 6-bit types, unknown */
        return 0;
    }
}

int proto_lt_layout_extent(const void *layout, uint64_t *bytes)
{
    if (proto_lt_obj_kind(layout) != PROTO_LT_LAYOUT)
        return GENIE_EINVAL;
    int64_t order = proto_lt_obj_geti(layout, CUBLASLT_MATRIX_LAYOUT_ORDER);
    uint64_t rows = (uint64_t)proto_lt_obj_geti(layout, CUBLASLT_MATRIX_LAYOUT_ROWS);
    uint64_t cols = (uint64_t)proto_lt_obj_geti(layout, CUBLASLT_MATRIX_LAYOUT_COLS);
    int64_t ld = proto_lt_obj_geti(layout, CUBLASLT_MATRIX_LAYOUT_LD);
    int64_t batch = proto_lt_obj_geti(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT);
    int64_t stride = proto_lt_obj_geti(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET);
    size_t el = proto_lt_type_size((int)proto_lt_obj_geti(layout, CUBLASLT_MATRIX_LAYOUT_TYPE));
    if ((order != CUBLASLT_ORDER_COL && order != CUBLASLT_ORDER_ROW) || el == 0 ||
        proto_lt_obj_geti(layout, CUBLASLT_MATRIX_LAYOUT_PLANE_OFFSET) != 0 ||
        proto_lt_obj_geti(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_MODE) != CUBLASLT_BATCH_MODE_STRIDED)
        return GENIE_ENOTSUP;
    if (ld < 0 || batch < 0 || stride < 0)
        return GENIE_EINVAL;
    if (rows == 0 || cols == 0 || batch == 0) {
        *bytes = 0;
        return 0;
    }
    uint64_t inner = order == CUBLASLT_ORDER_COL ? rows : cols; /* contiguous run */
    uint64_t outer = order == CUBLASLT_ORDER_COL ? cols : rows;
    uint64_t last, t;
    /* last element offset: (outer-1)*ld + (inner-1) + (batch-1)*stride, in elements */
    if (__builtin_mul_overflow(outer - 1, (uint64_t)ld, &last) ||
        __builtin_add_overflow(last, inner - 1, &last) ||
        __builtin_mul_overflow((uint64_t)(batch - 1), (uint64_t)stride, &t) ||
        __builtin_add_overflow(last, t, &last) || __builtin_add_overflow(last, 1, &last) ||
        __builtin_mul_overflow(last, (uint64_t)el, &last))
        return GENIE_EINVAL;
    *bytes = last;
    return 0;
}
