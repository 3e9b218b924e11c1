"""FAISS k-nearest-neighbour graphs as sparse, non-negative similarity matrices.

Selection at scale never sees an N x N matrix: :func:`knn_graph` returns an
``(n, n)`` ``scipy.sparse.csr_matrix`` whose row ``i`` holds point ``i``'s
similarities to its ``n_neighbors`` nearest neighbours. This is the row
convention of :class:`coresets.submodular.FacilityLocation` (row ``j`` = what
candidate ``j`` covers), so ``FacilityLocation(knn_graph(X))`` means "a chosen
point covers its neighbours".

Graph conventions
-----------------
- **Self is a neighbour.** Every row contains its own point with the largest
  similarity the metric allows, so every point covers itself; ``n_neighbors``
  counts it. If an approximate index (or exact ties with duplicates) leaves
  ``i`` out of its own list, ``i`` replaces the farthest neighbour found.
- **Similarities** (float32, all >= 0):

  ``"cosine"``
      ``max(cos(x_i, x_j), 0)``; self is exactly 1. Rows are L2-normalised
      before the search, so zero vectors are an error.
  ``"dot"`` (inner product)
      ``max(<x_i, x_j>, 0)``; self is ``max(||x_i||^2, 0)``, its true value (the
      inner product has no fixed maximum, so self is not forced to be the
      largest entry of its row).
  ``"euclidean"``
      ``exp(-d_ij^2 / sigma^2)`` with ``sigma^2`` the median of the positive
      squared edge lengths of the graph (1 if there are none); self is 1. Why this transform: a kNN graph
      does not know the global ``max(D^2)`` that the dense apricot-style
      transform ``max(D^2) - D^2`` needs, and the maximum over the graph alone
      is set by a single outlier's neighbourhood; the median bandwidth is
      robust, scale-free, deterministic and puts every entry in ``(0, 1]``
      like cosine. (Far neighbours can underflow to an explicit 0.)

- Each row stores at most ``n_neighbors`` entries (fewer only when an IVF
  index found fewer candidates); column indices are sorted and explicit zeros
  (clipped similarities) are kept, so the stored pattern is the neighbour list.

Indexes
-------
``"flat"`` is exact (FAISS brute force, BLAS). ``"ivf"`` partitions the rows into
``nlist ~ sqrt(n)`` lists (FAISS k-means on a sample of ``64 * nlist`` rows,
seeded by ``random_state``) and searches each query's ``nprobe`` nearest lists.
On the CPU the lists are searched by :func:`_list_search`: the queries that probe
a list are scored against it with one matrix product and folded into running
top-k heaps, exact within the probed lists like FAISS's ``IndexIVFFlat`` but at
BLAS speed (FAISS scans a list one query at a time, about 12x the cost per
distance at 384-d on 2 cores). :func:`build_index` (an index to search many
times, and the GPU) builds FAISS's ``IndexIVFFlat``, its queries grouped by
their nearest list (about 4x faster than input order). ``"hnsw"`` is
``IndexHNSWFlat`` (M=32) with ``nprobe`` used as ``efSearch``.

With ``nprobe=None`` the search breadth is tuned until the recall of 256
sampled queries against exact search reaches :data:`TARGET_RECALL` (0.95). For
the list search this is one exact search of the sample: a neighbour is found
exactly when its list is among the query's ``nprobe`` nearest, so the recall of
every ``nprobe`` is known at once and the smallest one reaching the target is
taken. (FAISS indexes try ``nprobe`` = 8, 16, 32, ... and HNSW ``efSearch`` =
``max(k, 16)`` times 1, 2, 4, ...) ``"auto"`` is exact up to
:data:`AUTO_EXACT_MAX` points; past it, the list search, unless the tuned search
would compute more than :data:`LIST_SEARCH_MAX_SHARE` of exact search's
distances (unclustered data), where exact search is cheaper: ``"auto"`` is then
exact, so it is never far slower than exact search (see
``benchmarks/bench_knn.py --data embedding --peers``).

A FAISS GPU index is used when ``device`` resolves to CUDA and FAISS was built
with GPU support (``faiss.get_num_gpus() > 0``); otherwise the CPU index.
HNSW always runs on the CPU (FAISS has no GPU HNSW). FAISS runs on as many
OpenMP threads as the process may use (``OMP_NUM_THREADS`` caps it).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ._metrics import (
    METRICS,
    check_magnitude,
    check_metric,
    faiss_metric,
    scale_to_unit,
    unit_rows,
)
from ._validation import check_array_2d, check_finite, check_int, check_random_state

__all__ = [
    "knn_graph",
    "knn_recall",
    "GraphSearch",
    "prepare",
    "build_index",
    "search",
    "search_batches",
    "nearest",
    "closeness",
    "to_similarity",
    "gaussian_bandwidth",
    "edge_bandwidth",
    "neighbor_similarities",
    "AUTO_EXACT_MAX",
    "faiss_gpu_available",
]

#: ``index="auto"`` uses exact search up to this many points and IVF above it
#: on the CPU. Measured on 2 cores (blobs, 64-d, k=32; benchmarks/bench_knn.py
#: --threshold): exact takes 2.8 s at 50k and 10 s at 100k on a quiet machine
#: (IVF 0.9 s / 2.7 s, recall 0.99+), and grows as n^2 to ~17 min at 1M, where IVF
#: takes about 2 minutes. Past 50k exact costs 4-7x more than IVF; the recall
#: tuning and the exact fallback cover data that IVF handles badly.
AUTO_EXACT_MAX = 50_000

#: On a GPU exact search stays affordable much longer (a 1M x 1M brute force is
#: seconds of GPU time), so ``"auto"`` keeps it exact up to this many points.
AUTO_EXACT_MAX_GPU = 2_000_000

#: FAISS GPU indexes return at most this many neighbours per query.
_GPU_MAX_K = 2048

_INDEXES = ("auto", "flat", "ivf", "hnsw")
_DEFAULT_BATCH = 16_384

#: ``nprobe=None`` tunes IVF ``nprobe`` / HNSW ``efSearch`` until recall on
#: ``_TUNE_QUERIES`` sampled points (against exact search) reaches this.
TARGET_RECALL = 0.95
_TUNE_QUERIES = 256


def faiss_gpu_available() -> bool:
    """True when FAISS was built with GPU support, sees a GPU, and torch sees CUDA."""
    import faiss

    from ._device import cuda_available

    get_num_gpus = getattr(faiss, "get_num_gpus", None)
    return bool(get_num_gpus is not None and get_num_gpus() > 0 and cuda_available())


@functools.lru_cache(maxsize=1)
def _gpu_resources():
    """One StandardGpuResources per process: FAISS advises reusing it (it holds scratch memory)."""
    import faiss

    return faiss.StandardGpuResources()


def _resolve_faiss_device(device) -> str:
    """Map ``device`` to ``"cpu"`` or ``"gpu"`` for FAISS; explicit CUDA needs GPU FAISS."""
    if isinstance(device, str) and device == "auto":
        return "gpu" if faiss_gpu_available() else "cpu"
    from ._device import resolve_device

    dev = resolve_device(device, "device")
    if dev.type == "cpu":
        return "cpu"
    if dev.type == "cuda":
        if not faiss_gpu_available():
            raise ValueError(
                f"device={device!r} asks for the GPU but this FAISS build has no GPU support; "
                "install the gpu extra (faiss-gpu-cu12) or use device='cpu'"
            )
        return "gpu"
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")


_F32_MAX = float(np.finfo(np.float32).max)


def prepare(X, metric: str, *, name: str = "X", zero_rows: str = "raise") -> np.ndarray:
    """Validate ``X`` and return it float32 and C-contiguous, ready for FAISS.

    Both the base rows of :func:`build_index` and the queries of :func:`search` go
    through this, so that they are compared in the same space.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
        Finite, non-empty, numeric.
    metric : {"cosine", "euclidean", "dot"}
        ``"cosine"`` L2-normalises the rows (:func:`coresets._metrics.unit_rows`).
    name : str, default "X"
        Used in error messages.
    zero_rows : {"raise", "keep"}, default "raise"
        Cosine only: ``"keep"`` keeps zero rows as zero (similarity 0 to everything)
        instead of raising. Sharded selection uses this: a zero row in one shard should
        not stop a pass over millions of rows.

    Returns
    -------
    X : ndarray of float32, shape (n_rows, n_features), C-contiguous
        float32 C-ordered input is returned as is (never written to: cosine divides
        into a new array), so a 1M x 64 input costs no second copy.
    """
    metric = check_metric(metric)
    X = check_array_2d(X, name)
    overflow = X.dtype != np.float32 and max(-float(X.min()), float(X.max())) > _F32_MAX
    if metric == "cosine":
        # rows past float32's range are normalised from the input as given (norms in
        # float64); the rest as before, from their float32 values
        rows = X if overflow else np.ascontiguousarray(X, dtype=np.float32)
        return unit_rows(rows, zero_rows=zero_rows, name=name, dtype=np.float32)
    if overflow:
        raise ValueError(f"{name} contains values that overflow float32")
    check_magnitude(X, metric, dtype=np.float32, name=name)  # FAISS scores in float32
    return np.ascontiguousarray(X, dtype=np.float32)


def _nlist(n: int) -> int:
    # nlist ~ sqrt(n), but keep >= 39 training points per list (FAISS's minimum for k-means).
    return max(1, min(int(round(math.sqrt(n))), n // 39))


def _set_search_param(idx, index: str, value: int, on_gpu: bool = False) -> None:
    if index == "hnsw":
        idx.hnsw.efSearch = value
    elif on_gpu:  # GPU indexes take their parameters through GpuParameterSpace
        import faiss

        faiss.GpuParameterSpace().set_index_parameter(idx, "nprobe", value)
    else:
        idx.nprobe = value


def _tune_search_param(idx, X, k, metric, index, rng, nlist=None, max_value=None, on_gpu=False):
    """Smallest nprobe / efSearch in a doubling sequence whose sampled recall >= TARGET_RECALL.

    The reference is exact search of ``_TUNE_QUERIES`` random points, so the
    cost is that of a few hundred exact queries plus a few approximate ones.
    Returns ``(value, reached)``; values above ``max_value`` are not tried.
    """
    import faiss

    n = X.shape[0]
    queries = X[np.sort(rng.choice(n, min(n, _TUNE_QUERIES), replace=False))]
    _, ref = faiss.knn(queries, X, k, metric=faiss_metric(metric))  # exact, no copy of X
    if index == "hnsw":
        values = [max(k, 16) * 2**i for i in range(8)]
    else:
        values = [v for v in (8 * 2**i for i in range(32)) if v < nlist] + [nlist]
    if max_value is not None:
        values = [v for v in values if v <= max_value] or values[:1]
    for value in values:
        _set_search_param(idx, index, value, on_gpu)
        _, got = idx.search(queries, k)
        hits = sum(np.intersect1d(a, b[b >= 0]).size for a, b in zip(ref, got, strict=True))
        if hits / ref.size >= TARGET_RECALL:
            return value, True
    return value, False


def _build_index(X, metric, index, on_gpu, nprobe, k, rng, exact_fallback=False):
    """Build and fill a FAISS index; returns ``(index, kind)``.

    With ``exact_fallback`` an IVF index that needs more than a quarter of its
    lists to reach TARGET_RECALL is replaced by exact search.
    """
    import faiss

    n, d = X.shape
    fmetric = faiss_metric(metric)
    if index == "flat":
        cpu = faiss.IndexFlat(d, fmetric)
    elif index == "hnsw":
        cpu = faiss.IndexHNSWFlat(d, 32, fmetric)
        cpu.hnsw.efConstruction = 64
        on_gpu = False  # FAISS has no GPU HNSW
    else:  # ivf
        nlist = _nlist(n)
        quantizer = faiss.IndexFlat(d, fmetric)
        cpu = faiss.IndexIVFFlat(quantizer, d, nlist, fmetric)
        cpu.cp.seed = int(rng.integers(2**31 - 1))  # FAISS k-means seed: deterministic
        n_train = min(n, 64 * nlist)
        train = X if n_train == n else X[np.sort(rng.choice(n, n_train, replace=False))]
    if on_gpu:
        idx = faiss.index_cpu_to_gpu(_gpu_resources(), 0, cpu)
    else:
        idx = cpu
    if index == "ivf":
        idx.train(train)
    idx.add(X)
    if index != "flat":
        if nprobe is None:
            cap = max(1, nlist // 4) if exact_fallback and index == "ivf" else None
            nprobe, reached = _tune_search_param(
                idx, X, k, metric, index, rng, nlist if index == "ivf" else None, cap, on_gpu
            )
            if not reached and cap is not None:
                del idx, cpu  # free the IVF index before building the exact one
                return _build_index(X, metric, "flat", on_gpu, None, k, rng)
        elif index == "ivf":
            nprobe = min(nprobe, nlist)
        _set_search_param(idx, index, nprobe, on_gpu)
    return idx, index


#: ``index="auto"`` keeps exact search when the list search would compute more than
#: this share of the ``n^2`` distances of exact search. Per distance, the list search
#: costs about 1.8x exact BLAS search (its blocks are smaller and it keeps heaps):
#: measured at 100k x 384 (1 thread): exact 110 CPU s, list search 22 CPU s at 0.113
#: of the distances. At half of them the two break even.
LIST_SEARCH_MAX_SHARE = 0.5

#: Queries scored against one list per matrix product (bounds the block of scores).
_LIST_BLOCK = 4096


def _train_lists(X, metric, nlist, rng):
    """IVF list centroids: FAISS k-means on a sample of ``64 * nlist`` rows."""
    import faiss

    n, d = X.shape
    n_train = min(n, 64 * nlist)
    train = X if n_train == n else X[np.sort(rng.choice(n, n_train, replace=False))]
    clus = faiss.Clustering(d, nlist)
    clus.seed = int(rng.integers(2**31 - 1))
    clus.spherical = metric == "cosine"
    clus.train(train, faiss.IndexFlat(d, faiss_metric(metric)))
    return faiss.vector_to_array(clus.centroids).reshape(nlist, d).astype(np.float32)


def _probe_lists(X, centroids, metric, m, batch=65_536):
    """Each row's ``m`` nearest lists (int32, nearest first), in batches."""
    import faiss

    n = X.shape[0]
    out = np.empty((n, m), dtype=np.int32)
    for s in range(0, n, batch):
        _, lists = faiss.knn(X[s : s + batch], centroids, m, metric=faiss_metric(metric))
        out[s : s + batch] = lists
    return out


