"""Difficulty scores and score-based pruning, on cases small enough to work by hand."""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.utils.estimator_checks import parametrize_with_checks

from coresets.knn import knn_graph
from coresets.pruning import (
    ccs_select,
    class_median_distances,
    d2_select,
    kept_after_pruning,
    moderate_select,
    score_select,
    stratum_budgets,
)
from coresets.scores import (
    aum_scores,
    el2n_scores,
    entropy_scores,
    forgetting_events,
    margin_scores,
    prototype_scores,
)
from coresets.selection import Selection
from coresets.selectors import FacilityLocationSelector, RandomSelector
from coresets.selectors.scored import (
    CCSSelector,
    D2Selector,
    HardPrunedSelector,
    ModerateSelector,
    PrototypeSelector,
    ScoreSelector,
)

# softmax of these logits is exactly [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
LOGITS = np.log([[7.0, 2.0, 1.0], [1.0, 3.0, 6.0]])
PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
Y = np.array([0, 1])


# ---------------------------------------------------------------- proxy-output scores
def test_el2n_from_a_fixed_logit_table():
    probs = softmax(LOGITS, axis=1)
    # row 0: (0.7 - 1, 0.2, 0.1); row 1: (0.1, 0.3 - 1, 0.6)
    expected = np.sqrt([0.09 + 0.04 + 0.01, 0.01 + 0.49 + 0.36])
    np.testing.assert_allclose(el2n_scores(probs, Y), expected, rtol=1e-12)


def test_el2n_averages_the_norms_over_runs_not_the_probabilities():
    second = np.array([[0.2, 0.7, 0.1], [0.1, 0.3, 0.6]])
    scores = el2n_scores(np.stack([PROBS, second]), Y)
    # row 0, run 2: (0.2 - 1, 0.7, 0.1) -> sqrt(1.14); the norm of the mean would be sqrt(0.515)
    assert scores[0] == pytest.approx((np.sqrt(0.14) + np.sqrt(1.14)) / 2, rel=1e-12)
    assert scores[1] == pytest.approx(np.sqrt(0.86), rel=1e-12)


def test_margin_with_and_without_labels():
    np.testing.assert_allclose(margin_scores(PROBS, Y), [0.7 - 0.2, 0.3 - 0.6], atol=1e-12)
    np.testing.assert_allclose(margin_scores(PROBS), [0.7 - 0.2, 0.6 - 0.3], atol=1e-12)


def test_entropy_by_hand_and_zero_probabilities():
    expected = -(PROBS * np.log(PROBS)).sum(axis=1)
    np.testing.assert_allclose(entropy_scores(PROBS), expected, rtol=1e-12)
    np.testing.assert_allclose(entropy_scores([[1.0, 0.0], [0.5, 0.5]]), [0.0, np.log(2)])


def test_forgetting_counts_from_a_fixed_history():
    history = np.array(
        [  # rows: epochs; columns: examples
            [1, 1, 0, 0],
            [1, 0, 0, 1],
            [1, 1, 0, 1],
            [1, 0, 0, 0],
            [1, 1, 0, 0],
        ],
        dtype=bool,
    )
    # never forgotten; forgotten at epochs 1 and 3; never learned (-> n_epochs); once
    np.testing.assert_array_equal(forgetting_events(history), [0, 2, 5, 1])
    np.testing.assert_array_equal(forgetting_events(history.astype(int)), [0, 2, 5, 1])


