"""Dense pairwise similarities from feature vectors, in apricot's conventions."""

from __future__ import annotations

import numpy as np

from coresets._validation import check_array_2d, check_memory
from coresets.submodular._kernels import finish_squared_distances, subtract_from, touch_pages

__all__ = ["similarity", "METRICS"]

METRICS = ("euclidean", "cosine", "dot")

# Rows of the output computed per block; bounds float64 temporaries to ~block * n * 8 bytes.
_BLOCK_ROWS = 1024


def similarity(X, metric="euclidean", *, dtype=np.float32, device="cpu", memory_budget=None):
    """Dense non-negative (n, n) similarity matrix of the rows of ``X``.

    Parameters
    ----------
    X : array-like, shape (n, d)
        Feature vectors (finite).
    metric : {"euclidean", "cosine", "dot"}, default "euclidean"
        ``euclidean``: ``max(D2) - D2`` with ``D2`` the squared euclidean
        distances, exactly apricot's ``metric="euclidean"`` conversion (so
        facility location on it reproduces apricot's ranking). ``cosine``:
        ``max(cos, 0)``. ``dot``: ``max(x_i . x_j, 0)``. Negative values are
        clipped because facility location needs non-negative similarities.
    dtype : numpy dtype, default float32
        Storage and compute dtype. float32 halves the memory and is exact on
        integer-valued data such as digits; float64 matches apricot (which computes
        in float64) bit for bit on any data.
    device : {"cpu", "auto", "cuda"} or torch.device, default "cpu"
        ``"cpu"`` returns a numpy array. ``"cuda"`` (or ``"auto"`` when CUDA is
        present) computes on the GPU with torch and returns a CUDA tensor, which
        ``FacilityLocation`` then maximises on the GPU.
    memory_budget : int, optional
        Largest matrix allowed, in bytes (default
        ``coresets._validation.DEFAULT_MEMORY_BUDGET``); above it a ``ValueError``
        says to use a sparse kNN graph (``n_neighbors``).

    Returns
    -------
    ndarray or torch.Tensor, shape (n, n)
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    X = check_array_2d(X, "X")
    n = X.shape[0]
    check_memory(
        n * n * dtype.itemsize, f"a dense {n} x {n} {dtype} similarity matrix", "X", memory_budget
    )
    if metric == "cosine":
        norms = np.linalg.norm(X.astype(np.float64), axis=1)
        if (norms == 0).any():
            raise ValueError(
                f"X has {int((norms == 0).sum())} all-zero rows; cosine similarity is undefined for them"
            )
        X = X / norms[:, None].astype(X.dtype)
    from coresets._device import cuda_available

    if device == "cpu" or (device == "auto" and not cuda_available()):
        return _similarity_numpy(X, metric, dtype)
    return _similarity_torch(X, metric, dtype, device)


def _similarity_numpy(X, metric, dtype):
    # Computed in the storage dtype, straight into the output (no N x N temporary): float32
    # runs single-precision BLAS twice as fast, and is exact on integer-valued data such as
    # digits; float64 reproduces sklearn's euclidean_distances (and so apricot) on any data.
    n = X.shape[0]
    Xc = np.ascontiguousarray(X, dtype=dtype)
    S = np.empty((n, n), dtype=dtype)
    touch_pages(S)
    sq = np.einsum("ij,ij->i", Xc, Xc) if metric == "euclidean" else None
    XT = np.ascontiguousarray(Xc.T)  # BLAS straight into the output slice needs a C-order operand
    top = 0.0
    for lo in range(0, n, _BLOCK_ROWS):
        hi = min(n, lo + _BLOCK_ROWS)
        block = S[lo:hi]
        np.dot(Xc[lo:hi], XT, out=block)
        if metric == "euclidean":
            # the expansion of sklearn's euclidean_distances(squared=True), clipped at 0
            # with a zero diagonal, fused into one compiled pass
            top = max(top, finish_squared_distances(block, sq[lo:hi], sq, lo))
        else:
            np.maximum(block, 0, out=block)
    if metric == "euclidean":
        subtract_from(S.dtype.type(top), S)
    return S


def _similarity_torch(X, metric, dtype, device):
    import torch

    from coresets._device import resolve_device

    dev = resolve_device(device)
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float64)).to(dev)
    n = Xt.shape[0]
    S = torch.empty((n, n), dtype=tdtype, device=dev)
    sq = (Xt * Xt).sum(1) if metric == "euclidean" else None
    for lo in range(0, n, _BLOCK_ROWS):
        hi = min(n, lo + _BLOCK_ROWS)
        block = Xt[lo:hi] @ Xt.T
        if metric == "euclidean":
            block = (sq[lo:hi, None] + sq[None, :] - 2.0 * block).clamp_min_(0.0)
            idx = torch.arange(lo, hi, device=dev)
            block[idx - lo, idx] = 0.0
        S[lo:hi] = block.to(tdtype)
    if metric == "euclidean":
        S = torch.sub(S.max(), S, out=S)
    else:
        S.clamp_min_(0)
    return S
