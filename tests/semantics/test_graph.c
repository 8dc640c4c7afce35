/* test_graph.c — tests semantics/graph.c: stream order, data hazards, events, barriers,
 * unknown extents and branches. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/genie.h"
#include "semantics/sem.h"

#define VA 0x200000000000ull

static sem_ir ir;

static uint32_t op(unsigned kind, uint32_t stream)
{
    sem_ir_stage(&ir, kind, stream);
    return ir.n;
}
/* adds a range to the op being staged */
static void rg(uint64_t off, uint64_t size, unsigned mode)
{
    sem_ir_range(&ir, &ir.ops[ir.n], VA + off, size, mode);
}
static void commit(void) { sem_ir_commit(&ir, 32); }

static void build(sem_graph *g)
{
    cr_assert_eq(sem_graph_build(g, &ir, NULL, NULL), 0);
    cr_assert_eq(g->nops, ir.n);
}

static void setup(void) { memset(&ir, 0, sizeof ir); }
static void teardown(void) { sem_ir_free(&ir); }
TestSuite(sem_graph, .init = setup, .fini = teardown);

Test(sem_graph, stream_order_without_data)
{
    uint32_t a = op(SEM_OP_MEMSET, 5); rg(0, 64, SEM_W); commit();
    uint32_t b = op(SEM_OP_MEMSET, 6); rg(64, 64, SEM_W); commit();
    uint32_t c = op(SEM_OP_MEMSET, 5); rg(128, 64, SEM_W); commit();
    sem_graph g;
    build(&g);
    cr_assert(sem_graph_depends(&g, c, a, SEM_DEP_STREAM));
    cr_assert_not(sem_graph_depends(&g, c, a, SEM_DEP_DATA));
    cr_assert_not(sem_graph_depends(&g, c, b, ~0u), "disjoint ranges on other streams");
    cr_assert_not(sem_graph_depends(&g, b, a, ~0u));
    sem_graph_free(&g);
}

Test(sem_graph, data_hazards_across_streams)
{
    uint32_t w = op(SEM_OP_D2D, 5); rg(0, 64, SEM_W); rg(4096, 64, SEM_R); commit();
    uint32_t r1 = op(SEM_OP_D2D, 6); rg(32, 8, SEM_R); rg(8192, 8, SEM_W); commit();  /* RAW */
    uint32_t r2 = op(SEM_OP_D2D, 7); rg(4096, 8, SEM_R); rg(12288, 8, SEM_W); commit(); /* RAR */
    uint32_t w2 = op(SEM_OP_MEMSET, 8); rg(8192 + 4, 1, SEM_W); commit();              /* WAW */
    uint32_t war = op(SEM_OP_MEMSET, 9); rg(4096 + 4, 1, SEM_W); commit();             /* WAR */
    sem_graph g;
    build(&g);
    cr_assert(sem_graph_depends(&g, r1, w, SEM_DEP_DATA));
    cr_assert_not(sem_graph_depends(&g, r2, w, ~0u), "two reads do not conflict");
    cr_assert(sem_graph_depends(&g, w2, r1, SEM_DEP_DATA));
    cr_assert(sem_graph_depends(&g, war, w, SEM_DEP_DATA));
    cr_assert(sem_graph_depends(&g, war, r2, SEM_DEP_DATA));
    cr_assert_not(sem_graph_depends(&g, war, r1, ~0u));
    sem_graph_free(&g);
}

Test(sem_graph, events_join_streams)
{
    uint32_t k = op(SEM_OP_LAUNCH, 5); rg(0, 64, SEM_W); commit();
    uint32_t rec_old = op(SEM_OP_EVENT_RECORD, 5); ir.ops[ir.n].event = 3; commit();
    uint32_t rec = op(SEM_OP_EVENT_RECORD, 5); ir.ops[ir.n].event = 3; commit();
    uint32_t other = op(SEM_OP_EVENT_RECORD, 5); ir.ops[ir.n].event = 4; commit();
    uint32_t wait = op(SEM_OP_STREAM_WAIT, 6); ir.ops[ir.n].event = 3; commit();
    sem_graph g;
    build(&g);
    cr_assert(sem_graph_depends(&g, wait, rec, SEM_DEP_EVENT));
    cr_assert_not(sem_graph_depends(&g, wait, rec_old, SEM_DEP_EVENT), "the latest record only");
    cr_assert_not(sem_graph_depends(&g, wait, other, ~0u));
    cr_assert_not(sem_graph_depends(&g, wait, k, ~0u));
    sem_graph_free(&g);
}

Test(sem_graph, barriers_order_everything)
{
    uint32_t a = op(SEM_OP_MEMSET, 5); rg(0, 64, SEM_W); commit();
    uint32_t b = op(SEM_OP_MEMSET, 6); rg(64, 64, SEM_W); commit();
    uint32_t s = op(SEM_OP_SYNC, 0); commit();
    uint32_t c = op(SEM_OP_MEMSET, 7); rg(128, 64, SEM_W); commit();
    sem_graph g;
    build(&g);
    cr_assert(sem_graph_depends(&g, s, a, SEM_DEP_BARRIER));
    cr_assert(sem_graph_depends(&g, s, b, SEM_DEP_BARRIER));
    cr_assert(sem_graph_depends(&g, c, s, SEM_DEP_BARRIER));
    cr_assert_not(sem_graph_depends(&g, c, a, ~0u), "ordered through the barrier");
    sem_graph_free(&g);
}