def test_aum_by_hand():
    logits = np.array(
        [
            [[3.0, 1.0, 0.0], [0.0, 1.0, 4.0]],  # epoch 1: margins 3 - 1 = 2, 4 - 1 = 3
            [[1.0, 2.0, 0.0], [5.0, 0.0, 1.0]],  # epoch 2: margins 1 - 2 = -1, 1 - 5 = -4
        ]
    )
    np.testing.assert_allclose(aum_scores(logits, [0, 2]), [0.5, -0.5])
    np.testing.assert_allclose(aum_scores(logits[0], [0, 2]), [2.0, 3.0])  # one epoch, 2-D


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: el2n_scores(PROBS, [0, 1, 2]), "y must have shape"),
        (lambda: el2n_scores(PROBS, [0, 3]), "y holds class ids outside"),
        (lambda: el2n_scores(PROBS, [0.5, 1]), "y must hold integer"),
        (lambda: el2n_scores(LOGITS, Y), "probs must hold probabilities"),
        (lambda: el2n_scores(PROBS * 0.5, Y), "probs: each row must sum to 1"),
        (lambda: el2n_scores(np.where(PROBS > 0.6, np.nan, PROBS), Y), "probs contains NaN"),
        (lambda: el2n_scores(PROBS[None, None], Y), "probs must have shape"),
        (lambda: margin_scores(np.ones((2, 1)), None), "at least 2 classes"),
        (lambda: entropy_scores(np.zeros((0, 3))), "probs is empty"),
        (lambda: forgetting_events([True, False]), "correct must be"),
        (lambda: forgetting_events([[0, 2]]), "correct must hold booleans"),
        (lambda: aum_scores(np.zeros((2, 2, 3, 1)), Y), "logits must have shape"),
        (lambda: aum_scores(np.full((1, 2, 3), np.inf), Y), "logits contains inf"),
    ],
)
def test_score_inputs_are_checked_by_name(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ---------------------------------------------------------------- prototype scores
def _two_clusters():
    offsets = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    return np.vstack([[10.0, 0.0] + offsets, [-10.0, 0.0] + 2 * offsets])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prototype_scores_on_two_obvious_clusters(seed):
    scores = prototype_scores(_two_clusters(), n_clusters=2, metric="euclidean", random_state=seed)
    # centroids (10, 0) and (-10, 0): distances are the offsets' lengths
    np.testing.assert_allclose(scores, [0, 1, 1, 1, 1, 0, 2, 2, 2, 2], atol=1e-5)


def test_prototype_cosine_scores_measure_the_angle_to_the_centroid():
    rays = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])  # two directions
    np.testing.assert_allclose(
        prototype_scores(rays, n_clusters=2, random_state=0), np.zeros(4), atol=1e-6
    )
    # one cluster of (1, 0) and (0, 1): centroid at 45 degrees, 1 - cos = 1 - 1/sqrt(2)
    one = prototype_scores(rays[[0, 2]], n_clusters=1, random_state=0)
    np.testing.assert_allclose(one, 1 - np.sqrt(0.5), atol=1e-6)


def test_prototype_scores_are_deterministic_given_the_seed():
    X = np.random.default_rng(3).normal(size=(300, 8))
    a = prototype_scores(X, n_clusters=7, random_state=5)
    np.testing.assert_array_equal(a, prototype_scores(X, n_clusters=7, random_state=5))
    assert not np.array_equal(a, prototype_scores(X, n_clusters=7, random_state=6))


def test_prototype_score_inputs():
    X = _two_clusters()
    with pytest.raises(ValueError, match="n_clusters must be <= 10"):
        prototype_scores(X, n_clusters=11)
    with pytest.raises(ValueError, match="metric must be one of"):
        prototype_scores(X, metric="dot")
    with pytest.raises(ValueError, match="X contains NaN"):
        prototype_scores(np.where(X > 10.5, np.nan, X))
    with pytest.raises(ValueError, match="X has 1 zero rows"):
        prototype_scores(np.vstack([X, [0.0, 0.0]]), metric="cosine")


# ---------------------------------------------------------------- CCS
# Rows 0-8 survive hard_prune=0.1 (row 9, score 9, is the hardest tenth). Kept scores span
# [0, 4]; 4 strata of width 1: {0, 8} (0, 0.2), {1, 2} (1, 1.5), {3} (2.5), {4, 5, 6, 7}
# (3 .. 4; the largest score closes the top stratum).
CCS_SCORES = np.array([0.0, 1.0, 1.5, 2.5, 3.0, 3.5, 3.9, 4.0, 0.2, 9.0])
CCS_STRATA = [{0, 8}, {1, 2}, {3}, {4, 5, 6, 7}]


