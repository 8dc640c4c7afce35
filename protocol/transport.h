/* transport.h — one long-lived gRPC bidi stream per client: opaque request/reply messages.
 *
 * The transport knows nothing of frames: it carries byte messages of any size, chunking
 * them below 4 MiB per gRPC message, and delivers exactly one reply per request.
 * Targets: "host:port" (TCP) or "unix:/path". */
#ifndef GENIE_TRANSPORT_H
#define GENIE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/frame.h" /* proto_iov */

/* ---- client ---- */
typedef struct proto_conn proto_conn;

/* Connects and opens the stream, waiting at most timeout_ms. On failure returns a negative
 * GENIE_E* code (GENIE_ECONNECT, GENIE_ETIMEOUT) and writes a readable reason into err. */
int proto_conn_open(const char *target, int timeout_ms, proto_conn **out, char *err,
                    size_t errlen);

/* Sends one request and waits for its reply, at most timeout_ms (<= 0: no deadline).
 * *reply is malloc'd (non-NULL even for 0 bytes); the caller frees it. req is borrowed:
 * it is not copied and is the caller's again when this returns. Returns 0 or
 * GENIE_ETIMEOUT / GENIE_ECLOSED / GENIE_EIO. After those the connection is dead: every
 * later call fails at once with GENIE_ECLOSED. GENIE_ETOOBIG (n above
 * GENIE_MAX_MESSAGE_BYTES, default 4 GiB) sends nothing and leaves the connection usable.
 * One thread at a time per connection: callers serialise their calls. */
int proto_conn_call(proto_conn *c, const void *req, size_t n, void **reply, size_t *reply_n,
                    int timeout_ms);

/* proto_conn_call with the request in pieces: the message is iov[0] .. iov[niov-1]
 * concatenated, sent from the pieces' own memory (no copy for large pieces). The pieces are
 * borrowed like req above: unchanged until, and the caller's again when, this returns. */
int proto_conn_callv(proto_conn *c, const proto_iov *iov, size_t niov, void **reply,
                     size_t *reply_n, int timeout_ms);

/* Where a reply's bulk data goes (a big D2H copy's bytes): proto_conn_callv_land asks fn, once
 * the first chunk of a reply of at least 1 MiB is in, with the reply's first head_n bytes and
 * its length; fn returns 1 with bytes [at->off, at->off + at->len) of the reply to be written
 * to at->dst instead of the reply buffer, or 0 (all in the buffer). Those bytes of the reply
 * buffer are then left unwritten: whoever reads the reply must take them from dst. On
 * return, crc_set says whether crc holds the reply's frame checksum as computed while it
 * came in (for proto_frame_crc_note in the caller's own copy of the codec: the bytes in dst
 * are not in the buffer for proto_frame_parse to check). */
typedef struct proto_land_at {
    uint64_t off, len;
    void *dst;
} proto_land_at;
typedef struct proto_land {
    int (*fn)(void *ud, const void *head, size_t head_n, uint64_t total, proto_land_at *at);
    void *ud;
    int landed;     /* out: fn placed bytes */
    int crc_set;    /* out */
    uint32_t crc;   /* out */
} proto_land;
/* proto_conn_callv with the reply's bulk data placed by land (NULL: proto_conn_callv). */
int proto_conn_callv_land(proto_conn *c, const proto_iov *iov, size_t niov, proto_land *land,
                          void **reply, size_t *reply_n, int timeout_ms);

/* The two halves of proto_conn_callv, for a caller that keeps several requests in flight
 * (the shim's non-blocking flushes): sendv sends one request and returns once gRPC holds no
 * reference into the pieces (they are the caller's again), without waiting for a reply;
 * recv waits for the next reply, at most timeout_ms. Replies come in the order of the
 * requests, one each. The caller bounds what it keeps in flight: replies not yet received
 * wait in gRPC's flow-control window (8 MiB), and a request blocks once the server's is
 * full. Same return codes and dead-connection rule as proto_conn_callv. */
int proto_conn_sendv(proto_conn *c, const proto_iov *iov, size_t niov, int timeout_ms);
int proto_conn_recv(proto_conn *c, void **reply, size_t *reply_n, int timeout_ms);
/* proto_conn_recv with the reply's bulk data placed by land (as proto_conn_callv_land). */
int proto_conn_recv_land(proto_conn *c, proto_land *land, void **reply, size_t *reply_n,
                         int timeout_ms);

/* Gives back a reply of this connection's most recent call: a big one (>= 1 MiB) is kept for
 * the next big reply, so a large D2H does not fault in fresh pages each time (released by the
 * first reply that finds it idle for 2 s, or at close); anything else is freed. free() on a reply
 * is fine too: it just keeps nothing. c NULL: free(). */
void proto_conn_reply_free(proto_conn *c, void *reply);

/* Bytes moved by this connection's messages (payload bytes, both directions). */
void proto_conn_bytes(const proto_conn *c, uint64_t *sent, uint64_t *received);

void proto_conn_close(proto_conn *c);

