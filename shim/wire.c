/* wire.c — one frame out, its reply in: sequence numbers, the gather list, counters, the reply walk. */
#include "shim/shim_int.h"

#include <stdlib.h>
#include <string.h>

cudaError_t shim_call_frame(genie_buf *b, int kind, shim_reply_cb cb, void *ud)
{
    return shim_call_framev(b, NULL, 0, kind, cb, ud);
}

cudaError_t shim_call_framev(genie_buf *b, const proto_ext *ext, size_t next, int kind,
                             shim_reply_cb cb, void *ud)
{
    /* the seq goes in at send time so every frame, batch or not, is numbered in order */
    uint32_t seq = ++shim_g.seq;
    proto_frame_set_seq(b, seq);
    void *reply = NULL;
    size_t reply_n = 0, sent = b->len;
    uint64_t t0 = genie_now_ns();
    int e;
    if (!next) {
        proto_frame_end(b);
        e = shim_link_call(shim_g.link, b->data, b->len, &reply, &reply_n);
    } else {
        proto_frame_end_ext(b, ext, next);
        proto_iov *iov = malloc((2 * next + 1) * sizeof *iov);
        if (!iov)
            return shim_lost("batch", GENIE_ENOMEM); /* the frame was built: cannot drop it */
        size_t niov = proto_frame_iov(b, ext, next, iov);
        for (size_t i = 0; i < next; i++)
            sent += ext[i].n;
        e = shim_link_callv(shim_g.link, iov, niov, &reply, &reply_n);
        free(iov);
    }
    shim_g.stats.wire_ns += genie_now_ns() - t0;
    shim_g.stats.batches++;
    shim_g.stats.round_trips++;
    shim_g.stats.bytes_sent += sent;
    switch (kind) {
    case SHIM_RT_SETUP:
        shim_g.stats.rt_setup++;
        break;
    case SHIM_RT_MODULE:
        shim_g.stats.rt_module++;
        break;
    case SHIM_RT_QUERY:
        shim_g.stats.rt_query++;
        break;
    default:
        shim_g.stats.rt_sync++;
    }
    if (e)
        return shim_lost("genie-remote", e);
    shim_g.stats.bytes_received += reply_n;
    proto_frame f;
    e = proto_frame_parse(reply, reply_n, proto_max_message(), &f);
    if (!e && (f.kind != PROTO_KIND_REPLY || f.seq != seq))
        e = GENIE_EPROTO;
    proto_iter it;
    proto_rec r;
    if (!e) {
        proto_iter_init(&it, &f);
        int k;
        while ((k = proto_iter_next(&it, &r)) > 0) {
            if (r.op == PROTO_OP_R_ERROR && kind == SHIM_RT_SETUP) {
                proto_R_ERROR er;
                if (!proto_get_R_ERROR(&r, &er))
                    GENIE_ERROR("genie-remote refused the session: %.*s (this client: "
                                "libgenie %s, session version %d, frame version %d)",
                                (int)er.msg_len, (const char *)er.msg, GENIE_BUILD_ID,
                                PROTO_SESSION_VERSION, PROTO_VERSION);
            }
            int c = cb ? cb(ud, &r) : 0;
            if (c < 0) {
                k = c;
                break;
            }
        }
        if (k < 0)
            e = k;
    }
    free(reply);
    if (e)
        return shim_lost("bad reply from genie-remote", e);
    return cudaSuccess;
}

