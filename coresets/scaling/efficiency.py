"""Data efficiency: how much data the baseline needs to match a method, with an interval."""

from __future__ import annotations

import numpy as np

from .._validation import check_int, check_option, check_random_state, check_real
from .powerlaw import bootstrap_interval

__all__ = ["data_efficiency", "paired_gain"]


def _monotone(values, higher_is_better):
    # The baseline curve is made monotone (running best) so that "the size at which the
    # baseline first reaches v" is well defined despite seed noise.
    return np.maximum.accumulate(values) if higher_is_better else np.minimum.accumulate(values)


def _equivalent(sizes, bmean, values, higher, *, extrapolate=False):
    """Baseline size reaching each of ``values`` (NaN outside), and which end was passed.

    Returns ``(eq, beyond)``: ``eq`` float array, ``beyond`` array of ``"above"`` (better
    than the baseline at its largest size), ``"below"`` (worse than at its smallest) or "".
    With ``extrapolate`` the values outside are continued along the end segments (in
    log n; infinite where the baseline is flat): for the spread of bootstrap replicates
    only, never reported as a size.
    """
    sign = 1.0 if higher else -1.0
    c = sign * _monotone(bmean, higher)
    t = sign * np.asarray(values, dtype=np.float64)
    logn = np.log(np.asarray(sizes, dtype=np.float64))
    eq = np.full(t.shape, np.nan)
    beyond = np.full(t.shape, "", dtype=object)
    beyond[t > c[-1]] = "above"
    beyond[t < c[0]] = "below"
    inside = np.flatnonzero((t <= c[-1]) & (t >= c[0]) & ~np.isnan(t))
    for k in inside:
        j = int(np.searchsorted(c, t[k], side="left"))  # first point reaching the value
        if j == 0 or c[j] == t[k]:
            eq[k] = np.exp(logn[j])
        else:
            frac = (t[k] - c[j - 1]) / (c[j] - c[j - 1])
            eq[k] = np.exp(logn[j - 1] + frac * (logn[j] - logn[j - 1]))
    if extrapolate and c.size > 1:
        with np.errstate(divide="ignore", over="ignore"):
            j = np.flatnonzero(c < c[-1])  # the last rise of the running best
            slope = (c[-1] - c[j[-1]]) / (logn[-1] - logn[j[-1]]) if j.size else 0.0
            up = beyond == "above"
            eq[up] = np.exp(logn[-1] + (t[up] - c[-1]) / slope) if slope > 0 else np.inf
            k = np.flatnonzero(c > c[0])  # the first rise
            slope = (c[k[0]] - c[0]) / (logn[k[0]] - logn[0]) if k.size else 0.0
            down = beyond == "below"
            eq[down] = np.exp(logn[0] - (c[0] - t[down]) / slope) if slope > 0 else 0.0
    return eq, beyond


def _resample_means(vals, rng):
    """Mean over seeds at each size after resampling that size's seeds with replacement."""
    out = np.empty(vals.shape[0])
    for i, row in enumerate(vals):
        row = row[~np.isnan(row)]
        out[i] = row[rng.integers(0, row.size, row.size)].mean()
    return out


