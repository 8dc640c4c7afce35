#!/usr/bin/env bash
# run_negative.sh — the shim against a missing or refusing genie-remote: clear errors, no hangs.
#
#   run_negative.sh CASE PROGRAM
#     unreachable   GENIE_REMOTE names a socket nobody listens on
#     bad_token     genie-remote --token is set and the client presents another token
#     good_token    the same server with the right token: the program runs
#     token_file    the same, the token read from GENIE_TOKEN_FILE on the client
#     va_taken      the first session's device range lies on the client's own program image
#                   (setarch -R, GENIE_TEST_VA_HINT): the shim asks for another session and runs
#   Paths come from GENIE_BUILD (the build directory).
set -euo pipefail
. "$(dirname "$0")/../lib/wait.sh"
[ "${1:-}" = "--help" ] && { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
[ $# -eq 2 ] || { echo "usage: run_negative.sh CASE PROGRAM" >&2; exit 2; }
case_=$1 prog=$2
build=${GENIE_BUILD:?set GENIE_BUILD}
shim="$build/shim/libgenie.so" remote="$build/remote/genie-remote"
export GENIE_CUDA_LIB="$build/tests/fakegpu/libgenie_fakecuda.so"
preload="$shim"
if ldd "$shim" | grep libasan >/dev/null; then # not -q: an early exit would SIGPIPE ldd under pipefail
    preload="$(gcc -print-file-name=libasan.so):$shim"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}
fi
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

start_server() {
    "$remote" --listen "unix:$tmp/g.sock" --port-file "$tmp/port" "$@" >"$tmp/server.log" 2>&1 &
    pid=$!
    wait_for_port "$tmp/port" "$pid" && return 0
    echo "genie-remote did not start" >&2; cat "$tmp/server.log" >&2; exit 1
}

fail() { # the reason; genie-remote's log with it, if one ran
    echo "run_negative: $*" >&2
    [ -f "$tmp/server.log" ] && { echo "--- genie-remote's log:" >&2; cat "$tmp/server.log" >&2; }
    exit 1
}

run() { # expected-rc regex
    # The failing cases must fail fast (a 3 s deadline, done within 10 s); the good case only
    # must not hang: on a loaded 2-core machine its run may take longer than 3 s per reply.
    local want=$1 re=$2 t0 t1 rc tmo=3000 bound=10
    [ "$want" -eq 0 ] && tmo=30000 bound=60
    t0=$(date +%s)
    set +e
    GENIE_REMOTE=$target GENIE_TIMEOUT_MS=$tmo LD_PRELOAD="$preload" timeout 90 $wrap "$prog" >"$tmp/out" 2>&1
    rc=$?
    set -e
    t1=$(date +%s)
    cat "$tmp/out"
    [ $rc -ne 124 ] || fail "the program hung"
    [ $rc -eq "$want" ] || fail "exit status $rc, expected $want"
    grep -Eq -- "$re" "$tmp/out" || fail "output lacks /$re/"
    [ $((t1 - t0)) -le $bound ] || fail "took $((t1 - t0)) s"
}

wrap=
case "$case_" in
unreachable)
    target="unix:$tmp/nobody.sock"
    run 2 "cannot reach genie-remote.*nobody.sock"
    ;;
bad_token)
    start_server --token right-secret
    target="unix:$tmp/g.sock"
    GENIE_TOKEN=wrong-secret run 2 "authentication token rejected"
    kill -0 $pid || { echo "run_negative: genie-remote died" >&2; exit 1; }
    ;;
good_token)
    start_server --token right-secret
    target="unix:$tmp/g.sock"
    GENIE_TOKEN=right-secret run 0 "^RESULT OK"
    ;;
token_file)
    start_server --token right-secret
    target="unix:$tmp/g.sock"
    printf 'right-secret\n' >"$tmp/token"
    GENIE_TOKEN=wrong-secret GENIE_TOKEN_FILE="$tmp/token" run 0 "^RESULT OK"
    ;;
va_taken)
    # Without ASLR a PIE program's image starts at 0x555555554000: a 1 GiB range hinted at
    # 0x555555400000 covers it, so the client cannot reserve the first session's range.
    setarch "$(uname -m)" -R true 2>/dev/null || { echo "run_negative: setarch -R unavailable: SKIPPED"; exit 0; }
    GENIE_TEST_VA_HINT=0x555555400000 GENIE_VA_SIZE=1073741824 start_server
    target="unix:$tmp/g.sock"
    wrap="setarch $(uname -m) -R"
    GENIE_LOG=warn run 0 "is taken in this process .*asking genie-remote for another session"
    grep -q "^RESULT OK" "$tmp/out" || { echo "run_negative: the retried session did not run" >&2; exit 1; }
    ;;
*)
    echo "run_negative: unknown case $case_" >&2
    exit 2
    ;;
esac
echo "run_negative: $case_ OK"
