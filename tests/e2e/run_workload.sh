#!/usr/bin/env bash
# run_workload.sh — runs one CUDA test program under libgenie.so against genie-remote on the fake GPU.
#
#   run_workload.sh MODE PROGRAM [ARGS...]
#     MODE: local (in-process executor), unix (genie-remote on a unix socket) or tcp
#   Checks: exit status 0 and "RESULT OK" in the output. Extra checks through env:
#     EXPECT_RT_SYNC=N      the program made exactly N round trips for recorded work
#     EXPECT_RT_QUERY=N     the program made exactly N query round trips (e.g. Lt heuristics)
#     EXPECT_OUTPUT=REGEX   the output must match (grep -E), one regex per line
#     EXPECT_STAT="NAME OP N"  a counter of GENIE_STATS_FILE compared with N (OP: = >= <= > <),
#                           one comparison per line
#   Paths come from GENIE_BUILD (the build directory, or a bundle made by scripts/bundle.sh:
#   same layout). GENIE_REAL_GPU=1 runs the executor on the real driver instead of the fake GPU.
#   GENIE_RUN_TIMEOUT: seconds the program may run (120).
#   EXTRA_LD_LIBRARY_PATH: prepended to the program's LD_LIBRARY_PATH (e.g. build/shim/lookalike,
#   so that its dlopen("libcuda.so.1") finds the look-alike).
set -euo pipefail
. "$(dirname "$0")/../lib/wait.sh"

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
[ "${1:-}" = "--help" ] && { usage; exit 0; }
[ $# -ge 2 ] || { usage >&2; exit 2; }
mode=$1; shift
prog=$1; shift
build=${GENIE_BUILD:?set GENIE_BUILD to the build directory}

shim="$build/shim/libgenie.so"
remote="$build/remote/genie-remote"
fake="$build/tests/fakegpu/libgenie_fakecuda.so"
for f in "$shim" "$remote" "$prog"; do
    [ -e "$f" ] || { echo "run_workload: missing $f" >&2; exit 2; }
done
[ "${GENIE_REAL_GPU:-0}" = 1 ] || [ -e "$fake" ] || { echo "run_workload: missing $fake" >&2; exit 2; }

tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# Sanitizer builds: the ASan runtime must come first in an uninstrumented program.
preload="$shim"
if ldd "$shim" | grep libasan >/dev/null; then # not -q: an early exit would SIGPIPE ldd under pipefail
    preload="$(gcc -print-file-name=libasan.so):$shim"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}
fi

# GENIE_REAL_GPU=1 (CTest label gpu): the executor uses the real driver and libraries.
if [ "${GENIE_REAL_GPU:-0}" != 1 ]; then
    export GENIE_CUDA_LIB="$fake"
    fakeblas="$build/tests/fakegpu/blas/libgenie_fakecublas.so"
    if [ -e "$fakeblas" ]; then # one library serves as both cuBLAS and cuBLASLt
        export GENIE_CUBLAS_LIB="$fakeblas" GENIE_CUBLASLT_LIB="$fakeblas"
    fi
    fakednn="$build/tests/fakegpu/dnn/libgenie_fakecudnn.so"
    [ -e "$fakednn" ] && export GENIE_CUDNN_LIB="$fakednn"
fi
case "$mode" in
local)
    target=local
    ;;
unix | tcp)
    if [ "$mode" = unix ]; then
        listen="unix:$tmp/genie.sock"
    else
        listen="127.0.0.1:0"
    fi
    "$remote" --listen "$listen" --port-file "$tmp/port" >"$tmp/server.log" 2>&1 &
    server_pid=$!
    wait_for_port "$tmp/port" "$server_pid" || { echo "run_workload: genie-remote did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }
    if [ "$mode" = unix ]; then target="unix:$tmp/genie.sock"; else target="127.0.0.1:$(cat "$tmp/port")"; fi
    ;;
*)
    echo "run_workload: unknown mode $mode" >&2
    exit 2
    ;;
esac

set +e
GENIE_REMOTE="$target" GENIE_STATS_FILE="$tmp/stats.json" GENIE_TIMEOUT_MS=20000 \
    LD_PRELOAD="$preload" \
    LD_LIBRARY_PATH="${EXTRA_LD_LIBRARY_PATH:+$EXTRA_LD_LIBRARY_PATH${LD_LIBRARY_PATH:+:}}${LD_LIBRARY_PATH:-}" \
    timeout "${GENIE_RUN_TIMEOUT:-120}" "$prog" "$@" >"$tmp/out.txt" 2>&1
rc=$?
set -e
cat "$tmp/out.txt"
echo "--- stats: $(cat "$tmp/stats.json" 2>/dev/null | sed 's/, "per_api".*//')"
if [ $rc -ne 0 ]; then
    echo "run_workload: $prog exited with $rc" >&2
    [ -n "$server_pid" ] && { echo "--- server log" >&2; cat "$tmp/server.log" >&2; }
    exit 1
fi
grep -q '^RESULT OK' "$tmp/out.txt" || { echo "run_workload: no RESULT OK" >&2; exit 1; }
if [ -n "${EXPECT_RT_SYNC:-}" ]; then
    got=$(grep -o '"rt_sync": [0-9]*' "$tmp/stats.json" | grep -o '[0-9]*$')
    if [ "$got" != "$EXPECT_RT_SYNC" ]; then
        echo "run_workload: expected $EXPECT_RT_SYNC round trips for recorded work, got ${got:-none}" >&2
        exit 1
    fi
fi
if [ -n "${EXPECT_RT_QUERY:-}" ]; then
    got=$(grep -o '"rt_query": [0-9]*' "$tmp/stats.json" | grep -o '[0-9]*$')
    if [ "$got" != "$EXPECT_RT_QUERY" ]; then
        echo "run_workload: expected $EXPECT_RT_QUERY query round trips, got ${got:-none}" >&2
        exit 1
    fi
fi
if [ -n "${EXPECT_STAT:-}" ]; then
    while read -r name op want; do
        [ -z "$name" ] && continue
        got=$(grep -o "\"$name\": [0-9]*" "$tmp/stats.json" | grep -o '[0-9]*$' || true)
        case "$op" in
        =) test "${got:-x}" = "$want" ;;
        '>=') [ -n "$got" ] && [ "$got" -ge "$want" ] ;;
        '<=') [ -n "$got" ] && [ "$got" -le "$want" ] ;;
        '>') [ -n "$got" ] && [ "$got" -gt "$want" ] ;;
        '<') [ -n "$got" ] && [ "$got" -lt "$want" ] ;;
        *) echo "run_workload: bad EXPECT_STAT operator $op" >&2; exit 2 ;;
        esac || { echo "run_workload: expected $name $op $want, got ${got:-none}" >&2; exit 1; }
    done <<<"$EXPECT_STAT"
fi
if [ -n "${EXPECT_OUTPUT:-}" ]; then
    while IFS= read -r re; do
        [ -z "$re" ] && continue
        grep -Eq -- "$re" "$tmp/out.txt" || { echo "run_workload: output lacks /$re/" >&2; exit 1; }
    done <<<"$EXPECT_OUTPUT"
fi
if [ -n "$server_pid" ] && ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run_workload: genie-remote died" >&2
    cat "$tmp/server.log" >&2
    exit 1
fi
if [ -n "$server_pid" ]; then # its own exit and its workers' are checked too (stop_server)
    pid=$server_pid
    server_pid=
    stop_server "$pid" "$tmp/server.log" || { echo "run_workload: genie-remote did not stop cleanly" >&2; exit 1; }
fi
echo "run_workload: $(basename "$prog") OK over $mode"
