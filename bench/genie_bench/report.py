"""report.py — the results directory: raw/summary/speedup/traffic CSV, three LaTeX tables, five
figures (PDF and PNG) and report.md. Every number is computed here from the rows of runs that
happened; a cell without runs shows its reason and no number."""
import csv
import os

import numpy as np

from genie_bench import stats as S
from genie_bench.matrix import BASELINE_DOC, BASELINES, CUDNN_OFF, GENIE, RAY, RPC, WORKLOADS

RAW_COLS = ["workload", "backend", "baseline", "device", "metric", "run", "value_ms", "checksum",
            "checksum_valid", "shim_bytes_sent", "shim_bytes_received", "shim_round_trips",
            "shim_rt_sync", "shim_batches", "shim_batches_delta", "shim_ops_recorded",
            "shim_launches", "shim_wire_ns", "shim_exec_ns", "proc_bytes_sent",
            "proc_bytes_received", "counters_file", "link_bytes_up", "link_bytes_down", "bytes",
            "flops"]
SUM_COLS = ["workload", "backend", "baseline", "metric", "device", "status", "warmup", "n", "mean",
            "median", "p95", "sd", "ci_lo", "ci_hi", "checksum"]
SPD_COLS = ["workload", "backend", "metric", "baseline", "reference", "device", "ratio", "ci_lo",
            "ci_hi", "p_value", "added_ms", "what"]
TRF_COLS = ["workload", "backend", "baseline", "status", "shim_bytes_up_per_run",
            "shim_bytes_down_per_run", "round_trips_per_run", "proc_shim_bytes_up",
            "proc_shim_bytes_down", "link_bytes_up", "link_bytes_down", "link_status",
            "link_over_shim"]


def num(x):
    """Full precision in the CSV (the honesty test recomputes to the same value)."""
    if x is None or x == "":
        return ""
    if isinstance(x, float):
        return repr(x)
    return x


def cell_id(r):
    return r["wl"].name, r["wl"].backend, r["baseline"]


def flatten(results, warmup):
    raw = []
    for r in results:
        w = r["wl"]
        for row in r["rows"]:
            d = {"workload": w.name, "backend": w.backend, "baseline": r["baseline"],
                 "device": r["device"], "metric": row.get("metric", w.metric),
                 "run": row["run"], "value_ms": row["value"], "checksum": row.get("checksum", "")}
            # torch kernels run as no-ops on the fake GPU, and nothing is computed on its
            # device-time model (timing-only): those values are not results
            d["checksum_valid"] = 0 if ("fake GPU" in r["device"] and (
                w.backend == "torch" or r["device"].startswith("simulated"))) \
                or not d["checksum"] else 1
            for k in RAW_COLS:
                if k not in d:
                    d[k] = row.get(k, "")
            raw.append(d)
    return raw


def groups(raw):
    g = {}
    for d in raw:
        g.setdefault((d["workload"], d["backend"], d["baseline"], d["metric"]), []).append(d)
    return g


def summarize(results, raw, warmup):
    g = groups(raw)
    out = []
    for r in results:
        w = r["wl"]
        keys = sorted({k for k in g if k[:3] == cell_id(r)}) or \
            [(w.name, w.backend, r["baseline"], w.metric)]
        for k in keys:
            base = {"workload": k[0], "backend": k[1], "baseline": k[2], "metric": k[3],
                    "device": r["device"], "status": r["status"], "warmup": warmup}
            rows = g.get(k, [])
            if r["status"] == "ran" and rows:
                s = S.summarize([float(x["value_ms"]) for x in rows], "/".join(map(str, k)))
                base.update(s)
                cks = {x["checksum"] for x in rows if int(x["checksum_valid"])}
                base["checksum"] = ",".join(sorted(cks)) if cks else "excluded"
            out.append(base)
    # checksums across the baselines of one workload, back end and device
    by = {}
    for s in out:
        if s.get("checksum") and s["checksum"] != "excluded":
            by.setdefault((s["workload"], s["backend"], s["device"], s["metric"]), set()).add(
                s["checksum"])
    for s in out:
        k = (s["workload"], s["backend"], s["device"], s["metric"])
        s["mismatch"] = len(by.get(k, ())) > 1
    return out


