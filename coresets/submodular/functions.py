"""Submodular set functions over a ground set ``{0, ..., n-1}``.

Every function offers the same small interface, and nothing else, to the
optimisers in :mod:`coresets.submodular.optimizers`:

``init_state()``
    a fresh state for the empty set;
``gains(state, candidates)``
    float64 marginal gains ``f(S + j) - f(S)`` for a batch of candidate ids;
``add(state, j)``
    put ``j`` into the set, update the state in place and return the realised gain;
``value(state)``
    ``f(S)`` of the set the state stands for;
``evaluate(indices)``
    ``f`` of a set given by its elements (from the definition, for checks);
``upper_bounds(state, candidates)`` (optional)
    upper bounds on the gains that are much cheaper than ``gains``, or ``None``
    when the function has none; lazy and stochastic greedy then rank by them and
    compute exact gains only for candidates whose bound reaches the top;
``kernels(state)`` (optional)
    a :class:`~coresets.submodular._kernels.Kernels` tuple of jitted per-element
    kernels and the arrays they read, which lets the lazy and stochastic
    optimisers run as compiled loops. ``None`` when the function has none (the
    optimisers then drive it from Python).

Graph-based functions take a similarity matrix in apricot's row convention:
**row j holds candidate j's similarities to the points it can represent**, so a
sparse kNN graph whose row ``j`` lists ``j``'s neighbours means "j covers its
neighbours". Similarities must be finite and non-negative.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from coresets._validation import check_elements, check_finite, check_nonnegative
from coresets.submodular import _kernels as K
from coresets.submodular.similarity import ImplicitSimilarity

__all__ = [
    "SubmodularFunction",
    "FacilityLocation",
    "GraphCut",
    "SaturatedCoverage",
    "FeatureBased",
    "Mixture",
]

# Bytes of temporary memory one batch of dense torch gains may use.
_TORCH_BLOCK_BYTES = 256 * 1024**2


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "device")


class _State:
    """Mutable per-run state: a coverage vector and the running value."""

    __slots__ = ("cur", "value")

    def __init__(self, cur, value=0.0):
        self.cur = cur
        self.value = float(value)


def _check_similarity(similarity, name="similarity", square=True):
    """Validate a similarity matrix; return ``(kind, matrix)``, kind in numpy/sparse/torch."""
    if isinstance(similarity, ImplicitSimilarity):
        raise TypeError(
            f"{name}: an ImplicitSimilarity works with FacilityLocation only; pass a stored "
            "matrix here (coresets.similarity(X, metric))"
        )
    if sp.issparse(similarity):
        S = sp.csr_matrix(similarity)  # CSC/COO become CSR in O(nnz), never dense
        if S.dtype not in (np.float32, np.float64):
            S = S.astype(np.float64)
        S.sum_duplicates()
        S.sort_indices()
        kind = "sparse"
    elif _is_torch(similarity):
        import torch

        S = similarity.detach()
        if not torch.is_floating_point(S):
            S = S.to(torch.float32)
        if S.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {tuple(S.shape)}")
        if not bool(torch.isfinite(S).all()):
            raise ValueError(f"{name} contains NaN or inf values; remove or impute them first")
        if S.numel() and float(S.min()) < 0:
            raise ValueError(f"{name} must be non-negative (min is {float(S.min()):.4g})")
        kind = "torch"
    else:
        if isinstance(similarity, (str, bytes)) or similarity is None:
            raise TypeError(
                f"{name} must be a numpy array, torch tensor or scipy sparse matrix, "
                f"got {type(similarity).__name__}"
            )
        S = np.asarray(similarity)
        if S.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers, got dtype {S.dtype}")
        if S.dtype not in (np.float32, np.float64):
            S = S.astype(np.float64)
        if S.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {S.shape}")
        S = np.ascontiguousarray(S)
        kind = "numpy"
    if S.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(S.shape)})")
    if square and S.shape[0] != S.shape[1]:
        raise ValueError(f"{name} must be square (n x n), got shape {tuple(S.shape)}")
    if kind != "torch":
        check_finite(S, name)
        check_nonnegative(S, name)
    return kind, S


def _as_index_array(candidates) -> np.ndarray:
    return np.ascontiguousarray(candidates, dtype=np.int64)


class SubmodularFunction:
    """Base class: ``n`` is the ground-set size; subclasses implement the interface."""

    n: int

    def init_state(self):
        raise NotImplementedError

    def gains(self, state, candidates) -> np.ndarray:
        raise NotImplementedError

    def add(self, state, j: int) -> float:
        raise NotImplementedError

    def value(self, state) -> float:
        return float(state.value)

    def upper_bounds(self, state, candidates):
        """Cheap float64 upper bounds on the gains of ``candidates``, or None (see module doc)."""
        return None

    def kernels(self, state):
        """Compiled per-element kernels (a ``Kernels`` tuple), or None (see module doc)."""
        return None

    def evaluate(self, indices) -> float:
        """``f(S)`` for ``S = set(indices)`` built from the empty set."""
        ids = check_elements(indices, self.n, "indices")
        state = self.init_state()
        # the compiled kernels do not check bounds, so ids are checked once here
        for j in dict.fromkeys(ids.tolist()):
            self.add(state, j)
        return self.value(state)


class FacilityLocation(SubmodularFunction):
    """Facility location: ``f(S) = sum_i max_{j in S} s[j, i]`` (0 for the empty set).

    The definition of apricot's ``FacilityLocationSelection`` and submodlib's
    ``FacilityLocationFunction``. Monotone and submodular for non-negative ``s``.

    Parameters
    ----------
    similarity : ndarray, torch.Tensor, scipy.sparse matrix or ImplicitSimilarity, shape (n, n)
        Non-negative finite similarities; row ``j`` holds candidate ``j``'s
        similarity to every point. Dense numpy input runs in compiled (numba)
        kernels; a torch tensor runs in torch on its own device (a CUDA tensor on
        the GPU); a sparse matrix (CSR, or CSC/COO converted to CSR) runs in
        compiled kernels over its rows and is never densified; an
        :class:`~coresets.submodular.similarity.ImplicitSimilarity` computes rows
        from the features and ranks by its 16-bit bounds (half float32's memory).
    device : None, "auto", "cpu", "cuda" or torch.device, optional
        Move a dense matrix to this torch device first (``"auto"``: CUDA when
        available, else keep the input as it is). ``None`` keeps the input's own
        device.
    """

    def __init__(self, similarity, device=None):
        if isinstance(similarity, ImplicitSimilarity):
            if device not in (None, "cpu", "auto"):
                raise ValueError(f"device: an ImplicitSimilarity runs on the CPU, got {device!r}")
            self.kind = "implicit"
            self.similarity = similarity
            self.n = int(similarity.shape[0])
            self._args = similarity.kernel_args()
            return
        kind, S = _check_similarity(similarity)
        if device is not None and kind != "sparse":
            kind, S = _maybe_to_torch(S, kind, device)
        self.kind = kind
        self.similarity = S
        self.n = int(S.shape[0])

    def init_state(self):
        if self.kind == "torch":
            import torch

            cur = torch.zeros(self.n, dtype=torch.float64, device=self.similarity.device)
        else:
            # cur[i] is always 0 or a copy of a stored similarity, so the storage dtype holds
            # it exactly; float32 halves the cache footprint of the hot random reads
            dtype = np.float32 if self.kind == "implicit" else self.similarity.dtype
            cur = np.zeros(self.n, dtype=dtype)
        return _State(cur)

    def gains(self, state, candidates):
        cands = _as_index_array(candidates)
        S = self.similarity
        if self.kind == "sparse":
            out = K.empty_gains(cands.shape[0])
            return K.run_gains(
                K.fl_sparse_gains,
                K.fl_sparse_gains_parallel,
                S.data,
                S.indices,
                S.indptr,
                state.cur,
                cands,
                out,
            )
        if self.kind == "numpy":
            out = K.empty_gains(cands.shape[0])
            return K.run_gains(
                K.fl_dense_gains, K.fl_dense_gains_parallel, S, state.cur, cands, out
            )
        if self.kind == "implicit":
            out = K.empty_gains(cands.shape[0])
            X, XT, sq, euclidean, top = self._args[:5]
            K.fl_implicit_gains(X, XT, sq, euclidean, top, state.cur, cands, out)
            return out
        return _torch_blocked_gains(S, cands, lambda rows: (rows - state.cur).clamp_min_(0).sum(1))

    def add(self, state, j):
        j = int(j)
        S = self.similarity
        if self.kind == "sparse":
            g = K.fl_sparse_add(S.data, S.indices, S.indptr, state.cur, j)
        elif self.kind == "numpy":
            g = K.fl_dense_add(S, state.cur, j)
        elif self.kind == "implicit":
            g = K.fl_implicit_add1(self._args, state.cur, j)
        else:
            import torch

            row = S[j].to(torch.float64)
            g = float((row - state.cur).clamp_min_(0).sum())
            torch.maximum(state.cur, row, out=state.cur)
        state.value += g
        return float(g)

    def value(self, state):
        if self.kind == "torch":
            return float(state.cur.sum())
        return float(state.cur.sum(dtype=np.float64))

    def kernels(self, state):
        S = self.similarity
        if self.kind == "sparse":
            args = (S.data, S.indices, S.indptr)
            return K.Kernels(
                K.fl_sparse_gain1, K.fl_sparse_add1, K.fl_sparse_fetch1, args, state.cur
            )
        if self.kind == "numpy":
            return K.Kernels(
                K.fl_dense_gain1,
                K.fl_dense_add1,
                K.fl_dense_fetch1,
                (S,),
                state.cur,
                bound=K.fl_dense_bound1,
            )
        if self.kind == "implicit":
            return K.Kernels(
                K.fl_implicit_gain1,
                K.fl_implicit_add1,
                K.fl_implicit_fetch1,
                self._args,
                state.cur,
                bound=K.fl_implicit_bound1,
            )
        return None

    def upper_bounds(self, state, candidates):
        # dense rows: the gain summed in any order (vectorised), nudged up; implicit: codes
        if self.kind not in ("numpy", "implicit"):
            return None
        cands = _as_index_array(candidates)
        S = self.similarity
        out = K.empty_gains(cands.shape[0])
        if self.kind == "numpy":
            K.fl_dense_bounds(S, state.cur, cands, out)
        else:
            K.fl_coded_bounds(S.codes, S.offset, S.step, state.cur, cands, out)
        return out


class GraphCut(SubmodularFunction):
    """Graph cut: ``f(S) = lam * sum_{j in S} sum_{v in V} s[j, v] - sum_{j, l in S} s[j, l]``.

    apricot's ``GraphCutSelection`` definition (its ``alpha`` is ``lam`` here; the
    pair sum runs over ordered pairs, ``j == l`` included). Submodular for
    non-negative ``s``; monotone when ``lam`` is large enough (``lam >= 2`` for a
    symmetric ``s``), otherwise gains can turn negative.

    Parameters
    ----------
    similarity : ndarray or scipy.sparse matrix, shape (n, n)
        Non-negative finite similarities (row convention as in FacilityLocation).
    lam : float, default 1.0
        Weight of the coverage term against the redundancy penalty; must be > 0.
    """

    def __init__(self, similarity, lam=1.0):
        kind, S = _check_similarity(similarity)
        if kind == "torch":
            S, kind = S.cpu().numpy(), "numpy"
        self.lam = _check_positive_real(lam, "lam")
        self.kind = kind
        self.similarity = S
        self.n = int(S.shape[0])
        self._row_sums = self.lam * np.asarray(S.sum(axis=1), dtype=np.float64).ravel()
        self._diag = np.asarray(S.diagonal(), dtype=np.float64)
        self._columns = S.T.tocsr() if kind == "sparse" else None

    def init_state(self):
        # cur[i] = s[i, i] + sum_{j in S} (s[j, i] + s[i, j]): the cost of adding i.
        return _State(self._diag.copy())

    def gains(self, state, candidates):
        cands = _as_index_array(candidates)
        return self._row_sums[cands] - state.cur[cands]

    def add(self, state, j):
        j = int(j)
        g = float(self._row_sums[j] - state.cur[j])
        if self.kind == "sparse":
            for M in (self.similarity, self._columns):
                lo, hi = M.indptr[j], M.indptr[j + 1]
                state.cur[M.indices[lo:hi]] += M.data[lo:hi]  # indices unique per row
        else:
            state.cur += self.similarity[j]
            state.cur += self.similarity[:, j]
        state.value += g
        return g


class SaturatedCoverage(SubmodularFunction):
    """Saturated coverage: ``f(S) = sum_v min(sum_{j in S} s[j, v], alpha * sum_{u in V} s[u, v])``.

    submodlib's ``SaturatedCoverageFunction`` definition; apricot's
    ``SaturatedCoverageSelection`` is the same for a symmetric ``s``. Monotone
    submodular for non-negative ``s``.

    Parameters
    ----------
    similarity : ndarray or scipy.sparse matrix, shape (n, n)
        Non-negative finite similarities (row convention as in FacilityLocation).
    alpha : float, default 0.1
        Fraction of a point's total similarity at which its coverage saturates; > 0.
    """

    def __init__(self, similarity, alpha=0.1):
        kind, S = _check_similarity(similarity)
        if kind == "torch":
            S, kind = S.cpu().numpy(), "numpy"
        self.alpha = _check_positive_real(alpha, "alpha")
        self.kind = kind
        self.similarity = S
        self.n = int(S.shape[0])
        self._cap = self.alpha * np.asarray(S.sum(axis=0), dtype=np.float64).ravel()

    def init_state(self):
        return _State(np.zeros(self.n, dtype=np.float64))

    def gains(self, state, candidates):
        cands = _as_index_array(candidates)
        out = K.empty_gains(cands.shape[0])
        S = self.similarity
        if self.kind == "sparse":
            K.sc_sparse_gains(S.data, S.indices, S.indptr, state.cur, self._cap, cands, out)
        else:
            K.sc_dense_gains(S, state.cur, self._cap, cands, out)
        return out

    def add(self, state, j):
        j = int(j)
        S = self.similarity
        if self.kind == "sparse":
            lo, hi = S.indptr[j], S.indptr[j + 1]
            idx = S.indices[lo:hi]
            new = np.minimum(state.cur[idx] + S.data[lo:hi], self._cap[idx])
            g = float((new - state.cur[idx]).sum())
            state.cur[idx] = new
        else:
            new = np.minimum(state.cur + S[j], self._cap)
            g = float((new - state.cur).sum())
            state.cur = new
        state.value += g
        return g

    def value(self, state):
        return float(state.cur.sum())


_CONCAVE = {
    "sqrt": np.sqrt,
    "log": np.log1p,
    "inverse": lambda x: x / (1.0 + x),
}


class FeatureBased(SubmodularFunction):
    """Feature-based: ``f(S) = sum_d phi(sum_{j in S} x[j, d])`` with a concave ``phi``.

    apricot's ``FeatureBasedSelection`` and submodlib's ``FeatureBasedFunction``.

    Parameters
    ----------
    features : ndarray or scipy.sparse matrix, shape (n, d)
        Non-negative finite feature values (e.g. counts, TF-IDF, ReLU activations).
    concave : {"sqrt", "log", "inverse"} or callable, default "sqrt"
        ``sqrt(x)``, ``log(1 + x)`` or ``1 - 1/(1 + x)``; a callable must be a
        vectorised numpy function, concave and non-decreasing on ``[0, inf)``.
    """

    def __init__(self, features, concave="sqrt"):
        kind, X = _check_similarity(features, name="features", square=False)
        if kind == "torch":
            X, kind = X.cpu().numpy(), "numpy"
        if callable(concave):
            self._phi = concave
        elif isinstance(concave, str) and concave in _CONCAVE:
            self._phi = _CONCAVE[concave]
        else:
            raise ValueError(
                f"concave must be one of {sorted(_CONCAVE)} or a callable, got {concave!r}"
            )
        self.concave = concave
        self.kind = kind
        self.features = X
        self.n = int(X.shape[0])
        self._phi0 = float(self._phi(np.zeros(1))[0])

    def init_state(self):
        return _State(np.zeros(self.features.shape[1], dtype=np.float64))

    def gains(self, state, candidates):
        cands = _as_index_array(candidates)
        phi, cur = self._phi, state.cur
        if self.kind == "sparse":
            B = self.features[cands]
            cols = B.indices
            per_nnz = phi(cur[cols] + B.data) - phi(cur[cols])
            rows = np.repeat(np.arange(cands.shape[0]), np.diff(B.indptr))
            return np.bincount(rows, weights=per_nnz, minlength=cands.shape[0])
        base = phi(cur)
        out = np.empty(cands.shape[0], dtype=np.float64)
        block = max(1, (64 * 1024**2) // (8 * max(cur.shape[0], 1)))
        for lo in range(0, cands.shape[0], block):
            rows = self.features[cands[lo : lo + block]]
            out[lo : lo + block] = (phi(cur + rows) - base).sum(axis=1)
        return out

    def add(self, state, j):
        j = int(j)
        g = float(self.gains(state, [j])[0])
        row = self.features[j]
        if self.kind == "sparse":
            state.cur[row.indices] += row.data
        else:
            state.cur += row
        state.value += g
        return g

    def value(self, state):
        return float((self._phi(state.cur) - self._phi0).sum())


class Mixture(SubmodularFunction):
    """Weighted sum ``f(S) = sum_m w_m f_m(S)`` of functions over the same ground set.

    apricot's ``MixtureSelection``. Submodular (monotone) when every part is and
    every weight is non-negative.

    Parameters
    ----------
    functions : sequence of SubmodularFunction
        The parts; all must have the same ``n``.
    weights : sequence of float, optional
        One non-negative weight per part (default: all ones).
    """

    def __init__(self, functions, weights=None):
        functions = list(functions)
        if not functions:
            raise ValueError("functions must hold at least one function")
        for f in functions:
            if not isinstance(f, SubmodularFunction):
                raise TypeError(
                    f"functions must be SubmodularFunction objects, got {type(f).__name__}"
                )
        sizes = {f.n for f in functions}
        if len(sizes) != 1:
            raise ValueError(f"functions must share one ground-set size, got sizes {sorted(sizes)}")
        w = np.ones(len(functions)) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (len(functions),):
            raise ValueError(
                f"weights must hold one value per function ({len(functions)}), got shape {w.shape}"
            )
        check_finite(w, "weights")
        if (w < 0).any():
            raise ValueError("weights must be non-negative")
        self.functions = functions
        self.weights = w
        self.n = functions[0].n

    def init_state(self):
        return [f.init_state() for f in self.functions]

    def gains(self, state, candidates):
        cands = _as_index_array(candidates)
        total = np.zeros(cands.shape[0], dtype=np.float64)
        for w, f, s in zip(self.weights, self.functions, state, strict=True):
            if w:
                total += w * f.gains(s, cands)
        return total

    def add(self, state, j):
        return float(
            sum(
                w * f.add(s, j) for w, f, s in zip(self.weights, self.functions, state, strict=True)
            )
        )

    def value(self, state):
        return float(
            sum(w * f.value(s) for w, f, s in zip(self.weights, self.functions, state, strict=True))
        )


def _check_positive_real(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return float(value)


def _maybe_to_torch(S, kind, device):
    """Move a dense matrix to a torch device when asked (``"auto"``: only if CUDA is there)."""
    from coresets._device import cuda_available, resolve_device

    if device == "auto" and not cuda_available():
        return kind, S
    dev = resolve_device(device)
    if kind == "numpy":
        import torch

        if dev.type == "cpu":
            return kind, S
        S = torch.from_numpy(S)
    return "torch", S.to(dev)


def _torch_blocked_gains(S, cands, gain_of_rows):
    """Evaluate ``gain_of_rows`` over row blocks so temporaries stay under a fixed size."""
    import torch

    idx = torch.from_numpy(cands).to(S.device)
    block = max(1, _TORCH_BLOCK_BYTES // (8 * S.shape[1]))
    parts = [
        gain_of_rows(S[idx[lo : lo + block]].to(torch.float64))
        for lo in range(0, idx.numel(), block)
    ]
    if not parts:
        return np.zeros(0, dtype=np.float64)
    return torch.cat(parts).cpu().numpy()
