"""The ``auto`` policy: which method it runs, and that it is exactly that method."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_selectors import ROW_DROPPING

from coresets.selectors import (
    AutoSelector,
    FacilityLocationSelector,
    HardPrunedSelector,
    RandomSelector,
    auto_policy,
    make_selector,
)
from coresets.selectors.auto import HARD_PRUNE


def first_column(X, y):
    """A difficulty score for the estimator checks: any finite number per row."""
    return X[:, 0]


@parametrize_with_checks(
    [AutoSelector(0.5), AutoSelector(5), AutoSelector(5, scores=first_column)],
    expected_failed_checks=lambda e: ROW_DROPPING,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    ("n_rows", "k", "n_classes", "policy"),
    [
        # the measured cells: 4k pool, coverage at every size from 2% to 60%
        (4000, 80, 10, "facility_location_per_class"),
        (4000, 640, 10, "facility_location_per_class"),  # 64 per class, but 16% of the pool
        (4000, 2400, 10, "facility_location_per_class"),
        # 80k pool: coverage at 40 per class, random at 2-10%
        (80000, 400, 10, "facility_location_per_class"),
        (80000, 1600, 10, "random_per_class"),
        (80000, 8000, 10, "random_per_class"),
        (80000, 12000, 10, "facility_location_per_class"),  # 15% of the pool
        # the thresholds themselves, and no labels (10 classes assumed)
        (10**6, 500, 10, "facility_location_per_class"),
        (10**6, 510, 10, "random_per_class"),
        (10**6, 5000, 100, "facility_location_per_class"),
        (10**6, 500, None, "facility_location"),
        (10**6, 600, None, "random"),
    ],
)
def test_policy_by_budget_and_classes(n_rows, k, n_classes, policy):
    assert auto_policy(n_rows, k, n_classes=n_classes) == policy


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600]


def test_with_labels_it_is_per_class_facility_location(digits):
    X, y = digits
    auto = AutoSelector(60, random_state=0).fit(X, y)
    ref = FacilityLocationSelector(60, per_class=True, n_neighbors="auto", random_state=0).fit(X, y)
    assert auto.policy_ == "facility_location_per_class"
    np.testing.assert_array_equal(auto.ranking_, ref.ranking_)
    np.testing.assert_array_equal(auto.weights_, ref.weights_)
    assert auto.selector_.per_class is True
    np.testing.assert_array_equal(auto.transform(X), X[ref.ranking_])
    # per class: every class gets its proportional share
    counts = np.bincount(y[auto.ranking_], minlength=10)
    assert counts.min() >= 5 and counts.sum() == 60


def test_without_labels_it_covers_the_whole_pool(digits):
    X, _ = digits
    auto = AutoSelector(0.1).fit(X)
    ref = FacilityLocationSelector(0.1, n_neighbors="auto").fit(X)
    assert auto.policy_ == "facility_location"
    np.testing.assert_array_equal(auto.ranking_, ref.ranking_)


def test_beyond_the_coverage_range_it_is_a_stratified_random_subset():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 4))
    y = np.arange(6000) % 3
    auto = AutoSelector(600, random_state=5).fit(X, y)  # 200 per class and 10%
    assert auto.policy_ == "random_per_class"
    ref = RandomSelector(600, per_class=True, random_state=5).fit(X, y)
    np.testing.assert_array_equal(auto.ranking_, ref.ranking_)
    assert np.bincount(y[auto.ranking_]).tolist() == [200, 200, 200]


def test_regression_targets_are_not_classes(digits):
    X, _ = digits
    y = np.arange(len(X), dtype=float)
    assert AutoSelector(30).fit(X, y).policy_ == "facility_location"
    assert AutoSelector(90).fit(X, y).policy_ == "facility_location"  # 15% of 600


def test_auto_is_a_registered_method_and_checks_its_size(digits):
    X, y = digits
    sel = make_selector("auto", 40, random_state=1)
    assert isinstance(sel, AutoSelector) and sel.n_samples == 40
    assert len(sel.fit(X, y).ranking_) == 40
    with pytest.raises(ValueError, match="n_samples"):
        AutoSelector(601).fit(X, y)
    with pytest.raises(ValueError, match="n_samples"):
        AutoSelector(0).fit(X, y)


@pytest.mark.parametrize(
    ("n_rows", "k", "n_classes", "policy"),
    [
        (4000, 400, 10, "hard_pruned_facility_location_per_class"),
        (4000, 2000, 10, "hard_pruned_facility_location_per_class"),  # 200 per class
        (4000, 2010, 10, "facility_location_per_class"),  # 201 per class: hard rows kept
        (80000, 24000, 10, "facility_location_per_class"),
        (1000, 900, 100, "hard_pruned_facility_location_per_class"),  # 9 per class
        (1000, 901, 100, "facility_location_per_class"),  # pruning would leave 900
        (80000, 4000, 10, "random_per_class"),  # the random branch does not prune
        (10**6, 500, None, "hard_pruned_facility_location"),
    ],
)
def test_policy_with_scores_prunes_before_coverage_only(n_rows, k, n_classes, policy):
    assert auto_policy(n_rows, k, n_classes=n_classes, scores=True) == policy


def test_with_scores_it_is_facility_location_on_the_rows_left(digits):
    X, y = digits
    s = np.random.default_rng(0).random(len(X))
    auto = AutoSelector(60, scores=s, random_state=0).fit(X, y)
    assert auto.policy_ == "hard_pruned_facility_location_per_class"
    ref = HardPrunedSelector(
        FacilityLocationSelector(60, per_class=True, n_neighbors="auto", random_state=0),
        scores=s,
        hard_prune=HARD_PRUNE,
    ).fit(X, y)
    np.testing.assert_array_equal(auto.ranking_, ref.ranking_)
    np.testing.assert_array_equal(auto.weights_, ref.weights_)
    # the budget counts rows of the whole pool, and the hardest tenth of a class is never chosen
    assert len(auto.ranking_) == 60
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        hardest = rows[np.argsort(-s[rows], kind="stable")[: int(HARD_PRUNE * rows.size)]]
        assert not np.isin(auto.ranking_, hardest).any()
    # beyond the coverage range scores change nothing
    rng = np.random.default_rng(0)
    Xr, yr = rng.normal(size=(6000, 4)), np.arange(6000) % 3
    with_scores = AutoSelector(600, scores=rng.random(6000), random_state=5).fit(Xr, yr)
    assert with_scores.policy_ == "random_per_class"
    plain = AutoSelector(600, random_state=5).fit(Xr, yr)
    np.testing.assert_array_equal(with_scores.ranking_, plain.ranking_)
    with pytest.raises(ValueError, match="scores must have one entry per row"):
        AutoSelector(60, scores=s[:-1]).fit(X, y)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((0, 1), {}, ValueError, "n_rows"),
        ((10, 11), {}, ValueError, "k"),
        ((10, 2.5), {}, TypeError, "k"),
        ((10, 2), {"n_classes": 0}, ValueError, "n_classes"),
    ],
)
def test_policy_checks_its_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        auto_policy(*args, **kwargs)