def references(gpu):
    """(baseline, reference, what) pairs: speedups only between cells on the same device."""
    pairs = [("full", "no-semantics", "semantic passes (full vs no-semantics)")]
    if gpu:
        pairs += [(b, "local", "vs local on the GPU") for b in BASELINES if b != "local"]
        pairs += [(b, "no-semantics", "vs no-semantics") for b in GENIE if b not in
                  ("no-semantics", "full")]
    else:
        pairs += [(b, "capture-only", "remoting overhead vs capture-only (fake GPU)")
                  for b in GENIE if b != "capture-only"]
        pairs += [(b, "local", "remoting overhead vs local (CPU)") for b in RPC + RAY]
    return pairs


def speedups(summary, raw, gpu):
    g = groups(raw)
    st = {(s["workload"], s["backend"], s["baseline"], s["metric"]): s for s in summary}
    out = []
    for (w, be, b, m), s in st.items():
        for (cb, ref, what) in references(gpu):
            if b != cb:
                continue
            # full under --link none is local-remote's run
            cb_eff = "local-remote" if s["status"].startswith("same run as local-remote") else b
            if cb_eff != b and ref != "no-semantics":
                continue  # shown once, as local-remote's
            c = g.get((w, be, cb_eff, m))
            rr = g.get((w, be, ref, m))
            rs = st.get((w, be, ref, m))
            if not c or not rr or rs is None or st.get((w, be, cb_eff, m), {}).get("device") != rs["device"]:
                continue
            v = S.speedup([float(x["value_ms"]) for x in rr], [float(x["value_ms"]) for x in c],
                          f"{w}/{be}/{b}/{ref}/{m}")
            out.append({"workload": w, "backend": be, "metric": m, "baseline": b,
                        "reference": ref, "device": rs["device"], "what": what, **v})
    return out


def mean_of(rows, k):
    v = [float(x[k]) for x in rows if x.get(k, "") != ""]
    return float(np.mean(v)) if v else None


def traffic(results, raw):
    g = groups(raw)
    out = []
    for r in results:
        w = r["wl"]
        if r["baseline"] == "local" or (w.name == "micro"):
            continue
        rows = [x for k, v in g.items() if k[:3] == cell_id(r) for x in v]
        d = {"workload": w.name, "backend": w.backend, "baseline": r["baseline"],
             "status": r["status"]}
        if r["status"] == "ran" and rows:
            if r["baseline"] in GENIE:
                d["shim_bytes_up_per_run"] = mean_of(rows, "shim_bytes_sent")
                d["shim_bytes_down_per_run"] = mean_of(rows, "shim_bytes_received")
                d["round_trips_per_run"] = mean_of(rows, "shim_round_trips")
                d["proc_shim_bytes_up"] = mean_of(rows, "proc_bytes_sent")
                d["proc_shim_bytes_down"] = mean_of(rows, "proc_bytes_received")
            lu, ld = mean_of(rows, "link_bytes_up"), mean_of(rows, "link_bytes_down")
            if lu is not None:
                d["link_bytes_up"], d["link_bytes_down"] = lu, ld
                d["link_status"] = "veth"
                if d.get("proc_shim_bytes_up"):
                    d["link_over_shim"] = (lu + ld) / (d["proc_shim_bytes_up"] +
                                                        d["proc_shim_bytes_down"])
            else:
                d["link_status"] = "not run: " + (
                    "capture-only has no link" if r["baseline"] == "capture-only"
                    else r.get("link_counters") or "no netns")
        out.append(d)
    return out


