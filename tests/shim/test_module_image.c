/* test_module_image.c — shim/module_image.c: the size of fatbin, wrapper, cubin and PTX images, good and hostile.
 *
 * The images are built here byte by byte (and one real ELF file is read from disk); every
 * malformed or truncated one must be refused with a reason, never read past avail. Each
 * buffer is placed at the end of a page followed by a PROT_NONE page, so a read past avail
 * crashes the test instead of passing by luck. */
#include <criterion/criterion.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim/module_image.h"

/* n bytes of src copied to end right before a guard page; the returned pointer is freed by
 * unguard(). */
static uint8_t *guarded(const void *src, size_t n, void **base, size_t *maplen)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (n + pg - 1) / pg + 1;
    *maplen = (data_pages + 1) * pg;
    uint8_t *m = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    cr_assert_eq(mprotect(m + data_pages * pg, pg, PROT_NONE), 0);
    uint8_t *p = m + data_pages * pg - n;
    memcpy(p, src, n);
    *base = m;
    return p;
}

/* shim_image_size over a guarded copy of img[0, n) with avail n. */
static uint64_t size_of(const void *img, size_t n, const char **why)
{
    void *base;
    size_t len;
    uint8_t *p = guarded(img, n, &base, &len);
    const uint8_t *start = NULL;
    *why = NULL;
    uint64_t r = shim_image_size(p, n, &start, why);
    if (r)
        cr_assert_eq(start, p, "a plain image starts where it is");
    munmap(base, len);
    return r;
}

static void refused(const void *img, size_t n, const char *what)
{
    const char *why;
    uint64_t r = size_of(img, n, &why);
    cr_assert_eq(r, 0, "%s: accepted as %lu bytes", what, (unsigned long)r);
    cr_assert_not_null(why, "%s: refused without a reason", what);
}

/* ---- fatbins ---- */

static size_t fatbin(uint8_t *b, uint16_t header_size, uint64_t fat_size)
{
    memset(b, 0, 16);
    uint32_t magic = SHIM_FATBIN_MAGIC;
    uint16_t version = 1;
    memcpy(b, &magic, 4);
    memcpy(b + 4, &version, 2);
    memcpy(b + 6, &header_size, 2);
    memcpy(b + 8, &fat_size, 8);
    return 16;
}

Test(module_image, fatbin_size_from_its_header)
{
    uint8_t b[16 + 100] = {0};
    fatbin(b, 16, 100);
    const char *why;
    cr_assert_eq(size_of(b, sizeof b, &why), 116);
    /* more bytes after it are not part of it */
    uint8_t big[300] = {0};
    fatbin(big, 16, 100);
    cr_assert_eq(size_of(big, sizeof big, &why), 116);
}

Test(module_image, fatbin_refusals)
{
    uint8_t b[64] = {0};
    fatbin(b, 16, 100); /* claims 116 bytes, 64 there */
    refused(b, sizeof b, "fatbin longer than the bytes there are");
    refused(b, 10, "fatbin header cut short");
    fatbin(b, 8, 16);
    refused(b, sizeof b, "header size below 16");
    fatbin(b, 16, 0);
    refused(b, sizeof b, "empty fatbin");
    fatbin(b, 16, SHIM_MAX_IMAGE + 1);
    refused(b, sizeof b, "fatbin of more than 2 GiB");
    fatbin(b, 16, UINT64_MAX - 8); /* header_size + fat_size wraps */
    refused(b, sizeof b, "fat size that wraps");
}

Test(module_image, fatbin_wrapper_only_in_trusted_memory)
{
    uint8_t fb[16 + 32] = {0};
    fatbin(fb, 16, 32);
    struct {
        uint32_t magic, version;
        const void *data;
        void *unused;
    } w = {SHIM_FATBIN_WRAPPER_MAGIC, 1, fb, NULL};
    const uint8_t *start = NULL;
    const char *why = NULL;
    cr_assert_eq(shim_image_size(&w, UINT64_MAX, &start, &why), 48);
    cr_assert_eq(start, fb, "the wrapper's fatbin is what loads");
    /* from a file or any bounded source, a pointer into the program is meaningless */
    refused(&w, sizeof w, "fatbin wrapper in an untrusted image");
    w.data = NULL;
    cr_assert_eq(shim_image_size(&w, UINT64_MAX, &start, &why), 0);
    uint8_t notfat[16] = "not a fatbin....";
    w.data = notfat;
    cr_assert_eq(shim_image_size(&w, UINT64_MAX, &start, &why), 0);
}

/* ---- ELF ---- */

/* A minimal ELF64 LE image: header, then nsec sections of 64 bytes each after it, then the
 * section header table (null section + nsec PROGBITS), as a cubin is laid out. */