#: Rows of at least this many dimensions may be scanned on their leading principal
#: axes and re-ranked exactly in full (:func:`_tune_scan` decides, by measured recall).
PROJECTED_SCAN_MIN_DIM = 128

#: Scanned dimensions tried, as fractions of ``n_features`` (at least 32).
_PROJECTED_DIMS = (1 / 4, 1 / 2)

#: Candidates kept per query by a projected scan, as multiples of ``k``.
_RERANK_MULTIPLES = (1, 1.5, 2)

#: A list search costs its matrix products plus a fixed cost per score (folding it into
#: a heap, moving the block of scores through memory), here in multiply-adds. Fitted to
#: the scan time of one run each way (300k x 384 embedding-like rows, cosine, one
#: thread): 16 ns per score in 384 dimensions, 8.3 ns in 96, so the product is not most
#: of it and a projection gains about 2x on the scan, not 4x.
_FOLD_COST = 200.0

#: Re-ranking a candidate gathers its full row from memory: 0.7 us in the same run,
#: the cost of about this many full-dimension (384-d) scores of the scan.
_RERANK_COST = 44.0

#: Rows of the sample the principal axes are estimated from.
_AXES_SAMPLE = 16_384

#: Best reduced scores kept per sampled query when tuning a projected scan: a true
#: neighbour ranked below them counts as missed (the estimate errs low, never high).
_TUNE_DEPTH = 4096


