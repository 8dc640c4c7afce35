#!/usr/bin/env python3
"""check_trace.py — checks a GENIE_TRACE_FILE (Chrome trace-event JSON) written by a workload run.

    check_trace.py TRACE.json [--min-streams N] [--skew-ns NS] [--overlap]

What must hold (docs/semantics.md, "A trace users can open"):
  - the file is JSON with traceEvents; the clock offset was measured (clock_synced 1);
  - the client's recording: "record" spans with ops > 0 on process 1, thread 1;
  - every frame traced on the wire has send, wait and reply spans in that order, and the
    executor's "batch" span of the same seq, on the client's clock, lies inside the frame's
    round trip up to half the round trip of the PING that set the offset (both processes run
    on this host: only the offset's own error separates them);
  - with --skew-ns (genie-remote's clock moved on purpose by GENIE_TEST_CLOCK_SKEW_NS) the
    measured offset is that skew, within the PING's round trip;
  - device spans of the executor's stream work on at least N streams, each starting no
    earlier than its frame reached the executor.
Exits 1 with the reasons on failure.
"""
import json
import sys

COMPUTE = ("LAUNCH", "LT_MATMUL", "GRAPH_LAUNCH")


def main():
    args = sys.argv[1:]
    path = args[0]
    min_streams = 1
    skew = None
    if "--min-streams" in args:
        min_streams = int(args[args.index("--min-streams") + 1])
    overlap = "--overlap" in args
    if "--skew-ns" in args:
        skew = int(args[args.index("--skew-ns") + 1])
    with open(path) as f:
        doc = json.load(f)
    bad = []
    other = doc.get("otherData", {})
    ev = doc["traceEvents"]
    if other.get("clock_synced") != 1:
        bad.append("no clock offset measured")
    rtt_us = other.get("clock_rtt_ns", 0) / 1e3
    off = other.get("clock_offset_ns", 0)
    if skew is not None and abs(off - skew) > other.get("clock_rtt_ns", 0) / 2 + 1000:
        bad.append("offset %d ns, but genie-remote's clock runs %d ns ahead (rtt %d ns)"
                   % (off, skew, other.get("clock_rtt_ns", 0)))
    if skew is None and abs(off) > other.get("clock_rtt_ns", 0) / 2 + 1000:
        bad.append("offset %d ns on one host, more than half the rtt (%d ns)"
                   % (off, other.get("clock_rtt_ns", 0)))
    spans = [e for e in ev if e.get("ph") == "X"]
    rec = [e for e in spans if e["pid"] == 1 and e["tid"] == 1 and e["name"] == "record"]
    if not rec or not all(e["args"]["ops"] > 0 for e in rec):
        bad.append("no client recording spans (%d)" % len(rec))
    wire = {}
    for e in spans:
        if e["pid"] == 1 and e["tid"] == 2:
            wire.setdefault(e["args"]["seq"], {})[e["name"]] = e
    batches = {e["args"]["seq"]: e for e in spans
               if e["pid"] == 2 and e["tid"] == 1 and e["name"] == "batch"}
    traced = [s for s, w in wire.items() if "send" in w]
    if len(traced) < 2:
        bad.append("fewer than 2 frames with send/wait/reply (%d)" % len(traced))
    tol = rtt_us / 2 + 1.0
    for s in traced:
        w = wire[s]
        if not all(k in w for k in ("wait", "reply", "unpack")):
            bad.append("frame %d lacks wait, reply or unpack: %s" % (s, sorted(w)))
            continue
        a, z = w["send"]["ts"], w["reply"]["ts"] + w["reply"]["dur"]
        if not (w["send"]["ts"] <= w["wait"]["ts"] <= w["reply"]["ts"] <= w["unpack"]["ts"]):
            bad.append("frame %d: send, wait, reply, unpack out of order" % s)
        b = batches.get(s)
        if not b:
            bad.append("frame %d: no executor batch span" % s)
        elif b["ts"] < a - tol or b["ts"] + b["dur"] > z + tol:
            bad.append("frame %d: executor span [%.3f, %.3f] outside the round trip [%.3f, %.3f] "
                       "(tolerance %.3f us)" % (s, b["ts"], b["ts"] + b["dur"], a, z, tol))
    dev = [e for e in spans if e["pid"] == 2 and e["tid"] >= 100]
    streams = {e["args"]["stream"] & 0xffffff for e in dev}
    if overlap:
        found = None
        by = {}
        for e in dev:
            by.setdefault(e["args"]["stream"] & 0xffffff, []).append(e)
        for st, es in by.items():
            for a in es:
                for b in es:
                    if (a["args"]["stream"] >> 24) < (b["args"]["stream"] >> 24) and \
                            a["name"] in COMPUTE and b["name"] in COMPUTE and \
                            a["ts"] < b["ts"] + b["dur"] and b["ts"] < a["ts"] + a["dur"]:
                        found = found or (a, b)
        if not found:
            bad.append("no kernels or matmuls on two lanes of one stream overlap (lanes seen: %s)"
                       % sorted({e["args"]["stream"] >> 24 for e in dev}))
        else:
            a, b = found
            print("overlap: %s (lane %d, %.1f us) and %s (lane %d, %.1f us) of stream %d"
                  % (a["name"], a["args"]["stream"] >> 24, a["dur"], b["name"],
                     b["args"]["stream"] >> 24, b["dur"], a["args"]["stream"] & 0xffffff))
    if len(streams) < min_streams:
        bad.append("device spans on %d streams (%s), want %d" % (len(streams), sorted(streams),
                                                                 min_streams))
    for e in dev:
        b = batches.get(e["args"]["seq"])
        if e["dur"] < 0 or (b and e["ts"] < b["ts"] - tol):
            bad.append("device span %s of frame %d starts at %.3f, before its frame arrived "
                       "(%.3f)" % (e["name"], e["args"]["seq"], e["ts"], b["ts"] if b else -1))
            break
    print("trace: %d events, %d record spans, %d frames on the wire, %d executor batches, "
          "%d device spans on streams %s, offset %d ns (rtt %d ns)"
          % (len(ev), len(rec), len(traced), len(batches), len(dev), sorted(streams), off,
             other.get("clock_rtt_ns", 0)))
    if bad:
        for b in bad[:20]:
            print("check_trace: " + b)
        sys.exit(1)
    print("check_trace: OK")


if __name__ == "__main__":
    main()
