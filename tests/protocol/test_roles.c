/* test_roles.c — buffer roles and extents from the tables (protocol/extent.h, protocol/gen/roles.c) and the capture rules. */
#include <criterion/criterion.h>
#include <string.h>

#include <cublas_v2.h>

#include "protocol/extent.h"
#include "protocol/gen/api.h"
#include "protocol/gen/roles.h"
#include "protocol/graph.h"

Test(extent, forms)
{
    cr_assert_eq(proto_ext_vec(0, 1), 0);
    cr_assert_eq(proto_ext_vec(-3, 1), 0);
    cr_assert_eq(proto_ext_vec(5, 2), 9);
    cr_assert_eq(proto_ext_vec(5, -2), 9); /* the same span, walked from the far end */
    cr_assert_eq(proto_ext_vec(5, 0), 1);
    cr_assert_eq(proto_ext_vec(1 << 30, 1), 1u << 30);
    cr_assert_eq(proto_ext_mat(2, 3, 4), 10);
    cr_assert_eq(proto_ext_mat(3, 2, 4), 7);
    cr_assert_eq(proto_ext_mat(3, 2, 1), 6, "an ld below rows counts as rows");
    cr_assert_eq(proto_ext_mat(0, 2, 4), 0);
    cr_assert_eq(proto_ext_opmat(CUBLAS_OP_N, 2, 3, 4), 10);
    cr_assert_eq(proto_ext_opmat(CUBLAS_OP_T, 2, 3, 4), 7);
    cr_assert_eq(proto_ext_op(CUBLAS_OP_N, 7, 9), 7);
    cr_assert_eq(proto_ext_op(CUBLAS_OP_C, 7, 9), 9);
    cr_assert_eq(proto_ext_side(CUBLAS_SIDE_LEFT, 7, 9), 7);
    cr_assert_eq(proto_ext_side(CUBLAS_SIDE_RIGHT, 7, 9), 9);
    cr_assert_eq(proto_ext_batch(3, 100, 10), 210);
    cr_assert_eq(proto_ext_batch(3, 0, 10), 10, "stride 0: one matrix broadcast");
    cr_assert_eq(proto_ext_batch(0, 100, 10), 0);
    cr_assert_eq(proto_ext_batch(3, -100, 10), PROTO_EXT_UNKNOWN);
    cr_assert_eq(proto_ext_count2(4, 3), 12);
    cr_assert_eq(proto_ext_ex(CUDA_R_16F, 10), 20);
    cr_assert_eq(proto_ext_ex(CUDA_C_64F, 10), 160);
    cr_assert_eq(proto_ext_ex(99, 10), PROTO_EXT_UNKNOWN);
    /* overflow saturates to unknown, which no range check accepts */
    cr_assert_eq(proto_ext_vec(INT64_MAX, INT64_MAX), PROTO_EXT_UNKNOWN);
    cr_assert_eq(proto_ext_mul(1ull << 40, 1ull << 40), PROTO_EXT_UNKNOWN);
    cr_assert_eq(proto_ext_add(UINT64_MAX - 1, 1), PROTO_EXT_UNKNOWN);
}

