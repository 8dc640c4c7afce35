/* lt.h — cuBLASLt descriptors, layouts and preferences: their in-memory and wire forms.
 *
 * In memory (proto_lt_obj_*): the client keeps each object inside the storage cuBLASLt gives
 * it (cublasLtMatmulDescOpaque_t, 256 bytes; cublasLtMatrixLayoutOpaque_t and
 * cublasLtMatmulPreferenceOpaque_t, 64 bytes each), so the header's cublasLt*Init helpers
 * work on caller storage and nothing else is allocated:
 *     u32 magic (kind, and whether *Create allocated it) | set mask (u64 for a matmul
 *     descriptor, u32 otherwise; bit a: attribute a was set) | each attribute's value, packed
 *     in attribute ID order at the size cuBLASLt documents (defaults until set)
 * The executor decodes wire bytes into the same form and reads values with the same getters.
 *
 * On the wire (little-endian, no padding):
 *     obj      := u16 kind | u16 count | count x (u16 attr | u16 size | value[size])
 *                 only the attributes that were set, in ascending ID order (so equal objects
 *                 have equal bytes: the executor caches real objects by them)
 *     problem  := u32 PROTO_LT_PROBLEM_MAGIC | u32 form | desc obj | 4 layout objs (A, B, C, D)
 *                 form HEURISTIC: | pref obj
 *                 form MATMUL:    | u32 alpha_kind | u32 beta_kind | u32 scalar_size |
 *                                   u32 has_algo | alpha[16] | beta[16] | [algo[64]]
 *     scalar kinds: 0 host (the value, zero padded), 1 device (the u64 address), 2 none.
 * In the HEURISTIC form pointer-valued descriptor attributes are replaced by their alignment
 * (lowest set bit, at most 256): cuBLASLt's heuristic only looks at the alignment, and the
 * client's cache of heuristic answers then holds across buffers with different addresses. */
#ifndef GENIE_PROTOCOL_LT_H
#define GENIE_PROTOCOL_LT_H

#include <stddef.h>
#include <stdint.h>

#include <cublasLt.h>

enum { PROTO_LT_DESC = 1, PROTO_LT_LAYOUT = 2, PROTO_LT_PREF = 3 };

/* Bytes of the in-memory form: the public opaque struct of the kind. */
#define PROTO_LT_DESC_BYTES ((size_t)sizeof(cublasLtMatmulDescOpaque_t))
#define PROTO_LT_LAYOUT_BYTES ((size_t)sizeof(cublasLtMatrixLayoutOpaque_t))
#define PROTO_LT_PREF_BYTES ((size_t)sizeof(cublasLtMatmulPreferenceOpaque_t))
size_t proto_lt_obj_bytes(int kind); /* 0 for an unknown kind */

/* ---- in-memory objects ---- */

/* Writes a fresh object of kind into storage of proto_lt_obj_bytes(kind) bytes: every
 * attribute at its default, nothing set. heap: *Create allocated the storage (Destroy frees). */
void proto_lt_obj_init(void *obj, int kind, int heap);
/* The kind of a live object, or 0 when obj is NULL or not one. */
int proto_lt_obj_kind(const void *obj);
int proto_lt_obj_heap(const void *obj);
/* Marks obj dead: later calls see it as not an object. */
void proto_lt_obj_kill(void *obj);

/* Size of attribute attr of kind (0: no such attribute). */
size_t proto_lt_attr_size(int kind, uint32_t attr);
/* Attribute attr holds a device address (descriptor pointers). */
int proto_lt_attr_is_ptr(int kind, uint32_t attr);
/* 0, or GENIE_EINVAL for an unknown attribute, a size other than the attribute's or a NULL
 * buf (cuBLASLt's rules for cublasLt*SetAttribute). */
int proto_lt_obj_set(void *obj, uint32_t attr, const void *buf, size_t n);
/* cuBLASLt's cublasLt*GetAttribute rules: n == 0 asks for the size (*written, which must then
 * be non-NULL); otherwise buf must be non-NULL and n the attribute's size. 0 or GENIE_EINVAL. */
int proto_lt_obj_get(const void *obj, uint32_t attr, void *buf, size_t n, size_t *written);
/* The value as a 64-bit integer (sign-extended for the signed attributes; 0 when unknown). */
int64_t proto_lt_obj_geti(const void *obj, uint32_t attr);
int proto_lt_obj_isset(const void *obj, uint32_t attr);
/* Borrowed pointer to the stored value (size proto_lt_attr_size), or NULL when unknown. */
const void *proto_lt_obj_val(const void *obj, uint32_t attr);
/* The next set attribute after `after` (-1 to start), or -1 when none is left. */
int proto_lt_obj_next_set(const void *obj, int after);

/* ---- the wire ---- */

#define PROTO_LT_PROBLEM_MAGIC 0x3150544cu /* "LTP1" */
enum { PROTO_LT_FORM_HEURISTIC = 1, PROTO_LT_FORM_MATMUL = 2 };
enum { PROTO_LT_SC_HOST = 0, PROTO_LT_SC_DEVICE = 1, PROTO_LT_SC_NONE = 2 };
#define PROTO_LT_ALGO_BYTES ((size_t)sizeof(cublasLtMatmulAlgo_t))
/* The most algorithms one LT_HEURISTIC asks for (the executor rejects more). */
#define PROTO_LT_MAX_ALGOS 256u
/* Bytes of one heuristic result in the R_DATA reply. */
#define PROTO_LT_RESULT_BYTES ((size_t)sizeof(cublasLtMatmulHeuristicResult_t))