def write_csv(path, cols, rows):
    with open(path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        wr.writeheader()
        for r in rows:
            wr.writerow({k: num(r.get(k)) for k in cols})


# ------------------------------------------------------------------ LaTeX ----

def tex_escape(s):
    return str(s).replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")


def tex_table(path, caption, head, body):
    with open(path, "w") as f:
        f.write("% generated by genie-bench from raw.csv\n\\begin{table}\n\\centering\n")
        f.write(f"\\caption{{{tex_escape(caption)}}}\n")
        f.write("\\begin{tabular}{" + "l" * 2 + "r" * (len(head) - 2) + "}\n\\hline\n")
        f.write(" & ".join(tex_escape(h) for h in head) + " \\\\\n\\hline\n")
        for row in body:
            f.write(" & ".join(tex_escape(c) for c in row) + " \\\\\n")
        f.write("\\hline\n\\end{tabular}\n\\end{table}\n")


def cell_text(s):
    if s is None:
        return "--"
    if s["status"] != "ran":
        return s["status"]
    return f"{S.fmt(s['median'])} [{S.fmt(s['ci_lo'])}, {S.fmt(s['ci_hi'])}]"


# ---------------------------------------------------------------- figures ----

def figures(out, summary, spd, trf, raw, results, sim=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = {}
    fd = os.path.join(out, "figures")
    os.makedirs(fd, exist_ok=True)
    g = groups(raw)

    def save(fig, name, caption):
        if sim:  # the figure itself says so, not only its caption
            caption += f" (Genie cells: {sim})"
            fig.text(0.99, 0.01, f"Genie cells: {sim}", ha="right", va="bottom", fontsize=7,
                     color="firebrick")
        fig.tight_layout()
        for ext in ("pdf", "png"):
            fig.savefig(os.path.join(fd, f"{name}.{ext}"), dpi=120)
        plt.close(fig)
        made[name] = caption

    def empty(ax, why):
        ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, wrap=True)
        ax.set_axis_off()

    # 1. latency breakdown of the Genie baselines: client / waiting (network) / executor
    bars = []
    for (w, be, b, m), rows in g.items():
        if b not in GENIE or w == "micro" or not rows or rows[0].get("shim_wire_ns", "") == "":
            continue
        val = np.mean([float(x["value_ms"]) for x in rows])
        wire = np.mean([float(x["shim_wire_ns"]) for x in rows]) / 1e6
        ex = np.mean([float(x["shim_exec_ns"]) for x in rows]) / 1e6
        bars.append((f"{w}/{be}\n{b}", max(val - wire, 0), max(wire - ex, 0), ex))
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(bars)), 4))
    if bars:
        x = np.arange(len(bars))
        c, wt, e = (np.array([b[i] for b in bars]) for i in (1, 2, 3))
        ax.bar(x, c, label="client (recording, host work)")
        ax.bar(x, wt, bottom=c, label="waiting: network and gRPC")
        ax.bar(x, e, bottom=c + wt, label="executor (R_EXEC)")
        ax.set_xticks(x, [b[0] for b in bars], rotation=90, fontsize=6)
        ax.set_ylabel("ms per run (mean)")
        ax.legend(fontsize=7)
    else:
        empty(ax, "no Genie cell ran")
    save(fig, "latency_breakdown", "Latency breakdown of the Genie baselines (mean per timed "
         "run): client time, time blocked on replies less the executor's, executor time")

    # 2. semantic impact: full vs no-semantics
    fig, ax = plt.subplots(figsize=(6, 4))
    sp = [s for s in spd if s["reference"] == "no-semantics" and s["baseline"] == "full"]
    if sp:
        lab = [f"{s['workload']}/{s['backend']}" for s in sp]
        r = np.array([s["ratio"] for s in sp])
        lo = np.array([s["ci_lo"] if s["ci_lo"] is not None else s["ratio"] for s in sp])
        hi = np.array([s["ci_hi"] if s["ci_hi"] is not None else s["ratio"] for s in sp])
        ax.bar(range(len(sp)), r, yerr=[r - lo, hi - r], capsize=3)
        ax.axhline(1, color="k", lw=0.8)
        ax.set_xticks(range(len(sp)), lab, rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("speedup of full over no-semantics")
    else:
        empty(ax, "no workload ran both full and no-semantics")
    save(fig, "semantic_impact", "Semantic impact: speedup of full over no-semantics per "
         "workload, 95% bootstrap CI")

    # 3. heatmap baseline x workload (median ms; empty where not run)
    cols = sorted({(s["workload"], s["backend"]) for s in summary if s["workload"] != "micro"})
    rowsb = [b for b in BASELINES if any(s["baseline"] == b for s in summary)]
    mat = np.full((len(rowsb), len(cols)), np.nan)
    for s in summary:
        if s["status"] == "ran" and s["workload"] != "micro":
            mat[rowsb.index(s["baseline"]), cols.index((s["workload"], s["backend"]))] = s["median"]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(cols)), max(3, 0.4 * len(rowsb))))
    if np.isfinite(mat).any():
        norm = mat / np.nanmin(mat, axis=0, keepdims=True) if len(cols) else mat
        im = ax.imshow(norm, cmap="viridis_r", aspect="auto")
        for i in range(len(rowsb)):
            for j in range(len(cols)):
                ax.text(j, i, "" if np.isnan(mat[i, j]) else S.fmt(mat[i, j]), ha="center",
                        va="center", fontsize=6, color="w")
        ax.set_xticks(range(len(cols)), [f"{a}/{b}" for a, b in cols], rotation=45, ha="right",
                      fontsize=7)
        ax.set_yticks(range(len(rowsb)), rowsb, fontsize=7)
        fig.colorbar(im, ax=ax, label="median / best median of the column")
    else:
        empty(ax, "no cell ran")
    save(fig, "heatmap", "Median time per cell (ms) by baseline and workload; colour: relative "
         "to the column's best; blank: not run")

    # 4. traffic per baseline
    fig, ax = plt.subplots(figsize=(7, 4))
    tr = [t for t in trf if t.get("shim_bytes_up_per_run") is not None or
          t.get("link_bytes_up") is not None]
    if tr:
        lab = [f"{t['workload']}/{t['backend']}\n{t['baseline']}" for t in tr]
        up = [t.get("shim_bytes_up_per_run") or 0 for t in tr]
        dn = [t.get("shim_bytes_down_per_run") or 0 for t in tr]
        x = np.arange(len(tr))
        ax.bar(x - 0.2, up, 0.4, label="shim: sent per run")
        ax.bar(x + 0.2, dn, 0.4, label="shim: received per run")
        ax.set_yscale("symlog")
        ax.set_xticks(x, lab, rotation=90, fontsize=6)
        ax.set_ylabel("bytes (timed region)")
        ax.legend(fontsize=7)
    else:
        empty(ax, "no traffic measured")
    save(fig, "traffic", "Bytes on the wire per timed run from the shim's counters (bars "
         "missing where a cell did not run)")

    # 5. cost model: prediction vs measurement (micro)
    fig, ax = plt.subplots(figsize=(5, 4))
    cm = cost_model(raw)
    if cm:
        for (be, b), pts in cm.items():
            ax.scatter([p["pred"] for p in pts], [p["meas"] for p in pts], s=12,
                       label=f"{b} (r={pts[0]['pearson']:.2f})")
        lim = [min(p["meas"] for v in cm.values() for p in v) * 0.8,
               max(p["meas"] for v in cm.values() for p in v) * 1.2]
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("predicted ms")
        ax.set_ylabel("measured ms (median)")
        ax.legend(fontsize=6)
    else:
        empty(ax, "the microbenchmark did not run")
    save(fig, "cost_model", "Microbenchmark: RTT + bytes/bandwidth + FLOPs/peak estimate vs "
         "measured median per point")
    return made


