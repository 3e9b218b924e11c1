"""RandGreeDi (Barbosa, Ene, Nguyen & Ward, ICML 2015): in memory and over shards.

:class:`RandGreeDi` is an optimiser: ``maximize(f, k, RandGreeDi(...))`` works for any
:class:`~coresets.submodular.functions.SubmodularFunction` (random balanced partition,
the inner optimiser per part, the inner optimiser again over the union of the local
solutions, and the better of that merge and the best local solution).

Over shards (:func:`coresets.streaming.select_from_shards`) the objective is facility
location on the kNN graph, which is never built whole:

1. The ground set is split uniformly at random into ``n_partitions`` parts.
2. Each part gets its own kNN graph (:func:`coresets.knn.knn_graph`) and the inner
   optimiser selects ``local_k`` points there (one task per part). A part holds
   ``1/m`` of the rows, so its graph keeps ``n_neighbors / m`` neighbours: the same
   radius as ``n_neighbors`` in the full graph (:func:`~coresets.streaming._plan.scaled_neighbors`).
   Measured on 50k blobs, 4 parts: the best local solution reaches 0.993 of
   centralised greedy with scaled neighbours and 0.947 without.
3. The union of the local solutions (the candidates) is searched against every chunk of
   shards (one task per chunk) for each candidate's ``n_neighbors`` nearest rows in the
   whole ground set: the candidates' rows of the centralised kNN graph. A merge greedy
   chooses ``k`` candidates with facility location over those rows (a rectangular
   candidates x points similarity), evaluated on a uniform sample of the ground set
   (``sample_size``; default all rows, which makes it the centralised objective
   restricted to the candidates).
4. RandGreeDi keeps the better of the merged solution and the best local solution
   under that merge objective.

Every step is a pure function of its arguments (the data, the seed, the partition
number), so a task retried on another Dask worker, or redone after a crash, returns
exactly the same thing.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from .. import knn
from .._validation import check_int, check_random_state
from ..selection import Selection
from ..submodular import FacilityLocation, LazyGreedy, maximize
from . import _plan
from ._executor import run_tasks

#: Rows per partition when ``n_partitions`` is not given. A 500k x 64 partition and its
#: kNN graph take about 1 GiB at the peak, which keeps a whole run under 2 GiB.
DEFAULT_PARTITION_SIZE = 500_000

#: What a saved partition or merge result must hold (a Selection's arrays, no weights).
_SELECTION_KEYS = ("indices", "gains", "objective")

#: Local solutions hold ``min(2 k, LOCAL_OVERSAMPLE * k / n_partitions)`` points (``k``
#: with one part): each part holds ``1 / n_partitions`` of the data, so it needs its share
#: of ``k`` plus slack, and the merge stays small enough to fit in memory at 10M points.
#: More candidates than RandGreeDi's ``k`` help the merge: on 200k blobs in 2 parts,
#: ``2 k`` per part gave 0.979 of centralised greedy and ``k`` gave 0.967.
LOCAL_OVERSAMPLE = 4


def _describe(obj) -> str:
    """A stable text of an optimiser and its knobs, for a checkpoint's identity."""
    knobs = ", ".join(f"{key}={value!r}" for key, value in sorted(vars(obj).items()))
    return f"{type(obj).__name__}({knobs})"


