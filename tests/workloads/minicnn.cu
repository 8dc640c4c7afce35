// minicnn.cu — ResNet-style CNN inference (im2col + cuBLAS GEMM convolutions, bottleneck blocks) checked against a CPU reference.
//
// Stem (7x7/2 conv, BN, ReLU, 3x3/2 max pool), four stages of bottleneck blocks
// (1x1 -> 3x3 (stride on the 3x3, as torchvision's ResNet v1.5) -> 1x1, projection
// shortcut on each stage's first block), global average pool, linear classifier.
// Batch norm is folded into each convolution's weights and bias on the host, as
// inference engines do; the CPU reference applies the unfolded BN, so the fold is
// checked too. Activations live channel-major, [C][B][H][W], so that one GEMM computes a
// convolution for the whole batch: out[OC][B*OH*OW] = W[OC][C*k*k] x col[C*k*k][B*OH*OW].
// Convolutions use cublasGemmEx (fp32, CUBLAS_COMPUTE_32F), the classifier cublasSgemm.
#include <cmath>

#include "wl_models.h"

#define BN_EPS 1e-5f

// ------------------------------------------------------------------ kernels ----

// col[(c*k + ky)*k + kx][(b*OH + oy)*OW + ox] = x[c][b][oy*stride - pad + ky][ox*stride - pad +
// kx], 0 outside the image. Grid-stride over the whole col matrix.
__global__ void im2col(const float *x, float *col, int C, int B, int H, int W, int k, int stride,
                       int pad, int OH, int OW)
{
    long long S = (long long)B * OH * OW, total = (long long)C * k * k * S;
    long long step = (long long)gridDim.x * blockDim.x;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += step) {
        long long row = idx / S, s = idx % S;
        int kx = (int)(row % k), ky = (int)(row / k % k), c = (int)(row / k / k);
        int ox = (int)(s % OW), oy = (int)(s / OW % OH), b = (int)(s / OW / OH);
        int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
        col[idx] = (iy >= 0 && iy < H && ix >= 0 && ix < W)
                       ? x[(((long long)c * B + b) * H + iy) * W + ix]
                       : 0.0f;
    }
}

// y[c][s] = y[c][s] + bias[c] (+ res[c][s] when res != NULL), then ReLU when relu != 0:
// the folded-BN bias, the bottleneck's residual and its activation in one pass. A
// comparison rather than fmaxf so -0 and NaN map to +0 the same way in the twin.
__global__ void bias_act_ch(float *y, const float *bias, const float *res, int C, int S, int relu)
{
    long long total = (long long)C * S;
    long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
        float v = y[i] + bias[i / S];
        if (res)
            v = v + res[i];
        if (relu)
            v = v > 0.0f ? v : 0.0f;
        y[i] = v;
    }
}

// y[c][b][oy][ox] = max over the k x k window (padding never wins), grid-stride.
__global__ void maxpool2d(const float *x, float *y, int C, int B, int H, int W, int k, int stride,
                          int pad, int OH, int OW)
{
    long long total = (long long)C * B * OH * OW;
    long long step = (long long)gridDim.x * blockDim.x;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += step) {
        int ox = (int)(idx % OW), oy = (int)(idx / OW % OH);
        long long cb = idx / OW / OH; // c*B + b
        float m = -INFINITY;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
                    float v = x[(cb * H + iy) * W + ix];
                    m = v > m ? v : m;
                }
            }
        y[idx] = m;
    }
}

// y[b][c] = mean over HW of x[c][b][:]: the classifier wants [B][C] rows. One thread per
// (b, c), summing in index order, so the twin matches bit for bit.
__global__ void global_avgpool(const float *x, float *y, int C, int B, int HW)
{
    int total = B * C;
    int step = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
        int b = i / C, c = i % C;
        const float *p = x + ((long long)c * B + b) * HW;
        float s = 0.0f;
        for (int j = 0; j < HW; j++)
            s += p[j];
        y[i] = s / (float)HW;
    }
}

// ------------------------------------------------------------------- model ----

struct conv {
    int C, OC, k, stride, pad, H, W, OH, OW;
    float *w, *gamma, *beta, *mean, *var; // host, unfolded: the reference's
    float *dw, *db;                       // device, BN folded in
};

struct block {
    conv c1, c2, c3, proj;
    bool has_proj;
};

