"""Power-law fits of test loss against training-set size, with bootstrap intervals."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from .._validation import check_finite, check_int, check_random_state, check_real

__all__ = ["PowerLawFit", "fit_power_law", "group_by_size"]


@dataclass(frozen=True)
class PowerLawFit:
    """``L(n) = A * n**(-beta) + C`` fitted to mean losses per size.

    Attributes
    ----------
    A, beta, C : float
        Point estimates (fit to the mean over seeds at each size).
    ci : dict
        ``{"A": (lo, hi), "beta": (lo, hi), "C": (lo, hi)}`` percentile bootstrap
        intervals at ``level``.
    level : float
    n_boot : int
        Bootstrap replicates that converged.
    """

    A: float
    beta: float
    C: float
    ci: dict = field(default_factory=dict)
    level: float = 0.95
    n_boot: int = 0

    def __call__(self, n):
        """Predicted loss at size(s) ``n``."""
        return self.A * np.asarray(n, dtype=np.float64) ** (-self.beta) + self.C

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return {
            "A": self.A,
            "beta": self.beta,
            "C": self.C,
            "ci": {k: list(v) for k, v in self.ci.items()},
            "level": self.level,
            "n_boot": self.n_boot,
        }


def group_by_size(sizes, values, name="losses"):
    """Return ``(unique_sizes, [values at each size])`` from long or wide input.

    ``values`` is either 1-D with one entry per ``sizes`` entry (sizes may repeat, one
    row per seed) or 2-D of shape ``(len(sizes), n_seeds)``; NaNs are dropped.
    """
    s = np.asarray(sizes, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
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
    pairs = sorted((u, x) for u, x in pairs if x.size)
    for _, x in pairs:
        check_finite(x, name)
    merged: dict = {}
    for u, x in pairs:
        merged[u] = np.concatenate([merged[u], x]) if u in merged else x
    return np.array(list(merged)), list(merged.values())


def _fit_means(n, y):
    """Least-squares fit in relative error (sigma = y) so every decade of n counts."""
    n0 = n.min()
    x = n / n0  # A is fitted at the scale of the smallest size, then mapped back

    def f(x, a, beta, c):
        return a * x ** (-beta) + c

    ymin = float(y.min())
    p0 = (max(float(y[0]) - 0.5 * ymin, 1e-6), 0.5, 0.5 * ymin)
    upper = (np.inf, 10.0, max(ymin, 1e-12))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        p, _ = curve_fit(
            f,
            x,
            y,
            p0=p0,
            sigma=np.maximum(np.abs(y), 1e-12),
            bounds=((0.0, 0.0, 0.0), upper),
            maxfev=20000,
        )
    a, beta, c = (float(t) for t in p)
    return a * n0**beta, beta, c


def fit_power_law(sizes, losses, *, n_boot=200, level=0.95, random_state=None) -> PowerLawFit:
    """Fit ``L(n) = A * n**(-beta) + C`` with ``A, beta, C >= 0`` and ``C <= min L``.

    The point estimate fits the mean loss at each size. Intervals come from a
    bootstrap over seeds: each replicate resamples, at every size, that size's seeds
    with replacement and refits. With a single value per size the residuals of the
    point fit are resampled instead.

    Parameters
    ----------
    sizes : array-like, shape (m,)
        Training-set sizes (repeated per seed in long form).
    losses : array-like, shape (m,) or (m, n_seeds)
        Test losses (or error rates); NaN entries are ignored.
    n_boot : int, default 200
        Bootstrap replicates (0 skips the intervals).
    level : float, default 0.95
    random_state : None, int or Generator, default None
        Seed of the bootstrap only (the point estimate draws nothing). None, as in
        scikit-learn: the intervals vary slightly between calls; reports pass a seed.

    Returns
    -------
    PowerLawFit
    """
    n, groups = group_by_size(sizes, losses)
    if n.size < 3:
        raise ValueError(
            f"sizes must hold at least 3 distinct sizes to fit 3 parameters, got {n.size}"
        )
    n_boot = check_int(n_boot, "n_boot", low=0)
    level = check_real(level, "level", low=0.0, high=1.0)
    lowest = min(float(g.min()) for g in groups)
    if lowest < 0:
        raise ValueError(
            f"losses must be non-negative (A * n**(-beta) + C with A, C >= 0 fits no "
            f"negative value), got min {lowest:.4g}; pass losses or error rates, not "
            "log-losses or differences"
        )
    rng = check_random_state(random_state)
    means = np.array([g.mean() for g in groups])
    try:
        A, beta, C = _fit_means(n, means)
    except RuntimeError as exc:
        raise ValueError(f"losses could not be fitted by a power law: {exc}") from None
    one_each = all(g.size == 1 for g in groups)
    resid = means - (A * n ** (-beta) + C)
    reps = []
    for _ in range(n_boot):
        if one_each:
            y = A * n ** (-beta) + C + rng.choice(resid, size=resid.size, replace=True)
            y = np.maximum(y, 1e-12)
        else:
            y = np.array([g[rng.integers(0, g.size, g.size)].mean() for g in groups])
        try:
            reps.append(_fit_means(n, y))
        except RuntimeError:  # a replicate that does not converge is dropped
            continue
    ci = {}
    if reps:
        r = np.array(reps)
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        for j, key in enumerate(("A", "beta", "C")):
            lo, hi = np.percentile(r[:, j], q)
            ci[key] = (float(lo), float(hi))
    return PowerLawFit(A, beta, C, ci, float(level), len(reps))
