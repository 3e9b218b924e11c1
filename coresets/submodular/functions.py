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

The public ``gains``, ``add``, ``upper_bounds`` and ``kernels`` check their ids and
state first (``ValueError``/``TypeError`` naming ``candidates``, ``j`` or ``state``),
since the compiled kernels do not check bounds; the compiled optimiser loops call the
kernels directly with ids they own, so the hot loops pay nothing.

Graph-based functions take a similarity matrix in apricot's row convention:
**row j holds candidate j's similarities to the points it can represent**, so a
sparse kNN graph whose row ``j`` lists ``j``'s neighbours means "j covers its
neighbours". Similarities must be finite and non-negative. Facility location's
matrix may be rectangular, ``(m candidates, n points)``: the ground set is its rows.
Its four storages (dense, sparse, torch, implicit) live in
:mod:`coresets.submodular._rows`, one object each, chosen once in ``__init__``.
"""

from __future__ import annotations

import numpy as np

from coresets._device import cuda_device
from coresets._validation import (
    check_element,
    check_elements,
    check_finite,
    check_option,
    check_real,
    check_similarity,
)
from coresets.submodular import _kernels as K
from coresets.submodular._rows import DenseRows, ImplicitRows, SparseRows, TorchRows
from coresets.submodular.similarity import ImplicitSimilarity

__all__ = [
    "SubmodularFunction",
    "FacilityLocation",
    "GraphCut",
    "SaturatedCoverage",
    "FeatureBased",
    "Mixture",
]


class _State:
    """Mutable per-run state: a coverage vector and the running value."""

    __slots__ = ("cur", "value")

    def __init__(self, cur, value=0.0):
        self.cur = cur
        self.value = float(value)


def _cpu_matrix(similarity, name="similarity", square=True):
    """A validated numpy or CSR matrix, for the functions that run on the CPU only.

    Returns ``(kind, matrix)`` with kind ``"numpy"`` or ``"sparse"``; a torch tensor is
    copied to a numpy array.
    """
    if isinstance(similarity, ImplicitSimilarity):
        raise TypeError(
            f"{name}: an ImplicitSimilarity works with FacilityLocation only; pass a stored "
            "matrix here (coresets.similarity(X, metric))"
        )
    kind, S = check_similarity(similarity, name=name, square=square)
    if kind == "torch":
        return "numpy", S.cpu().numpy()
    return kind, S


def _coverage(state, size: int):
    """``state.cur`` after checking it is a state of ``size`` entries (compiled code indexes it)."""
    cur = getattr(state, "cur", None)
    if cur is None or tuple(getattr(cur, "shape", ())) != (size,):
        raise ValueError("state must come from this function's init_state()")
    return cur


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

    # The public gains/add/upper_bounds check their ids here (the compiled kernels do not
    # check bounds); the compiled optimiser loops call the kernels with ids they own.
    def _candidates(self, candidates) -> np.ndarray:
        return check_elements(candidates, self.n, "candidates", copy=False)

    def _element(self, j) -> int:
        return check_element(j, self.n, "j")

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
    The matrix may be rectangular: its ``m`` rows are the ground set (``n == m``,
    the candidates) and the sum runs over its ``n_points`` columns (the points to
    cover), as when candidates from several shards cover a sample of points.

    Parameters
    ----------
    similarity : ndarray, torch.Tensor, scipy.sparse matrix or ImplicitSimilarity, shape (m, n_points)
        Non-negative finite similarities; row ``j`` holds candidate ``j``'s
        similarity to every point. Dense numpy input runs in compiled (numba)
        kernels; a torch tensor runs in torch on its own device (a CUDA tensor on
        the GPU, a CPU tensor on the CPU); a sparse matrix (CSR, or CSC/COO
        converted to CSR) runs in compiled kernels over its rows and is never
        densified; an :class:`~coresets.submodular.similarity.ImplicitSimilarity`
        computes rows from the features and ranks by its 16-bit bounds (half
        float32's memory).
    device : None, "auto", "cpu", "cuda" or torch.device, optional
        Move a dense matrix to this CUDA device first (``"auto"``: CUDA when
        available). A CPU device (``"cpu"`` or ``torch.device("cpu")``) keeps a
        numpy matrix in the compiled kernels, the fast CPU path, and a tensor as
        a tensor; to run torch on the CPU pass a CPU tensor. ``None`` keeps the
        input as it is. Sparse matrices always stay on the CPU.

    Attributes
    ----------
    n : int
        Ground-set size ``m`` (candidate rows).
    n_points : int
        Points covered (columns).
    similarity : the validated matrix (or the ImplicitSimilarity).
    """

    def __init__(self, similarity, device=None):
        self._rows = _rows_of(similarity, device)
        self.similarity = self._rows.matrix
        self.n = self._rows.n_rows
        self.n_points = self._rows.n_points

    def init_state(self):
        return _State(self._rows.zeros())

    def gains(self, state, candidates):
        cur = _coverage(state, self.n_points)
        return self._rows.gains(cur, self._candidates(candidates))

    def add(self, state, j):
        j = self._element(j)
        return float(self._rows.add(_coverage(state, self.n_points), j))

    def value(self, state):
        return self._rows.value(state.cur)

    def kernels(self, state):
        return self._rows.kernels(_coverage(state, self.n_points))

    def upper_bounds(self, state, candidates):
        cur = _coverage(state, self.n_points)
        return self._rows.bounds(cur, self._candidates(candidates))


