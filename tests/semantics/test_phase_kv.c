/* test_phase_kv.c — tests semantics/phase.c (prefill or decode from GEMM shapes and repeats) and
 * semantics/kv.c (KV caches: read by attention from a fixed start over a growing extent), from
 * IR alone. */
#include <criterion/criterion.h>

#include "semantics/sem.h"

#define VA 0x200000000000ull
#define MiB (1ull << 20)

static sem_policy pol(void)
{
    return (sem_policy){.remote = 1, .weight_cache = 1, .repeat = 1, .batch_bytes = 8 * MiB,
                        .direct_min = MiB, .template_max = 8 * MiB, .phase = 1, .kv = 1,
                        .decode_tokens = 1};
}

static void gemm(sem_ir *ir, int m, int n, int k, int batch)
{
    sem_op *o = sem_ir_stage(ir, SEM_OP_GEMM, 16);
    o->gemm = (sem_gemm){m, n, k, batch, 0, 1, 0, 0};
    sem_ir_commit(ir, 128);
}

Test(sem_phase, tokens_and_phase)
{
    sem_policy p = pol();
    sem_ir ir = {0};
    sem_op *o = sem_ir_stage(&ir, SEM_OP_LAUNCH, 16);
    (void)o;
    sem_ir_commit(&ir, 64);
    cr_assert_eq(sem_batch_tokens(&ir), 0);
    cr_assert_eq(sem_pass_phase(&p, &ir, 0), SEM_PHASE_OTHER, "no GEMM");
    /* a prefill over 16 tokens: QKV 384x16x128, attention batched over heads (its n is 16, but
     * its own m is the sequence: left out), the logits 512x16x128 */
    gemm(&ir, 384, 16, 128, 1);
    gemm(&ir, 16, 16, 32, 4);
    gemm(&ir, 512, 16, 128, 1);
    cr_assert_eq(sem_batch_tokens(&ir), 16);
    cr_assert_eq(sem_pass_phase(&p, &ir, 0), SEM_PHASE_PREFILL);
    /* a decode step: one token; attention over 17 keys batched over 4 heads does not count */
    sem_ir_reset(&ir);
    gemm(&ir, 384, 1, 128, 1);
    gemm(&ir, 17, 1, 32, 4);
    cr_assert_eq(sem_batch_tokens(&ir), 1);
    cr_assert_eq(sem_pass_phase(&p, &ir, 0), SEM_PHASE_DECODE);
    /* batched decode over 4 sequences: 4 tokens, a decode because it repeats */
    sem_ir_reset(&ir);
    gemm(&ir, 384, 4, 128, 1);
    cr_assert_eq(sem_pass_phase(&p, &ir, 0), SEM_PHASE_PREFILL);
    cr_assert_eq(sem_pass_phase(&p, &ir, 1), SEM_PHASE_DECODE);
    p.decode_tokens = 4;
    cr_assert_eq(sem_pass_phase(&p, &ir, 0), SEM_PHASE_DECODE);
    /* off (GENIE_PHASE=0 or GENIE_SEMANTICS=0), or a lost IR: no phase */
    p.phase = 0;
    cr_assert_eq(sem_pass_phase(&p, &ir, 1), SEM_PHASE_OTHER);
    p = pol();
    ir.lost = 1;
    cr_assert_eq(sem_pass_phase(&p, &ir, 1), SEM_PHASE_OTHER);
    cr_assert_str_eq(sem_phase_name(SEM_PHASE_DECODE), "decode");
    sem_ir_free(&ir);
}

#define K0 (VA + 0x100000) /* a K cache */
#define V0 (VA + 0x200000) /* a V cache */
#define Q0 (VA + 0x300000) /* the query: read, fixed extent */
#define S0 (VA + 0x400000) /* the scores: written by one product, read by the next */

