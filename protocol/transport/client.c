/* client.c — the client side of the transport: one channel, one bidi call, blocking calls (or a send and its reply apart).
 *
 * Threading: a proto_conn is used by one thread at a time (the shim serialises its
 * flushes). Every gRPC operation completes on the connection's private pluck queue and
 * the calling thread waits for it there, so no background thread is needed; gRPC makes
 * progress while a caller is inside proto_conn_call/open/close. */
#include "protocol/transport/transport_int.h"

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct proto_conn {
    proto_stream s;
    grpc_channel *ch;            /* owned */
    char *target;                /* owned copy, for messages */
    int dead;                    /* after an error every call fails at once */
    int status_started, status_done;
    char status_tag;             /* address = tag of the RECV_STATUS_ON_CLIENT batch */
    grpc_status_code status;
    grpc_slice status_details;
    grpc_metadata_array initial, trailing;
};

static int ms_since(uint64_t t0)
{
    return (int)((genie_now_ns() - t0) / 1000000);
}

/* Waits (until deadline) for the call's final status; 1 if it is known. */
static int wait_status(proto_conn *c, gpr_timespec deadline)
{
    if (!c->status_started || c->status_done)
        return c->status_done;
    grpc_event ev = grpc_completion_queue_pluck(c->s.cq, &c->status_tag, deadline, NULL);
    if (ev.type == GRPC_OP_COMPLETE)
        c->status_done = 1;
    return c->status_done;
}

static void status_text(proto_conn *c, char *buf, size_t n)
{
    char *d = grpc_slice_to_c_string(c->status_details);
    snprintf(buf, n, "status %d%s%s", (int)c->status, d && *d ? ": " : "", d ? d : "");
    gpr_free(d);
}

/* Asks gRPC why the channel cannot connect: a throwaway call fails with the subchannel's
 * last error in its status details (e.g. "... Connection refused"). */
static void connect_reason(proto_conn *c, gpr_timespec deadline, char *buf, size_t n)
{
    snprintf(buf, n, "connection failed");
    grpc_call *call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->s.cq,
                                               grpc_slice_from_static_string(PROTO_METHOD),
                                               NULL, deadline, NULL);
    if (!call)
        return;
    grpc_status_code code = GRPC_STATUS_OK;
    grpc_slice details = grpc_empty_slice();
    grpc_metadata_array trailing;
    grpc_metadata_array_init(&trailing);
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[1].data.recv_status_on_client.status = &code;
    ops[1].data.recv_status_on_client.status_details = &details;
    ops[1].data.recv_status_on_client.trailing_metadata = &trailing;
    char tag;
    if (grpc_call_start_batch(call, ops, 2, &tag, NULL) == GRPC_CALL_OK) {
        grpc_completion_queue_pluck(c->s.cq, &tag, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        char *d = grpc_slice_to_c_string(details);
        /* gRPC's text ends with the OS error ("...: Connection refused"); keep that tail. */
        const char *tail = d;
        for (const char *p = d; p && *p; p++)
            if (p[0] == ':' && p[1] == ' ')
                tail = p + 2;
        if (code != GRPC_STATUS_OK && tail && *tail)
            snprintf(buf, n, "%s", tail);
        gpr_free(d);
    }
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
}

