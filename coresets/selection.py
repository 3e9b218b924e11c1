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

    def to_arrays(self) -> dict:
        """The selection as plain arrays (for ``np.savez`` and checkpoints), lossless.

        Returns
        -------
        dict
            ``indices`` (int64, (k,)), ``gains`` (float64, (k,)), ``objective`` (float64,
            shape ()) and, when the selection has weights, ``weights`` (float64, (k,)).
        """
        arrays = {
            "indices": self.indices,
            "gains": self.gains,
            "objective": np.float64(self.objective),
        }
        if self.weights is not None:
            arrays["weights"] = self.weights
        return arrays

    @classmethod
    def from_arrays(cls, arrays) -> Selection:
        """Rebuild a selection from :meth:`to_arrays`' output (a dict or an ``NpzFile``).

        Raises
        ------
        ValueError
            When ``arrays`` lacks ``indices``, ``gains`` or ``objective``, or holds keys
            that no selection writes (an array set made for something else).
        """
        keys = set(arrays.keys())
        missing = {"indices", "gains", "objective"} - keys
        extra = keys - {"indices", "gains", "objective", "weights"}
        if missing or extra:
            raise ValueError(
                "arrays is not a saved Selection: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {sorted(missing)}" if missing else "",
                        f"unexpected {sorted(extra)}" if extra else "",
                    )
                    if part
                )
            )
        objective = np.asarray(arrays["objective"])
        if objective.shape != ():
            raise ValueError(f"arrays['objective'] must be a scalar, got shape {objective.shape}")
        return cls(
            indices=arrays["indices"],
            gains=arrays["gains"],
            objective=float(objective),
            weights=arrays["weights"] if "weights" in keys else None,
        )

    def with_weights(self, weights) -> Selection:
        """The same selection carrying ``weights`` (shape (k,)) instead of its own."""
        return Selection(self.indices, self.gains, self.objective, weights=weights)
