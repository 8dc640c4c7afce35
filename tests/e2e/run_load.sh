#!/usr/bin/env bash
# run_load.sh — many concurrent clients against ONE genie-remote for a bounded time, every
# result checked, then genie-remote's threads, descriptors, worker processes and memory back to
# their baseline (issue 12 item 8).
#
#   run_load.sh "PROGRAM [ARGS]"...   (CUDA test programs that print RESULT OK; run in turn)
#   LOAD_CLIENTS (32) clients each run the programs in turn until LOAD_SECONDS (20) have passed
#   (a run already started finishes). LOAD_SESSIONS=threads: every session in genie-remote's
#   process instead of a worker each. LOAD_RSS_SLACK_KIB (65536): how far above its baseline
#   genie-remote's RSS may stay (malloc keeps freed memory; a leak of every session's buffers
#   grows past it). Paths from GENIE_BUILD, as for run_workload.sh.
set -euo pipefail
. "$(dirname "$0")/../lib/wait.sh"
[ $# -ge 1 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build=${GENIE_BUILD:?set GENIE_BUILD to the build directory}
clients=${LOAD_CLIENTS:-32} secs=${LOAD_SECONDS:-20} slack=${LOAD_RSS_SLACK_KIB:-65536}
shim="$build/shim/libgenie.so" remote="$build/remote/genie-remote"
# ASan keeps freed memory in its quarantine (256 MiB by default) before reusing it: under ASan
# the slack is that much larger (seen: +85 MiB after 32 clients, with the threads, descriptors
# and workers all back)
if ldd "$remote" | grep libasan >/dev/null && [ -z "${LOAD_RSS_SLACK_KIB:-}" ]; then
    slack=$((slack + 262144))
fi
export GENIE_CUDA_LIB="$build/tests/fakegpu/libgenie_fakecuda.so"
fakeblas="$build/tests/fakegpu/blas/libgenie_fakecublas.so"
[ -e "$fakeblas" ] && export GENIE_CUBLAS_LIB="$fakeblas" GENIE_CUBLASLT_LIB="$fakeblas"
preload="$shim"
if ldd "$shim" | grep libasan >/dev/null; then
    preload="$(gcc -print-file-name=libasan.so):$shim"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}
fi
tmp=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "run_load: $*" >&2; echo "--- server log (tail)" >&2; tail -30 "$tmp/server.log" >&2; exit 1; }

# Limits sized for the burst: every client connects at once, and a worker starting on a loaded
# machine must not run into the handshake deadline (liveness bounds only, not timings).
"$remote" --listen "unix:$tmp/genie.sock" --port-file "$tmp/port" --sessions "${LOAD_SESSIONS:-process}" \
    --max-unauth $((clients * 2)) --max-sessions $((clients * 2)) --handshake-ms 120000 \
    >"$tmp/server.log" 2>&1 &
server_pid=$!
wait_for_port "$tmp/port" "$server_pid" || fail "genie-remote did not start"

run_one() { # "prog args" logfile: 0 when it exited 0 and printed RESULT OK
    # shellcheck disable=SC2086 # the program and its arguments
    GENIE_REMOTE="unix:$tmp/genie.sock" GENIE_TIMEOUT_MS=300000 LD_PRELOAD="$preload" \
        timeout 600 $1 >"$2" 2>&1 && grep -q '^RESULT OK' "$2"
}
# Threads are counted without gRPC's own pools ("default-executor", "grpc_global_timer",
# "event_engine", "timer_manager", "resolver-executor"): gRPC grows them under load up to its
# own bounds and keeps them (seen: default-executor 1 before, 2 after 32 clients; in CI's ASan
# run grpc_global_timer 2 before, 3 after, for over a minute); every other thread (the
# transport's one per session, genie-remote's own) must go.
grpc_pools='^(default-executo|grpc_global_tim|event_engine|timer_manager|resolver-execut)'
probe() { # threads fds rss_kib workers of genie-remote
    echo "$(grep -Evc "$grpc_pools" /proc/$server_pid/task/*/comm 2>/dev/null | awk -F: '{s += $2} END {print s}')" \
         "$(ls /proc/$server_pid/fd | wc -l)" \
         "$(awk '/^VmRSS:/ {print $2}' /proc/$server_pid/status)" \
         "$( (pgrep -P "$server_pid" || true) | wc -l)"
}
# Baseline after one run of each program: gRPC starts its pollers on first use, and the
# weight cache keeps each program's large uploads (a memfd each with worker processes), the
# same bytes every run.
for p in "$@"; do
    run_one "$p" "$tmp/warm.log" || { cat "$tmp/warm.log" >&2; fail "the warm-up run of $p failed"; }
