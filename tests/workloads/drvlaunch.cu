// drvlaunch.cu — a kernel loaded and launched through the driver API, as PyTorch runs NVRTC output
// (jiterator, lazy NVRTC): dlopen("libcuda.so.1"), cuModuleLoadData of an image the program holds,
// cuModuleGetFunction, cuLaunchKernel on created, default and per-thread streams; memory and
// copies through the runtime. Links nothing of the driver: the entry points come from the
// dlopen'ed library (Genie's look-alike under Genie) and from cudaGetDriverEntryPointByVersion.
// Then the errors: bad images, a missing kernel, unsupported `extra`, bad handles and
// configurations, an unloaded module's function; none may touch the runtime's last error.
//
// The device code is drvlaunch_kernel.cu, embedded as a fatbin, a cubin and PTX
// (drvlaunch_images.h, generated). On the fake GPU only fatbins load remotely: the cubin and
// PTX modules are then refused by the executor at cuModuleGetFunction with
// CUDA_ERROR_INVALID_IMAGE, which is accepted; on a GPU they must load and compute.
#include <cuda.h> // types and constants only
#include <dlfcn.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "drvlaunch_images.h"
#include "wl_common.h"

static int fails;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::printf("FAIL %s:%d: ", __FILE__, __LINE__);                               \
            std::printf(__VA_ARGS__);                                                      \
            std::printf("\n");                                                             \
            fails++;                                                                       \
        }                                                                                  \
    } while (0)

// The driver entry points, from the dlopen'ed libcuda.so.1.
#define DRV_FNS(_)                                                                         \
    _(cuInit)                                                                              \
    _(cuDeviceGet)                                                                         \
    _(cuDevicePrimaryCtxRetain)                                                            \
    _(cuCtxSetCurrent)                                                                     \
    _(cuCtxGetCurrent)                                                                     \
    _(cuCtxSynchronize)                                                                    \
    _(cuGetErrorName)                                                                      \
    _(cuModuleLoad)                                                                        \
    _(cuModuleLoadData)                                                                    \
    _(cuModuleLoadDataEx)                                                                  \
    _(cuModuleUnload)                                                                      \
    _(cuModuleGetFunction)                                                                 \
    _(cuLaunchKernel)                                                                      \
    _(cuFuncGetAttribute)                                                                  \
    _(cuFuncSetAttribute)                                                                  \
    _(cuOccupancyMaxActiveBlocksPerMultiprocessor)

static struct {
#define FIELD_(name) decltype(&::name) name;
    DRV_FNS(FIELD_)
#undef FIELD_
} drv;

static const char *cu_name(CUresult r)
{
    const char *s = nullptr;
    return drv.cuGetErrorName && drv.cuGetErrorName(r, &s) == CUDA_SUCCESS && s ? s : "?";
}

#define CU(call)                                                                           \
    do {                                                                                   \
        CUresult cu_r_ = (call);                                                           \
        if (cu_r_ != CUDA_SUCCESS) {                                                       \
            std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,     \
                         cu_name(cu_r_));                                                  \
            std::exit(2);                                                                  \
        }                                                                                  \
    } while (0)

