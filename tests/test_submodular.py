"""Submodular functions and optimisers against brute force, apricot and hand-derived cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from coresets.submodular import (
    OPTIMIZERS,
    ApproximateLazyGreedy,
    FacilityLocation,
    FeatureBased,
    GraphCut,
    ImplicitSimilarity,
    LazyGreedy,
    Mixture,
    SaturatedCoverage,
    StochasticGreedy,
    _kernels,
    as_optimizer,
    maximize,
    similarity,
)

# --- definitions, written straight from the formulas -------------------------


def fl_def(S, subset):
    return float(S[list(subset)].max(axis=0).astype(np.float64).sum()) if subset else 0.0


def gc_def(S, subset, lam):
    s = list(subset)
    return float(lam * S[s].sum() - S[np.ix_(s, s)].sum()) if s else 0.0


def sc_def(S, subset, alpha):
    cap = alpha * S.sum(axis=0)
    return float(np.minimum(S[list(subset)].sum(axis=0), cap).sum()) if subset else 0.0


def fb_def(X, subset, phi):
    return float(phi(X[list(subset)].sum(axis=0)).sum()) if subset else 0.0


def greedy_def(f, n, k, costs=None, budget=None):
    """Greedy from the definition: gain (per cost) argmax, ties to the smaller index."""
    chosen, gains, left = [], [], budget
    while len(chosen) < k:
        best, best_score, best_gain = None, None, None
        base = f(chosen)
        for j in range(n):
            if j in chosen or (costs is not None and costs[j] > left):
                continue
            g = f([*chosen, j]) - base
            score = g if costs is None else g / costs[j]
            if best is None or score > best_score + 1e-12:
                best, best_score, best_gain = j, score, g
        if best is None:
            break
        chosen.append(best)
        gains.append(best_gain)
        if costs is not None:
            left -= costs[best]
    return np.array(chosen), np.array(gains)


def random_similarity(n, seed, density=None):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 3))
    S = similarity(X, "euclidean", dtype=np.float64)
    if density is None:
        return S
    mask = rng.random((n, n)) < density
    np.fill_diagonal(mask, True)
    return np.where(mask, S, 0.0)


def cases(n=25, seed=0):
    """(name, function, definition of f) for every function and storage kind."""
    S = random_similarity(n, seed)
    Ssp = random_similarity(n, seed + 1, density=0.3)
    X = np.random.default_rng(seed + 2).random((n, 6))
    Xsp = sp.random(n, 6, density=0.5, random_state=seed, format="csr")
    out = [
        ("fl-dense", FacilityLocation(S), lambda s: fl_def(S, s)),
        (
            "fl-dense32",
            FacilityLocation(S.astype(np.float32)),
            lambda s: fl_def(S.astype(np.float32), s),
        ),
        ("fl-sparse", FacilityLocation(sp.csr_matrix(Ssp)), lambda s: fl_def(Ssp, s)),
        ("fl-csc", FacilityLocation(sp.csc_matrix(Ssp)), lambda s: fl_def(Ssp, s)),
        ("fl-torch", FacilityLocation(torch.from_numpy(S)), lambda s: fl_def(S, s)),
        ("gc-dense", GraphCut(S, lam=3.0), lambda s: gc_def(S, s, 3.0)),
        ("gc-sparse", GraphCut(sp.csr_matrix(Ssp), lam=1.5), lambda s: gc_def(Ssp, s, 1.5)),
        ("sc-dense", SaturatedCoverage(S, alpha=0.2), lambda s: sc_def(S, s, 0.2)),
        (
            "sc-sparse",
            SaturatedCoverage(sp.csr_matrix(Ssp), alpha=0.3),
            lambda s: sc_def(Ssp, s, 0.3),
        ),
        ("fb-sqrt", FeatureBased(X, "sqrt"), lambda s: fb_def(X, s, np.sqrt)),
        ("fb-log", FeatureBased(X, "log"), lambda s: fb_def(X, s, np.log1p)),
        ("fb-inverse", FeatureBased(X, "inverse"), lambda s: fb_def(X, s, lambda x: x / (1 + x))),
        ("fb-sparse", FeatureBased(Xsp, "sqrt"), lambda s: fb_def(Xsp.toarray(), s, np.sqrt)),
    ]
    # rectangular: 25 candidate rows covering 40 points
    R = np.random.default_rng(seed + 3).random((n, 40))
    Rsp = np.where(np.random.default_rng(seed + 4).random((n, 40)) < 0.2, R, 0.0)
    out += [
        ("fl-rect-dense", FacilityLocation(R), lambda s: fl_def(R, s)),
        ("fl-rect-sparse", FacilityLocation(sp.csr_matrix(Rsp)), lambda s: fl_def(Rsp, s)),
        ("fl-rect-torch", FacilityLocation(torch.from_numpy(R)), lambda s: fl_def(R, s)),
    ]
    mix = Mixture([FacilityLocation(S), FeatureBased(X)], coefficients=[0.5, 2.0])
    out.append(("mixture", mix, lambda s: 0.5 * fl_def(S, s) + 2.0 * fb_def(X, s, np.sqrt)))
    return out


CASES = cases()


@pytest.mark.parametrize("name,f,f_def", CASES, ids=[c[0] for c in CASES])
def test_naive_equals_definition_and_lazy_matches(name, f, f_def):
    k = 8
    ref_idx, ref_gains = greedy_def(f_def, f.n, k)
    naive = maximize(f, k, "naive")
    np.testing.assert_array_equal(naive.indices, ref_idx)
    np.testing.assert_allclose(naive.gains, ref_gains, rtol=1e-6, atol=1e-9)
    for opt in (LazyGreedy(), ApproximateLazyGreedy(epsilon=1e-9)):
        res = maximize(f, k, opt)
        np.testing.assert_array_equal(res.indices, ref_idx)
        np.testing.assert_allclose(res.gains, ref_gains, rtol=1e-6, atol=1e-9)
    # exact-greedy gains never increase for submodular functions
    assert np.all(np.diff(naive.gains) <= 1e-9 * max(1.0, abs(naive.gains[0])))


@pytest.mark.parametrize("name,f,f_def", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_gains_sum_to_objective_and_definition(name, f, f_def, opt):
    res = maximize(f, 6, as_optimizer(opt, random_state=3))
    assert len(res) == 6 and len(set(res.indices.tolist())) == 6
    assert res.gains.sum() == pytest.approx(res.objective, rel=1e-9, abs=1e-9)
    assert res.objective == pytest.approx(f_def(res.indices.tolist()), rel=1e-6, abs=1e-9)
    assert f.evaluate(res.indices) == pytest.approx(res.objective, rel=1e-9, abs=1e-9)


def test_hand_derived_facility_location():
    # Three points; candidate 0 covers everyone a little, 1 and 2 cover themselves well.
    S = np.array([[2.0, 1.0, 1.0], [0.0, 3.0, 0.0], [0.0, 0.0, 2.5]])
    res = maximize(FacilityLocation(S), 3, "naive")
    # step 1: gains 4, 3, 2.5 -> 0; step 2: cur=[2,1,1] -> gains 2, 1.5 -> 1; step 3: 1.5 -> 2
    np.testing.assert_array_equal(res.indices, [0, 1, 2])
    np.testing.assert_allclose(res.gains, [4.0, 2.0, 1.5])
    assert res.objective == pytest.approx(7.5)
    # row convention: a sparse row j lists the points j covers
    G = sp.csr_matrix(S)
    np.testing.assert_array_equal(maximize(FacilityLocation(G), 3).indices, [0, 1, 2])


def test_hand_derived_rectangular_facility_location():
    # two candidates covering four points: the ground set is the rows, coverage the columns
    S = np.array([[3.0, 0.0, 1.0, 0.0], [1.0, 2.0, 0.0, 2.0]])
    for matrix in (S, sp.csr_matrix(S), torch.from_numpy(S)):
        f = FacilityLocation(matrix)
        assert (f.n, f.n_points) == (2, 4)
        for opt in ("naive", "lazy", "stochastic", "approximate-lazy"):
            res = maximize(f, 2, as_optimizer(opt, random_state=0))
            # gains 4 vs 5 -> 1; then cur=[1,2,0,2] -> candidate 0 adds 2 + 1
            np.testing.assert_array_equal(res.indices, [1, 0])
            np.testing.assert_allclose(res.gains, [5.0, 3.0])
            assert res.objective == pytest.approx(8.0)
        assert f.evaluate([0]) == pytest.approx(4.0)
        with pytest.raises(ValueError, match="outside"):
            f.evaluate([2])


@pytest.mark.parametrize("seed", range(3))
def test_rectangular_equals_definition_with_every_optimizer(seed):
    rng = np.random.default_rng(seed)
    m, n = 30, 70
    R = rng.random((m, n)).astype(np.float32)
    sparse = np.where(rng.random((m, n)) < 0.15, R, 0)
    for dense in (R, sparse):
        ref, _ = greedy_def(lambda s, D=dense: fl_def(D, s), m, 10)
        storages = [dense, sp.csr_matrix(dense), torch.from_numpy(dense)]
        for matrix in storages:
            f = FacilityLocation(matrix)
            for opt in (LazyGreedy(), ApproximateLazyGreedy(epsilon=1e-9), "naive"):
                res = maximize(f, 10, opt)
                np.testing.assert_array_equal(res.indices, ref)
                assert res.objective == pytest.approx(fl_def(dense, res.indices.tolist()))
            res = maximize(f, 10, StochasticGreedy(0.1, random_state=seed))
            assert res.objective == pytest.approx(fl_def(dense, res.indices.tolist()))
            assert res.gains.sum() == pytest.approx(res.objective)
        # the compiled and the Python stochastic loops draw differently, each from its seed
        a = maximize(FacilityLocation(dense), 10, StochasticGreedy(0.1, random_state=seed))
        b = maximize(FacilityLocation(dense), 10, StochasticGreedy(0.1, random_state=seed))
        np.testing.assert_array_equal(a.indices, b.indices)


def test_ties_go_to_smaller_index():
    S = np.ones((6, 6))
    for opt in ("naive", "lazy"):
        np.testing.assert_array_equal(maximize(FacilityLocation(S), 3, opt).indices, [0, 1, 2])
    G = sp.csr_matrix(np.kron(np.eye(3), np.ones((2, 2))))  # three identical pairs
    for opt in ("naive", "lazy"):
        np.testing.assert_array_equal(maximize(FacilityLocation(G), 3, opt).indices, [0, 2, 4])


def test_initial_subset_is_respected():
    S = random_similarity(30, 5)
    f = FacilityLocation(S)
    res = maximize(f, 5, "lazy", initial_subset=[3, 7])
    assert not set(res.indices.tolist()) & {3, 7}
    ref_idx, _ = greedy_def(lambda s: fl_def(S, [3, 7, *s]), 30, 5)
    np.testing.assert_array_equal(res.indices, ref_idx)
    assert res.objective == pytest.approx(fl_def(S, [3, 7, *res.indices.tolist()]))
    assert res.gains.sum() == pytest.approx(res.objective - fl_def(S, [3, 7]))


@pytest.mark.parametrize("opt", ["naive", "lazy"])
def test_cost_aware_greedy_matches_definition(opt):
    S = random_similarity(20, 11)
    costs = np.random.default_rng(11).uniform(0.5, 2.0, 20)
    ref_idx, ref_gains = greedy_def(lambda s: fl_def(S, s), 20, 20, costs=costs, budget=4.0)
    res = maximize(FacilityLocation(S), optimizer=opt, costs=costs, budget=4.0)
    np.testing.assert_array_equal(res.indices, ref_idx)
    np.testing.assert_allclose(res.gains, ref_gains, rtol=1e-9)
    assert costs[res.indices].sum() <= 4.0 + 1e-9
    sparse = maximize(FacilityLocation(sp.csr_matrix(S)), optimizer=opt, costs=costs, budget=4.0)
    np.testing.assert_array_equal(sparse.indices, ref_idx)


def test_cost_aware_stochastic_respects_budget_and_k():
    S = random_similarity(40, 2)
    costs = np.random.default_rng(2).uniform(0.5, 2.0, 40)
    res = maximize(
        FacilityLocation(S), 5, StochasticGreedy(random_state=0), costs=costs, budget=3.0
    )
    assert len(res) <= 5 and costs[res.indices].sum() <= 3.0 + 1e-9
    capped = maximize(FacilityLocation(S), 2, "lazy", costs=costs, budget=100.0)
    assert len(capped) == 2


def test_stochastic_is_deterministic_and_close_to_lazy():
    G = sp.csr_matrix(random_similarity(300, 4, density=0.05))
    f = FacilityLocation(G)
    a = maximize(f, 30, StochasticGreedy(random_state=7))
    b = maximize(f, 30, StochasticGreedy(random_state=7))
    np.testing.assert_array_equal(a.indices, b.indices)
    c = maximize(f, 30, StochasticGreedy(random_state=8))
    assert not np.array_equal(a.indices, c.indices)
    lazy = maximize(f, 30, "lazy")
    assert a.objective >= 0.9 * lazy.objective
    state = np.random.get_state()  # noqa: NPY002 - checking the legacy global state is untouched
    maximize(f, 30, StochasticGreedy(random_state=1))
    assert np.all(np.random.get_state()[1] == state[1])  # noqa: NPY002


_MASK = 2**64 - 1


def _splitmix_uniforms(seed):
    # the compiled loop's generator, in plain Python integers
    state = seed
    while True:
        state = (state + 0x9E3779B97F4A7C15) & _MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
        yield (z >> 11) * (1.0 / 2**53)


def stochastic_reference(S, k, sample_size, seed, costs, budget):
    """Stochastic greedy from the definition: evaluate every sampled candidate, no bounds."""
    n = S.shape[0]
    uniforms = _splitmix_uniforms(seed)
    remaining, m_left, chosen, budget_left = list(range(n)), n, [], budget
    while len(chosen) < k and m_left > 0:
        t = 0
        while t < min(sample_size, m_left):
            r = t + int(next(uniforms) * (m_left - t))
            remaining[t], remaining[r] = remaining[r], remaining[t]
            j = remaining[t]
            if costs[j] > budget_left * (1 + 1e-12):
                m_left -= 1
                remaining[t], remaining[m_left] = remaining[m_left], j
                continue
            t += 1
        if t == 0:
            continue
        sample = remaining[:t]
        scores = [(fl_def(S, chosen + [j]) - fl_def(S, chosen)) / costs[j] for j in sample]
        best = max(range(t), key=lambda q: (scores[q], -sample[q]))
        j = sample[best]
        chosen.append(j)
        budget_left -= costs[j]
        m_left -= 1
        remaining[best], remaining[m_left] = remaining[m_left], j
    return chosen


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("with_costs", [False, True])
def test_stochastic_takes_the_best_of_each_sample(with_costs, seed):
    # the compiled loop skips candidates whose stale bound cannot win; the picks must
    # still be exactly the best of each full sample (ties to the smaller id)
    n, k, epsilon = 120, 25, 0.1
    S = np.round(random_similarity(n, 5, density=0.2) * 2) / 2  # few distinct values: many ties
    costs = np.random.default_rng(1).uniform(0.5, 2.0, n) if with_costs else np.ones(n)
    budget = 14.0 if with_costs else None
    res = maximize(
        FacilityLocation(sp.csr_matrix(S)),
        k,
        StochasticGreedy(epsilon, random_state=seed),
        costs=costs if with_costs else None,
        budget=budget,
    )
    seed = int(np.random.default_rng(seed).integers(0, 2**63 - 1))
    sample_size = int(np.ceil(n / k * np.log(1 / epsilon)))
    expected = stochastic_reference(S, k, sample_size, seed, costs, budget or np.inf)
    assert res.indices.tolist() == expected


class _PythonLazy(LazyGreedy):
    """Lazy greedy forced onto its Python loop."""

    def _compiled(self, function, state):
        return False


class _Opaque(FacilityLocation):
    def kernels(self, state):
        return None


@pytest.mark.parametrize("storage", ["sparse", "dense"])
def test_compiled_and_python_lazy_agree(storage, monkeypatch):
    S = random_similarity(400, 9, density=0.04 if storage == "sparse" else None)
    G = sp.csr_matrix(S) if storage == "sparse" else S
    calls = []
    for name in ("_run_compiled", "_run_python"):
        run = getattr(LazyGreedy, name)
        monkeypatch.setattr(
            LazyGreedy,
            name,
            lambda self, *a, _run=run, _name=name: calls.append(_name) or _run(self, *a),
        )
    compiled = maximize(FacilityLocation(G), 60, LazyGreedy())
    python = maximize(FacilityLocation(G), 60, _PythonLazy())
    opaque = maximize(_Opaque(G), 60, LazyGreedy())
    assert calls == ["_run_compiled", "_run_python", "_run_python"]
    for other in (python, opaque):
        np.testing.assert_array_equal(compiled.indices, other.indices)
        np.testing.assert_allclose(compiled.gains, other.gains, rtol=1e-12)


def _step_ratios(S, res):
    """Each pick's gain over the best gain available at that step (from the definition)."""
    ratios = []
    for t, g in enumerate(res.gains):
        prefix = res.indices[:t].tolist()
        base = fl_def(S, prefix)
        best = max(fl_def(S, [*prefix, i]) - base for i in range(S.shape[0]) if i not in prefix)
        ratios.append(g / best)
    return np.array(ratios)


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_approximate_lazy_keeps_its_per_step_guarantee(seed):
    # epsilon large enough to bite: some picks are not the best, none is worse than 1 - epsilon
    epsilon = 0.3
    S = np.random.default_rng(seed).random((40, 40)) ** 3
    res = maximize(FacilityLocation(S), 10, ApproximateLazyGreedy(epsilon))
    ratios = _step_ratios(S, res)
    assert ratios.min() >= 1 - epsilon - 1e-12
    assert (ratios < 0.99).sum() >= 2
    assert res.objective == pytest.approx(fl_def(S, res.indices.tolist()))


