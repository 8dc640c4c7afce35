#!/usr/bin/env python3
"""fit_fakegpu_model.py — fits a fake GPU model file's parameters to a GPU's measured timings.

    fit_fakegpu_model.py fit MODEL TIMINGS [--out FILE]
        MODEL    tests/fakegpu/models/h100.model (or h100, h200, a100)
        TIMINGS  a device timings TSV, or a device-validate OUTDIR holding device-timings.tsv
        writes the model file with the fitted values (stdout, or --out), and prints each
        parameter before and after and the timings' relative error before and after (stderr)
    fit_fakegpu_model.py synthesize MODEL --out TSV [--noise 0.02] [--seed 1]
        timings computed from MODEL's own formulas (docs/fakegpu.md), with multiplicative noise:
        for testing the fit (tests/bench/test_fit_model.py) — SIMULATED, never a measurement

Timings TSV (tab-separated, '#' comments, one header line), one row per measured operation, its
device time in ms (CUDA events around the operation, median of repetitions):

    kind    dtype  m  n  k  bytes  blocks  name  ms
    gemm    f16    4096 4096 4096 100663296 0 -  0.21     dtype: f32 tf32 f16 f64 f8 i8
    h2d|d2h|d2d|memset  -  0 0 0  1048576  0  -  0.021    pinned host memory for h2d/d2h
    kernel  -      0 0 0  0  1000  <name>  0.0045         <name>: matched against the model's
                                                          kernel table, as the fake GPU does

What is fitted (the datasheet's peaks and HBM bandwidth stay: the efficiencies absorb the rest):
  gemm_efficiency, gemm_min_us   GEMM rows: each row is compute-, memory- or minimum-bound by the
                                 current estimates; the medians of those groups, iterated
  hbm_efficiency                 d2d (2 x bytes) and memset (bytes) rows: least squares slope
  h2d_bandwidth, d2h_bandwidth   their rows: least squares slope
  copy_latency_us                the mean intercept of the four copy fits
  kernel rows' base_us and per_block_ns   per table row with >= 2 sizes: least squares over blocks
                                 (intercept - launch_us); launch_us itself is kept: kernel times
                                 cannot tell it from base_us
  kernel_default_us              kernels no row matches: median - launch_us
A parameter with no rows to fit it keeps its value. The written file says on its `Fitted:` line
where the timings came from, how many rows, and the error before and after.
"""
import argparse
import os
import random
import re
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "tests", "fakegpu", "models")
DTYPES = ["f32", "tf32", "f16", "f64", "f8", "i8"]
NUM_KEYS = ["peak_" + d for d in DTYPES] + [
    "gemm_efficiency", "gemm_min_us", "hbm_bandwidth", "hbm_efficiency", "h2d_bandwidth",
    "d2h_bandwidth", "copy_latency_us", "launch_us", "kernel_default_us"]
COLS = ["kind", "dtype", "m", "n", "k", "bytes", "blocks", "name", "ms"]


def model_path(m):
    return m if os.sep in m or m.endswith(".model") else os.path.join(MODELS, f"{m}.model")


def read_model(path):
    """(params, kernel rows [(pattern, base_us, per_block_ns)], lines) of a model file."""
    p, rows = {}, []
    with open(path) as f:
        lines = f.read().splitlines()
    for ln in lines:
        body = ln.split("#", 1)[0]
        if "=" not in body:
            continue
        k, v = (x.strip() for x in body.split("=", 1))
        if k == "name":
            p["name"] = v
        elif k == "kernel":
            pat, base, per = v.split()
            rows.append([pat, float(base), float(per)])
        elif k in NUM_KEYS:
            p[k] = float(v)
        else:
            raise SystemExit(f"{path}: unknown key {k}")
    return p, rows, lines


# ---- the model's formulas (tests/fakegpu/fg_model.c, docs/fakegpu.md), in ms ----

