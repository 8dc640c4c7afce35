// minigpt.cu — GPT-2-style greedy generation (prefill + KV-cached decode) on cuBLAS/cuBLASLt, checked against a CPU reference.
//
// Token + position embeddings, L pre-LN blocks, final layernorm, logits against the tied
// embedding, greedy argmax. Prefill runs the P prompt tokens (GEMMs with M = P), then N
// decode steps each run one token (M = 1) against a per-layer KV cache in device memory
// that grows by one token per step. Each generated token is chosen on the device and
// read back with a 4-byte copy + stream sync: the one data-dependent sync per step that
// Genie must turn into exactly one round trip.
//
// GEMMs: QKV, attention output and both MLP projections are cublasLtMatmul with BIAS /
// GELU_BIAS epilogues; attention scores are cublasSgemmStridedBatched and the weighted
// sum cublasGemmStridedBatchedEx, batched over heads; logits are cublasSgemm.
// The CPU reference (double) runs one full causal pass over prompt + generated tokens
// (teacher-forced with the GPU's tokens), so it also checks the KV cache bookkeeping.
#include <cmath>

#include "wl_models.h"

#define LN_BLOCK 128     // layernorm_rows and causal_softmax need a power-of-two blockDim.x <= 256
#define ARGMAX_BLOCK 256 // argmax_row: one block, power-of-two blockDim.x <= 256
#define LN_EPS 1e-5f

// ------------------------------------------------------------------ kernels ----

// x[i][c] = wte[tok[pos0 + i]][c] + wpe[pos0 + i][c] for i < M. Tokens are read from
// device memory: a decode step embeds the token the previous step's argmax wrote there.
__global__ void embed_tokens(const int *tok, const float *wte, const float *wpe, float *x, int M,
                             int d, int pos0)
{
    int total = M * d;
    int stride = gridDim.x * blockDim.x;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += stride) {
        int i = idx / d, c = idx % d;
        int t = tok[pos0 + i];
        x[idx] = wte[(size_t)t * d + c] + wpe[(size_t)(pos0 + i) * d + c];
    }
}

// Shared-memory tree sum over blockDim.x (a power of two) slots; every thread returns red[0].
__device__ float block_sum(float *red, float v)
{
    unsigned tid = threadIdx.x;
    red[tid] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s)
            red[tid] += red[tid + s];
        __syncthreads();
    }
    float r = red[0];
    __syncthreads(); // all have read red[0] before the next reduction reuses red
    return r;
}

// y[r] = (x[r] - mean) / sqrt(var + eps) * g + b, one block per row (grid-stride over
// rows). Two passes (mean, then centred variance) with fixed per-thread strided sums and
// a tree, fmaf where a product feeds a sum and 1/sqrtf (IEEE, unlike rsqrtf), so the
// twin reproduces it bit for bit.
__global__ void layernorm_rows(const float *x, const float *g, const float *b, float *y, int M,
                               int d, float eps)
{
    __shared__ float red[256];
    unsigned tid = threadIdx.x;
    for (int r = blockIdx.x; r < M; r += gridDim.x) {
        const float *xr = x + (size_t)r * d;
        float s = 0.0f;
        for (int j = tid; j < d; j += blockDim.x)
            s += xr[j];
        float mean = block_sum(red, s) / (float)d;
        float q = 0.0f;
        for (int j = tid; j < d; j += blockDim.x) {
            float c = xr[j] - mean;
            q = fmaf(c, c, q);
        }
        float var = block_sum(red, q) / (float)d;
        float inv = 1.0f / sqrtf(var + eps);
        for (int j = tid; j < d; j += blockDim.x)
            y[(size_t)r * d + j] = fmaf((xr[j] - mean) * inv, g[j], b[j]);
    }
}

// Appends the K and V of M new tokens (columns d..2d and 2d..3d of qkv[M][3d]) at
// positions past..past+M-1 of this layer's caches, laid out [H][ctx][dh] so that a
// strided batched GEMM over heads reads one contiguous [T][dh] matrix per head.
__global__ void kv_append(const float *qkv, float *kc, float *vc, int M, int d, int H, int past,
                          int ctx)
{
    int dh = d / H, total = M * d;
    int stride = gridDim.x * blockDim.x;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += stride) {
        int i = idx / d, c = idx % d, h = c / dh, e = c % dh;
        size_t dst = ((size_t)h * ctx + past + i) * dh + e;
        kc[dst] = qkv[(size_t)i * 3 * d + d + c];
        vc[dst] = qkv[(size_t)i * 3 * d + 2 * d + c];
    }
}

