"""SampleGreedy: the inner optimiser over a uniform sample of the elements, in memory and over shards.

:class:`SampleGreedy` is an optimiser: ``maximize(f, k, SampleGreedy(...))`` works for
any :class:`~coresets.submodular.functions.SubmodularFunction` (a uniform sample of the
available elements are the candidates; the inner optimiser chooses ``k`` of them with
the real function).

Over shards (:func:`coresets.streaming.select_from_shards`) the objective is facility
location on the kNN graph, which is never built; one pass over the shards suffices
because the candidates are known before it starts:

1. A uniform sample of ``sample_size`` rows is drawn (:func:`~._plan.sample_rows`) and
   read (``sample_size x d`` floats held).
2. :func:`sample_knn_rows` reads consecutive shards in chunks of at least
   :data:`CHUNK_ROWS` rows, each once, and searches each chunk for every sample row's
   ``n_neighbors`` nearest rows (RandGreeDi's merge helpers
   :func:`~coresets.streaming.greedi.chunk_neighbors` and
   :func:`~coresets.streaming.greedi.merge_top`). After the pass each sample row holds
   its row of the centralised kNN graph. The running lists are checkpointed after
   every chunk, so a rerun resumes after the last finished chunk.
3. :func:`~coresets.streaming.greedi.merge_greedy` (RandGreeDi's merge, with no local
   solutions) runs the inner optimiser over the sample's rows: the centralised
   objective with the ground set restricted to the sample.

Why candidates from the sample rather than every streamed row (Sieve-Streaming++ over
the sample's coverage, :class:`~coresets.submodular.SieveStreaming`): on 100k rows of
64-d blobs in 100 clusters (k = 1,000, sample 10,000, every result scored on the
centralised kNN graph), lazy greedy over the sieve's objective with every row a
candidate reaches 0.83 of centralised greedy and the sieve 0.85, while lazy greedy over
the sample's exact rows reaches 0.95.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from .._validation import check_random_state
from ..selection import Selection
from . import _plan, greedi

#: Consecutive shards are searched together, at least this many rows at a time: past
#: ``knn.AUTO_EXACT_MAX`` rows a chunk's index is the list search, so the pass costs far
#: less than ``sample_size x n_rows`` inner products, while the memory stays one chunk
#: (this many rows plus a shard) and its index. The chunks decide which rows share an
#: index, so the value is part of a run's settings (and of its checkpoint's identity).
CHUNK_ROWS = 250_000

#: The shard-only settings and their defaults (an in-memory run refuses other values).
_SHARD_ONLY = {"n_neighbors": 32, "metric": "cosine"}


class SampleGreedy:
    """The inner optimiser over a uniform sample of the elements; one pass over shards.

    The candidates are a uniform sample of ``sample_size`` elements, and the inner
    optimiser (lazy greedy by default) chooses ``k`` of them with the real objective.
    What it approximates is therefore the objective with the ground set restricted to
    the sample: lazy greedy's ``1 - 1/e`` holds against the best ``k`` sampled elements,
    not against the best ``k`` of all of them (a group with fewer than about ``n /
    sample_size`` elements may have no candidate at all).

    Over shards (:func:`coresets.streaming.select_from_shards`) the objective is facility
    location on the kNN graph: one pass over the shards gathers each sample row's
    ``n_neighbors`` nearest rows over the whole data (its row of the centralised kNN
    graph, exact up to each chunk's index), and the inner optimiser runs over those
    rows. Memory ``O(sample_size x (n_neighbors + d))`` plus one chunk of
    :data:`CHUNK_ROWS` rows and its index, never ``O(n_rows)``; it always runs in this
    process. On 1M rows of 64-d blobs in 1,000 clusters (k = 10,000, the default sample
    of 100,000 rows) it reached 0.95 of centralised lazy greedy on the centralised
    graph, against 0.85 for :class:`~coresets.submodular.SieveStreaming`
    (``benchmarks/bench_streaming.py``).

    Prefer :class:`~coresets.streaming.RandGreeDi` when every row should be able to be
    chosen (rare groups the sample may miss; 0.96 of centralised greedy on the same
    1M benchmark) or when a Dask cluster should do the work; it makes more passes and
    holds a partition (``partition_size`` rows and its kNN graph) per task.

    Parameters
    ----------
    sample_size : int, optional
        Candidates (default ``min(n, max(10 k, 10_000))`` for ``n`` available elements
        or rows); at least ``k``. The memory over shards grows with it.
    n_neighbors : int, default 32
        Sharded data only: neighbours of each sample row over all rows (self included).
    metric : {"cosine", "euclidean", "dot"}, default "cosine"
        Sharded data only: the similarity (:func:`coresets.knn.knn_graph`'s transform).
    optimizer : optimizer object or name, default LazyGreedy()
        Chooses ``k`` among the candidates.
    random_state : None, int or numpy Generator
        In memory: seeds the sample (the same seed, the same selection). Over shards
        ``select_from_shards(random_state=)`` seeds the run instead.
    """

    name = "sample"

    def __init__(
        self,
        *,
        sample_size=None,
        n_neighbors=_SHARD_ONLY["n_neighbors"],
        metric=_SHARD_ONLY["metric"],
        optimizer=None,
        random_state=None,
    ):
        _plan.set_shared_options(
            self, sample_size=sample_size, n_neighbors=n_neighbors, metric=metric,
            optimizer=optimizer, random_state=random_state,
        )  # fmt: skip

    def __repr__(self):
        return (
            f"SampleGreedy(sample_size={self.sample_size!r}, n_neighbors={self.n_neighbors!r}, "
            f"metric={self.metric!r}, optimizer={greedi._describe(self.optimizer)}, "
            f"random_state={self.random_state!r})"
        )

    def plan(self, n: int, k: int) -> int:
        """The sample size for ``n`` elements and ``k`` picks (default resolved, >= ``k``)."""
        size = min(n, max(10 * k, 10_000) if self.sample_size is None else self.sample_size)
        if size < k:
            raise ValueError(
                f"sample_size: SampleGreedy chooses among the sampled elements, so it needs "
                f"sample_size >= k = {k}, got {size}"
            )
        return size

    def run(self, function, state, k, available, knapsack, progress=False):
        """The inner optimiser over a uniform sample of ``available`` (bool mask); ids, gains.

        The chosen elements are added to ``state``; with ``sample_size`` at least the
        number of available elements this is the inner optimiser itself.
        """
        if knapsack.costs is not None:
            raise ValueError("SampleGreedy supports a cardinality constraint only (no costs)")
        for name, default in _SHARD_ONLY.items():
            if getattr(self, name) != default:
                # the kNN rows belong to sharded runs; in memory the function is given
                raise ValueError(
                    f"{name}: a SampleGreedy run in memory evaluates the given function; "
                    f"{name} applies over shards (select_from_shards) only"
                )
        elements = np.flatnonzero(available)
        size = self.plan(elements.size, k)
        if size < elements.size:
            drawn = check_random_state(self.random_state).choice(elements, size, replace=False)
            available = np.zeros_like(available)
            available[drawn] = True
        return self.optimizer.run(function, state, k, available, knapsack, progress)


def plan(algorithm: SampleGreedy, n: int, k: int) -> dict:
    """The settings that determine SampleGreedy's result on ``n`` rows (its checkpoint keys)."""
    return {
        "sample_size": algorithm.plan(n, k),
        "n_neighbors": algorithm.n_neighbors,
        "metric": algorithm.metric,
        "optimizer": greedi._describe(algorithm.optimizer),
        "chunk_rows": CHUNK_ROWS,
    }


def run(algorithm, data, k, settings, seed, ckpt, client, token, progress) -> Selection:
    """The sample's kNN rows in one pass (checkpointed per chunk), then the inner optimiser.

    It always runs in this process (``client`` and ``token`` are unused).
    """
    del client, token
    metric = settings["metric"]
    sample = _plan.sample_rows(data.n_rows, settings["sample_size"], seed)
    n_neighbors = min(settings["n_neighbors"], data.n_rows)
    queries = data.take(sample)
    _plan.check_rows(data, queries, sample, metric)
    queries = _plan.prepare(queries, metric)
    keys, ids = sample_knn_rows(
        data, queries, n_neighbors, metric, seed, ckpt, progress, chunk_rows=settings["chunk_rows"]
    )
    # each row's FAISS score with itself, as the RandGreeDi merge computes it (dot's self edge)
    self_keys = np.zeros(len(queries), np.float32) if metric == "euclidean" else (queries**2).sum(1)
    del queries
    sel = greedi.merge_greedy(
        sample, keys, ids, self_keys, k, metric, local_sizes=[], optimizer=algorithm.optimizer
    )
    if sel.objective <= 0.0:  # any k rows would do equally badly: say so, as the sieve does
        raise ValueError("every similarity in the sample's kNN rows is 0; nothing can be selected")
    return sel


def sample_knn_rows(data, queries, n_neighbors: int, metric: str, seed: int, ckpt=None,
                    progress=False, *, chunk_rows=None):  # fmt: skip
    """Each held row's ``n_neighbors`` nearest rows over every shard, in one pass.

    Consecutive shards are read together in chunks of at least ``chunk_rows`` rows
    (:func:`~coresets.streaming.greedi.chunks`), each once, and searched with the held
    rows as queries; the running best lists are merged in (an order-free merge, ties to
    the smaller id) and saved as ``sample_neighbors_<chunk>`` in ``ckpt``, so a rerun
    resumes after the last finished chunk. Memory: the lists, one chunk and its index;
    never ``n_rows``.

    Parameters
    ----------
    data : ShardedEmbeddings
    queries : ndarray, shape (s, d), the held rows' embeddings (a held row is also a row
        of some shard, so it finds itself: the self edge).
    n_neighbors : int, neighbours per held row.
    metric : {"cosine", "euclidean", "dot"}
    seed : int, seeds each chunk's index (stream ``[seed + first shard, 5]``).
    ckpt : Checkpoint, optional
    chunk_rows : int, optional, the least rows per chunk (default :data:`CHUNK_ROWS`).

    Returns
    -------
    keys : ndarray of float32, shape (s, n_neighbors), closeness (-inf pads).
    ids : ndarray of int64, shape (s, n_neighbors), global rows (-1 pads).
    """
    keys = np.full((len(queries), n_neighbors), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), n_neighbors), -1, dtype=np.int64)
    chunk_list = greedi.chunks(data.shard_sizes, CHUNK_ROWS if chunk_rows is None else chunk_rows)
    done = 0
    names = (
        [] if ckpt is None else [n for n in ckpt.finished() if n.startswith("sample_neighbors_")]
    )
    if names:
        saved = ckpt.load(names[-1], keys=("keys", "ids"))
        keys, ids = saved["keys"], saved["ids"]
        done = int(names[-1].rsplit("_", 1)[1]) + 1
    initial = int(data.offsets[chunk_list[done][0]]) if done < len(chunk_list) else data.n_rows
    with tqdm(total=data.n_rows, initial=initial, desc="sample kNN", unit="row",
              disable=not progress) as bar:  # fmt: skip
        for c in range(done, len(chunk_list)):
            first, stop = chunk_list[c]
            new_keys, new_ids = greedi.chunk_neighbors(
                data, first, stop, queries, n_neighbors, metric, seed
            )
            keys, ids = greedi.merge_top(keys, ids, new_keys, new_ids)
            if ckpt is not None:
                ckpt.save(f"sample_neighbors_{c:06d}", keys=keys, ids=ids)
                if c > 0:
                    ckpt.remove(f"sample_neighbors_{c - 1:06d}")
            bar.update(int(data.offsets[stop] - data.offsets[first]))
    return keys, ids