struct net {
    long batch, size, width, classes, seed, blocks[4];
    conv stem;
    int pool_k, pool_s, pool_p, PH, PW; // stem max pool and its output size
    block *bl;
    int nbl;
    int feat; // channels into the classifier
    float *fc_w, *fc_b, *dfc_w, *dfc_b;
    size_t max_col; // floats of the largest im2col matrix
};

static int out_dim(int in, int k, int s, int p)
{
    return (in + 2 * p - k) / s + 1;
}

// He-uniform weights; BN with gamma in [g_lo, g_lo + 0.5), running stats near (0, 1).
// A small gamma on each block's last BN keeps the residual stream from growing with depth.
static void conv_init(net *n, conv *cv, wl_lcg &rng, int C, int OC, int k, int s, int p, int H,
                      int W, float g_lo, cudaStream_t st)
{
    cv->C = C, cv->OC = OC, cv->k = k, cv->stride = s, cv->pad = p, cv->H = H, cv->W = W;
    cv->OH = out_dim(H, k, s, p), cv->OW = out_dim(W, k, s, p);
    if (cv->OH < 1 || cv->OW < 1) {
        std::fprintf(stderr, "minicnn: input too small for the network (conv %dx%d -> %dx%d)\n", H,
                     W, cv->OH, cv->OW);
        std::exit(2);
    }
    size_t K = (size_t)C * k * k;
    cv->w = wl_alloc_f(OC * K);
    wl_fill(rng, cv->w, OC * K, std::sqrt(6.0f / (float)K));
    cv->gamma = wl_alloc_f(OC), cv->beta = wl_alloc_f(OC);
    cv->mean = wl_alloc_f(OC), cv->var = wl_alloc_f(OC);
    for (int o = 0; o < OC; o++) {
        cv->gamma[o] = g_lo + 0.25f * (rng.unit() + 1.0f);
        cv->beta[o] = 0.1f * rng.unit();
        cv->mean[o] = 0.1f * rng.unit();
        cv->var[o] = 1.0f + 0.2f * rng.unit();
    }
    // Fold: BN(conv(x)) = (W x - mean) * gamma / sqrt(var + eps) + beta
    //                   = (W * sc) x + (beta - mean * sc),  sc = gamma / sqrt(var + eps).
    float *wf = wl_alloc_f(OC * K), *bf = wl_alloc_f(OC);
    for (int o = 0; o < OC; o++) {
        float sc = cv->gamma[o] / std::sqrt(cv->var[o] + BN_EPS);
        for (size_t i = 0; i < K; i++)
            wf[o * K + i] = cv->w[o * K + i] * sc;
        bf[o] = cv->beta[o] - cv->mean[o] * sc;
    }
    cv->dw = wl_upload(wf, OC * K, st);
    cv->db = wl_upload(bf, OC, st);
    std::free(wf), std::free(bf); // a pageable async H2D copy has taken the bytes on return
    size_t colsz = K * n->batch * cv->OH * cv->OW;
    if (!(k == 1 && s == 1 && p == 0) && colsz > n->max_col)
        n->max_col = colsz;
    if (colsz > (size_t)1 << 31 || (size_t)OC * n->batch * cv->OH * cv->OW > (size_t)1 << 31) {
        std::fprintf(stderr, "minicnn: layer too large for 32-bit GEMM sizes\n");
        std::exit(2);
    }
}

static void conv_free(conv *cv)
{
    std::free(cv->w), std::free(cv->gamma), std::free(cv->beta), std::free(cv->mean);
    std::free(cv->var);
    CK(cudaFree(cv->dw));
    CK(cudaFree(cv->db));
}

