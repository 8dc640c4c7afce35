"""test_sdpa.py — scaled_dot_product_attention through libgenie.so on the fake GPU (issue 14 item 1).

Run under the shim (tests/torch/run.sh test_sdpa.py; PyTorch's own kernels are no-ops there,
cuDNN's work is computed by the fake cuDNN, tests/fakegpu/dnn/fd_sdpa.c):
  1. default backend selection on the fake sm_90 device: fp16 and bf16 pick cuDNN attention
     (torch._fused_sdp_choice), fp32 the memory-efficient kernel; each cuDNN call's values
     (causal and not, Sq != Skv, a custom scale, the [B, S, H, D] layout models pass, an
     explicit log-sum-exp output) are compared with PyTorch's CPU result, and the counters
     prove that cuDNN computed it (one cudnnBackendExecute, no kernel launch): a fallback to a
     native kernel, which the fake GPU runs as a no-op, fails the values or the counts;
  2. each backend forced (torch.nn.attention.sdpa_kernel) in fp16 and fp32 either runs (its
     calls counted: cuDNN executes, kernel launches, cuBLAS GEMMs) or raises PyTorch's own
     RuntimeError; the outcome per case is what PyTorch 2.11 decides on sm_90, checked exactly;
     native kernels' values are not checked (no CPU twins);
  3. a backward through cuDNN attention either runs or raises PyTorch's cuDNN error (the fake
     cuDNN runs no SDPA backward graph);
  4. round trips and bytes of the first cuDNN attention (its plan built: heuristics and
     finalizes ask the executor) and of a later one (the plan cached by PyTorch).
run.sh fails the test on any call Genie refuses. Exit 0 pass, 1 fail.
"""
import ctypes
import json
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

failed = []
_fn = ctypes.CDLL(None).genie_stats_json
_fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def stats():
    b = ctypes.create_string_buffer(1 << 20)
    _fn(b, len(b))
    return json.loads(b.value)


def delta(s0, s1):
    api0, api1 = s0["per_api"], s1["per_api"]
    d = {k: api1[k] - api0.get(k, 0) for k in api1 if api1[k] != api0.get(k, 0)}
    for k in ("round_trips", "bytes_sent", "bytes_received"):
        d[k] = s1[k] - s0[k]
    return d


def gemms(d):
    return sum(v for k, v in d.items() if k.startswith("cublas") and ("gemm" in k.lower() or
                                                                      "Matmul" in k))


def check(name, ok, msg=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + msg if msg else ''}", flush=True)
    if not ok:
        failed.append(name)


def rand(g, *shape, dt):
    return torch.randn(*shape, generator=g).to(dt)


def values_case(g, dt, causal, B=2, H=3, Sq=16, Skv=16, D=64, scale=None, bshd=False):
    tag = (f"{str(dt)[6:]} causal={int(causal)} B{B} H{H} Sq{Sq} Skv{Skv} D{D}"
           f"{' scale=%g' % scale if scale else ''}{' BSHD' if bshd else ''}")
    if bshd:  # models keep [B, S, H, D] and pass a transposed view
        q = rand(g, B, Sq, H, D, dt=dt).transpose(1, 2)
        k = rand(g, B, Skv, H, D, dt=dt).transpose(1, 2)
        v = rand(g, B, Skv, H, D, dt=dt).transpose(1, 2)
    else:
        q, k, v = (rand(g, B, H, s, D, dt=dt) for s in (Sq, Skv, Skv))
    want = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=causal,
                                          scale=scale)
    qc, kc, vc = (t.cuda() for t in (q, k, v))  # strides preserved: BSHD stays a view
    if bshd:
        assert not qc.is_contiguous(), qc.stride()
    choice = SDPBackend(torch._fused_sdp_choice(qc, kc, vc, is_causal=causal, scale=scale))
    s0 = stats()
    got = F.scaled_dot_product_attention(qc, kc, vc, is_causal=causal, scale=scale).cpu().float()
    d = delta(s0, stats())
    tol = 2e-2 if dt == torch.float16 else 6e-2
    err = (got - want).abs().max().item()
    check(f"sdpa {tag}: backend {choice.name}, values", torch.allclose(
        got, want, atol=tol, rtol=tol), f"max abs error {err:.3g}")
    check(f"sdpa {tag}: cuDNN computed it", choice == SDPBackend.CUDNN_ATTENTION and
          d.get("cudnnBackendExecute", 0) == 1 and d.get("__cudaLaunchKernel", 0) == 0,
          f"executes {d.get('cudnnBackendExecute', 0)}, launches {d.get('__cudaLaunchKernel', 0)}, "
          f"round trips {d['round_trips']} ({d.get('cudnnBackendFinalize', 0)} finalizes), "
          f"{d['bytes_sent']} B sent, {d['bytes_received']} B received")
    return d


def lse_case(g, dt, causal):
    q, k, v = (rand(g, 1, 2, 12, 32, dt=dt) for _ in range(3))
    out = torch.ops.aten._scaled_dot_product_cudnn_attention(
        q.cuda(), k.cuda(), v.cuda(), None, True, 0.0, causal, False)
    o, lse = out[0].cpu().float(), out[1].cpu().float()
    s = q.float() @ k.float().transpose(-1, -2) / 32 ** 0.5
    if causal:
        s = s.masked_fill(torch.ones(12, 12, dtype=torch.bool).triu(1), float("-inf"))
    want_lse = torch.logsumexp(s, -1)
    want_o = torch.softmax(s, -1) @ v.float()
    tag = f"{str(dt)[6:]} causal={int(causal)}"
    check(f"cudnn attention log-sum-exp {tag}", torch.allclose(lse.reshape(want_lse.shape),
                                                               want_lse, atol=1e-2, rtol=1e-2),
          f"shape {tuple(lse.shape)}, max abs error "
          f"{(lse.reshape(want_lse.shape) - want_lse).abs().max().item():.3g}")
    check(f"cudnn attention output with stats {tag}",
          torch.allclose(o, want_o, atol=2e-2 if dt == torch.float16 else 6e-2))