def test_torch_dense_matches_numpy():
    S = random_similarity(80, 3).astype(np.float32)
    a = maximize(FacilityLocation(S), 15, "lazy")
    f = FacilityLocation(torch.from_numpy(S))
    assert f.kernels(f.init_state()) is None  # torch runs from Python, on the tensor
    assert isinstance(f.init_state().cur, torch.Tensor)
    b = maximize(f, 15, "lazy")
    c = maximize(FacilityLocation(torch.from_numpy(S), device=torch.device("cpu")), 15, "naive")
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.indices, c.indices)
    np.testing.assert_allclose(a.gains, b.gains, rtol=1e-6)
    # a CPU device keeps a numpy matrix in the compiled kernels
    d = FacilityLocation(S, device=torch.device("cpu"))
    assert d.kernels(d.init_state()) is not None
    np.testing.assert_array_equal(maximize(d, 15, "lazy").indices, a.indices)


def test_similarity_metrics():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    D2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    np.testing.assert_allclose(
        similarity(X, "euclidean", dtype=np.float64), D2.max() - D2, atol=1e-9
    )
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_allclose(similarity(X, "cosine"), np.maximum(Xn @ Xn.T, 0), atol=1e-6)
    np.testing.assert_allclose(similarity(X, "dot"), np.maximum(X @ X.T, 0), atol=1e-5)
    # the CUDA code path, run on the CPU (a CPU device returns numpy, whatever its spelling)
    from coresets.submodular.similarity import _similarity_torch

    for metric, ref in (("euclidean", D2.max() - D2), ("dot", np.maximum(X @ X.T, 0))):
        t = _similarity_torch(X, metric, np.dtype(np.float32), torch.device("cpu"))
        assert isinstance(t, torch.Tensor)
        np.testing.assert_allclose(t.numpy(), ref, rtol=1e-5, atol=1e-3)


