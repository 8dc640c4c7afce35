/* passes.c — the passes over the IR: the flush threshold, sync elision, the pipeline's chunks, the
 * H2D (weight-cache) policy and the repeated-batch (delta/template) decision. */
#include "semantics/sem.h"

#include <stdlib.h>

/* ---- flush decisions ---- */

int sem_pass_flush_due(const sem_policy *p, const sem_ir *ir, uint64_t batch_len)
{
    (void)ir; /* the first policy looks at size alone; later ones (pipelining) at the ops */
    return batch_len >= p->batch_bytes;
}

/* ---- sync elision ---- */

int sem_pass_sync_elide(const sem_policy *p, const sem_ir *ir)
{
    if (!p->sync_elision || ir->lost)
        return 0;
    for (uint32_t i = 0; i < ir->n; i++)
        switch (ir->ops[i].kind) {
        case SEM_OP_D2H:
        case SEM_OP_EVENT_RECORD:
        case SEM_OP_SYNC:
        case SEM_OP_OTHER:
            return 0;
        case SEM_OP_LAUNCH:
        case SEM_OP_GEMM:
        case SEM_OP_LIB:
        case SEM_OP_GRAPH:
            /* work that can fail on the device: the program's sync would report it */
            if (p->sync_elision < SEM_ELIDE_ALL)
                return 0;
            break;
        default:
            break;
        }
    return 1;
}

/* ---- the pipeline pass ---- */

int sem_pass_pipeline_due(const sem_policy *p, const sem_pipe *pp, const sem_ir *ir,
                          uint64_t batch_bytes, uint64_t now_ns)
{
    if (!p->pipeline || ir->lost)
        return 0;
    if (pp->chunks && p->cost) {
        /* sized by the cost model: cut once waiting longer would leave the executor idle
         * before this chunk arrives */
        if (ir->n < p->pipe_first)
            return 0;
        if (ir->n >= p->pipe_max)
            return 1;
        return (double)now_ns + sem_cost_wire(p->cost, batch_bytes) >= pp->idle_ns;
    }
    uint64_t want = (uint64_t)p->pipe_first << (pp->chunks < 16 ? pp->chunks : 16);
    if (want > p->pipe_max)
        want = p->pipe_max;
    if (ir->n < want)
        return 0;
    if (pp->chunks)
        return 1;
    /* the first chunk: is there a wide product? Looked for once per want ops, in the ops
     * added since the last look, so a long batch without one costs linear time. */
    if (ir->n % want)
        return 0;
    for (uint32_t i = ir->n - (uint32_t)want; i < ir->n; i++)
        if (ir->ops[i].kind == SEM_OP_GEMM && ir->ops[i].gemm.n > 1)
            return 1;
    return 0;
}

void sem_pipe_sent(const sem_policy *p, sem_pipe *pp, const sem_ir *ir, uint64_t bytes,
                   uint64_t now_ns)
{
    if (!p->cost)
        return;
    double arrive = (double)now_ns + sem_cost_wire(p->cost, bytes);
    double start = arrive > pp->idle_ns ? arrive : pp->idle_ns;
    pp->idle_ns = start + sem_cost_device(p->cost, ir);
}

/* ---- the H2D policy ---- */

sem_h2d sem_pass_h2d(const sem_policy *p, const sem_op *o)
{
    /* Small copies are captured into the batch: the bytes are cheap and the caller's buffer
     * is free at once. Large ones to a remote go from the caller's memory (no copy into the
     * batch), and while the weight cache is on, by content hash first. In-process, the
     * executor reads the batch directly: nothing to gain. */
    if (o->kind != SEM_OP_H2D || !p->remote || o->bulk_bytes < p->direct_min)
        return SEM_H2D_INLINE;
    return p->weight_cache ? SEM_H2D_CACHED : SEM_H2D_DIRECT;
}

sem_h2d sem_pass_h2d_to(const sem_policy *p, const sem_op *o, uint64_t dst)
{
    sem_h2d h = sem_pass_h2d(p, o);
    /* A KV cache shipped from the host changes every step: hashing it for the weight cache
     * would only fill the cache with pieces never asked for again. */
    if (h == SEM_H2D_CACHED && p->kv && sem_kv_contains(p->kv_bufs, dst, o->bulk_bytes))
        return SEM_H2D_DIRECT;
    return h;
}

/* ---- the repeated-batch pass ---- */

/* An op's signature: what must match for two batches to be the same ops in the same order
 * with the same record lengths (the records' headers then match too, up to the padding). */
static uint64_t sig_of(const sem_op *o) { return (uint64_t)o->wire_op << 32 | o->wire_bytes; }

static int same_ops(const sem_repeat *r, const sem_ir *ir)
{
    if (r->n != ir->n)
        return 0;
    for (uint32_t i = 0; i < ir->n; i++)
        if (r->sig[i] != sig_of(&ir->ops[i]))
            return 0;
    return 1;
}

sem_batch_decision sem_pass_batch(const sem_policy *p, const sem_repeat *r, const sem_ir *ir,
                                  uint64_t payload_len, int has_bulk)
{
    sem_batch_decision d = {SEM_BATCH_PLAIN, 0};
    /* Bulk payload is the caller's memory, gone after the call: never a template. */
    if (!p->repeat || has_bulk || payload_len > p->template_max)
        return d;
    d.form = SEM_BATCH_TEMPLATE;
    d.frame_flags = SEM_FRAME_TEMPLATE;
    /* A delta only when the IR describes the whole payload (a lost IR, or a recorder that
     * wrote bytes it did not describe, fails safe: sent in full) and matches the template. */
    if (r->ok && !ir->lost && ir->wire_bytes == payload_len && r->len == payload_len &&
        same_ops(r, ir))
        d.form = SEM_BATCH_DELTA;
    return d;
}

int sem_repeat_after(sem_repeat *r, const sem_ir *ir, uint64_t payload_len, int clean)
{
    r->ok = 0;
    if (!clean || ir->lost || ir->wire_bytes != payload_len)
        return 0;
    if (ir->n > r->cap) {
        uint32_t cap = r->cap ? r->cap : 256;
        while (cap < ir->n)
            cap *= 2;
        uint64_t *s = realloc(r->sig, (size_t)cap * sizeof *s);
        if (!s)
            return -1;
        r->sig = s;
        r->cap = cap;
    }
    for (uint32_t i = 0; i < ir->n; i++)
        r->sig[i] = sig_of(&ir->ops[i]);
    r->n = ir->n;
    r->len = payload_len;
    r->ok = 1;
    return 0;
}

void sem_repeat_drop(sem_repeat *r) { r->ok = 0; }

void sem_repeat_free(sem_repeat *r)
{
    free(r->sig);
    *r = (sem_repeat){0};
}
