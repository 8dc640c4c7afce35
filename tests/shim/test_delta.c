/* test_delta.c — shim/delta.c: a repeated batch as a BATCH_DELTA of the last one, its patches compressed (GENIE_DELTA_DEFLATE) or against the template's back-reference prediction (GENIE_DELTA_REF).
 *
 * Against the in-process executor on the fake GPU (GENIE_REMOTE=local). A "decode step" of
 * 48 memsets into 4 buffers that all move each step, as the pointer arguments of a decode
 * step do when the caching allocator places its activations elsewhere, and each passed to
 * several ops: the patch list repeats itself and compresses, and the prediction carries each
 * new address from its first use to the others. The twin runs with both off, so the bytes
 * asserted are known to move; the device's bytes are checked every step. */
#include <cuda_runtime.h>
#include <string.h>

#include "tests/shim/shim_harness.h"

static void env_z_off(void)
{
    shim_test_env();
    setenv("GENIE_DELTA_DEFLATE", "0", 1);
}

static void env_both_off(void)
{
    env_z_off();
    setenv("GENIE_DELTA_REF", "0", 1);
}

#define SLOTS 48
#define SLOT 256

/* Runs 8 steps; returns the bytes sent by the last, which must have gone as a delta. */
static uint64_t last_step_bytes(void)
{
    uint8_t *d;
    cr_assert_eq(cudaMalloc((void **)&d, 4 * SLOTS * SLOT), cudaSuccess);
    uint64_t bytes = 0;
    for (int step = 0; step < 8; step++) {
        shim_stats s0 = shim_test_stats();
        /* the step's 4 buffers, elsewhere each step; each written 12 times, as a decode step
         * passes one activation to several kernels */
        uint8_t *at = d + (step % 4) * 4 * SLOT * 3;
        for (int i = 0; i < SLOTS; i++)
            cr_assert_eq(cudaMemsetAsync(at + (i % 4) * SLOT, (step * 7 + i % 4) & 0xff, SLOT,
                                         NULL),
                         cudaSuccess);
        uint8_t back[4 * SLOT];
        cr_assert_eq(cudaMemcpy(back, at, sizeof back, cudaMemcpyDeviceToHost), cudaSuccess);
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < SLOT; k++)
                cr_assert_eq(back[i * SLOT + k], (step * 7 + i) & 0xff, "step %d slot %d", step, i);
        shim_stats s1 = shim_test_stats();
        if (step >= 2)
            cr_assert_eq(s1.batches_delta - s0.batches_delta, 1, "step %d not a delta", step);
        bytes = s1.bytes_sent - s0.bytes_sent;
    }
    cr_assert_eq(cudaFree(d), cudaSuccess);
    return bytes;
}

/* 48 records whose destinations moved, 4 distinct new values 12 times over: compressed, the
 * step's frame is well under what it is uncompressed (measured: 64 bytes compressed, 152
 * plain). */
Test(delta, repeated_changes_go_compressed, .init = shim_test_env)
{
    uint64_t b = last_step_bytes();
    cr_assert_lt(b, 100, "%llu bytes a step", (unsigned long long)b);
}

/* Uncompressed, against the prediction: the 12 uses of each buffer after its first follow
 * it (measured: 72 bytes a step; 152 with GENIE_DELTA_REF=0 too). */
Test(delta, back_references_uncompressed, .init = env_z_off)
{
    uint64_t b = last_step_bytes();
    cr_assert_lt(b, 100, "%llu bytes a step", (unsigned long long)b);
}

Test(delta, plain_when_both_off, .init = env_both_off)
{
    uint64_t b = last_step_bytes();
    cr_assert_gt(b, 120, "%llu bytes a step", (unsigned long long)b);
}
