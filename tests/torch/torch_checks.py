#!/usr/bin/env python3
"""torch_checks.py — what stock PyTorch must do on a GPU, natively and through Genie's shim.

Runs each check as a named function with a fixed seed and writes one JSON file: per check its
status (pass, fail, skip), the exception text of a failure, and the outputs that a second run
(the other world) must reproduce, for tests/torch/compare.py:

  exact   integer, bool and byte round trips, token ids, device queries (SHA-256 of the bytes)
  float   a fixed sample of values, the sum and the absolute sum, with the tolerances to apply
  info    shown, never compared (timings, memory statistics, error messages)

and metrics (GPT-2 tokens/s, a bf16 GEMM's TFLOP/s). Inputs are made on the CPU from fixed
seeds and then moved, so every world sees the same bytes. The script never stops at a failed
check, and rewrites the JSON before and after each one: a check that kills the process is left
as "running" in the file (compare.py reports it as crashed).

--mode only labels the file: the same script runs natively and under LD_PRELOAD=libgenie.so.
--device cpu runs every check on the CPU (CUDA-only calls become no-ops or plain timers), to
test this script and compare.py on a machine without a GPU (tests/torch/checks_cpu.sh).

Exit status: 0 when no check failed, 1 otherwise (the JSON is written either way), 2 usage.
"""
import argparse
import contextlib
import ctypes
import hashlib
import json
import math
import os
import platform
import sys
import time
import traceback

SCHEMA = "genie-torch-checks/1"
SAMPLE = 64  # values kept per float output

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # GPT-2 is built from a config: never the hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402  (after the environment above)
import torch.nn.functional as F  # noqa: E402

# ----------------------------------------------------------------------------- outputs


def _bytes(t):
    """The raw bytes of a tensor's elements, in row-major order (any dtype)."""
    t = t.detach().to("cpu").contiguous().reshape(-1)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    t = t.view(torch.uint8).clone()  # its own storage, exactly these bytes
    return ctypes.string_at(t.data_ptr(), t.numel())


def digest(t):
    return hashlib.sha256(_bytes(t)).hexdigest()


def exact_t(t):
    """A tensor that must be bit-identical in both worlds (dtype, shape and bytes)."""
    return {"kind": "exact", "value": f"{t.dtype} {list(t.shape)} sha256:{digest(t)[:32]}"}


def exact(v):
    return {"kind": "exact", "value": v}


def info(v):
    return {"kind": "info", "value": v}


def floats(t, rtol, atol):
    """A float tensor compared with tolerances: a fixed sample, the sum and the absolute sum."""
    t = t.detach().to("cpu")
    flat = t.reshape(-1)
    if flat.is_complex():
        flat = torch.view_as_real(flat).reshape(-1)
    d = flat.double()
    n = d.numel()
    idx = torch.linspace(0, n - 1, min(SAMPLE, n)).round().long() if n else torch.zeros(0, dtype=torch.long)
    return {"kind": "float", "dtype": str(t.dtype), "shape": list(t.shape), "values": d[idx].tolist(),
            "sum": d.sum().item(), "abs_sum": d.abs().sum().item(), "sha256": digest(t)[:32],
            "rtol": rtol, "atol": atol}


TOL = {torch.float32: (1e-4, 1e-5), torch.float64: (1e-9, 1e-12), torch.float16: (1e-2, 1e-3),
       torch.bfloat16: (2e-2, 1e-2), torch.complex64: (1e-4, 1e-5)}


def floats_auto(t):
    rtol, atol = TOL.get(t.dtype, (1e-4, 1e-5))
    return floats(t, rtol, atol)


def close_to(got, ref, rtol, atol, what):
    """Self-check against a CPU reference (in float64); raises with the worst error."""
    g, r = got.detach().to("cpu").double(), ref.detach().to("cpu").double()
    if g.shape != r.shape:
        raise AssertionError(f"{what}: shape {list(g.shape)} != reference {list(r.shape)}")
    if not torch.allclose(g, r, rtol=rtol, atol=atol, equal_nan=True):
        err = (g - r).abs()
        i = int(torch.nan_to_num(err, nan=math.inf).reshape(-1).argmax())
        raise AssertionError(f"{what}: max abs error {err.reshape(-1)[i].item():.3g} at flat index {i} "
                             f"(got {g.reshape(-1)[i].item():.6g}, reference {r.reshape(-1)[i].item():.6g}; "
                             f"rtol {rtol}, atol {atol})")


def equal_to(got, ref, what):
    g, r = got.detach().to("cpu"), ref.detach().to("cpu")
    if g.dtype != r.dtype or g.shape != r.shape or _bytes(g) != _bytes(r):
        raise AssertionError(f"{what}: not bit-identical to the reference "
                             f"({g.dtype} {list(g.shape)} vs {r.dtype} {list(r.shape)})")


# ----------------------------------------------------------------------------- the device


class Dev:
    """The device under test; on the CPU the CUDA-only calls become no-ops or plain timers."""

    def __init__(self, kind):
        self.kind = kind
        self.cuda = kind == "cuda"
        self.device = torch.device("cuda:0" if self.cuda else "cpu")

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def event(self):
        if self.cuda:
            return torch.cuda.Event(enable_timing=True)
        return _CpuEvent()

    def stream(self, priority=0):
        return torch.cuda.Stream(priority=priority) if self.cuda else None

    def on(self, stream):
        return torch.cuda.stream(stream) if self.cuda else contextlib.nullcontext()


class _CpuEvent:
    def record(self, stream=None):
        self.t = time.perf_counter()

    def synchronize(self):
        pass

    def query(self):
        return True

    def elapsed_time(self, end):
        return (end.t - self.t) * 1e3


