/* delta.c — GENIE_GRAPH_REPLAY on the client: the kept template batch and a batch as a BATCH_DELTA of it. */
#include "shim/shim_int.h"

#include "protocol/delta.h"

#include <string.h>

/* The payload of the last template frame that ran cleanly (sent as frame seq), which the
 * executor keeps too; valid while the repeated-batch pass says so (shim_g.rep.ok). Lock held. */
static struct {
    uint32_t seq;
    genie_buf tmpl, delta, patches;
} D;

void shim_delta_keep(const uint8_t *cur, size_t n, uint32_t seq)
{
    genie_buf_reset(&D.tmpl);
    if (genie_buf_append(&D.tmpl, cur, n))
        sem_repeat_drop(&shim_g.rep);
    else
        D.seq = seq;
}

genie_buf *shim_delta_build(const uint8_t *cur, size_t n)
{
    if (!shim_g.rep.ok || D.tmpl.len != n)
        return NULL;
    uint32_t npatch;
    genie_buf *pb = &D.patches;
    if (proto_delta_encode(cur, D.tmpl.data, n, n / 2, pb, &npatch))
        return NULL;
    genie_buf *d = &D.delta;
    if (proto_frame_begin(d, PROTO_KIND_REQUEST, 0))
        return NULL;
    proto_frame_set_flags(d, PROTO_FRAME_TEMPLATE);
    uint8_t *p = proto_put_BATCH_DELTA(d, D.seq, npatch, pb->len);
    if (!p)
        return NULL;
    if (pb->len)
        memcpy(p, pb->data, pb->len);
    return d->len < PROTO_HDR_SIZE + n / 2 ? d : NULL;
}
