"""decode_timing.py — time per token of a Hugging Face GPT-2 greedy decode loop.

The GPU host's check of issue 11 item 1 (scripts/device-validate.sh step g): the same loop run
natively (local eager: every kernel launched one by one by PyTorch) and through the shim
against a genie-remote with iteration replay on and off (GENIE_REPLAY_GRAPHS in the
executor's environment). The loop is trace_decode.py's: prefill, warm-up steps, then timed
steps of forward with the KV cache, argmax and .item() (the data-dependent sync each step).
--cache dynamic (transformers' DynamicCache) or static (StaticCache: fixed shapes). Random
weights from a config (no download). Prints one line `decode-json: {...}` with the median and
mean ms per token. Exit 0, 77 when torch or transformers is missing or there is no CUDA device.
"""
import argparse
import inspect
import json
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", choices=("dynamic", "static"), default="dynamic")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--embd", type=int, default=768)
    ap.add_argument("--prompt", type=int, default=8)
    ap.add_argument("--warm", type=int, default=8, help="untimed decode steps (first-use costs, capture)")
    ap.add_argument("--steps", type=int, default=32, help="timed decode steps")
    ap.add_argument("--label", default="", help="copied into the JSON line")
    a = ap.parse_args()
    try:
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError as e:
        print(f"SKIPPED: {e}")
        return 77
    if not torch.cuda.is_available():
        print("SKIPPED: no CUDA device")
        return 77
    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=a.layers, n_embd=a.embd, n_head=max(1, a.embd // 64), vocab_size=50257,
                     n_positions=a.prompt + a.warm + a.steps + 8)
    model = GPT2LMHeadModel(cfg).cuda().eval()
    kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    static = None
    if a.cache == "static":
        from transformers import StaticCache
        static = StaticCache(config=cfg, max_cache_len=cfg.n_positions)
    ids = torch.randint(0, cfg.vocab_size, (1, a.prompt)).cuda()
    times = []
    toks = []
    with torch.no_grad():
        out = model(ids, use_cache=True, **({kw: static} if static is not None else {}))
        past = static if static is not None else out.past_key_values
        tok = int(out.logits[:, -1].argmax(-1).item())
        for i in range(a.warm + a.steps):
            t0 = time.perf_counter()
            nxt = torch.full((1, 1), tok, dtype=torch.long, device="cuda")
            out = model(nxt, use_cache=True, **{kw: past})
            if static is None:
                past = out.past_key_values
            tok = int(out.logits[:, -1].argmax(-1).item())  # the step's sync
            if i >= a.warm:
                times.append((time.perf_counter() - t0) * 1e3)
                toks.append(tok)
    r = {"label": a.label, "cache": a.cache, "layers": a.layers, "embd": a.embd, "steps": a.steps,
         "ms_per_token_median": round(statistics.median(times), 4),
         "ms_per_token_mean": round(statistics.fmean(times), 4),
         "tokens": toks[:8]}
    print("decode-json: " + json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
