/* batch.c — the batch: the one seam for recorded ops (begin, put, commit, roll back) and its flush. */
#include "shim/batch.h"

#include "shim/shim_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* remote op failures logged as warnings; later ones go to the debug log */
#define SHIM_REMOTE_ERRORS_LOGGED 8u

/* The batch (batch.h): nothing outside this file writes it. Lock held. */
shim_batch_state shim_batch_g;
#define B shim_batch_g

int (*shim_batch_fault)(int step);

#define step_fails shim_batch_step_fails

int shim_batch_init(void)
{
    SHIM_HELD();
    B.ops = B.nslots = B.next = 0;
    B.ext_bytes = B.reply_bytes = 0;
    return proto_frame_begin(&B.buf, PROTO_KIND_REQUEST, 0) ? GENIE_ENOMEM : 0;
}

/* ------------------------------------------------------------------ the seam ---- */

cudaError_t shim_batch_splice(shim_rec *r, const void *p, size_t n)
{
    if (step_fails(SHIM_STEP_SPLICE))
        return shim_set_error(cudaErrorMemoryAllocation);
    if (B.next == B.cap_ext) {
        uint32_t cap = B.cap_ext ? B.cap_ext * 2 : 8;
        proto_ext *e = realloc(B.ext, cap * sizeof *e);
        if (!e)
            return shim_set_error(cudaErrorMemoryAllocation);
        B.ext = e;
        B.cap_ext = cap;
    }
    size_t at;
    int rc = proto_rec_splice(&B.buf, r->mark, n, &at);
    if (rc)
        return shim_set_error(rc == GENIE_ENOMEM ? cudaErrorMemoryAllocation
                                                 : cudaErrorInvalidValue);
    B.ext[B.next++] = (proto_ext){at, p, n};
    B.ext_bytes += n;
    return cudaSuccess;
}

void shim_batch_want_reply(shim_rec *r, void *dst, uint64_t size)
{
    r->reply = 1;
    r->reply_dst = dst;
    r->reply_size = size;
}

void shim_batch_rollback(shim_rec *r)
{
    shim_g.ir.staged = 0; /* the staged descriptor, if any, goes with the record */
    B.buf.len = r->mark;
    B.next = r->next0;
    B.ext_bytes = r->ext_bytes0;
    r->committed = 0;
}

cudaError_t shim_batch_fail(shim_rec *r)
{
    shim_batch_rollback(r);
    return shim_set_error(cudaErrorMemoryAllocation);
}

/* Room for one more slot. 0 or -1. */
static int slot_reserve(void)
{
    if (step_fails(SHIM_STEP_SLOT))
        return -1;
    if (B.nslots < B.cap_slots)
        return 0;
    uint32_t cap = B.cap_slots ? B.cap_slots * 2 : 16;
    shim_slot *s = realloc(B.slots, cap * sizeof *s);
    if (!s)
        return -1;
    B.slots = s;
    B.cap_slots = cap;
    return 0;
}


static int may_go_nowait(void);

cudaError_t shim_batch_commit(shim_rec *r, uint32_t sid, unsigned flags)
{
    SHIM_HELD();
    if (__builtin_expect(shim_g.ncaptures != 0, 0) && sid != SHIM_NO_STREAM) {
        /* stream work while a capture runs: the capture takes it, or refuses it */
        cudaError_t ce;
        if (shim_capture_take(sid, B.buf.data + r->mark, B.buf.len - r->mark, &ce)) {
            shim_batch_rollback(r); /* moved (or dropped): never sent with the batch */
            r->captured = ce == cudaSuccess;
            return ce;
        }
    }
    if (r->reply && slot_reserve())
        return shim_batch_fail(r);
    /* nothing can fail from here on. The semantics IR gets the op's descriptor (staged by the
     * recorder with shim_sem_op; none staged: a barrier). The IR cannot fail the op: without
     * room it marks itself lost and the passes fail safe (semantics/sem.h). */
#ifndef GENIE_BENCH_NO_IR /* bench/micro/ab.sh's IR-off build: no delta, no checks */
    sem_ir_commit(&shim_g.ir, (uint32_t)(B.buf.len - r->mark));
#endif
    if (__builtin_expect(shim_trace_enabled, 0) && B.ops == 0) /* GENIE_TRACE_FILE */
        shim_trace_batch_first();
    if (r->reply) {
        shim_slot *s = &B.slots[B.nslots];
        memset(s, 0, sizeof *s);
        s->index = B.ops;
        s->dst = r->reply_dst;
        s->size = r->reply_size;
        r->slot = B.nslots++;
    }
    B.ops++;
    shim_g.stats.ops_recorded++;
    r->committed = 1;
    if (flags & SHIM_COMMIT_HOLD)
        return cudaSuccess;
    if (sem_pass_flush_due(&shim_g.pol, &shim_g.ir, B.buf.len)) {
        /* not a sync point: sent without waiting when non-blocking flushes are on */
        shim_g.stats.flush_threshold++;
        return shim_flush_nowait();
    }
    if (shim_g.naive) /* GENIE_NAIVE: one round trip per op */
        return shim_flush(SHIM_RT_SYNC);
    if (__builtin_expect(shim_g.pol.pipeline, 0) &&
        sem_pass_pipeline_due(&shim_g.pol, &shim_g.pipe, &shim_g.ir, B.buf.len + B.ext_bytes,
                              shim_g.pipe.chunks && shim_g.pol.cost ? genie_now_ns() : 0) &&
        may_go_nowait()) {
        /* GENIE_PIPELINE: this chunk runs on the executor while the program records the next */
        shim_g.pipe.chunks++;
        shim_g.stats.pipeline_chunks++;
        return shim_flush_nowait();
    }
    return cudaSuccess;
}

