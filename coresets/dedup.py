"""Semantic deduplication: drop rows whose embeddings nearly repeat another row's.

SemDeDup (Abbas et al., "SemDeDup: Data-efficient learning at web-scale through
semantic deduplication", 2023, arXiv:2303.09540; NVIDIA NeMo Curator runs it on GPUs):

1. cluster the embeddings with k-means (FAISS; spherical k-means for ``"cosine"``);
2. within each cluster, order the rows by priority: by default the row **farthest**
   from its centroid first (the paper's ``keep_hard``; ``keep="nearest"`` is its
   "easy", ``keep="random"`` its shuffle, ``keep="first"`` lowest row id first);
3. a row is removed when some row **earlier** in that order is a duplicate of it:
   cosine similarity ``> threshold`` (the paper's ``1 - eps``), or for ``"euclidean"``
   L2 distance ``< threshold``.

This is the paper's rule exactly (its ``max(triu(S, 1), axis=0) > 1 - eps`` on the
cluster's similarity matrix in priority order). In particular a chain ``a ~ b ~ c``
(``a`` matches ``b``, ``b`` matches ``c``, ``a`` does not match ``c``) in that order
removes **both** ``b`` and ``c``: ``c`` has an earlier duplicate (``b``) whether or not
``b`` survives. Each removed row has a ``parent`` (the earliest row in its cluster's
order that it duplicates, possibly removed itself) and is attributed to the kept row at
the end of its parent chain (``duplicate_of``; for ``c`` that is ``a``).

Exactness and the one approximation
-----------------------------------
Within a cluster every pair is compared (blocks of :data:`BLOCK` x :data:`BLOCK` rows,
so memory is bounded whatever the cluster size). Similarities are computed in float32
by BLAS (or torch on a GPU); pairs whose float32 value lies within a rounding bound of
the threshold (:func:`_margin`: ``(d + 4) 2^-23`` for unit rows, a rigorous bound on
float32 dot-product error) are decided again in float64. So the removals equal those of
a float64 brute-force comparison of all pairs inside each cluster (checked in
``tests/test_dedup.py``), up to pairs whose float64 similarity lies within a few ulps
of the threshold.

The approximation is the clustering, as in the paper: a duplicate pair whose two rows
fall into different clusters is never compared, so neither is removed for it. With
``n_clusters=1`` nothing is missed and the result is the exact global SemDeDup (all
``n^2 / 2`` pairs: affordable up to some 10^5 rows on a CPU). Cost is
``sum_c m_c^2 d`` for cluster sizes ``m_c``, about ``n^2 d / n_clusters`` for balanced
clusters, plus k-means.

Shards
------
``X`` may be a :class:`coresets.shards.ShardedEmbeddings` (or a path
:func:`coresets.shards.open_shards` opens). The dedup is then **global**, not per shard:
a sample read (the k-means training rows), one pass checking norms, one pass assigning
every row to its centroid (labels, distances and norms kept: 20 bytes a row), then the
clusters are gathered in groups of about :data:`GROUP_BYTES` and deduplicated as in
memory. The result is the in-memory result on the concatenated rows (same seed, same
sample, same centroids; up to rows that FAISS finds equidistant from two centroids
within float32 rounding).

Use as a pre-pass before budgeted selection::

    kept = semantic_dedup(X, threshold=0.95, random_state=0).indices
    chosen = kept[FacilityLocationSelector(0.1).fit(X[kept]).ranking_]

or :class:`coresets.selectors.dedup.SemanticDedupSelector` with ``selector=``.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass

import numpy as np

from ._metrics import check_magnitude, check_metric, unit_rows
from ._validation import (
    check_array_2d,
    check_int,
    check_option,
    check_random_state,
    check_real,
)
from .selection import Selection

__all__ = [
    "Duplicates",
    "semantic_duplicates",
    "semantic_dedup",
    "KEEP",
    "DEFAULT_THRESHOLD",
    "BLOCK",
    "GROUP_BYTES",
]

#: Which row of a group of duplicates survives (see the module docstring).
KEEP = ("farthest", "nearest", "random", "first")

#: Cosine similarity above which two rows are duplicates by default (``eps = 0.05``).
DEFAULT_THRESHOLD = 0.95

#: Rows per side of one block of within-cluster similarities (16 MiB of float32).
BLOCK = 2048

#: Rows of clusters gathered at once are bounded by this many bytes of embeddings.
GROUP_BYTES = 256 * 1024**2

#: Clusters smaller than this run their BLAS products on one thread: at a few hundred rows
#: a multi-threaded GEMM spends more on waking its threads than on the product (measured
#: on 2 shared cores, 100k x 64 rows in 316 clusters: 5.2 s of products, 0.4 s on one).
SMALL_CLUSTER = 1024

#: Rows per block of the norm and assignment passes.
_PASS_BLOCK = 65_536

#: k-means training rows per centroid (FAISS's ``max_points_per_centroid`` default).
_TRAIN_PER_CENTROID = 256

_METRICS = ("cosine", "euclidean")


@dataclass(frozen=True)
class Duplicates:
    """What :func:`semantic_duplicates` found.

    Attributes
    ----------
    kept : ndarray of int64, shape (k,)
        Rows that survive, ascending.
    removed : ndarray of int64, shape (r,)
        Rows removed as duplicates, ascending; ``k + r == n_rows``.
    duplicate_of : ndarray of int64, shape (r,)
        For each removed row, the kept row it is attributed to: the end of its parent
        chain (always a kept row of the same cluster).
    parent : ndarray of int64, shape (r,)
        For each removed row, the first row in its cluster's priority order that it
        duplicates (similarity above / distance below ``threshold``); may itself be
        removed (a chain).
    similarity : ndarray of float64, shape (r,)
        Each removed row's cosine similarity (``"cosine"``) or L2 distance
        (``"euclidean"``) to its parent, in float64.
    labels : ndarray of int64, shape (n_rows,)
        The k-means cluster of every row.
    centroids : ndarray of float64, shape (n_clusters, n_features)
        The k-means centroids (unit rows for ``"cosine"``).
    threshold : float
    metric : str
    keep : str
    """

    kept: np.ndarray
    removed: np.ndarray
    duplicate_of: np.ndarray
    parent: np.ndarray
    similarity: np.ndarray
    labels: np.ndarray
    centroids: np.ndarray
    threshold: float
    metric: str
    keep: str

    @property
    def n_rows(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_clusters(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def representative(self) -> np.ndarray:
        """ndarray of int64, shape (n_rows,): the kept row each row maps to (itself if kept)."""
        rep = np.arange(self.n_rows, dtype=np.int64)
        rep[self.removed] = self.duplicate_of
        return rep

    @property
    def weights(self) -> np.ndarray:
        """ndarray of float64, shape (k,): rows each kept row stands for (itself + its
        duplicates), summing to ``n_rows``."""
        counts = np.bincount(self.representative, minlength=self.n_rows)
        return counts[self.kept].astype(np.float64)

    @property
    def selection(self) -> Selection:
        """The kept rows as a :class:`~coresets.selection.Selection`: ``indices`` ascending,
        ``weights`` from :attr:`weights`; dedup maximises nothing, so ``gains`` and
        ``objective`` are NaN."""
        k = self.kept.shape[0]
        return Selection(self.kept, np.full(k, np.nan), float("nan"), weights=self.weights)


# ---------------------------------------------------------------------- data sources
class _ArraySource:
    """An in-memory (or memory-mapped) validated array, read the way shards are."""

    def __init__(self, X):
        self.X = X
        self.n_rows, self.n_features = X.shape
        self.dtype = X.dtype

    def blocks(self, size):
        for start in range(0, self.n_rows, size):
            yield start, self.X[start : start + size]

    def take(self, rows):
        return self.X[rows]

    def locate(self, row) -> str:
        return f"row {int(row)}"


class _ShardSource:
    """:class:`~coresets.shards.ShardedEmbeddings` (each read checked finite there)."""

    def __init__(self, shards):
        self.shards = shards
        self.n_rows, self.n_features = shards.n_rows, shards.n_features
        self.dtype = np.dtype(shards.dtype)

    def blocks(self, size):
        return self.shards.iter_blocks(size)

    def take(self, rows):
        return self.shards.take(rows)

    def locate(self, row) -> str:
        return self.shards.locate(row)


def _source(X):
    from .shards import ShardedEmbeddings, open_shards

    if isinstance(X, (str, os.PathLike)):
        X = open_shards(X)
    if isinstance(X, ShardedEmbeddings):
        return _ShardSource(X)
    return _ArraySource(check_array_2d(X, "X"))


# ---------------------------------------------------------------------- checks
def _check_threshold(threshold, metric):
    if threshold is None:
        if metric == "euclidean":
            raise ValueError(
                "threshold is required with metric='euclidean': the L2 distance below "
                "which two rows are duplicates"
            )
        return DEFAULT_THRESHOLD
    if metric == "cosine":
        return check_real(threshold, "threshold", low=-1.0, high=1.0)
    return check_real(threshold, "threshold", low=0.0)


def _check_device(device):
    """``(faiss_on_gpu, torch_device_or_None)`` for ``device``, validated up front."""
    from ._device import cuda_device
    from .knn import _resolve_faiss_device

    return _resolve_faiss_device(device) == "gpu", cuda_device(device, "device")


# ---------------------------------------------------------------------- the kernel
def _margin(d: int, metric: str, max_sq: float, tf32: bool = False) -> float:
    """A bound on the float32 error of a block score, past which no recheck is needed.

    A float32 dot product of length ``d`` errs by at most ``gamma_d sum|a_k b_k|``,
    ``gamma_d ~ d 2^-24`` whatever the summation order; rounding the rows to float32 adds
    ``2^-23 |a||b|``. Unit rows: ``|a||b| <= 1``. Centred euclidean rows: the score
    ``2 a.b - |a|^2 - |b|^2`` has three such terms, each at most ``max_sq``. The factor 2
    is headroom. TF32 matmuls (torch on a GPU with ``allow_tf32``) round the inputs to
    10 mantissa bits first (``2^-11`` per product).
    """
    per_unit = 2.0 * ((d + 4) * 2.0**-24 + (2.0 * 2.0**-11 if tf32 else 0.0))
    if metric == "cosine":
        return per_unit + 1e-12
    return 4.0 * per_unit * max_sq + 1e-30


class _NumpyBlocks:
    """Block scores ``2 a.b - |a|^2 - |b|^2`` (euclidean) or ``a.b`` (cosine) with numpy."""

    def __init__(self, Y, sq):
        self.Y, self.sq = Y, sq

    def scores(self, i0, i1, cols, Yc):
        S = self.Y[i0:i1] @ Yc.T
        if self.sq is not None:
            S *= 2.0
            S -= self.sq[i0:i1, None]
            S -= self.sq[cols][None, :]
        return S

    def gather(self, cols):
        return self.Y[cols]

    def hits(self, S, i0, cols, lo, hi):
        """First sure hit per column (``bi`` when none) and the uncertain band's entries."""
        bi = S.shape[0]
        if i0 + bi - 1 >= cols[0]:  # the block reaches the diagonal: only rows i < j count
            S[np.arange(i0, i0 + bi)[:, None] >= cols[None, :]] = -np.inf
        sure = S > hi
        first = np.where(sure.any(axis=0), sure.argmax(axis=0), bi)
        r, c = np.nonzero((S > lo) & ~sure)
        return first, r, c


