/* test_wcache.c — the weight cache (remote/wcache.c): MEMCPY_H2D_CACHED and MEMCPY_H2D_STORE
 * frame by frame against the fake GPU. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/genie.h"
#include "tests/remote/harness.h"

static void setup_default(void)
{
    unsetenv("GENIE_WEIGHT_CACHE_BYTES");
    setup();
}
static void setup_small(void)
{
    setenv("GENIE_WEIGHT_CACHE_BYTES", "3145728", 1); /* 3 MiB: three 1 MiB entries */
    setup();
}
static void setup_off(void)
{
    setenv("GENIE_WEIGHT_CACHE_BYTES", "0", 1);
    setup();
}

TestSuite(wcache, .init = setup_default, .fini = teardown);

/* One MEMCPY_H2D_CACHED: its R_VALUE (0 miss, 1 hit, 2 no cache), or -cuda_err. */
static long cached(exec_session *s, uint64_t dst, uint64_t n, genie_hash128 h, uint32_t stream)
{
    begin();
    cr_assert_not_null(proto_put_MEMCPY_H2D_CACHED(&req, dst, n, h.lo, h.hi, stream));
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 1, "got %d records", r.n);
    long v;
    if (r.recs[0].op == PROTO_OP_R_ERROR) {
        v = -error_at(&r, 0).cuda_err;
    } else {
        proto_R_VALUE rv;
        cr_assert_eq(r.recs[0].op, PROTO_OP_R_VALUE);
        cr_assert_eq(proto_get_R_VALUE(&r.recs[0], &rv), 0);
        cr_assert_eq(rv.index, 0);
        cr_assert_eq(rv.status, 0);
        v = (long)rv.value;
    }
    done(&r);
    return v;
}

/* One MEMCPY_H2D_STORE of src[0, n) under h: 0, or -cuda_err (msg_has checks need). */
static long store(exec_session *s, uint64_t dst, const void *src, size_t n, genie_hash128 h,
                  const char *need)
{
    begin();
    uint8_t *p = proto_put_MEMCPY_H2D_STORE(&req, dst, h.lo, h.hi, 0, n);
    cr_assert_not_null(p);
    memcpy(p, src, n);
    reply r;
    run(s, &r);
    long v = 0;
    if (r.n) {
        proto_R_ERROR e = error_at(&r, 0);
        if (need)
            cr_assert(msg_has(&e, need), "error lacks \"%s\"", need);
        v = -e.cuda_err;
    }
    done(&r);
    return v;
}

/* The device bytes [p, p+n) equal want. */
static void expect_device(exec_session *s, uint64_t p, const void *want, size_t n)
{
    begin();
    proto_put_MEMCPY_D2H(&req, p, n, 0);
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 1);
    proto_R_DATA d;
    cr_assert_eq(proto_get_R_DATA(&r.recs[0], &d), 0);
    cr_assert_eq(d.data_len, n);
    cr_assert(memcmp(d.data, want, n) == 0, "device bytes differ");
    done(&r);
}

Test(wcache, miss_store_then_hit_in_another_session)
{
    size_t n = 3 * MiB + 12345;
    uint8_t *src = malloc(n);
    fill(src, n, 7);
    genie_hash128 h = genie_hash_content(src, n);

    exec_session *a = open_hello();
    uint64_t abase = hello_rep.va_base;
    map(a, abase, 4 * MiB);
    cr_assert_eq(cached(a, abase + 64, n, h, 0), 0, "an empty cache misses");
    cr_assert_eq(store(a, abase + 64, src, n, h, NULL), 0);
    expect_device(a, abase + 64, src, n);

    /* another session, another VA range and offset: the bytes come from the cache */
    exec_session *b = open_hello();
    uint64_t bbase = hello_rep.va_base;
    cr_assert_neq(bbase, abase);
    map(b, bbase, 8 * MiB);
    cr_assert_eq(cached(b, bbase + 4 * MiB + 8, n, h, 0), 1, "stored bytes hit");
    expect_device(b, bbase + 4 * MiB + 8, src, n);
    /* the size is part of the key */
    cr_assert_eq(cached(b, bbase, n - 1, h, 0), 0);
    exec_session_close(a);
    /* entries outlive the session that stored them */
    cr_assert_eq(cached(b, bbase, n, h, 0), 1);
    expect_device(b, bbase, src, n);
    exec_session_close(b);
    free(src);
}