#define EXPECT_CU(want, call)                                                              \
    do {                                                                                   \
        CUresult got_ = (call);                                                            \
        CHECK(got_ == (want), "%s: got %s, want %s", #call, cu_name(got_), cu_name(want)); \
    } while (0)

static const int N = 10000;

// Launches y = a*x + b with `launch` on `stream` and checks y after a sync of that stream.
static void axpb(decltype(&::cuLaunchKernel) launch, CUfunction f, CUstream stream, float *dx,
                 float *dy, const std::vector<float> &x, float a, float b, const char *what)
{
    int n = N;
    void *params[] = {&dy, &dx, &a, &b, &n};
    // on the launch's stream: a plain cudaMemset goes to the legacy stream, which a
    // non-blocking stream does not wait for (the kernel could run before it)
    CK(cudaMemsetAsync(dy, 0, N * sizeof(float), (cudaStream_t)stream));
    CU(launch(f, (N + 255) / 256, 1, 1, 256, 1, 1, 0, stream, params, nullptr));
    CK(cudaStreamSynchronize((cudaStream_t)stream));
    std::vector<float> y(N);
    CK(cudaMemcpy(y.data(), dy, N * sizeof(float), cudaMemcpyDeviceToHost));
    int bad = 0;
    for (int i = 0; i < N; i++)
        if (y[i] != fmaf(a, x[i], b))
            bad++;
    CHECK(bad == 0, "%s: %d of %d elements wrong (y[0] %g, want %g)", what, bad, N, y[0],
          fmaf(a, x[0], b));
    std::printf("%s: %s\n", what, bad ? "wrong" : "ok");
}

// A module from an image Genie may only run on a GPU (cubin, PTX): loads locally; on the fake
// GPU the executor refuses it at cuModuleGetFunction, on a GPU it computes.
static void other_image(const void *image, const char *what, float *dx, float *dy,
                        const std::vector<float> &x)
{
    CUmodule m;
    CU(drv.cuModuleLoadData(&m, image));
    CUfunction f;
    CUresult r = drv.cuModuleGetFunction(&f, m, "drv_axpb");
    if (r == CUDA_SUCCESS)
        axpb(drv.cuLaunchKernel, f, nullptr, dx, dy, x, 0.25f, 1.0f, what);
    else
        std::printf("%s: refused remotely (%s)\n", what, cu_name(r));
    CHECK(r == CUDA_SUCCESS || r == CUDA_ERROR_INVALID_IMAGE, "%s: cuModuleGetFunction: %s", what,
          cu_name(r));
    CU(drv.cuModuleUnload(m));
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "(no arguments)");
    // as PyTorch's lazy NVRTC does: the driver by its SONAME
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        std::fprintf(stderr, "dlopen libcuda.so.1: %s\n", dlerror());
        return 2;
    }
