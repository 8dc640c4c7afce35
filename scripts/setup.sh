#!/usr/bin/env bash
# setup.sh — installs what Genie needs from Debian's packages and builds it into build/.
#
#   scripts/setup.sh [--no-install] [--asan] [--release] [--torch] [--bench] [--build-dir DIR]
#     --no-install   skip apt-get (the packages are already there)
#     --asan         also build an ASan+UBSan tree in build-asan/
#     --release      also build a Release tree (-O3, NDEBUG) in build-release/: what a user's
#                    default build is; no benchmarks, no CUDA test programs (CI's check that
#                    every standard build compiles)
#     --build-dir    where the normal build goes (default build)
#     --torch        also install the stock torch wheel (2.11.0, CUDA 13.0, ~530 MB; downloaded
#                    once into ~/.cache/genie/wheels, --no-deps: cudart/cuBLAS come from Genie)
#                    for tests/torch (CTest label torch), and transformers for the GPT-2
#                    trace; .ci/run uses it when it can
#     --bench        also install genie-bench (bench/, editable: the genie-bench command and
#                    python -m genie_bench) and what it needs from PyPI: numpy, scipy,
#                    matplotlib, tqdm, ray, and torchvision matching torch 2.11 (--no-deps: no
#                    nvidia-* wheels); a package that cannot be had is reported, not fatal
set -euo pipefail
cd "$(dirname "$0")/.."

install=1 asan=0 release=0 torch=0 bench=0 build=build
while [ $# -gt 0 ]; do
    case "$1" in
    --no-install) install=0 ;;
    --asan) asan=1 ;;
    --release) release=1 ;;
    --torch) torch=1 ;;
    --bench) bench=1 ;;
    --build-dir) build=$2; shift ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

PACKAGES=(build-essential cmake ninja-build pkg-config libgrpc-dev libcriterion-dev
          libunwind-14-dev libopenblas-dev libxxhash-dev libisal-dev
          patchelf clang) # patchelf: scripts/bundle.sh; clang: libFuzzer (tests/fuzz)
if [ $install = 1 ]; then
    missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup.sh: installing ${missing[*]}"
        SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH=/usr/local/cuda/bin:$PATH
fi
if ! command -v nvcc >/dev/null; then
    echo "setup.sh: nvcc not found: the CUDA 13 toolkit is needed to build the test programs" >&2
    exit 1
fi

if [ $torch = 1 ]; then
    TORCH_VERSION=2.11.0
    TRANSFORMERS_VERSION=5.24.0
    wheels=${GENIE_WHEEL_CACHE:-$HOME/.cache/genie/wheels}
    py=${PYTHON:-python3}
    tag=cp$("$py" -c 'import sys; print("%d%d" % sys.version_info[:2])')
    mkdir -p "$wheels"
    whl=$(ls "$wheels"/torch-"$TORCH_VERSION"-"$tag"-"$tag"-manylinux*_x86_64.whl 2>/dev/null | head -1 || true)
    if [ -z "$whl" ]; then
        echo "setup.sh: downloading torch $TORCH_VERSION for $tag into $wheels"
        "$py" -m pip download --no-deps -q -d "$wheels" "torch==$TORCH_VERSION"
        whl=$(ls "$wheels"/torch-"$TORCH_VERSION"-"$tag"-"$tag"-manylinux*_x86_64.whl | head -1)
    fi
    # --no-deps: no nvidia-* wheels; tests/torch/run.sh puts Genie's look-alikes first
    "$py" -m pip install --no-deps -q "$whl"
    echo "setup.sh: installed $(basename "$whl")"
    # Hugging Face transformers for the GPT-2 trace (tests/torch/trace_decode.py); the torch
    # tests that need it say SKIPPED without it, so a failed install is not fatal
    if ! "$py" -c 'import transformers' >/dev/null 2>&1; then
        "$py" -m pip install -q "transformers==$TRANSFORMERS_VERSION" ||
            echo "setup.sh: warning: transformers $TRANSFORMERS_VERSION not installed" >&2
    fi
fi

if [ $bench = 1 ]; then
    py=${PYTHON:-python3}
    TORCHVISION_VERSION=0.26.0 # the release made for torch 2.11
    for spec in numpy scipy matplotlib tqdm; do
        "$py" -c "import $spec" >/dev/null 2>&1 || "$py" -m pip install -q "$spec" ||
            echo "setup.sh: warning: $spec not installed (genie-bench needs it)" >&2
    done
    if ! "$py" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torchvision") is None)'; then
        "$py" -m pip install -q --no-deps "torchvision==$TORCHVISION_VERSION" ||
            echo "setup.sh: warning: torchvision not installed (the torch cnn cells will say so)" >&2
    fi
    if ! "$py" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("ray") is None)'; then
        "$py" -m pip install -q "ray==2.60.0" ||
            echo "setup.sh: warning: ray not installed (the ray cells will say so)" >&2
    fi
    "$py" -m pip install -q --no-deps -e bench || echo "setup.sh: warning: genie-bench not installed" >&2
fi

jobs=$(nproc)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGENIE_WERROR=ON >/dev/null
cmake --build "$build" -j "$jobs"
if [ $asan = 1 ]; then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGENIE_SANITIZE=ON -DGENIE_WERROR=ON >/dev/null
    cmake --build build-asan -j "$jobs"
fi
if [ $release = 1 ]; then
    cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENIE_WERROR=ON \
        -DGENIE_WITH_BENCH=OFF -DGENIE_WITH_CUDA_WORKLOADS=OFF >/dev/null
    cmake --build build-release -j "$jobs"
fi
echo "setup.sh: built into $build/"