Test(roles, generated_extents_follow_the_rows)
{
    proto_buf b[PROTO_MAX_BUFS];
    float *x = (float *)0x1000;
    int n = proto_bufs_cublasSscal_v2(b, NULL, 1 << 30, NULL, x, 1);
    cr_assert_eq(n, 1);
    cr_assert_eq(b[0].ptr, 0x1000);
    cr_assert_eq(b[0].bytes, 4ull << 30);
    cr_assert_eq(b[0].role, PROTO_BUF_INOUT);
    cr_assert_str_eq(b[0].name, "x");
    cr_assert_eq(b[0].arg, 3);

    n = proto_bufs_cublasScopy_v2(b, NULL, 1024, x, 1, x, 1024);
    cr_assert_eq(n, 2);
    cr_assert_eq(b[0].role, PROTO_BUF_IN);
    cr_assert_eq(b[1].role, PROTO_BUF_OUT);
    cr_assert_eq(b[1].bytes, (1 + 1023ull * 1024) * 4);

    /* C(2x1) = A^T(2x3) B(3x1), doubles: A stored 3x2 with lda 4 */
    double *d = (double *)0x2000;
    n = proto_bufs_cublasDgemm_v2(b, NULL, CUBLAS_OP_T, CUBLAS_OP_N, 2, 1, 3, NULL, d, 4, d, 3,
                                  NULL, d, 2);
    cr_assert_eq(n, 3);
    cr_assert_eq(b[0].bytes, 7 * 8);
    cr_assert_eq(b[1].bytes, 3 * 8);
    cr_assert_eq(b[2].bytes, 2 * 8);
    cr_assert_eq(b[2].role, PROTO_BUF_INOUT);

    /* a run-time data type: bytes from it; an unknown one cannot be computed */
    n = proto_bufs_cublasGemmEx(b, NULL, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, NULL, d, CUDA_R_16F, 4,
                                d, CUDA_R_16BF, 4, NULL, d, CUDA_R_32F, 4, CUBLAS_COMPUTE_32F,
                                CUBLAS_GEMM_DEFAULT);
    cr_assert_eq(n, 3);
    cr_assert_eq(b[0].bytes, 16 * 2);
    cr_assert_eq(b[1].bytes, 16 * 2);
    cr_assert_eq(b[2].bytes, 16 * 4);
    proto_bufs_cublasGemmEx(b, NULL, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, NULL, d, (cudaDataType)99,
                            4, d, CUDA_R_16F, 4, NULL, d, CUDA_R_32F, 4, CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT);
    cr_assert_eq(b[0].bytes, PROTO_EXT_UNKNOWN);

    /* strided batches: (count - 1) * stride + one matrix */
    float *f = (float *)0x3000;
    proto_bufs_cublasSgemmStridedBatched(b, NULL, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, NULL, f, 2, 10,
                                         f, 2, 0, NULL, f, 2, 4, 3);
    cr_assert_eq(b[0].bytes, (2 * 10 + 4) * 4);
    cr_assert_eq(b[1].bytes, 4 * 4);
    cr_assert_eq(b[2].bytes, (2 * 4 + 4) * 4);

    /* arrays of pointers: the array is a buffer, flagged, and each matrix it names has its
     * extent in each (the executor reads the array and checks them) */
    const float *const *pa = (const float *const *)0x4000;
    n = proto_bufs_cublasSgemmBatched(b, NULL, CUBLAS_OP_T, CUBLAS_OP_N, 2, 3, 4, NULL, pa, 5, pa,
                                      6, NULL, (float *const *)pa, 7, 5);
    cr_assert_eq(n, 3);
    cr_assert_eq(b[2].bytes, 5 * sizeof(void *));
    cr_assert_eq(b[2].flags & PROTO_BUF_PTRS, PROTO_BUF_PTRS);
    cr_assert_eq(b[0].each, (1 * 5 + 4) * 4, "A^T: 4 x 2 stored, lda 5"); /* op(A) is m x k */
    cr_assert_eq(b[1].each, (2 * 6 + 4) * 4, "B: 4 x 3, ldb 6");
    cr_assert_eq(b[2].each, (2 * 7 + 2) * 4, "C: 2 x 3, ldc 7");
    const void *const *pv = (const void *const *)0x4000;
    proto_bufs_cublasGemmBatchedEx(b, NULL, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, NULL, pv,
                                   CUDA_R_16F, 2, pv, CUDA_R_16F, 2, NULL, (void *const *)pv,
                                   CUDA_R_32F, 2, 3, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    cr_assert_eq(b[0].each, 4 * 2);
    cr_assert_eq(b[2].each, 4 * 4);
    proto_bufs_cublasSgeqrfBatched(b, NULL, 5, 3, (float *const *)pa, 5, (float *const *)pa, NULL,
                                   2);
    cr_assert_eq(b[1].each, 3 * 4, "tau: min(m, n) elements");
    /* other buffers name no matrices */
    cr_assert_eq(b[0].flags & PROTO_BUF_PTRS, PROTO_BUF_PTRS);
    proto_bufs_cublasSgemm_v2(b, NULL, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, NULL, f, 2, f, 2, NULL, f,
                              2);
    cr_assert_eq(b[0].each, 0);
}

/* Every forwarded row has its buffers in the table; every row's table entry matches what
 * its function fills in. */
Test(roles, every_forwarded_row_is_in_the_table)
{
    int fwd = 0, with_bufs = 0;
    for (int i = 0; i < GENIE_APIX__COUNT; i++) {
        const genie_api_info *r = &genie_api_table[i];
        int is_fwd = !strcmp(r->kind, "FWD") || !strcmp(r->kind, "FWDI");
        const proto_api_bufs *t = proto_api_bufs_of(r->id);
        cr_assert_eq(is_fwd, t != NULL, "%s: forwarded %d, in the table %d", r->name, is_fwd,
                     t != NULL);
        fwd += is_fwd;
        with_bufs += t && t->n > 0;
    }
    cr_assert_geq(fwd, 150);
    cr_assert_geq(with_bufs, 140);
    const proto_api_bufs *t = proto_api_bufs_of(GENIE_API_cublasSgemm_v2);
    cr_assert_eq(t->n, 3);
    cr_assert_str_eq(t->bufs[0].extent, "OPMAT(transa, m, k, lda)");
    cr_assert_eq(t->bufs[2].role, PROTO_BUF_INOUT);
}

/* The capture rules now come from flags: the same lists protocol/graph.h spelled out by hand. */
Test(roles, capture_rules_from_the_flags)
{
    static const uint32_t state[] = {GENIE_API_cublasCreate_v2,       GENIE_API_cublasDestroy_v2,
                                     GENIE_API_cublasSetWorkspace_v2, GENIE_API_cublasSetStream_v2,
                                     GENIE_API_cublasSetPointerMode_v2,
                                     GENIE_API_cublasSetAtomicsMode,  GENIE_API_cublasSetMathMode};
    int nstate = 0;
    for (int i = 0; i < GENIE_APIX__COUNT; i++)
        nstate += proto_graph_lib_state(genie_api_table[i].id);
    cr_assert_eq(nstate, 7);
    for (size_t i = 0; i < sizeof state / sizeof *state; i++)
        cr_assert(proto_graph_lib_state(state[i]));
    cr_assert_not(proto_graph_lib_state(GENIE_API_cublasSgemm_v2));

    static const uint16_t graph_ops[] = {PROTO_OP_LAUNCH,    PROTO_OP_MEMCPY_D2D, PROTO_OP_MEMSET,
                                         PROTO_OP_GRAPH_H2D, PROTO_OP_LIB_CALL,   PROTO_OP_LT_MATMUL};
    int nok = 0;
    for (uint32_t op = 0; op <= 0xffff; op++)
        nok += proto_graph_op_ok((uint16_t)op);
    cr_assert_eq(nok, 6);
    for (size_t i = 0; i < sizeof graph_ops / sizeof *graph_ops; i++)
        cr_assert(proto_graph_op_ok(graph_ops[i]));
    cr_assert_not(proto_graph_op_ok(PROTO_OP_MEMCPY_D2H));
    cr_assert_not(proto_graph_op_ok(PROTO_OP_EVENT_RECORD));
}