# ----------------------------------------------------------------------------- checks

CHECKS = []


def check(name, seed):
    def reg(fn):
        CHECKS.append((name, seed, fn))
        return fn
    return reg


class Skip(Exception):
    """A check that cannot run here (e.g. transformers is not installed)."""


def gen(seed):
    return torch.Generator().manual_seed(seed)


@check("device_query", 1)
def device_query(dev, ctx, out):
    if not dev.cuda:
        out["device"] = exact("cpu")
        out["threads"] = info(torch.get_num_threads())
        return "cpu"
    avail = torch.cuda.is_available()
    out["is_available"] = exact(avail)
    if not avail:
        raise AssertionError("torch.cuda.is_available() is False")
    n = torch.cuda.device_count()
    out["device_count"] = exact(n)
    assert n >= 1, n
    name = torch.cuda.get_device_name(0)
    p = torch.cuda.get_device_properties(0)
    out["name"] = exact(name)
    out["capability"] = exact([p.major, p.minor])
    out["multi_processor_count"] = exact(p.multi_processor_count)
    out["total_memory"] = exact(p.total_memory)
    out["uuid"] = info(str(getattr(p, "uuid", "")))
    assert p.total_memory > 0 and p.multi_processor_count > 0 and p.major >= 7, p
    assert torch.cuda.current_device() == 0
    return f"{n} x {name}, sm_{p.major}{p.minor}, {p.multi_processor_count} SMs, {p.total_memory / 2**30:.1f} GiB"


def _round_trip_cases(g):
    n = 4099  # odd: no size is a multiple of a vector width
    special = torch.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-40, -1e-45, 3.4e38])
    return {
        torch.float32: torch.cat([torch.randn(n, generator=g), special]),
        torch.float64: torch.randn(n, generator=g, dtype=torch.float64),
        torch.float16: torch.randn(n, generator=g).half(),
        torch.bfloat16: torch.randn(n, generator=g).bfloat16(),
        torch.complex64: torch.randn(n, generator=g, dtype=torch.complex64),
        torch.int8: torch.randint(-128, 128, (n,), generator=g, dtype=torch.int8),
        torch.uint8: torch.randint(0, 256, (n,), generator=g, dtype=torch.uint8),
        torch.int16: torch.randint(-2**15, 2**15, (n,), generator=g, dtype=torch.int16),
        torch.int32: torch.randint(-2**31, 2**31, (n,), generator=g, dtype=torch.int32),
        torch.int64: torch.randint(-2**62, 2**62, (n,), generator=g, dtype=torch.int64),
        torch.bool: torch.randint(0, 2, (n,), generator=g).bool(),
    }


@check("round_trip_dtypes", 2)
def round_trip_dtypes(dev, ctx, out):
    g = gen(2)
    for dt, x in _round_trip_cases(g).items():
        name = str(dt).replace("torch.", "")
        a = x.cuda() if dev.cuda else x.to(dev.device)  # .cuda()
        b = x.to(dev.device)  # .to('cuda')
        assert a.device.type == dev.kind and a.dtype == dt
        equal_to(a.cpu(), x, f"{name} .cuda().cpu()")
        equal_to(b.to("cpu"), x, f"{name} .to(device).to('cpu')")
        # on the device: a copy, a strided view, a copy into an existing tensor
        equal_to(b.clone().cpu(), x, f"{name} device clone")
        m = x[: 4096].reshape(64, 64)
        equal_to(m.to(dev.device).t().contiguous().cpu(), m.t().contiguous(), f"{name} transpose on device")
        equal_to(m.t().to(dev.device).cpu(), m.t(), f"{name} non-contiguous copy")
        dst = torch.empty_like(b)
        dst.copy_(b)
        equal_to(dst.cpu(), x, f"{name} copy_")
        out[name] = exact_t(x)
    # bulk: 64 MiB each way
    big = torch.randn(16 * 2**20, generator=g)
    equal_to(big.to(dev.device).cpu(), big, "64 MiB float32")
    out["bulk_64MiB"] = exact_t(big)
    return f"{len(out) - 1} dtypes byte-exact both ways; 64 MiB bulk"


@check("pinned_non_blocking", 3)
def pinned_non_blocking(dev, ctx, out):
    x = torch.randn(1 << 20, generator=gen(3))
    src = x.pin_memory() if dev.cuda else x
    y = src.to(dev.device, non_blocking=True)
    back = torch.empty_like(x).pin_memory() if dev.cuda else torch.empty_like(x)
    back.copy_(y * 2, non_blocking=True)
    dev.sync()
    equal_to(back, x * 2, "pinned H2D, x*2, pinned D2H")
    out["x2"] = exact_t(back)


