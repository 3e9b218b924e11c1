"""Selectors that prune by per-row difficulty scores: CCS, D2, moderate coresets, prototypes.

Thin estimators over :mod:`coresets.pruning` and :mod:`coresets.scores`. A score is
one number per row of the data being fitted, so these selectors choose over the whole
data set (no ``per_class``): ``scores`` is an array of shape (n_rows,), a callable
``scores(X, y) -> (n_rows,)`` (e.g. EL2N from a proxy run on ``X``), or None for the
label-free prototype score (:func:`coresets.scores.prototype_scores`, seeded from
``random_state``). Higher scores are harder. ``weights_`` are nearest-chosen-row counts
in ``metric`` (:func:`coresets.weights.nearest_center_weights`), as for the baselines.

:class:`HardPrunedSelector` is the composable form of hard pruning: it drops the hardest
rows (within each class, with labels) and fits any other selector on the rest, which then
chooses per class or not as it is configured.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from .._metrics import check_metric
from .._validation import check_costs, check_random_state, check_real
from ..knn import knn_graph
from ..pruning import (
    _check_scores,
    ccs_select,
    d2_select,
    kept_after_pruning,
    moderate_select,
    score_select,
)
from ..scores import prototype_scores
from ._base import BaseSelector, _check_y, check_selector, fit_on_rows
from .geometric import _METRICS, _CountWeightedSelector

__all__ = [
    "CCSSelector",
    "D2Selector",
    "HardPrunedSelector",
    "ModerateSelector",
    "PrototypeSelector",
    "ScoreSelector",
]


class _ScoredSelector(_CountWeightedSelector):
    """Shared fitting: resolve the per-row scores, select, weight by nearest chosen row."""

    #: A score belongs to a row of the fitted data, so selection is never split by class.
    per_class = False

    def fit(self, X, y=None, sample_cost=None):
        """Choose rows of ``X`` by their scores.

        Parameters
        ----------
        X : array-like, shape (n_rows, n_features)
        y : array-like, shape (n_rows,), optional
            Labels, handed to a callable ``scores`` (and required by ``ModerateSelector``).
        sample_cost : None
            Not supported (score-based pruning has no knapsack form).

        Returns
        -------
        self
        """
        # BaseSelector hands _select the validated rows only; the labels ride along here.
        self._fit_y = None if y is None else np.asarray(y)
        try:
            return super().fit(X, y, sample_cost=sample_cost)
        finally:
            del self._fit_y

    def _row_scores(self, X, rng) -> np.ndarray:
        return _resolve_scores(self.scores, X, self._fit_y, self._check_metric(), rng)


def _resolve_scores(scores, X, y, metric, rng) -> np.ndarray:
    """A selector's ``scores`` parameter resolved on the rows ``X``: shape (n_rows,).

    None: prototype scores in ``metric`` seeded from ``rng``; a callable: ``scores(X, y)``;
    else the array itself. Checked finite, one per row.
    """
    if scores is None:
        return prototype_scores(X, metric=metric, random_state=rng)
    if callable(scores):
        return _check_scores(scores(X, y), "scores", X.shape[0])
    return _check_scores(scores, "scores", X.shape[0])


class CCSSelector(_ScoredSelector):
    """Coverage-centric coreset selection (Zheng et al., ICLR 2023); see
    :func:`coresets.pruning.ccs_select`.

    Parameters
    ----------
    n_samples : int or float, default 0.1
        Rows to choose: an int in ``[1, n]`` or a fraction in ``(0, 1]``; at most the
        rows left after ``hard_prune``.
    scores : None, array-like of shape (n_rows,) or callable, default None
        Difficulty (higher is harder); a callable is called as ``scores(X, y)``; None:
        prototype scores in ``metric``.
    hard_prune : float in [0, 1), default 0.1
        Fraction of the hardest rows never chosen.
    n_strata : int, default 50
    metric : {"euclidean", "cosine"}, default "euclidean"
        For the default scores and ``weights_``.
    random_state : None, int or numpy Generator
        Seeds the default scores and the draws within strata.

    Attributes
    ----------
    ranking_ : ndarray of int64, shape (k,)
        Chosen rows, stratum by stratum from the easiest.
    gains_ : ndarray of float64, shape (k,)
        Their scores.
    objective_ : float
        The scores' sum.
    weights_ : ndarray of float64, shape (k,)
        Nearest-chosen-row counts, summing to n.
    n_features_in_ : int
    """

    def __init__(
        self,
        n_samples=0.1,
        *,
        scores=None,
        hard_prune=0.1,
        n_strata=50,
        metric="euclidean",
        random_state=None,
    ):
        self.n_samples = n_samples
        self.scores = scores
        self.hard_prune = hard_prune
        self.n_strata = n_strata
        self.metric = metric
        self.random_state = random_state

    def _choose(self, X, k, metric, rng):
        return ccs_select(
            self._row_scores(X, rng),
            k,
            hard_prune=self.hard_prune,
            n_strata=self.n_strata,
            random_state=rng,
        )


class D2Selector(_ScoredSelector):
    """D2 pruning (Maharana et al., ICLR 2024) on a FAISS kNN graph of ``X``; see
    :func:`coresets.pruning.d2_select`.

    Parameters
    ----------
    n_samples : int or float, default 0.1
        Rows to choose: an int in ``[1, n]`` or a fraction in ``(0, 1]``.
    scores : None, array-like of shape (n_rows,) or callable, default None
        Non-negative difficulty (higher is harder); callable: ``scores(X, y)``; None:
        prototype scores in ``metric``.
    n_neighbors : int, default 10
        Neighbours per row in the graph, the row itself included (as
        :func:`coresets.knn.knn_graph`; capped at ``n_rows - 1``).
    gamma, reverse_gamma : float >= 0, default 1.0
        Forward and reverse message decays.
    hard_prune : float in [0, 1), default 0.0
        Fraction of the hardest rows never chosen.
    n_strata : int, optional
        Run D2 within CCS's score strata (None: over all rows at once).
    metric : {"euclidean", "cosine"}, default "euclidean"
        Graph similarity, default scores and ``weights_``.
    random_state : None, int or numpy Generator
        Seeds the default scores and the graph's approximate index on large inputs.
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
        Where FAISS builds the graph.

    Attributes
    ----------
    ranking_ : ndarray of int64, shape (k,)
        Chosen rows in pick order.
    gains_ : ndarray of float64, shape (k,)
        Each pick's message value when picked.
    objective_ : float
        Their sum.
    weights_ : ndarray of float64, shape (k,)
        Nearest-chosen-row counts, summing to n.
    n_features_in_ : int
    """

    def __init__(
        self,
        n_samples=0.1,
        *,
        scores=None,
        n_neighbors=10,
        gamma=1.0,
        reverse_gamma=1.0,
        hard_prune=0.0,
        n_strata=None,
        metric="euclidean",
        random_state=None,
        device="auto",
    ):
        self.n_samples = n_samples
        self.scores = scores
        self.n_neighbors = n_neighbors
        self.gamma = gamma
        self.reverse_gamma = reverse_gamma
        self.hard_prune = hard_prune
        self.n_strata = n_strata
        self.metric = metric
        self.random_state = random_state
        self.device = device

    def _choose(self, X, k, metric, rng):
        scores = self._row_scores(X, rng)
        n = X.shape[0]
        if n < 2:
            graph = sp.csr_matrix((n, n))  # one row: no neighbours, its score alone
        else:
            graph = knn_graph(
                X,
                n_neighbors=min(self.n_neighbors, n - 1),
                metric=metric,
                device=self.device,
                random_state=rng,
            )
        return d2_select(
            graph,
            scores,
            k,
            gamma=self.gamma,
            reverse_gamma=self.reverse_gamma,
            hard_prune=self.hard_prune,
            n_strata=self.n_strata,
        )


class ModerateSelector(_ScoredSelector):
    """Moderate coreset (Xia et al., ICLR 2023): rows at a middling distance from their class
    centre; see :func:`coresets.pruning.moderate_select`. Needs ``y``.

    Parameters
    ----------
    n_samples : int or float, default 0.1
        Rows to choose: an int in ``[1, n]`` or a fraction in ``(0, 1]``.
    metric : {"euclidean", "cosine"}, default "euclidean"
        Only used for ``weights_`` (the distance to the class median is Euclidean).

    Attributes
    ----------
    ranking_ : ndarray of int64, shape (k,)
        Chosen rows by increasing distance to their class median.
    gains_ : ndarray of float64, shape (k,)
        Those distances.
    objective_ : float
        Their sum.
    weights_ : ndarray of float64, shape (k,)
        Nearest-chosen-row counts, summing to n.
    n_features_in_ : int
    """

    scores = None  # not a parameter: the distances are the scores

    def __init__(self, n_samples=0.1, *, metric="euclidean"):
        self.n_samples = n_samples
        self.metric = metric

    def _choose(self, X, k, metric, rng):
        if self._fit_y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        return moderate_select(X, self._fit_y.reshape(-1), k)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


class ScoreSelector(_ScoredSelector):
    """Keep the hardest or the easiest rows by a given score, optionally after skipping the
    most extreme (:func:`coresets.pruning.score_select`): the pruning papers' baselines.

    Parameters
    ----------
    n_samples : int or float, default 0.1
        Rows to choose: an int in ``[1, n]`` or a fraction in ``(0, 1]``.
    scores : None, array-like of shape (n_rows,) or callable, default None
        Difficulty (higher is harder); callable: ``scores(X, y)``; None: prototype
        scores in ``metric``.
    order : {"hardest", "easiest"}, default "hardest"
    skip : float in [0, 1), default 0.0
        Fraction of rows at that end passed over first (e.g. the noisiest hardest rows).
    metric : {"euclidean", "cosine"}, default "euclidean"
        For the default scores and ``weights_``.
    random_state : None, int or numpy Generator
        Seeds the default scores.

    Attributes
    ----------
    ranking_ : ndarray of int64, shape (k,)
        Chosen rows in ranking order.
    gains_ : ndarray of float64, shape (k,)
        Their scores.
    objective_ : float
        Their sum.
    weights_ : ndarray of float64, shape (k,)
        Nearest-chosen-row counts, summing to n.
    n_features_in_ : int
    """

    def __init__(
        self,
        n_samples=0.1,
        *,
        scores=None,
        order="hardest",
        skip=0.0,
        metric="euclidean",
        random_state=None,
    ):
        self.n_samples = n_samples
        self.scores = scores
        self.order = order
        self.skip = skip
        self.metric = metric
        self.random_state = random_state

    def _choose(self, X, k, metric, rng):
        return score_select(self._row_scores(X, rng), k, order=self.order, skip=self.skip)


class PrototypeSelector(ScoreSelector):
    """Self-supervised prototype pruning (Sorscher et al., NeurIPS 2022): rank rows by the
    distance to their nearest k-means centroid (:func:`coresets.scores.prototype_scores`)
    and keep the hardest (far) or easiest (close) ones (:func:`coresets.pruning.score_select`).

    Sorscher et al. find that easy rows win when the kept fraction is small and hard rows
    when it is large.

    Parameters
    ----------
    n_samples : int or float, default 0.1
        Rows to choose: an int in ``[1, n]`` or a fraction in ``(0, 1]``.
    n_clusters : int, optional
        k-means centroids; default ``round(sqrt(n_rows))``.
    order : {"hardest", "easiest"}, default "hardest"
    skip : float in [0, 1), default 0.0
        Fraction of rows at that end passed over first.
    metric : {"euclidean", "cosine"}, default "euclidean"
        k-means geometry and ``weights_``.
    random_state : None, int or numpy Generator
        Seeds the k-means.

    Attributes
    ----------
    ranking_ : ndarray of int64, shape (k,)
        Chosen rows in ranking order.
    gains_ : ndarray of float64, shape (k,)
        Their prototype scores.
    objective_ : float
        Their sum.
    weights_ : ndarray of float64, shape (k,)
        Nearest-chosen-row counts, summing to n.
    n_features_in_ : int
    """

    scores = None  # not a parameter: the prototype distances are the scores

    def __init__(
        self,
        n_samples=0.1,
        *,
        n_clusters=None,
        order="hardest",
        skip=0.0,
        metric="euclidean",
        random_state=None,
    ):
        self.n_samples = n_samples
        self.n_clusters = n_clusters
        self.order = order
        self.skip = skip
        self.metric = metric
        self.random_state = random_state

    def _row_scores(self, X, rng) -> np.ndarray:
        # ScoreSelector's selection over these scores, with the k-means size as a parameter
        return prototype_scores(
            X, n_clusters=self.n_clusters, metric=self._check_metric(), random_state=rng
        )


class HardPrunedSelector(BaseSelector):
    """Drop the hardest rows by a difficulty score, then let ``selector`` choose among the rest.

    Hard pruning of the noisy tail before coverage, as CCS does before its strata: the
    rows a proxy finds hardest are often ambiguous or mislabelled, and a coverage
    objective spends picks on exactly such outliers. With labels the ``hard_prune``
    fraction is dropped within each class (:func:`coresets.pruning.kept_after_pruning`).
    Measured on MNIST-1D (``benchmarks/coverage_variants.py``, ``fl_easy90_*``): facility
    location per class among the easiest 90% of each class by a proxy's final margin or
    forgetting events was 1.6 or 1.4 points above plain facility location per class,
    averaged over 7 sizes and 5 seeds of the 4000-example pool (+0.7 by AUM, +0.6 by
    early EL2N), with the gains at 20-160 rows per class; with 2400 rows per class (n =
    24,000 of the 80,000-example pool) it was 0.9 points under it, the hard rows being
    worth keeping once data is abundant (``benchmarks/RESULTS.md``).

    Parameters
    ----------
    selector : selector of :mod:`coresets.selectors`
        Fitted (a clone of it) on the rows left; its ``n_samples`` counts those rows
        when it is a fraction.
    scores : None, array-like of shape (n_rows,) or callable, default None
        Difficulty (higher is harder); a callable is called as ``scores(X, y)``; None:
        prototype scores in ``metric`` (distance to the nearest k-means centroid).
    hard_prune : float in [0, 1), default 0.1
        Fraction of the hardest rows (of each class, with labels) never chosen.
    metric : {"euclidean", "cosine"}, default "euclidean"
        For the default scores only.
    random_state : None, int or numpy Generator
        Seeds the default scores and the clone of ``selector`` if it takes none.

    Attributes
    ----------
    kept_ : ndarray of int64, shape (m,)
        Rows left after pruning, ascending.
    selector_ : selector
        The fitted clone of ``selector``.
    ranking_ : ndarray of int64, shape (k,)
        Its choice, as ids of the fitted ``X``.
    gains_, objective_ : the selector's.
    weights_ : ndarray of float64, shape (k,)
        The selector's weights, which count the rows left (they sum to ``len(kept_)``).
    selection_, n_features_in_, n_rows_fit_
        As for every selector.
    """

    def __init__(
        self, selector, *, scores=None, hard_prune=0.1, metric="euclidean", random_state=None
    ):
        self.selector = selector
        self.scores = scores
        self.hard_prune = hard_prune
        self.metric = metric
        self.random_state = random_state

    def fit(self, X, y=None, sample_cost=None):
        """Prune the hardest rows of ``X``, then fit ``selector`` on the rest.

        Parameters
        ----------
        X : array-like, shape (n_rows, n_features)
        y : array-like, shape (n_rows,), optional
            Labels: pruning is per class, and ``selector`` gets the kept rows' labels
            (and a callable ``scores`` all of them).
        sample_cost : array-like, shape (n_rows,), optional
            Row costs for a ``selector`` with a knapsack budget (kept rows only).

        Returns
        -------
        self
        """
        check_selector(self.selector)
        hard_prune = check_real(self.hard_prune, "hard_prune", low=0.0, high=1.0, low_open=False)
        metric = check_metric(self.metric, allowed=_METRICS)
        Xv = self._check_X(X, reset=True)
        n = Xv.shape[0]
        self.n_rows_fit_ = n
        y_arr = _check_y(y, n)
        costs = None if sample_cost is None else check_costs(sample_cost, n, "sample_cost")
        rng = check_random_state(self.random_state)
        # labels that give every class at most one row are not classes (regression targets)
        sizes = np.unique(y_arr, return_counts=True)[1] if y_arr is not None else None
        classes = sizes is not None and sizes.size < n
        n_left = n - int(np.floor(hard_prune * (sizes if classes else np.array([n]))).sum())
        k = self.selector.get_params().get("n_samples")
        if costs is None and isinstance(k, numbers.Integral) and not isinstance(k, bool):
            if k > n_left:  # before the scores are computed: their count is known already
                raise ValueError(
                    f"selector's n_samples={k} is larger than the {n_left} rows left after "
                    f"hard_prune={self.hard_prune} dropped the hardest ones; lower n_samples "
                    "or hard_prune"
                )
        scores = _resolve_scores(self.scores, Xv, y_arr, metric, rng)
        self.kept_ = kept_after_pruning(scores, hard_prune, y=y_arr if classes else None)
        self.selector_, selection = fit_on_rows(self.selector, X, Xv, y_arr, costs, self.kept_, rng)
        return self._store(selection)
