/* test_lt.c — the executor's cuBLASLt ops (remote/ops_lt.c) driven frame by frame on the fakes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/gen/ops.h"
#include "protocol/lt.h"
#include "protocol/session.h"
#include "remote/exec.h"

#include "tests/remote/harness.h"

static uint64_t va; /* the session's range; the first 64 MiB are mapped */

static void setup_lt(void)
{
    setenv("GENIE_CUBLAS_LIB", FAKEBLAS_LIB, 1);
    setenv("GENIE_CUBLASLT_LIB", FAKEBLAS_LIB, 1);
    setup();
}

TestSuite(lt, .init = setup_lt, .fini = teardown);

static void no_error(const reply *r, const char *what)
{
    for (int i = 0; i < r->n; i++)
        if (r->recs[i].op == PROTO_OP_R_ERROR) {
            proto_R_ERROR e;
            proto_get_R_ERROR(&r->recs[i], &e);
            cr_assert_fail("%s: op %u failed: %.*s", what, e.index, (int)e.msg_len,
                           (const char *)e.msg);
        }
}

/* The single R_ERROR of a reply (checked to be there). */
static proto_R_ERROR the_error(const reply *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->recs[i].op == PROTO_OP_R_ERROR) {
            proto_R_ERROR e;
            cr_assert_eq(proto_get_R_ERROR(&r->recs[i], &e), 0);
            return e;
        }
    cr_assert_fail("no R_ERROR in the reply");
    proto_R_ERROR none = {0};
    return none;
}

static exec_session *open_session(void)
{
    exec_session *s = open_hello();
    va = hello_rep.va_base;
    map(s, va, 64 * MiB);
    return s;
}

static void h2d(exec_session *s, uint64_t dst, const void *src, size_t n)
{
    begin();
    uint8_t *p = proto_put_MEMCPY_H2D(&req, dst, 0, n);
    memcpy(p, src, n);
    reply r;
    run(s, &r);
    no_error(&r, "H2D");
    done(&r);
}

static void d2h(exec_session *s, void *dst, uint64_t src, size_t n)
{
    begin();
    proto_put_MEMCPY_D2H(&req, src, n, 0);
    reply r;
    run(s, &r);
    no_error(&r, "D2H");
    cr_assert_eq(r.recs[0].op, PROTO_OP_R_DATA);
    proto_R_DATA d;
    cr_assert_eq(proto_get_R_DATA(&r.recs[0], &d), 0);
    cr_assert_eq(d.data_len, n);
    memcpy(dst, d.data, n);
    done(&r);
}

static void lt_create(exec_session *s, uint32_t id)
{
    begin();
    proto_put_LT_CREATE(&req, id);
    reply r;
    run(s, &r);
    no_error(&r, "LT_CREATE");
    done(&r);
}

/* ---- problems, built with protocol/lt.h as the client builds them ---- */

typedef struct problem {
    _Alignas(16) uint8_t desc[PROTO_LT_DESC_BYTES];
    _Alignas(16) uint8_t lay[4][PROTO_LT_LAYOUT_BYTES];
    _Alignas(16) uint8_t pref[PROTO_LT_PREF_BYTES];
    proto_lt_scalars sc;
} problem;

static void set32(void *o, uint32_t a, int32_t v)
{
    cr_assert_eq(proto_lt_obj_set(o, a, &v, 4), 0);
}
static void set64(void *o, uint32_t a, int64_t v)
{
    cr_assert_eq(proto_lt_obj_set(o, a, &v, 8), 0);
}

static void layout(void *l, uint64_t rows, uint64_t cols, int64_t ld)
{
    proto_lt_obj_init(l, PROTO_LT_LAYOUT, 0);
    set32(l, CUBLASLT_MATRIX_LAYOUT_TYPE, CUDA_R_32F);
    set64(l, CUBLASLT_MATRIX_LAYOUT_ROWS, (int64_t)rows);
    set64(l, CUBLASLT_MATRIX_LAYOUT_COLS, (int64_t)cols);
    set64(l, CUBLASLT_MATRIX_LAYOUT_LD, ld);
}

