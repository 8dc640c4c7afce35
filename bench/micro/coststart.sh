#!/usr/bin/env bash
# coststart.sh — what the cost model's calibration adds to a session's start, against no
# calibration, in one run.
#
#   bench/micro/coststart.sh [BUILD_DIR] [ROUNDS=7] [KIND=unix|tcp]
#
# Starts one genie-remote (fake GPU, a worker process per session) and runs
# tests/workloads/queries (a few device queries and one copy) as one session per run, rounds of
# three runs: GENIE_COST_CALIBRATE=0, =1, =0 again. The very first =1 run of the genie-remote is
# the one that has it measure the device (R_COST, once per genie-remote); later =1 runs get the
# kept numbers and pay only the PINGs. Prints the shim's connect_ns and cost_pings_ns (opening the session:
# connect, HELLO, the VA range, the calibration; GENIE_STATS_FILE) per run, then the medians.
# Times are this machine's, with its load: only their differences within one run mean anything.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/wait.sh
build=${1:-build}
rounds=${2:-7}
kind=${3:-unix}
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
prog=$build/tests/workloads/queries
for f in "$build/shim/libgenie.so" "$build/remote/genie-remote" "$prog"; do
    [ -e "$f" ] || { echo "coststart.sh: missing $f (build first)" >&2; exit 2; }
done
export GENIE_CUDA_LIB=$build/tests/fakegpu/libgenie_fakecuda.so
export GENIE_CUBLAS_LIB=$build/tests/fakegpu/blas/libgenie_fakecublas.so
export GENIE_CUBLASLT_LIB=$GENIE_CUBLAS_LIB
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
if [ "$kind" = unix ]; then listen="unix:$tmp/g.sock"; else listen="127.0.0.1:0"; fi
"$build/remote/genie-remote" --listen "$listen" --port-file "$tmp/port" 2>"$tmp/server.log" &
pid=$!
wait_for_port "$tmp/port" "$pid" || { echo "coststart.sh: genie-remote did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }
if [ "$kind" = unix ]; then target=$listen; else target="127.0.0.1:$(cat "$tmp/port")"; fi
one() { # $1: GENIE_COST_CALIBRATE; prints connect_ns in us and whether R_COST came measured
    GENIE_REMOTE=$target GENIE_COST_CALIBRATE=$1 GENIE_STATS_FILE=$tmp/stats.json \
        LD_PRELOAD=$build/shim/libgenie.so "$prog" >/dev/null 2>"$tmp/client.log" ||
        { echo "coststart.sh: the workload failed" >&2; cat "$tmp/client.log" >&2; exit 1; }
    python3 - "$tmp/stats.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print("%.0f %d %.1f %.0f" % (s["connect_ns"] / 1e3, s["cost_remote_fresh"],
                             s["cost_remote_took_ns"] / 1e6, s["cost_pings_ns"] / 1e3))
EOF
}
off=() on=() pings=()
echo "kind: $kind, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < rounds; r++)); do
    a=$(one 0); b=$(one 1); c=$(one 0)
    read -r ua _ _ _ <<<"$a"; read -r ub fresh took pg <<<"$b"; read -r uc _ _ _ <<<"$c"
    echo "round $r: connect us: off $ua, on $ub (PINGs $pg us)$([ "$fresh" = 1 ] && echo ", genie-remote measured the device: $took ms"), off $uc"
    off+=("$ua" "$uc")
    pings+=("$pg")
    [ "$fresh" = 1 ] || on+=("$ub")
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "median connect: off $(median "${off[@]}") us, on $(median "${on[@]}") us (kept numbers; the first run's measurement shown above), of which the PINGs $(median "${pings[@]}") us; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