class _TorchBlocks(_NumpyBlocks):
    """The same scores as torch kernels on ``device`` (a GPU, or the CPU in tests)."""

    def __init__(self, Y, sq, device):
        import torch

        self.torch = torch
        self.device = device
        self.Y = torch.from_numpy(Y).to(device)
        self.sq = None if sq is None else torch.from_numpy(sq).to(device)

    def gather(self, cols):
        return self.Y[self.torch.from_numpy(cols).to(self.device)]

    def scores(self, i0, i1, cols, Yc):
        S = self.Y[i0:i1] @ Yc.T
        if self.sq is not None:
            c = self.torch.from_numpy(cols).to(self.device)
            S = 2.0 * S - self.sq[i0:i1, None] - self.sq[c][None, :]
        return S

    def hits(self, S, i0, cols, lo, hi):
        torch = self.torch
        bi = S.shape[0]
        if i0 + bi - 1 >= cols[0]:
            rows = torch.arange(i0, i0 + bi, device=self.device)
            c = torch.from_numpy(cols).to(self.device)
            S = S.masked_fill(rows[:, None] >= c[None, :], float("-inf"))
        sure = S > hi
        first = torch.where(sure.any(dim=0), sure.to(torch.uint8).argmax(dim=0), bi)
        r, c = torch.nonzero((S > lo) & ~sure, as_tuple=True)
        return first.cpu().numpy(), r.cpu().numpy(), c.cpu().numpy()


