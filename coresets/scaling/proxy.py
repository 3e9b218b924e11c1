"""Proxy runs: train a cheap model on the whole pool and record its outputs on every row.

Difficulty scores (EL2N, margins, forgetting events, AUM; :mod:`coresets.scores`) are
read from what a proxy model predicts for the training rows while it trains on them.
:class:`OutputRecorder` is the fit callback that records those predictions;
:func:`proxy_run` trains the proxy through any trainer whose ``fit`` takes a
``callback=`` (the reference :class:`~coresets.scaling.trainers.TorchClassifierTrainer`
does) and returns a :class:`ProxyRun`, which turns the records into scores and says how
many seconds the proxy cost.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import softmax

from .. import scores as _scores
from .._validation import check_int

__all__ = ["OutputRecorder", "ProxyRun", "proxy_run", "proxy_trainer"]


class OutputRecorder:
    """A fit callback that records a model's logits on fixed rows at chosen steps.

    The Lightning and HF ``Trainer`` callbacks of :mod:`coresets.integrations` record
    through one of these, so a proxy trained by any of them gives the same records.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n_rows, ...), or mapping of str -> array-like
        The rows to predict (usually the whole training pool). An array is cast to
        float32 and passed as ``model(batch)``; a mapping (e.g. ``{"input_ids": ...,
        "attention_mask": ...}``, every value with ``n_rows`` rows) keeps its dtypes and
        is passed as keyword inputs, ``model(**batch)``.
    steps : sequence of int or None
        Optimiser steps (counting from 1) after which to record; None: every step the
        recorder is called at.
    batch_size : int, default 8192
        Rows per forward pass while recording.

    Attributes
    ----------
    logits : dict of int -> ndarray of float32, shape (n_rows, n_classes)
        One entry per recorded step, filled as training passes them (a step met again,
        e.g. by a refit that counts from 1, is recorded again).

    Notes
    -----
    The model's output is its logits, or has them as ``output["logits"]`` or
    ``output.logits`` (a transformers ``ModelOutput``).
    """

    def __init__(self, X, steps, *, batch_size=8192):
        self.steps = None if steps is None else _check_steps(steps)
        self.batch_size = check_int(batch_size, "batch_size", low=1)
        self._X, self.n_rows = _as_rows(X)
        self.logits = {}

    def __call__(self, model, step):
        if self.steps is None or step in self.steps:
            self.record(model, step)

    def record(self, model, step):
        """Record ``model``'s logits on the rows now, under ``step``; the mode is restored."""
        import torch

        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = [
                    _output_logits(_forward(model, self._X, i, i + self.batch_size, device))
                    for i in range(0, self.n_rows, self.batch_size)
                ]
        finally:
            model.train(was_training)
        logits = torch.cat(out)
        if logits.ndim != 2 or logits.shape[0] != self.n_rows:
            raise ValueError(
                f"the model's logits must have shape ({self.n_rows}, n_classes), "
                f"got {tuple(logits.shape)}"
            )
        self.logits[int(step)] = logits.numpy()

    def to_proxy_run(self, y, *, seconds=0.0) -> ProxyRun:
        """The records as a one-seed :class:`ProxyRun` over labels ``y``.

        Parameters
        ----------
        y : array-like of int, shape (n_rows,)
            The rows' labels.
        seconds : float, default 0.0
            Wall time the records cost, kept as ``ProxyRun.seconds``.

        Returns
        -------
        ProxyRun
            ``logits`` of shape (1, n_steps, n_rows, n_classes), steps in increasing order.
        """
        y = _check_labels(y, self.n_rows)
        steps = sorted(self.logits) if self.steps is None else list(self.steps)
        missing = [s for s in steps if s not in self.logits]
        if missing or not steps:
            raise ValueError(
                f"record_steps {missing} were never reached: the proxy stopped before them"
                if missing
                else "nothing was recorded: the proxy made no step the recorder saw"
            )
        return ProxyRun(
            logits=np.stack([self.logits[s] for s in steps])[None],
            steps=np.asarray(steps, dtype=np.int64),
            y=y,
            seconds=float(seconds),
        )


def _check_labels(y, n_rows) -> np.ndarray:
    """``y`` as int64 labels, one per recorded row."""
    y = np.asarray(y)
    if y.shape != (n_rows,) or y.dtype.kind not in "iu":
        raise ValueError(
            f"y must hold one integer label per row, shape ({n_rows},); "
            f"got shape {y.shape}, dtype {y.dtype}"
        )
    return y.astype(np.int64)


def _as_rows(X):
    """Rows to record as a float32 tensor or a dict of tensors; returns ``(rows, n_rows)``."""
    import torch

    if isinstance(X, Mapping):
        if not X:
            raise ValueError("X is an empty mapping; pass the model's keyword inputs")
        rows = {str(k): torch.as_tensor(np.asarray(v)) for k, v in X.items()}
        lengths = {k: (v.shape[0] if v.ndim else 0) for k, v in rows.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"X's inputs must have the same number of rows, got {lengths}")
    else:
        rows = torch.as_tensor(np.asarray(X, dtype=np.float32))
        lengths = {"X": rows.shape[0] if rows.ndim else 0}
    n_rows = next(iter(lengths.values()))
    if n_rows == 0:
        raise ValueError("X has no rows to record")
    return rows, n_rows


