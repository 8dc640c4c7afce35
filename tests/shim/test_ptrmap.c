/* test_ptrmap.c — shim/ptrmap.c: the open-addressing map from pointers to values, its growth and deletions. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "shim/shim_int.h"

#define KEY(i) ((const void *)(uintptr_t)(0x1000 + 16 * (i)))
#define VAL(i) ((void *)(uintptr_t)(0x7000000 + (i)))

Test(ptrmap, put_get_replace_delete)
{
    shim_ptrmap m = {0};
    cr_assert_null(shim_ptrmap_get(&m, KEY(1)), "an empty map has nothing");
    cr_assert_eq(shim_ptrmap_put(&m, KEY(1), VAL(1)), 0);
    cr_assert_eq(shim_ptrmap_get(&m, KEY(1)), VAL(1));
    cr_assert_eq(shim_ptrmap_put(&m, KEY(1), VAL(2)), 0);
    cr_assert_eq(shim_ptrmap_get(&m, KEY(1)), VAL(2), "put replaces");
    cr_assert_eq(m.n, 1);
    shim_ptrmap_del(&m, KEY(1));
    cr_assert_null(shim_ptrmap_get(&m, KEY(1)));
    cr_assert_eq(m.n, 0);
    shim_ptrmap_del(&m, KEY(1)); /* deleting an absent key is harmless */
    free(m.keys);
    free(m.vals);
}

/* Many keys through growth, then every other one deleted: the rest stay findable (a deletion
 * must not cut a probe chain), the deleted ones are gone, and re-insertion works. */
Test(ptrmap, growth_and_deletions_keep_probe_chains)
{
    shim_ptrmap m = {0};
    enum { N = 5000 };
    for (int i = 0; i < N; i++)
        cr_assert_eq(shim_ptrmap_put(&m, KEY(i), VAL(i)), 0);
    cr_assert_eq(m.n, N);
    cr_assert_geq(m.cap, (size_t)N);
    for (int i = 0; i < N; i += 2)
        shim_ptrmap_del(&m, KEY(i));
    for (int i = 0; i < N; i++)
        cr_assert_eq(shim_ptrmap_get(&m, KEY(i)), i % 2 ? VAL(i) : NULL, "key %d", i);
    for (int i = 0; i < N; i += 2)
        cr_assert_eq(shim_ptrmap_put(&m, KEY(i), VAL(i + N)), 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(shim_ptrmap_get(&m, KEY(i)), i % 2 ? VAL(i) : VAL(i + N), "key %d", i);
    cr_assert_eq(m.n, N);
    free(m.keys);
    free(m.vals);
}

/* Keys that collide in the low bits (page-aligned handles, as malloc hands out) still work. */
Test(ptrmap, aligned_keys)
{
    shim_ptrmap m = {0};
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(shim_ptrmap_put(&m, (const void *)(uintptr_t)(0x10000000 + 4096 * i), VAL(i)), 0);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(shim_ptrmap_get(&m, (const void *)(uintptr_t)(0x10000000 + 4096 * i)), VAL(i));
    free(m.keys);
    free(m.vals);
}
