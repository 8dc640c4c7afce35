#!/usr/bin/env bash
# test_lookalike.sh — checks the libcudart/libcublas/libcublasLt.so.13 look-alikes: their ELF identity, and a program run through them.
#
#   test_lookalike.sh elf LOOKALIKE_DIR
#     each look-alike has the real library's SONAME and defines its version node (the
#     node a program linked against the real one needs); libcublas and libcublasLt need
#     libcudart.so.13, the one that holds the shim.
#   test_lookalike.sh run BUILD_DIR PROGRAM [ARGS...]
#     runs PROGRAM (linked against the real libcudart/libcublas) with
#     LD_LIBRARY_PATH=BUILD_DIR/shim/lookalike, no LD_PRELOAD, LD_BIND_NOW=1 (every import
#     resolved at load, as Python's RTLD_NOW does) and the in-process executor on the fake
#     GPU; checks "RESULT OK", and, from the loader's log, that each look-alike was loaded
#     at most once from that directory and exactly one object holds the shim, that the
#     executor loaded the fakes by their paths and that no other libcudart/libcublas/
#     libcublasLt or libgenie.so came in.
set -euo pipefail
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
[ "${1:-}" = --help ] && { usage; exit 0; }
[ $# -ge 2 ] || { usage >&2; exit 2; }
mode=$1; shift
libs="libcudart.so.13 libcublas.so.13 libcublasLt.so.13"

case "$mode" in
elf)
    dir=$1 fail=0
    for l in $libs; do
        f="$dir/$l"
        [ -f "$f" ] || { echo "missing $f"; fail=1; continue; }
        soname=$(readelf -d "$f" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
        [ "$soname" = "$l" ] || { echo "$l: SONAME is '$soname'"; fail=1; }
        # a non-BASE version definition named like the library (readelf -V, Flags: none); grep
        # reads all of readelf's output (no -q): under pipefail, a grep that stops at the match
        # can kill readelf with SIGPIPE (seen in the ASan tree, 2 runs of 3)
        readelf -V -W "$f" | grep -E "Flags: none +Index: [0-9]+ +Cnt: [0-9]+ +Name: $l\$" >/dev/null ||
            { echo "$l: no version node $l"; fail=1; }
        if [ "$l" != libcudart.so.13 ]; then
            readelf -d "$f" | grep 'NEEDED.*\[libcudart.so.13\]' >/dev/null ||
                { echo "$l: does not need libcudart.so.13"; fail=1; }
        fi
    done
    # the shim's whole API is in libcudart.so.13, each name at its own library's node
    for l in $libs; do
        n=$(nm -D --defined-only "$dir/libcudart.so.13" | grep -c "@@$l\$" || true)
        [ "$n" -gt 0 ] || { echo "libcudart.so.13 defines nothing at $l"; fail=1; }
        echo "libcudart.so.13 defines $n symbols at $l"
    done
    [ $fail = 0 ] || exit 1
    echo "test_lookalike: SONAMEs and version nodes OK"
    ;;
run)
    build=$(cd "$1" && pwd) prog=$2; shift 2 # absolute: the loader logs absolute paths
    dir="$build/shim/lookalike"
    fake="$build/tests/fakegpu/libgenie_fakecuda.so"
    fakeblas="$build/tests/fakegpu/blas/libgenie_fakecublas.so"
    for f in "$dir/libcudart.so.13" "$fake" "$fakeblas" "$prog"; do
        [ -e "$f" ] || { echo "test_lookalike: missing $f" >&2; exit 2; }
    done
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # Sanitizer builds: the ASan runtime must come first; that is the only thing preloaded.
    pre=
    if ldd "$dir/libcudart.so.13" | grep libasan >/dev/null; then
        pre="$(gcc -print-file-name=libasan.so)"
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}
    fi
    set +e
    env -u LD_PRELOAD ${pre:+LD_PRELOAD=$pre} LD_LIBRARY_PATH="$dir" LD_BIND_NOW=1 \
        LD_DEBUG=libs LD_DEBUG_OUTPUT="$tmp/ld" \
        GENIE_REMOTE=local GENIE_CUDA_LIB="$fake" GENIE_CUBLAS_LIB="$fakeblas" \
        GENIE_CUBLASLT_LIB="$fakeblas" GENIE_STATS_FILE="$tmp/stats.json" GENIE_TIMEOUT_MS=20000 \
        timeout 120 "$prog" "$@" >"$tmp/out.txt" 2>&1
    rc=$?
    set -e
    cat "$tmp/out.txt"
    [ $rc = 0 ] || { echo "test_lookalike: $prog exited with $rc" >&2; exit 1; }
    grep -q '^RESULT OK' "$tmp/out.txt" || { echo "test_lookalike: no RESULT OK" >&2; exit 1; }
    # The shim ran: it writes the stats file at exit.
    [ -s "$tmp/stats.json" ] || { echo "test_lookalike: no stats from the shim" >&2; exit 1; }
    # Every object initialised, by path: "calling init: /path" (one log file per process).
    sed -n 's/.*calling init: //p' "$tmp"/ld.* | sort >"$tmp/inits"
    fail=0
    # the shim once; a thin look-alike at most once (only if the program needs it)
    for l in $libs; do
        n=$(grep -c "^$dir/$l\$" "$tmp/inits" || true)
        if [ "$n" -gt 1 ] || { [ "$l" = libcudart.so.13 ] && [ "$n" != 1 ]; }; then
            echo "test_lookalike: $dir/$l initialised $n times" >&2
            fail=1
        fi
    done
    # One shim in the process: one initialised object carries genie_stats_json, the shim's
    # own export (three full copies would each hold a session, handles and an allocator).
    # Only the look-alikes and anything named like them are candidates (nm of every system
    # library takes seconds); awk reads all of nm's output, as grep -q could SIGPIPE nm.
    grep -E "^$dir/|/(libcudart|libcublas|libcublasLt)\.so|/libgenie\.so" "$tmp/inits" \
        >"$tmp/cand" || true
    shims=$(while read -r o; do
        if nm -D --defined-only "$o" 2>/dev/null |
            awk '$3 ~ /^genie_stats_json(@|$)/ { f = 1 } END { exit !f }'; then
            echo "$o"
        fi
    done <"$tmp/cand")
    if [ "$(printf '%s' "$shims" | grep -c .)" != 1 ]; then
        echo "test_lookalike: want one shim in the process, got: ${shims:-none}" >&2
        fail=1
    fi
    for f in "$fake" "$fakeblas"; do
        grep -qx "$f" "$tmp/inits" || { echo "test_lookalike: the executor did not load $f" >&2; fail=1; }
    done
    if grep -E '/(libcudart|libcublas|libcublasLt)\.so|/libgenie\.so' "$tmp/inits" | grep -v "^$dir/" >"$tmp/stray"; then
        echo "test_lookalike: loaded besides the look-alikes:" >&2
        cat "$tmp/stray" >&2
        fail=1
    fi
    [ $fail = 0 ] || { echo "--- objects initialised" >&2; cat "$tmp/inits" >&2; exit 1; }
    echo "test_lookalike: $(basename "$prog") OK through $dir, one shim, fakes by path"
    ;;
*)
    usage >&2
    exit 2
    ;;
esac