# --- apricot agreement --------------------------------------------------------


def assert_same_ranking(idx, gains, ref_idx, ref_gains, rtol=1e-4):
    """Same gains to ``rtol`` and the same ranking, where runs of equal gains compare as sets."""
    np.testing.assert_allclose(gains, ref_gains, rtol=rtol)
    ref_gains = np.asarray(ref_gains, dtype=np.float64)
    start = 0
    for end in range(1, len(ref_gains) + 1):
        if end == len(ref_gains) or ref_gains[end] != ref_gains[start]:
            assert set(idx[start:end].tolist()) == set(ref_idx[start:end].tolist()), (start, end)
            start = end


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits().data


def test_dense_euclidean_matches_apricot(digits):
    from apricot import FacilityLocationSelection

    ref = FacilityLocationSelection(40, metric="euclidean", optimizer="lazy").fit(digits)
    for opt in ("lazy", "naive"):
        res = maximize(FacilityLocation(similarity(digits, "euclidean")), 40, opt)
        # digits are integers, so gains are exact and ties are real ties (positions 37-38)
        assert_same_ranking(res.indices, res.gains, ref.ranking, ref.gains)


def test_implicit_similarity_matches_apricot(digits):
    from apricot import FacilityLocationSelection

    ref = FacilityLocationSelection(40, metric="euclidean", optimizer="lazy").fit(digits)
    implicit = FacilityLocation(ImplicitSimilarity(digits, "euclidean"))
    for opt in ("lazy", "naive"):
        res = maximize(implicit, 40, opt)
        assert_same_ranking(res.indices, res.gains, ref.ranking, ref.gains)