static void net_init(net *n, cudaStream_t st)
{
    wl_lcg rng((unsigned)n->seed);
    int H = (int)n->size, w = (int)n->width;
    conv_init(n, &n->stem, rng, 3, w, 7, 2, 3, H, H, 0.75f, st);
    n->pool_k = 3, n->pool_s = 2, n->pool_p = 1;
    n->PH = out_dim(n->stem.OH, 3, 2, 1), n->PW = out_dim(n->stem.OW, 3, 2, 1);
    n->nbl = (int)(n->blocks[0] + n->blocks[1] + n->blocks[2] + n->blocks[3]);
    n->bl = new block[n->nbl];
    int C = w, h = n->PH, wd = n->PW, bi = 0;
    for (int sg = 0; sg < 4; sg++) {
        int mid = w << sg, out = 4 * mid;
        for (long j = 0; j < n->blocks[sg]; j++, bi++) {
            block *b = &n->bl[bi];
            int s = (j == 0 && sg > 0) ? 2 : 1;
            conv_init(n, &b->c1, rng, C, mid, 1, 1, 0, h, wd, 0.75f, st);
            conv_init(n, &b->c2, rng, mid, mid, 3, s, 1, h, wd, 0.75f, st);
            conv_init(n, &b->c3, rng, mid, out, 1, 1, 0, b->c2.OH, b->c2.OW, 0.25f, st);
            b->has_proj = (j == 0);
            if (b->has_proj)
                conv_init(n, &b->proj, rng, C, out, 1, s, 0, h, wd, 0.75f, st);
            C = out, h = b->c2.OH, wd = b->c2.OW;
        }
    }
    n->feat = C;
    n->fc_w = wl_alloc_f((size_t)n->classes * C);
    n->fc_b = wl_alloc_f(n->classes);
    wl_fill(rng, n->fc_w, (size_t)n->classes * C, std::sqrt(3.0f / (float)C));
    wl_fill(rng, n->fc_b, n->classes, 0.1f);
    n->dfc_w = wl_upload(n->fc_w, (size_t)n->classes * C, st);
    n->dfc_b = wl_upload(n->fc_b, n->classes, st);
}

// ------------------------------------------------------------------- device ----

struct gpu {
    cudaStream_t s;
    cublasHandle_t cb;
    float *col; // im2col scratch, reused: the stream orders its uses
    float *bufs[512];
    int nbufs;
};

static float *gpu_alloc(gpu *g, size_t n)
{
    if (g->nbufs == 512) {
        std::fprintf(stderr, "minicnn: too many activation buffers\n");
        std::exit(2);
    }
    float *p;
    CK(cudaMalloc(&p, n * sizeof(float)));
    g->bufs[g->nbufs++] = p;
    return p;
}

static int grid_for(long long n)
{
    long long g = (n + 255) / 256;
    return (int)(g > 4096 ? 4096 : g < 1 ? 1 : g);
}

// One convolution (+ folded BN bias, optional residual, optional ReLU) on x [C][B][H][W].
static float *conv_gpu(gpu *g, const net *n, const conv *cv, const float *x, const float *res,
                       int relu)
{
    int B = (int)n->batch, S = B * cv->OH * cv->OW, K = cv->C * cv->k * cv->k;
    float *y = gpu_alloc(g, (size_t)cv->OC * S);
    const float *A = x; // a 1x1 stride-1 convolution is the GEMM on x itself
    if (!(cv->k == 1 && cv->stride == 1 && cv->pad == 0)) {
        im2col<<<grid_for((long long)K * S), 256, 0, g->s>>>(
            x, g->col, cv->C, B, cv->H, cv->W, cv->k, cv->stride, cv->pad, cv->OH, cv->OW);
        CK_LAUNCH();
        A = g->col;
    }
    // Row-major out[OC][S] is column-major S x OC = col^T-as-stored (S x K, ld S) times
    // W-as-stored (K x OC, ld K): no transposes.
    const float one = 1.0f, zero = 0.0f;
    CKB(cublasGemmEx(g->cb, CUBLAS_OP_N, CUBLAS_OP_N, S, cv->OC, K, &one, A, CUDA_R_32F, S, cv->dw,
                     CUDA_R_32F, K, &zero, y, CUDA_R_32F, S, CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT));
    bias_act_ch<<<grid_for((long long)cv->OC * S), 256, 0, g->s>>>(y, cv->db, res, cv->OC, S, relu);
    CK_LAUNCH();
    return y;
}

