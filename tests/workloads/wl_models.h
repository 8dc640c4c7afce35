// wl_models.h — helpers shared by the model workloads (minigpt, minicnn, twobranch): options, cuBLAS/cuBLASLt plumbing, Genie counters.
//
// The model programs call the real cuBLAS and cuBLASLt APIs the way PyTorch does
// (one cuBLAS handle bound to the working stream, Lt descriptors + heuristic per problem
// shape), so that Genie's interception of those libraries is exercised by plain CUDA C.
#ifndef GENIE_WL_MODELS_H
#define GENIE_WL_MODELS_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <dlfcn.h>
#include <time.h>

#include "wl_common.h"

// cuBLAS/cuBLASLt failures are harness failures too (exit 2), like CK's. The status is
// printed as a number: cublasGetStatusString would be one more export for the shim.
#define CKB(call)                                                                                  \
    do {                                                                                           \
        cublasStatus_t ckb_st_ = (call);                                                           \
        if (ckb_st_ != CUBLAS_STATUS_SUCCESS) {                                                    \
            std::fprintf(stderr, "%s:%d: %s failed: cublasStatus %d\n", __FILE__, __LINE__, #call, \
                         (int)ckb_st_);                                                            \
            std::exit(2);                                                                          \
        }                                                                                          \
    } while (0)

// ---------------------------------------------------------------- options ----
// "--name value" options. A named configuration (--config) sets the defaults first,
// then explicit options override them, wherever they appear on the command line.
struct wl_opt {
    const char *name; // without the leading "--"
    long *val;
};

static inline const char *wl_opt_str(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] == '-' && !std::strcmp(argv[i] + 2, name))
            return argv[i + 1];
    return nullptr;
}

static inline bool wl_opt_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] == '-' && !std::strcmp(argv[i] + 2, name))
            return true;
    return false;
}

// Parses the numeric options in opts[]; --config NAME and the flags in flags[] (NULL
// ended) are skipped here. Anything else exits 2, so a typo never runs a default model.
static inline void wl_opt_parse(int argc, char **argv, const wl_opt *opts, int nopts,
                                const char *const *flags)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] != '-')
            goto bad;
        if (!std::strcmp(a + 2, "config")) {
            if (++i >= argc)
                goto bad;
            continue;
        }
        for (const char *const *f = flags; f && *f; f++)
            if (!std::strcmp(a + 2, *f))
                goto next;
        for (int k = 0; k < nopts; k++)
            if (!std::strcmp(a + 2, opts[k].name)) {
                if (i + 1 >= argc)
                    goto bad;
                char *end = nullptr;
                long v = std::strtol(argv[i + 1], &end, 0);
                if (!*argv[i + 1] || *end || v <= 0) {
                    std::fprintf(stderr, "%s: bad value '%s' for %s (want a positive integer)\n",
                                 argv[0], argv[i + 1], a);
                    std::exit(2);
                }
                *opts[k].val = v;
                i++;
                goto next;
            }
    bad:
        std::fprintf(stderr, "%s: unknown or incomplete option '%s' (see --help)\n", argv[0], a);
        std::exit(2);
    next:;
    }
}

static inline double wl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Host allocation that exits 2 on failure (model weights can be hundreds of MB).
static inline float *wl_alloc_f(size_t n)
{
    float *p = (float *)std::malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        std::fprintf(stderr, "out of host memory (%zu floats)\n", n);
        std::exit(2);
    }
    return p;
}

// Uniform in [-a, a): the LCG's unit() scaled. a = sqrt(3 / fan_in) gives unit variance
// per output of a linear layer fed unit-variance inputs.
static inline void wl_fill(wl_lcg &rng, float *p, size_t n, float a)
{
    for (size_t i = 0; i < n; i++)
        p[i] = rng.unit() * a;
}

// Device copy of a host array, uploaded on stream s (pageable: the bytes are taken
// before the call returns, and the stream orders the copy before later kernels).
static inline float *wl_upload(const float *h, size_t n, cudaStream_t s)
{
    float *d;
    CK(cudaMalloc(&d, (n ? n : 1) * sizeof(float)));
    CK(cudaMemcpyAsync(d, h, n * sizeof(float), cudaMemcpyHostToDevice, s));
    return d;
}