def test_precomputed_sparse_matches_apricot(digits):
    from apricot import FacilityLocationSelection
    from sklearn.neighbors import kneighbors_graph

    D = kneighbors_graph(digits, 15, mode="distance", include_self=True).tocsr()
    G = D.copy()
    G.data = (D.data.max() - D.data).astype(np.float64)
    ref = FacilityLocationSelection(50, metric="precomputed", optimizer="lazy").fit(G)
    res = maximize(FacilityLocation(G), 50, "lazy")
    assert_same_ranking(res.indices, res.gains, ref.ranking, ref.gains)


# --- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "matrix,exc,word",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), ValueError, "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), ValueError, "inf"),
        (np.array([[1.0, -0.5], [0.0, 1.0]]), ValueError, "non-negative"),
        (np.ones(4), ValueError, "2-D"),
        (np.zeros((3, 0)), ValueError, "empty"),
        (np.zeros((0, 0)), ValueError, "empty"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "numbers"),
        ("similarity", TypeError, "numpy array"),
        (sp.csr_matrix(np.array([[1.0, -1.0], [0.0, 1.0]])), ValueError, "non-negative"),
        (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), ValueError, "NaN"),
    ],
)
def test_bad_similarity(matrix, exc, word):
    with pytest.raises(exc, match=word) as info:
        FacilityLocation(matrix)
    assert "similarity" in str(info.value)


