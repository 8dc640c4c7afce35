/* test_lib.c — forwarded library calls (LIB_CALL) on the executor: decoding and validation. */
#include <cublas_v2.h>

#include "protocol/gen/api.h"
#include "remote/gen/exec_lib.h"
#include "remote/exec_int.h"
#include "tests/remote/harness.h"

static void setup_blas(void)
{
    setenv("GENIE_CUBLAS_LIB", FAKEBLAS_LIB, 1);
    setenv("GENIE_CUBLASLT_LIB", FAKEBLAS_LIB, 1);
    setup();
}

TestSuite(lib, .init = setup_blas, .fini = teardown);

/* Packs LIB_CALL arguments as shim/shim_blas.h describes. */
typedef struct args {
    uint8_t b[512];
    size_t n;
} args;

static void a_u32(args *a, uint32_t v)
{
    memcpy(a->b + a->n, &v, 4);
    a->n += 4;
}
static void a_u64(args *a, uint64_t v)
{
    memcpy(a->b + a->n, &v, 8);
    a->n += 8;
}
static void a_scalar_host(args *a, float v)
{
    uint8_t s[16] = {0};
    memcpy(s, &v, 4);
    a_u32(a, 0);
    a_u32(a, 4);
    memcpy(a->b + a->n, s, 16);
    a->n += 16;
}

static void put_call(uint32_t api, const args *a)
{
    uint8_t *p = proto_put_LIB_CALL(&req, api, a->n);
    cr_assert_not_null(p);
    memcpy(p, a->b, a->n);
}

static void create(exec_session *s, uint32_t id)
{
    args a = {.n = 0};
    a_u32(&a, id);
    begin();
    put_call(GENIE_API_cublasCreate_v2, &a);
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 0, "cublasCreate failed");
    done(&r);
}

/* C(m x n) = A(m x k) B(k x n), column-major, all in the session's memory. */
static args sgemm_args(uint32_t h, int m, int n, int k, uint64_t A, uint64_t B, uint64_t C)
{
    args a = {.n = 0};
    a_u32(&a, h);
    a_u32(&a, CUBLAS_OP_N);
    a_u32(&a, CUBLAS_OP_N);
    a_u32(&a, (uint32_t)m);
    a_u32(&a, (uint32_t)n);
    a_u32(&a, (uint32_t)k);
    a_scalar_host(&a, 1.0f);
    a_u64(&a, A);
    a_u32(&a, (uint32_t)m);
    a_u64(&a, B);
    a_u32(&a, (uint32_t)k);
    a_scalar_host(&a, 0.0f);
    a_u64(&a, C);
    a_u32(&a, (uint32_t)m);
    return a;
}

Test(lib, sgemm_through_lib_call)
{
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base;
    map(s, base, 2 * MiB);
    create(s, 5);
    float A[6] = {1, 2, 3, 4, 5, 6}; /* 2x3 */
    float B[3] = {1, 1, 1};          /* 3x1 */
    begin();
    uint8_t *p = proto_put_MEMCPY_H2D(&req, base, 0, sizeof A);
    memcpy(p, A, sizeof A);
    p = proto_put_MEMCPY_H2D(&req, base + 64, 0, sizeof B);
    memcpy(p, B, sizeof B);
    args a = sgemm_args(5, 2, 1, 3, base, base + 64, base + 128);
    put_call(GENIE_API_cublasSgemm_v2, &a);
    proto_put_MEMCPY_D2H(&req, base + 128, 8, 0);
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 1, "expected one R_DATA, got %d records", r.n);
    proto_R_DATA d;
    cr_assert_eq(proto_get_R_DATA(&r.recs[0], &d), 0);
    float C[2];
    memcpy(C, d.data, 8);
    cr_assert_float_eq(C[0], 1 + 3 + 5, 1e-6);
    cr_assert_float_eq(C[1], 2 + 4 + 6, 1e-6);
    done(&r);
    exec_session_close(s);
}

