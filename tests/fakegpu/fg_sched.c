/* fg_sched.c — the fake GPU in time: per-stream queues run by a worker pool, marks, legacy
 * NULL-stream rules, asynchronous errors, and the modeled clock.
 *
 * Each stream is an ordered queue of items. Workers (GENIE_FAKE_GPU_WORKERS, default the
 * machine's cores) take the head of any stream whose head is ready (its dependencies done and
 * no other worker on that stream) and run it; different streams run concurrently. A mark is a
 * position in a stream: it is done, with a modeled time, once the stream's work before it is.
 * Events, cuStreamWaitEvent, the legacy NULL stream's implicit waits and every host-side wait
 * are marks.
 *
 * Time. Every stream keeps a modeled clock: an item starts at max(its issue time, the end of
 * the stream's previous item, the times of its dependencies) and ends cost later (fg_model.c;
 * with no model the cost is 0 and the end is when the CPU finished it). Workers do not sleep
 * through modeled time: they run ahead and stamp each mark with its modeled end, and whoever
 * observes a mark from the host (a synchronize, a query, an event's elapsed time, a host
 * function) waits until the real clock has reached that time. So a host sees exactly the
 * timing of the model, a decode step of 200 short kernels costs no timer wake-up per kernel,
 * and work on different streams overlaps as on the device. Kernels on different streams each
 * run at the modeled speed as if alone (there is no model of SM sharing).
 *
 * Lock order: fg_q may be taken with fg_lock held (handle checks first), never the reverse. */
#define _GNU_SOURCE
#include "fakegpu_int.h"
#include "fakegpu_work.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t fg_q = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fg_work_cv = PTHREAD_COND_INITIALIZER; /* workers: something may be ready */
static pthread_cond_t fg_done_cv = PTHREAD_COND_INITIALIZER; /* host waiters: a mark completed */

/* The legacy NULL stream of the one context, and the list of every stream not yet freed
 * (destroyed streams stay until their queue has drained). */
static fg_stream fg_legacy = {.legacy = 1};
static fg_stream *fg_streams = &fg_legacy;

static int fg_nworkers, fg_started;
static atomic_int fg_async_err; /* first failure of queued work, reported at the next sync */
static int fg_break_early_sync = -1;

uint64_t fg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sleeps to within FG_SPIN_NS of t, then spins: a sleeping thread wakes tens of microseconds
 * late on a loaded machine, which would add that much to every modeled wait the host sees. */
#define FG_SPIN_NS 150000u
void fg_sleep_until(uint64_t t)
{
    if (t > FG_SPIN_NS && fg_now() < t - FG_SPIN_NS) {
        uint64_t w = t - FG_SPIN_NS;
        struct timespec ts = {(time_t)(w / 1000000000u), (long)(w % 1000000000u)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
    }
    while (fg_now() < t)
        ;
}

/* GENIE_FAKE_GPU_BREAK=early_sync (tests only): every host-side wait returns at once, as a
 * broken synchronize would. tests/fakegpu/test_fakegpu_async.c shows that its tests catch it. */
static int fg_early_sync(void)
{
    if (fg_break_early_sync < 0) {
        const char *b = getenv("GENIE_FAKE_GPU_BREAK");
        fg_break_early_sync = b && strstr(b, "early_sync") != NULL;
    }
    return fg_break_early_sync;
}

/* ---- marks (caller holds fg_q) ---- */

static fg_mark *fg_mark_new(void)
{
    fg_mark *m = calloc(1, sizeof *m);
    if (m)
        m->refs = 1;
    return m;
}

static fg_mark *fg_mark_ref(fg_mark *m)
{
    m->refs++;
    return m;
}

void fg_mark_put_locked(fg_mark *m)
{
    if (m && --m->refs == 0)
        free(m);
}

void fg_mark_put(fg_mark *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&fg_q);
    fg_mark_put_locked(m);
    pthread_mutex_unlock(&fg_q);
}

/* Has the stream work the host could still wait for (queued, running, or ahead of the real
 * clock)? */
static int fg_busy(const fg_stream *s, uint64_t now)
{
    return s->pending || s->t > now;
}

static void fg_append(fg_stream *s, fg_item *it)
{
    it->next = NULL;
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    s->pending++;
}

/* A new reference to a mark at the current end of s (the caller puts it). A stream with
 * nothing queued gets a mark already done at its clock; otherwise a marker item is appended.
 * Reused until something else is queued on s. NULL when out of memory. */
