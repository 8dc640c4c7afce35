/* phase.c — the phase (GENIE_PHASE) and KV-cache (GENIE_KV_COLOCATE) passes around a flush:
 * the batch's phase, the KV buffers it reveals, and their counters. */
#include "shim/shim_int.h"

#include <stdio.h>

void shim_phase_before(int repeated)
{
    shim_g.phase = sem_pass_phase(&shim_g.pol, &shim_g.ir, repeated);
    int marked = sem_pass_kv(&shim_g.pol, &shim_g.kv, &shim_g.ir);
    if (marked > 0) {
        shim_g.stats.kv_buffers += (uint64_t)marked;
        if (shim_g.sem_dump) /* before the batch's own lines: a block holds only its ops */
            for (uint32_t i = 0; i < shim_g.kv.n; i++)
                if (shim_g.kv.b[i].marked == shim_g.kv.batches)
                    fprintf(shim_g.sem_dump, "kv ptr=%#llx bytes=%llu\n",
                            (unsigned long long)shim_g.kv.b[i].ptr,
                            (unsigned long long)shim_g.kv.b[i].size);
    }
    uint64_t h2d, d2h;
    sem_kv_wire(&shim_g.kv, &shim_g.ir, &h2d, &d2h);
    shim_g.stats.kv_h2d_bytes += h2d;
    shim_g.stats.kv_d2h_bytes += d2h;
}

void shim_phase_after(uint64_t bytes_sent_before)
{
    unsigned ph = (unsigned)shim_g.phase < 3 ? (unsigned)shim_g.phase : 0;
    shim_g.stats.phase_batches[ph]++;
    shim_g.stats.phase_bytes[ph] += shim_g.stats.bytes_sent - bytes_sent_before;
}
