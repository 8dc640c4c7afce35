/* test_replay.c — iteration replay on the executor (remote/replay.c): a batch repeated as
 * BATCH_DELTAs is captured into CUDA graphs on its 3rd delta, later deltas update kernel
 * parameters, copy destinations and host-to-device bytes in the graphs, a change the graphs
 * cannot absorb (a memset's value) falls back to plain execution and, when it comes again, is
 * captured as another variant of the graphs; a value that alternates from step to step runs
 * through two variants, each step through the one that already holds it; and every reply is
 * byte-for-byte the one the same frames get with the graphs off. */
#include "tests/remote/harness.h"

#include "protocol/delta.h"

#include <stdio.h>

enum { STEPS = 12, FALLBACK_STEP = 7, N = 4 };

/* harness helpers this file does not need */
__attribute__((unused)) static void unused_helpers(void)
{
    (void)fill;
    (void)msg_has;
    (void)error_at;
}

/* A module image the fake loads (its twins are registered by name, see harness.h). */
static uint8_t image[256];
static genie_hash128 image_hash;

static void make_image(void)
{
    uint32_t magic = 0xba55ed50u;
    memset(image, 7, sizeof image);
    memcpy(image, &magic, 4);
    /* a fatbin header that holds the image: 16 bytes of header, the rest its entries (the
     * executor refuses one claiming more than arrived) */
    uint16_t hsize = 16;
    uint64_t size = sizeof image - 16;
    memcpy(image + 6, &hsize, 2);
    memcpy(image + 8, &size, 8);
    image_hash = genie_hash_content(image, sizeof image);
}

static void load_module(exec_session *s, uint32_t id)
{
    begin();
    memcpy(proto_put_MODULE_LOAD(&req, image_hash.lo, image_hash.hi, id, sizeof image), image,
           sizeof image);
    reply r;
    run(s, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.recs[0].op, PROTO_OP_R_MODULE);
    done(&r);
}

/* The memset's value at step k: 0 before FALLBACK_STEP; from there 0x3f, or (alternate) 0x3f
 * and 0 in turn. */
static int alternate;
static int memset_value(int k)
{
    if (k < FALLBACK_STEP)
        return 0;
    return alternate && (k - FALLBACK_STEP) % 2 ? 0 : 0x3f;
}

typedef struct run_log {
    char form[STEPS + 1][16];
    unsigned long long calls[STEPS + 1];
    unsigned long long d2h[STEPS + 1]; /* device-to-host copies that ran inside a graph */
    int variants[STEPS + 1];           /* variants of the graphs held after the step */
    uint8_t data[STEPS + 1][2][N * sizeof(float)]; /* the two D2H replies of each step */
    uint8_t slots[STEPS + 1][N * sizeof(float)];   /* the D2D destinations, read at the end */
} run_log;

/* Step k's batch on stream `stream` (a payload: records only), against memory at base:
 *   H2D  x[0..N) = k, k+1, ...           (bytes change each step: the staging buffer)
 *   LAUNCH axpb(x, 2, k, N)              (a kernel parameter changes each step)
 *   D2D  slot k <- x                     (the destination changes each step)
 *   MEMSET y[0..N) bytes to v            (v changes once, at FALLBACK_STEP: not absorbable)
 *   LAUNCH axpb(y, 1, 1, N)              (never changes)
 *   D2H x, D2H y                         (in the graph: into the executor's page-locked
 *                                         staging buffer, replied after one sync) */
static void build(genie_buf *b, uint64_t base, uint32_t stream, int k)
{
    uint64_t x = base, y = base + 4096, slot = base + 8192 + (uint64_t)k * N * sizeof(float);
    float in[N];
    for (int i = 0; i < N; i++)
        in[i] = (float)(k + i);
    memcpy(proto_put_MEMCPY_H2D(b, x, stream, sizeof in), in, sizeof in);
    float a = 2, c = (float)k, one = 1;
    int n = N;
    uint8_t *q = proto_put_LAUNCH(b, 5, stream, 1, 1, 1, 64, 1, 1, 0, 20);
    memcpy(q, &x, 8), memcpy(q + 8, &a, 4), memcpy(q + 12, &c, 4), memcpy(q + 16, &n, 4);
    proto_put_MEMCPY_D2D(b, slot, x, sizeof in, stream);
    proto_put_MEMSET(b, y, sizeof in, memset_value(k), stream);
    q = proto_put_LAUNCH(b, 5, stream, 1, 1, 1, 64, 1, 1, 0, 20);
    memcpy(q, &y, 8), memcpy(q + 8, &one, 4), memcpy(q + 12, &one, 4), memcpy(q + 16, &n, 4);
    proto_put_MEMCPY_D2H(b, x, sizeof in, stream);
    proto_put_MEMCPY_D2H(b, y, sizeof in, stream);
}

