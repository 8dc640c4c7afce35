#!/usr/bin/env bash
# run_quick.sh — the honesty test: `genie-bench --quick` on this machine (fake GPU without a GPU),
# then tests/bench/check_results.py over its results directory.
#
#   GENIE_BUILD=build tests/bench/run_quick.sh [OUT_DIR]
#
# Prints SKIPPED (exit 0) where the suite's Python packages (scipy, matplotlib, numpy) are
# missing: scripts/setup.sh --bench installs them. The Genie baselines of the CUDA C back ends
# must have run (they need nothing but the build); the torch cells must have run where torch
# imports. OUT_DIR (default a temporary directory, removed) keeps the results.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${GENIE_BUILD:?set GENIE_BUILD to the build directory}" && pwd)
py=${PYTHON:-python3}
if ! "$py" -c 'import numpy, scipy, matplotlib' >/dev/null 2>&1; then
    echo "SKIPPED: numpy/scipy/matplotlib missing (scripts/setup.sh --bench installs them)"
    exit 0
fi
out=${1:-}
if [ -z "$out" ]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi
start=$(date +%s)
# bounded twice: genie-bench's own --budget (420 s with --quick: no cell begins after it) and
# --timeout (120 s per run or silent worker), and this outer limit: SIGTERM makes genie-bench
# write what ran and clean up (netns, genie-remote, workers); the checks then name the cells
# that did not run, well before CTest's TIMEOUT would kill everything without a word
rc=0
PYTHONPATH="$repo/bench${PYTHONPATH:+:$PYTHONPATH}" timeout -k 30 "${GENIE_BENCH_LIMIT:-600}" \
    "$py" -m genie_bench --quick --no-progress --build "$build" --out "$out" || rc=$?
took=$(( $(date +%s) - start ))
echo "run_quick: genie-bench --quick took ${took} s (exit $rc)"
if [ -f "$out/meta.json" ]; then
    "$py" -c 'import json, sys
for c in json.load(open(sys.argv[1])).get("cells", []):
    if c["seconds"] or c["status"] == "ran" or "failed" in c["status"]:
        print("run_quick: %6.1f s  %s  %s" % (c["seconds"], c["cell"], c["status"]))' \
        "$out/meta.json"
fi
if [ $rc -ne 0 ]; then
    echo "run_quick: genie-bench --quick failed (exit $rc; 124: over its time limit, 130: interrupted)"
    exit 1
fi
expect=()
for w in decode prefill cnn-b1 cnn-b8 vqa; do
    for b in capture-only local-remote naive-remote no-semantics; do
        expect+=("$w/cuda-c/$b")
    done
done
if "$py" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None)'; then
    expect+=(decode/torch/local decode/torch/capture-only decode/torch/local-remote
             decode/torch/torch-rpc-stateless decode/torch/torch-rpc-stateful)
fi
"$py" "$here/check_results.py" "$out" --expect-ran "${expect[@]}"
