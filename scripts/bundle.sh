#!/usr/bin/env bash
# bundle.sh — packs what a GPU host needs to run Genie and its GPU checks, without building there.
#
#   scripts/bundle.sh [--build-dir DIR] [--max-mib N] [OUTDIR]
#     OUTDIR        where the bundle goes (default bundle/, git-ignored); replaced if it is a bundle
#     --build-dir   the build to pack (default build/, as scripts/setup.sh makes it)
#     --max-mib     fail above this size (default 60; the device machine carries 64 MiB in all)
#
# Layout (mirrors the build tree, so GENIE_BUILD=OUTDIR works for tests/e2e/run_workload.sh and
# OUTDIR is the BUILD_DIR of bench/micro/run.sh):
#   shim/libgenie.so  shim/libgenie_grpc.so  shim/lookalike/*.so.13  remote/genie-remote  bench/micro/micro
#   tests/workloads/*  tests/fakegpu/libgenie_fakecuda.so (lets the bundle be tried without a GPU)
#   lib/               every shared library those need that is neither glibc, libstdc++/libgcc_s
#                      nor CUDA (gRPC, absl, re2, c-ares, upb, OpenSSL, zlib, ISA-L, xxHash, ...)
#   tests/e2e/run_workload.sh tests/lib/wait.sh  bench/micro/run.sh  scripts/device-validate.sh  MANIFEST.txt
#   tests/torch/torch_checks.py  tests/torch/compare.py (device-validate's torch step)
#   tests/torch/decode_timing.py (device-validate's replay step)
#   bench/genie_bench/*.py  tests/bench/check_results.py  tests/torch/make_stubs.sh
#   bench/relay/genie-relay (device-validate's genie-bench step)
# ELF files that need lib/ get RUNPATH $ORIGIN/<relative path to lib> (patchelf), the libraries
# in lib/ get $ORIGIN. CUDA libraries (libcuda, libcudart, libcublas, ...) are never packed:
# they come from the GPU host. Checks: the size, that ldd resolves every non-CUDA library of
# every packed ELF inside the bundle or to glibc/libstdc++, and the newest GLIBC_ symbol
# version the bundle requires (a warning above 2.35, Ubuntu 22.04's glibc).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

build=build out=bundle max_mib=60
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build=${2:?--build-dir needs a directory}; shift ;;
    --max-mib) max_mib=${2:?--max-mib needs a number}; shift ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bundle.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    *) out=$1 ;;
    esac
    shift
done
die() { echo "bundle.sh: $*" >&2; exit 1; }
glibc_ok=2.35 # Ubuntu 22.04

# ---- what to pack
[ -d "$build" ] || { echo "bundle.sh: no build directory $build (build first: scripts/setup.sh)" >&2; exit 2; }
build=$(cd "$build" && pwd)
WORKLOADS=(saxpy reduce mlp streams errors queries symbols blascheck ltcheck minicnn minigpt twobranch graphs copies2d)
required=(shim/libgenie.so shim/libgenie_grpc.so remote/genie-remote bench/micro/micro)
for w in "${WORKLOADS[@]}"; do required+=("tests/workloads/$w"); done
missing=()
for f in "${required[@]}"; do [ -f "$build/$f" ] || missing+=("$f"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bundle.sh: missing in $build: ${missing[*]} (build first: scripts/setup.sh)" >&2
    exit 2
fi
command -v patchelf >/dev/null || die "patchelf not found (scripts/setup.sh installs it: apt-get install patchelf)"
for t in ldd objdump readelf; do command -v $t >/dev/null || die "$t not found"; done

optional=(tests/workloads/fault tests/workloads/queries tests/fakegpu/libgenie_fakecuda.so
    bench/relay/genie-relay bench/micro/devtimes)
for f in "$build"/shim/lookalike/*.so*; do [ -f "$f" ] && optional+=("shim/lookalike/${f##*/}"); done
files=("${required[@]}")
for f in "${optional[@]}"; do [ -f "$build/$f" ] && files+=("$f"); done
SCRIPTS=(tests/e2e/run_workload.sh tests/lib/wait.sh bench/micro/run.sh scripts/device-validate.sh
    tests/torch/torch_checks.py tests/torch/compare.py tests/torch/make_stubs.sh tests/torch/decode_timing.py
    tests/bench/check_results.py
    bench/micro/fit_fakegpu_model.py tests/fakegpu/models/h100.model tests/fakegpu/models/h200.model
    tests/fakegpu/models/a100.model)
