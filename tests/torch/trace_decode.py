"""trace_decode.py — what one decode step of Hugging Face GPT-2 costs on Genie's wire.

Run under the shim (tests/torch/run.sh trace_decode.py) on the fake GPU with
GENIE_FAKE_UNKNOWN_KERNELS=noop: PyTorch's own kernels, which the fake GPU cannot compute,
run as no-ops, so the VALUES are garbage and never checked; what is measured is the program's
sequence of API calls: round trips, batches, launches and bytes per decode step, read from
the shim's counters (genie_stats_json). The model is GPT-2 from a config (random weights, no
hub download): prefill, a few warm-up steps, then N measured steps of forward with the KV
cache, argmax and .item() (the one data-dependent sync a decode step needs).

--cache dynamic (the default) is transformers' DynamicCache, which concatenates each step's
K/V onto the cache (new buffers, attention over a growing length); --cache static is its
StaticCache (cache_implementation="static"): K/V buffers of max_cache_len allocated once and
written in place at a position kept on the device (index_copy_), attention over the whole
cache with a mask, so every decode step has the same shapes and, given the caching
allocator's stable addresses, the same op sequence.

Checks, steady state: exactly one round trip per step (a sync), no module loads and no
remote queries; the phase pass (GENIE_PHASE) finds a prefill in the prefill (flushed by a
synchronize of its own) and exactly one decode batch, no prefill, in every step. Prints the
per-step figures, how the executor ran each measured step (GENIE_REPLAY_STATS: plain, capture,
graph or fallback), the KV buffers marked and KV bytes on the wire, and one JSON line. Exit 0
pass, 1 fail, 77 skipped (no transformers).
"""
import argparse
import ctypes
import json
import os
import sys
import tempfile
import time

import torch

