"""genie_bench — Genie's benchmark suite: the same workloads under each baseline, measured.

Every number it writes comes from a run that happened (raw.csv holds one row per timed run);
a cell that did not run says why. See docs/benchmarks.md.
"""
__version__ = "0.1.0"
