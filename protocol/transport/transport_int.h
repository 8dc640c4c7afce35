/* transport_int.h — internals shared by the transport's client and server: chunked logical
 * messages over one gRPC call driven through a private pluck completion queue. */
#ifndef GENIE_TRANSPORT_INT_H
#define GENIE_TRANSPORT_INT_H

#include "common/genie.h"
#include "protocol/frame.h"
#include "protocol/transport.h"

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/support/time.h>
#include <stdatomic.h>

#define PROTO_METHOD "/genie.Remote/Session"

/* Wire format of one logical message: one or more gRPC messages ("chunks") of at most
 * PROTO_CHUNK bytes each. The first chunk starts with a 16-byte little-endian header
 * {magic u32, flags u32 (0), total payload length u64}; the rest of the first chunk and
 * every later chunk are raw payload bytes, in order, until total bytes have arrived.
 * Later chunks carry no header: a logical message ends where its announced length does. */
#define PROTO_CHUNK (4u << 20)
#define PROTO_HDR 16u
#define PROTO_CHUNK_MAGIC 0x31434e47u /* "GNC1" */
/* Payloads up to this size are copied into one slice with the header; bigger ones are sent
 * from the caller's memory without a copy (a slice per chunk pointing into it). */
#define PROTO_COPY_MAX (64u << 10)

/* Received messages of at least this size go into a buffer the stream keeps between
 * messages (see proto_stream.spare): a fresh 256 MiB malloc is an mmap whose first touch
 * faults in every page, which made reassembly run at ~1.4 GB/s instead of ~5 GB/s. */
#define PROTO_REUSE_MIN (1u << 20)
/* A kept buffer that no message used for this long is released. */
#define PROTO_REUSE_IDLE_NS 2000000000ull

/* Default upper bound on a logical message; GENIE_MAX_MESSAGE_BYTES overrides it. */
#define GENIE_MAX_MESSAGE (4ull << 30)

/* Keeps the memory behind zero-copy send slices alive: one reference per live slice plus
 * one held by the sender while it builds chunks. At zero, owned (if any) is freed, and
 * the holder itself if heap_self. */
typedef struct proto_hold {
    atomic_int refs;
    void *owned;    /* freed at zero; NULL for borrowed memory */
    int heap_self;  /* the holder was malloc'd and frees itself at zero */
} proto_hold;
void proto_hold_unref(proto_hold *h);

/* One gRPC call plus the pluck queue its operations complete on. Used by one thread. */
typedef struct proto_stream {
    grpc_call *call;            /* owned: unref'd by the owner of the stream */
    grpc_completion_queue *cq;  /* owned: pluck queue, only this call's ops land here */
    uint64_t max_msg;           /* largest logical message accepted */
    const char *max_name;       /* what sets max_msg, for the error (static; NULL: the env) */
    const char *timeout_msg;    /* static text sent as the status when a deadline ends the
                                   call (server); NULL: a plain cancel */
    uint64_t sent, received;    /* logical payload bytes */
    int cancelled;              /* we cancelled the call (deadline or protocol error) */
    proto_hold borrow;          /* references into a borrowed payload being sent */
    /* Receive-buffer reuse (the server's requests, the client's replies given back with
     * proto_conn_reply_free). lent is the buffer proto_recv last handed out from the cache,
     * spare the idle cached one. */
    int reuse;
    uint8_t *spare, *lent;
    size_t spare_cap, lent_cap;
    uint64_t spare_used_ns;
    /* Big requests land in memory of the handler's (proto_handler.req_buf) when it gives
     * some: borrowed, never freed here; ext_lent is the one proto_recv last handed out. */
    void *(*ext_buf)(void *ud, size_t n);
    void *ext_ud;
    void *ext_lent;
    /* Server only: counts threads inside gRPC's poller (see server.c); NULL on clients. */
    atomic_int *pollers;
    atomic_uint *poll_gen;
    char why[160];              /* text of the last protocol error, for logs */
} proto_stream;

/* Runs one batch and waits for it until deadline. Returns 1 if it succeeded, 0 if it
 * failed (stream ended), GENIE_ETIMEOUT if the deadline passed (the call is then cancelled
 * and the batch drained, so its buffers may be released by the caller). */
int proto_batch(proto_stream *s, const grpc_op *ops, size_t nops, gpr_timespec deadline);

/* Sends one logical message, the concatenation of iov[0..niov) (gathered into gRPC slices
 * that point into the pieces, without a copy, except for small ones). If hold is NULL the
 * pieces are borrowed: on success this
 * returns only after gRPC has dropped every reference to it (if the deadline passes first, the
 * call is cancelled and this fails with GENIE_ETIMEOUT); on failure gRPC may still
 * hold some until the call is destroyed, so the caller must cancel the call, finish its
 * pending batches, unref it and then call proto_wait_borrowed before reusing the payload.
 * Otherwise hold owns the payload (freed when the last chunk is written) and the caller
 * gives up its pointer.
 * If recv_out is non-NULL, a RECV_MESSAGE is batched with the last chunk and its result is
 * stored there (NULL: stream ended). Returns 0, GENIE_ECLOSED or GENIE_ETIMEOUT. */
int proto_send(proto_stream *s, const proto_iov *iov, size_t niov, proto_hold *hold,
               grpc_byte_buffer **recv_out, gpr_timespec deadline);

/* Waits until gRPC holds no reference into a borrowed payload, polling s->cq meanwhile. */
void proto_wait_borrowed(proto_stream *s);

/* Receives one logical message into a malloc'd buffer (caller frees; never NULL on success,
 * even for 0 bytes). first is an already-received first chunk (consumed) or NULL.
 * Returns 0, GENIE_ECLOSED (stream ended cleanly before a message began), GENIE_EPROTO
 * (malformed chunk sequence: s->why says why), GENIE_ETOOBIG, GENIE_ENOMEM or GENIE_ETIMEOUT. */
int proto_recv(proto_stream *s, grpc_byte_buffer *first, void **out, size_t *out_n,
               gpr_timespec deadline);
/* proto_recv placing part of the message per land (transport.h; NULL: proto_recv). */
int proto_recv_land(proto_stream *s, grpc_byte_buffer *first, proto_land *land, void **out,
                    size_t *out_n, gpr_timespec deadline);

/* Gives a buffer from proto_recv back: kept for the next big message if it came from the
 * reuse cache (s->reuse), freed otherwise. */
void proto_recycle(proto_stream *s, void *buf);
/* Frees the cached buffer, if any. */
void proto_stream_release(proto_stream *s);

/* grpc_completion_queue_pluck on s->cq, counted in s->pollers / s->poll_gen if set. */
grpc_event proto_pluck(proto_stream *s, void *tag, gpr_timespec deadline);

/* Channel/server arguments shared by both sides (static storage). */
const grpc_channel_args *proto_channel_args(int server);
/* proto_max_message() comes from protocol/frame.h: one bound for frames and messages. */
gpr_timespec proto_deadline(int timeout_ms);
/* A whole PEM file as a NUL-terminated string (caller frees); NULL with the reason in err. */
char *proto_read_pem(const char *path, const char *what, char *err, size_t errlen);

#endif
