/* wcache.c — the weight cache: host copies of large uploads, keyed by content hash, shared by
 * every session of the process (GENIE_WEIGHT_CACHE on the client, GENIE_WEIGHT_CACHE_BYTES here).
 *
 * A client asks for an upload by hash (MEMCPY_H2D_CACHED); on a hit the executor copies its
 * own copy to the device and the bytes never cross the network again. On a miss the client
 * sends them with MEMCPY_H2D_STORE, which checks them against the hash before keeping them:
 * a client cannot plant wrong bytes under a hash that another session will ask for.
 *
 * Entries are malloc'd (pageable) and bounded by the limit, least recently used evicted first.
 * A copy from an entry holds a reference for the duration of cuMemcpyHtoDAsync: the driver
 * has staged a pageable source by the time that call returns (CUDA's API sync behaviour:
 * "the function will return once the pageable buffer has been copied to the staging memory"),
 * so an entry no copy references may be freed even while the DMA runs. Eviction skips
 * referenced entries. The copy itself runs without the lock: sessions on other threads look
 * up and store meanwhile. */
#include "remote/exec_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct exec_wentry {
    genie_lru_node node; /* first: key (the scoped hash), size, order */
    unsigned refs;       /* copies running from data: not evictable */
    uint8_t data[];
} exec_wentry;

void exec_wcache_init(exec_wcache *w, uint64_t limit)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    genie_lru_init(&w->lru);
    w->limit = limit;
}

void exec_wcache_free(exec_wcache *w)
{
    for (genie_lru_node *e = w->lru.head, *next; e; e = next) {
        next = e->next;
        free(e);
    }
    pthread_mutex_destroy(&w->lock);
    memset(w, 0, sizeof *w);
}

/* Lock held. The entry for (h, size), or NULL. */
static exec_wentry *find(exec_wcache *w, genie_hash128 h, uint64_t size)
{
    return (exec_wentry *)genie_lru_find(&w->lru, h, size);
}

/* Lock held: frees e (unreferenced). */
static void evict(exec_wcache *w, exec_wentry *e)
{
    genie_lru_remove(&w->lru, &e->node);
    w->evicted++;
    free(e);
}

/* Lock held: makes room for n more bytes by evicting the least recently used unreferenced
 * entries; 0 when it cannot (then nothing was evicted needlessly: it checks first). */
static int make_room(exec_wcache *w, uint64_t n)
{
    uint64_t bytes = w->lru.bytes;
    if (n > w->limit)
        return 0;
    uint64_t freeable = 0;
    for (genie_lru_node *e = w->lru.tail; e && bytes - freeable + n > w->limit; e = e->prev)
        if (!((exec_wentry *)e)->refs)
            freeable += e->size;
    if (bytes - freeable + n > w->limit)
        return 0;
    for (genie_lru_node *e = w->lru.tail, *prev; e && w->lru.bytes + n > w->limit; e = prev) {
        prev = e->prev;
        if (!((exec_wentry *)e)->refs)
            evict(w, (exec_wentry *)e);
    }
    return 1;
}

void exec_wcache_log(exec_wcache *w)
{
    pthread_mutex_lock(&w->lock);
    if (w->limit && (w->lru.n || w->hits || w->misses))
        GENIE_INFO("weight cache: %zu entries, %.1f of %.1f MiB; %llu hits (%.1f MiB not sent), "
                   "%llu misses, %llu stored, %llu evicted",
                   w->lru.n, w->lru.bytes / 1048576.0, w->limit / 1048576.0,
                   (unsigned long long)w->hits, w->bytes_served / 1048576.0,
                   (unsigned long long)w->misses, (unsigned long long)w->stored,
                   (unsigned long long)w->evicted);
    pthread_mutex_unlock(&w->lock);
}

static int check_copy(exec_session *s, uint32_t index, const char *op, uint32_t stream,
                      uint64_t dst, uint64_t size, CUstream *st)
{
    int e = exec_stream(s, index, stream, op, st);
    if (e)
        return e;
    if (!size || !exec_range_ok(s, dst, size))
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "%s: device range 0x%llx + %llu is not inside a mapping of session %u",
                         op, (unsigned long long)dst, (unsigned long long)size, s->id);
    return 0;
}

genie_hash128 exec_cache_key(const exec_session *s, genie_hash128 h, int global)
{
    const exec_ctx *c = s->ctx;
    if (global)
        return h;
    uint64_t t = (uint64_t)s->tenant + 1;
    h.lo ^= c->wc_salt[0] * t;
    h.hi ^= c->wc_salt[1] + t * 0x9e3779b97f4a7c15ull;
    return h;
}

static genie_hash128 scoped(const exec_session *s, genie_hash128 h)
{
    return exec_cache_key(s, h, s->ctx->limits.weight_cache_global);
}

