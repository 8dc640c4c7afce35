/* test_delta.c — tests protocol/delta.c: round trips, random inputs, refused patch lists. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/delta.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* Encodes cur against old, applies the list to a copy of old, and checks the copy is cur. */
static uint32_t round_trip(const uint8_t *cur, const uint8_t *old, size_t n)
{
    genie_buf pb = {0};
    uint32_t np = 0;
    cr_assert_eq(proto_delta_encode(cur, old, n, SIZE_MAX, &pb, &np), 0);
    uint8_t *t = malloc(n ? n : 1);
    memcpy(t, old, n);
    const char *why = proto_delta_apply(t, n, pb.data, pb.len, np);
    cr_assert_null(why, "%s", why);
    cr_assert_eq(memcmp(t, cur, n), 0);
    free(t);
    genie_buf_free(&pb);
    return np;
}

Test(delta, equal_payloads_give_no_patches)
{
    uint8_t a[64] = {1, 2, 3};
    cr_assert_eq(round_trip(a, a, sizeof a), 0);
    cr_assert_eq(round_trip(a, a, 0), 0);
}

Test(delta, close_runs_merge_far_runs_do_not)
{
    uint8_t old[256] = {0}, cur[256] = {0};
    cur[10] = 1;
    cur[10 + PROTO_DELTA_GAP] = 1; /* within the gap: one run */
    cr_assert_eq(round_trip(cur, old, sizeof cur), 1);
    cur[100] = 1; /* far: a second run */
    cr_assert_eq(round_trip(cur, old, sizeof cur), 2);
    cur[255] = 1; /* the last byte */
    cr_assert_eq(round_trip(cur, old, sizeof cur), 3);
    genie_buf pb = {0};
    uint32_t np;
    cr_assert_eq(proto_delta_encode(cur, old, sizeof cur, SIZE_MAX, &pb, &np), 0);
    /* the first run's header: gap 10 (from the start), length GAP + 1, one byte each */
    cr_assert_eq(pb.data[0], 10);
    cr_assert_eq(pb.data[1], PROTO_DELTA_GAP + 1);
    genie_buf_free(&pb);
}

Test(delta, random_payloads_round_trip)
{
    for (int round = 0; round < 500; round++) {
        size_t n = rnd() % 4096;
        uint8_t *old = malloc(n + 1), *cur = malloc(n + 1);
        for (size_t i = 0; i < n; i++)
            old[i] = cur[i] = (uint8_t)rnd();
        int nchg = (int)(rnd() % 40);
        for (int c = 0; c < nchg && n; c++) {
            size_t at = rnd() % n, len = 1 + rnd() % 24;
            for (size_t i = at; i < n && i < at + len; i++)
                cur[i] = (uint8_t)rnd();
        }
        round_trip(cur, old, n);
        free(old);
        free(cur);
    }
}

Test(delta, budget_refuses_a_large_list)
{
    uint8_t old[512] = {0}, cur[512];
    memset(cur, 0xff, sizeof cur);
    genie_buf pb = {0};
    uint32_t np = 7;
    cr_assert_eq(proto_delta_encode(cur, old, sizeof cur, sizeof cur / 2, &pb, &np),
                 GENIE_ETOOBIG);
    cr_assert_eq(np, 0);
    cr_assert_eq(proto_delta_encode(cur, old, sizeof cur, sizeof cur + 8, &pb, &np), 0);
    cr_assert_eq(np, 1);
    genie_buf_free(&pb);
}

/* A run: its header (gap from the last run's end, len_claim as its length) and len bytes of
 * v. */
static size_t put_run(uint8_t *p, uint32_t gap, uint32_t len, uint32_t len_claim, uint8_t v)
{
    size_t h = proto_delta_put_run(p, gap, len_claim);
    memset(p + h, v, len);
    return h + len;
}

static void expect_refused(const uint8_t *list, size_t len, uint32_t np, const char *why)
{
    uint8_t buf[64], keep[64];
    for (int i = 0; i < 64; i++)
        buf[i] = keep[i] = (uint8_t)i;
    const char *got = proto_delta_apply(buf, sizeof buf, list, len, np);
    cr_assert_not_null(got, "expected a refusal (%s)", why);
    cr_assert(strstr(got, why), "got \"%s\", expected \"%s\"", got, why);
    cr_assert_eq(memcmp(buf, keep, sizeof buf), 0, "a refused list changed the template");
}

