"""Compiled (numba) optimiser loops over per-element gain/add kernels.

A function that can run here exposes ``kernels()`` returning a
:class:`~coresets.submodular._kernels.Kernels` tuple: jitted functions
``gain(args, cur, j)`` / ``add(args, cur, j)``, a cache hint ``fetch(args, j)`` for
the element probably evaluated next, optionally a cheap upper bound
``bound(args, cur, j)``, and the arrays they read. The loops below know nothing
else about the function,
so the split between functions and optimisers holds while the whole greedy
runs without returning to Python for every element.

The loops are written once, as templates that call the kernels through the
module-level names ``_gain``, ``_add``, ``_fetch`` and ``_bound``.
:func:`specialise` compiles one copy of the templates per kernel set, with those
names bound to that set's kernels, so numba sees plain calls of global functions
and caches the loops on disk like any other function (a loop that took the kernels
as first-class function arguments could not be cached and cost about 3 s of
compilation in every fresh process).

The loops run in chunks (``stop`` picks) so a progress bar can advance between
calls; all loop state lives in arrays owned by the caller.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from types import FunctionType
from typing import NamedTuple

import numpy as np
from numba import njit

# Costs within this relative slack of the remaining budget still fit (float sums).
BUDGET_SLACK = 1e-12

# The kernels the templates call. Here they are unset; each specialisation binds them
# in its own copy of this module's namespace (see `specialise`). A ``_bound`` of None
# is a compile-time constant there, so numba drops the branches that would call it.
_gain = _add = _fetch = _bound = None


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


# template (see `specialise`)
def _tighten_head(args, cur, keys, ids, size, fresh_at, bound_at, m, costs):
    """Replace the heap head's stale score by a fresher one and restore heap order.

    With a ``bound`` kernel a stale head first gets the cheap bound (kept only where it
    is lower than the stale score); a head whose bound is already current gets its
    exact gain, marked in ``fresh_at``.
    """
    j = ids[0]
    # after the sift the head is j or one of its children: load their rows meanwhile
    for c in range(1, min(_ARITY + 1, size)):
        _fetch(args, ids[c])
    exact = True
    g = 0.0
    if _bound is not None:
        if bound_at[j] != m:
            g = _bound(args, cur, j)
            bound_at[j] = m
            exact = False
    if exact:
        g = _gain(args, cur, j)
        fresh_at[j] = m
    score = g / costs[j] if costs.shape[0] > 0 else g
    if not exact:
        score = min(score, -keys[0])
    keys[0] = -score
    _sift_down(keys, ids, size, 0)


# template (see `specialise`)
def lazy_loop(
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
                _fetch(args, ids[0])
            gains[m] = _add(args, cur, j)
            chosen[m] = j
            if use_costs:
                budget[0] -= costs[j]
            m += 1
            evals = 0
        else:
            if refresh_after > 0 and evals >= refresh_after:
                meta[3] = 1
                break
            _tighten_head(args, cur, keys, ids, size, fresh_at, bound_at, m, costs)
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


# template (see `specialise`)
def _best_of_sample(args, cur, keys, ids, size, bounds, fresh_at, bound_at, m, costs):
    """The best-scoring candidate of the sample in ``keys[:size]``/``ids[:size]`` (ties: smaller id).

    Candidates are visited in decreasing stale-bound order and the visit stops once no
    bound can beat the best exact score; scores computed on the way update ``bounds``.
    """
    use_costs = costs.shape[0] > 0
    heapify(keys[:size], ids[:size])
    _fetch(args, ids[0])
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
            _fetch(args, ids[0])  # its row loads while j is evaluated
        if fresh_at[j] != m:
            exact = True
            if _bound is not None:
                if bound_at[j] != m:
                    b = _bound(args, cur, j)
                    bound_at[j] = m
                    bounds[j] = min(b / costs[j] if use_costs else b, bounds[j])
                    if best_j >= 0 and (
                        bounds[j] < best_score or (bounds[j] == best_score and j > best_j)
                    ):
                        exact = False  # the cheap bound already rules j out
            if exact:
                g = _gain(args, cur, j)
                fresh_at[j] = m
                bounds[j] = g / costs[j] if use_costs else g
        if fresh_at[j] == m:
            score = bounds[j]
            if best_j < 0 or score > best_score or (score == best_score and j < best_j):
                best_j = j
                best_score = score
    return best_j


# template (see `specialise`)
def stochastic_loop(
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
        j = _best_of_sample(args, cur, keys, ids, size, bounds, fresh_at, bound_at, m, costs)
        best = 0
        while remaining[best] != j:
            best += 1
        gains[m] = _add(args, cur, j)
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


# --- one compiled copy of the templates per kernel set -------------------------

# callees first: a specialised template calls the specialised copies of these
_TEMPLATES = (_tighten_head, _best_of_sample, lazy_loop, stochastic_loop)


class Loops(NamedTuple):
    """The compiled loops of one kernel set (see :func:`specialise`)."""

    lazy: object
    stochastic: object


def specialise(kernels) -> Loops:
    """The lazy and stochastic loops compiled for ``kernels``, built once per kernel set.

    Parameters
    ----------
    kernels : Kernels
        Only its ``gain``, ``add``, ``fetch`` and ``bound`` functions matter here; the
        loops take ``kernels.args`` and ``kernels.cur`` as their first two arguments.

    Returns
    -------
    Loops
        ``lazy`` and ``stochastic`` take the arguments of the :func:`lazy_loop` and
        :func:`stochastic_loop` templates.
    """
    return _specialise(kernels.gain, kernels.add, kernels.fetch, kernels.bound)


@functools.cache
def _specialise(gain, add, fetch, bound):
    label, cacheable = _label([k for k in (gain, add, fetch, bound) if k is not None])
    # The copies share one namespace: this module's, with the kernel names bound, so a
    # template's calls of the kernels and of the other templates resolve to this set's.
    namespace = dict(globals(), _gain=gain, _add=add, _fetch=fetch, _bound=bound)
    for template in _TEMPLATES:
        name = f"{template.__name__}_{label}"
        # numba names a function's cache files by its qualified name (and keys entries
        # by bytecode, which the copies share), so each set's copy has its own name
        twin = FunctionType(
            template.__code__, namespace, name, template.__defaults__, template.__closure__
        )
        twin.__qualname__ = name
        namespace[template.__name__] = njit(cache=cacheable, nogil=True)(twin)
    return Loops(namespace["lazy_loop"], namespace["stochastic_loop"])


def _label(kernels):
    """A file-name-safe name for a kernel set and whether its loops can be cached on disk.

    numba invalidates a cached function when its own source file changes, not when the
    functions it calls change in another file; the name therefore hashes the kernels'
    names and the text of the files that define them, so an edit there compiles (and
    caches) new loops instead of loading stale ones. Kernels without a source file (a
    notebook cell, ``exec``) give loops that are compiled in each process, as numba
    does for such functions themselves.
    """
    digest = hashlib.sha256()
    files = {}
    for kernel in kernels:
        py_func = getattr(kernel, "py_func", kernel)
        digest.update(f"{py_func.__module__}.{py_func.__qualname__};".encode())
        try:
            files[inspect.getsourcefile(py_func)] = None
        except TypeError:  # built in
            files[None] = None
    cacheable = True
    for path in files:
        try:
            with open(path, "rb") as source:
                digest.update(source.read())
        except (TypeError, OSError):  # no file: defined at run time
            cacheable = False
    stem = getattr(kernels[0], "__name__", "kernels")
    return f"{stem}_{digest.hexdigest()[:12]}", cacheable
