#!/usr/bin/env bash
# ab.sh — what the semantics IR costs on the recording path: bench/micro's launch and GEMM
# recording with two builds of libgenie.so, alternated in one run against one genie-remote.
#
#   bench/micro/ab.sh [BUILD_DIR] [ROUNDS] [LAUNCHES]
# Builds BUILD_DIR-noir (the same sources with -DGENIE_BENCH_NO_IR: launches stage no
# descriptor and the batch seam commits none) next to BUILD_DIR (which must be built), then
# runs micro under each ROUNDS times (default 11) on the fake GPU over a unix socket and
# prints min and median ns per launch, per cublasSgemm_v2 and per PyTorch-style GEMM.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build} rounds=${2:-11} launches=${3:-200000}
noir=$build-noir
cmake -S . -B "$noir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGENIE_WITH_TESTS=OFF \
    -DGENIE_WITH_BENCH=OFF -DCMAKE_C_FLAGS=-DGENIE_BENCH_NO_IR >/dev/null
cmake --build "$noir" -j2 --target genie >/dev/null
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
case "$noir" in /*) ;; *) noir=$PWD/$noir ;; esac
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
        lib=$build/shim/libgenie.so
        [ $which = off ] && lib=$noir/shim/libgenie.so
        out=$(GENIE_REMOTE="unix:$tmp/g.sock" GENIE_BATCH_BYTES=$((1 << 30)) LD_PRELOAD=$lib \
            "$build/bench/micro/micro" --raw "unix:$tmp/raw$i.sock" --launches "$launches" \
            --pings 20 --bulk 1 2>&1)
        echo "$which launch $(grep '^launch record:' <<<"$out" | awk '{print $3}')"
        grep '^CSV-gemm' <<<"$out" | awk -F, -v w=$which '{print w, "sgemm", $3; print w, "torch_gemm", $4}'
    done
done | python3 -c '
import statistics, sys
d = {}
for line in sys.stdin:
    w, what, ns = line.split()
    d.setdefault((what, w), []).append(float(ns))
print("machine: %s; IR off vs on, %s rounds alternated, ns per call" % (sys.argv[1], sys.argv[2]))
for what in ("launch", "sgemm", "torch_gemm"):
    for w in ("off", "on"):
        v = d.get((what, w), [])
        if v:
            print("%-10s IR %-3s  min %7.1f  median %7.1f" % (what, w, min(v), statistics.median(v)))
' "$(nproc) cores, load $(cut -d" " -f1-3 /proc/loadavg)" "$rounds"
