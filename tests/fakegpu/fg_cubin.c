/* fg_cubin.c — kernels' parameter layouts read from a module image's cubin (.nv.info attributes).
 *
 * On a GPU, cuFuncGetParamInfo answers from the cubin's `.nv.info.<kernel>` section: one
 * EIATTR_KPARAM_INFO attribute per parameter (its ordinal, offset and size). The fake GPU reads
 * the same attributes, so a kernel without a CPU twin (PyTorch's, run as a timed no-op) reports
 * its real layout and its launches carry their real argument bytes through the whole system.
 *
 * Image layout (fatbin as nvcc 13 writes it; checked against nvcc 13.0 and torch 2.11's
 * libtorch_cuda.so):
 *   wrapper  {u32 magic 0x466243b1, u32 version, const void *fatbin, void *unused}
 *   fatbin   {u32 magic 0xba55ed50, u16 version, u16 header size, u64 bytes of entries}
 *   entry    {u16 kind (1 PTX, 2 ELF), u16 version, u32 header size, u64 payload size,
 *             u32 compressed size, u32, u16 minor, u16 major, u32 sm, u32, u32, u64 flags,
 *             u64, u64 uncompressed size, ...}; flags 0x8000: zstd (nvcc 13's default for
 *             large cubins and PyTorch's), 0x2000: LZ4 (older CUDA), not read here.
 *   .nv.info attribute {u8 format, u8 attribute, value}: formats 1 (none), 2 (a byte) and
 *             3 (a u16) take 2 bytes of value (4-byte records; seen with format 2 in torch's
 *             cubins), format 4 a u16 length then that many bytes. EIATTR_KPARAM_INFO (0x17),
 *             format 4, 12 bytes: u32 index, u16 ordinal, u16 offset, u32 bits (size in
 *             bytes = bits >> 18).
 *
 * Every read is bounded by the sizes the headers declare; an image whose cubin cannot be read
 * loads as before, with no layouts (twins still give theirs). zstd is dlopen'ed
 * (libzstd.so.1), so the build needs no zstd headers. */
#include "fakegpu_int.h"

#include <dlfcn.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FG_FATBIN_MAGIC 0xba55ed50u
#define FG_FATBIN_WRAPPER 0x466243b1u
#define FG_ENTRY_ELF 2
#define FG_FLAG_LZ4 0x2000u
#define FG_FLAG_ZSTD 0x8000u
#define FG_EIATTR_KPARAM_INFO 0x17
#define FG_MAX_IMAGE ((uint64_t)1 << 31) /* no plausible cubin or fatbin is larger */
#define FG_MAX_LAYOUT_PARAMS 4096        /* 32 KiB of parameters at most, >= 1 byte each */

/* GENIE_FAKE_PARAM_LAYOUT=off: tests only, read no layouts (what the fake did before). */
static int fg_layouts_off(void)
{
    const char *v = getenv("GENIE_FAKE_PARAM_LAYOUT");
    return v && !strcmp(v, "off");
}

static void fg_warn_once(int *said, const char *msg)
{
    if (!__atomic_exchange_n(said, 1, __ATOMIC_RELAXED))
        fprintf(stderr, "fakegpu: %s\n", msg);
}

/* ---- zstd, dlopen'ed ---- */
typedef size_t (*fg_zstd_decompress_fn)(void *, size_t, const void *, size_t);
typedef unsigned (*fg_zstd_iserror_fn)(size_t);
static fg_zstd_decompress_fn fg_zstd_decompress;
static fg_zstd_iserror_fn fg_zstd_iserror;
static pthread_once_t fg_zstd_once = PTHREAD_ONCE_INIT;

static void fg_zstd_load(void)
{
    void *h = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
    fg_zstd_iserror = (fg_zstd_iserror_fn)dlsym(h, "ZSTD_isError");
    fg_zstd_decompress = (fg_zstd_decompress_fn)dlsym(h, "ZSTD_decompress");
    if (!fg_zstd_iserror)
        fg_zstd_decompress = NULL;
}

/* The ELF payload of one entry: borrowed (*owned NULL) or decompressed (*owned, caller frees). */
static const uint8_t *fg_entry_elf(const uint8_t *pay, uint64_t len, uint64_t flags, uint32_t csize,
                                   uint64_t dsize, uint64_t *elf_len, uint8_t **owned)
{
    static int said_lz4, said_zstd;
    *owned = NULL;
    if (!(flags & (FG_FLAG_LZ4 | FG_FLAG_ZSTD))) {
        *elf_len = len;
        return pay;
    }
    if (flags & FG_FLAG_LZ4) {
        fg_warn_once(&said_lz4, "an LZ4-compressed cubin (older CUDA): its kernels' parameter "
                                "layouts are not read");
        return NULL;
    }
    pthread_once(&fg_zstd_once, fg_zstd_load);
    if (!fg_zstd_decompress) {
        fg_warn_once(&said_zstd, "libzstd.so.1 not found: the parameter layouts of compressed "
                                 "cubins are not read");
        return NULL;
    }
    if (csize == 0 || csize > len || dsize == 0 || dsize > FG_MAX_IMAGE)
        return NULL;
    uint8_t *out = malloc(dsize);
    if (!out)
        return NULL;
    size_t n = fg_zstd_decompress(out, dsize, pay, csize);
    if (fg_zstd_iserror(n) || n == 0) {
        free(out);
        return NULL;
    }
    *elf_len = n;
    *owned = out;
    return out;
}

