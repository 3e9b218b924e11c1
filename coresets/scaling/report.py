"""Markdown report of a scaling run: verdict first, then the tables behind it.

Every claim is backed by a bootstrap interval over seeds, and none is made that the data
cannot support: one seed gives point values only, a law is printed only when it
predicted held-back sizes within the stated tolerance, and a parameter whose interval
hits a constraint or spans orders of magnitude is "not identified".
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .._io import save_text
from .._validation import check_int, check_option, check_random_state, check_real
from .efficiency import data_efficiency, paired_gain
from .powerlaw import FAMILIES, CurveFit, bootstrap_interval, compare_exponents, fit_curve

__all__ = [
    "REPORT_RANDOM_STATE",
    "STARVED",
    "accuracy_table",
    "class_balance",
    "compare_losses",
    "fit_all",
    "gain_table",
    "ratio_table",
    "render_report",
    "write_report",
]

#: Seed of the bootstrap intervals in reports and plots, so a rerun prints the same report.
REPORT_RANDOM_STATE = 0

#: A class is starved when a subset keeps less than this share of its pool share.
STARVED = 0.5

#: Up to this many classes the report has a row per class; beyond, the lowest few.
_CLASS_ROWS_MAX = 20
_CLASS_LOWEST = 5

_FIT_SCORES = ("loss", "error")
_SCORE_NAME = {"loss": "test loss", "error": "test error (1 − accuracy)"}


def fit_all(result, *, score="loss", n_boot=200, tolerance=0.05, holdout=1, random_state=None):
    """``{method: CurveFit}`` of ``score`` (``"loss"`` or ``"error"`` = 1 - accuracy).

    Each method's curve goes through :func:`~.powerlaw.fit_curve`: transient region,
    families checked on the held-back largest size(s), the chosen one refitted with
    bootstrap intervals. ``CurveFit.reliable`` is False (and ``.reason`` says why) when
    no family extrapolates within ``tolerance``, or the method has too few sizes.

    Parameters
    ----------
    result : ScalingResult
    score : {"loss", "error"}, default "loss"
    n_boot : int, default 200
    tolerance : float, default 0.05
        Relative error allowed on the held-back sizes.
    holdout : int, default 1
    random_state : None, int or Generator
        Seed of the bootstrap intervals.
    """
    check_option(score, _FIT_SCORES, "score")
    rng = check_random_state(random_state)
    fits = {}
    for m in result.methods:
        sizes, vals = result.curve(m, "accuracy" if score == "error" else "loss")
        if score == "error":
            vals = 1.0 - vals
        fits[m] = fit_curve(
            sizes, vals, holdout=holdout, tolerance=tolerance, n_boot=n_boot, random_state=rng
        )
    return fits


def compare_losses(result, method, *, baseline="random", n_boot=200, level=0.95, random_state=None):
    """Per size, the method's mean test loss minus the baseline's, with a bootstrap interval.

    Each replicate resamples both methods' seeds at that size with replacement (interval
    widened for few seeds, see :func:`~.powerlaw.bootstrap_interval`). ``better``
    is True where the whole interval is below 0, False where it is above, None otherwise
    (or with one seed, where ``ci`` is None).

    Returns
    -------
    list of dict with keys ``size``, ``loss``, ``baseline_loss``, ``diff``, ``ci``,
    ``better``; sizes the baseline did not run are left out.
    """
    n_boot = check_int(n_boot, "n_boot", low=0)
    level = check_real(level, "level", low=0.0, high=1.0)
    rng = check_random_state(random_state)
    bs, bv = result.curve(baseline, "loss")
    ms, mv = result.curve(method, "loss")
    out = []
    for i, s in enumerate(ms):
        j = np.flatnonzero(bs == s)
        if not j.size:
            continue
        a = mv[i][~np.isnan(mv[i])]
        b = bv[j[0]][~np.isnan(bv[j[0]])]
        diff = float(a.mean() - b.mean())
        ci, better = None, None
        if n_boot and a.size > 1 and b.size > 1:
            reps = [
                a[rng.integers(0, a.size, a.size)].mean()
                - b[rng.integers(0, b.size, b.size)].mean()
                for _ in range(n_boot)
            ]
            ci = bootstrap_interval(reps, diff, min(a.size, b.size), level)
            better = True if ci[1] < 0 else False if ci[0] > 0 else None
        out.append(
            {
                "size": int(s),
                "loss": float(a.mean()),
                "baseline_loss": float(b.mean()),
                "diff": diff,
                "ci": ci,
                "better": better,
            }
        )
    return out


def class_balance(result, *, threshold=STARVED):
    """Per (method, size): each class's share of the subset over its share of the pool.

    A ratio of 1 keeps the class as often as the training pool has it, 0 keeps none;
    the subset's counts are averaged over the seeds whose cells recorded them. Classes
    without training rows are left out.

    Parameters
    ----------
    result : ScalingResult
    threshold : float, default STARVED (0.5)
        A class whose ratio is below it is ``starved``.

    Returns
    -------
    list of dict with keys ``method``, ``size``, ``n_seeds`` (cells with counts),
    ``ratios`` (``{class name: ratio}`` in class order, NaN without counts) and
    ``starved`` (names, lowest ratio first); empty when the result has no class
    record (``config["classes"]``, written by runs since the counts were kept).
    """
    threshold = check_real(threshold, "threshold", low=0.0)
    names = result.class_names
    pool = result.config.get("classes", {}).get("pool_counts")
    if names is None or pool is None or len(pool) != len(names):
        return []
    pool = np.asarray(pool, dtype=np.float64)
    kept = np.flatnonzero(pool > 0)
    pool_share = pool[kept] / pool.sum()
    out = []
    for m in result.methods:
        sizes, counts = result.class_counts(m)
        for s, c in zip(sizes, counts, strict=True):
            have = ~np.isnan(c).any(axis=1)
            ratio = np.full(kept.size, np.nan)
            if have.any():
                ratio = c[have][:, kept].mean(axis=0) / s / pool_share
            low = [i for i in np.argsort(ratio, kind="stable") if ratio[i] < threshold]
            out.append(
                {
                    "method": m,
                    "size": int(s),
                    "n_seeds": int(have.sum()),
                    "ratios": {names[j]: float(r) for j, r in zip(kept, ratio, strict=True)},
                    "starved": [names[kept[i]] for i in low],
                }
            )
    return out


def _share_text(ratio):
    """``ratio`` to 2 decimals, more where rounding would carry it across ``STARVED``."""
    d = 2
    while d < 4 and (ratio < STARVED) != (round(ratio, d) < STARVED):
        d += 1
    return f"{ratio:.{d}f}"


def _escape_cell(text):
    """``text`` for a Markdown table cell: a "|" in a class name would end the cell."""
    return text.replace("|", "\\|")


def _class_balance_lines(result, baseline):
    """The report's "Class balance" section (a note alone when no counts were kept)."""
    rows = class_balance(result)
    lines = ["", "## Class balance", ""]
    if not any(r["n_seeds"] for r in rows):
        return lines + [
            "No per-class counts in this result: its cells were written before they were "
            "recorded, or the table was assembled without its run's config (rerun the cells "
            "with `resume=False` / `--no-resume` to get them)."
        ]
    names = list(rows[0]["ratios"])
    pool = dict(zip(result.class_names, result.config["classes"]["pool_counts"], strict=True))
    n_pool = sum(pool.values())
    sizes = result.sizes
    by = {(r["method"], r["size"]): r for r in rows}
    lines.append(
        "Each class's share of the subset over its share of the training pool (mean over "
        f"seeds; 1 = as in the pool, 0 = none kept); **bold**: starved, under {STARVED:.0%} "
        "of its pool share."
    )

    def cell(m, s, name):
        r = by.get((m, s))
        if r is None or not r["n_seeds"]:
            return "–"
        text = _share_text(r["ratios"][name])
        return f"**{text}**" if name in r["starved"] else text

    lines.append("")
    if len(names) <= _CLASS_ROWS_MAX:
        lines += [
            "Each cell gives " + " / ".join(f"n={s}" for s in sizes) + " in that order.",
            "",
            "| class | pool share | " + " | ".join(result.methods) + " |",
            "|---|---:|" + "---:|" * len(result.methods),
        ]
        for name in names:
            cells = [" / ".join(cell(m, s, name) for s in sizes) for m in result.methods]
            share = f"{pool[name] / n_pool:.1%} ({pool[name]})"
            lines.append(f"| {_escape_cell(name)} | {share} | " + " | ".join(cells) + " |")
    else:
        lines += [
            f"The {_CLASS_LOWEST} most under-represented of the {len(names)} classes.",
            "",
            "| method | " + " | ".join(f"n={s}" for s in sizes) + " |",
            "|---|" + "---|" * len(sizes),
        ]
        for m in result.methods:
            cells = []
            for s in sizes:
                r = by.get((m, s))
                if r is None or not r["n_seeds"]:
                    cells.append("–")
                    continue
                low = sorted(names, key=lambda n, r=r: r["ratios"][n])[:_CLASS_LOWEST]
                cells.append(", ".join(f"{_escape_cell(n)} {cell(m, s, n)}" for n in low))
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append("")
    flagged = []
    for m in result.methods:
        where = []
        for s in sizes:
            r = by.get((m, s))
            if r is None or not r["starved"]:
                continue
            few = ", ".join(
                f"{n} ({_share_text(r['ratios'][n])})" for n in r["starved"][:_CLASS_LOWEST]
            )
            more = len(r["starved"]) - _CLASS_LOWEST
            where.append(f"n = {s}: {few}" + (f" and {more} more" if more > 0 else ""))
        if where:
            flagged.append(m)
            lines.append(f"- **{m}** starves " + "; ".join(where) + ".")
    if not flagged:
        lines.append(f"- No method keeps under {STARVED:.0%} of any class's pool share.")
    if baseline in flagged:
        lines.append(
            f"- {baseline}'s own flags are sampling noise: what chance alone does to a class "
            "with few expected rows at that size."
        )
    if any(m != baseline for m in flagged):
        lines.append(
            "- Coverage methods (facility location, k-center) and score-based ones choose by "
            "the features, not by the classes, so they skew class shares: a starved class is "
            f"one reason such a method can lose to {baseline}."
        )
    return lines