@dataclass(frozen=True)
class _ScanPlan:
    """How :func:`_list_search` scans: the tuned (or given) settings and their cost.

    ``dims`` scanned dimensions (``n_features``: no projection, no re-ranking);
    ``nprobe`` lists probed per query; ``candidates`` kept per query by the scan
    (``k`` without projection); ``share`` of exact search's distances computed;
    ``cost`` in full-dimension list-search distances per exact-search distance,
    the quantity ``LIST_SEARCH_MAX_SHARE`` bounds; ``recall`` on the tuning sample.
    """

    dims: int
    nprobe: int
    candidates: int
    share: float
    cost: float
    recall: float


def _principal_axes(X, metric, m, rng):
    """``(axes, mean)``: the ``m`` leading principal axes (float32, ``(d, m)``).

    Inner products (cosine, dot) are approximated best by the uncentred second moments'
    axes; euclidean distances do not move with a shift, so those axes are centred
    (``mean`` is None for inner products). Estimated in float64 on a row sample.
    """
    n, d = X.shape
    rows = np.sort(rng.choice(n, min(n, _AXES_SAMPLE), replace=False))
    S = X[rows].astype(np.float64)
    mean = S.mean(axis=0) if metric == "euclidean" else None
    if mean is not None:
        S -= mean
    _, vecs = np.linalg.eigh(S.T @ S)
    axes = np.ascontiguousarray(vecs[:, ::-1][:, :m], dtype=np.float32)
    return axes, None if mean is None else mean.astype(np.float32)


def _project(X, axes, mean, batch=65_536):
    """``(X - mean) @ axes`` in float32, in row batches (no whole-size temporaries)."""
    out = np.empty((X.shape[0], axes.shape[1]), dtype=np.float32)
    for s in range(0, X.shape[0], batch):
        block = X[s : s + batch]
        out[s : s + batch] = (block if mean is None else block - mean) @ axes
    return out


def _probe_grid(nlist):
    """The nprobe values tuning weighs: all up to 16, then steps of about 10%."""
    values = {min(v, nlist) for v in range(1, 17)}
    v = 16.0
    while v < nlist:
        v *= 1.1
        values.add(min(int(round(v)), nlist))
    return np.array(sorted(values), dtype=np.int64)


def _scan_cost(share, dims, candidates, n_base, n_features):
    """A plan's cost in full-dimension list-search distances per exact-search distance."""
    full = n_features + _FOLD_COST
    scan = share * (dims + _FOLD_COST) / full
    if dims == n_features:
        return scan
    return scan + candidates * _RERANK_COST / n_base


def _reduced_positions(zq, zb, ref, metric, depth, block=16):
    """For each sampled query: its best ``depth`` base rows by reduced score, best
    first, and the position each exact neighbour would take among them.

    Returns ``(top, position)``: ``top`` int64 ``(s, depth)``; ``position`` int64
    ``(s, k)``, the number of rows in ``top`` scoring strictly more than the
    neighbour, ``depth`` for a neighbour below them all (or no neighbour).
    """
    s_rows, k = ref.shape
    sq = np.einsum("ij,ij->i", zb, zb) if metric == "euclidean" else None
    top = np.empty((s_rows, depth), dtype=np.int64)
    position = np.full((s_rows, k), depth, dtype=np.int64)
    for a in range(0, s_rows, block):
        scores = zq[a : a + block] @ zb.T
        if sq is not None:  # rank by -||q - x||^2 up to a per-query constant
            scores *= 2.0
            scores -= sq
        part = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        top[a : a + block] = np.take_along_axis(part, order, axis=1)
        best = np.take_along_axis(part_scores, order, axis=1)  # descending
        for r in range(scores.shape[0]):
            got = ref[a + r] >= 0
            mine = scores[r, ref[a + r][got]]
            # rows scoring strictly more: searchsorted on the ascending negation
            pos = np.searchsorted(-best[r], -mine, side="left")
            position[a + r, np.flatnonzero(got)] = pos
    return top, position


def _tune_scan(base, queries, zb, zq, centroids, sizes, primary, k, metric, rng):
    """The cheapest scan whose sampled recall reaches TARGET_RECALL (a :class:`_ScanPlan`).

    One exact search of ``_TUNE_QUERIES`` sampled queries gives their true neighbours.
    A neighbour is found by a full-dimension scan exactly when its list is among the
    query's ``nprobe`` nearest, so that recall is known for every ``nprobe`` at once.
    A projected scan (``zb``/``zq``: rows on the leading principal axes, lists trained
    there) keeps each query's ``candidates`` best reduced scores among the probed
    lists' rows and re-ranks them in full: a neighbour is found when its list is
    probed and fewer than ``candidates`` probed rows outscore it in reduced space,
    counted on the sample too. Every (dims, nprobe, candidates) is priced by
    :func:`_scan_cost` and the cheapest reaching the target is taken (the exhaustive
    full-dimension scan always does).
    """
    import faiss

    n, d = base.shape
    nlist = centroids.shape[0]
    fm = faiss_metric(metric)
    pick = np.sort(rng.choice(len(queries), min(len(queries), _TUNE_QUERIES), replace=False))
    _, ref = faiss.knn(queries[pick], base, k, metric=fm)  # exact, full dimensions
    _, ranking = faiss.knn(zq[pick], centroids, nlist, metric=fm)
    rank_of = np.empty_like(ranking)
    rows = np.arange(len(pick))[:, None]
    rank_of[rows, ranking] = np.arange(nlist)
    found = ref >= 0
    n_found = max(1, int(found.sum()))
    ref_rank = np.where(
        found, np.take_along_axis(rank_of, primary[np.where(found, ref, 0)], 1), nlist
    )
    share = np.cumsum(sizes[ranking], axis=1).mean(axis=0) / n  # share[p - 1]: nprobe p
    probes = _probe_grid(nlist)
    # full dimensions: recall of every nprobe from the neighbours' list ranks
    hits = np.bincount(ref_rank[found], minlength=nlist).cumsum() / n_found
    full_p = min(int(np.searchsorted(hits, TARGET_RECALL - 1e-12)) + 1, nlist)
    best = _ScanPlan(d, full_p, k, float(share[full_p - 1]), 0.0, float(hits[full_p - 1]))
    best = replace(best, cost=_scan_cost(best.share, d, k, n, d))
    if zb is base:
        return best
    depth = min(n, _TUNE_DEPTH)
    cands = sorted({min(n, int(round(k * f))) for f in _RERANK_MULTIPLES})
    probed_rank = ref_rank[:, None, :] < probes[None, :, None]  # (s, g, k)
    for frac in _PROJECTED_DIMS:
        m = int(round(d * frac))
        if m < 32 or m > zb.shape[1]:
            continue
        top, position = _reduced_positions(
            np.ascontiguousarray(zq[pick, :m]), zb[:, :m], ref, metric, depth
        )
        top_rank = np.take_along_axis(rank_of, primary[top], axis=1)  # (s, depth)
        hits = np.zeros((len(probes), len(cands)))
        for a in range(0, len(pick), 32):
            part = slice(a, a + 32)
            # ahead[r, g, t]: rows outscoring neighbour t in reduced space among the
            # lists probed at probes[g] (counted within the query's best `depth`)
            inside = top_rank[part, None, :] < probes[None, :, None]
            competitors = np.zeros(inside.shape[:2] + (depth + 1,), dtype=np.int32)
            np.cumsum(inside, axis=2, out=competitors[:, :, 1:])
            reachable = probed_rank[part] & (position[part] < depth)[:, None, :]
            ahead = np.take_along_axis(
                competitors, np.broadcast_to(position[part, None, :], reachable.shape), axis=2
            )
            for j, c in enumerate(cands):
                hits[:, j] += (reachable & (ahead < c)).sum(axis=(0, 2))
        for j, c in enumerate(cands):
            recall = hits[:, j] / n_found
            ok = np.flatnonzero(recall >= TARGET_RECALL - 1e-12)
            if ok.size == 0:
                continue
            g = ok[0]  # cost grows with nprobe: the first reaching the target
            p = int(probes[g])
            cost = _scan_cost(float(share[p - 1]), m, c, n, d)
            if cost < best.cost:
                best = _ScanPlan(m, p, c, float(share[p - 1]), cost, float(recall[g]))
    return best


