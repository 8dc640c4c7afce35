#!/usr/bin/env bash
# run.sh — runs the microbenchmark over a unix socket and over TCP loopback; prints ratios.
#
#   bench/micro/run.sh [BUILD_DIR] [-- MICRO_ARGS...]
# For each kind: micro (Genie against a raw socket in one process pair), then wireref (raw
# socket variants and a minimal gRPC stream; skipped if BUILD_DIR has none), which gets the
# --pings, --bulk and --reps of MICRO_ARGS.
# genie-remote runs on the fake GPU unless GENIE_CUDA_LIB names a real driver or GENIE_REAL_GPU=1
# (then libcuda.so.1). BUILD_DIR may be a bundle made by scripts/bundle.sh. GENIE_REMOTE_ARGS adds
# arguments to genie-remote (e.g. "--sessions threads" to compare with the worker processes).
# GENIE_MICRO_KINDS picks the kinds (default "unix tcp tls"): tls is Genie over TCP with TLS on
# (gRPC's credentials; a CA and a server certificate for 127.0.0.1 made here with openssl; no
# client certificate) held to the same plaintext raw TCP socket: the goal stands against the
# raw socket. wireref is not run for tls (its references are plaintext; see tcp's). Skipped
# where openssl is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/wait.sh
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

tls_certs() { # a CA and a server certificate for 127.0.0.1 in $tmp
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=genie micro CA" \
        -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null &&
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tmp/server.key" \
            -out "$tmp/server.csr" 2>/dev/null &&
        printf 'subjectAltName=IP:127.0.0.1\n' >"$tmp/server.ext" &&
        openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
            -CAcreateserial -days 2 -extfile "$tmp/server.ext" -out "$tmp/server.pem" 2>/dev/null
}

echo "machine: $(nproc) cores, $(uname -m), executor driver: $(basename "$GENIE_CUDA_LIB")"
for kind in ${GENIE_MICRO_KINDS:-unix tcp tls}; do
    tlsargs=() tlsenv=()
    case $kind in
    unix) listen="unix:$tmp/g.sock" raw="unix:$tmp/raw.sock" ;;
    tcp) listen="127.0.0.1:0" raw="127.0.0.1:0" ;;
    tls)
        if ! command -v openssl >/dev/null || ! tls_certs; then
            echo "transport: tls skipped (no openssl)"
            continue
        fi
        listen="127.0.0.1:0" raw="127.0.0.1:0"
        tlsargs=(--tls-cert "$tmp/server.pem" --tls-key "$tmp/server.key")
        tlsenv=(GENIE_TLS_CA="$tmp/ca.pem")
        echo "transport: tls (Genie with TLS on: gRPC's ssl credentials, server certificate only; the raw socket below is plaintext TCP)"
        ;;
    *) echo "run.sh: unknown kind '$kind' in GENIE_MICRO_KINDS (unix, tcp, tls)" >&2; exit 2 ;;
    esac
    # shellcheck disable=SC2086 # GENIE_REMOTE_ARGS is a list of words
    "$build/remote/genie-remote" --listen "$listen" --port-file "$tmp/port.$kind" "${tlsargs[@]}" ${GENIE_REMOTE_ARGS:-} \
        2>"$tmp/server.$kind.log" &
    pids+=($!)
    wait_for_port "$tmp/port.$kind" "${pids[-1]}" ||
        { echo "run.sh: genie-remote ($kind) did not start" >&2; cat "$tmp/server.$kind.log" >&2; exit 1; }
    if [ $kind = unix ]; then target=$listen; else target="127.0.0.1:$(cat "$tmp/port.$kind")"; fi
    # the weight cache off: micro uploads the same bytes each round, and cache hits would
    # measure the executor's copy, not the wire
    # --cost: the shim calibrates at session start too (GENIE_COST_CALIBRATE), beside micro's own
    costenv=()
    for a in "$@"; do [ "$a" = --cost ] && costenv=(GENIE_COST_CALIBRATE=${GENIE_COST_CALIBRATE:-1}); done
    env "${tlsenv[@]}" "${costenv[@]}" GENIE_MICRO_KIND=$kind GENIE_REMOTE=$target GENIE_BATCH_BYTES=$((1 << 30)) GENIE_WEIGHT_CACHE=0 \
        LD_PRELOAD="$build/shim/libgenie.so" "$build/bench/micro/micro" --raw "$raw" "$@"
    if [ $kind != tls ] && [ -x "$build/bench/micro/wireref" ]; then
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
