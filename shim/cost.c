/* cost.c — the cost model's parameters for this session: the device's from genie-remote's
 * R_COST at HELLO, the wire's measured here (PINGs, then large waited-for frames), and
 * GENIE_COST_PARAMS over both, key by key.
 *
 * genie-remote measures the device side once for its lifetime (remote/cost.c); what the link
 * adds is this client's to measure: the round trip is the least of SHIM_COST_PINGS PINGs right
 * after HELLO, and the wire's rate starts at the default and follows every frame of at least
 * SHIM_COST_BULK bytes (sent plus received) whose reply the client waited for: its round trip
 * less the executor's own time (R_EXEC) and the PING round trip is the time its bytes took.
 * GENIE_COST_CALIBRATE: 1 calibrates, 0 does not (the defaults of semantics/sem.h stay); unset,
 * the shim calibrates when the cost model is used (GENIE_PIPELINE_COST=1). Lock held in all. */
#include "shim/shim_int.h"

#include <stdio.h>
#include <string.h>

#define SHIM_COST_PINGS 3
#define SHIM_COST_BULK (1u << 20)
#define SHIM_COST_OPS 64 /* a waited-for batch of at least this many ops teaches op_ns */

static struct {
    int calibrate;       /* asking genie-remote for R_COST and measuring the wire */
    sem_cost_params env; /* GENIE_COST_PARAMS's keys; -1: not given */
    int device_from_remote; /* R_COST arrived */
    uint64_t remote_took_ns; /* how long genie-remote took to measure (0: it had them) */
    int remote_fresh;
    uint64_t pings_ns;   /* this client's share of the calibration: the PINGs */
    uint64_t wire_samples, op_samples, pass_samples;
} C;

static void apply_env(void)
{
    double *dst = &shim_g.cost.rtt_ns, *src = &C.env.rtt_ns;
    for (int i = 0; i < 6; i++) /* sem_cost_params is 6 doubles, in the same order */
        if (src[i] >= 0)
            dst[i] = src[i];
}

void shim_cost_init(int model_used)
{
    shim_g.cost = SEM_COST_DEFAULTS;
    C.env = (sem_cost_params){-1, -1, -1, -1, -1, -1};
    const char *cp = genie_env_str("GENIE_COST_PARAMS", NULL);
    if (cp && sem_cost_parse(&C.env, cp)) {
        GENIE_ERROR("GENIE_COST_PARAMS=%s: not key=value,... of rtt_ns, wire_bps, op_ns, flops, "
                    "mem_bps, pair_ns; the defaults stay", cp);
        C.env = (sem_cost_params){-1, -1, -1, -1, -1, -1};
    }
    C.calibrate = (int)genie_env_int("GENIE_COST_CALIBRATE", model_used ? 1 : 0) != 0;
    apply_env();
}

uint32_t shim_cost_hello_flags(void)
{
    return C.calibrate ? PROTO_HELLO_COST : 0;
}

int shim_cost_r_cost(const proto_rec *r)
{
    proto_R_COST k;
    if (proto_get_R_COST(r, &k))
        return GENIE_EPROTO;
    if (!C.calibrate)
        return 0;
    /* a zero is a parameter genie-remote could not measure: the default stays */
    if (k.op_ps)
        shim_g.cost.op_ns = (double)k.op_ps / 1e3;
    if (k.flops)
        shim_g.cost.flops = (double)k.flops;
    if (k.mem_bps)
        shim_g.cost.mem_bps = (double)k.mem_bps;
    C.device_from_remote = 1;
    C.remote_took_ns = k.took_ns;
    C.remote_fresh = (int)k.fresh;
    apply_env();
    return 0;
}

