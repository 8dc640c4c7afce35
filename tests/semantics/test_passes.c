/* test_passes.c — tests semantics/passes.c: the flush threshold, sync elision, pipeline chunks,
 * the H2D policy and the repeated-batch decision, from IR alone. */
#include <criterion/criterion.h>
#include <string.h>

#include "semantics/sem.h"

#define VA 0x200000000000ull
#define MiB (1ull << 20)

static const sem_policy on = {
    .remote = 1, .weight_cache = 1, .repeat = 1,
    .batch_bytes = 8 * MiB, .direct_min = MiB, .template_max = 8 * MiB,
};

Test(sem_passes, flush_at_the_threshold)
{
    sem_ir ir = {0};
    cr_assert_not(sem_pass_flush_due(&on, &ir, 8 * MiB - 1));
    cr_assert(sem_pass_flush_due(&on, &ir, 8 * MiB));
    sem_policy p = on;
    p.batch_bytes = 4096;
    cr_assert(sem_pass_flush_due(&p, &ir, 4096));
}

static sem_op h2d(uint64_t bytes)
{
    sem_op o = {.kind = SEM_OP_H2D, .bulk_bytes = bytes};
    return o;
}

Test(sem_passes, h2d_policy)
{
    sem_op big = h2d(MiB), small = h2d(MiB - 1);
    cr_assert_eq(sem_pass_h2d(&on, &small), SEM_H2D_INLINE);
    cr_assert_eq(sem_pass_h2d(&on, &big), SEM_H2D_CACHED);
    sem_policy p = on;
    p.weight_cache = 0;
    cr_assert_eq(sem_pass_h2d(&p, &big), SEM_H2D_DIRECT);
    p = on;
    p.remote = 0; /* in-process: the executor reads the batch where it is */
    cr_assert_eq(sem_pass_h2d(&p, &big), SEM_H2D_INLINE);
    sem_op notcopy = {.kind = SEM_OP_D2D, .bulk_bytes = 64 * MiB};
    cr_assert_eq(sem_pass_h2d(&on, &notcopy), SEM_H2D_INLINE);
}

/* A decode step: n launches of 96 bytes each and one D2H of 40. */
static void step(sem_ir *ir, uint32_t n, uint16_t last_op, uint32_t last_bytes)
{
    sem_ir_reset(ir);
    for (uint32_t i = 0; i < n; i++) {
        sem_op *o = sem_ir_stage(ir, SEM_OP_LAUNCH, 0);
        o->wire_op = 0x0030;
        o->func = i;
        sem_ir_commit(ir, 96);
    }
    sem_op *o = sem_ir_stage(ir, SEM_OP_D2H, 0);
    o->wire_op = last_op;
    sem_ir_commit(ir, last_bytes);
}

Test(sem_passes, repeated_batches_go_as_deltas)
{
    sem_ir ir = {0};
    sem_repeat r = {0};
    step(&ir, 10, 0x0012, 40);
    uint64_t len = ir.wire_bytes;
    sem_batch_decision d = sem_pass_batch(&on, &r, &ir, len, 0);
    cr_assert_eq(d.form, SEM_BATCH_TEMPLATE, "no template yet");
    cr_assert_eq(d.frame_flags, SEM_FRAME_TEMPLATE);
    cr_assert_eq(sem_repeat_after(&r, &ir, len, 1), 0);
    step(&ir, 10, 0x0012, 40);
    d = sem_pass_batch(&on, &r, &ir, len, 0);
    cr_assert_eq(d.form, SEM_BATCH_DELTA);
    cr_assert_eq(d.frame_flags, SEM_FRAME_TEMPLATE);
    /* another op in the same place, with the same length: not the same batch */
    step(&ir, 10, 0x0013, 40);
    cr_assert_eq(sem_pass_batch(&on, &r, &ir, len, 0).form, SEM_BATCH_TEMPLATE);
    /* one op more */
    step(&ir, 11, 0x0012, 40);
    cr_assert_eq(sem_pass_batch(&on, &r, &ir, ir.wire_bytes, 0).form, SEM_BATCH_TEMPLATE);
    /* the same total length, other record lengths */
    step(&ir, 10, 0x0012, 40);
    ir.ops[0].wire_bytes += 8;
    ir.ops[1].wire_bytes -= 8;
    cr_assert_eq(sem_pass_batch(&on, &r, &ir, len, 0).form, SEM_BATCH_TEMPLATE);
    sem_repeat_free(&r);
    sem_ir_free(&ir);
}

