"""test_bounds.py — every wait of genie-bench ends, with a message that says what did not
happen (genie_bench/bounds.py and its users). Each check pairs the bound firing on a wait that
would otherwise last ten minutes with its twin, the same wait finishing in time, where the
bound must not fire. No check measures time: the outer timeouts are for liveness only.

    python3 tests/bench/test_bounds.py BUILD_DIR
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "..", "..", "bench")
sys.path.insert(0, BENCH)

from genie_bench import bounds  # noqa: E402
from genie_bench import env as benv  # noqa: E402
from genie_bench.runner import NotRun, Runner  # noqa: E402

LIVE = 300  # liveness only: a bound that never fires fails here instead of hanging CTest
ENV = {**os.environ, "PYTHONPATH": BENCH}
failed = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failed.append(what)


def py(code, extra=(), env=None):
    return subprocess.run([sys.executable, "-c", code, *extra], capture_output=True, text=True,
                          timeout=LIVE, env=env or ENV)


def test_deadline():
    p = py("import time\nfrom genie_bench.bounds import deadline\n"
           "with deadline(1, 'the nap'):\n    time.sleep(600)\nprint('slept')")
    check(p.returncode == 4 and "the nap did not finish within 1 s" in p.stdout
          and "slept" not in p.stdout,
          f"deadline ends a call past its time with exit 4 and a message (rc {p.returncode}, "
          f"{p.stdout.strip()!r})")
    p = py("import time\nfrom genie_bench.bounds import deadline\n"
           "with deadline(600, 'the nap'):\n    time.sleep(0.1)\nprint('slept')")
    check(p.returncode == 0 and p.stdout.strip() == "slept",
          f"twin: deadline lets a call in time finish (rc {p.returncode})")


def test_watchdog():
    silent = subprocess.Popen(["sleep", "600"], start_new_session=True)
    w = bounds.Watchdog(silent, stall=1, limit=600)
    rc = silent.wait(LIVE)
    w.stop()
    check(rc == -9 and w.why and "silent for 1 s" in w.why,
          f"watchdog kills a silent worker (rc {rc}, why {w.why!r})")
    talk = subprocess.Popen([sys.executable, "-c", "import time\nfor i in range(20):\n"
                             "    print(i, flush=True); time.sleep(0.05)"],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    w = bounds.Watchdog(talk, stall=120, limit=600)
    lines = 0
    for _ in talk.stdout:
        w.alive()
        lines += 1
    rc = talk.wait(LIVE)
    w.stop()
    check(rc == 0 and w.why is None and lines == 20,
          f"twin: watchdog leaves a talking worker alone (rc {rc}, why {w.why!r})")
    # talks all the time but never ends: the whole limit
    chatty = subprocess.Popen([sys.executable, "-c", "import time\nwhile True:\n"
                               "    print('x', flush=True); time.sleep(0.05)"],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    w = bounds.Watchdog(chatty, stall=120, limit=1)
    for _ in chatty.stdout:
        w.alive()
    rc = chatty.wait(LIVE)
    w.stop()
    check(rc == -9 and w.why and "ran past 1 s" in w.why,
          f"watchdog kills a worker past its whole limit (rc {rc}, why {w.why!r})")


def test_wait_port():
    d = tempfile.mkdtemp(prefix="genie-bounds-")
    pf = os.path.join(d, "port")
    dead = subprocess.Popen(["true"])
    try:
        bounds.wait_port(pf, dead, "prog", seconds=LIVE)
        check(False, "wait_port on a program that exited: no error")
    except RuntimeError as e:
        check("prog exited 0 before listening" in str(e), f"wait_port: exited ({e})")
    mute = subprocess.Popen(["sleep", "600"])
    try:
        bounds.wait_port(pf, mute, "prog", seconds=1)
        check(False, "wait_port on a program that writes no port: no error")
    except RuntimeError as e:
        check("prog wrote no port within 1 s" in str(e), f"wait_port: no port ({e})")
    finally:
        mute.kill()
        mute.wait()
    talker = subprocess.Popen(["sh", "-c", f"echo 4242 > {pf}.tmp && mv {pf}.tmp {pf} && "
                               "exec sleep 600"])
    try:
        check(bounds.wait_port(pf, talker, "prog", seconds=LIVE) == 4242,
              "twin: wait_port reads the port a program wrote")
    finally:
        talker.kill()
        talker.wait()


def test_run_timeout():
    r = Runner.__new__(Runner)  # _proc needs nothing of the runner's state
    log = os.path.join(tempfile.mkdtemp(prefix="genie-bounds-"), "log")
    try:
        r._proc(["sleep", "600"], {}, log, 1)
        check(False, "a run past --timeout: no error")
    except NotRun as e:
        check("took more than 1 s (--timeout)" in str(e), f"a run past --timeout ends its cell "
                                                           f"({e})")
    p = r._proc(["echo", "hi"], {}, log, LIVE)
    check(p.returncode == 0 and p.stdout == "hi\n", "twin: a run in time returns its output")


def test_rpc_store_unreachable(build):
    """The hang CI met: an RPC worker whose store address is wrong waited 30 minutes (torch's
    rendezvous default). Now it ends at --call-timeout with a message."""
    if importlib.util.find_spec("torch") is None:
        print("skip rpc_store_unreachable: torch not installed")
        return
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    # torch as genie-bench imports it: with the stand-ins for CUDA libraries no one provides
    r = Runner.__new__(Runner)
    r._torch_plain, r.out = None, tempfile.mkdtemp(prefix="genie-bounds-")
    r.paths = benv.Paths(build)
    env = {**ENV, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
           "LD_LIBRARY_PATH": r.torch_libpath(False)}
    p = subprocess.run([sys.executable, "-W", "ignore", "-m", "genie_bench.torch_worker",
                        "--rpc-server", "--workload", "decode", "--call-timeout", "3"],
                       capture_output=True, text=True, timeout=LIVE, env=env)
    check(p.returncode == 4 and "init_rpc (the store at 127.0.0.1:%d did not answer) did not "
          "finish within 3 s" % port in p.stdout,
          f"an RPC worker that cannot reach its store ends (rc {p.returncode}, "
          f"{p.stdout.strip()[-200:]!r})")


def test_budget(build):
    """Cells not begun when --budget is spent are reported as not run, with no numbers."""
    for m in ("numpy", "scipy", "matplotlib"):
        if importlib.util.find_spec(m) is None:
            print(f"skip budget: {m} not installed")
            return
    for budget, want in (("0", "not run: over the time budget"), ("600", "ran")):
        out = tempfile.mkdtemp(prefix="genie-bounds-")
        p = subprocess.run([sys.executable, "-m", "genie_bench", "--no-progress", "--small",
                            "--workloads", "vqa", "--backends", "cuda-c", "--baselines",
                            "capture-only", "--runs", "1", "--warmup", "0", "--budget", budget,
                            "--build", build, "--out", out], capture_output=True, text=True,
                           timeout=LIVE, env=ENV)
        meta = {}
        if os.path.exists(os.path.join(out, "meta.json")):
            meta = json.load(open(os.path.join(out, "meta.json")))
        st = [c["status"] for c in meta.get("cells", [])]
        check(p.returncode == 0 and len(st) == 1 and st[0].startswith(want),
              f"--budget {budget}: the cell says {st} (want {want!r}; rc {p.returncode} "
              f"{p.stderr.strip()[-200:]!r})")


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "build")
    test_deadline()
    test_watchdog()
    test_wait_port()
    test_run_timeout()
    test_rpc_store_unreachable(os.path.abspath(build))
    test_budget(os.path.abspath(build))
    print(f"test_bounds: {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
