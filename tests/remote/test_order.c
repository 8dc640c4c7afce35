/* test_order.c — the executor keeps the device's ordering edges, checked on the asynchronous
 * fake GPU: a kernel that sleeps and then writes, and a copy to the host that must (or, where
 * the driver's rules allow it, need not) see the write.
 *
 * Each check that must see the write has a twin test that breaks the edge on purpose and
 * asserts that the write is then missed: GENIE_TEST_DROP_WAITS=1 makes the executor drop its
 * STREAM_WAIT_EVENTs, GENIE_FAKE_GPU_BREAK=early_sync makes every synchronize return at once.
 * If the fake GPU ran work at issue time (as it used to), or the kernel did not sleep long
 * enough, the broken runs would see the write too and fail. */
#include "tests/remote/harness.h"

#include <time.h>

/* harness.h helpers this file does not use */
__attribute__((unused)) static void (*unused_[])(void) = {(void (*)(void))error_at, (void (*)(void))msg_has};

#define SLEEP_MS 300
#define VALUE 7

/* sleep_write(int *p, int v, int ms): sleeps, then *p = v (one thread's worth). */
static int sleep_write_twin(const fg_launch *l, void **args)
{
    (void)l;
    int *p = *(int **)args[0];
    int v = *(int *)args[1], ms = *(int *)args[2];
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    *p = v;
    return 0;
}

static uint8_t image[256];
static genie_hash128 image_hash;

static void order_setup(void)
{
    fg_twin t = {"genie_test_sleep_write", sleep_write_twin, 3, {8, 4, 4}};
    fg_twin_register(&t);
    setup();
}

static void drop_waits_setup(void)
{
    setenv("GENIE_TEST_DROP_WAITS", "1", 1);
    order_setup();
}

static void early_sync_setup(void)
{
    setenv("GENIE_FAKE_GPU_BREAK", "early_sync", 1);
    order_setup();
}

TestSuite(order, .init = order_setup, .fini = teardown, .timeout = 60);

enum { A = 16, B = 17, EV = 1, FN = 5 };

/* A session with one mapping (zeroed), the module and the sleep_write function bound, and
 * streams A and B created with the given flags (1: CU_STREAM_NON_BLOCKING). */
static exec_session *prepare(uint32_t flags_a, uint32_t flags_b)
{
    exec_session *s = open_hello();
    map(s, hello_rep.va_base, 2 * MiB);
    uint32_t magic = 0xba55ed50u;
    fill(image, sizeof image, (unsigned)getpid());
    memcpy(image, &magic, 4);
    /* a fatbin header that holds the image: 16 bytes of header, the rest its entries (the
     * executor refuses one claiming more than arrived) */
    uint16_t hsize = 16;
    uint64_t size = sizeof image - 16;
    memcpy(image + 6, &hsize, 2);
    memcpy(image + 8, &size, 8);
    image_hash = genie_hash_content(image, sizeof image);
    static const char name[] = "genie_test_sleep_write";
    reply r;
    begin();
    memcpy(proto_put_MODULE_LOAD(&req, image_hash.lo, image_hash.hi, 1, sizeof image), image,
           sizeof image);
    memcpy(proto_put_FUNC_GET(&req, FN, 1, sizeof name - 1), name, sizeof name - 1);
    proto_put_STREAM_CREATE(&req, A, flags_a, 0);
    proto_put_STREAM_CREATE(&req, B, flags_b, 0);
    proto_put_EVENT_CREATE(&req, EV, 0);
    uint8_t *z = proto_put_MEMCPY_H2D(&req, hello_rep.va_base, 0, 4);
    memset(z, 0, 4);
    proto_put_DEVICE_SYNC(&req, 0);
    run(s, &r);
    for (int i = 0; i < r.n; i++)
        cr_assert_neq(r.recs[i].op, PROTO_OP_R_ERROR, "set-up record %d failed", i);
    done(&r);
    return s;
}

