#!/usr/bin/env bash
# run.sh — stock PyTorch through libgenie.so on the fake GPU (GENIE_REMOTE=local, or a
# genie-remote of its own on a unix socket with GENIE_TORCH_REMOTE=unix, or the genie-remote at
# GENIE_TORCH_REMOTE=unix:/path or host:port, started beforehand).
#
#   GENIE_BUILD=build tests/torch/run.sh [SCRIPT [ARGS...]]
#
# SCRIPT defaults to test_torch_fake.py; with a trace_*.py script the fake GPU runs PyTorch's
# kernels as no-ops (GENIE_FAKE_UNKNOWN_KERNELS=noop: values garbage, call counts real) and
# the script's exit status is the verdict (77: skipped); habits.py and resnet_flush.py likewise.
# Any call Genie refuses fails the run.
#
# Prints "SKIPPED: torch not installed" and exits 0 when `python3 -c 'import torch'` fails
# (CI installs no torch; scripts/setup.sh --torch does). Otherwise runs test_torch_fake.py with
# the shim preloaded and the look-alikes (libcudart/libcublas/libcublasLt.so.13, libcuda.so.1,
# libnvidia-ml.so.1) first on LD_LIBRARY_PATH, the other CUDA libraries from the toolkit, and
# stand-ins for the three the toolkit lacks (tests/torch/make_stubs.sh). No nvidia-* wheel.
set -euo pipefail
. "$(dirname "$0")/../lib/wait.sh"
here=$(cd "$(dirname "$0")" && pwd)
script=${1:-test_torch_fake.py}
[ $# -gt 0 ] && shift
[ -f "$here/$script" ] || { echo "run.sh: no script $here/$script" >&2; exit 2; }
noop=
# habits.py checks copies, cuBLAS and torch.compile's failure, never a value of PyTorch's kernels;
# a trace_*.py script counts calls and never reads a value of PyTorch's kernels either
case "$script" in trace_*.py | habits.py | resnet_flush.py) noop=noop ;; esac
build=${GENIE_BUILD:?set GENIE_BUILD to the build directory}
build=$(cd "$build" && pwd) # absolute: LD_PRELOAD must hold in every child process
py=${PYTHON:-python3}
if ! "$py" -c 'import torch' >/dev/null 2>&1; then
    # without the CUDA libraries on the path a CUDA wheel does not import either: only a
    # missing module counts as "not installed"
    if ! "$py" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)'; then
        echo "SKIPPED: torch not installed (scripts/setup.sh --torch installs it)"
        exit 0
    fi
fi
cuda_lib=${GENIE_CUDA_ROOT:-/usr/local/cuda}/lib64
torch_lib=$("$py" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("torch").origin), "lib"))')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/make_stubs.sh" "$torch_lib" "$tmp/stubs"

shim=$build/shim/libgenie.so
fake=$build/tests/fakegpu/libgenie_fakecuda.so
fakeblas=$build/tests/fakegpu/blas/libgenie_fakecublas.so
fakednn=$build/tests/fakegpu/dnn/libgenie_fakecudnn.so
for f in "$shim" "$fake" "$fakeblas" "$fakednn" "$build/shim/lookalike/libcuda.so.1"; do
    [ -e "$f" ] || { echo "run.sh: missing $f" >&2; exit 2; }
done
preload=$shim
if ldd "$shim" | grep libasan >/dev/null; then
    preload="$(gcc -print-file-name=libasan.so):$shim" # a sanitizer build: its runtime first
    # LeakSanitizer off whatever the caller asked (scripts/test.sh turns it on for the tree):
    # CPython and torch keep their own allocations to exit; a later option wins
    export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0}:detect_leaks=0
fi
# GENIE_TORCH_REMOTE=unix: against a genie-remote of its own on a unix socket (a gRPC connection
# in the Python process, as a user's), instead of the in-process executor
target=local
server_pid=
if [ "${GENIE_TORCH_REMOTE:-local}" = unix ]; then
    GENIE_CUDA_LIB=$fake GENIE_CUBLAS_LIB=$fakeblas GENIE_CUBLASLT_LIB=$fakeblas GENIE_CUDNN_LIB=$fakednn \
        GENIE_FAKE_UNKNOWN_KERNELS=$noop "$build/remote/genie-remote" --listen "unix:$tmp/g.sock" --port-file "$tmp/port" \
        >"$tmp/server.log" 2>&1 &
    server_pid=$!
    trap 'kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null; rm -rf "$tmp"' EXIT
    wait_for_port "$tmp/port" "$server_pid" || { echo "run.sh: genie-remote did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }
    target=unix:$tmp/g.sock
elif [ "${GENIE_TORCH_REMOTE:-local}" != local ]; then
    target=$GENIE_TORCH_REMOTE # an address: a genie-remote started beforehand (bench/flush.sh)
fi
set +e
LD_PRELOAD=$preload \
    LD_LIBRARY_PATH=$build/shim/lookalike:$tmp/stubs:$cuda_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    GENIE_REMOTE=$target GENIE_CUDA_LIB=$fake GENIE_CUBLAS_LIB=$fakeblas GENIE_CUBLASLT_LIB=$fakeblas GENIE_CUDNN_LIB=$fakednn \
    GENIE_STATS_FILE=$tmp/stats.json GENIE_FAKE_UNKNOWN_KERNELS=$noop \
    timeout "${GENIE_RUN_TIMEOUT:-300}" "$py" -W ignore "$here/$script" "$@" >"$tmp/out.txt" 2>&1
rc=$?
set -e
cat "$tmp/out.txt"
if [ "$script" = check_uncovered.py ]; then
    # the refusals must be in the log, at the default level, each naming library, call, caller
    [ $rc -eq 0 ] || { echo "run.sh: check_uncovered.py exited with $rc" >&2; exit 1; }
    grep -Eq 'warn: libcufft[^ ]* asked the CUDA driver for a private export table \(cuGetExportTable\).*\(called from .*libcufft' "$tmp/out.txt" ||
        { echo "run.sh: no log line names cuFFT and its call" >&2; exit 1; }
    grep -Eq 'warn: cudnnCreateFilterDescriptor is not supported by Genie; returning CUDNN_STATUS_NOT_SUPPORTED \(cuDNN\) \(called from ' "$tmp/out.txt" ||
        { echo "run.sh: no log line names the denied cuDNN call and its caller" >&2; exit 1; }
    echo "run.sh: check_uncovered.py OK"
    exit 0
fi
if [ "$script" != test_torch_fake.py ]; then
    [ $rc -eq 77 ] && exit 0 # the script printed SKIPPED
    if grep -q 'is not supported by Genie' "$tmp/out.txt"; then
        echo "run.sh: $script made calls Genie refuses (see the log lines above)" >&2
        exit 1
    fi
    [ $rc -eq 0 ] || { echo "run.sh: $script exited with $rc" >&2; exit 1; }
    echo "run.sh: $script OK"
    exit 0
fi
[ $rc -eq 0 ] || { echo "run.sh: test_torch_fake.py exited with $rc" >&2; exit 1; }
# the elementwise kernel's failure must name the kernel (the fake GPU's log line)
grep -Eq 'no CPU twin for kernel .*(CUDAFunctor_add|AddFunctor|FillFunctor|elementwise)' "$tmp/out.txt" ||
    { echo "run.sh: no log line names the kernel the fake GPU lacks" >&2; exit 1; }
echo "run.sh: torch on the fake GPU OK"