def _rows_of(similarity, device):
    """The storage object for ``similarity``, on ``device`` (see FacilityLocation)."""
    if isinstance(similarity, ImplicitSimilarity):
        # "auto" picks the best place, which for rows computed by numba is the CPU
        if not (isinstance(device, str) and device == "auto") and device is not None:
            if cuda_device(device) is not None:
                raise ValueError(f"device: an ImplicitSimilarity runs on the CPU, got {device!r}")
        return ImplicitRows(similarity)
    kind, S = check_similarity(similarity)
    if device is not None and kind != "sparse":
        kind, S = _to_device(S, kind, device)
    return {"numpy": DenseRows, "sparse": SparseRows, "torch": TorchRows}[kind](S)


class _MatrixFunction(SubmodularFunction):
    """A function of a stored square CPU matrix: ``kind`` ("numpy" or "sparse"), ``similarity``, ``n``.

    A torch tensor is copied to numpy: these functions have no torch path.
    """

    def __init__(self, similarity):
        self.kind, self.similarity = _cpu_matrix(similarity)
        self.n = int(self.similarity.shape[0])


class GraphCut(_MatrixFunction):
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
        super().__init__(similarity)
        self.lam = check_real(lam, "lam", low=0)
        S = self.similarity
        self._row_sums = self.lam * np.asarray(S.sum(axis=1), dtype=np.float64).ravel()
        self._diag = np.asarray(S.diagonal(), dtype=np.float64)
        self._columns = S.T.tocsr() if self.kind == "sparse" else None

    def init_state(self):
        # cur[i] = s[i, i] + sum_{j in S} (s[j, i] + s[i, j]): the cost of adding i.
        return _State(self._diag.copy())

    def gains(self, state, candidates):
        cands = self._candidates(candidates)
        cur = _coverage(state, self.n)
        return self._row_sums[cands] - cur[cands]

    def add(self, state, j):
        j = self._element(j)
        g = float(self._row_sums[j] - _coverage(state, self.n)[j])
        if self.kind == "sparse":
            for M in (self.similarity, self._columns):
                lo, hi = M.indptr[j], M.indptr[j + 1]
                state.cur[M.indices[lo:hi]] += M.data[lo:hi]  # indices unique per row
        else:
            state.cur += self.similarity[j]
            state.cur += self.similarity[:, j]
        state.value += g
        return g


class SaturatedCoverage(_MatrixFunction):
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
        super().__init__(similarity)
        self.alpha = check_real(alpha, "alpha", low=0)
        self._cap = self.alpha * np.asarray(self.similarity.sum(axis=0), dtype=np.float64).ravel()

    def init_state(self):
        return _State(np.zeros(self.n, dtype=np.float64))

    def gains(self, state, candidates):
        cands = self._candidates(candidates)
        cur = _coverage(state, self.n)
        out = K.empty_gains(cands.shape[0])
        S = self.similarity
        if self.kind == "sparse":
            K.sc_sparse_gains(S.data, S.indices, S.indptr, cur, self._cap, cands, out)
        else:
            K.sc_dense_gains(S, cur, self._cap, cands, out)
        return out

    def add(self, state, j):
        j = self._element(j)
        _coverage(state, self.n)
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
        kind, X = _cpu_matrix(features, name="features", square=False)
        if callable(concave):
            self._phi = concave
        else:
            self._phi = _CONCAVE[check_option(concave, sorted(_CONCAVE), "concave")]
        self.concave = concave
        self.kind = kind
        self.features = X
        self.n = int(X.shape[0])
        self._phi0 = float(self._phi(np.zeros(1))[0])

    def init_state(self):
        return _State(np.zeros(self.features.shape[1], dtype=np.float64))

    def gains(self, state, candidates):
        cands = self._candidates(candidates)
        phi, cur = self._phi, _coverage(state, self.features.shape[1])
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
        j = self._element(j)
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
    """Weighted sum ``f(S) = sum_m c_m f_m(S)`` of functions over the same ground set.

    apricot's ``MixtureSelection``. Submodular (monotone) when every part is and
    every coefficient is non-negative.

    Parameters
    ----------
    functions : sequence of SubmodularFunction
        The parts; all must have the same ``n``.
    coefficients : sequence of float, optional
        One non-negative coefficient per part (default: all ones).
    """

    def __init__(self, functions, coefficients=None):
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
        c = (
            np.ones(len(functions))
            if coefficients is None
            else np.asarray(coefficients, dtype=np.float64)
        )
        if c.shape != (len(functions),):
            raise ValueError(
                f"coefficients must hold one value per function ({len(functions)}), "
                f"got shape {c.shape}"
            )
        check_finite(c, "coefficients")
        if (c < 0).any():
            raise ValueError("coefficients must be non-negative")
        self.functions = functions
        self.coefficients = c
        self.n = functions[0].n

    def init_state(self):
        return [f.init_state() for f in self.functions]

    def gains(self, state, candidates):
        cands = self._candidates(candidates)
        total = np.zeros(cands.shape[0], dtype=np.float64)
        for w, f, s in zip(self.coefficients, self.functions, state, strict=True):
            if w:
                total += w * f.gains(s, cands)
        return total

    def add(self, state, j):
        j = self._element(j)
        return float(
            sum(
                w * f.add(s, j)
                for w, f, s in zip(self.coefficients, self.functions, state, strict=True)
            )
        )

    def value(self, state):
        return float(
            sum(
                w * f.value(s)
                for w, f, s in zip(self.coefficients, self.functions, state, strict=True)
            )
        )


def _to_device(S, kind, device):
    """``S`` on ``device``: a CUDA device makes it a CUDA tensor; the CPU keeps numpy as numpy.

    ``"auto"`` means CUDA when present. A tensor asked onto the CPU is moved there.
    """
    dev = cuda_device(device)
    if dev is None:
        return (kind, S) if kind == "numpy" else ("torch", S.cpu())
    if kind == "numpy":
        import torch

        S = torch.from_numpy(S)
    return "torch", S.to(dev)