# ---------------------------------------------------------------- number formatting


def _decimals(width):
    """Decimals that show an interval of ``width`` with about two significant digits."""
    if not np.isfinite(width) or width <= 0:
        return 3
    return int(min(6, max(0, 1 - math.floor(math.log10(width)))))


def _num(x, decimals=None, sig=2):
    """``x`` to ``decimals`` places, or to ``sig`` significant digits when None."""
    if x is None or not np.isfinite(x):
        return "∞" if x == math.inf else "–"
    if decimals is None:
        if x == 0:
            return "0"
        decimals = max(0, sig - 1 - math.floor(math.log10(abs(x))))
        if abs(x) >= 1e5 or abs(x) < 1e-4:
            return f"{x:.{sig}g}"
    return f"{x:.{decimals}f}"


def _with_ci(x, ci, *, sig=2):
    """``x [lo, hi]`` rounded to what the interval supports; ``x`` alone without one."""
    if ci is None:
        return _num(x, sig=sig)
    lo, hi = ci
    width = hi - lo if np.isfinite(hi) else abs(x - lo)
    d = _decimals(width)
    return f"{_num(x, d)} [{_num(lo, d)}, {_num(hi, d)}]"


def _ranges(sizes, all_sizes):
    """Consecutive runs of ``sizes`` (within ``all_sizes``) as "100–400, 1600"."""
    idx = sorted(all_sizes.index(s) for s in sizes)
    runs, start = [], None
    for k, i in enumerate(idx):
        if start is None:
            start = i
        if k + 1 == len(idx) or idx[k + 1] != i + 1:
            a, b = all_sizes[start], all_sizes[i]
            runs.append(str(a) if a == b else f"{a}–{b}")
            start = None
    return ", ".join(runs)