def data_efficiency(
    result,
    method,
    *,
    baseline="random",
    score="accuracy",
    n_boot=200,
    level=0.95,
    random_state=None,
):
    """For each size of ``method``, the baseline size that reaches the same mean score.

    The baseline's mean curve (over seeds) is made monotone and interpolated linearly in
    log(size). ``ratio = size / baseline_size`` is r(n) = n / n_baseline(score(n)): below
    1 the method needs less data than the baseline (0.7 = the method reaches the
    baseline's score with 70% of its data); above 1 it needs more. Where the method's
    score lies outside the baseline's measured range the equivalent size is not
    extrapolated: ``baseline_size`` is NaN and ``beyond`` says which end (``"above"``:
    better than the baseline at its largest size).

    The interval is a percentile bootstrap over seeds: each replicate resamples, at every
    size and for both methods, the seeds with replacement and recomputes the ratio
    (continued along the baseline's end segments where a replicate leaves its range, so
    that the spread is seen). An end of the interval beyond the baseline's measured
    range is open: ``ratio_ci`` is then ``(0.0, hi)`` ("below hi") or ``(lo, inf)``,
    with ``hi`` (``lo``) no nearer than the range's end allows. The interval is widened for few seeds as in
    :func:`~.powerlaw.bootstrap_interval`. One seed gives no interval (``ratio_ci`` None).

    Parameters
    ----------
    result : ScalingResult
    method, baseline : str
        Method labels in ``result``.
    score : {"accuracy", "loss"}, default "accuracy"
    n_boot : int, default 200
        Bootstrap replicates (0: no intervals).
    level : float, default 0.95
    random_state : None, int or Generator
        Seed of the bootstrap (the point estimates draw nothing).

    Returns
    -------
    list of dict with keys ``size``, ``value``, ``baseline_value`` (baseline mean at the
    same size, NaN if it was not run), ``baseline_size``, ``ratio``, ``beyond``,
    ``ratio_ci`` ((lo, hi) or None), ``resolved`` (``"less"``: the interval lies below 1,
    the method needs less data; ``"more"``: above 1; None: not resolved or one seed) and
    ``n_seeds`` (the fewer of the two methods').
    """
    check_option(score, ("accuracy", "loss"), "score")
    n_boot = check_int(n_boot, "n_boot", low=0)
    level = check_real(level, "level", low=0.0, high=1.0)
    higher = score == "accuracy"
    if baseline not in result.methods:
        raise ValueError(f"baseline {baseline!r} is not in the result; it has {result.methods}")
    if method not in result.methods:
        raise ValueError(f"method {method!r} is not in the result; it has {result.methods}")
    rng = check_random_state(random_state)
    bs, bv = result.curve(baseline, score)
    ms, mv = result.curve(method, score)
    if bs.size < 2:
        raise ValueError(f"baseline {baseline!r} needs at least 2 sizes to interpolate")
    bmean = np.nanmean(bv, axis=1)
    mmean = np.nanmean(mv, axis=1)
    eq, beyond = _equivalent(bs, bmean, mmean, higher)
    eq_ext, _ = _equivalent(bs, bmean, mmean, higher, extrapolate=True)
    b_seeds = int((~np.isnan(bv)).sum(axis=1).min())
    m_seeds = (~np.isnan(mv)).sum(axis=1)
    ratios = None
    if n_boot and b_seeds > 1 and m_seeds.min() > 1:
        ratios = np.empty((n_boot, ms.size))
        for b in range(n_boot):
            e, _ = _equivalent(
                bs, _resample_means(bv, rng), _resample_means(mv, rng), higher, extrapolate=True
            )
            with np.errstate(divide="ignore"):
                ratios[b] = ms / e
    out = []
    for i, s in enumerate(ms):
        same = np.flatnonzero(bs == s)
        ci = side = None
        if ratios is not None:
            # outward order statistics: no interpolation between a ratio and an open end
            k = int(min(b_seeds, m_seeds[i]))
            with np.errstate(divide="ignore"):
                point = float(s / eq_ext[i])
            lo, hi = bootstrap_interval(ratios[:, i], point, k, level, log=True, method="outward")
            # only the baseline's measured range gives a size: ends beyond it are open, and
            # an interval wholly beyond it is only known to lie past that end
            first, last = s / bs.max(), s / bs.min()
            lo_m = 0.0 if lo < first else min(lo, last)
            hi_m = np.inf if hi > last else max(hi, first)
            # which side of 1, decided by the measured ends only (never by extrapolation)
            side = "less" if hi < 1 and hi_m <= 1 else "more" if lo > 1 and lo_m >= 1 else None
            ci = (float(lo_m), float(hi_m))
        out.append(
            {
                "size": int(s),
                "value": float(mmean[i]),
                "baseline_value": float(bmean[same[0]]) if same.size else float("nan"),
                "baseline_size": float(eq[i]),
                "ratio": float(s / eq[i]),
                "beyond": beyond[i] or None,
                "ratio_ci": ci,
                "resolved": side,
                "n_seeds": int(min(b_seeds, m_seeds[i])),
            }
        )
    return out


def paired_gain(result, method, *, baseline="random", score="accuracy"):
    """The method's score minus the baseline's on the same seed, per size and pooled.

    A selection and its baseline trained with the same seed share the initialisation and
    the batch order, so their difference varies far less than either score; its mean
    over seeds, with its standard error, says whether a gain is beyond seed noise (a
    band of twice the standard error that excludes 0). The pooled row pairs every size
    and seed at once: a small gain that holds across sizes shows there before it does at
    any one size.

    Parameters
    ----------
    result : ScalingResult
    method, baseline : str
        Method labels in ``result``.
    score : {"accuracy", "loss"}, default "accuracy"
        For ``"loss"`` a negative gain is the better one.

    Returns
    -------
    list of dict
        One per size both methods ran with at least one common seed, in increasing
        size, then the pooled one (``size`` None): ``size``, ``gain`` (mean difference),
        ``se`` (its standard error; NaN with one pair) and ``n_pairs``.
    """
    check_option(score, ("accuracy", "loss"), "score")
    for name, label in ((method, "method"), (baseline, "baseline")):
        if name not in result.methods:
            raise ValueError(f"{label} {name!r} is not in the result; it has {result.methods}")

    def cells(name):
        return {
            (int(r["size"]), int(r["seed"])): r[score]
            for r in result.records
            if r["method"] == name and r[score] == r[score]  # NaN: not measured
        }

    mine, theirs = cells(method), cells(baseline)
    by_size = {}
    for size, seed in sorted(mine.keys() & theirs.keys()):
        by_size.setdefault(size, []).append(mine[size, seed] - theirs[size, seed])
    rows = [_gain_row(size, np.array(d)) for size, d in by_size.items()]
    if by_size:
        rows.append(_gain_row(None, np.concatenate([np.array(d) for d in by_size.values()])))
    return rows


def _gain_row(size, d):
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")
    return {"size": size, "gain": float(d.mean()), "se": se, "n_pairs": int(d.size)}
