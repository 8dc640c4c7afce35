// saxpy.cu — y = a*x + y over N floats, ITERS accumulating launches, one final D2H copy.
//
// Genie check: ITERS launches followed by one D2H copy must cost exactly one round trip,
// so the loop holds no sync call (cudaGetLastError is answered locally and is fine).
// Each launch uses a different a, so the result depends on every launch and on each
// launch's own arguments (a batch replayed with stale arguments would be caught).
#include <cmath>

#include "wl_common.h"

// Grid-stride loop: correct for any 1-D grid. fmaf is explicit so the GPU, the CPU twin
// and the reference all compute the same correctly rounded value (no contraction lottery).
__global__ void saxpy(int n, float a, const float *x, float *y)
{
    int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] = fmaf(a, x[i], y[i]);
}

static float coef(int it) { return 0.5f + 0.125f * (float)(it % 8); }

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[N=1048576] [ITERS=10]   y = a*x + y, ITERS launches, one D2H copy");
    int n = (int)wl_arg(argc, argv, 1, 1 << 20);
    int iters = (int)wl_arg(argc, argv, 2, 10);

    float *x = (float *)std::malloc((size_t)n * sizeof(float));
    float *y = (float *)std::malloc((size_t)n * sizeof(float));
    float *ref = (float *)std::malloc((size_t)n * sizeof(float));
    if (!x || !y || !ref) {
        std::fprintf(stderr, "out of host memory\n");
        return 2;
    }
    wl_lcg rng(12345u);
    for (int i = 0; i < n; i++) {
        x[i] = rng.unit();
        y[i] = rng.unit();
        ref[i] = y[i];
    }

    float *dx, *dy;
    CK(cudaMalloc(&dx, (size_t)n * sizeof(float)));
    CK(cudaMalloc(&dy, (size_t)n * sizeof(float)));
    CK(cudaMemcpy(dx, x, (size_t)n * sizeof(float), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dy, y, (size_t)n * sizeof(float), cudaMemcpyHostToDevice));

    int block = 256;
    int grid = (n + block - 1) / block;
    if (grid > 1024)
        grid = 1024; // exercises the grid-stride path when n > 256K
    for (int it = 0; it < iters; it++) {
        saxpy<<<grid, block>>>(n, coef(it), dx, dy);
        CK_LAUNCH();
    }
    CK(cudaMemcpy(y, dy, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost)); // the only sync

    for (int it = 0; it < iters; it++)
        for (int i = 0; i < n; i++)
            ref[i] = std::fmaf(coef(it), x[i], ref[i]);

    double maxrel = 0.0, sum = 0.0;
    int bad = -1;
    for (int i = 0; i < n; i++) {
        double d = std::fabs((double)y[i] - (double)ref[i]);
        double rel = d / (std::fabs((double)ref[i]) > 1.0 ? std::fabs((double)ref[i]) : 1.0);
        if (rel > maxrel)
            maxrel = rel;
        if (!(rel <= 1e-4) && bad < 0) // !(<=) also catches NaN
            bad = i;
        sum += y[i];
    }
    std::printf("saxpy n=%d iters=%d grid=%d block=%d\n", n, iters, grid, block);
    std::printf("y[0]=%.6f y[%d]=%.6f sum=%.6f\n", y[0], n - 1, y[n - 1], sum);
    std::printf("max rel err vs CPU reference: %.3g\n", maxrel);

    CK(cudaFree(dx));
    CK(cudaFree(dy));
    int rc = 0;
    if (bad >= 0) {
        std::printf("RESULT FAIL y[%d]=%.9g want %.9g\n", bad, y[bad], ref[bad]);
        rc = 1;
    } else {
        std::printf("RESULT OK\n");
    }
    std::free(x);
    std::free(y);
    std::free(ref);
    return rc;
}
