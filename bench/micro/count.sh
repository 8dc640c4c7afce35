#!/usr/bin/env bash
# count.sh — client instructions per recorded launch and per GEMM round, for one or more shims (callgrind).
#
#   bench/micro/count.sh [BUILD_DIR] [SHIM.so ...]     (default: BUILD_DIR/shim/libgenie.so)
# Runs bench/micro under valgrind --tool=callgrind against a genie-remote on the fake GPU over
# a unix socket, counting only instructions inside the intercepted entry points (the launch
# ABI: push/pop of the call configuration and __cudaLaunchKernel; cublasSgemm_v2 and the three
# setters PyTorch calls before each GEMM), twice per path with different counts, and prints the
# difference per op: one recorded launch, and one GEMM round (2 cublasSgemm + 3 unchanged
# setters + cublasSgemm). The batch is large enough that no flush falls inside. Instruction
# counts do not depend on the machine's load, so shims built from different commits compare on
# a busy 2-core VM where times do not. About 30 s per shim on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build
if [ $# -gt 0 ] && [ -d "$1" ]; then build=$1; shift; fi
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
[ $# -gt 0 ] || set -- "$build/shim/libgenie.so"
command -v valgrind >/dev/null || { echo "count.sh: valgrind is needed" >&2; exit 2; }
export GENIE_CUDA_LIB=$build/tests/fakegpu/libgenie_fakecuda.so
export GENIE_CUBLAS_LIB=$build/tests/fakegpu/blas/libgenie_fakecublas.so
export GENIE_CUBLASLT_LIB=$GENIE_CUBLAS_LIB
tmp=$(mktemp -d)
"$build/remote/genie-remote" --listen "unix:$tmp/g.sock" --port-file "$tmp/port" 2>/dev/null &
rp=$!
trap 'kill $rp 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
ir() { # shim launches gemms -> instructions of the whole client run
    GENIE_REMOTE=unix:$tmp/g.sock GENIE_TIMEOUT_MS=600000 GENIE_BATCH_BYTES=$((1 << 30)) \
        LD_PRELOAD=$1 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
        --toggle-collect=__cudaPushCallConfiguration --toggle-collect=__cudaPopCallConfiguration \
        --toggle-collect=__cudaLaunchKernel --toggle-collect=cublasSgemm_v2 \
        --toggle-collect=cublasSetStream_v2 --toggle-collect=cublasSetWorkspace_v2 \
        --toggle-collect=cublasSetMathMode \
        "$build/bench/micro/micro" --raw "unix:$tmp/raw.sock" --launches "$2" --gemms "$3" \
        --pings 2 --bulk 1 >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    awk '/^(summary|totals):/ {print $2; exit}' "$tmp/cg.out"
    rm -f "$tmp"/cg.out*
}
for shim in "$@"; do
    a=$(ir "$shim" 2000 1) b=$(ir "$shim" 6000 1) c=$(ir "$shim" 100 1000) d=$(ir "$shim" 100 3000)
    # each launch round runs twice (a warm round, the measured one); GEMM rounds three times
    # over (warm, bare, PyTorch-style): per GEMM round = 2 bare sgemm + 3 setters + sgemm
    awk -v s="$shim" -v a="$a" -v b="$b" -v c="$c" -v d="$d" 'BEGIN {
        printf "%s: %.0f instructions per launch, %.0f per GEMM round\n", s, (b - a) / 8000, (d - c) / 2000 }'
done