class RandGreeDi:
    """RandGreeDi: partition, optimise each part, merge; ``(1 - 1/e) / 2`` in expectation.

    Parameters
    ----------
    n_partitions : int, optional
        Parts (default ``ceil(n / partition_size)``).
    partition_size : int, default 500_000
        Elements per part when ``n_partitions`` is None; over shards it bounds the
        memory of one task.
    local_k : int, optional
        Elements each part selects (default ``min(2 k, 4 k / n_partitions)``; ``k`` for
        one part).
    sample_size : int, optional
        Sharded data only: the uniform sample of rows the merge covers (default every row).
    n_neighbors : int, default 32
        Sharded data only: neighbours per point of the kNN graphs (self included).
    metric : {"cosine", "euclidean", "dot"}, default "cosine"
        Sharded data only: the similarity of the kNN graphs.
    optimizer : optimizer object or name, default LazyGreedy()
        Runs each part and the merge.
    random_state : None, int or numpy Generator
        In memory: seeds the partition (the same seed, the same selection). Over shards
        ``select_from_shards(random_state=)`` seeds the run instead.
    """

    name = "greedi"

    def __init__(
        self,
        *,
        n_partitions=None,
        partition_size=DEFAULT_PARTITION_SIZE,
        local_k=None,
        sample_size=None,
        n_neighbors=32,
        metric="cosine",
        optimizer=None,
        random_state=None,
    ):
        self.n_partitions = (
            None if n_partitions is None else check_int(n_partitions, "n_partitions", low=1)
        )
        self.partition_size = check_int(partition_size, "partition_size", low=2)
        self.local_k = None if local_k is None else check_int(local_k, "local_k", low=1)
        _plan.set_shared_options(
            self, sample_size=sample_size, n_neighbors=n_neighbors, metric=metric,
            optimizer=optimizer, random_state=random_state,
        )  # fmt: skip

    def __repr__(self):
        return (
            f"RandGreeDi(n_partitions={self.n_partitions!r}, partition_size="
            f"{self.partition_size!r}, local_k={self.local_k!r}, sample_size="
            f"{self.sample_size!r}, n_neighbors={self.n_neighbors!r}, metric={self.metric!r}, "
            f"optimizer={_describe(self.optimizer)}, random_state={self.random_state!r})"
        )

    def plan(self, n: int, k: int):
        """``(n_partitions, local_k)`` for ``n`` elements and ``k`` picks (defaults resolved)."""
        return plan_parts(n, k, self.n_partitions, self.partition_size, self.local_k)

    def run(self, function, state, k, available, knapsack, progress=False):
        """RandGreeDi over the ``available`` elements (bool mask); returns ids, gains.

        Each part and the merge start from a copy of ``state`` (so an initial subset
        counts everywhere); the winner is then added to ``state`` itself. One part is
        the inner optimiser on every element.
        """
        if knapsack.costs is not None:
            raise ValueError("RandGreeDi supports a cardinality constraint only (no costs)")
        if self.sample_size is not None:
            # the evaluation sample belongs to sharded runs; in memory it would be ignored
            raise ValueError(
                "sample_size: a RandGreeDi run in memory evaluates every element; sample_size "
                "applies over shards (select_from_shards) only"
            )
        elements = np.flatnonzero(available)
        m, local_k = self.plan(elements.size, k)
        perm = check_random_state(self.random_state).permutation(elements)
        parts = [np.sort(perm[p::m]) for p in range(m)]

        def solve(members, size, show):
            trial = copy.deepcopy(state)
            mask = np.zeros_like(available)
            mask[members] = True
            ids, _ = self.optimizer.run(function, trial, size, mask, knapsack, show)
            return list(ids), function.value(trial)

        bar = tqdm(parts, desc="RandGreeDi parts", disable=not progress or m == 1, leave=False)
        local = [solve(part, min(local_k, part.size), False) for part in bar]
        if m == 1:
            winner = local[0][0][:k]
        else:
            union = np.concatenate([np.asarray(ids, dtype=np.int64) for ids, _ in local])
            winner, value = solve(union, min(k, union.size), progress)
            for ids, local_value in local:  # a local solution may beat the merged one
                if len(ids) <= k and local_value > value:
                    winner, value = ids, local_value
        return winner, [function.add(state, j) for j in winner]


def plan_parts(n: int, k: int, n_partitions, partition_size, local_k):
    """Resolve defaults: ``(n_partitions, local_k)`` for ``n`` rows and ``k`` picks."""
    if n_partitions is None:
        n_partitions = max(1, math.ceil(n / partition_size))
    n_partitions = min(n_partitions, n)
    if local_k is None:
        local_k = (
            k if n_partitions == 1 else min(2 * k, math.ceil(LOCAL_OVERSAMPLE * k / n_partitions))
        )
    return n_partitions, local_k


