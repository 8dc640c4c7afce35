/* ir.c — the semantics IR's side arrays: staging, committing and rewinding op descriptors. */
#include "semantics/sem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sem_ir_reset(sem_ir *ir)
{
    ir->n = 0;
    ir->nranges = 0;
    ir->wire_bytes = 0;
    ir->lost = 0;
    ir->staged = 0;
}

void sem_ir_free(sem_ir *ir)
{
    free(ir->ops);
    free(ir->ranges);
    memset(ir, 0, sizeof *ir);
}

/* A copy of n bytes of old in a new block aligned to a cache line (an op is one line), or NULL. */
static void *grow_aligned(void *old, size_t n_old, size_t n_new)
{
    void *p = aligned_alloc(64, (n_new + 63) & ~(size_t)63);
    if (!p)
        return NULL;
    if (n_old)
        memcpy(p, old, n_old);
    free(old);
    return p;
}

int sem_ir_grow_(sem_ir *ir, int what)
{
    if (what == 1) {
        uint32_t cap = ir->cap ? ir->cap * 2 : 256;
        sem_op *o = cap > ir->cap ? grow_aligned(ir->ops, (size_t)ir->n * sizeof *o,
                                                 (size_t)cap * sizeof *o)
                                  : NULL;
        if (!o) {
            ir->lost = 1;
            return -1;
        }
        ir->ops = o;
        ir->cap = cap;
        return 0;
    }
    uint32_t cap = ir->cap_ranges ? ir->cap_ranges * 2 : 512;
    sem_range *r = cap > ir->cap_ranges ? realloc(ir->ranges, (size_t)cap * sizeof *r) : NULL;
    if (!r) {
        ir->lost = 1;
        return -1;
    }
    ir->ranges = r;
    ir->cap_ranges = cap;
    return 0;
}

void sem_ir_commit_slow_(sem_ir *ir, uint32_t wire_bytes)
{
    if (!ir->staged)
        sem_ir_stage(ir, SEM_OP_OTHER, 0);
    ir->staged = 0;
    ir->wire_bytes += wire_bytes;
    if (ir->lost || ir->n == ir->cap)
        return; /* the descriptor went to scratch: the IR is incomplete */
    sem_op *o = &ir->ops[ir->n++];
    o->wire_bytes = wire_bytes;
    ir->nranges = o->first_range + o->nranges;
}

void sem_ir_uncommit(sem_ir *ir)
{
    ir->staged = 0;
    if (ir->lost || ir->n == 0) {
        ir->lost = 1; /* cannot tell which op went: give up on this batch */
        return;
    }
    sem_op *o = &ir->ops[--ir->n];
    ir->wire_bytes -= o->wire_bytes;
    ir->nranges = o->first_range;
}

const char *sem_kind_name(unsigned kind)
{
    static const char *const names[SEM_OP__COUNT] = {
        [SEM_OP_OTHER] = "other",   [SEM_OP_LAUNCH] = "launch",
        [SEM_OP_H2D] = "h2d",       [SEM_OP_D2H] = "d2h",
        [SEM_OP_D2D] = "d2d",       [SEM_OP_MEMSET] = "memset",
        [SEM_OP_GEMM] = "gemm",     [SEM_OP_LIB] = "lib",
        [SEM_OP_EVENT_RECORD] = "event_record", [SEM_OP_STREAM_WAIT] = "stream_wait",
        [SEM_OP_SYNC] = "sync",     [SEM_OP_MEM] = "mem",
        [SEM_OP_HANDLE] = "handle", [SEM_OP_GRAPH] = "graph",
    };
    return kind < SEM_OP__COUNT ? names[kind] : "?";
}

void sem_ir_print(void *fp, const sem_ir *ir)
{
    FILE *f = fp;
    for (uint32_t i = 0; i < ir->n; i++) {
        const sem_op *o = &ir->ops[i];
        fprintf(f, "%s stream=%u op=0x%04x bytes=%u bulk=%llu ranges=%u", sem_kind_name(o->kind),
                o->stream, o->wire_op, o->wire_bytes, (unsigned long long)o->bulk_bytes,
                o->nranges);
        if (o->kind == SEM_OP_LAUNCH)
            fprintf(f, " func=%u", o->func);
        else if (o->event)
            fprintf(f, " event=%u", o->event);
        if (o->api)
            fprintf(f, " api=0x%04x", o->api);
        for (uint32_t k = 0; k < o->nranges; k++) {
            const sem_range *r = &ir->ranges[o->first_range + k];
            static const char *const m[4] = {"-", "R", "W", "RW"};
            fprintf(f, "%s%s", k ? "," : " use=", m[r->mode & 3]);
            if (r->size == SEM_SIZE_UNKNOWN)
                fputc('?', f);
            else
                fprintf(f, "%llu", (unsigned long long)r->size);
        }
        if (o->site)
            fprintf(f, " site=%#llx", (unsigned long long)o->site);
        if (o->kind == SEM_OP_GEMM)
            fprintf(f, " gemm=%dx%dx%d batch=%d dtype=%d trans=%c%c", o->gemm.m, o->gemm.n,
                    o->gemm.k, o->gemm.batch, o->gemm.dtype, "NTC?"[o->gemm.transa & 3],
                    "NTC?"[o->gemm.transb & 3]);
        fputc('\n', f);
    }
}