#: The list scan's queries are split into this many groups by ``row % _SCAN_GROUPS``; each
#: group is scanned by one thread with single-threaded BLAS (its heaps are its own, so no
#: locks). Measured at 1000-row lists on 2 cores: 7.1 ns per 384-d score this way against
#: 8.5 ns with both threads inside each product and fold (32 ns for blocks of 256 rows,
#: where the threads' start and join dominate). A fixed count, not the thread count, so
#: the blocks, and with them the float rounding, do not depend on the machine.
_SCAN_GROUPS = 8


def _scan_threads() -> int:
    """Threads for the list scan: numba's count (``NUMBA_NUM_THREADS``), at most the CPUs."""
    import os

    import numba

    return max(1, min(numba.get_num_threads(), os.cpu_count() or 1, _SCAN_GROUPS))


def _scan_lists(base, queries, lists, primary, nlist, k, metric, progress):
    """Every query's ``k`` best rows of ``base`` among the lists it probes (unsorted heaps).

    ``lists`` ``(q, nprobe)`` names each query's lists, ``primary`` ``(n,)`` each base
    row's list. Returns ``(keys, ids)``: float32 scores (inner products, or
    ``2 q.x - ||x||^2`` for euclidean) and int32 rows, -inf / -1 where empty. Each query
    meets its lists in list order, whichever thread scans it, so the result does not
    depend on the number of threads.
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    from . import _knn_kernels as kern

    member_start, members = kern.group_by_list(primary[:, None], nlist)
    q, nprobe = lists.shape
    # one counting sort by (list, query group): segment L * groups + g holds the rows of
    # group g that probe list L, in increasing order
    in_group = (np.arange(q, dtype=np.int32) % _SCAN_GROUPS)[:, None]
    query_start, query_rows = kern.group_by_list(
        lists * _SCAN_GROUPS + in_group, nlist * _SCAN_GROUPS
    )
    del in_group
    sq_norms = np.einsum("ij,ij->i", base, base) if metric == "euclidean" else None
    keys = np.full((q, k), -np.inf, dtype=np.float32)
    ids = np.full((q, k), -1, dtype=np.int32)

    def scan_group(group, bar):
        for L in range(nlist):
            mids = members[member_start[L] : member_start[L + 1]]
            segment = L * _SCAN_GROUPS + group
            rows = query_rows[query_start[segment] : query_start[segment + 1]]
            if mids.size == 0 or rows.size == 0:
                bar.update(rows.size)
                continue
            members_t = base[mids].T  # a transposed view: BLAS reads it as it is
            member_norms = None if sq_norms is None else sq_norms[mids]
            for s in range(0, rows.size, _LIST_BLOCK):
                block = rows[s : s + _LIST_BLOCK]
                scores = queries[block] @ members_t
                if member_norms is not None:  # rank by -||q - x||^2 = 2 q.x - ||x||^2 - ||q||^2
                    scores *= 2.0
                    scores -= member_norms
                kern.fold_top_k(scores, block, mids, keys, ids)
                bar.update(block.size)

    with (
        tqdm(total=q * nprobe, desc="kNN (ivf lists)", unit="pt", disable=not progress) as bar,
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(_scan_threads()) as pool,
    ):
        for done in [pool.submit(scan_group, g, bar) for g in range(_SCAN_GROUPS)]:
            done.result()  # re-raises a worker's exception here
    return keys, ids


def _rerank(base, queries, candidates, k, metric):
    """The ``k`` best of each query's candidate rows by exact full-dimension scores."""
    from . import _knn_kernels as kern

    if candidates.size and int(candidates.max()) >= base.shape[0]:  # never trust indices
        raise ValueError("candidate rows out of range of base")
    sq_norms = (
        np.einsum("ij,ij->i", base, base) if metric == "euclidean" else np.zeros(0, np.float32)
    )
    keys = np.empty((queries.shape[0], k), dtype=np.float32)
    ids = np.empty((queries.shape[0], k), dtype=np.int32)
    kern.rerank(queries, base, candidates, sq_norms, keys, ids)
    return keys, ids


