/* test_lru.c — tests common/lru.c: the LRU order, the hash index (collisions, sizes), counts. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/genie.h"

typedef struct ent {
    genie_lru_node node; /* first, as the caches embed it */
    int id;
} ent;

static genie_lru l;

static ent *mk(ent *e, int id, uint64_t lo, uint64_t hi, uint64_t size)
{
    memset(e, 0, sizeof *e);
    e->id = id;
    e->node.key = (genie_hash128){lo, hi};
    e->node.size = size;
    return e;
}

/* ids from the most to the least recently used, and the same backwards, as a string */
static const char *order(void)
{
    static char s[64], b[64];
    size_t n = 0, m = 0;
    for (genie_lru_node *e = l.head; e && n < 60; e = e->next)
        s[n++] = (char)('0' + ((ent *)e)->id);
    s[n] = 0;
    for (genie_lru_node *e = l.tail; e && m < 60; e = e->prev)
        b[m++] = (char)('0' + ((ent *)e)->id);
    b[m] = 0;
    for (size_t i = 0; i < m; i++)
        cr_assert_eq(b[i], s[m - 1 - i], "the list's prev links disagree: %s vs %s", s, b);
    cr_assert_eq(n, m);
    return s;
}

Test(lru, order_follows_use_and_removal)
{
    ent e[4];
    genie_lru_init(&l);
    for (int i = 0; i < 4; i++)
        genie_lru_insert(&l, &mk(&e[i], i, 100 + (uint64_t)i, 7, 10)->node);
    cr_assert_str_eq(order(), "3210");
    cr_assert_eq(l.n, 4);
    cr_assert_eq(l.bytes, 40);
    genie_lru_touch(&l, &e[0].node); /* the tail to the head */
    cr_assert_str_eq(order(), "0321");
    genie_lru_touch(&l, &e[2].node); /* a middle one */
    cr_assert_str_eq(order(), "2031");
    genie_lru_touch(&l, &e[2].node); /* the head stays */
    cr_assert_str_eq(order(), "2031");
    cr_assert_eq((ent *)l.tail, &e[1], "the least recently used is the one to evict");
    genie_lru_remove(&l, l.tail);
    cr_assert_str_eq(order(), "203");
    genie_lru_remove(&l, &e[2].node); /* the head */
    cr_assert_str_eq(order(), "03");
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.bytes, 20);
    cr_assert_null(genie_lru_find(&l, (genie_hash128){101, 7}, 10), "a removed entry is found");
    cr_assert_null(genie_lru_find(&l, (genie_hash128){102, 7}, 10), "a removed entry is found");
    cr_assert_eq((ent *)genie_lru_find(&l, (genie_hash128){103, 7}, 10), &e[3]);
    genie_lru_remove(&l, &e[0].node);
    genie_lru_remove(&l, &e[3].node);
    cr_assert_str_eq(order(), "");
    cr_assert_null(l.head);
    cr_assert_null(l.tail);
    cr_assert_eq(l.bytes, 0);
}

Test(lru, index_tells_keys_and_sizes_apart)
{
    ent e[5];
    genie_lru_init(&l);
    /* 0, 1, 2 share a bucket (lo differs by the bucket count); 3 has 0's lo, another hi; 4 has
     * 0's key, another size */
    genie_lru_insert(&l, &mk(&e[0], 0, 5, 1, 64)->node);
    genie_lru_insert(&l, &mk(&e[1], 1, 5 + GENIE_LRU_BUCKETS, 1, 64)->node);
    genie_lru_insert(&l, &mk(&e[2], 2, 5 + 2 * GENIE_LRU_BUCKETS, 1, 64)->node);
    genie_lru_insert(&l, &mk(&e[3], 3, 5, 2, 64)->node);
    genie_lru_insert(&l, &mk(&e[4], 4, 5, 1, 65)->node);
    for (int i = 0; i < 5; i++)
        cr_assert_eq((ent *)genie_lru_find(&l, e[i].node.key, e[i].node.size), &e[i], "entry %d",
                     i);
    cr_assert_null(genie_lru_find(&l, (genie_hash128){5, 1}, 66));
    cr_assert_null(genie_lru_find(&l, (genie_hash128){6, 1}, 64));
    /* out of the middle of a chain: the others stay reachable */
    genie_lru_remove(&l, &e[1].node);
    cr_assert_null(genie_lru_find(&l, e[1].node.key, 64));
    for (int i = 0; i < 5; i++)
        if (i != 1)
            cr_assert_eq((ent *)genie_lru_find(&l, e[i].node.key, e[i].node.size), &e[i]);
    cr_assert_eq(l.n, 4);
    cr_assert_eq(l.bytes, 64 * 3 + 65);
    cr_assert_str_eq(order(), "4320");
}
