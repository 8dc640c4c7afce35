/* fb_lt_desc.c — cuBLASLt matmul, layout and preference descriptors and their attributes. */
#include "fb_int.h"

#include <stdlib.h>

_Static_assert(sizeof(struct fb_lt_desc) <= sizeof(cublasLtMatmulDescOpaque_t),
               "matmul descriptor must fit the public opaque struct");
_Static_assert(sizeof(struct fb_lt_layout) <= sizeof(cublasLtMatrixLayoutOpaque_t),
               "layout descriptor must fit the public opaque struct");
_Static_assert(sizeof(struct fb_lt_pref) <= sizeof(cublasLtMatmulPreferenceOpaque_t),
               "preference descriptor must fit the public opaque struct");

/* ---- attribute tables: id -> where the value lives and its exact size ---- */

struct attr {
    uint16_t off;
    uint8_t size; /* 0: not an attribute */
};

#define AT(S, id, field) [id] = {offsetof(struct S, field), sizeof(((struct S *)0)->field)}

static const struct attr desc_attrs[] = {
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, compute),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_SCALE_TYPE, scale),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_POINTER_MODE, pointer_mode),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_TRANSA, transa),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_TRANSB, transb),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_TRANSC, transc),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_FILL_MODE, fill),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, bias_batch_stride),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, aux),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, aux_ld),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE, aux_batch_stride),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_ALPHA_VECTOR_BATCH_STRIDE, alpha_vec_batch_stride),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET, sm_count),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, a_scale),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, b_scale),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_C_SCALE_POINTER, c_scale),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_D_SCALE_POINTER, d_scale),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_AMAX_D_POINTER, amax_d),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, aux_type),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_POINTER, aux_scale),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_AMAX_POINTER, aux_amax),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, fast_accum),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, bias_type),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, a_scale_mode),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, b_scale_mode),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_C_SCALE_MODE, c_scale_mode),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_D_SCALE_MODE, d_scale_mode),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_MODE, aux_scale_mode),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_D_OUT_SCALE_POINTER, d_out_scale),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_D_OUT_SCALE_MODE, d_out_scale_mode),
    AT(fb_lt_desc, CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR, emulation),
};

static const struct attr layout_attrs[] = {
    AT(fb_lt_layout, CUBLASLT_MATRIX_LAYOUT_TYPE, type),
    AT(fb_lt_layout, CUBLASLT_MATRIX_LAYOUT_ORDER, order),
    AT(fb_lt_layout, CUBLASLT_MATRIX_LAYOUT_ROWS, rows),
    AT(fb_lt_layout, CUBLASLT_MATRIX_LAYOUT_COLS, cols),
    AT(fb_lt_layout, CUBLASLT_MATRIX_LAYOUT_LD, ld),
    AT(fb_lt_layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, batch_count),
    AT(fb_lt_layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, batch_stride),
    AT(fb_lt_layout, CUBLASLT_MATRIX_LAYOUT_PLANE_OFFSET, plane_offset),
    AT(fb_lt_layout, CUBLASLT_MATRIX_LAYOUT_BATCH_MODE, batch_mode),
};

static const struct attr pref_attrs[] = {
    AT(fb_lt_pref, CUBLASLT_MATMUL_PREF_SEARCH_MODE, search_mode),
    AT(fb_lt_pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, max_workspace),
    AT(fb_lt_pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, reduction_mask),
    AT(fb_lt_pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align_a),
    AT(fb_lt_pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align_b),
    AT(fb_lt_pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align_c),
    AT(fb_lt_pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align_d),
    AT(fb_lt_pref, CUBLASLT_MATMUL_PREF_MAX_WAVES_COUNT, max_waves),
    AT(fb_lt_pref, CUBLASLT_MATMUL_PREF_IMPL_MASK, impl_mask),
};

#define NATTR(t) (sizeof(t) / sizeof((t)[0]))

/* cuBLASLt's rule: the buffer size must equal the attribute's size exactly. Values are stored
 * as given; whether they make sense is checked where they are used (heuristic, matmul). */
static cublasStatus_t attr_set(void *obj, const struct attr *tab, size_t n, unsigned id,
                               const void *buf, size_t size)
{
    if (!obj || id >= n || !tab[id].size || !buf || size != tab[id].size)
        return CUBLAS_STATUS_INVALID_VALUE;
    memcpy((char *)obj + tab[id].off, buf, size);
    return CUBLAS_STATUS_SUCCESS;
}