def cost_model(raw):
    """Per (back end, baseline) of the microbenchmark: the documented estimate, calibrated on
    that cell's own points (RTT: the smallest elementwise point; bandwidth: the largest H2D;
    peak: the largest GEMM), against each point's median."""
    pts = {}
    for d in raw:
        if d["workload"] != "micro":
            continue
        pts.setdefault((d["backend"], d["baseline"]), {}).setdefault(d["metric"], []).append(d)
    out = {}
    for k, ms in pts.items():
        med = {m: float(np.median([float(x["value_ms"]) for x in v])) for m, v in ms.items()}
        info = {m: (float(v[0]["bytes"] or 0), float(v[0]["flops"] or 0)) for m, v in ms.items()}
        el = sorted((m for m in med if m.startswith("elementwise_")), key=lambda m: info[m][0])
        h2 = sorted((m for m in med if m.startswith("h2d_")), key=lambda m: info[m][0])
        ge = sorted((m for m in med if m.startswith("gemm_")), key=lambda m: info[m][1])
        if not el or not h2 or not ge:
            continue
        rtt = med[el[0]]
        bw = info[h2[-1]][0] / max(med[h2[-1]] - rtt, 1e-6)  # bytes per ms
        peak = info[ge[-1]][1] / max(med[ge[-1]] - rtt - info[ge[-1]][0] / bw, 1e-6)
        res = []
        for m in med:
            b, f = info[m]
            move = b if m.startswith("h2d_") else 0.0  # only transfers cross the link
            res.append({"metric": m, "meas": med[m], "pred": rtt + move / bw + f / peak})
        p, s = S.correlation([r["pred"] for r in res], [r["meas"] for r in res])
        for r in res:
            r["pearson"], r["spearman"] = p, s
            r["rtt_ms"], r["bw_gbs"], r["peak_gflops"] = rtt, bw / 1e6, peak / 1e6
        out[k] = res
    return out