@check("matmul", 4)
def matmul(dev, ctx, out):
    g = gen(4)
    cases = [  # name, a shape, b shape, dtype, self-check tolerance relative to max |ref|
        ("f32_33x17x29", (33, 17), (17, 29), torch.float32, 1e-4),
        ("f32_512", (512, 512), (512, 512), torch.float32, 1e-4),
        ("f32_mv", (300, 200), (200,), torch.float32, 1e-4),
        ("f16_256x384x128", (256, 384), (384, 128), torch.float16, 1e-2),
        ("bf16_256x384x128", (256, 384), (384, 128), torch.bfloat16, 3e-2),
        ("f32_bmm_4x64x32x48", (4, 64, 32), (4, 32, 48), torch.float32, 1e-4),
        ("f16_bmm_8x128x64x32", (8, 128, 64), (8, 64, 32), torch.float16, 1e-2),
    ]
    for name, sa, sb, dt, tol in cases:
        a = torch.randn(sa, generator=g).to(dt)
        b = torch.randn(sb, generator=g).to(dt)
        c = torch.matmul(a.to(dev.device), b.to(dev.device))
        ref = torch.matmul(a.double(), b.double())
        close_to(c, ref, 0, tol * ref.abs().max().item() + 1e-6, f"matmul {name}")
        out[name] = floats_auto(c)
    # a transposed operand (cuBLAS op T) and an explicit addmm with alpha/beta
    a = torch.randn(64, 96, generator=g)
    b = torch.randn(64, 80, generator=g)
    c0 = torch.randn(96, 80, generator=g)
    r = torch.addmm(c0.to(dev.device), a.to(dev.device).t(), b.to(dev.device), beta=0.5, alpha=2.0)
    close_to(r, 0.5 * c0.double() + 2.0 * (a.double().t() @ b.double()), 0, 1e-3, "addmm a.T @ b")
    out["f32_addmm_t"] = floats_auto(r)


@check("linear", 5)
def linear(dev, ctx, out):
    # nn.Linear with bias: addmm through cuBLASLt (bias epilogue); without bias: cublas gemm
    for dt, tol in ((torch.float32, 1e-4), (torch.float16, 1e-2), (torch.bfloat16, 3e-2)):
        name = str(dt).replace("torch.", "")
        torch.manual_seed(5)
        lin = torch.nn.Linear(768, 3072).to(dt)
        nob = torch.nn.Linear(768, 256, bias=False).to(dt)
        x = torch.randn(4, 32, 768, generator=gen(50)).to(dt)
        ref = F.linear(x.double(), lin.weight.double(), lin.bias.double())
        ref_nob = F.linear(x.double(), nob.weight.double())
        xd = x.to(dev.device)
        y = lin.to(dev.device)(xd)
        y2 = lin(xd[0])  # 2-D input: the addmm path
        z = nob.to(dev.device)(xd)
        close_to(y, ref, 0, tol * ref.abs().max().item(), f"Linear {name} 3-D")
        close_to(y2, ref[0], 0, tol * ref.abs().max().item(), f"Linear {name} 2-D")
        close_to(z, ref_nob, 0, tol * ref_nob.abs().max().item(), f"Linear(bias=False) {name}")
        out[f"{name}_bias"] = floats_auto(y)
        out[f"{name}_bias_2d"] = floats_auto(y2)
        out[f"{name}_nobias"] = floats_auto(z)
    # fused addmm + GELU (cuBLASLt's GELU epilogue where PyTorch uses it)
    torch.manual_seed(51)
    w, b = torch.randn(128, 64), torch.randn(128)
    x = torch.randn(32, 64, generator=gen(51))
    y = torch._addmm_activation(b.to(dev.device), x.to(dev.device), w.t().to(dev.device), use_gelu=True)
    close_to(y, F.gelu(torch.addmm(b.double(), x.double(), w.t().double())), 1e-3, 1e-3, "addmm+gelu")
    out["f32_addmm_gelu"] = floats_auto(y)


@check("elementwise", 6)
def elementwise(dev, ctx, out):
    g = gen(6)
    a = torch.randn(1000, 257, generator=g)
    b = torch.randn(1000, 257, generator=g)
    ad, bd = a.to(dev.device), b.to(dev.device)
    fops = {
        "add": lambda x, y: x + y, "mul": lambda x, y: x * y, "div": lambda x, y: x / (y.abs() + 0.5),
        "exp": lambda x, y: torch.exp(x), "log": lambda x, y: torch.log(x.abs() + 1),
        "tanh": lambda x, y: torch.tanh(x), "sigmoid": lambda x, y: torch.sigmoid(x),
        "gelu": lambda x, y: F.gelu(x), "gelu_tanh": lambda x, y: F.gelu(x, approximate="tanh"),
        "relu": lambda x, y: F.relu(x), "silu": lambda x, y: F.silu(x),
        "where": lambda x, y: torch.where(x > y, x, y), "clamp": lambda x, y: x.clamp(-0.5, 0.5),
        "pow": lambda x, y: x.pow(2), "sqrt": lambda x, y: x.abs().sqrt(), "sin": lambda x, y: torch.sin(x),
        "fma": lambda x, y: torch.addcmul(x, x, y, value=0.5), "lerp": lambda x, y: torch.lerp(x, y, 0.25),
    }
    for name, f in fops.items():
        got = f(ad, bd)
        close_to(got, f(a.double(), b.double()), 1e-4, 1e-5, name)
        out[name] = floats_auto(got)
    h = f16 = fops["mul"](ad.half(), bd.half())
    close_to(h, a.half().float() * b.half().float(), 1e-3, 1e-3, "f16 mul")
    out["f16_mul"] = floats_auto(f16)
    # integers, bools and conversions: exact
    ia = torch.randint(-1000, 1000, (4096,), generator=g)
    ib = torch.randint(1, 100, (4096,), generator=g)
    iad, ibd = ia.to(dev.device), ib.to(dev.device)
    iops = {
        "int_add": lambda x, y: x + y, "int_mul": lambda x, y: x * y, "int_floordiv": lambda x, y: x // y,
        "int_mod": lambda x, y: x % y, "int_and": lambda x, y: x & y, "int_xor": lambda x, y: x ^ y,
        "int_shl": lambda x, y: x << (y % 8), "int32_add": lambda x, y: x.int() + y.int(),
        "cmp_gt": lambda x, y: x > y, "cmp_eq": lambda x, y: (x % 3) == 0,
        "to_int32": lambda x, y: (x.double() * 1.7).to(torch.int32),
        "to_uint8": lambda x, y: (x % 256).to(torch.uint8),
    }
    for name, f in iops.items():
        got = f(iad, ibd)
        equal_to(got, f(ia, ib), name)
        out[name] = exact_t(got)
    made = {
        "zeros": torch.zeros(1000, device=dev.device), "ones": torch.ones(1000, device=dev.device),
        "full": torch.full((1000,), 3.25, device=dev.device),
        "arange": torch.arange(0, 1000, 3, device=dev.device),
        "linspace": torch.linspace(-1, 1, 999, device=dev.device),
        "eye": torch.eye(37, device=dev.device),
    }
    for name, t in made.items():
        out[name] = floats_auto(t) if name == "linspace" else exact_t(t)
    assert made["ones"].sum().item() == 1000.0
    equal_to(made["arange"], torch.arange(0, 1000, 3), "arange")
    out["float_to_half"] = exact_t(ad.half())
    equal_to(ad.half(), a.half(), "float -> half")


