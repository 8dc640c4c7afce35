/* cost_bridge.h — bench/micro's way to the semantics cost model (semantics/cost.c) from C++:
 * builds the IR of a benchmark batch and asks the model for its time. */
#ifndef GENIE_BENCH_MICRO_COST_BRIDGE_H
#define GENIE_BENCH_MICRO_COST_BRIDGE_H

typedef struct micro_cost {
    double rtt_ns, wire_bps, op_ns, flops, mem_bps, pair_ns;
} micro_cost;

/* The predicted time (ns) of a batch of nlaunch kernel launches and ngemm fp32 GEMMs of
 * m x n x k, sent bytes out and received bytes back, ending in one copy back. */
double micro_predict(const micro_cost *c, long nlaunch, long ngemm, int m, int n, int k,
                     long sent, long received);
double micro_pearson(const double *x, const double *y, unsigned n);

#endif