def partition_rows(sizes, n_partitions: int, seed: int, part: int) -> np.ndarray:
    """Global rows of partition ``part`` in a uniform random, balanced partition.

    Shard ``s`` (``sizes[s]`` rows) is permuted with its own generator seeded by
    ``(seed, 1, s)`` and dealt round robin from a random offset, so parts differ in size
    by at most one row per shard and each part is computed without the others.

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


def local_greedy(data, rows, k: int, n_neighbors: int, metric: str, seed: int, tag: int,
                 optimizer=None) -> Selection:  # fmt: skip
    """The inner optimiser on facility location over the kNN graph of ``data``'s ``rows``.

    Parameters
    ----------
    data : ShardedEmbeddings
    rows : ndarray of int64, shape (n_p,), global rows of this part.
    k : int, points to choose (all rows when ``n_p <= k``).
    n_neighbors, metric : kNN graph settings (see :func:`coresets.knn.knn_graph`).
    seed, tag : seed the kNN index (IVF training) deterministically.
    optimizer : optimizer object, default LazyGreedy()

    Returns
    -------
    Selection with global rows, in the order chosen.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return Selection(rows, np.zeros(0), 0.0)
    X = data.take(rows)
    _plan.check_rows(data, X, rows, metric)
    n_p = rows.size
    k = min(k, n_p)
    if n_p == 1:  # no graph to build: the point covers itself
        x = X[0].astype(np.float64)
        value = max(float(x @ x), 0.0) if metric == "dot" else 1.0
        return Selection(rows, np.full(1, value), value)
    graph = knn.knn_graph(
        X,
        n_neighbors=min(_plan.scaled_neighbors(n_neighbors, n_p, data.n_rows), n_p - 1),
        metric=metric,
        random_state=_plan.graph_rng(seed, tag),
        zero_rows="keep",  # the sharded policy: a zero row covers only itself
    )
    del X
    sel = maximize(FacilityLocation(graph), k, LazyGreedy() if optimizer is None else optimizer)
    return Selection(rows[sel.indices], sel.gains, sel.objective)


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
    base = np.concatenate([data.read(s) for s in range(first, stop)])
    _plan.check_rows(data, base, np.arange(data.offsets[first], data.offsets[stop]), metric)
    base = _plan.prepare(base, metric)
    k = min(n_neighbors, base.shape[0])
    D, I = _plan.seeded_search(base, _plan.prepare(queries, metric), metric, seed + first, k)
    del base
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


def merge_greedy(candidates, keys, ids, self_keys, k: int, metric: str, local_sizes,
                 sample=None, optimizer=None) -> Selection:  # fmt: skip
    """RandGreeDi's merge: the inner optimiser over ``candidates`` covering their kNN rows.

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
    optimizer : optimizer object, default LazyGreedy()

    Returns
    -------
    Selection with global rows.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    c = candidates.size
    k = min(k, c)
    # The euclidean bandwidth comes from these candidates' rows (the graph is never whole).
    ids, sims = knn.neighbor_similarities(
        knn.closeness(keys, metric), ids, metric, self_ids=candidates, self_scores=self_keys,
        sigma2="rows",
    )  # fmt: skip
    valid = ids >= 0
    if sample is not None:
        valid &= np.isin(ids, sample)
    rows = np.nonzero(valid)[0]
    cols, inv = np.unique(ids[valid], return_inverse=True)
    # candidates x covered points: the ground set is the c candidates
    f = FacilityLocation(sp.csr_matrix((sims[valid], (rows, inv.ravel())), shape=(c, cols.size)))
    sel = maximize(f, k, LazyGreedy() if optimizer is None else optimizer)
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
    return Selection(candidates[chosen], gains, objective)


def plan(algorithm: RandGreeDi, n: int, k: int) -> dict:
    """The settings that determine RandGreeDi's result on ``n`` rows (its checkpoint keys)."""
    n_partitions, local_k = algorithm.plan(n, k)
    size = algorithm.sample_size
    return {
        "n_partitions": n_partitions,
        "local_k": local_k,
        "sample_size": n if size is None else min(size, n),
        "n_neighbors": algorithm.n_neighbors,
        "metric": algorithm.metric,
        "optimizer": _describe(algorithm.optimizer),
    }


