/* test_cost.c — remote/cost.c: the cost model's device-side parameters, measured on the fake GPU
 * at the first HELLO that asks for them (PROTO_HELLO_COST), then kept for the process. */
#pragma GCC diagnostic ignored "-Wunused-function" /* the harness's helpers this file does not use */
#include "tests/remote/harness.h"

#include "remote/exec_int.h"

static void setup_blas(void)
{
    setenv("GENIE_CUBLAS_LIB", FAKEBLAS_LIB, 1);
    setenv("GENIE_CUBLASLT_LIB", FAKEBLAS_LIB, 1);
    setup();
}

/* HELLO with flags on a new session; the R_COST that follows R_HELLO into *k (1), or 0 if none. */
static int hello_cost(exec_session **sp, uint32_t flags, proto_R_COST *k)
{
    exec_session *s = exec_session_open(ctx, "test");
    cr_assert_not_null(s);
    begin();
    cr_assert_not_null(proto_put_HELLO(&req, 1, PROTO_SESSION_VERSION, flags, 0));
    reply r;
    run(s, &r);
    cr_assert_eq(r.rc, 0);
    cr_assert_geq(r.n, 1);
    cr_assert_eq(r.recs[0].op, PROTO_OP_R_HELLO, "%s", proto_op_name(r.recs[0].op));
    int got = 0;
    if (r.n > 1) {
        cr_assert_eq(r.n, 2);
        cr_assert_eq(r.recs[1].op, PROTO_OP_R_COST, "%s", proto_op_name(r.recs[1].op));
        cr_assert_eq(proto_get_R_COST(&r.recs[1], k), 0);
        got = 1;
    }
    done(&r);
    *sp = s;
    return got;
}

/* Sane for a CPU standing in for a GPU on any machine, loaded or not: bounds, not values. */
static void assert_sane(const proto_R_COST *k)
{
    double op_ns = k->op_ps / 1e3;
    cr_assert(op_ns > 10 && op_ns < 5e6, "op %.1f ns", op_ns);
    cr_assert(k->mem_bps > 50e6 && k->mem_bps < 5e12, "device memory %.3g B/s", (double)k->mem_bps);
    cr_assert(k->flops > 50e6 && k->flops < 1e14, "SGEMM %.3g FLOP/s", (double)k->flops);
    cr_assert_gt(k->took_ns, 0);
}

Test(cost, measured_at_the_first_hello_that_asks_then_kept, .init = setup_blas,
     .fini = teardown, .timeout = 120)
{
    exec_session *s0, *s1, *s2;
    proto_R_COST k0, k1, k2;
    /* a HELLO that does not ask gets no R_COST and measures nothing */
    cr_assert_eq(hello_cost(&s0, 0, &k0), 0);
    cr_assert_eq(ctx->cost_known, 0);
    cr_assert_eq(hello_cost(&s1, PROTO_HELLO_COST, &k1), 1);
    cr_assert_eq(k1.fresh, 1, "the first asking HELLO measures");
    assert_sane(&k1);
    cr_log_info("fake GPU: op %.0f ns, device memory %.3g GB/s, SGEMM %.3g GFLOP/s, took %.1f ms",
                k1.op_ps / 1e3, k1.mem_bps / 1e9, k1.flops / 1e9, k1.took_ns / 1e6);
    cr_assert_eq(hello_cost(&s2, PROTO_HELLO_COST, &k2), 1);
    cr_assert_eq(k2.fresh, 0, "the second one gets the kept numbers");
    cr_assert(k2.op_ps == k1.op_ps && k2.flops == k1.flops && k2.mem_bps == k1.mem_bps &&
              k2.took_ns == k1.took_ns);
    exec_session_close(s0);
    exec_session_close(s1);
    exec_session_close(s2);
}

/* What the front hands a worker (--cost): answered as is, nothing measured. */
Test(cost, given_parameters_are_answered_without_measuring, .init = setup_blas,
     .fini = teardown, .timeout = 60)
{
    exec_cost known = {.op_ps = 1234567, .flops = 8e9, .mem_bps = 3e9, .took_ns = 42};
    exec_ctx_cost_known(ctx, &known);
    exec_session *s;
    proto_R_COST k;
    cr_assert_eq(hello_cost(&s, PROTO_HELLO_COST, &k), 1);
    cr_assert_eq(k.fresh, 0);
    cr_assert_eq(k.op_ps, 1234567);
    cr_assert_eq(k.flops, 8000000000ull);
    cr_assert_eq(k.mem_bps, 3000000000ull);
    cr_assert_eq(k.took_ns, 42);
    exec_session_close(s);
}

/* Without cuBLAS the GEMM rate is unknown (0: the client keeps its default), the rest is had. */
Test(cost, no_cublas_no_gemm_rate, .init = setup, .fini = teardown, .timeout = 60)
{
    setenv("GENIE_CUBLAS_LIB", "/nonexistent/libcublas.so", 1);
    setenv("GENIE_CUBLASLT_LIB", "/nonexistent/libcublasLt.so", 1);
    exec_session *s;
    proto_R_COST k;
    cr_assert_eq(hello_cost(&s, PROTO_HELLO_COST, &k), 1);
    cr_assert_eq(k.fresh, 1);
    cr_assert_eq(k.flops, 0);
    cr_assert_gt(k.op_ps, 0);
    cr_assert_gt(k.mem_bps, 0);
    exec_session_close(s);
}
