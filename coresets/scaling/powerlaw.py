"""Learning-curve fits of test loss against training-set size, and whether to trust them.

Three families, each fitted in log space (relative error, so every decade of ``n``
counts alike) with a robust loss (``soft_l1``) from several starting points:

``"power"``  ``L(n) = A n^-beta``
    The pure power law of Hestness et al. 2017, "Deep learning scaling is predictable,
    empirically" (arXiv:1712.00409), and Kaplan et al. 2020's ``L(D)`` (arXiv:2001.08361).
``"offset"`` ``L(n) = A n^-beta + C`` with ``0 <= C <= min L``
    The power law with an irreducible loss ``C`` (Hestness et al. 2017; M2 of
    Alabdulmohsin, Neyshabur and Zhai 2022, "Revisiting neural scaling laws in language
    and vision", NeurIPS, arXiv:2209.06640).
``"m4"``     ``(L - C) / (L0 - L)^alpha = B n^-beta`` with ``0 <= C < min L < max L < L0``
    Alabdulmohsin et al. 2022's M4: a power law that saturates at the random-guess loss
    ``L0`` for small ``n`` (the transient) and tends to ``A n^-beta + C`` with
    ``A = B (L0 - C)^alpha`` for large ``n``. ``L0`` is fitted unless given, as in the
    authors' estimator. It is fitted here, as they do, on
    ``log(L - C) - alpha log(L0 - L) = log B - beta log n``, each residual divided by
    the derivative of its left side in ``log L`` so that all families are compared in
    the same units; predictions solve the equation for ``L``.

:func:`fit_power_law` fits one family. :func:`fit_curve` decides whether any of them
can be believed: it finds the transient (small-data) region, where the log-log curve is
still concave (bending down; no power law with ``A, C >= 0`` is concave there), fits
``"power"`` and ``"offset"`` only past it and ``"m4"`` on every size, holds back the
largest size(s), and keeps the family that predicts them within a stated tolerance
("no reliable law over this range" when none does). :func:`compare_exponents` asks
whether a method changes the exponent or only the constant, by a bootstrap over seeds.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from .._validation import (
    check_finite,
    check_int,
    check_numeric,
    check_option,
    check_random_state,
    check_real,
)

__all__ = [
    "FAMILIES",
    "bootstrap_interval",
    "Candidate",
    "CurveFit",
    "ExponentTest",
    "PowerLawFit",
    "compare_exponents",
    "fit_curve",
    "fit_power_law",
    "group_by_size",
]

#: Family name -> (formula, source).
FAMILIES = {
    "power": ("A·n^-β", "Hestness et al. 2017; Kaplan et al. 2020"),
    "offset": ("A·n^-β + C", "Hestness et al. 2017; Alabdulmohsin et al. 2022 (M2)"),
    "m4": ("(L − C)/(L0 − L)^α = B·n^-β", "Alabdulmohsin et al. 2022 (M4)"),
}
#: Upper bound on exponents (beta, alpha): an estimate stuck there is not identified.
MAX_EXPONENT = 10.0
#: A positive parameter whose interval spans more than this factor is not identified.
MAX_SPAN = 10.0
_BISECT_STEPS = 48


# ---------------------------------------------------------------- one family


@dataclass(frozen=True)
class PowerLawFit:
    """A fitted learning curve, ``L(n) ~ A * n**(-beta) + C`` at large ``n``.

    Attributes
    ----------
    A, beta, C : float
        Coefficient, exponent and offset (``C = 0`` for ``"power"``; for ``"m4"`` the
        large-``n`` form's ``A = B (L0 - C)^alpha`` and ``C``).
    ci : dict
        ``{name: (lo, hi)}`` percentile bootstrap intervals (over seeds) at ``level`` for
        every name in ``params``; empty with one seed or ``n_boot=0``.
    level : float
    n_boot : int
        Bootstrap replicates that converged.
    family : {"power", "offset", "m4"}
    params : dict
        Every parameter by name: ``A``, ``beta``, ``C``, and for ``"m4"`` also ``alpha``,
        ``L0`` and ``B``.
    sizes : tuple of int
        The sizes the fit used.
    n_seeds : int
        The most seeds at any fitted size.
    identified : dict
        ``{name: None}`` when the data pin the parameter down, else the reason it is
        not identified (its interval hits a constraint, or spans more than a factor
        ``MAX_SPAN``, or the estimate sits on a bound).
    """

    A: float
    beta: float
    C: float
    ci: dict = field(default_factory=dict)
    level: float = 0.95
    n_boot: int = 0
    family: str = "offset"
    params: dict = field(default_factory=dict)
    sizes: tuple = ()
    n_seeds: int = 1
    identified: dict = field(default_factory=dict)
    _theta: tuple = field(default=(), repr=False)
    _n0: float = field(default=1.0, repr=False)
    _e0_given: float | None = field(default=None, repr=False)

    def __call__(self, n):
        """Predicted loss at size(s) ``n``."""
        n = np.asarray(n, dtype=np.float64)
        if self._theta:
            return _predict(self.family, np.asarray(self._theta), n / self._n0, self._e0_given)
        return self.A * n ** (-self.beta) + self.C

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return {
            "family": self.family,
            "A": self.A,
            "beta": self.beta,
            "C": self.C,
            "params": dict(self.params),
            "ci": {k: list(v) for k, v in self.ci.items()},
            "identified": dict(self.identified),
            "level": self.level,
            "n_boot": self.n_boot,
            "sizes": list(self.sizes),
            "n_seeds": self.n_seeds,
        }


def group_by_size(sizes, values, name="losses"):
    """Return ``(unique_sizes, [values at each size])`` from long or wide input.

    ``values`` is either 1-D with one entry per ``sizes`` entry (sizes may repeat, one
    row per seed) or 2-D of shape ``(len(sizes), n_seeds)``; NaNs are dropped.
    """
    s, v = np.asarray(sizes), np.asarray(values)
    check_numeric(s, "sizes")  # strings would otherwise be parsed as numbers
    check_numeric(v, name)
    s, v = s.astype(np.float64), v.astype(np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"sizes must be a non-empty 1-D array, got shape {s.shape}")
    check_finite(s, "sizes")
    if (s <= 0).any():
        raise ValueError("sizes must be positive")
    if v.ndim == 2 and v.shape[0] == s.size:
        pairs = [(s[i], row[~np.isnan(row)]) for i, row in enumerate(v)]
    elif v.shape == s.shape:
        pairs = [(u, v[(s == u) & ~np.isnan(v)]) for u in np.unique(s)]
    else:
        raise ValueError(f"{name} must have shape {s.shape} or ({s.size}, n_seeds), got {v.shape}")
    pairs = sorted(((u, x) for u, x in pairs if x.size), key=lambda p: p[0])
    if not pairs:
        raise ValueError(f"{name} holds no values: every entry is NaN")
    for _, x in pairs:
        check_finite(x, name)
    merged: dict = {}
    for u, x in pairs:
        merged[u] = np.concatenate([merged[u], x]) if u in merged else x
    return np.array(list(merged)), list(merged.values())


def bootstrap_interval(reps, point, n_seeds, level=0.95, *, log=False, method="linear"):
    """Percentile bootstrap interval over seeds, widened for few seeds.

    Resampling ``k`` runs with replacement spreads a mean by ``sqrt((k - 1) / k)`` of its
    standard error, and a normal quantile understates the ``k - 1`` degrees of freedom
    of a ``k``-run estimate; with 3 seeds a plain percentile interval is less than half
    as wide as it should be and calls noise a difference. The replicates' deviations from
    ``point`` are therefore scaled by ``t_{k-1} / z * sqrt(k / (k - 1))`` (2.7 for 3
    seeds, 1.6 for 5, 1.2 for 10) before the percentiles are taken (in log space when
    ``log``; zero and infinite replicates, open ends, are kept as they are).

    Parameters
    ----------
    reps : array-like, shape (n_boot,)
    point : float
        The estimate on the original data.
    n_seeds : int
        Seeds per cell (the fewest, when they differ); at least 2.
    level : float, default 0.95
    log : bool, default False
    method : str, default "linear"
        ``numpy.percentile``'s; the lower end uses ``"lower"`` and the upper
        ``"higher"`` when ``method="outward"``.

    Returns
    -------
    (lo, hi) : tuple of float
    """
    from scipy.stats import norm, t

    k = check_int(n_seeds, "n_seeds", low=2)
    r = np.asarray(reps, dtype=np.float64)
    factor = t.ppf((1 + level) / 2, k - 1) / norm.ppf((1 + level) / 2) * math.sqrt(k / (k - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        if log and point > 0 and np.isfinite(point):
            finite = (r > 0) & np.isfinite(r)
            out = r.copy()
            out[finite] = point * np.exp(factor * np.log(r[finite] / point))
        elif np.isfinite(point):
            finite = np.isfinite(r)
            out = r.copy()
            out[finite] = point + factor * (r[finite] - point)
        else:
            out = r
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    if method == "outward":
        return (
            float(np.percentile(out, q[0], method="lower")),
            float(np.percentile(out, q[1], method="higher")),
        )
    lo, hi = np.percentile(out, q)
    return float(lo), float(hi)


def _n_params(family, e0):
    return {"power": 2, "offset": 3, "m4": 4 if e0 is not None else 5}[family]


def _m4_solve(t, alpha, span):
    """``w`` in ``(0, span)`` with ``log w - alpha log(span - w) = t`` (bisection on logit)."""
    t = np.asarray(t, dtype=np.float64)
    # u = w / span: log u - alpha log(1 - u) = t - (1 - alpha) log span, increasing in u
    target = t - (1.0 - alpha) * math.log(span)
    lo = np.full(t.shape, -60.0)
    hi = np.full(t.shape, 60.0)
    for _ in range(_BISECT_STEPS):
        z = 0.5 * (lo + hi)
        log_u = -np.logaddexp(0.0, -z)
        log_1mu = -np.logaddexp(0.0, z)
        up = log_u - alpha * log_1mu > target
        hi = np.where(up, z, hi)
        lo = np.where(up, lo, z)
    z = 0.5 * (lo + hi)
    return span / (1.0 + np.exp(-z))


def _unpack_m4(theta, e0):
    if e0 is None:
        c, L0, alpha, a, beta = theta
    else:
        c, alpha, a, beta = theta
        L0 = e0
    return float(c), float(L0), float(alpha), float(a), float(beta)


def _predict(family, theta, x, e0=None):
    """Prediction at scaled sizes ``x = n / n0`` from the internal parameters."""
    logx = np.log(x)
    if family == "power":
        a, beta = theta
        return np.exp(a - beta * logx)
    if family == "offset":
        a, beta, c = theta
        return np.exp(a - beta * logx) + c
    c, L0, alpha, a, beta = _unpack_m4(theta, e0)
    return c + _m4_solve(a - beta * logx, alpha, L0 - c)


def _residuals(family, theta, logx, y, e0):
    if family == "power":
        a, beta = theta
        return a - beta * logx - np.log(y)
    if family == "offset":
        a, beta, c = theta
        return np.log(np.exp(a - beta * logx) + c) - np.log(y)
    c, L0, alpha, a, beta = _unpack_m4(theta, e0)
    g = np.log(y - c) - alpha * np.log(L0 - y) - (a - beta * logx)
    slope = y * (1.0 / (y - c) + alpha / (L0 - y))  # d(left side) / d(log y)
    return g / slope


def _jacobian(family, logx, e0):
    """Analytic Jacobian of :func:`_residuals` ("2-point" differences for ``"m4"``)."""
    if family == "power":
        J = np.column_stack([np.ones_like(logx), -logx])
        return lambda theta: J
    if family == "offset":

        def jac(theta):
            a, beta, c = theta
            u = np.exp(a - beta * logx)
            return np.column_stack([u, -logx * u, np.ones_like(u)]) / (u + c)[:, None]

        return jac
    return "2-point"


def _bounds_and_starts(family, logx, y, e0):
    """``(lower, upper, starts)`` in the internal parametrisation."""
    ymin, ymax = float(y.min()), float(y.max())
    slope = -np.polyfit(logx, np.log(y), 1)[0] if logx.size > 1 else 0.5
    betas = sorted({float(np.clip(slope, 0.05, 3.0)), 0.3, 1.0})
    if family == "power":
        lo, hi = [-np.inf, 0.0], [np.inf, MAX_EXPONENT]
        starts = [[float(np.mean(np.log(y) + b * logx)), b] for b in betas]
        return lo, hi, starts
    if family == "offset":
        lo, hi = [-np.inf, 0.0, 0.0], [np.inf, MAX_EXPONENT, ymin]
        starts = []
        for b in betas:
            for frac in (0.0, 0.5, 0.9):
                c = frac * ymin
                starts.append([float(np.mean(np.log(y - c + 1e-12 * ymin) + b * logx)), b, c])
        return lo, hi, starts
    c_hi = ymin * (1.0 - 1e-6)
    lo = [0.0, 0.0, -np.inf, 0.0]
    hi = [c_hi, MAX_EXPONENT, np.inf, MAX_EXPONENT]
    l0_starts = [e0] if e0 is not None else [ymax * 1.1, ymax * 2.0]
    if e0 is None:
        lo.insert(1, ymax * (1.0 + 1e-6))
        hi.insert(1, ymax * 100.0)
    starts = []
    for L0 in l0_starts:
        for frac in (0.0, 0.6):
            c = frac * ymin
            for alpha in (0.7,):
                lhs = np.log(y - c) - alpha * np.log(L0 - y)
                b = float(np.clip(-np.polyfit(logx, lhs, 1)[0], 0.05, 3.0))
                a = float(np.mean(lhs + b * logx))
                starts.append([c, alpha, a, b] if e0 is not None else [c, L0, alpha, a, b])
    return lo, hi, starts


def _inside(s, lo, hi):
    """``s`` moved strictly inside the finite bounds (least_squares needs a feasible start)."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    pad_lo = np.where(np.isfinite(lo), lo + 1e-9 * (1 + np.abs(np.nan_to_num(lo))), -np.inf)
    pad_hi = np.where(np.isfinite(hi), hi - 1e-9 * (1 + np.abs(np.nan_to_num(hi))), np.inf)
    return np.minimum(np.maximum(s, pad_lo), pad_hi)


def _fit_theta(family, logx, y, e0, f_scale, starts=None):
    """Best of several robust least-squares starts: ``(theta, cost)``; RuntimeError if none."""
    lo, hi, default_starts = _bounds_and_starts(family, logx, y, e0)
    starts = default_starts if starts is None else starts
    best = None
    for s in starts:
        s = _inside(np.asarray(s, dtype=np.float64), lo, hi)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                r = least_squares(
                    lambda t: _residuals(family, t, logx, y, e0),
                    s,
                    jac=_jacobian(family, logx, e0),
                    bounds=(lo, hi),
                    loss="soft_l1",
                    f_scale=f_scale,
                    max_nfev=100 * len(s),
                )
        except ValueError:
            continue
        if not np.isfinite(r.cost) or not np.all(np.isfinite(r.x)):
            continue
        if best is None or r.cost < best[1]:
            best = (r.x, float(r.cost))
    if best is None:
        raise RuntimeError(f"no start of the {family!r} fit converged")
    return best


def _named(family, theta, n0, e0):
    """Public parameters from internal ones (sizes back in original units)."""
    if family == "power":
        a, beta = theta
        return {"A": float(math.exp(a) * n0**beta), "beta": float(beta), "C": 0.0}
    if family == "offset":
        a, beta, c = theta
        return {"A": float(math.exp(a) * n0**beta), "beta": float(beta), "C": float(c)}
    c, L0, alpha, a, beta = _unpack_m4(theta, e0)
    B = math.exp(a) * n0**beta
    return {
        "A": float(B * (L0 - c) ** alpha),
        "beta": float(beta),
        "C": float(c),
        "alpha": float(alpha),
        "L0": float(L0),
        "B": float(B),
    }


def _f_scale(groups, means):
    """Robust-loss scale: the typical relative standard error of a size's mean."""
    rel = [
        g.std(ddof=1) / math.sqrt(g.size) / m
        for g, m in zip(groups, means, strict=True)
        if g.size > 1
    ]
    return float(np.clip(np.median(rel), 1e-3, 0.2)) if rel else 0.02


def _identified(family, params, ci, ymin, e0):
    """``{name: None or reason}`` (see :class:`PowerLawFit`)."""
    bounds = {"beta": (0.0, MAX_EXPONENT), "C": (0.0, ymin), "alpha": (0.0, MAX_EXPONENT)}
    if family == "power":
        bounds.pop("C")
    out = {}
    for name, value in params.items():
        if family == "power" and name == "C":
            continue
        if name == "L0" and e0 is not None:
            continue
        reason = None
        lo_b, hi_b = bounds.get(name, (None, None))
        tol = 1e-3 * (hi_b - lo_b) if lo_b is not None else 0.0
        interval = ci.get(name)
        probe = [value] + (list(interval) if interval else [])
        if lo_b is not None and any(v <= lo_b + tol for v in probe):
            reason = f"{'interval reaches' if interval else 'estimate at'} its bound {lo_b:g}"
        elif lo_b is not None and any(v >= hi_b - tol for v in probe):
            reason = f"{'interval reaches' if interval else 'estimate at'} its bound {hi_b:.3g}"
        elif interval and name != "B":
            lo, hi = interval
            if lo <= 0 or hi / lo > MAX_SPAN:
                reason = f"interval [{lo:.2g}, {hi:.2g}] spans more than a factor {MAX_SPAN:g}"
        out[name] = reason
    return out


def _prepare(sizes, losses):
    n, groups = group_by_size(sizes, losses)
    lowest = min(float(g.min()) for g in groups)
    if lowest <= 0:
        raise ValueError(
            f"losses must be non-negative, and above 0 to be fitted in log space, got min "
            f"{lowest:.4g}; pass losses or error rates, not log-losses or differences"
        )
    return n, groups


def _fit_groups(family, n, groups, *, n_boot, level, rng, e0, min_extra=1):
    """Fit ``family`` to grouped losses; bootstrap over seeds for the intervals."""
    p = _n_params(family, e0)
    if n.size < p + min_extra:
        raise ValueError(
            f"sizes must hold at least {p + min_extra} distinct sizes to fit the {p} "
            f"parameters of the {family!r} family with {min_extra} to spare, got {n.size}"
        )
    means = np.array([g.mean() for g in groups])
    if family == "m4" and e0 is not None and not means.max() < e0:
        raise ValueError(f"e0 must exceed every mean loss ({means.max():.4g}), got {e0:g}")
    n0 = float(n.min())
    logx = np.log(n / n0)
    fs = _f_scale(groups, means)
    try:
        theta, _ = _fit_theta(family, logx, means, e0, fs)
    except RuntimeError as exc:
        raise ValueError(f"losses could not be fitted by the {family!r} family: {exc}") from None
    params = _named(family, theta, n0, e0)
    n_seeds = max(g.size for g in groups)
    reps = []
    if n_seeds > 1:
        for _ in range(n_boot):
            y = np.array([g[rng.integers(0, g.size, g.size)].mean() for g in groups])
            try:
                t, _ = _fit_theta(family, logx, y, e0, fs, starts=[theta])
            except RuntimeError:  # a replicate that does not converge is dropped
                continue
            reps.append(_named(family, t, n0, e0))
    ci = {}
    if reps:
        k = min(g.size for g in groups)
        for key in params:
            lo, hi = bootstrap_interval(
                [r[key] for r in reps], params[key], max(k, 2), level, log=key in ("A", "B")
            )
            if key in ("beta", "C", "alpha"):  # a widened interval stays inside the bounds
                lo = max(lo, 0.0)
            ci[key] = (lo, hi)
    return PowerLawFit(
        A=params["A"],
        beta=params["beta"],
        C=params["C"],
        ci=ci,
        level=float(level),
        n_boot=len(reps),
        family=family,
        params=params,
        sizes=tuple(int(s) for s in n),
        n_seeds=int(n_seeds),
        identified=_identified(family, params, ci, float(means.min()), e0),
        _theta=tuple(float(t) for t in theta),
        _n0=n0,
        _e0_given=e0,
    )


def fit_power_law(
    sizes,
    losses,
    *,
    family="offset",
    n_boot=200,
    level=0.95,
    e0=None,
    random_state=None,
) -> PowerLawFit:
    """Fit one learning-curve family to the mean loss at each size.

    The point estimate fits the mean over seeds at each size, in log space with a robust
    loss, from several starts. Intervals come from a bootstrap over seeds: each replicate
    resamples, at every size, that size's seeds with replacement and refits. One seed
    gives no interval (``ci`` is empty): the spread of a single run is unknown.

    Parameters
    ----------
    sizes : array-like, shape (m,)
        Training-set sizes (repeated per seed in long form).
    losses : array-like, shape (m,) or (m, n_seeds)
        Test losses (or error rates), positive; NaN entries are ignored.
    family : {"power", "offset", "m4"}, default "offset"
        See the module docstring. A family with ``p`` parameters needs ``p + 1``
        distinct sizes (a fit with as many sizes as parameters only interpolates).
    n_boot : int, default 200
        Bootstrap replicates (0 skips the intervals).
    level : float, default 0.95
    e0 : float, optional
        ``"m4"`` only: the loss of a model that learnt nothing (random guessing), above
        every loss; fitted when None.
    random_state : None, int or Generator, default None
        Seed of the bootstrap only (the point estimate draws nothing).

    Returns
    -------
    PowerLawFit
    """
    check_option(family, tuple(FAMILIES), "family")
    n_boot = check_int(n_boot, "n_boot", low=0)
    level = check_real(level, "level", low=0.0, high=1.0)
    if e0 is not None:
        e0 = check_real(e0, "e0", low=0.0)
    n, groups = _prepare(sizes, losses)
    rng = check_random_state(random_state)
    return _fit_groups(family, n, groups, n_boot=n_boot, level=level, rng=rng, e0=e0)


# ---------------------------------------------------------------- which law to trust


@dataclass(frozen=True)
class Candidate:
    """One family's extrapolation check in :func:`fit_curve`.

    Attributes
    ----------
    family : str
    fit : PowerLawFit or None
        Fitted without the held-back sizes (None when it could not be fitted).
    held_sizes, predicted, observed : tuple of float
        The held-back sizes, the fit's prediction there and the observed mean loss.
    error : float
        Largest relative error ``|predicted / observed - 1|`` over the held-back sizes
        (NaN when not fitted).
    passed : bool
        ``error <= tolerance``.
    reason : str
        Why it was not fitted or did not pass ("" when it passed).
    """

    family: str
    fit: PowerLawFit | None
    held_sizes: tuple
    predicted: tuple
    observed: tuple
    error: float
    passed: bool
    reason: str


@dataclass(frozen=True)
class CurveFit:
    """The learning-curve law of one curve that survived an extrapolation check.

    Attributes
    ----------
    sizes, means : tuple
        Every measured size and its mean loss.
    n_seeds : int
    transient : tuple of int
        Sizes flagged as the transient (small-data) region: the log-log curve is still
        concave there, so ``"power"`` and ``"offset"`` were not fitted to them.
    candidates : dict
        ``{family: Candidate}``.
    family : str or None
        The family chosen: the simplest whose held-back error is within the tolerance
        and within half the tolerance of the best; None: no reliable law.
    fit : PowerLawFit or None
        The chosen family refitted on all its sizes (held-back ones included), with
        bootstrap intervals. None when no law is reliable.
    tolerance : float
        The relative error allowed on the held-back sizes (the stated tolerance, or
        twice the seeds' relative standard error there when that is larger).
    reason : str
        Why no law is reliable ("" when one is).
    """

    sizes: tuple
    means: tuple
    n_seeds: int
    transient: tuple
    candidates: dict
    family: str | None
    fit: PowerLawFit | None
    tolerance: float
    reason: str

    @property
    def reliable(self) -> bool:
        """Whether a family extrapolated to the held-back sizes within the tolerance."""
        return self.fit is not None

    @property
    def checked(self) -> Candidate | None:
        """The chosen family's held-back check (its fit is what the plot draws)."""
        return self.candidates.get(self.family) if self.family else None

    @property
    def power_sizes(self) -> tuple:
        """Sizes past the transient region."""
        return tuple(s for s in self.sizes if s not in self.transient)


def _pooled_rel_var(groups, means):
    """Relative variance of one seed's loss, pooled over sizes (0 with one seed)."""
    num = sum(float(((g / m - 1.0) ** 2).sum()) for g, m in zip(groups, means, strict=True))
    dof = sum(g.size - 1 for g in groups)
    return num / dof if dof else 0.0


def _transient(n, groups, z=3.0, floor=0.05):
    """How many leading sizes are transient: up to the last place the log-log curve bends down.

    A power law (with ``A, C >= 0``) is convex or straight in log-log coordinates: its
    local slope never steepens. Where three consecutive sizes show a steepening beyond
    ``z`` standard errors (from the seeds' relative variance, pooled over sizes) and
    beyond ``floor`` in slope (the only test one seed allows), no such law holds up to
    the middle one; the power-law region starts there at the earliest. Returns
    ``len(n)`` when the last three sizes still bend down.
    """
    logn = np.log(n)
    means = np.array([g.mean() for g in groups])
    y = np.log(means)
    var = _pooled_rel_var(groups, means) / np.array([g.size for g in groups], dtype=np.float64)
    start = 0
    for i in range(n.size - 2):
        h1, h2 = logn[i + 1] - logn[i], logn[i + 2] - logn[i + 1]
        d = (y[i + 2] - y[i + 1]) / h2 - (y[i + 1] - y[i]) / h1  # < 0: steepening
        sd = math.sqrt(var[i + 2] / h2**2 + var[i + 1] * (1 / h1 + 1 / h2) ** 2 + var[i] / h1**2)
        if d < -max(z * sd, floor):
            start = i + 1
    return int(n.size) if start and start == n.size - 2 else start


def fit_curve(
    sizes,
    losses,
    *,
    families=("power", "offset", "m4"),
    holdout=1,
    tolerance=0.05,
    n_boot=200,
    level=0.95,
    e0=None,
    random_state=None,
) -> CurveFit:
    """Choose a learning-curve family by how well it extrapolates, or say none does.

    1. The transient region is found (see :attr:`CurveFit.transient`); ``"power"`` and
       ``"offset"`` are fitted past it, ``"m4"`` (which models it) on every size.
    2. The largest ``holdout`` sizes are held back; each family is fitted to the rest
       (it needs more sizes than parameters) and predicts them.
    3. A family passes when its largest relative error there is within the tolerance:
       ``tolerance``, or twice the relative standard error of the held-back means over
       seeds when that is larger. Of those that pass, the simplest within half the
       tolerance of the best is chosen and refitted on all its sizes with bootstrap
       intervals. None passing: ``fit`` is None and ``reason`` says why.

    Parameters
    ----------
    sizes : array-like, shape (m,)
    losses : array-like, shape (m,) or (m, n_seeds)
        Positive test losses (or error rates); NaN entries are ignored.
    families : sequence of {"power", "offset", "m4"}
    holdout : int, default 1
        How many of the largest sizes are held back.
    tolerance : float, default 0.05
        Relative error allowed on the held-back sizes (0.05 = 5% of the loss).
    n_boot : int, default 200
    level : float, default 0.95
    e0 : float, optional
        Random-guess loss for ``"m4"`` (fitted when None).
    random_state : None, int or Generator

    Returns
    -------
    CurveFit
    """
    if isinstance(families, str) or not families:
        raise ValueError("families must be a non-empty sequence of family names")
    families = [check_option(f, tuple(FAMILIES), "families") for f in families]
    holdout = check_int(holdout, "holdout", low=1)
    tolerance = check_real(tolerance, "tolerance", low=0.0)
    n_boot = check_int(n_boot, "n_boot", low=0)
    level = check_real(level, "level", low=0.0, high=1.0)
    if e0 is not None:
        e0 = check_real(e0, "e0", low=0.0)
    n, groups = group_by_size(sizes, losses)
    means = np.array([g.mean() for g in groups])
    n_seeds = max(g.size for g in groups)
    lowest = min(float(g.min()) for g in groups)
    if lowest < 0:
        raise ValueError(
            f"losses must be non-negative, got min {lowest:.4g}; pass losses or error rates, "
            "not log-losses or differences"
        )
    if lowest == 0:
        # a perfect cell (loss or error 0) is data, not an error, but it has no logarithm
        return CurveFit(
            tuple(int(s) for s in n), tuple(float(v) for v in means), int(n_seeds), (), {},
            None, None, tolerance, "a value of 0 at some size cannot be fitted in log space",
        )  # fmt: skip
    rng = check_random_state(random_state)
    start = _transient(n, groups)
    transient = tuple(int(s) for s in n[:start])
    held = slice(n.size - holdout, n.size) if holdout < n.size else slice(n.size, n.size)
    held_n, held_y = n[held], means[held]
    se = [
        groups[i].std(ddof=1) / math.sqrt(groups[i].size) / means[i] if groups[i].size > 1 else 0.0
        for i in range(held.start, n.size)
    ]
    tol = max(tolerance, 2.0 * max(se, default=0.0))
    cands = {}
    for fam in families:
        first = 0 if fam == "m4" else start
        if fam == "m4" and e0 is not None and not means.max() < e0:
            cands[fam] = Candidate(fam, None, (), (), (), float("nan"), False, "e0 below a loss")
            continue
        fit_n = n[first : held.start]
        fit_g = groups[first : held.start]
        p = _n_params(fam, e0)
        where = "past the transient" if first else "measured"
        if held_n.size == 0 or fit_n.size < p + 1:
            need = p + 1 + holdout
            cands[fam] = Candidate(
                fam, None, (), (), (), float("nan"), False,
                f"needs {need} sizes {where} ({p} parameters, one to spare, {holdout} held "
                f"back), has {n.size - first}",
            )  # fmt: skip
            continue
        try:
            f = _fit_groups(fam, fit_n, fit_g, n_boot=0, level=level, rng=rng, e0=e0)
        except ValueError as exc:
            cands[fam] = Candidate(fam, None, (), (), (), float("nan"), False, str(exc))
            continue
        pred = f(held_n)
        err = float(np.max(np.abs(pred / held_y - 1.0)))
        ok = bool(np.isfinite(err) and err <= tol)
        cands[fam] = Candidate(
            fam, f, tuple(float(s) for s in held_n), tuple(float(v) for v in pred),
            tuple(float(v) for v in held_y), err, ok,
            "" if ok else f"misses the held-back mean by {err:.0%} (tolerance {tol:.0%})",
        )  # fmt: skip
    passed = [c for c in cands.values() if c.passed]
    family, fit, reason = None, None, ""
    if passed:
        best = min(c.error for c in passed)
        order = sorted(passed, key=lambda c: (_n_params(c.family, e0), c.error))
        family = next(c.family for c in order if c.error <= best + tol / 2)
        first = 0 if family == "m4" else start
        fit = _fit_groups(
            family, n[first:], groups[first:], n_boot=n_boot, level=level, rng=rng, e0=e0
        )
    elif start >= n.size:
        reason = (
            f"the log-log curve still bends down at every size up to {int(n[-1])}: "
            "the whole range is transient"
        )
    else:
        reason = "; ".join(f"{c.family}: {c.reason}" for c in cands.values())
    return CurveFit(
        sizes=tuple(int(s) for s in n),
        means=tuple(float(m) for m in means),
        n_seeds=int(n_seeds),
        transient=transient,
        candidates=cands,
        family=family,
        fit=fit,
        tolerance=float(tol),
        reason=reason,
    )


# ---------------------------------------------------------------- exponent or constant


@dataclass(frozen=True)
class ExponentTest:
    """Does a method change the exponent of the baseline's law, or only its constant?

    Attributes
    ----------
    method, baseline : str
    family : str or None
        The baseline's law, fitted to both curves on the same sizes.
    sizes : tuple of int
        Those sizes.
    delta_beta : float
        ``beta(method) - beta(baseline)``: above 0 the method's loss falls faster.
    delta_beta_ci : tuple or None
    loss_ratio : float
        ``L_method(n_ref) / L_baseline(n_ref)`` of the two fits at ``n_ref`` (the
        geometric middle of ``sizes``): the constant, below 1 the method is better.
    loss_ratio_ci : tuple or None
    n_ref : float
    n_boot : int
    verdict : {"exponent", "constant", "none", "untested"}
        ``"exponent"``: the interval of ``delta_beta`` excludes 0; ``"constant"``: it
        holds 0 and the interval of ``loss_ratio`` excludes 1; ``"none"``: neither;
        ``"untested"``: see ``reason``.
    reason : str
    """

    method: str
    baseline: str
    family: str | None
    sizes: tuple
    delta_beta: float
    delta_beta_ci: tuple | None
    loss_ratio: float
    loss_ratio_ci: tuple | None
    n_ref: float
    n_boot: int
    verdict: str
    reason: str = ""


def _curve_groups(result, method, score):
    sizes, vals = result.curve(method, "accuracy" if score == "error" else "loss")
    if score == "error":
        vals = 1.0 - vals
    return _prepare(sizes, vals)


def compare_exponents(
    result,
    method,
    *,
    baseline="random",
    score="loss",
    base_fit=None,
    n_boot=200,
    level=0.95,
    random_state=None,
) -> ExponentTest:
    """Bootstrap test over seeds: does ``method`` change the exponent or only the constant?

    The baseline's reliable law (``base_fit``, from :func:`fit_curve` when omitted) is
    fitted to both curves on the sizes both measured within the baseline's fitted
    range. Each replicate resamples, at every size and for each method, the seeds with
    replacement and refits both; the intervals are percentiles of ``delta_beta`` and
    ``loss_ratio`` (see :class:`ExponentTest`).

    Parameters
    ----------
    result : ScalingResult
    method, baseline : str
    score : {"loss", "error"}, default "loss"
    base_fit : CurveFit, optional
    n_boot : int, default 200
    level : float, default 0.95
    random_state : None, int or Generator

    Returns
    -------
    ExponentTest
    """
    check_option(score, ("loss", "error"), "score")
    n_boot = check_int(n_boot, "n_boot", low=0)
    level = check_real(level, "level", low=0.0, high=1.0)
    for name, m in (("method", method), ("baseline", baseline)):
        if m not in result.methods:
            raise ValueError(f"{name} {m!r} is not in the result; it has {result.methods}")
    rng = check_random_state(random_state)

    def untested(reason, family=None, sizes=()):
        nan = float("nan")
        return ExponentTest(
            method, baseline, family, sizes, nan, None, nan, nan, nan, 0, "untested", reason
        )

    try:
        nb, gb = _curve_groups(result, baseline, score)
        nm, gm = _curve_groups(result, method, score)
    except ValueError as exc:  # a loss of 0 somewhere: no log-space law to compare
        return untested(str(exc).split(";")[0])
    if base_fit is None:
        base_fit = fit_curve(nb, _wide(gb), n_boot=0, random_state=rng)

    if not base_fit.reliable:
        return untested(f"{baseline} has no reliable law over this range")
    family = base_fit.family
    common = [s for s in base_fit.fit.sizes if s in set(int(v) for v in nm)]
    p = _n_params(family, None)
    if len(common) < p + 1:
        return untested(f"{method} shares {len(common)} of the law's sizes, needs {p + 1}")
    pick_b = [gb[list(nb).index(s)] for s in common]
    pick_m = [gm[list(nm).index(s)] for s in common]
    n = np.array(common, dtype=np.float64)
    n0 = float(n.min())
    logx = np.log(n / n0)
    n_ref = float(np.exp(np.log(n).mean()))
    x_ref = np.array([n_ref / n0])

    def fit_pair(yb, ym, starts=None):
        out = []
        for y, s in ((yb, starts[0] if starts else None), (ym, starts[1] if starts else None)):
            theta, _ = _fit_theta(family, logx, y, None, 0.02, starts=None if s is None else [s])
            out.append(theta)
        return out

    mb = np.array([g.mean() for g in pick_b])
    mm = np.array([g.mean() for g in pick_m])
    try:
        tb, tm = fit_pair(mb, mm)
    except RuntimeError as exc:
        return untested(str(exc), family, tuple(common))

    def stats(tb, tm):
        d = _named(family, tm, n0, None)["beta"] - _named(family, tb, n0, None)["beta"]
        r = float(_predict(family, tm, x_ref)[0] / _predict(family, tb, x_ref)[0])
        return d, r

    d, r = stats(tb, tm)
    seeds = min(min(g.size for g in pick_b), min(g.size for g in pick_m))
    if seeds < 2:
        return ExponentTest(
            method, baseline, family, tuple(common), d, None, r, None, n_ref, 0, "untested",
            "one seed: no interval, so no test",
        )  # fmt: skip
    reps = []
    for _ in range(n_boot):
        yb = np.array([g[rng.integers(0, g.size, g.size)].mean() for g in pick_b])
        ym = np.array([g[rng.integers(0, g.size, g.size)].mean() for g in pick_m])
        try:
            reps.append(stats(*fit_pair(yb, ym, starts=(tb, tm))))
        except RuntimeError:
            continue
    if not reps:
        return untested("no bootstrap replicate converged", family, tuple(common))
    arr = np.array(reps)
    dci = bootstrap_interval(arr[:, 0], d, seeds, level)
    rci = bootstrap_interval(arr[:, 1], r, seeds, level, log=True)
    if dci[0] > 0 or dci[1] < 0:
        verdict = "exponent"
    elif rci[0] > 1 or rci[1] < 1:
        verdict = "constant"
    else:
        verdict = "none"
    return ExponentTest(
        method, baseline, family, tuple(common), d, dci, r, rci, n_ref, len(reps), verdict
    )


def _wide(groups):
    """Grouped values as a NaN-padded array of shape (n_sizes, n_seeds)."""
    out = np.full((len(groups), max(g.size for g in groups)), np.nan)
    for i, g in enumerate(groups):
        out[i, : g.size] = g
    return out
