"""Scaling-curve plots (matplotlib, Agg backend); :func:`~.report.write_report` writes the text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._io import atomic_path

__all__ = ["plot_scaling"]

#: Fixed colours so "random" always looks the same across plots.
_COLORS = ["#555555", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]


def _order(methods, baseline):
    return ([baseline] if baseline in methods else []) + [m for m in methods if m != baseline]


def plot_scaling(result, path, *, baseline="random", fits=None, title=None):
    """Plot test loss (log-log, with fitted power law) and accuracy against subset size.

    One line per method (mean over seeds) with a band from the lowest to the highest
    seed; the baseline is grey and dashed. Writes the PNG atomically; the Markdown
    report is :func:`~coresets.scaling.write_report`'s (pass it the same ``fits``).

    Parameters
    ----------
    result : ScalingResult
    path : path
        Where the PNG goes (``.png`` is appended when missing).
    baseline : str, default "random"
    fits : dict, optional
        ``{method: PowerLawFit}`` of the loss; fitted here when omitted (methods with
        fewer than 3 sizes are drawn without a fit).
    title : str, optional

    Returns
    -------
    pathlib.Path of the PNG.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    from .report import REPORT_RANDOM_STATE, fit_all

    if len(result) == 0:
        raise ValueError("result is empty; nothing to plot")
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_name(path.name + ".png")
    methods = _order(result.methods, baseline)
    if fits is None:
        fits = fit_all(result, random_state=REPORT_RANDOM_STATE)
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    for i, m in enumerate(methods):
        color = _COLORS[i % len(_COLORS)]
        style = "--" if m == baseline else "-"
        for ax, score in ((ax_l, "loss"), (ax_a, "accuracy")):
            sizes, vals = result.curve(m, score)
            mean = np.nanmean(vals, axis=1)
            label = m
            if score == "loss" and fits.get(m) is not None:
                label = f"{m} (β={fits[m].beta:.2f})"
            ax.plot(sizes, mean, style, marker="o", ms=4, lw=2, color=color, label=label)
            if vals.shape[1] > 1:
                ax.fill_between(
                    sizes, np.nanmin(vals, axis=1), np.nanmax(vals, axis=1), color=color, alpha=0.15
                )
            if score == "loss" and fits.get(m) is not None:
                grid = np.geomspace(sizes.min(), sizes.max(), 100)
                ax.plot(grid, fits[m](grid), ":", color=color, lw=1.2)
    ax_l.set_xscale("log")
    ax_l.set_yscale("log")
    # Losses often span less than a decade: label 1-2-5 steps, not just powers of ten.
    ax_l.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax_l.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax_l.yaxis.set_minor_formatter(NullFormatter())
    ax_l.set_xlabel("training subset size (examples)")
    ax_l.set_ylabel("test loss (cross-entropy)")
    ax_l.set_title("Test loss — dotted: fit A·n^-β + C")
    ax_a.set_xscale("log")
    ax_a.set_xlabel("training subset size (examples)")
    ax_a.set_ylabel("test accuracy")
    ax_a.set_title("Test accuracy (band: min–max over seeds)")
    for ax in (ax_l, ax_a):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=9)
        sizes = result.sizes
        ax.set_xticks(sizes)
        ax.set_xticklabels([str(s) for s in sizes], rotation=45 if len(sizes) > 6 else 0)
        ax.xaxis.set_minor_locator(plt.NullLocator())
    n_seeds = len({r["seed"] for r in result.records})
    fig.suptitle(
        title or f"Scaling curves: subsets chosen by each method vs {baseline} ({n_seeds} seeds)"
    )
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
