"""trace_clip.py — a CLIP-style model's forward through libgenie.so on the fake GPU, cuDNN enabled.

Run under the shim (tests/torch/run.sh trace_clip.py) with GENIE_FAKE_UNKNOWN_KERNELS=noop:
PyTorch's own kernels (layer norms, GELU, embeddings, softmax of the native paths) run as
no-ops, so VALUES are garbage and never checked here (tests/torch/test_sdpa.py and
test_cudnn.py check cuDNN's values); calls are counted. A transformers CLIPModel built from a
small CLIPConfig (no download: random weights; vision tower = patch convolution + encoder,
text tower = embeddings + causal encoder, both with scaled_dot_product_attention) runs
image + text forwards in fp32 and in fp16 (the dtype in which attention goes to cuDNN on
sm_90): a first forward (cuDNN's plans built) and N later ones, each ending with the
logits copied to the host.

Checks: no call is refused (run.sh), every forward runs the patch convolution through
cuDNN (cudnnBackendExecute), fp16 forwards run every attention layer through cuDNN
attention as well (fp32 attention: PyTorch's memory-efficient kernel, launched), and in the
steady state a forward costs exactly one round trip (the logits' copy) and no query. Prints the
figures per forward and one JSON line. Exit 0 pass, 1 fail, 77 skipped (no transformers).
"""
import argparse
import ctypes
import json
import sys
import time

import torch

KEYS = ("round_trips", "rt_sync", "rt_query", "rt_module", "batches", "launches",
        "ops_recorded", "bytes_sent", "bytes_received", "h2d_bytes", "d2h_bytes")
APIS = ("cudnnBackendExecute", "cudnnBackendFinalize", "cudnnBackendGetAttribute",
        "cublasLtMatmul", "cublasGemmEx", "cublasSgemm_v2", "cublasGemmStridedBatchedEx",
        "cublasSgemmStridedBatched")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2, help="measured forwards per dtype")
    a = ap.parse_args()
    try:
        from transformers import CLIPConfig, CLIPModel
    except ImportError as e:
        print(f"SKIPPED: transformers not installed ({e})")
        return 77
    fn = ctypes.CDLL(None).genie_stats_json
    fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]

    def stats():
        b = ctypes.create_string_buffer(1 << 20)
        fn(b, len(b))
        return json.loads(b.value)

    def diff(sa, sb, n):
        d = {k: (sb[k] - sa[k]) / n for k in KEYS}
        d.update({k: (sb["per_api"].get(k, 0) - sa["per_api"].get(k, 0)) / n for k in APIS})
        return d

    torch.manual_seed(0)
    layers = 2
    cfg = CLIPConfig(
        text_config=dict(vocab_size=1000, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=layers, num_attention_heads=4,
                         max_position_embeddings=32),
        vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                           num_attention_heads=4, image_size=32, patch_size=8),
        projection_dim=32)
    failed = []
    out = {}
    for dt in (torch.float32, torch.float16):
        model = CLIPModel(cfg).eval().to(dt).cuda()
        impl = getattr(model.config, "_attn_implementation", "?")
        ids = torch.randint(0, 1000, (2, 12)).cuda()
        pix = torch.randn(2, 3, 32, 32).to(dt).cuda()
        with torch.no_grad():
            s0 = stats()
            t0 = time.perf_counter()
            model(input_ids=ids, pixel_values=pix).logits_per_image.cpu()
            first_ms = (time.perf_counter() - t0) * 1e3
            s1 = stats()
            t0 = time.perf_counter()
            for _ in range(a.steps):
                r = model(input_ids=ids, pixel_values=pix)
                logits = r.logits_per_image.cpu()
            wall_ms = (time.perf_counter() - t0) * 1e3 / a.steps
            s2 = stats()
        assert logits.shape == (2, 2), logits.shape
        first, per = diff(s0, s1, 1), diff(s1, s2, a.steps)
        tag = str(dt)[6:]
        print(f"{tag} (attention: {impl}) first forward: {first_ms:.0f} ms wall (fake GPU), " +
              ", ".join(f"{k} {v:g}" for k, v in first.items()))
        print(f"{tag} (attention: {impl}) per forward:   {wall_ms:.0f} ms wall (fake GPU), " +
              ", ".join(f"{k} {v:g}" for k, v in per.items()))
        # one patch convolution per forward; fp16: plus one cuDNN attention per layer and tower
        want = 1 + (2 * layers if dt == torch.float16 else 0)
        for name, d in (("first", first), ("steady", per)):
            if d["cudnnBackendExecute"] != want:
                print(f"FAIL {tag} {name}: {d['cudnnBackendExecute']:g} cuDNN executes per "
                      f"forward, want {want}")
                failed.append(f"{tag} executes")
        if per["round_trips"] != 1 or per["rt_query"] != 0:
            print(f"FAIL {tag} steady state: {per['round_trips']:g} round trips and "
                  f"{per['rt_query']:g} queries per forward, want 1 and 0")
            failed.append(f"{tag} round trips")
        out[tag] = {"first": first, "per_forward": per}
        del model
    print(json.dumps(out))
    print("trace_clip.py:", "FAIL" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