def _ratio_text(r):
    ci = r["ratio_ci"]
    if r["beyond"] is not None and ci is None:
        return None
    if np.isnan(r["ratio"]):
        return None
    if ci is None:
        return f"{_num(r['ratio'], 2)}x"
    lo, hi = ci
    d = _decimals(min(hi, 10) - lo)
    # never round an end onto the line at 1 that it does not reach
    while d < 4 and ((hi < 1 <= round(hi, d)) or (lo > 1 >= round(lo, d))):
        d += 1
    lo_s = _num(lo, d) if lo > 0 else "open"
    hi_s = _num(hi, d) if np.isfinite(hi) else "open"
    return f"{_num(r['ratio'], d)}x [{lo_s}, {hi_s}]"


# ---------------------------------------------------------------- the report


def _method_facts(result, m, baseline, rng, n_boot, level):
    eff = data_efficiency(
        result, m, baseline=baseline, n_boot=n_boot, level=level, random_state=rng
    )
    loss = compare_losses(
        result, m, baseline=baseline, n_boot=n_boot, level=level, random_state=rng
    )
    eff = [r for r in eff if r["size"] in result.sizes]
    acc_win = [r for r in eff if r["resolved"] == "less"]
    acc_lose = [r for r in eff if r["resolved"] == "more"]
    loss_win = [r["size"] for r in loss if r["better"] is True]
    loss_lose = [r for r in loss if r["better"] is False]
    return eff, loss, acc_win, acc_lose, loss_win, loss_lose