void shim_cost_session(void)
{
    if (!C.calibrate)
        return;
    uint64_t t0 = genie_now_ns(), best = 0;
    genie_buf b = {0};
    for (int i = 0; i < SHIM_COST_PINGS; i++) {
        if (proto_frame_begin(&b, PROTO_KIND_REQUEST, 0) || !proto_put_PING(&b, (uint64_t)i))
            break;
        uint64_t a = genie_now_ns();
        if (shim_call_frame(&b, SHIM_RT_SETUP, NULL, NULL) != cudaSuccess)
            break;
        uint64_t z = genie_now_ns() - a;
        if (!best || z < best)
            best = z;
    }
    genie_buf_free(&b);
    if (best)
        shim_g.cost.rtt_ns = (double)best;
    C.pings_ns = genie_now_ns() - t0;
    apply_env();
    GENIE_INFO("cost model: rtt %.1f us (%d PINGs), wire %.3g GB/s, op %.0f ns, device memory "
               "%.3g GB/s, SGEMM %.3g GFLOP/s (%s)",
               shim_g.cost.rtt_ns / 1e3, SHIM_COST_PINGS, shim_g.cost.wire_bps / 1e9,
               shim_g.cost.op_ns, shim_g.cost.mem_bps / 1e9, shim_g.cost.flops / 1e9,
               C.device_from_remote ? "device measured by genie-remote" : "device: defaults");
}

void shim_cost_wire_sample(uint64_t bytes, uint64_t round_trip_ns, uint64_t exec_ns)
{
    if (!C.calibrate || C.env.wire_bps >= 0 || bytes < SHIM_COST_BULK)
        return;
    double t = (double)round_trip_ns - (double)exec_ns - shim_g.cost.rtt_ns;
    if (t <= 0)
        return;
    double bps = (double)bytes / t * 1e9;
    /* the first sample replaces the default; later ones raise it, never lower it: a slower
     * frame met contention (the host, the executor), the link's rate is the best seen */
    if (!C.wire_samples++ || bps > shim_g.cost.wire_bps)
        shim_g.cost.wire_bps = bps;
}

void shim_cost_exec_sample(const sem_ir *ir, uint64_t exec_ns)
{
    if (!C.calibrate || C.env.op_ns >= 0 || ir->lost || ir->n < SHIM_COST_OPS)
        return;
    /* the batch's roofline terms (GEMMs, copies) at the current rates, without the per-op cost:
     * what is left of genie-remote's own time for it is its ops' fixed cost */
    sem_cost_params p = shim_g.cost;
    p.op_ns = 0;
    double per = ((double)exec_ns - sem_cost_device(&p, ir)) / ir->n;
    if (per <= 0)
        return;
    shim_g.cost.op_ns = C.op_samples++ ? 0.75 * shim_g.cost.op_ns + 0.25 * per : per;
}

void shim_cost_pass_sample(uint32_t nops, uint64_t ns)
{
    if (!C.calibrate || C.env.pair_ns >= 0 || nops < SHIM_COST_OPS)
        return;
    double per = (double)ns / sem_cost_pairs(nops);
    shim_g.cost.pair_ns = C.pass_samples++ ? 0.75 * shim_g.cost.pair_ns + 0.25 * per : per;
}

int shim_cost_json(char *out, size_t n)
{
    const sem_cost_params *p = &shim_g.cost;
    return snprintf(out, n,
                    "\"cost_calibrate\": %d, \"cost_device_measured\": %d, "
                    "\"cost_remote_took_ns\": %llu, \"cost_remote_fresh\": %d, "
                    "\"cost_pings_ns\": %llu, \"cost_wire_samples\": %llu, "
                    "\"cost_op_samples\": %llu, \"cost_pass_samples\": %llu, "
                    "\"cost_rtt_ns\": %.6g, \"cost_wire_bps\": %.6g, \"cost_op_ns\": %.1f, "
                    "\"cost_flops\": %.6g, \"cost_mem_bps\": %.6g, \"cost_pair_ns\": %.4g, ",
                    C.calibrate, C.device_from_remote, (unsigned long long)C.remote_took_ns,
                    C.remote_fresh, (unsigned long long)C.pings_ns,
                    (unsigned long long)C.wire_samples, (unsigned long long)C.op_samples,
                    (unsigned long long)C.pass_samples,
                    p->rtt_ns, p->wire_bps, p->op_ns,
                    p->flops, p->mem_bps, p->pair_ns);
}
