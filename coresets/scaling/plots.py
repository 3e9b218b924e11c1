"""Scaling-curve plots (matplotlib, Agg backend); :func:`~.report.write_report` writes the text."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .._io import atomic_path

__all__ = ["loss_ticks", "plot_scaling"]

#: Fixed colours so "random" always looks the same across plots.
_COLORS = ["#555555", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]
#: Mantissa sets tried, coarse to fine, for the ticks of a log-scaled loss axis.
_MANTISSAS = ((1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9))


def loss_ticks(lo, hi, *, min_ticks=4):
    """Round tick values for a log axis from ``lo`` to ``hi`` (positive).

    The coarsest of the 1-2-5, 1-1.5-2-3-5-7 and finer mantissa sets that puts at least
    ``min_ticks`` ticks inside the range, so a loss spanning less than a decade still
    gets readable labels (0.6, 0.8, 1, 1.5, 2 rather than only 1 and 2).

    Returns
    -------
    list of float, ascending.
    """
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise ValueError(f"lo and hi must satisfy 0 < lo < hi, got {lo}, {hi}")
    ticks = []
    for mantissas in _MANTISSAS:
        ticks = [
            round(m * 10.0**e, 12)
            for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
            for m in mantissas
            if lo <= m * 10.0**e <= hi
        ]
        if len(ticks) >= min_ticks:
            break
    return ticks


def _order(methods, baseline):
    return ([baseline] if baseline in methods else []) + [m for m in methods if m != baseline]


def _law_label(m, cf):
    from .report import _with_ci

    if cf is None:
        return m
    if not cf.reliable:
        return f"{m}: no reliable law"
    f = cf.fit
    beta = (
        "β not identified"
        if f.identified.get("beta")
        else f"β={_with_ci(f.beta, f.ci.get('beta'))}"
    )
    return f"{m}: {cf.family} law, {beta}"


def _draw_law(ax, cf, color, n_max):
    """Solid fit over its fitted sizes, dashed prediction onward, held-back points open."""
    c = cf.checked if cf.reliable else None
    if c is None:
        fitted = [k for k in cf.candidates.values() if k.fit is not None]
        if not fitted:
            return
        c = min(fitted, key=lambda k: k.error)  # the best miss, faint, so the miss shows
        grid = np.geomspace(min(c.fit.sizes), max(c.held_sizes), 80)
        ax.plot(grid, c.fit(grid), ":", color=color, lw=1, alpha=0.7)
        return
    sizes = c.fit.sizes
    grid = np.geomspace(min(sizes), max(sizes), 80)
    ax.plot(grid, c.fit(grid), "-", color=color, lw=2.2, alpha=0.9)
    ext = np.geomspace(max(sizes), n_max * 1.6, 40)
    ax.plot(ext, c.fit(ext), "--", color=color, lw=1.6)
    ax.plot(
        c.held_sizes, c.observed, "o", ms=9, mfc="white", mec=color, mew=2, zorder=5,
        label=None,
    )  # fmt: skip


def _efficiency_panel(ax, result, methods, baseline, rng):
    from .efficiency import data_efficiency

    ax.axhline(1.0, color=_COLORS[0], ls="--", lw=1.5, label=f"= {baseline}")
    ax.axhspan(0, 1, color="#2ca02c", alpha=0.06)
    ymax = 1.6
    rows_by = {}
    for m in methods:
        if m == baseline:
            continue
        rows_by[m] = data_efficiency(result, m, baseline=baseline, random_state=rng)
        for r in rows_by[m]:
            if r["ratio_ci"] is not None and np.isfinite(r["ratio_ci"][1]):
                ymax = max(ymax, min(r["ratio_ci"][1] * 1.1, 2.0))
            elif not np.isnan(r["ratio"]):
                ymax = max(ymax, min(r["ratio"] * 1.2, 2.0))
    for k, (m, rows) in enumerate(rows_by.items()):
        color = _COLORS[(methods.index(m)) % len(_COLORS)]
        shift = 1.0 + 0.04 * (k - (len(rows_by) - 1) / 2)
        # better than the baseline at its largest size: r is below n / n_max, drawn there
        top = max(result.curve(baseline, "accuracy")[0])
        for r in rows:
            if r["beyond"] == "above" and r["resolved"] == "less":
                ax.plot(r["size"] * shift, r["size"] / top, "v", color=color, ms=8, mfc="white",
                        mew=1.8)  # fmt: skip
        pts = [r for r in rows if not np.isnan(r["ratio"])]
        if not pts:
            continue
        x = np.array([r["size"] for r in pts]) * shift
        y = np.array([r["ratio"] for r in pts])
        ax.plot(x, y, "-", color=color, lw=1.5, marker="o", ms=5, label=m)
        for xi, r in zip(x, pts, strict=True):
            if r["ratio_ci"] is None:
                continue
            lo, hi = r["ratio_ci"]
            if hi < 1 or lo > 1:  # resolved: say by how much
                ax.annotate(
                    f"{r['ratio']:.2f}x", (xi, r["ratio"]), textcoords="offset points",
                    xytext=(7, 5 if k % 2 == 0 else -13), fontsize=8, color=color,
                    fontweight="bold", bbox=dict(boxstyle="round,pad=0.15", fc="white",
                                                 ec="none", alpha=0.8),
                )  # fmt: skip
            lo_c, hi_c = max(lo, 0.0), min(hi, ymax)
            ax.plot([xi, xi], [lo_c, hi_c], "-", color=color, lw=2.5, alpha=0.5)
            if hi > ymax:
                ax.plot(xi, ymax, "^", color=color, ms=7)  # interval open upward
            if lo <= 0:
                ax.plot(xi, 0, "v", color=color, ms=7)
    ax.set_ylim(0, ymax)
    ax.set_xscale("log")
    ax.set_ylabel(f"data ratio r(n) = n / n_{baseline}(same accuracy)")
    ax.set_title(
        f"Data needed vs {baseline} (below 1: less; bars: 95% CI;\n"
        f"open ▽: better than {baseline} at its largest size, r below the marker)",
        fontsize=10,
    )
    ax.text(
        0.02, 0.03, f"below the line: less data than {baseline}", transform=ax.transAxes,
        fontsize=8, color="#2a7a2a",
    )  # fmt: skip


def plot_scaling(result, path, *, baseline="random", fits=None, title=None):
    """Plot test loss (log-log, with the checked law), accuracy and the data ratio r(n).

    Left: mean test loss per method with the min-max band over seeds; where a law
    passed the extrapolation check (:func:`~.powerlaw.fit_curve`) it is drawn solid over
    the sizes it was fitted on and dashed beyond them, with the held-back point(s) as
    open circles; where none did, the legend says "no reliable law" and the best miss is
    dotted. Middle: accuracy. Right: r(n) against the baseline with its bootstrap
    interval and a line at 1. Writes the PNG atomically.

    Parameters
    ----------
    result : ScalingResult
    path : path
        Where the PNG goes (``.png`` is appended when missing).
    baseline : str, default "random"
    fits : dict, optional
        ``{method: CurveFit}`` of the loss from :func:`~.report.fit_all`; fitted here
        (seeded with ``REPORT_RANDOM_STATE``) when omitted.
    title : str, optional

    Returns
    -------
    pathlib.Path of the PNG.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter, NullLocator

    from .._validation import check_random_state
    from .report import REPORT_RANDOM_STATE, _check_fits, fit_all

    if len(result) == 0:
        raise ValueError("result is empty; nothing to plot")
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_name(path.name + ".png")
    methods = _order(result.methods, baseline)
    rng = check_random_state(REPORT_RANDOM_STATE)
    if fits is None:
        fits = fit_all(result, random_state=rng)
    _check_fits(fits)
    with_ratio = baseline in result.methods and len(result.sizes) >= 2 and len(methods) > 1
    ncols = 3 if with_ratio else 2
    fig, axes = plt.subplots(1, ncols, figsize=(6.2 * ncols, 5.0), constrained_layout=True)
    ax_l, ax_a = axes[0], axes[1]
    lows, highs = [], []
    for i, m in enumerate(methods):
        color = _COLORS[i % len(_COLORS)]
        style = "--" if m == baseline else "-"
        for ax, score in ((ax_l, "loss"), (ax_a, "accuracy")):
            sizes, vals = result.curve(m, score)
            mean = np.nanmean(vals, axis=1)
            if score == "loss":
                cf = fits.get(m)
                ax.plot(sizes, mean, style, marker="o", ms=4, lw=1.2, color=color,
                        alpha=0.8, label=_law_label(m, cf))  # fmt: skip
                if cf is not None:
                    _draw_law(ax, cf, color, max(result.sizes))
                lows.append(np.nanmin(vals))
                highs.append(np.nanmax(vals))
            else:
                ax.plot(sizes, mean, style, marker="o", ms=4, lw=2, color=color, label=m)
            if vals.shape[1] > 1:
                ax.fill_between(
                    sizes, np.nanmin(vals, axis=1), np.nanmax(vals, axis=1), color=color, alpha=0.13
                )
    ax_l.set_xscale("log")
    ax_l.set_yscale("log")
    lo, hi = min(lows), max(highs)
    ax_l.set_ylim(lo / 1.08, hi * 1.08)
    ax_l.yaxis.set_major_locator(FixedLocator(loss_ticks(lo / 1.08, hi * 1.08)))
    ax_l.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax_l.yaxis.set_minor_locator(NullLocator())
    ax_l.yaxis.set_minor_formatter(NullFormatter())
    ax_l.set_ylabel("test loss (log scale)")
    ax_l.set_title(
        "Test loss: law fitted (solid), its prediction (dashed),\n"
        "held-back size (open circle) — drawn only if the prediction held",
        fontsize=10,
    )
    unreliable = [m for m in methods if fits.get(m) is not None and not fits[m].reliable]
    if unreliable:
        ax_l.text(
            0.02, 0.03,
            "no reliable law: " + ", ".join(unreliable) + "\n(dotted: best fit without the "
            "largest size, which it misses)",
            transform=ax_l.transAxes, fontsize=8, color="#444444",
        )  # fmt: skip
    ax_a.set_xscale("log")
    ax_a.set_ylabel("test accuracy")
    ax_a.set_title("Test accuracy (band: min–max over seeds)")
    if with_ratio:
        _efficiency_panel(axes[2], result, methods, baseline, rng)
    sizes = result.sizes
    for ax in axes:
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8.5, loc="best")
        ax.set_xlabel("training subset size n (examples)")
        ax.set_xticks(sizes)
        ax.set_xticklabels([str(s) for s in sizes], rotation=45 if len(sizes) > 6 else 0)
        ax.xaxis.set_minor_locator(NullLocator())
    n_seeds = len({r["seed"] for r in result.records})
    fig.suptitle(
        title or f"Scaling curves: subsets chosen by each method vs {baseline} ({n_seeds} seeds)"
    )
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
