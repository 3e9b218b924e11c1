"""Training-loop callbacks: reselect the coreset as the model learns.

:class:`AdaptiveReselection` is CRAIG's loop: every ``every`` epochs recompute
embeddings with the current model (e.g. last-layer gradient embeddings) and reselect;
the samplers of :mod:`coresets.sampling` pick up the new subset at their next epoch.
"""

from __future__ import annotations

import numpy as np
import torch

from ._validation import check_int

__all__ = ["AdaptiveReselection"]


class AdaptiveReselection:
    """CRAIG-style reselection: every ``every`` epochs, embed with the current model and reselect.

    Call :meth:`on_epoch_start` at the top of each epoch, before iterating the
    ``DataLoader``; the samplers then serve the new subset for that epoch.

    Parameters
    ----------
    selector : scikit-learn style selector
        Cloned for each reselection and fitted on the embeddings; its ``ranking_`` (and
        ``weights_``) become the new subset.
    embed_fn : callable ``embed_fn(model) -> array (n, d)``
        Embeddings of the whole training set under the current model, e.g.
        ``lambda m: coresets.embed.gradient_embeddings(m, dataset)``.
    samplers : sampler or list of samplers
        Anything with ``set_subset(indices, weights)`` (the samplers in this module).
    every : int, default 1
        Reselect at epochs 0, ``every``, ``2 * every``, ...
    y : array-like, shape (n,), optional
        Labels passed to ``selector.fit`` (needed for ``per_class=True``).
    random_state : None or int, default None
        Base ``random_state`` of the reselections: the selector of epoch ``e`` gets
        ``random_state + e`` (None: unseeded draws). It is the selector's seed, on the
        numpy / scikit-learn side, hence not torch's ``seed``.

    Attributes
    ----------
    history_ : list of (epoch, indices)
        Every subset chosen so far.
    """

    def __init__(self, selector, embed_fn, samplers, every=1, *, y=None, random_state=None):
        if not callable(embed_fn):
            raise TypeError("embed_fn must be callable: embed_fn(model) -> (n, d) array")
        self.selector = selector
        self.embed_fn = embed_fn
        self.samplers = list(samplers) if isinstance(samplers, (list, tuple)) else [samplers]
        for s in self.samplers:
            if not hasattr(s, "set_subset"):
                raise TypeError(f"samplers must have set_subset(); got {type(s).__name__}")
        self.every = check_int(every, "every", low=1)
        self.y = y
        self.random_state = (
            None if random_state is None else check_int(random_state, "random_state", low=0)
        )
        self.history_ = []

    def on_epoch_start(self, epoch, model):
        """Reselect if ``epoch`` is a multiple of ``every``; return True when it did.

        Parameters
        ----------
        epoch : int
        model : torch.nn.Module
            Passed to ``embed_fn``; switched to eval mode and back while embedding.
        """
        epoch = check_int(epoch, "epoch", low=0)
        for s in self.samplers:
            if hasattr(s, "set_epoch"):
                s.set_epoch(epoch)
        if epoch % self.every:
            return False
        was_training = getattr(model, "training", False)
        if hasattr(model, "eval"):
            model.eval()
        try:
            emb = self.embed_fn(model)
        finally:
            if was_training:
                model.train()
        from sklearn.base import clone

        sel = clone(self.selector)
        # a deterministic selector (herding) has no random_state to set
        if "random_state" in sel.get_params():
            seed = None if self.random_state is None else self.random_state + epoch
            sel.set_params(random_state=seed)
        sel.fit(emb if not isinstance(emb, torch.Tensor) else emb.detach().cpu().numpy(), self.y)
        weights = getattr(sel, "weights_", None)
        for s in self.samplers:
            s.set_subset(sel.ranking_, weights)
        self.history_.append((epoch, np.asarray(sel.ranking_, dtype=np.int64)))
        return True