@pytest.mark.parametrize(
    "k, budgets",
    [
        # smallest first: {3} takes 6 // 4 = 1 (rest 5); {0, 8} 5 // 3 = 1 (rest 4);
        # {1, 2} 4 // 2 = 2 (rest 2); the top stratum the last 2
        (6, [1, 2, 1, 2]),
        # {3} can take 1 of its 8 // 4 = 2: the leftover moves on; {0, 8} 7 // 3 = 2;
        # {1, 2} 5 // 2 = 2; the top stratum the remaining 3
        (8, [2, 2, 1, 3]),
    ],
)
def test_ccs_strata_and_budgets_by_hand(k, budgets):
    sel = ccs_select(CCS_SCORES, k, hard_prune=0.1, n_strata=4, random_state=0)
    assert isinstance(sel, Selection) and len(sel) == k
    assert 9 not in sel.indices and len(set(sel.indices)) == k
    taken = [len(set(sel.indices) & stratum) for stratum in CCS_STRATA]
    assert taken == budgets
    # easiest stratum first, and gains are the picks' scores
    strata_of = {i: s for s, stratum in enumerate(CCS_STRATA) for i in stratum}
    assert [strata_of[i] for i in sel.indices] == sorted(strata_of[i] for i in sel.indices)
    np.testing.assert_array_equal(sel.gains, CCS_SCORES[sel.indices])
    assert sel.objective == pytest.approx(sel.gains.sum())
    np.testing.assert_array_equal(stratum_budgets([2, 2, 1, 4], k), budgets)


def test_stratum_budgets_always_spend_the_budget():
    rng = np.random.default_rng(0)
    for _ in range(500):
        sizes = rng.integers(0, 12, rng.integers(1, 8))
        if sizes.sum() == 0:
            continue
        k = int(rng.integers(1, sizes.sum() + 1))
        budgets = stratum_budgets(sizes, k)
        assert budgets.sum() == k and (budgets <= sizes).all()


def test_ccs_equal_scores_make_one_stratum_and_no_pruning_keeps_all():
    sel = ccs_select(np.ones(6), 6, hard_prune=0.0, random_state=0)
    assert sorted(sel.indices) == list(range(6))


def _global_rng_state():
    legacy = np.random.get_state()[1].copy()  # noqa: NPY002 - checking nobody changed it
    return legacy, random.getstate()


def test_ccs_is_deterministic_and_leaves_global_rngs_alone():
    scores = np.random.default_rng(1).random(200)
    X = np.random.default_rng(2).normal(size=(50, 3))
    before = _global_rng_state()
    a = ccs_select(scores, 40, random_state=7)
    b = ccs_select(scores, 40, random_state=7)
    prototype_scores(X, random_state=7)
    CCSSelector(10, random_state=7).fit(X)
    D2Selector(10, device="cpu", random_state=7).fit(X)
    PrototypeSelector(10, random_state=7).fit(X)
    after = _global_rng_state()
    np.testing.assert_array_equal(after[0], before[0])
    assert after[1] == before[1]
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, ccs_select(scores, 40, random_state=8).indices)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scores": CCS_SCORES[:-1].reshape(3, 3)}, "scores must be a non-empty 1-D"),
        ({"scores": np.where(CCS_SCORES > 8, np.nan, CCS_SCORES)}, "scores contains NaN"),
        ({"scores": ["a"] * 10}, "scores must hold numbers"),
        ({"hard_prune": 1.0}, r"hard_prune must lie in \[0, 1\)"),
        ({"hard_prune": -0.1}, r"hard_prune must lie in \[0, 1\)"),
        ({"k": 10}, r"k \(10\) is larger than the 9 rows left after hard_prune=0.1"),
        ({"k": 0}, "k must be >= 1"),
        ({"n_strata": 0}, "n_strata must be >= 1"),
    ],
)
def test_ccs_bad_input_names_the_argument(kwargs, match):
    args = {"scores": CCS_SCORES, "k": 5, "hard_prune": 0.1} | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        ccs_select(args.pop("scores"), args.pop("k"), **args)


