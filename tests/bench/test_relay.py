"""test_relay.py — genie-relay (bench/relay) relays bytes intact, adds at least its configured
delay and not much more, and paces to its rate, with bounds loose enough for a loaded 2-core
machine.

    python3 tests/bench/test_relay.py BUILD/bench/relay/genie-relay
"""
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))

from genie_bench import link  # noqa: E402


def start_relay(relay, port, delay_us, rate_mbit):
    d = tempfile.mkdtemp(prefix="relay-test-")
    pf = os.path.join(d, "port")
    p = subprocess.Popen([relay, "--listen", "127.0.0.1:0", "--port-file", pf, "--connect",
                          f"127.0.0.1:{port}", "--delay-us", str(delay_us), "--rate-mbit",
                          str(rate_mbit)], stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(pf):
            return p, int(open(pf).read())
        time.sleep(0.05)
    p.kill()
    raise RuntimeError("relay did not start")


def echo_server():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)

    def run():
        c, _ = ls.accept()
        while True:
            d = c.recv(1 << 16)
            if not d:
                break
            c.sendall(d)
        c.close()

    threading.Thread(target=run, daemon=True).start()
    return ls.getsockname()[1]


def main():
    relay = sys.argv[1]
    bad, n = [], 0

    def check(ok, msg):
        nonlocal n
        n += 1
        print(("ok   " if ok else "FAIL ") + msg)
        if not ok:
            bad.append(msg)

    out = subprocess.run([relay, "--help"], capture_output=True, text=True)
    check(out.returncode == 0 and "--delay-us" in out.stdout, "--help lists the options")
    # bytes through intact, both ways (1 MiB of random data, echoed)
    port = echo_server()
    p, rport = start_relay(relay, port, 100, 0)
    try:
        data = random.Random(7).randbytes(1 << 20)
        s = socket.create_connection(("127.0.0.1", rport))
        threading.Thread(target=s.sendall, args=(data,), daemon=True).start()
        got = bytearray()
        while len(got) < len(data):
            d = s.recv(1 << 16)
            if not d:
                break
            got += d
        s.close()
        check(bytes(got) == data, "1 MiB of random bytes comes back intact through the relay")
    finally:
        p.terminate()
        p.wait(5)
    acc = {r["profile"]: r for r in link.accuracy(relay, ("lan", "wan"))}
    for prof in ("lan", "wan"):
        r = acc[prof]
        d = r["delay_us"]
        check(r["rtt_us"] >= 2 * d, f"{prof}: RTT {r['rtt_us']:.0f} us >= twice the one-way "
                                    f"delay {d:.0f} us")
        check(r["rtt_us"] < 2 * (2 * d) + 2000, f"{prof}: RTT {r['rtt_us']:.0f} us < twice the "
                                                f"configured RTT (+2 ms)")
    r = acc["wan"]
    # above the rate means no pacing (a bug); far below it happens on a loaded machine (a
    # starved relay or receiver: 24 of 100 Mbit/s seen once while a build ran), so loosely
    check(0.2 * r["rate_mbit"] <= r["achieved_rate_mbit"] <= 1.5 * r["rate_mbit"],
          f"wan: rate {r['achieved_rate_mbit']:.1f} Mbit/s between 20% and 150% of "
          f"{r['rate_mbit']:.0f}")
    print(f"test_relay: {n - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
