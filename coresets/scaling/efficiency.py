"""Data efficiency: how much data the baseline needs to match a method."""

from __future__ import annotations

import numpy as np

__all__ = ["data_efficiency"]


def _monotone(values, higher_is_better):
    # The baseline curve is made monotone (running best) so that "the size at which the
    # baseline first reaches v" is well defined despite seed noise.
    return np.maximum.accumulate(values) if higher_is_better else np.minimum.accumulate(values)


def data_efficiency(result, method, *, baseline="random", score="accuracy"):
    """For each size of ``method``, the baseline size that reaches the same mean score.

    The baseline's mean curve (over seeds) is made monotone and interpolated linearly in
    log(size). ``ratio = size / baseline_size``: below 1 the method needs less data than
    the baseline (0.7 = the method reaches the baseline's score with 70% of its data);
    above 1 it needs more. Where the method's score lies outside the baseline's range the
    equivalent size is not extrapolated: ``baseline_size`` is NaN and ``beyond`` says
    which end (``"above"``: better than the baseline at its largest size).

    Parameters
    ----------
    result : ScalingResult
    method, baseline : str
        Method labels in ``result``.
    score : {"accuracy", "loss"}, default "accuracy"

    Returns
    -------
    list of dict with keys ``size``, ``value``, ``baseline_value`` (baseline mean at the
    same size, NaN if it was not run), ``baseline_size``, ``ratio``, ``beyond``.
    """
    if score not in ("accuracy", "loss"):
        raise ValueError(f"score must be 'accuracy' or 'loss', got {score!r}")
    higher = score == "accuracy"
    if baseline not in result.methods:
        raise ValueError(f"baseline {baseline!r} is not in the result; it has {result.methods}")
    bs, bv = result.curve(baseline, score)
    ms, mv = result.curve(method, score)
    bmean = np.nanmean(bv, axis=1)
    mmean = np.nanmean(mv, axis=1)
    if bs.size < 2:
        raise ValueError(f"baseline {baseline!r} needs at least 2 sizes to interpolate")
    curve = _monotone(bmean, higher)
    logn = np.log(bs.astype(np.float64))
    sign = 1.0 if higher else -1.0
    out = []
    for s, v in zip(ms, mmean, strict=True):
        same = np.flatnonzero(bs == s)
        row = {
            "size": int(s),
            "value": float(v),
            "baseline_value": float(bmean[same[0]]) if same.size else float("nan"),
            "baseline_size": float("nan"),
            "ratio": float("nan"),
            "beyond": None,
        }
        t = sign * v
        c = sign * curve
        if t > c[-1]:
            row["beyond"] = "above"
        elif t < c[0]:
            row["beyond"] = "below"
        else:
            j = int(np.searchsorted(c, t, side="left"))  # first point reaching v
            if j == 0 or c[j] == t:
                eq = np.exp(logn[j])
            else:
                frac = (t - c[j - 1]) / (c[j] - c[j - 1])
                eq = np.exp(logn[j - 1] + frac * (logn[j] - logn[j - 1]))
            row["baseline_size"] = float(eq)
            row["ratio"] = float(s / eq)
        out.append(row)
    return out
