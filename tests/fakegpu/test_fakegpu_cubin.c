/* test_fakegpu_cubin.c — parameter layouts read from the cubin's .nv.info (fg_cubin.c): kernels
 * built by nvcc (kernels/params.cu; plain and zstd fatbins) and one of libtorch_cuda.so's. */
#include <criterion/criterion.h>

#include <cuda.h>
#include <elf.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fg_params_images.h"

#define OK(call) cr_assert_eq((call), CUDA_SUCCESS, "%s", #call)

static CUcontext ctx;

static void setup(void)
{
    /* no kernel of params.cu has a twin: they run as no-ops, with the cubin's layouts */
    setenv("GENIE_FAKE_UNKNOWN_KERNELS", "noop", 1);
    CUdevice dev;
    OK(cuInit(0));
    OK(cuDeviceGet(&dev, 0));
    OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    OK(cuCtxSetCurrent(ctx));
}

static void teardown(void)
{
    cuDevicePrimaryCtxRelease(0);
}

TestSuite(fakegpu_cubin, .init = setup, .fini = teardown, .timeout = 120);

/* The host-side mirrors of params.cu's parameter lists: a kernel's parameters are laid out as
 * the members of a struct of them (the CUDA ABI), so offsetof gives the expected offsets. */
struct s3 {
    float a, b, c;
};
struct s16 {
    _Alignas(16) long x;
    long y;
};
struct f4 {
    _Alignas(16) float x;
    float y, z, w;
};
struct big {
    double v[40];
    int tail;
};
struct saxpy_args {
    int n;
    float a;
    const float *x;
    float *y;
};
struct mixed_args {
    char c;
    double d;
    struct s3 s;
    struct s16 t;
    short h;
    struct f4 f;
    void *p;
};
struct big_args {
    struct big b;
    char c;
    float *out;
};
struct tmpl_args {
    double *out;
    double v;
    int n;
};

typedef struct {
    size_t off, size;
} want;
#define W(type, member)                                                                            \
    {                                                                                              \
        offsetof(type, member), sizeof(((type *)0)->member)                                        \
    }

static void check_layout(CUmodule m, const char *name, const want *w, size_t n)
{
    CUfunction f;
    OK(cuModuleGetFunction(&f, m, name));
    for (size_t i = 0; i < n; i++) {
        size_t off = 99999, sz = 99999;
        cr_assert_eq(cuFuncGetParamInfo(f, i, &off, &sz), CUDA_SUCCESS, "%s: parameter %zu", name,
                     i);
        cr_expect_eq(off, w[i].off, "%s: parameter %zu at %zu, the C layout says %zu", name, i, off,
                     w[i].off);
        cr_expect_eq(sz, w[i].size, "%s: parameter %zu of %zu bytes, the C layout says %zu", name,
                     i, sz, w[i].size);
    }
    size_t off;
    cr_assert_eq(cuFuncGetParamInfo(f, n, &off, NULL), CUDA_ERROR_INVALID_VALUE,
                 "%s: a parameter past the %zu there are", name, n);
}

static void check_image(const unsigned char *image, unsigned long len)
{
    /* cuModuleLoadData wants the image aligned as nvcc's own (8) */
    void *copy = aligned_alloc(64, (len + 63) & ~63ul);
    cr_assert(copy);
    memcpy(copy, image, len);
    CUmodule m;
    OK(cuModuleLoadData(&m, copy));
    const want saxpy[] = {W(struct saxpy_args, n), W(struct saxpy_args, a), W(struct saxpy_args, x),
                          W(struct saxpy_args, y)};
    check_layout(m, "fg_params_saxpy", saxpy, 4);
    const want mixed[] = {W(struct mixed_args, c), W(struct mixed_args, d), W(struct mixed_args, s),
                          W(struct mixed_args, t), W(struct mixed_args, h), W(struct mixed_args, f),
                          W(struct mixed_args, p)};
    check_layout(m, "fg_params_mixed", mixed, 7);
    check_layout(m, "fg_params_none", NULL, 0);
    const want bigw[] = {W(struct big_args, b), W(struct big_args, c), W(struct big_args, out)};
    check_layout(m, "fg_params_big", bigw, 3);
    want many[41];
    for (int i = 0; i < 40; i++)
        many[i] = (want){4 * (size_t)i, 4};
    many[40] = (want){160, 8};
    check_layout(m, "fg_params_many", many, 41);
    const want tmpl[] = {W(struct tmpl_args, out), W(struct tmpl_args, v), W(struct tmpl_args, n)};
    check_layout(m, "_Z14fg_params_tmplIdEvPT_S0_i", tmpl, 3);

    /* a launch of a kernel with parameters needs them; a no-op still runs in stream order */
    CUfunction f;
    OK(cuModuleGetFunction(&f, m, "fg_params_saxpy"));
    cr_expect_eq(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL),
                 CUDA_ERROR_INVALID_VALUE);
    int n = 4;
    float a = 2;
    CUdeviceptr x = 0, y = 0;
    void *params[] = {&n, &a, &x, &y};
    OK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL));
    OK(cuCtxSynchronize());
    OK(cuModuleUnload(m));
    free(copy);
}

