#!/usr/bin/env bash
# demo.sh — sets up, then runs a CUDA C program (a small GPT with a KV cache) through libgenie.so against
# genie-remote on the fake GPU over a unix socket, printing its result and the shim's counters.
#
#   scripts/demo.sh [--no-setup] [local|unix|tcp] [PROGRAM]   (default: unix minigpt)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
if [ "${1:-}" = "--no-setup" ]; then shift; else scripts/setup.sh; fi
mode=${1:-unix}
prog=${2:-minigpt}
echo "== $prog through libgenie.so -> genie-remote ($mode) -> fake GPU"
GENIE_STATS=1 GENIE_BUILD=build tests/e2e/run_workload.sh "$mode" "build/tests/workloads/$prog"
