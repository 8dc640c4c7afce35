/* test_branches.c — tests semantics/branches.c: lanes for independent towers on one stream, joins,
 * barriers, the toggle, batches on several streams. */
#include <criterion/criterion.h>
#include <string.h>

#include "protocol/gen/ops.h"
#include "semantics/sem.h"

#define VA 0x200000000000ull

static sem_ir ir;
static const sem_policy on = {.branches = 1};

static void op(unsigned kind, uint32_t stream, uint16_t wire)
{
    sem_op *o = sem_ir_stage(&ir, kind, stream);
    o->wire_op = wire;
}
static void rg(uint64_t off, uint64_t size, unsigned mode)
{
    sem_ir_range(&ir, &ir.ops[ir.n], VA + off, size, mode);
}
static void commit(void) { sem_ir_commit(&ir, 32); }

/* a launch on stream s reading [r, r+64) and writing [w, w+64) */
static void k(uint32_t s, uint64_t r, uint64_t w)
{
    op(SEM_OP_LAUNCH, s, PROTO_OP_LAUNCH);
    rg(r, 64, SEM_R);
    rg(w, 64, SEM_W);
    commit();
}

static uint32_t run(const sem_policy *p, sem_lane *lanes, uint32_t *origin)
{
    sem_graph g;
    cr_assert_eq(sem_graph_build(&g, &ir, NULL, NULL), 0);
    uint32_t n = sem_pass_branches(p, &ir, &g, lanes, origin);
    sem_graph_free(&g);
    return n;
}

static void setup(void) { memset(&ir, 0, sizeof ir); }
static void teardown(void) { sem_ir_free(&ir); }
TestSuite(sem_branches, .init = setup, .fini = teardown);

Test(sem_branches, wire_op_of_lt_matmul)
{
    cr_assert_eq(SEM_WIRE_LT_MATMUL, PROTO_OP_LT_MATMUL);
}

/* Two towers on stream 16 (a: 0 -> 1000 -> 2000, b: 5000 -> 6000 -> 7000), then a head reading
 * both ends, then a copy back. */
static void towers(uint32_t sb)
{
    k(16, 0, 1000);
    k(16, 1000, 2000);
    k(sb, 5000, 6000);
    op(SEM_OP_GEMM, sb, PROTO_OP_LT_MATMUL); /* an Lt matmul may take a lane */
    rg(6000, 64, SEM_R);
    rg(7000, 64, SEM_W);
    commit();
    op(SEM_OP_LAUNCH, 16, PROTO_OP_LAUNCH); /* the head: reads both towers */
    rg(2000, 64, SEM_R);
    rg(7000, 64, SEM_R);
    rg(9000, 64, SEM_W);
    commit();
    op(SEM_OP_D2H, 16, PROTO_OP_MEMCPY_D2H);
    rg(9000, 64, SEM_R);
    commit();
}

Test(sem_branches, two_towers_on_one_stream)
{
    towers(16);
    sem_lane l[6];
    uint32_t origin = 0;
    cr_assert_eq(run(&on, l, &origin), 2);
    cr_assert_eq(origin, 16);
    uint8_t lane[] = {0, 0, 1, 1, 0, 0};
    uint8_t join[] = {0, 0, 0, 0, 2, SEM_LANE_BARRIER | 2};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(l[i].lane, lane[i], "op %d: lane %u", i, l[i].lane);
        cr_assert_eq(l[i].join, join[i], "op %d: join %#x", i, l[i].join);
    }
}

Test(sem_branches, toggle_off_or_several_streams_run_as_recorded)
{
    towers(16);
    sem_lane l[6];
    uint32_t origin = 0;
    sem_policy off = on;
    off.branches = 0;
    cr_assert_eq(run(&off, l, &origin), 1);
    sem_ir_reset(&ir);
    towers(17); /* tower b on its own stream: the program ordered it already */
    cr_assert_eq(run(&on, l, &origin), 1);
}

Test(sem_branches, a_chain_is_one_lane_and_cublas_gemms_stay_on_lane_0)
{
    k(16, 0, 1000);
    op(SEM_OP_GEMM, 16, PROTO_OP_LIB_CALL); /* independent, but its handle's stream is lane 0 */
    rg(5000, 64, SEM_R);
    rg(6000, 64, SEM_W);
    commit();
    k(16, 1000, 2000);
    sem_lane l[3];
    uint32_t origin = 0;
    cr_assert_eq(run(&on, l, &origin), 1);
}

Test(sem_branches, a_barrier_forks_anew)
{
    k(16, 0, 1000);
    k(16, 5000, 6000); /* lane 1 */
    op(SEM_OP_EVENT_RECORD, 16, PROTO_OP_EVENT_RECORD);
    commit();
    k(16, 6000, 6100); /* after the barrier: lane 0 again, though it reads lane 1's output */
    k(16, 8000, 8100); /* independent: lane 1 of the new fork */
    sem_lane l[5];
    uint32_t origin = 0;
    cr_assert_eq(run(&on, l, &origin), 2);
    cr_assert_eq(l[1].lane, 1);
    cr_assert_eq(l[2].join, SEM_LANE_BARRIER | 2);
    cr_assert_eq(l[3].lane, 0);
    cr_assert_eq(l[3].join, 0);
    cr_assert_eq(l[4].lane, 1);
}

Test(sem_branches, at_most_four_lanes)
{
    for (int i = 0; i < 8; i++)
        k(16, 10000 * (uint64_t)i, 10000 * (uint64_t)i + 1000);
    sem_lane l[8];
    uint32_t origin = 0;
    cr_assert_eq(run(&on, l, &origin), SEM_LANES_MAX);
    for (int i = 0; i < 8; i++)
        cr_assert_lt(l[i].lane, SEM_LANES_MAX);
}
