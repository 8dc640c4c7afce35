/* server.c — the server side of the transport: accepts streams, one worker thread per session.
 *
 * One thread sits in grpc_completion_queue_next on the server's notification queue and
 * only accepts calls. Each accepted call is bound to its own pluck queue (created before
 * the call was requested) and driven by its own detached session thread, which runs
 * handler->open, ->handle for each request and ->close exactly once. So a slow handler
 * blocks only its own stream.
 *
 * Polling: gRPC's epoll1 engine has one epoll set per process and lets one thread at a
 * time wait in it; when that thread wakes with work while another thread also waits in
 * any completion queue, it hands the poller role over (a futex wake and a context switch)
 * before running the work. With the accept thread always waiting in a polling queue,
 * every request and every spurious EPOLLOUT cost such hand-offs: ~2x the round trip of a
 * raw socket on a 2-core VM. So the notification queue does not poll (the accept thread
 * just sleeps until a call arrives) and the session threads waiting for their requests do
 * all the polling. A backup poller thread polls only when no session thread has waited in
 * gRPC for a whole POLL_SLICE_MS (no session, or all of them busy in handlers), so new
 * connections, shutdowns and keepalives still progress, within about 2 slices. */
#include "protocol/transport/transport_int.h"

#include <errno.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

/* The backup poller's period (see the top of the file). */
#define POLL_SLICE_MS 10

/* Calls requested ahead of time, so a burst of connections is accepted without waiting. */
#define PENDING_CALLS 4

typedef struct proto_session {
    proto_server *srv;          /* borrowed */
    proto_stream s;             /* call and its pluck queue: owned */
    gpr_timespec deadline;
    grpc_metadata_array md;
    /* Under srv->mu: the list of running sessions (for a drain), and whether the handler is
     * running a request now (a drain lets that batch finish). */
    struct proto_session *prev, *next;
    int linked, busy;
} proto_session;

#define DRAIN_MSG "genie-remote is shutting down: session closed (retry with another server)"

struct proto_server {
    grpc_server *srv;
    grpc_completion_queue *cq; /* notification queue: new calls, shutdown */
    void *method;              /* registered "/genie.Remote/Session" */
    proto_handler h;
    proto_server_opts o;       /* limits (the TLS paths are not kept) */
    int nunauth;               /* streams not yet authenticated, under mu */
    proto_session *live;       /* running sessions, under mu */
    int draining;              /* under mu: proto_server_drain began */
    char handshake_msg[128];   /* status texts of the two deadlines (set at start) */
    char idle_msg[128];
    pthread_t cq_thread;
    int port;                  /* bound TCP port; 0 for unix sockets */
    char *unix_path;           /* socket file we created; unlinked at stop */
    char shutdown_tag;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;              /* under mu */
    int nsessions;             /* live session threads, under mu */
    /* backup poller */
    grpc_completion_queue *idle_cq; /* polling queue on which nothing ever completes */
    pthread_t poll_thread;
    int poll_started;
    int poll_stop;             /* under mu */
    pthread_cond_t poll_cv;    /* CLOCK_MONOTONIC; wakes the poller to stop */
    atomic_int pollers;        /* session threads now inside a pluck */
    atomic_uint poll_gen;      /* bumped each time a session thread enters a pluck */
};

static proto_session *session_new(proto_server *srv)
{
    proto_session *ss = calloc(1, sizeof *ss);
    if (!ss)
        return NULL;
    ss->srv = srv;
    ss->s.cq = grpc_completion_queue_create_for_pluck(NULL);
    ss->s.max_msg = proto_max_message();
    ss->s.reuse = 1;
    ss->s.pollers = &srv->pollers;
    ss->s.poll_gen = &srv->poll_gen;
    grpc_metadata_array_init(&ss->md);
    return ss;
}