// Logits as [classes][B] (row-major), asynchronous on g->s.
static float *forward_gpu(gpu *g, const net *n, const float *dx)
{
    int B = (int)n->batch;
    float *x = conv_gpu(g, n, &n->stem, dx, nullptr, 1);
    int C = n->stem.OC;
    float *p = gpu_alloc(g, (size_t)C * B * n->PH * n->PW);
    maxpool2d<<<grid_for((long long)C * B * n->PH * n->PW), 256, 0, g->s>>>(
        x, p, C, B, n->stem.OH, n->stem.OW, n->pool_k, n->pool_s, n->pool_p, n->PH, n->PW);
    CK_LAUNCH();
    x = p;
    for (int i = 0; i < n->nbl; i++) {
        const block *b = &n->bl[i];
        float *t1 = conv_gpu(g, n, &b->c1, x, nullptr, 1);
        float *t2 = conv_gpu(g, n, &b->c2, t1, nullptr, 1);
        const float *sc = b->has_proj ? conv_gpu(g, n, &b->proj, x, nullptr, 0) : x;
        x = conv_gpu(g, n, &b->c3, t2, sc, 1);
    }
    const conv *lastc = &n->bl[n->nbl - 1].c3;
    int HW = lastc->OH * lastc->OW, F = n->feat, NC = (int)n->classes;
    float *feat = gpu_alloc(g, (size_t)B * F);
    global_avgpool<<<grid_for((long long)B * F), 256, 0, g->s>>>(x, feat, F, B, HW);
    CK_LAUNCH();
    // logits^T: row-major [NC][B] = column-major B x NC = op_T(feat as stored, C x B)
    // times fc_w as stored (C x NC); then the bias per class is bias_act_ch's per-row bias.
    float *out = gpu_alloc(g, (size_t)NC * B);
    const float one = 1.0f, zero = 0.0f;
    CKB(cublasSgemm(g->cb, CUBLAS_OP_T, CUBLAS_OP_N, B, NC, F, &one, feat, F, n->dfc_w, F, &zero,
                    out, B));
    bias_act_ch<<<grid_for((long long)NC * B), 256, 0, g->s>>>(out, n->dfc_b, nullptr, NC, B, 0);
    CK_LAUNCH();
    return out;
}

// ------------------------------------------------------------- CPU reference ----
// Direct convolution in double on [C][B][H][W], then the unfolded batch norm.

static double *ref_conv(const net *n, const conv *cv, const double *x, const double *res, int relu)
{
    int B = (int)n->batch, k = cv->k;
    size_t plane = (size_t)cv->OH * cv->OW;
    double *y = (double *)std::malloc((size_t)cv->OC * B * plane * sizeof(double));
    if (!y) {
        std::fprintf(stderr, "out of host memory (reference)\n");
        std::exit(2);
    }
    for (int o = 0; o < cv->OC; o++) {
        double sc = cv->gamma[o] / std::sqrt((double)cv->var[o] + BN_EPS);
        for (int b = 0; b < B; b++)
            for (int oy = 0; oy < cv->OH; oy++)
                for (int ox = 0; ox < cv->OW; ox++) {
                    double s = 0.0;
                    for (int c = 0; c < cv->C; c++)
                        for (int ky = 0; ky < k; ky++) {
                            int iy = oy * cv->stride - cv->pad + ky;
                            if (iy < 0 || iy >= cv->H)
                                continue;
                            for (int kx = 0; kx < k; kx++) {
                                int ix = ox * cv->stride - cv->pad + kx;
                                if (ix < 0 || ix >= cv->W)
                                    continue;
                                s += (double)cv->w[((size_t)o * cv->C + c) * k * k + ky * k + kx] *
                                     x[(((size_t)c * B + b) * cv->H + iy) * cv->W + ix];
                            }
                        }
                    size_t i = ((size_t)o * B + b) * plane + (size_t)oy * cv->OW + ox;
                    double v = (s - cv->mean[o]) * sc + cv->beta[o];
                    if (res)
                        v += res[i];
                    y[i] = (relu && v < 0.0) ? 0.0 : v;
                }
    }
    return y;
}

