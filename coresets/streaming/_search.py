"""Sharded selection's use of :mod:`coresets.knn`'s search API: its input and seeding policy.

Searching, index choice and the similarity transforms are :mod:`coresets.knn`'s
(:func:`~coresets.knn.build_index`, :func:`~coresets.knn.search`,
:func:`~coresets.knn.to_similarity`); this module only fixes the two things that
are streaming-specific.
"""

from __future__ import annotations

import numpy as np

from .. import knn


def prepare(X, metric: str) -> np.ndarray:
    """:func:`coresets.knn.prepare`, keeping zero rows under cosine.

    A single zero row in one shard should not abort a pass over millions of rows: it
    stays zero (similarity 0 to everything) and covers only itself.

    Parameters
    ----------
    X : array-like of shape (n, d)
    metric : {"cosine", "euclidean", "dot"}

    Returns
    -------
    ndarray of float32, shape (n, d), C-contiguous
    """
    return knn.prepare(X, metric, allow_zero_rows=True)


def build_index(base, metric: str, seed: int, n_neighbors: int):
    """:func:`coresets.knn.build_index` over ``base`` (from :func:`prepare`), seeded from ``seed``.

    The seed stream ``[seed, 5]`` is apart from the graph and partition seeds derived
    from the same ``seed``, so an index over the same rows is the same on every worker
    and after a resume.

    Parameters
    ----------
    base : ndarray of float32, shape (n, d)
    metric : {"cosine", "euclidean", "dot"}
    seed : int
    n_neighbors : int, the ``k`` later searches ask for (recall tuning is measured at it).

    Returns
    -------
    faiss.Index
    """
    rng = np.random.default_rng([seed, 5])
    return knn.build_index(base, metric, random_state=rng, n_neighbors=n_neighbors)
