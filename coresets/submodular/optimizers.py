"""Greedy maximisers of submodular functions under a cardinality or knapsack constraint.

Each optimiser is a small class with one verb, ``run``, that drives a function
through the interface of :mod:`coresets.submodular.functions` (``init_state``,
``gains``, ``add``, ``value``) and knows nothing else about it. :func:`maximize`
is the entry point: it validates the request, builds the starting state and
returns a :class:`~coresets.selection.Selection`.

Ties between equal gains always go to the smaller index, so ``naive`` and
``lazy`` return the same ranking.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
from tqdm.auto import tqdm

from coresets._validation import (
    check_costs,
    check_indices,
    check_n_select,
    check_option,
    check_random_state,
    check_real,
)
from coresets.selection import Selection
from coresets.submodular import _loops
from coresets.submodular._loops import BUDGET_SLACK
from coresets.submodular.functions import SubmodularFunction

__all__ = [
    "maximize",
    "as_optimizer",
    "NaiveGreedy",
    "LazyGreedy",
    "ApproximateLazyGreedy",
    "StochasticGreedy",
    "OPTIMIZERS",
]


class _Knapsack:
    """Remaining budget and per-element costs; without costs everything costs 1 and fits."""

    def __init__(self, costs, budget):
        self.costs = costs
        self.left = budget

    def fits(self, cands):
        if self.costs is None:
            return np.ones(cands.shape[0], dtype=bool)
        return self.costs[cands] <= self.left * (1 + BUDGET_SLACK)

    def fits_one(self, j):
        return self.costs is None or self.costs[j] <= self.left * (1 + BUDGET_SLACK)

    def score(self, gains, cands):
        return gains if self.costs is None else gains / self.costs[cands]

    def spend(self, j):
        if self.costs is not None:
            self.left -= self.costs[j]


def _bar(total, progress, desc):
    return tqdm(total=total, disable=not progress, desc=desc, leave=False)


class _Picks:
    """The picks of one Python-driven run: ``take(j)`` adds ``j`` and records its gain."""

    def __init__(self, function, state, knapsack, k, progress, desc):
        self.function = function
        self.state = state
        self.knapsack = knapsack
        self.chosen = []
        self.gains = []
        self.bar = _bar(k, progress, desc)

    def __len__(self):
        return len(self.chosen)

    def take(self, j):
        self.gains.append(self.function.add(self.state, j))
        self.chosen.append(j)
        self.knapsack.spend(j)
        self.bar.update(1)

    def result(self):
        self.bar.close()
        return self.chosen, self.gains


def _has_kernels(function, state):
    return function.kernels(state) is not None


def _best(scores, cands):
    """Position of the highest score; ties go to the smaller element id."""
    top = scores.max()
    ties = np.flatnonzero(scores == top)
    return ties[0] if ties.size == 1 else ties[np.argmin(cands[ties])]


def _current_scores(function, state, cands, knapsack, fresh_at, bound_at, step):
    """Scores of ``cands`` for the current set in one batched (threaded) call.

    Cheap upper bounds where the function has them (marked current in ``bound_at``),
    else exact gains (marked in ``fresh_at``).
    """
    bounds = function.upper_bounds(state, cands)
    if bounds is None:
        bounds = function.gains(state, cands)
        fresh_at[cands] = step
    else:
        bound_at[cands] = step
    return knapsack.score(bounds, cands)


def _compiled_run(kind, loop_state, function, state, k, knapsack, progress, desc, refresh=None):
    """Drive a compiled loop in chunks so the progress bar advances; return ids, gains.

    ``kind`` names the loop, a field of :class:`~coresets.submodular._loops.Loops`
    (``"lazy"`` or ``"stochastic"``), compiled for the function's kernels.
    ``refresh()``, when given, runs after each call and returns True if the loop had
    stopped to have its bounds refreshed (then the loop simply resumes).
    """
    kernels = function.kernels(state)
    loop = getattr(_loops.specialise(kernels), kind)
    costs = np.empty(0) if knapsack.costs is None else knapsack.costs
    budget = np.array([knapsack.left], dtype=np.float64)
    chosen = np.empty(k, dtype=np.int64)
    gains = np.empty(k, dtype=np.float64)
    # one call without a progress bar, 20 chunks with one (a call dispatches in a few
    # microseconds: the kernels are bound into the loop, not typed as arguments each time)
    chunk = max(1, -(-k // 20)) if progress else k
    bar = _bar(k, progress, desc)
    m = 0
    while m < k:
        done = loop(
            kernels.args,
            kernels.cur,
            *loop_state,
            costs,
            budget,
            chosen,
            gains,
            min(k, m + chunk),
        )
        bar.update(done - m)
        if refresh is not None and refresh():
            m = done
            continue
        if done == m or done < min(k, m + chunk):
            m = done
            break
        m = done
    bar.close()
    knapsack.left = float(budget[0])
    return chosen[:m].tolist(), gains[:m].tolist()


class NaiveGreedy:
    """Exact greedy: every step evaluates every remaining candidate (one batched call)."""

    name = "naive"

    def run(self, function, state, k, available, knapsack, progress=False):
        """Add up to ``k`` elements of ``available`` (bool mask) to ``state``; return ids, gains."""
        picks = _Picks(function, state, knapsack, k, progress, "naive greedy")
        for _ in range(k):
            cands = np.flatnonzero(available)
            cands = cands[knapsack.fits(cands)]
            if cands.size == 0:
                break
            g = function.gains(state, cands)
            j = int(cands[_best(knapsack.score(g, cands), cands)])
            picks.take(j)
            available[j] = False
        return picks.result()


class LazyGreedy:
    """Lazy (accelerated) greedy, Minoux 1978: a priority queue of stale upper bounds.

    By submodularity a gain computed earlier bounds the gain now, so only the top
    of the queue is re-evaluated; an element whose bound is fresh and still on top
    is the exact greedy choice. A function with compiled kernels (facility location)
    runs in a compiled loop that also uses the function's cheap bounds; any other
    function is driven from Python, which re-evaluates up to eight stale heap
    entries per call to ``function.gains`` (amortising the per-call overhead).
    """

    name = "lazy"

    #: stale heap entries re-evaluated together on the Python path
    _stale_batch = 8

    def run(self, function, state, k, available, knapsack, progress=False):
        """Add up to ``k`` elements of ``available`` (bool mask) to ``state``; return ids, gains."""
        cands = np.flatnonzero(available)
        cands = cands[knapsack.fits(cands)]
        run = self._run_compiled if self._compiled(function, state) else self._run_python
        return run(function, state, k, cands, knapsack, progress)

    def _compiled(self, function, state):
        return _has_kernels(function, state)

    def _accept_stale(self, fresh_score, old_bound):
        return False

    def _run_compiled(self, function, state, k, cands, knapsack, progress):
        ids = cands.astype(np.int64)
        fresh_at = np.full(function.n, -1, dtype=np.int64)
        bound_at = np.full(function.n, -1, dtype=np.int64)
        # past n/4 re-evaluations in one pick, one threaded pass over every bound is cheaper
        meta = np.array([ids.shape[0], 0, max(1024, ids.shape[0] // 4), 0], dtype=np.int64)
        keys = np.empty(ids.shape[0], dtype=np.float64)

        def set_bounds(alive, step):
            size = alive.shape[0]
            exact = fresh_at[alive] == step  # scored exactly earlier in this pick
            kept = keys[:size][exact]
            scores = _current_scores(function, state, alive, knapsack, fresh_at, bound_at, step)
            # a cheap bound must not replace an exact score: the loop would take it as exact
            keys[:size] = -scores
            keys[:size][exact] = kept
            _loops.heapify(keys[:size], alive)

        set_bounds(ids, 0)

        def refresh():
            if not meta[3]:
                return False
            set_bounds(ids[: meta[0]], meta[1])
            meta[3] = 0
            return True

        loop_state = (keys, ids, meta, fresh_at, bound_at)
        return _compiled_run(
            "lazy",
            loop_state,
            function,
            state,
            k,
            knapsack,
            progress,
            "lazy greedy",
            refresh=refresh,
        )

    def _run_python(self, function, state, k, cands, knapsack, progress):
        g = function.gains(state, cands)
        # fresh_at[j] == len(picks) means j's bound was computed for the current set.
        fresh_at = np.full(function.n, -1, dtype=np.int64)
        fresh_at[cands] = 0
        heap = list(zip((-knapsack.score(g, cands)).tolist(), cands.tolist(), strict=True))
        heapq.heapify(heap)

        picks = _Picks(function, state, knapsack, k, progress, "lazy greedy")
        pop, push = heapq.heappop, heapq.heappush
        while len(picks) < k and heap:
            neg_bound, j = pop(heap)
            if not knapsack.fits_one(j):
                continue  # budgets only shrink: j never fits again
            step = len(picks)
            if fresh_at[j] != step:
                batch = [j]
                while heap and len(batch) < self._stale_batch and fresh_at[heap[0][1]] != step:
                    batch.append(pop(heap)[1])
                ids = np.asarray(batch, dtype=np.int64)
                g = function.gains(state, ids)
                fresh_at[ids] = step
                scores = knapsack.score(g, ids)
                if self._accept_stale(scores[0], -neg_bound):
                    # approximate-lazy: the old bound topped every other bound, so a fresh
                    # score within (1 - epsilon) of it is within (1 - epsilon) of the best
                    for i, s in zip(batch[1:], scores[1:].tolist(), strict=True):
                        push(heap, (-s, i))
                else:
                    for i, s in zip(batch, scores.tolist(), strict=True):
                        push(heap, (-s, i))
                    continue
            picks.take(j)
        return picks.result()


class ApproximateLazyGreedy(LazyGreedy):
    """Lazy greedy that accepts a re-evaluated head within ``(1 - epsilon)`` of its old bound.

    Each pick is then at least ``(1 - epsilon)`` times the best gain, trading a
    little objective for fewer evaluations. It always runs the Python loop: the
    compiled loop has no acceptance rule, and its cheap bounds (kept only where they
    are lower than a stale gain) would change which old bound a fresh score is
    compared with, and so the picks.

    Parameters
    ----------
    epsilon : float, default 0.01
        Relative slack in (0, 1).
    """

    name = "approximate-lazy"

    # one stale entry per call: the acceptance test compares the head alone
    _stale_batch = 1

    def __init__(self, epsilon=0.01):
        self.epsilon = _check_epsilon(epsilon)

    def _compiled(self, function, state):
        return False

    def _accept_stale(self, fresh_score, old_bound):
        return fresh_score >= (1.0 - self.epsilon) * old_bound


class StochasticGreedy:
    """Stochastic greedy (Mirzasoleiman et al. 2015, "Lazier than lazy greedy").

    Each step evaluates a uniform random sample of ``ceil(n / k * log(1 / epsilon))``
    remaining candidates and adds the best; ``(1 - 1/e - epsilon)`` in expectation.
    A function with compiled kernels runs in a compiled loop that draws its samples
    from a splitmix64 stream seeded by ``random_state``; the Python loop draws from
    numpy. Both are deterministic for a seed, but they draw different samples.

    Parameters
    ----------
    epsilon : float, default 0.01
        Accuracy parameter in (0, 1); smaller means larger samples. On 32-NN graphs
        0.01 reaches about 0.976x lazy greedy's objective and 0.001 about 0.984x, both
        3-5x faster than lazy (``benchmarks/RESULTS.md``).
    random_state : None, int or numpy Generator
        Seed of the sampling; the same seed gives the same selection.
    """

    name = "stochastic"

    def __init__(self, epsilon=0.01, random_state=None):
        self.epsilon = _check_epsilon(epsilon)
        self.random_state = random_state

    def run(self, function, state, k, available, knapsack, progress=False):
        """Add up to ``k`` elements of ``available`` (bool mask) to ``state``; return ids, gains."""
        rng = check_random_state(self.random_state)
        remaining = np.flatnonzero(available)
        sample_size = max(
            1, math.ceil(remaining.shape[0] / max(k, 1) * math.log(1.0 / self.epsilon))
        )
        run = self._run_compiled if _has_kernels(function, state) else self._run_python
        return run(function, state, k, remaining, sample_size, rng, knapsack, progress)

    def _run_compiled(self, function, state, k, remaining, sample_size, rng, knapsack, progress):
        meta = np.array([remaining.shape[0], 0], dtype=np.int64)
        seed = np.array([rng.integers(0, 2**63 - 1)], dtype=np.uint64)
        # the loop reads these at random positions: the narrowest ids stay in cache longer
        id_type = np.int32 if function.n < 2**31 else np.int64
        fresh_at = np.full(function.n, -1, dtype=id_type)
        bound_at = np.full(function.n, -1, dtype=id_type)
        # scores at the start bound every later score
        bounds = np.zeros(function.n, dtype=np.float64)
        bounds[remaining] = _current_scores(
            function, state, remaining, knapsack, fresh_at, bound_at, 0
        )
        loop_state = (
            remaining.astype(id_type),
            meta,
            seed,
            sample_size,
            bounds,
            fresh_at,
            bound_at,
        )
        return _compiled_run(
            "stochastic",
            loop_state,
            function,
            state,
            k,
            knapsack,
            progress,
            "stochastic greedy",
        )

    def _run_python(self, function, state, k, remaining, sample_size, rng, knapsack, progress):
        # position of every element in `remaining`, for O(1) swap-removal
        m = remaining.shape[0]
        where = np.full(function.n, -1, dtype=np.int64)
        where[remaining] = np.arange(m)

        def remove(j):
            nonlocal m
            p, last = where[j], remaining[m - 1]
            remaining[p], where[last] = last, p
            where[j] = -1
            m -= 1

        picks = _Picks(function, state, knapsack, k, progress, "stochastic greedy")
        while len(picks) < k and m > 0:
            if sample_size >= m:
                sample = np.sort(remaining[:m])
            else:
                sample = remaining[rng.choice(m, sample_size, replace=False)]
            fit = knapsack.fits(sample)
            for j in sample[~fit].tolist():
                remove(j)
            sample = sample[fit]
            if sample.size == 0:
                continue
            g = function.gains(state, sample)
            j = int(sample[_best(knapsack.score(g, sample), sample)])
            remove(j)
            picks.take(j)
        return picks.result()


OPTIMIZERS = {
    "naive": NaiveGreedy,
    "lazy": LazyGreedy,
    "approximate-lazy": ApproximateLazyGreedy,
    "stochastic": StochasticGreedy,
}


def _check_epsilon(epsilon):
    return check_real(epsilon, "epsilon", low=0.0, high=1.0)


def as_optimizer(optimizer, *, random_state=None):
    """The optimiser object for ``optimizer``: an object is returned as it is.

    A name from :data:`OPTIMIZERS` builds that class with its defaults; ``random_state``
    seeds the one that draws (``"stochastic"``) and is ignored by the others, which do
    not draw. To set an optimiser's own knobs (``epsilon``), pass the object.

    Parameters
    ----------
    optimizer : {"lazy", "naive", "stochastic", "approximate-lazy"} or optimizer object
    random_state : None, int or numpy Generator
        Seed of ``"stochastic"`` when it is given by name.

    Returns
    -------
    object with a ``run(function, state, k, available, knapsack, progress)`` method
    """
    if not isinstance(optimizer, str):
        if not hasattr(optimizer, "run"):
            raise TypeError(
                f"optimizer must be one of {sorted(OPTIMIZERS)} or an object with a run() method, "
                f"got {type(optimizer).__name__}"
            )
        return optimizer
    check_option(optimizer, sorted(OPTIMIZERS), "optimizer")
    if optimizer == "stochastic":
        return StochasticGreedy(random_state=random_state)
    return OPTIMIZERS[optimizer]()


def maximize(
    function,
    k=None,
    optimizer="lazy",
    *,
    initial_subset=None,
    costs=None,
    budget=None,
    progress=False,
) -> Selection:
    """Greedily maximise a submodular ``function`` under a cardinality or knapsack constraint.

    Parameters
    ----------
    function : SubmodularFunction
        The objective, e.g. ``FacilityLocation(similarity)``.
    k : int or float, optional
        Number of elements to add (a float in (0, 1] is a fraction of the elements
        not in ``initial_subset``). Required unless ``budget`` is given; with a
        budget it caps the count.
    optimizer : optimizer object or {"lazy", "naive", "stochastic", "approximate-lazy"}
        ``LazyGreedy()`` returns the exact greedy result fastest;
        ``StochasticGreedy(epsilon, random_state=...)`` trades a little objective for
        speed on large ``n``. The knobs live on the objects; a name builds the class
        with its defaults (see :func:`as_optimizer`).
    initial_subset : array-like of int, optional
        Elements already in the set; they are not returned and never chosen again.
    costs : array-like of float, shape (n,), optional
        Positive cost of each element; with ``budget``, the greedy ranks by gain
        per cost and skips elements that no longer fit (cost-aware greedy).
    budget : float, optional
        Total cost allowed; requires ``costs``.
    progress : bool, default False
        Show a tqdm progress bar.

    Returns
    -------
    Selection
        ``indices`` in the order chosen, ``gains`` (marginal gain at each step) and
        ``objective`` = f(initial_subset + indices), so ``gains.sum() == objective``
        when there is no initial subset.
    """
    if not isinstance(function, SubmodularFunction):
        raise TypeError(f"function must be a SubmodularFunction, got {type(function).__name__}")
    n = function.n
    initial = (
        np.zeros(0, dtype=np.int64)
        if initial_subset is None
        else check_indices(initial_subset, n, "initial_subset")
    )
    n_free = n - initial.shape[0]
    if n_free == 0:
        raise ValueError("initial_subset already holds every element; nothing is left to choose")
    if (costs is None) != (budget is None):
        missing = "budget" if budget is None else "costs"
        raise ValueError(
            f"{missing} is required when {'costs' if budget is None else 'budget'} is given"
        )
    knapsack = _Knapsack(None, math.inf)
    if budget is not None:
        budget = check_real(budget, "budget", low=0.0)
        knapsack = _Knapsack(check_costs(costs, n), budget)
        k = n_free if k is None else check_n_select(k, n_free, "k")
    elif k is None:
        raise ValueError("k is required (the number of elements to select) unless budget is given")
    else:
        k = check_n_select(k, n_free, "k")
    opt = as_optimizer(optimizer)

    state = function.init_state()
    for j in initial.tolist():
        function.add(state, j)
    available = np.ones(n, dtype=bool)
    available[initial] = False
    chosen, gains = opt.run(function, state, k, available, knapsack, progress=progress)
    return Selection(indices=chosen, gains=gains, objective=function.value(state))
