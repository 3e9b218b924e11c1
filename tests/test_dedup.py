"""Semantic deduplication (SemDeDup): hand-derived cases, brute-force agreement, shards,
determinism, bad input, and the scikit-learn selector."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import coresets.dedup as dedup_mod
from coresets.dedup import Duplicates, semantic_dedup, semantic_duplicates
from coresets.selection import Selection
from coresets.selectors import FacilityLocationSelector, RandomSelector
from coresets.selectors.dedup import SemanticDedupSelector
from coresets.shards import ShardWriter, open_shards


def _angles(*degrees):
    """Unit rows of the plane at the given angles (degrees)."""
    t = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def _parents(d: Duplicates) -> np.ndarray:
    p = np.full(d.n_rows, -1, dtype=np.int64)
    p[d.removed] = d.parent
    return p


def _order_key(X, d: Duplicates) -> np.ndarray:
    """Each row's priority key under ``d.keep`` (lower first), recomputed in float64."""
    X = np.asarray(X, dtype=np.float64)
    c = d.centroids[d.labels]
    if d.metric == "cosine":
        dist = 1.0 - np.einsum("ij,ij->i", X, c) / np.linalg.norm(X, axis=1)
    else:
        dist = np.linalg.norm(X - c, axis=1)
    if d.keep == "farthest":
        return -dist
    if d.keep == "nearest":
        return dist
    return np.arange(X.shape[0], dtype=np.float64)


def _duplicate_matrix(X, metric, threshold):
    X = np.asarray(X, dtype=np.float64)
    if metric == "cosine":
        U = X / np.linalg.norm(X, axis=1, keepdims=True)
        return U @ U.T > threshold
    sq = np.einsum("ij,ij->i", X, X)
    return sq[:, None] + sq[None, :] - 2.0 * X @ X.T < threshold * threshold


def _brute_force(X, labels, key, metric, threshold):
    """The paper's rule on the float64 all-pairs matrix: within each cluster of ``labels``
    in ``key`` order (ties: lower id), a row's parent is its first earlier duplicate."""
    dup = _duplicate_matrix(X, metric, threshold)
    parent = np.full(X.shape[0], -1, dtype=np.int64)
    for c in np.unique(labels):
        m = np.flatnonzero(labels == c)
        m = m[np.lexsort((m, key[m]))]
        sub = dup[np.ix_(m, m)]
        for j in range(1, m.size):
            earlier = np.flatnonzero(sub[:j, j])
            if earlier.size:
                parent[m[j]] = m[earlier[0]]
    return parent