@check("reductions", 7)
def reductions(dev, ctx, out):
    g = gen(7)
    a = torch.randn(513, 1031, generator=g)
    ad = a.to(dev.device)
    ad64 = a.double()
    fr = {
        "sum": (lambda x: x.sum(), 1e-5), "mean": (lambda x: x.mean(), 1e-5),
        "sum_dim0": (lambda x: x.sum(0), 1e-5), "sum_dim1": (lambda x: x.sum(1), 1e-5),
        "mean_dim1_keepdim": (lambda x: x.mean(1, keepdim=True), 1e-5),
        "std": (lambda x: x.std(1), 1e-4), "var": (lambda x: x.var(0), 1e-4),
        "max_dim1": (lambda x: x.max(1).values, 0), "min": (lambda x: x.min(), 0),
        "amax": (lambda x: x.amax(0), 0), "norm": (lambda x: x.norm(dim=1), 1e-5),
        "logsumexp": (lambda x: torch.logsumexp(x, 1), 1e-5),
        "cumsum": (lambda x: x.cumsum(1), 1e-4), "prod": (lambda x: (1 + x[:, :16] * 0.01).prod(1), 1e-5),
    }
    for name, (f, tol) in fr.items():
        got = f(ad)
        close_to(got, f(ad64), tol, 1e-4 if tol else 0, name)
        out[name] = floats(got, 1e-4, 1e-4)
    for name, f in {"argmax": lambda x: x.argmax(1), "argmin": lambda x: x.argmin(0),
                    "max_indices": lambda x: x.max(1).indices, "topk": lambda x: x.topk(5, 1).indices,
                    "sort": lambda x: x[:8].sort(1).indices}.items():
        got = f(ad)
        equal_to(got, f(a), name)
        out[name] = exact_t(got)
    ia = torch.randint(-2**40, 2**40, (100003,), generator=g)
    out["int_sum"] = exact(ia.to(dev.device).sum().item())
    assert out["int_sum"]["value"] == ia.sum().item()
    bools = a > 2.5
    got = [bools.to(dev.device).any().item(), bools.to(dev.device).all().item(),
           int(bools.to(dev.device).sum().item()), int(torch.count_nonzero(bools.to(dev.device)).item())]
    assert got == [bools.any().item(), bools.all().item(), int(bools.sum()), int(bools.sum())], got
    out["bool_any_all_count"] = exact(got)