Test(lib, bad_calls_are_errors_not_crashes)
{
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base;
    map(s, base, 2 * MiB);
    create(s, 5);
    reply r;

    /* an API the executor does not forward */
    args a = {.n = 0};
    a_u32(&a, 5);
    begin();
    put_call(0x2fff, &a);
    run(s, &r);
    cr_assert_eq(error_at(&r, 0).cuda_err, 801);
    done(&r);

    /* arguments cut short */
    a = sgemm_args(5, 2, 1, 3, base, base + 64, base + 128);
    a.n -= 6;
    begin();
    put_call(GENIE_API_cublasSgemm_v2, &a);
    run(s, &r);
    proto_R_ERROR e = error_at(&r, 0);
    cr_assert_eq(e.cuda_err, 1);
    cr_assert(msg_has(&e, "end early"));
    done(&r);

    /* a handle nobody created */
    a = sgemm_args(77, 2, 1, 3, base, base + 64, base + 128);
    begin();
    put_call(GENIE_API_cublasSgemm_v2, &a);
    run(s, &r);
    cr_assert_eq(error_at(&r, 0).cuda_err, 400);
    done(&r);

    /* a device pointer outside the session's memory: refused before cuBLAS sees it */
    a = sgemm_args(5, 2, 1, 3, base + 4 * MiB, base + 64, base + 128);
    begin();
    put_call(GENIE_API_cublasSgemm_v2, &a);
    proto_put_PING(&req, 1); /* still runs */
    run(s, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.recs[1].op, PROTO_OP_R_PONG);
    e = error_at(&r, 0);
    cr_assert_eq(e.cuda_err, 1);
    cr_assert(msg_has(&e, "not in this session"));
    done(&r);

    /* a handle ID that is taken */
    a = (args){.n = 0};
    a_u32(&a, 5);
    begin();
    put_call(GENIE_API_cublasCreate_v2, &a);
    run(s, &r);
    cr_assert_eq(error_at(&r, 0).cuda_err, 1);
    done(&r);

    /* a cuBLAS error status comes back as R_ERROR with the status in cu_result */
    a = sgemm_args(5, 2, 1, 3, base, base + 64, base + 128);
    memcpy(a.b + 4 + 4 + 4 + 4 + 4 + 4 + 24 + 8, &(int){0}, 4); /* lda 0 < m */
    begin();
    put_call(GENIE_API_cublasSgemm_v2, &a);
    run(s, &r);
    e = error_at(&r, 0);
    cr_assert_eq(e.cu_result, CUBLAS_STATUS_INVALID_VALUE);
    cr_assert_eq(e.cuda_err, 1);
    done(&r);

    /* the session still works after all that */
    begin();
    proto_put_PING(&req, 9);
    run(s, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.recs[0].op, PROTO_OP_R_PONG);
    done(&r);
    exec_session_close(s);
}

Test(lib, destroy_unbinds_the_handle)
{
    exec_session *s = open_hello();
    create(s, 9);
    args a = {.n = 0};
    a_u32(&a, 9);
    reply r;
    begin();
    put_call(GENIE_API_cublasDestroy_v2, &a);
    run(s, &r);
    cr_assert_eq(r.n, 0);
    done(&r);
    begin();
    put_call(GENIE_API_cublasDestroy_v2, &a);
    run(s, &r);
    cr_assert_eq(error_at(&r, 0).cuda_err, 400, "a destroyed handle is unknown");
    done(&r);
    exec_session_close(s);
}

/* A host output (HOUT, cublas?getrsBatched's int *info): its value comes back as R_DATA in
 * order; one of the device kind is refused before cuBLAS could write through it. */
static args getrs_args(uint64_t base, int lda, uint32_t hout_kind)
{
    args a = {.n = 0};
    a_u32(&a, 5);
    a_u32(&a, CUBLAS_OP_N);
    a_u32(&a, 2);         /* n */
    a_u32(&a, 1);         /* nrhs */
    a_u64(&a, base + 64); /* Aarray */
    a_u32(&a, (uint32_t)lda);
    a_u64(&a, base + 256); /* devIpiv */
    a_u64(&a, base + 192); /* Barray */
    a_u32(&a, 2);
    a_u32(&a, hout_kind); /* info: kind, size, address */
    a_u32(&a, 4);
    a_u64(&a, hout_kind ? base + 320 : 0);
    a_u32(&a, 1); /* batchSize */
    return a;
}