def op_ms(p, rows, op):
    hbm = p["hbm_bandwidth"] * p["hbm_efficiency"]
    lat = p["copy_latency_us"] * 1e-3
    kind, b = op["kind"], op["bytes"]
    if kind == "gemm":
        flops = 2.0 * op["m"] * op["n"] * op["k"]
        return max(p["gemm_min_us"] * 1e-3,
                   flops / (p["peak_" + op["dtype"]] * p["gemm_efficiency"]) * 1e3,
                   b / hbm * 1e3)
    if kind == "h2d":
        return lat + b / p["h2d_bandwidth"] * 1e3
    if kind == "d2h":
        return lat + b / p["d2h_bandwidth"] * 1e3
    if kind == "d2d":
        return lat + 2 * b / hbm * 1e3
    if kind == "memset":
        return lat + b / hbm * 1e3
    if kind == "kernel":
        r = kernel_row(rows, op["name"])
        t = p["launch_us"] * 1e-3
        if r is None:
            return t + p["kernel_default_us"] * 1e-3
        return t + r[1] * 1e-3 + op["blocks"] * r[2] * 1e-6
    raise ValueError(f"unknown kind {kind}")


def kernel_row(rows, name):
    for r in rows:
        if r[0] in name:
            return r
    return None


# ---- timings ----

def read_timings(path):
    if os.path.isdir(path):
        path = os.path.join(path, "device-timings.tsv")
    ops = []
    with open(path) as f:
        head = None
        for ln in f:
            ln = ln.rstrip("\n")
            if not ln.strip() or ln.startswith("#"):
                continue
            cells = ln.split("\t")
            if head is None:
                head = cells
                missing = [c for c in COLS if c not in head]
                if missing:
                    raise SystemExit(f"{path}: header lacks {', '.join(missing)}")
                continue
            d = dict(zip(head, cells))
            op = {"kind": d["kind"], "dtype": d["dtype"], "name": d["name"],
                  "ms": float(d["ms"])}
            for c in ("m", "n", "k", "bytes", "blocks"):
                op[c] = float(d[c])
            if op["ms"] <= 0:
                raise SystemExit(f"{path}: a time of {op['ms']} ms")
            ops.append(op)
    return ops, path


def write_timings(path, ops, note):
    with open(path, "w") as f:
        f.write(f"# {note}\n")
        f.write("\t".join(COLS) + "\n")
        for o in ops:
            f.write("\t".join(str(o[c]) if c not in ("m", "n", "k", "bytes", "blocks")
                              else str(int(o[c])) for c in COLS) + "\n")


def linfit(xs, ys):
    """Least squares y = a + b x in relative terms (weights 1/y^2): a 4 KiB copy's latency
    counts as much as a 1 GiB copy's bandwidth. (a, b)."""
    w = [1.0 / (y * y) for y in ys]
    sw = sum(w)
    mx = sum(wi * x for wi, x in zip(w, xs)) / sw
    my = sum(wi * y for wi, y in zip(w, ys)) / sw
    sxx = sum(wi * (x - mx) ** 2 for wi, x in zip(w, xs))
    if sxx == 0:
        return my, 0.0
    b = sum(wi * (x - mx) * (y - my) for wi, x, y in zip(w, xs, ys)) / sxx
    return my - b * mx, b


def rel_err(p, rows, ops):
    e = [abs(op_ms(p, rows, o) - o["ms"]) / o["ms"] for o in ops]
    return (sum(x * x for x in e) / len(e)) ** 0.5 if e else 0.0, max(e) if e else 0.0


# ---- the fit ----