@check("softmax", 8)
def softmax(dev, ctx, out):
    g = gen(8)
    x = torch.randn(64, 50257 // 16, generator=g)
    xd = x.to(dev.device)
    cases = {
        "softmax_last": (lambda t: torch.softmax(t, -1), 1e-6),
        "softmax_dim0": (lambda t: torch.softmax(t, 0), 1e-6),
        "log_softmax": (lambda t: F.log_softmax(t, -1), 1e-5),
        "softmax_large": (lambda t: torch.softmax(t * 100, -1), 1e-6),
        "softmax_masked": (lambda t: torch.softmax(t.masked_fill(torch.arange(t.shape[-1], device=t.device) > 100,
                                                                 float("-inf")), -1), 1e-6),
    }
    for name, (f, atol) in cases.items():
        got = f(xd)
        close_to(got, f(x.double()), 1e-4, atol, name)
        out[name] = floats(got, 1e-4, atol)
    assert torch.allclose(torch.softmax(xd, -1).sum(-1).cpu(), torch.ones(64), atol=1e-5)
    h = torch.softmax(xd.half(), -1)
    close_to(h, torch.softmax(x.half().double(), -1), 1e-2, 1e-4, "f16 softmax")
    out["f16_softmax"] = floats(h, 1e-2, 1e-4)
    ce = F.cross_entropy(xd, torch.arange(64, device=dev.device) * 7)
    close_to(ce, F.cross_entropy(x.double(), torch.arange(64) * 7), 1e-5, 1e-5, "cross_entropy")
    out["cross_entropy"] = floats(ce, 1e-5, 1e-5)


@check("layernorm", 9)
def layernorm(dev, ctx, out):
    g = gen(9)
    torch.manual_seed(9)
    ln = torch.nn.LayerNorm(768)
    with torch.no_grad():
        ln.weight.copy_(1 + 0.1 * torch.randn(768, generator=g))
        ln.bias.copy_(0.1 * torch.randn(768, generator=g))
    x = torch.randn(4, 16, 768, generator=g) * 3 + 1
    ref = F.layer_norm(x.double(), (768,), ln.weight.double(), ln.bias.double(), ln.eps)
    y = ln.to(dev.device)(x.to(dev.device))
    close_to(y, ref, 1e-4, 1e-4, "LayerNorm f32")
    out["layernorm_f32"] = floats_auto(y)
    yh = F.layer_norm(x.to(dev.device).half(), (768,), ln.weight.half(), ln.bias.half())
    close_to(yh, ref, 2e-2, 2e-2, "layer_norm f16")
    out["layernorm_f16"] = floats_auto(yh)
    w = 1 + 0.1 * torch.randn(768, generator=g)
    r = F.rms_norm(x.to(dev.device), (768,), w.to(dev.device), eps=1e-6)
    close_to(r, F.rms_norm(x.double(), (768,), w.double(), eps=1e-6), 1e-4, 1e-4, "rms_norm")
    out["rmsnorm_f32"] = floats_auto(r)
    gn = F.group_norm(x.permute(0, 2, 1).to(dev.device), 8)
    close_to(gn, F.group_norm(x.permute(0, 2, 1).double(), 8), 1e-4, 1e-4, "group_norm")
    out["groupnorm_f32"] = floats_auto(gn)


@check("embedding", 10)
def embedding(dev, ctx, out):
    g = gen(10)
    torch.manual_seed(10)
    emb = torch.nn.Embedding(50257, 64, padding_idx=0)
    idx = torch.randint(0, 50257, (8, 128), generator=g)
    idx[0, :5] = 0
    ref = emb(idx)
    got = emb.to(dev.device)(idx.to(dev.device))
    equal_to(got, ref, "Embedding int64 indices")  # a gather: bit-exact
    out["embedding_i64"] = exact_t(got)
    got32 = F.embedding(idx.int().to(dev.device), emb.weight)
    equal_to(got32, ref, "embedding int32 indices")
    out["index_select"] = exact_t(emb.weight.index_select(0, idx[1].to(dev.device)))
    pos = torch.nn.Embedding(1024, 64).to(dev.device)
    p = pos(torch.arange(128, device=dev.device))
    out["positions"] = exact_t(p)
    gathered = torch.gather(ref.to(dev.device), 2, torch.randint(0, 64, (8, 128, 3), generator=g).to(dev.device))
    out["gather"] = exact_t(gathered)


@check("autograd_step", 11)
def autograd_step(dev, ctx, out):
    g = gen(11)
    torch.manual_seed(11)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.LayerNorm(128),
                              torch.nn.Linear(128, 10))
    ref = [p.detach().clone().double() for p in mlp.parameters()]
    x = torch.randn(32, 64, generator=g)
    y = torch.randint(0, 10, (32,), generator=g)
    mlp = mlp.to(dev.device)
    opt = torch.optim.AdamW(mlp.parameters(), lr=1e-3, foreach=True)
    loss = F.cross_entropy(mlp(x.to(dev.device)), y.to(dev.device))
    loss.backward()
    # the same step in float64 on the CPU
    rm = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.LayerNorm(128),
                             torch.nn.Linear(128, 10)).double()
    with torch.no_grad():
        for p, r in zip(rm.parameters(), ref):
            p.copy_(r)
    rl = F.cross_entropy(rm(x.double()), y)
    rl.backward()
    close_to(loss, rl, 1e-5, 1e-5, "loss")
    out["loss"] = floats(loss, 1e-5, 1e-6)
    for i, (p, r) in enumerate(zip(mlp.parameters(), rm.parameters())):
        close_to(p.grad, r.grad, 1e-3, 1e-5, f"grad {i}")
        out[f"grad{i}"] = floats(p.grad, 1e-3, 1e-6)
    opt.step()
    opt.zero_grad(set_to_none=True)
    out["w0_after_adamw"] = floats(next(mlp.parameters()), 1e-5, 1e-6)


@check("synchronize", 12)
def synchronize(dev, ctx, out):
    x = torch.zeros(1 << 16, device=dev.device)
    for _ in range(200):  # 200 asynchronous launches, then one synchronize
        x.add_(1.0)
    a = torch.randn(1024, 1024, generator=gen(12)).to(dev.device)
    b = a @ a
    dev.sync()
    if dev.cuda:
        assert torch.cuda.current_stream().query(), "the stream is busy after synchronize()"
        torch.cuda.current_stream().synchronize()
    assert x.min().item() == 200.0 and x.max().item() == 200.0, (x.min().item(), x.max().item())
    out["count"] = exact(x.sum().item())
    out["matmul"] = floats(b, 1e-4, 1e-3)


@check("events", 13)
def events(dev, ctx, out):
    n = 2048 if dev.cuda else 256
    a = torch.randn(n, n, generator=gen(13)).to(dev.device)
    dev.sync()
    start, end = dev.event(), dev.event()
    start.record()
    for _ in range(10):
        b = a @ a
    end.record()
    end.synchronize()
    assert end.query(), "event not complete after synchronize()"
    ms = start.elapsed_time(end)
    assert ms > 0 and math.isfinite(ms), ms
    flops = 10 * 2 * n**3 / (ms / 1e3)
    out["elapsed_ms"] = info(round(ms, 3))
    out["result"] = floats(b, 1e-4, 1e-2)
    return f"10 fp32 {n}^3 matmuls: {ms:.2f} ms by {'CUDA events' if dev.cuda else 'the CPU clock'} ({flops / 1e12:.1f} TFLOP/s)"


