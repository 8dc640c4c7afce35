/* test_batch.c — the batch seam (shim/batch.c): every step of an op may fail, the session survives.
 *
 * The shim's objects run against the in-process executor and the fake GPU (GENIE_REMOTE=local).
 * shim_batch_fault makes the n-th fallible step of one call fail (the record's bytes, a
 * spliced segment, the reply slot), for n = 0, 1, ... until the call
 * runs without reaching a step n. After each injected failure the call must report an
 * allocation failure, leave the batch exactly as it was, and the session must go on: the next
 * sync succeeds and the device holds what the successful calls wrote, nothing of the failed
 * one. */
#include <criterion/criterion.h>
#include <cublas_v2.h>
#include <stdlib.h>
#include <string.h>

#include "shim/shim_int.h"

static int fail_at = -1, steps_seen;
static unsigned step_kinds; /* bit per SHIM_STEP_* reached */

static int fault(int step)
{
    step_kinds |= 1u << step;
    return steps_seen++ == fail_at;
}

static void setup(void)
{
    setenv("GENIE_REMOTE", "local", 1);
    setenv("GENIE_CUDA_LIB", FAKEGPU_LIB, 1);
    setenv("GENIE_CUBLAS_LIB", FAKEBLAS_LIB, 1);
    setenv("GENIE_CUBLASLT_LIB", FAKEBLAS_LIB, 1);
    setenv("GENIE_VA_SIZE", "1073741824", 1);
    setenv("GENIE_LOG", "error", 1);
}

TestSuite(batch, .init = setup);

/* The state the seam must restore after a failed op. */
typedef struct snap {
    uint64_t wire, reply, ops;
    int empty;
} snap;

static snap take(void)
{
    shim_lock();
    snap s = {shim_batch_wire_bytes(), shim_batch_reply_bytes(), shim_g.stats.ops_recorded,
              shim_batch_empty()};
    shim_unlock();
    return s;
}

/* A call of several ops (a pitched copy: one per row) commits the rows before the failing one;
 * those are flushed before it returns, so the batch is as it was but more ops were counted. */
static int multi_op;

static void same(snap a, snap b, const char *what, int n)
{
    cr_assert_eq(a.wire, b.wire, "%s, failure at step %d: batch bytes %lu -> %lu", what, n,
                 (unsigned long)a.wire, (unsigned long)b.wire);
    cr_assert_eq(a.reply, b.reply, "%s, step %d: reply bytes changed", what, n);
    if (!multi_op)
        cr_assert_eq(a.ops, b.ops, "%s, step %d: an op was counted", what, n);
    cr_assert_eq(a.empty, b.empty, "%s, step %d: op count changed", what, n);
    /* the semantics IR describes exactly the batch: no descriptor of the failed op stays */
    shim_lock();
    cr_assert_eq(shim_g.ir.staged, 0, "%s, step %d: a descriptor is left staged", what, n);
    if (!shim_g.ir.lost)
        cr_assert_eq(shim_g.ir.wire_bytes + PROTO_HDR_SIZE, shim_batch_wire_bytes(),
                     "%s, step %d: the IR describes %lu bytes of a %lu-byte batch", what, n,
                     (unsigned long)shim_g.ir.wire_bytes, (unsigned long)shim_batch_wire_bytes());
    shim_unlock();
}

/* Runs call with a failure at step 0, 1, ... until it completes without reaching the
 * failing step; returns how many failing runs there were. call returns 0 on success, else
 * nonzero; each failing run must fail with the batch unchanged, and check() must hold. */
typedef int (*call_fn)(void *ud);
static int every_step(const char *what, call_fn call, void *ud, void (*check)(void *ud))
{
    for (int n = 0;; n++) {
        snap before = take();
        fail_at = n;
        steps_seen = 0;
        shim_batch_fault = fault;
        int rc = call(ud);
        shim_batch_fault = NULL;
        if (steps_seen <= n) { /* step n never came: the call ran whole */
            cr_assert_eq(rc, 0, "%s failed with no failure injected", what);
            return n;
        }
        cr_assert_neq(rc, 0, "%s: an injected failure at step %d was not reported", what, n);
        same(before, take(), what, n);
        cr_assert_eq(shim_g.fatal, cudaSuccess, "%s, step %d: the session is lost", what, n);
        if (check)
            check(ud);
    }
}

#define N 256

typedef struct copy_case {
    float *dev;
    float host[N], back[N], want[N];
    cudaStream_t stream;
    cudaEvent_t ev;
    cublasHandle_t blas;
} copy_case;

