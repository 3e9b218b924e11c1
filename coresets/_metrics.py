"""The one table of embedding metrics and the one unit-row normalisation.

Every entry point that compares rows of embeddings (kNN graphs, dense similarities,
coreset weights, k-center, herding, sharded selection) resolves its ``metric`` here, so
the names, their aliases and the zero-row policy are the same everywhere.

``"euclidean"``
    squared L2 distance (FAISS ``METRIC_L2``);
``"cosine"``
    inner product of unit rows (``METRIC_INNER_PRODUCT`` after :func:`unit_rows`);
``"dot"``
    raw inner product (``METRIC_INNER_PRODUCT``); ``"ip"`` is FAISS's name for it.
"""

from __future__ import annotations

import numpy as np

from coresets._validation import check_option

__all__ = [
    "METRICS",
    "check_metric",
    "check_magnitude",
    "unit_rows",
    "scale_to_unit",
    "faiss_metric",
]

#: The metrics on embeddings, in the order error messages list them.
METRICS = ("euclidean", "cosine", "dot")

#: Other spellings users bring from FAISS and scikit-learn.
ALIASES = {"ip": "dot", "inner_product": "dot", "l2": "euclidean"}

_ZERO_ROWS = ("raise", "keep")


def check_metric(metric, *, allowed=METRICS, name: str = "metric") -> str:
    """Return the canonical name of ``metric`` (aliases resolved), or raise naming ``name``.

    Parameters
    ----------
    metric : str
        One of ``allowed`` or an alias of one (see :data:`ALIASES`).
    allowed : tuple of str, default :data:`METRICS`
        The names this caller accepts (e.g. ``METRICS + ("precomputed",)``).
    name : str, default "metric"
        The argument's name in the error message.

    Returns
    -------
    str
    """
    if isinstance(metric, str):
        canonical = ALIASES.get(metric, metric)
        if canonical in allowed:
            return canonical
    raise ValueError(f"{name} must be one of {tuple(allowed)}, got {metric!r}")


def unit_rows(X, *, zero_rows: str = "raise", name: str = "X", dtype=None) -> np.ndarray:
    """Rows of ``X`` scaled to unit L2 norm (a new array; ``X`` is never written to).

    Norms are computed in float64, so rows whose float32 squared norm would overflow
    (entries past ~1e19) still normalise correctly; float64 rows whose squares overflow
    float64 (past ~1e154) are scaled by their largest entry first.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Finite numbers (validated by the caller).
    zero_rows : {"raise", "keep"}, default "raise"
        ``"raise"``: a zero row is an error (cosine similarity is undefined for it);
        ``"keep"``: it stays zero, so its similarity to everything is 0 (sharded
        selection and weights use this: one zero row must not stop a pass over
        millions of rows).
    name : str, default "X"
        The argument's name in the error message.
    dtype : numpy dtype, optional
        Output dtype (default: ``X``'s floating dtype, float64 for integers).

    Returns
    -------
    ndarray of shape (n, d), C-contiguous
    """
    check_option(zero_rows, _ZERO_ROWS, "zero_rows")
    X = np.asarray(X)
    if dtype is None:
        dtype = X.dtype if X.dtype.kind == "f" else np.float64
    n = X.shape[0]
    norms = np.empty(n, dtype=np.float64)
    # in row blocks: the float64 temporaries stay ~32 MiB however large X is
    # (at 1M x 384, whole-array float64 copies cost 3 GiB each)
    for s in range(0, n, _NORM_BLOCK):
        block = X[s : s + _NORM_BLOCK].astype(np.float64)
        norms[s : s + _NORM_BLOCK] = np.sqrt(np.einsum("ij,ij->i", block, block))
    huge = np.flatnonzero(np.isinf(norms))
    if huge.size:  # float64 rows past ~1e154: their squares overflow, so scale them first
        top = np.abs(X[huge]).max(axis=1).astype(np.float64)
        scaled = X[huge] / top[:, None]
        norms[huge] = top * np.sqrt(np.einsum("ij,ij->i", scaled, scaled))
    zero = np.flatnonzero(norms == 0)
    if zero.size and zero_rows == "raise":
        raise ValueError(
            f"{name} has {zero.size} zero rows (first: row {zero[0]}); cosine similarity "
            "is undefined for zero vectors: drop them or use metric='euclidean'"
        )
    if zero.size:
        norms[zero] = 1.0
    out = np.empty(X.shape, dtype=dtype)
    for s in range(0, n, _NORM_BLOCK):
        out[s : s + _NORM_BLOCK] = X[s : s + _NORM_BLOCK] / norms[s : s + _NORM_BLOCK, None]
    return out


