/* cost.c — the cost model's device-side parameters, measured once per genie-remote on the
 * executor's own device and answered as R_COST after R_HELLO to a HELLO that asks for them.
 *
 * Why here and not in the client: the per-op cost, the device's memory bandwidth and its GEMM
 * rate belong to the GPU host, not to the link; measured where the device is, no round trip or
 * wire time blurs them, and one measurement serves every later session (the first session that
 * asks pays it). The client measures the wire itself (shim/cost.c). The numbers come from
 * running work on the device, never from the fake GPU's device-time model file: on a model
 * they are the model's behaviour as seen through the driver, like any other driver's.
 *
 * What is measured (each a median of EXEC_COST_REPS, differences of two sizes so that fixed
 * costs such as a stream synchronize cancel; per_unit says what noise gets instead):
 *   op_ps    the slope between 64 and 320 4-byte cuMemsetD8Async on the NULL stream;
 *   mem_bps  the slope between 2 and 10 MiB cuMemcpyDtoDAsync (read and write: 2x the bytes);
 *   flops    the slope between 1 and 5 SGEMMs of 192 (cuBLAS, if it loads), less op_ps each.
 * 30-40 ms on the fake GPU at rest (its SGEMMs are OpenBLAS's), up to 170 ms on a loaded 2-core
 * host; not yet measured on a GPU, where cuBLAS's loading comes first. */
#include "remote/exec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/gen/exec_lib.h"

#define EXEC_COST_REPS 3
#define EXEC_COST_MEM (20ull << 20) /* two halves of 10 MiB */
#define EXEC_COST_N 192             /* the SGEMMs' size */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Per unit of the larger of two runs of na and nb units taking a and b ns: the slope, in which
 * what both share (a synchronize) cancels; when noise on a loaded host makes it not positive,
 * the larger run's average, which counts the shared part too (an upper bound, never 0). */
static double per_unit(uint64_t a, uint64_t b, double na, double nb)
{
    return b > a ? (double)(b - a) / (nb - na) : (double)b / nb;
}

static uint64_t median3(uint64_t *v)
{
    qsort(v, EXEC_COST_REPS, sizeof *v, cmp_u64);
    return v[EXEC_COST_REPS / 2];
}

/* ns of n small memsets, queued then synchronized; 0 on a driver error */
static uint64_t time_memsets(exec_driver *d, CUdeviceptr p, int n)
{
    uint64_t t0 = genie_now_ns();
    for (int i = 0; i < n; i++)
        if (d->MemsetD8Async(p, (unsigned char)i, 4, NULL))
            return 0;
    if (d->StreamSynchronize(NULL))
        return 0;
    return genie_now_ns() - t0;
}

static uint64_t time_copy(exec_driver *d, CUdeviceptr p, uint64_t bytes)
{
    uint64_t t0 = genie_now_ns();
    if (d->MemcpyDtoDAsync(p + EXEC_COST_MEM / 2, p, bytes, NULL) || d->StreamSynchronize(NULL))
        return 0;
    return genie_now_ns() - t0;
}

static uint64_t time_gemms(exec_driver *d, const exec_lib_fns *l, cublasHandle_t h, CUdeviceptr p,
                           int n)
{
    const float one = 1.0f, zero = 0.0f;
    const int k = EXEC_COST_N;
    const float *a = (const float *)(uintptr_t)p, *b = a + k * k;
    float *c = (float *)(uintptr_t)(p + 2ull * k * k * sizeof(float));
    uint64_t t0 = genie_now_ns();
    for (int i = 0; i < n; i++)
        if (l->cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, k, k, k, &one, a, k, b, k, &zero, c, k))
            return 0;
    if (d->StreamSynchronize(NULL))
        return 0;
    return genie_now_ns() - t0;
}

