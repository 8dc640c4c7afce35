/* fg_handles.c — table of live handles (address -> kind): bad handles rejected, never followed. */
#include "fakegpu_int.h"

#include <stdlib.h>

/* Chained hash table; nodes are malloc'd at handle creation, which is off the hot path.
 * Launches and copies only look up. */
#define FG_NBUCKETS 4096

typedef struct fg_hnode {
    const void *h;
    enum fg_kind k;
    struct fg_hnode *next;
} fg_hnode;

static fg_hnode *fg_buckets[FG_NBUCKETS];

static size_t fg_hash(const void *h)
{
    uint64_t x = (uint64_t)(uintptr_t)h;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)(x % FG_NBUCKETS);
}

int fg_handle_add(const void *h, enum fg_kind k)
{
    fg_hnode *n = malloc(sizeof *n);
    if (!n)
        return -1;
    size_t b = fg_hash(h);
    n->h = h;
    n->k = k;
    n->next = fg_buckets[b];
    fg_buckets[b] = n;
    return 0;
}

void fg_handle_del(const void *h)
{
    for (fg_hnode **pp = &fg_buckets[fg_hash(h)]; *pp; pp = &(*pp)->next) {
        if ((*pp)->h == h) {
            fg_hnode *n = *pp;
            *pp = n->next;
            free(n);
            return;
        }
    }
}

int fg_handle_take(const void *h, enum fg_kind k)
{
    if (!h)
        return 0;
    for (fg_hnode **pp = &fg_buckets[fg_hash(h)]; *pp; pp = &(*pp)->next) {
        if ((*pp)->h == h) {
            fg_hnode *n = *pp;
            if (n->k != k)
                return 0;
            *pp = n->next;
            free(n);
            return 1;
        }
    }
    return 0;
}

int fg_handle_is(const void *h, enum fg_kind k)
{
    if (!h)
        return 0;
    for (fg_hnode *n = fg_buckets[fg_hash(h)]; n; n = n->next)
        if (n->h == h)
            return n->k == k;
    return 0;
}
