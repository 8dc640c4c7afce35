/* test_lock.c — shim/lock.c: one hold per API call, nested holds only count, host functions run unlocked. */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "tests/shim/shim_harness.h"

TestSuite(lock, .init = shim_test_env);

Test(lock, holds_count_and_the_word_follows)
{
    cr_assert_eq(shim_depth, 0);
    shim_lock();
    cr_assert_eq(shim_depth, 1);
    cr_assert_neq(__atomic_load_n(&shim_lockword, __ATOMIC_RELAXED), 0, "the word is taken");
    shim_lock(); /* nested: counts only */
    cr_assert_eq(shim_depth, 2);
    shim_unlock();
    cr_assert_neq(__atomic_load_n(&shim_lockword, __ATOMIC_RELAXED), 0, "still held once");
    shim_unlock();
    cr_assert_eq(shim_depth, 0);
    cr_assert_eq(__atomic_load_n(&shim_lockword, __ATOMIC_RELAXED), 0, "free after the last");
    /* an API call leaves nothing held */
    void *p;
    cr_assert_eq(cudaMalloc(&p, 4096), cudaSuccess);
    cr_assert_eq(cudaMemset(p, 0, 4096), cudaSuccess);
    cr_assert_eq(shim_depth, 0);
    cr_assert_eq(__atomic_load_n(&shim_lockword, __ATOMIC_RELAXED), 0);
}

/* Another thread records work while this one holds the lock: it must wait, and get in once
 * the lock is free. */
static void *memset_thread(void *p)
{
    return (void *)(uintptr_t)cudaMemsetAsync(p, 1, 4096, NULL);
}

static int joined_within(pthread_t t, int seconds, void **ret)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    return pthread_timedjoin_np(t, ret, &ts) == 0;
}

Test(lock, a_second_thread_waits_for_the_holder)
{
    void *p, *ret;
    cr_assert_eq(cudaMalloc(&p, 4096), cudaSuccess);
    shim_lock();
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, memset_thread, p), 0);
    cr_assert_not(joined_within(t, 1, &ret), "the other thread ran while the lock was held");
    shim_unlock();
    cr_assert(joined_within(t, 10, &ret), "the other thread never got the lock");
    cr_assert_eq((cudaError_t)(uintptr_t)ret, cudaSuccess);
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
}

/* A host function runs with every hold of the enqueueing thread dropped: another thread's
 * CUDA call completes while the function waits for it (with the wrapper's hold kept, this
 * would deadlock), and the function itself may call CUDA. */
static struct {
    void *p;
    int ok, depth_inside;
} hf;

static void host_fn(void *ud)
{
    (void)ud;
    hf.depth_inside = (int)shim_depth;
    pthread_t t;
    void *ret = (void *)1;
    if (pthread_create(&t, NULL, memset_thread, hf.p))
        return;
    hf.ok = joined_within(t, 10, &ret) && ret == NULL &&
            cudaMemsetAsync(hf.p, 2, 4096, NULL) == cudaSuccess;
}

Test(lock, host_functions_run_unlocked)
{
    cr_assert_eq(cudaMalloc(&hf.p, 4096), cudaSuccess);
    cudaStream_t s;
    cr_assert_eq(cudaStreamCreate(&s), cudaSuccess);
    cr_assert_eq(cudaLaunchHostFunc(s, host_fn, NULL), cudaSuccess);
    cr_assert_eq(hf.depth_inside, 0, "the host function ran with %d holds", hf.depth_inside);
    cr_assert(hf.ok, "a CUDA call from another thread (or from the function) did not complete");
    cr_assert_eq(shim_depth, 0);
    unsigned char back[16];
    cr_assert_eq(cudaMemcpy(back, hf.p, sizeof back, cudaMemcpyDeviceToHost), cudaSuccess);
    cr_assert_eq(back[0], 2, "the function's own memset ran last");
}
