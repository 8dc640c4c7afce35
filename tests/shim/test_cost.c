/* test_cost.c — shim/cost.c: the cost model's parameters calibrated at session start against the
 * in-process executor on the fake GPU (GENIE_REMOTE=local): genie-remote's device measurement
 * (R_COST), the PINGs' round trip, what waited-for batches teach; GENIE_COST_PARAMS over them;
 * GENIE_COST_CALIBRATE=0 keeps the defaults. Bounds, not values: the machine's speed varies. */
#include <stdio.h>
#include <string.h>

#include "tests/shim/shim_harness.h"

int genie_stats_json(char *buf, size_t n);

/* A member of genie_stats_json's object, as a number (-1: missing). */
static double stat(const char *key)
{
    static char buf[1 << 16];
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    cr_assert_eq(genie_stats_json(buf, sizeof buf), 0);
    const char *p = strstr(buf, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

static sem_cost_params params(void)
{
    shim_lock();
    sem_cost_params p = shim_g.cost;
    shim_unlock();
    return p;
}

static void open_session(void)
{
    void *p;
    cr_assert_eq(cudaMalloc(&p, 64), cudaSuccess);
}

static void env_calibrate(void)
{
    shim_test_env();
    setenv("GENIE_COST_CALIBRATE", "1", 1);
}
static void env_override(void)
{
    env_calibrate();
    setenv("GENIE_COST_PARAMS", "op_ns=777,mem_bps=12345", 1);
}
static void env_off(void)
{
    shim_test_env();
    setenv("GENIE_PIPELINE_COST", "1", 1); /* which would calibrate by default */
    setenv("GENIE_COST_CALIBRATE", "0", 1);
}
static void env_default(void)
{
    shim_test_env(); /* the cost model unused (GENIE_PIPELINE_COST=0): nothing asked */
}

static void assert_device_sane(const sem_cost_params *p)
{
    cr_assert(p->op_ns > 10 && p->op_ns < 5e6, "op %.1f ns", p->op_ns);
    cr_assert(p->mem_bps > 50e6 && p->mem_bps < 5e12, "device memory %.3g B/s", p->mem_bps);
    cr_assert(p->flops > 50e6 && p->flops < 1e14, "SGEMM %.3g FLOP/s", p->flops);
}

Test(cost, calibrates_at_session_start, .init = env_calibrate, .timeout = 120)
{
    open_session();
    sem_cost_params p = params(), d = SEM_COST_DEFAULTS;
    cr_assert_eq(stat("cost_calibrate"), 1);
    cr_assert_eq(stat("cost_device_measured"), 1, "no R_COST after R_HELLO");
    assert_device_sane(&p);
    /* the fake GPU is a CPU: nothing like the defaults' GPU host */
    cr_assert(p.flops < d.flops / 10 && p.mem_bps < d.mem_bps / 2, "flops %g, mem %g", p.flops,
              p.mem_bps);
    /* the round trip: the least of the PINGs, in-process here (no socket) */
    cr_assert(p.rtt_ns > 0 && p.rtt_ns < 1e9 && p.rtt_ns != d.rtt_ns, "rtt %g ns", p.rtt_ns);
    cr_assert_eq(stat("rt_setup"), 1 + 3, "HELLO and 3 PINGs");
    cr_log_info("local fake GPU: rtt %.1f us, op %.0f ns, device memory %.3g GB/s, SGEMM %.3g "
                "GFLOP/s, genie-remote's measurement %.1f ms, PINGs %.0f us",
                p.rtt_ns / 1e3, p.op_ns, p.mem_bps / 1e9, p.flops / 1e9,
                stat("cost_remote_took_ns") / 1e6, stat("cost_pings_ns") / 1e3);
}

/* What waited-for batches teach: a batch of 200 memsets and a 4-byte copy back, the executor's
 * whole cost per op (R_EXEC; the copy is small, so its roofline term cannot outweigh the batch's
 * time, which would leave nothing to learn from); the branches pass's graph over the batch, its
 * cost per pair of ops. (The wire's rate from large copies: in-process here there is no wire to
 * time, so e2e_cost_calibrated_{unix,tcp} check it over a socket.) */
Test(cost, learns_from_waited_batches, .init = env_calibrate, .timeout = 120)
{
    uint8_t *d;
    cr_assert_eq(cudaMalloc((void **)&d, 1 << 16), cudaSuccess);
    sem_cost_params p0 = params();
    double ops0 = stat("cost_op_samples");
    cr_assert_eq(stat("cost_pass_samples"), 0);
    cr_assert_eq(p0.pair_ns, 0);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(cudaMemsetAsync(d + 64 * i, i, 64, NULL), cudaSuccess);
    uint8_t back[4];
    cr_assert_eq(cudaMemcpy(back, d + 64 * 7, sizeof back, cudaMemcpyDeviceToHost), cudaSuccess);
    cr_assert_eq(back[0], 7);
    sem_cost_params p1 = params();
    cr_assert_eq(stat("cost_op_samples"), ops0 + 1);
    cr_assert_eq(stat("cost_pass_samples"), 1);
    cr_assert(p1.op_ns != p0.op_ns && p1.op_ns > 0 && p1.op_ns < 5e6, "op %g ns", p1.op_ns);
    cr_assert(p1.pair_ns > 0 && p1.pair_ns < 1e6, "pass %g ns per pair", p1.pair_ns);
}

/* GENIE_COST_PARAMS wins, key by key, over the calibration and over what batches teach. */
Test(cost, the_override_wins, .init = env_override, .timeout = 120)
{
    open_session();
    sem_cost_params p = params();
    cr_assert_eq(stat("cost_device_measured"), 1);
    cr_assert_eq(p.op_ns, 777);
    cr_assert_eq(p.mem_bps, 12345);
    cr_assert(p.flops > 50e6 && p.flops < 1e14, "the SGEMM rate is still measured: %g", p.flops);
    uint8_t *d;
    cr_assert_eq(cudaMalloc((void **)&d, 4096), cudaSuccess);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(cudaMemsetAsync(d, i, 64, NULL), cudaSuccess);
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    uint8_t b;
    cr_assert_eq(cudaMemcpy(&b, d, 1, cudaMemcpyDeviceToHost), cudaSuccess);
    cr_assert_eq(params().op_ns, 777);
}

static void assert_defaults(void)
{
    sem_cost_params p = params(), d = SEM_COST_DEFAULTS;
    cr_assert(!memcmp(&p, &d, sizeof p), "rtt %g wire %g op %g flops %g mem %g pair %g", p.rtt_ns,
              p.wire_bps, p.op_ns, p.flops, p.mem_bps, p.pair_ns);
    cr_assert_eq(stat("cost_device_measured"), 0);
    cr_assert_eq(stat("rt_setup"), 1, "HELLO only: no PINGs");
}

Test(cost, disabled_means_defaults, .init = env_off, .timeout = 60)
{
    open_session();
    cr_assert_eq(stat("cost_calibrate"), 0);
    assert_defaults();
}

Test(cost, unused_model_asks_nothing, .init = env_default, .timeout = 60)
{
    open_session();
    assert_defaults();
}
