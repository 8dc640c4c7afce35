"""torch_worker.py — the PyTorch back ends of the workloads, run in a process of their own.

    python -m genie_bench.torch_worker --workload decode --runs 10 --warmup 2 --device cuda
        [--quick] [--serve rpc|ray --variant stateless|stateful]

Models are built from configs with random weights (seeded; no download). Each run prints
one line "genie-bench-run {json}": the timed value in ms, a checksum of the output, and,
under libgenie.so, the shim's counters over the timed region. Every timed region ends with
a sync that brings data to the host (.item() or .cpu()). With --serve the model lives in a
torch.distributed.rpc worker or a Ray actor (on the CPU or the GPU of this host) and this
process is the client.
"""
import argparse
import ctypes
import hashlib
import json
import os
import subprocess
import sys
import time

import torch

from genie_bench.bounds import deadline

SHIM_KEYS = ("bytes_sent", "bytes_received", "round_trips", "rt_sync", "batches",
             "batches_delta", "ops_recorded", "launches", "wire_ns", "exec_ns")


# ------------------------------------------------------------------ models ----

def gpt2(quick):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    if quick:
        cfg = GPT2Config(n_layer=2, n_embd=128, n_head=4, vocab_size=1024, n_positions=256,
                         bos_token_id=0, eos_token_id=0)
    else:
        cfg = GPT2Config()  # GPT-2 small: 12 x 768, vocab 50257, 1024 positions
    return GPT2LMHeadModel(cfg).eval(), cfg


def resnet(quick):
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet50(weights=None).eval()


class VQA(torch.nn.Module):
    """CLIP image and text towers, then a fusion head over both embeddings."""

    def __init__(self, quick):
        super().__init__()
        from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig

        torch.manual_seed(0)
        if quick:
            tc = CLIPTextConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                num_attention_heads=4, vocab_size=1000, max_position_embeddings=32)
            vc = CLIPVisionConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                  num_attention_heads=4, image_size=64, patch_size=16)
            proj, hid, answers = 128, 256, 100
        else:
            tc = CLIPTextConfig()  # 12 x 512
            vc = CLIPVisionConfig(patch_size=16)  # ViT-B/16: 12 x 768, 224x224
            proj, hid, answers = 512, 1024, 3129
        cfg = CLIPConfig(text_config=tc.to_dict(), vision_config=vc.to_dict(),
                         projection_dim=proj)
        self.clip = CLIPModel(cfg)
        self.head = torch.nn.Sequential(torch.nn.Linear(2 * proj, hid), torch.nn.GELU(),
                                        torch.nn.Linear(hid, answers))
        self.image_size, self.vocab = vc.image_size, tc.vocab_size
        self.seq = 16 if quick else 32

    def forward(self, pixels, ids):
        img = self.clip.get_image_features(pixel_values=pixels)
        txt = self.clip.get_text_features(input_ids=ids)
        if not torch.is_tensor(img):  # transformers 5 may return an output object
            img, txt = img.pooler_output, txt.pooler_output
        return self.head(torch.cat([img, txt], dim=-1))


def cudnn_off():
    # cuDNN does not pass through the shim yet: every baseline of these workloads runs
    # without it (im2col + GEMM convolutions, non-cuDNN attention), labelled so in the report
    torch.backends.cudnn.enabled = False
    try:
        torch.backends.cuda.enable_cudnn_sdp(False)
    except AttributeError:
        pass


# -------------------------------------------------------------- the shim ----

class Shim:
    def __init__(self):
        try:
            self.fn = ctypes.CDLL(None).genie_stats_json
            self.fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        except AttributeError:
            self.fn = None

    def read(self):
        if not self.fn:
            return None
        b = ctypes.create_string_buffer(1 << 20)
        self.fn(b, len(b))
        return json.loads(b.value)