Test(lib, getrs_host_info_comes_back)
{
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base;
    map(s, base, 2 * MiB);
    create(s, 5);
    float A[4] = {4, 2, 1, 3}, B[2] = {1, 2}; /* 4x + y = 1, 2x + 3y = 2 */
    uint64_t pa = base, pb = base + 128;
    begin();
    memcpy(proto_put_MEMCPY_H2D(&req, base, 0, sizeof A), A, sizeof A);
    memcpy(proto_put_MEMCPY_H2D(&req, base + 64, 0, 8), &pa, 8);
    memcpy(proto_put_MEMCPY_H2D(&req, base + 128, 0, sizeof B), B, sizeof B);
    memcpy(proto_put_MEMCPY_H2D(&req, base + 192, 0, 8), &pb, 8);
    args a = {.n = 0}; /* getrf: handle, n, A[], lda, P, info (device), batch */
    a_u32(&a, 5);
    a_u32(&a, 2);
    a_u64(&a, base + 64);
    a_u32(&a, 2);
    a_u64(&a, base + 256);
    a_u64(&a, base + 320);
    a_u32(&a, 1);
    put_call(GENIE_API_cublasSgetrfBatched, &a);
    a = getrs_args(base, 2, 0);
    put_call(GENIE_API_cublasSgetrsBatched, &a);
    proto_put_MEMCPY_D2H(&req, base + 128, 8, 0);
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 2, "expected two R_DATA, got %d records", r.n);
    proto_R_DATA d;
    cr_assert_eq(proto_get_R_DATA(&r.recs[0], &d), 0);
    cr_assert_eq(d.data_len, 4);
    int info;
    memcpy(&info, d.data, 4);
    cr_assert_eq(info, 0);
    cr_assert_eq(proto_get_R_DATA(&r.recs[1], &d), 0);
    float x[2];
    memcpy(x, d.data, 8);
    cr_assert_float_eq(x[0], 0.1f, 1e-6);
    cr_assert_float_eq(x[1], 0.6f, 1e-6);
    done(&r);

    /* a bad argument (lda, the 5th): info = -5 comes back as R_DATA, then cuBLAS's status
     * in R_ERROR, both for the same op */
    a = getrs_args(base, 1, 0);
    begin();
    put_call(GENIE_API_cublasSgetrsBatched, &a);
    run(s, &r);
    cr_assert_eq(r.n, 2, "expected R_DATA and R_ERROR, got %d records", r.n);
    cr_assert_eq(proto_get_R_DATA(&r.recs[0], &d), 0);
    cr_assert_eq(d.index, 0);
    cr_assert_eq(d.data_len, 4);
    memcpy(&info, d.data, 4);
    cr_assert_eq(info, -5);
    proto_R_ERROR e = error_at(&r, 1);
    cr_assert_eq(e.index, 0);
    cr_assert_eq(e.cu_result, CUBLAS_STATUS_INVALID_VALUE);
    done(&r);

    /* a call refused before cuBLAS runs (a handle nobody created) writes no info: error only */
    a = getrs_args(base, 2, 0);
    memcpy(a.b, &(uint32_t){77}, 4);
    begin();
    put_call(GENIE_API_cublasSgetrsBatched, &a);
    run(s, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(error_at(&r, 0).cuda_err, 400);
    done(&r);

    /* the device kind for a host output */
    a = getrs_args(base, 2, 1);
    begin();
    put_call(GENIE_API_cublasSgetrsBatched, &a);
    run(s, &r);
    e = error_at(&r, 0);
    cr_assert_eq(e.cuda_err, 1);
    cr_assert(msg_has(&e, "host output"));
    done(&r);
    exec_session_close(s);
}

/* A stream destroyed while a cuBLAS handle uses it: the executor puts every handle of the
 * session on that stream back on the NULL stream before the stream goes, and leaves the
 * others alone; the handle keeps working. */
static void set_stream(exec_session *s, uint32_t h, uint32_t stream)
{
    args a = {.n = 0};
    a_u32(&a, h);
    a_u32(&a, stream);
    reply r;
    begin();
    put_call(GENIE_API_cublasSetStream_v2, &a);
    run(s, &r);
    cr_assert_eq(r.n, 0, "cublasSetStream failed");
    done(&r);
}

