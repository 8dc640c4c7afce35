// weights.cu — uploads "weights" the way a model load does, for the weight cache (GENIE_WEIGHT_CACHE).
//
//   weights [N=6]
// N buffers of a few MiB each (sizes differ, contents deterministic: the same in every run),
// uploaded with cudaMemcpy, from pinned memory with cudaMemcpyAsync on a stream, and in
// pieces larger than Genie's 64 MiB record for the last one when N > 6; plus one small
// buffer (below the 1 MiB direct threshold, never cached). Everything is copied back and
// compared byte for byte. Prints "weights: N large uploads, B bytes" and RESULT OK.
#include "wl_common.h"

#include <vector>

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[N=6]");
    int n = (int)wl_arg(argc, argv, 1, 6);
    cudaStream_t st;
    CK(cudaStreamCreate(&st));
    size_t total = 0;
    int fail = 0;
    std::vector<unsigned char *> dev(n);
    std::vector<std::vector<unsigned char>> host(n);
    for (int i = 0; i < n; i++) {
        size_t sz = ((size_t)(2 + i % 3) << 20) + 4096 * (size_t)i + 40;
        if (n > 6 && i == n - 1)
            sz = (size_t)70 << 20; // two pieces: 64 MiB and the rest
        host[i].resize(sz);
        wl_lcg g(1000u + (unsigned)i);
        for (size_t k = 0; k < sz; k += 4) {
            unsigned v = g.next();
            std::memcpy(&host[i][k], &v, sz - k < 4 ? sz - k : 4);
        }
        CK(cudaMalloc(&dev[i], sz));
        if (i % 2) { // pinned source, async on a stream: the same as a pageable one to Genie
            unsigned char *pin;
            CK(cudaMallocHost(&pin, sz));
            std::memcpy(pin, host[i].data(), sz);
            CK(cudaMemcpyAsync(dev[i], pin, sz, cudaMemcpyHostToDevice, st));
            CK(cudaStreamSynchronize(st));
            CK(cudaFreeHost(pin));
        } else {
            CK(cudaMemcpy(dev[i], host[i].data(), sz, cudaMemcpyHostToDevice));
        }
        total += sz;
    }
    // a small upload: recorded into the batch as ever
    std::vector<unsigned char> small(4096, 0x5a), small_back(4096);
    unsigned char *dsmall;
    CK(cudaMalloc(&dsmall, small.size()));
    CK(cudaMemcpy(dsmall, small.data(), small.size(), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(small_back.data(), dsmall, small.size(), cudaMemcpyDeviceToHost));
    fail |= small != small_back;
    for (int i = 0; i < n; i++) {
        std::vector<unsigned char> back(host[i].size());
        CK(cudaMemcpy(back.data(), dev[i], back.size(), cudaMemcpyDeviceToHost));
        if (back != host[i]) {
            std::printf("buffer %d differs\n", i);
            fail = 1;
        }
        CK(cudaFree(dev[i]));
    }
    CK(cudaFree(dsmall));
    CK(cudaStreamDestroy(st));
    std::printf("weights: %d large uploads, %zu bytes\n", n, total);
    std::printf(fail ? "RESULT FAIL\n" : "RESULT OK\n");
    return fail;
}
