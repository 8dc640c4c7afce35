#!/usr/bin/env bash
# passes.sh — what the semantic passes cost on the recording path (issue 11 item 10): bench/micro's
# launch and GEMM recording with every pass on (the default) and with GENIE_SEMANTICS=0, the
# same libgenie.so, alternated in one run against one genie-remote.
#
#   bench/micro/passes.sh [BUILD_DIR] [ROUNDS] [LAUNCHES]
# Runs micro ROUNDS times each way (default 11; LAUNCHES per batch, default 200000) on the fake
# GPU over a unix socket and prints min and median ns per recorded launch, per cublasSgemm_v2 and
# per PyTorch-style GEMM (3 setters + GEMM), the on/off difference and the aim (< 200 ns per
# launch with the passes on). Each run's stats file must show its setting acting (with the
# passes on the repeated-batch pass flags the micro's small batches, its syncs, as templates;
# with them off never): a run whose stats contradict its setting fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build} rounds=${2:-11} launches=${3:-200000}
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
for f in "$build/shim/libgenie.so" "$build/remote/genie-remote" "$build/bench/micro/micro"; do
    [ -e "$f" ] || { echo "passes.sh: missing $f (build first: scripts/setup.sh)" >&2; exit 2; }
done
export GENIE_CUDA_LIB=$build/tests/fakegpu/libgenie_fakecuda.so
export GENIE_CUBLAS_LIB=$build/tests/fakegpu/blas/libgenie_fakecublas.so
export GENIE_CUBLASLT_LIB=$GENIE_CUBLAS_LIB
tmp=$(mktemp -d)
"$build/remote/genie-remote" --listen "unix:$tmp/g.sock" --port-file "$tmp/port" 2>"$tmp/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 400); do [ -s "$tmp/port" ] && break; sleep 0.05; done
for i in $(seq "$rounds"); do
    for which in off on; do
        sem=1
        [ $which = off ] && sem=0
        out=$(GENIE_SEMANTICS=$sem GENIE_STATS_FILE="$tmp/stats.$which.$i" \
            GENIE_REMOTE="unix:$tmp/g.sock" GENIE_BATCH_BYTES=$((1 << 30)) \
            LD_PRELOAD="$build/shim/libgenie.so" "$build/bench/micro/micro" \
            --raw "unix:$tmp/raw$i.sock" --launches "$launches" --pings 20 --bulk 1 2>&1) || {
            echo "passes.sh: micro failed ($which, round $i):" >&2
            echo "$out" >&2
            exit 1
        }
        echo "$which launch $(grep '^launch record:' <<<"$out" | awk '{print $3}')"
        grep '^CSV-gemm' <<<"$out" | awk -F, -v w=$which '{print w, "sgemm", $3; print w, "torch_gemm", $4}'
        echo "$which templates $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batches_template"])' "$tmp/stats.$which.$i")"
    done
done | python3 -c '
import statistics, sys
d = {}
for line in sys.stdin:
    w, what, ns = line.split()
    d.setdefault((what, w), []).append(float(ns))
bad = [w for w in ("off", "on") for n in d.get(("templates", w), [])
       if (n > 0) != (w == "on")]
if bad or not d.get(("templates", "on")):
    sys.exit("passes.sh: a run did not act as its setting says (batches sent as templates: on "
             "%s, off %s)" % (d.get(("templates", "on")), d.get(("templates", "off"))))
print("machine: %s; GENIE_SEMANTICS=0 (off) vs every pass on (on), %s rounds alternated, "
      "ns per recorded call" % (sys.argv[1], sys.argv[2]))
for what in ("launch", "sgemm", "torch_gemm"):
    for w in ("off", "on"):
        v = d.get((what, w), [])
        if v:
            print("%-10s passes %-3s  min %7.1f  median %7.1f" % (what, w, min(v), statistics.median(v)))
on = d[("launch", "on")]
off = d[("launch", "off")]
print("launch: passes on cost %+.1f ns (medians), %+.1f ns (minima); aim < 200 ns with the "
      "passes on: %s (median %.1f ns)" % (statistics.median(on) - statistics.median(off),
      min(on) - min(off), "met" if statistics.median(on) < 200 else "NOT met", statistics.median(on)))
print("template batches per run (the setting acting): on %s, off %s" %
      ([int(x) for x in d[("templates", "on")]], [int(x) for x in d[("templates", "off")]]))
' "$(nproc) cores, load $(cut -d" " -f1-3 /proc/loadavg)" "$rounds"