int exec_op_MEMCPY_H2D_CACHED(exec_session *s, uint32_t index, const proto_MEMCPY_H2D_CACHED *a)
{
    exec_wcache *w = &s->ctx->wcache;
    CUstream st;
    int e = check_copy(s, index, "MEMCPY_H2D_CACHED", a->stream, a->dst, a->size, &st);
    if (e)
        return e;
    const exec_wcache_remote *wr = s->ctx->wc_remote;
    if (wr) { /* a worker: the front holds the cache and scopes it by tenant */
        const void *data = NULL;
        int answer = wr->get(wr->ud, (genie_hash128){a->hash_lo, a->hash_hi}, a->size, &data);
        if (answer == 1) {
            CUresult r = s->ctx->drv.MemcpyHtoDAsync((CUdeviceptr)a->dst, data, (size_t)a->size, st);
            wr->release(wr->ud, data, a->size); /* staged by the driver (top of the file) */
            if (r)
                return exec_cufail(s, index, r, "MEMCPY_H2D_CACHED: cuMemcpyHtoDAsync");
        }
        return proto_put_R_VALUE(&s->reply, (uint64_t)answer, index, 0) ? 0 : GENIE_ENOMEM;
    }
    genie_hash128 h = scoped(s, (genie_hash128){a->hash_lo, a->hash_hi});
    uint64_t answer = 0;
    pthread_mutex_lock(&w->lock);
    exec_wentry *ent = w->limit ? find(w, h, a->size) : NULL;
    if (!w->limit) {
        answer = 2; /* no cache here: the client stops asking */
    } else if (ent) {
        ent->refs++;
        genie_lru_touch(&w->lru, &ent->node);
        answer = 1;
    } else {
        w->misses++;
    }
    pthread_mutex_unlock(&w->lock);
    if (ent) {
        CUresult r =
            s->ctx->drv.MemcpyHtoDAsync((CUdeviceptr)a->dst, ent->data, (size_t)a->size, st);
        pthread_mutex_lock(&w->lock);
        ent->refs--; /* the driver has staged the pageable source (see the top of the file) */
        if (!r) {
            w->hits++;
            w->bytes_served += a->size;
        }
        pthread_mutex_unlock(&w->lock);
        if (r)
            return exec_cufail(s, index, r, "MEMCPY_H2D_CACHED: cuMemcpyHtoDAsync");
        GENIE_DEBUG("weight cache: hit, %llu bytes to 0x%llx for session %u",
                    (unsigned long long)a->size, (unsigned long long)a->dst, s->id);
    }
    return proto_put_R_VALUE(&s->reply, answer, index, 0) ? 0 : GENIE_ENOMEM;
}

int exec_op_MEMCPY_H2D_STORE(exec_session *s, uint32_t index, const proto_MEMCPY_H2D_STORE *a)
{
    exec_wcache *w = &s->ctx->wcache;
    CUstream st;
    int e = check_copy(s, index, "MEMCPY_H2D_STORE", a->stream, a->dst, a->data_len, &st);
    if (e)
        return e;
    /* Checked before anything is copied or kept, without the lock (hashing takes a while). */
    genie_hash128 h = genie_hash_content(a->data, a->data_len);
    if (h.lo != a->hash_lo || h.hi != a->hash_hi)
        return exec_fail(s, index, EXEC_cudaErrorInvalidValue, 0,
                         "MEMCPY_H2D_STORE: %zu bytes for 0x%llx do not match their hash "
                         "%016llx%016llx",
                         a->data_len, (unsigned long long)a->dst, (unsigned long long)a->hash_hi,
                         (unsigned long long)a->hash_lo);
    /* As MEMCPY_H2D: the request buffer is staged by the driver before the call returns. */
    CUresult r = s->ctx->drv.MemcpyHtoDAsync((CUdeviceptr)a->dst, a->data, a->data_len, st);
    if (r)
        return exec_cufail(s, index, r, "MEMCPY_H2D_STORE: cuMemcpyHtoDAsync");
    if (s->ctx->wc_remote) {
        s->ctx->wc_remote->store(s->ctx->wc_remote->ud, h, a->data, a->data_len);
        return 0;
    }
    if (!w->limit || a->data_len > w->limit) /* limit is set once, at exec_ctx_open */
        return 0;
    /* The copy is made before taking the lock; dropped again if another session won. */
    exec_wentry *ent = malloc(sizeof *ent + a->data_len);
    if (!ent) {
        GENIE_DEBUG("weight cache: no memory for %zu bytes; not kept", a->data_len);
        return 0;
    }
    memset(ent, 0, sizeof *ent);
    h = scoped(s, h); /* verified above unscoped; kept under the tenant's key */
    ent->node.key = h;
    ent->node.size = a->data_len;
    memcpy(ent->data, a->data, a->data_len);
    pthread_mutex_lock(&w->lock);
    exec_wentry *old = find(w, h, a->data_len);
    int keep = !old && make_room(w, a->data_len);
    if (old) {
        genie_lru_touch(&w->lru, &old->node);
    } else if (keep) {
        genie_lru_insert(&w->lru, &ent->node);
        w->stored++;
    }
    uint64_t bytes = w->lru.bytes;
    size_t n = w->lru.n;
    pthread_mutex_unlock(&w->lock);
    if (!keep)
        free(ent);
    GENIE_DEBUG("weight cache: %s %zu bytes from session %u (%zu entries, %llu bytes)",
                keep ? "stored" : old ? "already had" : "no room for", a->data_len, s->id, n,
                (unsigned long long)bytes);
    return 0;
}
