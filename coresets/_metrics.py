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

__all__ = ["METRICS", "check_metric", "unit_rows", "faiss_metric"]

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
    (entries past ~1e19) still normalise correctly.

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
    norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
    zero = np.flatnonzero(norms == 0)
    if zero.size and zero_rows == "raise":
        raise ValueError(
            f"{name} has {zero.size} zero rows (first: row {zero[0]}); cosine similarity "
            "is undefined for zero vectors: drop them or use metric='euclidean'"
        )
    if zero.size:
        norms[zero] = 1.0
    scaled = X / norms[:, None] if X.dtype == np.float64 else X.astype(np.float64) / norms[:, None]
    return np.ascontiguousarray(scaled, dtype=dtype)


def faiss_metric(metric: str):
    """The FAISS metric constant of a canonical ``metric`` (from :func:`check_metric`)."""
    import faiss

    return faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