static cudaStream_t stream_of(exec_session *s, uint32_t h)
{
    cudaStream_t st = (cudaStream_t)1;
    cr_assert_not_null(s->ctx->lib->cublasGetStream_v2, "cublasGetStream_v2 not resolved");
    cr_assert_eq(s->ctx->lib->cublasGetStream_v2((cublasHandle_t)exec_idmap_get(&s->blas, h), &st),
                 CUBLAS_STATUS_SUCCESS);
    return st;
}

Test(lib, stream_destroy_puts_its_handles_on_the_null_stream)
{
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base;
    map(s, base, 2 * MiB);
    create(s, 5);
    create(s, 6);
    create(s, 7);
    uint32_t s1 = PROTO_STREAM_FIRST, s2 = PROTO_STREAM_FIRST + 1;
    reply r;
    begin();
    proto_put_STREAM_CREATE(&req, s1, 0, 0);
    proto_put_STREAM_CREATE(&req, s2, 0, 0);
    run(s, &r);
    cr_assert_eq(r.n, 0);
    done(&r);
    set_stream(s, 5, s1);
    set_stream(s, 6, s1);
    set_stream(s, 7, s2);
    void *real1 = exec_idmap_get(&s->streams, s1), *real2 = exec_idmap_get(&s->streams, s2);
    cr_assert(real1 && real2);
    cr_assert_eq(stream_of(s, 5), real1);
    cr_assert_eq(stream_of(s, 7), real2);

    begin();
    proto_put_STREAM_DESTROY(&req, s1);
    run(s, &r);
    cr_assert_eq(r.n, 0);
    done(&r);
    cr_assert_null(stream_of(s, 5), "a handle still holds the destroyed stream");
    cr_assert_null(stream_of(s, 6), "a handle still holds the destroyed stream");
    cr_assert_eq(stream_of(s, 7), real2, "a handle on another stream was touched");

    /* the handle works on the NULL stream */
    float A[2] = {2, 3}, B[1] = {4};
    begin();
    memcpy(proto_put_MEMCPY_H2D(&req, base, 0, sizeof A), A, sizeof A);
    memcpy(proto_put_MEMCPY_H2D(&req, base + 64, 0, sizeof B), B, sizeof B);
    args a = sgemm_args(5, 2, 1, 1, base, base + 64, base + 128);
    put_call(GENIE_API_cublasSgemm_v2, &a);
    proto_put_MEMCPY_D2H(&req, base + 128, 8, 0);
    run(s, &r);
    cr_assert_eq(r.n, 1, "expected one R_DATA, got %d records", r.n);
    proto_R_DATA d;
    cr_assert_eq(proto_get_R_DATA(&r.recs[0], &d), 0);
    float C[2];
    memcpy(C, d.data, 8);
    cr_assert_float_eq(C[0], 8, 1e-6);
    cr_assert_float_eq(C[1], 12, 1e-6);
    done(&r);
    exec_session_close(s);
}

/* cublas?scal/copy arguments: (handle, n, [alpha,] x, incx[, y, incy]). */
static args sscal_args(uint32_t h, int n, uint64_t x, int incx)
{
    args a = {.n = 0};
    a_u32(&a, h);
    a_u32(&a, (uint32_t)n);
    a_scalar_host(&a, 2.0f);
    a_u64(&a, x);
    a_u32(&a, (uint32_t)incx);
    return a;
}

static args scopy_args(uint32_t h, int n, uint64_t x, int incx, uint64_t y, int incy)
{
    args a = {.n = 0};
    a_u32(&a, h);
    a_u32(&a, (uint32_t)n);
    a_u64(&a, x);
    a_u32(&a, (uint32_t)incx);
    a_u64(&a, y);
    a_u32(&a, (uint32_t)incy);
    return a;
}

/* One call, then a PING: the call's R_ERROR (if any) and the PONG that shows the session lives.
 * err->msg is copied out of the reply (freed here) into a buffer of this function. */
static int call_then_ping(exec_session *s, uint32_t api, const args *a, proto_R_ERROR *err)
{
    begin();
    put_call(api, a);
    return run_then_ping(s, err);
}

/* Issue 12: every device buffer of a forwarded call is checked over its whole extent, computed
 * from the call's arguments by the table's size expressions, before cuBLAS runs. Before, only
 * the first byte was checked: a cublasSscal of 2^30 floats on a 2 MiB mapping wrote 4 GiB
 * through the fake GPU's memory and killed the executor. */