/* PyTorch's addmm for y = x W^T + b with x [n, k] and W [m, k] row-major, seen column-major:
 * D (m x n) = op(A) B with A = W stored k x m (transposed), B = x stored k x n. */
static void addmm(problem *p, int m, int n, int k, uint32_t epilogue, uint64_t bias, float alpha,
                  float beta)
{
    proto_lt_obj_init(p->desc, PROTO_LT_DESC, 0);
    set32(p->desc, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, CUBLAS_COMPUTE_32F);
    set32(p->desc, CUBLASLT_MATMUL_DESC_SCALE_TYPE, CUDA_R_32F);
    set32(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
    set32(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
    if (epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
        cr_assert_eq(proto_lt_obj_set(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, 4), 0);
        set64(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, (int64_t)bias);
    }
    layout(p->lay[0], (uint64_t)k, (uint64_t)m, k);
    layout(p->lay[1], (uint64_t)k, (uint64_t)n, k);
    layout(p->lay[2], (uint64_t)m, (uint64_t)n, m);
    layout(p->lay[3], (uint64_t)m, (uint64_t)n, m);
    proto_lt_obj_init(p->pref, PROTO_LT_PREF, 0);
    uint64_t ws = 4 * MiB;
    cr_assert_eq(proto_lt_obj_set(p->pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, 8), 0);
    memset(&p->sc, 0, sizeof p->sc);
    p->sc.alpha_kind = p->sc.beta_kind = PROTO_LT_SC_HOST;
    p->sc.size = 4;
    memcpy(p->sc.alpha, &alpha, 4);
    memcpy(p->sc.beta, &beta, 4);
}

static const void *const *lays(problem *p)
{
    static const void *l[4];
    for (int i = 0; i < 4; i++)
        l[i] = p->lay[i];
    return l;
}

static void put_heuristic(problem *p, uint32_t handle, uint32_t requested)
{
    size_t n = proto_lt_problem_encode(NULL, 0, PROTO_LT_FORM_HEURISTIC, p->desc, lays(p), p->pref,
                                       NULL, NULL);
    uint8_t *b = proto_put_LT_HEURISTIC(&req, handle, requested, n);
    cr_assert_not_null(b);
    proto_lt_problem_encode(b, n, PROTO_LT_FORM_HEURISTIC, p->desc, lays(p), p->pref, NULL, NULL);
}

static void put_matmul(problem *p, uint32_t handle, uint64_t a, uint64_t b, uint64_t c, uint64_t d,
                       const void *algo, uint64_t ws, uint64_t ws_size)
{
    size_t n = proto_lt_problem_encode(NULL, 0, PROTO_LT_FORM_MATMUL, p->desc, lays(p), NULL,
                                       &p->sc, algo);
    uint8_t *q = proto_put_LT_MATMUL(&req, a, b, c, d, ws, ws_size, handle, 0, n);
    cr_assert_not_null(q);
    proto_lt_problem_encode(q, n, PROTO_LT_FORM_MATMUL, p->desc, lays(p), NULL, &p->sc, algo);
}

/* ---- data and the reference ---- */

static void fillf(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) * (1.0f / 8388608.0f) - 1.0f;
    }
}

static double gelu(double x)
{
    const double k = 0.7978845608028654; /* sqrt(2/pi): the tanh form cuBLASLt documents */
    return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
}

/* y[j][i] (D column-major m x n) = alpha * sum_l W[i][l] x[j][l] + beta * C + bias[i], act. */
static void reference(float *out, const float *w, const float *x, const float *c, const float *bias,
                      int m, int n, int k, float alpha, float beta, int act)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double acc = 0;
            for (int l = 0; l < k; l++)
                acc += (double)w[(size_t)i * k + l] * x[(size_t)j * k + l];
            double v = alpha * acc + beta * c[(size_t)j * m + i] + (bias ? bias[i] : 0.0);
            out[(size_t)j * m + i] = (float)(act ? gelu(v) : v);
        }
}