Test(fakegpu_cubin, layouts_of_a_plain_fatbin)
{
    check_image(fg_params_plain, fg_params_plain_len);
}

Test(fakegpu_cubin, layouts_of_a_zstd_fatbin)
{
    check_image(fg_params_zstd, fg_params_zstd_len);
}

/* The same image through a fatbin wrapper, as __cudaRegisterFatBinary gets it. */
Test(fakegpu_cubin, layouts_through_a_fatbin_wrapper)
{
    void *copy = aligned_alloc(64, (fg_params_zstd_len + 63) & ~63ul);
    cr_assert(copy);
    memcpy(copy, fg_params_zstd, fg_params_zstd_len);
    struct {
        uint32_t magic, version;
        const void *data;
        void *unused;
    } wrapper = {0x466243b1u, 1, copy, NULL};
    CUmodule m;
    OK(cuModuleLoadFatBinary(&m, &wrapper));
    const want saxpy[] = {W(struct saxpy_args, n), W(struct saxpy_args, a), W(struct saxpy_args, x),
                          W(struct saxpy_args, y)};
    check_layout(m, "fg_params_saxpy", saxpy, 4);
    OK(cuModuleUnload(m));
    free(copy);
}

/* The switch the checks above were seen failing with: no layouts read, no parameters. */
Test(fakegpu_cubin, with_the_reader_off_no_layout)
{
    setenv("GENIE_FAKE_PARAM_LAYOUT", "off", 1);
    void *copy = aligned_alloc(64, (fg_params_plain_len + 63) & ~63ul);
    cr_assert(copy);
    memcpy(copy, fg_params_plain, fg_params_plain_len);
    CUmodule m;
    OK(cuModuleLoadData(&m, copy));
    CUfunction f;
    OK(cuModuleGetFunction(&f, m, "fg_params_saxpy"));
    size_t off;
    cr_expect_eq(cuFuncGetParamInfo(f, 0, &off, NULL), CUDA_ERROR_INVALID_VALUE);
    OK(cuModuleUnload(m));
    free(copy);
}

/* A truncated or corrupted cubin gives no layouts and loads as before (the fake is no
 * validator of images): every read stays inside the sizes the headers give. */
Test(fakegpu_cubin, corrupted_nvinfo_is_ignored)
{
    unsigned long len = fg_params_plain_len;
    unsigned char *copy = aligned_alloc(64, (len + 63) & ~63ul);
    cr_assert(copy);
    /* each flip of a byte somewhere in the image must neither crash nor read outside it */
    for (unsigned long at = 16; at < len; at += 97) {
        memcpy(copy, fg_params_plain, len);
        copy[at] ^= 0xff;
        CUmodule m;
        if (cuModuleLoadData(&m, copy) == CUDA_SUCCESS) {
            CUfunction f;
            size_t off, sz;
            if (cuModuleGetFunction(&f, m, "fg_params_mixed") == CUDA_SUCCESS)
                for (size_t i = 0; i < 8; i++)
                    (void)cuFuncGetParamInfo(f, i, &off, &sz);
            OK(cuModuleUnload(m));
        }
    }
    free(copy);
}

/* An image shorter than its headers say (it has no length: cuModuleLoadData), and a fatbin
 * wrapper pointing nowhere: the reader faults, under the guard, and the module loads with no
 * layouts; the server would otherwise die of a client's image. The image ends right before a
 * PROT_NONE page, so the read past it faults every time. */
Test(fakegpu_cubin, an_image_shorter_than_its_headers_loads_without_layouts)
{
    long pg = sysconf(_SC_PAGESIZE);
    /* the guard spans more than the whole image's claimed size: the walk from entry to entry
     * jumps, and must land in it, not in some other mapping */
    size_t guard = ((fg_params_plain_len + 4 * (size_t)pg) / (size_t)pg) * (size_t)pg;
    size_t total = 2 * (size_t)pg + guard;
    unsigned char *map =
        mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(map, MAP_FAILED);
    cr_assert_eq(mprotect(map + 2 * pg, guard, PROT_NONE), 0);
    /* the first 1.5 pages of the fatbin (its header says ~20 KiB), ending at the guard page */
    size_t keep = (size_t)pg + (size_t)pg / 2;
    cr_assert_gt(fg_params_plain_len, keep + 4096);
    unsigned char *img = map + 2 * pg - keep;
    memcpy(img, fg_params_plain, keep);
    CUmodule m;
    OK(cuModuleLoadData(&m, img));
    CUfunction f;
    OK(cuModuleGetFunction(&f, m, "fg_params_saxpy"));
    size_t off;
    cr_expect_eq(cuFuncGetParamInfo(f, 0, &off, NULL), CUDA_ERROR_INVALID_VALUE,
                 "a layout read out of a truncated image");
    OK(cuModuleUnload(m));
    /* a wrapper whose fatbin pointer leads into the guard page */
    struct {
        uint32_t magic, version;
        const void *data;
        void *unused;
    } wrapper = {0x466243b1u, 1, map + 2 * pg, NULL};
    OK(cuModuleLoadFatBinary(&m, &wrapper));
    OK(cuModuleUnload(m));
    munmap(map, total);
}

