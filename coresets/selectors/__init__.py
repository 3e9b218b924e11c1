"""scikit-learn estimators that choose training rows: submodular coresets and baselines.

Every selector follows one contract: ``fit(X, y=None, sample_cost=None)`` sets
``ranking_`` (chosen rows in order), ``gains_``, ``weights_`` (how many rows each
chosen one stands for), ``objective_`` and ``n_features_in_``; ``transform(X)``
returns the chosen rows; ``fit_resample(X, y)`` returns ``(X_sel, y_sel)``;
``get_support(indices=False)`` a mask or the sorted ids.
"""

from ._base import BaseSelector, allocate_per_class
from .baselines import HerdingSelector, KCenterGreedySelector, RandomSelector
from .submodular import (
    AUTO_N_NEIGHBORS,
    FacilityLocationSelector,
    FeatureBasedSelector,
    GraphCutSelector,
    MixtureSelector,
    SaturatedCoverageSelector,
)

__all__ = [
    "AUTO_N_NEIGHBORS",
    "BaseSelector",
    "allocate_per_class",
    "FacilityLocationSelector",
    "GraphCutSelector",
    "SaturatedCoverageSelector",
    "FeatureBasedSelector",
    "MixtureSelector",
    "RandomSelector",
    "KCenterGreedySelector",
    "HerdingSelector",
]
