"""Selection over sharded embeddings that do not fit in memory, in-process or on Dask.

:func:`select_from_shards` reads ``.npy`` or Parquet shards (:func:`coresets.shards.open_shards`)
and chooses a facility-location coreset with an algorithm object:
:class:`RandGreeDi` (random partitions, a kNN graph and the inner optimiser per
partition, a merge against a uniform sample), :class:`SampleGreedy` (one pass
gathering a uniform sample's rows of the centralised kNN graph, then the inner
optimiser over the sample) or :class:`~coresets.submodular.SieveStreaming` (one pass
of Sieve-Streaming++ over every row, covering a held uniform sample). All three are
also optimisers of :func:`coresets.submodular.maximize` for in-memory functions; this
package holds their drivers over shards (``greedi.py``, ``sample.py``, ``sieve.py``),
found through :data:`DRIVERS` (the sieve lives in :mod:`coresets.submodular`, which may
not import this package). Weights come from a weighting object (:mod:`.weighting`).

With ``checkpoint_dir`` every finished partition, stage or shard is saved atomically,
and a rerun with the same arguments after a crash or SIGKILL finishes with exactly the
selection of an uninterrupted run. With a ``dask.distributed.Client`` the partitions,
the merge's neighbour search and the weight counts run as Dask tasks (with retries, so
a dead worker costs a rerun of its task, not the run).
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os

from .._validation import check_n_select
from ..selection import Selection
from ..shards import ShardedEmbeddings, open_shards
from ..submodular.streaming import SieveStreaming
from . import _plan, greedi, sample, sieve
from ._executor import check_client
from .checkpoint import Checkpoint
from .greedi import RandGreeDi
from .sample import SampleGreedy
from .weighting import NearestCenters, SampledNearestCenters, as_weighting

__all__ = [
    "select_from_shards",
    "RandGreeDi",
    "SampleGreedy",
    "SieveStreaming",
    "NearestCenters",
    "SampledNearestCenters",
    "Checkpoint",
    "DRIVERS",
]

#: The sharded driver of each algorithm type: a module with ``plan(algorithm, n, k)``
#: (the resolved settings, which are also the checkpoint keys) and ``run(...)``.
DRIVERS = {RandGreeDi: greedi, SampleGreedy: sample, SieveStreaming: sieve}

_ALGORITHM_NAMES = {"greedi": RandGreeDi, "sample": SampleGreedy, "sieve": SieveStreaming}


def _as_algorithm(algorithm):
    if isinstance(algorithm, str) and algorithm in _ALGORITHM_NAMES:
        return _ALGORITHM_NAMES[algorithm]()
    if type(algorithm) in DRIVERS:
        return algorithm
    raise ValueError(
        f"algorithm must be one of {sorted(_ALGORITHM_NAMES)} or a "
        f"{' / '.join(t.__name__ for t in DRIVERS)} object, got {algorithm!r}"
    )


def select_from_shards(
    data,
    k,
    *,
    algorithm="greedi",
    weighting="auto",
    client=None,
    checkpoint_dir=None,
    random_state=None,
    progress=False,
) -> Selection:
    """Choose a facility-location coreset from sharded embeddings.

    Parameters
    ----------
    data : str, Path or ShardedEmbeddings
        A directory of ``.npy`` shards (as written by ``coresets.embed.embed_to_shards``),
        a directory of Parquet files or one Parquet file; for other Parquet column
        names open it first (``coresets.shards.open_shards(path, embedding_column=...)``).
    k : int or float
        Rows to select (a float in (0, 1] is a fraction of all rows).
    algorithm : RandGreeDi, SampleGreedy, SieveStreaming or {"greedi", "sample", "sieve"}
        Default "greedi". ``RandGreeDi(n_partitions=, partition_size=500_000, local_k=,
        sample_size=, n_neighbors=32, metric="cosine", optimizer=LazyGreedy())``
        (distributed greedy, every row a candidate; Dask with ``client``),
        ``SampleGreedy(sample_size=, n_neighbors=32, metric="cosine",
        optimizer=LazyGreedy())`` (one pass; the candidates are a uniform sample of
        ``max(10 k, 10_000)`` rows by default) or ``SieveStreaming(epsilon=0.1,
        sample_size=, n_neighbors=32, metric="cosine")`` (one pass of Sieve-Streaming++,
        every row a candidate, scored on a held sample). The one-pass algorithms always
        run in this process. A name builds the class with its defaults.
    weighting : NearestCenters, SampledNearestCenters, None or {"auto", "nearest", "sample"}
        How many rows each chosen one stands for, in the algorithm's metric.
        ``"auto"`` (default): exact (``NearestCenters()``) when ``n_rows * k <=
        AUTO_EXACT_WEIGHTS_MAX``, else ``SampledNearestCenters()`` (200k rows); None: no
        weights.
    client : dask.distributed.Client, optional
        Run partitions, the merge's neighbour search and the weight counts as tasks on
        this cluster (the shards must be readable at their path from the workers).
        None: in-process.
    checkpoint_dir : str or Path, optional
        Save state after each finished partition/shard; rerunning with the same
        arguments resumes and returns the uninterrupted result. Another run's directory
        (other data, columns, algorithm settings, weighting, ``k`` or seed) is refused,
        naming what differs.
    random_state : None, int or numpy Generator
        Seeds the partition, the samples and the kNN indexes. With ``None`` a resumed
        run reuses the seed saved in ``checkpoint_dir``.
    progress : bool, default False
        tqdm bars over partitions and shards.

    Returns
    -------
    Selection
        ``indices``: global row numbers (shard order) in the order chosen (SieveStreaming
        may return fewer than ``k``: its best sieve keeps only rows whose gain reached
        that sieve's threshold, and a short stream can end before it fills); ``gains`` and
        ``objective``: facility location on every row the candidates' kNN rows reach
        (RandGreeDi, SampleGreedy; on RandGreeDi's ``sample_size`` rows when given) or
        on the held sample (SieveStreaming); ``weights``: how many
        rows each chosen one stands for (None when ``weighting=None``).
    """
    if not isinstance(data, (str, os.PathLike, ShardedEmbeddings)):
        raise TypeError(f"data must be a str, Path or ShardedEmbeddings, got {type(data).__name__}")
    data = open_shards(data)
    n = data.n_rows
    k = check_n_select(k, n, "k")
    algorithm = _as_algorithm(algorithm)
    if getattr(algorithm, "random_state", None) is not None:
        # one seed per run: the shard drivers derive every stream from select_from_shards'
        raise ValueError(
            "algorithm: its random_state seeds in-memory runs only; over shards pass "
            "select_from_shards(..., random_state=...) instead"
        )
    driver = DRIVERS[type(algorithm)]
    weighting = as_weighting(weighting, n, k)
    client = check_client(client)
    settings = driver.plan(algorithm, n, k)
    config = {
        "data": data.fingerprint(),
        **{f"columns.{key}": value for key, value in data.columns.items()},
        "n_rows": n,
        "k": k,
        "algorithm": type(algorithm).__name__,
        **{f"algorithm.{key}": value for key, value in settings.items()},
        **({"weighting": None} if weighting is None else weighting.config()),
        "random_state": random_state if isinstance(random_state, numbers.Integral) else None,
    }
    ckpt = Checkpoint(checkpoint_dir, config)
    seed = ckpt.start(_plan.seed_from(random_state))
    token = hashlib.sha256(json.dumps([config, seed], sort_keys=True).encode()).hexdigest()[:10]
    sel = driver.run(algorithm, data, k, settings, seed, ckpt, client, token, progress)
    if weighting is None:
        return sel
    w = weighting.weights(
        data, sel.indices, settings["metric"], seed, ckpt, client, token, progress
    )
    return sel.with_weights(w)