# what PyTorch 2.11 does on sm_90 when one backend is forced: "ran:<path>" or "raised"
FORCED = {
    (SDPBackend.FLASH_ATTENTION, torch.float16): "ran:kernel",
    (SDPBackend.FLASH_ATTENTION, torch.float32): "raised",
    (SDPBackend.EFFICIENT_ATTENTION, torch.float16): "ran:kernel",
    (SDPBackend.EFFICIENT_ATTENTION, torch.float32): "ran:kernel",
    (SDPBackend.CUDNN_ATTENTION, torch.float16): "ran:cudnn",
    (SDPBackend.CUDNN_ATTENTION, torch.float32): "raised",
    (SDPBackend.MATH, torch.float16): "ran:cublas",
    (SDPBackend.MATH, torch.float32): "ran:cublas",
}


def forced_case(g, backend, dt):
    q, k, v = (rand(g, 1, 2, 8, 64, dt=dt).cuda() for _ in range(3))
    s0 = stats()
    try:
        with sdpa_kernel(backend):
            F.scaled_dot_product_attention(q, k, v).cpu()
        d = delta(s0, stats())
        path = ("cudnn" if d.get("cudnnBackendExecute", 0) else
                "cublas" if gemms(d) else "kernel" if d.get("__cudaLaunchKernel", 0) else "?")
        got = "ran:" + path
        info = (f"executes {d.get('cudnnBackendExecute', 0)}, launches "
                f"{d.get('__cudaLaunchKernel', 0)}, GEMMs {gemms(d)}, round trips "
                f"{d['round_trips']}")
    except RuntimeError as e:
        got = "raised"
        info = f"RuntimeError: {str(e).splitlines()[0][:100]}"
    want = FORCED[(backend, dt)]
    check(f"forced {backend.name} {str(dt)[6:]}: {got}", got == want, f"{info} (want {want})")


def main():
    print("device:", torch.cuda.get_device_name(), "sm", torch.cuda.get_device_capability())
    print("enabled: flash", torch.backends.cuda.flash_sdp_enabled(), "mem_efficient",
          torch.backends.cuda.mem_efficient_sdp_enabled(), "cudnn",
          torch.backends.cuda.cudnn_sdp_enabled(), "math", torch.backends.cuda.math_sdp_enabled())
    g = torch.Generator().manual_seed(5)
    first = values_case(g, torch.float16, False)
    later = values_case(g, torch.float16, False)
    print(f"first cuDNN attention (plan built): {first['round_trips']} round trips, "
          f"{first['bytes_sent']} B sent, {first['bytes_received']} B received, "
          f"{first.get('cudnnBackendFinalize', 0)} finalizes, "
          f"{first.get('cudnnBackendGetAttribute', 0)} attribute queries")
    print(f"later cuDNN attention (plan cached): {later['round_trips']} round trips, "
          f"{later['bytes_sent']} B sent, {later['bytes_received']} B received")
    check("a cached plan's attention costs one round trip (the result's copy)",
          later["round_trips"] == 1, str(later["round_trips"]))
    for dt in (torch.float16, torch.bfloat16):
        for causal in (False, True):
            values_case(g, dt, causal)
        values_case(g, dt, True, Sq=8, Skv=24)
        values_case(g, dt, False, Sq=5, Skv=19, D=32, scale=0.3)
        values_case(g, dt, True, B=1, H=2, Sq=10, Skv=10, bshd=True)
        for causal in (False, True):
            lse_case(g, dt, causal)
    q = torch.randn(1, 2, 8, 64).cuda()
    choice = SDPBackend(torch._fused_sdp_choice(q, q, q))
    s0 = stats()
    F.scaled_dot_product_attention(q, q, q).cpu()
    d = delta(s0, stats())
    check("fp32 default picks the memory-efficient kernel (one launch, no cuDNN)",
          choice == SDPBackend.EFFICIENT_ATTENTION and d.get("__cudaLaunchKernel", 0) == 1 and
          not d.get("cudnnBackendExecute", 0), f"{choice.name}, {d}")
    # training through cuDNN attention: the forward keeps its stats, the backward is a graph the
    # fake cuDNN does not run (SDPA_BWD): PyTorch must raise, naming cuDNN, not crash
    q, k, v = (rand(g, 1, 2, 8, 64, dt=torch.float16).cuda().requires_grad_() for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    try:
        out.backward(torch.ones_like(out))
        torch.cuda.synchronize()
        check("backward through cuDNN attention runs", q.grad is not None)
    except RuntimeError as e:
        msg = str(e).splitlines()[0]
        check("backward through cuDNN attention fails with PyTorch's cuDNN error",
              "cudnn" in msg.lower(), msg[:120])
    for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                    SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH):
        for dt in (torch.float16, torch.float32):
            forced_case(g, backend, dt)
    print(f"{len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