def fit(p0, rows0, ops):
    p = dict(p0)
    rows = [list(r) for r in rows0]
    by = lambda k: [o for o in ops if o["kind"] == k]  # noqa: E731
    lats = []
    # host link: t = lat + bytes / bw
    for kind, key in (("h2d", "h2d_bandwidth"), ("d2h", "d2h_bandwidth")):
        o = by(kind)
        if len({x["bytes"] for x in o}) >= 2:
            a, b = linfit([x["bytes"] for x in o], [x["ms"] for x in o])
            if b > 0:
                p[key] = 1e3 / b
                lats.append(a)
    # HBM: d2d moves 2 x bytes, memset 1 x bytes
    o = by("d2d") + by("memset")
    if len({x["bytes"] * (2 if x["kind"] == "d2d" else 1) for x in o}) >= 2:
        a, b = linfit([x["bytes"] * (2 if x["kind"] == "d2d" else 1) for x in o],
                      [x["ms"] for x in o])
        if b > 0:
            p["hbm_efficiency"] = 1e3 / (b * p["hbm_bandwidth"])
            lats.append(a)
    if lats:
        p["copy_latency_us"] = max(0.0, statistics.mean(lats) * 1e3)
    # GEMMs: classify each by the term that bounds it under the current estimates, re-estimate
    g = by("gemm")
    if g:
        p["gemm_min_us"] = min(x["ms"] for x in g) * 1e3
        for _ in range(20):
            hbm = p["hbm_bandwidth"] * p["hbm_efficiency"]
            effs, mins = [], []
            for x in g:
                flops = 2.0 * x["m"] * x["n"] * x["k"]
                comp = flops / (p["peak_" + x["dtype"]] * p["gemm_efficiency"]) * 1e3
                mem = x["bytes"] / hbm * 1e3
                gmin = p["gemm_min_us"] * 1e-3
                if comp >= mem and comp >= gmin * 1.2:
                    effs.append(flops / (p["peak_" + x["dtype"]] * x["ms"] * 1e-3))
                elif gmin >= comp * 1.2 and gmin >= mem * 1.2:
                    mins.append(x["ms"])
            new = dict(p)
            if effs:
                new["gemm_efficiency"] = statistics.median(effs)
            if mins:
                new["gemm_min_us"] = statistics.median(mins) * 1e3
            if all(abs(new[k] - p[k]) <= 1e-9 * abs(p[k]) for k in ("gemm_efficiency",
                                                                    "gemm_min_us")):
                break
            p = new
    # kernels: per table row, t = launch + base + blocks * per_block
    k = by("kernel")
    for r in rows:
        o = [x for x in k if kernel_row(rows, x["name"]) is r]
        if len({x["blocks"] for x in o}) >= 2:
            a, b = linfit([x["blocks"] for x in o], [x["ms"] for x in o])
            r[1] = max(0.0, a * 1e3 - p["launch_us"])
            r[2] = max(0.0, b * 1e6)
    o = [x for x in k if kernel_row(rows, x["name"]) is None]
    if o:
        p["kernel_default_us"] = max(0.0, statistics.median(x["ms"] for x in o) * 1e3 -
                                     p["launch_us"])
    return p, rows


def fmt(v):
    return f"{v:.4g}"


def moved(new, old):
    """Changed by more than the 4 digits a model file keeps."""
    return abs(new - old) > 5e-5 * max(abs(old), 1e-12)


def write_model(lines, p0, rows0, p, rows, note):
    """The model file's lines with each fitted value replaced (its old value kept in a comment)."""
    out, ki = [], 0
    for ln in lines:
        body, _, comment = ln.partition("#")
        if ln.startswith("# Fitted:"):
            out.append(f"# Fitted: {note}")
            continue
        m = re.match(r"\s*([a-z0-9_]+)\s*=", body)
        if m and m.group(1) in NUM_KEYS and moved(p[m.group(1)], p0[m.group(1)]):
            key = m.group(1)
            out.append(f"{key} = {fmt(p[key])}".ljust(26) +
                       f"# fitted (was {fmt(p0[key])}); {comment.strip()}")
            continue
        if m and m.group(1) == "kernel":
            r0, r = rows0[ki], rows[ki]
            ki += 1
            if moved(r[1], r0[1]) or moved(r[2], r0[2]):
                out.append(f"kernel = {r[0]:<30} {fmt(r[1]):>7}  {fmt(r[2]):>11}"
                           f"   # fitted (was {fmt(r0[1])} {fmt(r0[2])})")
                continue
        out.append(ln)
    return "\n".join(out) + "\n"


