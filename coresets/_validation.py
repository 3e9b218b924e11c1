"""Input checks shared by every public entry point.

Each helper raises ``ValueError`` or ``TypeError`` whose message starts with the
name of the offending argument, so users see at once what to fix.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

#: Default memory budget for dense N x N matrices (bytes). Past it, callers are
#: told to use a sparse kNN graph (``n_neighbors``) instead.
DEFAULT_MEMORY_BUDGET = 8 * 1024**3


def check_random_state(random_state) -> np.random.Generator:
    """Return a fresh ``numpy.random.Generator`` and never touch global state.

    ``random_state`` may be None, an int, a ``SeedSequence``, a ``Generator`` (used
    as is) or a legacy ``RandomState`` (a seed is drawn from it).
    """
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(random_state, numbers.Integral) and random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    raise TypeError(
        "random_state must be None, an int, a numpy Generator or RandomState, "
        f"got {type(random_state).__name__}"
    )


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Check that ``value`` is an integer in ``[low, high]`` and return it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} ({value!r})")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_n_select(k, n: int, name: str = "k") -> int:
    """Resolve a subset size: an int in ``[1, n]`` or a float fraction in ``(0, 1]``."""
    if isinstance(k, numbers.Real) and not isinstance(k, (numbers.Integral, bool)):
        if not np.isfinite(k) or not 0.0 < k <= 1.0:
            raise ValueError(f"{name} as a fraction must lie in (0, 1], got {k}")
        return max(1, int(round(k * n)))
    return check_int(k, name, low=1, high=n)


def check_finite(array, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` if a dense or sparse array holds NaN or inf."""
    data = np.asarray(array.data if sp.issparse(array) else array)
    flat = data.reshape(-1) if data.flags.c_contiguous else data.ravel()
    # in blocks, so checking an N x N matrix needs no N x N boolean temporary
    step = 1 << 24
    for lo in range(0, flat.shape[0], step):
        block = flat[lo : lo + step]
        if not np.isfinite(block).all():
            bad = "NaN" if np.isnan(block).any() else "inf"
            raise ValueError(f"{name} contains {bad} values; remove or impute them first")


def check_array_2d(X, name: str = "X", *, dtype=(np.float64, np.float32), copy=False) -> np.ndarray:
    """Return ``X`` as a finite, non-empty 2-D float numpy array.

    Float32 and float64 inputs keep their dtype; anything else is converted to
    float64. Object arrays and strings raise ``TypeError``.
    """
    if sp.issparse(X):
        raise TypeError(f"{name} must be a dense array, got a sparse matrix")
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # torch tensor
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:  # ragged lists
        raise ValueError(f"{name} could not be converted to an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    target = arr.dtype if arr.dtype in dtype else dtype[0]
    arr = np.array(arr, dtype=target, copy=copy) if copy else arr.astype(target, copy=False)
    check_finite(arr, name)
    return arr


def check_nonnegative(array, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` if any entry is negative."""
    data = array.data if sp.issparse(array) else array
    if data.size and data.min() < 0:
        raise ValueError(
            f"{name} must be non-negative (min is {float(data.min()):.4g}); shift or clip "
            "similarities, e.g. use max(cos, 0) or metric='euclidean'"
        )


def check_elements(indices, n: int, name: str) -> np.ndarray:
    """Return ``indices`` as a flat int64 array of elements in ``[0, n)``; repeats allowed."""
    arr = np.asarray(indices)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64).ravel()
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"{name} holds indices outside [0, {n}): min {arr.min()}, max {arr.max()}")
    return arr


def check_indices(indices, n: int, name: str) -> np.ndarray:
    """Return ``indices`` as a 1-D int64 array of distinct values in ``[0, n)``."""
    arr = np.asarray(indices)
    if arr.size and arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    arr = check_elements(arr, n, name)
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{name} holds duplicate indices")
    return arr


def check_costs(costs, n: int, name: str = "costs") -> np.ndarray:
    """Return ``costs`` as a float64 array of length ``n`` with finite positive entries."""
    arr = np.asarray(costs, dtype=np.float64) if costs is not None else None
    if arr is None or arr.ndim != 1 or arr.shape[0] != n:
        shape = None if arr is None else arr.shape
        raise ValueError(f"{name} must be a 1-D array of length {n}, got shape {shape}")
    check_finite(arr, name)
    if (arr <= 0).any():
        raise ValueError(
            f"{name} must be strictly positive; found {int((arr <= 0).sum())} entries <= 0"
        )
    return arr


def check_memory(n_bytes: int, what: str, name: str, budget: int | None) -> None:
    """Refuse a dense allocation of ``n_bytes`` that exceeds ``budget``."""
    budget = DEFAULT_MEMORY_BUDGET if budget is None else budget
    if n_bytes > budget:
        raise ValueError(
            f"{name}: {what} would need {n_bytes / 1024**3:.2f} GiB, more than the memory "
            f"budget of {budget / 1024**3:.2f} GiB; use a sparse kNN graph instead "
            "(pass n_neighbors=32, or coresets.knn.knn_graph)"
        )
