"""Torch samplers and datasets that feed a chosen subset to a ``DataLoader``.

Which one to use
----------------
* :class:`CoresetSampler` - train on the subset, each example once per epoch (plain
  ``Subset`` training). With ``yield_weights=True`` it yields ``(index, weight)`` pairs
  for :class:`WeightedDataset`, so a weighted loss sees each example's coreset weight.
* :class:`WeightedSubset` - a static ``Dataset`` of the subset whose items are
  ``(*item, weight)``: the simplest way to get CRAIG weights into the loss
  (``(loss * w).mean()``). This is what CRAIG and CORDS do: every chosen example once
  per epoch, its gradient scaled by the number of points it stands for.
* :class:`WeightedCoresetSampler` - draws subset examples in proportion to their weights
  (like ``WeightedRandomSampler``), for an unweighted loss. Same expected gradient as
  the weighted loss, more variance; use it when the training loop cannot be changed.
* :class:`DistributedCoresetSampler` - the ``DistributedSampler`` contract over the
  subset (even split across ranks, padding or dropping, ``set_epoch``) for DDP jobs.

To reselect during training (CRAIG-style), :class:`coresets.training.AdaptiveReselection`
calls :meth:`CoresetSampler.set_subset` on these samplers.

Every sampler keeps its state in the main process (a ``DataLoader`` iterates the
sampler there and sends indices to workers), so all of them work with
``num_workers > 0``; after :meth:`CoresetSampler.set_subset` the next ``iter()`` uses
the new subset. Shuffling uses a ``torch.Generator`` seeded with ``seed + epoch``,
never the global RNG.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ._validation import MAX_TORCH_SEED, check_finite, check_indices, check_int, check_seed

__all__ = [
    "CoresetSampler",
    "DistributedCoresetSampler",
    "WeightedCoresetSampler",
    "WeightedDataset",
    "WeightedSubset",
]


def _check_subset(indices, weights, name="indices"):
    """Validate subset indices (distinct, non-negative ints) and optional weights."""
    if isinstance(indices, torch.Tensor):
        indices = indices.detach().cpu().numpy()
    arr = np.asarray(indices)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; a coreset needs at least one example")
    arr = check_indices(arr, None, name)  # the dataset's length is not known here
    if weights is None:
        return arr, None
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().numpy()
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != arr.shape:
        raise ValueError(f"weights must have shape {arr.shape} (one per index), got {w.shape}")
    check_finite(w, "weights")
    if (w < 0).any():
        raise ValueError("weights must be non-negative")
    return arr, w


def _check_seed(seed):
    # refused here, not at the first epoch's torch.Generator().manual_seed(seed + epoch)
    return check_seed(seed, "seed")


class CoresetSampler(Sampler):
    """Yield the chosen dataset indices, reshuffled each epoch.

    Parameters
    ----------
    indices : array-like of int, shape (k,)
        Dataset indices of the coreset (e.g. ``selector.ranking_``).
    shuffle : bool, default True
        Permute the indices each epoch; the permutation depends only on ``seed + epoch``.
    seed : int, default 0
    weights : array-like of float, shape (k,), optional
        Coreset weights, yielded with the indices when ``yield_weights`` is True.
    yield_weights : bool, default False
        Yield ``(index, weight)`` pairs for :class:`WeightedDataset` instead of indices.
    """

    def __init__(self, indices, shuffle=True, seed=0, *, weights=None, yield_weights=False):
        self.shuffle = bool(shuffle)
        self.seed = _check_seed(seed)
        self.yield_weights = bool(yield_weights)
        self.epoch = 0
        self.set_subset(indices, weights)

    def set_subset(self, indices, weights=None):
        """Replace the subset; takes effect at the next ``iter()`` (the next epoch).

        Parameters
        ----------
        indices : array-like of int, shape (k,)
        weights : array-like of float, shape (k,), optional
            Required when ``yield_weights`` is True.
        """
        idx, w = _check_subset(indices, weights)
        if self.yield_weights and w is None:
            raise ValueError("weights are required when yield_weights=True")
        self.indices, self.weights = idx, w

    def set_epoch(self, epoch):
        """Set the epoch so that the next pass uses a different, reproducible order."""
        self.epoch = check_int(epoch, "epoch", low=0, high=MAX_TORCH_SEED)

    def _order(self):
        if not self.shuffle:
            return np.arange(len(self.indices))
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(len(self.indices), generator=g).numpy()

    def _emit(self, positions):
        if self.yield_weights:
            return iter([(int(self.indices[p]), float(self.weights[p])) for p in positions])
        return iter(self.indices[positions].tolist())

    def __iter__(self):
        return self._emit(self._order())

    def __len__(self):
        return len(self.indices)


class WeightedCoresetSampler(CoresetSampler):
    """Draw coreset indices with probability proportional to their weights.

    Use with an unweighted loss: the expected gradient equals that of the weighted loss
    over the coreset. Prefer :class:`WeightedSubset` with a weighted loss when you can
    change the training loop (lower variance, every chosen example seen each epoch).

    Parameters
    ----------
    indices : array-like of int, shape (k,)
    weights : array-like of float, shape (k,)
        Non-negative, not all zero (e.g. ``selector.weights_``).
    num_samples : int, optional
        Draws per epoch; defaults to ``k``. Torch's name in ``WeightedRandomSampler``
        (and ``len()`` of every torch sampler), kept so the two read alike; it is not a
        subset size (the subset is ``indices``).
    replacement : bool, default True
        Draw with replacement (without it, ``num_samples`` must be <= the number of
        positive weights).
    seed : int, default 0
    """

    def __init__(self, indices, weights, num_samples=None, replacement=True, seed=0):
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        super().__init__(indices, shuffle=True, seed=seed, weights=weights)

    def set_subset(self, indices, weights=None):
        """Replace the subset and weights; takes effect at the next ``iter()``."""
        idx, w = _check_subset(indices, weights)
        if w is None:
            raise ValueError("weights are required for WeightedCoresetSampler")
        if w.sum() <= 0:
            raise ValueError("weights must not all be zero")
        n = len(idx) if self._num_samples is None else self._num_samples
        n = check_int(n, "num_samples", low=1)
        if not self.replacement and n > int((w > 0).sum()):
            raise ValueError(
                f"num_samples={n} exceeds the {int((w > 0).sum())} examples with positive "
                "weight; pass replacement=True"
            )
        self.indices, self.weights, self.num_samples = idx, w, n

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        p = torch.as_tensor(self.weights, dtype=torch.float64)
        draws = torch.multinomial(p, self.num_samples, self.replacement, generator=g)
        return iter(self.indices[draws.numpy()].tolist())

    def __len__(self):
        return self.num_samples


class DistributedCoresetSampler(CoresetSampler):
    """Shard a coreset across DDP ranks with ``torch.utils.data.DistributedSampler``'s contract.

    Every rank shuffles with the same ``seed + epoch`` (call :meth:`set_epoch` each epoch),
    the order is padded by repeating its head (``drop_last=False``) or truncated
    (``drop_last=True``) to a multiple of ``num_replicas``, and rank ``r`` takes every
    ``num_replicas``-th element starting at ``r``.

    Parameters
    ----------
    indices : array-like of int, shape (k,)
    num_replicas : int, optional
        World size; defaults to ``torch.distributed.get_world_size()``.
    rank : int, optional
        This process's rank; defaults to ``torch.distributed.get_rank()``.
    shuffle : bool, default True
    seed : int, default 0
    drop_last : bool, default False
    weights, yield_weights : as in :class:`CoresetSampler`.
    """

    def __init__(
        self,
        indices,
        num_replicas=None,
        rank=None,
        shuffle=True,
        seed=0,
        drop_last=False,
        *,
        weights=None,
        yield_weights=False,
    ):
        if num_replicas is None or rank is None:
            dist = torch.distributed
            if not (dist.is_available() and dist.is_initialized()):
                raise ValueError(
                    "num_replicas and rank must be given when no torch.distributed process "
                    "group is initialised"
                )
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        self.num_replicas = check_int(num_replicas, "num_replicas", low=1)
        self.rank = check_int(rank, "rank", low=0, high=self.num_replicas - 1)
        self.drop_last = bool(drop_last)
        super().__init__(
            indices, shuffle=shuffle, seed=seed, weights=weights, yield_weights=yield_weights
        )

    def set_subset(self, indices, weights=None):
        """Replace the subset; takes effect at the next ``iter()``."""
        super().set_subset(indices, weights)
        k = len(self.indices)
        if self.drop_last and k < self.num_replicas:
            raise ValueError(
                f"indices has {k} elements, fewer than num_replicas={self.num_replicas}; "
                "with drop_last=True some ranks would get nothing"
            )
        if self.drop_last:
            self.num_samples = k // self.num_replicas
        else:
            self.num_samples = math.ceil(k / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        order = self._order()
        if len(order) < self.total_size:  # pad by cycling the head, as DistributedSampler
            reps = math.ceil(self.total_size / len(order))
            order = np.tile(order, reps)
        order = order[: self.total_size]
        return self._emit(order[self.rank : self.total_size : self.num_replicas])

    def __len__(self):
        return self.num_samples


class WeightedSubset(Dataset):
    """The coreset as a ``Dataset`` whose items carry their weight: ``(*item, weight)``.

    Parameters
    ----------
    dataset : torch Dataset
        Items are tuples (e.g. ``(x, y)``) or single tensors.
    indices : array-like of int, shape (k,)
    weights : array-like of float, shape (k,), optional
        Defaults to ones. Position ``i`` yields ``(*dataset[indices[i]], float32(weights[i]))``.
    """

    def __init__(self, dataset, indices, weights=None):
        idx, w = _check_subset(indices, weights)
        if hasattr(dataset, "__len__") and idx.max() >= len(dataset):
            raise ValueError(
                f"indices holds {idx.max()}, outside the dataset of length {len(dataset)}"
            )
        self.dataset, self.indices = dataset, idx
        self.weights = np.ones(len(idx)) if w is None else w

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return _with_weight(self.dataset[int(self.indices[i])], self.weights[i])


class WeightedDataset(Dataset):
    """Wrap a dataset so that ``dataset[(index, weight)]`` returns ``(*item, weight)``.

    Pair it with a sampler built with ``yield_weights=True``: the weight travels with the
    index from the sampler (main process) to the workers, so reselection with new weights
    works even with ``persistent_workers=True``.

    Parameters
    ----------
    dataset : torch Dataset
    """

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        if not (isinstance(key, tuple) and len(key) == 2):
            raise TypeError(
                "WeightedDataset expects (index, weight) keys; build the sampler with "
                f"yield_weights=True (got {type(key).__name__})"
            )
        i, w = key
        return _with_weight(self.dataset[int(i)], w)


def _with_weight(item, w):
    w = torch.tensor(w, dtype=torch.float32)
    if isinstance(item, tuple):
        return (*item, w)
    if isinstance(item, list):
        return [*item, w]
    return (item, w)