Test(lib, whole_extents_are_checked_before_the_call)
{
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base, end = base + 2 * MiB;
    map(s, base, 2 * MiB);
    create(s, 5);
    proto_R_ERROR e;

    args a = sscal_args(5, 1 << 30, base, 1);
    cr_assert(call_then_ping(s, GENIE_API_cublasSscal_v2, &a, &e), "sscal of 4 GiB on 2 MiB ran");
    cr_assert_eq(e.cuda_err, 1);
    cr_assert(msg_has(&e, "cublasSscal_v2: x (0x"), "message: %.*s", (int)e.msg_len, e.msg);
    cr_assert(msg_has(&e, ", 4294967296 bytes) is not in this session's memory"));

    /* a strided copy whose last element lies past the mapping: y spans (1 + 1023 * 1024) * 4 */
    a = scopy_args(5, 1024, base, 1, base + MiB, 1024);
    cr_assert(call_then_ping(s, GENIE_API_cublasScopy_v2, &a, &e), "strided scopy past the end ran");
    cr_assert(msg_has(&e, ": y (0x"), "message: %.*s", (int)e.msg_len, e.msg);
    /* the same with the increment negative: BLAS walks the same span from the far end */
    a = scopy_args(5, 1024, base, 1, base + MiB, -1024);
    cr_assert(call_then_ping(s, GENIE_API_cublasScopy_v2, &a, &e));

    /* exactly up to the end is fine, one element further is not */
    a = scopy_args(5, 4, base, 1, end - 4 * 4 * 3 - 4, 4); /* y: (1 + 3 * 4) floats */
    cr_assert_not(call_then_ping(s, GENIE_API_cublasScopy_v2, &a, &e), "an in-range scopy failed");
    a = scopy_args(5, 4, base, 1, end - 4 * 4 * 3, 4);
    cr_assert(call_then_ping(s, GENIE_API_cublasScopy_v2, &a, &e));

    /* the extent of A follows its transpose: op(A) = A^T is 2 x 3 (m x k), stored 3 x 2 with
     * lda 4: 4 + 3 = 7 floats; untransposed, 2 x 3 with lda 4 would be 2 * 4 + 2 = 10 */
    a = sgemm_args(5, 2, 1, 3, end - 7 * 4, base, base + 64);
    memcpy(a.b + 4, &(uint32_t){CUBLAS_OP_T}, 4); /* transa */
    memcpy(a.b + 4 + 4 + 4 + 4 + 4 + 4 + 24 + 8, &(int){4}, 4); /* lda */
    cr_assert_not(call_then_ping(s, GENIE_API_cublasSgemm_v2, &a, &e), "A^T at the end failed");
    memcpy(a.b + 4, &(uint32_t){CUBLAS_OP_N}, 4);
    cr_assert(call_then_ping(s, GENIE_API_cublasSgemm_v2, &a, &e), "A at the end ran");
    cr_assert(msg_has(&e, ": A (0x"), "message: %.*s", (int)e.msg_len, e.msg);

    /* n = 0 touches nothing, but the pointer must still be this session's; NULL passes */
    a = sscal_args(5, 0, base, 1);
    cr_assert_not(call_then_ping(s, GENIE_API_cublasSscal_v2, &a, &e));
    a = sscal_args(5, 0, base + 64 * MiB, 1);
    cr_assert(call_then_ping(s, GENIE_API_cublasSscal_v2, &a, &e));
    exec_session_close(s);
}

/* Issue 12: batched calls whose matrices are named by arrays of device pointers (PTRS). The
 * executor reads each array (after the handle's stream has drained, so a copy earlier in the
 * batch is seen) and checks every matrix it names over its whole extent before cuBLAS runs;
 * before, only the array was checked, and the fake cuBLAS dereferenced a wild matrix pointer
 * on the host (tests/fuzz/regress/getrf-batched-wild-matrix-pointer). */
