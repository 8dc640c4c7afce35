// wl_common.h — helpers shared by the CUDA C test workloads: call checking, argv parsing, LCG.
#ifndef GENIE_WL_COMMON_H
#define GENIE_WL_COMMON_H

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cuda_runtime.h>

// Every CUDA call goes through CK: an unexpected failure is a harness failure (exit 2),
// distinct from a wrong result (exit 1), so a CI log tells "Genie broke a call" from
// "Genie computed the wrong thing".
#define CK(call)                                                                           \
    do {                                                                                   \
        cudaError_t ck_err_ = (call);                                                      \
        if (ck_err_ != cudaSuccess) {                                                      \
            std::fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__, #call, \
                         cudaGetErrorString(ck_err_), cudaGetErrorName(ck_err_));          \
            std::exit(2);                                                                  \
        }                                                                                  \
    } while (0)

// Kernel launches report configuration errors through cudaGetLastError, which is
// answered locally by the runtime (no sync, no round trip under Genie).
#define CK_LAUNCH() CK(cudaGetLastError())

// Prints usage and exits 0 on --help/-h; returns positional argument i (1-based) as a
// long, or dflt when absent. Exits 2 on a malformed or non-positive number.
static inline void wl_help(int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++)
        if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
            std::printf("usage: %s %s\n", argv[0], usage);
            std::exit(0);
        }
}

static inline long wl_arg(int argc, char **argv, int i, long dflt)
{
    if (i >= argc)
        return dflt;
    char *end = nullptr;
    long v = std::strtol(argv[i], &end, 0);
    if (!*argv[i] || *end || v <= 0) {
        std::fprintf(stderr, "%s: bad argument '%s' (want a positive integer)\n", argv[0], argv[i]);
        std::exit(2);
    }
    return v;
}

// Deterministic inputs: a 32-bit LCG (Numerical Recipes constants), so a run on a GPU
// and a run through the CPU fake see the same bytes.
struct wl_lcg {
    unsigned s;
    explicit wl_lcg(unsigned seed) : s(seed) {}
    unsigned next() { return s = s * 1664525u + 1013904223u; }
    // Uniform in [-1, 1), from the top 24 bits so the float is exact.
    float unit() { return (float)(next() >> 8) * (1.0f / 8388608.0f) - 1.0f; }
};

// EXPECT(cond): a checked property, printed with its verdict; wl_result() ends main with
// "RESULT OK" (0) or "RESULT FAIL n check(s)" (1) for the e2e harness.
static int wl_failures;
#define EXPECT(cond)                                                                       \
    do {                                                                                   \
        bool ok_ = (cond);                                                                 \
        std::printf("%-70s %s\n", #cond, ok_ ? "ok" : "WRONG");                            \
        wl_failures += !ok_;                                                               \
    } while (0)

static inline int wl_result(void)
{
    if (wl_failures) {
        std::printf("RESULT FAIL %d check(s)\n", wl_failures);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}

#endif
