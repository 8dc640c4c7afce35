/* test_ir.c — tests semantics/ir.c: staging, committing, rolling back, parameter scans. */
#include <criterion/criterion.h>
#include <string.h>

#include "semantics/sem.h"

#define VA 0x200000000000ull
#define VA_SIZE (64ull << 30)

Test(sem_ir, stage_commit_and_ranges)
{
    sem_ir ir = {0};
    sem_op *o = sem_ir_stage(&ir, SEM_OP_D2D, 7);
    sem_ir_range(&ir, o, VA, 64, SEM_R);
    sem_ir_range(&ir, o, VA + 64, 64, SEM_W);
    sem_ir_commit(&ir, 48);
    o = sem_ir_stage(&ir, SEM_OP_MEMSET, 0);
    sem_ir_range(&ir, o, VA + 128, 32, SEM_W);
    sem_ir_commit(&ir, 40);
    cr_assert_eq(ir.n, 2);
    cr_assert_eq(ir.nranges, 3);
    cr_assert_eq(ir.wire_bytes, 88);
    cr_assert_eq(ir.ops[0].kind, SEM_OP_D2D);
    cr_assert_eq(ir.ops[0].stream, 7);
    cr_assert_eq(ir.ops[0].wire_bytes, 48);
    cr_assert_eq(ir.ops[0].nranges, 2);
    const sem_range *r = sem_op_ranges(&ir, &ir.ops[1]);
    cr_assert_eq(r->ptr, VA + 128);
    cr_assert_eq(r->mode, SEM_W);
    cr_assert_not(ir.lost);
    sem_ir_free(&ir);
}

Test(sem_ir, a_staged_op_not_committed_leaves_nothing)
{
    sem_ir ir = {0};
    sem_op *o = sem_ir_stage(&ir, SEM_OP_LAUNCH, 0);
    sem_ir_range(&ir, o, VA, 8, SEM_RW);
    /* rolled back: the next stage replaces it, ranges and all */
    o = sem_ir_stage(&ir, SEM_OP_MEMSET, 0);
    sem_ir_range(&ir, o, VA + 8, 8, SEM_W);
    sem_ir_commit(&ir, 40);
    cr_assert_eq(ir.n, 1);
    cr_assert_eq(ir.nranges, 1);
    cr_assert_eq(ir.ops[0].kind, SEM_OP_MEMSET);
    cr_assert_eq(sem_op_ranges(&ir, &ir.ops[0])->ptr, VA + 8);
    sem_ir_free(&ir);
}

Test(sem_ir, uncommit_and_undescribed_commit)
{
    sem_ir ir = {0};
    sem_op *o = sem_ir_stage(&ir, SEM_OP_H2D, 0);
    sem_ir_range(&ir, o, VA, 8, SEM_W);
    sem_ir_commit(&ir, 32);
    sem_ir_uncommit(&ir);
    cr_assert_eq(ir.n, 0);
    cr_assert_eq(ir.nranges, 0);
    cr_assert_eq(ir.wire_bytes, 0);
    /* a commit with nothing staged is a barrier of kind OTHER, never silently absent */
    sem_ir_commit(&ir, 24);
    cr_assert_eq(ir.n, 1);
    cr_assert_eq(ir.ops[0].kind, SEM_OP_OTHER);
    cr_assert_eq(ir.wire_bytes, 24);
    sem_ir_reset(&ir);
    cr_assert_eq(ir.n, 0);
    cr_assert_eq(ir.wire_bytes, 0);
    cr_assert_not_null(ir.ops, "a reset keeps the arrays");
    sem_ir_free(&ir);
}

Test(sem_ir, grows_past_its_first_arrays)
{
    sem_ir ir = {0};
    for (uint32_t i = 0; i < 5000; i++) {
        sem_op *o = sem_ir_stage(&ir, SEM_OP_LAUNCH, i % 3);
        o->func = i;
        for (uint32_t k = 0; k < 3; k++)
            sem_ir_range(&ir, o, VA + i * 64 + k * 8, 8, SEM_RW);
        sem_ir_commit(&ir, 64);
    }
    cr_assert_eq(ir.n, 5000);
    cr_assert_eq(ir.nranges, 15000);
    cr_assert_not(ir.lost);
    for (uint32_t i = 0; i < 5000; i += 777) {
        cr_assert_eq(ir.ops[i].func, i);
        cr_assert_eq(sem_op_ranges(&ir, &ir.ops[i])[2].ptr, VA + i * 64 + 16);
    }
    sem_ir_free(&ir);
}

Test(sem_ir, parameter_words_inside_the_range_are_buffers)
{
    sem_ir ir = {0};
    uint64_t params[6] = {
        VA + 0x1000,           /* a pointer */
        42,                    /* a size */
        VA - 1,                /* just below */
        VA + VA_SIZE,          /* just past */
        VA + VA_SIZE - 1,      /* the last byte */
        0,
    };
    sem_op *o = sem_ir_stage(&ir, SEM_OP_LAUNCH, 0);
    uint32_t k = sem_ir_scan_params(&ir, o, (const uint8_t *)params, sizeof params, VA, VA_SIZE);
    cr_assert_eq(k, 2);
    sem_ir_commit(&ir, 80);
    const sem_range *r = sem_op_ranges(&ir, &ir.ops[0]);
    cr_assert_eq(r[0].ptr, VA + 0x1000);
    cr_assert_eq(r[0].size, SEM_SIZE_UNKNOWN);
    cr_assert_eq(r[0].mode, SEM_RW);
    cr_assert_eq(r[1].ptr, VA + VA_SIZE - 1);
    /* a trailing partial word is not read */
    o = sem_ir_stage(&ir, SEM_OP_LAUNCH, 0);
    cr_assert_eq(sem_ir_scan_params(&ir, o, (const uint8_t *)params, 7, VA, VA_SIZE), 0);
    sem_ir_free(&ir);
}

Test(sem_ir, a_pointer_passed_twice_in_a_row_is_one_range)
{
    sem_ir ir = {0};
    uint64_t params[4] = {VA + 64, VA + 64, VA + 128, VA + 64};
    sem_op *o = sem_ir_stage(&ir, SEM_OP_LAUNCH, 0);
    cr_assert_eq(sem_ir_scan_params(&ir, o, (const uint8_t *)params, sizeof params, VA, VA_SIZE),
                 3);
    sem_ir_commit(&ir, 64);
    const sem_range *r = sem_op_ranges(&ir, &ir.ops[0]);
    cr_assert_eq(r[0].ptr, VA + 64);
    cr_assert_eq(r[1].ptr, VA + 128);
    cr_assert_eq(r[2].ptr, VA + 64);
    /* sizes past 62 bits saturate instead of wrapping into the mode */
    o = sem_ir_stage(&ir, SEM_OP_D2D, 0);
    sem_ir_range(&ir, o, VA, UINT64_MAX - 1, SEM_R);
    sem_ir_commit(&ir, 40);
    r = sem_op_ranges(&ir, &ir.ops[1]);
    cr_assert_eq(r->size, SEM_SIZE_MAX);
    cr_assert_eq(r->mode, SEM_R);
    cr_assert_eq((uintptr_t)ir.ops % 64, 0, "ops are cache-line aligned");
    sem_ir_free(&ir);
}