Test(delta, malformed_lists_refused_untouched)
{
    uint8_t l[256];
    size_t n;
    /* out of range: past the end, starting past it, a gap of 32 bits */
    n = put_run(l, 60, 8, 8, 1);
    expect_refused(l, n, 1, "outside");
    n = put_run(l, 64, 1, 1, 1);
    expect_refused(l, n, 1, "outside");
    n = put_run(l, UINT32_MAX, 2, 2, 1);
    expect_refused(l, n, 1, "outside");
    /* a second run pushed past the end by the first (a valid first run is not applied either) */
    n = put_run(l, 0, 8, 8, 1);
    n += put_run(l + n, 50, 8, 8, 2);
    expect_refused(l, n, 2, "outside");
    /* truncated: a header cut short, bytes cut short, fewer runs than announced, a varint
     * whose continuation never ends or that passes 32 bits */
    n = put_run(l, 0, 4, 4, 1);
    expect_refused(l, 1, 1, "list truncated");
    expect_refused(l, n - 1, 1, "bytes truncated");
    expect_refused(l, n, 2, "list truncated");
    memset(l, 0xff, 6);
    expect_refused(l, 6, 1, "list truncated");
    memcpy(l, "\xff\xff\xff\xff\x7f\x01\x00", 7); /* 35 bits */
    expect_refused(l, 7, 1, "list truncated");
    /* a run claiming more bytes than the list holds */
    n = put_run(l, 0, 4, 40, 1);
    expect_refused(l, n, 1, "bytes truncated");
    /* bytes after the last run, and an empty run */
    n = put_run(l, 0, 4, 4, 1);
    expect_refused(l, n + 3, 1, "after the last");
    n = put_run(l, 0, 0, 0, 1);
    expect_refused(l, n, 1, "empty");
    /* adjacent runs (gap 0) are fine, and gaps add up from each run's end */
    n = put_run(l, 0, 4, 4, 1);
    n += put_run(l + n, 0, 4, 4, 2);
    n += put_run(l + n, 10, 2, 2, 3);
    uint8_t buf[64] = {0};
    cr_assert_null(proto_delta_apply(buf, sizeof buf, l, n, 3));
    cr_assert_eq(buf[3], 1);
    cr_assert_eq(buf[4], 2);
    cr_assert_eq(buf[17], 0);
    cr_assert_eq(buf[18], 3);
    cr_assert_eq(buf[19], 3);
    cr_assert_eq(buf[20], 0);
}

/* PROTO_DELTA_SAME_LAYOUT: the runs of one delta reused for the next step's bytes. */
Test(delta, same_layout_round_trip_and_refusals)
{
    uint8_t t0[200], t1[200], t2[200];
    for (int i = 0; i < 200; i++)
        t0[i] = (uint8_t)i;
    memcpy(t1, t0, sizeof t1);
    t1[10] = 0xa0, t1[11] = 0xa1, t1[150] = 0xb0; /* step 1 changes two places */
    genie_buf pb = {0}, same = {0};
    uint32_t np;
    cr_assert_eq(proto_delta_encode(t1, t0, 200, SIZE_MAX, &pb, &np), 0);
    cr_assert_eq(np, 2);
    proto_delta_layout l = {0};
    cr_assert_eq(proto_delta_layout_of(&l, pb.data, pb.len, np), 0);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.bytes, 3);
    memcpy(t2, t1, sizeof t2);
    t2[11] = 0xc1, t2[150] = 0xc0; /* step 2: inside the same runs */
    cr_assert(proto_delta_covers(&l, t2, t1, 200));
    cr_assert_eq(proto_delta_encode_same(&l, t2, 200, &same), 0);
    cr_assert_eq(same.len, 3);
    uint8_t buf[200];
    memcpy(buf, t1, sizeof buf);
    cr_assert_null(proto_delta_apply_same(buf, 200, &l, same.data, same.len));
    cr_assert_eq(memcmp(buf, t2, 200), 0);
    /* a change outside the runs is not covered; a wrong byte count or a short template is
     * refused untouched */
    t2[100] = 0;
    cr_assert_not(proto_delta_covers(&l, t2, t1, 200));
    memcpy(buf, t1, sizeof buf);
    cr_assert_not_null(proto_delta_apply_same(buf, 200, &l, same.data, same.len - 1));
    cr_assert_not_null(proto_delta_apply_same(buf, 150, &l, same.data, same.len));
    cr_assert_eq(memcmp(buf, t1, 200), 0);
    proto_delta_layout_free(&l);
    genie_buf_free(&pb);
    genie_buf_free(&same);
}

