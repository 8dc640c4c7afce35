#!/usr/bin/env python3
"""test_sim_label.py — a genie-bench run on the fake GPU's device-time model labels every Genie
number "simulated <GPU>": raw.csv, summary.csv and speedup.csv rows, the report's cells, banner and
speedup section, the LaTeX captions and the figure captions; its checksums are excluded (nothing
is computed timing-only). The same run without a model must carry no such label (the check can
fail). One small cell pair (minigpt tiny decode: capture-only, local-remote), one timed run each.

    test_sim_label.py BUILD_DIR

Prints SKIPPED where numpy/scipy/matplotlib are missing (scripts/setup.sh --bench)."""
import csv
import glob
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def run(build, out, model):
    cmd = [sys.executable, "-m", "genie_bench", "--quick", "--workloads", "decode", "--backends",
           "cuda-c", "--baselines", "capture-only,local-remote", "--runs", "1", "--warmup", "0",
           "--netns", "off", "--no-progress", "--fake-gpu-model", model, "--build", build,
           "--out", out]
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "bench"),
           "GENIE_BENCH_FORCE_NO_GPU": "1"}
    env.pop("GENIE_FAKE_GPU_MODEL", None)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        print(p.stdout, p.stderr)
    check(p.returncode == 0, f"genie-bench ({model}) exit {p.returncode}")


def main():
    try:
        import matplotlib  # noqa: F401
        import numpy  # noqa: F401
        import scipy  # noqa: F401
    except ImportError:
        print("SKIPPED: numpy/scipy/matplotlib missing (scripts/setup.sh --bench installs them)")
        return 0
    build = sys.argv[1]
    label = "simulated H100 SXM5 80GB"
    with tempfile.TemporaryDirectory() as tmp:
        sim, plain = os.path.join(tmp, "sim"), os.path.join(tmp, "plain")
        run(build, sim, "h100")
        run(build, plain, "none")
        if fails:
            return 1
        # on the model: every Genie row, in every table, says so
        raw = rows(os.path.join(sim, "raw.csv"))
        check(len(raw) == 2, f"raw.csv has {len(raw)} rows, 2 expected (did both cells run?)")
        for r in raw:
            check(r["device"].startswith(label), f"raw.csv {r['baseline']}: device {r['device']}")
            check(r["checksum_valid"] == "0", f"raw.csv {r['baseline']}: a timing-only checksum "
                  "counted as valid")
        summ = rows(os.path.join(sim, "summary.csv"))
        for s in summ:
            check(s["status"] == "ran", f"summary.csv {s['baseline']}: {s['status']}")
            check(s["device"].startswith(label), f"summary.csv {s['baseline']}: {s['device']}")
        spd = rows(os.path.join(sim, "speedup.csv"))
        check(len(spd) >= 1, "no speedup row (local-remote against capture-only)")
        for s in spd:
            check(s["device"].startswith(label), f"speedup.csv {s['baseline']}: {s['device']}")
        with open(os.path.join(sim, "report.md")) as f:
            md = f.read()
        check(f"**S{label[1:]}.**" in md, "report.md: no banner")
        perf = [ln for ln in md.splitlines() if ln.startswith("| decode | cuda-c | ms_per_token")]
        check(len(perf) == 1 and perf[0].count(label) == 2,
              f"report.md: the performance row does not label both cells: {perf}")
        check(f"Genie cells: {label} (simulated)" in md, "report.md: speedups not labelled")
        for tex in ("table_performance.tex", "table_speedup.tex"):
            with open(os.path.join(sim, tex)) as f:
                check(label in f.read(), f"{tex}: caption does not say {label}")
        caps = [ln for ln in md.splitlines() if ln.startswith("![")]
        check(caps and all(label in c for c in caps), "report.md: a figure caption lacks the label")
        # without a model: none of it (the checks above can fail)
        for name in ("raw.csv", "summary.csv", "speedup.csv", "report.md",
                     "table_performance.tex", "table_speedup.tex"):
            with open(os.path.join(plain, name)) as f:
                check("simulated" not in f.read().lower(), f"{name} without a model says simulated")
        for r in rows(os.path.join(plain, "raw.csv")):
            check(r["device"] == "fake GPU", f"without a model: device {r['device']}")
    print("test_sim_label:", "FAILED" if fails else "OK")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
