"""trace_decode.py — what one decode step of Hugging Face GPT-2 costs on Genie's wire.

Run under the shim (tests/torch/run.sh trace_decode.py) on the fake GPU with
GENIE_FAKE_UNKNOWN_KERNELS=noop: PyTorch's own kernels, which the fake GPU cannot compute,
run as no-ops, so the VALUES are garbage and never checked; what is measured is the program's
sequence of API calls: round trips, batches, launches and bytes per decode step, read from
the shim's counters (genie_stats_json). The model is GPT-2 from a config (random weights, no
hub download): prefill, a few warm-up steps, then N measured steps of forward with the KV
cache, argmax and .item() (the one data-dependent sync a decode step needs).

Checks, steady state: exactly one round trip per step (a sync), no module loads and no
remote queries; prints the per-step figures and one JSON line. Exit 0 pass, 1 fail,
77 skipped (no transformers).
"""
import argparse
import ctypes
import json
import sys
import time

import torch

KEYS = ("round_trips", "rt_sync", "rt_query", "rt_module", "batches", "launches",
        "ops_recorded", "bytes_sent", "bytes_received", "h2d_bytes", "d2h_bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--embd", type=int, default=128)
    ap.add_argument("--prompt", type=int, default=8)
    ap.add_argument("--warm", type=int, default=4, help="decode steps before measuring")
    ap.add_argument("--steps", type=int, default=8, help="measured decode steps")
    a = ap.parse_args()
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError as e:
        print(f"SKIPPED: transformers not installed ({e})")
        return 77
    try:
        fn = ctypes.CDLL(None).genie_stats_json
    except AttributeError:
        print("trace_decode.py: run it under LD_PRELOAD=libgenie.so (genie_stats_json missing)")
        return 2
    fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]

    def stats():
        b = ctypes.create_string_buffer(1 << 20)
        fn(b, len(b))
        return json.loads(b.value)

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=a.layers, n_embd=a.embd, n_head=4, vocab_size=1024,
                     n_positions=a.prompt + a.warm + a.steps + 8)
    model = GPT2LMHeadModel(cfg)
    torch.zeros(1, device="cuda")
    torch.cuda.synchronize()
    s0 = stats()
    model = model.cuda().eval()
    s1 = stats()
    print("load: " + " ".join(f"{k} {s1.get(k, 0) - s0.get(k, 0)}"
                              for k in ("round_trips", "rt_sync", "batches", "h2d_bytes")))
    ids = torch.randint(0, cfg.vocab_size, (1, a.prompt)).cuda()
    with torch.no_grad():
        out = model(ids, use_cache=True)
        past = out.past_key_values
        nxt = torch.zeros(1, 1, dtype=torch.long, device="cuda")

        def step():
            nonlocal out, past, nxt
            out = model(nxt, past_key_values=past, use_cache=True)
            past = out.past_key_values
            nxt = out.logits[:, -1:].argmax(-1)
            tok = nxt.item()  # garbage with no-op kernels: only the call sequence counts
            nxt = torch.full((1, 1), tok % cfg.vocab_size, dtype=torch.long, device="cuda")

        for _ in range(a.warm):
            step()
        s0 = stats()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        wall_ms = (time.perf_counter() - t0) * 1e3 / a.steps
        s1 = stats()
    per = {k: (s1[k] - s0[k]) / a.steps for k in KEYS}
    per_api = {k: (v - s0["per_api"].get(k, 0)) / a.steps for k, v in s1["per_api"].items()
               if v != s0["per_api"].get(k, 0)}
    print(f"GPT-2 {a.layers} layers x {a.embd}, one decode step (mean of {a.steps}):")
    # wall time through shim, executor and fake GPU: "simulated <gpu>" under GENIE_FAKE_GPU_MODEL
    print(f"  wall ms per step {wall_ms:.3f}")
    for k in KEYS:
        print(f"  {k:15s} {per[k]:10.1f}")
    print("  calls per step: " + ", ".join(f"{k} {v:g}" for k, v in
                                           sorted(per_api.items(), key=lambda kv: -kv[1])))
    print("trace-json: " + json.dumps({"layers": a.layers, "embd": a.embd, "per_step": per,
                                       "per_api": per_api}))
    bad = []
    if per["round_trips"] != 1 or per["rt_sync"] != 1:
        bad.append(f"{per['round_trips']:g} round trips per step, want exactly 1 (the .item())")
    if per["rt_query"] or per["rt_module"]:
        bad.append("remote queries or module loads in the steady state")
    for b in bad:
        print("FAIL " + b)
    print("PASS one round trip per decode step" if not bad else "trace_decode.py: FAILED")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
