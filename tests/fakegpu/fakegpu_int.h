/* fakegpu_int.h — fake GPU internals: global lock, handle table, fault guard, init checks. */
#ifndef GENIE_FAKEGPU_INT_H
#define GENIE_FAKEGPU_INT_H

/* The library builds with -fvisibility=hidden; declarations made under this pragma keep
 * default visibility, so exactly the cu* functions we define (and the twin API) are
 * exported, and nothing else needs an attribute. */
#pragma GCC visibility push(default)
#include <cuda.h>

#include "fakegpu_twin.h"
#pragma GCC visibility pop

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* One lock for every global table (handles, memory ranges, reservations, modules). It is
 * never held while user code (a twin) or a bulk copy runs. */
extern pthread_mutex_t fg_lock;

#define FG_LOCK() pthread_mutex_lock(&fg_lock)
#define FG_UNLOCK() pthread_mutex_unlock(&fg_lock)

/* Handle table: every live handle we gave out, keyed by address, with its kind. A lookup
 * never dereferences the handle, so a bogus or freed handle is reported, not followed. */
enum fg_kind { FG_H_CTX = 1, FG_H_STREAM, FG_H_EVENT, FG_H_MODULE, FG_H_FUNC, FG_H_MEM };
int fg_handle_add(const void *h, enum fg_kind k); /* caller holds fg_lock; 0 or -1 (ENOMEM) */
void fg_handle_del(const void *h);                /* caller holds fg_lock */
int fg_handle_is(const void *h, enum fg_kind k);  /* caller holds fg_lock */

/* Device-wide state (fg_core.c). */
#define FG_GRANULARITY ((size_t)2 << 20)
#define FG_MAX_THREADS_PER_BLOCK 1024
#define FG_SHMEM_PER_BLOCK 49152
#define FG_SHMEM_OPTIN 232448
extern size_t fg_total_mem;            /* GENIE_FAKE_MEM, fixed at cuInit */
CUresult fg_check_init(void);          /* CUDA_ERROR_NOT_INITIALIZED before cuInit */
CUresult fg_check_ctx(void); /* also CUDA_ERROR_INVALID_CONTEXT with no current context, and
                                the sticky error of a corrupted context */
CUresult fg_check_sticky(void); /* the context's sticky error (GENIE_FAKE_STICKY=1), or 0 */
void fg_fault(CUresult r);      /* a kernel faulted with r: sticky when GENIE_FAKE_STICKY=1 */
int fg_dev_attr(CUdevice_attribute a); /* value of a valid attribute */

/* Streams (fg_stream.c): NULL, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD are valid too.
 * Caller holds fg_lock. */
int fg_stream_ok(CUstream s);
/* The NULL stream (and CU_STREAM_LEGACY / CU_STREAM_PER_THREAD) is the current context's:
 * an op on it needs a context current on the calling thread (CUDA_ERROR_INVALID_CONTEXT),
 * an op on a created stream only cuInit. Takes no lock. */
CUresult fg_check_stream_ctx(CUstream s);

/* Memory (fg_mem.c): does [p, p+n) lie in device memory (cuMemAlloc or cuMemMap ranges,
 * adjacent ranges allowed)? Takes fg_lock itself. */
int fg_dev_range_ok(CUdeviceptr p, size_t n);
/* A module's device variable (fg_module.c): its own zeroed pages, a valid device range.
 * Takes fg_lock itself. */
CUresult fg_global_alloc(size_t bytes, CUdeviceptr *out);
void fg_global_release(CUdeviceptr ptr);

/* Fault guard (fg_guard.c): runs fn(arg) so that SIGSEGV/SIGBUS/SIGFPE/SIGILL raised in
 * this thread while it runs unwind back here. Returns 0, or the signal number. Whatever
 * fn allocated before faulting leaks: acceptable for a test double. */
int fg_guarded(void (*fn)(void *), void *arg);

#endif
