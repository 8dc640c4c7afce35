/* test_passes.c — tests semantics/passes.c: the flush threshold, the H2D policy and the
 * repeated-batch decision, from IR alone. */
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
