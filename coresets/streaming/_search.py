"""FAISS search of query rows against a separate base set, in :func:`coresets.knn.knn_graph`'s terms.

``knn_graph`` builds a graph of a set with itself; sharded selection also needs the
neighbours of some rows (merge candidates, streamed rows) among other rows (a chunk of
shards, the held sample). The index choice (exact up to ``AUTO_EXACT_MAX`` base rows,
IVF with ``sqrt(n)`` lists past it) and the similarity transforms are ``knn_graph``'s.
"""

from __future__ import annotations

import math

import numpy as np

from ..knn import AUTO_EXACT_MAX

#: IVF lists searched per query (knn_graph's default for these sizes).
NPROBE = 16


def prepare(X, metric: str) -> np.ndarray:
    """Float32 C-contiguous copy; rows unit-normalised for cosine (zero rows stay zero)."""
    X = np.array(X, dtype=np.float32, order="C", copy=True)
    if metric == "cosine":
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X /= np.where(norms > 0, norms, 1.0)
    return X


def build_index(base, metric: str, seed: int):
    """A filled FAISS index over ``base`` (already :func:`prepare`-d), seeded when IVF."""
    import faiss

    n, d = base.shape
    fmetric = faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
    if n <= AUTO_EXACT_MAX:
        index = faiss.IndexFlat(d, fmetric)
    else:
        nlist = max(1, min(int(round(math.sqrt(n))), n // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlat(d, fmetric), d, nlist, fmetric)
        rng = np.random.default_rng([seed, 5])
        index.cp.seed = int(rng.integers(2**31 - 1))
        n_train = min(n, 64 * nlist)
        train = base if n_train == n else base[np.sort(rng.choice(n, n_train, replace=False))]
        index.train(train)
        index.nprobe = min(nlist, max(NPROBE, nlist // 64))
    index.add(base)
    return index


def search(index, queries, k: int, batch_size: int = 16384):
    """``(scores, ids)`` of the ``k`` best base rows per query (FAISS order, -1 pads)."""
    n = queries.shape[0]
    D = np.empty((n, k), dtype=np.float32)
    I = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, batch_size):
        D[start : start + batch_size], I[start : start + batch_size] = index.search(
            queries[start : start + batch_size], k
        )
    return D, I


def closeness(D, metric: str) -> np.ndarray:
    """FAISS scores as "higher is closer" keys (negated squared distance for euclidean)."""
    return -D if metric == "euclidean" else D


def to_similarity(key, metric: str, sigma2=None) -> np.ndarray:
    """knn_graph's transform of closeness keys: cosine/dot clipped at 0, euclidean RBF."""
    if metric == "cosine":
        return np.clip(key, 0.0, 1.0)
    if metric == "dot":
        return np.maximum(key, 0.0)
    return np.exp(np.minimum(key, 0.0) / np.float32(sigma2))


def median_sigma2(d2) -> float:
    """knn_graph's euclidean bandwidth: median of the positive squared edge lengths."""
    d2 = np.asarray(d2)
    d2 = d2[d2 > 0]
    return float(np.median(d2)) if d2.size else 1.0