Test(sem_passes, repeat_fails_safe)
{
    sem_ir ir = {0};
    sem_repeat r = {0};
    step(&ir, 4, 0x0012, 40);
    uint64_t len = ir.wire_bytes;
    cr_assert_eq(sem_repeat_after(&r, &ir, len, 1), 0);
    cr_assert(r.ok);
    /* the pass off, bulk payload, a payload too large: plain, no flag */
    sem_policy p = on;
    p.repeat = 0;
    sem_batch_decision d = sem_pass_batch(&p, &r, &ir, len, 0);
    cr_assert_eq(d.form, SEM_BATCH_PLAIN);
    cr_assert_eq(d.frame_flags, 0);
    cr_assert_eq(sem_pass_batch(&on, &r, &ir, len, 1).form, SEM_BATCH_PLAIN);
    p = on;
    p.template_max = len - 1;
    cr_assert_eq(sem_pass_batch(&p, &r, &ir, len, 0).form, SEM_BATCH_PLAIN);
    /* an IR that does not describe the whole payload, or a lost one: sent in full */
    cr_assert_eq(sem_pass_batch(&on, &r, &ir, len + 8, 0).form, SEM_BATCH_TEMPLATE);
    ir.lost = 1;
    cr_assert_eq(sem_pass_batch(&on, &r, &ir, len, 0).form, SEM_BATCH_TEMPLATE);
    ir.lost = 0;
    /* a batch with an error keeps no template */
    cr_assert_eq(sem_repeat_after(&r, &ir, len, 0), 0);
    cr_assert_not(r.ok);
    cr_assert_eq(sem_pass_batch(&on, &r, &ir, len, 0).form, SEM_BATCH_TEMPLATE);
    /* nor does one the IR does not describe */
    cr_assert_eq(sem_repeat_after(&r, &ir, len + 8, 1), 0);
    cr_assert_not(r.ok);
    cr_assert_eq(sem_repeat_after(&r, &ir, len, 1), 0);
    cr_assert(r.ok);
    sem_repeat_drop(&r);
    cr_assert_eq(sem_pass_batch(&on, &r, &ir, len, 0).form, SEM_BATCH_TEMPLATE);
    sem_repeat_free(&r);
    sem_ir_free(&ir);
}

/* Appends one committed op of kind (a GEMM of n columns when kind is SEM_OP_GEMM). */
static void add(sem_ir *ir, unsigned kind, int32_t n)
{
    sem_op *o = sem_ir_stage(ir, kind, 0);
    if (kind == SEM_OP_GEMM)
        o->gemm = (sem_gemm){.m = 768, .n = n, .k = 768, .batch = 1};
    sem_ir_commit(ir, 32);
}

