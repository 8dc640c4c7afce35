/* ptrmap.c — the shim's pointer-keyed hash map (live handles, registered host functions). */
#include "shim/shim_int.h"

#include <stdlib.h>

/* Open addressing on the pointer, backward-shift deletion (no tombstones). */
static size_t ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static long find(const shim_ptrmap *m, const void *key)
{
    if (!m->cap || !key)
        return -1;
    size_t mask = m->cap - 1;
    for (size_t j = ptr_hash(key) & mask; m->keys[j]; j = (j + 1) & mask)
        if (m->keys[j] == key)
            return (long)j;
    return -1;
}

void *shim_ptrmap_get(const shim_ptrmap *m, const void *key)
{
    long j = find(m, key);
    return j >= 0 ? m->vals[j] : NULL;
}

static void place(const void **keys, void **vals, size_t cap, const void *key, void *val)
{
    size_t j = ptr_hash(key) & (cap - 1);
    while (keys[j] && keys[j] != key)
        j = (j + 1) & (cap - 1);
    keys[j] = key;
    vals[j] = val;
}

int shim_ptrmap_put(shim_ptrmap *m, const void *key, void *val)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        const void **keys = calloc(cap, sizeof *keys);
        void **vals = calloc(cap, sizeof *vals);
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return GENIE_ENOMEM;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i])
                place(keys, vals, cap, m->keys[i], m->vals[i]);
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    if (find(m, key) < 0)
        m->n++;
    place(m->keys, m->vals, m->cap, key, val);
    return 0;
}

void shim_ptrmap_del(shim_ptrmap *m, const void *key)
{
    long f = find(m, key);
    if (f < 0)
        return;
    size_t mask = m->cap - 1, i = (size_t)f;
    for (size_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        size_t home = ptr_hash(m->keys[j]) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = NULL;
    m->vals[i] = NULL;
    m->n--;
}
