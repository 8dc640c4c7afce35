"""habits.py — PyTorch habits that must not break under the shim (issue 14 item 6).

Run by tests/torch/run.sh habits.py, in-process (GENIE_REMOTE=local) and against genie-remote on
a unix socket (GENIE_TORCH_REMOTE=unix: the case where a gRPC connection must survive a fork):
- device_count: torch.cuda.device_count(), torch's own NVML count and NVML queried directly
  through ctypes (libnvidia-ml.so.1, Genie's look-alike) agree, and so do the device's name,
  memory size and UUID (nvidia-smi's columns; the UUID leads back to the index) and NVML's
  CUDA driver version with cudaDriverGetVersion;
- dataloader_fork: a DataLoader with two worker processes forked after CUDA is initialised
  (the workers use no CUDA), three epochs; then the parent's CUDA work still computes and
  syncs (its connection to the executor intact), and again after the workers have exited;
  then the same with pin_memory=True (the parent's pin-memory thread allocates page-locked
  memory while the workers run; the batches go to the device with non_blocking copies);
- compile: torch.compile of a function on a CUDA tensor either works or fails with a Python
  exception that says why (here: no Triton: TritonMissing), never a crash or a hang.
Prints PASS/FAIL per check; exit 1 on any failure."""
import ctypes
import os
import sys
import traceback

import torch

fails = []


def check(name):
    def run(fn):
        try:
            fn()
            print(f"PASS {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            fails.append(name)
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            traceback.print_exc()
        return fn

    return run


@check("device_count")
def _():
    n = torch.cuda.device_count()
    assert n >= 1, n
    nv = ctypes.CDLL("libnvidia-ml.so.1")
    assert nv.nvmlInit_v2() == 0
    cnt = ctypes.c_uint(0)
    assert nv.nvmlDeviceGetCount_v2(ctypes.byref(cnt)) == 0
    assert cnt.value == n, f"NVML says {cnt.value} devices, torch {n}"
    if hasattr(torch.cuda, "_device_count_nvml"):
        assert torch.cuda._device_count_nvml() == n, torch.cuda._device_count_nvml()
    for i in range(n):
        h = ctypes.c_void_p()
        assert nv.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(h)) == 0
        name = ctypes.create_string_buffer(96)
        assert nv.nvmlDeviceGetName(h, name, 96) == 0
        assert name.value.decode() == torch.cuda.get_device_name(i), \
            (name.value, torch.cuda.get_device_name(i))

        class Mem(ctypes.Structure):
            _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong),
                        ("used", ctypes.c_ulonglong)]
        m = Mem()
        assert nv.nvmlDeviceGetMemoryInfo(h, ctypes.byref(m)) == 0
        total = torch.cuda.get_device_properties(i).total_memory
        assert m.total == total, f"NVML total {m.total}, torch {total}"
        # what nvidia-smi prints beside name and memory: the UUID (torch's too) and the index
        uuid = ctypes.create_string_buffer(96)
        assert nv.nvmlDeviceGetUUID(h, uuid, 96) == 0
        tu = str(torch.cuda.get_device_properties(i).uuid)
        assert uuid.value.decode().removeprefix("GPU-") == tu.removeprefix("GPU-"), \
            (uuid.value, tu)
        h2, idx = ctypes.c_void_p(), ctypes.c_uint(99)
        assert nv.nvmlDeviceGetHandleByUUID(uuid, ctypes.byref(h2)) == 0
        assert nv.nvmlDeviceGetIndex(h2, ctypes.byref(idx)) == 0 and idx.value == i, idx.value
    # nvidia-smi's "CUDA Version" is the driver's, as cudaDriverGetVersion reports it to torch
    nvv, rtv = ctypes.c_int(0), ctypes.c_int(0)
    assert nv.nvmlSystemGetCudaDriverVersion_v2(ctypes.byref(nvv)) == 0
    assert ctypes.CDLL(None).cudaDriverGetVersion(ctypes.byref(rtv)) == 0
    assert nvv.value == rtv.value and nvv.value >= 13000, (nvv.value, rtv.value)
    nv.nvmlShutdown()


class Squares(torch.utils.data.Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        return torch.tensor([float(i), float(i * i), float(os.getpid())])


def cuda_sum(n):
    """4 x (0 + ... + n-1), by copies and a cuBLAS GEMM (the fake GPU runs none of PyTorch's
    own kernels: no CPU twins)."""
    x = torch.arange(n, dtype=torch.float32).reshape(-1, 1).cuda()
    w = torch.ones(1, 4).cuda()
    y = (x @ w).cpu()
    torch.cuda.synchronize()
    return float(y.sum())


@check("dataloader_fork")
def _():
    want = 4 * sum(range(100))
    assert cuda_sum(100) == want  # CUDA initialised, the connection up, before the fork
    dl = torch.utils.data.DataLoader(Squares(), batch_size=8, num_workers=2,
                                     multiprocessing_context="fork", persistent_workers=False)
    for epoch in range(3):
        got = torch.cat(list(dl))
        assert got.shape == (64, 3), got.shape
        assert float(got[:, 1].sum()) == sum(i * i for i in range(64)), epoch
        pids = {int(p) for p in got[:, 2].tolist()}
        assert len(pids) == 2 and os.getpid() not in pids, f"not two forked workers: {pids}"
        assert cuda_sum(100 + epoch) == 4 * sum(range(100 + epoch)), f"epoch {epoch}"
    del dl
    assert cuda_sum(1000) == 4 * sum(range(1000)), "after the workers exited"
    # pin_memory=True: the parent's pin-memory thread copies each batch into page-locked memory
    # (cudaHostAlloc from a thread of its own) while the forked workers produce them; the
    # batches then go to the device without blocking
    dl = torch.utils.data.DataLoader(Squares(), batch_size=8, num_workers=2,
                                     multiprocessing_context="fork", pin_memory=True)
    got = []
    for b in dl:
        assert b.is_pinned(), "pin_memory=True gave an unpinned batch"
        got.append(b.cuda(non_blocking=True))
    host = torch.cat([d.cpu() for d in got])  # copies only: PyTorch's kernels are no-ops here
    assert float(host[:, 1].sum()) == sum(i * i for i in range(64)), "pinned batches' values"
    del dl
    assert cuda_sum(10) == 4 * sum(range(10)), "after the pinned loader"


@check("compile")
def _():
    # in this process: a crash or a hang fails the whole run, as it would a user's program.
    # PyTorch's own kernels (torch.ones' fill) run as no-ops (run.sh sets it for habits.py, for
    # genie-remote too): what is tested is the compile path
    f = torch.compile(lambda x: (x * 2).sin())
    try:
        y = f(torch.ones(8, device="cuda"))
        torch.cuda.synchronize()
        print("COMPILED", tuple(y.shape))
    except Exception as e:  # noqa: BLE001 - the message is what is checked
        msg = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        print("RAISED", msg)
        # torch.compile's own reason (here: no Triton), not an error of the shim or the device
        low = msg.lower()
        assert "triton" in low or "inductor" in low or "compile" in low, msg


print(f"{3 - len(fails)} passed, {len(fails)} failed")
sys.exit(1 if fails else 0)