Test(sem_passes, sync_elision_only_when_nothing_comes_back)
{
    sem_policy p = on;
    p.sync_elision = SEM_ELIDE_UPLOADS;
    sem_ir ir = {0};
    cr_assert(sem_pass_sync_elide(&p, &ir), "an empty batch");
    unsigned quiet[] = {SEM_OP_H2D, SEM_OP_D2D,    SEM_OP_MEMSET,
                        SEM_OP_MEM, SEM_OP_HANDLE, SEM_OP_STREAM_WAIT};
    for (size_t i = 0; i < sizeof quiet / sizeof *quiet; i++)
        add(&ir, quiet[i], 4);
    cr_assert(sem_pass_sync_elide(&p, &ir), "uploads: nothing the host can see");
    /* work that can fault on the device: elided only at SEM_ELIDE_ALL */
    unsigned device[] = {SEM_OP_LAUNCH, SEM_OP_GEMM, SEM_OP_LIB, SEM_OP_GRAPH};
    for (size_t i = 0; i < sizeof device / sizeof *device; i++) {
        sem_ir_reset(&ir);
        add(&ir, SEM_OP_H2D, 0);
        add(&ir, device[i], 4);
        p.sync_elision = SEM_ELIDE_UPLOADS;
        cr_assert_not(sem_pass_sync_elide(&p, &ir), "%s at the uploads level",
                      sem_kind_name(device[i]));
        p.sync_elision = SEM_ELIDE_ALL;
        cr_assert(sem_pass_sync_elide(&p, &ir), "%s at the all level", sem_kind_name(device[i]));
    }
    unsigned loud[] = {SEM_OP_D2H, SEM_OP_EVENT_RECORD, SEM_OP_SYNC, SEM_OP_OTHER};
    for (size_t i = 0; i < sizeof loud / sizeof *loud; i++) {
        sem_ir_reset(&ir);
        add(&ir, SEM_OP_LAUNCH, 0);
        add(&ir, loud[i], 0);
        add(&ir, SEM_OP_LAUNCH, 0);
        cr_assert_not(sem_pass_sync_elide(&p, &ir), "%s in the batch", sem_kind_name(loud[i]));
    }
    sem_ir_reset(&ir);
    add(&ir, SEM_OP_LAUNCH, 0);
    cr_assert(sem_pass_sync_elide(&p, &ir));
    p.sync_elision = SEM_ELIDE_OFF;
    cr_assert_not(sem_pass_sync_elide(&p, &ir), "off");
    p.sync_elision = SEM_ELIDE_ALL;
    ir.lost = 1;
    cr_assert_not(sem_pass_sync_elide(&p, &ir), "a lost IR fails safe");
    sem_ir_free(&ir);
}

Test(sem_passes, pipeline_chunks_double_and_need_a_wide_product)
{
    sem_policy p = on;
    p.pipeline = 1;
    p.pipe_first = 4;
    p.pipe_max = 16;
    sem_pipe pp = {0};
    sem_ir ir = {0};
    /* no wide product: never cut, however long */
    for (int i = 0; i < 64; i++) {
        add(&ir, i % 4 ? SEM_OP_LAUNCH : SEM_OP_GEMM, 1);
        cr_assert_not(sem_pass_pipeline_due(&p, &pp, &ir, 0, 0), "cut a decode step at op %d", i);
    }
    /* a wide product in the first chunk's ops: cut at 4, then 8, 16, 16 */
    uint32_t want[] = {4, 8, 16, 16};
    for (int c = 0; c < 4; c++) {
        sem_ir_reset(&ir);
        for (uint32_t i = 1; i <= want[c]; i++) {
            add(&ir, i == 2 ? SEM_OP_GEMM : SEM_OP_LAUNCH, 16);
            cr_assert_eq(sem_pass_pipeline_due(&p, &pp, &ir, 0, 0), i == want[c], "chunk %d op %u",
                         c, i);
        }
        pp.chunks++;
    }
    /* a wide product found in a later block of a batch not yet cut */
    pp.chunks = 0;
    sem_ir_reset(&ir);
    for (int i = 1; i <= 8; i++) {
        add(&ir, i == 7 ? SEM_OP_GEMM : SEM_OP_LAUNCH, 512);
        cr_assert_eq(sem_pass_pipeline_due(&p, &pp, &ir, 0, 0), i == 8, "op %d", i);
    }
    p.pipeline = 0;
    cr_assert_not(sem_pass_pipeline_due(&p, &pp, &ir, 0, 0), "off");
    sem_ir_free(&ir);
}

/* Records nops launches of 64 bytes (the 2nd a GEMM over 16 columns, so the first chunk may be
 * cut), the host's clock advancing host_ns per op, and returns the sizes of the chunks the
 * pipeline pass cuts (at most max), each sent as the shim sends it. */
