"""The scikit-learn form of semantic deduplication (SemDeDup), alone or before a selector.

:class:`SemanticDedupSelector` keeps the rows :func:`coresets.dedup.semantic_duplicates`
keeps. With ``selector=`` it is a pre-pass: the given selector is fitted on the kept rows
only, so a budget of ``n_samples`` is spent on distinct rows, and ``ranking_`` holds its
choice in the ids of the data ``fit`` saw.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_costs, check_random_state
from ..dedup import Duplicates, semantic_duplicates
from ._base import BaseSelector, _check_y, check_selector, fit_on_rows

__all__ = ["SemanticDedupSelector"]


class SemanticDedupSelector(BaseSelector):
    """Drop semantic near-duplicates (SemDeDup), optionally then select from what is left.

    Within each k-means cluster, a row is dropped when a row earlier in the cluster's
    priority order (``keep``) has cosine similarity above ``threshold`` to it (L2 distance
    below it for ``"euclidean"``); see :mod:`coresets.dedup` for the exact rule, its
    exactness and the one approximation (pairs split across clusters are not compared).

    Parameters
    ----------
    threshold : float, optional
        ``"cosine"``: similarity above which two rows are duplicates, in (-1, 1), default
        0.95 (the paper's ``1 - eps``); ``"euclidean"``: L2 distance below which they are
        (required).
    n_clusters : int, optional
        k-means clusters (per class with ``per_class``, capped at the class size);
        default ``round(sqrt(n_rows))``; 1 compares all pairs.
    metric : {"cosine", "euclidean"}, default "cosine"
    keep : {"farthest", "nearest", "random", "first"}, default "farthest"
        Which row of a group of duplicates survives (farthest from its centroid first,
        the paper's default).
    selector : selector, optional
        A selector of :mod:`coresets.selectors` to fit (a clone of it) on the kept rows;
        ``n_samples`` is then its own parameter (``selector__n_samples`` in a grid).
    per_class : bool, default False
        Deduplicate within each class of ``y`` only (a row and its near-copy with another
        label both stay).
    n_iter : int, default 25
        k-means iterations.
    random_state : None, int or numpy Generator
        Seeds k-means, ``keep="random"`` and the clone of ``selector`` if it takes none.
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
    progress : bool, default False

    Attributes
    ----------
    ranking_ : ndarray of int64, shape (k,)
        Without ``selector``: the kept rows, ascending. With it: its choice among the
        kept rows (in its order), as ids of the fitted ``X``.
    weights_ : ndarray of float64, shape (k,)
        Without ``selector``: rows each kept row stands for (itself and its duplicates),
        summing to n. With it: the selector's weights, which count deduplicated rows
        (they sum to the number kept).
    gains_, objective_ : the selector's, or NaN without one (dedup maximises nothing).
    duplicates_ : :class:`~coresets.dedup.Duplicates`
        The dedup result in ids of the fitted ``X`` (with ``per_class``, cluster labels
        are numbered class after class).
    removed_ : ndarray of int64, shape (r,)
        Rows dropped as duplicates, ascending.
    duplicate_of_ : ndarray of int64, shape (r,)
        The kept row each dropped row is attributed to.
    selector_ : selector
        The fitted clone of ``selector`` (only when one is given).
    selection_, n_features_in_, n_rows_fit_
        As for every selector.
    """

    def __init__(
        self,
        threshold=None,
        *,
        n_clusters=None,
        metric="cosine",
        keep="farthest",
        selector=None,
        per_class=False,
        n_iter=25,
        random_state=None,
        device="auto",
        progress=False,
    ):
        self.threshold = threshold
        self.n_clusters = n_clusters
        self.metric = metric
        self.keep = keep
        self.selector = selector
        self.per_class = per_class
        self.n_iter = n_iter
        self.random_state = random_state
        self.device = device
        self.progress = progress

    def fit(self, X, y=None, sample_cost=None):
        """Deduplicate ``X`` (and, with ``selector``, select from the kept rows).

        Parameters
        ----------
        X : array-like, shape (n_rows, n_features)
        y : array-like, shape (n_rows,), optional
            Labels: required with ``per_class``, handed to ``selector`` (kept rows only).
        sample_cost : array-like, shape (n_rows,), optional
            Row costs for a ``selector`` with a knapsack budget (kept rows only).

        Returns
        -------
        self
        """
        per_class = self.per_class
        if isinstance(per_class, np.bool_):
            per_class = bool(per_class)
        if not isinstance(per_class, bool):
            raise ValueError(f"per_class must be False or True, got {per_class!r}")
        if self.selector is not None:
            check_selector(self.selector)
        Xv = self._check_X(X, reset=True)
        n = Xv.shape[0]
        self.n_rows_fit_ = n
        y_arr = _check_y(y, n)
        if per_class and y_arr is None:
            raise ValueError("y is required when per_class=True")
        costs = None if sample_cost is None else check_costs(sample_cost, n, "sample_cost")
        if costs is not None and self.selector is None:
            raise ValueError(
                "sample_cost needs a selector with a budget (selector=...); deduplication "
                "alone has no cost constraint"
            )
        rng = check_random_state(self.random_state)

        if per_class:
            _, inverse = np.unique(y_arr, return_inverse=True)
            groups = [np.flatnonzero(inverse == c) for c in range(inverse.max() + 1)]
        else:
            groups = [np.arange(n)]
        parts = []
        for g in groups:
            n_clusters = self.n_clusters
            if per_class and n_clusters is not None and not isinstance(n_clusters, bool):
                try:
                    n_clusters = min(n_clusters, g.size)
                except TypeError:
                    pass  # semantic_duplicates names the bad type
            parts.append(
                semantic_duplicates(
                    Xv if len(groups) == 1 else Xv[g],
                    threshold=self.threshold,
                    n_clusters=n_clusters,
                    metric=self.metric,
                    keep=self.keep,
                    n_iter=self.n_iter,
                    random_state=rng,
                    progress=self.progress,
                    device=self.device,
                )
            )
        dup = parts[0] if len(groups) == 1 else _merge(parts, groups, n)
        self.duplicates_ = dup
        self.removed_ = dup.removed
        self.duplicate_of_ = dup.duplicate_of

        if self.selector is None:
            return self._store(dup.selection)
        self.selector_, selection = fit_on_rows(self.selector, X, Xv, y_arr, costs, dup.kept, rng)
        return self._store(selection)


def _merge(parts, groups, n) -> Duplicates:
    """One :class:`Duplicates` in global ids from per-class results on ``X[groups[i]]``."""
    labels = np.empty(n, dtype=np.int64)
    offset = 0
    for part, g in zip(parts, groups, strict=True):
        labels[g] = part.labels + offset
        offset += part.n_clusters

    def cat(field):
        return np.concatenate([g[getattr(p, field)] for p, g in zip(parts, groups, strict=True)])

    removed = cat("removed")
    order = np.argsort(removed, kind="stable")
    return Duplicates(
        kept=np.sort(cat("kept")),
        removed=removed[order],
        duplicate_of=cat("duplicate_of")[order],
        parent=cat("parent")[order],
        similarity=np.concatenate([p.similarity for p in parts])[order],
        labels=labels,
        centroids=np.concatenate([p.centroids for p in parts]),
        threshold=parts[0].threshold,
        metric=parts[0].metric,
        keep=parts[0].keep,
    )
