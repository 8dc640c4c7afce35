# shellcheck shell=bash disable=SC2034
# common.sh — sourced by the tests in tests/scripts: skip (77) unless the build and patchelf are there.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${GENIE_BUILD:?set GENIE_BUILD to the build directory}
for f in shim/libgenie.so remote/genie-remote bench/micro/micro \
    tests/workloads/{saxpy,reduce,mlp,streams,errors,queries,symbols,blascheck,ltcheck,minicnn,minigpt,twobranch,graphs,copies2d}; do
    [ -e "$build/$f" ] || { echo "SKIP: $build/$f is not built (scripts/setup.sh)"; exit 77; }
done
command -v patchelf >/dev/null || { echo "SKIP: patchelf is not installed (scripts/setup.sh installs it)"; exit 77; }
# The device machine carries 64 MiB: bundle.sh's default limit is 60. A sanitizer tree's bundle
# (instrumented binaries and libasan) is never carried, only checked for what it does, so it
# gets more room.
max_mib=60
if ldd "$build/shim/libgenie.so" | grep libasan >/dev/null; then # not -q: SIGPIPE under pipefail
    max_mib=96
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
