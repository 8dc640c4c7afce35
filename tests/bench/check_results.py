"""check_results.py — the honesty checks of a genie-bench results directory.

    python3 tests/bench/check_results.py RESULTS_DIR [--expect-ran CELL ...]

1. every output file exists and is not empty (CSV, three LaTeX tables, five figures as PDF
   and PNG, report.md);
2. every number of summary.csv is recomputed from raw.csv (genie_bench.stats, same seeds) to
   the same value, and speedup.csv's from the same raw rows;
3. no cell that did not run shows a number in summary.csv, speedup.csv or traffic.csv, and
   every cell that ran has exactly its timed runs in raw.csv;
4. for every Genie run, the bytes in raw.csv (proc_bytes_sent/received) match the shim's
   counters file it names, and the timed region's bytes are at most the process's;
5. where the veth counters were read, link bytes are at least the shim's (ratio >= 1).
--expect-ran workload/backend/baseline: that cell must have run (so a quick run in which
everything failed cannot pass). Exit 0: all hold; 1: a check failed (each failure printed).
"""
import argparse
import csv
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))

from genie_bench import stats as S  # noqa: E402

FILES = ["raw.csv", "summary.csv", "speedup.csv", "traffic.csv", "table_performance.tex",
         "table_speedup.tex", "table_traffic.tex", "report.md", "meta.json"] + [
    f"figures/{n}.{e}" for n in ("latency_breakdown", "semantic_impact", "heatmap", "traffic",
                                 "cost_model") for e in ("pdf", "png")]
GENIE = {"capture-only", "local-remote", "naive-remote", "no-semantics", "full"}


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def close(a, b):
    if a in ("", None) or b is None:
        return a in ("", None) and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--expect-ran", nargs="*", default=[])
    a = ap.parse_args()
    bad = []
    checks = 0

    def check(ok, msg):
        nonlocal checks
        checks += 1
        if not ok:
            bad.append(msg)

    for f in FILES:
        p = os.path.join(a.dir, f)
        check(os.path.exists(p) and os.path.getsize(p) > 0, f"missing or empty: {f}")
    if bad:
        for b in bad:
            print("FAIL " + b)
        return 1
    meta = json.load(open(os.path.join(a.dir, "meta.json")))
    raw = load(os.path.join(a.dir, "raw.csv"))
    summary = load(os.path.join(a.dir, "summary.csv"))
    speed = load(os.path.join(a.dir, "speedup.csv"))
    traffic = load(os.path.join(a.dir, "traffic.csv"))
    groups = {}
    for r in raw:
        groups.setdefault((r["workload"], r["backend"], r["baseline"], r["metric"]), []).append(r)

    numeric = ["n", "mean", "median", "p95", "sd", "ci_lo", "ci_hi"]
    ran = set()
    for s in summary:
        k = (s["workload"], s["backend"], s["baseline"], s["metric"])
        name = "/".join(k)
        rows = groups.get(k, [])
        if s["status"] != "ran":
            check(all(s[c] == "" for c in numeric), f"{name}: not run ({s['status']}) but "
                                                     "shows numbers")
            check(not rows, f"{name}: not run but has rows in raw.csv")
            continue
        ran.add("/".join(k[:3]))
        check(len(rows) == meta["runs"], f"{name}: {len(rows)} rows in raw.csv, "
                                         f"{meta['runs']} timed runs expected")
        check(sorted(int(r["run"]) for r in rows) == list(range(len(rows))),
              f"{name}: run numbers are not 0..n-1")
        vals = [float(r["value_ms"]) for r in rows]
        check(all(v > 0 for v in vals), f"{name}: a timed value is zero or negative")
        want = S.summarize(vals, name)
        for c in numeric:
            check(close(s[c], want[c]), f"{name}: {c} {s[c]} != {want[c]} recomputed from raw.csv")
    statuses = {(s["workload"], s["backend"], s["baseline"]): s["status"] for s in summary}
    for r in raw:
        k = (r["workload"], r["backend"], r["baseline"])
        check(statuses.get(k) == "ran", f"raw.csv row of {'/'.join(k)}, whose status is "
                                        f"{statuses.get(k)}")
    for s in speed:
        k = (s["workload"], s["backend"], s["baseline"], s["metric"])
        name = "/".join(k) + " vs " + s["reference"]
        ck = k if statuses.get(k[:3]) == "ran" else (k[0], k[1], "local-remote", k[3])
        c = groups.get(ck)
        ref = groups.get((k[0], k[1], s["reference"], k[3]))
        check(bool(c) and bool(ref), f"{name}: speedup without runs of both cells")
        if c and ref:
            want = S.speedup([float(x["value_ms"]) for x in ref], [float(x["value_ms"]) for x in c],
                             f"{k[0]}/{k[1]}/{k[2]}/{s['reference']}/{k[3]}")
            for col in ("ratio", "ci_lo", "ci_hi", "p_value", "added_ms"):
                check(close(s[col], want[col]), f"{name}: {col} {s[col]} != {want[col]}")
            check(c[0]["device"] == ref[0]["device"], f"{name}: speedup across devices")
    for t in traffic:
        name = f"{t['workload']}/{t['backend']}/{t['baseline']}"
        if t["status"] != "ran":
            check(all(t[c] == "" for c in t if c not in ("workload", "backend", "baseline",
                                                         "status", "link_status")),
                  f"{name}: traffic numbers for a cell that did not run")
        if t["link_bytes_up"] and t["proc_shim_bytes_up"]:
            ratio = (float(t["link_bytes_up"]) + float(t["link_bytes_down"])) / (
                float(t["proc_shim_bytes_up"]) + float(t["proc_shim_bytes_down"]))
            check(close(t["link_over_shim"], ratio), f"{name}: veth/shim {t['link_over_shim']} "
                                                     f"!= {ratio} recomputed")
            check(ratio >= 1.0, f"{name}: veth bytes below the shim's ({ratio:.3f})")
    nfiles = 0
    for r in raw:
        if r["baseline"] not in GENIE:
            continue
        name = f"{r['workload']}/{r['backend']}/{r['baseline']} run {r['run']}"
        cf = r["counters_file"]
        check(bool(cf), f"{name}: no counters file")
        if not cf:
            continue
        with open(os.path.join(a.dir, cf)) as f:
            tot = json.load(f)
        nfiles += 1
        check(int(r["proc_bytes_sent"]) == tot["bytes_sent"] and
              int(r["proc_bytes_received"]) == tot["bytes_received"],
              f"{name}: bytes in raw.csv differ from {cf}")
        check(0 < float(r["shim_bytes_sent"]) <= tot["bytes_sent"],
              f"{name}: timed-region bytes {r['shim_bytes_sent']} not within the process's "
              f"{tot['bytes_sent']}")
    for e in a.expect_ran:
        check(e in ran, f"{e} was expected to run (status: "
                        f"{statuses.get(tuple(e.split('/')), 'absent')})")
    check(nfiles > 0 or not any(r["baseline"] in GENIE for r in raw), "no counters file read")
    for b in bad:
        print("FAIL " + b)
    print(f"{len(ran)} cells ran, {len(raw)} timed runs, {nfiles} counters files read")
    print(f"check_results: {checks - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
