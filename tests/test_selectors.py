"""scikit-learn selectors: estimator checks, apricot parity, weights, per-class, bad input."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from coresets.selectors import (
    FacilityLocationSelector,
    FeatureBasedSelector,
    GraphCutSelector,
    HerdingSelector,
    KCenterGreedySelector,
    MixtureSelector,
    RandomSelector,
    SaturatedCoverageSelector,
    allocate_per_class,
)
from coresets.submodular import FacilityLocation, StochasticGreedy, similarity

# Checks that assume a transformer keeps every input row (row i of the output is row
# i of the input, for any input). A selector returns the chosen rows of the data it was
# fitted on, so these cannot pass by design.
ROW_DROPPING = {
    "check_transformer_general": "asserts transform keeps every row; a selector returns k < n rows",
    "check_transformer_data_not_an_array": "runs check_transformer_general on a non-array: "
    "same row-count assertion",
    "check_methods_sample_order_invariance": "assumes output row i belongs to input row i",
    "check_methods_subset_invariance": "calls transform on a subset of rows; transform only "
    "accepts the fitted data, whose chosen rows it returns",
    "check_fit_idempotent": "calls transform on held-out rows of another count; transform only "
    "accepts the fitted data",
}

ESTIMATORS = [
    FacilityLocationSelector(0.5),
    FacilityLocationSelector(0.5, n_neighbors=3),
    FacilityLocationSelector(0.5, metric="precomputed"),
    GraphCutSelector(0.5),
    SaturatedCoverageSelector(0.5),
    FeatureBasedSelector(0.5),
    MixtureSelector(0.5, [FacilityLocationSelector(), GraphCutSelector(lam=2.0)]),
    RandomSelector(0.5),
    KCenterGreedySelector(0.5, device="cpu"),
    HerdingSelector(0.5, device="cpu"),
    # integer sizes, as users write them: a one-row X must fail in scikit-learn's words
    FacilityLocationSelector(5),
    RandomSelector(5),
    KCenterGreedySelector(5, device="cpu"),
]


def _expected_failed_checks(estimator):
    return ROW_DROPPING


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def _assert_same_greedy(ours, ranking, gains):
    """Equal up to exact ties: same gains step by step and the same set."""
    np.testing.assert_allclose(ours.gains_, gains, rtol=1e-9)
    assert set(ours.ranking_.tolist()) == set(np.asarray(ranking).tolist())
    differ = ours.ranking_ != np.asarray(ranking)
    assert differ.mean() < 0.1  # only tied steps swap


@pytest.mark.slow
def test_matches_apricot_dense_euclidean(digits):
    from apricot import FacilityLocationSelection

    X, _ = digits
    ours = FacilityLocationSelector(100, device="cpu").fit(X)
    theirs = FacilityLocationSelection(100, metric="euclidean").fit(X)
    _assert_same_greedy(ours, theirs.ranking, theirs.gains)
    assert ours.ranking_[:30].tolist() == theirs.ranking[:30].tolist()


def test_matches_apricot_precomputed_sparse(digits):
    from apricot import FacilityLocationSelection
    from sklearn.neighbors import kneighbors_graph

    X, _ = digits
    D = kneighbors_graph(X, 10, mode="distance", include_self=True)
    G = sp.csr_matrix((1.0 / (1.0 + D.data), D.indices, D.indptr), shape=D.shape)
    ours = FacilityLocationSelector(60, metric="precomputed").fit(G)
    theirs = FacilityLocationSelection(60, metric="precomputed").fit(G)
    _assert_same_greedy(ours, theirs.ranking, theirs.gains)


def brute_weights(S, ranking):
    """Every point to its most similar chosen point, ties to the earlier pick."""
    w = np.zeros(len(ranking))
    for i in range(S.shape[1]):
        w[int(np.argmax([S[j, i] for j in ranking]))] += 1
    return w


def test_weights_equal_brute_force_dense():
    X = np.random.default_rng(0).normal(size=(40, 3))
    sel = FacilityLocationSelector(6, device="cpu").fit(X)
    S = similarity(X)
    np.testing.assert_array_equal(sel.weights_, brute_weights(S, sel.ranking_))
    assert sel.weights_.sum() == 40
    assert np.isclose(sel.objective_, FacilityLocation(S).evaluate(sel.ranking_))


def test_weights_per_class_equal_brute_force():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(45, 2))
    y = np.repeat(["a", "b", "c"], [20, 15, 10])
    sel = FacilityLocationSelector(9, per_class=True, metric="cosine", device="cpu").fit(X, y)
    assert np.bincount(np.unique(y, return_inverse=True)[1][sel.ranking_]).tolist() == [4, 3, 2]
    for label in "abc":
        rows = np.flatnonzero(y == label)
        mine = np.isin(sel.ranking_, rows)
        local = np.searchsorted(rows, sel.ranking_[mine])
        S = similarity(X[rows], metric="cosine")
        np.testing.assert_array_equal(sel.weights_[mine], brute_weights(S, local))
    assert sel.weights_.sum() == 45


def test_weights_sparse_knn_sum_to_n_and_baselines_weighted(digits):
    X, y = digits
    X = X[:300]
    sel = FacilityLocationSelector(20, n_neighbors=5, random_state=0, device="cpu").fit(X)
    assert sel.weights_.sum() == 300 and (sel.weights_ >= 1).all()
    for est in (
        RandomSelector(20, random_state=0),
        KCenterGreedySelector(20, random_state=0),
        HerdingSelector(20),  # deterministic: no random_state
    ):
        est.fit(X)
        d = ((X[:, None] - X[est.ranking_][None]) ** 2).sum(-1)
        np.testing.assert_array_equal(est.weights_, np.bincount(d.argmin(1), minlength=20))


def test_gains_objective_semantics():
    X = np.random.default_rng(2).normal(size=(60, 3))
    r = RandomSelector(5, random_state=0).fit(X)
    assert np.isnan(r.gains_).all() and np.isnan(r.objective_)
    kc = KCenterGreedySelector(5, random_state=0, device="cpu").fit(X)
    assert np.all(np.diff(kc.gains_) <= 0) and kc.objective_ == kc.gains_[-1]
    fl = FacilityLocationSelector(5, device="cpu").fit(X)
    assert np.isclose(fl.gains_.sum(), fl.objective_)
    for est in (r, kc, fl):  # the fitted attributes are the fields of selection_
        sel = est.selection_
        assert sel.indices is est.ranking_ and sel.gains is est.gains_
        assert sel.weights is est.weights_
        assert sel.objective == est.objective_ or np.isnan(est.objective_)


def test_n_neighbors_auto_and_large_int_are_dense():
    X = np.random.default_rng(3).normal(size=(50, 4))
    dense = FacilityLocationSelector(7, device="cpu").fit(X).ranking_
    np.testing.assert_array_equal(
        FacilityLocationSelector(7, n_neighbors="auto", device="cpu").fit(X).ranking_, dense
    )
    np.testing.assert_array_equal(
        FacilityLocationSelector(7, n_neighbors=50, device="cpu").fit(X).ranking_, dense
    )


def test_dense_over_budget_falls_back_to_implicit_similarity(digits, monkeypatch):
    import coresets._validation
    import coresets.selectors.submodular as module

    X = digits[0][:400]  # integer pixels: both forms compute identical similarities
    stored = FacilityLocationSelector(40, device="cpu").fit(X)
    # the float32 matrix (640 kB) no longer fits, the 16-bit codes (320 kB) do; the one
    # budget in _validation reaches the selector too
    monkeypatch.setattr(coresets._validation, "DEFAULT_MEMORY_BUDGET", 400 * 400 * 3)
    built = []
    real = module.ImplicitSimilarity
    monkeypatch.setattr(
        module, "ImplicitSimilarity", lambda *a, **k: built.append(1) or real(*a, **k)
    )
    for nn in (None, "auto"):
        compact = FacilityLocationSelector(40, n_neighbors=nn, device="cpu").fit(X)
        np.testing.assert_array_equal(compact.ranking_, stored.ranking_)
        np.testing.assert_array_equal(compact.gains_, stored.gains_)
        np.testing.assert_array_equal(compact.weights_, stored.weights_)
    assert len(built) == 2
    # graph cut needs the stored matrix: the budget error stays
    with pytest.raises(ValueError, match="memory budget"):
        GraphCutSelector(40, device="cpu").fit(X)


def test_sample_cost_is_a_knapsack_budget():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 3))
    cost = rng.uniform(0.5, 2.0, size=50)
    sel = FacilityLocationSelector(5, device="cpu").fit(X, sample_cost=cost)
    assert cost[sel.ranking_].sum() <= 5 + 1e-9
    frac = GraphCutSelector(0.1, lam=2.0).fit(X, sample_cost=cost)
    assert cost[frac.ranking_].sum() <= 0.1 * cost.sum() + 1e-9
    y = np.repeat([0, 1], 25)
    per = FacilityLocationSelector(6, per_class=True, device="cpu").fit(X, y, sample_cost=cost)
    for c in (0, 1):
        chosen = per.ranking_[y[per.ranking_] == c]
        assert cost[chosen].sum() <= 6 * cost[y == c].sum() / cost.sum() + 1e-9


def test_allocate_per_class():
    assert allocate_per_class([500, 300, 200], 10).tolist() == [5, 3, 2]
    assert allocate_per_class([1000, 1], 10).tolist() == [9, 1]  # every class gets one
    assert allocate_per_class([7, 7, 6], 7).sum() == 7
    assert allocate_per_class([10, 9, 8], 8, mode="balanced").tolist() == [3, 3, 2]
    with pytest.raises(ValueError, match="class 'z' has 2 points"):
        allocate_per_class([10, 2], 6, mode="balanced", labels=["y", "z"])
    with pytest.raises(ValueError, match="at least one point per class"):
        allocate_per_class([5, 5, 5], 2)


def test_allocate_per_class_by_shares():
    # 12 split 1:2:3 by shares, whatever the sizes
    assert allocate_per_class([100, 100, 100], 12, shares=[1, 2, 3]).tolist() == [2, 4, 6]
    # a class is capped at its size and its excess goes to the others by largest remainder
    assert allocate_per_class([2, 100, 100], 12, shares=[10, 1, 1]).tolist() == [2, 5, 5]
    # a zero share still keeps one row
    assert allocate_per_class([50, 50], 10, shares=[0, 1]).tolist() == [1, 9]
    for bad in ([1, 2], [1, -1, 1], [1, np.nan, 1], [0, 0, 0]):
        with pytest.raises(ValueError, match="shares"):
            allocate_per_class([10, 10, 10], 6, shares=bad)


def test_transform_resample_support_pickle_clone_pipeline():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(80, 4))
    y = rng.integers(0, 3, size=80)
    sel = FacilityLocationSelector(10, random_state=0, device="cpu")
    Xs = sel.fit_transform(X)
    np.testing.assert_array_equal(Xs, X[sel.ranking_])
    Xr, yr = clone(sel).fit_resample(X, y)
    np.testing.assert_array_equal(Xr, Xs)
    np.testing.assert_array_equal(yr, y[sel.ranking_])
    assert sel.get_support().sum() == 10
    np.testing.assert_array_equal(sel.get_support(indices=True), np.sort(sel.ranking_))
    again = pickle.loads(pickle.dumps(sel))
    np.testing.assert_array_equal(again.transform(X), Xs)
    assert clone(sel).set_params(n_samples=3).get_params()["n_samples"] == 3
    mix = MixtureSelector(5, [FacilityLocationSelector(), FeatureBasedSelector()])
    assert clone(mix).functions[0] is not mix.functions[0]
    pipe = Pipeline(
        [("scale", StandardScaler()), ("select", KCenterGreedySelector(7, random_state=1))]
    )
    out = pipe.fit_transform(X)
    assert out.shape == (7, 4)
    np.testing.assert_array_equal(out, pipe.transform(X))


def test_deterministic_given_random_state():
    X = np.random.default_rng(6).normal(size=(200, 5))
    for est in (
        FacilityLocationSelector(20, optimizer="stochastic", random_state=3, device="cpu"),
        RandomSelector(20, random_state=3),
        KCenterGreedySelector(20, random_state=3, device="cpu"),
    ):
        a = clone(est).fit(X).ranking_
        np.testing.assert_array_equal(a, clone(est).fit(X).ranking_)
    # an optimiser object carries its own knobs; seeded alike it picks what the name does
    by_name = FacilityLocationSelector(20, optimizer="stochastic", random_state=3, device="cpu")
    by_object = FacilityLocationSelector(
        20, optimizer=StochasticGreedy(epsilon=0.01, random_state=3), device="cpu"
    )
    np.testing.assert_array_equal(by_name.fit(X).ranking_, clone(by_object).fit(X).ranking_)
    coarse = FacilityLocationSelector(
        20, optimizer=StochasticGreedy(epsilon=0.5, random_state=3), device="cpu"
    )
    assert not np.array_equal(coarse.fit(X).ranking_, by_name.ranking_)


def test_mixture_coefficients_weigh_the_parts():
    X = np.abs(np.random.default_rng(9).normal(size=(60, 4)))
    fl = FacilityLocationSelector(8, device="cpu").fit(X)
    parts = [FacilityLocationSelector(device="cpu"), GraphCutSelector(lam=2.0, device="cpu")]
    only_fl = MixtureSelector(8, parts, coefficients=[1.0, 0.0]).fit(X)
    np.testing.assert_array_equal(only_fl.ranking_, fl.ranking_)
    np.testing.assert_allclose(only_fl.gains_, fl.gains_)
    both = MixtureSelector(8, parts, coefficients=[1.0, 3.0]).fit(X)
    assert both.objective_ > fl.objective_


def test_pandas_rows_come_back_as_a_frame():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.random.default_rng(7).normal(size=(30, 2)), columns=["a", "b"])
    sel = HerdingSelector(4, device="cpu").fit(X)
    out = sel.transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.index) == list(sel.ranking_)
    assert list(sel.feature_names_in_) == ["a", "b"]


def test_bad_input():
    X = np.random.default_rng(8).normal(size=(20, 3))
    fl = FacilityLocationSelector(5, device="cpu")
    with pytest.raises(ValueError, match="y must have one label per row"):
        fl.fit(X, np.zeros(19))
    with pytest.raises(
        ValueError, match=r"n_samples=21 asks for more rows than X has \(20 samples\)"
    ):
        FacilityLocationSelector(21).fit(X)
    with pytest.raises(ValueError, match="n_samples as a fraction"):
        FacilityLocationSelector(1.5).fit(X)
    with pytest.raises(ValueError, match="sample_cost must be strictly positive"):
        fl.fit(X, sample_cost=np.r_[np.ones(19), 0.0])
    with pytest.raises(ValueError, match="sample_cost must be a 1-D array of length 20"):
        fl.fit(X, sample_cost=np.ones(3))
    with pytest.raises(ValueError, match="sample_cost is not supported"):
        RandomSelector(5).fit(X, sample_cost=np.ones(20))
    with pytest.raises(ValueError, match="class 1.0 has 2 points"):
        FacilityLocationSelector(6, per_class="balanced").fit(X, np.r_[np.zeros(18), 1, 1])
    with pytest.raises(ValueError, match="y is required"):
        FacilityLocationSelector(6, per_class=True).fit(X)
    with pytest.raises(ValueError, match="per_class"):
        FacilityLocationSelector(6, per_class="yes").fit(X, np.zeros(20))
    fl.fit(X)
    with pytest.raises(ValueError, match="X has 2 features"):
        fl.transform(X[:, :2])
    with pytest.raises(ValueError, match="X has 10 rows"):
        fl.transform(X[:10])
    with pytest.raises(ValueError, match="NaN"):
        fl.fit(np.where(X > 1, np.nan, X))
    with pytest.raises(TypeError, match="sparse"):
        fl.fit(sp.csr_matrix(X))
    with pytest.raises(ValueError, match="metric"):
        FacilityLocationSelector(5, metric="manhattan").fit(X)
    with pytest.raises(ValueError, match="n_neighbors"):
        FacilityLocationSelector(5, n_neighbors="many").fit(X)
    with pytest.raises(ValueError, match="n_neighbors"):
        FacilityLocationSelector(5, n_neighbors=0).fit(X)
    with pytest.raises(ValueError, match="optimizer"):
        FacilityLocationSelector(5, optimizer="fast").fit(X)
    with pytest.raises(ValueError, match="square"):
        FacilityLocationSelector(5, metric="precomputed").fit(np.ones((20, 3)))
    with pytest.raises(ValueError, match="Negative values in data passed to X"):
        FacilityLocationSelector(5, metric="precomputed").fit(-np.ones((4, 4)))
    with pytest.raises(ValueError, match="Negative values in data passed to X"):
        FeatureBasedSelector(5).fit(X)
    with pytest.raises(ValueError, match="precomputed"):
        KCenterGreedySelector(5, metric="precomputed").fit(np.ones((4, 4)))
    with pytest.raises(ValueError, match="metric"):
        HerdingSelector(5, metric="dot").fit(X)
    with pytest.raises(ValueError, match="functions"):
        MixtureSelector(5).fit(X)
    with pytest.raises(TypeError, match="functions"):
        MixtureSelector(5, [RandomSelector()]).fit(X)
    with pytest.raises(ValueError, match="precomputed"):
        MixtureSelector(
            5, [FacilityLocationSelector(metric="precomputed"), GraphCutSelector()]
        ).fit(np.ones((4, 4)))


def test_metric_aliases_select_and_weigh_as_the_canonical_metric():
    X = np.random.default_rng(10).normal(size=(50, 4))
    for alias, name in (("ip", "dot"), ("l2", "euclidean")):
        a = FacilityLocationSelector(5, metric=alias, device="cpu").fit(X)
        b = FacilityLocationSelector(5, metric=name, device="cpu").fit(X)
        np.testing.assert_array_equal(a.ranking_, b.ranking_)
        np.testing.assert_array_equal(a.weights_, b.weights_)


def test_selection_resampler_works_in_imbalanced_learn_pipelines(digits):
    from imblearn.pipeline import Pipeline
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, cross_val_score

    from coresets.selectors import SelectionResampler

    class Recorder(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.rows_ = X.shape[0]
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.full(X.shape[0], self.classes_[0])

    X, y = digits
    X, y = X[:600], y[:600]
    select = SelectionResampler(FacilityLocationSelector(0.1))
    # the selector itself has transform and fit_resample, which imbalanced-learn refuses
    with pytest.raises(TypeError, match="implements both"):
        Pipeline([("select", FacilityLocationSelector(0.1)), ("clf", Recorder())]).fit(X, y)
    pipe = Pipeline([("select", select), ("clf", Recorder())]).fit(X, y)
    assert pipe.named_steps["clf"].rows_ == 60  # trained on the chosen rows only
    assert pipe.predict(X).shape == (600,)  # predicting passes every row through
    fitted = pipe.named_steps["select"]
    ref = FacilityLocationSelector(0.1).fit(X, y)
    np.testing.assert_array_equal(fitted.sample_indices_, ref.ranking_)
    np.testing.assert_array_equal(fitted.weights_, ref.weights_)
    assert not hasattr(select.selector, "ranking_")  # the selector passed in stays unfitted

    real = Pipeline([("select", select), ("clf", LogisticRegression(max_iter=300))])
    scores = cross_val_score(real, X, y, cv=3)
    assert scores.shape == (3,) and (scores > 0.5).all()
    search = GridSearchCV(real, {"select__selector__n_samples": [0.05, 0.2]}, cv=3).fit(X, y)
    assert search.best_params_["select__selector__n_samples"] in (0.05, 0.2)
    with pytest.raises(TypeError, match="selector must be a selector"):
        SelectionResampler(LogisticRegression()).fit_resample(X, y)


def test_set_output_and_feature_names_keep_the_columns(digits):
    import pandas as pd
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = digits
    frame = pd.DataFrame(X[:300], columns=[f"px{i}" for i in range(64)], index=range(1000, 1300))
    sel = FacilityLocationSelector(0.1).set_output(transform="pandas").fit(frame)
    out = sel.transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(frame.columns)
    assert out.index.tolist() == (1000 + sel.ranking_).tolist()  # the chosen rows' labels
    assert sel.get_feature_names_out().tolist() == list(frame.columns)
    pipe = Pipeline([("scale", StandardScaler()), ("select", FacilityLocationSelector(0.1))])
    out = pipe.set_output(transform="pandas").fit_transform(frame)
    assert isinstance(out, pd.DataFrame) and out.shape == (30, 64)
    assert pipe.get_feature_names_out().tolist() == list(frame.columns)