def emit(run, warm, value, cks, s0, s1, per=1, **extra):
    r = {"run": run, "warm": warm, "value": value, "checksum": cks}
    if s0 is not None and s1 is not None:
        for k in SHIM_KEYS:
            r[f"shim_{k}"] = (s1.get(k, 0) - s0.get(k, 0)) / per
    r.update(extra)
    print("genie-bench-run " + json.dumps(r), flush=True)


def digest(t):
    return hashlib.sha1(t.detach().to("cpu").contiguous().numpy().tobytes()).hexdigest()[:12]


def sync(dev):
    if dev.startswith("cuda"):
        torch.cuda.synchronize()


# ---------------------------------------------------------- local / Genie ----

def cache_tensors(past):
    return [t for L in past.layers for t in (L.keys, L.values)]


def cache_from(ts):
    from transformers import DynamicCache

    c = DynamicCache()
    for i in range(0, len(ts), 2):
        c.update(ts[i], ts[i + 1], i // 2)
    return c


def decode_steps(quick):
    return (16, 8) if quick else (64, 32)


def run_local(a, shim):
    dev = a.device
    nrun = a.warmup + a.runs
    g = torch.Generator().manual_seed(1)
    if a.workload in ("decode", "prefill"):
        model, cfg = gpt2(a.quick)
        model = model.to(dev)
        prompt, gen = decode_steps(a.quick)
        if a.workload == "prefill":
            prompt = 64 if a.quick else 512
        ids = torch.randint(0, cfg.vocab_size, (1, prompt), generator=g).to(dev)
        with torch.no_grad():
            for i in range(nrun):
                if a.workload == "prefill":
                    sync(dev)
                    s0 = shim.read()
                    t0 = time.perf_counter()
                    out = model(ids, use_cache=True)
                    tok = out.logits[:, -1].argmax(-1).item()
                    dt = time.perf_counter() - t0
                    s1 = shim.read()
                    emit(i - a.warmup, i < a.warmup, dt * 1e3, str(tok), s0, s1)
                    continue
                out = model(ids, use_cache=True)
                past = out.past_key_values
                nxt = out.logits[:, -1:].argmax(-1)
                toks = []
                sync(dev)
                s0 = shim.read()
                t0 = time.perf_counter()
                for _ in range(gen):
                    out = model(nxt, past_key_values=past, use_cache=True)
                    past = out.past_key_values
                    nxt = out.logits[:, -1:].argmax(-1)
                    toks.append(nxt.item())  # the step's one data-dependent sync
                    nxt = torch.full((1, 1), toks[-1] % cfg.vocab_size, dtype=torch.long,
                                     device=dev)
                dt = time.perf_counter() - t0
                s1 = shim.read()
                emit(i - a.warmup, i < a.warmup, dt * 1e3 / gen,
                     hashlib.sha1(str(toks).encode()).hexdigest()[:12], s0, s1, per=gen)
        return
    if a.workload.startswith("cnn") or a.workload == "vqa":
        cudnn_off()
        if a.workload == "vqa":
            model = VQA(a.quick).eval().to(dev)
            B = 1
            pix = torch.randn(B, 3, model.image_size, model.image_size, generator=g).to(dev)
            ids = torch.randint(0, model.vocab, (B, model.seq), generator=g).to(dev)
            fwd = lambda: model(pix, ids)  # noqa: E731
        else:
            model = resnet(a.quick).to(dev)
            B = 8 if a.workload == "cnn-b8" else 1
            S = 64 if a.quick else 224
            x = torch.randn(B, 3, S, S, generator=g).to(dev)
            fwd = lambda: model(x)  # noqa: E731
        with torch.no_grad():
            for i in range(nrun):
                sync(dev)
                s0 = shim.read()
                t0 = time.perf_counter()
                y = fwd().to("cpu")  # the whole output comes back to the host
                dt = time.perf_counter() - t0
                s1 = shim.read()
                emit(i - a.warmup, i < a.warmup, dt * 1e3, digest(y), s0, s1)
        return
    if a.workload == "micro":
        return run_micro(a, shim)
    raise SystemExit(f"torch_worker: unknown workload {a.workload}")


def micro_points(quick):
    gemm = [64, 128, 256, 512] if quick else [64, 128, 256, 512, 1024, 2048]
    elt = [1 << k for k in ((12, 16, 20) if quick else (12, 16, 20, 22, 24))]
    h2d = [1 << k for k in ((12, 16, 20, 22) if quick else (12, 16, 20, 22, 24, 26))]
    pts = [("gemm", n, 4 * 3 * n * n, 2 * n ** 3) for n in gemm]
    pts += [("elementwise", n, 4 * 3 * n, n) for n in elt]
    pts += [("h2d", n, n, 0) for n in h2d]
    return pts


def run_micro(a, shim):
    """Each point: the op, then a sync that brings one element back. Prints one run line per
    point and run, with the point's bytes and FLOPs for the prediction."""
    dev = a.device
    g = torch.Generator().manual_seed(2)
    for kind, n, nbytes, flops in micro_points(a.quick):
        if kind == "gemm":
            x = torch.randn(n, n, generator=g).to(dev)
            y = torch.randn(n, n, generator=g).to(dev)
            op = lambda: (x @ y)[0, 0].item()  # noqa: E731
        elif kind == "elementwise":
            x = torch.randn(n, generator=g).to(dev)
            y = torch.randn(n, generator=g).to(dev)
            op = lambda: (x + y)[0].item()  # noqa: E731
        else:
            h = torch.randn(n // 4, generator=g)
            op = lambda: h.to(dev)[0].item()  # noqa: E731
        for i in range(a.warmup + a.runs):
            sync(dev)
            s0 = shim.read()
            t0 = time.perf_counter()
            op()
            dt = time.perf_counter() - t0
            s1 = shim.read()
            emit(i - a.warmup, i < a.warmup, dt * 1e3, "", s0, s1,
                 metric=f"{kind}_{n}", bytes=nbytes, flops=flops)


# ------------------------------------------------------------- RPC / Ray ----
# The server side: functions torch.distributed.rpc calls by reference (importable by name),
# and the Ray actor's methods call the same.

_S = {}


def srv_build(workload, quick, device):
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if workload in ("decode", "prefill"):
        m, cfg = gpt2(quick)
        _S["model"], _S["vocab"] = m.to(device), cfg.vocab_size
    elif workload == "vqa":
        cudnn_off()
        _S["model"] = VQA(quick).eval().to(device)
    elif workload.startswith("cnn"):
        cudnn_off()
        _S["model"] = resnet(quick).to(device)
    _S["device"] = device
    return True


def srv_forward(*xs):
    """Stateless forward: inputs in, output out (cnn, vqa, micro)."""
    d = _S["device"]
    with torch.no_grad():
        return _S["model"](*[x.to(d) for x in xs]).to("cpu")


def srv_op(kind, *xs):
    d = _S["device"]
    if kind == "gemm":
        return (xs[0].to(d) @ xs[1].to(d))[0, 0].to("cpu")
    if kind == "elementwise":
        return (xs[0].to(d) + xs[1].to(d))[0].to("cpu")
    return xs[0].to(d)[0].to("cpu")


def srv_lm_stateless(ids, cache):
    """The naive port: the client ships the KV cache every step and gets it back grown."""
    d = _S["device"]
    with torch.no_grad():
        past = cache_from([t.to(d) for t in cache]) if cache else None
        out = _S["model"](ids.to(d), past_key_values=past, use_cache=True)
        return out.logits[:, -1].to("cpu"), [t.to("cpu") for t in cache_tensors(out.past_key_values)]


def srv_lm_stateful(ids, reset):
    """The rewritten program: the server keeps the KV cache; token ids in, token id out."""
    d = _S["device"]
    with torch.no_grad():
        past = None if reset else _S.get("past")
        out = _S["model"](ids.to(d), past_key_values=past, use_cache=True)
        _S["past"] = out.past_key_values
        return int(out.logits[:, -1].argmax(-1).item())


class Client:
    """Calls the serving side: torch.distributed.rpc (TensorPipe over TCP only) or Ray."""

    def __init__(self, a):
        self.a = a
        self.kind = a.serve
        self.procs = []
        try:
            if self.kind == "rpc":
                self._rpc_start()
            else:
                self._ray_start()
            self.call("build", a.workload, a.quick, a.device)
        except BaseException:
            if self.kind == "ray":
                self._stop_nodes()
            for p in self.procs:  # never leave the serving process behind
                if p.poll() is None:
                    p.kill()
                    p.wait()
            raise

    def _rpc_start(self):
        import socket

        from torch.distributed import rpc

        if bool(self.a.netns) != bool(self.a.netns_host_ip):
            raise SystemExit("torch_worker: --netns needs --netns-host-ip (the host side's "
                             "address, where the worker finds the store)")
        # the client (rank 0) hosts the store; with a netns the worker reaches it at the host
        # side's address of the veth pair, which differs per run (genie_bench.link.Netns)
        store_host = self.a.netns_host_ip or "127.0.0.1"
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        # Gloo and TensorPipe pick an interface by the host name; name ours (with a netns:
        # the veth on each side, else loopback)
        host_if, ns_if = (self.a.netns_ifs.split(",") if self.a.netns_ifs else ("lo", "lo"))
        env = {**os.environ, "MASTER_ADDR": store_host, "MASTER_PORT": str(port),
               "GLOO_SOCKET_IFNAME": ns_if, "TP_SOCKET_IFNAME": ns_if}
        os.environ["GLOO_SOCKET_IFNAME"] = os.environ["TP_SOCKET_IFNAME"] = host_if
        cmd = [sys.executable, "-W", "ignore", "-m", "genie_bench.torch_worker", "--rpc-server",
               "--workload", self.a.workload, "--call-timeout", str(self.a.call_timeout)]
        if self.a.netns:
            cmd = ["ip", "netns", "exec", self.a.netns] + cmd
        log = open(os.path.join(self.a.logdir or ".", f"rpc-server.{self.a.workload}.log"), "a")
        self.procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
        os.environ["MASTER_ADDR"] = store_host
        os.environ["MASTER_PORT"] = str(port)
        opts = rpc.TensorPipeRpcBackendOptions(num_worker_threads=4,
                                               rpc_timeout=self.a.call_timeout,
                                               _transports=["uv"], _channels=["basic"])
        # the rendezvous waits up to 30 min for the worker (torch's default_pg_timeout): a
        # worker that cannot reach the store must end this cell in bounded time, not hang it
        with deadline(self.a.call_timeout, "init_rpc (the worker did not join; see "
                      f"rpc-server.{self.a.workload}.log)", self.procs):
            rpc.init_rpc("client", rank=0, world_size=2, rpc_backend_options=opts)
        self.rpc = rpc

    def _ray_start(self):
        import tempfile

        tmp = tempfile.mkdtemp(prefix="genie-ray-")
        opts = {}
        if self.a.netns:
            # token authentication, as Ray does by default, with a token of this run's own;
            # set before Ray first reads it (the driver caches it)
            import secrets

            os.environ["RAY_AUTH_MODE"] = "token"
            os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(16)
        import ray

        with deadline(self.a.call_timeout, "ray.init", self.procs):
            if self.a.netns:
                # a cluster of two nodes: the head (no CPUs) here with this driver, the actor's
                # node in the namespace; driver <-> actor calls and object transfers cross the
                # veth pair, whose counters give Ray's bytes as they give genie-remote's
                addr = self._ray_cluster(tmp)
                ray.init(address=addr, _node_ip_address=self.a.netns_host_ip,
                         log_to_driver=False)
                opts = {"resources": {"genie_remote": 1}}
            else:
                ray.init(num_cpus=2, include_dashboard=False, _temp_dir=tmp,
                         log_to_driver=False,
                         runtime_env={"env_vars": {"PYTHONPATH": os.environ.get("PYTHONPATH",
                                                                                "")}})

        @ray.remote
        class Server:
            def call(self, name, *args):
                # by module, not by this closure's globals: Ray ships the class by value
                import genie_bench.torch_worker as tw

                return getattr(tw, "srv_" + name)(*args)

        self.ray = ray
        self.actor = Server.options(**opts).remote()

    def _ray_cluster(self, tmp):
        """Starts `ray start --block` twice (the head here, a node of 2 CPUs and the resource
        genie_remote in the namespace), which close() ends; returns the head's address. Every port is named: a raylet otherwise waits for port
        files its agents write, which timed out on a loaded machine."""
        import socket

        def ports(ip, n):
            socks = [socket.socket() for _ in range(n)]
            for so in socks:
                so.bind((ip, 0))
            out = [so.getsockname()[1] for so in socks]
            for so in socks:
                so.close()
            return out

        names = ("metrics-export-port", "dashboard-agent-listen-port",
                 "dashboard-agent-grpc-port", "runtime-env-agent-port")
        host = self.a.netns_host_ip
        gcs, *hp = ports(host, 5)
        common = ["--block", "--disable-usage-stats"]
        head = ["ray", "start", "--head", f"--node-ip-address={host}", f"--port={gcs}",
                "--num-cpus=0", "--include-dashboard=false", f"--temp-dir={tmp}/head"] + \
            common + [f"--{k}={v}" for k, v in zip(names, hp)]
        # the namespace is fresh: fixed ports are free there
        node = ["ip", "netns", "exec", self.a.netns, "ray", "start", f"--address={host}:{gcs}",
                f"--node-ip-address={self.a.netns_ip}", "--num-cpus=2",
                '--resources={"genie_remote": 1}', f"--temp-dir={tmp}/node"] + common + \
            [f"--{k}={52001 + i}" for i, k in enumerate(names)]
        logdir = self.a.logdir or tmp
        for what, cmd in (("head", head), ("node", node)):
            log = open(os.path.join(logdir, f"ray-{what}.{self.a.workload}.log"), "a")
            # in this worker's process group: genie-bench's watchdog, killing the group,
            # reaches them (their raylets and GCS die with them: Ray's fate sharing)
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
        return f"{host}:{gcs}"

    def call(self, name, *args):
        if self.kind == "rpc":
            return self.rpc.rpc_sync("server", globals()["srv_" + name], args=args)
        return self.ray.get(self.actor.call.remote(name, *args), timeout=self.a.call_timeout)

    def close(self):
        with deadline(self.a.call_timeout, f"{self.kind} shutdown", self.procs):
            if self.kind == "rpc":
                self.rpc.shutdown()
                for p in self.procs:
                    try:
                        p.wait(60)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
            else:
                self.ray.shutdown()
                self._stop_nodes()

    def _stop_nodes(self):
        """Ends the Ray nodes: SIGTERM (ray start --block stops what it started), then
        SIGKILL for one still there after 30 s."""
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def rpc_server(a):
    from torch.distributed import rpc

    opts = rpc.TensorPipeRpcBackendOptions(num_worker_threads=4, rpc_timeout=a.call_timeout,
                                           _transports=["uv"], _channels=["basic"])
    with deadline(a.call_timeout, "init_rpc (the store at "
                  f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')} did not "
                  "answer)"):
        rpc.init_rpc("server", rank=1, world_size=2, rpc_backend_options=opts)
    rpc.shutdown()  # waits until the client is done (the client kills this process if it dies)


def run_served(a):
    c = Client(a)
    nrun = a.warmup + a.runs
    g = torch.Generator().manual_seed(1)
    try:
        if a.workload in ("decode", "prefill"):
            vocab = 1024 if a.quick else 50257
            prompt, gen = decode_steps(a.quick)
            if a.workload == "prefill":
                prompt = 64 if a.quick else 512
            ids = torch.randint(0, vocab, (1, prompt), generator=g)
            for i in range(nrun):
                if a.workload == "prefill":
                    t0 = time.perf_counter()
                    if a.variant == "stateful":
                        tok = c.call("lm_stateful", ids, True)
                    else:
                        logits, _cache = c.call("lm_stateless", ids, [])
                        tok = int(logits.argmax(-1).item())
                    dt = time.perf_counter() - t0
                    emit(i - a.warmup, i < a.warmup, dt * 1e3, str(tok), None, None)
                    continue
                if a.variant == "stateful":
                    tok = c.call("lm_stateful", ids, True)
                else:
                    logits, cache = c.call("lm_stateless", ids, [])
                    tok = int(logits.argmax(-1).item())
                toks = []
                t0 = time.perf_counter()
                for _ in range(gen):
                    nxt = torch.full((1, 1), tok % vocab, dtype=torch.long)
                    if a.variant == "stateful":
                        tok = c.call("lm_stateful", nxt, False)
                    else:
                        logits, cache = c.call("lm_stateless", nxt, cache)
                        tok = int(logits.argmax(-1).item())
                    toks.append(tok)
                dt = time.perf_counter() - t0
                emit(i - a.warmup, i < a.warmup, dt * 1e3 / gen,
                     hashlib.sha1(str(toks).encode()).hexdigest()[:12], None, None)
        elif a.workload == "micro":
            for kind, n, nbytes, flops in micro_points(a.quick):
                if kind == "h2d":
                    xs = (torch.randn(n // 4, generator=g),)
                elif kind == "gemm":
                    xs = (torch.randn(n, n, generator=g), torch.randn(n, n, generator=g))
                else:
                    xs = (torch.randn(n, generator=g), torch.randn(n, generator=g))
                for i in range(nrun):
                    t0 = time.perf_counter()
                    c.call("op", kind, *xs)
                    dt = time.perf_counter() - t0
                    emit(i - a.warmup, i < a.warmup, dt * 1e3, "", None, None,
                         metric=f"{kind}_{n}", bytes=nbytes, flops=flops)
        else:
            if a.workload == "vqa":
                m = VQA(a.quick)  # only for its input sizes; the server has its own copy
                xs = (torch.randn(1, 3, m.image_size, m.image_size, generator=g),
                      torch.randint(0, m.vocab, (1, m.seq), generator=g))
                del m
            else:
                B = 8 if a.workload == "cnn-b8" else 1
                S = 64 if a.quick else 224
                xs = (torch.randn(B, 3, S, S, generator=g),)
            for i in range(nrun):
                t0 = time.perf_counter()
                y = c.call("forward", *xs)
                dt = time.perf_counter() - t0
                emit(i - a.warmup, i < a.warmup, dt * 1e3, digest(y), None, None)
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--serve", choices=["rpc", "ray"])
    ap.add_argument("--variant", choices=["stateless", "stateful"], default="stateless")
    ap.add_argument("--logdir")
    ap.add_argument("--netns")
    ap.add_argument("--netns-ip")
    ap.add_argument("--netns-host-ip", help="the host side's address of the veth pair")
    ap.add_argument("--netns-ifs", help="host-side,namespace-side veth names")
    ap.add_argument("--call-timeout", type=float, default=600,
                    help="seconds an RPC/Ray call or start-up may take (default 600)")
    ap.add_argument("--rpc-server", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if a.rpc_server:
        return rpc_server(a)
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("torch_worker: CUDA is not available to torch", flush=True)
        return 3
    print(f"genie-bench-device {torch.cuda.get_device_name(0) if a.device.startswith('cuda') else 'cpu'}",
          flush=True)
    if a.serve:
        run_served(a)
    else:
        run_local(a, Shim())
    return 0


def quick_exit(rc):
    """Ends the process without Python's own teardown of torch and transformers (3-5 s per
    process on a loaded 2-core machine, for nothing the results need). C exit() still runs
    the C atexit handlers: the shim's writes GENIE_STATS_FILE and closes its session."""
    sys.stdout.flush()
    sys.stderr.flush()
    ctypes.CDLL(None).exit(rc)


if __name__ == "__main__":
    quick_exit(main() or 0)
