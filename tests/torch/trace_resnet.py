"""trace_resnet.py — what one torchvision ResNet-50 forward or training step costs on Genie's wire, cuDNN enabled.

Run under the shim (tests/torch/run.sh trace_resnet.py) on the fake GPU with
GENIE_FAKE_UNKNOWN_KERNELS=noop: PyTorch's own kernels (ReLU, pooling, the residual adds, the
loss, the optimizer) run as no-ops, so the VALUES are garbage and never checked here
(tests/torch/test_cudnn.py checks convolutions and batch norm, forward and backward, against
the CPU); the fake cuDNN does compute every convolution and batch norm. Stock ResNet-50
(random weights, a small input) runs a first step (cuDNN's plans are built: heuristics and
finalizes ask the executor; with --train a second, unmeasured step loads the optimizer's
momentum kernels), then N measured steps, each ending with a copy to the host:
  --modes eval       eval forward under no_grad (the logits copied back; the default)
  --modes autocast   the eval forward under torch.autocast("cuda", torch.float16) (fp16 logits)
  --modes train      one training step: forward in train mode, cross-entropy, loss.backward(),
                     an SGD step with momentum, zero_grad (the loss copied back: loss.item())
Several modes run one after the other in one process (one import of torch).

Checks: every step runs its convolutions through cudnnBackendExecute (forward 53; training adds
53 backward-filter and 52 backward-data graphs: the stem's input needs no gradient) and its 53
batch norms through cuDNN (inference, or training's ForwardTrainingEx and BackwardEx), no call is
refused (run.sh), and in the steady state a step costs exactly one round trip (the final copy)
and no query. Prints the per-step figures and one JSON line. Exit 0 pass, 1 fail, 77 skipped
(no torchvision).
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
       "cudnnBatchNormalizationForwardTrainingEx", "cudnnBatchNormalizationBackwardEx",
       "cudnnBackendFinalize", "cudnnBackendGetAttribute", "cudnnBackendSetAttribute",
       "cudnnBackendCreateDescriptor")


def run_mode(mode, a, torchvision, stats):
    """Runs one mode's first step, warm-up and measured steps; returns the failures."""
    train, autocast = mode == "train", mode == "autocast"
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    model = model.train() if train else model.eval()
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).cuda()
    x = torch.randn(a.batch, 3, a.size, a.size).to(memory_format=fmt).cuda()
    target = torch.zeros(a.batch, dtype=torch.long).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if train else None

    def step():
        if train:
            loss = torch.nn.functional.cross_entropy(model(x), target)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss.item()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=autocast):
            out = model(x).cpu()
        assert out.shape == (a.batch, 1000), out.shape
        assert out.dtype == (torch.float16 if autocast else torch.float32), out.dtype
        return out

    s0 = stats()
    t0 = time.perf_counter()
    step()
    first_ms = (time.perf_counter() - t0) * 1e3
    s1 = stats()
    if train:
        step()  # the optimizer's second step is its first with momentum buffers: new kernels
    s1b = stats()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    wall_ms = (time.perf_counter() - t0) * 1e3 / a.steps
    s2 = stats()

    def diff(sa, sb, n):
        d = {k: (sb[k] - sa[k]) / n for k in KEYS}
        d.update({k: (sb["per_api"].get(k, 0) - sa["per_api"].get(k, 0)) / n for k in DNN})
        return d

    first, per = diff(s0, s1, 1), diff(s1b, s2, a.steps)
    what = {"train": "training step", "autocast": "autocast forward"}.get(mode, "forward")
    print(f"first {what}: {first_ms:.0f} ms wall (fake GPU), " +
          ", ".join(f"{k} {v:g}" for k, v in first.items()))
    print(f"per {what}:   {wall_ms:.0f} ms wall (fake GPU), " +
          ", ".join(f"{k} {v:g}" for k, v in per.items()))
    if train:
        want = {"cudnnBackendExecute": 53 + 53 + 52, "cudnnBatchNormalizationForwardTrainingEx": 53,
                "cudnnBatchNormalizationBackwardEx": 53, "cudnnBatchNormalizationForwardInference": 0}
    else:
        want = {"cudnnBackendExecute": 53, "cudnnBatchNormalizationForwardInference": 53,
                "cudnnBatchNormalizationForwardTrainingEx": 0}
    failed = []
    for name, n in want.items():
        for tag, d in (("first", first), ("steady", per)):
            if d[name] != n:
                print(f"FAIL {mode} {tag}: {name} {d[name]:g} per {what}, want {n}")
                failed.append(name)
    if per["round_trips"] != 1 or per["rt_query"] != 0:
        print(f"FAIL {mode} steady state: {per['round_trips']:g} round trips and "
              f"{per['rt_query']:g} queries per {what}, want 1 and 0")
        failed.append("round trips")
    print(json.dumps({"mode": mode, "first": first, "per_step": per, "size": a.size,
                      "batch": a.batch, "channels_last": a.channels_last}))
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64, help="input height and width")
    ap.add_argument("--steps", type=int, default=2, help="measured steps per mode")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--modes", nargs="+", default=["eval"], choices=("eval", "autocast", "train"),
                    help="run in this order in one process (a later mode finds the plans an "
                         "earlier one built)")
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

    failed = []
    for mode in a.modes:
        failed += run_mode(mode, a, torchvision, stats)
    print("trace_resnet.py:", "FAIL" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
