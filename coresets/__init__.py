"""coresets: choose which training examples to keep, and prove the choice beat random."""

from coresets.baselines import herding, k_center_greedy
from coresets.selection import Selection
from coresets.selectors import (
    FacilityLocationSelector,
    FeatureBasedSelector,
    GraphCutSelector,
    HerdingSelector,
    KCenterGreedySelector,
    MixtureSelector,
    RandomSelector,
    SaturatedCoverageSelector,
)
from coresets.submodular import (
    FacilityLocation,
    FeatureBased,
    GraphCut,
    Mixture,
    SaturatedCoverage,
    maximize,
    similarity,
)
from coresets.weights import assign_to_nearest, coreset_weights, nearest_center_weights

__version__ = "0.1.0"

__all__ = [
    "Selection",
    "FacilityLocation",
    "FeatureBased",
    "GraphCut",
    "Mixture",
    "SaturatedCoverage",
    "maximize",
    "similarity",
    "FacilityLocationSelector",
    "FeatureBasedSelector",
    "GraphCutSelector",
    "HerdingSelector",
    "KCenterGreedySelector",
    "MixtureSelector",
    "RandomSelector",
    "SaturatedCoverageSelector",
    "coreset_weights",
    "nearest_center_weights",
    "assign_to_nearest",
    "k_center_greedy",
    "herding",
    "__version__",
]