/* Runs one addmm with the epilogue through the executor and checks it against the loop. */
static void check_addmm(uint32_t epilogue, int act)
{
    const int m = 24, n = 10, k = 36;
    const float alpha = 0.75f, beta = 0.5f;
    exec_session *s = open_session();
    lt_create(s, 1);
    float *w = malloc(sizeof(float) * m * k), *x = malloc(sizeof(float) * n * k);
    float *c = malloc(sizeof(float) * m * n), *bias = malloc(sizeof(float) * m);
    float *got = malloc(sizeof(float) * m * n), *want = malloc(sizeof(float) * m * n);
    fillf(w, (size_t)m * k, 1);
    fillf(x, (size_t)n * k, 2);
    fillf(c, (size_t)m * n, 3);
    fillf(bias, (size_t)m, 4);
    uint64_t dw = va, dx = va + MiB, dc = va + 2 * MiB, dd = va + 3 * MiB, db = va + 4 * MiB;
    uint64_t ws = va + 8 * MiB;
    h2d(s, dw, w, sizeof(float) * m * k);
    h2d(s, dx, x, sizeof(float) * n * k);
    h2d(s, dc, c, sizeof(float) * m * n);
    h2d(s, db, bias, sizeof(float) * m);

    problem p;
    addmm(&p, m, n, k, epilogue, db, alpha, beta);
    /* the heuristic, as PyTorch asks it, and the matmul with its algorithm */
    begin();
    put_heuristic(&p, 1, 1);
    reply r;
    run(s, &r);
    no_error(&r, "LT_HEURISTIC");
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.recs[0].op, PROTO_OP_R_DATA);
    proto_R_DATA d;
    cr_assert_eq(proto_get_R_DATA(&r.recs[0], &d), 0);
    uint32_t count;
    memcpy(&count, d.data, 4);
    cr_assert_eq(count, 1);
    cr_assert_eq(d.data_len, 4 + PROTO_LT_RESULT_BYTES);
    cublasLtMatmulHeuristicResult_t hr;
    memcpy(&hr, d.data + 4, sizeof hr);
    cr_assert_eq(hr.state, CUBLAS_STATUS_SUCCESS);
    done(&r);

    begin();
    put_matmul(&p, 1, dw, dx, dc, dd, &hr.algo, ws, 4 * MiB);
    run(s, &r);
    no_error(&r, "LT_MATMUL");
    cr_assert_eq(r.n, 0, "a matmul is async: no reply record");
    done(&r);
    d2h(s, got, dd, sizeof(float) * m * n);
    reference(want, w, x, c, bias, m, n, k, alpha, beta, act);
    for (int i = 0; i < m * n; i++)
        cr_assert_float_eq(got[i], want[i], 1e-4, "D[%d] = %g, want %g", i, got[i], want[i]);
    exec_session_close(s);
    free(w);
    free(x);
    free(c);
    free(bias);
    free(got);
    free(want);
}

/* ---- tests ---- */

Test(lt, matmul_with_bias_matches_a_loop)
{
    check_addmm(CUBLASLT_EPILOGUE_BIAS, 0);
}

Test(lt, matmul_with_gelu_bias_matches_a_loop)
{
    check_addmm(CUBLASLT_EPILOGUE_GELU_BIAS, 1);
}

