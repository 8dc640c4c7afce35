/* branches.c — GENIE_PARALLEL_BRANCHES on the executor: a batch's ops moved onto lane streams
 * forked from its stream and joined by events, as its BRANCHES record says.
 *
 * Lane 0 is the batch's own stream (origin); lanes 1-3 are non-blocking streams of the session,
 * created at the first annotated batch. At the batch's start (and after each barrier) the
 * executor records fork on origin, and a lane's first op after it waits for fork: a lane sees
 * everything origin had before, nothing of its sibling lanes. An op's join bits make its
 * lane wait for an event recorded on each named lane just before it (so after every op of that
 * lane issued so far). A barrier joins every lane into origin first; the batch's end does too,
 * so that whatever follows on origin (a sync, the next batch) sees all of it. The annotation
 * only reorders work that the client's dependency graph found independent; a malformed one is
 * ignored and the batch runs as recorded. */
#include "remote/exec_int.h"

#include <string.h>

int exec_op_BRANCHES(exec_session *s, uint32_t index, const proto_BRANCHES *a)
{
    (void)s, (void)index, (void)a; /* read before the batch ran (exec_lanes_begin) */
    return 0;
}

static CUstream lane_stream(exec_session *s, uint32_t l)
{
    return l ? s->aux[l] : s->lane_st;
}

/* Lane l's work so far, waited for by lane to. */
static void join(exec_session *s, uint32_t l, uint32_t to)
{
    exec_driver *d = &s->ctx->drv;
    CUresult r = d->EventRecord(s->lane_ev[l], lane_stream(s, l));
    if (!r)
        r = d->StreamWaitEvent(lane_stream(s, to), s->lane_ev[l], 0);
    if (r)
        GENIE_ERROR("session %u: joining lane %u into lane %u failed (%d): the batch's order "
                    "may not hold",
                    s->id, l, to, (int)r);
}

/* Records the fork point on origin, resolved now: the batch may create its stream itself
 * (a barrier, after which lanes fork anew). Until origin exists, no lane is used. */
static void fork_point(exec_session *s)
{
    s->forked = 1; /* lane 0 only */
    s->lane_ok = 0;
    CUstream st = NULL;
    if (s->lane_origin >= 3 && !(st = exec_idmap_get(&s->streams, s->lane_origin)))
        return;
    s->lane_st = st;
    CUresult r = s->ctx->drv.EventRecord(s->fork_ev, st);
    if (r) {
        GENIE_ERROR("session %u: recording the lanes' fork point failed (%d)", s->id, (int)r);
        return;
    }
    s->lane_ok = 1;
}

int exec_lanes_begin(exec_session *s, const proto_rec *last, uint32_t nrec)
{
    s->lanes = NULL;
    s->lane = 0;
    proto_BRANCHES a = {0};
    if (!last || last->op != PROTO_OP_BRANCHES || proto_get_BRANCHES(last, &a) ||
        a.nops + 1 != nrec || a.lanes_len < 2 * (size_t)a.nops) { /* (lanes_len may hold padding) */
        if (last && last->op == PROTO_OP_BRANCHES)
            GENIE_DEBUG("session %u: malformed BRANCHES ignored", s->id);
        return 0;
    }
    for (uint32_t i = 0; i < a.nops; i++)
        if (a.lanes[2 * i] >= EXEC_LANES || (a.lanes[2 * i + 1] & 0x7f) >> EXEC_LANES)
            return 0;
    exec_driver *d = &s->ctx->drv;
    for (uint32_t l = 0; l < EXEC_LANES; l++) {
        CUresult r = 0;
        if (l && !s->aux[l])
            r = d->StreamCreateWithPriority(&s->aux[l], CU_STREAM_NON_BLOCKING, 0);
        if (!r && !s->lane_ev[l])
            r = d->EventCreate(&s->lane_ev[l], CU_EVENT_DISABLE_TIMING);
        if (!r && !s->fork_ev)
            r = d->EventCreate(&s->fork_ev, CU_EVENT_DISABLE_TIMING);
        if (r) {
            GENIE_WARN("session %u: no lanes for parallel branches (%d): batches run as "
                       "recorded",
                       s->id, (int)r);
            return 0;
        }
    }
    s->lanes = a.lanes;
    s->lane_origin = a.origin;
    fork_point(s);
    return 1;
}

void exec_lanes_before(exec_session *s, uint32_t i)
{
    uint8_t l = s->lanes[2 * i], j = s->lanes[2 * i + 1];
    if (!s->lane_ok) { /* origin unknown here: the op runs as recorded */
        s->lane = 0;
        return;
    }
    if (j & 0x80) { /* a barrier: every lane into origin */
        for (uint32_t k = 1; k < EXEC_LANES; k++)
            if (s->forked & (1u << k))
                join(s, k, 0);
        s->lane = 0;
        return;
    }
    if (l && !(s->forked & (1u << l))) {
        CUresult r = s->ctx->drv.StreamWaitEvent(s->aux[l], s->fork_ev, 0);
        if (r)
            GENIE_ERROR("session %u: lane %u could not wait for its fork point (%d)", s->id, l,
                        (int)r);
        s->forked |= (uint8_t)(1u << l);
    }
    for (uint32_t k = 0; k < EXEC_LANES; k++)
        if (k != l && (j & (1u << k)) && (s->forked & (1u << k)))
            join(s, k, l);
    s->lane = l;
}

void exec_lanes_after(exec_session *s, uint32_t i)
{
    s->lane = 0;
    if (s->lanes[2 * i + 1] & 0x80) /* after a barrier lanes fork anew */
        fork_point(s);
}

void exec_lanes_end(exec_session *s)
{
    for (uint32_t k = 1; k < EXEC_LANES; k++)
        if (s->forked & (1u << k))
            join(s, k, 0);
    s->forked = 0;
    s->lanes = NULL;
    s->lane = 0;
}

void exec_lanes_session_close(exec_session *s)
{
    exec_driver *d = &s->ctx->drv;
    for (uint32_t l = 0; l < EXEC_LANES; l++) {
        if (s->aux[l]) {
            d->StreamSynchronize(s->aux[l]);
            d->StreamDestroy(s->aux[l]);
        }
        if (s->lane_ev[l])
            d->EventDestroy(s->lane_ev[l]);
    }
    if (s->fork_ev)
        d->EventDestroy(s->fork_ev);
}
