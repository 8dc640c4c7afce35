/* extent.h — the size language of buffer roles in the tables of protocol/api: how many bytes a library call may touch through a pointer.
 *
 * A row says, for every device pointer argument, its role and its extent in the call's own
 * arguments: DEV_IN(x, VEC(n, incx)), DEV_INOUT(C, MAT(m, n, ldc)), DEV_IN(A, EX(Atype,
 * OPMAT(transa, m, k, lda))). protocol/apigen.c turns each form into the function of the same
 * name in lower case below (VEC -> proto_ext_vec) and multiplies an element count by the
 * pointer's element size (sizeof *x); EX and BYTES are already bytes. The generated
 * proto_bufs_<api> (protocol/gen/roles.h) evaluates them for one call: the executor
 * range-checks each buffer over its whole extent before the real function runs, and the
 * semantics layer builds its dependency graph from the same numbers.
 *
 * Every result is a count from the pointer upwards, saturating: PROTO_EXT_UNKNOWN means the
 * extent overflows 64 bits or cannot be computed (an unknown data type, a negative batch
 * stride); a checker must then refuse the call. A count of zero means the call touches
 * nothing through the pointer (n <= 0). Pure functions of their arguments, no state. */
#ifndef GENIE_PROTOCOL_EXTENT_H
#define GENIE_PROTOCOL_EXTENT_H

#include <stdint.h>

#define PROTO_EXT_UNKNOWN UINT64_MAX

static inline uint64_t proto_ext_mul(uint64_t a, uint64_t b)
{
    if (a == PROTO_EXT_UNKNOWN || b == PROTO_EXT_UNKNOWN)
        return PROTO_EXT_UNKNOWN;
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) || r == PROTO_EXT_UNKNOWN ? PROTO_EXT_UNKNOWN : r;
}

static inline uint64_t proto_ext_add(uint64_t a, uint64_t b)
{
    if (a == PROTO_EXT_UNKNOWN || b == PROTO_EXT_UNKNOWN)
        return PROTO_EXT_UNKNOWN;
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) || r == PROTO_EXT_UNKNOWN ? PROTO_EXT_UNKNOWN : r;
}

static inline uint64_t proto_ext_abs(int64_t v) { return v < 0 ? -(uint64_t)v : (uint64_t)v; }

/* COUNT(n): n elements. COUNT2(a, b): a * b elements (n pivots per batch entry). */
static inline uint64_t proto_ext_count(int64_t n) { return n <= 0 ? 0 : (uint64_t)n; }
static inline uint64_t proto_ext_count2(int64_t a, int64_t b)
{
    return a <= 0 || b <= 0 ? 0 : proto_ext_mul((uint64_t)a, (uint64_t)b);
}

/* PTRS(n, one): an array of n device pointers, each naming a matrix of extent one. This is
 * the array's count; the generator evaluates one apart (proto_buf.each). The executor checks
 * the array, then reads it and checks each matrix (remote/ops_lib.c); the addresses are in
 * device memory, not in the call, so such a buffer is flagged PROTO_BUF_PTRS and a dependency
 * graph must treat the call as touching unknown memory. */
static inline uint64_t proto_ext_ptrs(int64_t n) { return proto_ext_count(n); }

/* MIN(a, b): the smaller dimension (min(m, n) Householder scalars of geqrf). */
static inline int64_t proto_ext_min(int64_t a, int64_t b) { return a < b ? a : b; }

/* BYTES(n): n bytes (a workspace). */
static inline uint64_t proto_ext_bytes(uint64_t n) { return n; }

/* VEC(n, inc): a strided vector of n elements, 1 + (n - 1) * |inc| elements from the
 * pointer (BLAS starts a negative-increment vector at the far end, the same span). */
static inline uint64_t proto_ext_vec(int64_t n, int64_t inc)
{
    if (n <= 0)
        return 0;
    return proto_ext_add(1, proto_ext_mul((uint64_t)(n - 1), proto_ext_abs(inc)));
}

/* MAT(rows, cols, ld): a column-major rows x cols matrix with leading dimension ld:
 * (cols - 1) * ld + rows elements. An ld below rows is an error cuBLAS reports itself;
 * rows stands in for it so the extent is never smaller than the matrix. */
static inline uint64_t proto_ext_mat(int64_t rows, int64_t cols, int64_t ld)
{
    if (rows <= 0 || cols <= 0)
        return 0;
    uint64_t l = ld < rows ? (uint64_t)rows : (uint64_t)ld;
    return proto_ext_add(proto_ext_mul((uint64_t)(cols - 1), l), (uint64_t)rows);
}

/* OP(trans, a, b): a for a non-transposed operand (CUBLAS_OP_N, 0), else b. */
static inline int64_t proto_ext_op(int64_t trans, int64_t a, int64_t b) { return trans == 0 ? a : b; }

/* OPMAT(trans, rows, cols, ld): the stored matrix behind op(X) of rows x cols: itself for
 * CUBLAS_OP_N, its transpose (cols x rows) otherwise. */
static inline uint64_t proto_ext_opmat(int64_t trans, int64_t rows, int64_t cols, int64_t ld)
{
    return trans == 0 ? proto_ext_mat(rows, cols, ld) : proto_ext_mat(cols, rows, ld);
}

/* SIDE(side, m, n): m for CUBLAS_SIDE_LEFT (0), n for the right side. */
static inline int64_t proto_ext_side(int64_t side, int64_t m, int64_t n) { return side == 0 ? m : n; }

/* BATCH(count, stride, one): count matrices of one element extent, stride elements apart.
 * A negative stride would reach below the pointer: unknown (refused). */
static inline uint64_t proto_ext_batch(int64_t count, int64_t stride, uint64_t one)
{
    if (count <= 0 || one == 0)
        return 0;
    if (stride < 0)
        return PROTO_EXT_UNKNOWN;
    return proto_ext_add(proto_ext_mul((uint64_t)(count - 1), (uint64_t)stride), one);
}

/* Bytes of one element of a cudaDataType_t (library_types.h), 0 if unknown. Sub-byte types
 * (4- and 6-bit) count a whole byte each: an over-estimate, the safe side for a check. */
static inline uint64_t proto_dtype_size(int64_t t)
{
    switch (t) {
    case 3: case 8: case 16: case 18: case 28: case 29: case 30: case 31: case 32: case 33:
        return 1; /* R_8I, R_8U, R_4I, R_4U, R_8F_*, R_6F_*, R_4F_E2M1 */
    case 2: case 14: case 7: case 9: case 17: case 19: case 20: case 22:
        return 2; /* R_16F, R_16BF, C_8I, C_8U, C_4I, C_4U, R_16I, R_16U */
    case 0: case 6: case 15: case 10: case 12: case 21: case 23:
        return 4; /* R_32F, C_16F, C_16BF, R_32I, R_32U, C_16I, C_16U */
    case 1: case 4: case 11: case 13: case 24: case 26:
        return 8; /* R_64F, C_32F, C_32I, C_32U, R_64I, R_64U */
    case 5: case 25: case 27:
        return 16; /* C_64F, C_64I, C_64U */
    default:
        return 0;
    }
}

/* EX(dtype, elems): elems elements of a run-time data type, in bytes. */
static inline uint64_t proto_ext_ex(int64_t dtype, uint64_t elems)
{
    uint64_t sz = proto_dtype_size(dtype);
    if (!sz)
        return PROTO_EXT_UNKNOWN;
    return proto_ext_mul(elems, sz);
}

#endif
