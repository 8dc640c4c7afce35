/* cost_bridge.c — bench/micro's benchmark batches as semantics IR, priced by semantics/cost.c. */
#include "cost_bridge.h"

#include "semantics/sem.h"

double micro_predict(const micro_cost *c, long nlaunch, long ngemm, int m, int n, int k, long sent,
                     long received)
{
    sem_cost_params p = {c->rtt_ns, c->wire_bps, c->op_ns, c->flops, c->mem_bps, c->pair_ns};
    sem_ir ir = {0};
    for (long i = 0; i < nlaunch; i++) {
        sem_ir_stage(&ir, SEM_OP_LAUNCH, 16);
        sem_ir_commit(&ir, 64);
    }
    for (long i = 0; i < ngemm; i++) {
        sem_op *o = sem_ir_stage(&ir, SEM_OP_GEMM, 16);
        o->gemm = (sem_gemm){.m = m, .n = n, .k = k, .batch = 1, .dtype = 0};
        sem_ir_commit(&ir, 120);
    }
    sem_op *o = sem_ir_stage(&ir, SEM_OP_D2H, 16);
    sem_ir_range(&ir, o, 0x200000000000ull, 4, SEM_R);
    sem_ir_commit(&ir, 32);
    /* the copy back's own op is part of the round trip the calibration measured */
    double t = sem_cost_batch(&p, &ir, (uint64_t)sent, (uint64_t)received) - c->op_ns;
    sem_ir_free(&ir);
    return t;
}

double micro_pearson(const double *x, const double *y, unsigned n)
{
    return sem_pearson(x, y, n);
}