# genie-bench (device-validate's step f runs genie-bench --quick from the bundle)
for f in "$src"/bench/genie_bench/*.py; do SCRIPTS+=("bench/genie_bench/${f##*/}"); done

# ---- a fresh OUTDIR (never delete a directory that is not a bundle)
mkdir -p "$out"
out=$(cd "$out" && pwd)
case "$out" in "$build" | "$build"/* | "$src") die "refusing to bundle into $out" ;; esac
if [ -n "$(ls -A "$out")" ]; then
    [ -e "$out/.genie-bundle" ] || die "$out is not empty and not a bundle; remove it or pick another OUTDIR"
    find "$out" -mindepth 1 -delete
fi
touch "$out/.genie-bundle"

for f in "${files[@]}"; do
    mkdir -p "$out/$(dirname "$f")"
    cp -L --preserve=mode "$build/$f" "$out/$f"
    chmod u+w "$out/$f"
done
for f in "${SCRIPTS[@]}"; do
    mkdir -p "$out/$(dirname "$f")"
    cp "$src/$f" "$out/$f"
done

# ---- which libraries come from the host, which are packed
# glibc and the compiler runtime every Linux host has (the GLIBC check below covers versions)
is_system() {
    case "$1" in
    linux-vdso.so.* | ld-linux*.so.* | libc.so.6 | libm.so.6 | libmvec.so.1 | libpthread.so.0 | \
        libdl.so.2 | librt.so.1 | libresolv.so.2 | libutil.so.1 | libanl.so.1 | libnsl.so.1 | \
        libBrokenLocale.so.1 | libthread_db.so.1 | libc_malloc_debug.so.0 | libnss_*.so.* | \
        libstdc++.so.6 | libgcc_s.so.1) return 0 ;;
    esac
    return 1
}
# CUDA: the GPU host's own driver, toolkit or wheels
is_cuda() {
    case "$1" in
    libcuda.so* | libcudart.so* | libcublas.so* | libcublasLt.so* | libcudnn*.so* | libcufft*.so* | \
        libcurand.so* | libcusparse*.so* | libcusolver*.so* | libnvrtc*.so* | libnvJitLink.so* | \
        libnvToolsExt.so* | libnccl.so* | libnvidia-*.so*) return 0 ;;
    esac
    return 1
}
ELF_LIST=()
elfs() { # every ELF file in the bundle (cached; list_elfs refreshes)
    [ ${#ELF_LIST[@]} -gt 0 ] && printf '%s\n' "${ELF_LIST[@]}"
}
list_elfs() {
    local f m
    ELF_LIST=()
    while IFS= read -r f; do
        IFS= read -r -N 4 m <"$f" 2>/dev/null || true
        [ "$m" = $'\x7fELF' ] && ELF_LIST+=("$f")
    done < <(find "$out" -type f | sort)
}
list_elfs

declare -A packed=() # soname -> original path
mkdir -p "$out/lib"
while read -r f; do
    while read -r name arrow path _; do
        [ "$arrow" = "=>" ] || continue
        is_system "$name" && continue
        is_cuda "$name" && continue
        case "$path" in "$out"/*) continue ;; esac # e.g. the look-alikes find each other
        [ "$path" = "not" ] && die "$(basename "$f"): $name not found on this machine"
        packed[$name]=$path
    done < <(ldd "$f" 2>/dev/null || true)
done < <(elfs)
for name in "${!packed[@]}"; do
    cp -L "${packed[$name]}" "$out/lib/$name"
    chmod u+w,a+r "$out/lib/$name"
done
list_elfs

# ---- RUNPATH: $ORIGIN-relative paths to lib/ for what needs it; no absolute build paths
needs_lib() { # the ELF names a packed library in DT_NEEDED
    local n
    for n in $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -e "$out/lib/$n" ] && return 0
    done
    return 1
}
while read -r f; do
    old=$(patchelf --print-rpath "$f" 2>/dev/null || true)
    new=()
    IFS=: read -r -a parts <<<"$old"
    for p in "${parts[@]}"; do case "$p" in '$ORIGIN'*) new+=("$p") ;; esac; done
    if needs_lib "$f"; then
        if [ "$(dirname "$f")" = "$out/lib" ]; then
            rel='$ORIGIN'
        else
            rel='$ORIGIN/'$(realpath --relative-to="$(dirname "$f")" "$out/lib")
        fi
        new=("$rel" "${new[@]}")
    fi
    want=$(IFS=:; echo "${new[*]}")
    [ "$want" = "$old" ] && continue
    if [ -z "$want" ]; then patchelf --remove-rpath "$f"; else patchelf --set-rpath "$want" "$f"; fi
done < <(elfs)

# ---- checks
fail=0
# 1. no CUDA library inside lib/ (Genie's look-alikes live in shim/lookalike/, never in lib/)
for f in "$out"/lib/*; do
    if is_cuda "$(basename "$f")"; then echo "bundle.sh: FAIL: CUDA library $f is packed" >&2; fail=1; fi
done
# 2. ldd: every non-CUDA library of every ELF resolves inside the bundle or is glibc/libstdc++
nelf=0
while read -r f; do
    nelf=$((nelf + 1))
    while read -r name arrow path _; do
        [ "$arrow" = "=>" ] || continue
        is_cuda "$name" && continue
        if [ "$path" = "not" ]; then
            echo "bundle.sh: FAIL: ${f#"$out"/}: $name not found" >&2; fail=1
        elif ! is_system "$name"; then
            case "$path" in
            "$out"/*) ;; # the loader's path, e.g. $out/remote/../lib/libgrpc.so.29
            *) echo "bundle.sh: FAIL: ${f#"$out"/}: $name resolves outside the bundle: $path" >&2; fail=1 ;;
            esac
        fi
    done < <(env -u LD_LIBRARY_PATH ldd "$f" 2>&1)
done < <(elfs)
# 3. size
bytes=$(du -sb "$out" | cut -f1)
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
if [ "$bytes" -gt $((max_mib * 1048576)) ]; then
    echo "bundle.sh: FAIL: THE BUNDLE IS $mib MiB, ABOVE THE LIMIT OF $max_mib MiB" >&2
    echo "bundle.sh: (the device machine carries 64 MiB in all; largest files:)" >&2
    find "$out" -type f -printf '%s %P\n' | sort -rn | head -5 | awk '{ printf "  %8.1f MiB  %s\n", $1/1048576, $2 }' >&2
    fail=1
fi
# 4. symbol versions required from glibc and libstdc++ (undefined symbols only)
vers=$(elfs | while read -r f; do # "PREFIX VERSION FILE" for every version an ELF requires
    objdump -T "$f" 2>/dev/null | awk -v f="${f#"$out"/}" '/\*UND\*/ && match($0, /\((GLIBC|GLIBCXX|CXXABI)_[0-9][0-9.]*\)/) {
        v = substr($0, RSTART + 1, RLENGTH - 2); p = v; sub(/_.*/, "", p); sub(/^[A-Z]+_/, "", v); print p, v, f }' | sort -u