/* Measures into *out on the current context: 0, or a driver error (out holds what was had). */
static int measure(exec_ctx *c, exec_cost *out)
{
    exec_driver *d = &c->drv;
    memset(out, 0, sizeof *out);
    /* Tests only: numbers that do not depend on this machine's speed, so a test can see the
     * client's pipeline follow them (tests/shim/test_inflight.c). */
    const char *fix = getenv("GENIE_TEST_COST");
    if (fix && *fix) {
        if (sscanf(fix, "%llu,%llu,%llu", &out->op_ps, &out->flops, &out->mem_bps) != 3)
            return CUDA_ERROR_INVALID_VALUE;
        out->took_ns = 1;
        return 0;
    }
    uint64_t t0 = genie_now_ns();
    /* scratch memory of its own, outside any session's range, mapped as MEM_MAP maps */
    uint64_t g = c->granularity ? c->granularity : (2u << 20);
    uint64_t size = (EXEC_COST_MEM + g - 1) / g * g;
    CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = c->dev}};
    CUmemAccessDesc acc = {.location = prop.location, .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    CUdeviceptr p = 0;
    CUmemGenericAllocationHandle h;
    CUresult r = d->MemAddressReserve(&p, size, g, 0, 0);
    if (r)
        return (int)r;
    if ((r = d->MemCreate(&h, size, &prop, 0))) {
        d->MemAddressFree(p, size);
        return (int)r;
    }
    if ((r = d->MemMap(p, size, 0, h, 0)) || (r = d->MemSetAccess(p, size, &acc, 1))) {
        d->MemUnmap(p, size);
        d->MemRelease(h);
        d->MemAddressFree(p, size);
        return (int)r;
    }
    d->MemsetD8Async(p, 0, size, NULL); /* the GEMMs read zeros, not NaNs */
    d->StreamSynchronize(NULL);
    uint64_t v0[EXEC_COST_REPS], v1[EXEC_COST_REPS];
    time_memsets(d, p, 16); /* warm */
    for (int i = 0; i < EXEC_COST_REPS; i++) {
        v0[i] = time_memsets(d, p, 64);
        v1[i] = time_memsets(d, p, 320);
    }
    uint64_t a = median3(v0), b = median3(v1);
    double op_ns = per_unit(a, b, 64, 320);
    out->op_ps = (uint64_t)(op_ns * 1e3);
    const uint64_t small = 2ull << 20, big = 10ull << 20;
    for (int i = 0; i < EXEC_COST_REPS; i++) {
        v0[i] = time_copy(d, p, small);
        v1[i] = time_copy(d, p, big);
    }
    a = median3(v0), b = median3(v1);
    double ns_per_byte = per_unit(a, b, (double)small, (double)big);
    if (ns_per_byte > 0)
        out->mem_bps = (uint64_t)(2.0 / (ns_per_byte * 1e-9));
    const exec_lib_fns *l = exec_lib_cublas(c) ? c->lib : NULL;
    cublasHandle_t bh = NULL;
    if (l && l->cublasCreate_v2 && l->cublasSgemm_v2 && l->cublasDestroy_v2 &&
        !l->cublasCreate_v2(&bh)) {
        time_gemms(d, l, bh, p, 1); /* warm: workspace, threads */
        for (int i = 0; i < EXEC_COST_REPS; i++) {
            v0[i] = time_gemms(d, l, bh, p, 1);
            v1[i] = time_gemms(d, l, bh, p, 5);
        }
        a = median3(v0), b = median3(v1);
        double per = per_unit(a, b, 1, 5) - op_ns, n = EXEC_COST_N;
        if (per <= 0) /* the GEMM hidden in the noise of the op: its time with the op's */
            per = per_unit(a, b, 1, 5);
        if (per > 0)
            out->flops = (uint64_t)(2.0 * n * n * n / (per * 1e-9));
        l->cublasDestroy_v2(bh);
    }
    d->StreamSynchronize(NULL);
    d->MemUnmap(p, size);
    d->MemRelease(h);
    d->MemAddressFree(p, size);
    out->took_ns = genie_now_ns() - t0;
    return 0;
}

int exec_cost_get(exec_ctx *c, exec_cost *out, int *fresh)
{
    *fresh = 0;
    pthread_mutex_lock(&c->lock);
    int known = c->cost_known;
    pthread_mutex_unlock(&c->lock);
    if (!known) /* cuBLAS loads under c->lock itself: before taking it below */
        exec_lib_cublas(c);
    /* under the lock: a second session asking meanwhile waits for the same numbers */
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    if (!c->cost_known) {
        rc = measure(c, &c->cost);
        c->cost_known = !rc;
        *fresh = !rc;
        if (!rc)
            GENIE_INFO("cost model: measured on the device in %.1f ms: op %.0f ns, device memory "
                       "%.3g GB/s, SGEMM %.3g GFLOP/s",
                       (double)c->cost.took_ns / 1e6, (double)c->cost.op_ps / 1e3,
                       (double)c->cost.mem_bps / 1e9, (double)c->cost.flops / 1e9);
    }
    *out = c->cost;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void exec_ctx_cost_known(exec_ctx *c, const exec_cost *k)
{
    pthread_mutex_lock(&c->lock);
    c->cost = *k;
    c->cost_known = 1;
    pthread_mutex_unlock(&c->lock);
}

int exec_cost_reply(exec_session *s)
{
    exec_cost k;
    int fresh;
    int rc = exec_cost_get(s->ctx, &k, &fresh);
    if (rc) { /* no numbers: the client keeps its own; not the session's failure */
        GENIE_WARN("cost model: the device measurement failed (CUresult %d); R_COST left out", rc);
        return 0;
    }
    return proto_put_R_COST(&s->reply, k.op_ps, k.flops, k.mem_bps, k.took_ns, (uint32_t)fresh, 0)
               ? 0
               : GENIE_ENOMEM;
}
