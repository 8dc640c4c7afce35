"""test_cudnn.py — stock PyTorch's cuDNN paths through libgenie.so on the fake GPU, values checked.

Run under the shim (tests/torch/run.sh test_cudnn.py): convolutions forward and backward
(PyTorch's v8 path: the cuDNN backend API through cudnn-frontend; x.grad and w.grad through
autograd), eval-mode batch norm (cudnnBatchNormalizationForwardInference) and training batch
norm forward and backward (cudnnBatchNormalizationForwardTrainingEx, BackwardEx: y, running
statistics, x.grad, weight.grad, bias.grad) run on the fake cuDNN (tests/fakegpu/dnn), which
computes them on the CPU; each result is compared with PyTorch's own CPU result. Only calls
that launch no PyTorch kernel are used (no bias: PyTorch adds it with a kernel of its own,
which the fake GPU cannot run). The shim's counters must show that cuDNN did the work
(cudnnBackendExecute and the batch-norm calls, counted exactly), so a silent fallback to
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


def training(g):
    """Convolution backward (x.grad and w.grad through autograd: cuDNN's backward-data and
    backward-filter graphs) and batch-norm training forward and backward
    (cudnnBatchNormalizationForwardTrainingEx, BackwardEx), each compared with PyTorch's CPU
    autograd. The output gradient is uploaded from the host in the output's layout, so no
    PyTorch kernel runs (the fake GPU cannot run them): no bias, no reduction, no loss."""
    c0 = counts()
    # (N, C, H, W, K, kernel, stride, padding, dilation, groups, channels_last, dtype)
    cases = [
        (2, 3, 9, 8, 4, 3, 1, 1, 1, 1, False, torch.float32),
        (2, 4, 11, 10, 6, 3, 2, 1, 1, 2, True, torch.float32),
        (1, 4, 9, 9, 4, 3, 1, 2, 2, 1, False, torch.float32),
        (2, 6, 7, 7, 6, 3, 2, 1, 1, 6, True, torch.float32),  # depthwise, stride 2
        (1, 3, 16, 16, 8, 7, 2, 3, 1, 1, False, torch.float32),  # ResNet's stem, small
        (2, 4, 8, 8, 4, 3, 1, 1, 1, 1, False, torch.float16),
    ]
    for n, c, h, w, k, r, s, p, d, gr, cl, dt in cases:
        x = torch.randn(n, c, h, w, generator=g).to(dt)
        wt = torch.randn(k, c // gr, r, r, generator=g).to(dt)
        fmt = torch.channels_last if cl else torch.contiguous_format
        x, wt = x.to(memory_format=fmt), wt.to(memory_format=fmt)
        # the reference in float32 on the CPU (no half convolution there)
        xr, wr = x.float().clone().requires_grad_(), wt.float().clone().requires_grad_()
        yr = F.conv2d(xr, wr, stride=s, padding=p, dilation=d, groups=gr)
        gy = torch.randn(yr.shape, generator=g).to(dt).contiguous(memory_format=fmt)
        yr.backward(gy.float())
        xc, wc = x.cuda().requires_grad_(), wt.cuda().requires_grad_()
        y = F.conv2d(xc, wc, stride=s, padding=p, dilation=d, groups=gr)
        y.backward(gy.cuda())
        tag = f"{n}x{c}x{h}x{w} k{k} r{r} s{s} p{p} d{d} g{gr} {'NHWC' if cl else 'NCHW'} {dt}"
        tol, rtol = (1e-4, 1e-3) if dt == torch.float32 else (5e-2, 2e-2)
        check(f"conv2d backward x.grad {tag}", xc.grad, xr.grad, tol, rtol)
        check(f"conv2d backward w.grad {tag}", wc.grad, wr.grad, tol, rtol)
    for fn, xs, ws, kw in ((F.conv3d, (1, 2, 5, 6, 7), (3, 2, 3, 3, 3), {"padding": 1}),
                           (F.conv1d, (2, 4, 33), (5, 4, 5), {"stride": 2})):
        x, wt = torch.randn(xs, generator=g), torch.randn(ws, generator=g)
        xr, wr = x.clone().requires_grad_(), wt.clone().requires_grad_()
        yr = fn(xr, wr, **kw)
        gy = torch.randn(yr.shape, generator=g)
        yr.backward(gy)
        xc, wc = x.cuda().requires_grad_(), wt.cuda().requires_grad_()
        fn(xc, wc, **kw).backward(gy.cuda())
        check(f"{fn.__name__} backward x.grad", xc.grad, xr.grad, 1e-4)
        check(f"{fn.__name__} backward w.grad", wc.grad, wr.grad, 1e-4)
    want_conv = (len(cases) + 2) * 3  # forward, backward data, backward filter

    bn_cases = [(False, (4, 5, 6, 7)), (True, (4, 5, 6, 7)), (False, (3, 4, 9))]
    for cl, shape in bn_cases:
        x = torch.randn(shape, generator=g) * 2 + 0.5
        if cl:
            x = x.to(memory_format=torch.channels_last)
        ch = shape[1]
        rm, rv = torch.randn(ch, generator=g), torch.rand(ch, generator=g) + 0.5
        wb, bb = torch.randn(ch, generator=g), torch.randn(ch, generator=g)
        gy = torch.randn(shape, generator=g)
        if cl:
            gy = gy.contiguous(memory_format=torch.channels_last)
        xr, wr, br = (t.clone().requires_grad_() for t in (x, wb, bb))
        rmr, rvr = rm.clone(), rv.clone()
        yr = F.batch_norm(xr, rmr, rvr, wr, br, training=True, momentum=0.1, eps=1e-5)
        yr.backward(gy)
        xc, wc, bc = (t.cuda().requires_grad_() for t in (x, wb, bb))
        rmc, rvc = rm.cuda(), rv.cuda()
        out = F.batch_norm(xc, rmc, rvc, wc, bc, training=True, momentum=0.1, eps=1e-5)
        out.backward(gy.cuda())
        tag = f"{'x'.join(map(str, shape))} {'NHWC' if cl else 'NCHW'}"
        check(f"batch_norm train y {tag}", out.detach(), yr.detach(), 1e-4)
        check(f"batch_norm train running mean {tag}", rmc, rmr, 1e-5)
        check(f"batch_norm train running var {tag}", rvc, rvr, 1e-5)
        check(f"batch_norm backward x.grad {tag}", xc.grad, xr.grad, 1e-4)
        check(f"batch_norm backward weight.grad {tag}", wc.grad, wr.grad, 1e-4)
        check(f"batch_norm backward bias.grad {tag}", bc.grad, br.grad, 1e-4)
    c1 = counts()
    names = ("cudnnBackendExecute", "cudnnBatchNormalizationForwardTrainingEx",
             "cudnnBatchNormalizationBackwardEx")
    ran = {k: c1.get(k, 0) - c0.get(k, 0) for k in names}
    print("cuDNN training calls:", ran)
    want = dict(zip(names, (want_conv, len(bn_cases), len(bn_cases))))
    for k in names:
        if ran[k] != want[k]:
            print(f"FAIL cuDNN ran {k} {ran[k]} times, want {want[k]}")
            failed.append(k)


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
    training(g)
    print(f"{len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
