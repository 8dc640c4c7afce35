#!/usr/bin/env bash
# run_twice.sh — runs one CUDA test program twice against ONE genie-remote (unix socket, fake GPU),
# for the weight cache: what the first run uploaded, the second must not send again.
#
#   run_twice.sh CASE PIECES PROGRAM [ARGS...]
#     CASE   cache      GENIE_WEIGHT_CACHE on (the default): run 1 misses PIECES pieces and
#                       hits none; run 2 hits PIECES, misses none, and sends under 1/20 of the
#                       bytes it uploads
#            off        GENIE_WEIGHT_CACHE=0 on the client: no hits, no misses, every byte sent
#            semantics_off  GENIE_SEMANTICS=0 on the client: the same
#            server_off GENIE_WEIGHT_CACHE_BYTES=0 on genie-remote: the client learns there is
#                       no cache at its first large upload; no hits, no misses, every byte sent
#            tenants    genie-remote's token file holds two tokens; run 1 presents one, run 2
#                       the other: run 2 misses every piece (the cache is scoped by token)
#            tenants_global  the same with --weight-cache-scope global: run 2 hits, as in cache
#            same_tenant     both runs present the second token: run 2 hits, as in cache
#     PIECES large-upload pieces (of at most 64 MiB) the program makes; env COPIES: the
#            large copies they come in (default PIECES), which is how many frames run 2 saves
#            (sent without waiting; with GENIE_INFLIGHT_BATCHES=0, round trips)
#   Both runs must exit 0 with "RESULT OK" (the program checks its bytes). Paths come from
#   GENIE_BUILD, as for run_workload.sh.
set -euo pipefail
. "$(dirname "$0")/../lib/wait.sh"
[ $# -ge 3 ] || { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
case=$1 pieces=$2 prog=$3
shift 3
build=${GENIE_BUILD:?set GENIE_BUILD to the build directory}
shim="$build/shim/libgenie.so"
remote="$build/remote/genie-remote"
fake="$build/tests/fakegpu/libgenie_fakecuda.so"
for f in "$shim" "$remote" "$prog" "$fake"; do
    [ -e "$f" ] || { echo "run_twice: missing $f" >&2; exit 2; }
done

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

preload="$shim"
if ldd "$shim" | grep libasan >/dev/null; then
    preload="$(gcc -print-file-name=libasan.so):$shim"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}
fi
export GENIE_CUDA_LIB="$fake"
server_env=()
client_env=()
# GENIE_TEST_SESSIONS=threads: every session in genie-remote's process (the cache in
# remote/wcache.c) instead of a worker per session (the front's, remote/wshare.c)
server_args=(--sessions "${GENIE_TEST_SESSIONS:-process}")
tokens=()
case "$case" in
cache) ;;
tenants | tenants_global | same_tenant)
    printf 'tenant-one\ntenant-two\n' >"$tmp/tokens"
    server_args+=(--token-file "$tmp/tokens")
    [ "$case" = tenants_global ] && server_args+=(--weight-cache-scope global)
    tokens=(tenant-one tenant-two)
    [ "$case" = same_tenant ] && tokens=(tenant-two tenant-two)
    ;;
off) client_env=(GENIE_WEIGHT_CACHE=0) ;;
semantics_off) client_env=(GENIE_SEMANTICS=0) ;;
server_off) server_env=(GENIE_WEIGHT_CACHE_BYTES=0) ;;
*) echo "run_twice: unknown case $case" >&2; exit 2 ;;
esac

env "${server_env[@]}" GENIE_LOG=info "$remote" --listen "unix:$tmp/genie.sock" --port-file "$tmp/port" \
    "${server_args[@]}" >"$tmp/server.log" 2>&1 &
