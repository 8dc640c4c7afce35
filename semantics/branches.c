/* branches.c — the parallel-branches pass: independent subgraphs of a one-stream batch get lanes
 * (executor streams) and joins. */
#include "semantics/sem.h"

#include <string.h>

/* How the executor can run an op on a lane. */
enum { ANY_LANE, LANE0, BARRIER };

static int placement(const sem_op *o)
{
    switch (o->kind) {
    case SEM_OP_LAUNCH:
    case SEM_OP_H2D:
    case SEM_OP_D2D:
    case SEM_OP_MEMSET:
        return ANY_LANE;
    case SEM_OP_GEMM:
        /* an Lt matmul names its stream in its record; a cuBLAS GEMM runs on its handle's
         * stream, which the executor does not move: the batch's own stream, lane 0 */
        return o->wire_op == SEM_WIRE_LT_MATMUL ? ANY_LANE : LANE0;
    default:
        return BARRIER; /* copies back, events, syncs, library state, handles, mappings */
    }
}

uint32_t sem_pass_branches(const sem_policy *p, const sem_ir *ir, const sem_graph *g, sem_lane *out,
                           uint32_t *origin)
{
    if (!p->branches || ir->lost || ir->n < 2 || g->nops != ir->n)
        return 1;
    /* one stream: every op that may move to a lane names the same one */
    uint32_t st = UINT32_MAX;
    for (uint32_t i = 0; i < ir->n; i++) {
        const sem_op *o = &ir->ops[i];
        if (placement(o) == BARRIER)
            continue; /* runs on its own stream after every lane joined lane 0 */
        if (st == UINT32_MAX)
            st = o->stream;
        else if (o->stream != st)
            return 1;
    }
    if (st == UINT32_MAX)
        return 1;
    uint32_t used = 1;     /* lanes in use since the last barrier (lane 0 always) */
    uint32_t any = 0;      /* ops placed since the last barrier */
    uint32_t last_bar = 0; /* ops before this index are ordered by a barrier or the fork */
    uint32_t most = 1;
    for (uint32_t j = 0; j < ir->n; j++) {
        const sem_op *o = &ir->ops[j];
        int how = placement(o);
        out[j] = (sem_lane){0, 0};
        if (how == BARRIER) {
            /* every lane joins lane 0 before it; new lanes fork after it */
            out[j].join = SEM_LANE_BARRIER | (uint8_t)(((1u << used) - 1) & ~1u);
            used = 1;
            any = 0;
            last_bar = j + 1;
            continue;
        }
        uint32_t lanes = 0; /* lanes of this op's predecessors since the last barrier */
        for (uint32_t k = g->first[j]; k < g->first[j + 1]; k++) {
            uint32_t q = g->preds[k];
            if (q < last_bar || !(g->why[k] & (SEM_DEP_DATA | SEM_DEP_EVENT | SEM_DEP_BARRIER)))
                continue; /* stream order alone is what the pass drops */
            lanes |= 1u << out[q].lane;
        }
        uint32_t lane;
        if (how == LANE0)
            lane = 0;
        else if (lanes)
            lane = (uint32_t)__builtin_ctz(lanes); /* the lowest: joins the others */
        else if (!any)
            lane = 0; /* the first work after a fork */
        else if (used < SEM_LANES_MAX)
            lane = used++; /* depends on nothing in the batch: a new branch */
        else
            lane = 0; /* out of lanes: stream order on lane 0 (correct, not parallel) */
        any++;
        out[j].lane = (uint8_t)lane;
        out[j].join = (uint8_t)(lanes & ~(1u << lane));
        if (used > most)
            most = used;
    }
    *origin = st;
    return most;
}
