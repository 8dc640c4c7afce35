/* delta.c — GENIE_GRAPH_REPLAY on the client: the kept template batch and a batch as a BATCH_DELTA of it. */
#include "shim/shim_int.h"

#include <string.h>

/* The payload of the last template frame that ran cleanly (sent as frame tmpl_seq): what the
 * executor keeps too. Lock held. */
static struct {
    int ok;
    uint32_t seq;
    genie_buf tmpl, delta, patches;
} D;

void shim_delta_keep(const uint8_t *cur, size_t n, uint32_t seq)
{
    D.ok = 0;
    genie_buf_reset(&D.tmpl);
    if (!genie_buf_append(&D.tmpl, cur, n)) {
        D.seq = seq;
        D.ok = 1;
    }
}

void shim_delta_drop(void) { D.ok = 0; }

/* Reads a u32 of the payload at off. */
static uint32_t pay32(const uint8_t *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, 4);
    return v;
}

/* Runs closer than DELTA_GAP bytes merge (a patch header costs 8). */
#define DELTA_GAP 16

genie_buf *shim_delta_build(const uint8_t *cur, size_t n)
{
    const uint8_t *old = D.tmpl.data;
    if (!D.ok || D.tmpl.len != n)
        return NULL;
    for (size_t off = 0; off < n;) { /* the same ops in the same order, the same lengths */
        if (n - off < PROTO_REC_HDR_SIZE || memcmp(cur + off, old + off, PROTO_REC_HDR_SIZE))
            return NULL;
        uint64_t len = pay32(cur, off + 4);
        off += PROTO_REC_HDR_SIZE + ((len + 7) & ~(uint64_t)7);
    }
    size_t budget = n / 2, npatch = 0;
    genie_buf *pb = &D.patches;
    genie_buf_reset(pb);
    size_t i = 0;
    while (i < n) {
        while (i + 8 <= n && !memcmp(cur + i, old + i, 8)) /* skip equal words */
            i += 8;
        while (i < n && cur[i] == old[i])
            i++;
        if (i >= n)
            break;
        size_t last = i, j = i + 1;
        for (; j < n && j - last <= DELTA_GAP; j++)
            if (cur[j] != old[j])
                last = j;
        size_t len = last + 1 - i;
        if (pb->len + 8 + len > budget)
            return NULL;
        uint32_t h[2] = {(uint32_t)i, (uint32_t)len};
        if (genie_buf_append(pb, h, sizeof h) || genie_buf_append(pb, cur + i, len))
            return NULL;
        npatch++;
        i = last + 1;
    }
    genie_buf *d = &D.delta;
    if (proto_frame_begin(d, PROTO_KIND_REQUEST, 0))
        return NULL;
    proto_frame_set_flags(d, PROTO_FRAME_TEMPLATE);
    uint8_t *p = proto_put_BATCH_DELTA(d, D.seq, (uint32_t)npatch, pb->len);
    if (!p)
        return NULL;
    if (pb->len)
        memcpy(p, pb->data, pb->len);
    return d->len < PROTO_HDR_SIZE + n / 2 ? d : NULL;
}
