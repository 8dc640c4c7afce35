#!/usr/bin/env bash
# run_branches.sh — GENIE_PARALLEL_BRANCHES on twobranch --single-stream (issue 11 item 7).
#
#   run_branches.sh MODE   (GENIE_BUILD set, as for run_workload.sh)
# On a deliberately slow simulated device (slow_gpu.model, computing too) the program runs with
# the pass on and off. Both must pass their CPU check and print the same answers (identical
# results); on, the batch must go with a BRANCHES record and the trace must show the towers
# on two lanes overlapping on the device; off, the same trace check must fail. forward_ms of
# both is printed (SIMULATED time: not asserted).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=$1
prog=${GENIE_BUILD:?}/tests/workloads/twobranch
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GENIE_FAKE_GPU_MODEL=$here/slow_gpu.model GENIE_FAKE_GPU_COMPUTE=1
for on in 1 0; do
    GENIE_PARALLEL_BRANCHES=$on GENIE_TRACE_FILE="$tmp/trace.$on.json" \
        bash "$here/run_workload.sh" "$mode" "$prog" --single-stream >"$tmp/out.$on" 2>&1 ||
        { cat "$tmp/out.$on"; echo "run_branches: the run with the pass at $on failed" >&2; exit 1; }
done
grep -q '"batches_branched": [1-9]' "$tmp/out.1" ||
    { cat "$tmp/out.1"; echo "run_branches: no batch went with a BRANCHES record" >&2; exit 1; }
grep -q '"batches_branched": 0' "$tmp/out.0" ||
    { cat "$tmp/out.0"; echo "run_branches: GENIE_PARALLEL_BRANCHES=0 still annotated" >&2; exit 1; }
a1=$(grep '^answers:' "$tmp/out.1") a0=$(grep '^answers:' "$tmp/out.0")
[ -n "$a1" ] && [ "$a1" = "$a0" ] ||
    { echo "run_branches: answers differ: on '$a1', off '$a0'" >&2; exit 1; }
echo "identical answers on and off: $a1"
echo "forward_ms (SIMULATED slow device): on $(grep -o 'forward_ms [0-9.]*' "$tmp/out.1" | cut -d' ' -f2), off $(grep -o 'forward_ms [0-9.]*' "$tmp/out.0" | cut -d' ' -f2)"
python3 "$here/check_trace.py" "$tmp/trace.1.json" --overlap
if python3 "$here/check_trace.py" "$tmp/trace.0.json" --overlap >"$tmp/check.0" 2>&1; then
    cat "$tmp/check.0"
    echo "run_branches: with the pass off the towers still overlap: the check proves nothing" >&2
    exit 1
fi
echo "run_branches: with the pass off: $(grep -o 'no kernels.*' "$tmp/check.0")"
echo "run_branches: OK"
