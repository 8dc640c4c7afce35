#!/usr/bin/env python3
"""refused-calls.py — writes or checks docs/refused-calls.md: every call of the CUDA runtime,
cuBLAS and cuBLASLt tables (protocol/api/{cudart,cublas,cublaslt}.def) that Genie refuses (a
DENY row, or an alias of one), grouped under the reason it stays refused.

    scripts/refused-calls.py --write [DOC]   regenerate the document (default docs/refused-calls.md)
    scripts/refused-calls.py --check [DOC]   exit 1 when DOC differs from what --write would give

The reasons are the RULES below: the first pattern that matches a name gives its reason. A DENY
row that no rule matches is an error in both modes, so a row cannot be added without saying why
it is refused, and a row that becomes served drops out of the document (the CTest
test_refused_calls_doc runs --check)."""
import difflib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBS = [
    ("cudart.def", "CUDA runtime (`cuda_runtime_api.h`)", "cudaErrorNotSupported"),
    ("cublas.def", "cuBLAS (`cublas_api.h`)", "CUBLAS_STATUS_NOT_SUPPORTED"),
    ("cublaslt.def", "cuBLASLt (`cublasLt.h`)", "CUBLAS_STATUS_NOT_SUPPORTED"),
]

# (library file, name pattern (re.fullmatch), reason). Order matters: the first match wins.
RULES = [
    # ---------------------------------------------------------------- the runtime
    ("cudart.def", r"cudaIpc\w+",
     "Inter-process handles name memory and events of the GPU driver on the machine that "
     "holds the GPU, for another process there. Genie's client processes are on another "
     "machine and each has its own session: there is no process on the GPU host to share with."),
    ("cudart.def", r"cudaDevice(Enable|Disable)PeerAccess|cudaDeviceGetP2P\w+|cudaMemcpy3DPeer\w*",
     "Genie shows one device, so there is no peer (cudaMemcpyPeer between device 0 and itself "
     "is served as a device-to-device copy)."),
    ("cudart.def", r"cudaMallocAsync|cudaFreeAsync|cudaMallocFromPoolAsync|cudaMemPool\w+|"
     r"cuda(Device|Mem)(Get|Set)(Default)?MemPool|cudaDeviceGraphMemTrim|"
     r"cudaDevice(Get|Set)GraphMemAttribute|cudaGraph(Add)?Mem(Alloc|Free)Node\w*",
     "Stream-ordered allocation and memory pools: the client's allocator hands freed memory out "
     "again at once, and nothing on the wire would keep a later op of another stream off memory "
     "an earlier op still uses (docs/architecture.md). PyTorch uses these only with "
     "`PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync`; its default caching allocator uses "
     "cudaMalloc, which is served."),
    ("cudart.def", r"cudaMallocManaged|cudaMemPrefetch\w*|cudaMemDiscard\w*|cudaMemAdvise|"
     r"cudaMemRangeGetAttributes?|cudaStreamAttachMemAsync|cudaHostGetDevicePointer",
     "Managed and mapped memory: one address valid on the host and the device needs the GPU to "
     "fault pages in from, or map, this process's memory, and the GPU is on another machine."),
    ("cudart.def", r"cuda(Malloc|Free)(3D)?(Mipmapped)?Array|cudaGetMipmappedArrayLevel|"
     r"cuda(Mipmapped)?Array\w+|cudaMemcpy2D(To|From)Array\w*|cudaMemcpy2DArrayToArray|"
     r"cudaGetChannelDesc|cudaCreateChannelDesc|cuda\w*(Texture|Surface)\w*",
     "CUDA arrays, textures and surfaces: opaque objects with a layout only the driver knows, "
     "which Genie does not model (no use by PyTorch; the texture samples need all of them at "
     "once)."),
    ("cudart.def", r"cudaMalloc3D|cudaMemcpy3D|cudaMemcpy3DAsync|cudaMemset3D(Async)?|"
     r"cudaMemcpy(3D)?BatchAsync",
     "3D pitched and batched copies are not served yet; the 2D forms are (each row an ordinary "
     "copy, docs/architecture.md), and a 3D copy would be their slices. No use by PyTorch."),
    ("cudart.def", r"cudaGraphics\w+",
     "Graphics interop (OpenGL, Direct3D, Vulkan, EGL): the graphics API's resources live on "
     "this machine and the GPU on another."),
    ("cudart.def", r"cuda(Import|Destroy)External\w+|cudaExternalMemory\w+|"
     r"cuda(Signal|Wait)ExternalSemaphoresAsync|cudaGraph(Add)?ExternalSemaphores\w+|"
     r"cudaGraphExecExternalSemaphores\w+",
     "External memory and semaphores are imported from other APIs by operating-system handles "
     "of this machine, which mean nothing to the GPU host."),
    ("cudart.def", r"cudaDeviceFlushGPUDirectRDMAWrites",
     "GPUDirect RDMA concerns a third-party device on the GPU host's PCIe bus, which no client "
     "call can drive."),
    ("cudart.def", r"cudaDevice(Register|Unregister)AsyncNotification|cudaLogs\w+",
     "Callbacks and logs of the driver on the GPU host: the executor would have to call back "
     "into the client, which Genie's one request/reply stream does not do."),
    ("cudart.def", r"cudaDeviceGetHostAtomicCapabilities|cudaDeviceGetNvSciSyncAttributes",
     "Host-device atomics and NvSciSync are about the GPU's own host; the client is not it."),
    ("cudart.def", r"cudaSetValidDevices",
     "Genie shows one device: there is no list of devices to restrict."),
    ("cudart.def", r"cudaDeviceSetLimit",
     "Context limits (malloc heap, stack, printf FIFO, L2 persisting size) are not forwarded: "
     "with `--sessions threads` the executor's context is shared by every session, so one "
     "client's limit would change another's. cudaDeviceGetLimit answers the device's defaults."),
    ("cudart.def", r"cudaStream(Get|Set|Copy)Attributes?",
     "Stream attributes (access policy windows, synchronization policy, priority) are not kept "
     "per stream; the same attributes on a launch are dropped as hints (cudaLaunchKernelExC), "
     "but a Get would have to answer what was set."),
    ("cudart.def", r"cudaOccupancyMaxPotentialClusterSize|cudaOccupancyMaxActiveClusters",
     "Thread-block clusters larger than one block are refused at launch (cudaLaunchKernelExC), "
     "so their occupancy queries are too."),
    ("cudart.def", r"cudaOccupancyAvailableDynamicSMemPerBlock",
     "Not forwarded yet (the executor answers cudaOccupancyMaxActiveBlocksPerMultiprocessor and "
     "the function attributes; this one would be one more FUNC query). No use by PyTorch."),
    ("cudart.def", r"cudaStreamBeginCaptureToGraph|cudaStreamUpdateCaptureDependencies\w*",
     "Genie's graphs are the records of a plain single-stream capture (docs/architecture.md, "
     "CUDA graphs): capturing into an existing graph or editing a capture's dependencies has "
     "no node graph to act on."),
    ("cudart.def", r"cudaUserObject\w+|cudaGraph(Retain|Release)UserObject",
     "User objects run a destructor when the graph that holds them is destroyed, on the "
     "executor's side: it cannot call the client's function."),
    ("cudart.def", r"cudaGraph\w+|cudaDeviceGetGraphMemAttribute",
     "Graphs built or edited by hand and node queries: a Genie graph is the list of records of "
     "a stream capture, replayed by the executor; there are no node objects to add, query, "
     "update or print. Capture, instantiate, launch and destroy are served. PyTorch imports "
     "cudaGraphDebugDotPrint and cudaGraphNodeGetDependencies for debugging only."),
    ("cudart.def", r"cudaLibrary\w+|cudaKernelSetAttributeForDevice|cudaGetKernel|"
     r"cudaGetFuncBySymbol",
     "Context-independent loading (cudaLibrary_t, cudaKernel_t from a library) is not served: "
     "modules reach the executor through nvcc's registration (and cuModuleLoadData for "
     "driver-API code)."),
    ("cudart.def", r"cudaGetExportTable",
     "Private, undocumented tables of the runtime's internals (docs/architecture.md, why not "
     "the driver level)."),
    # ---------------------------------------------------------------- cuBLAS
    ("cublas.def", r"cublas(Get|Set)SmCountTarget|cublas(Get|Set)Emulation\w+|"
     r"cublas(Get|Set)FixedPointEmulation\w+",
     "Handle settings new in CUDA 13 (SM count target, floating-point emulation) that the "
     "client's handle mirror does not hold yet; PyTorch 2.11 does not call them."),
    ("cublas.def", r"cublasLoggerConfigure|cublas(Set|Get)LoggerCallback|cublasXerbla",
     "cuBLAS's logger and error hook run in the library, on the executor; they cannot write "
     "to the client's files or call the client's function."),
    ("cublas.def", r"cublasSetEnvironmentMode",
     "Not in a public header (CUDA 13.0's libcusolver imports it); exported so that cuSOLVER "
     "loads through the look-alikes, refused because its prototype is a guess."),
    ("cublas.def", r"cublas[SDCZ]?(rotg|rotmg)_v2|cublasRot(g|mg)Ex|cublas[SD]rotm_v2(_64)?|"
     r"cublasRotmEx(_64)?",
     "Scalars that are both read and written (rotg, rotmg) or a 5-element parameter array "
     "(rotm) have no argument descriptor in the table (SCALAR and RESULT hold one value of at "
     "most 16 bytes). PyTorch imports these names but calls none of them from its operators."),
    ("cublas.def", r"cublas(Nrm2|Dot|Dotc|Scal|Axpy|Copy|Swap|Iamax|Iamin|Asum|Rot)Ex(_64)?",
     "Level-1 calls with run-time data types (the Ex forms) other than cublasDotEx, which is "
     "served (torch.dot on fp16 and bf16 tensors; `blas64.cu`): no use by PyTorch and no test "
     "double computes them; the typed forms (cublasSaxpy, cublasDnrm2, ...) are served."),
    ("cublas.def", r"cublasC(gemm3m\w*|syrk3mEx\w*|herk3mEx\w*)|cublasZgemm3m\w*|"
     r"cublasC(gemm|syrk|herk)Ex(_64)?",
     "Complex Gauss (3m) and complex mixed-precision (CgemmEx, CsyrkEx, CherkEx) variants: no "
     "test double computes them; PyTorch uses cublasCgemm/Zgemm and cublasGemmEx."),
    ("cublas.def", r"cublas\w+GroupedBatched\w*",
     "Grouped batched GEMMs take per-group arrays of sizes and scalars in host memory, for "
     "which the table has no argument descriptor."),
    ("cublas.def", r"cublas[SDCZ](gb|tb|tp|sb|sp|hb|hp)\w+",
     "Banded and packed level-2 calls (gbmv, tbmv, tpmv, tbsv, tpsv, sbmv, spmv, hbmv, hpmv, "
     "spr, spr2, hpr, hpr2): no use by PyTorch and no test double; each would be one table row "
     "(its extents are VEC and COUNT forms) once the fake cuBLAS computes it."),
    ("cublas.def", r"cublas[SDCZ]gemv(Strided)?Batched(_64)?",
     "Batched GEMV: no use by PyTorch (it batches through GEMM) and no test double."),
    ("cublas.def", r"cublas[SDCZ]\w*_64",
     "The 64-bit-integer (_64) forms of calls whose 32-bit form is served: PyTorch 2.11 and the "
     "documentation examples call the 32-bit forms, and the fake cuBLAS the tests run on has no "
     "_64 form of these. The _64 forms it has are served (Sgemm, Dgemm, their batched and "
     "strided-batched forms, Sgemv, Saxpy, Sscal, Scopy, Sdot, Snrm2; `blas64.cu`), and so are "
     "those of the host/device copy helpers (they run on the client)."),
    ("cublas.def", r"cublasI[sdcz]am(ax|in)_v2_64",
     "The 64-bit-integer (_64) forms of the index searches (I?amax, I?amin): as above, their "
     "32-bit forms are served and the fake cuBLAS has no _64 form of them."),
    ("cublas.def", r"cublas[SDCZ](herkx|syrkx)|cublas[CZ]herkx|cublas[DCZ]geam|cublas[SDCZ]dgmm|"
     r"cublas[SDCZ](matinv|getri)Batched|cublas[SDCZ](tpttr|trttp)",
     "BLAS-like extensions with no use by PyTorch and no test double (syrkx, herkx, geam "
     "beyond Sgeam, dgmm, matinvBatched, getriBatched, tpttr, trttp)."),
    ("cublas.def", r"cublasUint8gemmBias",
     "A deprecated integer GEMM with no documentation of its arguments' layout."),
    # ---------------------------------------------------------------- cuBLASLt
    ("cublaslt.def", r"cublasLtHeuristicsCache(Get|Set)Capacity",
     "The library's heuristic cache is the executor's; the client keeps its own cache of "
     "answers (docs/architecture.md), whose size is not configurable."),
    ("cublaslt.def", r"cublasLtMatrixTransform\w*",
     "Matrix transforms (layout changes such as COL32 for IMMA kernels) are not forwarded: "
     "the client does not serialise transform descriptors yet, and PyTorch does not call them."),
    ("cublaslt.def", r"cublasLtEmulationDesc\w+",
     "Floating-point emulation descriptors, new in CUDA 13: not serialised by the client yet."),
    ("cublaslt.def", r"cublasLtLogger\w+",
     "cuBLASLt's logger runs in the library on the executor; it cannot write to the client's "
     "files or call the client's function."),
]