// S holds H*M rows of T scores ([H][M][T]); row r is query i = r % M at position
// past + i, which sees keys 0..past+i. Softmax over those, 0 for the masked rest. One
// block per row (grid-stride), max and sum trees as in mlp.cu's softmax_rows.
__global__ void causal_softmax(float *S, int rows, int M, int T, int past)
{
    __shared__ float red[256];
    unsigned tid = threadIdx.x;
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        float *sr = S + (size_t)r * T;
        int nv = past + r % M + 1; // visible keys
        if (nv > T)
            nv = T;
        float m = -INFINITY;
        for (int j = tid; j < nv; j += blockDim.x)
            m = sr[j] > m ? sr[j] : m;
        red[tid] = m;
        __syncthreads();
        for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
            if (tid < s)
                red[tid] = red[tid + s] > red[tid] ? red[tid + s] : red[tid];
            __syncthreads();
        }
        float mx = red[0];
        __syncthreads();
        float s = 0.0f;
        for (int j = tid; j < nv; j += blockDim.x)
            s += expf(sr[j] - mx);
        float total = block_sum(red, s);
        for (int j = tid; j < T; j += blockDim.x)
            sr[j] = j < nv ? expf(sr[j] - mx) / total : 0.0f;
        __syncthreads(); // the row is written before a thread moves on (rows are disjoint anyway)
    }
}

// x[i] += y[i]: the residual connection.
__global__ void residual_add(float *x, const float *y, int n)
{
    int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        x[i] += y[i];
}

// tok[pos] = argmax over v < V of logits[v]; ties go to the lowest index, so the result
// is the same whatever the reduction order. One block.
__global__ void argmax_row(const float *logits, int V, int *tok, int pos)
{
    __shared__ float bv[256];
    __shared__ int bi[256];
    unsigned tid = threadIdx.x;
    float best = -INFINITY;
    int bidx = V; // "none yet": loses every tie and every comparison below
    for (int v = tid; v < V; v += blockDim.x)
        if (logits[v] > best || bidx == V) {
            best = logits[v];
            bidx = v;
        }
    bv[tid] = best;
    bi[tid] = bidx;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) {
            float ov = bv[tid + s];
            int oi = bi[tid + s];
            if (oi < V && (bi[tid] == V || ov > bv[tid] || (ov == bv[tid] && oi < bi[tid]))) {
                bv[tid] = ov;
                bi[tid] = oi;
            }
        }
        __syncthreads();
    }
    if (tid == 0)
        tok[pos] = bi[0] < V ? bi[0] : 0;
}

// ------------------------------------------------------------------- model ----

struct cfg {
    long vocab, d, heads, layers, ctx, prompt, gen, seed;
    bool static_kv; // attention always spans the whole cache (ctx keys, the unwritten masked)
};

struct layer_w { // PyTorch nn.Linear layout: weight [out][in] row-major
    float *ln1_g, *ln1_b, *w_qkv, *b_qkv, *w_o, *b_o, *ln2_g, *ln2_b, *w_fc, *b_fc, *w_pr, *b_pr;
};

struct model_w {
    float *wte, *wpe, *lnf_g, *lnf_b;
    layer_w *l;
};

