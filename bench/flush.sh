#!/usr/bin/env bash
# flush.sh — stock PyTorch's ResNet-50 through the shim against genie-remote on the fake GPU,
# with the non-blocking passes off and on (issue 11: sync elision, non-blocking flushes,
# pipelining; docs/semantics.md has the numbers this printed).
#
#   bench/flush.sh [BUILD=build] [DELAY_US=0] [FORWARDS=0] [CONFIG...]
#   (env BATCH: the forwards' batch size, 1)
#
# Each CONFIG is a space-free list of VAR=VALUE joined by commas, run as the client's
# environment (default: "GENIE_SEMANTICS=0" "GENIE_SYNC_ELISION=0" "default"). One genie-remote
# (unix socket; with DELAY_US > 0, TCP through bench/relay's genie-relay holding each chunk
# DELAY_US microseconds in each direction) serves every run; PyTorch's kernels are no-ops
# (GENIE_FAKE_UNKNOWN_KERNELS=noop). GENIE_FAKE_GPU_MODEL in this script's environment is
# passed to genie-remote: the forwards' times are then simulated, not measured on a GPU.
# Prints tests/torch/resnet_flush.py's lines for each config.
set -euo pipefail
build=${1:-build}
delay=${2:-0}
forwards=${3:-0}
shift $(($# < 3 ? $# : 3))
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(GENIE_SEMANTICS=0 GENIE_SYNC_ELISION=0 default)
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

fake=$build/tests/fakegpu/libgenie_fakecuda.so
fakeblas=$build/tests/fakegpu/blas/libgenie_fakecublas.so
wait_port() {
    for _ in $(seq 1 400); do [ -s "$1" ] && return 0; sleep 0.05; done
    echo "flush.sh: $2 did not start" >&2
    exit 1
}
if [ "$delay" -gt 0 ]; then
    listen=127.0.0.1:0
else
    listen=unix:$tmp/genie.sock
fi
GENIE_CUDA_LIB=$fake GENIE_CUBLAS_LIB=$fakeblas GENIE_CUBLASLT_LIB=$fakeblas \
    GENIE_FAKE_UNKNOWN_KERNELS=noop "$build/remote/genie-remote" --listen "$listen" \
    --port-file "$tmp/port" >"$tmp/server.log" 2>&1 &
pids+=($!)
wait_port "$tmp/port" genie-remote
if [ "$delay" -gt 0 ]; then
    "$build/bench/relay/genie-relay" --listen 127.0.0.1:0 --connect "127.0.0.1:$(cat "$tmp/port")" \
        --delay-us "$delay" --port-file "$tmp/rport" >"$tmp/relay.log" 2>&1 &
    pids+=($!)
    wait_port "$tmp/rport" genie-relay
    target=127.0.0.1:$(cat "$tmp/rport")
else
    target=unix:$tmp/genie.sock
fi
echo "genie-remote at $target (one-way delay ${delay} us)${GENIE_FAKE_GPU_MODEL:+, GENIE_FAKE_GPU_MODEL=$GENIE_FAKE_GPU_MODEL (simulated)}"
for c in "${configs[@]}"; do
    vars=()
    [ "$c" = default ] || IFS=, read -r -a vars <<<"$c"
    echo "== $c"
    if ! env ${vars[@]+"${vars[@]}"} GENIE_TORCH_REMOTE="$target" GENIE_BUILD="$build" \
        GENIE_RUN_TIMEOUT=900 "$here/tests/torch/run.sh" resnet_flush.py "$forwards" "${BATCH:-1}" >"$tmp/out" 2>&1; then
        cat "$tmp/out" >&2
        echo "flush.sh: the run failed" >&2
        exit 1
    fi
    grep -E '^(upload|check|forward|RESULT)' "$tmp/out"
    # the tail: ms from the last op recorded to the result, median over the forwards after
    # the first (which loads modules)
    awk '/^forward [1-9]/ { printf "%.3f\n", $9 - $5 }' "$tmp/out" | sort -g >"$tmp/tails"
    n=$(wc -l <"$tmp/tails")
    [ "$n" -gt 0 ] && echo "tail after recording, median of $n: $(sed -n "$(((n + 1) / 2))p" "$tmp/tails") ms"
done
