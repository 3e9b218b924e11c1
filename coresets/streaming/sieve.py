"""Sieve-Streaming++ (Kazemi, Mitrovic, Zadimoghaddam, Lattanzi & Karbasi, ICML 2019).

One pass over the rows in shard order, with memory independent of the number of rows:
facility location is evaluated on a held uniform sample of ``s`` rows, and a streamed
row ``e`` covers its ``n_neighbors`` nearest sample points (the similarity transform of
:func:`coresets.knn.knn_graph`). The optimiser keeps one candidate solution (a *sieve*)
per threshold ``tau = (1 + epsilon)^i`` in ``[max(LB, Delta) / (2k) / (1 + epsilon), Delta]``,
where ``Delta`` is the largest singleton value seen and ``LB`` the best solution value so
far; a row joins every sieve that is not full and where its gain reaches the threshold.
It returns the best sieve: a ``(1/2 - epsilon)`` approximation of the optimum on the
sample. Memory: ``O(s * log(k) / epsilon)`` coverage values and ``O(k log(k) / epsilon)``
ids.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import knn
from . import _search

# Slots of the scalar state vector (float64) kept between blocks.
_DELTA, _LB, _BEST_VALUE = 0, 1, 2
# Slots of the integer state vector.
_I_LO, _I_HI, _BEST_SLOT, _BEST_SIZE, _STARTED = 0, 1, 2, 3, 4


def n_sieves(k: int, epsilon: float) -> int:
    """Upper bound on the number of thresholds alive at once."""
    return int(math.ceil(math.log(2.0 * k * (1.0 + epsilon)) / math.log1p(epsilon))) + 3


def init_state(k: int, n_sample: int, epsilon: float) -> dict:
    """Fresh Sieve-Streaming++ state for ``k`` picks over a sample of ``n_sample`` points."""
    cap = n_sieves(k, epsilon)
    return {
        "scal": np.zeros(3, dtype=np.float64),
        "ints": np.array([0, -1, -1, 0, 0], dtype=np.int64),
        "cur": np.zeros((cap, n_sample), dtype=np.float64),
        "members": np.full((cap, k), -1, dtype=np.int64),
        "gains": np.zeros((cap, k), dtype=np.float64),
        "sizes": np.zeros(cap, dtype=np.int64),
        "values": np.zeros(cap, dtype=np.float64),
        "best_members": np.full(k, -1, dtype=np.int64),
        "best_gains": np.zeros(k, dtype=np.float64),
    }


@njit(cache=True)
def _reset(slot, cur, sizes, values, members):
    cur[slot, :] = 0.0
    sizes[slot] = 0
    values[slot] = 0.0
    members[slot, :] = -1


@njit(cache=True)
def _freeze_if_best(slot, ints, members, gains, sizes, best_members, best_gains):
    # The best solution's sieve is about to be dropped: keep a copy of it.
    if ints[2] == slot:
        size = sizes[slot]
        best_members[:size] = members[slot, :size]
        best_gains[:size] = gains[slot, :size]
        ints[3] = size
        ints[2] = -2  # "the best solution lives in best_members"


@njit(cache=True)
def _process(
    nbr,
    sim,
    ids,
    k,
    log1pe,
    scal,
    ints,
    cur,
    members,
    gains,
    sizes,
    values,
    best_members,
    best_gains,
):
    """Feed rows ``ids`` (sample neighbours ``nbr``, similarities ``sim``) to the sieves."""
    cap = cur.shape[0]
    base = math.exp(log1pe)
    for t in range(ids.shape[0]):
        single = 0.0
        for q in range(nbr.shape[1]):
            if nbr[t, q] >= 0:
                single += sim[t, q]
        if single > scal[0]:
            scal[0] = single
        delta = scal[0]
        if delta <= 0.0:
            continue
        tau_min = max(scal[1], delta) / (2.0 * k)
        lo = int(math.ceil(math.log(tau_min / base) / log1pe - 1e-9))
        hi = int(math.floor(math.log(delta) / log1pe + 1e-9))
        if ints[4] == 0:
            for i in range(lo, hi + 1):
                _reset(i % cap, cur, sizes, values, members)
            ints[0], ints[1], ints[4] = lo, hi, 1
        else:
            for i in range(ints[0], min(lo, ints[1] + 1)):  # thresholds now too low
                _freeze_if_best(i % cap, ints, members, gains, sizes, best_members, best_gains)
            new_from = max(ints[1] + 1, lo)
            for i in range(new_from, hi + 1):  # thresholds new at the top
                _reset(i % cap, cur, sizes, values, members)
            ints[0] = max(ints[0], lo)
            ints[1] = max(ints[1], hi)
        for i in range(ints[0], ints[1] + 1):
            slot = i % cap
            if sizes[slot] >= k:
                continue
            tau = math.exp(i * log1pe)
            g = 0.0
            for q in range(nbr.shape[1]):
                p = nbr[t, q]
                if p >= 0:
                    d = sim[t, q] - cur[slot, p]
                    if d > 0.0:
                        g += d
            if g >= tau and g > 0.0:
                for q in range(nbr.shape[1]):
                    p = nbr[t, q]
                    if p >= 0 and sim[t, q] > cur[slot, p]:
                        cur[slot, p] = sim[t, q]
                members[slot, sizes[slot]] = ids[t]
                gains[slot, sizes[slot]] = g
                sizes[slot] += 1
                values[slot] += g
                if values[slot] > scal[1]:
                    scal[1] = values[slot]
                    ints[2] = slot
                    scal[2] = values[slot]


def process(state: dict, nbr, sim, ids, k: int, epsilon: float) -> None:
    """Feed one block of rows to the sieves, in order (state is updated in place).

    Parameters
    ----------
    nbr : ndarray of int64, shape (b, n_neighbors), sample positions each row covers (-1: none).
    sim : ndarray of float64, shape (b, n_neighbors), non-negative similarities.
    ids : ndarray of int64, shape (b,), global rows.
    """
    _process(
        np.ascontiguousarray(nbr, dtype=np.int64),
        np.ascontiguousarray(sim, dtype=np.float64),
        np.ascontiguousarray(ids, dtype=np.int64),
        int(k),
        math.log1p(epsilon),
        state["scal"],
        state["ints"],
        state["cur"],
        state["members"],
        state["gains"],
        state["sizes"],
        state["values"],
        state["best_members"],
        state["best_gains"],
    )


def best(state: dict):
    """The best solution so far: ``(ids, gains, value)`` in the order rows joined it."""
    slot = int(state["ints"][_BEST_SLOT])
    value = float(state["scal"][_BEST_VALUE])
    if slot == -1:
        return np.zeros(0, dtype=np.int64), np.zeros(0), 0.0
    if slot == -2:
        size = int(state["ints"][_BEST_SIZE])
        return state["best_members"][:size].copy(), state["best_gains"][:size].copy(), value
    size = int(state["sizes"][slot])
    return state["members"][slot, :size].copy(), state["gains"][slot, :size].copy(), value


class SampleNeighbors:
    """Nearest sample points of streamed rows, as similarities in ``knn_graph``'s transform.

    Parameters
    ----------
    sample : ndarray, shape (s, d), the held sample.
    n_neighbors : int, sample points each streamed row may cover.
    metric : {"cosine", "euclidean", "dot"}
    seed : int, seeds the IVF index of a large sample.
    """

    def __init__(self, sample, n_neighbors: int, metric: str, seed: int):
        self.metric = metric
        Xs = _search.prepare(sample, metric)
        n = Xs.shape[0]
        self.k = min(n_neighbors, n)
        self.index = _search.build_index(Xs, metric, seed, self.k)
        self.sigma2 = None
        if metric == "euclidean":
            # knn_graph's bandwidth from the sample's own non-self kNN edges, fixed
            # before the stream starts.
            D, I = knn.search(self.index, Xs, min(self.k + 1, n))
            self.sigma2 = knn.gaussian_bandwidth(D[(I >= 0) & (I != np.arange(n)[:, None])])

    def __call__(self, block):
        """Return ``(nbr, sim)``, each shape (b, n_neighbors), for rows ``block`` (b, d)."""
        D, I = knn.search(self.index, _search.prepare(block, self.metric), self.k)
        sim = knn.to_similarity(D, self.metric, self.sigma2)
        return I, np.where(I >= 0, sim, 0.0).astype(np.float64)