Test(sem_graph, legacy_stream_orders_against_every_stream)
{
    uint32_t a = op(SEM_OP_MEMSET, 5); rg(0, 64, SEM_W); commit();
    uint32_t b = op(SEM_OP_MEMSET, 6); rg(64, 64, SEM_W); commit();
    uint32_t l = op(SEM_OP_MEMSET, 0); rg(128, 64, SEM_W); commit();
    uint32_t c = op(SEM_OP_MEMSET, 7); rg(192, 64, SEM_W); commit();
    sem_graph g;
    build(&g);
    cr_assert(sem_graph_depends(&g, l, a, SEM_DEP_STREAM));
    cr_assert(sem_graph_depends(&g, l, b, SEM_DEP_STREAM));
    cr_assert(sem_graph_depends(&g, c, l, SEM_DEP_STREAM));
    sem_graph_free(&g);
}

static int extent(void *ud, uint64_t ptr, uint64_t *start, uint64_t *size)
{
    (void)ud;
    /* allocations of 1 MiB each from VA */
    if (ptr < VA)
        return 0;
    *start = VA + ((ptr - VA) & ~((1ull << 20) - 1));
    *size = 1ull << 20;
    return 1;
}

Test(sem_graph, unknown_extents)
{
    /* a kernel with a pointer parameter into allocation 0, a memset of allocation 1 */
    uint32_t k = op(SEM_OP_LAUNCH, 5); rg(0x100, SEM_SIZE_UNKNOWN, SEM_RW); commit();
    uint32_t m1 = op(SEM_OP_MEMSET, 6); rg(1 << 20, 64, SEM_W); commit();
    uint32_t m0 = op(SEM_OP_MEMSET, 6); rg(0x10, 8, SEM_W); commit(); /* before the pointer */
    sem_graph g;
    cr_assert_eq(sem_graph_build(&g, &ir, NULL, NULL), 0);
    cr_assert(sem_graph_depends(&g, m1, k, SEM_DEP_DATA), "unbounded: conflicts with all");
    sem_graph_free(&g);
    cr_assert_eq(sem_graph_build(&g, &ir, extent, NULL), 0);
    cr_assert_not(sem_graph_depends(&g, m1, k, ~0u), "another allocation");
    cr_assert(sem_graph_depends(&g, m0, k, SEM_DEP_DATA), "the whole allocation, below ptr too");
    sem_graph_free(&g);
}

Test(sem_graph, two_towers_on_one_stream_are_two_branches)
{
    /* tower A: x -> y; tower B: z -> w, interleaved on stream 5; then a join reads y and w */
    const uint64_t x = 0, y = 1 << 20, z = 2 << 20, w = 3 << 20;
    op(SEM_OP_H2D, 5); rg(x, 256, SEM_W); commit();
    op(SEM_OP_H2D, 5); rg(z, 256, SEM_W); commit();
    op(SEM_OP_GEMM, 5); rg(x, 256, SEM_R); rg(y, 256, SEM_W); commit();
    op(SEM_OP_GEMM, 5); rg(z, 256, SEM_R); rg(w, 256, SEM_W); commit();
    op(SEM_OP_LAUNCH, 5); rg(y, 256, SEM_RW); commit();
    op(SEM_OP_LAUNCH, 5); rg(w, 256, SEM_RW); commit();
    uint32_t label[8];
    sem_graph g;
    build(&g);
    cr_assert_eq(sem_graph_branches(&g, label), 2);
    uint32_t want[6] = {0, 1, 0, 1, 0, 1};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(label[i], want[i], "op %d: branch %u", i, label[i]);
    sem_graph_free(&g);
    op(SEM_OP_LAUNCH, 5); rg(y, 256, SEM_R); rg(w, 256, SEM_R); rg(x, 8, SEM_W); commit();
    build(&g);
    cr_assert_eq(sem_graph_branches(&g, label), 1, "the join makes one graph");
    sem_graph_free(&g);
}

Test(sem_graph, refuses_a_lost_or_huge_ir)
{
    sem_graph g;
    op(SEM_OP_MEMSET, 5); commit();
    ir.lost = 1;
    cr_assert_eq(sem_graph_build(&g, &ir, NULL, NULL), GENIE_EINVAL);
    sem_ir_reset(&ir);
    for (uint32_t i = 0; i <= SEM_GRAPH_MAX_OPS; i++) {
        op(SEM_OP_MEMSET, 5);
        commit();
    }
    cr_assert_eq(sem_graph_build(&g, &ir, NULL, NULL), GENIE_ETOOBIG);
}

Test(sem_graph, handle_ops_are_barriers)
{
    /* a stream created in the batch, then work on it: the work follows the creation */
    uint32_t mk = op(SEM_OP_HANDLE, 9); commit();
    uint32_t a = op(SEM_OP_MEMSET, 5); rg(0, 64, SEM_W); commit();
    sem_graph g;
    build(&g);
    cr_assert(sem_graph_depends(&g, a, mk, SEM_DEP_BARRIER));
    sem_graph_free(&g);
}
