/* ir.c — the semantics IR's side arrays: staging, committing and rewinding op descriptors. */
#include "semantics/sem.h"

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

int sem_ir_grow_(sem_ir *ir, int what)
{
    if (what == 1) {
        uint32_t cap = ir->cap ? ir->cap * 2 : 256;
        sem_op *o = cap > ir->cap ? realloc(ir->ops, (size_t)cap * sizeof *o) : NULL;
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

void sem_ir_commit(sem_ir *ir, uint32_t wire_bytes)
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

uint32_t sem_ir_scan_params(sem_ir *ir, sem_op *o, const uint8_t *params, size_t n,
                            uint64_t va_base, uint64_t va_size)
{
    uint32_t added = 0;
    for (size_t off = 0; off + 8 <= n; off += 8) {
        uint64_t w;
        memcpy(&w, params + off, 8);
        if (w - va_base < va_size) { /* unsigned: below va_base wraps past va_size */
            sem_ir_range(ir, o, w, SEM_SIZE_UNKNOWN, SEM_RW);
            added++;
        }
    }
    return added;
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
