"""Torch samplers and datasets that feed a chosen subset to a ``DataLoader``.

Which one to use
----------------
* :class:`CoresetSampler` - train on the subset, each example once per pass (plain
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
  subset (even split across ranks, padding or dropping, ``set_epoch``) for DDP jobs
  with a hand-written loop or Lightning; not under Accelerate or the HF ``Trainer``,
  which shard batches themselves (see "With Lightning, Accelerate and the HF Trainer").

Weights users see are normalised
--------------------------------
Coreset weights count how many rows each chosen one stands for, so they sum to ``n``
(the whole data set), not ``k``. Multiplied into a per-example loss as they are, they
scale the gradient, and so the learning rate, by ``n / k`` (a small MLP trained on 2%
fell to chance that way). Every weight this module hands to a training loop
(:class:`WeightedSubset` items, ``(index, weight)`` pairs of ``yield_weights=True``, and
so :class:`WeightedDataset` items) is therefore divided by the mean weight of the
subset: the weights have mean 1 over the subset, keep their ratios, and
``(loss(model(xb), yb) * wb).mean()`` has the scale of the unweighted mean loss.
:class:`WeightedCoresetSampler` draws in proportion to the weights, so their scale does
not matter there.

Order: fresh every pass, or fixed per epoch
-------------------------------------------
Like torch's ``SubsetRandomSampler`` a shuffling sampler gives a fresh order on every
``iter()``: without :meth:`~CoresetSampler.set_epoch` the ``p``-th pass (``p = 0, 1,
...``) uses the order of epoch ``p``. After ``set_epoch(e)`` the order depends only on
``seed + e`` (``DistributedSampler``'s contract: every rank, every repetition of that
epoch, the same order) until the next ``set_epoch``; Lightning and Accelerate call
``set_epoch`` each epoch. Orders come from a ``torch.Generator`` seeded with
``seed + epoch``, never the global RNG, so they are the same on every rank and every run.
Pass ``generator=`` (as to torch's samplers) to draw every pass from your own generator
instead; it advances with each pass and ``set_epoch`` then only records the epoch.

Resuming
--------
:meth:`~CoresetSampler.state_dict` holds the subset (indices, weights), the seed, the
epoch, the number of passes started, the position in the current pass and, with
``generator=``, the generator's state at the start of that pass; all of it tensors and
plain Python values, so ``torch.save`` / ``torch.load(weights_only=True)`` keep it.
After :meth:`~CoresetSampler.load_state_dict` the next ``iter()`` replays the
interrupted pass's order from the saved position (no index is repeated or skipped) and
the passes after it are those of the uninterrupted run. The position counts indices the
sampler has handed out; a ``DataLoader`` fetches ahead of the training loop (up to
``prefetch_factor * num_workers`` batches), so pass ``consumed=`` (batches done times
the batch size) to resume at the first batch the loop did not train on.

With Lightning, Accelerate and the HF Trainer
---------------------------------------------
(Checked against Lightning 2.6, Accelerate 1.15 and transformers 5.23, ranks simulated
in ``tests/test_integrations_training.py``.)

=====================================  ==========================  ==========================
sampler                                Lightning / Fabric (DDP)    Accelerate, HF ``Trainer``
=====================================  ==========================  ==========================
:class:`CoresetSampler`                yes: Lightning shards it    yes: Accelerate shards it
:class:`WeightedCoresetSampler`        yes: Lightning shards it    yes: Accelerate shards it
:class:`DistributedCoresetSampler`     yes: left as it is          no: sharded twice
=====================================  ==========================  ==========================

* Lightning (``use_distributed_sampler=True``, the default) puts every sampler that is
  not a ``DistributedSampler`` inside its ``DistributedSamplerWrapper``: each rank
  builds one whole pass of the sampler, the wrapper permutes the pass (its own seed +
  epoch) and rank ``r`` keeps every ``world_size``-th entry from ``r``, padding the
  pass by repeating entries to a multiple of the world size. The shards are a partition
  of the pass only if every rank builds the same pass: the plain samplers do (their
  order is ``seed + epoch``, the same seed on every rank); with ``generator=``, seed
  that generator alike on every rank. Lightning calls ``set_epoch`` on the wrapper,
  which passes it on to ours. :class:`DistributedCoresetSampler` is a
  ``DistributedSampler``, so Lightning leaves it alone (wrapped, each rank would keep a
  ``1 / world_size**2`` share, ``1 / world_size`` of the subset over all ranks).
* Accelerate's ``prepare`` (and so the HF ``Trainer``, which prepares its loaders with
  it) keeps the sampler and shards the batches: with ``P`` processes, batch ``j`` of
  the pass goes to process ``j % P``, and the last round is completed from the start of
  the pass (``even_batches=True``). It never looks for a sampler that is already
  distributed, so a :class:`DistributedCoresetSampler` is sharded twice: use
  :class:`CoresetSampler` or :class:`WeightedCoresetSampler`. Accelerate also gives any
  sampler whose ``generator`` attribute is None a generator seeded from the global RNG;
  ours have no ``generator`` attribute unless ``generator=`` was passed (Accelerate
  keeps that one, and the ``Accelerator``'s default ``rng_types=["generator"]`` copies
  rank 0's state to every rank at each pass), so ``seed + epoch`` keep the order. The loader's ``set_epoch``, which it also calls itself at every pass, reaches
  our sampler.
* The HF ``Trainer`` takes its sampler from ``Trainer._get_train_sampler``: override it
  in a subclass to return a :class:`CoresetSampler`. The Trainer calls ``set_epoch(epoch)``
  every epoch and resumes a run by skipping the batches the interrupted epoch had trained
  (``skip_first_batches``); that is exact because after ``set_epoch`` a pass's order
  depends on ``seed + epoch`` alone. It does not save the sampler: after
  :meth:`CoresetSampler.set_subset` during training, save the subset yourself.

Checkpointing with them: Accelerate saves and restores any object with ``state_dict`` and
``load_state_dict`` given to ``accelerator.register_for_checkpointing(sampler)``, so
``save_state`` / ``load_state`` round-trip a sampler (its file loads with
``torch.load(weights_only=True)``). Accelerate calls ``state_dict()`` without
``consumed=``, so a state saved mid-epoch counts what the loader fetched, which is ahead
of training (its loader looks one batch ahead, workers prefetch); saved at the end of an
epoch it is exact. Lightning keeps a train loader's state only when the loader itself has
``state_dict`` / ``load_state_dict`` (torchdata's ``StatefulDataLoader``, not a plain
``DataLoader``); otherwise save ``sampler.state_dict(consumed=...)`` in the
``LightningModule``'s ``on_save_checkpoint`` and load it in ``on_load_checkpoint`` (called
before the loaders are iterated). Under Lightning's wrapper every rank's sampler hands out
the whole pass, so resume those at the end of an epoch; a
:class:`DistributedCoresetSampler` counts its own rank's indices (``consumed`` = batches
done times the batch size).

Every sampler keeps its state in the main process (a ``DataLoader`` iterates the
sampler there and sends indices to workers), so all of them work with
``num_workers > 0``; after :meth:`CoresetSampler.set_subset` the next ``iter()`` uses
the new subset. To reselect during training (CRAIG-style),
:class:`coresets.training.AdaptiveReselection` calls :meth:`CoresetSampler.set_subset`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from ._validation import MAX_TORCH_SEED, check_finite, check_indices, check_int, check_seed

__all__ = [
    "CoresetSampler",
    "DistributedCoresetSampler",
    "WeightedCoresetSampler",
    "WeightedDataset",
    "WeightedSubset",
]

#: Version of the :meth:`CoresetSampler.state_dict` layout.
_STATE_VERSION = 1


def _as_numpy(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _check_subset(indices, weights, name="indices", n=None):
    """Validate a subset and optional weights; return ``(indices int64, weights or None)``.

    ``indices`` holds distinct non-negative ints, or is a boolean mask (the positions of
    its True entries; of length ``n`` when ``n`` is known). ``weights`` has one entry per
    chosen index or, with a mask, one per mask entry (those of the chosen ones are kept).
    """
    arr = _as_numpy(indices)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    mask = arr.dtype == np.bool_
    if mask:
        if n is not None and arr.shape[0] != n:
            raise ValueError(
                f"{name} is a boolean mask of length {arr.shape[0]}, but the dataset has {n} rows"
            )
        mask_len, arr = arr.shape[0], np.flatnonzero(arr)
    if arr.size == 0:
        what = "selects no row (every entry is False)" if mask else "is empty"
        raise ValueError(f"{name} {what}; a coreset needs at least one example")
    arr = check_indices(arr, n, name)
    if weights is None:
        return arr, None
    w = _as_numpy(weights)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"weights must hold numbers, got dtype {w.dtype}")
    w = w.astype(np.float64)
    if mask and w.shape == (mask_len,):
        w = w[arr]
    if w.shape != arr.shape:
        extra = f" or ({mask_len},) (one per mask entry)" if mask else ""
        raise ValueError(
            f"weights must have shape {arr.shape} (one per index){extra}, got {w.shape}"
        )
    check_finite(w, "weights")
    if (w < 0).any():
        raise ValueError("weights must be non-negative")
    return arr, w


def _mean_one(w):
    """``w`` divided by its mean (mean 1 over the subset); refuses all-zero weights."""
    total = w.sum()
    if not total > 0:
        raise ValueError("weights must not all be zero")
    return w * (len(w) / total)


def _check_generator(generator):
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if generator is not None and generator.device.type != "cpu":
        raise ValueError(f"generator must be a CPU torch.Generator, got one on {generator.device}")
    return generator


def _resolve_seed(seed, generator):
    if seed is not None and generator is not None:
        raise ValueError("pass seed or generator, not both (the generator drives the order)")
    # refused here, not at the first pass's torch.Generator().manual_seed(seed + epoch)
    return 0 if seed is None else check_seed(seed, "seed")


def _as_tensor(values):
    return torch.as_tensor(np.ascontiguousarray(values)).clone()


class CoresetSampler(Sampler):
    """Yield the chosen dataset indices, in a fresh order each pass.

    Parameters
    ----------
    indices : array-like of int, shape (k,), or boolean mask, shape (n,)
        Dataset indices of the coreset (e.g. ``selector.ranking_``), or a mask over the
        dataset (e.g. ``selector.get_support()``); a torch tensor works too.
    shuffle : bool, default True
        Permute the indices each pass (see the module docstring for which order).
    seed : int, optional
        Seed of the orders (default 0): pass ``p``, or epoch ``e`` after ``set_epoch(e)``,
        is shuffled by ``torch.Generator().manual_seed(seed + p)`` (``seed + e``).
    weights : array-like of float, shape (k,) (or (n,) with a mask), optional
        Coreset weights, yielded with the indices when ``yield_weights`` is True; stored
        divided by their mean (mean 1 over the subset; see the module docstring).
    yield_weights : bool, default False
        Yield ``(index, weight)`` pairs for :class:`WeightedDataset` instead of indices.
    generator : torch.Generator, optional
        Draw each pass's order from this CPU generator (advancing it), as torch's
        samplers do; exclusive with ``seed``.

    Attributes
    ----------
    indices : ndarray of int64, shape (k,)
    weights : ndarray of float64, shape (k,), or None
        Mean 1 over the subset.
    epoch : int
        The last ``set_epoch`` value (0 before any).
    generator : torch.Generator
        The ``generator=`` passed; absent (``hasattr`` is False) when none was: Accelerate
        hands any sampler with a ``generator`` attribute of None a randomly seeded one,
        which would replace ``seed`` (see the module docstring).
    """

    def __init__(
        self,
        indices,
        shuffle=True,
        seed=None,
        *,
        weights=None,
        yield_weights=False,
        generator=None,
    ):
        self.shuffle = bool(shuffle)
        self._generator = _check_generator(generator)
        self.seed = _resolve_seed(seed, self._generator)
        self.yield_weights = bool(yield_weights)
        self.epoch = 0
        self._epoch_set = False  # set_epoch called: the order follows the epoch
        self._passes = 0  # passes started
        self._position = 0  # indices handed out in the current pass
        self._pass = None  # (epoch used, generator state before) of the current pass
        self._resume = None  # a loaded pass to replay: (epoch used, generator state, start)
        self._token = 0  # which pass the position counts (a new pass or subset: a new token)
        self.set_subset(indices, weights)

    @property
    def generator(self):
        # Read-only and missing without generator=: accelerate's prepare_data_loader assigns
        # a generator seeded from the global RNG to a sampler whose ``generator`` is None,
        # and the order would then ignore ``seed`` and ``set_epoch``.
        if self._generator is None:
            raise AttributeError(
                f"this {type(self).__name__} has no generator: its orders come from seed + epoch"
            )
        return self._generator

    # ------------------------------------------------------------------ subset
    def set_subset(self, indices, weights=None):
        """Replace the subset; takes effect at the next ``iter()`` (the next pass).

        Parameters
        ----------
        indices : array-like of int, shape (k,), or boolean mask
        weights : array-like of float, shape (k,), optional
            Required when ``yield_weights`` is True; stored with mean 1.
        """
        idx, w = _check_subset(indices, weights)
        if self.yield_weights and w is None:
            raise ValueError("weights are required when yield_weights=True")
        self.indices, self.weights = idx, (None if w is None else _mean_one(w))
        self._after_subset()

    def _after_subset(self):
        # a pass of another subset can be neither replayed nor resumed; an iterator already
        # running finishes the old subset's pass, and no longer counts as the current pass
        self._resume, self._pass, self._position = None, None, 0
        self._token += 1

    def set_epoch(self, epoch):
        """Fix the order of the next passes to that of ``epoch`` (``seed + epoch``).

        With ``generator=`` the generator keeps drawing the orders; the epoch is recorded.
        """
        self.epoch = check_int(epoch, "epoch", low=0, high=MAX_TORCH_SEED)
        self._epoch_set = True

    # ------------------------------------------------------------------ order
    def _draw(self, g):
        """Positions into ``self.indices`` for one pass, drawn from generator ``g``."""
        return torch.randperm(len(self.indices), generator=g).numpy()

    def _pass_order(self):
        """This pass's positions into ``self.indices``; starts a pass or replays a loaded one."""
        if self._resume is not None:
            epoch, state, start = self._resume
            self._resume = None
        else:
            epoch = self.epoch if self._epoch_set else self._passes
            state = None if self._generator is None else self._generator.get_state()
            start = 0
            self._passes += 1
        self._pass, self._position = (epoch, state), start
        self._token += 1
        if not self._shuffles():
            return np.arange(len(self.indices)), start
        if self._generator is not None:
            self._generator.set_state(state)
            return self._draw(self._generator), start
        return self._draw(torch.Generator().manual_seed(self.seed + epoch)), start

    def _shuffles(self):
        return self.shuffle

    def _positions(self):
        """This pass's positions (after sharding, for the distributed sampler) and start."""
        return self._pass_order()

    def _emit(self, positions, start):
        # this pass's subset, so that set_subset during the pass cannot change it midway
        token, indices, weights = self._token, self.indices, self.weights
        pairs = self.yield_weights
        for p in positions[start:].tolist():
            if self._token == token:
                self._position += 1
            yield (int(indices[p]), float(weights[p])) if pairs else int(indices[p])

    def __iter__(self):
        positions, start = self._positions()
        return self._emit(positions, start)

    def __len__(self):
        return len(self.indices)

    # ------------------------------------------------------------------ state
    def state_dict(self, *, consumed=None):
        """The sampler's state, for :meth:`load_state_dict` in a resumed run.

        Parameters
        ----------
        consumed : int, optional
            Indices of the current pass the training loop has used (e.g. batches done
            times the batch size); default: all the sampler has handed out, which is
            ahead of the loop by what the ``DataLoader`` fetched in advance.

        Returns
        -------
        dict
            ``indices`` (int64 tensor), ``weights`` (float64 tensor or None), ``seed``,
            ``epoch``, ``epoch_set``, ``passes`` (passes started), ``pass_epoch`` (the
            epoch whose order the pass under way uses; None when none is, e.g. after a
            whole pass), ``position`` (where that pass resumes), ``generator`` (whether
            ``generator=`` drives the order) and ``generator_state`` (uint8 tensor: its
            state at the start of the pass under way, else its current state; None
            without a generator), ``shuffle``, ``sampler`` (class name), ``version``
            and the subclass's layout (``num_samples``/``replacement``,
            ``num_replicas``/``drop_last``).
        """
        if self._resume is not None:  # loaded but not yet iterated: hand the same state on
            epoch, state, position = self._resume
        else:
            epoch, state = self._pass if self._pass is not None else (None, None)
            position = self._position
        if consumed is not None:
            consumed = check_int(consumed, "consumed", low=0, high=self._pass_length())
            if epoch is None and consumed:
                raise ValueError("consumed must be 0 when no pass is under way")
            position = consumed
        if epoch is not None and position >= self._pass_length():
            epoch, position = None, 0  # the pass is over: the next one is a fresh pass
        if epoch is None and self._generator is not None:
            state = self._generator.get_state()  # where the next pass will draw from
        return {
            "version": _STATE_VERSION,
            "sampler": type(self).__name__,
            "indices": _as_tensor(self.indices),
            "weights": None if self.weights is None else _as_tensor(self.weights),
            "seed": self.seed,
            "shuffle": self.shuffle,
            "generator": self._generator is not None,
            "epoch": self.epoch,
            "epoch_set": self._epoch_set,
            "passes": self._passes,
            "pass_epoch": epoch,
            "position": position,
            "generator_state": None if state is None else state.clone(),
            **self._extra_state(),
        }

    def _extra_state(self):
        return {}

    def _pass_length(self):
        """Indices one pass hands out on this rank."""
        return len(self)

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict`; the next ``iter()`` continues the saved pass.

        The subset and weights are restored with it (validated as in :meth:`set_subset`).
        Raises ``ValueError`` naming the field when the state comes from another kind of
        sampler or settings this sampler cannot reproduce (shuffling, generator or not,
        the distributed layout).
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(), got {type(state).__name__}")
        missing = {"version", "sampler", "indices", "passes", "position"} - set(state)
        if missing:
            raise ValueError(f"state lacks {sorted(missing)}; pass a dict from state_dict()")
        if state["version"] != _STATE_VERSION:
            raise ValueError(f"state version {state['version']} is not {_STATE_VERSION}")
        if state["sampler"] != type(self).__name__:
            raise ValueError(f"state comes from a {state['sampler']}, not a {type(self).__name__}")
        if bool(state["shuffle"]) != self.shuffle:
            raise ValueError(f"state has shuffle={state['shuffle']}, this sampler {self.shuffle}")
        if bool(state.get("generator")) != (self._generator is not None):
            saved = "with" if state.get("generator") else "without"
            raise ValueError(f"state was saved {saved} generator=; build the sampler the same way")
        gen_state = state.get("generator_state")
        if self._generator is not None and not isinstance(gen_state, torch.Tensor):
            raise ValueError("state['generator_state'] must be the generator's state tensor")
        self._check_extra_state(state)
        self.set_subset(state["indices"], state.get("weights"))
        if self._generator is None:
            self.seed = check_seed(state["seed"], "state['seed']")
        self.epoch = check_int(state["epoch"], "state['epoch']", low=0, high=MAX_TORCH_SEED)
        self._epoch_set = bool(state["epoch_set"])
        self._passes = check_int(state["passes"], "state['passes']", low=0)
        self._pass, self._position = None, 0
        if state.get("pass_epoch") is not None:
            pass_epoch = check_int(state["pass_epoch"], "state['pass_epoch']", low=0)
            position = check_int(
                state["position"], "state['position']", low=0, high=self._pass_length()
            )
            self._resume = (pass_epoch, gen_state, position)
        elif self._generator is not None:
            self._generator.set_state(gen_state)

    def _check_extra_state(self, state):
        pass


class WeightedCoresetSampler(CoresetSampler):
    """Draw coreset indices with probability proportional to their weights.

    Use with an unweighted loss: the expected gradient equals that of the weighted loss
    over the coreset. Prefer :class:`WeightedSubset` with a weighted loss when you can
    change the training loop (lower variance, every chosen example seen each epoch).
    Each pass draws afresh, as the module docstring describes (``seed + pass``, or
    ``seed + epoch`` after ``set_epoch``, or ``generator``).

    Parameters
    ----------
    indices : array-like of int, shape (k,), or boolean mask, shape (n,)
    weights : array-like of float, shape (k,) (or (n,) with a mask)
        Non-negative, not all zero (e.g. ``selector.weights_``); only their ratios matter.
    num_samples : int, optional
        Draws per pass; defaults to ``k``. Torch's name in ``WeightedRandomSampler``
        (and ``len()`` of every torch sampler), kept so the two read alike; it is not a
        subset size (the subset is ``indices``).
    replacement : bool, default True
        Draw with replacement (without it, ``num_samples`` must be <= the number of
        positive weights).
    seed : int, optional
        Default 0; exclusive with ``generator``.
    generator : torch.Generator, optional
        As in :class:`CoresetSampler`.
    """

    def __init__(
        self, indices, weights, num_samples=None, replacement=True, seed=None, *, generator=None
    ):
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        super().__init__(indices, shuffle=True, seed=seed, weights=weights, generator=generator)

    def set_subset(self, indices, weights=None):
        """Replace the subset and weights; takes effect at the next ``iter()``."""
        idx, w = _check_subset(indices, weights)
        if w is None:
            raise ValueError("weights are required for WeightedCoresetSampler")
        w = _mean_one(w)
        n = len(idx) if self._num_samples is None else self._num_samples
        n = check_int(n, "num_samples", low=1)
        if not self.replacement and n > int((w > 0).sum()):
            raise ValueError(
                f"num_samples={n} exceeds the {int((w > 0).sum())} examples with positive "
                "weight; pass replacement=True"
            )
        self.indices, self.weights, self.num_samples = idx, w, n
        self._after_subset()

    def _draw(self, g):
        p = torch.as_tensor(self.weights, dtype=torch.float64)
        return torch.multinomial(p, self.num_samples, self.replacement, generator=g).numpy()

    def _shuffles(self):
        return True

    def __len__(self):
        return self.num_samples

    def _extra_state(self):
        return {"num_samples": self.num_samples, "replacement": self.replacement}

    def _check_extra_state(self, state):
        for key in ("num_samples", "replacement"):
            if state.get(key) != getattr(self, key):
                raise ValueError(
                    f"state has {key}={state.get(key)}, this sampler {getattr(self, key)}"
                )


class DistributedCoresetSampler(CoresetSampler, DistributedSampler):
    """Shard a coreset across DDP ranks with ``torch.utils.data.DistributedSampler``'s contract.

    Every rank shuffles with the same ``seed + epoch`` (call :meth:`set_epoch` each epoch,
    as Lightning and Accelerate do; without it pass ``p`` uses epoch ``p`` on every rank),
    the order is padded by repeating its head (``drop_last=False``) or truncated
    (``drop_last=True``) to a multiple of ``num_replicas``, and rank ``r`` takes every
    ``num_replicas``-th element starting at ``r``. There is no ``generator=``: one
    generator per process could not keep the ranks in step.

    It is an instance of ``DistributedSampler`` (whose constructor it does not call: it
    has no ``dataset``) so that Lightning and Fabric, which wrap every other sampler in
    their own sharding ``DistributedSamplerWrapper``, leave it as it is. Accelerate (and
    so the HF ``Trainer``) shards batches whatever the sampler: there, use
    :class:`CoresetSampler` (see the module docstring).

    Parameters
    ----------
    indices : array-like of int, shape (k,), or boolean mask, shape (n,)
    num_replicas : int, optional
        World size; defaults to ``torch.distributed.get_world_size()``.
    rank : int, optional
        This process's rank; defaults to ``torch.distributed.get_rank()``.
    shuffle : bool, default True
    seed : int, default 0
    drop_last : bool, default False
    weights, yield_weights : as in :class:`CoresetSampler` (mean 1 over the whole subset).
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

    def _positions(self):
        order, start = self._pass_order()
        if len(order) < self.total_size:  # pad by cycling the head, as DistributedSampler
            reps = math.ceil(self.total_size / len(order))
            order = np.tile(order, reps)
        order = order[: self.total_size]
        return order[self.rank : self.total_size : self.num_replicas], start

    def __len__(self):
        return self.num_samples

    def _extra_state(self):
        return {"num_replicas": self.num_replicas, "drop_last": self.drop_last}

    def _check_extra_state(self, state):
        for key in ("num_replicas", "drop_last"):
            if state.get(key) != getattr(self, key):
                raise ValueError(
                    f"state has {key}={state.get(key)}, this sampler {getattr(self, key)}; "
                    "a pass cannot be resumed on another layout of ranks"
                )


class WeightedSubset(Dataset):
    """The coreset as a ``Dataset`` whose items carry their weight: ``(*item, weight)``.

    Parameters
    ----------
    dataset : torch Dataset
        Items are tuples (e.g. ``(x, y)``) or single tensors.
    indices : array-like of int, shape (k,), or boolean mask, shape (len(dataset),)
    weights : array-like of float, shape (k,) (or (n,) with a mask), optional
        Coreset weights (e.g. ``selector.weights_``, which sum to ``n``); stored divided
        by their mean, so they have mean 1 over the subset and ``(loss * w).mean()``
        keeps the scale of the unweighted loss. Defaults to ones.

    Attributes
    ----------
    indices : ndarray of int64, shape (k,)
    weights : ndarray of float64, shape (k,)
        Mean 1. Position ``i`` yields ``(*dataset[indices[i]], float32(weights[i]))``.
    """

    def __init__(self, dataset, indices, weights=None):
        n = len(dataset) if hasattr(dataset, "__len__") else None
        arr = _as_numpy(indices)
        idx, w = _check_subset(indices, weights, n=n if arr.dtype == np.bool_ else None)
        if n is not None and idx.max() >= n:
            raise ValueError(f"indices holds {idx.max()}, outside the dataset of length {n}")
        self.dataset, self.indices = dataset, idx
        self.weights = np.ones(len(idx)) if w is None else _mean_one(w)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return _with_weight(self.dataset[int(self.indices[i])], self.weights[i])


class WeightedDataset(Dataset):
    """Wrap a dataset so that ``dataset[(index, weight)]`` returns ``(*item, weight)``.

    Pair it with a sampler built with ``yield_weights=True``: the weight (mean 1 over
    the subset, see the module docstring) travels with the index from the sampler (main
    process) to the workers, so reselection with new weights works even with
    ``persistent_workers=True``.

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
