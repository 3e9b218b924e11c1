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


def is_torch(x) -> bool:
    """True for a torch tensor (checked without importing torch)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach") and hasattr(x, "device")


def check_numeric(arr, name: str) -> None:
    """Raise ``TypeError`` naming ``name`` unless the numpy array ``arr`` holds numbers."""
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")


def check_option(value, options, name: str):
    """Return ``value`` if it is one of ``options`` (strings), else raise ``ValueError``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def check_real(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = True,
    high_open: bool = True,
) -> float:
    """Return ``value`` as a finite float in the interval given by ``low``/``high``.

    The bounds are open by default (``low < value < high``); ``low_open=False`` or
    ``high_open=False`` closes that end. Booleans are refused (``True`` is not a number).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or below or above:
        if high is None:
            want = f"be a finite number {'>' if low_open else '>='} {low:g}"
        else:
            want = f"lie in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must {want}, got {value}")
    return value


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
    if is_torch(X):
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:  # ragged lists
        raise ValueError(f"{name} could not be converted to an array: {exc}") from None
    check_numeric(arr, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_rows, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    target = arr.dtype if arr.dtype in dtype else dtype[0]
    arr = np.array(arr, dtype=target, copy=copy) if copy else arr.astype(target, copy=False)
    check_finite(arr, name)
    return arr


def check_nonnegative(array, name: str, *, message: str | None = None) -> None:
    """Raise ``ValueError`` naming ``name`` if any entry is negative.

    ``message``, optional, replaces the wording: a format string with ``{name}`` and
    ``{min}`` (scikit-learn's estimator checks look for their own phrase).
    """
    data = array.data if sp.issparse(array) else array
    if data.size and data.min() < 0:
        _refuse_negative(float(data.min()), name, message)


def _refuse_negative(minimum: float, name: str, message: str | None = None):
    if message is None:
        message = (
            "{name} must be non-negative (min is {min:.4g}); shift or clip "
            "similarities, e.g. use max(cos, 0) or metric='euclidean'"
        )
    raise ValueError(message.format(name=name, min=minimum))


def check_elements(indices, n: int | None, name: str, *, copy: bool = True) -> np.ndarray:
    """Return ``indices`` as a flat int64 array of elements in ``[0, n)``; repeats allowed.

    The one check of element ids before compiled code reads rows by them: one min and
    one max, O(len(indices)), against the O(len(indices) * row length) of the work it
    guards (0.4 ms for a million ids). ``copy=False`` returns an int64 C-contiguous
    input as is (the caller must not write to it). ``n=None``: no upper bound is known
    yet (a sampler before it meets its dataset), so ids need only be non-negative.
    """
    arr = np.asarray(indices)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.max() >= (2**63 if n is None else n):  # before a cast wraps
        raise ValueError(f"{name} holds indices outside [0, {n}): max {arr.max()}")
    flat = arr.ravel()
    arr = (
        np.ascontiguousarray(flat, dtype=np.int64)
        if not copy
        else np.array(flat, dtype=np.int64, copy=True)
    )
    lo, hi = arr.min(), arr.max()
    if n is None and lo < 0:
        raise ValueError(f"{name} must be non-negative, got min {lo}")
    if n is not None and (lo < 0 or hi >= n):
        raise ValueError(f"{name} holds indices outside [0, {n}): min {lo}, max {hi}")
    return arr


def check_element(j, n: int, name: str = "j") -> int:
    """Return the one element id ``j`` as an ``int`` in ``[0, n)`` (numpy integers accepted)."""
    if isinstance(j, np.ndarray) and j.ndim == 0:
        j = j[()]
    if isinstance(j, bool) or not isinstance(j, numbers.Integral):
        raise TypeError(f"{name} must be an integer element id, got {type(j).__name__} ({j!r})")
    j = int(j)
    if not 0 <= j < n:
        raise ValueError(f"{name} must be an element id in [0, {n}), got {j}")
    return j


#: Largest seed torch's generators take is 2**64 - 1; samplers seed with ``seed + epoch``,
#: so seeds stop at 2**63 - 1 and leave room for any epoch count.
MAX_TORCH_SEED = 2**63 - 1


def check_seed(seed, name: str = "seed") -> int:
    """Return a torch seed as an ``int`` in ``[0, MAX_TORCH_SEED]`` (see there)."""
    return check_int(seed, name, low=0, high=MAX_TORCH_SEED)


def check_float_dtype(dtype, name: str = "dtype", options=(np.float32, np.float64)) -> np.dtype:
    """Return ``dtype`` as a numpy dtype among ``options`` (names accepted), else ``ValueError``."""
    names = tuple(np.dtype(o).name for o in options)
    try:
        resolved = np.dtype(dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be one of {names}, got {dtype!r}") from None
    if resolved not in [np.dtype(o) for o in options]:
        raise ValueError(f"{name} must be one of {names}, got {resolved}")
    return resolved


def check_indices(indices, n: int | None, name: str) -> np.ndarray:
    """Return ``indices`` as a 1-D int64 array of distinct values in ``[0, n)``.

    ``n=None`` leaves the upper end open (see :func:`check_elements`).
    """
    arr = np.asarray(indices)
    if arr.size and arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    arr = check_elements(arr, n, name)
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{name} holds duplicate indices")
    return arr


def check_costs(costs, n: int, name: str = "costs") -> np.ndarray:
    """Return ``costs`` as a float64 array of length ``n`` with finite positive entries."""
    arr = None
    if costs is not None:
        arr = np.asarray(costs)
        check_numeric(arr, name)  # strings would otherwise be parsed as numbers
        arr = arr.astype(np.float64)
    if arr is None or arr.ndim != 1 or arr.shape[0] != n:
        shape = None if arr is None else arr.shape
        raise ValueError(f"{name} must be a 1-D array of length {n}, got shape {shape}")
    check_finite(arr, name)
    if (arr <= 0).any():
        raise ValueError(
            f"{name} must be strictly positive; found {int((arr <= 0).sum())} entries <= 0"
        )
    return arr


def check_dense_budget(n_bytes: int, what: str, name: str, budget: int | None) -> None:
    """Refuse a dense allocation of ``n_bytes`` that exceeds ``budget``."""
    budget = DEFAULT_MEMORY_BUDGET if budget is None else budget
    if n_bytes > budget:
        raise ValueError(
            f"{name}: {what} would need {n_bytes / 1024**3:.2f} GiB, more than the memory "
            f"budget of {budget / 1024**3:.2f} GiB; use a sparse kNN graph instead "
            "(pass n_neighbors=32, or coresets.knn.knn_graph)"
        )


def check_similarity(
    similarity,
    *,
    name: str = "similarity",
    square=False,
    nonnegative=True,
    negative_message: str | None = None,
):
    """Validate a stored similarity matrix; return ``(kind, matrix)``.

    ``kind`` is ``"numpy"`` (a C-ordered float32/float64 array), ``"sparse"`` (CSR with
    float32/float64 data, duplicates summed, indices sorted) or ``"torch"`` (a
    floating, detached tensor on its own device). Raises naming ``name`` when the
    matrix is not 2-D, is empty, is not square (``square=True``), holds NaN or inf, or
    holds negative values (``nonnegative=True``; ``negative_message`` rewords that error,
    see :func:`check_nonnegative`).
    """
    if sp.issparse(similarity):
        check_sparse_structure(similarity, name)
        S = sp.csr_matrix(similarity)  # CSC/COO become CSR in O(nnz), never dense
        if S.dtype not in (np.float32, np.float64):
            S = S.astype(np.float64)
        S.sum_duplicates()
        S.sort_indices()
        kind = "sparse"
    elif is_torch(similarity):
        import torch

        S = similarity.detach()
        if not torch.is_floating_point(S):
            S = S.to(torch.float32)
        kind = "torch"
    else:
        if isinstance(similarity, (str, bytes)) or similarity is None:
            raise TypeError(
                f"{name} must be a numpy array, torch tensor or scipy sparse matrix, "
                f"got {type(similarity).__name__}"
            )
        S = np.asarray(similarity)
        check_numeric(S, name)
        if S.dtype not in (np.float32, np.float64):
            S = S.astype(np.float64)
        kind = "numpy"
    if S.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {tuple(S.shape)}")
    if kind == "numpy":
        S = np.ascontiguousarray(S)
    if 0 in S.shape:
        raise ValueError(f"{name} is empty (shape {tuple(S.shape)})")
    if square and S.shape[0] != S.shape[1]:
        raise ValueError(f"{name} must be square (n x n), got shape {tuple(S.shape)}")
    if kind == "torch":
        import torch

        if not bool(torch.isfinite(S).all()):
            raise ValueError(f"{name} contains NaN or inf values; remove or impute them first")
        if nonnegative and float(S.min()) < 0:
            _refuse_negative(float(S.min()), name, negative_message)
    else:
        check_finite(S, name)
        if nonnegative:
            check_nonnegative(S, name, message=negative_message)
    return kind, S


def check_sparse_structure(S, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` unless the sparse matrix ``S`` is well formed.

    Compiled code (scipy's conversions and ours) walks the index arrays without bounds
    checks, so this runs first. CSR/CSC/BSR: integer index arrays, ``indptr`` of length
    ``rows + 1`` starting at 0 and non-decreasing, ``indptr[-1] <= len(indices)``,
    ``len(indices) == len(data)`` and every index in ``[0, n_cols)`` (scipy's
    ``check_format(full_check=True)`` on a shallow copy, so ``S`` is not modified).
    COO: equal lengths and row/column ids inside the shape. Costs a few passes over the
    index arrays: measured 0.02 s for a 1M x 32 graph and 0.16 s for a 10M x 32 one
    (320M stored entries, 2 cores), small next to building or reading such a graph.
    """
    fmt = S.format
    try:
        if fmt in ("csr", "csc", "bsr"):
            for part in ("indices", "indptr"):
                arr = getattr(S, part)
                if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iu":
                    kind = getattr(arr, "dtype", type(arr).__name__)
                    raise ValueError(f"{part} must be an integer array, got {kind}")
            if not isinstance(S.data, np.ndarray):
                raise ValueError(f"data must be an array, got {type(S.data).__name__}")
            copy = S.__class__.__new__(S.__class__)
            copy.__dict__.update(S.__dict__)  # check_format may rebind arrays; keep S intact
            copy.check_format(full_check=True)
        elif fmt == "coo":
            coords = getattr(S, "coords", None) or (S.row, S.col)
            if any(len(c) != len(S.data) for c in coords):
                raise ValueError("row, col and data must have the same length")
            for axis, (c, size) in enumerate(zip(coords, S.shape, strict=True)):
                if c.size and (c.min() < 0 or c.max() >= size):
                    raise ValueError(f"{('row', 'column')[axis]} ids must lie in [0, {size})")
    except ValueError as exc:
        raise ValueError(f"{name} is not a well-formed {fmt.upper()} matrix: {exc}") from None
