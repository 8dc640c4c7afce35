#!/usr/bin/env bash
# test_bundle.sh — scripts/bundle.sh on the build under test (GENIE_BUILD), into a temp dir.
set -euo pipefail
# shellcheck source=tests/scripts/common.sh
. "$(dirname "$0")/common.sh"

b=$tmp/b
"$root/scripts/bundle.sh" --build-dir "$build" --max-mib "$max_mib" "$b" | tee "$tmp/log"

# the size, measured here as well
bytes=$(du -sb "$b" | cut -f1)
[ "$bytes" -lt $((max_mib << 20)) ] || fail "bundle is $bytes bytes, above $max_mib MiB"
grep -q "size: .* MiB (limit $max_mib MiB)" "$tmp/log" || fail "bundle.sh did not print the size"
grep -q 'requires GLIBC_2\.[0-9]' "$tmp/log" || fail "bundle.sh did not print the GLIBC requirement"

# no CUDA library packed; the gRPC stack is
for f in "$b"/lib/*; do
    case "${f##*/}" in libcuda.* | libcudart.* | libcublas* | libnvidia-*) fail "CUDA library packed: $f" ;; esac
done
for l in libgrpc.so libgpr.so libisal.so libxxhash.so libssl.so libcrypto.so libz.so; do
    compgen -G "$b/lib/$l*" >/dev/null || fail "$l is not in lib/"
done

# RUNPATH relative to the binaries, never an absolute path of this machine
[ "$(patchelf --print-rpath "$b/remote/genie-remote")" = '$ORIGIN/../lib' ] || fail "genie-remote RUNPATH"
[ "$(patchelf --print-rpath "$b/shim/libgenie.so")" = '$ORIGIN/../lib' ] || fail "libgenie.so RUNPATH"
[ "$(patchelf --print-rpath "$b/shim/libgenie_grpc.so")" = '$ORIGIN/../lib' ] || fail "libgenie_grpc.so RUNPATH"
[ -z "$(readelf -d "$b/remote/genie-remote" | grep '(RPATH)')" ] || fail "genie-remote has DT_RPATH, want DT_RUNPATH"

# ldd: every library of genie-remote, libgenie.so and its gRPC client (dlopened beside it) but
# glibc/libstdc++ comes from the bundle
for f in remote/genie-remote shim/libgenie.so shim/libgenie_grpc.so; do
    env -u LD_LIBRARY_PATH ldd "$b/$f" >"$tmp/ldd"
    ! grep -q 'not found' "$tmp/ldd" || fail "$f: $(grep 'not found' "$tmp/ldd")"
    outside=$(awk '/=>/ && $3 !~ "^'"$b"'/" { print $1 }' "$tmp/ldd" |
        grep -Ev '^(libc|libm|libpthread|libdl|librt|libresolv|libstdc\+\+|libgcc_s|libmvec)\.so|^ld-linux|^libasan|^libubsan' || true)
    [ -z "$outside" ] || fail "$f: from outside the bundle: $outside"
done

# a program through the bundled shim and the bundled genie-remote (fake GPU), and the bundle's scripts
if [ -e "$b/tests/fakegpu/libgenie_fakecuda.so" ]; then
    GENIE_BUILD=$b bash "$b/tests/e2e/run_workload.sh" unix "$b/tests/workloads/saxpy" >"$tmp/run" 2>&1 ||
        { cat "$tmp/run"; fail "saxpy through the bundle"; }
    grep -q 'saxpy OK over unix' "$tmp/run" || fail "saxpy through the bundle: no OK line"
fi

# above the limit: a loud failure
if "$root/scripts/bundle.sh" --build-dir "$build" --max-mib 1 "$tmp/small" >"$tmp/small.log" 2>&1; then
    fail "bundle.sh --max-mib 1 succeeded"
fi
grep -q 'ABOVE THE LIMIT OF 1 MiB' "$tmp/small.log" || { cat "$tmp/small.log"; fail "no loud size failure"; }

# never empties a directory that is not a bundle
mkdir "$tmp/other" && touch "$tmp/other/precious"
if "$root/scripts/bundle.sh" --build-dir "$build" --max-mib "$max_mib" "$tmp/other" >/dev/null 2>&1; then fail "bundled into a non-bundle dir"; fi
[ -e "$tmp/other/precious" ] || fail "bundle.sh deleted a file it does not own"
echo "test_bundle: OK ($bytes bytes)"
