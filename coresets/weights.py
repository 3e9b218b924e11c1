"""Coreset weights: how many ground-set points each chosen point stands for.

CRAIG (Mirzasoleiman et al., 2020) trains on a facility-location coreset with
per-example weights ``w_j = |{i : j is the chosen point most similar to i}|``,
so the weighted subset sums to the full data set. Two ways to get them:

* :func:`coreset_weights` from the similarity the selection was made on (dense
  or sparse, row ``j`` = candidate ``j``'s similarities to the points it covers);
* :func:`nearest_center_weights` / :func:`assign_to_nearest` in embedding space
  with an exact FAISS flat index, one block of rows at a time, so weights for data
  that does not fit in memory are the sum of per-shard counts.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from ._metrics import check_magnitude, check_metric, faiss_metric, unit_rows
from ._validation import check_array_2d, check_indices, check_int, check_similarity, is_torch
from .submodular.similarity import ImplicitSimilarity

__all__ = [
    "assign_to_chosen",
    "coreset_weights",
    "assign_to_nearest",
    "nearest_center_weights",
]

# Bytes of chosen similarity rows held at once by the dense assignment.
_DENSE_BLOCK_BYTES = 256 * 1024**2


def _check_similarity(similarity):
    """A validated (m, n) similarity of any sign, or an ImplicitSimilarity (finite by construction)."""
    if isinstance(similarity, ImplicitSimilarity):
        return similarity
    return check_similarity(similarity, nonnegative=False)[1]


def assign_to_chosen(similarity, indices) -> np.ndarray:
    """Assign every point to its most similar chosen point.

    Parameters
    ----------
    similarity : ndarray, torch.Tensor, scipy.sparse matrix or ImplicitSimilarity, shape (m, n)
        Row ``j`` holds candidate ``j``'s similarities to the ``n`` points (the
        FacilityLocation row convention; usually ``m == n``). In a sparse matrix an
        entry that is not stored means "does not cover"; stored entries count even
        when zero.
    indices : array-like of int, shape (k,)
        Chosen rows in selection order.

    Returns
    -------
    assignment : ndarray of int64, shape (n,)
        Position in ``indices`` (``0..k-1``) of the chosen point most similar to each
        point; ties go to the earlier-chosen point. ``-1`` marks a point that no chosen
        row covers (only possible with a sparse ``similarity``).
    """
    S = _check_similarity(similarity)
    m, n = S.shape
    idx = check_indices(indices, m, "indices")
    if idx.size == 0:
        raise ValueError("indices must hold at least one chosen point")
    if sp.issparse(S):
        return _assign_sparse(S, idx)
    if is_torch(S):
        return _assign_dense_torch(S, idx)
    return _assign_dense(S, idx)


def _assign_dense(S: np.ndarray, idx: np.ndarray) -> np.ndarray:
    n = S.shape[1]
    best = np.full(n, -np.inf)
    assignment = np.zeros(n, dtype=np.int64)
    # Chosen rows are scanned in selection order, a block at a time to bound memory;
    # only a strictly larger similarity moves a point, so ties stay with the earlier pick.
    implicit = isinstance(S, ImplicitSimilarity)  # computes float32 rows instead of storing them
    step = max(1, _DENSE_BLOCK_BYTES // max(1, n * (4 if implicit else S.itemsize)))
    for start in range(0, idx.size, step):
        block = idx[start : start + step]
        rows = S.rows(block) if implicit else S[block]
        arg = rows.argmax(axis=0)  # first maximum = earliest pick within the block
        val = rows[arg, np.arange(n)]
        better = val > best
        best[better] = val[better]
        assignment[better] = arg[better] + start
    return assignment


def _assign_dense_torch(S, idx: np.ndarray) -> np.ndarray:
    import torch

    n = S.shape[1]
    best = torch.full((n,), -float("inf"), dtype=torch.float64, device=S.device)
    assignment = torch.zeros(n, dtype=torch.int64, device=S.device)
    cols = torch.arange(n, device=S.device)
    idx_t = torch.as_tensor(idx, device=S.device)
    step = max(1, _DENSE_BLOCK_BYTES // max(1, n * S.element_size()))
    for start in range(0, idx.size, step):
        rows = S[idx_t[start : start + step]]
        arg = rows.argmax(dim=0)  # documented to return the first maximal index
        val = rows[arg, cols].to(torch.float64)
        better = val > best
        best = torch.where(better, val, best)
        assignment = torch.where(better, arg + start, assignment)
    return assignment.cpu().numpy()


def _assign_sparse(S: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
    n = S.shape[1]
    sub = S[idx].tocoo()  # row r of ``sub`` is the r-th chosen point
    assignment = np.full(n, -1, dtype=np.int64)
    if sub.nnz == 0:
        return assignment
    # Sort by column, then similarity descending, then pick order: the first entry of
    # each column is its most similar chosen point, ties to the earlier pick.
    order = np.lexsort((sub.row, -sub.data.astype(np.float64), sub.col))
    col = sub.col[order]
    first = np.ones(col.size, dtype=bool)
    first[1:] = col[1:] != col[:-1]
    assignment[col[first]] = sub.row[order][first]
    return assignment


def coreset_weights(
    similarity, indices, *, X=None, metric="euclidean", batch_size=65536
) -> np.ndarray:
    """CRAIG weights: how many points each chosen point is the most similar chosen one for.

    Parameters
    ----------
    similarity : ndarray, torch.Tensor, scipy.sparse matrix or ImplicitSimilarity, shape (m, n)
        Row ``j`` = candidate ``j``'s similarities to the points (FacilityLocation
        row convention).
    indices : array-like of int, shape (k,)
        Chosen rows in selection order; ties go to the earlier-chosen point.
    X : array-like, shape (n, d), optional
        Embeddings of the ``n`` points. In a sparse graph a point may be covered by no
        chosen point (none of its neighbours was chosen). With ``X`` such points go to
        the chosen point nearest in embedding space (``metric``), so the weights sum to
        ``n``; without it they are left out and the weights sum to the number of
        covered points. Only used with a sparse ``similarity`` and ``m == n``.
    metric : {"euclidean", "cosine", "dot"}
        Embedding metric for the uncovered points (see :func:`assign_to_nearest`).
    batch_size : int
        Rows per FAISS search for the uncovered points.

    Returns
    -------
    weights : ndarray of float64, shape (k,)
        Non-negative counts in selection order.
    """
    assignment = assign_to_chosen(similarity, indices)
    idx = np.asarray(indices, dtype=np.int64)
    k = idx.size
    uncovered = np.flatnonzero(assignment < 0)
    if uncovered.size and X is not None:
        X = check_array_2d(X, "X")
        if X.shape[0] != assignment.size:
            raise ValueError(
                f"X must have one row per point of similarity ({assignment.size}), got {X.shape[0]}"
            )
        centers = X[idx]
        batch_size = check_int(batch_size, "batch_size", low=1)
        for start in range(0, uncovered.size, batch_size):
            block = uncovered[start : start + batch_size]
            assignment[block] = assign_to_nearest(X[block], centers, metric=metric)
    covered = assignment[assignment >= 0]
    return np.bincount(covered, minlength=k).astype(np.float64)


def _prepare(block, metric: str, name: str) -> np.ndarray:
    """Float32, C-contiguous rows for FAISS; unit rows for cosine, zero rows kept at zero."""
    arr = check_array_2d(block, name)
    if metric == "cosine":
        # a zero row has similarity 0 to every centre: one must not stop a pass over shards
        return unit_rows(arr, zero_rows="keep", name=name, dtype=np.float32)
    check_magnitude(arr, metric, dtype=np.float32, name=name)  # FAISS scores in float32
    return np.ascontiguousarray(arr, dtype=np.float32)


class _CenterIndex:
    """Exact FAISS flat index over the centres, reused across blocks."""

    def __init__(self, centers, metric: str):
        import faiss

        self.metric = check_metric(metric)
        self.centers = _prepare(centers, self.metric, "centers")
        self.index = faiss.IndexFlat(self.centers.shape[1], faiss_metric(self.metric))
        self.index.add(self.centers)

    def assign(self, block, name="X_block") -> np.ndarray:
        arr = _prepare(block, self.metric, name)
        if arr.shape[1] != self.centers.shape[1]:
            raise ValueError(
                f"{name} has {arr.shape[1]} features but centers have {self.centers.shape[1]}"
            )
        _, labels = self.index.search(arr, 1)
        return labels[:, 0].astype(np.int64)


def assign_to_nearest(X_block, centers, *, metric="euclidean") -> np.ndarray:
    """Index of the nearest centre for each row, by exact FAISS flat search.

    Parameters
    ----------
    X_block : array-like, shape (m, d)
        Rows to assign (any block of a larger data set).
    centers : array-like, shape (k, d)
        Chosen points' embeddings.
    metric : {"euclidean", "cosine", "dot"}
        "euclidean": smallest L2 distance; "cosine": largest cosine similarity (a zero
        row has similarity 0 to every centre); "dot" (alias "ip"): largest inner
        product. Computed in float32.

    Returns
    -------
    labels : ndarray of int64, shape (m,)
        Row of ``centers`` nearest to each row of ``X_block``.
    """
    return _CenterIndex(centers, metric).assign(X_block)


def nearest_center_weights(
    X, centers, *, metric="euclidean", batch_size=65536, progress=False
) -> np.ndarray:
    """Count, for each centre, the rows of ``X`` whose nearest centre it is.

    ``X`` is read ``batch_size`` rows at a time, so a memory-mapped array works; for
    sharded data sum the counts of :func:`assign_to_nearest` (``np.bincount``) per shard.

    Parameters
    ----------
    X : array-like, shape (n, d)
        Embeddings of the ground set.
    centers : array-like, shape (k, d)
        Embeddings of the chosen points (e.g. ``X[indices]``).
    metric : {"euclidean", "cosine", "dot"}
        See :func:`assign_to_nearest` ("ip" is an alias of "dot").
    batch_size : int
        Rows per FAISS search.
    progress : bool
        Show a tqdm bar over the blocks.

    Returns
    -------
    weights : ndarray of float64, shape (k,)
        Counts summing to ``n``.
    """
    batch_size = check_int(batch_size, "batch_size", low=1)
    index = _CenterIndex(centers, metric)
    shape = getattr(X, "shape", None)
    if shape is None:
        X = np.asarray(X)
        shape = X.shape
    if len(shape) != 2 or shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array (n, d), got shape {tuple(shape)}")
    n = int(shape[0])
    counts = np.zeros(index.centers.shape[0], dtype=np.int64)
    starts = range(0, n, batch_size)
    for start in tqdm(starts, desc="weights", unit="block", disable=not progress):
        labels = index.assign(X[start : start + batch_size], name="X")
        counts += np.bincount(labels, minlength=counts.size)
    return counts.astype(np.float64)
