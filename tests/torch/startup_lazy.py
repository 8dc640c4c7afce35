"""startup_lazy.py — importing torch under the shim registers fatbins and ships none (issue 14 item 5).

Run by tests/torch/run.sh startup_lazy.py, in-process (GENIE_REMOTE=local) and against a
genie-remote on a unix socket (GENIE_TORCH_REMOTE=unix). Reads the shim's counters
(genie_stats_json, exported by libgenie.so) after `import torch` and after the first CUDA op
(torch.ones(4, device='cuda').sum().item(); PyTorch's kernels run as no-ops):
- after the import: torch's fatbins and kernels are registered (hundreds, tens of thousands),
  and no module has been hashed, loaded or sent, no kernel's layout fetched, no module round
  trip made: registration keeps a pointer, nothing more;
- after the first op: kernels were launched, and only the modules of the kernels launched were
  loaded (at most one per kernel prepared), a small share of the registered bytes sent;
- gRPC never joins the global scope: no grpc_* symbol is found by dlsym(RTLD_DEFAULT) at either
  point (libgenie.so dlopens its gRPC client RTLD_LOCAL, and only when it connects: in local
  mode gRPC is not even mapped; over unix it is mapped after the first op).
Prints PASS/FAIL per check and the counters; exit 1 on any failure."""
import ctypes
import json
import os
import sys

import torch

_lib = ctypes.CDLL(None)
_lib.genie_stats_json.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
fails = []


def stats():
    buf = ctypes.create_string_buffer(1 << 20)
    if _lib.genie_stats_json(buf, len(buf)) != 0:
        raise SystemExit("genie_stats_json failed")
    return json.loads(buf.value.decode())


def check(name, ok, detail):
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
    if not ok:
        fails.append(name)


def grpc_global():
    """True when a gRPC symbol is visible in the global scope (every later lookup searches it)."""
    try:
        getattr(_lib, "grpc_init")
        return True
    except AttributeError:
        return False


def grpc_mapped():
    with open("/proc/self/maps") as f:
        return "libgrpc.so" in f.read()


KEYS = ("fatbins_registered", "fatbin_bytes_registered", "modules_hashed", "modules_loaded",
        "module_bytes_sent", "funcs_prepared", "rt_module", "launches")
remote = os.environ.get("GENIE_REMOTE", "local")

s = stats()
print("after import torch:", {k: s[k] for k in KEYS},
      "functions registered:", s["per_api"].get("__cudaRegisterFunction", 0), flush=True)
check("import_registers", s["fatbins_registered"] >= 100 and
      s["per_api"].get("__cudaRegisterFunction", 0) >= 1000 and s["fatbin_bytes_registered"] > 0,
      f"{s['fatbins_registered']} fatbins, {s['fatbin_bytes_registered']} bytes")
check("import_ships_nothing",
      all(s[k] == 0 for k in ("modules_hashed", "modules_loaded", "module_bytes_sent",
                              "funcs_prepared", "rt_module")),
      "no module hashed, loaded or sent, no layout fetched, no module round trip")
check("import_no_grpc_global", not grpc_global(), "dlsym(RTLD_DEFAULT, grpc_init) finds nothing")

torch.ones(4, device="cuda").sum().item()
t = stats()
print("after the first op:", {k: t[k] for k in KEYS}, flush=True)
check("first_op_launches", t["launches"] >= 1 and t["funcs_prepared"] >= 1,
      f"{t['launches']} launches, {t['funcs_prepared']} kernels prepared")
check("first_op_loads_only_needed",
      1 <= t["modules_loaded"] <= t["funcs_prepared"] and t["modules_hashed"] <= t["funcs_prepared"]
      and t["module_bytes_sent"] * 10 < t["fatbin_bytes_registered"],
      f"{t['modules_loaded']} of {t['fatbins_registered']} modules loaded for "
      f"{t['funcs_prepared']} kernels, {t['module_bytes_sent']} of "
      f"{t['fatbin_bytes_registered']} bytes sent")
check("first_op_no_grpc_global", not grpc_global(), "dlsym(RTLD_DEFAULT, grpc_init) finds nothing")
if remote == "local":
    check("local_no_grpc", not grpc_mapped(), "local mode: libgrpc.so is not mapped")
else:
    check("remote_grpc_private", grpc_mapped(), f"{remote}: libgrpc.so mapped, privately")

print("startup_lazy:", "FAIL " + ", ".join(fails) if fails else "OK", flush=True)
sys.exit(1 if fails else 0)