static size_t elf(uint8_t *b, size_t cap, unsigned nsec)
{
    size_t shoff = sizeof(Elf64_Ehdr) + 64 * nsec;
    size_t n = shoff + (nsec + 1) * sizeof(Elf64_Shdr);
    cr_assert_leq(n, cap);
    memset(b, 0, n);
    Elf64_Ehdr eh = {0};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = 190; /* EM_CUDA */
    eh.e_ehsize = sizeof eh;
    eh.e_shoff = shoff;
    eh.e_shentsize = sizeof(Elf64_Shdr);
    eh.e_shnum = (uint16_t)(nsec + 1);
    memcpy(b, &eh, sizeof eh);
    for (unsigned i = 0; i < nsec; i++) {
        Elf64_Shdr sh = {.sh_type = SHT_PROGBITS,
                         .sh_offset = sizeof(Elf64_Ehdr) + 64 * i,
                         .sh_size = 64};
        memcpy(b + shoff + (i + 1) * sizeof sh, &sh, sizeof sh);
    }
    return n;
}

static Elf64_Ehdr *ehdr(uint8_t *b) { return (Elf64_Ehdr *)b; }
static Elf64_Shdr *shdr(uint8_t *b, unsigned i)
{
    return (Elf64_Shdr *)(b + ehdr(b)->e_shoff + i * sizeof(Elf64_Shdr));
}

Test(module_image, cubin_ends_with_its_section_headers)
{
    static uint8_t b[4096];
    size_t n = elf(b, sizeof b, 3);
    const char *why;
    cr_assert_eq(size_of(b, n, &why), n, "%s", why ? why : "");
    /* a NOBITS section (.bss) occupies no bytes of the file, however large */
    shdr(b, 2)->sh_type = SHT_NOBITS;
    shdr(b, 2)->sh_size = (uint64_t)1 << 40;
    cr_assert_eq(size_of(b, n, &why), n);
}

Test(module_image, cubin_refusals)
{
    static uint8_t b[4096];
    size_t n = elf(b, sizeof b, 3);
    refused(b, 40, "ELF shorter than its header");
    refused(b, n - 1, "section header table cut short");
    refused(b, ehdr(b)->e_shoff + 8, "section header table cut in its first entry");

    elf(b, sizeof b, 3);
    b[EI_CLASS] = ELFCLASS32;
    refused(b, n, "32-bit ELF");
    elf(b, sizeof b, 3);
    b[EI_DATA] = ELFDATA2MSB;
    refused(b, n, "big-endian ELF");

    elf(b, sizeof b, 3);
    ehdr(b)->e_shentsize = 40;
    refused(b, n, "odd section header size");
    elf(b, sizeof b, 3);
    ehdr(b)->e_shoff = (uint64_t)1 << 40;
    refused(b, n, "section headers far past the image");
    elf(b, sizeof b, 3);
    ehdr(b)->e_shoff = UINT64_MAX - 16; /* e_shoff + size wraps */
    refused(b, n, "section header offset that wraps");

    /* extended numbering: e_shnum 0, the count in section 0's sh_size */
    elf(b, sizeof b, 3);
    ehdr(b)->e_shnum = 0;
    shdr(b, 0)->sh_size = 4;
    const char *why;
    cr_assert_eq(size_of(b, n, &why), n, "extended numbering: %s", why ? why : "");
    shdr(b, 0)->sh_size = UINT64_MAX / 8; /* a count whose table size wraps */
    refused(b, n, "extended section count that wraps");
    shdr(b, 0)->sh_size = 1000;
    refused(b, n, "extended section count past the image");

    /* a section past the bytes there are: a truncated cubin */
    elf(b, sizeof b, 3);
    shdr(b, 3)->sh_size = 10000;
    refused(b, n, "section running past the image");
    elf(b, sizeof b, 3);
    shdr(b, 1)->sh_offset = UINT64_MAX - 4;
    refused(b, n, "section offset that wraps");

    /* no headers at all: the size cannot be known */
    elf(b, sizeof b, 3);
    ehdr(b)->e_shoff = 0;
    refused(b, n, "ELF without section or program headers");

    /* program headers */
    elf(b, sizeof b, 3);
    ehdr(b)->e_phoff = 64;
    ehdr(b)->e_phnum = 1000;
    ehdr(b)->e_phentsize = sizeof(Elf64_Phdr);
    refused(b, n, "program header table past the image");
}

/* A real ELF file of this machine: its size is where its section header table ends, which
 * for an executable the linker wrote is the file's end. */
Test(module_image, a_real_elf_file)
{
    FILE *f = fopen("/proc/self/exe", "rb");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_gt(n, 0);
    rewind(f);
    uint8_t *b = malloc((size_t)n);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    const char *why;
    cr_assert_eq(size_of(b, (size_t)n, &why), (uint64_t)n, "%s", why ? why : "");
    refused(b, (size_t)n / 2, "the same file cut in half");
    free(b);
}

/* ---- PTX ---- */

Test(module_image, ptx_text_up_to_its_nul)
{
    const char ptx[] = "//\n.version 8.0\n.target sm_90\n.address_size 64\n";
    const char *why;
    cr_assert_eq(size_of(ptx, sizeof ptx, &why), sizeof ptx);
    refused(ptx, sizeof ptx - 1, "PTX without its NUL");
    const char bin[] = "\x01\x02\x03 .version";
    refused(bin, sizeof bin, "binary bytes that are not PTX");
    const char txt[] = "hello, world\n";
    refused(txt, sizeof txt, "text without .version or .target");
    refused("", 0, "nothing at all");
    /* a short image with no NUL in reach: its first bytes are not read past avail */
    refused("ab", 2, "two bytes, no NUL");
}
