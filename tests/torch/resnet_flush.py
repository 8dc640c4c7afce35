"""resnet_flush.py — stock PyTorch's ResNet-50 through the shim: the round trips of its upload
(model.cuda(): a copy and a stream sync per parameter) and the time to the result of forwards
(issue 11: sync elision, non-blocking flushes, pipelining; docs/semantics.md).

    resnet_flush.py [FORWARDS=0] [BATCH=1]

Random weights from a seeded generator (no download). cuDNN is disabled (convolutions go
through im2col and cuBLAS GEMMs, which the shim records; cuDNN does not pass through yet).
Prints the shim's counters for the upload and for each forward, and, after the upload, checks
one parameter copied back byte for byte (a D2H copy: the sync that waits). The forwards'
values are garbage on the fake GPU (PyTorch's kernels run as no-ops); what they measure is the
wall time from the start of a forward to its result on the host. With GENIE_FAKE_GPU_MODEL set
those times are simulated, not measured on a GPU."""
import ctypes
import json
import sys
import time

import torch
import torchvision

forwards = int(sys.argv[1]) if len(sys.argv) > 1 else 0
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 1

_lib = ctypes.CDLL(None)
_lib.genie_stats_json.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def stats():
    buf = ctypes.create_string_buffer(1 << 20)
    if _lib.genie_stats_json(buf, len(buf)) != 0:
        raise SystemExit("genie_stats_json failed")
    return json.loads(buf.value.decode())


KEYS = ("round_trips", "rt_sync", "rt_module", "rt_query", "batches", "batches_nowait",
        "syncs_elided", "pipeline_chunks", "inflight_stalls", "bytes_sent", "h2d_cache_hits")


def delta(a, b):
    return " ".join(f"{k} {b.get(k, 0) - a.get(k, 0)}" for k in KEYS)


torch.backends.cudnn.enabled = False
torch.manual_seed(0)
model = torchvision.models.resnet50()
model.eval()
want = model.fc.weight.detach().clone()
nparams = sum(1 for _ in model.parameters()) + sum(1 for _ in model.buffers())
nbytes = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
torch.cuda.init()
torch.zeros(1, device="cuda")  # session and context set up before counting
torch.cuda.synchronize()  # (a sync after a kernel: it waits)
s0 = stats()
t0 = time.perf_counter()
model = model.cuda()
t1 = time.perf_counter()
s1 = stats()
print(f"upload: {nparams} tensors, {nbytes} bytes, {1e3 * (t1 - t0):.1f} ms: {delta(s0, s1)}",
      flush=True)
back = model.fc.weight.detach().cpu()
# a device-time model in timing-only mode computes nothing, copies included
timing_only = "simulated" in torch.cuda.get_device_name(0)
ok = timing_only or torch.equal(back, want)
s2 = stats()
verdict = "not compared (timing-only fake GPU)" if timing_only else "identical" if ok else "DIFFERENT"
print(f"check: fc.weight {verdict}: {delta(s1, s2)}", flush=True)

x = torch.randn(batch, 3, 224, 224).cuda()
with torch.no_grad():
    for i in range(forwards):
        torch.cuda.synchronize()
        a = stats()
        t0 = time.perf_counter()
        y = model(x)
        t_rec = time.perf_counter()
        y.cpu()
        t1 = time.perf_counter()
        b = stats()
        print(f"forward {i}: recorded in {1e3 * (t_rec - t0):.1f} ms, result after "
              f"{1e3 * (t1 - t0):.1f} ms: {delta(a, b)}", flush=True)
print("RESULT OK" if ok else "RESULT FAIL")
sys.exit(0 if ok else 1)