@pytest.mark.parametrize("cls", [GraphCut, SaturatedCoverage])
def test_square_functions_refuse_rectangular_similarity(cls):
    with pytest.raises(ValueError, match="similarity must be square"):
        cls(np.ones((2, 3)))


def test_bad_maximize_arguments():
    f = FacilityLocation(np.eye(5))
    for k in (0, -1, 6):
        with pytest.raises(ValueError, match="k must be"):
            maximize(f, k)
    with pytest.raises(TypeError, match="k must be an integer"):
        maximize(f, "3")
    with pytest.raises(ValueError, match="k is required"):
        maximize(f)
    with pytest.raises(ValueError, match="initial_subset holds duplicate"):
        maximize(f, 2, initial_subset=[1, 1])
    with pytest.raises(ValueError, match="initial_subset holds indices outside"):
        maximize(f, 2, initial_subset=[7])
    with pytest.raises(ValueError, match="k must be <= 3"):
        maximize(f, 4, initial_subset=[0, 1])
    with pytest.raises(ValueError, match="costs must be strictly positive"):
        maximize(f, costs=[1, 0, 1, 1, 1], budget=2)
    with pytest.raises(ValueError, match="costs must be a 1-D array of length 5"):
        maximize(f, costs=[1, 1], budget=2)
    with pytest.raises(ValueError, match="budget is required"):
        maximize(f, 2, costs=np.ones(5))
    with pytest.raises(ValueError, match="costs is required"):
        maximize(f, 2, budget=3.0)
    with pytest.raises(ValueError, match="budget must be"):
        maximize(f, costs=np.ones(5), budget=-1)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        maximize(f, 2, "greedyish")
    with pytest.raises(ValueError, match="epsilon must lie in"):
        StochasticGreedy(epsilon=1.5)
    with pytest.raises(TypeError, match="function must be a SubmodularFunction"):
        maximize(np.eye(3), 2)
    with pytest.raises(ValueError, match="lam must be"):
        GraphCut(np.eye(3), lam=0)
    with pytest.raises(ValueError, match="alpha must be"):
        SaturatedCoverage(np.eye(3), alpha=-1)
    with pytest.raises(ValueError, match="concave must be one of"):
        FeatureBased(np.eye(3), concave="cube")
    with pytest.raises(ValueError, match="functions must share one ground-set size"):
        Mixture([FacilityLocation(np.eye(3)), FacilityLocation(np.eye(4))])


