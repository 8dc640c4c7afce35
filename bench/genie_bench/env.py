"""env.py — where Genie's build products are, what this host has, and each process's environment."""
import glob
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Paths:
    """The products of a build directory (or of a bundle: the same layout)."""

    def __init__(self, build):
        self.build = os.path.abspath(build)
        b = self.build
        self.shim = f"{b}/shim/libgenie.so"
        self.lookalike = f"{b}/shim/lookalike"
        self.remote = f"{b}/remote/genie-remote"
        self.fake = f"{b}/tests/fakegpu/libgenie_fakecuda.so"
        self.fakeblas = f"{b}/tests/fakegpu/blas/libgenie_fakecublas.so"
        self.workloads = f"{b}/tests/workloads"
        self.relay = f"{b}/bench/relay/genie-relay"

    def missing(self):
        return [p for p in (self.shim, self.remote) if not os.path.exists(p)]


def find_build(arg):
    for cand in (arg, os.environ.get("GENIE_BUILD"), os.path.join(REPO, "build"), "build"):
        if cand and os.path.exists(os.path.join(cand, "shim", "libgenie.so")):
            return Paths(cand)
    return Paths(arg or os.path.join(REPO, "build"))


def has_gpu():
    """A real NVIDIA GPU with a driver on this host."""
    if os.environ.get("GENIE_BENCH_FORCE_NO_GPU") == "1":
        return False
    if not glob.glob("/dev/nvidia[0-9]*"):
        return False
    return shutil.which("nvidia-smi") is not None


def fake_model_label(model):
    """'simulated <GPU name>' for a fake GPU device-time model (h100, h200, a100 or a model
    file's path, as GENIE_FAKE_GPU_MODEL takes), None for none. The name is the model file's
    own (tests/fakegpu/models/*.model), as the fake GPU prints it."""
    if not model or model == "none":
        return None
    path = model if os.sep in model else os.path.join(REPO, "tests", "fakegpu", "models",
                                                          f"{model}.model")
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.partition("=")
                if k.strip() == "name":
                    return "simulated " + v.split("#", 1)[0].strip()
    except OSError:
        pass
    return f"simulated {model}"


def gpu_info():
    if not has_gpu():
        return {"gpu": "none", "driver": "none"}
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20).stdout.strip().splitlines()[0]
        name, drv = (s.strip() for s in out.split(",", 1))
        return {"gpu": name, "driver": drv}
    except Exception as e:  # noqa: BLE001 - recorded, not fatal
        return {"gpu": f"unknown ({e})", "driver": "unknown"}


def cuda_lib_dir():
    return os.path.join(os.environ.get("GENIE_CUDA_ROOT", "/usr/local/cuda"), "lib64")


def torch_lib_dir():
    spec = importlib.util.find_spec("torch")
    if spec is None:
        return None
    return os.path.join(os.path.dirname(spec.origin), "lib")


def torch_stubs(cache):
    """Stand-ins for the CUDA libraries a stock torch wheel needs and no one provides here
    (tests/torch/make_stubs.sh); None: torch missing. Made once per torch wheel under `cache`
    (the build directory: reading torch's import lists takes 10-60 s on a loaded 2-core
    machine), into a directory of their own that is renamed into place, so two runs at once
    never see half of it."""
    lib = torch_lib_dir()
    if lib is None:
        return None
    key = hashlib.sha1(f"{lib} {module_version('torch')}".encode()).hexdigest()[:12]
    out = os.path.join(cache, "torch-stubs", key)
    if not os.path.isdir(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=key + ".", dir=os.path.dirname(out))
        try:
            subprocess.run([os.path.join(REPO, "tests/torch/make_stubs.sh"), lib, tmp],
                           check=True, stdout=subprocess.DEVNULL, timeout=300)
            try:
                os.rename(tmp, out)
            except OSError:  # another run put its copy there first: use that one
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def module_version(name):
    spec = importlib.util.find_spec(name)
    if spec is None:
        return "not installed"
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001
        return "installed (version unknown)"


def git_commit():
    try:
        c = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "-uno"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return c + ("+dirty" if dirty else "") if c else "unknown"
    except Exception:  # noqa: BLE001
        return "unknown"


def nvcc_version():
    nv = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    try:
        out = subprocess.run([nv, "--version"], capture_output=True, text=True, timeout=20).stdout
        return out.strip().splitlines()[-1]
    except Exception:  # noqa: BLE001
        return "not found"


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "host": platform.node(),
        "kernel": platform.release(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "cuda_toolkit": nvcc_version(),
        "torch": module_version("torch"),
        "torchvision": module_version("torchvision"),
        "transformers": module_version("transformers"),
        "ray": module_version("ray"),
        "scipy": module_version("scipy"),
        "genie_commit": git_commit(),
    }
    info.update(gpu_info())
    return info
