#!/usr/bin/env bash
# run_tls.sh — genie-remote with TLS (gRPC's credentials), certificates made here with openssl.
#
#   run_tls.sh PROGRAM
#   Cases, one genie-remote each (TCP 127.0.0.1, a free port): a plaintext client is refused by
#   a TLS server; a client trusting another CA is refused; a TLS client runs PROGRAM; with
#   --tls-client-ca a client without a certificate is refused, one with a certificate from
#   another CA is refused, and one with a good certificate runs PROGRAM.
#   Paths come from GENIE_BUILD (the build directory).
#   No deadline is an assertion: a refused client must be refused (not time out), and the
#   bounds (genie-remote's start, the client's GENIE_TIMEOUT_MS, its --handshake-ms, the
#   program's run) only catch hangs, generous enough for the ASan tree on a machine at load 20+.
set -euo pipefail
. "$(dirname "$0")/../lib/wait.sh"
[ "${1:-}" = "--help" ] && { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
[ $# -eq 1 ] || { echo "usage: run_tls.sh PROGRAM" >&2; exit 2; }
prog=$1
build=${GENIE_BUILD:?set GENIE_BUILD}
shim="$build/shim/libgenie.so" remote="$build/remote/genie-remote"
export GENIE_CUDA_LIB="$build/tests/fakegpu/libgenie_fakecuda.so"
preload="$shim"
if ldd "$shim" | grep libasan >/dev/null; then
    preload="$(gcc -print-file-name=libasan.so):$shim"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}
fi
# a client's own LeakSanitizer suppressions (the file says why); genie-remote keeps the caller's
tls_supp="$(cd "$(dirname "$0")/.." && pwd)/lsan_tls_client.supp"
unset GENIE_TLS_CA GENIE_TLS_CERT GENIE_TLS_KEY GENIE_TOKEN GENIE_TOKEN_FILE
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

# ---- certificates: two CAs; a server certificate for 127.0.0.1; client certificates ----
ca() { # name
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=genie test $1" \
        -keyout "$tmp/$1.key" -out "$tmp/$1.pem" 2>/dev/null
}
leaf() { # name ca extensions
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$tmp/$1.key" \
        -out "$tmp/$1.csr" 2>/dev/null
    printf '%s\n' "$3" >"$tmp/$1.ext"
    openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/$2.pem" -CAkey "$tmp/$2.key" \
        -CAcreateserial -days 2 -extfile "$tmp/$1.ext" -out "$tmp/$1.pem" 2>/dev/null
}
ca ca
ca otherca
leaf server ca "subjectAltName=IP:127.0.0.1,DNS:localhost"
leaf client ca "extendedKeyUsage=clientAuth"
leaf stranger otherca "extendedKeyUsage=clientAuth"

start_server() {
    [ -n "$pid" ] && { kill $pid; wait $pid 2>/dev/null || true; }
    rm -f "$tmp/port"
    # --handshake-ms: the limit has its own test (test_server); here a TLS handshake and HELLO
    # (a worker process started under ASan) may take longer than its 5 s on a loaded machine
    "$remote" --listen 127.0.0.1:0 --port-file "$tmp/port" --handshake-ms 120000 "$@" \
        >"$tmp/server.log" 2>&1 &
    pid=$!
    wait_for_port "$tmp/port" "$pid" 120 || { echo "genie-remote did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }
    target=127.0.0.1:$(cat "$tmp/port")
}

# What the client says when a deadline passed: a liveness failure, never a refusal.
deadline="no answer \(still connecting\)|not accepted in time|no reply from genie-remote|no HELLO within|timed out"

run() { # name expected-rc regex [VAR=value ...]
    local name=$1 want=$2 re=$3 rc
    shift 3
    set +e
    # GENIE_TIMEOUT_MS (connect, and each reply) and timeout: liveness bounds only
    env "$@" GENIE_REMOTE=$target GENIE_TIMEOUT_MS=120000 LD_PRELOAD="$preload" \
        ${LSAN_OPTIONS:+LSAN_OPTIONS=suppressions=$tls_supp} timeout 240 "$prog" >"$tmp/out" 2>&1
    rc=$?
    set -e
    [ $rc -ne 124 ] || { cat "$tmp/out"; echo "run_tls: $name: the program hung" >&2; exit 1; }
    if grep -Eq -- "$deadline" "$tmp/out"; then
        cat "$tmp/out"
        echo "run_tls: $name: a deadline passed (a hang, not a refusal or a result)" >&2
        exit 1
    fi
    if [ $rc -ne "$want" ] || ! grep -Eq -- "$re" "$tmp/out"; then
        cat "$tmp/out"
        echo "run_tls: $name: exit status $rc (expected $want), output must match /$re/" >&2
        exit 1
    fi
    kill -0 $pid || { echo "run_tls: $name: genie-remote died" >&2; exit 1; }
    echo "run_tls: $name OK"
}

refused="cannot reach genie-remote"
start_server --tls-cert "$tmp/server.pem" --tls-key "$tmp/server.key"
run plaintext_refused 2 "$refused"
run wrong_ca_refused 2 "$refused" GENIE_TLS_CA="$tmp/otherca.pem"
run tls_runs 0 "^RESULT OK" GENIE_TLS_CA="$tmp/ca.pem"

start_server --tls-cert "$tmp/server.pem" --tls-key "$tmp/server.key" --tls-client-ca "$tmp/ca.pem"
run mtls_without_cert_refused 2 "$refused" GENIE_TLS_CA="$tmp/ca.pem"
run mtls_other_ca_cert_refused 2 "$refused" GENIE_TLS_CA="$tmp/ca.pem" \
    GENIE_TLS_CERT="$tmp/stranger.pem" GENIE_TLS_KEY="$tmp/stranger.key"
run mtls_runs 0 "^RESULT OK" GENIE_TLS_CA="$tmp/ca.pem" \
    GENIE_TLS_CERT="$tmp/client.pem" GENIE_TLS_KEY="$tmp/client.key"
grep -q "WARNING" "$tmp/server.log" && { echo "run_tls: a loopback TLS server warned" >&2; exit 1; }
echo "run_tls: all OK"
