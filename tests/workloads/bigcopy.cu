// bigcopy.cu — copies larger than one wire record: split into pieces both ways, byte-exact.
//
//   bigcopy [MIB=160] [PAUSE_MS=0]
// H2D then D2H of MIB MiB (Genie sends copies in 64 MiB pieces), an unaligned interior
// range, and an async D2H into pinned memory completed by a stream sync. With PAUSE_MS, then
// a pause, a small copy each way, and the round trip again (genie-remote drops the shared
// windows of its worker after 2 s without a big frame, and makes new ones). Prints RESULT OK.
#include "wl_common.h"

#include <unistd.h>
#include <vector>

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[MIB=160] [PAUSE_MS=0]");
    size_t n = (size_t)wl_arg(argc, argv, 1, 160) << 20;
    long pause_ms = wl_arg(argc, argv, 2, 0);
    std::vector<unsigned char> src(n), back(n);
    wl_lcg g(11);
    for (size_t i = 0; i < n; i += 4) {
        unsigned v = g.next();
        std::memcpy(&src[i], &v, n - i < 4 ? n - i : 4);
    }
    unsigned char *d;
    CK(cudaMalloc(&d, n));
    CK(cudaMemcpy(d, src.data(), n, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(back.data(), d, n, cudaMemcpyDeviceToHost));
    int fail = std::memcmp(src.data(), back.data(), n) != 0;
    std::printf("round trip of %zu MiB: %s\n", n >> 20, fail ? "DIFFERENT" : "identical");

    // an interior range that starts and ends off any piece boundary
    size_t off = (64u << 20) - 12345, len = n - off - 777;
    std::vector<unsigned char> part(len);
    CK(cudaMemcpy(part.data(), d + off, len, cudaMemcpyDeviceToHost));
    int bad = std::memcmp(part.data(), src.data() + off, len) != 0;
    std::printf("interior range [%zu, +%zu): %s\n", off, len, bad ? "DIFFERENT" : "identical");
    fail |= bad;

    unsigned char *pinned;
    CK(cudaMallocHost(&pinned, n));
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    CK(cudaMemcpyAsync(pinned, d, n, cudaMemcpyDeviceToHost, s));
    CK(cudaStreamSynchronize(s));
    bad = std::memcmp(pinned, src.data(), n) != 0;
    std::printf("async into pinned memory: %s\n", bad ? "DIFFERENT" : "identical");
    fail |= bad;

    if (pause_ms > 0) {
        usleep((useconds_t)pause_ms * 1000);
        unsigned char small[1024], small_back[1024];
        std::memcpy(small, src.data() + 5, sizeof small);
        CK(cudaMemcpy(d + 3, small, sizeof small, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(small_back, d + 3, sizeof small, cudaMemcpyDeviceToHost));
        bad = std::memcmp(small, small_back, sizeof small) != 0;
        std::memcpy(src.data() + 3, small, sizeof small); /* d holds that now */
        CK(cudaMemcpy(back.data(), d, n, cudaMemcpyDeviceToHost));
        bad |= std::memcmp(src.data(), back.data(), n) != 0;
        CK(cudaMemcpy(d, back.data(), n, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(pinned, d, n, cudaMemcpyDeviceToHost));
        bad |= std::memcmp(pinned, src.data(), n) != 0;
        std::printf("after a pause of %ld ms: %s\n", pause_ms, bad ? "DIFFERENT" : "identical");
        fail |= bad;
    }

    CK(cudaStreamDestroy(s));
    CK(cudaFreeHost(pinned));
    CK(cudaFree(d));
    std::printf(fail ? "RESULT FAIL\n" : "RESULT OK\n");
    return fail;
}
