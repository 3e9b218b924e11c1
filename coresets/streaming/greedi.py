"""RandGreeDi over sharded embeddings (Barbosa, Ene, Nguyen & Ward, ICML 2015).

1. The ground set is split uniformly at random into ``n_partitions`` parts.
2. Each part gets its own kNN graph (:func:`coresets.knn.knn_graph`) and a lazy greedy
   facility-location selection of ``local_k`` points (one task per part). A part holds
   ``1/m`` of the rows, so its graph keeps ``n_neighbors / m`` neighbours: the same
   radius as ``n_neighbors`` in the full graph (:func:`scaled_neighbors`). Measured on
   50k blobs, 4 parts: the best local solution reaches 0.993 of centralised greedy with
   scaled neighbours and 0.947 without.
3. The union of the local solutions (the candidates) is searched against every chunk of
   shards (one task per chunk) for each candidate's ``n_neighbors`` nearest rows in the
   whole ground set: the candidates' rows of the centralised kNN graph, never built
   whole. A merge greedy chooses ``k`` candidates with facility location over those
   rows, evaluated on a uniform sample of the ground set (``sample_size``; default all
   rows, which makes it the centralised objective restricted to the candidates).
4. RandGreeDi keeps the better of the merged solution and the best local solution
   under that merge objective.

Every step is a pure function of its arguments (the data, the seed, the partition
number), so a task retried on another Dask worker, or redone after a crash, returns
exactly the same thing.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from .. import knn
from ..knn import knn_graph
from ..submodular import FacilityLocation, maximize
from ..submodular.functions import SubmodularFunction
from . import _search

#: Rows per partition when ``n_partitions`` is not given. A 500k x 64 partition and its
#: kNN graph take about 1 GiB at the peak, which keeps a whole run under 2 GiB.
DEFAULT_PARTITION_SIZE = 500_000

#: Local solutions hold ``min(2 k, LOCAL_OVERSAMPLE * k / n_partitions)`` points (``k``
#: with one part): each part holds ``1 / n_partitions`` of the data, so it needs its share
#: of ``k`` plus slack, and the merge stays small enough to fit in memory at 10M points.
#: More candidates than RandGreeDi's ``k`` help the merge: on 200k blobs in 2 parts,
#: ``2 k`` per part gave 0.979 of centralised greedy and ``k`` gave 0.967.
LOCAL_OVERSAMPLE = 4


def partition_rows(sizes, n_partitions: int, seed: int, part: int) -> np.ndarray:
    """Global rows of partition ``part`` in a uniform random, balanced partition.

    Shard ``s`` (``sizes[s]`` rows) is permuted with its own generator seeded by
    ``(seed, s)`` and dealt round robin from a random offset, so parts differ in size by
    at most one row per shard and each part is computed without the others.

    Returns
    -------
    rows : ndarray of int64, sorted.
    """
    out, offset = [], 0
    for s, n_s in enumerate(sizes):
        n_s = int(n_s)
        rng = np.random.default_rng([seed, 1, s])
        start = int(rng.integers(n_partitions))
        perm = rng.permutation(n_s)
        # positions i in the permutation with (i + start) % m == part
        first = (part - start) % n_partitions
        out.append(offset + perm[first::n_partitions])
        offset += n_s
    rows = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    return np.sort(rows.astype(np.int64))


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """A uniform sample of ``size`` distinct rows of ``range(n)`` (sorted), seeded by ``seed``."""
    rng = np.random.default_rng([seed, 2])
    if size >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(rng.choice(n, size, replace=False)).astype(np.int64)


#: Fewest neighbours a scaled-down graph keeps (self included).
MIN_NEIGHBORS = 4


def scaled_neighbors(n_neighbors: int, n_sub: int, n_total: int) -> int:
    """Neighbours in a subset of ``n_sub`` of ``n_total`` rows that span the same radius.

    A part holding a fraction ``n_sub / n_total`` of uniformly drawn rows has that
    fraction of any point's global neighbours, so covering ``n_neighbors * n_sub /
    n_total`` of them there approximates covering ``n_neighbors`` in the full graph.
    """
    return max(min(MIN_NEIGHBORS, n_neighbors), int(round(n_neighbors * n_sub / n_total)))


def _graph_seed(seed: int, tag: int) -> np.random.Generator:
    return np.random.default_rng([seed, 3, tag])


def local_greedy(data, rows, k: int, n_neighbors: int, metric: str, seed: int, tag: int):
    """Facility-location lazy greedy on the kNN graph of ``data``'s ``rows``.

    Parameters
    ----------
    data : ShardedEmbeddings
    rows : ndarray of int64, shape (n_p,), global rows of this part.
    k : int, points to choose (all rows when ``n_p <= k``).
    n_neighbors, metric : kNN graph settings (see :func:`coresets.knn.knn_graph`).
    seed, tag : seed the kNN index (IVF training) deterministically.

    Returns
    -------
    dict with ``indices`` (global rows, in greedy order), ``gains``, ``objective``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return {"indices": rows, "gains": np.zeros(0), "objective": np.float64(0.0)}
    X = data.take(rows)
    n_p = rows.size
    k = min(k, n_p)
    if n_p == 1:  # no graph to build: the point covers itself
        x = X[0].astype(np.float64)
        value = max(float(x @ x), 0.0) if metric == "dot" else 1.0
        return {"indices": rows, "gains": np.full(1, value), "objective": np.float64(value)}
    graph = knn_graph(
        X,
        n_neighbors=min(scaled_neighbors(n_neighbors, n_p, data.n_samples), n_p - 1),
        metric=metric,
        random_state=_graph_seed(seed, tag),
        progress=False,
    )
    del X
    sel = maximize(FacilityLocation(graph), k, "lazy")
    return {
        "indices": rows[sel.indices],
        "gains": sel.gains,
        "objective": np.float64(sel.objective),
    }