static fg_mark *fg_tail_mark(fg_stream *s)
{
    if (s->tail_mark)
        return fg_mark_ref(s->tail_mark);
    fg_mark *m = fg_mark_new();
    if (!m)
        return NULL;
    if (!s->pending) {
        m->done = 1;
        m->t = s->t;
    } else {
        fg_item *it = calloc(1, sizeof *it);
        if (!it) {
            free(m);
            return NULL;
        }
        it->mark = fg_mark_ref(m);
        it->t_issue = 0;
        fg_append(s, it);
    }
    s->tail_mark = fg_mark_ref(m);
    return m;
}

static int fg_add_dep(fg_item *it, fg_mark *m)
{
    if (!m)
        return -1;
    /* a done mark is kept too: it still carries the modeled time the item may not start before */
    fg_mark **d = realloc(it->deps, (it->ndeps + 1) * sizeof *d);
    if (!d) {
        fg_mark_put_locked(m);
        return -1;
    }
    it->deps = d;
    it->deps[it->ndeps++] = m;
    return 0;
}

/* Queues it on s with the legacy NULL stream's implicit dependencies: work on the NULL stream
 * waits for all earlier work on blocking streams, and work on a blocking stream waits for
 * earlier NULL-stream work; non-blocking streams are exempt. Caller holds fg_q. */
static int fg_enqueue_locked(fg_stream *s, fg_item *it, uint64_t now)
{
    it->t_issue = now;
    if (s->legacy) {
        for (fg_stream *b = fg_streams; b; b = b->next)
            if (b != s && !(b->flags & CU_STREAM_NON_BLOCKING) && fg_busy(b, now) &&
                fg_add_dep(it, fg_tail_mark(b)))
                return -1;
    } else if (!(s->flags & CU_STREAM_NON_BLOCKING) && fg_busy(&fg_legacy, now)) {
        if (fg_add_dep(it, fg_tail_mark(&fg_legacy)))
            return -1;
    }
    fg_append(s, it);
    if (s->tail_mark) {
        fg_mark_put_locked(s->tail_mark);
        s->tail_mark = NULL;
    }
    if (it->mark)
        s->tail_mark = fg_mark_ref(it->mark); /* nothing after it yet */
    pthread_cond_signal(&fg_work_cv);
    return 0;
}

/* ---- workers ---- */

static int fg_ready(const fg_stream *s)
{
    if (!s->head || s->running)
        return 0;
    for (unsigned i = 0; i < s->head->ndeps; i++)
        if (!s->head->deps[i]->done)
            return 0;
    return 1;
}

/* The ready stream of highest priority (lowest number), or NULL. */
static fg_stream *fg_pick(void)
{
    fg_stream *best = NULL;
    for (fg_stream *s = fg_streams; s; s = s->next)
        if (fg_ready(s) && (!best || s->prio < best->prio))
            best = s;
    return best;
}

static void fg_unlink(fg_stream *s)
{
    for (fg_stream **pp = &fg_streams; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            return;
        }
}

static void fg_set_err(int r)
{
    int none = 0;
    atomic_compare_exchange_strong(&fg_async_err, &none, r);
}

static void fg_item_free_locked(fg_item *it)
{
    for (unsigned i = 0; i < it->ndeps; i++)
        fg_mark_put_locked(it->deps[i]);
    free(it->deps);
    fg_mark_put_locked(it->mark);
    free(it);
}

static void *fg_worker(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&fg_q);
    for (;;) {
        fg_stream *s = fg_pick();
        if (!s) {
            pthread_cond_wait(&fg_work_cv, &fg_q);
            continue;
        }
        fg_item *it = s->head;
        s->head = it->next;
        if (!s->head)
            s->tail = NULL;
        s->running = 1;
        uint64_t start = it->t_issue > s->t ? it->t_issue : s->t;
        for (unsigned i = 0; i < it->ndeps; i++)
            if (it->deps[i]->t > start)
                start = it->deps[i]->t;
        pthread_mutex_unlock(&fg_q);

        int r = 0;
        uint64_t end = start + it->cost_ns;
        if (it->fn) {
            if (it->host) /* the host sees a host function run: at its modeled time */
                fg_sleep_until(start);
            r = it->fn(it->arg);
            if (it->computed || it->host) { /* real CPU work can only add to the model */
                uint64_t now = fg_now();
                if (now > end)
                    end = now;
            }
        }
        if (it->release)
            it->release(it->arg);

        pthread_mutex_lock(&fg_q);
        if (r)
            fg_set_err(r);
        s->t = end;
        int woke = 0;
        if (it->mark) {
            it->mark->done = 1;
            it->mark->t = end;
            woke = 1;
        }
        s->running = 0;
        s->pending--;
        fg_item_free_locked(it);
        if (s->dead && !s->pending) {
            fg_unlink(s);
            fg_mark_put_locked(s->tail_mark);
            free(s);
        }
        if (woke) {
            pthread_cond_broadcast(&fg_done_cv);
            pthread_cond_broadcast(&fg_work_cv);
        }
    }
    return NULL;
}