# ---- synthetic timings (for testing the fit) ----

def synth_ops(rows):
    ops = []

    def add(kind, dtype="-", m=0, n=0, k=0, b=0, blocks=0, name="-"):
        ops.append({"kind": kind, "dtype": dtype, "m": m, "n": n, "k": k, "bytes": b,
                    "blocks": blocks, "name": name})
    for dt, esz in (("f16", 2), ("f32", 4), ("tf32", 4)):
        for s in (64, 128, 256, 1024, 2048, 4096, 8192, 16384):
            add("gemm", dt, s, s, s, (3 * s * s) * esz)
    for n, k in ((50257, 768), (3072, 768), (768, 3072), (65536, 8192)):  # decode GEMVs
        add("gemm", "f16", 1, n, k, (k + k * n + n) * 2)
    for kind in ("h2d", "d2h", "d2d", "memset"):
        for sh in (12, 16, 20, 24, 26, 28, 30):
            add(kind, b=1 << sh)
    for r in rows:
        for blocks in (1, 100, 10000, 1000000):
            add("kernel", blocks=blocks, name=f"devt_{r[0]}_probe")
    add("kernel", blocks=1, name="devt_empty")
    add("kernel", blocks=1000, name="devt_empty")
    return ops


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit")
    f.add_argument("model")
    f.add_argument("timings")
    f.add_argument("--out")
    s = sub.add_parser("synthesize")
    s.add_argument("model")
    s.add_argument("--out", required=True)
    s.add_argument("--noise", type=float, default=0.0, help="relative sd of a normal factor")
    s.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    path = model_path(a.model)
    p0, rows0, lines = read_model(path)
    if a.cmd == "synthesize":
        rnd = random.Random(a.seed)
        ops = synth_ops(rows0)
        for o in ops:
            o["ms"] = op_ms(p0, rows0, o) * max(0.5, rnd.gauss(1.0, a.noise))
        write_timings(a.out, ops, f"SIMULATED timings from {os.path.basename(path)}'s formulas "
                      f"(noise sd {a.noise}, seed {a.seed}): for testing the fit, not a GPU")
        return 0
    ops, src = read_timings(a.timings)
    if not ops:
        raise SystemExit(f"{src}: no timings")
    p, rows = fit(p0, rows0, ops)
    before, after = rel_err(p0, rows0, ops), rel_err(p, rows, ops)
    for k in NUM_KEYS:
        if moved(p[k], p0[k]):
            print(f"{k:20} {fmt(p0[k]):>12} -> {fmt(p[k]):>12}", file=sys.stderr)
    for r0, r in zip(rows0, rows):
        if moved(r[1], r0[1]) or moved(r[2], r0[2]):
            print(f"kernel {r[0]:30} {fmt(r0[1])} {fmt(r0[2])} -> {fmt(r[1])} {fmt(r[2])}",
                  file=sys.stderr)
    print(f"relative error over {len(ops)} timings: rms {before[0]:.1%} max {before[1]:.1%} "
          f"before, rms {after[0]:.1%} max {after[1]:.1%} after", file=sys.stderr)
    note = (f"{time.strftime('%Y-%m-%d')} by bench/micro/fit_fakegpu_model.py to {len(ops)} "
            f"timings from {src}; relative error rms {before[0]:.1%} -> {after[0]:.1%}, "
            f"max {before[1]:.1%} -> {after[1]:.1%}")
    text = write_model(lines, p0, rows0, p, rows, note)
    if a.out:
        with open(a.out, "w") as fo:
            fo.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
