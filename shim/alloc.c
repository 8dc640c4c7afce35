/* alloc.c — the client's view of the device VA range: allocation with no round trip.
 *
 * Large requests (>= 1 MiB) get ranges of their own, rounded to the mapping granularity
 * and mapped remotely by a MEM_MAP record in the batch; small ones are carved from 2 MiB
 * slabs by power-of-two size class, so most cudaMalloc calls cost no record at all. The
 * live allocations sit in an array sorted by address, for exact frees and for the range
 * checks of copies (interior pointers included). Device variables of modules (cudaGetSymbolAddress)
 * live outside the range, where the driver put them: they join the array as external
 * allocations, valid for copies and never freed. */
#include "shim/shim_int.h"

#include <stdlib.h>
#include <string.h>

#define SMALL_MAX (1ull << 20)
#define MIN_CLASS 8 /* 256 bytes */
#define NCLASSES 13 /* 256 B .. 1 MiB */

typedef struct range {
    uint64_t ptr, size;
} range;

typedef struct live {
    uint64_t ptr, size; /* size as requested */
    uint64_t block;     /* bytes actually reserved (class size or mapped size) */
    int small;          /* 1: carved from a slab; EXTERNAL: a module's device variable */
} live;

#define EXTERNAL 2

typedef struct freeblk {
    uint64_t *v;
    size_t n, cap;
} freeblk;

struct shim_alloc {
    uint64_t base, size, gran;
    uint64_t slab; /* bytes of a small-class slab: a multiple of gran, >= SMALL_MAX */
    range *holes; /* free VA ranges, sorted */
    size_t nholes, capholes;
    live *lv;
    size_t nlive, caplive;
    freeblk cls[NCLASSES];
    uint64_t mapped;
    uint64_t limit; /* most bytes mapped at once (the device's memory or the session's quota); 0: none */
    size_t nexternal;
};

static int push_u64(freeblk *f, uint64_t x)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        uint64_t *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return GENIE_ENOMEM;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = x;
    return 0;
}

int shim_alloc_init(shim_alloc **out, uint64_t base, uint64_t size, uint64_t gran)
{
    shim_alloc *a = calloc(1, sizeof *a);
    if (!a)
        return GENIE_ENOMEM;
    a->base = base;
    a->size = size;
    a->gran = gran ? gran : (2u << 20);
    /* a slab must hold at least one block of the largest class (1 MiB): with a finer
     * mapping granularity a slab of one granule would hold none */
    a->slab = a->gran >= SMALL_MAX ? a->gran : (SMALL_MAX + a->gran - 1) / a->gran * a->gran;
    a->holes = malloc(16 * sizeof *a->holes);
    if (!a->holes) {
        free(a);
        return GENIE_ENOMEM;
    }
    a->capholes = 16;
    a->holes[0] = (range){base, size};
    a->nholes = 1;
    *out = a;
    return 0;
}

static uint64_t round_up(uint64_t x, uint64_t m) { return (x + m - 1) / m * m; }

/* First fit from the holes. */
static int take_va(shim_alloc *a, uint64_t size, uint64_t *ptr)
{
    for (size_t i = 0; i < a->nholes; i++) {
        if (a->holes[i].size >= size) {
            *ptr = a->holes[i].ptr;
            a->holes[i].ptr += size;
            a->holes[i].size -= size;
            if (a->holes[i].size == 0) {
                memmove(&a->holes[i], &a->holes[i + 1], (a->nholes - i - 1) * sizeof(range));
                a->nholes--;
            }
            return 0;
        }
    }
    return GENIE_ENOMEM;
}

static int give_va(shim_alloc *a, uint64_t ptr, uint64_t size)
{
    size_t i = 0;
    while (i < a->nholes && a->holes[i].ptr < ptr)
        i++;
    /* merge with the neighbours where they touch */
    int left = i > 0 && a->holes[i - 1].ptr + a->holes[i - 1].size == ptr;
    int right = i < a->nholes && ptr + size == a->holes[i].ptr;
    if (left && right) {
        a->holes[i - 1].size += size + a->holes[i].size;
        memmove(&a->holes[i], &a->holes[i + 1], (a->nholes - i - 1) * sizeof(range));
        a->nholes--;
    } else if (left) {
        a->holes[i - 1].size += size;
    } else if (right) {
        a->holes[i].ptr = ptr;
        a->holes[i].size += size;
    } else {
        if (a->nholes == a->capholes) {
            range *h = realloc(a->holes, a->capholes * 2 * sizeof *h);
            if (!h)
                return GENIE_ENOMEM;
            a->holes = h;
            a->capholes *= 2;
        }
        memmove(&a->holes[i + 1], &a->holes[i], (a->nholes - i) * sizeof(range));
        a->holes[i] = (range){ptr, size};
        a->nholes++;
    }
    return 0;
}