static args sgemm_batched_args(int m, int n, int k, uint64_t pa, uint64_t pb, uint64_t pc,
                               int batch)
{
    args a = {.n = 0};
    a_u32(&a, 5);
    a_u32(&a, CUBLAS_OP_N);
    a_u32(&a, CUBLAS_OP_N);
    a_u32(&a, (uint32_t)m);
    a_u32(&a, (uint32_t)n);
    a_u32(&a, (uint32_t)k);
    a_scalar_host(&a, 1.0f);
    a_u64(&a, pa);
    a_u32(&a, (uint32_t)m);
    a_u64(&a, pb);
    a_u32(&a, (uint32_t)k);
    a_scalar_host(&a, 0.0f);
    a_u64(&a, pc);
    a_u32(&a, (uint32_t)m);
    a_u32(&a, (uint32_t)batch);
    return a;
}

static void put_h2d(uint64_t dst, const void *src, size_t n)
{
    memcpy(proto_put_MEMCPY_H2D(&req, dst, 0, n), src, n);
}

/* Writes the three pointer arrays, then runs the call and a PING in the same batch. */
static int batched_call(exec_session *s, uint64_t arr, const uint64_t ptrs[3][2], uint32_t api,
                        const args *a, proto_R_ERROR *err)
{
    begin();
    for (int j = 0; j < 3; j++)
        put_h2d(arr + 16 * j, ptrs[j], 16);
    put_call(api, a);
    return run_then_ping(s, err);
}

Test(lib, batched_gemm_checks_every_matrix_its_arrays_name)
{
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base, end = base + 2 * MiB;
    map(s, base, 2 * MiB);
    create(s, 5);
    /* two 2x2 products; A_i at base + 64 i, B_i at base + 128 + 64 i, C_i at base + 256 + 16 i
     * (the Cs side by side, read back and reset as one) */
    float A[2][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}}, B[2][4] = {{1, 0, 0, 1}, {2, 1, 1, 2}};
    float sentinel[2][4] = {{-1, -1, -1, -1}, {-1, -1, -1, -1}}, C[2][4];
    uint64_t arr = base + 1024, pa = arr, pb = arr + 16, pc = arr + 32;
    uint64_t good[3][2] = {{base, base + 64}, {base + 128, base + 192}, {base + 256, base + 272}};
    begin();
    put_h2d(base, A, sizeof A[0]);
    put_h2d(base + 64, A[1], sizeof A[1]);
    put_h2d(base + 128, B[0], sizeof B[0]);
    put_h2d(base + 192, B[1], sizeof B[1]);
    put_h2d(base + 256, sentinel, sizeof sentinel);
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 0);
    done(&r);
    proto_R_ERROR e;
    args a = sgemm_batched_args(2, 2, 2, pa, pb, pc, 2);

    /* a correct batched GEMM computes both products (column-major) */
    cr_assert_not(batched_call(s, arr, good, GENIE_API_cublasSgemmBatched, &a, &e),
                  "a correct SgemmBatched failed: %.*s", (int)e.msg_len, e.msg);
    copy_back(s, base + 256, C, sizeof C);
    float want[2][4] = {{1, 2, 3, 4}, {5 * 2 + 7, 6 * 2 + 8, 5 + 7 * 2, 6 + 8 * 2}};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            cr_assert_float_eq(C[i][j], want[i][j], 1e-6, "C[%d][%d] = %g", i, j, C[i][j]);
    begin();
    put_h2d(base + 256, sentinel, sizeof sentinel);
    run(s, &r);
    done(&r);

    /* A_1 reaching 4 bytes past the mapping (a 2x2 float matrix is 16 bytes): refused, and
     * nothing written, C_0 included (the whole call is refused) */
    uint64_t bad[3][2];
    memcpy(bad, good, sizeof bad);
    bad[0][1] = end - 12;
    cr_assert(batched_call(s, arr, bad, GENIE_API_cublasSgemmBatched, &a, &e),
              "A_1 past the mapping ran");
    cr_assert_eq(e.cuda_err, 1);
    cr_assert(msg_has(&e, "cublasSgemmBatched: Aarray[1] (0x"), "message: %.*s", (int)e.msg_len,
              e.msg);
    cr_assert(msg_has(&e, ", 16 bytes) is not in this session's memory"), "message: %.*s",
              (int)e.msg_len, e.msg);
    copy_back(s, base + 256, C, sizeof C);
    cr_assert_arr_eq(C, sentinel, sizeof C, "a refused call wrote C");
    /* exactly up to the end is fine */
    bad[0][1] = end - 16;
    cr_assert_not(batched_call(s, arr, bad, GENIE_API_cublasSgemmBatched, &a, &e),
                  "A_1 ending at the mapping's end failed: %.*s", (int)e.msg_len, e.msg);
    begin();
    put_h2d(base + 256, sentinel, sizeof sentinel);
    run(s, &r);
    done(&r);

    /* C_0 in unmapped space of the session's range, and far outside it */
    memcpy(bad, good, sizeof bad);
    bad[2][0] = base + 64 * MiB;
    cr_assert(batched_call(s, arr, bad, GENIE_API_cublasSgemmBatched, &a, &e), "wild C_0 ran");
    cr_assert(msg_has(&e, ": Carray[0] (0x"), "message: %.*s", (int)e.msg_len, e.msg);
    bad[2][0] = 0x1000;
    cr_assert(batched_call(s, arr, bad, GENIE_API_cublasSgemmBatched, &a, &e), "wild C_0 ran");
    /* a NULL entry */
    memcpy(bad, good, sizeof bad);
    bad[1][1] = 0;
    cr_assert(batched_call(s, arr, bad, GENIE_API_cublasSgemmBatched, &a, &e), "NULL B_1 ran");
    cr_assert(msg_has(&e, ": Barray[1] is NULL"), "message: %.*s", (int)e.msg_len, e.msg);
    copy_back(s, base + 256, C, sizeof C);
    cr_assert_arr_eq(C, sentinel, sizeof C, "a refused call wrote C");

    /* the matrices' extent follows the transpose: op(A) = A^T of 2 x 3 (m x k) is stored 3 x 2
     * with lda 3: 6 floats; m = 2, n = 1, k = 3 */
    a = sgemm_batched_args(2, 1, 3, pa, pb, pc, 2);
    memcpy(a.b + 4, &(uint32_t){CUBLAS_OP_T}, 4);
    memcpy(a.b + 24 + 24 + 8, &(int){3}, 4); /* lda */
    memcpy(bad, good, sizeof bad);
    bad[0][1] = end - 6 * 4;
    cr_assert_not(batched_call(s, arr, bad, GENIE_API_cublasSgemmBatched, &a, &e),
                  "A^T at the end failed: %.*s", (int)e.msg_len, e.msg);
    bad[0][1] = end - 5 * 4;
    cr_assert(batched_call(s, arr, bad, GENIE_API_cublasSgemmBatched, &a, &e), "A^T past ran");
    cr_assert(msg_has(&e, ", 24 bytes) is not"), "message: %.*s", (int)e.msg_len, e.msg);

    /* the array itself past the mapping: refused before it is read */
    a = sgemm_batched_args(2, 2, 2, end - 8, pb, pc, 2);
    cr_assert(batched_call(s, arr, good, GENIE_API_cublasSgemmBatched, &a, &e), "array past ran");
    cr_assert(msg_has(&e, ": Aarray (0x"), "message: %.*s", (int)e.msg_len, e.msg);
    exec_session_close(s);
}