static void init_weights(const cfg &c, model_w *w)
{
    wl_lcg rng((unsigned)c.seed);
    size_t d = c.d;
    float ad = std::sqrt(3.0f / (float)d), a4d = std::sqrt(3.0f / (float)(4 * d));
    w->wte = wl_alloc_f(c.vocab * d);
    w->wpe = wl_alloc_f(c.ctx * d);
    wl_fill(rng, w->wte, c.vocab * d, 0.1f);
    wl_fill(rng, w->wpe, c.ctx * d, 0.05f);
    w->l = new layer_w[c.layers];
    for (long i = 0; i < c.layers; i++) {
        layer_w *L = &w->l[i];
        L->ln1_g = wl_alloc_f(d), L->ln1_b = wl_alloc_f(d);
        L->ln2_g = wl_alloc_f(d), L->ln2_b = wl_alloc_f(d);
        for (size_t j = 0; j < d; j++) {
            L->ln1_g[j] = 1.0f + 0.1f * rng.unit();
            L->ln1_b[j] = 0.05f * rng.unit();
            L->ln2_g[j] = 1.0f + 0.1f * rng.unit();
            L->ln2_b[j] = 0.05f * rng.unit();
        }
        L->w_qkv = wl_alloc_f(3 * d * d), L->b_qkv = wl_alloc_f(3 * d);
        L->w_o = wl_alloc_f(d * d), L->b_o = wl_alloc_f(d);
        L->w_fc = wl_alloc_f(4 * d * d), L->b_fc = wl_alloc_f(4 * d);
        L->w_pr = wl_alloc_f(4 * d * d), L->b_pr = wl_alloc_f(d);
        wl_fill(rng, L->w_qkv, 3 * d * d, ad);
        wl_fill(rng, L->b_qkv, 3 * d, 0.02f);
        wl_fill(rng, L->w_o, d * d, ad);
        wl_fill(rng, L->b_o, d, 0.02f);
        wl_fill(rng, L->w_fc, 4 * d * d, ad);
        wl_fill(rng, L->b_fc, 4 * d, 0.02f);
        wl_fill(rng, L->w_pr, 4 * d * d, a4d);
        wl_fill(rng, L->b_pr, d, 0.02f);
    }
    w->lnf_g = wl_alloc_f(d), w->lnf_b = wl_alloc_f(d);
    for (size_t j = 0; j < d; j++) {
        w->lnf_g[j] = 1.0f + 0.1f * rng.unit();
        w->lnf_b[j] = 0.05f * rng.unit();
    }
}

// ------------------------------------------------------------- CPU reference ----

static void ref_layernorm(const double *x, const float *g, const float *b, double *y, long d)
{
    double mean = 0.0, var = 0.0;
    for (long j = 0; j < d; j++)
        mean += x[j];
    mean /= d;
    for (long j = 0; j < d; j++)
        var += (x[j] - mean) * (x[j] - mean);
    var /= d;
    double inv = 1.0 / std::sqrt(var + (double)LN_EPS);
    for (long j = 0; j < d; j++)
        y[j] = (x[j] - mean) * inv * g[j] + b[j];
}

// y[out] = W[out][in] x + b: nn.Linear.
static void ref_linear(const float *W, const float *b, const double *x, double *y, long in,
                       long out)
{
    for (long o = 0; o < out; o++) {
        double s = b[o];
        const float *wr = W + o * in;
        for (long k = 0; k < in; k++)
            s += (double)wr[k] * x[k];
        y[o] = s;
    }
}