/* alpha/beta of a matmul: host values or device addresses (u64 in the first 8 bytes). */
typedef struct proto_lt_scalars {
    uint32_t alpha_kind, beta_kind, size; /* size: bytes of a host value (<= 16) */
    _Alignas(16) uint8_t alpha[16];
    _Alignas(16) uint8_t beta[16];
} proto_lt_scalars;

/* Encodes a problem into dst when cap is enough and returns its length either way (so a first
 * call with cap 0 sizes it). The objects are in-memory objects (borrowed); pref is used by the
 * HEURISTIC form, sc and algo (NULL: none) by the MATMUL form. */
size_t proto_lt_problem_encode(uint8_t *dst, size_t cap, int form, const void *desc,
                               const void *const layout[4], const void *pref,
                               const proto_lt_scalars *sc, const void *algo);

/* Where one object's wire bytes lie in the encoded problem (borrowed from it). */
typedef struct proto_lt_span {
    const uint8_t *p;
    size_t n;
} proto_lt_span;

/* A decoded problem. The objects are in-memory objects, readable with the getters above. */
typedef struct proto_lt_problem {
    int form;
    _Alignas(16) uint8_t desc[PROTO_LT_DESC_BYTES];
    _Alignas(16) uint8_t layout[4][PROTO_LT_LAYOUT_BYTES];
    _Alignas(16) uint8_t pref[PROTO_LT_PREF_BYTES];
    proto_lt_span wire_desc, wire_layout[4], wire_pref;
    proto_lt_scalars sc;
    int has_algo;
    _Alignas(16) uint8_t algo[PROTO_LT_ALGO_BYTES];
} proto_lt_problem;

/* Decodes and validates every length, kind, attribute ID, size and order; the whole of p must
 * be used. 0, or GENIE_EPROTO with why (may be NULL) saying what is wrong. */
int proto_lt_problem_decode(const uint8_t *p, size_t n, proto_lt_problem *out, char *why,
                            size_t whylen);

/* ---- helpers both sides use ---- */

/* Bytes of one element of a cudaDataType (0: unknown or smaller than a byte). */
size_t proto_lt_type_size(int type);
/* Bytes from the start of a matrix to the end of its last element (batches included), for the
 * column- and row-major strided layouts; GENIE_ENOTSUP for other orders, pointer-array batches,
 * planar complex or sub-byte types, GENIE_EINVAL for a negative or overflowing shape. */
int proto_lt_layout_extent(const void *layout, uint64_t *bytes);

/* ---- the algorithm calls (LT_ALGO) ----
 * cublasLtMatmulAlgoGetIds, AlgoInit, AlgoCapGetAttribute, AlgoConfigSetAttribute,
 * AlgoConfigGetAttribute and AlgoCheck, forwarded to the host's cuBLASLt: each is a function of
 * its arguments and the GPU alone (cublasLtMatmulAlgo_t is a 64-byte value the caller holds;
 * how the library lays out its configuration inside it is not documented, so even the
 * configuration calls that only edit that value are the library's to answer). The args of
 * LT_ALGO, by call (integers little-endian; algo: the 64 bytes as they are):
 *   GET_IDS     i32 compute, scale, A, B, C, D types; i32 requested (1..PROTO_LT_ALGO_MAX_IDS)
 *   INIT        the six types; i32 algo id
 *   CAP_GET     algo; u32 attr; u64 sizeInBytes (<= PROTO_LT_ALGO_MAX_VALUE)
 *   CONFIG_SET  algo; u32 attr; the value (sizeInBytes bytes, <= PROTO_LT_ALGO_MAX_VALUE)
 *   CONFIG_GET  algo; u32 attr; u64 sizeInBytes (<= PROTO_LT_ALGO_MAX_VALUE)
 *   CHECK       algo; a PROTO_LT_FORM_MATMUL problem (scalars of kind NONE, no algo in it)
 * The reply is one R_DATA: i32 cublasStatus_t, u32 0, u64 sizeWritten, then the output: the
 * ids (GET_IDS, sizeWritten = 4 x count), the algo (INIT, CONFIG_SET), the value (CAP_GET,
 * CONFIG_GET: min(sizeInBytes, sizeWritten) bytes), the cublasLtMatmulHeuristicResult_t (CHECK);
 * nothing when the status is not CUBLAS_STATUS_SUCCESS. */
enum {
    PROTO_LT_ALGO_GET_IDS = 1,
    PROTO_LT_ALGO_INIT = 2,
    PROTO_LT_ALGO_CAP_GET = 3,
    PROTO_LT_ALGO_CONFIG_SET = 4,
    PROTO_LT_ALGO_CONFIG_GET = 5,
    PROTO_LT_ALGO_CHECK = 6,
};
#define PROTO_LT_ALGO_MAX_IDS 4096u
#define PROTO_LT_ALGO_MAX_VALUE ((size_t)64 << 10)
#define PROTO_LT_ALGO_REPLY_HEAD 16u

#endif
