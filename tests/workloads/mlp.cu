// mlp.cu — a 3-layer MLP forward pass (tiled matmul, bias+ReLU, softmax) checked against a CPU reference.
//
// Batch 16, widths 128 -> 256 -> 128 -> 10, weights and inputs from a seeded LCG. Its
// own kernels (no cuBLAS) so the fake GPU runs them through CPU twins: a shared-memory
// tiled matmul with two barriers per tile, an elementwise bias(+ReLU) and a row softmax
// with shared-memory max/sum trees.
#include <cmath>

#include "wl_common.h"

#define TILE 16          // matmul_tiled needs blockDim == (TILE, TILE, 1)
#define SOFTMAX_BLOCK 32 // softmax_rows needs a power-of-two blockDim.x <= 256

// C[M][N] = A[M][K] * B[K][N], row-major. Out-of-range tile slots load 0, so partial
// tiles add fmaf(0, 0, acc) = acc. fmaf is explicit: the twin uses the same operations.
__global__ void matmul_tiled(const float *A, const float *B, float *C, int M, int N, int K)
{
    __shared__ float As[TILE][TILE];
    __shared__ float Bs[TILE][TILE];
    int tx = threadIdx.x, ty = threadIdx.y;
    int row = blockIdx.y * TILE + ty;
    int col = blockIdx.x * TILE + tx;
    float acc = 0.0f;
    for (int t = 0; t < (K + TILE - 1) / TILE; t++) {
        int ka = t * TILE + tx, kb = t * TILE + ty;
        As[ty][tx] = (row < M && ka < K) ? A[row * K + ka] : 0.0f;
        Bs[ty][tx] = (kb < K && col < N) ? B[kb * N + col] : 0.0f;
        __syncthreads();
        for (int k = 0; k < TILE; k++)
            acc = fmaf(As[ty][k], Bs[k][tx], acc);
        __syncthreads();
    }
    if (row < M && col < N)
        C[row * N + col] = acc;
}

// X[M][N] += b[col], then ReLU when relu != 0. A comparison, not fmaxf, so -0 and NaN
// map to +0 the same way on the GPU and in the twin.
__global__ void bias_act(float *X, const float *b, int M, int N, int relu)
{
    int total = M * N;
    int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        float v = X[i] + b[i % N];
        if (relu)
            v = v > 0.0f ? v : 0.0f;
        X[i] = v;
    }
}

// Y[r] = softmax(X[r]) for each row; one block per row (grid-stride over rows).
__global__ void softmax_rows(const float *X, float *Y, int M, int N)
{
    __shared__ float red[256];
    unsigned tid = threadIdx.x;
    for (int r = blockIdx.x; r < M; r += gridDim.x) {
        const float *x = X + (size_t)r * N;
        float m = -INFINITY;
        for (int j = tid; j < N; j += blockDim.x)
            m = x[j] > m ? x[j] : m;
        red[tid] = m;
        __syncthreads();
        for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
            if (tid < s)
                red[tid] = red[tid + s] > red[tid] ? red[tid + s] : red[tid];
            __syncthreads();
        }
        float mx = red[0];
        __syncthreads(); // everyone has read red[0] before it is reused for the sum
        float sum = 0.0f;
        for (int j = tid; j < N; j += blockDim.x)
            sum += expf(x[j] - mx);
        red[tid] = sum;
        __syncthreads();
        for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
            if (tid < s)
                red[tid] += red[tid + s];
            __syncthreads();
        }
        float total = red[0];
        for (int j = tid; j < N; j += blockDim.x)
            Y[(size_t)r * N + j] = expf(x[j] - mx) / total;
        __syncthreads(); // red[0] is read by all before the next row overwrites it
    }
}

