/* lock.c — the shim's one lock: a futex word taken once per API call, with a per-thread hold count. */
#include "shim/shim_int.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* The shim's one lock: a futex word (never taken recursively), taken once per API call by the
 * generated wrapper (or by a hand-written entry point: RAW rows, the driver and NVML
 * look-alikes); shim_depth counts this thread's holds, so a call made while the thread is
 * inside the shim goes straight through and internal functions only check it. */
int shim_lockword; /* 0 free, 1 held, 2 held and someone may wait (Drepper, "Futexes Are Tricky") */
__thread unsigned shim_depth __attribute__((tls_model("initial-exec")));

static void lockword_wait(void)
{
    syscall(SYS_futex, &shim_lockword, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

/* The contended (or first) path of shim_lock: seen is the word the inline CAS found. */
void shim_lock_slow(int seen)
{
    if (__builtin_expect(!__atomic_load_n(&shim_inited, __ATOMIC_ACQUIRE), 0)) {
        pthread_once(&init_once, shim_init_once);
        seen = 0;
        if (__atomic_compare_exchange_n(&shim_lockword, &seen, 1, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
    }
    if (seen != 2)
        seen = __atomic_exchange_n(&shim_lockword, 2, __ATOMIC_ACQUIRE);
    while (seen != 0) {
        lockword_wait();
        seen = __atomic_exchange_n(&shim_lockword, 2, __ATOMIC_ACQUIRE);
    }
}

void shim_unlock_slow(void)
{
    syscall(SYS_futex, &shim_lockword, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

unsigned shim_release(void)
{
    unsigned d = shim_depth;
    if (d) {
        shim_depth = 1;
        shim_unlock();
    }
    return d;
}

void shim_reacquire(unsigned depth)
{
    if (depth) {
        shim_lock();
        shim_depth = depth;
    }
}

