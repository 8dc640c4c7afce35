/* test_cost.c — tests semantics/cost.c: the GEMM roofline (compute- and memory-bound), copies,
 * a batch's sum, Pearson's r. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "semantics/sem.h"

static const sem_cost_params P = {
    .rtt_ns = 50000, .wire_bps = 1e9, .op_ns = 1000, .flops = 1e12, .mem_bps = 1e12};

static sem_op gemm(int m, int n, int k, int dtype)
{
    sem_op o = {.kind = SEM_OP_GEMM};
    o.gemm = (sem_gemm){.m = m, .n = n, .k = k, .batch = 1, .dtype = (int8_t)dtype};
    return o;
}

Test(sem_cost, gemm_roofline)
{
    sem_ir ir = {0};
    sem_op big = gemm(1024, 1024, 1024, 0); /* 2.147 GFLOP, 12.6 MB: compute-bound */
    cr_assert_float_eq(sem_cost_op(&P, &big, &ir), 1000 + 2.0 * 1024 * 1024 * 1024 / 1e3, 1);
    sem_op gemv = gemm(4096, 1, 4096, 0); /* 33.5 MFLOP, 67 MB: memory-bound */
    double bytes = (4096.0 * 4096 + 4096 + 4096) * 4;
    cr_assert_float_eq(sem_cost_op(&P, &gemv, &ir), 1000 + bytes / 1e3, 1);
    sem_op half = gemm(4096, 1, 4096, 2); /* CUDA_R_16F: half the bytes */
    cr_assert_float_eq(sem_cost_op(&P, &half, &ir), 1000 + bytes / 2 / 1e3, 1);
    sem_op bad = gemm(0, 5, 5, 0); /* no shape: the op's fixed cost only */
    cr_assert_float_eq(sem_cost_op(&P, &bad, &ir), 1000, 1e-9);
}

Test(sem_cost, batch_is_round_trip_wire_and_ops)
{
    sem_ir ir = {0};
    sem_ir_stage(&ir, SEM_OP_LAUNCH, 16);
    sem_ir_commit(&ir, 64);
    sem_op *o = sem_ir_stage(&ir, SEM_OP_D2D, 16);
    sem_ir_range(&ir, o, 0x1000, 1 << 20, SEM_R);
    sem_ir_range(&ir, o, 0x200000, 1 << 20, SEM_W);
    sem_ir_commit(&ir, 48);
    *sem_ir_stage(&ir, SEM_OP_GEMM, 16) = gemm(1024, 1024, 1024, 0);
    sem_ir_commit(&ir, 120);
    double want = 50000 + (1000.0 + 500) / 1e9 * 1e9 + 1000 + (1000 + 1048576 / 1e3) +
                  (1000 + 2.0 * 1024 * 1024 * 1024 / 1e3);
    cr_assert_float_eq(sem_cost_batch(&P, &ir, 1000, 500), want, 1);
    sem_ir_free(&ir);
}

Test(sem_cost, pearson)
{
    double x[] = {1, 2, 3, 4, 5}, y[] = {3, 5, 7, 9, 11}, z[] = {5, 4, 3, 2, 1};
    double w[] = {1, 3, 2, 5, 4};
    cr_assert_float_eq(sem_pearson(x, y, 5), 1.0, 1e-9);
    cr_assert_float_eq(sem_pearson(x, z, 5), -1.0, 1e-9);
    cr_assert_float_eq(sem_pearson(x, w, 5), 0.8, 1e-9);
    cr_assert_float_eq(sem_pearson(x, x, 1), 0.0, 1e-12);
}

Test(sem_cost, device_and_wire_split_the_batch)
{
    sem_ir ir = {0};
    sem_ir_stage(&ir, SEM_OP_LAUNCH, 16);
    sem_ir_commit(&ir, 64);
    *sem_ir_stage(&ir, SEM_OP_GEMM, 16) = gemm(1024, 1024, 1024, 0);
    sem_ir_commit(&ir, 120);
    double dev = 1000 + (1000 + 2.0 * 1024 * 1024 * 1024 / 1e3);
    cr_assert_float_eq(sem_cost_device(&P, &ir), dev, 1);
    cr_assert_float_eq(sem_cost_wire(&P, 1000), 25000 + 1000, 1e-6);
    /* a batch is a round trip: both ways on the wire, and the ops */
    cr_assert_float_eq(sem_cost_batch(&P, &ir, 1000, 0), sem_cost_wire(&P, 1000) +
                       sem_cost_wire(&P, 0) + dev, 1);
    sem_ir_free(&ir);
}

Test(sem_cost, parse_params)
{
    sem_cost_params p = SEM_COST_DEFAULTS;
    cr_assert_eq(sem_cost_parse(&p, "rtt_ns=60000,op_ns=2.5e3,mem_bps=1e10"), 0);
    cr_assert_float_eq(p.rtt_ns, 60000, 1e-9);
    cr_assert_float_eq(p.op_ns, 2500, 1e-9);
    cr_assert_float_eq(p.mem_bps, 1e10, 1);
    cr_assert_float_eq(p.wire_bps, 1.25e9, 1); /* not named: kept */
    cr_assert_float_eq(p.flops, 50e12, 1);
    cr_assert_eq(sem_cost_parse(&p, ""), 0);
    sem_cost_params before = p;
    const char *bad[] = {"rtt_ns", "rtt=5", "op_ns=", "op_ns=-1", "op_ns=5x", "op_ns=5,,",
                         "op_ns=nan", "flops=1e99"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(sem_cost_parse(&p, bad[i]), -1, "%s", bad[i]);
        cr_assert(!memcmp(&p, &before, sizeof p), "%s changed the parameters", bad[i]);
    }
}

/* The client's pass at the flush: pair_ns per pair of ops, for batches the branches pass looks
 * at (2 to SEM_BRANCHES_MAX_OPS ops), nothing beyond; nothing on the device side. */
Test(sem_cost, the_flush_pass_is_quadratic_up_to_its_limit)
{
    cr_assert_float_eq(sem_cost_pairs(0), 0, 1e-12);
    cr_assert_float_eq(sem_cost_pairs(1), 0, 1e-12);
    cr_assert_float_eq(sem_cost_pairs(2), 1, 1e-12);
    cr_assert_float_eq(sem_cost_pairs(1500), 1500.0 * 1499 / 2, 1e-6);
    cr_assert_float_eq(sem_cost_pairs(SEM_BRANCHES_MAX_OPS + 1), 0, 1e-12);
    sem_cost_params p = P;
    p.pair_ns = 10;
    sem_ir ir = {0};
    for (int i = 0; i < 100; i++) {
        sem_ir_stage(&ir, SEM_OP_LAUNCH, 16);
        sem_ir_commit(&ir, 64);
    }
    cr_assert_float_eq(sem_cost_batch(&p, &ir, 0, 0) - sem_cost_batch(&P, &ir, 0, 0),
                       10.0 * 100 * 99 / 2, 1e-6);
    cr_assert_float_eq(sem_cost_device(&p, &ir), sem_cost_device(&P, &ir), 1e-9);
    cr_assert_eq(sem_cost_parse(&p, "pair_ns=2.5"), 0);
    cr_assert_float_eq(p.pair_ns, 2.5, 1e-12);
    sem_ir_free(&ir);
}
