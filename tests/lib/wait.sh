# tests/lib/wait.sh — bounded waits for the test scripts (sourced). Each polls every 50 ms
# and gives up after its bound: liveness only, never a timing assertion.

# wait_for_port FILE PID [SECONDS=20]: 0 once FILE (genie-remote's --port-file) is non-empty;
# 1 as soon as PID has exited or when SECONDS have passed (a loaded CI machine starts
# genie-remote slowly: keep the bound generous).
wait_for_port() {
    local file=$1 pid=$2 n=$((${3:-20} * 20)) i
    for ((i = 0; i < n; i++)); do
        [ -s "$file" ] && return 0
        kill -0 "$pid" 2>/dev/null || { [ -s "$file" ]; return; }
        sleep 0.05
    done
    [ -s "$file" ]
}

# wait_for_line REGEX FILE [SECONDS=10]: 0 once a line of FILE matches REGEX (grep -E), 1 when
# SECONDS have passed.
wait_for_line() {
    local re=$1 file=$2 n=$((${3:-10} * 20)) i
    for ((i = 0; i < n; i++)); do
        grep -qE -- "$re" "$file" 2>/dev/null && return 0
        sleep 0.05
    done
    grep -qE -- "$re" "$file" 2>/dev/null
}

# stop_server PID LOG [SECONDS=60]: stops genie-remote as an operator does (SIGTERM: drain,
# close every session, reap the workers) and waits for it; SIGKILL past SECONDS (liveness only).
# 0 when it exited with status 0 and LOG (its stderr, which its workers share) holds no
# sanitizer report: LeakSanitizer then covers the front and every worker too, whose reports
# would otherwise go unread (a worker's exit status 23 is only logged). Else 1, with why.
stop_server() {
    local pid=$1 log=$2 n=$((${3:-60} * 20)) i rc
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < n; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid" 2>/dev/null; echo "genie-remote did not stop on SIGTERM" >&2; }
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    if [ "$rc" -ne 0 ] || grep -Eq 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$log"; then
        echo "genie-remote exited with status $rc or reported a sanitizer error:" >&2
        cat "$log" >&2
        return 1
    fi
    return 0
}