Test(delta, random_garbage_never_writes_outside)
{
    /* Random lists against a buffer with guard bytes: refused or applied, never out of bounds
     * (ASan would see it) and never a partial write when refused. */
    uint8_t list[96];
    for (int round = 0; round < 5000; round++) {
        size_t len = rnd() % sizeof list;
        for (size_t i = 0; i < len; i++)
            list[i] = (uint8_t)(rnd() % 4 ? rnd() % 48 : rnd());
        uint8_t buf[48], keep[48];
        for (int i = 0; i < 48; i++)
            buf[i] = keep[i] = (uint8_t)rnd();
        const char *why = proto_delta_apply(buf, sizeof buf, list, len, rnd() % 4);
        if (why)
            cr_assert_eq(memcmp(buf, keep, sizeof buf), 0);
    }
}

/* Compressed patches (PROTO_FRAME_DELTA_Z): a repetitive list shrinks and inflates back to
 * itself; random bytes do not shrink (ETOOBIG: sent as they are); the inflater refuses
 * garbage, a truncated stream, trailing bytes and a stream that inflates past its bound. */
Test(delta, deflate_round_trip_and_refusals)
{
    uint8_t list[4096];
    for (size_t i = 0; i < sizeof list; i++) /* the same few pointers over and over */
        list[i] = (uint8_t)("\x02\x03\x8a\x1c\x00\x04\x90\x1c"[i % 8] + (i / 512));
    genie_buf z = {0}, scratch = {0}, back = {0};
    cr_assert_eq(proto_delta_deflate(list, sizeof list, &z, &scratch), 0);
    cr_assert_lt(z.len, sizeof list / 4, "%zu bytes", z.len);
    const char *why = proto_delta_inflate(z.data, z.len, sizeof list, &back);
    cr_assert_null(why, "%s", why);
    cr_assert_eq(back.len, sizeof list);
    cr_assert_eq(memcmp(back.data, list, sizeof list), 0);
    /* the bound: one byte short of the real size */
    why = proto_delta_inflate(z.data, z.len, sizeof list - 1, &back);
    cr_assert(why && strstr(why, "bound"), "%s", why ? why : "accepted");
    /* truncated, trailing bytes, garbage */
    why = proto_delta_inflate(z.data, z.len / 2, sizeof list, &back);
    cr_assert_not_null(why, "a truncated stream accepted");
    uint8_t more[8192];
    memcpy(more, z.data, z.len);
    memset(more + z.len, 0, 4);
    why = proto_delta_inflate(more, z.len + 4, sizeof list, &back);
    cr_assert_not_null(why, "trailing bytes accepted");
    for (int k = 0; k < 200; k++) {
        size_t n = 1 + rnd() % 64;
        for (size_t i = 0; i < n; i++)
            more[i] = (uint8_t)rnd();
        (void)proto_delta_inflate(more, n, 256, &back); /* refused or bounded, never past */
        cr_assert_leq(back.len, 256);
    }
    /* random bytes: nothing to win */
    for (size_t i = 0; i < sizeof list; i++)
        list[i] = (uint8_t)rnd();
    cr_assert_eq(proto_delta_deflate(list, sizeof list, &z, &scratch), GENIE_ETOOBIG);
    cr_assert_eq(proto_delta_deflate(list, 8, &z, &scratch), GENIE_ETOOBIG);
    genie_buf_free(&z);
    genie_buf_free(&scratch);
    genie_buf_free(&back);
}

/* Back-references (PROTO_FRAME_DELTA_REF). A payload of records holding 8-byte addresses at
 * 4-byte-aligned offsets, several records sharing each address (a tensor used by several
 * launches); each step moves most addresses (the caching allocator) and, now and then, gives
 * one use of an address another one (a class split). Whatever moves, the list against the
 * prediction rebuilds the batch exactly, as a list and as same-layout bytes; and when only
 * addresses move it is much shorter than the plain list. */
static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

