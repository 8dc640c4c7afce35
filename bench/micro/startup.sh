#!/usr/bin/env bash
# startup.sh — what the shim adds to `import torch` + the first CUDA op, against a plain `import torch`, in one run.
#
#   bench/micro/startup.sh [BUILD_DIR] [-n RUNS] [--modes plain,local,unix,...] [--base DIR] [--lookups]
#
# Runs, interleaved round by round (the machine is shared: a load spike then hits every mode
# of one round, not all runs of one), each mode RUNS times (default 7) and prints, per mode,
# the median wall time and the median CPU time (user + sys of the whole process) with the
# spread, then the shim's added time as a share of the plain import's, both ways. Modes:
#   plain   python3 -c 'import torch', no shim: the library path tests/torch/run.sh uses minus
#           the look-alikes (the toolkit's libcudart, the stubs of make_stubs.sh); torch cannot
#           touch CUDA there (no GPU, no driver), so the plain run is the import alone
#   local   the shim (LD_PRELOAD + look-alikes), GENIE_REMOTE=local, import + the first op
#           (torch.ones(4, device='cuda').sum().item(): a fill and a reduction kernel, one sync)
#   unix    the same against a genie-remote over a unix socket, started once for the run
#   import  the shim, import torch only (no CUDA call): the import's own share
#   path    no LD_PRELOAD, but tests/torch/run.sh's whole library path, look-alikes first: not
#           plain (torch then loads the look-alike libcudart.so.13, the whole shim), shown for
#           comparison; the import alone
#   grpc    no shim, libgrpc.so.29 preloaded: what 55 libraries in the global scope cost
#   base-local, base-unix   local and unix with the build in --base DIR (another commit's
#           build, its own genie-remote): before and after in the same run
# --lookups: then one more run per mode under LD_DEBUG=symbols, counting the dynamic loader's
# lookups in files (each is one object searched for one symbol): a count that does not depend
# on the machine's load, unlike the times (slow: 15-60 s a mode).
# Every process runs on the fake GPU (PyTorch's kernels as no-ops); times are this machine's,
# with its load, and only their ratios within one run mean anything.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/wait.sh
build=build
if [ $# -gt 0 ] && [ -d "$1" ]; then build=$1; shift; fi
build=$(cd "$build" && pwd)
runs=7 modes=plain,local,unix base= lookups=0
while [ $# -gt 0 ]; do
    case "$1" in
    -n) runs=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --base) base=$(cd "$2" && pwd); shift 2 ;;
    --lookups) lookups=1; shift ;;
    *) echo "startup.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
py=${PYTHON:-python3}
"$py" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)' ||
    { echo "startup.sh: torch is not installed (scripts/setup.sh --torch)" >&2; exit 2; }
torch_lib=$("$py" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("torch").origin), "lib"))')
tmp=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill $server_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
tests/torch/make_stubs.sh "$torch_lib" "$tmp/stubs" >/dev/null
export GENIE_CUDA_LIB=$build/tests/fakegpu/libgenie_fakecuda.so
export GENIE_CUBLAS_LIB=$build/tests/fakegpu/blas/libgenie_fakecublas.so
export GENIE_CUBLASLT_LIB=$GENIE_CUBLAS_LIB
export GENIE_CUDNN_LIB=$build/tests/fakegpu/dnn/libgenie_fakecudnn.so
export GENIE_FAKE_UNKNOWN_KERNELS=noop
[ -n "$base" ] && modes=$modes,base-local,base-unix
start_remote() { # BUILD NAME: a genie-remote on unix:$tmp/NAME.sock
    "$1/remote/genie-remote" --listen "unix:$tmp/$2.sock" --port-file "$tmp/$2.port" >"$tmp/$2.log" 2>&1 &
    server_pid="$server_pid $!"
    wait_for_port "$tmp/$2.port" $! ||
        { echo "startup.sh: genie-remote did not start" >&2; cat "$tmp/$2.log" >&2; exit 1; }
}
[[ ,$modes, == *,unix,* ]] && start_remote "$build" g
[[ ,$modes, == *,base-unix,* ]] && start_remote "$base" base
cuda_lib=${GENIE_CUDA_ROOT:-/usr/local/cuda}/lib64
LOOKUPS=$lookups BUILD=$build BASE=$base STUBS=$tmp/stubs CUDA_LIB=$cuda_lib TMP=$tmp RUNS=$runs MODES=$modes \
    "$py" - <<'EOF'
