"""Coreset weights over shards: how many rows each chosen row stands for.

Both schemes count nearest chosen rows with :func:`coresets.weights.nearest_center_weights`
(exact FAISS search, the metric of the selection); they differ in which rows are counted.

- :class:`NearestCenters`: every row, one task per shard (each shard's counts are
  checkpointed, so a resumed run counts only the shards not done).
- :class:`SampledNearestCenters`: a uniform sample of ``sample_size`` rows, scaled to
  the number of rows (an estimate, for data where the exact pass costs too much).
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from .._validation import check_int
from ..weights import nearest_center_weights
from . import _plan
from ._executor import run_tasks

__all__ = ["NearestCenters", "SampledNearestCenters", "as_weighting", "AUTO_EXACT_WEIGHTS_MAX"]

#: ``weighting="auto"`` counts exact nearest centres over all rows while
#: ``n_rows * k`` stays below this (about a minute of FAISS flat search on 2 cores); past
#: it the weights are estimated from a uniform sample.
AUTO_EXACT_WEIGHTS_MAX = 2 * 10**10

#: Rows of the uniform sample that :class:`SampledNearestCenters` counts by default.
WEIGHTS_SAMPLE = 200_000


class NearestCenters:
    """Exact weights: per shard, the count of rows whose nearest chosen row each one is."""

    name = "nearest"

    def config(self) -> dict:
        """What changes the weights (a checkpoint's identity)."""
        return {"weighting": type(self).__name__}

    def weights(self, data, chosen, metric, seed, ckpt, client, token, progress) -> np.ndarray:
        """Counts summing to ``data.n_rows`` (float64, shape (k,))."""
        del seed
        centers = data.take(chosen)
        total = np.zeros(chosen.size, dtype=np.int64)
        todo = []
        for s in range(data.n_shards):
            saved = ckpt.load(f"weights_{s:06d}")
            if saved is not None:
                total += saved["counts"]
            else:
                todo.append((s, (data, s, centers, metric)))
        with tqdm(total=data.n_shards, initial=data.n_shards - len(todo), desc="weights",
                  disable=not progress) as bar:  # fmt: skip
            for s, counts in run_tasks(
                shard_counts, todo, client=client, name=f"coresets-{token}-weights"
            ):
                counts = np.asarray(counts, dtype=np.int64)
                ckpt.save(f"weights_{s:06d}", counts=counts)
                total += counts
                bar.update(1)
        return total.astype(np.float64)


class SampledNearestCenters:
    """Estimated weights: nearest-centre counts on a uniform sample, scaled to ``n_rows``.

    Parameters
    ----------
    sample_size : int, default 200_000
        Rows counted (all rows when there are fewer).
    """

    name = "sample"

    def __init__(self, sample_size=WEIGHTS_SAMPLE):
        self.sample_size = check_int(sample_size, "sample_size", low=1)

    def config(self) -> dict:
        return {"weighting": type(self).__name__, "weighting.sample_size": self.sample_size}

    def weights(self, data, chosen, metric, seed, ckpt, client, token, progress) -> np.ndarray:
        """Counts on the sample times ``n_rows / sample`` (float64, shape (k,))."""
        del ckpt, client, token, progress
        n = data.n_rows
        held = _plan.sample_rows(n, min(n, self.sample_size), seed)
        counts = nearest_center_weights(data.take(held), data.take(chosen), metric=metric)
        return counts * (n / held.size)


def shard_counts(data, s: int, centers, metric: str) -> np.ndarray:
    """How many rows of shard ``s`` have each centre as their nearest (one task)."""
    X = data.read(s)
    counts = nearest_center_weights(X, centers, metric=metric)
    del X
    return counts


_NAMES = ("auto", "nearest", "sample", None)


def as_weighting(weighting, n_rows: int, k: int):
    """The weighting object for ``weighting`` (a name, an object or None).

    ``"auto"``: :class:`NearestCenters` while ``n_rows * k <= AUTO_EXACT_WEIGHTS_MAX``,
    else :class:`SampledNearestCenters`; ``"nearest"`` / ``"sample"``: those classes with
    their defaults; None: no weights.
    """
    if weighting is None or hasattr(weighting, "weights"):
        return weighting
    if not isinstance(weighting, str) or weighting not in _NAMES:
        raise ValueError(
            f"weighting must be one of {_NAMES} or an object with a weights() method, "
            f"got {weighting!r}"
        )
    if weighting == "auto":
        weighting = "nearest" if n_rows * k <= AUTO_EXACT_WEIGHTS_MAX else "sample"
    return NearestCenters() if weighting == "nearest" else SampledNearestCenters()
