"""cli.py — genie-bench: runs the matrix with a progress bar and writes one results directory."""
import argparse
import json
import os
import signal
import sys
import time

from genie_bench import env as benv
from genie_bench import link as blink
from genie_bench import matrix as M
from genie_bench.matrix import BASELINES
from genie_bench import report
from genie_bench.runner import NotRun, Runner

QUICK_WORKLOADS = "decode,prefill,cnn-b1,cnn-b8,vqa,micro"
QUICK_BACKENDS = {"cuda-c": None, "torch": {"decode", "micro"}}
# --quick runs the torch back ends under these baselines only (a torch worker costs 15-25 s on a
# loaded 2-core machine, most of it importing torch and transformers; the CUDA C rows cover
# naive-remote and no-semantics)
QUICK_TORCH = {"decode": {"local", "capture-only", "local-remote", "full", "torch-rpc-stateless",
                          "torch-rpc-stateful", "ray-stateless", "ray-stateful"},
               "micro": {"local", "capture-only"}}


def parse(argv):
    ap = argparse.ArgumentParser(
        prog="genie-bench",
        description="Genie's benchmark suite: the same workloads under each baseline "
                    "(local, capture-only, local-remote, naive-remote, no-semantics, full, "
                    "torch-rpc, ray), with statistics, CSV, LaTeX tables, figures and report.md.")
    ap.add_argument("--quick", action="store_true",
                    help="CI-sized matrix: small models, 3 timed runs, 1 warm-up; torch back "
                         "ends only for decode (local, capture-only, local-remote, RPC) and "
                         "micro (local, capture-only), no Ray; about 3 minutes "
                         "on a 2-core machine")
    ap.add_argument("--small", action="store_true",
                    help="--quick's model sizes with the matrix you choose (implied by --quick)")
    ap.add_argument("--baselines", default="all",
                    help="comma list of " + ", ".join(M.BASELINES) +
                         "; groups: torch-rpc, ray, genie, all (default all)")
    ap.add_argument("--workloads", default="all",
                    help="comma list of " + ", ".join(M.WORKLOAD_NAMES) + " (default all)")
    ap.add_argument("--backends", default="cuda-c,torch",
                    help="comma list of cuda-c, torch (default both)")
    ap.add_argument("--runs", type=int, help="timed runs per cell (default 10; 3 with --quick)")
    ap.add_argument("--warmup", type=int, help="warm-up runs per cell, not timed (default 2; 1 "
                                               "with --quick)")
    ap.add_argument("--out", help="results directory (default bench-results/<date-time>)")
    ap.add_argument("--remote", metavar="HOST:PORT",
                    help="a genie-remote already running on a GPU host: the link under test for "
                         "naive-remote, no-semantics and full")
    ap.add_argument("--link", default="none", choices=["none", "lan", "dc", "wan"],
                    help="emulated link between client and genie-remote (bench/relay): dc 25 us "
                         "and 25 Gbit/s, lan 250 us and 1 Gbit/s, wan 10 ms and 100 Mbit/s one "
                         "way (default none)")
    ap.add_argument("--netns", choices=["auto", "on", "off"], default="auto",
                    help="run the remote side in a network namespace and read the veth's byte "
                         "counters (root; auto: when possible)")
    ap.add_argument("--build", help="Genie build directory (default: the repository's build/)")
    ap.add_argument("--timeout", type=float,
                    help="seconds one run may take (a torch worker: may stay silent) before its "
                         "cell fails (default 600; 120 with --quick)")
    ap.add_argument("--budget", type=float,
                    help="seconds for the whole matrix: cells not begun when it is spent are "
                         "reported as not run (default none; 420 with --quick)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("--fake-gpu-model", default=os.environ.get("GENIE_FAKE_GPU_MODEL", "none"),
                    metavar="none|h100|h200|a100|FILE",
                    help="with no GPU, the fake GPU's device-time model for the Genie cells "
                         "(default: GENIE_FAKE_GPU_MODEL, else none); their numbers are then "
                         "labelled 'simulated <GPU>' everywhere")
    a = ap.parse_args(argv)
    a.small = a.small or a.quick
    a.runs = a.runs or (3 if a.quick else 10)
    a.warmup = a.warmup if a.warmup is not None else (1 if a.quick else 2)
    a.timeout = a.timeout or (120 if a.quick else 600)
    if a.budget is None and a.quick:
        a.budget = 420
    if a.runs < 1 or a.warmup < 0:
        ap.error("--runs must be at least 1 and --warmup at least 0")
    return a


def plan(a):
    bl = M.expand(a.baselines, M.BASELINES, M.GROUPS, "baseline")
    wls = M.WORKLOAD_NAMES if a.workloads == "all" else \
        M.expand(a.workloads, M.WORKLOAD_NAMES, None, "workload")
    bes = M.expand(a.backends, ["cuda-c", "torch"], None, "back end")
    cells = []
    for w in M.WORKLOADS:
        if w.name not in wls or w.backend not in bes:
            continue
        if a.quick and QUICK_BACKENDS[w.backend] is not None and w.name not in QUICK_BACKENDS[w.backend]:
            continue
        for b in bl:
            if a.quick and w.backend == "torch" and b not in QUICK_TORCH.get(w.name, BASELINES):
                continue
            cells.append((w, b))
    return cells