def chunks(sizes, target: int) -> list:
    """Group consecutive shards into ``(first, stop)`` ranges of at least ``target`` rows."""
    out, first, rows = [], 0, 0
    for s, n_s in enumerate(sizes):
        rows += int(n_s)
        if rows >= target:
            out.append((first, s + 1))
            first, rows = s + 1, 0
    if first < len(sizes):
        out.append((first, len(sizes)))
    return out


def chunk_neighbors(data, first: int, stop: int, queries, n_neighbors: int, metric: str, seed: int):
    """Each query row's ``n_neighbors`` closest rows among shards ``first:stop``.

    Returns
    -------
    keys : ndarray of float32, shape (q, n_neighbors), closeness (higher is closer; -inf pads).
    ids : ndarray of int64, shape (q, n_neighbors), global rows (-1 pads).
    """
    base = _search.prepare(np.concatenate([data.read(s) for s in range(first, stop)]), metric)
    k = min(n_neighbors, base.shape[0])
    index = _search.build_index(base, metric, seed + first, k)
    del base
    D, I = knn.search(index, _search.prepare(queries, metric), k)
    del index
    keys = np.full((I.shape[0], n_neighbors), -np.inf, dtype=np.float32)
    ids = np.full((I.shape[0], n_neighbors), -1, dtype=np.int64)
    found = I >= 0
    keys[:, :k] = np.where(found, knn.closeness(D, metric), -np.inf)
    ids[:, :k] = np.where(found, I + data.offsets[first], -1)
    return keys, ids


def merge_top(keys_a, ids_a, keys_b, ids_b):
    """Row-wise best ``keys_a.shape[1]`` of two neighbour lists; ties go to the smaller id.

    The order is total (closeness, then id), so the result does not depend on the order
    in which chunks finish: a Dask run and an in-process run agree exactly.
    """
    k = keys_a.shape[1]
    keys = np.empty_like(keys_a)
    ids = np.empty_like(ids_a)
    # Row blocks keep the temporaries (concatenation, sort order) small at 10M scale.
    for lo in range(0, keys_a.shape[0], 32768):
        sl = slice(lo, lo + 32768)
        kk = np.concatenate([keys_a[sl], keys_b[sl]], axis=1)
        ii = np.concatenate([ids_a[sl], ids_b[sl]], axis=1)
        order = np.lexsort((ii, -kk), axis=1)[:, :k]
        keys[sl] = np.take_along_axis(kk, order, axis=1)
        ids[sl] = np.take_along_axis(ii, order, axis=1)
    return keys, ids


class _CoverSample(SubmodularFunction):
    """Facility location whose ground set is the first ``n`` rows of a wider square graph.

    The merge graph's columns are the points covered; only its first ``n`` rows (the
    candidates) may be chosen, so the ground set is restricted to them.
    """

    def __init__(self, function: FacilityLocation, n: int):
        self.function = function
        self.n = int(n)

    def init_state(self):
        return self.function.init_state()

    def gains(self, state, candidates):
        return self.function.gains(state, candidates)

    def add(self, state, j):
        return self.function.add(state, j)

    def value(self, state):
        return self.function.value(state)


