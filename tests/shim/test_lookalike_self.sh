#!/usr/bin/env bash
# test_lookalike_self.sh — the in-process executor refuses to load Genie's own look-alike as cuBLAS.
#
#   test_lookalike_self.sh BUILD_DIR PROGRAM
# With the look-alikes on LD_LIBRARY_PATH and GENIE_CUBLAS_LIB unset, "libcublas.so.13"
# names the shim itself: the program must fail with a clear message, fast, not recurse.
set -euo pipefail
[ "${1:-}" = --help ] && { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
[ $# -eq 2 ] || { echo "usage: test_lookalike_self.sh BUILD_DIR PROGRAM" >&2; exit 2; }
build=$1 prog=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
pre=
if ldd "$build/shim/lookalike/libcudart.so.13" | grep libasan >/dev/null; then
    pre="$(gcc -print-file-name=libasan.so)" # a sanitizer build: its runtime goes first
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}
fi
set +e
env -u GENIE_CUBLAS_LIB -u GENIE_CUBLASLT_LIB ${pre:+LD_PRELOAD=$pre} \
    LD_LIBRARY_PATH="$build/shim/lookalike" \
    GENIE_REMOTE=local GENIE_CUDA_LIB="$build/tests/fakegpu/libgenie_fakecuda.so" \
    timeout 60 "$prog" >"$out" 2>&1
rc=$?
set -e
cat "$out"
[ $rc -ne 124 ] || { echo "test_lookalike_self: hung" >&2; exit 1; }
[ $rc -ne 0 ] || { echo "test_lookalike_self: the program succeeded against itself?" >&2; exit 1; }
grep -q "resolves to Genie's own look-alike library" "$out" ||
    { echo "test_lookalike_self: no clear message" >&2; exit 1; }
echo "test_lookalike_self: refused as expected"