/* The device holds want: a D2H copy (itself a flush) says so, and the session is fine. */
static void device_holds_want(void *ud)
{
    copy_case *c = ud;
    memset(c->back, 0, sizeof c->back);
    cr_assert_eq(cudaMemcpy(c->back, c->dev, sizeof c->back, cudaMemcpyDeviceToHost), cudaSuccess);
    cr_assert_eq(memcmp(c->back, c->want, sizeof c->back), 0, "the device holds other bytes");
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
}

static int h2d(void *ud)
{
    copy_case *c = ud;
    return cudaMemcpyAsync(c->dev, c->host, sizeof c->host, cudaMemcpyHostToDevice, c->stream) !=
           cudaSuccess;
}

static int d2h(void *ud)
{
    copy_case *c = ud;
    memset(c->back, 0, sizeof c->back);
    if (cudaMemcpy(c->back, c->dev, sizeof c->back, cudaMemcpyDeviceToHost) != cudaSuccess)
        return 1;
    cr_assert_eq(memcmp(c->back, c->want, sizeof c->back), 0, "D2H copy brought other bytes");
    return 0;
}

static void init_case(copy_case *c)
{
    memset(c, 0, sizeof *c);
    cr_assert_eq(cudaMalloc((void **)&c->dev, sizeof c->host), cudaSuccess);
    cr_assert_eq(cudaStreamCreate(&c->stream), cudaSuccess);
    for (int i = 0; i < N; i++)
        c->want[i] = (float)i;
    cr_assert_eq(cudaMemcpy(c->dev, c->want, sizeof c->want, cudaMemcpyHostToDevice), cudaSuccess);
    device_holds_want(c);
}

Test(batch, copies_survive_a_failure_at_every_step)
{
    copy_case c;
    init_case(&c);
    /* H2D: a failed copy must leave the device's bytes alone */
    for (int i = 0; i < N; i++)
        c.host[i] = -1.0f - (float)i;
    step_kinds = 0;
    int nf = every_step("H2D copy", h2d, &c, device_holds_want);
    cr_assert_geq(nf, 1, "the H2D copy reached %d fallible steps", nf);
    cr_assert(step_kinds & (1u << SHIM_STEP_RECORD));
    memcpy(c.want, c.host, sizeof c.want); /* the last run went through */
    device_holds_want(&c);

    /* D2H: its reply slot is part of the commit; a failed one leaves no record either */
    step_kinds = 0;
    nf = every_step("D2H copy", d2h, &c, device_holds_want);
    cr_assert_geq(nf, 2, "the D2H copy reached %d fallible steps", nf);
    cr_assert(step_kinds & (1u << SHIM_STEP_SLOT), "the D2H copy took no reply slot");
}

/* cudaMemcpy2D D2H: one record and one slot per row; a failure at any row's step fails the
 * call, and the rows already committed still land (they were recorded whole). */
typedef struct rows_case {
    copy_case c;
    float out[8][16];
} rows_case;

static int d2h_rows(void *ud)
{
    rows_case *r = ud;
    memset(r->out, 0, sizeof r->out);
    /* 8 rows of 12 floats from a device pitch of 32 floats into a host pitch of 16 */
    if (cudaMemcpy2D(r->out, sizeof r->out[0], r->c.dev, 32 * sizeof(float), 12 * sizeof(float), 8,
                     cudaMemcpyDeviceToHost) != cudaSuccess)
        return 1;
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 16; x++)
            cr_assert_eq(r->out[y][x], x < 12 ? r->c.want[y * 32 + x] : 0.0f, "row %d col %d", y, x);
    return 0;
}

Test(batch, pitched_d2h_survives_a_failure_at_every_row)
{
    static rows_case r;
    init_case(&r.c);
    step_kinds = 0;
    multi_op = 1;
    int nf = every_step("2D D2H copy", d2h_rows, &r, device_holds_want);
    cr_assert_geq(nf, 8 * 2, "8 rows reached only %d fallible steps", nf);
}

static int gemm(void *ud)
{
    copy_case *c = ud;
    const float one = 1.0f, zero = 0.0f;
    /* C[0:4x4] = A[0:4x4] * B (the 4x4 block at 16): column-major, lda 4 */
    return cublasSgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, c->dev, 4, c->dev + 16, 4,
                       &zero, c->dev + 32, 4) != CUBLAS_STATUS_SUCCESS;
}

