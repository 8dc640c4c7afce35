/* fb_lt_matmul.c — cublasLtMatmul, its heuristic, the algorithm calls (ids, init, caps, config, check): one plan, then the engine. */
#include "fb_int.h"

#include <limits.h>

#define FB_ALGO_TAG 0x66616b65626c6173ull /* "fakeblas", in algo.data[0] */

/* Tiled orders (COL32...) and planar complex are valid layouts this double does not run. */
static cublasStatus_t layout_check(const struct fb_lt_layout *l)
{
    if (l->order != CUBLASLT_ORDER_COL && l->order != CUBLASLT_ORDER_ROW)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (l->plane_offset)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (l->rows > INT64_MAX || l->cols > INT64_MAX || l->batch_count < 1)
        return CUBLAS_STATUS_INVALID_VALUE;
    /* ld is the stride between columns (COL) or rows (ROW): at least that many elements */
    int64_t inner = (int64_t)(l->order == CUBLASLT_ORDER_COL ? l->rows : l->cols);
    return l->ld >= (inner > 1 ? inner : 1) ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}

/* Validates the problem and fills everything of *g but the data pointers. Returns SUCCESS,
 * INVALID_VALUE (inconsistent descriptors), or NOT_SUPPORTED (valid but beyond this double). */
static cublasStatus_t plan(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t Ad,
                           cublasLtMatrixLayout_t Bd, cublasLtMatrixLayout_t Cd,
                           cublasLtMatrixLayout_t Dd, struct fb_gemm *g)
{
    const struct fb_lt_desc *op = fb_lt_desc_get(desc);
    const struct fb_lt_layout *a = fb_lt_layout_get(Ad), *b = fb_lt_layout_get(Bd);
    const struct fb_lt_layout *d = fb_lt_layout_get(Dd);
    const struct fb_lt_layout *c = Cd ? fb_lt_layout_get(Cd) : d; /* NULL Cdesc: C like D */
    if (!op || !a || !b || !c || !d)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (!fb_valid_op(op->transa) || !fb_valid_op(op->transb))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (op->transc != CUBLAS_OP_N || op->fill != CUBLAS_FILL_MODE_FULL)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    const struct fb_lt_layout *all[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++) {
        cublasStatus_t s = layout_check(all[i]);
        if (s != CUBLAS_STATUS_SUCCESS)
            return s;
    }

    memset(g, 0, sizeof *g);
    g->ta = op->transa != CUBLAS_OP_N;
    g->tb = op->transb != CUBLAS_OP_N;
    g->m = (int64_t)d->rows;
    g->n = (int64_t)d->cols;
    g->k = (int64_t)(g->ta ? a->rows : a->cols);
    /* shapes: op(A) is m x k, op(B) is k x n, C is m x n; C and D share type and order */
    if ((int64_t)(g->ta ? a->cols : a->rows) != g->m ||
        (int64_t)(g->tb ? b->cols : b->rows) != g->k ||
        (int64_t)(g->tb ? b->rows : b->cols) != g->n || c->rows != d->rows || c->cols != d->cols ||
        c->order != d->order || c->type != d->type)
        return CUBLAS_STATUS_INVALID_VALUE;
    /* every operand carries the whole batch (stride 0 broadcasts one matrix) */
    g->batch = d->batch_count;
    if (a->batch_count != g->batch || b->batch_count != g->batch || c->batch_count != g->batch)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (a->batch_mode > 1 || a->batch_mode != b->batch_mode || a->batch_mode != c->batch_mode ||
        a->batch_mode != d->batch_mode)
        return CUBLAS_STATUS_NOT_SUPPORTED;

    int dbl;
    if (a->type != b->type || !fb_types_ok(op->compute, op->scale, a->type, d->type, &dbl))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    g->dbl = dbl;
    g->scale_t = op->scale;

    /* fp8-style scaling, amax and aux outputs are not emulated: refuse rather than ignore */
    if (op->a_scale || op->b_scale || op->c_scale || op->d_scale || op->amax_d || op->d_out_scale ||
        op->aux_scale || op->aux_amax)
        return CUBLAS_STATUS_NOT_SUPPORTED;

    switch (op->epilogue) {
    case CUBLASLT_EPILOGUE_DEFAULT:
        break;
    case CUBLASLT_EPILOGUE_RELU:
        g->relu = 1;
        break;
    case CUBLASLT_EPILOGUE_BIAS:
        break;
    case CUBLASLT_EPILOGUE_RELU_BIAS:
        g->relu = 1;
        break;
    case CUBLASLT_EPILOGUE_GELU:
        g->gelu = 1;
        break;
    case CUBLASLT_EPILOGUE_GELU_BIAS:
        g->gelu = 1;
        break;
    default: /* AUX outputs and gradients */
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (op->epilogue & CUBLASLT_EPILOGUE_BIAS) {
        g->bias = op->bias; /* checked for NULL by the matmul, not by the heuristic */
        g->bias_t = op->bias_type == -1 ? (cudaDataType)d->type : (cudaDataType)op->bias_type;
        g->bias_stride = op->bias_batch_stride;
        int bias_ok =
            dbl ? g->bias_t == CUDA_R_64F
                : (g->bias_t == CUDA_R_32F || g->bias_t == CUDA_R_16F || g->bias_t == CUDA_R_16BF);
        if (!bias_ok)
            return CUBLAS_STATUS_NOT_SUPPORTED;
    }

    switch (op->pointer_mode) {
    case CUBLASLT_POINTER_MODE_HOST:
    case CUBLASLT_POINTER_MODE_DEVICE:
    case CUBLASLT_POINTER_MODE_DEVICE_VECTOR:
    case CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST:
        break;
    case CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_ZERO:
        if (op->alpha_vec_batch_stride) /* documented: must be 0 in this mode */
            return CUBLAS_STATUS_INVALID_VALUE;
        g->beta_zero = 1;
        break;
    default:
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    g->alpha_vec_stride = op->alpha_vec_batch_stride;

    g->a = (struct fb_mat){.t = a->type,
                           .ld = a->ld,
                           .stride = a->batch_stride,
                           .rowmajor = a->order == CUBLASLT_ORDER_ROW};
    g->b = (struct fb_mat){.t = b->type,
                           .ld = b->ld,
                           .stride = b->batch_stride,
                           .rowmajor = b->order == CUBLASLT_ORDER_ROW};
    g->c = (struct fb_mat){.t = c->type,
                           .ld = c->ld,
                           .stride = c->batch_stride,
                           .rowmajor = c->order == CUBLASLT_ORDER_ROW};
    g->d = (struct fb_mat){.t = d->type,
                           .ld = d->ld,
                           .stride = d->batch_stride,
                           .rowmajor = d->order == CUBLASLT_ORDER_ROW};
    return CUBLAS_STATUS_SUCCESS;
}

/* The algorithms this double offers: FB_ALGOS ids, all computed by the one engine (so every
 * configuration gives the same values), with plausible capabilities: algo 0 is the plain one
 * (no split-K, one tile: UNDEFINED), 1 and 2 split K (reduction in place or in the compute
 * type), 2 also swizzles; 1 and 2 offer two tiles and two stage counts. The configuration
 * lives in the algo value: data[0] the tag, data[1] the id, data[2] tile | splitK << 32,
 * data[3] reduction | swizzle << 32, data[4] custom option | stages << 32, data[5] inner shape |
 * cluster shape << 16. */
#define FB_ALGOS 3
static const uint32_t fb_tiles[] = {CUBLASLT_MATMUL_TILE_64x64, CUBLASLT_MATMUL_TILE_128x128};
static const uint32_t fb_stages[] = {CUBLASLT_MATMUL_STAGES_32x3, CUBLASLT_MATMUL_STAGES_64x3};

static void fill_result(cublasLtMatmulHeuristicResult_t *r, int algo_id)
{
    memset(r, 0, sizeof *r);
    r->algo.data[0] = FB_ALGO_TAG;
    r->algo.data[1] = (uint64_t)algo_id;
    r->algo.data[2] = (uint64_t)1 << 32; /* splitK 1, tile UNDEFINED */
    r->workspaceSize = 0; /* the engine needs no device workspace */
    r->state = CUBLAS_STATUS_SUCCESS;
    r->wavesCount = 1.0f;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t operationDesc, cublasLtMatrixLayout_t Adesc,
    cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
    cublasLtMatmulPreference_t preference, int requestedAlgoCount,
    cublasLtMatmulHeuristicResult_t heuristicResultsArray[], int *returnAlgoCount)
{
    cublasStatus_t s = fb_handle_get(lightHandle, FB_BLAS | FB_LT, NULL);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (requestedAlgoCount < 1 || !heuristicResultsArray || !returnAlgoCount ||
        !fb_lt_pref_get(preference))
        return CUBLAS_STATUS_INVALID_VALUE;
    *returnAlgoCount = 0;
    struct fb_gemm g;
    s = plan(operationDesc, Adesc, Bdesc, Cdesc, Ddesc, &g);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    /* One algorithm, needing no workspace, so any MAX_WORKSPACE_BYTES admits it. */
    fill_result(&heuristicResultsArray[0], 0);
    *returnAlgoCount = 1;
    return CUBLAS_STATUS_SUCCESS;
}

/* ------------------------------------------------------ the algorithm calls ---- */

cublasStatus_t cublasLtMatmulAlgoGetIds(cublasLtHandle_t lightHandle,
                                        cublasComputeType_t computeType, cudaDataType_t scaleType,
                                        cudaDataType_t Atype, cudaDataType_t Btype,
                                        cudaDataType_t Ctype, cudaDataType_t Dtype,
                                        int requestedAlgoCount, int algoIdsArray[],
                                        int *returnAlgoCount)
{
    cublasStatus_t s = fb_handle_get(lightHandle, FB_BLAS | FB_LT, NULL);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (requestedAlgoCount < 1 || !algoIdsArray || !returnAlgoCount)
        return CUBLAS_STATUS_INVALID_VALUE;
    int dbl;
    *returnAlgoCount = 0;
    if (Atype != Btype || Ctype != Dtype ||
        !fb_types_ok(computeType, scaleType, Atype, Dtype, &dbl))
        return CUBLAS_STATUS_SUCCESS; /* no algorithm for these types: none returned */
    int n = requestedAlgoCount < FB_ALGOS ? requestedAlgoCount : FB_ALGOS;
    for (int i = 0; i < n; i++)
        algoIdsArray[i] = i;
    *returnAlgoCount = n;
    return CUBLAS_STATUS_SUCCESS;
}

/* An attribute's value (scalar, or an array of uint32_t) as cuBLASLt's getters return it:
 * size 0 asks for the size, a scalar wants its exact size, an array takes what fits. */
static cublasStatus_t give(const void *v, size_t n, int array, void *buf, size_t size,
                           size_t *written)
{
    if (size == 0) {
        if (!written)
            return CUBLAS_STATUS_INVALID_VALUE;
        *written = n;
        return CUBLAS_STATUS_SUCCESS;
    }
    if (!buf || (!array && size != n) || (array && size % 4))
        return CUBLAS_STATUS_INVALID_VALUE;
    size_t k = size < n ? size : n;
    memcpy(buf, v, k);
    if (written)
        *written = k;
    return CUBLAS_STATUS_SUCCESS;
}

static int fb_algo_id(const cublasLtMatmulAlgo_t *algo)
{
    return algo && algo->data[0] == FB_ALGO_TAG && algo->data[1] < FB_ALGOS ? (int)algo->data[1]
                                                                            : -1;
}

cublasStatus_t cublasLtMatmulAlgoCapGetAttribute(const cublasLtMatmulAlgo_t *algo,
                                                 cublasLtMatmulAlgoCapAttributes_t attr, void *buf,
                                                 size_t sizeInBytes, size_t *sizeWritten)
{
    int id = fb_algo_id(algo);
    if (id < 0)
        return CUBLAS_STATUS_INVALID_VALUE;
    int32_t i32;
    uint32_t u32;
    uint64_t u64;
    uint32_t undef = 0; /* CUBLASLT_MATMUL_TILE_UNDEFINED, CUBLASLT_MATMUL_STAGES_UNDEFINED */
    switch (attr) {
    case CUBLASLT_ALGO_CAP_SPLITK_SUPPORT:
        i32 = id != 0;
        return give(&i32, 4, 0, buf, sizeInBytes, sizeWritten);
    case CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK:
        u32 = id ? CUBLASLT_REDUCTION_SCHEME_INPLACE | CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE : 0;
        return give(&u32, 4, 0, buf, sizeInBytes, sizeWritten);
    case CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT:
        u32 = id == 2;
        return give(&u32, 4, 0, buf, sizeInBytes, sizeWritten);
    case CUBLASLT_ALGO_CAP_STRIDED_BATCH_SUPPORT:
    case CUBLASLT_ALGO_CAP_OUT_OF_PLACE_RESULT_SUPPORT:
        i32 = 1;
        return give(&i32, 4, 0, buf, sizeInBytes, sizeWritten);
    case CUBLASLT_ALGO_CAP_UPLO_SUPPORT:
    case CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX:
    case CUBLASLT_ALGO_CAP_CUSTOM_MEMORY_ORDER:
    case CUBLASLT_ALGO_CAP_LD_NEGATIVE:
    case CUBLASLT_ALGO_CAP_POINTER_ARRAY_BATCH_SUPPORT:
    case CUBLASLT_ALGO_CAP_FLOATING_POINT_EMULATION_SUPPORT:
        i32 = 0;
        return give(&i32, 4, 0, buf, sizeInBytes, sizeWritten);
    case CUBLASLT_ALGO_CAP_TILE_IDS:
        return id ? give(fb_tiles, sizeof fb_tiles, 1, buf, sizeInBytes, sizeWritten)
                  : give(&undef, 4, 1, buf, sizeInBytes, sizeWritten);
    case CUBLASLT_ALGO_CAP_STAGES_IDS:
        return id ? give(fb_stages, sizeof fb_stages, 1, buf, sizeInBytes, sizeWritten)
                  : give(&undef, 4, 1, buf, sizeInBytes, sizeWritten);
    case CUBLASLT_ALGO_CAP_POINTER_MODE_MASK:
        u32 = CUBLASLT_POINTER_MODE_MASK_HOST | CUBLASLT_POINTER_MODE_MASK_DEVICE |
              CUBLASLT_POINTER_MODE_MASK_DEVICE_VECTOR;
        return give(&u32, 4, 0, buf, sizeInBytes, sizeWritten);
    case CUBLASLT_ALGO_CAP_EPILOGUE_MASK:
        u32 = CUBLASLT_EPILOGUE_DEFAULT | CUBLASLT_EPILOGUE_RELU | CUBLASLT_EPILOGUE_BIAS |
              CUBLASLT_EPILOGUE_GELU;
        return give(&u32, 4, 0, buf, sizeInBytes, sizeWritten);
    case CUBLASLT_ALGO_CAP_NUMERICAL_IMPL_FLAGS:
        u64 = CUBLASLT_NUMERICAL_IMPL_FLAGS_FMA;
        return give(&u64, 8, 0, buf, sizeInBytes, sizeWritten);
    case CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_A_BYTES:
    case CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_B_BYTES:
    case CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_C_BYTES:
    case CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_D_BYTES:
        u32 = 4;
        return give(&u32, 4, 0, buf, sizeInBytes, sizeWritten);
    default:
        return CUBLAS_STATUS_INVALID_VALUE;
    }
}

/* Where a configuration attribute lives in the algo value (see FB_ALGOS): word, shift, bytes. */
static int config_slot(cublasLtMatmulAlgoConfigAttributes_t attr, int *word, int *shift,
                       size_t *size)
{
    switch (attr) {
    case CUBLASLT_ALGO_CONFIG_ID: *word = 1, *shift = 0, *size = 4; return 1;
    case CUBLASLT_ALGO_CONFIG_TILE_ID: *word = 2, *shift = 0, *size = 4; return 1;
    case CUBLASLT_ALGO_CONFIG_SPLITK_NUM: *word = 2, *shift = 32, *size = 4; return 1;
    case CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME: *word = 3, *shift = 0, *size = 4; return 1;
    case CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING: *word = 3, *shift = 32, *size = 4; return 1;
    case CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION: *word = 4, *shift = 0, *size = 4; return 1;
    case CUBLASLT_ALGO_CONFIG_STAGES_ID: *word = 4, *shift = 32, *size = 4; return 1;
    case CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID: *word = 5, *shift = 0, *size = 2; return 1;
    case CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID: *word = 5, *shift = 16, *size = 2; return 1;
    default: return 0;
    }
}

static uint32_t config_get(const cublasLtMatmulAlgo_t *algo, int word, int shift, size_t size)
{
    uint64_t v = algo->data[word] >> shift;
    return size == 2 ? (uint32_t)(v & 0xffff) : (uint32_t)v;
}

cublasStatus_t cublasLtMatmulAlgoConfigSetAttribute(cublasLtMatmulAlgo_t *algo,
                                                    cublasLtMatmulAlgoConfigAttributes_t attr,
                                                    const void *buf, size_t sizeInBytes)
{
    int word, shift;
    size_t size;
    if (fb_algo_id(algo) < 0 || !buf || !config_slot(attr, &word, &shift, &size) ||
        sizeInBytes != size || attr == CUBLASLT_ALGO_CONFIG_ID /* read-only: set by Init */)
        return CUBLAS_STATUS_INVALID_VALUE;
    uint32_t v = 0;
    memcpy(&v, buf, size);
    uint64_t mask = (size == 2 ? 0xffffull : 0xffffffffull) << shift;
    algo->data[word] = (algo->data[word] & ~mask) | ((uint64_t)v << shift);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoConfigGetAttribute(const cublasLtMatmulAlgo_t *algo,
                                                    cublasLtMatmulAlgoConfigAttributes_t attr,
                                                    void *buf, size_t sizeInBytes,
                                                    size_t *sizeWritten)
{
    int word, shift;
    size_t size;
    if (fb_algo_id(algo) < 0 || !config_slot(attr, &word, &shift, &size))
        return CUBLAS_STATUS_INVALID_VALUE;
    uint32_t v = config_get(algo, word, shift, size);
    return give(&v, size, 0, buf, sizeInBytes, sizeWritten);
}

/* AlgoCheck's verdict on a configuration: what the algorithm's capabilities allow. */
static cublasStatus_t config_check(const cublasLtMatmulAlgo_t *algo)
{
    int id = (int)algo->data[1];
    uint32_t tile = config_get(algo, 2, 0, 4), stages = config_get(algo, 4, 32, 4);
    int32_t splitk = (int32_t)config_get(algo, 2, 32, 4);
    uint32_t red = config_get(algo, 3, 0, 4), swz = config_get(algo, 3, 32, 4);
    int tile_ok = tile == 0, stages_ok = stages == 0;
    for (size_t i = 0; id && i < sizeof fb_tiles / sizeof *fb_tiles; i++)
        tile_ok |= tile == fb_tiles[i];
    for (size_t i = 0; id && i < sizeof fb_stages / sizeof *fb_stages; i++)
        stages_ok |= stages == fb_stages[i];
    if (!tile_ok || !stages_ok || splitk < 1 || (splitk > 1 && !id) ||
        (red && (!id || (red & ~(uint32_t)(CUBLASLT_REDUCTION_SCHEME_INPLACE |
                                           CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE)))) ||
        swz > 1 || (swz && id != 2) || config_get(algo, 4, 0, 4) /* custom option: max 0 */)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoInit(cublasLtHandle_t lightHandle, cublasComputeType_t computeType,
                                      cudaDataType_t scaleType, cudaDataType_t Atype,
                                      cudaDataType_t Btype, cudaDataType_t Ctype,
                                      cudaDataType_t Dtype, int algoId, cublasLtMatmulAlgo_t *algo)
{
    cublasStatus_t s = fb_handle_get(lightHandle, FB_BLAS | FB_LT, NULL);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!algo || algoId < 0)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (algoId >= FB_ALGOS)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    int dbl;
    if (Atype != Btype || Ctype != Dtype ||
        !fb_types_ok(computeType, scaleType, Atype, Dtype, &dbl))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    cublasLtMatmulHeuristicResult_t r;
    fill_result(&r, algoId);
    *algo = r.algo;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoCheck(cublasLtHandle_t lightHandle,
                                       cublasLtMatmulDesc_t operationDesc,
                                       cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
                                       cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
                                       const cublasLtMatmulAlgo_t *algo,
                                       cublasLtMatmulHeuristicResult_t *result)
{
    cublasStatus_t s = fb_handle_get(lightHandle, FB_BLAS | FB_LT, NULL);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!algo || !result)
        return CUBLAS_STATUS_INVALID_VALUE;
    struct fb_gemm g;
    s = plan(operationDesc, Adesc, Bdesc, Cdesc, Ddesc, &g);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (algo->data[0] != FB_ALGO_TAG || algo->data[1] >= FB_ALGOS)
        return CUBLAS_STATUS_INVALID_VALUE; /* not an algo of ours */
    if ((s = config_check(algo)) != CUBLAS_STATUS_SUCCESS)
        return s;
    fill_result(result, (int)algo->data[1]);
    result->algo = *algo;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t computeDesc,
                              const void *alpha, const void *A, cublasLtMatrixLayout_t Adesc,
                              const void *B, cublasLtMatrixLayout_t Bdesc, const void *beta,
                              const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo,
                              void *workspace, size_t workspaceSizeInBytes, cudaStream_t stream)
{
    /* algo: any content runs (there is one algorithm), so an algo a client picked elsewhere
     * still works. workspace: not needed. */
    (void)algo;
    (void)workspace;
    (void)workspaceSizeInBytes;
    cublasStatus_t s = fb_handle_get(lightHandle, FB_BLAS | FB_LT, NULL);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    struct fb_gemm g;
    s = plan(computeDesc, Adesc, Bdesc, Cdesc, Ddesc, &g);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    const struct fb_lt_desc *op = fb_lt_desc_get(computeDesc);

    /* alpha and beta by pointer mode; "device" pointers are plain memory here */
    switch (op->pointer_mode) {
    case CUBLASLT_POINTER_MODE_DEVICE_VECTOR:
        g.alpha_vec = alpha;
        g.beta_vec = beta;
        break;
    case CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_ZERO:
        g.alpha_vec = alpha;
        break;
    case CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST:
        g.alpha_vec = alpha;
        g.beta = beta;
        break;
    default:
        g.alpha = alpha;
        g.beta = beta;
        break;
    }
    if ((!g.alpha && !g.alpha_vec) || (!g.beta_zero && !g.beta && !g.beta_vec))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (g.m == 0 || g.n == 0 || g.batch == 0)
        return CUBLAS_STATUS_SUCCESS;

    /* C is read only where beta != 0, so it may be NULL with beta == 0 (scalar modes). */
    int beta_nonzero = !g.beta_zero && (g.beta_vec || fb_load(g.beta, g.scale_t, 0) != 0);
    if (!D || (g.k && (!A || !B)) || (beta_nonzero && !C) ||
        ((op->epilogue & CUBLASLT_EPILOGUE_BIAS) && !g.bias))
        return CUBLAS_STATUS_INVALID_VALUE;

    const struct fb_lt_layout *dl = fb_lt_layout_get(Ddesc);
    if (dl->batch_mode == CUBLASLT_BATCH_MODE_POINTER_ARRAY) {
        g.a.ptrs = A;
        g.b.ptrs = B;
        g.c.ptrs = C;
        g.d.ptrs = D;
    } else {
        g.a.p = A;
        g.b.p = B;
        g.c.p = C;
        g.d.p = D;
    }
    unsigned host = op->pointer_mode == CUBLASLT_POINTER_MODE_HOST ? FB_HOST_ALPHA | FB_HOST_BETA
                    : op->pointer_mode == CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST
                        ? FB_HOST_BETA
                        : 0;
    return fb_gemm_submit(stream, &g, host,
                          fb_gemm_dtype((cublasComputeType_t)op->compute, CUBLAS_DEFAULT_MATH,
                                        g.a.t));
}
