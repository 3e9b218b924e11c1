"""Difficulty scores of training rows, from a proxy model's outputs or from embeddings alone.

Each function is pure: arrays in, one float (or int) per row out, nothing trained here.
The proxy run that produces ``probs``, ``logits`` or a correctness history is the
caller's (any trainer); these functions only turn its records into scores.

Direction, because the literature mixes both:

==========================  ==================  ===============================
score                        higher means        paper
==========================  ==================  ===============================
:func:`el2n_scores`          harder              Paul et al., 2021
:func:`entropy_scores`       more uncertain      (uncertainty sampling)
:func:`forgetting_events`    harder              Toneva et al., 2019
:func:`prototype_scores`     less typical        Sorscher et al., 2022
:func:`margin_scores`        **easier**          (margin / uncertainty sampling)
:func:`aum_scores`           **easier**          Pleiss et al., 2020
==========================  ==================  ===============================

:mod:`coresets.pruning` treats higher scores as harder, so pass ``-margin_scores(...)``
or ``-aum_scores(...)`` there.
"""

from __future__ import annotations

import numpy as np

from ._metrics import check_metric, unit_rows
from ._validation import check_array_2d, check_finite, check_int, check_numeric, check_random_state

__all__ = [
    "el2n_scores",
    "margin_scores",
    "entropy_scores",
    "forgetting_events",
    "aum_scores",
    "prototype_scores",
]

#: How far a row of ``probs`` may sum from 1 (float32 softmax outputs round).
_SIMPLEX_ATOL = 1e-3

#: The distances prototype scores measure (a dot product is not one).
_PROTOTYPE_METRICS = ("euclidean", "cosine")


def _check_stack(values, name: str) -> np.ndarray:
    """``values`` as a finite float64 array of shape (runs, n, c); (n, c) is one run."""
    arr = np.asarray(values)
    check_numeric(arr, name)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must have shape (n_rows, n_classes) or (runs, n_rows, n_classes), "
            f"got shape {arr.shape}"
        )
    if 0 in arr.shape:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    arr = arr.astype(np.float64, copy=False)
    check_finite(arr, name)
    return arr


def _check_probs(probs, name: str = "probs") -> np.ndarray:
    """Probabilities of shape (runs, n, c): in [0, 1], each row summing to 1."""
    arr = _check_stack(probs, name)
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(
            f"{name} must hold probabilities in [0, 1] (got values in "
            f"[{arr.min():.4g}, {arr.max():.4g}]); apply a softmax to logits first"
        )
    worst = float(np.abs(arr.sum(axis=-1) - 1.0).max())
    if worst > _SIMPLEX_ATOL:
        raise ValueError(
            f"{name}: each row must sum to 1 (off by up to {worst:.3g}); apply a softmax "
            "to logits first"
        )
    return arr


def _check_labels(y, n: int, n_classes: int, name: str = "y") -> np.ndarray:
    """Integer class ids of shape (n,) in ``[0, n_classes)``."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) (one label per row), got {arr.shape}")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"{name} holds class ids outside [0, {n_classes}): min {arr.min()}, max {arr.max()}"
        )
    return arr


def _assigned_margin(values: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per run: the value of the labelled class minus the largest other one, shape (runs, n)."""
    if values.shape[-1] < 2:
        raise ValueError(f"a margin needs at least 2 classes, got {values.shape[-1]}")
    rows = np.arange(values.shape[1])
    assigned = values[:, rows, y]
    others = values.copy()
    others[:, rows, y] = -np.inf
    return assigned - others.max(axis=-1)