static int nrm2(void *ud)
{
    copy_case *c = ud;
    float r = -1.0f;
    if (cublasSnrm2(c->blas, 4, c->dev, 1, &r) != CUBLAS_STATUS_SUCCESS)
        return 1;
    /* ||(0, 1, 2, 3)|| = sqrt(14): a host result comes back through the reply slot */
    cr_assert_float_eq(r, 3.741657f, 1e-4f, "nrm2 = %f", r);
    return 0;
}

Test(batch, gemm_survives_a_failure_at_every_step)
{
    copy_case c;
    init_case(&c);
    cr_assert_eq(cublasCreate(&c.blas), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cublasSetStream(c.blas, c.stream), CUBLAS_STATUS_SUCCESS);
    int nf = every_step("cublasSgemm", gemm, &c, device_holds_want);
    cr_assert_geq(nf, 1);
    /* C = A * B with A = (0..15), B = (16..31) column-major */
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 4; i++) {
            float s = 0;
            for (int k = 0; k < 4; k++)
                s += c.want[k * 4 + i] * c.want[16 + j * 4 + k];
            c.want[32 + j * 4 + i] = s;
        }
    cr_assert_eq(cudaStreamSynchronize(c.stream), cudaSuccess);
    device_holds_want(&c);
    /* a cuBLAS call with a host result: its slot is part of the commit too */
    step_kinds = 0;
    nf = every_step("cublasSnrm2", nrm2, &c, device_holds_want);
    cr_assert(step_kinds & (1u << SHIM_STEP_SLOT), "nrm2 took no reply slot");
    cr_assert_geq(nf, 2);
    cr_assert_eq(cublasDestroy(c.blas), CUBLAS_STATUS_SUCCESS);
}

static int record(void *ud)
{
    copy_case *c = ud;
    return cudaEventRecord(c->ev, c->stream) != cudaSuccess;
}

static int query(void *ud)
{
    copy_case *c = ud;
    return cudaEventQuery(c->ev) != cudaSuccess;
}

static int sync_event(void *ud)
{
    copy_case *c = ud;
    return cudaEventSynchronize(c->ev) != cudaSuccess;
}

Test(batch, event_record_survives_a_failure_at_every_step)
{
    copy_case c;
    init_case(&c);
    cr_assert_eq(cudaEventCreate(&c.ev), cudaSuccess);
    int nf = every_step("cudaEventRecord", record, &c, device_holds_want);
    cr_assert_geq(nf, 1);
    step_kinds = 0;
    nf = every_step("cudaEventQuery", query, &c, device_holds_want);
    cr_assert(step_kinds & (1u << SHIM_STEP_SLOT), "cudaEventQuery took no reply slot");
    nf = every_step("cudaEventSynchronize", sync_event, &c, device_holds_want);
    cr_assert_geq(nf, 1);
    float ms = -1;
    cr_assert_eq(cudaEventRecord(c.ev, c.stream), cudaSuccess);
    /* an event not yet reached is cudaErrorNotReady, on the asynchronous fake GPU as on a GPU */
    cr_assert_eq(cudaEventSynchronize(c.ev), cudaSuccess);
    cr_assert_eq(cudaEventElapsedTime(&ms, c.ev, c.ev), cudaSuccess);
    cr_assert_eq(cudaEventDestroy(c.ev), cudaSuccess);
}

/* A failed commit must not leave half an op even when other ops wait in the batch: the
 * frame that finally goes out holds exactly the committed ones. */
Test(batch, rollback_keeps_the_ops_before_it)
{
    copy_case c;
    init_case(&c);
    for (int i = 0; i < N; i++)
        c.host[i] = 100.0f + (float)i;
    cr_assert_eq(cudaMemcpyAsync(c.dev, c.host, 64 * sizeof(float), cudaMemcpyHostToDevice,
                                 c.stream),
                 cudaSuccess);
    snap before = take();
    cr_assert_eq(before.empty, 0);
    fail_at = 0;
    steps_seen = 0;
    shim_batch_fault = fault;
    cr_assert_eq(cudaMemsetAsync(c.dev, 0, sizeof c.host, c.stream), cudaErrorMemoryAllocation);
    shim_batch_fault = NULL;
    same(before, take(), "memset after a queued copy", 0);
    cr_assert_eq(cudaGetLastError(), cudaErrorMemoryAllocation);
    memcpy(c.want, c.host, 64 * sizeof(float));
    device_holds_want(&c); /* the copy landed, the memset did not */
}