def test_dense_similarity_over_budget_says_use_neighbors():
    X = np.random.default_rng(0).random((3000, 2))
    with pytest.raises(ValueError, match="n_neighbors"):
        similarity(X, memory_budget=1024**2)
    with pytest.raises(ValueError, match="X contains NaN"):
        similarity(np.array([[0.0, np.nan], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="metric must be one of"):
        similarity(X, metric="manhattan")
    with pytest.raises(ValueError, match="3 zero rows"):
        similarity(np.zeros((3, 2)), metric="cosine")


def test_similarity_cpu_device_spellings_agree():
    X = np.random.default_rng(1).random((30, 4))
    ref = similarity(X, "cosine")
    for device in ("cpu", torch.device("cpu"), "auto" if not torch.cuda.is_available() else "cpu"):
        S = similarity(X, "cosine", device=device)
        assert isinstance(S, np.ndarray)
        np.testing.assert_array_equal(S, ref)
    np.testing.assert_array_equal(similarity(X, "ip"), similarity(X, "dot"))


# --- implicit dense similarity ---------------------------------------------------


def test_implicit_similarity_hand_derived():
    # points 0, 1, 3 on a line: D2 = [[0, 1, 9], [1, 0, 4], [9, 4, 0]], top = 9
    X = np.array([[0.0], [1.0], [3.0]])
    implicit = ImplicitSimilarity(X, "euclidean")
    np.testing.assert_array_equal(implicit.rows([0, 1, 2]), [[9, 8, 0], [8, 9, 5], [0, 5, 9]])
    res = maximize(FacilityLocation(implicit), 2, "lazy")
    # f({1}) = 8 + 9 + 5 = 22; then 2 adds max(0 - 8, 0) + 0 + (9 - 5) = 4
    assert res.indices.tolist() == [1, 2] and res.gains.tolist() == [22.0, 4.0]


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "dot"])
def test_implicit_codes_bound_the_exact_rows(metric):
    X = np.random.default_rng(0).normal(size=(300, 7)) * 3 + 1
    implicit = ImplicitSimilarity(X, metric)
    rows = implicit.rows(np.arange(300))
    upper = implicit.offset[:, None] + implicit.step[:, None] * implicit.codes
    assert (upper >= rows).all()
    # tight: within two code steps of the row's range, plus the offset's slack
    slack = (upper - rows) / np.abs(implicit.step)[:, None]
    assert np.median(slack) < 3
    np.testing.assert_allclose(rows, similarity(X, metric), rtol=1e-5, atol=1e-5 * rows.max())


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "dot"])
def test_implicit_gain_bounds_are_upper_bounds(metric):
    X = np.random.default_rng(3).normal(size=(400, 6))
    f = FacilityLocation(ImplicitSimilarity(X, metric))
    state, everyone = f.init_state(), np.arange(400)
    for j in np.random.default_rng(4).choice(400, 30, replace=False):
        bounds, gains = f.upper_bounds(state, everyone), f.gains(state, everyone)
        assert (bounds >= gains).all()
        # and tight: at most a few code steps per point
        assert np.median(bounds - gains) <= 400 * 3 * np.abs(f.similarity.step).max()
        f.add(state, j)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_gain_bounds_are_upper_bounds(dtype):
    # the vectorised (reordered) dense sum, nudged up, never falls below the exact kernel's
    X = np.random.default_rng(5).normal(size=(500, 6))
    f = FacilityLocation(similarity(X, "euclidean", dtype=dtype))
    state, everyone = f.init_state(), np.arange(500)
    for j in np.random.default_rng(6).choice(500, 30, replace=False):
        bounds, gains = f.upper_bounds(state, everyone), f.gains(state, everyone)
        assert (bounds >= gains).all()
        np.testing.assert_allclose(bounds, gains, rtol=1e-9)
        f.add(state, j)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "dot"])
