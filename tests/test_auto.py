"""The ``auto`` policy: which method it runs, and that it is exactly that method."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_selectors import ROW_DROPPING

from coresets.selectors import AutoSelector, FacilityLocationSelector, auto_policy, make_selector


@parametrize_with_checks(
    [AutoSelector(0.5), AutoSelector(5)], expected_failed_checks=lambda e: ROW_DROPPING
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_policy_by_what_is_known():
    assert auto_policy(4000, 400, has_labels=True) == "facility_location_per_class"
    assert auto_policy(4000, 400, has_labels=False) == "facility_location"


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


def test_regression_targets_are_not_classes(digits):
    X, _ = digits
    y = np.arange(len(X), dtype=float)
    assert AutoSelector(30).fit(X, y).policy_ == "facility_location"


def test_auto_is_a_registered_method_and_checks_its_size(digits):
    X, y = digits
    sel = make_selector("auto", 40, random_state=1)
    assert isinstance(sel, AutoSelector) and sel.n_samples == 40
    assert len(sel.fit(X, y).ranking_) == 40
    with pytest.raises(ValueError, match="n_samples"):
        AutoSelector(601).fit(X, y)
    with pytest.raises(ValueError, match="n_samples"):
        AutoSelector(0).fit(X, y)
