/* test_wshare.c — the front's weight cache (remote/wshare.c): scoped by tenant, sealed, and
 * checked against the hash before anything is kept. */
#define _GNU_SOURCE /* memfd_create */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/genie.h"
#include "remote/worker.h"

static int memfd_of(const void *p, size_t n)
{
    int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, p, n), (ssize_t)n);
    return fd;
}

static uint8_t data[1 << 16];

static void read_back(int fd, const void *want, size_t n)
{
    void *p = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert_neq(p, MAP_FAILED);
    cr_assert(memcmp(p, want, n) == 0, "the cached bytes differ");
    munmap(p, n);
}

Test(wshare, kept_when_true_scoped_by_tenant)
{
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 31 + 7);
    genie_hash128 h = genie_hash_content(data, sizeof data);
    rmt_wshare *w = rmt_wshare_new(1 << 20, 0);
    int fd;
    cr_assert_eq(rmt_wshare_get(w, 0, h.lo, h.hi, sizeof data, &fd), 0, "a hit before a put");
    rmt_wshare_put(w, 0, h.lo, h.hi, sizeof data, memfd_of(data, sizeof data));
    cr_assert_eq(rmt_wshare_get(w, 0, h.lo, h.hi, sizeof data, &fd), 1);
    read_back(fd, data, sizeof data);
    /* sealed: the descriptor a worker gets cannot change the bytes for the next one */
    cr_assert_lt(write(fd, "x", 1), 0, "a cached entry is writable");
    close(fd);
    cr_assert_eq(rmt_wshare_get(w, 1, h.lo, h.hi, sizeof data, &fd), 0,
                 "tenant 1 hit tenant 0's entry");
    cr_assert_eq(rmt_wshare_get(w, 0, h.lo, h.hi, sizeof data - 1, &fd), 0, "another size hit");
    rmt_wshare_free(w);
    /* global scope: every tenant hits */
    w = rmt_wshare_new(1 << 20, 1);
    rmt_wshare_put(w, 0, h.lo, h.hi, sizeof data, memfd_of(data, sizeof data));
    cr_assert_eq(rmt_wshare_get(w, 1, h.lo, h.hi, sizeof data, &fd), 1);
    close(fd);
    rmt_wshare_free(w);
}

Test(wshare, refuses_false_or_still_writable_bytes)
{
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13 + 1);
    genie_hash128 h = genie_hash_content(data, sizeof data);
    rmt_wshare *w = rmt_wshare_new(1 << 20, 0);
    int fd;
    /* bytes that do not match their hash (a worker planting them for others) */
    data[100] ^= 1;
    rmt_wshare_put(w, 0, h.lo, h.hi, sizeof data, memfd_of(data, sizeof data));
    cr_assert_eq(rmt_wshare_get(w, 0, h.lo, h.hi, sizeof data, &fd), 0, "wrong bytes kept");
    data[100] ^= 1;
    /* true bytes, but the offering worker still has them mapped writable: could change them */
    int mfd = memfd_of(data, sizeof data);
    void *wmap = mmap(NULL, sizeof data, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    cr_assert_neq(wmap, MAP_FAILED);
    rmt_wshare_put(w, 0, h.lo, h.hi, sizeof data, mfd);
    cr_assert_eq(rmt_wshare_get(w, 0, h.lo, h.hi, sizeof data, &fd), 0,
                 "an entry another process can still write was kept");
    munmap(wmap, sizeof data);
    /* the LRU bound: a second entry past the limit evicts the first */
    rmt_wshare_free(w);
    w = rmt_wshare_new(sizeof data, 0);
    rmt_wshare_put(w, 0, h.lo, h.hi, sizeof data, memfd_of(data, sizeof data));
    uint8_t other[sizeof data];
    memset(other, 9, sizeof other);
    genie_hash128 h2 = genie_hash_content(other, sizeof other);
    rmt_wshare_put(w, 0, h2.lo, h2.hi, sizeof other, memfd_of(other, sizeof other));
    cr_assert_eq(rmt_wshare_get(w, 0, h.lo, h.hi, sizeof data, &fd), 0, "not evicted");
    cr_assert_eq(rmt_wshare_get(w, 0, h2.lo, h2.hi, sizeof other, &fd), 1);
    read_back(fd, other, sizeof other);
    close(fd);
    rmt_wshare_free(w);
}

/* Bounded: a put past the limit evicts the least recently used entries, and a hit makes an
 * entry recently used (common/lru.c keeps the order and the index). */
Test(wshare, evicts_the_least_recently_used)
{
    enum { K = 4096 };
    static uint8_t b[4][K];
    genie_hash128 h[4];
    for (int i = 0; i < 4; i++) {
        memset(b[i], 'a' + i, K);
        h[i] = genie_hash_content(b[i], K);
    }
    rmt_wshare *w = rmt_wshare_new(3 * K, 0);
    int fd;
    for (int i = 0; i < 3; i++)
        rmt_wshare_put(w, 0, h[i].lo, h[i].hi, K, memfd_of(b[i], K));
    cr_assert_eq(rmt_wshare_get(w, 0, h[0].lo, h[0].hi, K, &fd), 1); /* 0 used: 1 is oldest */
    close(fd);
    rmt_wshare_put(w, 0, h[3].lo, h[3].hi, K, memfd_of(b[3], K));
    cr_assert_eq(rmt_wshare_get(w, 0, h[1].lo, h[1].hi, K, &fd), 0, "the oldest was kept");
    int want[4] = {1, 0, 1, 1};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(rmt_wshare_get(w, 0, h[i].lo, h[i].hi, K, &fd), want[i], "entry %d", i);
        if (want[i]) {
            read_back(fd, b[i], K);
            close(fd);
        }
    }
    rmt_wshare_free(w);
}