const shim_slot *shim_batch_result(uint32_t slot) { return &B.slots[slot]; }

int shim_batch_empty(void) { return B.ops == 0; }

uint64_t shim_batch_wire_bytes(void) { return B.ext_bytes + B.buf.len; }

uint64_t shim_batch_reply_bytes(void) { return B.reply_bytes; }

void shim_batch_note_reply_bytes(uint64_t n) { B.reply_bytes += n; }

int shim_batch_writes_into(const void *p, size_t n)
{
    if (shim_inflight_writes_into(p, n)) /* a batch sent before whose reply is still due */
        return 1;
    uintptr_t a = (uintptr_t)p;
    for (uint32_t i = 0; i < B.nslots; i++) {
        uintptr_t d = (uintptr_t)B.slots[i].dst;
        if (d && d < a + n && a < d + B.slots[i].size)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------- flush ---- */

/* Slots are added in op order, so their indices ascend: a binary search (a pitched D2H copy
 * adds one slot per row, thousands in one batch). */
static shim_slot *slot_for(shim_batch_reply *br, uint32_t index)
{
    uint32_t lo = 0, hi = br->nslots;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (br->slots[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < br->nslots && br->slots[lo].index == index ? &br->slots[lo] : NULL;
}

int shim_batch_reply_land(void *ud, const void *head, size_t head_n, uint64_t total,
                          proto_land_at *at)
{
    shim_batch_reply *br = ud;
    uint32_t index;
    uint64_t off, len;
    if (!proto_frame_find_data(head, head_n, total, &index, &off, &len) || !len)
        return 0;
    shim_slot *s = slot_for(br, index);
    if (!s || s->landed || !s->dst || s->size != len)
        return 0;
    s->landed = 1;
    *at = (proto_land_at){off, len, s->dst};
    return 1;
}

int shim_batch_reply_cb(void *ud, const proto_rec *r)
{
    shim_batch_reply *br = ud;
    switch (r->op) {
    case PROTO_OP_R_DATA: {
        proto_R_DATA d;
        if (proto_get_R_DATA(r, &d))
            return GENIE_EPROTO;
        shim_slot *s = slot_for(br, d.index);
        if (!s || d.data_len != s->size)
            return GENIE_EPROTO;
        if (!s->landed) /* else the bytes are in dst already, not in the reply */
            memcpy(s->dst, d.data, d.data_len);
        s->filled = 1;
        shim_g.stats.d2h_bytes += d.data_len;
        return 0;
    }
    case PROTO_OP_R_VALUE: {
        proto_R_VALUE v;
        if (proto_get_R_VALUE(r, &v))
            return GENIE_EPROTO;
        shim_slot *s = slot_for(br, v.index);
        if (!s)
            return GENIE_EPROTO;
        s->value = v.value;
        s->status = v.status;
        s->filled = 1;
        return 0;
    }
    case PROTO_OP_R_ERROR: {
        proto_R_ERROR e;
        if (proto_get_R_ERROR(r, &e))
            return GENIE_EPROTO;
        br->nerr++;
        if (e.index == PROTO_INDEX_DELTA) { /* not the program's error: the batch is resent */
            GENIE_DEBUG("genie-remote refused a BATCH_DELTA: %.*s", (int)e.msg_len,
                        (const char *)e.msg);
            br->delta_refused = 1;
            return 0;
        }
        /* The program sees only the error code, at this sync: the executor's words say
         * which op failed and why. The first few are warnings, the rest debug lines. */
        static _Atomic unsigned warned;
        unsigned n = atomic_fetch_add(&warned, 1);
        if (n < SHIM_REMOTE_ERRORS_LOGGED || genie_log_level >= GENIE_LOG_DEBUG)
            genie_log(n < SHIM_REMOTE_ERRORS_LOGGED ? GENIE_LOG_WARN : GENIE_LOG_DEBUG,
                      "genie-remote: op %u of the batch failed with %s (%d): %.*s%s", e.index,
                      cudaGetErrorName((cudaError_t)e.cuda_err), e.cuda_err, (int)e.msg_len,
                      (const char *)e.msg,
                      n + 1 == SHIM_REMOTE_ERRORS_LOGGED ? " (further remote errors: GENIE_LOG=debug)"
                                                         : "");
        if (br->err == cudaSuccess)
            br->err = (cudaError_t)e.cuda_err;
        return 0;
    }
    default:
        return 0;
    }
}

/* GENIE_SEM_DUMP: the batch about to go, as the passes saw it (docs/semantics.md). */
static void sem_dump(const sem_batch_decision *dec, size_t plen, int wait)
{
    static const char *const forms[] = {"plain", "template", "delta"};
    FILE *f = shim_g.sem_dump;
    fprintf(f, "batch %u form=%s ops=%u ir_bytes=%llu payload=%zu bulk=%llu lost=%d phase=%s wait=%d\n",
            shim_g.seq + 1, forms[dec->form], shim_g.ir.n,
            (unsigned long long)shim_g.ir.wire_bytes, plen, (unsigned long long)B.ext_bytes,
            shim_g.ir.lost, sem_phase_name(shim_g.phase), wait);
    sem_ir_print(f, &shim_g.ir);
    fflush(f);
}

/* The batch may go out without waiting for its reply: non-blocking flushes are on, every
 * slot is an R_DATA into the program's memory (an R_VALUE is asked for because someone waits
 * for it), and the reply is small enough to wait in the flow-control window. */
static int may_go_nowait(void)
{
    if (!shim_g.inflight_batches || B.reply_bytes > SHIM_INFLIGHT_REPLY_MAX)
        return 0;
    for (uint32_t i = 0; i < B.nslots; i++)
        if (!B.slots[i].dst)
            return 0;
    return 1;
}

/* The batch was sent (ce its fate): start the next one. */
static cudaError_t batch_reset(cudaError_t ce)
{
    B.next = 0; /* sent: the callers' buffers are theirs again */
    B.ext_bytes = 0;
    B.ops = 0;
    B.nslots = 0;
    B.reply_bytes = 0;
    shim_g.clean = ce == cudaSuccess ? shim_g.clean_after : SHIM_CLEAN_NONE;
    shim_g.clean_after = SHIM_CLEAN_NONE;
    sem_ir_reset(&shim_g.ir);
    if (proto_frame_begin(&B.buf, PROTO_KIND_REQUEST, 0))
        return shim_lost("batch", GENIE_ENOMEM);
    return ce;
}

/* The error a waiting flush returns: the first one not yet returned of a batch sent before
 * (in flight) comes first, then this batch's own. */
static cudaError_t waited_error(cudaError_t own)
{
    cudaError_t early = shim_inflight_error();
    return shim_async_error(early != cudaSuccess ? early : own);
}

cudaError_t shim_flush_nowait(void)
{
    SHIM_HELD();
    if (B.ops == 0)
        return cudaSuccess;
    if (!may_go_nowait())
        return shim_flush(SHIM_RT_SYNC);
    if (shim_g.pol.branches) /* GENIE_PARALLEL_BRANCHES: its BRANCHES record goes last */
        shim_branches_annotate();
    size_t plen = B.buf.len - PROTO_HDR_SIZE;
    if (shim_trace_enabled)
        shim_trace_recording(B.ops, plen + B.ext_bytes);
    if (shim_g.sem_dump) {
        sem_batch_decision plain = {SEM_BATCH_PLAIN, 0};
        sem_dump(&plain, plen, 0);
    }
    /* Plain, never a template: whether it ran cleanly is known only later, and both sides
     * must agree on the template at each frame. An unflagged frame leaves the executor's
     * template alone, so a delta after it still matches. */
    proto_frame_set_flags(&B.buf, 0);
    shim_phase_before(0); /* GENIE_PHASE, GENIE_KV_COLOCATE: a pipeline chunk has a phase too */
    uint64_t sent0 = shim_g.stats.bytes_sent;
    if (shim_g.pol.pipeline) /* GENIE_PIPELINE_COST: the executor's estimated work in flight */
        sem_pipe_sent(&shim_g.pol, &shim_g.pipe, &shim_g.ir, B.buf.len + B.ext_bytes,
                      genie_now_ns());
    cudaError_t ce = shim_inflight_send(&B.buf, B.ext, B.next, B.slots, B.nslots, B.reply_bytes);
    shim_phase_after(sent0);
    return batch_reset(ce);
}

cudaError_t shim_flush(int kind)
{
    SHIM_HELD();
    sem_pipe_reset(&shim_g.pipe); /* a flush that waits ends the pipeline's run of chunks */
    if (B.ops == 0) {
        /* nothing recorded, but batches in flight are waited for: a sync waits for them all */
        if (!shim_inflight_count())
            return waited_error(cudaSuccess);
        cudaError_t ce = shim_inflight_drain();
        return ce != cudaSuccess ? ce : waited_error(cudaSuccess);
    }
    if (shim_g.pol.branches) /* GENIE_PARALLEL_BRANCHES: its BRANCHES record goes last */
        shim_branches_annotate();
    shim_batch_reply br = {cudaSuccess, 0, 0, B.slots, B.nslots};
    cudaError_t ce;
    size_t plen = B.buf.len - PROTO_HDR_SIZE;
    if (shim_trace_enabled)
        shim_trace_recording(B.ops, plen + B.ext_bytes);
#if !defined NDEBUG && !defined GENIE_BENCH_NO_IR
    /* every record of the batch has its descriptor (the commit appends them) */
    if (!shim_g.ir.lost && (shim_g.ir.wire_bytes != plen || shim_g.ir.n != B.ops)) {
        GENIE_ERROR("semantics IR out of step with the batch: %u ops / %llu bytes described, "
                    "%u ops / %zu bytes recorded", shim_g.ir.n,
                    (unsigned long long)shim_g.ir.wire_bytes, B.ops, plen);
        abort();
    }
#endif
    /* The repeated-batch pass (GENIE_GRAPH_REPLAY): a plain batch is a template, sent as a
     * delta of the last one when it holds the same ops and the delta is much smaller
     * (shim/delta.c). Both sides keep a template only after a batch with no R_ERROR, so they
     * hold the same bytes. */
    sem_batch_decision dec = sem_pass_batch(&shim_g.pol, &shim_g.rep, &shim_g.ir, plen, B.next != 0);
    shim_phase_before(dec.form == SEM_BATCH_DELTA); /* GENIE_PHASE, GENIE_KV_COLOCATE */
    uint64_t sent0 = shim_g.stats.bytes_sent;
    if (shim_g.sem_dump)
        sem_dump(&dec, plen, 1);
    if (dec.form != SEM_BATCH_PLAIN) {
        shim_g.stats.batches_template++;
        const uint8_t *cur = B.buf.data + PROTO_HDR_SIZE;
        proto_frame_set_flags(&B.buf, dec.frame_flags & SEM_FRAME_TEMPLATE ? PROTO_FRAME_TEMPLATE : 0);
        genie_buf *sent = &B.buf;
        genie_buf *delta = dec.form == SEM_BATCH_DELTA ? shim_delta_build(cur, plen) : NULL;
        if (delta) {
            ce = shim_call_framev(delta, NULL, 0, kind, shim_batch_reply_cb, &br);
            if (ce == cudaSuccess && br.delta_refused) { /* resend in full */
                GENIE_DEBUG("BATCH_DELTA refused: sending the batch in full");
                br = (shim_batch_reply){cudaSuccess, 0, 0, B.slots, B.nslots};
                ce = shim_call_framev(&B.buf, NULL, 0, kind, shim_batch_reply_cb, &br);
            } else if (ce == cudaSuccess) {
                sent = delta;
                shim_g.stats.batches_delta++;
                shim_g.stats.delta_bytes_saved += B.buf.len - delta->len;
            }
        } else {
            ce = shim_call_framev(&B.buf, NULL, 0, kind, shim_batch_reply_cb, &br);
        }
        int clean = ce == cudaSuccess && br.nerr == 0;
        if (sem_repeat_after(&shim_g.rep, &shim_g.ir, plen, clean) == 0 && shim_g.rep.ok)
            shim_delta_keep(cur, plen, proto_frame_peek_seq(sent->data), sent != &B.buf);
    } else {
        proto_frame_set_flags(&B.buf, 0);
        ce = shim_call_framev(&B.buf, B.ext, B.next, kind, shim_batch_reply_cb, &br);
    }
    if (ce == cudaSuccess) /* its reply was the last read: the cost model learns from it */
        shim_cost_exec_sample(&shim_g.ir, shim_g.stats.last_exec_ns);
    shim_phase_after(sent0);
    ce = batch_reset(ce);
    if (ce != cudaSuccess)
        return ce;
    return waited_error(br.err);
}