# ----------------------------------------------------------------- report ----

def write_all(out, results, meta, a):
    raw = flatten(results, a.warmup)
    write_csv(os.path.join(out, "raw.csv"), RAW_COLS, raw)
    summary = summarize(results, raw, a.warmup)
    write_csv(os.path.join(out, "summary.csv"), SUM_COLS + ["mismatch"], summary)
    gpu = meta["machine"].get("gpu", "none") != "none"
    spd = speedups(summary, raw, gpu)
    write_csv(os.path.join(out, "speedup.csv"), SPD_COLS, spd)
    trf = traffic(results, raw)
    write_csv(os.path.join(out, "traffic.csv"), TRF_COLS, trf)
    cm = cost_model(raw)
    cmrows = [{"backend": k[0], "baseline": k[1], **r} for k, v in cm.items() for r in v]
    write_csv(os.path.join(out, "cost_model.csv"),
              ["backend", "baseline", "metric", "meas", "pred", "pearson", "spearman", "rtt_ms",
               "bw_gbs", "peak_gflops"], cmrows)

    # LaTeX: on the fake GPU's device-time model, every caption says the Genie times are simulated
    sim = meta.get("simulated")
    simcap = f"; Genie cells: {sim} (fake GPU's device-time model, not a GPU measurement)" \
        if sim else ""
    st = {(s["workload"], s["backend"], s["baseline"]): s for s in summary if s["workload"] != "micro"}
    wcols = [(w.name, w.backend) for w in WORKLOADS
             if any(k[:2] == (w.name, w.backend) for k in st)]
    bl = [b for b in BASELINES if any(k[2] == b for k in st)]
    tex_table(os.path.join(out, "table_performance.tex"),
              "Median ms [95% bootstrap CI] per cell; cells that did not run say why" + simcap,
              ["workload", "back end"] + bl,
              [[w, be] + [cell_text(st.get((w, be, b))) for b in bl] for w, be in wcols])
    tex_table(os.path.join(out, "table_speedup.tex"),
              "Speedup (reference mean / cell mean) with 95% bootstrap CI and Mann-Whitney U p"
              + simcap,
              ["workload", "back end", "baseline", "reference", "speedup", "CI", "p"],
              [[s["workload"], s["backend"], s["baseline"], s["reference"], S.fmt(s["ratio"]),
                f"[{S.fmt(s['ci_lo'])}, {S.fmt(s['ci_hi'])}]", S.fmt(s["p_value"])]
               for s in spd if s["workload"] != "micro"])
    tex_table(os.path.join(out, "table_traffic.tex"),
              "Bytes per timed run from the shim's counters; per process: shim and veth",
              ["workload", "back end", "baseline", "shim up/run", "shim down/run", "RT/run",
               "veth up (proc)", "veth down (proc)", "veth/shim"],
              [[t["workload"], t["backend"], t["baseline"]] +
               ([S.fmt_int(t.get("shim_bytes_up_per_run")), S.fmt_int(t.get("shim_bytes_down_per_run")),
                 S.fmt(t.get("round_trips_per_run"))] if t["status"] == "ran" else [t["status"], "", ""]) +
               ([S.fmt_int(t.get("link_bytes_up")), S.fmt_int(t.get("link_bytes_down")),
                 S.fmt(t.get("link_over_shim"))] if t.get("link_bytes_up") is not None
                else [t.get("link_status", ""), "", ""]) for t in trf])

    made = figures(out, summary, spd, trf, raw, results, sim)
    md(out, results, summary, spd, trf, cm, meta, a, made)


