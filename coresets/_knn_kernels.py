"""Compiled helpers of :mod:`coresets.knn`'s list-blocked IVF search.

The search scores a block of queries against one IVF list with a BLAS matrix
product and folds each row of scores into that query's running top-k. These
loops are the folding and the grouping of rows by list; both run in numba so the
search never holds more than one block of scores.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def group_by_list(lists, n_lists):
    """Rows grouped by the list each entry names: a counting sort.

    Parameters
    ----------
    lists : ndarray of int32, shape (n, m)
        ``lists[i, p]`` is a list id in ``[0, n_lists)``.
    n_lists : int

    Returns
    -------
    start : ndarray of int64, shape (n_lists + 1,)
        ``rows[start[L]:start[L + 1]]`` are the rows that name list ``L``.
    rows : ndarray of int32, shape (n * m,)
        Row ids, increasing within each list.
    """
    n, m = lists.shape
    start = np.zeros(n_lists + 1, dtype=np.int64)
    for i in range(n):
        for p in range(m):
            start[lists[i, p] + 1] += 1
    for L in range(n_lists):
        start[L + 1] += start[L]
    fill = start[:-1].copy()
    rows = np.empty(n * m, dtype=np.int32)
    for i in range(n):
        for p in range(m):
            L = lists[i, p]
            rows[fill[L]] = i
            fill[L] += 1
    return start, rows


@njit(cache=True, nogil=True)
def fold_top_k(scores, query_rows, member_ids, keys, ids):
    """Fold a block of scores into each query's running top-k (min-heaps, in place).

    Parameters
    ----------
    scores : ndarray of float32, shape (a, b)
        Higher is closer; row ``r`` belongs to query ``query_rows[r]``, column ``c``
        to base row ``member_ids[c]``.
    query_rows : ndarray of int32, shape (a,)
        Query ids (rows of ``keys``). Serial and without the GIL: the list scan runs one
        call per thread, each on its own queries' heaps.
    member_ids : ndarray of int32, shape (b,)
    keys : ndarray of float32, shape (n, k)
        Min-heap per query, ``keys[q, 0]`` the worst kept score; -inf when empty.
    ids : ndarray of int32, shape (n, k)
        The base rows of ``keys``; -1 when empty.

    Ties with the worst kept score do not enter, so the result depends only on the
    order the blocks come in, which the caller fixes.
    """
    a, b = scores.shape
    k = keys.shape[1]
    for r in range(a):
        q = query_rows[r]
        heap_keys = keys[q]
        heap_ids = ids[q]
        for c in range(b):
            s = scores[r, c]
            if s > heap_keys[0]:
                pos = 0
                while True:
                    child = 2 * pos + 1
                    if child >= k:
                        break
                    if child + 1 < k and heap_keys[child + 1] < heap_keys[child]:
                        child += 1
                    if heap_keys[child] < s:
                        heap_keys[pos] = heap_keys[child]
                        heap_ids[pos] = heap_ids[child]
                        pos = child
                    else:
                        break
                heap_keys[pos] = s
                heap_ids[pos] = member_ids[c]


@njit(cache=True, nogil=True, parallel=True)
def sort_heaps(keys, ids):
    """Each row's heap in place, best (largest key) first (ties keep their heap order)."""
    n, k = keys.shape
    for q in prange(n):
        order = np.argsort(-keys[q], kind="mergesort")
        row_keys = keys[q][order]
        row_ids = ids[q][order]
        keys[q] = row_keys
        ids[q] = row_ids


@njit(cache=True, nogil=True, parallel=True, fastmath={"reassoc", "contract"})
def rerank(queries, base, candidates, sq_norms, keys, ids):
    """Each query's best candidates by their exact score in full dimensions, best first.

    Parameters
    ----------
    queries : ndarray of float32, shape (q, d)
    base : ndarray of float32, shape (n, d)
    candidates : ndarray of int32, shape (q, c)
        Rows of ``base`` (any order), -1 for none; the caller checks ``< n``.
    sq_norms : ndarray of float32, shape (n,) or (0,)
        Squared norms of ``base`` for a euclidean ranking (``2 q.x - ||x||^2``);
        empty for inner products.
    keys : ndarray of float32, shape (q, k), ``k <= c``
        Filled with the ``k`` best scores (-inf pads).
    ids : ndarray of int32, shape (q, k)
        Filled with their rows (-1 pads).

    Dot products in float32, as FAISS's exact search computes them; reassociating
    the sums lets them vectorise (infinities keep their meaning). The gathered rows,
    not the arithmetic, set the pace.
    """
    q, c = candidates.shape
    d = base.shape[1]
    k = keys.shape[1]
    euclidean = sq_norms.size > 0
    for i in prange(q):
        scores = np.full(c, -np.inf, dtype=np.float32)
        for j in range(c):
            b = candidates[i, j]
            if b >= 0:
                s = np.float32(0.0)
                for t in range(d):
                    s += queries[i, t] * base[b, t]
                scores[j] = np.float32(2.0) * s - sq_norms[b] if euclidean else s
        order = np.argsort(-scores, kind="mergesort")
        for j in range(k):
            o = order[j]
            if scores[o] == -np.inf:
                keys[i, j] = -np.inf
                ids[i, j] = -1
            else:
                keys[i, j] = scores[o]
                ids[i, j] = candidates[i, o]