@check("allocator_churn", 14)
def allocator_churn(dev, ctx, out):
    dev.sync()
    base = torch.cuda.memory_allocated() if dev.cuda else 0
    if dev.cuda:
        torch.cuda.reset_peak_memory_stats()
    sizes = [1 << 10, 3 << 10, 1 << 16, 5 << 17, 1 << 20, 7 << 20, 1 << 22, 12345]
    live, checksum = [], 0
    for i in range(400):
        n = sizes[(i * 7 + i // 3) % len(sizes)] // 8
        t = torch.arange(n, dtype=torch.int64, device=dev.device) * (i + 1)
        live.append(t)
        if len(live) > 8:
            old = live.pop((i * 5) % len(live))
            checksum += int(old[-1].item()) if i % 50 == 0 else 0
            del old
        if i % 97 == 96 and dev.cuda:
            torch.cuda.empty_cache()
    total = torch.stack([t.sum() for t in live]).sum().item()
    checksum += total
    # the data of what is still alive is intact
    for j, t in enumerate(live):
        assert t[1].item() * (t.numel() - 1) == t[-1].item(), f"tensor {j} corrupted"
    del live, t
    dev.sync()
    out["checksum"] = exact(checksum)
    if dev.cuda:
        now = torch.cuda.memory_allocated()
        peak = torch.cuda.max_memory_allocated()
        reserved = torch.cuda.memory_reserved()
        torch.cuda.empty_cache()
        free, total_mem = torch.cuda.mem_get_info()
        out["peak_allocated"] = info(peak)
        out["reserved_before_empty_cache"] = info(reserved)
        out["reserved_after_empty_cache"] = info(torch.cuda.memory_reserved())
        out["mem_get_info"] = info([free, total_mem])
        assert now == base, f"memory_allocated {now} after freeing everything, {base} before"
        assert 0 < free <= total_mem, (free, total_mem)
        return f"400 allocations; peak {peak / 2**20:.1f} MiB; back to {now} B allocated"
    return "400 allocations"


@check("streams", 15)
def streams(dev, ctx, out):
    g = gen(15)
    x = torch.randn(1024, 1024, generator=g)
    y = torch.randn(1024, 1024, generator=g)
    xd, yd = x.to(dev.device), y.to(dev.device)
    s1, s2 = dev.stream(), dev.stream(priority=-1)
    if dev.cuda:
        s1.wait_stream(torch.cuda.current_stream())
        s2.wait_stream(torch.cuda.current_stream())
    with dev.on(s1):
        a = xd @ yd
        ev = s1.record_event() if dev.cuda else None
    if dev.cuda:
        s2.wait_event(ev)
    with dev.on(s2):
        b = a * 2 + 1
        c = torch.relu(b)
    if dev.cuda:
        torch.cuda.current_stream().wait_stream(s2)
        a.record_stream(s2)
        b.record_stream(s2)
        c.record_stream(s2)
    d = c.sum(1)
    dev.sync()
    if dev.cuda:
        assert s1.query() and s2.query()
        s1.synchronize()
    ref = torch.relu((x.double() @ y.double()) * 2 + 1).sum(1)
    close_to(d, ref, 1e-4, 1e-2, "two streams and an event")
    out["result"] = floats(d, 1e-4, 1e-2)
    # independent work on two streams, joined
    with dev.on(s1):
        p = xd + 1
    with dev.on(s2):
        q = yd - 1
    if dev.cuda:
        torch.cuda.current_stream().wait_stream(s1)
        torch.cuda.current_stream().wait_stream(s2)
    r = p * q
    equal_to(r, (x + 1) * (y - 1), "p*q across streams")
    out["joined"] = exact_t(r)


@check("bf16_gemm_timing", 16)
def bf16_gemm_timing(dev, ctx, out):
    n = 8192 if dev.cuda else 256
    reps = 20 if dev.cuda else 3
    torch.manual_seed(16)
    x = torch.randn(n, n, device=dev.device, dtype=torch.bfloat16)
    y = torch.randn(n, n, device=dev.device, dtype=torch.bfloat16)
    for _ in range(3):
        x @ y
    dev.sync()
    t = time.perf_counter()
    for _ in range(reps):
        z = x @ y
    dev.sync()
    dt = (time.perf_counter() - t) / reps
    tf = 2 * n**3 / dt / 1e12
    assert torch.isfinite(z.float()).all().item()
    ctx["metrics"]["bf16_gemm_tflops"] = {"value": round(tf, 3), "unit": f"TFLOP/s (bf16 {n}^3)", "better": "higher"}
    out["ms"] = info(round(dt * 1e3, 3))
    return f"bf16 matmul {n}^3: {dt * 1e3:.3f} ms, {tf:.1f} TFLOP/s"


@check("gpt2_generate", 17)
def gpt2_generate(dev, ctx, out):
    try:
        import transformers
        from transformers import GPT2Config, GPT2LMHeadModel
    except Exception as e:  # noqa: BLE001 - any import failure means "not here"
        raise Skip(f"transformers not importable ({type(e).__name__}: {str(e).splitlines()[0][:80]}): GPT-2 skipped")
    try:
        transformers.logging.set_verbosity_error()
    except Exception:  # noqa: BLE001
        pass
    a = ctx["args"]
    shape = {"small": dict(n_layer=12, n_embd=768, n_head=12), "tiny": dict(n_layer=2, n_embd=128, n_head=4)}[a.gpt2_size]
    cfg = GPT2Config(vocab_size=50257, n_positions=1024, **shape)
    torch.manual_seed(17)
    model = GPT2LMHeadModel(cfg).eval()  # random weights, made on the CPU: the same in every world
    out["weights"] = exact(digest(torch.cat([p.detach().reshape(-1)[:4096] for p in model.parameters()])))
    model = model.to(dev.device)
    ids = torch.randint(0, cfg.vocab_size, (1, 16), generator=gen(17))
    input_ids = ids.to(dev.device)
    mask = torch.ones_like(input_ids)
    new = a.new_tokens
    kw = dict(attention_mask=mask, do_sample=False, use_cache=True, pad_token_id=cfg.eos_token_id)
    with torch.no_grad():
        logits = model(input_ids).logits[0, -1]
        out["first_logits"] = floats(logits, 1e-3, 1e-4)
        model.generate(input_ids, max_new_tokens=2, **kw)  # warm-up: first-use kernels and handles
        dev.sync()
        t = time.perf_counter()
        seq = model.generate(input_ids, max_new_tokens=new, **kw)
        dev.sync()
        dt = time.perf_counter() - t
    gen_ids = seq[0, ids.shape[1]:].tolist()
    assert seq[0, : ids.shape[1]].tolist() == ids[0].tolist(), "the prompt came back changed"
    assert 1 <= len(gen_ids) <= new, len(gen_ids)
    out["token_ids"] = exact(gen_ids)
    tps = len(gen_ids) / dt
    ctx["metrics"]["gpt2_tokens_per_s"] = {"value": round(tps, 2), "unit": "tokens/s", "better": "higher"}
    out["generate_s"] = info(round(dt, 4))
    out["config"] = info(f"GPT2Config n_layer={cfg.n_layer} n_embd={cfg.n_embd} n_head={cfg.n_head}; "
                         f"transformers {transformers.__version__}")
    return (f"{cfg.n_layer} layers x {cfg.n_embd}: {len(gen_ids)} tokens in {dt:.3f} s = {tps:.1f} tokens/s "
            f"(greedy, KV cache)")


def _small_cnn():
    torch.manual_seed(18)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Conv2d(16, 32, 3, stride=2),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 10)).eval()


