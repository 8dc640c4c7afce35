#!/usr/bin/env python3
"""compare.py — compares two result files of tests/torch/torch_checks.py (native vs through the shim).

  compare.py NATIVE.json SHIM.json [--md FILE]

Check by check: "exact" outputs (integer, bool and byte round trips, token ids, device queries)
must be equal; "float" outputs must agree within the tolerances the check recorded (every
sampled value, and the sum within atol * numel + rtol * the absolute sum); "info" outputs are
shown, never compared. Prints a markdown table (check, native, shim, match), the differences,
and the metrics (GPT-2 tokens/s, bf16 GEMM TFLOP/s) side by side with the ratio shim/native;
the last line starts with "summary:".

Exit status: 0 when every check ran in both files with matching outputs (or was skipped in
both); 1 on a mismatch, a check that failed or crashed in either file, or an incomplete file;
2 usage or unreadable input. Needs only the Python standard library.
"""
import argparse
import json
import math
import sys


def load(path):
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        print(f"compare.py: cannot read {path}: {e}", file=sys.stderr)
        sys.exit(2)
    if not str(d.get("schema", "")).startswith("genie-torch-checks/"):
        print(f"compare.py: {path} is not a torch_checks.py result", file=sys.stderr)
        sys.exit(2)
    return d


def close(a, b, rtol, atol):
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def cmp_output(key, a, b):
    """None when a and b agree; otherwise why not. Info outputs always agree."""
    if a is None or b is None:
        return f"{key}: only in the {'shim' if a is None else 'native'} run"
    if a.get("kind") != b.get("kind"):
        return f"{key}: kinds differ ({a.get('kind')} vs {b.get('kind')})"
    k = a["kind"]
    if k == "info":
        return None
    if k == "exact":
        if a["value"] == b["value"]:
            return None
        va, vb = json.dumps(a["value"]), json.dumps(b["value"])
        return f"{key}: {va[:80]} != {vb[:80]}"
    if k == "float":
        if a["dtype"] != b["dtype"] or a["shape"] != b["shape"]:
            return f"{key}: {a['dtype']} {a['shape']} vs {b['dtype']} {b['shape']}"
        rtol = max(a["rtol"], b["rtol"])
        atol = max(a["atol"], b["atol"])
        if len(a["values"]) != len(b["values"]):
            return f"{key}: {len(a['values'])} vs {len(b['values'])} sampled values"
        worst = None
        for i, (x, y) in enumerate(zip(a["values"], b["values"])):
            if not close(x, y, rtol, atol):
                d = abs(x - y) if math.isfinite(x) and math.isfinite(y) else math.inf
                if worst is None or d > worst[0]:
                    worst = (d, i, x, y)
        if worst:
            return (f"{key}: sample {worst[1]}: {worst[2]:.7g} vs {worst[3]:.7g} "
                    f"(rtol {rtol:g}, atol {atol:g})")
        n = 1
        for s in a["shape"]:
            n *= s
        sa, sb = a["sum"], b["sum"]
        scale = max(a["abs_sum"], b["abs_sum"])
        if not (close(sa, sb, 0, atol * max(n, 1) + rtol * scale)):
            return f"{key}: sum {sa:.9g} vs {sb:.9g} (rtol {rtol:g} of |sum| {scale:.4g}, atol {atol:g} x {n})"
        return None
    return f"{key}: unknown kind {k}"


def bit_identical(a, b):
    """Every compared output is bit-for-bit the same (floats by their SHA-256)."""
    for key, oa in a.items():
        ob = b.get(key)
        if oa.get("kind") == "float" and (ob is None or oa.get("sha256") != ob.get("sha256")):
            return False
    return True


def status_cell(c):
    if c is None:
        return "absent"
    s = c.get("status", "?")
    if s == "running":
        return "**crashed** (the process died in it)"
    if s == "fail":
        return f"**fail** ({c.get('seconds', 0):.1f} s)"
    return f"{s} ({c.get('seconds', 0):.1f} s)"