KEYS = ("round_trips", "rt_sync", "rt_query", "rt_module", "batches", "launches",
        "ops_recorded", "bytes_sent", "bytes_received", "h2d_bytes", "d2h_bytes",
        "phase_prefill_batches", "phase_decode_batches", "kv_h2d_bytes", "kv_d2h_bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--embd", type=int, default=128)
    ap.add_argument("--prompt", type=int, default=8)
    ap.add_argument("--warm", type=int, default=4, help="decode steps before measuring")
    ap.add_argument("--steps", type=int, default=8, help="measured decode steps")
    ap.add_argument("--cache", choices=("dynamic", "static"), default="dynamic",
                    help="transformers' KV cache: DynamicCache (default) or StaticCache")
    ap.add_argument("--keep-outputs", dest="release_outputs", action="store_false",
                    help="keep each step's outputs alive into the next step (as before: the "
                         "caching allocator then hands the next step's temporaries other "
                         "addresses)")
    ap.add_argument("--expect-graphs", type=int, default=0, metavar="N",
                    help="fail unless at least N measured steps ran through graphs on the "
                         "executor (GENIE_REPLAY_STATS form=graph) with fewer API calls than "
                         "the plain steps before the capture")
    ap.add_argument("--no-phase-each-step", dest="phase_each_step", action="store_false",
                    help="do not read the counters around each step (wall time undisturbed)")
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
    # the in-process executor logs how it ran each delta batch (remote/replay.c)
    replay_log = os.environ.get("GENIE_REPLAY_STATS")
    if not replay_log:
        replay_log = os.path.join(tempfile.mkdtemp(), "replay.txt")
        os.environ["GENIE_REPLAY_STATS"] = replay_log

    def stats():
        b = ctypes.create_string_buffer(1 << 20)
        fn(b, len(b))
        return json.loads(b.value)

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=a.layers, n_embd=a.embd, n_head=4, vocab_size=1024,
                     n_positions=a.prompt + a.warm + a.steps + 8)
    model = GPT2LMHeadModel(cfg)
    # transformers 5.x names the cache argument `cache` (`past_key_values` deprecated)
    import inspect
    kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    torch.zeros(1, device="cuda")
    torch.cuda.synchronize()
    s0 = stats()
    model = model.cuda().eval()
    s1 = stats()
    print("load: " + " ".join(f"{k} {s1.get(k, 0) - s0.get(k, 0)}"
                              for k in ("round_trips", "rt_sync", "batches", "h2d_bytes")))
    ids = torch.randint(0, cfg.vocab_size, (1, a.prompt)).cuda()
    static = None
    if a.cache == "static":
        from transformers import StaticCache
        static = StaticCache(config=cfg, max_cache_len=cfg.n_positions)
    with torch.no_grad():
        p0 = stats()
        out = model(ids, use_cache=True, **({kw: static} if static is not None else {}))
        torch.cuda.synchronize()  # the prefill's own batch, for the phase check
        p1 = stats()
        past = static if static is not None else out.past_key_values
        nxt = torch.zeros(1, 1, dtype=torch.long, device="cuda")

        def step():
            nonlocal out, past, nxt
            out = model(nxt, use_cache=True, **{kw: past})
            if static is None:  # the static cache is updated in place
                past = out.past_key_values
            nxt = out.logits[:, -1:].argmax(-1)
            tok = nxt.item()  # garbage with no-op kernels: only the call sequence counts
            nxt = torch.full((1, 1), tok % cfg.vocab_size, dtype=torch.long, device="cuda")
            if a.release_outputs:
                out = None  # as generate() does (`del outputs`): the step's logits freed here

        for _ in range(a.warm):
            step()
        s0 = stats()
        phases = []
        t0 = time.perf_counter()
        for _ in range(a.steps):
            b = stats() if a.phase_each_step else None
            step()
            if b is not None:
                e = stats()
                phases.append((e["phase_prefill_batches"] - b["phase_prefill_batches"],
                               e["phase_decode_batches"] - b["phase_decode_batches"]))
        wall_ms = (time.perf_counter() - t0) * 1e3 / a.steps
        s1 = stats()
    per = {k: (s1[k] - s0[k]) / a.steps for k in KEYS}
    per_api = {k: (v - s0["per_api"].get(k, 0)) / a.steps for k, v in s1["per_api"].items()
               if v != s0["per_api"].get(k, 0)}
    print(f"GPT-2 {a.layers} layers x {a.embd}, {a.cache} cache, one decode step "
          f"(mean of {a.steps}):")
    # wall time through shim, executor and fake GPU: "simulated <gpu>" under GENIE_FAKE_GPU_MODEL
    print(f"  wall ms per step {wall_ms:.3f}")
    for k in KEYS:
        print(f"  {k:15s} {per[k]:10.1f}")
    print("  calls per step: " + ", ".join(f"{k} {v:g}" for k, v in
                                           sorted(per_api.items(), key=lambda kv: -kv[1])))
    print("trace-json: " + json.dumps({"layers": a.layers, "embd": a.embd, "cache": a.cache,
                                       "per_step": per,
                                       "per_api": per_api}))
    forms, calls, nrec = [], [], []
    try:
        with open(replay_log) as f:
            for ln in f:
                if "form=" in ln:
                    forms.append(ln.split("form=")[1].split()[0])
                    calls.append(int(ln.split("api_calls=")[1].split()[0]) if "api_calls=" in ln else -1)
                    nrec.append(ln.split("records=")[1].split()[0] if "records=" in ln else "")
    except OSError:
        pass
    measured = forms[-a.steps:]
    # plain batches of the decode step's shape (not the prefill's or the warm-up's others)
    step_shape = nrec[-1] if nrec else None
    plain_calls = [c for f, c, n in zip(forms, calls, nrec) if f == "plain" and n == step_shape]
    graph_calls = [c for f, c in zip(forms[-a.steps:], calls[-a.steps:]) if f == "graph"]
    print(f"  prefill: phase_prefill {p1['phase_prefill_batches'] - p0['phase_prefill_batches']}"
          f" phase_decode {p1['phase_decode_batches'] - p0['phase_decode_batches']}")
    print(f"  phases per measured step (prefill, decode): {phases}")
    print(f"  replay: {len(forms)} delta batches, measured steps: "
          + " ".join(measured) + f" ({measured.count('graph')} of {a.steps} through graphs)")
    if plain_calls and graph_calls:
        print(f"  executor API calls per step: plain {sorted(plain_calls)[len(plain_calls) // 2]}, "
              f"through graphs {sorted(graph_calls)[len(graph_calls) // 2]} (medians)")
    print(f"  kv buffers marked {s1['kv_buffers']}, KV bytes on the wire per step "
          f"{per['kv_h2d_bytes'] + per['kv_d2h_bytes']:g}")
    bad = []
    if p1["phase_prefill_batches"] - p0["phase_prefill_batches"] < 1 or \
            p1["phase_decode_batches"] != p0["phase_decode_batches"]:
        bad.append("the prefill was not detected as a prefill")
    for i, (pf, dc) in enumerate(phases):
        if pf != 0 or dc != 1:
            bad.append(f"measured step {i}: {pf} prefill and {dc} decode batches, want 0 and 1")
    if per["round_trips"] != 1 or per["rt_sync"] != 1:
        bad.append(f"{per['round_trips']:g} round trips per step, want exactly 1 (the .item())")
    if per["rt_query"] or per["rt_module"]:
        bad.append("remote queries or module loads in the steady state")
    if a.expect_graphs:
        if measured.count("graph") < a.expect_graphs:
            bad.append(f"{measured.count('graph')} of {a.steps} measured steps through graphs, "
                       f"want at least {a.expect_graphs}")
        elif not plain_calls or max(graph_calls) >= min(plain_calls):
            bad.append(f"graph steps made {graph_calls} API calls, plain ones {plain_calls}: "
                       "not fewer")
    for b in bad:
        print("FAIL " + b)
    print("PASS one round trip per decode step" if not bad else "trace_decode.py: FAILED")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
