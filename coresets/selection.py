"""The result every optimiser and selector hands back."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Selection:
    """A chosen subset.

    Attributes
    ----------
    indices : ndarray of int64, shape (k,)
        Chosen elements in the order they were added (global ids for sharded data).
    gains : ndarray of float64, shape (k,)
        Marginal gain of each element when it was added; ``gains.sum() == objective``
        minus the value of any ``initial_subset``.
    objective : float
        Value of the objective on the chosen set (initial subset included).
    weights : ndarray of float64, shape (k,) or None
        Coreset weights (how many ground-set points each chosen one stands for), when
        the producer computed them.
    """

    indices: np.ndarray
    gains: np.ndarray
    objective: float
    weights: np.ndarray | None = field(default=None)

    def __post_init__(self):
        object.__setattr__(self, "indices", np.asarray(self.indices, dtype=np.int64))
        object.__setattr__(self, "gains", np.asarray(self.gains, dtype=np.float64))
        if self.indices.shape != self.gains.shape:
            raise ValueError(
                f"indices and gains must have the same shape, got {self.indices.shape} "
                f"and {self.gains.shape}"
            )
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=np.float64)
            if w.shape != self.indices.shape:
                raise ValueError(f"weights must have shape {self.indices.shape}, got {w.shape}")
            object.__setattr__(self, "weights", w)
        object.__setattr__(self, "objective", float(self.objective))

    def __len__(self) -> int:
        return int(self.indices.shape[0])
