"""What every sharded driver shares: the seed streams, the uniform sample, scaled graphs.

A sharded run draws one integer ``seed`` (saved in its checkpoint) and derives every
random choice from it through a stream of its own, ``np.random.default_rng([seed, tag,
...])``, so that each step (a partition, a chunk's index, the sample) is a pure function
of its arguments: a task retried on another Dask worker, or redone after a crash,
draws exactly what the first attempt drew.

===========  ====================================================
stream       draws
===========  ====================================================
``[s, 1, j]`` RandGreeDi's permutation of shard ``j``
``[s, 2]``    the uniform sample (:func:`sample_rows`)
``[s, 3, p]`` part ``p``'s kNN graph (IVF training)
``[s, 5]``    an index over a chunk or a sample (:func:`seeded_index`)
===========  ====================================================
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import knn
from .._metrics import check_magnitude, check_metric
from .._validation import check_int, check_random_state

#: Fewest neighbours a scaled-down graph keeps (self included).
MIN_NEIGHBORS = 4


def seed_from(random_state) -> int:
    """An integer seed: ``random_state`` itself when it is an int, else drawn from it."""
    rng = check_random_state(random_state)  # validates the type and the sign
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(rng.integers(2**63 - 1))


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """A uniform sample of ``size`` distinct rows of ``range(n)`` (sorted), seeded by ``seed``."""
    rng = np.random.default_rng([seed, 2])
    if size >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(rng.choice(n, size, replace=False)).astype(np.int64)


def graph_rng(seed: int, tag: int) -> np.random.Generator:
    """The generator of part ``tag``'s kNN graph."""
    return np.random.default_rng([seed, 3, tag])


def scaled_neighbors(n_neighbors: int, n_sub: int, n_total: int) -> int:
    """Neighbours in a subset of ``n_sub`` of ``n_total`` rows that span the same radius.

    A part holding a fraction ``n_sub / n_total`` of uniformly drawn rows has that
    fraction of any point's global neighbours, so covering ``n_neighbors * n_sub /
    n_total`` of them there approximates covering ``n_neighbors`` in the full graph.
    """
    return max(min(MIN_NEIGHBORS, n_neighbors), int(round(n_neighbors * n_sub / n_total)))


def prepare(X, metric: str) -> np.ndarray:
    """:func:`coresets.knn.prepare`, keeping zero rows under cosine.

    A single zero row in one shard should not abort a pass over millions of rows: it
    stays zero (similarity 0 to everything) and covers only itself.

    Returns
    -------
    ndarray of float32, shape (n, d), C-contiguous
    """
    return knn.prepare(X, metric, zero_rows="keep")


def set_shared_options(algorithm, *, sample_size, n_neighbors, metric, optimizer, random_state):
    """Check the options RandGreeDi and SampleGreedy share and set them on ``algorithm``.

    ``sample_size`` (None or int >= 1), ``n_neighbors`` (int >= 1), ``metric`` (canonical
    name), ``optimizer`` (an optimiser object; None gives ``LazyGreedy()``) and
    ``random_state`` (its type checked now, kept as given).
    """
    from ..submodular import LazyGreedy, as_optimizer

    algorithm.sample_size = (
        None if sample_size is None else check_int(sample_size, "sample_size", low=1)
    )
    algorithm.n_neighbors = check_int(n_neighbors, "n_neighbors", low=1)
    algorithm.metric = check_metric(metric)
    algorithm.optimizer = LazyGreedy() if optimizer is None else as_optimizer(optimizer)
    check_random_state(random_state)  # fail early on a bad type
    algorithm.random_state = random_state


def check_rows(data, X, rows, metric: str) -> None:
    """Refuse rows ``X`` of ``data`` (global ids ``rows``) that ``metric`` cannot score in
    float32, naming the first one's global id and shard file (see
    :func:`coresets._metrics.check_magnitude`; cosine never overflows)."""
    rows = np.asarray(rows)
    check_magnitude(X, metric, name="data", where=lambda i: data.locate(rows[i]))


def seeded_index(base, metric: str, seed: int, k: int):
    """:func:`coresets.knn.build_index` over ``base`` (from :func:`prepare`), stream ``[seed, 5]``.

    An index over the same rows is then the same on every worker and after a resume.

    Parameters
    ----------
    base : ndarray of float32, shape (n, d)
    metric : {"cosine", "euclidean", "dot"}
    seed : int
    k : int, the ``k`` later searches ask for (recall tuning is measured at it).

    Returns
    -------
    faiss.Index
    """
    return knn.build_index(base, metric, random_state=np.random.default_rng([seed, 5]), k=k)


def seeded_search(base, queries, metric: str, seed: int, k: int):
    """:func:`coresets.knn.nearest` of ``queries`` in ``base``, stream ``[seed, 5]``.

    One search of many queries (the merge's candidates against a chunk of rows): on the
    CPU an IVF is the list search, scored by matrix products. The same rows and seed
    give the same lists on every worker and after a resume.

    Parameters
    ----------
    base, queries : ndarray of float32, shapes (n, d) and (q, d), from :func:`prepare`.
    metric : {"cosine", "euclidean", "dot"}
    seed : int
    k : int, neighbours per query (<= n).

    Returns
    -------
    D, I : ndarrays of shape (q, k), as :func:`coresets.knn.search` returns them.
    """
    return knn.nearest(
        base, queries, k, metric=metric, random_state=np.random.default_rng([seed, 5])
    )
