"""Dense pairwise similarities from feature vectors, in apricot's conventions."""

from __future__ import annotations

import numpy as np

from coresets._device import cuda_device
from coresets._metrics import METRICS, check_magnitude, check_metric, unit_rows
from coresets._validation import (
    check_array_2d,
    check_dense_budget,
    check_elements,
    check_float_dtype,
)
from coresets.submodular import _kernels as K
from coresets.submodular._kernels import finish_squared_distances, subtract_from, touch_pages

__all__ = ["similarity", "ImplicitSimilarity", "METRICS"]

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
        ``max(cos, 0)`` (a zero row is an error: its cosine is undefined).
        ``dot`` (alias ``"ip"``): ``max(x_i . x_j, 0)``. Negative values are
        clipped because facility location needs non-negative similarities.
    dtype : numpy dtype, default float32
        Storage and compute dtype. float32 halves the memory and is exact on
        integer-valued data such as digits; float64 matches apricot (which computes
        in float64) bit for bit on any data.
    device : {"cpu", "auto", "cuda"} or torch.device, default "cpu"
        A CPU device (``"cpu"`` or ``torch.device("cpu")``, or ``"auto"`` without
        CUDA) returns a numpy array. A CUDA device computes on the GPU with torch
        and returns a CUDA tensor, which ``FacilityLocation`` then maximises on the
        GPU.
    memory_budget : int, optional
        Largest matrix allowed, in bytes (default
        ``coresets._validation.DEFAULT_MEMORY_BUDGET``); above it a ``ValueError``
        says to use a sparse kNN graph (``n_neighbors``).

    Returns
    -------
    ndarray or torch.Tensor, shape (n, n)
    """
    metric = check_metric(metric)
    dtype = check_float_dtype(dtype, "dtype")
    X = check_array_2d(X, "X")
    check_magnitude(X, metric, dtype=dtype, name="X")
    n = X.shape[0]
    check_dense_budget(
        n * n * dtype.itemsize, f"a dense {n} x {n} {dtype} similarity matrix", "X", memory_budget
    )
    if metric == "cosine":
        X = unit_rows(X, zero_rows="raise")
    dev = cuda_device(device)
    if dev is None:
        return _similarity_numpy(X, metric, dtype)
    return _similarity_torch(X, metric, dtype, dev)


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


def _similarity_torch(X, metric, dtype, dev):
    import torch

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


class ImplicitSimilarity:
    """The dense similarity of :func:`similarity`, never stored: rows are computed from ``X``.

    For dense facility location at a quarter of the memory of a float64 matrix
    (apricot's) and half of float32's. What is kept is ``X`` and a table of
    16-bit codes, one per pair, each an upper bound on its similarity (every row
    on its own scale). Lazy and stochastic greedy rank candidates by the cheap
    bounds the codes give and compute a candidate's exact row (``d`` multiply-adds
    per entry) only when its bound reaches the top, so the selection, gains and
    objective are those of the exact similarity. ``FacilityLocation`` accepts it
    in place of a matrix; CPU only.

    The exact values are ``similarity(X, metric)``'s up to float32 rounding (the
    dot products are summed in a fixed order here, whatever the BLAS); on
    integer-valued data such as digits they are identical.

    Parameters
    ----------
    X : array-like, shape (n, d)
        Feature vectors (finite); kept as float32.
    metric : {"euclidean", "cosine", "dot"}, default "euclidean"
        As in :func:`similarity`.
    memory_budget : int, optional
        Largest code table allowed, in bytes (``2 n^2``); default
        ``coresets._validation.DEFAULT_MEMORY_BUDGET``.
    progress : bool, default False
        Show a progress bar while the code table is built.

    Attributes
    ----------
    shape : tuple (n, n)
    codes : ndarray of uint16, shape (n, n)
        Row ``j`` decodes to upper bounds ``offset[j] + step[j] * codes[j]``.
    nbytes : int
        Memory held (features, norms and codes).
    """

    def __init__(self, X, metric="euclidean", *, memory_budget=None, progress=False):
        from tqdm.auto import tqdm

        metric = check_metric(metric)
        X = check_array_2d(X, "X")
        check_magnitude(X, metric, dtype=np.float32, name="X")  # rows computed in float32
        n, d = X.shape
        check_dense_budget(
            n * n * 2, f"a {n} x {n} table of 16-bit similarity codes", "X", memory_budget
        )
        if metric == "cosine":
            X = unit_rows(X, zero_rows="raise")
        self.metric = metric
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self._XT = np.ascontiguousarray(self.X.T)
        self._euclidean = metric == "euclidean"
        # the norms in float32 as the dense path's einsum gives them
        self._sq = np.einsum("ij,ij->i", self.X, self.X)
        self.codes = np.empty((n, n), dtype=np.uint16)
        touch_pages(self.codes)
        row_max = np.empty(n, dtype=np.float32)
        self.step = np.empty(n, dtype=np.float64)
        rows_per_call = max(64, -(-n // 50))  # about 50 progress steps
        with tqdm(total=n, disable=not progress, desc="similarity codes", leave=False) as bar:
            for lo in range(0, n, rows_per_call):
                hi = min(n, lo + rows_per_call)
                K.implicit_build_codes(
                    self.X,
                    self._XT,
                    self._sq,
                    self._euclidean,
                    lo,
                    hi,
                    self.codes,
                    row_max,
                    self.step,
                )
                bar.update(hi - lo)
        if self._euclidean:
            self.top = np.float32(row_max.max())
            # a float32 subtraction top - D2 may round up by half an ulp of top
            self.offset = np.full(n, float(self.top) * (1 + 2.0**-22), dtype=np.float64)
        else:
            self.top = np.float32(0)
            self.offset = np.zeros(n, dtype=np.float64)
        self.shape = (n, n)

    @property
    def nbytes(self):
        return self.codes.nbytes + 2 * self.X.nbytes + self._sq.nbytes + 2 * self.step.nbytes

    def rows(self, indices):
        """Exact similarity rows, float32 array of shape (len(indices), n)."""
        n = self.shape[0]
        ids = check_elements(indices, n, "indices")
        out = np.empty((ids.shape[0], n), dtype=np.float32)
        K._value_rows(self.X, self._XT, self._sq, self._euclidean, ids, out)
        K._values_to_similarities(out, self._euclidean, self.top)
        return out

    def kernel_args(self):
        """Arrays for the compiled kernels, with a fresh one-row scratch buffer."""
        row = np.empty((1, self.shape[0]), dtype=np.float32)
        row_id = np.full(1, -1, dtype=np.int64)
        return (
            self.X,
            self._XT,
            self._sq,
            self._euclidean,
            self.top,
            self.codes,
            self.offset,
            self.step,
            row,
            row_id,
        )

    def __repr__(self):
        n = self.shape[0]
        return f"ImplicitSimilarity(n={n}, metric={self.metric!r}, {self.nbytes / 1024**3:.2f} GiB)"
