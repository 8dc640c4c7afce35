/* phase.c — the phase pass (GENIE_PHASE): prefill or decode, from the batch's GEMM shapes and
 * whether it repeats the last batch. */
#include "semantics/sem.h"

uint32_t sem_batch_tokens(const sem_ir *ir)
{
    uint32_t tokens = 0;
    for (uint32_t i = 0; i < ir->n; i++) {
        const sem_op *o = &ir->ops[i];
        /* a linear layer: C[m x n] = W x, n the tokens; attention's products are batched over
         * heads and their n is a sequence length, so they do not count */
        if (o->kind != SEM_OP_GEMM || o->gemm.batch > 1 || o->gemm.n <= 0)
            continue;
        if (!tokens || (uint32_t)o->gemm.n < tokens)
            tokens = (uint32_t)o->gemm.n;
    }
    return tokens;
}

sem_phase sem_pass_phase(const sem_policy *p, const sem_ir *ir, int repeated)
{
    if (!p->phase || ir->lost)
        return SEM_PHASE_OTHER;
    uint32_t tokens = sem_batch_tokens(ir);
    if (!tokens)
        return SEM_PHASE_OTHER;
    /* A repeated batch is a step of a loop: decode (a batched decode over a few sequences has
     * N = sequences, not 1). A first batch over many tokens is a prefill. */
    if (repeated || tokens <= p->decode_tokens)
        return SEM_PHASE_DECODE;
    return SEM_PHASE_PREFILL;
}

const char *sem_phase_name(sem_phase ph)
{
    static const char *const names[SEM_PHASE__COUNT] = {"other", "prefill", "decode"};
    return (unsigned)ph < SEM_PHASE__COUNT ? names[ph] : "?";
}
