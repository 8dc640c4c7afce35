/* kv.c — KV cache identification (GENIE_KV_COLOCATE): ranges attention reads from a fixed start
 * over an extent that grows step after step. */
#include "semantics/sem.h"

#include <stdlib.h>

static int written_by_gemm(const sem_ir *ir, uint64_t ptr)
{
    for (uint32_t i = 0; i < ir->n; i++) {
        const sem_op *o = &ir->ops[i];
        if (o->kind != SEM_OP_GEMM)
            continue;
        const sem_range *r = sem_op_ranges(ir, o);
        for (uint32_t k = 0; k < o->nranges; k++)
            if ((r[k].mode & SEM_W) && r[k].ptr <= ptr &&
                (r[k].size == SEM_SIZE_UNKNOWN || ptr - r[k].ptr < r[k].size))
                return 1;
    }
    return 0;
}

static sem_kv_buf *find(sem_kv *kv, uint64_t ptr)
{
    for (uint32_t i = 0; i < kv->n; i++)
        if (kv->b[i].ptr == ptr)
            return &kv->b[i];
    return NULL;
}

/* The most ranges followed: attention reads two per layer; a model has at most a few hundred. */
#define SEM_KV_MAX 4096u

int sem_pass_kv(const sem_policy *p, sem_kv *kv, const sem_ir *ir)
{
    if (!p->kv || ir->lost)
        return 0;
    int marked = 0;
    kv->batches++;
    for (uint32_t i = 0; i < ir->n; i++) {
        const sem_op *o = &ir->ops[i];
        if (o->kind != SEM_OP_GEMM || o->gemm.batch <= 1)
            continue;
        const sem_range *r = sem_op_ranges(ir, o);
        for (uint32_t k = 0; k < o->nranges; k++) {
            if (r[k].mode != SEM_R || r[k].size == SEM_SIZE_UNKNOWN)
                continue;
            if (written_by_gemm(ir, r[k].ptr)) /* attention scores: a product writes them */
                continue;
            sem_kv_buf *b = find(kv, r[k].ptr);
            if (!b) {
                if (kv->n == kv->cap) {
                    uint32_t cap = kv->cap ? 2 * kv->cap : 64;
                    sem_kv_buf *nb = cap <= SEM_KV_MAX ? realloc(kv->b, cap * sizeof *nb) : NULL;
                    if (!nb)
                        return marked ? marked : -1;
                    kv->b = nb;
                    kv->cap = cap;
                }
                kv->b[kv->n++] = (sem_kv_buf){.ptr = r[k].ptr, .size = r[k].size};
                continue;
            }
            if (r[k].size > b->size)
                b->grew++;
            else if (r[k].size < b->size)
                b->grew = 0; /* shrank: a new sequence (or not a cache) */
            b->size = r[k].size > b->size || !b->marked ? r[k].size : b->size;
            if (!b->marked && b->grew >= SEM_KV_GROWS) {
                b->marked = kv->batches;
                kv->nmarked++;
                marked++;
            }
        }
    }
    return marked;
}

int sem_kv_contains(const sem_kv *kv, uint64_t ptr, uint64_t n)
{
    if (!kv)
        return 0;
    for (uint32_t i = 0; i < kv->n; i++) {
        const sem_kv_buf *b = &kv->b[i];
        if (b->marked && ptr < b->ptr + b->size && b->ptr < ptr + (n ? n : 1))
            return 1;
    }
    return 0;
}

void sem_kv_wire(const sem_kv *kv, const sem_ir *ir, uint64_t *h2d, uint64_t *d2h)
{
    *h2d = *d2h = 0;
    if (!kv || !kv->nmarked || ir->lost)
        return;
    for (uint32_t i = 0; i < ir->n; i++) {
        const sem_op *o = &ir->ops[i];
        if ((o->kind != SEM_OP_H2D && o->kind != SEM_OP_D2H) || !o->nranges)
            continue;
        const sem_range *r = sem_op_ranges(ir, o);
        if (!sem_kv_contains(kv, r[0].ptr, r[0].size))
            continue;
        if (o->kind == SEM_OP_H2D)
            *h2d += r[0].size;
        else
            *d2h += r[0].size;
    }
}

void sem_kv_free(sem_kv *kv)
{
    free(kv->b);
    *kv = (sem_kv){0};
}
