// streams.cu — two non-blocking streams ordered by an event, pinned async copies, memsets, syncs.
//
// Stream A: record start; H2D dA <- hA (pinned); add_const(dA, 7); record evA; D2H hOutA <- dA.
// Stream B: memset dB = 0; wait evA; axpy_int(dB += 3 * dA); memset dC bytes to 0x01;
//           add_const(dC, 1); D2H hOutB <- dB; record evB.
// Then: cudaEventSynchronize(evA), cudaEventQuery(evA) == cudaSuccess, elapsed(start, evA)
// >= 0, cudaStreamSynchronize(B), D2H hOutC <- dC on A, cudaDeviceSynchronize, checks:
//   hOutA = hA + 7, hOutB = 3 * (hA + 7) (only right if B really waited for evA),
//   hOutC = 0x01010102 (the memset's byte pattern, then the kernel).
// The streams are cudaStreamNonBlocking, so nothing orders them but the event.
#include "wl_common.h"

__global__ void add_const(int *p, int c, int n)
{
    int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        p[i] += c;
}

__global__ void axpy_int(int *y, const int *x, int a, int n)
{
    int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] += a * x[i];
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[N=262144]   two streams, events, pinned async copies, memsets");
    int n = (int)wl_arg(argc, argv, 1, 1 << 18);
    size_t bytes = (size_t)n * sizeof(int);

    int *hA, *hOutA, *hOutB, *hOutC;
    CK(cudaMallocHost(&hA, bytes));
    CK(cudaMallocHost(&hOutA, bytes));
    CK(cudaMallocHost(&hOutB, bytes));
    CK(cudaMallocHost(&hOutC, bytes));
    for (int i = 0; i < n; i++) {
        hA[i] = (int)(((long long)i * 7919) % 10007) - 5000;
        hOutA[i] = hOutB[i] = hOutC[i] = -1; // a copy that never lands shows up as -1
    }

    int *dA, *dB, *dC;
    CK(cudaMalloc(&dA, bytes));
    CK(cudaMalloc(&dB, bytes));
    CK(cudaMalloc(&dC, bytes));
    cudaStream_t sA, sB;
    CK(cudaStreamCreateWithFlags(&sA, cudaStreamNonBlocking));
    CK(cudaStreamCreateWithFlags(&sB, cudaStreamNonBlocking));
    cudaEvent_t evStart, evA, evB;
    CK(cudaEventCreate(&evStart));
    CK(cudaEventCreate(&evA));
    CK(cudaEventCreate(&evB));

    int block = 256, grid = (n + block - 1) / block;
    if (grid > 256)
        grid = 256;

    CK(cudaEventRecord(evStart, sA));
    CK(cudaMemcpyAsync(dA, hA, bytes, cudaMemcpyHostToDevice, sA));
    add_const<<<grid, block, 0, sA>>>(dA, 7, n);
    CK_LAUNCH();
    CK(cudaEventRecord(evA, sA));
    CK(cudaMemcpyAsync(hOutA, dA, bytes, cudaMemcpyDeviceToHost, sA));

    CK(cudaMemsetAsync(dB, 0, bytes, sB));
    CK(cudaStreamWaitEvent(sB, evA, 0));
    axpy_int<<<grid, block, 0, sB>>>(dB, dA, 3, n);
    CK_LAUNCH();
    CK(cudaMemsetAsync(dC, 0x01, bytes, sB));
    add_const<<<grid, block, 0, sB>>>(dC, 1, n);
    CK_LAUNCH();
    CK(cudaMemcpyAsync(hOutB, dB, bytes, cudaMemcpyDeviceToHost, sB));
    CK(cudaEventRecord(evB, sB));

    int fails = 0;
    CK(cudaEventSynchronize(evA));
    cudaError_t q = cudaEventQuery(evA);
    std::printf("event query after sync: %s\n", cudaGetErrorName(q));
    if (q != cudaSuccess)
        fails++;
    float ms = -1.0f;
    CK(cudaEventElapsedTime(&ms, evStart, evA));
    std::printf("event elapsed >= 0: %s\n", ms >= 0.0f ? "yes" : "no"); // value varies by run
    if (!(ms >= 0.0f))
        fails++;

    CK(cudaStreamSynchronize(sB));
    q = cudaEventQuery(evB);
    std::printf("event B query after stream sync: %s\n", cudaGetErrorName(q));
    if (q != cudaSuccess)
        fails++;
    CK(cudaMemcpyAsync(hOutC, dC, bytes, cudaMemcpyDeviceToHost, sA));
    CK(cudaDeviceSynchronize());

    int badA = -1, badB = -1, badC = -1;
    for (int i = 0; i < n; i++) {
        if (hOutA[i] != hA[i] + 7 && badA < 0)
            badA = i;
        if (hOutB[i] != 3 * (hA[i] + 7) && badB < 0)
            badB = i;
        if (hOutC[i] != 0x01010102 && badC < 0)
            badC = i;
    }
    std::printf("streams n=%d grid=%d block=%d\n", n, grid, block);
    std::printf("A[0]=%d A[%d]=%d B[0]=%d B[%d]=%d C[0]=0x%08x\n", hOutA[0], n - 1, hOutA[n - 1],
                hOutB[0], n - 1, hOutB[n - 1], (unsigned)hOutC[0]);

    CK(cudaEventDestroy(evStart));
    CK(cudaEventDestroy(evA));
    CK(cudaEventDestroy(evB));
    CK(cudaStreamDestroy(sA));
    CK(cudaStreamDestroy(sB));
    CK(cudaFree(dA));
    CK(cudaFree(dB));
    CK(cudaFree(dC));
    if (badA < 0 && badB < 0 && badC < 0 && fails == 0) {
        CK(cudaFreeHost(hA));
        CK(cudaFreeHost(hOutA));
        CK(cudaFreeHost(hOutB));
        CK(cudaFreeHost(hOutC));
        std::printf("RESULT OK\n");
        return 0;
    }
    std::printf("RESULT FAIL");
    if (fails)
        std::printf(" events=%d", fails);
    if (badA >= 0)
        std::printf(" A[%d]=%d want %d", badA, hOutA[badA], hA[badA] + 7);
    if (badB >= 0)
        std::printf(" B[%d]=%d want %d", badB, hOutB[badB], 3 * (hA[badB] + 7));
    if (badC >= 0)
        std::printf(" C[%d]=0x%08x want 0x01010102", badC, (unsigned)hOutC[badC]);
    std::printf("\n");
    return 1;
}
