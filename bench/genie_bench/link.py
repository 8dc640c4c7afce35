"""link.py — emulated links (the user-space delay relay, bench/relay) and the network namespace
joined by a veth pair whose kernel counters give each run's bytes on the link."""
import os
import signal
import subprocess
import time

from genie_bench.bounds import wait_port

# seconds a relay may take to start listening (a loaded 2-core machine)
START_S = 60

# one-way delay (s) and rate (bit/s) of each --link profile
PROFILES = {
    "dc": (25e-6, 25e9),
    "lan": (250e-6, 1e9),
    "wan": (10e-3, 100e6),
}


class Relay:
    """genie-relay between the client and genie-remote: holds each chunk for the profile's
    one-way delay per direction and paces to its rate."""

    def __init__(self, paths, link, host, port, logdir, name, hold_us=None):
        from genie_bench.runner import NotRun

        if not os.path.exists(paths.relay):
            raise NotRun("relay not built (bench/relay)")
        delay, rate = PROFILES[link]
        if hold_us is not None:  # calibrate(): the hold that achieves the profile's delay
            delay = hold_us / 1e6
        pf = os.path.join(logdir, f"{name}.relay.port")
        if os.path.exists(pf):
            os.unlink(pf)
        self.log = open(os.path.join(logdir, f"{name}.relay.log"), "w")
        self.proc = subprocess.Popen(
            [paths.relay, "--listen", "127.0.0.1:0", "--port-file", pf, "--connect",
             f"{host}:{port}", "--delay-us", str(int(delay * 1e6)), "--rate-mbit",
             str(rate / 1e6)], stdout=self.log, stderr=subprocess.STDOUT)
        try:
            port = wait_port(pf, self.proc, "relay", START_S)
        except RuntimeError as e:
            self.stop()
            raise NotRun(f"failed: {e}") from None
        self.target = f"127.0.0.1:{port}"

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
        # a /30 of its own per process: two runs at once (two checkouts on one machine) must
        # not give their host-side veths the same address (one run's sessions then failed)
        blk = pid % 16384
        net = f"10.213.{blk // 64}.{(blk % 64) * 4}"
        self.host_ip = net.rsplit(".", 1)[0] + f".{(blk % 64) * 4 + 1}"
        self.remote_ip = net.rsplit(".", 1)[0] + f".{(blk % 64) * 4 + 2}"
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


def reap_stale():
    """Deletes the namespaces (and so their veths) that earlier genie-bench processes left
    behind when killed outright (SIGKILL: a test's timeout): genie-bench-<pid> whose pid is
    gone and in which nothing runs. Returns their names."""
    try:
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                               timeout=20).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return []
    gone = []
    for line in names:
        name = line.split(" ")[0]
        if not name.startswith("genie-bench-") or not name[12:].isdigit():
            continue
        if os.path.exists(f"/proc/{int(name[12:])}"):
            continue  # its genie-bench may still run
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True,
                              timeout=20).stdout.strip()
        if pids:
            continue
        pid = int(name[12:])
        subprocess.run(["ip", "link", "del", f"gbh{pid}"], capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)
        gone.append(name)
    return gone


def try_netns():
    """(Netns, None) or (None, reason)."""
    if os.geteuid() != 0:
        return None, "no netns (not root)"
    reap_stale()
    try:
        return Netns(), None
    except Exception as e:  # noqa: BLE001 - the reason goes into the tables
        return None, f"no netns ({str(e)[:80]})"


# ------------------------------------------------------------ accuracy ----

def _echo_server():
    """A TCP server on 127.0.0.1 in a thread: 'P' then 64-byte pings echoed; 'B' then a u64
    size, that many bytes, one byte back. Returns (port, closer)."""
    import socket
    import struct
    import threading

    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)

    def serve(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.settimeout(120)
        try:
            mode = c.recv(1)
            if mode == b"P":
                while True:
                    buf = b""
                    while len(buf) < 64:
                        d = c.recv(64 - len(buf))
                        if not d:
                            return
                        buf += d
                    c.sendall(buf)
            elif mode == b"B":
                hdr = b""
                while len(hdr) < 8:
                    d = c.recv(8 - len(hdr))
                    if not d:
                        return
                    hdr += d
                n = struct.unpack("<Q", hdr)[0]
                while n > 0:
                    d = c.recv(min(n, 1 << 20))
                    if not d:
                        return
                    n -= len(d)
                c.sendall(b"k")
        except OSError:  # a probe gone or timed out: this connection only
            pass
        finally:
            c.close()

    def accept():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return ls.getsockname()[1], ls.close


def probe(target, pings=50, bulk=4 << 20, timeout=60):
    """(median RTT in s, achieved rate in bit/s) through target ('host:port')."""
    import socket
    import statistics
    import struct

    host, port = target.rsplit(":", 1)
    # every socket wait is bounded: a relay that stops forwarding is an error, not a hang
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"P")
    rtts = []
    msg = b"x" * 64
    for _ in range(pings):
        t = time.perf_counter()
        s.sendall(msg)
        got = 0
        while got < 64:
            d = s.recv(64 - got)
            if not d:
                raise RuntimeError(f"probe: {target} closed the connection")
            got += len(d)
        rtts.append(time.perf_counter() - t)
    s.close()
    rtt = statistics.median(rtts)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.sendall(b"B" + struct.pack("<Q", bulk))
    data = b"\0" * (1 << 20)
    t = time.perf_counter()
    left = bulk
    while left:
        left -= s.send(data[:min(left, len(data))])
    if s.recv(1) != b"k":
        raise RuntimeError(f"probe: {target} closed the connection during the bulk transfer")
    el = time.perf_counter() - t
    s.close()
    # the bulk transfer's time less one round trip (the size header's and the reply's delay)
    return rtt, bulk * 8 / max(el - rtt, 1e-9)