/* sizeInBytes == 0 asks for the size (needs sizeWritten); otherwise it must match exactly. */
static cublasStatus_t attr_get(const void *obj, const struct attr *tab, size_t n, unsigned id,
                               void *buf, size_t size, size_t *written)
{
    if (!obj || id >= n || !tab[id].size)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (size == 0) {
        if (!written)
            return CUBLAS_STATUS_INVALID_VALUE;
        *written = tab[id].size;
        return CUBLAS_STATUS_SUCCESS;
    }
    if (!buf || size != tab[id].size)
        return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(buf, (const char *)obj + tab[id].off, size);
    if (written)
        *written = size;
    return CUBLAS_STATUS_SUCCESS;
}

/* ---- lookups ---- */

const struct fb_lt_desc *fb_lt_desc_get(cublasLtMatmulDesc_t d)
{
    const struct fb_lt_desc *x = (const void *)d;
    return x && x->magic == FB_LT_DESC_MAGIC ? x : NULL;
}

const struct fb_lt_layout *fb_lt_layout_get(cublasLtMatrixLayout_t l)
{
    const struct fb_lt_layout *x = (const void *)l;
    return x && x->magic == FB_LT_LAYOUT_MAGIC ? x : NULL;
}

const struct fb_lt_pref *fb_lt_pref_get(cublasLtMatmulPreference_t p)
{
    const struct fb_lt_pref *x = (const void *)p;
    return x && x->magic == FB_LT_PREF_MAGIC ? x : NULL;
}

/* ---- matmul descriptor ---- */

cublasStatus_t cublasLtMatmulDescInit_internal(cublasLtMatmulDesc_t matmulDesc, size_t size,
                                               cublasComputeType_t computeType,
                                               cudaDataType_t scaleType)
{
    if (!matmulDesc || size < sizeof(struct fb_lt_desc))
        return CUBLAS_STATUS_ALLOC_FAILED; /* documented: storage too small */
    struct fb_lt_desc *d = (void *)matmulDesc;
    memset(matmulDesc, 0, size);
    d->magic = FB_LT_DESC_MAGIC;
    d->compute = computeType;
    d->scale = scaleType;
    d->pointer_mode = CUBLASLT_POINTER_MODE_HOST;
    d->transa = d->transb = d->transc = CUBLAS_OP_N;
    d->fill = CUBLAS_FILL_MODE_FULL;
    d->epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    d->aux_type = -1;  /* documented default: "same as D" */
    d->bias_type = -1; /* idem */
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *matmulDesc,
                                        cublasComputeType_t computeType, cudaDataType_t scaleType)
{
    if (!matmulDesc)
        return CUBLAS_STATUS_INVALID_VALUE;
    cublasLtMatmulDesc_t d = malloc(sizeof *d); /* freed by cublasLtMatmulDescDestroy */
    if (!d)
        return CUBLAS_STATUS_ALLOC_FAILED;
    cublasLtMatmulDescInit_internal(d, sizeof *d, computeType, scaleType);
    *matmulDesc = d;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t matmulDesc)
{
    if (!matmulDesc)
        return CUBLAS_STATUS_SUCCESS;
    if (!fb_lt_desc_get(matmulDesc))
        return CUBLAS_STATUS_INVALID_VALUE;
    ((struct fb_lt_desc *)(void *)matmulDesc)->magic = 0;
    free(matmulDesc);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t matmulDesc,
                                              cublasLtMatmulDescAttributes_t attr, const void *buf,
                                              size_t sizeInBytes)
{
    return attr_set((void *)fb_lt_desc_get(matmulDesc), desc_attrs, NATTR(desc_attrs), attr, buf,
                    sizeInBytes);
}

cublasStatus_t cublasLtMatmulDescGetAttribute(cublasLtMatmulDesc_t matmulDesc,
                                              cublasLtMatmulDescAttributes_t attr, void *buf,
                                              size_t sizeInBytes, size_t *sizeWritten)
{
    return attr_get(fb_lt_desc_get(matmulDesc), desc_attrs, NATTR(desc_attrs), attr, buf,
                    sizeInBytes, sizeWritten);
}

/* ---- matrix layout ---- */

