#!/usr/bin/env bash
# test_install.sh — cmake --install of the build under test (GENIE_BUILD) into a DESTDIR; checks what landed where.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${GENIE_BUILD:?set GENIE_BUILD to the build directory}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

DESTDIR=$tmp/dest cmake --install "$build" --prefix /usr >"$tmp/log" || { cat "$tmp/log"; fail "cmake --install failed"; }
d=$tmp/dest/usr
for f in lib/genie/libgenie.so lib/genie/libgenie_grpc.so bin/genie-remote \
    lib/genie/lookalike/libcudart.so.13 lib/genie/lookalike/libcublas.so.13 \
    lib/genie/lookalike/libcublasLt.so.13 lib/genie/lookalike/libcuda.so.1 \
    lib/genie/lookalike/libnvidia-ml.so.1 \
    share/doc/genie/README.md share/doc/genie/architecture.md share/doc/genie/protocol.md; do
    [ -f "$d/$f" ] || fail "$f is not installed"
done
[ -x "$d/bin/genie-remote" ] || fail "genie-remote is not executable"
# nothing else: no tests, fakes or benchmarks in a user's tree
extra=$(cd "$d" && find . -type f | grep -v -e '^./lib/genie/' -e '^./bin/genie-remote$' -e '^./share/doc/genie/' || true)
[ -z "$extra" ] || fail "unexpected files installed: $extra"
# the installed shim exports the CUDA ABI; the look-alikes still find their sibling shim
# (whole outputs in variables: grep -q on a pipe would SIGPIPE the producer under pipefail)
syms=$(nm -D --defined-only "$d/lib/genie/libgenie.so")
grep -qw cudaMalloc <<<"$syms" || fail "libgenie.so does not export cudaMalloc"
syms=$(nm -D --defined-only "$d/lib/genie/lookalike/libcudart.so.13")
grep -q 'cudaMalloc@@libcudart.so.13' <<<"$syms" || fail "the installed libcudart.so.13 lost its version node"
for l in libcublas.so.13 libcublasLt.so.13 libcuda.so.1; do
    dyn=$(readelf -d "$d/lib/genie/lookalike/$l")
    grep -q 'RUNPATH.*\$ORIGIN' <<<"$dyn" || fail "$l has no RUNPATH \$ORIGIN"
done
# gRPC stays out of what a preload brings into the global scope: the shim dlopens its client
# (libgenie_grpc.so) RTLD_LOCAL on its first connection (docs/architecture.md, start-up)
for l in libgenie.so lookalike/libcudart.so.13; do
    dyn=$(readelf -d "$d/lib/genie/$l")
    ! grep -E 'NEEDED.*(grpc|gpr|absl|ssl)' <<<"$dyn" || fail "$l needs gRPC's libraries directly"
done
grep -q 'NEEDED.*libgrpc' <<<"$(readelf -d "$d/lib/genie/libgenie_grpc.so")" || fail "libgenie_grpc.so does not need libgrpc"
# no build-tree path survives in the installed binaries' RUNPATH
dyn=$(readelf -d "$d"/lib/genie/libgenie*.so "$d"/lib/genie/lookalike/* "$d/bin/genie-remote")
if grep -E 'R(UN)?PATH' <<<"$dyn" | grep -q "$build"; then
    fail "an installed binary keeps a RUNPATH into the build tree"
fi
"$d/bin/genie-remote" --help >/dev/null 2>&1 || fail "the installed genie-remote --help failed"
echo "install: $(cd "$d" && find . -type f | wc -l) files under lib/genie, bin, share/doc/genie"
