/* branches.c — GENIE_PARALLEL_BRANCHES in the shim: at a flush, the batch's lanes from its
 * dependency graph, sent as a BRANCHES record. */
#include "shim/shim_int.h"

#include <stdio.h>
#include <stdlib.h>

/* The graph is quadratic in the ops back to each barrier: larger batches go unannotated
 * (SEM_BRANCHES_MAX_OPS). */

static int extent(void *ud, uint64_t ptr, uint64_t *start, uint64_t *size)
{
    return shim_alloc_find(ud, ptr, start, size);
}

void shim_branches_annotate(void)
{
    SHIM_HELD();
    sem_ir *ir = &shim_g.ir;
    if (!shim_g.pol.branches || ir->lost || ir->n < 2 || ir->n > SEM_BRANCHES_MAX_OPS ||
        !shim_g.alloc)
        return;
    uint64_t t0 = genie_now_ns();
    sem_graph g;
    if (sem_graph_build(&g, ir, extent, shim_g.alloc))
        return; /* no memory: run as recorded */
    uint32_t n = ir->n, origin = 0;
    sem_lane *lanes = malloc(n * sizeof *lanes);
    uint32_t used = lanes ? sem_pass_branches(&shim_g.pol, ir, &g, lanes, &origin) : 1;
    sem_graph_free(&g);
    if (shim_g.sem_dump && used > 1) { /* GENIE_SEM_DUMP: lane (+ joined lanes, b: barrier) */
        FILE *f = shim_g.sem_dump;
        fprintf(f, "branches lanes=%u origin=%u:", used, origin);
        for (uint32_t i = 0; i < n; i++)
            fprintf(f, " %u%s%x", lanes[i].lane, lanes[i].join & SEM_LANE_BARRIER ? "b" : "+",
                    lanes[i].join & 0x7f);
        fputc('\n', f);
    }
    if (used > 1) {
        shim_rec r;
        shim_batch_begin(&r);
        uint8_t *p = SHIM_PUT(&r, BRANCHES, origin, n, 2 * (size_t)n);
        if (!p) {
            shim_batch_rollback(&r); /* no memory: run as recorded */
        } else {
            for (uint32_t i = 0; i < n; i++) {
                p[2 * i] = lanes[i].lane;
                p[2 * i + 1] = lanes[i].join;
            }
            shim_sem_op(SEM_OP_OTHER, PROTO_OP_BRANCHES, origin);
            shim_batch_commit(&r, SHIM_NO_STREAM, SHIM_COMMIT_HOLD);
            shim_g.stats.batches_branched++;
        }
    }
    free(lanes);
    uint64_t took = genie_now_ns() - t0;
    shim_g.stats.branches_ns += took;
    shim_cost_pass_sample(n, took); /* the cost model's pair_ns */
}
