/* lru.c — an intrusive LRU list with a hash index over (content key, size), for the caches. */
#include "common/genie.h"

#include <string.h>

void genie_lru_init(genie_lru *l) { memset(l, 0, sizeof *l); }

static genie_lru_node **bucket(genie_lru *l, genie_hash128 k)
{
    return &l->buckets[k.lo % GENIE_LRU_BUCKETS];
}

genie_lru_node *genie_lru_find(const genie_lru *l, genie_hash128 k, uint64_t size)
{
    for (genie_lru_node *e = l->buckets[k.lo % GENIE_LRU_BUCKETS]; e; e = e->hnext)
        if (e->key.lo == k.lo && e->key.hi == k.hi && e->size == size)
            return e;
    return NULL;
}

static void unlink_order(genie_lru *l, genie_lru_node *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_order(genie_lru *l, genie_lru_node *e)
{
    e->prev = NULL;
    e->next = l->head;
    if (l->head)
        l->head->prev = e;
    l->head = e;
    if (!l->tail)
        l->tail = e;
}

void genie_lru_insert(genie_lru *l, genie_lru_node *e)
{
    genie_lru_node **b = bucket(l, e->key);
    e->hnext = *b;
    *b = e;
    push_order(l, e);
    l->n++;
    l->bytes += e->size;
}

void genie_lru_touch(genie_lru *l, genie_lru_node *e)
{
    if (l->head == e)
        return;
    unlink_order(l, e);
    push_order(l, e);
}

void genie_lru_remove(genie_lru *l, genie_lru_node *e)
{
    genie_lru_node **pp = bucket(l, e->key);
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    e->hnext = NULL;
    unlink_order(l, e);
    l->n--;
    l->bytes -= e->size;
}