def _cluster_parents(X64, Y, metric, threshold, torch_device=None):
    """Parents of one cluster's rows, given in priority order.

    Parameters
    ----------
    X64 : ndarray of float64, shape (m, d)
        The rows as given (the float64 rechecks read them).
    Y : ndarray of float32, shape (m, d)
        Unit rows (cosine) or rows minus the centroid (euclidean).
    metric, threshold
        As in :func:`semantic_duplicates`.
    torch_device : torch.device, optional
        Compute the blocks with torch there instead of numpy.

    Returns
    -------
    parent : ndarray of int64, shape (m,)
        Position of each row's first earlier duplicate, -1 for rows that stay.
    """
    m, d = Y.shape
    parent = np.full(m, -1, dtype=np.int64)
    if m < 2:
        return parent
    sq = None
    if metric == "euclidean":
        sq = np.einsum("ij,ij->i", Y, Y)
        thr = -threshold * threshold  # score = -distance^2 > -threshold^2
        max_sq = float(np.einsum("ij,ij->i", Y, Y, dtype=np.float64).max())
        norms = None
    else:
        thr, max_sq = threshold, 1.0
        norms = np.sqrt(np.einsum("ij,ij->i", X64, X64))
    tf32 = False
    if torch_device is not None:
        import torch

        tf32 = torch_device.type == "cuda" and bool(torch.backends.cuda.matmul.allow_tf32)
        blocks = _TorchBlocks(Y, sq, torch_device)
    else:
        blocks = _NumpyBlocks(Y, sq)
    margin = _margin(d, metric, max_sq, tf32)
    lo, hi = thr - margin, thr + margin

    for j0 in range(0, m, BLOCK):
        cols = np.arange(j0, min(j0 + BLOCK, m))
        Yc = blocks.gather(cols)
        for i0 in range(0, int(cols[-1]), BLOCK):
            i1 = min(i0 + BLOCK, int(cols[-1]))
            S = blocks.scores(i0, i1, cols, Yc)
            first, r, c = blocks.hits(S, i0, cols, lo, hi)
            del S
            if r.size:
                below = r < first[c]  # band entries after a sure hit cannot be the first
                r, c = r[below], c[below]
                if r.size:
                    yes = _pair_scores(X64, i0 + r, cols[c], metric, norms) > thr
                    np.minimum.at(first, c[yes], r[yes])
            found = first < (i1 - i0)
            if found.any():
                parent[cols[found]] = i0 + first[found]
                cols = cols[~found]
                if cols.size == 0:
                    break
                Yc = blocks.gather(cols)
            if i1 >= cols[-1]:
                break
    return parent