def _list_search(base, k, metric, nprobe, rng, exact_fallback, progress, queries=None):
    """The ``k`` nearest rows of ``base`` for every query, IVF lists scored by matrix products.

    FAISS's IVF scans its lists one query at a time, which costs about 12x a BLAS
    exact search per distance on 2 cores (384-d: 2.8e6 against 3.4e7 distances per
    second). Here the queries that probe a list are scored against it together,
    ``queries[rows] @ base[members].T``, and each row is folded into the query's
    running top-k: the same candidates as FAISS IVF with the same lists and
    ``nprobe`` (exact within them), at BLAS speed.

    With ``nprobe=None`` and at least ``PROJECTED_SCAN_MIN_DIM`` dimensions the scan
    may run on the rows' leading principal axes, keeping a few times ``k`` candidates
    per query that are then re-ranked by their exact scores (a FAISS ``PCAMatrix``
    pre-transform with ``IndexRefineFlat``'s re-ranking, done by matrix products):
    :func:`_tune_scan` picks the dimensions, ``nprobe`` and candidates of the cheapest
    plan whose recall on sampled queries reaches ``TARGET_RECALL``, full dimensions
    included.

    ``queries=None`` searches ``base`` against itself (the graph), reusing the base's
    list assignment for the queries. Returns ``(D, I, plan)``: ``D``, ``I`` as
    :func:`search` would (best first; -1 / -inf or +inf pads) and the
    :class:`_ScanPlan` run; or None when ``exact_fallback`` and the tuned plan would
    cost more than ``LIST_SEARCH_MAX_SHARE`` of exact search.
    """
    from . import _knn_kernels as kern

    self_search = queries is None
    queries = base if self_search else queries
    n, d = base.shape
    nlist = _nlist(n)
    zb, zq = base, queries
    if nprobe is None and d >= PROJECTED_SCAN_MIN_DIM:
        axes, mean = _principal_axes(base, metric, int(round(d * max(_PROJECTED_DIMS))), rng)
        zb = _project(base, axes, mean)
        zq = zb if self_search else _project(queries, axes, mean)
    centroids = _train_lists(zb, metric, nlist, rng)
    # Each base row's nearest list first; the queries' nprobe nearest once nprobe is
    # known (a top-32 FAISS search over the centroids costs more than a second top-1).
    primary = _probe_lists(zb, centroids, metric, 1)[:, 0]
    sizes = np.bincount(primary, minlength=nlist)
    if nprobe is None:
        plan = _tune_scan(base, queries, zb, zq, centroids, sizes, primary, k, metric, rng)
        if exact_fallback and plan.cost > LIST_SEARCH_MAX_SHARE:
            return None
    else:
        plan = _ScanPlan(d, min(nprobe, nlist), k, math.nan, math.nan, math.nan)
    if self_search and plan.nprobe == 1:
        lists = primary[:, None]
    else:
        lists = _probe_lists(zq, centroids, metric, plan.nprobe)
    if plan.dims < d:
        scan_base = np.ascontiguousarray(zb[:, : plan.dims])
        scan_queries = scan_base if self_search else np.ascontiguousarray(zq[:, : plan.dims])
        del zb, zq
        _, cand = _scan_lists(scan_base, scan_queries, lists, primary, nlist, plan.candidates,
                              metric, progress)  # fmt: skip
        del lists, scan_base, scan_queries
        keys, ids = _rerank(base, queries, cand, k, metric)
    else:
        del zb, zq
        keys, ids = _scan_lists(base, queries, lists, primary, nlist, k, metric, progress)
        del lists
        kern.sort_heaps(keys, ids)
    if metric == "euclidean":  # back to FAISS's squared distances (+inf pads)
        keys = np.einsum("ij,ij->i", queries, queries)[:, None] - keys
    return keys, ids.astype(np.int64), plan


def build_index(
    base,
    metric: str,
    *,
    index: str = "auto",
    device="auto",
    nprobe: int | None = None,
    random_state=None,
    k: int = 32,
):
    """A filled FAISS index over ``base``, chosen and tuned as :func:`knn_graph` does.

    Parameters
    ----------
    base : ndarray of float32, shape (n_base, n_features)
        Rows from :func:`prepare` with the same ``metric`` (cosine needs unit rows).
    metric : {"cosine", "euclidean", "dot"}
    index : {"auto", "flat", "ivf", "hnsw"}, default "auto"
        ``"auto"`` is exact up to ``AUTO_EXACT_MAX`` rows (``AUTO_EXACT_MAX_GPU`` on a
        GPU), IVF past it, and exact again if IVF needs over a quarter of its lists.
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
    nprobe : int, optional
        IVF lists searched per query / HNSW ``efSearch``; None tunes it on ``base``
        until sampled recall at ``k`` reaches ``TARGET_RECALL``.
    random_state : None, int or numpy Generator
        Seeds the IVF training sample, k-means and the tuning sample.
    k : int, default 32
        Neighbours the searches will ask for (the ``k`` of :func:`search`): the recall
        tuning is measured at it, and a GPU index cannot return more than 2048.

    Returns
    -------
    index : faiss.Index
        Search it with :func:`search` / :func:`search_batches`.
    """
    return _make_index(base, metric, index, device, nprobe, random_state, k, "k")[0]


def _check_prepared(base, name):
    if not (
        isinstance(base, np.ndarray)
        and base.ndim == 2
        and base.dtype == np.float32
        and base.flags.c_contiguous
        and base.shape[0] > 0
    ):
        raise ValueError(
            f"{name} must be a non-empty 2-D float32 C-contiguous array from prepare()"
        )
    check_finite(base, name)  # FAISS k-means asserts on NaN; flat search returns garbage


def _make_index(base, metric, index, device, nprobe, random_state, k, k_name):
    """:func:`build_index`, also returning the index kind actually built.

    ``k_name`` names ``k`` in errors: ``"k"`` here, ``"n_neighbors"`` for :func:`knn_graph`.
    """
    metric = check_metric(metric)
    _check_prepared(base, "base")
    k = check_int(k, k_name, low=1)
    if nprobe is not None:
        nprobe = check_int(nprobe, "nprobe", low=1)
    rng = check_random_state(random_state)
    on_gpu, index, auto = _choose_index(base.shape[0], index, device, k, k_name)
    return _build_index(base, metric, index, on_gpu, nprobe, k, rng, auto)


def _choose_index(n, index, device, k, k_name):
    """``(on_gpu, index, auto)``: the device and the index kind ``"auto"`` resolves to."""
    if not isinstance(index, str) or index not in _INDEXES:
        raise ValueError(f"index must be one of {_INDEXES}, got {index!r}")
    on_gpu = _resolve_faiss_device(device) == "gpu"
    if on_gpu and k > _GPU_MAX_K:
        if not (isinstance(device, str) and device == "auto"):
            raise ValueError(
                f"{k_name}={k} exceeds the FAISS GPU limit of {_GPU_MAX_K}; use device='cpu'"
            )
        on_gpu = False
    auto = index == "auto"
    if auto:
        index = "flat" if n <= (AUTO_EXACT_MAX_GPU if on_gpu else AUTO_EXACT_MAX) else "ivf"
    return on_gpu, index, auto


def search_batches(
    index, queries, k: int, *, batch_size: int | None = None, progress=False, desc="kNN"
):
    """Search ``queries`` against ``index`` batch by batch.

    On a CPU IVF index the queries are visited grouped by their nearest list:
    consecutive queries then probe mostly the same lists, which stay in cache (about
    4x faster than input order on 2 cores; GPUs gain nothing). Each query's result
    does not depend on the order.

    Parameters
    ----------
    index : faiss.Index
        From :func:`build_index`.
    queries : ndarray of float32, shape (q, n_features)
        Rows from :func:`prepare` with the index's metric.
    k : int
        Neighbours per query.
    batch_size : int, optional
        Queries per FAISS call (bounds the memory of one call); default 16384.
    progress : bool, default False
        Show a tqdm bar over the queries.
    desc : str
        The bar's label.

    Yields
    ------
    rows : ndarray of int64, shape (b,)
        Which queries this batch holds.
    D : ndarray of float32, shape (b, k)
        FAISS scores, best first: inner products, or squared distances for euclidean.
    I : ndarray of int64, shape (b, k)
        Base rows; -1 pads where the index found fewer than ``k``.
    """
    # Checked here, not at the first next(): a bad batch_size fails before any search.
    queries, k = _check_search(index, queries, k)
    batch_size = (
        _DEFAULT_BATCH if batch_size is None else check_int(batch_size, "batch_size", low=1)
    )
    return _search_batches(index, queries, k, batch_size, progress, desc)


