"""Data pruning by difficulty scores: CCS, D2 pruning, moderate coresets, plain score order.

"Data pruning" is the literature's name for keeping a subset chosen from per-row scores
(Sorscher et al. 2022; Zheng et al. 2023; Maharana et al. 2024), as opposed to the
submodular objectives of :mod:`coresets.submodular`; the scores come from
:mod:`coresets.scores`. Every selection function returns a
:class:`~coresets.selection.Selection` whose ``gains`` are what the method ranked each pick
by (documented per function) and whose ``objective`` is their sum; none computes coreset
weights. :func:`kept_after_pruning` returns the rows a hard pruning leaves, for any other
selection to choose among.

Convention: **higher scores are harder** (EL2N, forgetting events, entropy, prototype
distance). Negate margins and AUM before passing them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._validation import (
    check_array_2d,
    check_finite,
    check_int,
    check_numeric,
    check_random_state,
    check_real,
    check_similarity,
)
from .selection import Selection

__all__ = [
    "kept_after_pruning",
    "ccs_select",
    "d2_select",
    "moderate_select",
    "score_select",
    "stratum_budgets",
    "score_strata",
    "class_median_distances",
]

_ORDERS = ("hardest", "easiest")


def _check_scores(scores, name: str = "scores", n: int | None = None) -> np.ndarray:
    """``scores`` as a finite 1-D float64 array (of length ``n`` when given)."""
    arr = np.asarray(scores)
    check_numeric(arr, name)
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (one per row), got {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have one entry per row ({n}), got {arr.shape[0]}")
    arr = arr.astype(np.float64)
    check_finite(arr, name)
    return arr


def _kept_after_pruning(scores: np.ndarray, hard_prune) -> np.ndarray:
    """Rows left once the ``hard_prune`` fraction with the highest scores is dropped (sorted).

    ``floor(hard_prune * n)`` rows go, as in the CCS code; ties between equal scores drop
    the earlier row first.
    """
    hard_prune = check_real(hard_prune, "hard_prune", low=0.0, high=1.0, low_open=False)
    n_drop = int(np.floor(hard_prune * scores.shape[0]))
    hardest_first = np.argsort(-scores, kind="stable")
    return np.sort(hardest_first[n_drop:])


def kept_after_pruning(scores, hard_prune, *, y=None) -> np.ndarray:
    """Rows left once the ``hard_prune`` fraction of hardest rows is dropped, sorted.

    With labels ``y`` the fraction is dropped within each class: a class the scores find
    hard as a whole keeps as large a share of its rows as an easy one. (On MNIST-1D a
    proxy's mean EL2N differs tenfold between classes, 0.03 to 0.36, so one global cut
    would drop mostly the hardest class.) In each group ``floor(hard_prune * size)`` rows
    go, ties dropping the earlier row first.

    Parameters
    ----------
    scores : array-like of float, shape (n_rows,)
        Difficulty, higher is harder.
    hard_prune : float in [0, 1)
    y : array-like, shape (n_rows,), optional
        Class labels.

    Returns
    -------
    kept : ndarray of int64, shape (m,)
    """
    scores = _check_scores(scores)
    hard_prune = check_real(hard_prune, "hard_prune", low=0.0, high=1.0, low_open=False)
    if y is None:
        return _kept_after_pruning(scores, hard_prune)
    y = np.asarray(y)
    if y.shape != scores.shape:
        raise ValueError(f"y must have one label per score ({scores.shape[0]}), got {y.shape}")
    _, inverse = np.unique(y, return_inverse=True)
    groups = [np.flatnonzero(inverse == c) for c in range(inverse.max() + 1)]
    return np.sort(np.concatenate([g[_kept_after_pruning(scores[g], hard_prune)] for g in groups]))


def _check_k(k, n_left: int, n: int, hard_prune) -> int:
    k = check_int(k, "k", low=1)
    if k > n_left:
        if n_left == n:
            raise ValueError(f"k ({k}) is larger than the {n} rows")
        raise ValueError(
            f"k ({k}) is larger than the {n_left} rows left after hard_prune={hard_prune} "
            "dropped the hardest ones; lower k or hard_prune"
        )
    return k


def stratum_budgets(sizes, k: int) -> np.ndarray:
    """CCS's budget split: equal shares, smallest stratum first, leftovers passed on.

    Strata are visited from the smallest to the largest (ties in stratum order); each
    takes ``min(size, remaining // strata_left)`` and what a small stratum cannot use
    goes to the larger ones after it. The budgets sum to ``min(k, sum(sizes))``.

    Parameters
    ----------
    sizes : array-like of int, shape (n_strata,)
        Rows per stratum (empty strata get 0 and do not count as strata left).
    k : int
        Rows to choose.

    Returns
    -------
    budgets : ndarray of int64, shape (n_strata,)
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    budgets = np.zeros_like(sizes)
    order = [s for s in np.argsort(sizes, kind="stable") if sizes[s] > 0]
    remaining = int(k)
    for pos, s in enumerate(order):
        take = min(int(sizes[s]), remaining // (len(order) - pos))
        budgets[s] = take
        remaining -= take
    return budgets


def score_strata(scores, n_strata: int) -> np.ndarray:
    """CCS's equal-width strata: the stratum (0 = lowest scores) of each score.

    The range ``[min, max]`` is cut into ``n_strata`` equal widths; the largest score
    closes the top stratum; equal scores everywhere make one stratum (0).

    Parameters
    ----------
    scores : ndarray of float, shape (m,), finite
    n_strata : int >= 1

    Returns
    -------
    strata : ndarray of int64, shape (m,), in ``[0, n_strata)``
    """
    lo, hi = float(scores.min()), float(scores.max())
    if hi == lo:
        return np.zeros(scores.shape[0], dtype=np.int64)
    strata = np.floor((scores - lo) / (hi - lo) * n_strata).astype(np.int64)
    return np.minimum(strata, n_strata - 1)


def ccs_select(scores, k, *, hard_prune=0.1, n_strata=50, random_state=None) -> Selection:
    """Coverage-centric coreset selection (CCS).

    Zheng, Liu, Lai & Prakash, "Coverage-centric Coreset Selection for High Pruning
    Rates", ICLR 2023: drop the hardest ``hard_prune`` fraction (likely noise), split the
    remaining score range into ``n_strata`` equal-width strata, give the strata equal
    budgets smallest first with the leftovers passed on (:func:`stratum_budgets`), and
    sample uniformly at random within each stratum.

    Differences from the authors' code: the top stratum is closed at the largest kept
    score (their code stretches the range by ``max * 1.0001``, which shrinks it instead
    when every score is negative); all scores equal make one stratum; and the random
    draws come from ``random_state`` instead of torch's global generator.

    Parameters
    ----------
    scores : array-like of shape (n_rows,)
        Difficulty, higher is harder (e.g. :func:`coresets.scores.el2n_scores`).
    k : int
        Rows to choose, ``1 <= k <=`` the rows left after pruning.
    hard_prune : float in [0, 1), default 0.1
        Fraction of rows with the highest scores never chosen (``floor(hard_prune * n)``).
    n_strata : int, default 50
        Equal-width score strata over the kept rows.
    random_state : None, int or numpy Generator

    Returns
    -------
    Selection
        ``indices`` stratum by stratum from the easiest, random order within one;
        ``gains`` the picks' scores.
    """
    scores = _check_scores(scores)
    kept = _kept_after_pruning(scores, hard_prune)
    k = _check_k(k, kept.size, scores.shape[0], hard_prune)
    n_strata = check_int(n_strata, "n_strata", low=1)
    rng = check_random_state(random_state)
    strata = score_strata(scores[kept], n_strata)
    budgets = stratum_budgets(np.bincount(strata, minlength=n_strata), k)
    picks = [
        rng.permutation(kept[strata == b])[: budgets[b]]
        for b in np.flatnonzero(budgets)  # ascending scores
    ]
    indices = np.concatenate(picks)
    return Selection(indices, scores[indices], float(scores[indices].sum()))


def _check_graph(graph, n: int) -> sp.csr_matrix:
    """A square (n, n) non-negative similarity graph as float64 CSR, its diagonal left out."""
    kind, S = check_similarity(graph, name="graph", square=True)
    if S.shape[0] != n:
        raise ValueError(f"graph must be ({n}, {n}) to match scores, got {tuple(S.shape)}")
    if kind == "torch":
        S = S.cpu().numpy()
    S = sp.coo_matrix(S, dtype=np.float64)
    # a row's own score enters once, on its own; explicit zeros are no edge
    keep = (S.row != S.col) & (S.data != 0)
    return sp.csr_matrix((S.data[keep], (S.row[keep], S.col[keep])), shape=(n, n))


def d2_select(
    graph, scores, k, *, gamma=1.0, reverse_gamma=1.0, hard_prune=0.0, n_strata=None
) -> Selection:
    """D2 pruning: message passing on a kNN graph, then greedy picks that damp their neighbours.

    Maharana, Yadav & Bansal, "D2 Pruning: Message Passing for Balancing Diversity and
    Difficulty in Data Pruning", ICLR 2024.

    1. Forward message: ``v_i = s_i + sum_{j in N(i)} exp(-gamma d_ij) s_j``, with
       ``N(i)`` the stored neighbours of row ``i`` (row ``i`` of ``graph``, self left out).
    2. Repeat ``k`` times: pick the unpicked row ``p`` with the largest ``v`` (ties: the
       lowest id); reverse message ``v_j -= exp(-reverse_gamma d_pj) v_p`` for each
       neighbour ``j`` of ``p``.

    The distance is read from :func:`coresets.knn.knn_graph`'s stored similarities as
    ``d = -log(similarity)``, so ``exp(-gamma d) = similarity ** gamma``: on a euclidean
    graph ``d`` is the squared distance over the graph's bandwidth ``sigma^2``
    (similarity ``exp(-d^2 / sigma^2)``), on a cosine graph ``-log cos`` (a clipped,
    zero similarity is no edge).

    Differences from the authors' code (``adymaharana/d2pruning``): it builds its own
    scikit-learn kNN graph on raw Euclidean (unsquared) distances and symmetrises it;
    here the graph is used as given (row ``i`` = ``i``'s neighbours), and the scale comes
    from the graph's bandwidth instead of the units of ``X``. Its forward weights are
    ``exp(-d)`` with scores floored at 1e-7 and its ``gamma`` is only the reverse one;
    here both messages have a decay (``gamma=1`` is its forward message). Its scripts
    can run the greedy inside CCS strata, which ``n_strata`` reproduces.

    Parameters
    ----------
    graph : scipy.sparse matrix or ndarray of shape (n_rows, n_rows)
        Non-negative similarities, row ``i`` = ``i``'s neighbours (``knn_graph(X)``).
    scores : array-like of shape (n_rows,)
        Non-negative difficulty, higher is harder (shift scores that can be negative).
    k : int
        Rows to choose.
    gamma : float >= 0, default 1.0
        Forward decay (0: every neighbour counts fully).
    reverse_gamma : float >= 0, default 1.0
        Decay of the reverse message; smaller damps neighbours of a pick more.
    hard_prune : float in [0, 1), default 0.0
        Fraction of the hardest rows dropped first: they are never picked and send no
        forward message (like building the graph without them, except that their
        neighbours' lists are not refilled).
    n_strata : int, optional
        None: one greedy over all kept rows. An int: split the kept rows into CCS's
        equal-width score strata with its budgets (:func:`score_strata`,
        :func:`stratum_budgets`) and run the messages and the greedy within each stratum
        (its rows and the graph's edges among them).

    Returns
    -------
    Selection
        ``indices`` in pick order (stratum by stratum from the easiest with
        ``n_strata``); ``gains`` each pick's ``v`` when it was picked.
    """
    scores = _check_scores(scores)
    if scores.min() < 0:
        raise ValueError(
            f"scores must be non-negative for D2 pruning (min is {scores.min():.4g}); "
            "shift them, e.g. scores - scores.min()"
        )
    n = scores.shape[0]
    S = _check_graph(graph, n)
    gamma = check_real(gamma, "gamma", low=0.0, low_open=False)
    reverse_gamma = check_real(reverse_gamma, "reverse_gamma", low=0.0, low_open=False)
    kept = _kept_after_pruning(scores, hard_prune)
    k = _check_k(k, kept.size, scores.shape[0], hard_prune)

    if n_strata is None:
        indices, gains = _d2_greedy(S, scores, kept, k, gamma, reverse_gamma)
    else:
        n_strata = check_int(n_strata, "n_strata", low=1)
        strata = score_strata(scores[kept], n_strata)
        budgets = stratum_budgets(np.bincount(strata, minlength=n_strata), k)
        parts = []
        for b in np.flatnonzero(budgets):  # ascending scores
            rows = kept[strata == b]
            block = S[rows][:, rows]
            local, g = _d2_greedy(
                block, scores[rows], np.arange(rows.size), budgets[b], gamma, reverse_gamma
            )
            parts.append((rows[local], g))
        indices = np.concatenate([p[0] for p in parts])
        gains = np.concatenate([p[1] for p in parts])
    return Selection(indices, gains, float(gains.sum()))


def _d2_greedy(S, scores, kept, k, gamma, reverse_gamma):
    """D2's forward message over ``kept`` rows of ``S``, then ``k`` greedy picks with reverse
    messages; returns ``(indices, gains)``."""
    n = scores.shape[0]
    live = np.zeros(n, dtype=bool)
    live[kept] = True
    forward = S.copy()
    forward.data **= gamma
    value = scores + forward @ np.where(live, scores, 0.0)
    value[~live] = -np.inf
    reverse = S.copy()
    reverse.data **= reverse_gamma
    indptr, cols, weights = reverse.indptr, reverse.indices, reverse.data

    indices = np.empty(k, dtype=np.int64)
    gains = np.empty(k, dtype=np.float64)
    for t in range(k):
        p = int(np.argmax(value))
        indices[t], gains[t] = p, value[p]
        lo, hi = indptr[p], indptr[p + 1]
        value[cols[lo:hi]] -= weights[lo:hi] * gains[t]
        value[p] = -np.inf
    return indices, gains


def _band(scores: np.ndarray, k: int, start: int, order: str) -> Selection:
    """Rows ``start .. start + k - 1`` of ``scores`` ranked by ``order`` (ties: row order)."""
    ranked = np.argsort(-scores if order == "hardest" else scores, kind="stable")
    indices = ranked[start : start + k]
    return Selection(indices, scores[indices], float(scores[indices].sum()))


def score_select(scores, k, *, order="hardest", skip=0.0) -> Selection:
    """The ``k`` hardest (or easiest) rows, optionally after passing over the most extreme.

    The plain baselines of the pruning papers: keep the hardest rows (Paul et al. 2021;
    Toneva et al. 2019), the easiest, or a band (``skip > 0``: leave out the ``skip``
    fraction at the chosen end first, e.g. the noisiest hardest rows).

    Parameters
    ----------
    scores : array-like of shape (n_rows,)
        Difficulty, higher is harder.
    k : int
        Rows to choose.
    order : {"hardest", "easiest"}, default "hardest"
        Which end of the ranking to take from.
    skip : float in [0, 1), default 0.0
        Fraction of rows at that end passed over (``floor(skip * n)``) before taking ``k``.

    Returns
    -------
    Selection
        ``indices`` in ranking order (ties by row id); ``gains`` their scores.
    """
    scores = _check_scores(scores)
    if order not in _ORDERS:
        raise ValueError(f"order must be one of {_ORDERS}, got {order!r}")
    skip = check_real(skip, "skip", low=0.0, high=1.0, low_open=False)
    start = int(np.floor(skip * scores.shape[0]))
    k = check_int(k, "k", low=1)
    if start + k > scores.shape[0]:
        raise ValueError(
            f"k ({k}) is larger than the {scores.shape[0] - start} rows left after skip={skip}"
        )
    return _band(scores, k, start, order)


def class_median_distances(X, y) -> np.ndarray:
    """Euclidean distance from each row to the coordinate-wise median of its class.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
    y : array-like of shape (n_rows,)
        Class labels (any hashable values numpy can sort).

    Returns
    -------
    distances : ndarray of float64, shape (n_rows,)
    """
    X = check_array_2d(X, "X").astype(np.float64, copy=False)
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},) (one label per row), got {y.shape}")
    _, inverse = np.unique(y, return_inverse=True)
    centres = np.empty_like(X)
    for c in range(int(inverse.max()) + 1):
        members = inverse == c
        centres[members] = np.median(X[members], axis=0)
    return np.linalg.norm(X - centres, axis=1)


def moderate_select(X, y, k) -> Selection:
    """Moderate coreset: the rows at a middling distance from their class centre.

    Xia, Liu, Yu, Shen, Han & Liu, "Moderate Coreset: A Universal Method of Data
    Selection for Real-world Data-efficient Deep Learning", ICLR 2023. The distance is
    Euclidean, to the coordinate-wise median of the row's class (as in the reference
    code); all rows are ranked together and the ``k`` around the median rank are kept:
    ranks ``(n - k) // 2`` to ``(n - k) // 2 + k - 1`` (the reference rounds
    ``n * (0.5 - k / (2 n))``, which differs by one row when ``n - k`` is odd).

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
        Embeddings (ideally a trained model's penultimate features).
    y : array-like of shape (n_rows,)
        Class labels.
    k : int
        Rows to choose.

    Returns
    -------
    Selection
        ``indices`` by increasing distance; ``gains`` the distances.
    """
    distances = class_median_distances(X, y)
    n = distances.shape[0]
    k = check_int(k, "k", low=1, high=n)
    return _band(distances, k, (n - k) // 2, "easiest")