#define LOAD_(name)                                                                        \
    if (!(drv.name = (decltype(drv.name))dlsym(lib, #name))) {                             \
        std::fprintf(stderr, "libcuda.so.1 lacks %s\n", #name);                           \
        return 2;                                                                          \
    }
    DRV_FNS(LOAD_)
#undef LOAD_
    Dl_info info;
    if (dladdr((void *)drv.cuModuleLoadData, &info) && info.dli_fname)
        std::printf("driver: %s\n", info.dli_fname);

    CU(drv.cuInit(0));
    CUdevice dev;
    CU(drv.cuDeviceGet(&dev, 0));
    CUcontext ctx;
    CU(drv.cuDevicePrimaryCtxRetain(&ctx, dev));
    CU(drv.cuCtxSetCurrent(ctx));

    std::vector<float> x(N);
    wl_lcg rng(7);
    for (float &v : x)
        v = rng.unit();
    float *dx, *dy;
    CK(cudaMalloc(&dx, N * sizeof(float)));
    CK(cudaMalloc(&dy, N * sizeof(float)));
    CK(cudaMemcpy(dx, x.data(), N * sizeof(float), cudaMemcpyHostToDevice));
    // a pageable cudaMemcpy returns once the source is staged, and the non-blocking stream
    // below does not wait for the legacy stream: make the upload complete first
    CK(cudaDeviceSynchronize());
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

    // The fatbin, from an aligned copy (as NVRTC's output would be).
    std::vector<unsigned long long> fatbin((drv_fatbin_len + 7) / 8);
    std::memcpy(fatbin.data(), drv_fatbin, drv_fatbin_len);
    CUmodule mod;
    CU(drv.cuModuleLoadData(&mod, fatbin.data()));
    fatbin.assign(fatbin.size(), 0); // the driver keeps no pointer to the image
    CUfunction f, f_again;
    // a missing kernel first: the module still loads, and its real kernel is found after
    EXPECT_CU(CUDA_ERROR_NOT_FOUND, drv.cuModuleGetFunction(&f, mod, "no_such_kernel"));
    CU(drv.cuModuleGetFunction(&f, mod, "drv_axpb"));
    CU(drv.cuModuleGetFunction(&f_again, mod, "drv_axpb"));
    CHECK(f == f_again, "the same kernel gave two handles");

    int v = 0;
    CU(drv.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f));
    CHECK(v >= 256, "CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK %d", v);
    CU(drv.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 1024));
    CU(drv.cuOccupancyMaxActiveBlocksPerMultiprocessor(&v, f, 256, 0));
    CHECK(v > 0, "occupancy %d", v);

    // created, default, legacy and per-thread streams; the runtime's table too
    axpb(drv.cuLaunchKernel, f, (CUstream)s, dx, dy, x, 2.0f, -1.0f, "stream");
    axpb(drv.cuLaunchKernel, f, nullptr, dx, dy, x, -3.0f, 0.5f, "default stream");
    axpb(drv.cuLaunchKernel, f, CU_STREAM_LEGACY, dx, dy, x, 1.5f, 2.0f, "legacy stream");
    void *pfn = nullptr;
    cudaDriverEntryPointQueryResult q;
    CK(cudaGetDriverEntryPointByVersion("cuLaunchKernel", &pfn, 12000, cudaEnableDefault, &q));
    CHECK(pfn && q == cudaDriverEntryPointSuccess, "no cuLaunchKernel entry point");
    if (pfn)
        axpb((decltype(&::cuLaunchKernel))pfn, f, CU_STREAM_PER_THREAD, dx, dy, x, 0.5f, 0.125f,
             "per-thread stream (entry point)");

    // several launches, one driver sync
    {
        int n = N;
        float a = 4.0f, b = 0.0f, a2 = -1.0f, b2 = 3.0f;
        void *p1[] = {&dy, &dx, &a, &b, &n}, *p2[] = {&dy, &dx, &a2, &b2, &n};
        void *end[] = {CU_LAUNCH_PARAM_END}; // an empty `extra` is accepted
        for (int i = 0; i < 10; i++)
            CU(drv.cuLaunchKernel(f, 8, 1, 1, 128, 1, 1, 0, nullptr, i % 2 ? p2 : p1, end));
        CU(drv.cuCtxSynchronize());
        std::vector<float> y(N);
        CK(cudaMemcpy(y.data(), dy, N * sizeof(float), cudaMemcpyDeviceToHost));
        int bad = 0;
        for (int i = 0; i < N; i++)
            bad += y[i] != fmaf(a2, x[i], b2);
        CHECK(bad == 0, "10 launches: %d wrong", bad);
        std::printf("10 launches, cuCtxSynchronize: %s\n", bad ? "wrong" : "ok");
    }

    // the same image again (the executor has it: loaded by hash), with JIT options
    {
        char log[64] = "stale";
        CUjit_option opts[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
        void *vals[] = {log, (void *)(uintptr_t)sizeof log};
        CUmodule m2;
        CU(drv.cuModuleLoadDataEx(&m2, drv_fatbin, 2, opts, vals));
        CHECK(std::strcmp(log, "stale") != 0, "the info log was left as it was");
        CUfunction f2;
        CU(drv.cuModuleGetFunction(&f2, m2, "drv_axpb"));
        CHECK(f2 != f, "two modules share a function handle");
        axpb(drv.cuLaunchKernel, f2, (CUstream)s, dx, dy, x, 0.75f, -0.25f, "second module");
        CU(drv.cuModuleUnload(m2));
        int n = N;
        float a = 1, b = 1;
        void *params[] = {&dy, &dx, &a, &b, &n};
        EXPECT_CU(CUDA_ERROR_INVALID_HANDLE,
                  drv.cuLaunchKernel(f2, 1, 1, 1, 32, 1, 1, 0, nullptr, params, nullptr));
        EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, drv.cuModuleGetFunction(&f2, m2, "drv_axpb"));
        EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, drv.cuModuleUnload(m2));
    }

    // cubin and PTX images
    std::vector<unsigned long long> cubin((drv_cubin_len + 7) / 8);
    std::memcpy(cubin.data(), drv_cubin, drv_cubin_len);
    other_image(cubin.data(), "cubin", dx, dy, x);
    std::string ptx((const char *)drv_ptx, drv_ptx_len); // NUL-terminated by c_str()
    other_image(ptx.c_str(), "ptx", dx, dy, x);

    // cuModuleLoad: the fatbin file the build left next to this program (skipped without it)
    {
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 64);
        std::string path = n > 0 ? std::string(exe, (size_t)n) : std::string();
        path = path.substr(0, path.rfind('/') + 1) + "drvlaunch_kernel.fatbin";
        CUmodule mf;
        if (access(path.c_str(), R_OK) == 0) {
            CU(drv.cuModuleLoad(&mf, path.c_str()));
            CUfunction ff;
            CU(drv.cuModuleGetFunction(&ff, mf, "drv_axpb"));
            axpb(drv.cuLaunchKernel, ff, (CUstream)s, dx, dy, x, -0.5f, 4.0f, "cuModuleLoad");
            CU(drv.cuModuleUnload(mf));
        } else {
            std::printf("cuModuleLoad: skipped (no %s)\n", path.c_str());
        }
        EXPECT_CU(CUDA_ERROR_FILE_NOT_FOUND, drv.cuModuleLoad(&mf, "/nonexistent/kernel.fatbin"));
    }

    // ---- errors; none of them is the runtime's
    CK(cudaGetLastError());
    CUmodule bad_mod;
    EXPECT_CU(CUDA_ERROR_INVALID_VALUE, drv.cuModuleLoadData(&bad_mod, nullptr));
    EXPECT_CU(CUDA_ERROR_INVALID_VALUE, drv.cuModuleLoadData(nullptr, drv_fatbin));
    {
        static const unsigned char garbage[] = {0x01, 0x02, 0x03, 0x04, 0xfe, 0x7f, 0x10, 0x00};
        CUresult r = drv.cuModuleLoadData(&bad_mod, garbage);
        CHECK(r == CUDA_ERROR_INVALID_IMAGE || r == CUDA_ERROR_INVALID_PTX,
              "garbage image: %s", cu_name(r));
        r = drv.cuModuleLoadData(&bad_mod, "just some text, not PTX");
        CHECK(r == CUDA_ERROR_INVALID_IMAGE || r == CUDA_ERROR_INVALID_PTX,
              "text image: %s", cu_name(r));
        // an ELF header with neither section nor program headers: its size is unknowable
        std::vector<unsigned long long> elf(8, 0);
        std::memcpy(elf.data(), drv_cubin, 16); // e_ident of the real cubin
        r = drv.cuModuleLoadData(&bad_mod, elf.data());
        CHECK(r == CUDA_ERROR_INVALID_IMAGE || r == CUDA_ERROR_INVALID_PTX,
              "headless ELF: %s", cu_name(r));
    }
    EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, drv.cuModuleGetFunction(&f_again, (CUmodule)&v, "drv_axpb"));
    EXPECT_CU(CUDA_ERROR_INVALID_VALUE, drv.cuModuleGetFunction(&f_again, mod, nullptr));
    {
        int n = N;
        float a = 1, b = 1;
        void *params[] = {&dy, &dx, &a, &b, &n};
        size_t size = 32;
        char buf[32] = {0};
        void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                         CU_LAUNCH_PARAM_END};
        EXPECT_CU(CUDA_ERROR_NOT_SUPPORTED,
                  drv.cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, extra));
        EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
                  drv.cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr));
        EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
                  drv.cuLaunchKernel(f, 1, 1, 1, 4096, 1, 1, 0, nullptr, params, nullptr));
        EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
                  drv.cuLaunchKernel(f, 0, 1, 1, 32, 1, 1, 0, nullptr, params, nullptr));
        EXPECT_CU(CUDA_ERROR_INVALID_HANDLE,
                  drv.cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, (CUstream)&v, params, nullptr));
        EXPECT_CU(CUDA_ERROR_INVALID_HANDLE,
                  drv.cuLaunchKernel((CUfunction)&v, 1, 1, 1, 32, 1, 1, 0, nullptr, params,
                                     nullptr));
        EXPECT_CU(CUDA_ERROR_INVALID_HANDLE,
                  drv.cuFuncGetAttribute(&n, CU_FUNC_ATTRIBUTE_NUM_REGS, (CUfunction)&v));
    }
    cudaError_t last = cudaGetLastError();
    CHECK(last == cudaSuccess, "the driver's errors reached the runtime's last error: %s",
          cudaGetErrorName(last));

    // the module still works after all that
    axpb(drv.cuLaunchKernel, f, (CUstream)s, dx, dy, x, 1.0f, 1.0f, "after the errors");
    CU(drv.cuModuleUnload(mod));
    CK(cudaStreamDestroy(s));
    CK(cudaFree(dx));
    CK(cudaFree(dy));
    if (fails) {
        std::printf("RESULT FAIL (%d)\n", fails);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