Test(delta, back_references_round_trip)
{
    enum { N = 4096, SLOTS = 300, ADDRS = 24 };
    static uint8_t tmpl[N], cur[N], buf[N];
    uint32_t slot_at[SLOTS], slot_addr[SLOTS];
    uint64_t addr[ADDRS];
    genie_buf pred = {0}, list = {0}, plain = {0}, same = {0};
    proto_delta_refs enc = {0}, dec = {0};
    proto_delta_layout l = {0};
    for (int i = 0; i < N; i++)
        tmpl[i] = (uint8_t)(rnd() % 8); /* small fields, no address's shape */
    for (int a = 0; a < ADDRS; a++)
        addr[a] = 0x50570000000000ull >> 8 | (uint64_t)(rnd() & 0xffff) << 9;
    for (int k = 0; k < SLOTS; k++) { /* distinct, non-overlapping, 4-aligned places */
        slot_at[k] = (uint32_t)k * 12 + 4 * (rnd() % 2);
        slot_addr[k] = rnd() % ADDRS;
        put64(tmpl + slot_at[k], addr[slot_addr[k]]);
    }
    size_t sum_ref = 0, sum_plain = 0;
    for (int step = 0; step < 200; step++) {
        memcpy(cur, tmpl, N);
        for (int a = 0; a < ADDRS; a++)
            if (rnd() % 4)
                addr[a] += (uint64_t)(rnd() % 64 + 1) << 9;
        int split = step % 3 == 0;
        for (int k = 0; k < SLOTS; k++) {
            if (split && rnd() % 50 == 0)
                slot_addr[k] = rnd() % ADDRS;
            put64(cur + slot_at[k], addr[slot_addr[k]]);
        }
        if (step % 7 == 0) /* a field that is no address */
            cur[rnd() % N] ^= 1;
        cr_assert_eq(proto_delta_predict(tmpl, cur, N, &pred, &enc), 0);
        uint32_t np, npp;
        cr_assert_eq(proto_delta_encode(cur, pred.data, N, SIZE_MAX, &list, &np), 0);
        cr_assert_eq(proto_delta_encode(cur, tmpl, N, SIZE_MAX, &plain, &npp), 0);
        memcpy(buf, tmpl, N);
        const char *why = proto_delta_apply_ref(buf, N, list.data, list.len, np, &dec);
        cr_assert_null(why, "step %d: %s", step, why);
        cr_assert_eq(memcmp(buf, cur, N), 0, "step %d: list rebuilt another batch", step);
        /* the same runs as same-layout bytes */
        cr_assert_eq(proto_delta_layout_of(&l, list.data, list.len, np), 0);
        cr_assert_eq(proto_delta_encode_same(&l, cur, N, &same), 0);
        memcpy(buf, tmpl, N);
        why = proto_delta_apply_same_ref(buf, N, &l, same.data, same.len, &dec);
        cr_assert_null(why, "step %d: %s", step, why);
        cr_assert_eq(memcmp(buf, cur, N), 0, "step %d: same-layout rebuilt another batch", step);
        if (!split && step % 7) {
            sum_ref += list.len;
            sum_plain += plain.len;
        }
        memcpy(tmpl, cur, N);
    }
    /* with only addresses moving, about one patch per address instead of one per use */
    cr_assert_lt(sum_ref * 4, sum_plain, "%zu bytes against %zu", sum_ref, sum_plain);
    /* refusals leave the template as it was: a truncated list, a layout out of order */
    memcpy(buf, tmpl, N);
    cr_assert_not_null(proto_delta_apply_ref(buf, N, (const uint8_t *)"\x00\x20\x11", 3, 1, &dec));
    uint32_t bad_runs[4] = {100, 8, 96, 8};
    proto_delta_layout bad = {.run = bad_runs, .n = 2, .cap = 2, .bytes = 16};
    uint8_t sixteen[16] = {0};
    const char *why = proto_delta_apply_same_ref(buf, N, &bad, sixteen, 16, &dec);
    cr_assert(why && strstr(why, "order"), "%s", why ? why : "accepted");
    cr_assert_eq(memcmp(buf, tmpl, N), 0);
    genie_buf_free(&pred);
    genie_buf_free(&list);
    genie_buf_free(&plain);
    genie_buf_free(&same);
    proto_delta_refs_free(&enc);
    proto_delta_refs_free(&dec);
    proto_delta_layout_free(&l);
}

/* Random lists against the prediction: refused or applied inside the buffer, never a write
 * out of bounds (ASan would see it) and never a partial write when refused. */
Test(delta, back_references_random_lists)
{
    proto_delta_refs r = {0};
    uint8_t list[96];
    for (int round = 0; round < 5000; round++) {
        size_t len = rnd() % sizeof list;
        for (size_t i = 0; i < len; i++)
            list[i] = (uint8_t)(rnd() % 4 ? rnd() % 48 : rnd());
        uint8_t buf[48], keep[48];
        for (int i = 0; i < 48; i += 8) { /* repeated addresses: back-references to follow */
            put64(buf + i, 0x505700001000ull + (rnd() % 3) * 0x200);
            memcpy(keep + i, buf + i, 8);
        }
        const char *why = proto_delta_apply_ref(buf, sizeof buf, list, len, rnd() % 4, &r);
        if (why)
            cr_assert_eq(memcmp(buf, keep, sizeof buf), 0);
    }
    proto_delta_refs_free(&r);
}