def _efficiency_phrase(r, baseline):
    if r["beyond"] == "above":
        return f"n = {r['size']}: more accurate than {baseline} at its largest size"
    if r["beyond"] == "below":
        return f"n = {r['size']}: less accurate than {baseline} at its smallest size"
    return f"n = {r['size']}: {_ratio_text(r)}"


def _verdict_lines(result, baseline, facts, exps, base_law, n_seeds, tables=None):
    lines = []
    sizes = result.sizes
    if n_seeds < 2:
        lines.append(
            "**One seed per cell: no interval can be given, so no difference is claimed.** "
            "The numbers below are single runs; rerun with 3 or more seeds to test them."
        )
    actions = []
    for m, (_, _, acc_win, _, _, loss_lose) in facts.items():
        worse_loss = {r["size"] for r in loss_lose}
        good = [r for r in acc_win if r["size"] not in worse_loss]
        if good:
            where = _ranges([r["size"] for r in good], sizes)
            ratios = [r for r in good if r["beyond"] is None]
            how = (
                f"{_ratio_text(ratios[0])}"
                if len(ratios) == 1
                else f"{_num(min(r['ratio'] for r in ratios), 2)}–"
                f"{_num(max(r['ratio'] for r in ratios), 2)}x"
                if ratios
                else "less than any measured size"
            )
            actions.append(
                f"**{m}** needs {how} of {baseline}'s data for the same accuracy at "
                f"n = {where}, with no worse test loss there"
            )
    if actions:
        lines.append("**Use:** " + "; ".join(actions) + ".")
    elif n_seeds >= 2:
        lines.append(
            f"**No method beats {baseline} beyond seed noise at any measured size** (accuracy "
            f"and test loss together, jointly over the sizes): {baseline} costs nothing to "
            "select, so keep it."
        )
        leads = [
            (r["ratio"], m, r)
            for m, t in (tables or {}).items()
            for r in t[2]
            if r["size"] not in {x["size"] for x in t[5]} and not np.isnan(r["ratio"])
        ]
        if leads:
            _, m, r = min(leads, key=lambda x: x[0])
            lines.append(
                f"**To confirm with more seeds:** {m} at n = {r['size']} needs "
                f"{_ratio_text(r)} of {baseline}'s data (a 95% interval for that size alone, "
                f"not corrected for the {len(result.sizes)} sizes)."
            )
    for m, (eff, loss, acc_win, acc_lose, loss_win, loss_lose) in facts.items():
        parts = []
        if n_seeds >= 2:
            if acc_win:
                parts.append(
                    "needs less data for the same accuracy at "
                    + "; ".join(_efficiency_phrase(r, baseline) for r in acc_win)
                )
            if acc_lose:
                parts.append(
                    "needs MORE data than "
                    + baseline
                    + " at "
                    + "; ".join(_efficiency_phrase(r, baseline) for r in acc_lose)
                )
            tied = [r["size"] for r in eff if r not in acc_win and r not in acc_lose]
            if tied:
                parts.append(f"no accuracy difference resolved at n = {_ranges(tied, sizes)}")
            if loss_win:
                parts.append(f"lower test loss at n = {_ranges(loss_win, sizes)}")
            if loss_lose:
                parts.append(
                    "HIGHER test loss than "
                    + baseline
                    + " at "
                    + "; ".join(
                        f"n = {r['size']} ({_num(r['loss'], 2)} vs {_num(r['baseline_loss'], 2)})"
                        for r in loss_lose
                    )
                )
            hint = [
                r for r in loss if r["better"] is None and r["diff"] > 0.05 * r["baseline_loss"]
            ]
            if hint:
                parts.append(
                    "test loss more than 5% higher on average, within seed noise, at "
                    + "; ".join(
                        f"n = {r['size']} ({_num(r['loss'], 2)} vs {_num(r['baseline_loss'], 2)}, "
                        f"difference {_with_ci(r['diff'], r['ci'])})"
                        for r in hint
                    )
                )
        else:
            ratios = [r for r in eff if not np.isnan(r["ratio"])]
            if ratios:
                parts.append(
                    "single-run data ratio "
                    + ", ".join(f"{_num(r['ratio'], 2)}x at n = {r['size']}" for r in ratios)
                )
        ex = exps.get(m)
        if ex is not None:
            parts.append(_exponent_text(ex, baseline))
        lines.append(f"- **{m}** vs {baseline}: " + "; ".join(parts) + ".")
    if base_law is not None and not base_law.reliable:
        lines.append(
            f"- Scaling law: **no reliable law over {sizes[0]}–{sizes[-1]}** for {baseline}'s "
            f"test loss ({base_law.reason}); no exponent is quoted."
        )
    # the lead sentences are paragraphs of their own, the per-method lines a list
    lines = [x for line in lines for x in ((line, "") if line.startswith("**") else (line,))]
    if 2 <= n_seeds < 5:
        lines.append(
            f"- {n_seeds} seeds per cell: the intervals are wide (a bootstrap of {n_seeds} runs, "
            "widened for so few seeds); more seeds would narrow them."
        )
    return lines