# ---------------------------------------------------------------- D2
def _path_graph():
    """0 - 1 - 2 - 3, every edge similarity 0.5, self 1 (ignored by D2)."""
    S = np.eye(4)
    for i in range(3):
        S[i, i + 1] = S[i + 1, i] = 0.5
    return sp.csr_matrix(S)


D2_SCORES = np.array([1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize(
    "gamma, reverse_gamma, indices, gains",
    [
        # forward (weights 0.5): v = [1 + 1, 2 + 0.5 + 1.5, 3 + 1 + 2, 4 + 1.5] = [2, 4, 6, 5.5];
        # pick 2; v1 = 4 - 0.5 * 6 = 1, v3 = 5.5 - 3 = 2.5; pick 3; pick 0 (2), v1 = 1 - 1 = 0
        (1.0, 1.0, [2, 3, 0, 1], [6.0, 2.5, 2.0, 0.0]),
        # forward weights 0.25: v = [1.5, 3, 4.5, 4.75]; pick 3, v2 = 4.5 - 0.5 * 4.75 = 2.125;
        # pick 1 (3): v0 = 1.5 - 1.5 = 0, v2 = 2.125 - 1.5 = 0.625; pick 2; pick 0
        (2.0, 1.0, [3, 1, 2, 0], [4.75, 3.0, 0.625, 0.0]),
        # reverse weights 0.25: after 2, v1 = 4 - 1.5 = 2.5, v3 = 5.5 - 1.5 = 4; pick 3;
        # pick 1 (2.5), v0 = 2 - 0.625 = 1.375
        (1.0, 2.0, [2, 3, 1, 0], [6.0, 4.0, 2.5, 1.375]),
    ],
)
def test_d2_messages_on_a_four_node_graph(gamma, reverse_gamma, indices, gains):
    sel = d2_select(_path_graph(), D2_SCORES, 4, gamma=gamma, reverse_gamma=reverse_gamma)
    np.testing.assert_array_equal(sel.indices, indices)
    np.testing.assert_allclose(sel.gains, gains, atol=1e-12)
    assert sel.objective == pytest.approx(sum(gains))
    dense = d2_select(
        _path_graph().toarray(), D2_SCORES, 4, gamma=gamma, reverse_gamma=reverse_gamma
    )
    np.testing.assert_array_equal(dense.indices, indices)


def test_d2_hard_pruned_rows_are_never_picked_and_send_nothing():
    # row 3 (the hardest quarter) is out: v = [1 + 1, 2 + 0.5 + 1.5, 3 + 1 + 0] = [2, 4, 4];
    # pick 1 (tie with 2: lowest id), v0 = 2 - 2 = 0, v2 = 4 - 2 = 2; pick 2; pick 0
    sel = d2_select(_path_graph(), D2_SCORES, 3, hard_prune=0.25)
    np.testing.assert_array_equal(sel.indices, [1, 2, 0])
    np.testing.assert_allclose(sel.gains, [4.0, 2.0, 0.0])
    with pytest.raises(ValueError, match=r"k \(4\) is larger than the 3 rows left"):
        d2_select(_path_graph(), D2_SCORES, 4, hard_prune=0.25)


def test_d2_within_ccs_strata():
    # strata of [1, 2, 3, 4] in 2 equal widths: {0, 1}, {2, 3}; budgets 1 and 1.
    # {0, 1} alone: v0 = 1 + 0.5 * 2 = 2, v1 = 2 + 0.5 * 1 = 2.5 -> 1;
    # {2, 3} alone: v2 = 3 + 0.5 * 4 = 5, v3 = 4 + 0.5 * 3 = 5.5 -> 3
    sel = d2_select(_path_graph(), D2_SCORES, 2, n_strata=2)
    np.testing.assert_array_equal(sel.indices, [1, 3])
    np.testing.assert_allclose(sel.gains, [2.5, 5.5])
    np.testing.assert_array_equal(d2_select(_path_graph(), D2_SCORES, 2).indices, [2, 3])


def test_d2_on_a_knn_graph_covers_both_clusters():
    X = _two_clusters()
    graph = knn_graph(X, n_neighbors=5, metric="euclidean", index="flat", device="cpu")
    sel = d2_select(graph, np.ones(10), 2)
    assert {int(i) // 5 for i in sel.indices} == {0, 1}  # the reverse message damps the first


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scores": D2_SCORES[:3]}, r"graph must be \(3, 3\) to match scores"),
        ({"scores": D2_SCORES - 2}, "scores must be non-negative"),
        ({"scores": np.array([1.0, np.nan, 1.0, 1.0])}, "scores contains NaN"),
        ({"graph": -_path_graph()}, "graph must be non-negative"),
        ({"graph": np.ones((4, 3))}, "graph must be square"),
        ({"gamma": -1.0}, "gamma must be a finite number >= 0"),
        ({"reverse_gamma": float("nan")}, "reverse_gamma must be"),
        ({"hard_prune": 1.5}, r"hard_prune must lie in \[0, 1\)"),
        ({"k": 5}, r"k \(5\) is larger than the 4 rows$"),
        ({"n_strata": 0}, "n_strata must be >= 1"),
    ],
)
def test_d2_bad_input_names_the_argument(kwargs, match):
    args = {"graph": _path_graph(), "scores": D2_SCORES, "k": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        d2_select(args.pop("graph"), args.pop("scores"), args.pop("k"), **args)


# ---------------------------------------------------------------- moderate, score order
def test_moderate_keeps_the_middle_distances_to_the_class_median():
    # class 0 (0, 1, -1, 10): median 0.5; class 1 (100, 103, 95): median 100
    X = np.array([[0.0], [1.0], [-1.0], [10.0], [100.0], [103.0], [95.0]])
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    d = class_median_distances(X, y)
    np.testing.assert_allclose(d, [0.5, 0.5, 1.5, 9.5, 0.0, 3.0, 5.0])
    # ranks by distance: 4 (0), 0, 1 (0.5), 2 (1.5), 5 (3), 6 (5), 3 (9.5); k=3 from rank 2
    sel = moderate_select(X, y, 3)
    np.testing.assert_array_equal(sel.indices, [1, 2, 5])
    np.testing.assert_allclose(sel.gains, [0.5, 1.5, 3.0])


def test_score_select_ends_and_bands():
    s = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    np.testing.assert_array_equal(score_select(s, 3).indices, [5, 7, 4])
    np.testing.assert_array_equal(score_select(s, 3, order="easiest").indices, [1, 3, 6])
    # skip the hardest quarter (2 rows: 9 and 6), then take 3
    np.testing.assert_array_equal(score_select(s, 3, skip=0.25).indices, [4, 2, 0])
    with pytest.raises(ValueError, match="order must be one of"):
        score_select(s, 3, order="middle")
    with pytest.raises(ValueError, match=r"k \(7\) is larger than the 6 rows left after skip"):
        score_select(s, 7, skip=0.25)


# ---------------------------------------------------------------- selectors
ROW_DROPPING = {
    "check_transformer_general": "asserts transform keeps every row; a selector returns k < n rows",
    "check_transformer_data_not_an_array": "same row-count assertion on a non-array",
    "check_methods_sample_order_invariance": "assumes output row i belongs to input row i",
    "check_methods_subset_invariance": "transform only accepts the fitted data",
    "check_fit_idempotent": "transform only accepts the fitted data",
}


@parametrize_with_checks(
    [
        CCSSelector(0.5),
        D2Selector(0.5, device="cpu"),
        ModerateSelector(0.5),
        PrototypeSelector(0.5),
        ScoreSelector(0.5, order="easiest", skip=0.1),
        HardPrunedSelector(RandomSelector(0.5)),
        HardPrunedSelector(FacilityLocationSelector(0.5), hard_prune=0.3),
    ],
    expected_failed_checks=lambda est: ROW_DROPPING,
)
def test_scored_selectors_are_sklearn_compatible(estimator, check):
    check(estimator)


def test_ccs_selector_matches_the_function_and_checks_scores():
    X = np.random.default_rng(0).normal(size=(40, 3))
    s = np.random.default_rng(1).random(40)
    fitted = CCSSelector(10, scores=s, hard_prune=0.2, random_state=3).fit(X)
    expected = ccs_select(s, 10, hard_prune=0.2, random_state=3)
    np.testing.assert_array_equal(fitted.ranking_, expected.indices)
    assert fitted.weights_.sum() == 40
    with pytest.raises(ValueError, match=r"scores must have one entry per row \(40\)"):
        CCSSelector(10, scores=s[:30]).fit(X)
    with pytest.raises(
        ValueError, match=r"n_samples=1.0 \(40 rows\) is larger than the 32 rows left"
    ):
        CCSSelector(1.0, scores=s, hard_prune=0.2).fit(X)


def test_callable_scores_get_the_labels():
    X = np.random.default_rng(0).normal(size=(30, 2))
    y = np.arange(30) % 3
    seen = {}

    def by_label(Xs, ys):
        seen["y"] = ys
        return ys.astype(float)

    sel = D2Selector(5, scores=by_label, device="cpu", random_state=0).fit(X, y)
    np.testing.assert_array_equal(seen["y"], y)
    assert len(sel.ranking_) == 5


def test_moderate_selector_needs_labels_and_matches_the_function():
    X = np.random.default_rng(0).normal(size=(30, 2))
    y = np.arange(30) % 2
    with pytest.raises(ValueError, match="requires y"):
        ModerateSelector(5).fit(X)
    np.testing.assert_array_equal(
        ModerateSelector(5).fit(X, y).ranking_, moderate_select(X, y, 5).indices
    )


def test_prototype_selector_is_deterministic_given_random_state():
    X = np.random.default_rng(0).normal(size=(60, 4))
    a = PrototypeSelector(10, order="easiest", random_state=1).fit(X).ranking_
    np.testing.assert_array_equal(
        a, PrototypeSelector(10, order="easiest", random_state=1).fit(X).ranking_
    )


def test_score_selector_matches_the_function_and_checks_scores():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    s = rng.random(40)
    for order, skip in (("hardest", 0.0), ("easiest", 0.25)):
        sel = ScoreSelector(7, scores=s, order=order, skip=skip).fit(X)
        ref = score_select(s, 7, order=order, skip=skip)
        np.testing.assert_array_equal(sel.ranking_, ref.indices)
        np.testing.assert_allclose(sel.gains_, s[ref.indices])
    with pytest.raises(ValueError, match="scores must have one entry per row"):
        ScoreSelector(5, scores=s[:-1]).fit(X)
    with pytest.raises(ValueError, match="scores"):
        ScoreSelector(5, scores=np.where(np.arange(40) == 3, np.nan, s)).fit(X)
    with pytest.raises(ValueError, match="skip"):
        ScoreSelector(5, scores=s, skip=1.0).fit(X)
    with pytest.raises(ValueError, match="rows left after skip"):
        ScoreSelector(35, scores=s, skip=0.5).fit(X)


def test_kept_after_pruning_by_hand_per_class_and_whole():
    scores = [5.0, 1.0, 4.0, 2.0, 3.0, 0.0]
    y = [0, 0, 0, 1, 1, 1]
    # floor(0.34 * 3) = 1 per class: row 0 (5) of class 0 and row 4 (3) of class 1 go
    assert kept_after_pruning(scores, 0.34, y=y).tolist() == [1, 2, 3, 5]
    # floor(0.34 * 6) = 2 over all rows: the two hardest, rows 0 (5) and 2 (4)
    assert kept_after_pruning(scores, 0.34).tolist() == [1, 3, 4, 5]
    # a tie drops the earlier row first; 0 prunes nothing
    assert kept_after_pruning([1.0, 1.0, 0.0], 0.5).tolist() == [1, 2]
    assert kept_after_pruning(scores, 0.0, y=y).tolist() == list(range(6))
    with pytest.raises(ValueError, match="hard_prune"):
        kept_after_pruning(scores, 1.0)
    with pytest.raises(ValueError, match="y must have one label per score"):
        kept_after_pruning(scores, 0.1, y=[0, 1])
    with pytest.raises(ValueError, match="scores"):
        kept_after_pruning([1.0, np.nan], 0.1)


def test_hard_pruned_selector_is_its_selector_on_the_rows_left():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4))
    y = np.repeat([0, 1, 2], 30)
    s = rng.random(90)
    inner = FacilityLocationSelector(12, per_class=True, n_neighbors=None)
    sel = HardPrunedSelector(inner, scores=s, hard_prune=0.2).fit(X, y)
    kept = kept_after_pruning(s, 0.2, y=y)
    assert kept.size == 90 - 3 * 6  # six of each class's thirty go
    np.testing.assert_array_equal(sel.kept_, kept)
    ref = FacilityLocationSelector(12, per_class=True, n_neighbors=None).fit(X[kept], y[kept])
    np.testing.assert_array_equal(sel.ranking_, kept[ref.ranking_])
    np.testing.assert_allclose(sel.gains_, ref.gains_)
    np.testing.assert_allclose(sel.weights_, ref.weights_)
    assert sel.weights_.sum() == kept.size
    # no pruned row is ever chosen, and every class keeps its share
    pruned = np.setdiff1d(np.arange(90), kept)
    assert not np.isin(sel.ranking_, pruned).any()
    assert np.bincount(y[sel.ranking_]).tolist() == [4, 4, 4]
    np.testing.assert_array_equal(sel.transform(X), X[sel.ranking_])
    # a callable gets every row's labels; the default scores are seeded by random_state
    seen = []
    HardPrunedSelector(inner, scores=lambda X_, y_: seen.append(y_) or s).fit(X, y)
    np.testing.assert_array_equal(seen[0], y)
    a = HardPrunedSelector(RandomSelector(10), random_state=3).fit(X).ranking_
    np.testing.assert_array_equal(
        a, HardPrunedSelector(RandomSelector(10), random_state=3).fit(X).ranking_
    )


def test_hard_pruned_selector_bad_input_names_the_argument():
    X = np.random.default_rng(0).normal(size=(20, 3))
    s = np.arange(20.0)
    with pytest.raises(TypeError, match="selector must be a selector"):
        HardPrunedSelector("facility_location", scores=s).fit(X)
    with pytest.raises(ValueError, match="scores must have one entry per row"):
        HardPrunedSelector(RandomSelector(5), scores=s[:-1]).fit(X)
    with pytest.raises(ValueError, match="scores"):
        HardPrunedSelector(RandomSelector(5), scores=np.where(s == 3, np.nan, s)).fit(X)
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="hard_prune"):
            HardPrunedSelector(RandomSelector(5), scores=s, hard_prune=bad).fit(X)
    with pytest.raises(ValueError, match=r"n_samples=19 is larger than the 18 rows left"):
        HardPrunedSelector(RandomSelector(19), scores=s, hard_prune=0.1).fit(X)