server_pid=$!
wait_for_port "$tmp/port" "$server_pid" ||
    { echo "run_twice: genie-remote did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }

stat() { grep -o "\"$2\": [0-9]*" "$tmp/stats$1.json" | grep -o '[0-9]*$'; }
fail() { echo "run_twice: $*" >&2; echo "--- server log" >&2; cat "$tmp/server.log" >&2; exit 1; }

for run in 1 2; do
    set +e
    [ ${#tokens[@]} -gt 0 ] && client_env=(GENIE_TOKEN="${tokens[$((run - 1))]}")
    env "${client_env[@]}" GENIE_REMOTE="unix:$tmp/genie.sock" GENIE_STATS_FILE="$tmp/stats$run.json" \
        GENIE_TIMEOUT_MS=20000 LD_PRELOAD="$preload" timeout "${GENIE_RUN_TIMEOUT:-120}" \
        "$prog" "$@" >"$tmp/out$run.txt" 2>&1
    rc=$?
    set -e
    cat "$tmp/out$run.txt"
    [ $rc -eq 0 ] || fail "run $run exited with $rc"
    grep -q '^RESULT OK' "$tmp/out$run.txt" || fail "run $run: no RESULT OK"
    echo "run $run: bytes_sent $(stat $run bytes_sent), h2d_bytes $(stat $run h2d_bytes)," \
        "round_trips $(stat $run round_trips) (sync $(stat $run rt_sync)), hits $(stat $run h2d_cache_hits)," \
        "misses $(stat $run h2d_cache_misses), bytes_saved $(stat $run h2d_bytes_saved)"
done

expect() { # run stat value
    local got
    got=$(stat "$1" "$2")
    [ "$got" = "$3" ] || fail "run $1: $2 is ${got:-missing}, expected $3"
}
if [ "$case" = tenants ]; then
    expect 1 h2d_cache_misses "$pieces"
    expect 2 h2d_cache_hits 0
    expect 2 h2d_cache_misses "$pieces"
elif [ "$case" = cache ] || [ "$case" = tenants_global ] || [ "$case" = same_tenant ]; then
    expect 1 h2d_cache_hits 0
    expect 1 h2d_cache_misses "$pieces"
    expect 2 h2d_cache_hits "$pieces"
    expect 2 h2d_cache_misses 0
    # every large upload saved: what was sent is the small uploads (under 1 MiB here)
    [ $(( $(stat 2 h2d_bytes) - $(stat 2 h2d_bytes_saved) )) -lt 1048576 ] ||
        fail "run 2 saved $(stat 2 h2d_bytes_saved) of $(stat 2 h2d_bytes) uploaded bytes"
    [ $(( $(stat 2 bytes_sent) * 20 )) -lt "$(stat 2 h2d_bytes)" ] ||
        fail "run 2 sent $(stat 2 bytes_sent) bytes for $(stat 2 h2d_bytes) uploaded"
    # hit: one round trip per large upload (all its pieces asked for at once); miss: that one
    # and the missing pieces' bytes, a frame of their own, which goes without waiting for its
    # reply (non-blocking flushes) or is a second round trip (GENIE_INFLIGHT_BATCHES=0)
    copies=${COPIES:-$pieces}
    if [ "${GENIE_INFLIGHT_BATCHES:-}" = 0 ]; then
        [ $(( $(stat 1 rt_sync) - $(stat 2 rt_sync) )) -eq "$copies" ] ||
            fail "run 1 made $(stat 1 rt_sync) sync round trips, run 2 $(stat 2 rt_sync): expected $copies fewer"
    else
        [ "$(stat 1 rt_sync)" -eq "$(stat 2 rt_sync)" ] ||
            fail "run 1 made $(stat 1 rt_sync) sync round trips, run 2 $(stat 2 rt_sync): expected as many"
        [ $(( $(stat 1 batches_nowait) - $(stat 2 batches_nowait) )) -eq "$copies" ] ||
            fail "run 1 sent $(stat 1 batches_nowait) frames without waiting, run 2 $(stat 2 batches_nowait): expected $copies fewer"
    fi
    # the server logs its cache at the session's close, which comes after the client has exited
    # (the front learns of it from the worker): wait for the line, bounded
    wait_for_line "weight cache: .* $pieces hits" "$tmp/server.log" || fail "the server did not log $pieces hits"
else
    for run in 1 2; do
        expect $run h2d_cache_hits 0
        expect $run h2d_cache_misses 0
        [ "$(stat $run bytes_sent)" -gt "$(stat $run h2d_bytes)" ] || fail "run $run sent less than it uploaded"
    done
fi
kill -0 "$server_pid" 2>/dev/null || fail "genie-remote died"
echo "run_twice: $(basename "$prog") OK ($case)"
