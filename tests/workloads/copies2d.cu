// copies2d.cu — pitched copies and memsets, registered host memory, host functions, peer copies.
//
//   copies2d [ROWS]   (default 4096)
// Every result is checked against a host reference: cudaMemcpy2D/2DAsync in all directions
// (pageable, pinned, registered, cudaMemcpyDefault), inside a captured graph, cudaMemset2D,
// cudaMallocPitch; cudaHostRegister/Unregister with cudaPointerGetAttributes; cudaLaunchHostFunc
// and cudaStreamAddCallback ordering; cudaMemcpyPeer(Async) on device 0; and the documented
// errors. No kernels: nothing needs a CPU twin. Lines that differ between the runtime and Genie
// (what Genie refuses) are printed, not EXPECTed, for the e2e test to match. Under Genie with
// GENIE_STATS=1 it prints the round trips of one pageable D2H 2D copy of ROWS rows.
#include "wl_common.h"

#include <dlfcn.h>
#include <vector>

typedef int (*stats_fn)(char *buf, size_t n);

static unsigned long long round_trips(stats_fn fn)
{
    static char js[1 << 16];
    if (!fn || fn(js, sizeof js) != 0)
        return 0;
    const char *p = std::strstr(js, "\"round_trips\":");
    return p ? std::strtoull(p + 14, nullptr, 10) : 0;
}

static const size_t W = 100, SP = 128, DP = 160, P2 = 256;

// A host function's view: what the pinned buffer held when it ran.
struct seen {
    const unsigned char *buf;
    size_t n;
    unsigned sum;
    int calls;
    cudaStream_t stream;
    cudaError_t status;
};

static unsigned bsum(const unsigned char *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s = s * 31 + p[i];
    return s;
}

static void CUDART_CB host_fn(void *ud)
{
    seen *s = (seen *)ud;
    s->sum = bsum(s->buf, s->n);
    s->calls++;
}

static void CUDART_CB stream_cb(cudaStream_t st, cudaError_t status, void *ud)
{
    seen *s = (seen *)ud;
    s->sum = bsum(s->buf, s->n);
    s->stream = st;
    s->status = status;
    s->calls++;
}

// rows x W bytes at pitch p of a (host) -> true when equal to the reference ref (pitch SP)
static bool rows_equal(const unsigned char *a, size_t p, const unsigned char *ref, size_t rows)
{
    for (size_t r = 0; r < rows; r++)
        if (std::memcmp(a + r * p, ref + r * SP, W))
            return false;
    return true;
}

