/* link.c — the shim's way to the executor: the gRPC stream, or the in-process executor. */
#define _GNU_SOURCE /* dladdr */
#include "shim/shim_int.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/transport.h"
#include "remote/exec.h"

/* The gRPC client, from libgenie_grpc.so (protocol/transport.h, proto_client_ops): loaded on
 * the first connection to a genie-remote, never in local mode. Lock held (session start). */
static const proto_client_ops *grpc_ops;

static void *plugin_try(const char *path, char *why, size_t whylen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *d = dlerror();
        size_t o = strlen(why);
        if (o + 2 < whylen) /* each reason cut at 300 bytes: three fit in why */
            snprintf(why + o, whylen - o, "%s%.300s", o ? "; " : "", d ? d : path);
    }
    return h;
}

/* GENIE_GRPC_LIB; else libgenie_grpc.so beside the object that holds the shim (libgenie.so in
 * build/shim or lib/genie), or one folder up (the look-alike libcudart.so.13 in lookalike/);
 * else by name (LD_LIBRARY_PATH). RTLD_LOCAL: gRPC's libraries stay out of the global scope. */
static const proto_client_ops *grpc_client(char *err, size_t errlen)
{
    if (grpc_ops)
        return grpc_ops;
    char why[1024] = "";
    void *h = NULL;
    const char *env = genie_env_str("GENIE_GRPC_LIB", NULL);
    if (env && *env) {
        h = plugin_try(env, why, sizeof why);
    } else {
        Dl_info di;
        if (dladdr((void *)&grpc_client, &di) && di.dli_fname && strchr(di.dli_fname, '/')) {
            char dir[PATH_MAX], path[PATH_MAX + 32];
            snprintf(dir, sizeof dir, "%s", di.dli_fname);
            *strrchr(dir, '/') = 0;
            snprintf(path, sizeof path, "%s/libgenie_grpc.so", dir);
            h = plugin_try(path, why, sizeof why);
            if (!h) {
                snprintf(path, sizeof path, "%s/../libgenie_grpc.so", dir);
                h = plugin_try(path, why, sizeof why);
            }
        }
        if (!h)
            h = plugin_try("libgenie_grpc.so", why, sizeof why);
    }
    if (!h) {
        snprintf(err, errlen, "cannot load Genie's gRPC client libgenie_grpc.so (set GENIE_GRPC_LIB): %s",
                 why);
        return NULL;
    }
    const proto_client_ops *(*get)(void) =
        (const proto_client_ops *(*)(void))dlsym(h, PROTO_CLIENT_OPS_SYM);
    const proto_client_ops *ops = get ? get() : NULL;
    if (!ops || ops->version != PROTO_CLIENT_OPS_VERSION) {
        snprintf(err, errlen, "libgenie_grpc.so is not this libgenie.so's (no %s version %u)",
                 PROTO_CLIENT_OPS_SYM, PROTO_CLIENT_OPS_VERSION);
        dlclose(h);
        return NULL;
    }
    /* never closed: gRPC's threads live until the process ends */
    GENIE_DEBUG("gRPC client loaded (libgenie_grpc.so, RTLD_LOCAL)");
    return grpc_ops = ops;
}

struct shim_link {
    int local;
    const proto_client_ops *ops; /* remote */
    int timeout_ms;
    proto_conn *conn;    /* remote */
    exec_ctx *ctx;       /* local */
    exec_session *sess;  /* local */
    /* local: replies of requests sent with shim_link_send and not yet taken by
     * shim_link_recv, oldest first (the in-process executor answers at once) */
    struct local_reply {
        void *p;
        size_t n;
    } *q;
    size_t qhead, qlen, qcap;
};

int shim_link_open(const char *target, shim_link **out, char *err, size_t errlen)
{
    shim_link *l = calloc(1, sizeof *l);
    if (!l)
        return GENIE_ENOMEM;
    l->timeout_ms = (int)genie_env_int("GENIE_TIMEOUT_MS", 60000);
    if (!strcmp(target, "local")) {
        /* capture-only mode: the executor runs in this process over GENIE_CUDA_LIB */
        l->local = 1;
        int e = exec_ctx_open(NULL, &l->ctx, err, errlen);
        if (e) {
            free(l);
            return e;
        }
        l->sess = exec_session_open(l->ctx, "local");
        if (!l->sess) {
            exec_ctx_close(l->ctx);
            free(l);
            snprintf(err, errlen, "cannot open an in-process executor session");
            return GENIE_ENOMEM;
        }
    } else {
        l->ops = grpc_client(err, errlen);
        int e = l->ops ? l->ops->open(target, l->timeout_ms, &l->conn, err, errlen) : GENIE_ECONNECT;
        if (e) {
            free(l);
            return e;
        }
    }
    *out = l;
    return 0;
}