// Logits [B][classes]; caller frees.
static double *forward_ref(const net *n, const float *hx)
{
    int B = (int)n->batch, S = (int)n->size;
    size_t nin = (size_t)3 * B * S * S;
    double *x0 = (double *)std::malloc(nin * sizeof(double));
    for (size_t i = 0; i < nin; i++)
        x0[i] = hx[i];
    double *x = ref_conv(n, &n->stem, x0, nullptr, 1);
    std::free(x0);
    int C = n->stem.OC, H = n->stem.OH, W = n->stem.OW;
    double *p = (double *)std::malloc((size_t)C * B * n->PH * n->PW * sizeof(double));
    for (int cb = 0; cb < C * B; cb++)
        for (int oy = 0; oy < n->PH; oy++)
            for (int ox = 0; ox < n->PW; ox++) {
                double m = -INFINITY;
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                        if (iy >= 0 && iy < H && ix >= 0 && ix < W &&
                            x[((size_t)cb * H + iy) * W + ix] > m)
                            m = x[((size_t)cb * H + iy) * W + ix];
                    }
                p[((size_t)cb * n->PH + oy) * n->PW + ox] = m;
            }
    std::free(x);
    x = p;
    for (int i = 0; i < n->nbl; i++) {
        const block *b = &n->bl[i];
        double *t1 = ref_conv(n, &b->c1, x, nullptr, 1);
        double *t2 = ref_conv(n, &b->c2, t1, nullptr, 1);
        double *sc = b->has_proj ? ref_conv(n, &b->proj, x, nullptr, 0) : x;
        double *y = ref_conv(n, &b->c3, t2, sc, 1);
        if (sc != x)
            std::free(sc);
        std::free(t1), std::free(t2), std::free(x);
        x = y;
    }
    const conv *lastc = &n->bl[n->nbl - 1].c3;
    int HW = lastc->OH * lastc->OW, F = n->feat, NC = (int)n->classes;
    double *logits = (double *)std::malloc((size_t)B * NC * sizeof(double));
    double *feat = (double *)std::malloc((size_t)F * sizeof(double));
    for (int b = 0; b < B; b++) {
        for (int c = 0; c < F; c++) {
            double s = 0.0;
            for (int j = 0; j < HW; j++)
                s += x[((size_t)c * B + b) * HW + j];
            feat[c] = s / HW;
        }
        for (int o = 0; o < NC; o++) {
            double s = n->fc_b[o];
            for (int c = 0; c < F; c++)
                s += (double)n->fc_w[(size_t)o * F + c] * feat[c];
            logits[(size_t)b * NC + o] = s;
        }
    }
    std::free(feat), std::free(x);
    return logits;
}

static const char USAGE[] =
    "[--config tiny|resnet50] [--batch B] [--size HW] [--width W] [--blocks N] [--classes K]\n"
    "       [--seed S] [--no-check]\n"
    "  ResNet-style bottleneck CNN on B random HWxHW RGB images; stage widths W, 2W, 4W, 8W\n"
    "  (x4 out), --blocks N bottlenecks in every stage.\n"
    "  tiny (default): B 2, 32x32, W 8, 1-1-1-1 blocks, 10 classes.\n"
    "  resnet50: B 8, 224x224, W 64, 3-4-6-3 blocks, 1000 classes (the CPU check takes\n"
    "  minutes; --no-check skips it).";