/* One step's attention over T keys: S = K^T Q (reads K, Q; writes S), O = V S (reads V, S). */
static void attention(sem_ir *ir, uint64_t t)
{
    sem_ir_reset(ir);
    sem_op *o = sem_ir_stage(ir, SEM_OP_GEMM, 16);
    o->gemm = (sem_gemm){(int)t, 1, 32, 4, 0, 1, 0, 0};
    sem_ir_range(ir, o, K0, t * 128, SEM_R);
    sem_ir_range(ir, o, Q0, 512, SEM_R);
    sem_ir_range(ir, o, S0, t * 16, SEM_RW);
    sem_ir_commit(ir, 128);
    o = sem_ir_stage(ir, SEM_OP_GEMM, 16);
    o->gemm = (sem_gemm){32, 1, (int)t, 4, 0, 0, 0, 0};
    sem_ir_range(ir, o, V0, t * 128, SEM_R);
    sem_ir_range(ir, o, S0, t * 16, SEM_R);
    sem_ir_range(ir, o, VA, 512, SEM_RW);
    sem_ir_commit(ir, 128);
    o = sem_ir_stage(ir, SEM_OP_D2H, 16);
    sem_ir_range(ir, o, K0 + 64, 64, SEM_R); /* a copy out of the K cache */
    sem_ir_commit(ir, 32);
}

Test(sem_kv, marks_exactly_the_growing_reads)
{
    sem_policy p = pol();
    sem_kv kv = {0};
    sem_ir ir = {0};
    uint64_t h2d, d2h;
    attention(&ir, 16); /* the prefill */
    cr_assert_eq(sem_pass_kv(&p, &kv, &ir), 0);
    attention(&ir, 17);
    cr_assert_eq(sem_pass_kv(&p, &kv, &ir), 0, "marked after one growth");
    sem_kv_wire(&kv, &ir, &h2d, &d2h);
    cr_assert_eq(d2h, 0, "nothing marked yet");
    attention(&ir, 18);
    cr_assert_eq(sem_pass_kv(&p, &kv, &ir), 2);
    cr_assert_eq(kv.nmarked, 2);
    cr_assert(sem_kv_contains(&kv, K0, 1));
    cr_assert(sem_kv_contains(&kv, V0 + 18 * 128 - 1, 1));
    cr_assert_not(sem_kv_contains(&kv, Q0, 512), "the query is not a cache");
    cr_assert_not(sem_kv_contains(&kv, S0, 16), "the scores (written by a product) are not");
    sem_kv_wire(&kv, &ir, &h2d, &d2h);
    cr_assert_eq(h2d, 0);
    cr_assert_eq(d2h, 64, "the copy out of the K cache is KV on the wire");
    attention(&ir, 19);
    cr_assert_eq(sem_pass_kv(&p, &kv, &ir), 0, "marked once");
    cr_assert_eq(kv.nmarked, 2);
    /* a large upload into a marked cache never goes through the weight cache */
    sem_op up = {.kind = SEM_OP_H2D, .bulk_bytes = MiB};
    p.kv_bufs = &kv;
    cr_assert_eq(sem_pass_h2d_to(&p, &up, K0), SEM_H2D_DIRECT);
    cr_assert_eq(sem_pass_h2d_to(&p, &up, Q0), SEM_H2D_CACHED);
    p.kv = 0;
    cr_assert_eq(sem_pass_h2d_to(&p, &up, K0), SEM_H2D_CACHED);
    sem_kv_free(&kv);
    sem_ir_free(&ir);
}

Test(sem_kv, off_or_fixed_extents_mark_nothing)
{
    sem_policy p = pol();
    sem_kv kv = {0};
    sem_ir ir = {0};
    for (int i = 0; i < 5; i++) { /* a static cache: the same extent every step */
        attention(&ir, 64);
        cr_assert_eq(sem_pass_kv(&p, &kv, &ir), 0);
    }
    p.kv = 0;
    for (uint64_t t = 16; t < 22; t++) {
        attention(&ir, t);
        cr_assert_eq(sem_pass_kv(&p, &kv, &ir), 0);
    }
    cr_assert_eq(kv.nmarked, 0);
    sem_kv_free(&kv);
    sem_ir_free(&ir);
}