/* ---- .nv.info ---- */

static fg_layout *fg_layout_new(const char *name, size_t name_len, unsigned n)
{
    fg_layout *l = calloc(1, sizeof *l + 2 * (size_t)n * sizeof(uint32_t) + name_len + 1);
    if (!l)
        return NULL;
    l->n = n;
    l->off = (uint32_t *)(l + 1);
    l->size = l->off + n;
    l->name = (char *)(l->size + n);
    memcpy(l->name, name, name_len);
    return l;
}

/* One kernel's attributes: its layout, or NULL when they give none or one that does not hold
 * together (ordinals not 0..n-1 each once). */
static fg_layout *fg_nvinfo_kernel(const char *name, size_t name_len, const uint8_t *p,
                                   uint64_t len)
{
    unsigned n = 0, seen_any = 0;
    /* first pass: count; second: fill */
    for (int pass = 0; pass < 2; pass++) {
        fg_layout *l = NULL;
        if (pass == 1) {
            if (!seen_any && n == 0)
                return fg_layout_new(name, name_len, 0); /* no parameters */
            l = fg_layout_new(name, name_len, n);
            if (!l)
                return NULL;
            for (unsigned i = 0; i < n; i++)
                l->size[i] = 0; /* 0: ordinal not seen yet */
        }
        uint64_t i = 0;
        while (i + 2 <= len) {
            uint8_t fmt = p[i], attr = p[i + 1];
            i += 2;
            uint64_t vlen;
            if (fmt >= 1 && fmt <= 3)
                vlen = 2; /* none, a byte, a u16: each padded to a 4-byte record */
            else if (fmt == 4) {
                if (i + 2 > len)
                    break;
                vlen = (uint64_t)p[i] | (uint64_t)p[i + 1] << 8;
                i += 2;
            } else {
                free(l);
                return NULL; /* unknown format: the rest cannot be walked */
            }
            if (i + vlen > len) {
                free(l);
                return NULL;
            }
            if (fmt == 4 && attr == FG_EIATTR_KPARAM_INFO && vlen >= 12) {
                uint16_t ord, off;
                uint32_t bits;
                memcpy(&ord, p + i + 4, 2);
                memcpy(&off, p + i + 6, 2);
                memcpy(&bits, p + i + 8, 4);
                uint32_t size = bits >> 18;
                if (pass == 0) {
                    if (ord >= FG_MAX_LAYOUT_PARAMS)
                        return NULL;
                    if ((unsigned)ord + 1 > n)
                        n = ord + 1u;
                    seen_any = 1;
                } else {
                    if (size == 0 || l->size[ord]) {
                        free(l);
                        return NULL;
                    }
                    l->off[ord] = off;
                    l->size[ord] = size;
                }
            }
            i += vlen;
        }
        if (pass == 1) {
            for (unsigned k = 0; k < n; k++)
                if (!l->size[k]) {
                    free(l);
                    return NULL;
                }
            return l;
        }
    }
    return NULL;
}

/* Every `.nv.info.<kernel>` section of a cubin, prepended to *list. -1 when the ELF is
 * unreadable. */
static int fg_elf_layouts(const uint8_t *e, uint64_t len, fg_layout **list)
{
    Elf64_Ehdr eh;
    if (len < sizeof eh || memcmp(e, ELFMAG, SELFMAG) || e[EI_CLASS] != ELFCLASS64)
        return -1;
    memcpy(&eh, e, sizeof eh);
    if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > len ||
        (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) > len - eh.e_shoff || eh.e_shstrndx >= eh.e_shnum)
        return -1;
    Elf64_Shdr str;
    memcpy(&str, e + eh.e_shoff + (uint64_t)eh.e_shstrndx * sizeof str, sizeof str);
    if (str.sh_offset > len || str.sh_size > len - str.sh_offset)
        return -1;
    const char *names = (const char *)e + str.sh_offset;
    static const char prefix[] = ".nv.info.";
    for (unsigned k = 0; k < eh.e_shnum; k++) {
        Elf64_Shdr sh;
        memcpy(&sh, e + eh.e_shoff + (uint64_t)k * sizeof sh, sizeof sh);
        if (sh.sh_name >= str.sh_size || sh.sh_offset > len || sh.sh_size > len - sh.sh_offset)
            continue;
        const char *nm = names + sh.sh_name;
        size_t nlen = strnlen(nm, str.sh_size - sh.sh_name);
        if (nlen == str.sh_size - sh.sh_name) /* not terminated inside the table */
            continue;
        if (nlen <= sizeof prefix - 1 || memcmp(nm, prefix, sizeof prefix - 1))
            continue;
        fg_layout *l = fg_nvinfo_kernel(nm + sizeof prefix - 1, nlen - (sizeof prefix - 1),
                                        e + sh.sh_offset, sh.sh_size);
        if (l) {
            l->next = *list;
            *list = l;
        }
    }
    return 0;
}

