"""check_uncovered.py — a library Genie does not cover fails loudly, naming itself and the call.

Run under the shim (tests/torch/run.sh check_uncovered.py; run.sh then requires the log lines):
  - torch.fft goes through cuFFT, which carries its own CUDA runtime and initialises through the
    driver's private export tables: the call must fail (PyTorch raises), and Genie must have
    logged, at the default level, that libcufft asked for cuGetExportTable, with its frames;
  - a cuDNN call Genie denies (cudnnCreateFilterDescriptor, called here through ctypes) must
    return CUDNN_STATUS_NOT_SUPPORTED (3000) and be logged with its name and caller.
Exit 0 when both calls failed as they should (the log lines are run.sh's to check).
"""
import ctypes
import sys

import torch


def main():
    x = torch.randn(16).cuda()
    try:
        torch.fft.fft(x).cpu()
        print("FAIL torch.fft.fft succeeded: cuFFT is not covered by Genie, it cannot have run")
        return 1
    except RuntimeError as e:
        print(f"torch.fft.fft failed as it should: {str(e)[:120]}")
    p = ctypes.c_void_p()
    st = ctypes.CDLL(None).cudnnCreateFilterDescriptor(ctypes.byref(p))
    if st != 3000:
        print(f"FAIL cudnnCreateFilterDescriptor returned {st}, want 3000 (NOT_SUPPORTED)")
        return 1
    print("cudnnCreateFilterDescriptor refused as it should")
    return 0


if __name__ == "__main__":
    sys.exit(main())
