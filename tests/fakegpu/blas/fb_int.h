/* fb_int.h — fake cuBLAS/cuBLASLt internals: handle registry, type rules, the GEMM engine. */
#ifndef GENIE_FB_INT_H
#define GENIE_FB_INT_H

/* Built with -fvisibility=hidden: what is declared under this pragma (the CUDA 13 cuBLAS and
 * cuBLASLt prototypes, and our C prototypes of the __half routines) keeps default visibility,
 * so exactly the functions we define from those headers are exported. */
#pragma GCC visibility push(default)
#include "fakeblas.h"
#pragma GCC visibility pop

#include <stddef.h>
#include <stdint.h>

#include "fakegpu_work.h" /* the fake GPU's streams, where the GEMMs run */

/* ---- handles (fb_handle.c) --------------------------------------------------------------- */

/* One registry holds cuBLAS and cuBLASLt handles. cuBLAS documents that a cublasHandle_t may be
 * cast to a cublasLtHandle_t, so Lt accepts either kind. A handle is looked up by address in
 * the registry before it is touched: a bogus or destroyed handle is reported, never followed. */
enum fb_kind { FB_BLAS = 1, FB_LT = 2 };

/* The per-handle settings a call needs, copied out under the registry lock so that a
 * concurrent cublasSet* on another thread never tears a GEMM's view of them. */
struct fb_state {
    cudaStream_t stream;
    void *workspace;
    size_t workspace_size;
    cublasMath_t math;
    cublasPointerMode_t pointer_mode;
    cublasAtomicsMode_t atomics;
};

cublasStatus_t fb_handle_new(enum fb_kind kind, void **out);
cublasStatus_t fb_handle_free(const void *h, enum fb_kind kind);
/* SUCCESS and *st filled (st may be NULL), or NOT_INITIALIZED. kinds: a mask of fb_kind. */
cublasStatus_t fb_handle_get(const void *h, unsigned kinds, struct fb_state *st);
/* fb_handle_get for a cuBLAS handle, then waits for the work queued on its stream: for the
 * routines that compute on the calling thread. */
cublasStatus_t fb_handle_drain(const void *h);
/* Runs set(state, arg) under the lock on a live cuBLAS handle. */
cublasStatus_t fb_handle_update(const void *h, void (*set)(struct fb_state *, const void *),
                                const void *arg);

/* ---- type rules (fb_gemm.c) -------------------------------------------------------------- */

/* Type of alpha/beta that cuBLAS expects for a compute type (half for 16F, double for 64F,
 * float otherwise); -1 for a compute type we do not know. */
int fb_scale_type(cublasComputeType_t ct);
/* Does cuBLAS run this combination? *dbl = 1 when it computes in double. A/B share a type,
 * C/D share a type, as in cublasGemmEx and cublasLtMatmul. */
int fb_types_ok(cublasComputeType_t ct, cudaDataType st, cudaDataType ab, cudaDataType cd,
                int *dbl);
size_t fb_type_size(cudaDataType t); /* 0 for a type the engine cannot load */
double fb_load(const void *p, cudaDataType t, int64_t i);
int fb_valid_op(cublasOperation_t op); /* N, T, C (C == T for real types) */

/* ---- the GEMM engine (fb_gemm.c) --------------------------------------------------------- */

/* One matrix operand of a (possibly batched) GEMM. All memory is borrowed from the caller. */
struct fb_mat {
    const void *p;           /* first matrix (strided batches), or NULL */
    const void *const *ptrs; /* pointer-array batch: ptrs[b] is matrix b; NULL = strided */
    cudaDataType t;
    int64_t ld;     /* elements between columns (col-major) or rows (row-major) */
    int64_t stride; /* elements between batch members */
    int rowmajor;
};

/* D = act(alpha * op(A) op(B) + beta * C + bias), for every batch member. The caller has
 * validated everything; the engine only computes. */