/* Which ELF entry to read: the fake reports sm_90, so the highest sm <= 90, else the lowest
 * above (layouts do not depend on the architecture; any cubin would do). */
static int fg_better_sm(uint32_t sm, uint32_t best)
{
    if (best == 0)
        return 1;
    if (sm <= 90)
        return best > 90 || sm > best;
    return best > 90 && sm < best;
}

/* The parse itself; fg_image_layouts runs it under the fault guard. */
typedef struct fg_parse {
    const void *image;
    fg_layout *list;
    uint8_t *owned; /* a decompressed cubin, freed by the caller even after a fault */
} fg_parse;

static void fg_image_parse(void *arg)
{
    fg_parse *x = arg;
    const uint8_t *p = x->image;
    uint32_t magic;
    memcpy(&magic, p, 4);
    if (magic == FG_FATBIN_WRAPPER) {
        const void *inner;
        memcpy(&inner, p + 8, sizeof inner);
        if (!inner)
            return;
        p = inner;
        memcpy(&magic, p, 4);
    }
    if (magic != FG_FATBIN_MAGIC)
        return;
    uint16_t hsize;
    uint64_t total;
    memcpy(&hsize, p + 6, 2);
    memcpy(&total, p + 8, 8);
    if (hsize < 16 || total > FG_MAX_IMAGE)
        return;
    const uint8_t *best = NULL;
    uint32_t best_sm = 0;
    uint64_t best_len = 0, best_flags = 0, best_dsize = 0;
    uint32_t best_csize = 0;
    for (uint64_t at = 0; at + 64 <= total;) {
        const uint8_t *h = p + hsize + at;
        uint16_t kind;
        uint32_t ehs, csize, sm;
        uint64_t psize, flags, dsize;
        memcpy(&kind, h, 2);
        memcpy(&ehs, h + 4, 4);
        memcpy(&psize, h + 8, 8);
        memcpy(&csize, h + 16, 4);
        memcpy(&sm, h + 28, 4);
        memcpy(&flags, h + 40, 8);
        memcpy(&dsize, h + 56, 8);
        if (ehs < 64 || psize > total || ehs + psize > total - at)
            break;
        if (kind == FG_ENTRY_ELF && fg_better_sm(sm, best_sm)) {
            best = h + ehs;
            best_sm = sm;
            best_len = psize;
            best_flags = flags;
            best_csize = csize;
            best_dsize = dsize;
        }
        at += ehs + psize;
    }
    if (!best)
        return;
    uint64_t elf_len;
    const uint8_t *elf =
        fg_entry_elf(best, best_len, best_flags, best_csize, best_dsize, &elf_len, &x->owned);
    if (elf && fg_elf_layouts(elf, elf_len, &x->list)) {
        static int said;
        fg_warn_once(&said, "a module's cubin is unreadable: no parameter layouts from it");
    }
}

/* The image comes with no length (cuModuleLoadData), and through genie-remote from a client:
 * a header that claims more than there is, or a wrapper's pointer to nowhere, must not take
 * the server down. The parse runs under the fault guard (fg_guard.c); a fault means no
 * layouts (what was built before it is dropped, its memory leaked: rare and small). */
fg_layout *fg_image_layouts(const void *image)
{
    if (!image || fg_layouts_off())
        return NULL;
    fg_parse x = {image, NULL, NULL};
    int sig = fg_guarded(fg_image_parse, &x);
    free(x.owned);
    if (sig) {
        static int said;
        fg_warn_once(&said, "reading a module image's cubin faulted (an image shorter than its "
                            "headers say?): no parameter layouts from it");
        return NULL;
    }
    return x.list;
}

const fg_layout *fg_layout_find(const fg_layout *list, const char *name)
{
    for (; list; list = list->next)
        if (!strcmp(list->name, name))
            return list;
    return NULL;
}

void fg_layouts_free(fg_layout *list)
{
    for (fg_layout *n; list; list = n) {
        n = list->next;
        free(list);
    }
}