int main(int argc, char **argv)
{
    wl_help(argc, argv, "[ROWS]");
    const size_t rows = (size_t)wl_arg(argc, argv, 1, 4096);
    const char *st = std::getenv("GENIE_STATS");
    stats_fn stats = st && !std::strcmp(st, "1") ? (stats_fn)dlsym(RTLD_DEFAULT, "genie_stats_json")
                                                 : nullptr;

    std::vector<unsigned char> src(SP * rows), out(DP * rows), ref;
    wl_lcg g(7);
    for (auto &b : src)
        b = (unsigned char)(g.next() >> 24);

    unsigned char *d1, *d2;
    size_t p1 = 0;
    CK(cudaMallocPitch((void **)&d1, &p1, W, rows));
    EXPECT(p1 >= W);
    CK(cudaMalloc((void **)&d2, P2 * rows));
    cudaStream_t s;
    CK(cudaStreamCreate(&s));

    // H2D from pageable memory at another pitch, then a pageable D2H of every row: one round trip
    CK(cudaMemcpy2D(d1, p1, src.data(), SP, W, rows, cudaMemcpyHostToDevice));
    CK(cudaDeviceSynchronize());
    std::memset(out.data(), 0xEE, out.size());
    unsigned long long rt0 = round_trips(stats);
    CK(cudaMemcpy2D(out.data(), DP, d1, p1, W, rows, cudaMemcpyDeviceToHost));
    unsigned long long rt1 = round_trips(stats);
    if (stats)
        std::printf("pageable 2D D2H: %zu rows, round_trips %llu\n", rows, rt1 - rt0);
    EXPECT(rows_equal(out.data(), DP, src.data(), rows));
    bool pad = true;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = W; c < DP; c++)
            pad &= out[r * DP + c] == 0xEE;
    EXPECT(pad); // the bytes between rows are not written

    // D2D at another pitch, a memset of a sub-block, D2H into pinned memory on a stream
    unsigned char *pin;
    CK(cudaHostAlloc((void **)&pin, W * rows, cudaHostAllocDefault));
    CK(cudaMemcpy2DAsync(d2, P2, d1, p1, W, rows, cudaMemcpyDeviceToDevice, s));
    CK(cudaMemset2DAsync(d2 + 10, P2, 0x5A, 20, rows / 2, s));
    CK(cudaMemcpy2DAsync(pin, W, d2, P2, W, rows, cudaMemcpyDeviceToHost, s));
    CK(cudaStreamSynchronize(s));
    ref = src;
    for (size_t r = 0; r < rows / 2; r++)
        std::memset(&ref[r * SP + 10], 0x5A, 20);
    EXPECT(rows_equal(pin, W, ref.data(), rows));

    // cudaMemcpyDefault both ways (the direction from the pointers), synchronous memset2D
    std::vector<unsigned char> back(SP * rows, 0);
    CK(cudaMemcpy2D(d2, P2, src.data(), SP, W, rows, cudaMemcpyDefault));
    CK(cudaMemset2D(d2 + P2 * (rows - 1), P2, 0x11, W, 1));
    CK(cudaMemcpy2D(back.data(), SP, d2, P2, W, rows, cudaMemcpyDefault));
    ref = src;
    std::memset(&ref[(rows - 1) * SP], 0x11, W);
    EXPECT(rows_equal(back.data(), SP, ref.data(), rows));
    // host to host, and contiguous rows (pitch == width: one plain copy)
    std::vector<unsigned char> hh(W * rows);
    CK(cudaMemcpy2D(hh.data(), W, src.data(), SP, W, rows, cudaMemcpyHostToHost));
    EXPECT(rows_equal(hh.data(), W, src.data(), rows));
    CK(cudaMemcpy2D(d2, W, hh.data(), W, W, rows, cudaMemcpyHostToDevice));
    std::vector<unsigned char> flat(W * rows);
    CK(cudaMemcpy(flat.data(), d2, W * rows, cudaMemcpyDeviceToHost));
    EXPECT(flat == hh);

    // zero sizes do nothing and succeed; errors as the runtime documents them
    EXPECT(cudaMemcpy2D(out.data(), DP, d1, p1, 0, rows, cudaMemcpyDeviceToHost) == cudaSuccess);
    EXPECT(cudaMemcpy2D(out.data(), DP, d1, p1, W, 0, cudaMemcpyDeviceToHost) == cudaSuccess);
    EXPECT(cudaMemset2D(d1, p1, 0, 0, rows) == cudaSuccess);
    cudaError_t e = cudaMemcpy2D(out.data(), W - 1, d1, p1, W, rows, cudaMemcpyDeviceToHost);
    EXPECT(e == cudaErrorInvalidPitchValue || e == cudaErrorInvalidValue); // width > dpitch
    e = cudaMemcpy2D(d1, p1, src.data(), W - 1, W, rows, cudaMemcpyHostToDevice);
    EXPECT(e == cudaErrorInvalidPitchValue || e == cudaErrorInvalidValue); // width > spitch
    e = cudaMemcpy2D(d1, p1, src.data(), SP, W, rows, (cudaMemcpyKind)7);
    EXPECT(e == cudaErrorInvalidMemcpyDirection);
    e = cudaMemset2D(d1, W - 1, 0, W, 2);
    EXPECT(e == cudaErrorInvalidValue || e == cudaErrorInvalidPitchValue); // width > pitch
    (void)cudaGetLastError();

    // registered host memory: pinned for async copies, reported as host memory
    size_t rn = W * rows;
    unsigned char *reg = (unsigned char *)std::malloc(rn);
    CK(cudaHostRegister(reg, rn, cudaHostRegisterDefault));
    cudaPointerAttributes pa;
    CK(cudaPointerGetAttributes(&pa, reg + 5));
    EXPECT(pa.type == cudaMemoryTypeHost);
    EXPECT(cudaHostRegister(reg, rn, cudaHostRegisterDefault) == cudaErrorHostMemoryAlreadyRegistered);
    EXPECT(cudaHostRegister(reg + 64, 64, cudaHostRegisterPortable) ==
           cudaErrorHostMemoryAlreadyRegistered);
    (void)cudaGetLastError();
    CK(cudaMemcpy2DAsync(reg, W, d1, p1, W, rows, cudaMemcpyDeviceToHost, s));
    CK(cudaStreamSynchronize(s));
    EXPECT(rows_equal(reg, W, src.data(), rows));
    CK(cudaHostUnregister(reg));
    EXPECT(cudaHostUnregister(reg) == cudaErrorHostMemoryNotRegistered);
    EXPECT(cudaHostUnregister(out.data()) == cudaErrorHostMemoryNotRegistered);
    (void)cudaGetLastError();
    CK(cudaPointerGetAttributes(&pa, reg));
    EXPECT(pa.type == cudaMemoryTypeUnregistered);
    e = cudaHostRegister(reg, rn, cudaHostRegisterMapped); // Genie: no mapped host memory
    std::printf("host register mapped: %s\n", cudaGetErrorName(e));
    if (e == cudaSuccess)
        CK(cudaHostUnregister(reg));
    (void)cudaGetLastError();
    std::free(reg);

    // host functions: run after the stream's earlier work, before its later work
    seen hf = {pin, W * rows, 0, 0, nullptr, cudaSuccess};
    CK(cudaMemset2DAsync(d2, P2, 0x22, W, rows, s));
    CK(cudaMemcpy2DAsync(pin, W, d2, P2, W, rows, cudaMemcpyDeviceToHost, s));
    CK(cudaLaunchHostFunc(s, host_fn, &hf));
    CK(cudaMemcpy2DAsync(pin, W, d1, p1, W, rows, cudaMemcpyDeviceToHost, s)); // after it
    CK(cudaStreamSynchronize(s));
    std::vector<unsigned char> twos(W * rows, 0x22);
    EXPECT(hf.calls == 1);
    EXPECT(hf.sum == bsum(twos.data(), twos.size()));
    EXPECT(rows_equal(pin, W, src.data(), rows));
    seen cb = {pin, W * rows, 0, 0, nullptr, cudaErrorUnknown};
    CK(cudaMemset2DAsync(d2, P2, 0x33, W, rows, s));
    CK(cudaMemcpy2DAsync(pin, W, d2, P2, W, rows, cudaMemcpyDeviceToHost, s));
    CK(cudaStreamAddCallback(s, stream_cb, &cb, 0));
    CK(cudaStreamSynchronize(s));
    std::vector<unsigned char> threes(W * rows, 0x33);
    EXPECT(cb.calls == 1 && cb.stream == s && cb.status == cudaSuccess);
    EXPECT(cb.sum == bsum(threes.data(), threes.size()));
    seen lf = {pin, W * rows, 0, 0, nullptr, cudaSuccess};
    CK(cudaMemcpyAsync(pin, d1, W, cudaMemcpyDeviceToHost, 0));
    CK(cudaLaunchHostFunc(0, host_fn, &lf)); // the legacy stream
    CK(cudaDeviceSynchronize());
    EXPECT(lf.calls == 1);
    EXPECT(cudaStreamAddCallback(s, stream_cb, &cb, 1) == cudaErrorInvalidValue);
    (void)cudaGetLastError();

    // peer copies inside device 0; another device is invalid
    CK(cudaMemcpyPeerAsync(d2, 0, d1, 0, p1 * 2, s));
    CK(cudaMemcpyPeer(d2 + p1 * 2, 0, d1 + p1 * 2, 0, p1 * 2));
    CK(cudaMemcpy2D(out.data(), DP, d2, p1, W, 4, cudaMemcpyDeviceToHost));
    EXPECT(rows_equal(out.data(), DP, src.data(), 4));
    EXPECT(cudaMemcpyPeerAsync(d2, 1, d1, 0, 16, s) == cudaErrorInvalidDevice);
    (void)cudaGetLastError();

    // a captured graph of pitched work: H2D from pinned memory, D2D, memset; replayed twice
    cudaStream_t c;
    CK(cudaStreamCreateWithFlags(&c, cudaStreamNonBlocking));
    for (size_t i = 0; i < W * rows; i++)
        pin[i] = (unsigned char)(i * 7);
    cudaGraph_t gr;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(c, cudaStreamCaptureModeGlobal));
    CK(cudaMemcpy2DAsync(d2, P2, pin, W, W, rows, cudaMemcpyHostToDevice, c));
    CK(cudaMemcpy2DAsync(d1, p1, d2, P2, W, rows, cudaMemcpyDeviceToDevice, c));
    CK(cudaMemset2DAsync(d1 + 1, p1, 0x44, 2, rows, c));
    CK(cudaStreamEndCapture(c, &gr));
    CK(cudaGraphInstantiate(&ge, gr, 0));
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < W * rows; i++)
            pin[i] = (unsigned char)(i * 7 + k);
        CK(cudaGraphLaunch(ge, c));
        CK(cudaMemcpy2DAsync(back.data(), SP, d1, p1, W, rows, cudaMemcpyDeviceToHost, c));
        CK(cudaStreamSynchronize(c));
        bool ok = true;
        for (size_t r = 0; r < rows; r++)
            for (size_t x = 0; x < W; x++) {
                unsigned char want = (x == 1 || x == 2) ? 0x44 : (unsigned char)((r * W + x) * 7 + k);
                ok &= back[r * SP + x] == want;
            }
        EXPECT(ok);
    }
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(gr));
    // a host function in a capture: a host node in the runtime, refused by Genie; a stream
    // callback cannot be captured at all
    CK(cudaStreamBeginCapture(c, cudaStreamCaptureModeGlobal));
    e = cudaLaunchHostFunc(c, host_fn, &hf);
    std::printf("host func in capture: %s\n", cudaGetErrorName(e));
    cudaGraph_t g2 = nullptr;
    e = cudaStreamEndCapture(c, &g2);
    if (g2)
        CK(cudaGraphDestroy(g2));
    CK(cudaStreamBeginCapture(c, cudaStreamCaptureModeGlobal));
    e = cudaStreamAddCallback(c, stream_cb, &cb, 0);
    std::printf("stream callback in capture: %s\n", cudaGetErrorName(e));
    g2 = nullptr;
    e = cudaStreamEndCapture(c, &g2);
    if (g2)
        CK(cudaGraphDestroy(g2));
    (void)cudaGetLastError();

    CK(cudaStreamDestroy(c));
    CK(cudaStreamDestroy(s));
    CK(cudaFreeHost(pin));
    CK(cudaFree(d1));
    CK(cudaFree(d2));
    return wl_result();
}
