/* errors.c — the runtime's error semantics (last error, sticky errors, a lost session) and the generated wrappers' helpers (counters, refusals). */
#include "shim/shim_int.h"

#include <stdatomic.h>

__thread cudaError_t shim_last_error;

static int is_sticky(cudaError_t e)
{
    switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorDevicesUnavailable:
        return 1;
    default:
        return 0;
    }
}

cudaError_t shim_set_error(cudaError_t e)
{
    if (e != cudaSuccess)
        shim_last_error = e;
    return e;
}

cudaError_t shim_async_error(cudaError_t e)
{
    if (e != cudaSuccess && is_sticky(e) && shim_g.fatal == cudaSuccess)
        shim_g.fatal = e;
    return shim_set_error(e);
}

cudaError_t shim_lost(const char *what, int err)
{
    GENIE_ERROR("%s: %s; CUDA calls now fail with cudaErrorDevicesUnavailable", what,
                genie_strerror(err));
    shim_g.fatal = cudaErrorDevicesUnavailable;
    return shim_set_error(cudaErrorDevicesUnavailable);
}

/* ------------------------------------------------------------ generated glue ---- */

void shim_count(unsigned apix)
{
    /* Per-call counters are statistics: a relaxed load and store, not a locked
     * read-modify-write, keep them off the launch fast path (about 1 ns instead of ~20).
     * Two threads counting at once may lose an increment; the round-trip and byte
     * counters are exact (updated under the lock). */
    uint64_t *c = &shim_g.stats.calls[apix];
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
    c = &shim_g.stats.calls_total;
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

cudaError_t shim_bad_arg(unsigned apix, const char *arg)
{
    GENIE_DEBUG("%s: %s is NULL", genie_api_table[apix].name, arg);
    return shim_set_error(cudaErrorInvalidValue);
}

void shim_deny_note(unsigned apix, const char *status)
{
    static _Atomic unsigned char logged[GENIE_APIX__COUNT];
    shim_count(apix);
    genie_warn_once_at(&logged[apix], "%s is not supported by Genie; returning %s",
                       genie_api_table[apix].name, status);
}

cudaError_t shim_deny_cudart(unsigned apix)
{
    shim_deny_note(apix, "cudaErrorNotSupported");
    return shim_set_error(cudaErrorNotSupported);
}