/* GemmBatchedEx: the extent of each matrix is in bytes of its run-time data type. */
Test(lib, batched_gemm_ex_extent_follows_the_data_type)
{
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base, end = base + 2 * MiB;
    map(s, base, 2 * MiB);
    create(s, 5);
    uint64_t arr = base + 1024;
    uint64_t ptrs[3][2] = {{base, base + 64}, {base + 128, base + 192}, {base + 256, base + 320}};
    args a = {.n = 0};
    a_u32(&a, 5);
    a_u32(&a, CUBLAS_OP_N);
    a_u32(&a, CUBLAS_OP_N);
    a_u32(&a, 2); /* m, n, k */
    a_u32(&a, 2);
    a_u32(&a, 2);
    a_scalar_host(&a, 1.0f);
    a_u64(&a, arr);
    a_u32(&a, CUDA_R_32F);
    a_u32(&a, 2);
    a_u64(&a, arr + 16);
    a_u32(&a, CUDA_R_32F);
    a_u32(&a, 2);
    a_scalar_host(&a, 0.0f);
    a_u64(&a, arr + 32);
    a_u32(&a, CUDA_R_32F);
    a_u32(&a, 2);
    a_u32(&a, 2); /* batchCount */
    a_u32(&a, CUBLAS_COMPUTE_32F);
    a_u32(&a, CUBLAS_GEMM_DEFAULT);
    proto_R_ERROR e;
    cr_assert_not(batched_call(s, arr, ptrs, GENIE_API_cublasGemmBatchedEx, &a, &e),
                  "a correct GemmBatchedEx failed: %.*s", (int)e.msg_len, e.msg);
    ptrs[1][0] = end - 12; /* 2x2 R_32F is 16 bytes */
    cr_assert(batched_call(s, arr, ptrs, GENIE_API_cublasGemmBatchedEx, &a, &e), "B_0 past ran");
    cr_assert(msg_has(&e, "cublasGemmBatchedEx: Barray[0] (0x"), "message: %.*s", (int)e.msg_len,
              e.msg);
    cr_assert(msg_has(&e, ", 16 bytes) is not"), "message: %.*s", (int)e.msg_len, e.msg);
    exec_session_close(s);
}

