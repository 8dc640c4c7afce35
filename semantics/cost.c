/* cost.c — the cost model: a batch's remote time from the round trip, its bytes on the wire and a
 * per-op roofline, with calibrated parameters. */
#include "semantics/sem.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Bytes per element of a cudaDataType (CUDA_R_32F 0, R_64F 1, R_16F 2, R_8I 3, C_32F 4, C_64F 5,
 * R_16BF 14, ...): 4 when unknown. */
static double elt_bytes(int dtype)
{
    switch (dtype) {
    case 1: /* CUDA_R_64F */
    case 4: /* CUDA_C_32F */
        return 8;
    case 5: /* CUDA_C_64F */
        return 16;
    case 2:  /* CUDA_R_16F */
    case 14: /* CUDA_R_16BF */
        return 2;
    case 3: /* CUDA_R_8I */
        return 1;
    default:
        return 4;
    }
}

double sem_cost_op(const sem_cost_params *p, const sem_op *o, const sem_ir *ir)
{
    double t = p->op_ns;
    if (o->kind == SEM_OP_GEMM && o->gemm.m > 0 && o->gemm.n > 0 && o->gemm.k > 0) {
        double m = o->gemm.m, n = o->gemm.n, k = o->gemm.k;
        double b = o->gemm.batch > 0 ? o->gemm.batch : 1;
        double flops = 2.0 * m * n * k * b;
        double bytes = (m * k + k * n + m * n) * b * elt_bytes(o->gemm.dtype);
        double tf = p->flops > 0 ? flops / p->flops * 1e9 : 0;
        double tm = p->mem_bps > 0 ? bytes / p->mem_bps * 1e9 : 0;
        t += tf > tm ? tf : tm;
    } else if (o->kind == SEM_OP_D2D || o->kind == SEM_OP_MEMSET || o->kind == SEM_OP_H2D ||
               o->kind == SEM_OP_D2H) {
        /* the largest known range it writes or reads: the bytes it moves on the device */
        uint64_t most = 0;
        const sem_range *r = sem_op_ranges(ir, o);
        for (uint32_t i = 0; i < o->nranges; i++)
            if (r[i].size > most)
                most = r[i].size;
        if (p->mem_bps > 0)
            t += (double)most / p->mem_bps * 1e9;
    }
    return t;
}

double sem_cost_device(const sem_cost_params *p, const sem_ir *ir)
{
    double t = 0;
    for (uint32_t i = 0; i < ir->n; i++)
        t += sem_cost_op(p, &ir->ops[i], ir);
    return t;
}

double sem_cost_wire(const sem_cost_params *p, uint64_t bytes)
{
    double t = p->rtt_ns / 2;
    if (p->wire_bps > 0)
        t += (double)bytes / p->wire_bps * 1e9;
    return t;
}

double sem_cost_pairs(uint32_t n)
{
    return n >= 2 && n <= SEM_BRANCHES_MAX_OPS ? (double)n * (n - 1) / 2 : 0;
}

double sem_cost_batch(const sem_cost_params *p, const sem_ir *ir, uint64_t sent, uint64_t received)
{
    double t = p->rtt_ns + p->pair_ns * sem_cost_pairs(ir->n);
    if (p->wire_bps > 0)
        t += (double)(sent + received) / p->wire_bps * 1e9;
    return t + sem_cost_device(p, ir);
}

int sem_cost_parse(sem_cost_params *p, const char *s)
{
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"rtt_ns", offsetof(sem_cost_params, rtt_ns)},
        {"wire_bps", offsetof(sem_cost_params, wire_bps)},
        {"op_ns", offsetof(sem_cost_params, op_ns)},
        {"flops", offsetof(sem_cost_params, flops)},
        {"mem_bps", offsetof(sem_cost_params, mem_bps)},
        {"pair_ns", offsetof(sem_cost_params, pair_ns)},
    };
    sem_cost_params q = *p;
    while (*s) {
        const char *eq = strchr(s, '=');
        if (!eq)
            return -1;
        size_t klen = (size_t)(eq - s), k;
        for (k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (strlen(keys[k].key) == klen && !strncmp(keys[k].key, s, klen))
                break;
        if (k == sizeof keys / sizeof keys[0])
            return -1;
        char *end;
        double v = strtod(eq + 1, &end);
        if (end == eq + 1 || !(v >= 0) || v > 1e30 || (*end && *end != ','))
            return -1;
        *(double *)((char *)&q + keys[k].off) = v;
        s = *end ? end + 1 : end;
    }
    *p = q;
    return 0;
}

double sem_pearson(const double *x, const double *y, uint32_t n)
{
    if (n < 2)
        return 0;
    double mx = 0, my = 0;
    for (uint32_t i = 0; i < n; i++)
        mx += x[i], my += y[i];
    mx /= n, my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (uint32_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    if (sxx <= 0 || syy <= 0)
        return 0;
    double d = sxx * syy, r = sxy;
    /* sqrt without libm: Newton on the product */
    double s = d > 1 ? d : 1;
    for (int i = 0; i < 200; i++)
        s = 0.5 * (s + d / s);
    return r / s;
}
