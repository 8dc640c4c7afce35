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
