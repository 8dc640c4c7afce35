/* inflight.c — batches sent without waiting: their queue, the bound, their replies taken later and their errors kept for the next sync.
 *
 * A flush that is not a sync point sends its frame and returns (shim_flush_nowait). The
 * executor answers every frame in order, so the queue here is the list of replies still to
 * come, oldest first, each with the reply slots it must fill (R_DATA of async D2H copies into
 * pinned memory). Whatever waits for a reply (a sync, a module load, a query) takes the older
 * ones first (shim_call_framev). An R_ERROR in them is not the caller's: it is kept and
 * returned by the next flush that waits, as the runtime reports an asynchronous error at the
 * next sync; a sticky one (a kernel fault) makes the session fail at once, as it would.
 *
 * Bounded: at most shim_g.inflight_batches frames and shim_g.inflight_bytes request bytes in
 * flight; beyond that the oldest reply is waited for (inflight_stalls). Replies not yet taken
 * sit in gRPC's flow-control window (8 MiB), so a batch whose reply would carry more than
 * SHIM_INFLIGHT_REPLY_MAX bytes is not sent this way (shim_flush_nowait waits for it), and the
 * bound keeps the sum under that too: a client blocked sending while the server is blocked
 * sending it a reply would be a deadlock. Lock held throughout. */
#include "shim/shim_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct inflight {
    uint32_t seq;
    uint64_t sent_at;     /* genie_now_ns() when it went out (the trace) */
    uint64_t bytes;       /* request bytes sent */
    uint64_t reply_bytes; /* D2H bytes its reply carries */
    shim_slot *slots;     /* owned copy; NULL when none */
    uint32_t nslots;
} inflight;

/* A ring of frames in flight, oldest at head. */
static struct {
    inflight *q;
    uint32_t head, n, cap;
    uint64_t bytes, reply_bytes;
    uint32_t observable; /* entries with slots (D2H bytes coming back) */
    cudaError_t err;     /* first error not yet returned */
} F;

uint32_t shim_inflight_count(void) { return F.n; }

int shim_inflight_observable(void) { return F.observable != 0; }

int shim_inflight_writes_into(const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    for (uint32_t k = 0; k < F.n; k++) {
        const inflight *f = &F.q[(F.head + k) % F.cap];
        for (uint32_t i = 0; i < f->nslots; i++) {
            uintptr_t d = (uintptr_t)f->slots[i].dst;
            if (d && d < a + n && a < d + f->slots[i].size)
                return 1;
        }
    }
    return 0;
}

/* Takes the oldest reply. */
static cudaError_t take_one(void)
{
    inflight *f = &F.q[F.head];
    shim_batch_reply br = {cudaSuccess, 0, 0, f->slots, f->nslots};
    cudaError_t ce = shim_wire_recv(f->seq, SHIM_RT_SYNC, 0, f->sent_at, f->bytes,
                                    shim_batch_reply_cb, &br);
    F.bytes -= f->bytes;
    F.reply_bytes -= f->reply_bytes;
    if (f->slots)
        F.observable--;
    free(f->slots);
    F.head = (F.head + 1) % F.cap;
    F.n--;
    if (ce != cudaSuccess)
        return ce; /* the session is lost */
    if (br.err != cudaSuccess) {
        if (F.err == cudaSuccess)
            F.err = br.err;
        /* a sticky error ends the session's use of the device now, as on a GPU */
        (void)shim_async_error(br.err);
    }
    return cudaSuccess;
}

cudaError_t shim_inflight_drain(void)
{
    while (F.n) {
        cudaError_t ce = take_one();
        if (ce != cudaSuccess) {
            shim_inflight_reset();
            return ce;
        }
    }
    return cudaSuccess;
}

cudaError_t shim_inflight_error(void)
{
    cudaError_t e = F.err;
    F.err = cudaSuccess;
    return e;
}

cudaError_t shim_inflight_send(genie_buf *b, const proto_ext *ext, size_t next,
                               const shim_slot *slots, uint32_t nslots, uint64_t reply_bytes)
{
    uint64_t req = b->len;
    for (size_t i = 0; i < next; i++)
        req += ext[i].n;
    /* the bound: wait for the oldest while this frame would pass it */
    while (F.n && (F.n >= shim_g.inflight_batches || F.bytes + req > shim_g.inflight_bytes ||
                   F.reply_bytes + reply_bytes > SHIM_INFLIGHT_REPLY_MAX)) {
        shim_g.stats.inflight_stalls++;
        shim_g.stats.round_trips++; /* the caller waits on the wire */
        cudaError_t ce = take_one();
        if (ce != cudaSuccess) {
            shim_inflight_reset();
            return ce;
        }
    }
    if (F.n == F.cap) { /* grow the ring, oldest first at 0 */
        uint32_t cap = F.cap ? F.cap * 2 : 16;
        inflight *q = malloc(cap * sizeof *q);
        if (!q)
            return shim_lost("batch", GENIE_ENOMEM); /* the frame is built: cannot drop it */
        for (uint32_t k = 0; k < F.n; k++)
            q[k] = F.q[(F.head + k) % F.cap];
        free(F.q);
        F.q = q;
        F.head = 0;
        F.cap = cap;
    }
    shim_slot *copy = NULL;
    if (nslots) {
        copy = malloc(nslots * sizeof *copy);
        if (!copy)
            return shim_lost("batch", GENIE_ENOMEM);
        memcpy(copy, slots, nslots * sizeof *copy);
    }
    uint32_t seq;
    uint64_t sent = 0, at = genie_now_ns();
    cudaError_t ce = shim_wire_send(b, ext, next, &seq, &sent);
    if (ce != cudaSuccess) {
        free(copy);
        shim_inflight_reset();
        return ce;
    }
    F.q[(F.head + F.n) % F.cap] = (inflight){seq, at, req, reply_bytes, copy, nslots};
    F.n++;
    F.bytes += req;
    F.reply_bytes += reply_bytes;
    if (copy)
        F.observable++;
    shim_g.stats.batches_nowait++;
    if (F.n > shim_g.stats.inflight_max)
        shim_g.stats.inflight_max = F.n;
    return cudaSuccess;
}

void shim_inflight_reset(void)
{
    for (uint32_t k = 0; k < F.n; k++)
        free(F.q[(F.head + k) % F.cap].slots);
    F.head = F.n = 0;
    F.bytes = F.reply_bytes = 0;
    F.observable = 0;
}