static void session_free(proto_session *ss)
{
    if (ss->s.call)
        grpc_call_unref(ss->s.call);
    grpc_metadata_array_destroy(&ss->md);
    grpc_completion_queue_shutdown(ss->s.cq);
    while (grpc_completion_queue_pluck(ss->s.cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                       NULL)
               .type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(ss->s.cq);
    proto_stream_release(&ss->s);
    free(ss);
}

/* Asks gRPC for one more incoming call. Called with srv->mu held or before start. */
static int request_call(proto_server *srv)
{
    proto_session *ss = session_new(srv);
    if (!ss)
        return GENIE_ENOMEM;
    grpc_call_error e = grpc_server_request_registered_call(
        srv->srv, srv->method, &ss->s.call, &ss->deadline, &ss->md, NULL, ss->s.cq, srv->cq, ss);
    if (e != GRPC_CALL_OK) {
        GENIE_ERROR("transport: grpc_server_request_registered_call failed (%d)", (int)e);
        session_free(ss);
        return GENIE_EIO;
    }
    return 0;
}

static void send_status(proto_stream *s, grpc_status_code code, const char *details)
{
    grpc_op op;
    memset(&op, 0, sizeof op);
    grpc_slice d = grpc_slice_from_copied_string(details);
    op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op.data.send_status_from_server.status = code;
    op.data.send_status_from_server.status_details = &d;
    proto_batch(s, &op, 1, gpr_inf_future(GPR_CLOCK_MONOTONIC));
    grpc_slice_unref(d);
}

/* The deadline of the next wait for a request: the handshake's end before authentication,
 * the idle timeout after it. */
static gpr_timespec next_deadline(const proto_server *srv, int authed, gpr_timespec handshake_end)
{
    if (!authed)
        return handshake_end;
    return srv->o.idle_ms > 0 ? proto_deadline(srv->o.idle_ms)
                              : gpr_inf_future(GPR_CLOCK_MONOTONIC);
}

static void *session_main(void *arg)
{
    proto_session *ss = arg;
    proto_server *srv = ss->srv;
    proto_stream *s = &ss->s;
    const gpr_timespec inf = gpr_inf_future(GPR_CLOCK_MONOTONIC);
    char *gpeer = grpc_call_get_peer(s->call);
    char peer[128];
    snprintf(peer, sizeof peer, "%s", gpeer ? gpeer : "?");
    gpr_free(gpeer);

    int authed = 1, counted = 0;
    gpr_timespec hs_end = inf;
    void *sess = NULL;
    void *unsent = NULL; /* a reply gRPC may still read: given back once the call is gone */

    /* Learn of the end of the call (cancel, client gone) whatever we are doing. */
    int cancelled = 0;
    char close_tag;
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[0].data.recv_close_on_server.cancelled = &cancelled;
    int close_started = grpc_call_start_batch(s->call, ops, 1, &close_tag, NULL) == GRPC_CALL_OK;

    /* Until the handler says the session authenticated: a small message limit, a deadline
     * for the whole handshake, and a bound on how many such streams exist at once. */
    pthread_mutex_lock(&srv->mu);
    int drain_now = srv->draining;
    if (!drain_now) {
        ss->next = srv->live;
        if (srv->live)
            srv->live->prev = ss;
        srv->live = ss;
        ss->linked = 1;
    }
    pthread_mutex_unlock(&srv->mu);
    if (drain_now) {
        grpc_call_cancel_with_status(s->call, GRPC_STATUS_UNAVAILABLE, DRAIN_MSG, NULL);
        goto done;
    }
    authed = srv->h.authenticated == NULL;
    hs_end = srv->o.handshake_ms > 0 ? proto_deadline(srv->o.handshake_ms) : inf;
    if (!authed) {
        pthread_mutex_lock(&srv->mu);
        int full = srv->o.max_unauth && srv->nunauth >= (int)srv->o.max_unauth;
        if (!full) {
            srv->nunauth++;
            counted = 1;
        }
        pthread_mutex_unlock(&srv->mu);
        if (full) {
            GENIE_WARN("transport: refusing %s: %u connections have not completed HELLO "
                       "(--max-unauth)", peer, srv->o.max_unauth);
            grpc_call_cancel_with_status(s->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                                         "genie-remote: too many connections that have not "
                                         "completed HELLO (--max-unauth); retry later",
                                         NULL);
            goto done;
        }
        if (srv->o.pre_auth_bytes) {
            s->max_msg = srv->o.pre_auth_bytes;
            s->max_name = "--pre-auth-bytes: the limit before HELLO";
        }
        s->timeout_msg = srv->handshake_msg;
    }

    sess = srv->h.open(srv->h.ud, peer);
    if (!sess) {
        GENIE_INFO("transport: session from %s refused by the handler", peer);
        send_status(s, GRPC_STATUS_UNAVAILABLE, "session refused by genie-remote");
        goto done;
    }
    GENIE_DEBUG("transport: session from %s opened", peer);
    if (srv->h.req_buf) {
        s->ext_buf = srv->h.req_buf;
        s->ext_ud = sess;
    }

    /* Accept the stream and wait for the first request in one batch. */
    grpc_metadata md;
    memset(&md, 0, sizeof md);
    md.key = grpc_slice_from_static_string("genie-session");
    md.value = grpc_slice_from_static_string("1");
    grpc_byte_buffer *next = NULL;
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = 1;
    ops[0].data.send_initial_metadata.metadata = &md;
    ops[1].op = GRPC_OP_RECV_MESSAGE;
    ops[1].data.recv_message.recv_message = &next;
    int ok = proto_batch(s, ops, 2, next_deadline(srv, authed, hs_end)) == 1;
    if (!ok && s->cancelled && s->timeout_msg)
        GENIE_WARN("transport: %s: %s", peer, s->timeout_msg);
    if (!ok && next) {
        grpc_byte_buffer_destroy(next);
        next = NULL;
    }

    grpc_status_code code = GRPC_STATUS_OK;
    const char *details = "";
    while (ok && next) {
        void *req;
        size_t n;
        int rc = proto_recv(s, next, &req, &n, next_deadline(srv, authed, hs_end));
        next = NULL; /* consumed */
        if (rc == GENIE_ETIMEOUT) {
            GENIE_WARN("transport: session from %s: %s", peer, s->timeout_msg);
            break; /* proto_batch cancelled the call with that status */
        }
        if (rc == GENIE_ECLOSED) {
            if (s->why[0])
                GENIE_WARN("transport: session from %s: %s", peer, s->why);
            break;
        }
        if (rc) {
            GENIE_ERROR("transport: session from %s: %s; ending the stream", peer, s->why);
            code = rc == GENIE_ETOOBIG || rc == GENIE_ENOMEM ? GRPC_STATUS_RESOURCE_EXHAUSTED
                                                             : GRPC_STATUS_INVALID_ARGUMENT;
            details = s->why;
            break;
        }
        void *rep = NULL;
        size_t rn = 0;
        pthread_mutex_lock(&srv->mu);
        ss->busy = 1;
        pthread_mutex_unlock(&srv->mu);
        int hr = srv->h.handle(sess, req, n, &rep, &rn);
        pthread_mutex_lock(&srv->mu);
        ss->busy = 0;
        if (srv->draining && !hr) { /* this batch's reply goes out, then the stream ends */
            hr = 1;
            code = GRPC_STATUS_UNAVAILABLE;
            details = DRAIN_MSG;
        }
        pthread_mutex_unlock(&srv->mu);
        proto_recycle(s, req); /* a big buffer is kept for the next big request */
        if (!authed && srv->h.authenticated(sess)) {
            authed = 1;
            pthread_mutex_lock(&srv->mu);
            srv->nunauth--;
            counted = 0;
            pthread_mutex_unlock(&srv->mu);
            s->max_msg = proto_max_message();
            s->max_name = NULL;
            s->timeout_msg = srv->o.idle_ms > 0 ? srv->idle_msg : NULL;
        }
        if (!rep)
            rn = 0;
        if (hr && !rep) {
            code = GRPC_STATUS_OK;
            details = "";
            break; /* end without a reply */
        }
        proto_iov one = {rep, rn};
        if (srv->h.reply_done) {
            /* Sent from the session's memory (borrowed): proto_send returns once gRPC holds
             * no reference into it, and the session gets it back for its next reply. */
            int sr = proto_send(s, &one, 1, NULL, hr ? NULL : &next,
                                next_deadline(srv, authed, hs_end));
            if (sr == GENIE_ETIMEOUT && s->timeout_msg)
                GENIE_WARN("transport: session from %s: %s", peer, s->timeout_msg);
            if (sr) {
                unsent = rep;
                break;
            }
            if (rep)
                srv->h.reply_done(sess, rep);
            if (hr && code != GRPC_STATUS_OK)
                GENIE_INFO("transport: session from %s closed by the drain after its batch",
                           peer);
            if (hr)
                break;
            continue;
        }
        proto_hold *hold = malloc(sizeof *hold);
        if (!hold) {
            free(rep);
            code = GRPC_STATUS_RESOURCE_EXHAUSTED;
            details = "out of memory";
            break;
        }
        atomic_init(&hold->refs, 1);
        hold->owned = rep; /* freed once gRPC has written the last chunk */
        hold->heap_self = 1;
        /* Send the reply and post the read of the next request with its last chunk. */
        int sr = proto_send(s, &one, 1, hold, hr ? NULL : &next, next_deadline(srv, authed, hs_end));
        if (sr == GENIE_ETIMEOUT && s->timeout_msg)
            GENIE_WARN("transport: session from %s: %s", peer, s->timeout_msg);
        if (sr)
            break;
        if (hr && code != GRPC_STATUS_OK) {
            GENIE_INFO("transport: session from %s closed by the drain after its batch", peer);
            break;
        }
        if (hr)
            break;
    }
    /* Ends the call; a no-op failure if the client already cancelled it. */
    send_status(s, code, details);

done:
    if (close_started)
        proto_pluck(s, &close_tag, inf);
    if (unsent) {
        /* A failed send may leave gRPC holding slices into the reply until the call is
         * destroyed: destroy it now, wait for them, then give the reply back. The call
         * leaves the session under mu: a drain cancels the calls of listed sessions. */
        pthread_mutex_lock(&srv->mu);
        grpc_call *call = s->call;
        s->call = NULL;
        pthread_mutex_unlock(&srv->mu);
        grpc_call_cancel(call, NULL);
        grpc_call_unref(call);
        proto_wait_borrowed(s);
        srv->h.reply_done(sess, unsent);
    }
    if (counted) {
        pthread_mutex_lock(&srv->mu);
        srv->nunauth--;
        pthread_mutex_unlock(&srv->mu);
    }
    if (sess) {
        srv->h.close(sess);
        GENIE_DEBUG("transport: session from %s closed%s", peer,
                    cancelled ? " (cancelled)" : "");
    }
    pthread_mutex_lock(&srv->mu);
    if (ss->linked) {
        if (ss->prev)
            ss->prev->next = ss->next;
        else
            srv->live = ss->next;
        if (ss->next)
            ss->next->prev = ss->prev;
    }
    pthread_mutex_unlock(&srv->mu);
    session_free(ss);
    /* Last touch of srv: stop() may free it as soon as nsessions reaches 0. */
    pthread_mutex_lock(&srv->mu);
    srv->nsessions--;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

static void start_session(proto_server *srv, proto_session *ss)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    pthread_mutex_lock(&srv->mu);
    srv->nsessions++;
    pthread_mutex_unlock(&srv->mu);
    int e = pthread_create(&t, &a, session_main, ss);
    pthread_attr_destroy(&a);
    if (e) {
        GENIE_ERROR("transport: cannot start a session thread: %s", strerror(e));
        grpc_call_cancel_with_status(ss->s.call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                                     "genie-remote cannot start a session thread", NULL);
        session_free(ss);
        pthread_mutex_lock(&srv->mu);
        srv->nsessions--;
        pthread_cond_broadcast(&srv->cv);
        pthread_mutex_unlock(&srv->mu);
    }
}

/* Polls for one slice if no session thread has polled since *last_gen; else sleeps. */
static void backup_poll_once(proto_server *srv, unsigned *last_gen)
{
    unsigned g = atomic_load_explicit(&srv->poll_gen, memory_order_relaxed);
    int idle = atomic_load_explicit(&srv->pollers, memory_order_relaxed) == 0 && g == *last_gen;
    *last_gen = g;
    if (idle) {
        /* nothing is ever queued on idle_cq: this just drives I/O for a slice */
        grpc_completion_queue_next(srv->idle_cq, proto_deadline(POLL_SLICE_MS), NULL);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += POLL_SLICE_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&srv->mu);
    if (!srv->poll_stop)
        pthread_cond_timedwait(&srv->poll_cv, &srv->mu, &ts);
    pthread_mutex_unlock(&srv->mu);
}

static void *poll_main(void *arg)
{
    proto_server *srv = arg;
    unsigned last = atomic_load(&srv->poll_gen) - 1; /* poll at once */
    for (;;) {
        pthread_mutex_lock(&srv->mu);
        int stop = srv->poll_stop;
        pthread_mutex_unlock(&srv->mu);
        if (stop)
            break;
        backup_poll_once(srv, &last);
    }
    return NULL;
}

/* Handles the notification queue until it shuts down. self_poll: no poller thread runs
 * (it could not be started), so this thread drives I/O between looks at the queue. */
static void notify_loop(proto_server *srv, int self_poll)
{
    unsigned last = 0;
    for (;;) {
        gpr_timespec dl = self_poll ? gpr_inf_past(GPR_CLOCK_MONOTONIC)
                                    : gpr_inf_future(GPR_CLOCK_MONOTONIC);
        grpc_event ev = grpc_completion_queue_next(srv->cq, dl, NULL);
        if (ev.type == GRPC_QUEUE_TIMEOUT) {
            last = atomic_load(&srv->poll_gen); /* force a polling slice */
            backup_poll_once(srv, &last);
            continue;
        }
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        if (ev.tag == &srv->shutdown_tag) {
            /* Every call has ended and every request has failed: nothing more comes. */
            grpc_completion_queue_shutdown(srv->cq);
            continue;
        }
        proto_session *ss = ev.tag;
        if (!ev.success) { /* a request failed: the server is shutting down */
            session_free(ss);
            continue;
        }
        pthread_mutex_lock(&srv->mu);
        if (!srv->stopping)
            request_call(srv); /* replace the request just used */
        pthread_mutex_unlock(&srv->mu);
        start_session(srv, ss);
    }
}

static void *cq_main(void *arg)
{
    notify_loop(arg, 0);
    return NULL;
}

/* Stops the backup poller (if running) and destroys its queue. */
static void stop_poller(proto_server *srv)
{
    if (srv->poll_started) {
        pthread_mutex_lock(&srv->mu);
        srv->poll_stop = 1;
        pthread_cond_broadcast(&srv->poll_cv);
        pthread_mutex_unlock(&srv->mu);
        pthread_join(srv->poll_thread, NULL);
        srv->poll_started = 0;
    }
    if (srv->idle_cq) {
        grpc_completion_queue_shutdown(srv->idle_cq);
        while (grpc_completion_queue_next(srv->idle_cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                          NULL)
                   .type != GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(srv->idle_cq);
        srv->idle_cq = NULL;
    }
}

/* "unix:/p", "unix:///p" -> "/p"; NULL for TCP addresses. */
static const char *unix_path_of(const char *listen)
{
    if (strncmp(listen, "unix:", 5))
        return NULL;
    const char *p = listen + 5;
    if (!strncmp(p, "//", 2))
        p += 2;
    return p;
}

int proto_server_start(const char *listen, const proto_handler *h, proto_server **out,
                       char *err, size_t errlen)
{
    return proto_server_start_opts(listen, h, NULL, out, err, errlen);
}

/* gRPC's TLS server credentials from PEM files; mutual TLS when ca is set. */
static grpc_server_credentials *tls_creds(const proto_server_opts *o, char *err, size_t errlen)
{
    char *cert = proto_read_pem(o->tls_cert, "TLS certificate", err, errlen);
    char *key = cert ? proto_read_pem(o->tls_key, "TLS key", err, errlen) : NULL;
    char *ca = key && o->tls_client_ca ? proto_read_pem(o->tls_client_ca, "client CA", err, errlen)
                                        : NULL;
    grpc_server_credentials *c = NULL;
    if (key && (!o->tls_client_ca || ca)) {
        grpc_ssl_pem_key_cert_pair pair = {key, cert};
        c = grpc_ssl_server_credentials_create_ex(
            ca, &pair, 1,
            ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
               : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
        if (!c && err)
            snprintf(err, errlen, "gRPC refused the TLS certificate or key (%s, %s)",
                     o->tls_cert, o->tls_key);
    }
    free(cert);
    if (key) /* the private key's bytes do not outlive this call in our memory */
        memset(key, 0, strlen(key));
    free(key);
    free(ca);
    return c;
}

int proto_server_start_opts(const char *listen, const proto_handler *h,
                            const proto_server_opts *opts, proto_server **out, char *err,
                            size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = 0;
    if (!listen || !*listen || !h || !h->open || !h->handle || !h->close) {
        if (err)
            snprintf(err, errlen, "proto_server_start: missing address or handler");
        return GENIE_EINVAL;
    }
    const char *path = unix_path_of(listen);
    if (path) {
        struct sockaddr_un sa;
        struct stat st;
        if (!*path || strlen(path) >= sizeof sa.sun_path) {
            if (err)
                snprintf(err, errlen, "cannot listen on %s: bad unix socket path", listen);
            return GENIE_EINVAL;
        }
        if (stat(path, &st) == 0) {
            if (!S_ISSOCK(st.st_mode)) {
                if (err)
                    snprintf(err, errlen, "cannot listen on %s: the file exists and is not a "
                             "socket", listen);
                return GENIE_EINVAL;
            }
            unlink(path); /* stale socket from an earlier run */
        }
    }

    grpc_init();
    proto_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        grpc_shutdown();
        return GENIE_ENOMEM;
    }
    srv->h = *h;
    if (opts) {
        srv->o = *opts;
        srv->o.tls_cert = srv->o.tls_key = srv->o.tls_client_ca = NULL; /* not kept */
    }
    snprintf(srv->handshake_msg, sizeof srv->handshake_msg,
             "genie-remote: no HELLO within %d ms (--handshake-ms): connection closed",
             srv->o.handshake_ms);
    snprintf(srv->idle_msg, sizeof srv->idle_msg,
             "genie-remote: session idle for %d s (--idle-seconds): closed",
             srv->o.idle_ms / 1000);
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->poll_cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&srv->pollers, 0);
    atomic_init(&srv->poll_gen, 0);
    srv->srv = grpc_server_create(proto_channel_args(1), NULL);
    /* Non-polling: the accept thread must not take part in polling (top of the file). */
    grpc_completion_queue_attributes qa = {GRPC_CQ_CURRENT_VERSION, GRPC_CQ_NEXT,
                                           GRPC_CQ_NON_POLLING, NULL};
    srv->cq = grpc_completion_queue_create(grpc_completion_queue_factory_lookup(&qa), &qa,
                                           NULL);
    /* The backup poller's queue is registered too: gRPC hands accepted connections to
     * the pollsets of the server's polling queues and drops them if there is none. */
    srv->idle_cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->srv, srv->idle_cq, NULL);
    grpc_server_register_completion_queue(srv->srv, srv->cq, NULL);
    srv->method = grpc_server_register_method(srv->srv, PROTO_METHOD, NULL,
                                              GRPC_SRM_PAYLOAD_NONE, 0);
    int tls = opts && opts->tls_cert;
    grpc_server_credentials *creds =
        tls ? tls_creds(opts, err, errlen) : grpc_insecure_server_credentials_create();
    int port = creds ? grpc_server_add_http2_port(srv->srv, listen, creds) : 0;
    if (creds)
        grpc_server_credentials_release(creds);
    if (port <= 0 || !srv->method) {
        if (err && creds)
            snprintf(err, errlen, "cannot listen on %s: %s", listen,
                     path ? "cannot bind the unix socket (directory missing or not writable?)"
                          : "cannot bind (address in use or invalid)");
        /* Never started: destroy needs only a shutdown with its tag drained. */
        grpc_server_shutdown_and_notify(srv->srv, srv->cq, &srv->shutdown_tag);
        notify_loop(srv, 1); /* ends at the shutdown tag */
        grpc_server_destroy(srv->srv);
        grpc_completion_queue_destroy(srv->cq);
        stop_poller(srv);
        pthread_mutex_destroy(&srv->mu);
        pthread_cond_destroy(&srv->cv);
        pthread_cond_destroy(&srv->poll_cv);
        free(srv);
        grpc_shutdown();
        return GENIE_EIO;
    }
    srv->port = path ? 0 : port;
    if (path)
        srv->unix_path = strdup(path);
    grpc_server_start(srv->srv);
    for (int i = 0; i < PENDING_CALLS; i++)
        request_call(srv);
    int e = pthread_create(&srv->poll_thread, NULL, poll_main, srv);
    srv->poll_started = e == 0;
    if (!e)
        e = pthread_create(&srv->cq_thread, NULL, cq_main, srv);
    if (e) {
        if (err)
            snprintf(err, errlen, "cannot start the server thread: %s", strerror(e));
        /* Run the shutdown the queue thread would have run, on this thread. */
        srv->stopping = 1;
        grpc_server_shutdown_and_notify(srv->srv, srv->cq, &srv->shutdown_tag);
        grpc_server_cancel_all_calls(srv->srv);
        notify_loop(srv, !srv->poll_started);
        grpc_server_destroy(srv->srv);
        grpc_completion_queue_destroy(srv->cq);
        stop_poller(srv);
        pthread_cond_destroy(&srv->poll_cv);
        if (srv->unix_path)
            unlink(srv->unix_path);
        free(srv->unix_path);
        free(srv);
        grpc_shutdown();
        return GENIE_EIO;
    }
    GENIE_INFO("transport: listening on %s (port %d)", listen, srv->port);
    *out = srv;
    return 0;
}