static void read_step(exec_session *s, run_log *log, int k)
{
    reply r;
    run(s, &r);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.n, 2, "step %d: %d records, first %s", k, r.n, proto_op_name(r.recs[0].op));
    for (int j = 0; j < 2; j++) {
        proto_R_DATA d;
        cr_assert_eq(proto_get_R_DATA(&r.recs[j], &d), 0, "step %d", k);
        cr_assert_eq(d.data_len, sizeof log->data[k][j]);
        memcpy(log->data[k][j], d.data, d.data_len);
    }
    done(&r);
}

/* Runs the steps in one session; graphs on or off; stream 0 or a created one. */
static void run_steps(run_log *log, int graphs, uint32_t stream)
{
    char path[] = "/tmp/genie_test_replay_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    setenv("GENIE_REPLAY_STATS", path, 1);
    setenv("GENIE_REPLAY_GRAPHS", graphs ? "1" : "0", 1);
    memset(log, 0, sizeof *log);
    exec_session *s = open_hello();
    uint64_t base = hello_rep.va_base;
    map(s, base, 2 * MiB);
    load_module(s, 1);
    reply r;
    begin();
    static const char name[] = "genie_test_axpb";
    memcpy(proto_put_FUNC_GET(&req, 5, 1, sizeof name - 1), name, sizeof name - 1);
    if (stream)
        proto_put_STREAM_CREATE(&req, stream, CU_STREAM_NON_BLOCKING, 0);
    run(s, &r);
    cr_assert_eq(r.n, 1);
    done(&r);
    genie_buf cur = {0}, prev = {0}, patches = {0};
    uint32_t tmpl_seq = 0;
    for (int k = 0; k <= STEPS; k++) {
        genie_buf_reset(&cur);
        build(&cur, base, stream, k);
        begin();
        uint32_t fl = PROTO_FRAME_TEMPLATE;
        memcpy(req.data + 8, &fl, 4);
        if (k == 0) { /* the template goes in full */
            cr_assert_eq(genie_buf_append(&req, cur.data, cur.len), 0);
        } else {
            uint32_t np;
            cr_assert_eq(cur.len, prev.len);
            cr_assert_eq(proto_delta_encode(cur.data, prev.data, cur.len, cur.len, &patches, &np),
                         0);
            uint8_t *p = proto_put_BATCH_DELTA(&req, tmpl_seq, np, patches.len);
            memcpy(p, patches.data, patches.len);
        }
        tmpl_seq = next_seq - 1;
        read_step(s, log, k);
        genie_buf_reset(&prev);
        cr_assert_eq(genie_buf_append(&prev, cur.data, cur.len), 0);
    }
    /* every step's D2D slot, read at the end */
    begin();
    proto_put_MEMCPY_D2H(&req, base + 8192, sizeof log->slots, stream);
    run(s, &r);
    cr_assert_eq(r.n, 1);
    proto_R_DATA d;
    cr_assert_eq(proto_get_R_DATA(&r.recs[0], &d), 0);
    memcpy(log->slots, d.data, sizeof log->slots);
    done(&r);
    exec_session_close(s);
    genie_buf_free(&cur);
    genie_buf_free(&prev);
    genie_buf_free(&patches);
    /* one line per delta batch: steps 1..STEPS */
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[256];
    int k = 1;
    while (k <= STEPS && fgets(line, sizeof line, f)) {
        char *fm = strstr(line, "form="), *ca = strstr(line, "api_calls="),
             *dh = strstr(line, " d2h="), *va = strstr(line, " variants=");
        cr_assert(fm && ca && dh && va, "%s", line);
        log->variants[k] = atoi(va + 10);
        sscanf(fm + 5, "%15s", log->form[k]);
        log->calls[k] = strtoull(ca + 10, NULL, 10);
        log->d2h[k] = strtoull(dh + 5, NULL, 10);
        k++;
    }
    fclose(f);
    unlink(path);
    cr_assert_eq(k, STEPS + 1, "%d stats lines", k - 1);
    unsetenv("GENIE_REPLAY_STATS");
    unsetenv("GENIE_REPLAY_GRAPHS");
}