struct fb_gemm {
    int ta, tb; /* op(A), op(B) transpose */
    int64_t m, n, k, batch;
    struct fb_mat a, b, c, d;         /* c.p/c.ptrs may be NULL when beta is zero */
    int dbl;                          /* accumulate in double (COMPUTE_64F), else float */
    cudaDataType scale_t;             /* type of *alpha / *beta and of the vectors below */
    const void *alpha, *beta;         /* scalars (host or "device" memory: both readable here) */
    const void *alpha_vec, *beta_vec; /* per-row vectors (Lt DEVICE_VECTOR modes), or NULL */
    int64_t alpha_vec_stride;         /* elements between batch members of alpha_vec */
    int beta_zero;                    /* beta is 0 whatever *beta says (Lt BETA_ZERO mode) */
    int relu, gelu;
    const void *bias; /* length m, added to every column; NULL = none */
    cudaDataType bias_t;
    int64_t bias_stride; /* elements between batch members of bias */
};

/* SUCCESS, ALLOC_FAILED, or NOT_SUPPORTED (a dimension beyond what OpenBLAS's int takes). */
cublasStatus_t fb_gemm_run(const struct fb_gemm *g);
/* Queues the GEMM on the fake GPU's stream: it runs after the call returns, in stream order,
 * and takes the model's time (fakegpu_work.h). host_scalars: which of *alpha, *beta are host
 * memory, read now (cuBLAS reads host-mode scalars at the call); the rest is read when the
 * GEMM runs, as on the GPU. NOT_SUPPORTED for a dimension OpenBLAS cannot take. */
#define FB_HOST_ALPHA 1u
#define FB_HOST_BETA 2u
cublasStatus_t fb_gemm_submit(cudaStream_t stream, const struct fb_gemm *g, unsigned host_scalars,
                              enum fg_dtype dt);
/* Which peak the device-time model uses for a GEMM of these types. */
enum fg_dtype fb_gemm_dtype(cublasComputeType_t ct, cublasMath_t math, cudaDataType ab);

/* ---- cuBLASLt descriptors (fb_lt_desc.c) ------------------------------------------------- */

/* What lives inside the public semi-opaque structs. cuBLASLt lets a caller provide the storage
 * (cublasLt*Init), so each must fit the public size; fb_lt_desc.c asserts that. A magic marks
 * an initialised descriptor; Destroy clears it. */
#define FB_LT_DESC_MAGIC 0x4c744d44u   /* "LtMD" */
#define FB_LT_LAYOUT_MAGIC 0x4c744c59u /* "LtLY" */
#define FB_LT_PREF_MAGIC 0x4c745052u   /* "LtPR" */

struct fb_lt_desc {
    uint32_t magic;
    int32_t compute, scale, pointer_mode, transa, transb, transc, fill;
    uint32_t epilogue;
    int32_t sm_count, aux_type, bias_type;
    int32_t a_scale_mode, b_scale_mode, c_scale_mode, d_scale_mode, aux_scale_mode;
    int32_t d_out_scale_mode;
    int8_t fast_accum;
    int64_t bias_batch_stride, aux_ld, aux_batch_stride, alpha_vec_batch_stride;
    const void *bias, *aux, *a_scale, *b_scale, *c_scale, *d_scale, *amax_d, *aux_scale;
    const void *aux_amax, *d_out_scale, *emulation;
};

struct fb_lt_layout {
    uint32_t magic;
    uint32_t type;
    int32_t order;
    int32_t batch_count;
    uint64_t rows, cols;
    int64_t ld, batch_stride, plane_offset;
    uint32_t batch_mode;
};

struct fb_lt_pref {
    uint32_t magic;
    uint32_t search_mode, reduction_mask, align_a, align_b, align_c, align_d;
    float max_waves;
    uint64_t max_workspace, impl_mask;
};

/* Borrowed views of valid descriptors, or NULL. */
const struct fb_lt_desc *fb_lt_desc_get(cublasLtMatmulDesc_t d);
const struct fb_lt_layout *fb_lt_layout_get(cublasLtMatrixLayout_t l);
const struct fb_lt_pref *fb_lt_pref_get(cublasLtMatmulPreference_t p);

#endif