Test(lt, device_pointer_mode_reads_alpha_and_beta_from_memory)
{
    const int m = 8, n = 4, k = 8;
    exec_session *s = open_session();
    lt_create(s, 7);
    float w[64], x[32], c[32], got[32], want[32], ab[2] = {2.0f, 0.0f};
    fillf(w, 64, 5);
    fillf(x, 32, 6);
    fillf(c, 32, 7);
    h2d(s, va, w, sizeof w);
    h2d(s, va + 4096, x, sizeof x);
    h2d(s, va + 8192, c, sizeof c);
    h2d(s, va + 12288, ab, sizeof ab);
    problem p;
    addmm(&p, m, n, k, CUBLASLT_EPILOGUE_DEFAULT, 0, 0, 0);
    set32(p.desc, CUBLASLT_MATMUL_DESC_POINTER_MODE, CUBLASLT_POINTER_MODE_DEVICE);
    p.sc.alpha_kind = p.sc.beta_kind = PROTO_LT_SC_DEVICE;
    uint64_t pa = va + 12288, pb = va + 12292;
    memcpy(p.sc.alpha, &pa, 8);
    memcpy(p.sc.beta, &pb, 8);
    begin();
    put_matmul(&p, 7, va, va + 4096, va + 8192, va + 16384, NULL, 0, 0);
    reply r;
    run(s, &r);
    no_error(&r, "LT_MATMUL");
    done(&r);
    d2h(s, got, va + 16384, sizeof got);
    reference(want, w, x, c, NULL, m, n, k, 2.0f, 0.0f, 0);
    for (int i = 0; i < 32; i++)
        cr_assert_float_eq(got[i], want[i], 1e-4);
    exec_session_close(s);
}

Test(lt, heuristic_before_the_handle_arrives_uses_the_session_handle)
{
    exec_session *s = open_session();
    problem p;
    addmm(&p, 16, 16, 16, CUBLASLT_EPILOGUE_BIAS, 0x100, 1, 0);
    begin();
    put_heuristic(&p, 42, 4); /* handle 42 was never created: its LT_CREATE may be in flight */
    reply r;
    run(s, &r);
    no_error(&r, "LT_HEURISTIC");
    cr_assert_eq(r.recs[0].op, PROTO_OP_R_DATA);
    proto_R_DATA d;
    cr_assert_eq(proto_get_R_DATA(&r.recs[0], &d), 0);
    uint32_t count;
    memcpy(&count, d.data, 4);
    cr_assert_geq(count, 1);
    cr_assert_leq(count, 4);
    cr_assert_eq(d.data_len, 4 + count * PROTO_LT_RESULT_BYTES);
    done(&r);
    /* asking for none, or for more than the wire carries, is refused */
    uint32_t bad[2] = {0, PROTO_LT_MAX_ALGOS + 1};
    for (int i = 0; i < 2; i++) {
        begin();
        put_heuristic(&p, 42, bad[i]);
        run(s, &r);
        proto_R_ERROR e = the_error(&r);
        cr_assert_eq(e.cu_result, CUBLAS_STATUS_INVALID_VALUE);
        done(&r);
    }
    exec_session_close(s);
}

Test(lt, bad_handles_are_rejected)
{
    exec_session *s = open_session();
    problem p;
    addmm(&p, 8, 8, 8, CUBLASLT_EPILOGUE_DEFAULT, 0, 1, 0);
    reply r;
    /* a matmul on a handle never created */
    begin();
    put_matmul(&p, 9, va, va + MiB, 0, va + 2 * MiB, NULL, 0, 0);
    run(s, &r);
    proto_R_ERROR e = the_error(&r);
    cr_assert_eq(e.index, 0);
    cr_assert_eq(e.cu_result, CUBLAS_STATUS_NOT_INITIALIZED);
    cr_assert(msg_has(&e, "unknown cuBLASLt handle 9"));
    done(&r);
    /* ID 0, a reused ID, destroying an unknown or already destroyed handle */
    lt_create(s, 3);
    begin();
    proto_put_LT_CREATE(&req, 3);
    run(s, &r);
    cr_assert(msg_has((proto_R_ERROR[]){the_error(&r)}, "in use"));
    done(&r);
    begin();
    proto_put_LT_CREATE(&req, 0);
    run(s, &r);
    cr_assert(msg_has((proto_R_ERROR[]){the_error(&r)}, "in use"));
    done(&r);
    begin();
    proto_put_LT_DESTROY(&req, 3);
    proto_put_LT_DESTROY(&req, 3);
    run(s, &r);
    e = the_error(&r);
    cr_assert_eq(e.index, 1, "the first destroy succeeds, the second fails");
    cr_assert_eq(e.cu_result, CUBLAS_STATUS_NOT_INITIALIZED);
    done(&r);
    /* the matmul on the destroyed handle */
    begin();
    put_matmul(&p, 3, va, va + MiB, 0, va + 2 * MiB, NULL, 0, 0);
    run(s, &r);
    cr_assert_eq(the_error(&r).cu_result, CUBLAS_STATUS_NOT_INITIALIZED);
    done(&r);
    exec_session_close(s);
}