int shim_link_call(shim_link *l, const void *req, size_t n, void **reply, size_t *reply_n)
{
    if (l->local) {
        exec_session_handle(l->sess, req, n, reply, reply_n);
        return *reply ? 0 : GENIE_EIO;
    }
    return l->ops->call(l->conn, req, n, reply, reply_n, l->timeout_ms);
}

int shim_link_callv_land(shim_link *l, const proto_iov *iov, size_t niov, proto_land *land,
                         void **reply, size_t *reply_n)
{
    if (!l->local && land)
        return l->ops->callv_land(l->conn, iov, niov, land, reply, reply_n, l->timeout_ms);
    if (land)
        land->landed = land->crc_set = 0;
    return shim_link_callv(l, iov, niov, reply, reply_n);
}

int shim_link_callv(shim_link *l, const proto_iov *iov, size_t niov, void **reply,
                    size_t *reply_n)
{
    if (!l->local)
        return l->ops->callv(l->conn, iov, niov, reply, reply_n, l->timeout_ms);
    /* The in-process executor takes one buffer: gather (the shim sends pieces only to a
     * remote, so this is for completeness). */
    size_t n = 0;
    for (size_t i = 0; i < niov; i++)
        n += iov[i].n;
    uint8_t *req = malloc(n ? n : 1);
    if (!req)
        return GENIE_ENOMEM;
    for (size_t i = 0, o = 0; i < niov; o += iov[i].n, i++)
        if (iov[i].n)
            memcpy(req + o, iov[i].p, iov[i].n);
    int e = shim_link_call(l, req, n, reply, reply_n);
    free(req);
    return e;
}

/* Local: runs the request now and keeps its reply for shim_link_recv. */
static int local_send(shim_link *l, const void *req, size_t n)
{
    if (l->qhead + l->qlen == l->qcap) {
        if (l->qhead) { /* slide the live ones to the front */
            memmove(l->q, l->q + l->qhead, l->qlen * sizeof *l->q);
            l->qhead = 0;
        } else {
            size_t cap = l->qcap ? l->qcap * 2 : 16;
            struct local_reply *q = realloc(l->q, cap * sizeof *q);
            if (!q)
                return GENIE_ENOMEM;
            l->q = q;
            l->qcap = cap;
        }
    }
    void *reply = NULL;
    size_t reply_n = 0;
    exec_session_handle(l->sess, req, n, &reply, &reply_n);
    if (!reply)
        return GENIE_EIO;
    l->q[l->qhead + l->qlen++] = (struct local_reply){reply, reply_n};
    return 0;
}

int shim_link_send(shim_link *l, const proto_iov *iov, size_t niov)
{
    if (!l->local)
        return l->ops->sendv(l->conn, iov, niov, l->timeout_ms);
    if (niov == 1)
        return local_send(l, iov[0].p, iov[0].n);
    size_t n = 0;
    for (size_t i = 0; i < niov; i++)
        n += iov[i].n;
    uint8_t *req = malloc(n ? n : 1);
    if (!req)
        return GENIE_ENOMEM;
    for (size_t i = 0, o = 0; i < niov; o += iov[i].n, i++)
        if (iov[i].n)
            memcpy(req + o, iov[i].p, iov[i].n);
    int e = local_send(l, req, n);
    free(req);
    return e;
}

int shim_link_recv_land(shim_link *l, proto_land *land, void **reply, size_t *reply_n)
{
    if (!l->local && land)
        return l->ops->recv_land(l->conn, land, reply, reply_n, l->timeout_ms);
    if (land)
        land->landed = land->crc_set = 0;
    return shim_link_recv(l, reply, reply_n);
}

int shim_link_recv(shim_link *l, void **reply, size_t *reply_n)
{
    if (!l->local)
        return l->ops->recv(l->conn, reply, reply_n, l->timeout_ms);
    if (!l->qlen)
        return GENIE_EPROTO; /* nothing in flight: the caller's bookkeeping is wrong */
    *reply = l->q[l->qhead].p;
    *reply_n = l->q[l->qhead].n;
    l->qhead++;
    if (!--l->qlen)
        l->qhead = 0;
    return 0;
}

void shim_link_reply_free(shim_link *l, void *reply)
{
    if (l && !l->local)
        l->ops->reply_free(l->conn, reply); /* a big reply's buffer is kept for the next */
    else
        free(reply);
}

int shim_link_is_local(const shim_link *l) { return l->local; }

void shim_link_close(shim_link *l)
{
    if (!l)
        return;
    if (l->local) {
        for (size_t i = 0; i < l->qlen; i++)
            free(l->q[l->qhead + i].p);
        free(l->q);
        exec_session_close(l->sess);
        exec_ctx_close(l->ctx);
    } else {
        l->ops->close(l->conn);
    }
    free(l);
}
