"""Record an HF ``Trainer`` run's training dynamics for difficulty scores (EL2N, forgetting, AUM).

Add :class:`OutputRecorderCallback` to a ``transformers.Trainer`` that trains your model on
the pool; after ``train()`` its :meth:`~OutputRecorderCallback.proxy_run` is a
:class:`coresets.scaling.proxy.ProxyRun`, whose scores feed the scored selectors::

    rows = tokenized.with_format("torch", columns=["input_ids", "attention_mask"])[:]
    rec = OutputRecorderCallback(rows, tokenized["label"], steps=[100, 200, 400])
    Trainer(model=model, args=args, train_dataset=tokenized, callbacks=[rec]).train()
    scores = rec.proxy_run().el2n(100)

The rows are a dict of tensors (or arrays) holding the model's keyword inputs, every
value with one row per example, as a ``datasets.Dataset`` gives them with
``dataset.with_format("torch", columns=[...])[:]``; leave the labels out (they are
``y``), or the model computes a loss on every recording. The model's output has
``logits`` (``output["logits"]`` or ``output.logits``), as transformers models' outputs do.

This module imports transformers; ``import coresets`` does not. Install it with
``pip install 'coresets[transformers]'``.
"""

from __future__ import annotations

try:
    from transformers import TrainerCallback
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "coresets.integrations.hf_trainer needs transformers; install it with "
        "pip install 'coresets[transformers]'"
    ) from exc

from ._recording import RecordingCallback

__all__ = ["OutputRecorderCallback"]


class OutputRecorderCallback(RecordingCallback, TrainerCallback):
    """Record the model's logits on fixed rows at chosen optimiser steps, or every epoch.

    The recording is :class:`coresets.scaling.proxy.OutputRecorder`'s: the model (the
    unwrapped ``trainer.model`` the callback events receive) is put in eval mode, run as
    ``model(**batch)`` on ``X`` in batches of ``batch_size`` without gradients, on the
    device of its parameters, and put back in its mode. Every process of a multi-device
    run records all of ``X``; use the main process's records.

    Parameters
    ----------
    X : mapping of str -> array-like or torch.Tensor, or array-like, shape (n_rows, ...)
        The rows to record: the model's keyword inputs (see the module docstring); an
        array is cast to float32 and passed positionally, ``model(batch)``.
    y : array-like of int, shape (n_rows,)
        The rows' labels (for the scores).
    steps : sequence of int, optional
        Optimiser steps (``state.global_step``, counting from 1; one step per
        ``gradient_accumulation_steps`` batches) after which to record. Default: at the
        end of every epoch, under the step reached then.
    batch_size : int, default 8192
        Rows per forward pass while recording.

    Attributes
    ----------
    recorder : OutputRecorder
        Holds the records: ``recorder.logits`` maps a step to float32 logits of shape
        (n_rows, n_classes).
    seconds_ : float
        Wall time from the start to the end of the last ``train()`` (training and
        recording).
    """

    def on_train_begin(self, args, state, control, **kwargs):
        self._start()

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.recorder.steps is not None:
            self.recorder(_model(model), state.global_step)

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        if self.recorder.steps is None:
            self.recorder.record(_model(model), state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        self._stop()


def _model(model):
    if model is None:  # the Trainer passes model= to every event; a bare call may not
        raise TypeError("the callback event got no model=; add the callback to a Trainer")
    return model