/* The client half as a table: the shim reaches it through libgenie_grpc.so, which it dlopens
 * (RTLD_LOCAL) when it first connects to a genie-remote, so that gRPC and its ~55 libraries
 * never join the global scope of a process that preloads libgenie.so (every symbol lookup of
 * every library loaded later, PyTorch's included, would search them: docs/architecture.md,
 * start-up). The plugin exports PROTO_CLIENT_OPS_SYM, a function returning this table. */
typedef struct proto_client_ops {
    unsigned version; /* PROTO_CLIENT_OPS_VERSION */
    int (*open)(const char *target, int timeout_ms, proto_conn **out, char *err, size_t errlen);
    int (*call)(proto_conn *c, const void *req, size_t n, void **reply, size_t *reply_n,
                int timeout_ms);
    int (*callv)(proto_conn *c, const proto_iov *iov, size_t niov, void **reply,
                 size_t *reply_n, int timeout_ms);
    int (*sendv)(proto_conn *c, const proto_iov *iov, size_t niov, int timeout_ms);
    int (*recv)(proto_conn *c, void **reply, size_t *reply_n, int timeout_ms);
    void (*reply_free)(proto_conn *c, void *reply);
    void (*bytes)(const proto_conn *c, uint64_t *sent, uint64_t *received);
    void (*close)(proto_conn *c);
    int (*callv_land)(proto_conn *c, const proto_iov *iov, size_t niov, proto_land *land,
                      void **reply, size_t *reply_n, int timeout_ms);
    int (*recv_land)(proto_conn *c, proto_land *land, void **reply, size_t *reply_n,
                     int timeout_ms);
} proto_client_ops;
#define PROTO_CLIENT_OPS_VERSION 2u
#define PROTO_CLIENT_OPS_SYM "genie_grpc_client_ops"
/* The table over this file's functions (protocol/transport/client.c). */
extern const proto_client_ops proto_grpc_client;

/* ---- server ---- */
typedef struct proto_server proto_server;

typedef struct proto_handler {
    void *ud;
    /* A new stream opened; returns the session state (NULL refuses the stream). */
    void *(*open)(void *ud, const char *peer);
    /* One request: fill *reply (malloc'd; the transport frees it). Runs on the session's
     * own thread, so a slow session never blocks another. A nonzero return ends the
     * stream after the reply (if any) is sent. */
    int (*handle)(void *session, const void *req, size_t n, void **reply, size_t *reply_n);
    /* The stream ended (client closed, vanished or the server stops). */
    void (*close)(void *session);
    /* Optional: 1 once the session has authenticated (after a handle); the limits that
     * proto_server_opts sets for unauthenticated streams stop applying to it. NULL: every
     * stream counts as authenticated from the start. */
    int (*authenticated)(void *session);
    /* Optional: takes back a reply once gRPC no longer reads it (before the next handle, on
     * the session's thread, and before close), so the session can build its next reply in
     * the same memory. NULL: the transport frees replies itself. */
    void (*reply_done)(void *session, void *reply);
    /* Optional: memory of the session's own for a request of n bytes (asked only for
     * requests of at least 1 MiB, once the size is announced and within the limits), so the
     * transport copies the request out of gRPC's slices straight into it: a worker process's
     * shared window (remote/front.c), not a buffer the session then copies again. It must
     * stay valid and untouched until handle returns for that request; the transport never
     * frees it. NULL: the transport's own buffer. */
    void *(*req_buf)(void *session, size_t n);
} proto_handler;

/* Limits the server applies before and after authentication, and its credentials. 0 or
 * NULL in a field: no limit / no TLS. */
typedef struct proto_server_opts {
    uint64_t pre_auth_bytes;    /* largest message before authentication (a few KiB) */
    int handshake_ms;           /* a stream not authenticated this long after it opened ends */
    unsigned max_unauth;        /* streams not yet authenticated; more are refused at once */
    int idle_ms;                /* an authenticated stream silent this long ends */
    const char *tls_cert;       /* PEM paths: certificate chain and key (TLS when set) */
    const char *tls_key;
    const char *tls_client_ca;  /* mutual TLS: clients must present a certificate from this CA */
} proto_server_opts;

/* Listens on "host:port" or "unix:/path". Returns 0 or a negative GENIE_E* code. */
int proto_server_start(const char *listen, const proto_handler *h, proto_server **out,
                       char *err, size_t errlen);
/* The same with limits and credentials (opts NULL: none). */
int proto_server_start_opts(const char *listen, const proto_handler *h,
                            const proto_server_opts *opts, proto_server **out, char *err,
                            size_t errlen);
/* The TCP port the server listens on (useful with port 0); 0 for a unix socket. */
int proto_server_port(const proto_server *s);
/* Graceful stop, first half: new streams are refused; streams waiting for a request end at
 * once, a stream whose request is running ends after its reply; each gets the status text
 * "genie-remote is shutting down ...". Waits at most ms for them all; returns how many
 * remain (proto_server_stop then cancels them). */
int proto_server_drain(proto_server *s, int ms);
/* Stops accepting, ends every stream (calling close for each) and frees the server. */
void proto_server_stop(proto_server *s);

#endif