def _check_search(index, queries, k):
    """``(queries, k)`` checked against ``index``: FAISS asserts, naming nothing, otherwise."""
    d = getattr(index, "d", None)
    if d is None:
        raise TypeError(
            f"index must be a FAISS index from build_index(), got {type(index).__name__}"
        )
    queries, k = _check_queries(queries, d, k, "the index")
    if k > index.ntotal:  # FAISS would allocate (q, k) results, all padding past ntotal
        raise ValueError(f"k must be <= the rows of the index ({index.ntotal}), got {k}")
    return queries, k


def _check_queries(queries, d, k, against):
    """``(queries, k)``: prepared float32 rows of width ``d`` and a positive ``k``."""
    k = check_int(k, "k", low=1)
    if not (
        isinstance(queries, np.ndarray)
        and queries.ndim == 2
        and queries.dtype == np.float32
        and queries.flags.c_contiguous
    ):
        raise ValueError(
            "queries must be a 2-D float32 C-contiguous array from prepare(), got "
            f"{type(queries).__name__} of shape {getattr(queries, 'shape', None)}"
        )
    if queries.shape[1] != d:
        raise ValueError(f"queries have {queries.shape[1]} features but {against} has {d}")
    check_finite(queries, "queries")
    return queries, k


def _search_batches(index, queries, k, batch_size, progress, desc):
    import faiss
    from tqdm.auto import tqdm

    q = queries.shape[0]
    order = None
    if isinstance(index, faiss.IndexIVF):
        _, assign = index.quantizer.search(queries, 1)
        order = np.argsort(assign[:, 0], kind="stable")
    with tqdm(total=q, desc=desc, unit="pt", disable=not progress) as bar:
        for start in range(0, q, batch_size):
            if order is None:
                rows = np.arange(start, min(start + batch_size, q))
                D, I = index.search(queries[start : start + batch_size], k)
            else:
                rows = order[start : start + batch_size]
                D, I = index.search(queries[rows], k)
            yield rows, D, I
            bar.update(rows.size)


def search(index, queries, k: int, *, batch_size: int | None = None, progress: bool = False):
    """The ``k`` best base rows of every query (see :func:`search_batches`).

    Returns
    -------
    D : ndarray of float32, shape (q, k)
        FAISS scores, best first (inner products; squared distances for euclidean).
    I : ndarray of int64, shape (q, k)
        Base rows, -1 where fewer than ``k`` were found.
    """
    queries, k = _check_search(index, queries, k)
    q = queries.shape[0]
    D = np.empty((q, k), dtype=np.float32)
    I = np.empty((q, k), dtype=np.int64)
    for rows, d, i in search_batches(index, queries, k, batch_size=batch_size, progress=progress):
        D[rows], I[rows] = d, i
    return D, I


def closeness(D, metric: str) -> np.ndarray:
    """FAISS scores as "higher is closer" keys: negated squared distance for euclidean.

    Parameters
    ----------
    D : ndarray, shape (q, k), scores from :func:`search`.
    metric : {"cosine", "euclidean", "dot"}

    Returns
    -------
    keys : ndarray, shape (q, k)
    """
    return -D if metric == "euclidean" else D


def to_similarity(D, metric: str, sigma2: float | None = None, out=None) -> np.ndarray:
    """FAISS scores as :func:`knn_graph`'s non-negative similarities.

    Parameters
    ----------
    D : ndarray, shape (q, k)
        Inner products (cosine on unit rows, dot) or squared distances (euclidean).
    metric : {"cosine", "euclidean", "dot"}
        cosine: ``clip(D, 0, 1)``; dot: ``max(D, 0)``; euclidean: ``exp(-max(D, 0) / sigma2)``.
    sigma2 : float, optional
        Euclidean bandwidth (:func:`gaussian_bandwidth`); required for euclidean.
    out : ndarray, optional
        Write here (may be ``D`` itself, to convert in place).

    Returns
    -------
    sims : ndarray, shape (q, k), all >= 0
    """
    if metric == "cosine":
        return np.clip(D, 0.0, 1.0, out=out)  # unit rows: above 1 is rounding
    if metric == "dot":
        return np.maximum(D, 0.0, out=out)
    if metric != "euclidean":
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if sigma2 is None:
        raise ValueError("metric='euclidean' needs sigma2 (see gaussian_bandwidth)")
    # FAISS can return tiny negative squared distances from rounding.
    out = np.maximum(D, 0.0, out=out)
    np.multiply(out, np.float32(-1.0 / sigma2), out=out)
    return np.exp(out, out=out)


def gaussian_bandwidth(d2) -> float:
    """:func:`knn_graph`'s euclidean ``sigma^2``: the median positive squared edge length.

    Zero distances (self, duplicates) say nothing about the scale and are left out.

    Parameters
    ----------
    d2 : array-like, squared distances of the graph's edges (any shape).

    Returns
    -------
    sigma2 : float, 1.0 when no edge is positive.
    """
    d2 = np.asarray(d2)
    d2 = d2[d2 > 0]
    return float(np.median(d2)) if d2.size else 1.0


def edge_bandwidth(D, I, self_ids=None) -> float:
    """:func:`gaussian_bandwidth` over the edges of FAISS results, self edges left out.

    Parameters
    ----------
    D : ndarray, shape (q, k), squared distances from :func:`search`.
    I : ndarray, shape (q, k), neighbour ids (-1: none; left out).
    self_ids : ndarray of int, shape (q,), optional
        Each row's own id: its edge to itself says nothing about the scale.

    Returns
    -------
    sigma2 : float
    """
    keep = I >= 0
    if self_ids is not None:
        keep &= I != np.asarray(self_ids)[:, None]
    return gaussian_bandwidth(D[keep])


def neighbor_similarities(D, I, metric: str, *, self_ids=None, self_scores=None, sigma2="rows"):
    """Rows of a kNN similarity graph from FAISS results: the graph convention, once.

    1. **Self edge** (when ``self_ids`` is given): a row that does not hold its own id
       gets it in the last slot, which FAISS fills with the farthest neighbour or a
       miss (-1). Its similarity is 1 (cosine, euclidean) or ``max(self_scores, 0)``
       (dot: the true inner product, not forced to be the row's maximum).
    2. **Similarity** (:func:`to_similarity`); missing slots are 0.
    3. **Bandwidth** (euclidean): which edges set ``sigma^2`` is the caller's choice,
       and it is what keeps each caller's graph what it was.

    Parameters
    ----------
    D : ndarray, shape (q, k), FAISS scores (inner products, or squared distances).
    I : ndarray of int, shape (q, k), neighbour ids, -1 for none.
    metric : {"cosine", "euclidean", "dot"}
    self_ids : ndarray of int, shape (q,), optional
        Each row's own id; None: no self edge (rows that are not in the base, such as
        the sieve's streamed rows against its held sample).
    self_scores : ndarray, shape (q,), optional
        Each row's FAISS score with itself; required for ``"dot"`` with ``self_ids``.
    sigma2 : "rows", float or None, default "rows"
        Euclidean only. ``"rows"``: :func:`edge_bandwidth` of these rows' non-self edges
        (after the self edge; the GreeDi merge: the candidates' rows); a float: that
        bandwidth (the sieve: its held sample's own edges); None: leave squared
        distances (self 0) for a bandwidth over more rows than these
        (:func:`knn_graph`: every row of the graph, then :func:`to_similarity`).

    Returns
    -------
    I : ndarray, shape (q, k), the ids with the self edge (a new array).
    sims : ndarray of float32, shape (q, k), >= 0 (squared distances when euclidean
        with ``sigma2=None``).
    """
    metric = check_metric(metric)
    I = np.array(I, copy=True)
    D = np.asarray(D, dtype=np.float32)
    is_self = None
    if self_ids is not None:
        self_ids = np.asarray(self_ids)
        is_self = I == self_ids[:, None]
        missing = ~is_self.any(axis=1)
        I[missing, -1] = self_ids[missing]
        is_self[missing, -1] = True
    if metric == "euclidean":
        sims = np.maximum(D, 0.0)
        if is_self is not None:
            sims[is_self] = 0.0
        if sigma2 is not None:
            if isinstance(sigma2, str):
                if sigma2 != "rows":
                    raise ValueError(f"sigma2 must be 'rows', a float or None, got {sigma2!r}")
                sigma2 = edge_bandwidth(sims, I, self_ids)
            to_similarity(sims, "euclidean", sigma2, out=sims)
    else:
        sims = to_similarity(D, metric)
        if is_self is not None:
            if metric == "cosine":
                sims[is_self] = 1.0
            else:
                if self_scores is None:
                    raise ValueError("metric='dot' with self_ids needs self_scores")
                self_sim = np.maximum(np.asarray(self_scores, dtype=np.float32), 0.0)
                sims[is_self] = self_sim[np.nonzero(is_self)[0]]
    sims[I < 0] = 0.0
    return I, sims