done
settle() { # waits (up to 60 s, liveness only) until the probe matches "$1 $2 * 0"
    local until=$(($(date +%s) + 60))
    while [ "$(date +%s)" -lt $until ]; do
        read -r th fd rss wk < <(probe)
        [ "$th" -le "$1" ] && [ "$fd" -le "$2" ] && [ "$wk" -eq 0 ] && return 0
        sleep 0.2
    done
    return 1
}
read -r th0 fd0 rss0 wk0 < <(probe)
settle "$th0" "$fd0" || true
read -r th0 fd0 rss0 wk0 < <(probe)
echo "baseline: threads $th0, fds $fd0, RSS $rss0 KiB, workers $wk0"
inventory() { # what the threads and descriptors are, for a failure's message
    echo "threads: $(cat /proc/$server_pid/task/*/comm | sort | uniq -c | tr -s ' \n' ' ')"
    echo "fds: $(ls -l /proc/$server_pid/fd | awk 'NR > 1 {print $NF}' | sed 's/[0-9]\+/N/g' | sort | uniq -c | tr -s ' \n' ' ')"
}
inventory >"$tmp/inventory0"

end=$(($(date +%s) + secs))
client() { # id
    local n=0 k=0 prog
    while [ "$(date +%s)" -lt "$end" ] || [ $n -eq 0 ]; do
        prog=${progs[$(((k + $1) % ${#progs[@]}))]}
        k=$((k + 1))
        if ! run_one "$prog" "$tmp/c$1.log"; then
            { echo "client $1 run $n: $prog failed"; tail -20 "$tmp/c$1.log"; } >"$tmp/fail.$1"
            return 1
        fi
        n=$((n + 1))
    done
    echo "$n" >"$tmp/runs.$1"
}
progs=("$@")
pids=()
peak_wk=0
for i in $(seq 1 "$clients"); do client "$i" & pids+=($!); done
# the peak number of workers while the clients run (one per open session)
t0=$(date +%s)
while :; do
    alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 1 ] || break
    read -r th fd rss wk < <(probe)
    [ "$wk" -gt "$peak_wk" ] && peak_wk=$wk
    sleep 0.5
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=1; done
read -r thp fdp rssp wkp < <(probe)
if [ $bad = 1 ]; then cat "$tmp"/fail.* >&2; fail "a client failed"; fi
kill -0 "$server_pid" 2>/dev/null || fail "genie-remote died"
total=$(cat "$tmp"/runs.* | awk '{s += $1} END {print s}')
echo "load: $clients clients, $total runs in $(($(date +%s) - t0)) s (started for ${secs} s), all RESULT OK;" \
    "peak $peak_wk worker processes; RSS at the end $rssp KiB"
settle "$th0" "$fd0" || {
    read -r th fd rss wk < <(probe)
    echo "baseline:" >&2; cat "$tmp/inventory0" >&2; echo "now:" >&2; inventory >&2
    fail "not back to baseline: threads $th (was $th0), fds $fd (was $fd0), workers $wk"
}
read -r th fd rss wk < <(probe)
echo "after: threads $th, fds $fd, RSS $rss KiB (baseline $rss0, slack $slack), workers $wk"
[ "$rss" -le $((rss0 + slack)) ] || fail "RSS $rss KiB stays more than $slack KiB above its baseline $rss0 KiB"
grep -E "ERROR|error:" "$tmp/server.log" | head -5 | grep . >&2 && fail "genie-remote logged errors"
echo "run_load: OK"