def _pair_scores(X64, rows, cols, metric, norms=None):
    """Float64 scores of the pairs ``(rows[t], cols[t])`` of rows of ``X64``: cosine
    similarity (``norms``: the rows' L2 norms), or minus the squared L2 distance."""
    a, b = X64[rows], X64[cols]
    if metric == "cosine":
        return np.einsum("ij,ij->i", a, b) / (norms[rows] * norms[cols])
    diff = a - b
    return -np.einsum("ij,ij->i", diff, diff)


# ---------------------------------------------------------------------- the driver
def _kmeans(sample, n_clusters, metric, n_iter, seed, on_gpu):
    """FAISS k-means centroids (float64; unit rows for cosine) of a prepared sample."""
    import faiss

    d = sample.shape[1]
    km = faiss.Kmeans(
        d,
        n_clusters,
        niter=n_iter,
        seed=seed,
        spherical=metric == "cosine",
        verbose=False,
        gpu=bool(on_gpu),
    )
    km.cp.min_points_per_centroid = 1  # small inputs: no warning below 39 rows a centroid
    km.cp.max_points_per_centroid = max(1, -(-sample.shape[0] // n_clusters))  # sampled here
    km.train(sample)
    centroids = np.asarray(km.centroids, dtype=np.float64).reshape(n_clusters, d)
    if metric == "cosine":
        centroids = unit_rows(centroids, zero_rows="keep", name="centroids")
    return centroids


def _prepared(block, metric, norms=None):
    """Float32 rows FAISS compares: unit rows (cosine) or the rows (euclidean)."""
    B = np.asarray(block, dtype=np.float64)
    if metric == "cosine":
        B = B / norms[:, None]
    return np.ascontiguousarray(B, dtype=np.float32)


def semantic_duplicates(
    X,
    *,
    threshold: float | None = None,
    n_clusters: int | None = None,
    metric: str = "cosine",
    keep: str = "farthest",
    n_iter: int = 25,
    random_state=None,
    progress: bool = False,
    device="auto",
) -> Duplicates:
    """Find semantic near-duplicates (SemDeDup); see the module docstring for the rule.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features), ShardedEmbeddings, str or Path
        Embeddings (finite; no zero rows with ``"cosine"``), or shards
        (:func:`coresets.shards.open_shards` opens a path): then the dedup is global over
        all shards, with global row ids.
    threshold : float, optional
        ``"cosine"``: the similarity above which two rows are duplicates, in (-1, 1)
        (the paper's ``1 - eps``); default :data:`DEFAULT_THRESHOLD` (0.95).
        ``"euclidean"``: the L2 distance below which they are, > 0; required.
    n_clusters : int, optional
        k-means clusters, ``1 <= n_clusters <= n_rows``; default ``round(sqrt(n_rows))``.
        More clusters cost less (``~ n^2 d / n_clusters``) and miss more pairs split
        across clusters; 1 compares all pairs (exact global dedup).
    metric : {"cosine", "euclidean"}, default "cosine"
        Spherical k-means and cosine similarity, or k-means and L2 distance.
    keep : {"farthest", "nearest", "random", "first"}, default "farthest"
        Priority within a cluster, the first of each group of duplicates surviving:
        farthest from the centroid first (the paper's default, "hard" examples), nearest
        first, a random order (``random_state``), or lowest row id first. Ties go to the
        lower row id.
    n_iter : int, default 25
        k-means iterations.
    random_state : None, int or numpy Generator
        Seeds the k-means training sample (``256 * n_clusters`` rows at most), its
        initialisation and ``keep="random"``.
    progress : bool, default False
        Show tqdm bars over the assignment pass and the clusters.
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
        ``"auto"``: FAISS GPU k-means and torch GPU blocks when present; same removals.

    Returns
    -------
    Duplicates
        ``kept``, ``removed``, ``duplicate_of``, ``parent``, ``similarity``, ``labels``,
        ``centroids``; ``.selection`` is the kept rows as a Selection.

    Raises
    ------
    ValueError, TypeError
        Naming the argument, before any k-means: bad ``threshold``, ``n_clusters``,
        ``metric``, ``keep``, ``n_iter``, ``device``, ``random_state``; ``X`` empty, not
        2-D, non-numeric, with NaN/inf, or (cosine) with zero rows.
    """
    import faiss
    from tqdm.auto import tqdm

    metric = check_metric(metric, allowed=_METRICS)
    threshold = _check_threshold(threshold, metric)
    keep = check_option(keep, KEEP, "keep")
    n_iter = check_int(n_iter, "n_iter", low=1)
    rng = check_random_state(random_state)
    on_gpu, torch_device = _check_device(device)
    if n_clusters is not None and not (
        isinstance(n_clusters, numbers.Integral) and not isinstance(n_clusters, bool)
    ):
        raise TypeError(f"n_clusters must be an integer or None, got {type(n_clusters).__name__}")
    src = _source(X)
    n, d = src.n_rows, src.n_features
    k = max(1, int(round(np.sqrt(n)))) if n_clusters is None else n_clusters
    k = check_int(k, "n_clusters", low=1, high=n)

    # pass 1: norms (cosine; zero rows refused) or magnitudes (euclidean), before k-means
    norms = np.empty(n, dtype=np.float64) if metric == "cosine" else None
    for start, block in src.blocks(_PASS_BLOCK):
        B = np.asarray(block)
        if metric == "cosine":
            nb = np.sqrt(np.einsum("ij,ij->i", B, B, dtype=np.float64))
            zero = np.flatnonzero(nb == 0)
            if zero.size:
                raise ValueError(
                    f"X has zero rows (first: {src.locate(start + zero[0])}); cosine "
                    "similarity is undefined for zero vectors: drop them or use "
                    "metric='euclidean'"
                )
            if not np.isfinite(nb).all():
                first = src.locate(start + int(np.argmax(~np.isfinite(nb))))
                raise ValueError(
                    f"X has rows whose norm overflows float64 (first: {first}); scale X down"
                )
            norms[start : start + B.shape[0]] = nb
        else:
            check_magnitude(
                B,
                "euclidean",
                dtype=np.float32,
                name="X",
                where=lambda i, s=start: src.locate(s + i),
            )

    # k-means on a sample drawn here (so arrays and shards train on the same rows)
    n_train = min(n, _TRAIN_PER_CENTROID * k)
    train_ids = np.arange(n) if n_train == n else np.sort(rng.choice(n, n_train, replace=False))
    sample = _prepared(src.take(train_ids), metric, None if norms is None else norms[train_ids])
    seed = int(rng.integers(2**31 - 1))
    centroids = _kmeans(sample, k, metric, n_iter, seed, on_gpu)
    del sample

    # pass 2: nearest centroid of every row and its float64 distance to it
    index = (faiss.IndexFlatIP if metric == "cosine" else faiss.IndexFlatL2)(d)
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    labels = np.empty(n, dtype=np.int64)
    dist = np.empty(n, dtype=np.float64)
    with tqdm(total=n, desc="dedup: assign", unit="row", disable=not progress) as bar:
        for start, block in src.blocks(_PASS_BLOCK):
            stop = start + block.shape[0]
            nb = None if norms is None else norms[start:stop]
            _, nearest = index.search(_prepared(block, metric, nb), 1)
            lab = nearest[:, 0].astype(np.int64)
            B = np.asarray(block, dtype=np.float64)
            if metric == "cosine":
                dist[start:stop] = 1.0 - np.einsum("ij,ij->i", B, centroids[lab]) / nb
            else:
                diff = B - centroids[lab]
                dist[start:stop] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
            labels[start:stop] = lab
            bar.update(stop - start)
    del index

    # priority order: clusters one after another, each in keep order (ties: lower id)
    ids = np.arange(n, dtype=np.int64)
    if keep == "farthest":
        key = -dist
    elif keep == "nearest":
        key = dist
    elif keep == "random":
        key = rng.permutation(n).astype(np.float64)
    else:
        key = ids.astype(np.float64)
    order = np.lexsort((ids, key, labels))
    sizes = np.bincount(labels, minlength=k)
    bounds = np.concatenate([[0], np.cumsum(sizes)])

    from threadpoolctl import ThreadpoolController  # a scikit-learn dependency

    blas = ThreadpoolController()
    parent_of = np.full(n, -1, dtype=np.int64)
    score_of = np.zeros(n, dtype=np.float64)
    rows_per_group = max(1, GROUP_BYTES // max(1, d * src.dtype.itemsize))
    with tqdm(total=n, desc="dedup: clusters", unit="row", disable=not progress) as bar:
        c = 0
        while c < k:  # clusters in groups of about GROUP_BYTES, one read per group
            c_end = c + 1
            while c_end < k and bounds[c_end + 1] - bounds[c] <= rows_per_group:
                c_end += 1
            group = order[bounds[c] : bounds[c_end]]
            by_id = np.sort(group)
            rows = src.take(by_id)
            pos = np.searchsorted(by_id, group)  # row of `rows` for each entry of `group`
            for cc in range(c, c_end):
                a, b = bounds[cc] - bounds[c], bounds[cc + 1] - bounds[c]
                if b - a < 2:
                    continue
                members = group[a:b]
                X64 = np.asarray(rows[pos[a:b]], dtype=np.float64)
                if metric == "cosine":
                    Y = (X64 / norms[members][:, None]).astype(np.float32)
                else:
                    Y = (X64 - centroids[cc]).astype(np.float32)
                if torch_device is None and b - a < SMALL_CLUSTER:
                    with blas.limit(limits=1, user_api="blas"):
                        par = _cluster_parents(X64, Y, metric, threshold)
                else:
                    par = _cluster_parents(X64, Y, metric, threshold, torch_device)
                hit = np.flatnonzero(par >= 0)
                if hit.size:
                    parent_of[members[hit]] = members[par[hit]]
                    cn = None if norms is None else norms[members]
                    score_of[members[hit]] = _pair_scores(X64, hit, par[hit], metric, cn)
            del rows
            bar.update(int(group.size))
            c = c_end

    removed = np.flatnonzero(parent_of >= 0).astype(np.int64)
    kept = np.flatnonzero(parent_of < 0).astype(np.int64)
    # chains end at a kept row: parents come earlier in priority order, so jumping
    # pointers (rep <- rep[rep]) reaches it in O(log chain length) rounds
    rep = np.where(parent_of < 0, ids, parent_of)
    while True:
        nxt = rep[rep]
        if np.array_equal(nxt, rep):
            break
        rep = nxt
    similarity = score_of[removed]
    if metric == "euclidean":
        similarity = np.sqrt(np.maximum(-similarity, 0.0))
    return Duplicates(
        kept=kept,
        removed=removed,
        duplicate_of=rep[removed],
        parent=parent_of[removed],
        similarity=similarity,
        labels=labels,
        centroids=centroids,
        threshold=float(threshold),
        metric=metric,
        keep=keep,
    )


def semantic_dedup(
    X,
    *,
    threshold: float | None = None,
    n_clusters: int | None = None,
    metric: str = "cosine",
    keep: str = "farthest",
    n_iter: int = 25,
    random_state=None,
    progress: bool = False,
    device="auto",
) -> Selection:
    """The rows that survive semantic deduplication, as a Selection.

    :func:`semantic_duplicates` with the same arguments (see there), returning its
    ``.selection``: ``indices`` the kept rows ascending, ``weights`` how many rows each
    stands for (itself and the duplicates attributed to it; they sum to ``n_rows``),
    ``gains`` and ``objective`` NaN. Call :func:`semantic_duplicates` for the removed
    rows and which kept row each maps to.

    Returns
    -------
    Selection
    """
    return semantic_duplicates(
        X,
        threshold=threshold,
        n_clusters=n_clusters,
        metric=metric,
        keep=keep,
        n_iter=n_iter,
        random_state=random_state,
        progress=progress,
        device=device,
    ).selection