def _forward(model, rows, start, stop, device):
    if isinstance(rows, dict):
        return model(**{k: v[start:stop].to(device) for k, v in rows.items()})
    return model(rows[start:stop].to(device))


def _output_logits(out):
    """The logits of a model's output: a tensor, ``out["logits"]`` or ``out.logits``."""
    import torch

    if not isinstance(out, torch.Tensor):
        if isinstance(out, Mapping) and "logits" in out:
            out = out["logits"]
        elif hasattr(out, "logits"):
            out = out.logits
        else:
            raise TypeError(
                "the model must return its logits, or an output with 'logits' "
                f"(output['logits'] or output.logits), got {type(out).__name__}"
            )
    return out.detach().float().cpu()


def _check_steps(steps, name="steps") -> tuple:
    """Optimiser steps (ints >= 1, at least one) as a sorted tuple without repeats."""
    values = [check_int(s, name, low=1) for s in np.atleast_1d(steps).tolist()]
    if not values:
        raise ValueError(f"{name} must name at least one optimiser step")
    return tuple(sorted(set(values)))


@dataclass(frozen=True)
class ProxyRun:
    """What a proxy run recorded, and the difficulty scores read from it.

    Attributes
    ----------
    logits : ndarray of float32, shape (n_seeds, n_steps, n_rows, n_classes)
        The proxy's logits on every row at every recorded step, one block per seed.
    steps : ndarray of int64, shape (n_steps,)
        The recorded optimiser steps.
    y : ndarray of int64, shape (n_rows,)
        The rows' labels.
    seconds : float
        Wall time of the proxy's training and recording, all seeds.
    features : ndarray of float32, shape (n_rows, d) or None
        The first seed's final model's penultimate activations (learned features), when
        they were asked for.
    feature_logits : ndarray of float32, shape (n_rows, n_classes) or None
        That same model's logits on every row (with ``features``): what
        :meth:`gradient_features` reads.

    Scores follow :mod:`coresets.scores`' directions: ``el2n``, ``entropy`` and
    ``forgetting`` are higher for harder rows; ``margin`` and ``aum`` are higher for
    easier ones. Each is averaged over the proxy seeds (the mean of the scores, not the
    score of the mean prediction).
    """

    logits: np.ndarray
    steps: np.ndarray
    y: np.ndarray
    seconds: float
    features: np.ndarray | None = None
    feature_logits: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return self.logits.shape[2]

    def _at(self, step):
        if step is None:
            return slice(None)
        hits = np.flatnonzero(self.steps == step)
        if hits.size == 0:
            raise ValueError(f"step {step!r} was not recorded; recorded: {self.steps.tolist()}")
        return slice(hits[0], hits[0] + 1)

    def probs(self, step=None) -> np.ndarray:
        """Softmax outputs at ``step``, one block per seed and step read.

        Shape (n_seeds, n_rows, n_classes) at one step; (n_seeds * n_steps, n_rows,
        n_classes) with ``step=None`` (every recorded step).
        """
        z = self.logits[:, self._at(step)]
        return softmax(z.reshape(-1, *z.shape[2:]).astype(np.float64), axis=-1)

    def el2n(self, step=None) -> np.ndarray:
        """EL2N at ``step`` (None: the mean over recorded steps), shape (n_rows,)."""
        return _scores.el2n_scores(self.probs(step), self.y)

    def margin(self, step=None) -> np.ndarray:
        """Labelled probability margin (higher is easier), shape (n_rows,)."""
        return _scores.margin_scores(self.probs(step), self.y)

    def entropy(self, step=None) -> np.ndarray:
        """Predictive entropy in nats, shape (n_rows,)."""
        return _scores.entropy_scores(self.probs(step))

    def forgetting(self) -> np.ndarray:
        """Forgetting events over the recorded steps, mean over seeds, shape (n_rows,)."""
        correct = self.logits.argmax(axis=-1) == self.y  # (n_seeds, n_steps, n_rows)
        return np.mean([_scores.forgetting_events(c) for c in correct], axis=0)

    def gradient_features(self) -> np.ndarray:
        """Last-layer gradient embeddings of the model behind ``features``, (n_rows, C * d).

        ``(softmax(z) - onehot(y)) h^T`` per row, with ``h`` the penultimate features and
        ``z`` the logits of the same (final, first-seed) model: the cross-entropy gradient
        w.r.t. the classifier's weights, as :func:`coresets.embed.gradient_embeddings`
        computes from a model (BADGE, CRAIG). Needs ``proxy_run(..., features=True)``.
        """
        import torch

        from ..embed import _last_layer_gradient

        if self.features is None or self.feature_logits is None:
            raise ValueError(
                "gradient_features needs the proxy's features and their logits: run "
                "proxy_run(..., features=True)"
            )
        grads = _last_layer_gradient(
            torch.as_tensor(self.features),
            torch.as_tensor(self.feature_logits),
            torch.as_tensor(self.y),
            "cross_entropy",
            bias=False,
        )
        return grads.numpy()

    def aum(self) -> np.ndarray:
        """Area under the margin over the recorded steps, mean over seeds (higher is easier)."""
        return np.mean([_scores.aum_scores(z, self.y) for z in self.logits], axis=0)