#: Headroom kept below the dtype's largest value: rounding of sums, and the expansion
#: ``|a|^2 + |b|^2 - 2 a.b`` of a squared distance, whose terms reach ``4 max|x|^2``.
_HEADROOM = {"dot": 2.0, "euclidean": 8.0}

# rows per block of the exact norm pass (bounds its float64 temporary)
_NORM_BLOCK = 1 << 16


def check_magnitude(X, metric: str, *, dtype=np.float32, name: str = "X", where=None) -> None:
    """Refuse rows whose dot products (``"dot"``) or squared distances (``"euclidean"``)
    would overflow ``dtype``, with a ``ValueError`` naming ``name``.

    By Cauchy-Schwarz every dot product, and every partial sum of one, is at most
    ``max|x|^2`` in magnitude and every squared distance at most ``4 max|x|^2``, so one
    bound on the row norms decides it. ``"cosine"`` divides by the norms (computed in
    float64 by :func:`unit_rows`) and never overflows. Costs a max and a min over ``X``;
    only when the cheap bound ``n_features * max|x_ij|^2`` fails are the row norms
    computed (in float64, in blocks).

    ``where``, optional, maps a row of ``X`` to its description in the message (sharded
    data: the global row id and shard file); by default "row i".
    """
    if metric == "cosine":
        return
    X = np.asarray(X)
    if X.size == 0:
        return
    limit = float(np.finfo(dtype).max) / _HEADROOM[metric]
    top = max(abs(float(X.max())), abs(float(X.min())))
    if X.shape[1] * top * top <= limit:
        return
    sq, first = 0.0, None
    for lo in range(0, X.shape[0], _NORM_BLOCK):
        block = np.asarray(X[lo : lo + _NORM_BLOCK], dtype=np.float64)
        norms = np.einsum("ij,ij->i", block, block)
        sq = max(sq, float(norms.max()))
        if first is None and sq > limit:
            first = lo + int(np.argmax(norms > limit))
    if sq <= limit:
        return
    at = where(first) if where is not None else f"row {first}"
    norm = float(np.sqrt(sq))
    what = "dot products" if metric == "dot" else "squared distances"
    reach = sq if metric == "dot" else 4 * sq
    raise ValueError(
        f"{name} has rows of norm up to {norm:.3g} (first: {at}): their {what} reach "
        f"{reach:.3g}, past what "
        f"{np.dtype(dtype).name} holds ({float(np.finfo(dtype).max):.3g}); scale {name} down "
        f"(e.g. divide it by {norm:.3g}) or use metric='cosine'"
    )


def scale_to_unit(X) -> tuple[np.ndarray, float]:
    """``(X * 2**-e, 2**e)`` with ``2**e`` the power of two nearest above ``max |X|``.

    For methods whose choices do not change when every row is scaled by one factor
    (k-center, herding, a Gaussian kernel with a data-driven bandwidth): their squared
    norms and distances are then at most ``n_features * 4`` and never overflow, and rows
    of ~1e-20 no longer square into float32 subnormals or zero. A power of two scales
    exactly (only the exponent changes), so ordinary inputs give bit-identical results;
    they are returned as is (no copy) when ``max |X|`` already lies in ``[2**-16, 2**16]``.
    Distances and norms computed on the scaled rows are multiplied by the factor to give
    those of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n, d), floating, finite (validated by the caller)

    Returns
    -------
    scaled : ndarray of shape (n, d), ``X``'s dtype
    factor : float, a power of two (1.0 for an all-zero ``X``)
    """
    X = np.asarray(X)
    top = max(abs(float(X.max())), abs(float(X.min()))) if X.size else 0.0
    if top == 0.0 or 2.0**-16 <= top <= 2.0**16:
        return X, 1.0
    exponent = np.frexp(top)[1]  # top = m * 2**exponent, 0.5 <= m < 1
    # np.ldexp keeps X's dtype and is exact unless a tiny entry beside a huge one
    # drops below the dtype's smallest subnormal (it is then ~1e-38 of the largest row:
    # below float32's resolution of any distance to that row anyway)
    return np.ldexp(X, -exponent).astype(X.dtype, copy=False), float(2.0**exponent)


def faiss_metric(metric: str):
    """The FAISS metric constant of a canonical ``metric`` (from :func:`check_metric`)."""
    import faiss

    return faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
