"""What selectors select over in a scaling run: raw, standardised or proxy-model features."""

from __future__ import annotations

import numpy as np

__all__ = ["FEATURES", "proxy_features", "selection_features"]

#: The kinds :func:`selection_features` builds.
FEATURES = ("raw", "standardized", "encoder")


def proxy_features(data, *, seed=0, max_steps=1500, progress=False):
    """Penultimate-layer features of a proxy model trained on the whole training pool.

    Selection via a proxy (Coleman et al., 2020): a short training run of the reference
    model on all of ``data.X``; the features are the activations feeding its last layer.

    Parameters
    ----------
    data : ClassificationData
    seed : int, default 0
        The proxy's training seed (torch's name: it seeds the trainer).
    max_steps : int, default 1500
    progress : bool, default False

    Returns
    -------
    ndarray of float32, shape (n_train, d_hidden)
    """
    from .proxy import _penultimate
    from .trainers import default_trainer

    trainer = default_trainer(data, max_steps=max_steps, device="cpu", progress=progress)
    model = trainer.fit(data.train, seed=seed)
    with trainer._threads():  # both reference models are nn.Sequential ending in the classifier
        return _penultimate(model, data.X)


def selection_features(data, kind, *, seed=0, progress=False):
    """What selectors select over: ``"raw"``, ``"standardized"`` or ``"encoder"`` features.

    Parameters
    ----------
    data : ClassificationData
    kind : {"raw", "standardized", "encoder"}
    seed : int, default 0
        Seed of the proxy model for ``"encoder"``.
    progress : bool, default False

    Returns
    -------
    ndarray, shape (n_train, d)
    """
    if kind == "raw":
        return data.X.reshape(len(data.X), -1)
    if kind == "standardized":
        X = data.X.reshape(len(data.X), -1).astype(np.float64)
        sd = X.std(axis=0)
        return ((X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)).astype(np.float32)
    if kind == "encoder":
        return proxy_features(data, seed=seed, progress=progress)
    raise ValueError(f"features must be one of {FEATURES}, got {kind!r}")