@check("conv_no_cudnn", 18)
def conv_no_cudnn(dev, ctx, out):
    prev = torch.backends.cudnn.enabled
    torch.backends.cudnn.enabled = False  # im2col + GEMM: PyTorch's own kernels and cuBLAS
    try:
        net = _small_cnn()
        x = torch.randn(4, 3, 32, 32, generator=gen(18))
        with torch.no_grad():
            ref = net.double()(x.double())
            y = net.float().to(dev.device)(x.to(dev.device))
            y1 = F.conv1d(x[:, 0].to(dev.device), torch.ones(8, 32, 5, device=dev.device) * 0.1)
        close_to(y, ref, 1e-3, 1e-4, "CNN with cuDNN off")
        out["cnn"] = floats(y, 1e-3, 1e-5)
        out["conv1d"] = floats(y1, 1e-4, 1e-5)
    finally:
        torch.backends.cudnn.enabled = prev


@check("conv_cudnn", 19)
def conv_cudnn(dev, ctx, out):
    """cuDNN on (PyTorch's default): the small CNN's eval forward, then a training step's
    gradients (convolution backward, batch-norm training), each against a float64 CPU
    reference; through the shim these are the forwarded cuDNN calls (issue 14)."""
    prev = torch.backends.cudnn.enabled, torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.enabled = True
    torch.backends.cudnn.allow_tf32 = False  # fp32 convolutions, to hold them to float64
    try:
        net = _small_cnn()
        x = torch.randn(4, 3, 32, 32, generator=gen(19))
        with torch.no_grad():
            ref = net.double()(x.double())
            y = net.float().to(dev.device)(x.to(dev.device))
        close_to(y, ref, 1e-3, 1e-4, "CNN with cuDNN on")
        out["cnn"] = floats(y, 1e-3, 1e-5)
        # one training step's gradients: conv backward data and filter, batch norm training
        grads = {}
        for where, dt in (("ref", torch.float64), ("dev", torch.float32)):
            m = _small_cnn().train().to(dt)
            d = torch.device("cpu") if where == "ref" else dev.device
            m = m.to(d)
            loss = m(x.to(dt).to(d)).square().mean()
            loss.backward()
            grads[where] = (loss.detach(), m[0].weight.grad, m[1].weight.grad, m[4].weight.grad)
        for i, what in enumerate(("loss", "conv1.weight.grad", "bn.weight.grad", "conv2.weight.grad")):
            close_to(grads["dev"][i], grads["ref"][i], 1e-3, 1e-4, f"training step {what}")
            out["train_" + what] = floats(grads["dev"][i], 1e-3, 1e-5)
    finally:
        torch.backends.cudnn.enabled, torch.backends.cudnn.allow_tf32 = prev
    return "cuDNN forward and training gradients match float64" + (
        " (through the shim)" if ctx["args"].mode == "shim" else "")


@check("sdpa", 20)
def sdpa(dev, ctx, out):
    """scaled_dot_product_attention with PyTorch's default backend choice (cuDNN attention in
    fp16 on sm_90), causal and not, against a float64 CPU reference (fp32 on the CPU device)."""
    dt = torch.float16 if dev.cuda else torch.float32
    g = gen(20)
    q, k, v = (torch.randn(2, 4, 64, 64, generator=g) for _ in range(3))
    for causal in (False, True):
        ref = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=causal)
        y = F.scaled_dot_product_attention(q.to(dt).to(dev.device), k.to(dt).to(dev.device),
                                           v.to(dt).to(dev.device), is_causal=causal)
        close_to(y.float(), ref, 2e-2, 5e-3, f"SDPA causal={causal}")
        out[f"causal_{causal}"] = floats(y.float(), 2e-2, 5e-3)
    return f"SDPA {str(dt).replace('torch.', '')} causal and not match float64"