/* ---- one of PyTorch's kernels ---- */

/* flash_bwd_convert_dq_kernel<...>(Flash_bwd_params, int): torch 2.11's first fatbin holds it
 * (scripts/setup.sh pins the version). Its mangled name says its parameters: the struct, then
 * an int right after it. */
static const char torch_kernel[] =
    "_ZN13pytorch_flash27flash_bwd_convert_dq_kernelI23Flash_bwd_kernel_traitsILi128ELi64ELi64E"
    "Li8ELi4ELi2ELi2ELb1ELb0EN7cutlass10bfloat16_tE19Flash_kernel_traitsILi128ELi64ELi64ELi8ES3_"
    "EEEEvNS_16Flash_bwd_paramsEi";

Test(fakegpu_cubin, a_kernel_of_libtorch_cuda)
{
    const char *path = getenv("GENIE_TEST_LIBTORCH_CUDA");
    if (!path || !*path)
        cr_skip_test("torch is not installed (GENIE_TEST_LIBTORCH_CUDA unset by CMake)");
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "%s", path);
    Elf64_Ehdr eh;
    cr_assert_eq(pread(fd, &eh, sizeof eh, 0), (ssize_t)sizeof eh);
    Elf64_Shdr *sh = calloc(eh.e_shnum, sizeof *sh);
    cr_assert(sh);
    cr_assert_eq(pread(fd, sh, eh.e_shnum * sizeof *sh, (off_t)eh.e_shoff),
                 (ssize_t)(eh.e_shnum * sizeof *sh));
    char *names = malloc(sh[eh.e_shstrndx].sh_size);
    cr_assert(names);
    cr_assert_eq(pread(fd, names, sh[eh.e_shstrndx].sh_size, (off_t)sh[eh.e_shstrndx].sh_offset),
                 (ssize_t)sh[eh.e_shstrndx].sh_size);
    const Elf64_Shdr *fat = NULL;
    for (unsigned i = 0; i < eh.e_shnum; i++)
        if (!strcmp(names + sh[i].sh_name, ".nv_fatbin"))
            fat = &sh[i];
    cr_assert(fat, "no .nv_fatbin section in %s", path);
    /* the first fatbins of the section, each loaded as the executor would load it */
    int found = 0;
    uint64_t at = 0;
    for (int k = 0; k < 4 && !found && at + 16 <= fat->sh_size; k++) {
        struct {
            uint32_t magic;
            uint16_t version, hsize;
            uint64_t size;
        } h;
        /* fatbins follow each other, each 8-aligned, with padding between some */
        for (int pad = 0;; pad++, at += 8) {
            cr_assert_eq(pread(fd, &h, sizeof h, (off_t)(fat->sh_offset + at)), (ssize_t)sizeof h);
            if (h.magic == 0xba55ed50u)
                break;
            cr_assert_lt(pad, 512, "fatbin %d of %s: no fatbin header", k, path);
        }
        size_t len = h.hsize + h.size;
        void *img = aligned_alloc(64, (len + 63) & ~(size_t)63);
        cr_assert(img);
        cr_assert_eq(pread(fd, img, len, (off_t)(fat->sh_offset + at)), (ssize_t)len);
        CUmodule m;
        OK(cuModuleLoadData(&m, img));
        CUfunction f;
        OK(cuModuleGetFunction(&f, m, torch_kernel));
        size_t off0, sz0, off1, sz1, off2;
        if (cuFuncGetParamInfo(f, 0, &off0, &sz0) == CUDA_SUCCESS) {
            found = 1;
            OK(cuFuncGetParamInfo(f, 1, &off1, &sz1));
            cr_expect_eq(off0, 0);
            cr_expect_gt(sz0, 64, "Flash_bwd_params is a struct of many pointers: %zu bytes", sz0);
            cr_expect_eq(sz1, 4, "the int");
            cr_expect_eq(off1, sz0, "the int right after the struct (%zu, %zu)", off1, sz0);
            cr_expect_eq(cuFuncGetParamInfo(f, 2, &off2, NULL), CUDA_ERROR_INVALID_VALUE);
        }
        OK(cuModuleUnload(m));
        free(img);
        at += (len + 7) & ~(uint64_t)7;
    }
    cr_expect(found, "%s: no layout for %s in its first fatbins", path, torch_kernel);
    free(names);
    free(sh);
    close(fd);
}