ROW = re.compile(r"^GENIE_API\((0x[0-9a-fA-F]+),\s*(\w+),\s*[^,]+,\s*(\w+),")
ALIAS = re.compile(r"^GENIE_ALIAS\((0x[0-9a-fA-F]+),\s*(\w+),\s*(\w+)\)")


def denied(path):
    """The names of the DENY rows of a .def, and of the aliases of those rows, in file order."""
    kinds, out = {}, []
    with open(path) as f:
        for line in f:
            m = ROW.match(line)
            if m:
                kinds[m.group(2)] = m.group(3)
                if m.group(3) == "DENY":
                    out.append(m.group(2))
                continue
            m = ALIAS.match(line)
            if m and kinds.get(m.group(3)) == "DENY":
                out.append(m.group(2))
    return out


def render():
    lines = [
        "# Calls Genie refuses",
        "",
        "<!-- Written by scripts/refused-calls.py from protocol/api/*.def; do not edit by hand:",
        "     edit the reasons in the script and run it with --write. The CTest",
        "     test_refused_calls_doc fails when this file is not what the script writes. -->",
        "",
        "Every call of CUDA 13's `cuda_runtime_api.h`, `cublas_api.h` and `cublasLt.h` is exported "
        "by `libgenie.so`; the ones below are refused by name. A refused call returns the status "
        "given per library, logs its name once at the default level with the caller's frames "
        "(docs/architecture.md, \"Refused calls name their caller\") and has no other effect. "
        "Each is listed under the reason it stays refused; a call that is served does not appear. "
        "cuDNN's refused calls and the driver API's are listed in docs/architecture.md (cuDNN) "
        "and `shim/driver_unsupported.def`.",
        "",
    ]
    missing, used = [], set()
    for lib, title, status in LIBS:
        names = denied(os.path.join(ROOT, "protocol", "api", lib))
        groups = []  # (reason, [names]) in rule order
        for name in names:
            base = re.sub(r"_(ptsz|ptds)$", "", name)  # an alias shares its target's reason
            for rlib, pat, reason in RULES:
                if rlib == lib and re.fullmatch(pat, base):
                    used.add(pat)
                    for g in groups:
                        if g[0] == reason:
                            g[1].append(name)
                            break
                    else:
                        groups.append((reason, [name]))
                    break
            else:
                missing.append(f"{lib}: {name}")
        order = {r: i for i, (_, _, r) in enumerate(RULES)}
        groups.sort(key=lambda g: order[g[0]])
        lines += [f"## {title}: {len(names)} calls, refused with `{status}`", ""]
        for reason, ns in groups:
            lines += [reason, "", ", ".join(f"`{n}`" for n in ns), ""]
    # a reason no refused call needs any more (the calls became served) goes too
    missing += [f"a rule that matches no refused call: {p}" for _, p, _ in RULES if p not in used]
    return "\n".join(lines), missing


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("--write", "--check"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    doc = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs", "refused-calls.md")
    text, missing = render()
    if missing:
        print("refused-calls: refused calls without a reason, or reasons without a call (edit "
              "the RULES of scripts/refused-calls.py):\n  " + "\n  ".join(missing),
              file=sys.stderr)
        return 1
    if sys.argv[1] == "--write":
        with open(doc, "w") as f:
            f.write(text)
        return 0
    try:
        with open(doc) as f:
            have = f.read()
    except OSError as e:
        print(f"refused-calls: {e}", file=sys.stderr)
        return 1
    if have != text:
        sys.stdout.writelines(difflib.unified_diff(have.splitlines(True), text.splitlines(True),
                                                   doc, "expected"))
        print(f"refused-calls: {doc} is stale; run scripts/refused-calls.py --write",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
