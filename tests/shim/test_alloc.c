/* test_alloc.c — tests shim/alloc.c: the client's device VA allocator and external ranges. */
#include <criterion/criterion.h>

#include "shim/shim_int.h"

#define MiB (1ull << 20)
#define BASE 0x7f0000000000ull
#define SIZE (256 * MiB)
#define GRAN (2 * MiB)

static shim_alloc *a;

static void setup(void) { cr_assert_eq(shim_alloc_init(&a, BASE, SIZE, GRAN), 0); }
static void teardown(void) { shim_alloc_free_all(a); }

TestSuite(alloc, .init = setup, .fini = teardown);

Test(alloc, small_blocks_share_one_mapped_slab)
{
    uint64_t p, q, mp, ms;
    cr_assert_eq(shim_alloc_get(a, 100, &p, &mp, &ms), 0);
    cr_assert_gt(ms, 0, "the first small block maps a slab");
    cr_assert(p >= mp && p + 100 <= mp + ms);
    cr_assert_eq(shim_alloc_get(a, 100, &q, &mp, &ms), 0);
    cr_assert_eq(ms, 0, "the second block of the class comes from the same slab");
    cr_assert_neq(p, q);
    cr_assert(shim_alloc_contains(a, p, 100));
    cr_assert(shim_alloc_contains(a, p + 50, 50), "interior pointers count");
    cr_assert_not(shim_alloc_contains(a, p, 101), "past the requested size");
    uint64_t up, us;
    cr_assert_eq(shim_alloc_put(a, p, &up, &us), 0);
    cr_assert_eq(us, 0, "a small block is never unmapped");
    cr_assert_not(shim_alloc_contains(a, p, 1));
    cr_assert_eq(shim_alloc_put(a, p, &up, &us), GENIE_EINVAL, "double free");
}

Test(alloc, large_blocks_are_mapped_and_unmapped_whole)
{
    uint64_t p, mp, ms, up, us;
    cr_assert_eq(shim_alloc_get(a, 3 * MiB, &p, &mp, &ms), 0);
    cr_assert_eq(mp, p);
    cr_assert_eq(ms, 4 * MiB, "rounded to the granularity");
    cr_assert_eq(shim_alloc_mapped_bytes(a), 4 * MiB);
    cr_assert_eq(shim_alloc_put(a, p + 8, &up, &us), GENIE_EINVAL, "not the start");
    cr_assert_eq(shim_alloc_put(a, p, &up, &us), 0);
    cr_assert_eq(up, p);
    cr_assert_eq(us, 4 * MiB);
    cr_assert_eq(shim_alloc_mapped_bytes(a), 0);
    cr_assert_eq(shim_alloc_get(a, SIZE + 1, &p, &mp, &ms), GENIE_ENOMEM);
    cr_assert_eq(shim_alloc_get(a, UINT64_MAX, &p, &mp, &ms), GENIE_ENOMEM);
}

Test(alloc, external_ranges_are_device_memory_but_never_freed)
{
    uint64_t g = 0x600000001000ull; /* where a driver might put a module's variable */
    cr_assert_not(shim_alloc_in_range(a, g));
    cr_assert_eq(shim_alloc_add_external(a, g, 1024), 0);
    cr_assert(shim_alloc_in_range(a, g + 1023));
    cr_assert_not(shim_alloc_in_range(a, g + 1024));
    cr_assert(shim_alloc_contains(a, g + 512, 512));
    cr_assert_not(shim_alloc_contains(a, g + 512, 513));
    uint64_t s, n;
    cr_assert(shim_alloc_find(a, g + 10, &s, &n));
    cr_assert(s == g && n == 1024);
    cr_assert_eq(shim_alloc_add_external(a, g, 1024), 0, "the same variable again");
    cr_assert_eq(shim_alloc_add_external(a, g + 8, 16), GENIE_EINVAL, "overlaps it");
    cr_assert_eq(shim_alloc_add_external(a, g - 8, 16), GENIE_EINVAL, "overlaps its start");
    cr_assert_eq(shim_alloc_add_external(a, BASE + MiB, 16), GENIE_EINVAL, "inside the range");
    cr_assert_eq(shim_alloc_add_external(a, UINT64_MAX - 4, 16), GENIE_EINVAL, "wraps");
    cr_assert_eq(shim_alloc_add_external(a, g + 4096, 0), GENIE_EINVAL, "empty");
    uint64_t up, us;
    cr_assert_eq(shim_alloc_put(a, g, &up, &us), GENIE_EINVAL, "cudaFree of a variable");
    cr_assert(shim_alloc_contains(a, g, 1024), "still there after the refused free");
    /* ordinary allocations still work around it */
    uint64_t p, mp, ms;
    cr_assert_eq(shim_alloc_get(a, 64, &p, &mp, &ms), 0);
    cr_assert(shim_alloc_contains(a, p, 64));
    cr_assert_eq(shim_alloc_put(a, p, &up, &us), 0);
}

Test(alloc, the_limit_fails_allocations_at_the_call)
{
    /* HELLO reports a session's memory quota as the device's total; the allocator refuses
     * what would map past it, with nothing left mapped or handed out. */
    shim_alloc_set_limit(a, 8 * MiB);
    uint64_t p, q, mp, ms, up, us;
    cr_assert_eq(shim_alloc_get(a, 6 * MiB, &p, &mp, &ms), 0);
    cr_assert_eq(shim_alloc_get(a, 4 * MiB, &q, &mp, &ms), GENIE_ENOMEM, "10 MiB > 8 MiB");
    cr_assert_eq(shim_alloc_mapped_bytes(a), 6 * MiB);
    cr_assert_eq(shim_alloc_get(a, 100, &q, &mp, &ms), 0, "a slab (2 MiB) still fits");
    cr_assert_eq(shim_alloc_get(a, 300000, &q, &mp, &ms), GENIE_ENOMEM,
                 "a second slab does not");
    cr_assert_eq(shim_alloc_put(a, p, &up, &us), 0);
    cr_assert_eq(shim_alloc_get(a, 4 * MiB, &q, &mp, &ms), 0, "freed memory counts again");
}