Test(wcache, wrong_bytes_under_a_hash_are_refused)
{
    size_t n = 2 * MiB;
    uint8_t *good = malloc(n), *bad = malloc(n), *zero = calloc(1, n);
    fill(good, n, 1);
    fill(bad, n, 2);
    genie_hash128 h = genie_hash_content(good, n);
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base;
    map(s, base, 2 * MiB);
    begin();
    proto_put_MEMSET(&req, base, n, 0, 0);
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 0);
    done(&r);
    cr_assert_eq(store(s, base, bad, n, h, "do not match their hash"), -1);
    expect_device(s, base, zero, n); /* nothing copied */
    cr_assert_eq(cached(s, base, n, h, 0), 0, "nothing kept under the claimed hash");
    cr_assert_eq(cached(s, base, n, genie_hash_content(bad, n), 0), 0, "nor under the real one");
    /* the right bytes are kept */
    cr_assert_eq(store(s, base, good, n, h, NULL), 0);
    cr_assert_eq(cached(s, base, n, h, 0), 1);
    exec_session_close(s);
    free(good);
    free(bad);
    free(zero);
}

Test(wcache, least_recently_used_is_evicted, .init = setup_small)
{
    size_t n = MiB;
    uint8_t *buf[5];
    genie_hash128 h[5];
    for (int i = 0; i < 5; i++) {
        buf[i] = malloc(5 * MiB);
        fill(buf[i], i == 4 ? 4 * MiB : n, 10 + (unsigned)i);
        h[i] = genie_hash_content(buf[i], i == 4 ? 4 * MiB : n);
    }
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base;
    map(s, base, 4 * MiB);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(store(s, base, buf[i], n, h[i], NULL), 0);
    cr_assert_eq(cached(s, base, n, h[0], 0), 1, "0 is now the most recently used");
    cr_assert_eq(store(s, base, buf[3], n, h[3], NULL), 0); /* evicts 1, the oldest used */
    cr_assert_eq(cached(s, base, n, h[1], 0), 0, "1 was evicted");
    cr_assert_eq(cached(s, base, n, h[0], 0), 1);
    cr_assert_eq(cached(s, base, n, h[2], 0), 1);
    cr_assert_eq(cached(s, base, n, h[3], 0), 1);
    expect_device(s, base, buf[3], n);
    /* larger than the whole cache: copied, never kept, nothing evicted for it */
    cr_assert_eq(store(s, base, buf[4], 4 * MiB, h[4], NULL), 0);
    expect_device(s, base, buf[4], 4 * MiB);
    cr_assert_eq(cached(s, base, 4 * MiB, h[4], 0), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(cached(s, base, n, h[i], 0), i == 1 ? 0 : 1);
    exec_session_close(s);
    for (int i = 0; i < 5; i++)
        free(buf[i]);
}

Test(wcache, ranges_and_streams_are_checked)
{
    size_t n = MiB;
    uint8_t *src = malloc(n);
    fill(src, n, 3);
    genie_hash128 h = genie_hash_content(src, n);
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base;
    map(s, base, 2 * MiB);
    /* out of range, not even stored */
    cr_assert_eq(store(s, base + 2 * MiB - 10, src, n, h, "not inside a mapping"), -1);
    cr_assert_eq(store(s, base + 8 * MiB, src, n, h, "not inside a mapping"), -1);
    cr_assert_eq(cached(s, base, n, h, 0), 0, "a refused store keeps nothing");
    cr_assert_eq(store(s, base, src, n, h, NULL), 0);
    /* a hit is checked like a copy: the range, the size, the stream */
    cr_assert_eq(cached(s, base + 2 * MiB - 10, n, h, 0), -1);
    cr_assert_eq(cached(s, base - 4096, n, h, 0), -1);
    cr_assert_eq(cached(s, UINT64_MAX - 100, n, h, 0), -1);
    cr_assert_eq(cached(s, base, 0, h, 0), -1);
    cr_assert_eq(cached(s, base, n, h, 4242), -400);
    cr_assert_eq(cached(s, base + MiB, n, h, 0), 1);
    expect_device(s, base + MiB, src, n);
    exec_session_close(s);
    free(src);
}

Test(wcache, no_cache_says_so_and_store_still_copies, .init = setup_off)
{
    size_t n = MiB;
    uint8_t *src = malloc(n);
    fill(src, n, 5);
    genie_hash128 h = genie_hash_content(src, n);
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base;
    map(s, base, 2 * MiB);
    cr_assert_eq(cached(s, base, n, h, 0), 2);
    cr_assert_eq(store(s, base + 4, src, n, h, NULL), 0);
    expect_device(s, base + 4, src, n);
    cr_assert_eq(cached(s, base, n, h, 0), 2);
    exec_session_close(s);
    free(src);
}

/* ---- sessions on their own threads share the cache: hits, stores and evictions at once ---- */

enum { NBLOB = 6, BLOB = 256 << 10, NTHREAD = 4, ROUNDS = 30 };
static uint8_t *blobs[NBLOB];
static genie_hash128 blob_hash[NBLOB];

typedef struct wworker {
    int id, failures, hits;
    char why[160];
} wworker;

/* One frame through s on this thread; the reply's records (pointing into *raw, caller frees). */
static int wcall(exec_session *s, genie_buf *b, void **raw, proto_rec *recs, int max)
{
    proto_frame_end(b);
    size_t rn = 0;
    *raw = NULL;
    if (exec_session_handle(s, b->data, b->len, raw, &rn) || !*raw)
        return -1;
    proto_frame f;
    if (proto_frame_parse(*raw, rn, proto_max_message(), &f))
        return -1;
    proto_iter it;
    proto_iter_init(&it, &f);
    int n = 0;
    while (n < max && proto_iter_next(&it, &recs[n]) == 1)
        n++;
    if (n < 1 || recs[n - 1].op != PROTO_OP_R_EXEC) /* every reply ends with R_EXEC */
        return -1;
    return n - 1;
}

static void *wworker_main(void *arg)
{
    wworker *w = arg;
    genie_buf b = {0};
    proto_rec recs[4];
    void *raw = NULL;
    exec_session *s = exec_session_open(ctx, "thread");
    proto_frame_begin(&b, PROTO_KIND_REQUEST, 1);
    proto_put_HELLO(&b, 1, PROTO_SESSION_VERSION, 0, 0);
    proto_R_HELLO h;
    if (wcall(s, &b, &raw, recs, 4) != 1 || proto_get_R_HELLO(&recs[0], &h)) {
        snprintf(w->why, sizeof w->why, "HELLO");
        w->failures++;
        goto out;
    }
    free(raw);
    raw = NULL;
    for (int it = 0; it < ROUNDS && !w->failures; it++) {
        int j = (w->id * 5 + it * (w->id + 1)) % NBLOB;
        uint64_t dst = h.va_base + (uint64_t)(it % 4) * 4096;
        proto_frame_begin(&b, PROTO_KIND_REQUEST, 2);
        if (it == 0)
            proto_put_MEM_MAP(&b, h.va_base, 2 * MiB);
        proto_put_MEMCPY_H2D_CACHED(&b, dst, BLOB, blob_hash[j].lo, blob_hash[j].hi, 0);
        proto_R_VALUE v;
        if (wcall(s, &b, &raw, recs, 4) != 1 || proto_get_R_VALUE(&recs[0], &v) || v.value > 1) {
            snprintf(w->why, sizeof w->why, "round %d: no answer", it);
            w->failures++;
            break;
        }
        free(raw);
        raw = NULL;
        w->hits += (int)v.value;
        proto_frame_begin(&b, PROTO_KIND_REQUEST, 3);
        if (!v.value)
            memcpy(proto_put_MEMCPY_H2D_STORE(&b, dst, blob_hash[j].lo, blob_hash[j].hi, 0, BLOB),
                   blobs[j], BLOB);
        proto_put_MEMCPY_D2H(&b, dst, BLOB, 0);
        proto_R_DATA d;
        int nr = wcall(s, &b, &raw, recs, 4);
        if (nr != 1 || proto_get_R_DATA(&recs[0], &d) || d.data_len != BLOB ||
            memcmp(d.data, blobs[j], BLOB)) {
            snprintf(w->why, sizeof w->why, "round %d (blob %d, %s): wrong bytes", it, j,
                     v.value ? "hit" : "miss");
            w->failures++;
        }
        free(raw);
        raw = NULL;
    }
out:
    free(raw);
    genie_buf_free(&b);
    exec_session_close(s);
    return NULL;
}

static void setup_threads(void)
{
    setenv("GENIE_WEIGHT_CACHE_BYTES", "786432", 1); /* three blobs of six */
    setup();
}

Test(wcache, concurrent_sessions_share_it, .init = setup_threads, .timeout = 60)
{
    for (int i = 0; i < NBLOB; i++) {
        blobs[i] = malloc(BLOB);
        fill(blobs[i], BLOB, 100 + (unsigned)i);
        blob_hash[i] = genie_hash_content(blobs[i], BLOB);
    }
    pthread_t t[NTHREAD];
    wworker w[NTHREAD];
    memset(w, 0, sizeof w);
    for (int i = 0; i < NTHREAD; i++) {
        w[i].id = i;
        cr_assert_eq(pthread_create(&t[i], NULL, wworker_main, &w[i]), 0);
    }
    int hits = 0;
    for (int i = 0; i < NTHREAD; i++) {
        pthread_join(t[i], NULL);
        hits += w[i].hits;
    }
    for (int i = 0; i < NTHREAD; i++)
        cr_assert_eq(w[i].failures, 0, "thread %d: %s", i, w[i].why);
    cr_assert_gt(hits, 0, "some lookups hit");
    for (int i = 0; i < NBLOB; i++)
        free(blobs[i]);
}