def run(algorithm, data, k, settings, seed, ckpt, client, token, progress) -> Selection:
    """Local step per part (skipping finished parts), then the merge; checkpointed."""
    m, local_k = settings["n_partitions"], settings["local_k"]
    n_neighbors, metric = settings["n_neighbors"], settings["metric"]
    optimizer = algorithm.optimizer
    n = data.n_rows
    sample = None
    if settings["sample_size"] != n:
        sample = _plan.sample_rows(n, settings["sample_size"], seed)
    results = {}
    todo = []
    for p in range(m):
        saved = ckpt.load(f"partition_{p:05d}", keys=_SELECTION_KEYS)
        if saved is not None:
            results[p] = Selection.from_arrays(saved)
        else:
            rows = partition_rows(data.shard_sizes, m, seed, p)
            todo.append((p, (data, rows, local_k, n_neighbors, metric, seed, p, optimizer)))
    with tqdm(total=m, initial=len(results), desc="partitions", disable=not progress) as bar:
        for p, sel in run_tasks(
            local_greedy, todo, client=client, name=f"coresets-{token}-partition"
        ):
            ckpt.save(f"partition_{p:05d}", **sel.to_arrays())
            results[p] = sel
            bar.update(1)
    saved = ckpt.load("merge", keys=_SELECTION_KEYS)
    if saved is not None:
        return Selection.from_arrays(saved)
    candidates = np.concatenate([results[p].indices for p in range(m)]).astype(np.int64)
    sizes = np.array([len(results[p]) for p in range(m)], dtype=np.int64)
    keys, ids = _candidate_neighbors(
        data, candidates, m, n_neighbors, metric, seed, ckpt, client, token, progress
    )
    Xc = data.take(candidates)
    _plan.check_rows(data, Xc, candidates, metric)
    Xc = _plan.prepare(Xc, metric)
    self_keys = np.zeros(len(Xc), np.float32) if metric == "euclidean" else (Xc * Xc).sum(1)
    del Xc
    sel = merge_greedy(candidates, keys, ids, self_keys, k, metric, sizes, sample, optimizer)
    ckpt.save("merge", **sel.to_arrays())
    ckpt.remove("candidate_neighbors")  # superseded by the merge result
    return sel


def _candidate_neighbors(data, candidates, m, n_neighbors, metric, seed, ckpt, client, token,
                         progress):  # fmt: skip
    """Each candidate's nearest rows in the whole ground set, one chunk of shards per task.

    The running top list is checkpointed after every chunk; :func:`merge_top` is
    order-free, so resuming (or Dask finishing chunks in any order) gives the same lists.
    """
    # Chunks of about a partition's rows: the same memory per task as the local step.
    chunk_list = chunks(data.shard_sizes, math.ceil(data.n_rows / m))
    saved = ckpt.load("candidate_neighbors")
    if saved is not None:
        keys, ids, done = saved["keys"], saved["ids"], saved["done"].astype(bool)
    else:
        keys = np.full((candidates.size, n_neighbors), -np.inf, dtype=np.float32)
        ids = np.full((candidates.size, n_neighbors), -1, dtype=np.int64)
        done = np.zeros(len(chunk_list), dtype=bool)
    queries = data.take(candidates)
    todo = [
        (i, (data, first, stop, queries, n_neighbors, metric, seed))
        for i, (first, stop) in enumerate(chunk_list)
        if not done[i]
    ]
    with tqdm(total=len(chunk_list), initial=int(done.sum()), desc="candidate kNN",
              disable=not progress) as bar:  # fmt: skip
        for i, (k_new, i_new) in run_tasks(
            chunk_neighbors, todo, client=client, name=f"coresets-{token}-neighbors"
        ):
            keys, ids = merge_top(keys, ids, k_new, i_new)
            done[i] = True
            ckpt.save("candidate_neighbors", keys=keys, ids=ids, done=done)
            bar.update(1)
    return keys, ids
