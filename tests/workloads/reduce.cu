// reduce.cu — two-pass parallel sum (per-block partials in shared memory, then one final block).
//
// Runs twice: int data summed in long long (exact anywhere), and float data summed in
// float, where the result depends on the order of additions: the CPU twin reproduces
// the kernel's order (per-thread grid-stride sum, then the shared-memory tree) so the
// fake GPU is bit-exact with a real one. Shared memory is dynamic (launch parameter),
// so the launch's shmem size travels through Genie as well.
#include <cmath>

#include "wl_common.h"

// One partial sum per block. Requires shmem >= blockDim.x * sizeof(Acc); the tree drops
// the odd element for a non-power-of-two block, as such kernels do (the host launches
// powers of two).
template <typename In, typename Acc>
__global__ void reduce_partial(const In *in, int n, Acc *partial)
{
    extern __shared__ __align__(8) unsigned char smem_raw[];
    Acc *sh = reinterpret_cast<Acc *>(smem_raw);
    unsigned tid = threadIdx.x;
    Acc acc = 0;
    int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + tid; i < n; i += stride)
        acc += (Acc)in[i];
    sh[tid] = acc;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s)
            sh[tid] += sh[tid + s];
        __syncthreads();
    }
    if (tid == 0)
        partial[blockIdx.x] = sh[0];
}

// Sums m partials into out[0]. Meant for one block; every block of a larger grid
// computes and stores the same value.
template <typename Acc>
__global__ void reduce_final(const Acc *partial, int m, Acc *out)
{
    extern __shared__ __align__(8) unsigned char smem_raw[];
    Acc *sh = reinterpret_cast<Acc *>(smem_raw);
    unsigned tid = threadIdx.x;
    Acc acc = 0;
    for (int i = tid; i < m; i += blockDim.x)
        acc += partial[i];
    sh[tid] = acc;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s)
            sh[tid] += sh[tid + s];
        __syncthreads();
    }
    if (tid == 0)
        out[0] = sh[0];
}

template <typename In, typename Acc>
static Acc gpu_sum(const In *h, int n, int grid, int block)
{
    In *din;
    Acc *dpart, *dout, out;
    CK(cudaMalloc(&din, (size_t)n * sizeof(In)));
    CK(cudaMalloc(&dpart, (size_t)grid * sizeof(Acc)));
    CK(cudaMalloc(&dout, sizeof(Acc)));
    CK(cudaMemcpy(din, h, (size_t)n * sizeof(In), cudaMemcpyHostToDevice));
    reduce_partial<In, Acc><<<grid, block, block * sizeof(Acc)>>>(din, n, dpart);
    CK_LAUNCH();
    reduce_final<Acc><<<1, block, block * sizeof(Acc)>>>(dpart, grid, dout);
    CK_LAUNCH();
    CK(cudaMemcpy(&out, dout, sizeof(Acc), cudaMemcpyDeviceToHost));
    CK(cudaFree(din));
    CK(cudaFree(dpart));
    CK(cudaFree(dout));
    return out;
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[N=1048576] [GRID=256] [BLOCK=256]   two-pass sum of N ints and N floats\n"
                        "BLOCK must be a power of two <= 1024");
    int n = (int)wl_arg(argc, argv, 1, 1 << 20);
    int grid = (int)wl_arg(argc, argv, 2, 256);
    int block = (int)wl_arg(argc, argv, 3, 256);
    if (block > 1024 || (block & (block - 1))) {
        std::fprintf(stderr, "BLOCK must be a power of two <= 1024\n");
        return 2;
    }

    int *hi = (int *)std::malloc((size_t)n * sizeof(int));
    float *hf = (float *)std::malloc((size_t)n * sizeof(float));
    if (!hi || !hf) {
        std::fprintf(stderr, "out of host memory\n");
        return 2;
    }
    wl_lcg rng(2024u);
    long long iref = 0;
    double fref = 0.0, fabs_sum = 0.0;
    for (int i = 0; i < n; i++) {
        hi[i] = (int)(rng.next() % 2001u) - 1000; // [-1000, 1000]
        hf[i] = rng.unit() * 0.5f + 0.25f;        // mean 0.25: the sum is far from 0
        iref += hi[i];
        fref += hf[i];
        fabs_sum += std::fabs((double)hf[i]);
    }

    long long isum = gpu_sum<int, long long>(hi, n, grid, block);
    float fsum = gpu_sum<float, float>(hf, n, grid, block);

    // A float sum's error is bounded by eps * sum|x| times a small depth factor;
    // 1e-4 * sum|x| is loose for any summation order but catches a lost block.
    double ferr = std::fabs((double)fsum - fref);
    bool iok = isum == iref;
    bool fok = ferr <= 1e-4 * fabs_sum;
    std::printf("reduce n=%d grid=%d block=%d\n", n, grid, block);
    std::printf("int sum=%lld ref=%lld\n", isum, iref);
    std::printf("float sum=%.9g ref=%.9g abs err=%.3g\n", (double)fsum, fref, ferr);
    std::free(hi);
    std::free(hf);
    if (iok && fok) {
        std::printf("RESULT OK\n");
        return 0;
    }
    std::printf("RESULT FAIL%s%s\n", iok ? "" : " int sum mismatch", fok ? "" : " float sum off");
    return 1;
}
