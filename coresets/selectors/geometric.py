"""Baseline selectors users compare coresets against: random, k-center greedy, herding.

None of them maximises a submodular gain, so ``gains_`` and ``objective_`` hold
what each algorithm tracks (documented per class). ``weights_`` are nearest-centre
counts in embedding space (:func:`coresets.weights.nearest_center_weights`), so a
weighted baseline is as comparable with a weighted coreset as the unweighted ones.
"""

from __future__ import annotations

import numpy as np

from .._metrics import check_metric, scale_to_unit
from ..baselines import herding, k_center_greedy
from ..selection import Selection
from ..weights import nearest_center_weights
from ._base import BaseSelector

__all__ = ["RandomSelector", "KCenterGreedySelector", "HerdingSelector"]

#: The distances these selectors search with (a dot product is not one).
_METRICS = ("euclidean", "cosine")


class _CountWeightedSelector(BaseSelector):
    """A selector whose ``weights_`` count, for each chosen row, the rows nearest to it.

    Subclasses implement ``_choose(X, k, metric, rng) -> Selection`` (without weights);
    ``metric`` is checked once here and the counts come from
    :func:`coresets.weights.nearest_center_weights` in that metric.
    """

    def _check_metric(self) -> str:
        return check_metric(self.metric, allowed=_METRICS)

    def _choose(self, X, k, metric, rng) -> Selection:  # pragma: no cover - abstract
        raise NotImplementedError

    def _select(self, X, k, costs, budget, rng):
        metric = self._check_metric()
        try:
            sel = self._choose(X, k, metric, rng)
        except ValueError as exc:  # the functions name k; the estimator's option is n_samples
            said = f"k ({k})"
            if not str(exc).startswith(said):
                raise
            rest = str(exc)[len(said) :].replace("lower k", "lower n_samples")
            raise ValueError(f"n_samples={self.n_samples!r} ({k} rows){rest}") from None
        # nearest centres do not change when all rows are scaled by one factor; scaled,
        # rows of ~1e20 do not overflow FAISS's float32 distances nor ~1e-20 underflow them
        Xs = scale_to_unit(X)[0] if metric == "euclidean" else X
        return sel.with_weights(nearest_center_weights(Xs, Xs[sel.indices], metric=metric))


class RandomSelector(_CountWeightedSelector):
    """Uniform random subset without replacement - the baseline every coreset must beat.

    Parameters
    ----------
    n_samples : int or float, default 0.1
        Rows to choose: an int in ``[1, n]`` or a fraction in ``(0, 1]``.
    metric : {"euclidean", "cosine"}, default "euclidean"
        Only used for ``weights_`` (each row counted for its nearest chosen row).
    per_class : {False, True, "proportional", "balanced"}, default False
        Sample within each class of ``y`` (stratified); see ``allocate_per_class``.
    random_state : None, int or numpy Generator

    Attributes
    ----------
    ranking_ : ndarray of int64, shape (k,)
        Chosen rows in the order drawn.
    gains_ : ndarray of float64, shape (k,)
        All NaN: random sampling has no gains.
    objective_ : float
        NaN.
    weights_ : ndarray of float64, shape (k,)
        Nearest-chosen-row counts (per class with ``per_class``), summing to n.
    n_features_in_ : int
    """

    def __init__(self, n_samples=0.1, *, metric="euclidean", per_class=False, random_state=None):
        self.n_samples = n_samples
        self.metric = metric
        self.per_class = per_class
        self.random_state = random_state

    def _choose(self, X, k, metric, rng):
        idx = rng.choice(X.shape[0], size=k, replace=False).astype(np.int64)
        return Selection(idx, np.full(k, np.nan), float("nan"))


class _EmbeddingSearchSelector(_CountWeightedSelector):
    """Shared parameters and fitting of the selectors that search embedding space greedily.

    ``_choose(X, k, metric, rng)`` returns the :class:`~coresets.selection.Selection` of
    :mod:`coresets.baselines` (gains: the tracked trace, objective: its last value);
    nearest-centre counts are the weights.
    """

    _combine = "max"

    def __init__(
        self, n_samples=0.1, *, metric="euclidean", per_class=False, device="auto", progress=False
    ):
        self.n_samples = n_samples
        self.metric = metric
        self.per_class = per_class
        self.device = device
        self.progress = progress


class KCenterGreedySelector(_EmbeddingSearchSelector):
    """Greedy k-center (Sener & Savarese, 2018): add the row farthest from all chosen ones.

    A 2-approximation of the smallest covering radius; see
    :func:`coresets.baselines.k_center_greedy`.

    Parameters
    ----------
    n_samples : int or float, default 0.1
        Rows to choose: an int in ``[1, n]`` or a fraction in ``(0, 1]``.
    metric : {"euclidean", "cosine"}, default "euclidean"
        Distance: L2, or ``1 - cos``.
    per_class : {False, True, "proportional", "balanced"}, default False
        Run within each class of ``y``.
    random_state : None, int or numpy Generator
        Seed for the first centre (drawn uniformly at random).
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
    progress : bool, default False
        Show a tqdm bar.

    Attributes
    ----------
    ranking_ : ndarray of int64, shape (k,)
        Chosen rows in selection order.
    gains_ : ndarray of float64, shape (k,)
        Covering radius ``max_i min_{c chosen} d(i, c)`` right after each pick
        (within the row's class with ``per_class``); non-increasing per class.
    objective_ : float
        Final covering radius (the largest over classes with ``per_class``).
    weights_ : ndarray of float64, shape (k,)
        Rows for which each chosen row is the nearest centre, summing to n.
    n_features_in_ : int
    """

    def __init__(
        self,
        n_samples=0.1,
        *,
        metric="euclidean",
        per_class=False,
        random_state=None,
        device="auto",
        progress=False,
    ):
        super().__init__(
            n_samples, metric=metric, per_class=per_class, device=device, progress=progress
        )
        self.random_state = random_state

    def _choose(self, X, k, metric, rng):
        return k_center_greedy(
            X, k, metric=metric, random_state=rng, device=self.device, progress=self.progress
        )


class HerdingSelector(_EmbeddingSearchSelector):
    """Kernel herding in feature space (Welling, 2009): match the chosen rows' mean to the data's.

    See :func:`coresets.baselines.herding`. Deterministic, so it takes no ``random_state``.

    Parameters
    ----------
    n_samples : int or float, default 0.1
        Rows to choose: an int in ``[1, n]`` or a fraction in ``(0, 1]``.
    metric : {"euclidean", "cosine"}, default "euclidean"
        "euclidean" herds the raw rows, "cosine" the unit-normalised rows.
    per_class : {False, True, "proportional", "balanced"}, default False
        Run within each class of ``y``.
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
    progress : bool, default False

    Attributes
    ----------
    ranking_ : ndarray of int64, shape (k,)
    gains_ : ndarray of float64, shape (k,)
        ``||mean(X) - mean(chosen)||`` right after each pick (per class with
        ``per_class``).
    objective_ : float
        Its final value (the largest over classes with ``per_class``).
    weights_ : ndarray of float64, shape (k,)
        Nearest-chosen-row counts, summing to n.
    n_features_in_ : int
    """

    def _choose(self, X, k, metric, rng):
        return herding(X, k, metric=metric, device=self.device, progress=self.progress)
