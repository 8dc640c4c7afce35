/* delta.c — GENIE_GRAPH_REPLAY on the client: the kept template batch and a batch as a BATCH_DELTA of it. */
#include "shim/shim_int.h"

#include "protocol/delta.h"

#include <stdio.h>
#include <string.h>

/* The payload of the last template frame that ran cleanly (sent as frame seq), which the
 * executor keeps too; valid while the repeated-batch pass says so (shim_g.rep.ok). With it,
 * the runs of the delta that made it (layout_ok), which the executor keeps too: a delta whose
 * changes all fall inside them goes as their bytes alone (PROTO_DELTA_SAME_LAYOUT). pend is
 * the layout of the delta last built, the template's once that batch is kept. Lock held. */
static struct {
    uint32_t seq;
    genie_buf tmpl, delta, patches, same;
    genie_buf pred, rpatches; /* GENIE_DELTA_REF: the template's prediction, the list against it */
    proto_delta_refs refs;
    genie_buf z, zscratch; /* the compressed patches (GENIE_DELTA_DEFLATE), igzip's memory */
    proto_delta_layout layout, pend, scratch;
    int layout_ok, pend_ok;
} D;

void shim_delta_keep(const uint8_t *cur, size_t n, uint32_t seq, int was_delta)
{
    D.layout_ok = 0;
    genie_buf_reset(&D.tmpl);
    if (genie_buf_append(&D.tmpl, cur, n)) {
        sem_repeat_drop(&shim_g.rep);
        return;
    }
    D.seq = seq;
    if (was_delta && D.pend_ok) {
        proto_delta_layout t = D.layout;
        D.layout = D.pend;
        D.pend = t;
        D.layout_ok = 1;
    }
}

/* GENIE_SEM_DUMP: each run of bytes that differ from the template (merged as the encoder
 * merges them), with the op it falls in and its offset in that op's record, old and new bytes:
 * what a decode step's delta is made of. */
static void dump_changes(FILE *f, const uint8_t *cur, const uint8_t *old, size_t n)
{
    const sem_ir *ir = &shim_g.ir;
    uint32_t op = 0;
    size_t op_at = 0; /* offset of ops[op]'s record */
    for (size_t i = 0; i < n;) {
        if (cur[i] == old[i]) {
            i++;
            continue;
        }
        size_t j = i + 1, last = i;
        while (j < n && j <= last + PROTO_DELTA_GAP + 1) {
            if (cur[j] != old[j])
                last = j;
            j++;
        }
        while (!ir->lost && op < ir->n && op_at + ir->ops[op].wire_bytes <= i)
            op_at += ir->ops[op++].wire_bytes;
        const sem_op *o = !ir->lost && op < ir->n ? &ir->ops[op] : NULL;
        fprintf(f, "  changed op=%u kind=%s wire=0x%04x at=%zu len=%zu old=", op,
                o ? sem_kind_name(o->kind) : "?", o ? o->wire_op : 0, i - op_at, last + 1 - i);
        for (size_t k = i; k <= last; k++)
            fprintf(f, "%02x", old[k]);
        fprintf(f, " new=");
        for (size_t k = i; k <= last; k++)
            fprintf(f, "%02x", cur[k]);
        fputc('\n', f);
        i = last + 1;
    }
}

/* The bytes a list patches (its layout's), UINT64_MAX when it cannot say. */
static uint64_t list_bytes(const genie_buf *list, uint32_t npatch)
{
    if (proto_delta_layout_of(&D.scratch, list->data, list->len, npatch))
        return UINT64_MAX;
    return D.scratch.bytes;
}

genie_buf *shim_delta_build(const uint8_t *cur, size_t n)
{
    if (!shim_g.rep.ok || D.tmpl.len != n)
        return NULL;
    if (shim_g.sem_dump) {
        dump_changes(shim_g.sem_dump, cur, D.tmpl.data, n);
        fflush(shim_g.sem_dump);
    }
    uint32_t npatch, rnp, flags = PROTO_FRAME_TEMPLATE;
    genie_buf *pb = &D.patches;
    D.pend_ok = 0;
    /* the explicit runs against the template; with GENIE_DELTA_REF against the template's
     * back-reference prediction when that is shorter (a moved tensor's new address is then
     * sent once, not in every record that uses it) */
    int e = proto_delta_encode(cur, D.tmpl.data, n, n / 2, pb, &npatch);
    uint64_t data = e ? UINT64_MAX : list_bytes(pb, npatch); /* the layout it would leave */
    int pred_ok = shim_g.delta_ref && !proto_delta_predict(D.tmpl.data, cur, n, &D.pred, &D.refs);
    if (pred_ok && !proto_delta_encode(cur, D.pred.data, n, n / 2, &D.rpatches, &rnp)) {
        uint64_t rdata = list_bytes(&D.rpatches, rnp);
        if (rdata < data || (rdata == data && D.rpatches.len < pb->len)) {
            pb = &D.rpatches;
            npatch = rnp;
            data = rdata;
            e = 0;
            flags |= PROTO_FRAME_DELTA_REF;
        }
    }
    /* or the bytes of the template's runs, onto the template or onto its prediction (a layout
     * made by a list against the prediction), unless the list leaves a smaller layout: a
     * layout from an early step may span more than the later steps change, and the list
     * sent once makes every later step's bytes fewer */
    int same = 0;
    if (D.layout_ok && D.layout.bytes <= data) {
        if (proto_delta_covers(&D.layout, cur, D.tmpl.data, n))
            same = PROTO_FRAME_TEMPLATE;
        else if (pred_ok && proto_delta_covers(&D.layout, cur, D.pred.data, n))
            same = PROTO_FRAME_TEMPLATE | PROTO_FRAME_DELTA_REF;
    }
    if (same && !proto_delta_encode_same(&D.layout, cur, n, &D.same)) {
        pb = &D.same;
        npatch = PROTO_DELTA_SAME_LAYOUT;
        flags = (uint32_t)same;
        D.pend_ok = !proto_delta_layout_copy(&D.pend, &D.layout);
    } else if (e) {
        return NULL;
    } else {
        D.pend_ok = !proto_delta_layout_of(&D.pend, pb->data, pb->len, npatch);
    }
    /* GENIE_DELTA_DEFLATE: the patches compressed, when that is smaller (the layout kept
     * above is the uncompressed list's: both sides keep that) */
    if (shim_g.delta_z && pb->len && !proto_delta_deflate(pb->data, pb->len, &D.z, &D.zscratch)) {
        pb = &D.z;
        flags |= PROTO_FRAME_DELTA_Z;
    }
    genie_buf *d = &D.delta;
    if (proto_frame_begin(d, PROTO_KIND_REQUEST, 0))
        return NULL;
    proto_frame_set_flags(d, flags);
    uint8_t *p = proto_put_BATCH_DELTA(d, D.seq, npatch, pb->len);
    if (!p)
        return NULL;
    if (pb->len)
        memcpy(p, pb->data, pb->len);
    return d->len < PROTO_HDR_SIZE + n / 2 ? d : NULL;
}

/* cudaDeviceReset: the new session's executor has no template; neither have we. */
void shim_delta_forget(void)
{
    sem_repeat_drop(&shim_g.rep);
    genie_buf_reset(&D.tmpl);
    D.layout_ok = D.pend_ok = 0;
}