def knn_graph(
    X,
    *,
    n_neighbors: int = 32,
    metric: str = "cosine",
    index: str = "auto",
    device="auto",
    batch_size: int | None = None,
    nprobe: int | None = None,
    random_state=None,
    progress: bool = False,
    zero_rows: str = "raise",
    return_search: bool = False,
):
    """Build a k-nearest-neighbour similarity graph with FAISS.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
        Embeddings; finite, non-empty, numeric (float32 internally).
    n_neighbors : int, default 32
        Neighbours per point, the point itself included; ``1 <= n_neighbors < n_rows``
        (for a complete graph use the dense ``coresets.submodular.similarity``).
    metric : {"cosine", "euclidean", "dot"}, default "cosine"
        How neighbours are ranked and turned into similarities (see the module docstring).
    index : {"auto", "flat", "ivf", "hnsw"}, default "auto"
        ``"flat"`` is exact; ``"auto"`` is exact up to ``AUTO_EXACT_MAX`` points, IVF past it.
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
        ``"auto"`` uses a FAISS GPU index when FAISS has GPU support and CUDA is present.
    batch_size : int, optional
        Queries per search call (bounds the memory of one search); default 16384.
    nprobe : int, optional
        IVF: lists searched per query; HNSW: ``efSearch``. None tunes it until sampled
        recall reaches ``TARGET_RECALL`` (see the module docstring). Ignored by ``"flat"``.
    random_state : None, int or numpy Generator
        Seeds the IVF training sample, k-means and the tuning sample.
    progress : bool, default False
        Show a tqdm bar over the queries.
    zero_rows : {"raise", "keep"}, default "raise"
        Cosine only (see :func:`prepare`): ``"keep"`` gives a zero row similarity 0 to
        every other row, so it covers only itself (its self edge).
    return_search : bool, default False
        Also return a :class:`GraphSearch`: the index actually used and, for an
        approximate one, the recall of this graph on ``SEARCH_RECALL_SAMPLE`` rows
        (an exact search of those rows: about 1% of the build at 1M rows).

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_rows, n_rows), float32
        Row ``i`` holds ``i``'s similarities to its neighbours (self included), sorted
        column indices, all entries >= 0.
    search : GraphSearch
        Only with ``return_search=True``.
    """
    X = prepare(X, metric, zero_rows=zero_rows)
    metric = check_metric(metric)
    if metric == "euclidean":
        # neighbour ranks and exp(-d^2 / sigma^2) with sigma^2 the median edge do not change
        # when every row is scaled by one factor; rows of ~1e-20 would square into float32
        # subnormals or zero (sigma^2 ~ 0: NaN similarities), so scale by a power of two
        X = scale_to_unit(X)[0]
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"X needs at least 2 rows to build a kNN graph, got {n}")
    k = check_int(n_neighbors, "n_neighbors", low=1)
    if k >= n:
        raise ValueError(
            f"n_neighbors must be < n_rows ({n}), got {k}; for a complete graph "
            "use the dense coresets.submodular.similarity"
        )
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", low=1)  # fail before the index build
    batches, kind = _self_search(
        X, k, metric, index, device, nprobe, random_state, batch_size, progress
    )
    # The CSR arrays are filled batch by batch (int32 columns while n allows), so
    # peak memory is the search's plus n * k * 8 bytes, not several (n, k) int64 temporaries.
    cols = np.empty((n, k), dtype=np.int32 if n < 2**31 else np.int64)
    vals = np.empty((n, k), dtype=np.float32)
    for rows, D, I in batches:
        cols[rows], vals[rows] = _finish_rows(X, rows, I, D, metric)
    if metric == "euclidean":
        _gaussian_kernel(cols, vals)
    graph = _pack_csr(cols, vals)
    if not return_search:
        return graph
    if kind == "flat":
        return graph, GraphSearch("flat", 1.0, 0)
    sample = min(n, SEARCH_RECALL_SAMPLE)
    # a fixed sample, not drawn from random_state: asking for the recall changes nothing else
    recall = _sampled_recall(X, graph, sample, metric, np.random.default_rng(0))
    return graph, GraphSearch(kind, recall, sample)


def _searcher(base, queries, k, k_name, metric, index, device, nprobe, random_state, progress):
    """``(found, idx, kind)``: list-search results, or a FAISS index to search.

    IVF on the CPU is the list search (:func:`_list_search`): ``found`` is its
    ``(D, I)`` and ``idx`` None. Exact search, HNSW, every GPU index, and an IVF whose
    list search would cost more than exact search (``"auto"``) give ``found`` None
    and the filled FAISS index (:func:`_build_index`).
    """
    if nprobe is not None:
        nprobe = check_int(nprobe, "nprobe", low=1)
    rng = check_random_state(random_state)
    on_gpu, index, auto = _choose_index(base.shape[0], index, device, k, k_name)
    if index == "ivf" and not on_gpu:
        found = _list_search(base, k, metric, nprobe, rng, auto, progress, queries=queries)
        if found is not None:
            return found[:2], None, "ivf"
        index = "flat"
    idx, index = _build_index(base, metric, index, on_gpu, nprobe, k, rng, auto)
    return None, idx, index


def _self_search(X, k, metric, index, device, nprobe, random_state, batch_size, progress):
    """Every row's ``k`` nearest rows of ``X``: ``(rows, D, I)`` batches and the index kind."""
    found, idx, kind = _searcher(
        X, None, k, "n_neighbors", metric, index, device, nprobe, random_state, progress
    )
    if found is None:
        batches = search_batches(
            idx, X, k, batch_size=batch_size, progress=progress, desc=f"kNN ({kind})"
        )
        return batches, kind
    step = _DEFAULT_BATCH if batch_size is None else batch_size
    D, I = found
    batches = (
        (np.arange(s, min(s + step, len(X))), D[s : s + step], I[s : s + step])
        for s in range(0, len(X), step)
    )
    return batches, kind