def md(out, results, summary, spd, trf, cm, meta, a, made):
    L = []
    m = meta["machine"]
    L.append("# genie-bench results\n")
    L.append(f"Command: `{meta['command']}`  \nStarted {meta['started']}, took "
             f"{meta['seconds']:.0f} s{' (interrupted)' if meta.get('interrupted') else ''}. "
             f"{meta['warmup']} warm-up run(s) per cell excluded; {meta['runs']} timed runs per "
             f"cell. Link: {meta['link']}{', remote ' + meta['remote'] if meta['remote'] else ''}. "
             f"Link counters: {meta['netns']}.\n")
    L.append("| | |\n|---|---|")
    for k in ("host", "cpu", "cores", "kernel", "gpu", "driver", "cuda_toolkit", "python",
              "torch", "torchvision", "transformers", "ray", "scipy", "genie_commit"):
        L.append(f"| {k} | {m.get(k)} |")
    gpu = m.get("gpu", "none") != "none"
    L.append("")
    sim = meta.get("simulated")
    if sim:
        L.append(f"**{sim[0].upper() + sim[1:]}.** The Genie cells ran on the fake GPU's device-time model "
                 f"of that GPU (`GENIE_FAKE_GPU_MODEL`, docs/fakegpu.md): each of their device "
                 f"times is a simulation, not a measurement of a GPU; every Genie cell below is "
                 f"labelled `{sim}`; nothing was computed (timing-only), so their checksums are "
                 f"excluded.\n")
    if not gpu:
        L.append("**No GPU on this host.** The Genie baselines ran on the fake GPU (a CPU double: "
                 "the CUDA C back ends compute real results; PyTorch's own kernels run as no-ops "
                 "(`GENIE_FAKE_UNKNOWN_KERNELS=noop`) and its GEMMs on OpenBLAS); `local`, "
                 "torch-rpc and Ray ran the model on the CPU. No speedup is computed between "
                 "cells on different devices: the speedup table compares remoting overheads "
                 "(each Genie baseline against capture-only, RPC/Ray against local on the CPU). "
                 "Times on the fake GPU are not GPU times.\n")
    L.append("Model sizes used: " + "; ".join(
        f"{w.name}/{w.backend}: {w.sizes[a.small]}" for w in WORKLOADS
        if any(r['wl'] is w for r in results)) + ".\n")
    if any(r["wl"].name in CUDNN_OFF and r["wl"].backend == "torch" for r in results):
        L.append("cuDNN does not pass through the shim yet: the torch cnn and vqa cells ran "
                 "with cuDNN disabled (`torch.backends.cudnn.enabled = False`, no cuDNN "
                 "attention) in every baseline alike.\n")
    if meta.get("link_accuracy"):
        L.append(f"## Emulated link ({meta['link']}): configured vs achieved\n")
        L.append("genie-relay between client and genie-remote (bench/relay), measured after the "
                 "matrix with 64-byte ping-pongs (median) and a bulk transfer, against loopback "
                 "without the relay; achieved one-way delay = (RTT with relay - RTT without) / 2. "
                 "Before the matrix the relay's own cost (its two loopback hops, late timer "
                 "wake-ups) was measured and taken off the time it holds each chunk (hold).\n")
        L.append("| profile | one-way delay µs: configured | hold | achieved | off by "
                 "| rate Mbit/s: configured | achieved | off by | RTT µs |")
        L.append("|---|---|---|---|---|---|---|---|---|")

        def off(x, want):
            return f"{(x - want) / want * 100:+.0f}%" if x is not None and want else "—"

        for r in meta["link_accuracy"]:
            L.append(f"| {r['profile']} | {S.fmt(r['delay_us'])} | {S.fmt(r.get('hold_us'))} "
                     f"| {S.fmt(r['achieved_delay_us'])} "
                     f"| {off(r['achieved_delay_us'], r['delay_us'])} "
                     f"| {S.fmt(r['rate_mbit'])} | {S.fmt(r['achieved_rate_mbit'])} "
                     f"| {off(r['achieved_rate_mbit'], r['rate_mbit'])} | {S.fmt(r['rtt_us'])} |")
        L.append("")
        if meta.get("link_calibration_error"):
            L.append(f"The relay was not calibrated ({meta['link_calibration_error']}): it held "
                     "each chunk for the configured delay.\n")
    elif meta.get("link_accuracy_error"):
        L.append(f"Link accuracy not measured: {meta['link_accuracy_error']}\n")
    L.append("## Performance (median ms [95% bootstrap CI of the mean])\n")
    st = {(s["workload"], s["backend"], s["baseline"]): s for s in summary if s["workload"] != "micro"}
    bl = [b for b in BASELINES if any(k[2] == b for k in st)]
    wcols = [(w.name, w.backend, w.metric) for w in WORKLOADS
             if any(k[:2] == (w.name, w.backend) for k in st)]
    L.append("| workload | back end | metric | " + " | ".join(bl) + " |")
    L.append("|---|---|---|" + "---|" * len(bl))
    for w, be, met in wcols:
        cells = []
        for b in bl:
            s = st.get((w, be, b))
            t = cell_text(s)
            if s and s["status"] == "ran":
                t += f" ({s['device']})"
                if s.get("mismatch"):
                    t += " **checksum mismatch**"
            cells.append(t)
        L.append(f"| {w} | {be} | {met} | " + " | ".join(cells) + " |")
    L.append("")
    dec = [s for s in summary if s["workload"] == "decode" and s["status"] == "ran"]
    if dec:
        L.append("Decode in tokens/s (1000 / mean ms per token): " + ", ".join(
            f"{s['backend']} {s['baseline']} {1000 / s['mean']:.1f}" for s in dec) + ".\n")
    L.append("Full statistics (n, mean, median, p95, sd, CI) per cell: `summary.csv`; every timed "
             "run: `raw.csv`. Checksums of outputs agree across baselines of a workload and "
             "device unless marked; torch values on the fake GPU (no-op kernels) are excluded "
             "(`checksum` = excluded).\n")
    mism = [s for s in summary if s.get("mismatch")]
    if mism:
        L.append("**Checksum mismatches:** " + ", ".join(
            f"{s['workload']}/{s['backend']} {s['baseline']}" for s in mism) + "\n")
    notrun = [s for s in summary if s["status"] != "ran"]
    if notrun:
        L.append("## Cells that did not run\n")
        for s in notrun:
            L.append(f"- {s['workload']}/{s['backend']} {s['baseline']}: {s['status']}")
        L.append("")
    mic = [s for s in summary if s["workload"] == "micro" and s["status"] == "ran"]
    if mic:
        mb = [b for b in BASELINES if any(s["baseline"] == b for s in mic)]
        pts = sorted({(s["backend"], s["metric"]) for s in mic},
                     key=lambda k: (k[0], k[1].split("_")[0], int(k[1].split("_")[1])))
        ms = {(s["backend"], s["metric"], s["baseline"]): s for s in mic}
        L.append("## Microbenchmark (median ms per point [95% CI of the mean])\n")
        L.append("GEMM n: n x n x n fp32; elementwise n: an add of n floats; h2d n: a copy of n "
                 "bytes to the device; each followed by a one-element copy back.\n")
        L.append("| back end | point | " + " | ".join(mb) + " |")
        L.append("|---|---|" + "---|" * len(mb))
        for be, m in pts:
            L.append(f"| {be} | {m} | " + " | ".join(
                cell_text(ms.get((be, m, b))) + (f" ({ms[(be, m, b)]['device']})"
                                                 if (be, m, b) in ms else "") for b in mb) + " |")
        L.append("")
    L.append("## Speedups\n")
    if sim:
        L.append(f"Genie cells: {sim} (simulated).\n")
    L.append("Speedup = reference mean / cell mean (above 1: the cell is faster); added = cell "
             "mean - reference mean; 95% bootstrap CI; two-sided Mann-Whitney U p.\n")
    L.append("| workload | back end | baseline | reference | speedup [CI] | added ms | p |")
    L.append("|---|---|---|---|---|---|---|")
    for s in spd:
        if s["workload"] == "micro":
            continue
        L.append(f"| {s['workload']} | {s['backend']} | {s['baseline']} | {s['reference']} | "
                 f"{S.fmt(s['ratio'])} [{S.fmt(s['ci_lo'])}, {S.fmt(s['ci_hi'])}] | "
                 f"{S.fmt(s['added_ms'])} | {S.fmt(s['p_value'])} |")
    L.append("")
    L.append("## Network traffic\n")
    L.append("Per timed run from the shim's counters (the timed region only); per process from "
             "the shim's counters file and, independently, from the veth pair's kernel counters "
             "(TCP/IP and HTTP/2 overhead included: veth/shim below 1 would be a bug).\n")
    L.append("| workload | back end | baseline | shim sent/run | shim recv/run | round trips/run "
             "| shim proc up+down | veth proc up+down | veth/shim |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for t in trf:
        if t["status"] != "ran":
            L.append(f"| {t['workload']} | {t['backend']} | {t['baseline']} | {t['status']} "
                     "| | | | | |")
            continue
        sp = (f"{S.fmt_int(t.get('proc_shim_bytes_up'))} + {S.fmt_int(t.get('proc_shim_bytes_down'))}"
              if t.get("proc_shim_bytes_up") is not None else "")
        lk = (f"{S.fmt_int(t['link_bytes_up'])} + {S.fmt_int(t['link_bytes_down'])}"
              if t.get("link_bytes_up") is not None else t.get("link_status", ""))
        L.append(f"| {t['workload']} | {t['backend']} | {t['baseline']} | "
                 f"{S.fmt_int(t.get('shim_bytes_up_per_run'))} | "
                 f"{S.fmt_int(t.get('shim_bytes_down_per_run'))} | "
                 f"{S.fmt(t.get('round_trips_per_run'))} | {sp} | {lk} | "
                 f"{S.fmt(t.get('link_over_shim'))} |")
    L.append("")
    if cm:
        L.append("## Cost model (microbenchmark)\n")
        L.append("Prediction = RTT + bytes/bandwidth + FLOPs/peak, calibrated per cell on its own "
                 "points (RTT: smallest elementwise point; bandwidth: largest H2D; peak: largest "
                 "GEMM); the semantics work's cost model replaces it when it exists.\n")
        L.append("| back end | baseline | points | Pearson | Spearman | RTT ms | GB/s | GFLOP/s |")
        L.append("|---|---|---|---|---|---|---|---|")
        for (be, b), v in cm.items():
            L.append(f"| {be} | {b} | {len(v)} | {S.fmt(v[0]['pearson'])} | "
                     f"{S.fmt(v[0]['spearman'])} | {S.fmt(v[0]['rtt_ms'])} | "
                     f"{S.fmt(v[0]['bw_gbs'])} | {S.fmt(v[0]['peak_gflops'])} |")
        L.append("")
    L.append("## Figures\n")
    for name, cap in made.items():
        L.append(f"![{cap}](figures/{name}.png)  \n{cap} ([PDF](figures/{name}.pdf))\n")
    L.append("## Baselines\n")
    for b in BASELINES:
        L.append(f"- `{b}`: {BASELINE_DOC[b]}")
    L.append("\nTables: `table_performance.tex`, `table_speedup.tex`, `table_traffic.tex`. "
             "Logs of every process: `logs/`; the shim's counters files: `counters/`.\n")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(L) + "\n")