// cuBLASLt's GELU epilogue is the tanh approximation.
static double ref_gelu(double x)
{
    return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

// Full causal forward over tok[0..T); logits[t][v] for every position t. Caller frees.
static double *ref_forward(const cfg &c, const model_w *w, const int *tok, long T)
{
    long d = c.d, H = c.heads, dh = d / H, V = c.vocab;
    double *x = (double *)std::calloc(T * d, sizeof(double));
    double *h = (double *)std::malloc(T * d * sizeof(double));
    double *qkv = (double *)std::malloc(T * 3 * d * sizeof(double));
    double *att = (double *)std::malloc(T * d * sizeof(double));
    double *f = (double *)std::malloc(4 * d * sizeof(double));
    double *tmp = (double *)std::malloc(d * sizeof(double));
    double *p = (double *)std::malloc(T * sizeof(double));
    double *logits = (double *)std::malloc(T * V * sizeof(double));
    if (!x || !h || !qkv || !att || !f || !tmp || !p || !logits) {
        std::fprintf(stderr, "out of host memory (reference)\n");
        std::exit(2);
    }
    for (long t = 0; t < T; t++)
        for (long j = 0; j < d; j++)
            x[t * d + j] = (double)w->wte[tok[t] * d + j] + (double)w->wpe[t * d + j];
    double scale = 1.0 / std::sqrt((double)dh);
    for (long li = 0; li < c.layers; li++) {
        const layer_w *L = &w->l[li];
        for (long t = 0; t < T; t++) {
            ref_layernorm(x + t * d, L->ln1_g, L->ln1_b, h + t * d, d);
            ref_linear(L->w_qkv, L->b_qkv, h + t * d, qkv + t * 3 * d, d, 3 * d);
        }
        for (long t = 0; t < T; t++)
            for (long hd = 0; hd < H; hd++) {
                const double *q = qkv + t * 3 * d + hd * dh;
                double mx = -INFINITY, sum = 0.0;
                for (long j = 0; j <= t; j++) {
                    const double *k = qkv + j * 3 * d + d + hd * dh;
                    double s = 0.0;
                    for (long e = 0; e < dh; e++)
                        s += q[e] * k[e];
                    p[j] = s * scale;
                    mx = p[j] > mx ? p[j] : mx;
                }
                for (long j = 0; j <= t; j++)
                    sum += (p[j] = std::exp(p[j] - mx));
                for (long e = 0; e < dh; e++) {
                    double o = 0.0;
                    for (long j = 0; j <= t; j++)
                        o += p[j] / sum * qkv[j * 3 * d + 2 * d + hd * dh + e];
                    att[t * d + hd * dh + e] = o;
                }
            }
        for (long t = 0; t < T; t++) {
            ref_linear(L->w_o, L->b_o, att + t * d, tmp, d, d);
            for (long j = 0; j < d; j++)
                x[t * d + j] += tmp[j];
            ref_layernorm(x + t * d, L->ln2_g, L->ln2_b, h + t * d, d);
            ref_linear(L->w_fc, L->b_fc, h + t * d, f, d, 4 * d);
            for (long j = 0; j < 4 * d; j++)
                f[j] = ref_gelu(f[j]);
            ref_linear(L->w_pr, L->b_pr, f, tmp, 4 * d, d);
            for (long j = 0; j < d; j++)
                x[t * d + j] += tmp[j];
        }
    }
    for (long t = 0; t < T; t++) {
        ref_layernorm(x + t * d, w->lnf_g, w->lnf_b, h + t * d, d);
        for (long v = 0; v < V; v++) {
            double s = 0.0;
            for (long j = 0; j < d; j++)
                s += h[t * d + j] * (double)w->wte[v * d + j];
            logits[t * V + v] = s;
        }
    }
    std::free(x), std::free(h), std::free(qkv), std::free(att), std::free(f), std::free(tmp);
    std::free(p);
    return logits;
}

// ------------------------------------------------------------------- device ----

struct dev_layer {
    float *ln1_g, *ln1_b, *w_qkv, *b_qkv, *w_o, *b_o, *ln2_g, *ln2_b, *w_fc, *b_fc, *w_pr, *b_pr;
    float *kc, *vc; // KV cache [H][ctx][dh] each
};

struct gpu {
    cfg c;
    cudaStream_t s;
    cublasHandle_t cb;
    wl_lt lt;
    void *ws;
    float *wte, *wpe, *lnf_g, *lnf_b;
    dev_layer *l;
    float *x, *h, *qkv, *att, *y, *f, *tmp, *logits, *hist;
    int *tok;
};

static int grid_for(long n, int block)
{
    long g = (n + block - 1) / block;
    return (int)(g > 1024 ? 1024 : g); // grid-stride loops cover the rest
}

// Runs M tokens at positions pos0..pos0+M-1 (their ids already in g->tok) through the
// model, appends their K/V to the caches, puts the next token at tok[pos0 + M] and its
// logits row in hist[slot]. All asynchronous on g->s.
static void forward(gpu *g, int M, int pos0, int slot)
{
    const cfg &c = g->c;
    int d = (int)c.d, H = (int)c.heads, dh = d / H, V = (int)c.vocab, ctx = (int)c.ctx;
    // --static-kv: every step attends over all ctx cache rows (keys past the causal limit get
    // weight 0 from causal_softmax), as Hugging Face's static cache does, so the attention
    // GEMMs have the same shape every step and a replayed step changes only kernel arguments.
    int T = c.static_kv ? ctx : pos0 + M;
    cudaStream_t s = g->s;
    const cublasOperation_t N_ = CUBLAS_OP_N, T_ = CUBLAS_OP_T;
    // Row-major activations X[M][K] are column-major K x M, and nn.Linear weights W[N][K]
    // are column-major K x N, so Y[M][N] = X W^T is the column-major
    // Y^T (N x M) = op_T(W) X^T: transa = T, transb = N, m = N, n = M, k = K.
    embed_tokens<<<grid_for((long)M * d, 256), 256, 0, s>>>(g->tok, g->wte, g->wpe, g->x, M, d,
                                                            pos0);
    CK_LAUNCH();
    for (long li = 0; li < c.layers; li++) {
        dev_layer *L = &g->l[li];
        layernorm_rows<<<M, LN_BLOCK, 0, s>>>(g->x, L->ln1_g, L->ln1_b, g->h, M, d, LN_EPS);
        CK_LAUNCH();
        wl_lt_matmul(&g->lt, s, g->ws, T_, N_, 3 * d, M, d, L->w_qkv, d, g->h, d, 0.0f, g->qkv,
                     3 * d, CUBLASLT_EPILOGUE_BIAS, L->b_qkv);
        kv_append<<<grid_for((long)M * d, 256), 256, 0, s>>>(g->qkv, L->kc, L->vc, M, d, H, pos0,
                                                             ctx);
        CK_LAUNCH();
        // Scores, per head h: S_h[M][T] = Q_h[M][dh] K_h[T][dh]^T / sqrt(dh), i.e. the
        // column-major S_h^T (T x M) = op_T(K_h) Q_h^T. Q_h sits in qkv at column h*dh
        // with row stride 3d; K_h is [T][dh] at h*ctx*dh in the cache.
        float alpha = 1.0f / std::sqrt((float)dh), beta = 0.0f;
        CKB(cublasSgemmStridedBatched(g->cb, T_, N_, T, M, dh, &alpha, L->kc, dh,
                                      (long long)ctx * dh, g->qkv, 3 * d, dh, &beta, g->att, T,
                                      (long long)M * T, H));
        causal_softmax<<<H * M, LN_BLOCK, 0, s>>>(g->att, H * M, M, T, pos0);
        CK_LAUNCH();
        // Weighted sum, per head: O_h[M][dh] = P_h[M][T] V_h[T][dh], column-major
        // O_h^T (dh x M) = V_h^T P_h^T, written at column h*dh of y[M][d] (heads concatenated).
        float one = 1.0f;
        CKB(cublasGemmStridedBatchedEx(g->cb, N_, N_, dh, M, T, &one, L->vc, CUDA_R_32F, dh,
                                       (long long)ctx * dh, g->att, CUDA_R_32F, T, (long long)M * T,
                                       &beta, g->y, CUDA_R_32F, d, dh, H, CUBLAS_COMPUTE_32F,
                                       CUBLAS_GEMM_DEFAULT));
        wl_lt_matmul(&g->lt, s, g->ws, T_, N_, d, M, d, L->w_o, d, g->y, d, 0.0f, g->tmp, d,
                     CUBLASLT_EPILOGUE_BIAS, L->b_o);
        residual_add<<<grid_for((long)M * d, 256), 256, 0, s>>>(g->x, g->tmp, M * d);
        CK_LAUNCH();
        layernorm_rows<<<M, LN_BLOCK, 0, s>>>(g->x, L->ln2_g, L->ln2_b, g->h, M, d, LN_EPS);
        CK_LAUNCH();
        wl_lt_matmul(&g->lt, s, g->ws, T_, N_, 4 * d, M, d, L->w_fc, d, g->h, d, 0.0f, g->f, 4 * d,
                     CUBLASLT_EPILOGUE_GELU_BIAS, L->b_fc);
        wl_lt_matmul(&g->lt, s, g->ws, T_, N_, d, M, 4 * d, L->w_pr, 4 * d, g->f, 4 * d, 0.0f,
                     g->tmp, d, CUBLASLT_EPILOGUE_BIAS, L->b_pr);
        residual_add<<<grid_for((long)M * d, 256), 256, 0, s>>>(g->x, g->tmp, M * d);
        CK_LAUNCH();
    }
    layernorm_rows<<<M, LN_BLOCK, 0, s>>>(g->x, g->lnf_g, g->lnf_b, g->h, M, d, LN_EPS);
    CK_LAUNCH();
    // Logits for all M rows (as a framework's forward does), tied embedding wte[V][d].
    float one = 1.0f, zero = 0.0f;
    CKB(cublasSgemm(g->cb, T_, N_, V, M, d, &one, g->wte, d, g->h, d, &zero, g->logits, V));
    const float *last = g->logits + (size_t)(M - 1) * V;
    argmax_row<<<1, ARGMAX_BLOCK, 0, s>>>(last, V, g->tok, pos0 + M);
    CK_LAUNCH();
    // Keep this step's logits on the device for the final check: no extra sync per step.
    CK(cudaMemcpyAsync(g->hist + (size_t)slot * V, last, (size_t)V * sizeof(float),
                       cudaMemcpyDeviceToDevice, s));
}

// The data-dependent sync: the host needs the new token (a real loop tests it for EOS).
static int read_token(gpu *g, int pos)
{
    int t = -1;
    CK(cudaMemcpyAsync(&t, g->tok + pos, sizeof t, cudaMemcpyDeviceToHost, g->s));
    CK(cudaStreamSynchronize(g->s));
    return t;
}

static const char USAGE[] =
    "[--config tiny|gpt2-small] [--vocab V] [--d D] [--heads H] [--layers L] [--ctx C]\n"
    "       [--prompt P] [--gen N] [--seed S] [--no-check] [--static-kv]\n"
    "  Greedy generation: prefill of P prompt tokens, then N decode steps with a KV cache.\n"
    "  tiny (default): V 512, D 128, H 4, L 2, C 64, P 16, N 8.\n"
    "  gpt2-small: V 50257, D 768, H 12, L 12, C 1024, P 64, N 32 (the CPU check takes a while;\n"
    "  --no-check skips it). GENIE_STATS=1 under libgenie.so prints per-step counters.\n"
    "  --static-kv: attention spans the whole cache every step (fixed GEMM shapes).";

int main(int argc, char **argv)
{
    wl_help(argc, argv, USAGE);
    cfg c = {512, 128, 4, 2, 64, 16, 8, 7, false};
    const char *conf = wl_opt_str(argc, argv, "config");
    if (conf && !std::strcmp(conf, "gpt2-small"))
        c = cfg{50257, 768, 12, 12, 1024, 64, 32, 7, false};
    else if (conf && std::strcmp(conf, "tiny")) {
        std::fprintf(stderr, "%s: unknown config '%s'\n", argv[0], conf);
        return 2;
    }
    const wl_opt opts[] = {{"vocab", &c.vocab},   {"d", &c.d},      {"heads", &c.heads},
                           {"layers", &c.layers}, {"ctx", &c.ctx},  {"prompt", &c.prompt},
                           {"gen", &c.gen},       {"seed", &c.seed}};
    const char *flags[] = {"no-check", "static-kv", nullptr};
    wl_opt_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), flags);
    bool check = !wl_opt_flag(argc, argv, "no-check");
    c.static_kv = wl_opt_flag(argc, argv, "static-kv");
    if (c.d % c.heads || c.prompt + c.gen > c.ctx || c.d > 1L << 16 || c.ctx > 1L << 16) {
        std::fprintf(stderr, "%s: need heads | d and prompt + gen <= ctx\n", argv[0]);
        return 2;
    }
    long d = c.d, H = c.heads, V = c.vocab, P = c.prompt, NG = c.gen, CT = c.ctx;
    std::printf(
        "minigpt vocab=%ld d=%ld heads=%ld layers=%ld ctx=%ld prompt=%ld gen=%ld seed=%ld\n", V, d,
        H, c.layers, CT, P, NG, c.seed);

    model_w w;
    init_weights(c, &w);
    int *htok = (int *)std::malloc((P + NG + 1) * sizeof(int));
    wl_lcg prng((unsigned)c.seed * 2654435761u + 1u);
    for (long i = 0; i < P; i++)
        htok[i] = (int)(prng.next() % (unsigned)V);

    gpu g;
    g.c = c;
    CK(cudaStreamCreateWithFlags(&g.s, cudaStreamNonBlocking));
    CKB(cublasCreate(&g.cb));
    CKB(cublasSetStream(g.cb, g.s));
    CKB(cublasSetMathMode(
        g.cb, CUBLAS_DEFAULT_MATH)); // fp32 GEMMs stay fp32 (no TF32), as PyTorch's default
    wl_lt_init(&g.lt);
    CK(cudaMalloc(&g.ws, WL_LT_WORKSPACE));
    g.wte = wl_upload(w.wte, V * d, g.s);
    g.wpe = wl_upload(w.wpe, CT * d, g.s);
    g.lnf_g = wl_upload(w.lnf_g, d, g.s);
    g.lnf_b = wl_upload(w.lnf_b, d, g.s);
    g.l = new dev_layer[c.layers];
    for (long i = 0; i < c.layers; i++) {
        layer_w *L = &w.l[i];
        dev_layer *D = &g.l[i];
        D->ln1_g = wl_upload(L->ln1_g, d, g.s), D->ln1_b = wl_upload(L->ln1_b, d, g.s);
        D->w_qkv = wl_upload(L->w_qkv, 3 * d * d, g.s), D->b_qkv = wl_upload(L->b_qkv, 3 * d, g.s);
        D->w_o = wl_upload(L->w_o, d * d, g.s), D->b_o = wl_upload(L->b_o, d, g.s);
        D->ln2_g = wl_upload(L->ln2_g, d, g.s), D->ln2_b = wl_upload(L->ln2_b, d, g.s);
        D->w_fc = wl_upload(L->w_fc, 4 * d * d, g.s), D->b_fc = wl_upload(L->b_fc, 4 * d, g.s);
        D->w_pr = wl_upload(L->w_pr, 4 * d * d, g.s), D->b_pr = wl_upload(L->b_pr, d, g.s);
        CK(cudaMalloc(&D->kc, (size_t)H * CT * (d / H) * sizeof(float)));
        CK(cudaMalloc(&D->vc, (size_t)H * CT * (d / H) * sizeof(float)));
        if (c.static_kv) { // unwritten rows are read (with weight 0): no NaN may hide there
            CK(cudaMemsetAsync(D->kc, 0, (size_t)H * CT * (d / H) * sizeof(float), g.s));
            CK(cudaMemsetAsync(D->vc, 0, (size_t)H * CT * (d / H) * sizeof(float), g.s));
        }
    }
    long att_rows = P * P > P + NG ? P * P : P + NG; // M*T per head: P*P in prefill, <= ctx after
    if (c.static_kv)
        att_rows = P * CT; // T = ctx in every step
    CK(cudaMalloc(&g.x, (size_t)P * d * sizeof(float)));
    CK(cudaMalloc(&g.h, (size_t)P * d * sizeof(float)));
    CK(cudaMalloc(&g.qkv, (size_t)P * 3 * d * sizeof(float)));
    CK(cudaMalloc(&g.att, (size_t)H * att_rows * sizeof(float)));
    CK(cudaMalloc(&g.y, (size_t)P * d * sizeof(float)));
    CK(cudaMalloc(&g.f, (size_t)P * 4 * d * sizeof(float)));
    CK(cudaMalloc(&g.tmp, (size_t)P * d * sizeof(float)));
    CK(cudaMalloc(&g.logits, (size_t)P * V * sizeof(float)));
    CK(cudaMalloc(&g.hist, (size_t)(NG + 1) * V * sizeof(float)));
    CK(cudaMalloc(&g.tok, (size_t)(P + NG + 1) * sizeof(int)));
    CK(cudaMemcpyAsync(g.tok, htok, P * sizeof(int), cudaMemcpyHostToDevice, g.s));
    CK(cudaStreamSynchronize(g.s)); // weights resident before timing starts

    wl_stats_fn stats = wl_stats_lookup();
    if (stats) { // the KV cache buffers, for the KV pass's check (check_phase_kv.sh)
        std::printf("kv_cache:");
        for (long i = 0; i < c.layers; i++)
            std::printf(" %p %p", (void *)g.l[i].kc, (void *)g.l[i].vc);
        std::printf("\n");
    }
    wl_stats_mark("start");
    wl_stats b0 = wl_stats_read(stats);
    double t0 = wl_now_ms();
    forward(&g, (int)P, 0, 0);
    htok[P] = read_token(&g, (int)P);
    double t1 = wl_now_ms();
    wl_stats_mark("prefill");
    if (stats) {
        wl_stats b1 = wl_stats_read(stats);
        std::printf("prefill: round_trips %llu batches %llu phase_prefill %llu phase_decode %llu\n",
                    b1.round_trips - b0.round_trips, b1.batches - b0.batches,
                    b1.phase_prefill - b0.phase_prefill, b1.phase_decode - b0.phase_decode);
    }
    for (long s = 1; s <= NG; s++) {
        wl_stats before = wl_stats_read(stats);
        forward(&g, 1, (int)(P + s - 1), (int)s);
        htok[P + s] = read_token(&g, (int)(P + s));
        if (stats) {
            wl_stats after = wl_stats_read(stats);
            std::printf(
                "step %ld: round_trips %llu batches %llu bytes_sent %llu bytes_received %llu "
                "batches_delta %llu phase_prefill %llu phase_decode %llu kv_bytes %llu\n",
                s, after.round_trips - before.round_trips, after.batches - before.batches,
                after.bytes_sent - before.bytes_sent, after.bytes_received - before.bytes_received,
                after.batches_delta - before.batches_delta,
                after.phase_prefill - before.phase_prefill,
                after.phase_decode - before.phase_decode, after.kv_bytes - before.kv_bytes);
        }
    }
    double t2 = wl_now_ms();
    wl_stats_mark("decode");
    float *hist = wl_alloc_f((NG + 1) * V);
    CK(cudaMemcpyAsync(hist, g.hist, (size_t)(NG + 1) * V * sizeof(float), cudaMemcpyDeviceToHost,
                       g.s));
    CK(cudaStreamSynchronize(g.s));

    std::printf("prompt:");
    for (long i = 0; i < P; i++)
        std::printf(" %d", htok[i]);
    std::printf("\ngenerated:");
    for (long i = 0; i <= NG; i++)
        std::printf(" %d", htok[P + i]);
    std::printf("\nprefill_ms %.3f decode_ms_per_step %.3f\n", t1 - t0, NG ? (t2 - t1) / NG : 0.0);

    int rc = 0;
    if (check) {
        for (long i = P; i <= P + NG; i++)
            if (htok[i] < 0 || htok[i] >= V) {
                std::printf("RESULT FAIL token %ld out of range: %d\n", i - P, htok[i]);
                return 1;
            }
        // Teacher-forced: the reference sees the GPU's tokens, so one early difference
        // is reported where it happens instead of derailing the rest.
        double *ref = ref_forward(c, &w, htok, P + NG);
        double maxerr = 0.0, scale = 1.0;
        for (long i = 0; i < (NG + 1) * V; i++) {
            double r = ref[(P - 1) * V + i]; // rows P-1 .. P-1+NG are contiguous
            if (std::fabs(r) > scale)
                scale = std::fabs(r);
            double e = std::fabs((double)hist[i] - r);
            if (!(e <= maxerr)) // also catches NaN
                maxerr = e;
        }
        double tol = 1e-3 * scale;
        long bad_tok = -1, ties = 0;
        for (long s = 0; s <= NG; s++) {
            const double *r = ref + (P - 1 + s) * V;
            long am = 0;
            for (long v = 1; v < V; v++)
                if (r[v] > r[am])
                    am = v;
            if (am != htok[P + s]) {
                // A near tie in the reference (within the logit tolerance) may go either way.
                if (r[am] - r[htok[P + s]] <= tol)
                    ties++;
                else if (bad_tok < 0)
                    bad_tok = s;
            }
        }
        std::printf("max abs logit err vs CPU reference: %.3g (scale %.3g, tolerance %.3g)\n",
                    maxerr, scale, tol);
        if (bad_tok >= 0) {
            std::printf("RESULT FAIL token %ld: GPU %d, reference differs\n", bad_tok,
                        htok[P + bad_tok]);
            rc = 1;
        } else if (!(maxerr <= tol)) {
            std::printf("RESULT FAIL logits differ by %.3g > %.3g\n", maxerr, tol);
            rc = 1;
        } else {
            std::printf("tokens match the CPU reference%s\n", ties ? " (up to near ties)" : "");
            std::printf("RESULT OK\n");
        }
        std::free(ref);
    } else {
        std::printf("CPU check skipped\nRESULT OK\n");
    }

    for (long i = 0; i < c.layers; i++) {
        dev_layer *D = &g.l[i];
        float *ps[] = {D->ln1_g, D->ln1_b, D->w_qkv, D->b_qkv, D->w_o,  D->b_o, D->ln2_g,
                       D->ln2_b, D->w_fc,  D->b_fc,  D->w_pr,  D->b_pr, D->kc,  D->vc};
        for (float *p : ps)
            CK(cudaFree(p));
        layer_w *L = &w.l[i];
        float *hs[] = {L->ln1_g, L->ln1_b, L->w_qkv, L->b_qkv, L->w_o,  L->b_o,
                       L->ln2_g, L->ln2_b, L->w_fc,  L->b_fc,  L->w_pr, L->b_pr};
        for (float *p : hs)
            std::free(p);
    }
    float *gs[] = {g.wte, g.wpe, g.lnf_g, g.lnf_b, g.x,      g.h,   g.qkv,
                   g.att, g.y,   g.f,     g.tmp,   g.logits, g.hist};
    for (float *p : gs)
        CK(cudaFree(p));
    CK(cudaFree(g.tok));
    CK(cudaFree(g.ws));
    wl_lt_fini(&g.lt);
    CKB(cublasDestroy(g.cb));
    CK(cudaStreamDestroy(g.s));
    std::free(w.wte), std::free(w.wpe), std::free(w.lnf_g), std::free(w.lnf_b);
    std::free(hist), std::free(htok);
    delete[] w.l;
    delete[] g.l;
    return rc;
}