/* What every step must have computed, from first principles. */
static void check_values(const run_log *log)
{
    for (int k = 0; k <= STEPS; k++) {
        float x[N], y[N], slot[N], want_y[N];
        memcpy(x, log->data[k][0], sizeof x);
        memcpy(y, log->data[k][1], sizeof y);
        memcpy(slot, log->slots[k], sizeof slot);
        memset(want_y, memset_value(k), sizeof want_y);
        for (int i = 0; i < N; i++) {
            float want = 2.0f * (float)(k + i) + (float)k;
            cr_assert_float_eq(x[i], want, 0, "step %d x[%d] = %f, want %f", k, i, x[i], want);
            /* the D2D ran after the kernel: the slot holds the kernel's result */
            cr_assert_float_eq(slot[i], want, 0, "step %d slot[%d] = %f", k, i, slot[i]);
            cr_assert_float_eq(y[i], want_y[i] + 1.0f, 0, "step %d y[%d] = %f", k, i, y[i]);
        }
    }
}

TestSuite(replay, .init = setup, .fini = teardown, .timeout = 60);

static void graphs_match_plain(uint32_t stream, int alt)
{
    make_image();
    alternate = alt;
    static run_log on, off;
    run_steps(&off, 0, stream);
    run_steps(&on, 1, stream);
    check_values(&off);
    check_values(&on);
    cr_assert(memcmp(on.data, off.data, sizeof on.data) == 0, "replies differ");
    cr_assert(memcmp(on.slots, off.slots, sizeof on.slots) == 0, "D2D slots differ");
    for (int k = 1; k <= STEPS; k++)
        cr_assert_str_eq(off.form[k], "plain", "off, step %d: %s", k, off.form[k]);
    /* deltas 1 and 2 plain, the 3rd captures, then graphs; the memset's new value falls back
     * (no graph holds it) and, seen again, is captured as a second variant. Alternating, the
     * old value's step runs through the first variant, and from the second capture on each
     * step goes through the variant that holds its value */
    const char *want[STEPS + 1] = {"", "plain", "plain", "capture", "graph", "graph", "graph",
                                   "fallback", "capture", "graph", "graph", "graph", "graph"};
    const char *want_alt[STEPS + 1] = {"", "plain", "plain", "capture", "graph", "graph",
                                       "graph", "fallback", "graph", "capture", "graph", "graph",
                                       "graph"};
    const int variants[STEPS + 1] = {0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2};
    const int variants_alt[STEPS + 1] = {0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2};
    for (int k = 1; k <= STEPS; k++) {
        const char *w = alt ? want_alt[k] : want[k];
        int v = alt ? variants_alt[k] : variants[k];
        cr_assert_str_eq(on.form[k], w, "step %d: %s, want %s", k, on.form[k], w);
        cr_assert_eq(on.variants[k], v, "step %d: %d variants, want %d", k, on.variants[k], v);
        cr_assert_eq(off.variants[k], 0);
    }
    /* plain, a step is the 7 records' calls and a sync after each D2H: 9 (the session's
     * thread keeps its context current from one batch to the next: no cuCtxSetCurrent).
     * Through the graph: 2 node updates (the kernel's parameter, the D2D's destination; the
     * H2D's bytes go into the staging buffer), one launch and one sync for both D2H copies,
     * which ran inside the graph: 4 */
    for (int k = 4; k <= STEPS; k++) {
        if (strcmp(on.form[k], "graph"))
            continue;
        cr_assert_eq(off.calls[k], 9, "step %d: plain %llu calls", k, off.calls[k]);
        cr_assert_eq(on.calls[k], 4, "step %d: %llu calls, plain %llu", k, on.calls[k],
                     off.calls[k]);
        cr_assert_eq(on.d2h[k], 2, "step %d: %llu D2H copies in the graph", k, on.d2h[k]);
        cr_assert_eq(off.d2h[k], 0);
    }
}

Test(replay, graphs_match_plain_on_the_legacy_stream) { graphs_match_plain(0, 0); }
Test(replay, graphs_match_plain_on_a_created_stream) { graphs_match_plain(16, 0); }
Test(replay, alternating_values_run_through_two_variants) { graphs_match_plain(16, 1); }
