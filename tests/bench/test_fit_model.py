#!/usr/bin/env python3
"""test_fit_model.py — bench/micro/fit_fakegpu_model.py recovers known parameters.

A "true" model is h100.model with every fittable parameter moved (efficiencies, bandwidths,
latencies, the minimum GEMM time, two kernel rows, the default kernel time); timings are
synthesized from it (SIMULATED: the model's own formulas, with 2% multiplicative noise), and
the fit, started from h100.model, must land within 4% of each moved value (exactly, without
noise). The fitted file must also read back through the fake GPU's own model parser
(bench/micro/fakegpu_model --formula-only, when built) with the fitted values' times. And
bench/micro/devtimes, run through the shim on the simulated H100, gives GEMM timings from which
the fit recovers h100.model's GEMM efficiency.

    test_fit_model.py [BUILD_DIR]"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "bench", "micro"))
import fit_fakegpu_model as F  # noqa: E402

TRUTH = {"gemm_efficiency": 0.62, "gemm_min_us": 6.5, "hbm_efficiency": 0.78,
         "h2d_bandwidth": 41e9, "d2h_bandwidth": 47e9, "copy_latency_us": 3.5,
         "kernel_default_us": 2.2}
TRUTH_ROWS = {"vectorized_elementwise_kernel": (1.7, 2.3), "reduce_kernel": (5.0, 6.5)}
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def devtimes_through_the_fake(tmp, start):
    """bench/micro/devtimes (what device-validate runs on a GPU host) through libgenie.so on
    the fake GPU's simulated H100, then the fit from the moved model: GEMM efficiency must come
    back to h100.model's. Only the GEMM rows: copies and small kernels through the shim include
    the stack's own time (their events time the modeled stream, which waits for the host), and a
    loaded machine only makes a row slower, hence the loose lower bound."""
    build = sys.argv[1] if len(sys.argv) > 1 else ""
    tool = os.path.join(build, "bench", "micro", "devtimes")
    if not build or not os.path.exists(tool):
        print("devtimes not built: its check skipped")
        return
    b = os.path.abspath(build)
    env = {**os.environ, "GENIE_FAKE_GPU_MODEL": "h100", "GENIE_FAKE_UNKNOWN_KERNELS": "noop",
           "OPENBLAS_NUM_THREADS": "1", "GENIE_REMOTE": "local",
           "GENIE_CUDA_LIB": f"{b}/tests/fakegpu/libgenie_fakecuda.so",
           "GENIE_CUBLAS_LIB": f"{b}/tests/fakegpu/blas/libgenie_fakecublas.so",
           "GENIE_CUBLASLT_LIB": f"{b}/tests/fakegpu/blas/libgenie_fakecublas.so",
           "LD_PRELOAD": f"{b}/shim/libgenie.so"}
    env.pop("GENIE_FAKE_GPU_COMPUTE", None)
    r = subprocess.run([tool, "--quick"], env=env, capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"devtimes under the shim: exit {r.returncode}: {r.stderr[-500:]}")
    tsv = os.path.join(tmp, "devtimes.tsv")
    with open(tsv, "w") as f:
        f.write(r.stdout)
    ops, _ = F.read_timings(tsv)
    kinds = {o["kind"] for o in ops}
    check(kinds == {"gemm", "h2d", "d2h", "d2d", "memset", "kernel"}, f"devtimes kinds {kinds}")
    gemms = os.path.join(tmp, "devtimes-gemm.tsv")
    F.write_timings(gemms, [o for o in ops if o["kind"] == "gemm"], "devtimes' GEMM rows")
    out = os.path.join(tmp, "devtimes.model")
    F.main(["fit", start, gemms, "--out", out])
    pf, _, _ = F.read_model(out)
    p0, _, _ = F.read_model(F.model_path("h100"))
    eff, want = pf["gemm_efficiency"], p0["gemm_efficiency"]
    check(want * 0.85 <= eff <= want * 1.02,
          f"devtimes on simulated H100: gemm_efficiency fitted {eff:.4g}, h100.model {want} "
          f"(started from {TRUTH['gemm_efficiency']})")


def main():
    base = F.model_path("h100")
    p0, rows0, lines = F.read_model(base)
    for k, v in TRUTH.items():
        check(abs(p0[k] - v) > 0.1 * v, f"{k}: the truth must differ from h100.model's value")
    with tempfile.TemporaryDirectory() as tmp:
        p = {**p0, **TRUTH}
        rows = [[r[0], *TRUTH_ROWS.get(r[0], r[1:])] for r in rows0]
        truth = os.path.join(tmp, "truth.model")
        with open(truth, "w") as f:
            f.write(F.write_model(lines, p0, rows0, p, rows, "the test's truth"))
        for noise, tol in ((0.0, 1e-6), (0.02, 0.04)):
            tsv = os.path.join(tmp, f"timings-{noise}.tsv")
            out = os.path.join(tmp, f"fitted-{noise}.model")
            F.main(["synthesize", truth, "--out", tsv, "--noise", str(noise), "--seed", "7"])
            F.main(["fit", base, tsv, "--out", out])
            pf, rowsf, linesf = F.read_model(out)
            for k, v in TRUTH.items():
                check(abs(pf[k] - v) <= tol * v + 1e-9,
                      f"noise {noise}: {k} fitted {pf[k]:.6g}, true {v:.6g} (h100.model {p0[k]:.6g})")
            for r in rowsf:
                if r[0] in TRUTH_ROWS:
                    tb, tp = TRUTH_ROWS[r[0]]
                    # the base is an intercept microseconds above launch_us: looser with noise
                    check(abs(r[1] - tb) <= max(tol * 5, 1e-6) * tb,
                          f"noise {noise}: {r[0]} base_us {r[1]:.6g}, true {tb}")
                    check(abs(r[2] - tp) <= tol * tp + 1e-9,
                          f"noise {noise}: {r[0]} per_block_ns {r[2]:.6g}, true {tp}")
            check(any(ln.startswith("# Fitted: ") and "timings from" in ln for ln in linesf),
                  f"noise {noise}: no Fitted: line")
            for k in ("peak_f16", "hbm_bandwidth", "launch_us"):
                check(pf[k] == p0[k], f"noise {noise}: {k} is not fitted, yet changed")
            ops, _ = F.read_timings(tsv)
            err = F.rel_err(pf, rowsf, ops)[0]
            check(err <= max(noise * 1.5, 1e-6), f"noise {noise}: rms error {err:.3%} after the fit")
        # the fake GPU's own parser reads the fitted file, and its formulas agree with the fit's
        tool = os.path.join(sys.argv[1], "bench", "micro", "fakegpu_model") if len(sys.argv) > 1 \
            else ""
        if tool and os.path.exists(tool):
            out = os.path.join(tmp, "fitted-0.0.model")
            r = subprocess.run([tool, out, "--formula-only"], capture_output=True, text=True,
                               timeout=60)
            check(r.returncode == 0, f"fakegpu_model {out}: exit {r.returncode}: {r.stderr}")
            pf, rowsf, _ = F.read_model(out)
            n = 0
            for ln in r.stdout.splitlines():
                if not ln.startswith("FORMULA\t"):
                    continue
                _, kind, dtype, m, nn, k, b, blocks, name, ms = ln.split("\t")
                op = {"kind": kind, "dtype": dtype, "m": float(m), "n": float(nn),
                      "k": float(k), "bytes": float(b), "blocks": float(blocks), "name": name}
                want = F.op_ms(pf, rowsf, op)
                check(abs(float(ms) - want) <= 1e-3 * want + 1e-6,
                      f"fg_model.c says {ms} ms for {kind} {dtype} {m}x{nn}x{k} {b} B {name}, "
                      f"the fit's formula {want:.6g}")
                n += 1
            check(n >= 10, f"fakegpu_model --formula-only printed {n} FORMULA lines")
            check("simulated" in r.stdout, "fakegpu_model --formula-only: no 'simulated' label")
        devtimes_through_the_fake(tmp, truth)
    print("test_fit_model:", "FAILED" if fails else "OK")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