int main(int argc, char **argv)
{
    wl_help(argc, argv, USAGE);
    net n;
    std::memset(&n, 0, sizeof n);
    n.batch = 2, n.size = 32, n.width = 8, n.classes = 10, n.seed = 11;
    n.blocks[0] = n.blocks[1] = n.blocks[2] = n.blocks[3] = 1;
    const char *conf = wl_opt_str(argc, argv, "config");
    if (conf && !std::strcmp(conf, "resnet50")) {
        n.batch = 8, n.size = 224, n.width = 64, n.classes = 1000;
        n.blocks[0] = 3, n.blocks[1] = 4, n.blocks[2] = 6, n.blocks[3] = 3;
    } else if (conf && std::strcmp(conf, "tiny")) {
        std::fprintf(stderr, "%s: unknown config '%s'\n", argv[0], conf);
        return 2;
    }
    long blocks = 0;
    const wl_opt opts[] = {{"batch", &n.batch}, {"size", &n.size},       {"width", &n.width},
                           {"blocks", &blocks}, {"classes", &n.classes}, {"seed", &n.seed}};
    const char *flags[] = {"no-check", nullptr};
    wl_opt_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), flags);
    if (blocks)
        n.blocks[0] = n.blocks[1] = n.blocks[2] = n.blocks[3] = blocks;
    bool check = !wl_opt_flag(argc, argv, "no-check");
    if (n.width > 4096 || n.size > 4096 || n.batch > 4096 || n.classes > 1 << 20) {
        std::fprintf(stderr, "%s: sizes out of range\n", argv[0]);
        return 2;
    }
    int B = (int)n.batch, S = (int)n.size, NC = (int)n.classes;
    std::printf(
        "minicnn batch=%d size=%dx%d width=%ld blocks=%ld-%ld-%ld-%ld classes=%d seed=%ld\n", B, S,
        S, n.width, n.blocks[0], n.blocks[1], n.blocks[2], n.blocks[3], NC, n.seed);

    gpu g;
    std::memset(&g, 0, sizeof g);
    CK(cudaStreamCreateWithFlags(&g.s, cudaStreamNonBlocking));
    CKB(cublasCreate(&g.cb));
    CKB(cublasSetStream(g.cb, g.s));
    CKB(cublasSetMathMode(g.cb, CUBLAS_DEFAULT_MATH));
    net_init(&n, g.s);
    CK(cudaMalloc(&g.col, (n.max_col ? n.max_col : 1) * sizeof(float)));

    // Input images, generated NCHW (as a loader would hand them over) and stored CNHW.
    size_t nin = (size_t)3 * B * S * S;
    float *img = wl_alloc_f(nin), *hx = wl_alloc_f(nin);
    wl_lcg irng((unsigned)n.seed * 2654435761u + 3u);
    wl_fill(irng, img, nin, 1.0f);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++)
            std::memcpy(hx + ((size_t)c * B + b) * S * S, img + ((size_t)b * 3 + c) * S * S,
                        (size_t)S * S * sizeof(float));
    float *dx = wl_upload(hx, nin, g.s);
    CK(cudaStreamSynchronize(g.s));

    wl_stats_mark("start");
    double t0 = wl_now_ms();
    float *dout = forward_gpu(&g, &n, dx);
    float *out = wl_alloc_f((size_t)NC * B); // [NC][B]
    CK(cudaMemcpyAsync(out, dout, (size_t)NC * B * sizeof(float), cudaMemcpyDeviceToHost, g.s));
    CK(cudaStreamSynchronize(g.s));
    double t1 = wl_now_ms();
    wl_stats_mark("forward");

    int *cls = (int *)std::malloc(B * sizeof(int));
    for (int b = 0; b < B; b++) {
        cls[b] = 0;
        for (int o = 1; o < NC; o++)
            if (out[(size_t)o * B + b] > out[(size_t)cls[b] * B + b])
                cls[b] = o;
    }
    std::printf("classes:");
    for (int b = 0; b < B; b++)
        std::printf(" %d", cls[b]);
    std::printf("\nforward_ms %.3f\n", t1 - t0);

    int rc = 0;
    if (check) {
        double *ref = forward_ref(&n, hx);
        double maxerr = 0.0, scale = 1.0;
        for (int b = 0; b < B; b++)
            for (int o = 0; o < NC; o++) {
                double r = ref[(size_t)b * NC + o];
                double e = std::fabs((double)out[(size_t)o * B + b] - r);
                if (std::fabs(r) > scale)
                    scale = std::fabs(r);
                if (!(e <= maxerr)) // also catches NaN
                    maxerr = e;
            }
        double tol = 1e-3 * scale;
        int bad = -1, ties = 0;
        std::printf("ref classes:");
        for (int b = 0; b < B; b++) {
            const double *r = ref + (size_t)b * NC;
            int am = 0;
            for (int o = 1; o < NC; o++)
                if (r[o] > r[am])
                    am = o;
            std::printf(" %d", am);
            if (am != cls[b]) {
                if (r[am] - r[cls[b]] <= tol)
                    ties++; // a near tie may go either way
                else if (bad < 0)
                    bad = b;
            }
        }
        std::printf("\nmax logit err vs CPU reference: %.3g (scale %.3g, tolerance %.3g)\n", maxerr,
                    scale, tol);
        if (bad >= 0) {
            std::printf("RESULT FAIL image %d: class %d, reference differs\n", bad, cls[bad]);
            rc = 1;
        } else if (!(maxerr <= tol)) {
            std::printf("RESULT FAIL logits differ by %.3g > %.3g\n", maxerr, tol);
            rc = 1;
        } else {
            std::printf("classes match the CPU reference%s\nRESULT OK\n",
                        ties ? " (up to near ties)" : "");
        }
        std::free(ref);
    } else {
        std::printf("CPU check skipped\nRESULT OK\n");
    }

    for (int i = 0; i < g.nbufs; i++)
        CK(cudaFree(g.bufs[i]));
    conv_free(&n.stem);
    for (int i = 0; i < n.nbl; i++) {
        conv_free(&n.bl[i].c1), conv_free(&n.bl[i].c2), conv_free(&n.bl[i].c3);
        if (n.bl[i].has_proj)
            conv_free(&n.bl[i].proj);
    }
    delete[] n.bl;
    CK(cudaFree(n.dfc_w));
    CK(cudaFree(n.dfc_b));
    CK(cudaFree(g.col));
    CK(cudaFree(dx));
    CKB(cublasDestroy(g.cb));
    CK(cudaStreamDestroy(g.s));
    std::free(n.fc_w), std::free(n.fc_b), std::free(img), std::free(hx), std::free(out);
    std::free(cls);
    return rc;
}
