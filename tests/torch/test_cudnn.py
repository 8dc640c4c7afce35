"""test_cudnn.py — stock PyTorch's cuDNN paths through libgenie.so on the fake GPU, values checked.

Run under the shim (tests/torch/run.sh test_cudnn.py): convolutions (PyTorch's v8 path: the
cuDNN backend API through cudnn-frontend) and eval-mode batch norm
(cudnnBatchNormalizationForwardInference) run on the fake cuDNN (tests/fakegpu/dnn), which
computes them on the CPU; each result is compared with PyTorch's own CPU result. Only calls
that launch no PyTorch kernel are used (no bias: PyTorch adds it with a kernel of its own,
which the fake GPU cannot run). The shim's counters must show that cuDNN did the work
(cudnnBackendExecute, cudnnBatchNormalizationForwardInference), so a silent fallback to
PyTorch's native convolution fails the test. Exit 0 pass, 1 fail.
"""
import ctypes
import json
import sys

import torch
import torch.nn.functional as F

failed = []


def check(name, got, want, atol, rtol=1e-3):
    got = got.cpu().float()
    want = want.float()
    ok = got.shape == want.shape and torch.allclose(got, want, atol=atol, rtol=rtol)
    err = (got - want).abs().max().item() if got.shape == want.shape else float("inf")
    print(f"{'PASS' if ok else 'FAIL'} {name}: max abs error {err:.3g}", flush=True)
    if not ok:
        failed.append(name)


def counts():
    fn = ctypes.CDLL(None).genie_stats_json
    fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    b = ctypes.create_string_buffer(1 << 20)
    fn(b, len(b))
    return json.loads(b.value)["per_api"]


def main():
    assert torch.backends.cudnn.is_available() and torch.backends.cudnn.enabled
    print("cuDNN version seen by torch:", torch.backends.cudnn.version())
    g = torch.Generator().manual_seed(11)
    c0 = counts()
    # (N, C, H, W, K, kernel, stride, padding, dilation, groups)
    cases = [
        (2, 3, 9, 8, 4, 3, 1, 1, 1, 1),
        (1, 4, 11, 10, 6, 3, 2, 1, 1, 1),
        (1, 4, 9, 9, 4, 3, 1, 2, 2, 1),
        (2, 6, 7, 7, 6, 3, 1, 1, 1, 3),
        (1, 8, 8, 8, 16, 1, 2, 0, 1, 1),
        (1, 3, 16, 16, 8, 7, 2, 3, 1, 1),  # ResNet's stem, small
    ]
    for n, c, h, w, k, r, s, p, d, gr in cases:
        x = torch.randn(n, c, h, w, generator=g)
        wt = torch.randn(k, c // gr, r, r, generator=g)
        ref = F.conv2d(x, wt, stride=s, padding=p, dilation=d, groups=gr)
        tag = f"{n}x{c}x{h}x{w} k{k} r{r} s{s} p{p} d{d} g{gr}"
        check(f"conv2d f32 NCHW {tag}",
              F.conv2d(x.cuda(), wt.cuda(), stride=s, padding=p, dilation=d, groups=gr), ref, 1e-4)
        xc = x.to(memory_format=torch.channels_last)
        wc = wt.to(memory_format=torch.channels_last)
        out = F.conv2d(xc.cuda(), wc.cuda(), stride=s, padding=p, dilation=d, groups=gr)
        assert out.is_contiguous(memory_format=torch.channels_last), "NHWC result layout"
        check(f"conv2d f32 NHWC {tag}", out, ref, 1e-4)
        for dt, tol in ((torch.float16, 3e-2), (torch.bfloat16, 2.5e-1)):
            xh, wh = x.to(dt), wt.to(dt)
            want = F.conv2d(xh.float(), wh.float(), stride=s, padding=p, dilation=d, groups=gr)
            check(f"conv2d {dt} NCHW {tag}",
                  F.conv2d(xh.cuda(), wh.cuda(), stride=s, padding=p, dilation=d, groups=gr),
                  want, tol, 2e-2)
    x = torch.randn(1, 2, 5, 6, 7, generator=g)
    wt = torch.randn(3, 2, 3, 3, 3, generator=g)
    check("conv3d f32", F.conv3d(x.cuda(), wt.cuda(), padding=1), F.conv3d(x, wt, padding=1), 1e-4)
    x = torch.randn(2, 4, 33, generator=g)
    wt = torch.randn(5, 4, 5, generator=g)
    check("conv1d f32", F.conv1d(x.cuda(), wt.cuda(), stride=2), F.conv1d(x, wt, stride=2), 1e-4)

    for cl in (False, True):
        x = torch.randn(2, 5, 6, 7, generator=g)
        if cl:
            x = x.to(memory_format=torch.channels_last)
        rm, rv = torch.randn(5, generator=g), torch.rand(5, generator=g) + 0.5
        wb, bb = torch.randn(5, generator=g), torch.randn(5, generator=g)
        got = F.batch_norm(x.cuda(), rm.cuda(), rv.cuda(), wb.cuda(), bb.cuda(), training=False,
                           eps=1e-5)
        check(f"batch_norm eval f32 {'NHWC' if cl else 'NCHW'}", got,
              F.batch_norm(x, rm, rv, wb, bb, training=False, eps=1e-5), 1e-5)
    c1 = counts()
    ran = {k: c1.get(k, 0) - c0.get(k, 0) for k in ("cudnnBackendExecute",
                                                     "cudnnBatchNormalizationForwardInference")}
    print("cuDNN calls:", ran)
    want_conv = len(cases) * 4 + 2
    if ran["cudnnBackendExecute"] != want_conv:
        print(f"FAIL cuDNN did not run every convolution: {ran['cudnnBackendExecute']} of "
              f"{want_conv}")
        failed.append("executes")
    if ran["cudnnBatchNormalizationForwardInference"] != 2:
        print("FAIL cuDNN did not run both batch norms")
        failed.append("batch norms")
    print(f"{len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