int proto_server_port(const proto_server *s)
{
    return s ? s->port : 0;
}

int proto_server_drain(proto_server *srv, int ms)
{
    if (!srv)
        return 0;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&srv->mu);
    srv->draining = 1;
    /* Sessions waiting for their next request end now; busy ones after their batch. */
    for (proto_session *ss = srv->live; ss; ss = ss->next)
        if (!ss->busy && ss->s.call) /* NULL: its call already ended (a failed send) */
            grpc_call_cancel_with_status(ss->s.call, GRPC_STATUS_UNAVAILABLE, DRAIN_MSG, NULL);
    while (srv->nsessions > 0)
        if (pthread_cond_timedwait(&srv->cv, &srv->mu, &until) == ETIMEDOUT)
            break;
    int left = srv->nsessions;
    pthread_mutex_unlock(&srv->mu);
    return left;
}

void proto_server_stop(proto_server *srv)
{
    if (!srv)
        return;
    /* Documented order: stop accepting, cancel the calls, let the queue drain, destroy. */
    pthread_mutex_lock(&srv->mu);
    srv->stopping = 1;
    pthread_mutex_unlock(&srv->mu);
    grpc_server_shutdown_and_notify(srv->srv, srv->cq, &srv->shutdown_tag);
    grpc_server_cancel_all_calls(srv->srv);
    /* The queue thread exits once the shutdown tag came and the queue drained; that
     * needs every call released, i.e. every session thread past its handler. */
    pthread_join(srv->cq_thread, NULL);
    pthread_mutex_lock(&srv->mu);
    while (srv->nsessions > 0)
        pthread_cond_wait(&srv->cv, &srv->mu);
    pthread_mutex_unlock(&srv->mu);
    grpc_server_destroy(srv->srv);
    grpc_completion_queue_destroy(srv->cq);
    stop_poller(srv);
    if (srv->unix_path)
        unlink(srv->unix_path);
    free(srv->unix_path);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cv);
    pthread_cond_destroy(&srv->poll_cv);
    free(srv);
    grpc_shutdown();
}