cublasStatus_t cublasLtMatrixLayoutInit_internal(cublasLtMatrixLayout_t matLayout, size_t size,
                                                 cudaDataType type, uint64_t rows, uint64_t cols,
                                                 int64_t ld)
{
    if (!matLayout || size < sizeof(struct fb_lt_layout))
        return CUBLAS_STATUS_ALLOC_FAILED;
    struct fb_lt_layout *l = (void *)matLayout;
    memset(matLayout, 0, size);
    l->magic = FB_LT_LAYOUT_MAGIC;
    l->type = type;
    l->order = CUBLASLT_ORDER_COL;
    l->rows = rows;
    l->cols = cols;
    l->ld = ld;
    l->batch_count = 1;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *matLayout, cudaDataType type,
                                          uint64_t rows, uint64_t cols, int64_t ld)
{
    if (!matLayout)
        return CUBLAS_STATUS_INVALID_VALUE;
    cublasLtMatrixLayout_t l = malloc(sizeof *l); /* freed by cublasLtMatrixLayoutDestroy */
    if (!l)
        return CUBLAS_STATUS_ALLOC_FAILED;
    cublasLtMatrixLayoutInit_internal(l, sizeof *l, type, rows, cols, ld);
    *matLayout = l;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t matLayout)
{
    if (!matLayout)
        return CUBLAS_STATUS_SUCCESS;
    if (!fb_lt_layout_get(matLayout))
        return CUBLAS_STATUS_INVALID_VALUE;
    ((struct fb_lt_layout *)(void *)matLayout)->magic = 0;
    free(matLayout);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t matLayout,
                                                cublasLtMatrixLayoutAttribute_t attr,
                                                const void *buf, size_t sizeInBytes)
{
    return attr_set((void *)fb_lt_layout_get(matLayout), layout_attrs, NATTR(layout_attrs), attr,
                    buf, sizeInBytes);
}

cublasStatus_t cublasLtMatrixLayoutGetAttribute(cublasLtMatrixLayout_t matLayout,
                                                cublasLtMatrixLayoutAttribute_t attr, void *buf,
                                                size_t sizeInBytes, size_t *sizeWritten)
{
    return attr_get(fb_lt_layout_get(matLayout), layout_attrs, NATTR(layout_attrs), attr, buf,
                    sizeInBytes, sizeWritten);
}

/* ---- preference ---- */

cublasStatus_t cublasLtMatmulPreferenceInit_internal(cublasLtMatmulPreference_t pref, size_t size)
{
    if (!pref || size < sizeof(struct fb_lt_pref))
        return CUBLAS_STATUS_ALLOC_FAILED;
    struct fb_lt_pref *p = (void *)pref;
    memset(pref, 0, size);
    p->magic = FB_LT_PREF_MAGIC;
    p->search_mode = CUBLASLT_SEARCH_BEST_FIT;
    p->reduction_mask = CUBLASLT_REDUCTION_SCHEME_MASK;
    p->align_a = p->align_b = p->align_c = p->align_d = 256;
    p->impl_mask = UINT64_MAX;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref)
{
    if (!pref)
        return CUBLAS_STATUS_INVALID_VALUE;
    cublasLtMatmulPreference_t p = malloc(sizeof *p); /* freed by ...PreferenceDestroy */
    if (!p)
        return CUBLAS_STATUS_ALLOC_FAILED;
    cublasLtMatmulPreferenceInit_internal(p, sizeof *p);
    *pref = p;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref)
{
    if (!pref)
        return CUBLAS_STATUS_SUCCESS;
    if (!fb_lt_pref_get(pref))
        return CUBLAS_STATUS_INVALID_VALUE;
    ((struct fb_lt_pref *)(void *)pref)->magic = 0;
    free(pref);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr,
                                                    const void *buf, size_t sizeInBytes)
{
    return attr_set((void *)fb_lt_pref_get(pref), pref_attrs, NATTR(pref_attrs), attr, buf,
                    sizeInBytes);
}

cublasStatus_t cublasLtMatmulPreferenceGetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr,
                                                    void *buf, size_t sizeInBytes,
                                                    size_t *sizeWritten)
{
    return attr_get(fb_lt_pref_get(pref), pref_attrs, NATTR(pref_attrs), attr, buf, sizeInBytes,
                    sizeWritten);
}