Test(lt, malformed_problems_are_rejected_and_the_session_goes_on)
{
    exec_session *s = open_session();
    lt_create(s, 1);
    problem p;
    addmm(&p, 8, 8, 8, CUBLASLT_EPILOGUE_DEFAULT, 0, 1, 0);
    size_t n =
        proto_lt_problem_encode(NULL, 0, PROTO_LT_FORM_MATMUL, p.desc, lays(&p), NULL, &p.sc, NULL);
    uint8_t *good = malloc(n);
    proto_lt_problem_encode(good, n, PROTO_LT_FORM_MATMUL, p.desc, lays(&p), NULL, &p.sc, NULL);
    reply r;
    /* every truncation, one in each frame; then a flipped kind */
    for (size_t cut = 0; cut < n; cut += 7) {
        begin();
        uint8_t *q = proto_put_LT_MATMUL(&req, va, va + MiB, 0, va + 2 * MiB, 0, 0, 1, 0, cut);
        memcpy(q, good, cut);
        run(s, &r);
        proto_R_ERROR e = the_error(&r);
        cr_assert_eq(e.cu_result, CUBLAS_STATUS_INVALID_VALUE, "cut %zu", cut);
        cr_assert(msg_has(&e, "malformed problem"), "cut %zu", cut);
        done(&r);
    }
    begin();
    uint8_t *q = proto_put_LT_MATMUL(&req, va, va + MiB, 0, va + 2 * MiB, 0, 0, 1, 0, n);
    memcpy(q, good, n);
    q[8] = PROTO_LT_PREF;
    run(s, &r);
    cr_assert(msg_has((proto_R_ERROR[]){the_error(&r)}, "malformed problem"));
    done(&r);
    /* a heuristic problem where a matmul belongs */
    begin();
    size_t hn = proto_lt_problem_encode(NULL, 0, PROTO_LT_FORM_HEURISTIC, p.desc, lays(&p), p.pref,
                                        NULL, NULL);
    q = proto_put_LT_MATMUL(&req, va, va + MiB, 0, va + 2 * MiB, 0, 0, 1, 0, hn);
    proto_lt_problem_encode(q, hn, PROTO_LT_FORM_HEURISTIC, p.desc, lays(&p), p.pref, NULL, NULL);
    run(s, &r);
    cr_assert(msg_has((proto_R_ERROR[]){the_error(&r)}, "wrong form"));
    done(&r);
    /* and the session still computes */
    begin();
    put_matmul(&p, 1, va, va + MiB, 0, va + 2 * MiB, NULL, 0, 0);
    run(s, &r);
    no_error(&r, "LT_MATMUL after the bad ones");
    done(&r);
    free(good);
    exec_session_close(s);
}