/* The case fuzz_batch found: cublasSgetrfBatched with a wild matrix pointer in its array. And
 * trsmBatched, whose triangular A is m x m or n x n by its side. */
Test(lib, getrf_and_trsm_batched_check_their_matrices)
{
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base, end = base + 2 * MiB;
    map(s, base, 2 * MiB);
    create(s, 5);
    uint64_t arr = base + 1024;
    uint64_t ptrs[3][2] = {{0x7f0000001000ull, 0}, {0, 0}, {0, 0}};
    args a = {.n = 0}; /* getrf: handle, n, A[], lda, P, info (device), batch */
    a_u32(&a, 5);
    a_u32(&a, 2);
    a_u64(&a, arr);
    a_u32(&a, 2);
    a_u64(&a, base + 256);
    a_u64(&a, base + 320);
    a_u32(&a, 1);
    proto_R_ERROR e;
    cr_assert(batched_call(s, arr, ptrs, GENIE_API_cublasSgetrfBatched, &a, &e), "wild A_0 ran");
    cr_assert(msg_has(&e, "cublasSgetrfBatched: A[0] (0x7f0000001000, 16 bytes) is not"),
              "message: %.*s", (int)e.msg_len, e.msg);
    float I[4] = {1, 0, 0, 1};
    ptrs[0][0] = end - 16;
    begin();
    put_h2d(end - 16, I, sizeof I);
    reply r;
    run(s, &r);
    done(&r);
    cr_assert_not(batched_call(s, arr, ptrs, GENIE_API_cublasSgetrfBatched, &a, &e),
                  "getrf of I at the end failed: %.*s", (int)e.msg_len, e.msg);

    /* trsm: side, uplo, trans, diag, m = 2, n = 3, alpha, A[], lda = 3, B[], ldb = 2, batch 1 */
    a.n = 0;
    a_u32(&a, 5);
    a_u32(&a, CUBLAS_SIDE_LEFT);
    a_u32(&a, CUBLAS_FILL_MODE_LOWER);
    a_u32(&a, CUBLAS_OP_N);
    a_u32(&a, CUBLAS_DIAG_UNIT);
    a_u32(&a, 2);
    a_u32(&a, 3);
    a_scalar_host(&a, 1.0f);
    a_u64(&a, arr);
    a_u32(&a, 3);
    a_u64(&a, arr + 16);
    a_u32(&a, 2);
    a_u32(&a, 1);
    /* left: A is m x m with lda 3: 3 + 2 = 5 floats */
    ptrs[0][0] = end - 5 * 4;
    ptrs[1][0] = base;
    cr_assert_not(batched_call(s, arr, ptrs, GENIE_API_cublasStrsmBatched, &a, &e),
                  "trsm (left) failed: %.*s", (int)e.msg_len, e.msg);
    /* right: A is n x n with lda 3: 9 floats, past the end */
    memcpy(a.b + 4, &(uint32_t){CUBLAS_SIDE_RIGHT}, 4);
    cr_assert(batched_call(s, arr, ptrs, GENIE_API_cublasStrsmBatched, &a, &e), "trsm right ran");
    cr_assert(msg_has(&e, "cublasStrsmBatched: A[0] (0x"), "message: %.*s", (int)e.msg_len, e.msg);
    cr_assert(msg_has(&e, ", 36 bytes) is not"), "message: %.*s", (int)e.msg_len, e.msg);
    exec_session_close(s);
}