// ----------------------------------------------------------------- cuBLASLt ----
// D = alpha * op(A) * op(B) + beta * C (+ epilogue), column-major, fp32 in and out,
// CUBLAS_COMPUTE_32F. Like PyTorch's gemm_and_bias, each distinct problem shape gets
// its own matmul descriptor (TRANSA, TRANSB, EPILOGUE), four matrix layouts and one
// cublasLtMatmulAlgoGetHeuristic answer; they are cached and reused, and only
// BIAS_POINTER is set again before each call (the bias differs per layer).
struct wl_lt_plan {
    cublasOperation_t ta, tb;
    int m, n, k, lda, ldb, ldc;
    cublasLtEpilogue_t epi;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulHeuristicResult_t heur;
};

#define WL_LT_MAX_PLANS 64
// Workspace bytes per stream (PyTorch's default on Hopper is larger; fp32 needs little).
#define WL_LT_WORKSPACE (4u << 20)

struct wl_lt {
    cublasLtHandle_t h;
    cublasLtMatmulPreference_t pref;
    wl_lt_plan plans[WL_LT_MAX_PLANS];
    int nplans;
};

static inline void wl_lt_init(wl_lt *lt)
{
    std::memset(lt, 0, sizeof *lt);
    CKB(cublasLtCreate(&lt->h));
    CKB(cublasLtMatmulPreferenceCreate(&lt->pref));
    uint64_t ws = WL_LT_WORKSPACE;
    CKB(cublasLtMatmulPreferenceSetAttribute(lt->pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                             &ws, sizeof ws));
}

static inline void wl_lt_fini(wl_lt *lt)
{
    for (int i = 0; i < lt->nplans; i++) {
        wl_lt_plan *p = &lt->plans[i];
        CKB(cublasLtMatrixLayoutDestroy(p->la));
        CKB(cublasLtMatrixLayoutDestroy(p->lb));
        CKB(cublasLtMatrixLayoutDestroy(p->lc));
        CKB(cublasLtMatmulDescDestroy(p->desc));
    }
    CKB(cublasLtMatmulPreferenceDestroy(lt->pref));
    CKB(cublasLtDestroy(lt->h));
}