Test(lt, pointers_outside_the_session_are_rejected)
{
    exec_session *s = open_session();
    lt_create(s, 1);
    const int m = 64, n = 64, k = 64;
    problem p;
    addmm(&p, m, n, k, CUBLASLT_EPILOGUE_BIAS, va + 5 * MiB, 1, 0);
    uint64_t end = va + 64 * MiB; /* the end of the mapped range */
    struct {
        uint64_t a, b, d, ws, wsn;
        const char *what;
    } cases[] = {
        {0, va + MiB, va + 2 * MiB, 0, 0, "A is NULL"},
        {va, va + MiB, 0, 0, 0, "D is NULL"},
        {va, va + MiB, end - 100, 0, 0, "D ["},          /* starts inside, runs past the end */
        {va, va + 200 * MiB, va + 2 * MiB, 0, 0, "B ["}, /* not mapped at all */
        {va, va + MiB, va + 2 * MiB, end - 4096, 8192, "workspace"},
        {va, va + MiB, va + 2 * MiB, 0, 4096, "workspace"},
    };
    reply r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        begin();
        put_matmul(&p, 1, cases[i].a, cases[i].b, 0, cases[i].d, NULL, cases[i].ws, cases[i].wsn);
        run(s, &r);
        proto_R_ERROR e = the_error(&r);
        cr_assert_eq(e.cu_result, CUBLAS_STATUS_INVALID_VALUE, "case %zu", i);
        cr_assert(msg_has(&e, cases[i].what), "case %zu: want '%s' in %.*s", i, cases[i].what,
                  (int)e.msg_len, (const char *)e.msg);
        done(&r);
    }
    /* a bias that runs past the end of the range */
    addmm(&p, m, n, k, CUBLASLT_EPILOGUE_BIAS, end - 8, 1, 0);
    begin();
    put_matmul(&p, 1, va, va + MiB, 0, va + 2 * MiB, NULL, 0, 0);
    run(s, &r);
    cr_assert(msg_has((proto_R_ERROR[]){the_error(&r)}, "bias"));
    done(&r);
    exec_session_close(s);
}

/* Every pointer a matmul descriptor carries is checked over its whole extent before the
 * library runs (issue 12): a bias gradient of one element per column of D, the epilogue's
 * auxiliary matrix (a GELU input of EPILOGUE_AUX_LD, a ReLU bit-mask of AUX_LD bits per column)
 * and the scale pointers (one float each). Each case starts inside the session's memory and
 * ends past it; its twin that just fits passes the checks (the fake library may then refuse
 * the epilogue itself, but with no word of the pointer). Block scale modes are refused. */
Test(lt, descriptor_pointers_are_checked_over_their_whole_extent)
{
    exec_session *s = open_session();
    lt_create(s, 1);
    const int m = 16, n = 64, k = 16;
    const uint64_t end = va + 64 * MiB;
    struct {
        uint32_t epi, attr;
        int64_t ld;
        uint64_t bytes; /* the extent the pointer must have */
        const char *what;
    } cases[] = {
        {CUBLASLT_EPILOGUE_BGRADB, CUBLASLT_MATMUL_DESC_BIAS_POINTER, 0, 4 * n, "bias"},
        {CUBLASLT_EPILOGUE_BGRADA, CUBLASLT_MATMUL_DESC_BIAS_POINTER, 0, 4 * m, "bias"},
        {CUBLASLT_EPILOGUE_GELU_AUX_BIAS, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, 24,
         4 * (24 * (n - 1) + m), "epilogue aux"},
        {CUBLASLT_EPILOGUE_RELU_AUX, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, 128,
         (128 * (n - 1) + m + 7) / 8, "epilogue aux"},
        {CUBLASLT_EPILOGUE_DEFAULT, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, 0, 4, "A scale"},
        {CUBLASLT_EPILOGUE_DEFAULT, CUBLASLT_MATMUL_DESC_AMAX_D_POINTER, 0, 4, "amax D"},
    };
    reply r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int fits = 0; fits < 2; fits++) {
            problem p;
            addmm(&p, m, n, k, cases[i].epi, va + 5 * MiB, 1, 0);
            if (cases[i].ld)
                set64(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, cases[i].ld);
            uint64_t at = end - cases[i].bytes + (fits ? 0 : 1);
            set64(p.desc, cases[i].attr, (int64_t)at);
            begin();
            put_matmul(&p, 1, va, va + MiB, 0, va + 2 * MiB, NULL, 0, 0);
            run(s, &r);
            if (fits) {
                for (int j = 0; j < r.n; j++) {
                    proto_R_ERROR e;
                    if (r.recs[j].op != PROTO_OP_R_ERROR || proto_get_R_ERROR(&r.recs[j], &e))
                        continue;
                    cr_assert(!msg_has(&e, cases[i].what), "case %zu: the fitting %s refused: %.*s",
                              i, cases[i].what, (int)e.msg_len, (const char *)e.msg);
                }
            } else {
                proto_R_ERROR e = the_error(&r);
                cr_assert_eq(e.cu_result, CUBLAS_STATUS_INVALID_VALUE, "case %zu", i);
                cr_assert(msg_has(&e, cases[i].what), "case %zu: want '%s' in %.*s", i,
                          cases[i].what, (int)e.msg_len, (const char *)e.msg);
            }
            done(&r);
        }
    }
    /* a block scale mode: Genie cannot size its scale tensor, so it is refused, not run */
    problem p;
    addmm(&p, m, n, k, CUBLASLT_EPILOGUE_DEFAULT, 0, 1, 0);
    set64(p.desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, (int64_t)(va + 3 * MiB));
    set32(p.desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, CUBLASLT_MATMUL_MATRIX_SCALE_VEC32_UE8M0);
    begin();
    put_matmul(&p, 1, va, va + MiB, 0, va + 2 * MiB, NULL, 0, 0);
    run(s, &r);
    proto_R_ERROR e = the_error(&r);
    cr_assert_eq(e.cu_result, CUBLAS_STATUS_NOT_SUPPORTED);
    cr_assert(msg_has(&e, "A scale mode 2"), "%.*s", (int)e.msg_len, (const char *)e.msg);
    done(&r);
    /* the session goes on: a plain matmul still runs */
    addmm(&p, m, n, k, CUBLASLT_EPILOGUE_DEFAULT, 0, 1, 0);
    begin();
    put_matmul(&p, 1, va, va + MiB, 0, va + 2 * MiB, NULL, 0, 0);
    run(s, &r);
    no_error(&r, "LT_MATMUL after the refusals");
    done(&r);
    exec_session_close(s);
}

