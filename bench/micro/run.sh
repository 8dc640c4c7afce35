#!/usr/bin/env bash
# run.sh — runs the microbenchmark over a unix socket and over TCP loopback; prints ratios.
#
#   bench/micro/run.sh [BUILD_DIR] [-- MICRO_ARGS...]
# For each kind: micro (Genie against a raw socket in one process pair), then wireref (raw
# socket variants and a minimal gRPC stream; skipped if BUILD_DIR has none), which gets the
# --pings, --bulk and --reps of MICRO_ARGS.
# genie-remote runs on the fake GPU unless GENIE_CUDA_LIB names a real driver or GENIE_REAL_GPU=1
# (then libcuda.so.1). BUILD_DIR may be a bundle made by scripts/bundle.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$1; shift; fi
[ "${1:-}" = "--" ] && shift
for f in "$build/shim/libgenie.so" "$build/remote/genie-remote" "$build/bench/micro/micro"; do
    [ -e "$f" ] || { echo "run.sh: missing $f (build first: scripts/setup.sh)" >&2; exit 2; }
done
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
if [ "${GENIE_REAL_GPU:-0}" = 1 ]; then
    export GENIE_CUDA_LIB=${GENIE_CUDA_LIB:-libcuda.so.1}
else
    export GENIE_CUDA_LIB=${GENIE_CUDA_LIB:-$build/tests/fakegpu/libgenie_fakecuda.so}
    # one fake library serves as cuBLAS and cuBLASLt (the GEMM recording measurement)
    fakeblas=$build/tests/fakegpu/blas/libgenie_fakecublas.so
    if [ -e "$fakeblas" ]; then
        export GENIE_CUBLAS_LIB=${GENIE_CUBLAS_LIB:-$fakeblas} GENIE_CUBLASLT_LIB=${GENIE_CUBLASLT_LIB:-$fakeblas}
    fi
fi
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

echo "machine: $(nproc) cores, $(uname -m), executor driver: $(basename "$GENIE_CUDA_LIB")"
for kind in unix tcp; do
    if [ $kind = unix ]; then listen="unix:$tmp/g.sock"; raw="unix:$tmp/raw.sock"
    else listen="127.0.0.1:0"; raw="127.0.0.1:0"; fi
    "$build/remote/genie-remote" --listen "$listen" --port-file "$tmp/port.$kind" 2>"$tmp/server.$kind.log" &
    pids+=($!)
    for _ in $(seq 400); do [ -s "$tmp/port.$kind" ] && break; sleep 0.05; done
    if [ $kind = unix ]; then target=$listen; else target="127.0.0.1:$(cat "$tmp/port.$kind")"; fi
    # the weight cache off: micro uploads the same bytes each round, and cache hits would
    # measure the executor's copy, not the wire
    GENIE_REMOTE=$target GENIE_BATCH_BYTES=$((1 << 30)) GENIE_WEIGHT_CACHE=0 LD_PRELOAD="$build/shim/libgenie.so" \
        "$build/bench/micro/micro" --raw "$raw" "$@"
    if [ -x "$build/bench/micro/wireref" ]; then
        if [ $kind = unix ]; then ref="unix:$tmp/ref.sock"; gref="unix:$tmp/gref.sock"
        else ref="127.0.0.1:0"; gref="127.0.0.1:0"; fi
        refargs=()
        for ((i = 1; i <= $#; i++)); do
            case "${!i}" in --pings | --bulk | --reps) j=$((i + 1)); refargs+=("${!i}" "${!j}") ;; esac
        done
        "$build/bench/micro/wireref" --raw "$ref" --grpc "$gref" "${refargs[@]}"
    fi
    echo
done