import os, statistics, subprocess, sys, time

env0 = dict(os.environ)
b, stubs, cuda = env0["BUILD"], env0["STUBS"], env0["CUDA_LIB"]
plain_path = f"{stubs}:{cuda}"
shim_path = f"{b}/shim/lookalike:{plain_path}"
first_op = "import torch; torch.ones(4, device='cuda').sum().item()"
modes = {
    "plain": ({"LD_LIBRARY_PATH": plain_path}, "import torch"),
    "grpc": ({"LD_LIBRARY_PATH": plain_path, "LD_PRELOAD": "libgrpc.so.29"}, "import torch"),
    "path": ({"LD_LIBRARY_PATH": shim_path, "GENIE_REMOTE": "local"}, "import torch"),
    "import": ({"LD_LIBRARY_PATH": shim_path, "LD_PRELOAD": f"{b}/shim/libgenie.so",
                "GENIE_REMOTE": "local"}, "import torch"),
    "local": ({"LD_LIBRARY_PATH": shim_path, "LD_PRELOAD": f"{b}/shim/libgenie.so",
               "GENIE_REMOTE": "local"}, first_op),
    "unix": ({"LD_LIBRARY_PATH": shim_path, "LD_PRELOAD": f"{b}/shim/libgenie.so",
              "GENIE_REMOTE": f"unix:{env0['TMP']}/g.sock"}, first_op),
}
if env0["BASE"]:
    a = env0["BASE"]
    modes["base-local"] = ({"LD_LIBRARY_PATH": f"{a}/shim/lookalike:{plain_path}",
                            "LD_PRELOAD": f"{a}/shim/libgenie.so", "GENIE_REMOTE": "local"}, first_op)
    modes["base-unix"] = ({"LD_LIBRARY_PATH": f"{a}/shim/lookalike:{plain_path}",
                           "LD_PRELOAD": f"{a}/shim/libgenie.so",
                           "GENIE_REMOTE": f"unix:{env0['TMP']}/base.sock"}, first_op)
want = env0["MODES"].split(",")
for m in want:
    if m not in modes:
        sys.exit(f"startup.sh: unknown mode {m}")
runs = int(env0["RUNS"])

def environ(mode):
    extra, code = modes[mode]
    env = dict(env0)
    for k in ("LD_PRELOAD", "LD_LIBRARY_PATH", "LD_DEBUG"):
        env.pop(k, None)
    env.update(extra)
    return env, code


def lookups(mode):
    """The dynamic loader's lookups in files, one process (LD_DEBUG=symbols on stderr)."""
    env, code = environ(mode)
    env["LD_DEBUG"] = "symbols"
    p = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    n = sum(1 for line in p.stderr if b"lookup in file" in line)
    if p.wait():
        sys.exit(f"startup.sh: mode {mode} failed under LD_DEBUG ({p.returncode})")
    return n


def once(mode):
    env, code = environ(mode)
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", code], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        sys.exit(f"startup.sh: mode {mode} failed ({p.returncode}):\n{err}")
    return wall, ru.ru_utime + ru.ru_stime

res = {m: [] for m in want}
once(want[0])  # warm the page cache: the first process of a run reads torch from disk
for r in range(runs):
    for m in want:
        res[m].append(once(m))
print(f"startup.sh: {runs} runs per mode, interleaved (median, min-max)")
med = {}
for m in want:
    w = [x[0] for x in res[m]]
    c = [x[1] for x in res[m]]
    med[m] = (statistics.median(w), statistics.median(c))
    print(f"  {m:10s} wall {med[m][0]:6.2f} s ({min(w):.2f}-{max(w):.2f})   "
          f"cpu {med[m][1]:6.2f} s ({min(c):.2f}-{max(c):.2f})")
if "plain" in med:
    pw, pc = med["plain"]
    for m in want:
        if m == "plain":
            continue
        w, c = med[m]
        print(f"  {m:10s} adds {100 * (w - pw) / pw:+6.1f}% wall, {100 * (c - pc) / pc:+6.1f}% cpu "
              f"to the plain import")
if env0["LOOKUPS"] == "1":
    print("lookups in files (LD_DEBUG=symbols, one run each; does not depend on the load):")
    n = {m: lookups(m) for m in want}
    for m in want:
        rel = f"  ({n[m] / n['plain']:.2f}x plain)" if "plain" in n and n["plain"] else ""
        print(f"  {m:10s} {n[m]:>11,d}{rel}")
EOF