done)
maxver() { # PREFIX -> "version file" of the newest one required
    echo "$vers" | awk -v p="$1" '$1 == p { print $2, $3 }' | sort -V | tail -1
}
glibc=$(maxver GLIBC) glibcxx=$(maxver GLIBCXX) cxxabi=$(maxver CXXABI)
glibc_v=${glibc%% *}
glibc_warn=
if [ -n "$glibc_v" ] && [ "$(printf '%s\n%s\n' "$glibc_v" "$glibc_ok" | sort -V | tail -1)" != "$glibc_ok" ]; then
    glibc_warn="WARNING: the bundle requires GLIBC_$glibc_v (${glibc#* }), newer than $glibc_ok (Ubuntu 22.04): it will not load on a host with an older glibc"
fi

# ---- MANIFEST.txt
arch=$(strings -a "$out/tests/workloads/saxpy" 2>/dev/null | grep -o 'sm_[0-9]*[a-z]*' | sort -u | tr '\n' ' ' || true)
{
    echo "Genie bundle (scripts/bundle.sh)"
    echo "made:      $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname) ($(. /etc/os-release && echo "$PRETTY_NAME"), $(ldd --version | head -1 | awk '{print "glibc " $NF}'))"
    echo "source:    $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$src" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
    echo "build:     $build"
    echo "size:      $mib MiB ($bytes bytes)"
    echo "requires:  GLIBC_${glibc_v:-none} (${glibc#* }), GLIBCXX_${glibcxx%% *} (${glibcxx#* }), CXXABI_${cxxabi%% *}; libstdc++.so.6, libgcc_s.so.1 and glibc from the host"
    echo "cuda:      from the host: libcuda.so.1 (driver), libcudart.so.13, libcublas.so.13, libcublasLt.so.13; workloads carry SASS/PTX for: ${arch:-?}"
    echo
    echo "files:"
    find "$out" -type f ! -name .genie-bundle -printf '%s %P\n' | sort -k2 | awk '{ printf "  %10d  %s\n", $1, $2 }'
    echo
    echo "lib/ comes from:"
    # which Debian package holds each file: one dpkg call for all (each costs a fraction of a second)
    declare -A owner=()
    paths=()
    for name in "${!packed[@]}"; do paths+=("${packed[$name]}" "$(realpath "${packed[$name]}")"); done
    while IFS= read -r line; do
        owner[${line#*: }]=${line%%:*}
    done < <(command -v dpkg >/dev/null && dpkg -S "${paths[@]}" 2>/dev/null || true)
    declare -A version=()
    # shellcheck disable=SC2046 # one word per package name
    while read -r pkg ver; do version[$pkg]=$ver; done < <(
        [ ${#owner[@]} -gt 0 ] && dpkg-query -W -f='${Package} ${Version}\n' $(printf '%s\n' "${owner[@]}" | sort -u) 2>/dev/null || true)
    for name in $(printf '%s\n' "${!packed[@]}" | sort); do
        real=$(realpath "${packed[$name]}")
        pkg=${owner[$real]:-${owner[${packed[$name]}]:-}}
        echo "  $name  <- $real${pkg:+  ($pkg ${version[$pkg]:-})}"
    done
} >"$out/MANIFEST.txt"

# ---- summary
echo "bundle.sh: $out"
echo "  size:      $mib MiB (limit $max_mib MiB), $(find "$out" -type f | wc -l) files, $nelf ELF, ${#packed[@]} libraries in lib/"
echo "  programs:  shim/libgenie.so shim/libgenie_grpc.so remote/genie-remote bench/micro/micro tests/workloads/{$(cd "$out/tests/workloads" && ls | tr '\n' ',' | sed 's/,$//')}"
echo "  glibc:     requires GLIBC_${glibc_v:-none} at most (e.g. ${glibc#* }; Ubuntu 22.04 has $glibc_ok); GLIBCXX_${glibcxx%% *}, CXXABI_${cxxabi%% *}"
if [ -n "$glibc_warn" ]; then
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    echo "bundle.sh: $glibc_warn" >&2
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
fi
if [ $fail != 0 ]; then
    echo "bundle.sh: FAILED (see above); the bundle in $out is not usable" >&2
    exit 1
fi
echo "  ldd:       every non-CUDA library resolves inside the bundle or to glibc/libstdc++"
echo "  next:      carry it to the GPU host and run scripts/device-validate.sh OUTDIR there"
