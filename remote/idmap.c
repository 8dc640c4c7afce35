/* idmap.c — a small u32 -> pointer hash map for a session's client IDs (streams, events, modules,
 * functions). */
#include "remote/exec_int.h"

#include <stdlib.h>

static uint32_t idmap_slot(uint32_t key, uint32_t cap)
{
    return (key * 0x9E3779B1u) & (cap - 1);
}

void *exec_idmap_get(const exec_idmap *m, uint32_t key)
{
    if (!m->cap)
        return NULL;
    for (uint32_t i = idmap_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (!m->vals[i])
            return NULL;
        if (m->keys[i] == key)
            return m->vals[i];
    }
}

static void idmap_insert(exec_idmap *m, uint32_t key, void *val)
{
    uint32_t i = idmap_slot(key, m->cap);
    while (m->vals[i])
        i = (i + 1) & (m->cap - 1);
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
}

int exec_idmap_put(exec_idmap *m, uint32_t key, void *val)
{
    if ((m->n + 1) * 4 > m->cap * 3) { /* keep the load under 3/4 */
        uint32_t cap = m->cap ? m->cap * 2 : 16;
        if (cap < m->cap)
            return GENIE_ENOMEM;
        exec_idmap g = {calloc(cap, sizeof *g.keys), calloc(cap, sizeof *g.vals), cap, 0};
        if (!g.keys || !g.vals) {
            free(g.keys);
            free(g.vals);
            return GENIE_ENOMEM;
        }
        for (uint32_t i = 0; i < m->cap; i++)
            if (m->vals[i])
                idmap_insert(&g, m->keys[i], m->vals[i]);
        exec_idmap_free(m);
        *m = g;
    }
    idmap_insert(m, key, val);
    return 0;
}

void *exec_idmap_del(exec_idmap *m, uint32_t key)
{
    if (!m->cap)
        return NULL;
    uint32_t mask = m->cap - 1, i = idmap_slot(key, m->cap);
    while (m->vals[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    void *old = m->vals[i];
    if (!old)
        return NULL;
    /* Backward-shift deletion: pull later members of the probe run into the hole, so no
     * tombstones accumulate as events are created and destroyed by the thousand. */
    for (uint32_t j = (i + 1) & mask; m->vals[j]; j = (j + 1) & mask) {
        uint32_t home = idmap_slot(m->keys[j], m->cap);
        /* j may move to the hole i unless its home lies cyclically in (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->vals[i] = NULL;
    m->n--;
    return old;
}

void exec_idmap_free(exec_idmap *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->n = 0;
}
