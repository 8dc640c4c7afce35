#!/usr/bin/env bash
# test_remote.sh — genie-bench --remote HOST:PORT against a genie-remote started by hand (the
# two-machine set-up of docs/benchmarks.md, on one host): with the token, the link-under-test
# cells run there (every run is one session in that genie-remote's log, and genie-bench starts
# no genie-remote of its own for them); without the token, the same cells report not run.
#
#   GENIE_BUILD=build tests/bench/test_remote.sh
# Prints SKIPPED (exit 0) where numpy/scipy/matplotlib are missing.
set -euo pipefail
. "$(dirname "$0")/../lib/wait.sh"
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${GENIE_BUILD:?set GENIE_BUILD to the build directory}" && pwd)
py=${PYTHON:-python3}
if ! "$py" -c 'import numpy, scipy, matplotlib' >/dev/null 2>&1; then
    echo "SKIPPED: numpy/scipy/matplotlib missing (scripts/setup.sh --bench installs them)"
    exit 0
fi
tmp=$(mktemp -d)
remote_pid=
cleanup() {
    if [ -n "$remote_pid" ]; then kill "$remote_pid" 2>/dev/null || true; wait "$remote_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
echo "bench-token-$RANDOM$RANDOM" >"$tmp/token"
# the GPU host's side, by hand: the fake GPU stands in for its driver
GENIE_LOG=info GENIE_CUDA_LIB="$build/tests/fakegpu/libgenie_fakecuda.so" \
    GENIE_CUBLAS_LIB="$build/tests/fakegpu/blas/libgenie_fakecublas.so" \
    GENIE_CUBLASLT_LIB="$build/tests/fakegpu/blas/libgenie_fakecublas.so" OPENBLAS_NUM_THREADS=1 \
    "$build/remote/genie-remote" --listen 127.0.0.1:0 --port-file "$tmp/port" \
    --token-file "$tmp/token" >"$tmp/remote.log" 2>&1 &
remote_pid=$!
wait_for_port "$tmp/port" "$remote_pid" 60 || { echo "FAIL: genie-remote wrote no port"; cat "$tmp/remote.log"; exit 1; }
target=127.0.0.1:$(cat "$tmp/port")
runs=2
bench() { # OUT [env...]: the link-under-test baselines of one CUDA C workload against $target
    local out=$1; shift
    env "$@" PYTHONPATH="$repo/bench" timeout -k 10 300 "$py" -m genie_bench --no-progress \
        --small --workloads decode --backends cuda-c --baselines naive-remote,no-semantics,full \
        --runs $runs --warmup 1 --timeout 60 --remote "$target" --build "$build" --out "$out" \
        >"$out.log" 2>&1 || { echo "FAIL: genie-bench exited $?"; tail -5 "$out.log"; exit 1; }
}
status() { # OUT BASELINE: the cell's status in summary.csv
    "$py" -c 'import csv, sys
for r in csv.DictReader(open(sys.argv[1] + "/summary.csv")):
    if (r["workload"], r["backend"], r["baseline"]) == ("decode", "cuda-c", sys.argv[2]):
        print(r["status"] + " | " + r["device"]); break' "$1" "$2"
}
fail=0
bench "$tmp/with" GENIE_TOKEN="$(cat "$tmp/token")"
for b in naive-remote no-semantics full; do
    s=$(status "$tmp/with" $b)
    case "$s" in
    "ran | remote GPU at $target") echo "ok   $b ran on $target" ;;
    *) echo "FAIL $b with the token: $s"; fail=1 ;;
    esac
done
if ls "$tmp/with/logs/"*.remote.log >/dev/null 2>&1; then
    echo "FAIL genie-bench started a genie-remote of its own: $(ls "$tmp/with/logs/"*.remote.log)"
    fail=1
fi
# each run (warm-up and timed) of each of the three cells is one session on the remote by hand
want=$((3 * (runs + 1)))
got=$(grep -c 'session [0-9]*: pid' "$tmp/remote.log" || true)
if [ "$got" = "$want" ]; then
    echo "ok   the genie-remote started by hand served $got sessions"
else
    echo "FAIL the genie-remote started by hand served $got sessions, $want expected"
    fail=1
fi
# the twin: no token, so that remote refuses every session and no cell may show a number
bench "$tmp/without" GENIE_TOKEN=
for b in naive-remote no-semantics full; do
    s=$(status "$tmp/without" $b)
    case "$s" in
    "not run: failed"*) echo "ok   $b without the token: ${s%% |*}" ;;
    *) echo "FAIL $b without the token: $s"; fail=1 ;;
    esac
done
"$py" "$here/check_results.py" "$tmp/with" --expect-ran decode/cuda-c/naive-remote \
    decode/cuda-c/no-semantics decode/cuda-c/full || fail=1
"$py" "$here/check_results.py" "$tmp/without" || fail=1
[ $fail = 0 ] && echo "test_remote: passed" || echo "test_remote: FAILED"
exit $fail
