"""Record a Lightning run's training dynamics for difficulty scores (EL2N, forgetting, AUM).

Add :class:`OutputRecorderCallback` to a ``lightning.pytorch.Trainer`` that trains your own
``LightningModule`` on the pool; after ``fit`` its :meth:`~OutputRecorderCallback.proxy_run`
is a :class:`coresets.scaling.proxy.ProxyRun`, whose scores feed the scored selectors::

    rec = OutputRecorderCallback(X_pool, y_pool, steps=[50, 100, 200])
    Trainer(max_epochs=4, callbacks=[rec]).fit(module, loader)
    run = rec.proxy_run()
    CCSSelector(n_samples=0.3, scores=run.el2n(50)).fit(X_pool, y_pool)

This module imports Lightning; ``import coresets`` does not. Install it with
``pip install 'coresets[lightning]'``.
"""

from __future__ import annotations

try:
    from lightning.pytorch import Callback
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "coresets.integrations.lightning needs Lightning (lightning.pytorch); install it "
        "with pip install 'coresets[lightning]'"
    ) from exc

from ._recording import RecordingCallback

__all__ = ["OutputRecorderCallback"]


class OutputRecorderCallback(RecordingCallback, Callback):
    """Record the module's logits on fixed rows at chosen optimiser steps, or every epoch.

    The recording is :class:`coresets.scaling.proxy.OutputRecorder`'s: the module is put
    in eval mode, run on ``X`` in batches of ``batch_size`` without gradients, on the
    device of its parameters, and put back in its mode. Every process of a multi-device
    run records all of ``X``; use rank 0's records.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n_rows, ...), or mapping of str -> array-like
        The rows to record (usually the whole training pool, unshuffled, in the order of
        ``y``). An array is cast to float32 and passed as ``module(batch)``; a mapping is
        passed as keyword inputs, ``module(**batch)``. The module's output is its logits
        (or has them as ``output["logits"]`` / ``output.logits``).
    y : array-like of int, shape (n_rows,)
        The rows' labels (for the scores).
    steps : sequence of int, optional
        Optimiser steps (``trainer.global_step``, counting from 1) after which to record;
        with gradient accumulation a step is recorded once, after the batch that made it.
        Default: at the end of every training epoch, under the step reached then.
    batch_size : int, default 8192
        Rows per forward pass while recording.

    Attributes
    ----------
    recorder : OutputRecorder
        Holds the records: ``recorder.logits`` maps a step to float32 logits of shape
        (n_rows, n_classes).
    seconds_ : float
        Wall time from the start to the end of the last ``fit`` (training and recording).
    """

    def on_train_start(self, trainer, pl_module):
        self._start()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step = trainer.global_step
        # with accumulate_grad_batches > 1 several batches end at the same optimiser step;
        # the model is the same for all of them, so the first record stands
        if self.recorder.steps is not None and step not in self.recorder.logits:
            self.recorder(pl_module, step)

    def on_train_epoch_end(self, trainer, pl_module):
        if self.recorder.steps is None:
            self.recorder.record(pl_module, trainer.global_step)

    def on_train_end(self, trainer, pl_module):
        self._stop()
