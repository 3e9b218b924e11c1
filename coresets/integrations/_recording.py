"""What the frameworks' recorder callbacks share: the records, the timing, the ProxyRun."""

from __future__ import annotations

import time

from ..scaling.proxy import OutputRecorder, ProxyRun, _check_labels


class RecordingCallback:
    """Holds an :class:`~coresets.scaling.proxy.OutputRecorder` and the labels of its rows.

    A framework callback (Lightning's, the HF Trainer's) derives from this and from the
    framework's base class, and calls :meth:`_start`, ``self.recorder`` and :meth:`_stop`
    from its events.
    """

    def __init__(self, X, y, *, steps=None, batch_size=8192):
        self.recorder = OutputRecorder(X, steps, batch_size=batch_size)
        self.y = _check_labels(y, self.recorder.n_rows)
        self._t0 = None
        self.seconds_ = 0.0

    @property
    def logits(self) -> dict:
        """The records so far: step -> ndarray of float32, shape (n_rows, n_classes)."""
        return self.recorder.logits

    def _start(self):
        self._t0 = time.perf_counter()

    def _stop(self):
        if self._t0 is not None:
            self.seconds_ = time.perf_counter() - self._t0

    def proxy_run(self) -> ProxyRun:
        """The records as a one-seed :class:`~coresets.scaling.proxy.ProxyRun`.

        Returns
        -------
        ProxyRun
            ``logits`` of shape (1, n_steps, n_rows, n_classes); ``el2n(step)``,
            ``forgetting()``, ``aum()``, ``margin(step)`` give scores of shape (n_rows,).

        Raises
        ------
        ValueError
            When a requested step was never reached or nothing was recorded.
        """
        return self.recorder.to_proxy_run(self.y, seconds=self.seconds_)