def proxy_trainer(data, steps, **kwargs):
    """The reference trainer set up as a proxy: ``steps`` steps on the whole pool.

    No validation split, refit or calibration: the proxy trains on every row it scores,
    as in Paul et al. (2021).

    Parameters
    ----------
    data : ClassificationData
    steps : int
        Optimiser steps of each proxy run.
    **kwargs
        Further :class:`~coresets.scaling.trainers.TorchClassifierTrainer` options.

    Returns
    -------
    TorchClassifierTrainer
    """
    from .trainers import default_trainer

    steps = check_int(steps, "steps", low=1)
    params = {
        "min_steps": steps,
        "max_steps": steps,
        "val_fraction": 0.0,
        "refit": False,
        "calibrate": False,
        "device": "cpu",
    }
    params.update(kwargs)
    return default_trainer(data, **params)


def _penultimate(model, X, *, with_logits=False):
    """The penultimate activations of an ``nn.Sequential`` classifier on ``X``, shape (n, d).

    ``with_logits=True`` also returns the classifier layer's output on them, (n, C): the
    logits of the same model (before any temperature), for gradient features.
    """
    import torch

    from .trainers import TemperatureScaled

    if isinstance(model, TemperatureScaled):
        model = model.model
    if not isinstance(model, torch.nn.Sequential):
        raise TypeError(
            "features=True needs the proxy model to be a torch.nn.Sequential ending in its "
            f"classifier layer, got {type(model).__name__}"
        )
    with torch.no_grad():
        out = model[:-1](torch.as_tensor(np.asarray(X, dtype=np.float32)))
        feats = out.reshape(out.shape[0], -1)
        if not with_logits:
            return feats.numpy().astype(np.float32)
        logits = model[-1](out)
    return feats.numpy().astype(np.float32), logits.numpy().astype(np.float32)


def proxy_run(train, *, trainer, record_steps, seeds=3, features=False) -> ProxyRun:
    """Train a proxy on ``train`` once per seed, recording its logits on every row.

    Parameters
    ----------
    train : (X, y) tuple of arrays, shapes (n_rows, ...) and (n_rows,)
        The pool: the proxy trains on it and is recorded on it.
    trainer : trainer
        Any object whose ``fit(train, weights=None, seed=0, *, callback=None)`` calls
        ``callback(model, step)`` after each optimiser step (see
        :func:`proxy_trainer` for the reference one).
    record_steps : sequence of int
        Optimiser steps after which the logits are recorded. Paul et al. read EL2N early
        in training (a tenth of the run); forgetting and AUM use every record.
    seeds : int or sequence of int, default 3
        Proxy runs (``3`` means seeds 0, 1, 2); scores are averaged over them.
    features : bool, default False
        Also keep the first seed's penultimate activations (needs an
        ``nn.Sequential`` model).

    Returns
    -------
    ProxyRun
    """
    if not (isinstance(train, tuple) and len(train) == 2):
        raise TypeError("train must be an (X, y) tuple of arrays")
    X, y = np.asarray(train[0]), np.asarray(train[1])
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(
            f"train: X and y need the same, non-zero number of rows, got {X.shape}, {y.shape}"
        )
    fit = getattr(trainer, "fit", None)
    if not callable(fit) or "callback" not in inspect.signature(fit).parameters:
        raise TypeError(
            "trainer.fit must accept callback= (called as callback(model, step) after each "
            "step) for a proxy run to record it"
        )
    if np.isscalar(seeds):
        seed_list = list(range(check_int(seeds, "seeds", low=1)))
    else:
        seed_list = [check_int(s, "seeds", low=0) for s in seeds]
    if not seed_list:
        raise ValueError("seeds must name at least one seed")
    recorder_steps = _check_steps(record_steps, "record_steps")
    t0 = time.perf_counter()
    blocks, feats, feature_logits = [], None, None
    for i, seed in enumerate(seed_list):
        rec = OutputRecorder(X, recorder_steps)
        model = trainer.fit((X, y), seed=seed, callback=rec)
        blocks.append(rec.to_proxy_run(y.astype(np.int64)).logits[0])
        if features and i == 0:
            feats, feature_logits = _penultimate(model, X, with_logits=True)
    seconds = time.perf_counter() - t0
    return ProxyRun(
        logits=np.stack(blocks),
        steps=np.asarray(recorder_steps, dtype=np.int64),
        y=y.astype(np.int64),
        seconds=seconds,
        features=feats,
        feature_logits=feature_logits,
    )