def _planted(n_base=1500, n_dup=700, d=24, noise=0.02, seed=0):
    """Random directions plus noisy copies of some of them (shuffled)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n_base, d))
    copies = base[rng.integers(0, n_base, n_dup)] + noise * rng.normal(size=(n_dup, d))
    X = np.vstack([base, copies])
    return X[rng.permutation(X.shape[0])].astype(np.float32)


def _check_invariants(d: Duplicates, X):
    n = d.n_rows
    assert np.array_equal(np.sort(np.concatenate([d.kept, d.removed])), np.arange(n))
    assert np.all(np.diff(d.kept) > 0) and np.all(np.diff(d.removed) > 0)
    assert np.isin(d.duplicate_of, d.kept).all()
    assert np.array_equal(d.labels[d.duplicate_of], d.labels[d.removed])
    assert np.array_equal(d.labels[d.parent], d.labels[d.removed])
    sel = d.selection
    assert isinstance(sel, Selection) and np.array_equal(sel.indices, d.kept)
    assert sel.weights.sum() == n
    rep = d.representative
    assert np.array_equal(rep[d.kept], d.kept) and np.array_equal(rep[d.removed], d.duplicate_of)
    # the stored similarity is the float64 one, and it is past the threshold
    X64 = np.asarray(X, dtype=np.float64)
    a, b = X64[d.removed], X64[d.parent]
    if d.metric == "cosine":
        s = np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        assert np.all(d.similarity > d.threshold)
    else:
        s = np.linalg.norm(a - b, axis=1)
        assert np.all(d.similarity < d.threshold)
    np.testing.assert_allclose(d.similarity, s, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- hand-derived cases
def test_exact_duplicates_keep_the_first_copy():
    a, b, c = _angles(0, 60, 120)
    X = np.stack([a, b, a, c, b, a])
    d = semantic_duplicates(X, n_clusters=1, keep="first", random_state=0)
    assert d.kept.tolist() == [0, 1, 3]
    assert d.removed.tolist() == [2, 4, 5]
    assert d.duplicate_of.tolist() == [0, 1, 0]
    assert d.parent.tolist() == [0, 1, 0]
    np.testing.assert_allclose(d.similarity, 1.0, atol=1e-12)
    assert d.weights.tolist() == [3.0, 2.0, 1.0]
    _check_invariants(d, X)


def test_threshold_edge_is_strict_on_both_metrics():
    X = _angles(0, np.rad2deg(np.arccos(0.9)))  # cosine exactly 0.9 (to float64 rounding)
    assert semantic_duplicates(X, threshold=0.9 - 1e-9, n_clusters=1).removed.size == 1
    assert semantic_duplicates(X, threshold=0.9 + 1e-9, n_clusters=1).removed.size == 0
    Y = np.array([[0.0, 0.0], [0.3, 0.4]])  # distance exactly 0.5
    kw = dict(metric="euclidean", n_clusters=1, keep="first")
    d = semantic_duplicates(Y, threshold=0.5 + 1e-9, **kw)
    assert d.removed.tolist() == [1] and d.similarity[0] == pytest.approx(0.5, abs=1e-15)
    assert semantic_duplicates(Y, threshold=0.5 - 1e-9, **kw).removed.size == 0
    assert semantic_duplicates(Y, threshold=0.5, **kw).removed.size == 0  # strict: < threshold


def test_chain_removes_both_later_rows_as_the_paper_does():
    # a~b (20 deg), b~c (20 deg), a and c 40 deg apart: not duplicates at cos(30 deg)
    t = float(np.cos(np.deg2rad(30)))
    a, b, c = _angles(0, 20, 40)
    d = semantic_duplicates(np.stack([a, b, c]), threshold=t, n_clusters=1, keep="first")
    assert d.removed.tolist() == [1, 2]  # c goes too: its earlier duplicate b counts
    assert d.parent.tolist() == [0, 1]
    assert d.duplicate_of.tolist() == [0, 0]  # c is attributed to a, the end of its chain
    assert d.weights.tolist() == [3.0]
    # in the order a, c, b the two ends survive and only the middle goes
    d = semantic_duplicates(np.stack([a, c, b]), threshold=t, n_clusters=1, keep="first")
    assert d.kept.tolist() == [0, 1] and d.removed.tolist() == [2] and d.parent.tolist() == [0]


def test_keep_farthest_and_nearest_pick_by_distance_to_the_centroid():
    # three copies of e1, and p, q 2 degrees apart; the centroid lies near 4.4 degrees,
    # so q (12 deg) is farther from it than p (10 deg)
    X = _angles(0, 0, 0, 10, 12)
    t = float(np.cos(np.deg2rad(5)))
    far = semantic_duplicates(X, threshold=t, n_clusters=1, keep="farthest")
    assert far.kept.tolist() == [0, 4] and far.removed.tolist() == [1, 2, 3]
    assert far.duplicate_of.tolist() == [0, 0, 4]
    near = semantic_duplicates(X, threshold=t, n_clusters=1, keep="nearest")
    assert near.kept.tolist() == [0, 3] and near.duplicate_of.tolist() == [0, 0, 3]
    rnd = semantic_duplicates(X, threshold=t, n_clusters=1, keep="random", random_state=0)
    assert rnd.removed.size == 3 and np.isin(rnd.kept, [0, 1, 2]).sum() == 1


def test_one_row_and_no_duplicates():
    d = semantic_duplicates(np.ones((1, 3)))
    assert d.kept.tolist() == [0] and d.removed.size == 0 and d.n_clusters == 1
    X = np.eye(5)
    sel = semantic_dedup(X, random_state=0)
    assert sel.indices.tolist() == list(range(5)) and sel.weights.tolist() == [1.0] * 5
    assert np.isnan(sel.gains).all() and np.isnan(sel.objective)


# ---------------------------------------------------------------- brute force
@pytest.mark.parametrize(
    "metric,threshold,keep",
    [
        ("cosine", 0.995, "farthest"),
        ("cosine", 0.98, "nearest"),
        ("euclidean", 0.12, "farthest"),
        ("euclidean", 0.2, "first"),
    ],
)
def test_matches_brute_force_within_clusters(metric, threshold, keep, monkeypatch):
    X = _planted()
    monkeypatch.setattr(dedup_mod, "BLOCK", 37)  # many block boundaries inside each cluster
    d = semantic_duplicates(X, threshold=threshold, metric=metric, keep=keep, random_state=0)
    assert d.removed.size > 300  # the planted copies are found
    ref = _brute_force(X, d.labels, _order_key(X, d), metric, threshold)
    np.testing.assert_array_equal(_parents(d), ref)
    _check_invariants(d, X)


def test_clusters_only_miss_pairs_they_split():
    """keep='first' has a global order, so all-pairs brute force is SemDeDup without
    clusters: ours removes a subset of it, and each row it keeps that brute force removes
    has all its earlier duplicates in other clusters."""
    X = _planted(noise=0.05, seed=1)
    t = 0.98
    d = semantic_duplicates(X, threshold=t, keep="first", random_state=0)
    glob = _brute_force(X, np.zeros(X.shape[0], dtype=np.int64), np.arange(X.shape[0]), "cosine", t)
    ours = _parents(d) >= 0
    assert not (ours & (glob < 0)).any()
    dup = _duplicate_matrix(X, "cosine", t)
    for j in np.flatnonzero((glob >= 0) & ~ours):
        earlier = np.flatnonzero(dup[:j, j])
        assert (d.labels[earlier] != d.labels[j]).all()
    assert ours.sum() >= 0.9 * (glob >= 0).sum()
    # one cluster compares every pair: exactly the global rule
    one = semantic_duplicates(X, threshold=t, keep="first", n_clusters=1)
    np.testing.assert_array_equal(_parents(one), glob)


def test_torch_blocks_match_numpy_blocks(monkeypatch):
    torch = pytest.importorskip("torch")
    X = _planted(n_base=400, n_dup=300, d=16).astype(np.float64)
    monkeypatch.setattr(dedup_mod, "BLOCK", 97)
    for metric, t in (("cosine", 0.99), ("euclidean", 0.1)):
        if metric == "cosine":
            Y = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
        else:
            Y = (X - X.mean(axis=0)).astype(np.float32)
        a = dedup_mod._cluster_parents(X, Y, metric, t)
        b = dedup_mod._cluster_parents(X, Y, metric, t, torch.device("cpu"))
        assert (a >= 0).sum() > 100
        np.testing.assert_array_equal(a, b)


def test_rows_inside_the_rounding_band_are_decided_in_float64(monkeypatch):
    # a margin so wide that every pair is rechecked gives the same answer as the default
    X = _planted(n_base=300, n_dup=200, d=8)
    base = semantic_duplicates(X, threshold=0.99, random_state=0)
    monkeypatch.setattr(dedup_mod, "_margin", lambda *a, **k: 10.0)
    wide = semantic_duplicates(X, threshold=0.99, random_state=0)
    np.testing.assert_array_equal(_parents(base), _parents(wide))


# ---------------------------------------------------------------- shards, determinism
def test_shards_give_the_in_memory_result(tmp_path):
    X = _planted(n_base=600, n_dup=300, d=12)
    w = ShardWriter(tmp_path, shard_size=250, n_input=X.shape[0])
    w.append(X[:400])
    w.append(X[400:])
    w.close()
    for keep in ("farthest", "random"):
        mem = semantic_duplicates(X, threshold=0.99, keep=keep, random_state=5)
        for source in (open_shards(tmp_path), tmp_path, str(tmp_path)):
            sh = semantic_duplicates(source, threshold=0.99, keep=keep, random_state=5)
            for field in ("kept", "removed", "duplicate_of", "parent", "labels"):
                np.testing.assert_array_equal(getattr(sh, field), getattr(mem, field))
            np.testing.assert_allclose(sh.similarity, mem.similarity, rtol=1e-12)


def test_deterministic_given_random_state_and_global_rng_untouched():
    X = _planted(n_base=500, n_dup=300, d=10)
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking it stays untouched
    runs = [semantic_duplicates(X, threshold=0.99, keep="random", random_state=7) for _ in "ab"]
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    for field in ("kept", "removed", "duplicate_of", "labels", "centroids"):
        np.testing.assert_array_equal(getattr(runs[0], field), getattr(runs[1], field))
    gen = semantic_duplicates(X, threshold=0.99, random_state=np.random.default_rng(7))
    assert gen.removed.size > 0
    # float32 and float64 input find the same duplicates
    d32 = semantic_duplicates(X, threshold=0.99, random_state=3)
    d64 = semantic_duplicates(X.astype(np.float64), threshold=0.99, random_state=3)
    np.testing.assert_array_equal(d32.removed, d64.removed)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs,exc,name",
    [
        (dict(threshold=1.0), ValueError, "threshold"),
        (dict(threshold=-1.0), ValueError, "threshold"),
        (dict(threshold=float("nan")), ValueError, "threshold"),
        (dict(threshold="0.9"), TypeError, "threshold"),
        (dict(metric="euclidean"), ValueError, "threshold"),
        (dict(metric="euclidean", threshold=0.0), ValueError, "threshold"),
        (dict(metric="dot"), ValueError, "metric"),
        (dict(keep="best"), ValueError, "keep"),
        (dict(n_clusters=0), ValueError, "n_clusters"),
        (dict(n_clusters=11), ValueError, "n_clusters"),
        (dict(n_clusters=2.0), TypeError, "n_clusters"),
        (dict(n_iter=0), ValueError, "n_iter"),
        (dict(random_state=-1), ValueError, "random_state"),
        (dict(random_state="seed"), TypeError, "random_state"),
        (dict(device="tpu"), ValueError, "device"),
    ],
)
def test_bad_options_are_refused_before_any_work(kwargs, exc, name, monkeypatch):
    def no_kmeans(*a, **k):
        raise AssertionError("k-means ran before the input was checked")

    monkeypatch.setattr(dedup_mod, "_kmeans", no_kmeans)
    with pytest.raises(exc, match=name):
        semantic_duplicates(np.random.default_rng(0).normal(size=(10, 3)), **kwargs)


def test_bad_data_is_refused_before_any_work(monkeypatch):
    def no_kmeans(*a, **k):
        raise AssertionError("k-means ran before the input was checked")

    monkeypatch.setattr(dedup_mod, "_kmeans", no_kmeans)
    X = np.random.default_rng(0).normal(size=(10, 3))
    bad = X.copy()
    bad[4, 1] = np.nan
    zero = X.copy()
    zero[6] = 0.0
    for data, exc, match in [
        (bad, ValueError, "X contains NaN"),
        (X[:, 0], ValueError, "X must be 2-D"),
        (np.empty((0, 3)), ValueError, "X is empty"),
        (np.array([["a", "b"]]), TypeError, "X must hold numbers"),
        (zero, ValueError, "zero rows .first: row 6"),
        (12, ValueError, "X must be 2-D"),
    ]:
        with pytest.raises(exc, match=match):
            semantic_duplicates(data)
    # euclidean takes zero rows
    monkeypatch.undo()
    assert semantic_duplicates(zero, metric="euclidean", threshold=0.1).n_rows == 10


def test_bad_shard_directory(tmp_path):
    with pytest.raises(ValueError, match="neither .npy nor .parquet"):
        semantic_duplicates(tmp_path)


# ---------------------------------------------------------------- the selector
# Checks that assume a transformer keeps every input row (as for every selector, see
# tests/test_selectors.py), plus, for cosine, the dtype check whose integer data holds
# all-zero rows, for which cosine similarity is undefined (the euclidean form passes it).
ROW_DROPPING = {
    "check_transformer_general": "asserts transform keeps every row; dedup drops rows",
    "check_transformer_data_not_an_array": "runs check_transformer_general on a non-array",
    "check_methods_sample_order_invariance": "assumes output row i belongs to input row i",
    "check_methods_subset_invariance": "transform only accepts the fitted data",
    "check_fit_idempotent": "calls transform on held-out rows; transform only accepts the "
    "fitted data",
}
ZERO_ROWS = {"check_estimators_dtypes": "integer data with all-zero rows: cosine is undefined"}

ESTIMATORS = [
    SemanticDedupSelector(device="cpu"),
    SemanticDedupSelector(0.5, metric="euclidean", keep="first", device="cpu"),
    SemanticDedupSelector(0.9, selector=FacilityLocationSelector(0.5), device="cpu"),
]


def _expected_failed_checks(estimator):
    return ROW_DROPPING if estimator.metric == "euclidean" else {**ROW_DROPPING, **ZERO_ROWS}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_selector_keeps_what_the_function_keeps():
    X = _planted(n_base=500, n_dup=250, d=12)
    y = np.arange(X.shape[0]) % 3
    sel = SemanticDedupSelector(0.99, random_state=4, device="cpu").fit(X, y)
    d = semantic_duplicates(X, threshold=0.99, random_state=np.random.default_rng(4))
    np.testing.assert_array_equal(sel.ranking_, d.kept)
    np.testing.assert_array_equal(sel.removed_, d.removed)
    np.testing.assert_array_equal(sel.duplicate_of_, d.duplicate_of)
    np.testing.assert_array_equal(sel.weights_, d.weights)
    np.testing.assert_array_equal(sel.transform(X), X[d.kept])
    Xr, yr = sel.fit_resample(X, y)
    np.testing.assert_array_equal(yr, y[d.kept])
    assert sel.get_support().sum() == d.kept.size


def test_selector_as_a_prepass_before_budgeted_selection():
    X = _planted(n_base=500, n_dup=400, d=12)
    inner = FacilityLocationSelector(50, random_state=0)
    sel = SemanticDedupSelector(0.99, selector=inner, random_state=1, device="cpu").fit(X)
    kept = sel.duplicates_.kept
    assert sel.ranking_.size == 50 and np.isin(sel.ranking_, kept).all()
    alone = FacilityLocationSelector(50, random_state=0).fit(X[kept])
    np.testing.assert_array_equal(sel.ranking_, kept[alone.ranking_])
    np.testing.assert_allclose(sel.weights_, alone.weights_)
    assert sel.weights_.sum() == kept.size
    assert sel.get_params()["selector__n_samples"] == 50
    assert not hasattr(inner, "ranking_")  # a clone was fitted
    # a selector without a seed is seeded from random_state: the composite is repeatable
    a = SemanticDedupSelector(0.99, selector=RandomSelector(20), random_state=2).fit(X)
    b = SemanticDedupSelector(0.99, selector=RandomSelector(20), random_state=2).fit(X)
    np.testing.assert_array_equal(a.ranking_, b.ranking_)


def test_selector_per_class_keeps_copies_with_another_label():
    a, b = _angles(0, 90)
    X = np.stack([a, a, b, b])
    y = np.array([0, 1, 0, 0])
    plain = SemanticDedupSelector(n_clusters=1, keep="first", device="cpu").fit(X, y)
    assert plain.ranking_.tolist() == [0, 2]
    per = SemanticDedupSelector(n_clusters=5, keep="first", per_class=True, device="cpu")
    per.fit(X, y)
    assert per.ranking_.tolist() == [0, 1, 2] and per.duplicate_of_.tolist() == [2]
    assert per.weights_.tolist() == [1.0, 1.0, 2.0]


def test_selector_bad_input():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="per_class"):
        SemanticDedupSelector(per_class="balanced").fit(X)
    with pytest.raises(ValueError, match="y is required"):
        SemanticDedupSelector(per_class=True).fit(X)
    with pytest.raises(ValueError, match="sample_cost needs a selector"):
        SemanticDedupSelector().fit(X, sample_cost=np.ones(20))
    with pytest.raises(TypeError, match="selector must be"):
        SemanticDedupSelector(selector="fl").fit(X)
    with pytest.raises(ValueError, match="threshold"):
        SemanticDedupSelector(2.0).fit(X)
    with pytest.raises(ValueError, match="threshold is required"):
        SemanticDedupSelector(metric="euclidean").fit(X)
    with pytest.raises(ValueError, match="X has 5 rows"):
        SemanticDedupSelector().fit(X).transform(X[:5])
