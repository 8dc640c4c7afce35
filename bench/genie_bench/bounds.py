"""bounds.py — every wait of genie-bench has an end: a deadline around calls that have none
of their own, a watchdog over worker processes, a bounded wait for a port file. Each ends in
a message that says what did not happen, never in a hang."""
import os
import signal
import threading
import time


class deadline:
    """A bounded wait around a call that has none of its own (torch's rendezvous waits 30 min):
    past `seconds` it says what did not finish, kills `procs` and ends this process (exit 4).
    A thread cannot interrupt the call; ending the process is the only sure way out."""

    def __init__(self, seconds, what, procs=()):
        self.seconds, self.what, self.procs = seconds, what, procs
        self.timer = None

    def _fire(self):
        print(f"genie-bench: {self.what} did not finish within {self.seconds:.0f} s",
              flush=True)
        for p in self.procs:
            try:
                p.kill()
            except OSError:
                pass
        os._exit(4)

    def __enter__(self):
        self.timer = threading.Timer(self.seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        return False


class Watchdog:
    """Kills a worker's process group when it has been silent for `stall` s or has run for
    `limit` s; `why` then says which. alive() is called on each line the worker prints."""

    def __init__(self, proc, stall, limit):
        self.proc, self.stall, self.limit = proc, stall, limit
        self.t0 = self.last = time.monotonic()
        self.why = None
        self._stop = threading.Event()
        self._thr = threading.Thread(target=self._watch, daemon=True)
        self._thr.start()

    def alive(self):
        self.last = time.monotonic()

    def _watch(self):
        while not self._stop.wait(0.5):
            now = time.monotonic()
            if now - self.last > self.stall:
                self.why = f"worker silent for {self.stall:.0f} s (--timeout); killed"
            elif now - self.t0 > self.limit:
                self.why = f"worker ran past {self.limit:.0f} s; killed"
            else:
                continue
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return

    def stop(self):
        self._stop.set()
        self._thr.join()


def wait_port(pf, proc, what, seconds=60):
    """The port a program wrote to its --port-file; RuntimeError if it exits or writes none
    within `seconds`."""
    t_end = time.monotonic() + seconds
    while True:
        try:
            with open(pf) as f:
                txt = f.read().strip()
            if txt:
                return int(txt)
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode} before listening")
        if time.monotonic() > t_end:
            raise RuntimeError(f"{what} wrote no port within {seconds} s")
        time.sleep(0.05)