def _exponent_text(ex, baseline):
    if ex.verdict == "untested":
        return f"exponent vs constant not tested ({ex.reason})"
    db = _with_ci(ex.delta_beta, ex.delta_beta_ci)
    lr = _with_ci(ex.loss_ratio, ex.loss_ratio_ci)
    n_ref = int(round(ex.n_ref))
    if ex.verdict == "exponent":
        return f"changes the exponent of the loss: β − β({baseline}) = {db}"
    if ex.verdict == "constant":
        return (
            f"moves only the constant: β − β({baseline}) = {db} holds 0, loss × {lr} at n ≈ {n_ref}"
        )
    return f"no resolved change in exponent ({db}) or constant (loss × {lr} at n ≈ {n_ref})"


def _param_cell(fit, name):
    if fit is None:
        return "–"
    if name not in fit.params:
        return "–"
    if fit.family == "power" and name == "C":
        return "0 (this family has no C)"
    why = fit.identified.get(name)
    if why:
        return f"not identified ({why})"
    return _with_ci(fit.params[name], fit.ci.get(name))


def _fit_rows(m, score, cf):
    cand = "; ".join(
        f"{c.family}: {_num(100 * c.error, 1)}%" + ("" if c.passed else " ✗")
        if c.fit is not None
        else f"{c.family}: {c.reason}"
        for c in cf.candidates.values()
    )
    if not cf.reliable:
        law = "**no reliable law**"
        used = "–"
        cells = ["–"] * 3
    else:
        f = cf.fit
        law = f"{cf.family}: {FAMILIES[cf.family][0]}"
        used = ", ".join(map(str, f.sizes))
        cells = [_param_cell(f, k) for k in ("beta", "A", "C")]
        if cf.family == "m4":
            cells[2] += f"; α {_param_cell(f, 'alpha')}; L0 {_param_cell(f, 'L0')}"
    trans = ", ".join(map(str, cf.transient)) or "none"
    return f"| {m} | {score} | {law} | {used} | {trans} | {cand} | " + " | ".join(cells) + " |"