def el2n_scores(probs, y) -> np.ndarray:
    """EL2N: the L2 distance between the predicted distribution and the one-hot label.

    Paul, Ganguli & Dziugaite, "Deep Learning on a Data Diet: Finding Important
    Examples Early in Training", NeurIPS 2021: ``||softmax(f(x)) - onehot(y)||_2``,
    taken early in training and averaged over several proxy runs (the expectation over
    initialisations in the paper: the mean of the norms, not the norm of the mean).

    Parameters
    ----------
    probs : array-like of shape (n_rows, n_classes) or (runs, n_rows, n_classes)
        Predicted probabilities (softmax outputs), one stack entry per proxy run.
    y : array-like of int, shape (n_rows,)
        Class ids in ``[0, n_classes)``.

    Returns
    -------
    scores : ndarray of float64, shape (n_rows,)
        In ``[0, sqrt(2)]``; higher is harder.
    """
    p = _check_probs(probs)
    labels = _check_labels(y, p.shape[1], p.shape[2])
    err = p.copy()
    err[:, np.arange(p.shape[1]), labels] -= 1.0
    return np.sqrt(np.einsum("rnc,rnc->rn", err, err)).mean(axis=0)


def margin_scores(probs, y=None) -> np.ndarray:
    """Margin of the prediction, averaged over runs.

    With labels: ``p_y - max_{j != y} p_j`` (negative when the model prefers another
    class, as in the margin of Pleiss et al.'s AUM but on probabilities). Without labels:
    the gap between the two most probable classes (margin uncertainty sampling).

    Parameters
    ----------
    probs : array-like of shape (n_rows, n_classes) or (runs, n_rows, n_classes)
        Predicted probabilities, at least 2 classes.
    y : array-like of int, shape (n_rows,), optional
        Class ids; None for the label-free top-two gap.

    Returns
    -------
    scores : ndarray of float64, shape (n_rows,)
        In ``[-1, 1]`` with labels, ``[0, 1]`` without; higher is **easier**.
    """
    p = _check_probs(probs)
    if y is not None:
        return _assigned_margin(p, _check_labels(y, p.shape[1], p.shape[2])).mean(axis=0)
    if p.shape[-1] < 2:
        raise ValueError(f"probs: a margin needs at least 2 classes, got {p.shape[-1]}")
    top2 = np.partition(p, p.shape[-1] - 2, axis=-1)[..., -2:]
    return (top2[..., 1] - top2[..., 0]).mean(axis=0)


def entropy_scores(probs) -> np.ndarray:
    """Shannon entropy (nats) of the predicted distribution, averaged over runs.

    Label-free uncertainty; ``0 * log 0`` counts as 0.

    Parameters
    ----------
    probs : array-like of shape (n_rows, n_classes) or (runs, n_rows, n_classes)

    Returns
    -------
    scores : ndarray of float64, shape (n_rows,)
        In ``[0, log(n_classes)]``; higher is more uncertain.
    """
    p = _check_probs(probs)
    logp = np.log(np.where(p > 0, p, 1.0))
    return -(p * logp).sum(axis=-1).mean(axis=0)


def forgetting_events(correct) -> np.ndarray:
    """Forgetting events: how often a row went from classified correctly to incorrectly.

    Toneva et al., "An Empirical Study of Example Forgetting during Deep Neural Network
    Learning", ICLR 2019. A forgetting event is an epoch ``t`` with ``correct[t - 1]`` and
    not ``correct[t]``. Rows never classified correctly are, in the paper, forgotten
    infinitely often (they rank hardest); here they get ``n_epochs``, more than any
    learned row can reach (at most ``n_epochs // 2``), so scores stay finite integers
    with the same order.

    Parameters
    ----------
    correct : array-like of bool (or 0/1), shape (n_epochs, n_rows)
        Whether each row was classified correctly, one row of the array per epoch (or per
        evaluation step), in training order.

    Returns
    -------
    counts : ndarray of int64, shape (n_rows,)
        Higher is harder.
    """
    arr = np.asarray(correct)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"correct must be a non-empty (n_epochs, n_rows) array, got {arr.shape}")
    if arr.dtype != np.bool_:
        check_numeric(arr, "correct")
        if not np.isin(arr, (0, 1)).all():
            raise ValueError("correct must hold booleans or 0/1 values")
        arr = arr.astype(bool)
    counts = (arr[:-1] & ~arr[1:]).sum(axis=0).astype(np.int64)
    counts[~arr.any(axis=0)] = arr.shape[0]
    return counts


