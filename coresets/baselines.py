"""Baseline subset selections that coreset papers compare against.

* :func:`k_center_greedy` - Sener & Savarese (2018), "Active Learning for
  Convolutional Neural Networks: A Core-Set Approach": repeatedly add the point
  farthest from the chosen ones, a 2-approximation of the minimum k-center radius
  (Gonzalez, 1985).
* :func:`herding` - kernel herding (Welling, 2009; Chen, Welling & Smola, 2010)
  with the linear kernel, i.e. in the feature space of ``X`` as in DeepCore:
  greedily add the point that brings the mean of the chosen points closest to the
  mean of all points.

Both run as torch kernels on the CPU or a GPU (``device``), one ``O(n d)`` pass per
pick, and return a :class:`~coresets.selection.Selection` whose ``gains`` are the trace
each one tracks (covering radius, mean discrepancy) and whose ``objective`` is its last
value; the estimators in :mod:`coresets.selectors` wrap them.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from ._device import resolve_device
from ._metrics import check_metric, scale_to_unit, unit_rows
from ._validation import check_array_2d, check_indices, check_n_select, check_random_state
from .selection import Selection

__all__ = ["k_center_greedy", "herding"]

#: The metrics both baselines take: a distance between rows (no inner-product "distance").
METRICS = ("euclidean", "cosine")


def _to_device(X: np.ndarray, metric: str, device):
    """``(rows on the device, factor)``: distances there times ``factor`` are ``X``'s.

    Both baselines choose the same rows when every row is scaled by one factor, so
    euclidean rows are scaled by a power of two (:func:`~coresets._metrics.scale_to_unit`):
    float32 rows of norm ~1e20 would square past float32's range (inf - inf = NaN
    distances) and rows of ~1e-20 into subnormals or zero (every distance 0).
    """
    import torch

    factor = 1.0
    if metric == "cosine":
        # a zero row stays zero (distance 1 to every unit row) rather than stopping the run
        X = unit_rows(X, zero_rows="keep")
    else:
        X, factor = scale_to_unit(X)
    # torch refuses read-only buffers (memory maps): copy those, share the rest.
    Xt = torch.from_numpy(np.require(X, requirements=["C", "W"])).to(resolve_device(device))
    return Xt, factor


def _check_initial_and_k(initial_subset, k, n):
    """The initial centres (int64) and the number of points to add beside them."""
    init = (
        np.zeros(0, dtype=np.int64)
        if initial_subset is None
        else check_indices(initial_subset, n, "initial_subset")
    )
    if init.size >= n:
        raise ValueError(f"initial_subset already holds all {n} points; nothing left to choose")
    k = check_n_select(k, n, "k")
    if k > n - init.size:
        raise ValueError(f"k={k} is larger than the {n - init.size} points outside initial_subset")
    return init, k


def k_center_greedy(
    X,
    k,
    *,
    metric="euclidean",
    initial_subset=None,
    random_state=None,
    device="auto",
    progress=False,
):
    """Greedy k-center: add the point farthest from everything chosen so far.

    Parameters
    ----------
    X : array-like, shape (n, d)
        Embeddings.
    k : int or float
        Points to choose: an int in ``[1, n - len(initial_subset)]`` or a fraction in
        ``(0, 1]`` of ``n``.
    metric : {"euclidean", "cosine"}
        "euclidean": L2 distance; "cosine": ``1 - cos`` between rows.
    initial_subset : array-like of int, optional
        Points already chosen (e.g. already labelled); they count as centres but are
        not returned. Without it, the first centre is drawn uniformly at random.
    random_state : None, int or numpy Generator
        Seed for the first centre.
    device : {"auto", "cpu", "cuda"} or torch.device
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    Selection
        ``indices`` (int64, shape (k,)): chosen points in selection order. ``gains``
        (float64, shape (k,)): the covering radius ``max_i min_{c chosen} d(i, c)``
        after each pick (initial subset included), non-increasing. ``objective``: the
        final radius, ``gains[-1]`` (lower is better, unlike a submodular objective).
    """
    import torch

    X = check_array_2d(X, "X")
    metric = check_metric(metric, allowed=METRICS)
    n = X.shape[0]
    init, k = _check_initial_and_k(initial_subset, k, n)
    rng = check_random_state(random_state)

    Xt, factor = _to_device(X, metric, device)
    sq = (Xt * Xt).sum(dim=1)
    chosen = torch.zeros(n, dtype=torch.bool, device=Xt.device)
    min_d = torch.full((n,), float("inf"), dtype=Xt.dtype, device=Xt.device)

    def add(c: int):
        # Squared L2 via norms (one BLAS matvec); clamped because round-off can make
        # it slightly negative. Cosine distance is 1 - <x, c> on unit rows.
        dots = Xt @ Xt[c]
        d = (1.0 - dots) if metric == "cosine" else (sq - 2.0 * dots + sq[c])
        torch.minimum(min_d, d.clamp_min(0.0), out=min_d)
        min_d[c] = 0.0
        chosen[c] = True

    for c in init.tolist():
        add(c)
    indices = np.empty(k, dtype=np.int64)
    radii = np.empty(k, dtype=np.float64)
    for t in tqdm(range(k), desc="k-center", unit="pt", disable=not progress):
        if t == 0 and init.size == 0:
            c = int(rng.integers(n))
        else:
            # Chosen points are masked so duplicates of a centre are never re-picked.
            c = int(torch.where(chosen, -1.0, min_d).argmax())
        add(c)
        indices[t] = c
        radii[t] = float(min_d.max())
    if metric == "euclidean":
        radii = np.sqrt(radii) * factor
    return Selection(indices, radii, float(radii[-1]))


def herding(X, k, *, metric="euclidean", device="auto", progress=False):
    """Kernel herding in feature space: match the mean of the chosen points to the data mean.

    At step ``t`` the point ``x`` (not yet chosen) minimising
    ``||mu - (x_1 + ... + x_{t-1} + x) / t||`` is added, ``mu`` being the mean of all
    rows. Deterministic (ties go to the lowest index).

    Parameters
    ----------
    X : array-like, shape (n, d)
        Embeddings (the feature map of the linear kernel).
    k : int or float
        Points to choose: an int in ``[1, n]`` or a fraction in ``(0, 1]`` of ``n``.
    metric : {"euclidean", "cosine"}
        "cosine" herds the unit-normalised rows instead of the raw ones.
    device : {"auto", "cpu", "cuda"} or torch.device
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    Selection
        ``indices`` (int64, shape (k,)): chosen points in selection order. ``gains``
        (float64, shape (k,)): ``||mu - mean(chosen)||`` after each pick (the maximum
        mean discrepancy of the linear kernel). ``objective``: its final value,
        ``gains[-1]`` (lower is better).
    """
    import torch

    X = check_array_2d(X, "X")
    metric = check_metric(metric, allowed=METRICS)
    n = X.shape[0]
    k = check_n_select(k, n, "k")
    Xt, factor = _to_device(X, metric, device)
    # Accumulate in float64 so long runs do not drift.
    mu = Xt.to(torch.float64).mean(dim=0)
    sq = (Xt * Xt).sum(dim=1).to(torch.float64)
    total = torch.zeros_like(mu)
    chosen = torch.zeros(n, dtype=torch.bool, device=Xt.device)
    indices = np.empty(k, dtype=np.int64)
    distances = np.empty(k, dtype=np.float64)
    for t in tqdm(range(k), desc="herding", unit="pt", disable=not progress):
        # ||t mu - total - x||^2 = ||x||^2 - 2 <r, x> + const with r = t mu - total.
        r = (t + 1) * mu - total
        score = sq - 2.0 * (Xt @ r.to(Xt.dtype)).to(torch.float64)
        c = int(torch.where(chosen, float("inf"), score).argmin())
        chosen[c] = True
        total += Xt[c].to(torch.float64)
        indices[t] = c
        distances[t] = float(torch.linalg.vector_norm(mu - total / (t + 1)))
    distances *= factor
    return Selection(indices, distances, float(distances[-1]))
