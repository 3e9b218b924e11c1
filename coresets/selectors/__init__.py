"""scikit-learn estimators that choose training rows: submodular coresets and baselines.

Every selector follows one contract: ``fit(X, y=None, sample_cost=None)`` sets
``ranking_`` (chosen rows in order), ``gains_``, ``weights_`` (how many rows each
chosen one stands for), ``objective_`` and ``n_features_in_``; ``transform(X)``
returns the chosen rows; ``fit_resample(X, y)`` returns ``(X_sel, y_sel)``;
``get_support(indices=False)`` a mask or the sorted ids; ``selection_`` holds the
:class:`~coresets.selection.Selection`. :mod:`.registry` names them for the CLI and
scaling runs.
"""

from ._base import BaseSelector, SelectionCache, allocate_per_class, selection_cache
from .auto import AutoSelector, auto_policy
from .dedup import SemanticDedupSelector
from .geometric import HerdingSelector, KCenterGreedySelector, RandomSelector
from .registry import METHODS, make_selector, register_method
from .resampling import SelectionResampler
from .scored import (
    CCSSelector,
    D2Selector,
    HardPrunedSelector,
    ModerateSelector,
    PrototypeSelector,
    ScoreSelector,
)
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
    "selection_cache",
    "SelectionCache",
    "AutoSelector",
    "auto_policy",
    "FacilityLocationSelector",
    "GraphCutSelector",
    "SaturatedCoverageSelector",
    "FeatureBasedSelector",
    "MixtureSelector",
    "RandomSelector",
    "KCenterGreedySelector",
    "HerdingSelector",
    "CCSSelector",
    "D2Selector",
    "HardPrunedSelector",
    "ModerateSelector",
    "PrototypeSelector",
    "ScoreSelector",
    "SelectionResampler",
    "SemanticDedupSelector",
    "METHODS",
    "make_selector",
    "register_method",
]