def main(argv=None):
    a = parse(sys.argv[1:] if argv is None else argv)
    paths = benv.find_build(a.build)
    miss = paths.missing()
    if miss:
        print("genie-bench: missing " + ", ".join(miss) + " (scripts/setup.sh builds them)",
              file=sys.stderr)
        return 2
    out = a.out or os.path.join("bench-results", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    cells = plan(a)
    if not cells:
        print("genie-bench: nothing to run", file=sys.stderr)
        return 2

    netns, netns_why = None, None
    if a.netns == "off":
        netns_why = "no netns (--netns off)"
    elif a.remote:
        netns_why = "no netns (--remote: the link is a real one)"
    else:
        netns, netns_why = blink.try_netns()
        if netns is None and a.netns == "on":
            print(f"genie-bench: {netns_why}", file=sys.stderr)
            return 2

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    meta = {"command": "genie-bench " + " ".join(sys.argv[1:] if argv is None else argv),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "quick": a.quick, "small": a.small,
            "runs": a.runs, "warmup": a.warmup, "timeout": a.timeout, "budget": a.budget,
            "link": a.link, "remote": a.remote,
            "netns": netns.name if netns else netns_why, "machine": benv.machine_info(),
            "simulated": None if benv.has_gpu() or a.remote else
            benv.fake_model_label(a.fake_gpu_model),
            "build": paths.build}
    total = len(cells) * (a.runs + a.warmup)
    try:
        from tqdm import tqdm
        bar = tqdm(total=total, unit="run", disable=a.no_progress, dynamic_ncols=True)
    except ImportError:
        bar = None
    done = [0]

    def progress(n):
        done[0] += n
        if bar:
            bar.update(n)

    a.link_hold_us = None
    if a.link != "none" and not a.remote and os.path.exists(paths.relay):
        # the relay's own cost is taken off its hold, measured now on this machine
        try:
            meta["link_calibration"] = blink.calibrate(paths.relay, a.link)
            a.link_hold_us = meta["link_calibration"]["hold_us"]
        except Exception as e:  # noqa: BLE001 - the configured delay is used, and said so
            meta["link_calibration_error"] = f"{type(e).__name__}: {e}"
    runner = Runner(a, paths, out, progress)
    runner.netns = netns
    results = []
    t_start = time.time()
    try:
        for w, b in cells:
            if bar:
                bar.set_description(f"{w.name}/{w.backend} {b}")
            before = done[0]
            # --link none with no --remote: full is local-remote's run, shown once
            if b == "full" and a.link == "none" and not a.remote:
                results.append({"wl": w, "baseline": b, "status": "same run as local-remote "
                                "(--link none)", "rows": [], "device": runner.device(w, b)})
                progress(a.runs + a.warmup)
                continue
            t0 = time.time()
            try:
                if a.budget is not None and t0 - t_start > a.budget:
                    raise NotRun(f"over the time budget (--budget {a.budget:.0f} s spent before "
                                 "this cell)")
                rows, _ = runner.run_cell(w, b, a.runs, a.warmup)
                status = "ran"
            except NotRun as e:
                rows, status = [], f"not run: {e}"
            except Exception as e:  # noqa: BLE001 - a broken cell must not stop the matrix
                rows, status = [], f"not run: failed: {type(e).__name__}: {str(e)[:100]}"
            progress(a.runs + a.warmup - (done[0] - before))
            results.append({"wl": w, "baseline": b, "status": status, "rows": rows,
                            "device": runner.device(w, b), "seconds": time.time() - t0,
                            "link_counters": netns_why if not netns else "veth"})
    except KeyboardInterrupt:
        print("\ngenie-bench: interrupted; writing what ran", file=sys.stderr)
        meta["interrupted"] = True
    finally:
        if bar:
            bar.close()
        if netns:
            netns.close()
    if a.link != "none" and not meta.get("interrupted"):
        # how close the relay comes to its profile, measured now on this machine
        if os.path.exists(paths.relay):
            try:
                meta["link_accuracy"] = blink.accuracy(
                    paths.relay, (a.link,),
                    {a.link: a.link_hold_us} if a.link_hold_us is not None else None)
            except Exception as e:  # noqa: BLE001 - reported, not fatal
                meta["link_accuracy_error"] = f"{type(e).__name__}: {e}"
        else:
            meta["link_accuracy_error"] = f"relay not built ({paths.relay})"
    meta["seconds"] = time.time() - t_start
    # where the time went, cell by cell (CI's budget is set from this)
    meta["cells"] = [{"cell": f"{r['wl'].key}/{r['baseline']}", "status": r["status"],
                      "seconds": round(r.get("seconds", 0.0), 1)} for r in results]
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    report.write_all(out, results, meta, a)
    print(f"genie-bench: results in {out}/ (report.md) after {meta['seconds']:.0f} s")
    return 130 if meta.get("interrupted") else 0


if __name__ == "__main__":
    sys.exit(main())