def aum_scores(logits, y) -> np.ndarray:
    """Area under the margin: the mean over epochs of the assigned logit minus the largest other.

    Pleiss, Zhang, Elenberg & Weinberger, "Identifying Mislabeled Data using the Area
    Under the Margin Ranking", NeurIPS 2020. Low (negative) values flag rows the model
    keeps assigning to another class: likely mislabelled.

    Parameters
    ----------
    logits : array-like of shape (n_epochs, n_rows, n_classes)
        The proxy's logits (pre-softmax) of every row, recorded once per epoch; a 2-D
        (n_rows, n_classes) array is one epoch.
    y : array-like of int, shape (n_rows,)
        Assigned (possibly noisy) class ids.

    Returns
    -------
    scores : ndarray of float64, shape (n_rows,)
        Higher is **easier**.
    """
    z = _check_stack(logits, "logits")
    return _assigned_margin(z, _check_labels(y, z.shape[1], z.shape[2])).mean(axis=0)


def prototype_scores(
    X, *, n_clusters: int | None = None, metric: str = "cosine", n_iter: int = 25, random_state=None
) -> np.ndarray:
    """Self-supervised prototype score: distance from each row to its nearest k-means centroid.

    Sorscher et al., "Beyond neural scaling laws: beating power law scaling via data
    pruning", NeurIPS 2022: cluster the embeddings with k-means and call rows far from
    their centroid hard (atypical), rows close to it easy (prototypical). Label-free.
    FAISS k-means, seeded from ``random_state``, so the scores are deterministic given it
    (on one machine: FAISS's BLAS distances can round differently on another CPU or
    thread count, which only matters for rows almost equidistant from two centroids).

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
        Embeddings (finite).
    n_clusters : int, optional
        Centroids, ``1 <= n_clusters <= n_rows``; default ``round(sqrt(n_rows))`` (about
        the number of classes is a natural choice when it is known).
    metric : {"cosine", "euclidean"}, default "cosine"
        "cosine": spherical k-means on unit rows, score ``1 - cos`` to the nearest
        centroid; "euclidean": k-means on the raw rows, score the L2 distance.
    n_iter : int, default 25
        k-means iterations.
    random_state : None, int or numpy Generator
        Seeds the k-means initialisation (and its subsample on large inputs).

    Returns
    -------
    scores : ndarray of float64, shape (n_rows,)
        Non-negative; higher is less typical (harder).
    """
    import faiss

    metric = check_metric(metric, allowed=_PROTOTYPE_METRICS)
    X = check_array_2d(X, "X")
    n, d = X.shape
    k = int(round(np.sqrt(n))) if n_clusters is None else n_clusters
    k = check_int(k, "n_clusters", low=1, high=n)
    n_iter = check_int(n_iter, "n_iter", low=1)
    seed = int(check_random_state(random_state).integers(2**31 - 1))
    rows = unit_rows(X, name="X", dtype=np.float64) if metric == "cosine" else X.astype(np.float64)
    Z = np.ascontiguousarray(rows, dtype=np.float32)
    km = faiss.Kmeans(d, k, niter=n_iter, seed=seed, spherical=metric == "cosine", verbose=False)
    # Small inputs are fine here: without this FAISS warns below 39 rows per centroid.
    km.cp.min_points_per_centroid = 1
    km.train(Z)
    centroids = np.asarray(km.centroids, dtype=np.float64).reshape(k, d)
    if metric == "cosine":
        centroids = unit_rows(centroids, zero_rows="keep", name="centroids")
    index = (faiss.IndexFlatIP if metric == "cosine" else faiss.IndexFlatL2)(d)
    index.add(centroids.astype(np.float32))
    _, nearest = index.search(Z, 1)
    # FAISS only picks the centroid; the distance itself is taken in float64.
    Zc = rows - centroids[nearest[:, 0]]
    if metric == "cosine":
        # ||u - c||^2 = 2 - 2 cos for unit u and c
        return np.clip(0.5 * np.einsum("ij,ij->i", Zc, Zc), 0.0, 2.0)
    return np.sqrt(np.einsum("ij,ij->i", Zc, Zc))