static inline wl_lt_plan *wl_lt_plan_get(wl_lt *lt, cublasOperation_t ta, cublasOperation_t tb,
                                         int m, int n, int k, int lda, int ldb, int ldc,
                                         cublasLtEpilogue_t epi)
{
    for (int i = 0; i < lt->nplans; i++) {
        wl_lt_plan *p = &lt->plans[i];
        if (p->ta == ta && p->tb == tb && p->m == m && p->n == n && p->k == k && p->lda == lda &&
            p->ldb == ldb && p->ldc == ldc && p->epi == epi)
            return p;
    }
    if (lt->nplans == WL_LT_MAX_PLANS) {
        std::fprintf(stderr, "wl_lt: more than %d problem shapes\n", WL_LT_MAX_PLANS);
        std::exit(2);
    }
    wl_lt_plan *p = &lt->plans[lt->nplans++];
    p->ta = ta, p->tb = tb, p->m = m, p->n = n, p->k = k;
    p->lda = lda, p->ldb = ldb, p->ldc = ldc, p->epi = epi;
    CKB(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    CKB(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CKB(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    CKB(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    // Layouts describe the stored matrices: A is m x k unless transposed (then k x m).
    CKB(cublasLtMatrixLayoutCreate(&p->la, CUDA_R_32F, ta == CUBLAS_OP_N ? m : k,
                                   ta == CUBLAS_OP_N ? k : m, lda));
    CKB(cublasLtMatrixLayoutCreate(&p->lb, CUDA_R_32F, tb == CUBLAS_OP_N ? k : n,
                                   tb == CUBLAS_OP_N ? n : k, ldb));
    CKB(cublasLtMatrixLayoutCreate(&p->lc, CUDA_R_32F, m, n, ldc));
    int got = 0;
    CKB(cublasLtMatmulAlgoGetHeuristic(lt->h, p->desc, p->la, p->lb, p->lc, p->lc, lt->pref, 1,
                                       &p->heur, &got));
    if (got < 1) {
        std::fprintf(stderr, "wl_lt: no cuBLASLt algorithm for %dx%dx%d epilogue %d\n", m, n, k,
                     (int)epi);
        std::exit(2);
    }
    return p;
}

// C is both the beta input and the output D (same layout), as in PyTorch's addmm; with
// beta = 0 its old contents are not read. bias: m floats, or NULL for no-bias epilogues.
// ws: a workspace of WL_LT_WORKSPACE bytes owned by the caller, one per stream.
static inline void wl_lt_matmul(wl_lt *lt, cudaStream_t s, void *ws, cublasOperation_t ta,
                                cublasOperation_t tb, int m, int n, int k, const float *A, int lda,
                                const float *B, int ldb, float beta, float *C, int ldc,
                                cublasLtEpilogue_t epi, const float *bias)
{
    wl_lt_plan *p = wl_lt_plan_get(lt, ta, tb, m, n, k, lda, ldb, ldc, epi);
    if (bias)
        CKB(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                           sizeof bias));
    const float alpha = 1.0f;
    CKB(cublasLtMatmul(lt->h, p->desc, &alpha, A, p->la, B, p->lb, &beta, C, p->lc, C, p->lc,
                       &p->heur.algo, ws, WL_LT_WORKSPACE, s));
}

// ------------------------------------------------------------ Genie counters ----
// Under libgenie.so, genie_stats_json (exported by the shim) reports the session's
// counters; without the shim the symbol is absent and the programs print nothing.
typedef int (*wl_stats_fn)(char *buf, size_t n);

struct wl_stats {
    unsigned long long round_trips, batches, bytes_sent, bytes_received, batches_delta;
    unsigned long long phase_prefill, phase_decode, kv_bytes; // GENIE_PHASE, GENIE_KV_COLOCATE
};

static inline wl_stats_fn wl_stats_lookup(void)
{
    const char *e = std::getenv("GENIE_STATS");
    if (!e || std::strcmp(e, "1"))
        return nullptr;
    return (wl_stats_fn)dlsym(RTLD_DEFAULT, "genie_stats_json");
}

static inline unsigned long long wl_json_u64(const char *js, const char *key)
{
    char pat[64];
    std::snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = std::strstr(js, pat);
    return p ? std::strtoull(p + std::strlen(pat), nullptr, 10) : 0ull;
}

static inline wl_stats wl_stats_read(wl_stats_fn fn)
{
    static char js[1 << 16]; // the JSON carries per-API call counts after the totals
    wl_stats s = {0, 0, 0, 0, 0, 0, 0, 0};
    if (!fn || fn(js, sizeof js) != 0)
        return s;
    s.round_trips = wl_json_u64(js, "round_trips");
    s.batches = wl_json_u64(js, "batches");
    s.bytes_sent = wl_json_u64(js, "bytes_sent");
    s.bytes_received = wl_json_u64(js, "bytes_received");
    s.batches_delta = wl_json_u64(js, "batches_delta");
    s.phase_prefill = wl_json_u64(js, "phase_prefill_batches");
    s.phase_decode = wl_json_u64(js, "phase_decode_batches");
    s.kv_bytes = wl_json_u64(js, "kv_h2d_bytes") + wl_json_u64(js, "kv_d2h_bytes");
    return s;
}

// GENIE_BENCH_MARKS=1 under libgenie.so (genie-bench sets it): prints the shim's counters at a
// point of the program as one line, "genie-mark TAG {json}" (totals only), so a benchmark can
// take the counters of the timed region alone (weights uploaded before it are not in it).
static inline void wl_stats_mark(const char *tag)
{
    const char *e = std::getenv("GENIE_BENCH_MARKS");
    if (!e || std::strcmp(e, "1"))
        return;
    wl_stats_fn fn = (wl_stats_fn)dlsym(RTLD_DEFAULT, "genie_stats_json");
    static char js[1 << 16];
    if (!fn || fn(js, sizeof js) != 0)
        return;
    char *per = std::strstr(js, ", \"per_api\"");
    if (per)
        std::strcpy(per, "}");
    std::printf("genie-mark %s %s\n", tag, js);
}

#endif
