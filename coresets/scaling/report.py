"""Markdown report of a scaling run: table, fitted power laws, data efficiency, verdict."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .._io import save_text
from .efficiency import data_efficiency
from .powerlaw import fit_power_law

__all__ = ["REPORT_RANDOM_STATE", "fit_all", "render_report", "write_report"]

#: Seed of the bootstrap intervals in reports and plots, so a rerun prints the same report.
REPORT_RANDOM_STATE = 0

_FIT_SCORES = ("loss", "error")


def fit_all(result, *, score="loss", n_boot=200, random_state=None):
    """``{method: PowerLawFit or None}`` of ``score`` (``"loss"`` or ``"error"`` = 1 - accuracy).

    Methods with fewer than 3 sizes, or whose fit fails, map to None.

    Parameters
    ----------
    result : ScalingResult
    score : {"loss", "error"}, default "loss"
    n_boot : int, default 200
    random_state : None, int or Generator
        Seed of the bootstrap intervals (see :func:`~.powerlaw.fit_power_law`).
    """
    if score not in _FIT_SCORES:
        raise ValueError(f"score must be one of {_FIT_SCORES}, got {score!r}")
    fits = {}
    for m in result.methods:
        sizes, vals = result.curve(m, "accuracy" if score == "error" else "loss")
        if score == "error":
            vals = 1.0 - vals
        try:
            fits[m] = fit_power_law(sizes, vals, n_boot=n_boot, random_state=random_state)
        except ValueError:
            fits[m] = None
    return fits


def _ci(fit, key, fmt="{:.3g}"):
    if key not in fit.ci:
        return fmt.format(getattr(fit, key))
    lo, hi = fit.ci[key]
    return f"{fmt.format(getattr(fit, key))} [{fmt.format(lo)}, {fmt.format(hi)}]"


def render_report(result, *, baseline="random", fits=None, plot=None, title=None) -> str:
    """The report as Markdown text (see :func:`write_report`).

    Fits not given are made with the bootstrap seeded by :data:`REPORT_RANDOM_STATE`.
    """
    fits = fit_all(result, random_state=REPORT_RANDOM_STATE) if fits is None else fits
    err_fits = fit_all(result, score="error", random_state=REPORT_RANDOM_STATE)
    n_seeds = len({r["seed"] for r in result.records})
    lines = [f"# {title or 'Scaling report'}", ""]
    if plot is not None:
        lines += [f"![scaling curves]({Path(plot).name})", ""]
    cfg = result.config.get("data", {})
    if cfg:
        lines.append(
            f"Training pool {cfg.get('n_train')} examples, test set {cfg.get('n_test')}; "
            f"{n_seeds} seed(s) per cell; trainer `{result.config.get('trainer', '?')}`."
        )
        lines.append("")
    lines += [
        "## Mean test accuracy / loss over seeds (± std)",
        "",
        "| method | " + " | ".join(f"n={s}" for s in result.sizes) + " |",
        "|---|" + "---:|" * len(result.sizes),
    ]
    summ = {(r["method"], r["size"]): r for r in result.summary()}
    for m in result.methods:
        cells = []
        for s in result.sizes:
            r = summ.get((m, s))
            cells.append(
                "–"
                if r is None
                else f"{r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f} / {r['loss_mean']:.3f}"
            )
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Power-law fits L(n) = A·n^-β + C (95% bootstrap intervals over seeds)",
        "",
        "| method | β (loss) | C (loss) | β (error = 1 − acc) | C (error) |",
        "|---|---|---|---|---|",
    ]
    for m in result.methods:
        f, e = fits.get(m), err_fits.get(m)
        lines.append(
            f"| {m} | {_ci(f, 'beta') if f else '–'} | {_ci(f, 'C') if f else '–'} | "
            f"{_ci(e, 'beta') if e else '–'} | {_ci(e, 'C') if e else '–'} |"
        )
    verdicts = []
    if baseline in result.methods and len(result.sizes) >= 2:
        lines += [
            "",
            f"## Data efficiency against {baseline} (accuracy)",
            "",
            f"`ratio` = method's size / the {baseline} size reaching the same mean accuracy "
            f"(interpolated in log n). Below 1: the method needs less data than {baseline}.",
            "",
            "| method | " + " | ".join(f"n={s}" for s in result.sizes) + " |",
            "|---|" + "---:|" * len(result.sizes),
        ]
        for m in result.methods:
            if m == baseline:
                continue
            rows = {r["size"]: r for r in data_efficiency(result, m, baseline=baseline)}
            cells = []
            for s in result.sizes:
                r = rows.get(s)
                if r is None:
                    cells.append("–")
                elif r["beyond"] == "above":
                    cells.append(f"better than {baseline} at n={result.sizes[-1]}")
                elif r["beyond"] == "below":
                    cells.append(f"worse than {baseline} at n={result.sizes[0]}")
                else:
                    cells.append(f"{r['ratio']:.2f}x")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
            verdicts.append(_verdict(m, baseline, rows, summ))
        lines += ["", "## Verdict", ""] + [f"- {v}" for v in verdicts]
    return "\n".join(lines) + "\n"


def _verdict(m, baseline, rows, summ):
    wins, losses, ties = [], [], []
    for s in sorted(rows):
        b = summ.get((baseline, s))
        a = summ.get((m, s))
        if a is None or b is None:
            continue
        # Differences inside the seeds' spread are reported as ties, not wins.
        noise = math.sqrt(a["accuracy_std"] ** 2 + b["accuracy_std"] ** 2) or 1e-12
        d = a["accuracy_mean"] - b["accuracy_mean"]
        (wins if d > noise else losses if d < -noise else ties).append(s)
    ratios = [r["ratio"] for r in rows.values() if not np.isnan(r["ratio"])]
    parts = [f"**{m}** vs {baseline}:"]
    if wins:
        parts.append(f"more accurate at n = {', '.join(map(str, wins))};")
    if losses:
        parts.append(f"LESS accurate than {baseline} at n = {', '.join(map(str, losses))};")
    if ties:
        parts.append(f"within seed noise at n = {', '.join(map(str, ties))};")
    if ratios:
        parts.append(f"data ratio from {min(ratios):.2f}x to {max(ratios):.2f}x.")
    return " ".join(parts)


def write_report(result, path, *, baseline="random", fits=None, plot=None, title=None):
    """Write :func:`render_report` to ``path`` atomically and return the path."""
    path = Path(path)
    save_text(path, render_report(result, baseline=baseline, fits=fits, plot=plot, title=title))
    return path