def render_report(
    result,
    *,
    baseline="random",
    fits=None,
    plot=None,
    title=None,
    tolerance=0.05,
    n_boot=200,
    random_state=REPORT_RANDOM_STATE,
) -> str:
    """The report as Markdown text (see :func:`write_report`).

    Parameters
    ----------
    result : ScalingResult
    baseline : str, default "random"
    fits : dict, optional
        ``{method: CurveFit}`` of the test loss from :func:`fit_all`; made here when None.
    plot : path, optional
        PNG to embed.
    title : str, optional
    tolerance : float, default 0.05
        Relative error a law may make on the held-back sizes.
    n_boot : int, default 200
        Bootstrap replicates of every interval.
    random_state : None, int or Generator, default REPORT_RANDOM_STATE
        Seed of the bootstraps: the same result gives the same report.
    """
    if len(result) == 0:
        raise ValueError("result is empty; nothing to report")
    tolerance = check_real(tolerance, "tolerance", low=0.0)
    n_boot = check_int(n_boot, "n_boot", low=0)
    rng = check_random_state(random_state)
    if fits is None:
        fits = fit_all(result, n_boot=n_boot, tolerance=tolerance, random_state=rng)
    _check_fits(fits)
    err_fits = fit_all(result, score="error", n_boot=n_boot, tolerance=tolerance, random_state=rng)
    n_seeds = min(r["n_seeds"] for r in result.summary())
    sizes = result.sizes
    has_base = baseline in result.methods and len(sizes) >= 2
    others = [m for m in result.methods if m != baseline]
    facts, tables, exps = {}, {}, {}
    # the verdict's claims hold jointly over the sizes: Bonferroni-adjusted intervals
    joint = 1 - 0.05 / max(len(sizes), 1)
    if has_base:
        for m in others:
            facts[m] = _method_facts(result, m, baseline, rng, n_boot, joint)
            tables[m] = _method_facts(result, m, baseline, rng, n_boot, 0.95)
            exps[m] = compare_exponents(
                result, m, baseline=baseline, base_fit=fits.get(baseline), n_boot=n_boot,
                random_state=rng,
            )  # fmt: skip

    lines = [f"# {title or 'Scaling report'}", ""]
    if plot is not None:
        lines += [f"![scaling curves]({Path(plot).name})", ""]
    if has_base:
        lines += ["## Verdict", ""]
        lines += _verdict_lines(result, baseline, facts, exps, fits.get(baseline), n_seeds, tables)
        if n_seeds >= 2:
            lines.append(
                f"- The verdict's claims hold jointly over the {len(sizes)} sizes: its intervals "
                f"are simultaneous ({joint:.1%} each, Bonferroni); the tables give 95% per size."
            )
        lines.append("")
    cfg = result.config.get("data", {})
    setup = f"{n_seeds} seed(s) per cell." if n_seeds == _max_seeds(result) else (
        f"{n_seeds} to {_max_seeds(result)} seeds per cell."
    )  # fmt: skip
    if cfg:
        setup = (
            f"Training pool {cfg.get('n_train')} examples, test set {cfg.get('n_test')}; "
            f"{setup[:-1]}; trainer `{result.config.get('trainer', '?')}`."
        )
    lines += [
        "## How to read this",
        "",
        f"{setup} Intervals are 95% percentile bootstraps over seeds ({n_boot} replicates, "
        "widened for few seeds by the t quantile: ×2.7 with 3 seeds); "
        "numbers are rounded to what their interval supports. Data ratio r(n) = n / the "
        f"{baseline} size reaching the same mean accuracy (interpolated in log n, only inside "
        f"{baseline}'s measured sizes; 'open' = the interval leaves that range). A learning "
        "curve law is reported only if, fitted without the largest size, it predicts that "
        f"size within {tolerance:.0%} (or twice the seeds' standard error there, if larger).",
        "",
        "## Mean test accuracy / loss over seeds (± std)",
        "",
        "| method | " + " | ".join(f"n={s}" for s in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    summ = {(r["method"], r["size"]): r for r in result.summary()}
    for m in result.methods:
        cells = []
        for s in sizes:
            r = summ.get((m, s))
            if r is None:
                cells.append("–")
            elif r["n_seeds"] > 1:
                cells.append(
                    f"{r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f} / {r['loss_mean']:.3f}"
                )
            else:
                cells.append(f"{r['accuracy_mean']:.3f} / {r['loss_mean']:.3f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    if has_base and others:
        lines += [
            "",
            f"## Data efficiency against {baseline}: data ratio r(n) (accuracy)",
            "",
            f"Below 1: the method needs less data than {baseline} for the same accuracy.",
            "",
            "| method | " + " | ".join(f"n={s}" for s in sizes) + " |",
            "|---|" + "---:|" * len(sizes),
        ]
        for m in others:
            rows = {r["size"]: r for r in tables[m][0]}
            cells = []
            for s in sizes:
                r = rows.get(s)
                if r is None:
                    cells.append("–")
                elif r["beyond"] == "above":
                    cells.append(f"better than {baseline} at n={sizes[-1]}")
                elif r["beyond"] == "below":
                    cells.append(f"worse than {baseline} at n={sizes[0]}")
                else:
                    cells.append(_ratio_text(r))
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"## Test loss minus {baseline}'s",
            "",
            "| method | " + " | ".join(f"n={s}" for s in sizes) + " |",
            "|---|" + "---:|" * len(sizes),
        ]
        for m in others:
            rows = {r["size"]: r for r in tables[m][1]}
            cells = [
                "–" if s not in rows else _with_ci(rows[s]["diff"], rows[s]["ci"]) for s in sizes
            ]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += _class_balance_lines(result, baseline)
    lines += [
        "",
        "## Learning-curve laws",
        "",
        "Families: "
        + "; ".join(f"`{k}` {f} ({src})" for k, (f, src) in FAMILIES.items())
        + ". Held-back error: each family fitted without the largest size predicts it "
        "(✗: outside the tolerance).",
        "",
        "| method | score | law | sizes fitted | transient | held-back error | β | A | C |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in result.methods:
        for score, cf in (("loss", fits.get(m)), ("error", err_fits.get(m))):
            if cf is not None:
                lines.append(_fit_rows(m, score, cf))
    if exps:
        lines += ["", f"## Exponent or constant (test loss, against {baseline})", ""]
        lines += [f"- **{m}**: {_exponent_text(ex, baseline)}." for m, ex in exps.items()]
    return "\n".join(lines) + "\n"


def _check_fits(fits):
    if not isinstance(fits, dict) or not all(isinstance(f, CurveFit) for f in fits.values()):
        raise TypeError("fits must be a dict {method: CurveFit} as returned by fit_all")


def _max_seeds(result):
    return max(r["n_seeds"] for r in result.summary())


def write_report(
    result,
    path,
    *,
    baseline="random",
    fits=None,
    plot=None,
    title=None,
    tolerance=0.05,
    n_boot=200,
    random_state=REPORT_RANDOM_STATE,
):
    """Write :func:`render_report` to ``path`` atomically and return the path."""
    path = Path(path)
    text = render_report(
        result,
        baseline=baseline,
        fits=fits,
        plot=plot,
        title=title,
        tolerance=tolerance,
        n_boot=n_boot,
        random_state=random_state,
    )
    save_text(path, text)
    return path


def accuracy_table(result, *, width=22) -> str:
    """Plain-text table of mean test accuracy ± std over seeds, a row per method.

    Parameters
    ----------
    result : ScalingResult
    width : int, default 22
        Width of the method column.

    Returns
    -------
    str
    """
    summary = {(r["method"], r["size"]): r for r in result.summary()}
    lines = [f"{'mean test accuracy':{width}s}" + "".join(f"{s:>14d}" for s in result.sizes)]
    for m in result.methods:
        cells = "".join(
            f"{summary[(m, s)]['accuracy_mean']:>8.3f}±{summary[(m, s)]['accuracy_std']:.3f}"
            if (m, s) in summary
            else f"{'-':>14s}"
            for s in result.sizes
        )
        lines.append(f"{m:{width}s}{cells}")
    return "\n".join(lines)


def ratio_table(result, *, baseline="random", width=22) -> str:
    """Plain-text table of each method's data ratio against ``baseline`` (point values).

    ``"above"`` / ``"below"``: the method's accuracy lies outside the baseline's measured
    range (see :func:`~.efficiency.data_efficiency`); the intervals are in the report.

    Parameters
    ----------
    result : ScalingResult
    baseline : str, default "random"
    width : int, default 22

    Returns
    -------
    str
    """
    lines = [f"{'data ratio vs ' + baseline:{width}s}" + "".join(f"{s:>14d}" for s in result.sizes)]
    for m in result.methods:
        if m == baseline:
            continue
        rows = {r["size"]: r for r in data_efficiency(result, m, baseline=baseline, n_boot=0)}
        cells = "".join(
            f"{rows[s]['ratio']:>14.2f}"
            if s in rows and rows[s]["ratio"] == rows[s]["ratio"]
            else f"{(rows[s]['beyond'] or '-') if s in rows else '-':>14s}"
            for s in result.sizes
        )
        lines.append(f"{m:{width}s}{cells}")
    return "\n".join(lines)


def gain_table(result, *, baseline="random", width=22) -> str:
    """Plain-text table of each method's paired gain over ``baseline``, in points.

    Each cell is the mean over seeds of (method - baseline) accuracy on the same seed, ±
    twice its standard error, and the number of pairs; the last column pools every size
    (see :func:`~.efficiency.paired_gain`). A band that excludes 0 is beyond seed noise.

    Parameters
    ----------
    result : ScalingResult
    baseline : str, default "random"
    width : int, default 22

    Returns
    -------
    str
    """
    sizes = list(result.sizes)
    lines = [
        f"{'paired gain vs ' + baseline:{width}s}"
        + "".join(f"{s:>17d}" for s in sizes)
        + f"{'all sizes':>19s}"
    ]
    for m in result.methods:
        if m == baseline:
            continue
        rows = {r["size"]: r for r in paired_gain(result, m, baseline=baseline)}
        lines.append(
            f"{m:{width}s}"
            + "".join(_gain_cell(rows.get(s), 17) for s in sizes)
            + _gain_cell(rows.get(None), 19)
        )
    return "\n".join(lines)


def _gain_cell(row, width):
    """One paired gain in points, ± twice its standard error, and its pair count."""
    if row is None:
        return f"{'-':>{width}s}"
    band = "" if row["se"] != row["se"] else f"±{200 * row['se']:.1f}"
    return f"{100 * row['gain']:+.1f}{band} ({row['n_pairs']})".rjust(width)
