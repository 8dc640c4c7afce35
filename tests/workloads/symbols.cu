// symbols.cu — device variables: __constant__ and __device__ through cudaMemcpyToSymbol,
// cudaMemcpyFromSymbol (sync and async), cudaGetSymbolAddress/Size, a kernel reading a
// __constant__ table and counting into a __device__ counter, and the errors the runtime
// gives for a bad offset, a wrong direction and an unknown symbol. Prints RESULT OK.
#include "wl_common.h"

#include <cmath>

__constant__ float coef[4];
__device__ int counter;
__device__ float table[256];

__global__ void poly(float *y, const float *x, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float v = x[i];
        y[i] = coef[0] + v * (coef[1] + v * (coef[2] + v * coef[3]));
        atomicAdd(&counter, 1);
    }
}

static int check_poly(const float *y, const float *x, int n, const float *c)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        float v = x[i];
        float want = c[0] + v * (c[1] + v * (c[2] + v * c[3]));
        bad += std::fabs(y[i] - want) > 1e-5f * (1 + std::fabs(want));
    }
    return bad;
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[n]");
    int n = (int)wl_arg(argc, argv, 1, 4096);
    float *hx = new float[n], *hy = new float[n];
    for (int i = 0; i < n; i++)
        hx[i] = (float)(i % 97) / 97.0f - 0.5f;
    float *dx, *dy;
    CK(cudaMalloc(&dx, n * sizeof(float)));
    CK(cudaMalloc(&dy, n * sizeof(float)));
    CK(cudaMemcpy(dx, hx, n * sizeof(float), cudaMemcpyHostToDevice));

    // a kernel reads the __constant__ table set by cudaMemcpyToSymbol
    const float c1[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    CK(cudaMemcpyToSymbol(coef, c1, sizeof c1));
    int zero = 0;
    CK(cudaMemcpyToSymbol(counter, &zero, sizeof zero));
    poly<<<(n + 255) / 256, 256>>>(dy, dx, n);
    CK_LAUNCH();
    CK(cudaMemcpy(hy, dy, n * sizeof(float), cudaMemcpyDeviceToHost));
    EXPECT(check_poly(hy, hx, n, c1) == 0);
    int count = -1;
    CK(cudaMemcpyFromSymbol(&count, counter, sizeof count));
    std::printf("counter after one launch: %d\n", count);
    EXPECT(count == n);

    // the async forms on a stream, in order with the launch between them
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    const float c2[4] = {0.25f, 1.0f, -1.0f, 0.125f};
    CK(cudaMemcpyToSymbolAsync(coef, c2, sizeof c2, 0, cudaMemcpyHostToDevice, s));
    poly<<<(n + 255) / 256, 256, 0, s>>>(dy, dx, n);
    CK_LAUNCH();
    int count2 = -1;
    CK(cudaMemcpyFromSymbolAsync(&count2, counter, sizeof count2, 0, cudaMemcpyDeviceToHost, s));
    CK(cudaMemcpyAsync(hy, dy, n * sizeof(float), cudaMemcpyDeviceToHost, s));
    CK(cudaStreamSynchronize(s));
    EXPECT(check_poly(hy, hx, n, c2) == 0);
    EXPECT(count2 == 2 * n);

    // the address and size; an ordinary copy through the address; a partial read back
    void *tp = nullptr;
    size_t tsize = 0;
    CK(cudaGetSymbolAddress(&tp, table));
    CK(cudaGetSymbolSize(&tsize, table));
    EXPECT(tp != nullptr && tsize == sizeof(float) * 256);
    float ht[256], back[16];
    for (int i = 0; i < 256; i++)
        ht[i] = (float)i * 0.5f;
    CK(cudaMemcpy(tp, ht, sizeof ht, cudaMemcpyHostToDevice));
    CK(cudaMemcpyFromSymbol(back, table, sizeof back, 100 * sizeof(float)));
    bool same = true;
    for (int i = 0; i < 16; i++)
        same &= back[i] == ht[100 + i];
    EXPECT(same);
    cudaPointerAttributes pa;
    CK(cudaPointerGetAttributes(&pa, tp));
    EXPECT(pa.type == cudaMemoryTypeDevice);
    // device to device: the table's first 4 floats into coef
    CK(cudaMemcpyToSymbol(coef, tp, 4 * sizeof(float), 0, cudaMemcpyDeviceToDevice));
    float c3[4];
    CK(cudaMemcpyFromSymbol(c3, coef, sizeof c3));
    EXPECT(c3[0] == 0.0f && c3[1] == 0.5f && c3[2] == 1.0f && c3[3] == 1.5f);

    // errors: past the end, the wrong direction, not a symbol
    float big[8] = {0};
    cudaError_t e = cudaMemcpyToSymbol(coef, big, sizeof big);
    std::printf("past the end: %s\n", cudaGetErrorName(e));
    EXPECT(e == cudaErrorInvalidValue);
    (void)cudaGetLastError();
    e = cudaMemcpyToSymbol(coef, c1, sizeof c1, 0, cudaMemcpyDeviceToHost);
    std::printf("wrong direction: %s\n", cudaGetErrorName(e));
    EXPECT(e == cudaErrorInvalidMemcpyDirection);
    (void)cudaGetLastError();
    static int not_a_symbol;
    e = cudaMemcpyToSymbol(not_a_symbol, c1, sizeof(int));
    std::printf("not a symbol: %s\n", cudaGetErrorName(e));
    EXPECT(e == cudaErrorInvalidSymbol);
    (void)cudaGetLastError();
    EXPECT(cudaFree(tp) != cudaSuccess); // a variable is not an allocation
    (void)cudaGetLastError();

    CK(cudaStreamDestroy(s));
    CK(cudaFree(dx));
    CK(cudaFree(dy));
    delete[] hx;
    delete[] hy;
    return wl_result();
}