@check("resnet50_train", 21)
def resnet50_train(dev, ctx, out):
    """torchvision's ResNet-50: an eval forward and one SGD training step (cuDNN convolutions,
    batch-norm training, backward), batch 2 at 64x64 (32x32 on the CPU); the loss and a sample of the first
    convolution's gradient and of the logits are compared between native and shim runs."""
    try:
        import torchvision
    except Exception as e:  # noqa: BLE001
        raise Skip(f"torchvision not importable ({type(e).__name__}): ResNet-50 skipped")
    torch.manual_seed(21)
    m = torchvision.models.resnet50(num_classes=10).to(dev.device)
    side = 64 if dev.cuda else 32  # the CPU run only tests this script: keep it short
    x = torch.randn(2, 3, side, side, generator=gen(21)).to(dev.device)
    target = torch.tensor([1, 7]).to(dev.device)
    m.eval()
    with torch.no_grad():
        out["eval_logits"] = floats(m(x), 2e-2, 2e-3)
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    loss = F.cross_entropy(m(x), target)
    loss.backward()
    out["loss"] = floats(loss.detach(), 1e-2, 1e-3)
    out["conv1_grad"] = floats(m.conv1.weight.grad, 5e-2, 1e-3)
    opt.step()
    dev.sync()
    assert torch.isfinite(loss).item()
    return f"ResNet-50 eval and one training step: loss {loss.item():.4f}"


# ----------------------------------------------------------------------------- the run


def cuda_libs():
    """Which CUDA-ish libraries are mapped into this process (the shim's look-alikes or real ones)."""
    keys = ("libcudart", "libcublas", "libcuda.so", "libnvidia-ml", "libcudnn.so", "libgenie")
    found = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1] if len(line.split()) >= 6 else ""
                if any(k in os.path.basename(p) for k in keys):
                    found.add(p)
    except OSError:
        pass
    return sorted(found)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="checks: " + ", ".join(n for n, _, _ in CHECKS))
    ap.add_argument("--mode", choices=("native", "shim"), default="native",
                    help="label for the result file (the script runs the same either way)")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                    help="cuda (default) or cpu: every check on the CPU, to test this script")
    ap.add_argument("--out", required=False, default=None,
                    help="JSON result file (default: torch-<mode>-<device>.json)")
    ap.add_argument("--only", default="", help="comma-separated checks to run (default: all)")
    ap.add_argument("--skip", default="", help="comma-separated checks not to run")
    ap.add_argument("--gpt2-size", choices=("small", "tiny"), default="small",
                    help="small: n_layer 12, n_embd 768 (the timing run); tiny: 2 x 128")
    ap.add_argument("--new-tokens", type=int, default=32, help="max_new_tokens of the timed generate (32)")
    ap.add_argument("--list", action="store_true", help="list the checks and exit")
    ap.add_argument("--inject-fail", default="", help=argparse.SUPPRESS)  # tests: this check raises
    a = ap.parse_args()
    names = [n for n, _, _ in CHECKS]
    if a.list:
        print("\n".join(names))
        return 0
    only = [s for s in a.only.split(",") if s]
    skip = [s for s in a.skip.split(",") if s]
    bad = [s for s in only + skip if s not in names]
    if bad:
        ap.error(f"unknown check(s): {', '.join(bad)} (--list shows them)")
    path = a.out or f"torch-{a.mode}-{a.device}.json"
    dev = Dev(a.device)
    res = {
        "schema": SCHEMA, "mode": a.mode, "device": a.device, "complete": False,
        "torch": torch.__version__, "torch_cuda": torch.version.cuda, "python": platform.python_version(),
        "host": platform.node(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "env": {k: os.environ.get(k) for k in ("LD_PRELOAD", "GENIE_REMOTE", "LD_LIBRARY_PATH")},
        "args": vars(a), "checks": [], "metrics": {},
    }

    def write():
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(res, f, indent=1)
        os.replace(tmp, path)

    t0 = time.perf_counter()
    ctx = {"args": a, "metrics": res["metrics"]}
    for name, seed, fn in CHECKS:
        rec = {"name": name, "status": "running", "seconds": 0.0, "note": "", "error": "", "outputs": {}}
        if (only and name not in only) or name in skip:
            rec.update(status="skip", note="not selected")
            res["checks"].append(rec)
            continue
        res["checks"].append(rec)
        write()  # a check that kills the process stays "running" in the file
        torch.manual_seed(seed)
        t = time.perf_counter()
        try:
            if name == a.inject_fail:
                raise RuntimeError(f"injected failure in {name} (--inject-fail)")
            note = fn(dev, ctx, rec["outputs"])
            rec.update(status="pass", note=note or "")
        except Skip as e:
            rec.update(status="skip", note=str(e))
        except Exception as e:  # noqa: BLE001 - record every failure and go on
            rec.update(status="fail", error=f"{type(e).__name__}: {e}".strip()[:2000])
            rec["traceback"] = traceback.format_exc()[-4000:]
        rec["seconds"] = round(time.perf_counter() - t, 3)
        line = rec["note"] if rec["status"] != "fail" else rec["error"].splitlines()[0][:200]
        print(f"{rec['status'].upper():4} {name} ({rec['seconds']:.2f} s){': ' + line if line else ''}", flush=True)
        write()
    res["seconds"] = round(time.perf_counter() - t0, 3)
    res["env"]["cuda_libs_mapped"] = cuda_libs()
    res["complete"] = True
    write()
    n = {s: sum(c["status"] == s for c in res["checks"]) for s in ("pass", "fail", "skip")}
    print(f"torch_checks ({a.mode}, {a.device}): {n['pass']} pass, {n['fail']} fail, {n['skip']} skip "
          f"in {res['seconds']:.1f} s; wrote {path}", flush=True)
    return 1 if n["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