@pytest.mark.parametrize("opt", ["lazy", "naive", "stochastic", "approximate-lazy"])
def test_implicit_equals_its_rows_stored(metric, opt):
    # every optimiser on the implicit form gives what it gives on the stored exact rows
    X = np.random.default_rng(1).normal(size=(250, 5))
    implicit = ImplicitSimilarity(X, metric)
    stored = implicit.rows(np.arange(250))
    costs = np.random.default_rng(2).uniform(0.5, 2.0, 250)
    for kwargs in ({}, {"costs": costs, "budget": 20.0}):
        a = maximize(FacilityLocation(implicit), 40, as_optimizer(opt, random_state=0), **kwargs)
        b = maximize(FacilityLocation(stored), 40, as_optimizer(opt, random_state=0), **kwargs)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.gains, b.gains)
        assert a.objective == pytest.approx(FacilityLocation(stored).evaluate(a.indices), rel=1e-12)


def test_implicit_similarity_bad_input():
    with pytest.raises(ValueError, match="X contains NaN"):
        ImplicitSimilarity(np.array([[0.0, np.nan], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="metric must be one of"):
        ImplicitSimilarity(np.ones((3, 2)), metric="manhattan")
    with pytest.raises(ValueError, match="16-bit similarity codes"):
        ImplicitSimilarity(np.ones((3000, 2)), memory_budget=1024**2)
    with pytest.raises(ValueError, match="indices holds indices outside"):
        ImplicitSimilarity(np.ones((3, 2))).rows([3])
    with pytest.raises(TypeError, match="indices must hold integer"):
        ImplicitSimilarity(np.ones((3, 2))).rows([0.5])
    with pytest.raises(ValueError, match="indices holds indices outside"):
        FacilityLocation(ImplicitSimilarity(np.ones((3, 2)))).evaluate([0, 3])
    with pytest.raises(ValueError, match="indices holds indices outside"):
        FacilityLocation(np.ones((3, 3))).evaluate([-1])
    with pytest.raises(ValueError, match="device"):
        FacilityLocation(ImplicitSimilarity(np.ones((3, 2))), device="cuda")
    with pytest.raises(TypeError, match="FacilityLocation only"):
        GraphCut(ImplicitSimilarity(np.ones((3, 2))))


def test_implicit_identical_points_give_zero_gains():
    # every distance is 0: top = 0, a zero code scale, and ties broken towards index 0
    implicit = ImplicitSimilarity(np.ones((20, 3)), "euclidean")
    for opt in ("lazy", "naive", "stochastic"):
        res = maximize(FacilityLocation(implicit), 3, as_optimizer(opt, random_state=0))
        assert res.gains.tolist() == [0.0, 0.0, 0.0] and len(set(res.indices.tolist())) == 3
    assert maximize(FacilityLocation(implicit), 3, "lazy").indices.tolist() == [0, 1, 2]


# --- properties -----------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 12),
    seed=st.integers(0, 10_000),
    density=st.floats(0.1, 1.0),
    data=st.data(),
)
def test_property_lazy_equals_naive_and_definition(n, seed, density, data):
    k = data.draw(st.integers(1, n))
    rng = np.random.default_rng(seed)
    # multiples of 1/4 make real ties, and every sum of them is exact in any order, so the
    # tie-breaking is tested rather than the summation order of two implementations
    S = np.floor(rng.random((n, n)) * 8) / 4 * (rng.random((n, n)) < density)
    kind = data.draw(st.sampled_from(["dense", "sparse"]))
    f = FacilityLocation(S if kind == "dense" else sp.csr_matrix(S))
    naive, lazy = maximize(f, k, "naive"), maximize(f, k, "lazy")
    ref_idx, ref_gains = greedy_def(lambda s: fl_def(S, s), n, k)
    np.testing.assert_array_equal(naive.indices, ref_idx)
    np.testing.assert_array_equal(lazy.indices, ref_idx)
    np.testing.assert_allclose(lazy.gains, ref_gains, atol=1e-9)
    assert lazy.gains.sum() == pytest.approx(lazy.objective, abs=1e-9)
    assert np.all(np.diff(lazy.gains) <= 1e-9)
    stoch = maximize(f, k, StochasticGreedy(random_state=seed))
    assert stoch.objective == pytest.approx(fl_def(S, stoch.indices.tolist()), abs=1e-9)
    assert len(set(stoch.indices.tolist())) == k


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 10),
    seed=st.integers(0, 10_000),
    lam=st.sampled_from([0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0]),
)
def test_property_graph_cut_and_saturated_coverage(n, seed, lam):
    # dyadic values: real ties (lam = 1 ties every pair at n = 2) stay exact in any order
    S = np.round(np.random.default_rng(seed).random((n, n)) * 64) / 64
    S = (S + S.T) / 2
    k = max(1, n // 2)
    for f, f_def in (
        (GraphCut(S, lam=lam), lambda s: gc_def(S, s, lam)),
        (SaturatedCoverage(S, alpha=lam / 8), lambda s: sc_def(S, s, lam / 8)),
    ):
        ref_idx, ref_gains = greedy_def(f_def, n, k)
        lazy = maximize(f, k, "lazy")
        np.testing.assert_array_equal(lazy.indices, ref_idx)
        np.testing.assert_allclose(lazy.gains, ref_gains, rtol=1e-9, atol=1e-9)


@njit
def _loose_bound(args, cur, j):
    return (1.0 + (j % 5) / 4.0) * _kernels.fl_dense_gain1(args, cur, j) + 1.0


class _LooselyBoundedFL(FacilityLocation):
    """Facility location whose cheap bounds are valid but loose, by up to 2x, unevenly."""

    def kernels(self, state):
        return super().kernels(state)._replace(bound=_loose_bound)

    def upper_bounds(self, state, candidates):
        c = np.asarray(candidates)
        return (1.0 + (c % 5) / 4.0) * self.gains(state, c) + 1.0


def test_loose_bounds_and_bulk_refresh_keep_lazy_exact():
    # n large enough that the first picks need a bulk refresh in the middle of a pick;
    # exact scores found earlier in that pick must survive it, not turn into bounds
    S = similarity(np.random.default_rng(2).normal(size=(3000, 8)), "euclidean")
    lazy = maximize(_LooselyBoundedFL(S), 60, "lazy")
    naive = maximize(FacilityLocation(S), 60, "naive")
    np.testing.assert_array_equal(lazy.indices, naive.indices)
    np.testing.assert_array_equal(lazy.gains, naive.gains)
    stochastic = maximize(_LooselyBoundedFL(S), 60, StochasticGreedy(random_state=0))
    plain = maximize(FacilityLocation(S), 60, StochasticGreedy(random_state=0))
    np.testing.assert_array_equal(stochastic.indices, plain.indices)


def test_lazy_bulk_refresh_matches_naive():
    # n large enough that the first picks collapse every bound and trigger the bulk refresh
    X = np.random.default_rng(1).normal(size=(3000, 8))
    f = FacilityLocation(similarity(X, dtype=np.float64))
    lazy, naive = maximize(f, 40, "lazy"), maximize(f, 40, "naive")
    np.testing.assert_array_equal(lazy.indices, naive.indices)
    np.testing.assert_allclose(lazy.gains, naive.gains, rtol=1e-12)
    costs = np.random.default_rng(2).uniform(0.5, 2.0, 3000)
    lazy_c = maximize(f, optimizer="lazy", costs=costs, budget=20.0)
    naive_c = maximize(f, optimizer="naive", costs=costs, budget=20.0)
    np.testing.assert_array_equal(lazy_c.indices, naive_c.indices)


def test_shared_checks():
    from coresets._validation import check_option, check_real, check_similarity

    assert check_real(0.5, "epsilon", low=0, high=1) == 0.5
    assert check_real(0, "x", low=0, low_open=False) == 0.0
    for bad, exc, word in [
        (True, TypeError, "real number"),
        ("1", TypeError, "real number"),
        (1.0, ValueError, r"lie in \(0, 1\)"),
        (float("nan"), ValueError, "lie in"),
    ]:
        with pytest.raises(exc, match=word):
            check_real(bad, "epsilon", low=0, high=1)
    with pytest.raises(ValueError, match="budget must be a finite number > 0"):
        check_real(float("inf"), "budget", low=0)
    assert check_option("lazy", ("lazy", "naive"), "optimizer") == "lazy"
    with pytest.raises(ValueError, match=r"optimizer must be one of \('lazy', 'naive'\)"):
        check_option(3, ("lazy", "naive"), "optimizer")
    kind, S = check_similarity(np.ones((2, 3), dtype=np.int64))
    assert kind == "numpy" and S.dtype == np.float64 and S.flags.c_contiguous
    with pytest.raises(ValueError, match="S must be square"):
        check_similarity(np.ones((2, 3)), name="S", square=True)
    message = "Negative values in data passed to {name} (min {min:.1f})"
    for M in (np.array([[1.0, -2.0]]), sp.csr_matrix([[1.0, -2.0]]), torch.tensor([[1.0, -2.0]])):
        with pytest.raises(ValueError, match=r"Negative values in data passed to X \(min -2.0\)"):
            check_similarity(M, name="X", negative_message=message)
        assert check_similarity(M, nonnegative=False)[0] in ("numpy", "sparse", "torch")
