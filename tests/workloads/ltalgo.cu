// ltalgo.cu — cuBLASLt autotuning in the style of NVIDIA's LtSgemmCustomFind sample: every
// algorithm cuBLASLt offers for an SGEMM, each of its tiles and split-K counts, checked, run,
// timed, and its result compared with the CPU.
//
//   ltalgo [M=64] [N=48] [K=80]
// cublasLtMatmulAlgoGetIds; per id cublasLtMatmulAlgoInit, the capabilities (split-K support,
// reduction schemes, tile ids: their count first with size 0, then the array), per tile and
// split-K count cublasLtMatmulAlgoConfigSetAttribute (read back with ConfigGetAttribute),
// cublasLtMatmulAlgoCheck (a config it rejects is skipped, as the sample does), then
// cublasLtMatmul with that algo, timed with events, D copied back and checked. The whole
// search runs twice: the second search asks the same questions and must find the same
// configurations (under Genie its answers come from the client's cache: the e2e test counts
// the query round trips of one search). Also the argument checks cuBLASLt documents
// (CUBLAS_STATUS_INVALID_VALUE). Prints RESULT OK.
#include "wl_common.h"

#include <cmath>
#include <cublasLt.h>
#include <vector>

#define CL(call)                                                                           \
    do {                                                                                   \
        cublasStatus_t cl_st_ = (call);                                                    \
        if (cl_st_ != CUBLAS_STATUS_SUCCESS) {                                             \
            std::fprintf(stderr, "%s:%d: %s failed: cublasStatus %d\n", __FILE__, __LINE__, \
                         #call, (int)cl_st_);                                              \
            std::exit(2);                                                                  \
        }                                                                                  \
    } while (0)

static int failures;

static void expect_status(const char *what, cublasStatus_t got, cublasStatus_t want)
{
    if (got != want) {
        std::printf("%s: status %d, expected %d\n", what, (int)got, (int)want);
        failures++;
    }
}

struct problem {
    int m, n, k;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, c;
    const float *A, *B;
    float *D;
    std::vector<float> want;
};

// One search: returns how many configurations ran (and were right); best_ms the fastest.
static int search(cublasLtHandle_t lt, problem &p, cudaStream_t st, int pass)
{
    int ids[100], nids = 0;
    CL(cublasLtMatmulAlgoGetIds(lt, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_32F, CUDA_R_32F,
                                CUDA_R_32F, CUDA_R_32F, 100, ids, &nids));
    if (nids < 1) {
        std::printf("pass %d: no algorithm ids\n", pass);
        failures++;
        return 0;
    }
    cudaEvent_t t0, t1;
    CK(cudaEventCreate(&t0));
    CK(cudaEventCreate(&t1));
    const float alpha = 1.0f, beta = 0.0f;
    int ran = 0, rejected = 0;
    float best_ms = -1.0f;
    int best_id = -1;
    std::vector<float> got((size_t)p.m * p.n);
    for (int i = 0; i < nids; i++) {
        cublasLtMatmulAlgo_t algo;
        CL(cublasLtMatmulAlgoInit(lt, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_32F, CUDA_R_32F,
                                  CUDA_R_32F, CUDA_R_32F, ids[i], &algo));
        int32_t id_back = -1;
        size_t wrote = 0;
        CL(cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_ID, &id_back,
                                                sizeof id_back, &wrote));
        if (id_back != ids[i] || wrote != sizeof id_back) {
            std::printf("algo %d: CONFIG_ID reads %d (%zu bytes)\n", ids[i], id_back, wrote);
            failures++;
        }
        int32_t splitk_support = 0;
        CL(cublasLtMatmulAlgoCapGetAttribute(&algo, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT,
                                             &splitk_support, sizeof splitk_support, &wrote));
        uint32_t red_mask = 0;
        CL(cublasLtMatmulAlgoCapGetAttribute(&algo, CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK,
                                             &red_mask, sizeof red_mask, &wrote));
        size_t tiles_bytes = 0;
        CL(cublasLtMatmulAlgoCapGetAttribute(&algo, CUBLASLT_ALGO_CAP_TILE_IDS, nullptr, 0,
                                             &tiles_bytes));
        std::vector<uint32_t> tiles(tiles_bytes / sizeof(uint32_t) + 1, 0);
        CL(cublasLtMatmulAlgoCapGetAttribute(&algo, CUBLASLT_ALGO_CAP_TILE_IDS, tiles.data(),
                                             tiles.size() * sizeof(uint32_t), &wrote));
        size_t ntiles = wrote / sizeof(uint32_t);
        if (wrote != tiles_bytes || ntiles < 1) {
            std::printf("algo %d: %zu bytes of tile ids, %zu announced\n", ids[i], wrote,
                        tiles_bytes);
            failures++;
            ntiles = 1;
        }
        const int splits[2] = {1, 4};
        for (size_t t = 0; t < ntiles; t++)
            for (int s = 0; s < (splitk_support ? 2 : 1); s++) {
                cublasLtMatmulAlgo_t cfg = algo;
                uint32_t tile = tiles[t];
                int32_t splitk = splits[s];
                CL(cublasLtMatmulAlgoConfigSetAttribute(&cfg, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile,
                                                        sizeof tile));
                CL(cublasLtMatmulAlgoConfigSetAttribute(&cfg, CUBLASLT_ALGO_CONFIG_SPLITK_NUM,
                                                        &splitk, sizeof splitk));
                if (splitk > 1) {
                    uint32_t red = CUBLASLT_REDUCTION_SCHEME_INPLACE;
                    if (!(red_mask & red))
                        red = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
                    CL(cublasLtMatmulAlgoConfigSetAttribute(
                        &cfg, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &red, sizeof red));
                }
                uint32_t tile_back = 0;
                int32_t splitk_back = 0;
                CL(cublasLtMatmulAlgoConfigGetAttribute(&cfg, CUBLASLT_ALGO_CONFIG_TILE_ID,
                                                        &tile_back, sizeof tile_back, &wrote));
                CL(cublasLtMatmulAlgoConfigGetAttribute(&cfg, CUBLASLT_ALGO_CONFIG_SPLITK_NUM,
                                                        &splitk_back, sizeof splitk_back, &wrote));
                if (tile_back != tile || splitk_back != splitk) {
                    std::printf("algo %d: config reads tile %u splitK %d, set %u %d\n", ids[i],
                                tile_back, splitk_back, tile, splitk);
                    failures++;
                }
                cublasLtMatmulHeuristicResult_t res;
                if (cublasLtMatmulAlgoCheck(lt, p.desc, p.a, p.b, p.c, p.c, &cfg, &res) !=
                        CUBLAS_STATUS_SUCCESS ||
                    res.workspaceSize > 0) {
                    rejected++; // the sample skips what the library rejects
                    continue;
                }
                CK(cudaMemsetAsync(p.D, 0xff, (size_t)p.m * p.n * sizeof(float), st));
                CK(cudaEventRecord(t0, st));
                CL(cublasLtMatmul(lt, p.desc, &alpha, p.A, p.a, p.B, p.b, &beta, p.D, p.c, p.D,
                                  p.c, &res.algo, nullptr, 0, st));
                CK(cudaEventRecord(t1, st));
                CK(cudaEventSynchronize(t1));
                float ms = 0;
                CK(cudaEventElapsedTime(&ms, t0, t1));
                CK(cudaMemcpy(got.data(), p.D, got.size() * sizeof(float), cudaMemcpyDeviceToHost));
                int bad = 0;
                for (size_t j = 0; j < got.size(); j++)
                    bad += !(std::fabs(got[j] - p.want[j]) <= 1e-4f * (1.0f + std::fabs(p.want[j])));
                if (bad) {
                    std::printf("algo %d tile %u splitK %d: %d values wrong\n", ids[i], tile,
                                splitk, bad);
                    failures++;
                }
                ran++;
                if (best_ms < 0 || ms < best_ms)
                    best_ms = ms, best_id = ids[i];
            }
    }
    CK(cudaEventDestroy(t0));
    CK(cudaEventDestroy(t1));
    std::printf("pass %d: %d algorithm ids, %d configurations ran, %d rejected; fastest: algo %d\n",
                pass, nids, ran, rejected, best_id);
    if (ran < 1)
        failures++;
    return ran;
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[M=64] [N=48] [K=80]   cuBLASLt algorithm search for an SGEMM");
    problem p;
    p.m = (int)wl_arg(argc, argv, 1, 64);
    p.n = (int)wl_arg(argc, argv, 2, 48);
    p.k = (int)wl_arg(argc, argv, 3, 80);
    const int m = p.m, n = p.n, k = p.k;
    std::vector<float> A((size_t)m * k), B((size_t)k * n);
    wl_lcg rng(4242u);
    for (auto &v : A)
        v = rng.unit();
    for (auto &v : B)
        v = rng.unit();
    p.want.assign((size_t)m * n, 0.0f); // column-major D = A B
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double acc = 0;
            for (int l = 0; l < k; l++)
                acc += (double)A[(size_t)l * m + i] * B[(size_t)j * k + l];
            p.want[(size_t)j * m + i] = (float)acc;
        }
    float *dA, *dB, *dD;
    CK(cudaMalloc(&dA, A.size() * sizeof(float)));
    CK(cudaMalloc(&dB, B.size() * sizeof(float)));
    CK(cudaMalloc(&dD, (size_t)m * n * sizeof(float)));
    CK(cudaMemcpy(dA, A.data(), A.size() * sizeof(float), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dB, B.data(), B.size() * sizeof(float), cudaMemcpyHostToDevice));
    p.A = dA, p.B = dB, p.D = dD;
    cudaStream_t st;
    CK(cudaStreamCreate(&st));
    cublasLtHandle_t lt;
    CL(cublasLtCreate(&lt));
    CL(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    CL(cublasLtMatrixLayoutCreate(&p.a, CUDA_R_32F, m, k, m));
    CL(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_32F, k, n, k));
    CL(cublasLtMatrixLayoutCreate(&p.c, CUDA_R_32F, m, n, m));

    // the argument checks cuBLASLt documents
    cublasLtMatmulAlgo_t algo;
    int ids[4], nids = 0;
    size_t wrote = 0;
    int32_t v = 1;
    expect_status("GetIds count 0",
                  cublasLtMatmulAlgoGetIds(lt, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_32F,
                                           CUDA_R_32F, CUDA_R_32F, CUDA_R_32F, 0, ids, &nids),
                  CUBLAS_STATUS_INVALID_VALUE);
    CL(cublasLtMatmulAlgoInit(lt, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_32F, CUDA_R_32F,
                              CUDA_R_32F, CUDA_R_32F, 0, &algo));
    expect_status("CapGet size 0 without sizeWritten",
                  cublasLtMatmulAlgoCapGetAttribute(&algo, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT,
                                                    nullptr, 0, nullptr),
                  CUBLAS_STATUS_INVALID_VALUE);
    expect_status("CapGet wrong size",
                  cublasLtMatmulAlgoCapGetAttribute(&algo, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT, &v,
                                                    1, &wrote),
                  CUBLAS_STATUS_INVALID_VALUE);
    expect_status("ConfigSet NULL buf",
                  cublasLtMatmulAlgoConfigSetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM,
                                                       nullptr, sizeof v),
                  CUBLAS_STATUS_INVALID_VALUE);
    expect_status("ConfigSet wrong size",
                  cublasLtMatmulAlgoConfigSetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &v,
                                                       2),
                  CUBLAS_STATUS_INVALID_VALUE);

    int ran1 = search(lt, p, st, 1);
    int ran2 = search(lt, p, st, 2);
    if (ran1 != ran2) {
        std::printf("the second search ran %d configurations, the first %d\n", ran2, ran1);
        failures++;
    }
    CL(cublasLtMatrixLayoutDestroy(p.a));
    CL(cublasLtMatrixLayoutDestroy(p.b));
    CL(cublasLtMatrixLayoutDestroy(p.c));
    CL(cublasLtMatmulDescDestroy(p.desc));
    CL(cublasLtDestroy(lt));
    CK(cudaStreamDestroy(st));
    CK(cudaFree(dA));
    CK(cudaFree(dB));
    CK(cudaFree(dD));
    if (failures) {
        std::printf("RESULT FAIL %d check(s)\n", failures);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