def _through_relay(relay_bin, echo_port, hold_us, rate_mbit, pings, bulk):
    """probe() through a relay started for it with this hold and rate."""
    import shutil
    import tempfile

    d = tempfile.mkdtemp(prefix="genie-relay-")
    pf = os.path.join(d, "port")
    proc = subprocess.Popen([relay_bin, "--listen", "127.0.0.1:0", "--port-file", pf,
                             "--connect", f"127.0.0.1:{echo_port}", "--delay-us",
                             f"{hold_us:.1f}", "--rate-mbit", str(rate_mbit)],
                            stderr=subprocess.DEVNULL)
    try:
        rport = wait_port(pf, proc, "relay", START_S)
        return probe(f"127.0.0.1:{rport}", pings=pings, bulk=bulk)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def _probe_size(p):
    return (20, 2 << 20) if p == "wan" else (50, 4 << 20)  # pings, bulk bytes


def calibrate(relay_bin, profile, rounds=2):
    """The hold (µs) per chunk that makes the relay's achieved one-way delay the profile's.

    Through a relay, a byte also pays the relay's own two loopback hops and its timer's late
    wake-ups: 40-70 µs one way on a loaded 2-core VM, +20% on lan's 250 µs. So the relay is
    measured at the configured delay, against loopback without it in the same second, and
    told to hold each chunk that much less (twice, the second round correcting the first);
    never less than half the delay (a noisy measurement must not make the link much faster
    than configured; dc's 25 µs is below the relay's own cost: dc reports what it got).
    Returns a dict for meta.json: delay_us, hold_us, rounds (achieved delay per round)."""
    delay, rate = PROFILES[profile]
    pings, _ = _probe_size(profile)
    port, close = _echo_server()
    hold = delay * 1e6
    seen = []
    try:
        for _ in range(rounds):
            base_rtt, _ = probe(f"127.0.0.1:{port}", pings=pings, bulk=1)
            rtt, _ = _through_relay(relay_bin, port, hold, rate / 1e6, pings, 1)
            achieved = max(rtt - base_rtt, 0) / 2 * 1e6
            seen.append({"hold_us": hold, "achieved_delay_us": achieved})
            hold = min(max(hold + delay * 1e6 - achieved, delay * 1e6 / 2), delay * 1e6)
    finally:
        close()
    return {"profile": profile, "delay_us": delay * 1e6, "hold_us": hold, "rounds": seen}


def accuracy(relay_bin, profiles=("dc", "lan", "wan"), holds=None):
    """Configured vs achieved one-way delay and rate of the relay for each profile, against a
    direct loopback baseline measured in the same minute. holds: profile -> the hold (µs)
    calibrate() chose, used instead of the configured delay."""
    holds = holds or {}
    port, close = _echo_server()
    out = []
    try:
        base_rtt, base_rate = probe(f"127.0.0.1:{port}")
        out.append({"profile": "loopback (no relay)", "delay_us": None, "rate_mbit": None,
                    "hold_us": None, "rtt_us": base_rtt * 1e6, "achieved_delay_us": None,
                    "achieved_rate_mbit": base_rate / 1e6})
        for p in profiles:
            delay, rate = PROFILES[p]
            hold = holds.get(p, delay * 1e6)
            pings, bulk = _probe_size(p)
            rtt, r = _through_relay(relay_bin, port, hold, rate / 1e6, pings, bulk)
            out.append({"profile": p, "delay_us": delay * 1e6, "rate_mbit": rate / 1e6,
                        "hold_us": hold, "rtt_us": rtt * 1e6,
                        "achieved_delay_us": max(rtt - base_rtt, 0) / 2 * 1e6,
                        "achieved_rate_mbit": r / 1e6})
    finally:
        close()
    return out
