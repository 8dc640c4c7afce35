"""stats.py — per-cell statistics and speedups: mean, median, p95, sd, bootstrap CIs, Mann-Whitney U.

Every function here is pure over lists of floats, so the honesty test recomputes the summary
from raw.csv with the same code and the same seeds and must get the same numbers.
"""
import math

import numpy as np

BOOT = 2000  # bootstrap resamples
SEED = 20261203  # fixed: the same raw values give the same intervals on every machine


def _rng(key):
    # one generator per cell, seeded from its name: intervals do not depend on cell order
    h = 0
    for ch in key:
        h = (h * 131 + ord(ch)) & 0xFFFFFFFF
    return np.random.default_rng([SEED, h])


def p95(xs):
    return float(np.percentile(np.asarray(xs, dtype=float), 95))


def bootstrap_ci(xs, key, stat=np.mean, level=0.95):
    """Percentile bootstrap interval of stat over xs (None with fewer than 2 values)."""
    a = np.asarray(xs, dtype=float)
    if len(a) < 2:
        return None, None
    idx = _rng(key).integers(0, len(a), size=(BOOT, len(a)))
    s = stat(a[idx], axis=1)
    lo, hi = np.percentile(s, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)


def summarize(xs, key):
    """The summary of one cell's timed runs."""
    a = np.asarray(xs, dtype=float)
    lo, hi = bootstrap_ci(a, key)
    return {
        "n": int(len(a)),
        "mean": float(a.mean()),
        "median": float(np.median(a)),
        "p95": p95(a),
        "sd": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
        "ci_lo": lo,
        "ci_hi": hi,
    }


def speedup(ref, cell, key):
    """Speedup of cell over ref as the ratio of means (ref / cell: above 1, cell is faster),
    with a bootstrap CI (both samples resampled independently) and the two-sided
    Mann-Whitney U p-value of the two samples."""
    from scipy.stats import mannwhitneyu

    r = np.asarray(ref, dtype=float)
    c = np.asarray(cell, dtype=float)
    ratio = float(r.mean() / c.mean())
    lo = hi = None
    if len(r) > 1 and len(c) > 1:
        g = _rng(key)
        ri = g.integers(0, len(r), size=(BOOT, len(r)))
        ci = g.integers(0, len(c), size=(BOOT, len(c)))
        s = r[ri].mean(axis=1) / c[ci].mean(axis=1)
        lo, hi = (float(v) for v in np.percentile(s, [2.5, 97.5]))
    p = float(mannwhitneyu(r, c, alternative="two-sided").pvalue)
    return {"ratio": ratio, "ci_lo": lo, "ci_hi": hi, "p_value": p,
            "added_ms": float(c.mean() - r.mean())}


def correlation(pred, meas):
    """Pearson and Spearman correlation of predictions against measurements."""
    from scipy.stats import pearsonr, spearmanr

    if len(pred) < 3:
        return None, None
    return float(pearsonr(pred, meas)[0]), float(spearmanr(pred, meas)[0])


def fmt(x, digits=3):
    """A number for a table; None (no value) stays empty: never printed as zero."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.{digits}g}" if abs(x) < 1e-3 else f"{x:.{digits}f}"


def fmt_int(x):
    """A count (bytes, round trips) with thousands separators; None stays empty."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 or abs(x) >= 100 else f"{x:,.1f}"