/* Index of the last live allocation starting at or below ptr, or -1. */
static long find_le(const shim_alloc *a, uint64_t ptr)
{
    long lo = 0, hi = (long)a->nlive - 1, best = -1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (a->lv[mid].ptr <= ptr) {
            best = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return best;
}

static int add_live(shim_alloc *a, live l)
{
    if (a->nlive == a->caplive) {
        size_t cap = a->caplive ? a->caplive * 2 : 64;
        live *v = realloc(a->lv, cap * sizeof *v);
        if (!v)
            return GENIE_ENOMEM;
        a->lv = v;
        a->caplive = cap;
    }
    size_t i = (size_t)(find_le(a, l.ptr) + 1);
    memmove(&a->lv[i + 1], &a->lv[i], (a->nlive - i) * sizeof(live));
    a->lv[i] = l;
    a->nlive++;
    return 0;
}

static int class_of(uint64_t size)
{
    int c = MIN_CLASS;
    while ((1ull << c) < size)
        c++;
    return c - MIN_CLASS;
}

int shim_alloc_get(shim_alloc *a, uint64_t size, uint64_t *ptr, uint64_t *map_ptr,
                   uint64_t *map_size)
{
    *map_ptr = *map_size = 0;
    if (size == 0)
        size = 1;
    /* more than the whole range can never fit; rejecting it here also keeps the rounding
     * below from wrapping (cudaMalloc(SIZE_MAX) would round to 0 bytes and "succeed") */
    if (size > a->size)
        return GENIE_ENOMEM;
    live l = {0, size, 0, 0};
    if (size < SMALL_MAX) {
        int c = class_of(size);
        freeblk *f = &a->cls[c];
        uint64_t bs = 1ull << (c + MIN_CLASS);
        if (f->n == 0) {
            /* a fresh slab, mapped remotely and split into blocks of this class */
            uint64_t slab;
            if (a->limit && a->mapped + a->slab > a->limit)
                return GENIE_ENOMEM;
            if (take_va(a, a->slab, &slab))
                return GENIE_ENOMEM;
            for (uint64_t off = a->slab; off >= bs; off -= bs)
                if (push_u64(f, slab + off - bs))
                    return GENIE_ENOMEM;
            *map_ptr = slab;
            *map_size = a->slab;
            a->mapped += a->slab;
        }
        l.ptr = f->v[--f->n];
        l.block = bs;
        l.small = 1;
    } else {
        uint64_t sz = round_up(size, a->gran);
        if (a->limit && (sz > a->limit || a->mapped > a->limit - sz))
            return GENIE_ENOMEM; /* as a full GPU answers: at the call, not at a later sync */
        if (take_va(a, sz, &l.ptr))
            return GENIE_ENOMEM;
        l.block = sz;
        *map_ptr = l.ptr;
        *map_size = sz;
        a->mapped += sz;
    }
    if (add_live(a, l))
        return GENIE_ENOMEM;
    *ptr = l.ptr;
    return 0;
}

int shim_alloc_put(shim_alloc *a, uint64_t ptr, uint64_t *unmap_ptr, uint64_t *unmap_size)
{
    *unmap_ptr = *unmap_size = 0;
    long i = find_le(a, ptr);
    if (i < 0 || a->lv[i].ptr != ptr || a->lv[i].small == EXTERNAL)
        return GENIE_EINVAL;
    live l = a->lv[i];
    memmove(&a->lv[i], &a->lv[i + 1], (a->nlive - (size_t)i - 1) * sizeof(live));
    a->nlive--;
    if (l.small)
        return push_u64(&a->cls[class_of(l.block)], l.ptr);
    *unmap_ptr = l.ptr;
    *unmap_size = l.block;
    a->mapped -= l.block;
    return give_va(a, l.ptr, l.block);
}

int shim_alloc_find(const shim_alloc *a, uint64_t ptr, uint64_t *start, uint64_t *size)
{
    long i = find_le(a, ptr);
    if (i < 0 || ptr >= a->lv[i].ptr + a->lv[i].size)
        return 0;
    *start = a->lv[i].ptr;
    *size = a->lv[i].size;
    return 1;
}

int shim_alloc_contains(const shim_alloc *a, uint64_t ptr, uint64_t len)
{
    uint64_t s, n;
    if (!shim_alloc_find(a, ptr, &s, &n))
        return 0;
    return len <= n - (ptr - s);
}

int shim_alloc_in_range(const shim_alloc *a, uint64_t ptr)
{
    if (ptr >= a->base && ptr - a->base < a->size)
        return 1;
    uint64_t s, n; /* outside the range only external allocations live */
    return a->nexternal && shim_alloc_find(a, ptr, &s, &n);
}

int shim_alloc_add_external(shim_alloc *a, uint64_t ptr, uint64_t size)
{
    if (!size || size > UINT64_MAX - ptr)
        return GENIE_EINVAL;
    if (ptr < a->base + a->size && a->base < ptr + size)
        return GENIE_EINVAL; /* inside the VA range: not the driver's address for a variable */
    long i = find_le(a, ptr + size - 1);
    if (i >= 0 && a->lv[i].ptr + a->lv[i].size > ptr) {
        /* the same variable again (another host shadow of it) is fine */
        return a->lv[i].ptr == ptr && a->lv[i].size == size && a->lv[i].small == EXTERNAL
                   ? 0
                   : GENIE_EINVAL;
    }
    int r = add_live(a, (live){ptr, size, size, EXTERNAL});
    if (!r)
        a->nexternal++;
    return r;
}

uint64_t shim_alloc_mapped_bytes(const shim_alloc *a) { return a->mapped; }

void shim_alloc_set_limit(shim_alloc *a, uint64_t bytes) { a->limit = bytes; }

void shim_alloc_free_all(shim_alloc *a)
{
    if (!a)
        return;
    for (int c = 0; c < NCLASSES; c++)
        free(a->cls[c].v);
    free(a->lv);
    free(a->holes);
    free(a);
}