def esc(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("native", help="the native run's JSON")
    ap.add_argument("shim", help="the run through the shim")
    ap.add_argument("--labels", nargs=2, default=("native", "shim"), metavar=("A", "B"),
                    help="column names (default: native shim)")
    ap.add_argument("--md", help="also write the markdown to this file")
    a = ap.parse_args()
    A, B = load(a.native), load(a.shim)
    la, lb = a.labels
    ca = {c["name"]: c for c in A.get("checks", [])}
    cb = {c["name"]: c for c in B.get("checks", [])}
    names = list(ca) + [n for n in cb if n not in ca]

    lines, diffs, notes = [], [], []
    bad = 0
    counts = {"match": 0, "mismatch": 0, "skip": 0}
    lines.append(f"| check | {la} | {lb} | match |")
    lines.append("|---|---|---|---|")
    for n in names:
        x, y = ca.get(n), cb.get(n)
        sx, sy = (x or {}).get("status"), (y or {}).get("status")
        if sx == "skip" and sy == "skip":
            m = "— (skipped in both)"
            counts["skip"] += 1
        elif sx == "pass" and sy == "pass":
            why = []
            keys = list(x["outputs"]) + [k for k in y["outputs"] if k not in x["outputs"]]
            for k in keys:
                r = cmp_output(k, x["outputs"].get(k), y["outputs"].get(k))
                if r:
                    why.append(r)
            compared = sum(1 for k in keys if x["outputs"].get(k, {}).get("kind") in ("exact", "float"))
            if why:
                m = f"**NO** ({len(why)} of {compared} outputs differ)"
                diffs += [f"- `{n}`: {esc(w)}" for w in why]
                counts["mismatch"] += 1
                bad += 1
            else:
                ident = bit_identical(x["outputs"], y["outputs"])
                m = (f"yes, {compared} outputs" + (", bit-identical" if ident else ", within tolerance")
                     if compared else "yes (nothing to compare)")
                counts["match"] += 1
        else:
            m = "**NO** (did not pass in both)"
            counts["mismatch"] += 1
            bad += 1
        for lbl, c in ((la, x), (lb, y)):
            if c and c.get("status") == "fail":
                err = (c.get("error") or "?").splitlines()[0]
                diffs.append(f"- `{n}` failed in the {lbl} run: {esc(err[:200])}{'…' if len(err) > 200 else ''}")
            if c and c.get("status") == "skip" and c.get("note") and c.get("note") != "not selected":
                notes.append(f"- `{n}` ({lbl}): skipped: {esc(c['note'])}")
        for lbl, c in ((la, x), (lb, y)):
            if c and c.get("status") == "pass" and "error" in c.get("outputs", {}):
                notes.append(f"- `{n}` ({lbl}): {esc(c['outputs']['error']['value'])}")
        lines.append(f"| {n} | {status_cell(x)} | {status_cell(y)} | {m} |")
    for lbl, d in ((la, A), (lb, B)):
        if not d.get("complete"):
            diffs.append(f"- the {lbl} run did not finish (the process died or was killed): its file is partial")
            bad += 1

    out = ["### torch checks: " + f"{la} vs {lb}", ""]
    out.append(f"{la}: torch {A.get('torch')} on {A.get('device')}, {A.get('seconds', '?')} s; "
               f"{lb}: torch {B.get('torch')} on {B.get('device')}, {B.get('seconds', '?')} s"
               + (f"; {lb} GENIE_REMOTE={B['env'].get('GENIE_REMOTE')}" if B.get("env", {}).get("GENIE_REMOTE") else ""))
    out.append("")
    out += lines
    if diffs:
        out += ["", "Differences and failures:", ""] + diffs
    if notes:
        out += ["", "Notes:", ""] + notes
    ma, mb = A.get("metrics", {}), B.get("metrics", {})
    mk = list(ma) + [k for k in mb if k not in ma]
    ratios = {}
    if mk:
        out += ["", f"| metric | {la} | {lb} | {lb}/{la} |", "|---|---|---|---|"]
        for k in mk:
            va, vb = ma.get(k, {}).get("value"), mb.get(k, {}).get("value")
            unit = (ma.get(k) or mb.get(k)).get("unit", "")
            r = (vb / va) if (va and vb is not None) else None
            ratios[k] = (va, vb, r)
            out.append(f"| {k} ({esc(unit)}) | {va if va is not None else '-'} | {vb if vb is not None else '-'} | "
                       f"{f'{r:.3f}' if r is not None else '-'} |")
    tps = ratios.get("gpt2_tokens_per_s")
    tline = (f"GPT-2 tokens/s {la} {tps[0] if tps[0] is not None else '-'}, {lb} {tps[1] if tps[1] is not None else '-'}"
             + (f" (ratio {tps[2]:.3f})" if tps[2] is not None else "")) if tps else "GPT-2 not timed"
    summary = (f"summary: {len(names)} checks: {counts['match']} match, {counts['mismatch']} mismatch or failed, "
               f"{counts['skip']} skipped in both; {tline}")
    out += ["", summary]
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
