#!/usr/bin/env bash
# torch-imports.sh — lists every cudart/cuBLAS/cuBLASLt symbol a stock PyTorch CUDA wheel imports.
#
#   scripts/torch-imports.sh [--version V] [--out FILE] [--wheel FILE]
#     --version V  torch version on PyPI (default 2.11.0: its Linux x86_64 wheel is CUDA 13.0)
#     --out FILE   where to write the list (default protocol/api/torch_imports.txt)
#     --wheel FILE use this wheel instead of downloading one
#   Downloads the manylinux_2_28_x86_64 cp312 wheel with pip into GENIE_WHEEL_CACHE (default
#   ~/.cache/genie/wheels; kept out of the repo: it is over 500 MB), unzips only torch/lib/*.so*,
#   and writes one line per imported symbol, sorted: `symbol@VERSION_NODE lib...` where lib...
#   are the torch libraries that import it. Needs the network only to download the wheel; the
#   tests read the committed list and never run this.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C # a sort order that does not depend on the locale: the list is committed

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
version=2.11.0
out=protocol/api/torch_imports.txt
wheel=
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help) usage; exit 0 ;;
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --wheel) wheel=${2:?--wheel needs a value}; shift 2 ;;
    *) echo "torch-imports.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
for tool in readelf unzip awk sort; do
    command -v "$tool" >/dev/null || { echo "torch-imports.sh: needs $tool" >&2; exit 2; }
done

# The version nodes of the CUDA 13 libraries (each exports all its symbols at one node named
# after its SONAME; readelf -V of the real libraries shows it).
nodes='libcudart.so.13|libcublas.so.13|libcublasLt.so.13'

if [ -z "$wheel" ]; then
    cache=${GENIE_WHEEL_CACHE:-$HOME/.cache/genie/wheels}
    mkdir -p "$cache"
    # the GPU hosts run Python 3.12; the Linux x86_64 wheel on PyPI is the CUDA build
    wheel=$(ls "$cache"/torch-"$version"-cp312-cp312-manylinux_2_28_x86_64.whl 2>/dev/null || true)
    if [ -z "$wheel" ]; then
        command -v pip >/dev/null || { echo "torch-imports.sh: needs pip to download" >&2; exit 2; }
        pip download --no-deps "torch==$version" --platform manylinux_2_28_x86_64 \
            --python-version 3.12 --only-binary=:all: -d "$cache" >&2
        wheel=$(ls "$cache"/torch-"$version"-cp312-cp312-manylinux_2_28_x86_64.whl)
    fi
fi
[ -f "$wheel" ] || { echo "torch-imports.sh: no wheel $wheel" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Say which CUDA the wheel was built for: a list from a CUDA 12 wheel would name .so.12 nodes.
cuda=$(unzip -p "$wheel" '*.dist-info/METADATA' | sed -n 's/^Requires-Dist: cuda-toolkit[^;=]*==\([0-9.]*\).*/\1/p' | head -1)
unzip -q -o "$wheel" 'torch/lib/*.so*' -d "$tmp"

: >"$tmp/pairs"
for so in "$tmp"/torch/lib/*.so*; do
    lib=$(basename "$so")
    # UND symbols whose version names one of the three libraries: "name@node (n)"
    readelf --dyn-syms -W "$so" | awk -v lib="$lib" -v nodes="^($nodes)\$" '
        $7 == "UND" && $8 ~ /@/ {
            split($8, a, "@"); if (a[2] ~ nodes) print a[1] "@" a[2], lib
        }' >>"$tmp/pairs"
done
[ -s "$tmp/pairs" ] || { echo "torch-imports.sh: no CUDA 13 imports in $wheel (not a cu13 wheel?)" >&2; exit 1; }

{
    echo "# torch_imports.txt — cudart/cuBLAS/cuBLASLt symbols imported by $(basename "$wheel") (PyPI; CUDA ${cuda:-?} per its METADATA)."
    echo "# Written by scripts/torch-imports.sh (pip download, then readelf --dyn-syms -W of torch/lib/*.so*: UND symbols"
    echo "# at the version nodes libcudart.so.13, libcublas.so.13, libcublasLt.so.13); do not edit by hand."
    echo "# symbol@VERSION_NODE library-that-imports-it..."
    sort -u "$tmp/pairs" | awk '
        $1 != cur { if (cur != "") print line; cur = $1; line = $1 }
        { line = line " " $2 }
        END { if (cur != "") print line }'
} >"$out.tmp"
mv "$out.tmp" "$out"
for n in libcudart.so.13 libcublas.so.13 libcublasLt.so.13; do
    printf '%s: %d symbols\n' "$n" "$(grep -c "@$n " "$out" || true)" >&2
done
