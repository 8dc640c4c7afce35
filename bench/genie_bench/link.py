"""link.py — emulated links (the user-space delay relay, bench/relay) and the network namespace
joined by a veth pair whose kernel counters give each run's bytes on the link."""
import os
import signal
import subprocess
import time

# one-way delay (s) and rate (bit/s) of each --link profile
PROFILES = {
    "dc": (25e-6, 25e9),
    "lan": (250e-6, 1e9),
    "wan": (10e-3, 100e6),
}


class Relay:
    """genie-relay between the client and genie-remote: holds each chunk for the profile's
    one-way delay per direction and paces to its rate."""

    def __init__(self, paths, link, host, port, logdir, name):
        from genie_bench.runner import NotRun

        if not os.path.exists(paths.relay):
            raise NotRun("relay not built (bench/relay)")
        delay, rate = PROFILES[link]
        pf = os.path.join(logdir, f"{name}.relay.port")
        if os.path.exists(pf):
            os.unlink(pf)
        self.log = open(os.path.join(logdir, f"{name}.relay.log"), "w")
        self.proc = subprocess.Popen(
            [paths.relay, "--listen", "127.0.0.1:0", "--port-file", pf, "--connect",
             f"{host}:{port}", "--delay-us", str(int(delay * 1e6)), "--rate-mbit",
             str(rate / 1e6)], stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(pf) and os.path.getsize(pf):
                break
            if self.proc.poll() is not None:
                raise NotRun(f"failed: relay exited {self.proc.returncode}")
            time.sleep(0.05)
        self.target = f"127.0.0.1:{int(open(pf).read().strip())}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def counter_delta(a, b):
    """Bytes on the link between two readings: the client side's tx is the client's upload."""
    return {"link_bytes_up": b["tx"] - a["tx"], "link_bytes_down": b["rx"] - a["rx"]}


class Netns:
    """A network namespace joined to this one by a veth pair (needs root). The remote side
    (genie-remote, the RPC worker, the Ray actor) runs inside it at remote_ip; the kernel's
    counters of the host-side veth are read before and after each run. close() undoes it
    all; the CLI calls it on exit, on Ctrl-C and on SIGTERM."""

    def __init__(self):
        pid = os.getpid() % 100000
        self.name = f"genie-bench-{pid}"
        self.host_if, self.ns_if = f"gbh{pid}", f"gbn{pid}"
        self.host_ip, self.remote_ip = "10.213.0.1", "10.213.0.2"
        self.made = []
        try:
            self._ip("netns", "add", self.name)
            self.made.append("netns")
            self._ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            self.made.append("link")
            self._ip("link", "set", self.ns_if, "netns", self.name)
            self._ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            self._ip("link", "set", self.host_if, "up")
            self._ipns("addr", "add", f"{self.remote_ip}/30", "dev", self.ns_if)
            self._ipns("link", "set", self.ns_if, "up")
            self._ipns("link", "set", "lo", "up")
        except Exception:
            self.close()
            raise

    def _ip(self, *a):
        subprocess.run(["ip", *a], check=True, capture_output=True, timeout=20)

    def _ipns(self, *a):
        subprocess.run(["ip", "netns", "exec", self.name, "ip", *a], check=True,
                       capture_output=True, timeout=20)

    def wrap(self, cmd):
        return ["ip", "netns", "exec", self.name] + list(cmd)

    def counters(self):
        base = f"/sys/class/net/{self.host_if}/statistics"
        with open(f"{base}/tx_bytes") as f:
            tx = int(f.read())
        with open(f"{base}/rx_bytes") as f:
            rx = int(f.read())
        return {"tx": tx, "rx": rx}

    def close(self):
        if "link" in self.made:
            subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=20)
        if "netns" in self.made:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=20)
        self.made = []


def try_netns():
    """(Netns, None) or (None, reason)."""
    if os.geteuid() != 0:
        return None, "no netns (not root)"
    try:
        return Netns(), None
    except Exception as e:  # noqa: BLE001 - the reason goes into the tables
        return None, f"no netns ({str(e)[:80]})"
