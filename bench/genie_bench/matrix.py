"""matrix.py — the baselines and the workloads, and which cells of their product can run here."""
import importlib.util

GENIE = ["capture-only", "local-remote", "naive-remote", "no-semantics", "full"]
RPC = ["torch-rpc-stateless", "torch-rpc-stateful"]
RAY = ["ray-stateless", "ray-stateful"]
BASELINES = ["local"] + GENIE + RPC + RAY
GROUPS = {"torch-rpc": RPC, "ray": RAY, "genie": GENIE, "all": BASELINES}

BASELINE_DOC = {
    "local": "the program with no shim",
    "capture-only": "the shim with the in-process executor (GENIE_REMOTE=local)",
    "local-remote": "the shim against genie-remote on this host over TCP loopback",
    "naive-remote": "the shim waiting for a reply after every recorded call "
                    "(GENIE_NAIVE=1, GENIE_SEMANTICS=0), over the link under test",
    "no-semantics": "the link under test with GENIE_SEMANTICS=0",
    "full": "the link under test with every semantic pass on",
    "torch-rpc-stateless": "torch.distributed.rpc worker holds the model; the client keeps the "
                           "KV cache and ships it every step",
    "torch-rpc-stateful": "torch.distributed.rpc worker holds the model and the KV cache; the "
                          "client sends token ids",
    "ray-stateless": "a Ray actor holds the model; the client keeps the KV cache",
    "ray-stateful": "a Ray actor holds the model and the KV cache",
}

STATEFUL_WORKLOADS = {"decode", "prefill"}


class Workload:
    """One row of the matrix: a workload on one back end.

    C back ends name a program of tests/workloads, its arguments (quick, full), the line of
    its output that gives the timed value and the marks (GENIE_BENCH_MARKS) around it, and the
    output line that is checksummed. Torch back ends are run by genie_bench.torch_worker."""

    def __init__(self, name, backend, metric, unit_doc, **kw):
        self.name = name
        self.backend = backend
        self.metric = metric
        self.unit_doc = unit_doc
        self.__dict__.update(kw)

    @property
    def key(self):
        return f"{self.name}/{self.backend}"

    def args(self, quick):
        return self.quick_args if quick else self.full_args


WORKLOADS = [
    Workload("decode", "cuda-c", "ms_per_token", "time per generated token (ms), KV cache on",
             prog="minigpt", value_key="decode_ms_per_step", marks=("prefill", "decode"),
             checksum_prefix="generated:",
             quick_args=["--gen", "8"],
             full_args=["--config", "gpt2-small", "--prompt", "64", "--gen", "32", "--no-check"],
             sizes={True: "minigpt tiny: d 128, 2 layers, 4 heads, vocab 512, prompt 16, 8 steps",
                    False: "minigpt gpt2-small: d 768, 12 layers, 12 heads, vocab 50257, "
                           "prompt 64, 32 steps"}),
    Workload("prefill", "cuda-c", "ttft_ms", "time to first token (ms)",
             prog="minigpt", value_key="prefill_ms", marks=("start", "prefill"),
             checksum_prefix="generated:",
             quick_args=["--prompt", "48", "--ctx", "64", "--gen", "1"],
             full_args=["--config", "gpt2-small", "--prompt", "512", "--gen", "1", "--no-check"],
             sizes={True: "minigpt tiny, prompt 48", False: "minigpt gpt2-small, prompt 512"}),
    Workload("cnn-b1", "cuda-c", "ms_per_batch", "batch latency (ms), batch 1",
             prog="minicnn", value_key="forward_ms", marks=("start", "forward"),
             checksum_prefix="classes:",
             quick_args=["--batch", "1"],
             full_args=["--config", "resnet50", "--batch", "1", "--no-check"],
             sizes={True: "minicnn tiny: 32x32, width 8, 1-1-1-1 blocks",
                    False: "minicnn resnet50: 224x224, width 64, 3-4-6-3 blocks"}),
    Workload("cnn-b8", "cuda-c", "ms_per_batch", "batch latency (ms), batch 8",
             prog="minicnn", value_key="forward_ms", marks=("start", "forward"),
             checksum_prefix="classes:",
             quick_args=["--batch", "8"],
             full_args=["--config", "resnet50", "--batch", "8", "--no-check"],
             sizes={True: "minicnn tiny, batch 8", False: "minicnn resnet50, batch 8"}),
    Workload("vqa", "cuda-c", "ms_per_query", "latency per query batch (ms)",
             prog="twobranch", value_key="forward_ms", marks=("start", "forward"),
             checksum_prefix="answers:",
             quick_args=[], full_args=["--config", "clip-vqa", "--no-check"],
             sizes={True: "twobranch tiny: 32x32, DV 64, 2+2 layers, batch 2",
                    False: "twobranch clip-vqa: 224x224/16, DV 768, DT 512, batch 8"}),
    Workload("decode", "torch", "ms_per_token", "time per generated token (ms), KV cache on",
             sizes={True: "GPT-2 2 layers x 128, vocab 1024, prompt 16, 8 tokens",
                    False: "GPT-2 small 12 layers x 768, vocab 50257, prompt 64, 32 tokens"}),
    Workload("prefill", "torch", "ttft_ms", "time to first token (ms)",
             sizes={True: "GPT-2 2 layers x 128, prompt 64", False: "GPT-2 small, prompt 512"}),
    Workload("cnn-b1", "torch", "ms_per_batch", "ResNet-50 batch latency (ms), batch 1",
             sizes={True: "ResNet-50, 64x64 images", False: "ResNet-50, 224x224 images"}),
    Workload("cnn-b8", "torch", "ms_per_batch", "ResNet-50 batch latency (ms), batch 8",
             sizes={True: "ResNet-50, 64x64 images", False: "ResNet-50, 224x224 images"}),
    Workload("vqa", "torch", "ms_per_query", "CLIP-style VQA latency per query (ms)",
             sizes={True: "CLIP 2+2 layers x 128, 64x64/16 image, 16 tokens",
                    False: "CLIP ViT-B/16 (12 x 768) + text 12 x 512, 224x224, 32 tokens"}),
    Workload("micro", "torch", "ms", "GEMM / elementwise / H2D sweep (ms per point)",
             sizes={True: "GEMM 64..512, elementwise 2^12..2^20, H2D 4 KiB..4 MiB",
                    False: "GEMM 64..2048, elementwise 2^12..2^24, H2D 4 KiB..64 MiB"}),
]

WORKLOAD_NAMES = ["decode", "prefill", "cnn-b1", "cnn-b8", "vqa", "micro"]
# cuDNN does not pass through the shim yet: these run with it off in every baseline
CUDNN_OFF = {"cnn-b1", "cnn-b8", "vqa"}


def expand(names, universe, groups=None, what="name"):
    out = []
    for n in names.split(","):
        n = n.strip()
        if not n:
            continue
        if groups and n in groups:
            out += [x for x in groups[n] if x not in out]
        elif n in universe:
            if n not in out:
                out.append(n)
        else:
            raise SystemExit(f"genie-bench: unknown {what} '{n}' (one of {', '.join(universe)})")
    return out


def have(mod):
    return importlib.util.find_spec(mod) is not None