def merge_greedy(candidates, keys, ids, self_keys, k: int, metric: str, local_sizes, sample=None):
    """RandGreeDi's merge: greedy over ``candidates`` covering their global kNN rows.

    Row ``r`` of ``keys``/``ids`` holds candidate ``r``'s nearest rows over the whole
    ground set (from :func:`chunk_neighbors` + :func:`merge_top`), i.e. its row of the
    centralised kNN graph, so facility location here is the centralised objective with
    the ground set restricted to the candidates (evaluated on ``sample``'s columns
    when given, on every row when None).

    Parameters
    ----------
    candidates : ndarray of int64, shape (c,), global rows, part by part.
    keys, ids : ndarray, shape (c, n_neighbors), closeness and global row of neighbours.
    self_keys : ndarray of float32, shape (c,), each candidate's closeness to itself.
    k : int, points to choose.
    local_sizes : sequence of int, how many candidates each part contributed (in order).
    sample : ndarray of int64, optional, the uniform sample of points to cover.

    Returns
    -------
    dict with ``indices`` (global rows), ``gains``, ``objective``.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    keys, ids = keys.copy(), ids.copy()
    c = candidates.size
    k = min(k, c)
    # knn_graph's convention: every row holds itself; if the index missed it, self
    # replaces the farthest neighbour.
    has_self = (ids == candidates[:, None]).any(axis=1)
    keys[~has_self, -1] = self_keys[~has_self]
    ids[~has_self, -1] = candidates[~has_self]
    valid = ids >= 0
    sigma2 = None
    if metric == "euclidean":  # knn_graph's bandwidth over these rows' non-self edges
        sigma2 = knn.gaussian_bandwidth(-keys[valid & (ids != candidates[:, None])])
    # closeness is its own inverse: keys back to FAISS scores, then knn_graph's transform.
    sims = knn.to_similarity(knn.closeness(keys, metric), metric, sigma2).astype(np.float32)
    is_self = ids == candidates[:, None]
    self_sim = np.maximum(self_keys, 0.0) if metric == "dot" else np.ones(c, dtype=np.float32)
    sims[is_self] = self_sim[np.nonzero(is_self)[0]]
    if sample is not None:
        valid &= np.isin(ids, sample)
    rows = np.nonzero(valid)[0]
    cols, inv = np.unique(ids[valid], return_inverse=True)
    n_sq = max(c, cols.size)
    graph = sp.csr_matrix((sims[valid], (rows, inv.ravel())), shape=(n_sq, n_sq))
    f = _CoverSample(FacilityLocation(graph), c)
    sel = maximize(f, k, "lazy")
    best = (sel.objective, sel.indices, sel.gains)
    # RandGreeDi: a local solution may beat the merged one.
    start = 0
    for size in np.asarray(local_sizes, dtype=np.int64).tolist():
        local = np.arange(start, start + size)[:k]
        start += size
        if local.size == 0:
            continue
        state = f.init_state()
        gains = [f.add(state, j) for j in local.tolist()]
        if f.value(state) > best[0]:
            best = (f.value(state), local, np.asarray(gains))
    objective, chosen, gains = best
    return {
        "indices": candidates[chosen],
        "gains": np.asarray(gains, dtype=np.float64),
        "objective": np.float64(objective),
    }


def shard_counts(data, s: int, centers, metric: str) -> np.ndarray:
    """How many rows of shard ``s`` have each centre as their nearest (exact FAISS search)."""
    from ..weights import nearest_center_weights

    X = data.read(s)
    counts = nearest_center_weights(X, centers, metric="ip" if metric == "dot" else metric)
    del X
    return counts


def plan(n: int, k: int, n_partitions, partition_size, local_k):
    """Resolve defaults: ``(n_partitions, local_k)`` for ``n`` rows and ``k`` picks."""
    if n_partitions is None:
        n_partitions = max(1, math.ceil(n / partition_size))
    n_partitions = min(n_partitions, n)
    if local_k is None:
        local_k = (
            k if n_partitions == 1 else min(2 * k, math.ceil(LOCAL_OVERSAMPLE * k / n_partitions))
        )
    return n_partitions, local_k
