/* stream.c — chunked logical messages over one gRPC call: send, receive, batch, arguments. */
#include "protocol/transport/transport_int.h"

#include <grpc/byte_buffer_reader.h>
#include <errno.h>
#include <grpc/slice.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gpr_timespec proto_deadline(int timeout_ms)
{
    if (timeout_ms <= 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

#define ARG_INT(k, v) {.type = GRPC_ARG_INTEGER, .key = (char *)(k), .value.integer = (v)}

/* Why each one: unlimited gRPC message size (we chunk at 4 MiB ourselves, and a
 * limit would fail calls instead of our clearer check); 8 MiB flow-control lookahead and
 * 4 MiB TCP reads, which doubled bulk throughput in FIELD-NOTES' measurements. */
#define COMMON_ARGS                                                                            \
    ARG_INT(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, -1),                                             \
        ARG_INT(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, -1),                                      \
        ARG_INT(GRPC_ARG_HTTP2_BDP_PROBE, 1),                                                  \
        ARG_INT(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 << 20),                               \
        ARG_INT(GRPC_ARG_TCP_READ_CHUNK_SIZE, 4 << 20),                                        \
        ARG_INT(GRPC_ARG_TCP_MIN_READ_CHUNK_SIZE, 4 << 20),                                     \
        ARG_INT(GRPC_ARG_TCP_MAX_READ_CHUNK_SIZE, 4 << 20)

static grpc_arg client_args[] = {
    COMMON_ARGS,
    /* Retries keep sent messages in a retry buffer: that would pin our zero-copy slices
     * and add a copy. The stream is never retried anyway (state lives on the remote). */
    ARG_INT(GRPC_ARG_ENABLE_RETRIES, 0),
    /* Each connection gets its own HTTP/2 connection, not one shared per target. */
    ARG_INT(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1),
    /* A first connect attempt that fails (a server still starting, a loaded machine) is
     * retried after 1 s, then 1.6 s, ... by default: seconds of a session's start spent
     * asleep. Retry fast instead; GENIE_TIMEOUT_MS still bounds the whole wait. */
    ARG_INT(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50),
    /* Despite its name, gRPC takes this as the minimum time one connection attempt may take
     * (the handshake up to the server's SETTINGS frame; the attempt's deadline is the larger
     * of it and the backoff). At 50 ms a loaded machine failed connects with "connection
     * attempt timed out before receiving SETTINGS frame"; a refused connection still fails
     * at once and is retried after the 50 ms backoff above. */
    ARG_INT(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000),
    ARG_INT(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500),
};

static grpc_arg server_args[] = {
    COMMON_ARGS,
    /* gRPC servers set SO_REUSEPORT by default: a second server on a busy port would
     * then start "fine" and steal half the connections. */
    ARG_INT(GRPC_ARG_ALLOW_REUSEPORT, 0),
    /* Find clients that vanished without a FIN/RST so their sessions end. */
    ARG_INT(GRPC_ARG_KEEPALIVE_TIME_MS, 20000),
    ARG_INT(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000),
};

const grpc_channel_args *proto_channel_args(int server)
{
    static grpc_channel_args c = {sizeof client_args / sizeof client_args[0], client_args};
    static grpc_channel_args s = {sizeof server_args / sizeof server_args[0], server_args};
    return server ? &s : &c;
}

grpc_event proto_pluck(proto_stream *s, void *tag, gpr_timespec deadline)
{
    if (!s->pollers)
        return grpc_completion_queue_pluck(s->cq, tag, deadline, NULL);
    atomic_fetch_add_explicit(s->poll_gen, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(s->pollers, 1, memory_order_relaxed);
    grpc_event ev = grpc_completion_queue_pluck(s->cq, tag, deadline, NULL);
    atomic_fetch_sub_explicit(s->pollers, 1, memory_order_relaxed);
    return ev;
}

int proto_batch(proto_stream *s, const grpc_op *ops, size_t nops, gpr_timespec deadline)
{
    char tag; /* its address identifies this batch on the pluck queue */
    grpc_call_error e = grpc_call_start_batch(s->call, ops, nops, &tag, NULL);
    if (e != GRPC_CALL_OK) {
        snprintf(s->why, sizeof s->why, "grpc_call_start_batch failed (%d)", (int)e);
        return 0;
    }
    grpc_event ev = proto_pluck(s, &tag, deadline);
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
        /* Cancel so the batch completes (failed) at once; its buffers are then ours. */
        if (s->timeout_msg)
            grpc_call_cancel_with_status(s->call, GRPC_STATUS_DEADLINE_EXCEEDED, s->timeout_msg,
                                         NULL);
        else
            grpc_call_cancel(s->call, NULL);
        s->cancelled = 1;
        proto_pluck(s, &tag, gpr_inf_future(GPR_CLOCK_MONOTONIC));
        return GENIE_ETIMEOUT;
    }
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

void proto_hold_unref(proto_hold *h)
{
    if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(h->owned);
    if (h->heap_self)
        free(h);
}

static void hold_slice_done(void *ud)
{
    proto_hold_unref(ud);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Most slices in one chunk; a chunk whose pieces would need more ends early (a chunk may
 * be shorter than PROTO_CHUNK). */
#define CHUNK_SLICES 16
/* Pieces shorter than this inside a big message are copied into a slice of their own
 * rather than referenced (a record header between two payloads, say). */
#define PIECE_COPY_MAX 4096u

static int wait_borrowed_until(proto_stream *s, gpr_timespec deadline);

int proto_send(proto_stream *s, const proto_iov *iov, size_t niov, proto_hold *hold,
               grpc_byte_buffer **recv_out, gpr_timespec deadline)
{
    size_t n = 0;
    for (size_t i = 0; i < niov; i++)
        n += iov[i].n;
    uint8_t hdr[PROTO_HDR];
    put_le32(hdr, PROTO_CHUNK_MAGIC);
    put_le32(hdr + 4, 0);
    put_le64(hdr + 8, n);

    if (!hold) { /* borrowed payload: counted in s->borrow, waited for below */
        atomic_init(&s->borrow.refs, 1);
        s->borrow.owned = NULL;
        s->borrow.heap_self = 0;
        hold = &s->borrow;
    }
    if (recv_out)
        *recv_out = NULL;

    size_t off = 0;     /* payload bytes sent */
    size_t pi = 0, po = 0; /* the next byte to send: iov[pi].p + po */
    int rc = 0, first = 1;
    do {
        grpc_slice sl[CHUNK_SLICES];
        size_t ns = 0, room = PROTO_CHUNK;
        if (first && n <= PROTO_COPY_MAX) {
            /* Small: one copied slice; cheaper than a refcounted external slice. */
            sl[0] = grpc_slice_malloc(PROTO_HDR + n);
            uint8_t *d = GRPC_SLICE_START_PTR(sl[0]);
            memcpy(d, hdr, PROTO_HDR);
            d += PROTO_HDR;
            for (size_t i = 0; i < niov; i++) {
                if (iov[i].n)
                    memcpy(d, iov[i].p, iov[i].n);
                d += iov[i].n;
            }
            ns = 1;
            off = n;
        } else {
            if (first) {
                sl[ns++] = grpc_slice_from_copied_buffer((const char *)hdr, PROTO_HDR);
                room -= PROTO_HDR;
            }
            while (off < n && room && ns < CHUNK_SLICES) {
                if (po == iov[pi].n) {
                    pi++;
                    po = 0;
                    continue;
                }
                size_t len = iov[pi].n - po < room ? iov[pi].n - po : room;
                const uint8_t *src = (const uint8_t *)iov[pi].p + po;
                if (len < PIECE_COPY_MAX) {
                    sl[ns++] = grpc_slice_from_copied_buffer((const char *)src, len);
                } else {
                    /* Zero copy: the slice points into the payload; hold keeps it alive. */
                    atomic_fetch_add_explicit(&hold->refs, 1, memory_order_relaxed);
                    sl[ns++] = grpc_slice_new_with_user_data((void *)src, len, hold_slice_done,
                                                             hold);
                }
                po += len;
                off += len;
                room -= len;
            }
        }
        int last = off == n;
        grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(sl, ns); /* takes refs */
        for (size_t i = 0; i < ns; i++)
            grpc_slice_unref(sl[i]);

        grpc_op ops[2];
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_SEND_MESSAGE;
        ops[0].data.send_message.send_message = bb;
        size_t nops = 1;
        if (last && recv_out) {
            /* Post the read of the reply with the last chunk: one wake-up per round trip. */
            ops[1].op = GRPC_OP_RECV_MESSAGE;
            ops[1].data.recv_message.recv_message = recv_out;
            nops = 2;
        }
        int r = proto_batch(s, ops, nops, deadline);
        grpc_byte_buffer_destroy(bb);
        if (r != 1) {
            rc = r == 0 ? GENIE_ECLOSED : r;
            if (recv_out && *recv_out) {
                grpc_byte_buffer_destroy(*recv_out);
                *recv_out = NULL;
            }
            break;
        }
        first = 0;
    } while (off < n);

    proto_hold_unref(hold); /* the sender's own reference */
    if (hold == &s->borrow && !rc && (rc = wait_borrowed_until(s, deadline)) && recv_out &&
        *recv_out) {
        grpc_byte_buffer_destroy(*recv_out); /* the call is cancelled: this goes unread */
        *recv_out = NULL;
    }
    if (!rc)
        s->sent += n;
    return rc;
}

/* proto_wait_borrowed, bounded: once deadline passes with gRPC still holding a slice (a peer
 * that stopped reading leaves it in flow control) the call is cancelled and GENIE_ETIMEOUT
 * returned; the caller then ends the call and waits without a bound (the failure path of
 * proto_send's contract). */
static int wait_borrowed_until(proto_stream *s, gpr_timespec deadline)
{
    while (atomic_load_explicit(&s->borrow.refs, memory_order_acquire) > 0) {
        if (gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), deadline) > 0) {
            grpc_call_cancel(s->call, NULL);
            s->cancelled = 1;
            return GENIE_ETIMEOUT;
        }
        proto_pluck(s, &s->borrow, proto_deadline(1));
    }
    return 0;
}

void proto_wait_borrowed(proto_stream *s)
{
    /* gRPC may drop the last slice shortly after the op completes (when the socket
     * write finishes). Keep polling this queue so that write can progress. */
    uint64_t t0 = genie_now_ns();
    int warned = 0;
    while (atomic_load_explicit(&s->borrow.refs, memory_order_acquire) > 0) {
        proto_pluck(s, &s->borrow, proto_deadline(1));
        if (!warned && genie_now_ns() - t0 > 5000000000ull) {
            GENIE_WARN("transport: gRPC still holds a sent buffer after 5 s; waiting");
            warned = 1;
        }
    }
}

/* Copies in blocks that stay in cache between the copy and the checksum. */
#define CRC_BLOCK (64u << 10)

/* Copies k bytes of the message, which start at offset moff, from src into buf at the same
 * offset, except the part inside at's range, which goes to at->dst; each block feeds acc
 * (if not NULL) in message order while it is in cache. */
static void put_bytes(uint8_t *buf, const proto_land_at *at, uint64_t moff, const uint8_t *src,
                      size_t k, proto_crc_acc *acc)
{
    while (k) {
        uint8_t *d;
        size_t run;
        if (at && moff >= at->off && moff < at->off + at->len) {
            d = (uint8_t *)at->dst + (moff - at->off);
            run = at->off + at->len - moff < k ? (size_t)(at->off + at->len - moff) : k;
        } else {
            d = buf + moff;
            run = at && moff < at->off && at->off - moff < k ? (size_t)(at->off - moff) : k;
        }
        if (!acc) {
            memcpy(d, src, run);
        } else {
            for (size_t o = 0; o < run; o += CRC_BLOCK) {
                size_t b = run - o < CRC_BLOCK ? run - o : CRC_BLOCK;
                memcpy(d + o, src + o, b);
                proto_frame_crc_update(acc, d + o, b);
            }
        }
        moff += run;
        src += run;
        k -= run;
    }
}

/* Copies bytes [skip, skip+n) of bb into the message at offset moff (buf, or at->dst inside
 * at's range), feeding them to acc (if not NULL) as they land. 0 or -1 (unreadable). */
static int bb_place(grpc_byte_buffer *bb, size_t skip, uint8_t *buf, uint64_t moff, size_t n,
                    const proto_land_at *at, proto_crc_acc *acc)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return -1;
    grpc_slice *sl;
    while (n && grpc_byte_buffer_reader_peek(&r, &sl)) {
        const uint8_t *p = GRPC_SLICE_START_PTR(*sl);
        size_t k = GRPC_SLICE_LENGTH(*sl);
        if (skip >= k) {
            skip -= k;
            continue;
        }
        p += skip;
        k -= skip;
        skip = 0;
        if (k > n)
            k = n;
        put_bytes(buf, at, moff, p, k, acc);
        moff += k;
        n -= k;
    }
    grpc_byte_buffer_reader_destroy(&r);
    return n ? -1 : 0;
}

/* Copies bytes [skip, skip+n) of bb to dst. Returns 0 or -1 (unreadable buffer). */
static int bb_copy(grpc_byte_buffer *bb, size_t skip, uint8_t *dst, size_t n)
{
    return bb_place(bb, skip, dst, 0, n, NULL, NULL);
}

static int recv_chunk(proto_stream *s, grpc_byte_buffer **bb, gpr_timespec deadline)
{
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = bb;
    *bb = NULL;
    int r = proto_batch(s, &op, 1, deadline);
    if (r == GENIE_ETIMEOUT) {
        if (*bb)
            grpc_byte_buffer_destroy(*bb);
        *bb = NULL;
        return r;
    }
    return 0; /* *bb NULL: the stream ended */
}

/* The buffer for one received message of n bytes. Big ones reuse the stream's cached buffer
 * when it is large enough; small ones and clients get a plain malloc. */
static uint8_t *take_buffer(proto_stream *s, size_t n)
{
    if (s->spare && genie_now_ns() - s->spare_used_ns > PROTO_REUSE_IDLE_NS)
        proto_stream_release(s); /* big messages stopped coming: give the memory back */
    /* Only the latest buffer handed out can come back into the cache: an older one still
     * held (or one the caller freed itself) is never mistaken for it. */
    s->lent = NULL;
    s->ext_lent = NULL;
    if (s->ext_buf && n >= PROTO_REUSE_MIN && (s->ext_lent = s->ext_buf(s->ext_ud, n)))
        return s->ext_lent; /* the handler's memory: copied into once, never freed here */
    if (!s->reuse || n < PROTO_REUSE_MIN)
        return malloc(n ? n : 1);
    if (s->spare && s->spare_cap < n)
        proto_stream_release(s); /* too small: replaced by this message's buffer */
    uint8_t *b = s->spare;
    size_t cap = s->spare_cap;
    s->spare = NULL;
    s->spare_cap = 0;
    if (!b) {
        b = malloc(n);
        cap = n;
    }
    if (b) {
        s->lent = b;
        s->lent_cap = cap;
    }
    return b;
}

int proto_recv(proto_stream *s, grpc_byte_buffer *first, void **out, size_t *out_n,
               gpr_timespec deadline)
{
    return proto_recv_land(s, first, NULL, out, out_n, deadline);
}

/* Bytes of a reply's start shown to proto_land.fn. */
#define LAND_HEAD 4096u

int proto_recv_land(proto_stream *s, grpc_byte_buffer *first, proto_land *land, void **out,
                    size_t *out_n, gpr_timespec deadline)
{
    *out = NULL;
    *out_n = 0;
    grpc_byte_buffer *bb = first;
    int rc;
    if (!bb) {
        if ((rc = recv_chunk(s, &bb, deadline)))
            return rc;
        if (!bb)
            return GENIE_ECLOSED;
    }

    uint8_t hdr[PROTO_HDR];
    size_t len = grpc_byte_buffer_length(bb);
    uint8_t *buf = NULL;
    if (len < PROTO_HDR || len > PROTO_CHUNK || bb_copy(bb, 0, hdr, PROTO_HDR)) {
        snprintf(s->why, sizeof s->why, "malformed first chunk (%zu bytes)", len);
        rc = GENIE_EPROTO;
        goto fail;
    }
    uint64_t total = get_le(hdr + 8, 8);
    if (get_le(hdr, 4) != PROTO_CHUNK_MAGIC || get_le(hdr + 4, 4) != 0) {
        snprintf(s->why, sizeof s->why, "bad chunk header (magic %08llx flags %08llx)",
                 (unsigned long long)get_le(hdr, 4), (unsigned long long)get_le(hdr + 4, 4));
        rc = GENIE_EPROTO;
        goto fail;
    }
    if (total > s->max_msg || total > SIZE_MAX - 1) {
        snprintf(s->why, sizeof s->why,
                 "message of %llu bytes announced, above the limit of %llu "
                 "(%s)",
                 (unsigned long long)total, (unsigned long long)s->max_msg,
                 s->max_name ? s->max_name : "GENIE_MAX_MESSAGE_BYTES");
        rc = GENIE_ETOOBIG;
        goto fail;
    }
    if (len - PROTO_HDR > total) {
        snprintf(s->why, sizeof s->why, "first chunk carries %zu bytes, more than the %llu announced",
                 len - PROTO_HDR, (unsigned long long)total);
        rc = GENIE_EPROTO;
        goto fail;
    }
    buf = take_buffer(s, (size_t)total);
    if (!buf) {
        snprintf(s->why, sizeof s->why, "cannot allocate %llu bytes", (unsigned long long)total);
        rc = GENIE_ENOMEM;
        goto fail;
    }
    /* A message that may be a frame gets its frame checksum in the copying pass
     * (proto_frame_crc_note): proto_frame_parse then need not read it all again. */
    proto_crc_acc acc = {0, 0}, *accp = total >= PROTO_HDR_SIZE ? &acc : NULL;
    size_t got = len - PROTO_HDR;
    proto_land_at at_, *at = NULL;
    if (land) {
        land->landed = land->crc_set = 0;
        if (land->fn && total >= PROTO_REUSE_MIN) {
            uint8_t head[LAND_HEAD];
            size_t hn = got < LAND_HEAD ? got : LAND_HEAD;
            if (bb_copy(bb, PROTO_HDR, head, hn))
                goto unreadable;
            if (land->fn(land->ud, head, hn, total, &at_) && at_.dst && at_.len &&
                at_.off <= total && at_.len <= total - at_.off) {
                at = &at_;
                land->landed = 1;
            }
        }
    }
    if (got && bb_place(bb, PROTO_HDR, buf, 0, got, at, accp))
        goto unreadable;
    grpc_byte_buffer_destroy(bb);
    bb = NULL;
    while (got < total) {
        if ((rc = recv_chunk(s, &bb, deadline)))
            goto fail;
        if (!bb) {
            snprintf(s->why, sizeof s->why, "stream ended inside a message (%zu of %llu bytes)",
                     got, (unsigned long long)total);
            rc = GENIE_ECLOSED;
            goto fail;
        }
        len = grpc_byte_buffer_length(bb);
        if (len == 0 || len > PROTO_CHUNK || len > total - got) {
            snprintf(s->why, sizeof s->why,
                     "chunk of %zu bytes after %zu of %llu announced bytes", len, got,
                     (unsigned long long)total);
            rc = GENIE_EPROTO;
            goto fail;
        }
        if (bb_place(bb, 0, buf, got, len, at, accp))
            goto unreadable;
        got += len;
        grpc_byte_buffer_destroy(bb);
        bb = NULL;
    }
    s->received += total;
    if (accp)
        proto_frame_crc_note(buf, (size_t)total, acc.crc);
    if (land && accp) {
        land->crc_set = 1;
        land->crc = acc.crc;
    }
    *out = buf;
    *out_n = (size_t)total;
    return 0;

unreadable:
    snprintf(s->why, sizeof s->why, "unreadable gRPC message");
    rc = GENIE_EPROTO;
fail:
    if (bb)
        grpc_byte_buffer_destroy(bb);
    proto_recycle(s, buf);
    return rc;
}

void proto_recycle(proto_stream *s, void *buf)
{
    if (!buf)
        return;
    proto_frame_crc_note(NULL, 0, 0); /* the buffer's bytes may change from here on */
    if (buf == s->ext_lent) { /* the handler's: it reuses it for a later request */
        s->ext_lent = NULL;
        return;
    }
    if (buf != s->lent) {
        free(buf);
        return;
    }
    s->lent = NULL;
    free(s->spare); /* NULL: take_buffer took it or freed it */
    s->spare = buf;
    s->spare_cap = s->lent_cap;
    s->spare_used_ns = genie_now_ns();
}

void proto_stream_release(proto_stream *s)
{
    free(s->spare);
    s->spare = NULL;
    s->spare_cap = 0;
}

/* Reads a whole PEM file into a NUL-terminated string (caller frees); NULL with err set. */
char *proto_read_pem(const char *path, const char *what, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (16l << 20) &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = 0;
        fclose(f);
        return buf;
    }
    if (err)
        snprintf(err, errlen, "cannot read the %s %s: %s", what, path,
                 f ? "read error or too big" : strerror(errno));
    free(buf);
    if (f)
        fclose(f);
    return NULL;
}
