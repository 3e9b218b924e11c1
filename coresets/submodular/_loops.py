"""Compiled (numba) optimiser loops over per-element gain/add kernels.

A function that can run here exposes ``kernels()`` returning a
:class:`~coresets.submodular._kernels.Kernels` tuple: jitted functions
``gain(args, cur, j)`` / ``add(args, cur, j)``, a cache hint ``fetch(args, j)`` for
the element probably evaluated next, optionally a cheap upper bound
``bound(args, cur, j)``, and the arrays they read. The loops below know nothing
else about the function,
so the split between functions and optimisers holds while the whole greedy
runs without returning to Python for every element.

The loops run in chunks (``stop`` picks) so a progress bar can advance between
calls; all loop state lives in arrays owned by the caller.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Costs within this relative slack of the remaining budget still fit (float sums).
BUDGET_SLACK = 1e-12


@njit(cache=True, nogil=True, inline="always")
def _less(ka, ia, kb, ib):
    # heap order: smaller key first, ties to the smaller element id
    return ka < kb or (ka == kb and ia < ib)


# A 4-ary heap: half the levels of a binary heap and the children of a node share a
# cache line, which matters because the lazy loop sifts after every re-evaluation.
_ARITY = 4


@njit(cache=True, nogil=True)
def _sift_down(keys, ids, size, pos):
    key = keys[pos]
    idx = ids[pos]
    while True:
        first = _ARITY * pos + 1
        if first >= size:
            break
        best = first
        last = min(first + _ARITY, size)
        for c in range(first + 1, last):
            if _less(keys[c], ids[c], keys[best], ids[best]):
                best = c
        if _less(keys[best], ids[best], key, idx):
            keys[pos] = keys[best]
            ids[pos] = ids[best]
            pos = best
        else:
            break
    keys[pos] = key
    ids[pos] = idx


@njit(cache=True, nogil=True)
def heapify(keys, ids):
    size = keys.shape[0]
    for pos in range((size - 2) // _ARITY, -1, -1):
        _sift_down(keys, ids, size, pos)


@njit(cache=True, nogil=True)
def _pop(keys, ids, size):
    size -= 1
    keys[0] = keys[size]
    ids[0] = ids[size]
    _sift_down(keys, ids, size, 0)
    return size


# not cached: numba cannot cache functions that take jitted functions as arguments
@njit(nogil=True)
def _tighten_head(gain, fetch, bound, args, cur, keys, ids, size, fresh_at, bound_at, m, costs):
    """Replace the heap head's stale score by a fresher one and restore heap order.

    With a ``bound`` kernel a stale head first gets the cheap bound (kept only where it
    is lower than the stale score); a head whose bound is already current gets its
    exact gain, marked in ``fresh_at``.
    """
    j = ids[0]
    # after the sift the head is j or one of its children: load their rows meanwhile
    for c in range(1, min(_ARITY + 1, size)):
        fetch(args, ids[c])
    exact = True
    g = 0.0
    if bound is not None:
        if bound_at[j] != m:
            g = bound(args, cur, j)
            bound_at[j] = m
            exact = False
    if exact:
        g = gain(args, cur, j)
        fresh_at[j] = m
    score = g / costs[j] if costs.shape[0] > 0 else g
    if not exact:
        score = min(score, -keys[0])
    keys[0] = -score
    _sift_down(keys, ids, size, 0)


# not cached: numba cannot cache functions that take jitted functions as arguments
@njit(nogil=True)
def lazy_loop(
    gain,
    add,
    fetch,
    bound,
    args,
    cur,
    keys,
    ids,
    meta,
    fresh_at,
    bound_at,
    costs,
    budget,
    chosen,
    gains,
    stop,
):
    """Lazy greedy until ``stop`` picks or the heap empties.

    ``keys``/``ids`` form a 4-ary heap of ``-score`` upper bounds (score = gain, or gain
    per cost when ``costs`` is non-empty); ``meta`` is ``[heap size, picks so far,
    refresh_after, refresh_wanted]``; ``budget[0]`` is the budget left. ``fresh_at[j] ==
    picks`` marks an exact score for the current set, ``bound_at[j] == picks`` a cheap
    bound computed for it (``bound`` kernel only). When one pick needs more than
    ``refresh_after`` re-evaluations (every bound collapsed at once, as after the first
    pick on dense data) the loop stops with ``refresh_wanted = 1`` so the caller can
    refresh all bounds in one threaded pass. Returns the number of picks so far.
    """
    use_costs = costs.shape[0] > 0
    size = meta[0]
    m = meta[1]
    refresh_after = meta[2]
    evals = 0
    while m < stop and size > 0:
        j = ids[0]
        if use_costs and costs[j] > budget[0] * (1.0 + BUDGET_SLACK):
            size = _pop(keys, ids, size)  # budgets only shrink: j never fits again
            continue
        if fresh_at[j] == m:
            size = _pop(keys, ids, size)
            if size > 0:
                fetch(args, ids[0])
            gains[m] = add(args, cur, j)
            chosen[m] = j
            if use_costs:
                budget[0] -= costs[j]
            m += 1
            evals = 0
        else:
            if refresh_after > 0 and evals >= refresh_after:
                meta[3] = 1
                break
            _tighten_head(
                gain, fetch, bound, args, cur, keys, ids, size, fresh_at, bound_at, m, costs
            )
            evals += 1
    meta[0] = size
    meta[1] = m
    return m


@njit(cache=True, nogil=True)
def _next_uniform(rng_state):
    # splitmix64: a tiny counter-based generator seeded from the caller's numpy
    # Generator, so the loop never touches numpy's or numba's global state
    rng_state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = rng_state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True)
def _draw_sample(remaining, m_left, sample_size, rng_state, bounds, costs, budget, keys, ids):
    """Draw up to ``sample_size`` distinct candidates by partial Fisher-Yates.

    The sample lands in ``remaining[:size]`` and, as a heap to be, in ``keys[:size]``
    (``-bounds``) / ``ids[:size]``; a drawn candidate that no longer fits the budget is
    moved past ``m_left`` and another is drawn in its place. Returns ``(size, m_left)``.
    """
    use_costs = costs.shape[0] > 0
    t = 0
    while t < min(sample_size, m_left):
        r = t + int(_next_uniform(rng_state) * (m_left - t))
        remaining[t], remaining[r] = remaining[r], remaining[t]
        j = remaining[t]
        if use_costs and costs[j] > budget[0] * (1.0 + BUDGET_SLACK):
            m_left -= 1  # never fits again: drop it and draw again in its place
            remaining[t] = remaining[m_left]
            remaining[m_left] = j
            continue
        keys[t] = -bounds[j]
        ids[t] = j
        t += 1
    return t, m_left


# not cached: numba cannot cache functions that take jitted functions as arguments
@njit(nogil=True)
def _best_of_sample(
    gain, fetch, bound, args, cur, keys, ids, size, bounds, fresh_at, bound_at, m, costs
):
    """The best-scoring candidate of the sample in ``keys[:size]``/``ids[:size]`` (ties: smaller id).

    Candidates are visited in decreasing stale-bound order and the visit stops once no
    bound can beat the best exact score; scores computed on the way update ``bounds``.
    """
    use_costs = costs.shape[0] > 0
    heapify(keys[:size], ids[:size])
    fetch(args, ids[0])
    best_j = -1
    best_score = 0.0
    while size > 0:
        j = ids[0]
        if best_j >= 0 and -keys[0] <= best_score:
            # heap order: every later bound is lower, or equal with a larger id
            if -keys[0] < best_score or j > best_j:
                break
        size = _pop(keys, ids, size)
        if size > 0:
            fetch(args, ids[0])  # its row loads while j is evaluated
        if fresh_at[j] != m:
            exact = True
            if bound is not None:
                if bound_at[j] != m:
                    b = bound(args, cur, j)
                    bound_at[j] = m
                    bounds[j] = min(b / costs[j] if use_costs else b, bounds[j])
                    if best_j >= 0 and (
                        bounds[j] < best_score or (bounds[j] == best_score and j > best_j)
                    ):
                        exact = False  # the cheap bound already rules j out
            if exact:
                g = gain(args, cur, j)
                fresh_at[j] = m
                bounds[j] = g / costs[j] if use_costs else g
        if fresh_at[j] == m:
            score = bounds[j]
            if best_j < 0 or score > best_score or (score == best_score and j < best_j):
                best_j = j
                best_score = score
    return best_j


# not cached: numba cannot cache functions that take jitted functions as arguments
@njit(nogil=True)
def stochastic_loop(
    gain,
    add,
    fetch,
    bound,
    args,
    cur,
    remaining,
    meta,
    rng_state,
    sample_size,
    bounds,
    fresh_at,
    bound_at,
    costs,
    budget,
    chosen,
    gains,
    stop,
):
    """Stochastic greedy until ``stop`` picks, sampling by partial Fisher-Yates.

    ``remaining[:meta[0]]`` are the candidates left and ``meta[1]`` the picks so
    far; each pick draws ``sample_size`` distinct random candidates and takes the
    best score (ties to the smaller id). ``bounds[j]`` is ``j``'s last computed
    score, an upper bound on its score now (submodularity): sampled candidates
    are visited in decreasing bound order (a small heap) and the visit stops once
    no bound can beat the best exact score, so the pick equals plain stochastic
    greedy's on the same sample with far fewer evaluations. With a ``bound``
    kernel a stale candidate gets the cheap bound first and its exact score only
    if the bound can still win.
    """
    use_costs = costs.shape[0] > 0
    m_left = meta[0]
    m = meta[1]
    keys = np.empty(sample_size, dtype=np.float64)
    ids = np.empty(sample_size, dtype=np.int64)
    while m < stop and m_left > 0:
        size, m_left = _draw_sample(
            remaining, m_left, sample_size, rng_state, bounds, costs, budget, keys, ids
        )
        if size == 0:
            continue
        j = _best_of_sample(
            gain, fetch, bound, args, cur, keys, ids, size, bounds, fresh_at, bound_at, m, costs
        )
        best = 0
        while remaining[best] != j:
            best += 1
        gains[m] = add(args, cur, j)
        chosen[m] = j
        if use_costs:
            budget[0] -= costs[j]
        m_left -= 1
        remaining[best] = remaining[m_left]
        remaining[m_left] = j
        m += 1
    meta[0] = m_left
    meta[1] = m
    return m