@dataclass(frozen=True)
class GraphSearch:
    """How :func:`knn_graph` found the neighbours (``knn_graph(..., return_search=True)``).

    Attributes
    ----------
    index : {"flat", "ivf", "hnsw"}
        The search actually run (what ``index="auto"`` resolved to).
    recall : float
        :func:`knn_recall` of the graph built, on ``sample`` random rows; 1.0 for exact
        search (not measured).
    sample : int
        Rows the recall was measured on (0 for exact search).
    """

    index: str
    recall: float
    sample: int

    def to_dict(self) -> dict:
        return {"index": self.index, "recall": round(self.recall, 4), "sample": self.sample}


#: Rows on which ``return_search=True`` measures an approximate graph's recall.
SEARCH_RECALL_SAMPLE = 256


def nearest(
    base,
    queries,
    k: int,
    *,
    metric: str,
    index: str = "auto",
    device="auto",
    nprobe: int | None = None,
    random_state=None,
    batch_size: int | None = None,
    progress: bool = False,
):
    """The ``k`` nearest rows of ``base`` for every query, the index chosen as in :func:`knn_graph`.

    For one search of many queries (the sharded merge's candidates against a chunk of
    rows): on the CPU, IVF is the list search, which scores the queries probing each
    list with one matrix product (about 3x FAISS IVF at 384-d on 2 cores). To search
    one index many times, use :func:`build_index` and :func:`search`.

    Parameters
    ----------
    base : ndarray of float32, shape (n_base, n_features)
        Rows from :func:`prepare` with ``metric``.
    queries : ndarray of float32, shape (q, n_features)
        Rows from :func:`prepare` with ``metric``.
    k : int
        Neighbours per query, ``1 <= k <= n_base``.
    metric : {"cosine", "euclidean", "dot"}
    index, device, nprobe, random_state :
        As in :func:`build_index`; ``nprobe=None`` tunes the search on sampled queries.
    batch_size : int, optional
        Queries per FAISS call where FAISS searches (default 16384).
    progress : bool, default False

    Returns
    -------
    D : ndarray of float32, shape (q, k)
        FAISS scores, best first (inner products; squared distances for euclidean).
    I : ndarray of int64, shape (q, k)
        Rows of ``base``, -1 where fewer than ``k`` were found.
    """
    metric = check_metric(metric)
    _check_prepared(base, "base")
    queries, k = _check_queries(queries, base.shape[1], k, "base")
    if k > base.shape[0]:
        raise ValueError(f"k must be <= the rows of base ({base.shape[0]}), got {k}")
    found, idx, _ = _searcher(
        base, queries, k, "k", metric, index, device, nprobe, random_state, progress
    )
    if found is not None:
        return found
    return search(idx, queries, k, batch_size=batch_size, progress=progress)


def _finish_rows(X, rows, I, D, metric):
    """:func:`neighbor_similarities` of one batch, each row sorted by column id.

    Euclidean rows keep squared distances (self 0): the bandwidth is the whole graph's,
    known once every batch is in (:func:`_gaussian_kernel`). Missing (-1) slots sort first.
    """
    self_ip = np.einsum("ij,ij->i", X[rows], X[rows]) if metric == "dot" else None
    I, sims = neighbor_similarities(D, I, metric, self_ids=rows, self_scores=self_ip, sigma2=None)
    perm = np.argsort(I, axis=1, kind="stable")
    return np.take_along_axis(I, perm, axis=1), np.take_along_axis(sims, perm, axis=1)


def _gaussian_kernel(cols, vals, chunk: int = 65_536) -> None:
    """In place: squared distances -> exp(-d^2 / sigma^2), sigma^2 = :func:`gaussian_bandwidth`."""
    sigma2 = gaussian_bandwidth(vals[cols >= 0])
    # Chunks keep the temporaries of the transform small at 1M x k.
    for s in range(0, cols.shape[0], chunk):
        block = vals[s : s + chunk]
        to_similarity(block, "euclidean", sigma2, out=block)


def _pack_csr(cols, vals) -> sp.csr_matrix:
    """(n, k) column ids (-1 = none, sorted first) and values -> CSR with sorted indices."""
    n, k = cols.shape
    valid = cols >= 0
    if valid.all():
        indptr = np.arange(0, n * k + 1, k, dtype=np.int64)
        graph = sp.csr_matrix((vals.reshape(-1), cols.reshape(-1), indptr), shape=(n, n))
    else:
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(valid.sum(axis=1), out=indptr[1:])
        graph = sp.csr_matrix((vals[valid], cols[valid], indptr), shape=(n, n))
    graph.has_sorted_indices = True
    return graph


def knn_recall(X, graph, *, sample: int = 1000, metric: str = "cosine", random_state=None) -> float:
    """Recall of a kNN graph against exact search on a random sample of rows.

    For each sampled row ``i`` with ``m`` stored neighbours (self excluded), the
    recall is the share of the exact ``m`` nearest neighbours the graph found. A
    stored neighbour counts if it is at least as close as the exact ``m``-th one,
    so ties between equally distant points do not count as misses.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
        The embeddings the graph was built from.
    graph : scipy.sparse matrix of shape (n_rows, n_rows)
        Output of :func:`knn_graph` (only its sparsity pattern is used).
    sample : int, default 1000
        Rows to check (all rows when ``sample >= n_rows``).
    metric : {"cosine", "euclidean", "dot"}, default "cosine"
        The metric the graph was built with.
    random_state : None, int or numpy Generator
        Picks the sampled rows.

    Returns
    -------
    recall : float in [0, 1]
    """

    X = prepare(X, metric)
    metric = check_metric(metric)
    n = X.shape[0]
    if not sp.issparse(graph):
        raise TypeError(f"graph must be a scipy sparse matrix, got {type(graph).__name__}")
    if graph.shape != (n, n):
        raise ValueError(f"graph must have shape ({n}, {n}) to match X, got {graph.shape}")
    sample = check_int(sample, "sample", low=1)
    rng = check_random_state(random_state)
    return _sampled_recall(X, sp.csr_matrix(graph), sample, metric, rng)


def _sampled_recall(X, graph, sample, metric, rng) -> float:
    """:func:`knn_recall` on rows already from :func:`prepare` and a CSR ``graph``."""
    import faiss

    n = X.shape[0]
    rows = np.arange(n) if sample >= n else np.sort(rng.choice(n, sample, replace=False))
    lengths = np.diff(graph.indptr)[rows]
    kmax = int(lengths.max()) if rows.size else 0
    if kmax < 2:
        return 1.0  # only self per row: nothing to miss
    D, I = faiss.knn(X[rows], X, min(kmax + 1, n), metric=faiss_metric(metric))
    hits = total = 0
    for r, i in enumerate(rows):
        nbrs = graph.indices[graph.indptr[i] : graph.indptr[i + 1]]
        nbrs = nbrs[nbrs != i]
        m = nbrs.size
        if m == 0:
            continue
        ref = I[r][(I[r] != i) & (I[r] >= 0)][:m]
        ref_scores = closeness(D[r][(I[r] != i) & (I[r] >= 0)][:m], metric)
        diff = X[nbrs] - X[i] if metric == "euclidean" else None
        got = -np.einsum("ij,ij->i", diff, diff) if diff is not None else X[nbrs] @ X[i]
        kth = ref_scores[min(m, ref.size) - 1]
        tol = 1e-4 * max(1.0, abs(float(kth)))
        hits += min(m, int(np.count_nonzero(got >= kth - tol)))
        total += m
    return hits / total if total else 1.0
