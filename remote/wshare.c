/* wshare.c — the weight cache of a genie-remote whose sessions run in worker processes: held
 * by the front, each entry a sealed memfd that a worker maps to copy from (remote/worker.h).
 *
 * The executor's cache (remote/wcache.c) lives in one process; with a worker per session it
 * would die with each session, and a second run of a model would upload everything again. So
 * a worker asks the front (WC_GET) and offers what it verified (WC_PUT), and the front keeps
 * the bytes where every worker can map them without a copy through the socket. Keys are the
 * content hash mixed with the tenant and a per-process secret, as in wcache.c, so a tenant
 * hits only what its own sessions uploaded (--weight-cache-scope global: everyone's). The
 * front trusts no worker: it seals the memfd (no process can change it afterwards) and
 * checks the bytes against the hash before keeping them. */
#define _GNU_SOURCE /* F_ADD_SEALS */
#include "remote/worker.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/genie.h"

typedef struct ws_entry {
    genie_lru_node node; /* first: key (scoped), size, order */
    int fd;              /* sealed memfd */
} ws_entry;

struct rmt_wshare {
    pthread_mutex_t lock;
    uint64_t limit;
    int global;
    uint64_t salt[2];
    genie_lru lru; /* the entries by key, in LRU order; lru.bytes: their sizes */
    uint64_t hits, misses, stored, evicted, bytes_served;
};

rmt_wshare *rmt_wshare_new(uint64_t limit, int global)
{
    rmt_wshare *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_mutex_init(&w->lock, NULL);
    genie_lru_init(&w->lru);
    w->limit = limit;
    w->global = global;
    if (getrandom(w->salt, sizeof w->salt, 0) != (ssize_t)sizeof w->salt) {
        w->salt[0] = genie_now_ns() * 0x9e3779b97f4a7c15ull;
        w->salt[1] = (uint64_t)(uintptr_t)w * 0xc2b2ae3d27d4eb4full;
    }
    return w;
}

void rmt_wshare_free(rmt_wshare *w)
{
    if (!w)
        return;
    for (genie_lru_node *e = w->lru.head, *next; e; e = next) {
        next = e->next;
        close(((ws_entry *)e)->fd);
        free(e);
    }
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static genie_hash128 key_of(const rmt_wshare *w, unsigned tenant, uint64_t lo, uint64_t hi)
{
    genie_hash128 h = {lo, hi};
    if (w->global)
        return h;
    uint64_t t = (uint64_t)tenant + 1;
    h.lo ^= w->salt[0] * t;
    h.hi ^= w->salt[1] + t * 0x9e3779b97f4a7c15ull;
    return h;
}

/* Lock held. */
static ws_entry *find(rmt_wshare *w, genie_hash128 k, uint64_t size)
{
    return (ws_entry *)genie_lru_find(&w->lru, k, size);
}

int rmt_wshare_get(rmt_wshare *w, unsigned tenant, uint64_t lo, uint64_t hi, uint64_t size,
                   int *fd)
{
    *fd = -1;
    if (!w || !w->limit)
        return 2;
    genie_hash128 k = key_of(w, tenant, lo, hi);
    pthread_mutex_lock(&w->lock);
    ws_entry *e = find(w, k, size);
    if (e) {
        genie_lru_touch(&w->lru, &e->node);
        w->hits++;
        w->bytes_served += size;
        /* A descriptor of its own: an eviction on another thread may close the entry's
         * before this one has been sent. */
        *fd = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
    } else {
        w->misses++;
    }
    pthread_mutex_unlock(&w->lock);
    return e && *fd >= 0 ? 1 : 0;
}

/* The bytes behind fd are size bytes matching (lo, hi), and nobody can change them now. */
static int sealed_and_true(int fd, uint64_t lo, uint64_t hi, uint64_t size)
{
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
        return 0; /* not a memfd, or someone still has it mapped writable */
    struct stat st;
    if (fstat(fd, &st) || (uint64_t)st.st_size != size || !size)
        return 0;
    void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return 0;
    genie_hash128 h = genie_hash_content(p, (size_t)size);
    munmap(p, (size_t)size);
    return h.lo == lo && h.hi == hi;
}

void rmt_wshare_put(rmt_wshare *w, unsigned tenant, uint64_t lo, uint64_t hi, uint64_t size,
                    int fd)
{
    if (!w || !w->limit || size > w->limit || !sealed_and_true(fd, lo, hi, size)) {
        if (w && w->limit && size <= w->limit)
            GENIE_WARN("weight cache: a worker offered %llu bytes that do not match their hash: "
                       "not kept", (unsigned long long)size);
        close(fd);
        return;
    }
    ws_entry *ne = calloc(1, sizeof *ne);
    if (!ne) {
        close(fd);
        return;
    }
    ne->node.key = key_of(w, tenant, lo, hi);
    ne->node.size = size;
    ne->fd = fd;
    pthread_mutex_lock(&w->lock);
    if (find(w, ne->node.key, size)) { /* another session stored it first */
        pthread_mutex_unlock(&w->lock);
        close(fd);
        free(ne);
        return;
    }
    while (w->lru.tail && w->lru.bytes + size > w->limit) {
        ws_entry *old = (ws_entry *)w->lru.tail;
        genie_lru_remove(&w->lru, &old->node);
        w->evicted++;
        close(old->fd); /* a worker that mapped it keeps its pages until it unmaps */
        free(old);
    }
    genie_lru_insert(&w->lru, &ne->node);
    w->stored++;
    pthread_mutex_unlock(&w->lock);
}

void rmt_wshare_log(rmt_wshare *w)
{
    if (!w)
        return;
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