int proto_conn_open(const char *target, int timeout_ms, proto_conn **out, char *err,
                    size_t errlen)
{
    char why[200] = "";
    int rc;
    *out = NULL;
    if (err && errlen)
        err[0] = 0;
    if (!target || !*target) {
        if (err)
            snprintf(err, errlen, "no genie-remote address given (GENIE_REMOTE)");
        return GENIE_EINVAL;
    }
    uint64_t t0 = genie_now_ns();
    gpr_timespec dl = proto_deadline(timeout_ms);
    grpc_init();
    proto_conn *c = calloc(1, sizeof *c);
    if (!c) {
        grpc_shutdown();
        return GENIE_ENOMEM;
    }
    c->target = strdup(target);
    c->s.cq = grpc_completion_queue_create_for_pluck(NULL);
    c->s.max_msg = proto_max_message();
    c->s.reuse = 1; /* big replies land in a kept buffer (proto_conn_reply_free) */
    c->status_details = grpc_empty_slice();
    grpc_metadata_array_init(&c->initial);
    grpc_metadata_array_init(&c->trailing);
    /* TLS when GENIE_TLS_CA names the CA that signed the server's certificate; a client
     * certificate (mutual TLS) when GENIE_TLS_CERT and GENIE_TLS_KEY are set too. */
    const char *ca_path = genie_env_str("GENIE_TLS_CA", NULL);
    const char *cert_path = genie_env_str("GENIE_TLS_CERT", NULL);
    const char *key_path = genie_env_str("GENIE_TLS_KEY", NULL);
    grpc_channel_credentials *creds = NULL;
    if (ca_path && *ca_path) {
        char *ca = proto_read_pem(ca_path, "CA (GENIE_TLS_CA)", why, sizeof why);
        char *cert = ca && cert_path && *cert_path
                         ? proto_read_pem(cert_path, "certificate (GENIE_TLS_CERT)", why, sizeof why)
                         : NULL;
        char *key = cert && key_path && *key_path
                        ? proto_read_pem(key_path, "key (GENIE_TLS_KEY)", why, sizeof why)
                        : NULL;
        if (ca && cert && !key && !*why)
            snprintf(why, sizeof why, "GENIE_TLS_CERT is set without GENIE_TLS_KEY");
        if (ca && (!cert_path || !*cert_path || key)) {
            grpc_ssl_pem_key_cert_pair pair = {key, cert};
            creds = grpc_ssl_credentials_create(ca, key ? &pair : NULL, NULL, NULL);
        }
        free(ca);
        free(cert);
        if (key)
            memset(key, 0, strlen(key));
        free(key);
        if (!creds) {
            rc = GENIE_EINVAL;
            if (!*why)
                snprintf(why, sizeof why, "gRPC refused the TLS credentials");
            goto fail;
        }
    } else {
        creds = grpc_insecure_credentials_create();
    }
    c->ch = grpc_channel_create(target, creds, proto_channel_args(0));
    grpc_channel_credentials_release(creds);
    if (!c->target || !c->ch) {
        rc = GENIE_ENOMEM;
        snprintf(why, sizeof why, "out of memory");
        goto fail;
    }

    /* 1. Wait for the channel to connect; fail fast on the first failed attempt. */
    grpc_connectivity_state st = grpc_channel_check_connectivity_state(c->ch, 1);
    while (st != GRPC_CHANNEL_READY) {
        if (st == GRPC_CHANNEL_TRANSIENT_FAILURE || st == GRPC_CHANNEL_SHUTDOWN) {
            connect_reason(c, proto_deadline(200), why, sizeof why);
            rc = GENIE_ECONNECT;
            goto fail;
        }
        char tag;
        grpc_channel_watch_connectivity_state(c->ch, st, dl, c->s.cq, &tag);
        grpc_event ev = grpc_completion_queue_pluck(c->s.cq, &tag,
                                                    gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (!ev.success) { /* the deadline passed with no state change */
            snprintf(why, sizeof why, "no answer (still connecting)");
            rc = GENIE_ETIMEOUT;
            goto fail;
        }
        st = grpc_channel_check_connectivity_state(c->ch, 0);
    }

    /* 2. Open the stream; the server answers with initial metadata "genie-session: 1"
     * once its handler accepted the session. The stream itself has no deadline. */
    c->s.call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->s.cq,
                                         grpc_slice_from_static_string(PROTO_METHOD), NULL,
                                         gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (!c->s.call) {
        snprintf(why, sizeof why, "cannot create the gRPC call");
        rc = GENIE_ECONNECT;
        goto fail;
    }
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.status = &c->status;
    ops[0].data.recv_status_on_client.status_details = &c->status_details;
    ops[0].data.recv_status_on_client.trailing_metadata = &c->trailing;
    if (grpc_call_start_batch(c->s.call, ops, 1, &c->status_tag, NULL) != GRPC_CALL_OK) {
        snprintf(why, sizeof why, "cannot start the gRPC call");
        rc = GENIE_ECONNECT;
        goto fail;
    }
    c->status_started = 1;
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[1].data.recv_initial_metadata.recv_initial_metadata = &c->initial;
    int r = proto_batch(&c->s, ops, 2, dl);
    if (r == GENIE_ETIMEOUT) {
        snprintf(why, sizeof why, "connected, but the session was not accepted in time");
        rc = GENIE_ETIMEOUT;
        goto fail;
    }
    int accepted = 0;
    for (size_t i = 0; r == 1 && i < c->initial.count; i++)
        if (grpc_slice_str_cmp(c->initial.metadata[i].key, "genie-session") == 0)
            accepted = 1;
    if (!accepted) {
        char st_txt[160] = "no reply";
        if (wait_status(c, proto_deadline(200)))
            status_text(c, st_txt, sizeof st_txt);
        snprintf(why, sizeof why, "the server refused the session (%s)", st_txt);
        rc = GENIE_ECONNECT;
        goto fail;
    }
    GENIE_DEBUG("transport: connected to %s in %d ms", target, ms_since(t0));
    *out = c;
    return 0;

fail:
    c->dead = 1; /* close() must not wait for a polite end */
    if (err)
        snprintf(err, errlen, "cannot reach genie-remote at %s: %s (after %d ms)", target, why,
                 ms_since(t0));
    proto_conn_close(c);
    return rc;
}

int proto_conn_call(proto_conn *c, const void *req, size_t n, void **reply, size_t *reply_n,
                    int timeout_ms)
{
    proto_iov one = {req, n};
    if (!req && n) {
        *reply = NULL;
        *reply_n = 0;
        return GENIE_EINVAL;
    }
    return proto_conn_callv(c, &one, 1, reply, reply_n, timeout_ms);
}

/* Checks a request's pieces; 0 with *total its length, or the error (nothing sent). */
static int check_request(proto_conn *c, const proto_iov *iov, size_t niov)
{
    if (!c || (!iov && niov))
        return GENIE_EINVAL;
    size_t n = 0;
    for (size_t i = 0; i < niov; i++) {
        if ((!iov[i].p && iov[i].n) || iov[i].n > SIZE_MAX - n)
            return GENIE_EINVAL;
        n += iov[i].n;
    }
    if (c->dead)
        return GENIE_ECLOSED;
    if ((uint64_t)n > c->s.max_msg) {
        /* Nothing was sent: the connection stays usable. */
        GENIE_ERROR("transport: message of %zu bytes exceeds the limit of %llu "
                    "(GENIE_MAX_MESSAGE_BYTES)", n, (unsigned long long)c->s.max_msg);
        return GENIE_ETOOBIG;
    }
    return 0;
}

/* A send or receive failed with rc: the connection is dead from now on. Returns the code
 * the caller reports. */
static int conn_fail(proto_conn *c, int rc, int timeout_ms)
{
    c->dead = 1;
    if (atomic_load(&c->s.borrow.refs) > 0) {
        /* A failed send can leave gRPC holding slices that point into the request until
         * the call is destroyed: end the call now so it is the caller's again when we
         * return. */
        grpc_call_cancel(c->s.call, NULL);
        wait_status(c, gpr_inf_future(GPR_CLOCK_MONOTONIC));
        grpc_call_unref(c->s.call);
        c->s.call = NULL;
        proto_wait_borrowed(&c->s);
    }
    if (rc == GENIE_ETIMEOUT) {
        GENIE_ERROR("transport: no reply from genie-remote at %s within %d ms; "
                    "the connection is closed", c->target, timeout_ms);
    } else if (rc == GENIE_ECLOSED) {
        char st[200] = "no status";
        if (wait_status(c, proto_deadline(200)))
            status_text(c, st, sizeof st);
        GENIE_ERROR("transport: genie-remote at %s ended the stream (%s)%s%s", c->target, st,
                    c->s.why[0] ? "; " : "", c->s.why);
    } else {
        if (c->s.call)
            grpc_call_cancel(c->s.call, NULL);
        GENIE_ERROR("transport: bad reply from genie-remote at %s: %s", c->target, c->s.why);
        if (rc != GENIE_ENOMEM)
            rc = GENIE_EIO;
    }
    return rc;
}

int proto_conn_callv(proto_conn *c, const proto_iov *iov, size_t niov, void **reply,
                     size_t *reply_n, int timeout_ms)
{
    return proto_conn_callv_land(c, iov, niov, NULL, reply, reply_n, timeout_ms);
}

int proto_conn_callv_land(proto_conn *c, const proto_iov *iov, size_t niov, proto_land *land,
                          void **reply, size_t *reply_n, int timeout_ms)
{
    *reply = NULL;
    *reply_n = 0;
    int rc = check_request(c, iov, niov);
    if (rc)
        return rc;
    gpr_timespec dl = proto_deadline(timeout_ms);
    grpc_byte_buffer *first = NULL;
    rc = proto_send(&c->s, iov, niov, NULL, &first, dl);
    if (!rc && !first)
        rc = GENIE_ECLOSED; /* the stream ended where the reply should start */
    if (!rc)
        rc = proto_recv_land(&c->s, first, land, reply, reply_n, dl);
    return rc ? conn_fail(c, rc, timeout_ms) : 0;
}

/* A request this small is copied into a buffer gRPC owns and frees: the send then returns
 * when the message is queued. A borrowed one must wait until gRPC has written every byte and
 * dropped its slices (proto_wait_borrowed polls for that in 1 ms steps: about 1 ms per frame
 * that is not followed by a read, as proto_conn_callv's are). */
#define SEND_COPY_MAX ((size_t)16 << 20)

int proto_conn_sendv(proto_conn *c, const proto_iov *iov, size_t niov, int timeout_ms)
{
    int rc = check_request(c, iov, niov);
    if (rc)
        return rc;
    size_t n = 0;
    for (size_t i = 0; i < niov; i++)
        n += iov[i].n;
    proto_hold *hold = NULL;
    proto_iov one;
    if (n <= SEND_COPY_MAX && (hold = malloc(sizeof *hold)) && (hold->owned = malloc(n ? n : 1))) {
        uint8_t *d = hold->owned;
        for (size_t i = 0; i < niov; i++) {
            if (iov[i].n)
                memcpy(d, iov[i].p, iov[i].n);
            d += iov[i].n;
        }
        atomic_init(&hold->refs, 1);
        hold->heap_self = 1;
        one = (proto_iov){hold->owned, n};
        iov = &one;
        niov = 1;
    } else if (hold) {
        free(hold); /* no memory for the copy: borrowed */
        hold = NULL;
    }
    rc = proto_send(&c->s, iov, niov, hold, NULL, proto_deadline(timeout_ms));
    return rc ? conn_fail(c, rc, timeout_ms) : 0;
}

int proto_conn_recv(proto_conn *c, void **reply, size_t *reply_n, int timeout_ms)
{
    return proto_conn_recv_land(c, NULL, reply, reply_n, timeout_ms);
}

int proto_conn_recv_land(proto_conn *c, proto_land *land, void **reply, size_t *reply_n,
                         int timeout_ms)
{
    *reply = NULL;
    *reply_n = 0;
    if (!c)
        return GENIE_EINVAL;
    if (c->dead)
        return GENIE_ECLOSED;
    int rc = proto_recv_land(&c->s, NULL, land, reply, reply_n, proto_deadline(timeout_ms));
    return rc ? conn_fail(c, rc, timeout_ms) : 0;
}

void proto_conn_reply_free(proto_conn *c, void *reply)
{
    if (!c) {
        free(reply);
        return;
    }
    proto_recycle(&c->s, reply);
}

void proto_conn_bytes(const proto_conn *c, uint64_t *sent, uint64_t *received)
{
    if (sent)
        *sent = c ? c->s.sent : 0;
    if (received)
        *received = c ? c->s.received : 0;
}

void proto_conn_close(proto_conn *c)
{
    if (!c)
        return;
    if (c->s.call) {
        if (!c->dead && c->status_started) {
            /* Polite end: half-close, then the server answers with its status. */
            grpc_op op;
            memset(&op, 0, sizeof op);
            op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
            proto_batch(&c->s, &op, 1, proto_deadline(1000));
        }
        if (!wait_status(c, proto_deadline(c->dead ? 1 : 1000))) {
            grpc_call_cancel(c->s.call, NULL);
            wait_status(c, gpr_inf_future(GPR_CLOCK_MONOTONIC));
        }
        grpc_call_unref(c->s.call);
    }
    grpc_slice_unref(c->status_details);
    grpc_metadata_array_destroy(&c->initial);
    grpc_metadata_array_destroy(&c->trailing);
    if (c->ch)
        grpc_channel_destroy(c->ch);
    if (c->s.cq) {
        grpc_completion_queue_shutdown(c->s.cq);
        /* Drain: returns GRPC_QUEUE_SHUTDOWN once every operation has been plucked. */
        while (grpc_completion_queue_pluck(c->s.cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                           NULL)
                   .type != GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(c->s.cq);
    }
    proto_stream_release(&c->s);
    free(c->target);
    free(c);
    grpc_shutdown();
}

const proto_client_ops proto_grpc_client = {
    .version = PROTO_CLIENT_OPS_VERSION,
    .open = proto_conn_open,
    .call = proto_conn_call,
    .callv = proto_conn_callv,
    .sendv = proto_conn_sendv,
    .recv = proto_conn_recv,
    .reply_free = proto_conn_reply_free,
    .bytes = proto_conn_bytes,
    .close = proto_conn_close,
    .callv_land = proto_conn_callv_land,
    .recv_land = proto_conn_recv_land,
};