static constexpr int BATCH = 16;
static constexpr int NL = 3;
static constexpr int WIDTH[NL + 1] = {128, 256, 128, 10};
static constexpr int MAXW = 256; // widest layer, sizes the reference's buffers

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[SEED=7]   MLP 128-256-128-10 forward on a batch of 16, vs CPU reference");
    unsigned seed = (unsigned)wl_arg(argc, argv, 1, 7);
    wl_lcg rng(seed);

    float *hw[NL], *hb[NL], *dw[NL], *db[NL], *dact[NL + 1];
    for (int l = 0; l < NL; l++) {
        int K = WIDTH[l], N = WIDTH[l + 1];
        float scale = std::sqrt(6.0f / (float)K); // He-uniform: activations stay O(1) through ReLU
        hw[l] = (float *)std::malloc((size_t)K * N * sizeof(float));
        hb[l] = (float *)std::malloc((size_t)N * sizeof(float));
        for (int i = 0; i < K * N; i++)
            hw[l][i] = rng.unit() * scale;
        for (int i = 0; i < N; i++)
            hb[l][i] = rng.unit() * 0.1f;
    }
    float *hx = (float *)std::malloc((size_t)BATCH * WIDTH[0] * sizeof(float));
    for (int i = 0; i < BATCH * WIDTH[0]; i++)
        hx[i] = rng.unit();

    for (int l = 0; l < NL; l++) {
        int K = WIDTH[l], N = WIDTH[l + 1];
        CK(cudaMalloc(&dw[l], (size_t)K * N * sizeof(float)));
        CK(cudaMalloc(&db[l], (size_t)N * sizeof(float)));
        CK(cudaMemcpy(dw[l], hw[l], (size_t)K * N * sizeof(float), cudaMemcpyHostToDevice));
        CK(cudaMemcpy(db[l], hb[l], (size_t)N * sizeof(float), cudaMemcpyHostToDevice));
    }
    for (int l = 0; l <= NL; l++)
        CK(cudaMalloc(&dact[l], (size_t)BATCH * WIDTH[l] * sizeof(float)));
    float *dprob;
    int NC = WIDTH[NL];
    CK(cudaMalloc(&dprob, (size_t)BATCH * NC * sizeof(float)));
    CK(cudaMemcpy(dact[0], hx, (size_t)BATCH * WIDTH[0] * sizeof(float), cudaMemcpyHostToDevice));

    for (int l = 0; l < NL; l++) {
        int K = WIDTH[l], N = WIDTH[l + 1];
        dim3 block(TILE, TILE);
        dim3 grid((N + TILE - 1) / TILE, (BATCH + TILE - 1) / TILE);
        matmul_tiled<<<grid, block>>>(dact[l], dw[l], dact[l + 1], BATCH, N, K);
        CK_LAUNCH();
        int total = BATCH * N;
        bias_act<<<(total + 255) / 256, 256>>>(dact[l + 1], db[l], BATCH, N, l < NL - 1);
        CK_LAUNCH();
    }
    softmax_rows<<<BATCH, SOFTMAX_BLOCK>>>(dact[NL], dprob, BATCH, NC);
    CK_LAUNCH();
    float prob[BATCH * WIDTH[NL]];
    CK(cudaMemcpy(prob, dprob, sizeof prob, cudaMemcpyDeviceToHost));

    // CPU reference in double: the tolerance then measures the GPU's float error alone.
    static double act[NL + 1][BATCH * MAXW];
    for (int i = 0; i < BATCH * WIDTH[0]; i++)
        act[0][i] = hx[i];
    for (int l = 0; l < NL; l++) {
        int K = WIDTH[l], N = WIDTH[l + 1];
        for (int r = 0; r < BATCH; r++)
            for (int c = 0; c < N; c++) {
                double s = hb[l][c];
                for (int k = 0; k < K; k++)
                    s += act[l][r * K + k] * (double)hw[l][k * N + c];
                act[l + 1][r * N + c] = (l < NL - 1 && !(s > 0.0)) ? 0.0 : s;
            }
    }
    double maxerr = 0.0;
    bool ok = true;
    int bad_r = -1, bad_c = -1;
    for (int r = 0; r < BATCH; r++) {
        const double *z = &act[NL][r * NC];
        double mx = z[0], sum = 0.0;
        for (int c = 1; c < NC; c++)
            mx = z[c] > mx ? z[c] : mx;
        for (int c = 0; c < NC; c++)
            sum += std::exp(z[c] - mx);
        int am = 0, am_ref = 0;
        for (int c = 0; c < NC; c++) {
            double pref = std::exp(z[c] - mx) / sum;
            double p = prob[r * NC + c];
            double err = std::fabs(p - pref);
            if (err > maxerr)
                maxerr = err;
            if (!(err <= 1e-6 + 1e-4 * pref) && ok) { // !(<=) also catches NaN
                ok = false;
                bad_r = r;
                bad_c = c;
            }
            if (prob[r * NC + c] > prob[r * NC + am])
                am = c;
            if (z[c] > z[am_ref])
                am_ref = c;
        }
        std::printf("row %2d: class %d (p=%.4f) ref class %d\n", r, am, prob[r * NC + am], am_ref);
    }
    std::printf("mlp batch=%d widths=%d-%d-%d-%d seed=%u\n", BATCH, WIDTH[0], WIDTH[1], WIDTH[2],
                WIDTH[3], seed);
    std::printf("max abs err vs CPU reference: %.3g\n", maxerr);

    for (int l = 0; l < NL; l++) {
        CK(cudaFree(dw[l]));
        CK(cudaFree(db[l]));
        std::free(hw[l]);
        std::free(hb[l]);
    }
    for (int l = 0; l <= NL; l++)
        CK(cudaFree(dact[l]));
    CK(cudaFree(dprob));
    std::free(hx);
    if (!ok) {
        std::printf("RESULT FAIL prob[%d][%d]=%.9g\n", bad_r, bad_c, prob[bad_r * NC + bad_c]);
        return 1;
    }
    std::printf("RESULT OK\n");
    return 0;
}