Test(lt, many_distinct_problems_evict_and_still_compute)
{
    /* 300 shapes: more than the per-session cache holds, so early entries are evicted (and
     * destroyed) while every matmul still gets its own descriptors right; the session close
     * then destroys what is left (ASan builds check nothing leaks). */
    exec_session *s = open_session();
    lt_create(s, 1);
    lt_create(s, 2);
    float w[16 * 16], x[16 * 16], got[16 * 16], want[16 * 16], zero[16 * 16] = {0};
    fillf(w, 256, 8);
    fillf(x, 256, 9);
    h2d(s, va, w, sizeof w);
    h2d(s, va + 4096, x, sizeof x);
    reply r;
    for (int it = 0; it < 300; it++) {
        int m = 1 + it % 16, n = 1 + (it / 16) % 16, k = 16;
        float alpha = 1.0f + (float)(it % 3);
        problem p;
        addmm(&p, m, n, k, CUBLASLT_EPILOGUE_DEFAULT, 0, alpha, 0);
        begin();
        put_heuristic(&p, 2, 1);
        put_matmul(&p, 1, va, va + 4096, 0, va + 8192, NULL, 0, 0);
        run(s, &r);
        no_error(&r, "heuristic + matmul");
        done(&r);
        if (it % 37 == 0) {
            d2h(s, got, va + 8192, sizeof(float) * m * n);
            reference(want, w, x, zero, NULL, m, n, k, alpha, 0, 0);
            for (int i = 0; i < m * n; i++)
                cr_assert_float_eq(got[i], want[i], 1e-4, "it %d D[%d]", it, i);
        }
    }
    exec_session_close(s);
}

Test(lt, a_session_closed_with_live_objects_frees_them)
{
    exec_session *s = open_session();
    for (uint32_t id = 1; id <= 5; id++)
        lt_create(s, id);
    problem p;
    addmm(&p, 8, 8, 8, CUBLASLT_EPILOGUE_DEFAULT, 0, 1, 0);
    begin();
    put_heuristic(&p, 99, 2); /* the session's own query handle too */
    put_matmul(&p, 5, va, va + MiB, 0, va + 2 * MiB, NULL, 0, 0);
    reply r;
    run(s, &r);
    no_error(&r, "heuristic + matmul");
    done(&r);
    exec_session_close(s); /* handles, query handle and cached objects: ASan/LSan check */
    /* a session that never used cuBLASLt closes too */
    exec_session *s2 = open_session();
    exec_session_close(s2);
}
