"""Storages of facility location's similarity rows: one class per storage, chosen once.

A storage holds an ``(m candidates, n points)`` similarity in the row convention of
:class:`~coresets.submodular.functions.FacilityLocation` and does the per-storage
work on a coverage vector ``cur`` of length ``n_points`` (``cur[i]`` = the best
similarity of point ``i`` to the set so far):

``zeros()``
    the coverage of the empty set;
``gains(cur, cands)``
    float64 gains of a batch of candidate rows;
``add(cur, j)``
    raise ``cur`` to row ``j`` in place and return the realised gain;
``value(cur)``
    ``f(S) = sum(cur)`` in float64;
``bounds(cur, cands)``
    cheap float64 upper bounds on the gains, or ``None`` when the storage has none;
``kernels(cur)``
    the :class:`~coresets.submodular._kernels.Kernels` of the compiled loops, or
    ``None`` (torch rows run from Python).
"""

from __future__ import annotations

import numpy as np

from coresets.submodular import _kernels as K

# Bytes of temporary memory one batch of dense torch gains may use.
_TORCH_BLOCK_BYTES = 256 * 1024**2


class _Rows:
    """Shared bookkeeping; ``matrix`` is what the function exposes as ``similarity``.

    A storage with compiled kernels names them in ``compiled`` (``gain``, ``add``,
    ``fetch`` and ``bound`` or None, as in ``Kernels``) and their arrays in ``args``.
    """

    compiled = None

    def __init__(self, matrix, shape, args=()):
        self.matrix = matrix
        self.n_rows = int(shape[0])
        self.n_points = int(shape[1])
        self.args = args

    def zeros(self):
        # cur[i] is always 0 or a copy of a stored similarity, so the storage dtype holds
        # it exactly; float32 halves the cache footprint of the hot random reads
        return np.zeros(self.n_points, dtype=self.matrix.dtype)

    def value(self, cur):
        return float(cur.sum(dtype=np.float64))

    def bounds(self, cur, cands):
        return None

    def kernels(self, cur):
        if self.compiled is None:
            return None
        gain, add, fetch, bound = self.compiled
        return K.Kernels(gain, add, fetch, self.args, cur, bound=bound)


class DenseRows(_Rows):
    """A C-ordered float32/float64 numpy matrix: compiled kernels with a cheap bound."""

    compiled = (K.fl_dense_gain1, K.fl_dense_add1, K.fl_dense_fetch1, K.fl_dense_bound1)

    def __init__(self, S):
        super().__init__(S, S.shape, (S,))

    def gains(self, cur, cands):
        out = K.empty_gains(cands.shape[0])
        return K.run_gains(
            K.fl_dense_gains, K.fl_dense_gains_parallel, self.matrix, cur, cands, out
        )

    def add(self, cur, j):
        return K.fl_dense_add(self.matrix, cur, j)

    def bounds(self, cur, cands):
        # the gain summed in any order (vectorised), nudged up
        out = K.empty_gains(cands.shape[0])
        K.fl_dense_bounds(self.matrix, cur, cands, out)
        return out


class SparseRows(_Rows):
    """A CSR matrix with sorted, summed indices: compiled kernels over its rows, never dense."""

    compiled = (K.fl_sparse_gain1, K.fl_sparse_add1, K.fl_sparse_fetch1, None)

    def __init__(self, S):
        super().__init__(S, S.shape, (S.data, S.indices, S.indptr))

    def gains(self, cur, cands):
        out = K.empty_gains(cands.shape[0])
        return K.run_gains(
            K.fl_sparse_gains, K.fl_sparse_gains_parallel, *self.args, cur, cands, out
        )

    def add(self, cur, j):
        return K.fl_sparse_add(*self.args, cur, j)


class TorchRows(_Rows):
    """A floating torch tensor on its own device; float64 coverage, gains in row blocks."""

    def __init__(self, S):
        super().__init__(S, S.shape)

    def zeros(self):
        import torch

        return torch.zeros(self.n_points, dtype=torch.float64, device=self.matrix.device)

    def gains(self, cur, cands):
        import torch

        S = self.matrix
        idx = torch.from_numpy(cands).to(S.device)
        block = max(1, _TORCH_BLOCK_BYTES // (8 * S.shape[1]))
        parts = [
            (S[idx[lo : lo + block]].to(torch.float64) - cur).clamp_min_(0).sum(1)
            for lo in range(0, idx.numel(), block)
        ]
        if not parts:
            return np.zeros(0, dtype=np.float64)
        return torch.cat(parts).cpu().numpy()

    def add(self, cur, j):
        import torch

        row = self.matrix[j].to(torch.float64)
        g = float((row - cur).clamp_min_(0).sum())
        torch.maximum(cur, row, out=cur)
        return g

    def value(self, cur):
        return float(cur.sum())


class ImplicitRows(_Rows):
    """Rows computed from features (:class:`ImplicitSimilarity`), ranked by 16-bit bounds."""

    compiled = (
        K.fl_implicit_gain1,
        K.fl_implicit_add1,
        K.fl_implicit_fetch1,
        K.fl_implicit_bound1,
    )

    def __init__(self, similarity):
        super().__init__(similarity, similarity.shape, similarity.kernel_args())

    def zeros(self):
        # every value is computed in float32, so float32 coverage holds them exactly
        return np.zeros(self.n_points, dtype=np.float32)

    def gains(self, cur, cands):
        out = K.empty_gains(cands.shape[0])
        X, XT, sq, euclidean, top = self.args[:5]
        K.fl_implicit_gains(X, XT, sq, euclidean, top, cur, cands, out)
        return out

    def add(self, cur, j):
        return K.fl_implicit_add1(self.args, cur, j)

    def bounds(self, cur, cands):
        S = self.matrix
        out = K.empty_gains(cands.shape[0])
        K.fl_coded_bounds(S.codes, S.offset, S.step, cur, cands, out)
        return out
