#!/usr/bin/env bash
# run_trace.sh — runs a workload with GENIE_TRACE_FILE set, then checks the trace (check_trace.py).
#
#   run_trace.sh MODE PROGRAM "CHECK_ARGS" [PROGRAM_ARGS...]
# MODE and PROGRAM as for run_workload.sh (whose checks also apply); CHECK_ARGS are passed to
# check_trace.py (e.g. "--min-streams 3 --skew-ns 5000000000").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=$1 prog=$2 check=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GENIE_TRACE_FILE="$tmp/trace.json" bash "$here/run_workload.sh" "$mode" "$prog" "$@"
[ -s "$tmp/trace.json" ] || { echo "run_trace: no trace written" >&2; exit 1; }
# shellcheck disable=SC2086 # CHECK_ARGS are words
python3 "$here/check_trace.py" "$tmp/trace.json" $check