static uint32_t chunk_sizes(const sem_policy *p, uint32_t nops, double host_ns, uint32_t *out,
                            uint32_t max)
{
    sem_pipe pp = {0};
    sem_ir ir = {0};
    uint32_t n = 0;
    double now = 1e6;
    for (uint32_t i = 1; i <= nops; i++) {
        sem_op *o = sem_ir_stage(&ir, i == 2 ? SEM_OP_GEMM : SEM_OP_LAUNCH, 16);
        if (i == 2)
            o->gemm = (sem_gemm){.m = 64, .n = 16, .k = 64, .batch = 1};
        sem_ir_commit(&ir, 64);
        now += host_ns;
        if (sem_pass_pipeline_due(p, &pp, &ir, ir.wire_bytes, (uint64_t)now)) {
            if (n < max)
                out[n] = ir.n;
            n++;
            sem_pipe_sent(p, &pp, &ir, ir.wire_bytes, (uint64_t)now);
            pp.chunks++;
            sem_ir_reset(&ir);
        }
    }
    sem_ir_free(&ir);
    return n;
}

/* With the cost model a chunk is cut when its wire time reaches the work still in flight:
 * here 64 bytes take 500 ns on the wire (no round trip), so with the host infinitely fast
 * each chunk is (op_ns + 500) / 500 times the one before; ops no slower than their wire
 * keep every chunk at the least size, and a host that records as slowly as the executor runs
 * keeps them there too. Without the model: the fixed doubling. */
Test(sem_passes, pipeline_chunks_follow_the_cost_model)
{
    sem_cost_params c = {.rtt_ns = 0, .wire_bps = 128e6, .op_ns = 1000};
    sem_policy p = on;
    p.pipeline = 1;
    p.pipe_first = 4;
    p.pipe_max = 100;
    p.cost = &c;
    uint32_t got[16];
    /* ops twice their wire time: 3x per chunk (4, 12, 36, 108 -> the cap) */
    cr_assert_eq(chunk_sizes(&p, 4 + 12 + 36 + 100 + 100, 0, got, 16), 5);
    uint32_t x3[] = {4, 12, 36, 100, 100};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(got[i], x3[i], "x3 chunk %d: %u", i, got[i]);
    /* slow ops (8x their wire time): 9x per chunk */
    c.op_ns = 4000;
    cr_assert_eq(chunk_sizes(&p, 4 + 36 + 100, 0, got, 16), 3);
    cr_assert(got[0] == 4 && got[1] == 36 && got[2] == 100, "x9: %u %u %u", got[0], got[1],
              got[2]);
    /* ops as fast as nothing: the executor is idle once a chunk has arrived; the least size */
    c.op_ns = 0;
    cr_assert_eq(chunk_sizes(&p, 40, 0, got, 16), 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(got[i], 4, "fast chunk %d: %u", i, got[i]);
    /* a round trip of 12 us changes nothing while the executor runs chunks back to back: each
     * chunk's half round trip is in both its own arrival and the next one's */
    c.rtt_ns = 12000;
    c.op_ns = 1000;
    cr_assert_eq(chunk_sizes(&p, 4 + 12 + 36 + 100, 0, got, 16), 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(got[i], x3[i], "rtt chunk %d: %u", i, got[i]);
    /* the host records as slowly as the executor runs (1 us per op): the executor is never
     * ahead by more than a chunk's wire time, the chunks stay at 4 */
    c.rtt_ns = 0;
    cr_assert_eq(chunk_sizes(&p, 40, 1000, got, 16), 10);
    /* a host at 100 ns per op against the 3x case: 4, then n with 100n + 500n >= 6000 - 0 */
    cr_assert_eq(chunk_sizes(&p, 4 + 10, 100, got, 16), 2);
    cr_assert(got[0] == 4 && got[1] == 10, "host 100 ns: %u %u", got[0], got[1]);
    /* without the model: 4, 8, 16, 32, 64, 100 */
    p.cost = NULL;
    cr_assert_eq(chunk_sizes(&p, 4 + 8 + 16 + 32 + 64 + 100, 0, got, 16), 6);
    uint32_t x2[] = {4, 8, 16, 32, 64, 100};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(got[i], x2[i], "fixed chunk %d: %u", i, got[i]);
    /* off: nothing */
    p.cost = &c;
    p.pipeline = 0;
    cr_assert_eq(chunk_sizes(&p, 400, 0, got, 16), 0);
}
