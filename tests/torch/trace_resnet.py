"""trace_resnet.py — what one torchvision ResNet-50 forward costs on Genie's wire, cuDNN enabled.

Run under the shim (tests/torch/run.sh trace_resnet.py) on the fake GPU with
GENIE_FAKE_UNKNOWN_KERNELS=noop: PyTorch's own kernels (ReLU, pooling, the residual adds) run
as no-ops, so the VALUES are garbage and never checked here (tests/torch/test_cudnn.py checks
convolutions and batch norm against the CPU); the fake cuDNN does compute every convolution
and batch norm. Stock ResNet-50 (random weights, eval, no_grad, a small input) runs a first
forward (cuDNN's plans are built: heuristics and finalizes ask the executor), then N measured
forwards, each ending with the logits copied to the host.

Checks: every forward runs its 53 convolutions through cudnnBackendExecute and its 53 batch
norms through cudnnBatchNormalizationForwardInference, no call is refused (run.sh), and in the
steady state a forward costs exactly one round trip (the final copy) and no query. Prints the
per-forward figures and one JSON line. Exit 0 pass, 1 fail, 77 skipped (no torchvision).
"""
import argparse
import ctypes
import json
import sys
import time

import torch

KEYS = ("round_trips", "rt_sync", "rt_query", "rt_module", "batches", "launches",
        "ops_recorded", "bytes_sent", "bytes_received", "h2d_bytes", "d2h_bytes")
DNN = ("cudnnBackendExecute", "cudnnBatchNormalizationForwardInference",
       "cudnnBackendFinalize", "cudnnBackendGetAttribute", "cudnnBackendSetAttribute",
       "cudnnBackendCreateDescriptor")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64, help="input height and width")
    ap.add_argument("--steps", type=int, default=2, help="measured forwards")
    ap.add_argument("--channels-last", action="store_true")
    a = ap.parse_args()
    try:
        import torchvision
    except ImportError as e:
        print(f"SKIPPED: torchvision not installed ({e})")
        return 77
    fn = ctypes.CDLL(None).genie_stats_json
    fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]

    def stats():
        b = ctypes.create_string_buffer(1 << 20)
        fn(b, len(b))
        return json.loads(b.value)

    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).cuda()
    x = torch.randn(1, 3, a.size, a.size).to(memory_format=fmt).cuda()
    failed = []
    with torch.no_grad():
        s0 = stats()
        t0 = time.perf_counter()
        model(x).cpu()
        first_ms = (time.perf_counter() - t0) * 1e3
        s1 = stats()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            out = model(x).cpu()
        wall_ms = (time.perf_counter() - t0) * 1e3 / a.steps
        s2 = stats()
    assert out.shape == (1, 1000), out.shape

    def diff(sa, sb, n):
        d = {k: (sb[k] - sa[k]) / n for k in KEYS}
        d.update({k: (sb["per_api"].get(k, 0) - sa["per_api"].get(k, 0)) / n for k in DNN})
        return d

    first, per = diff(s0, s1, 1), diff(s1, s2, a.steps)
    print(f"first forward: {first_ms:.0f} ms wall (fake GPU), " +
          ", ".join(f"{k} {v:g}" for k, v in first.items()))
    print(f"per forward:   {wall_ms:.0f} ms wall (fake GPU), " +
          ", ".join(f"{k} {v:g}" for k, v in per.items()))
    for name, want in (("cudnnBackendExecute", 53), ("cudnnBatchNormalizationForwardInference", 53)):
        for tag, d in (("first", first), ("steady", per)):
            if d[name] != want:
                print(f"FAIL {tag}: {name} {d[name]:g} per forward, want {want}")
                failed.append(name)
    if per["round_trips"] != 1 or per["rt_query"] != 0:
        print(f"FAIL steady state: {per['round_trips']:g} round trips and {per['rt_query']:g} "
              "queries per forward, want 1 and 0")
        failed.append("round trips")
    print(json.dumps({"first": first, "per_forward": per, "size": a.size,
                      "channels_last": a.channels_last}))
    print("trace_resnet.py:", "FAIL" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
