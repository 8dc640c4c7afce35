"""runner.py — runs each cell of the matrix (warm-up runs, then timed runs) and keeps every row.

A cell is (workload, back end, baseline). A C back end runs its program once per run (warm-up
runs too) and reads the program's own timed value and the shim's counters around the timed
region (GENIE_BENCH_MARKS); a torch back end runs genie_bench.torch_worker once per cell, which
runs warm-up and timed runs in one process. A cell that cannot run, or fails, keeps its reason
and no numbers.
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from genie_bench import env as benv
from genie_bench.bounds import Watchdog
from genie_bench import link as blink
from genie_bench.matrix import GENIE, RAY, RPC, STATEFUL_WORKLOADS, have

SHIM_KEYS = ("bytes_sent", "bytes_received", "round_trips", "rt_sync", "batches",
             "batches_delta", "ops_recorded", "launches", "wire_ns", "exec_ns")


# seconds a genie-remote or relay may take to start listening (a loaded 2-core machine)
START_S = 60


class NotRun(Exception):
    """A cell that did not run, with the reason the tables show."""


class Remote:
    """A genie-remote on this host (TCP loopback), started for one cell; optionally behind
    the link relay (--link), and optionally in a network namespace (traffic)."""

    def __init__(self, paths, logdir, name, fake_env, link, netns, hold_us=None):
        self.paths, self.proc, self.relay = paths, None, None
        self.log = open(os.path.join(logdir, f"{name}.remote.log"), "w")
        portfile = os.path.join(logdir, f"{name}.port")
        if os.path.exists(portfile):
            os.unlink(portfile)
        self.netns = netns
        listen = f"{netns.remote_ip}:0" if netns else "127.0.0.1:0"
        cmd = [paths.remote, "--listen", listen, "--port-file", portfile]
        if netns:
            cmd = netns.wrap(cmd)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **fake_env}, start_new_session=True)
        t_end = time.monotonic() + START_S
        while not (os.path.exists(portfile) and os.path.getsize(portfile)):
            if self.proc.poll() is not None:
                self.stop()
                raise NotRun(f"failed: genie-remote exited {self.proc.returncode} (see "
                             f"logs/{name}.remote.log)")
            if time.monotonic() > t_end:
                self.stop()
                raise NotRun(f"failed: genie-remote wrote no port within {START_S} s")
            time.sleep(0.05)
        port = int(open(portfile).read().strip())
        host = netns.remote_ip if netns else "127.0.0.1"
        self.target = f"{host}:{port}"
        if link and link != "none":
            self.relay = blink.Relay(paths, link, host, port, logdir, name, hold_us)
            self.target = self.relay.target

    def stop(self):
        if self.relay:
            self.relay.stop()
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def checksum(text):
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def parse_marks(out):
    marks = {}
    for line in out.splitlines():
        if line.startswith("genie-mark "):
            _, tag, js = line.split(" ", 2)
            marks[tag] = json.loads(js)
    return marks


def delta(a, b):
    return {k: b.get(k, 0) - a.get(k, 0) for k in SHIM_KEYS}


class Runner:
    def __init__(self, opts, paths, outdir, progress):
        self.o = opts
        self.paths = paths
        self.out = outdir
        self.logdir = os.path.join(outdir, "logs")
        self.cdir = os.path.join(outdir, "counters")
        os.makedirs(self.logdir, exist_ok=True)
        os.makedirs(self.cdir, exist_ok=True)
        self.gpu = benv.has_gpu()
        self.progress = progress
        self.netns = None
        self._torch_plain = None

    # ---- what a cell runs on and whether it can run ----

    def device(self, wl, baseline):
        if baseline in GENIE:
            if self.o.remote:
                return f"remote GPU at {self.o.remote}"
            if self.gpu:
                return "GPU"
            sim = self.simulated()
            return f"{sim} (fake GPU)" if sim else "fake GPU"
        return "GPU" if self.gpu else "CPU"

    def model(self):
        return getattr(self.o, "fake_gpu_model", None) or "none"

    def simulated(self):
        """'simulated <GPU>' when the Genie cells run on the fake GPU's device-time model."""
        if self.gpu or self.o.remote:
            return None
        return benv.fake_model_label(self.model())

    def fake_env(self):
        if self.gpu:
            return {}
        return {"GENIE_CUDA_LIB": self.paths.fake, "GENIE_CUBLAS_LIB": self.paths.fakeblas,
                "GENIE_CUBLASLT_LIB": self.paths.fakeblas,
                "GENIE_FAKE_UNKNOWN_KERNELS": "noop", "OPENBLAS_NUM_THREADS": "1",
                "GENIE_FAKE_GPU_MODEL": self.model()}

    def why_not(self, wl, baseline):
        """None when the cell can run here, else the reason."""
        if wl.backend == "cuda-c":
            if baseline in RPC + RAY:
                return "no CUDA C back end for RPC/Ray (they serve a PyTorch model)"
            if baseline == "local" and not self.gpu:
                return "no GPU (the CUDA C program needs one without the shim)"
            if not os.path.exists(os.path.join(self.paths.workloads, wl.prog)):
                return f"not built: {wl.prog}"
        else:
            if not have("torch"):
                return "torch not installed"
            if wl.name in ("decode", "prefill", "vqa") and not have("transformers"):
                return "transformers not installed"
            if wl.name.startswith("cnn") and not have("torchvision"):
                return "torchvision not installed"
            if baseline in RAY and not have("ray"):
                return "Ray not installed"
            if baseline in RAY and self.o.quick:
                return "not in the --quick matrix (ray.init and an actor importing torch take " \
                       "~20 s per cell on a 2-core machine: run --baselines ray)"
            if baseline.endswith("-stateful") and wl.name not in STATEFUL_WORKLOADS:
                return "one variant only (no state between steps): see the stateless row"
        if baseline in GENIE and baseline != "local-remote" and self.o.link != "none" \
                and not self.o.remote and not os.path.exists(self.paths.relay):
            return "relay not built (bench/relay)"
        return None

    # ---- environments ----

    def genie_env(self, baseline, target, stats_file):
        e = {"LD_PRELOAD": self.paths.shim, "GENIE_REMOTE": target,
             "GENIE_STATS_FILE": stats_file, "GENIE_BENCH_MARKS": "1",
             "GENIE_TIMEOUT_MS": "120000"}
        e.update(self.fake_env())
        if baseline == "no-semantics":
            e["GENIE_SEMANTICS"] = "0"
        if baseline == "naive-remote":
            e["GENIE_NAIVE"] = "1"
            e["GENIE_SEMANTICS"] = "0"
        return e

    def torch_libpath(self, shim):
        # where torch imports as it is (a GPU host's wheel with its nvidia-* libraries), the
        # stand-ins would only shadow real libraries: add them only where it does not
        if self._torch_plain is None:  # do torch's CUDA libraries all resolve? (ldd: fast)
            lib = benv.torch_lib_dir()
            so = os.path.join(lib or "", "libtorch_cuda.so")
            self._torch_plain = bool(lib) and os.path.exists(so) and "not found" not in \
                subprocess.run(["ldd", so], capture_output=True, text=True, timeout=60).stdout
        parts = [self.paths.lookalike] if shim else []
        if not self._torch_plain:
            try:  # kept in the build directory for the next run; else in the results
                stubs = benv.torch_stubs(os.path.join(self.paths.build, "bench"))
            except OSError:
                stubs = benv.torch_stubs(self.out)
            parts += [stubs, benv.cuda_lib_dir()]
        old = os.environ.get("LD_LIBRARY_PATH")
        return ":".join(parts + ([old] if old else []))

    def start_remote(self, name, baseline):
        if baseline == "capture-only":
            return None, "local"
        if self.o.remote and baseline != "local-remote":
            return None, self.o.remote
        link = "none" if baseline == "local-remote" else self.o.link
        r = Remote(self.paths, self.logdir, name, self.fake_env(), link, self.netns,
                   getattr(self.o, "link_hold_us", None))
        return r, r.target

    # ---- one cell ----

    def run_cell(self, wl, baseline, nruns, nwarm):
        """Returns (rows, info): one row per timed run; raises NotRun."""
        name = f"{wl.name}.{wl.backend}.{baseline}"
        why = self.why_not(wl, baseline)
        if why:
            raise NotRun(why)
        if wl.backend == "cuda-c":
            return self.run_c(wl, baseline, name, nruns, nwarm)
        return self.run_torch(wl, baseline, name, nruns, nwarm)

    def _proc(self, cmd, envx, log, timeout):
        env = {**os.environ, **envx}
        t = time.time()
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                               start_new_session=True)
        except subprocess.TimeoutExpired:
            with open(log, "a") as f:
                f.write(f"$ {' '.join(cmd)}\n# env {json.dumps(envx)}\n# killed after "
                        f"{timeout:.0f} s (--timeout)\n")
            raise NotRun(f"failed: a run took more than {timeout:.0f} s (--timeout); killed")
        with open(log, "a") as f:
            f.write(f"$ {' '.join(cmd)}\n# env {json.dumps(envx)}\n# exit {p.returncode} "
                    f"after {time.time() - t:.1f} s\n{p.stdout}\n--- stderr\n{p.stderr}\n")
        return p

    def run_c(self, wl, baseline, name, nruns, nwarm):
        prog = os.path.join(self.paths.workloads, wl.prog)
        cmd = [prog] + wl.args(self.o.small)
        # on a device-time model the fake GPU runs timing-only (nothing computed): the program's
        # CPU check of its results cannot pass, and its checksum means nothing (report.py)
        if baseline != "local" and self.simulated() and "--no-check" not in cmd:
            cmd.append("--no-check")
        log = os.path.join(self.logdir, f"{name}.log")
        rows = []
        remote, target = (None, None)
        try:
            if baseline != "local":
                remote, target = self.start_remote(name, baseline)
            for i in range(nwarm + nruns):
                sf = os.path.join(self.cdir, f"{name}.{i}.json")
                envx = self.genie_env(baseline, target, sf) if baseline != "local" else {}
                lt0 = self.netns.counters() if self.netns and remote else None
                p = self._proc(cmd, envx, log, self.o.timeout)
                lt1 = self.netns.counters() if lt0 else None
                if p.returncode != 0 or "RESULT OK" not in p.stdout:
                    last = (p.stdout + p.stderr).strip().splitlines()[-1:] or ["no output"]
                    raise NotRun(f"failed: exit {p.returncode}: {last[0][:120]}")
                vals = {}
                for line in p.stdout.splitlines():
                    parts = line.split()
                    for j in range(0, len(parts) - 1):
                        if parts[j] in ("prefill_ms", "decode_ms_per_step", "forward_ms"):
                            vals[parts[j]] = float(parts[j + 1])
                    if line.startswith(wl.checksum_prefix):
                        cks = checksum(line)
                if wl.value_key not in vals:
                    raise NotRun(f"failed: no {wl.value_key} in the output")
                self.progress(1)
                if i < nwarm:
                    continue
                row = {"run": i - nwarm, "value": vals[wl.value_key], "checksum": cks,
                       "checksum_valid": 1}
                if baseline != "local":
                    marks = parse_marks(p.stdout)
                    a, b = (marks.get(m) for m in wl.marks)
                    if a is None or b is None:
                        raise NotRun("failed: no counter marks (GENIE_BENCH_MARKS)")
                    d = delta(a, b)
                    row.update({f"shim_{k}": v for k, v in d.items()})
                    with open(sf) as f:
                        tot = json.load(f)
                    row["proc_bytes_sent"] = tot["bytes_sent"]
                    row["proc_bytes_received"] = tot["bytes_received"]
                    row["counters_file"] = os.path.relpath(sf, self.out)
                    if wl.name == "decode":  # per token, as the value
                        steps = int(wl.args(self.o.small)[wl.args(self.o.small).index("--gen") + 1])
                        for k in SHIM_KEYS:
                            row[f"shim_{k}"] = row[f"shim_{k}"] / steps
                if lt0 and lt1:  # the whole process, as proc_bytes_*
                    row.update(blink.counter_delta(lt0, lt1))
                rows.append(row)
        finally:
            if remote:
                remote.stop()
        return rows, {}

    def run_torch(self, wl, baseline, name, nruns, nwarm):
        log = os.path.join(self.logdir, f"{name}.log")
        sf = os.path.join(self.cdir, f"{name}.json")
        cmd = [sys.executable, "-W", "ignore", "-m", "genie_bench.torch_worker",
               "--workload", wl.name, "--runs", str(nruns), "--warmup", str(nwarm),
               "--call-timeout", str(self.o.timeout)]
        if self.o.small:
            cmd.append("--quick")
        envx = {"PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        remote = None
        if baseline == "local":
            envx["LD_LIBRARY_PATH"] = self.torch_libpath(False)
            cmd += ["--device", "cuda" if self.gpu else "cpu"]
        elif baseline in GENIE:
            remote, target = self.start_remote(name, baseline)
            envx.update(self.genie_env(baseline, target, sf))
            envx["LD_LIBRARY_PATH"] = self.torch_libpath(True)
            cmd += ["--device", "cuda"]
        else:
            kind, variant = baseline.rsplit("-", 1)
            envx["LD_LIBRARY_PATH"] = self.torch_libpath(False)
            cmd += ["--device", "cuda" if self.gpu else "cpu", "--serve", kind.replace("torch-", ""),
                    "--variant", variant, "--logdir", self.logdir]
            if self.netns:
                cmd += ["--netns", self.netns.name, "--netns-ip", self.netns.remote_ip,
                        "--netns-host-ip", self.netns.host_ip,
                        "--netns-ifs", f"{self.netns.host_if},{self.netns.ns_if}"]
        rows = []
        # link bytes: the Genie baselines with a genie-remote, RPC and Ray (not local); the
        # Ray actor runs on a node of its own in the namespace (torch_worker._ray_cluster)
        lt0 = self.netns.counters() if self.netns and (remote or baseline in RPC + RAY) \
            else None
        proc = subprocess.Popen(cmd, env={**os.environ, **envx}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        # a worker silent for --timeout s (no run line, no output at all) is killed with what it
        # started (its own process group), and so is one past its whole share of time
        watchdog = Watchdog(proc, self.o.timeout, self.o.timeout * (nruns + nwarm + 1))
        try:
            out = []
            for line in proc.stdout:
                watchdog.alive()
                out.append(line)
                if line.startswith("genie-bench-run "):
                    r = json.loads(line.split(" ", 1)[1])
                    self.progress(1)
                    if r.pop("warm"):
                        continue
                    rows.append(r)
            rc = proc.wait()
            lt1 = self.netns.counters() if lt0 else None
            with open(log, "w") as f:
                f.write(f"$ {' '.join(cmd)}\n# env {json.dumps(envx)}\n# exit {rc}\n")
                f.writelines(out)
            if watchdog.why:
                raise NotRun(f"failed: {watchdog.why}")
            if rc != 0:
                tail = [ln for ln in out if ln.strip()][-1:] or ["no output"]
                raise NotRun(f"failed: exit {rc}: {tail[0].strip()[:120]}")
            if baseline in GENIE:
                with open(sf) as f:
                    tot = json.load(f)
                for r in rows:
                    r["proc_bytes_sent"] = tot["bytes_sent"]
                    r["proc_bytes_received"] = tot["bytes_received"]
                    r["counters_file"] = os.path.relpath(sf, self.out)
            if lt0 and lt1:  # the whole worker process, as proc_bytes_*
                for r in rows:
                    r.update(blink.counter_delta(lt0, lt1))
        finally:
            watchdog.stop()
            if proc.poll() is None:  # interrupted or past its deadline: the whole group
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
            if remote:
                remote.stop()
        return rows, {}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def which(x):
    return shutil.which(x)
