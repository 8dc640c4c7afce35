/* harness.h — drives the executor frame by frame against the fake GPU (shared by the
 * tests of remote/). Static helpers: each test program includes it once. */
#ifndef GENIE_TESTS_REMOTE_HARNESS_H
#define GENIE_TESTS_REMOTE_HARNESS_H

#include <criterion/criterion.h>
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/gen/ops.h"
#include "protocol/session.h"
#include "remote/exec.h"
#include "tests/fakegpu/fakegpu_twin.h"

#define MiB (1ull << 20)

/* ---- a test twin: y[i] = a * x[i] + b for i < n, in place ---- */
static int axpb_twin(const fg_launch *l, void **args)
{
    float *x = *(float **)args[0];
    float a = *(float *)args[1], b = *(float *)args[2];
    int n = *(int *)args[3];
    unsigned total = l->grid.x * l->block.x;
    for (unsigned t = 0; t < total; t++)
        if ((int)t < n)
            x[t] = a * x[t] + b;
    return 0;
}

static exec_ctx *ctx;

static void setup_token(const char *token)
{
    setenv("GENIE_CUDA_LIB", FAKEGPU_LIB, 1);
    setenv("GENIE_VA_SIZE", "1073741824", 1); /* 1 GiB per session keeps the tests light */
    fg_twin t = {"genie_test_axpb", axpb_twin, 4, {8, 4, 4, 4}};
    fg_twin_register(&t);
    exec_ctx_close(ctx); /* the suite's init ran before a test's own */
    ctx = NULL;
    char err[256] = "";
    int rc = exec_ctx_open(token, &ctx, err, sizeof err);
    cr_assert_eq(rc, 0, "exec_ctx_open: %s", err);
}
static void setup(void)
{
    setup_token(NULL);
}
__attribute__((unused)) static void setup_secret(void)
{
    setup_token("secret");
}
static void teardown(void)
{
    exec_ctx_close(ctx);
    ctx = NULL;
}

/* ---- building requests and reading replies ---- */

typedef struct reply {
    int rc;
    uint32_t seq;
    int n;               /* records before R_EXEC */
    uint64_t exec_ns;    /* R_EXEC's */
    proto_rec recs[64];
    void *raw; /* owns the records' bodies */
} reply;

static genie_buf req;
static uint32_t next_seq = 1;

static void begin(void)
{
    cr_assert_eq(proto_frame_begin(&req, PROTO_KIND_REQUEST, next_seq++), 0);
}

static void run_raw(exec_session *s, const void *buf, size_t len, reply *r)
{
    size_t rn = 0;
    memset(r, 0, sizeof *r);
    r->rc = exec_session_handle(s, buf, len, &r->raw, &rn);
    cr_assert_not_null(r->raw, "no reply");
    proto_frame f;
    cr_assert_eq(proto_frame_parse(r->raw, rn, proto_max_message(), &f), 0, "reply does not parse");
    cr_assert_eq(f.kind, PROTO_KIND_REPLY);
    r->seq = f.seq;
    proto_iter it;
    proto_iter_init(&it, &f);
    while (r->n < 64 && proto_iter_next(&it, &r->recs[r->n]) == 1)
        r->n++;
    /* every reply ends with R_EXEC, the executor's time for the frame; the tests count the
     * records before it */
    cr_assert_gt(r->n, 0, "reply without R_EXEC");
    proto_R_EXEC x;
    cr_assert_eq(r->recs[r->n - 1].op, PROTO_OP_R_EXEC, "the last record is %s, not R_EXEC",
                 proto_op_name(r->recs[r->n - 1].op));
    cr_assert_eq(proto_get_R_EXEC(&r->recs[r->n - 1], &x), 0);
    cr_assert_gt(x.exec_ns, 0);
    r->exec_ns = x.exec_ns;
    r->n--;
}

static void run(exec_session *s, reply *r)
{
    proto_frame_end(&req);
    run_raw(s, req.data, req.len, r);
    uint32_t seq;
    memcpy(&seq, req.data + 12, 4);
    cr_assert_eq(r->seq, seq, "reply seq %u, request %u", r->seq, seq);
}

static void done(reply *r)
{
    free(r->raw);
}

static proto_R_ERROR error_at(const reply *r, int i)
{
    proto_R_ERROR e;
    cr_assert_lt(i, r->n);
    cr_assert_eq(r->recs[i].op, PROTO_OP_R_ERROR, "record %d is %s, not R_ERROR", i,
                 proto_op_name(r->recs[i].op));
    cr_assert_eq(proto_get_R_ERROR(&r->recs[i], &e), 0);
    return e;
}

static int msg_has(const proto_R_ERROR *e, const char *needle)
{
    char m[600];
    size_t n = e->msg_len < sizeof m - 1 ? e->msg_len : sizeof m - 1;
    memcpy(m, e->msg, n);
    m[n] = 0;
    return strstr(m, needle) != NULL;
}

/* Ends the request begun with a PING and runs it: 1 when the op before the PING failed, with
 * *err its R_ERROR (the message copied to a buffer that lives until the next call), 0 when it
 * ran (the reply is the PONG alone). */
__attribute__((unused)) static int run_then_ping(exec_session *s, proto_R_ERROR *err)
{
    static uint8_t msg[600];
    reply r;
    proto_put_PING(&req, 3);
    run(s, &r);
    cr_assert_eq(r.recs[r.n - 1].op, PROTO_OP_R_PONG, "the session did not answer the PING");
    int failed = r.n == 2;
    if (failed) {
        *err = error_at(&r, 0);
        err->msg_len = err->msg_len < sizeof msg ? err->msg_len : sizeof msg;
        memcpy(msg, err->msg, err->msg_len);
        err->msg = msg;
    } else {
        cr_assert_eq(r.n, 1, "%d records before the PONG", r.n - 1);
    }
    done(&r);
    return failed;
}

/* Copies n bytes at device address p of session s into out (one D2H). */
__attribute__((unused)) static void copy_back(exec_session *s, uint64_t p, void *out, size_t n)
{
    reply r;
    begin();
    proto_put_MEMCPY_D2H(&req, p, n, 0);
    run(s, &r);
    cr_assert_eq(r.n, 1, "the copy back failed");
    proto_R_DATA d;
    cr_assert_eq(proto_get_R_DATA(&r.recs[0], &d), 0);
    cr_assert_eq(d.data_len, n);
    memcpy(out, d.data, n);
    done(&r);
}

static proto_R_HELLO hello_rep;

static void put_hello(const char *token)
{
    size_t n = token ? strlen(token) : 0;
    uint8_t *p = proto_put_HELLO(&req, (uint64_t)getpid(), PROTO_SESSION_VERSION, 0, n);
    cr_assert_not_null(p);
    if (n)
        memcpy(p, token, n);
}

/* Opens a session and says HELLO (no token). */
static exec_session *open_hello(void)
{
    exec_session *s = exec_session_open(ctx, "test");
    cr_assert_not_null(s);
    begin();
    put_hello(NULL);
    reply r;
    run(s, &r);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.recs[0].op, PROTO_OP_R_HELLO);
    cr_assert_eq(proto_get_R_HELLO(&r.recs[0], &hello_rep), 0);
    hello_rep.devinfo = NULL; /* points into r.raw */
    done(&r);
    return s;
}

static void map(exec_session *s, uint64_t p, uint64_t n)
{
    begin();
    proto_put_MEM_MAP(&req, p, n);
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 0, "MEM_MAP failed");
    done(&r);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 131 + seed + (i >> 8));
}

#endif
