/* stats.c — the shim's counters: GENIE_STATS, GENIE_STATS_FILE and genie_stats_json. */
#include "shim/shim_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void print_stats(FILE *f, int json)
{
    shim_stats *s = &shim_g.stats;
    if (json) {
        fprintf(f,
                "{\"calls\": %llu, \"ops_recorded\": %llu, \"launches\": %llu, "
                "\"batches\": %llu, \"round_trips\": %llu, \"rt_setup\": %llu, "
                "\"rt_module\": %llu, \"rt_sync\": %llu, \"rt_query\": %llu, "
                "\"flush_threshold\": %llu, \"bytes_sent\": %llu, \"bytes_received\": %llu, "
                "\"h2d_bytes\": %llu, \"d2h_bytes\": %llu, \"h2d_cache_hits\": %llu, "
                "\"h2d_cache_misses\": %llu, \"h2d_bytes_saved\": %llu, \"batches_delta\": %llu, "
                "\"delta_bytes_saved\": %llu, \"batches_template\": %llu, \"batches_branched\": %llu, "
                "\"branches_ns\": %llu, "
                "\"wire_ns\": %llu, "
                "\"exec_ns\": %llu, \"connect_ns\": %llu, "
                "\"phase_other_batches\": %llu, \"phase_prefill_batches\": %llu, "
                "\"phase_decode_batches\": %llu, \"phase_other_bytes\": %llu, "
                "\"phase_prefill_bytes\": %llu, \"phase_decode_bytes\": %llu, "
                "\"kv_buffers\": %llu, \"kv_h2d_bytes\": %llu, \"kv_d2h_bytes\": %llu, "
                "\"batches_nowait\": %llu, \"inflight_stalls\": %llu, \"inflight_max\": %llu, "
                "\"syncs_elided\": %llu, \"pipeline_chunks\": %llu, "
                "\"fatbins_registered\": %llu, \"fatbin_bytes_registered\": %llu, "
                "\"modules_hashed\": %llu, \"modules_loaded\": %llu, "
                "\"module_bytes_sent\": %llu, \"funcs_prepared\": %llu, ",
                (unsigned long long)s->calls_total, (unsigned long long)s->ops_recorded,
                (unsigned long long)s->launches, (unsigned long long)s->batches,
                (unsigned long long)s->round_trips, (unsigned long long)s->rt_setup,
                (unsigned long long)s->rt_module, (unsigned long long)s->rt_sync,
                (unsigned long long)s->rt_query, (unsigned long long)s->flush_threshold,
                (unsigned long long)s->bytes_sent, (unsigned long long)s->bytes_received,
                (unsigned long long)s->h2d_bytes, (unsigned long long)s->d2h_bytes,
                (unsigned long long)s->h2d_cache_hits, (unsigned long long)s->h2d_cache_misses,
                (unsigned long long)s->h2d_bytes_saved, (unsigned long long)s->batches_delta,
                (unsigned long long)s->delta_bytes_saved,
                (unsigned long long)s->batches_template, (unsigned long long)s->batches_branched, (unsigned long long)s->branches_ns,
                (unsigned long long)s->wire_ns,
                (unsigned long long)s->exec_ns, (unsigned long long)s->connect_ns,
                (unsigned long long)s->phase_batches[0],
                (unsigned long long)s->phase_batches[1], (unsigned long long)s->phase_batches[2],
                (unsigned long long)s->phase_bytes[0], (unsigned long long)s->phase_bytes[1],
                (unsigned long long)s->phase_bytes[2], (unsigned long long)s->kv_buffers,
                (unsigned long long)s->kv_h2d_bytes, (unsigned long long)s->kv_d2h_bytes, (unsigned long long)s->batches_nowait,
                (unsigned long long)s->inflight_stalls, (unsigned long long)s->inflight_max,
                (unsigned long long)s->syncs_elided, (unsigned long long)s->pipeline_chunks,
                (unsigned long long)s->fatbins_registered,
                (unsigned long long)s->fatbin_bytes_registered,
                (unsigned long long)s->modules_hashed, (unsigned long long)s->modules_loaded,
                (unsigned long long)s->module_bytes_sent, (unsigned long long)s->funcs_prepared);
        char cost[1024];
        shim_cost_json(cost, sizeof cost);
        fprintf(f, "%s\"per_api\": {", cost);
        int first = 1;
        for (unsigned i = 0; i < GENIE_APIX__COUNT; i++)
            if (s->calls[i]) {
                fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", genie_api_table[i].name,
                        (unsigned long long)s->calls[i]);
                first = 0;
            }
        fprintf(f, "}}\n");
        return;
    }
    fprintf(f,
            "genie stats: %llu calls, %llu ops recorded (%llu launches), %llu batches, "
            "%llu round trips (setup %llu, module %llu, sync %llu, query %llu), "
            "%llu bytes sent, %llu bytes received, %.3f ms waiting; weight cache %llu hits "
            "(%llu bytes not sent), %llu misses; %llu batches sent as deltas (%llu bytes not "
            "sent); %llu batches not waited for (%llu syncs elided, %llu pipeline chunks, "
            "%llu waits for the in-flight bound)\n",
            (unsigned long long)s->calls_total, (unsigned long long)s->ops_recorded,
            (unsigned long long)s->launches, (unsigned long long)s->batches,
            (unsigned long long)s->round_trips, (unsigned long long)s->rt_setup,
            (unsigned long long)s->rt_module, (unsigned long long)s->rt_sync,
            (unsigned long long)s->rt_query, (unsigned long long)s->bytes_sent,
            (unsigned long long)s->bytes_received, s->wire_ns / 1e6,
            (unsigned long long)s->h2d_cache_hits, (unsigned long long)s->h2d_bytes_saved,
            (unsigned long long)s->h2d_cache_misses, (unsigned long long)s->batches_delta,
            (unsigned long long)s->delta_bytes_saved, (unsigned long long)s->batches_nowait,
            (unsigned long long)s->syncs_elided, (unsigned long long)s->pipeline_chunks,
            (unsigned long long)s->inflight_stalls);
}

GENIE_EXPORT int genie_stats_json(char *buf, size_t n)
{
    FILE *f = fmemopen(buf, n, "w");
    if (!f)
        return -1;
    shim_lock();
    print_stats(f, 1);
    shim_unlock();
    return fclose(f);
}

void shim_stats_atexit(void)
{
    if (genie_env_bool("GENIE_STATS", 0))
        print_stats(stderr, 0);
    const char *path = genie_env_str("GENIE_STATS_FILE", NULL);
    if (path) {
        FILE *f = fopen(path, "w");
        if (!f) {
            GENIE_ERROR("cannot write GENIE_STATS_FILE=%s: %s", path, strerror(errno));
            return;
        }
        print_stats(f, 1);
        fclose(f);
    }
}