/* Appends a launch of sleep_write(base, VALUE, SLEEP_MS) on stream. */
static void put_sleep_write(uint32_t stream)
{
    uint8_t *p = proto_put_LAUNCH(&req, FN, stream, 1, 1, 1, 1, 1, 1, 0, 16);
    uint64_t dst = hello_rep.va_base;
    int v = VALUE, ms = SLEEP_MS;
    memcpy(p + 0, &dst, 8);
    memcpy(p + 8, &v, 4);
    memcpy(p + 12, &ms, 4);
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sends the request begun by the caller, whose last record is a 4-byte D2H of base, and
 * returns the int it read. */
static int run_and_read(exec_session *s)
{
    reply r;
    run(s, &r);
    /* A broken sync (GENIE_FAKE_GPU_BREAK) returns before the copy into the reply has landed
     * and before the kernel has ended: give the copy (which nothing orders after the kernel)
     * time to land, read, and keep the reply until the kernel is over, or their late writes go
     * to freed memory (ASan: heap-use-after-free) and to unmapped memory (a fault that poisons
     * the context for the next scenario's set-up). */
    int broken = getenv("GENIE_FAKE_GPU_BREAK") != NULL;
    if (broken)
        nap_ms(SLEEP_MS / 3);
    cr_assert_gt(r.n, 0);
    proto_R_DATA d;
    cr_assert_eq(r.recs[r.n - 1].op, PROTO_OP_R_DATA, "last reply record is %s",
                 proto_op_name(r.recs[r.n - 1].op));
    cr_assert_eq(proto_get_R_DATA(&r.recs[r.n - 1], &d), 0);
    cr_assert_eq(d.data_len, 4);
    int v;
    memcpy(&v, d.data, 4);
    if (broken)
        nap_ms(2 * SLEEP_MS);
    done(&r);
    return v;
}

/* Kernel on A, event recorded after it on A, B waits for the event, then B copies to the
 * host. Both streams non-blocking: only the event orders them. */
static int wait_event_scenario(void)
{
    exec_session *s = prepare(1, 1);
    begin();
    put_sleep_write(A);
    proto_put_EVENT_RECORD(&req, EV, A);
    proto_put_STREAM_WAIT_EVENT(&req, B, EV, 0);
    proto_put_MEMCPY_D2H(&req, hello_rep.va_base, 4, B);
    int v = run_and_read(s);
    exec_session_close(s);
    return v;
}

Test(order, stream_wait_event_orders_a_copy_after_a_kernel)
{
    cr_assert_eq(wait_event_scenario(), VALUE, "the copy on B did not wait for A's kernel");
}

Test(order, dropped_wait_is_caught, .init = drop_waits_setup)
{
    cr_assert_neq(wait_event_scenario(), VALUE,
                  "with its waits dropped the executor still ordered the copy: the test above "
                  "could not catch a lost edge");
}

/* Kernel on A; a synchronize of kind k; then a copy on B, which nothing orders after A's
 * kernel but the host's wait. */
enum { SYNC_STREAM, SYNC_DEVICE, SYNC_EVENT };
static int sync_scenario(int k)
{
    exec_session *s = prepare(1, 1);
    begin();
    put_sleep_write(A);
    if (k == SYNC_STREAM) {
        proto_put_STREAM_SYNC(&req, A);
    } else if (k == SYNC_DEVICE) {
        proto_put_DEVICE_SYNC(&req, 0);
    } else {
        proto_put_EVENT_RECORD(&req, EV, A);
        proto_put_EVENT_SYNC(&req, EV);
    }
    proto_put_MEMCPY_D2H(&req, hello_rep.va_base, 4, B);
    int v = run_and_read(s);
    exec_session_close(s);
    return v;
}

Test(order, synchronize_waits_for_a_long_kernel)
{
    cr_assert_eq(sync_scenario(SYNC_STREAM), VALUE, "STREAM_SYNC returned before the kernel ended");
    cr_assert_eq(sync_scenario(SYNC_DEVICE), VALUE, "DEVICE_SYNC returned before the kernel ended");
    cr_assert_eq(sync_scenario(SYNC_EVENT), VALUE, "EVENT_SYNC returned before the kernel ended");
}

Test(order, early_sync_is_caught, .init = early_sync_setup)
{
    cr_assert_neq(sync_scenario(SYNC_STREAM), VALUE, "a broken sync went unnoticed");
    cr_assert_neq(sync_scenario(SYNC_DEVICE), VALUE, "a broken sync went unnoticed");
    cr_assert_neq(sync_scenario(SYNC_EVENT), VALUE, "a broken sync went unnoticed");
}

/* The legacy NULL stream waits for earlier work on blocking streams; non-blocking streams
 * are exempt. A copy on the NULL stream (client stream 0) after a kernel on A: */
static int legacy_scenario(uint32_t flags_a)
{
    exec_session *s = prepare(flags_a, 1);
    begin();
    put_sleep_write(A);
    proto_put_MEMCPY_D2H(&req, hello_rep.va_base, 4, 0);
    int v = run_and_read(s);
    exec_session_close(s);
    return v;
}

Test(order, null_stream_waits_for_blocking_streams)
{
    cr_assert_eq(legacy_scenario(0), VALUE, "the NULL stream did not wait for a blocking stream");
}

Test(order, null_stream_does_not_wait_for_non_blocking_streams)
{
    cr_assert_neq(legacy_scenario(1), VALUE,
                  "the NULL stream waited for a non-blocking stream (or the kernel ran at issue)");
}

/* And a blocking stream waits for earlier NULL-stream work: the kernel on the NULL stream, the
 * copy on blocking stream B. */
Test(order, blocking_stream_waits_for_the_null_stream)
{
    exec_session *s = prepare(1, 0);
    begin();
    put_sleep_write(0);
    proto_put_MEMCPY_D2H(&req, hello_rep.va_base, 4, B);
    cr_assert_eq(run_and_read(s), VALUE);
    exec_session_close(s);
}