/* After a fork only the forking thread exists: the child starts its own workers on first use. */
static void fg_atfork_child(void)
{
    pthread_mutex_init(&fg_q, NULL);
    pthread_cond_init(&fg_work_cv, NULL);
    pthread_cond_init(&fg_done_cv, NULL);
    fg_started = 0;
}

/* Pool size: GENIE_FAKE_GPU_WORKERS, else the cores this process may run on (at most 16).
 * Each worker runs OpenBLAS with one thread (the fake cuBLAS sets that), so the pool and
 * OpenBLAS together never ask for more threads than there are cores. */
static int fg_pool_size(void)
{
    const char *w = getenv("GENIE_FAKE_GPU_WORKERS");
    long n = w && *w ? strtol(w, NULL, 10) : 0;
    if (n <= 0) {
        cpu_set_t set;
        n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                        : sysconf(_SC_NPROCESSORS_ONLN);
    }
    return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

/* Caller holds fg_q. */
static int fg_start_locked(void)
{
    static int atfork;
    if (fg_started)
        return 0;
    if (!atfork) {
        pthread_atfork(NULL, NULL, fg_atfork_child);
        atfork = 1;
    }
    fg_nworkers = fg_pool_size();
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int made = 0;
    for (int i = 0; i < fg_nworkers; i++) {
        pthread_t t;
        if (pthread_create(&t, &at, fg_worker, NULL) == 0)
            made++;
    }
    pthread_attr_destroy(&at);
    if (!made)
        return -1;
    fg_nworkers = made;
    fg_started = 1;
    return 0;
}

int fg_sched_workers(void)
{
    pthread_mutex_lock(&fg_q);
    int n = fg_started ? fg_nworkers : fg_pool_size();
    pthread_mutex_unlock(&fg_q);
    return n;
}

/* ---- streams ---- */

fg_stream *fg_sched_stream(CUstream s)
{
    if (s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD)
        return &fg_legacy;
    return (fg_stream *)s;
}

fg_stream *fg_sched_stream_new(unsigned flags, int prio)
{
    fg_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->flags = flags;
    s->prio = prio;
    pthread_mutex_lock(&fg_q);
    s->next = fg_streams;
    fg_streams = s;
    pthread_mutex_unlock(&fg_q);
    return s;
}

/* The handle is already gone from the table; the stream is freed once its queue drained
 * ("resources ... released automatically once the device has completed all work"). */
void fg_sched_stream_destroy(fg_stream *s)
{
    pthread_mutex_lock(&fg_q);
    if (s->pending) {
        s->dead = 1;
    } else {
        fg_unlink(s);
        fg_mark_put_locked(s->tail_mark);
        free(s);
    }
    pthread_mutex_unlock(&fg_q);
}

int fg_sched_stream_prio(const fg_stream *s)
{
    return s->prio;
}

/* ---- queuing work ---- */

int fg_sched_submit(fg_stream *s, int (*fn)(void *), void *arg, void (*release)(void *),
                    uint64_t cost_ns, unsigned flags, fg_mark **done)
{
    fg_work w = {fn, arg, release, cost_ns, flags, FG_NODE_OTHER};
    return fg_sched_submit_work(s, &w, done);
}

int fg_sched_submit_work(fg_stream *s, const fg_work *w, fg_mark **done)
{
    if (fg_sched_capturing(s)) {
        if (done) { /* the host waits for it: not an op a graph can hold */
            if (w->release)
                w->release(w->arg);
            return (int)fg_capture_refuse(s);
        }
        return fg_graph_capture(s, w);
    }
    int (*fn)(void *) = w->fn;
    void *arg = w->arg;
    void (*release)(void *) = w->release;
    uint64_t cost_ns = w->cost_ns;
    unsigned flags = w->flags;
    fg_item *it = calloc(1, sizeof *it);
    fg_mark *m = done ? fg_mark_new() : NULL;
    if (!it || (done && !m)) {
        free(it);
        free(m);
        if (release)
            release(arg);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    it->fn = fn;
    it->arg = arg;
    it->release = release;
    it->cost_ns = cost_ns;
    it->host = (flags & FG_ITEM_HOST) != 0;
    it->computed = (flags & FG_ITEM_COMPUTED) != 0;
    uint64_t now = fg_now();
    pthread_mutex_lock(&fg_q);
    if (m)
        it->mark = fg_mark_ref(m);
    if (fg_start_locked() || fg_enqueue_locked(s, it, now)) {
        fg_item_free_locked(it);
        if (m)
            fg_mark_put_locked(m);
        pthread_mutex_unlock(&fg_q);
        if (release)
            release(arg);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    pthread_mutex_unlock(&fg_q);
    if (done)
        *done = m;
    return 0;
}

/* ---- host-side waits ---- */

/* Waits until m is done and the real clock has reached its modeled time. */
void fg_sched_wait(fg_mark *m)
{
    if (fg_early_sync())
        return;
    pthread_mutex_lock(&fg_q);
    while (!m->done)
        pthread_cond_wait(&fg_done_cv, &fg_q);
    uint64_t t = m->t;
    pthread_mutex_unlock(&fg_q);
    if (t > fg_now())
        fg_sleep_until(t);
}

/* Is m done as the host sees it (done, and its modeled time reached)? */
int fg_sched_mark_ready(const fg_mark *m)
{
    pthread_mutex_lock(&fg_q);
    int done = m->done;
    uint64_t t = m->t;
    pthread_mutex_unlock(&fg_q);
    return done && t <= fg_now();
}

int fg_sched_mark_time(const fg_mark *m, uint64_t *t)
{
    pthread_mutex_lock(&fg_q);
    int done = m->done;
    *t = m->t;
    pthread_mutex_unlock(&fg_q);
    return done;
}

/* A mark at the end of what is queued on s now; with the legacy stream, the end of the NULL
 * stream after its implicit waits (an empty item queued through the usual rules). NULL when
 * out of memory. */
fg_mark *fg_sched_tail(fg_stream *s)
{
    if (s->legacy) {
        fg_mark *m = NULL;
        if (fg_sched_submit(s, NULL, NULL, NULL, 0, 0, &m))
            return NULL;
        return m;
    }
    pthread_mutex_lock(&fg_q);
    fg_mark *m = fg_tail_mark(s);
    pthread_mutex_unlock(&fg_q);
    return m;
}

CUresult fg_sched_take_err(void)
{
    return (CUresult)atomic_exchange(&fg_async_err, 0);
}

/* The result a synchronising call reports: the sticky error, else the first asynchronous
 * failure since the last report (which it clears). */
CUresult fg_sched_sync_result(void)
{
    CUresult r = fg_check_sticky();
    CUresult a = fg_sched_take_err();
    return r ? r : a;
}

CUresult fg_sched_sync_stream(fg_stream *s)
{
    if (fg_sched_capturing(s))
        return fg_capture_refuse(s);
    fg_mark *m = fg_sched_tail(s);
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    fg_sched_wait(m);
    fg_mark_put(m);
    return fg_sched_sync_result();
}

CUresult fg_sched_query_stream(fg_stream *s)
{
    pthread_mutex_lock(&fg_q);
    fg_mark *m = fg_tail_mark(s);
    pthread_mutex_unlock(&fg_q);
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    int ready = fg_sched_mark_ready(m);
    fg_mark_put(m);
    if (!ready)
        return CUDA_ERROR_NOT_READY;
    return fg_sched_sync_result();
}

/* Waits for every stream, destroyed ones still draining included; reports nothing. */
CUresult fg_sched_wait_all(void)
{
    pthread_mutex_lock(&fg_q);
    size_t n = 0, cap = 0;
    fg_mark **ms = NULL;
    int oom = 0;
    for (fg_stream *s = fg_streams; s; s = s->next) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            fg_mark **g = realloc(ms, cap * sizeof *g);
            if (!g) {
                oom = 1;
                break;
            }
            ms = g;
        }
        if (!(ms[n] = fg_tail_mark(s))) {
            oom = 1;
            break;
        }
        n++;
    }
    pthread_mutex_unlock(&fg_q);
    for (size_t i = 0; i < n; i++) {
        fg_sched_wait(ms[i]);
        fg_mark_put(ms[i]);
    }
    free(ms);
    return oom ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}

CUresult fg_sched_sync_all(void)
{
    CUresult r = fg_sched_wait_all();
    return r ? r : fg_sched_sync_result();
}

/* ---- events ---- */

CUresult fg_sched_record(fg_event *e, fg_stream *s)
{
    fg_mark *m = NULL;
    int r = fg_sched_submit(s, NULL, NULL, NULL, 0, 0, &m);
    if (r)
        return (CUresult)r;
    pthread_mutex_lock(&fg_q);
    fg_mark_put_locked(e->last);
    e->last = m; /* the submit's reference */
    pthread_mutex_unlock(&fg_q);
    return CUDA_SUCCESS;
}

/* cuStreamWaitEvent: work queued on s after this waits for the event's latest record as it
 * stands now (a later record does not change what this wait waits for). */
CUresult fg_sched_wait_event(fg_stream *s, fg_event *e)
{
    if (fg_sched_capturing(s)) /* cross-stream capture is not modelled */
        return fg_capture_refuse(s);
    pthread_mutex_lock(&fg_q);
    fg_mark *m = e->last ? fg_mark_ref(e->last) : NULL;
    if (!m) { /* never recorded: nothing to wait for */
        pthread_mutex_unlock(&fg_q);
        return CUDA_SUCCESS;
    }
    fg_item *it = calloc(1, sizeof *it);
    if (!it || fg_add_dep(it, m) || fg_start_locked() || fg_enqueue_locked(s, it, fg_now())) {
        if (it)
            fg_item_free_locked(it);
        else
            fg_mark_put_locked(m);
        pthread_mutex_unlock(&fg_q);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    pthread_mutex_unlock(&fg_q);
    return CUDA_SUCCESS;
}

/* The event's latest record with a reference, or NULL when never recorded. */
fg_mark *fg_sched_event_mark(fg_event *e)
{
    pthread_mutex_lock(&fg_q);
    fg_mark *m = e->last ? fg_mark_ref(e->last) : NULL;
    pthread_mutex_unlock(&fg_q);
    return m;
}

void fg_sched_event_free(fg_event *e)
{
    fg_mark_put(e->last);
    free(e);
}

/* ---- the companions' interface (fakegpu_work.h) ---- */

int fg_work_submit(void *stream, int (*fn)(void *arg), void *arg, void (*release)(void *arg),
                   const fg_cost *cost)
{
    CUstream cs = (CUstream)stream;
    CUresult r = fg_check_sticky();
    if (!r) {
        FG_LOCK();
        int ok = fg_stream_ok(cs);
        FG_UNLOCK();
        r = ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
    }
    if (r) {
        if (release)
            release(arg);
        return (int)r;
    }
    uint64_t ns = cost ? fg_model_ns(cost) : 0;
    int compute = fg_model_compute();
    return fg_sched_submit(fg_sched_stream(cs), compute ? fn : NULL, arg, release, ns,
                           compute ? FG_ITEM_COMPUTED : 0, NULL);
}

int fg_work_drain(void *stream)
{
    CUstream cs = (CUstream)stream;
    FG_LOCK();
    int ok = fg_stream_ok(cs);
    FG_UNLOCK();
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    /* the routine is an op on the stream: an empty item queued under the usual rules (on a
     * blocking stream it also waits for earlier NULL-stream work), then waited for */
    fg_mark *m = NULL;
    int r = fg_sched_submit(fg_sched_stream(cs), NULL, NULL, NULL, 0, 0, &m);
    if (r)
        return r;
    fg_sched_wait(m);
    fg_mark_put(m);
    return (int)fg_sched_sync_result();
}

int fg_work_compute(void)
{
    return fg_model_compute();
}

int fg_work_sync_all(void)
{
    return (int)fg_sched_sync_all();
}

unsigned long long fg_work_model_ns(const fg_cost *c)
{
    return fg_model_ns(c);
}

/* ---- API call counts (fakegpu_work.h) ---- */

static __thread unsigned long long fg_api_calls;

void fg_work_count_call(void) { fg_api_calls++; }

unsigned long long genie_fake_api_calls(void) { return fg_api_calls; }
