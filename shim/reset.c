/* reset.c — cudaDeviceReset: the session ends, every session object of the client with it, and the next call opens a new one.
 *
 * The runtime destroys the context: memory, streams, events, library handles, modules and
 * graphs go, and "any subsequent API call to this device will reinitialize the device". Genie
 * does the same with its session: the work recorded so far is sent and waited for (its errors
 * are dropped with the context they belong to), the link is closed (genie-remote frees the
 * session's memory, streams, events, cuBLAS/cuBLASLt/cuDNN handles, private modules and
 * graphs, as for any session that ends), and the client forgets its side: allocations, live
 * handles, the batch, frames in flight, the delta template, the semantics passes' memory,
 * sticky errors. Registered kernels and device variables stay and are bound again on their
 * first use in the new session (a private module is loaded again from its image, so its
 * variables start over from their initial values, as after a real reset). What is kept on
 * purpose: host memory from cudaMallocHost/cudaHostAlloc and cudaHostRegister ranges (the
 * client's own memory; freeing it would turn a use after the reset, undefined in CUDA, into a
 * crash), legacy cuDNN tensor descriptors and cuBLASLt descriptors (client-only values), the
 * cuBLASLt heuristic cache (the GPU's answers), the counters, and the device description. */
#include "shim/shim_int.h"

#include <sys/mman.h>

cudaError_t shim_impl_cudaDeviceReset(void)
{
    SHIM_HELD();
    if (!shim_g.connected && shim_g.fatal == cudaSuccess) {
        shim_last_error = cudaSuccess;
        return cudaSuccess; /* no session yet: nothing to reset */
    }
    if (shim_g.connected && shim_g.fatal == cudaSuccess) {
        /* the work recorded before the reset runs to its end; what it failed with dies with
         * the context */
        (void)shim_flush(SHIM_RT_SYNC);
        (void)shim_inflight_drain();
        (void)shim_inflight_error();
    }
    shim_graphs_forget(); /* before the streams: a capture names its stream */
    shim_streams_forget();
    shim_blas_forget();
    shim_lt_forget();
    shim_dnn_forget();
    shim_modules_forget();
    shim_delta_forget();
    shim_device_forget();
    shim_inflight_reset();
    if (shim_g.link && shim_batch_init() == 0)
        sem_ir_reset(&shim_g.ir);
    shim_g.kv.n = shim_g.kv.nmarked = 0;
    shim_g.pipe.chunks = 0;
    shim_g.clean = shim_g.clean_after = SHIM_CLEAN_NONE;
    int remote = shim_remote();
    shim_link_close(shim_g.link); /* genie-remote frees the session's side */
    shim_g.link = NULL;
    if (remote && shim_g.va_size) /* the next session's range may lie elsewhere */
        munmap((void *)(uintptr_t)shim_g.va_base, shim_g.va_size);
    shim_alloc_free_all(shim_g.alloc); /* every pointer of the session is now unknown */
    shim_g.alloc = NULL;
    shim_g.va_base = shim_g.va_size = 0;
    shim_g.connected = 0;
    shim_g.fatal = cudaSuccess; /* a sticky error or a lost session ends with it */
    shim_last_error = cudaSuccess;
    GENIE_INFO("cudaDeviceReset: the session ended; the next call opens a new one");
    return cudaSuccess;
}
